//! `kubectl aims`: the real kubectl finds the binary on PATH as `kubectl-aims` and runs it as a
//! plugin against a real API server, with the operator and its webhooks running. Approvers and
//! overseers act through kubeconfigs whose user impersonates them (`as`, `as-groups`): kubectl
//! passes no global flags to a plugin, and the plugin reads the kubeconfig as kubectl does.

mod support;

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Output,
    sync::OnceLock,
    time::Duration,
};

use aims_operator::api::{Decision, RiskAssessment};
use aims_testenv::ControlPlane;
use kube::Api;
use serde_json::{Value, json};
use support::{
    apply, cluster, eventually, kubectl, namespace, ok,
    operator::Operator,
    records::{apply_records, records},
    stderr, stdout,
};

const OPERATOR_NS: &str = "aims-system";
const WAIT: Duration = Duration::from_secs(30);

/// What approvers and overseers are granted on the aims records. `eve` is granted nothing.
const RBAC: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aims-plugin-user}
rules:
  - apiGroups: [aims.dev]
    resources: [riskassessments, aisystems]
    verbs: [get, list, watch, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: aims-plugin-users}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aims-plugin-user}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "aims:reviewers"}
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: developers}
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: olga}
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: mallory}
"#;

/// The shared control plane with the test users' RBAC.
fn setup() -> &'static ControlPlane {
    static READY: OnceLock<()> = OnceLock::new();
    let cp = cluster();
    READY.get_or_init(|| {
        ok(apply(cp, RBAC));
    });
    cp
}

/// The operator, with its webhooks registered.
fn operator() -> &'static Operator {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        let cp = setup();
        let op = Operator::start(cp, OPERATOR_NS, "operator");
        op.register_webhooks(cp);
        op
    })
}

/// Who runs a command: a kubeconfig user acting as `user` in `groups`, or the admin.
#[derive(Clone, Copy)]
struct Identity {
    user: Option<&'static str>,
    groups: &'static [&'static str],
}

const ADMIN: Identity = Identity {
    user: None,
    groups: &[],
};
const ALICE: Identity = as_user("alice", &["aims:reviewers"]);
/// The admin who created the assessments, in the reviewers' group: still its submitter.
const SUBMITTER: Identity = as_user("admin", &["aims:reviewers"]);
const BOB: Identity = as_user("bob", &["developers"]);
const OLGA: Identity = as_user("olga", &[]);
const MALLORY: Identity = as_user("mallory", &[]);
const EVE: Identity = as_user("eve", &[]);

const fn as_user(user: &'static str, groups: &'static [&'static str]) -> Identity {
    Identity {
        user: Some(user),
        groups,
    }
}

/// A kubeconfig with the admin's credentials acting as `who` (the user's `as` and `as-groups`),
/// its context's namespace `namespace`.
fn kubeconfig(cp: &ControlPlane, who: Identity, namespace: Option<&str>) -> PathBuf {
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(cp.kubeconfig()).unwrap()).unwrap();
    if let Some(user) = who.user {
        config["users"][0]["user"]["as"] = json!(user);
        config["users"][0]["user"]["as-groups"] = json!(who.groups);
    }
    if let Some(ns) = namespace {
        config["contexts"][0]["context"]["namespace"] = json!(ns);
    }
    let name = format!(
        "kubeconfig-{}-{}",
        who.user.unwrap_or("admin"),
        namespace.unwrap_or("default")
    );
    write_atomically(&cp.dir().join(name), &config.to_string())
}

/// Writes `text` to `path` through a rename, so that tests running at once never read half a file.
fn write_atomically(path: &Path, text: &str) -> PathBuf {
    let tmp =
        path.with_extension(format!("{:?}", std::thread::current().id()).replace(['(', ')'], ""));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
    path.to_owned()
}

/// `kubectl aims ARGS` with `kubeconfig`, through the real kubectl.
fn aims_with(cp: &ControlPlane, kubeconfig: &Path, args: &[&str]) -> Output {
    cp.kubectl()
        .env("PATH", support::plugin_path(cp))
        .env("KUBECONFIG", kubeconfig)
        .arg("aims")
        .args(args)
        .output()
        .expect("run kubectl aims")
}

/// `kubectl aims ARGS` as `who`.
fn aims(cp: &ControlPlane, who: Identity, args: &[&str]) -> Output {
    aims_with(cp, &kubeconfig(cp, who, None), args)
}

