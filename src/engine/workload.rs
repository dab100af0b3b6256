//! Workload facts: what the engine needs to know about one workload, read from a Deployment,
//! StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob or Pod with their own
//! types, or from an object of a governed custom-resource kind by the paths of its row
//! ([`custom`]).
//!
//! Facts are extracted once (in the controller's reflector, the webhook's request, or the CLI's
//! input) and are all the engine ever sees of a workload.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
        batch::v1::{CronJob, Job},
        core::v1::{Container, Pod, PodSpec, PodTemplateSpec, ReplicationController},
    },
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use serde::Serialize;
use serde_json::Value;

use super::kinds::{self, KindSpec, Stopper};
use crate::api::SYSTEM_LABEL;

pub mod custom;
pub mod fields;

/// The kinds of workload the engine governs: the built-in Kubernetes kinds, read with their own
/// types, and the custom-resource kinds of [`super::kinds`], read by their row's paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// apps/v1 ReplicaSet (one a Deployment owns is that Deployment's).
    ReplicaSet,
    /// v1 ReplicationController.
    ReplicationController,
    /// batch/v1 Job.
    Job,
    /// batch/v1 CronJob.
    CronJob,
    /// v1 Pod.
    Pod,
    /// A custom-resource kind of the governed kinds' data (KServe InferenceService,
    /// LeaderWorkerSet, RayService, PyTorchJob, ...).
    Custom(&'static KindSpec),
}

impl WorkloadKind {
    /// The built-in Kubernetes kinds.
    pub const BUILTIN: [Self; 8] = [
        Self::Deployment,
        Self::StatefulSet,
        Self::DaemonSet,
        Self::ReplicaSet,
        Self::ReplicationController,
        Self::Job,
        Self::CronJob,
        Self::Pod,
    ];

    /// Every governed kind: the built-in ones, then the custom-resource kinds in force.
    pub fn all() -> impl Iterator<Item = Self> {
        Self::BUILTIN
            .into_iter()
            .chain(kinds::installed().iter().map(Self::Custom))
    }

    /// The custom-resource kind named `kind` in force (a test's shorthand; kinds are otherwise
    /// found by group and kind).
    pub fn custom(kind: &str) -> Option<Self> {
        kinds::installed()
            .iter()
            .find(|k| k.kind == kind)
            .map(Self::Custom)
    }

    /// The kind's name as in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::DaemonSet => "DaemonSet",
            Self::ReplicaSet => "ReplicaSet",
            Self::ReplicationController => "ReplicationController",
            Self::Job => "Job",
            Self::CronJob => "CronJob",
            Self::Pod => "Pod",
            Self::Custom(spec) => &spec.kind,
        }
    }

    /// The governed kind of `apiVersion` + `kind`, if it is one.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Self> {
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        Self::from_group_kind(group, kind)
    }

    /// The governed kind of API group (`""` for the core group) + `kind`, if it is one.
    pub fn from_group_kind(group: &str, kind: &str) -> Option<Self> {
        match (group, kind) {
            ("apps", "Deployment") => Some(Self::Deployment),
            ("apps", "StatefulSet") => Some(Self::StatefulSet),
            ("apps", "DaemonSet") => Some(Self::DaemonSet),
            ("apps", "ReplicaSet") => Some(Self::ReplicaSet),
            ("", "ReplicationController") => Some(Self::ReplicationController),
            ("batch", "Job") => Some(Self::Job),
            ("batch", "CronJob") => Some(Self::CronJob),
            ("", "Pod") => Some(Self::Pod),
            _ => kinds::find(group, kind).map(Self::Custom),
        }
    }

    /// The API group (`""` for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Self::Deployment | Self::StatefulSet | Self::DaemonSet | Self::ReplicaSet => "apps",
            Self::Job | Self::CronJob => "batch",
            Self::Pod | Self::ReplicationController => "",
            Self::Custom(spec) => &spec.group,
        }
    }

    /// The `apiVersion` manifests of the kind are written in.
    pub fn api_version(self) -> String {
        match self {
            Self::Deployment | Self::StatefulSet | Self::DaemonSet | Self::ReplicaSet => {
                "apps/v1".to_owned()
            }
            Self::Job | Self::CronJob => "batch/v1".to_owned(),
            Self::Pod | Self::ReplicationController => "v1".to_owned(),
            Self::Custom(spec) => spec.api_version(),
        }
    }

    /// How a halt acts on the kind.
    pub fn stopper(self) -> Stopper {
        match self {
            Self::Deployment
            | Self::StatefulSet
            | Self::ReplicaSet
            | Self::ReplicationController => Stopper::Count,
            Self::DaemonSet | Self::Job | Self::CronJob => Stopper::Flag,
            Self::Pod => Stopper::Delete,
            Self::Custom(spec) => spec.stopper(),
        }
    }

    /// The custom-resource kind's row, for a kind of the data.
    pub fn spec(self) -> Option<&'static KindSpec> {
        match self {
            Self::Custom(spec) => Some(spec),
            _ => None,
        }
    }

    /// The kinds whose controller creates Pods from a pod template that is itself reviewed:
    /// a Pod that one of them controls is its owner's, not a workload of its own.
    pub const POD_OWNERS: [Self; 5] = [
        Self::ReplicaSet,
        Self::ReplicationController,
        Self::StatefulSet,
        Self::DaemonSet,
        Self::Job,
    ];
}

