//! The corpus of real shapes (`tests/fixtures/kinds/`, one realistic manifest per governed kind,
//! shaped like each project's documented examples, and `tests/fixtures/ordinary/`, workloads that
//! are no model serving): per kind, that `aims check` governs it and why it looks like model
//! serving, and that the ordinary workloads pass with no reason. The verdicts are the engine's,
//! the same that the webhook and the controller give (`tests/custom_kinds.rs` shows them through
//! the real API server).

mod support;

use std::collections::BTreeMap;

use aims_operator::engine::workload::WorkloadKind;
use serde_json::Value;
use support::repo;

/// `aims check -f <dir> -o json`: each workload's `namespace/Kind/name` with its verdict and its
/// reasons, and the report.
fn check(dir: &str) -> (BTreeMap<String, (String, String)>, Value) {
    let out = support::aims_offline(&["check", "-f", dir, "-o", "json"]);
    assert!(
        out.stderr.is_empty(),
        "{dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let rows = report["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let reasons: Vec<&str> = w["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["message"].as_str())
                .collect();
            (
                format!(
                    "{}/{}",
                    w["namespace"].as_str().unwrap(),
                    w["workload"].as_str().unwrap()
                ),
                (
                    w["verdict"].as_str().unwrap().to_owned(),
                    reasons.join("; "),
                ),
            )
        })
        .collect();
    (rows, report)
}

#[test]
fn every_governed_kind_is_read_from_a_real_shape_and_its_signals_found() {
    let (rows, report) = check("tests/fixtures/kinds");
    // Each unregistered workload is warned about (the default policy), with the signals of its
    // shape: the server in a template, a GPU in a worker group, a model URI in an initializer.
    let expected = [
        (
            "serving/LeaderWorkerSet/vllm",
            &[
                "runs vLLM (image vllm/vllm-openai:v0.9.1)",
                "command `python3 -m vllm.entrypoints.openai.api_server` in container vllm-leader",
                "requests nvidia.com/gpu in container vllm-worker",
            ][..],
        ),
        (
            "serving/LeaderWorkerSet/sglang",
            &["runs SGLang (command `python3 -m sglang.launch_server` in container sglang-worker)"],
        ),
        (
            "training/JobSet/pytorch-fsdp",
            &["requests nvidia.com/gpu in container pytorch"],
        ),
        (
            "ray/RayCluster/raycluster-gpu",
            &["requests nvidia.com/gpu in container ray-worker"],
        ),
        (
            "ray/RayJob/finetune",
            &["requests nvidia.com/gpu in container ray-worker"],
        ),
        (
            "ray/RayService/llm-serve",
            &[
                "its kind, RayService, serves models",
                "runs Ray Serve (image rayproject/ray-llm:2.41.0-py311-cu124)",
                "requests nvidia.com/gpu in container llm",
            ],
        ),
        (
            "training/PyTorchJob/pytorch-mnist",
            &["requests nvidia.com/gpu in container pytorch"],
        ),
        (
            "training/TFJob/mnist",
            &["requests nvidia.com/gpu in container tensorflow"],
        ),
        (
            "training/MPIJob/tensorflow-benchmarks",
            &["requests nvidia.com/gpu in container worker"],
        ),
        (
            "training/TrainJob/llama-finetune",
            &[
                "requests nvidia.com/gpu in container trainer",
                "loads model hf://meta-llama/Llama-3.2-1B-Instruct",
            ],
        ),
        (
            "serving/LLMInferenceService/qwen",
            &[
                "its kind, LLMInferenceService, serves models",
                "runs vLLM (image vllm/vllm-openai:v0.9.1)",
                "loads model hf://Qwen/Qwen2.5-7B-Instruct",
            ],
        ),
        (
            "nim-service/NIMService/meta-llama3-8b-instruct",
            &[
                "its kind, NIMService, serves models",
                "runs NVIDIA NIM (image nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3)",
                "requests nvidia.com/gpu in container nimservice",
            ],
        ),
        (
            "kserve-test/InferenceService/sklearn-iris",
            &[
                "its kind, InferenceService, serves models",
                "loads model gs://kfserving-examples/models/sklearn/1.0/model",
            ],
        ),
        (
            "serving/Rollout/tgi",
            &[
                "runs Hugging Face Text Generation Inference",
                "requests nvidia.com/gpu in container tgi",
            ],
        ),
        (
            "serving/Service/resnet",
            &[
                "runs TorchServe (command `torchserve --ncs --model-store /home/model-server/model-store --start` in container #1)",
            ],
        ),
        (
            "serving/Deployment/mistral-7b",
            &["runs vLLM (command `vllm serve` in container mistral-7b)"],
        ),
        (
            "serving/StatefulSet/tgi",
            &["runs Hugging Face Text Generation Inference"],
        ),
        (
            "serving/DaemonSet/ollama",
            &["runs Ollama (image ollama/ollama:0.9.6)"],
        ),
        ("serving/ReplicaSet/llama-cpp", &["runs llama.cpp server"]),
        (
            "serving/ReplicationController/resnet",
            &[
                "runs TensorFlow Serving (image registry.example.com/tensorflow-serving/resnet:2.18)",
            ],
        ),
        (
            "batch/Job/embed-corpus",
            &[
                "requests nvidia.com/gpu in container embed",
                "loads model hf://BAAI/bge-large-en-v1.5",
            ],
        ),
        (
            "batch/CronJob/retrain",
            &["requests nvidia.com/gpu in container train"],
        ),
        (
            "research/Pod/notebook-gpu",
            &[
                "requests devices through resource claim gpu (ResourceClaimTemplate single-gpu) in container jupyter",
            ],
        ),
    ];
    for (workload, signals) in expected {
        let (verdict, reasons) = rows
            .get(workload)
            .unwrap_or_else(|| panic!("{workload} is not governed: {rows:#?}"));
        assert_eq!(verdict, "Warn", "{workload}: {reasons}");
        assert!(
            reasons.starts_with("unregistered model workload: "),
            "{workload}: {reasons}"
        );
        for signal in signals {
            assert!(
                reasons.contains(signal),
                "{workload}: {signal:?} not in {reasons}"
            );
        }
    }
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    assert_eq!(report["skipped"], serde_json::json!({}));

    // Every governed kind, built in or of the kinds' data, has its real shape in the corpus.
    let kinds: Vec<&str> = rows.keys().map(|k| k.split('/').nth(1).unwrap()).collect();
    for kind in WorkloadKind::all() {
        assert!(
            kinds.contains(&kind.as_str()),
            "no manifest of {kind} in tests/fixtures/kinds"
        );
    }
}

