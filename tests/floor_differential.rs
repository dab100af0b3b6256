//! The compiled floor decides like the engine, through a real API server: one corpus of requests
//! (approved, outside the scope, model URIs, a label on the pod template only, unregistered model
//! workloads by image, command, accelerator and model URI, a label naming no system, break-glass,
//! a halted system's start, scale-up and routine update) is answered once by the operator's
//! webhook together with the floor and once by the floor alone, after the operator is stopped and
//! its webhook configurations removed. Each answer is the engine's.

mod support;

use std::{process::Output, time::Duration};

use aims_operator::testing::Manifest;
use aims_testenv::ControlPlane;
use serde_json::{Value, json};
use support::{
    as_admin, cluster, eventually, install_crds, install_kind_crds, kubectl, kubectl_stdin,
    merge_patch, namespace, ok,
    operator::{Operator, apply_floor_policies, floor},
    records::{IMAGE, apply_records},
    stderr,
};

const OPERATOR_NS: &str = "aims-floor-diff";
const NS: &str = "floor-diff";
const WAIT: Duration = Duration::from_secs(30);
const OTHER: &str = "registry.example.com/credit/scorer@sha256:6666666666666666666666666666666666666666666666666666666666666666";
const VLLM: &str =
    "vllm/vllm-openai@sha256:7777777777777777777777777777777777777777777777777777777777777777";

/// One request of the corpus: who sends it, what, and whether the engine admits it.
struct Case {
    name: &'static str,
    manifest: Value,
    who: Vec<String>,
    admitted: bool,
}

fn case(name: &'static str, manifest: Value, admitted: bool) -> Case {
    Case {
        name,
        manifest,
        who: Vec::new(),
        admitted,
    }
}

fn deployment(name: &str, image: &str) -> Manifest {
    Manifest::deployment(name, image).namespace(NS).cpu("100m")
}

/// A LeaderWorkerSet of system `scoring` whose leader runs `leader` and workers `worker`.
fn leader_worker_set(name: &str, leader: &str, worker: &str) -> Value {
    let template = |image: &str| {
        json!({"metadata": {"labels": {"aims.dev/system": "scoring"}},
               "spec": {"containers": [{"name": "vllm", "image": image}]}})
    };
    json!({
        "apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
        "metadata": {"name": name, "namespace": NS, "labels": {"aims.dev/system": "scoring"}},
        "spec": {"replicas": 1, "leaderWorkerTemplate": {
            "size": 2, "leaderTemplate": template(leader), "workerTemplate": template(worker)}}
    })
}

/// A PyTorchJob of system `scoring` (its replica specs are a map) whose workers run `worker`.
fn pytorch_job(name: &str, worker: &str) -> Value {
    let spec = |image: &str| {
        json!({"replicas": 1, "restartPolicy": "OnFailure", "template": {
            "metadata": {"labels": {"aims.dev/system": "scoring"}},
            "spec": {"containers": [{"name": "pytorch", "image": image}]}}})
    };
    json!({
        "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
        "metadata": {"name": name, "namespace": NS, "labels": {"aims.dev/system": "scoring"}},
        "spec": {"pytorchReplicaSpecs": {"Master": spec(IMAGE), "Worker": spec(worker)}}
    })
}

