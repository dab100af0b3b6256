//! `evaluate`: one system, its assessments, the bindings, its workloads, the catalog and `now` in;
//! phase, conditions, findings, a verdict per workload and the next time the answer can change out.

use std::{borrow::Borrow, collections::BTreeMap};

use jiff::Timestamp;
use serde::Serialize;

use super::{
    approval::{self, ApprovalPolicy, Trust},
    binding::{self, Applicability, Applied, Binding, OVERSIGHT_CONTROL},
    break_glass::break_glass_of,
    catalog::{Catalog, Check, Control},
    checks::{self, Assessed, CheckInputs, Problem},
    detect::{Detection, Detector},
    selector,
    workload::WorkloadFacts,
};
use crate::api::{
    AISystem, AssessmentState, Enforcement, Phase, RiskAssessment, RiskTier, Severity,
};

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

/// Something that fails a control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlFinding {
    /// The catalog id of the control.
    pub control: String,
    /// The control's title.
    pub title: String,
    /// How serious it is.
    pub severity: Severity,
    /// How the control is enforced.
    pub enforcement: Enforcement,
    /// What is missing or wrong, and what to do about it.
    pub message: String,
    /// The workload it is about (`Kind/name`), when it is about one.
    pub workload: Option<String>,
    /// EU AI Act articles the control maps to.
    pub eu_ai_act: Vec<String>,
    /// NIST AI RMF subcategories the control maps to.
    pub nist_ai_rmf: Vec<String>,
    #[serde(skip)]
    pending: bool,
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

/// A condition the status should carry (without timestamps: the controller keeps those).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConditionResult {
    /// The condition type.
    #[serde(rename = "type")]
    pub type_: &'static str,
    /// Whether it holds.
    pub status: bool,
    /// A CamelCase reason.
    pub reason: &'static str,
    /// A sentence for people.
    pub message: String,
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

/// Whether workload `w` belongs to `system`: same namespace, and the system is one of its
/// claimants (see [`labels_belong`]).
pub fn belongs(system: &AISystem, w: &WorkloadFacts) -> bool {
    system.metadata.namespace.as_deref().unwrap_or_default() == w.namespace
        && labels_belong(system, &w.labels, &w.pod_labels)
}

/// Whether a workload of the system's namespace with these labels (its own, and its pod
/// template's) belongs to `system`: the part of [`belongs`] that reads labels only, so a caller can
/// skip reading the rest of a workload that does not.
///
/// The label wins: a workload whose labels (or pod template's labels) carry `aims.dev/system`
/// belongs to the systems they name and to no other, whatever selectors match it, so no
/// catch-all selector can take a workload away from its system. Only a workload without the label
/// is claimed by selectors, and an empty `workloadSelector` claims nothing (it would otherwise
/// claim every workload of the namespace). A workload may still have several claimants (two
/// label values, or two matching selectors); admission then applies the strictest verdict.
pub fn labels_belong(
    system: &AISystem,
    labels: &BTreeMap<String, String>,
    pod_labels: &BTreeMap<String, String>,
) -> bool {
    let mut named = named_systems(labels, pod_labels).peekable();
    if named.peek().is_some() {
        return named.any(|name| system.metadata.name.as_deref() == Some(name));
    }
    system
        .spec
        .workload_selector
        .as_ref()
        .filter(|s| !selector::is_empty(s))
        .is_some_and(|s| selector::matches(s, labels) || selector::matches(s, pod_labels))
}

/// The systems the `aims.dev/system` label names: the workload's own label, then its pod
/// template's when that names another.
fn named_systems<'a>(
    labels: &'a BTreeMap<String, String>,
    pod_labels: &'a BTreeMap<String, String>,
) -> impl Iterator<Item = &'a str> {
    let own = labels.get(crate::api::SYSTEM_LABEL).map(String::as_str);
    let pods = pod_labels
        .get(crate::api::SYSTEM_LABEL)
        .map(String::as_str)
        .filter(|p| Some(*p) != own);
    own.into_iter().chain(pods)
}

/// The systems among `systems` that `w` belongs to, in the order given.
pub fn claimants<'s>(systems: &[&'s AISystem], w: &WorkloadFacts) -> Vec<&'s AISystem> {
    systems.iter().copied().filter(|s| belongs(s, w)).collect()
}

/// A model workload that belongs to no AISystem, with why it looks like one.
#[derive(Clone, Debug)]
pub struct Unregistered<'a> {
    /// The workload.
    pub workload: &'a WorkloadFacts,
    /// Why it looks like model serving.
    pub detection: Detection,
}

