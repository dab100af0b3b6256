//! The conditions a system's status carries, without timestamps (the controller keeps those).
//! `Registered`, `ControlsSatisfied` and `Ready` are here; the control families that feed the others
//! compute them (`controls::impact` gives `RiskAssessed` and `ImpactAssessed`, `controls::deployment`
//! `Approved`, `controls::usage` `OversightReady`). `evaluate` lists them in their order.

use serde::Serialize;

use crate::api::Phase;

/// A condition the status should carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConditionResult {
    /// The condition type.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Whether it holds.
    pub status: bool,
    /// A CamelCase reason.
    pub reason: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl ConditionResult {
    /// A maker of conditions of this type: `of("Ready")(true, "Compliant", message)`.
    pub fn of(type_: &'static str) -> impl Fn(bool, &'static str, String) -> Self {
        move |status, reason, message| Self {
            type_,
            status,
            reason,
            message,
        }
    }
}

/// How an applicable control fares, as the conditions read it.
#[derive(Clone, Copy, Debug)]
pub struct ControlState<'a> {
    /// The catalog id.
    pub id: &'a str,
    /// Whether it is satisfied.
    pub satisfied: bool,
}

/// `Registered`: the system is in the inventory (it always is, once it is evaluated).
pub fn registered() -> ConditionResult {
    ConditionResult::of("Registered")(true, "Registered", "the system is in the inventory".into())
}

/// `ControlsSatisfied`: every applicable control is, or which are not.
pub fn controls_satisfied<'a>(
    controls: impl IntoIterator<Item = ControlState<'a>>,
) -> ConditionResult {
    let cond = ConditionResult::of("ControlsSatisfied");
    let (mut applicable, mut failing) = (0, Vec::new());
    for c in controls {
        applicable += 1;
        if !c.satisfied {
            failing.push(c.id);
        }
    }
    let satisfied = applicable - failing.len();
    if failing.is_empty() {
        cond(
            true,
            "AllSatisfied",
            format!("{satisfied}/{applicable} controls satisfied"),
        )
    } else {
        cond(
            false,
            "ControlsFailing",
            format!(
                "{satisfied}/{applicable} controls satisfied; failing: {}",
                failing.join(", ")
            ),
        )
    }
}

/// `Ready`: the phase is Compliant.
pub fn ready(phase: Phase, findings: usize) -> ConditionResult {
    let (reason, message) = match phase {
        Phase::Compliant => ("Compliant", "every applicable control is satisfied".into()),
        Phase::NonCompliant => ("NonCompliant", format!("{findings} finding(s)")),
        Phase::Pending => ("Pending", format!("{findings} finding(s)")),
        Phase::Halted => ("Halted", format!("{findings} finding(s)")),
    };
    ConditionResult::of("Ready")(phase == Phase::Compliant, reason, message)
}
