//! The README's walkthrough, run as written: each `$ command` of its block runs with `sh` on a
//! control plane set up the way `make demo` sets it up (the chart, the examples, then the operator
//! as the chart's ServiceAccount, writing the compiled floor, and its webhooks), and must print what
//! the README shows.

mod support;

use std::time::{Duration, Instant};

use aims_testenv::ControlPlane;
use support::{
    kubectl, ok,
    operator::{Operator, free_port},
    plugin_path, repo,
};

/// The line that marks the walkthrough's block in the README.
const MARKER: &str = "<!-- walkthrough: tests/walkthrough.rs runs this block -->";
const NS: &str = "aims-system";

/// The walkthrough's steps: each command and the output the README shows for it.
fn steps(readme: &str) -> Vec<(String, String)> {
    let start = readme
        .find(MARKER)
        .expect("the README marks its walkthrough");
    let block = &readme[start..];
    let block = &block[block.find("```text\n").expect("a text block") + 8..];
    let block = &block[..block.find("\n```").expect("the block ends")];
    let mut steps: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        match line.strip_prefix("$ ") {
            Some(command) => steps.push((command.to_owned(), String::new())),
            None => {
                let (_, out) = steps.last_mut().expect("the block starts with a command");
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    steps
}

/// Output as compared: without trailing blank lines or spaces, and with ages (`6s`, `2m`) at the
/// end of a table row written as `<age>`.
fn normalize(out: &str) -> String {
    let age = regex::Regex::new(r"\s\d+[smh]$").unwrap();
    out.trim_end()
        .lines()
        .map(|l| age.replace(l.trim_end(), " <age>").into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a command only reads: its output may take a moment to catch up with the operator.
fn reads(command: &str) -> bool {
    command.contains(" get ") || command.starts_with("kubectl aims status")
}

fn helm(cp: &ControlPlane, args: &[&str]) -> String {
    ok(cp.helm().args(args).current_dir(repo()).output().unwrap())
}

/// Applies the files of `examples/`, in order: the RiskAssessments (`riskassessment.yaml`) with
/// `assessments`, everything else without.
fn apply_examples(cp: &ControlPlane, assessments: bool) {
    let mut files = Vec::new();
    let mut dirs = vec![repo().join("examples")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if (path.file_name() == Some("riskassessment.yaml".as_ref())) == assessments {
                files.push(path.strip_prefix(repo()).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    let mut args = vec!["apply"];
    for file in &files {
        args.extend(["-f", file.as_str()]);
    }
    ok(kubectl(cp, &args));
}

#[test]
fn the_readme_walkthrough_prints_what_the_readme_shows() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let steps = steps(&readme);
    assert!(
        steps.len() >= 10,
        "the walkthrough has {} steps",
        steps.len()
    );

    // As `make demo` does it.
    let cp = ControlPlane::start().expect("start a control plane");
    let webhook = format!("127.0.0.1:{}", free_port());
    let chart = [
        "charts/aims-operator",
        "--namespace",
        NS,
        "--create-namespace",
        "--set",
        "replicas=0",
        "--set",
        "defaultBindings.minimal.enabled=false",
        "--set",
        "defaultBindings.highRisk.enabled=false",
    ];
    let mut install = vec!["install", "aims"];
    install.extend(chart);
    install.extend(["--set", "webhook.enabled=false"]);
    helm(&cp, &install);
    // The stand-ins of the kinds the examples use beyond the built-in ones, as `make demo` applies.
    ok(kubectl(&cp, &["apply", "-f", "tests/fixtures/crds/"]));
    support::wait_established(&cp, &["crd", "--all"]);
    // The workloads predate the webhooks; the assessments are created through them (below), so the
    // operator signs who submitted each one.
    apply_examples(&cp, false);
    let op = Operator::start_serving(&cp, NS, "operator", &["--compiled-floor"], &webhook);
    let url = format!("webhook.url=https://{webhook}");
    let mut upgrade = vec!["upgrade", "aims"];
    upgrade.extend(chart);
    upgrade.extend(["--set", &url]);
    helm(&cp, &upgrade);
    op.wait_webhooks_answer(&cp);
    apply_examples(&cp, true);

    for (command, shown) in steps {
        let start = Instant::now();
        loop {
            let out = std::process::Command::new("sh")
                .args(["-c", &format!("{command} 2>&1")])
                .env("PATH", plugin_path(&cp))
                .env("KUBECONFIG", cp.kubeconfig())
                .env("NO_PROXY", "127.0.0.1,localhost")
                .output()
                .unwrap();
            let printed = String::from_utf8_lossy(&out.stdout);
            if normalize(&printed) == normalize(&shown) {
                break;
            }
            assert!(
                reads(&command) && start.elapsed() < Duration::from_secs(20),
                "$ {command}\nprinted:\n{printed}\nthe README shows:\n{shown}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
