//! The signed record of who submitted and who edited an assessment's content.

use std::fmt;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::Serialize;

use crate::api::{RecordStamp, RiskAssessment};

use super::*;

pub(super) fn record_message(
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

pub(super) fn unhex_lower(s: &str) -> Option<Vec<u8>> {
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