/// The workloads that look like model serving and belong to none of `systems` (a label naming a
/// system that does not exist counts as none), including those that run an artifact one of
/// `systems` declares. The workloads are facts or shared facts (`Arc`).
pub fn unregistered<'a, W: Borrow<WorkloadFacts>>(
    systems: &[&AISystem],
    workloads: &'a [W],
    detector: &Detector,
) -> Vec<Unregistered<'a>> {
    workloads
        .iter()
        .map(Borrow::borrow)
        .filter(|w| !systems.iter().any(|s| belongs(s, w)))
        .filter_map(|w| {
            detector
                .detect_among(w, systems)
                .map(|detection| Unregistered {
                    workload: w,
                    detection,
                })
        })
        .collect()
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
    let policy = approval_policy(&applicability);

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
        let problems = run_control(applied, &ctx, &workloads);
        controls.push(ControlResult {
            id: applied.control.id.clone(),
            title: applied.control.title.clone(),
            enforcement: applied.enforcement,
            checked: applied.control.check.is_some(),
            satisfied: problems.is_empty(),
            bound_by: applied.bound_by.clone(),
        });
        let severity = severity_of(system, applied.control);
        findings.extend(
            problems
                .into_iter()
                .map(|p| finding(applied.control, applied.enforcement, severity, p)),
        );
    }
    let mut break_glass_until = Vec::new();
    if let Some(control) = inputs.catalog.get("A.6.2.5") {
        for w in &workloads {
            let Some(Ok(bg)) = break_glass_of(w) else {
                continue;
            };
            if bg.until <= now {
                continue;
            }
            break_glass_until.push(bg.until);
            findings.push(finding(
                control,
                Enforcement::Warn,
                Severity::High,
                Problem::workload(
                    w,
                    format!(
                        "runs under break-glass (ticket {}: {}) until {}: its enforced controls are bypassed until then; remove the break-glass annotations once it is approved",
                        bg.ticket, bg.reason, bg.until
                    ),
                ),
            ));
        }
    }
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
    } else if findings.iter().all(|f| f.pending) {
        Phase::Pending
    } else {
        Phase::NonCompliant
    };

    Evaluation {
        conditions: conditions(phase, &ctx, &controls, &findings, halted),
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

/// Runs one applicable control: its check, or its evidence for an attested control.
fn run_control(applied: &Applied, ctx: &CheckInputs, workloads: &[&WorkloadFacts]) -> Vec<Problem> {
    let Some(check) = applied.control.check else {
        return attested(applied, ctx.now);
    };
    let per_workload = || {
        workloads
            .iter()
            .flat_map(|w| checks::workload_check(check, ctx, w))
    };
    match check {
        // Deployment approval has two halves: an approval exists, and it covers each workload.
        Check::DeploymentApproval => checks::system_check(check, applied, ctx)
            .into_iter()
            .chain(per_workload())
            .collect(),
        _ if checks::is_per_workload(check) => per_workload().collect(),
        _ => checks::system_check(check, applied, ctx),
    }
}

fn attested(applied: &Applied, now: Timestamp) -> Vec<Problem> {
    if applied.evidence.iter().any(|e| e.expires.0 > now) {
        return Vec::new();
    }
    let message = match applied.evidence.iter().map(|e| e.expires.0).max() {
        Some(expired) => format!("the evidence for this attested control expired at {expired}: attest it again in a binding"),
        None => "attested control without evidence: add evidence (uri, sha256, attestedBy, expires) to the control in a binding".to_owned(),
    };
    vec![Problem {
        message,
        workload: None,
        pending: false,
    }]
}

/// Findings no binding can switch off: a prohibited practice, and a halt.
fn gates(system: &AISystem, catalog: &Catalog) -> Vec<ControlFinding> {
    let mut out = Vec::new();
    let gate = |id: &str, message: String| {
        let control = catalog.get(id)?;
        Some(finding(
            control,
            Enforcement::Enforce,
            Severity::Critical,
            Problem {
                message,
                workload: None,
                pending: false,
            },
        ))
    };
    if system.spec.risk_tier == RiskTier::Prohibited {
        out.extend(gate(
            "A.9.4",
            "riskTier is Prohibited: EU AI Act Art. 5 prohibits this practice, and no workload of it is admitted".to_owned(),
        ));
    }
    if let Some(o) = system.spec.oversight.as_ref().filter(|o| o.halt) {
        out.extend(gate(
            OVERSIGHT_CONTROL,
            format!(
                "halted by an overseer ({}): nothing is admitted or scaled up until spec.oversight.halt is false",
                o.halt_reason.as_deref().unwrap_or("no reason given")
            ),
        ));
    }
    out
}

fn finding(
    control: &Control,
    enforcement: Enforcement,
    severity: Severity,
    p: Problem,
) -> ControlFinding {
    ControlFinding {
        control: control.id.clone(),
        title: control.title.clone(),
        severity,
        enforcement,
        message: p.message,
        workload: p.workload,
        eu_ai_act: control.eu_ai_act.clone(),
        nist_ai_rmf: control.nist_ai_rmf.clone(),
        pending: p.pending,
    }
}

/// Deployment approval and oversight failures are High; other failures are High for High-risk
/// systems and Medium otherwise.
fn severity_of(system: &AISystem, control: &Control) -> Severity {
    if control.id == "A.6.2.5"
        || control.id == OVERSIGHT_CONTROL
        || system.spec.risk_tier == RiskTier::High
    {
        Severity::High
    } else {
        Severity::Medium
    }
}

fn verdict_of(enforcement: Enforcement) -> Verdict {
    match enforcement {
        Enforcement::Enforce => Verdict::Deny,
        Enforcement::Warn => Verdict::Warn,
        Enforcement::Audit => Verdict::Allow,
    }
}

/// The approval policy of A.6.2.5 as the bindings set it.
pub fn approval_policy(applicability: &Applicability) -> ApprovalPolicy {
    applicability
        .get("A.6.2.5")
        .map_or_else(ApprovalPolicy::default, |a| ApprovalPolicy {
            approver_groups: a.approver_groups(),
            min_approvals: a.min_approvals(),
        })
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

fn conditions(
    phase: Phase,
    ctx: &CheckInputs,
    controls: &[ControlResult],
    findings: &[ControlFinding],
    halted: bool,
) -> Vec<ConditionResult> {
    let cond = |type_, status, reason, message: String| ConditionResult {
        type_,
        status,
        reason,
        message,
    };
    let primary = ctx.primary();
    let risk_assessed = match primary {
        None => cond(
            "RiskAssessed",
            false,
            "NoAssessment",
            "no RiskAssessment refers to this system".into(),
        ),
        Some(a) if a.verdict.state == AssessmentState::Draft => cond(
            "RiskAssessed",
            false,
            "Draft",
            format!("RiskAssessment {} is a Draft", a.name()),
        ),
        Some(a) => match &a.verdict.risk {
            Some(r) if !r.within_appetite => cond(
                "RiskAssessed",
                false,
                "AboveAppetite",
                format!(
                    "residual risk above appetite: {}",
                    r.above_appetite.join(", ")
                ),
            ),
            _ => cond(
                "RiskAssessed",
                true,
                "WithinAppetite",
                format!("RiskAssessment {}", a.name()),
            ),
        },
    };
    let impact_done = primary.and_then(|a| {
        a.ra.spec
            .impact_assessment
            .as_ref()
            .and_then(|i| i.completed_on.clone())
            .map(|d| (a.name().to_owned(), d))
    });
    let impact = match impact_done {
        Some((name, date)) => cond(
            "ImpactAssessed",
            true,
            "Completed",
            format!("RiskAssessment {name}, completed on {date}"),
        ),
        None => cond(
            "ImpactAssessed",
            false,
            "Incomplete",
            "no completed impact assessment".into(),
        ),
    };
    let approved = match (ctx.in_force, ctx.assessments.first()) {
        (Some(a), _) => cond(
            "Approved",
            true,
            "Approved",
            format!(
                "RiskAssessment {} approved by {}",
                a.name(),
                a.verdict.approvers.join(", ")
            ),
        ),
        (None, None) => cond(
            "Approved",
            false,
            "NoAssessment",
            "no RiskAssessment refers to this system".into(),
        ),
        (None, Some(a)) => cond(
            "Approved",
            false,
            a.verdict.state.as_str(),
            checks::not_approved(ctx).message,
        ),
    };
    let oversight_problems: Vec<&str> = findings
        .iter()
        .filter(|f| f.control == OVERSIGHT_CONTROL)
        .map(|f| f.message.as_str())
        .collect();
    let oversight = if halted {
        cond(
            "OversightReady",
            false,
            "Halted",
            oversight_problems.join("; "),
        )
    } else if oversight_problems.is_empty() {
        cond(
            "OversightReady",
            true,
            "Ready",
            "human oversight is in place".into(),
        )
    } else {
        cond(
            "OversightReady",
            false,
            "Incomplete",
            oversight_problems.join("; "),
        )
    };
    let failing: Vec<&str> = controls
        .iter()
        .filter(|c| !c.satisfied)
        .map(|c| c.id.as_str())
        .collect();
    let (satisfied, applicable) = (controls.len() - failing.len(), controls.len());
    let controls_ok = if failing.is_empty() {
        cond(
            "ControlsSatisfied",
            true,
            "AllSatisfied",
            format!("{satisfied}/{applicable} controls satisfied"),
        )
    } else {
        cond(
            "ControlsSatisfied",
            false,
            "ControlsFailing",
            format!(
                "{satisfied}/{applicable} controls satisfied; failing: {}",
                failing.join(", ")
            ),
        )
    };
    let ready = cond(
        "Ready",
        phase == Phase::Compliant,
        match phase {
            Phase::Compliant => "Compliant",
            Phase::NonCompliant => "NonCompliant",
            Phase::Pending => "Pending",
            Phase::Halted => "Halted",
        },
        match phase {
            Phase::Compliant => "every applicable control is satisfied".into(),
            _ => format!("{} finding(s)", findings.len()),
        },
    );
    vec![
        cond(
            "Registered",
            true,
            "Registered",
            "the system is in the inventory".into(),
        ),
        risk_assessed,
        impact,
        approved,
        oversight,
        controls_ok,
        ready,
    ]
}
