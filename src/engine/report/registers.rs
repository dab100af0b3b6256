//! The report's registers: the AI system inventory, the risk register and its heat maps, the
//! approvals ledger, the evidence register and the open nonconformities.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::{ReportInputs, name_of, system_key};
use crate::{
    api::{AISystem, Decision, Enforcement, Phase, RiskLevel},
    engine::{
        evaluate::{AssessmentSummary, Evaluation},
        risk,
    },
};

/// How soon an expiry is "soon": the evidence register lists these first.
const SOON: SignedDuration = SignedDuration::from_hours(30 * 24);

/// One AI system.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryRow {
    /// `namespace/name`.
    pub system: String,
    /// Its display name, when it has one.
    pub display_name: Option<String>,
    /// Its intended purpose.
    pub purpose: String,
    /// EU AI Act risk tier.
    pub risk_tier: String,
    /// EU AI Act role.
    pub role: String,
    /// The accountable owner (and how to reach them).
    pub owner: String,
    /// The team.
    pub team: Option<String>,
    /// Human oversight mode.
    pub oversight_mode: Option<String>,
    /// The overseers.
    pub overseers: Vec<String>,
    /// Whether it is halted now.
    pub halted: bool,
    /// Its models.
    pub models: Vec<ModelRow>,
    /// Its data sets.
    pub datasets: Vec<DatasetRow>,
    /// Its workloads (`Kind/name`) and whether each is admitted.
    pub workloads: Vec<String>,
    /// Its phase.
    pub phase: Phase,
    /// Satisfied of applicable controls (`12/14`).
    pub controls: String,
}

/// One model of a system.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelRow {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: Option<String>,
    /// The image (by digest) or model URI (with its sha256) it is.
    pub artifact: String,
    /// Who supplies it, for a third-party model.
    pub supplier: Option<String>,
}

/// One data set of a system.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetRow {
    /// Its name.
    pub name: String,
    /// What it is used for.
    pub usage: String,
    /// Where it comes from.
    pub source: Option<String>,
    /// Its exact version, snapshot or digest.
    pub provenance: Option<String>,
    /// Its licence or legal basis.
    pub licence: Option<String>,
    /// Whether it holds personal data.
    pub contains_personal_data: bool,
}

pub(super) fn inventory(inputs: &ReportInputs<'_>) -> Vec<InventoryRow> {
    inputs
        .systems
        .iter()
        .map(|(system, evaluation)| {
            let spec = &system.spec;
            let (satisfied, applicable) = evaluation.control_counts();
            InventoryRow {
                system: system_key(system),
                display_name: spec.display_name.clone(),
                purpose: spec.purpose.clone(),
                risk_tier: spec.risk_tier.as_str().to_owned(),
                role: name_of(&spec.role),
                owner: match &spec.owner.contact {
                    Some(contact) => format!("{} <{contact}>", spec.owner.name),
                    None => spec.owner.name.clone(),
                },
                team: spec.team.clone(),
                oversight_mode: spec
                    .oversight
                    .as_ref()
                    .and_then(|o| o.mode.as_ref())
                    .map(name_of),
                overseers: spec
                    .oversight
                    .iter()
                    .flat_map(|o| &o.overseers)
                    .map(|p| p.name.clone())
                    .collect(),
                halted: spec.halted(),
                models: spec
                    .models
                    .iter()
                    .map(|m| ModelRow {
                        name: m.name.clone(),
                        version: m.version.clone(),
                        artifact: match (&m.artifact.image, &m.artifact.uri, &m.artifact.sha256) {
                            (Some(image), _, _) => image.clone(),
                            (None, Some(uri), Some(sha)) => format!("{uri} (sha256:{sha})"),
                            (None, Some(uri), None) => uri.clone(),
                            (None, None, _) => String::new(),
                        },
                        supplier: m.supplier.clone(),
                    })
                    .collect(),
                datasets: spec
                    .datasets
                    .iter()
                    .map(|d| DatasetRow {
                        name: d.name.clone(),
                        usage: name_of(&d.usage),
                        source: d.source.clone(),
                        provenance: d.provenance.clone(),
                        licence: d.licence.clone(),
                        contains_personal_data: d.contains_personal_data,
                    })
                    .collect(),
                workloads: evaluation
                    .workloads
                    .iter()
                    .map(|w| format!("{} ({})", w.workload, name_of(&w.verdict)))
                    .collect(),
                phase: evaluation.phase,
                controls: format!("{satisfied}/{applicable}"),
            }
        })
        .collect()
}

/// The risk register.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskRegister {
    /// Every risk of every assessment.
    pub risks: Vec<RiskRow>,
    /// How many risks sit at each likelihood × severity before treatment.
    pub inherent: HeatMap,
    /// And after treatment.
    pub residual: HeatMap,
}

