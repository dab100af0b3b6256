//! Who may approve (the [`ApprovalPolicy`] of the bindings) and whether an assessment is complete
//! enough to be approved.

use std::{collections::BTreeSet, fmt};

use serde::Serialize;

use crate::api::RiskAssessmentSpec;

use super::*;

/// How much an assessment's signatures are trusted.
#[derive(Clone, Copy, Debug)]
pub enum Trust<'a> {
    /// Count only entries whose signature verifies under this key (the controller).
    Verify(&'a SigningKey),
    /// Take stamps as written, without checking signatures (the offline CLI, which has no key).
    /// An entry still needs a stamp to count.
    AsWritten,
    /// Take the operator's word for what only its key can check (a person's CLI reading a live
    /// cluster, with no key): an entry whose signature, or whose assessment's record, the
    /// operator found bad (its `status.discounted`, which only the operator writes) does not
    /// count, and no entry counts before the operator has assessed the assessment as it is now
    /// (`status.observedGeneration`). The rest is decided here, as with the key.
    AsRecorded,
}

/// Who may approve, and how many must.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalPolicy {
    /// The groups whose members may approve; a stamp's groups must include one of them. Empty
    /// means any user may, except the submitter and editors.
    pub approver_groups: BTreeSet<String>,
    /// How many distinct approvers are needed. 0 counts as 1: nothing is approved by nobody.
    pub min_approvals: u8,
}

impl Default for ApprovalPolicy {
    /// No group restriction, one approval.
    fn default() -> Self {
        Self {
            approver_groups: BTreeSet::new(),
            min_approvals: 1,
        }
    }
}

impl ApprovalPolicy {
    /// How many distinct approvers are needed: `min_approvals`, at least 1.
    pub fn required(&self) -> usize {
        usize::from(self.min_approvals.max(1))
    }

    /// Whether a user with these groups may approve: always when no approver groups are set,
    /// otherwise when one of `groups` is an approver group.
    pub fn admits(&self, groups: &[String]) -> bool {
        self.approver_groups.is_empty() || groups.iter().any(|g| self.approver_groups.contains(g))
    }
}

/// Whether `user` submitted the assessment or edited its content, and so may not decide on it.
pub fn is_self_approver(spec: &RiskAssessmentSpec, user: &str) -> bool {
    spec.submitted_by.as_deref() == Some(user) || spec.edited_by.iter().any(|e| e == user)
}

/// What an assessment lacks before it can be approved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Incomplete {
    /// `spec.risks` is empty.
    NoRisks,
    /// `spec.scope.artifacts` is empty.
    NoArtifacts,
    /// `spec.impactAssessment` is missing.
    NoImpactAssessment,
    /// `spec.impactAssessment.completedOn` is not set.
    ImpactAssessmentNotCompleted,
}

impl fmt::Display for Incomplete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoRisks => "no risks are identified (spec.risks)",
            Self::NoArtifacts => "no model artifacts are in scope (spec.scope.artifacts)",
            Self::NoImpactAssessment => "there is no impact assessment (spec.impactAssessment)",
            Self::ImpactAssessmentNotCompleted => {
                "the impact assessment is not completed (spec.impactAssessment.completedOn)"
            }
        })
    }
}

/// What the assessment lacks before it can be approved; empty when it is complete. An
/// assessment that lacks anything is a `Draft`.
pub fn incomplete(spec: &RiskAssessmentSpec) -> Vec<Incomplete> {
    let mut missing = Vec::new();
    if spec.risks.is_empty() {
        missing.push(Incomplete::NoRisks);
    }
    if spec.scope.artifacts.is_empty() {
        missing.push(Incomplete::NoArtifacts);
    }
    match &spec.impact_assessment {
        None => missing.push(Incomplete::NoImpactAssessment),
        Some(impact) if impact.completed_on.is_none() => {
            missing.push(Incomplete::ImpactAssessmentNotCompleted);
        }
        Some(_) => {}
    }
    missing
}
