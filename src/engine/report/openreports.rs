//! The results of an OpenReports `Report` (`openreports.io/v1alpha1`, the successor of the
//! wg-policy PolicyReport that Policy Reporter, Kyverno and Kubewarden read): a system's
//! evaluation as one result per Annex A control, for the system as a whole and for each of its
//! workloads.
//!
//! Pure: it re-decides nothing. A control's outcome is the evaluation's (satisfied or failing, and
//! the findings that fail it); this module only names it in the report's words:
//!
//! | the evaluation says | result |
//! |---|---|
//! | applicable and satisfied | `pass` |
//! | failing, enforced (`Enforce`) | `fail` |
//! | failing, `Warn` or `Audit` (admitted, recorded) | `warn` |
//! | excluded by a binding, with its justification | `skip` |
//!
//! Bounded: at most [`MAX_RESULTS`] results (the failing ones kept first), each message at most
//! [`MAX_MESSAGE`] characters and each property at most [`MAX_PROPERTY`].

use std::collections::BTreeMap;

use serde::Serialize;

use super::Crosswalk;
use crate::{
    api::{AISystem, Enforcement, Severity},
    engine::{
        catalog::{Catalog, Control},
        controls::{self, ControlFinding},
        evaluate::{Evaluation, WorkloadVerdict},
    },
};

/// The policy every result names: the catalog the controls come from.
pub const POLICY: &str = "iso42001-annex-a";
/// The source every report and result names.
pub const SOURCE: &str = "aims-operator";
/// The most results one report holds.
pub const MAX_RESULTS: usize = 200;
/// The most characters of one result's message.
pub const MAX_MESSAGE: usize = 1024;
/// The most characters of one property's value.
pub const MAX_PROPERTY: usize = 512;

/// A result's outcome, as the CRD spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The control fails and is enforced.
    Fail,
    /// The control fails and is not enforced (`Warn` or `Audit`).
    Warn,
    /// Not written by this operator (an evaluation always decides); kept for the CRD's counts.
    Error,
    /// A binding excludes the control.
    Skip,
    /// The control is satisfied.
    Pass,
}

/// One result: one control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportResult {
    /// Always [`POLICY`].
    pub policy: &'static str,
    /// The control id (`A.6.2.5`).
    pub rule: String,
    /// Its outcome.
    pub result: Outcome,
    /// `critical`, `high`, `medium`, `low` or `info`.
    pub severity: &'static str,
    /// The Annex A group and its title (`A.6 AI system life cycle`).
    pub category: String,
    /// What fails and what to do, or that it is satisfied.
    pub message: String,
    /// Always [`SOURCE`].
    pub source: &'static str,
    /// The control's title, enforcement, how it is decided, and its crosswalk.
    pub properties: BTreeMap<String, String>,
}

/// How many results have each outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Satisfied.
    pub pass: usize,
    /// Failing and enforced.
    pub fail: usize,
    /// Failing, not enforced.
    pub warn: usize,
    /// Never counted by this operator.
    pub error: usize,
    /// Excluded.
    pub skip: usize,
}

/// A report's contents: its results and their counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Contents {
    /// One per control, in catalog order.
    pub results: Vec<ReportResult>,
    /// Their counts.
    pub summary: Summary,
}

/// The system's report: every control that applies to it or is excluded, failed by any of the
/// evaluation's findings.
pub fn system(catalog: &Catalog, system: &AISystem, evaluation: &Evaluation) -> Contents {
    build(catalog, system, evaluation, &evaluation.findings, true)
}

/// A workload's report: the same controls, failed by the findings that apply to the workload
/// (the system's own and the workload's: the engine's verdict on it).
pub fn workload(
    catalog: &Catalog,
    system: &AISystem,
    evaluation: &Evaluation,
    verdict: &WorkloadVerdict,
) -> Contents {
    build(catalog, system, evaluation, &verdict.reasons, false)
}

