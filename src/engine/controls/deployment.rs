//! A.6.2.5, AI system deployment: the control the webhook enforces. Its whole rule is here: an
//! approval is in force (the system half), it covers every image and model URI each workload runs
//! (the workload half), who may approve and how many must (the approval policy the bindings set),
//! the warning a workload under break-glass carries, and the `Approved` condition.

use jiff::Timestamp;

use super::{Assessed, CheckInputs, ControlFinding, Problem, impact::draft_gaps};
use crate::{
    api::{Artifact, AssessmentState, Enforcement, Severity},
    engine::{
        approval::{ApprovalPolicy, AssessmentVerdict, discounted_summary},
        binding::Applicability,
        break_glass::break_glass_of,
        catalog::{Catalog, ids},
        conditions::ConditionResult,
        workload::{ImageRef, WorkloadFacts},
    },
};

/// Both halves: an approval is in force, and it (or, while none is, the assessment closest to
/// approval, so the gap shows early) covers every workload.
pub fn check(ctx: &CheckInputs, workloads: &[&WorkloadFacts]) -> Vec<Problem> {
    let approval = ctx.in_force.is_none().then(|| not_approved(ctx));
    approval
        .into_iter()
        .chain(workloads.iter().flat_map(|w| scope(ctx, w)))
        .collect()
}

/// The workload half: every image and model URI of `w` is in the scope of the approved
/// assessment, or of the one closest to approval while none is.
fn scope(ctx: &CheckInputs, w: &WorkloadFacts) -> Vec<Problem> {
    match (ctx.in_force, ctx.assessments.first()) {
        (Some(a), _) => uncovered(a, w, "the approved scope"),
        (None, Some(a)) => uncovered(a, w, "the scope"),
        (None, None) => Vec::new(),
    }
}

/// The images and model URIs of `w` that the scope of `a` (called `scope` in the messages) does
/// not cover.
fn uncovered(a: &Assessed, w: &WorkloadFacts, scope: &str) -> Vec<Problem> {
    let artifacts = &a.ra.spec.scope.artifacts;
    let mut out = Vec::new();
    for image in w.images() {
        if !image.is_pinned() {
            out.push(Problem::workload(
                w,
                format!(
                    "image {} is not pinned by digest, so no approval can cover it",
                    image.reference
                ),
            ));
        } else if !artifacts.iter().any(|art| covers_image(art, image)) {
            out.push(Problem::workload(w, format!("image {} is not in {scope} of RiskAssessment {}: add it to spec.scope.artifacts and have it approved", image.reference, a.name())));
        }
    }
    for uri in &w.model_uris {
        if !artifacts.iter().any(|art| art.uri.as_deref() == Some(uri)) {
            out.push(Problem::workload(
                w,
                format!(
                    "model {uri} is not in {scope} of RiskAssessment {}",
                    a.name()
                ),
            ));
        }
    }
    out
}

/// Why there is no approval in force.
fn not_approved(ctx: &CheckInputs) -> Problem {
    let system = ctx.system_name();
    let Some(a) = ctx.assessments.first() else {
        return Problem::pending(format!(
            "not approved: no RiskAssessment with spec.systemRef.name: {system}"
        ));
    };
    let v = &a.verdict;
    let n = a.name();
    match v.state {
        AssessmentState::Draft => Problem::pending(format!(
            "not approved: RiskAssessment {n} is a Draft: {}",
            draft_gaps(a)
        )),
        AssessmentState::PendingApproval => match v.record {
            Some(problem) => Problem::pending(format!(
                "not approved: RiskAssessment {n} counts no approval: {problem}; re-create it with the operator's webhook running, then approve it"
            )),
            None => Problem::pending(format!(
                "not approved: RiskAssessment {n} awaits approval ({}); approvers add an entry to spec.approvals",
                so_far(v)
            )),
        },
        AssessmentState::Rejected => Problem::system(format!(
            "not approved: RiskAssessment {n} was rejected by {}",
            v.rejected_by.as_deref().unwrap_or("an approver")
        )),
        AssessmentState::Expired => Problem::system(format!(
            "not approved: the approval of RiskAssessment {n} expired at {}: reassess and approve again",
            v.expires_at.map_or_else(String::new, |t| t.to_string())
        )),
        AssessmentState::Stale => Problem::system(format!(
            "not approved: RiskAssessment {n} changed after it was approved: its approval is stale and must be given again"
        )),
        AssessmentState::Approved => Problem::system(format!("not approved: RiskAssessment {n}")),
    }
}

