//! Table-driven scenarios for `evaluate`: a complete, approved High-risk system, and one change per
//! case with the phase, the failing controls and the workload verdict it must lead to.

use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

use super::{
    approval::{SigningKey, Trust},
    binding::Binding,
    catalog::Catalog,
    evaluate::{Evaluation, Inputs, Verdict, evaluate},
    workload::{WorkloadFacts, WorkloadKind},
};
use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, Phase, RiskAssessment},
    testing,
};

const KEY: &[u8] = b"the operator's key, 32 bytes long!";
const OTHER_KEY: &[u8] = b"another key that is long enough!!";
const IMAGE: &str = "registry.example.com/credit/scorer@sha256:1111111111111111111111111111111111111111111111111111111111111111";
const OTHER_IMAGE: &str = "registry.example.com/credit/scorer@sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn approved_at() -> Timestamp {
    "2026-06-01T10:00:00Z".parse().unwrap()
}

fn now() -> Timestamp {
    "2026-07-01T00:00:00Z".parse().unwrap()
}

/// The records of one scenario, as JSON so each case can change any field.
struct World {
    system: Value,
    assessment: Option<Value>,
    approvers: Vec<&'static str>,
    platform: Value,
    team: Option<Value>,
    workloads: Vec<Value>,
    now: Timestamp,
    key: SigningKey,
    verify_with: SigningKey,
    /// Change the assessed content after the approvals were stamped.
    edited_after_approval: bool,
}

impl World {
    fn new() -> Self {
        Self {
            system: json!({
                "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
                "metadata": {"name": "credit", "namespace": "bank"},
                "spec": {
                    "purpose": "Score loan applications for credit officers.",
                    "outOfScopeUses": ["automated rejection"],
                    "role": "ProviderAndDeployer",
                    "riskTier": "High", "highRiskCategory": "EssentialServices",
                    "owner": {"name": "maria", "contact": "maria@bank.example"}, "team": "credit-analytics",
                    "oversight": {"mode": "HumanInTheLoop", "overseers": [{"name": "jan"}]},
                    "models": [{"name": "scorer", "version": "3.2.0", "artifact": {"image": IMAGE}}],
                    "datasets": [{"name": "applications", "use": "Training", "source": "warehouse", "provenance": "snapshot 2025-09-30",
                                  "licence": "contract", "qualityReport": {"uri": "https://docs/quality.pdf"}}],
                    "documentation": {"technicalDocumentation": {"uri": "https://docs/tech.pdf"}, "modelCard": {"uri": "https://docs/card.md"},
                                      "instructionsForUse": {"uri": "https://docs/ifu.pdf"}},
                    "logging": {"enabled": true, "retentionDays": 365},
                    "monitoring": {"description": "weekly PSI"},
                    "incidentContact": {"name": "oncall"}
                }
            }),
            assessment: Some(json!({
                "apiVersion": "aims.dev/v1alpha1", "kind": "RiskAssessment",
                "metadata": {"name": "credit-v3", "namespace": "bank"},
                "spec": {
                    "systemRef": {"name": "credit"},
                    "scope": {"artifacts": [{"image": IMAGE}]},
                    "criteria": {"acceptanceThreshold": 6},
                    "risks": [{"id": "R1", "title": "bias", "source": "Fairness", "likelihood": 3, "severity": 5,
                               "treatment": "Mitigate", "residualLikelihood": 1, "residualSeverity": 5}],
                    "impactAssessment": {"affectedGroups": ["applicants"], "societalImpacts": ["access to credit"],
                                         "fundamentalRights": {"summary": "non-discrimination"}, "completedOn": "2026-05-20"},
                    "validFor": "180d",
                    "submittedBy": "maria"
                }
            })),
            approvers: vec!["ana", "ben"],
            platform: json!({
                "apiVersion": "aims.dev/v1alpha1", "kind": "ClusterControlBinding",
                "metadata": {"name": "high-risk"},
                "spec": {
                    "subjects": {"riskTiers": ["High"]},
                    "profile": "eu-ai-act-high-risk",
                    "controls": [
                        {"id": "A.6.2.5", "params": {"approverGroups": ["risk"], "minApprovals": 2}},
                        {"id": "A.6.2.8", "params": {"minRetentionDays": 180}},
                        {"id": "A.2.2", "evidence": [evidence("2027-01-01T00:00:00Z")]},
                        {"id": "A.4.6", "evidence": [evidence("2027-01-01T00:00:00Z")]},
                        {"id": "A.6.2.4", "evidence": [evidence("2026-12-01T00:00:00Z")]}
                    ]
                }
            }),
            team: None,
            workloads: vec![deployment(
                "scorer",
                IMAGE,
                json!({"aims.dev/system": "credit"}),
            )],
            now: now(),
            key: SigningKey::new(KEY).unwrap(),
            verify_with: SigningKey::new(KEY).unwrap(),
            edited_after_approval: false,
        }
    }

