//! `aims check -f`: the documented verdicts on examples/, the output formats, and the exit status
//! (0 nothing denied, 1 something denied, 2 unreadable input).

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::{check_verdicts, repo, stdout};

const NOW: &str = "2026-11-23T12:00:00Z";

fn aims(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aims"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run aims")
}

#[test]
fn the_examples_get_the_documented_verdicts() {
    let out = aims(&["check", "-f", "examples/", "--now", NOW, "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "something is denied: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        check_verdicts(&report),
        [
            ("credit/Deployment/pd-scorecard", "Deny"),
            ("hr/Deployment/cv-ranker", "Deny"),
            ("research/Deployment/llm-playground", "Warn"),
            ("shop/Deployment/recommender", "Allow"),
            ("support/InferenceService/support-assistant", "Deny"),
        ]
        .map(|(w, v)| (w.to_owned(), v.to_owned()))
    );
    let phases: Vec<(String, String)> = report["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["phase"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [
            ("credit-scoring", "Pending"),
            ("cv-screening", "NonCompliant"),
            ("product-recommender", "Compliant"),
            ("support-assistant", "Pending"),
        ]
        .map(|(s, p)| (s.to_owned(), p.to_owned()))
    );
    assert_eq!(report["approvalsTakenAsWritten"], true);
}

/// The text report is what a reviewer reads; `tests/golden/check-examples.txt` is its documented
/// form. Regenerate with `UPDATE_GOLDEN=1 cargo test --test check`.
#[test]
fn the_text_report_matches_the_golden_file() {
    let out = aims(&["check", "-f", "examples/", "--now", NOW]);
    let text = stdout(&out);
    assert!(
        !text.contains('\u{1b}'),
        "no colour when the output is not a terminal"
    );
    let golden = repo().join("tests/golden/check-examples.txt");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &text).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        text == want,
        "aims check output changed; run UPDATE_GOLDEN=1 cargo test --test check and review the diff:\n{text}"
    );
}

#[test]
fn junit_output_has_a_failure_per_denied_workload() {
    let out = aims(&[
        "check",
        "-f",
        "examples/",
        "--now",
        NOW,
        "--output",
        "junit",
    ]);
    let xml = stdout(&out);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains(r#"<testsuites name="aims check" tests="5" failures="3">"#),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 3);
    assert!(
        xml.contains(
            r#"<testcase name="shop/Deployment/recommender" classname="product-recommender"/>"#
        ),
        "{xml}"
    );
}

#[test]
fn nothing_denied_exits_zero_and_approvals_are_taken_as_written() {
    let out = aims(&[
        "check",
        "-f",
        "tests/fixtures/check/approved.yaml",
        "--now",
        NOW,
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ALLOW"), "{text}");
    assert!(text.contains("Approvals are taken as written"), "{text}");
}

#[test]
fn the_unregistered_policy_is_chosen_on_the_command_line() {
    for (policy, verdict, code) in [
        ("deny", "Deny", 1),
        ("warn", "Warn", 0),
        ("audit", "Allow", 0),
    ] {
        let out = aims(&[
            "check",
            "-f",
            "examples/unregistered/",
            "--unregistered",
            policy,
            "--now",
            NOW,
            "--output",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(code), "{policy}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(check_verdicts(&report)[0].1, verdict, "{policy}");
        let reason = report["workloads"][0]["reasons"][0]["message"]
            .as_str()
            .unwrap();
        assert!(
            reason.contains("unregistered model workload") && reason.contains("vLLM"),
            "{reason}"
        );
    }
}

#[test]
fn a_namespace_label_chooses_the_unregistered_policy_as_the_webhook_does() {
    for (policy, plain, code) in [("warn", "Warn", 1), ("audit", "Allow", 1)] {
        let out = aims(&[
            "check",
            "-f",
            "tests/fixtures/check/namespace-policy/",
            "--unregistered",
            policy,
            "--now",
            NOW,
            "--output",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(code), "{policy}");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            check_verdicts(&report),
            [
                ("lenient/Deployment/chat".to_owned(), "Allow".to_owned()),
                ("plain/Deployment/chat".to_owned(), plain.to_owned()),
                ("strict/Deployment/chat".to_owned(), "Deny".to_owned()),
            ],
            "{policy}"
        );
    }
}

#[test]
fn unreadable_input_exits_two_naming_the_file_document_and_field() {
    let cases = [
        (
            "tests/fixtures/check/typo.yaml",
            "tests/fixtures/check/typo.yaml document 1 (line 2): spec.riskTeir",
        ),
        (
            "tests/fixtures/check/missing.yaml",
            "tests/fixtures/check/missing.yaml",
        ),
    ];
    for (path, want) in cases {
        let out = aims(&["check", "-f", path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}: {err}");
        assert!(err.contains(want), "{path}: {want:?} missing from {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_break_glass_in_the_files_is_refused_as_to_anyone_outside_the_group() {
    let out = aims(&[
        "check",
        "-f",
        "tests/fixtures/check/break-glass.yaml",
        "--now",
        NOW,
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        check_verdicts(&report),
        [("support/Deployment/chat".to_owned(), "Deny".to_owned())]
    );
    let reasons: Vec<&str> = report["workloads"][0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["message"].as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("break-glass not honoured")
                && r.contains(aims_operator::cli::check::OFFLINE_REQUESTER)
                && r.contains("aims:break-glass")),
        "{reasons:#?}"
    );
}
