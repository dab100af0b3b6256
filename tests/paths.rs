//! Every path to a running container is reviewed, and detection is not walked around, through a
//! real API server with its controllers: a member of an ML team (impersonated with `--as`, with a
//! Role that grants workloads, Pods and the aims records in their namespace) tries each way in.
//!
//! * ReplicaSets and ReplicationControllers made directly are judged like Deployments.
//! * A Pod whose owner reference names an unreviewed kind (a ConfigMap), or a reviewed kind it
//!   was not created by, is judged like a bare Pod; the Pods the control plane's controllers
//!   create for a reviewed owner are not (a Deployment in a Deny namespace still gets its Pods).
//! * An ephemeral container added to an approved Pod (what `kubectl debug` does) is judged with
//!   the Pod.
//! * `aims scan` lists a model Pod whose owner is not reviewed.
//! * In a namespace labelled `aims.dev/unregistered: Deny`: a DRA resource claim, a serving
//!   command under a renamed image, and a copy of a registered system's declared image are denied.

mod support;

use std::{process::Output, sync::OnceLock, time::Duration};

use aims_testenv::ControlPlane;
use support::{
    apply, cluster, eventually, kubectl, kubectl_stdin, namespace, ok,
    operator::Operator,
    records::{IMAGE, apply_records},
    refused, stderr, stdout,
};

const OPERATOR_NS: &str = "aims-system";
const WAIT: Duration = Duration::from_secs(30);
/// The ML-team member every attack is made as.
const MEMBER: &str = "--as=mallory";
/// A vLLM image pinned by digest: it passes no approval it is not in the scope of.
const VLLM: &str =
    "vllm/vllm-openai@sha256:7777777777777777777777777777777777777777777777777777777777777777";

fn operator() -> &'static Operator {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        let cp = cluster();
        let op = Operator::start(cp, OPERATOR_NS, "operator-paths");
        op.register_webhooks(cp);
        op
    })
}

/// Namespace `ns` for the ML team: `mallory` may manage its workloads, Pods (ephemeral
/// containers included) and aims records, as the README's ML-team role does; `alice`, an
/// approver, may approve its assessments.
fn team_namespace(cp: &ControlPlane, ns: &str, unregistered: Option<&str>) {
    namespace(cp, ns);
    if let Some(policy) = unregistered {
        ok(kubectl(
            cp,
            &[
                "label",
                "namespace",
                ns,
                &format!("aims.dev/unregistered={policy}"),
                "--overwrite",
            ],
        ));
    }
    ok(apply(
        cp,
        &format!(
            r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: ml-team, namespace: {ns}}}
rules:
  - apiGroups: [apps]
    resources: [deployments, replicasets, statefulsets, daemonsets, deployments/scale, replicasets/scale]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [""]
    resources: [pods, pods/ephemeralcontainers, replicationcontrollers, replicationcontrollers/scale, configmaps]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [batch]
    resources: [jobs, cronjobs]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [aims.dev]
    resources: [aisystems, riskassessments, controlbindings]
    verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: ml-team, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: ml-team}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: mallory}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: approver, namespace: {ns}}}
rules:
  - apiGroups: [aims.dev]
    resources: [riskassessments]
    verbs: [get, list, watch, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: approver, namespace: {ns}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: approver}}
subjects:
  - {{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}}
"#
        ),
    ));
}

