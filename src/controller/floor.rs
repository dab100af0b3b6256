//! Writes the compiled floor ([`crate::api::AdmissionFloor`]): after each evaluation of a system,
//! its entry in its namespace's floor, from [`crate::engine::floor`], when it changed; entries of
//! systems that no longer exist are removed at the same time. Only the leader writes, and only with
//! `aims run --compiled-floor` (the chart's `compiledFloor.enabled`).

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams, PostParams},
    runtime::reflector::ObjectRef,
};
use serde_json::{Map, Value, json};

use super::Context;
use crate::{
    api::{AISystem, AdmissionFloor, AdmissionFloorSpec, FLOOR_NAME, FloorSystem},
    engine::{evaluate::Evaluation, floor},
};

/// Writes `system`'s entry of its namespace's floor when it differs from the one last written.
pub async fn sync(ctx: &Context, system: &AISystem, evaluation: &Evaluation) {
    if !ctx.compiled_floor || !ctx.may_write() {
        return;
    }
    let namespace = system.namespace().unwrap_or_default();
    let name = system.name_any();
    let approved = evaluation.approval.as_ref().and_then(|a| {
        ctx.stores
            .assessments
            .get(&ObjectRef::new(&a.assessment).within(&namespace))
            .and_then(|g| g.0.as_ref().ok().cloned())
    });
    let entry = floor::entry(system, evaluation, approved.as_ref(), &ctx.catalog);
    let key = (namespace.clone(), name.clone());
    if ctx.floor_written.fresh(&key, &entry) {
        return;
    }
    match write(ctx, &namespace, &name, &entry).await {
        Ok(()) => ctx.floor_written.set(key, entry),
        Err(error) => {
            tracing::warn!(%error, system = %name, "cannot write the compiled admission floor");
            ctx.metrics.reconcile_error("floor", "kube");
        }
    }
}

async fn write(
    ctx: &Context,
    namespace: &str,
    name: &str,
    entry: &FloorSystem,
) -> Result<(), kube::Error> {
    let api: Api<AdmissionFloor> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(stored) = api.get_opt(FLOOR_NAME).await? else {
        let floor = AdmissionFloor::new(
            FLOOR_NAME,
            AdmissionFloorSpec {
                systems: [(name.to_owned(), entry.clone())].into(),
            },
        );
        return match api.create(&PostParams::default(), &floor).await {
            // Written meanwhile by the evaluation of another system: patch it.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                Box::pin(write(ctx, namespace, name, entry)).await
            }
            other => other.map(|_| ()),
        };
    };
    let mut systems = Map::new();
    for gone in stored.spec.systems.keys().filter(|s| {
        *s != name
            && ctx
                .stores
                .systems
                .get(&ObjectRef::new(s).within(namespace))
                .is_none()
    }) {
        systems.insert(gone.clone(), Value::Null);
    }
    if systems.is_empty() && stored.spec.systems.get(name) == Some(entry) {
        // Already so (written by this replica before its entry was forgotten, or by another).
        return Ok(());
    }
    systems.insert(
        name.to_owned(),
        serde_json::to_value(entry).unwrap_or_default(),
    );
    let patch = json!({ "spec": { "systems": systems } });
    api.patch(FLOOR_NAME, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
