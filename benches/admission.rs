//! The admission webhook's handler in process: an AdmissionReview for a Deployment CREATE posted
//! through the axum router (body read, review decoded, verdict from the stores, answer encoded,
//! metrics and decision log), with stores holding a namespace of 20 AISystems, their 20 signed
//! RiskAssessments, 200 Deployments and an Enforce ControlBinding. No TLS, no network.
//!
//! The decision log is written as the chart configures it (JSON lines), into a sink, by the
//! records' writer thread (what that costs, and what it cost the runtime's thread before, is
//! `decision record`). Each case is measured twice: warm, review after review, and cold, with the caches evicted before each review,
//! as when the webhook is called between creates through the API server, whose work and etcd's
//! have just had the machine.
//!
//! Also what each create costs the operator's watches: reading the Deployment's watch event, as
//! the stores keep it, against reading it whole.

use std::sync::Arc;

use axum::{
    body::{Body, to_bytes},
    http::Request,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use kube::{
    Client,
    runtime::events::{Recorder, Reporter},
};
use serde_json::{Value, json};

#[path = "../tests/support/api_defaults.rs"]
mod api_defaults;
use tower::ServiceExt;

use aims_operator::{
    admission::{Webhook, router},
    api::RiskAssessment,
    cluster::{Stores, Synced, store_of},
    engine::{approval::SigningKey, catalog::Catalog, detect::Detector},
    telemetry::metrics::Metrics,
    testing::{self, Review},
};

const NS: &str = "credit";
const SYSTEMS: usize = 20;
const DEPLOYMENTS_PER_SYSTEM: usize = 10;

fn image(i: usize) -> String {
    format!(
        "registry.example.com/credit/model-{i}@sha256:{:064x}",
        i + 1
    )
}

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// A client whose every call fails: nothing on the request path may need the API server.
fn offline_client() -> Client {
    let service = tower::service_fn(|_req: axum::http::Request<kube::client::Body>| async {
        Err::<axum::http::Response<kube::client::Body>, _>(std::io::Error::other(
            "no API server in this benchmark",
        ))
    });
    Client::new(service, "default")
}

fn system(i: usize) -> Value {
    json!({
        "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
        "metadata": {"name": format!("system-{i}"), "namespace": NS},
        "spec": {
            "purpose": "Score loan applications", "riskTier": "Limited",
            "owner": {"name": "ana", "contact": "ana@example.com"}, "team": "credit",
            "oversight": {"overseers": [{"name": "olga"}]},
            "models": [{"name": "m", "version": "1", "artifact": {"image": image(i)}}]
        }
    })
}

/// The system's assessment, approved once by a member of `risk`, signed with `key`.
fn assessment(i: usize, key: &SigningKey) -> RiskAssessment {
    let name = format!("system-{i}-v1");
    let ra: RiskAssessment = from(json!({
        "apiVersion": "aims.dev/v1alpha1", "kind": "RiskAssessment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "systemRef": {"name": format!("system-{i}")},
            "scope": {"artifacts": [{"image": image(i)}]},
            "risks": (0..5).map(|r| json!({"id": format!("R{r}"), "title": "t", "source": "Fairness", "likelihood": 2, "severity": 2, "treatment": "Mitigate"})).collect::<Vec<_>>(),
            "impactAssessment": {"affectedGroups": ["applicants"], "completedOn": "2026-05-20"},
            "submittedBy": "sam", "validFor": "365d"
        }
    }));
    // Submitted, as the webhook signs it at create, and approved an hour ago by rita.
    let at = Timestamp::now() - SignedDuration::from_hours(1);
    testing::approved_by(key, ra, &["rita"], &["risk"], at)
}

fn deployment(name: &str, system: usize, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"aims.dev/system": format!("system-{system}"), "app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "server", "image": image,
                    "args": ["--port=8080", "--model-dir=/models"],
                    "env": [{"name": "LOG_LEVEL", "value": "info"}],
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
                }]}}
        }
    })
}

/// The same model server as [`deployment`], run by a LeaderWorkerSet of a leader and a worker: a
/// custom kind, read by the paths of its row.
fn leader_worker_set(name: &str, system: usize, image: &str) -> Value {
    let template = deployment(name, system, image)["spec"]["template"].clone();
    json!({
        "apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
        "metadata": {"name": name, "namespace": NS, "uid": "6f1c1f8e-8d5b-4f57-9f0e-3a1c2b7d9e11",
            "generation": 1, "creationTimestamp": "2026-11-24T10:00:00Z",
            "labels": {"aims.dev/system": format!("system-{system}"), "app": name}},
        "spec": {"replicas": 2, "leaderWorkerTemplate": {
            "size": 2, "leaderTemplate": template.clone(), "workerTemplate": template}}
    })
}

