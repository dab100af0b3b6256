//! The records the admission tests share: a Limited system whose workloads need one approval from
//! `aims:reviewers`, its assessment, and the binding that asks for the approval.

use std::time::Duration;

use aims_testenv::ControlPlane;

use super::{apply, eventually, kubectl, ok, stdout};

/// The image the assessment covers.
pub const IMAGE: &str = "registry.example.com/credit/scorer@sha256:5555555555555555555555555555555555555555555555555555555555555555";

const WAIT: Duration = Duration::from_secs(30);

/// Applies the records of [`records`] and waits until the operator's stores hold them: the
/// binding's status counts the system, and the webhook answers from the same stores.
pub async fn apply_records(cp: &ControlPlane, ns: &str, enforcement: &str) {
    ok(apply(cp, &records(ns, enforcement)));
    wait_stores_hold_records(cp, ns).await;
}

/// Waits until the operator's stores hold the records of `ns`: the binding's status counts the
/// system, and the webhook answers from the same stores.
pub async fn wait_stores_hold_records(cp: &ControlPlane, ns: &str) {
    let jsonpath = "jsonpath={.status.matchedSystems}";
    eventually(WAIT, "the binding to count the system", || async {
        let out = kubectl(
            cp,
            &[
                "-n",
                ns,
                "get",
                "controlbinding",
                "approvals",
                "-o",
                jsonpath,
            ],
        );
        (stdout(&out) == "1").then_some(())
    })
    .await;
}

/// A Limited system whose deployments need one approval from `aims:reviewers` at `enforcement`,
/// and its assessment, in namespace `ns`.
pub fn records(ns: &str, enforcement: &str) -> String {
    format!(
        r#"
apiVersion: aims.dev/v1alpha1
kind: ControlBinding
metadata: {{name: approvals, namespace: {ns}}}
spec:
  enforcement: {enforcement}
  controls:
    - id: A.6.2.5
      params: {{approverGroups: ["aims:reviewers"]}}
---
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata: {{name: scoring, namespace: {ns}}}
spec:
  purpose: Score loan applications.
  riskTier: Limited
  owner: {{name: sam, contact: sam@example.com}}
  oversight:
    overseers: [{{name: olga}}]
---
apiVersion: aims.dev/v1alpha1
kind: RiskAssessment
metadata: {{name: scoring-v1, namespace: {ns}}}
spec:
  systemRef: {{name: scoring}}
  scope:
    artifacts: [{{image: "{IMAGE}"}}]
  risks:
    - {{id: R1, title: Bias, source: Fairness, likelihood: 2, severity: 2, treatment: Mitigate}}
  impactAssessment:
    affectedGroups: [Applicants]
    completedOn: "2026-10-30"
  validFor: 30d
"#
    )
}

/// Appends `user`'s approval to assessment `name` of `ns`, stamped and signed under `key` at `at`
/// as the admission webhook stamps it, after signing the assessment's record of who submitted and
/// edited it as the webhook does at create (dated its `creationTimestamp`): for tests that run
/// without the webhook registered.
pub async fn approve_as_webhook(
    client: &kube::Client,
    key: &aims_operator::engine::approval::SigningKey,
    ns: &str,
    name: &str,
    (user, groups): (&str, &[String]),
    at: jiff::Timestamp,
) {
    use aims_operator::{
        api::{Decision, RiskAssessment},
        testing,
    };
    use kube::api::{Api, Patch, PatchParams};
    let api: Api<RiskAssessment> = Api::namespaced(client.clone(), ns);
    let mut ra = api.get(name).await.unwrap();
    ra.spec.record_stamp = Some(record_as_webhook(key, &ra));
    let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    let comment = Some("fine".to_owned());
    testing::decide(
        key,
        &mut ra,
        Decision::Approve,
        comment,
        (user, &groups),
        at,
    );
    let body = serde_json::json!({"spec": {
        "recordStamp": ra.spec.record_stamp,
        "approvals": ra.spec.approvals,
    }});
    api.patch(name, &PatchParams::default(), &Patch::Merge(body))
        .await
        .unwrap();
}

/// The record stamp the admission webhook would have written on `ra` as it is: over its
/// submitter, editors and content, dated its `creationTimestamp`.
pub fn record_as_webhook(
    key: &aims_operator::engine::approval::SigningKey,
    ra: &aims_operator::api::RiskAssessment,
) -> aims_operator::api::RecordStamp {
    let created = ra
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or_else(jiff::Timestamp::now, |c| c.0);
    aims_operator::engine::approval::record_stamp_of(key, ra, created)
}