/// Asserts the command failed with exit status 1 and one plain line on standard error that says
/// `says`.
fn refused(out: &Output, says: &str) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit status 1 saying {says:?}; stdout: {}\nstderr: {err}",
        stdout(out)
    );
    assert!(err.contains(says), "expected {says:?} in: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    for dump in ["panicked", "Status {", "ApiError", "ErrorResponse"] {
        assert!(!err.contains(dump), "no {dump:?} in: {err}");
    }
}

/// The row of system `name` in a status table, split into cells (MISSING, which may hold spaces,
/// as one); with `namespace`, of a table with a NAMESPACE column, the row of that namespace.
fn row(table: &str, namespace: Option<&str>, name: &str) -> Option<Vec<String>> {
    let columns = if namespace.is_some() { 5 } else { 4 };
    table.lines().skip(1).find_map(|line| {
        let mut words = line.split_whitespace();
        let mut cells: Vec<String> = words.by_ref().take(columns - 1).map(String::from).collect();
        cells.push(words.collect::<Vec<_>>().join(" "));
        let key: Vec<&str> = namespace.into_iter().chain([name]).collect();
        let matches = cells.iter().map(String::as_str).take(key.len()).eq(key);
        matches.then_some(cells)
    })
}

/// Waits until `kubectl aims status -n NS` shows system `scoring` in `phase`, and returns its row.
async fn wait_phase(cp: &ControlPlane, ns: &str, phase: &str) -> Vec<String> {
    eventually(WAIT, &format!("scoring to show {phase}"), || async {
        let out = aims(cp, ADMIN, &["status", "-n", ns]);
        row(&stdout(&out), None, "scoring").filter(|r| r[2] == phase)
    })
    .await
}

