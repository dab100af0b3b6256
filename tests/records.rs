//! The RiskAssessment record through a real API server, played by hostile team members
//! (`kubectl --as`) and through an outage: the webhook configurations deleted, as the chart's
//! emergency procedure does, then registered again. Stamps do not replay onto another
//! incarnation or system, the submitter record cannot be rewritten, a dry-run stamp counts for
//! nothing, a deleted binding withdraws what it allowed, and what does not count says why.

mod support;

use std::{process::Output, sync::OnceLock, time::Duration};

use aims_operator::api::{AssessmentState, RiskAssessment, RiskAssessmentStatus};
use aims_testenv::ControlPlane;
use kube::Api;
use serde_json::{Value, json};
use support::{
    apply, cluster, eventually, kubectl, kubectl_stdin, namespace, ok,
    operator::Operator,
    records::{IMAGE, apply_records},
    refused, stderr, stdout,
};

const OPERATOR_NS: &str = "aims-system";
const WAIT: Duration = Duration::from_secs(30);
const REVIEWERS: &str = "aims:reviewers";

/// Lets every authenticated user (the team members the tests play) manage the records and
/// Deployments: the rights the README gives an ML team, and approvers.
const RBAC: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aims-records-user}
rules:
  - apiGroups: [aims.dev]
    resources: [riskassessments, aisystems, controlbindings]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [apps]
    resources: [deployments, deployments/scale]
    verbs: [get, list, watch, create, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: aims-records-users}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aims-records-user}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated"}
"#;

/// One operator for the binary, its webhooks registered.
fn operator() -> &'static Operator {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        let cp = cluster();
        ok(apply(cp, RBAC));
        let op = Operator::start(cp, OPERATOR_NS, "operator");
        op.register_webhooks(cp);
        op
    })
}

