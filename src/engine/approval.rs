//! Approvals of a risk assessment: the content an approval binds to, the operator's signature on
//! each entry, and where the assessment stands.
//!
//! The rules, and who enforces them:
//!
//! 1. Approvals are append-only: the API server's CEL rule, and [`check_append_only`] in the
//!    admission webhook.
//! 2. Only members of the approver groups ([`ApprovalPolicy::approver_groups`]) may add an entry.
//! 3. No self-approval: neither the submitter (`spec.submittedBy`) nor anyone who edited the
//!    assessed content (`spec.editedBy`) may decide on it.
//! 4. An entry is bound to the [`content_hash`] of what was assessed: once the content changes,
//!    the entry no longer counts, and an assessment approved on earlier content is `Stale`.
//! 5. The webhook [`stamp`]s every new entry with who, when and on what content, signed with
//!    HMAC-SHA256 under a key only the operator holds. [`assess`] counts only entries whose
//!    signature verifies, so an entry written while the webhook was off counts for nothing.
//! 6. `min_approvals` distinct approvers are needed.
//!
//! The webhook calls [`check_append_only`], [`check_new_entry`] and [`stamp`]; the controller (with
//! [`Trust::Verify`]) and the offline CLI (with [`Trust::AsWritten`]) call [`assess`]. Everything
//! here is total: no input makes it panic.

use std::{collections::BTreeMap, collections::BTreeSet, fmt};

use hmac::{Hmac, KeyInit, Mac};
use jiff::{RoundMode, SignedDuration, Timestamp, TimestampRound, Unit};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::risk::{self, RiskSummary};
use crate::api::{
    Approval, ApprovalStamp, AssessmentState, Criteria, Decision, ImpactAssessment, RecordStamp,
    Risk, RiskAssessment, RiskAssessmentSpec, Scope,
};

// ---------------------------------------------------------------------------------------------
// Content hash
// ---------------------------------------------------------------------------------------------

/// The assessed content, in a fixed field order: what an approval is an approval of. Approvals
/// and who submitted or edited the assessment are not part of it (they are about the content, not
/// in it), nor is `systemRef` (the API server keeps it from changing).
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
struct Content<'a> {
    scope: &'a Scope,
    criteria: &'a Criteria,
    risks: &'a [Risk],
    impact_assessment: Option<&'a ImpactAssessment>,
    valid_for: &'a str,
}

/// The hash of an assessment's content, `sha256:<64 lowercase hex digits>`: SHA-256 over the JSON
/// of `scope`, `criteria`, `risks`, `impactAssessment` and `validFor`, in that order. Stable
/// across serialization round trips; any change to those fields changes it, and nothing else
/// does.
pub fn content_hash(spec: &RiskAssessmentSpec) -> String {
    let content = Content {
        scope: &spec.scope,
        criteria: &spec.criteria,
        risks: &spec.risks,
        impact_assessment: spec.impact_assessment.as_ref(),
        valid_for: &spec.valid_for,
    };
    let digest = match serde_json::to_vec(&content) {
        Ok(json) => Sha256::digest(json),
        // Unreachable: serde_json fails only on non-string map keys and failing Serialize impls,
        // and these derived types have neither. Hash the (equally injective) Debug form rather
        // than panic; the prefix keeps it apart from any JSON.
        Err(_) => Sha256::digest(format!("debug:{content:?}")),
    };
    format!("sha256:{}", hex(&digest))
}

// ---------------------------------------------------------------------------------------------
// Validity
// ---------------------------------------------------------------------------------------------

/// Why a `validFor` value was not understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValidFor {
    /// Not a number followed by one unit.
    #[error("validFor {0:?} must be a whole number and a unit (s, m, h or d), for example 180d")]
    Format(String),
    /// The number is 0.
    #[error("validFor {0:?} must be at least 1 of its unit, for example 1d")]
    Zero(String),
    /// The duration does not fit in a signed 64-bit count of seconds.
    #[error("validFor {0:?} is too long; use at most a few years, for example 365d")]
    TooLong(String),
}

/// Parses `validFor`: a whole number of at least 1 followed by `s`, `m`, `h` or `d` (24 hours),
/// such as `180d`. Only ASCII digits are accepted (no sign, space or fraction); leading zeros are
/// tolerated here although the schema rejects them. Numbers too large for a duration are an
/// error, never an overflow.
pub fn parse_valid_for(s: &str) -> Result<SignedDuration, InvalidValidFor> {
    let format = || InvalidValidFor::Format(s.to_owned());
    let (digits, unit_seconds) = [('s', 1), ('m', 60), ('h', 3_600), ('d', 86_400)]
        .into_iter()
        .find_map(|(unit, seconds)| s.strip_suffix(unit).map(|digits| (digits, seconds)))
        .ok_or_else(format)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format());
    }
    let n: i64 = digits
        .parse()
        .map_err(|_| InvalidValidFor::TooLong(s.to_owned()))?;
    if n == 0 {
        return Err(InvalidValidFor::Zero(s.to_owned()));
    }
    let seconds = n
        .checked_mul(unit_seconds)
        .ok_or_else(|| InvalidValidFor::TooLong(s.to_owned()))?;
    Ok(SignedDuration::from_secs(seconds))
}

/// When an approval given at `approved_at` expires. Fails closed: when `validFor` cannot be
/// parsed, or the sum leaves the representable time range, the approval expires the moment it
/// is given.
fn expiry(approved_at: Timestamp, valid_for: &str) -> Timestamp {
    parse_valid_for(valid_for)
        .ok()
        .and_then(|duration| approved_at.checked_add(duration).ok())
        .unwrap_or(approved_at)
}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

/// The domain and version tag that starts every signed approval stamp. A new message layout gets
/// a new tag, so no signature made for one layout verifies under another: stamps of the first
/// layout (`aims.dev/approval/v1`, which bound neither the uid, the system nor the submitter
/// record) no longer verify and need a new approval.
pub const SIGNATURE_DOMAIN: &str = "aims.dev/approval/v2";

/// The domain of the record stamp over `spec.submittedBy` and `spec.editedBy`.
pub const RECORD_DOMAIN: &str = "aims.dev/record/v1";

/// Appended to a domain for what is signed in answer to a dry-run request: such a signature
/// never verifies under the key the controller and real admission use, so a stamp obtained with
/// `--dry-run=server` counts for nothing when written for real.
const DRY_RUN_SUFFIX: &str = "/dry-run";

/// How far a record stamp's time may be from the assessment's `metadata.creationTimestamp`: the
/// webhook stamps the record just before the API server assigns the creation time, so they
/// differ by the admission chain's latency and the clocks' skew. A record copied onto an
/// assessment created later (deleted and re-created under the same name) is outside it.
pub const RECORD_TOLERANCE: SignedDuration = SignedDuration::from_secs(30);

/// The operator's key for signing approval stamps and record stamps (HMAC-SHA256).
///
/// Only the derived HMAC state is kept, and `Debug` prints nothing of it, so the key does not
/// leak through logs or error messages. [`SigningKey::dry_run`] gives the same key signing under
/// the dry-run domains.
#[derive(Clone)]
pub struct SigningKey {
    mac: Hmac<Sha256>,
    dry_run: bool,
}

/// A signing key too short to be safe.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the approval signing key has {len} bytes; it needs at least {min} random bytes (for example \
     from `head -c 32 /dev/urandom`)",
    min = SigningKey::MIN_LEN
)]
pub struct WeakKey {
    /// The length of the key that was given.
    pub len: usize,
}

impl SigningKey {
    /// The shortest key accepted: 32 bytes, the output size of SHA-256.
    pub const MIN_LEN: usize = 32;

