//! Writes the compiled floor ([`crate::api::AdmissionFloor`]): after each evaluation of a system,
//! its entry in its namespace's floor and the scale keys of its workloads while it is held, from
//! [`crate::engine::floor`], when they changed (entries of systems that no longer exist are
//! removed at the same time); and the cluster's rules for workloads of no system in the operator's
//! namespace. Only the leader writes, and only with `aims run --compiled-floor` (the chart's
//! `admission.mode` both or compiled).

use std::sync::Arc;

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams, PostParams},
    runtime::reflector::ObjectRef,
};
use serde_json::{Map, Value, json};

use super::Context;
use crate::{
    api::{
        AISystem, AdmissionFloor, AdmissionFloorSpec, FLOOR_NAME, FloorSystem, FloorUnregistered,
        UNREGISTERED_FLOOR_NAME,
    },
    engine::{
        admission::workload::UnregisteredPolicy, evaluate::Evaluation, floor,
        workload::WorkloadFacts,
    },
};

/// What the floor is written with.
#[derive(Clone, Debug)]
pub struct Config {
    /// The operator's namespace, where the rules for workloads of no system are written.
    pub namespace: String,
    /// The policy for model workloads of no system where a namespace's label sets none.
    pub unregistered: UnregisteredPolicy,
}

/// One system's part of its namespace's floor: its entry and the scale keys it holds.
pub type Part = (FloorSystem, Vec<String>);

