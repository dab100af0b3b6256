//! What the controller reads from its stores for each evaluation, in a cluster of 10,000
//! Deployments (100 namespaces of 100, ten systems of ten Deployments each per namespace): one
//! system's workloads (each AISystem reconcile) and every workload (the unregistered-workload scan,
//! every 10 s). The stores share each workload's facts with every reader; nothing is copied.

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::{Value, json};

use aims_operator::{
    api::AISystem,
    cluster::{Stores, store_of, stored::Workload},
};

const NAMESPACES: usize = 100;
const PER_NAMESPACE: usize = 100;

/// The `d`-th Deployment of namespace `ns`, of system `s{d / 10}`.
fn deployment(ns: usize, d: usize) -> Value {
    let system = format!("s{}", d / 10);
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("d{d}"), "namespace": format!("ns{ns}"),
            "labels": {"aims.dev/system": system, "app": "x"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "x", "aims.dev/system": system}},
                "spec": {"containers": [{"name": "c",
                    "image": format!("registry.example.com/m/x{d}@sha256:{d:064x}"),
                    "env": [{"name": "A", "value": "b"}],
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}}}
    })
}

fn stores() -> Stores {
    let deployments: Vec<Workload<Deployment>> = (0..NAMESPACES)
        .flat_map(|ns| (0..PER_NAMESPACE).map(move |d| deployment(ns, d)))
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    Stores {
        deployments: store_of(deployments),
        ..Stores::empty()
    }
}

fn bench(c: &mut Criterion) {
    let stores = stores();
    let system: AISystem = serde_json::from_value(json!({
        "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
        "metadata": {"name": "s3", "namespace": "ns42"},
        "spec": {"purpose": "p", "riskTier": "Limited", "owner": {"name": "o", "contact": "c"},
            "team": "t", "oversight": {"overseers": [{"name": "o"}]}}
    }))
    .unwrap();
    assert_eq!(stores.workloads_of(&system).len(), 10);
    assert_eq!(stores.all_workloads().len(), NAMESPACES * PER_NAMESPACE);
    c.bench_function("stores/one system's 10 workloads of 10,000", |b| {
        b.iter(|| stores.workloads_of(&system))
    });
    c.bench_function("stores/all 10,000 workloads", |b| {
        b.iter(|| stores.all_workloads())
    });
    c.bench_function("stores/the Deployment store's list alone", |b| {
        b.iter(|| stores.deployments.state())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
