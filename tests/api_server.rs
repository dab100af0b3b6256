//! The aims API on a real kube-apiserver: the generated CRDs install and become Established, the
//! examples apply, `kubectl get` prints the printer columns, `kubectl explain` prints the field
//! docs, and invalid manifests are rejected with messages that name the field.

mod support;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use support::{apply, cluster, kubectl, namespace, ok, stderr};

#[tokio::test]
async fn crds_are_established_with_their_names() {
    let cp = cluster();
    let crds: Api<CustomResourceDefinition> = Api::all(cp.client().await);
    for crd in aims_operator::crds::all() {
        let name = crd.metadata.name.clone().unwrap();
        let live = crds.get(&name).await.unwrap();
        let established = live
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "{name} is not Established");
    }

    let resources = ok(kubectl(
        cp,
        &["api-resources", "--api-group", "aims.dev", "-o", "wide"],
    ));
    for (name, short, namespaced) in [
        ("aisystems", "ais", "true"),
        ("riskassessments", "ra", "true"),
        ("controlbindings", "cb", "true"),
        ("clustercontrolbindings", "ccb", "false"),
    ] {
        let row = resources
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing from:\n{resources}"));
        let cols: Vec<_> = row.split_whitespace().collect();
        assert_eq!(cols[1], short, "short name of {name}: {row}");
        assert_eq!(cols[3], namespaced, "namespaced of {name}: {row}");
        assert!(row.contains("aims"), "category aims of {name}: {row}");
    }
}

#[test]
fn examples_apply_and_kubectl_get_prints_the_columns() {
    let cp = cluster();
    ok(kubectl(cp, &["apply", "--recursive", "-f", "examples/"]));

    let systems = ok(kubectl(cp, &["get", "aisystems", "-A"]));
    let header: Vec<_> = systems.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "TIER",
            "PHASE",
            "CONTROLS",
            "WORKLOADS",
            "EXPIRES",
            "AGE"
        ]
    );
    for (ns, name, tier) in [
        ("credit", "credit-scoring", "High"),
        ("support", "support-assistant", "Limited"),
        ("shop", "product-recommender", "Minimal"),
        ("hr", "cv-screening", "High"),
    ] {
        assert!(
            systems.lines().any(|l| {
                let cols: Vec<_> = l.split_whitespace().collect();
                cols[..3] == [ns, name, tier]
            }),
            "{ns}/{name} ({tier}) missing from:\n{systems}"
        );
    }

    let assessments = ok(kubectl(cp, &["get", "ra", "-A"]));
    let header: Vec<_> = assessments
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "SYSTEM",
            "RESIDUAL",
            "STATE",
            "EXPIRES",
            "AGE"
        ]
    );
    assert!(assessments.contains("credit-scoring-v3") && assessments.contains("credit-scoring"));

    let bindings = ok(kubectl(cp, &["get", "ccb"]));
    assert!(
        bindings
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..3]
                == ["eu-ai-act-high-risk", "eu-ai-act-high-risk", "Enforce"])
    );

    // The category lists every kind at once.
    let everything = ok(kubectl(cp, &["get", "aims", "-A", "-o", "name"]));
    for kind in [
        "aisystem",
        "riskassessment",
        "controlbinding",
        "clustercontrolbinding",
    ] {
        assert!(
            everything.contains(&format!("{kind}.aims.dev/")),
            "{kind} missing from:\n{everything}"
        );
    }

    // Field selectors declared on the CRDs work.
    let high = ok(kubectl(
        cp,
        &[
            "get",
            "ais",
            "-A",
            "--field-selector",
            "spec.riskTier=High",
            "-o",
            "name",
        ],
    ));
    assert_eq!(high.lines().count(), 2, "{high}");
}