/// Who approved so far and which entries do not count: `ana so far; 1 entry discounted: ...`,
/// or `none so far` when there are no entries.
fn so_far(v: &AssessmentVerdict) -> String {
    let mut parts = Vec::new();
    if !v.approvers.is_empty() {
        parts.push(format!("{} so far", v.approvers.join(", ")));
    }
    if !v.discounted.is_empty() {
        parts.push(discounted_summary(&v.discounted));
    }
    if parts.is_empty() {
        parts.push("none so far".to_owned());
    }
    parts.join("; ")
}

/// Whether `artifact` names exactly this image: same repository (Docker Hub prefixes aside) and
/// same digest.
pub fn covers_image(artifact: &Artifact, image: &ImageRef) -> bool {
    let Some(reference) = &artifact.image else {
        return false;
    };
    let declared = ImageRef::parse(reference);
    declared.digest.is_some()
        && declared.digest == image.digest
        && normalize(&declared.repository) == normalize(&image.repository)
}

/// A repository as the engine compares it: without Docker Hub's `docker.io/`,
/// `index.docker.io/` and `library/` prefixes.
pub fn normalize(repository: &str) -> &str {
    let r = repository
        .strip_prefix("docker.io/")
        .or_else(|| repository.strip_prefix("index.docker.io/"))
        .unwrap_or(repository);
    r.strip_prefix("library/").unwrap_or(r)
}

/// The approval policy the bindings set on A.6.2.5: who may approve, and how many must.
pub fn approval_policy(applicability: &Applicability) -> ApprovalPolicy {
    applicability
        .get(ids::DEPLOYMENT_APPROVAL)
        .map_or_else(ApprovalPolicy::default, |a| ApprovalPolicy {
            approver_groups: a.approver_groups(),
            min_approvals: a.min_approvals(),
        })
}

/// A warning for each workload running under unexpired break-glass, with when it ends. Break-glass
/// bypasses enforced controls; it is reported under A.6.2.5 whether or not a binding applies it.
pub fn break_glass(
    catalog: &Catalog,
    workloads: &[&WorkloadFacts],
    now: Timestamp,
) -> Vec<(ControlFinding, Timestamp)> {
    let Some(control) = catalog.get(ids::DEPLOYMENT_APPROVAL) else {
        return Vec::new();
    };
    workloads
        .iter()
        .filter_map(|w| match break_glass_of(w) {
            Some(Ok(bg)) if bg.until > now => Some((w, bg)),
            _ => None,
        })
        .map(|(w, bg)| {
            let problem = Problem::workload(
                w,
                format!(
                    "runs under break-glass (ticket {}: {}) until {}: its enforced controls are bypassed until then; remove the break-glass annotations once it is approved",
                    bg.ticket, bg.reason, bg.until
                ),
            );
            let finding = ControlFinding::new(control, Enforcement::Warn, Severity::High, problem);
            (finding, bg.until)
        })
        .collect()
}

/// `Approved`: an approval is in force, or why not.
pub fn approved(ctx: &CheckInputs) -> ConditionResult {
    let cond = ConditionResult::of("Approved");
    match (ctx.in_force, ctx.assessments.first()) {
        (Some(a), _) => cond(
            true,
            "Approved",
            format!(
                "RiskAssessment {} approved by {}",
                a.name(),
                a.verdict.approvers.join(", ")
            ),
        ),
        (None, None) => cond(
            false,
            "NoAssessment",
            "no RiskAssessment refers to this system".into(),
        ),
        (None, Some(a)) => cond(false, a.verdict.state.as_str(), not_approved(ctx).message),
    }
}