    /// A key from its bytes, which should be random. Fails on keys shorter than
    /// [`SigningKey::MIN_LEN`]: an empty or short key would let anyone who guesses it forge
    /// approvals.
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<Self, WeakKey> {
        let bytes = bytes.as_ref();
        let weak = WeakKey { len: bytes.len() };
        if bytes.len() < Self::MIN_LEN {
            return Err(weak);
        }
        // HMAC accepts keys of any length; the error branch is unreachable.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(bytes).map_err(|_| weak)?;
        Ok(Self {
            mac,
            dry_run: false,
        })
    }

    /// The same key, signing (and verifying) under the dry-run domains: for the answer to a
    /// dry-run request. What it signs never verifies under the key itself.
    pub fn dry_run(&self) -> Self {
        Self {
            mac: self.mac.clone(),
            dry_run: true,
        }
    }

    /// Starts a message with `domain`, or its dry-run form.
    fn start(&self, domain: &str) -> Vec<u8> {
        let mut m = Vec::with_capacity(256);
        if self.dry_run {
            put_bytes(&mut m, format!("{domain}{DRY_RUN_SUFFIX}").as_bytes());
        } else {
            put_bytes(&mut m, domain.as_bytes());
        }
        m
    }

    fn tag(&self, message: &[u8]) -> String {
        let tag = self.mac.clone().chain_update(message).finalize();
        hex(&tag.into_bytes())
    }

    fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Some(tag) = unhex_lower(signature) else {
            return false;
        };
        self.mac
            .clone()
            .chain_update(message)
            .verify_slice(&tag)
            .is_ok()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.dry_run {
            "SigningKey(dry-run, ..)"
        } else {
            "SigningKey(..)"
        })
    }
}

/// The assessment a signature is bound to: which object it is, which system it assesses, and who
/// submitted and edited it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subject<'a> {
    /// `metadata.uid`: one incarnation of the name. Empty where it is not known (a record stamp
    /// never binds it; it is assigned after mutating admission of a create).
    pub uid: &'a str,
    /// The assessment's namespace.
    pub namespace: &'a str,
    /// The assessment's name.
    pub name: &'a str,
    /// `spec.systemRef.name`.
    pub system: &'a str,
    /// `spec.submittedBy`.
    pub submitter: Option<&'a str>,
    /// `spec.editedBy`, in order.
    pub editors: &'a [String],
}

impl<'a> Subject<'a> {
    /// `ra` as it is (absent fields read as empty).
    pub fn of(ra: &'a RiskAssessment) -> Self {
        Self {
            uid: ra.metadata.uid.as_deref().unwrap_or_default(),
            namespace: ra.metadata.namespace.as_deref().unwrap_or_default(),
            name: ra.metadata.name.as_deref().unwrap_or_default(),
            system: &ra.spec.system_ref.name,
            submitter: ra.spec.submitted_by.as_deref(),
            editors: &ra.spec.edited_by,
        }
    }

    /// The same subject with only the first `n` editors: as it was when they were the editors.
    fn with_editors(self, n: usize) -> Self {
        Self {
            editors: self.editors.get(..n).unwrap_or(self.editors),
            ..self
        }
    }

    fn put_record(&self, m: &mut Vec<u8>) {
        put_bytes(m, self.namespace.as_bytes());
        put_bytes(m, self.name.as_bytes());
        put_bytes(m, self.system.as_bytes());
        put_optional(m, self.submitter);
        put_len(m, self.editors.len());
        for editor in self.editors {
            put_bytes(m, editor.as_bytes());
        }
    }
}

/// Where an approval entry sits: the assessment, and the entry's position in `spec.approvals`.
/// Binding these into the signature keeps a stamp from being copied to another entry, another
/// assessment, another incarnation of the same name or another system, and from surviving a
/// rewrite of who submitted or edited the assessment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The assessment, with the submitter and editors as they were when the entry was stamped.
    pub subject: Subject<'a>,
    /// The entry's index in `spec.approvals`.
    pub index: usize,
}

impl<'a> EntryRef<'a> {
    /// Entry `index` of `ra` as it is.
    pub fn of(ra: &'a RiskAssessment, index: usize) -> Self {
        Self {
            subject: Subject::of(ra),
            index,
        }
    }
}

/// Everything a stamp's signature covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StampInput<'a> {
    /// Which entry of which assessment.
    pub entry: EntryRef<'a>,
    /// The decision.
    pub decision: Decision,
    /// The approver's comment (absent and empty are different).
    pub comment: Option<&'a str>,
    /// The user who added the entry.
    pub user: &'a str,
    /// That user's groups, in order.
    pub groups: &'a [String],
    /// When the entry was added; signed at whole-second precision, as Kubernetes stores times.
    pub at: Timestamp,
    /// The content hash the decision was made on.
    pub content_hash: &'a str,
}

impl<'a> StampInput<'a> {
    /// The signed fields of an existing entry at `entry`; `None` when it has no stamp.
    pub fn of(entry: EntryRef<'a>, approval: &'a Approval) -> Option<Self> {
        let stamp = approval.stamp.as_ref()?;
        Some(Self {
            entry,
            decision: approval.decision,
            comment: approval.comment.as_deref(),
            user: &stamp.user,
            groups: &stamp.groups,
            at: stamp.at.0,
            content_hash: &stamp.content_hash,
        })
    }

    /// The message that is signed: the domain tag, then each field length-prefixed (64-bit
    /// big-endian), lists preceded by their length and optional fields by a presence byte. No
    /// two inputs encode alike.
    fn message(&self, key: &SigningKey) -> Vec<u8> {
        let mut m = key.start(SIGNATURE_DOMAIN);
        let subject = &self.entry.subject;
        put_bytes(&mut m, subject.uid.as_bytes());
        subject.put_record(&mut m);
        put_len(&mut m, self.entry.index);
        put_bytes(&mut m, decision_name(self.decision).as_bytes());
        put_optional(&mut m, self.comment);
        put_bytes(&mut m, self.user.as_bytes());
        put_len(&mut m, self.groups.len());
        for group in self.groups {
            put_bytes(&mut m, group.as_bytes());
        }
        put_time(&mut m, self.at);
        put_bytes(&mut m, self.content_hash.as_bytes());
        m
    }
}

fn put_len(m: &mut Vec<u8>, n: usize) {
    m.extend_from_slice(&u64::try_from(n).unwrap_or(u64::MAX).to_be_bytes());
}

fn put_bytes(m: &mut Vec<u8>, bytes: &[u8]) {
    put_len(m, bytes.len());
    m.extend_from_slice(bytes);
}

fn put_optional(m: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => m.push(0),
        Some(value) => {
            m.push(1);
            put_bytes(m, value.as_bytes());
        }
    }
}

/// RFC 3339 in UTC at whole seconds, for example 2025-11-01T09:00:00Z.
fn put_time(m: &mut Vec<u8>, at: Timestamp) {
    put_bytes(m, format!("{:.0}", whole_seconds(at)).as_bytes());
}

fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Approve => "Approve",
        Decision::Reject => "Reject",
    }
}

/// `at` rounded down to the second: Kubernetes serializes times at whole seconds, so a stamp is
/// signed as it will be stored.
fn whole_seconds(at: Timestamp) -> Timestamp {
    at.round(
        TimestampRound::new()
            .smallest(Unit::Second)
            .mode(RoundMode::Floor),
    )
    .unwrap_or(at)
}

/// Signs a stamp's fields: lowercase hex of HMAC-SHA256 over [`StampInput`]'s message.
pub fn sign(key: &SigningKey, input: &StampInput<'_>) -> String {
    key.tag(&input.message(key))
}

/// Whether `signature` is [`sign`]'s signature of `input` under `key`, compared in constant
/// time. A signature that is not 64 lowercase hex digits is simply false.
pub fn verify(key: &SigningKey, input: &StampInput<'_>, signature: &str) -> bool {
    key.verifies(&input.message(key), signature)
}

