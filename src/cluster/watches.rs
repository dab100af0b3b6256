//! Every watch `aims run` starts, one per kind: the stores they fill and the trigger streams the
//! controllers react to. The AISystem watch's events are shared with every controller that
//! AISystems trigger ([`SystemEvents`]), so no kind is watched twice for the stores.

use futures::{StreamExt, stream::BoxStream};
use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
    batch::v1::{CronJob, Job},
    core::v1::{Namespace, Pod, ReplicationController},
};
use kube::{
    Client,
    api::DynamicObject,
    runtime::{reflector, watcher},
};

use super::{
    Guarded, Stores, kserve,
    stored::Workload,
    watch::{drain, reflect, reflect_events, reflect_specs, watch_if},
};
use crate::api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment};

/// A trigger stream: every object of a kind that a watch event touched.
pub type Trigger<K> = BoxStream<'static, Result<K, watcher::Error>>;

/// The trigger streams of every watch (a kind not watched never yields). Each must be polled for
/// its store to fill: by the AISystem controller, or by [`Triggers::drain`].
pub struct Triggers {
    /// The AISystem watch's events themselves: the AISystem controller shares them with the
    /// others ([`SystemEvents`]).
    pub systems: BoxStream<'static, Result<watcher::Event<Guarded<AISystem>>, watcher::Error>>,
    /// RiskAssessments, but for changes of their status alone.
    pub assessments: Trigger<Guarded<RiskAssessment>>,
    /// ControlBindings, but for changes of their status alone.
    pub bindings: Trigger<Guarded<ControlBinding>>,
    /// ClusterControlBindings, but for changes of their status alone.
    pub cluster_bindings: Trigger<Guarded<ClusterControlBinding>>,
    /// Namespaces.
    pub namespaces: Trigger<Namespace>,
    /// Deployments.
    pub deployments: Trigger<Workload<Deployment>>,
    /// StatefulSets.
    pub stateful_sets: Trigger<Workload<StatefulSet>>,
    /// DaemonSets.
    pub daemon_sets: Trigger<Workload<DaemonSet>>,
    /// ReplicaSets.
    pub replica_sets: Trigger<Workload<ReplicaSet>>,
    /// ReplicationControllers.
    pub replication_controllers: Trigger<Workload<ReplicationController>>,
    /// Jobs.
    pub jobs: Trigger<Workload<Job>>,
    /// CronJobs.
    pub cron_jobs: Trigger<Workload<CronJob>>,
    /// Pods.
    pub pods: Trigger<Workload<Pod>>,
    /// KServe InferenceServices.
    pub inference_services: Trigger<DynamicObject>,
}

/// Which kinds are watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchScope {
    /// Every kind: the controllers run here.
    Everything,
    /// What the webhook reads: the aims records, the namespaces, and the Deployments,
    /// StatefulSets, ReplicaSets and ReplicationControllers that scale requests name. In a busy
    /// cluster Pods are most of the watch traffic, and a webhook-only replica does not read them.
    Webhook,
}

/// Starts (lazily: on first poll) one watch of every kind in `scope`, and gives back the stores
/// they fill and their trigger streams. The stores of kinds outside `scope` are empty and ready.
pub fn watch(client: &Client, scope: WatchScope) -> (Stores, Triggers) {
    let everything = scope == WatchScope::Everything;
    let (systems, system_events) = reflect_events::<Guarded<AISystem>>(client.clone());
    let (assessments, assessment_stream) = reflect_specs::<Guarded<RiskAssessment>>(client.clone());
    let (bindings, binding_stream) = reflect_specs::<Guarded<ControlBinding>>(client.clone());
    let (cluster_bindings, cluster_binding_stream) =
        reflect_specs::<Guarded<ClusterControlBinding>>(client.clone());
    let (namespaces, namespace_stream) = reflect::<Namespace>(client.clone());
    let (deployments, deployment_stream) = reflect::<Workload<Deployment>>(client.clone());
    let (stateful_sets, stateful_set_stream) = reflect::<Workload<StatefulSet>>(client.clone());
    let (replica_sets, replica_set_stream) = reflect::<Workload<ReplicaSet>>(client.clone());
    let (replication_controllers, replication_controller_stream) =
        reflect::<Workload<ReplicationController>>(client.clone());
    let (daemon_sets, daemon_set_stream) = watch_if(everything, Default::default(), || {
        reflect::<Workload<DaemonSet>>(client.clone())
    });
    let (jobs, job_stream) = watch_if(everything, Default::default(), || {
        reflect::<Workload<Job>>(client.clone())
    });
    let (cron_jobs, cron_job_stream) = watch_if(everything, Default::default(), || {
        reflect::<Workload<CronJob>>(client.clone())
    });
    let (pods, pod_stream) = watch_if(everything, Default::default(), || {
        reflect::<Workload<Pod>>(client.clone())
    });
    let (inference_services, inference_service_stream) = watch_if(
        everything,
        reflector::store::Writer::new(kserve::api_resource()),
        || kserve::reflect(client.clone()),
    );
    let stores = Stores {
        systems,
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
    };
    let triggers = Triggers {
        systems: system_events.boxed(),
        assessments: assessment_stream.boxed(),
        bindings: binding_stream.boxed(),
        cluster_bindings: cluster_binding_stream.boxed(),
        namespaces: namespace_stream.boxed(),
        deployments: deployment_stream.boxed(),
        stateful_sets: stateful_set_stream.boxed(),
        daemon_sets: daemon_set_stream.boxed(),
        replica_sets: replica_set_stream.boxed(),
        replication_controllers: replication_controller_stream.boxed(),
        jobs: job_stream.boxed(),
        cron_jobs: cron_job_stream.boxed(),
        pods: pod_stream.boxed(),
        inference_services: inference_service_stream.boxed(),
    };
    (stores, triggers)
}

impl Triggers {
    /// Polls every watch for its store alone, triggering nothing: a webhook-only replica's
    /// watches. Each workload event would otherwise go through a controller's queue to a reconcile
    /// that does nothing, on the CPU the webhook's calls need.
    pub fn drain(self) -> futures::future::BoxFuture<'static, ()> {
        use futures::FutureExt;
        futures::future::join_all([
            drain(self.systems),
            drain(self.assessments),
            drain(self.bindings),
            drain(self.cluster_bindings),
            drain(self.namespaces),
            drain(self.deployments),
            drain(self.stateful_sets),
            drain(self.daemon_sets),
            drain(self.replica_sets),
            drain(self.replication_controllers),
            drain(self.jobs),
            drain(self.cron_jobs),
            drain(self.pods),
            drain(self.inference_services),
        ])
        .map(drop)
        .boxed()
    }
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

    /// Channels with no subscriber yet.
    pub fn new() -> Self {
        Self(
            tokio::sync::broadcast::channel(Self::CAPACITY).0,
            tokio::sync::broadcast::channel(Self::CAPACITY).0,
        )
    }

    /// Shares one AISystem watch event.
    pub fn send(&self, event: &watcher::Event<Guarded<AISystem>>) {
        // No subscribers (a webhook-only replica) is not an error.
        let _ = self.0.send(event.clone());
    }

    /// Signals that the stores hold a binding change.
    pub fn binding_changed(&self) {
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

impl Default for SystemEvents {
    fn default() -> Self {
        Self::new()
    }
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
