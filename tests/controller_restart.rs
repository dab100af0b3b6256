//! Restarting the operator on an unchanged cluster writes nothing: every status it computes equals
//! the one already stored, so no resourceVersion moves. SIGTERM stops it cleanly.

mod support;

use std::{collections::BTreeMap, time::Duration};

use aims_operator::api::{AISystem, Phase, RiskAssessment};
use aims_testenv::ControlPlane;
use kube::{Api, ResourceExt, api::ListParams};
use support::{eventually, ok, operator::Operator};

/// Each test here starts a control plane of its own; one at a time keeps two cores from being
/// swamped by three API servers at once.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn versions(client: &kube::Client) -> BTreeMap<String, String> {
    let systems: Api<AISystem> = Api::all(client.clone());
    let assessments: Api<RiskAssessment> = Api::all(client.clone());
    let mut out = BTreeMap::new();
    for s in systems.list(&ListParams::default()).await.unwrap() {
        out.insert(
            format!("AISystem {}/{}", s.namespace().unwrap(), s.name_any()),
            s.resource_version().unwrap(),
        );
    }
    for r in assessments.list(&ListParams::default()).await.unwrap() {
        out.insert(
            format!("RiskAssessment {}/{}", r.namespace().unwrap(), r.name_any()),
            r.resource_version().unwrap(),
        );
    }
    out
}

#[tokio::test]
async fn a_restart_on_an_unchanged_cluster_writes_no_status() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let cp = ControlPlane::start().expect("control plane");
    support::install_crds(&cp, true);
    ok(support::kubectl(
        &cp,
        &["apply", "--recursive", "-f", "examples/"],
    ));
    let client = cp.client().await;

    let first = Operator::start(&cp, "aims-system", "first");
    let systems: Api<AISystem> = Api::all(client.clone());
    let expected = [
        ("credit-scoring", Phase::Pending),
        ("cv-screening", Phase::NonCompliant),
        ("product-recommender", Phase::Compliant),
        ("support-assistant", Phase::Pending),
    ];
    eventually(
        Duration::from_secs(30),
        "every example system to have its phase",
        || async {
            let list = systems.list(&ListParams::default()).await.ok()?;
            let phases: Vec<(String, Option<Phase>)> = list
                .iter()
                .map(|s| (s.name_any(), s.status.as_ref().and_then(|st| st.phase)))
                .collect();
            let all = expected
                .iter()
                .all(|(name, phase)| phases.iter().any(|(n, p)| n == name && *p == Some(*phase)));
            all.then_some(())
        },
    )
    .await;
    // Let the first operator settle: no status write for two seconds.
    let mut writes = first.writes();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = first.writes();
        if now == writes {
            break;
        }
        writes = now;
    }
    let before = versions(&client).await;
    assert!(
        first.stop(),
        "SIGTERM stops the operator cleanly (exit status 0)"
    );

    let second = Operator::start(&cp, "aims-system", "second");
    eventually(
        Duration::from_secs(30),
        "the second operator to evaluate everything",
        || async {
            let systems = second.metric("aims_reconciles_total{controller=\"aisystem\"}");
            let assessments = second.metric("aims_reconciles_total{controller=\"riskassessment\"}");
            let bindings = second.metric("aims_reconciles_total{controller=\"binding\"}");
            (systems >= 4.0 && assessments >= 3.0 && bindings >= 4.0).then_some(())
        },
    )
    .await;
    assert_eq!(
        second.writes(),
        0.0,
        "status writes after a restart:\n{}",
        second.logs()
    );
    assert_eq!(
        versions(&client).await,
        before,
        "a resourceVersion moved after the restart"
    );
}

#[tokio::test]
async fn of_two_replicas_one_writes_and_the_other_takes_over_when_it_stops() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let cp = ControlPlane::start().expect("control plane");
    support::install_crds(&cp, false);
    let client = cp.client().await;
    let a = Operator::start(&cp, "aims-system", "replica-a");
    let b = Operator::start(&cp, "aims-system", "replica-b");

    let system = |name: &str| {
        format!(
            "apiVersion: aims.dev/v1alpha1\nkind: AISystem\nmetadata: {{name: {name}, namespace: default}}\n\
             spec: {{purpose: p, riskTier: Minimal, owner: {{name: o}}}}\n"
        )
    };
    let systems: Api<AISystem> = Api::namespaced(client.clone(), "default");
    let evaluated = |name: &'static str| {
        let systems = systems.clone();
        async move { systems.get_status(name).await.ok()?.status?.phase }
    };
    ok(support::apply(&cp, &system("first")));
    eventually(Duration::from_secs(40), "first to be evaluated", || {
        evaluated("first")
    })
    .await;
    let writes = |op: &Operator| op.metric("aims_status_writes_total{controller=\"aisystem\"}");
    // The status can be read back a moment before the writer counts its write.
    let (wa, wb) = eventually(Duration::from_secs(10), "a write to be counted", || {
        let counts = (writes(&a), writes(&b));
        async move { (counts.0 + counts.1 > 0.0).then_some(counts) }
    })
    .await;
    assert!(
        (wa > 0.0) != (wb > 0.0),
        "exactly one replica writes: a={wa} b={wb}"
    );

    // The writer stops (and releases the Lease); the other one takes over.
    let (leader, follower) = if wa > 0.0 { (a, b) } else { (b, a) };
    assert!(leader.stop());
    ok(support::apply(&cp, &system("second")));
    eventually(
        Duration::from_secs(40),
        "second to be evaluated by the new leader",
        || evaluated("second"),
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the new leader's write counted",
        || {
            let counted = writes(&follower) > 0.0;
            async move { counted.then_some(()) }
        },
    )
    .await;
}

