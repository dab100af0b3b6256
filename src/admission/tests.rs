//! The webhook's HTTP layer in process: reviews in, answers out, through the router, with stores
//! filled from fixtures and no API server.

use std::sync::Arc;

use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode},
};
use kube::{
    Client,
    runtime::events::{Recorder, Reporter},
};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{Webhook, router};
use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment},
    cluster::{Stores, Synced, store_of},
    engine::{approval::SigningKey, catalog::Catalog, detect::Detector},
    telemetry::metrics::Metrics,
    testing::{DIGEST, Manifest, Review, System},
};

fn guarded<K>(v: Value) -> kube::core::DeserializeGuard<K>
where
    kube::core::DeserializeGuard<K>: serde::de::DeserializeOwned,
{
    serde_json::from_value(v).unwrap()
}

/// A client whose every call fails: nothing on the request path may need the API server.
fn offline_client() -> Client {
    let service = tower::service_fn(|_req: axum::http::Request<kube::client::Body>| async {
        Err::<axum::http::Response<kube::client::Body>, _>(std::io::Error::other(
            "no API server in this test",
        ))
    });
    Client::new(service, "default")
}

fn system(halt: bool) -> Value {
    System::scoring().halted_if(halt).json()
}

fn binding(enforcement: &str) -> Value {
    json!({
        "apiVersion": "aims.dev/v1alpha1", "kind": "ControlBinding",
        "metadata": {"name": "approvals", "namespace": "credit"},
        "spec": {"subjects": {}, "enforcement": enforcement, "controls": [{"id": "A.6.2.5"}]}
    })
}

fn hook(systems: Vec<Value>, bindings: Vec<Value>, synced: bool) -> Arc<Webhook> {
    hook_recording(systems, bindings, synced, crate::audit::Chain::discard())
}

/// [`hook`] recording its decisions into `chain`.
fn hook_recording(
    systems: Vec<Value>,
    bindings: Vec<Value>,
    synced: bool,
    chain: Arc<crate::audit::Chain>,
) -> Arc<Webhook> {
    let client = offline_client();
    let stores = Stores {
        systems: store_of(systems.into_iter().map(guarded::<AISystem>).collect()),
        assessments: store_of(Vec::<kube::core::DeserializeGuard<RiskAssessment>>::new()),
        bindings: store_of(
            bindings
                .into_iter()
                .map(guarded::<ControlBinding>)
                .collect(),
        ),
        cluster_bindings: store_of(
            Vec::<kube::core::DeserializeGuard<ClusterControlBinding>>::new(),
        ),
        namespaces: store_of(Vec::new()),
        deployments: store_of(vec![
            serde_json::from_value(deployment("scorer", 2)).unwrap(),
        ]),
        ..Stores::empty()
    };
    Arc::new(Webhook {
        recorder: Recorder::new(client, Reporter::from("aims-operator")),
        stores,
        catalog: Catalog::builtin(),
        detector: Detector::default(),
        key: SigningKey::new([9u8; 32]).unwrap(),
        metrics: Arc::new(Metrics::default()),
        synced: Synced::new(synced),
        policy: Default::default(),
        chain,
    })
}

fn deployment(name: &str, replicas: i32) -> Value {
    Manifest::deployment(name, &format!("r.example.com/scorer@sha256:{DIGEST}"))
        .namespace("credit")
        .system("scoring")
        .container("c")
        .without_requests()
        .replicas(replicas)
        .json()
}

fn review(
    kind: (&str, &str, &str),
    resource: &str,
    sub: Option<&str>,
    op: &str,
    object: Value,
    old: Value,
) -> Value {
    let name = object
        .pointer("/metadata/name")
        .cloned()
        .unwrap_or(json!("scorer"));
    let mut review = Review::update(object, old).kind(kind, resource);
    if kind.2 == "Scale" {
        // A scale request's kind is autoscaling/v1 Scale; its resource is the workload's.
        review = review.with(
            "resource",
            json!({"group": "apps", "version": "v1", "resource": resource}),
        );
    }
    review
        .with("operation", json!(op))
        .with("subResource", json!(sub))
        .with("name", name)
        .with("namespace", json!("credit"))
        .with("uid", json!("00000000-0000-0000-0000-000000000001"))
        .json()
}

