//! The AISystem controller: evaluates a system whenever it, its assessments, the bindings, its
//! namespace or its workloads change, and at its next expiry; writes the status; emits Events on
//! transitions a person cares about.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Resource, ResourceExt,
    api::DynamicObject,
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::{Event, EventType, Recorder},
        reflector::{ObjectRef, Store},
    },
};

use super::{Context, Error, halt, records, status};
use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment},
    cluster::{
        Guarded,
        custom::{self, CustomWorkload},
        stored::Workload,
        watch::without_status_updates,
        watches::{SharedEvents, Triggers},
    },
    engine::{membership::belongs, workload::WorkloadFacts},
};

/// How often a system is evaluated when nothing triggers it sooner.
const RESYNC: Duration = Duration::from_secs(600);

/// The systems a workload triggers: the one its label names, and those whose selector matches it.
fn systems_of(
    systems: &Store<Guarded<AISystem>>,
    w: &WorkloadFacts,
) -> Vec<ObjectRef<Guarded<AISystem>>> {
    let mut refs: Vec<ObjectRef<Guarded<AISystem>>> = w
        .system_label()
        .map(|name| ObjectRef::new(name).within(&w.namespace))
        .into_iter()
        .collect();
    refs.extend(
        systems
            .state()
            .iter()
            .filter(|g| {
                g.0.as_ref()
                    .is_ok_and(|s| s.spec.workload_selector.is_some() && belongs(s, w))
            })
            .map(|g| ObjectRef::from_obj(&**g)),
    );
    refs
}

fn all_in(
    systems: &Store<Guarded<AISystem>>,
    namespace: Option<&str>,
) -> Vec<ObjectRef<Guarded<AISystem>>> {
    systems
        .state()
        .iter()
        .filter(|s| namespace.is_none() || s.namespace().as_deref() == namespace)
        .map(|s| ObjectRef::from_obj(&**s))
        .collect()
}

/// Builds the AISystem controller over the watches' `triggers`: a system is reconciled when it,
/// its assessments, a binding, its namespace or one of its workloads changes. It polls every
/// watch, and passes the events of AISystems, RiskAssessments and bindings on to `shared`, for the
/// other controllers.
pub fn controller(
    ctx: &Context,
    triggers: Triggers,
    shared: &SharedEvents,
) -> Controller<Guarded<AISystem>> {
    let systems = &ctx.stores.systems;
    let system_stream = shared.systems.tee(triggers.systems).applied_objects();
    // Their statuses are not read by a system's evaluation: updates of them alone trigger nothing.
    let assessments =
        without_status_updates(shared.assessments.tee(triggers.assessments)).touched_objects();
    let bindings = without_status_updates(shared.bindings.tee(triggers.bindings)).touched_objects();
    let cluster_bindings =
        without_status_updates(shared.cluster_bindings.tee(triggers.cluster_bindings))
            .touched_objects();
    let in_namespace = {
        let systems = systems.clone();
        move |b: Guarded<ControlBinding>| all_in(&systems, b.namespace().as_deref())
    };
    let everywhere = {
        let systems = systems.clone();
        move |_: Guarded<ClusterControlBinding>| all_in(&systems, None)
    };
    let of_namespace = {
        let systems = systems.clone();
        move |n: Namespace| all_in(&systems, Some(&n.name_any()))
    };
    let mut controller = super::controller_for_stream(system_stream, systems.clone())
        .watches_stream(assessments, |guard: Guarded<RiskAssessment>| {
            let ra = guard.0.ok()?;
            ra.namespace()
                .map(|ns| ObjectRef::new(&ra.spec.system_ref.name).within(&ns))
        })
        .watches_stream(triggers.deployments, of_workload(systems, false))
        .watches_stream(triggers.stateful_sets, of_workload(systems, false))
        .watches_stream(triggers.daemon_sets, of_workload(systems, false))
        // A ReplicaSet a Deployment controls and a Pod of a governed controller are their
        // owner's: the owner's own events trigger its systems.
        .watches_stream(triggers.replica_sets, of_workload(systems, true))
        .watches_stream(
            triggers.replication_controllers,
            of_workload(systems, false),
        )
        .watches_stream(triggers.jobs, of_workload(systems, false))
        .watches_stream(triggers.cron_jobs, of_workload(systems, false))
        .watches_stream(triggers.pods, of_workload(systems, true))
        .watches_stream(
            futures::StreamExt::inspect(bindings, signalled(shared)),
            in_namespace,
        )
        .watches_stream(
            futures::StreamExt::inspect(cluster_bindings, signalled(shared)),
            everywhere,
        )
        .watches_stream(triggers.namespaces, of_namespace);
    for (store, trigger) in ctx.stores.custom.iter().zip(triggers.custom) {
        let Some(spec) = store.kind.spec() else {
            continue;
        };
        let systems = systems.clone();
        controller = controller.watches_stream_with(
            trigger,
            move |w: CustomWorkload| systems_of(&systems, &w.facts),
            custom::api_resource(spec),
        );
    }
    // OpenReports' CRD installed after the operator started: every system is reported.
    controller.reconcile_all_on(
        ctx.stores
            .installed
            .appeared(crate::cluster::crds::REPORTS_CRD),
    )
}

