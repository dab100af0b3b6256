//! A hostile member of an ML team, through the real API server: someone with exactly the rights a
//! team is given in its namespace (workloads, AISystems, RiskAssessments, ControlBindings), played
//! with `kubectl --as`, trying to walk around a halt, an approval and a break-glass. Each attempt
//! is refused by the operator's webhook, with a message that says why.

mod support;

use std::{process::Output, sync::OnceLock, time::Duration};

use aims_testenv::ControlPlane;
use support::{
    apply, cluster, eventually, kubectl, namespace, ok,
    operator::Operator,
    records::{IMAGE, apply_records},
    refused, stderr, stdout,
};

const OPERATOR_NS: &str = "aims-system";
const WAIT: Duration = Duration::from_secs(30);

/// The hostile team member, and the group the team's Role is bound to.
const MALLORY: [&str; 2] = ["--as=mallory", "--as-group=ml-team"];

/// What the README grants an ML team in its own namespace.
fn team_role(ns: &str) -> String {
    format!(
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: ml-team, namespace: {ns}}}
rules:
  - apiGroups: [aims.dev]
    resources: [aisystems, riskassessments, controlbindings]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [apps]
    resources: [deployments, deployments/scale, replicasets, statefulsets, daemonsets]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [batch]
    resources: [jobs, cronjobs]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: ml-team, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: ml-team}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: Group, name: ml-team}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: overseers-and-members, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: ml-team}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: olga}}
  - {{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "aims:break-glass"}}
"#
    )
}

fn operator() -> &'static Operator {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        let cp = cluster();
        let op = Operator::start_with(cp, OPERATOR_NS, "operator", &[]);
        op.register_webhooks(cp);
        op
    })
}

/// A namespace with the team's Role and the records of `support::records` at `enforcement`.
async fn team_namespace(cp: &ControlPlane, ns: &str, enforcement: &str) {
    operator();
    namespace(cp, ns);
    ok(apply(cp, &team_role(ns)));
    apply_records(cp, ns, enforcement).await;
}

fn deployment(ns: &str, replicas: u32, annotations: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: scorer
  namespace: {ns}
  labels: {{aims.dev/system: scoring}}
  annotations: {{{annotations}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: scorer}}}}
  template:
    metadata: {{labels: {{app: scorer}}}}
    spec:
      containers:
        - name: scorer
          image: "{IMAGE}"
          resources: {{requests: {{cpu: 100m}}}}
"#
    )
}

/// `kubectl -n ns ARGS...` as `who` (the `--as` arguments).
fn as_user(cp: &ControlPlane, ns: &str, who: &[&str], args: &[&str]) -> Output {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    all.extend_from_slice(who);
    kubectl(cp, &all)
}

/// `kubectl -n NS patch TARGET... --type=merge -p PATCH` as `who`.
fn patch_as(cp: &ControlPlane, ns: &str, who: &[&str], target: &[&str], patch: &str) -> Output {
    let mut args = vec!["patch"];
    args.extend_from_slice(target);
    args.extend_from_slice(&["--type=merge", "-p", patch]);
    as_user(cp, ns, who, &args)
}

fn replicas(cp: &ControlPlane, ns: &str) -> String {
    stdout(&kubectl(
        cp,
        &[
            "-n",
            ns,
            "get",
            "deployment",
            "scorer",
            "-o",
            "jsonpath={.spec.replicas}",
        ],
    ))
}

async fn wait_replicas(cp: &ControlPlane, ns: &str, want: &str) {
    eventually(WAIT, &format!("scorer at {want} replicas"), || async {
        (replicas(cp, ns) == want).then_some(())
    })
    .await;
}