/// `review` as made by `user` in `groups`.
fn by(mut review: Value, user: &str, groups: &[&str]) -> Value {
    review["request"]["userInfo"] = json!({"username": user, "groups": groups});
    review
}

/// A kube-controller-manager controller, as it acts with `--use-service-account-credentials`.
fn controller(review: Value, name: &str) -> Value {
    by(
        review,
        &format!("system:serviceaccount:kube-system:{name}"),
        &[
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
            "system:authenticated",
        ],
    )
}

/// A Pod of system `scoring` whose controller owner is `owner` (`apiVersion`, `kind`), with
/// `ephemeral` containers.
fn owned_pod(owner: Option<(&str, &str)>, ephemeral: Value) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "scorer-x1", "namespace": "credit", "labels": {"aims.dev/system": "scoring"}},
        "spec": {"containers": [{"name": "c", "image": format!("r.example.com/scorer@sha256:{DIGEST}")}],
                 "ephemeralContainers": ephemeral}
    });
    if let Some((api_version, kind)) = owner {
        pod["metadata"]["ownerReferences"] = json!([{"apiVersion": api_version, "kind": kind,
            "name": "owner", "uid": "00000000-0000-0000-0000-000000000009", "controller": true}]);
    }
    pod
}

/// A ReplicaSet of system `scoring`, controlled by a Deployment when `owned`.
fn replica_set(owned: bool) -> Value {
    let mut rs = deployment("scorer-5d8f", 1);
    rs["kind"] = json!("ReplicaSet");
    if owned {
        rs["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment",
            "name": "scorer", "uid": "00000000-0000-0000-0000-000000000010", "controller": true}]);
    }
    rs
}

fn scale(replicas: i32) -> Value {
    json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
           "metadata": {"name": "scorer", "namespace": "credit"}, "spec": {"replicas": replicas}})
}

