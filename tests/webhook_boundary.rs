//! The webhook's network boundary, through a real API server: only the API server, which presents
//! its webhook client certificate, gets answers; fabricated reviews posted straight to the port
//! get no answer, no stamp, no decision record and no Event; and slow or huge requests are cut
//! off within the bounds while the operator stays ready, answers the API server, and keeps its
//! memory bounded.

mod support;

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use aims_operator::testing::Manifest;
use aims_testenv::{ControlPlane, WEBHOOK_CLIENT_NAME};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject};
use serde_json::{Value, json};
use support::{
    cluster, eventually, kubectl, kubectl_stdin, namespace, ok,
    operator::{Operator, api_server_identity},
    records::{IMAGE, apply_records},
    stderr, stdout,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream};

const OPERATOR_NS: &str = "aims-system";
const WAIT: Duration = Duration::from_secs(30);

fn operator() -> &'static Operator {
    static OPERATOR: OnceLock<Operator> = OnceLock::new();
    OPERATOR.get_or_init(|| {
        let cp = cluster();
        let op = Operator::start(cp, OPERATOR_NS, "operator");
        // The API server reaches it, so it presents the client certificate the operator wants.
        op.register_webhooks(cp);
        op
    })
}

/// Who a direct caller of the webhook claims to be at the TLS layer.
#[derive(Clone, Copy, Debug)]
enum Caller {
    /// No client certificate.
    Anonymous,
    /// A certificate with the API server's client name, from a CA the operator does not trust.
    OtherCa,
    /// The API server's own client certificate: what only the API server holds.
    ApiServer,
}

/// A TLS client configuration for `caller` that trusts the operator's webhook CA.
fn client_config(cp: &ControlPlane, caller: Caller) -> Arc<ClientConfig> {
    let ca = ok(kubectl(
        cp,
        &[
            "-n",
            OPERATOR_NS,
            "get",
            "secret",
            "aims-webhook-tls",
            "-o",
            r"jsonpath={.data.ca\.crt}",
        ],
    ));
    let ca: k8s_openapi::ByteString = serde_json::from_value(Value::String(ca)).unwrap();
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca.0) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
    let identity = |chain: &str, key: &str| {
        (
            CertificateDer::pem_slice_iter(chain.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap(),
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
    };
    let config = match caller {
        Caller::Anonymous => builder.with_no_client_auth(),
        Caller::ApiServer => {
            let (chain, key) = api_server_identity(cp);
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        Caller::OtherCa => {
            let (chain, key) = other_ca_client();
            let (chain, key) = identity(&chain, &key);
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    Arc::new(config)
}

/// A client certificate and key (PEM) with the API server's webhook client name, from a CA of
/// its own.
fn other_ca_client() -> (String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "aims-testenv-webhook-client-ca");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut client = CertificateParams::new(vec![WEBHOOK_CLIENT_NAME.to_owned()]).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, WEBHOOK_CLIENT_NAME);
    let cert = client.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A TLS connection to the operator's webhook port.
async fn connect(
    op: &Operator,
    config: &Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(op.webhook_addr()).await?;
    TlsConnector::from(config.clone())
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
}

/// Posts `body` to `path` on the webhook port; the HTTP response's body, if any came.
async fn post(
    op: &Operator,
    config: &Arc<ClientConfig>,
    path: &str,
    body: &Value,
) -> Option<String> {
    let body = body.to_string();
    let mut tls = connect(op, config).await.ok()?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.ok()?;
    tls.write_all(body.as_bytes()).await.ok()?;
    tls.flush().await.ok()?;
    let mut response = Vec::new();
    // The operator closes after its answer; a missing close_notify is no concern here.
    let _ = tokio::time::timeout(WAIT, tls.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 ").then(|| body.to_owned())
}

/// Assessment `scoring-v1` of `ns` as stored, printed with `-o OUTPUT`.
fn stored_assessment(cp: &ControlPlane, ns: &str, output: &str) -> String {
    ok(kubectl(
        cp,
        &[
            "-n",
            ns,
            "get",
            "riskassessment",
            "scoring-v1",
            "-o",
            output,
        ],
    ))
}

/// A fabricated review: `user` of `aims:reviewers` appends an approval to `scoring-v1` of `ns`,
/// as the API server would send it to the mutating path.
fn forged_approval(cp: &ControlPlane, ns: &str, uid: &str, user: &str) -> Value {
    let stored = stored_assessment(cp, ns, "json");
    let old: Value = serde_json::from_str(&stored).unwrap();
    let mut object = old.clone();
    object["spec"]["approvals"] = json!([{"decision": "Approve", "comment": "looks fine"}]);
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "aims.dev", "version": "v1alpha1", "kind": "RiskAssessment"},
            "resource": {"group": "aims.dev", "version": "v1alpha1", "resource": "riskassessments"},
            "name": "scoring-v1",
            "namespace": ns,
            "operation": "UPDATE",
            "userInfo": {"username": user, "groups": ["aims:reviewers", "system:authenticated"]},
            "object": object,
            "oldObject": old,
            "dryRun": false,
        }
    })
}

