//! How long shadow-AI detection takes over a cluster's worth of workloads.
//!
//! One iteration runs [`Detector::detect`] over 10,000 generated workloads: about 5% model
//! servers (vLLM, TGI, Triton, Ollama, KServe InferenceServices), about 3% GPU training jobs, and
//! the rest ordinary web apps, databases and batch jobs with one to three containers, realistic
//! arguments and environment values.
//!
//! Run: `cargo bench --bench detect -- --warm-up-time 1 --measurement-time 5`.

use std::{collections::BTreeMap, hint::black_box};

use aims_operator::engine::{
    detect::Detector,
    workload::{ContainerFacts, ImageRef, WorkloadFacts, WorkloadKind},
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Workloads per iteration.
const WORKLOADS: usize = 10_000;

/// A small deterministic generator (xorshift64*), so every run measures the same workloads.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const ORDINARY_IMAGES: &[&str] = &[
    "nginx:1.27-alpine",
    "docker.io/library/nginx:1.27",
    "redis:7.4",
    "postgres:17",
    "bitnami/postgresql:17.2.0",
    "mysql:8.4",
    "mongo:8.0",
    "eclipse-temurin:21-jre",
    "registry.example.com/shop/web:1.4",
    "registry.example.com/shop/checkout:2.11.3",
    "registry.example.com:5000/payments/api@sha256:5f7f5a7c0c1e6d8f2b3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091",
    "ghcr.io/acme/orders-service:v3.2.1",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/billing:2025.06.1",
    "quay.io/prometheus/prometheus:v3.4.2",
    "grafana/grafana:12.0.2",
    "apache/spark:3.5.1",
    "python:3.12-slim",
    "node:22-alpine",
    "busybox:1.36",
    "rabbitmq:4.1-management",
    "apache/kafka:3.9.0",
    "tensorflow/tensorflow:2.19.0",
    "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime",
];

const SIDECAR_IMAGES: &[&str] = &[
    "envoyproxy/envoy:v1.34.1",
    "docker.io/istio/proxyv2:1.26.2",
    "fluent/fluent-bit:4.0.3",
    "otel/opentelemetry-collector-contrib:0.129.1",
    "quay.io/oauth2-proxy/oauth2-proxy:v7.9.0",
];

const ENV_VALUES: &[&str] = &[
    "info",
    "production",
    "8080",
    "-Xmx512m -XX:+UseG1GC",
    "jdbc:postgresql://postgres:5432/shop",
    "postgres://app@db.internal:5432/orders?sslmode=require",
    "redis://redis:6379/0",
    "https://api.example.com/v1",
    "http://otel-collector.observability:4317",
    "s3://datalake/raw/2025/06/",
    "/var/lib/app/data",
    "true",
    "Europe/Berlin",
];

const ARGS: &[&str] = &[
    "--config=/etc/app/config.yaml",
    "--port=8080",
    "--log-level=info",
    "--input",
    "s3://datalake/raw/",
    "--output=s3a://datalake/clean/",
    "-g",
    "daemon off;",
];

fn container(rng: &mut Rng, name: &str, image: &str) -> ContainerFacts {
    let args_and_env: Vec<String> = (0..3 + rng.below(12))
        .map(|i| {
            if i % 3 == 0 {
                rng.pick(ARGS)
            } else {
                rng.pick(ENV_VALUES)
            }
            .to_owned()
        })
        .collect();
    ContainerFacts {
        name: name.to_owned(),
        image: ImageRef::parse(image),
        init: false,
        ephemeral: false,
        requests_declared: true,
        memory_limit_declared: true,
        extended_resources: BTreeMap::new(),
        // The first third or so are arguments, the command line.
        command_len: args_and_env.len() / 3,
        args_and_env,
        resource_claims: Vec::new(),
    }
}

fn workload(kind: WorkloadKind, i: usize, containers: Vec<ContainerFacts>) -> WorkloadFacts {
    WorkloadFacts {
        kind,
        namespace: format!("team-{}", i % 40),
        name: format!("w-{i}"),
        labels: BTreeMap::from([("app".to_owned(), format!("w-{i}"))]),
        pod_labels: BTreeMap::from([("app".to_owned(), format!("w-{i}"))]),
        annotations: BTreeMap::new(),
        containers,
        model_uris: Vec::new(),
        replicas: Some(2),
        suspended: None,
        controlled: false,
    }
}

