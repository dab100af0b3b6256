//! The tamper-evident records through a real API server: the operator's decisions and lifecycle
//! transitions as a hash chain in its own log, a restart as a linked segment, the anchor in the
//! cluster that only the operator may write, `aims log verify` naming each record edited, removed,
//! reordered or cut off, and `aims report --log` reading the nonconformity and approvals history.

mod support;

use std::{
    process::{Command, Output},
    time::Duration,
};

use aims_operator::engine::chain::find;
use aims_testenv::ControlPlane;
use support::{
    apply, as_admin, cluster, eventually, install_crds, kubectl, merge_patch, namespace, ok,
    operator::Operator,
    pdf_text,
    records::{IMAGE, apply_records},
    refused, stderr, stdout,
};

const OPERATOR_NS: &str = "aims-audit";
const NS: &str = "audit-credit";
const WAIT: Duration = Duration::from_secs(30);

/// `aims` against the test control plane as its admin.
fn aims(cp: &ControlPlane, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aims"))
        .args(args)
        .env("KUBECONFIG", cp.kubeconfig())
        .output()
        .expect("run aims")
}

/// [`aims`] with `input` on its standard input.
fn aims_with_input(cp: &ControlPlane, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_aims"))
        .args(args)
        .env("KUBECONFIG", cp.kubeconfig())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run aims");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().expect("run aims")
}

fn deployment() -> String {
    aims_operator::testing::Manifest::deployment("scorer", IMAGE)
        .namespace(NS)
        .system("scoring")
        .container("scorer")
        .cpu("100m")
        .yaml()
}

async fn wait_phase(cp: &ControlPlane, phase: &str) {
    let seen = std::sync::Mutex::new(String::new());
    let what = format!("scoring to be {phase}");
    let waited = tokio::time::timeout(
        WAIT,
        eventually(WAIT + Duration::from_secs(1), &what, || async {
            let out = kubectl(
                cp,
                &[
                    "-n",
                    NS,
                    "get",
                    "aisystem",
                    "scoring",
                    "-o",
                    "jsonpath={.status}",
                ],
            );
            let status = stdout(&out);
            let now: serde_json::Value = serde_json::from_str(&status).unwrap_or_default();
            *seen.lock().unwrap() = status;
            (now["phase"] == phase).then_some(())
        }),
    )
    .await;
    assert!(
        waited.is_ok(),
        "{what}; the status is {}",
        seen.lock().unwrap()
    );
}

fn patch(cp: &ControlPlane, what: &str, body: &str, who: &[String]) -> Output {
    merge_patch(cp, NS, what, body, who)
}

/// The record lines of `log`, with the segment and number of each.
fn records(log: &str) -> Vec<(usize, String, u64)> {
    log.lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let (r, _) = find(l)?.ok()?;
            Some((i, r.segment, r.seq))
        })
        .collect()
}

