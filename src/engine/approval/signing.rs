//! The operator's signature on each approval entry: the signing key, what is signed, [`stamp`],
//! [`sign`] and [`verify`].

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use jiff::{RoundMode, SignedDuration, Timestamp, TimestampRound, Unit};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use sha2::Sha256;

use crate::api::{Approval, ApprovalStamp, Decision, RiskAssessment};

use super::*;

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
pub(super) const DRY_RUN_SUFFIX: &str = "/dry-run";

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
    pub(super) mac: Hmac<Sha256>,
    pub(super) dry_run: bool,
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
    pub(super) fn start(&self, domain: &str) -> Vec<u8> {
        let mut m = Vec::with_capacity(256);
        if self.dry_run {
            put_bytes(&mut m, format!("{domain}{DRY_RUN_SUFFIX}").as_bytes());
        } else {
            put_bytes(&mut m, domain.as_bytes());
        }
        m
    }

    pub(super) fn tag(&self, message: &[u8]) -> String {
        let tag = self.mac.clone().chain_update(message).finalize();
        hex(&tag.into_bytes())
    }

    pub(super) fn verifies(&self, message: &[u8], signature: &str) -> bool {
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
    pub(super) fn with_editors(self, n: usize) -> Self {
        Self {
            editors: self.editors.get(..n).unwrap_or(self.editors),
            ..self
        }
    }

    pub(super) fn put_record(&self, m: &mut Vec<u8>) {
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
    pub(super) fn message(&self, key: &SigningKey) -> Vec<u8> {
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

pub(super) fn put_len(m: &mut Vec<u8>, n: usize) {
    m.extend_from_slice(&u64::try_from(n).unwrap_or(u64::MAX).to_be_bytes());
}

pub(super) fn put_bytes(m: &mut Vec<u8>, bytes: &[u8]) {
    put_len(m, bytes.len());
    m.extend_from_slice(bytes);
}

pub(super) fn put_optional(m: &mut Vec<u8>, value: Option<&str>) {
    match value {
        None => m.push(0),
        Some(value) => {
            m.push(1);
            put_bytes(m, value.as_bytes());
        }
    }
}

/// RFC 3339 in UTC at whole seconds, for example 2025-11-01T09:00:00Z.
pub(super) fn put_time(m: &mut Vec<u8>, at: Timestamp) {
    put_bytes(m, format!("{:.0}", whole_seconds(at)).as_bytes());
}

pub(super) fn decision_name(decision: Decision) -> &'static str {
    match decision {
        Decision::Approve => "Approve",
        Decision::Reject => "Reject",
    }
}

/// `at` rounded down to the second: Kubernetes serializes times at whole seconds, so a stamp is
/// signed as it will be stored.
pub(super) fn whole_seconds(at: Timestamp) -> Timestamp {
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
