//! The `aims` command line: argument parsing and dispatch to the subcommands.

pub mod check;
mod render;
pub mod scan;

use std::{io::Write, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{
    admission::config::{FailurePolicy, Options as WebhookOptions, Target},
    crds,
    engine::{
        admission::workload::{BreakGlassPolicy, UnregisteredPolicy},
        catalog::Catalog,
        detect::Detector,
    },
    manifests,
};

/// aims: ISO/IEC 42001 and EU AI Act governance for AI workloads on Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "aims", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the CustomResourceDefinitions of the aims API as YAML.
    #[command(
        after_help = "Examples:\n  aims crds | kubectl apply --server-side -f -\n  aims crds --output-dir crds/"
    )]
    Crds {
        /// Write one file per CRD into this directory instead of printing them.
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
    /// Check manifests offline: which workloads would be admitted, warned or denied, and why.
    ///
    /// Reads AISystems, RiskAssessments, ControlBindings, ClusterControlBindings, Namespaces and
    /// workloads (Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Pods, KServe
    /// InferenceServices) and evaluates them as the operator would. Exit status: 0 when nothing is
    /// denied, 1 when something is, 2 when the input cannot be read.
    #[command(
        after_help = "Examples:\n  aims check -f examples/\n  kustomize build overlays/prod | aims check -f -\n  aims check -f manifests/ --output junit > aims.xml"
    )]
    Check(check::CheckArgs),
    /// List the unregistered model workloads of a live cluster, with why each looks like one.
    ///
    /// A workload is listed when it looks like model serving (a KServe InferenceService, a known
    /// serving image, an accelerator request, a model URI) and belongs to no AISystem.
    #[command(after_help = "Examples:\n  aims scan\n  aims scan -o json | jq '.[].workload'")]
    Scan {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = ScanFormat::Table)]
        output: ScanFormat,
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
    Controller(#[from] crate::controller::Error),
    /// No usable kubeconfig or in-cluster configuration.
    #[error("cannot connect to Kubernetes: {0}")]
    Connect(#[from] kube::Error),
    /// Manifests could not be read.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Input(Vec<manifests::LoadError>),
}

/// Runs the command and says how the process should exit.
pub fn run(cli: Cli) -> Result<ExitCode, Error> {
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
        Command::Run(args) => run_operator(args)?,
        Command::Scan { output } => run_scan(output)?,
        Command::WebhookConfig(args) => {
            let target = match (args.url, args.service) {
                (Some(url), _) => Target::Url(url),
                (None, service) => Target::Service {
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

fn run_scan(output: ScanFormat) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let rows = runtime.block_on(async {
        let client = kube::Client::try_default().await?;
        scan::scan(&client, &Detector::default()).await
    })?;
    let text = match output {
        ScanFormat::Table => scan::table(&rows),
        ScanFormat::Json => {
            serde_json::to_string_pretty(&rows).map_err(std::io::Error::other)? + "\n"
        }
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
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
            settings: crate::admission::Settings {
                unregistered: args.unregistered,
                break_glass: BreakGlassPolicy {
                    group: args.break_glass_group,
                    max: args.break_glass_max,
                },
            },
        });
        crate::controller::run(
            client,
            crate::controller::Config {
                namespace: args.namespace,
                metrics_addr: args.metrics_addr,
                identity: args.identity.unwrap_or_else(default_identity),
                controllers: !args.webhook_only,
                webhook,
            },
        )
        .await?;
        Ok(())
    })
}

fn run_check(args: &check::CheckArgs) -> Result<ExitCode, Error> {
    let (documents, errors) = manifests::load_paths(&args.paths);
    if !errors.is_empty() {
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
    Ok(if report.any_denied() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