/// Held by each test for its whole run: an outage removes the webhooks for every namespace.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// An outage of the webhooks; they are registered again when it is dropped, also when the test
/// fails, so the next test has them.
#[must_use]
struct Outage(&'static ControlPlane);

impl Outage {
    /// Ends the outage.
    fn end(self) {}
}

impl Drop for Outage {
    fn drop(&mut self) {
        operator().register_webhooks(self.0);
    }
}

/// The chart's emergency procedure: both webhook configurations deleted. Returns once the API
/// server no longer calls them: a dry-run create comes back as sent, approval and all.
async fn outage(cp: &'static ControlPlane) -> Outage {
    ok(kubectl(
        cp,
        &[
            "delete",
            "validatingwebhookconfiguration,mutatingwebhookconfiguration",
            "aims-operator",
        ],
    ));
    namespace(cp, "outage-probe");
    let probe = json!({"apiVersion": "aims.dev/v1alpha1", "kind": "RiskAssessment",
        "metadata": {"name": "probe", "namespace": "outage-probe"},
        "spec": {"systemRef": {"name": "probe"}, "submittedBy": "nobody",
                 "scope": {"artifacts": [{"image": IMAGE}]},
                 "approvals": [{"decision": "Approve"}]}});
    eventually(
        WAIT,
        "the API server to stop calling the webhooks",
        || async {
            let out = kubectl_stdin(
                cp,
                &[
                    "create",
                    "--dry-run=server",
                    "-o",
                    "jsonpath={.spec.submittedBy}",
                    "-f",
                    "-",
                ],
                &probe.to_string(),
            );
            (out.status.success() && stdout(&out) == "nobody").then_some(())
        },
    )
    .await;
    Outage(cp)
}

/// kubectl as `user` in `groups`.
fn kubectl_as(cp: &ControlPlane, user: &str, groups: &[&str], args: &[&str]) -> Output {
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.push(format!("--as={user}"));
    all.extend(groups.iter().map(|g| format!("--as-group={g}")));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    kubectl(cp, &all)
}

/// A JSON patch of assessment `name` in `ns`, as `user` in `groups`.
fn patch_as(
    cp: &ControlPlane,
    (user, groups): (&str, &[&str]),
    ns: &str,
    name: &str,
    patch: &Value,
) -> Output {
    kubectl_as(
        cp,
        user,
        groups,
        &[
            "-n",
            ns,
            "patch",
            "riskassessment",
            name,
            "--type",
            "json",
            "-p",
            &patch.to_string(),
        ],
    )
}

/// Appends an approval to assessment `name` as `user` in `groups`: a JSON patch `add
/// /spec/approvals/-`, which works on an assessment without decisions too.
fn approve(cp: &ControlPlane, who: (&str, &[&str]), ns: &str, name: &str) -> Output {
    patch_as(
        cp,
        who,
        ns,
        name,
        &json!([{"op": "add", "path": "/spec/approvals/-", "value": {"decision": "Approve"}}]),
    )
}

/// The assessment as stored, as JSON.
fn get_json(cp: &ControlPlane, ns: &str, name: &str) -> Value {
    serde_json::from_str(&ok(kubectl(
        cp,
        &["-n", ns, "get", "riskassessment", name, "-o", "json"],
    )))
    .unwrap()
}

/// Waits until the status of assessment `name`, computed for the object with `uid`, satisfies
/// `want`, and returns it.
async fn wait_status(
    cp: &ControlPlane,
    ns: &str,
    name: &str,
    what: &str,
    want: impl Fn(&RiskAssessmentStatus) -> bool,
) -> RiskAssessmentStatus {
    let api: Api<RiskAssessment> = Api::namespaced(cp.client().await, ns);
    eventually(WAIT, what, || async {
        let ra = api.get_status(name).await.ok()?;
        let status = ra.status?;
        // Computed from the object as it is now, not left from an earlier write.
        (status.observed_generation == ra.metadata.generation && want(&status)).then_some(status)
    })
    .await
}

fn state_is(want: AssessmentState) -> impl Fn(&RiskAssessmentStatus) -> bool {
    move |s| s.state == Some(want)
}

/// The condition `type_` of `status`: (status, reason, message).
fn condition(status: &RiskAssessmentStatus, type_: &str) -> (String, String, String) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no {type_} condition in {status:#?}"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

/// `ra` as a new object to create: only its name, namespace and spec.
fn as_new(ra: &Value) -> Value {
    json!({"apiVersion": "aims.dev/v1alpha1", "kind": "RiskAssessment",
           "metadata": {"name": ra["metadata"]["name"], "namespace": ra["metadata"]["namespace"]},
           "spec": ra["spec"]})
}

const ALICE: (&str, &[&str]) = ("alice", &[REVIEWERS]);
const MALLORY: (&str, &[&str]) = ("mallory", &["developers"]);

/// (a) An approved assessment deleted and re-created under the same name, with the old entries
/// (and record) copied in while the webhooks were removed: for the same system and for another,
/// it is not Approved, and its status says why.
#[tokio::test]
async fn approvals_copied_onto_a_re_created_assessment_do_not_count() {
    let cp = cluster();
    operator();
    let _alone = ALONE.lock().await;
    let ns = "rec-replay";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;
    ok(apply(
        cp,
        &format!(
            "apiVersion: aims.dev/v1alpha1\nkind: AISystem\nmetadata: {{name: other, namespace: {ns}}}\n\
             spec: {{purpose: Another system., riskTier: Limited, owner: {{name: sam, contact: sam@example.com}},\n\
             oversight: {{overseers: [{{name: olga}}]}}}}\n"
        ),
    ));
    ok(approve(cp, ALICE, ns, "scoring-v1"));
    wait_status(
        cp,
        ns,
        "scoring-v1",
        "the approval",
        state_is(AssessmentState::Approved),
    )
    .await;
    let approved = get_json(cp, ns, "scoring-v1");

    let outage = outage(cp).await;
    for system in ["scoring", "other"] {
        ok(kubectl_as(
            cp,
            MALLORY.0,
            MALLORY.1,
            &["-n", ns, "delete", "riskassessment", "scoring-v1", "--wait"],
        ));
        let mut copy = as_new(&approved);
        copy["spec"]["systemRef"]["name"] = json!(system);
        ok(kubectl_stdin(
            cp,
            &[
                "create",
                "-f",
                "-",
                "--as",
                MALLORY.0,
                "--as-group",
                MALLORY.1[0],
            ],
            &copy.to_string(),
        ));
        let stored = get_json(cp, ns, "scoring-v1");
        assert_eq!(stored["spec"]["approvals"], approved["spec"]["approvals"]);
        let status = wait_status(
            cp,
            ns,
            "scoring-v1",
            &format!("the copy for {system} to be assessed"),
            |s| !s.discounted.is_empty(),
        )
        .await;
        assert_eq!(
            status.state,
            Some(AssessmentState::PendingApproval),
            "{system}: {status:#?}"
        );
        let reason = status.discounted[0].reason.as_str();
        let want: &[&str] = if system == "scoring" {
            // The record is of this name and system: made less than 30 s before this create,
            // it verifies, but the stamp is of the deleted object's uid. Made earlier, the
            // record is not of this object either.
            &["BadSignature", "UnverifiedRecord"]
        } else {
            // The record names the other system.
            &["UnverifiedRecord"]
        };
        assert!(want.contains(&reason), "{system}: {status:#?}");
        assert_eq!(status.discounted[0].user.as_deref(), Some("alice"));
    }
    // Registered again: the copy still counts nothing, and the denial says why.
    outage.end();
    let status = wait_status(cp, ns, "scoring-v1", "the copy", |s| {
        !s.discounted.is_empty()
    })
    .await;
    let (verified, reason, message) = condition(&status, "RecordVerified");
    assert_eq!(
        (verified.as_str(), reason.as_str()),
        ("False", "BadSignature")
    );
    assert!(message.contains("re-create the assessment"), "{message}");
}

/// (b) The submitter record cannot be rewritten: during an outage the API server itself refuses
/// a change to `submittedBy` or `editedBy`; content edited during the outage (its editor not
/// recorded), or an assessment created during it with a false submitter, counts no approval, and
/// no decision is taken on it afterwards.
#[tokio::test]
async fn the_submitter_record_cannot_be_rewritten_during_an_outage() {
    let cp = cluster();
    operator();
    let _alone = ALONE.lock().await;
    let ns = "rec-submitter";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;
    // sam, an approver, submits an assessment of his own; dan edits it.
    let sams = json!({"apiVersion": "aims.dev/v1alpha1", "kind": "RiskAssessment",
        "metadata": {"name": "sams", "namespace": ns},
        "spec": {"systemRef": {"name": "scoring"}, "scope": {"artifacts": [{"image": IMAGE}]},
                 "risks": [{"id": "R1", "title": "Bias", "source": "Fairness", "likelihood": 2,
                            "severity": 2, "treatment": "Mitigate"}],
                 "impactAssessment": {"affectedGroups": ["Applicants"], "completedOn": "2026-10-30"}}});
    ok(kubectl_stdin(
        cp,
        &["create", "-f", "-", "--as", "sam", "--as-group", REVIEWERS],
        &sams.to_string(),
    ));
    ok(patch_as(
        cp,
        ("dan", &["developers"]),
        ns,
        "sams",
        &json!([{"op": "replace", "path": "/spec/risks/0/likelihood", "value": 3}]),
    ));
    let stored = get_json(cp, ns, "sams");
    assert_eq!(stored["spec"]["submittedBy"], "sam");
    assert_eq!(stored["spec"]["editedBy"], json!(["dan"]));
    refused(
        &approve(cp, ("sam", &[REVIEWERS]), ns, "sams"),
        "sam submitted",
    );
    ok(approve(cp, ALICE, ns, "sams"));
    wait_status(
        cp,
        ns,
        "sams",
        "alice's approval",
        state_is(AssessmentState::Approved),
    )
    .await;

    let outage = outage(cp).await;
    let sam = ("sam", &[REVIEWERS][..]);
    for (patch, says) in [
        (
            json!([{"op": "replace", "path": "/spec/submittedBy", "value": "alice"}]),
            "spec.submittedBy cannot be changed",
        ),
        (
            json!([{"op": "remove", "path": "/spec/submittedBy"}]),
            "spec.submittedBy cannot be changed",
        ),
        (
            json!([{"op": "remove", "path": "/spec/editedBy"}]),
            "spec.editedBy is append-only",
        ),
        (
            json!([{"op": "replace", "path": "/spec/editedBy", "value": ["eve"]}]),
            "spec.editedBy is append-only",
        ),
    ] {
        refused(&patch_as(cp, sam, ns, "sams", &patch), says);
    }
    // What CEL cannot know: who edits. eve, an approver, changes the content; no one records her
    // as an editor.
    let eve = ("eve", &[REVIEWERS][..]);
    ok(patch_as(
        cp,
        eve,
        ns,
        "sams",
        &json!([{"op": "replace", "path": "/spec/risks/0/severity", "value": 1}]),
    ));
    // Nor who creates. sam creates one naming alice as its submitter, and
    // another with the record of his first one copied in.
    let mut lying = as_new(&stored);
    lying["metadata"]["name"] = json!("sams-2");
    lying["spec"]["submittedBy"] = json!("alice");
    lying["spec"]["editedBy"] = json!([]);
    let mut unsigned = lying.clone();
    unsigned["metadata"]["name"] = json!("sams-3");
    unsigned["spec"]
        .as_object_mut()
        .unwrap()
        .remove("recordStamp");
    for object in [&lying, &unsigned] {
        ok(kubectl_stdin(
            cp,
            &["create", "-f", "-", "--as", "sam", "--as-group", REVIEWERS],
            &object.to_string(),
        ));
    }
    outage.end();
    // eve's edit broke the record over the content: alice's approval no longer counts, and eve
    // cannot approve her own edit.
    let status = wait_status(cp, ns, "sams", "the edit outside admission", |s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "RecordVerified" && c.status == "False")
    })
    .await;
    assert_eq!(
        status.state,
        Some(AssessmentState::PendingApproval),
        "{status:#?}"
    );
    assert_eq!(
        status.discounted[0].reason, "UnverifiedRecord",
        "{status:#?}"
    );
    refused(&approve(cp, eve, ns, "sams"), "re-create the assessment");
    for (name, problem) in [("sams-2", "BadSignature"), ("sams-3", "Unsigned")] {
        let status = wait_status(cp, ns, name, "the record to be checked", |s| {
            s.conditions.iter().any(|c| c.type_ == "RecordVerified")
        })
        .await;
        let (verified, reason, _) = condition(&status, "RecordVerified");
        assert_eq!(
            (verified.as_str(), reason.as_str()),
            ("False", problem),
            "{name}"
        );
        // sam cannot approve his own work now that it names alice; nor can anyone else.
        for who in [sam, ALICE] {
            refused(&approve(cp, who, ns, name), "re-create the assessment");
        }
    }
}

