//! The Statement of Applicability (ISO/IEC 42001 6.1.3): every Annex A control, whether it applies
//! and why not, how it is decided, its state in each system, its evidence and its bindings.

use serde::Serialize;

use super::{ReportInputs, system_key};
use crate::{
    api::Enforcement,
    engine::{catalog::Control, crosswalk},
};

/// One control's row.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SoaRow {
    /// The control id (`A.6.2.5`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its Annex A group (`A.6`).
    pub group: String,
    /// Whether it applies to at least one system.
    pub applicable: bool,
    /// `checked` (the engine decides it from the cluster) or `attested` (evidence decides it).
    pub decided: &'static str,
    /// Its state in each system it applies to or is excluded from.
    pub systems: Vec<SystemControlState>,
    /// The bindings that apply or exclude it.
    pub bindings: Vec<String>,
    /// Where it maps to.
    pub crosswalk: Crosswalk,
}

/// A control in one system.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemControlState {
    /// `namespace/name`.
    pub system: String,
    /// Satisfied, failing or excluded.
    pub state: SystemState,
    /// How it is enforced there (none when excluded).
    pub enforcement: Option<Enforcement>,
    /// Why it does not apply, when excluded.
    pub justification: Option<String>,
}

/// A control's state in one system.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SystemState {
    /// It applies and is satisfied.
    Satisfied,
    /// It applies and fails.
    Failing,
    /// A binding excludes it.
    Excluded,
}

/// Where a control maps to.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Crosswalk {
    /// ISO/IEC 42001 Annex A.
    pub iso42001: String,
    /// EU AI Act articles.
    pub eu_ai_act: Vec<String>,
    /// NIST AI RMF subcategories.
    pub nist_ai_rmf: Vec<String>,
    /// The CEN/CLC JTC 21 harmonised standards under preparation that cover those articles.
    pub harmonised_standards: Vec<String>,
}

impl Crosswalk {
    /// The crosswalk of `control`.
    pub fn of(control: &Control) -> Self {
        Self {
            iso42001: control.id.clone(),
            eu_ai_act: control.eu_ai_act.clone(),
            nist_ai_rmf: control.nist_ai_rmf.clone(),
            harmonised_standards: crosswalk::for_control(control)
                .into_iter()
                .map(|s| s.id.clone())
                .collect(),
        }
    }
}

/// The rows, in catalog order.
pub(super) fn rows(inputs: &ReportInputs<'_>) -> Vec<SoaRow> {
    inputs
        .catalog
        .controls()
        .iter()
        .map(|control| {
            let mut systems = Vec::new();
            let mut bindings = Vec::new();
            for (system, evaluation) in inputs.systems {
                if let Some(result) = evaluation.controls.iter().find(|c| c.id == control.id) {
                    systems.push(SystemControlState {
                        system: system_key(system),
                        state: if result.satisfied {
                            SystemState::Satisfied
                        } else {
                            SystemState::Failing
                        },
                        enforcement: Some(result.enforcement),
                        justification: None,
                    });
                    bindings.extend(result.bound_by.iter().cloned());
                }
                for excluded in evaluation.excluded.iter().filter(|e| e.id == control.id) {
                    systems.push(SystemControlState {
                        system: system_key(system),
                        state: SystemState::Excluded,
                        enforcement: None,
                        justification: Some(excluded.justification.clone()),
                    });
                    bindings.push(excluded.by.clone());
                }
            }
            bindings.sort();
            bindings.dedup();
            SoaRow {
                id: control.id.clone(),
                title: control.title.clone(),
                group: control.group.clone(),
                applicable: systems.iter().any(|s| s.state != SystemState::Excluded),
                decided: if control.check.is_some() {
                    "checked"
                } else {
                    "attested"
                },
                systems,
                bindings,
                crosswalk: Crosswalk::of(control),
            }
        })
        .collect()
}
