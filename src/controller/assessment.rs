//! The RiskAssessment controller: scores, content hash, approval state and expiry, under the
//! approval policy of the bindings that select its system. A reference to a missing system becomes
//! a condition, never a stalled controller.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    runtime::{
        Controller, WatchStreamExt, controller::Action, events::EventType, reflector::ObjectRef,
    },
};

use super::{Context, Error, records, status};
use crate::{
    api::{AISystem, RiskAssessment},
    cluster::{Guarded, as_bindings, watch::without_status_updates, watches::SharedEvents},
    engine::{
        approval::{self, ApprovalPolicy, Trust},
        binding,
        controls::deployment,
    },
};

/// Builds the RiskAssessment controller; it also reacts to changes of the spec, labels or
/// annotations of the system it refers to (its approval policy depends on them, not on its status),
/// and assesses every assessment again when a ControlBinding or ClusterControlBinding is created,
/// changed or deleted (the binding that applies A.6.2.5 names the approver groups).
pub fn controller(ctx: &Context, shared: &SharedEvents) -> Controller<Guarded<RiskAssessment>> {
    let assessments = ctx.stores.assessments.clone();
    super::controller_for_stream(
        shared.assessments.subscribe().applied_objects(),
        assessments.clone(),
    )
    .reconcile_all_on(shared.binding_changes())
    .watches_stream(
        without_status_updates(shared.systems.subscribe()).touched_objects(),
        move |system: Guarded<AISystem>| {
            let name = system.name_any();
            let ns = system.namespace();
            assessments
                .state()
                .iter()
                .filter(|g| {
                    g.0.as_ref().is_ok_and(|ra| ra.spec.system_ref.name == name)
                        && g.namespace() == ns
                })
                .map(|g| ObjectRef::from_obj(&**g))
                .collect::<Vec<_>>()
        },
    )
}

/// Assesses one RiskAssessment and writes its status.
#[tracing::instrument(skip_all, fields(assessment = %guard.name_any(), namespace = guard.namespace().unwrap_or_default()))]
pub async fn reconcile(
    guard: Arc<Guarded<RiskAssessment>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if !ctx.may_write() {
        return Ok(Action::requeue(std::time::Duration::from_millis(500)));
    }
    let ra = match &guard.0 {
        Ok(ra) => ra,
        Err(invalid) => {
            return Ok(super::aisystem::unreadable::<RiskAssessment>(&ctx, invalid).await);
        }
    };
    let _timer = ctx.metrics.reconcile_timer("riskassessment");
    let now = Timestamp::now();
    let namespace = ra.namespace().unwrap_or_default();
    let system = ctx
        .stores
        .systems
        .get(&ObjectRef::new(&ra.spec.system_ref.name).within(&namespace))
        .and_then(|g| g.0.as_ref().ok().cloned());
    let policy = match &system {
        Some(system) => {
            let (namespaced, cluster) = ctx.stores.bindings();
            let bindings = as_bindings(&namespaced, &cluster);
            let labels = ctx.stores.namespace_labels(&namespace);
            deployment::approval_policy(&binding::resolve(system, &labels, &bindings, &ctx.catalog))
        }
        None => ApprovalPolicy::default(),
    };
    let verdict = approval::assess(ra, &policy, Trust::Verify(&ctx.key), now);
    let previous = ra.status.as_ref();
    let new = status::assessment_status(
        previous,
        &verdict,
        system.is_some(),
        ra.metadata.generation,
        now,
    );
    if previous != Some(&new) {
        let api: Api<RiskAssessment> = Api::namespaced(ctx.client.clone(), &namespace);
        super::write_status(&ctx, "riskassessment", &api, &ra.name_any(), &new).await?;
        let discounted = status::discounted_notice(previous, &new, &verdict);
        for (event, fields) in records::of_assessment(
            &namespace,
            ra,
            previous,
            &new,
            &verdict,
            discounted.as_ref(),
        ) {
            ctx.chain.record(event, fields);
        }
        if let Some(notice) = discounted {
            super::aisystem::publish(
                &ctx.recorder,
                ra,
                EventType::Warning,
                notice.reason,
                notice.note,
            )
            .await;
        }
    }
    Ok(super::aisystem::requeue_at(verdict.next_change(), now))
}

/// Transient errors are retried.
pub fn error_policy(ra: Arc<Guarded<RiskAssessment>>, err: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(assessment = %ra.name_any(), error = %err, "reconcile failed");
    ctx.metrics.reconcile_error("riskassessment", err.label());
    Action::requeue(Duration::from_secs(15))
}
