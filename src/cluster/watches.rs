//! Every watch `aims run` starts, one per kind: the stores they fill and the trigger streams the
//! controllers react to. The AISystem controller polls every watch; the events of the kinds other
//! controllers read (AISystems, RiskAssessments and both kinds of binding) are shared with them
//! ([`SharedEvents`]), so no kind is watched twice, and a controller sees an object only once the
//! stores it decides from hold it.

use std::sync::{Arc, Mutex, PoisonError};

use futures::{Stream, StreamExt, stream::BoxStream};
use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
    batch::v1::{CronJob, Job},
    core::v1::{Namespace, Pod, ReplicationController},
};
use kube::{Client, runtime::watcher};
use tokio::sync::mpsc;

use super::{
    Guarded, Stores, crds,
    custom::{self, CustomStore, CustomWorkload},
    stored::Workload,
    watch::{drain, reflect, reflect_events, watch_if},
};
use crate::api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment};

/// A trigger stream: every object of a kind that a watch event touched.
pub type Trigger<K> = BoxStream<'static, Result<K, watcher::Error>>;

/// A watch's events, after its store applied each.
pub type Events<K> = BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>;

/// The trigger streams of every watch (a kind not watched never yields). Each must be polled for
/// its store to fill: by the AISystem controller, or by [`Triggers::drain`].
pub struct Triggers {
    /// The AISystem watch's events: the AISystem controller shares them ([`SharedEvents`]).
    pub systems: Events<Guarded<AISystem>>,
    /// The RiskAssessment watch's events, shared likewise.
    pub assessments: Events<Guarded<RiskAssessment>>,
    /// The ControlBinding watch's events, shared likewise.
    pub bindings: Events<Guarded<ControlBinding>>,
    /// The ClusterControlBinding watch's events, shared likewise.
    pub cluster_bindings: Events<Guarded<ClusterControlBinding>>,
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
    /// The custom-resource kinds, one trigger stream per store of [`Stores::custom`], in the same
    /// order.
    pub custom: Vec<Trigger<CustomWorkload>>,
    /// The watch of the cluster's CRDs, which starts each custom kind's watch once its CRD is
    /// installed: a task of its own, polled for as long as the watches run.
    pub crds: futures::future::BoxFuture<'static, ()>,
}

/// Which kinds are watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchScope {
    /// Every kind: the controllers run here.
    Everything,
    /// What the webhook reads: the aims records, the namespaces, and the Deployments,
    /// StatefulSets, ReplicaSets, ReplicationControllers and custom kinds that scale requests
    /// name. In a busy cluster Pods are most of the watch
    /// traffic, and a webhook-only replica does not read them.
    Webhook,
}

/// Starts (lazily: on first poll) one watch of every kind in `scope`, and gives back the stores
/// they fill and their trigger streams. The stores of kinds outside `scope` are empty and ready.
pub fn watch(client: &Client, scope: WatchScope) -> (Stores, Triggers) {
    let everything = scope == WatchScope::Everything;
    let (systems, system_events) = reflect_events::<Guarded<AISystem>>(client.clone());
    let (assessments, assessment_stream) =
        reflect_events::<Guarded<RiskAssessment>>(client.clone());
    let (bindings, binding_stream) = reflect_events::<Guarded<ControlBinding>>(client.clone());
    let (cluster_bindings, cluster_binding_stream) =
        reflect_events::<Guarded<ClusterControlBinding>>(client.clone());
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
    let (installed, crds) = crds::watch_crds(client.clone());
    // Every scope watches the custom kinds: a scale request may name any of them.
    let (custom, custom_streams): (Vec<CustomStore>, Vec<Trigger<CustomWorkload>>) =
        crate::engine::kinds::installed()
            .iter()
            .map(|spec| {
                let (store, stream) = custom::reflect(client.clone(), spec, installed.clone());
                (store, stream.boxed())
            })
            .unzip();
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
        custom,
        installed,
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
        custom: custom_streams,
        crds,
    };
    (stores, triggers)
}

impl Triggers {
    /// Polls every watch for its store alone, triggering nothing: a webhook-only replica's
    /// watches. Each workload event would otherwise go through a controller's queue to a reconcile
    /// that does nothing, on the CPU the webhook's calls need.
    pub fn drain(self) -> futures::future::BoxFuture<'static, ()> {
        use futures::FutureExt;
        let custom = self.custom.into_iter().map(drain).chain([self.crds]);
        futures::future::join_all(
            [
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
            ]
            .into_iter()
            .chain(custom),
        )
        .map(drop)
        .boxed()
    }
}

