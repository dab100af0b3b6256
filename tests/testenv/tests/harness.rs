//! The harness itself: control planes start side by side without port clashes, answer on their
//! own servers, and leave no process behind, also when the test that owns one panics; the API
//! server and etcd restart with their flags and data.

use std::{panic, path::Path, thread};

use aims_testenv::{Component, ControlPlane, Options};

fn pids(dir: &Path) -> Vec<i32> {
    ["etcd", "kube-apiserver", "kube-controller-manager"]
        .iter()
        .filter_map(|name| std::fs::read_to_string(dir.join(format!("{name}.pid"))).ok())
        .map(|pid| pid.trim().parse().expect("a pid"))
        .collect()
}

fn running(pid: i32) -> bool {
    // A zombie still answers signal 0; look at its state instead.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.split_whitespace()
                .nth(2)
                .is_some_and(|state| state != "Z")
        })
        .unwrap_or(false)
}

#[test]
fn two_control_planes_run_side_by_side_and_stop_on_drop() {
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(ControlPlane::start);
        let b = s.spawn(ControlPlane::start);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    assert_ne!(a.server(), b.server());
    for cp in [&a, &b] {
        let out = cp
            .kubectl()
            .args(["get", "serviceaccount", "default", "-o", "name"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let version = cp
            .kubectl()
            .args(["version", "-o", "json"])
            .output()
            .unwrap();
        let version = String::from_utf8_lossy(&version.stdout);
        assert!(
            !version.contains("v0.0.0"),
            "the server reports a real version: {version}"
        );
    }

    let (dir, processes) = (a.dir().to_owned(), pids(a.dir()));
    assert_eq!(
        processes.len(),
        3,
        "etcd, kube-apiserver and kube-controller-manager"
    );
    assert!(processes.iter().all(|&p| running(p)));
    drop(a);
    assert!(
        processes.iter().all(|&p| !running(p)),
        "processes left after drop"
    );
    assert!(!dir.exists(), "directory left after drop");

    // The other one is unaffected.
    assert!(
        b.kubectl()
            .args(["get", "--raw", "/readyz"])
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn a_panicking_test_leaves_no_process_behind() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = panic::catch_unwind(move || {
        let cp = ControlPlane::start().unwrap();
        tx.send(pids(cp.dir())).unwrap();
        panic!("the test fails while it owns a control plane");
    });
    assert!(result.is_err());
    let processes = rx.recv().unwrap();
    assert_eq!(processes.len(), 3);
    assert!(
        processes.iter().all(|&p| !running(p)),
        "processes left after a panic"
    );
}

#[tokio::test]
async fn a_test_gets_a_working_client() {
    let cp = ControlPlane::start().unwrap();
    let client = cp.client().await;
    let info = client.apiserver_version().await.unwrap();
    assert_eq!(info.major, "1");
}

#[test]
fn the_api_server_and_etcd_restart_with_their_flags_and_data() {
    let mut cp = ControlPlane::start_with(Options {
        controller_manager: false,
        ..Options::default()
    })
    .unwrap();
    let kubectl = |cp: &ControlPlane, args: &[&str]| {
        let out = cp.kubectl().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    kubectl(&cp, &["create", "configmap", "kept", "--from-literal=a=1"]);
    let server = cp.server().to_owned();
    let [etcd, apiserver] = pids(cp.dir())[..] else {
        panic!("etcd and kube-apiserver")
    };

    cp.restart(Component::ApiServer).unwrap();
    let [etcd_after, apiserver_after] = pids(cp.dir())[..] else {
        panic!("etcd and kube-apiserver")
    };
    assert_eq!(etcd, etcd_after, "etcd kept running");
    assert_ne!(apiserver, apiserver_after, "a new kube-apiserver");
    assert!(!running(apiserver));
    assert_eq!(cp.server(), server, "on the same port");
    assert_eq!(
        kubectl(
            &cp,
            &["get", "configmap", "kept", "-o", "jsonpath={.data.a}"]
        ),
        "1"
    );

    cp.restart(Component::Etcd).unwrap();
    assert!(!running(etcd));
    assert_eq!(
        kubectl(
            &cp,
            &["get", "configmap", "kept", "-o", "jsonpath={.data.a}"]
        ),
        "1",
        "etcd kept its data"
    );
    kubectl(&cp, &["create", "configmap", "after", "--from-literal=b=2"]);

    // Stopped and started separately, the API server refuses connections in between.
    cp.stop_process(Component::ApiServer).unwrap();
    assert!(
        !cp.kubectl()
            .args(["get", "--raw", "/readyz", "--request-timeout=2s"])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    );
    cp.start_process(Component::ApiServer).unwrap();
    cp.wait_ready(Component::ApiServer).unwrap();

    let (dir, processes) = (cp.dir().to_owned(), pids(cp.dir()));
    drop(cp);
    assert!(processes.iter().all(|&p| !running(p)), "processes left");
    assert!(!dir.exists());
}