fn model_server(rng: &mut Rng, i: usize) -> WorkloadFacts {
    let gpu = |c: &mut ContainerFacts| {
        c.extended_resources
            .insert("nvidia.com/gpu".to_owned(), "1".to_owned());
    };
    match rng.below(5) {
        0 => {
            let mut c = container(rng, "vllm", "vllm/vllm-openai:v0.9.1");
            c.args_and_env.push("--model".to_owned());
            c.args_and_env
                .push("hf://meta-llama/Llama-3.1-8B-Instruct".to_owned());
            gpu(&mut c);
            workload(WorkloadKind::Deployment, i, vec![c])
        }
        1 => {
            let mut c = container(
                rng,
                "tgi",
                "ghcr.io/huggingface/text-generation-inference:3.3.4",
            );
            gpu(&mut c);
            workload(WorkloadKind::Deployment, i, vec![c])
        }
        2 => {
            let c = container(rng, "triton", "nvcr.io/nvidia/tritonserver:25.06-py3");
            workload(WorkloadKind::StatefulSet, i, vec![c])
        }
        3 => {
            let c = container(rng, "ollama", "docker.io/ollama/ollama:0.9.6");
            workload(WorkloadKind::Deployment, i, vec![c])
        }
        _ => {
            let c = container(rng, "kserve-container", "kserve/sklearnserver:v0.15.2");
            let mut w = workload(
                WorkloadKind::custom("InferenceService").expect("a built-in kind"),
                i,
                vec![c],
            );
            w.model_uris
                .push("gs://kfserving-examples/models/sklearn/1.0/model".to_owned());
            w
        }
    }
}

fn gpu_job(rng: &mut Rng, i: usize) -> WorkloadFacts {
    let mut c = container(
        rng,
        "train",
        "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime",
    );
    c.extended_resources
        .insert("nvidia.com/gpu".to_owned(), "4".to_owned());
    workload(WorkloadKind::Job, i, vec![c])
}

fn ordinary(rng: &mut Rng, i: usize) -> WorkloadFacts {
    let kinds = [
        WorkloadKind::Deployment,
        WorkloadKind::Deployment,
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
        WorkloadKind::DaemonSet,
    ];
    let kind = kinds[rng.below(kinds.len())];
    let main = rng.pick(ORDINARY_IMAGES);
    let mut containers = vec![container(rng, "main", main)];
    for n in 0..rng.below(3) {
        let sidecar = rng.pick(SIDECAR_IMAGES);
        containers.push(container(rng, &format!("sidecar-{n}"), sidecar));
    }
    workload(kind, i, containers)
}

/// The 10,000 workloads: ~5% model servers, ~3% GPU jobs, the rest ordinary.
fn workloads() -> Vec<WorkloadFacts> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..WORKLOADS)
        .map(|i| match rng.below(100) {
            0..5 => model_server(&mut rng, i),
            5..8 => gpu_job(&mut rng, i),
            _ => ordinary(&mut rng, i),
        })
        .collect()
}

fn detect(c: &mut Criterion) {
    let detector = Detector::default();
    let workloads = workloads();
    let hits = workloads
        .iter()
        .filter(|w| detector.detect(w).is_some())
        .count();
    assert!(
        (600..1000).contains(&hits),
        "{hits} hits: the mix is not ~8% AI"
    );
    let mut group = c.benchmark_group("detect");
    group.throughput(Throughput::Elements(WORKLOADS as u64));
    group.bench_function("10000 workloads", |b| {
        b.iter(|| {
            let mut hits = 0usize;
            for w in &workloads {
                if let Some(d) = detector.detect(black_box(w)) {
                    hits += d.reasons.len();
                }
            }
            black_box(hits)
        });
    });
    group.finish();
}

criterion_group!(benches, detect);
criterion_main!(benches);
