//! What the controllers share: the client, the stores, the catalog, the detector, the signing key,
//! the metrics and the leader election.

use std::sync::Arc;

use kube::Client;

use crate::{
    api::AISystem,
    cluster::{Stores, Synced},
    engine::{
        approval::{SigningKey, Trust},
        catalog::Catalog,
        decide::{self, Judge},
        detect::Detector,
        evaluate::Evaluation,
        workload::WorkloadFacts,
    },
    telemetry::metrics::Metrics,
};

/// What the controllers share.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// The reflector stores.
    pub stores: Stores,
    /// The control catalog.
    pub catalog: Catalog,
    /// The unregistered-model-workload detector.
    pub detector: Detector,
    /// The approval signing key.
    pub key: SigningKey,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Publishes Events.
    pub recorder: kube::runtime::events::Recorder,
    /// Set once every store has synced; until then decisions would see a partial cluster.
    pub synced: Synced,
    /// Whether this replica holds the leader Lease: only the leader writes.
    pub leader: tokio::sync::watch::Receiver<bool>,
    /// When each system was last evaluated, to pace evaluations.
    pub pacer: super::pace::Pacer,
    /// The tamper-evident records: each lifecycle transition is one of them.
    pub chain: Arc<crate::audit::Chain>,
    /// What was last written as each system's OpenReports reports.
    pub reports_written: super::written::Written<Vec<u8>>,
    /// What to write the compiled admission floor with, when it is written (`aims run
    /// --compiled-floor`).
    pub floor: Option<super::floor::Config>,
    /// What was last written as each system's part of the compiled floor.
    pub floor_written: super::written::Written<super::floor::Part>,
    /// What was last written as the compiled floor's rules for workloads of no system.
    pub unregistered_written: super::written::Written<crate::api::FloorUnregistered>,
}

impl Context {
    /// A context for tests over `client` and `stores`, with the test signing key and the builtin
    /// catalog and detector; a leader whose stores have synced when `leading`, else a replica that
    /// writes nothing.
    #[cfg(test)]
    pub(crate) fn for_test(client: Client, stores: Stores, leading: bool) -> Arc<Self> {
        Arc::new(Self {
            recorder: kube::runtime::events::Recorder::new(
                client.clone(),
                kube::runtime::events::Reporter::from("aims-operator"),
            ),
            client,
            stores,
            catalog: Catalog::builtin(),
            detector: Detector::default(),
            key: crate::testing::signing_key(),
            metrics: Arc::new(Metrics::default()),
            synced: Synced::new(leading),
            leader: tokio::sync::watch::channel(leading).1,
            pacer: Default::default(),
            chain: crate::audit::Chain::discard(),
            reports_written: Default::default(),
            floor: None,
            floor_written: Default::default(),
            unregistered_written: Default::default(),
        })
    }
    /// Evaluates `system` against what the stores hold, as of `now`, verifying approvals with the
    /// operator's key. Also gives back the system's workloads.
    pub fn evaluate(
        &self,
        system: &AISystem,
        now: jiff::Timestamp,
    ) -> (Evaluation, Vec<Arc<WorkloadFacts>>) {
        let workloads = self.stores.workloads_of(system);
        let facts: Vec<&WorkloadFacts> = workloads.iter().map(|w| &**w).collect();
        let judge = Judge {
            catalog: &self.catalog,
            trust: Trust::Verify(&self.key),
            detector: &self.detector,
            now,
        };
        (
            decide::system(&self.stores, system, &facts, &judge),
            workloads,
        )
    }

    /// Whether every store has synced.
    pub fn synced(&self) -> bool {
        self.synced.is_set()
    }

    /// Whether this replica may write: it holds the Lease and its stores have synced.
    pub fn may_write(&self) -> bool {
        self.synced() && *self.leader.borrow()
    }
}
