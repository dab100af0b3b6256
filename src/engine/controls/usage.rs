//! A.9, use of AI systems: human oversight (A.9.2, always applied to High-risk systems; a halt is
//! reported under it by `gates`) and the intended use (A.9.4), and the `OversightReady` condition.

use super::{CheckInputs, ControlFinding, Problem, Problems};
use crate::{
    api::{OversightMode, RiskTier},
    engine::{binding::Applied, catalog::ids, conditions::ConditionResult},
};

/// A.9.2: a mode and named overseers for High-risk systems, and the mode each binding requires.
pub fn oversight(ctx: &CheckInputs, applied: &Applied) -> Vec<Problem> {
    let system = ctx.system;
    let oversight = system.spec.oversight.as_ref();
    let mode = oversight.and_then(|o| o.mode);
    let mut out = Problems::default();
    if system.spec.risk_tier == RiskTier::High {
        out.need(
            mode.is_some(),
            "spec.oversight.mode is missing: say how people oversee the system (EU AI Act Art. 14)",
        );
        out.need(
            oversight.is_some_and(|o| !o.overseers.is_empty()),
            "spec.oversight.overseers is empty: name the people who oversee the system and can stop it",
        );
    }
    for required in applied.oversight_modes() {
        out.need(
            mode == Some(required),
            format!(
                "spec.oversight.mode is {}; the binding requires {}",
                mode.map_or("unset".to_owned(), |m| format!("{m:?}")),
                mode_name(required)
            ),
        );
    }
    out.0
}

fn mode_name(mode: OversightMode) -> &'static str {
    match mode {
        OversightMode::HumanInTheLoop => "HumanInTheLoop",
        OversightMode::HumanOnTheLoop => "HumanOnTheLoop",
        OversightMode::HumanInCommand => "HumanInCommand",
    }
}

/// A.9.4: the uses the system must not be put to are stated.
pub fn intended_use(ctx: &CheckInputs) -> Vec<Problem> {
    let mut out = Problems::default();
    out.need(
        !ctx.system.spec.out_of_scope_uses.is_empty(),
        "spec.outOfScopeUses is empty: state the uses the system must not be put to",
    );
    out.0
}

/// `OversightReady`: not halted, and nothing fails human oversight.
pub fn oversight_ready(findings: &[ControlFinding], halted: bool) -> ConditionResult {
    let cond = ConditionResult::of("OversightReady");
    let problems: Vec<&str> = findings
        .iter()
        .filter(|f| f.control == ids::HUMAN_OVERSIGHT)
        .map(|f| f.message.as_str())
        .collect();
    if halted {
        cond(false, "Halted", problems.join("; "))
    } else if problems.is_empty() {
        cond(true, "Ready", "human oversight is in place".into())
    } else {
        cond(false, "Incomplete", problems.join("; "))
    }
}
