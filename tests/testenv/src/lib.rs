//! A real local Kubernetes control plane for tests and the demo: etcd (from the
//! `etcd-bin-vendored` crate), kube-apiserver and kube-controller-manager (built from the upstream
//! Go modules by `tests/controlplane/build.sh`), on free loopback ports, with certificates generated
//! for each one.
//!
//! ```no_run
//! # async fn demo() {
//! let cp = aims_testenv::shared();
//! let client = cp.client().await;
//! let out = cp.kubectl().args(["get", "namespaces"]).output().unwrap();
//! # }
//! ```
//!
//! Every process is a child tied to the test process: it is stopped when the [`ControlPlane`] is
//! dropped (also while a test panics), at exit for [`shared`], and by the kernel if the test process
//! is killed.
//!
//! A test that owns its control plane can stop and start one of its processes again, with the same
//! command line, certificates, ports and data ([`ControlPlane::restart`], or
//! [`ControlPlane::stop_process`] and [`ControlPlane::start_process`] to watch what happens in
//! between): an API server restart, or etcd's with its data kept.

mod certs;
mod process;

pub use certs::WEBHOOK_CLIENT_NAME;

/// Starts a process that dies with the test process, however that ends (on Linux, by
/// `PR_SET_PDEATHSIG`). For processes a test starts beside the control plane, such as the operator.
pub fn spawn_tied(cmd: Command) -> std::io::Result<Child> {
    process::spawn_tied(cmd)
}

use std::{
    fs,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Mutex, OnceLock},
    thread,
    time::{Duration, Instant},
};

/// Errors while starting a control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or process operation failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Generating certificates failed.
    #[error("cannot generate certificates: {0}")]
    Certs(#[from] rcgen::Error),
    /// The Kubernetes binaries could not be built or found.
    #[error("cannot get the Kubernetes binaries: {0}")]
    Binaries(String),
    /// etcd is not available for this platform.
    #[error("etcd: {0}")]
    Etcd(String),
    /// The control plane was started without this component (no controller-manager).
    #[error("{0} is not part of this control plane")]
    NotStarted(&'static str),
    /// A component did not become ready.
    #[error("{component} did not become ready within {seconds}s; last lines of {log}:\n{tail}")]
    NotReady {
        /// The component.
        component: &'static str,
        /// How long it was given.
        seconds: u64,
        /// Its log file.
        log: String,
        /// The end of its log.
        tail: String,
    },
}

/// What to start.
#[derive(Clone, Debug)]
pub struct Options {
    /// Also start kube-controller-manager (garbage collection, namespace deletion, ServiceAccounts,
    /// Deployment → ReplicaSet → Pod). Pods stay Pending: there are no nodes.
    pub controller_manager: bool,
    /// Keep the processes and files after this value is dropped (for `make demo`).
    pub detach: bool,
    /// Where to keep data, certificates, logs and the kubeconfig. A fresh temporary directory
    /// when unset.
    pub dir: Option<PathBuf>,
    /// Have etcd sync each write to disk, as a production etcd does. Off by default: tests and
    /// the demo trade that durability for speed (`--unsafe-no-fsync`); load runs that compare
    /// creation latencies turn it on.
    pub etcd_fsync: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            controller_manager: true,
            detach: false,
            dir: None,
            etcd_fsync: false,
        }
    }
}

/// A running control plane.
///
/// Its API server presents a client certificate to every webhook it calls (see
/// [`ControlPlane::webhook_client_ca`]), as a cluster configured with
/// `--admission-control-config-file` does.
pub struct ControlPlane {
    dir: PathBuf,
    bin_dir: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    webhook_client: WebhookClient,
    etcd_url: String,
    /// In start order: etcd, kube-apiserver, kube-controller-manager.
    processes: Vec<Process>,
    detach: bool,
}

/// A process of a [`ControlPlane`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// etcd. Its data directory stays: a restart keeps every object.
    Etcd,
    /// kube-apiserver.
    ApiServer,
    /// kube-controller-manager.
    ControllerManager,
}

