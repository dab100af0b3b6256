//! The compiled floor through a real API server: the operator writes each namespace's
//! AdmissionFloor from its evaluations, and the chart's ValidatingAdmissionPolicies keep deciding
//! workload admission from it after the operator is stopped and its webhook configurations are
//! removed (the runbook's emergency step): an approved image admitted; an image outside the
//! approved scope and anything new of a halted system denied; what the floor does not list left to the
//! webhook; nobody but the operator may write the floor.

mod support;

use std::{process::Output, time::Duration};

use aims_testenv::ControlPlane;
use support::{
    as_admin, cluster, eventually, install_crds, kubectl, kubectl_stdin, merge_patch, namespace,
    ok,
    operator::{Operator, apply_floor_policies, floor_entry},
    records::{IMAGE, apply_records},
    stderr, stdout,
};

const OPERATOR_NS: &str = "aims-floor";
const NS: &str = "floor-credit";
const WAIT: Duration = Duration::from_secs(30);

async fn wait_entry(cp: &ControlPlane, what: &str, holds: impl Fn(&serde_json::Value) -> bool) {
    eventually(WAIT, what, || async {
        let e = floor_entry(cp, NS, "scoring");
        holds(&e).then_some(())
    })
    .await;
}

/// A server-side dry-run create of Deployment `name` of `system` running `image`.
fn create(cp: &ControlPlane, ns: &str, system: &str, image: &str, replicas: i32) -> Output {
    let manifest = aims_operator::testing::Manifest::deployment("scorer", image)
        .namespace(ns)
        .system(system)
        .container("scorer")
        .cpu("100m")
        .replicas(replicas)
        .yaml();
    kubectl_stdin(cp, &["create", "--dry-run=server", "-f", "-"], &manifest)
}

fn denied(out: &Output, says: &str) {
    assert!(!out.status.success(), "admitted: {}", stdout(out));
    assert!(
        stderr(out).contains(says),
        "expected {says:?} in: {}",
        stderr(out)
    );
}

fn patch(cp: &ControlPlane, what: &str, body: &str, who: &[String]) -> Output {
    merge_patch(cp, NS, what, body, who)
}

#[tokio::test]
async fn the_api_server_keeps_deciding_from_the_floor_when_the_operator_is_gone() {
    let cp = cluster();
    install_crds(cp, false);
    let op = Operator::start_with(cp, OPERATOR_NS, "floor", &["--compiled-floor"]);
    apply_floor_policies(cp, OPERATOR_NS);
    op.register_webhooks(cp);
    namespace(cp, NS);
    apply_records(cp, NS, "Enforce").await;

    // Not approved yet: the system admits nothing.
    wait_entry(cp, "an entry that admits nothing", |e| e["admit"] == false).await;
    let approve =
        r#"{"spec":{"approvals":[{"decision":"Approve","comment":"risks are treated"}]}}"#;
    ok(patch(
        cp,
        "riskassessment/scoring-v1",
        approve,
        &as_admin("alice", "aims:reviewers"),
    ));
    wait_entry(cp, "an entry that admits the approved image", |e| {
        e["admit"] == true && e["images"][IMAGE] == true
    })
    .await;

    // Nobody but the operator writes the floor, not even a cluster admin. (The API server loads
    // policies asynchronously: a dry run shows when this one is in force.)
    let forged =
        r#"{"spec":{"systems":{"scoring":{"admit":true,"halted":false,"anyImage":true}}}}"#;
    let mut dry = as_admin("mallory", "ops");
    dry.push("--dry-run=server".to_owned());
    eventually(WAIT, "the floor's write policy to be in force", || async {
        let out = patch(cp, "admissionfloor/aims-admission-floor", forged, &dry);
        (!out.status.success()).then_some(())
    })
    .await;
    let out = patch(
        cp,
        "admissionfloor/aims-admission-floor",
        r#"{"spec":{"systems":{"scoring":{"admit":true,"halted":false,"anyImage":true}}}}"#,
        &as_admin("mallory", "ops"),
    );
    denied(&out, "admissionfloors are written by aims-operator alone");

    // The operator stopped and its webhooks removed, as the runbook's emergency step does.
    assert!(op.stop(), "the operator stops cleanly");
    ok(kubectl(
        cp,
        &[
            "delete",
            "validatingwebhookconfiguration,mutatingwebhookconfiguration",
            "aims-operator",
        ],
    ));
    let unapproved = "registry.example.com/credit/scorer@sha256:6666666666666666666666666666666666666666666666666666666666666666";
    // The policies are loaded by the API server asynchronously: the first denial shows they are.
    eventually(
        WAIT,
        "the floor to deny an image outside the scope",
        || async {
            let out = create(cp, NS, "scoring", unapproved, 1);
            (!out.status.success()).then_some(())
        },
    )
    .await;
    ok(create(cp, NS, "scoring", IMAGE, 1));
    // The same image with a tag as well as its digest is the same approved image.
    let tagged = IMAGE.replace("@sha256", ":v3@sha256");
    ok(create(cp, NS, "scoring", &tagged, 1));
    denied(
        &create(cp, NS, "scoring", unapproved, 1),
        &format!("not in the approved scope of AISystem scoring: {unapproved}"),
    );
    denied(
        &create(cp, NS, "scoring", "nginx:1.27", 1),
        "not in the approved scope",
    );
    // A system the floor does not list, and a namespace without a floor, are the webhook's: the
    // engine warns there (or applies the unregistered policy), and the floor denies only what the
    // engine denies.
    ok(create(cp, NS, "no-such-system", IMAGE, 1));
    namespace(cp, "floor-elsewhere");
    ok(create(cp, "floor-elsewhere", "scoring", IMAGE, 1));
    // An unlabelled workload is not the floor's.
    let plain = aims_operator::testing::Manifest::deployment("web", "nginx:1.27")
        .namespace(NS)
        .container("web")
        .yaml();
    ok(kubectl_stdin(
        cp,
        &["create", "--dry-run=server", "-f", "-"],
        &plain,
    ));

    // Halted while the operator ran: nothing of it is admitted after it stopped.
    let op = Operator::start_with(cp, OPERATOR_NS, "floor-2", &["--compiled-floor"]);
    op.register_webhooks(cp);
    ok(patch(
        cp,
        "aisystem/scoring",
        r#"{"spec":{"oversight":{"halt":true,"haltReason":"drift"}}}"#,
        &as_admin("olga", "overseers"),
    ));
    wait_entry(cp, "a halted entry", |e| e["halted"] == true).await;
    assert!(op.stop(), "the operator stops cleanly");
    ok(kubectl(
        cp,
        &[
            "delete",
            "validatingwebhookconfiguration,mutatingwebhookconfiguration",
            "aims-operator",
        ],
    ));
    denied(
        &create(cp, NS, "scoring", IMAGE, 1),
        "AISystem scoring is halted by an overseer",
    );
    // Nothing of a halted system is admitted, as the engine has it: not even a stopped copy.
    denied(
        &create(cp, NS, "scoring", IMAGE, 0),
        "AISystem scoring is halted by an overseer",
    );
}