    fn evaluate(&self) -> Evaluation {
        let system: AISystem = serde_json::from_value(self.system.clone()).unwrap();
        let assessments: Vec<RiskAssessment> =
            self.assessment.iter().map(|a| self.signed(a)).collect();
        let platform: ClusterControlBinding =
            serde_json::from_value(self.platform.clone()).unwrap();
        let team: Option<ControlBinding> = self
            .team
            .clone()
            .map(|t| serde_json::from_value(t).unwrap());
        let mut bindings = vec![Binding::Cluster(&platform)];
        bindings.extend(team.as_ref().map(Binding::Namespaced));
        let workloads: Vec<WorkloadFacts> = self
            .workloads
            .iter()
            .map(|w| {
                let kind = WorkloadKind::from_type(
                    w["apiVersion"].as_str().unwrap_or_default(),
                    w["kind"].as_str().unwrap_or_default(),
                )
                .unwrap();
                WorkloadFacts::from_json(kind, w.clone()).unwrap()
            })
            .collect();
        let catalog = Catalog::builtin();
        evaluate(&Inputs {
            system: &system,
            namespace_labels: &Default::default(),
            assessments: &assessments.iter().collect::<Vec<_>>(),
            bindings: &bindings,
            workloads: &workloads.iter().collect::<Vec<_>>(),
            catalog: &catalog,
            trust: Trust::Verify(&self.verify_with),
            now: self.now,
        })
    }

    /// The assessment with an approval entry per approver, stamped and signed as the webhook does.
    fn signed(&self, value: &Value) -> RiskAssessment {
        let ra: RiskAssessment = serde_json::from_value(value.clone()).unwrap();
        let mut ra = testing::approved_by(&self.key, ra, &self.approvers, &["risk"], approved_at());
        if self.edited_after_approval {
            // Through admission: the editor is recorded and the record signed again.
            ra.spec.risks[0].residual_severity = Some(4);
            ra.spec.edited_by.push("omar".into());
            testing::seal(&self.key, &mut ra, approved_at());
        }
        ra
    }
}

fn evidence(expires: &str) -> Value {
    json!({"uri": "https://evidence.example/doc.pdf", "attestedBy": "auditor", "expires": expires})
}

fn deployment(name: &str, image: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "bank", "labels": labels},
        "spec": {"selector": {}, "template": {"spec": {"containers": [
            {"name": "main", "image": image, "resources": {"requests": {"cpu": "1"}}}
        ]}}}
    })
}

fn failing(e: &Evaluation) -> Vec<String> {
    let mut ids: Vec<String> = e
        .controls
        .iter()
        .filter(|c| !c.satisfied)
        .map(|c| c.id.clone())
        .collect();
    ids.extend(
        e.findings
            .iter()
            .filter(|f| f.severity == crate::api::Severity::Critical)
            .map(|f| f.control.clone()),
    );
    ids.sort();
    ids.dedup();
    ids
}

struct Case {
    name: &'static str,
    change: fn(&mut World),
    phase: Phase,
    failing: &'static [&'static str],
    verdict: Verdict,
    message: &'static str,
}