impl Component {
    /// Its name, which is also the stem of its log and pid files in [`ControlPlane::dir`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Etcd => "etcd",
            Self::ApiServer => "kube-apiserver",
            Self::ControllerManager => "kube-controller-manager",
        }
    }
}

/// A process of the control plane: its command line, kept to start it again, and the running child
/// (none while it is stopped).
struct Process {
    component: Component,
    program: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Process {
    fn new(component: Component, program: impl Into<PathBuf>) -> Self {
        Self {
            component,
            program: program.into(),
            args: Vec::new(),
            child: None,
        }
    }

    fn args<S: Into<String>>(&mut self, args: impl IntoIterator<Item = S>) -> &mut Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Stops it (SIGTERM, SIGKILL after `grace`). kube-apiserver stops listening at once, once its
    /// in-flight requests are answered, but then waits up to a minute for watches to hang up: it
    /// is killed as soon as its port refuses connections.
    fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let port = (self.component == Component::ApiServer)
            .then(|| flag(&self.args, "--secure-port")?.parse::<u16>().ok())
            .flatten();
        process::stop_child(&mut child, grace, || {
            port.is_some_and(|port| std::net::TcpStream::connect(("127.0.0.1", port)).is_err())
        });
    }
}

/// The client certificate the API server presents to webhooks, and its CA.
#[derive(Clone, Debug)]
struct WebhookClient {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

const READY_TIMEOUT: Duration = Duration::from_secs(90);
const ATTEMPTS: usize = 3;

impl ControlPlane {
    /// Starts etcd, kube-apiserver and kube-controller-manager, and waits until the API server is
    /// ready and the `default` namespace has its ServiceAccount.
    pub fn start() -> Result<Self, Error> {
        Self::start_with(Options::default())
    }

