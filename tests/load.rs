//! A load run of `aims run`, not a test: 2,000 Deployments across 50 namespaces and 200 AISystems
//! on a local control plane. Prints the time from operator start to every status correct, the
//! reaction latency from an approval to Compliant (p50, p99 over 100 approvals), the status writes
//! per minute once settled, and the operator's peak RSS. Figures go to BENCHMARKS.md.
//!
//! `cargo test --release --test load -- --ignored --nocapture` (add `AIMS_LOAD_PODS=1` to run
//! kube-controller-manager too, so the stores hold a Pod per Deployment)

mod support;

use std::time::{Duration, Instant};

use aims_operator::{
    api::{AISystem, Decision, Phase, RiskAssessment},
    engine::approval::SigningKey,
    runtime::key::{SECRET_KEY, SECRET_NAME},
    testing,
};
use aims_testenv::{ControlPlane, Options};
use futures::{StreamExt, stream};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Namespace, Secret},
};
use kube::{
    Api, Client,
    api::{ListParams, Patch, PatchParams, PostParams},
};
use serde_json::json;
use support::{eventually, ok, operator::Operator};

const NAMESPACES: usize = 50;
const SYSTEMS_PER_NAMESPACE: usize = 4;
const DEPLOYMENTS_PER_SYSTEM: usize = 10;
const APPROVALS: usize = 100;

fn image(i: usize) -> String {
    format!("registry.example.com/load/model-{i}@sha256:{:064x}", i + 1)
}

async fn create<K>(api: Api<K>, value: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

async fn populate(client: &Client) {
    let mut work = Vec::new();
    for n in 0..NAMESPACES {
        let ns = format!("load-{n}");
        create(
            Api::<Namespace>::all(client.clone()),
            json!({"metadata": {"name": ns}}),
        )
        .await;
        for s in 0..SYSTEMS_PER_NAMESPACE {
            let i = n * SYSTEMS_PER_NAMESPACE + s;
            let name = format!("system-{s}");
            work.push((ns.clone(), name, i));
        }
    }
    let c = client.clone();
    stream::iter(work.clone())
        .for_each_concurrent(16, |(ns, name, i)| {
            let c = c.clone();
            async move {
                create(Api::<AISystem>::namespaced(c.clone(), &ns), json!({
                    "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"purpose": "load", "riskTier": "Limited", "owner": {"name": "o", "contact": "c"}, "team": "t",
                             "models": [{"name": "m", "version": "1", "artifact": {"image": image(i)}}]}
                }))
                .await;
                create(Api::<RiskAssessment>::namespaced(c.clone(), &ns), json!({
                    "apiVersion": "aims.dev/v1alpha1", "kind": "RiskAssessment",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"systemRef": {"name": name}, "scope": {"artifacts": [{"image": image(i)}]},
                             "risks": [{"id": "R1", "title": "t", "source": "Robustness", "likelihood": 2, "severity": 2, "treatment": "Mitigate"}],
                             "impactAssessment": {"affectedGroups": ["users"], "completedOn": "2026-11-01"},
                             "submittedBy": "o"}
                }))
                .await;
            }
        })
        .await;
    let deployments: Vec<(String, String, usize, usize)> = work
        .iter()
        .flat_map(|(ns, name, i)| {
            (0..DEPLOYMENTS_PER_SYSTEM).map(move |d| (ns.clone(), name.clone(), *i, d))
        })
        .collect();
    stream::iter(deployments)
        .for_each_concurrent(32, |(ns, name, i, d)| {
            let c = c.clone();
            async move {
                create(Api::<Deployment>::namespaced(c, &ns), json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": format!("{name}-{d}"), "namespace": ns, "labels": {"aims.dev/system": name}},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": format!("{name}-{d}")}},
                             "template": {"metadata": {"labels": {"app": format!("{name}-{d}")}},
                                          "spec": {"containers": [{"name": "m", "image": image(i), "resources": {"requests": {"cpu": "100m"}}}]}}}
                }))
                .await;
            }
        })
        .await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::test]