fn build(
    catalog: &Catalog,
    system: &AISystem,
    evaluation: &Evaluation,
    findings: &[ControlFinding],
    name_workloads: bool,
) -> Contents {
    let mut results: Vec<(usize, ReportResult)> = Vec::new();
    for (index, control) in catalog.controls().iter().enumerate() {
        let failing: Vec<&ControlFinding> = findings
            .iter()
            .filter(|f| f.control == control.id)
            .collect();
        let applied = evaluation.controls.iter().find(|c| c.id == control.id);
        let excluded = evaluation.excluded.iter().find(|e| e.id == control.id);
        let result = if !failing.is_empty() {
            let enforcement = failing
                .iter()
                .map(|f| f.enforcement)
                .min()
                .unwrap_or(Enforcement::Audit);
            let severity = failing
                .iter()
                .map(|f| f.severity)
                .min()
                .unwrap_or(Severity::Info);
            let messages: Vec<String> = failing
                .iter()
                .map(|f| match (&f.workload, name_workloads) {
                    (Some(w), true) => format!("{w}: {}", f.message),
                    _ => f.message.clone(),
                })
                .collect();
            let mut r = result(catalog, control, outcome_of(enforcement), severity);
            r.message = truncate(&messages.join("; "), MAX_MESSAGE);
            r.properties
                .insert("enforcement".into(), super::name_of(&enforcement));
            r
        } else if let Some(applied) = applied {
            let mut r = result(
                catalog,
                control,
                Outcome::Pass,
                controls::severity(system, control),
            );
            r.message = if applied.checked {
                "satisfied".into()
            } else {
                "satisfied: attested with unexpired evidence".into()
            };
            r.properties
                .insert("enforcement".into(), super::name_of(&applied.enforcement));
            r
        } else if let Some(excluded) = excluded {
            let mut r = result(
                catalog,
                control,
                Outcome::Skip,
                controls::severity(system, control),
            );
            r.message = truncate(
                &format!("excluded by {}: {}", excluded.by, excluded.justification),
                MAX_MESSAGE,
            );
            r
        } else {
            continue;
        };
        results.push((index, result));
    }
    if results.len() > MAX_RESULTS {
        // Failing results first, then catalog order again.
        results.sort_by_key(|(index, r)| (r.result, *index));
        results.truncate(MAX_RESULTS);
        results.sort_by_key(|(index, _)| *index);
    }
    let results: Vec<ReportResult> = results.into_iter().map(|(_, r)| r).collect();
    let mut summary = Summary::default();
    for r in &results {
        *match r.result {
            Outcome::Pass => &mut summary.pass,
            Outcome::Fail => &mut summary.fail,
            Outcome::Warn => &mut summary.warn,
            Outcome::Error => &mut summary.error,
            Outcome::Skip => &mut summary.skip,
        } += 1;
    }
    Contents { results, summary }
}

/// A failing control's outcome: `fail` when enforced, else `warn`.
fn outcome_of(enforcement: Enforcement) -> Outcome {
    match enforcement {
        Enforcement::Enforce => Outcome::Fail,
        Enforcement::Warn | Enforcement::Audit => Outcome::Warn,
    }
}

/// A result for `control` without a message, its properties its title, how it is decided and its
/// crosswalk.
fn result(
    catalog: &Catalog,
    control: &Control,
    outcome: Outcome,
    severity: Severity,
) -> ReportResult {
    let crosswalk = Crosswalk::of(control);
    let mut properties = BTreeMap::new();
    properties.insert("title".to_owned(), control.title.clone());
    properties.insert(
        "decided".to_owned(),
        if control.check.is_some() {
            "checked"
        } else {
            "attested"
        }
        .to_owned(),
    );
    for (key, values) in [
        ("euAiAct", &crosswalk.eu_ai_act),
        ("nistAiRmf", &crosswalk.nist_ai_rmf),
        ("harmonisedStandards", &crosswalk.harmonised_standards),
    ] {
        if !values.is_empty() {
            properties.insert(key.to_owned(), values.join(", "));
        }
    }
    for value in properties.values_mut() {
        *value = truncate(value, MAX_PROPERTY);
    }
    ReportResult {
        policy: POLICY,
        rule: control.id.clone(),
        result: outcome,
        severity: severity_name(severity),
        category: match catalog.group_title(&control.group) {
            Some(title) => format!("{} {title}", control.group),
            None => control.group.clone(),
        },
        message: String::new(),
        source: SOURCE,
        properties,
    }
}

/// A severity as the CRD spells it.
fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
    }
}

/// At most `max` characters of `s`, with `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max.saturating_sub(1)) {
        Some((i, _)) if s.chars().count() > max => format!("{}…", &s[..i]),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
pub(crate) mod tests;
