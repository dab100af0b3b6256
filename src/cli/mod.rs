//! The `aims` command line: argument parsing and dispatch to the subcommands.

pub mod approve;
pub mod check;
pub mod connect;
pub mod halt;
pub mod log;
mod render;
pub mod report;
pub mod scan;
pub mod status;

use std::{
    ffi::{OsStr, OsString},
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::{
    admission::config::{Endpoint, FailurePolicy, Options as WebhookOptions},
    crds,
    engine::{
        admission::workload::{BreakGlassPolicy, UnregisteredPolicy},
        approval::Trust,
        catalog::Catalog,
        decide::AdmissionPolicy,
        detect::Detector,
    },
    manifests,
};

/// aims: ISO/IEC 42001 and EU AI Act governance for AI workloads on Kubernetes.
#[derive(Debug, Parser)]
#[command(
    name = "aims",
    version,
    about,
    long_about = None,
    after_help = "As a kubectl plugin: put it on PATH as kubectl-aims (`make install` does), then\n  kubectl aims status -A"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// More governed kinds: a file of catalog/kinds.yaml's shape (`kinds: [...]`), added to the
    /// built-in ones. The operator, `aims check`, `aims scan` and `aims webhook-config` read it
    /// alike; the chart's `extraKinds` value gives the operator one.
    #[arg(long, global = true, env = "AIMS_KINDS_FILE", value_name = "FILE")]
    pub kinds_file: Option<PathBuf>,
}

/// How the binary names itself when kubectl runs it as a plugin: kubectl runs `kubectl aims ...`
/// as the executable `kubectl-aims` found on PATH.
pub const PLUGIN_NAME: &str = "kubectl aims";

/// The plugin's file name.
const PLUGIN_FILE: &str = "kubectl-aims";

/// The name to show in help and usage for a process started as `argv0`: [`PLUGIN_NAME`] when the
/// file is named `kubectl-aims` (a link or a copy on PATH), else `aims`.
pub fn invoked_name(argv0: Option<&OsStr>) -> &'static str {
    let stem = argv0.map(Path::new).and_then(Path::file_stem);
    if stem.is_some_and(|s| s == PLUGIN_FILE) {
        PLUGIN_NAME
    } else {
        "aims"
    }
}

impl Cli {
    /// The command line, showing itself as `name` in usage lines; as the plugin, the examples of
    /// every subcommand read `kubectl aims ...` too.
    pub fn command_named(name: &str) -> clap::Command {
        let mut command = Self::command().bin_name(name);
        if name == PLUGIN_NAME {
            // Already the plugin: no need to say how to become one.
            command = command.after_help(clap::builder::Resettable::Reset);
            let names: Vec<String> = command
                .get_subcommands()
                .map(|c| c.get_name().to_owned())
                .collect();
            for sub in names {
                command = command.mut_subcommand(sub, |c| {
                    let help = c.get_after_help().map(|h| as_plugin(&h.to_string()));
                    match help {
                        Some(help) => c.after_help(help),
                        None => c,
                    }
                });
            }
        }
        command
    }

    /// Parses `args` (the first being the program, as in `std::env::args_os`), naming itself after
    /// it; prints help, version or a usage error and exits as clap does.
    pub fn parse_invoked(args: impl IntoIterator<Item = OsString>) -> Self {
        let args: Vec<OsString> = args.into_iter().collect();
        let mut command = Self::command_named(invoked_name(args.first().map(OsString::as_os_str)));
        let matches = command
            .try_get_matches_from_mut(args)
            .unwrap_or_else(|e| e.exit());
        Self::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut command).exit())
    }
}

