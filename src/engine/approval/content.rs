//! The content an approval binds to ([`content_hash`]), and how long an approval stays valid
//! ([`parse_valid_for`]).

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::api::{Criteria, ImpactAssessment, Risk, RiskAssessmentSpec, Scope};

use super::*;

/// The assessed content, in a fixed field order: what an approval is an approval of. Approvals
/// and who submitted or edited the assessment are not part of it (they are about the content, not
/// in it), nor is `systemRef` (the API server keeps it from changing).
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub(super) struct Content<'a> {
    pub(super) scope: &'a Scope,
    pub(super) criteria: &'a Criteria,
    pub(super) risks: &'a [Risk],
    pub(super) impact_assessment: Option<&'a ImpactAssessment>,
    pub(super) valid_for: &'a str,
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
pub(super) fn expiry(approved_at: Timestamp, valid_for: &str) -> Timestamp {
    parse_valid_for(valid_for)
        .ok()
        .and_then(|duration| approved_at.checked_add(duration).ok())
        .unwrap_or(approved_at)
}
