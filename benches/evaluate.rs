//! `evaluate` on a High-risk system bound to every Annex A control (38, the whole catalog) with 20
//! workloads and a signed two-approver approval; and on the same system with one workload, which
//! is what admission of a single workload costs.

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use serde_json::json;

use aims_operator::{
    api::{AISystem, ClusterControlBinding, Decision, RiskAssessment},
    engine::{
        approval::{SigningKey, Trust},
        binding::Binding,
        catalog::Catalog,
        evaluate::{Inputs, evaluate},
        workload::{WorkloadFacts, WorkloadKind},
    },
    testing,
};

fn image(i: usize) -> String {
    format!(
        "registry.example.com/credit/scorer-{i}@sha256:{}",
        format!("{i:x}").repeat(64)[..64].to_owned()
    )
}

fn fixtures(
    workloads: usize,
) -> (
    AISystem,
    Vec<RiskAssessment>,
    ClusterControlBinding,
    Vec<WorkloadFacts>,
    SigningKey,
) {
    let images: Vec<String> = (1..=workloads).map(image).collect();
    let models: Vec<_> = images
        .iter()
        .enumerate()
        .map(
            |(i, img)| json!({"name": format!("m{i}"), "version": "1", "artifact": {"image": img}}),
        )
        .collect();
    let system: AISystem = serde_json::from_value(json!({
        "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
        "metadata": {"name": "credit", "namespace": "bank"},
        "spec": {
            "purpose": "p", "outOfScopeUses": ["x"], "riskTier": "High", "highRiskCategory": "EssentialServices",
            "owner": {"name": "o", "contact": "c"}, "team": "t",
            "oversight": {"mode": "HumanInTheLoop", "overseers": [{"name": "jan"}]},
            "models": models,
            "datasets": [{"name": "d", "use": "Training", "source": "s", "provenance": "p", "licence": "l", "qualityReport": {"uri": "u"}}],
            "documentation": {"technicalDocumentation": {"uri": "u"}, "modelCard": {"uri": "u"}, "instructionsForUse": {"uri": "u"}},
            "logging": {"enabled": true, "retentionDays": 365}, "monitoring": {"description": "d"}, "incidentContact": {"name": "n"}
        }
    }))
    .unwrap();
    let artifacts: Vec<_> = images.iter().map(|i| json!({"image": i})).collect();
    let mut ra: RiskAssessment = serde_json::from_value(json!({
        "apiVersion": "aims.dev/v1alpha1", "kind": "RiskAssessment",
        "metadata": {"name": "credit-v3", "namespace": "bank"},
        "spec": {
            "systemRef": {"name": "credit"}, "scope": {"artifacts": artifacts},
            "risks": (0..10).map(|i| json!({"id": format!("R{i}"), "title": "t", "source": "Fairness", "likelihood": 2, "severity": 3, "treatment": "Mitigate"})).collect::<Vec<_>>(),
            "impactAssessment": {"affectedGroups": ["a"], "societalImpacts": ["s"], "fundamentalRights": {"summary": "s"}, "completedOn": "2026-05-20"},
            "submittedBy": "maria"
        }
    }))
    .unwrap();
    let key = SigningKey::new([7u8; 32]).unwrap();
    let at: Timestamp = "2026-06-01T10:00:00Z".parse().unwrap();
    testing::seal(&key, &mut ra, at);
    for user in ["ana", "ben"] {
        testing::decide(
            &key,
            &mut ra,
            Decision::Approve,
            None,
            (user, &["risk"]),
            at,
        );
    }
    let evidence = json!([{"uri": "u", "attestedBy": "a", "expires": "2027-01-01T00:00:00Z"}]);
    let attested: Vec<_> = Catalog::builtin()
        .controls()
        .iter()
        .filter(|c| c.check.is_none())
        .map(|c| json!({"id": c.id, "evidence": evidence}))
        .collect();
    let mut controls = vec![
        json!({"id": "A.6.2.5", "params": {"approverGroups": ["risk"], "minApprovals": 2}}),
        json!({"id": "A.6.2.8", "params": {"minRetentionDays": 180}}),
    ];
    controls.extend(attested);
    let binding: ClusterControlBinding = serde_json::from_value(json!({
        "apiVersion": "aims.dev/v1alpha1", "kind": "ClusterControlBinding",
        "metadata": {"name": "all"},
        "spec": {"profile": "iso42001", "controls": controls}
    }))
    .unwrap();
    let facts = images
        .iter()
        .enumerate()
        .map(|(i, img)| {
            WorkloadFacts::from_json(
                WorkloadKind::Deployment,
                json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": format!("w{i}"), "namespace": "bank", "labels": {"aims.dev/system": "credit"}},
                    "spec": {"selector": {}, "template": {"spec": {"containers": [
                        {"name": "main", "image": img, "resources": {"requests": {"cpu": "1"}}}]}}}
                }),
            )
            .unwrap()
        })
        .collect();
    (system, vec![ra], binding, facts, key)
}

fn bench(c: &mut Criterion) {
    let catalog = Catalog::builtin();
    let now: Timestamp = "2026-07-01T00:00:00Z".parse().unwrap();
    for workloads in [20, 1] {
        let (system, assessments, binding, facts, key) = fixtures(workloads);
        let bindings = [Binding::Cluster(&binding)];
        let labels = Default::default();
        let inputs = Inputs {
            system: &system,
            namespace_labels: &labels,
            assessments: &assessments.iter().collect::<Vec<_>>(),
            bindings: &bindings,
            workloads: &facts.iter().collect::<Vec<_>>(),
            catalog: &catalog,
            trust: Trust::Verify(&key),
            now,
        };
        let e = evaluate(&inputs);
        assert_eq!(e.controls.len(), 38);
        assert!(e.findings.is_empty(), "{:#?}", e.findings);
        assert_eq!(e.workloads.len(), workloads);
        c.bench_function(
            &format!("evaluate/38 controls, {workloads} workloads"),
            |b| b.iter(|| evaluate(std::hint::black_box(&inputs))),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