/// Once an overseer has halted the system, nothing the team may do brings its workload back:
/// not leaving the system by a label change, not a catch-all system claiming the workload, not
/// deleting the halted system, not naming themselves an overseer.
#[tokio::test]
async fn a_halt_is_not_escaped() {
    let cp = cluster();
    let ns = "esc-halt";
    team_namespace(cp, ns, "Audit").await;
    ok(apply(cp, &deployment(ns, 2, "")));
    let halt = r#"{"spec":{"oversight":{"halt":true,"haltReason":"drift"}}}"#;
    ok(patch_as(
        cp,
        ns,
        &["--as=olga"],
        &["aisystem", "scoring"],
        halt,
    ));
    wait_replicas(cp, ns, "0").await;

    // Out of the system and up again, in one patch.
    let leave = r#"[{"op":"remove","path":"/metadata/labels/aims.dev~1system"},{"op":"replace","path":"/spec/replicas","value":3}]"#;
    refused(
        &as_user(
            cp,
            ns,
            &MALLORY,
            &["patch", "deployment", "scorer", "--type=json", "-p", leave],
        ),
        "leaving AISystem scoring",
    );
    // Catch-all systems: an empty selector claims nothing, and the label wins over any selector.
    let catch_all = |name: &str, selector: &str| {
        format!(
            r#"
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata: {{name: {name}, namespace: {ns}}}
spec:
  purpose: Everything.
  riskTier: Minimal
  owner: {{name: mallory}}
  workloadSelector: {selector}
"#
        )
    };
    for (name, selector) in [
        ("everything", "{}"),
        ("scorers", "{matchLabels: {app: scorer}}"),
    ] {
        let out = kubectl_apply_as(cp, &catch_all(name, selector), &MALLORY);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    refused(
        &as_user(
            cp,
            ns,
            &MALLORY,
            &["scale", "deployment", "scorer", "--replicas=3"],
        ),
        "halted by an overseer (drift)",
    );
    // Relabelled into the catch-all system and scaled up.
    let relabel =
        r#"{"metadata":{"labels":{"aims.dev/system":"everything"}},"spec":{"replicas":3}}"#;
    refused(
        &patch_as(cp, ns, &MALLORY, &["deployment", "scorer"], relabel),
        "leaving AISystem scoring",
    );
    // Deleting the halted system, to create it again without the halt.
    refused(
        &as_user(cp, ns, &MALLORY, &["delete", "aisystem", "scoring"]),
        "a halted AISystem cannot be deleted",
    );
    // Naming themselves an overseer, to clear the halt next.
    let overseer = r#"{"spec":{"oversight":{"overseers":[{"name":"olga"},{"name":"mallory"}]}}}"#;
    refused(
        &patch_as(cp, ns, &MALLORY, &["aisystem", "scoring"], overseer),
        "spec.oversight.overseers",
    );
    refused(
        &patch_as(
            cp,
            ns,
            &MALLORY,
            &["aisystem", "scoring"],
            r#"{"spec":{"oversight":{"halt":false}}}"#,
        ),
        "only the system's overseers may clear a halt",
    );
    assert_eq!(replicas(cp, ns), "0", "the halted workload stays stopped");
}

fn kubectl_apply_as(cp: &ControlPlane, manifest: &str, who: &[&str]) -> Output {
    let mut args = vec!["apply", "-f", "-"];
    args.extend_from_slice(who);
    support::kubectl_stdin(cp, &args, manifest)
}

/// The team cannot weaken its own rules: a binding of its own adds no approver, and lowering the
/// system's tier or rewriting its purpose needs its overseer.
#[tokio::test]
async fn a_team_does_not_weaken_its_own_rules() {
    let cp = cluster();
    let ns = "esc-rules";
    team_namespace(cp, ns, "Enforce").await;
    // The platform's approvers for this namespace.
    ok(apply(
        cp,
        &format!(
            r#"
apiVersion: aims.dev/v1alpha1
kind: ClusterControlBinding
metadata: {{name: esc-rules-approvers}}
spec:
  subjects:
    namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}
  controls:
    - id: A.6.2.5
      params: {{approverGroups: ["risk-committee"]}}
"#
        ),
    ));
    // The team's own binding adds the team to the approvers.
    let out = kubectl_apply_as(
        cp,
        &format!(
            r#"
apiVersion: aims.dev/v1alpha1
kind: ControlBinding
metadata: {{name: approvals, namespace: {ns}}}
spec:
  enforcement: Enforce
  controls:
    - id: A.6.2.5
      params: {{approverGroups: ["aims:reviewers", "ml-team"]}}
"#
        ),
        &MALLORY,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Another team member (not the submitter) approves: not an approver.
    let approve = r#"[{"op":"add","path":"/spec/approvals","value":[{"decision":"Approve"}]}]"#;
    eventually(
        WAIT,
        "the team's approval to be refused as not an approver",
        || async {
            let out = as_user(
                cp,
                ns,
                &["--as=max", "--as-group=ml-team"],
                &[
                    "patch",
                    "riskassessment",
                    "scoring-v1",
                    "--type=json",
                    "-p",
                    approve,
                    "--dry-run=server",
                ],
            );
            (!out.status.success() && stderr(&out).contains("risk-committee")).then_some(())
        },
    )
    .await;
    // Lowering the tier and rewriting the purpose, which the assessment was made against.
    for (patch, field) in [
        (r#"{"spec":{"riskTier":"Minimal"}}"#, "spec.riskTier"),
        (r#"{"spec":{"purpose":"Anything at all."}}"#, "spec.purpose"),
    ] {
        refused(
            &patch_as(cp, ns, &MALLORY, &["aisystem", "scoring"], patch),
            field,
        );
    }
    // The overseer may.
    ok(patch_as(
        cp,
        ns,
        &["--as=olga"],
        &["aisystem", "scoring"],
        r#"{"spec":{"purpose":"Score loan applications of retail customers."}}"#,
    ));
    ok(kubectl(
        cp,
        &["delete", "clustercontrolbinding", "esc-rules-approvers"],
    ));
}

/// A break-glass admits what its member admitted and nothing more: a team member who keeps the
/// annotations cannot swap in another image or scale the workload up.
#[tokio::test]
async fn break_glass_covers_only_what_its_member_admitted() {
    let cp = cluster();
    let ns = "esc-glass";
    team_namespace(cp, ns, "Enforce").await;
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
    let glass = format!(
        r#"aims.dev/break-glass-ticket: INC-7, aims.dev/break-glass-reason: fraud wave, aims.dev/break-glass-until: "{until}""#
    );
    let out = kubectl_apply_as(
        cp,
        &deployment(ns, 1, &glass),
        &["--as=bob", "--as-group=aims:break-glass"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("admitted under break-glass ticket INC-7"),
        "{}",
        stderr(&out)
    );
    let swap = r#"{"spec":{"template":{"spec":{"containers":[{"name":"scorer","image":"vllm/vllm-openai:v0.9.1"}]}}}}"#;
    refused(
        &as_user(
            cp,
            ns,
            &MALLORY,
            &[
                "patch",
                "deployment",
                "scorer",
                "--type=strategic",
                "-p",
                swap,
            ],
        ),
        "mallory is not in the group aims:break-glass",
    );
    eventually(WAIT, "a scale-up by a non-member to be refused", || async {
        let out = as_user(
            cp,
            ns,
            &MALLORY,
            &["scale", "deployment", "scorer", "--replicas=5"],
        );
        assert!(!out.status.success(), "scaled up by a non-member");
        stderr(&out)
            .contains("mallory is not in the group aims:break-glass")
            .then_some(())
    })
    .await;
    // The member may change what the break-glass covers.
    ok(as_user(
        cp,
        ns,
        &["--as=bob", "--as-group=aims:break-glass"],
        &["scale", "deployment", "scorer", "--replicas=2"],
    ));
}

/// The system's other kinds, each with Pods of the system (a bare Pod, a Job, a StatefulSet, a
/// ReplicaSet made directly) or
/// their controller (a DaemonSet, whose Pods need nodes, and a CronJob).
fn other_kinds(ns: &str) -> String {
    let pod = |name: &str| {
        format!(
            r#"
    metadata: {{labels: {{aims.dev/system: scoring, app: {name}}}}}
    spec:
      restartPolicy: Never
      containers: [{{name: c, image: "{IMAGE}", resources: {{requests: {{cpu: 100m}}}}}}]"#
        )
    };
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: notebook, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}
spec:
  containers: [{{name: c, image: "{IMAGE}", resources: {{requests: {{cpu: 100m}}}}}}]
---
apiVersion: batch/v1
kind: Job
metadata: {{name: batch-score, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}
spec:
  parallelism: 2
  completions: 2
  template:{job}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: index, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}
spec:
  serviceName: index
  selector: {{matchLabels: {{app: index}}}}
  template:{sts}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: warm, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: warm}}}}
  template:{rs}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:{ds}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: nightly, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:{cron}