async fn post(hook: Arc<Webhook>, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = router(hook)
        .oneshot(
            Request::post(path)
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

struct Case {
    name: &'static str,
    hook: Arc<Webhook>,
    path: &'static str,
    body: Vec<u8>,
    allowed: bool,
    says: &'static str,
}

/// A standard output whose writes wait while it is shut: a log pipeline that reads late.
#[derive(Clone, Default)]
struct LateOutput {
    written: Arc<std::sync::Mutex<Vec<u8>>>,
    shut: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl LateOutput {
    fn set(&self, shut: bool) {
        *self.shut.0.lock().unwrap() = shut;
        self.shut.1.notify_all();
    }
}

impl std::io::Write for LateOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (lock, open) = &*self.shut;
        let _open = open.wait_while(lock.lock().unwrap(), |shut| *shut).unwrap();
        self.written.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Standard output read late holds up no answer: the webhook only queues each decision's record
/// (on this one-thread runtime, a write to standard output on the request's path would stop every
/// answer). Once it is read, every record is there, in a chain that verifies.
#[tokio::test]
async fn a_standard_output_read_late_holds_up_no_answer() {
    let out = LateOutput::default();
    let chain = crate::audit::Chain::start("aims-operator-0", None, Box::new(out.clone()));
    out.set(true);
    let hook = hook_recording(vec![system(false)], vec![binding("Enforce")], true, chain);
    let body = serde_json::to_vec(&review(
        ("apps", "v1", "Deployment"),
        "deployments",
        None,
        "CREATE",
        deployment("scorer2", 1),
        Value::Null,
    ))
    .unwrap();
    for _ in 0..100 {
        let (status, answer) = post(hook.clone(), "/validate/workloads", body.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["response"]["allowed"], false, "{answer:#}");
    }
    out.set(false);
    hook.chain.close();
    let text = String::from_utf8(out.written.lock().unwrap().clone()).unwrap();
    let verified = crate::engine::chain::verify(text.lines(), None);
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    let decisions = verified
        .records
        .iter()
        .filter(|r| r.event == super::decision_log::EVENT)
        .count();
    assert_eq!(decisions, 100);
}

#[tokio::test]
async fn answers() {
    let apps = ("apps", "v1", "Deployment");
    let pod = ("", "v1", "Pod");
    let json = |v: Value| serde_json::to_vec(&v).unwrap();
    let cases = vec![
        Case {
            name: "an unapproved Deployment of an enforced system is denied with the control",
            hook: hook(vec![system(false)], vec![binding("Enforce")], true),
            path: "/validate/workloads",
            body: json(review(
                apps,
                "deployments",
                None,
                "CREATE",
                deployment("scorer2", 1),
                Value::Null,
            )),
            allowed: false,
            says: "A.6.2.5 (Enforce)",
        },
        Case {
            name: "at Warn it is admitted with warnings",
            hook: hook(vec![system(false)], vec![binding("Warn")], true),
            path: "/validate/workloads",
            body: json(review(
                apps,
                "deployments",
                None,
                "CREATE",
                deployment("scorer2", 1),
                Value::Null,
            )),
            allowed: true,
            says: "Deployment/scorer2: A.6.2.5 (Warn)",
        },
        Case {
            name: "at Audit it is admitted silently",
            hook: hook(vec![system(false)], vec![binding("Audit")], true),
            path: "/validate/workloads",
            body: json(review(
                apps,
                "deployments",
                None,
                "CREATE",
                deployment("scorer2", 1),
                Value::Null,
            )),
            allowed: true,
            says: "",
        },
        Case {
            name: "a halted system denies a scale-up through the scale subresource",
            hook: hook(vec![system(true)], vec![], true),
            path: "/validate/workloads",
            body: json(review(
                ("autoscaling", "v1", "Scale"),
                "deployments",
                Some("scale"),
                "UPDATE",
                scale(3),
                scale(0),
            )),
            allowed: false,
            says: "halted by an overseer (drift)",
        },
        Case {
            name: "a halted system admits the halt's scale-down",
            hook: hook(vec![system(true)], vec![], true),
            path: "/validate/workloads",
            body: json(review(
                ("autoscaling", "v1", "Scale"),
                "deployments",
                Some("scale"),
                "UPDATE",
                scale(0),
                scale(2),
            )),
            allowed: true,
            says: "",
        },
        Case {
            name: "a Pod a ReplicaSet controls, written by its controller, is its owner's",
            hook: hook(vec![system(false)], vec![binding("Enforce")], true),
            path: "/validate/workloads",
            body: json(controller(
                review(
                    pod,
                    "pods",
                    None,
                    "CREATE",
                    owned_pod(Some(("apps/v1", "ReplicaSet")), json!([])),
                    Value::Null,
                ),
                "replicaset-controller",
            )),
            allowed: true,
            says: "",
        },
        Case {
            name: "the same Pod written by anyone else is judged as itself",
            hook: hook(vec![system(false)], vec![binding("Enforce")], true),
            path: "/validate/workloads",
            body: json(review(
                pod,
                "pods",
                None,
                "CREATE",
                owned_pod(Some(("apps/v1", "ReplicaSet")), json!([])),
                Value::Null,
            )),
            allowed: false,
            says: "Pod/scorer-x1 is denied",
        },
        Case {
            name: "a Pod a ConfigMap controls is judged as itself, whoever writes it",
            hook: hook(vec![system(false)], vec![binding("Enforce")], true),
            path: "/validate/workloads",
            body: json(controller(
                review(
                    pod,
                    "pods",
                    None,
                    "CREATE",
                    owned_pod(Some(("v1", "ConfigMap")), json!([])),
                    Value::Null,
                ),
                "replicaset-controller",
            )),
            allowed: false,
            says: "A.6.2.5 (Enforce)",
        },
        Case {
            name: "an ephemeral container is judged with its Pod, even on a controller's Pod",
            hook: hook(vec![system(false)], vec![binding("Enforce")], true),
            path: "/validate/workloads",
            body: json(controller(
                review(
                    pod,
                    "pods",
                    Some("ephemeralcontainers"),
                    "UPDATE",
                    owned_pod(
                        Some(("apps/v1", "ReplicaSet")),
                        json!([{"name": "debugger", "image": "vllm/vllm-openai:v0.9.1"}]),
                    ),
                    owned_pod(Some(("apps/v1", "ReplicaSet")), json!([])),
                ),
                "replicaset-controller",
            )),
            allowed: false,
            // Not skipped as the controller's own write of its Pod is (the first case).
            says: "Pod/scorer-x1 is denied",
        },
        Case {
            name: "a ReplicaSet made directly is judged like a Deployment",
            hook: hook(vec![system(false)], vec![binding("Enforce")], true),
            path: "/validate/workloads",
            body: json(review(
                ("apps", "v1", "ReplicaSet"),
                "replicasets",
                None,
                "CREATE",
                replica_set(false),
                Value::Null,
            )),
            allowed: false,
            says: "ReplicaSet/scorer-5d8f is denied",
        },
        Case {
            name: "a Deployment's ReplicaSet, written by the Deployment controller, is the Deployment's",
            hook: hook(vec![system(false)], vec![binding("Enforce")], true),
            path: "/validate/workloads",
            body: json(controller(
                review(
                    ("apps", "v1", "ReplicaSet"),
                    "replicasets",
                    None,
                    "CREATE",
                    replica_set(true),
                    Value::Null,
                ),
                "deployment-controller",
            )),
            allowed: true,
            says: "",
        },
        Case {
            name: "a kind the engine does not govern is admitted",
            hook: hook(vec![], vec![], true),
            path: "/validate/workloads",
            body: json(review(
                ("", "v1", "ConfigMap"),
                "configmaps",
                None,
                "CREATE",
                json!({"metadata": {"name": "x"}}),
                Value::Null,
            )),
            allowed: true,
            says: "",
        },
        Case {
            name: "a Deployment whose spec has the wrong shape is denied, naming the field",
            hook: hook(vec![system(false)], vec![], true),
            path: "/validate/workloads",
            body: json(review(
                apps,
                "deployments",
                None,
                "CREATE",
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": "three"}}),
                Value::Null,
            )),
            allowed: false,
            says: "spec.replicas",
        },
        Case {
            name: "before the stores sync every request is refused, to be retried",
            hook: hook(vec![system(false)], vec![], false),
            path: "/validate/workloads",
            body: json(review(
                apps,
                "deployments",
                None,
                "CREATE",
                deployment("scorer2", 1),
                Value::Null,
            )),
            allowed: false,
            says: "still loading",
        },
        Case {
            name: "garbage gets a well-formed refusal",
            hook: hook(vec![], vec![], true),
            path: "/validate/workloads",
            body: b"\x00garbage".to_vec(),
            allowed: false,
            says: "not JSON",
        },
        Case {
            name: "a huge body gets a well-formed refusal",
            hook: hook(vec![], vec![], true),
            path: "/validate/records",
            body: vec![b' '; super::review::MAX_BODY + 1],
            allowed: false,
            says: "larger than",
        },
        Case {
            name: "a record that does not read is refused, naming the field",
            hook: hook(vec![], vec![], true),
            path: "/validate/records",
            body: json(review(
                ("aims.dev", "v1alpha1", "AISystem"),
                "aisystems",
                None,
                "CREATE",
                json!({"apiVersion": "aims.dev/v1alpha1", "kind": "AISystem", "metadata": {"name": "x"}, "spec": {"riskTier": 3}}),
                Value::Null,
            )),
            allowed: false,
            says: "spec",
        },
    ];
    for case in cases {
        let (status, answer) = post(case.hook, case.path, case.body).await;
        assert_eq!(status, StatusCode::OK, "{}", case.name);
        assert_eq!(answer["kind"], "AdmissionReview", "{}", case.name);
        let response = &answer["response"];
        assert_eq!(
            response["allowed"],
            json!(case.allowed),
            "{}: {answer:#}",
            case.name
        );
        let text = format!(
            "{}\n{}",
            response["status"]["message"], response["warnings"]
        );
        assert!(text.contains(case.says), "{}: {answer:#}", case.name);
    }
}

fn assessment(extra: Value) -> Value {
    let mut spec = json!({
        "systemRef": {"name": "scoring"},
        "scope": {"artifacts": [{"image": format!("r.example.com/scorer@sha256:{DIGEST}")}]},
        "criteria": {"acceptanceThreshold": 6},
        "risks": [{"id": "R1", "title": "Bias", "source": "Fairness", "likelihood": 3, "severity": 3,
                   "treatment": "Mitigate"}],
        "impactAssessment": {"affectedGroups": ["Applicants"], "completedOn": "2026-01-01"},
        "validFor": "30d"
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({"apiVersion": "aims.dev/v1alpha1", "kind": "RiskAssessment",
           "metadata": {"name": "scoring-v1", "namespace": "credit"}, "spec": spec})
}

/// The JSON patch of an answer, decoded.
fn patch_of(answer: &Value) -> Value {
    let bytes: Vec<u8> =
        serde_json::from_value(answer["response"]["patch"].clone()).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

#[tokio::test]
async fn records() {
    let ra = ("aims.dev", "v1alpha1", "RiskAssessment");
    let json = |v: Value| serde_json::to_vec(&v).unwrap();

    // The submitter is stamped from the request, whatever the client wrote.
    let body = json(review(
        ra,
        "riskassessments",
        None,
        "CREATE",
        assessment(json!({"submittedBy": "mallory"})),
        Value::Null,
    ));
    let (_, answer) = post(
        hook(vec![system(false)], vec![], true),
        "/mutate/riskassessments",
        body,
    )
    .await;
    assert_eq!(answer["response"]["allowed"], json!(true), "{answer:#}");
    let patch = patch_of(&answer);
    assert_eq!(
        patch[0],
        json!({"op": "add", "path": "/spec/submittedBy", "value": "dev"}),
        "{answer:#}"
    );
    // ... and the record of who submitted it is signed.
    assert_eq!(patch[1]["path"], json!("/spec/recordStamp"), "{answer:#}");
    assert_eq!(
        patch[1]["value"]["signature"].as_str().map(str::len),
        Some(64),
        "{answer:#}"
    );

    // An approval written at create is refused: its author would approve their own submission.
    let body = json(review(
        ra,
        "riskassessments",
        None,
        "CREATE",
        assessment(json!({"approvals": [{"decision": "Approve"}]})),
        Value::Null,
    ));
    let (_, answer) = post(
        hook(vec![system(false)], vec![], true),
        "/mutate/riskassessments",
        body,
    )
    .await;
    assert_eq!(answer["response"]["allowed"], json!(false), "{answer:#}");

    // A new approval by another user is stamped and signed, on an assessment whose record of who
    // submitted it the operator signed when it was created.
    let mut old = assessment(json!({"submittedBy": "sam"}));
    old["metadata"]["uid"] = json!("6f1c2d3e-0001");
    old["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    let typed: crate::api::RiskAssessment = serde_json::from_value(old.clone()).unwrap();
    let record = crate::engine::approval::record_stamp_of(
        &SigningKey::new([9u8; 32]).unwrap(),
        &typed,
        "2026-01-01T00:00:00Z".parse().unwrap(),
    );
    old["spec"]["recordStamp"] = serde_json::to_value(&record).unwrap();
    let mut unsigned = old.clone();
    unsigned["spec"]
        .as_object_mut()
        .map(|s| s.remove("recordStamp"));
    let mut new = old.clone();
    new["spec"]["approvals"] = json!([{"decision": "Approve", "comment": "ok"}]);
    let body = json(review(
        ra,
        "riskassessments",
        None,
        "UPDATE",
        new.clone(),
        old,
    ));
    let (_, answer) = post(
        hook(vec![system(false)], vec![], true),
        "/mutate/riskassessments",
        body,
    )
    .await;
    assert_eq!(answer["response"]["allowed"], json!(true), "{answer:#}");
    let patch = patch_of(&answer);
    assert_eq!(
        patch[0]["path"],
        json!("/spec/approvals/0/stamp"),
        "{answer:#}"
    );
    assert_eq!(patch[0]["value"]["user"], json!("dev"), "{answer:#}");
    assert_eq!(
        patch[0]["value"]["signature"].as_str().map(str::len),
        Some(64),
        "{answer:#}"
    );

    // Without that record, no decision is taken, and the refusal says what to do.
    new["spec"].as_object_mut().map(|s| s.remove("recordStamp"));
    let body = json(review(ra, "riskassessments", None, "UPDATE", new, unsigned));
    let (_, answer) = post(
        hook(vec![system(false)], vec![], true),
        "/mutate/riskassessments",
        body,
    )
    .await;
    assert_eq!(answer["response"]["allowed"], json!(false), "{answer:#}");
    let message = answer["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("re-create the assessment"), "{message}");

    // Bindings name known controls.
    let mut cb = binding("Enforce");
    cb["spec"]["controls"] = json!([{"id": "A.6.2.50"}]);
    let body = json(review(
        ("aims.dev", "v1alpha1", "ControlBinding"),
        "controlbindings",
        None,
        "CREATE",
        cb,
        Value::Null,
    ));
    let (_, answer) = post(hook(vec![], vec![], true), "/validate/records", body).await;
    assert_eq!(answer["response"]["allowed"], json!(false), "{answer:#}");
    let message = answer["response"]["status"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("spec.controls[0].id") && message.contains("did you mean A.6.2.5?"),
        "{message}"
    );

    // Only an overseer clears a halt.
    let sys = ("aims.dev", "v1alpha1", "AISystem");
    let body = json(review(
        sys,
        "aisystems",
        None,
        "UPDATE",
        system(false),
        system(true),
    ));
    let (_, answer) = post(
        hook(vec![system(true)], vec![], true),
        "/validate/records",
        body,
    )
    .await;
    assert_eq!(answer["response"]["allowed"], json!(false), "{answer:#}");
    assert!(
        answer["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("olga"),
        "{answer:#}"
    );
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    /// A valid review to mutate.
    fn seed() -> Value {
        review(
            ("apps", "v1", "Deployment"),
            "deployments",
            None,
            "CREATE",
            deployment("scorer2", 1),
            Value::Null,
        )
    }

    /// Replaces the value at one of the review's JSON pointers with `with`.
    fn mutate(mut v: Value, pointer: &str, with: Value) -> Value {
        if let Some(slot) = v.pointer_mut(pointer) {
            *slot = with;
        }
        v
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    const POINTERS: &[&str] = &[
        "/request",
        "/request/uid",
        "/request/kind",
        "/request/kind/kind",
        "/request/operation",
        "/request/userInfo",
        "/request/object",
        "/request/object/metadata",
        "/request/object/spec",
        "/request/object/spec/replicas",
        "/request/object/spec/template/spec/containers",
        "/request/object/spec/template/spec/containers/0/image",
        "/request/oldObject",
        "/request/subResource",
    ];

    const PATHS: &[&str] = &[
        "/validate/workloads",
        "/validate/records",
        "/mutate/riskassessments",
    ];

    fn answer_is_well_formed(path: &str, body: Vec<u8>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // The client inside the hook needs the runtime.
        let (status, answer) = runtime.block_on(async {
            post(
                hook(vec![system(false)], vec![binding("Enforce")], true),
                path,
                body,
            )
            .await
        });
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["kind"], "AdmissionReview");
        assert!(answer["response"]["allowed"].is_boolean(), "{answer:#}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any bytes get a well-formed answer.
        #[test]
        fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512), path in 0..PATHS.len()) {
            answer_is_well_formed(PATHS[path], body);
        }

        /// A review with any part replaced by any JSON gets a well-formed answer.
        #[test]
        fn mutated_reviews(pointer in 0..POINTERS.len(), with in any_json(), path in 0..PATHS.len()) {
            let body = serde_json::to_vec(&mutate(seed(), POINTERS[pointer], with)).unwrap();
            answer_is_well_formed(PATHS[path], body);
        }

        /// A valid review cut short anywhere gets a well-formed answer.
        #[test]
        fn truncated_reviews(cut in 0usize..2000, path in 0..PATHS.len()) {
            let body = serde_json::to_vec(&seed()).unwrap();
            let cut = cut.min(body.len());
            answer_is_well_formed(PATHS[path], body[..cut].to_vec());
        }
    }
}
