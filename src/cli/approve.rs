//! `kubectl aims approve` and `kubectl aims reject`: one approver's decision on a RiskAssessment,
//! appended to `spec.approvals`. The operator's admission webhook stamps the entry with who made
//! it, when, and on what content, and refuses it when its author may not approve.

use json_patch::{
    AddOperation, Patch as JsonPatch, PatchOperation, TestOperation, jsonptr::Pointer,
};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

use super::connect::{ClusterError, Connection, Named, Target, settle};
use crate::api::{AssessmentState, Decision, RiskAssessment};

/// Options of `aims approve`.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The RiskAssessment to approve.
    #[arg(value_name = "RISKASSESSMENT")]
    pub name: String,
    /// Its namespace.
    #[command(flatten)]
    pub scope: super::connect::ObjectScope,
    /// Why you approve, recorded with your decision.
    #[arg(long, value_name = "TEXT", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub comment: Option<String>,
    /// How to reach the cluster.
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
}

/// Options of `aims reject`.
#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    /// The RiskAssessment to reject.
    #[arg(value_name = "RISKASSESSMENT")]
    pub name: String,
    /// Its namespace.
    #[command(flatten)]
    pub scope: super::connect::ObjectScope,
    /// Why you reject it: what has to change before it can be approved.
    #[arg(long, value_name = "TEXT", required = true, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub comment: String,
    /// How to reach the cluster.
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
}

/// One decision to record.
#[derive(Debug)]
pub struct ApprovalRequest {
    /// The assessment.
    pub name: String,
    /// Its namespace, when given.
    pub namespace: Option<String>,
    /// Approve or Reject.
    pub decision: Decision,
    /// Why.
    pub comment: Option<String>,
}

impl From<ApproveArgs> for ApprovalRequest {
    fn from(a: ApproveArgs) -> Self {
        Self {
            name: a.name,
            namespace: a.scope.namespace,
            decision: Decision::Approve,
            comment: a.comment,
        }
    }
}

impl From<RejectArgs> for ApprovalRequest {
    fn from(a: RejectArgs) -> Self {
        Self {
            name: a.name,
            namespace: a.scope.namespace,
            decision: Decision::Reject,
            comment: Some(a.comment),
        }
    }
}

fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Approve => "Approve",
        Decision::Reject => "Reject",
    }
}

/// The JSON patch that appends one entry with `decision` and `comment` to an assessment that has
/// `existing` approvals, as read at `resource_version`. A JSON patch cannot append to a list
/// that is not there, so the first entry adds the whole list. The patch first tests the
/// resourceVersion: if anyone changed the assessment since it was read, the API server refuses
/// the patch instead of the entry landing on content the approver did not see (or replacing a
/// list that someone else created in the meantime).
pub fn approval_patch(
    existing: usize,
    resource_version: &str,
    decision: Decision,
    comment: Option<&str>,
) -> JsonPatch {
    let mut entry = json!({"decision": decision_name(decision)});
    if let Some(comment) = comment {
        entry["comment"] = Value::from(comment);
    }
    let test = PatchOperation::Test(TestOperation {
        path: Pointer::from_static("/metadata/resourceVersion").to_buf(),
        value: Value::from(resource_version),
    });
    let add = if existing == 0 {
        AddOperation {
            path: Pointer::from_static("/spec/approvals").to_buf(),
            value: Value::Array(vec![entry]),
        }
    } else {
        AddOperation {
            path: Pointer::from_static("/spec/approvals/-").to_buf(),
            value: entry,
        }
    };
    JsonPatch(vec![test, PatchOperation::Add(add)])
}

/// What the webhook stamped on the entry this request added (the last one), in one line.
pub fn stamped(ra: &RiskAssessment) -> String {
    let Some(entry) = ra.spec.approvals.last() else {
        return "  the entry is not there: the assessment has no approvals".to_owned();
    };
    match &entry.stamp {
        Some(stamp) => {
            let groups = if stamp.groups.is_empty() {
                String::new()
            } else {
                format!(", groups {}", stamp.groups.join(", "))
            };
            format!(
                "  stamped: user {}{groups}, content {}",
                stamp.user,
                short_hash(&stamp.content_hash)
            )
        }
        None => "  not stamped: the aims admission webhook is not registered, so this entry counts for nothing".to_owned(),
    }
}

/// `sha256:` and the first 12 hex digits.
fn short_hash(hash: &str) -> String {
    let (prefix, hex) = hash.split_once(':').unwrap_or(("", hash));
    let hex: String = hex.chars().take(12).collect();
    if prefix.is_empty() {
        hex
    } else {
        format!("{prefix}:{hex}")
    }
}

/// Where the assessment stands, as its status says.
pub fn state(ra: &RiskAssessment) -> String {
    let Some(status) = ra.status.as_ref() else {
        return "  state: not evaluated yet (is the operator running?)".to_owned();
    };
    let state = status.state.map_or("-", AssessmentState::as_str);
    match (status.state, status.approved_by.as_slice()) {
        (_, []) => format!("  state: {state}"),
        (Some(AssessmentState::Approved), by) => {
            format!("  state: {state} (approved by {})", by.join(", "))
        }
        // Rejected, stale or expired: the approvals that would count, but do not decide it.
        (_, by) => format!("  state: {state} (valid approvals: {})", by.join(", ")),
    }
}