"#,
        job = pod("batch-score"),
        sts = pod("index").replace("restartPolicy: Never", "restartPolicy: Always"),
        ds = pod("agent").replace("restartPolicy: Never", "restartPolicy: Always"),
        rs = pod("warm").replace("restartPolicy: Never", "restartPolicy: Always"),
        cron = pod("nightly").replace("\n    ", "\n          "),
    )
}

fn pods(cp: &ControlPlane, ns: &str) -> usize {
    stdout(&kubectl(cp, &["-n", ns, "get", "pods", "-o", "name"]))
        .lines()
        .count()
}

fn field(cp: &ControlPlane, ns: &str, what: &str, path: &str) -> String {
    stdout(&kubectl(
        cp,
        &["-n", ns, "get", what, "-o", &format!("jsonpath={path}")],
    ))
}

/// After a halt no Pod of the system runs, whatever its kind: Deployments and StatefulSets are
/// scaled to zero, Jobs and CronJobs suspended, DaemonSets parked, bare Pods deleted; the team
/// cannot start any of them again while the halt holds, and the resume brings back what ran.
#[tokio::test]
async fn a_halt_stops_every_pod_of_the_system() {
    let cp = cluster();
    let ns = "esc-every-pod";
    team_namespace(cp, ns, "Audit").await;
    ok(apply(cp, &deployment(ns, 2, "")));
    ok(apply(cp, &other_kinds(ns)));
    // Two of the Deployment, two of the Job, the StatefulSet's, the ReplicaSet's and the bare Pod.
    eventually(WAIT, "the system's seven Pods", || async {
        (pods(cp, ns) == 7).then_some(())
    })
    .await;

    let halt = r#"{"spec":{"oversight":{"halt":true,"haltReason":"drift"}}}"#;
    let halted_at = std::time::Instant::now();
    ok(patch_as(
        cp,
        ns,
        &["--as=olga"],
        &["aisystem", "scoring"],
        halt,
    ));
    eventually(WAIT, "no Pod of the halted system", || async {
        (pods(cp, ns) == 0).then_some(())
    })
    .await;
    eprintln!(
        "halt to no Pod of the system: {} ms",
        halted_at.elapsed().as_millis()
    );
    assert_eq!(field(cp, ns, "job/batch-score", "{.spec.suspend}"), "true");
    assert_eq!(field(cp, ns, "cronjob/nightly", "{.spec.suspend}"), "true");
    assert_eq!(
        field(
            cp,
            ns,
            "daemonset/agent",
            "{.spec.template.spec.nodeSelector.aims\\.dev/halted}"
        ),
        "true"
    );

    // Nothing comes back while the halt holds.
    for (what, patch) in [
        ("job/batch-score", r#"{"spec":{"suspend":false}}"#),
        ("cronjob/nightly", r#"{"spec":{"suspend":false}}"#),
        (
            "daemonset/agent",
            r#"{"spec":{"template":{"spec":{"nodeSelector":{"aims.dev/halted":null}}}}}"#,
        ),
    ] {
        refused(
            &patch_as(cp, ns, &MALLORY, &[what], patch),
            "halted by an overseer (drift)",
        );
    }
    refused(
        &kubectl_apply_as(
            cp,
            &format!(
                r#"
apiVersion: v1
kind: Pod
metadata: {{name: notebook-2, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}
spec:
  containers: [{{name: c, image: "{IMAGE}", resources: {{requests: {{cpu: 100m}}}}}}]
"#
            ),
            &MALLORY,
        ),
        "halted by an overseer (drift)",
    );

    // The overseer's resume brings back what ran (the deleted Pod is its owner's to re-create).
    ok(patch_as(
        cp,
        ns,
        &["--as=olga"],
        &["aisystem", "scoring"],
        r#"{"spec":{"oversight":{"halt":false,"haltReason":null}}}"#,
    ));
    eventually(WAIT, "the system's workloads restored", || async {
        let restored = field(cp, ns, "job/batch-score", "{.spec.suspend}") == "false"
            && field(cp, ns, "cronjob/nightly", "{.spec.suspend}") == "false"
            && field(
                cp,
                ns,
                "daemonset/agent",
                "{.spec.template.spec.nodeSelector}",
            )
            .is_empty()
            && replicas(cp, ns) == "2"
            && field(cp, ns, "replicaset/warm", "{.spec.replicas}") == "1";
        restored.then_some(())
    })
    .await;
}
