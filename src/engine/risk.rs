//! Risk scoring: likelihood × severity on the fixed 1–5 scales, the level of a score, and the
//! highest inherent and residual risk of an assessment against its risk appetite.
//!
//! Total on every input: the schema keeps likelihood and severity within 1–5, but a record read
//! from a file or written while validation was off can hold any `u8`, and is clamped instead.

use serde::Serialize;

use crate::api::{Risk, RiskAssessmentSpec, RiskLevel, RiskScore};

/// The lowest value of the likelihood and severity scales.
pub const SCALE_MIN: u8 = 1;
/// The highest value of the likelihood and severity scales.
pub const SCALE_MAX: u8 = 5;

/// The score of a risk: likelihood × severity, from 1 to 25. Each input is first clamped to the
/// 1–5 scale, so no input overflows.
pub fn score(likelihood: u8, severity: u8) -> u8 {
    likelihood.clamp(SCALE_MIN, SCALE_MAX) * severity.clamp(SCALE_MIN, SCALE_MAX)
}

/// The level of a score: Low 1–4, Medium 5–9, High 10–16, Critical 17–25. A score outside 1–25
/// (which [`score`] never returns) falls in the nearest band: 0 is Low, above 25 is Critical.
pub fn level(score: u8) -> RiskLevel {
    match score {
        0..=4 => RiskLevel::Low,
        5..=9 => RiskLevel::Medium,
        10..=16 => RiskLevel::High,
        _ => RiskLevel::Critical,
    }
}

/// The score and level of a likelihood and a severity.
pub fn rate(likelihood: u8, severity: u8) -> RiskScore {
    let score = score(likelihood, severity);
    RiskScore {
        score,
        level: level(score),
    }
}

/// A risk's score before treatment.
pub fn inherent(risk: &Risk) -> RiskScore {
    rate(risk.likelihood, risk.severity)
}

/// A risk's score after treatment: the residual likelihood and severity where set, each falling
/// back to its inherent value where not ("unset means unchanged").
pub fn residual(risk: &Risk) -> RiskScore {
    rate(
        risk.residual_likelihood.unwrap_or(risk.likelihood),
        risk.residual_severity.unwrap_or(risk.severity),
    )
}

/// The risk picture of an assessment: its worst risks, and whether treatment brought every risk
/// within the risk appetite (`spec.criteria.acceptanceThreshold`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskSummary {
    /// The highest score before treatment over all risks.
    pub inherent: RiskScore,
    /// The highest score after treatment over all risks (not necessarily of the same risk).
    pub residual: RiskScore,
    /// Whether no residual score exceeds the acceptance threshold.
    pub within_appetite: bool,
    /// The ids of the risks whose residual score exceeds the acceptance threshold, in the order of
    /// `spec.risks`, each once.
    pub above_appetite: Vec<String>,
}

