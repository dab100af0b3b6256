//! Helpers shared by the integration tests: one real control plane per test binary with the aims
//! CRDs installed, and `kubectl` driven the way a user drives it.
#![allow(dead_code)] // each test binary uses a different subset

pub mod operator;
pub mod records;

use std::{
    io::Write,
    path::Path,
    process::{Output, Stdio},
    sync::OnceLock,
};

use aims_testenv::ControlPlane;

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `aims ARGS` run in the repository root, with no cluster: the offline commands (`check`,
/// `report`).
pub fn aims_offline(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_aims"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run aims")
}

/// The shared control plane, with the aims CRDs and the stand-in CRDs (KServe, LeaderWorkerSet,
/// JobSet, NIM) installed and Established.
pub fn cluster() -> &'static ControlPlane {
    static READY: OnceLock<()> = OnceLock::new();
    let cp = aims_testenv::shared();
    READY.get_or_init(|| install_crds(cp, true));
    cp
}

/// Installs the aims CRDs (and, with `stand_ins`, the stand-in CRDs of `tests/fixtures/crds/`: the
/// examples' InferenceService and LeaderWorkerSet apply) and waits until they are Established.
pub fn install_crds(cp: &ControlPlane, stand_ins: bool) {
    ok(kubectl(cp, &["apply", "--server-side", "-f", "crds/"]));
    if stand_ins {
        apply_crds(cp, Path::new("tests/fixtures/crds"));
    }
    wait_established(cp, &["crd", "--all"]);
}

/// Applies the CRDs of `dir` server-side: the upstream ones are too large for kubectl's
/// last-applied annotation, and a stand-in applied before is taken over.
fn apply_crds(cp: &ControlPlane, dir: &Path) {
    ok(kubectl(
        cp,
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            dir.to_str().unwrap(),
        ],
    ));
}

/// Installs the CRD of every governed custom-resource kind and waits until they are Established:
/// the real upstream CRDs that `tests/controlplane/build.sh` fetched from their Go modules
/// (KubeRay, Kubeflow's training operator and trainer, Argo Rollouts, Knative Serving), and the
/// stand-ins of `tests/fixtures/crds/` for the kinds whose modules cannot be fetched.
pub fn install_kind_crds(cp: &ControlPlane) {
    let upstream = cp.bin_dir().join("../upstream-crds");
    assert!(
        upstream.is_dir(),
        "{} is missing: run tests/controlplane/build.sh",
        upstream.display()
    );
    for dir in [upstream.as_path(), Path::new("tests/fixtures/crds")] {
        apply_crds(cp, dir);
    }
    wait_established(cp, &["crd", "--all"]);
}

/// Waits until the CRDs `targets` names (for example `["crd", "--all"]`) are Established.
pub fn wait_established(cp: &ControlPlane, targets: &[&str]) {
    let mut args = vec!["wait", "--for", "condition=Established", "--timeout", "60s"];
    args.extend_from_slice(targets);
    ok(kubectl(cp, &args));
}

/// Runs kubectl in the repository root.
pub fn kubectl(cp: &ControlPlane, args: &[&str]) -> Output {
    cp.kubectl()
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run kubectl")
}

/// `kubectl apply -f -` with `manifest` on standard input.
pub fn apply(cp: &ControlPlane, manifest: &str) -> Output {
    kubectl_stdin(cp, &["apply", "-f", "-"], manifest)
}

/// kubectl with `input` on standard input.
pub fn kubectl_stdin(cp: &ControlPlane, args: &[&str], input: &str) -> Output {
    let mut child = cp
        .kubectl()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kubectl");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .expect("write to kubectl");
    child.wait_with_output().expect("wait for kubectl")
}

/// PATH with, first, a directory holding `kubectl-aims` (a link to the aims binary, which is how
/// the plugin is installed), then the control plane's `kubectl` and `helm`, then the PATH of the
/// test.
pub fn plugin_path(cp: &ControlPlane) -> std::ffi::OsString {
    let dir = cp.dir().join("plugin-bin");
    let link = dir.join("kubectl-aims");
    if !link.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        match std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_aims"), &link) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                panic!("link kubectl-aims: {e}")
            }
            _ => {}
        }
    }
    let mut paths = vec![dir, cp.bin_dir().to_owned()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

/// Creates a namespace for one test.
pub fn namespace(cp: &ControlPlane, name: &str) {
    let out = kubectl(cp, &["create", "namespace", name]);
    assert!(
        out.status.success() || stderr(&out).contains("AlreadyExists"),
        "create namespace {name}: {}",
        stderr(&out)
    );
}

/// Asserts the command succeeded and returns its standard output.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        stderr(&out),
        stdout(&out)
    );
    stdout(&out)
}

/// Asserts the command was refused and its standard error says `says`.
pub fn refused(out: &Output, says: &str) {
    assert!(
        !out.status.success(),
        "expected a refusal saying {says:?}, got success: {}",
        stdout(out)
    );
    assert!(
        stderr(out).contains(says),
        "expected {says:?} in: {}",
        stderr(out)
    );
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Polls `probe` every 200 ms until it returns `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: std::time::Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The verdicts of an `aims check --output json` report, as `namespace/Kind/name` and verdict, in
/// the report's order.
pub fn check_verdicts(report: &serde_json::Value) -> Vec<(String, String)> {
    report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                format!(
                    "{}/{}",
                    w["namespace"].as_str().unwrap(),
                    w["workload"].as_str().unwrap()
                ),
                w["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A headless Chromium and poppler, which `make test` installs (scripts/install-browser.sh): these
/// tests look at the report as a person does, and never skip.
pub fn tool(name: &str) -> String {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    found
        .unwrap_or_else(|| {
            panic!("{name} is missing: run `bash scripts/install-browser.sh` (make test does)")
        })
        .display()
        .to_string()
}

/// kubectl's flags to act as `user`, a cluster admin (so the test needs no RBAC) who is in `group`
/// too: what the API server's own policies, not RBAC, must refuse or allow.
pub fn as_admin(user: &str, group: &str) -> Vec<String> {
    vec![
        format!("--as={user}"),
        "--as-group=system:masters".to_owned(),
        format!("--as-group={group}"),
    ]
}

/// `kubectl patch --type merge` of `what` (`kind/name`) in `ns` with `body`, with the extra flags
/// `who` (see [`as_admin`]).
pub fn merge_patch(cp: &ControlPlane, ns: &str, what: &str, body: &str, who: &[String]) -> Output {
    let mut args = vec!["-n", ns, "patch", what, "--type", "merge", "-p", body];
    args.extend(who.iter().map(String::as_str));
    kubectl(cp, &args)
}

/// The text of the PDF at `pdf`, laid out as on the page (poppler's pdftotext).
pub fn pdf_text(pdf: &Path) -> String {
    let out = std::process::Command::new(tool("pdftotext"))
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .unwrap();
    stdout(&out)
}