/// A 5×5 heat map: `cells[likelihood - 1][severity - 1]` risks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HeatMap {
    /// The counts, by likelihood then severity (1 to 5 each).
    pub cells: [[u32; 5]; 5],
}

impl HeatMap {
    pub(super) fn add(&mut self, likelihood: u8, severity: u8) {
        let at = |v: u8| usize::from(v.clamp(1, 5) - 1);
        self.cells[at(likelihood)][at(severity)] += 1;
    }

    /// How many risks it counts.
    pub fn total(&self) -> u32 {
        self.cells.iter().flatten().sum()
    }
}

/// One risk.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskRow {
    /// `namespace/name` of the system.
    pub system: String,
    /// The RiskAssessment.
    pub assessment: String,
    /// The risk's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its source or objective.
    pub source: String,
    /// Inherent likelihood and severity (1 to 5), score and level.
    pub likelihood: u8,
    /// Inherent severity.
    pub severity: u8,
    /// Inherent score (likelihood × severity).
    pub inherent_score: u8,
    /// Inherent level.
    pub inherent_level: RiskLevel,
    /// After treatment: likelihood (the inherent one when not given).
    pub residual_likelihood: u8,
    /// After treatment: severity.
    pub residual_severity: u8,
    /// Residual score.
    pub residual_score: u8,
    /// Residual level.
    pub residual_level: RiskLevel,
    /// The assessment's acceptance threshold (risk appetite).
    pub appetite: u8,
    /// Whether the residual score is within it.
    pub within_appetite: bool,
    /// Mitigate, Accept, Transfer or Avoid.
    pub treatment: String,
    /// The Annex A controls that treat it.
    pub controls: Vec<String>,
    /// Who owns it.
    pub owner: Option<String>,
}

pub(super) fn risks(inputs: &ReportInputs<'_>) -> RiskRegister {
    let mut register = RiskRegister {
        risks: Vec::new(),
        inherent: HeatMap::default(),
        residual: HeatMap::default(),
    };
    for ra in inputs.assessments {
        let system = format!(
            "{}/{}",
            ra.metadata.namespace.as_deref().unwrap_or_default(),
            ra.spec.system_ref.name
        );
        let appetite = ra.spec.criteria.acceptance_threshold;
        for r in &ra.spec.risks {
            let (rl, rs) = (
                r.residual_likelihood.unwrap_or(r.likelihood),
                r.residual_severity.unwrap_or(r.severity),
            );
            let (inherent, residual) = (risk::score(r.likelihood, r.severity), risk::score(rl, rs));
            register.inherent.add(r.likelihood, r.severity);
            register.residual.add(rl, rs);
            register.risks.push(RiskRow {
                system: system.clone(),
                assessment: ra.metadata.name.clone().unwrap_or_default(),
                id: r.id.clone(),
                title: r.title.clone(),
                source: name_of(&r.source),
                likelihood: r.likelihood,
                severity: r.severity,
                inherent_score: inherent,
                inherent_level: risk::level(inherent),
                residual_likelihood: rl,
                residual_severity: rs,
                residual_score: residual,
                residual_level: risk::level(residual),
                appetite,
                within_appetite: residual <= appetite,
                treatment: name_of(&r.treatment),
                controls: r.controls.clone(),
                owner: r.owner.clone(),
            });
        }
    }
    register
}

/// One entry of an assessment's `spec.approvals`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRow {
    /// `namespace/name` of the system.
    pub system: String,
    /// The RiskAssessment.
    pub assessment: String,
    /// The entry's position in `spec.approvals`.
    pub index: usize,
    /// Approve or Reject.
    pub decision: Decision,
    /// Who, as the operator stamped it from the admission request (none: not stamped).
    pub user: Option<String>,
    /// Their groups then.
    pub groups: Vec<String>,
    /// When.
    pub at: Option<Timestamp>,
    /// The hash of the content decided on.
    pub content_hash: Option<String>,
    /// The comment.
    pub comment: Option<String>,
    /// Whether it counts toward the assessment's approval now.
    pub counts: bool,
    /// Until when the approval it is part of holds.
    pub until: Option<Timestamp>,
    /// Why it does not count, when it does not.
    pub discounted: Option<String>,
}

