//! `aims check -f`: the documented verdicts on examples/, the output formats, and the exit status
//! (the sum of 1 something denied, 2 some input unreadable, 4 nothing checked under
//! `--require-workloads`; 0 when none applies).

mod support;

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use serde_json::Value;
use support::{aims_offline as aims, check_verdicts, repo, stdout};

const NOW: &str = "2026-11-23T12:00:00Z";

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
            ("research/LeaderWorkerSet/llm-multinode", "Warn"),
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
        xml.contains(r#"<testsuites name="aims check" tests="6" failures="3">"#),
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

#[test]
fn an_unreadable_file_does_not_silence_the_others_and_the_status_says_both() {
    let typo = "tests/fixtures/check/typo.yaml";
    for (readable, code) in [("tests/fixtures/check/approved.yaml", 2), ("examples/", 3)] {
        let out = aims(&["check", "-f", readable, "-f", typo, "--now", NOW]);
        let (text, err) = (stdout(&out), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{readable}: {text}\n{err}");
        assert!(
            text.contains("Workloads") && text.contains("ALLOW"),
            "{text}"
        );
        assert!(
            err.contains("typo.yaml document 1 (line 2): spec.riskTeir"),
            "{err}"
        );
    }
}

#[test]
fn the_report_says_what_it_checked_and_what_it_skipped() {
    let path = "tests/fixtures/check/no-workloads.yaml";
    let out = aims(&["check", "-f", path, "--now", NOW]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("0 workloads:"), "{text}");
    assert!(
        text.contains("Skipped 3 objects of kinds aims does not govern: ConfigMap ×2, Service."),
        "{text}"
    );
    let out = aims(&["check", "-f", path, "--now", NOW, "--output", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["evaluated"], 0);
    assert_eq!(
        report["skipped"],
        serde_json::json!({"ConfigMap": 2, "Service": 1})
    );

    // Asked to, it fails on an input with nothing to check: an empty render too.
    let out = aims(&["check", "-f", path, "--now", NOW, "--require-workloads"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("nothing checked: the input holds no workload aims governs (skipped: ConfigMap ×2, Service)"),
        "{err}"
    );
    let out = piped(&["check", "-f", "-", "--require-workloads"], "");
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = aims(&[
        "check",
        "-f",
        "examples/",
        "--now",
        NOW,
        "--require-workloads",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "examples/ deny, and hold workloads"
    );
}

/// The CI recipe of the README: a rendered chart on standard input, unregistered model workloads
/// denied, an empty render failing.
#[test]
fn the_ci_recipe_fails_the_build_on_an_unregistered_model_workload() {
    let rendered = "\
apiVersion: v1
kind: Service
metadata: {name: chat, namespace: research}
spec: {selector: {app: chat}, ports: [{port: 8000}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: chat, namespace: research}
spec:
  selector: {matchLabels: {app: chat}}
  template:
    metadata: {labels: {app: chat}}
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.9.1
          args: [--model, Qwen/Qwen2.5-7B-Instruct]
          resources: {limits: {nvidia.com/gpu: 1}}
";
    let args = [
        "check",
        "-f",
        "-",
        "--unregistered",
        "deny",
        "--require-workloads",
    ];
    let out = piped(&args, rendered);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("DENY") && text.contains("research/Deployment/chat"),
        "{text}"
    );
    assert!(text.contains("unregistered model workload"), "{text}");
}

/// `aims` with `args`, `input` on its standard input.
fn piped(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aims"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run aims");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
