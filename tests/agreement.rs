//! The doors agree. The same manifests, in namespaces that deny, warn about, audit or say nothing
//! of unregistered model workloads, get the same verdict from the admission webhook through the
//! real API server (`kubectl create --dry-run=server`) as from `aims check` on the files: the
//! workloads of a system that fails an enforced control, of one that fails a warned control, of a
//! system that does not exist, unregistered model servers and GPU jobs, and ordinary workloads.

mod support;

use std::{collections::BTreeMap, time::Duration};

use serde_json::Value;
use support::{apply, kubectl, kubectl_stdin, ok, operator::Operator};

/// The namespaces, by the `aims.dev/unregistered` label they carry (none for the last).
const POLICIES: [(&str, Option<&str>); 4] = [
    ("agree-deny", Some("deny")),
    ("agree-warn", Some("warn")),
    ("agree-audit", Some("audit")),
    ("agree-plain", None),
];

const DIGEST: &str = "sha256:4b3f5c2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";

/// The namespace and its records: a system bound to A.6.2.5 (an approved assessment) with
/// Enforce, another bound to it with Warn; neither has an assessment.
fn records(namespace: &str, label: Option<&str>) -> String {
    let labels = label.map_or_else(String::new, |l| {
        format!("\n  labels: {{aims.dev/unregistered: {l}}}")
    });
    let system = |name: &str| {
        format!(
            "apiVersion: aims.dev/v1alpha1\nkind: AISystem\nmetadata: {{name: {name}, namespace: {namespace}, labels: {{bound: {name}}}}}\n\
             spec:\n  purpose: Answer questions about {name}.\n  role: Deployer\n  riskTier: Limited\n  \
             owner: {{name: ana, contact: ana@example.com}}\n  models:\n    - name: {name}-model\n      \
             artifact: {{image: \"registry.example.com/{name}@{DIGEST}\"}}\n"
        )
    };
    let binding = |name: &str, system: &str, enforcement: &str| {
        format!(
            "apiVersion: aims.dev/v1alpha1\nkind: ControlBinding\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
             spec:\n  subjects: {{selector: {{matchLabels: {{bound: {system}}}}}}}\n  enforcement: {enforcement}\n  controls: [{{id: A.6.2.5}}]\n"
        )
    };
    [
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}{labels}\n"),
        system("chat"),
        system("notes"),
        binding("chat-approval", "chat", "Enforce"),
        binding("notes-approval", "notes", "Warn"),
    ]
    .join("---\n")
}

/// The workloads of the corpus, in `namespace`, shaped like their projects' documented examples.
fn workloads(namespace: &str) -> Vec<(String, String)> {
    let deployment = |name: &str, labels: &str, container: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  labels: {{app: {name}{labels}}}\n\
             spec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}{labels}}}}}\n    \
             spec:\n      containers:\n{container}"
        )
    };
    let vllm = "        - name: vllm\n          image: vllm/vllm-openai:v0.9.1\n          \
                args: [\"--model\", \"Qwen/Qwen2.5-7B-Instruct\"]\n          ports: [{containerPort: 8000}]\n";
    let pinned = |system: &str| {
        format!("        - name: server\n          image: registry.example.com/{system}@{DIGEST}\n")
    };
    let nginx = "        - name: web\n          image: nginx:1.27\n          ports: [{containerPort: 80}]\n";
    let gpu_job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: finetune, namespace: {namespace}}}\n\
         spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: train\n          \
         image: nvcr.io/nvidia/pytorch:24.05-py3\n          command: [torchrun, train.py]\n          \
         resources: {{limits: {{nvidia.com/gpu: 1}}}}\n"
    );
    let ollama_pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: ollama, namespace: {namespace}}}\n\
         spec:\n  containers:\n    - name: ollama\n      image: ollama/ollama:0.5.7\n      ports: [{{containerPort: 11434}}]\n"
    );
    let redis = format!(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: cache, namespace: {namespace}}}\n\
         spec:\n  serviceName: cache\n  selector: {{matchLabels: {{app: cache}}}}\n  template:\n    \
         metadata: {{labels: {{app: cache}}}}\n    spec:\n      containers:\n        - name: redis\n          image: redis:7.4\n"
    );
    // Break-glass asked for by someone outside the break-glass group (the test's admin, and
    // `aims check`, which knows no requester): refused in both.
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let break_glass = deployment("chat-incident", ", aims.dev/system: chat", &pinned("chat"))
        .replacen(
            "  labels:",
            &format!(
                "  annotations: {{aims.dev/break-glass-ticket: INC-7, \
                 aims.dev/break-glass-reason: outage, aims.dev/break-glass-until: \"{until}\"}}\n  labels:"
            ),
            1,
        );
    vec![
        ("Deployment/chat-incident".into(), break_glass),
        (
            "Deployment/chat-server".into(),
            deployment("chat-server", ", aims.dev/system: chat", &pinned("chat")),
        ),
        (
            "Deployment/chat-vllm".into(),
            deployment("chat-vllm", ", aims.dev/system: chat", vllm),
        ),
        (
            "Deployment/notes-server".into(),
            deployment("notes-server", ", aims.dev/system: notes", &pinned("notes")),
        ),
        (
            "Deployment/ghost".into(),
            deployment("ghost", ", aims.dev/system: no-such-system", nginx),
        ),
        (
            "Deployment/playground".into(),
            deployment("playground", "", vllm),
        ),
        ("Deployment/web".into(), deployment("web", "", nginx)),
        ("Job/finetune".into(), gpu_job),
        ("Pod/ollama".into(), ollama_pod),
        ("StatefulSet/cache".into(), redis),
    ]
}