/// Example lines as the plugin runs them: `aims check -f dir/` becomes
/// `kubectl aims check -f dir/`, also after a pipe; lines that already say `kubectl aims` stay.
fn as_plugin(help: &str) -> String {
    help.lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            let (lead, rest) = line.split_at(indent);
            let rest = match rest.strip_prefix("aims ") {
                Some(tail) if indent > 0 => format!("{PLUGIN_NAME} {tail}"),
                _ => rest.to_owned(),
            };
            format!(
                "{lead}{}",
                rest.replace("| aims ", &format!("| {PLUGIN_NAME} "))
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the AISystems of a namespace: tier, phase, and the controls they miss.
    ///
    /// Reads the status the operator writes. MISSING lists the ids of the failing controls, worst
    /// first; `kubectl describe aisystem NAME` says what each needs. Without -n, the namespace of
    /// the current kubeconfig context.
    #[command(
        after_help = "Examples:\n  kubectl aims status\n  kubectl aims status -n credit\n  kubectl aims status -A"
    )]
    Status(status::StatusArgs),
    /// Approve a RiskAssessment: append your decision to its spec.approvals.
    ///
    /// The operator's admission webhook stamps the entry with your user and groups, the time and
    /// the hash of the content you approved, and signs it; it refuses the entry if you are not in
    /// an approver group, or submitted or edited the assessment. The approval covers exactly the
    /// content as it is now: if the assessment changed since it was read, nothing is written.
    #[command(
        after_help = "Examples:\n  kubectl aims approve credit-scoring-v3 -n credit\n  kubectl aims approve credit-scoring-v3 -n credit --comment \"residual risks within appetite\""
    )]
    Approve(approve::ApproveArgs),
    /// Reject a RiskAssessment: append your decision, with why, to its spec.approvals.
    ///
    /// Stamped and checked like an approval. A rejection stands until the assessed content
    /// changes.
    #[command(
        after_help = "Examples:\n  kubectl aims reject cv-screening-v2 -n hr --comment \"no fundamental rights impact assessment\""
    )]
    Reject(approve::RejectArgs),
    /// Halt an AISystem: the stop button (EU AI Act Art. 14(4)(e)).
    ///
    /// Sets spec.oversight.halt, with the reason. The operator stops every workload of the system
    /// as its kind allows (scales Deployments and LeaderWorkerSets to zero, suspends CronJobs,
    /// Jobs and PyTorchJobs, stops InferenceServices, ...), and its webhook denies new or
    /// scaled-up workloads until an overseer resumes it.
    #[command(
        after_help = "Examples:\n  kubectl aims halt product-recommender -n shop --reason \"drift under investigation\""
    )]
    Halt(halt::HaltArgs),
    /// Resume a halted AISystem; the operator restores what the halt stopped.
    ///
    /// Only an overseer named in spec.oversight.overseers may resume a system. Clears
    /// spec.oversight.halt and haltReason.
    #[command(
        after_help = "Examples:\n  kubectl aims resume product-recommender -n shop\n  kubectl aims resume product-recommender -n shop --reason \"retrained; drift back within bounds\""
    )]
    Resume(halt::ResumeArgs),
    /// List the unregistered model workloads of a live cluster, with why each looks like one.
    ///
    /// A workload of any governed kind is listed when it looks like model serving (a model-serving
    /// kind such as KServe's, a known serving image or command, an accelerator request, a model
    /// URI) and belongs to no AISystem.
    /// Without -n or -A, the namespace of the current kubeconfig context.
    #[command(
        after_help = "Examples:\n  aims scan -A\n  aims scan -n research\n  aims scan -A -o json | jq '.[].workload'"
    )]
    Scan {
        /// Where: `-n NS`, `-A`, or the current kubeconfig context's namespace.
        #[command(flatten)]
        scope: connect::ListScope,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ScanFormat::Table)]
        output: ScanFormat,
        /// How to reach the cluster.
        #[command(flatten)]
        connect: connect::ConnectArgs,
    },
    /// The auditor's report of the records in manifests: Statement of Applicability, inventory,
    /// risk register with heat maps, approvals ledger, evidence register, open nonconformities.
    ///
    /// Every Annex A control is listed (applicable or not, and why), crosswalked to the EU AI Act,
    /// the NIST AI RMF and the CEN/CLC JTC 21 harmonised standards under preparation. Systems are
    /// evaluated through the same engine path as `aims check`. Of a live cluster (without -f),
    /// approvals count as the operator verified them; of manifests, as written. The HTML is one
    /// file that opens offline and prints.
    #[command(
        after_help = "Examples:\n  aims report -A --file report.html\n  aims report -n credit -o pdf --file credit.pdf\n  aims report -f examples/ -o markdown > report.md\n  aims report -f examples/ -o json | jq '.statementOfApplicability[] | select(.applicable)'"
    )]
    Report(report::ReportArgs),
    /// The operator's tamper-evident records: verify a collected log.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Check manifests offline: which workloads would be admitted, warned or denied, and why.
    ///
    /// Reads AISystems, RiskAssessments, ControlBindings, ClusterControlBindings, Namespaces and
    /// workloads of every governed kind (Deployments, Jobs, Pods, LeaderWorkerSets, RayServices,
    /// PyTorchJobs, KServe InferenceServices, ...) and evaluates them as the operator would. Exit status: 0 when nothing is
    /// denied, 1 when something is, 2 when the input cannot be read.
    #[command(
        after_help = "Examples:\n  aims check -f examples/\n  kustomize build overlays/prod | aims check -f -\n  aims check -f manifests/ --output junit > aims.xml"
    )]
    Check(check::CheckArgs),
    /// Print the CustomResourceDefinitions of the aims API as YAML.
    #[command(
        after_help = "Examples:\n  aims crds | kubectl apply --server-side -f -\n  aims crds --output-dir crds/"
    )]
    Crds {
        /// Write one file per CRD into this directory instead of printing them.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
    /// Print the operator's admission webhook configurations as YAML, to apply with kubectl.
    ///
    /// The ValidatingWebhookConfiguration reviews governed workloads and the aims records; the
    /// MutatingWebhookConfiguration stamps RiskAssessment approvals. Both are named aims-operator;
    /// the running operator fills in their caBundle. kube-system, kube-node-lease and the
    /// operator's namespace are never reviewed, so a stopped webhook cannot lock the cluster out.
    #[command(
        after_help = "Examples:\n  aims webhook-config --url https://127.0.0.1:8443 | kubectl apply -f -\n  aims webhook-config --service aims-operator-webhook --failure-policy Ignore\n\nIn an emergency, remove the webhooks:\n  kubectl delete validatingwebhookconfiguration,mutatingwebhookconfiguration aims-operator"
    )]
    WebhookConfig(WebhookConfigArgs),
    /// Run the operator: evaluate every AISystem and RiskAssessment and write their status.
    ///
    /// Uses the kubeconfig of KUBECONFIG (or the in-cluster service account). Serves /metrics,
    /// /healthz and /readyz on --metrics-addr. Stops cleanly on SIGTERM.
    Run(RunArgs),
}

