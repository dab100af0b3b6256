//! The AISystem controller: evaluates a system whenever it, its assessments, the bindings, its
//! namespace or its workloads change, and at its next expiry; writes the status; emits Events on
//! transitions a person cares about.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jiff::Timestamp;
use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
    batch::v1::{CronJob, Job},
    core::v1::{Namespace, Pod, ReplicationController},
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::DynamicObject,
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        events::{Event, EventType, Recorder, Reporter},
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};

use super::{
    Error, FIELD_MANAGER,
    context::{self, Context, Guarded, Stores},
    halt, kserve,
    lean::Workload,
    metrics::Metrics,
    status,
};
use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment},
    engine::{
        approval::SigningKey, catalog::Catalog, detect::Detector, evaluate::belongs,
        workload::WorkloadFacts,
    },
};

/// How often a system is evaluated when nothing triggers it sooner.
const RESYNC: Duration = Duration::from_secs(600);

/// A reflected watch of `K` that keeps what decisions need: its store, and a trigger stream of
/// every object touched.
fn reflect<K: super::lean::Stored>(
    client: Client,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send,
) {
    let (store, events) = super::reflect_events(client);
    (store, events.touched_objects())
}

/// [`reflect`] for a kind whose status the systems' evaluation does not read: the store keeps
/// every update, the trigger stream skips those of the status alone.
fn reflect_specs<K: super::lean::Stored>(
    client: Client,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send,
) {
    let (store, events) = super::reflect_events(client);
    (
        store,
        super::without_status_updates(events).touched_objects(),
    )
}

/// `watch()` when `watched`; otherwise the store of `unused`, empty and ready at once, and a
/// trigger stream that never yields. A webhook-only replica keeps only the stores the webhook
/// reads.
fn watch_if<K, S>(
    watched: bool,
    unused: reflector::store::Writer<K>,
    watch: impl FnOnce() -> (Store<K>, S),
) -> (
    Store<K>,
    futures::future::Either<S, futures::stream::Pending<S::Item>>,
)
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
    S: futures::Stream,
{
    if watched {
        let (store, stream) = watch();
        (store, futures::future::Either::Left(stream))
    } else {
        let mut writer = unused;
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
        (
            writer.as_reader(),
            futures::future::Either::Right(futures::stream::pending()),
        )
    }
}

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

/// The AISystem watch's events, shared with the controllers that AISystems trigger, so that
/// AISystems are watched (and every status write decoded) once rather than once per controller;
/// and a signal for each change of a binding's spec (or its deletion), sent after the stores
/// hold it, for the controllers whose decisions read bindings from the stores.
#[derive(Clone)]
pub struct SystemEvents(
    tokio::sync::broadcast::Sender<watcher::Event<Guarded<AISystem>>>,
    tokio::sync::broadcast::Sender<()>,
);

impl SystemEvents {
    /// Events a slow subscriber may fall behind by before it misses some (it then waits for the
    /// next event or its periodic requeue, and says so in the log).
    const CAPACITY: usize = 1024;

    fn new() -> Self {
        Self(
            tokio::sync::broadcast::channel(Self::CAPACITY).0,
            tokio::sync::broadcast::channel(Self::CAPACITY).0,
        )
    }

    fn send(&self, event: &watcher::Event<Guarded<AISystem>>) {
        // No subscribers (a webhook-only replica) is not an error.
        let _ = self.0.send(event.clone());
    }

    fn binding_changed(&self) {
        let _ = self.1.send(());
    }

