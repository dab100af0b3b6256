//! The decision log: one record per admission decision in the tamper-evident records
//! ([`crate::audit`], event `AdmissionDecision`), and an Event on the AISystem for each denial of
//! one of its workloads.

use kube::{
    Resource, ResourceExt,
    core::admission::{AdmissionResponse, Operation},
    runtime::{
        events::{Event, EventType},
        reflector::ObjectRef,
    },
};

use super::{Webhook, review::ReviewRequest};
use crate::audit::fields;
use crate::engine::{admission::workload::WorkloadDecision, evaluate::Verdict};

/// The log target of the webhook's own warnings about requests it cannot read.
pub const TARGET: &str = "aims::decision";

/// The event of a decision's record.
pub const EVENT: &str = "AdmissionDecision";

/// `allow`, `warn` or `deny`.
pub fn verdict(response: &AdmissionResponse) -> &'static str {
    if !response.allowed {
        "deny"
    } else if response.warnings.as_ref().is_some_and(|w| !w.is_empty()) {
        "warn"
    } else {
        "allow"
    }
}

fn operation(op: &Operation) -> &'static str {
    match op {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// One answered request, as the decision log records it.
pub struct Answered<'a> {
    /// The webhook that answered (`workloads`, `records`, `riskassessments`).
    pub webhook: &'static str,
    /// The request.
    pub req: &'a ReviewRequest,
    /// The engine's decision, for a governed workload.
    pub decision: Option<&'a WorkloadDecision>,
    /// `allow`, `warn` or `deny` (see [`verdict`]).
    pub verdict: &'static str,
    /// The answer's message (why a request is denied).
    pub message: &'a str,
}

/// Records one decision and, for a denied workload of a system, publishes an Event on the system
/// (not for dry runs: they have no side effects).
pub fn record(hook: &Webhook, answered: &Answered<'_>) {
    let Answered {
        webhook,
        req,
        decision,
        verdict,
        message,
    } = *answered;
    let controls = decision
        .map(|d| d.failing_controls().join(","))
        .unwrap_or_default();
    let break_glass = decision
        .and_then(|d| d.break_glass.as_ref())
        .map(|b| format!("{} until {}: {}", b.ticket, b.until, b.reason));
    hook.chain.record(
        EVENT,
        fields([
            ("webhook", webhook.into()),
            ("uid", req.uid.clone().into()),
            (
                "user",
                req.user_info.username.clone().unwrap_or_default().into(),
            ),
            ("operation", operation(&req.operation).into()),
            ("kind", req.kind.kind.clone().into()),
            (
                "subresource",
                req.sub_resource.clone().unwrap_or_default().into(),
            ),
            (
                "namespace",
                req.namespace.clone().unwrap_or_default().into(),
            ),
            ("name", req.name.clone().into()),
            (
                "system",
                decision
                    .and_then(|d| d.system.clone())
                    .unwrap_or_default()
                    .into(),
            ),
            ("verdict", verdict.into()),
            ("controls", controls.into()),
            ("breakGlass", break_glass.unwrap_or_default().into()),
            ("dryRun", req.dry_run.into()),
            ("message", message.into()),
        ]),
    );
    if req.dry_run || verdict != "deny" {
        return;
    }
    let Some(decision) = decision.filter(|d| d.verdict == Verdict::Deny) else {
        return;
    };
    let Some(system) = &decision.system else {
        return;
    };
    let key = ObjectRef::new(system).within(&decision.namespace);
    let Some(stored) = hook.stores.systems.get(&key) else {
        return;
    };
    let reference = stored.object_ref(&());
    let user = req.user_info.username.clone().unwrap_or_default();
    let note = format!(
        "{} {} by {user} denied: {}",
        operation(&req.operation),
        decision.workload,
        decision.failing_controls().join(", ")
    );
    let recorder = hook.recorder.clone();
    let name = stored.name_any();
    tokio::spawn(async move {
        let event = Event {
            type_: EventType::Warning,
            reason: "AdmissionDenied".into(),
            note: Some(note),
            action: "Admit".into(),
            secondary: None,
        };
        if let Err(err) = recorder.publish(&event, &reference).await {
            tracing::warn!(%err, system = name, "cannot publish event");
        }
    });
}