fn hook() -> Arc<Webhook> {
    // The records count into the same sink as the log lines.
    hook_recording_to(Box::new(CountingSink))
}

/// [`hook`] with its records written to `out`.
fn hook_recording_to(out: Box<dyn std::io::Write + Send>) -> Arc<Webhook> {
    let key = SigningKey::new([9u8; 32]).unwrap();
    let client = offline_client();
    let deployments = (0..SYSTEMS)
        .flat_map(|s| {
            (0..DEPLOYMENTS_PER_SYSTEM)
                .map(move |d| from(deployment(&format!("system-{s}-{d}"), s, &image(s))))
        })
        .collect();
    let stores = Stores {
        systems: store_of((0..SYSTEMS).map(|i| from(system(i))).collect()),
        assessments: store_of(
            (0..SYSTEMS)
                .map(|i| from(serde_json::to_value(assessment(i, &key)).unwrap()))
                .collect(),
        ),
        bindings: store_of(vec![from(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "ControlBinding",
            "metadata": {"name": "approvals", "namespace": NS},
            "spec": {"enforcement": "Enforce", "controls": [{"id": "A.6.2.5", "params": {"approverGroups": ["risk"]}}]}
        }))]),
        cluster_bindings: store_of(Vec::new()),
        namespaces: store_of(vec![from(json!({"metadata": {"name": NS}}))]),
        deployments: store_of(deployments),
        ..Stores::empty()
    };
    Arc::new(Webhook {
        recorder: Recorder::new(client, Reporter::from("aims-operator")),
        stores,
        catalog: Catalog::builtin(),
        detector: Detector::default(),
        key,
        metrics: Arc::new(Metrics::default()),
        synced: Synced::new(true),
        policy: Default::default(),
        chain: aims_operator::audit::Chain::start("bench", None, out),
    })
}

/// `object` as the API server has it when it calls the webhook on a create: with its uid, creation
/// time and generation, the defaults filled in, and the client's managed fields (about 2.9 KB for
/// the model server here, as a review of `tests/webhook_load.rs` measured).
fn as_sent(mut object: Value) -> Value {
    let meta = &mut object["metadata"];
    meta["uid"] = json!("6f1c1f8e-8d5b-4f57-9f0e-3a1c2b7d9e10");
    meta["generation"] = json!(1);
    meta["creationTimestamp"] = json!("2026-11-24T10:00:00Z");
    meta["managedFields"] = json!([{
        "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
        "time": "2026-11-24T10:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:aims.dev/system": {}, "f:app": {}}},
            "f:spec": {"f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {},
                "f:selector": {}, "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
                "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"server\"}": {".": {}, "f:args": {}, "f:image": {},
                        "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {".": {}, "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}},
                        "f:resources": {".": {}, "f:requests": {".": {}, "f:cpu": {}, "f:memory": {}}},
                        "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
                    "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                    "f:terminationGracePeriodSeconds": {}}}}}
    }]);
    api_defaults::fill_deployment_defaults(&mut object);
    object["status"] = json!({});
    object
}