/// Records the decision and says what was stamped, then where the assessment stands once the
/// operator has evaluated it (or as it last stood, if that takes longer than
/// [`SETTLE`](super::connect::SETTLE)).
pub async fn run(cluster: &Connection, request: ApprovalRequest) -> Result<String, ClusterError> {
    let namespace = cluster.namespace(request.namespace);
    let name = request.name.as_str();
    let target = Target::object("riskassessment", name, &namespace);
    let api: Api<RiskAssessment> = cluster.api(&namespace);
    let current = api
        .get(name)
        .await
        .map_err(|e| cluster.classify(e, target))?;
    let patch = approval_patch(
        current.spec.approvals.len(),
        &current.resource_version().unwrap_or_default(),
        request.decision,
        request.comment.as_deref(),
    );
    let updated = match api
        .patch(name, &PatchParams::default(), &Patch::<()>::Json(patch))
        .await
    {
        Ok(updated) => updated,
        Err(e) => {
            // A JSON patch whose `test` fails is refused as 422 with a generic message; whether the
            // assessment moved on tells it apart from other invalid requests.
            let invalid = matches!(&e, kube::Error::Api(s) if s.code == 422);
            if invalid
                && api
                    .get(name)
                    .await
                    .is_ok_and(|now| now.resource_version() != current.resource_version())
            {
                return Err(target.conflict());
            }
            return Err(cluster.classify(e, target));
        }
    };
    let named = Named {
        kind: "riskassessment",
        name,
        namespace: &namespace,
    };
    let recorded = match request.decision {
        Decision::Approve => "approval",
        Decision::Reject => "rejection",
    };
    let mut out = format!("{named}: {recorded} recorded\n{}\n", stamped(&updated));
    let evaluated = settle(&api, name, updated.metadata.generation, |o| {
        o.status.as_ref().and_then(|s| s.observed_generation)
    })
    .await;
    out.push_str(&state(evaluated.as_ref().unwrap_or(&updated)));
    if evaluated.is_none() {
        out.push_str(" (the operator has not evaluated the new entry yet)");
    }
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(patch: &JsonPatch) -> Value {
        serde_json::to_value(patch).unwrap()
    }

    #[test]
    fn the_first_approval_adds_the_list() {
        let patch = approval_patch(0, "4711", Decision::Approve, Some("risks are treated"));
        assert_eq!(
            ops(&patch),
            json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "4711"},
                {"op": "add", "path": "/spec/approvals", "value": [{"decision": "Approve", "comment": "risks are treated"}]},
            ])
        );
    }

    #[test]
    fn a_later_decision_is_appended() {
        let patch = approval_patch(2, "4712", Decision::Reject, Some("R2 is not treated"));
        assert_eq!(
            ops(&patch),
            json!([
                {"op": "test", "path": "/metadata/resourceVersion", "value": "4712"},
                {"op": "add", "path": "/spec/approvals/-", "value": {"decision": "Reject", "comment": "R2 is not treated"}},
            ])
        );
    }

    #[test]
    fn an_approval_without_comment_has_none() {
        let patch = approval_patch(1, "1", Decision::Approve, None);
        assert_eq!(
            ops(&patch)[1]["value"],
            json!({"decision": "Approve"}),
            "no empty comment"
        );
    }

    #[test]
    fn the_patch_applies_to_the_assessment_as_read_and_not_to_a_changed_one() {
        let mut doc = json!({"metadata": {"resourceVersion": "7"}, "spec": {}});
        json_patch::patch(&mut doc, &approval_patch(0, "7", Decision::Approve, None)).unwrap();
        json_patch::patch(
            &mut doc,
            &approval_patch(1, "7", Decision::Reject, Some("no")),
        )
        .unwrap();
        assert_eq!(
            doc["spec"]["approvals"],
            json!([{"decision": "Approve"}, {"decision": "Reject", "comment": "no"}])
        );
        let mut moved = json!({"metadata": {"resourceVersion": "8"}, "spec": {}});
        assert!(
            json_patch::patch(&mut moved, &approval_patch(0, "7", Decision::Approve, None))
                .is_err()
        );
    }

    fn assessment(approvals: Value, status: Value) -> RiskAssessment {
        serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1",
            "kind": "RiskAssessment",
            "metadata": {"name": "scoring-v1", "namespace": "credit", "generation": 2},
            "spec": {
                "systemRef": {"name": "scoring"},
                "scope": {"artifacts": [{"image": "r.example.com/s@sha256:5555555555555555555555555555555555555555555555555555555555555555"}]},
                "approvals": approvals,
            },
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn prints_the_stamp_and_the_state() {
        let ra = assessment(
            json!([{"decision": "Approve", "stamp": {
                "user": "alice", "groups": ["aims:reviewers", "system:authenticated"],
                "at": "2026-11-23T12:00:00Z",
                "contentHash": "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "signature": "00"}}]),
            json!({"state": "Approved", "approvedBy": ["alice"], "observedGeneration": 2}),
        );
        assert_eq!(
            stamped(&ra),
            "  stamped: user alice, groups aims:reviewers, system:authenticated, content sha256:0123456789ab"
        );
        assert_eq!(state(&ra), "  state: Approved (approved by alice)");
    }

    #[test]
    fn says_when_nothing_was_stamped() {
        let ra = assessment(
            json!([{"decision": "Reject", "comment": "no"}]),
            json!(null),
        );
        assert!(stamped(&ra).contains("not stamped"));
        assert!(state(&ra).contains("not evaluated yet"));
        let rejected = assessment(
            json!([]),
            json!({"state": "Rejected", "approvedBy": ["alice"]}),
        );
        assert_eq!(
            state(&rejected),
            "  state: Rejected (valid approvals: alice)"
        );
    }
}