/// Options of `aims webhook-config`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["url", "service"])))]
pub struct WebhookConfigArgs {
    /// The webhook's base URL, when the API server calls it directly (a local operator).
    #[arg(long)]
    pub url: Option<String>,
    /// The Service the API server calls the webhook through.
    #[arg(long)]
    pub service: Option<String>,
    /// The Service's port.
    #[arg(long, default_value_t = 443)]
    pub service_port: i32,
    /// The operator's namespace (the Service's, and never reviewed).
    #[arg(long, default_value = "aims-system")]
    pub namespace: String,
    /// What the API server does when the webhook cannot answer.
    #[arg(long, value_enum, default_value_t = FailurePolicy::Fail)]
    pub failure_policy: FailurePolicy,
    /// How long the API server waits for an answer, in seconds (1 to 30).
    #[arg(long, default_value_t = crate::admission::config::DEFAULT_TIMEOUT_SECONDS, value_parser = clap::value_parser!(i32).range(1..=30))]
    pub timeout: i32,
    /// More namespaces whose workloads are never reviewed. Repeatable.
    #[arg(long = "exclude-namespace")]
    pub exclude_namespaces: Vec<String>,
}

/// Output formats of `aims scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    /// A table for people.
    Table,
    /// JSON for programs.
    Json,
}

