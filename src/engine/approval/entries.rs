//! What the webhook checks of a change to the approvals: append-only, and who may add an entry.

use std::fmt;

use crate::api::{Approval, RiskAssessmentSpec};

use super::*;

/// Why the admission webhook refuses a change to `spec.approvals`. The messages are shown to the
/// person by `kubectl`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalViolation {
    /// An existing entry was changed.
    #[error(
        "approvals are append-only: entry {index} of spec.approvals was changed; send the existing \
         entries back exactly as stored (stamps included) and add your decision as a new entry at \
         the end"
    )]
    Edited {
        /// The first changed entry.
        index: usize,
    },
    /// An existing entry was removed.
    #[error(
        "approvals are append-only: entry {index} of spec.approvals was removed; send every \
         existing entry back exactly as stored (stamps included) and add your decision at the end"
    )]
    Removed {
        /// The first missing entry.
        index: usize,
    },
    /// The user submitted or edited the assessment.
    #[error(
        "{user} submitted or edited this assessment and so cannot approve or reject it; another \
         approver must decide"
    )]
    SelfApproval {
        /// The user.
        user: String,
    },
    /// The user is in none of the approver groups.
    #[error(
        "{user} is not an approver: approving needs membership of one of the groups {}; ask a \
         member to decide, or an administrator to add you",
        required.join(", ")
    )]
    NotAnApprover {
        /// The user.
        user: String,
        /// The approver groups.
        required: Vec<String>,
    },
    /// The assessment is a Draft.
    #[error(
        "this assessment is a Draft and cannot be decided on yet: {}; complete it first",
        list(missing)
    )]
    NotReady {
        /// What it lacks.
        missing: Vec<Incomplete>,
    },
}

pub(super) fn list<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks that an update only appends to `spec.approvals`: every old entry is still there, at the
/// same index, unchanged (its stamp included).
pub fn check_append_only(old: &[Approval], new: &[Approval]) -> Result<(), ApprovalViolation> {
    for (index, old_entry) in old.iter().enumerate() {
        if new.get(index) != Some(old_entry) {
            return Err(if new.len() < old.len() {
                ApprovalViolation::Removed { index }
            } else {
                ApprovalViolation::Edited { index }
            });
        }
    }
    Ok(())
}

/// Checks that `user`, with `groups` (as the API server authenticated them), may add an entry to
/// the assessment `spec`: not its submitter or an editor, a member of an approver group, and the
/// assessment complete. Pass `spec` as it will be stored, with `editedBy` already updated, so a
/// request that edits the content and approves it at once is refused as a self-approval.
pub fn check_new_entry(
    spec: &RiskAssessmentSpec,
    user: &str,
    groups: &[String],
    policy: &ApprovalPolicy,
) -> Result<(), ApprovalViolation> {
    if is_self_approver(spec, user) {
        return Err(ApprovalViolation::SelfApproval {
            user: user.to_owned(),
        });
    }
    if !policy.admits(groups) {
        return Err(ApprovalViolation::NotAnApprover {
            user: user.to_owned(),
            required: policy.approver_groups.iter().cloned().collect(),
        });
    }
    let missing = incomplete(spec);
    if !missing.is_empty() {
        return Err(ApprovalViolation::NotReady { missing });
    }
    Ok(())
}
