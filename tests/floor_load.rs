//! A load run of the compiled floor, not a test: after a state change of a system (a halt, a
//! resume, an approval withdrawn, an approval given), how long until the API server enforces it
//! on its own. The operator runs with `--compiled-floor` and the chart's floor policies are
//! applied; its webhook configurations are deleted first, as the runbook's emergency removal does,
//! so the floor alone decides. Each change is written through the API server, and from the write's
//! response on, a server-side dry-run create of a Deployment of that system is repeated every few
//! milliseconds until it gets the new answer. What that time holds: the operator's watch event,
//! its evaluation of the system (and the status write and Events that come before the floor in a
//! reconcile), its patch of the namespace's AdmissionFloor, and the API server's informer of the
//! policies' parameters delivering that patch to the policies. A watch of the AdmissionFloor by the
//! run itself tells the two halves apart. An approval is withdrawn by the reviewer's rejection and
//! given to a new revision of the assessment (approvals are append-only, and a rejection stands
//! until the content changes), each entry signed with the operator's key as the removed webhook
//! would have signed it.
//!
//! Figures go to BENCHMARKS.md.
//!
//! `cargo test --release --test floor_load floor_enforcement -- --ignored --nocapture`
//!
//! `AIMS_LOAD_FLOOR_ROUNDS` sets the rounds (default 50; each round makes the four changes), and
//! `AIMS_LOAD_FLOOR_PAUSE_MS` the least pause between two changes (default 3,500 ms, past the
//! operator's pacing of a system's evaluations; 100 shows changes in quick succession, which the
//! pacing holds back).

mod support;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aims_operator::{
    api::{AdmissionFloor, Decision, FLOOR_NAME, FloorSystem, RiskAssessment},
    engine::approval::SigningKey,
    runtime::key::{SECRET_KEY, SECRET_NAME},
    testing::{self, Manifest},
};
use aims_testenv::{ControlPlane, Options};
use futures::StreamExt;
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Secret};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
    runtime::{WatchStreamExt, watcher},
};
use serde_json::json;
use support::{
    as_admin, eventually, install_crds, kubectl, kubectl_stdin, merge_patch, namespace, ok,
    operator::{Operator, apply_floor_policies},
    records::{IMAGE, apply_records},
    stderr,
};

const OPERATOR_NS: &str = "aims-system";
const NS: &str = "floor-load";
const SYSTEM: &str = "scoring";
const ASSESSMENT: &str = "scoring-v1";
const WAIT: Duration = Duration::from_secs(60);
/// How long a change may take to be enforced before it counts as never enforced.
const GIVE_UP: Duration = Duration::from_secs(30);
/// The least pause between two changes (0–200 ms more are added): long enough for the operator's
/// pacing of a system's evaluations to have let go of the system, as between changes made by
/// people. The pacing allows one evaluation per second unless the system's spec changed (a halt, a
/// resume); what a change sets off (the assessment's status, then the system's) can keep it
/// evaluating once a second for two seconds after the change.
const PAUSE_MS: u64 = 3_500;
/// The pause between two probes.
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// A state change of the system, and what the floor and the API server then say.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Change {
    Halt,
    Resume,
    Withdraw,
    Give,
}

impl Change {
    const ALL: [Change; 4] = [Change::Halt, Change::Resume, Change::Withdraw, Change::Give];

    fn label(self) -> &'static str {
        match self {
            Change::Halt => "halt",
            Change::Resume => "resume",
            Change::Withdraw => "approval withdrawn",
            Change::Give => "approval given",
        }
    }

    /// Whether the floor's entry of the system shows the change.
    fn written(self, entry: &FloorSystem) -> bool {
        match self {
            Change::Halt => entry.halted,
            Change::Resume => !entry.halted,
            Change::Withdraw => !entry.admit,
            Change::Give => entry.admit,
        }
    }

    /// Whether the probe's answer shows the change: `None` when admitted, else the denial.
    fn enforced(self, answer: &Option<String>) -> bool {
        match (self, answer) {
            (Change::Halt, Some(m)) => m.contains("is halted by an overseer"),
            (Change::Withdraw, Some(m)) => m.contains("has no approval in force"),
            (Change::Resume | Change::Give, None) => true,
            _ => false,
        }
    }
}

