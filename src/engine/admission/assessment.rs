//! The RiskAssessment rules the admission webhook applies: who submitted and who edited the
//! assessment, and the approval entries, which are append-only and stamped by the operator.
//!
//! [`admit`] is the mutating webhook's decision: the spec as it must be stored (the webhook turns
//! the difference from the request into a JSON patch), or why the request is refused.
//! [`verify_stored`] is the validating webhook's: it checks that what is about to be stored is
//! exactly what [`admit`] makes of it, so nothing rewrote the operator's fields in between.
//!
//! The rules:
//!
//! * On create, `spec.submittedBy` is the requesting user and `spec.editedBy` is empty, whatever
//!   the client wrote there, and no approval entries may be present: the creator would be
//!   deciding on their own assessment. That is also what lets a stamp bind `metadata.uid`, which
//!   the API server assigns only after mutating admission of a create: no entry is ever stamped
//!   at create, and on update the uid is the stored object's.
//! * The record of who submitted and edited is signed with the content as admitted
//!   ([`approval::record_stamp`]): at create, dated now (the controller holds it to
//!   `metadata.creationTimestamp`); on update it is kept, or signed again with its date when the
//!   content changes or `editedBy` grows, but only when the stored record verifies ([`approval::check_record`]). A record that does not verify is never signed again,
//!   and no new entry is accepted on it: whoever wrote it could have rewritten the submitter.
//! * On update, `spec.submittedBy` keeps its stored value and `spec.editedBy` its stored list,
//!   plus the requesting user when the request changes the assessed content
//!   ([`content_hash`]).
//! * `spec.approvals` is append-only ([`approval::check_append_only`]), and a request adds at most
//!   one entry: one person's decision.
//! * A new entry must come from an approver who neither submitted nor edited the assessment (the
//!   request's own edit counts), on a complete assessment ([`approval::check_new_entry`]).
//! * A person decides once on each version of the content: a second approval, or any decision
//!   after their own rejection, is refused; rejecting after approving (withdrawing an approval)
//!   is allowed. Only entries whose stamp verifies are anyone's decision.
//! * The operator [`stamp`](approval::stamp)s the new entry. A stamp the client sends is refused,
//!   except the operator's own stamp of exactly this entry, user, groups and content from an
//!   earlier pass over the same request (webhook reinvocation, or the validating pass), which is
//!   kept as it is. That makes [`admit`] idempotent: given what it returned, it returns it again.
//!
//! * A dry-run request is signed under the dry-run domains ([`SigningKey::dry_run`]): what it
//!   returns never verifies when written for real.
//!
//! Pure functions: no client, no clock (`now` is passed in), and no input makes them panic.

use jiff::Timestamp;

use super::Requester;
use crate::{
    api::{Approval, Decision, RecordStamp, RiskAssessment, RiskAssessmentSpec},
    engine::approval::{
        self, ApprovalPolicy, ApprovalViolation, EntryRef, RECORD_TOLERANCE, RecordProblem,
        SigningKey, StampInput, Subject, content_hash,
    },
};

/// The most people `spec.editedBy` holds: the limit of the CRD schema.
pub const MAX_EDITORS: usize = 64;

/// Why the webhook refuses a RiskAssessment request. The message is what `kubectl` shows the
/// person: what is wrong, where (the field path), and what to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AssessmentRefusal {
    /// A create request carries approval entries.
    #[error(
        "spec.approvals must be empty when a RiskAssessment is created: {user} is creating it and \
         cannot decide on their own assessment; create it without approvals, then another \
         approver adds their decision"
    )]
    ApprovalsAtCreate {
        /// The creating user.
        user: String,
    },
    /// An existing entry was changed or removed.
    #[error(transparent)]
    AppendOnly(ApprovalViolation),
    /// The request adds more than one entry.
    #[error(
        "spec.approvals[{first}] onwards: this request adds {count} entries; each request adds one \
         decision, the requester's own, at the end of spec.approvals"
    )]
    TooManyEntries {
        /// The index of the first new entry.
        first: usize,
        /// How many entries the request adds.
        count: usize,
    },
    /// The requester may not add an entry (self-approval, not an approver, or a Draft).
    #[error("spec.approvals[{index}]: {violation}")]
    Entry {
        /// The index of the new entry.
        index: usize,
        /// Which rule the entry breaks.
        violation: ApprovalViolation,
    },
    /// The requester already approved the current content.
    #[error(
        "spec.approvals[{index}]: {user} already approved this content in \
         spec.approvals[{earlier}], and an approval counts once; another approver must add \
         theirs (to withdraw the approval, add a Reject decision instead)"
    )]
    AlreadyApproved {
        /// The index of the new entry.
        index: usize,
        /// The requesting user.
        user: String,
        /// The index of their earlier approval.
        earlier: usize,
    },
    /// The requester already rejected the current content.
    #[error(
        "spec.approvals[{index}]: {user} already rejected this content in \
         spec.approvals[{earlier}], and a rejection stands until the assessed content changes; \
         decide again once the assessment is revised"
    )]
    AlreadyRejected {
        /// The index of the new entry.
        index: usize,
        /// The requesting user.
        user: String,
        /// The index of their rejection.
        earlier: usize,
    },
    /// The request adds an entry to an assessment whose record of who submitted and edited it
    /// does not verify.
    #[error(
        "spec.approvals[{index}]: no decision can be recorded on this assessment: {problem}, so \
         nobody can tell who submitted or edited it; re-create the assessment (delete it and \
         create it again with the operator's webhook running), then approve it"
    )]
    UnverifiedRecord {
        /// The index of the new entry.
        index: usize,
        /// What is wrong with the record.
        problem: RecordProblem,
    },
    /// The new entry carries a stamp the operator did not write for it.
    #[error(
        "spec.approvals[{index}].stamp: stamps are written by the operator; leave \
         spec.approvals[{index}].stamp out and send only decision and comment"
    )]
    HandWrittenStamp {
        /// The index of the new entry.
        index: usize,
    },
    /// The request changes the content, and `spec.editedBy` cannot list one more editor.
    #[error(
        "spec.editedBy already lists {MAX_EDITORS} people, the most it can hold, so {user} cannot \
         be added as an editor; create a new RiskAssessment for the revised content"
    )]
    TooManyEditors {
        /// The requesting user.
        user: String,
    },
    /// What is about to be stored differs from what [`admit`] makes of it.
    #[error(
        "the fields the operator stamps were changed after it stamped them: {}; send the request \
         without spec.submittedBy, spec.editedBy, spec.recordStamp and approval stamps and let \
         the operator fill them in",
        fields.join(", ")
    )]
    Tampered {
        /// The changed fields, as paths such as `spec.editedBy` or `spec.approvals[2].stamp`.
        fields: Vec<String>,
    },
}

