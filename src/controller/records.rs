//! The lifecycle transitions the controllers add to the tamper-evident records
//! ([`crate::audit`]): every notice people are told about (approved, approval expired, stale or
//! rejected, halted, resumed, compliant, ...), each enforced control that starts or stops failing
//! (a nonconformity opened or closed), and the workloads a halt stopped or a resume restored.

use serde_json::{Map, Value};

use super::status::Notice;
use kube::ResourceExt;

use crate::{
    api::{AISystemStatus, RiskAssessment, RiskAssessmentStatus},
    audit::fields,
    engine::{approval::AssessmentVerdict, evaluate::Evaluation},
};

/// An enforced control started failing: a nonconformity is opened.
pub const CONTROL_FAILING: &str = "ControlFailing";

/// An enforced control stopped failing: the nonconformity is closed.
pub const CONTROL_RESOLVED: &str = "ControlResolved";

/// A RiskAssessment changed state (approved, rejected, expired, stale, pending).
pub const ASSESSMENT_STATE: &str = "AssessmentState";

/// The records of one system's status change, `(event, fields)`, in the order they happened.
pub fn of_system(
    namespace: &str,
    name: &str,
    previous: Option<&AISystemStatus>,
    new: &AISystemStatus,
    evaluation: &Evaluation,
    notices: &[Notice],
) -> Vec<(&'static str, Map<String, Value>)> {
    let about = || fields([("namespace", namespace.into()), ("system", name.into())]);
    let mut out = Vec::new();
    for notice in notices {
        let mut f = about();
        f.insert("note".into(), notice.note.clone().into());
        if notice.reason == "Approved"
            && let Some(approval) = &new.approval
        {
            f.insert("assessment".into(), approval.assessment.clone().into());
            f.insert("approvers".into(), approval.approvers.clone().into());
            let hash = evaluation
                .assessments
                .iter()
                .find(|a| a.name == approval.assessment)
                .map(|a| a.content_hash.clone());
            f.insert("contentHash".into(), hash.unwrap_or_default().into());
            for (key, at) in [
                ("approvedAt", &approval.approved_at),
                ("expiresAt", &approval.expires_at),
            ] {
                if let Some(at) = at {
                    f.insert(key.into(), at.0.to_string().into());
                }
            }
        }
        out.push((notice.reason, f));
    }
    let before = previous.map_or(&[][..], |p| p.nonconformities.as_slice());
    for control in new.nonconformities.iter().filter(|c| !before.contains(c)) {
        let mut f = about();
        f.insert("control".into(), control.clone().into());
        let message = evaluation
            .findings
            .iter()
            .find(|f| &f.control == control)
            .map(|f| f.message.clone());
        f.insert("message".into(), message.unwrap_or_default().into());
        out.push((CONTROL_FAILING, f));
    }
    for control in before.iter().filter(|c| !new.nonconformities.contains(c)) {
        let mut f = about();
        f.insert("control".into(), control.clone().into());
        out.push((CONTROL_RESOLVED, f));
    }
    out
}

/// The records of one RiskAssessment's status change: its new state, if it changed, and which
/// approval entries stopped counting (`discounted`, the notice people are told).
pub fn of_assessment(
    namespace: &str,
    ra: &RiskAssessment,
    previous: Option<&RiskAssessmentStatus>,
    new: &RiskAssessmentStatus,
    verdict: &AssessmentVerdict,
    discounted: Option<&Notice>,
) -> Vec<(&'static str, Map<String, Value>)> {
    let about = || {
        fields([
            ("namespace", namespace.into()),
            ("assessment", ra.name_any().into()),
            ("contentHash", verdict.content_hash.clone().into()),
        ])
    };
    let mut out = Vec::new();
    let was = previous.and_then(|p| p.state);
    if was != new.state
        && let Some(state) = new.state
    {
        let mut f = about();
        f.insert("system".into(), ra.spec.system_ref.name.clone().into());
        f.insert(
            "state".into(),
            serde_json::to_value(state).unwrap_or_default(),
        );
        f.insert(
            "previousState".into(),
            was.and_then(|s| serde_json::to_value(s).ok())
                .unwrap_or_else(|| "".into()),
        );
        f.insert("approvers".into(), new.approved_by.clone().into());
        let expires = new.expires_at.as_ref().map(|t| t.0.to_string());
        f.insert("expiresAt".into(), expires.unwrap_or_default().into());
        out.push((ASSESSMENT_STATE, f));
    }
    if let Some(notice) = discounted {
        let mut f = about();
        f.insert("note".into(), notice.note.clone().into());
        out.push((notice.reason, f));
    }
    out
}