    /// Starts a control plane as `options` say. Retries with new ports when a port was taken in
    /// the meantime by another process.
    pub fn start_with(options: Options) -> Result<Self, Error> {
        let bin_dir = bin_dir()?;
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let dir = match &options.dir {
                Some(dir) => dir.clone(),
                None => fresh_dir()?,
            };
            match Self::try_start(&options, bin_dir.clone(), dir) {
                Ok(cp) => return Ok(cp),
                Err(err) => last = Some(err),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn try_start(options: &Options, bin_dir: PathBuf, dir: PathBuf) -> Result<Self, Error> {
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| io("create the control plane directory", e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| io("resolve the control plane directory", e))?;
        let pki = certs::generate(&dir)?;
        let [etcd_port, peer_port, api_port, cm_port] = free_ports()?;
        let server = format!("https://127.0.0.1:{api_port}");
        let kubeconfig = dir.join("kubeconfig");
        write_kubeconfig(&kubeconfig, &server, &pki)?;
        let admission_config = write_admission_config(&dir, &pki)?;

        let mut cp = Self {
            dir: dir.clone(),
            bin_dir: bin_dir.clone(),
            kubeconfig: kubeconfig.clone(),
            server: server.clone(),
            webhook_client: WebhookClient {
                ca: pki.webhook_client_ca.clone().into(),
                cert: pki.webhook_client_cert.clone().into(),
                key: pki.webhook_client_key.clone().into(),
            },
            etcd_url: String::new(),
            processes: Vec::new(),
            detach: options.detach,
        };
        let etcd = etcd_bin_vendored::etcd_bin_path().map_err(|e| Error::Etcd(e.to_string()))?;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        cp.etcd_url = etcd_url.clone();
        let mut etcd = Process::new(Component::Etcd, etcd);
        etcd.args([
            "--data-dir",
            &dir.join("etcd").display().to_string(),
            "--name",
            "aims-testenv",
            "--listen-client-urls",
            &etcd_url,
            "--advertise-client-urls",
            &etcd_url,
            "--listen-peer-urls",
            &format!("http://127.0.0.1:{peer_port}"),
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer_port}"),
            "--initial-cluster",
            &format!("aims-testenv=http://127.0.0.1:{peer_port}"),
            "--log-level",
            "warn",
        ]);
        if !options.etcd_fsync {
            etcd.args(["--unsafe-no-fsync"]);
        }
        cp.add(etcd)?;

        let mut apiserver = Process::new(Component::ApiServer, bin_dir.join("kube-apiserver"));
        apiserver.args([
            "--etcd-servers",
            &etcd_url,
            "--bind-address",
            "127.0.0.1",
            "--advertise-address",
            "127.0.0.1",
            "--secure-port",
            &api_port.to_string(),
            "--cert-dir",
            &dir.display().to_string(),
            "--tls-cert-file",
            &pki.server_cert,
            "--tls-private-key-file",
            &pki.server_key,
            "--client-ca-file",
            &pki.ca_cert,
            "--authorization-mode",
            "RBAC",
            "--service-account-issuer",
            "https://kubernetes.default.svc",
            "--service-account-key-file",
            &pki.sa_pub,
            "--service-account-signing-key-file",
            &pki.sa_key,
            "--service-cluster-ip-range",
            "10.0.0.0/24",
            "--allow-privileged",
            "--admission-control-config-file",
            &admission_config.display().to_string(),
            "--profiling=false",
            "--v",
            "1",
        ]);
        if !options.controller_manager {
            apiserver.args(["--disable-admission-plugins", "ServiceAccount"]);
        }
        cp.add(apiserver)?;
        cp.wait_ready(Component::ApiServer)?;

        if options.controller_manager {
            let kubeconfig = kubeconfig.display().to_string();
            let mut cm = Process::new(
                Component::ControllerManager,
                bin_dir.join("kube-controller-manager"),
            );
            cm.args([
                "--kubeconfig",
                &kubeconfig,
                "--authentication-kubeconfig",
                &kubeconfig,
                "--authorization-kubeconfig",
                &kubeconfig,
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                &cm_port.to_string(),
                "--cert-dir",
                &dir.display().to_string(),
                "--service-account-private-key-file",
                &pki.sa_key,
                "--root-ca-file",
                &pki.ca_cert,
                "--cluster-signing-cert-file",
                &pki.ca_cert,
                "--cluster-signing-key-file",
                &pki.ca_key,
                "--leader-elect=false",
                // Each controller acts as its own kube-system ServiceAccount, as in kubeadm
                // clusters: a Pod a ReplicaSet's controller creates is told from one a user
                // creates by who writes it.
                "--use-service-account-credentials",
                "--profiling=false",
                "--v",
                "1",
            ]);
            cp.add(cm)?;
            cp.wait_for("kube-controller-manager", || {
                cp.kubectl_quiet(&["get", "serviceaccount", "default", "--namespace", "default"])
            })?;
        }
        Ok(cp)
    }

    /// Starts `process` and keeps it, in start order.
    fn add(&mut self, process: Process) -> Result<(), Error> {
        self.processes.push(process);
        let last = self.processes.len() - 1;
        self.spawn(last)
    }

    /// Starts the process at `index` of `processes` with its command line; its output is appended
    /// to its log, so a restart keeps what it printed before.
    fn spawn(&mut self, index: usize) -> Result<(), Error> {
        let name = self.processes[index].component.name();
        let log = self.log_path(name);
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| io(&format!("open {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| io("duplicate a log file handle", e))?;
        let process = &self.processes[index];
        let mut cmd = Command::new(&process.program);
        cmd.args(&process.args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("http_proxy");
        let child = if self.detach {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0).spawn()
        } else {
            process::spawn_tied(cmd)
        }
        .map_err(|e| io(&format!("start {name}"), e))?;
        fs::write(self.dir.join(format!("{name}.pid")), child.id().to_string())
            .map_err(|e| io("write a pid file", e))?;
        self.processes[index].child = Some(child);
        Ok(())
    }

    fn index(&self, component: Component) -> Result<usize, Error> {
        self.processes
            .iter()
            .position(|p| p.component == component)
            .ok_or_else(|| Error::NotStarted(component.name()))
    }

    /// Stops `component` (SIGTERM, then SIGKILL after 10 s, or as soon as kube-apiserver has
    /// stopped listening) and waits until it is gone. The others
    /// keep running: with the API server stopped, clients get refused connections; with etcd
    /// stopped, the API server answers with errors. Does nothing if it is already stopped.
    pub fn stop_process(&mut self, component: Component) -> Result<(), Error> {
        let index = self.index(component)?;
        if self.processes[index].child.is_some() {
            self.processes[index].stop(Duration::from_secs(10));
            let _ = fs::remove_file(self.dir.join(format!("{}.pid", component.name())));
        }
        Ok(())
    }

    /// Starts a stopped `component` again with the command line it was first started with: the
    /// same flags, certificates, ports and data directory. Returns at once; see
    /// [`ControlPlane::wait_ready`]. Does nothing if it is running.
    ///
    /// Its ports were free a moment ago; another process could take one in between, and then it
    /// exits and [`ControlPlane::wait_ready`] says so with its log.
    pub fn start_process(&mut self, component: Component) -> Result<(), Error> {
        let index = self.index(component)?;
        if self.processes[index].child.is_some() {
            return Ok(());
        }
        self.spawn(index)
    }

    /// Stops `component` and starts it again ([`ControlPlane::stop_process`],
    /// [`ControlPlane::start_process`]), then waits until it is ready
    /// ([`ControlPlane::wait_ready`]).
    pub fn restart(&mut self, component: Component) -> Result<(), Error> {
        self.stop_process(component)?;
        self.start_process(component)?;
        self.wait_ready(component)
    }

    /// Waits until `component` is ready: etcd answers `/health` and then the API server is ready
    /// again; the API server answers `/readyz` and serves the `default` namespace;
    /// the controller-manager accepts connections on its port. Fails early if a process of the
    /// control plane exits meanwhile.
    pub fn wait_ready(&self, component: Component) -> Result<(), Error> {
        match component {
            Component::Etcd => {
                self.wait_for("etcd", || {
                    http_get(&self.etcd_url, "/health").is_some_and(|b| b.contains("true"))
                })?;
                self.wait_ready(Component::ApiServer)
            }
            Component::ApiServer => self.wait_for("kube-apiserver", || {
                self.kubectl_quiet(&["get", "--raw", "/readyz"])
                    && self.kubectl_quiet(&["get", "namespace", "default"])
            }),
            Component::ControllerManager => {
                let index = self.index(component)?;
                let port = flag(&self.processes[index].args, "--secure-port").unwrap_or_default();
                self.wait_for("kube-controller-manager", || {
                    std::net::TcpStream::connect(("127.0.0.1", port.parse().unwrap_or(0))).is_ok()
                })
            }
        }
    }

    /// Polls `ready` until it holds; fails early when a child process has exited.
    fn wait_for(&self, component: &'static str, ready: impl Fn() -> bool) -> Result<(), Error> {
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            if ready() {
                return Ok(());
            }
            if let Some(dead) = self.dead_child() {
                return Err(self.not_ready(dead, start.elapsed()));
            }
            thread::sleep(Duration::from_millis(250));
        }
        Err(self.not_ready(component, start.elapsed()))
    }

    fn dead_child(&self) -> Option<&'static str> {
        self.processes.iter().find_map(|process| {
            let child = process.child.as_ref()?;
            let name = process.component.name();
            let pid = libc::pid_t::try_from(child.id()).ok()?;
            // SAFETY: signal 0 only checks that the process exists.
            let gone = unsafe { libc::kill(pid, 0) } != 0;
            let mut status = 0;
            // SAFETY: non-blocking status check of our own child; reaps a zombie.
            let exited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid;
            (gone || exited).then_some(name)
        })
    }

    fn not_ready(&self, component: &'static str, waited: Duration) -> Error {
        let log = self.log_path(component);
        let text = fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<_> = text.lines().collect();
        Error::NotReady {
            component,
            seconds: waited.as_secs(),
            log: log.display().to_string(),
            tail: lines[lines.len().saturating_sub(30)..].join("\n"),
        }
    }

    fn log_path(&self, component: &str) -> PathBuf {
        self.dir.join(format!("{component}.log"))
    }

    fn kubectl_quiet(&self, args: &[&str]) -> bool {
        self.kubectl()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// A kubeconfig file for the admin user (in `system:masters`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The directory holding data, certificates, logs and the kubeconfig.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA (PEM) of the client certificate the API server presents to every webhook it calls:
    /// what a webhook's `--webhook-client-ca-file` names. `webhook-client-ca.crt` in
    /// [`ControlPlane::dir`].
    pub fn webhook_client_ca(&self) -> &Path {
        &self.webhook_client.ca
    }

    /// The API server's webhook client certificate (PEM), `webhook-client.crt` in
    /// [`ControlPlane::dir`]; its name is [`WEBHOOK_CLIENT_NAME`].
    pub fn webhook_client_cert(&self) -> &Path {
        &self.webhook_client.cert
    }

    /// The private key (PEM) of [`ControlPlane::webhook_client_cert`].
    pub fn webhook_client_key(&self) -> &Path {
        &self.webhook_client.key
    }

    /// The directory holding kube-apiserver, kube-controller-manager, kubectl and helm.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// A client for the admin user. Make one per async runtime: a client belongs to the runtime
    /// it was made on.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read the kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .expect("load the kubeconfig");
        kube::Client::try_from(config).expect("build a client")
    }

    /// `kubectl` (built for the same Kubernetes version) pointed at this control plane.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(self.bin_dir.join("kubectl"));
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("NO_PROXY", "127.0.0.1,localhost");
        cmd
    }

