//! The reflector stores both doors decide from, and their queries. The stores keep what decisions
//! need ([`super::stored`]): workloads as their facts.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
    batch::v1::{CronJob, Job},
    core::v1::{Namespace, Pod, ReplicationController},
};
use kube::{ResourceExt, core::DeserializeGuard, runtime::reflector::Store};

use super::{crds::Installed, custom::CustomStore, stored::Workload};
use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment},
    engine::{
        binding::Binding,
        decide::{Namespaced, Records},
        membership,
        workload::{WorkloadFacts, WorkloadKind},
    },
};

/// An aims object as read from the API server, or why it could not be read: one malformed object
/// becomes an Event instead of stopping its whole watch.
pub type Guarded<K> = DeserializeGuard<K>;

/// The readable objects among `guarded`.
pub fn readable<K>(guarded: &[Arc<Guarded<K>>]) -> impl Iterator<Item = &K> {
    guarded.iter().filter_map(|g| g.0.as_ref().ok())
}

/// Every binding in the stores: namespaced, then cluster-wide.
pub type StoredBindings = (
    Vec<Arc<Guarded<ControlBinding>>>,
    Vec<Arc<Guarded<ClusterControlBinding>>>,
);

/// Whether a workload with these labels (its own, its pod template's) is wanted.
type LabelFilter<'a> = dyn Fn(&BTreeMap<String, String>, &BTreeMap<String, String>) -> bool + 'a;

/// The reflector stores the engine's inputs come from.
#[derive(Clone)]
pub struct Stores {
    /// AISystems.
    pub systems: Store<Guarded<AISystem>>,
    /// RiskAssessments.
    pub assessments: Store<Guarded<RiskAssessment>>,
    /// ControlBindings.
    pub bindings: Store<Guarded<ControlBinding>>,
    /// ClusterControlBindings.
    pub cluster_bindings: Store<Guarded<ClusterControlBinding>>,
    /// Namespaces (for their labels).
    pub namespaces: Store<Namespace>,
    /// Deployments.
    pub deployments: Store<Workload<Deployment>>,
    /// StatefulSets.
    pub stateful_sets: Store<Workload<StatefulSet>>,
    /// DaemonSets.
    pub daemon_sets: Store<Workload<DaemonSet>>,
    /// ReplicaSets (those a Deployment owns are kept too: a scale request may name one).
    pub replica_sets: Store<Workload<ReplicaSet>>,
    /// ReplicationControllers.
    pub replication_controllers: Store<Workload<ReplicationController>>,
    /// Jobs.
    pub jobs: Store<Workload<Job>>,
    /// CronJobs.
    pub cron_jobs: Store<Workload<CronJob>>,
    /// Pods.
    pub pods: Store<Workload<Pod>>,
    /// One store per custom-resource kind of the governed kinds' data (each empty until its CRD
    /// exists).
    pub custom: Vec<CustomStore>,
    /// Which of those kinds are installed, as the CRD watch reports them.
    pub installed: Installed,
}

impl Stores {
    /// Stores that hold nothing, as after watches that listed an empty cluster: for tests and
    /// benchmarks, which fill in the kinds they need (`Stores { deployments, ..Stores::empty() }`).
    pub fn empty() -> Self {
        Self {
            systems: store_of(Vec::new()),
            assessments: store_of(Vec::new()),
            bindings: store_of(Vec::new()),
            cluster_bindings: store_of(Vec::new()),
            namespaces: store_of(Vec::new()),
            deployments: store_of(Vec::new()),
            stateful_sets: store_of(Vec::new()),
            daemon_sets: store_of(Vec::new()),
            replica_sets: store_of(Vec::new()),
            replication_controllers: store_of(Vec::new()),
            jobs: store_of(Vec::new()),
            cron_jobs: store_of(Vec::new()),
            pods: store_of(Vec::new()),
            custom: crate::engine::kinds::installed()
                .iter()
                .map(CustomStore::unwatched)
                .collect(),
            installed: Installed::fixed(Default::default()),
        }
    }