/// What the API server answered a dry-run create of `manifest`: Deny, Warn or Allow.
fn api_server_verdict(cp: &aims_testenv::ControlPlane, manifest: &str) -> &'static str {
    let out = kubectl_stdin(
        cp,
        &["create", "--dry-run=server", "-o", "name", "-f", "-"],
        manifest,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        assert!(
            stderr.contains("denied the request"),
            "refused for another reason: {stderr}\n{manifest}"
        );
        "Deny"
    } else if stderr.contains("Warning:") {
        "Warn"
    } else {
        "Allow"
    }
}

#[tokio::test]
async fn the_webhook_and_aims_check_give_every_workload_the_same_verdict() {
    let cp = support::cluster();
    support::install_crds(cp, false);
    let op = Operator::start(cp, "aims-agree", "agreement");
    op.register_webhooks(cp);

    let dir = cp.dir().join("agreement");
    std::fs::create_dir_all(&dir).unwrap();
    let mut cases = Vec::new();
    for (namespace, label) in POLICIES {
        let records = records(namespace, label);
        ok(apply(cp, &records));
        std::fs::write(dir.join(format!("{namespace}-records.yaml")), &records).unwrap();
        for (name, manifest) in workloads(namespace) {
            let file = format!("{namespace}-{}.yaml", name.replace('/', "-"));
            std::fs::write(dir.join(file), &manifest).unwrap();
            cases.push((format!("{namespace}/{name}"), manifest));
        }
    }
    // The webhook decides from the operator's stores: wait until they hold every record (each
    // binding's status is written from the same stores, after it names the systems it selects).
    for (namespace, _) in POLICIES {
        for binding in ["chat-approval", "notes-approval"] {
            support::eventually(Duration::from_secs(60), "the binding's status", || async {
                let out = kubectl(
                    cp,
                    &[
                        "get",
                        "controlbinding",
                        binding,
                        "-n",
                        namespace,
                        "-o",
                        "jsonpath={.status.systems}",
                    ],
                );
                String::from_utf8_lossy(&out.stdout)
                    .contains(if binding.starts_with("chat") {
                        "chat"
                    } else {
                        "notes"
                    })
                    .then_some(())
            })
            .await;
        }
    }

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aims"))
        .args(["check", "-f"])
        .arg(&dir)
        .args(["--output", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "aims check failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let offline: BTreeMap<String, String> = support::check_verdicts(&report).into_iter().collect();

    let mut disagree = Vec::new();
    let mut seen = BTreeMap::<&str, usize>::new();
    for (case, manifest) in &cases {
        let online = api_server_verdict(cp, manifest);
        *seen.entry(online).or_default() += 1;
        match offline.get(case) {
            Some(v) if v == online => {}
            other => disagree.push(format!("{case}: API server {online}, aims check {other:?}")),
        }
    }
    assert!(
        disagree.is_empty(),
        "{} of {} disagree:\n{}",
        disagree.len(),
        cases.len(),
        disagree.join("\n")
    );
    // The corpus exercises every verdict.
    assert!(
        ["Allow", "Warn", "Deny"]
            .iter()
            .all(|v| seen.get(v).is_some_and(|n| *n > 0)),
        "{seen:?}"
    );
    assert_eq!(
        offline.len(),
        cases.len(),
        "aims check reported other workloads: {offline:#?}"
    );
}