#[tokio::test]
async fn a_reviewer_approves_through_kubectl_aims_and_others_are_refused_plainly() {
    let cp = setup();
    operator();
    let ns = "plugin-approve";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;

    // Pending until approved, and the table says what is missing.
    let pending = wait_phase(cp, ns, "Pending").await;
    assert_eq!(pending[..3], ["scoring", "Limited", "Pending"]);
    assert!(pending[3].contains("A.6.2.5"), "{pending:?}");
    let out = aims(cp, ADMIN, &["status", "-A"]);
    let all = stdout(&out);
    let header: Vec<&str> = all
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAMESPACE", "NAME", "TIER", "PHASE", "MISSING"]);
    let in_all = row(&all, Some(ns), "scoring");
    assert_eq!(
        in_all.map(|r| r[3].clone()).as_deref(),
        Some("Pending"),
        "{all}"
    );
    // Without -n: the namespace of the kubeconfig's context.
    let out = aims_with(cp, &kubeconfig(cp, ADMIN, Some(ns)), &["status"]);
    assert_eq!(row(&stdout(&out), None, "scoring"), Some(pending.clone()));

    // Not an approver, and the submitter: refused by the webhook, its message printed plainly.
    refused(
        &aims(cp, BOB, &["approve", "scoring-v1", "-n", ns]),
        "not allowed: ",
    );
    refused(
        &aims(cp, BOB, &["approve", "scoring-v1", "-n", ns]),
        "bob is not an approver",
    );
    refused(
        &aims(cp, SUBMITTER, &["approve", "scoring-v1", "-n", ns]),
        "submitted or edited this assessment",
    );

    // The first approval: the webhook stamps it, the system becomes Compliant.
    let out = aims(
        cp,
        ALICE,
        &[
            "approve",
            "scoring-v1",
            "-n",
            ns,
            "--comment",
            "risks are treated",
        ],
    );
    let said = ok(out);
    assert!(
        said.starts_with(&format!(
            "riskassessment \"scoring-v1\" in namespace \"{ns}\": approval recorded\n"
        )),
        "{said}"
    );
    assert!(
        said.contains("  stamped: user alice, groups aims:reviewers"),
        "{said}"
    );
    assert!(said.contains(", content sha256:"), "{said}");
    assert!(said.contains("  state: "), "{said}");
    let compliant = wait_phase(cp, ns, "Compliant").await;
    assert_eq!(compliant[3], "-", "nothing missing: {compliant:?}");

    // A later decision is appended to the list; kubectl's --as and --as-group work as they do
    // for kubectl (the admin may impersonate).
    let said = ok(aims(
        cp,
        ADMIN,
        &[
            "reject",
            "scoring-v1",
            "-n",
            ns,
            "--comment",
            "R1 needs a fairness test",
            "--as",
            "carol",
            "--as-group",
            "aims:reviewers",
        ],
    ));
    assert!(said.contains(": rejection recorded\n"), "{said}");
    assert!(said.contains("  stamped: user carol"), "{said}");
    let api: Api<RiskAssessment> = Api::namespaced(cp.client().await, ns);
    let ra = api.get("scoring-v1").await.unwrap();
    let entries: Vec<(Decision, Option<&str>, Option<&str>)> = ra
        .spec
        .approvals
        .iter()
        .map(|a| {
            (
                a.decision,
                a.comment.as_deref(),
                a.stamp.as_ref().map(|s| s.user.as_str()),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (Decision::Approve, Some("risks are treated"), Some("alice")),
            (
                Decision::Reject,
                Some("R1 needs a fairness test"),
                Some("carol")
            ),
        ]
    );
    let rejected = wait_phase(cp, ns, "NonCompliant").await;
    assert_eq!(rejected[3], "A.6.2.5");
}

#[tokio::test]
async fn anyone_halts_only_an_overseer_resumes() {
    let cp = setup();
    operator();
    let ns = "plugin-halt";
    namespace(cp, ns);
    apply_records(cp, ns, "Audit").await;
    // The phase the records give: the assessment awaits its approval. Not merely the first phase
    // written: the system, its binding and its assessment are created together, and the first
    // evaluation may run before the operator has seen the other two (the next one follows within
    // the pacing interval), so the first phase may be one a resume does not return to.
    let before = wait_phase(cp, ns, "Pending").await;
    assert_eq!(before[3], "A.6.2.5");

    let said = ok(aims(
        cp,
        MALLORY,
        &[
            "halt",
            "scoring",
            "-n",
            ns,
            "--reason",
            "drift under investigation",
        ],
    ));
    assert!(
        said.starts_with(&format!(
            "aisystem \"scoring\" in namespace \"{ns}\": halted (drift under investigation)\n  phase: "
        )),
        "{said}"
    );
    wait_phase(cp, ns, "Halted").await;

    refused(
        &aims(cp, MALLORY, &["resume", "scoring", "-n", ns]),
        "not allowed: ",
    );
    refused(&aims(cp, MALLORY, &["resume", "scoring", "-n", ns]), "olga");

    let said = ok(aims(
        cp,
        OLGA,
        &["resume", "scoring", "-n", ns, "--reason", "drift explained"],
    ));
    assert!(
        said.starts_with(&format!(
            "aisystem \"scoring\" in namespace \"{ns}\": resumed (drift explained)\n"
        )),
        "{said}"
    );
    assert_eq!(wait_phase(cp, ns, "Pending").await, before);
    let oversight = ok(kubectl(
        cp,
        &[
            "-n",
            ns,
            "get",
            "aisystem",
            "scoring",
            "-o",
            "jsonpath={.spec.oversight.halt}/{.spec.oversight.haltReason}/{.metadata.annotations.aims\\.dev/resume-reason}",
        ],
    ));
    assert_eq!(oversight, "false//drift explained");
}

#[tokio::test]
async fn errors_say_what_happened_in_one_line() {
    let cp = setup();
    let ns = "plugin-errors";
    namespace(cp, ns);
    ok(apply(cp, &records(ns, "Enforce")));

    let out = aims(cp, ADMIN, &["approve", "nosuch", "-n", ns]);
    refused(
        &out,
        "riskassessment \"nosuch\" not found in namespace \"plugin-errors\"",
    );
    assert_eq!(
        stderr(&out),
        "error: riskassessment \"nosuch\" not found in namespace \"plugin-errors\"\n"
    );
    refused(
        &aims(cp, ADMIN, &["halt", "nosuch", "-n", ns, "--reason", "r"]),
        "aisystem \"nosuch\" not found in namespace \"plugin-errors\"",
    );

    // No RBAC on the aims records: the API server's own message.
    refused(
        &aims(cp, EVE, &["approve", "scoring-v1", "-n", ns]),
        "not allowed: riskassessments.aims.dev \"scoring-v1\" is forbidden: User \"eve\" cannot get resource \"riskassessments\"",
    );
    refused(
        &aims(cp, EVE, &["status", "-n", ns]),
        "not allowed: aisystems.aims.dev is forbidden: User \"eve\" cannot list resource \"aisystems\"",
    );

    // No API server where the kubeconfig points.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config: Value =
        serde_json::from_str(&std::fs::read_to_string(cp.kubeconfig()).unwrap()).unwrap();
    config["clusters"][0]["cluster"]["server"] = json!(format!("https://127.0.0.1:{port}"));
    let nowhere = write_atomically(&cp.dir().join("kubeconfig-nowhere"), &config.to_string());
    refused(
        &aims_with(cp, &nowhere, &["status"]),
        &format!("cannot reach the Kubernetes API server at https://127.0.0.1:{port}: "),
    );
    refused(
        &aims_with(cp, &cp.dir().join("no-such-kubeconfig"), &["status"]),
        "no cluster configured: cannot read the kubeconfig ",
    );

    // Usage errors are clap's, naming the plugin.
    let out = aims(cp, ADMIN, &["reject", "scoring-v1", "-n", ns]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Usage: kubectl aims reject "),
        "{}",
        stderr(&out)
    );
}

/// Every command takes kubectl's `-n`/`--namespace` and `-A`/`--all-namespaces`: the listing
/// commands list one namespace (by default the kubeconfig context's) or all of them; the commands
/// on one named object refuse `-A`, as kubectl does with a name.
#[tokio::test]
async fn every_command_takes_the_namespace_flags_the_same_way() {
    let cp = setup();
    operator();
    let (ns, other) = ("plugin-flags", "plugin-flags-other");
    for (namespace_name, name) in [(ns, "llm-a"), (other, "llm-b")] {
        namespace(cp, namespace_name);
        ok(apply(
            cp,
            &format!(
                r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace_name}}}
spec:
  replicas: 0
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: vllm, image: "vllm/vllm-openai:v0.9.1"}}]}}
"#
            ),
        ));
    }
    let listed = |out: Output| {
        let text = ok(out);
        let mut found: Vec<&str> = ["Deployment/llm-a", "Deployment/llm-b"]
            .into_iter()
            .filter(|w| text.contains(w))
            .collect();
        found.sort_unstable();
        found.join(" ")
    };
    for flag in ["-n", "--namespace"] {
        assert_eq!(
            listed(aims(cp, ADMIN, &["scan", flag, ns])),
            "Deployment/llm-a"
        );
    }
    // Without -n, the context's namespace.
    let in_other = kubeconfig(cp, ADMIN, Some(other));
    assert_eq!(
        listed(aims_with(cp, &in_other, &["scan"])),
        "Deployment/llm-b"
    );
    for flag in ["-A", "--all-namespaces"] {
        assert_eq!(
            listed(aims(cp, ADMIN, &["scan", flag])),
            "Deployment/llm-a Deployment/llm-b"
        );
        ok(aims(cp, ADMIN, &["status", flag]));
    }
    ok(aims(cp, ADMIN, &["status", "--namespace", ns]));

    // -n and -A together, and -A with one object's name, are usage errors naming the plugin.
    for args in [
        vec!["scan", "-n", ns, "-A"],
        vec!["status", "-n", ns, "-A"],
        vec!["halt", "scoring", "-A", "--reason", "r"],
        vec!["resume", "scoring", "-A"],
        vec!["approve", "scoring-v1", "-A"],
        vec!["reject", "scoring-v1", "-A", "--comment", "no"],
    ] {
        let out = aims(cp, ADMIN, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("cannot be used with"), "{args:?}: {err}");
        assert!(err.contains("Usage: kubectl aims "), "{args:?}: {err}");
    }
}

