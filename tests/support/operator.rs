//! The operator as its own process (`aims run`), the way it runs in a cluster, pointed at a test
//! control plane; stopped with SIGTERM when dropped.
//!
//! It runs with exactly the rights the Helm chart grants: the chart's ServiceAccount, RBAC and the
//! admission policy that narrows its workload writes are applied, and the operator's kubeconfig
//! impersonates that ServiceAccount. Every scenario that starts an operator thus also proves the
//! chart's RBAC and policy sufficient.
//!
//! Its webhook answers only the API server: it requires the client certificate the test control
//! plane's API server presents to webhooks (`--webhook-client-ca-file`,
//! `--webhook-client-name`), so every scenario that goes through the webhook goes through mutual
//! TLS.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use aims_testenv::ControlPlane;

use super::{apply, kubectl_stdin, namespace, ok, stderr, stdout};

/// A running `aims run`.
pub struct Operator {
    child: Child,
    namespace: String,
    metrics: String,
    webhook: String,
    log: std::path::PathBuf,
    /// The `--kinds-file` it was started with: its webhook configurations review those kinds too.
    kinds_file: Option<String>,
}

/// The user the chart's ServiceAccount authenticates as.
pub fn chart_service_account(namespace: &str) -> String {
    format!("system:serviceaccount:{namespace}:aims-operator")
}

/// Applies the chart's ServiceAccount, RBAC and workload-writes admission policy for an operator
/// in `namespace` (as `helm install` would) and writes a kubeconfig that impersonates that
/// ServiceAccount, with the groups its token would carry. Returns the kubeconfig's path.
pub fn as_chart_service_account(cp: &ControlPlane, namespace: &str) -> std::path::PathBuf {
    as_chart_service_account_with(cp, namespace, None)
}

/// [`as_chart_service_account`], the chart given the rows of `kinds_file` (a file of
/// catalog/kinds.yaml's shape) as its `extraKinds` value, as a platform team gives its own kinds.
pub fn as_chart_service_account_with(
    cp: &ControlPlane,
    namespace: &str,
    kinds_file: Option<&str>,
) -> std::path::PathBuf {
    let mut values = Vec::new();
    if let Some(file) = kinds_file {
        let kinds: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(super::repo().join(file)).unwrap())
                .unwrap();
        let path = cp.dir().join(format!("values-{namespace}.json"));
        let extra = serde_json::json!({"extraKinds": kinds["kinds"]});
        std::fs::write(&path, extra.to_string()).unwrap();
        values = vec!["--values".to_owned(), path.display().to_string()];
    }
    let mut args: Vec<&str> = values.iter().map(String::as_str).collect();
    for template in [
        "templates/serviceaccount.yaml",
        "templates/rbac.yaml",
        "templates/workload-writes-policy.yaml",
        "templates/records-anchor-policy.yaml",
    ] {
        args.extend(["--show-only", template]);
    }
    apply_chart(cp, namespace, &args);

    let mut config = kube::config::Kubeconfig::read_from(cp.kubeconfig()).expect("kubeconfig");
    for named in &mut config.auth_infos {
        let user = named.auth_info.get_or_insert_with(Default::default);
        user.impersonate = Some(chart_service_account(namespace));
        user.impersonate_groups = Some(vec![
            "system:serviceaccounts".to_owned(),
            format!("system:serviceaccounts:{namespace}"),
        ]);
    }
    let path = cp
        .dir()
        .join(format!("kubeconfig-aims-operator-{namespace}"));
    // JSON is YAML too.
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    path
}

/// Applies what `helm template` renders of the chart for a release in `namespace` with `args`
/// (values, `--show-only templates/...`), as `helm install` would.
pub fn apply_chart(cp: &ControlPlane, namespace: &str, args: &[&str]) {
    let rendered = ok(cp
        .helm()
        .args([
            "template",
            "aims",
            "charts/aims-operator",
            "--namespace",
            namespace,
        ])
        .args(args)
        .current_dir(super::repo())
        .output()
        .expect("run helm"));
    ok(kubectl_stdin(cp, &["apply", "-f", "-"], &rendered));
}

/// The compiled floor's ValidatingAdmissionPolicies as the chart installs them with
/// `admission.mode=both` (built-in and custom kinds), for an operator in `namespace`.
pub fn apply_floor_policies(cp: &ControlPlane, namespace: &str) {
    apply_chart(
        cp,
        namespace,
        &[
            "--set",
            "admission.mode=both",
            "--show-only",
            "templates/compiled-floor.yaml",
            "--show-only",
            "templates/compiled-floor-kinds.yaml",
        ],
    );
}

