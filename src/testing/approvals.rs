//! RiskAssessments stamped and signed as the webhook does.

use jiff::Timestamp;

use crate::{
    api::{Approval, Decision, RiskAssessment},
    engine::approval::{self, EntryRef, SigningKey},
};

/// The signing key of the tests.
pub fn signing_key() -> SigningKey {
    // 32 bytes is a valid key length.
    SigningKey::new([7u8; 32]).unwrap_or_else(|_| unreachable!("a 32-byte key is valid"))
}

/// Signs `ra`'s record of who submitted and edited it, as the webhook does at create (and again at
/// each edit).
pub fn seal(key: &SigningKey, ra: &mut RiskAssessment, at: Timestamp) {
    ra.spec.record_stamp = Some(approval::record_stamp_of(key, ra, at));
}

/// Appends `user`'s decision (in `groups`, at `at`, with `comment`), stamped and signed over the
/// current content, as the webhook does.
pub fn decide(
    key: &SigningKey,
    ra: &mut RiskAssessment,
    decision: Decision,
    comment: Option<String>,
    (user, groups): (&str, &[&str]),
    at: Timestamp,
) {
    let entry = Approval {
        decision,
        comment,
        stamp: None,
    };
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let stamp = approval::stamp(
        key,
        EntryRef::of(ra, ra.spec.approvals.len()),
        &entry,
        user,
        &groups,
        at,
        &approval::content_hash(&ra.spec),
    );
    ra.spec.approvals.push(Approval {
        stamp: Some(stamp),
        ..entry
    });
}

/// `ra` sealed at `at` and approved by each of `approvers` in `groups`, a minute apart from `at`
/// on, without comments.
pub fn approved_by(
    key: &SigningKey,
    mut ra: RiskAssessment,
    approvers: &[&str],
    groups: &[&str],
    at: Timestamp,
) -> RiskAssessment {
    seal(key, &mut ra, at);
    for (i, user) in approvers.iter().enumerate() {
        let when = at + jiff::SignedDuration::from_mins(i as i64);
        decide(key, &mut ra, Decision::Approve, None, (user, groups), when);
    }
    ra
}

/// When [`scoring_assessment`] was created.
pub const SCORING_CREATED: &str = "2025-10-30T08:00:00Z";
/// The uid of [`scoring_assessment`].
pub const SCORING_UID: &str = "0b5c8f4e-9d1a-4c3e-8f00-000000000001";

/// A complete assessment `credit/scoring-v3` of AISystem `credit-scoring`: one pinned image in
/// scope, two risks against an acceptance threshold of 6 (R1 treated down to residual 1×5), an
/// impact assessment with a fundamental rights summary, valid for 30 days, submitted by `sam` and
/// edited by `eve`, created at [`SCORING_CREATED`] and sealed then with [`signing_key`]; no
/// decisions yet.
pub fn scoring_assessment() -> RiskAssessment {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    let spec = serde_json::from_value(serde_json::json!({
        "systemRef": {"name": "credit-scoring"},
        "scope": {
            "artifacts": [{"image": format!("r.example.com/scorer@sha256:{}", "a".repeat(64))}],
            "description": "Scorecard v3"
        },
        "criteria": {"acceptanceThreshold": 6},
        "risks": [
            {"id": "R1", "title": "Bias by age", "source": "Fairness", "likelihood": 3,
             "severity": 5, "treatment": "Mitigate", "controls": ["A.7.4"],
             "residualLikelihood": 1, "residualSeverity": 5},
            {"id": "R2", "title": "Drift", "source": "Robustness", "likelihood": 3,
             "severity": 3, "treatment": "Mitigate"}
        ],
        "impactAssessment": {
            "affectedGroups": ["Loan applicants"],
            "fundamentalRights": {"summary": "Non-discrimination"},
            "completedOn": "2025-10-14"
        },
        "validFor": "30d",
        "submittedBy": "sam",
        "editedBy": ["eve"]
    }))
    .unwrap_or_else(|e| unreachable!("the fixture is a valid spec: {e}"));
    let mut ra = RiskAssessment::new("scoring-v3", spec);
    ra.metadata.namespace = Some("credit".to_owned());
    ra.metadata.uid = Some(SCORING_UID.to_owned());
    let created: Timestamp = SCORING_CREATED
        .parse()
        .unwrap_or_else(|e| unreachable!("a valid timestamp: {e}"));
    ra.metadata.creation_timestamp = Some(Time(created));
    seal_at_creation(&signing_key(), &mut ra);
    ra
}

/// [`seal`] dated `ra`'s creation (or [`SCORING_CREATED`] without one): the record signed again
/// after an edit through admission.
pub fn seal_at_creation(key: &SigningKey, ra: &mut RiskAssessment) {
    let at = ra
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or_else(|| SCORING_CREATED.parse().unwrap_or_default(), |c| c.0);
    seal(key, ra, at);
}
