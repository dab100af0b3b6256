//! A.6, the AI system life cycle: what is specified, documented, monitored and logged. Deployment
//! approval (A.6.2.5) has its own file, `deployment`.

use super::{CheckInputs, Problem, Problems};
use crate::engine::binding::Applied;

/// A.6.2.2: the system declares its models, each with the version that runs.
pub fn model_specification(ctx: &CheckInputs) -> Vec<Problem> {
    let spec = &ctx.system.spec;
    let mut out = Problems::default();
    out.need(
        !spec.models.is_empty(),
        "spec.models is empty: declare the models the system runs",
    );
    for m in spec.models.iter().filter(|m| m.version.is_none()) {
        out.push(Problem::system(format!(
            "spec.models[{}].version is missing: record which version runs",
            m.name
        )));
    }
    out.0
}

/// A.6.2.3: the model card is linked.
pub fn design_documentation(ctx: &CheckInputs) -> Vec<Problem> {
    let mut out = Problems::default();
    out.need(
        ctx.system
            .spec
            .documentation
            .as_ref()
            .is_some_and(|d| d.model_card.is_some()),
        "spec.documentation.modelCard is missing: link the model card",
    );
    out.0
}

/// A.6.2.6: how operation is monitored is described or linked.
pub fn monitoring(ctx: &CheckInputs) -> Vec<Problem> {
    let mut out = Problems::default();
    out.need(
        ctx.system
            .spec
            .monitoring
            .as_ref()
            .is_some_and(|m| m.description.is_some() || m.uri.is_some()),
        "spec.monitoring is missing: describe how operation is monitored, or link the dashboard",
    );
    out.0
}

/// A.6.2.7: the technical documentation is linked.
pub fn technical_documentation(ctx: &CheckInputs) -> Vec<Problem> {
    let mut out = Problems::default();
    out.need(
        ctx.system
            .spec
            .documentation
            .as_ref()
            .is_some_and(|d| d.technical_documentation.is_some()),
        "spec.documentation.technicalDocumentation is missing: link the technical documentation (EU AI Act Annex IV)",
    );
    out.0
}

/// A.6.2.8: events are logged, and kept as long as the bindings require.
pub fn event_logs(ctx: &CheckInputs, applied: &Applied) -> Vec<Problem> {
    let logging = ctx.system.spec.logging.as_ref();
    let mut out = Problems::default();
    out.need(
        logging.is_some_and(|l| l.enabled),
        "spec.logging.enabled is not true: the system must record events while it runs (EU AI Act Art. 12)",
    );
    if let Some(min) = applied.min_retention_days() {
        let days = logging.and_then(|l| l.retention_days).unwrap_or(0);
        out.need(
            days >= min,
            format!("spec.logging.retentionDays is {days}; the binding requires at least {min}"),
        );
    }
    out.0
}