    /// Waits until every store has seen its first full list, logging the ones still listing every
    /// `every` so a watch that never completes is named rather than silent.
    pub async fn wait_until_ready(&self, every: std::time::Duration) {
        let pending = std::sync::Mutex::new(std::collections::BTreeSet::new());
        let track = |name: &'static str, ready: futures::future::BoxFuture<'static, ()>| {
            pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name);
            let pending = &pending;
            async move {
                ready.await;
                pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(name);
            }
        };
        fn ready<K>(store: &Store<K>) -> futures::future::BoxFuture<'static, ()>
        where
            K: kube::Resource + Clone + Send + Sync + 'static,
            K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
        {
            let store = store.clone();
            Box::pin(async move {
                // An error means the writer is gone: the process is shutting down.
                let _ = store.wait_until_ready().await;
            })
        }
        let all = futures::future::join_all([
            track("AISystems", ready(&self.systems)),
            track("RiskAssessments", ready(&self.assessments)),
            track("ControlBindings", ready(&self.bindings)),
            track("ClusterControlBindings", ready(&self.cluster_bindings)),
            track("Namespaces", ready(&self.namespaces)),
            track("Deployments", ready(&self.deployments)),
            track("StatefulSets", ready(&self.stateful_sets)),
            track("DaemonSets", ready(&self.daemon_sets)),
            track("ReplicaSets", ready(&self.replica_sets)),
            track(
                "ReplicationControllers",
                ready(&self.replication_controllers),
            ),
            track("Jobs", ready(&self.jobs)),
            track("CronJobs", ready(&self.cron_jobs)),
            track("Pods", ready(&self.pods)),
        ]);
        // The custom kinds are not waited for here: their CRDs may never be installed.
        tokio::pin!(all);
        loop {
            tokio::select! {
                _ = &mut all => return,
                () = tokio::time::sleep(every) => {
                    let waiting: Vec<_> =
                        pending.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
                    tracing::info!(?waiting, "stores still listing");
                }
            }
        }
    }

    /// The labels of a namespace.
    pub fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        self.namespaces
            .get(&kube::runtime::reflector::ObjectRef::new(namespace))
            .map(|n| n.labels().clone())
            .unwrap_or_default()
    }

    /// The RiskAssessments of a namespace, as stored (see [`readable`]); none is copied.
    pub fn assessments_in(&self, namespace: &str) -> Vec<Arc<Guarded<RiskAssessment>>> {
        in_namespace(&self.assessments, Some(namespace)).collect()
    }

    /// The RiskAssessments of `system`, as stored (see [`readable`]); none is copied.
    pub fn assessments_of(&self, system: &AISystem) -> Vec<Arc<Guarded<RiskAssessment>>> {
        let name = system.metadata.name.as_deref().unwrap_or_default();
        in_namespace(&self.assessments, system.metadata.namespace.as_deref())
            .filter(|a| a.0.as_ref().is_ok_and(|ra| ra.spec.system_ref.name == name))
            .collect()
    }

    /// Every binding, namespaced and cluster-wide, held while the caller borrows them.
    pub fn bindings(&self) -> StoredBindings {
        (self.bindings.state(), self.cluster_bindings.state())
    }

    /// The facts of every governed workload in every namespace, shared with the stores.
    pub fn all_workloads(&self) -> Vec<Arc<WorkloadFacts>> {
        self.workloads(None)
    }

    /// The facts of the governed workloads of `system` (in its namespace, labelled for it or
    /// selected by its `workloadSelector`). Only those are read in full: a system's evaluation
    /// does not pay for the rest of its namespace.
    pub fn workloads_of(&self, system: &AISystem) -> Vec<Arc<WorkloadFacts>> {
        let namespace = system.namespace().unwrap_or_default();
        self.select(Some(&namespace), &|labels, pod_labels| {
            membership::labels_belong(system, labels, pod_labels)
        })
    }

    /// The Jobs a CronJob of `system` has started (they belong to the system by their labels):
    /// suspending the CronJob starts no new one, so a halt suspends these too.
    pub fn owned_jobs_of(&self, system: &AISystem) -> Vec<Arc<WorkloadFacts>> {
        let namespace = system.namespace().unwrap_or_default();
        in_namespace(&self.jobs, Some(&namespace))
            .filter(|w| w.facts.controlled)
            .filter(|w| membership::labels_belong(system, &w.facts.labels, &w.facts.pod_labels))
            .map(|w| w.facts.clone())
            .collect()
    }

    /// The facts of the governed workloads of one namespace, or of all. Pods, ReplicaSets and Jobs
    /// that a governed kind controls are left out: their owner is the workload. Those another
    /// kind owns (or nothing) are workloads of their own.
    fn workloads(&self, namespace: Option<&str>) -> Vec<Arc<WorkloadFacts>> {
        self.select(namespace, &|_, _| true)
    }

    fn select(&self, namespace: Option<&str>, keep: &LabelFilter<'_>) -> Vec<Arc<WorkloadFacts>> {
        fn facts<K: kube::Resource<DynamicType = ()> + 'static>(
            store: &Store<Workload<K>>,
            namespace: Option<&str>,
            keep: &LabelFilter<'_>,
        ) -> impl Iterator<Item = Arc<WorkloadFacts>> {
            in_namespace(store, namespace)
                .filter(|w| keep(&w.facts.labels, &w.facts.pod_labels))
                .map(|w| w.facts.clone())
        }
        let mut out = Vec::new();
        out.extend(facts(&self.deployments, namespace, keep));
        out.extend(facts(&self.stateful_sets, namespace, keep));
        out.extend(facts(&self.daemon_sets, namespace, keep));
        out.extend(facts(&self.cron_jobs, namespace, keep));
        out.extend(facts(&self.replication_controllers, namespace, keep));
        // A ReplicaSet a Deployment controls, a Job a CronJob controls and a Pod of a governed
        // controller are their owner's, not workloads of their own.
        out.extend(facts(&self.replica_sets, namespace, keep).filter(|f| !f.controlled));
        out.extend(facts(&self.jobs, namespace, keep).filter(|f| !f.controlled));
        out.extend(facts(&self.pods, namespace, keep).filter(|f| !f.controlled));
        for custom in &self.custom {
            out.extend(
                in_namespace(&custom.store, namespace)
                    .filter(|w| keep(&w.facts.labels, &w.facts.pod_labels))
                    .map(|w| w.facts.clone()),
            );
        }
        out
    }

    /// The store of a custom kind.
    pub fn custom(&self, kind: WorkloadKind) -> Option<&CustomStore> {
        self.custom.iter().find(|c| c.kind == kind)
    }

    /// The uid of the stored workload `w` describes, if the stores hold it.
    pub fn uid_of(&self, w: &WorkloadFacts) -> Option<String> {
        fn uid<K>(store: &Store<Workload<K>>, w: &WorkloadFacts) -> Option<String>
        where
            K: kube::Resource<DynamicType = ()> + 'static,
        {
            let key = kube::runtime::reflector::ObjectRef::new(&w.name).within(&w.namespace);
            store.get(&key).and_then(|o| o.uid())
        }
        match w.kind {
            WorkloadKind::Deployment => uid(&self.deployments, w),
            WorkloadKind::StatefulSet => uid(&self.stateful_sets, w),
            WorkloadKind::DaemonSet => uid(&self.daemon_sets, w),
            WorkloadKind::ReplicaSet => uid(&self.replica_sets, w),
            WorkloadKind::ReplicationController => uid(&self.replication_controllers, w),
            WorkloadKind::Job => uid(&self.jobs, w),
            WorkloadKind::CronJob => uid(&self.cron_jobs, w),
            WorkloadKind::Pod => uid(&self.pods, w),
            WorkloadKind::Custom(_) => self
                .custom(w.kind)?
                .get(&w.namespace, &w.name)
                .and_then(|o| o.uid()),
        }
    }
}

