//! `aims report -f`: the auditor's report of the examples, as JSON, Markdown and one self-contained
//! HTML file, with the values the records hold.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{aims_offline as aims, pdf_text, repo, stderr, stdout, tool};

const NOW: &str = "2026-11-23T12:00:00Z";

fn json(path: &str) -> Value {
    let out = aims(&["report", "-f", path, "--now", NOW, "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_report_of_the_examples_holds_every_control_system_and_risk() {
    let r = json("examples/");
    // The summary an auditor reads first.
    assert_eq!(
        r["summary"],
        serde_json::json!({
            "systemsByPhase": {"Compliant": 1, "NonCompliant": 1, "Pending": 2},
            "applicableControls": 26, "controls": 38,
            "risks": 8, "risksOutsideAppetite": 1,
            "approvalsInForce": 0, "evidenceDue": 0, "nonconformities": 22
        })
    );
    // Statement of Applicability: every Annex A control, applicable or excluded with why.
    let soa = r["statementOfApplicability"].as_array().unwrap();
    assert_eq!(soa.len(), 38);
    let row = |id: &str| soa.iter().find(|c| c["id"] == id).unwrap();
    let a1004 = row("A.10.4");
    assert_eq!(a1004["applicable"], false);
    assert_eq!(a1004["systems"][0]["system"], "credit/credit-scoring");
    assert_eq!(a1004["systems"][0]["state"], "Excluded");
    assert!(
        a1004["systems"][0]["justification"]
            .as_str()
            .unwrap()
            .contains("not provided to customers")
    );
    assert_eq!(
        a1004["bindings"],
        serde_json::json!(["ControlBinding credit/lending-controls"])
    );
    let a625 = row("A.6.2.5");
    assert_eq!(a625["decided"], "checked");
    assert_eq!(a625["crosswalk"]["harmonisedStandards"][0], "prEN 18285");
    assert_eq!(
        row("A.9.2")["crosswalk"]["harmonisedStandards"][0],
        "prEN 18229-1"
    );
    assert_eq!(row("A.2.2")["decided"], "attested");

    // Inventory: the four systems with their tier, owner, oversight and phase.
    let inventory: Vec<(String, String, String)> = r["inventory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["system"].as_str().unwrap().to_owned(),
                s["riskTier"].as_str().unwrap().to_owned(),
                s["phase"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        inventory,
        [
            ("credit/credit-scoring", "High", "Pending"),
            ("hr/cv-screening", "High", "NonCompliant"),
            ("shop/product-recommender", "Minimal", "Compliant"),
            ("support/support-assistant", "Limited", "Pending"),
        ]
        .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
    assert_eq!(
        r["inventory"][0]["overseers"],
        serde_json::json!(["jan.novak", "aisha.khan"])
    );

    // Risk register: each risk of the three assessments sits in one cell of each heat map.
    let risks = r["riskRegister"]["risks"].as_array().unwrap();
    assert_eq!(risks.len(), 8);
    let total = |map: &Value| -> u64 {
        map["cells"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap())
            .map(|n| n.as_u64().unwrap())
            .sum()
    };
    assert_eq!(total(&r["riskRegister"]["inherent"]), 8);
    assert_eq!(total(&r["riskRegister"]["residual"]), 8);
    for k in risks {
        let (l, s) = (
            k["likelihood"].as_u64().unwrap(),
            k["severity"].as_u64().unwrap(),
        );
        assert_eq!(k["inherentScore"].as_u64().unwrap(), l * s, "{k}");
        let cell = &r["riskRegister"]["inherent"]["cells"][l as usize - 1][s as usize - 1];
        assert!(cell.as_u64().unwrap() >= 1, "{k}");
    }

    // Evidence register: what expires soonest first.
    let expires: Vec<&str> = r["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["expires"].as_str().unwrap())
        .collect();
    let mut sorted = expires.clone();
    sorted.sort();
    assert_eq!(expires, sorted);
    assert!(!expires.is_empty());

    // Open nonconformities: the enforced controls that fail, e.g. the CV ranker's.
    assert!(
        r["nonconformities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["system"] == "hr/cv-screening" && n["control"] == "A.6.2.8")
    );
}

#[test]
fn the_approvals_ledger_says_who_approved_which_content_until_when() {
    let r = json("tests/fixtures/check/approved.yaml");
    let a = &r["approvals"][0];
    assert_eq!(a["assessment"], "faq-bot-2026");
    assert_eq!(a["decision"], "Approve");
    assert_eq!(a["user"], "risk-officer");
    assert!(a["contentHash"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(a["counts"], true);
    assert_eq!(a["until"], "2027-04-30T09:00:00Z");
}

/// A directory of its own for test `name`, and the report of the examples written into it as
/// `file` in `format`.
fn examples_report(
    name: &str,
    format: &str,
    file: &str,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("aims-report-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(file);
    let out = aims(&[
        "report",
        "-f",
        "examples/",
        "--now",
        NOW,
        "-o",
        format,
        "--file",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "the report goes to the file alone");
    (dir, path)
}

#[test]
fn the_html_report_is_one_file_that_opens_offline() {
    let (dir, file) = examples_report("html", "html", "report.html");
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for section in [
        "Statement of Applicability",
        "AI system inventory",
        "Risk register",
        "Approvals ledger",
        "Evidence register",
        "Open nonconformities",
    ] {
        assert!(html.contains(section), "{section}");
    }
    assert_eq!(html.matches("<svg").count(), 2, "the two heat maps");
    assert!(html.contains("Inherent risk (8 risks)"));
    // Nothing is fetched: no script, stylesheet, image or frame from anywhere.
    for fetch in ["<script", "<link", "<img", "<iframe", "@import", "url("] {
        assert!(!html.contains(fetch), "{fetch}");
    }
    assert!(html.contains("@media print"));
    let _ = std::fs::remove_dir_all(&dir);

    let md = aims(&["report", "-f", "examples/", "--now", NOW, "-o", "markdown"]);
    let md = stdout(&md);
    assert!(md.starts_with("# AI management system report"));
    assert!(
        md.contains("| A.10.4 | Customers | no | attested | credit/credit-scoring: excluded (")
    );
}

#[test]
fn unreadable_input_writes_no_report_and_names_the_field() {
    let out = aims(&[
        "report",
        "-f",
        "tests/fixtures/check/typo.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty(), "no partial report");
    let err = stderr(&out);
    assert!(
        err.contains("typo.yaml") && err.contains("did you mean"),
        "{err}"
    );
}

#[test]
fn the_pdf_reads_as_a_person_sees_it() {
    tool("chromium-headless-shell");
    let (dir, pdf) = examples_report("pdf", "pdf", "report.pdf");
    let text = pdf_text(&pdf);
    for seen in [
        "AI management system report",
        "Risks outside appetite after treatment",
        "Statement of Applicability (ISO/IEC 42001 6.1.3)",
        "Inherent risk (8 risks)",
        "Residual risk (8 risks)",
        "Evidence register (what expires soonest first)",
        "Open nonconformities (ISO/IEC 42001 10.2)",
        "A.10.4",
        "prEN 18285",
        "credit/credit-scoring",
        "jan.novak",
    ] {
        assert!(
            text.contains(seen),
            "the PDF does not show {seen:?}:\n{text}"
        );
    }
    let info = Command::new(tool("pdfinfo")).arg(&pdf).output().unwrap();
    let pages: u32 = stdout(&info)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(pages >= 3, "{pages} pages");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The first page of the HTML report as a browser shows it; with AIMS_UPDATE_SCREENSHOTS=1 it is
/// the README's picture (docs/report-first-page.png).
#[test]
fn the_html_report_shows_its_first_page_in_a_browser() {
    let browser = tool("chromium-headless-shell");
    let (dir, html) = examples_report("png", "html", "report.html");
    let png = dir.join("report.png");
    let mut shot = Command::new(&browser);
    shot.args([
        "--headless",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1280,900",
    ])
    .arg(format!("--user-data-dir={}", dir.join("profile").display()))
    .arg(format!("--screenshot={}", png.display()));
    if std::fs::read_to_string("/proc/self/status").is_ok_and(|s| s.contains("Uid:\t0\t")) {
        shot.arg("--no-sandbox");
    }
    let out = shot
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
    // The page drew something: a blank 1280×900 screenshot compresses to a few kilobytes.
    assert!(bytes.len() > 50_000, "{} bytes: a blank page?", bytes.len());
    if std::env::var_os("AIMS_UPDATE_SCREENSHOTS").is_some() {
        std::fs::copy(&png, repo().join("docs/report-first-page.png")).unwrap();
    }
    assert!(repo().join("docs/report-first-page.png").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A log of the operator's records given on standard input (`--log -`) is read once and its
/// history reported: two records of a nonconformity opened and closed.
#[test]
fn a_log_on_standard_input_adds_the_history() {
    use std::io::Write;

    use aims_operator::{audit::fields, engine::chain::Segment};
    let at = |minute: i64| jiff::Timestamp::from_second(1_795_000_000 + minute * 60).unwrap();
    let about = |control: &str| {
        fields([
            ("namespace", "credit".into()),
            ("system", "credit-scoring".into()),
            ("control", control.into()),
        ])
    };
    let (mut segment, first) =
        Segment::start("aims-operator-0.1", at(0), None, None, Default::default());
    let log = [
        first,
        segment.seal(at(1), "ControlFailing", about("A.6.2.5")),
        segment.seal(at(31), "ControlResolved", about("A.6.2.5")),
    ]
    .join("\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_aims"))
        .args([
            "report",
            "-f",
            "examples/",
            "--now",
            NOW,
            "--log",
            "-",
            "-o",
            "json",
        ])
        .current_dir(repo())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(log.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let history = &report["history"];
    assert_eq!(history["records"], 3, "{history:#}");
    assert_eq!(history["anchored"], false, "{history:#}");
    assert_eq!(
        history["nonconformities"][0]["secondsToClose"],
        30 * 60,
        "{history:#}"
    );
}