#[tokio::test]
async fn the_records_verify_name_each_tampering_and_feed_the_report() {
    let cp = cluster();
    install_crds(cp, false);

    // A first operator: a denial, an approval, an admission.
    let first = Operator::start(cp, OPERATOR_NS, "audit-1");
    first.register_webhooks(cp);
    namespace(cp, NS);
    apply_records(cp, NS, "Enforce").await;
    wait_phase(cp, "Pending").await;
    refused(&apply(cp, &deployment()), "A.6.2.5");
    let approve =
        r#"{"spec":{"approvals":[{"decision":"Approve","comment":"risks are treated"}]}}"#;
    ok(patch(
        cp,
        "riskassessment/scoring-v1",
        approve,
        &as_admin("alice", "aims:reviewers"),
    ));
    wait_phase(cp, "Compliant").await;
    ok(apply(cp, &deployment()));
    let first_log = first.log_path();
    assert!(first.stop(), "the first operator stops cleanly");

    // A restart: a new segment, linked to where the first ended. A halt and a resume.
    let second = Operator::start(cp, OPERATOR_NS, "audit-2");
    second.register_webhooks(cp);
    let olga = as_admin("olga", "overseers");
    ok(patch(
        cp,
        "aisystem/scoring",
        r#"{"spec":{"oversight":{"halt":true,"haltReason":"drift under investigation"}}}"#,
        &olga,
    ));
    wait_phase(cp, "Halted").await;
    ok(patch(
        cp,
        "aisystem/scoring",
        r#"{"spec":{"oversight":{"halt":null,"haltReason":null}}}"#,
        &olga,
    ));
    wait_phase(cp, "Compliant").await;
    let second_log = second.log_path();
    assert!(second.stop(), "the second operator stops cleanly");

    let log = std::fs::read_to_string(&first_log).unwrap()
        + &std::fs::read_to_string(&second_log).unwrap();
    let dir = cp.dir().join("audit");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let collected = write("collected.log", &log);

    // As collected, every record verifies, against itself and against the anchor.
    let verified = aims(
        cp,
        &[
            "log",
            "verify",
            &collected,
            "--anchors",
            "--operator-namespace",
            OPERATOR_NS,
        ],
    );
    let text = stdout(&verified);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{text}{}",
        stderr(&verified)
    );
    assert!(text.contains("every record verifies"), "{text}");
    let segments = text.matches("  segment ").count();
    assert!(segments >= 2, "a segment per process at least: {text}");
    assert!(
        text.contains(", closed\n"),
        "a process that stopped in order closes its segment: {text}"
    );

    // One record edited, one removed, two reordered: each is named by its number.
    let all = records(&log);
    let busiest = all
        .iter()
        .map(|(_, s, _)| s.clone())
        .max_by_key(|s| all.iter().filter(|(_, t, _)| t == s).count())
        .unwrap();
    let line_of = |seq: u64| {
        all.iter()
            .find(|(_, s, n)| *s == busiest && *n == seq)
            .map(|(i, _, _)| *i)
            .unwrap_or_else(|| panic!("record {seq} of {busiest} in:\n{log}"))
    };
    let mut lines: Vec<String> = log.lines().map(str::to_owned).collect();
    let edited = line_of(2);
    lines[edited] = lines[edited].replacen("\"at\":\"20", "\"at\":\"19", 1);
    lines.swap(line_of(6), line_of(7));
    lines.remove(line_of(4));
    let tampered = write("tampered.log", &(lines.join("\n") + "\n"));
    let out = aims(cp, &["log", "verify", &tampered]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for says in [
        format!(
            "record 2 of segment {busiest} (line {}) was edited",
            edited + 1
        ),
        format!("record 4 of segment {busiest} was removed"),
        format!("record 6 of segment {busiest}"),
    ] {
        assert!(text.contains(&says), "{says:?} in:\n{text}");
    }
    assert!(
        text.contains("was moved: it comes after record 7"),
        "{text}"
    );

    // A process that stops in order anchors its segment's closing record.
    let (_, last_segment, last_seq) = records(&log).pop().unwrap();
    let anchor = ok(kubectl(
        cp,
        &[
            "-n",
            OPERATOR_NS,
            "get",
            "configmap",
            aims_operator::audit::anchor::NAME,
            "-o",
            "json",
        ],
    ));
    let anchor: serde_json::Value = serde_json::from_str(&anchor).unwrap();
    let head: serde_json::Value =
        serde_json::from_str(anchor["data"][&last_segment].as_str().unwrap()).unwrap();
    assert_eq!(
        head["seq"], last_seq,
        "the closing record is anchored: {head}"
    );

    // Cut off at the end: the anchor in the cluster knows the last record.
    let record_lines: Vec<usize> = records(&log).iter().map(|(i, _, _)| *i).collect();
    let keep = record_lines[record_lines.len() - 3];
    let cut = write(
        "cut.log",
        &(log.lines().take(keep).collect::<Vec<_>>().join("\n") + "\n"),
    );
    let out = aims(
        cp,
        &[
            "log",
            "verify",
            &cut,
            "--anchors",
            "--operator-namespace",
            OPERATOR_NS,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("the anchor in the cluster shows record"),
        "{}",
        stdout(&out)
    );

    // A segment made up whole, hashes and all, and a record line cut short: the anchor does not
    // know the first, and the second is named by its line.
    let (forger, first) = aims_operator::engine::chain::Segment::start(
        "aims-operator-forged.1",
        jiff::Timestamp::now(),
        None,
        None,
        Default::default(),
    );
    let mut forger = forger;
    let resolved = forger.seal(
        jiff::Timestamp::now(),
        "ControlResolved",
        aims_operator::audit::fields([
            ("namespace", NS.into()),
            ("system", "scoring".into()),
            ("control", "A.6.2.5".into()),
        ]),
    );
    let broken = &first[..first.len() - 10];
    let forged = write(
        "forged.log",
        &format!("{log}{first}\n{resolved}\n{broken}\n"),
    );
    let out = aims(
        cp,
        &[
            "log",
            "verify",
            &forged,
            "--anchors",
            "--operator-namespace",
            OPERATOR_NS,
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("segment aims-operator-forged.1 is not in the anchor in the cluster"),
        "{text}"
    );
    let broken_line = log.lines().count() + 3;
    assert!(
        text.contains(&format!("line {broken_line}: a record that cannot be read")),
        "{text}"
    );

    // The anchor is the operator's alone: not even a cluster admin may change or delete it.
    let mallory = as_admin("mallory", "ops");
    let mut args = vec![
        "-n",
        OPERATOR_NS,
        "patch",
        "configmap",
        aims_operator::audit::anchor::NAME,
        "--type",
        "merge",
        "-p",
        r#"{"data":{"x":"y"}}"#,
    ];
    args.extend(mallory.iter().map(String::as_str));
    let out = kubectl(cp, &args);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("only the operator"),
        "{}",
        stderr(&out)
    );
    let mut args = vec![
        "-n",
        OPERATOR_NS,
        "delete",
        "configmap",
        aims_operator::audit::anchor::NAME,
    ];
    args.extend(mallory.iter().map(String::as_str));
    let out = kubectl(cp, &args);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("only the operator"),
        "{}",
        stderr(&out)
    );

    // The report reads the history from the records.
    // The log on standard input, as a pipeline hands it over: read once, checked once.
    let out = aims_with_input(
        cp,
        &[
            "report",
            "-n",
            NS,
            "--log",
            "-",
            "--operator-namespace",
            OPERATOR_NS,
            "-o",
            "json",
        ],
        &log,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let history = &report["history"];
    assert_eq!(history["problems"], serde_json::json!([]), "{history:#}");
    assert_eq!(
        history["anchored"], true,
        "checked against the anchor too: {history:#}"
    );
    let closed = history["nonconformities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["system"] == format!("{NS}/scoring") && e["control"] == "A.6.2.5")
        .unwrap_or_else(|| panic!("the approval's nonconformity in {history:#}"));
    assert!(
        closed["closed"].is_string(),
        "closed once approved: {closed}"
    );
    assert!(closed["secondsToClose"].as_i64().is_some(), "{closed}");
    let events: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    for event in ["Approved", "Halted", "Resumed"] {
        assert!(events.contains(&event), "{event} in {events:?}");
    }
    let approved = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "Approved")
        .unwrap();
    assert_eq!(approved["who"], "alice", "{approved}");
    assert!(
        approved["contentHash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"),
        "{approved}"
    );

    // As a person reads it: the PDF (printed by a headless Chromium) shows the history.
    let pdf = dir.join("report.pdf");
    let out = aims(
        cp,
        &[
            "report",
            "-n",
            NS,
            "--log",
            &collected,
            "--operator-namespace",
            OPERATOR_NS,
            "-o",
            "pdf",
            "--file",
            pdf.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = pdf_text(&pdf);
    for seen in [
        "Records (the operator's tamper-evident log)",
        "checked against themselves and the anchor in the cluster",
        "Nonconformity register, from the records",
        "Approvals, halts and break-glass, from the records",
        "Halted",
        "Resumed",
        "alice",
    ] {
        assert!(
            text.contains(seen),
            "the PDF does not show {seen:?}:\n{text}"
        );
    }

    // Bad input: a log without records, and a tampered log in the report.
    let empty = write("empty.log", "2026-12-07T05:30:00Z INFO starting\n");
    let out = aims(cp, &["log", "verify", &empty]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no aims record in its 1 line"),
        "{}",
        stderr(&out)
    );
    let out = aims(cp, &["log", "verify", &collected, "--anchors"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no anchor of the operator's records (configmap aims-operator-records) in namespace aims-system"),
        "{}",
        stderr(&out)
    );
    let out = aims(
        cp,
        &["report", "-n", NS, "--log", &tampered, "-o", "markdown"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("do not all verify"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("was edited"), "{}", stdout(&out));
}
