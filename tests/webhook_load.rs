//! A load run of the admission webhook, not a test: `aims run` as its own process on a local
//! control plane, with a namespace of 20 AISystems (each with a signed, approved RiskAssessment)
//! and 200 Deployments, called directly over HTTPS with keep-alive connections. Prints
//!
//! * the maximum throughput (reviews/s) with 1 to 64 concurrent connections;
//! * at a fixed 1,000 reviews/s for 10 s (open loop): the client's p50/p99 latency and the
//!   server's p50/p99 from the operator's `aims_admission_duration_seconds` histogram;
//! * through the API server: the latency of creating Deployments with no admission, with an
//!   equivalent ValidatingAdmissionPolicy (CEL), with a trivial webhook that allows everything
//!   (the same TLS server in a process of its own, no decision: the floor of any webhook on this
//!   machine), and with the
//!   operator's webhook registered. The kinds of create take turns (each admission path selects
//!   its own objects by a label), so a drift of the shared machine during the run falls on all
//!   alike.
//!
//! Figures go to BENCHMARKS.md.
//!
//! `cargo test --release --test webhook_load webhook_load -- --ignored --nocapture`
//!
//! A second run, [`admission_peers`], makes the creates through the API server only, side by
//! side with the chart's compiled floor, Kyverno (a CEL ValidatingPolicy and a classic
//! ClusterPolicy) and Gatekeeper deciding the same; it needs the peers built by
//! `tests/controlplane/build-peers.sh`:
//!
//! `cargo test --release --test webhook_load admission_peers -- --ignored --nocapture`
//!
//! With `AIMS_LOAD_PATHS=allow-all,cel,compiled-floor` (for example), only those paths and `none`
//! run, and the peers are neither built nor started unless a path of theirs is named.
//!
//! A third, [`handler_side_by_side`], runs the 1,000 reviews/s open loop against this build's
//! webhook and another build's (`AIMS_LOAD_BASELINE_BIN`), taking turns:
//!
//! `AIMS_LOAD_BASELINE_BIN=/path/to/aims cargo test --release --test webhook_load handler_side_by_side -- --ignored --nocapture`
//!
//! With `AIMS_LOAD_WEBHOOK_ONLY=1`, a webhook-only replica (`aims run --webhook-only`) serves the
//! creates: the same decisions, without the controllers' status writes competing for the machine.
//! With `AIMS_LOAD_ETCD_FSYNC=1`, etcd syncs each write to disk, as a production etcd does (tests
//! otherwise run it with `--unsafe-no-fsync`).

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use aims_operator::{
    admission::{
        certs::{CA_CRT, SECRET_NAME as TLS_SECRET, TLS_CRT, TLS_KEY},
        config::CONFIGURATION_NAME,
    },
    api::{AISystem, ControlBinding, RiskAssessment},
    engine::approval::SigningKey,
    runtime::key::{SECRET_KEY, SECRET_NAME},
    testing::Review,
};
use aims_testenv::{ControlPlane, Options};
use futures::{StreamExt, stream};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Namespace, Secret},
};
use kube::{
    Api, Client,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use serde_json::{Value, json};
use support::{apply, eventually, kubectl, ok, operator::Operator};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream};

const OPERATOR_NS: &str = "aims-system";
const NS: &str = "bench";
const SYSTEMS: usize = 20;
const DEPLOYMENTS_PER_SYSTEM: usize = 10;
const RATE: u64 = 1_000;
const RATE_SECONDS: u64 = 10;
const API_CREATES: usize = 300;
const UNAPPROVED: &str = "registry.example.com/bench/unapproved:1";

fn image(i: usize) -> String {
    format!("registry.example.com/bench/model-{i}@sha256:{:064x}", i + 1)
}

/// The label that routes a create through one admission path: `none`, `cel`, `allow-all` or
/// `webhook`.
const PATH_LABEL: &str = "bench.aims.dev/admission";

/// The admission paths compared, in the order of the first round.
const PATHS: [&str; 4] = ["none", "cel", "allow-all", "webhook"];

/// The webhooks the API server calls for the creates: the floor and the operator's.
const WEBHOOKS: [&str; 2] = ["allow-all.bench.aims.dev", "workloads.aims.dev"];

fn deployment(name: &str, system: usize, image: &str) -> Value {
    routed(name, system, image, "none")
}

/// A Deployment of `system` running `image`, labelled for the admission `path`.
fn routed(name: &str, system: usize, image: &str, path: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": {"aims.dev/system": format!("system-{system}"), "app": name, PATH_LABEL: path}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "server", "image": image,
                    "args": ["--port=8080", "--model-dir=/models"],
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}
                }]}}
        }
    })
}

async fn create<K>(api: Api<K>, value: Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap()
}

/// The records: an Enforce binding of A.6.2.5, 20 systems, each with an assessment approved by a
/// member of `risk` (signed with the operator's key), and 10 Deployments per system.
async fn populate(client: &Client) {
    create(
        Api::<Namespace>::all(client.clone()),
        json!({"metadata": {"name": NS}}),
    )
    .await;
    create(
        Api::<ControlBinding>::namespaced(client.clone(), NS),
        json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "ControlBinding",
            "metadata": {"name": "approvals", "namespace": NS},
            "spec": {"enforcement": "Enforce", "controls": [{"id": "A.6.2.5", "params": {"approverGroups": ["risk"]}}]}
        }),
    )
    .await;
    let secret = eventually(Duration::from_secs(30), "the signing key", || async {
        Api::<Secret>::namespaced(client.clone(), OPERATOR_NS)
            .get(SECRET_NAME)
            .await
            .ok()
    })
    .await;
    let key = SigningKey::new(&secret.data.unwrap()[SECRET_KEY].0).unwrap();
    for i in 0..SYSTEMS {
        let system = format!("system-{i}");
        create(
            Api::<AISystem>::namespaced(client.clone(), NS),
            json!({
                "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
                "metadata": {"name": system, "namespace": NS},
                "spec": {"purpose": "bench", "riskTier": "Limited", "owner": {"name": "o", "contact": "c"}, "team": "t",
                         "oversight": {"overseers": [{"name": "olga"}]},
                         "models": [{"name": "m", "version": "1", "artifact": {"image": image(i)}}]}
            }),
        )
        .await;
        let name = format!("{system}-v1");
        let ra: RiskAssessment = serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "RiskAssessment",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"systemRef": {"name": system}, "scope": {"artifacts": [{"image": image(i)}]},
                     "risks": [{"id": "R1", "title": "t", "source": "Robustness", "likelihood": 2, "severity": 2, "treatment": "Mitigate"}],
                     "impactAssessment": {"affectedGroups": ["users"], "completedOn": "2026-11-01"},
                     "submittedBy": "o", "validFor": "365d"}
        }))
        .unwrap();
        Api::<RiskAssessment>::namespaced(client.clone(), NS)
            .create(&PostParams::default(), &ra)
            .await
            .unwrap();
        // Stamps bind the uid the API server assigns, so the approval follows the create.
        let groups = ["risk".to_owned()];
        support::records::approve_as_webhook(
            client,
            &key,
            NS,
            &name,
            ("rita", &groups),
            jiff::Timestamp::now(),
        )
        .await;
    }
    let work: Vec<(usize, usize)> = (0..SYSTEMS)
        .flat_map(|s| (0..DEPLOYMENTS_PER_SYSTEM).map(move |d| (s, d)))
        .collect();
    stream::iter(work)
        .for_each_concurrent(16, |(s, d)| {
            let api = Api::<Deployment>::namespaced(client.clone(), NS);
            async move {
                create(api, deployment(&format!("system-{s}-{d}"), s, &image(s))).await;
            }
        })
        .await;
}

