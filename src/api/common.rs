//! Types shared by several kinds.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The EU AI Act risk tier of an AI system.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[schemars(description = "")]
pub enum RiskTier {
    /// A practice banned by EU AI Act Art. 5. Its workloads are never admitted.
    Prohibited,
    /// A high-risk system (EU AI Act Art. 6, Annex I or Annex III): the full Chapter III duties apply.
    High,
    /// A system with transparency duties only (EU AI Act Art. 50).
    Limited,
    /// A system with no specific duties beyond AI literacy (EU AI Act Art. 4).
    Minimal,
}

impl RiskTier {
    /// The name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prohibited => "Prohibited",
            Self::High => "High",
            Self::Limited => "Limited",
            Self::Minimal => "Minimal",
        }
    }
}

/// A person, named and reachable.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Person {
    /// The person's name or user name, as the cluster knows them when they act (for overseers and
    /// approvers: the Kubernetes user name).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// How to reach them: an e-mail address, a chat handle or a paging alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub contact: Option<String>,
}

/// A model artifact: a container image pinned by digest, or a model URI with the SHA-256 of its
/// content. Exactly one of `image` and `uri` is set.
#[derive(
    Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.image) != has(self.uri)").message("set exactly one of image and uri"))]
#[x_kube(validation = Rule::new("!has(self.uri) || has(self.sha256)").field_path(".sha256").message("a model uri needs the sha256 of its content"))]
#[x_kube(validation = Rule::new("!has(self.image) || !has(self.sha256)").field_path(".sha256").message("an image carries its digest in the reference; sha256 is for uri only"))]
pub struct Artifact {
    /// A container image reference pinned by digest: `<repository>@sha256:<64 hex digits>`, for
    /// example `registry.example.com/credit/scorer@sha256:3b1f...`. A tag alone is not enough: an
    /// approval covers exactly the bytes that were assessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    #[x_kube(validation = Rule::new(r"self.matches('^[^@\\s]+@sha256:[a-f0-9]{64}$')").message("must be an image reference pinned by digest: <repository>@sha256:<64 lowercase hex digits>"))]
    pub image: Option<String>,
    /// A model URI, for example `hf://mistralai/Mistral-7B-Instruct-v0.3`, `s3://models/credit/v3`
    /// or `gs://...`. Needs `sha256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = Rule::new(r"self.matches('^[a-z][a-z0-9+.-]*://\\S+$')").message("must be a URI with a scheme, such as hf://org/model or s3://bucket/path"))]
    pub uri: Option<String>,
    /// The SHA-256 of the content at `uri`: 64 lowercase hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[a-f0-9]{64}$')").message("must be 64 lowercase hex digits"))]
    pub sha256: Option<String>,
}

/// A document: where it is, and optionally the SHA-256 of the version that was reviewed.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DocumentRef {
    /// Where the document is (https, a git URL, an object store URI).
    #[schemars(length(min = 1, max = 1024))]
    pub uri: String,
    /// The SHA-256 of the reviewed version: 64 lowercase hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[a-f0-9]{64}$')").message("must be 64 lowercase hex digits"))]
    pub sha256: Option<String>,
}

/// How a failing control is enforced.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[schemars(description = "")]
pub enum Enforcement {
    /// Deny admission of the system's workloads while the control fails.
    Enforce,
    /// Admit, with an admission warning that `kubectl` prints.
    Warn,
    /// Admit silently; record the finding in status and the decision log.
    Audit,
}

/// How serious a finding is.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[schemars(description = "")]
pub enum Severity {
    /// Blocks operation (for example a prohibited practice or a halted system).
    Critical,
    /// A control required for the system's risk tier fails.
    High,
    /// A control fails that weakens the management system.
    Medium,
    /// A gap in records that does not block operation.
    Low,
    /// For information only.
    Info,
}
