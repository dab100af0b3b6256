//! The custom resources of the `aims.dev/v1alpha1` API.
//!
//! Types only: no I/O and no decisions. Doc comments on fields become the CRD's field descriptions
//! (`kubectl explain`), and the `#[x_kube(validation = ...)]` rules become CEL validation rules the
//! API server enforces at `kubectl apply` time.
//!
//! Enums carry `#[schemars(description = "")]`: the field that uses an enum documents it, and an
//! enum's own description would replace the field's on optional fields.

mod admission_floor;
mod aisystem;
mod common;
mod control_binding;
mod risk_assessment;

pub use admission_floor::*;
pub use aisystem::*;
pub use common::*;
pub use control_binding::*;
pub use risk_assessment::*;

/// The API group of every aims kind.
pub const GROUP: &str = "aims.dev";
/// The API version of every aims kind.
pub const VERSION: &str = "v1alpha1";
/// The label that ties a workload to the AISystem it belongs to.
pub const SYSTEM_LABEL: &str = "aims.dev/system";