/// (c) A stamp answered on a dry run, written for real during an outage, does not count; the
/// entry shows in `status.discounted`, in a Warning Event on the assessment, and in the denial.
#[tokio::test]
async fn a_dry_run_stamp_written_for_real_does_not_count() {
    let cp = cluster();
    operator();
    let _alone = ALONE.lock().await;
    let ns = "rec-dry-run";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;
    let dry = kubectl_as(
        cp,
        ALICE.0,
        ALICE.1,
        &[
            "-n",
            ns,
            "patch",
            "riskassessment",
            "scoring-v1",
            "--type",
            "json",
            "-p",
            r#"[{"op":"add","path":"/spec/approvals/-","value":{"decision":"Approve"}}]"#,
            "--dry-run=server",
            "-o",
            "json",
        ],
    );
    let answered: Value = serde_json::from_str(&ok(dry)).unwrap();
    let stamped = &answered["spec"]["approvals"];
    assert_eq!(stamped[0]["stamp"]["user"], "alice", "{answered:#}");
    assert_eq!(
        get_json(cp, ns, "scoring-v1")["spec"]["approvals"],
        json!([])
    );

    let outage = outage(cp).await;
    ok(patch_as(
        cp,
        ALICE,
        ns,
        "scoring-v1",
        &json!([{"op": "add", "path": "/spec/approvals", "value": stamped}]),
    ));
    outage.end();
    let status = wait_status(cp, ns, "scoring-v1", "the entry to be discounted", |s| {
        !s.discounted.is_empty()
    })
    .await;
    assert_eq!(status.state, Some(AssessmentState::PendingApproval));
    assert_eq!(status.discounted[0].reason, "BadSignature", "{status:#?}");
    let (_, _, message) = condition(&status, "Approved");
    assert!(message.contains("1 entry discounted"), "{message}");

    // The Warning Event on the assessment.
    eventually(WAIT, "the ApprovalsDiscounted event", || async {
        let out = kubectl(
            cp,
            &[
                "-n",
                ns,
                "get",
                "events",
                "--field-selector",
                "reason=ApprovalsDiscounted,involvedObject.name=scoring-v1",
                "-o",
                "jsonpath={.items[*].note}{.items[*].message}",
            ],
        );
        stdout(&out)
            .contains("spec.approvals[0] by alice")
            .then_some(())
    })
    .await;
    // The denial says so too, instead of "none so far".
    let deployment = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: scorer, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}\n\
         spec:\n  selector: {{matchLabels: {{app: scorer}}}}\n  template:\n    metadata: {{labels: {{app: scorer}}}}\n    spec:\n      containers:\n        - {{name: scorer, image: \"{IMAGE}\", resources: {{requests: {{cpu: 100m}}}}}}\n"
    );
    eventually(WAIT, "the denial to name the discounted entry", || async {
        let out = kubectl_stdin(cp, &["apply", "--dry-run=server", "-f", "-"], &deployment);
        let text = stderr(&out);
        (!out.status.success() && text.contains("1 entry discounted: spec.approvals[0] by alice"))
            .then_some(())
    })
    .await;
}

