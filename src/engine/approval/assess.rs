//! Where an assessment stands: [`assess`] counts the entries that verify and says why the others
//! are discounted.

use std::{collections::BTreeMap, fmt};

use jiff::Timestamp;
use serde::Serialize;

use crate::api::{
    Approval, ApprovalStamp, AssessmentState, Decision, RiskAssessment, RiskAssessmentSpec,
};
use crate::engine::risk::{self, RiskSummary};

use super::*;

/// Why an approval entry does not count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DiscountReason {
    /// It has no operator stamp: it was written while the admission webhook was not running.
    Unstamped,
    /// Its signature does not verify: the stamp was written or changed by someone other than the
    /// operator, or moved from another entry or assessment.
    BadSignature,
    /// It was made by the submitter or an editor of the assessment.
    SelfApproval,
    /// Its user was in none of the approver groups.
    NotAnApprover,
    /// It was made on earlier content.
    StaleContent,
    /// Its user had already approved this content.
    DuplicateApprover,
    /// The record of who submitted and edited the assessment does not verify
    /// ([`RecordProblem`]), so nobody can tell whether its user is one of them.
    UnverifiedRecord,
    /// The operator has not assessed the assessment as it is now, so its signatures are unchecked
    /// (a live report reads the operator's word, [`Trust::AsRecorded`]).
    NotVerified,
}

impl DiscountReason {
    /// A stable name for the reason, as `status.discounted[].reason` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unstamped => "Unstamped",
            Self::BadSignature => "BadSignature",
            Self::SelfApproval => "SelfApproval",
            Self::NotAnApprover => "NotAnApprover",
            Self::StaleContent => "StaleContent",
            Self::DuplicateApprover => "DuplicateApprover",
            Self::UnverifiedRecord => "UnverifiedRecord",
            Self::NotVerified => "NotVerified",
        }
    }

    /// The reasons only the operator's key decides, by their name in `status.discounted`.
    fn only_the_key_decides(name: &str) -> Option<Self> {
        [Self::BadSignature, Self::UnverifiedRecord]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

impl fmt::Display for DiscountReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unstamped => {
                "it has no operator stamp (written while the webhook was not running)"
            }
            Self::BadSignature => {
                "its stamp's signature does not verify (changed, copied from another entry or \
                 assessment, made on a dry run, or signed before stamps bound the assessment's \
                 uid and submitter); a new approval is needed"
            }
            Self::SelfApproval => "its user submitted or edited the assessment",
            Self::NotAnApprover => "its user is in none of the approver groups",
            Self::StaleContent => "it was made on earlier content",
            Self::DuplicateApprover => "its user already approved this content",
            Self::UnverifiedRecord => {
                "the record of who submitted and edited the assessment does not verify"
            }
            Self::NotVerified => {
                "the operator has not yet checked the assessment as it is now (its status is older)"
            }
        })
    }
}

/// An approval entry that does not count, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Discounted {
    /// The entry's index in `spec.approvals`.
    pub index: usize,
    /// The user the stamp names, if it has one (for a bad signature, unverified).
    pub user: Option<String>,
    /// Why it does not count.
    pub reason: DiscountReason,
}

/// Where an assessment stands, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AssessmentVerdict {
    /// The state.
    pub state: AssessmentState,
    /// The content hash as it is now.
    pub content_hash: String,
    /// The distinct users whose approval of the current content counts, in entry order (empty
    /// for a `Draft`).
    pub approvers: Vec<String>,
    /// When the approval that reached `min_approvals` was given (`Approved` and `Expired` only).
    pub approved_at: Option<Timestamp>,
    /// When the approval expires: `approved_at` plus `validFor` (`Approved` and `Expired` only).
    pub expires_at: Option<Timestamp>,
    /// Who rejected the current content (`Rejected` only; the first such entry).
    pub rejected_by: Option<String>,
    /// Every entry that does not count, and why.
    pub discounted: Vec<Discounted>,
    /// Why the record of who submitted and edited the assessment is not trusted, if it is not
    /// (with [`Trust::Verify`] only). While it is not, no entry counts.
    pub record: Option<RecordProblem>,
    /// The risk picture; `None` without risks.
    pub risk: Option<RiskSummary>,
}