/// The corpus while system `scoring` is approved for [`IMAGE`] (namespace policy: Deny).
fn approved_corpus() -> Vec<Case> {
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let with = |mut m: Value, f: &dyn Fn(&mut Value)| {
        f(&mut m);
        m
    };
    vec![
        case(
            "approved image",
            deployment("a", IMAGE).system("scoring").json(),
            true,
        ),
        case(
            "approved image with a tag too",
            deployment("b", &IMAGE.replace("@sha256", ":v3@sha256"))
                .system("scoring")
                .json(),
            true,
        ),
        case(
            "another digest",
            deployment("c", OTHER).system("scoring").json(),
            false,
        ),
        case(
            "an unpinned image",
            deployment("d", "registry.example.com/credit/scorer:v3")
                .system("scoring")
                .json(),
            false,
        ),
        case(
            "a model URI outside the scope",
            with(deployment("e", IMAGE).system("scoring").json(), &|m| {
                m["spec"]["template"]["spec"]["containers"][0]["env"] =
                    json!([{"name": "STORAGE_URI", "value": "s3://models/other"}]);
            }),
            false,
        ),
        case(
            "the label on the pod template only, another digest",
            with(deployment("f", OTHER).json(), &|m| {
                m["spec"]["template"]["metadata"]["labels"]["aims.dev/system"] = json!("scoring");
            }),
            false,
        ),
        case(
            "an init container outside the scope",
            with(deployment("g", IMAGE).system("scoring").json(), &|m| {
                m["spec"]["template"]["spec"]["initContainers"] =
                    json!([{"name": "fetch", "image": OTHER}]);
            }),
            false,
        ),
        case("unregistered vLLM", deployment("h", VLLM).json(), false),
        case(
            "a LeaderWorkerSet of approved images",
            leader_worker_set("lws-a", IMAGE, IMAGE),
            true,
        ),
        case(
            "a LeaderWorkerSet whose workers run another digest",
            leader_worker_set("lws-b", IMAGE, OTHER),
            false,
        ),
        case(
            "a PyTorchJob of approved images",
            pytorch_job("pt-a", IMAGE),
            true,
        ),
        case(
            "a PyTorchJob whose workers run another digest",
            pytorch_job("pt-b", OTHER),
            false,
        ),
        case(
            "unregistered vLLM under a label naming no system",
            deployment("i", VLLM).system("no-such-system").json(),
            false,
        ),
        case(
            "unregistered: a serving command in a renamed image",
            with(
                deployment("j", "registry.example.com/tools/runner:1").json(),
                &|m| {
                    m["spec"]["template"]["spec"]["containers"][0]["command"] =
                        json!(["/bin/sh", "-c", "exec vllm serve meta-llama/Llama-3.1-8B"]);
                },
            ),
            false,
        ),
        case(
            "unregistered: an accelerator",
            with(
                deployment("k", "registry.example.com/tools/trainer:1").json(),
                &|m| {
                    m["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] =
                        json!({"nvidia.com/gpu": "1"});
                },
            ),
            false,
        ),
        case(
            "unregistered: an accelerator of zero",
            with(
                deployment("l", "registry.example.com/tools/trainer:1").json(),
                &|m| {
                    m["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] =
                        json!({"nvidia.com/gpu": "0"});
                },
            ),
            true,
        ),
        case(
            "unregistered: a Hugging Face model in an argument",
            with(
                deployment("m", "registry.example.com/tools/runner:1").json(),
                &|m| {
                    m["spec"]["template"]["spec"]["containers"][0]["args"] =
                        json!(["--model=hf://meta-llama/Llama-3.1-8B"]);
                },
            ),
            false,
        ),
        case(
            "unregistered: a copy of the system's declared model",
            deployment("n", IMAGE).json(),
            false,
        ),
        case(
            "unregistered vLLM in a Pod that claims an owner, from a person",
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "claims", "namespace": NS, "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f",
                    "uid": "3c1b9a52-5d1e-4b8a-9f3e-1a2b3c4d5e6f", "controller": true}]},
                "spec": {"containers": [{"name": "main", "image": VLLM}]}
            }),
            false,
        ),
        case(
            "an ordinary web server",
            deployment("o", "nginx:1.27").json(),
            true,
        ),
        case(
            "Triton's client SDK image",
            deployment("p", "nvcr.io/nvidia/tritonserver:25.06-py3-sdk").json(),
            true,
        ),
        Case {
            name: "break-glass by a member",
            manifest: deployment("q", OTHER)
                .system("scoring")
                .annotation("aims.dev/break-glass-ticket", "INC-1")
                .annotation("aims.dev/break-glass-reason", "outage")
                .annotation("aims.dev/break-glass-until", &until.to_string())
                .json(),
            who: as_admin("bob", "aims:break-glass"),
            admitted: true,
        },
    ]
}

/// Answers `case` with a server-side dry run: whether it was admitted, and the API server's words.
fn answer(cp: &ControlPlane, case: &Case) -> (bool, String) {
    let mut args = vec!["create", "--dry-run=server", "-f", "-"];
    args.extend(case.who.iter().map(String::as_str));
    let out = kubectl_stdin(cp, &args, &case.manifest.to_string());
    (out.status.success(), stderr(&out))
}

