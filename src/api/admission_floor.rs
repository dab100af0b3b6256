//! `AdmissionFloor`: the governance state of one namespace compiled for the API server's own
//! admission (a ValidatingAdmissionPolicy reads it as its parameters), so that workload admission
//! keeps being decided, from the last state, while the operator or its webhook is down. Written by
//! the operator only; one per namespace, named [`FLOOR_NAME`].

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The name of each namespace's AdmissionFloor.
pub const FLOOR_NAME: &str = "aims-admission-floor";

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
    /// is denied.
    #[serde(default)]
    pub systems: BTreeMap<String, FloorSystem>,
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
}
