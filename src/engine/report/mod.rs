//! The auditor's report (ISO/IEC 42001 certification audit): the Statement of Applicability
//! (clause 6.1.3), the AI system inventory, the risk register with its heat map, the approvals
//! ledger, the evidence register and the open nonconformities (clause 10.2), each control
//! crosswalked to the EU AI Act, the NIST AI RMF and the harmonised standards under preparation.
//!
//! Pure: built from the records and each system's evaluation (the same the controller writes to
//! status), as of `now`. `aims report` renders it (`cli::report`).

pub mod history;
pub mod openreports;
mod registers;
mod soa;

use jiff::Timestamp;
use serde::Serialize;

pub use registers::{
    ApprovalRow, DatasetRow, EvidenceRow, HeatMap, InventoryRow, ModelRow, NonconformityRow,
    RiskRegister, RiskRow,
};
pub use soa::{Crosswalk, SoaRow, SystemControlState, SystemState};

use super::{binding::Binding, catalog::Catalog, evaluate::Evaluation};
use crate::api::{AISystem, RiskAssessment};

/// The records a report is built from.
pub struct ReportInputs<'a> {
    /// Every system, with its evaluation.
    pub systems: &'a [(&'a AISystem, &'a Evaluation)],
    /// Every RiskAssessment.
    pub assessments: &'a [&'a RiskAssessment],
    /// Every binding, namespaced and cluster-wide.
    pub bindings: &'a [Binding<'a>],
    /// The control catalog.
    pub catalog: &'a Catalog,
    /// As of when.
    pub now: Timestamp,
}

/// The report: every section, as data (its JSON form is documented in docs/report.md).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// As of when the records were read.
    pub generated_at: Timestamp,
    /// How many systems it covers.
    pub systems: usize,
    /// The figures an auditor reads first.
    pub summary: Summary,
    /// Every Annex A control: applicable or not, how decided, its state per system.
    pub statement_of_applicability: Vec<SoaRow>,
    /// Every AI system.
    pub inventory: Vec<InventoryRow>,
    /// Every risk of every assessment, and the heat maps.
    pub risk_register: RiskRegister,
    /// Every approval and rejection recorded, and whether it counts.
    pub approvals: Vec<ApprovalRow>,
    /// The evidence of attested controls, what expires soonest first.
    pub evidence: Vec<EvidenceRow>,
    /// Each system's enforced controls that fail now.
    pub nonconformities: Vec<NonconformityRow>,
    /// What the tamper-evident records add (`aims report --log`): when each nonconformity opened
    /// and closed, and the approvals history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<history::History>,
}

/// The figures an auditor reads first.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// How many systems are in each phase.
    pub systems_by_phase: std::collections::BTreeMap<String, usize>,
    /// How many Annex A controls apply to at least one system, of all.
    pub applicable_controls: usize,
    /// How many controls the catalog has.
    pub controls: usize,
    /// How many risks are recorded, and how many exceed their appetite after treatment.
    pub risks: usize,
    /// Of those, the ones whose residual score exceeds the appetite.
    pub risks_outside_appetite: usize,
    /// Approvals that count now.
    pub approvals_in_force: usize,
    /// Evidence expired or expiring within 30 days.
    pub evidence_due: usize,
    /// Enforced controls failing now, over every system.
    pub nonconformities: usize,
}

/// Builds the report.
pub fn build(inputs: &ReportInputs<'_>) -> Report {
    let mut report = Report {
        generated_at: inputs.now,
        systems: inputs.systems.len(),
        summary: Summary::default(),
        statement_of_applicability: soa::rows(inputs),
        inventory: registers::inventory(inputs),
        risk_register: registers::risks(inputs),
        approvals: registers::approvals(inputs),
        evidence: registers::evidence(inputs),
        nonconformities: registers::nonconformities(inputs),
        history: None,
    };
    report.summary = Summary {
        systems_by_phase: report
            .inventory
            .iter()
            .fold(Default::default(), |mut by, s| {
                *by.entry(name_of(&s.phase)).or_default() += 1;
                by
            }),
        applicable_controls: report
            .statement_of_applicability
            .iter()
            .filter(|c| c.applicable)
            .count(),
        controls: report.statement_of_applicability.len(),
        risks: report.risk_register.risks.len(),
        risks_outside_appetite: report
            .risk_register
            .risks
            .iter()
            .filter(|r| !r.within_appetite)
            .count(),
        approvals_in_force: report.approvals.iter().filter(|a| a.counts).count(),
        evidence_due: report
            .evidence
            .iter()
            .filter(|e| e.status != "valid")
            .count(),
        nonconformities: report.nonconformities.len(),
    };
    report
}

/// `namespace/name` of a system.
fn system_key(system: &AISystem) -> String {
    format!(
        "{}/{}",
        system.metadata.namespace.as_deref().unwrap_or_default(),
        system.metadata.name.as_deref().unwrap_or_default()
    )
}

/// An enum's name as its YAML spells it.
fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests;