/// Signals a binding change to the other controllers, once the stores hold it.
fn signalled<T>(shared: &SharedEvents) -> impl FnMut(&T) + Send + 'static {
    let shared = shared.clone();
    move |_| shared.binding_changed()
}

/// The mapper from a workload of kind `K` to the systems it triggers; with `unless_controlled`,
/// none for a workload another governed workload controls.
fn of_workload<K>(
    systems: &Store<Guarded<AISystem>>,
    unless_controlled: bool,
) -> impl Fn(Workload<K>) -> Vec<ObjectRef<Guarded<AISystem>>> + Send + Sync + 'static {
    let systems = systems.clone();
    move |w: Workload<K>| {
        if unless_controlled && w.facts.controlled {
            Vec::new()
        } else {
            systems_of(&systems, &w.facts)
        }
    }
}

/// Evaluates one system and writes its status.
#[tracing::instrument(skip_all, fields(system = %guard.name_any(), namespace = guard.namespace().unwrap_or_default()))]
pub async fn reconcile(guard: Arc<Guarded<AISystem>>, ctx: Arc<Context>) -> Result<Action, Error> {
    if !ctx.may_write() {
        // Before the stores sync, a status would be computed from half the cluster; a replica
        // without the Lease leaves writing to the leader.
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let system = match &guard.0 {
        Ok(system) => system,
        Err(invalid) => return Ok(unreadable::<AISystem>(&ctx, invalid).await),
    };
    let namespace = system.namespace().unwrap_or_default();
    let name = system.name_any();
    // At most one evaluation per interval unless the spec changed since the status was computed.
    let spec_changed =
        system.status.as_ref().and_then(|s| s.observed_generation) != system.metadata.generation;
    if let Some(wait) = ctx
        .pacer
        .hold(&namespace, &name, spec_changed, Instant::now())
    {
        return Ok(Action::requeue(wait));
    }
    let _timer = ctx.metrics.reconcile_timer("aisystem");
    let now = Timestamp::now();
    let (evaluation, workloads) = ctx.evaluate(system, now);

    // The stop button: while halted, the system's workloads are stopped; on resume, restored.
    let halted = system.spec.halted();
    let previous = system.status.as_ref();
    let recorded = previous
        .map(|s| s.halted_workloads.as_slice())
        .unwrap_or_default();
    // A CronJob's running Jobs stop with it.
    let mut targets = workloads;
    targets.extend(ctx.stores.owned_jobs_of(system));
    let plan = crate::engine::halt::plan(halted, &targets, recorded);
    let new = status::system_status(
        previous,
        &evaluation,
        plan.recorded.clone(),
        system.metadata.generation,
        now,
    );

    // Halting: remember what to restore before stopping anything. Resuming: restore before forgetting.
    if !halted {
        halt::apply(&ctx.client, &ctx.stores, &namespace, &plan.steps).await?;
    }
    if previous != Some(&new) {
        let api: Api<AISystem> = Api::namespaced(ctx.client.clone(), &namespace);
        super::write_status(&ctx, "aisystem", &api, &name, &new).await?;
        let notices = status::notices(previous, &new);
        for (event, fields) in
            records::of_system(&namespace, &name, previous, &new, &evaluation, &notices)
        {
            ctx.chain.record(event, fields);
        }
        for notice in notices {
            let type_ = if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            };
            publish(&ctx.recorder, system, type_, notice.reason, notice.note).await;
        }
    }
    if halted {
        halt::apply(&ctx.client, &ctx.stores, &namespace, &plan.steps).await?;
    }
    if !plan.steps.is_empty() {
        let (reason, verb) = if halted {
            ("WorkloadsStopped", "stopped")
        } else {
            ("WorkloadsRestored", "restored")
        };
        let names: Vec<String> = plan.steps.iter().map(ToString::to_string).collect();
        let (event, fields) = records::of_halt(&namespace, &name, reason, &names);
        ctx.chain.record(event, fields);
        publish(
            &ctx.recorder,
            system,
            EventType::Normal,
            reason,
            format!("{verb}: {}", names.join(", ")),
        )
        .await;
    }
    super::openreports::sync(&ctx, system, &evaluation, &targets).await;
    super::floor::sync(&ctx, system, &evaluation, &targets).await;

    Ok(requeue_at(evaluation.next_review_at, now))
}