/// Makes ConfigMap `name` of `ns` as the team member; returns its uid.
fn config_map(cp: &ControlPlane, ns: &str, name: &str) -> String {
    ok(apply_as_member(
        cp,
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\n"),
    ));
    ok(kubectl(
        cp,
        &[
            "-n",
            ns,
            "get",
            "configmap",
            name,
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    ))
}

/// `kubectl apply` of `manifest` as the team member.
fn apply_as_member(cp: &ControlPlane, manifest: &str) -> Output {
    kubectl_stdin(cp, &["apply", "-f", "-", MEMBER], manifest)
}

/// Waits until applying `manifest` as the member is refused saying `says`: the operator's stores
/// see records applied just before within moments.
async fn eventually_refused(cp: &ControlPlane, manifest: &str, says: &str) {
    let last = eventually(WAIT, &format!("a refusal saying {says:?}"), || async {
        let out = apply_as_member(cp, manifest);
        (!out.status.success() && stderr(&out).contains(says)).then_some(out)
    })
    .await;
    refused(&last, says);
}

/// A pod template running `image` with the `aims.dev/system: scoring` label on the object only.
fn templated(kind: &str, api_version: &str, ns: &str, name: &str, image: &str) -> String {
    let selector = if kind == "ReplicationController" {
        format!("{{app: {name}}}")
    } else {
        format!("{{matchLabels: {{app: {name}}}}}")
    };
    format!(
        r#"
apiVersion: {api_version}
kind: {kind}
metadata: {{name: {name}, namespace: {ns}, labels: {{aims.dev/system: scoring}}}}
spec:
  replicas: 1
  selector: {selector}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: main
          image: "{image}"
          resources: {{requests: {{cpu: 100m}}}}
"#
    )
}

/// A bare Pod running `containers` (YAML flow sequence), with extra `metadata` entries.
fn pod(ns: &str, name: &str, metadata: &str, spec: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}{metadata}}}
spec: {spec}
"#
    )
}

#[tokio::test]
async fn replica_sets_and_replication_controllers_made_directly_are_judged() {
    let cp = cluster();
    operator();
    let ns = "paths-rs";
    team_namespace(cp, ns, None);
    apply_records(cp, ns, "Enforce").await;
    for (kind, api_version) in [("ReplicaSet", "apps/v1"), ("ReplicationController", "v1")] {
        let out = apply_as_member(cp, &templated(kind, api_version, ns, "direct", IMAGE));
        refused(
            &out,
            "admission webhook \"workloads.aims.dev\" denied the request",
        );
        refused(&out, &format!("{kind}/direct is denied"));
        refused(&out, "A.6.2.5 (Enforce): not approved");
    }
    assert!(
        ok(kubectl(cp, &["-n", ns, "get", "pods", "-o", "name"]))
            .trim()
            .is_empty(),
        "no Pod was created"
    );

    // Unregistered, in a Deny namespace.
    let deny = "paths-rs-deny";
    team_namespace(cp, deny, Some("Deny"));
    for (kind, api_version) in [("ReplicaSet", "apps/v1"), ("ReplicationController", "v1")] {
        let shadow = templated(kind, api_version, deny, "shadow", VLLM)
            .replace("labels: {aims.dev/system: scoring}", "labels: {}");
        eventually_refused(cp, &shadow, "unregistered model workload: runs vLLM").await;
    }
}

