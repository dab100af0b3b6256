//! The Helm chart, with the real `helm` on a control plane of its own: it lints, refuses wrong
//! values by name, installs the generated CRDs (its `crds/` is a link to them), the default
//! bindings and webhook configurations that match `aims webhook-config`; and the operator, running
//! with only the rights the chart grants, governs through them while everything else is refused.

mod support;

use std::time::Duration;

use aims_operator::api::AISystem;
use aims_testenv::ControlPlane;
use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment},
    batch::v1::{CronJob, Job},
};
use k8s_openapi::{
    api::{
        authentication::v1::SelfSubjectReview,
        core::v1::{Pod, Secret},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api,
    api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
};
use serde_json::Value;
use support::{
    apply, eventually, kubectl, ok,
    operator::{Operator, as_chart_service_account, chart_service_account, free_port},
    repo, stderr, stdout,
};

const NS: &str = "aims-system";

fn helm(cp: &ControlPlane, args: &[&str]) -> std::process::Output {
    cp.helm()
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run helm")
}

/// Parses a YAML stream into its documents, skipping empty ones.
fn documents(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .expect("YAML")
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

/// `aims webhook-config` with `args`, and the chart's webhooks.yaml with `values`, as documents.
fn both_configurations(
    cp: &ControlPlane,
    args: &[&str],
    values: &[&str],
) -> (Vec<Value>, Vec<Value>) {
    let printed = ok(std::process::Command::new(env!("CARGO_BIN_EXE_aims"))
        .arg("webhook-config")
        .args(args)
        .output()
        .unwrap());
    let mut template = vec![
        "template",
        "aims",
        "charts/aims-operator",
        "--namespace",
        NS,
    ];
    template.extend(["--show-only", "templates/webhooks.yaml"]);
    for v in values {
        // `@FILE` is a values file, anything else one `--set`.
        match v.strip_prefix('@') {
            Some(file) => template.extend(["--values", file]),
            None => template.extend(["--set", v]),
        }
    }
    let rendered = ok(helm(cp, &template));
    (documents(&printed), documents(&rendered))
}

fn assert_same_webhooks(printed: &[Value], rendered: &[Value]) {
    let key = |d: &Value| (d["kind"].to_string(), d["metadata"]["name"].to_string());
    let mut printed: Vec<&Value> = printed.iter().collect();
    let mut rendered: Vec<&Value> = rendered.iter().collect();
    printed.sort_by_key(|d| key(d));
    rendered.sort_by_key(|d| key(d));
    assert_eq!(printed.len(), 2);
    assert_eq!(
        printed.iter().map(|d| key(d)).collect::<Vec<_>>(),
        rendered.iter().map(|d| key(d)).collect::<Vec<_>>()
    );
    for (p, r) in printed.iter().zip(&rendered) {
        assert_eq!(
            p["webhooks"], r["webhooks"],
            "the chart's {} differs from `aims webhook-config`",
            p["kind"]
        );
    }
}

/// Whether the chart's ServiceAccount may do `verb` on `resource` (with `kubectl auth can-i`).
fn can(cp: &ControlPlane, args: &[&str]) -> bool {
    let mut full = vec!["auth", "can-i"];
    full.extend_from_slice(args);
    let sa = chart_service_account(NS);
    full.extend(["--as", &sa]);
    let out = kubectl(cp, &full);
    match stdout(&out).trim() {
        "yes" => true,
        "no" => false,
        _ => panic!("kubectl auth can-i {args:?}: {}", stderr(&out)),
    }
}

#[tokio::test]
async fn the_chart_installs_and_the_operator_governs_with_only_the_rights_it_grants() {
    let cp = ControlPlane::start().expect("start a control plane");
    ok(helm(&cp, &["lint", "--strict", "charts/aims-operator"]));

    // The chart's webhook configurations are the ones the operator's code generates.
    let (printed, rendered) = both_configurations(
        &cp,
        &["--service", "aims-operator-webhook", "--namespace", NS],
        &[],
    );
    assert_same_webhooks(&printed, &rendered);
    let (printed, rendered) = both_configurations(
        &cp,
        &[
            "--url",
            "https://127.0.0.1:9443",
            "--namespace",
            NS,
            "--failure-policy",
            "ignore",
            "--timeout",
            "3",
            "--exclude-namespace",
            "monitoring",
        ],
        &[
            "webhook.url=https://127.0.0.1:9443",
            "webhook.failurePolicy=Ignore",
            "webhook.timeoutSeconds=3",
            "webhook.excludedNamespaces={monitoring}",
        ],
    );
    assert_same_webhooks(&printed, &rendered);
    // A platform team's own kind: the operator reads it from the file the chart's extraKinds value
    // renders, and both review it.
    let (printed, rendered) = both_configurations(
        &cp,
        &[
            "--kinds-file",
            "tests/fixtures/extra-kinds/kinds.yaml",
            "--service",
            "aims-operator-webhook",
            "--namespace",
            NS,
        ],
        &["@tests/fixtures/extra-kinds/values.yaml"],
    );
    assert_same_webhooks(&printed, &rendered);
    assert!(
        rendered
            .iter()
            .find(|d| d["kind"] == "ValidatingWebhookConfiguration")
            .unwrap()["webhooks"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["resources"] == serde_json::json!(["modelservers", "modelservers/scale"])),
        "{rendered:#?}"
    );
    let extra = ok(helm(
        &cp,
        &[
            "template",
            "aims",
            "charts/aims-operator",
            "--namespace",
            NS,
            "--values",
            "tests/fixtures/extra-kinds/values.yaml",
            "--show-only",
            "templates/kinds-configmap.yaml",
        ],
    ));
    let configmap = &documents(&extra)[0];
    let file: Value =
        serde_saphyr::from_str(configmap["data"]["kinds.yaml"].as_str().unwrap()).unwrap();
    let want: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(support::repo().join("tests/fixtures/extra-kinds/kinds.yaml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(file, want, "the operator reads the rows the values give");

    // The optional parts render, and switched off they are gone.
    let kinds = |values: &[&str]| -> Vec<String> {
        let mut args = vec![
            "template",
            "aims",
            "charts/aims-operator",
            "--namespace",
            NS,
        ];
        for v in values {
            args.extend(["--set", v]);
        }
        documents(&ok(helm(&cp, &args)))
            .iter()
            .map(|d| {
                if d["kind"] == "ConfigMap" {
                    let json = d["data"]["aims-operator.json"].as_str().unwrap();
                    let dashboard: Value =
                        serde_json::from_str(json).expect("the dashboard is JSON");
                    assert_eq!(dashboard["uid"], "aims-operator");
                }
                format!(
                    "{}/{}",
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let all = kinds(&[
        "metrics.serviceMonitor.enabled=true",
        "grafanaDashboard.enabled=true",
    ]);
    for expected in [
        "Deployment/aims-operator",
        "PodDisruptionBudget/aims-operator",
        "ServiceMonitor/aims-operator",
        "ConfigMap/aims-operator-dashboard",
        "ValidatingWebhookConfiguration/aims-operator",
        "MutatingWebhookConfiguration/aims-operator",
        "Service/aims-operator-webhook",
        "ClusterControlBinding/aims-minimal",
        "ClusterControlBinding/aims-eu-ai-act-high-risk",
    ] {
        assert!(
            all.iter().any(|k| k == expected),
            "{expected} missing from {all:?}"
        );
    }
    let fewer = kinds(&[
        "webhook.enabled=false",
        "podDisruptionBudget.enabled=false",
        "defaultBindings.minimal.enabled=false",
        "defaultBindings.highRisk.enabled=false",
    ]);
    for gone in [
        "WebhookConfiguration",
        "PodDisruptionBudget",
        "ClusterControlBinding",
        "ServiceMonitor",
        "aims-operator-webhook",
    ] {
        assert!(
            !fewer.iter().any(|k| k.contains(gone)),
            "{gone} still in {fewer:?}"
        );
    }

    assert_boundary_renders(&cp);

    // A wrong value fails the install, naming it, and installs nothing.
    for (value, named) in [
        ("replica=3", "'replica' not allowed"),
        ("webhook.timeoutSeconds=soon", "/webhook/timeoutSeconds"),
        (
            "defaultBindings.highRisk.enforcement=Enforced",
            "/defaultBindings/highRisk/enforcement",
        ),
        ("unregisteredPolicy=deny", "/unregisteredPolicy"),
    ] {
        let out = helm(
            &cp,
            &[
                "install",
                "wrong",
                "charts/aims-operator",
                "--namespace",
                NS,
                "--create-namespace",
                "--set",
                value,
            ],
        );
        assert!(!out.status.success(), "{value} was accepted");
        assert!(stderr(&out).contains(named), "{value}: {}", stderr(&out));
    }
    assert!(!ok(helm(&cp, &["list", "-A", "-q"])).contains("wrong"));

    // Installed with the webhook pointed at an operator outside the cluster, as `make demo` does.
    let webhook = format!("127.0.0.1:{}", free_port());
    ok(helm(
        &cp,
        &[
            "install",
            "aims",
            "charts/aims-operator",
            "--namespace",
            NS,
            "--create-namespace",
            "--set",
            &format!("webhook.url=https://{webhook}"),
        ],
    ));
    for crd in aims_operator::crds::all() {
        let name = crd.metadata.name.clone().unwrap();
        support::wait_established(&cp, &[&format!("crd/{name}")]);
        // What the chart installed is what the types generate.
        let live = ok(kubectl(&cp, &["get", "crd", &name, "-o", "json"]));
        let live: CustomResourceDefinition = serde_json::from_str(&live).unwrap();
        assert!(
            live.spec.versions == crd.spec.versions,
            "{name} as installed by helm differs from the types"
        );
    }
    assert_boundary_installs(&cp);
    let status = ok(helm(&cp, &["status", "aims", "--namespace", NS]));
    assert!(status.contains("STATUS: deployed"), "{status}");
    assert!(status.contains("BREAK-GLASS RUNBOOK"), "{status}");
    // The default bindings went in before any operator served: their webhook fails open.
    let bindings = ok(kubectl(
        &cp,
        &["get", "clustercontrolbindings", "-o", "name"],
    ));
    assert!(
        bindings.contains("aims-minimal") && bindings.contains("aims-eu-ai-act-high-risk"),
        "{bindings}"
    );

    // No wildcard anywhere in the chart's RBAC.
    let rbac = ok(helm(
        &cp,
        &[
            "template",
            "aims",
            "charts/aims-operator",
            "--namespace",
            NS,
            "--show-only",
            "templates/rbac.yaml",
        ],
    ));
    for doc in documents(&rbac) {
        for rule in doc["rules"].as_array().into_iter().flatten() {
            for field in ["apiGroups", "resources", "verbs", "resourceNames"] {
                for v in rule[field].as_array().into_iter().flatten() {
                    assert_ne!(v, "*", "a wildcard in {field} of {rule}");
                }
            }
        }
    }

    // The operator, as the chart's ServiceAccount, serving where the chart's webhooks point.
    let op = Operator::start_serving(&cp, NS, "operator", &[], &webhook);
    op.wait_webhooks_answer(&cp);

    // Its client is that ServiceAccount, and cannot read Secrets outside its namespace.
    let kubeconfig = as_chart_service_account(&cp, NS);
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let as_operator = kube::Client::try_from(config).unwrap();
    let review: SelfSubjectReview = Api::all(as_operator.clone())
        .create(&PostParams::default(), &serde_json::from_value(serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {}
        })).unwrap())
        .await
        .unwrap();
    let user = review.status.unwrap().user_info.unwrap();
    assert_eq!(
        user.username.as_deref(),
        Some(chart_service_account(NS).as_str())
    );
    match Api::<Secret>::namespaced(as_operator, "default")
        .list(&Default::default())
        .await
    {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 403, "{e:?}"),
        other => panic!("the operator listed Secrets in default: {other:?}"),
    }

    // Least privilege: what the chart grants, and what it does not.
    for (allowed, args) in [
        (true, vec!["get", "secret/aims-webhook-tls", "-n", NS]),
        (
            true,
            vec!["patch", "deployments", "--subresource=scale", "-n", "hr"],
        ),
        (
            true,
            vec!["patch", "statefulsets", "--subresource=scale", "-n", "hr"],
        ),
        (true, vec!["patch", "cronjobs", "-n", "hr"]),
        (
            true,
            vec!["patch", "aisystems", "--subresource=status", "-n", "hr"],
        ),
        (true, vec!["list", "deployments", "-A"]),
        (false, vec!["get", "secrets", "-n", "default"]),
        (false, vec!["list", "secrets", "-A"]),
        (false, vec!["get", "secret/someone-elses", "-n", NS]),
        (false, vec!["patch", "deployments", "-n", "hr"]),
        (false, vec!["update", "deployments", "-n", "hr"]),
        (false, vec!["patch", "statefulsets", "-n", "hr"]),
        // The stop button for the kinds without a scale subresource.
        (true, vec!["patch", "daemonsets", "-n", "hr"]),
        (true, vec!["patch", "jobs", "-n", "hr"]),
        (true, vec!["delete", "pods", "-n", "hr"]),
        (false, vec!["create", "pods", "-n", "hr"]),
        (false, vec!["update", "pods", "-n", "hr"]),
        (false, vec!["delete", "deployments", "-n", "hr"]),
        (false, vec!["patch", "aisystems", "-n", "hr"]),
        (false, vec!["patch", "riskassessments", "-n", "hr"]),
        (false, vec!["delete", "clustercontrolbindings"]),
        (
            false,
            vec!["patch", "validatingwebhookconfiguration/someone-elses"],
        ),
        (
            false,
            vec!["get", "customresourcedefinition/aisystems.aims.dev"],
        ),
    ] {
        assert_eq!(can(&cp, &args), allowed, "can-i {args:?}");
    }

    // It governs: a High-risk system's unapproved Deployment is denied through the chart's
    // configuration by the chart's default binding, and the binding's status is written.
    ok(apply(
        &cp,
        &std::fs::read_to_string(repo().join("examples/00-namespaces.yaml")).unwrap(),
    ));
    ok(kubectl(
        &cp,
        &["apply", "-f", "examples/cv-screening/aisystem.yaml"],
    ));
    let client = cp.client().await;
    let systems: Api<AISystem> = Api::namespaced(client, "hr");
    eventually(Duration::from_secs(30), "the system evaluated", || async {
        systems.get_status("cv-screening").await.ok()?.status?.phase
    })
    .await;
    let denied = kubectl(
        &cp,
        &["apply", "-f", "examples/cv-screening/deployment.yaml"],
    );
    assert!(
        !denied.status.success(),
        "an unapproved Deployment was admitted"
    );
    let message = stderr(&denied);
    assert!(
        message.contains("aims-eu-ai-act-high-risk") || message.contains("A.6.2.5"),
        "{message}"
    );
    eventually(
        Duration::from_secs(30),
        "the high-risk binding's status",
        || async {
            let out = kubectl(
                &cp,
                &[
                    "get",
                    "clustercontrolbinding",
                    "aims-eu-ai-act-high-risk",
                    "-o",
                    "jsonpath={.status.matchedSystems}",
                ],
            );
            (stdout(&out).trim() == "1").then_some(())
        },
    )
    .await;

    assert!(
        op.forbidden().is_empty(),
        "refused calls:\n{}",
        op.forbidden().join("\n")
    );
}

/// The chart's admission policies for the operator's workload writes: one for every kind, and one
/// per kind for its spec.
const POLICIES: [&str; 6] = [
    "aims-operator-workload-writes",
    "aims-operator-cronjob-writes",
    "aims-operator-job-writes",
    "aims-operator-inferenceservices.serving.kserve.io-writes",
    "aims-operator-daemonset-writes",
    "aims-operator-pod-deletes",
];

/// Whether `error` is a refusal by one of the chart's policies.
fn refused_by_policy(error: &str) -> bool {
    POLICIES.iter().any(|p| {
        error.contains(&format!(
            "ValidatingAdmissionPolicy '{p}' with binding '{p}' denied request"
        ))
    })
}

/// The workloads the operator's writes are tried on: in `ns`, a CronJob, a suspended Job, an
/// InferenceService and a Deployment.
fn stop_button_workloads(ns: &str) -> String {
    let image = "registry.example.com/shop/ranker:1.0";
    format!(
        r#"
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
          containers: [{{name: retrain, image: "{image}"}}]
---
apiVersion: batch/v1
kind: Job
metadata: {{name: backfill, namespace: {ns}, labels: {{aims.dev/system: ranker}}}}
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers: [{{name: backfill, image: "{image}"}}]
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ranker-online
  namespace: {ns}
  labels: {{aims.dev/system: ranker}}
  annotations: {{team: shop}}
spec:
  predictor:
    containers: [{{name: kserve-container, image: "{image}"}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: ranker, namespace: {ns}, labels: {{aims.dev/system: ranker}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: ranker}}}}
  template:
    metadata: {{labels: {{app: ranker}}}}
    spec: {{containers: [{{name: ranker, image: "{image}"}}]}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: {ns}, labels: {{aims.dev/system: ranker}}}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      nodeSelector: {{accelerator: a100}}
      containers: [{{name: agent, image: "{image}"}}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: warm, namespace: {ns}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: warm}}}}
  template:
    metadata: {{labels: {{app: warm}}}}
    spec: {{containers: [{{name: warm, image: "{image}"}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: notebook, namespace: {ns}, labels: {{aims.dev/system: ranker}}}}
spec: {{containers: [{{name: notebook, image: "{image}"}}]}}
"#
    )
}

/// The RBAC grants the operator `patch` on CronJobs and InferenceServices, which would let it
/// rewrite their whole spec; the chart's admission policy, enforced by the API server itself
/// whether or not the operator's webhook answers, lets its ServiceAccount change only what the stop
/// button needs (a CronJob's or Job's `spec.suspend`, KServe's stop annotation, replicas through
/// the scale subresource), never create a workload, and never write one in the namespaces the
/// webhook does not review. A Role granting it more (here `patch` on Jobs) does not widen that.
#[tokio::test]
async fn the_operator_may_change_only_what_the_stop_button_needs() {
    let cp = ControlPlane::start().expect("start a control plane");
    ok(kubectl(
        &cp,
        &[
            "apply",
            "-f",
            "tests/fixtures/crds/inferenceservices.serving.kserve.io.yaml",
        ],
    ));
    support::wait_established(&cp, &["crd/inferenceservices.serving.kserve.io"]);
    // The webhook off: nothing here needs the operator to answer, and the policy holds without it.
    ok(helm(
        &cp,
        &[
            "install",
            "aims",
            "charts/aims-operator",
            "--namespace",
            NS,
            "--create-namespace",
            "--set",
            "webhook.enabled=false",
        ],
    ));
    let ns = "shop";
    ok(kubectl(&cp, &["create", "namespace", ns]));
    ok(apply(&cp, &stop_button_workloads(ns)));
    ok(apply(&cp, &stop_button_workloads("kube-system")));
    // More than the chart grants: the policy still decides what the operator may change.
    ok(kubectl(
        &cp,
        &[
            "-n",
            ns,
            "create",
            "role",
            "patch-jobs",
            "--verb=patch,create",
            "--resource=jobs",
        ],
    ));
    ok(kubectl(
        &cp,
        &[
            "-n",
            ns,
            "create",
            "rolebinding",
            "patch-jobs",
            "--role=patch-jobs",
            &format!("--serviceaccount={NS}:aims-operator"),
        ],
    ));

    // The operator's own client: the chart's ServiceAccount.
    let kubeconfig = as_chart_service_account(&cp, NS);
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let operator = kube::Client::try_from(config).unwrap();
    let write = |ns: &str, target: &str, body: &str, dry_run: bool| {
        let (kind, name) = target.split_once('/').unwrap();
        let api = Api::<DynamicObject>::namespaced_with(
            operator.clone(),
            ns,
            &match kind {
                "cronjob" => ApiResource::erase::<CronJob>(&()),
                "job" => ApiResource::erase::<Job>(&()),
                "daemonset" => ApiResource::erase::<DaemonSet>(&()),
                _ => aims_operator::cluster::custom::api_resource(
                    aims_operator::engine::kinds::find("serving.kserve.io", "InferenceService")
                        .unwrap(),
                ),
            },
        );
        let scales = Api::<Deployment>::namespaced(operator.clone(), ns);
        let (name, body) = (name.to_owned(), body.to_owned());
        let kind = kind.to_owned();
        async move {
            let pp = PatchParams {
                dry_run,
                ..Default::default()
            };
            let patch = Patch::Merge(serde_json::from_str::<Value>(&body).unwrap());
            let result = if kind == "deployment" {
                scales.patch_scale(&name, &pp, &patch).await.map(drop)
            } else {
                api.patch(&name, &pp, &patch).await.map(drop)
            };
            result.map_err(|e| e.to_string())
        }
    };
    // The API server loads a new policy asynchronously: wait until it refuses.
    let relabel = r#"{"metadata":{"labels":{"aims.dev/system":"other"}}}"#;
    eventually(Duration::from_secs(30), "the policy in force", || async {
        write(ns, "cronjob/retrain", relabel, true).await.err()
    })
    .await;

    // Their expressions type-check against the kinds' schemas (a misspelt field would be a warning).
    for policy in POLICIES {
        let checked = eventually(
            Duration::from_secs(30),
            "the policy type-checked",
            || async {
                let out = kubectl(
                    &cp,
                    &[
                        "get",
                        "validatingadmissionpolicy",
                        policy,
                        "-o",
                        "jsonpath={.status.observedGeneration}/{.status.typeChecking}",
                    ],
                );
                let status = stdout(&out);
                (!status.starts_with('/')).then_some(status)
            },
        )
        .await;
        assert!(
            !checked.contains("expressionWarnings"),
            "{policy}: {checked}"
        );
    }

    let stop = |value: &str| {
        format!(r#"{{"metadata":{{"annotations":{{"serving.kserve.io/stop":{value}}}}}}}"#)
    };
    let to_zero = r#"{"spec":{"replicas":0}}"#;
    let park = |value: &str| {
        format!(
            r#"{{"spec":{{"template":{{"spec":{{"nodeSelector":{{"aims.dev/halted":{value}}}}}}}}}}}"#
        )
    };
    // What the stop button writes is admitted, and done.
    for (target, body) in [
        ("cronjob/retrain", r#"{"spec":{"suspend":true}}"#.to_owned()),
        (
            "cronjob/retrain",
            r#"{"spec":{"suspend":false}}"#.to_owned(),
        ),
        ("job/backfill", r#"{"spec":{"suspend":false}}"#.to_owned()),
        ("job/backfill", r#"{"spec":{"suspend":true}}"#.to_owned()),
        ("inferenceservice/ranker-online", stop(r#""true""#)),
        ("inferenceservice/ranker-online", stop("null")),
        ("deployment/ranker", to_zero.to_owned()),
        ("inferenceservice/ranker-online", stop(r#""true""#)),
        ("daemonset/agent", park(r#""true""#)),
        ("daemonset/agent", park("null")),
        ("daemonset/agent", park(r#""true""#)),
    ] {
        if let Err(e) = write(ns, target, &body, false).await {
            panic!("{target} {body} was refused: {e}");
        }
    }
    let stopped = ok(kubectl(
        &cp,
        &[
            "-n",
            ns,
            "get",
            "inferenceservice/ranker-online",
            "-o",
            r"jsonpath={.metadata.annotations.serving\.kserve\.io/stop}",
        ],
    ));
    assert_eq!(stopped, "true");

    // Anything else is refused, by the policy, saying why.
    let image = r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"retrain","image":"vllm/vllm-openai:latest"}]}}}}}}"#;
    let stop_false = stop(r#""false""#);
    let stop_true = stop(r#""true""#);
    let park_false = park(r#""false""#);
    let park_true = park(r#""true""#);
    let refused = [
        (
            ns,
            "cronjob/retrain",
            image,
            "only spec.suspend of a CronJob",
        ),
        (
            ns,
            "cronjob/retrain",
            r#"{"spec":{"schedule":"* * * * *","suspend":true}}"#,
            "only spec.suspend of a CronJob",
        ),
        (ns, "cronjob/retrain", relabel, "labels"),
        (
            ns,
            "cronjob/retrain",
            r#"{"metadata":{"annotations":{"note":"x"}}}"#,
            "annotations",
        ),
        (
            ns,
            "job/backfill",
            r#"{"spec":{"parallelism":5}}"#,
            "only spec.suspend of a Job",
        ),
        (
            ns,
            "inferenceservice/ranker-online",
            r#"{"spec":{"predictor":{"minReplicas":3}}}"#,
            "the spec of this InferenceService",
        ),
        (
            ns,
            "inferenceservice/ranker-online",
            r#"{"metadata":{"annotations":{"team":"someone-else"}}}"#,
            "only the serving.kserve.io/stop annotation",
        ),
        (
            ns,
            "inferenceservice/ranker-online",
            &stop_false,
            "only the serving.kserve.io/stop annotation",
        ),
        (ns, "inferenceservice/ranker-online", relabel, "labels"),
        (
            ns,
            "daemonset/agent",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"agent","image":"vllm/vllm-openai:latest"}]}}}}"#,
            "only the aims.dev/halted entry of a DaemonSet's pod template",
        ),
        (
            ns,
            "daemonset/agent",
            r#"{"spec":{"template":{"spec":{"nodeSelector":{"accelerator":null}}}}}"#,
            "only the aims.dev/halted entry of a DaemonSet's nodeSelector",
        ),
        (
            ns,
            "daemonset/agent",
            &park_false,
            "only the aims.dev/halted entry of a DaemonSet's nodeSelector",
        ),
        (ns, "daemonset/agent", relabel, "labels"),
        // Where the webhook reviews nothing, the operator changes nothing.
        (
            "kube-system",
            "cronjob/retrain",
            r#"{"spec":{"suspend":true}}"#,
            "no workload in kube-system",
        ),
        (
            "kube-system",
            "inferenceservice/ranker-online",
            &stop_true,
            "no workload in kube-system",
        ),
        (
            "kube-system",
            "deployment/ranker",
            to_zero,
            "no workload in kube-system",
        ),
        (
            "kube-system",
            "daemonset/agent",
            &park_true,
            "no workload in kube-system",
        ),
    ];
    for (namespace, target, body, says) in refused {
        match write(namespace, target, body, true).await {
            Ok(()) => panic!("{namespace}/{target} {body} was admitted"),
            Err(e) => assert!(
                refused_by_policy(&e) && e.contains(says),
                "{namespace}/{target} {body}: expected the policy's refusal saying {says:?}: {e}"
            ),
        }
    }

    // It deletes a bare Pod, and no Pod a controller owns (a halt stops those through their owner).
    let delete = |ns: &str, name: &str| {
        let api = Api::<Pod>::namespaced(operator.clone(), ns);
        let name = name.to_owned();
        async move {
            api.delete(
                &name,
                &DeleteParams {
                    dry_run: true,
                    ..Default::default()
                },
            )
            .await
            .map(drop)
            .map_err(|e| e.to_string())
        }
    };
    if let Err(e) = delete(ns, "notebook").await {
        panic!("deleting the bare Pod was refused: {e}");
    }
    let owned = eventually(
        Duration::from_secs(30),
        "a Pod of the ReplicaSet",
        || async {
            let out = kubectl(
                &cp,
                &["-n", ns, "get", "pods", "-l", "app=warm", "-o", "name"],
            );
            stdout(&out)
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("pod/"))
                .map(str::to_owned)
        },
    )
    .await;
    for (namespace, name, says) in [
        (ns, owned.as_str(), "only Pods no controller owns"),
        ("kube-system", "notebook", "no Pod in kube-system"),
    ] {
        match delete(namespace, name).await {
            Ok(()) => panic!("the operator deleted {namespace}/{name}"),
            Err(e) => assert!(
                refused_by_policy(&e) && e.contains(says),
                "{namespace}/{name}: expected the policy's refusal saying {says:?}: {e}"
            ),
        }
    }

    // Not even a grant to create (the Role above) lets it create a workload.
    let miner: Value = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "miner", "namespace": ns},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "miner", "image": "vllm/vllm-openai:latest"}]}}}
    });
    let created = Api::<Job>::namespaced(operator.clone(), ns)
        .create(
            &PostParams {
                dry_run: true,
                ..Default::default()
            },
            &serde_json::from_value(miner).unwrap(),
        )
        .await;
    match created {
        Ok(_) => panic!("the operator created a Job"),
        Err(e) => assert!(
            refused_by_policy(&e.to_string()) && e.to_string().contains("never creates"),
            "{e}"
        ),
    }

    // Other users are not concerned: the admin still edits the CronJob's spec.
    ok(kubectl(
        &cp,
        &[
            "-n",
            ns,
            "patch",
            "cronjob/retrain",
            "--type=merge",
            "-p",
            image,
        ],
    ));
}

