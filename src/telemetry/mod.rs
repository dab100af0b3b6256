//! Logging: human-readable or JSON lines, filtered by `RUST_LOG` (default `info`); and the
//! operator's [`metrics`].

pub mod metrics;

use tracing_subscriber::{EnvFilter, fmt, fmt::MakeWriter, prelude::*};

/// Log line formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// For people at a terminal.
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// Installs the global tracing subscriber, writing to standard error. Calling it twice is
/// harmless.
pub fn init(format: LogFormat) {
    init_with_writer(format, std::io::stderr);
}

/// Installs the global tracing subscriber of [`init`], writing to `writer` (benchmarks pass a
/// sink, to pay for the log lines without printing them). Calling it twice is harmless.
pub fn init_with_writer<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry.with(fmt::layer().with_writer(writer)).try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_writer(writer))
            .try_init(),
    };
}