    /// A new subscriber's stream of binding changes (ControlBindings and ClusterControlBindings,
    /// created, changed in spec, or deleted), each after the stores hold it. A subscriber that
    /// falls behind gets one signal for all it missed.
    pub fn binding_changes(&self) -> impl futures::Stream<Item = ()> + Send + 'static {
        use tokio::sync::broadcast::error::RecvError;
        futures::stream::unfold(self.1.subscribe(), |mut rx| async move {
            match rx.recv().await {
                Ok(()) | Err(RecvError::Lagged(_)) => Some(((), rx)),
                Err(RecvError::Closed) => None,
            }
        })
    }

    /// A new subscriber's stream of the events sent from now on, as a watch stream.
    pub fn subscribe(
        &self,
    ) -> impl futures::Stream<Item = Result<watcher::Event<Guarded<AISystem>>, watcher::Error>>
    + Send
    + 'static {
        use tokio::sync::broadcast::error::RecvError;
        futures::stream::unfold(self.0.subscribe(), |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(event) => return Some((Ok(event), rx)),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a controller fell behind the AISystem watch");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        })
    }
}

/// What fills the stores: the AISystem controller, whose trigger streams are the stores' watches;
/// or, on a webhook-only replica, the watches alone.
pub enum Driver {
    /// The AISystem controller, to be run.
    Controller(Box<Controller<Guarded<AISystem>>>),
    /// The watches of a webhook-only replica: they fill the stores and trigger nothing. Each
    /// workload event would otherwise go through the controller's queue to a reconcile that does
    /// nothing, on the CPU the webhook's calls need.
    StoresOnly(futures::future::BoxFuture<'static, ()>),
}

/// Polls a reflected watch for its stores alone, logging its failures (it retries by itself).
fn drain<T>(
    stream: impl futures::Stream<Item = Result<T, watcher::Error>> + Send + 'static,
) -> futures::future::BoxFuture<'static, ()> {
    use futures::{FutureExt, StreamExt};
    stream
        .for_each(|item| {
            if let Err(error) = item {
                tracing::warn!(%error, "watch failed; retrying");
            }
            futures::future::ready(())
        })
        .boxed()
}