impl AssessmentVerdict {
    /// The next time the verdict changes on its own, with no change to the assessment: the expiry
    /// of an approval that has not yet expired.
    pub fn next_change(&self) -> Option<Timestamp> {
        match self.state {
            AssessmentState::Approved => self.expires_at,
            _ => None,
        }
    }
}

/// Checks the rules of one entry except the content hash: stamped, signed, not a self-approval,
/// by an approver. Returns the stamp when all hold.
pub(super) fn check_entry<'a>(
    spec: &RiskAssessmentSpec,
    policy: &ApprovalPolicy,
    trust: Trust<'_>,
    subject: Subject<'_>,
    index: usize,
    approval: &'a Approval,
) -> Result<&'a ApprovalStamp, DiscountReason> {
    let Some(stamp) = &approval.stamp else {
        return Err(DiscountReason::Unstamped);
    };
    if let Trust::Verify(key) = trust
        && !verify_entry(key, subject, index, approval)
    {
        return Err(DiscountReason::BadSignature);
    }
    if is_self_approver(spec, &stamp.user) {
        return Err(DiscountReason::SelfApproval);
    }
    if !policy.admits(&stamp.groups) {
        return Err(DiscountReason::NotAnApprover);
    }
    Ok(stamp)
}

/// Decides where an assessment stands at `now`.
///
/// * `Draft` when it is [`incomplete`].
/// * With [`Trust::Verify`], when the record of who submitted and edited it does not verify
///   ([`check_record`]), no entry counts: each is discounted as
///   [`DiscountReason::UnverifiedRecord`] and the verdict names the [`RecordProblem`].
/// * Otherwise only entries that count are considered: stamped, signature verified (unless
///   [`Trust::AsWritten`]; the signature binds the uid, namespace, name, system, submitter and
///   editors), not by the submitter or an editor, by a member of an approver group
///   (if any are set; membership is read from the signed stamp), and made on the current content
///   hash. A user's second approval of the same content does not count again.
/// * `Rejected` when a counting entry rejects. A rejection stands until the content changes.
/// * `Approved` when `min_approvals` distinct users approve, or `Expired` once `now` reaches
///   `validFor` after the approval that reached the minimum.
/// * `Stale` when, on some earlier content hash, enough distinct users approved (by all the rules
///   but the hash) and nobody rejected it: it was approved, then changed.
/// * `PendingApproval` otherwise.
///
/// The uid, namespace and name that signatures bind come from `ra.metadata`.
pub fn assess(
    ra: &RiskAssessment,
    policy: &ApprovalPolicy,
    trust: Trust<'_>,
    now: Timestamp,
) -> AssessmentVerdict {
    let spec = &ra.spec;
    let subject = Subject::of(ra);
    let record = match trust {
        Trust::Verify(key) => check_record(key, ra).err(),
        Trust::AsWritten | Trust::AsRecorded => None,
    };
    // With the operator's word: what its key found bad, by entry, once it has assessed this
    // generation; `None` before.
    let recorded: Option<Option<BTreeMap<usize, DiscountReason>>> =
        matches!(trust, Trust::AsRecorded).then(|| {
            let status = ra.status.as_ref()?;
            (status.observed_generation.is_some()
                && status.observed_generation == ra.metadata.generation)
                .then(|| {
                    status
                        .discounted
                        .iter()
                        .filter_map(|d| {
                            Some((
                                usize::try_from(d.index).ok()?,
                                DiscountReason::only_the_key_decides(&d.reason)?,
                            ))
                        })
                        .collect()
                })
        });
    let hash = content_hash(spec);
    let required = policy.required();

    let mut discounted = Vec::new();
    let mut approvers: Vec<String> = Vec::new();
    let mut reached_at = None;
    let mut rejected_by = None;
    // Earlier content hashes: who approved each, and whether anyone rejected it.
    let mut earlier: BTreeMap<&str, (Vec<&str>, bool)> = BTreeMap::new();

    for (index, approval) in spec.approvals.iter().enumerate() {
        let mut discount = |reason| {
            discounted.push(Discounted {
                index,
                user: approval.stamp.as_ref().map(|s| s.user.clone()),
                reason,
            });
        };
        if record.is_some() {
            discount(DiscountReason::UnverifiedRecord);
            continue;
        }
        match &recorded {
            Some(None) => {
                discount(DiscountReason::NotVerified);
                continue;
            }
            Some(Some(found_bad)) if found_bad.contains_key(&index) => {
                discount(found_bad[&index]);
                continue;
            }
            _ => {}
        }
        let stamp = match check_entry(spec, policy, trust, subject, index, approval) {
            Ok(stamp) => stamp,
            Err(reason) => {
                discount(reason);
                continue;
            }
        };
        if stamp.content_hash != hash {
            discount(DiscountReason::StaleContent);
            let (users, rejected) = earlier.entry(stamp.content_hash.as_str()).or_default();
            match approval.decision {
                Decision::Approve if !users.contains(&stamp.user.as_str()) => {
                    users.push(&stamp.user);
                }
                Decision::Approve => {}
                Decision::Reject => *rejected = true,
            }
            continue;
        }
        match approval.decision {
            Decision::Reject => {
                rejected_by.get_or_insert_with(|| stamp.user.clone());
            }
            Decision::Approve if approvers.contains(&stamp.user) => {
                discount(DiscountReason::DuplicateApprover);
            }
            Decision::Approve => {
                approvers.push(stamp.user.clone());
                if approvers.len() == required {
                    reached_at = Some(stamp.at.0);
                }
            }
        }
    }

    let mut verdict = AssessmentVerdict {
        state: AssessmentState::PendingApproval,
        content_hash: hash,
        approvers,
        approved_at: None,
        expires_at: None,
        rejected_by: None,
        discounted,
        record,
        risk: risk::summarize(spec),
    };
    if !incomplete(spec).is_empty() {
        verdict.state = AssessmentState::Draft;
        verdict.approvers.clear();
    } else if rejected_by.is_some() {
        verdict.state = AssessmentState::Rejected;
        verdict.rejected_by = rejected_by;
    } else if let Some(approved_at) = reached_at {
        let expires_at = expiry(approved_at, &spec.valid_for);
        verdict.state = if now >= expires_at {
            AssessmentState::Expired
        } else {
            AssessmentState::Approved
        };
        verdict.approved_at = Some(approved_at);
        verdict.expires_at = Some(expires_at);
    } else if earlier
        .values()
        .any(|(users, rejected)| users.len() >= required && !rejected)
    {
        verdict.state = AssessmentState::Stale;
    }
    verdict
}

/// Most discounted entries a summary names one by one.
const MAX_DISCOUNTED_NAMED: usize = 5;

/// The approval entries that do not count, as one sentence: `2 entries discounted:
/// spec.approvals[0] by bob: <why>; spec.approvals[1] (unstamped): <why>`. Empty when none is.
pub fn discounted_summary(discounted: &[Discounted]) -> String {
    if discounted.is_empty() {
        return String::new();
    }
    let count = discounted.len();
    let mut named: Vec<String> = discounted
        .iter()
        .take(MAX_DISCOUNTED_NAMED)
        .map(|d| {
            let who = d
                .user
                .as_deref()
                .map_or_else(|| " (unstamped)".to_owned(), |u| format!(" by {u}"));
            format!("spec.approvals[{}]{who}: {}", d.index, d.reason)
        })
        .collect();
    if count > MAX_DISCOUNTED_NAMED {
        named.push(format!("and {} more", count - MAX_DISCOUNTED_NAMED));
    }
    format!(
        "{count} {} discounted: {}",
        if count == 1 { "entry" } else { "entries" },
        named.join("; ")
    )
}