    /// `helm` pointed at this control plane, with its state kept in the control plane's directory.
    pub fn helm(&self) -> Command {
        let mut cmd = Command::new(self.bin_dir.join("helm"));
        cmd.env("KUBECONFIG", &self.kubeconfig)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("HELM_CACHE_HOME", self.dir.join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir.join("helm/config"))
            .env("HELM_DATA_HOME", self.dir.join("helm/data"));
        cmd
    }

    /// Stops every process, last started first, and removes the directory.
    fn stop_all(&mut self) {
        for process in self.processes.iter_mut().rev() {
            process.stop(Duration::from_secs(5));
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if !self.detach {
            self.stop_all();
        }
    }
}

/// Stops a detached control plane started with `Options { detach: true, dir: Some(dir), .. }`,
/// by the process ids recorded in `dir`. Returns how many processes were stopped.
pub fn stop_detached(dir: &Path) -> usize {
    let mut stopped = 0;
    for name in ["kube-controller-manager", "kube-apiserver", "etcd"] {
        let pid_file = dir.join(format!("{name}.pid"));
        if let Some(pid) = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            process::stop_pid(pid, Duration::from_secs(10));
            let _ = fs::remove_file(pid_file);
            stopped += 1;
        }
    }
    stopped
}

/// One control plane shared by every test of a test binary, started on first use and stopped when
/// the test binary exits. Tests share it by working in namespaces of their own.
pub fn shared() -> &'static ControlPlane {
    static SHARED: OnceLock<ControlPlane> = OnceLock::new();
    static STARTING: Mutex<()> = Mutex::new(());
    if let Some(cp) = SHARED.get() {
        return cp;
    }
    let _guard = STARTING.lock().unwrap_or_else(|p| p.into_inner());
    SHARED.get_or_init(|| {
        let cp = ControlPlane::start()
            .unwrap_or_else(|e| panic!("cannot start the local control plane: {e}"));
        let _ = SHARED_DIR.set(cp.dir.clone());
        // SAFETY: registering a plain extern "C" function with no captured state.
        unsafe { libc::atexit(stop_shared) };
        cp
    })
}

