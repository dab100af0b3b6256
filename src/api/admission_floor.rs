//! `AdmissionFloor`: the governance state of one namespace compiled for the API server's own
//! admission (a ValidatingAdmissionPolicy reads it as its parameters), so that workload admission
//! keeps being decided, from the last state, while the operator or its webhook is down. Written by
//! the operator only; one per namespace, named [`FLOOR_NAME`].

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The name of each namespace's AdmissionFloor.
pub const FLOOR_NAME: &str = "aims-admission-floor";

/// The name of the AdmissionFloor in the operator's namespace that holds the cluster's
/// [`FloorUnregistered`]: what every namespace's model workloads of no system are judged by.
pub const UNREGISTERED_FLOOR_NAME: &str = "aims-unregistered-floor";

/// What the API server admits of the namespace's governed workloads when it decides alone: per
/// AISystem, whether it admits anything, whether it is halted, and the images its approval covers.
/// The operator writes it from each system's evaluation; nobody else may.
#[allow(clippy::duplicated_attributes)] // printcolumn(...) repeats keys by design
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aims.dev",
    version = "v1alpha1",
    kind = "AdmissionFloor",
    plural = "admissionfloors",
    singular = "admissionfloor",
    namespaced,
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionFloorSpec {
    /// Each AISystem of the namespace, by name. A workload labelled for a system not listed here
    /// is judged as one of no system.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub systems: BTreeMap<String, FloorSystem>,
    /// The workloads a scale request may not grow (a Scale object carries no labels, so they are
    /// listed by name), as `resource/name` (`deployments/scorer`) to the system they belong to:
    /// those of systems that are halted or admit nothing.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held: BTreeMap<String, String>,
    /// In the operator's namespace only ([`UNREGISTERED_FLOOR_NAME`]): how model workloads of no
    /// system are judged, in every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unregistered: Option<FloorUnregistered>,
}

/// One AISystem as the API server's admission sees it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FloorSystem {
    /// Whether its workloads may be admitted at all: it passes its enforced system-wide controls
    /// and, where approval is enforced, has an approval in force.
    pub admit: bool,
    /// Whether an overseer halted it: nothing of it is created or runs with replicas above zero.
    pub halted: bool,
    /// Whether any image may run (approval of the scope is not enforced for it).
    #[serde(default)]
    pub any_image: bool,
    /// The images its approval in force covers, as `image: true` (a map: a constant-cost lookup
    /// for the API server).
    #[serde(default)]
    pub images: BTreeMap<String, bool>,
    /// Whether a break-glass admission may lift its failures (not for a prohibited practice;
    /// never a halt).
    #[serde(default)]
    pub break_glass: bool,
    /// The model URIs its approval in force covers, as `uri: true`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_uris: BTreeMap<String, bool>,
}

/// Model workloads of no system, as the API server's admission judges them: the policy, which
/// workloads belong to a system after all, and the detection rules as regular expressions (RE2,
/// the dialect of CEL's `matches`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FloorUnregistered {
    /// The policy of a namespace whose `aims.dev/unregistered` label sets none: `deny`, `warn` or
    /// `audit` (only `deny` refuses anything).
    pub policy: String,
    /// Per namespace, the systems a workload may belong to.
    #[serde(default)]
    pub namespaces: BTreeMap<String, FloorNamespace>,
    /// What makes a workload a model workload.
    pub detection: FloorDetection,
}

/// The systems of one namespace, as membership reads them.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FloorNamespace {
    /// Each system by name, as `name: true`.
    #[serde(default)]
    pub systems: BTreeMap<String, bool>,
    /// The workload selectors of its systems (a workload without the `aims.dev/system` label
    /// that one of them matches belongs to that system).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<LabelSelector>,
}

/// The detection rules, compiled for CEL: each pattern is anchored as the operator anchors it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FloorDetection {
    /// Whether a kind that serves models by what it is (`servesModels`) is a model workload.
    #[serde(default)]
    pub serving_kinds: bool,
    /// Serving runtimes.
    #[serde(default)]
    pub runtimes: Vec<FloorRuntime>,
    /// Accelerator resources by exact name, as `name: true`.
    #[serde(default)]
    pub accelerators: BTreeMap<String, bool>,
    /// Accelerator resources by prefix.
    #[serde(default)]
    pub accelerator_prefixes: Vec<String>,
    /// Whether a dynamic resource claim of a container is a signal.
    #[serde(default)]
    pub resource_claims: bool,
    /// Whether a declared model URI (`STORAGE_URI`) is a signal.
    #[serde(default)]
    pub declared_model_uris: bool,
    /// A URI of a model scheme in a command, an argument or an environment value; empty: none.
    #[serde(default)]
    pub uris: String,
    /// The image digests that AISystems declare in `spec.models`, to the system (`ns/name`).
    #[serde(default)]
    pub declared_digests: BTreeMap<String, String>,
}

/// One serving runtime's patterns; an empty one matches nothing.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FloorRuntime {
    /// Its name, for the message.
    pub name: String,
    /// Over an image's repository (without tag and digest).
    #[serde(default)]
    pub images: String,
    /// Over a container's command line (command and arguments joined by spaces).
    #[serde(default)]
    pub commands: String,
    /// Over an image's tag: a client image, not a server.
    #[serde(default)]
    pub client_tags: String,
}
