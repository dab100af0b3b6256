//! `evaluate`: one system, its assessments, the bindings, its workloads, the catalog and `now` in;
//! phase, conditions, findings, a verdict per workload and the next time the answer can change out.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::{
    approval::{self, Trust},
    binding::{self, Applicability, Binding},
    catalog::Catalog,
    conditions::{self, ControlState},
    controls::{self, Assessed, CheckInputs, deployment, impact, usage},
    gates::gates,
    membership::belongs,
    workload::WorkloadFacts,
};
pub use super::{conditions::ConditionResult, controls::ControlFinding};
use crate::api::{AISystem, AssessmentState, Enforcement, Phase, RiskAssessment};

/// Everything `evaluate` reads.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    /// The system.
    pub system: &'a AISystem,
    /// The labels of the system's namespace (for ClusterControlBinding namespace selectors).
    pub namespace_labels: &'a BTreeMap<String, String>,
    /// RiskAssessments of the namespace; those of other systems are ignored.
    pub assessments: &'a [&'a RiskAssessment],
    /// Every binding; those that do not select the system are ignored.
    pub bindings: &'a [Binding<'a>],
    /// Workloads of the namespace; those of other systems are ignored.
    pub workloads: &'a [&'a WorkloadFacts],
    /// The control catalog.
    pub catalog: &'a Catalog,
    /// How approval signatures are checked.
    pub trust: Trust<'a>,
    /// Now.
    pub now: Timestamp,
}

/// The admission verdict for one workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Verdict {
    /// Admit.
    Allow,
    /// Admit with warnings.
    Warn,
    /// Deny.
    Deny,
}

/// The verdict on one workload of the system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadVerdict {
    /// `Kind/name`.
    pub workload: String,
    /// Allow, Warn or Deny.
    pub verdict: Verdict,
    /// The findings that apply to it, worst first: the system's and its own.
    pub reasons: Vec<ControlFinding>,
}

/// How one applicable control fares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlResult {
    /// The catalog id.
    pub id: String,
    /// The title.
    pub title: String,
    /// How it is enforced.
    pub enforcement: Enforcement,
    /// Whether the engine checks it (otherwise it is attested with evidence).
    pub checked: bool,
    /// Whether it is satisfied.
    pub satisfied: bool,
    /// The bindings that apply it.
    pub bound_by: Vec<String>,
}

/// A control excluded by a binding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExclusionResult {
    /// The catalog id.
    pub id: String,
    /// Why it does not apply.
    pub justification: String,
    /// The binding that excludes it.
    pub by: String,
}

/// The approval a system runs under.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalInForce {
    /// The RiskAssessment that carries it.
    pub assessment: String,
    /// Who approved.
    pub approvers: Vec<String>,
    /// When the last required approval was given.
    pub approved_at: Option<Timestamp>,
    /// When it expires.
    pub expires_at: Option<Timestamp>,
}

/// Where one of the system's assessments stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssessmentSummary {
    /// The RiskAssessment's name.
    pub name: String,
    /// Its state.
    pub state: AssessmentState,
    /// The hash of its assessed content, which approvals are bound to.
    pub content_hash: String,
    /// The approvers that count.
    pub approvers: Vec<String>,
    /// When its approval expires.
    pub expires_at: Option<Timestamp>,
}

/// The result of evaluating one system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Compliant, NonCompliant, Pending or Halted.
    pub phase: Phase,
    /// Registered, RiskAssessed, ImpactAssessed, Approved, OversightReady, ControlsSatisfied, Ready.
    pub conditions: Vec<ConditionResult>,
    /// Every applicable control, in catalog order.
    pub controls: Vec<ControlResult>,
    /// Controls bindings exclude.
    pub excluded: Vec<ExclusionResult>,
    /// Everything that fails, worst first.
    pub findings: Vec<ControlFinding>,
    /// A verdict per workload of the system, in name order.
    pub workloads: Vec<WorkloadVerdict>,
    /// The approval in force.
    pub approval: Option<ApprovalInForce>,
    /// The system's assessments, best first.
    pub assessments: Vec<AssessmentSummary>,
    /// Control ids bindings name that the catalog does not know, with the binding.
    pub unknown_controls: Vec<(String, String)>,
    /// The next time the evaluation can change on its own (an expiry), if any.
    pub next_review_at: Option<Timestamp>,
}

impl Evaluation {
    /// Satisfied and applicable control counts.
    pub fn control_counts(&self) -> (usize, usize) {
        (
            self.controls.iter().filter(|c| c.satisfied).count(),
            self.controls.len(),
        )
    }
}

/// Evaluates one system: its records and those of `inputs.workloads` that belong to it.
pub fn evaluate(inputs: &Inputs) -> Evaluation {
    let members = inputs
        .workloads
        .iter()
        .copied()
        .filter(|w| belongs(inputs.system, w))
        .collect();
    evaluate_members(inputs, members)
}

/// Evaluates one system with `w` taken as one of its workloads, whether or not its labels still
/// say so: the verdict of the system a workload would leave by an update (every other workload of
/// `inputs` is ignored).
pub fn evaluate_as_member(inputs: &Inputs, w: &WorkloadFacts) -> Evaluation {
    evaluate_members(inputs, vec![w])
}