/// The probe: a server-side dry-run create of a Deployment of the system running the approved
/// image. `None` when admitted; the API server's message when denied.
async fn probe(api: &Api<Deployment>, deployment: &Deployment) -> Option<String> {
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    match api.create(&dry, deployment).await {
        Ok(_) => None,
        Err(kube::Error::Api(e)) => Some(e.message),
        Err(e) => panic!("the probe failed: {e}"),
    }
}

/// The reviewer who approves and rejects, and her groups.
const REVIEWER: &str = "alice";
fn reviewer_groups() -> Vec<String> {
    vec!["aims:reviewers".to_owned()]
}

/// Withdraws the approval of assessment `name`: the reviewer's rejection appended, stamped and
/// signed with the operator's key as the webhook would (the webhook is removed). Approvals are
/// append-only, at most 32, and a rejection stands until the content changes: the next approval is
/// given to a new revision ([`revise`]).
async fn withdraw(api: &Api<RiskAssessment>, key: &SigningKey, name: &str) {
    let mut ra = api.get(name).await.unwrap();
    let groups = reviewer_groups();
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    testing::decide(
        key,
        &mut ra,
        Decision::Reject,
        Some("load run".to_owned()),
        (REVIEWER, &groups),
        jiff::Timestamp::now(),
    );
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"approvals": ra.spec.approvals}})),
    )
    .await
    .unwrap();
}

/// A new revision `to` of assessment `from`: the same content, no decision yet (its approval,
/// the timed write, is [`support::records::approve_as_webhook`]).
async fn revise(api: &Api<RiskAssessment>, from: &str, to: &str) {
    let old = api.get(from).await.unwrap();
    let mut spec = old.spec;
    spec.approvals.clear();
    spec.record_stamp = None;
    let mut ra = RiskAssessment::new(to, spec);
    ra.metadata.namespace = Some(NS.to_owned());
    api.create(&PostParams::default(), &ra).await.unwrap();
}

/// One change as measured, in milliseconds from the write's response: when the run's watch saw
/// the floor written (before the response if the operator was faster than the response's way
/// back), and when the first probe with the new answer came back.
struct Sample {
    change: Change,
    floor_seen: Option<f64>,
    enforced: Option<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(mut values: Vec<f64>) -> String {
    if values.is_empty() {
        return "—".to_owned();
    }
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} / {:.1} / {:.1}",
        percentile(&values, 0.5),
        percentile(&values, 0.99),
        values.last().unwrap()
    )
}

/// The floor's entries of the system as the run's watch saw them arrive.
type Seen = Arc<Mutex<Vec<(Instant, FloorSystem)>>>;

fn watch_floor(client: &Client) -> Seen {
    let seen: Seen = Arc::default();
    let api = Api::<AdmissionFloor>::namespaced(client.clone(), NS);
    let config = watcher::Config::default().fields(&format!("metadata.name={FLOOR_NAME}"));
    let log = seen.clone();
    tokio::spawn(async move {
        let mut events = watcher(api, config).default_backoff().boxed();
        while let Some(event) = events.next().await {
            if let Ok(watcher::Event::Apply(floor) | watcher::Event::InitApply(floor)) = event
                && let Some(entry) = floor.spec.systems.get(SYSTEM)
            {
                log.lock().unwrap().push((Instant::now(), entry.clone()));
            }
        }
    });
    seen
}