/// `kubectl aims report` of a live namespace: the approval a reviewer made through the webhook
/// counts as the operator counted it, with who, which content and until when; an empty namespace
/// gets a report of the controls alone, and says so.
#[tokio::test]
async fn the_report_of_a_live_namespace_takes_the_operators_word_on_approvals() {
    let cp = setup();
    operator();
    let ns = "plugin-report";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;
    ok(aims(cp, ALICE, &["approve", "scoring-v1", "-n", ns]));
    wait_phase(cp, ns, "Compliant").await;
    let out = aims(cp, ADMIN, &["report", "-n", ns, "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["systems"], 1);
    assert_eq!(report["inventory"][0]["system"], format!("{ns}/scoring"));
    assert_eq!(report["inventory"][0]["phase"], "Compliant");
    let approval = &report["approvals"][0];
    assert_eq!(approval["user"], "alice");
    assert_eq!(approval["counts"], true, "{approval}");
    assert!(
        approval["contentHash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    assert!(approval["until"].is_string(), "{approval}");
    assert_eq!(
        report["statementOfApplicability"].as_array().unwrap().len(),
        38
    );

    let empty = "plugin-report-empty";
    namespace(cp, empty);
    let out = aims(cp, ADMIN, &["report", "-n", empty, "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: no AISystem"),
        "{}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["systems"], 0);
}
