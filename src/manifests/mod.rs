//! Reading manifests into typed objects, the way `aims check -f` sees what a GitOps pipeline is
//! about to apply.
//!
//! Input is YAML (multi-document streams, `---` separated), JSON (one object, or several
//! concatenated), and `List` / `*List` objects whose `items` are expanded. Each document becomes an
//! [`Object`]: one of the four aims kinds, a Namespace, the [`WorkloadFacts`] of a governed
//! workload, or [`Object::Other`] for the ordinary objects a manifests directory also holds.
//!
//! Nothing here stops at the first problem: every document is read, every problem is reported as a
//! [`LoadError`] that names the file, the document, its line and the field, and every document
//! without a problem is returned. A document with any problem yields no [`Document`], so nothing is
//! judged on a half-understood record.
//!
//! What counts as a problem is what `kubectl apply` (with its default strict field validation)
//! would reject before the operator ever saw the object: syntax errors, a missing `apiVersion` or
//! `kind`, a kind that does not exist in the aims group or in a well-known built-in group, a field
//! of the wrong type in an aims kind or a governed workload, and a field the aims kinds do not
//! have.

use std::{collections::BTreeMap, fmt, io};

use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment},
    engine::workload::WorkloadFacts,
};

mod files;
mod kinds;
mod objects;
mod parse;
mod spans;

pub use files::{load_paths, load_paths_with_stdin};
use kinds::*;
use objects::*;
pub use parse::parse_text;
use parse::*;
use spans::*;

/// The path that stands for standard input in [`load_paths`].
pub const STDIN_PATH: &str = "-";

/// The file name documents read from standard input carry in their [`Source`].
pub const STDIN_NAME: &str = "<stdin>";

/// Where a document came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    /// The file, as given or found in a directory ([`STDIN_NAME`] for standard input).
    pub file: String,
    /// The document's position within the file, from 1. Empty and comment-only documents are not
    /// counted.
    pub document: usize,
    /// The line where the document's content starts, from 1 (after any `---` marker, blank lines
    /// and comments that precede it).
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} document {} (line {})",
            self.file, self.document, self.line
        )
    }
}

/// What one manifest holds.
#[allow(clippy::large_enum_variant)] // A few hundred per run; unboxed to match on them directly.
#[derive(Clone, Debug)]
pub enum Object {
    /// An `aims.dev/v1alpha1` AISystem.
    AISystem(AISystem),
    /// An `aims.dev/v1alpha1` RiskAssessment.
    RiskAssessment(RiskAssessment),
    /// An `aims.dev/v1alpha1` ControlBinding.
    ControlBinding(ControlBinding),
    /// An `aims.dev/v1alpha1` ClusterControlBinding.
    ClusterControlBinding(ClusterControlBinding),
    /// A `v1` Namespace: its labels select ClusterControlBindings.
    Namespace {
        /// The namespace's name.
        name: String,
        /// Its labels.
        labels: BTreeMap<String, String>,
    },
    /// A governed workload (see [`WorkloadKind`]), as the engine sees it.
    Workload(WorkloadFacts),
    /// An object that is not governed (a Service, ConfigMap, Secret, RBAC object, another
    /// project's custom resource...), which a manifests directory legitimately holds.
    Other {
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
    },
}

impl Object {
    /// The object's kind, as in `kind:`.
    pub fn kind(&self) -> &str {
        match self {
            Self::AISystem(_) => "AISystem",
            Self::RiskAssessment(_) => "RiskAssessment",
            Self::ControlBinding(_) => "ControlBinding",
            Self::ClusterControlBinding(_) => "ClusterControlBinding",
            Self::Namespace { .. } => "Namespace",
            Self::Workload(facts) => facts.kind.as_str(),
            Self::Other { kind, .. } => kind,
        }
    }
}

/// One object read from a manifest, and where it came from. The items of a `List` share the
/// List's source.
#[derive(Clone, Debug)]
pub struct Document {
    /// Where it came from.
    pub source: Source,
    /// What it is.
    pub object: Object,
}

