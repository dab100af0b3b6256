//! Status as a pure function of the previous status, the evaluation and `now`: conditions keep their
//! `lastTransitionTime` while their status holds, lists are capped, and an unchanged evaluation gives
//! back exactly the previous status, so the controller writes nothing.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::{
    api::{
        AISystemStatus, ApprovalSummary, AssessmentState, ControlCounts, DiscountedEntry,
        Enforcement, Finding, HaltedWorkload, Phase, RiskAssessmentStatus, WorkloadCounts,
    },
    engine::{
        approval::{AssessmentVerdict, RecordProblem},
        evaluate::{ConditionResult, Evaluation, Verdict},
    },
};

/// Most findings a status carries; `findingsTotal` has the full count.
pub const MAX_FINDINGS: usize = 50;
/// Most workload names a status carries.
pub const MAX_WORKLOAD_NAMES: usize = 20;

/// Kubernetes keeps times to the second; so does everything this module writes.
fn seconds(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// Conditions from the engine's results, keeping each previous `lastTransitionTime` whose status
/// did not change.
pub fn conditions(
    previous: &[Condition],
    results: &[ConditionResult],
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    results
        .iter()
        .map(|r| {
            let status = if r.status { "True" } else { "False" }.to_owned();
            let last_transition_time = previous
                .iter()
                .find(|c| c.type_ == r.type_ && c.status == status)
                .map_or_else(|| seconds(now), |c| c.last_transition_time.clone());
            Condition {
                type_: r.type_.to_owned(),
                status,
                reason: r.reason.to_owned(),
                message: r.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// The status of an AISystem. When nothing but the time differs from `previous`, it is
/// `previous` itself.
pub fn system_status(
    previous: Option<&AISystemStatus>,
    e: &Evaluation,
    halted_workloads: Vec<HaltedWorkload>,
    generation: Option<i64>,
    now: Timestamp,
) -> AISystemStatus {
    let (satisfied, applicable) = e.control_counts();
    let compliant = e
        .workloads
        .iter()
        .filter(|w| w.verdict != Verdict::Deny)
        .count();
    let mut status = AISystemStatus {
        phase: Some(e.phase),
        conditions: conditions(
            previous.map_or(&[], |p| &p.conditions),
            &e.conditions,
            generation,
            now,
        ),
        approval: e.approval.as_ref().map(|a| ApprovalSummary {
            assessment: a.assessment.clone(),
            approvers: a.approvers.clone(),
            approved_at: a.approved_at.map(seconds),
            expires_at: a.expires_at.map(seconds),
        }),
        controls: Some(ControlCounts {
            satisfied: count(satisfied),
            applicable: count(applicable),
            not_applicable: count(e.excluded.len()),
            summary: format!("{satisfied}/{applicable}"),
        }),
        findings: e
            .findings
            .iter()
            .take(MAX_FINDINGS)
            .map(|f| Finding {
                control: f.control.clone(),
                severity: f.severity,
                message: f.message.clone(),
                workload: f.workload.clone(),
                eu_ai_act: f.eu_ai_act.clone(),
                nist_ai_rmf: f.nist_ai_rmf.clone(),
            })
            .collect(),
        findings_total: (e.findings.len() > MAX_FINDINGS).then(|| count(e.findings.len())),
        workloads: Some(WorkloadCounts {
            matched: count(e.workloads.len()),
            compliant: count(compliant),
            summary: format!("{compliant}/{}", e.workloads.len()),
            names: e
                .workloads
                .iter()
                .take(MAX_WORKLOAD_NAMES)
                .map(|w| w.workload.clone())
                .collect(),
        }),
        nonconformities: e
            .controls
            .iter()
            .filter(|c| c.enforcement == Enforcement::Enforce && !c.satisfied)
            .map(|c| c.id.clone())
            .collect(),
        observed_generation: generation,
        last_evaluated: Some(seconds(now)),
        next_review_at: e.next_review_at.map(seconds),
        halted_workloads,
    };
    keep_if_unchanged(previous, &mut status, |s| &mut s.last_evaluated);
    status
}

/// The status of a RiskAssessment.
pub fn assessment_status(
    previous: Option<&RiskAssessmentStatus>,
    v: &AssessmentVerdict,
    system_found: bool,
    generation: Option<i64>,
    now: Timestamp,
) -> RiskAssessmentStatus {
    let approved = v.state == AssessmentState::Approved;
    let results = [
        ConditionResult {
            type_: "SystemFound",
            status: system_found,
            reason: if system_found { "Found" } else { "NotFound" },
            message: if system_found {
                "the AISystem in spec.systemRef exists".to_owned()
            } else {
                "no AISystem of that name in this namespace: spec.systemRef names a system that does not exist".to_owned()
            },
        },
        ConditionResult {
            type_: "RecordVerified",
            status: v.record.is_none(),
            reason: match v.record {
                None => "Verified",
                Some(RecordProblem::Unsigned) => "Unsigned",
                Some(RecordProblem::BadSignature) => "BadSignature",
                Some(RecordProblem::NotAtCreation) => "NotAtCreation",
            },
            message: match v.record {
                None => "the operator's record stamp over spec.submittedBy and spec.editedBy \
                         verifies"
                    .to_owned(),
                Some(problem) => format!(
                    "{problem}: no approval counts; re-create the assessment with the operator's \
                     webhook running, then approve it again"
                ),
            },
        },
        ConditionResult {
            type_: "Approved",
            status: approved,
            reason: v.state.as_str(),
            message: if approved {
                format!("approved by {}", v.approvers.join(", "))
            } else if v.discounted.is_empty() {
                v.state.as_str().to_owned()
            } else {
                format!("{}: {}", v.state.as_str(), discounted_summary(v))
            },
        },
    ];
    RiskAssessmentStatus {
        state: Some(v.state),
        inherent_risk: v.risk.as_ref().map(|r| r.inherent.clone()),
        residual_risk: v.risk.as_ref().map(|r| r.residual.clone()),
        within_appetite: v.risk.as_ref().map(|r| r.within_appetite),
        content_hash: Some(v.content_hash.clone()),
        approved_by: v.approvers.clone(),
        approved_at: v.approved_at.map(seconds),
        expires_at: v.expires_at.map(seconds),
        discounted: v
            .discounted
            .iter()
            .map(|d| DiscountedEntry {
                index: u32::try_from(d.index).unwrap_or(u32::MAX),
                user: d.user.clone(),
                reason: d.reason.as_str().to_owned(),
                message: d.reason.to_string(),
            })
            .collect(),
        conditions: conditions(
            previous.map_or(&[], |p| &p.conditions),
            &results,
            generation,
            now,
        ),
        observed_generation: generation,
    }
}

/// The entries that do not count, as one sentence: `2 entries discounted: spec.approvals[0]
/// (bob): ...; spec.approvals[1] ...`. Empty when none is.
pub fn discounted_summary(v: &AssessmentVerdict) -> String {
    crate::engine::approval::discounted_summary(&v.discounted)
}

/// The Warning Event to publish on an assessment when the entries that do not count changed
/// from `previous` to `new`: their summary, or `None` when there are none or nothing changed.
pub fn discounted_notice(
    previous: Option<&RiskAssessmentStatus>,
    new: &RiskAssessmentStatus,
    v: &AssessmentVerdict,
) -> Option<Notice> {
    let before = previous.map_or(&[][..], |p| p.discounted.as_slice());
    (!new.discounted.is_empty() && before != new.discounted.as_slice()).then(|| Notice {
        warning: true,
        reason: "ApprovalsDiscounted",
        note: discounted_summary(v),
    })
}

/// An Event worth telling people about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Warning rather than Normal.
    pub warning: bool,
    /// The Event's reason.
    pub reason: &'static str,
    /// The Event's note.
    pub note: String,
}

/// The transitions from `previous` to `new` that people care about: approved, approval expired,
/// stale or rejected, and every phase change (non-compliant with the failing controls, halted,
/// resumed, compliant, pending).
pub fn notices(previous: Option<&AISystemStatus>, new: &AISystemStatus) -> Vec<Notice> {
    let condition = |s: Option<&AISystemStatus>, t: &str| {
        s.and_then(|s| s.conditions.iter().find(|c| c.type_ == t).cloned())
    };
    let mut out = Vec::new();
    let was_approved = condition(previous, "Approved").is_some_and(|c| c.status == "True");
    if let Some(approved) = condition(Some(new), "Approved") {
        let now_approved = approved.status == "True";
        if now_approved && !was_approved {
            let expires = new
                .approval
                .as_ref()
                .and_then(|a| a.expires_at.as_ref())
                .map(|t| format!("; expires {}", t.0))
                .unwrap_or_default();
            out.push(Notice {
                warning: false,
                reason: "Approved",
                note: format!("{}{expires}", approved.message),
            });
        } else if was_approved && !now_approved {
            let reason = match approved.reason.as_str() {
                "Expired" => "ApprovalExpired",
                "Stale" => "ApprovalStale",
                "Rejected" => "ApprovalRejected",
                _ => "ApprovalWithdrawn",
            };
            out.push(Notice {
                warning: true,
                reason,
                note: approved.message.clone(),
            });
        }
    }
    let before = previous.and_then(|p| p.phase);
    if before != new.phase {
        let failing = condition(Some(new), "ControlsSatisfied")
            .map(|c| c.message)
            .unwrap_or_default();
        let notice = match new.phase {
            Some(Phase::NonCompliant) => Some((true, "NonCompliant", failing)),
            Some(Phase::Halted) => Some((
                true,
                "Halted",
                new.findings
                    .iter()
                    .find(|f| f.message.starts_with("halted by an overseer"))
                    .map_or_else(|| "halted by an overseer".to_owned(), |f| f.message.clone()),
            )),
            _ if before == Some(Phase::Halted) => Some((
                false,
                "Resumed",
                "the halt was lifted; workloads are restored".to_owned(),
            )),
            Some(Phase::Compliant) => Some((
                false,
                "Compliant",
                "every applicable control is satisfied".to_owned(),
            )),
            Some(Phase::Pending) => Some((false, "Pending", failing)),
            None => None,
        };
        if let Some((warning, reason, note)) = notice {
            out.push(Notice {
                warning,
                reason,
                note,
            });
        }
    }
    out
}

/// When `status` equals `previous` but for the field `time` picks, takes `previous`'s value of it.
fn keep_if_unchanged<S: Clone + PartialEq>(
    previous: Option<&S>,
    status: &mut S,
    time: impl Fn(&mut S) -> &mut Option<Time>,
) {
    let Some(previous) = previous else { return };
    let mut candidate = status.clone();
    *time(&mut candidate) = time(&mut previous.clone()).clone();
    if &candidate == previous {
        *status = candidate;
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(phase: Phase, approved: (&str, &str)) -> AISystemStatus {
        AISystemStatus {
            phase: Some(phase),
            conditions: vec![
                Condition {
                    type_: "Approved".into(),
                    status: approved.0.into(),
                    reason: approved.1.into(),
                    message: "m".into(),
                    observed_generation: None,
                    last_transition_time: Time(Timestamp::UNIX_EPOCH),
                },
                Condition {
                    type_: "ControlsSatisfied".into(),
                    status: "False".into(),
                    reason: "ControlsFailing".into(),
                    message: "3/4 controls satisfied; failing: A.6.2.5".into(),
                    observed_generation: None,
                    last_transition_time: Time(Timestamp::UNIX_EPOCH),
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn notices_name_the_transitions_people_care_about() {
        let pending = with(Phase::Pending, ("False", "PendingApproval"));
        let compliant = with(Phase::Compliant, ("True", "Approved"));
        let expired = with(Phase::NonCompliant, ("False", "Expired"));
        let stale = with(Phase::NonCompliant, ("False", "Stale"));
        let halted = with(Phase::Halted, ("True", "Approved"));
        let reasons = |p: Option<&AISystemStatus>, n: &AISystemStatus| {
            notices(p, n).iter().map(|n| n.reason).collect::<Vec<_>>()
        };
        assert_eq!(reasons(None, &pending), ["Pending"]);
        assert_eq!(
            reasons(Some(&pending), &compliant),
            ["Approved", "Compliant"]
        );
        assert_eq!(
            reasons(Some(&compliant), &expired),
            ["ApprovalExpired", "NonCompliant"]
        );
        assert_eq!(
            reasons(Some(&compliant), &stale),
            ["ApprovalStale", "NonCompliant"]
        );
        assert_eq!(reasons(Some(&compliant), &halted), ["Halted"]);
        assert_eq!(reasons(Some(&halted), &compliant), ["Resumed"]);
        assert_eq!(reasons(Some(&compliant), &compliant), Vec::<&str>::new());
        let non_compliant = &notices(Some(&compliant), &expired)[1];
        assert!(non_compliant.warning && non_compliant.note.contains("failing: A.6.2.5"));
    }

    #[test]
    fn discounted_entries_show_in_the_status_the_condition_and_one_event() {
        use crate::engine::approval::{DiscountReason, Discounted};
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let verdict = |discounted: Vec<Discounted>, record| AssessmentVerdict {
            state: AssessmentState::PendingApproval,
            content_hash: "sha256:00".into(),
            approvers: Vec::new(),
            approved_at: None,
            expires_at: None,
            rejected_by: None,
            discounted,
            record,
            risk: None,
        };
        let bad = |index| Discounted {
            index,
            user: Some("alice".into()),
            reason: DiscountReason::BadSignature,
        };
        let none = verdict(Vec::new(), None);
        let one = verdict(vec![bad(0)], None);
        let two = verdict(vec![bad(0), bad(1)], None);
        let first = assessment_status(None, &none, true, Some(1), now);
        assert!(first.discounted.is_empty());
        let second = assessment_status(Some(&first), &one, true, Some(1), now);
        assert_eq!(second.discounted.len(), 1);
        assert_eq!(second.discounted[0].reason, "BadSignature");
        assert_eq!(second.discounted[0].user.as_deref(), Some("alice"));
        assert!(second.discounted[0].message.contains("does not verify"));
        let approved = second
            .conditions
            .iter()
            .find(|c| c.type_ == "Approved")
            .unwrap();
        assert!(
            approved
                .message
                .starts_with("PendingApproval: 1 entry discounted: spec.approvals[0] by alice: "),
            "{}",
            approved.message
        );
        // One Warning Event per change of the list, none when it stays or empties.
        let notice = discounted_notice(Some(&first), &second, &one).unwrap();
        assert!(notice.warning && notice.reason == "ApprovalsDiscounted");
        assert!(
            notice.note.starts_with("1 entry discounted"),
            "{}",
            notice.note
        );
        assert_eq!(discounted_notice(Some(&second), &second, &one), None);
        let third = assessment_status(Some(&second), &two, true, Some(1), now);
        let notice = discounted_notice(Some(&second), &third, &two).unwrap();
        assert!(
            notice.note.starts_with("2 entries discounted"),
            "{}",
            notice.note
        );
        assert_eq!(discounted_notice(Some(&third), &first, &none), None);
        // A record that does not verify is a condition of its own, saying what to do.
        let unsigned = verdict(vec![], Some(RecordProblem::Unsigned));
        let status = assessment_status(None, &unsigned, true, Some(1), now);
        let record = status
            .conditions
            .iter()
            .find(|c| c.type_ == "RecordVerified")
            .unwrap();
        assert_eq!(
            (record.status.as_str(), record.reason.as_str()),
            ("False", "Unsigned")
        );
        assert!(
            record.message.contains("re-create the assessment"),
            "{}",
            record.message
        );
        let verified = first
            .conditions
            .iter()
            .find(|c| c.type_ == "RecordVerified")
            .unwrap();
        assert_eq!(verified.status, "True");
    }

    fn result(type_: &'static str, status: bool) -> ConditionResult {
        ConditionResult {
            type_,
            status,
            reason: "R",
            message: "m".into(),
        }
    }

    #[test]
    fn transition_times_move_only_when_the_status_changes() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-02T00:00:00.700Z".parse().unwrap();
        let first = conditions(
            &[],
            &[result("Approved", false), result("Ready", false)],
            Some(1),
            t0,
        );
        let mut changed = result("Ready", true);
        changed.message = "other".into();
        let second = conditions(&first, &[result("Approved", false), changed], Some(2), t1);
        assert_eq!(
            second[0].last_transition_time,
            Time(t0),
            "unchanged status keeps its time"
        );
        assert_eq!(
            second[1].last_transition_time.0.to_string(),
            "2026-01-02T00:00:00Z",
            "changed status, whole seconds"
        );
        assert_eq!(second[1].observed_generation, Some(2));
    }

    #[test]
    fn an_unchanged_evaluation_gives_back_the_previous_status() {
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let e = Evaluation {
            conditions: vec![result("Ready", false)],
            ..crate::testing::evaluation(crate::api::Phase::Pending)
        };
        let first = system_status(None, &e, Vec::new(), Some(1), t0);
        let again = system_status(Some(&first), &e, Vec::new(), Some(1), t1);
        assert_eq!(again, first, "no change, no new lastEvaluated, so no write");
        let newer = system_status(Some(&first), &e, Vec::new(), Some(2), t1);
        assert_ne!(newer, first);
        assert_eq!(newer.last_evaluated, Some(Time(t1)));
    }
}