/// Decides a create (`old` is `None`) or update of a RiskAssessment by `requester`: the spec as
/// it must be stored, or why the request is refused. See the [module](self) for the rules.
///
/// `policy` is the approval policy of the binding that applies to the assessed system, `key` the
/// operator's signing key, `dry_run` whether the request is a dry run (then what is signed is
/// signed under the dry-run domains), and `now` the time stamped on a new entry or record. Stamps
/// bind the namespace and name in `new.metadata` and the uid of `old` (absent reads as empty, as
/// in [`approval::assess`]).
///
/// Idempotent: when `stored` is `new` with the returned spec, `admit(old, &stored, ..)` returns
/// `stored.spec` again, at any later `now` within [`RECORD_TOLERANCE`] of the first.
pub fn admit(
    old: Option<&RiskAssessment>,
    new: &RiskAssessment,
    requester: Requester<'_>,
    policy: &ApprovalPolicy,
    key: &SigningKey,
    dry_run: bool,
    now: Timestamp,
) -> Result<RiskAssessmentSpec, AssessmentRefusal> {
    let Requester { user, groups } = requester;
    let signer = if dry_run { key.dry_run() } else { key.clone() };
    let mut spec = new.spec.clone();
    let namespace = new.metadata.namespace.as_deref().unwrap_or_default();
    let name = new.metadata.name.as_deref().unwrap_or_default();

    let Some(old) = old else {
        if !spec.approvals.is_empty() {
            return Err(AssessmentRefusal::ApprovalsAtCreate {
                user: user.to_owned(),
            });
        }
        spec.submitted_by = Some(user.to_owned());
        spec.edited_by = Vec::new();
        let subject = subject(&spec, "", namespace, name);
        let hash = content_hash(&spec);
        let own = spec
            .record_stamp
            .as_ref()
            .filter(|r| is_own_record(&signer, &subject, &hash, r, now))
            .cloned();
        spec.record_stamp =
            Some(own.unwrap_or_else(|| approval::record_stamp(&signer, &subject, &hash, now)));
        return Ok(spec);
    };

    approval::check_append_only(&old.spec.approvals, &spec.approvals)
        .map_err(AssessmentRefusal::AppendOnly)?;
    let index = old.spec.approvals.len();
    match spec.approvals.len().saturating_sub(index) {
        0 | 1 => {}
        count => {
            return Err(AssessmentRefusal::TooManyEntries {
                first: index,
                count,
            });
        }
    }

    spec.submitted_by.clone_from(&old.spec.submitted_by);
    spec.edited_by.clone_from(&old.spec.edited_by);
    let hash = content_hash(&spec);
    if hash != content_hash(&old.spec) && !spec.edited_by.iter().any(|e| e == user) {
        if spec.edited_by.len() >= MAX_EDITORS {
            return Err(AssessmentRefusal::TooManyEditors {
                user: user.to_owned(),
            });
        }
        spec.edited_by.push(user.to_owned());
    }
    let uid = old.metadata.uid.as_deref().unwrap_or_default();
    // The stored record, checked with the operator's own key (a dry run reads what is stored as
    // a real request does).
    let record = approval::check_record(key, old);
    let unchanged = spec.edited_by == old.spec.edited_by && hash == content_hash(&old.spec);
    spec.record_stamp = match (&record, &old.spec.record_stamp) {
        (Ok(()), Some(stored)) if unchanged => Some(stored.clone()),
        (Ok(()), Some(stored)) => Some(approval::record_stamp(
            &signer,
            &subject(&spec, uid, namespace, name),
            &hash,
            stored.at.0,
        )),
        // Never signed again: it stays as stored, and counts nothing.
        _ => old.spec.record_stamp.clone(),
    };

    let Some(entry) = spec.approvals.get(index) else {
        return Ok(spec);
    };
    // First: while the record does not verify, who is a self-approver is not known.
    if let Err(problem) = record {
        return Err(AssessmentRefusal::UnverifiedRecord { index, problem });
    }
    approval::check_new_entry(&spec, user, groups, policy)
        .map_err(|violation| AssessmentRefusal::Entry { index, violation })?;

    let at = EntryRef {
        subject: subject(&spec, uid, namespace, name),
        index,
    };
    check_first_decision(&spec.approvals, at, entry.decision, requester, key, &hash)?;

    let stamp = match &entry.stamp {
        None => approval::stamp(&signer, at, entry, user, groups, now, &hash),
        Some(_) if is_own_stamp(&signer, at, entry, requester, &hash) => return Ok(spec),
        Some(_) => return Err(AssessmentRefusal::HandWrittenStamp { index }),
    };
    if let Some(entry) = spec.approvals.get_mut(index) {
        entry.stamp = Some(stamp);
    }
    Ok(spec)
}

/// The assessment `spec` as signatures bind it, with this uid, namespace and name.
fn subject<'a>(
    spec: &'a RiskAssessmentSpec,
    uid: &'a str,
    namespace: &'a str,
    name: &'a str,
) -> Subject<'a> {
    Subject {
        uid,
        namespace,
        name,
        system: &spec.system_ref.name,
        submitter: spec.submitted_by.as_deref(),
        editors: &spec.edited_by,
    }
}

/// Whether `record` is the operator's record stamp for exactly `subject` and content `hash`, made within
/// [`RECORD_TOLERANCE`] of `now`: one it wrote in an earlier pass over the same create.
fn is_own_record(
    key: &SigningKey,
    subject: &Subject<'_>,
    hash: &str,
    record: &RecordStamp,
    now: Timestamp,
) -> bool {
    let remade = approval::record_stamp(key, subject, hash, record.at.0);
    // In whole seconds, as the record's time is kept.
    let apart = now.as_second().saturating_sub(record.at.0.as_second());
    remade.signature == record.signature && apart.abs() <= RECORD_TOLERANCE.as_secs()
}