/// Why a file, or a document in it, could not be read.
///
/// Each variant that concerns a document carries its [`Source`] as `origin` (the name `source` is
/// reserved by `std::error::Error` for the underlying cause). Paths are written as in
/// `spec.risks[0].likelihood`; within a `List` they start at the item, as in
/// `items[2].spec.riskTier`.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file, directory or standard input could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path ([`STDIN_NAME`] for standard input).
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// A document is not well-formed YAML or JSON.
    #[error("{origin}: line {line}{}: {message}", column_suffix(*.column))]
    Syntax {
        /// The document.
        origin: Source,
        /// The line of the error in the file, from 1.
        line: usize,
        /// The column of the error, from 1, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// An object has no `apiVersion` or no `kind`.
    #[error("{origin}: {}missing {missing}; every Kubernetes object needs apiVersion and kind", path_prefix(.object))]
    MissingTypeInfo {
        /// The document.
        origin: Source,
        /// Where the object is in the document: empty for the document itself, `items[2]` for an
        /// item of a List.
        object: String,
        /// What is missing: `apiVersion`, `kind`, or `apiVersion and kind`.
        missing: &'static str,
    },
    /// A kind that cannot exist: a kind of the `aims.dev` group other than its four, or a kind a
    /// well-known built-in group does not have (such as `apps/v1 Deploymnet`).
    #[error("{origin}: {}", unknown_kind_message(.object, .api_version, .kind))]
    UnknownKind {
        /// The document.
        origin: Source,
        /// Where the object is in the document: empty for the document itself, `items[2]` for an
        /// item of a List.
        object: String,
        /// The object's `apiVersion`.
        api_version: String,
        /// The object's `kind`.
        kind: String,
    },
    /// A field has the wrong type or value, or a required field is missing.
    #[error("{origin}: {}{message}", field_prefix(.path, *.line))]
    Field {
        /// The document.
        origin: Source,
        /// The field, as in `spec.risks[0].likelihood` (empty for the object itself).
        path: String,
        /// The line of the field in the file, when known.
        line: Option<usize>,
        /// What is wrong, as in `invalid type: string "high", expected u8`.
        message: String,
    },
    /// A field the aims kinds do not have, such as `spec.riskTeir`: most likely a typo, which the
    /// API server would reject.
    #[error("{origin}: {}unknown field{}", field_prefix(.path, *.line), suggestion_suffix(.suggestion))]
    UnknownField {
        /// The document.
        origin: Source,
        /// The field, as in `spec.oversight.haltReasn`.
        path: String,
        /// The line of the field in the file, when known.
        line: Option<usize>,
        /// A known field of the same object with a similar name, if there is one.
        suggestion: Option<String>,
    },
}

impl LoadError {
    /// The document the error is about (`None` for [`LoadError::Io`]).
    pub fn origin(&self) -> Option<&Source> {
        match self {
            Self::Io { .. } => None,
            Self::Syntax { origin, .. }
            | Self::MissingTypeInfo { origin, .. }
            | Self::UnknownKind { origin, .. }
            | Self::Field { origin, .. }
            | Self::UnknownField { origin, .. } => Some(origin),
        }
    }
}

fn column_suffix(column: Option<usize>) -> String {
    column.map(|c| format!(", column {c}")).unwrap_or_default()
}

fn path_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn field_prefix(path: &str, line: Option<usize>) -> String {
    match (path.is_empty(), line) {
        (true, _) => String::new(),
        (false, None) => format!("{path}: "),
        (false, Some(line)) => format!("{path} (line {line}): "),
    }
}