fn evaluate_members<'a>(inputs: &Inputs<'a>, mut workloads: Vec<&'a WorkloadFacts>) -> Evaluation {
    let system = inputs.system;
    let now = inputs.now;
    let applicability = binding::resolve(
        system,
        inputs.namespace_labels,
        inputs.bindings,
        inputs.catalog,
    );
    let policy = deployment::approval_policy(&applicability);

    let mut assessed: Vec<Assessed> = inputs
        .assessments
        .iter()
        .filter(|ra| {
            system.metadata.name.as_ref() == Some(&ra.spec.system_ref.name)
                && ra.metadata.namespace == system.metadata.namespace
        })
        .map(|&ra| Assessed {
            ra,
            verdict: approval::assess(ra, &policy, inputs.trust, now),
        })
        .collect();
    assessed.sort_by(|a, b| {
        state_rank(a.verdict.state)
            .cmp(&state_rank(b.verdict.state))
            .then(b.verdict.approved_at.cmp(&a.verdict.approved_at))
            .then(a.name().cmp(b.name()))
    });
    let in_force = assessed
        .first()
        .filter(|a| a.verdict.state == AssessmentState::Approved);
    let ctx = CheckInputs {
        system,
        assessments: &assessed,
        in_force,
        now,
    };

    workloads.sort_by_key(|w| (w.kind, &w.name));

    let mut findings = Vec::new();
    findings.extend(gates(system, inputs.catalog));
    let mut controls = Vec::new();
    for applied in &applicability.applied {
        let problems = controls::run(applied, &ctx, &workloads);
        controls.push(ControlResult {
            id: applied.control.id.clone(),
            title: applied.control.title.clone(),
            enforcement: applied.enforcement,
            checked: applied.control.check.is_some(),
            satisfied: problems.is_empty(),
            bound_by: applied.bound_by.clone(),
        });
        let severity = controls::severity(system, applied.control);
        findings.extend(
            problems
                .into_iter()
                .map(|p| ControlFinding::new(applied.control, applied.enforcement, severity, p)),
        );
    }
    let (break_glass, break_glass_until): (Vec<_>, Vec<_>) =
        deployment::break_glass(inputs.catalog, &workloads, now)
            .into_iter()
            .unzip();
    findings.extend(break_glass);
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(a.enforcement.cmp(&b.enforcement))
    });

    let workload_verdicts = workloads
        .iter()
        .map(|w| {
            let name = w.display_name();
            let reasons: Vec<ControlFinding> = findings
                .iter()
                .filter(|f| f.workload.as_ref().is_none_or(|n| *n == name))
                .cloned()
                .collect();
            let verdict = reasons
                .iter()
                .map(|f| verdict_of(f.enforcement))
                .max()
                .unwrap_or(Verdict::Allow);
            WorkloadVerdict {
                workload: name,
                verdict,
                reasons,
            }
        })
        .collect();

    let halted = system.spec.halted();
    let phase = if halted {
        Phase::Halted
    } else if findings.is_empty() {
        Phase::Compliant
    } else if findings.iter().all(ControlFinding::is_pending) {
        Phase::Pending
    } else {
        Phase::NonCompliant
    };

    Evaluation {
        conditions: vec![
            conditions::registered(),
            impact::risk_assessed(&ctx),
            impact::impact_assessed(&ctx),
            deployment::approved(&ctx),
            usage::oversight_ready(&findings, halted),
            conditions::controls_satisfied(controls.iter().map(|c| ControlState {
                id: &c.id,
                satisfied: c.satisfied,
            })),
            conditions::ready(phase, findings.len()),
        ],
        phase,
        controls,
        excluded: applicability
            .excluded
            .iter()
            .map(|e| ExclusionResult {
                id: e.control.id.clone(),
                justification: e.justification.clone(),
                by: e.by.clone(),
            })
            .collect(),
        findings,
        workloads: workload_verdicts,
        approval: in_force.map(|a| ApprovalInForce {
            assessment: a.name().to_owned(),
            approvers: a.verdict.approvers.clone(),
            approved_at: a.verdict.approved_at,
            expires_at: a.verdict.expires_at,
        }),
        assessments: assessed
            .iter()
            .map(|a| AssessmentSummary {
                name: a.name().to_owned(),
                state: a.verdict.state,
                content_hash: a.verdict.content_hash.clone(),
                approvers: a.verdict.approvers.clone(),
                expires_at: a.verdict.expires_at,
            })
            .collect(),
        unknown_controls: applicability.unknown.clone(),
        next_review_at: next_review(&applicability, &assessed, now)
            .into_iter()
            .chain(break_glass_until)
            .min(),
    }
}

fn verdict_of(enforcement: Enforcement) -> Verdict {
    match enforcement {
        Enforcement::Enforce => Verdict::Deny,
        Enforcement::Warn => Verdict::Warn,
        Enforcement::Audit => Verdict::Allow,
    }
}

/// Assessments are ranked: the one in force first, then those closest to approval.
fn state_rank(state: AssessmentState) -> u8 {
    match state {
        AssessmentState::Approved => 0,
        AssessmentState::PendingApproval => 1,
        AssessmentState::Stale => 2,
        AssessmentState::Expired => 3,
        AssessmentState::Rejected => 4,
        AssessmentState::Draft => 5,
    }
}

fn next_review(
    applicability: &Applicability,
    assessed: &[Assessed],
    now: Timestamp,
) -> Option<Timestamp> {
    let approvals = assessed.iter().filter_map(|a| a.verdict.next_change());
    let evidence = applicability
        .applied
        .iter()
        .flat_map(|a| a.evidence.iter().map(|e| e.expires.0));
    approvals.chain(evidence).filter(|t| *t > now).min()
}