/// The validating webhook's check: refuses unless `new` is stored exactly as [`admit`] makes it,
/// so no one (another mutating webhook, or a client racing the operator) changed
/// `spec.submittedBy`, `spec.editedBy` or an approval stamp after the operator set them. Refuses
/// with [`admit`]'s own refusal when it refuses.
pub fn verify_stored(
    old: Option<&RiskAssessment>,
    new: &RiskAssessment,
    requester: Requester<'_>,
    policy: &ApprovalPolicy,
    key: &SigningKey,
    dry_run: bool,
    now: Timestamp,
) -> Result<(), AssessmentRefusal> {
    let admitted = admit(old, new, requester, policy, key, dry_run, now)?;
    if admitted == new.spec {
        return Ok(());
    }
    let stored = &new.spec;
    let mut fields = Vec::new();
    if admitted.submitted_by != stored.submitted_by {
        fields.push("spec.submittedBy".to_owned());
    }
    if admitted.edited_by != stored.edited_by {
        fields.push("spec.editedBy".to_owned());
    }
    if admitted.record_stamp != stored.record_stamp {
        fields.push("spec.recordStamp".to_owned());
    }
    for (index, (a, s)) in admitted.approvals.iter().zip(&stored.approvals).enumerate() {
        if a.stamp != s.stamp {
            fields.push(format!("spec.approvals[{index}].stamp"));
        } else if a != s {
            fields.push(format!("spec.approvals[{index}]"));
        }
    }
    if admitted.approvals.len() != stored.approvals.len() || fields.is_empty() {
        // Not something admit does; name the whole spec rather than nothing.
        fields.push("spec".to_owned());
    }
    Err(AssessmentRefusal::Tampered { fields })
}

/// Whether `entry`'s stamp is the operator's stamp for exactly this entry, this requester (user
/// and groups, in order) and this content hash: one it wrote in an earlier pass over the request.
fn is_own_stamp(
    key: &SigningKey,
    at: EntryRef<'_>,
    entry: &Approval,
    requester: Requester<'_>,
    hash: &str,
) -> bool {
    let (Some(stamp), Some(input)) = (&entry.stamp, StampInput::of(at, entry)) else {
        return false;
    };
    // Exactly this subject, with the editors as they are now: the entry is new.
    input.user == requester.user
        && input.groups == requester.groups
        && input.content_hash == hash
        && approval::verify(key, &input, &stamp.signature)
}

