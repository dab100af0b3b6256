//! Model workloads of custom-resource kinds, through the real API server with the kinds' CRDs
//! installed (KubeRay's and Kubeflow's real ones, stand-ins for LeaderWorkerSet and KServe): a vLLM
//! LeaderWorkerSet, a Ray Serve RayService, a PyTorchJob and an LLMInferenceService are each denied
//! while their system is unapproved, admitted and counted Compliant once it is approved (their
//! images pinned by digest in the approved scope), stopped by a halt (and kept stopped), restored
//! by the resume, and reported when a copy of them belongs to no system; `aims check` gives the
//! webhook's verdicts offline. A platform team's own kind, given to the operator as the chart's
//! `extraKinds` value gives it (`--kinds-file`, and the RBAC and webhook rules rendered from it),
//! goes through the same life.

mod support;

use std::{
    process::{Command, Output},
    sync::OnceLock,
    time::Duration,
};

use aims_testenv::ControlPlane;
use support::{
    apply, cluster, eventually, install_kind_crds, kubectl, namespace, ok,
    operator::Operator,
    records::{IMAGE, records, wait_stores_hold_records},
    refused, stderr, stdout,
};

const OPERATOR_NS: &str = "aims-system";
const WAIT: Duration = Duration::from_secs(30);

/// The model the LLMInferenceService loads, and the digest its assessment records.
const MODEL: &str = "hf://Qwen/Qwen2.5-7B-Instruct";
const MODEL_SHA256: &str = "6666666666666666666666666666666666666666666666666666666666666666";

/// A platform team's own kind, which the operator, its webhook configurations, its RBAC and every
/// `aims` command here are given.
const KINDS_FILE: &str = "tests/fixtures/extra-kinds/kinds.yaml";

/// What the reviewer and the overseer may do with the aims records.
const RBAC: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: custom-kinds-users}
rules:
  - apiGroups: [aims.dev]
    resources: [riskassessments, aisystems]
    verbs: [get, list, watch, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: custom-kinds-users}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: custom-kinds-users}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "aims:reviewers"}
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: olga}
"#;

/// The control plane with every governed kind's CRD, and the operator with its webhooks.
fn setup() -> &'static ControlPlane {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    let cp = cluster();
    OPERATOR.get_or_init(|| {
        install_kind_crds(cp);
        ok(kubectl(
            cp,
            &["apply", "-f", "tests/fixtures/extra-kinds/crd.yaml"],
        ));
        support::wait_established(cp, &["crd", "modelservers.serving.example.com"]);
        ok(apply(cp, RBAC));
        // With a platform team's own kind, as the chart's extraKinds value gives it.
        let op = Operator::start_with(cp, OPERATOR_NS, "operator", &["--kinds-file", KINDS_FILE]);
        op.register_webhooks(cp);
        op
    });
    cp
}

/// One kind's case: its manifest (for system `scoring`, or for none), how to read whether it is
/// stopped, and how to start it again by hand.
struct Case {
    /// `kind/name` for kubectl.
    target: &'static str,
    /// The object, labelled for `scoring` when `system` is set.
    manifest: fn(ns: &str, name: &str, system: bool) -> String,
    /// A jsonpath whose value says whether it runs: `running` while it does, `stopped` after the
    /// halt.
    state: &'static str,
    running: &'static str,
    stopped: &'static str,
    /// A merge patch that would start it again while halted.
    restart: &'static str,
}

fn labels(system: bool) -> &'static str {
    if system {
        "{aims.dev/system: scoring}"
    } else {
        "{app: shadow}"
    }
}

fn leader_worker_set(ns: &str, name: &str, system: bool) -> String {
    let labels = labels(system);
    format!(
        r#"
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {{name: {name}, namespace: {ns}, labels: {labels}}}
spec:
  replicas: 2
  leaderWorkerTemplate:
    size: 2
    leaderTemplate:
      metadata: {{labels: {labels}}}
      spec:
        containers:
          - name: vllm-leader
            image: "{IMAGE}"
            command: [python3, -m, vllm.entrypoints.openai.api_server, --tensor-parallel-size, "2"]
            resources: {{limits: {{nvidia.com/gpu: "1"}}}}
    workerTemplate:
      spec:
        containers:
          - name: vllm-worker
            image: "{IMAGE}"
            resources: {{limits: {{nvidia.com/gpu: "1"}}}}
"#
    )
}