/// A fabricated review of an unapproved Deployment of system `scoring`, which the workloads
/// webhook would deny and publish an Event for.
fn forged_deployment(ns: &str, uid: &str, user: &str) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": format!("{user}-scorer"),
            "namespace": ns,
            "operation": "CREATE",
            "userInfo": {"username": user, "groups": ["system:authenticated"]},
            "object": serde_json::from_str::<Value>(&deployment(ns, &format!("{user}-scorer"))).unwrap(),
            "dryRun": false,
        }
    })
}

/// An unapproved Deployment of system `scoring`.
fn deployment(ns: &str, name: &str) -> String {
    Manifest::deployment(name, IMAGE)
        .namespace(ns)
        .system("scoring")
        .container("scorer")
        .without_requests()
        .yaml()
}

/// The notes of the `AdmissionDenied` Events in `ns`, each with how many times it occurred
/// (repeats on the same AISystem become a series of the first).
fn denial_events(cp: &ControlPlane, ns: &str) -> Vec<(String, u64)> {
    let out = ok(kubectl(
        cp,
        &[
            "-n",
            ns,
            "get",
            "events.events.k8s.io",
            "--field-selector",
            "reason=AdmissionDenied",
            "-o",
            "json",
        ],
    ));
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let count = e["series"]["count"].as_u64().unwrap_or(1);
            Some((e["note"].as_str()?.to_owned(), count))
        })
        .collect()
}

/// The JSON patch of a mutating answer (bytes as a JSON array, or base64).
fn patch_of(answer: &str) -> String {
    let review: Value = serde_json::from_str(answer).unwrap();
    let patch = &review["response"]["patch"];
    let bytes = serde_json::from_value::<Vec<u8>>(patch.clone())
        .or_else(|_| serde_json::from_value::<k8s_openapi::ByteString>(patch.clone()).map(|b| b.0))
        .unwrap_or_default();
    String::from_utf8(bytes).unwrap()
}