/// A store that holds `objects`, as a watch that listed them would leave it: for tests and
/// benchmarks that build stores without an API server.
pub fn store_of<K>(objects: Vec<K>) -> Store<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (store, mut writer) = kube::runtime::reflector::store();
    for o in objects {
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(o));
    }
    store
}

/// The objects of `store` in `namespace`, or all of them.
fn in_namespace<'n, K>(
    store: &Store<K>,
    namespace: Option<&'n str>,
) -> impl Iterator<Item = Arc<K>> + use<'n, K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store
        .state()
        .into_iter()
        .filter(move |o| namespace.is_none_or(|ns| o.meta().namespace.as_deref() == Some(ns)))
}

/// The stores lend the engine a namespace's records from one snapshot of each store.
impl Records for Stores {
    fn in_namespace<R>(&self, namespace: &str, decide: impl FnOnce(&Namespaced<'_>) -> R) -> R {
        let systems = self.systems.state();
        let every_system: Vec<&AISystem> = readable(&systems).collect();
        let stored = self.assessments_in(namespace);
        let assessments: Vec<&RiskAssessment> = readable(&stored).collect();
        let (namespaced, cluster) = self.bindings();
        let bindings = as_bindings(&namespaced, &cluster);
        let labels = self.namespace_labels(namespace);
        decide(&Namespaced {
            every_system: &every_system,
            assessments: &assessments,
            bindings: &bindings,
            labels: &labels,
        })
    }
}

/// Borrows the stored bindings as the engine's `Binding`s.
pub fn as_bindings<'a>(
    namespaced: &'a [Arc<Guarded<ControlBinding>>],
    cluster: &'a [Arc<Guarded<ClusterControlBinding>>],
) -> Vec<Binding<'a>> {
    readable(namespaced)
        .map(Binding::Namespaced)
        .chain(readable(cluster).map(Binding::Cluster))
        .collect()
}

/// Set once every store has seen its first full list: until then a decision would see a partial
/// cluster. Shared by the controllers (which write nothing before) and the webhook (which refuses
/// before).
#[derive(Clone, Debug, Default)]
pub struct Synced(Arc<std::sync::atomic::AtomicBool>);

impl Synced {
    /// A flag already set (`true`) or not yet.
    pub fn new(set: bool) -> Self {
        Self(Arc::new(std::sync::atomic::AtomicBool::new(set)))
    }

    /// Whether every store has synced.
    pub fn is_set(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Records that every store has synced.
    pub fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Release);
    }
}
