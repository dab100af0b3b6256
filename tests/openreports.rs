//! OpenReports through the real API server with the real `openreports.io` CRDs (fetched from
//! github.com/openreports/reports-api): an operator started before the CRD exists writes nothing
//! and says nothing of it; once the CRD is installed, an AISystem and its Deployment each get a
//! Report whose scope, owner, results and summary say what the evaluation says (A.6.2.5 fails
//! before the approval, passes after); a settled system's Reports are not written again; a
//! workload that leaves its system, or is deleted, loses its Report; a custom kind's workload (a
//! LeaderWorkerSet) is reported and owned the same way.

mod support;

use std::time::Duration;

use aims_operator::{
    engine::approval::SigningKey,
    runtime::key::{SECRET_KEY, SECRET_NAME},
    testing::Manifest,
};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use serde_json::Value;
use support::{
    apply, cluster, eventually, kubectl, namespace, ok,
    operator::Operator,
    records::{IMAGE, approve_as_webhook, records, wait_stores_hold_records},
    wait_established,
};

const OPERATOR_NS: &str = "aims-system";
const NS: &str = "reports";
const WAIT: Duration = Duration::from_secs(30);

/// The system's Report.
const SYSTEM_REPORT: &str = "aims-aisystem-scoring";

/// The Reports of [`NS`], as `kubectl get reports -o json` gives them.
fn reports(cp: &aims_testenv::ControlPlane) -> Vec<Value> {
    let out = ok(kubectl(cp, &["-n", NS, "get", "reports", "-o", "json"]));
    let list: Value = serde_json::from_str(&out).unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

/// The Report whose scope is `kind` `name`.
fn report_of(reports: &[Value], kind: &str, name: &str) -> Option<Value> {
    reports
        .iter()
        .find(|r| r["scope"]["kind"] == kind && r["scope"]["name"] == name)
        .cloned()
}

/// The result of control `rule` in `report`.
fn result(report: &Value, rule: &str) -> Option<String> {
    report["results"]
        .as_array()?
        .iter()
        .find(|r| r["rule"] == rule)?["result"]
        .as_str()
        .map(str::to_owned)
}

/// The Deployment `scorer` of system `scoring`, or of no system.
fn deployment(system: bool) -> String {
    let manifest = Manifest::deployment("scorer", IMAGE).namespace(NS);
    if system {
        manifest.system("scoring").yaml()
    } else {
        manifest.yaml()
    }
}

/// A change to the AISystem that does not touch its spec: a reconcile, as a resync would run it.
fn touch_system(cp: &aims_testenv::ControlPlane, value: &str) {
    ok(kubectl(
        cp,
        &[
            "-n",
            NS,
            "annotate",
            "--overwrite",
            "aisystem",
            "scoring",
            &format!("example.com/touched={value}"),
        ],
    ));
}

/// The operator's signing key, from its Secret.
async fn signing_key(client: &Client) -> SigningKey {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), OPERATOR_NS);
    let secret = secrets.get(SECRET_NAME).await.unwrap();
    SigningKey::new(&secret.data.unwrap()[SECRET_KEY].0).unwrap()
}

