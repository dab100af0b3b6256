//! `aims run` against a real API server: the status it writes for a newly registered system, after
//! an approval signed with its key, after the assessed content changes, and when the approval
//! expires; and a RiskAssessment that names a missing system.
//!
//! No webhook is registered here: the tests stamp approvals themselves with the operator's key (read
//! from its Secret), exactly as the webhook does (`tests/webhook.rs` goes through it).

mod support;

use std::{sync::OnceLock, time::Duration};

use aims_operator::{
    api::{AISystem, Phase, RiskAssessment},
    engine::approval::SigningKey,
    runtime::key::{SECRET_KEY, SECRET_NAME},
};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::json;
use support::{apply, cluster, eventually, namespace, ok, operator::Operator};

const OPERATOR_NS: &str = "aims-system";
const WAIT: Duration = Duration::from_secs(30);

fn operator() -> &'static Operator {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    OPERATOR.get_or_init(|| Operator::start(cluster(), OPERATOR_NS, "operator"))
}

const IMAGE: &str = "registry.example.com/help/bot@sha256:4444444444444444444444444444444444444444444444444444444444444444";

/// A Limited-risk system that needs one approval from `aims:reviewers`, its assessment (valid for
/// `valid_for`) and its Deployment, in namespace `ns`.
fn manifests(ns: &str, valid_for: &str) -> String {
    format!(
        r#"
apiVersion: aims.dev/v1alpha1
kind: ControlBinding
metadata: {{name: approvals, namespace: {ns}}}
spec:
  controls:
    - id: A.6.2.5
      params: {{approverGroups: ["aims:reviewers"]}}
---
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata: {{name: bot, namespace: {ns}}}
spec:
  purpose: Answer questions about help articles.
  riskTier: Limited
  owner: {{name: sam, contact: sam@example.com}}
  models:
    - name: bot
      version: "1"
      artifact: {{image: "{IMAGE}"}}
---
apiVersion: aims.dev/v1alpha1
kind: RiskAssessment
metadata: {{name: bot-assessment, namespace: {ns}}}
spec:
  systemRef: {{name: bot}}
  scope:
    artifacts: [{{image: "{IMAGE}"}}]
  risks:
    - {{id: R1, title: Wrong answers, source: Robustness, likelihood: 2, severity: 2, treatment: Mitigate}}
  impactAssessment:
    affectedGroups: [Visitors]
    completedOn: "2026-10-30"
  validFor: {valid_for}
  submittedBy: sam
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: bot, namespace: {ns}, labels: {{aims.dev/system: bot}}}}
spec:
  selector: {{matchLabels: {{app: bot}}}}
  template:
    metadata: {{labels: {{app: bot}}}}
    spec:
      containers:
        - name: bot
          image: "{IMAGE}"
          resources: {{requests: {{cpu: 100m}}}}
"#
    )
}

async fn phase(systems: &Api<AISystem>, name: &str) -> Option<Phase> {
    systems.get_status(name).await.ok()?.status?.phase
}

async fn wait_phase(systems: &Api<AISystem>, name: &str, want: Phase) -> AISystem {
    eventually(WAIT, &format!("{name} to become {want:?}"), || async {
        let s = systems.get_status(name).await.ok()?;
        (s.status.as_ref()?.phase == Some(want)).then_some(s)
    })
    .await
}

/// The operator's signing key, from its Secret.
async fn signing_key(client: &Client) -> SigningKey {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), OPERATOR_NS);
    let secret = secrets.get(SECRET_NAME).await.unwrap();
    SigningKey::new(&secret.data.unwrap()[SECRET_KEY].0).unwrap()
}

/// Appends an approval entry stamped and signed as the admission webhook does.
async fn approve(client: &Client, ns: &str, user: &str) {
    let key = signing_key(client).await;
    let groups = ["aims:reviewers".to_owned()];
    support::records::approve_as_webhook(
        client,
        &key,
        ns,
        "bot-assessment",
        (user, &groups),
        jiff::Timestamp::now(),
    )
    .await;
}

