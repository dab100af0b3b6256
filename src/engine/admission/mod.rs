//! Admission decisions: what the webhook answers for a workload or an aims record, as pure
//! functions of the request, the stored records and `now`.
//!
//! * [`workload`]: a governed workload's verdict (Enforce denies, Warn warns, Audit records), the
//!   halt rule and the policy for unregistered model workloads.
//! * [`assessment`]: RiskAssessment approvals: append-only, approver groups, no self-approval,
//!   and the stamps the operator writes.
//! * [`system`]: AISystem changes only overseers may make.
//! * [`binding`]: bindings name only controls the catalog knows.

pub mod assessment;
pub mod binding;
pub mod system;
pub mod workload;

/// Who sends a request, as the API server authenticated them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Requester<'a> {
    /// The user name.
    pub user: &'a str,
    /// The user's groups, in the order the API server gives them.
    pub groups: &'a [String],
}
