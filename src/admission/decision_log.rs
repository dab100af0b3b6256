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
use serde_json::{Map, Value};

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
pub struct Answered {
    /// The webhook that answered (`workloads`, `records`, `riskassessments`).
    pub webhook: &'static str,
    /// The request.
    pub req: ReviewRequest,
    /// The engine's decision, for a governed workload.
    pub decision: Option<WorkloadDecision>,
    /// `allow`, `warn` or `deny` (see [`verdict`]).
    pub verdict: &'static str,
    /// The answer's message (why a request is denied).
    pub message: String,
}

/// Records one decision and, for a denied workload of a system, publishes an Event on the system
/// (not for dry runs: they have no side effects). The record's fields are made, and the request
/// dropped, by the records' writer ([`crate::audit::Chain::record_with`]): this only queues it.
pub fn record(hook: &Webhook, answered: Answered) {
    denied_event(hook, &answered);
    hook.chain.record_with(EVENT, move || answered.fields());
}

impl Answered {
    /// The record's fields (made by the records' writer, which drops the request with them).
    pub fn fields(self) -> Map<String, Value> {
        let Self {
            webhook,
            req,
            decision,
            verdict,
            message,
        } = self;
        let decision = decision.as_ref();
        let controls = decision
            .map(|d| d.failing_controls().join(","))
            .unwrap_or_default();
        let break_glass = decision
            .and_then(|d| d.break_glass.as_ref())
            .map(|b| format!("{} until {}: {}", b.ticket, b.until, b.reason));
        let system = decision.and_then(|d| d.system.clone()).unwrap_or_default();
        fields([
            ("webhook", webhook.into()),
            ("uid", req.uid.into()),
            ("user", req.user_info.username.unwrap_or_default().into()),
            ("operation", operation(&req.operation).into()),
            ("kind", req.kind.kind.into()),
            ("subresource", req.sub_resource.unwrap_or_default().into()),
            ("namespace", req.namespace.unwrap_or_default().into()),
            ("name", req.name.into()),
            ("system", system.into()),
            ("verdict", verdict.into()),
            ("controls", controls.into()),
            ("breakGlass", break_glass.unwrap_or_default().into()),
            ("dryRun", req.dry_run.into()),
            ("message", message.into()),
        ])
    }
}

/// For a denied workload of a registered system (not a dry run), publishes an Event on the
/// system, in a task of its own.
fn denied_event(hook: &Webhook, answered: &Answered) {
    let Answered {
        req,
        decision,
        verdict,
        ..
    } = answered;
    if req.dry_run || *verdict != "deny" {
        return;
    }
    let Some(decision) = decision.as_ref().filter(|d| d.verdict == Verdict::Deny) else {
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
