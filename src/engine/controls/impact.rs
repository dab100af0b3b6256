//! A.5, assessing impacts of AI systems: the risk assessment and the impact assessment it carries,
//! and the `RiskAssessed` and `ImpactAssessed` conditions they feed.

use super::{Assessed, CheckInputs, Problem, Problems};
use crate::{
    api::{AssessmentState, RiskTier},
    engine::conditions::ConditionResult,
};

/// A.5.2: a risk assessment exists, is past Draft, and every residual risk is within appetite.
pub fn risk_assessment(ctx: &CheckInputs) -> Vec<Problem> {
    let Some(a) = ctx.primary() else {
        return vec![Problem::pending(format!(
            "no RiskAssessment with spec.systemRef.name: {}: assess the system's risks",
            ctx.system_name()
        ))];
    };
    if a.verdict.state == AssessmentState::Draft {
        return vec![Problem::pending(format!(
            "RiskAssessment {} is a Draft: {}",
            a.name(),
            draft_gaps(a)
        ))];
    }
    match &a.verdict.risk {
        Some(risk) if !risk.within_appetite => vec![Problem::system(format!(
            "RiskAssessment {}: residual risk of {} exceeds the acceptance threshold {}: treat them further",
            a.name(),
            risk.above_appetite.join(", "),
            a.ra.spec.criteria.acceptance_threshold
        ))],
        _ => Vec::new(),
    }
}

/// A.5.3: the impact assessment is complete.
pub fn impact_assessment(ctx: &CheckInputs) -> Vec<Problem> {
    let Some(a) = ctx.primary() else {
        return vec![Problem::pending(format!(
            "no RiskAssessment with spec.systemRef.name: {} carries the impact assessment",
            ctx.system_name()
        ))];
    };
    let completed =
        a.ra.spec
            .impact_assessment
            .as_ref()
            .and_then(|i| i.completed_on.as_ref());
    let mut out = Problems::default();
    out.need(
        completed.is_some(),
        format!(
            "RiskAssessment {}: spec.impactAssessment.completedOn is missing: complete the impact assessment",
            a.name()
        ),
    );
    out.0
}

/// A.5.4: the impact assessment names the affected people; a High-risk system has a fundamental
/// rights impact assessment.
pub fn individual_impact(ctx: &CheckInputs) -> Vec<Problem> {
    let Some(a) = ctx.primary() else {
        return vec![Problem::pending(
            "no impact assessment names the individuals and groups affected",
        )];
    };
    let high = ctx.system.spec.risk_tier == RiskTier::High;
    let impact = a.ra.spec.impact_assessment.as_ref();
    let mut out = Problems::default();
    out.need(
        impact.is_some_and(|i| !i.affected_groups.is_empty()),
        format!(
            "RiskAssessment {}: spec.impactAssessment.affectedGroups is empty: name who the system affects",
            a.name()
        ),
    );
    out.need(
        !high || impact.is_some_and(|i| i.fundamental_rights.is_some()),
        format!(
            "RiskAssessment {}: spec.impactAssessment.fundamentalRights is missing: a High-risk system needs a fundamental rights impact assessment (EU AI Act Art. 27)",
            a.name()
        ),
    );
    out.0
}

/// A.5.5: the impact assessment covers societal impacts.
pub fn societal_impact(ctx: &CheckInputs) -> Vec<Problem> {
    let Some(a) = ctx.primary() else {
        return vec![Problem::pending(
            "no impact assessment covers societal impacts",
        )];
    };
    let mut out = Problems::default();
    out.need(
        a.ra.spec
            .impact_assessment
            .as_ref()
            .is_some_and(|i| !i.societal_impacts.is_empty()),
        format!(
            "RiskAssessment {}: spec.impactAssessment.societalImpacts is empty: assess the impact on society",
            a.name()
        ),
    );
    out.0
}

/// What keeps an assessment a Draft, as one sentence.
pub(super) fn draft_gaps(a: &Assessed) -> String {
    crate::engine::approval::incomplete(&a.ra.spec)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `RiskAssessed`: the best assessment is past Draft and within appetite.
pub fn risk_assessed(ctx: &CheckInputs) -> ConditionResult {
    let cond = ConditionResult::of("RiskAssessed");
    match ctx.primary() {
        None => cond(
            false,
            "NoAssessment",
            "no RiskAssessment refers to this system".into(),
        ),
        Some(a) if a.verdict.state == AssessmentState::Draft => cond(
            false,
            "Draft",
            format!("RiskAssessment {} is a Draft", a.name()),
        ),
        Some(a) => match &a.verdict.risk {
            Some(r) if !r.within_appetite => cond(
                false,
                "AboveAppetite",
                format!(
                    "residual risk above appetite: {}",
                    r.above_appetite.join(", ")
                ),
            ),
            _ => cond(
                true,
                "WithinAppetite",
                format!("RiskAssessment {}", a.name()),
            ),
        },
    }
}

/// `ImpactAssessed`: the best assessment's impact assessment is complete.
pub fn impact_assessed(ctx: &CheckInputs) -> ConditionResult {
    let cond = ConditionResult::of("ImpactAssessed");
    let done = ctx.primary().and_then(|a| {
        a.ra.spec
            .impact_assessment
            .as_ref()
            .and_then(|i| i.completed_on.clone())
            .map(|d| (a.name(), d))
    });
    match done {
        Some((name, date)) => cond(
            true,
            "Completed",
            format!("RiskAssessment {name}, completed on {date}"),
        ),
        None => cond(false, "Incomplete", "no completed impact assessment".into()),
    }
}
