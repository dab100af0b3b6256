//! The binding controllers: for each ControlBinding and ClusterControlBinding, the systems it
//! selects, how many of them satisfy each of its controls, and the control ids the catalog does
//! not know.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use kube::{
    Api, Resource, ResourceExt,
    runtime::{Controller, WatchStreamExt, controller::Action, reflector::ObjectRef},
};

use super::{Context, Error, status};
use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, ControlBindingStatus, ControlTally},
    cluster::{Guarded, readable, watches::SharedEvents},
    engine::{binding::Binding, evaluate::ConditionResult, tally},
};

/// Most system names a binding's status lists.
const MAX_SYSTEMS: usize = 50;

/// The ControlBinding controller; a change to any AISystem of its namespace re-tallies it, and
/// so does any binding change (both arrive once the stores hold them).
pub fn namespaced(ctx: &Context, shared: &SharedEvents) -> Controller<Guarded<ControlBinding>> {
    let bindings = ctx.stores.bindings.clone();
    let controller = super::controller_for_stream(
        shared.bindings.subscribe().applied_objects(),
        bindings.clone(),
    )
    .reconcile_all_on(shared.binding_changes());
    controller.watches_stream(
        shared.systems.subscribe().touched_objects(),
        move |s: Guarded<AISystem>| {
            let ns = s.namespace();
            bindings
                .state()
                .iter()
                .filter(|b| b.namespace() == ns)
                .map(|b| ObjectRef::from_obj(&**b))
                .collect::<Vec<_>>()
        },
    )
}

/// The ClusterControlBinding controller; a change to any AISystem re-tallies every one, and so
/// does any binding change (both arrive once the stores hold them).
pub fn cluster(ctx: &Context, shared: &SharedEvents) -> Controller<Guarded<ClusterControlBinding>> {
    let bindings = ctx.stores.cluster_bindings.clone();
    let controller = super::controller_for_stream(
        shared.cluster_bindings.subscribe().applied_objects(),
        bindings.clone(),
    )
    .reconcile_all_on(shared.binding_changes());
    controller.watches_stream(
        shared.systems.subscribe().touched_objects(),
        move |_: Guarded<AISystem>| {
            bindings
                .state()
                .iter()
                .map(|b| ObjectRef::from_obj(&**b))
                .collect::<Vec<_>>()
        },
    )
}

/// Tallies one ControlBinding.
pub async fn reconcile_namespaced(
    guard: Arc<Guarded<ControlBinding>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if !ctx.may_write() {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    match &guard.0 {
        Ok(b) => {
            let api = Api::namespaced(ctx.client.clone(), &b.namespace().unwrap_or_default());
            write(ctx, guard, |b| Binding::Namespaced(b), api).await
        }
        Err(invalid) => Ok(super::aisystem::unreadable::<ControlBinding>(&ctx, invalid).await),
    }
}

/// Tallies one ClusterControlBinding.
pub async fn reconcile_cluster(
    guard: Arc<Guarded<ClusterControlBinding>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if !ctx.may_write() {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    match &guard.0 {
        Ok(_) => {
            let api = Api::all(ctx.client.clone());
            write(ctx, guard, |b| Binding::Cluster(b), api).await
        }
        Err(invalid) => {
            Ok(super::aisystem::unreadable::<ClusterControlBinding>(&ctx, invalid).await)
        }
    }
}

/// Tallies a readable binding (`as_binding` names its kind) and writes its status if it changed.
async fn write<K>(
    ctx: Arc<Context>,
    guard: Arc<Guarded<K>>,
    as_binding: fn(&K) -> Binding<'_>,
    api: Api<K>,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + HasStatus
        + Send
        + Sync
        + 'static,
{
    let _timer = ctx.metrics.reconcile_timer("binding");
    let now = Timestamp::now();
    // Evaluating every selected system takes milliseconds per hundred systems: off the async
    // workers, which serve the webhook and the watches meanwhile.
    let new = super::off_runtime({
        let (ctx, guard) = (ctx.clone(), guard.clone());
        move || {
            guard
                .0
                .as_ref()
                .ok()
                .map(|object| tally_status(&ctx, object, as_binding(object), now))
        }
    })
    .await?;
    let (Some(new), Ok(object)) = (new, &guard.0) else {
        return Ok(Action::await_change());
    };
    if object.status() != Some(&new) {
        super::write_status(&ctx, "binding", &api, &object.name_any(), &new).await?;
    }
    Ok(Action::requeue(Duration::from_secs(600)))
}

/// A binding's status: the systems it selects, evaluated, and how many satisfy each control.
fn tally_status<K: Resource + HasStatus>(
    ctx: &Context,
    object: &K,
    binding: Binding<'_>,
    now: Timestamp,
) -> ControlBindingStatus {
    let systems = ctx.stores.systems.state();
    let mut evaluated = Vec::new();
    for system in readable(&systems) {
        let labels = ctx
            .stores
            .namespace_labels(&system.namespace().unwrap_or_default());
        if binding.selects(system, &labels) {
            evaluated.push((system, labels, ctx.evaluate(system, now).0));
        }
    }
    let refs: Vec<_> = evaluated.iter().map(|(s, l, e)| (*s, l, e)).collect();
    let tally = tally::tally(&binding, &refs, &ctx.catalog);
    let previous = object.status();
    let valid = tally.unknown.is_empty();
    let mut new = ControlBindingStatus {
        matched_systems: Some(u32::try_from(tally.systems.len()).unwrap_or(u32::MAX)),
        systems: tally.systems.iter().take(MAX_SYSTEMS).cloned().collect(),
        controls: tally
            .controls
            .iter()
            .map(|(id, satisfied, applicable)| ControlTally {
                id: id.clone(),
                satisfied: *satisfied,
                applicable: *applicable,
            })
            .collect(),
        unknown_controls: tally.unknown.clone(),
        conditions: Vec::new(),
        observed_generation: object.meta().generation,
    };
    new.conditions = status::conditions(
        previous.map_or(&[], |p| &p.conditions),
        &[ConditionResult {
            type_: "Valid",
            status: valid,
            reason: if valid {
                "KnownControls"
            } else {
                "UnknownControls"
            },
            message: if valid {
                "every control id is in the catalog".to_owned()
            } else {
                format!("not in the catalog: {}", tally.unknown.join(", "))
            },
        }],
        object.meta().generation,
        now,
    );
    new
}

/// The two binding kinds share a status type.
pub trait HasStatus {
    /// The status, if any.
    fn status(&self) -> Option<&ControlBindingStatus>;
}

impl HasStatus for ControlBinding {
    fn status(&self) -> Option<&ControlBindingStatus> {
        self.status.as_ref()
    }
}

impl HasStatus for ClusterControlBinding {
    fn status(&self) -> Option<&ControlBindingStatus> {
        self.status.as_ref()
    }
}

/// Transient errors are retried.
pub fn error_policy<K: Resource>(object: Arc<K>, err: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(binding = %object.name_any(), error = %err, "reconcile failed");
    ctx.metrics.reconcile_error("binding", err.label());
    Action::requeue(Duration::from_secs(15))
}