#[tokio::test]
async fn a_system_goes_from_pending_to_compliant_to_non_compliant_when_its_assessment_changes() {
    let cp = cluster();
    operator();
    let ns = "lifecycle";
    namespace(cp, ns);
    ok(apply(cp, &manifests(ns, "180d")));
    let client = cp.client().await;
    let systems: Api<AISystem> = Api::namespaced(client.clone(), ns);

    // Registered and assessed, not approved: Pending, and the status says what is missing.
    // The three objects arrive in any order, so the status may first say that no
    // assessment exists; wait for the one that has seen it.
    let status = eventually(WAIT, "bot Pending, its approvals not counted", || async {
        let status = systems.get_status("bot").await.ok()?.status?;
        let seen = status.phase == Some(Phase::Pending)
            && status.workloads.as_ref()?.summary == "0/1"
            && status
                .findings
                .iter()
                // Created without the webhook, its record of who submitted it is unsigned
                // (`approve` signs it as the webhook does at create).
                .any(|f| f.control == "A.6.2.5" && f.message.contains("counts no approval"));
        seen.then_some(status)
    })
    .await;
    let approved = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Approved")
        .unwrap();
    assert_eq!(
        (approved.status.as_str(), approved.reason.as_str()),
        ("False", "PendingApproval")
    );

    // An approval signed with the operator's key: Compliant.
    approve(&client, ns, "reviewer-1").await;
    let compliant = wait_phase(&systems, "bot", Phase::Compliant)
        .await
        .status
        .unwrap();
    assert_eq!(compliant.approval.unwrap().approvers, ["reviewer-1"]);
    let ras: Api<RiskAssessment> = Api::namespaced(client.clone(), ns);
    let ra_status = ras
        .get_status("bot-assessment")
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!(
        ra_status.state,
        Some(aims_operator::api::AssessmentState::Approved)
    );

    // Changing the assessed content makes the approval stale. (Without the webhook, the record
    // over the content is signed again here as the webhook would.)
    let changed = ras
        .patch(
            "bot-assessment",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"risks": [{"id": "R1", "title": "Wrong answers", "source": "Robustness", "likelihood": 3, "severity": 2, "treatment": "Mitigate"}]}})),
        )
        .await
        .unwrap();
    let record = support::records::record_as_webhook(&signing_key(&client).await, &changed);
    ras.patch(
        "bot-assessment",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"recordStamp": record}})),
    )
    .await
    .unwrap();
    let stale = wait_phase(&systems, "bot", Phase::NonCompliant)
        .await
        .status
        .unwrap();
    assert!(
        stale
            .findings
            .iter()
            .any(|f| f.message.contains("changed after it was approved")),
        "{:#?}",
        stale.findings
    );
    let ra_state = eventually(WAIT, "the assessment to be Stale", || async {
        let s = ras.get_status("bot-assessment").await.ok()?.status?.state?;
        (s == aims_operator::api::AssessmentState::Stale).then_some(s)
    })
    .await;
    assert_eq!(ra_state, aims_operator::api::AssessmentState::Stale);

    // Each transition was told as an Event on the system.
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client, ns);
    for reason in [
        "Pending",
        "Approved",
        "Compliant",
        "ApprovalStale",
        "NonCompliant",
    ] {
        eventually(WAIT, &format!("a {reason} event"), || async {
            let params = kube::api::ListParams::default()
                .fields(&format!("reason={reason},involvedObject.name=bot"));
            events.list(&params).await.ok()?.items.into_iter().next()
        })
        .await;
    }
}

#[tokio::test]
async fn an_approval_expires_on_time_not_at_the_next_resync() {
    let cp = cluster();
    operator();
    let ns = "expiry";
    namespace(cp, ns);
    ok(apply(cp, &manifests(ns, "6s")));
    let client = cp.client().await;
    let systems: Api<AISystem> = Api::namespaced(client.clone(), ns);
    wait_phase(&systems, "bot", Phase::Pending).await;
    approve(&client, ns, "reviewer-1").await;
    let compliant = wait_phase(&systems, "bot", Phase::Compliant).await;
    let expires = compliant
        .status
        .unwrap()
        .approval
        .unwrap()
        .expires_at
        .unwrap()
        .0;

    wait_phase(&systems, "bot", Phase::NonCompliant).await;
    let late = jiff::Timestamp::now().duration_since(expires);
    assert!(
        late < jiff::SignedDuration::from_secs(3),
        "flipped {late:?} after expiry"
    );
    assert!(phase(&systems, "bot").await == Some(Phase::NonCompliant));
}