/// A Deployment CREATE review as the API server sends it.
fn review(object: Value) -> Vec<u8> {
    let object = as_sent(object);
    Review::create(object)
        .with("userInfo", json!({"username": "dev", "uid": "1", "groups": ["developers", "system:authenticated"]}))
        .with("options", json!({"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}))
        .bytes()
}

async fn post(app: axum::Router, body: Vec<u8>) -> axum::body::Bytes {
    let response = app
        .oneshot(
            Request::post("/validate/workloads")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    // The decision's record is only queued: the records' writer makes, seals and writes it on a
    // thread of its own (`decision record` below measures both sides).
    to_bytes(response.into_body(), usize::MAX).await.unwrap()
}

/// Evicts the CPU caches: writes a line of every 64 bytes of a buffer larger than L2 and most of
/// L3, as the API server and etcd do between two reviews.
fn evict_caches() {
    static BUFFER: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());
    let mut buffer = BUFFER.lock().unwrap();
    if buffer.is_empty() {
        buffer.resize(32 << 20, 0);
    }
    for line in buffer.chunks_mut(64) {
        line[0] = line[0].wrapping_add(1);
    }
    std::hint::black_box(&*buffer);
}

/// Bytes of log written: the log goes nowhere, but the bench checks that each review writes its
/// record.
static LOGGED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A sink that counts what it is given.
struct CountingSink;

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGGED.fetch_add(buf.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    use std::sync::atomic::Ordering;
    aims_operator::telemetry::init_with_writer(aims_operator::telemetry::LogFormat::Json, || {
        CountingSink
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // The offline client inside the hook needs the runtime.
    let hook = rt.block_on(async { hook() });
    let app = router(hook.clone());
    let cases = [
        (
            "allow: an approved image of a registered system",
            review(deployment("system-3-new", 3, &image(3))),
            true,
        ),
        (
            "deny: an image no approved assessment covers (Enforce)",
            review(deployment(
                "system-3-new",
                3,
                "registry.example.com/credit/model-x@sha256:abababababababababababababababababababababababababababababababab",
            )),
            false,
        ),
        (
            "allow: an ordinary app (no system label, not a model server)",
            review(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": NS, "labels": {"app": "web"}},
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}
            })),
            true,
        ),
        (
            "allow: an approved image of a registered system, as a LeaderWorkerSet",
            Review::create(leader_worker_set("system-3-new", 3, &image(3)))
                .with("userInfo", json!({"username": "dev", "uid": "1", "groups": ["developers", "system:authenticated"]}))
                .bytes(),
            true,
        ),
    ];
    for (name, body, allowed) in cases {
        let logged = LOGGED.load(Ordering::Relaxed);
        let answer: Value =
            serde_json::from_slice(&rt.block_on(post(app.clone(), body.clone()))).unwrap();
        hook.chain.flush();
        assert!(
            LOGGED.load(Ordering::Relaxed) > logged,
            "{name}: no decision record (the records go to the log's sink)"
        );
        assert_eq!(
            answer.pointer("/response/allowed"),
            Some(&json!(allowed)),
            "{name}: {answer:#}"
        );
        let kind = if name.ends_with("LeaderWorkerSet") {
            "LeaderWorkerSet"
        } else {
            "Deployment"
        };
        let name = name.trim_end_matches(", as a LeaderWorkerSet");
        c.bench_function(&format!("admission/{kind} CREATE, {name}"), |b| {
            b.iter(|| rt.block_on(post(app.clone(), std::hint::black_box(body.clone()))))
        });
        c.bench_function(&format!("admission cold/{kind} CREATE, {name}"), |b| {
            b.iter_batched(
                || {
                    let body = body.clone();
                    evict_caches();
                    body
                },
                |body| rt.block_on(post(app.clone(), body)),
                BatchSize::PerIteration,
            )
        });
    }
}

/// A Deployment's watch event read whole (`k8s_openapi`'s type) and as the stores read it (the
/// fields its facts come from, and its facts).
fn watch_event(c: &mut Criterion) {
    use aims_operator::cluster::stored::Workload;
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::core::WatchEvent;

    let created = as_sent(deployment("system-3-new", 3, &image(3)));
    let mut applied = created.clone();
    // `kubectl apply` keeps a copy of what it applied in an annotation.
    applied["metadata"]["annotations"] = json!({
        "kubectl.kubernetes.io/last-applied-configuration": deployment("system-3-new", 3, &image(3)).to_string()
    });
    for (name, object) in [("created", created), ("kubectl-applied", applied)] {
        // As the API server writes it: the type first.
        let line = format!(r#"{{"type":"ADDED","object":{object}}}"#);
        c.bench_function(&format!("watch event/Deployment {name}, whole"), |b| {
            b.iter(|| {
                let event: WatchEvent<Deployment> =
                    serde_json::from_str(std::hint::black_box(&line)).unwrap();
                event
            })
        });
        c.bench_function(&format!("watch event/Deployment {name}, as stored"), |b| {
            b.iter(|| {
                let event: WatchEvent<Workload<Deployment>> =
                    serde_json::from_str(std::hint::black_box(&line)).unwrap();
                event
            })
        });
    }
}

/// A LeaderWorkerSet's watch event as the stores read it: its facts, by its row's paths.
fn custom_watch_event(c: &mut Criterion) {
    use aims_operator::cluster::custom::CustomWorkload;
    use kube::core::WatchEvent;

    let line = format!(
        r#"{{"type":"ADDED","object":{}}}"#,
        leader_worker_set("system-3-new", 3, &image(3))
    );
    c.bench_function("watch event/LeaderWorkerSet created, as stored", |b| {
        b.iter(|| {
            let event: WatchEvent<CustomWorkload> =
                serde_json::from_str(std::hint::black_box(&line)).unwrap();
            event
        })
    });
}

/// A decision's record sealed into the chain (canonical JSON and SHA-256), beside the same
/// fields written as a plain JSON line: what the chain costs a decision.
fn records(c: &mut Criterion) {
    use aims_operator::engine::chain::Segment;
    let fields: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "webhook": "workloads", "uid": "6f1c1f8e-8d5b-4f57-9f0e-3a1c2b7d9e10", "user": "dev",
        "operation": "CREATE", "kind": "Deployment", "subresource": "", "namespace": NS,
        "name": "system-3-new", "system": "system-3", "verdict": "deny", "controls": "A.6.2.5",
        "breakGlass": "", "dryRun": false,
        "message": "Deployment/system-3-new is denied: it belongs to AISystem system-3, which does not pass its enforced controls"
    }))
    .unwrap();
    let at = Timestamp::from_second(1_796_621_400).unwrap();
    let (mut segment, _) = Segment::start("bench.1", at, None, None, serde_json::Map::new());
    c.bench_function("records/a decision sealed into the chain", |b| {
        b.iter(|| {
            segment.seal(
                at,
                "AdmissionDecision",
                std::hint::black_box(fields.clone()),
            )
        })
    });
    c.bench_function("records/the same fields as a plain JSON line", |b| {
        b.iter(|| serde_json::to_string(std::hint::black_box(&fields.clone())).unwrap())
    });
}

