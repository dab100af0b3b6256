//! The admission webhook through a real API server, called over TLS: `kubectl` as a person uses
//! it, approvers impersonated with `--as`, the operator as its own process with its own
//! certificates, and the webhook configurations from `aims webhook-config`.

mod support;

use std::{collections::BTreeMap, process::Output, sync::OnceLock, time::Duration};

use aims_operator::{
    api::{AssessmentState, RiskAssessment},
    testing::Manifest,
};
use aims_testenv::ControlPlane;
use kube::Api;
use support::{
    apply, cluster, eventually, install_crds, kubectl, kubectl_stdin, namespace, ok,
    operator::Operator,
    records::{IMAGE, apply_records, records, wait_stores_hold_records},
    refused, stderr, stdout,
};

const OPERATOR_NS: &str = "aims-system";
const WAIT: Duration = Duration::from_secs(30);
const NEW_IMAGE: &str = "registry.example.com/credit/scorer@sha256:6666666666666666666666666666666666666666666666666666666666666666";

/// Lets the test users read and change RiskAssessments and AISystems, and manage Deployments:
/// what an approver or an overseer would be granted.
const RBAC: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aims-test-user}
rules:
  - apiGroups: [aims.dev]
    resources: [riskassessments, aisystems]
    verbs: [get, list, watch, create, update, patch]
  - apiGroups: [apps]
    resources: [deployments, deployments/scale]
    verbs: [get, list, watch, create, update, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: aims-test-users}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aims-test-user}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated"}
"#;

/// Waits until Deployment `scorer` of `ns` asks for `replicas`.
async fn wait_replicas(cp: &ControlPlane, ns: &str, replicas: &str) {
    let jsonpath = "jsonpath={.spec.replicas}";
    eventually(
        WAIT,
        &format!("scorer to have {replicas} replicas"),
        || async {
            let out = kubectl(
                cp,
                &["-n", ns, "get", "deployment", "scorer", "-o", jsonpath],
            );
            (stdout(&out) == replicas).then_some(())
        },
    )
    .await;
}

fn operator() -> &'static Operator {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        let cp = cluster();
        ok(apply(cp, RBAC));
        // JSON logs, so that the decision log's records can be read back.
        let op = Operator::start_with(cp, OPERATOR_NS, "operator", &["--log-format", "json"]);
        op.register_webhooks(cp);
        op
    })
}

/// Deployment `name` of system `scoring` in `ns`, running `image`.
fn scorer(name: &str, ns: &str, image: &str) -> Manifest {
    Manifest::deployment(name, image)
        .namespace(ns)
        .system("scoring")
        .container("scorer")
        .cpu("100m")
}

fn deployment(ns: &str, image: &str) -> String {
    scorer("scorer", ns, image).yaml()
}

/// `kubectl patch` of the assessment with a JSON patch, as `user` in `groups`.
fn patch_assessment(
    cp: &ControlPlane,
    ns: &str,
    user: &str,
    groups: &[&str],
    patch: &str,
) -> Output {
    let mut args = vec![
        "-n",
        ns,
        "patch",
        "riskassessment",
        "scoring-v1",
        "--type",
        "json",
        "-p",
        patch,
    ];
    let as_user = format!("--as={user}");
    args.push(&as_user);
    let as_groups: Vec<String> = groups.iter().map(|g| format!("--as-group={g}")).collect();
    args.extend(as_groups.iter().map(String::as_str));
    kubectl(cp, &args)
}

/// The first approval entry (JSON patch cannot append to a list that is not there yet).
const APPROVE: &str = r#"[{"op":"add","path":"/spec/approvals","value":[{"decision":"Approve","comment":"risks are treated"}]}]"#;

/// Merge-patches AISystem `scoring` of `ns` with `body`, as user `who`.
fn patch_scoring(cp: &ControlPlane, ns: &str, body: &str, who: &str) -> Output {
    kubectl(
        cp,
        &[
            "-n",
            ns,
            "patch",
            "aisystem",
            "scoring",
            "--type",
            "merge",
            "-p",
            body,
            &format!("--as={who}"),
        ],
    )
}