/// Options of `aims run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The namespace the operator runs in; its approval signing key is kept there.
    #[arg(long, env = "AIMS_NAMESPACE", default_value = "aims-system")]
    pub namespace: String,
    /// Where to serve /metrics, /healthz and /readyz.
    #[arg(long, env = "AIMS_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// This replica's name in the leader election (the pod name in a cluster). Defaults to the
    /// host name and process id.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Log format.
    #[arg(long, value_enum, env = "AIMS_LOG_FORMAT", default_value_t = crate::telemetry::LogFormat::Text)]
    pub log_format: crate::telemetry::LogFormat,
    /// Serve only the admission webhook: no controllers, no status writes, no leader election.
    #[arg(long, env = "AIMS_WEBHOOK_ONLY", conflicts_with = "no_webhook")]
    pub webhook_only: bool,
    /// Run only the controllers, without the admission webhook.
    #[arg(long, env = "AIMS_NO_WEBHOOK")]
    pub no_webhook: bool,
    /// Write each namespace's compiled admission floor (AdmissionFloor), which the chart's
    /// ValidatingAdmissionPolicies read: the API server then keeps deciding workload admission
    /// from the last state while the operator or its webhook is down.
    #[arg(long, env = "AIMS_COMPILED_FLOOR")]
    pub compiled_floor: bool,
    /// Where to serve the admission webhook (HTTPS).
    #[arg(long, env = "AIMS_WEBHOOK_ADDR", default_value = "0.0.0.0:8443")]
    pub webhook_addr: std::net::SocketAddr,
    /// The Service the API server reaches the webhook through; the operator's own serving
    /// certificate is made for its DNS names.
    #[arg(
        long,
        env = "AIMS_WEBHOOK_SERVICE",
        default_value = "aims-operator-webhook"
    )]
    pub webhook_service: String,
    /// More names or IP addresses for the operator's own serving certificate (for example
    /// 127.0.0.1 when the API server calls a URL). Repeatable.
    #[arg(
        long = "webhook-host",
        env = "AIMS_WEBHOOK_HOSTS",
        value_delimiter = ','
    )]
    pub webhook_hosts: Vec<String>,
    /// Serve this certificate (PEM) instead of the operator's own, for example one issued by
    /// cert-manager; reloaded when the file changes. Needs --webhook-key-file.
    #[arg(long, env = "AIMS_WEBHOOK_CERT_FILE", requires = "webhook_key_file")]
    pub webhook_cert_file: Option<PathBuf>,
    /// The private key (PEM) of --webhook-cert-file.
    #[arg(long, env = "AIMS_WEBHOOK_KEY_FILE", requires = "webhook_cert_file")]
    pub webhook_key_file: Option<PathBuf>,
    /// Answer only clients presenting a certificate from this CA bundle (PEM): the CA of the
    /// client certificate the API server presents to webhooks (its admission configuration's
    /// kubeConfigFile). Reloaded when the file changes. Unset, the webhook answers any caller.
    #[arg(long, env = "AIMS_WEBHOOK_CLIENT_CA_FILE")]
    pub webhook_client_ca_file: Option<PathBuf>,
    /// A name the client certificate must carry, as its subject's common name or a DNS name.
    /// Repeatable: any one of them will do. Unset, any certificate from the client CA is accepted.
    #[arg(
        long = "webhook-client-name",
        env = "AIMS_WEBHOOK_CLIENT_NAMES",
        value_delimiter = ',',
        requires = "webhook_client_ca_file"
    )]
    pub webhook_client_names: Vec<String>,
    /// What to do with model workloads that belong to no AISystem, where the namespace's
    /// `aims.dev/unregistered` label says nothing.
    #[arg(long, value_enum, env = "AIMS_UNREGISTERED", default_value_t = UnregisteredPolicy::Warn)]
    pub unregistered: UnregisteredPolicy,
    /// The group whose members may admit a workload under break-glass.
    #[arg(
        long,
        env = "AIMS_BREAK_GLASS_GROUP",
        default_value = "aims:break-glass"
    )]
    pub break_glass_group: String,
    /// The longest a break-glass admission may last (for example 4h or 1d).
    #[arg(long, env = "AIMS_BREAK_GLASS_MAX", default_value = "24h", value_parser = parse_duration)]
    pub break_glass_max: jiff::SignedDuration,
}

fn parse_duration(s: &str) -> Result<jiff::SignedDuration, String> {
    crate::engine::approval::parse_valid_for(s).map_err(|e| e.to_string())
}