extern "C" fn stop_shared() {
    // Statics are never dropped; stop the shared control plane's processes at exit instead.
    static STOPPED: OnceLock<()> = OnceLock::new();
    STOPPED.get_or_init(|| {
        if let Some(dir) = SHARED_DIR.get() {
            stop_detached(dir);
            let _ = fs::remove_dir_all(dir);
        }
    });
}

static SHARED_DIR: OnceLock<PathBuf> = OnceLock::new();

/// The directory with the Kubernetes binaries: `$AIMS_K8S_BIN` when set, otherwise what
/// `tests/controlplane/build.sh` prints (it builds what is missing, once, into a cache).
pub fn bin_dir() -> Result<PathBuf, Error> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(dir) = std::env::var_os("AIMS_K8S_BIN") {
            return Ok(PathBuf::from(dir));
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../controlplane/build.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!("{} failed with {}", script.display(), out.status));
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    })
    .clone()
    .map_err(Error::Binaries)
}

fn fresh_dir() -> Result<PathBuf, Error> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    Ok(std::env::temp_dir().join(format!("aims-testenv-{}-{n}", std::process::id())))
}

/// Picks free loopback ports by binding port 0. Another process can take one before it is used;
/// the caller retries on failure.
fn free_ports<const N: usize>() -> Result<[u16; N], Error> {
    let listeners = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io("find a free port", e))?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(|e| io("find a free port", e))?
            .port();
    }
    Ok(ports)
}