#[test]
fn kubectl_explain_prints_the_field_docs() {
    let cp = cluster();
    for (field, expected) in [
        (
            "aisystem",
            "An AI system registered in the AI management system",
        ),
        ("aisystem.spec.riskTier", "The EU AI Act risk tier"),
        (
            "aisystem.spec.oversight.halt",
            "The stop button (EU AI Act Art. 14(4)(e))",
        ),
        ("aisystem.status.phase", "Compliance phase"),
        (
            "riskassessment.spec.risks.likelihood",
            "from 1 (rare) to 5 (almost certain)",
        ),
        (
            "riskassessment.spec.approvals.stamp",
            "Written by the operator's admission webhook",
        ),
        (
            "controlbinding.spec.notApplicable.justification",
            "Auditors read this",
        ),
        (
            "clustercontrolbinding.spec.subjects.namespaceSelector",
            "Namespaces whose labels match",
        ),
    ] {
        // Right after a CRD is Established its OpenAPI can take a moment to be published.
        let text = retry(|| {
            let out = kubectl(cp, &["explain", field]);
            out.status.success().then(|| support::stdout(&out))
        })
        .unwrap_or_else(|| panic!("kubectl explain {field} failed"));
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(expected),
            "kubectl explain {field}: {expected:?} missing from:\n{text}"
        );
    }
}

fn retry<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..40 {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    None
}

/// A valid AISystem with one line replaced, and what the API server must say about it.
const SYSTEM: &str = r#"
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata: {name: NAME, namespace: rejections}
spec:
  purpose: Rank things
  riskTier: Minimal
  owner: {name: alice}
"#;