/// (d) An approval that counted because of a binding stops counting when the binding is deleted:
/// the assessment is no longer Approved, without any change to it.
#[tokio::test]
async fn deleting_the_binding_that_made_the_approver_valid_withdraws_the_approval() {
    let cp = cluster();
    operator();
    let _alone = ALONE.lock().await;
    let ns = "rec-binding";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;
    // A second binding adds gina's group to the approver groups.
    ok(apply(
        cp,
        &format!(
            "apiVersion: aims.dev/v1alpha1\nkind: ControlBinding\nmetadata: {{name: guests, namespace: {ns}}}\n\
             spec:\n  enforcement: Enforce\n  controls:\n    - {{id: A.6.2.5, params: {{approverGroups: [\"aims:guests\"]}}}}\n"
        ),
    ));
    let gina = ("gina", &["aims:guests"][..]);
    eventually(WAIT, "gina's approval to be accepted", || async {
        approve(cp, gina, ns, "scoring-v1")
            .status
            .success()
            .then_some(())
    })
    .await;
    wait_status(
        cp,
        ns,
        "scoring-v1",
        "the approval",
        state_is(AssessmentState::Approved),
    )
    .await;
    ok(kubectl(
        cp,
        &["-n", ns, "delete", "controlbinding", "guests"],
    ));
    let status = wait_status(
        cp,
        ns,
        "scoring-v1",
        "the approval to be withdrawn",
        state_is(AssessmentState::PendingApproval),
    )
    .await;
    assert_eq!(status.discounted[0].reason, "NotAnApprover", "{status:#?}");
    assert_eq!(status.discounted[0].user.as_deref(), Some("gina"));
}