fn ray_service(ns: &str, name: &str, system: bool) -> String {
    let labels = labels(system);
    format!(
        r#"
apiVersion: ray.io/v1
kind: RayService
metadata: {{name: {name}, namespace: {ns}, labels: {labels}}}
spec:
  serveConfigV2: |
    applications:
      - name: llm
        import_path: ray.serve.llm:build_openai_app
  rayClusterConfig:
    rayVersion: "2.41.0"
    headGroupSpec:
      rayStartParams: {{}}
      template:
        metadata: {{labels: {labels}}}
        spec:
          containers:
            - name: ray-head
              image: "{IMAGE}"
    workerGroupSpecs:
      - groupName: gpu
        replicas: 1
        rayStartParams: {{}}
        template:
          metadata: {{labels: {labels}}}
          spec:
            containers:
              - name: llm
                image: "{IMAGE}"
                resources: {{limits: {{nvidia.com/gpu: "1"}}}}
"#
    )
}

/// The RayCluster KubeRay runs for a RayService: its template, its labels, owned by it.
fn ray_cluster_of(ns: &str, service: &str, uid: &str) -> String {
    format!(
        r#"
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: {service}-raycluster
  namespace: {ns}
  labels: {{aims.dev/system: scoring, ray.io/originated-from-cr-name: {service}}}
  ownerReferences:
    - {{apiVersion: ray.io/v1, kind: RayService, name: {service}, uid: "{uid}", controller: true}}
spec:
  rayVersion: "2.41.0"
  headGroupSpec:
    rayStartParams: {{}}
    template:
      metadata: {{labels: {{aims.dev/system: scoring}}}}
      spec:
        containers:
          - name: ray-head
            image: "{IMAGE}"
"#
    )
}

fn pytorch_job(ns: &str, name: &str, system: bool) -> String {
    let labels = labels(system);
    format!(
        r#"
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {{name: {name}, namespace: {ns}, labels: {labels}}}
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      restartPolicy: OnFailure
      template:
        metadata: {{labels: {labels}}}
        spec:
          containers:
            - name: pytorch
              image: "{IMAGE}"
              command: [python3, /opt/mnist.py]
              resources: {{limits: {{nvidia.com/gpu: "1"}}}}
    Worker:
      replicas: 2
      restartPolicy: OnFailure
      template:
        metadata: {{labels: {labels}}}
        spec:
          containers:
            - name: pytorch
              image: "{IMAGE}"
              command: [python3, /opt/mnist.py]
              resources: {{limits: {{nvidia.com/gpu: "1"}}}}
"#
    )
}

/// The platform team's own kind (`tests/fixtures/extra-kinds/kinds.yaml`).
fn model_server(ns: &str, name: &str, system: bool) -> String {
    let labels = labels(system);
    format!(
        r#"
apiVersion: serving.example.com/v1
kind: ModelServer
metadata: {{name: {name}, namespace: {ns}, labels: {labels}}}
spec:
  replicas: 2
  model: "{MODEL}"
  template:
    metadata: {{labels: {labels}}}
    spec:
      containers:
        - name: server
          image: "{IMAGE}"
          resources: {{limits: {{amd.com/gpu: "1"}}}}
"#
    )
}

fn llm_inference_service(ns: &str, name: &str, system: bool) -> String {
    let labels = labels(system);
    format!(
        r#"
apiVersion: serving.kserve.io/v1alpha1
kind: LLMInferenceService
metadata: {{name: {name}, namespace: {ns}, labels: {labels}}}
spec:
  model: {{uri: "{MODEL}"}}
  replicas: 1
  template:
    containers:
      - name: main
        image: "{IMAGE}"
        resources: {{limits: {{nvidia.com/gpu: "1"}}}}
"#
    )
}

/// `aims ARGS` as the admin, or as `who` (`--as` and `--as-group` arguments), with the platform
/// team's kinds.
fn aims(cp: &ControlPlane, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aims"))
        .args(args)
        .env("AIMS_KINDS_FILE", KINDS_FILE)
        .env("KUBECONFIG", cp.kubeconfig())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .output()
        .expect("run aims")
}

/// `kubectl get TARGET -n NS -o jsonpath=PATH`.
fn get(cp: &ControlPlane, ns: &str, target: &str, path: &str) -> String {
    stdout(&kubectl(
        cp,
        &["-n", ns, "get", target, "-o", &format!("jsonpath={path}")],
    ))
}