/// Whether the stamp of entry `index` of the assessment `subject` verifies: signed for this uid,
/// namespace, name, system and submitter, and for the editors as they were when it was stamped.
/// `spec.editedBy` only grows, so those are a prefix of `subject.editors`; each prefix is tried,
/// the whole list first. False without a stamp.
pub fn verify_entry(
    key: &SigningKey,
    subject: Subject<'_>,
    index: usize,
    approval: &Approval,
) -> bool {
    let Some(stamp) = &approval.stamp else {
        return false;
    };
    (0..=subject.editors.len()).rev().any(|n| {
        let entry = EntryRef {
            subject: subject.with_editors(n),
            index,
        };
        StampInput::of(entry, approval).is_some_and(|input| verify(key, &input, &stamp.signature))
    })
}

/// The operator's stamp for a new entry: who added it, their groups, when (rounded down to the
/// second, as Kubernetes stores it), the content hash it was made on, and the signature over all
/// of that, the entry's decision, comment and position, and the assessment's uid, system,
/// submitter and editors (`entry.subject`). Whatever stamp `approval` carries is ignored: the
/// webhook replaces it with this one.
pub fn stamp(
    key: &SigningKey,
    entry: EntryRef<'_>,
    approval: &Approval,
    user: &str,
    groups: &[String],
    at: Timestamp,
    content_hash: &str,
) -> ApprovalStamp {
    let at = whole_seconds(at);
    let signature = sign(
        key,
        &StampInput {
            entry,
            decision: approval.decision,
            comment: approval.comment.as_deref(),
            user,
            groups,
            at,
            content_hash,
        },
    );
    ApprovalStamp {
        user: user.to_owned(),
        groups: groups.to_vec(),
        at: Time(at),
        content_hash: content_hash.to_owned(),
        signature,
    }
}

// ---------------------------------------------------------------------------------------------
// The record of who submitted and edited
// ---------------------------------------------------------------------------------------------

fn record_message(
    key: &SigningKey,
    subject: &Subject<'_>,
    content_hash: &str,
    at: Timestamp,
) -> Vec<u8> {
    let mut m = key.start(RECORD_DOMAIN);
    subject.put_record(&mut m);
    put_bytes(&mut m, content_hash.as_bytes());
    put_time(&mut m, at);
    m
}

/// The operator's stamp on the record of who submitted and edited an assessment: a signature over
/// its namespace, name, system, `submittedBy` and `editedBy`, the [`content_hash`] of the content
/// as the operator last admitted it, and `at`, the time the assessment was created (rounded down
/// to the second). The uid is not bound (a create is stamped before it is assigned); `at` stands
/// in for it, as [`check_record`] holds it to the creation time. Binding the content means an edit
/// made outside admission, which no one recorded in `editedBy`, breaks the record.
pub fn record_stamp(
    key: &SigningKey,
    subject: &Subject<'_>,
    content_hash: &str,
    at: Timestamp,
) -> RecordStamp {
    let at = whole_seconds(at);
    RecordStamp {
        at: Time(at),
        signature: key.tag(&record_message(key, subject, content_hash, at)),
    }
}

/// [`record_stamp`] for `ra` as it is, dated `at`.
pub fn record_stamp_of(key: &SigningKey, ra: &RiskAssessment, at: Timestamp) -> RecordStamp {
    record_stamp(key, &Subject::of(ra), &content_hash(&ra.spec), at)
}

/// Why the record of who submitted and edited an assessment is not trusted. While it is not, no
/// approval entry counts: the submitter or an editor could otherwise have rewritten it and
/// approved their own work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RecordProblem {
    /// `spec.recordStamp` is missing: the assessment was created while the webhook was not
    /// running, or before records were signed.
    Unsigned,
    /// Its signature does not verify: `submittedBy`, `editedBy`, the name, the system or the
    /// assessed content differ from what the operator signed.
    BadSignature,
    /// It verifies, but was made for an assessment created at another time: it was copied from an
    /// earlier assessment of the same name.
    NotAtCreation,
}

impl fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unsigned => {
                "spec.submittedBy and spec.editedBy carry no operator record stamp (the assessment \
                 was created while the webhook was not running, or before records were signed)"
            }
            Self::BadSignature => {
                "the record stamp over spec.submittedBy and spec.editedBy does not verify (they, \
                 or the assessed content, were changed outside the operator's admission webhook)"
            }
            Self::NotAtCreation => {
                "the record stamp over spec.submittedBy and spec.editedBy was made for an \
                 assessment created at another time (copied from an earlier assessment of the \
                 same name)"
            }
        })
    }
}