#[test]
fn ordinary_workloads_are_governed_but_not_model_serving() {
    let (rows, report) = check("tests/fixtures/ordinary");
    let allowed: Vec<(&str, &str)> = rows
        .iter()
        .map(|(w, (verdict, reasons))| {
            assert!(reasons.is_empty(), "{w}: {reasons}");
            (w.as_str(), verdict.as_str())
        })
        .collect();
    assert_eq!(
        allowed,
        [
            ("data/RayCluster/etl", "Allow"),
            ("data/StatefulSet/postgres", "Allow"),
            ("monitoring/DaemonSet/node-exporter", "Allow"),
            ("monitoring/Deployment/prometheus", "Allow"),
            ("research/Deployment/notebook", "Allow"),
            ("research/Pod/perf-analyzer", "Allow"),
            ("web/Deployment/shop-web", "Allow"),
            ("web/StatefulSet/redis", "Allow"),
        ]
    );
    // A kind aims does not govern is named as skipped, not silently passed.
    assert_eq!(
        report["skipped"],
        serde_json::json!({"SparkApplication": 1})
    );
}

#[test]
fn the_readme_kinds_table_lists_every_governed_kind_and_its_group() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let table = readme
        .split("<!-- kinds: tests/kinds_corpus.rs checks this table -->")
        .nth(1)
        .expect("the README's kinds table");
    let rows: Vec<(String, String)> = table
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect();
    let want: Vec<(String, String)> = WorkloadKind::all()
        .map(|k| {
            let group = match k.group() {
                "" => "core",
                g => g,
            };
            (k.as_str().to_owned(), group.to_owned())
        })
        .collect();
    assert_eq!(rows, want);
}

#[test]
fn a_platform_teams_own_kind_is_governed_from_its_kinds_file() {
    let run = support::aims_offline;
    let file = "tests/fixtures/extra-kinds/modelserver.yaml";
    // Without the kinds file the kind is not governed, and says so.
    let out = run(&["check", "-f", file, "-o", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["skipped"], serde_json::json!({"ModelServer": 1}));
    // With it, its template and its model are read.
    let out = run(&[
        "check",
        "--kinds-file",
        "tests/fixtures/extra-kinds/kinds.yaml",
        "-f",
        file,
        "-o",
        "json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let w = &report["workloads"][0];
    assert_eq!(w["workload"], "ModelServer/sentiment");
    let reason = w["reasons"][0]["message"].as_str().unwrap();
    assert!(
        reason.contains("requests amd.com/gpu in container server")
            && reason.contains("loads model s3://models/sentiment/v4"),
        "{reason}"
    );
    // A row that cannot work is refused at start, naming it and what is wrong.
    let out = run(&[
        "check",
        "--kinds-file",
        "tests/fixtures/extra-kinds/bad-kinds.yaml",
        "-f",
        file,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--kinds-file tests/fixtures/extra-kinds/bad-kinds.yaml: kinds[0] (ModelServer): halt: scaling to zero needs `replicas`"),
        "{err}"
    );
}