fn write_kubeconfig(path: &Path, server: &str, pki: &certs::Pki) -> Result<(), Error> {
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "aims-local", "cluster": {"server": server, "certificate-authority": pki.ca_cert}}],
        "users": [{"name": "admin", "user": {"client-certificate": pki.admin_cert, "client-key": pki.admin_key}}],
        "contexts": [{"name": "aims-local", "context": {"cluster": "aims-local", "user": "admin"}}],
        "current-context": "aims-local",
    });
    fs::write(
        path,
        serde_json::to_string_pretty(&config).expect("a JSON value serializes"),
    )
    .map_err(|e| io("write the kubeconfig", e))
}

/// Writes the API server's admission configuration: both webhook plugins read a kubeconfig whose
/// only user, for every webhook host (`*`), is the webhook client certificate. Returns its path.
fn write_admission_config(dir: &Path, pki: &certs::Pki) -> Result<PathBuf, Error> {
    let kubeconfig = dir.join("webhook-client.kubeconfig");
    let users = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "users": [{"name": "*", "user": {
            "client-certificate": pki.webhook_client_cert,
            "client-key": pki.webhook_client_key,
        }}],
    });
    let plugin = |name: &str| {
        serde_json::json!({
            "name": name,
            "configuration": {
                "apiVersion": "apiserver.config.k8s.io/v1",
                "kind": "WebhookAdmissionConfiguration",
                "kubeConfigFile": kubeconfig,
            },
        })
    };
    let config = serde_json::json!({
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [plugin("ValidatingAdmissionWebhook"), plugin("MutatingAdmissionWebhook")],
    });
    let path = dir.join("admission-config.json");
    for (file, value) in [(&kubeconfig, &users), (&path, &config)] {
        fs::write(
            file,
            serde_json::to_string_pretty(value).expect("a JSON value serializes"),
        )
        .map_err(|e| io("write the admission configuration", e))?;
    }
    Ok(path)
}

/// The value of `--name value` in `args`.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).map(String::as_str)
}

/// A plain HTTP/1.0 GET of `path` on `base` (`http://host:port`): the body of a 200 answer.
fn http_get(base: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let addr = base.strip_prefix("http://")?;
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    (head.split_whitespace().nth(1) == Some("200")).then(|| body.to_owned())
}

fn io(what: &str, source: std::io::Error) -> Error {
    Error::Io {
        what: what.to_owned(),
        source,
    }
}