/// Written as the kind's name.
impl Serialize for WorkloadKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container image reference, split into its parts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ImageRef {
    /// The reference as written.
    pub reference: String,
    /// The repository without tag or digest, for example `docker.io/vllm/vllm-openai` or
    /// `vllm/vllm-openai` (as written; no registry is added).
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The digest (`sha256:<hex>`), if the reference is pinned.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Splits an image reference. Never fails: whatever is not a tag or digest is the repository.
    pub fn parse(reference: &str) -> Self {
        let (rest, digest) = match reference.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest.to_owned())),
            None => (reference, None),
        };
        // A colon after the last slash separates the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_owned()),
            ),
            None => (rest, None),
        };
        Self {
            reference: reference.to_owned(),
            repository: repository.to_owned(),
            tag,
            digest,
        }
    }

    /// Whether the reference is pinned by a well-formed sha256 digest.
    pub fn is_pinned(&self) -> bool {
        self.digest.as_deref().is_some_and(is_sha256_digest)
    }
}

/// Whether `s` is `sha256:` followed by 64 lowercase hex digits.
pub fn is_sha256_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(is_sha256_hex)
}

/// Whether `s` is 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One container of a workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerFacts {
    /// The container's name.
    pub name: String,
    /// Its image.
    pub image: ImageRef,
    /// Whether it is an init container.
    pub init: bool,
    /// Whether it is an ephemeral container (added to a running Pod, as `kubectl debug` does).
    pub ephemeral: bool,
    /// Whether it requests CPU or memory.
    pub requests_declared: bool,
    /// Whether it sets a memory limit.
    pub memory_limit_declared: bool,
    /// Extended resources it requests or limits (for example `nvidia.com/gpu`), with the quantity
    /// as written.
    pub extended_resources: BTreeMap<String, String>,
    /// Its command, arguments and environment values, for model-URI detection.
    pub args_and_env: Vec<String>,
    /// How many of `args_and_env`, from the start, are its command and arguments: its command
    /// line, for server-command detection.
    pub command_len: usize,
    /// The Pod's dynamic resource claims it uses (`resources.claims`), each named as
    /// `<claim>` and where the claim comes from (`ResourceClaim gpu`,
    /// `ResourceClaimTemplate gpu-template`) when the pod spec says.
    pub resource_claims: Vec<String>,
}

impl ContainerFacts {
    /// Its command and arguments.
    pub fn command_line(&self) -> &[String] {
        self.args_and_env
            .get(..self.command_len)
            .unwrap_or(&self.args_and_env)
    }
}

