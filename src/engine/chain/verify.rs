//! Checks a collected log: every record's hash, every link, and the order and completeness of
//! each segment; names the first record that was edited, removed, reordered or cut off.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Head, Record, SEGMENT_CLOSED, SEGMENT_STARTED, find, hash_of};

/// What is wrong with a collected log. Every variant names the record (segment and sequence
/// number) and, where it has one, the line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "camelCase")]
pub enum Problem {
    /// A line that holds a record cannot be read.
    Unreadable {
        /// The line number, from 1.
        line: usize,
        /// Why.
        error: String,
    },
    /// A record's content does not match its hash, or its hash was recomputed after an edit and
    /// the next record no longer links to it.
    Edited {
        /// The segment.
        segment: String,
        /// The record.
        seq: u64,
        /// Its line.
        line: usize,
        /// How it shows.
        how: String,
    },
    /// Records are missing from a segment.
    Removed {
        /// The segment.
        segment: String,
        /// The first record missing.
        from: u64,
        /// The last record missing.
        to: u64,
        /// The line of the record after the gap.
        line: usize,
    },
    /// A record comes after a later record of its segment.
    Reordered {
        /// The segment.
        segment: String,
        /// The record out of place.
        seq: u64,
        /// Its line.
        line: usize,
        /// The later record it comes after.
        after: u64,
    },
    /// A record appears twice.
    Duplicated {
        /// The segment.
        segment: String,
        /// The record.
        seq: u64,
        /// The line of the second copy.
        line: usize,
    },
    /// A segment's first records are not in the log.
    CutAtStart {
        /// The segment.
        segment: String,
        /// The first record the log holds.
        first: u64,
    },
    /// A segment's last records are not in the log: a later segment links to, or the anchor in
    /// the cluster holds, a record past the last one the log holds.
    CutAtEnd {
        /// The segment.
        segment: String,
        /// The last record the log holds.
        last: u64,
        /// The record known to exist.
        known: u64,
        /// What knows it: a later segment, or the anchor.
        by: String,
    },
    /// A segment the anchor in the cluster does not know: the operator did not write it, or it is
    /// older than the segments the anchor keeps.
    Unanchored {
        /// The segment.
        segment: String,
    },
    /// A segment links to a record of another that the log holds with another hash.
    BrokenLink {
        /// The segment whose first record links.
        segment: String,
        /// Where it links to.
        to: String,
        /// The record linked to.
        seq: u64,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable { line, error } => {
                write!(f, "line {line}: a record that cannot be read: {error}")
            }
            Self::Edited {
                segment,
                seq,
                line,
                how,
            } => write!(
                f,
                "record {seq} of segment {segment} (line {line}) was edited: {how}"
            ),
            Self::Removed {
                segment,
                from,
                to,
                line,
            } if from == to => write!(
                f,
                "record {from} of segment {segment} was removed (the gap is before line {line})"
            ),
            Self::Removed {
                segment,
                from,
                to,
                line,
            } => write!(
                f,
                "records {from} to {to} of segment {segment} were removed (the gap is before line {line})"
            ),
            Self::Reordered {
                segment,
                seq,
                line,
                after,
            } => write!(
                f,
                "record {seq} of segment {segment} (line {line}) was moved: it comes after record {after}"
            ),
            Self::Duplicated { segment, seq, line } => write!(
                f,
                "record {seq} of segment {segment} appears again at line {line}"
            ),
            Self::CutAtStart { segment, first } => write!(
                f,
                "segment {segment} is cut off at its start: the log begins at record {first}"
            ),
            Self::CutAtEnd {
                segment,
                last,
                known,
                by,
            } => write!(
                f,
                "segment {segment} is cut off after record {last}: {by} shows record {known}"
            ),
            Self::Unanchored { segment } => write!(
                f,
                "segment {segment} is not in the anchor in the cluster: the operator did not write it, or it is older than the segments the anchor keeps"
            ),
            Self::BrokenLink { segment, to, seq } => write!(
                f,
                "segment {segment} links to record {seq} of segment {to}, which the log holds with another hash"
            ),
        }
    }
}

/// One segment as the log holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentSummary {
    /// Its id.
    pub id: String,
    /// How many records of it the log holds.
    pub records: usize,
    /// The first and last sequence numbers held.
    pub first: u64,
    /// The last.
    pub last: u64,
    /// Whether its last record closes it (its process stopped in order).
    pub closed: bool,
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, Default)]
pub struct Verification {
    /// Lines read.
    pub lines: usize,
    /// The records found, in the log's order.
    pub records: Vec<Record>,
    /// The segments, in the order they first appear.
    pub segments: Vec<SegmentSummary>,
    /// What is wrong, in the log's order per kind of check.
    pub problems: Vec<Problem>,
}

struct Held {
    line: usize,
    record: Record,
    hash_ok: bool,
}

