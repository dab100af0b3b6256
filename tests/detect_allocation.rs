//! `Detector::detect` (and `detect_among`, with the AISystems' declared models) allocates nothing
//! for a workload without a signal: it runs on every workload of a cluster and in the admission
//! path.
//!
//! A test binary of its own, because it installs a counting global allocator.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

use aims_operator::{
    api::AISystem,
    engine::{
        detect::Detector,
        workload::{WorkloadFacts, WorkloadKind},
    },
};
use serde_json::json;

/// The system allocator, counting allocations made by the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to `System` unchanged; counting touches only a const-initialised
// thread-local, which does not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn detection_allocates_only_on_a_hit() {
    let detector = Detector::default();
    let ordinary = WorkloadFacts::from_json(
        WorkloadKind::Deployment,
        json!({
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "web", "image": "registry.example.com/shop/web:1.4",
                 "args": ["--port=8080", "--input", "s3://bucket/raw/"],
                 "env": [{"name": "DB", "value": "postgres://db:5432/shop"}],
                 "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": "0", "example.com/dongle": "1"}}},
                {"name": "envoy", "image": "envoyproxy/envoy:v1.34.1"}
            ]}}}
        }),
    )
    .unwrap();
    let server = WorkloadFacts::from_json(
        WorkloadKind::Deployment,
        json!({
            "metadata": {"name": "chat", "namespace": "ai"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "vllm", "image": "vllm/vllm-openai:v0.9.1"}
            ]}}}
        }),
    )
    .unwrap();
    // Warm the regex engine's per-thread cache.
    assert!(detector.detect(&server).is_some());
    assert!(detector.detect(&ordinary).is_none());

    assert_eq!(
        allocations_during(|| assert!(detector.detect(&ordinary).is_none())),
        0
    );
    assert!(allocations_during(|| assert!(detector.detect(&server).is_some())) > 0);

    // Nor does comparing it with the models AISystems declare, in the admission path.
    let system: AISystem = serde_json::from_value(json!({
        "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
        "metadata": {"name": "credit", "namespace": "shop"},
        "spec": {"purpose": "p", "riskTier": "High", "owner": {"name": "o"}, "models": [
            {"name": "m", "artifact": {"image": format!("registry.example.com/credit/m@sha256:{}", "a".repeat(64))}},
            {"name": "u", "artifact": {"uri": "s3://models/credit/v3", "sha256": "b".repeat(64)}}
        ]}
    }))
    .unwrap();
    let systems = [&system];
    assert!(detector.detect_among(&ordinary, &systems).is_none());
    assert_eq!(
        allocations_during(|| assert!(detector.detect_among(&ordinary, &systems).is_none())),
        0
    );
}