#[tokio::test]
async fn each_system_and_workload_is_reported_once_the_crd_is_installed_and_only_on_change() {
    let cp = cluster();
    let op = Operator::start(cp, OPERATOR_NS, "operator");
    namespace(cp, NS);
    ok(apply(cp, &records(NS, "Enforce")));
    ok(apply(cp, &deployment(true)));
    wait_stores_hold_records(cp, NS).await;

    // No CRD: nothing written, nothing said.
    assert!(
        !op.logs().to_lowercase().contains("openreports"),
        "{}",
        op.logs()
    );

    // The CRD installed after the operator started: the Reports are written.
    let upstream = cp.bin_dir().join("../upstream-crds");
    for file in [
        "openreports.io_reports.yaml",
        "openreports.io_clusterreports.yaml",
    ] {
        let path = upstream.join(file);
        assert!(
            path.is_file(),
            "{} is missing: run tests/controlplane/build.sh",
            path.display()
        );
        ok(kubectl(
            cp,
            &["apply", "--server-side", "-f", path.to_str().unwrap()],
        ));
    }
    // Nothing of the system changes: the CRD's arrival alone has every system reported.
    wait_established(cp, &["crd", "reports.openreports.io"]);
    let (system, workload) = eventually(
        WAIT,
        "the system's and the Deployment's Reports",
        || async {
            let reports = reports(cp);
            Some((
                report_of(&reports, "AISystem", "scoring")?,
                report_of(&reports, "Deployment", "scorer")?,
            ))
        },
    )
    .await;

    // The system's Report: about the AISystem, owned by it, one result per control.
    let uid = |kind: &str, name: &str| {
        ok(kubectl(
            cp,
            &[
                "-n",
                NS,
                "get",
                kind,
                name,
                "-o",
                "jsonpath={.metadata.uid}",
            ],
        ))
    };
    let system_uid = uid("aisystem", "scoring");
    assert_eq!(system["metadata"]["name"], SYSTEM_REPORT);
    assert_eq!(system["scope"]["apiVersion"], "aims.dev/v1alpha1");
    assert_eq!(system["scope"]["namespace"], NS);
    assert_eq!(system["scope"]["uid"], system_uid.as_str());
    assert_eq!(
        system["metadata"]["ownerReferences"][0]["uid"],
        system_uid.as_str()
    );
    assert_eq!(
        system["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "aims-operator"
    );
    assert_eq!(system["source"], "aims-operator");
    let results = system["results"].as_array().unwrap();
    let a625 = results.iter().find(|r| r["rule"] == "A.6.2.5").unwrap();
    assert_eq!(a625["result"], "fail", "{a625}");
    assert_eq!(a625["policy"], "iso42001-annex-a");
    assert_eq!(a625["severity"], "high");
    assert_eq!(a625["category"], "A.6 AI system life cycle");
    assert!(
        a625["properties"]["euAiAct"]
            .as_str()
            .unwrap()
            .contains("Art."),
        "{a625}"
    );
    let summary = &system["summary"];
    let counted: u64 = ["pass", "fail", "warn", "error", "skip"]
        .iter()
        .map(|k| summary[k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(counted, results.len() as u64, "{summary}");
    assert!(summary["fail"].as_u64().unwrap() >= 1, "{summary}");

    // The Deployment's Report: about the Deployment, owned by it, its verdict per control.
    let deployment_uid = uid("deployment", "scorer");
    assert_eq!(workload["scope"]["apiVersion"], "apps/v1");
    assert_eq!(workload["scope"]["uid"], deployment_uid.as_str());
    assert_eq!(
        workload["metadata"]["ownerReferences"][0]["kind"],
        "Deployment"
    );
    assert_eq!(
        workload["metadata"]["ownerReferences"][0]["uid"],
        deployment_uid.as_str()
    );
    assert_eq!(result(&workload, "A.6.2.5").as_deref(), Some("fail"));

    // `kubectl get reports -A` lists both, with their counts.
    let listed = ok(kubectl(cp, &["get", "reports", "-A"]));
    assert!(listed.contains(SYSTEM_REPORT), "{listed}");
    assert!(
        listed.contains("aims-deployment-scorer-scoring-"),
        "{listed}"
    );

    // The approval recorded: A.6.2.5 passes, in both Reports.
    let client = cp.client().await;
    let key = signing_key(&client).await;
    let groups = ["aims:reviewers".to_owned()];
    approve_as_webhook(
        &client,
        &key,
        NS,
        "scoring-v1",
        ("ana", &groups),
        jiff::Timestamp::now(),
    )
    .await;
    let (system, workload) = eventually(WAIT, "A.6.2.5 to pass in both Reports", || async {
        let reports = reports(cp);
        let system = report_of(&reports, "AISystem", "scoring")?;
        let workload = report_of(&reports, "Deployment", "scorer")?;
        (result(&system, "A.6.2.5")? == "pass" && result(&workload, "A.6.2.5")? == "pass")
            .then_some((system, workload))
    })
    .await;

    // Settled: evaluations that change nothing write nothing (the API server would not bump a
    // resourceVersion for an apply that changes nothing either: the operator's own count says it
    // sent none).
    let versions = |s: &Value, w: &Value| {
        (
            s["metadata"]["resourceVersion"].clone(),
            w["metadata"]["resourceVersion"].clone(),
        )
    };
    let before = versions(&system, &workload);
    let evaluations = || op.metric("aims_reconciles_total{controller=\"aisystem\"}");
    let writes = || op.metric("aims_openreports_writes_total{operation=\"apply\"}");
    assert!(writes() >= 2.0, "{}", writes());
    let written = writes();
    for round in 2..5 {
        let seen = evaluations();
        touch_system(cp, &round.to_string());
        eventually(WAIT, "the system evaluated again", || async {
            (evaluations() > seen).then_some(())
        })
        .await;
    }
    assert_eq!(
        writes(),
        written,
        "a settled system's Reports were written again"
    );
    let now = reports(cp);
    let after = versions(
        &report_of(&now, "AISystem", "scoring").unwrap(),
        &report_of(&now, "Deployment", "scorer").unwrap(),
    );
    assert_eq!(before, after, "a settled system's Reports changed");

    // The Deployment leaves the system: its Report goes, the system's stays.
    ok(apply(cp, &deployment(false)));
    touch_system(cp, "left");
    eventually(WAIT, "the Deployment's Report deleted", || async {
        let reports = reports(cp);
        (report_of(&reports, "Deployment", "scorer").is_none()
            && report_of(&reports, "AISystem", "scoring").is_some())
        .then_some(())
    })
    .await;

    // Back in the system, then deleted: its Report comes back, then goes with it.
    ok(apply(cp, &deployment(true)));
    eventually(WAIT, "the Deployment's Report back", || async {
        report_of(&reports(cp), "Deployment", "scorer").map(|_| ())
    })
    .await;
    ok(kubectl(cp, &["-n", NS, "delete", "deployment", "scorer"]));
    eventually(WAIT, "the deleted Deployment's Report gone", || async {
        report_of(&reports(cp), "Deployment", "scorer")
            .is_none()
            .then_some(())
    })
    .await;

    // A custom kind's workload: a LeaderWorkerSet (the stand-in CRD) of the system, outside the
    // approved scope. Its Report names it at the version its CRD serves, is owned by it, and goes
    // with it.
    let mut lws: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(
            support::repo().join("tests/fixtures/kinds/leaderworkerset-vllm.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    lws["metadata"]["namespace"] = NS.into();
    lws["metadata"]["labels"] = serde_json::json!({"aims.dev/system": "scoring"});
    ok(apply(cp, &lws.to_string()));
    let report = eventually(WAIT, "the LeaderWorkerSet's Report", || async {
        report_of(&reports(cp), "LeaderWorkerSet", "vllm")
    })
    .await;
    let lws_uid = uid("leaderworkerset", "vllm");
    assert_eq!(report["scope"]["apiVersion"], "leaderworkerset.x-k8s.io/v1");
    assert_eq!(report["scope"]["uid"], lws_uid.as_str());
    assert_eq!(
        report["metadata"]["ownerReferences"][0]["apiVersion"],
        "leaderworkerset.x-k8s.io/v1"
    );
    assert_eq!(result(&report, "A.6.2.5").as_deref(), Some("fail"));
    ok(kubectl(
        cp,
        &["-n", NS, "delete", "leaderworkerset", "vllm"],
    ));
    eventually(
        WAIT,
        "the deleted LeaderWorkerSet's Report gone",
        || async {
            report_of(&reports(cp), "LeaderWorkerSet", "vllm")
                .is_none()
                .then_some(())
        },
    )
    .await;

    assert!(op.forbidden().is_empty(), "{:?}", op.forbidden());
    assert!(op.stop(), "the operator did not stop cleanly");
}
