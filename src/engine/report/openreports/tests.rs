use jiff::Timestamp;

use super::*;
use crate::{
    api::ClusterControlBinding,
    engine::{
        approval::Trust,
        binding::Binding,
        evaluate::{ExclusionResult, Inputs, evaluate},
        workload::{WorkloadFacts, WorkloadKind},
    },
    testing::{Manifest, System, signing_key},
};

/// The minimal profile and A.6.2.5, enforced, for every system.
pub(crate) fn baseline() -> ClusterControlBinding {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "aims.dev/v1alpha1", "kind": "ClusterControlBinding",
        "metadata": {"name": "baseline"},
        "spec": {"profile": "minimal", "enforcement": "Enforce", "controls": [{"id": "A.6.2.5"}]}
    }))
    .unwrap()
}

/// `credit/scoring` with one Deployment under [`baseline`], unassessed: A.6.2.5 fails for the
/// Deployment.
fn evaluated(catalog: &Catalog) -> (AISystem, Evaluation) {
    let system = System::scoring().build();
    let deployment = Manifest::deployment("scorer", "r.example.com/scorer:1")
        .namespace("credit")
        .system("scoring")
        .json();
    let facts = WorkloadFacts::from_json(WorkloadKind::Deployment, deployment).unwrap();
    let key = signing_key();
    let evaluation = evaluate(&Inputs {
        system: &system,
        namespace_labels: &Default::default(),
        assessments: &[],
        bindings: &[Binding::Cluster(&baseline())],
        workloads: &[&facts],
        catalog,
        trust: Trust::Verify(&key),
        now: Timestamp::UNIX_EPOCH,
    });
    (system, evaluation)
}

fn find<'a>(contents: &'a Contents, rule: &str) -> &'a ReportResult {
    contents
        .results
        .iter()
        .find(|r| r.rule == rule)
        .unwrap_or_else(|| panic!("no result for {rule}: {contents:#?}"))
}

#[test]
fn a_failing_control_is_named_by_its_enforcement_a_satisfied_one_passes_an_excluded_one_is_skipped()
{
    let catalog = Catalog::builtin();
    let (system, base) = evaluated(&catalog);
    let approval = "A.6.2.5";
    assert!(
        base.findings.iter().any(|f| f.control == approval),
        "{:#?}",
        base.findings
    );
    // Another control, satisfied.
    let mut base = base;
    let passing = base
        .controls
        .iter()
        .find(|c| c.id != approval && c.checked)
        .expect("another checked control")
        .id
        .clone();
    base.findings.retain(|f| f.control != passing);
    for c in base.controls.iter_mut().filter(|c| c.id == passing) {
        c.satisfied = true;
    }
    // (how A.6.2.5's findings are enforced, or None for "excluded", the expected outcome)
    let cases = [
        (Some(Enforcement::Enforce), Outcome::Fail, "high"),
        (Some(Enforcement::Warn), Outcome::Warn, "high"),
        (Some(Enforcement::Audit), Outcome::Warn, "high"),
        (None, Outcome::Skip, "high"),
    ];
    for (enforcement, expected, severity) in cases {
        let mut evaluation = base.clone();
        match enforcement {
            Some(e) => {
                for f in evaluation
                    .findings
                    .iter_mut()
                    .filter(|f| f.control == approval)
                {
                    f.enforcement = e;
                }
            }
            None => {
                evaluation.controls.retain(|c| c.id != approval);
                evaluation.findings.retain(|f| f.control != approval);
                evaluation.excluded.push(ExclusionResult {
                    id: approval.into(),
                    justification: "approved upstream".into(),
                    by: "ControlBinding/credit/exempt".into(),
                });
            }
        }
        let contents = system_contents(&catalog, &system, &evaluation);
        let r = find(&contents, approval);
        assert_eq!(
            (r.result, r.severity),
            (expected, severity),
            "{enforcement:?}"
        );
        assert_eq!(r.policy, POLICY);
        assert_eq!(r.source, SOURCE);
        assert_eq!(r.category, "A.6 AI system life cycle");
        assert_eq!(r.properties["title"], "AI system deployment");
        assert!(r.properties["euAiAct"].contains("Art."), "{r:#?}");
        match expected {
            Outcome::Skip => {
                assert_eq!(
                    r.message,
                    "excluded by ControlBinding/credit/exempt: approved upstream"
                );
                assert!(!r.properties.contains_key("enforcement"));
            }
            _ => {
                assert!(r.message.contains("not approved"), "{}", r.message);
                assert_eq!(
                    r.properties["enforcement"],
                    crate::engine::report::name_of(&enforcement.unwrap())
                );
            }
        }
        let pass = find(&contents, &passing);
        assert_eq!(
            (pass.result, pass.message.as_str()),
            (Outcome::Pass, "satisfied")
        );
    }
}