fn suggestion_suffix(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::{
        collections::{BTreeMap, HashSet},
        fs,
        io::Read,
        path::{Path, PathBuf},
    };

    use serde_json::{Value, json};

    use proptest::prelude::*;

    use super::{files::manifest_files, *};

    fn examples_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
    }

    /// How many documents of each [`Object`] variant.
    fn tally(documents: &[Document]) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for d in documents {
            let variant = match &d.object {
                Object::AISystem(_) => "AISystem",
                Object::RiskAssessment(_) => "RiskAssessment",
                Object::ControlBinding(_) => "ControlBinding",
                Object::ClusterControlBinding(_) => "ClusterControlBinding",
                Object::Namespace { .. } => "Namespace",
                Object::Workload(_) => "Workload",
                Object::Other { .. } => "Other",
            };
            *counts.entry(variant).or_default() += 1;
        }
        counts
    }

    fn messages(errors: &[LoadError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    fn parse(text: &str) -> (Vec<Document>, Vec<LoadError>) {
        parse_text("test.yaml", text)
    }

    /// Scalars are read as kubectl reads them (YAML 1.1, as go-yaml does), not as YAML 1.2 would.
    #[test]
    fn scalars_are_read_as_kubectl_reads_them() {
        let cases = [
            ("0755", json!(493)),
            ("0644", json!(420)),
            ("0", json!(0)),
            ("755", json!(755)),
            ("0x1F", json!(31)),
            ("yes", json!(true)),
            ("off", json!(false)),
            ("\"0755\"", json!("0755")),
        ];
        for (scalar, want) in cases {
            let text = format!("v: {scalar}\n");
            let got: Value =
                serde_saphyr::from_str_with_options(&text, parse::yaml_options()).unwrap();
            assert_eq!(got["v"], want, "{scalar}");
        }
        // A chart's ConfigMap volume, as Bitnami's and NVIDIA's charts write it.
        let (docs, errors) = parse(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: redis, namespace: data}\n\
             spec:\n  selector: {matchLabels: {app: redis}}\n  template:\n    metadata: {labels: {app: redis}}\n\
             \x20   spec:\n      containers: [{name: redis, image: 'redis:7'}]\n\
             \x20     volumes: [{name: scripts, configMap: {name: scripts, defaultMode: 0755}}]\n",
        );
        assert!(errors.is_empty(), "{:?}", messages(&errors));
        assert_eq!(docs.len(), 1);
    }

    const AISYSTEM: &str = "\
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata:
  name: chat
  namespace: support
spec:
  purpose: Answer customer questions.
  riskTier: Limited
  owner:
    name: ana
";

    const RISK_ASSESSMENT: &str = "\
apiVersion: aims.dev/v1alpha1
kind: RiskAssessment
metadata:
  name: chat-v1
spec:
  systemRef:
    name: chat
  scope:
    artifacts:
      - uri: hf://org/model
        sha256: abababababababababababababababababababababababababababababababab
  risks:
    - id: R1
      title: Wrong answers
      source: Robustness
      likelihood: 3
      severity: 2
      treatment: Mitigate
";

    const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat
  labels:
    aims.dev/system: chat
spec:
  replicas: 2
  selector:
    matchLabels: {app: chat}
  template:
    metadata:
      labels: {app: chat}
    spec:
      containers:
        - name: main
          image: r.io/chat:v1
";

    #[test]
    fn every_example_loads_without_errors_into_the_expected_objects() {
        let cases: &[(&str, &[(&str, usize)])] = &[
            ("00-namespaces.yaml", &[("Namespace", 5)]),
            ("01-cluster-bindings.yaml", &[("ClusterControlBinding", 3)]),
            ("credit-scoring/aisystem.yaml", &[("AISystem", 1)]),
            (
                "credit-scoring/controlbinding.yaml",
                &[("ControlBinding", 1)],
            ),
            ("credit-scoring/deployment.yaml", &[("Workload", 1)]),
            (
                "credit-scoring/riskassessment.yaml",
                &[("RiskAssessment", 1)],
            ),
            ("cv-screening/aisystem.yaml", &[("AISystem", 1)]),
            ("cv-screening/deployment.yaml", &[("Workload", 1)]),
            ("cv-screening/riskassessment.yaml", &[("RiskAssessment", 1)]),
            ("product-recommender/aisystem.yaml", &[("AISystem", 1)]),
            ("product-recommender/deployment.yaml", &[("Workload", 1)]),
            ("support-assistant/aisystem.yaml", &[("AISystem", 1)]),
            (
                "support-assistant/inferenceservice.yaml",
                &[("Workload", 1)],
            ),
            (
                "support-assistant/riskassessment.yaml",
                &[("RiskAssessment", 1)],
            ),
            ("unregistered/llm-playground.yaml", &[("Workload", 1)]),
            ("unregistered/llm-multinode.yaml", &[("Workload", 1)]),
            (
                "",
                &[
                    ("AISystem", 4),
                    ("ClusterControlBinding", 3),
                    ("ControlBinding", 1),
                    ("Namespace", 5),
                    ("RiskAssessment", 3),
                    ("Workload", 6),
                ],
            ),
        ];
        for (path, want) in cases {
            let (documents, errors) =
                load_paths_with_stdin(&[examples_dir().join(path)], io::empty());
            assert!(errors.is_empty(), "{path}: {:#?}", messages(&errors));
            let want: BTreeMap<&str, usize> = want.iter().copied().collect();
            assert_eq!(tally(&documents), want, "{path}");
        }
    }

    #[test]
    fn a_directory_is_read_in_sorted_order_with_sources_that_point_at_the_content() {
        let (documents, _) = load_paths_with_stdin(&[examples_dir()], io::empty());
        let files: Vec<&str> = documents.iter().map(|d| d.source.file.as_str()).collect();
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(files, sorted);
        let first = &documents[0].source;
        assert!(first.file.ends_with("00-namespaces.yaml"), "{first}");
        // The file opens with a comment; the first document's content starts on line 2, the second
        // document on the line after its `---`.
        assert_eq!((first.document, first.line), (1, 2));
        assert_eq!(
            (documents[1].source.document, documents[1].source.line),
            (2, 9)
        );
        assert!(
            documents[1]
                .source
                .to_string()
                .ends_with("00-namespaces.yaml document 2 (line 9)")
        );
        let Object::Namespace { name, labels } = &documents[0].object else {
            panic!("{:?}", documents[0].object);
        };
        assert_eq!(name, "credit");
        assert_eq!(
            labels.get("aims.dev/eu-ai-act").map(String::as_str),
            Some("in-scope")
        );
    }

    #[test]
    fn a_syntax_error_reports_its_absolute_line_and_the_other_documents_still_load() {
        let text = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
---
# the second document
apiVersion: v1
kind: ConfigMap
metadata:
  name: b: c
---
apiVersion: v1
kind: Secret
metadata: {name: c}
";
        let (documents, errors) = parse(text);
        assert_eq!(documents.len(), 2);
        assert_eq!(
            documents
                .iter()
                .map(|d| d.source.document)
                .collect::<Vec<_>>(),
            [1, 3]
        );
        let [
            LoadError::Syntax {
                origin,
                line,
                column,
                message,
            },
        ] = errors.as_slice()
        else {
            panic!("{:#?}", messages(&errors));
        };
        assert_eq!((origin.document, origin.line), (2, 7));
        assert_eq!(*line, 10);
        assert!(column.is_some());
        assert!(!message.contains("line"), "{message}");
        let shown = errors[0].to_string();
        assert!(
            shown.starts_with("test.yaml document 2 (line 7): line 10, column "),
            "{shown}"
        );
    }

    #[test]
    fn syntax_errors_in_yaml_and_json_name_the_line() {
        let cases: &[(&str, &str, usize, usize)] = &[
            // (file, text, document, line)
            // An unclosed bracket is reported where it opens.
            ("a.yaml", "a: [1, 2\n", 1, 1),
            ("a.yaml", "---\n---\nkind: x\nmetadata:\n\tname: a\n", 1, 5),
            ("a.yaml", "a: 1\na: 2\n", 1, 2),
            ("a.json", "{\"apiVersion\": \"v1\",\n \"kind\": }\n", 1, 2),
            (
                "a.json",
                "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}\n{\n\"kind\" \"x\"}",
                2,
                3,
            ),
        ];
        for (file, text, document, line) in cases {
            let (_, errors) = parse_text(file, text);
            let [
                LoadError::Syntax {
                    origin, line: got, ..
                },
            ] = errors.as_slice()
            else {
                panic!("{file} {text:?}: {:#?}", messages(&errors));
            };
            assert_eq!(
                (origin.document, *got),
                (*document, *line),
                "{file} {text:?}: {}",
                errors[0]
            );
        }
    }

    #[test]
    fn windows_line_endings_and_helm_source_comments_are_read() {
        let text = format!(
            "---\r\n# Source: chart/templates/system.yaml\r\n{}---\r\n# Source: chart/templates/cm.yaml\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: b: c\r\n",
            AISYSTEM.replace('\n', "\r\n")
        );
        let (documents, errors) = parse(&text);
        assert_eq!(documents.len(), 1);
        assert_eq!(
            (documents[0].source.document, documents[0].source.line),
            (1, 3)
        );
        let [LoadError::Syntax { origin, line, .. }] = errors.as_slice() else {
            panic!("{:#?}", messages(&errors));
        };
        assert_eq!((origin.document, origin.line, *line), (2, 15, 18));
    }

    #[test]
    fn kinds_that_cannot_exist_are_reported_with_a_hint() {
        let cases = [
            (
                "apps/v1",
                "Deploymnet",
                "kind: apps/v1 has no kind \"Deploymnet\" (did you mean Deployment?)",
            ),
            (
                "aims.dev/v1alpha1",
                "AISystm",
                "kind: aims.dev/v1alpha1 has no kind \"AISystm\" (did you mean AISystem?)",
            ),
            (
                "aims.dev/v1alpha1",
                "Policy",
                "kind: aims.dev/v1alpha1 has no kind \"Policy\"; its kinds are AISystem, RiskAssessment, ControlBinding, ClusterControlBinding",
            ),
            (
                "aims.dev/v1",
                "AISystem",
                "apiVersion: AISystem is aims.dev/v1alpha1, not aims.dev/v1",
            ),
            (
                "aims.dev",
                "RiskAssessment",
                "apiVersion: RiskAssessment is aims.dev/v1alpha1, not aims.dev",
            ),
            (
                "v1",
                "Deployment",
                "kind: v1 has no kind \"Deployment\"; Deployment is apps/v1",
            ),
            (
                "batch/v1",
                "cronjob",
                "kind: batch/v1 has no kind \"cronjob\" (did you mean CronJob?)",
            ),
            (
                "networking.k8s.io/v1",
                "Ingres",
                "kind: networking.k8s.io/v1 has no kind \"Ingres\" (did you mean Ingress?)",
            ),
            (
                "serving.kserve.io/v1beta1",
                "InferenceServce",
                "kind: serving.kserve.io/v1beta1 has no kind \"InferenceServce\" (did you mean InferenceService?)",
            ),
        ];
        for (api_version, kind, want) in cases {
            let text = format!("apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n");
            let (documents, errors) = parse(&text);
            assert!(documents.is_empty(), "{api_version} {kind}");
            let [LoadError::UnknownKind { .. }] = errors.as_slice() else {
                panic!("{api_version} {kind}: {:#?}", messages(&errors));
            };
            assert_eq!(
                errors[0].to_string(),
                format!("test.yaml document 1 (line 1): {want}")
            );
        }
    }

    #[test]
    fn ordinary_objects_and_other_projects_kinds_are_other() {
        let cases = [
            ("v1", "Service"),
            ("v1", "ConfigMap"),
            ("apps/v1", "ControllerRevision"),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            ("policy/v1", "PodDisruptionBudget"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("autoscaling/v1", "HorizontalPodAutoscaler"),
            ("cert-manager.io/v1", "Certificate"),
            ("serving.kserve.io/v1alpha1", "ServingRuntime"),
            ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
            ("example.com/v1", "AllowList"),
        ];
        for (api_version, kind) in cases {
            let text = format!("apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n");
            let (documents, errors) = parse(&text);
            assert!(errors.is_empty(), "{kind}: {:#?}", messages(&errors));
            let [
                Document {
                    object:
                        Object::Other {
                            api_version: a,
                            kind: k,
                        },
                    ..
                },
            ] = documents.as_slice()
            else {
                panic!("{kind}: {documents:#?}");
            };
            assert_eq!((a.as_str(), k.as_str()), (api_version, kind));
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_with_its_line() {
        let cases = [
            (
                RISK_ASSESSMENT.replace("likelihood: 3", "likelihood: high"),
                "spec.risks[0].likelihood",
                Some(16),
                "invalid type: string \"high\", expected u8",
            ),
            (
                AISYSTEM.replace("riskTier: Limited", "riskTier: Hgh"),
                "spec.riskTier",
                Some(8),
                "unknown variant `Hgh`",
            ),
            (
                AISYSTEM.replace("    name: ana\n", ""),
                "spec.owner",
                Some(9),
                "invalid type: null",
            ),
            (
                AISYSTEM.replace("  riskTier: Limited\n", ""),
                "spec",
                Some(6),
                "missing field `riskTier`",
            ),
            (
                DEPLOYMENT.replace("replicas: 2", "replicas: three"),
                "spec.replicas",
                Some(8),
                "invalid type: string \"three\"",
            ),
            (
                DEPLOYMENT.replace("aims.dev/system: chat", "aims.dev/system: [chat]"),
                "metadata.labels.aims.dev/system",
                Some(6),
                "invalid type: sequence, expected a string",
            ),
            (
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels: [a]\n".to_owned(),
                "metadata.labels",
                Some(5),
                "invalid type: sequence, expected a map",
            ),
            (
                "apiVersion: aims.dev/v1alpha1\nkind: ControlBinding\nmetadata: {name: x}\nspec:\n  controls:\n    - id: A.6.2.5\n      params: {minApprovals: two}\n".to_owned(),
                "spec.controls[0].params.minApprovals",
                Some(7),
                "invalid type: string \"two\", expected u8",
            ),
            (
                "apiVersion: 3\nkind: ConfigMap\n".to_owned(),
                "apiVersion",
                Some(1),
                "invalid type: integer `3`, expected a string",
            ),
            (
                AISYSTEM.replace("  name: chat\n", ""),
                "metadata.name",
                None,
                "missing; every AISystem needs a name",
            ),
            (
                "- a\n- b\n".to_owned(),
                "",
                None,
                "expected a Kubernetes object (a map with apiVersion and kind), found a sequence",
            ),
        ];
        for (text, path, line, message) in cases {
            let (documents, errors) = parse(&text);
            assert!(documents.is_empty(), "{path}");
            let [
                LoadError::Field {
                    path: got,
                    line: got_line,
                    message: got_message,
                    ..
                },
            ] = errors.as_slice()
            else {
                panic!("{path}: {:#?}", messages(&errors));
            };
            assert_eq!((got.as_str(), *got_line), (path, line), "{}", errors[0]);
            assert!(got_message.contains(message), "{}", errors[0]);
        }
    }

    #[test]
    fn a_field_error_displays_file_document_line_path_and_message() {
        let text = format!(
            "{DEPLOYMENT}---\n{}",
            RISK_ASSESSMENT.replace("likelihood: 3", "likelihood: high")
        );
        let (documents, errors) = parse_text("examples/x.yaml", &text);
        assert_eq!(documents.len(), 1);
        assert_eq!(
            messages(&errors),
            [
                "examples/x.yaml document 2 (line 19): spec.risks[0].likelihood (line 34): invalid type: string \"high\", expected u8"
            ]
        );
    }

    #[test]
    fn unknown_fields_of_aims_kinds_are_named_with_a_suggestion() {
        /// (manifest, unknown fields with their suggestions, how many other errors).
        type Case = (
            String,
            &'static [(&'static str, Option<&'static str>)],
            usize,
        );
        let cases: &[Case] = &[
            // A misspelled required field: the typo is named first, then what it left missing.
            (
                AISYSTEM.replace("riskTier", "riskTeir"),
                &[("spec.riskTeir", Some("riskTier"))],
                1,
            ),
            // A misspelled optional field: only the typo.
            (
                format!("{AISYSTEM}  oversight:\n    halt: true\n    haltReasn: drift\n"),
                &[("spec.oversight.haltReasn", Some("haltReason"))],
                0,
            ),
            (
                AISYSTEM.replace("  namespace: support\n", "  lables: {a: b}\n"),
                &[("metadata.lables", Some("labels"))],
                0,
            ),
            (
                RISK_ASSESSMENT.replace(
                    "      treatment: Mitigate\n",
                    "      treatment: Mitigate\n      residualLikelyhood: 1\n",
                ),
                &[(
                    "spec.risks[0].residualLikelyhood",
                    Some("residualLikelihood"),
                )],
                0,
            ),
            (
                format!("{AISYSTEM}  colour: blue\nextra: 1\n"),
                &[("spec.colour", None), ("extra", None)],
                0,
            ),
        ];
        for (text, want, field_errors) in cases {
            let (documents, errors) = parse(text);
            assert!(documents.is_empty(), "{want:?}");
            let unknown: Vec<(&str, Option<&str>)> = errors
                .iter()
                .filter_map(|e| match e {
                    LoadError::UnknownField {
                        path, suggestion, ..
                    } => Some((path.as_str(), suggestion.as_deref())),
                    _ => None,
                })
                .collect();
            assert_eq!(&unknown, want, "{:#?}", messages(&errors));
            assert_eq!(
                errors.len(),
                want.len() + field_errors,
                "{:#?}",
                messages(&errors)
            );
            assert!(matches!(errors[0], LoadError::UnknownField { .. }));
        }
        let (_, errors) = parse(&AISYSTEM.replace("riskTier", "riskTeir"));
        assert_eq!(
            messages(&errors),
            [
                "test.yaml document 1 (line 1): spec.riskTeir (line 8): unknown field (did you mean riskTier?)",
                "test.yaml document 1 (line 1): spec (line 6): missing field `riskTier`",
            ]
        );
    }

    #[test]
    fn empty_values_and_unknown_fields_of_workloads_are_accepted() {
        // Empty values are what the types leave out on the way back; they are not lost fields.
        let text = format!(
            "{AISYSTEM}  outOfScopeUses: []\n  team: null\n  models: []\n---\n{}",
            DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  notAField: 1\n")
        );
        let (documents, errors) = parse(&text);
        assert!(errors.is_empty(), "{:#?}", messages(&errors));
        assert_eq!(documents.len(), 2);
    }

    #[test]
    fn replica_sets_and_replication_controllers_are_workloads() {
        for (api_version, kind) in [("apps/v1", "ReplicaSet"), ("v1", "ReplicationController")] {
            let text = format!(
                "apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x, namespace: ns}}\nspec:\n  template:\n    spec:\n      containers: [{{name: c, image: vllm/vllm-openai:v0.9.1}}]\n"
            );
            let (documents, errors) = parse(&text);
            assert!(errors.is_empty(), "{kind}: {:#?}", messages(&errors));
            let [
                Document {
                    object: Object::Workload(facts),
                    ..
                },
            ] = documents.as_slice()
            else {
                panic!("{kind}: {documents:#?}");
            };
            assert_eq!(facts.kind.as_str(), kind);
            assert_eq!(facts.containers.len(), 1);
        }
    }

    #[test]
    fn a_missing_api_version_or_kind_is_reported() {
        let cases = [
            (
                "kind: ConfigMap\nmetadata: {name: a}\n",
                "missing apiVersion",
            ),
            ("apiVersion: v1\nmetadata: {name: a}\n", "missing kind"),
            (
                "apiVersion: ''\nkind: null\n",
                "missing apiVersion and kind",
            ),
            ("metadata: {name: a}\n", "missing apiVersion and kind"),
            ("{}\n", "missing apiVersion and kind"),
        ];
        for (text, want) in cases {
            let (documents, errors) = parse(text);
            assert!(documents.is_empty());
            let [LoadError::MissingTypeInfo { .. }] = errors.as_slice() else {
                panic!("{text:?}: {:#?}", messages(&errors));
            };
            assert_eq!(
                errors[0].to_string(),
                format!(
                    "test.yaml document 1 (line 1): {want}; every Kubernetes object needs apiVersion and kind"
                )
            );
        }
    }

    #[test]
    fn lists_are_expanded_and_their_items_problems_are_named_by_index() {
        let text = format!(
            "apiVersion: v1\nkind: List\nitems:\n{}{}  - apiVersion: v1\n    kind: Service\n    metadata: {{name: s}}\n  - {{kind: Service}}\n  - apiVersion: apps/v1\n    kind: Deploymnet\n    metadata: {{name: d}}\n",
            indent_item(AISYSTEM),
            indent_item(&AISYSTEM.replace("riskTier", "riskTeir")),
        );
        let (documents, errors) = parse(&text);
        assert_eq!(
            tally(&documents),
            BTreeMap::from([("AISystem", 1), ("Other", 1)])
        );
        assert!(
            documents
                .iter()
                .all(|d| d.source.document == 1 && d.source.line == 1)
        );
        let shown = messages(&errors);
        assert_eq!(shown.len(), 4, "{shown:#?}");
        assert!(
            shown[0].ends_with(
                "items[1].spec.riskTeir (line 21): unknown field (did you mean riskTier?)"
            ),
            "{shown:#?}"
        );
        assert!(
            shown[1].ends_with("items[1].spec (line 19): missing field `riskTier`"),
            "{shown:#?}"
        );
        assert!(
            shown[2].ends_with(
                ": items[3]: missing apiVersion; every Kubernetes object needs apiVersion and kind"
            ),
            "{shown:#?}"
        );
        assert!(
            shown[3].ends_with(
                ": items[4].kind: apps/v1 has no kind \"Deploymnet\" (did you mean Deployment?)"
            ),
            "{shown:#?}"
        );
    }

    fn indent_item(yaml: &str) -> String {
        yaml.lines()
            .enumerate()
            .map(|(i, line)| format!("{}{line}\n", if i == 0 { "  - " } else { "    " }))
            .collect()
    }

    #[test]
    fn typed_lists_lend_their_type_to_items_that_omit_it() {
        let text = "\
apiVersion: apps/v1
kind: DeploymentList
items:
  - metadata: {name: a}
    spec:
      selector: {}
      template: {spec: {containers: [{name: c, image: i}]}}
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: b}
    spec:
      selector: {}
      serviceName: b
      template: {spec: {containers: [{name: c, image: i}]}}
";
        let (documents, errors) = parse(text);
        assert!(errors.is_empty(), "{:#?}", messages(&errors));
        let names: Vec<String> = documents
            .iter()
            .map(|d| match &d.object {
                Object::Workload(w) => w.display_name(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["Deployment/a", "StatefulSet/b"]);
        // An empty List, and items that are not a sequence.
        let (documents, errors) =
            parse("apiVersion: v1\nkind: List\n---\napiVersion: v1\nkind: List\nitems: {}\n");
        assert!(documents.is_empty());
        assert_eq!(
            messages(&errors),
            [
                "test.yaml document 2 (line 4): items (line 6): invalid type: a map, expected a sequence"
            ]
        );
    }

    #[test]
    fn json_is_read_as_one_object_or_a_stream() {
        let object =
            serde_json::to_string_pretty(&serde_saphyr::from_str::<Value>(AISYSTEM).unwrap())
                .unwrap();
        let cases = [
            ("system.json", object.clone(), 1),
            ("-", object.clone(), 1),
            ("stream.json", format!("{object}\n{object}"), 2),
            (
                "flow.yaml",
                "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}".to_owned(),
                1,
            ),
        ];
        for (file, text, count) in cases {
            let (documents, errors) = parse_text(file, &text);
            assert!(errors.is_empty(), "{file}: {:#?}", messages(&errors));
            assert_eq!(documents.len(), count, "{file}");
        }
        let (_, errors) = parse_text("stream.json", &format!("{object}\n{object}"));
        assert!(errors.is_empty());
        let broken = object.replace("\"riskTier\"", "\"riskTeir\"");
        let line_of = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let (_, errors) = parse_text("system.json", &broken);
        assert_eq!(
            messages(&errors),
            [
                format!(
                    "system.json document 1 (line 1): spec.riskTeir (line {}): unknown field (did you mean riskTier?)",
                    line_of("riskTeir")
                ),
                format!(
                    "system.json document 1 (line 1): spec (line {}): missing field `riskTier`",
                    line_of("\"spec\"")
                ),
            ]
        );
    }

    #[test]
    fn empty_and_comment_only_documents_give_nothing() {
        let cases = [
            "",
            "\n\n",
            "   \n\t\n",
            "# only a comment\n",
            "---\n",
            "---\n---\n---\n",
            "--- # a comment on the marker\n# and below it\n...\n",
            "\u{feff}# with a byte-order mark\n",
            "~\n",
            "%YAML 1.2\n---\n",
            "# a\n---\n\n---\n# b\n",
        ];
        for text in cases {
            for file in ["empty.yaml", "-"] {
                let (documents, errors) = parse_text(file, text);
                assert!(documents.is_empty(), "{file} {text:?}");
                assert!(
                    errors.is_empty(),
                    "{file} {text:?}: {:#?}",
                    messages(&errors)
                );
            }
        }
        for text in ["", "\n", " \t\r\n", "\u{feff}\n", "null"] {
            let (documents, errors) = parse_text("empty.json", text);
            assert!(documents.is_empty() && errors.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn errors_in_one_document_do_not_hide_the_documents_around_it() {
        let text = format!(
            "# leading comment\n{AISYSTEM}---\napiVersion: apps/v1\nkind: Deploymnet\n---\n---\nkey: [unclosed\n---\n{}...\n%YAML 1.2\n---\n{DEPLOYMENT}---\nkind: Service\n",
            RISK_ASSESSMENT.replace("likelihood: 3", "likelihood: high")
        );
        let (documents, errors) = parse(&text);
        let found: Vec<(usize, &str)> = documents
            .iter()
            .map(|d| (d.source.document, d.object.kind()))
            .collect();
        assert_eq!(found, [(1, "AISystem"), (5, "Deployment")]);
        let origins: Vec<usize> = errors
            .iter()
            .filter_map(|e| e.origin())
            .map(|s| s.document)
            .collect();
        assert_eq!(origins, [2, 3, 4, 6], "{:#?}", messages(&errors));
        assert!(matches!(errors[1], LoadError::Syntax { .. }));
    }

    #[test]
    fn paths_files_directories_and_stdin_are_read_in_order() {
        let dir = std::env::temp_dir().join(format!("aims-manifests-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let write = |path: &str, text: &str| {
            let path = dir.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write("b/deployment.yml", DEPLOYMENT);
        write("a.yaml", AISYSTEM);
        write(
            "c.json",
            "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}}",
        );
        write("notes.txt", "not: [yaml");
        write(".github/workflows/ci.yml", "on: push\n");
        write(
            "explicit.txt",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
        );
        let paths = [
            dir.clone(),
            PathBuf::from("-"),
            dir.join("explicit.txt"),
            dir.join("missing.yaml"),
        ];
        let (documents, errors) = load_paths_with_stdin(&paths, RISK_ASSESSMENT.as_bytes());
        let found: Vec<(String, &str)> = documents
            .iter()
            .map(|d| {
                let file = Path::new(&d.source.file)
                    .strip_prefix(&dir)
                    .map_or(d.source.file.clone(), |p| p.display().to_string());
                (file, d.object.kind())
            })
            .collect();
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(
            found,
            [
                ("a.yaml".to_owned(), "AISystem"),
                ("b/deployment.yml".to_owned(), "Deployment"),
                ("c.json".to_owned(), "ConfigMap"),
                (STDIN_NAME.to_owned(), "RiskAssessment"),
                ("explicit.txt".to_owned(), "Secret"),
            ]
        );
        let [LoadError::Io { path, .. }] = errors.as_slice() else {
            panic!("{:#?}", messages(&errors));
        };
        assert!(path.ends_with("missing.yaml"));
        assert!(errors[0].to_string().starts_with("cannot read "));
    }

    #[test]
    fn a_stdin_read_error_is_reported() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("pipe closed"))
            }
        }
        let (_, errors) = load_paths_with_stdin(&[PathBuf::from("-")], Broken);
        assert_eq!(messages(&errors), ["cannot read <stdin>: pipe closed"]);
    }

    #[test]
    fn pathological_inputs_are_errors_not_crashes() {
        let laughs = (1..10).fold(
            "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n".to_owned(),
            |t, i| {
                let prev = format!("*a{}", i - 1);
                format!("{t}a{i}: &a{i} [{}]\n", [prev.as_str(); 10].join(", "))
            },
        );
        let cases = [
            ("deep.yaml", "[".repeat(100_000)),
            ("deep.json", "[".repeat(100_000)),
            ("deep.yaml", "{\"a\":".repeat(10_000)),
            (
                "deep.yaml",
                (0..500).map(|i| format!("{}k:\n", " ".repeat(i))).collect(),
            ),
            ("laughs.yaml", laughs),
            ("markers.yaml", "---\n".repeat(10_000)),
            ("nul.yaml", "apiVersion: v1\0\nkind: \u{7}\n".to_owned()),
        ];
        for (file, text) in cases {
            let (documents, errors) = parse_text(file, &text);
            assert!(documents.is_empty(), "{file}");
            if !file.starts_with("markers") {
                assert!(!errors.is_empty(), "{file}");
            }
        }
    }

    fn example_texts() -> Vec<String> {
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        manifest_files(&examples_dir(), &mut seen, &mut files, &mut Vec::new());
        files
            .iter()
            .map(|f| fs::read_to_string(f).unwrap())
            .collect()
    }

    /// One change to a text: (what, where as a fraction of the length, bytes to insert).
    fn mutation() -> impl Strategy<Value = (u8, f64, Vec<u8>)> {
        (
            0u8..6,
            0.0..1.0f64,
            prop::collection::vec(
                prop_oneof![
                    Just(b'\n'),
                    Just(b' '),
                    Just(b':'),
                    Just(b'-'),
                    Just(b'['),
                    Just(b'{'),
                    Just(b'"'),
                    Just(b'\''),
                    Just(b'#'),
                    Just(b'&'),
                    Just(b'*'),
                    Just(b'|'),
                    Just(b'\t'),
                    any::<u8>(),
                ],
                0..8,
            ),
        )
    }

    fn mutate(text: &str, mutations: &[(u8, f64, Vec<u8>)]) -> String {
        let mut bytes = text.as_bytes().to_vec();
        for (what, at, insert) in mutations {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let at = ((bytes.len() as f64) * at) as usize;
            let at = at.min(bytes.len());
            match what {
                // Delete a few bytes.
                0 => {
                    let end = (at + insert.len().max(1)).min(bytes.len());
                    bytes.drain(at..end);
                }
                // Insert bytes.
                1 => {
                    bytes.splice(at..at, insert.iter().copied());
                }
                // Delete the line at `at`.
                2 => {
                    let start = bytes[..at]
                        .iter()
                        .rposition(|b| *b == b'\n')
                        .map_or(0, |i| i + 1);
                    let end = bytes[at..]
                        .iter()
                        .position(|b| *b == b'\n')
                        .map_or(bytes.len(), |i| at + i + 1);
                    bytes.drain(start..end);
                }
                // Duplicate the line at `at`.
                3 => {
                    let start = bytes[..at]
                        .iter()
                        .rposition(|b| *b == b'\n')
                        .map_or(0, |i| i + 1);
                    let end = bytes[at..]
                        .iter()
                        .position(|b| *b == b'\n')
                        .map_or(bytes.len(), |i| at + i + 1);
                    let line = bytes[start..end].to_vec();
                    bytes.splice(start..start, line);
                }
                // Insert a document marker.
                4 => {
                    bytes.splice(at..at, b"\n---\n".iter().copied());
                }
                // Truncate.
                _ => bytes.truncate(at),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_text_never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = parse_text("x.yaml", &text);
            let _ = parse_text("x.json", &text);
        }

        #[test]
        fn parse_text_never_panics_on_yaml_like_text(
            text in "[a-zA-Z0-9:{}\\[\\],#'\" \n\t.&*!|>%@`~-]{0,300}"
        ) {
            let (documents, errors) = parse_text("x.yaml", &text);
            for e in &errors {
                let _ = e.to_string();
            }
            prop_assert!(documents.len() + errors.len() <= text.len() + 1);
        }

        #[test]
        fn parse_text_never_panics_on_mutated_examples(
            index in any::<prop::sample::Index>(),
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let texts = example_texts();
            let text = mutate(&texts[index.index(texts.len())], &mutations);
            let (_, errors) = parse_text("mutated.yaml", &text);
            for e in &errors {
                let shown = e.to_string();
                prop_assert!(shown.starts_with("mutated.yaml document "), "{}", shown);
                if let Some(origin) = e.origin() {
                    prop_assert!(origin.line >= 1 && origin.line <= text.lines().count().max(1));
                }
            }
            let _ = parse_text("mutated.json", &text);
        }
    }
}
