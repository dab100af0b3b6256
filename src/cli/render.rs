//! How `aims check` prints its report: text for people (coloured on a terminal only), JSON for
//! programs, JUnit XML for CI systems.

use std::{fmt::Write as _, io};

use anstyle::{AnsiColor, Style};

use super::check::{Report, WorkloadReport};
use crate::{api::Phase, engine::evaluate::Verdict};

const DENY: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const ALLOW: Style = AnsiColor::Green.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

fn verdict_label(v: Verdict) -> (Style, &'static str) {
    match v {
        Verdict::Deny => (DENY, "DENY "),
        Verdict::Warn => (WARN, "WARN "),
        Verdict::Allow => (ALLOW, "ALLOW"),
    }
}

fn phase_style(p: Phase) -> Style {
    match p {
        Phase::Compliant => ALLOW,
        Phase::Pending => WARN,
        Phase::NonCompliant | Phase::Halted => DENY,
    }
}

/// The report for people. Styles are ANSI escapes; `anstream` strips them when the output is not
/// a terminal.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{BOLD}Workloads{BOLD:#}  (would be admitted, warned or denied)"
    );
    for w in &report.workloads {
        workload_text(&mut out, w);
    }
    let _ = writeln!(out, "\n{BOLD}Systems{BOLD:#}");
    for s in &report.systems {
        let style = phase_style(s.phase);
        let _ = writeln!(
            out,
            "  {}/{}  {}  {style}{:?}{style:#}  controls {}{}",
            s.namespace,
            s.name,
            s.risk_tier,
            s.phase,
            s.controls,
            s.approval
                .as_ref()
                .map(|a| format!(
                    "  approved ({}) by {}{}",
                    a.assessment,
                    a.approvers.join(", "),
                    a.expires_at
                        .map(|t| format!(", expires {t}"))
                        .unwrap_or_default()
                ))
                .unwrap_or_default()
        );
        for f in &s.findings {
            let _ = writeln!(
                out,
                "      {} {DIM}{:?}{DIM:#}  {}{}",
                f.control,
                f.enforcement,
                f.workload
                    .as_ref()
                    .map(|w| format!("{w}: "))
                    .unwrap_or_default(),
                f.message
            );
        }
    }
    let (allowed, warned, denied) = counts(report);
    let n = report.workloads.len();
    let _ = writeln!(
        out,
        "\n{n} workload{}: {allowed} admitted, {warned} admitted with warnings, {denied} denied.",
        if n == 1 { "" } else { "s" }
    );
    let skipped: usize = report.skipped.values().sum();
    if skipped > 0 {
        let _ = writeln!(
            out,
            "Skipped {skipped} object{} of kinds aims does not govern: {}.",
            if skipped == 1 { "" } else { "s" },
            report.skipped_kinds()
        );
    }
    if report.approvals_taken_as_written {
        let _ = writeln!(
            out,
            "{DIM}Approvals are taken as written: offline there is no key to verify their signatures; in the cluster only signed approvals count.{DIM:#}"
        );
    }
    out
}

fn workload_text(out: &mut String, w: &WorkloadReport) {
    let (style, label) = verdict_label(w.verdict);
    let system = w
        .system
        .as_ref()
        .map_or_else(|| "no AISystem".to_owned(), |s| format!("AISystem {s}"));
    let _ = writeln!(
        out,
        "  {style}{label}{style:#}  {}/{}  {DIM}({system}){DIM:#}",
        w.namespace, w.workload
    );
    for r in w.reasons.iter().take(MAX_REASONS) {
        let control = match (&r.control, r.enforcement) {
            (Some(c), Some(e)) => format!("{c} {DIM}{e:?}{DIM:#}  "),
            _ => String::new(),
        };
        let _ = writeln!(out, "         {control}{}", r.message);
    }
    if w.reasons.len() > MAX_REASONS {
        let _ = writeln!(
            out,
            "         {DIM}... and {} more: see {system} under Systems{DIM:#}",
            w.reasons.len() - MAX_REASONS
        );
    }
}

/// Reasons shown per workload; the system's section lists them all.
const MAX_REASONS: usize = 4;

fn counts(report: &Report) -> (usize, usize, usize) {
    let n = |v| report.workloads.iter().filter(|w| w.verdict == v).count();
    (n(Verdict::Allow), n(Verdict::Warn), n(Verdict::Deny))
}

/// The report as JSON.
pub fn json(report: &Report) -> io::Result<String> {
    serde_json::to_string_pretty(report).map_err(io::Error::other)
}

/// The report as JUnit XML: one test case per workload; a denied workload is a failure, warnings
/// are in its system-out.
pub fn junit(report: &Report) -> String {
    let (_, _, denied) = counts(report);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"aims check\" tests=\"{}\" failures=\"{denied}\">",
        report.workloads.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"admission\" tests=\"{}\" failures=\"{denied}\" timestamp=\"{}\">",
        report.workloads.len(),
        report.now
    );
    for w in &report.workloads {
        let name = xml(&format!("{}/{}", w.namespace, w.workload));
        let class = xml(w.system.as_deref().unwrap_or("unregistered"));
        let reasons: Vec<String> = w
            .reasons
            .iter()
            .map(|r| match &r.control {
                Some(c) => format!("{c}: {}", r.message),
                None => r.message.clone(),
            })
            .collect();
        let _ = write!(out, "    <testcase name=\"{name}\" classname=\"{class}\"");
        match w.verdict {
            Verdict::Allow if reasons.is_empty() => out.push_str("/>\n"),
            Verdict::Deny => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"denied\" type=\"Deny\">{}</failure>\n    </testcase>",
                    xml(&reasons.join("\n"))
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    xml(&reasons.join("\n"))
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_drops_control_characters() {
        assert_eq!(xml("a<b>&\"c'\u{1}\n"), "a&lt;b&gt;&amp;&quot;c&apos;\n");
    }
}