/// A Deployment CREATE review as the API server sends it.
fn review(object: Value) -> Vec<u8> {
    Review::create(object)
        .with("userInfo", json!({"username": "dev", "uid": "1", "groups": ["developers", "system:authenticated"]}))
        .with("options", json!({"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}))
        .bytes()
}

/// One keep-alive HTTPS connection to the webhook, speaking just enough HTTP/1.1.
struct Conn {
    stream: BufReader<TlsStream<TcpStream>>,
    line: String,
    body: Vec<u8>,
}

impl Conn {
    async fn open(tls: &TlsConnector, addr: &str) -> Self {
        let tcp = TcpStream::connect(addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let stream = tls.connect(name, tcp).await.unwrap();
        Self {
            stream: BufReader::new(stream),
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// Posts one review to `/validate/workloads`; returns whether it was allowed.
    async fn post(&mut self, request: &[u8]) -> bool {
        self.stream.get_mut().write_all(request).await.unwrap();
        self.stream.get_mut().flush().await.unwrap();
        let mut length = 0;
        let mut first = true;
        loop {
            self.line.clear();
            self.stream.read_line(&mut self.line).await.unwrap();
            let line = self.line.trim_end();
            if first {
                assert!(line.starts_with("HTTP/1.1 200"), "{line}");
                first = false;
            } else if line.is_empty() {
                break;
            } else if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        self.body.resize(length, 0);
        self.stream.read_exact(&mut self.body).await.unwrap();
        let answer: Value = serde_json::from_slice(&self.body).unwrap();
        answer.pointer("/response/allowed") == Some(&json!(true))
    }
}

fn http_request(body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST /validate/workloads?timeout=5s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// A TLS client of the operator's webhook that trusts its CA and presents the API server's webhook
/// client certificate, which the operator requires.
async fn connector(cp: &ControlPlane, client: &Client) -> TlsConnector {
    let secret = Api::<Secret>::namespaced(client.clone(), OPERATOR_NS)
        .get(TLS_SECRET)
        .await
        .unwrap();
    let ca = secret.data.unwrap()[CA_CRT].0.clone();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let (chain, key) = support::operator::api_server_identity(cp);
    let config = config.with_client_auth_cert(chain, key).unwrap();
    TlsConnector::from(Arc::new(config))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The `workloads` webhook's cumulative duration histogram: (upper bound in seconds, count).
fn histogram(op: &Operator) -> Vec<(f64, f64)> {
    let (_, body) = op.get("/metrics").unwrap();
    let mut buckets: Vec<(f64, f64)> = body
        .lines()
        .filter(|l| {
            l.starts_with("aims_admission_duration_seconds_bucket")
                && l.contains("webhook=\"workloads\"")
        })
        .map(|l| {
            let le = l.split("le=\"").nth(1).unwrap().split('"').next().unwrap();
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (le, l.rsplit(' ').next().unwrap().parse().unwrap())
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// The cumulative buckets of the observations between two snapshots of the histogram.
fn between(before: &[(f64, f64)], after: &[(f64, f64)]) -> Vec<(f64, f64)> {
    after
        .iter()
        .map(|(le, n)| {
            let was = before
                .iter()
                .find(|(b, _)| b == le)
                .map_or(0.0, |(_, n)| *n);
            (*le, n - was)
        })
        .collect()
}

/// The `p` quantile of the observations between two snapshots of the histogram, interpolated
/// linearly within its bucket (as Prometheus' `histogram_quantile` does).
fn server_quantile(before: &[(f64, f64)], after: &[(f64, f64)], p: f64) -> f64 {
    quantile(&between(before, after), p)
}

/// The `p` quantile of cumulative bucket counts, interpolated linearly within its bucket.
fn quantile(counts: &[(f64, f64)], p: f64) -> f64 {
    let total = counts.last().unwrap().1;
    let rank = p * total;
    let mut lower = (0.0, 0.0);
    for &(le, n) in counts {
        if n >= rank {
            if le.is_infinite() {
                return lower.0;
            }
            return lower.0 + (le - lower.0) * (rank - lower.1) / (n - lower.1).max(1.0);
        }
        lower = (le, n);
    }
    lower.0
}

/// The server's p50 and p99 between two snapshots of the histogram, for printing.
fn server_p50_p99(before: &[(f64, f64)], after: &[(f64, f64)]) -> String {
    format!(
        "p50 {:.3} ms, p99 {:.3} ms",
        server_quantile(before, after, 0.5) * 1e3,
        server_quantile(before, after, 0.99) * 1e3
    )
}

/// Runs `connections` closed-loop clients for `seconds`; returns reviews per second.
async fn throughput(tls: &TlsConnector, addr: &str, request: &[u8], connections: usize) -> f64 {
    let seconds = 5;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let mut conn = Conn::open(tls, addr).await;
        let request = request.to_vec();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                assert!(conn.post(&request).await);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Sends `RATE` reviews a second for `RATE_SECONDS` on a pool of keep-alive connections, each
/// at its scheduled time whatever the previous ones did; returns each one's latency from its
/// scheduled time to the end of its answer (so a stall counts against every request it delays).
async fn open_loop(tls: &TlsConnector, addr: &str, request: &[u8]) -> Vec<Duration> {
    let pool_size = 64;
    let (give, take) = async_pool(pool_size);
    for _ in 0..pool_size {
        give.send(Conn::open(tls, addr).await).await.unwrap();
    }
    let request: Arc<[u8]> = request.into();
    let total = RATE * RATE_SECONDS;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let at = start + Duration::from_micros(i * 1_000_000 / RATE);
        tokio::time::sleep_until(at).await;
        let (give, take, request) = (give.clone(), take.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = take.lock().await.recv().await.unwrap();
            assert!(conn.post(&request).await);
            let latency = at.elapsed();
            give.send(conn).await.unwrap();
            latency
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    for t in tasks {
        latencies.push(t.await.unwrap());
    }
    latencies.sort();
    latencies
}

type Pool = (
    tokio::sync::mpsc::Sender<Conn>,
    Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Conn>>>,
);

fn async_pool(size: usize) -> Pool {
    let (tx, rx) = tokio::sync::mpsc::channel(size);
    (tx, Arc::new(tokio::sync::Mutex::new(rx)))
}

/// What [`api_creates`] measured: per admission path, the create latencies (sorted), and the CPU
/// time each watched process used during that path's creates.
struct Creates {
    latencies: Vec<Vec<Duration>>,
    /// `cpu[path][process]`: seconds.
    cpu: Vec<Vec<f64>>,
}

/// Creates `count` Deployments per admission path of `paths` one after another in `NS`, the
/// paths taking turns (the order rotates each round). Around each create it reads the CPU time of
/// each process of `pids` and charges what they used to that create's path, so a server's CPU per
/// object of its own path is not diluted by the other paths' creates (work a server defers past
/// its answer lands on the next create, whichever its path).
async fn api_creates(client: &Client, paths: &[&str], count: usize, pids: &[u32]) -> Creates {
    let api = Api::<Deployment>::namespaced(client.clone(), NS);
    let mut latencies = vec![Vec::with_capacity(count); paths.len()];
    let mut cpu = vec![vec![0.0; pids.len()]; paths.len()];
    for i in 0..count {
        let s = i % SYSTEMS;
        for turn in 0..paths.len() {
            let p = (i + turn) % paths.len();
            let path = paths[p];
            let d: Deployment =
                serde_json::from_value(routed(&format!("{path}-{i}"), s, &image(s), path)).unwrap();
            let before: Vec<f64> = pids.iter().map(|&pid| process_cpu_seconds(pid)).collect();
            let t = Instant::now();
            api.create(&PostParams::default(), &d).await.unwrap();
            latencies[p].push(t.elapsed());
            for (k, &pid) in pids.iter().enumerate() {
                cpu[p][k] += process_cpu_seconds(pid) - before[k];
            }
        }
    }
    for l in &mut latencies {
        l.sort();
    }
    Creates { latencies, cpu }
}

/// The 20 approved images, the allow-list of every policy of the run.
fn approved_images() -> Vec<String> {
    (0..SYSTEMS).map(image).collect()
}

/// A ValidatingAdmissionPolicy equivalent to the image check: a Deployment labelled with a
/// system may only run the images that system's approved assessment covers.
fn policy() -> String {
    let images: Vec<String> = approved_images().iter().map(|i| format!("'{i}'")).collect();
    format!(
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: aims-images}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  validations:
    - expression: >-
        !has(object.metadata.labels) || !('aims.dev/system' in object.metadata.labels) ||
        object.spec.template.spec.containers.all(c, c.image in [{}])
      message: the image is not covered by an approved risk assessment
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: aims-images}}
spec:
  policyName: aims-images
  validationActions: [Deny]
  matchResources:
    objectSelector:
      matchLabels: {{{PATH_LABEL}: cel}}
"#,
        images.join(", ")
    )
}

/// Whether a server-side dry run of a Deployment of system-0 running `image` in `NS`, labelled
/// for the admission `path`, is admitted.
fn dry_run(cp: &ControlPlane, image: &str, path: &str) -> bool {
    use std::io::Write;
    let manifest = serde_json::to_string(&routed("probe", 0, image, path)).unwrap();
    let mut child = cp
        .kubectl()
        .args(["create", "--dry-run=server", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(manifest.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    out.status.success()
}

/// Waits up to `timeout` until every path of `paths` admits the approved image, all but `none`
/// and `allow-all` deny an unapproved one, and every flag of `called` is set.
fn wait_admission(
    cp: &ControlPlane,
    paths: &[&str],
    called: &[&std::sync::atomic::AtomicBool],
    timeout: Duration,
) {
    let start = Instant::now();
    loop {
        let pending: Vec<&str> = paths
            .iter()
            .copied()
            .filter(|path| {
                !dry_run(cp, &image(0), path)
                    || dry_run(cp, UNAPPROVED, path) != matches!(*path, "none" | "allow-all")
            })
            .collect();
        if pending.is_empty() && called.iter().all(|c| c.load(Ordering::Relaxed)) {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "admission never settled; paths not deciding as expected: {pending:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The API server's timing of its calls to the webhook named `webhook` so far: total seconds,
/// number of calls, and the number that took at most 5 ms (its smallest bucket).
fn webhook_call_seconds(cp: &ControlPlane, webhook: &str) -> (f64, f64, f64) {
    let metrics = ok(kubectl(cp, &["get", "--raw", "/metrics"]));
    let name = format!("name=\"{webhook}\"");
    let value = |series: &str, only: &str| {
        metrics
            .lines()
            .filter(|l| {
                l.starts_with(&format!(
                    "apiserver_admission_webhook_admission_duration_seconds_{series}{{"
                )) && l.contains(&name)
                    && l.contains(only)
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    (
        value("sum", ""),
        value("count", ""),
        value("bucket", "le=\"0.005\""),
    )
}

/// The CPU time the API server has used so far (`process_cpu_seconds_total`).
fn apiserver_cpu_seconds(cp: &ControlPlane) -> f64 {
    ok(kubectl(cp, &["get", "--raw", "/metrics"]))
        .lines()
        .find_map(|l| l.strip_prefix("process_cpu_seconds_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The CPU time process `pid` has used so far: its threads' time on a CPU, from
/// `/proc/<pid>/task/*/schedstat` (to the nanosecond, where `stat` counts 10 ms ticks).
fn process_cpu_seconds(pid: u32) -> f64 {
    // Each thread's `schedstat` starts with its time on a CPU in nanoseconds.
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e9
}

/// The environment variables that hand [`allow_all_server`] its serving certificate and key.
const ALLOW_ALL_CERT: &str = "AIMS_LOAD_ALLOW_ALL_CERT";
const ALLOW_ALL_KEY: &str = "AIMS_LOAD_ALLOW_ALL_KEY";

/// A webhook that allows every review: what any webhook costs the API server here, with no
/// decision behind it. Served with the operator's certificate by the same TLS server
/// (`admission::tls::serve_on`), in its own process as the operator is ([`allow_all_server`], this
/// load run's binary started again): served from the load run's process, it ran on code and data
/// the run's own client had just warmed, and came out faster than any webhook in a process of
/// its own. Registered for the creates labelled `allow-all`.
struct AllowAll {
    child: std::process::Child,
    /// Whether the API server has called it yet.
    called: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for AllowAll {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the [`AllowAll`] webhook and registers it.
async fn allow_all_webhook(client: &Client) -> AllowAll {
    use std::io::BufRead;

    use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
    let secret = Api::<Secret>::namespaced(client.clone(), OPERATOR_NS)
        .get(TLS_SECRET)
        .await
        .unwrap();
    let data = secret.data.unwrap();
    let pem = |key: &str| String::from_utf8(data[key].0.clone()).unwrap();
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["allow_all_server", "--exact", "--ignored", "--nocapture"])
        .env(ALLOW_ALL_CERT, pem(TLS_CRT))
        .env(ALLOW_ALL_KEY, pem(TLS_KEY))
        .stdout(std::process::Stdio::piped());
    let mut child = aims_testenv::spawn_tied(cmd).unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let called = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let seen = called.clone();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("allow-all serving ") {
                let _ = url_tx.send(url.to_owned());
            } else if line == "allow-all called" {
                seen.store(true, Ordering::Relaxed);
            }
        }
    });
    let url = url_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the allow-all webhook never started");
    let ca = data[CA_CRT].0.clone();
    let config: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": "bench-allow-all"},
        "webhooks": [{
            "name": "allow-all.bench.aims.dev",
            "clientConfig": {"url": url, "caBundle": k8s_openapi::ByteString(ca)},
            "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}],
            "objectSelector": {"matchLabels": {PATH_LABEL: "allow-all"}},
            "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "timeoutSeconds": 5
        }]
    }))
    .unwrap();
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &config)
        .await
        .unwrap();
    AllowAll { child, called }
}

/// The allow-all webhook's process (see [`AllowAll`]): serves until killed, when the load run
/// starts it with a certificate; otherwise returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the allow-all webhook of webhook_load, which starts it as its own process"]
async fn allow_all_server() {
    use aims_operator::admission::tls::{CertResolver, serve_on};
    let (Ok(cert), Ok(key)) = (std::env::var(ALLOW_ALL_CERT), std::env::var(ALLOW_ALL_KEY)) else {
        return;
    };
    let resolver = Arc::new(CertResolver::from_pem(&cert, &key).unwrap());
    let called = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let router = axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            if !called.swap(true, Ordering::Relaxed) {
                println!("allow-all called");
            }
            let review: Value = serde_json::from_slice(&body).unwrap_or_default();
            let answer = json!({
                "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": {"uid": review.pointer("/request/uid"), "allowed": true}
            });
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    answer.to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!(
        "allow-all serving https://{}/",
        listener.local_addr().unwrap()
    );
    serve_on(listener, resolver, router, std::future::pending())
        .await
        .unwrap();
}

/// Narrows the registered workloads webhook to the creates labelled for the `webhook` path. A
/// strategic merge patch (webhooks merge by name), so the operator's own writes to the
/// configuration (its CA bundle) cannot conflict with it.
async fn select_webhook_path(client: &Client) {
    use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(
            CONFIGURATION_NAME,
            &PatchParams::default(),
            &Patch::Strategic(json!({"webhooks": [{
                "name": "workloads.aims.dev",
                "objectSelector": {"matchLabels": {PATH_LABEL: "webhook"}}
            }]})),
        )
        .await
        .unwrap();
}

/// Held by each load run for its whole length: run together (`-- --ignored`), they would take
/// turns on the machine they measure.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the environment variable `name` is `1`.
fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

fn summary(latencies: &[Duration]) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(latencies, 0.5).as_secs_f64() * 1e3,
        percentile(latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a load run that prints figures; run it explicitly"]
async fn webhook_load() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // No controller-manager: Deployments stay as written (no ReplicaSets or Pods), so the API
    // server's part measures admission, not the cluster's own controllers.
    let etcd_fsync = flag("AIMS_LOAD_ETCD_FSYNC");
    let cp = ControlPlane::start_with(Options {
        controller_manager: false,
        etcd_fsync,
        ..Options::default()
    })
    .unwrap();
    println!(
        "etcd {}",
        if etcd_fsync {
            "syncs each write to disk"
        } else {
            "does not sync its writes (--unsafe-no-fsync)"
        }
    );
    support::install_crds(&cp, false);
    let client = cp.client().await;
    let op = Operator::start(&cp, OPERATOR_NS, "webhook-load-operator");
    populate(&client).await;
    // With AIMS_LOAD_WEBHOOK_ONLY=1 a webhook-only replica takes over once the records are in: no
    // controllers, so no status writes compete with the creates.
    let op = if flag("AIMS_LOAD_WEBHOOK_ONLY") {
        let only = Operator::start_with(&cp, OPERATOR_NS, "webhook-only", &["--webhook-only"]);
        drop(op);
        only
    } else {
        op
    };
    let tls = connector(&cp, &client).await;
    let addr = op.webhook_url().trim_start_matches("https://").to_owned();

    let allowed = http_request(&review(deployment("system-3-new", 3, &image(3))));
    let denied = http_request(&review(deployment("system-3-new", 3, UNAPPROVED)));
    // Wait until the operator's stores hold the records: the approved image is admitted.
    let mut conn = Conn::open(&tls, &addr).await;
    let start = Instant::now();
    while !conn.post(&allowed).await {
        assert!(start.elapsed() < Duration::from_secs(60), "never admitted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !conn.post(&denied).await,
        "the unapproved image is admitted"
    );
    // Warm up.
    for _ in 0..2_000 {
        conn.post(&allowed).await;
    }
    drop(conn);

    for connections in [1, 4, 16, 64] {
        let rate = throughput(&tls, &addr, &allowed, connections).await;
        println!("throughput, {connections} keep-alive connections: {rate:.0} reviews/s");
    }

    let before = histogram(&op);
    let latencies = open_loop(&tls, &addr, &allowed).await;
    let after = histogram(&op);
    println!(
        "{RATE} reviews/s for {RATE_SECONDS} s ({} reviews), client: {}",
        latencies.len(),
        summary(&latencies)
    );
    println!(
        "  server (aims_admission_duration_seconds): {}",
        server_p50_p99(&before, &after)
    );
    println!(
        "  buckets (le seconds, count): {:?}",
        between(&before, &after)
    );

    // Through the API server: creates with no admission, with a CEL policy, and with the webhook,
    // taking turns. The policy's binding and the webhook each select their third of the creates
    // by the path label; the operator watches and evaluates all of them alike.
    ok(apply(&cp, &policy()));
    let config = ok(std::process::Command::new(env!("CARGO_BIN_EXE_aims"))
        .args([
            "webhook-config",
            "--url",
            &op.webhook_url(),
            "--namespace",
            OPERATOR_NS,
        ])
        .output()
        .unwrap());
    ok(apply(&cp, &config));
    select_webhook_path(&client).await;
    let floor = allow_all_webhook(&client).await;
    wait_admission(&cp, &PATHS, &[&floor.called], Duration::from_secs(60));
    let seen_before = WEBHOOKS.map(|w| webhook_call_seconds(&cp, w));
    let handled_before = histogram(&op);
    let (cpu_before, writes_before) = (apiserver_cpu_seconds(&cp), op.writes());
    let op_cpu_before = process_cpu_seconds(op.pid());
    let floor_cpu_before = process_cpu_seconds(floor.child.id());
    let Ok([none, cel, allow_all, hook]) = <[Vec<Duration>; 4]>::try_from(
        api_creates(&client, &PATHS, API_CREATES, &[])
            .await
            .latencies,
    ) else {
        unreachable!("one list of latencies per path")
    };
    let seen_after = WEBHOOKS.map(|w| webhook_call_seconds(&cp, w));
    let handled_after = histogram(&op);
    let (cpu_after, writes_after) = (apiserver_cpu_seconds(&cp), op.writes());
    let op_cpu = process_cpu_seconds(op.pid()) - op_cpu_before;
    let floor_cpu = process_cpu_seconds(floor.child.id()) - floor_cpu_before;
    for (path, latencies) in PATHS.iter().zip([&none, &cel, &allow_all, &hook]) {
        println!(
            "API server, {API_CREATES} creates, {path}: {}",
            summary(latencies)
        );
    }
    for ((webhook, before), after) in WEBHOOKS.iter().zip(seen_before).zip(seen_after) {
        let calls = after.1 - before.1;
        println!(
            "  the API server's own timing of its calls to {webhook} (apiserver_admission_webhook_admission_duration_seconds): mean {:.3} ms over {} calls, {:.0} % within 5 ms",
            (after.0 - before.0) / calls.max(1.0) * 1e3,
            calls,
            (after.2 - before.2) / calls.max(1.0) * 100.0
        );
    }
    println!(
        "  the webhook's own timing of those calls (aims_admission_duration_seconds): {}",
        server_p50_p99(&handled_before, &handled_after)
    );
    println!(
        "  during the creates: API server CPU {:.2} s; the operator's CPU {:.2} s ({:.2} ms per create of any path: watch events, reviews, reconciles); the operator's status writes {}",
        cpu_after - cpu_before,
        op_cpu,
        op_cpu / (PATHS.len() * API_CREATES) as f64 * 1e3,
        writes_after - writes_before
    );
    println!(
        "  the allow-all webhook's CPU during the creates: {:.3} s ({:.3} ms per call: TLS, HTTP and its trivial answer)",
        floor_cpu,
        floor_cpu / API_CREATES as f64 * 1e3
    );
    // Whether the API server kept its connections to the webhook: TCP sockets on the webhook's
    // port by state (TIME-WAIT ones are connections closed during the creates).
    let port = addr.rsplit(':').next().unwrap_or_default();
    let sockets = std::process::Command::new("ss")
        .args(["-tanH", &format!("( sport = :{port} )")])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut states = std::collections::BTreeMap::<&str, usize>::new();
    for state in sockets.lines().filter_map(|l| l.split_whitespace().next()) {
        *states.entry(state).or_default() += 1;
    }
    println!("webhook sockets after the creates, by state: {states:?}");
    let ratio = |a: &[Duration], p: f64| {
        percentile(a, p).as_secs_f64() / percentile(&none, p).as_secs_f64()
    };
    println!(
        "ratios to no admission: CEL p50 {:.2}, p99 {:.2}; allow-all webhook p50 {:.2}, p99 {:.2}; webhook p50 {:.2}, p99 {:.2}",
        ratio(&cel, 0.5),
        ratio(&cel, 0.99),
        ratio(&allow_all, 0.5),
        ratio(&allow_all, 0.99),
        ratio(&hook, 0.5),
        ratio(&hook, 0.99)
    );
    println!(
        "the operator's webhook over the allow-all one: p50 {:+.2} ms",
        (percentile(&hook, 0.5).as_secs_f64() - percentile(&allow_all, 0.5).as_secs_f64()) * 1e3
    );
    let _ = Api::<Namespace>::all(client.clone())
        .delete(NS, &DeleteParams::default())
        .await;
    let _ =
        Api::<k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration>::all(
            client.clone(),
        )
        .delete("bench-allow-all", &DeleteParams::default())
        .await;
}

/// Each thread's CPU time so far in process `pid`, summed by thread name (`tokio-runtime-w` for
/// the async runtime's workers, `aims-records` for the records' writer): seconds.
fn cpu_by_thread(pid: u32) -> std::collections::BTreeMap<String, f64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.filter_map(Result::ok) {
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(task.path().join("comm")),
            std::fs::read_to_string(task.path().join("schedstat")),
        ) else {
            continue;
        };
        let ns: f64 = stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *by_name.entry(name.trim().to_owned()).or_default() += ns / 1e9;
    }
    by_name
}

/// What one replica's open-loop blocks of [`handler_side_by_side`] measured.
#[derive(Default)]
struct Blocks {
    client: Vec<Duration>,
    /// The histogram's cumulative counts over the blocks, by upper bound.
    server: Vec<(f64, f64)>,
    /// CPU seconds by thread name over the blocks.
    cpu: std::collections::BTreeMap<String, f64>,
    reviews: usize,
}

impl Blocks {
    fn add(
        &mut self,
        client: &[Duration],
        server: &[(f64, f64)],
        cpu: &std::collections::BTreeMap<String, f64>,
    ) {
        self.client.extend_from_slice(client);
        self.client.sort();
        if self.server.is_empty() {
            self.server = server.to_vec();
        } else {
            for (total, (_, n)) in self.server.iter_mut().zip(server) {
                total.1 += n;
            }
        }
        for (name, seconds) in cpu {
            *self.cpu.entry(name.clone()).or_default() += seconds;
        }
        self.reviews += client.len();
    }
}

/// A block's or a total's figures, for printing.
fn side_by_side_line(
    client: &[Duration],
    server: &[(f64, f64)],
    cpu: &std::collections::BTreeMap<String, f64>,
    reviews: usize,
) -> String {
    let per_review = |seconds: f64| seconds / reviews.max(1) as f64 * 1e6;
    let threads: Vec<String> = cpu
        .iter()
        .filter(|(_, s)| **s > 0.0)
        .map(|(name, s)| format!("{name} {:.1}", per_review(*s)))
        .collect();
    format!(
        "server p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms; client {}; CPU per review {:.1} µs ({})",
        quantile(server, 0.5) * 1e3,
        quantile(server, 0.99) * 1e3,
        quantile(server, 0.999) * 1e3,
        summary(client),
        per_review(cpu.values().sum()),
        threads.join(", ")
    )
}

/// The handler's latency at 1,000 reviews/s, this build's operator side by side with other
/// builds': `AIMS_LOAD_BASELINE_BIN`, `aims` binaries built from other commits, separated by `:`
/// (without it, this build against itself: the spread between two identical replicas). All run as
/// webhook-only replicas on one control plane, with the namespace of [`webhook_load`], and take
/// turns: `AIMS_LOAD_ROUNDS` rounds (4 unless set) of one 10 s open-loop block each, each round
/// starting one replica later, so a drift of the shared machine falls on all alike. Prints, per block and in
/// total, the server's p50/p99/p99.9 from each replica's `aims_admission_duration_seconds`, the
/// client's latency, and each replica's CPU per review by thread (the async runtime's workers,
/// the records' writer).
///
/// `AIMS_LOAD_BASELINE_BIN=/path/to/aims cargo test --release --test webhook_load handler_side_by_side -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a load run that prints figures; run it explicitly"]
async fn handler_side_by_side() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let cp = ControlPlane::start_with(Options {
        controller_manager: false,
        ..Options::default()
    })
    .unwrap();
    support::install_crds(&cp, false);
    let client = cp.client().await;
    let setup = Operator::start(&cp, OPERATOR_NS, "side-by-side-setup");
    populate(&client).await;
    let baselines: Vec<String> = std::env::var("AIMS_LOAD_BASELINE_BIN")
        .map(|v| v.split(':').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut replicas = vec![Operator::start_with(
        &cp,
        OPERATOR_NS,
        "side-by-side-this",
        &["--webhook-only"],
    )];
    let mut names = vec!["this build".to_owned()];
    for (i, bin) in baselines.iter().enumerate() {
        replicas.push(Operator::start_binary(
            &cp,
            OPERATOR_NS,
            &format!("side-by-side-baseline-{i}"),
            &["--webhook-only"],
            std::path::Path::new(bin),
        ));
        names.push(format!("baseline {bin}"));
    }
    if baselines.is_empty() {
        replicas.push(Operator::start_with(
            &cp,
            OPERATOR_NS,
            "side-by-side-same",
            &["--webhook-only"],
        ));
        names.push("this build again".to_owned());
    }
    drop(setup);
    let tls = connector(&cp, &client).await;
    let allowed = http_request(&review(deployment("system-3-new", 3, &image(3))));
    for op in &replicas {
        let mut conn = Conn::open(&tls, op.webhook_addr()).await;
        let start = Instant::now();
        while !conn.post(&allowed).await {
            assert!(start.elapsed() < Duration::from_secs(60), "never admitted");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for _ in 0..2_000 {
            conn.post(&allowed).await;
        }
    }
    let rounds: usize = std::env::var("AIMS_LOAD_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let mut totals: Vec<Blocks> = replicas.iter().map(|_| Blocks::default()).collect();
    for round in 0..rounds {
        // Each round starts one replica later: every replica takes every place in turn.
        for i in (0..replicas.len()).map(|k| (k + round) % replicas.len()) {
            let op = &replicas[i];
            let (before, cpu_before) = (histogram(op), cpu_by_thread(op.pid()));
            let latencies = open_loop(&tls, op.webhook_addr(), &allowed).await;
            let (after, cpu_after) = (histogram(op), cpu_by_thread(op.pid()));
            let server = between(&before, &after);
            let cpu = cpu_after
                .iter()
                .map(|(name, s)| (name.clone(), s - cpu_before.get(name).unwrap_or(&0.0)))
                .collect();
            println!(
                "round {round}, {}: {}",
                names[i],
                side_by_side_line(&latencies, &server, &cpu, latencies.len())
            );
            totals[i].add(&latencies, &server, &cpu);
        }
    }
    for (name, total) in names.iter().zip(&totals) {
        println!(
            "all rounds, {name}: {}",
            side_by_side_line(&total.client, &total.server, &total.cpu, total.reviews)
        );
        println!("  buckets (le seconds, count): {:?}", total.server);
    }
}

// The peers: the same creates through the same API server, side by side with Kyverno and
// Gatekeeper (issue 21).

/// The creates per admission path of [`admission_peers`]: enough for a p99 that is not the
/// third-slowest of a few hundred.
const PEER_CREATES: usize = 1_000;

/// The admission paths of [`admission_peers`], in the order of the first round.
const PEER_PATHS: [&str; 8] = [
    "none",
    "allow-all",
    "webhook",
    "cel",
    "compiled-floor",
    "kyverno-cel",
    "kyverno",
    "gatekeeper",
];

/// The paths of [`PEER_PATHS`] that need the peers built and started.
const PEER_SERVED: [&str; 3] = ["kyverno-cel", "kyverno", "gatekeeper"];

/// The paths [`admission_peers`] runs: those `AIMS_LOAD_PATHS` names (comma-separated, in
/// [`PEER_PATHS`]' order; `none` always), or all of them. Without the peers' paths, the peers
/// are neither built nor started.
fn peer_paths() -> Vec<&'static str> {
    let Ok(wanted) = std::env::var("AIMS_LOAD_PATHS") else {
        return PEER_PATHS.to_vec();
    };
    let wanted: Vec<&str> = wanted.split(',').map(str::trim).collect();
    for w in &wanted {
        assert!(
            PEER_PATHS.contains(w),
            "AIMS_LOAD_PATHS names {w:?}, not one of {PEER_PATHS:?}"
        );
    }
    PEER_PATHS
        .into_iter()
        .filter(|p| *p == "none" || wanted.contains(p))
        .collect()
}

/// The directory holding the peers' binaries (`kyverno`, `gatekeeper`), with their CRDs in
/// `../peer-crds/<peer>/`: `AIMS_PEERS_BIN`, or what `tests/controlplane/build-peers.sh` builds
/// (a cold build takes minutes). Panics if they are not there: the comparison is the point.
fn peers_bin() -> std::path::PathBuf {
    let bin = match std::env::var("AIMS_PEERS_BIN") {
        Ok(dir) => std::path::PathBuf::from(dir),
        Err(_) => {
            let out = std::process::Command::new("bash")
                .arg(support::repo().join("tests/controlplane/build-peers.sh"))
                .stderr(std::process::Stdio::inherit())
                .output()
                .expect("run tests/controlplane/build-peers.sh");
            assert!(
                out.status.success(),
                "tests/controlplane/build-peers.sh failed ({}): the peers (Kyverno, Gatekeeper) are needed for this run; see tests/controlplane/peers/README.md",
                out.status
            );
            std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
        }
    };
    for peer in ["kyverno", "gatekeeper"] {
        assert!(
            bin.join(peer).is_file() && bin.join("../peer-crds").join(peer).is_dir(),
            "{} has no {peer} binary or CRDs: run tests/controlplane/build-peers.sh (or set AIMS_PEERS_BIN to its output)",
            bin.display()
        );
    }
    bin
}

/// A peer admission server in a process of its own, killed on drop.
struct Peer {
    child: std::process::Child,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` with its output in `<control plane dir>/<name>.log`.
fn spawn_peer(cp: &ControlPlane, name: &str, mut cmd: std::process::Command) -> Peer {
    let log = std::fs::File::create(cp.dir().join(format!("{name}.log"))).unwrap();
    cmd.stdout(log.try_clone().unwrap()).stderr(log);
    Peer {
        child: aims_testenv::spawn_tied(cmd).unwrap_or_else(|e| panic!("cannot start {name}: {e}")),
    }
}

/// The allow-list as a YAML flow sequence.
fn allow_list_yaml() -> String {
    let images: Vec<String> = approved_images().iter().map(|i| format!("'{i}'")).collect();
    format!("[{}]", images.join(", "))
}

/// The image check as Kyverno policies, each for its own path: a CEL ValidatingPolicy
/// (`policies.kyverno.io`), whose object selector Kyverno copies into its webhook, and a classic
/// ClusterPolicy, whose webhook takes the object selector of Kyverno's configuration (both Kyverno
/// paths) and is narrowed to its own path by a match condition. Both decide as [`policy`] does:
/// every container's image must be one of the 20 approved ones, each pinned by digest (so an
/// image on the list is pinned). The list is inline, as in the ValidatingAdmissionPolicy.
fn kyverno_policies() -> String {
    let list = allow_list_yaml();
    format!(
        r#"
apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {{name: aims-images}}
spec:
  validationActions: [Deny]
  evaluation:
    background: {{enabled: false}}
  matchConstraints:
    objectSelector:
      matchLabels: {{{PATH_LABEL}: kyverno-cel}}
      matchExpressions: [{{key: aims.dev/system, operator: Exists}}]
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE, UPDATE]
        resources: [deployments]
  variables:
    - name: allowed
      expression: "{list}"
  validations:
    - expression: object.spec.template.spec.containers.all(c, c.image in variables.allowed)
      message: the image is not covered by an approved risk assessment
---
apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: aims-images-classic}}
spec:
  background: false
  webhookConfiguration:
    matchConditions:
      - name: bench-path
        expression: "object.metadata.labels['{PATH_LABEL}'] == 'kyverno'"
  rules:
    - name: approved-images
      match:
        any:
          - resources:
              kinds: [apps/v1/Deployment]
              operations: [CREATE, UPDATE]
              selector:
                matchExpressions: [{{key: aims.dev/system, operator: Exists}}]
      validate:
        failureAction: Enforce
        message: the image is not covered by an approved risk assessment
        deny:
          conditions:
            any:
              - key: "{{{{ request.object.spec.template.spec.containers[].image }}}}"
                operator: AnyNotIn
                value: {list}
"#
    )
}

/// Kyverno's admission controller out of cluster (see tests/controlplane/peers/README.md),
/// serving on a free local port, with its policies applied first. Its webhooks see only the
/// Kyverno paths' creates: its configuration's object selector, merged into each webhook.
fn start_kyverno(cp: &ControlPlane, bin: &std::path::Path) -> Peer {
    // A symbolic link to the CRDs' directory, which kubectl would read as a file.
    let crds = std::fs::canonicalize(bin.join("../peer-crds/kyverno")).unwrap();
    ok(kubectl(
        cp,
        &["apply", "--server-side", "-f", crds.to_str().unwrap()],
    ));
    support::wait_established(cp, &["crd", "--all"]);
    let selector = json!({"objectSelector": {"matchExpressions": [
        {"key": PATH_LABEL, "operator": "In", "values": ["kyverno", "kyverno-cel"]}
    ]}});
    ok(apply(
        cp,
        &json!({
            "apiVersion": "v1", "kind": "List", "items": [
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kyverno"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kyverno", "namespace": "kyverno"},
                 "data": {"webhooks": selector.to_string()}}
            ]
        })
        .to_string(),
    ));
    ok(apply(cp, &kyverno_policies()));
    let port = support::operator::free_port();
    let mut cmd = std::process::Command::new(bin.join("kyverno"));
    cmd.envs([
        ("KYVERNO_NAMESPACE", "kyverno"),
        (
            "KYVERNO_SERVICEACCOUNT_NAME",
            "kyverno-admission-controller",
        ),
        ("KYVERNO_DEPLOYMENT", "kyverno-admission-controller"),
        ("KYVERNO_POD_NAME", "kyverno-local"),
        ("INIT_CONFIG", "kyverno"),
        ("METRICS_CONFIG", "kyverno-metrics"),
    ])
    .arg(format!("--kubeconfig={}", cp.kubeconfig().display()))
    .arg(format!("--serverIP=127.0.0.1:{port}"))
    .arg("--webhookServerHost=127.0.0.1")
    .arg(format!("--webhookServerPort={port}"))
    .args([
        "--caSecretName=kyverno-svc.kyverno.svc.kyverno-tls-ca",
        "--tlsSecretName=kyverno-svc.kyverno.svc.kyverno-tls-pair",
        "--admissionReports=false",
        "--disableMetrics",
        "--controllerRuntimeMetricsAddress=0",
        "--autoMemLimitEnabled=false",
    ]);
    spawn_peer(cp, "kyverno", cmd)
}

/// The image check as a Gatekeeper ConstraintTemplate (Rego) and its constraint, the allow-list
/// a parameter of the constraint.
fn gatekeeper_template() -> &'static str {
    r#"
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: aimsapprovedimages}
spec:
  crd:
    spec:
      names: {kind: AimsApprovedImages}
      validation:
        openAPIV3Schema:
          type: object
          properties:
            images: {type: array, items: {type: string}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package aimsapprovedimages

        violation[{"msg": msg}] {
          c := input.review.object.spec.template.spec.containers[_]
          not approved(c.image)
          msg := sprintf("container %v: the image %v is not covered by an approved risk assessment", [c.name, c.image])
        }

        approved(image) { input.parameters.images[_] == image }
"#
}

fn gatekeeper_constraint() -> String {
    format!(
        r#"
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: AimsApprovedImages
metadata: {{name: aims-images}}
spec:
  enforcementAction: deny
  match:
    kinds: [{{apiGroups: [apps], kinds: [Deployment]}}]
    labelSelector:
      matchExpressions: [{{key: aims.dev/system, operator: Exists}}]
  parameters:
    images: {}
"#,
        allow_list_yaml()
    )
}

/// Gatekeeper out of cluster (see tests/controlplane/peers/README.md), serving with the operator's
/// certificate (for 127.0.0.1), its template and constraint applied, and registered by a
/// configuration of our own for the creates labelled `gatekeeper`.
async fn start_gatekeeper(cp: &ControlPlane, client: &Client, bin: &std::path::Path) -> Peer {
    use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
    // A symbolic link to the CRDs' directory, which kubectl would read as a file.
    let crds = std::fs::canonicalize(bin.join("../peer-crds/gatekeeper")).unwrap();
    ok(kubectl(
        cp,
        &["apply", "--server-side", "-f", crds.to_str().unwrap()],
    ));
    support::wait_established(cp, &["crd", "--all"]);
    support::namespace(cp, "gatekeeper-system");
    let secret = Api::<Secret>::namespaced(client.clone(), OPERATOR_NS)
        .get(TLS_SECRET)
        .await
        .unwrap();
    let data = secret.data.unwrap();
    let certs = cp.dir().join("gatekeeper-certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("tls.crt"), &data[TLS_CRT].0).unwrap();
    std::fs::write(certs.join("tls.key"), &data[TLS_KEY].0).unwrap();
    let port = support::operator::free_port();
    let mut cmd = std::process::Command::new(bin.join("gatekeeper"));
    cmd.env("POD_NAMESPACE", "gatekeeper-system")
        .arg(format!("--kubeconfig={}", cp.kubeconfig().display()))
        .args(["--debug-use-fake-pod", "--disable-cert-rotation"])
        .arg(format!("--cert-dir={}", certs.display()))
        .args(["--host=127.0.0.1", &format!("--port={port}")])
        .arg(format!(
            "--health-addr=127.0.0.1:{}",
            support::operator::free_port()
        ))
        .arg("--metrics-addr=0")
        .arg(format!(
            "--prometheus-port={}",
            support::operator::free_port()
        ))
        .args([
            "--operation=webhook",
            "--operation=generate",
            "--disable-opa-builtin={http.send}",
            "--exempt-namespace=gatekeeper-system",
        ]);
    let peer = spawn_peer(cp, "gatekeeper", cmd);
    ok(apply(cp, gatekeeper_template()));
    // The constraint's kind exists once Gatekeeper has made the template's CRD.
    let start = Instant::now();
    while !apply(cp, &gatekeeper_constraint()).status.success() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "Gatekeeper never made the constraint kind AimsApprovedImages; see gatekeeper.log in {}",
            cp.dir().display()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let config: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": "bench-gatekeeper"},
        "webhooks": [{
            "name": "validation.gatekeeper.sh",
            "clientConfig": {"url": format!("https://127.0.0.1:{port}/v1/admit"), "caBundle": k8s_openapi::ByteString(data[CA_CRT].0.clone())},
            "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}],
            "objectSelector": {"matchLabels": {PATH_LABEL: "gatekeeper"}},
            "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "timeoutSeconds": 5
        }]
    }))
    .unwrap();
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &config)
        .await
        .unwrap();
    peer
}

/// Waits until the operator (`aims run --compiled-floor`) has written `NS`'s AdmissionFloor with
/// every system admitting its approved image: what the compiled-floor path decides from.
async fn wait_floor(client: &Client) {
    use aims_operator::api::{AdmissionFloor, FLOOR_NAME};
    let api = Api::<AdmissionFloor>::namespaced(client.clone(), NS);
    eventually(
        Duration::from_secs(120),
        "the AdmissionFloor of every system",
        || async {
            let floor = api.get_opt(FLOOR_NAME).await.ok()??;
            (0..SYSTEMS)
                .all(|i| {
                    floor
                        .spec
                        .systems
                        .get(&format!("system-{i}"))
                        .is_some_and(|e| {
                            e.admit && !e.halted && e.images.get(&image(i)) == Some(&true)
                        })
                })
                .then_some(())
        },
    )
    .await;
}

/// The chart's compiled-floor ValidatingAdmissionPolicies as the chart renders them
/// (`admission.mode=both`), their workload bindings (those reading the AdmissionFloor) then
/// narrowed to the creates labelled `compiled-floor`, as the hand-written policy's binding is to
/// `cel`: the policies' CEL is the chart's.
async fn apply_compiled_floor(cp: &ControlPlane, client: &Client) {
    use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding;
    support::operator::apply_chart(
        cp,
        OPERATOR_NS,
        &[
            "--set",
            "admission.mode=both",
            "--show-only",
            "templates/compiled-floor.yaml",
        ],
    );
    let api = Api::<ValidatingAdmissionPolicyBinding>::all(client.clone());
    let floors: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.spec.as_ref().is_some_and(|s| s.param_ref.is_some()))
        .filter_map(|b| b.metadata.name)
        .collect();
    assert!(
        !floors.is_empty(),
        "the chart rendered no binding that reads the AdmissionFloor"
    );
    for name in floors {
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"matchResources": {"objectSelector": {
                "matchLabels": {PATH_LABEL: "compiled-floor"}
            }}}})),
        )
        .await
        .unwrap();
    }
}

/// The process id of the control plane's kube-apiserver.
fn apiserver_pid(cp: &ControlPlane) -> u32 {
    std::fs::read_to_string(cp.dir().join("kube-apiserver.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Creates through the API server side by side, the paths taking turns: no admission, the
/// allow-all webhook (the floor), the operator's webhook, a ValidatingAdmissionPolicy, the chart's
/// compiled floor (its policies reading the AdmissionFloor the operator writes), Kyverno with a CEL
/// ValidatingPolicy, Kyverno with a classic ClusterPolicy, and Gatekeeper; each path selects its
/// own creates by the path label. Prints each path's latency, its ratios to no admission, to the
/// floor and to the hand-written policy, and the CPU its admission server used per create. Needs
/// the peers built (`tests/controlplane/build-peers.sh`, or `AIMS_PEERS_BIN`), unless
/// `AIMS_LOAD_PATHS` leaves their paths out (see [`peer_paths`]).
///
/// `cargo test --release --test webhook_load admission_peers -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a load run against Kyverno and Gatekeeper that prints figures; run it explicitly"]
async fn admission_peers() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let paths = peer_paths();
    let runs = |path: &str| paths.contains(&path);
    let bin = PEER_SERVED.iter().any(|p| runs(p)).then(peers_bin);
    let cp = ControlPlane::start_with(Options {
        controller_manager: false,
        etcd_fsync: flag("AIMS_LOAD_ETCD_FSYNC"),
        ..Options::default()
    })
    .unwrap();
    support::install_crds(&cp, false);
    let client = cp.client().await;
    // The operator writes the compiled floor too: the compiled-floor path reads it.
    let op = Operator::start_with(
        &cp,
        OPERATOR_NS,
        "webhook-load-operator",
        &["--compiled-floor"],
    );
    populate(&client).await;
    wait_floor(&client).await;
    let op = if flag("AIMS_LOAD_WEBHOOK_ONLY") {
        let only = Operator::start_with(&cp, OPERATOR_NS, "webhook-only", &["--webhook-only"]);
        drop(op);
        only
    } else {
        op
    };
    ok(apply(&cp, &policy()));
    apply_compiled_floor(&cp, &client).await;
    let config = ok(std::process::Command::new(env!("CARGO_BIN_EXE_aims"))
        .args([
            "webhook-config",
            "--url",
            &op.webhook_url(),
            "--namespace",
            OPERATOR_NS,
        ])
        .output()
        .unwrap());
    ok(apply(&cp, &config));
    select_webhook_path(&client).await;
    let floor = if runs("allow-all") {
        Some(allow_all_webhook(&client).await)
    } else {
        None
    };
    let kyverno = match &bin {
        Some(bin) if runs("kyverno") || runs("kyverno-cel") => Some(start_kyverno(&cp, bin)),
        _ => None,
    };
    let gatekeeper = match &bin {
        Some(bin) if runs("gatekeeper") => Some(start_gatekeeper(&cp, &client, bin).await),
        _ => None,
    };
    let called: Vec<&std::sync::atomic::AtomicBool> =
        floor.iter().map(|f| f.called.as_ref()).collect();
    wait_admission(&cp, &paths, &called, Duration::from_secs(300));
    // Each path's creates must reach only its own server: a webhook the API server calls
    // for every Deployment would weigh on all paths.
    let webhooks = ok(kubectl(
        &cp,
        &[
            "get",
            "validatingwebhookconfigurations,mutatingwebhookconfigurations",
            "-o",
            "json",
        ],
    ));
    let webhooks: Value = serde_json::from_str(&webhooks).unwrap();
    for item in webhooks["items"].as_array().unwrap() {
        for hook in item["webhooks"].as_array().into_iter().flatten() {
            let deployments = hook["rules"].as_array().into_iter().flatten().any(|r| {
                r["resources"]
                    .as_array()
                    .is_some_and(|rs| rs.iter().any(|x| x == "deployments" || x == "*"))
            });
            if deployments {
                println!(
                    "webhook {} for Deployments: object selector {}, match conditions {}",
                    hook["name"], hook["objectSelector"], hook["matchConditions"]
                );
            }
        }
    }
    let bindings = ok(kubectl(
        &cp,
        &["get", "validatingadmissionpolicybindings", "-o", "json"],
    ));
    let bindings: Value = serde_json::from_str(&bindings).unwrap();
    for b in bindings["items"].as_array().unwrap() {
        println!(
            "policy binding {}: object selector {}",
            b["metadata"]["name"], b["spec"]["matchResources"]["objectSelector"]
        );
    }

    // The watched processes, the API server first; each path's admission server is one of them.
    let mut servers = vec![("kube-apiserver", apiserver_pid(&cp))];
    if let Some(f) = &floor {
        servers.push(("allow-all", f.child.id()));
    }
    servers.push(("aims", op.pid()));
    if let Some(k) = &kyverno {
        servers.push(("kyverno", k.child.id()));
    }
    if let Some(g) = &gatekeeper {
        servers.push(("gatekeeper", g.child.id()));
    }
    let names: Vec<&str> = servers.iter().map(|(n, _)| *n).collect();
    let pids: Vec<u32> = servers.iter().map(|(_, p)| *p).collect();
    // The admission server of each path, by index into `servers` (the policies' is the API server).
    let server_of = |path: &str| {
        let name = match path {
            "none" | "cel" | "compiled-floor" => "kube-apiserver",
            "webhook" => "aims",
            "kyverno-cel" => "kyverno",
            other => other,
        };
        names.iter().position(|n| *n == name).unwrap()
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let started = Instant::now();
    let Creates { latencies, cpu } = api_creates(&client, &paths, PEER_CREATES, &pids).await;
    println!(
        "{} creates in {:.0} s; load average before {}, after {}",
        PEER_CREATES * paths.len(),
        started.elapsed().as_secs_f64(),
        load.trim(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let at = |p: usize, q: f64| percentile(&latencies[p], q).as_secs_f64() * 1e3;
    let none = 0;
    // Ratios to the path at `base`, if it ran.
    let ratio = |p: usize, base: Option<usize>| {
        base.map_or("—".to_owned(), |b| {
            format!(
                "{:.2} / {:.2}",
                at(p, 0.5) / at(b, 0.5),
                at(p, 0.99) / at(b, 0.99)
            )
        })
    };
    let floor_path = paths.iter().position(|p| *p == "allow-all");
    let cel_path = paths.iter().position(|p| *p == "cel");
    println!(
        "| path | p50 ms | p99 ms | × no admission p50 / p99 | × floor p50 / p99 | × VAP p50 / p99 | admission server CPU per create, ms | API server CPU per create, ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (p, path) in paths.iter().enumerate() {
        let server = server_of(path);
        let per = |k: usize| cpu[p][k] / PEER_CREATES as f64 * 1e3;
        // The policies' work is inside the API server: its CPU over that of no admission.
        let own = match *path {
            "none" => "—".to_owned(),
            "cel" | "compiled-floor" => format!(
                "{:.3} (API server over no admission)",
                per(0) - cpu[none][0] / PEER_CREATES as f64 * 1e3
            ),
            _ => format!("{:.3} ({})", per(server), names[server]),
        };
        println!(
            "| {path} | {:.2} | {:.2} | {} | {} | {} | {own} | {:.3} |",
            at(p, 0.5),
            at(p, 0.99),
            ratio(p, Some(none)),
            ratio(p, floor_path),
            ratio(p, cel_path),
            per(0)
        );
    }
    println!("CPU per create (ms) of every watched process, by path:");
    for (p, path) in paths.iter().enumerate() {
        let row: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(k, n)| format!("{n} {:.3}", cpu[p][k] / PEER_CREATES as f64 * 1e3))
            .collect();
        println!("  {path}: {}", row.join(", "));
    }

    // Work a server defers past its answer lands on the next create, of another path: over the
    // whole run, each server's CPU beyond its rate during the creates with no admission, per
    // create of its own paths.
    for (k, name) in names.iter().enumerate().skip(1) {
        let own: Vec<usize> = (0..paths.len())
            .filter(|&p| server_of(paths[p]) == k)
            .collect();
        if own.is_empty() {
            continue;
        }
        let total: f64 = cpu.iter().map(|c| c[k]).sum();
        let others = (paths.len() - own.len()) as f64 * cpu[none][k];
        println!(
            "  {name}, over the whole run: {:.3} ms per create of {:?} beyond its rate with no admission",
            (total - others) / (own.len() * PEER_CREATES) as f64 * 1e3,
            own.iter().map(|&p| paths[p]).collect::<Vec<_>>()
        );
    }

    // Clean up: the webhook configurations first (Kyverno leaves its own behind), then the servers.
    if kyverno.is_some() {
        ok(kubectl(
            &cp,
            &[
                "delete",
                "validatingwebhookconfigurations,mutatingwebhookconfigurations",
                "-l",
                "webhook.kyverno.io/managed-by=kyverno",
            ],
        ));
    }
    ok(kubectl(
        &cp,
        &[
            "delete",
            "validatingwebhookconfigurations",
            "bench-gatekeeper",
            "bench-allow-all",
            "--ignore-not-found",
        ],
    ));
    drop((kyverno, gatekeeper, floor));
    let _ = Api::<Namespace>::all(client.clone())
        .delete(NS, &DeleteParams::default())
        .await;
}
