//! What holds while the operator is down and its webhooks are gone (the chart's emergency
//! procedure removes them): the chart's ValidatingAdmissionPolicy keeps a halt's authority in the
//! API server itself. On a control plane of its own, with no operator and no webhook at all.

mod support;

use std::process::Output;

use aims_testenv::ControlPlane;
use support::{apply, install_crds, kubectl, namespace, ok, refused, stderr};

const NS: &str = "outage";

/// `kubectl -n outage ARGS... --as WHO`.
fn as_user(cp: &ControlPlane, who: &str, args: &[&str]) -> Output {
    let mut all = vec!["-n", NS];
    all.extend_from_slice(args);
    let as_user = format!("--as={who}");
    all.push(&as_user);
    kubectl(cp, &all)
}

fn patch(cp: &ControlPlane, who: &str, body: &str) -> Output {
    as_user(
        cp,
        who,
        &["patch", "aisystem", "scoring", "--type=merge", "-p", body],
    )
}

#[tokio::test]
async fn with_the_webhooks_removed_a_halt_keeps_its_authority() {
    let cp = ControlPlane::start().expect("start a control plane");
    install_crds(&cp, false);
    support::operator::apply_chart(
        &cp,
        "aims-system",
        &["--show-only", "templates/halt-policy.yaml"],
    );
    namespace(&cp, NS);
    ok(apply(
        &cp,
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: outage-team}
rules:
  - apiGroups: [aims.dev]
    resources: [aisystems]
    verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: outage-team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: outage-team}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated"}
"#,
    ));
    // The policy is enforced once the API server has loaded it: wait on its first refusal.
    ok(apply(
        &cp,
        &format!(
            r#"
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata: {{name: scoring, namespace: {NS}}}
spec:
  purpose: Score loan applications.
  outOfScopeUses: [employment decisions]
  riskTier: Limited
  owner: {{name: sam}}
  oversight:
    overseers: [{{name: olga}}]
    halt: true
    haltReason: drift
"#
        ),
    ));
    support::eventually(
        std::time::Duration::from_secs(30),
        "the policy to refuse deleting the halted system",
        || async {
            let out = as_user(
                &cp,
                "mallory",
                &["delete", "aisystem", "scoring", "--dry-run=server"],
            );
            stderr(&out)
                .contains("a halted AISystem cannot be deleted")
                .then_some(())
        },
    )
    .await;

    refused(
        &as_user(&cp, "mallory", &["delete", "aisystem", "scoring"]),
        "a halted AISystem cannot be deleted",
    );
    refused(
        &patch(&cp, "mallory", r#"{"spec":{"oversight":{"halt":false}}}"#),
        "only the system's overseers may clear a halt, and mallory is not one; ask one of olga",
    );
    refused(
        &patch(
            &cp,
            "mallory",
            r#"{"spec":{"oversight":{"overseers":[{"name":"olga"},{"name":"mallory"}]}}}"#,
        ),
        "spec.oversight.overseers",
    );
    for body in [
        r#"{"spec":{"riskTier":"Minimal"}}"#,
        r#"{"spec":{"purpose":"Anything."}}"#,
        r#"{"spec":{"outOfScopeUses":[]}}"#,
    ] {
        refused(
            &patch(&cp, "mallory", body),
            "needs one of the system's overseers",
        );
    }
    // What weakens nothing goes through: a new halt reason.
    ok(patch(
        &cp,
        "mallory",
        r#"{"spec":{"oversight":{"haltReason":"drift, under investigation"}}}"#,
    ));
    // The overseer clears the halt; then the system can be deleted.
    ok(patch(
        &cp,
        "olga",
        r#"{"spec":{"oversight":{"halt":false,"haltReason":null}}}"#,
    ));
    ok(as_user(&cp, "mallory", &["delete", "aisystem", "scoring"]));
}