#[tokio::test]
async fn pods_the_controllers_create_for_a_reviewed_owner_are_admitted_and_no_other_owned_pod_is() {
    let cp = cluster();
    operator();
    let ns = "paths-owned";
    team_namespace(cp, ns, Some("Deny"));
    // The system's bindings only audit, so its Deployment is admitted. Its ReplicaSet and Pods
    // carry no system label (the Deployment's label is on the object, not the template): judged
    // as themselves they would be unregistered vLLM in a Deny namespace.
    apply_records(cp, ns, "Audit").await;
    let deployment = templated("Deployment", "apps/v1", ns, "served", VLLM);
    ok(apply_as_member(cp, &deployment));
    eventually(WAIT, "the Deployment's Pod to be created", || async {
        let out = kubectl(
            cp,
            &["-n", ns, "get", "pods", "-l", "app=served", "-o", "name"],
        );
        (!stdout(&out).trim().is_empty()).then_some(())
    })
    .await;

    let containers = format!(r#"{{containers: [{{name: llm, image: "{VLLM}"}}]}}"#);
    // An owner that is not reviewed: judged like a bare Pod.
    let uid = config_map(cp, ns, "cover");
    let by_config_map = pod(
        ns,
        "by-config-map",
        &format!(
            ", ownerReferences: [{{apiVersion: v1, kind: ConfigMap, name: cover, uid: {uid}, controller: true}}]"
        ),
        &containers,
    );
    let out = apply_as_member(cp, &by_config_map);
    refused(
        &out,
        "admission webhook \"pods.aims.dev\" denied the request",
    );
    refused(&out, "Pod/by-config-map is denied");
    refused(&out, "unregistered model workload: runs vLLM");

    // A reviewed owner kind that did not create it: the real ReplicaSet's uid, and a made-up one.
    let rs = ok(kubectl(
        cp,
        &[
            "-n",
            ns,
            "get",
            "replicasets",
            "-l",
            "app=served",
            "-o",
            "jsonpath={.items[0].metadata.name} {.items[0].metadata.uid}",
        ],
    ));
    let (rs_name, rs_uid) = rs
        .trim()
        .split_once(' ')
        .expect("the Deployment's ReplicaSet");
    for (name, uid) in [
        (rs_name, rs_uid),
        ("invented", "0b9a4c2e-1111-4222-8333-444455556666"),
    ] {
        let claimed = pod(
            ns,
            "claims-a-replica-set",
            &format!(
                ", labels: {{app: served}}, ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: {name}, uid: {uid}, controller: true}}]"
            ),
            &containers,
        );
        let out = apply_as_member(cp, &claimed);
        refused(&out, "Pod/claims-a-replica-set is denied");
        refused(&out, "unregistered model workload");
    }
}

#[tokio::test]
async fn an_ephemeral_container_added_to_an_approved_pod_is_judged_with_it() {
    let cp = cluster();
    operator();
    let ns = "paths-debug";
    team_namespace(cp, ns, None);
    apply_records(cp, ns, "Enforce").await;
    ok(kubectl(
        cp,
        &[
            "-n",
            ns,
            "patch",
            "riskassessment",
            "scoring-v1",
            "--type",
            "json",
            "-p",
            r#"[{"op":"add","path":"/spec/approvals","value":[{"decision":"Approve","comment":"ok"}]}]"#,
            "--as=alice",
            "--as-group=aims:reviewers",
        ],
    ));
    let approved = pod(
        ns,
        "scorer",
        ", labels: {aims.dev/system: scoring}",
        &format!(
            r#"{{containers: [{{name: scorer, image: "{IMAGE}", resources: {{requests: {{cpu: 100m}}}}}}]}}"#
        ),
    );
    eventually(WAIT, "the approved Pod to be admitted", || async {
        apply_as_member(cp, &approved)
            .status
            .success()
            .then_some(())
    })
    .await;

    // What `kubectl debug --image` sends: the Pod with one more ephemeral container.
    let debug = |image: &str| {
        kubectl(
            cp,
            &[
                "-n",
                ns,
                "patch",
                "pod",
                "scorer",
                "--subresource=ephemeralcontainers",
                "--type=strategic",
                "-p",
                &format!(
                    r#"{{"spec":{{"ephemeralContainers":[{{"name":"debugger","image":"{image}","command":["vllm","serve","m"],"targetContainerName":"scorer"}}]}}}}"#
                ),
                MEMBER,
            ],
        )
    };
    let out = debug(VLLM);
    refused(
        &out,
        "admission webhook \"pods.aims.dev\" denied the request",
    );
    refused(&out, "A.6.2.5 (Enforce)");
    refused(&out, &format!("image {VLLM} is not in the approved scope"));
    let ephemeral = ok(kubectl(
        cp,
        &[
            "-n",
            ns,
            "get",
            "pod",
            "scorer",
            "-o",
            "jsonpath={.spec.ephemeralContainers}",
        ],
    ));
    assert!(ephemeral.trim().is_empty(), "{ephemeral}");
}

#[tokio::test]
async fn scan_finds_owned_pods_of_unreviewed_owners_replica_sets_and_copies_of_declared_models() {
    let cp = cluster();
    operator();
    let ns = "paths-scan";
    team_namespace(cp, ns, Some("Audit"));
    // A real owner, so that the garbage collector keeps the Pod.
    let uid = config_map(cp, ns, "cover");
    ok(apply_as_member(
        cp,
        &pod(
            ns,
            "owned-llm",
            &format!(
                ", ownerReferences: [{{apiVersion: v1, kind: ConfigMap, name: cover, uid: {uid}, controller: true}}]"
            ),
            &format!(r#"{{containers: [{{name: llm, image: "{VLLM}"}}]}}"#),
        ),
    ));
    ok(apply(cp, &declaring_system(ns)));
    ok(apply_as_member(cp, &copy_of_declared(ns)));
    // A ReplicaSet and a ReplicationController made directly are workloads of their own (their
    // Pods are theirs, and not listed).
    for (kind, api_version) in [("ReplicaSet", "apps/v1"), ("ReplicationController", "v1")] {
        let shadow = templated(kind, api_version, ns, "shadow", VLLM)
            .replace("labels: {aims.dev/system: scoring}", "labels: {}");
        ok(apply_as_member(cp, &shadow));
    }
    let rows = eventually(WAIT, "aims scan to list all four", || async {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_aims"))
            .args(["scan", "-A", "-o", "json"])
            .env("KUBECONFIG", cp.kubeconfig())
            .output()
            .unwrap();
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        let mine: Vec<serde_json::Value> = rows
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["namespace"] == ns)
            .cloned()
            .collect();
        (mine.len() == 4).then_some(mine)
    })
    .await;
    assert_eq!(rows[0]["workload"], "Deployment/copy", "{rows:#?}");
    assert!(
        rows[0]["reasons"].to_string().contains(&format!(
            "runs {IMAGE}, which AISystem chat declares in spec.models"
        )),
        "{rows:#?}"
    );
    assert_eq!(rows[1]["workload"], "Pod/owned-llm", "{rows:#?}");
    assert!(
        rows[1]["reasons"].to_string().contains("runs vLLM"),
        "{rows:#?}"
    );
    assert_eq!(rows[2]["workload"], "ReplicaSet/shadow", "{rows:#?}");
    assert_eq!(
        rows[3]["workload"], "ReplicationController/shadow",
        "{rows:#?}"
    );
}

/// An AISystem `chat` that declares [`IMAGE`] as its model.
fn declaring_system(ns: &str) -> String {
    format!(
        r#"
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata: {{name: chat, namespace: {ns}}}
spec:
  purpose: Answer customers' questions.
  riskTier: Limited
  owner: {{name: sam, contact: sam@example.com}}
  models:
    - name: scorer
      artifact: {{image: "{IMAGE}"}}
"#
    )
}

/// An unlabelled Deployment running [`IMAGE`] and nothing that looks like model serving.
fn copy_of_declared(ns: &str) -> String {
    templated("Deployment", "apps/v1", ns, "copy", IMAGE)
        .replace("labels: {aims.dev/system: scoring}", "labels: {}")
}

#[tokio::test]
async fn detection_is_not_walked_around_in_a_deny_namespace() {
    let cp = cluster();
    operator();
    let ns = "paths-walk";
    team_namespace(cp, ns, Some("Deny"));
    let deployment = |name: &str, pod_spec: &str| {
        format!(
            r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {pod_spec}
"#
        )
    };
    // A GPU through a DRA resource claim, no extended resource.
    let claim = deployment(
        "dra",
        r#"{resourceClaims: [{name: gpu, resourceClaimTemplateName: single-gpu}], containers: [{name: app, image: "registry.example.com/team/app:1", resources: {claims: [{name: gpu}]}}]}"#,
    );
    eventually_refused(
        cp,
        &claim,
        "requests devices through resource claim gpu (ResourceClaimTemplate single-gpu) in container app",
    )
    .await;
    // vLLM under a renamed image, started through a shell.
    let renamed = deployment(
        "renamed",
        r#"{containers: [{name: app, image: "registry.example.com/team/app:1", command: ["/bin/sh", "-c", "exec python -m vllm.entrypoints.openai.api_server --model /models/llama"]}]}"#,
    );
    eventually_refused(
        cp,
        &renamed,
        "runs vLLM (command `python -m vllm.entrypoints.openai.api_server` in container app)",
    )
    .await;
    // A copy of a registered system's declared model, next to the system.
    ok(apply(cp, &declaring_system(ns)));
    eventually_refused(
        cp,
        &copy_of_declared(ns),
        &format!("runs {IMAGE}, which AISystem chat declares in spec.models"),
    )
    .await;
    // And from another namespace, the system is named with its namespace.
    let other = "paths-walk-other";
    team_namespace(cp, other, Some("Deny"));
    eventually_refused(
        cp,
        &copy_of_declared(other),
        &format!("runs {IMAGE}, which AISystem {ns}/chat declares in spec.models"),
    )
    .await;
}