/// Writes `system`'s part of its namespace's floor when it differs from the one last written, and
/// the cluster's rules for workloads of no system when they changed.
pub async fn sync(
    ctx: &Context,
    system: &AISystem,
    evaluation: &Evaluation,
    workloads: &[Arc<WorkloadFacts>],
) {
    if ctx.floor.is_none() || !ctx.may_write() {
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
    let held = floor::held(&entry, workloads.iter().map(|w| &**w));
    let part = (entry, held);
    let key = (namespace.clone(), name.clone());
    if !ctx.floor_written.fresh(&key, &part) {
        match write(ctx, &namespace, &name, &part).await {
            Ok(()) => ctx.floor_written.set(key, part),
            Err(error) => {
                tracing::warn!(%error, system = %name, "cannot write the compiled admission floor");
                ctx.metrics.reconcile_error("floor", "kube");
            }
        }
    }
    sync_unregistered(ctx).await;
}

/// Writes the cluster's rules for workloads of no system when they changed, and removes the systems
/// gone since from the namespaces' floors. After each evaluation, and every scan (a deleted system
/// reconciles nothing).
pub(super) async fn sync_unregistered(ctx: &Context) {
    let Some(config) = &ctx.floor else {
        return;
    };
    if !ctx.may_write() {
        return;
    }
    let systems = ctx.stores.systems.state();
    let refs: Vec<&AISystem> = systems.iter().filter_map(|s| s.0.as_ref().ok()).collect();
    let rules = floor::unregistered(config.unregistered, &refs, &ctx.detector);
    let key = (config.namespace.clone(), UNREGISTERED_FLOOR_NAME.to_owned());
    if ctx.unregistered_written.fresh(&key, &rules) {
        return;
    }
    let api: Api<AdmissionFloor> = Api::namespaced(ctx.client.clone(), &config.namespace);
    let written = async {
        let before = api.get_opt(UNREGISTERED_FLOOR_NAME).await?;
        apply_unregistered(&api, &rules).await?;
        if let Some(before) = before.and_then(|f| f.spec.unregistered) {
            prune(ctx, &before, &rules).await?;
        }
        Ok::<_, kube::Error>(())
    };
    match written.await {
        Ok(()) => ctx.unregistered_written.set(key, rules),
        Err(error) => {
            tracing::warn!(%error, "cannot write the compiled floor's rules for unregistered workloads");
            ctx.metrics.reconcile_error("floor", "kube");
        }
    }
}

/// Removes from the namespaces' floors the systems that `before` listed and `now` does not (deleted
/// AISystems: a deletion reconciles nothing): their entries and held workloads, or the whole floor
/// of a namespace left without systems.
async fn prune(
    ctx: &Context,
    before: &FloorUnregistered,
    now: &FloorUnregistered,
) -> Result<(), kube::Error> {
    for (namespace, old) in &before.namespaces {
        let remaining = now.namespaces.get(namespace);
        let gone: Vec<&String> = old
            .systems
            .keys()
            .filter(|s| remaining.is_none_or(|r| !r.systems.contains_key(*s)))
            .collect();
        if gone.is_empty() {
            continue;
        }
        ctx.floor_written
            .forget(|(ns, name)| ns == namespace && gone.contains(&name));
        let api: Api<AdmissionFloor> = Api::namespaced(ctx.client.clone(), namespace);
        if remaining.is_none() {
            match api.delete(FLOOR_NAME, &Default::default()).await {
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                other => drop(other?),
            }
            continue;
        }
        let Some(stored) = api.get_opt(FLOOR_NAME).await? else {
            continue;
        };
        let systems: Map<String, Value> =
            gone.iter().map(|s| ((*s).clone(), Value::Null)).collect();
        let held: Map<String, Value> = stored
            .spec
            .held
            .iter()
            .filter(|(_, s)| gone.contains(s))
            .map(|(k, _)| (k.clone(), Value::Null))
            .collect();
        let patch = json!({ "spec": { "systems": systems, "held": held } });
        api.patch(FLOOR_NAME, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    Ok(())
}

async fn apply_unregistered(
    api: &Api<AdmissionFloor>,
    rules: &FloorUnregistered,
) -> Result<(), kube::Error> {
    let floor = json!({
        "apiVersion": "aims.dev/v1alpha1",
        "kind": "AdmissionFloor",
        "metadata": { "name": UNREGISTERED_FLOOR_NAME },
        "spec": { "unregistered": rules },
    });
    // Applied whole: a namespace or a system gone from the rules is gone from the object.
    let params = PatchParams::apply("aims-operator").force();
    api.patch(UNREGISTERED_FLOOR_NAME, &params, &Patch::Apply(&floor))
        .await?;
    Ok(())
}

async fn write(ctx: &Context, namespace: &str, name: &str, part: &Part) -> Result<(), kube::Error> {
    let (entry, held) = part;
    let api: Api<AdmissionFloor> = Api::namespaced(ctx.client.clone(), namespace);
    let Some(stored) = api.get_opt(FLOOR_NAME).await? else {
        let floor = AdmissionFloor::new(
            FLOOR_NAME,
            AdmissionFloorSpec {
                systems: [(name.to_owned(), entry.clone())].into(),
                held: held.iter().map(|k| (k.clone(), name.to_owned())).collect(),
                unregistered: None,
            },
        );
        return match api.create(&PostParams::default(), &floor).await {
            // Written meanwhile by the evaluation of another system: patch it.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                Box::pin(write(ctx, namespace, name, part)).await
            }
            other => other.map(|_| ()),
        };
    };
    let gone = |s: &String| {
        s != name
            && ctx
                .stores
                .systems
                .get(&ObjectRef::new(s).within(namespace))
                .is_none()
    };
    let mut systems = Map::new();
    for system in stored.spec.systems.keys().filter(|s| gone(s)) {
        systems.insert(system.clone(), Value::Null);
    }
    let mut keys = Map::new();
    for (key, system) in &stored.spec.held {
        if (system == name && !held.contains(key)) || gone(system) {
            keys.insert(key.clone(), Value::Null);
        }
    }
    for key in held {
        if stored.spec.held.get(key).is_none_or(|s| s != name) {
            keys.insert(key.clone(), Value::String(name.to_owned()));
        }
    }
    if systems.is_empty() && keys.is_empty() && stored.spec.systems.get(name) == Some(entry) {
        // Already so (written by this replica before its entry was forgotten, or by another).
        return Ok(());
    }
    systems.insert(
        name.to_owned(),
        serde_json::to_value(entry).unwrap_or_default(),
    );
    let patch = json!({ "spec": { "systems": systems, "held": keys } });
    api.patch(FLOOR_NAME, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