/// The AdmissionFloor `name` of namespace `ns` as JSON (null when there is none).
pub fn floor(cp: &ControlPlane, ns: &str, name: &str) -> serde_json::Value {
    let out = super::kubectl(cp, &["-n", ns, "get", "admissionfloor", name, "-o", "json"]);
    serde_json::from_str(&super::stdout(&out)).unwrap_or_default()
}

/// The entry of `system` in namespace `ns`'s floor, as JSON.
pub fn floor_entry(cp: &ControlPlane, ns: &str, system: &str) -> serde_json::Value {
    floor(cp, ns, "aims-admission-floor")["spec"]["systems"][system].clone()
}

/// The API server's webhook client certificate chain and key: what a test that calls the webhook
/// directly, as the API server does, presents.
pub fn api_server_identity(
    cp: &ControlPlane,
) -> (
    Vec<rustls_pki_types::CertificateDer<'static>>,
    rustls_pki_types::PrivateKeyDer<'static>,
) {
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let chain = CertificateDer::pem_file_iter(cp.webhook_client_cert())
        .expect("the webhook client certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("the webhook client certificate");
    let key = PrivateKeyDer::from_pem_file(cp.webhook_client_key()).expect("its key");
    (chain, key)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Operator {
    /// Starts `aims run` for `namespace` (which is created) and waits until it is ready. Its
    /// webhook serves on a free local port, with a certificate for 127.0.0.1.
    pub fn start(cp: &ControlPlane, namespace: &str, log_name: &str) -> Self {
        Self::start_with(cp, namespace, log_name, &[])
    }

    /// [`Operator::start`] with more arguments for `aims run`.
    pub fn start_with(cp: &ControlPlane, namespace: &str, log_name: &str, extra: &[&str]) -> Self {
        let webhook = format!("127.0.0.1:{}", free_port());
        Self::start_serving(cp, namespace, log_name, extra, &webhook)
    }

    /// [`Operator::start_with`] with the webhook served on `webhook` (`127.0.0.1:PORT`).
    pub fn start_serving(
        cp: &ControlPlane,
        namespace: &str,
        log_name: &str,
        extra: &[&str],
        webhook: &str,
    ) -> Self {
        Self::launch(cp, namespace, log_name, extra, webhook, true)
    }

    /// [`Operator::start_with`] without mutual TLS: its webhook answers any caller, as it does
    /// when `--webhook-client-ca-file` is not set.
    pub fn start_answering_anyone(
        cp: &ControlPlane,
        namespace: &str,
        log_name: &str,
        extra: &[&str],
    ) -> Self {
        let webhook = format!("127.0.0.1:{}", free_port());
        Self::launch(cp, namespace, log_name, extra, &webhook, false)
    }

    /// [`Operator::start_with`] running another build of `aims` (`binary`), for comparing builds.
    pub fn start_binary(
        cp: &ControlPlane,
        namespace: &str,
        log_name: &str,
        extra: &[&str],
        binary: &std::path::Path,
    ) -> Self {
        let webhook = format!("127.0.0.1:{}", free_port());
        Self::launch_binary(cp, namespace, log_name, extra, &webhook, true, binary)
    }

    fn launch(
        cp: &ControlPlane,
        namespace: &str,
        log_name: &str,
        extra: &[&str],
        webhook: &str,
        client_auth: bool,
    ) -> Self {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_aims"));
        Self::launch_binary(cp, namespace, log_name, extra, webhook, client_auth, binary)
    }

    fn launch_binary(
        cp: &ControlPlane,
        namespace: &str,
        log_name: &str,
        extra: &[&str],
        webhook: &str,
        client_auth: bool,
        binary: &std::path::Path,
    ) -> Self {
        let _ = cp
            .kubectl()
            .args(["create", "namespace", namespace])
            .output();
        let kinds_file = extra
            .iter()
            .position(|a| *a == "--kinds-file")
            .map(|i| extra[i + 1].to_owned());
        let kubeconfig = as_chart_service_account_with(cp, namespace, kinds_file.as_deref());
        let metrics = format!("127.0.0.1:{}", free_port());
        let webhook = webhook.to_owned();
        let log = cp.dir().join(format!("{log_name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(binary);
        cmd.args(["run", "--namespace", namespace, "--metrics-addr", &metrics])
            .args(["--webhook-addr", &webhook, "--webhook-host", "127.0.0.1"]);
        if client_auth {
            cmd.arg("--webhook-client-ca-file")
                .arg(cp.webhook_client_ca())
                .args(["--webhook-client-name", aims_testenv::WEBHOOK_CLIENT_NAME]);
        }
        cmd.args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("RUST_LOG", "info,aims_operator=debug")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        // Tied to the test process: a shared operator in a static is never dropped.
        let child = aims_testenv::spawn_tied(cmd).expect("start aims run");
        let mut op = Self {
            child,
            namespace: namespace.to_owned(),
            metrics,
            webhook,
            log,
            kinds_file,
        };
        op.wait_ready();
        op
    }

    fn wait_ready(&mut self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(90) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("aims run exited with {status}:\n{}", self.logs());
            }
            if self.get("/readyz").is_some_and(|(code, _)| code == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("aims run not ready within 90s:\n{}", self.logs());
    }

    /// A plain HTTP GET on the metrics port: status code and body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(&self.metrics).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let code = response.split_whitespace().nth(1)?.parse().ok()?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Some((code, body))
    }

    /// The value of a metric line that starts with `prefix` (0 when absent).
    pub fn metric(&self, prefix: &str) -> f64 {
        let (_, body) = self.get("/metrics").unwrap_or_default();
        body.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// Every status write so far, of every controller.
    pub fn writes(&self) -> f64 {
        let (_, body) = self.get("/metrics").unwrap_or_default();
        body.lines()
            .filter(|l| l.starts_with("aims_status_writes_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Registers the operator's webhooks (`aims webhook-config --url`) on `cp` and waits until the API server reaches them over
    /// TLS with the CA the operator published.
    pub fn register_webhooks(&self, cp: &ControlPlane) {
        let config = ok(Command::new(env!("CARGO_BIN_EXE_aims"))
            .args([
                "webhook-config",
                "--url",
                &self.webhook_url(),
                "--namespace",
                &self.namespace,
            ])
            .args(self.kinds_file.iter().flat_map(|f| ["--kinds-file", f]))
            .current_dir(super::repo())
            .output()
            .unwrap());
        ok(apply(cp, &config));
        self.wait_webhooks_answer(cp);
    }

    /// The webhook's base URL.
    pub fn webhook_url(&self) -> String {
        format!("https://{}", self.webhook)
    }

    /// The webhook's address (`127.0.0.1:PORT`).
    pub fn webhook_addr(&self) -> &str {
        &self.webhook
    }

    /// The operator's namespace, where it keeps its Secrets.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The operator's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its log (standard output and standard error) is written.
    pub fn log_path(&self) -> std::path::PathBuf {
        self.log.clone()
    }

    /// The operator's log so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the API server calls this operator's webhooks with its CA: a dry-run Deployment
    /// labelled for a system that does not exist comes back with the validating webhook's warning
    /// (admitted alone would not tell: a Deployment is admitted before the configuration is
    /// loaded too), and a dry-run RiskAssessment comes back stamped through the mutating one (the
    /// API server loads the two separately).
    pub fn wait_webhooks_answer(&self, cp: &ControlPlane) {
        namespace(cp, "webhook-probe");
        let probe_ra = r#"{"apiVersion":"aims.dev/v1alpha1","kind":"RiskAssessment","metadata":{"name":"probe","namespace":"webhook-probe"},"spec":{"systemRef":{"name":"probe"},"scope":{"artifacts":[{"image":"r.example.com/p@sha256:7777777777777777777777777777777777777777777777777777777777777777"}]},"submittedBy":"nobody"}}"#;
        let probe_deployment = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"probe","namespace":"webhook-probe","labels":{"aims.dev/system":"no-such-system"}},"spec":{"selector":{"matchLabels":{"app":"probe"}},"template":{"metadata":{"labels":{"app":"probe"}},"spec":{"containers":[{"name":"probe","image":"nginx"}]}}}}"#;
        let start = Instant::now();
        loop {
            let stamped = kubectl_stdin(
                cp,
                &[
                    "create",
                    "--dry-run=server",
                    "-o",
                    "jsonpath={.spec.submittedBy}",
                    "-f",
                    "-",
                ],
                probe_ra,
            );
            let out = kubectl_stdin(
                cp,
                &["create", "--dry-run=server", "-f", "-"],
                probe_deployment,
            );
            let warned =
                stderr(&out).contains("names AISystem no-such-system, which does not exist");
            if out.status.success() && warned && stdout(&stamped) == "admin" {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the API server never reached the webhook: {}\n{}",
                stderr(&out),
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The log lines of API calls the API server refused for want of rights.
    pub fn forbidden(&self) -> Vec<String> {
        self.logs()
            .lines()
            .filter(|l| l.contains("forbidden") || l.contains("Forbidden"))
            .map(str::to_owned)
            .collect()
    }

    /// Stops the operator with SIGTERM and returns whether it exited cleanly.
    pub fn stop(mut self) -> bool {
        self.terminate()
    }

    fn terminate(&mut self) -> bool {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
        // The chart's RBAC must suffice for whatever the test made the operator do.
        let forbidden = self.forbidden();
        if !std::thread::panicking() && !forbidden.is_empty() {
            panic!(
                "the API server refused the operator calls the chart's RBAC should allow:\n{}",
                forbidden.join("\n")
            );
        }
    }
}
