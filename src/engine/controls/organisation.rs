//! A.3, internal organisation.

use super::{CheckInputs, Problem, Problems};

/// A.3.2: the owner is reachable and a team answers for the system.
pub fn accountability(ctx: &CheckInputs) -> Vec<Problem> {
    let spec = &ctx.system.spec;
    let mut out = Problems::default();
    out.need(
        spec.owner.contact.is_some(),
        "spec.owner.contact is missing: say how to reach the accountable owner",
    );
    out.need(
        spec.team.is_some(),
        "spec.team is missing: name the team that builds and runs the system",
    );
    out.0
}