/// The node label a halted DaemonSet's pods are made to select. No node carries it, so while it
/// is in the pod template's `nodeSelector` the DaemonSet runs no pod anywhere; a DaemonSet has no
/// replicas to scale and no `suspend` to set.
pub const HALT_NODE_LABEL: &str = "aims.dev/halted";

/// What the engine knows about one workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkloadFacts {
    /// The workload's kind.
    pub kind: WorkloadKind,
    /// Its namespace (empty when a manifest gives none).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The object's labels.
    pub labels: BTreeMap<String, String>,
    /// The pod template's labels (the object's own for a Pod).
    pub pod_labels: BTreeMap<String, String>,
    /// The object's annotations.
    pub annotations: BTreeMap<String, String>,
    /// Its containers, init containers included.
    pub containers: Vec<ContainerFacts>,
    /// Model URIs it loads: KServe `storageUri`s and `STORAGE_URI` values.
    pub model_uris: Vec<String>,
    /// Desired replicas, where the kind has them (a Deployment's, a StatefulSet's, a custom kind's
    /// `replicas` path such as a LeaderWorkerSet's `spec.replicas`).
    pub replicas: Option<i32>,
    /// Whether it is stopped without being scaled: a CronJob, a Job or a custom kind suspended (a
    /// custom kind's stop annotation set counts as suspended), a DaemonSet
    /// parked by a halt (its pods select the node label [`HALT_NODE_LABEL`], which no node has).
    pub suspended: Option<bool>,
    /// Whether a governed kind controls it (a Pod of a ReplicaSet, a Job of a CronJob, a
    /// ReplicaSet of a Deployment), so that it is its owner's and not a workload of its own. An
    /// owner of another kind (a ConfigMap, a custom resource) does not count: such a workload is
    /// judged as itself.
    pub controlled: bool,
}