#[tokio::test]
async fn a_risk_assessment_of_a_missing_system_gets_a_condition() {
    let cp = cluster();
    operator();
    let ns = "orphans";
    namespace(cp, ns);
    let manifest = manifests(ns, "180d");
    let ra = manifest
        .split("---")
        .nth(2)
        .unwrap()
        .replace("systemRef: {name: bot}", "systemRef: {name: nobody}");
    ok(apply(cp, &ra));
    let client = cp.client().await;
    let ras: Api<RiskAssessment> = Api::namespaced(client, ns);
    let condition = eventually(WAIT, "SystemFound=False", || async {
        let status = ras.get_status("bot-assessment").await.ok()?.status?;
        status
            .conditions
            .into_iter()
            .find(|c| c.type_ == "SystemFound" && c.status == "False")
    })
    .await;
    assert!(
        condition.message.contains("does not exist"),
        "{}",
        condition.message
    );
}

#[tokio::test]
async fn halt_stops_the_workloads_and_resume_restores_exactly_what_was_there() {
    use k8s_openapi::api::{apps::v1::Deployment, batch::v1::CronJob};
    let cp = cluster();
    operator();
    let ns = "stop-button";
    namespace(cp, ns);
    ok(apply(
        cp,
        &format!(
            r#"
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata: {{name: ranker, namespace: {ns}}}
spec:
  purpose: Rank products.
  riskTier: Minimal
  owner: {{name: lena}}
  oversight: {{overseers: [{{name: lena}}]}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: ranker, namespace: {ns}, labels: {{aims.dev/system: ranker}}}}
spec:
  replicas: 3
  selector: {{matchLabels: {{app: ranker}}}}
  template:
    metadata: {{labels: {{app: ranker}}}}
    spec: {{containers: [{{name: ranker, image: "{IMAGE}"}}]}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: retrain, namespace: {ns}, labels: {{aims.dev/system: ranker}}}}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{{name: retrain, image: "{IMAGE}"}}]
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {{name: ranker-online, namespace: {ns}, labels: {{aims.dev/system: ranker}}}}
spec:
  predictor:
    containers: [{{name: kserve-container, image: "{IMAGE}"}}]
"#
        ),
    ));
    let client = cp.client().await;
    let systems: Api<AISystem> = Api::namespaced(client.clone(), ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let cron_jobs: Api<CronJob> = Api::namespaced(client.clone(), ns);
    let isvcs: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &aims_operator::cluster::custom::api_resource(
            aims_operator::engine::kinds::find("serving.kserve.io", "InferenceService").unwrap(),
        ),
    );
    let state = || async {
        let replicas = deployments.get("ranker").await.ok()?.spec?.replicas?;
        let suspended = cron_jobs
            .get("retrain")
            .await
            .ok()?
            .spec?
            .suspend
            .unwrap_or(false);
        let annotations = isvcs
            .get("ranker-online")
            .await
            .ok()?
            .metadata
            .annotations
            .unwrap_or_default();
        Some((
            replicas,
            suspended,
            annotations.get("serving.kserve.io/stop").cloned(),
        ))
    };
    eventually(WAIT, "the system to be evaluated", || async {
        systems.get_status("ranker").await.ok()?.status?.phase
    })
    .await;

    let oversight = |halt: bool| {
        Patch::Merge(
            json!({"spec": {"oversight": {"halt": halt, "haltReason": if halt { json!("drift alarm") } else { json!(null) }}}}),
        )
    };
    systems
        .patch("ranker", &PatchParams::default(), &oversight(true))
        .await
        .unwrap();
    eventually(
        WAIT,
        "the Deployment at zero and the CronJob suspended",
        || async { (state().await? == (0, true, Some("true".to_owned()))).then_some(()) },
    )
    .await;
    let halted = wait_phase(&systems, "ranker", Phase::Halted)
        .await
        .status
        .unwrap();
    assert_eq!(
        halted.halted_workloads.len(),
        3,
        "{:?}",
        halted.halted_workloads
    );
    assert!(
        halted
            .findings
            .iter()
            .any(|f| f.message.contains("drift alarm"))
    );

    systems
        .patch("ranker", &PatchParams::default(), &oversight(false))
        .await
        .unwrap();
    eventually(
        WAIT,
        "the Deployment back at 3 and the CronJob running",
        || async { (state().await? == (3, false, None)).then_some(()) },
    )
    .await;
    let resumed = eventually(WAIT, "the halt record cleared", || async {
        let status = systems.get_status("ranker").await.ok()?.status?;
        (status.halted_workloads.is_empty() && status.phase != Some(Phase::Halted))
            .then_some(status)
    })
    .await;
    assert_ne!(resumed.phase, Some(Phase::Halted));
}

