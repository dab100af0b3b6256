//! Governed kinds as data: the custom-resource kinds aims governs as model workloads, read from
//! `catalog/kinds.yaml` (built in) and from a platform team's own file (`aims run --kinds-file`,
//! `aims check --kinds`), whose header comment documents the schema.
//!
//! A kind's row says where its pods are described (pod templates, pod specs or single
//! container-shaped objects), where the model it loads is named, how many replicas it wants, and
//! how a halt stops it. The built-in Kubernetes kinds are read with their own types
//! ([`super::workload`]); every other governed kind is one of these rows, so adding a kind is a
//! change of data, not of code.
//!
//! The rows in force are installed once per process ([`install`]) before the first workload is
//! read; until then, and in a process that installs nothing, they are the built-in rows.

use std::{fmt, sync::OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// The built-in rows, `catalog/kinds.yaml`.
pub const BUILTIN_KINDS_YAML: &str = include_str!("../../catalog/kinds.yaml");

/// The kinds of the Kubernetes API that the engine reads with their own types: a row may not
/// claim one of them.
const BUILTIN_TYPED: [(&str, &str); 8] = [
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("", "ReplicationController"),
    ("batch", "Job"),
    ("batch", "CronJob"),
    ("", "Pod"),
];

/// A kinds file: its rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindsFile {
    /// One row per kind.
    #[serde(default)]
    pub kinds: Vec<KindSpec>,
}

/// One governed custom-resource kind.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindSpec {
    /// The kind's name, as in `kind:` (`LeaderWorkerSet`).
    pub kind: String,
    /// Its API group (`leaderworkerset.x-k8s.io`).
    pub group: String,
    /// The version manifests are written in. Reviews and watches take whatever version the
    /// installed CRD serves: the fields read here are the same in each.
    pub version: String,
    /// Its resource, as in the CRD's `spec.names.plural` (`leaderworkersets`).
    pub plural: String,
    /// Whether an object of this kind is model serving by what it is (KServe, NIM), with no other
    /// signal.
    #[serde(default)]
    pub serves_models: bool,
    /// Paths to pod templates (`metadata.labels` and `spec`).
    #[serde(default)]
    pub pod_templates: Vec<FieldPath>,
    /// Paths to pod specs (`containers`, `initContainers`, `resourceClaims`; other fields are not
    /// read).
    #[serde(default)]
    pub pod_specs: Vec<FieldPath>,
    /// Paths to single container-shaped objects: `image` as a string or as `{repository, tag}`,
    /// `resources` (or `resourcesPerNode`), `command`, `args`, `env`.
    #[serde(default)]
    pub containers: Vec<FieldPath>,
    /// Paths to strings naming the model the object loads.
    #[serde(default)]
    pub model_uris: Vec<FieldPath>,
    /// The replicas it wants, for a kind with one count.
    #[serde(default)]
    pub replicas: Option<ReplicasField>,
    /// How a halt stops it.
    pub halt: Halt,
}

/// Where a kind keeps its replica count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicasField {
    /// The count's path.
    pub path: FieldPath,
    /// The count when the field is unset (as the kind's API defaults it).
    #[serde(default = "one")]
    pub default: i32,
}

fn one() -> i32 {
    1
}

/// How a halt stops an object of a kind, and a resume restores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Halt {
    /// Its scale subresource, to zero and back (the row's `replicas` reads the count).
    Scale {},
    /// Its `replicas` path, to zero and back.
    Replicas {},
    /// The boolean at `path`, to true and back.
    Suspend {
        /// The boolean's path (`spec.suspend`).
        path: FieldPath,
    },
    /// The annotation `key` set to `value`, and removed on resume.
    Annotation {
        /// The annotation.
        key: String,
        /// Its value while stopped.
        value: String,
    },
    /// It has no stop of its own: what it creates, objects of these governed kinds that carry its
    /// labels, is stopped, and admission keeps the object from starting anything new.
    #[serde(rename_all = "camelCase")]
    Through {
        /// The kinds it creates.
        kinds: Vec<String>,
        /// Whose labels what it creates carries: the object's (KubeRay copies a RayService's
        /// labels to its RayClusters) or only its pod templates' (Knative's Revisions, and their
        /// Deployments, carry `spec.template.metadata.labels`). With `podTemplates`, an object
        /// whose `aims.dev/system` label is not on every pod template is refused: what it creates
        /// would belong to no system, and a halt would not reach it.
        #[serde(default)]
        labels_from: LabelsFrom,
    },
}

