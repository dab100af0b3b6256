//! `aims check -f`: the engine's verdicts on manifests, before they reach a cluster.

use std::{collections::BTreeMap, path::PathBuf};

use jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, Phase, RiskAssessment},
    engine::{
        admission::{
            Requester,
            workload::{BreakGlassPolicy, WorkloadRequest},
        },
        approval::Trust,
        binding::Binding,
        catalog::Catalog,
        decide::{self, AdmissionPolicy, Judge, Namespaced, Records},
        detect::Detector,
        evaluate::{ApprovalInForce, AssessmentSummary, ControlFinding, Verdict},
        workload::WorkloadFacts,
    },
    manifests::{Document, Object},
};

pub use crate::engine::admission::workload::{Reason, UnregisteredPolicy};

/// Who `aims check` decides a workload's create for: nobody in particular, so in no group.
pub const OFFLINE_REQUESTER: &str = "the applier (aims check knows no requester)";

/// The verdict on one workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadReport {
    /// Its namespace.
    pub namespace: String,
    /// `Kind/name`.
    pub workload: String,
    /// The AISystem it belongs to.
    pub system: Option<String>,
    /// Allow, Warn or Deny.
    pub verdict: Verdict,
    /// Why, worst first.
    pub reasons: Vec<Reason>,
}

/// The evaluation of one system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemReport {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its risk tier.
    pub risk_tier: String,
    /// Its phase.
    pub phase: Phase,
    /// `satisfied/applicable`.
    pub controls: String,
    /// The approval in force.
    pub approval: Option<ApprovalInForce>,
    /// Its RiskAssessments and where they stand.
    pub assessments: Vec<AssessmentSummary>,
    /// What fails, worst first.
    pub findings: Vec<ControlFinding>,
    /// When the answer can next change on its own.
    pub next_review_at: Option<Timestamp>,
}

/// The whole answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The time the evaluation used.
    pub now: Timestamp,
    /// Offline there is no signing key: approvals are taken as written.
    pub approvals_taken_as_written: bool,
    /// A verdict per workload.
    pub workloads: Vec<WorkloadReport>,
    /// An evaluation per system.
    pub systems: Vec<SystemReport>,
    /// How many workloads were evaluated: what "nothing denied" is about.
    pub evaluated: usize,
    /// The objects of kinds aims does not govern (Services, ConfigMaps, other projects' custom
    /// resources...), counted by kind: read, and skipped.
    pub skipped: BTreeMap<String, usize>,
}

impl Report {
    /// Whether anything would be denied.
    pub fn any_denied(&self) -> bool {
        self.workloads.iter().any(|w| w.verdict == Verdict::Deny)
    }