pub(super) fn approvals(inputs: &ReportInputs<'_>) -> Vec<ApprovalRow> {
    let mut rows = Vec::new();
    for ra in inputs.assessments {
        let name = ra.metadata.name.clone().unwrap_or_default();
        let namespace = ra.metadata.namespace.as_deref().unwrap_or_default();
        let summary = summary_of(inputs, namespace, &name);
        let recorded = ra.status.as_ref().map(|s| &s.discounted);
        for (index, entry) in ra.spec.approvals.iter().enumerate() {
            let stamp = entry.stamp.as_ref();
            let user = stamp.map(|s| s.user.clone());
            let approve = entry.decision == Decision::Approve;
            let current =
                summary.is_some_and(|s| stamp.is_some_and(|st| st.content_hash == s.content_hash));
            let counted =
                summary.is_some_and(|s| user.as_ref().is_some_and(|u| s.approvers.contains(u)));
            let counts = approve && current && counted;
            let discounted = if counts || !approve {
                None
            } else if let Some(d) = recorded
                .into_iter()
                .flatten()
                .find(|d| usize::try_from(d.index).is_ok_and(|i| i == index))
            {
                Some(d.message.clone())
            } else if stamp.is_none() {
                Some("not stamped by the operator: written outside admission".to_owned())
            } else if !current {
                Some("decided on other content: the assessment changed since".to_owned())
            } else {
                Some("does not count under the approval policy in force".to_owned())
            };
            rows.push(ApprovalRow {
                system: format!("{namespace}/{}", ra.spec.system_ref.name),
                assessment: name.clone(),
                index,
                decision: entry.decision,
                user,
                groups: stamp.map(|s| s.groups.clone()).unwrap_or_default(),
                at: stamp.map(|s| s.at.0),
                content_hash: stamp.map(|s| s.content_hash.clone()),
                comment: entry.comment.clone(),
                counts,
                until: counts.then(|| summary.and_then(|s| s.expires_at)).flatten(),
                discounted,
            });
        }
    }
    rows
}

/// What the evaluation of its system says of assessment `name` of `namespace`.
fn summary_of<'a>(
    inputs: &'a ReportInputs<'_>,
    namespace: &str,
    name: &str,
) -> Option<&'a AssessmentSummary> {
    inputs
        .systems
        .iter()
        .filter(|(s, _)| s.metadata.namespace.as_deref() == Some(namespace))
        .flat_map(|(_, e): &(&AISystem, &Evaluation)| &e.assessments)
        .find(|a| a.name == name)
}

/// One piece of evidence of an attested control.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceRow {
    /// The control.
    pub control: String,
    /// The binding that carries it.
    pub binding: String,
    /// Where the evidence is.
    pub uri: String,
    /// The SHA-256 of the version attested.
    pub sha256: Option<String>,
    /// Who attests it.
    pub attested_by: String,
    /// When it stops counting.
    pub expires: Timestamp,
    /// `expired`, `expiring` (within 30 days) or `valid`.
    pub status: &'static str,
}

pub(super) fn evidence(inputs: &ReportInputs<'_>) -> Vec<EvidenceRow> {
    let mut rows: Vec<EvidenceRow> = inputs
        .bindings
        .iter()
        .flat_map(|b| {
            b.rules().controls.iter().flat_map(move |rule| {
                rule.evidence.iter().map(move |e| {
                    let expires = e.expires.0;
                    EvidenceRow {
                        control: rule.id.clone(),
                        binding: b.display_name(),
                        uri: e.document.uri.clone(),
                        sha256: e.document.sha256.clone(),
                        attested_by: e.attested_by.clone(),
                        expires,
                        status: if expires <= inputs.now {
                            "expired"
                        } else if expires.duration_since(inputs.now) <= SOON {
                            "expiring"
                        } else {
                            "valid"
                        },
                    }
                })
            })
        })
        .collect();
    let urgency = |s: &str| match s {
        "expired" => 0,
        "expiring" => 1,
        _ => 2,
    };
    rows.sort_by(|a, b| {
        (urgency(a.status), a.expires, &a.control).cmp(&(urgency(b.status), b.expires, &b.control))
    });
    rows
}

/// An enforced control a system fails now (ISO/IEC 42001 10.2). When it started failing, and when
/// it was resolved, come from the decision records.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NonconformityRow {
    /// `namespace/name` of the system.
    pub system: String,
    /// The control.
    pub control: String,
    /// Its title.
    pub title: String,
    /// What is wrong, and what to do.
    pub message: String,
    /// The workload it is about, when it is about one.
    pub workload: Option<String>,
}

pub(super) fn nonconformities(inputs: &ReportInputs<'_>) -> Vec<NonconformityRow> {
    inputs
        .systems
        .iter()
        .flat_map(|(system, evaluation)| {
            evaluation
                .findings
                .iter()
                .filter(|f| f.enforcement == Enforcement::Enforce)
                .map(|f| NonconformityRow {
                    system: system_key(system),
                    control: f.control.clone(),
                    title: f.title.clone(),
                    message: f.message.clone(),
                    workload: f.workload.clone(),
                })
        })
        .collect()
}