#[test]
fn invalid_manifests_are_rejected_with_the_field_named() {
    let cp = cluster();
    namespace(cp, "rejections");
    let ra = |risks: &str| {
        format!(
            "apiVersion: aims.dev/v1alpha1\nkind: RiskAssessment\nmetadata: {{name: NAME, namespace: rejections}}\n\
             spec:\n  systemRef: {{name: s}}\n  scope:\n    artifacts: [{{uri: 'hf://org/model', sha256: '{}'}}]\n{risks}",
            "a".repeat(64)
        )
    };
    let risk = |id: &str, likelihood: u8| {
        format!(
            "  - {{id: {id}, title: t, source: Fairness, likelihood: {likelihood}, severity: 3, treatment: Mitigate}}\n"
        )
    };
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "high-without-overseers",
            SYSTEM.replace("riskTier: Minimal", "riskTier: High\n  highRiskCategory: Employment\n  oversight: {mode: HumanInTheLoop}"),
            &["spec.oversight", "a High-risk system needs oversight.mode and at least one entry in oversight.overseers"],
        ),
        (
            "high-without-oversight",
            SYSTEM.replace("riskTier: Minimal", "riskTier: High\n  highRiskCategory: Employment"),
            &["spec.oversight", "at least one entry in oversight.overseers"],
        ),
        (
            "high-without-category",
            SYSTEM.replace(
                "riskTier: Minimal",
                "riskTier: High\n  oversight: {mode: HumanInTheLoop, overseers: [{name: bob}]}",
            ),
            &["spec.highRiskCategory", "needs highRiskCategory"],
        ),
        (
            "unknown-risk-tier",
            SYSTEM.replace("riskTier: Minimal", "riskTier: Extreme"),
            &["spec.riskTier", "Unsupported value: \"Extreme\"", "\"High\""],
        ),
        (
            "tag-instead-of-digest",
            SYSTEM.replace("riskTier: Minimal", "riskTier: Minimal\n  models: [{name: m, artifact: {image: 'nginx:1.27'}}]"),
            &["spec.models[0].artifact.image", "must be an image reference pinned by digest"],
        ),
        (
            "short-digest",
            SYSTEM.replace(
                "riskTier: Minimal",
                "riskTier: Minimal\n  models: [{name: m, artifact: {image: 'registry.example.com/m@sha256:abc123'}}]",
            ),
            &["spec.models[0].artifact.image", "<64 lowercase hex digits>"],
        ),
        (
            "uri-without-sha256",
            SYSTEM.replace("riskTier: Minimal", "riskTier: Minimal\n  models: [{name: m, artifact: {uri: 'hf://org/model'}}]"),
            &["spec.models[0].artifact.sha256", "a model uri needs the sha256 of its content"],
        ),
        (
            "image-and-uri",
            SYSTEM.replace(
                "riskTier: Minimal",
                &format!("riskTier: Minimal\n  models: [{{name: m, artifact: {{image: 'r/m@sha256:{0}', uri: 'hf://o/m', sha256: '{0}'}}}}]", "b".repeat(64)),
            ),
            &["spec.models[0].artifact", "set exactly one of image and uri"],
        ),
        (
            "halt-without-reason",
            SYSTEM.replace("riskTier: Minimal", "riskTier: Minimal\n  oversight: {halt: true}"),
            &["spec.oversight.haltReason", "a halt needs haltReason"],
        ),
        (
            "typo-in-field-name",
            SYSTEM.replace("riskTier: Minimal", "riskTeir: Minimal\n  riskTier: Minimal"),
            &["unknown field \"spec.riskTeir\""],
        ),
        (
            "likelihood-7",
            ra(&format!("  risks:\n{}", risk("R1", 7))),
            &["spec.risks[0].likelihood", "should be less than or equal to 5"],
        ),
        (
            "likelihood-0",
            ra(&format!("  risks:\n{}", risk("R1", 0))),
            &["spec.risks[0].likelihood", "should be greater than or equal to 1"],
        ),
        (
            "duplicate-risk-id",
            ra(&format!("  risks:\n{}{}", risk("R1", 2), risk("R1", 3))),
            &["spec.risks[1]", "Duplicate value", "R1"],
        ),
        (
            "valid-for-in-words",
            ra("  validFor: six months\n"),
            &["spec.validFor", "must be a number and a unit"],
        ),
        (
            "bad-control-id",
            "apiVersion: aims.dev/v1alpha1\nkind: ControlBinding\nmetadata: {name: NAME, namespace: rejections}\n\
             spec:\n  controls: [{id: '6.2.5'}]\n"
                .to_owned(),
            &["spec.controls[0].id", "must be an ISO/IEC 42001 Annex A control id"],
        ),
        (
            "bound-and-not-applicable",
            "apiVersion: aims.dev/v1alpha1\nkind: ControlBinding\nmetadata: {name: NAME, namespace: rejections}\n\
             spec:\n  controls: [{id: A.10.4}]\n  notApplicable: [{id: A.10.4, justification: 'We have no customers at all.'}]\n"
                .to_owned(),
            &["spec.notApplicable", "cannot be both in controls and in notApplicable"],
        ),
        (
            "empty-binding",
            "apiVersion: aims.dev/v1alpha1\nkind: ClusterControlBinding\nmetadata: {name: NAME}\nspec:\n  enforcement: Warn\n"
                .to_owned(),
            &["spec", "set profile, controls, or both"],
        ),
        (
            "misspelled-enforcement",
            "apiVersion: aims.dev/v1alpha1\nkind: ClusterControlBinding\nmetadata: {name: NAME}\nspec:\n  profile: minimal\n  enforcement: Enforced\n"
                .to_owned(),
            &["spec.enforcement", "Unsupported value: \"Enforced\""],
        ),
    ];

    let mut failures = Vec::new();
    for (name, manifest, expected) in &cases {
        let manifest = manifest.replace("NAME", name);
        let out = apply(cp, &manifest);
        let err = stderr(&out);
        if out.status.success() {
            failures.push(format!("{name}: accepted, expected a rejection"));
            continue;
        }
        for want in *expected {
            if !err.contains(want) {
                failures.push(format!("{name}: {want:?} missing from: {err}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Nothing invalid was stored.
    let stored = ok(kubectl(cp, &["get", "aims", "-A", "-o", "name"]));
    for (name, _, _) in &cases {
        assert!(!stored.contains(&format!("/{name}\n")), "{name} was stored");
    }
}

#[test]
fn approvals_are_append_only_and_the_system_reference_is_fixed() {
    let cp = cluster();
    namespace(cp, "append-only");
    let base = format!(
        "apiVersion: aims.dev/v1alpha1\nkind: RiskAssessment\nmetadata: {{name: ra, namespace: append-only}}\n\
         spec:\n  systemRef: {{name: SYSTEM}}\n  scope:\n    artifacts: [{{uri: 'hf://org/model', sha256: '{}'}}]\n  approvals:\n",
        "c".repeat(64)
    );
    let first = "  - {decision: Approve, comment: looks good}\n";
    let original = format!("{}{first}", base.replace("SYSTEM", "scorer"));
    ok(apply(cp, &original));
    let before = ok(kubectl(
        cp,
        &[
            "get",
            "ra",
            "ra",
            "-n",
            "append-only",
            "-o",
            "jsonpath={.spec}",
        ],
    ));

    for (what, manifest, want) in [
        (
            "edit an approval",
            format!(
                "{}  - {{decision: Approve, comment: edited}}\n",
                base.replace("SYSTEM", "scorer")
            ),
            "approvals are append-only",
        ),
        (
            "remove an approval",
            format!(
                "{}  []\n",
                base.replace("SYSTEM", "scorer")
                    .trim_end_matches("approvals:\n")
                    .to_owned()
                    + "approvals:"
            ),
            "approvals are append-only",
        ),
        (
            "change the system",
            format!("{}{first}", base.replace("SYSTEM", "another-system")),
            "systemRef cannot be changed",
        ),
    ] {
        let out = apply(cp, &manifest);
        assert!(!out.status.success(), "{what}: accepted");
        assert!(
            stderr(&out).contains(want),
            "{what}: {want:?} missing from {}",
            stderr(&out)
        );
    }
    let after = ok(kubectl(
        cp,
        &[
            "get",
            "ra",
            "ra",
            "-n",
            "append-only",
            "-o",
            "jsonpath={.spec}",
        ],
    ));
    assert_eq!(before, after, "a rejected change altered the stored object");

    // Appending is allowed.
    let appended = format!("{original}  - {{decision: Reject, comment: not yet}}\n");
    ok(apply(cp, &appended));
    let count = ok(kubectl(
        cp,
        &[
            "get",
            "ra",
            "ra",
            "-n",
            "append-only",
            "-o",
            "jsonpath={range .spec.approvals[*]}{.decision} {end}",
        ],
    ));
    assert_eq!(count.trim(), "Approve Reject");
}

/// A future expiry prints as the time it is, not as `<invalid>` (what kubectl prints for a date
/// column in the future, since it shows a date as an age).
#[test]
fn a_future_expiry_prints_as_its_time() {
    let cp = cluster();
    let ns = "printed-expiry";
    namespace(cp, ns);
    ok(apply(
        cp,
        &format!(
            r#"
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata: {{name: scorer, namespace: {ns}}}
spec: {{purpose: Score., riskTier: Minimal, owner: {{name: sam}}}}
---
apiVersion: aims.dev/v1alpha1
kind: RiskAssessment
metadata: {{name: scorer-v1, namespace: {ns}}}
spec:
  systemRef: {{name: scorer}}
  scope: {{artifacts: [{{image: "registry.example.com/scorer@sha256:5555555555555555555555555555555555555555555555555555555555555555"}}]}}
  risks:
    - {{id: R1, title: Bias, source: Fairness, likelihood: 2, severity: 2, treatment: Mitigate}}
  impactAssessment: {{affectedGroups: [Applicants], completedOn: "2026-10-30"}}
"#
        ),
    ));
    // No operator runs here: the status is written as the operator would write it.
    let future = "2099-01-01T00:00:00Z";
    for (kind, name, status) in [
        (
            "aisystem",
            "scorer",
            format!(
                r#"{{"status":{{"approval":{{"assessment":"scorer-v1","expiresAt":"{future}"}}}}}}"#
            ),
        ),
        (
            "riskassessment",
            "scorer-v1",
            format!(r#"{{"status":{{"expiresAt":"{future}"}}}}"#),
        ),
    ] {
        ok(kubectl(
            cp,
            &[
                "-n",
                ns,
                "patch",
                kind,
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                &status,
            ],
        ));
        let printed = ok(kubectl(cp, &["-n", ns, "get", kind, name]));
        assert!(
            printed.contains(future) && !printed.contains("<invalid>"),
            "{kind}/{name}:\n{printed}"
        );
    }
}