/// State changes through the API server with the compiled floor alone deciding: for each, the
/// time until a dry-run create gets the new answer, and until the floor is written.
///
/// `cargo test --release --test floor_load floor_enforcement -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a load run that prints figures; run it explicitly"]
async fn floor_enforcement() {
    let rounds: usize = std::env::var("AIMS_LOAD_FLOOR_ROUNDS")
        .ok()
        .map_or(50, |r| {
            r.parse().expect("AIMS_LOAD_FLOOR_ROUNDS is a number")
        });
    let pause: u64 = std::env::var("AIMS_LOAD_FLOOR_PAUSE_MS")
        .ok()
        .map_or(PAUSE_MS, |r| {
            r.parse().expect("AIMS_LOAD_FLOOR_PAUSE_MS is a number")
        });
    let cp = ControlPlane::start_with(Options {
        controller_manager: false,
        etcd_fsync: std::env::var("AIMS_LOAD_ETCD_FSYNC").is_ok_and(|v| v == "1"),
        ..Options::default()
    })
    .unwrap();
    let cp = &cp;
    install_crds(cp, false);
    let client = cp.client().await;
    let op = Operator::start_with(cp, OPERATOR_NS, "floor-load", &["--compiled-floor"]);
    apply_floor_policies(cp, OPERATOR_NS);
    op.register_webhooks(cp);
    namespace(cp, NS);
    apply_records(cp, NS, "Enforce").await;
    ok(merge_patch(
        cp,
        NS,
        &format!("riskassessment/{ASSESSMENT}"),
        r#"{"spec":{"approvals":[{"decision":"Approve","comment":"risks are treated"}]}}"#,
        &as_admin("alice", "aims:reviewers"),
    ));

    // The webhook configurations removed, as the runbook's emergency step does; the operator
    // keeps running and writing the floor.
    ok(kubectl(
        cp,
        &[
            "delete",
            "validatingwebhookconfiguration,mutatingwebhookconfiguration",
            "aims-operator",
        ],
    ));
    // Gone from the API server once a Deployment of a system nobody registered comes back
    // without the webhook's warning.
    let unknown = Manifest::deployment("probe", "nginx:1.27")
        .namespace(NS)
        .system("no-such-system")
        .container("probe")
        .yaml();
    eventually(WAIT, "the webhooks to be gone", || async {
        let out = kubectl_stdin(cp, &["create", "--dry-run=server", "-f", "-"], &unknown);
        (out.status.success() && !stderr(&out).contains("which does not exist")).then_some(())
    })
    .await;

    let deployments = Api::<Deployment>::namespaced(client.clone(), NS);
    let deployment: Deployment = serde_json::from_value(
        Manifest::deployment("probe", IMAGE)
            .namespace(NS)
            .system(SYSTEM)
            .container("scorer")
            .cpu("100m")
            .replicas(1)
            .json(),
    )
    .unwrap();
    // The floor's policies are in force once the floor denies: an image outside the scope.
    let mut outside = deployment.clone();
    outside.spec.as_mut().unwrap().template.spec.as_mut().unwrap().containers[0].image = Some(
        "registry.example.com/credit/scorer@sha256:6666666666666666666666666666666666666666666666666666666666666666"
            .to_owned(),
    );
    eventually(
        WAIT,
        "the floor to deny an image outside the scope",
        || async { probe(&deployments, &outside).await.map(|_| ()) },
    )
    .await;
    eventually(WAIT, "the floor to admit the approved image", || async {
        probe(&deployments, &deployment)
            .await
            .is_none()
            .then_some(())
    })
    .await;

    let secret = Api::<Secret>::namespaced(client.clone(), OPERATOR_NS)
        .get(SECRET_NAME)
        .await
        .unwrap();
    let key = SigningKey::new(&secret.data.unwrap()[SECRET_KEY].0).unwrap();
    let systems = Api::<aims_operator::api::AISystem>::namespaced(client.clone(), NS);
    let assessments = Api::<RiskAssessment>::namespaced(client.clone(), NS);
    let seen = watch_floor(&client);
    // The assessment whose approval is in force (or was, until withdrawn).
    let mut current = ASSESSMENT.to_owned();

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let started = Instant::now();
    let mut samples = Vec::with_capacity(rounds * Change::ALL.len());
    let mut probes = 0usize;
    let mut probe_time = Duration::ZERO;
    // Per change, how long the moment it took effect is known to within (ms): from the last
    // probe with the old answer sent to the first with the new one answered.
    let mut window = Vec::new();
    for round in 0..rounds {
        for change in Change::ALL {
            // Changes at irregular moments: nothing periodic lines up with them.
            let jitter = (round * 4 + change as usize) * 37 % 200;
            // The next revision is made before the pause, so that its own evaluation is done
            // with before the approval is written.
            let next = format!("scoring-v{}", round + 2);
            if change == Change::Give {
                revise(&assessments, &current, &next).await;
            }
            tokio::time::sleep(Duration::from_millis(pause + jitter as u64)).await;
            let sent = Instant::now();
            match change {
                Change::Halt | Change::Resume => {
                    let halt = change == Change::Halt;
                    systems
                        .patch(
                            SYSTEM,
                            &PatchParams::default(),
                            &Patch::Merge(json!({"spec": {"oversight": {
                                "halt": halt,
                                "haltReason": if halt { Some("load run") } else { None }
                            }}})),
                        )
                        .await
                        .unwrap();
                }
                Change::Withdraw => withdraw(&assessments, &key, &current).await,
                Change::Give => {
                    support::records::approve_as_webhook(
                        &client,
                        &key,
                        NS,
                        &next,
                        (REVIEWER, &reviewer_groups()),
                        jiff::Timestamp::now(),
                    )
                    .await;
                    current = next;
                }
            }
            let written = Instant::now();
            let mut enforced = None;
            // When the last probe with the old answer was sent: the change took effect after.
            let mut old_sent = written;
            while written.elapsed() < GIVE_UP {
                let at = Instant::now();
                let answer = probe(&deployments, &deployment).await;
                probes += 1;
                probe_time += at.elapsed();
                if change.enforced(&answer) {
                    enforced = Some(written.elapsed().as_secs_f64() * 1e3);
                    window.push((at.elapsed() + at.duration_since(old_sent)).as_secs_f64() * 1e3);
                    break;
                }
                old_sent = at;
                tokio::time::sleep(PROBE_EVERY).await;
            }
            let floor_seen = seen
                .lock()
                .unwrap()
                .iter()
                .find(|(at, entry)| *at >= sent && change.written(entry))
                .map(|(at, _)| {
                    (at.saturating_duration_since(written).as_secs_f64()
                        - written.saturating_duration_since(*at).as_secs_f64())
                        * 1e3
                });
            if enforced.is_none() {
                println!(
                    "round {round}, {}: not enforced within {GIVE_UP:?} (floor seen: {floor_seen:?})",
                    change.label()
                );
                for what in [
                    format!("riskassessment/{current}"),
                    format!("aisystem/{SYSTEM}"),
                ] {
                    let out = kubectl(cp, &["-n", NS, "get", &what, "-o", "jsonpath={.status}"]);
                    println!("  {what}: {}", support::stdout(&out));
                }
            }
            samples.push(Sample {
                change,
                floor_seen,
                enforced,
            });
        }
    }
    println!("changes {pause}–{} ms apart", pause + 200);
    println!(
        "{} changes in {:.0} s; {probes} probes, {:.2} ms each on average; load average before {}, after {}",
        samples.len(),
        started.elapsed().as_secs_f64(),
        probe_time.as_secs_f64() * 1e3 / probes as f64,
        load.trim(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!(
        "| change | n | enforced after, p50 / p99 / max ms | floor written (run's watch), p50 / p99 / max ms | floor written → enforced, p50 / p99 / max ms |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let kinds: Vec<(&str, Vec<&Sample>)> = Change::ALL
        .iter()
        .map(|c| {
            (
                c.label(),
                samples.iter().filter(|s| s.change == *c).collect(),
            )
        })
        .chain([("all", samples.iter().collect())])
        .collect();
    for (label, of) in kinds {
        let enforced: Vec<f64> = of.iter().filter_map(|s| s.enforced).collect();
        let floor: Vec<f64> = of.iter().filter_map(|s| s.floor_seen).collect();
        let gap: Vec<f64> = of
            .iter()
            .filter_map(|s| Some(s.enforced? - s.floor_seen?))
            .collect();
        println!(
            "| {label} | {} | {} | {} | {} |",
            of.len(),
            summary(enforced),
            summary(floor),
            summary(gap)
        );
    }
    println!(
        "the moment a change took effect is known to within (ms, p50 / p99 / max): {}",
        summary(window)
    );
    let missed = samples.iter().filter(|s| s.enforced.is_none()).count();
    let unseen = samples.iter().filter(|s| s.floor_seen.is_none()).count();
    println!("never enforced: {missed}; floor write never seen by the watch: {unseen}");
    assert_eq!(
        missed, 0,
        "changes the API server never enforced within {GIVE_UP:?}"
    );
    assert!(op.stop(), "the operator stops cleanly");
}