/// A decision's record as the review's thread pays for it, side by side in one run: before, its
/// fields made, sealed under the chain's lock and its line written, on the async runtime's thread
/// once per review; now, the request and the decision put on the records' queue (the writer thread
/// makes the fields, seals and writes). Standard output is a pipe read by a thread of its own, as a
/// container runtime reads it. Only the record is timed; between two, the bench spins for 50 µs,
/// about a review, as a webhook makes one record per review.
fn decision_record(c: &mut Criterion) {
    use std::{
        io::{Read, Write},
        time::{Duration, Instant},
    };

    use aims_operator::{
        admission::{decision_log, review},
        engine::chain::Segment,
    };
    // A pipe read to its end by a thread of its own.
    let pipe = || {
        let (mut reader, writer) = std::io::pipe().unwrap();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while reader.read(&mut buf).is_ok_and(|n| n > 0) {}
        });
        writer
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // The offline client inside the hook needs the runtime.
    let hook = rt.block_on(async { hook_recording_to(Box::new(pipe())) });
    let body = review(deployment("system-3-new", 3, &image(3)));
    let answered = || decision_log::Answered {
        webhook: "workloads",
        req: review::decode(&body).unwrap(),
        decision: None,
        verdict: "allow",
        message: String::new(),
    };
    let between = || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_micros(50) {
            std::hint::spin_loop();
        }
    };
    let at = Timestamp::from_second(1_796_621_400).unwrap();
    let (segment, _) = Segment::start("bench.1", at, None, None, serde_json::Map::new());
    let before = std::sync::Mutex::new((segment, pipe()));
    let mut group = c.benchmark_group("decision record");
    group.bench_function(
        "before: made, sealed and written on the review's thread",
        |b| {
            b.iter_custom(|n| {
                let mut spent = Duration::ZERO;
                for _ in 0..n {
                    let answered = answered();
                    let start = Instant::now();
                    let fields = answered.fields();
                    let mut before = before.lock().unwrap();
                    let mut line = before.0.seal(Timestamp::now(), "AdmissionDecision", fields);
                    line.push('\n');
                    before.1.write_all(line.as_bytes()).unwrap();
                    before.1.flush().unwrap();
                    drop(before);
                    spent += start.elapsed();
                    between();
                }
                spent
            })
        },
    );
    group.bench_function("now: queued for the records' writer", |b| {
        b.iter_custom(|n| {
            let mut spent = Duration::ZERO;
            for _ in 0..n {
                let answered = answered();
                let start = Instant::now();
                decision_log::record(&hook, answered);
                spent += start.elapsed();
                between();
            }
            spent
        })
    });
    group.finish();
    hook.chain.flush();
}

criterion_group!(
    benches,
    bench,
    decision_record,
    watch_event,
    custom_watch_event,
    records
);
criterion_main!(benches);
