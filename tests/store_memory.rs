//! Memory per watched workload: the heap a Deployment takes in the operator's store, read from its
//! watch event as the stores read it (`cluster::stored`: its facts), against the same event read
//! whole with its managed fields dropped (what a reflector keeps when it strips only those).
//!
//! A test binary of its own, because it installs a counting global allocator. Run with
//! `--nocapture` to see the figures (recorded in BENCHMARKS.md).

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

use aims_operator::cluster::stored::Workload;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    core::WatchEvent,
    runtime::{reflector::store::Writer, watcher::Event},
};
use serde_json::{Value, json};

#[path = "support/api_defaults.rs"]
mod api_defaults;

/// The system allocator, counting the bytes the current thread holds.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // `try_with`: the thread-local may be gone while a thread exits.
    let _ = LIVE.try_with(|n| n.set(n.get() + bytes));
}

fn size(layout: Layout) -> isize {
    isize::try_from(layout.size()).unwrap_or(isize::MAX)
}

// SAFETY: every call is passed on to `System` unchanged; counting touches only a const-initialised
// thread-local, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(size(layout));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-size(layout));
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(isize::try_from(new_size).unwrap_or(isize::MAX) - size(layout));
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

const WORKLOADS: usize = 1_000;

/// A model server's Deployment as the API server sends it in a watch event after a create: with
/// its uid, defaults, status and the client's managed fields; `kubectl apply` adds its copy of
/// what it applied.
fn deployment(i: usize, applied: bool) -> Value {
    let name = format!("scorer-{i}");
    let written = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "credit",
            "labels": {"aims.dev/system": "credit-scoring", "app": name}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "server",
                    "image": format!("registry.example.com/credit/model@sha256:{}", "a".repeat(64)),
                    "args": ["--port=8080", "--model-dir=/models"],
                    "env": [{"name": "LOG_LEVEL", "value": "info"},
                            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}}}],
                    "ports": [{"containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                    "volumeMounts": [{"name": "models", "mountPath": "/models"}],
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
                }],
                "volumes": [{"name": "models", "emptyDir": {}}]}}}
    });
    let mut object = written.clone();
    let meta = &mut object["metadata"];
    meta["uid"] = json!(format!("6f1c1f8e-8d5b-4f57-9f0e-{i:012}"));
    meta["resourceVersion"] = json!((1000 + i).to_string());
    meta["generation"] = json!(1);
    meta["creationTimestamp"] = json!("2026-11-24T10:00:00Z");
    if applied {
        meta["annotations"] = json!({
            "kubectl.kubernetes.io/last-applied-configuration": written.to_string()
        });
    }
    meta["managedFields"] = json!([{
        "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
        "time": "2026-11-24T10:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:aims.dev/system": {}, "f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {}, "f:strategy": {"f:type": {}},
                "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"server\"}": {".": {}, "f:args": {},
                        "f:env": {}, "f:image": {}, "f:name": {}, "f:ports": {}, "f:readinessProbe": {},
                        "f:resources": {}, "f:volumeMounts": {}}}, "f:volumes": {}}}}}
    }]);
    api_defaults::fill_deployment_defaults(&mut object);
    object["status"] = json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
            "lastUpdateTime": "2026-11-24T10:00:05Z", "lastTransitionTime": "2026-11-24T10:00:05Z"}]});
    object
}

/// The watch events of `WORKLOADS` Deployments, as the API server writes them (the type first).
fn events(applied: bool) -> Vec<String> {
    (0..WORKLOADS)
        .map(|i| format!(r#"{{"type":"ADDED","object":{}}}"#, deployment(i, applied)))
        .collect()
}

/// The heap each Deployment adds to a store of `K`, read with `read`.
fn per_workload<K>(lines: &[String], read: impl Fn(&str) -> K) -> isize
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    let mut writer: Writer<K> = Writer::default();
    writer.apply_watcher_event(&Event::Init);
    let before = live();
    for line in lines {
        writer.apply_watcher_event(&Event::InitApply(read(line)));
    }
    writer.apply_watcher_event(&Event::InitDone);
    let store = writer.as_reader();
    assert_eq!(store.len(), WORKLOADS);
    let held = live() - before;
    drop((store, writer));
    held / isize::try_from(WORKLOADS).unwrap()
}

/// Reads an ADDED event's object as `K`.
fn added<K: serde::de::DeserializeOwned>(line: &str) -> K {
    match serde_json::from_str::<WatchEvent<K>>(line).unwrap() {
        WatchEvent::Added(object) => object,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stored_deployment_takes_a_fraction_of_what_it_takes_read_whole() {
    for (case, applied) in [("created", false), ("applied with kubectl apply", true)] {
        let lines = events(applied);
        let wire = lines.iter().map(String::len).sum::<usize>() / WORKLOADS;
        let stored = per_workload(&lines, added::<Workload<Deployment>>);
        let whole = per_workload(&lines, |line| {
            let mut d = added::<Deployment>(line);
            d.metadata.managed_fields = None;
            d
        });
        println!(
            "a Deployment {case} ({wire} bytes of watch event): {stored} bytes in the store \
             (its facts); {whole} read whole without managed fields"
        );
        assert!(stored * 4 < whole, "{case}: {stored} of {whole} bytes");
    }
}
