//! `aims report`: the auditor's report of the records in manifests, as JSON, Markdown or one
//! self-contained HTML file.

mod html;
pub mod live;
mod markdown;
pub mod pdf;
mod tables;

use std::path::PathBuf;

use jiff::Timestamp;

use crate::engine::report::Report;

/// `aims report` arguments.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Manifests to report on: files, directories (read recursively) or `-` for standard input.
    /// Without them, the live cluster of the kubeconfig: `-n NS` or `-A`.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Of a live cluster: `-n NS`, `-A`, or the current kubeconfig context's namespace. Of
    /// manifests: `-n` is the namespace of objects that name none (`default` otherwise).
    #[command(flatten)]
    pub scope: super::connect::ListScope,
    /// How to reach the live cluster.
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Html)]
    pub output: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A collected log of the operator's records (`kubectl logs`): adds when each nonconformity
    /// opened and closed, and the history of approvals, expiries, halts and break-glass use. The
    /// log is verified first; what does not verify is listed in the report.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Of a live cluster with --log: the operator's namespace, where the anchor of its records is.
    #[arg(long, default_value = "aims-system", value_name = "NS")]
    pub operator_namespace: String,
    /// Report as of this time (RFC 3339), instead of now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<Timestamp>,
}

/// Report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One HTML file that opens offline: styles and charts inline, print-ready.
    Html,
    /// Markdown, for a wiki or a pull request.
    Markdown,
    /// JSON (its fields are documented in docs/report.md).
    Json,
    /// PDF: the HTML printed by a headless Chromium found on PATH.
    Pdf,
}

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// JSON encoding failed.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// No PDF could be printed.
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
}

/// The report in `format`.
pub fn render(report: &Report, format: Format) -> Result<Vec<u8>, RenderError> {
    Ok(match format {
        Format::Html => html::render(report).into_bytes(),
        Format::Markdown => markdown::render(report).into_bytes(),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(report)?;
            text.push('\n');
            text.into_bytes()
        }
        Format::Pdf => pdf::print(&html::render(report))?,
    })
}

/// A time as a date (`2026-12-07`), for tables.
fn date(t: &Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}