#[tokio::test]
async fn inference_services_are_governed_once_kserve_is_installed_even_after_the_operator_started()
{
    let cp = ControlPlane::start().expect("control plane");
    support::install_crds(&cp, false);
    let _operator = Operator::start(&cp, "aims-system", "operator");

    // KServe arrives after the operator.
    ok(support::kubectl(
        &cp,
        &[
            "apply",
            "-f",
            "tests/fixtures/crds/inferenceservices.serving.kserve.io.yaml",
        ],
    ));
    support::wait_established(&cp, &["crd/inferenceservices.serving.kserve.io"]);
    ok(support::kubectl(&cp, &["create", "namespace", "support"]));
    ok(support::kubectl(
        &cp,
        &["apply", "-f", "examples/support-assistant/"],
    ));
    let client = cp.client().await;
    let systems: Api<AISystem> = Api::namespaced(client, "support");
    let workloads = eventually(
        Duration::from_secs(40),
        "the InferenceService to count as the system's workload",
        || async {
            let w = systems
                .get_status("support-assistant")
                .await
                .ok()?
                .status?
                .workloads?;
            (w.matched == 1).then_some(w)
        },
    )
    .await;
    assert_eq!(workloads.names, ["InferenceService/support-assistant"]);
}

/// An AISystem stored under an older, looser schema with a field the current types cannot read.
const LOOSE_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: aisystems.aims.dev}
spec:
  group: aims.dev
  names: {kind: AISystem, plural: aisystems, singular: aisystem, listKind: AISystemList}
  scope: Namespaced
  versions:
    - name: v1alpha1
      served: true
      storage: true
      subresources: {status: {}}
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"#;

#[tokio::test]
async fn an_unreadable_object_becomes_an_event_and_stalls_nothing() {
    use k8s_openapi::api::core::v1::Event;
    let _serial = ONE_AT_A_TIME.lock().await;
    let cp = ControlPlane::start().expect("control plane");
    ok(support::apply(&cp, LOOSE_CRD));
    support::wait_established(&cp, &["crd/aisystems.aims.dev"]);
    ok(support::apply(
        &cp,
        "apiVersion: aims.dev/v1alpha1\nkind: AISystem\nmetadata: {name: legacy, namespace: default}\nspec: {purpose: p, riskTier: 7, owner: {name: o}}\n",
    ));
    // The current CRDs replace the loose one; the stored object stays as it was.
    ok(support::kubectl(
        &cp,
        &["apply", "--server-side", "--force-conflicts", "-f", "crds/"],
    ));
    support::wait_established(&cp, &["crd", "--all"]);
    ok(support::apply(
        &cp,
        "apiVersion: aims.dev/v1alpha1\nkind: AISystem\nmetadata: {name: fine, namespace: default}\nspec: {purpose: p, riskTier: Minimal, owner: {name: o}}\n",
    ));

    let _operator = Operator::start(&cp, "aims-system", "operator");
    let client = cp.client().await;
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let event = eventually(
        Duration::from_secs(40),
        "an InvalidObject event on the legacy system",
        || async {
            let params =
                ListParams::default().fields("reason=InvalidObject,involvedObject.name=legacy");
            events.list(&params).await.ok()?.items.into_iter().next()
        },
    )
    .await;
    let note = event.message.unwrap_or_default();
    assert!(
        note.contains("riskTier") || note.contains("invalid type"),
        "{note}"
    );
    // The readable system next to it is evaluated as usual.
    let systems: Api<AISystem> = Api::namespaced(client, "default");
    eventually(
        Duration::from_secs(40),
        "the readable system to be evaluated",
        || async { systems.get_status("fine").await.ok()?.status?.phase },
    )
    .await;
}