fn system_contents(catalog: &Catalog, system: &AISystem, evaluation: &Evaluation) -> Contents {
    super::system(catalog, system, evaluation)
}

#[test]
fn the_summary_counts_every_result_and_a_workload_sees_only_its_verdict() {
    let catalog = Catalog::builtin();
    let (system, evaluation) = evaluated(&catalog);
    let contents = system_contents(&catalog, &system, &evaluation);
    let s = contents.summary;
    assert_eq!(
        s.pass + s.fail + s.warn + s.error + s.skip,
        contents.results.len()
    );
    assert_eq!(contents.results.len(), evaluation.controls.len());
    assert!(s.fail >= 1, "{s:?}");
    // In catalog order.
    let order: Vec<usize> = contents
        .results
        .iter()
        .map(|r| {
            catalog
                .controls()
                .iter()
                .position(|c| c.id == r.rule)
                .unwrap()
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");

    let verdict = &evaluation.workloads[0];
    let mine = workload(&catalog, &system, &evaluation, verdict);
    assert_eq!(mine.results.len(), contents.results.len());
    let a625 = find(&mine, "A.6.2.5");
    assert_eq!(a625.result, Outcome::Fail);
    assert!(
        !a625.message.starts_with("Deployment/scorer"),
        "{}",
        a625.message
    );
    // A verdict with no reasons passes every control.
    let clean = WorkloadVerdict {
        reasons: Vec::new(),
        ..verdict.clone()
    };
    let clean = workload(&catalog, &system, &evaluation, &clean);
    assert_eq!(clean.summary.pass, clean.results.len());
}

#[test]
fn results_and_messages_are_bounded() {
    let catalog = Catalog::builtin();
    let (system, mut evaluation) = evaluated(&catalog);
    let long = "x".repeat(5 * MAX_MESSAGE);
    for f in &mut evaluation.findings {
        f.message = long.clone();
    }
    let contents = system_contents(&catalog, &system, &evaluation);
    for r in &contents.results {
        assert!(r.message.chars().count() <= MAX_MESSAGE, "{}", r.rule);
        assert!(
            r.properties
                .values()
                .all(|v| v.chars().count() <= MAX_PROPERTY)
        );
    }
    assert_eq!(truncate("abcdef", 4), "abc…");
    assert_eq!(truncate("abcd", 4), "abcd");
    assert_eq!(truncate("ééééé", 3), "éé…");
    assert!(contents.results.len() <= MAX_RESULTS);
}

#[test]
fn outcomes_serialize_as_the_crd_spells_them() {
    let names: Vec<String> = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Warn,
        Outcome::Error,
        Outcome::Skip,
    ]
    .iter()
    .map(|o| {
        serde_json::to_value(o)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    })
    .collect();
    assert_eq!(names, ["pass", "fail", "warn", "error", "skip"]);
    let severities: Vec<&str> = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .into_iter()
    .map(severity_name)
    .collect();
    assert_eq!(severities, ["critical", "high", "medium", "low", "info"]);
}