/// Checks `lines` (a collected log; lines that hold no record are skipped) against themselves
/// and, when given, against `anchors` (segment → the head the operator anchored in the cluster):
/// then every segment must be anchored, since a segment made up whole, with hashes of its own
/// (text that reached the log some other way), is consistent in itself and shows only there.
pub fn verify<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    anchors: Option<&BTreeMap<String, Head>>,
) -> Verification {
    let mut out = Verification::default();
    let mut order: Vec<String> = Vec::new();
    let mut by_segment: BTreeMap<String, Vec<Held>> = BTreeMap::new();
    for (i, line) in lines.into_iter().enumerate() {
        out.lines += 1;
        let line_no = i + 1;
        match find(line) {
            None => {}
            Some(Err(e)) => out.problems.push(Problem::Unreadable {
                line: line_no,
                error: e.to_string(),
            }),
            Some(Ok((record, value))) => {
                let hash_ok = hash_of(&value) == record.hash;
                if !by_segment.contains_key(&record.segment) {
                    order.push(record.segment.clone());
                }
                out.records.push(record.clone());
                by_segment
                    .entry(record.segment.clone())
                    .or_default()
                    .push(Held {
                        line: line_no,
                        record,
                        hash_ok,
                    });
            }
        }
    }
    for id in &order {
        let held = &by_segment[id];
        let anchor = anchors.and_then(|a| a.get(id));
        let (summary, problems) = check_segment(id, held, anchor);
        out.segments.push(summary);
        out.problems.extend(problems);
        if anchors.is_some() && anchor.is_none() {
            out.problems.push(Problem::Unanchored {
                segment: id.clone(),
            });
        }
    }
    // Links between segments: a segment's first record names where the one before it ended.
    for id in &order {
        let Some(first) = by_segment[id].iter().find(|h| h.record.seq == 0) else {
            continue;
        };
        if first.record.event != SEGMENT_STARTED {
            continue;
        }
        for name in ["previous", "follows"] {
            let Some(link) = first.record.link(name) else {
                continue;
            };
            let Some(target) = by_segment.get(&link.segment) else {
                continue;
            };
            match target.iter().find(|h| h.record.seq == link.seq) {
                Some(h) if h.record.hash != link.hash => out.problems.push(Problem::BrokenLink {
                    segment: id.clone(),
                    to: link.segment.clone(),
                    seq: link.seq,
                }),
                Some(_) => {}
                None => {
                    let last = target.iter().map(|h| h.record.seq).max().unwrap_or(0);
                    if link.seq > last {
                        out.problems.push(Problem::CutAtEnd {
                            segment: link.segment.clone(),
                            last,
                            known: link.seq,
                            by: format!("segment {id}"),
                        });
                    }
                }
            }
        }
    }
    out
}

fn check_segment(id: &str, held: &[Held], anchor: Option<&Head>) -> (SegmentSummary, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<u64, &Held> = BTreeMap::new();
    let mut highest: Option<u64> = None;
    for h in held {
        let seq = h.record.seq;
        if seen.contains_key(&seq) {
            problems.push(Problem::Duplicated {
                segment: id.to_owned(),
                seq,
                line: h.line,
            });
            continue;
        }
        if let Some(after) = highest.filter(|&high| seq < high) {
            problems.push(Problem::Reordered {
                segment: id.to_owned(),
                seq,
                line: h.line,
                after,
            });
        }
        highest = highest.max(Some(seq));
        if !h.hash_ok {
            problems.push(edited(id, h, "its content does not match its hash"));
        }
        seen.insert(seq, h);
    }
    let mut sorted = seen.values().copied();
    let first = sorted.next().map(|h| h.record.seq).unwrap_or(0);
    if first > 0 {
        problems.push(Problem::CutAtStart {
            segment: id.to_owned(),
            first,
        });
    }
    let mut before = seen.values().next().copied();
    for h in sorted {
        let Some(prev) = before else { break };
        if h.record.seq != prev.record.seq + 1 {
            problems.push(Problem::Removed {
                segment: id.to_owned(),
                from: prev.record.seq + 1,
                to: h.record.seq - 1,
                line: h.line,
            });
        } else if h.record.prev != prev.record.hash && prev.hash_ok {
            problems.push(edited(
                id,
                prev,
                &format!(
                    "its hash was recomputed: record {} no longer links to it",
                    h.record.seq
                ),
            ));
        }
        before = Some(h);
    }
    let last = seen.keys().next_back().copied().unwrap_or(0);
    if let Some(anchor) = anchor {
        match seen.get(&anchor.seq) {
            Some(h) if h.record.hash != anchor.hash && h.hash_ok => problems.push(edited(
                id,
                h,
                "the anchor in the cluster holds another hash for it",
            )),
            Some(_) => {}
            None if anchor.seq > last => problems.push(Problem::CutAtEnd {
                segment: id.to_owned(),
                last,
                known: anchor.seq,
                by: "the anchor in the cluster".to_owned(),
            }),
            None => {}
        }
    }
    let closed = seen
        .values()
        .next_back()
        .is_some_and(|h| h.record.event == SEGMENT_CLOSED);
    let summary = SegmentSummary {
        id: id.to_owned(),
        records: seen.len(),
        first,
        last,
        closed,
    };
    (summary, problems)
}

fn edited(segment: &str, h: &Held, how: &str) -> Problem {
    Problem::Edited {
        segment: segment.to_owned(),
        seq: h.record.seq,
        line: h.line,
        how: how.to_owned(),
    }
}
