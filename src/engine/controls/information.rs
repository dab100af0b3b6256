//! A.8, information for interested parties: what users are told, and whom to tell of an incident.

use super::{CheckInputs, Problem, Problems};
use crate::api::RiskTier;

/// A.8.2: instructions for use (High), a transparency notice (Limited), one of them otherwise.
pub fn user_information(ctx: &CheckInputs) -> Vec<Problem> {
    let spec = &ctx.system.spec;
    let docs = spec.documentation.as_ref();
    let mut out = Problems::default();
    match spec.risk_tier {
        RiskTier::High => out.need(
            docs.is_some_and(|d| d.instructions_for_use.is_some()),
            "spec.documentation.instructionsForUse is missing: a High-risk system needs instructions for use (EU AI Act Art. 13)",
        ),
        RiskTier::Limited => out.need(
            docs.is_some_and(|d| d.transparency_notice.is_some()),
            "spec.documentation.transparencyNotice is missing: people must be told they deal with an AI system (EU AI Act Art. 50)",
        ),
        _ => out.need(
            docs.is_some_and(|d| d.instructions_for_use.is_some() || d.transparency_notice.is_some()),
            "spec.documentation needs instructionsForUse or transparencyNotice",
        ),
    }
    out.0
}

/// A.8.4: someone is named to be told of an incident.
pub fn incident_contact(ctx: &CheckInputs) -> Vec<Problem> {
    let mut out = Problems::default();
    out.need(
        ctx.system.spec.incident_contact.is_some(),
        "spec.incidentContact is missing: name who to tell about an incident",
    );
    out.0
}