#[test]
fn scenarios() {
    let cases = [
        Case {
            name: "complete and approved",
            change: |_| {},
            phase: Phase::Compliant,
            failing: &[],
            verdict: Verdict::Allow,
            message: "",
        },
        Case {
            name: "no risk assessment",
            change: |w| w.assessment = None,
            phase: Phase::Pending,
            failing: &["A.5.2", "A.5.3", "A.5.4", "A.5.5", "A.6.2.5"],
            verdict: Verdict::Deny,
            message: "no RiskAssessment with spec.systemRef.name: credit",
        },
        Case {
            name: "assessed but not yet approved",
            change: |w| w.approvers.clear(),
            phase: Phase::Pending,
            failing: &["A.6.2.5"],
            verdict: Verdict::Deny,
            message: "awaits approval (none so far)",
        },
        Case {
            name: "one approver of the two required",
            change: |w| w.approvers = vec!["ana"],
            phase: Phase::Pending,
            failing: &["A.6.2.5"],
            verdict: Verdict::Deny,
            message: "awaits approval (ana so far)",
        },
        Case {
            name: "self-approval does not count",
            change: |w| w.approvers = vec!["ana", "maria"],
            phase: Phase::Pending,
            failing: &["A.6.2.5"],
            verdict: Verdict::Deny,
            // The entry that does not count is named, and why.
            message: "awaits approval (ana so far; 1 entry discounted: spec.approvals[1] by maria: its user submitted or edited the assessment)",
        },
        Case {
            name: "approvals signed with another key count for nothing",
            change: |w| w.verify_with = SigningKey::new(OTHER_KEY).unwrap(),
            phase: Phase::Pending,
            failing: &["A.6.2.5"],
            verdict: Verdict::Deny,
            // The record of who submitted it was signed with that key too.
            message: "counts no approval",
        },
        Case {
            name: "a new image digest outside the approved scope",
            change: |w| {
                w.workloads = vec![deployment(
                    "scorer",
                    OTHER_IMAGE,
                    json!({"aims.dev/system": "credit"}),
                )]
            },
            phase: Phase::NonCompliant,
            failing: &["A.4.2", "A.6.2.5"],
            verdict: Verdict::Deny,
            message: "is not in the approved scope of RiskAssessment credit-v3",
        },
        Case {
            name: "an unpinned image",
            change: |w| {
                w.workloads = vec![deployment(
                    "scorer",
                    "registry.example.com/credit/scorer:3.2.0",
                    json!({"aims.dev/system": "credit"}),
                )]
            },
            phase: Phase::NonCompliant,
            failing: &["A.4.2", "A.4.4", "A.6.2.5"],
            verdict: Verdict::Deny,
            message: "is not pinned by digest",
        },
        Case {
            name: "the approval expired",
            change: |w| w.now = "2026-12-15T00:00:00Z".parse().unwrap(),
            phase: Phase::NonCompliant,
            failing: &["A.6.2.4", "A.6.2.5"],
            verdict: Verdict::Deny,
            message: "expired",
        },
        Case {
            name: "the assessed content changed after approval",
            change: |w| w.edited_after_approval = true,
            phase: Phase::NonCompliant,
            failing: &["A.6.2.5"],
            verdict: Verdict::Deny,
            message: "changed after it was approved",
        },
        Case {
            name: "logs kept too briefly",
            change: |w| w.system["spec"]["logging"]["retentionDays"] = json!(30),
            phase: Phase::NonCompliant,
            failing: &["A.6.2.8"],
            verdict: Verdict::Deny,
            message: "spec.logging.retentionDays is 30; the binding requires at least 180",
        },
        Case {
            name: "a data set without provenance",
            change: |w| w.system["spec"]["datasets"][0]["provenance"] = Value::Null,
            phase: Phase::NonCompliant,
            failing: &["A.7.5"],
            verdict: Verdict::Deny,
            message: "spec.datasets[applications].provenance is missing",
        },
        Case {
            name: "no overseers",
            change: |w| w.system["spec"]["oversight"]["overseers"] = json!([]),
            phase: Phase::NonCompliant,
            failing: &["A.9.2"],
            verdict: Verdict::Deny,
            message: "spec.oversight.overseers is empty",
        },
        Case {
            name: "halted",
            change: |w| w.system["spec"]["oversight"] = json!({"mode": "HumanInTheLoop", "overseers": [{"name": "jan"}], "halt": true, "haltReason": "drift"}),
            phase: Phase::Halted,
            failing: &["A.9.2"],
            verdict: Verdict::Deny,
            message: "halted by an overseer (drift)",
        },
        Case {
            name: "a prohibited practice is never admitted, approved or not",
            change: |w| {
                w.system["spec"]["riskTier"] = json!("Prohibited");
                w.system["spec"]["highRiskCategory"] = Value::Null;
                w.platform["spec"]["subjects"]["riskTiers"] = json!(["Prohibited"]);
            },
            phase: Phase::NonCompliant,
            failing: &["A.9.4"],
            verdict: Verdict::Deny,
            message: "EU AI Act Art. 5",
        },
        Case {
            name: "Warn enforcement warns instead of denying",
            change: |w| {
                w.approvers.clear();
                w.platform["spec"]["enforcement"] = json!("Warn");
                w.platform["spec"]["controls"][0]["enforcement"] = json!("Warn");
            },
            phase: Phase::Pending,
            failing: &["A.6.2.5"],
            verdict: Verdict::Warn,
            message: "awaits approval",
        },
        Case {
            name: "Audit enforcement admits and records",
            change: |w| {
                w.system["spec"]["logging"]["retentionDays"] = json!(30);
                w.platform["spec"]["controls"][1]["enforcement"] = json!("Audit");
            },
            phase: Phase::NonCompliant,
            failing: &["A.6.2.8"],
            verdict: Verdict::Allow,
            message: "retentionDays is 30",
        },
        Case {
            name: "attested control with expired evidence",
            change: |w| {
                w.platform["spec"]["controls"][2]["evidence"] =
                    json!([evidence("2026-01-01T00:00:00Z")])
            },
            phase: Phase::NonCompliant,
            failing: &["A.2.2"],
            verdict: Verdict::Deny,
            message: "expired at 2026-01-01T00:00:00Z",
        },
        Case {
            name: "owner without contact, no team",
            change: |w| {
                w.system["spec"]["owner"] = json!({"name": "maria"});
                w.system["spec"]["team"] = Value::Null;
            },
            phase: Phase::NonCompliant,
            failing: &["A.3.2"],
            verdict: Verdict::Deny,
            message: "spec.owner.contact is missing",
        },
        Case {
            name: "a provider declares no data sets",
            change: |w| w.system["spec"]["datasets"] = json!([]),
            phase: Phase::NonCompliant,
            failing: &["A.4.3"],
            verdict: Verdict::Deny,
            message: "spec.datasets is empty",
        },
        Case {
            name: "a container without requests",
            change: |w| {
                w.workloads[0]["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({})
            },
            phase: Phase::NonCompliant,
            failing: &["A.4.5"],
            verdict: Verdict::Deny,
            message: "container main declares no cpu or memory requests",
        },
        Case {
            name: "an ephemeral container outside the approved scope, added to the system's Pod",
            change: |w| {
                w.workloads = vec![json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "scorer-x1", "namespace": "bank", "labels": {"aims.dev/system": "credit"}},
                    "spec": {
                        "containers": [{"name": "main", "image": IMAGE, "resources": {"requests": {"cpu": "1"}}}],
                        // An ephemeral container declares no requests (the API server refuses them):
                        // only its image is held to the controls.
                        "ephemeralContainers": [{"name": "debugger", "image": OTHER_IMAGE}]
                    }
                })]
            },
            phase: Phase::NonCompliant,
            failing: &["A.4.2", "A.6.2.5"],
            verdict: Verdict::Deny,
            message: "is not in the approved scope of RiskAssessment credit-v3",
        },
        Case {
            name: "residual risk above appetite",
            change: |w| {
                w.assessment.as_mut().unwrap()["spec"]["risks"][0]["residualLikelihood"] = json!(3)
            },
            phase: Phase::NonCompliant,
            failing: &["A.5.2"],
            verdict: Verdict::Deny,
            message: "residual risk of R1 exceeds the acceptance threshold 6",
        },
        Case {
            name: "no fundamental rights assessment for a High system",
            change: |w| {
                w.assessment.as_mut().unwrap()["spec"]["impactAssessment"]["fundamentalRights"] =
                    Value::Null
            },
            phase: Phase::NonCompliant,
            failing: &["A.5.4"],
            verdict: Verdict::Deny,
            message: "EU AI Act Art. 27",
        },
        Case {
            name: "no societal impacts",
            change: |w| {
                w.assessment.as_mut().unwrap()["spec"]["impactAssessment"]["societalImpacts"] =
                    json!([])
            },
            phase: Phase::NonCompliant,
            failing: &["A.5.5"],
            verdict: Verdict::Deny,
            message: "societalImpacts is empty",
        },
        Case {
            name: "a model without a version",
            change: |w| w.system["spec"]["models"][0]["version"] = Value::Null,
            phase: Phase::NonCompliant,
            failing: &["A.6.2.2"],
            verdict: Verdict::Deny,
            message: "spec.models[scorer].version is missing",
        },
        Case {
            name: "no model card, no technical documentation, no instructions for use",
            change: |w| w.system["spec"]["documentation"] = json!({}),
            phase: Phase::NonCompliant,
            failing: &["A.6.2.3", "A.6.2.7", "A.8.2"],
            verdict: Verdict::Deny,
            message: "instructionsForUse is missing",
        },
        Case {
            name: "no monitoring, no incident contact, no out-of-scope uses",
            change: |w| {
                w.system["spec"]["monitoring"] = Value::Null;
                w.system["spec"]["incidentContact"] = Value::Null;
                w.system["spec"]["outOfScopeUses"] = json!([]);
            },
            phase: Phase::NonCompliant,
            failing: &["A.6.2.6", "A.8.4", "A.9.4"],
            verdict: Verdict::Deny,
            message: "spec.incidentContact is missing",
        },
        Case {
            name: "a data set without source, licence or quality report",
            change: |w| {
                w.system["spec"]["datasets"][0] =
                    json!({"name": "applications", "use": "Training", "provenance": "v1"})
            },
            phase: Phase::NonCompliant,
            failing: &["A.7.3", "A.7.4"],
            verdict: Verdict::Deny,
            message: "spec.datasets[applications].qualityReport is missing",
        },
        Case {
            name: "logging switched off",
            change: |w| {
                w.system["spec"]["logging"] = json!({"enabled": false, "retentionDays": 365})
            },
            phase: Phase::NonCompliant,
            failing: &["A.6.2.8"],
            verdict: Verdict::Deny,
            message: "spec.logging.enabled is not true",
        },
        Case {
            name: "the oversight mode a binding requires",
            change: |w| {
                w.platform["spec"]["controls"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": "A.9.2", "params": {"oversightMode": "HumanInCommand"}}));
            },
            phase: Phase::NonCompliant,
            failing: &["A.9.2"],
            verdict: Verdict::Deny,
            message: "spec.oversight.mode is HumanInTheLoop; the binding requires HumanInCommand",
        },
        Case {
            name: "a supplier not on the allowlist",
            change: |w| {
                w.system["spec"]["models"][0]["supplier"] = json!("Unvetted Models Inc.");
                w.platform["spec"]["controls"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": "A.10.3", "params": {"approvedSuppliers": ["Mistral AI"]}}));
            },
            phase: Phase::NonCompliant,
            failing: &["A.10.3"],
            verdict: Verdict::Deny,
            message: "is not an approved supplier (Mistral AI)",
        },
        Case {
            name: "a justified exclusion removes a profile control",
            change: |w| {
                w.system["spec"]["incidentContact"] = Value::Null;
                w.team = Some(json!({
                    "apiVersion": "aims.dev/v1alpha1", "kind": "ControlBinding",
                    "metadata": {"name": "team", "namespace": "bank"},
                    "spec": {"controls": [{"id": "A.3.2"}], "notApplicable": [{"id": "A.8.4", "justification": "incidents go through the bank-wide process"}]}
                }));
            },
            phase: Phase::Compliant,
            failing: &[],
            verdict: Verdict::Allow,
            message: "",
        },
    ];

    let mut failures = Vec::new();
    for case in cases {
        let mut world = World::new();
        (case.change)(&mut world);
        let e = world.evaluate();
        let verdict = e.workloads.first().map(|w| w.verdict);
        let mut got_failing = failing(&e);
        got_failing.retain(|id| !id.is_empty());
        let want_failing: Vec<String> = case.failing.iter().map(|s| s.to_string()).collect();
        let messages: Vec<&str> = e.findings.iter().map(|f| f.message.as_str()).collect();
        if e.phase != case.phase
            || got_failing != want_failing
            || verdict != Some(case.verdict)
            || !messages.iter().any(|m| m.contains(case.message)) && !case.message.is_empty()
        {
            failures.push(format!(
                "{}: phase {:?} (want {:?}), failing {got_failing:?} (want {want_failing:?}), verdict {verdict:?} (want {:?}), messages {messages:#?}",
                case.name, e.phase, case.phase, case.verdict
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_next_review_is_the_earliest_expiry_to_come() {
    let e = World::new().evaluate();
    // Approval: second approver at 10:01 + 180 days; the V&V evidence expires on 2026-12-01.
    let approval_expiry: Timestamp = "2026-11-28T10:01:00Z".parse().unwrap();
    assert_eq!(
        e.approval.as_ref().and_then(|a| a.expires_at),
        Some(approval_expiry)
    );
    assert_eq!(e.next_review_at, Some(approval_expiry));
    assert_eq!(e.approval.as_ref().unwrap().approvers, ["ana", "ben"]);
}

#[test]
fn conditions_say_what_holds() {
    let e = World::new().evaluate();
    let types: Vec<_> = e.conditions.iter().map(|c| (c.type_, c.status)).collect();
    assert_eq!(
        types,
        [
            ("Registered", true),
            ("RiskAssessed", true),
            ("ImpactAssessed", true),
            ("Approved", true),
            ("OversightReady", true),
            ("ControlsSatisfied", true),
            ("Ready", true)
        ]
    );
    let mut world = World::new();
    world.assessment = None;
    let e = world.evaluate();
    let approved = e.conditions.iter().find(|c| c.type_ == "Approved").unwrap();
    assert_eq!((approved.status, approved.reason), (false, "NoAssessment"));
    let controls = e
        .conditions
        .iter()
        .find(|c| c.type_ == "ControlsSatisfied")
        .unwrap();
    assert!(
        controls
            .message
            .contains("failing: A.5.2, A.5.3, A.5.4, A.5.5, A.6.2.5"),
        "{}",
        controls.message
    );
}

#[test]
fn workloads_of_other_systems_are_not_evaluated_and_selectors_select() {
    let mut world = World::new();
    world.workloads.push(deployment(
        "other",
        OTHER_IMAGE,
        json!({"aims.dev/system": "another"}),
    ));
    world
        .workloads
        .push(deployment("selected", IMAGE, json!({"app": "scorer"})));
    world.system["spec"]["workloadSelector"] = json!({"matchLabels": {"app": "scorer"}});
    let e = world.evaluate();
    let names: Vec<_> = e.workloads.iter().map(|w| w.workload.as_str()).collect();
    assert_eq!(names, ["Deployment/scorer", "Deployment/selected"]);
}

mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::{
        api::Enforcement,
        engine::admission::workload::{BREAK_GLASS_REASON, BREAK_GLASS_TICKET, BREAK_GLASS_UNTIL},
    };

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the records say, evaluate answers, and its verdicts follow from its findings.
        #[test]
        fn verdicts_follow_findings(
            tier in prop::sample::select(vec!["Prohibited", "High", "Limited", "Minimal"]),
            retention in prop::option::of(0u32..1000),
            approvers in 0usize..4,
            halt in any::<bool>(),
            days in -400i64..400,
            assessed in any::<bool>(),
            pinned in any::<bool>(),
            enforcement in prop::sample::select(vec!["Enforce", "Warn", "Audit"]),
            tiers in prop::sample::subsequence(vec!["Prohibited", "High", "Limited", "Minimal"], 0..4),
        ) {
            let mut w = World::new();
            w.system["spec"]["riskTier"] = json!(tier);
            w.system["spec"]["logging"]["retentionDays"] = json!(retention);
            w.system["spec"]["oversight"]["halt"] = json!(halt);
            w.approvers = ["ana", "ben", "maria", "ana"][..approvers].to_vec();
            w.now = now() + (days * 24).hours();
            if !assessed {
                w.assessment = None;
            }
            if !pinned {
                w.workloads = vec![deployment("scorer", "registry.example.com/credit/scorer:latest", json!({"aims.dev/system": "credit"}))];
            }
            w.platform["spec"]["enforcement"] = json!(enforcement);
            w.platform["spec"]["subjects"]["riskTiers"] = json!(tiers);
            let e = w.evaluate();

            prop_assert_eq!(e.workloads.len(), 1);
            let verdict = e.workloads[0].verdict;
            let worst = e.findings.iter().map(|f| f.enforcement).min();
            let expected = match worst {
                Some(Enforcement::Enforce) => Verdict::Deny,
                Some(Enforcement::Warn) => Verdict::Warn,
                _ => Verdict::Allow,
            };
            prop_assert_eq!(verdict, expected);
            if halt || tier == "Prohibited" {
                prop_assert_eq!(verdict, Verdict::Deny);
            }
            prop_assert_eq!(e.phase == Phase::Halted, halt);
            if !halt {
                prop_assert_eq!(e.phase == Phase::Compliant, e.findings.is_empty());
            }
            if let Some(next) = e.next_review_at {
                prop_assert!(next > w.now);
            }
        }

        /// A workload's verdict and reasons read the system, its records and that workload alone:
        /// the same whether it is evaluated with the system's other workloads or on its own (the
        /// webhook evaluates only the workload under review).
        #[test]
        fn verdicts_do_not_depend_on_other_workloads(
            approvers in 0usize..3,
            halt in any::<bool>(),
            assessed in any::<bool>(),
            images in prop::collection::vec(prop::sample::select(vec![IMAGE, OTHER_IMAGE, "registry.example.com/credit/scorer:latest"]), 1..4),
            glass in prop::collection::vec(prop::option::of(-2i64..3), 3),
            enforcement in prop::sample::select(vec!["Enforce", "Warn", "Audit"]),
        ) {
            let mut w = World::new();
            w.system["spec"]["oversight"]["halt"] = json!(halt);
            w.approvers = ["ana", "ben"][..approvers].to_vec();
            if !assessed {
                w.assessment = None;
            }
            w.platform["spec"]["enforcement"] = json!(enforcement);
            w.workloads = images
                .iter()
                .zip(&glass)
                .enumerate()
                .map(|(i, (image, hours))| {
                    let mut d = deployment(&format!("scorer-{i}"), image, json!({"aims.dev/system": "credit"}));
                    if let Some(hours) = hours {
                        d["metadata"]["annotations"] = json!({
                            BREAK_GLASS_TICKET: "INC-1",
                            BREAK_GLASS_REASON: "outage",
                            BREAK_GLASS_UNTIL: (now() + hours.hours()).to_string(),
                        });
                    }
                    d
                })
                .collect();
            let together = w.evaluate();
            prop_assert_eq!(together.workloads.len(), images.len());
            for (alone_workload, verdict) in w.workloads.clone().into_iter().zip(&together.workloads) {
                let mut alone = World::new();
                alone.workloads = vec![alone_workload];
                alone.system = w.system.clone();
                alone.approvers = w.approvers.clone();
                alone.assessment = w.assessment.clone();
                alone.platform = w.platform.clone();
                let e = alone.evaluate();
                prop_assert_eq!(&e.workloads[0], verdict);
            }
        }

        /// The compiled floor denies only what the engine denies: a workload the engine admits
        /// (or warns about) passes the floor's rules as the chart's policies apply them.
        #[test]
        fn the_floor_denies_only_what_the_engine_denies(
            tier in prop::sample::select(vec!["Prohibited", "High", "Limited", "Minimal"]),
            approvers in 0usize..4,
            halt in any::<bool>(),
            days in -400i64..400,
            assessed in any::<bool>(),
            image in prop::sample::select(vec![
                IMAGE.to_owned(),
                IMAGE.replace("@sha256", ":v3@sha256"),
                "registry.example.com/credit/scorer@sha256:6666666666666666666666666666666666666666666666666666666666666666".to_owned(),
                "registry.example.com/credit/scorer:latest".to_owned(),
            ]),
            replicas in 0i64..3,
            enforcement in prop::sample::select(vec!["Enforce", "Warn", "Audit"]),
        ) {
            let mut w = World::new();
            w.system["spec"]["riskTier"] = json!(tier);
            w.system["spec"]["oversight"]["halt"] = json!(halt);
            w.approvers = ["ana", "ben", "maria", "ana"][..approvers].to_vec();
            w.now = now() + (days * 24).hours();
            if !assessed {
                w.assessment = None;
            }
            let mut d = deployment("scorer", &image, json!({"aims.dev/system": "credit"}));
            d["spec"]["replicas"] = json!(replicas);
            w.workloads = vec![d];
            w.platform["spec"]["enforcement"] = json!(enforcement);
            let e = w.evaluate();
            let system: AISystem = serde_json::from_value(w.system.clone()).unwrap();
            let approved = e.approval.as_ref().and(w.assessment.as_ref()).map(|a| w.signed(a));
            let entry = super::super::floor::entry(&system, &e, approved.as_ref(), &Catalog::builtin());
            let key = |i: &str| {
                let r = super::super::workload::ImageRef::parse(i);
                r.digest.map_or_else(|| i.to_owned(), |d| format!("{}@{d}", r.repository))
            };
            let floor_admits = entry.admit
                && !entry.halted
                && (entry.any_image || entry.images.get(&key(&image)) == Some(&true));
            if e.workloads[0].verdict != Verdict::Deny {
                prop_assert!(floor_admits, "the engine admits, the floor denies: {:?} {:?}", entry, e.workloads[0]);
            }
        }
    }
}
