//! The one decision API the three doors call: the controller ([`system`]), the admission webhook
//! and `aims check` ([`workload`]). Each door keeps its records its own way (the live stores, or
//! the files `aims check` reads) and lends them through [`Records`]; what is gathered from them and
//! how it is judged is decided here, once, so the doors cannot disagree. `aims check` sends each
//! workload of its files through [`workload`] as a create.

use std::collections::BTreeMap;

use super::{
    admission::workload::{
        self, AdmissionInputs, BreakGlassPolicy, UnregisteredPolicy, WorkloadDecision,
        WorkloadRequest,
    },
    approval::Trust,
    binding::Binding,
    catalog::Catalog,
    detect::Detector,
    evaluate::{self, Evaluation, Inputs},
    workload::WorkloadFacts,
};
use crate::api::{AISystem, RiskAssessment};

/// The records of one namespace, as a decision reads them.
#[derive(Clone, Copy)]
pub struct Namespaced<'a> {
    /// Every AISystem the door knows, in any namespace (a workload of no system is detected by
    /// the models any system declares).
    pub every_system: &'a [&'a AISystem],
    /// The RiskAssessments of the namespace (at least those of its systems).
    pub assessments: &'a [&'a RiskAssessment],
    /// Every binding, namespaced and cluster-wide.
    pub bindings: &'a [Binding<'a>],
    /// The namespace's labels.
    pub labels: &'a BTreeMap<String, String>,
}

/// Where a door keeps its records. The records are lent to a closure, so a door whose records
/// are snapshots (the stores) holds them only while the decision runs.
pub trait Records {
    /// Calls `decide` with the records of `namespace`.
    fn in_namespace<R>(&self, namespace: &str, decide: impl FnOnce(&Namespaced<'_>) -> R) -> R;
}

/// What a decision reads besides the records: the catalog, how far approvals are trusted, the
/// detector and `now`.
#[derive(Clone, Copy)]
pub struct Judge<'a> {
    /// The control catalog.
    pub catalog: &'a Catalog,
    /// How approval signatures are checked.
    pub trust: Trust<'a>,
    /// The unregistered-model-workload detector.
    pub detector: &'a Detector,
    /// Now.
    pub now: jiff::Timestamp,
}

/// What admission decides that the records leave open.
#[derive(Clone, Debug)]
pub struct AdmissionPolicy {
    /// The policy for unregistered model workloads where a namespace's `aims.dev/unregistered`
    /// label sets none.
    pub unregistered: UnregisteredPolicy,
    /// Who may break the glass, and for how long.
    pub break_glass: BreakGlassPolicy,
}

impl Default for AdmissionPolicy {
    /// Unregistered model workloads warned about; the default break-glass policy.
    fn default() -> Self {
        Self {
            unregistered: UnregisteredPolicy::Warn,
            break_glass: BreakGlassPolicy::default(),
        }
    }
}

/// Evaluates `system` against the records of its namespace and `workloads`: the governed workloads
/// of the namespace, or at least those that belong to the system (the others are ignored).
pub fn system(
    records: &impl Records,
    system: &AISystem,
    workloads: &[&WorkloadFacts],
    judge: &Judge<'_>,
) -> Evaluation {
    let namespace = system.metadata.namespace.as_deref().unwrap_or_default();
    records.in_namespace(namespace, |records| {
        evaluate::evaluate(&Inputs {
            system,
            namespace_labels: records.labels,
            assessments: records.assessments,
            bindings: records.bindings,
            workloads,
            catalog: judge.catalog,
            trust: judge.trust,
            now: judge.now,
        })
    })
}

/// Decides one workload create or update (see [`workload::admit`]) against the records of its
/// namespace.
pub fn workload(
    records: &impl Records,
    req: &WorkloadRequest<'_>,
    judge: &Judge<'_>,
    policy: &AdmissionPolicy,
) -> WorkloadDecision {
    records.in_namespace(&req.workload.namespace, |records| {
        let namespace = req.workload.namespace.as_str();
        let systems: Vec<&AISystem> = records
            .every_system
            .iter()
            .copied()
            .filter(|s| s.metadata.namespace.as_deref() == Some(namespace))
            .collect();
        workload::admit(
            req,
            &AdmissionInputs {
                systems: &systems,
                declared_by: records.every_system,
                namespace_labels: records.labels,
                assessments: records.assessments,
                bindings: records.bindings,
                catalog: judge.catalog,
                trust: judge.trust,
                detector: judge.detector,
                unregistered: policy.unregistered,
                break_glass: &policy.break_glass,
                now: judge.now,
            },
        )
    })
}