fn agree(cp: &ControlPlane, corpus: &[Case], door: &str) {
    let wrong: Vec<String> = corpus
        .iter()
        .filter_map(|c| {
            let (admitted, says) = answer(cp, c);
            (admitted != c.admitted).then(|| {
                format!(
                    "{}: {} by {door} (engine: {}) {says}",
                    c.name,
                    if admitted { "admitted" } else { "denied" },
                    if c.admitted { "admits" } else { "denies" }
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Stops `op` and removes its webhook configurations, as the runbook's emergency step does; waits
/// until the floor alone answers (the first case the engine denies is denied).
async fn floor_alone(cp: &ControlPlane, op: Operator, probe: &Case) {
    assert!(op.stop(), "the operator stops cleanly");
    ok(kubectl(
        cp,
        &[
            "delete",
            "validatingwebhookconfiguration,mutatingwebhookconfiguration",
            "aims-operator",
            "--ignore-not-found",
        ],
    ));
    eventually(WAIT, "the floor to answer alone", || async {
        (!answer(cp, probe).0).then_some(())
    })
    .await;
}

/// The namespaces of the manifests of `tests/fixtures/kinds` and `tests/fixtures/ordinary`.
const FIXTURE_NAMESPACES: [&str; 10] = [
    "batch",
    "data",
    "kserve-test",
    "monitoring",
    "nim-service",
    "ray",
    "research",
    "serving",
    "training",
    "web",
];

/// Kinds of the corpus whose CRDs the test control plane does not install.
const NO_CRD: [&str; 2] = ["MPIJob", "SparkApplication"];

/// Every governed kind's real manifest, unregistered in a namespace whose policy is Deny, is
/// denied (each is a model workload: `tests/kinds_corpus.rs`), and every ordinary workload is
/// admitted, by `door`.
fn real_shapes_agree(cp: &ControlPlane, door: &str) {
    let mut wrong = Vec::new();
    for (dir, admitted) in [
        ("tests/fixtures/kinds", false),
        ("tests/fixtures/ordinary", true),
    ] {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let path = file.display().to_string();
            let out = kubectl(cp, &["create", "--dry-run=server", "-f", &path]);
            let says = stderr(&out);
            // A denial is the admission's, not a missing kind or namespace. Two kinds of the
            // corpus have no CRD here (MPIJob v2beta1 and SparkApplication come from modules the
            // test control plane does not fetch): their objects alone are not sent.
            let unsent = says
                .lines()
                .filter(|l| l.contains("no matches for kind"))
                .filter(|l| NO_CRD.iter().any(|k| l.contains(&format!("kind \"{k}\""))))
                .count();
            let denied = says.contains("denied");
            let errors = says
                .lines()
                .filter(|l| l.starts_with("error") || l.starts_with("Error"))
                .count();
            if unsent > 0 && errors == unsent && !denied {
                continue;
            }
            if out.status.success() != admitted || (!admitted && !denied) {
                wrong.push(format!(
                    "{path}: {} by {door}: {}",
                    if admitted { "denied" } else { "admitted" },
                    stderr(&out)
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn start(cp: &ControlPlane, log: &str) -> Operator {
    let op = Operator::start_with(cp, OPERATOR_NS, log, &["--compiled-floor"]);
    op.register_webhooks(cp);
    op
}

#[tokio::test]
async fn the_floor_answers_the_corpus_as_the_engine_does() {
    let cp = cluster();
    install_crds(cp, false);
    install_kind_crds(cp);
    let op = start(cp, "diff");
    apply_floor_policies(cp, OPERATOR_NS);
    for ns in FIXTURE_NAMESPACES {
        namespace(cp, ns);
        ok(kubectl(
            cp,
            &[
                "label",
                "namespace",
                ns,
                "aims.dev/unregistered=Deny",
                "--overwrite",
            ],
        ));
    }
    namespace(cp, NS);
    ok(kubectl(
        cp,
        &[
            "label",
            "namespace",
            NS,
            "aims.dev/unregistered=Deny",
            "--overwrite",
        ],
    ));
    apply_records(cp, NS, "Enforce").await;
    // The system declares its model, so an unlabelled copy of it is found.
    ok(merge_patch(
        cp,
        NS,
        "aisystem/scoring",
        &json!({"spec": {"models": [{"name": "scorer", "artifact": {"image": IMAGE}}]}})
            .to_string(),
        &[],
    ));
    // The approved scope: the image and a model URI.
    let scope = json!({"spec": {"scope": {"artifacts": [{"image": IMAGE}, {"uri": "s3://models/credit/v3", "sha256": "8888888888888888888888888888888888888888888888888888888888888888"}]}}});
    ok(merge_patch(
        cp,
        NS,
        "riskassessment/scoring-v1",
        &scope.to_string(),
        &as_admin("sam", "ml"),
    ));
    ok(merge_patch(
        cp,
        NS,
        "riskassessment/scoring-v1",
        r#"{"spec":{"approvals":[{"decision":"Approve","comment":"risks are treated"}]}}"#,
        &as_admin("alice", "aims:reviewers"),
    ));
    eventually(WAIT, "the floor to admit the approved scope", || async {
        let f = floor(cp, NS, "aims-admission-floor");
        let u = floor(cp, OPERATOR_NS, "aims-unregistered-floor");
        (f["spec"]["systems"]["scoring"]["admit"] == true
            && u["spec"]["unregistered"]["namespaces"][NS]["systems"]["scoring"] == true
            && u["spec"]["unregistered"]["detection"]["declaredDigests"]
                .as_object()
                .is_some_and(|d| !d.is_empty()))
        .then_some(())
    })
    .await;
    // A deleted system leaves the floor: the namespace's floor goes with its last system.
    namespace(cp, "floor-gone");
    apply_records(cp, "floor-gone", "Enforce").await;
    eventually(WAIT, "the floor of a second namespace", || async {
        (floor(cp, "floor-gone", "aims-admission-floor")["spec"]["systems"]["scoring"]["admit"]
            == false)
            .then_some(())
    })
    .await;
    ok(kubectl(
        cp,
        &["-n", "floor-gone", "delete", "aisystem", "scoring"],
    ));
    eventually(WAIT, "the floor to forget a deleted system", || async {
        let out = kubectl(
            cp,
            &[
                "-n",
                "floor-gone",
                "get",
                "admissionfloor",
                "aims-admission-floor",
            ],
        );
        let u = floor(cp, OPERATOR_NS, "aims-unregistered-floor");
        (stderr(&out).contains("NotFound")
            && u["spec"]["unregistered"]["namespaces"]
                .get("floor-gone")
                .is_none())
        .then_some(())
    })
    .await;

    // A running workload of the system, for the halt's cases below.
    ok(kubectl_stdin(
        cp,
        &["apply", "-f", "-"],
        &deployment("held", IMAGE)
            .system("scoring")
            .replicas(1)
            .yaml(),
    ));

    let corpus = approved_corpus();
    // The policies load asynchronously: wait until the floor's first denial shows, with the webhook.
    eventually(WAIT, "the floor's policies to be in force", || async {
        let out: Output = kubectl_stdin(
            cp,
            &["create", "--dry-run=server", "-f", "-"],
            &corpus[7].manifest.to_string(),
        );
        (!out.status.success()).then_some(())
    })
    .await;
    agree(cp, &corpus, "the webhook and the floor");
    real_shapes_agree(cp, "the webhook and the floor");
    floor_alone(cp, op, &corpus[2]).await;
    agree(cp, &corpus, "the floor alone");
    real_shapes_agree(cp, "the floor alone");

    // Halted: nothing admitted, not even a stopped copy, and no scale-up (also through /scale); a
    // routine update of the stopped workload passes.
    let op = start(cp, "diff-2");
    ok(merge_patch(
        cp,
        NS,
        "aisystem/scoring",
        r#"{"spec":{"oversight":{"halt":true,"haltReason":"drift"}}}"#,
        &as_admin("olga", "overseers"),
    ));
    eventually(
        WAIT,
        "the floor to hold the halted system's workloads",
        || async {
            let f = floor(cp, NS, "aims-admission-floor");
            (f["spec"]["systems"]["scoring"]["halted"] == true
                && f["spec"]["held"]["deployments.apps/held"] == "scoring")
                .then_some(())
        },
    )
    .await;
    let halted = vec![
        case(
            "a halted system's start",
            deployment("r", IMAGE).system("scoring").json(),
            false,
        ),
        case(
            "a halted system's LeaderWorkerSet",
            leader_worker_set("lws-c", IMAGE, IMAGE),
            false,
        ),
        case(
            "a halted system's stopped copy",
            deployment("s", IMAGE).system("scoring").replicas(0).json(),
            false,
        ),
    ];
    let scale_up = |cp: &ControlPlane| {
        kubectl(
            cp,
            &[
                "-n",
                NS,
                "scale",
                "deployment/held",
                "--replicas=2",
                "--dry-run=server",
            ],
        )
    };
    let routine = |cp: &ControlPlane| {
        kubectl(
            cp,
            &[
                "-n",
                NS,
                "annotate",
                "deployment/held",
                "team=credit",
                "--overwrite",
                "--dry-run=server",
            ],
        )
    };
    agree(cp, &halted, "the webhook and the floor");
    assert!(
        !scale_up(cp).status.success(),
        "a halted system's scale-up is denied"
    );
    ok(routine(cp));
    floor_alone(cp, op, &halted[0]).await;
    agree(cp, &halted, "the floor alone");
    let out = scale_up(cp);
    assert!(
        stderr(&out).contains("belongs to AISystem scoring, which is halted by an overseer"),
        "the floor denies a halted system's scale-up: {}",
        stderr(&out)
    );
    ok(routine(cp));
}