/// `helm template` of the chart with `values` (`--set`), as documents.
fn rendered(cp: &ControlPlane, values: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "template",
        "aims",
        "charts/aims-operator",
        "--namespace",
        NS,
    ];
    for v in values {
        args.extend(["--set", v]);
    }
    documents(&ok(helm(cp, &args)))
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

fn operator_args(docs: &[Value]) -> Vec<String> {
    let deployment = find(docs, "Deployment", "aims-operator").expect("the Deployment");
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

/// The webhook's network boundary as the chart renders it: the NetworkPolicy is on by default,
/// admits the webhook port from every address outside `podCIDRs` and the metrics port from pods,
/// and is gone when switched off; a client CA reaches the operator as its flags, with the volume
/// that holds it.
fn assert_boundary_renders(cp: &ControlPlane) {
    let docs = rendered(cp, &[]);
    let policy = find(&docs, "NetworkPolicy", "aims-operator").expect("a NetworkPolicy by default");
    let rules = policy["spec"]["ingress"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{policy}");
    assert_eq!(rules[0]["ports"][0]["port"], "webhook", "{policy}");
    assert_eq!(
        rules[0]["from"][0]["ipBlock"]["cidr"], "0.0.0.0/0",
        "{policy}"
    );
    assert_eq!(rules[1]["ports"][0]["port"], "metrics", "{policy}");
    assert!(!operator_args(&docs).iter().any(|a| a.contains("client")));

    let docs = rendered(cp, &["networkPolicy.podCIDRs={10.244.0.0/16,fd00:10::/56}"]);
    let policy = find(&docs, "NetworkPolicy", "aims-operator").unwrap();
    let from = &policy["spec"]["ingress"][0]["from"];
    assert_eq!(from[0]["ipBlock"]["except"][0], "10.244.0.0/16", "{policy}");
    assert_eq!(from[1]["ipBlock"]["except"][0], "fd00:10::/56", "{policy}");
    assert!(
        find(
            &rendered(cp, &["networkPolicy.enabled=false"]),
            "NetworkPolicy",
            "aims-operator"
        )
        .is_none()
    );

    let docs = rendered(
        cp,
        &[
            "webhook.clientAuth.existingSecret=apiserver-webhook-client-ca",
            "webhook.clientAuth.names={kube-apiserver-webhook-client}",
        ],
    );
    let args = operator_args(&docs);
    for flag in [
        "--webhook-client-ca-file=/etc/aims/webhook-client-ca/ca.crt",
        "--webhook-client-name=kube-apiserver-webhook-client",
    ] {
        assert!(
            args.iter().any(|a| a == flag),
            "{flag} missing from {args:?}"
        );
    }
    let pod = &find(&docs, "Deployment", "aims-operator").unwrap()["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][0]["secret"]["secretName"], "apiserver-webhook-client-ca",
        "{pod}"
    );
    assert_eq!(
        pod["containers"][0]["volumeMounts"][0]["mountPath"], "/etc/aims/webhook-client-ca",
        "{pod}"
    );
}

/// The installed chart, upgraded with the control plane's webhook client CA inline: the
/// NetworkPolicy and the CA's ConfigMap are in the cluster, and the Deployment the API server
/// stored passes the operator the CA and the expected name.
fn assert_boundary_installs(cp: &ControlPlane) {
    let ca = format!(
        "webhook.clientAuth.caBundle={}",
        cp.webhook_client_ca().display()
    );
    let name = format!(
        "webhook.clientAuth.names={{{}}}",
        aims_testenv::WEBHOOK_CLIENT_NAME
    );
    ok(helm(
        cp,
        &[
            "upgrade",
            "aims",
            "charts/aims-operator",
            "--namespace",
            NS,
            "--reuse-values",
            "--set-file",
            &ca,
            "--set",
            &name,
        ],
    ));
    ok(kubectl(
        cp,
        &["-n", NS, "get", "networkpolicy", "aims-operator"],
    ));
    let stored = ok(kubectl(
        cp,
        &[
            "-n",
            NS,
            "get",
            "configmap",
            "aims-operator-webhook-client-ca",
            "-o",
            "jsonpath={.data.ca\\.crt}",
        ],
    ));
    let pem = std::fs::read_to_string(cp.webhook_client_ca()).unwrap();
    assert_eq!(stored.trim(), pem.trim());
    let deployment: Value = serde_json::from_str(&ok(kubectl(
        cp,
        &["-n", NS, "get", "deployment", "aims-operator", "-o", "json"],
    )))
    .unwrap();
    let args = operator_args(std::slice::from_ref(&deployment));
    assert!(
        args.iter()
            .any(|a| a == "--webhook-client-ca-file=/etc/aims/webhook-client-ca/ca.crt")
            && args.iter().any(|a| a
                == &format!(
                    "--webhook-client-name={}",
                    aims_testenv::WEBHOOK_CLIENT_NAME
                )),
        "{args:?}"
    );
}