/// The API server's open watches by resource (`apiserver_longrunning_requests`).
fn watches(cp: &ControlPlane) -> BTreeMap<String, f64> {
    let metrics = ok(kubectl(cp, &["get", "--raw", "/metrics"]));
    let mut watches = BTreeMap::new();
    for line in metrics.lines().filter(|l| {
        l.starts_with("apiserver_longrunning_requests{") && l.contains(r#"verb="WATCH""#)
    }) {
        let resource = line
            .split(r#"resource=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default();
        let count: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        *watches.entry(resource.to_owned()).or_default() += count;
    }
    watches
}

async fn state(api: &Api<RiskAssessment>) -> Option<AssessmentState> {
    api.get_status("scoring-v1").await.ok()?.status?.state
}

#[tokio::test]
async fn an_unapproved_deployment_is_denied_until_approved_and_a_new_digest_until_approved_again() {
    let cp = cluster();
    let op = operator();
    let ns = "wh-deny";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;

    let out = apply(cp, &deployment(ns, IMAGE));
    refused(
        &out,
        "admission webhook \"workloads.aims.dev\" denied the request",
    );
    refused(&out, "A.6.2.5 (Enforce)");
    refused(&out, "kubectl describe aisystem scoring -n wh-deny");

    // Each denial is an Event on the system.
    eventually(WAIT, "an AdmissionDenied event", || async {
        let out = kubectl(
            cp,
            &[
                "-n",
                ns,
                "get",
                "events",
                "--field-selector",
                "reason=AdmissionDenied",
                "-o",
                "name",
            ],
        );
        (!stdout(&out).trim().is_empty()).then_some(())
    })
    .await;

    // Break-glass: a member of the group admits it for a bounded time, with a warning; anyone else
    // is still denied.
    let until = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string();
    let glass = scorer("scorer-glass", ns, IMAGE)
        .annotation("aims.dev/break-glass-ticket", "INC-4711")
        .annotation("aims.dev/break-glass-reason", "fraud wave")
        .annotation("aims.dev/break-glass-until", &until)
        .yaml();
    refused(
        &kubectl_stdin(cp, &["apply", "-f", "-", "--as=dev"], &glass),
        "break-glass not honoured: dev is not in the group aims:break-glass",
    );
    let out = kubectl_stdin(
        cp,
        &[
            "apply",
            "-f",
            "-",
            "--as=oncall",
            "--as-group=aims:break-glass",
        ],
        &glass,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("admitted under break-glass ticket INC-4711"),
        "{}",
        stderr(&out)
    );
    ok(kubectl(
        cp,
        &["-n", ns, "delete", "deployment", "scorer-glass"],
    ));

    ok(patch_assessment(
        cp,
        ns,
        "alice",
        &["aims:reviewers"],
        APPROVE,
    ));
    let client = cp.client().await;
    let api: Api<RiskAssessment> = Api::namespaced(client, ns);
    eventually(WAIT, "the assessment to be Approved", || async {
        (state(&api).await == Some(AssessmentState::Approved)).then_some(())
    })
    .await;
    let ra = api.get("scoring-v1").await.unwrap();
    let stamp = ra.spec.approvals[0]
        .stamp
        .as_ref()
        .expect("the webhook stamped the approval");
    assert_eq!(stamp.user, "alice");
    assert_eq!(
        ra.spec.submitted_by.as_deref(),
        Some("admin"),
        "the submitter is stamped at create"
    );

    // The webhook answers from its stores, which see the approval within moments.
    eventually(WAIT, "the deployment to be admitted", || async {
        apply(cp, &deployment(ns, IMAGE))
            .status
            .success()
            .then_some(())
    })
    .await;

    let out = apply(cp, &deployment(ns, NEW_IMAGE));
    refused(&out, "is not in the approved scope");
    assert!(
        op.metric("aims_admission_requests_total{webhook=\"workloads\",verdict=\"deny\"}") >= 2.0
    );

    // The new digest is assessed (the submitter edits the scope, which makes the approval Stale)
    // and approved again by a reviewer: then it is admitted.
    let scope = format!(
        r#"[{{"op":"add","path":"/spec/scope/artifacts/-","value":{{"image":"{NEW_IMAGE}"}}}}]"#
    );
    ok(patch_assessment(
        cp,
        ns,
        "admin",
        &["system:masters"],
        &scope,
    ));
    let again = r#"[{"op":"add","path":"/spec/approvals/-","value":{"decision":"Approve","comment":"new model version reviewed"}}]"#;
    ok(patch_assessment(
        cp,
        ns,
        "alice",
        &["aims:reviewers"],
        again,
    ));
    eventually(WAIT, "the new digest to be admitted", || async {
        apply(cp, &deployment(ns, NEW_IMAGE))
            .status
            .success()
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn warn_is_admitted_with_a_warning_that_kubectl_prints() {
    let cp = cluster();
    operator();
    let ns = "wh-warn";
    namespace(cp, ns);
    apply_records(cp, ns, "Warn").await;
    let out = apply(cp, &deployment(ns, IMAGE));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Warning: Deployment/scorer: A.6.2.5 (Warn)"),
        "{}",
        stderr(&out)
    );
}

/// The decision log's records (`AdmissionDecision` in the operator's records) of the workload
/// `name` in `ns`.
fn decisions(op: &Operator, ns: &str, name: &str) -> Vec<serde_json::Value> {
    op.logs()
        .lines()
        .filter_map(|l| aims_operator::engine::chain::find(l)?.ok())
        .filter(|(record, _)| record.event == "AdmissionDecision")
        .map(|(_, line)| line)
        .filter(|r| r["namespace"] == ns && r["name"] == name)
        .collect()
}

/// Each decision is one record in the decision log: the request, who made it, the object, its
/// system, the verdict and the failing controls. An update that only scales a workload down is
/// admitted without an evaluation, and its record still names the system.
#[tokio::test]
async fn each_decision_is_a_record_in_the_decision_log() {
    let cp = cluster();
    let op = operator();
    let ns = "wh-log";
    namespace(cp, ns);
    apply_records(cp, ns, "Warn").await;
    ok(apply(cp, &deployment(ns, IMAGE)));
    // The record is written once the answer is on its way.
    let warned = eventually(WAIT, "a record of the create", || async {
        decisions(op, ns, "scorer")
            .into_iter()
            .find(|r| r["operation"] == "CREATE")
    })
    .await;
    assert!(
        warned["message"].is_string(),
        "the answer's message: {warned}"
    );
    assert!(
        warned["hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:")),
        "a link of the records' chain: {warned}"
    );
    assert_eq!(warned["webhook"], "workloads", "{warned}");
    assert_eq!(warned["kind"], "Deployment", "{warned}");
    assert_eq!(warned["user"], "admin", "{warned}");
    assert_eq!(warned["system"], "scoring", "{warned}");
    assert_eq!(warned["verdict"], "warn", "{warned}");
    assert_eq!(warned["controls"], "A.6.2.5", "{warned}");
    assert!(
        warned["uid"].as_str().is_some_and(|u| !u.is_empty()),
        "{warned}"
    );

    // Until the webhook's store holds the Deployment, a scale request cannot be read against it;
    // the scale is repeated until one is.
    eventually(WAIT, "a scale-down's record naming the system", || async {
        ok(kubectl(
            cp,
            &["-n", ns, "scale", "deployment", "scorer", "--replicas=0"],
        ));
        decisions(op, ns, "scorer")
            .iter()
            .any(|r| {
                r["subresource"] == "scale" && r["system"] == "scoring" && r["verdict"] == "allow"
            })
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn forged_approvals_are_refused() {
    let cp = cluster();
    operator();
    let ns = "wh-forge";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;

    // The submitter (the admin who created it) cannot approve.
    refused(
        &patch_assessment(cp, ns, "admin", &["aims:reviewers"], APPROVE),
        "submitted or edited this assessment",
    );
    // Nor can someone outside the approver groups.
    refused(
        &patch_assessment(cp, ns, "bob", &["developers"], APPROVE),
        "bob is not an approver",
    );
    // Stamps are the operator's to write.
    refused(
        &patch_assessment(
            cp,
            ns,
            "alice",
            &["aims:reviewers"],
            r#"[{"op":"add","path":"/spec/approvals","value":[{"decision":"Approve","stamp":{"user":"carol","groups":["aims:reviewers"],"at":"2026-01-01T00:00:00Z","contentHash":"sha256:0000000000000000000000000000000000000000000000000000000000000000","signature":"0000000000000000000000000000000000000000000000000000000000000000"}}]}]"#,
        ),
        "stamp",
    );
    // A proper approval, then attempts to edit or remove it.
    ok(patch_assessment(
        cp,
        ns,
        "alice",
        &["aims:reviewers"],
        APPROVE,
    ));
    refused(
        &patch_assessment(
            cp,
            ns,
            "alice",
            &["aims:reviewers"],
            r#"[{"op":"replace","path":"/spec/approvals/0/comment","value":"edited"}]"#,
        ),
        "append-only",
    );
    refused(
        &patch_assessment(
            cp,
            ns,
            "alice",
            &["aims:reviewers"],
            r#"[{"op":"remove","path":"/spec/approvals/0"}]"#,
        ),
        "append-only",
    );
    // Someone who edits the assessed content and approves in one go is an editor.
    refused(
        &patch_assessment(
            cp,
            ns,
            "carol",
            &["aims:reviewers"],
            r#"[{"op":"replace","path":"/spec/risks/0/likelihood","value":1},{"op":"add","path":"/spec/approvals/-","value":{"decision":"Approve"}}]"#,
        ),
        "submitted or edited this assessment",
    );
}

#[tokio::test]
async fn only_an_overseer_clears_a_halt_and_a_halt_denies_scale_ups() {
    let cp = cluster();
    operator();
    let ns = "wh-halt";
    namespace(cp, ns);
    apply_records(cp, ns, "Audit").await;
    ok(apply(cp, &deployment(ns, IMAGE)));
    // The system then fails an enforced control (it is not approved): scaling up is denied...
    ok(apply(cp, &records(ns, "Enforce")));
    eventually(WAIT, "the binding to be enforced", || async {
        let out = kubectl(
            cp,
            &[
                "-n",
                ns,
                "scale",
                "deployment",
                "scorer",
                "--replicas=2",
                "--dry-run=server",
            ],
        );
        stderr(&out).contains("A.6.2.5 (Enforce)").then_some(())
    })
    .await;
    let halt = r#"{"spec":{"oversight":{"halt":true,"haltReason":"drift under investigation"}}}"#;
    ok(patch_scoring(cp, ns, halt, "olga"));
    wait_replicas(cp, ns, "0").await;
    let out = kubectl(
        cp,
        &["-n", ns, "scale", "deployment", "scorer", "--replicas=2"],
    );
    refused(&out, "halted by an overseer (drift under investigation)");

    let resume = r#"{"spec":{"oversight":{"halt":false,"haltReason":null}}}"#;
    refused(&patch_scoring(cp, ns, resume, "mallory"), "olga");
    ok(patch_scoring(cp, ns, resume, "olga"));
    // ...but the resume restores what ran before the halt, and no more.
    wait_replicas(cp, ns, "1").await;
    let out = kubectl(
        cp,
        &["-n", ns, "scale", "deployment", "scorer", "--replicas=2"],
    );
    refused(&out, "A.6.2.5 (Enforce)");
}

/// With the webhook process (a webhook-only replica) stopped, kube-system and the operator's
/// namespace still admit, and an approval written while the webhook was not registered counts for
/// nothing. On a control plane of its own, as it stops the operator.
#[tokio::test]
async fn a_stopped_webhook_locks_nothing_out_and_unstamped_approvals_do_not_count() {
    let cp = ControlPlane::start().expect("start a control plane");
    install_crds(&cp, false);
    ok(apply(&cp, RBAC));
    let ns = "offline";
    namespace(&cp, ns);
    ok(apply(&cp, &records(ns, "Enforce")));
    // Before the webhooks are registered: an approval with a stamp written by hand is stored.
    ok(patch_assessment(
        &cp,
        ns,
        "alice",
        &["aims:reviewers"],
        r#"[{"op":"add","path":"/spec/approvals","value":[{"decision":"Approve","stamp":{"user":"alice","groups":["aims:reviewers"],"at":"2026-01-01T00:00:00Z","contentHash":"sha256:0000000000000000000000000000000000000000000000000000000000000000","signature":"0000000000000000000000000000000000000000000000000000000000000000"}}]}]"#,
    ));
    // The controllers in one process, the webhook in a webhook-only replica beside it.
    let controllers = Operator::start_with(&cp, OPERATOR_NS, "controllers", &["--no-webhook"]);
    let client = cp.client().await;
    let api: Api<RiskAssessment> = Api::namespaced(client, ns);
    eventually(WAIT, "the assessment's status", || async {
        (state(&api).await == Some(AssessmentState::PendingApproval)).then_some(())
    })
    .await;
    let watches_before = watches(&cp);
    let op = Operator::start_with(&cp, OPERATOR_NS, "webhook", &["--webhook-only"]);
    op.register_webhooks(&cp);
    wait_stores_hold_records(&cp, ns).await;
    // The replica watches what the webhook reads, not the kinds only the controllers read. (The
    // aims kinds are left out: kube-controller-manager's garbage collector may start watching
    // them at any time. Watches that reconnect are waited out.)
    let expected = [
        ("namespaces", 1.0),
        ("deployments", 1.0),
        ("statefulsets", 1.0),
        ("pods", 0.0),
        ("jobs", 0.0),
        ("cronjobs", 0.0),
        ("daemonsets", 0.0),
    ];
    let count = |w: &BTreeMap<String, f64>, resource| w.get(resource).copied().unwrap_or_default();
    eventually(WAIT, "the replica's watches", || {
        let now = watches(&cp);
        let settled = expected
            .iter()
            .all(|(r, more)| count(&now, *r) - count(&watches_before, *r) == *more);
        if !settled {
            eprintln!("open watches: before the replica {watches_before:?}, now {now:?}");
        }
        async move { settled.then_some(()) }
    })
    .await;
    refused(&apply(&cp, &deployment(ns, IMAGE)), "A.6.2.5 (Enforce)");

    assert_eq!(op.writes(), 0.0, "a webhook-only replica writes no status");
    assert!(controllers.writes() > 0.0);
    assert!(op.stop(), "the webhook replica stops cleanly");
    for excluded in ["kube-system", OPERATOR_NS] {
        let out = apply(&cp, &deployment(excluded, IMAGE));
        assert!(out.status.success(), "{excluded}: {}", stderr(&out));
    }
    // Elsewhere the API server fails closed.
    refused(
        &apply(&cp, &deployment(ns, IMAGE)),
        "failed calling webhook",
    );
}

#[tokio::test]
async fn unregistered_model_workloads_follow_the_namespace_policy() {
    let cp = cluster();
    operator();
    let vllm = |ns: &str| {
        format!(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: playground, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: playground}}}}
  template:
    metadata: {{labels: {{app: playground}}}}
    spec:
      containers:
        - name: llm
          image: vllm/vllm-openai:v0.6.3
          resources: {{limits: {{nvidia.com/gpu: "1"}}}}
"#
        )
    };
    // The operator's default: admitted with a warning.
    namespace(cp, "wh-shadow-warn");
    let out = apply(cp, &vllm("wh-shadow-warn"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unregistered model workload"),
        "{}",
        stderr(&out)
    );
    // A namespace that says Deny.
    namespace(cp, "wh-shadow-deny");
    ok(kubectl(
        cp,
        &[
            "label",
            "namespace",
            "wh-shadow-deny",
            "aims.dev/unregistered=Deny",
        ],
    ));
    eventually(
        WAIT,
        "the unregistered vLLM deployment to be denied",
        || async {
            let out = apply(cp, &vllm("wh-shadow-deny"));
            (!out.status.success() && stderr(&out).contains("unregistered model workload"))
                .then_some(())
        },
    )
    .await;
    // What a runtime's images are: its SDK image benchmarking a server is no server, the same
    // image running the server is one, and so is an image under a project named for a runtime.
    let shaped = |name: &str, image: &str, command: &str| {
        format!(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: wh-shadow-deny}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: main
          image: "{image}"
          command: {command}
"#
        )
    };
    let sdk = "nvcr.io/nvidia/tritonserver:25.06-py3-sdk";
    let bench = shaped(
        "bench",
        sdk,
        "[perf_analyzer, -m, resnet50, -u, 'triton:8001']",
    );
    ok(apply(cp, &bench));
    let server = shaped("triton", sdk, "[tritonserver, --model-repository=/models]");
    refused(&apply(cp, &server), "runs NVIDIA Triton Inference Server");
    let project = shaped(
        "resnet",
        "registry.example.com/tensorflow-serving/resnet:2",
        "[/usr/bin/serve]",
    );
    refused(&apply(cp, &project), "runs TensorFlow Serving");
}