/// Requeues just after `at` (an expiry), or at the resync interval, whichever is sooner.
pub fn requeue_at(at: Option<Timestamp>, now: Timestamp) -> Action {
    let wait = at.map_or(RESYNC, |at| {
        let secs = now.duration_until(at).as_secs().max(0).unsigned_abs();
        Duration::from_secs(secs + 1).min(RESYNC)
    });
    Action::requeue(wait)
}

/// Publishes an Event on `system`; a failure is logged, never fatal.
pub(super) async fn publish<K: kube::Resource<DynamicType = ()>>(
    recorder: &Recorder,
    system: &K,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(truncate(&note, 1000)),
        action: "Evaluate".into(),
        secondary: None,
    };
    if let Err(err) = recorder.publish(&event, &system.object_ref(&())).await {
        tracing::warn!(%err, "cannot publish event");
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Tells, with a Warning Event on the object, that an aims object cannot be read (it was stored
/// under another schema, or written around the API's validation); it is skipped until it changes,
/// and every other object goes on being evaluated. The Event names the field: the object is read
/// once more, untyped, to find it.
pub async fn unreadable<K>(
    ctx: &Context,
    invalid: &kube::core::error_boundary::InvalidObject,
) -> Action
where
    K: Resource<DynamicType = ()> + serde::de::DeserializeOwned,
{
    let meta = &invalid.metadata;
    let kind = K::kind(&()).into_owned();
    let name = meta.name.clone().unwrap_or_default();
    let namespace = meta.namespace.clone().unwrap_or_default();
    let resource = kube::api::ApiResource::erase::<K>(&());
    let raw = Api::<DynamicObject>::namespaced_with(ctx.client.clone(), &namespace, &resource)
        .get(&name)
        .await;
    let problem = raw
        .ok()
        .and_then(|o| serde_json::to_value(o).ok())
        .and_then(|v| serde_path_to_error::deserialize::<_, K>(v).err())
        .map_or_else(
            || invalid.error.clone(),
            |e| format!("{}: {}", e.path(), e.inner()),
        );
    tracing::warn!(kind, name, namespace, problem, "cannot read object");
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(kind.clone()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        ..Default::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: "InvalidObject".into(),
        note: Some(truncate(
            &format!(
                "the operator cannot read this {kind}: {problem}; fix the field and apply again"
            ),
            1000,
        )),
        action: "Read".into(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&event, &reference).await {
        tracing::warn!(%err, "cannot publish event");
    }
    Action::await_change()
}

/// Transient errors are retried; the next change or resync retries the rest.
pub fn error_policy(system: Arc<Guarded<AISystem>>, err: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(system = %system.name_any(), error = %err, "reconcile failed");
    ctx.metrics.reconcile_error("aisystem", err.label());
    Action::requeue(Duration::from_secs(15))
}

/// The reconcile against a mocked API server: which requests it sends, and in which order.
#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::http::{Request, Response};
    use kube::{Client, client::Body};
    use serde_json::{Value, json};

    use super::*;
    use crate::{
        cluster::{Stores, store_of},
        testing::{Manifest, System},
    };

    /// One request the reconcile sent: method, path, body.
    type Sent = (String, String, Value);

    /// A client that answers every request as the API server would (the object it is asked to
    /// change) and records it.
    fn recording_client() -> (Client, Arc<Mutex<Vec<Sent>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let service = tower::service_fn(move |req: Request<Body>| {
            let log = log.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = body.collect_bytes().await.unwrap_or_default();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let path = parts.uri.path().to_owned();
                log.lock()
                    .unwrap()
                    .push((parts.method.to_string(), path.clone(), body));
                let answer = if path.ends_with("/scale") {
                    json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                           "metadata": {"name": "scorer", "namespace": "credit"},
                           "spec": {"replicas": 0}})
                } else if path.ends_with("/status") {
                    system(true, None)
                } else {
                    json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
                           "metadata": {"name": "e", "namespace": "credit"},
                           "eventTime": "2026-12-01T00:00:00.000000Z"})
                };
                Ok::<_, std::convert::Infallible>(
                    Response::builder()
                        .status(200)
                        .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                        .unwrap(),
                )
            }
        });
        (Client::new(service, "default"), sent)
    }

    fn system(halt: bool, status: Option<Value>) -> Value {
        let system = System::scoring()
            .tier("Minimal")
            .meta("generation", json!(1))
            .halted_if(halt);
        match status {
            Some(status) => system.status(status),
            None => system,
        }
        .json()
    }

    fn deployment(replicas: i32) -> Value {
        Manifest::deployment("scorer", "r.example.com/scorer:1")
            .namespace("credit")
            .system("scoring")
            .container("c")
            .without_requests()
            .replicas(replicas)
            .json()
    }

    /// A leader's context over stores holding `system` and its Deployment, with `client`.
    fn context(client: Client, system: &Value, replicas: i32) -> Arc<Context> {
        let stores = Stores {
            systems: store_of(vec![serde_json::from_value(system.clone()).unwrap()]),
            deployments: store_of(vec![serde_json::from_value(deployment(replicas)).unwrap()]),
            ..Stores::empty()
        };
        Context::for_test(client, stores, true)
    }

    /// Reconciles `system` once with a fresh context and gives back what was sent.
    async fn reconcile_once(system: &Value, replicas: i32) -> Vec<Sent> {
        let (client, sent) = recording_client();
        let ctx = context(client, system, replicas);
        let guard = Arc::new(serde_json::from_value(system.clone()).unwrap());
        reconcile(guard, ctx).await.unwrap();
        sent.lock().unwrap().clone()
    }

    /// Where the first request to a path ending in `suffix` came, if one did.
    fn position(sent: &[Sent], method: &str, suffix: &str) -> Option<usize> {
        sent.iter()
            .position(|(m, p, _)| m == method && p.ends_with(suffix))
    }

    #[tokio::test]
    async fn a_halt_writes_the_status_that_records_the_replicas_before_it_scales_down() {
        let sent = reconcile_once(&system(true, None), 2).await;
        let status = position(&sent, "PATCH", "/aisystems/scoring/status").expect("status written");
        let scale = position(&sent, "PATCH", "/deployments/scorer/scale").expect("scaled");
        assert!(status < scale, "{sent:#?}");
        assert_eq!(
            sent[status].2["status"]["haltedWorkloads"][0]["replicas"],
            2
        );
        assert_eq!(sent[scale].2, json!({"spec": {"replicas": 0}}));
    }

    #[tokio::test]
    async fn a_resume_restores_the_replicas_before_it_forgets_them() {
        // Halted earlier at two replicas: the status recorded them, the Deployment is at zero.
        let halted = reconcile_once(&system(true, None), 2).await;
        let recorded = halted
            .iter()
            .find(|(_, p, _)| p.ends_with("/status"))
            .map(|(_, _, body)| body["status"].clone())
            .unwrap();
        let sent = reconcile_once(&system(false, Some(recorded)), 0).await;
        let scale = position(&sent, "PATCH", "/deployments/scorer/scale").expect("restored");
        let status = position(&sent, "PATCH", "/aisystems/scoring/status").expect("status written");
        assert!(scale < status, "{sent:#?}");
        assert_eq!(sent[scale].2, json!({"spec": {"replicas": 2}}));
        let left = sent[status].2["status"].get("haltedWorkloads");
        assert!(left.is_none_or(|w| w == &json!([])), "{left:?}");
    }

    #[tokio::test]
    async fn nothing_is_written_when_nothing_changed() {
        let first = reconcile_once(&system(false, None), 2).await;
        let written = first
            .iter()
            .find(|(_, p, _)| p.ends_with("/status"))
            .map(|(_, _, body)| body["status"].clone())
            .expect("the first evaluation writes a status");
        // The same system with the status it was given: a fresh replica evaluates it again.
        let sent = reconcile_once(&system(false, Some(written)), 2).await;
        assert!(sent.is_empty(), "{sent:#?}");
    }
}