/// Why a workload's facts could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// The object does not have the shape of its kind.
    #[error("not a valid {kind}: {path}: {message}")]
    Shape {
        /// The kind it claims to be.
        kind: WorkloadKind,
        /// Where in the object the problem is.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A kind whose objects are governed workloads: what the engine knows of one, read from the
/// fields ([`fields::ReadFields`]) or from the whole object alike.
pub trait WorkloadObject: fields::ReadFields {
    /// The object's facts.
    fn facts(&self) -> WorkloadFacts;
}

macro_rules! workload_object {
    ($($kind:ty => $facts:path),*) => {$(
        impl WorkloadObject for $kind {
            fn facts(&self) -> WorkloadFacts {
                $facts(self)
            }
        }
    )*};
}

workload_object!(
    Deployment => WorkloadFacts::from_deployment,
    StatefulSet => WorkloadFacts::from_stateful_set,
    DaemonSet => WorkloadFacts::from_daemon_set,
    ReplicaSet => WorkloadFacts::from_replica_set,
    ReplicationController => WorkloadFacts::from_replication_controller,
    Job => WorkloadFacts::from_job,
    CronJob => WorkloadFacts::from_cron_job,
    Pod => WorkloadFacts::from_pod
);

impl WorkloadFacts {
    /// `Kind/name`, as findings and status name workloads.
    pub fn display_name(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The AISystem the workload names with the `aims.dev/system` label, on the object or its pod
    /// template.
    pub fn system_label(&self) -> Option<&str> {
        self.labels
            .get(SYSTEM_LABEL)
            .or_else(|| self.pod_labels.get(SYSTEM_LABEL))
            .map(String::as_str)
    }

    /// Every image the workload runs.
    pub fn images(&self) -> impl Iterator<Item = &ImageRef> {
        self.containers.iter().map(|c| &c.image)
    }

    /// Reads the facts of a governed object given as JSON (a YAML file, the API server's list),
    /// checking every field of the object against the kind's schema, so a mistyped field anywhere
    /// is reported with its path. For an object the API server has validated already, see
    /// [`WorkloadFacts::from_validated_json`].
    pub fn from_json(kind: WorkloadKind, object: Value) -> Result<Self, FactsError> {
        fn typed<T: serde::de::DeserializeOwned>(
            kind: WorkloadKind,
            object: Value,
        ) -> Result<T, FactsError> {
            serde_path_to_error::deserialize(object).map_err(|e| FactsError::Shape {
                kind,
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })
        }
        Ok(match kind {
            WorkloadKind::Deployment => Self::from_deployment(&typed(kind, object)?),
            WorkloadKind::StatefulSet => Self::from_stateful_set(&typed(kind, object)?),
            WorkloadKind::DaemonSet => Self::from_daemon_set(&typed(kind, object)?),
            WorkloadKind::ReplicaSet => Self::from_replica_set(&typed(kind, object)?),
            WorkloadKind::ReplicationController => {
                Self::from_replication_controller(&typed(kind, object)?)
            }
            WorkloadKind::Job => Self::from_job(&typed(kind, object)?),
            WorkloadKind::CronJob => Self::from_cron_job(&typed(kind, object)?),
            WorkloadKind::Pod => Self::from_pod(&typed(kind, object)?),
            WorkloadKind::Custom(spec) => Self::from_custom(spec, &object)?,
        })
    }

    /// Facts of a Deployment.
    pub fn from_deployment(d: &Deployment) -> Self {
        let spec = d.spec.as_ref();
        Self::from_template(
            WorkloadKind::Deployment,
            &d.metadata,
            spec.map(|s| &s.template),
        )
        .with_replicas(spec.and_then(|s| s.replicas))
    }

    /// Facts of a StatefulSet.
    pub fn from_stateful_set(s: &StatefulSet) -> Self {
        let spec = s.spec.as_ref();
        Self::from_template(
            WorkloadKind::StatefulSet,
            &s.metadata,
            spec.map(|s| &s.template),
        )
        .with_replicas(spec.and_then(|s| s.replicas))
    }

    /// Facts of a DaemonSet.
    pub fn from_daemon_set(d: &DaemonSet) -> Self {
        let template = d.spec.as_ref().map(|s| &s.template);
        let mut facts = Self::from_template(WorkloadKind::DaemonSet, &d.metadata, template);
        let parked = template
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.node_selector.as_ref())
            .is_some_and(|n| n.contains_key(HALT_NODE_LABEL));
        facts.suspended = Some(parked);
        facts
    }

    /// Facts of a ReplicaSet.
    pub fn from_replica_set(r: &ReplicaSet) -> Self {
        let spec = r.spec.as_ref();
        Self::from_template(
            WorkloadKind::ReplicaSet,
            &r.metadata,
            spec.and_then(|s| s.template.as_ref()),
        )
        .with_replicas(spec.and_then(|s| s.replicas))
    }

    /// Facts of a ReplicationController.
    pub fn from_replication_controller(r: &ReplicationController) -> Self {
        let spec = r.spec.as_ref();
        Self::from_template(
            WorkloadKind::ReplicationController,
            &r.metadata,
            spec.and_then(|s| s.template.as_ref()),
        )
        .with_replicas(spec.and_then(|s| s.replicas))
    }

    /// Facts of a Job.
    pub fn from_job(j: &Job) -> Self {
        let spec = j.spec.as_ref();
        let mut facts =
            Self::from_template(WorkloadKind::Job, &j.metadata, spec.map(|s| &s.template));
        facts.suspended = Some(spec.and_then(|s| s.suspend).unwrap_or(false));
        facts
    }

    /// Facts of a CronJob.
    pub fn from_cron_job(c: &CronJob) -> Self {
        let spec = c.spec.as_ref();
        let template = spec
            .and_then(|s| s.job_template.spec.as_ref())
            .map(|s| &s.template);
        let mut facts = Self::from_template(WorkloadKind::CronJob, &c.metadata, template);
        facts.suspended = Some(spec.and_then(|s| s.suspend).unwrap_or(false));
        facts
    }

    /// Facts of a Pod.
    pub fn from_pod(p: &Pod) -> Self {
        let mut facts = Self::from_meta(WorkloadKind::Pod, &p.metadata);
        facts.pod_labels = facts.labels.clone();
        if let Some(spec) = &p.spec {
            facts.add_pod_spec(spec);
        }
        facts
    }

    pub(super) fn from_meta(kind: WorkloadKind, meta: &ObjectMeta) -> Self {
        Self {
            kind,
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            pod_labels: BTreeMap::new(),
            annotations: meta.annotations.clone().unwrap_or_default(),
            containers: Vec::new(),
            model_uris: Vec::new(),
            replicas: None,
            suspended: None,
            controlled: meta
                .owner_references
                .iter()
                .flatten()
                .any(|o| controlled_by_governed(kind, o)),
        }
    }

    /// The facts with the desired replicas of a Deployment, StatefulSet, ReplicaSet or
    /// ReplicationController (1 when unset, as the API server defaults it).
    fn with_replicas(mut self, replicas: Option<i32>) -> Self {
        self.replicas = Some(replicas.unwrap_or(1));
        self
    }

    fn from_template(
        kind: WorkloadKind,
        meta: &ObjectMeta,
        template: Option<&PodTemplateSpec>,
    ) -> Self {
        let mut facts = Self::from_meta(kind, meta);
        if let Some(template) = template {
            facts.pod_labels = template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            if let Some(spec) = &template.spec {
                facts.add_pod_spec(spec);
            }
        }
        facts
    }

    pub(super) fn add_pod_spec(&mut self, spec: &PodSpec) {
        let first = self.containers.len();
        for c in spec.init_containers.iter().flatten() {
            self.add_container(c, true);
        }
        for c in &spec.containers {
            self.add_container(c, false);
        }
        // An ephemeral container runs in the Pod like any other: read as one of its containers.
        for e in spec.ephemeral_containers.iter().flatten() {
            let c = Container {
                name: e.name.clone(),
                image: e.image.clone(),
                command: e.command.clone(),
                args: e.args.clone(),
                env: e.env.clone(),
                resources: e.resources.clone(),
                ..Container::default()
            };
            self.add_container(&c, false);
            if let Some(last) = self.containers.last_mut() {
                last.ephemeral = true;
            }
        }
        // Name each claim a container uses after where the pod spec says it comes from.
        for claim in self.containers[first..]
            .iter_mut()
            .flat_map(|c| c.resource_claims.iter_mut())
        {
            let source = spec
                .resource_claims
                .iter()
                .flatten()
                .find(|p| p.name == *claim)
                .and_then(|p| {
                    p.resource_claim_name
                        .as_ref()
                        .map(|n| format!("ResourceClaim {n}"))
                        .or_else(|| {
                            p.resource_claim_template_name
                                .as_ref()
                                .map(|n| format!("ResourceClaimTemplate {n}"))
                        })
                });
            if let Some(source) = source {
                *claim = format!("{claim} ({source})");
            }
        }
        self.model_uris.sort();
        self.model_uris.dedup();
    }

    pub(super) fn add_container(&mut self, c: &Container, init: bool) {
        let resources = c.resources.as_ref();
        let requests = resources.and_then(|r| r.requests.as_ref());
        let limits = resources.and_then(|r| r.limits.as_ref());
        let mut extended_resources = BTreeMap::new();
        for (name, quantity) in requests.into_iter().chain(limits).flatten() {
            if name.contains('/') {
                extended_resources.insert(name.clone(), quantity.0.clone());
            }
        }
        let mut args_and_env: Vec<String> = c
            .command
            .iter()
            .chain(c.args.iter())
            .flatten()
            .cloned()
            .collect();
        let command_len = args_and_env.len();
        for env in c.env.iter().flatten() {
            if let Some(value) = &env.value {
                if env.name == "STORAGE_URI" {
                    self.model_uris.push(value.clone());
                }
                args_and_env.push(value.clone());
            }
        }
        self.containers.push(ContainerFacts {
            // A Knative Service's container may have no name: findings name it by its position.
            name: if c.name.is_empty() {
                format!("#{}", self.containers.len() + 1)
            } else {
                c.name.clone()
            },
            image: ImageRef::parse(c.image.as_deref().unwrap_or_default()),
            init,
            ephemeral: false,
            requests_declared: requests
                .is_some_and(|r| r.contains_key("cpu") || r.contains_key("memory")),
            memory_limit_declared: limits.is_some_and(|l| l.contains_key("memory")),
            extended_resources,
            args_and_env,
            command_len,
            resource_claims: resources
                .and_then(|r| r.claims.as_ref())
                .into_iter()
                .flatten()
                .map(|c| c.name.clone())
                .collect(),
        });
    }
}

/// Whether `owner` is the controller of an object of `kind` and of a governed kind that is
/// reviewed in its place: a Pod's ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController
/// or custom-resource kind; a ReplicaSet's Deployment; a Job's CronJob.
fn controlled_by_governed(kind: WorkloadKind, owner: &OwnerReference) -> bool {
    if owner.controller != Some(true) {
        return false;
    }
    let Some(owner) = WorkloadKind::from_type(&owner.api_version, &owner.kind) else {
        return false;
    };
    match kind {
        // A custom kind's Pods are its own: the kind's controller writes them from the
        // templates the object was reviewed with, and a halt stops them through it.
        WorkloadKind::Pod => {
            WorkloadKind::POD_OWNERS.contains(&owner) || matches!(owner, WorkloadKind::Custom(_))
        }
        WorkloadKind::ReplicaSet => owner == WorkloadKind::Deployment,
        WorkloadKind::Job => owner == WorkloadKind::CronJob,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn image_references_split_into_their_parts() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let cases = [
            ("nginx", "nginx", None, None),
            ("nginx:1.27", "nginx", Some("1.27"), None),
            (
                "registry:5000/team/app",
                "registry:5000/team/app",
                None,
                None,
            ),
            (
                "registry:5000/team/app:v2",
                "registry:5000/team/app",
                Some("v2"),
                None,
            ),
            (
                &*format!("vllm/vllm-openai@{digest}"),
                "vllm/vllm-openai",
                None,
                Some(&*digest),
            ),
            (
                &*format!("r.io/a/b:v1@{digest}"),
                "r.io/a/b",
                Some("v1"),
                Some(&*digest),
            ),
            ("", "", None, None),
        ];
        for (reference, repository, tag, want_digest) in cases {
            let image = ImageRef::parse(reference);
            assert_eq!(image.repository, repository, "{reference}");
            assert_eq!(image.tag.as_deref(), tag, "{reference}");
            assert_eq!(image.digest.as_deref(), want_digest, "{reference}");
        }
    }

    #[test]
    fn only_well_formed_sha256_digests_pin_an_image() {
        let hex = "b".repeat(64);
        for (reference, pinned) in [
            (format!("a/b@sha256:{hex}"), true),
            ("a/b:latest".to_owned(), false),
            ("a/b@sha256:abc".to_owned(), false),
            (format!("a/b@sha512:{hex}"), false),
            (format!("a/b@sha256:{}", hex.to_uppercase()), false),
        ] {
            assert_eq!(
                ImageRef::parse(&reference).is_pinned(),
                pinned,
                "{reference}"
            );
        }
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "scorer", "namespace": "credit", "labels": {"aims.dev/system": "credit"}},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "scorer"}},
                "template": {
                    "metadata": {"labels": {"app": "scorer"}},
                    "spec": {
                        "initContainers": [{"name": "fetch", "image": "busybox:1.36", "env": [{"name": "STORAGE_URI", "value": "s3://models/credit/v3"}]}],
                        "containers": [{
                            "name": "main", "image": "r.io/scorer:v3", "args": ["--model", "hf://org/model"],
                            "resources": {"requests": {"cpu": "1", "nvidia.com/gpu": "1"}, "limits": {"memory": "1Gi", "nvidia.com/gpu": "1"}}
                        }]
                    }
                }
            }
        })
    }

    #[test]
    fn a_deployment_yields_its_facts() {
        let facts = WorkloadFacts::from_json(WorkloadKind::Deployment, deployment()).unwrap();
        assert_eq!(facts.display_name(), "Deployment/scorer");
        assert_eq!(facts.namespace, "credit");
        assert_eq!(facts.system_label(), Some("credit"));
        assert_eq!(facts.replicas, Some(3));
        assert_eq!(facts.containers.len(), 2);
        let main = &facts.containers[1];
        assert!(!main.init && main.requests_declared && main.memory_limit_declared);
        assert_eq!(
            main.extended_resources
                .get("nvidia.com/gpu")
                .map(String::as_str),
            Some("1")
        );
        assert!(main.args_and_env.contains(&"hf://org/model".to_owned()));
        assert_eq!(facts.model_uris, ["s3://models/credit/v3"]);
    }

    #[test]
    fn the_system_label_is_read_from_the_pod_template_too() {
        let mut d = deployment();
        d["metadata"]["labels"] = json!({});
        d["spec"]["template"]["metadata"]["labels"]["aims.dev/system"] = json!("from-template");
        let facts = WorkloadFacts::from_json(WorkloadKind::Deployment, d).unwrap();
        assert_eq!(facts.system_label(), Some("from-template"));
    }

    #[test]
    fn an_inference_service_yields_containers_and_storage_uris() {
        let isvc = json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "chat", "namespace": "support"},
            "spec": {"predictor": {
                "minReplicas": 2,
                "model": {"modelFormat": {"name": "huggingface"}, "storageUri": "hf://org/model"},
                "containers": [{"name": "kserve-container", "image": "vllm/vllm-openai:v0.9.1",
                                "env": [{"name": "STORAGE_URI", "value": "gs://bucket/model"}]}]
            }}
        });
        let facts =
            WorkloadFacts::from_json(WorkloadKind::custom("InferenceService").unwrap(), isvc)
                .unwrap();
        assert_eq!(facts.replicas, Some(2));
        assert_eq!(facts.model_uris, ["gs://bucket/model", "hf://org/model"]);
        assert_eq!(facts.containers[0].image.repository, "vllm/vllm-openai");
    }

    #[test]
    fn a_wrongly_typed_field_is_named() {
        let mut d = deployment();
        d["spec"]["replicas"] = json!("three");
        let err = WorkloadFacts::from_json(WorkloadKind::Deployment, d)
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.replicas"), "{err}");
    }

    fn owned(kind: &str, api_version: &str, controller: bool) -> Value {
        json!([{"apiVersion": api_version, "kind": kind, "name": "owner",
            "uid": "00000000-0000-0000-0000-000000000001", "controller": controller}])
    }

    #[test]
    fn only_a_governed_controller_makes_a_workload_its_owners() {
        let pod = |owners: Value| {
            WorkloadFacts::from_json(
                WorkloadKind::Pod,
                json!({"metadata": {"name": "p", "ownerReferences": owners}, "spec": {"containers": []}}),
            )
            .unwrap()
            .controlled
        };
        let cases = [
            (owned("ReplicaSet", "apps/v1", true), true),
            (owned("StatefulSet", "apps/v1", true), true),
            (owned("DaemonSet", "apps/v1", true), true),
            (owned("Job", "batch/v1", true), true),
            (owned("ReplicationController", "v1", true), true),
            // Not a controller, or not a kind whose template is reviewed.
            (owned("ReplicaSet", "apps/v1", false), false),
            (owned("ConfigMap", "v1", true), false),
            (owned("Deployment", "apps/v1", true), false),
            (owned("ReplicaSet", "example.com/v1", true), false),
            (owned("Node", "v1", true), false),
            (owned("RayCluster", "ray.io/v1", true), true),
            (owned("RayCluster", "ray.io/v1", false), false),
            (owned("RayThing", "ray.io/v1", true), false),
            (json!([]), false),
        ];
        for (owners, controlled) in cases {
            assert_eq!(pod(owners.clone()), controlled, "{owners}");
        }
        let replica_set = |owners: Value| {
            WorkloadFacts::from_json(
                WorkloadKind::ReplicaSet,
                json!({"metadata": {"name": "rs", "ownerReferences": owners},
                    "spec": {"selector": {}, "template": {"spec": {"containers": []}}}}),
            )
            .unwrap()
            .controlled
        };
        assert!(replica_set(owned("Deployment", "apps/v1", true)));
        assert!(!replica_set(owned("ConfigMap", "v1", true)));
        assert!(!replica_set(json!([])));
        let job = |owners: Value| {
            WorkloadFacts::from_json(
                WorkloadKind::Job,
                json!({"metadata": {"name": "j", "ownerReferences": owners},
                    "spec": {"template": {"spec": {"containers": []}}}}),
            )
            .unwrap()
            .controlled
        };
        assert!(job(owned("CronJob", "batch/v1", true)));
        assert!(!job(owned("ConfigMap", "v1", true)));
    }

    #[test]
    fn replica_sets_and_replication_controllers_yield_their_templates_facts() {
        let template = json!({"metadata": {"labels": {"app": "m", "aims.dev/system": "chat"}},
            "spec": {"containers": [{"name": "m", "image": "vllm/vllm-openai:v0.9.1"}]}});
        for (kind, object) in [
            (
                WorkloadKind::ReplicaSet,
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "w", "namespace": "ns"},
                    "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "m"}}, "template": template}}),
            ),
            (
                WorkloadKind::ReplicationController,
                json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "w", "namespace": "ns"},
                    "spec": {"replicas": 4, "selector": {"app": "m"}, "template": template}}),
            ),
        ] {
            let facts = WorkloadFacts::from_json(kind, object).unwrap();
            assert_eq!(facts.replicas, Some(4), "{kind}");
            assert_eq!(facts.system_label(), Some("chat"), "{kind}");
            assert_eq!(facts.containers[0].image.repository, "vllm/vllm-openai");
            assert!(!facts.controlled);
        }
    }

    #[test]
    fn ephemeral_containers_are_containers_of_the_pod() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {
            "containers": [{"name": "app", "image": "r.io/app:1"}],
            "ephemeralContainers": [{"name": "debugger-x", "image": "vllm/vllm-openai:v0.9.1",
                "command": ["vllm"], "args": ["serve", "m"], "targetContainerName": "app"}]
        }});
        let facts = WorkloadFacts::from_json(WorkloadKind::Pod, pod).unwrap();
        let names: Vec<_> = facts
            .containers
            .iter()
            .map(|c| (c.name.as_str(), c.ephemeral))
            .collect();
        assert_eq!(names, [("app", false), ("debugger-x", true)]);
        assert_eq!(facts.containers[1].command_line(), ["vllm", "serve", "m"]);
        assert_eq!(
            facts
                .images()
                .map(|i| i.reference.as_str())
                .collect::<Vec<_>>(),
            ["r.io/app:1", "vllm/vllm-openai:v0.9.1"]
        );
    }

    #[test]
    fn kinds_are_recognised_by_group_and_kind() {
        assert_eq!(
            WorkloadKind::from_type("apps/v1", "Deployment"),
            Some(WorkloadKind::Deployment)
        );
        assert_eq!(
            WorkloadKind::from_type("v1", "Pod"),
            Some(WorkloadKind::Pod)
        );
        assert_eq!(
            WorkloadKind::from_type("serving.kserve.io/v1beta1", "InferenceService"),
            WorkloadKind::custom("InferenceService")
        );
        assert_eq!(
            WorkloadKind::from_type("apps/v1", "ReplicaSet"),
            Some(WorkloadKind::ReplicaSet)
        );
        assert_eq!(
            WorkloadKind::from_type("v1", "ReplicationController"),
            Some(WorkloadKind::ReplicationController)
        );
        for kind in WorkloadKind::all() {
            assert_eq!(
                WorkloadKind::from_type(&kind.api_version(), kind.as_str()),
                Some(kind)
            );
        }
        assert_eq!(WorkloadKind::from_type("v1", "Deployment"), None);
        assert_eq!(WorkloadKind::from_type("v1", "Service"), None);
    }
}
