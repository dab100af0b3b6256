//! Break-glass: the annotations under which a member of the break-glass group admits a workload
//! that fails its controls, for a bounded time, and what they ask for. Whether a request may
//! break the glass is decided in admission ([`super::admission::workload`]); the controller's
//! evaluation reports the break-glass in force.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::workload::WorkloadFacts;

/// The annotation that names the incident ticket a break-glass admission is made under.
pub const BREAK_GLASS_TICKET: &str = "aims.dev/break-glass-ticket";
/// The annotation that says why a workload must run despite failing controls.
pub const BREAK_GLASS_REASON: &str = "aims.dev/break-glass-reason";
/// The annotation that bounds a break-glass admission in time (RFC 3339).
pub const BREAK_GLASS_UNTIL: &str = "aims.dev/break-glass-until";
/// Who may break the glass, and for how long at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakGlassPolicy {
    /// The group whose members may admit a workload under break-glass.
    pub group: String,
    /// The longest a break-glass admission may last, from the request that makes it.
    pub max: SignedDuration,
}

impl Default for BreakGlassPolicy {
    /// Members of `aims:break-glass`, for at most 24 hours.
    fn default() -> Self {
        Self {
            group: "aims:break-glass".to_owned(),
            max: SignedDuration::from_hours(24),
        }
    }
}

/// A break-glass admission in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlass {
    /// The incident ticket.
    pub ticket: String,
    /// Why.
    pub reason: String,
    /// Until when.
    pub until: Timestamp,
}

/// The break-glass annotations of `w`: `None` when it carries none, otherwise the admission they
/// ask for, or what is wrong with them (naming the annotation).
pub fn break_glass_of(w: &WorkloadFacts) -> Option<Result<BreakGlass, String>> {
    let a = &w.annotations;
    if ![BREAK_GLASS_TICKET, BREAK_GLASS_REASON, BREAK_GLASS_UNTIL]
        .iter()
        .any(|k| a.contains_key(*k))
    {
        return None;
    }
    let field = |key: &str| {
        a.get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("metadata.annotations[{key}] is missing or empty"))
    };
    Some((|| {
        let ticket = field(BREAK_GLASS_TICKET)?.to_owned();
        let reason = field(BREAK_GLASS_REASON)?.to_owned();
        let until = field(BREAK_GLASS_UNTIL)?;
        let until: Timestamp = until.parse().map_err(|e| {
            format!(
                "metadata.annotations[{BREAK_GLASS_UNTIL}] is not an RFC 3339 time ({until:?}): {e}"
            )
        })?;
        Ok(BreakGlass {
            ticket,
            reason,
            until,
        })
    })())
}