#[ignore = "a load run that prints figures; run it explicitly"]
async fn load() {
    // No controller-manager: Deployments stay as written (no ReplicaSets or Pods), so the run
    // measures the operator, not the cluster's own controllers.
    // With AIMS_LOAD_PODS=1 kube-controller-manager runs too: every Deployment gets a ReplicaSet and
    // a Pod (Pending: there are no nodes), and the operator's stores hold the Pods.
    let pods = std::env::var_os("AIMS_LOAD_PODS").is_some_and(|v| v == "1");
    let cp = ControlPlane::start_with(Options {
        controller_manager: pods,
        ..Options::default()
    })
    .unwrap();
    support::install_crds(&cp, false);
    ok(support::apply(
        &cp,
        "apiVersion: aims.dev/v1alpha1\nkind: ClusterControlBinding\nmetadata: {name: approvals}\nspec:\n  profile: minimal\n  controls: [{id: A.6.2.5, params: {approverGroups: [reviewers]}}]\n",
    ));
    ok(support::kubectl(
        &cp,
        &["create", "namespace", "aims-system"],
    ));
    let client = cp.client().await;
    let t = Instant::now();
    populate(&client).await;
    println!(
        "populated {} systems and {} Deployments in {:?}",
        NAMESPACES * SYSTEMS_PER_NAMESPACE,
        NAMESPACES * SYSTEMS_PER_NAMESPACE * DEPLOYMENTS_PER_SYSTEM,
        t.elapsed()
    );

    let start = Instant::now();
    let op = Operator::start(&cp, "aims-system", "load-operator");
    let systems: Api<AISystem> = Api::all(client.clone());
    let total = NAMESPACES * SYSTEMS_PER_NAMESPACE;
    let want = format!("0/{DEPLOYMENTS_PER_SYSTEM}");
    eventually(Duration::from_secs(600), "every status correct", || async {
        let list = systems.list(&ListParams::default()).await.ok()?;
        let correct = list
            .iter()
            .filter(|s| {
                let st = s.status.as_ref();
                st.and_then(|st| st.phase) == Some(Phase::Pending)
                    && st
                        .and_then(|st| st.workloads.as_ref())
                        .is_some_and(|w| w.summary == want)
            })
            .count();
        (correct == total).then_some(())
    })
    .await;
    let to_correct = start.elapsed();
    println!("operator start to every status correct: {to_correct:?}");

    let writes = || {
        op.metric("aims_status_writes_total{controller=\"aisystem\"}")
            + op.metric("aims_status_writes_total{controller=\"riskassessment\"}")
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = writes();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let per_minute = writes() - before;
    println!("status writes per minute once settled: {per_minute}");

    let secret = Api::<Secret>::namespaced(client.clone(), "aims-system")
        .get(SECRET_NAME)
        .await
        .unwrap();
    let key = SigningKey::new(&secret.data.unwrap()[SECRET_KEY].0).unwrap();
    let mut latencies = Vec::new();
    for i in 0..APPROVALS {
        let ns = format!("load-{}", i / SYSTEMS_PER_NAMESPACE);
        let name = format!("system-{}", i % SYSTEMS_PER_NAMESPACE);
        let ras: Api<RiskAssessment> = Api::namespaced(client.clone(), &ns);
        let mut ra = ras.get(&name).await.unwrap();
        // The record of who submitted it, signed as the webhook signs it at create, and the
        // approval, stamped as the webhook stamps it.
        let created = ra.metadata.creation_timestamp.clone().unwrap().0;
        testing::seal(&key, &mut ra, created);
        let now = jiff::Timestamp::now();
        testing::decide(
            &key,
            &mut ra,
            Decision::Approve,
            None,
            ("reviewer", &["reviewers"]),
            now,
        );
        let (record, approvals) = (ra.spec.record_stamp.clone(), ra.spec.approvals.clone());
        let systems_ns: Api<AISystem> = Api::namespaced(client.clone(), &ns);
        let t = Instant::now();
        ras.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"recordStamp": record, "approvals": approvals}})),
        )
        .await
        .unwrap();
        loop {
            let s = systems_ns.get_status(&name).await.unwrap();
            if s.status.and_then(|st| st.phase) == Some(Phase::Compliant) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        latencies.push(t.elapsed());
    }
    latencies.sort();
    println!(
        "approval to Compliant over {APPROVALS} approvals: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
    println!("operator peak RSS: {:.1} MiB", peak_rss_mib(op.pid()));
    println!(
        "operator reconciles: {}",
        op.metric("aims_reconciles_total{controller=\"aisystem\"}")
    );
    for controller in ["aisystem", "binding"] {
        let sum = op.metric(&format!(
            "aims_reconcile_duration_seconds_sum{{controller=\"{controller}\"}}"
        ));
        let count = op.metric(&format!(
            "aims_reconcile_duration_seconds_count{{controller=\"{controller}\"}}"
        ));
        println!(
            "{controller} reconciles: {count}, mean {:.2} ms",
            sum / count.max(1.0) * 1e3
        );
    }
}
