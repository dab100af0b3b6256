//! The decision log: one structured record per admission decision, on its own log target
//! (`aims::decision`), and an Event on the AISystem for each denial of one of its workloads.

use kube::{
    Resource, ResourceExt,
    core::admission::Operation,
    runtime::{
        events::{Event, EventType},
        reflector::ObjectRef,
    },
};

use super::{Outcome, Webhook, review::Request};
use crate::engine::evaluate::Verdict;

/// The log target of decision records: `RUST_LOG=aims::decision=info` keeps them.
pub const TARGET: &str = "aims::decision";

/// `allow`, `warn` or `deny`.
pub fn verdict(outcome: &Outcome) -> &'static str {
    if !outcome.response.allowed {
        "deny"
    } else if outcome
        .response
        .warnings
        .as_ref()
        .is_some_and(|w| !w.is_empty())
    {
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

/// Records one decision and, for a denied workload of a system, publishes an Event on the system
/// (not for dry runs: they have no side effects).
pub fn record(hook: &Webhook, webhook: &'static str, req: &Request, outcome: &Outcome) {
    let decision = outcome.decision.as_ref();
    let controls = decision
        .map(|d| d.failing_controls().join(","))
        .unwrap_or_default();
    let break_glass = decision
        .and_then(|d| d.break_glass.as_ref())
        .map(|b| format!("{} until {}: {}", b.ticket, b.until, b.reason));
    tracing::info!(
        target: TARGET,
        webhook,
        uid = %req.uid,
        user = req.user_info.username.as_deref().unwrap_or_default(),
        operation = operation(&req.operation),
        kind = %req.kind.kind,
        subresource = req.sub_resource.as_deref().unwrap_or_default(),
        namespace = req.namespace.as_deref().unwrap_or_default(),
        name = %req.name,
        system = decision.and_then(|d| d.system.as_deref()).unwrap_or_default(),
        verdict = verdict(outcome),
        controls,
        break_glass = break_glass.as_deref().unwrap_or_default(),
        dry_run = req.dry_run,
        response_message = %outcome.response.result.message,
        "admission decision"
    );
    if req.dry_run || outcome.response.allowed {
        return;
    }
    let Some(decision) = decision.filter(|d| d.verdict == Verdict::Deny) else {
        return;
    };
    let Some(system) = &decision.system else {
        return;
    };
    let key = ObjectRef::new(system).within(&decision.namespace);
    let Some(stored) = hook.ctx.stores.systems.get(&key) else {
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
    let recorder = hook.ctx.recorder.clone();
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
