//! Unregistered model workloads ("shadow AI"): found by the engine's detection in the reflector
//! stores, counted per namespace in a metric, and reported once per workload as a Warning Event on
//! the workload itself. The same periodic pass counts systems by namespace and phase.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType};

use super::Context;
use crate::engine::{membership, workload::WorkloadFacts};

/// How often the stores are scanned.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Scans until `shutdown` resolves.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut reported: BTreeSet<String> = BTreeSet::new();
    loop {
        // Scan as soon as this replica may write, then every INTERVAL.
        let wait = if ctx.may_write() {
            scan_once(&ctx, &mut reported).await;
            // A deleted AISystem reconciles nothing: the floor learns of it here.
            super::floor::sync_unregistered(&ctx).await;
            INTERVAL
        } else {
            Duration::from_millis(200)
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

async fn scan_once(ctx: &Context, reported: &mut BTreeSet<String>) {
    let systems = ctx.stores.systems.state();
    let system_refs: Vec<_> = crate::cluster::readable(&systems).collect();
    ctx.metrics.set_systems(system_refs.iter().map(|s| {
        let phase = s.status.as_ref().and_then(|st| st.phase.as_ref());
        (
            s.metadata.namespace.as_deref().unwrap_or_default(),
            phase.map_or("Unknown", |p| p.as_str()),
        )
    }));
    let workloads = ctx.stores.all_workloads();
    let found = membership::unregistered(&system_refs, &workloads, &ctx.detector);
    ctx.metrics
        .set_unregistered(found.iter().map(|u| u.workload.namespace.as_str()));

    let current: BTreeSet<String> = found.iter().map(|u| key(u.workload)).collect();
    for u in &found {
        if reported.contains(&key(u.workload)) {
            continue;
        }
        let event = Event {
            type_: EventType::Warning,
            reason: "UnregisteredModelWorkload".into(),
            note: Some(format!(
                "looks like model serving but belongs to no AISystem: {}. Register it with an AISystem and label it aims.dev/system: <name>.",
                u.detection
            )),
            action: "Detect".into(),
            secondary: None,
        };
        if let Err(err) = ctx.recorder.publish(&event, &reference(u.workload)).await {
            tracing::warn!(%err, workload = %key(u.workload), "cannot publish event");
        }
        tracing::info!(workload = %key(u.workload), reasons = %u.detection, "unregistered model workload");
    }
    // Forget workloads that were registered or removed, so a relapse is reported again.
    *reported = current;
}

fn key(w: &WorkloadFacts) -> String {
    format!("{}/{}", w.namespace, w.display_name())
}

fn reference(w: &WorkloadFacts) -> ObjectReference {
    ObjectReference {
        api_version: Some(w.kind.api_version().to_owned()),
        kind: Some(w.kind.as_str().to_owned()),
        name: Some(w.name.clone()),
        namespace: Some(w.namespace.clone()),
        ..Default::default()
    }
}
