//! `aims log verify`: checks a collected log of the operator's tamper-evident records (what
//! `kubectl logs` or a log pipeline keeps) and names each record that was edited, removed,
//! reordered or cut off; with `--anchors`, also against the heads the operator anchored in the
//! cluster. Also reads a log for `aims report --log`.

use std::{collections::BTreeMap, io::Read, path::Path, process::ExitCode};

use crate::engine::chain::{Head, Verification, verify};

/// `aims log` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Verify a collected log of the operator's records: every hash, every link, no record
    /// edited, removed, reordered or cut off.
    ///
    /// Reads the lines of FILE (`-` for standard input); lines that hold no record (the rest of
    /// the operator's log, a pipeline's other fields) are skipped. Exit status: 0 when every
    /// record verifies, 1 when a problem is found, 2 when the log cannot be read or holds no
    /// record.
    #[command(
        after_help = "Examples:\n  kubectl logs -n aims-system deploy/aims-operator > aims.log && aims log verify aims.log\n  aims log verify aims.log --anchors --operator-namespace aims-system\n  aims log verify aims.log -o json | jq '.problems'"
    )]
    Verify(VerifyArgs),
}

/// `aims log verify` arguments.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The collected log (`-` for standard input).
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Also compare each segment with the head the operator anchored in the cluster: a log cut
    /// off at its end, rewritten from some record on, or holding a segment the operator did not
    /// write, shows there.
    #[arg(long)]
    pub anchors: bool,
    /// The operator's namespace, where the anchor is.
    #[arg(long, default_value = "aims-system", value_name = "NS")]
    pub operator_namespace: String,
    /// How to reach the cluster, with --anchors.
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = super::ScanFormat::Table)]
    pub output: super::ScanFormat,
}

/// Why a log cannot be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// `--anchors`, and no anchor in the namespace given.
    #[error(
        "there is no anchor of the operator's records (configmap aims-operator-records) in namespace {namespace}: give the operator's namespace with --operator-namespace"
    )]
    NoAnchor {
        /// The namespace looked in.
        namespace: String,
    },
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It holds no record.
    #[error(
        "{path}: no aims record in its {}; collect the operator's standard output, for example: kubectl logs -n aims-system deploy/aims-operator > aims.log",
        if *lines == 1 { "1 line".to_owned() } else { format!("{lines} lines") }
    )]
    Empty {
        /// The file.
        path: String,
        /// Lines read.
        lines: usize,
    },
}

/// A collected log, read once (standard input cannot be read twice).
pub struct Log {
    shown: String,
    text: String,
}

/// Reads the log at `path` (`-`: standard input).
pub fn load(path: &Path) -> Result<Log, LogError> {
    let shown = path.display().to_string();
    let mut bytes = Vec::new();
    let read = if shown == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes))
    };
    read.map_err(|source| LogError::Read {
        path: shown.clone(),
        source,
    })?;
    // A log may hold bytes that are not UTF-8 (a binary written to standard output): such lines
    // are read lossily, and a record among them fails its hash rather than stopping the check.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(Log { shown, text })
}

impl Log {
    /// Verifies the records against themselves and, when given, against `anchors`.
    pub fn check(
        &self,
        anchors: Option<&BTreeMap<String, Head>>,
    ) -> Result<Verification, LogError> {
        let v = verify(self.text.lines(), anchors);
        if v.records.is_empty() && v.problems.is_empty() {
            return Err(LogError::Empty {
                path: self.shown.clone(),
                lines: v.lines,
            });
        }
        Ok(v)
    }
}

/// The text `aims log verify` prints, and its exit status.
pub fn outcome(path: &Path, v: &Verification, anchored: bool, json: bool) -> (String, ExitCode) {
    let code = if v.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if json {
        let value = serde_json::json!({
            "file": path.display().to_string(),
            "lines": v.lines,
            "records": v.records.len(),
            "segments": v.segments,
            "problems": v.problems.iter().map(|p| serde_json::json!({
                "message": p.to_string(),
                "detail": p,
            })).collect::<Vec<_>>(),
        });
        return (format!("{value:#}\n"), code);
    }
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let mut out = format!(
        "{}: {} in {} ({})\n",
        path.display(),
        plural(v.records.len(), "record"),
        plural(v.segments.len(), "segment"),
        plural(v.lines, "line")
    );
    for s in &v.segments {
        let end = if s.closed {
            "closed"
        } else if anchored {
            "open"
        } else {
            "open (--anchors compares its end with the cluster)"
        };
        out.push_str(&format!(
            "  segment {}: records {} to {}, {end}\n",
            s.id, s.first, s.last
        ));
    }
    if v.problems.is_empty() {
        out.push_str("every record verifies\n");
    } else {
        out.push_str(&format!("{}:\n", plural(v.problems.len(), "problem")));
        for p in &v.problems {
            out.push_str(&format!("  {p}\n"));
        }
    }
    (out, code)
}