/// Builds the AISystem controller (or, with `controllers` off, the watches alone) and the
/// context every controller shares.
pub fn controller(
    client: Client,
    key: SigningKey,
    metrics: Arc<Metrics>,
    leader: tokio::sync::watch::Receiver<bool>,
    controllers: bool,
) -> (Driver, Arc<Context>, SystemEvents) {
    // One watch of AISystems: its events also go to the other controllers (`SystemEvents`).
    let (systems, system_events) = super::reflect_events::<Guarded<AISystem>>(client.clone());
    let fanout = SystemEvents::new();

    let (assessments, assessment_stream) = reflect_specs::<Guarded<RiskAssessment>>(client.clone());
    let (bindings, binding_stream) = reflect_specs::<Guarded<ControlBinding>>(client.clone());
    let (cluster_bindings, cluster_binding_stream) =
        reflect_specs::<Guarded<ClusterControlBinding>>(client.clone());
    let (namespaces, namespace_stream) = reflect::<Namespace>(client.clone());
    // The webhook reads the records, the namespaces, and the Deployments, StatefulSets,
    // ReplicaSets and ReplicationControllers that scale requests name; only the controllers read
    // the other kinds, so a webhook-only replica does not watch them (in a busy cluster, Pods are
    // most of the watch traffic).
    let (deployments, deployment_stream) = reflect::<Workload<Deployment>>(client.clone());
    let (stateful_sets, stateful_set_stream) = reflect::<Workload<StatefulSet>>(client.clone());
    let (replica_sets, replica_set_stream) = reflect::<Workload<ReplicaSet>>(client.clone());
    let (replication_controllers, replication_controller_stream) =
        reflect::<Workload<ReplicationController>>(client.clone());
    let (daemon_sets, daemon_set_stream) = watch_if(controllers, Default::default(), || {
        reflect::<Workload<DaemonSet>>(client.clone())
    });
    let (jobs, job_stream) = watch_if(controllers, Default::default(), || {
        reflect::<Workload<Job>>(client.clone())
    });
    let (cron_jobs, cron_job_stream) = watch_if(controllers, Default::default(), || {
        reflect::<Workload<CronJob>>(client.clone())
    });
    let (pods, pod_stream) = watch_if(controllers, Default::default(), || {
        reflect::<Workload<Pod>>(client.clone())
    });
    let (inference_services, inference_service_stream) = watch_if(
        controllers,
        reflector::store::Writer::new(kserve::api_resource()),
        || kserve::reflect(client.clone()),
    );

    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), Reporter::from(FIELD_MANAGER)),
        client,
        stores: Stores {
            systems: systems.clone(),
            assessments,
            bindings,
            cluster_bindings,
            namespaces,
            deployments,
            stateful_sets,
            daemon_sets,
            replica_sets,
            replication_controllers,
            jobs,
            cron_jobs,
            pods,
            inference_services,
        },
        catalog: Catalog::builtin(),
        detector: Detector::default(),
        key,
        metrics,
        synced: Default::default(),
        leader,
        controllers,
        pacer: Default::default(),
    });
    if !controllers {
        // The kinds only the controllers read are not watched at all (`watch_if`).
        let watches = futures::future::join_all([
            drain(system_events),
            drain(assessment_stream),
            drain(binding_stream),
            drain(cluster_binding_stream),
            drain(namespace_stream),
            drain(deployment_stream),
            drain(stateful_set_stream),
            drain(replica_set_stream),
            drain(replication_controller_stream),
        ]);
        let watches = futures::FutureExt::boxed(futures::FutureExt::map(watches, drop));
        return (Driver::StoresOnly(watches), ctx, fanout);
    }

    let system_stream = {
        let fanout = fanout.clone();
        futures::StreamExt::inspect(system_events, move |event| {
            if let Ok(event) = event {
                fanout.send(event);
            }
        })
        .applied_objects()
    };
    let controller = super::controller_for_stream(system_stream, systems.clone());
    let s = systems.clone();
    let by_workload = move |w: Arc<WorkloadFacts>| systems_of(&s, &w);
    let (s10, s11) = (by_workload.clone(), by_workload.clone());
    let (s1, s2, s3, s4, s5, s6, s7, s8, s9) = (
        by_workload.clone(),
        by_workload.clone(),
        by_workload.clone(),
        by_workload.clone(),
        by_workload.clone(),
        by_workload,
        systems.clone(),
        systems.clone(),
        systems.clone(),
    );
    let controller = controller
        .watches_stream(assessment_stream, |guard: Guarded<RiskAssessment>| {
            let ra = guard.0.ok()?;
            ra.namespace()
                .map(|ns| ObjectRef::new(&ra.spec.system_ref.name).within(&ns))
        })
        .watches_stream(
            deployment_stream,
            move |w: Workload<Deployment>| s1(w.facts),
        )
        .watches_stream(stateful_set_stream, move |w: Workload<StatefulSet>| {
            s2(w.facts)
        })
        .watches_stream(daemon_set_stream, move |w: Workload<DaemonSet>| s3(w.facts))
        .watches_stream(replica_set_stream, move |w: Workload<ReplicaSet>| {
            if w.facts.controlled {
                Vec::new()
            } else {
                s10(w.facts)
            }
        })
        .watches_stream(
            replication_controller_stream,
            move |w: Workload<ReplicationController>| s11(w.facts),
        )
        .watches_stream(job_stream, move |w: Workload<Job>| s4(w.facts))
        .watches_stream(cron_job_stream, move |w: Workload<CronJob>| s5(w.facts))
        .watches_stream(pod_stream, move |w: Workload<Pod>| {
            if w.facts.controlled {
                Vec::new()
            } else {
                s6(w.facts)
            }
        })
        .watches_stream_with(
            inference_service_stream,
            {
                let systems = systems.clone();
                move |o: DynamicObject| {
                    context::inference_service_facts(&o)
                        .map_or_else(Vec::new, |f| systems_of(&systems, &f))
                }
            },
            kserve::api_resource(),
        )
        .watches_stream(
            futures::StreamExt::inspect(binding_stream, {
                let fanout = fanout.clone();
                move |_| fanout.binding_changed()
            }),
            move |b: Guarded<ControlBinding>| all_in(&s7, b.namespace().as_deref()),
        )
        .watches_stream(
            futures::StreamExt::inspect(cluster_binding_stream, {
                let fanout = fanout.clone();
                move |_| fanout.binding_changed()
            }),
            move |_: Guarded<ClusterControlBinding>| all_in(&s8, None),
        )
        .watches_stream(namespace_stream, move |n: Namespace| {
            all_in(&s9, Some(&n.name_any()))
        });

    (Driver::Controller(Box::new(controller)), ctx, fanout)
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
    let halted = system.spec.oversight.as_ref().is_some_and(|o| o.halt);
    let previous = system.status.as_ref();
    let recorded = previous
        .map(|s| s.halted_workloads.as_slice())
        .unwrap_or_default();
    // A CronJob's running Jobs stop with it.
    let mut targets = workloads;
    targets.extend(ctx.stores.owned_jobs_of(system));
    let plan = halt::plan(halted, &targets, recorded);
    let new = status::system_status(
        previous,
        &evaluation,
        plan.recorded.clone(),
        system.metadata.generation,
        now,
    );

    // Halting: remember what to restore before stopping anything. Resuming: restore before forgetting.
    if !halted {
        halt::apply(&ctx.client, &namespace, &plan.steps).await?;
    }
    if previous != Some(&new) {
        let api: Api<AISystem> = Api::namespaced(ctx.client.clone(), &namespace);
        super::write_status(&ctx, "aisystem", &api, &name, &new).await?;
        for notice in status::notices(previous, &new) {
            let type_ = if notice.warning {
                EventType::Warning
            } else {
                EventType::Normal
            };
            publish(&ctx.recorder, system, type_, notice.reason, notice.note).await;
        }
    }
    if halted {
        halt::apply(&ctx.client, &namespace, &plan.steps).await?;
    }
    if !plan.steps.is_empty() {
        let (reason, verb) = if halted {
            ("WorkloadsStopped", "stopped")
        } else {
            ("WorkloadsRestored", "restored")
        };
        let names: Vec<String> = plan.steps.iter().map(ToString::to_string).collect();
        publish(
            &ctx.recorder,
            system,
            EventType::Normal,
            reason,
            format!("{verb}: {}", names.join(", ")),
        )
        .await;
    }

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

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use kube::runtime::watcher::Event;

    use super::{Guarded, SystemEvents};

    fn system(name: &str) -> Event<Guarded<super::AISystem>> {
        Event::Apply(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
                "metadata": {"name": name, "namespace": "ns"},
                "spec": {}
            }))
            .unwrap(),
        )
    }

    fn name(event: &Event<Guarded<super::AISystem>>) -> String {
        match event {
            Event::Apply(o) => kube::ResourceExt::name_any(o),
            other => format!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn every_subscriber_gets_every_event_and_one_that_fell_behind_goes_on() {
        let events = SystemEvents::new();
        let mut fast = Box::pin(events.subscribe());
        let slow = events.subscribe();
        let total = SystemEvents::CAPACITY + 10;
        let mut seen = Vec::new();
        for i in 0..total {
            events.send(&system(&format!("s{i}")));
            // The fast subscriber keeps up; the slow one reads nothing until the end.
            seen.push(name(&fast.next().await.unwrap().unwrap()));
        }
        events.send(&system("last"));
        drop(events);
        seen.extend(fast.map(|e| name(&e.unwrap())).collect::<Vec<_>>().await);
        assert_eq!(seen.len(), total + 1);
        assert_eq!(seen.first().map(String::as_str), Some("s0"));

        // The slow one missed the oldest events, not the newest, and its stream did not end there.
        let seen: Vec<_> = slow.map(|e| name(&e.unwrap())).collect().await;
        assert_eq!(seen.len(), SystemEvents::CAPACITY);
        assert_eq!(seen.last().map(String::as_str), Some("last"));
    }
}