/// The record of a halt's or a resume's steps.
pub fn of_halt(
    namespace: &str,
    name: &str,
    reason: &'static str,
    workloads: &[String],
) -> (&'static str, Map<String, Value>) {
    (
        reason,
        fields([
            ("namespace", namespace.into()),
            ("system", name.into()),
            ("workloads", workloads.to_vec().into()),
        ]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(nonconformities: &[&str]) -> AISystemStatus {
        AISystemStatus {
            nonconformities: nonconformities.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn controls_that_start_and_stop_failing_open_and_close_nonconformities() {
        let evaluation = crate::testing::evaluation(crate::api::Phase::NonCompliant);
        type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a [(&'a str, &'a str)]);
        let cases: [Case; 4] = [
            (&[], &["A.6.2.5"], &[(CONTROL_FAILING, "A.6.2.5")]),
            (&["A.6.2.5"], &["A.6.2.5"], &[]),
            (
                &["A.6.2.5", "A.9.2"],
                &["A.9.2"],
                &[(CONTROL_RESOLVED, "A.6.2.5")],
            ),
            (
                &["A.9.2"],
                &["A.6.2.5"],
                &[(CONTROL_FAILING, "A.6.2.5"), (CONTROL_RESOLVED, "A.9.2")],
            ),
        ];
        for (before, after, want) in cases {
            let records = of_system(
                "credit",
                "scoring",
                Some(&status(before)),
                &status(after),
                &evaluation,
                &[],
            );
            let got: Vec<(&str, &str)> = records
                .iter()
                .map(|(e, f)| (*e, f["control"].as_str().unwrap()))
                .collect();
            assert_eq!(got, want, "{before:?} -> {after:?}");
        }
        let opened = &of_system(
            "credit",
            "scoring",
            None,
            &status(&["A.6.2.5"]),
            &evaluation,
            &[],
        )[0]
        .1;
        assert_eq!(opened["system"], "scoring");
    }

    #[test]
    fn an_assessments_state_change_and_its_discounted_entries_are_recorded() {
        use crate::api::AssessmentState;
        let ra = crate::testing::scoring_assessment();
        let verdict = crate::engine::approval::assess(
            &ra,
            &Default::default(),
            crate::engine::approval::Trust::AsWritten,
            "2026-01-01T00:00:00Z".parse().unwrap(),
        );
        let state = |s| RiskAssessmentStatus {
            state: Some(s),
            approved_by: vec!["alice".into()],
            ..Default::default()
        };
        let pending = state(AssessmentState::PendingApproval);
        let approved = state(AssessmentState::Approved);
        let notice = Notice {
            warning: true,
            reason: "ApprovalsDiscounted",
            note: "entry 1: not signed".into(),
        };
        let records = of_assessment(
            "credit",
            &ra,
            Some(&pending),
            &approved,
            &verdict,
            Some(&notice),
        );
        let events: Vec<&str> = records.iter().map(|(e, _)| *e).collect();
        assert_eq!(events, [ASSESSMENT_STATE, "ApprovalsDiscounted"]);
        let changed = &records[0].1;
        assert_eq!(changed["state"], "Approved");
        assert_eq!(changed["previousState"], "PendingApproval");
        assert_eq!(changed["approvers"], serde_json::json!(["alice"]));
        assert_eq!(changed["contentHash"], verdict.content_hash.as_str());
        assert_eq!(records[1].1["note"], "entry 1: not signed");
        // No state change, no notice: nothing recorded.
        assert!(
            of_assessment("credit", &ra, Some(&approved), &approved, &verdict, None).is_empty()
        );
    }
}