/// Whose labels the objects a kind creates carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LabelsFrom {
    /// The object's own.
    #[default]
    Object,
    /// Its pod templates' alone.
    PodTemplates,
}

/// How a halt acts on a kind, as the engine plans it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopper {
    /// Its replicas go to zero and back.
    Count,
    /// A flag (`suspended` in its facts) goes to true and back.
    Flag,
    /// It is deleted (a bare Pod).
    Delete,
    /// Nothing of its own: what it creates is stopped.
    Nothing,
}

impl KindSpec {
    /// `group/version`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// How a halt acts on it.
    pub fn stopper(&self) -> Stopper {
        match self.halt {
            Halt::Scale {} | Halt::Replicas {} => Stopper::Count,
            Halt::Suspend { .. } | Halt::Annotation { .. } => Stopper::Flag,
            Halt::Through { .. } => Stopper::Nothing,
        }
    }

    /// Checks the row against the kinds it stands with (`known`: group and kind of each).
    fn check(&self, known: &[(&str, &str)]) -> Result<(), String> {
        if self.kind.is_empty() || !self.kind.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Err(format!(
                "kind: {:?} is not a kind's name (it starts with a capital letter)",
                self.kind
            ));
        }
        if self.group.is_empty() || !self.group.contains('.') {
            return Err(format!(
                "group: {:?} is not a custom resource's API group (a domain such as ray.io)",
                self.group
            ));
        }
        if self.version.is_empty() || self.version.contains('/') {
            return Err(format!("version: {:?} is not a version", self.version));
        }
        let lower = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !lower(&self.plural) {
            return Err(format!(
                "plural: {:?} is not a resource name (lower case, as the CRD's spec.names.plural)",
                self.plural
            ));
        }
        if BUILTIN_TYPED.contains(&(self.group.as_str(), self.kind.as_str())) {
            return Err(format!("{} is governed already", self.kind));
        }
        if self.pod_templates.is_empty() && self.pod_specs.is_empty() && self.containers.is_empty()
        {
            return Err(
                "names no podTemplates, podSpecs or containers: nothing it runs would be read"
                    .to_owned(),
            );
        }
        match &self.halt {
            Halt::Scale {} | Halt::Replicas {} if self.replicas.is_none() => {
                return Err(
                    "halt: scaling to zero needs `replicas` (the count's path) to restore it"
                        .to_owned(),
                );
            }
            Halt::Annotation { key, value } if key.is_empty() || value.is_empty() => {
                return Err("halt.annotation: key and value are both needed".to_owned());
            }
            Halt::Through {
                labels_from: LabelsFrom::PodTemplates,
                ..
            } if self.pod_templates.is_empty() => {
                return Err(
                    "halt.through.labelsFrom: podTemplates needs `podTemplates` to hold the labels"
                        .to_owned(),
                );
            }
            Halt::Through { kinds, .. } => {
                if kinds.is_empty() {
                    return Err("halt.through.kinds: name the governed kinds it creates".to_owned());
                }
                for k in kinds {
                    if k == &self.kind || !known.iter().any(|(_, known)| known == k) {
                        return Err(format!(
                            "halt.through.kinds: {k} is not another governed kind"
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Two rows are the same kind when their group and kind are.
impl PartialEq for KindSpec {
    fn eq(&self, other: &Self) -> bool {
        (&self.group, &self.kind) == (&other.group, &other.kind)
    }
}

impl Eq for KindSpec {}

impl std::hash::Hash for KindSpec {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (&self.group, &self.kind).hash(state);
    }
}

impl PartialOrd for KindSpec {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KindSpec {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.kind, &self.group).cmp(&(&other.kind, &other.group))
    }
}

/// A path into an object: dotted field names from its root, where `*` stands for every element
/// of a list or every value of a map (`spec.workerGroupSpecs.*.template`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Field(String),
    Every,
}

impl FieldPath {
    /// Reads a path, refusing an empty one or one with an empty segment.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("a path is empty".to_owned());
        }
        let segments = text
            .split('.')
            .map(|s| match s {
                "" => Err(format!("{text:?} has an empty segment")),
                "*" => Ok(Segment::Every),
                field => Ok(Segment::Field(field.to_owned())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path's field names, when it has no `*`: the path a patch writes.
    pub fn fields(&self) -> Option<Vec<&str>> {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Field(f) => Some(f.as_str()),
                Segment::Every => None,
            })
            .collect()
    }

    /// Every value the path reaches in `root`, each with its concrete path (`*` replaced by the
    /// index or key). A field that is missing, or null, reaches nothing.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<(String, &'a Value)> {
        let mut found = vec![(String::new(), root)];
        for segment in &self.segments {
            let mut next = Vec::new();
            for (at, value) in found {
                let join = |key: &str| {
                    if at.is_empty() {
                        key.to_owned()
                    } else {
                        format!("{at}.{key}")
                    }
                };
                match (segment, value) {
                    (Segment::Field(f), Value::Object(map)) => {
                        if let Some(v) = map.get(f).filter(|v| !v.is_null()) {
                            next.push((join(f), v));
                        }
                    }
                    (Segment::Every, Value::Array(items)) => {
                        next.extend(
                            items
                                .iter()
                                .enumerate()
                                .map(|(i, v)| (format!("{at}[{i}]"), v)),
                        );
                    }
                    (Segment::Every, Value::Object(map)) => {
                        next.extend(map.iter().map(|(k, v)| (join(k), v)));
                    }
                    _ => {}
                }
            }
            found = next;
        }
        found
    }

    /// A merge patch that sets the path (which has no `*`) to `value`.
    pub fn merge_patch(&self, value: Value) -> Option<Value> {
        let fields = self.fields()?;
        Some(
            fields
                .iter()
                .rev()
                .fold(value, |inner, f| serde_json::json!({ *f: inner })),
        )
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for FieldPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for FieldPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Why a kinds file, or a set of rows, is refused.
#[derive(Debug, thiserror::Error)]
pub enum KindsError {
    /// The text is not YAML of the file's shape (including an unknown key).
    #[error("kinds are not valid YAML of the expected shape: {source}")]
    Yaml {
        /// What the YAML reader reported.
        source: serde_saphyr::Error,
    },
    /// One row is not usable.
    #[error("kinds[{index}] ({kind}): {message}")]
    Row {
        /// Its position among the extra rows (or the built-in ones).
        index: usize,
        /// Its kind, as written.
        kind: String,
        /// What is wrong.
        message: String,
    },
    /// Two rows name the same group and kind.
    #[error("kinds[{index}] ({kind}): {kind} of {group} is listed twice")]
    Duplicate {
        /// The second row's position.
        index: usize,
        /// The kind.
        kind: String,
        /// Its group.
        group: String,
    },
    /// The process already reads workloads with other rows.
    #[error("the governed kinds are installed already; install them once, before any is read")]
    AlreadyInstalled,
}

impl KindsFile {
    /// Reads a kinds file; its rows are checked when they are installed ([`checked`]).
    pub fn from_yaml(yaml: &str) -> Result<Self, KindsError> {
        serde_saphyr::from_str(yaml).map_err(|source| KindsError::Yaml { source })
    }
}

/// The built-in rows.
pub fn builtin() -> Vec<KindSpec> {
    KindsFile::from_yaml(BUILTIN_KINDS_YAML)
        .expect("the embedded catalog/kinds.yaml is valid (tested)")
        .kinds
}

/// The built-in rows followed by `extra`, each checked: a bad row, or a kind listed twice, is an
/// error naming it.
pub fn checked(extra: Vec<KindSpec>) -> Result<Vec<KindSpec>, KindsError> {
    let builtin = builtin();
    let builtin_count = builtin.len();
    let all: Vec<KindSpec> = builtin.into_iter().chain(extra).collect();
    let known: Vec<(&str, &str)> = all
        .iter()
        .map(|k| (k.group.as_str(), k.kind.as_str()))
        .chain(BUILTIN_TYPED)
        .collect();
    for (i, row) in all.iter().enumerate() {
        let index = i.checked_sub(builtin_count).unwrap_or(i);
        row.check(&known).map_err(|message| KindsError::Row {
            index,
            kind: row.kind.clone(),
            message,
        })?;
        if all[..i].contains(row) {
            return Err(KindsError::Duplicate {
                index,
                kind: row.kind.clone(),
                group: row.group.clone(),
            });
        }
    }
    Ok(all)
}

static INSTALLED: OnceLock<&'static [KindSpec]> = OnceLock::new();

/// Installs the rows in force for this process: the built-in ones and `extra`. Once, before any
/// workload is read; a second install of the same rows is a no-op.
pub fn install(extra: Vec<KindSpec>) -> Result<(), KindsError> {
    let all = checked(extra)?;
    if let Some(installed) = INSTALLED.get() {
        return if same_rows(installed, &all) {
            Ok(())
        } else {
            Err(KindsError::AlreadyInstalled)
        };
    }
    let leaked: &'static [KindSpec] = Vec::leak(all);
    INSTALLED
        .set(leaked)
        .map_err(|_| KindsError::AlreadyInstalled)
}

fn same_rows(a: &[KindSpec], b: &[KindSpec]) -> bool {
    let text = |rows: &[KindSpec]| serde_json::to_string(rows).unwrap_or_default();
    text(a) == text(b)
}

/// The rows in force: those installed, or the built-in ones.
pub fn installed() -> &'static [KindSpec] {
    INSTALLED.get_or_init(|| Vec::leak(builtin()))
}

/// The row of `group` + `kind`, if it is governed.
pub fn find(group: &str, kind: &str) -> Option<&'static KindSpec> {
    installed()
        .iter()
        .find(|k| k.group == group && k.kind == kind)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_builtin_rows_are_valid_and_cover_the_documented_kinds() {
        let rows = checked(Vec::new()).unwrap();
        let kinds: Vec<&str> = rows.iter().map(|k| k.kind.as_str()).collect();
        for kind in [
            "InferenceService",
            "LLMInferenceService",
            "NIMService",
            "LeaderWorkerSet",
            "JobSet",
            "RayCluster",
            "RayJob",
            "RayService",
            "PyTorchJob",
            "TFJob",
            "MPIJob",
            "TrainJob",
            "Rollout",
            "Service",
        ] {
            assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
        }
    }

    #[test]
    fn paths_reach_every_element_and_value() {
        let object = json!({"spec": {
            "headGroupSpec": {"template": {"a": 1}},
            "workerGroupSpecs": [{"template": {"b": 2}}, {"template": null}, {"replicas": 3}],
            "replicaSpecs": {"Master": {"template": {"c": 3}}, "Worker": {"template": {"d": 4}}}
        }});
        let found = |p: &str| -> Vec<String> {
            FieldPath::parse(p)
                .unwrap()
                .find(&object)
                .into_iter()
                .map(|(at, v)| format!("{at}={v}"))
                .collect()
        };
        assert_eq!(
            found("spec.headGroupSpec.template"),
            ["spec.headGroupSpec.template={\"a\":1}"]
        );
        assert_eq!(
            found("spec.workerGroupSpecs.*.template"),
            ["spec.workerGroupSpecs[0].template={\"b\":2}"]
        );
        assert_eq!(
            found("spec.replicaSpecs.*.template"),
            [
                "spec.replicaSpecs.Master.template={\"c\":3}",
                "spec.replicaSpecs.Worker.template={\"d\":4}"
            ]
        );
        assert!(found("spec.missing.template").is_empty());
        assert!(found("spec.headGroupSpec.template.a.b").is_empty());
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in ["", "spec..template", ".spec", "spec."] {
            assert!(FieldPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_merge_patch_sets_the_path() {
        let path = FieldPath::parse("spec.runPolicy.suspend").unwrap();
        assert_eq!(
            path.merge_patch(json!(true)),
            Some(json!({"spec": {"runPolicy": {"suspend": true}}}))
        );
        assert_eq!(
            FieldPath::parse("spec.*.x").unwrap().merge_patch(json!(1)),
            None
        );
    }

    fn row(yaml: &str) -> Result<Vec<KindSpec>, String> {
        KindsFile::from_yaml(yaml)
            .map_err(|e| e.to_string())
            .and_then(|f| checked(f.kinds).map_err(|e| e.to_string()))
    }

    #[test]
    fn a_platform_teams_row_is_added() {
        let rows = row("kinds:
  - kind: ModelServer
    group: serving.example.com
    version: v1
    plural: modelservers
    podTemplates: [spec.template]
    replicas: {path: spec.size}
    halt: {replicas: {}}
")
        .unwrap();
        let added = rows.last().unwrap();
        assert_eq!(added.kind, "ModelServer");
        assert_eq!(added.replicas.as_ref().unwrap().default, 1);
        assert_eq!(added.stopper(), Stopper::Count);
    }

    #[test]
    fn a_bad_row_is_named_with_what_is_wrong() {
        let base = "kinds:\n  - kind: ModelServer\n    group: serving.example.com\n    version: v1\n    plural: modelservers\n";
        let cases = [
            (
                format!("{base}    podTemplates: [spec.template]\n    halt: {{scale: {{}}}}\n"),
                "kinds[0] (ModelServer): halt: scaling to zero needs `replicas`",
            ),
            (
                format!("{base}    halt: {{suspend: {{path: spec.suspend}}}}\n"),
                "kinds[0] (ModelServer): names no podTemplates",
            ),
            (
                format!(
                    "{base}    podTemplates: [spec.template]\n    halt: {{through: {{kinds: [Nope]}}}}\n"
                ),
                "halt.through.kinds: Nope is not another governed kind",
            ),
            (
                format!("{base}    podTemplates: [spec..template]\n    halt: {{suspend: {{path: spec.suspend}}}}\n"),
                "empty segment",
            ),
            (
                format!("{base}    podSpecs: [spec.pod]\n    halt: {{through: {{kinds: [Deployment], labelsFrom: podTemplates}}}}\n"),
                "halt.through.labelsFrom: podTemplates needs `podTemplates`",
            ),
            (
                format!("{base}    podTemplate: [spec.template]\n    halt: {{suspend: {{path: spec.suspend}}}}\n"),
                "podTemplate",
            ),
            (
                format!("{base}    podTemplates: [spec.template]\n    halt: {{stop: {{}}}}\n"),
                "stop",
            ),
            (
                "kinds:\n  - kind: Deployment\n    group: apps\n    version: v1\n    plural: deployments\n    podTemplates: [spec.template]\n    halt: {scale: {}}\n".to_owned(),
                "group: \"apps\" is not a custom resource's API group",
            ),
            (
                "kinds:\n  - kind: RayCluster\n    group: ray.io\n    version: v1\n    plural: rayclusters\n    podTemplates: [spec.headGroupSpec.template]\n    halt: {suspend: {path: spec.suspend}}\n".to_owned(),
                "kinds[0] (RayCluster): RayCluster of ray.io is listed twice",
            ),
        ];
        for (yaml, want) in cases {
            let err = row(&yaml).unwrap_err();
            assert!(err.contains(want), "{yaml}\n=> {err}\nwant {want}");
        }
    }

    #[test]
    fn the_installed_rows_are_the_builtin_ones_by_default() {
        assert!(find("ray.io", "RayService").is_some());
        assert!(find("ray.io", "RayThing").is_none());
        assert!(find("apps", "Deployment").is_none());
        // Installing the same rows again is harmless; other rows are refused once in use.
        install(Vec::new()).unwrap();
        let extra = KindsFile::from_yaml(
            "kinds:\n  - kind: ModelServer\n    group: serving.example.com\n    version: v1\n    plural: modelservers\n    podTemplates: [spec.template]\n    halt: {suspend: {path: spec.suspend}}\n",
        )
        .unwrap();
        assert!(matches!(
            install(extra.kinds),
            Err(KindsError::AlreadyInstalled)
        ));
    }
}