    /// The skipped kinds as one phrase: `ConfigMap ×2, Service`.
    pub fn skipped_kinds(&self) -> String {
        self.skipped
            .iter()
            .map(|(kind, n)| match n {
                1 => kind.clone(),
                n => format!("{kind} ×{n}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Options of `aims check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Manifests to check: files, directories (read recursively) or `-` for standard input.
    #[arg(short = 'f', long = "filename", required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// The namespace of objects that name none (as `kubectl apply -n` would give them).
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// What to do with model workloads that belong to no AISystem, where the namespace's
    /// `aims.dev/unregistered` label (on a Namespace among the files) says nothing.
    #[arg(long, value_enum, default_value_t = UnregisteredPolicy::Warn)]
    pub unregistered: UnregisteredPolicy,
    /// Evaluate as of this time (RFC 3339), instead of now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<Timestamp>,
    /// Fail (exit status 4) when the input holds no workload aims governs: an empty render, or
    /// only kinds it does not know, which would otherwise pass as "nothing denied".
    #[arg(long)]
    pub require_workloads: bool,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// For programs.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
}

/// The inputs, grouped.
#[derive(Default)]
struct Inventory {
    skipped: BTreeMap<String, usize>,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    systems: Vec<AISystem>,
    assessments: Vec<RiskAssessment>,
    bindings: Vec<ControlBinding>,
    cluster_bindings: Vec<ClusterControlBinding>,
    workloads: Vec<WorkloadFacts>,
}

impl Inventory {
    fn new(documents: Vec<Document>, default_namespace: &str) -> Self {
        let mut inv = Self::default();
        let ns = |current: &mut Option<String>| {
            if current.as_deref().is_none_or(str::is_empty) {
                *current = Some(default_namespace.to_owned());
            }
        };
        for doc in documents {
            match doc.object {
                Object::AISystem(mut s) => {
                    ns(&mut s.metadata.namespace);
                    inv.systems.push(s);
                }
                Object::RiskAssessment(mut r) => {
                    ns(&mut r.metadata.namespace);
                    inv.assessments.push(r);
                }
                Object::ControlBinding(mut b) => {
                    ns(&mut b.metadata.namespace);
                    inv.bindings.push(b);
                }
                Object::ClusterControlBinding(b) => inv.cluster_bindings.push(b),
                Object::Namespace { name, labels } => {
                    inv.namespaces.insert(name, labels);
                }
                Object::Workload(mut w) => {
                    if w.namespace.is_empty() {
                        w.namespace = default_namespace.to_owned();
                    }
                    inv.workloads.push(w);
                }
                Object::Other { kind, .. } => *inv.skipped.entry(kind).or_default() += 1,
            }
        }
        inv.systems.sort_by_key(|s| (s.namespace(), s.name_any()));
        inv.workloads
            .sort_by(|a, b| (&a.namespace, a.kind, &a.name).cmp(&(&b.namespace, b.kind, &b.name)));
        inv
    }
}

impl Inventory {
    /// Every binding, namespaced then cluster-wide.
    fn bindings(&self) -> Vec<Binding<'_>> {
        self.bindings
            .iter()
            .map(Binding::Namespaced)
            .chain(self.cluster_bindings.iter().map(Binding::Cluster))
            .collect()
    }

    /// `system` evaluated with the workloads of its namespace, as the controller evaluates it.
    fn evaluate(
        &self,
        system: &AISystem,
        judge: &Judge<'_>,
    ) -> crate::engine::evaluate::Evaluation {
        let namespace = system.namespace().unwrap_or_default();
        let workloads: Vec<&WorkloadFacts> = self
            .workloads
            .iter()
            .filter(|w| w.namespace == namespace)
            .collect();
        decide::system(self, system, &workloads, judge)
    }
}

/// `aims check` lends the engine the records of its files.
impl Records for Inventory {
    fn in_namespace<R>(&self, namespace: &str, decide: impl FnOnce(&Namespaced<'_>) -> R) -> R {
        let every_system: Vec<&AISystem> = self.systems.iter().collect();
        let assessments: Vec<&RiskAssessment> = self
            .assessments
            .iter()
            .filter(|a| a.metadata.namespace.as_deref() == Some(namespace))
            .collect();
        let bindings = self.bindings();
        let no_labels = BTreeMap::new();
        decide(&Namespaced {
            every_system: &every_system,
            assessments: &assessments,
            bindings: &bindings,
            labels: self.namespaces.get(namespace).unwrap_or(&no_labels),
        })
    }
}

/// The auditor's report of the records in `documents` as of `now`: each system evaluated as the
/// controller evaluates it (the same path as [`check`]), its approvals counted under `trust`
/// (as written for manifests, the operator's word for a live cluster).
pub fn report(
    documents: Vec<Document>,
    default_namespace: &str,
    catalog: &Catalog,
    trust: Trust<'_>,
    now: Timestamp,
) -> crate::engine::report::Report {
    let inv = Inventory::new(documents, default_namespace);
    let detector = Detector::default();
    let judge = Judge {
        catalog,
        trust,
        detector: &detector,
        now,
    };
    let evaluations: Vec<_> = inv
        .systems
        .iter()
        .map(|s| inv.evaluate(s, &judge))
        .collect();
    let systems: Vec<_> = inv.systems.iter().zip(&evaluations).collect();
    let assessments: Vec<&RiskAssessment> = inv.assessments.iter().collect();
    let bindings = inv.bindings();
    crate::engine::report::build(&crate::engine::report::ReportInputs {
        systems: &systems,
        assessments: &assessments,
        bindings: &bindings,
        catalog,
        now,
    })
}

/// Evaluates every system and every workload in `documents` as of `now`, through the engine's one
/// decision path: each system as the controller evaluates it, each workload as admission decides
/// its create (by someone outside every break-glass group). Offline there is no signing key, so
/// approvals are taken as written.
pub fn check(
    documents: Vec<Document>,
    default_namespace: &str,
    unregistered: UnregisteredPolicy,
    catalog: &Catalog,
    detector: &Detector,
    now: Timestamp,
) -> Report {
    let inv = Inventory::new(documents, default_namespace);
    let judge = Judge {
        catalog,
        trust: Trust::AsWritten,
        detector,
        now,
    };
    let mut systems = Vec::new();
    for system in &inv.systems {
        let namespace = system.namespace().unwrap_or_default();
        let evaluation = inv.evaluate(system, &judge);
        let (satisfied, applicable) = evaluation.control_counts();
        systems.push(SystemReport {
            namespace,
            name: system.name_any(),
            risk_tier: system.spec.risk_tier.as_str().to_owned(),
            phase: evaluation.phase,
            controls: format!("{satisfied}/{applicable}"),
            approval: evaluation.approval,
            assessments: evaluation.assessments,
            findings: evaluation.findings,
            next_review_at: evaluation.next_review_at,
        });
    }

    // `unregistered` is the policy where a namespace's label says nothing, as in admission.
    let policy = AdmissionPolicy {
        unregistered,
        break_glass: BreakGlassPolicy::default(),
    };
    // Offline nobody asks: a break-glass in the files is refused as it is to anyone outside the
    // break-glass group.
    let offline = Requester {
        user: OFFLINE_REQUESTER,
        groups: &[],
    };
    let mut verdicts: BTreeMap<(String, String), WorkloadReport> = BTreeMap::new();
    for w in &inv.workloads {
        let create = WorkloadRequest {
            workload: w,
            old: None,
            requester: offline,
        };
        let decision = decide::workload(&inv, &create, &judge, &policy);
        verdicts.insert(
            (decision.namespace.clone(), decision.workload.clone()),
            WorkloadReport {
                namespace: decision.namespace,
                workload: decision.workload,
                system: decision.system,
                verdict: decision.verdict,
                reasons: decision.reasons,
            },
        );
    }

    Report {
        now,
        approvals_taken_as_written: true,
        evaluated: verdicts.len(),
        workloads: verdicts.into_values().collect(),
        systems,
        skipped: inv.skipped,
    }
}