/// Waits until system `scoring` of `ns` is in `phase` with `workloads` (`compliant/matched`).
async fn wait_system(cp: &ControlPlane, ns: &str, phase: &str, workloads: &str) {
    let path = "{.status.phase} {.status.workloads.summary}";
    let want = format!("{phase} {workloads}");
    eventually(WAIT, &format!("scoring to be {want}"), || async {
        (get(cp, ns, "aisystem/scoring", path) == want).then_some(())
    })
    .await;
}

/// The verdict `aims check` gives offline for the workload in `files`.
fn offline_verdict(cp: &ControlPlane, ns: &str, files: &str) -> (String, String) {
    let dir = cp.dir().join(format!("offline-{ns}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("all.yaml"), files).unwrap();
    let out = aims(cp, &["check", "-f", dir.to_str().unwrap(), "-o", "json"]);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    let w = &report["workloads"][0];
    let reasons = w["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}: {}",
                r["control"].as_str().unwrap_or("-"),
                r["message"].as_str().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    (w["verdict"].as_str().unwrap().to_owned(), reasons)
}

/// The whole life of one kind's workload in namespace `ns`.
async fn governed(ns: &str, case: Case) {
    let cp = setup();
    namespace(cp, ns);
    // The assessment covers the image and the model the LLMInferenceService loads.
    let records = records(ns, "Enforce").replace(
        &format!("artifacts: [{{image: \"{IMAGE}\"}}]"),
        &format!(
            "artifacts: [{{image: \"{IMAGE}\"}}, {{uri: \"{MODEL}\", sha256: \"{MODEL_SHA256}\"}}]"
        ),
    );
    assert!(records.contains(MODEL));
    ok(apply(cp, &records));
    wait_stores_hold_records(cp, ns).await;
    let name = case.target.split_once('/').unwrap().1;
    let manifest = (case.manifest)(ns, name, true);

    // Unapproved: the webhook denies it, saying what is missing; `aims check` says the same.
    let denied = apply(cp, &manifest);
    refused(&denied, "A.6.2.5");
    assert!(
        stderr(&denied).contains("awaits approval"),
        "{}",
        stderr(&denied)
    );
    let (verdict, reasons) = offline_verdict(cp, ns, &format!("{records}\n---\n{manifest}"));
    assert_eq!(verdict, "Deny", "{reasons}");
    assert!(reasons.contains("A.6.2.5"), "{reasons}");

    // Approved by a reviewer: admitted, and the system counts it Compliant.
    ok(aims(
        cp,
        &[
            "approve",
            "scoring-v1",
            "-n",
            ns,
            "--as",
            "alice",
            "--as-group",
            "aims:reviewers",
        ],
    ));
    wait_system(cp, ns, "Compliant", "0/0").await;
    ok(apply(cp, &manifest));
    wait_system(cp, ns, "Compliant", "1/1").await;
    if case.target.starts_with("rayservice/") {
        // KubeRay runs the service as a RayCluster of its own, which carries its labels.
        let uid = get(cp, ns, case.target, "{.metadata.uid}");
        ok(apply(cp, &ray_cluster_of(ns, name, &uid)));
        wait_system(cp, ns, "Compliant", "2/2").await;
    }
    // Offline, with the assessment as the cluster holds it (approval included): admitted too.
    let assessment = stdout(&kubectl(
        cp,
        &[
            "-n",
            ns,
            "get",
            "riskassessment",
            "scoring-v1",
            "-o",
            "yaml",
        ],
    ));
    let system_and_binding: Vec<&str> = records
        .split("\n---\n")
        .filter(|d| !d.contains("kind: RiskAssessment"))
        .collect();
    let (verdict, reasons) = offline_verdict(
        cp,
        ns,
        &format!(
            "{}\n---\n{assessment}\n---\n{manifest}",
            system_and_binding.join("\n---\n")
        ),
    );
    assert_eq!(verdict, "Allow", "{reasons}");

    // Halted by its overseer: stopped, and kept stopped.
    let (stopped_target, state) = if case.target.starts_with("rayservice/") {
        (format!("raycluster/{name}-raycluster"), case.state)
    } else {
        (case.target.to_owned(), case.state)
    };
    let before = get(cp, ns, &stopped_target, state);
    assert!(
        before == case.running || before.is_empty(),
        "{stopped_target} runs: {before}"
    );
    ok(aims(
        cp,
        &[
            "halt", "scoring", "-n", ns, "--reason", "drift", "--as", "olga",
        ],
    ));
    eventually(WAIT, &format!("{stopped_target} stopped"), || async {
        (get(cp, ns, &stopped_target, state) == case.stopped).then_some(())
    })
    .await;
    let restart = kubectl(
        cp,
        &[
            "-n",
            ns,
            "patch",
            &stopped_target,
            "--type=merge",
            "-p",
            case.restart,
        ],
    );
    refused(&restart, "halted by an overseer (drift)");
    if ["leaderworkerset/", "modelserver/", "pytorchjob/"]
        .iter()
        .any(|k| case.target.starts_with(k))
    {
        // Through the scale subresource too (a PyTorchJob's CRD scales its workers).
        refused(
            &kubectl(cp, &["-n", ns, "scale", case.target, "--replicas=3"]),
            "halted by an overseer",
        );
    }

    // Resumed: exactly what ran before runs again.
    ok(aims(cp, &["resume", "scoring", "-n", ns, "--as", "olga"]));
    eventually(WAIT, &format!("{stopped_target} restored"), || async {
        (get(cp, ns, &stopped_target, state) == case.running).then_some(())
    })
    .await;
    wait_system(
        cp,
        ns,
        "Compliant",
        if case.target.starts_with("rayservice/") {
            "2/2"
        } else {
            "1/1"
        },
    )
    .await;

    // A copy that belongs to no system is admitted with a warning and reported by the scan.
    let shadow = (case.manifest)(ns, "shadow", false);
    let admitted = ok(apply(cp, &shadow));
    assert!(admitted.contains("created"), "{admitted}");
    let out = aims(cp, &["scan", "-n", ns, "-o", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kind = case.target.split_once('/').unwrap().0;
    let found = rows.as_array().unwrap().iter().any(|r| {
        r["workload"]
            .as_str()
            .is_some_and(|w| w.to_lowercase() == format!("{kind}/shadow"))
    });
    assert!(found, "{rows:#}");
}

#[tokio::test]
async fn a_vllm_leader_worker_set_is_governed() {
    governed(
        "lws",
        Case {
            target: "leaderworkerset/vllm",
            manifest: leader_worker_set,
            state: "{.spec.replicas}",
            running: "2",
            stopped: "0",
            restart: r#"{"spec":{"replicas":2}}"#,
        },
    )
    .await;
}

#[tokio::test]
async fn a_ray_service_is_governed_and_halted_through_its_ray_cluster() {
    governed(
        "rayservice",
        Case {
            target: "rayservice/llm",
            manifest: ray_service,
            state: "{.spec.suspend}",
            running: "false",
            stopped: "true",
            restart: r#"{"spec":{"suspend":false}}"#,
        },
    )
    .await;
}

#[tokio::test]
async fn a_pytorch_job_is_governed() {
    governed(
        "pytorchjob",
        Case {
            target: "pytorchjob/mnist",
            manifest: pytorch_job,
            state: "{.spec.runPolicy.suspend}",
            running: "false",
            stopped: "true",
            restart: r#"{"spec":{"runPolicy":{"suspend":false}}}"#,
        },
    )
    .await;
}

#[tokio::test]
async fn an_llm_inference_service_is_governed() {
    governed(
        "llmisvc",
        Case {
            target: "llminferenceservice/qwen",
            manifest: llm_inference_service,
            state: r"{.metadata.annotations.serving\.kserve\.io/stop}",
            running: "",
            stopped: "true",
            restart: r#"{"metadata":{"annotations":{"serving.kserve.io/stop":null}}}"#,
        },
    )
    .await;
}

#[tokio::test]
async fn a_platform_teams_own_kind_is_governed() {
    governed(
        "modelserver",
        Case {
            target: "modelserver/sentiment",
            manifest: model_server,
            state: "{.spec.replicas}",
            running: "2",
            stopped: "0",
            restart: r#"{"spec":{"replicas":2}}"#,
        },
    )
    .await;
}

/// The policies the chart holds the operator's writes to, for the custom kinds whose real CRDs are
/// installed: type-checked against the real schemas, and refusing all but the stop.
#[tokio::test]
async fn the_operator_may_change_only_the_stop_of_a_custom_kind() {
    let cp = setup();
    let ns = "operator-writes";
    namespace(cp, ns);
    ok(apply(cp, &pytorch_job(ns, "mnist", false)));
    ok(apply(cp, &ray_service(ns, "llm", false)));
    for policy in [
        "aims-operator-pytorchjobs.kubeflow.org-writes",
        "aims-operator-tfjobs.kubeflow.org-writes",
        "aims-operator-mpijobs.kubeflow.org-writes",
        "aims-operator-trainjobs.trainer.kubeflow.org-writes",
        "aims-operator-rayclusters.ray.io-writes",
        "aims-operator-rayjobs.ray.io-writes",
    ] {
        let checked = eventually(WAIT, &format!("{policy} type-checked"), || async {
            let status = stdout(&kubectl(
                cp,
                &[
                    "get",
                    "validatingadmissionpolicy",
                    policy,
                    "-o",
                    "jsonpath={.status.observedGeneration}/{.status.typeChecking}",
                ],
            ));
            (!status.starts_with('/')).then_some(status)
        })
        .await;
        assert!(
            !checked.contains("expressionWarnings"),
            "{policy}: {checked}"
        );
    }
    // The operator's own client: a PATCH alone, as its halt sends it.
    let kubeconfig = support::operator::as_chart_service_account(cp, OPERATOR_NS);
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let patch = |target: &str, body: &str| {
        let (kind, name) = target.split_once('/').unwrap();
        let spec = match kind {
            "pytorchjob" => aims_operator::engine::kinds::find("kubeflow.org", "PyTorchJob"),
            _ => aims_operator::engine::kinds::find("ray.io", "RayService"),
        }
        .unwrap();
        let api = kube::Api::<kube::api::DynamicObject>::namespaced_with(
            client.clone(),
            ns,
            &aims_operator::cluster::custom::api_resource(spec),
        );
        let (name, body) = (name.to_owned(), body.to_owned());
        async move {
            let pp = kube::api::PatchParams {
                dry_run: true,
                ..Default::default()
            };
            let patch =
                kube::api::Patch::Merge(serde_json::from_str::<serde_json::Value>(&body).unwrap());
            api.patch(&name, &pp, &patch)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        }
    };
    patch(
        "pytorchjob/mnist",
        r#"{"spec":{"runPolicy":{"suspend":true}}}"#,
    )
    .await
    .expect("the stop is allowed");
    for (target, body, says) in [
        (
            "pytorchjob/mnist",
            r#"{"spec":{"pytorchReplicaSpecs":{"Master":{"replicas":4}}}}"#,
            "may not change spec.pytorchReplicaSpecs",
        ),
        (
            "pytorchjob/mnist",
            r#"{"metadata":{"labels":{"aims.dev/system":"other"}}}"#,
            "labels",
        ),
        // A RayService stops through its RayClusters: the operator may not write it at all.
        (
            "rayservice/llm",
            r#"{"spec":{"serveConfigV2":"x"}}"#,
            "forbidden",
        ),
    ] {
        let err = patch(target, body).await.expect_err(body);
        assert!(err.contains(says), "{target} {body}: {err}");
    }
}

/// A team may not split one object's pods between systems (a worker template labelled for another,
/// say an approved, system than the leader's), nor leave what a kind creates outside its system (a
/// Knative Service labelled on itself alone): each is refused, naming the field.
#[tokio::test]
async fn the_pods_of_one_object_belong_to_its_one_system() {
    let cp = setup();
    let ns = "two-systems";
    namespace(cp, ns);
    let manifest = leader_worker_set(ns, "split", true).replace(
        "    workerTemplate:\n      spec:",
        "    workerTemplate:\n      metadata: {labels: {aims.dev/system: approved-elsewhere}}\n      spec:",
    );
    assert!(manifest.contains("approved-elsewhere"));
    refused(
        &apply(cp, &manifest),
        "spec.leaderWorkerTemplate.workerTemplate.metadata.labels: aims.dev/system is approved-elsewhere, while spec.leaderWorkerTemplate.leaderTemplate names scoring",
    );
    // A Knative Service labelled on itself alone: its Revisions' Deployments would carry no system
    // label, outside the system and out of a halt's reach. Refused, saying where the label goes.
    let knative = format!(
        r#"
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {{name: resnet, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}
spec:
  template:
    spec:
      containers:
        - image: "{IMAGE}"
"#
    );
    refused(
        &apply(cp, &knative),
        "spec.template.metadata.labels: aims.dev/system: scoring is on the Service but not on its pod template",
    );
}