/// One watch's events, passed on to every subscriber: the controllers that read a kind besides
/// the AISystem controller, which polls its watch.
///
/// Each subscriber has its own queue, so none misses an event (a missed event would be a lost
/// wake-up: an object never reconciled for it). A queue holds only what arrived since its
/// controller last polled it; controllers poll their trigger streams continuously, moving each
/// event to their scheduler, which keeps one entry per object. A subscriber sees the events sent
/// after it subscribed: subscribe before the watch is first polled.
pub struct Fanout<K>(Arc<Mutex<Vec<mpsc::UnboundedSender<watcher::Event<K>>>>>);

impl<K> Clone for Fanout<K> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<K> Default for Fanout<K> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<K: Clone + Send + 'static> Fanout<K> {
    /// Passes `events` through, sending each event to every subscriber on its way.
    pub fn tee<S>(&self, events: S) -> impl Stream<Item = S::Item> + Send + 'static
    where
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    {
        let fanout = self.clone();
        events.inspect(move |event| {
            if let Ok(event) = event {
                fanout.send(event);
            }
        })
    }

    /// Sends one event to every subscriber still there.
    pub fn send(&self, event: &watcher::Event<K>) {
        let mut subscribers = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        subscribers.retain(|tx| tx.send(event.clone()).is_ok());
    }

    /// A new subscriber's stream of the events sent from now on, as a watch stream.
    pub fn subscribe(
        &self,
    ) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tx);
        futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (Ok(event), rx))
        })
    }
}

/// The events the AISystem controller shares: those of the AISystem, RiskAssessment and binding
/// watches, and a signal for each change of a binding's spec (or its deletion), sent after the
/// stores hold it, for the controllers whose decisions read bindings from the stores.
#[derive(Clone)]
pub struct SharedEvents {
    /// AISystems.
    pub systems: Fanout<Guarded<AISystem>>,
    /// RiskAssessments.
    pub assessments: Fanout<Guarded<RiskAssessment>>,
    /// ControlBindings.
    pub bindings: Fanout<Guarded<ControlBinding>>,
    /// ClusterControlBindings.
    pub cluster_bindings: Fanout<Guarded<ClusterControlBinding>>,
    binding_changes: tokio::sync::broadcast::Sender<()>,
}

impl SharedEvents {
    /// Binding-change signals a slow subscriber may fall behind by (it then gets one for all).
    const CAPACITY: usize = 1024;

    /// Nothing shared yet, and no subscriber.
    pub fn new() -> Self {
        Self {
            systems: Fanout::default(),
            assessments: Fanout::default(),
            bindings: Fanout::default(),
            cluster_bindings: Fanout::default(),
            binding_changes: tokio::sync::broadcast::channel(Self::CAPACITY).0,
        }
    }

    /// Signals that the stores hold a binding change.
    pub fn binding_changed(&self) {
        // No subscribers (a webhook-only replica) is not an error.
        let _ = self.binding_changes.send(());
    }

    /// A new subscriber's stream of binding changes (ControlBindings and ClusterControlBindings,
    /// created, changed in spec, or deleted), each after the stores hold it. A subscriber that
    /// falls behind gets one signal for all it missed.
    pub fn binding_changes(&self) -> impl Stream<Item = ()> + Send + 'static {
        use tokio::sync::broadcast::error::RecvError;
        futures::stream::unfold(self.binding_changes.subscribe(), |mut rx| async move {
            match rx.recv().await {
                Ok(()) | Err(RecvError::Lagged(_)) => Some(((), rx)),
                Err(RecvError::Closed) => None,
            }
        })
    }
}

impl Default for SharedEvents {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use kube::runtime::watcher::Event;

    use super::{Fanout, Guarded};

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
    async fn every_subscriber_gets_every_event_however_far_behind_it_is() {
        let events = Fanout::default();
        let mut fast = Box::pin(events.subscribe());
        let slow = events.subscribe();
        let dropped = events.subscribe();
        drop(dropped);
        let total = 5000;
        let mut seen = Vec::new();
        for i in 0..total {
            events.send(&system(&format!("s{i}")));
            // The fast subscriber keeps up; the slow one reads nothing until the end.
            seen.push(name(&fast.next().await.unwrap().unwrap()));
        }
        // A subscriber that went away is forgotten, not an error.
        assert_eq!(events.0.lock().unwrap().len(), 2);
        drop(events);
        assert_eq!(seen.len(), total);
        assert!(
            fast.next().await.is_none(),
            "the stream ends with the watch"
        );

        let seen: Vec<_> = slow.map(|e| name(&e.unwrap())).collect().await;
        assert_eq!(seen.len(), total);
        assert_eq!(seen.first().map(String::as_str), Some("s0"));
        assert_eq!(seen.last().map(String::as_str), Some("s4999"));
    }
}