/// A fabricated AdmissionReview posted straight to the webhook port, by a caller without the API
/// server's client certificate, gets no answer at all: no stamped approval, no decision record,
/// no Event. The same review from a holder of that certificate is answered, stamp included: the
/// review is well-formed, and only the certificate check keeps it out. Through the API server,
/// which presents the certificate, a governed create is denied as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_api_server_gets_answers() {
    let cp = cluster();
    let op = operator();
    let ns = "wb-mtls";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;

    for caller in [Caller::Anonymous, Caller::OtherCa] {
        let config = client_config(cp, caller);
        let user = format!("forger-{caller:?}").to_lowercase();
        let approval = forged_approval(cp, ns, &format!("{user}-approval"), &user);
        assert_eq!(
            post(op, &config, "/mutate/riskassessments", &approval).await,
            None,
            "{caller:?} got an answer to a fabricated approval"
        );
        let create = forged_deployment(ns, &format!("{user}-create"), &user);
        assert_eq!(
            post(op, &config, "/validate/workloads", &create).await,
            None,
            "{caller:?} got an answer to a fabricated create"
        );
        assert_eq!(
            post(op, &config, "/validate/records", &approval).await,
            None,
            "{caller:?} got an answer on the records path"
        );
    }

    // What the certificate keeps out: the same fabricated approval, from a holder of the API
    // server's client certificate, comes back stamped for the approver it names.
    let api_server = client_config(cp, Caller::ApiServer);
    let approval = forged_approval(cp, ns, "control-approval", "alice");
    let answer = post(op, &api_server, "/mutate/riskassessments", &approval)
        .await
        .expect("the API server's certificate gets an answer");
    let patch = patch_of(&answer);
    assert!(
        patch.contains("signature") && patch.contains("alice"),
        "{answer}\n{patch}"
    );
    let create = forged_deployment(ns, "control-create", "control-creator");
    let answer = post(op, &api_server, "/validate/workloads", &create)
        .await
        .expect("the API server's certificate gets an answer");
    assert!(answer.contains(r#""allowed":false"#), "{answer}");

    // Records and Events are written just after the answers: once the controls' are there,
    // the forgers' would be too. The control's denial is the only one the system has seen.
    let events = eventually(WAIT, "the control requests' records and Event", || async {
        let logs = op.logs();
        let events = denial_events(cp, ns);
        (logs.contains("control-approval") && logs.contains("control-create") && !events.is_empty())
            .then_some(events)
    })
    .await;
    assert_eq!(
        events,
        vec![(
            "CREATE Deployment/control-creator-scorer by control-creator denied: A.6.2.5"
                .to_owned(),
            1
        )]
    );
    assert!(
        !op.logs().contains("forger-"),
        "the operator logged a fabricated request:\n{}",
        op.logs()
            .lines()
            .filter(|l| l.contains("forger-"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // No stamp reached the stored assessment either.
    let approvals = stored_assessment(cp, ns, "jsonpath={.spec.approvals}");
    assert!(matches!(approvals.trim(), "" | "[]"), "{approvals}");
    // The operator said at start that only the client CA's holders are answered.
    assert!(
        op.logs()
            .contains("answers only clients with a certificate from the client CA"),
        "{}",
        op.logs()
    );
    assert!(!op.logs().contains("answers any caller"));

    // Through the API server, which presents the certificate: denied by the webhook as before.
    let denied = kubectl_stdin(cp, &["create", "-f", "-"], &deployment(ns, "scorer"));
    assert!(
        !denied.status.success(),
        "an unapproved Deployment was admitted: {}{}",
        stdout(&denied),
        stderr(&denied)
    );
    assert!(stderr(&denied).contains("A.6.2.5"), "{}", stderr(&denied));
}

/// The operator's resident memory and its high-water mark, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The kinds of hostile connection, how many of each, and how long after it stalls the webhook
/// must have cut it off (its bound, plus 3 s for a loaded machine).
const NO_HANDSHAKE: (usize, Duration) = (60, Duration::from_secs(5 + 3));
const SLOW_HEADERS: (usize, Duration) = (40, Duration::from_secs(10 + 3));
const SLOW_BODIES: (usize, Duration) = (40, Duration::from_secs(10 + 3));
const HUGE_BODIES: (usize, Duration) = (40, Duration::from_secs(10 + 3));
/// An unfinished huge body: 7 MiB declared, all but 1 KiB sent.
const HUGE: usize = 7 * 1024 * 1024;

/// Reads until the server closes the connection (or answers), while `trickle` sends; how long
/// after `trickle` started that took.
async fn cut_off_while<F: Future<Output = ()>>(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    trickle: F,
) -> Duration {
    let start = std::time::Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    let read = async { while reader.read(&mut buf).await.is_ok_and(|n| n > 0) {} };
    tokio::select! {
        () = read => {}
        () = trickle => {}
    }
    start.elapsed()
}

/// Writes one byte of `bytes` a second until the server stops taking them.
async fn trickle(mut writer: impl tokio::io::AsyncWrite + Unpin, bytes: &[u8]) {
    let mut pace = tokio::time::interval(Duration::from_secs(1));
    for byte in bytes.iter().cycle() {
        pace.tick().await;
        if writer.write_all(&[*byte]).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
}

/// A connection that never starts its TLS handshake.
async fn no_handshake(op: &'static Operator) -> Duration {
    let tcp = TcpStream::connect(op.webhook_addr()).await.unwrap();
    cut_off_while(tcp, std::future::pending()).await
}

/// Headers trickled at a byte a second on `tls`.
async fn slow_headers(tls: TlsStream<TcpStream>) -> Duration {
    let (reader, mut writer) = tokio::io::split(tls);
    writer
        .write_all(b"POST /validate/workloads HTTP/1.1\r\n")
        .await
        .unwrap();
    cut_off_while(reader, trickle(writer, b"X-Slow: yes\r\n")).await
}

/// Whole headers for a 10,000-byte body, then the body at a byte a second.
async fn slow_body(tls: TlsStream<TcpStream>) -> Duration {
    let (reader, mut writer) = tokio::io::split(tls);
    writer
        .write_all(b"POST /validate/workloads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000\r\n\r\n{")
        .await
        .unwrap();
    cut_off_while(reader, trickle(writer, b" ")).await
}

/// Whole headers for a 7 MiB body, all of it but the last KiB at once, then nothing.
async fn huge_body(tls: TlsStream<TcpStream>, body: Arc<Vec<u8>>) -> Duration {
    let (reader, mut writer) = tokio::io::split(tls);
    writer
        .write_all(
            format!("POST /validate/workloads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {HUGE}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let send = async move {
        for chunk in body[..HUGE - 1024].chunks(64 * 1024) {
            if writer.write_all(chunk).await.is_err() {
                return;
            }
        }
        let _ = writer.flush().await;
        // Keep the writer (and so the connection) open, sending nothing more.
        std::future::pending::<()>().await;
    };
    cut_off_while(reader, send).await
}

/// One real review through the API server: a dry-run create of an unapproved Deployment, which
/// the webhook denies. Whether the webhook answered, and how long the API server took.
fn real_review(ns: &str) -> (bool, Duration) {
    let start = std::time::Instant::now();
    let out = kubectl_stdin(
        cluster(),
        &["create", "--dry-run=server", "-f", "-"],
        &deployment(ns, "probe"),
    );
    let answered = !out.status.success() && stderr(&out).contains("A.6.2.5");
    (answered, start.elapsed())
}

/// Slow-loris connections (no handshake, headers or a body trickled at a byte a second) and
/// unfinished 7 MiB bodies, all at once, each from the API server's own certificate where TLS
/// lets them that far (the worst case: the HTTP layer's bounds, not mutual TLS, must hold them):
/// each is cut off within its bound, and meanwhile the operator stays ready, the API server's
/// reviews are answered within the chart's 5 s, and the operator's memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_huge_requests_are_cut_off_and_memory_stays_bounded() {
    let cp = cluster();
    let op = operator();
    let ns = "wb-dos";
    namespace(cp, ns);
    apply_records(cp, ns, "Enforce").await;
    assert!(real_review(ns).0, "the webhook does not deny the probe");

    let (rss_before, hwm_before) = memory_kib(op.pid());
    let config = client_config(cp, Caller::ApiServer);
    let body = Arc::new(vec![b' '; HUGE]);
    // The TLS connections first, one handshake at a time (a burst of more handshakes than the
    // server keeps places for would have the newest refused), then all the attacks at once.
    let mut open = Vec::new();
    for _ in 0..SLOW_HEADERS.0 + SLOW_BODIES.0 + HUGE_BODIES.0 {
        open.push(connect(op, &config).await.expect("a TLS connection"));
    }
    let mut attacks = tokio::task::JoinSet::new();
    for _ in 0..SLOW_HEADERS.0 {
        let tls = open.pop().unwrap();
        attacks.spawn(async move { ("slow headers", slow_headers(tls).await) });
    }
    for _ in 0..SLOW_BODIES.0 {
        let tls = open.pop().unwrap();
        attacks.spawn(async move { ("slow body", slow_body(tls).await) });
    }
    for _ in 0..HUGE_BODIES.0 {
        let (tls, body) = (open.pop().unwrap(), body.clone());
        attacks.spawn(async move { ("huge body", huge_body(tls, body).await) });
    }
    for _ in 0..NO_HANDSHAKE.0 {
        attacks.spawn(async move { ("no handshake", no_handshake(op).await) });
    }
    let started = std::time::Instant::now();

    // Meanwhile, every half second: a real review through the API server, readiness, memory.
    let mut reviews = Vec::new();
    let mut rss_peak = rss_before;
    let mut pace = tokio::time::interval(Duration::from_millis(500));
    let mut cut = Vec::new();
    while !attacks.is_empty() {
        tokio::select! {
            done = attacks.join_next() => {
                cut.push(done.unwrap().expect("an attack task panicked"));
                continue;
            }
            _ = pace.tick() => {}
        }
        let ns = ns.to_owned();
        let (review, ready) = tokio::task::spawn_blocking(move || {
            (real_review(&ns), op.get("/readyz").map(|(code, _)| code))
        })
        .await
        .unwrap();
        assert_eq!(
            ready,
            Some(200),
            "the operator was not ready after {:?}",
            started.elapsed()
        );
        reviews.push(review);
        rss_peak = rss_peak.max(memory_kib(op.pid()).0);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "attacks still open after 60 s: {} left",
            attacks.len()
        );
    }
    let (rss_after, hwm_after) = memory_kib(op.pid());

    let mut report = String::new();
    for (kind, (count, bound)) in [
        ("no handshake", NO_HANDSHAKE),
        ("slow headers", SLOW_HEADERS),
        ("slow body", SLOW_BODIES),
        ("huge body", HUGE_BODIES),
    ] {
        let times: Vec<Duration> = cut
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, d)| *d)
            .collect();
        assert_eq!(times.len(), count, "{kind}");
        let longest = times.iter().max().unwrap();
        let shortest = times.iter().min().unwrap();
        report += &format!(
            "{count} × {kind}: cut off after {shortest:.1?} to {longest:.1?} (bound {bound:?})\n"
        );
        assert!(
            longest <= &bound,
            "a {kind} connection was open for {longest:?}"
        );
    }
    let answered = reviews.iter().filter(|(a, _)| *a).count();
    let slowest = reviews.iter().map(|(_, d)| *d).max().unwrap_or_default();
    report += &format!(
        "API server reviews meanwhile: {answered} of {} answered by the webhook, slowest {slowest:.2?}\n\
         operator memory: RSS {} MiB before, sampled peak {} MiB, {} MiB after; high-water mark {} MiB before, {} MiB after\n",
        reviews.len(),
        rss_before / 1024,
        rss_peak / 1024,
        rss_after / 1024,
        hwm_before / 1024,
        hwm_after / 1024,
    );
    eprintln!("{report}");
    assert!(reviews.len() >= 5, "{report}");
    assert_eq!(answered, reviews.len(), "{report}");
    assert!(slowest < Duration::from_secs(5), "{report}");
    // The chart's memory limit is 256 MiB; the bounds hold the webhook's buffers to 56 MiB.
    assert!(hwm_after < 200 * 1024, "{report}");
    assert!(
        hwm_after - hwm_before.min(hwm_after) < 100 * 1024,
        "{report}"
    );
}