/// Refuses a second decision by the requester on the content with hash `hash`: another approval
/// after their approval, or any decision after their rejection. `at` is the new entry; only
/// entries before it whose stamp names the requester, carries `hash` and verifies under `key` are
/// the requester's decisions, so an entry anyone could have written blocks nobody.
fn check_first_decision(
    approvals: &[Approval],
    at: EntryRef<'_>,
    decision: Decision,
    requester: Requester<'_>,
    key: &SigningKey,
    hash: &str,
) -> Result<(), AssessmentRefusal> {
    let EntryRef { index, .. } = at;
    let user = requester.user;
    let earlier = approvals.iter().take(index).enumerate().filter(|&(i, a)| {
        a.stamp
            .as_ref()
            .is_some_and(|stamp| stamp.user == user && stamp.content_hash == hash)
            && approval::verify_entry(key, at.subject, i, a)
    });
    let mut approved = None;
    for (i, a) in earlier {
        match a.decision {
            Decision::Reject => {
                return Err(AssessmentRefusal::AlreadyRejected {
                    index,
                    user: user.to_owned(),
                    earlier: i,
                });
            }
            Decision::Approve => {
                approved.get_or_insert(i);
            }
        }
    }
    match (approved, decision) {
        (Some(earlier), Decision::Approve) => Err(AssessmentRefusal::AlreadyApproved {
            index,
            user: user.to_owned(),
            earlier,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use proptest::prelude::*;

    use super::*;
    use crate::testing;
    use crate::{
        api::{ApprovalStamp, AssessmentState},
        engine::approval::{Incomplete, Trust},
    };

    const APPROVERS: &str = "risk-approvers";
    const DEVELOPERS: &str = "developers";
    /// When earlier entries were stamped.
    const T0: &str = "2025-11-01T09:00:00Z";
    /// When requests are admitted.
    const NOW: &str = "2025-11-02T10:30:00Z";

    /// A change to a fixture.
    type Change = fn(&mut RiskAssessment);

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn key() -> SigningKey {
        testing::signing_key()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Signs `ra`'s record of who submitted and edited it, as the webhook does, dated its
    /// creation.
    fn seal(ra: &mut RiskAssessment) {
        testing::seal_at_creation(&key(), ra);
    }

    /// The shared complete assessment as stored (`testing::scoring_assessment`): submitted by
    /// `sam`, edited by `eve`, no decisions yet. `sam` and `eve` are approvers too, so only the
    /// self-approval rule stops them.
    fn stored() -> RiskAssessment {
        testing::scoring_assessment()
    }

    /// A decision without a stamp, as a client sends it.
    fn decision(decision: Decision, comment: &str) -> Approval {
        Approval {
            decision,
            comment: Some(comment.to_owned()),
            stamp: None,
        }
    }

    /// Appends `user`'s decision, stamped by the operator at `at` on the current content.
    fn decided(ra: &mut RiskAssessment, d: Decision, user: &str, groups: &[&str], at: &str) {
        let comment = Some(format!("{user} decided"));
        testing::decide(&key(), ra, d, comment, (user, groups), t(at));
    }

    /// The stored assessment with `alice`'s approval and `bob`'s rejection.
    fn decided_on() -> RiskAssessment {
        let mut ra = stored();
        decided(&mut ra, Decision::Approve, "alice", &[APPROVERS], T0);
        decided(&mut ra, Decision::Reject, "bob", &[APPROVERS], T0);
        ra
    }

    /// Changes the assessed content.
    fn edit(ra: &mut RiskAssessment) {
        ra.spec.risks[1].likelihood = 2;
    }

    fn approve(ra: &mut RiskAssessment) {
        ra.spec
            .approvals
            .push(decision(Decision::Approve, "looks right"));
    }

    fn reject(ra: &mut RiskAssessment) {
        ra.spec
            .approvals
            .push(decision(Decision::Reject, "needs work"));
    }

    fn policy() -> ApprovalPolicy {
        ApprovalPolicy {
            approver_groups: [APPROVERS.to_owned()].into(),
            min_approvals: 1,
        }
    }

    fn a_stamp(user: &str) -> ApprovalStamp {
        ApprovalStamp {
            user: user.to_owned(),
            groups: strings(&[APPROVERS]),
            at: Time(t(T0)),
            content_hash: content_hash(&stored().spec),
            signature: "0".repeat(64),
        }
    }

    /// Sets the last entry's stamp to the operator's stamp for `user` (as an approver) at `index`,
    /// signed under `key` at `at` on the content with hash `hash`.
    fn sign_last(ra: &mut RiskAssessment, key: &SigningKey, user: &str, index: usize, at: &str) {
        let hash = content_hash(&ra.spec);
        sign_last_on(ra, key, user, index, at, &hash);
    }

    fn sign_last_on(
        ra: &mut RiskAssessment,
        key: &SigningKey,
        user: &str,
        index: usize,
        at: &str,
        hash: &str,
    ) {
        let as_is = ra.clone();
        let last = ra.spec.approvals.last_mut().unwrap();
        last.stamp = None;
        let stamp = approval::stamp(
            key,
            EntryRef::of(&as_is, index),
            last,
            user,
            &strings(&[APPROVERS]),
            t(at),
            hash,
        );
        last.stamp = Some(stamp);
    }

    /// What a case expects.
    enum Want {
        /// Admitted: the request's spec with these stamped fields, and a new stamp (made by the
        /// operator at `NOW` for the requester) on the entry at this index.
        Stored {
            submitted_by: Option<&'static str>,
            edited_by: &'static [&'static str],
            stamped: Option<usize>,
        },
        /// Refused.
        Refused(AssessmentRefusal),
    }

    struct Case {
        name: &'static str,
        /// The stored object; `None` for a create.
        old: Option<RiskAssessment>,
        /// The request: the stored object (or [`stored`] for a create) with this change.
        change: Change,
        user: &'static str,
        groups: &'static [&'static str],
    }

    fn stored_as(
        submitted_by: Option<&'static str>,
        edited_by: &'static [&'static str],
        stamped: Option<usize>,
    ) -> Want {
        Want::Stored {
            submitted_by,
            edited_by,
            stamped,
        }
    }

    fn self_approval(index: usize, user: &str) -> Want {
        Want::Refused(AssessmentRefusal::Entry {
            index,
            violation: ApprovalViolation::SelfApproval {
                user: user.to_owned(),
            },
        })
    }

    fn cases() -> Vec<(Case, Want)> {
        let case = |name, old: Option<RiskAssessment>, change, user, groups| Case {
            name,
            old,
            change,
            user,
            groups,
        };
        let approvers: &'static [&'static str] = &[APPROVERS];
        let stale = {
            // alice approved, then dan revised the content.
            let mut ra = stored();
            decided(&mut ra, Decision::Approve, "alice", approvers, T0);
            edit(&mut ra);
            ra.spec.edited_by.push("dan".into());
            seal(&mut ra);
            ra
        };
        let forged_bob = {
            // An entry claiming to be bob's rejection, written while the webhook was off.
            let mut ra = stored();
            reject(&mut ra);
            ra.spec.approvals[0].stamp = Some(a_stamp("bob"));
            ra
        };
        let full = {
            let mut ra = stored();
            ra.spec.edited_by = (0..MAX_EDITORS).map(|i| format!("editor-{i}")).collect();
            seal(&mut ra);
            ra
        };
        let unsubmitted = {
            let mut ra = stored();
            ra.spec.submitted_by = None;
            ra.spec.edited_by.clear();
            seal(&mut ra);
            ra
        };
        let rewritten = {
            // The submitter rewritten while the webhook was not running: the record no longer
            // verifies.
            let mut ra = stored();
            ra.spec.submitted_by = Some("mallory".into());
            ra
        };
        let unsigned = {
            // Created while the webhook was not running.
            let mut ra = stored();
            ra.spec.record_stamp = None;
            ra
        };
        let copied = {
            // Re-created under the same name, with the record of the earlier assessment.
            let mut ra = stored();
            ra.metadata.creation_timestamp = Some(Time(t(NOW)));
            ra
        };
        vec![
            // --- who submitted and who edited -------------------------------------------------
            (
                case(
                    "create: submittedBy and editedBy are the operator's",
                    None,
                    |ra| {
                        ra.spec.submitted_by = Some("mallory".into());
                        ra.spec.edited_by = strings(&["x"]);
                    },
                    "sam",
                    &[DEVELOPERS],
                ),
                stored_as(Some("sam"), &[], None),
            ),
            (
                case("create with an approval", None, approve, "sam", approvers),
                Want::Refused(AssessmentRefusal::ApprovalsAtCreate { user: "sam".into() }),
            ),
            (
                case(
                    "create with a stamped approval",
                    None,
                    |ra| decided(ra, Decision::Approve, "alice", &[APPROVERS], T0),
                    "alice",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::ApprovalsAtCreate {
                    user: "alice".into(),
                }),
            ),
            (
                case(
                    "update: client changes to submittedBy and editedBy are overwritten",
                    Some(stored()),
                    |ra| {
                        ra.spec.submitted_by = Some("dan".into());
                        ra.spec.edited_by.clear();
                    },
                    "dan",
                    &[DEVELOPERS],
                ),
                stored_as(Some("sam"), &["eve"], None),
            ),
            (
                case(
                    "update: an edit of the content lists the editor",
                    Some(stored()),
                    edit,
                    "dan",
                    &[DEVELOPERS],
                ),
                stored_as(Some("sam"), &["eve", "dan"], None),
            ),
            (
                case(
                    "update: an editor is listed once",
                    Some(stored()),
                    edit,
                    "eve",
                    &[DEVELOPERS],
                ),
                stored_as(Some("sam"), &["eve"], None),
            ),
            (
                case(
                    "update: the submitter editing becomes an editor",
                    Some(stored()),
                    edit,
                    "sam",
                    &[DEVELOPERS],
                ),
                stored_as(Some("sam"), &["eve", "sam"], None),
            ),
            (
                case(
                    "update: no submitter stored, none written",
                    Some(unsubmitted),
                    |ra| ra.spec.submitted_by = Some("dan".into()),
                    "dan",
                    &[DEVELOPERS],
                ),
                stored_as(None, &[], None),
            ),
            (
                case(
                    "update: editedBy is full",
                    Some(full),
                    edit,
                    "dan",
                    &[DEVELOPERS],
                ),
                Want::Refused(AssessmentRefusal::TooManyEditors { user: "dan".into() }),
            ),
            // --- new entries ----------------------------------------------------------------
            (
                case(
                    "an approval is stamped",
                    Some(stored()),
                    approve,
                    "alice",
                    approvers,
                ),
                stored_as(Some("sam"), &["eve"], Some(0)),
            ),
            (
                case(
                    "a rejection is stamped too",
                    Some(decided_on()),
                    reject,
                    "carol",
                    approvers,
                ),
                stored_as(Some("sam"), &["eve"], Some(2)),
            ),
            (
                case(
                    "the submitter approving",
                    Some(stored()),
                    approve,
                    "sam",
                    approvers,
                ),
                self_approval(0, "sam"),
            ),
            (
                case(
                    "the submitter rejecting",
                    Some(stored()),
                    reject,
                    "sam",
                    approvers,
                ),
                self_approval(0, "sam"),
            ),
            (
                case(
                    "an editor approving",
                    Some(decided_on()),
                    approve,
                    "eve",
                    approvers,
                ),
                self_approval(2, "eve"),
            ),
            (
                case(
                    "editing the content and approving at once",
                    Some(stored()),
                    |ra| {
                        edit(ra);
                        approve(ra);
                    },
                    "alice",
                    approvers,
                ),
                self_approval(0, "alice"),
            ),
            (
                case(
                    "a non-approver",
                    Some(stored()),
                    approve,
                    "dan",
                    &[DEVELOPERS],
                ),
                Want::Refused(AssessmentRefusal::Entry {
                    index: 0,
                    violation: ApprovalViolation::NotAnApprover {
                        user: "dan".into(),
                        required: strings(&[APPROVERS]),
                    },
                }),
            ),
            (
                case(
                    "a Draft",
                    Some({
                        let mut ra = stored();
                        ra.spec.risks.clear();
                        seal(&mut ra);
                        ra
                    }),
                    approve,
                    "alice",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::Entry {
                    index: 0,
                    violation: ApprovalViolation::NotReady {
                        missing: vec![Incomplete::NoRisks],
                    },
                }),
            ),
            (
                case(
                    "two entries at once",
                    Some(stored()),
                    |ra| {
                        approve(ra);
                        approve(ra);
                    },
                    "alice",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::TooManyEntries { first: 0, count: 2 }),
            ),
            // --- append-only ------------------------------------------------------------------
            (
                case(
                    "editing an existing entry",
                    Some(decided_on()),
                    |ra| ra.spec.approvals[1].comment = Some("fine after all".into()),
                    "bob",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::AppendOnly(ApprovalViolation::Edited {
                    index: 1,
                })),
            ),
            (
                case(
                    "flipping an existing decision",
                    Some(decided_on()),
                    |ra| ra.spec.approvals[1].decision = Decision::Approve,
                    "bob",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::AppendOnly(ApprovalViolation::Edited {
                    index: 1,
                })),
            ),
            (
                case(
                    "removing an entry",
                    Some(decided_on()),
                    |ra| {
                        ra.spec.approvals.remove(1);
                    },
                    "bob",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::AppendOnly(ApprovalViolation::Removed {
                    index: 1,
                })),
            ),
            (
                case(
                    "dropping an existing stamp",
                    Some(decided_on()),
                    |ra| ra.spec.approvals[0].stamp = None,
                    "alice",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::AppendOnly(ApprovalViolation::Edited {
                    index: 0,
                })),
            ),
            (
                case(
                    "existing entries sent back unchanged",
                    Some(decided_on()),
                    |ra| ra.spec.scope.description = Some("v3".into()),
                    "dan",
                    &[DEVELOPERS],
                ),
                stored_as(Some("sam"), &["eve", "dan"], None),
            ),
            // --- stamps ---------------------------------------------------------------------
            (
                case(
                    "a stamp written by hand",
                    Some(stored()),
                    |ra| {
                        approve(ra);
                        ra.spec.approvals[0].stamp = Some(a_stamp("alice"));
                    },
                    "alice",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::HandWrittenStamp { index: 0 }),
            ),
            (
                case(
                    "a stamp copied from another entry",
                    Some(decided_on()),
                    |ra| {
                        let copied = ra.spec.approvals[0].clone();
                        ra.spec.approvals.push(copied);
                    },
                    "carol",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::HandWrittenStamp { index: 2 }),
            ),
            (
                case(
                    "a stamp copied from another entry, by its user",
                    Some(decided_on()),
                    |ra| {
                        let copied = ra.spec.approvals[0].clone();
                        ra.spec.approvals.push(copied);
                    },
                    "alice",
                    approvers,
                ),
                // Refused before the stamp is looked at: alice already approved.
                Want::Refused(AssessmentRefusal::AlreadyApproved {
                    index: 2,
                    user: "alice".into(),
                    earlier: 0,
                }),
            ),
            (
                case(
                    "the operator's stamp for another index",
                    Some(decided_on()),
                    |ra| {
                        approve(ra);
                        sign_last(ra, &key(), "carol", 0, NOW);
                    },
                    "carol",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::HandWrittenStamp { index: 2 }),
            ),
            (
                case(
                    "the operator's stamp for another user",
                    Some(decided_on()),
                    |ra| {
                        approve(ra);
                        sign_last(ra, &key(), "alice", 2, NOW);
                    },
                    "carol",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::HandWrittenStamp { index: 2 }),
            ),
            (
                case(
                    "the operator's stamp on other content",
                    Some(stored()),
                    |ra| {
                        approve(ra);
                        sign_last_on(ra, &key(), "carol", 0, NOW, "sha256:0");
                    },
                    "carol",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::HandWrittenStamp { index: 0 }),
            ),
            (
                case(
                    "a stamp signed with another key",
                    Some(stored()),
                    |ra| {
                        approve(ra);
                        sign_last(ra, &SigningKey::new([8u8; 32]).unwrap(), "carol", 0, NOW);
                    },
                    "carol",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::HandWrittenStamp { index: 0 }),
            ),
            (
                case(
                    "the operator's stamp for other groups",
                    Some(stored()),
                    |ra| {
                        approve(ra);
                        sign_last(ra, &key(), "carol", 0, NOW);
                    },
                    "carol",
                    &[APPROVERS, DEVELOPERS],
                ),
                Want::Refused(AssessmentRefusal::HandWrittenStamp { index: 0 }),
            ),
            (
                case(
                    "the operator's own stamp from an earlier pass is kept",
                    Some(stored()),
                    |ra| {
                        approve(ra);
                        sign_last(ra, &key(), "carol", 0, "2025-11-02T10:29:59Z");
                    },
                    "carol",
                    approvers,
                ),
                stored_as(Some("sam"), &["eve"], None),
            ),
            // --- one decision per person and content ------------------------------------------
            (
                case(
                    "approving twice",
                    Some(decided_on()),
                    approve,
                    "alice",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::AlreadyApproved {
                    index: 2,
                    user: "alice".into(),
                    earlier: 0,
                }),
            ),
            (
                case(
                    "rejecting after approving withdraws the approval",
                    Some(decided_on()),
                    reject,
                    "alice",
                    approvers,
                ),
                stored_as(Some("sam"), &["eve"], Some(2)),
            ),
            (
                case(
                    "approving after rejecting",
                    Some(decided_on()),
                    approve,
                    "bob",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::AlreadyRejected {
                    index: 2,
                    user: "bob".into(),
                    earlier: 1,
                }),
            ),
            (
                case(
                    "rejecting twice",
                    Some(decided_on()),
                    reject,
                    "bob",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::AlreadyRejected {
                    index: 2,
                    user: "bob".into(),
                    earlier: 1,
                }),
            ),
            (
                case(
                    "approving revised content again",
                    Some(stale),
                    approve,
                    "alice",
                    approvers,
                ),
                stored_as(Some("sam"), &["eve", "dan"], Some(1)),
            ),
            // --- the record of who submitted and edited ---------------------------------------
            (
                case(
                    "no decision on a rewritten record",
                    Some(rewritten.clone()),
                    approve,
                    "sam",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::UnverifiedRecord {
                    index: 0,
                    problem: RecordProblem::BadSignature,
                }),
            ),
            (
                case(
                    "a rewritten record is never signed again",
                    Some(rewritten),
                    edit,
                    "dan",
                    &[DEVELOPERS],
                ),
                stored_as(Some("mallory"), &["eve", "dan"], None),
            ),
            (
                case(
                    "no decision on an unsigned record",
                    Some(unsigned),
                    approve,
                    "alice",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::UnverifiedRecord {
                    index: 0,
                    problem: RecordProblem::Unsigned,
                }),
            ),
            (
                case(
                    "no decision on a record copied from an earlier assessment",
                    Some(copied),
                    approve,
                    "alice",
                    approvers,
                ),
                Want::Refused(AssessmentRefusal::UnverifiedRecord {
                    index: 0,
                    problem: RecordProblem::NotAtCreation,
                }),
            ),
            (
                case(
                    "an unsigned entry in someone's name blocks nobody",
                    Some(forged_bob),
                    approve,
                    "bob",
                    approvers,
                ),
                stored_as(Some("sam"), &["eve"], Some(1)),
            ),
        ]
    }

    /// The record stamp `admit` stores: at create, a new one dated `NOW`; on update, the stored
    /// one, signed again (with its date) when the editors changed and it verified.
    fn expected_record(
        old: Option<&RiskAssessment>,
        new: &RiskAssessment,
        spec: &RiskAssessmentSpec,
    ) -> Option<RecordStamp> {
        let as_stored = RiskAssessment {
            spec: spec.clone(),
            ..new.clone()
        };
        match old {
            None => Some(approval::record_stamp_of(&key(), &as_stored, t(NOW))),
            Some(old) => match (&old.spec.record_stamp, approval::check_record(&key(), old)) {
                (Some(r), Ok(()))
                    if old.spec.edited_by != spec.edited_by
                        || content_hash(&old.spec) != content_hash(spec) =>
                {
                    Some(approval::record_stamp_of(&key(), &as_stored, r.at.0))
                }
                _ => old.spec.record_stamp.clone(),
            },
        }
    }

    #[test]
    fn admit_applies_every_rule() {
        let key = key();
        for (case, want) in cases() {
            let Case {
                name,
                old,
                change,
                user,
                groups,
            } = case;
            let groups = strings(groups);
            let requester = Requester {
                user,
                groups: &groups,
            };
            let mut new = old.clone().unwrap_or_else(stored);
            change(&mut new);
            let got = admit(
                old.as_ref(),
                &new,
                requester,
                &policy(),
                &key,
                false,
                t(NOW),
            );
            let expected = match want {
                Want::Refused(refusal) => {
                    assert_eq!(got, Err(refusal), "{name}");
                    continue;
                }
                Want::Stored {
                    submitted_by,
                    edited_by,
                    stamped,
                } => {
                    let mut spec = new.spec.clone();
                    spec.submitted_by = submitted_by.map(str::to_owned);
                    spec.edited_by = strings(edited_by);
                    spec.record_stamp = expected_record(old.as_ref(), &new, &spec);
                    let as_stored = RiskAssessment {
                        spec: spec.clone(),
                        ..new.clone()
                    };
                    if let Some(i) = stamped {
                        let stamp = approval::stamp(
                            &key,
                            EntryRef::of(&as_stored, i),
                            &spec.approvals[i],
                            user,
                            &groups,
                            t(NOW),
                            &content_hash(&spec),
                        );
                        spec.approvals[i].stamp = Some(stamp);
                    }
                    spec
                }
            };
            assert_eq!(got.as_ref(), Ok(&expected), "{name}");

            // What was admitted is a fixed point, also at the validating pass a moment later.
            let stored = RiskAssessment {
                spec: expected.clone(),
                ..new.clone()
            };
            let later = t(NOW) + jiff::SignedDuration::from_secs(2);
            assert_eq!(
                admit(
                    old.as_ref(),
                    &stored,
                    requester,
                    &policy(),
                    &key,
                    false,
                    later
                ),
                Ok(expected.clone()),
                "{name}: fixed point"
            );
            assert_eq!(
                verify_stored(
                    old.as_ref(),
                    &stored,
                    requester,
                    &policy(),
                    &key,
                    false,
                    later
                ),
                Ok(()),
                "{name}: verify_stored"
            );
        }
    }

    #[test]
    fn a_stamped_approval_verifies_and_counts() {
        let key = key();
        let groups = strings(&[APPROVERS]);
        let alice = Requester {
            user: "alice",
            groups: &groups,
        };
        let old = stored();
        let mut new = old.clone();
        approve(&mut new);
        new.spec.approvals[0].stamp = None;
        let spec = admit(Some(&old), &new, alice, &policy(), &key, false, t(NOW)).unwrap();
        let entry = &spec.approvals[0];
        let stamp = entry.stamp.as_ref().unwrap();
        assert_eq!(stamp.user, "alice");
        assert_eq!(stamp.groups, groups);
        assert_eq!(stamp.at, Time(t(NOW)));
        assert_eq!(stamp.content_hash, content_hash(&spec));
        let as_stored = RiskAssessment {
            spec: spec.clone(),
            ..new.clone()
        };
        assert!(approval::verify_entry(
            &key,
            Subject::of(&as_stored),
            0,
            entry
        ));
        // The same stamp answered on a dry run does not verify.
        let dry = admit(Some(&old), &new, alice, &policy(), &key, true, t(NOW)).unwrap();
        assert!(!approval::verify_entry(
            &key,
            Subject::of(&as_stored),
            0,
            &dry.approvals[0]
        ));

        // As the API server stores it: through JSON.
        let json = serde_json::to_value(RiskAssessment {
            spec,
            ..new.clone()
        })
        .unwrap();
        let ra: RiskAssessment = serde_json::from_value(json).unwrap();
        let verdict = approval::assess(&ra, &policy(), Trust::Verify(&key), t(NOW));
        assert_eq!(verdict.state, AssessmentState::Approved);
        assert_eq!(verdict.approvers, ["alice"]);
        assert_eq!(
            admit(Some(&old), &ra, alice, &policy(), &key, false, t(NOW)),
            Ok(ra.spec.clone()),
            "fixed point after a JSON round trip"
        );
    }

    #[test]
    fn verify_stored_refuses_what_changed_after_stamping() {
        let key = key();
        let groups = strings(&[APPROVERS]);
        let alice = Requester {
            user: "alice",
            groups: &groups,
        };
        let old = stored();
        let mut request = old.clone();
        approve(&mut request);
        let admitted = RiskAssessment {
            spec: admit(Some(&old), &request, alice, &policy(), &key, false, t(NOW)).unwrap(),
            ..request.clone()
        };
        let cases: [(&str, Change, Result<(), AssessmentRefusal>); 6] = [
            ("as admitted", |_| {}, Ok(())),
            (
                "submittedBy changed",
                |ra| ra.spec.submitted_by = Some("mallory".into()),
                Err(AssessmentRefusal::Tampered {
                    fields: strings(&["spec.submittedBy"]),
                }),
            ),
            (
                "editedBy emptied, submittedBy dropped",
                |ra| {
                    ra.spec.edited_by.clear();
                    ra.spec.submitted_by = None;
                },
                Err(AssessmentRefusal::Tampered {
                    fields: strings(&["spec.submittedBy", "spec.editedBy"]),
                }),
            ),
            (
                "the stamp removed",
                |ra| ra.spec.approvals[0].stamp = None,
                Err(AssessmentRefusal::Tampered {
                    fields: strings(&["spec.approvals[0].stamp"]),
                }),
            ),
            (
                "the stamp changed",
                |ra| {
                    if let Some(s) = ra.spec.approvals[0].stamp.as_mut() {
                        s.user = "carol".into();
                    }
                },
                Err(AssessmentRefusal::HandWrittenStamp { index: 0 }),
            ),
            (
                "the comment changed under the stamp",
                |ra| ra.spec.approvals[0].comment = None,
                Err(AssessmentRefusal::HandWrittenStamp { index: 0 }),
            ),
        ];
        for (name, change, want) in cases {
            let mut ra = admitted.clone();
            change(&mut ra);
            assert_eq!(
                verify_stored(Some(&old), &ra, alice, &policy(), &key, false, t(NOW)),
                want,
                "{name}"
            );
        }
        // At create, the request as sent is not what is stored.
        let sam = Requester {
            user: "sam",
            groups: &[],
        };
        let mut created = stored();
        created.spec.submitted_by = None;
        assert_eq!(
            verify_stored(None, &created, sam, &policy(), &key, false, t(NOW)),
            Err(AssessmentRefusal::Tampered {
                fields: strings(&["spec.submittedBy", "spec.editedBy", "spec.recordStamp"]),
            })
        );
    }

    #[test]
    fn refusals_name_the_field_and_say_what_to_do() {
        let cases: [(AssessmentRefusal, &[&str]); 10] = [
            (
                AssessmentRefusal::ApprovalsAtCreate { user: "sam".into() },
                &[
                    "spec.approvals",
                    "sam",
                    "create it without approvals",
                    "another approver",
                ],
            ),
            (
                AssessmentRefusal::AppendOnly(ApprovalViolation::Edited { index: 1 }),
                &[
                    "append-only",
                    "entry 1 of spec.approvals",
                    "add your decision",
                ],
            ),
            (
                AssessmentRefusal::TooManyEntries { first: 2, count: 3 },
                &["spec.approvals[2]", "3 entries", "one decision"],
            ),
            (
                AssessmentRefusal::Entry {
                    index: 4,
                    violation: ApprovalViolation::SelfApproval { user: "eve".into() },
                },
                &["spec.approvals[4]: ", "eve", "another approver must decide"],
            ),
            (
                AssessmentRefusal::AlreadyApproved {
                    index: 3,
                    user: "alice".into(),
                    earlier: 1,
                },
                &["spec.approvals[3]", "alice", "spec.approvals[1]", "Reject"],
            ),
            (
                AssessmentRefusal::AlreadyRejected {
                    index: 3,
                    user: "bob".into(),
                    earlier: 0,
                },
                &[
                    "spec.approvals[3]",
                    "bob",
                    "spec.approvals[0]",
                    "stands until",
                ],
            ),
            (
                AssessmentRefusal::HandWrittenStamp { index: 2 },
                &[
                    "spec.approvals[2].stamp",
                    "written by the operator",
                    "leave spec.approvals[2].stamp out",
                ],
            ),
            (
                AssessmentRefusal::TooManyEditors { user: "dan".into() },
                &["spec.editedBy", "64", "dan", "new RiskAssessment"],
            ),
            (
                AssessmentRefusal::Tampered {
                    fields: strings(&["spec.editedBy", "spec.approvals[0].stamp"]),
                },
                &[
                    "spec.editedBy, spec.approvals[0].stamp",
                    "operator fill them in",
                ],
            ),
            (
                AssessmentRefusal::Entry {
                    index: 0,
                    violation: ApprovalViolation::NotReady {
                        missing: vec![Incomplete::NoImpactAssessment],
                    },
                },
                &["spec.approvals[0]", "Draft", "spec.impactAssessment"],
            ),
        ];
        for (refusal, needles) in cases {
            let message = refusal.to_string();
            for needle in needles {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
        }
    }

    // --- idempotency and totality -------------------------------------------------------------

    const USERS: &str = "(alice|bob|carol|dan|sam|eve|.{0,3})";

    /// An entry of an old assessment: a properly stamped decision by a user, on the current or
    /// an earlier content, or a hand-made one.
    #[derive(Clone, Debug)]
    enum OldEntry {
        Stamped {
            user: String,
            approve: bool,
            current: bool,
        },
        Unstamped {
            approve: bool,
        },
        Garbage {
            user: String,
        },
    }

    fn old_entry() -> impl Strategy<Value = OldEntry> {
        prop_oneof![
            (USERS, any::<bool>(), any::<bool>()).prop_map(|(user, approve, current)| {
                OldEntry::Stamped {
                    user,
                    approve,
                    current,
                }
            }),
            any::<bool>().prop_map(|approve| OldEntry::Unstamped { approve }),
            USERS.prop_map(|user| OldEntry::Garbage { user }),
        ]
    }

    /// The stamp a new entry in the request carries.
    #[derive(Clone, Debug)]
    enum NewStamp {
        None,
        /// The operator's stamp for the requester at this entry (an earlier pass).
        Own,
        /// The operator's stamp for this user at this entry.
        OtherUser(String),
        /// Made up.
        Garbage,
    }

    fn new_stamp() -> impl Strategy<Value = NewStamp> {
        prop_oneof![
            Just(NewStamp::None),
            Just(NewStamp::Own),
            USERS.prop_map(NewStamp::OtherUser),
            Just(NewStamp::Garbage),
        ]
    }

    /// A time between 1970 and 2200, to the nanosecond.
    fn timestamp() -> impl Strategy<Value = Timestamp> {
        (0..7_258_118_400i64, 0..1_000_000_000i32)
            .prop_map(|(s, n)| Timestamp::new(s, n).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn admit_is_idempotent_and_total(
            create in proptest::bool::weighted(0.2),
            old_entries in proptest::collection::vec(old_entry(), 0..5),
            old_editors in proptest::collection::vec(USERS, 0..2),
            old_submitter in proptest::option::of(USERS),
            edit_content in proptest::bool::weighted(0.25),
            draft in proptest::bool::weighted(0.15),
            client_submitter in proptest::option::of(".{0,4}"),
            client_editors in proptest::option::of(proptest::collection::vec(".{0,4}", 0..3)),
            new_entries in proptest::collection::vec((any::<bool>(), proptest::option::of(".{0,6}"), new_stamp()), 2),
            added in prop_oneof![1 => Just(0usize), 4 => Just(1), 1 => Just(2)],
            tamper_old in proptest::option::weighted(0.15, 0usize..5),
            user in USERS,
            groups in proptest::collection::vec("(risk-approvers|developers|.{0,3})", 0..3),
            restricted in any::<bool>(),
            now in timestamp(),
            later in 0i64..30,
        ) {
            let key = key();
            let policy = ApprovalPolicy {
                approver_groups: if restricted { [APPROVERS.to_owned()].into() } else { Default::default() },
                min_approvals: 1,
            };
            let requester = Requester { user: &user, groups: &groups };

            let mut old = stored();
            old.spec.submitted_by = old_submitter;
            old.spec.edited_by = old_editors;
            seal(&mut old);
            for entry in old_entries {
                match entry {
                    OldEntry::Stamped { user, approve, current } => {
                        let d = if approve { Decision::Approve } else { Decision::Reject };
                        if !current { edit(&mut old); }
                        decided(&mut old, d, &user, &[APPROVERS], T0);
                        if !current { old.spec.risks[1].likelihood = 3; }
                    }
                    OldEntry::Unstamped { approve } => {
                        if approve { self::approve(&mut old) } else { reject(&mut old) }
                    }
                    OldEntry::Garbage { user } => {
                        reject(&mut old);
                        if let Some(last) = old.spec.approvals.last_mut() {
                            last.stamp = Some(a_stamp(&user));
                        }
                    }
                }
            }

            let mut new = old.clone();
            if create { new.spec.approvals.clear(); }
            if edit_content { edit(&mut new); }
            if draft { new.spec.impact_assessment = None; }
            if let Some(s) = client_submitter { new.spec.submitted_by = Some(s); }
            if let Some(e) = client_editors { new.spec.edited_by = e; }
            if let Some(i) = tamper_old
                && let Some(entry) = new.spec.approvals.get_mut(i) {
                entry.comment = Some("changed".into());
            }
            for (approve, comment, stamp) in new_entries.into_iter().take(added) {
                let decision = if approve { Decision::Approve } else { Decision::Reject };
                new.spec.approvals.push(Approval { decision, comment, stamp: None });
                let index = new.spec.approvals.len() - 1;
                // Signed on the content as the request leaves it.
                let hash = content_hash(&new.spec);
                let as_is = new.clone();
                let at = EntryRef::of(&as_is, index);
                let Some(last) = new.spec.approvals.last_mut() else { continue };
                last.stamp = match stamp {
                    NewStamp::None => None,
                    NewStamp::Own => Some(approval::stamp(&key, at, last, &user, &groups, now, &hash)),
                    NewStamp::OtherUser(other) => Some(approval::stamp(&key, at, last, &other, &groups, now, &hash)),
                    NewStamp::Garbage => Some(a_stamp(&user)),
                };
            }

            let old = (!create).then_some(old);
            let result = admit(old.as_ref(), &new, requester, &policy, &key, false, now);
            let verified = verify_stored(old.as_ref(), &new, requester, &policy, &key, false, now);
            match &result {
                Ok(spec) => prop_assert_eq!(verified.is_ok(), spec == &new.spec),
                Err(refusal) => prop_assert_eq!(verified, Err(refusal.clone())),
            }
            let Ok(spec) = result else { return Ok(()) };

            // Stored as the API server stores it, then admitted again at the validating pass.
            let json = serde_json::to_value(RiskAssessment { spec: spec.clone(), ..new.clone() }).unwrap();
            let stored: RiskAssessment = serde_json::from_value(json).unwrap();
            prop_assert_eq!(&stored.spec, &spec);
            let later = now.checked_add(jiff::SignedDuration::from_secs(later)).unwrap_or(now);
            prop_assert_eq!(admit(old.as_ref(), &stored, requester, &policy, &key, false, later), Ok(spec.clone()));
            prop_assert_eq!(verify_stored(old.as_ref(), &stored, requester, &policy, &key, false, later), Ok(()));

            // What was admitted keeps the rules.
            match &old {
                None => {
                    prop_assert_eq!(spec.submitted_by.as_deref(), Some(user.as_str()));
                    prop_assert!(spec.edited_by.is_empty());
                    prop_assert!(spec.approvals.is_empty());
                }
                Some(old) => {
                    prop_assert_eq!(&spec.submitted_by, &old.spec.submitted_by);
                    prop_assert!(spec.edited_by.starts_with(&old.spec.edited_by));
                    prop_assert!(spec.approvals.starts_with(&old.spec.approvals));
                    prop_assert!(spec.approvals.len() <= old.spec.approvals.len() + 1);
                    if let Some(added) = spec.approvals.get(old.spec.approvals.len()) {
                        let as_stored = RiskAssessment { spec: spec.clone(), ..new.clone() };
                        let stamp = added.stamp.as_ref();
                        let signed = stamp.is_some_and(|stamp| {
                            approval::verify_entry(&key, Subject::of(&as_stored), old.spec.approvals.len(), added)
                                && stamp.user == user
                                && stamp.content_hash == content_hash(&spec)
                        });
                        prop_assert!(signed, "the new entry carries the operator's stamp");
                        prop_assert!(!approval::is_self_approver(&spec, &user));
                        prop_assert!(policy.admits(&groups));
                        prop_assert!(approval::incomplete(&spec).is_empty());
                    }
                }
            }
        }
    }
}
