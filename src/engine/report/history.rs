//! What the tamper-evident records add to the report: each time an enforced control started
//! failing and when it was resolved (the nonconformity register of ISO/IEC 42001 10.2), and the
//! history of approvals, rejections, expiries, halts and break-glass use, with how far the
//! records themselves verify.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::engine::chain::{Record, Verification};

/// The records' part of the report.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    /// Records read.
    pub records: usize,
    /// Segments (one per operator process and leadership).
    pub segments: usize,
    /// Whether they were also checked against the anchor in the cluster (a segment made up whole
    /// shows only there).
    pub anchored: bool,
    /// What is wrong with the records (edited, removed, reordered, cut off); empty when they
    /// verify.
    pub problems: Vec<String>,
    /// Every nonconformity: opened, and closed when it was.
    pub nonconformities: Vec<Episode>,
    /// Approvals, rejections, expiries, halts, resumes and break-glass use, oldest first.
    pub events: Vec<HistoryEvent>,
}

/// One nonconformity: an enforced control of a system failing from `opened` until `closed`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Episode {
    /// `namespace/name` of the system.
    pub system: String,
    /// The control.
    pub control: String,
    /// When it started failing.
    pub opened: Timestamp,
    /// What was wrong then.
    pub message: String,
    /// When it stopped failing, if it has.
    pub closed: Option<Timestamp>,
    /// Time to close, in seconds.
    pub seconds_to_close: Option<i64>,
}

/// One lifecycle event from the records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// When.
    pub at: Timestamp,
    /// What: `Approved`, `AssessmentState`, `ApprovalExpired`, `Halted`, `BreakGlassUsed`, ...
    pub event: String,
    /// `namespace/name` of the system (or of the assessment's system).
    pub system: String,
    /// The RiskAssessment, when the event is about one.
    pub assessment: String,
    /// Who: approvers, or the user who used break-glass.
    pub who: String,
    /// The assessed content's hash, for approvals.
    pub content_hash: String,
    /// What it says.
    pub detail: String,
}

/// The events the history lists (besides the decisions that used break-glass).
const LISTED: [&str; 9] = [
    "Approved",
    "ApprovalExpired",
    "ApprovalStale",
    "ApprovalRejected",
    "ApprovalWithdrawn",
    "ApprovalsDiscounted",
    "AssessmentState",
    "Halted",
    "Resumed",
];

/// The history the verified records hold; `anchored` when `v` was checked against the anchor.
pub fn from_records(v: &Verification, anchored: bool) -> History {
    let mut open: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut episodes: Vec<Episode> = Vec::new();
    let mut events = Vec::new();
    let mut records: Vec<&Record> = v.records.iter().collect();
    // Segments interleave in a collected log; time orders them (a record's own order within its
    // segment is kept: the sort is stable).
    records.sort_by_key(|r| r.at);
    for r in records {
        let system = format!("{}/{}", r.field("namespace"), r.field("system"));
        match r.event.as_str() {
            "ControlFailing" => {
                let key = (system.clone(), r.field("control").to_owned());
                if open.contains_key(&key) {
                    continue;
                }
                open.insert(key, episodes.len());
                episodes.push(Episode {
                    system,
                    control: r.field("control").to_owned(),
                    opened: r.at,
                    message: r.field("message").to_owned(),
                    closed: None,
                    seconds_to_close: None,
                });
            }
            "ControlResolved" => {
                if let Some(i) = open.remove(&(system, r.field("control").to_owned())) {
                    let e = &mut episodes[i];
                    e.closed = Some(r.at);
                    e.seconds_to_close = Some(r.at.duration_since(e.opened).as_secs());
                }
            }
            "AdmissionDecision" if !r.field("breakGlass").is_empty() => {
                events.push(HistoryEvent {
                    at: r.at,
                    event: "BreakGlassUsed".to_owned(),
                    system: format!("{}/{}", r.field("namespace"), r.field("system")),
                    assessment: String::new(),
                    who: r.field("user").to_owned(),
                    content_hash: String::new(),
                    detail: format!(
                        "{} {}/{}: {}",
                        r.field("operation"),
                        r.field("kind"),
                        r.field("name"),
                        r.field("breakGlass")
                    ),
                });
            }
            event if LISTED.contains(&event) => {
                let who = r
                    .fields
                    .get("approvers")
                    .and_then(|a| a.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                let detail = if event == "AssessmentState" {
                    format!("{} → {}", r.field("previousState"), r.field("state"))
                        .trim_start_matches(" → ")
                        .to_owned()
                } else {
                    r.field("note").to_owned()
                };
                events.push(HistoryEvent {
                    at: r.at,
                    event: event.to_owned(),
                    system,
                    assessment: r.field("assessment").to_owned(),
                    who,
                    content_hash: r.field("contentHash").to_owned(),
                    detail,
                });
            }
            _ => {}
        }
    }
    History {
        records: v.records.len(),
        segments: v.segments.len(),
        anchored,
        problems: v.problems.iter().map(ToString::to_string).collect(),
        nonconformities: episodes,
        events,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::engine::chain::{Segment, verify};

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_second(1_796_621_400 + minute * 60).unwrap()
    }

    fn f(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn nonconformities_open_and_close_and_approvals_are_listed() {
        let (mut s, first) = Segment::start("a.1", at(0), None, None, Map::new());
        let about = json!({"namespace": "credit", "system": "scoring"});
        let with = |extra: Value| {
            let mut m = f(about.clone());
            m.extend(f(extra));
            m
        };
        let lines = [
            first,
            s.seal(at(1), "ControlFailing", with(json!({"control": "A.6.2.5", "message": "no approval"}))),
            s.seal(at(2), "ControlFailing", with(json!({"control": "A.6.2.5"}))),
            s.seal(at(30), "Approved", with(json!({"assessment": "scoring-v3", "approvers": ["alice", "bob"], "contentHash": "sha256:ab", "note": "approved"}))),
            s.seal(at(31), "ControlResolved", with(json!({"control": "A.6.2.5"}))),
            s.seal(at(40), "ControlFailing", with(json!({"control": "A.9.2"}))),
            s.seal(at(41), "AdmissionDecision", with(json!({"user": "oncall", "operation": "CREATE", "kind": "Deployment", "name": "scorer", "breakGlass": "INC-7 until 2026-12-08"}))),
            s.seal(at(42), "AdmissionDecision", with(json!({"user": "dev", "breakGlass": ""}))),
        ];
        let v = verify(lines.iter().map(String::as_str), None);
        let h = from_records(&v, false);
        assert!(h.problems.is_empty());
        assert_eq!(h.records, 8);
        assert_eq!(
            h.nonconformities.len(),
            2,
            "a second failing record of an open one adds none"
        );
        let closed = &h.nonconformities[0];
        assert_eq!(
            (closed.system.as_str(), closed.control.as_str()),
            ("credit/scoring", "A.6.2.5")
        );
        assert_eq!(closed.message, "no approval");
        assert_eq!(closed.seconds_to_close, Some(30 * 60));
        assert_eq!(h.nonconformities[1].closed, None);
        let events: Vec<(&str, &str)> = h
            .events
            .iter()
            .map(|e| (e.event.as_str(), e.who.as_str()))
            .collect();
        assert_eq!(
            events,
            [("Approved", "alice, bob"), ("BreakGlassUsed", "oncall")]
        );
        assert_eq!(h.events[0].content_hash, "sha256:ab");
    }
}