/// Errors the command line reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Rendering or writing CRDs failed.
    #[error(transparent)]
    Crds(#[from] crds::Error),
    /// Writing to standard output failed.
    #[error("cannot write to standard output: {0}")]
    Stdout(#[from] std::io::Error),
    /// The operator failed.
    #[error(transparent)]
    Run(#[from] crate::runtime::Error),
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot connect to Kubernetes: {0}")]
    Connect(#[from] kube::Error),
    /// Manifests could not be read.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Input(Vec<manifests::LoadError>),
    /// A command that talks to the cluster failed.
    #[error(transparent)]
    Cluster(#[from] connect::ClusterError),
    /// A log of records cannot be checked.
    #[error(transparent)]
    Log(#[from] log::LogError),
    /// The report could not be rendered.
    #[error(transparent)]
    Report(#[from] report::RenderError),
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The governed kinds file is unreadable or refused.
    #[error("--kinds-file {path}: {message}")]
    Kinds {
        /// The file.
        path: PathBuf,
        /// Why it is refused.
        message: String,
    },
}

impl Error {
    /// The process's exit status for this error: 1 when the cluster said no (or could not be
    /// reached), 2 when the command could not run at all (unreadable input, a broken setup).
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Cluster(_) => ExitCode::from(1),
            _ => ExitCode::from(2),
        }
    }
}

/// Installs the governed kinds of `--kinds-file`, if one is given, before anything is read.
fn install_kinds(path: Option<&Path>) -> Result<(), Error> {
    let Some(path) = path else {
        return Ok(());
    };
    let refused = |message: String| Error::Kinds {
        path: path.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| refused(e.to_string()))?;
    let file =
        crate::engine::kinds::KindsFile::from_yaml(&text).map_err(|e| refused(e.to_string()))?;
    crate::engine::kinds::install(file.kinds).map_err(|e| refused(e.to_string()))
}

/// Runs the command and says how the process should exit.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    install_kinds(cli.kinds_file.as_deref())?;
    match cli.command {
        Command::Crds {
            output_dir: Some(dir),
        } => crds::write_dir(&dir)?,
        Command::Crds { output_dir: None } => {
            std::io::stdout()
                .lock()
                .write_all(crds::to_yaml_stream()?.as_bytes())?;
        }
        Command::Check(args) => return run_check(&args),
        Command::Report(args) => run_report(&args)?,
        Command::Log(log::LogCommand::Verify(args)) => return run_log_verify(&args),
        Command::Run(args) => run_operator(args)?,
        Command::Scan {
            scope,
            output,
            connect,
        } => run_scan(&connect, &scope, output)?,
        Command::Status(args) => on_cluster(&args.connect.clone(), |c| async move {
            status::run(&c, args).await
        })?,
        Command::Approve(args) => on_cluster(&args.connect.clone(), |c| async move {
            approve::run(&c, args.into()).await
        })?,
        Command::Reject(args) => on_cluster(&args.connect.clone(), |c| async move {
            approve::run(&c, args.into()).await
        })?,
        Command::Halt(args) => on_cluster(&args.connect.clone(), |c| async move {
            halt::halt(&c, args).await
        })?,
        Command::Resume(args) => on_cluster(&args.connect.clone(), |c| async move {
            halt::resume(&c, args).await
        })?,
        Command::WebhookConfig(args) => {
            let target = match (args.url, args.service) {
                (Some(url), _) => Endpoint::Url(url),
                (None, service) => Endpoint::Service {
                    namespace: args.namespace.clone(),
                    name: service.unwrap_or_default(),
                    port: args.service_port,
                },
            };
            let options = WebhookOptions {
                namespace: args.namespace,
                failure_policy: args.failure_policy,
                timeout_seconds: args.timeout,
                excluded_namespaces: args.exclude_namespaces,
            };
            let yaml = crate::admission::config::to_yaml_stream(&target, &options)
                .map_err(std::io::Error::other)?;
            std::io::stdout().lock().write_all(yaml.as_bytes())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Connects to the cluster of the kubeconfig, runs `command` and prints what it returns.
fn on_cluster<F, Fut>(how: &connect::ConnectArgs, command: F) -> Result<(), Error>
where
    F: FnOnce(connect::Connection) -> Fut,
    Fut: Future<Output = Result<String, connect::ClusterError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let text =
        runtime.block_on(async { command(connect::Connection::connect(how).await?).await })?;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

fn run_scan(
    how: &connect::ConnectArgs,
    scope: &connect::ListScope,
    output: ScanFormat,
) -> Result<(), Error> {
    on_cluster(how, |c| async move {
        let namespace = scope.namespace(&c);
        let rows = scan::scan(&c.client, namespace.as_deref(), &Detector::default())
            .await
            .map_err(|e| c.classify(e, connect::Target::list("aisystem", namespace.as_deref())))?;
        Ok(match output {
            ScanFormat::Table => scan::table(&rows),
            ScanFormat::Json => {
                serde_json::to_string_pretty(&rows)
                    .map_err(|e| connect::ClusterError::Unexpected(e.to_string()))?
                    + "\n"
            }
        })
    })
}

fn default_identity() -> String {
    let host =
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "aims".to_owned());
    format!("{}-{}", host.trim(), std::process::id())
}

fn run_operator(args: RunArgs) -> Result<(), Error> {
    crate::telemetry::init(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = kube::Client::try_default().await?;
        let webhook = (!args.no_webhook).then_some(crate::admission::ServeConfig {
            addr: args.webhook_addr,
            certs: match (args.webhook_cert_file, args.webhook_key_file) {
                (Some(cert), Some(key)) => crate::admission::CertSource::Files { cert, key },
                _ => crate::admission::CertSource::SelfManaged {
                    service: args.webhook_service,
                    hosts: args.webhook_hosts,
                },
            },
            client_auth: args.webhook_client_ca_file.map(|ca_file| {
                crate::admission::client_auth::ClientAuthConfig {
                    ca_file,
                    names: args.webhook_client_names,
                }
            }),
            limits: crate::admission::limits::Limits::default(),
        });
        crate::runtime::run(
            client,
            crate::runtime::Config {
                namespace: args.namespace,
                metrics_addr: args.metrics_addr,
                identity: args.identity.unwrap_or_else(default_identity),
                controllers: !args.webhook_only,
                compiled_floor: args.compiled_floor,
                webhook,
                admission: AdmissionPolicy {
                    unregistered: args.unregistered,
                    break_glass: BreakGlassPolicy {
                        group: args.break_glass_group,
                        max: args.break_glass_max,
                    },
                },
            },
        )
        .await?;
        Ok(())
    })
}

/// `aims check`'s exit status: the sum of what applies, so one number says all of it.
mod check_status {
    /// Something would be denied.
    pub const DENIED: u8 = 1;
    /// Some input could not be read (what could be read was still checked and reported).
    pub const UNREADABLE: u8 = 2;
    /// `--require-workloads`, and the input holds no workload aims governs.
    pub const NOTHING_CHECKED: u8 = 4;
}

fn run_report(args: &report::ReportArgs) -> Result<(), Error> {
    let now = args.now.unwrap_or_else(jiff::Timestamp::now);
    // The log first: an unreadable one stops the report before the cluster is read.
    let log = args.log.as_deref().map(log::load).transpose()?;
    let mut anchors = None;
    let mut built = if args.paths.is_empty() {
        // The live cluster: only the operator can verify signatures, so its word is taken.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (documents, namespace) = runtime.block_on(async {
            let c = connect::Connection::connect(&args.connect).await?;
            let namespace = args.scope.namespace(&c);
            let documents = report::live::documents(&c, namespace.as_deref()).await?;
            // Of a live cluster, the log is also checked against the anchor of its records.
            if log.is_some() {
                match crate::audit::anchor::heads(&c.client, &args.operator_namespace).await {
                    Ok(None) => eprintln!(
                        "warning: the log's records are checked against themselves only: there is no anchor of them in namespace {} (the operator's namespace is --operator-namespace)",
                        args.operator_namespace
                    ),
                    Ok(Some(heads)) => anchors = Some(heads),
                    Err(e) => eprintln!(
                        "warning: the log's records are checked against themselves only: cannot read the anchor in {}: {e}",
                        args.operator_namespace
                    ),
                }
            }
            Ok::<_, connect::ClusterError>((documents, namespace))
        })?;
        check::report(
            documents,
            namespace.as_deref().unwrap_or("default"),
            &Catalog::builtin(),
            Trust::AsRecorded,
            now,
        )
    } else {
        let (documents, errors) = manifests::load_paths(&args.paths);
        if !errors.is_empty() {
            // A report of part of the records would show the rest as missing: none is written.
            return Err(Error::Input(errors));
        }
        let namespace = args.scope.namespace.as_deref().unwrap_or("default");
        check::report(
            documents,
            namespace,
            &Catalog::builtin(),
            Trust::AsWritten,
            now,
        )
    };
    let history = log
        .map(|l| l.check(anchors.as_ref()))
        .transpose()?
        .map(|v| crate::engine::report::history::from_records(&v, anchors.is_some()));
    if let Some(h) = &history
        && !h.problems.is_empty()
    {
        eprintln!(
            "warning: the log's records do not all verify ({} problems); the report lists them",
            h.problems.len()
        );
    }
    built.history = history;
    if built.systems == 0 {
        eprintln!(
            "warning: no AISystem in {}: the report lists the controls, none of them applicable",
            if args.paths.is_empty() {
                "the cluster's records read"
            } else {
                "the manifests"
            }
        );
    }
    let bytes = report::render(&built, args.output)?;
    match &args.file {
        Some(path) => std::fs::write(path, bytes).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?,
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(())
}

fn run_log_verify(args: &log::VerifyArgs) -> Result<ExitCode, Error> {
    let anchors = if args.anchors {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let heads = runtime.block_on(async {
            let c = connect::Connection::connect(&args.connect).await?;
            crate::audit::anchor::heads(&c.client, &args.operator_namespace)
                .await
                .map_err(|e| {
                    c.classify(
                        e,
                        connect::Target::object(
                            "configmap",
                            crate::audit::anchor::NAME,
                            &args.operator_namespace,
                        ),
                    )
                })
        })?;
        heads.ok_or_else(|| log::LogError::NoAnchor {
            namespace: args.operator_namespace.clone(),
        })?
    } else {
        Default::default()
    };
    let v = log::load(&args.file)?.check(args.anchors.then_some(&anchors))?;
    let (text, code) = log::outcome(
        &args.file,
        &v,
        args.anchors,
        args.output == ScanFormat::Json,
    );
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(code)
}

fn run_check(args: &check::CheckArgs) -> Result<ExitCode, Error> {
    let (documents, errors) = manifests::load_paths(&args.paths);
    if documents.is_empty() && !errors.is_empty() {
        // Nothing to report: the errors say it all.
        return Err(Error::Input(errors));
    }
    let now = args.now.unwrap_or_else(jiff::Timestamp::now);
    let report = check::check(
        documents,
        &args.namespace,
        args.unregistered,
        &Catalog::builtin(),
        &Detector::default(),
        now,
    );
    let text = match args.output {
        check::Format::Text => render::text(&report),
        check::Format::Json => render::json(&report)?,
        check::Format::Junit => render::junit(&report),
    };
    anstream::stdout().write_all(text.as_bytes())?;
    let mut status = 0;
    if report.any_denied() {
        status |= check_status::DENIED;
    }
    if !errors.is_empty() {
        eprintln!("error: {}", Error::Input(errors));
        status |= check_status::UNREADABLE;
    }
    if args.require_workloads && report.evaluated == 0 {
        let skipped = report.skipped_kinds();
        eprintln!(
            "error: nothing checked: the input holds no workload aims governs{}",
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" (skipped: {skipped})")
            }
        );
        status |= check_status::NOTHING_CHECKED;
    }
    Ok(ExitCode::from(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `args` print for `--help` (or any other early exit).
    fn help(args: &[&str]) -> String {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let name = invoked_name(args.first().map(OsString::as_os_str));
        Cli::command_named(name)
            .try_get_matches_from(args)
            .expect_err("help exits early")
            .render()
            .to_string()
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        Cli::command_named(PLUGIN_NAME).debug_assert();
    }

    #[test]
    fn named_after_argv0() {
        for (argv0, name) in [
            ("kubectl-aims", PLUGIN_NAME),
            ("/home/me/.cargo/bin/kubectl-aims", PLUGIN_NAME),
            ("/usr/local/bin/kubectl-aims.exe", PLUGIN_NAME),
            ("aims", "aims"),
            ("./target/debug/aims", "aims"),
            ("/usr/bin/kubectl-aims-dev", "aims"),
            ("kubectl", "aims"),
        ] {
            assert_eq!(invoked_name(Some(OsStr::new(argv0))), name, "{argv0}");
        }
        assert_eq!(invoked_name(None), "aims");
    }

    #[test]
    fn as_the_plugin_usage_and_examples_say_kubectl_aims() {
        let text = help(&["/usr/local/bin/kubectl-aims", "status", "--help"]);
        assert!(
            text.contains("Usage: kubectl aims status [OPTIONS]"),
            "{text}"
        );
        let text = help(&["kubectl-aims", "check", "--help"]);
        assert!(
            text.contains("Usage: kubectl aims check [OPTIONS]"),
            "{text}"
        );
        assert!(
            text.contains("\n  kubectl aims check -f examples/\n"),
            "{text}"
        );
        assert!(
            text.contains("kustomize build overlays/prod | kubectl aims check -f -"),
            "{text}"
        );
        let text = help(&["kubectl-aims", "scan", "--help"]);
        assert!(
            text.contains("\n  kubectl aims scan -A -o json | jq"),
            "{text}"
        );
        let text = help(&["kubectl-aims", "--help"]);
        assert!(
            text.contains("Usage: kubectl aims [OPTIONS] <COMMAND>"),
            "{text}"
        );
        assert!(!text.contains("As a kubectl plugin"), "{text}");
        assert!(help(&["aims", "--help"]).contains("As a kubectl plugin"));
    }

    #[test]
    fn as_aims_usage_says_aims() {
        let text = help(&["./target/debug/aims", "check", "--help"]);
        assert!(text.contains("Usage: aims check [OPTIONS]"), "{text}");
        assert!(text.contains("\n  aims check -f examples/\n"), "{text}");
    }

    #[test]
    fn examples_are_rewritten_only_where_they_run_aims() {
        assert_eq!(
            as_plugin(
                "Examples:\n  aims crds | kubectl apply -f -\n  kubectl aims status\n  kubectl delete x aims\naims is not an example"
            ),
            "Examples:\n  kubectl aims crds | kubectl apply -f -\n  kubectl aims status\n  kubectl delete x aims\naims is not an example"
        );
    }

    #[test]
    fn reject_needs_a_comment_and_halt_a_reason() {
        let parse = |args: &[&str]| Cli::command_named("aims").try_get_matches_from(args);
        assert!(parse(&["aims", "reject", "ra"]).is_err());
        assert!(parse(&["aims", "reject", "ra", "--comment", ""]).is_err());
        assert!(parse(&["aims", "reject", "ra", "--comment", "why"]).is_ok());
        assert!(parse(&["aims", "approve", "ra"]).is_ok());
        assert!(parse(&["aims", "halt", "s"]).is_err());
        assert!(parse(&["aims", "halt", "s", "--reason", "drift"]).is_ok());
        assert!(parse(&["aims", "resume", "s"]).is_ok());
        assert!(parse(&["aims", "status", "-A", "-n", "x"]).is_err());
    }

    #[test]
    fn takes_kubectl_s_identity_flags() {
        let cli = Cli::parse_invoked(
            [
                "kubectl-aims",
                "approve",
                "ra",
                "--as",
                "alice",
                "--as-group",
                "a",
                "--as-group",
                "b",
            ]
            .map(OsString::from),
        );
        let Command::Approve(args) = cli.command else {
            panic!("not approve")
        };
        assert_eq!(args.connect.as_user.as_deref(), Some("alice"));
        assert_eq!(args.connect.as_groups, ["a", "b"]);
        let refused = Cli::command_named(PLUGIN_NAME).try_get_matches_from([
            "kubectl-aims",
            "status",
            "--as-group",
            "a",
        ]);
        assert!(refused.is_err(), "--as-group without --as");
    }

    #[test]
    fn parses_as_the_plugin() {
        let cli = Cli::parse_invoked(["kubectl-aims", "status", "-A"].map(OsString::from));
        assert!(matches!(
            cli.command,
            Command::Status(status::StatusArgs {
                scope: connect::ListScope {
                    all_namespaces: true,
                    namespace: None,
                },
                ..
            })
        ));
    }
}