#[tokio::test]
async fn an_unregistered_model_server_is_reported_by_event_metric_and_scan() {
    use k8s_openapi::api::core::v1::Event;
    use kube::api::ListParams;
    let cp = cluster();
    let op = operator();
    let ns = "shadow-ai";
    namespace(cp, ns);
    ok(apply(
        cp,
        &format!(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: llm-playground, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: llm}}}}
  template:
    metadata: {{labels: {{app: llm}}}}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.9.1
          resources: {{limits: {{nvidia.com/gpu: "1"}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: nginx, image: "nginx:1.27"}}]}}
"#
        ),
    ));
    let client = cp.client().await;
    let events: Api<Event> = Api::namespaced(client, ns);
    let event = eventually(
        Duration::from_secs(40),
        "an UnregisteredModelWorkload event",
        || async {
            let list = events
                .list(&ListParams::default().fields("reason=UnregisteredModelWorkload"))
                .await
                .ok()?;
            list.items.into_iter().next()
        },
    )
    .await;
    assert_eq!(
        event.involved_object.name.as_deref(),
        Some("llm-playground")
    );
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    let note = event.message.unwrap_or_default();
    assert!(
        note.contains("runs vLLM") && note.contains("nvidia.com/gpu"),
        "{note}"
    );
    assert!(
        op.metric(&format!(
            "aims_unregistered_model_workloads{{namespace=\"{ns}\"}}"
        )) >= 1.0
    );

    // `aims scan` lists it, with its reasons, and not the nginx next to it.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aims"))
        .args(["scan", "-A", "-o", "json"])
        .env("KUBECONFIG", cp.kubeconfig())
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let mine: Vec<&serde_json::Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["namespace"] == ns)
        .collect();
    assert_eq!(mine.len(), 1, "{rows:#}");
    assert_eq!(mine[0]["workload"], "Deployment/llm-playground");
    assert!(mine[0]["reasons"].to_string().contains("vLLM"));
}

#[tokio::test]
async fn a_binding_reports_its_systems_its_controls_and_unknown_ids() {
    use aims_operator::api::ControlBinding;
    let cp = cluster();
    operator();
    let ns = "tallies";
    namespace(cp, ns);
    ok(apply(
        cp,
        &format!(
            r#"
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata: {{name: ranker, namespace: {ns}}}
spec: {{purpose: Rank products., riskTier: Minimal, owner: {{name: lena, contact: lena@example.com}}, team: search}}
---
apiVersion: aims.dev/v1alpha1
kind: ControlBinding
metadata: {{name: team, namespace: {ns}}}
spec:
  profile: minimal
  controls: [{{id: A.99.1}}, {{id: A.8.4}}]
"#
        ),
    ));
    let client = cp.client().await;
    let bindings: Api<ControlBinding> = Api::namespaced(client, ns);
    let status = eventually(WAIT, "the binding's status", || async {
        let s = bindings.get_status("team").await.ok()?.status?;
        (s.matched_systems == Some(1)).then_some(s)
    })
    .await;
    assert_eq!(status.systems, [format!("{ns}/ranker")]);
    assert_eq!(status.unknown_controls, ["A.99.1"]);
    let valid = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Valid")
        .unwrap();
    assert_eq!(
        (valid.status.as_str(), valid.reason.as_str()),
        ("False", "UnknownControls")
    );
    let tally = |id: &str| {
        status
            .controls
            .iter()
            .find(|c| c.id == id)
            .map(|c| (c.satisfied, c.applicable))
    };
    assert_eq!(tally("A.3.2"), Some((1, 1)), "owner and team are there");
    assert_eq!(tally("A.8.4"), Some((0, 1)), "no incident contact");
}