/// Summarizes the risks of an assessment; `None` when it has none.
pub fn summarize(spec: &RiskAssessmentSpec) -> Option<RiskSummary> {
    let threshold = spec.criteria.acceptance_threshold;
    let highest_inherent = spec.risks.iter().map(inherent).max_by_key(|s| s.score)?;
    let highest_residual = spec.risks.iter().map(residual).max_by_key(|s| s.score)?;
    let mut above_appetite: Vec<String> = Vec::new();
    for risk in &spec.risks {
        if residual(risk).score > threshold && !above_appetite.contains(&risk.id) {
            above_appetite.push(risk.id.clone());
        }
    }
    Some(RiskSummary {
        inherent: highest_inherent,
        residual: highest_residual,
        within_appetite: above_appetite.is_empty(),
        above_appetite,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::api::{Criteria, RiskSource, Scope, SystemRef, Treatment};

    #[test]
    fn scores_multiply_likelihood_by_severity_within_the_scale() {
        for (likelihood, severity, want) in [
            (1, 1, 1),
            (1, 5, 5),
            (5, 1, 5),
            (2, 3, 6),
            (4, 4, 16),
            (5, 5, 25),
            // Out of scale: clamped, never overflowing.
            (0, 0, 1),
            (0, 5, 5),
            (6, 5, 25),
            (255, 255, 25),
            (255, 0, 5),
        ] {
            assert_eq!(score(likelihood, severity), want, "{likelihood}×{severity}");
        }
    }

    #[test]
    fn levels_change_at_their_boundaries() {
        use RiskLevel::*;
        for (score, want) in [
            (0, Low),
            (1, Low),
            (4, Low),
            (5, Medium),
            (9, Medium),
            (10, High),
            (16, High),
            (17, Critical),
            (25, Critical),
            (26, Critical),
            (255, Critical),
        ] {
            assert_eq!(level(score), want, "score {score}");
        }
    }

    #[test]
    fn every_score_on_the_scale_has_the_documented_level() {
        for l in 1..=5 {
            for s in 1..=5 {
                let RiskScore { score, level } = rate(l, s);
                let want = match score {
                    1..=4 => RiskLevel::Low,
                    5..=9 => RiskLevel::Medium,
                    10..=16 => RiskLevel::High,
                    17..=25 => RiskLevel::Critical,
                    other => panic!("score {other} out of range"),
                };
                assert_eq!(level, want, "{l}×{s}");
            }
        }
    }

    fn risk(id: &str, l: u8, s: u8, residual: (Option<u8>, Option<u8>)) -> Risk {
        Risk {
            id: id.into(),
            title: format!("risk {id}"),
            description: None,
            source: RiskSource::Other,
            likelihood: l,
            severity: s,
            treatment: Treatment::Mitigate,
            controls: Vec::new(),
            residual_likelihood: residual.0,
            residual_severity: residual.1,
            owner: None,
        }
    }

    fn spec(threshold: u8, risks: Vec<Risk>) -> RiskAssessmentSpec {
        RiskAssessmentSpec {
            system_ref: SystemRef { name: "s".into() },
            scope: Scope::default(),
            criteria: Criteria {
                acceptance_threshold: threshold,
            },
            risks,
            impact_assessment: None,
            valid_for: "180d".into(),
            approvals: Vec::new(),
            submitted_by: None,
            edited_by: Vec::new(),
            record_stamp: None,
        }
    }

    #[test]
    fn residual_falls_back_to_inherent_field_by_field() {
        for (residual_pair, want) in [
            ((Some(1), Some(2)), 2),
            ((None, None), 20),
            ((Some(1), None), 5),
            ((None, Some(1)), 4),
        ] {
            let r = risk("R", 4, 5, residual_pair);
            assert_eq!(residual(&r).score, want, "{residual_pair:?}");
            assert_eq!(inherent(&r).score, 20);
        }
    }

    #[test]
    fn an_assessment_without_risks_has_no_summary() {
        assert_eq!(summarize(&spec(8, Vec::new())), None);
    }

    #[test]
    fn summaries_take_the_highest_scores_and_list_risks_above_appetite() {
        struct Case {
            name: &'static str,
            threshold: u8,
            risks: Vec<Risk>,
            inherent: (u8, RiskLevel),
            residual: (u8, RiskLevel),
            above: &'static [&'static str],
        }
        let cases = [
            Case {
                name: "highest inherent and residual come from different risks",
                threshold: 8,
                risks: vec![
                    risk("R1", 5, 5, (Some(1), Some(2))),
                    risk("R2", 3, 3, (None, None)),
                ],
                inherent: (25, RiskLevel::Critical),
                residual: (9, RiskLevel::Medium),
                above: &["R2"],
            },
            Case {
                name: "a residual score equal to the threshold is within appetite",
                threshold: 6,
                risks: vec![risk("R1", 3, 5, (Some(2), Some(3)))],
                inherent: (15, RiskLevel::High),
                residual: (6, RiskLevel::Medium),
                above: &[],
            },
            Case {
                name: "one above the threshold is not",
                threshold: 5,
                risks: vec![risk("R1", 3, 5, (Some(2), Some(3)))],
                inherent: (15, RiskLevel::High),
                residual: (6, RiskLevel::Medium),
                above: &["R1"],
            },
            Case {
                name: "every risk above appetite is listed once, in order",
                threshold: 1,
                risks: vec![
                    risk("b", 2, 2, (None, None)),
                    risk("a", 1, 1, (None, None)),
                    risk("c", 1, 2, (None, None)),
                    risk("b", 2, 2, (None, None)),
                ],
                inherent: (4, RiskLevel::Low),
                residual: (4, RiskLevel::Low),
                above: &["b", "c"],
            },
            Case {
                name: "a threshold of 0 (out of schema) puts every risk above appetite",
                threshold: 0,
                risks: vec![risk("R1", 1, 1, (None, None))],
                inherent: (1, RiskLevel::Low),
                residual: (1, RiskLevel::Low),
                above: &["R1"],
            },
        ];
        for case in cases {
            let summary = summarize(&spec(case.threshold, case.risks)).expect(case.name);
            assert_eq!(
                (summary.inherent.score, summary.inherent.level),
                case.inherent,
                "{}",
                case.name
            );
            assert_eq!(
                (summary.residual.score, summary.residual.level),
                case.residual,
                "{}",
                case.name
            );
            assert_eq!(summary.above_appetite, case.above, "{}", case.name);
            assert_eq!(
                summary.within_appetite,
                case.above.is_empty(),
                "{}",
                case.name
            );
        }
    }

    proptest! {
        #[test]
        fn scoring_is_total_and_within_range(l in any::<u8>(), s in any::<u8>()) {
            let RiskScore { score, level: lvl } = rate(l, s);
            prop_assert!((1..=25).contains(&score));
            prop_assert_eq!(lvl, level(score));
        }

        #[test]
        fn summaries_are_total(
            threshold in any::<u8>(),
            values in proptest::collection::vec(
                (any::<u8>(), any::<u8>(), any::<Option<u8>>(), any::<Option<u8>>()),
                0..8,
            ),
        ) {
            let risks = values
                .iter()
                .enumerate()
                .map(|(i, &(l, s, rl, rs))| risk(&i.to_string(), l, s, (rl, rs)))
                .collect::<Vec<_>>();
            let n = risks.len();
            match summarize(&spec(threshold, risks)) {
                None => prop_assert_eq!(n, 0),
                Some(summary) => {
                    prop_assert!(summary.residual.score <= 25 && summary.inherent.score <= 25);
                    prop_assert_eq!(summary.within_appetite, summary.above_appetite.is_empty());
                }
            }
        }
    }
}