/// Checks `ra`'s record stamp: present, its signature over the namespace, name, system,
/// submitter, editors and assessed content verifies under `key`, and its time is within [`RECORD_TOLERANCE`] of
/// `metadata.creationTimestamp` (an object with none, not yet created, is checked against nothing
/// but the signature).
pub fn check_record(key: &SigningKey, ra: &RiskAssessment) -> Result<(), RecordProblem> {
    let stamp = ra
        .spec
        .record_stamp
        .as_ref()
        .ok_or(RecordProblem::Unsigned)?;
    let subject = Subject::of(ra);
    let hash = content_hash(&ra.spec);
    if !key.verifies(
        &record_message(key, &subject, &hash, stamp.at.0),
        &stamp.signature,
    ) {
        return Err(RecordProblem::BadSignature);
    }
    if let Some(created) = &ra.metadata.creation_timestamp {
        let apart = stamp.at.0.duration_since(created.0).abs();
        if apart > RECORD_TOLERANCE {
            return Err(RecordProblem::NotAtCreation);
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

fn unhex_lower(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            &[hi, lo] => Some((nibble(hi)? << 4) | nibble(lo)?),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Policy and readiness
// ---------------------------------------------------------------------------------------------

/// How much an assessment's signatures are trusted.
#[derive(Clone, Copy, Debug)]
pub enum Trust<'a> {
    /// Count only entries whose signature verifies under this key (the controller).
    Verify(&'a SigningKey),
    /// Take stamps as written, without checking signatures (the offline CLI, which has no key).
    /// An entry still needs a stamp to count.
    AsWritten,
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

// ---------------------------------------------------------------------------------------------
// Assessment
// ---------------------------------------------------------------------------------------------

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
        }
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
fn check_entry<'a>(
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
        Trust::AsWritten => None,
    };
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

// ---------------------------------------------------------------------------------------------
// Admission checks
// ---------------------------------------------------------------------------------------------

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

fn list<T: fmt::Display>(items: &[T]) -> String {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::api::Artifact;

    const NS: &str = "credit";
    const NAME: &str = "scoring-v3";
    const UID: &str = "0b5c8f4e-9d1a-4c3e-8f00-000000000001";
    /// When the fixture was created.
    const CREATED: &str = "2025-10-30T08:00:00Z";
    const APPROVERS: &str = "risk-approvers";
    /// When approvals are given, unless a case says otherwise.
    const T0: &str = "2025-11-01T09:00:00Z";
    /// When cases are assessed, unless they say otherwise: two weeks after T0.
    const NOW: &str = "2025-11-15T00:00:00Z";
    /// T0 + 30d, the fixture's validFor.
    const EXPIRY: &str = "2025-12-01T09:00:00Z";

    /// A change to a fixture, for tables of changes.
    type Change<T> = fn(&mut T);

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn key() -> SigningKey {
        SigningKey::new([7u8; 32]).unwrap()
    }

    fn other_key() -> SigningKey {
        SigningKey::new([8u8; 32]).unwrap()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A complete assessment, submitted by `sam` and edited by `eve`, approved by `alice`, `bob` and
    /// `carol` (in the approver group) but not `dan` (a developer).
    fn ready() -> RiskAssessment {
        let spec: RiskAssessmentSpec = serde_json::from_value(json!({
            "systemRef": {"name": "credit-scoring"},
            "scope": {
                "artifacts": [{"image": format!("r.example.com/scorer@sha256:{}", "a".repeat(64))}],
                "description": "Scorecard v3"
            },
            "criteria": {"acceptanceThreshold": 6},
            "risks": [
                {"id": "R1", "title": "Bias by age", "source": "Fairness", "likelihood": 3,
                 "severity": 5, "treatment": "Mitigate", "controls": ["A.7.4"],
                 "residualLikelihood": 1, "residualSeverity": 5},
                {"id": "R2", "title": "Drift", "source": "Robustness", "likelihood": 3,
                 "severity": 3, "treatment": "Mitigate"}
            ],
            "impactAssessment": {
                "affectedGroups": ["Loan applicants"],
                "fundamentalRights": {"summary": "Non-discrimination"},
                "completedOn": "2025-10-14"
            },
            "validFor": "30d",
            "submittedBy": "sam",
            // The submitter is not among the editors, so each self-approval rule is tested alone.
            "editedBy": ["eve"]
        }))
        .unwrap();
        let mut ra = RiskAssessment::new(NAME, spec);
        ra.metadata.namespace = Some(NS.to_owned());
        ra.metadata.uid = Some(UID.to_owned());
        ra.metadata.creation_timestamp = Some(Time(t(CREATED)));
        seal(&mut ra);
        ra
    }

    /// Signs `ra`'s record of who submitted and edited it as the webhook does at create.
    fn seal(ra: &mut RiskAssessment) {
        let at = ra
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(t(CREATED), |c| c.0);
        ra.spec.record_stamp = Some(record_stamp_of(&key(), ra, at));
    }

    /// The fixture's subject, without editors (they have a table of their own).
    fn subject() -> Subject<'static> {
        Subject {
            uid: UID,
            namespace: NS,
            name: NAME,
            system: "credit-scoring",
            submitter: Some("sam"),
            editors: &[],
        }
    }

    fn entry(index: usize) -> EntryRef<'static> {
        EntryRef {
            subject: subject(),
            index,
        }
    }

    /// Appends an entry as the webhook would: stamped and signed on the current content.
    fn decide(ra: &mut RiskAssessment, decision: Decision, user: &str, groups: &[&str], at: &str) {
        let approval = Approval {
            decision,
            comment: Some(format!("{user} decided")),
            stamp: None,
        };
        let stamp = stamp(
            &key(),
            EntryRef::of(ra, ra.spec.approvals.len()),
            &approval,
            user,
            &strings(groups),
            t(at),
            &content_hash(&ra.spec),
        );
        ra.spec.approvals.push(Approval {
            stamp: Some(stamp),
            ..approval
        });
    }

    fn approve(ra: &mut RiskAssessment, user: &str) {
        decide(ra, Decision::Approve, user, &[APPROVERS], T0);
    }

    fn reject(ra: &mut RiskAssessment, user: &str) {
        decide(ra, Decision::Reject, user, &[APPROVERS], T0);
    }

    /// Changes the assessed content, through admission: the record is signed again over it.
    fn edit(ra: &mut RiskAssessment) {
        ra.spec.risks[1].likelihood = 2;
        seal(ra);
    }

    fn last_stamp(ra: &mut RiskAssessment) -> &mut ApprovalStamp {
        ra.spec
            .approvals
            .last_mut()
            .and_then(|a| a.stamp.as_mut())
            .unwrap()
    }

    fn policy(min_approvals: u8) -> ApprovalPolicy {
        ApprovalPolicy {
            approver_groups: [APPROVERS.to_owned()].into(),
            min_approvals,
        }
    }

    // --- content hash ---------------------------------------------------------------------

    #[test]
    fn the_content_hash_is_sha256_in_lowercase_hex() {
        let hash = content_hash(&ready().spec);
        assert!(super::super::workload::is_sha256_digest(&hash), "{hash}");
    }

    #[test]
    fn the_content_hash_survives_a_serialization_round_trip() {
        let spec = ready().spec;
        let json = serde_json::to_string(&spec).unwrap();
        let back: RiskAssessmentSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(content_hash(&back), content_hash(&spec));
        let yaml = serde_saphyr::to_string(&spec).unwrap();
        let back: RiskAssessmentSpec = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(content_hash(&back), content_hash(&spec));
    }

    #[test]
    fn every_assessed_field_changes_the_content_hash() {
        let cases: [(&str, Change<RiskAssessmentSpec>); 9] = [
            ("scope artifact", |s| {
                s.scope.artifacts.push(Artifact {
                    uri: Some("hf://org/model".into()),
                    sha256: Some("b".repeat(64)),
                    ..Artifact::default()
                })
            }),
            ("scope description", |s| s.scope.description = None),
            ("criteria", |s| s.criteria.acceptance_threshold = 7),
            ("risk likelihood", |s| s.risks[0].likelihood = 4),
            ("risk residual", |s| s.risks[0].residual_severity = Some(4)),
            ("risk removed", |s| {
                s.risks.pop();
            }),
            ("risk order", |s| s.risks.reverse()),
            ("impact assessment", |s| {
                if let Some(i) = s.impact_assessment.as_mut() {
                    i.completed_on = Some("2025-10-15".into());
                }
            }),
            ("validFor", |s| s.valid_for = "31d".into()),
        ];
        let base = ready().spec;
        for (name, change) in cases {
            let mut spec = base.clone();
            change(&mut spec);
            assert_ne!(content_hash(&spec), content_hash(&base), "{name}");
        }
        let mut spec = base.clone();
        spec.impact_assessment = None;
        assert_ne!(content_hash(&spec), content_hash(&base), "no impact");
    }

    #[test]
    fn approvals_and_who_wrote_the_assessment_leave_the_content_hash_alone() {
        let cases: [(&str, Change<RiskAssessment>); 4] = [
            ("approvals", |ra| approve(ra, "alice")),
            ("submittedBy", |ra| {
                ra.spec.submitted_by = Some("mallory".into())
            }),
            ("editedBy", |ra| ra.spec.edited_by.push("mallory".into())),
            ("systemRef", |ra| ra.spec.system_ref.name = "other".into()),
        ];
        let base = ready();
        for (name, change) in cases {
            let mut ra = base.clone();
            change(&mut ra);
            assert_eq!(content_hash(&ra.spec), content_hash(&base.spec), "{name}");
        }
    }

    // --- validFor ---------------------------------------------------------------------------

    #[test]
    fn valid_for_is_a_number_and_a_unit() {
        for (input, seconds) in [
            ("1s", 1),
            ("90m", 5_400),
            ("12h", 43_200),
            ("180d", 15_552_000),
            ("999999d", 86_399_913_600),
            ("007s", 7),
        ] {
            assert_eq!(
                parse_valid_for(input),
                Ok(SignedDuration::from_secs(seconds)),
                "{input}"
            );
        }
    }

    #[test]
    fn malformed_valid_for_is_an_error_not_a_panic() {
        use InvalidValidFor::*;
        let format = |s: &str| Format(s.to_owned());
        for (input, want) in [
            ("", format("")),
            ("d", format("d")),
            ("180", format("180")),
            ("5w", format("5w")),
            ("1D", format("1D")),
            ("-1d", format("-1d")),
            ("+1d", format("+1d")),
            (" 1d", format(" 1d")),
            ("1 d", format("1 d")),
            ("1.5h", format("1.5h")),
            ("1dd", format("1dd")),
            ("١d", format("١d")),
            ("1é", format("1é")),
            ("0s", Zero("0s".into())),
            ("000d", Zero("000d".into())),
            (
                "99999999999999999999d",
                TooLong("99999999999999999999d".into()),
            ),
            (
                "9223372036854775807d",
                TooLong("9223372036854775807d".into()),
            ),
        ] {
            assert_eq!(parse_valid_for(input), Err(want), "{input:?}");
        }
        assert_eq!(
            parse_valid_for("9223372036854775807s"),
            Ok(SignedDuration::from_secs(i64::MAX))
        );
    }

    // --- signing ----------------------------------------------------------------------------

    fn groups() -> Vec<String> {
        strings(&[APPROVERS, "staff"])
    }

    fn input(groups: &[String]) -> StampInput<'_> {
        StampInput {
            entry: entry(2),
            decision: Decision::Approve,
            comment: Some("ok"),
            user: "alice",
            groups,
            at: t(T0),
            content_hash: "sha256:00",
        }
    }

    #[test]
    fn a_signature_verifies_under_its_key() {
        let groups = groups();
        let signature = sign(&key(), &input(&groups));
        assert!(is_sha256_hex_like(&signature), "{signature}");
        assert!(verify(&key(), &input(&groups), &signature));
        assert!(!verify(&other_key(), &input(&groups), &signature));
    }

    fn is_sha256_hex_like(s: &str) -> bool {
        super::super::workload::is_sha256_hex(s)
    }

    #[test]
    fn changing_any_signed_field_breaks_the_signature() {
        let groups = groups();
        let signature = sign(&key(), &input(&groups));
        let cases: [(&str, Change<StampInput<'_>>); 16] = [
            ("uid (deleted and re-created)", |i| {
                i.entry.subject.uid = "other"
            }),
            ("uid unknown", |i| i.entry.subject.uid = ""),
            ("namespace", |i| i.entry.subject.namespace = "other"),
            ("name", |i| i.entry.subject.name = "other"),
            ("systemRef", |i| i.entry.subject.system = "other"),
            ("submitter", |i| i.entry.subject.submitter = Some("alice")),
            ("submitter removed", |i| i.entry.subject.submitter = None),
            ("index", |i| i.entry.index = 3),
            ("decision", |i| i.decision = Decision::Reject),
            ("comment", |i| i.comment = Some("ok!")),
            ("comment removed", |i| i.comment = None),
            ("comment emptied", |i| i.comment = Some("")),
            ("user", |i| i.user = "bob"),
            ("groups removed", |i| i.groups = &[]),
            ("time", |i| i.at = t("2025-11-01T09:00:01Z")),
            ("content hash", |i| i.content_hash = "sha256:01"),
        ];
        for (name, change) in cases {
            let mut changed = input(&groups);
            change(&mut changed);
            assert!(!verify(&key(), &changed, &signature), "{name}");
        }
        let editors = strings(&["eve"]);
        let edited = StampInput {
            entry: EntryRef {
                subject: Subject {
                    editors: &editors,
                    ..subject()
                },
                index: 2,
            },
            ..input(&groups)
        };
        assert!(!verify(&key(), &edited, &signature), "editors");
        assert!(
            !verify(
                &key(),
                &input(&groups),
                &sign(&key().dry_run(), &input(&groups))
            ),
            "signed on a dry run"
        );
        assert!(
            verify(
                &key().dry_run(),
                &input(&groups),
                &sign(&key().dry_run(), &input(&groups))
            ),
            "a dry run verifies its own answer"
        );
        for (name, other) in [
            ("groups reordered", strings(&["staff", APPROVERS])),
            ("group removed", strings(&[APPROVERS])),
            ("groups joined", strings(&[&format!("{APPROVERS}staff")])),
        ] {
            assert!(!verify(&key(), &input(&other), &signature), "{name}");
        }
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let none: Vec<String> = Vec::new();
        let a = StampInput {
            entry: EntryRef {
                subject: Subject {
                    namespace: "ab",
                    name: "c",
                    ..subject()
                },
                index: 0,
            },
            ..input(&none)
        };
        let b = StampInput {
            entry: EntryRef {
                subject: Subject {
                    namespace: "a",
                    name: "bc",
                    ..subject()
                },
                index: 0,
            },
            ..input(&none)
        };
        assert_ne!(sign(&key(), &a), sign(&key(), &b));
        let one = strings(&["a,b"]);
        let two = strings(&["a", "b"]);
        assert_ne!(sign(&key(), &input(&one)), sign(&key(), &input(&two)));
        let no_comment = StampInput {
            comment: None,
            ..input(&none)
        };
        let empty_comment = StampInput {
            comment: Some(""),
            ..input(&none)
        };
        assert_ne!(sign(&key(), &no_comment), sign(&key(), &empty_comment));
    }

    #[test]
    fn a_changed_or_malformed_signature_does_not_verify() {
        let groups = groups();
        let good = sign(&key(), &input(&groups));
        let flipped = {
            let mut s = good.clone();
            let last = if s.ends_with('0') { "1" } else { "0" };
            s.replace_range(s.len() - 1.., last);
            s
        };
        for (name, signature) in [
            ("last digit changed", flipped),
            ("uppercase", good.to_uppercase()),
            ("truncated", good[..62].to_owned()),
            ("odd length", good[..63].to_owned()),
            ("extended", format!("{good}00")),
            ("empty", String::new()),
            ("not hex", "zz".repeat(32)),
            ("multibyte", "é".repeat(32)),
            ("all zeros", "0".repeat(64)),
        ] {
            assert!(!verify(&key(), &input(&groups), &signature), "{name}");
        }
    }

    #[test]
    fn signing_keys_are_long_and_never_printed() {
        assert_eq!(SigningKey::new([1u8; 31]).unwrap_err(), WeakKey { len: 31 });
        assert_eq!(SigningKey::new(b"").unwrap_err(), WeakKey { len: 0 });
        let secret = b"correct horse battery staple, 32b";
        let printed = format!("{:?}", SigningKey::new(secret).unwrap());
        assert_eq!(printed, "SigningKey(..)");
        assert!(WeakKey { len: 3 }.to_string().contains("at least 32"));
    }

    #[test]
    fn a_stamp_is_signed_as_kubernetes_stores_it() {
        let approval = Approval {
            decision: Decision::Approve,
            comment: None,
            stamp: None,
        };
        let at = t("2025-11-01T09:00:00.987654321Z");
        let groups = groups();
        let stamp = stamp(
            &key(),
            entry(0),
            &approval,
            "alice",
            &groups,
            at,
            "sha256:00",
        );
        assert_eq!(stamp.at.0, t(T0), "rounded down to the second");
        let stored = Approval {
            stamp: Some(stamp),
            ..approval
        };
        let json = serde_json::to_value(&stored).unwrap();
        assert_eq!(json["stamp"]["at"], json!(T0));
        let back: Approval = serde_json::from_value(json).unwrap();
        assert_eq!(back, stored);
        let input = StampInput::of(entry(0), &back).unwrap();
        assert!(verify(
            &key(),
            &input,
            &back.stamp.as_ref().unwrap().signature
        ));
    }

    // --- assess -----------------------------------------------------------------------------

    struct Case {
        name: &'static str,
        setup: fn(&mut RiskAssessment),
        policy: ApprovalPolicy,
        as_written: bool,
        now: &'static str,
        state: AssessmentState,
        approvers: &'static [&'static str],
        discounted: &'static [(usize, DiscountReason)],
        record: Option<RecordProblem>,
    }

    impl Default for Case {
        fn default() -> Self {
            Self {
                name: "",
                setup: |_| {},
                policy: policy(1),
                as_written: false,
                now: NOW,
                state: AssessmentState::PendingApproval,
                approvers: &[],
                discounted: &[],
                record: None,
            }
        }
    }

    #[test]
    fn assess_applies_every_rule() {
        use AssessmentState::*;
        use DiscountReason::*;
        let cases = [
            Case {
                name: "no entries",
                ..Case::default()
            },
            Case {
                name: "an approver approves",
                setup: |ra| approve(ra, "alice"),
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "membership of any one approver group is enough",
                setup: |ra| decide(ra, Decision::Approve, "alice", &["staff", "board"], T0),
                policy: ApprovalPolicy {
                    approver_groups: strings(&[APPROVERS, "board"]).into_iter().collect(),
                    min_approvals: 1,
                },
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "the submitter cannot approve",
                setup: |ra| approve(ra, "sam"),
                discounted: &[(0, SelfApproval)],
                ..Case::default()
            },
            Case {
                name: "an editor cannot approve",
                setup: |ra| approve(ra, "eve"),
                discounted: &[(0, SelfApproval)],
                ..Case::default()
            },
            Case {
                name: "a self-approver cannot approve even without a group restriction",
                setup: |ra| approve(ra, "eve"),
                policy: ApprovalPolicy::default(),
                discounted: &[(0, SelfApproval)],
                ..Case::default()
            },
            Case {
                name: "a user outside the approver groups does not count",
                setup: |ra| decide(ra, Decision::Approve, "dan", &["developers"], T0),
                discounted: &[(0, NotAnApprover)],
                ..Case::default()
            },
            Case {
                name: "without a group restriction, anyone else counts",
                setup: |ra| decide(ra, Decision::Approve, "dan", &[], T0),
                policy: ApprovalPolicy::default(),
                state: Approved,
                approvers: &["dan"],
                ..Case::default()
            },
            Case {
                name: "an entry written while the webhook was off counts for nothing",
                setup: |ra| {
                    ra.spec.approvals.push(Approval {
                        decision: Decision::Approve,
                        comment: None,
                        stamp: None,
                    })
                },
                discounted: &[(0, Unstamped)],
                ..Case::default()
            },
            Case {
                name: "a hand-written stamp does not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    last_stamp(ra).signature = "0".repeat(64);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp signed with another key does not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    let (as_is, approval) = (ra.clone(), ra.spec.approvals[0].clone());
                    let input = StampInput::of(EntryRef::of(&as_is, 0), &approval).unwrap();
                    last_stamp(ra).signature = sign(&other_key(), &input);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "groups added to a stamp by hand break its signature",
                setup: |ra| {
                    decide(ra, Decision::Approve, "dan", &["developers"], T0);
                    last_stamp(ra).groups = strings(&[APPROVERS]);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a decision changed under its stamp breaks the signature",
                setup: |ra| {
                    reject(ra, "alice");
                    ra.spec.approvals[0].decision = Decision::Approve;
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp copied from another entry does not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    let copy = ra.spec.approvals[0].clone();
                    ra.spec.approvals.push(copy);
                },
                policy: policy(2),
                approvers: &["alice"],
                discounted: &[(1, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp copied from another assessment does not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.name = Some("scoring-v4".into());
                    seal(ra);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "entries copied to the same name re-created (another uid) do not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.uid = Some("another-uid".into());
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "entries copied to the same name re-created for another system do not verify",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.uid = Some("another-uid".into());
                    ra.spec.system_ref.name = "other-system".into();
                    seal(ra);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp does not survive its submitter rewritten, even with a valid record",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.submitted_by = Some("mallory".into());
                    seal(ra);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a stamp does not survive an editor removed, even with a valid record",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.edited_by.clear();
                    seal(ra);
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "an editor added after the approval (with the content) leaves it stale",
                setup: |ra| {
                    approve(ra, "alice");
                    edit(ra);
                    ra.spec.edited_by.push("dan".into());
                    seal(ra);
                },
                state: Stale,
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "a stamp answered on a dry run does not count",
                setup: |ra| {
                    let approval = Approval {
                        decision: Decision::Approve,
                        comment: None,
                        stamp: None,
                    };
                    let hash = content_hash(&ra.spec);
                    let at = EntryRef::of(ra, 0);
                    let groups = strings(&[APPROVERS]);
                    let stamp = stamp(
                        &key().dry_run(),
                        at,
                        &approval,
                        "alice",
                        &groups,
                        t(T0),
                        &hash,
                    );
                    ra.spec.approvals.push(Approval {
                        stamp: Some(stamp),
                        ..approval
                    });
                },
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a rewritten submitter counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.submitted_by = Some("mallory".into());
                },
                record: Some(RecordProblem::BadSignature),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "content changed outside admission (no editor recorded) counts no entry",
                setup: |ra| {
                    ra.spec.risks[0].residual_severity = Some(1);
                    approve(ra, "alice");
                },
                record: Some(RecordProblem::BadSignature),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "a rewritten editor list counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.edited_by.clear();
                },
                record: Some(RecordProblem::BadSignature),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "an unsigned record counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.record_stamp = None;
                },
                record: Some(RecordProblem::Unsigned),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "a record signed on a dry run counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    let at = t(CREATED);
                    ra.spec.record_stamp = Some(record_stamp_of(&key().dry_run(), ra, at));
                },
                record: Some(RecordProblem::BadSignature),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "a record copied to an assessment created later counts no entry",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.creation_timestamp = Some(Time(t("2025-10-30T08:00:31Z")));
                },
                record: Some(RecordProblem::NotAtCreation),
                discounted: &[(0, UnverifiedRecord)],
                ..Case::default()
            },
            Case {
                name: "a record made within the tolerance of the creation counts",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.metadata.creation_timestamp = Some(Time(t("2025-10-30T08:00:30Z")));
                },
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "as written, the record is not checked",
                setup: |ra| {
                    approve(ra, "alice");
                    ra.spec.record_stamp = None;
                },
                as_written: true,
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "an approval of earlier content is stale",
                setup: |ra| {
                    approve(ra, "alice");
                    edit(ra);
                },
                state: Stale,
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "too few approvals of earlier content is pending, not stale",
                setup: |ra| {
                    approve(ra, "alice");
                    edit(ra);
                },
                policy: policy(2),
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "rejected earlier content is pending, not stale",
                setup: |ra| {
                    approve(ra, "alice");
                    reject(ra, "bob");
                    edit(ra);
                },
                discounted: &[(0, StaleContent), (1, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "a new approval of the changed content counts",
                setup: |ra| {
                    approve(ra, "alice");
                    edit(ra);
                    approve(ra, "bob");
                },
                state: Approved,
                approvers: &["bob"],
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "a rejection decides",
                setup: |ra| {
                    approve(ra, "alice");
                    reject(ra, "bob");
                },
                state: Rejected,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "a rejection by a self-approver does not count",
                setup: |ra| {
                    reject(ra, "sam");
                    approve(ra, "alice");
                },
                state: Approved,
                approvers: &["alice"],
                discounted: &[(0, SelfApproval)],
                ..Case::default()
            },
            Case {
                name: "an unsigned rejection does not count",
                setup: |ra| {
                    reject(ra, "bob");
                    last_stamp(ra).signature.clear();
                    approve(ra, "alice");
                },
                state: Approved,
                approvers: &["alice"],
                discounted: &[(0, BadSignature)],
                ..Case::default()
            },
            Case {
                name: "a rejection of earlier content does not count",
                setup: |ra| {
                    reject(ra, "bob");
                    edit(ra);
                    approve(ra, "alice");
                },
                state: Approved,
                approvers: &["alice"],
                discounted: &[(0, StaleContent)],
                ..Case::default()
            },
            Case {
                name: "the same approver twice counts once",
                setup: |ra| {
                    approve(ra, "alice");
                    approve(ra, "alice");
                },
                policy: policy(2),
                approvers: &["alice"],
                discounted: &[(1, DuplicateApprover)],
                ..Case::default()
            },
            Case {
                name: "two distinct approvers meet a minimum of two",
                setup: |ra| {
                    approve(ra, "alice");
                    approve(ra, "alice");
                    approve(ra, "bob");
                },
                policy: policy(2),
                state: Approved,
                approvers: &["alice", "bob"],
                discounted: &[(1, DuplicateApprover)],
                ..Case::default()
            },
            Case {
                name: "a minimum of 0 counts as 1",
                policy: policy(0),
                ..Case::default()
            },
            Case {
                name: "expired at the expiry",
                setup: |ra| approve(ra, "alice"),
                now: EXPIRY,
                state: Expired,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "approved until just before the expiry",
                setup: |ra| approve(ra, "alice"),
                now: "2025-12-01T08:59:59.999999999Z",
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "an unparsable validFor fails closed",
                setup: |ra| {
                    ra.spec.valid_for = "forever".into();
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Expired,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "no risks is a draft",
                setup: |ra| {
                    ra.spec.risks.clear();
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Draft,
                ..Case::default()
            },
            Case {
                name: "no artifacts is a draft",
                setup: |ra| {
                    ra.spec.scope.artifacts.clear();
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Draft,
                ..Case::default()
            },
            Case {
                name: "no impact assessment is a draft",
                setup: |ra| {
                    ra.spec.impact_assessment = None;
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Draft,
                ..Case::default()
            },
            Case {
                name: "an impact assessment not completed is a draft",
                setup: |ra| {
                    if let Some(i) = ra.spec.impact_assessment.as_mut() {
                        i.completed_on = None;
                    }
                    seal(ra);
                    approve(ra, "alice");
                },
                state: Draft,
                ..Case::default()
            },
            Case {
                name: "as written, a forged signature is trusted",
                setup: |ra| {
                    approve(ra, "alice");
                    last_stamp(ra).signature = "forged".into();
                },
                as_written: true,
                state: Approved,
                approvers: &["alice"],
                ..Case::default()
            },
            Case {
                name: "as written, an entry still needs a stamp",
                setup: |ra| {
                    ra.spec.approvals.push(Approval {
                        decision: Decision::Approve,
                        comment: None,
                        stamp: None,
                    })
                },
                as_written: true,
                discounted: &[(0, Unstamped)],
                ..Case::default()
            },
            Case {
                name: "as written, the other rules still hold",
                setup: |ra| {
                    approve(ra, "sam");
                    decide(ra, Decision::Approve, "dan", &["developers"], T0);
                },
                as_written: true,
                discounted: &[(0, SelfApproval), (1, NotAnApprover)],
                ..Case::default()
            },
        ];
        let key = key();
        for case in cases {
            let mut ra = ready();
            (case.setup)(&mut ra);
            let trust = if case.as_written {
                Trust::AsWritten
            } else {
                Trust::Verify(&key)
            };
            let verdict = assess(&ra, &case.policy, trust, t(case.now));
            assert_eq!(verdict.state, case.state, "{}: {verdict:#?}", case.name);
            assert_eq!(verdict.approvers, case.approvers, "{}", case.name);
            let discounted: Vec<_> = verdict
                .discounted
                .iter()
                .map(|d| (d.index, d.reason))
                .collect();
            assert_eq!(discounted, case.discounted, "{}", case.name);
            assert_eq!(verdict.record, case.record, "{}", case.name);
            assert_eq!(
                verdict.content_hash,
                content_hash(&ra.spec),
                "{}",
                case.name
            );
            let timed = matches!(case.state, Approved | Expired);
            assert_eq!(verdict.approved_at.is_some(), timed, "{}", case.name);
            assert_eq!(verdict.expires_at.is_some(), timed, "{}", case.name);
            assert_eq!(
                verdict.rejected_by.is_some(),
                case.state == Rejected,
                "{}",
                case.name
            );
        }
    }

    #[test]
    fn an_approval_dates_from_the_entry_that_reached_the_minimum() {
        let mut ra = ready();
        decide(&mut ra, Decision::Approve, "alice", &[APPROVERS], T0);
        decide(
            &mut ra,
            Decision::Approve,
            "bob",
            &[APPROVERS],
            "2025-11-03T10:00:00Z",
        );
        decide(
            &mut ra,
            Decision::Approve,
            "carol",
            &[APPROVERS],
            "2025-11-04T10:00:00Z",
        );
        let verdict = assess(&ra, &policy(2), Trust::Verify(&key()), t(NOW));
        assert_eq!(verdict.state, AssessmentState::Approved);
        assert_eq!(verdict.approvers, ["alice", "bob", "carol"]);
        assert_eq!(verdict.approved_at, Some(t("2025-11-03T10:00:00Z")));
        assert_eq!(verdict.expires_at, Some(t("2025-12-03T10:00:00Z")));
        assert_eq!(verdict.next_change(), verdict.expires_at);
    }

    #[test]
    fn the_verdict_names_the_rejecter_users_and_risk() {
        let mut ra = ready();
        decide(&mut ra, Decision::Approve, "dan", &["developers"], T0);
        reject(&mut ra, "bob");
        reject(&mut ra, "carol");
        let verdict = assess(&ra, &policy(1), Trust::Verify(&key()), t(NOW));
        assert_eq!(verdict.state, AssessmentState::Rejected);
        assert_eq!(verdict.rejected_by.as_deref(), Some("bob"));
        assert_eq!(verdict.discounted[0].user.as_deref(), Some("dan"));
        assert_eq!(verdict.next_change(), None);
        let risk = verdict.risk.unwrap();
        assert_eq!((risk.inherent.score, risk.residual.score), (15, 9));
        assert_eq!(risk.above_appetite, ["R2"]);
    }

    #[test]
    fn only_an_approval_still_running_has_a_next_change() {
        let mut ra = ready();
        approve(&mut ra, "alice");
        let key = key();
        for (now, want) in [(NOW, Some(t(EXPIRY))), (EXPIRY, None)] {
            let verdict = assess(&ra, &policy(1), Trust::Verify(&key), t(now));
            assert_eq!(verdict.next_change(), want, "{now}");
        }
        let pending = assess(&ready(), &policy(1), Trust::Verify(&key), t(NOW));
        assert_eq!(pending.next_change(), None);
    }

    // --- admission checks -------------------------------------------------------------------

    #[test]
    fn approvals_can_only_be_appended() {
        let mut ra = ready();
        approve(&mut ra, "alice");
        reject(&mut ra, "bob");
        let old = ra.spec.approvals.clone();
        let with = |change: fn(&mut Vec<Approval>)| {
            let mut new = old.clone();
            change(&mut new);
            new
        };
        let cases: [(&str, Vec<Approval>, Result<(), ApprovalViolation>); 8] = [
            ("identical", old.clone(), Ok(())),
            ("appended", with(|n| n.push(n[0].clone())), Ok(())),
            (
                "decision edited",
                with(|n| n[1].decision = Decision::Approve),
                Err(ApprovalViolation::Edited { index: 1 }),
            ),
            (
                "comment edited",
                with(|n| n[0].comment = None),
                Err(ApprovalViolation::Edited { index: 0 }),
            ),
            (
                "stamp dropped (as kubectl apply of a stampless manifest would)",
                with(|n| n[0].stamp = None),
                Err(ApprovalViolation::Edited { index: 0 }),
            ),
            (
                "last removed",
                with(|n| {
                    n.pop();
                }),
                Err(ApprovalViolation::Removed { index: 1 }),
            ),
            (
                "first removed",
                with(|n| {
                    n.remove(0);
                }),
                Err(ApprovalViolation::Removed { index: 0 }),
            ),
            (
                "reordered",
                with(|n| n.swap(0, 1)),
                Err(ApprovalViolation::Edited { index: 0 }),
            ),
        ];
        for (name, new, want) in cases {
            assert_eq!(check_append_only(&old, &new), want, "{name}");
        }
        assert_eq!(check_append_only(&[], &old), Ok(()), "first entries");
        assert_eq!(check_append_only(&[], &[]), Ok(()), "none");
    }

    #[test]
    fn new_entries_come_from_approvers_on_complete_assessments() {
        let ready = ready().spec;
        let mut draft = ready.clone();
        draft.risks.clear();
        draft.impact_assessment = None;
        let approvers = strings(&[APPROVERS]);
        let developers = strings(&["developers"]);
        type Row<'a> = (
            &'a str,
            &'a RiskAssessmentSpec,
            &'a str,
            &'a [String],
            ApprovalPolicy,
            Result<(), ApprovalViolation>,
        );
        let cases: [Row<'_>; 8] = [
            (
                "an approver",
                &ready,
                "alice",
                &approvers,
                policy(1),
                Ok(()),
            ),
            (
                "anyone without a group restriction",
                &ready,
                "dan",
                &[],
                ApprovalPolicy::default(),
                Ok(()),
            ),
            (
                "the submitter",
                &ready,
                "sam",
                &approvers,
                policy(1),
                Err(ApprovalViolation::SelfApproval { user: "sam".into() }),
            ),
            (
                "an editor",
                &ready,
                "eve",
                &approvers,
                ApprovalPolicy::default(),
                Err(ApprovalViolation::SelfApproval { user: "eve".into() }),
            ),
            (
                "a non-approver",
                &ready,
                "dan",
                &developers,
                policy(1),
                Err(ApprovalViolation::NotAnApprover {
                    user: "dan".into(),
                    required: approvers.clone(),
                }),
            ),
            (
                "a user with no groups",
                &ready,
                "dan",
                &[],
                policy(1),
                Err(ApprovalViolation::NotAnApprover {
                    user: "dan".into(),
                    required: approvers.clone(),
                }),
            ),
            (
                "a draft",
                &draft,
                "alice",
                &approvers,
                policy(1),
                Err(ApprovalViolation::NotReady {
                    missing: vec![Incomplete::NoRisks, Incomplete::NoImpactAssessment],
                }),
            ),
            (
                "a self-approver is told so first",
                &draft,
                "sam",
                &developers,
                policy(1),
                Err(ApprovalViolation::SelfApproval { user: "sam".into() }),
            ),
        ];
        for (name, spec, user, groups, policy, want) in cases {
            assert_eq!(check_new_entry(spec, user, groups, &policy), want, "{name}");
        }
    }

    #[test]
    fn violations_tell_the_person_what_to_do() {
        for (violation, needles) in [
            (
                ApprovalViolation::Edited { index: 2 },
                &["append-only", "entry 2", "add your decision"][..],
            ),
            (
                ApprovalViolation::Removed { index: 0 },
                &["append-only", "entry 0", "stamps included"],
            ),
            (
                ApprovalViolation::SelfApproval { user: "sam".into() },
                &["sam", "another approver"],
            ),
            (
                ApprovalViolation::NotAnApprover {
                    user: "dan".into(),
                    required: strings(&["a", "b"]),
                },
                &["dan", "a, b", "administrator"],
            ),
            (
                ApprovalViolation::NotReady {
                    missing: vec![
                        Incomplete::NoRisks,
                        Incomplete::ImpactAssessmentNotCompleted,
                    ],
                },
                &["Draft", "spec.risks", "completedOn", "complete it"],
            ),
        ] {
            let message = violation.to_string();
            for needle in needles {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
        }
    }

    // --- totality ---------------------------------------------------------------------------

    fn timestamp() -> impl Strategy<Value = Timestamp> {
        (
            Timestamp::MIN.as_second()..=Timestamp::MAX.as_second(),
            0..1_000_000_000i32,
        )
            .prop_map(|(s, n)| Timestamp::new(s, n).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    fn arbitrary_stamp() -> impl Strategy<Value = ApprovalStamp> {
        (
            "(alice|sam|eve|dan|.{0,6})",
            proptest::collection::vec("(risk-approvers|developers|.{0,6})", 0..3),
            timestamp(),
            "(sha256:[0-9a-f]{64}|.{0,8})",
            "([0-9a-f]{64}|.{0,70})",
        )
            .prop_map(
                |(user, groups, at, content_hash, signature)| ApprovalStamp {
                    user,
                    groups,
                    at: Time(at),
                    content_hash,
                    signature,
                },
            )
    }

    /// An entry arbitrary in every field, and whether to give its stamp the current content hash.
    fn arbitrary_entry() -> impl Strategy<Value = (Approval, bool)> {
        (
            any::<bool>(),
            proptest::option::of(".{0,8}"),
            proptest::option::of(arbitrary_stamp()),
            any::<bool>(),
        )
            .prop_map(|(approve, comment, stamp, current)| {
                let decision = if approve {
                    Decision::Approve
                } else {
                    Decision::Reject
                };
                (
                    Approval {
                        decision,
                        comment,
                        stamp,
                    },
                    current,
                )
            })
    }

    proptest! {
        #[test]
        fn valid_for_parsing_never_panics(s in "\\PC{0,24}", digits in "[0-9]{1,30}", unit in "[smhdx ]?") {
            let _ = parse_valid_for(&s);
            let parsed = parse_valid_for(&format!("{digits}{unit}"));
            if let Ok(duration) = parsed {
                prop_assert!(duration.as_secs() >= 1);
            }
        }

        #[test]
        fn assess_and_content_hash_never_panic(
            likelihoods in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<Option<u8>>()), 0..4),
            threshold in any::<u8>(),
            valid_for in "([0-9]{1,25}[smhd]|\\PC{0,8})",
            min_approvals in any::<u8>(),
            restricted in any::<bool>(),
            as_written in any::<bool>(),
            namespace in proptest::option::of(".{0,6}"),
            entries in proptest::collection::vec(arbitrary_entry(), 0..6),
            users in proptest::collection::vec(("(alice|bob|sam|dan|.{0,4})", any::<bool>(), timestamp()), 0..6),
            now in timestamp(),
        ) {
            let mut ra = ready();
            ra.metadata.namespace = namespace;
            ra.spec.criteria.acceptance_threshold = threshold;
            ra.spec.valid_for = valid_for;
            ra.spec.risks = likelihoods
                .iter()
                .enumerate()
                .map(|(i, &(l, s, r))| {
                    let mut risk = ready().spec.risks[0].clone();
                    risk.id = i.to_string();
                    (risk.likelihood, risk.severity, risk.residual_likelihood) = (l, s, r);
                    risk
                })
                .collect();
            seal(&mut ra);
            let hash = content_hash(&ra.spec);
            prop_assert!(super::super::workload::is_sha256_digest(&hash));
            let key = key();
            // Hand-made entries, arbitrary in every field.
            for (mut approval, current) in entries {
                if let (Some(stamp), true) = (approval.stamp.as_mut(), current) {
                    stamp.content_hash = hash.clone();
                }
                ra.spec.approvals.push(approval);
            }
            // Properly stamped entries at arbitrary times.
            for (user, approve, at) in users {
                let groups = if approve { vec![APPROVERS.to_owned()] } else { Vec::new() };
                let approval = Approval { decision: Decision::Approve, comment: None, stamp: None };
                let index = ra.spec.approvals.len();
                let as_is = ra.clone();
                let stamp = stamp(
                    &key,
                    EntryRef::of(&as_is, index),
                    &approval,
                    &user,
                    &groups,
                    at,
                    &hash,
                );
                ra.spec.approvals.push(Approval { stamp: Some(stamp), ..approval });
            }
            let policy = ApprovalPolicy {
                approver_groups: if restricted { [APPROVERS.to_owned()].into() } else { BTreeSet::new() },
                min_approvals,
            };
            let trust = if as_written { Trust::AsWritten } else { Trust::Verify(&key) };
            let verdict = assess(&ra, &policy, trust, now);
            prop_assert_eq!(&verdict.content_hash, &hash);
            let mut distinct = verdict.approvers.clone();
            distinct.sort();
            distinct.dedup();
            prop_assert_eq!(distinct.len(), verdict.approvers.len());
            if verdict.state == AssessmentState::Approved {
                prop_assert!(verdict.approvers.len() >= policy.required());
                prop_assert!(verdict.expires_at.is_some_and(|e| now < e));
            }
            for approver in &verdict.approvers {
                prop_assert!(!is_self_approver(&ra.spec, approver));
            }
        }
    }
}
