//! The tamper-evident records: the decision log and the lifecycle transitions (approved,
//! expired, halted, a control starting or stopping to fail, ...) as a hash chain of JSON lines.
//!
//! Each record carries its segment, its sequence number in it, the hash of the record before it
//! (`prev`) and its own `hash`: SHA-256 over the record's canonical JSON (keys sorted, no spaces)
//! without `hash`. A process writes one segment; a restart or a leader change starts a new one
//! whose first record (`SegmentStarted`, sequence 0) links to where the last one ended (its
//! `prev` is that record's hash), so a restart is a linked segment, not a silent gap. The
//! operator anchors each segment's head in the cluster at intervals.
//!
//! Pure: the writer ([`Segment`]) is given the time, and [`verify`] reads lines.
//!
//! ```text
//! {"at":"2026-12-07T05:30:00Z","event":"Approved","hash":"sha256:…","namespace":"credit",
//!  "prev":"sha256:…","record":"aims/v1","segment":"aims-operator-0.1796621400000","seq":7,…}
//! ```

pub mod verify;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use verify::{Problem, SegmentSummary, Verification, verify};

/// The value of every record's `record` field: what marks a log line as one of these records.
pub const FORMAT: &str = "aims/v1";

/// The `prev` of a first segment's first record: the chain starts from nothing.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The event of a segment's first record.
pub const SEGMENT_STARTED: &str = "SegmentStarted";

/// The event of a segment's last record, when its process stopped in order.
pub const SEGMENT_CLOSED: &str = "SegmentClosed";

/// The fields every record has; an event's own fields never take these names.
const RESERVED: [&str; 7] = ["record", "segment", "seq", "prev", "at", "event", "hash"];

/// A point in the chain: a segment's record and its hash (what an anchor holds, and what a new
/// segment links to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// The segment.
    pub segment: String,
    /// The record's sequence number in it.
    pub seq: u64,
    /// The record's hash.
    pub hash: String,
    /// When it was written.
    pub at: Timestamp,
}

/// One record, as read back from a line.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The segment it belongs to.
    pub segment: String,
    /// Its sequence number in the segment, from 0.
    pub seq: u64,
    /// The hash of the record before it (or of the record the segment links to).
    pub prev: String,
    /// When it was written.
    pub at: Timestamp,
    /// What happened: `AdmissionDecision`, `Approved`, `ControlFailing`, ...
    pub event: String,
    /// The event's own fields.
    pub fields: Map<String, Value>,
    /// The hash the record states for itself.
    pub hash: String,
}

impl Record {
    /// A string field of the event, or "".
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// The record this one's segment links to, for a `SegmentStarted` record: the field `name`
    /// (`previous`, or `follows` for the leader it takes over from).
    pub fn link(&self, name: &str) -> Option<Head> {
        serde_json::from_value(self.fields.get(name)?.clone()).ok()
    }
}

/// The writer's side of one segment: seals events into lines.
#[derive(Clone, Debug)]
pub struct Segment {
    id: String,
    next: u64,
    prev: String,
    last_at: Option<Timestamp>,
}

impl Segment {
    /// Starts segment `id` at `at`, linked to `previous` (where the last segment ended) and, for a
    /// leader change, `follows` (the head of the leader it takes over from); returns it and its
    /// first line.
    pub fn start(
        id: &str,
        at: Timestamp,
        previous: Option<&Head>,
        follows: Option<&Head>,
        mut fields: Map<String, Value>,
    ) -> (Self, String) {
        let mut segment = Self {
            id: id.to_owned(),
            next: 0,
            prev: previous.map_or_else(|| GENESIS.to_owned(), |h| h.hash.clone()),
            last_at: None,
        };
        for (name, link) in [("previous", previous), ("follows", follows)] {
            if let Some(link) = link {
                fields.insert(name.into(), serde_json::to_value(link).unwrap_or_default());
            }
        }
        let line = segment.seal(at, SEGMENT_STARTED, fields);
        (segment, line)
    }

    /// Seals one event into a line (without its newline), the next record of the segment: the
    /// record's canonical JSON with `hash` added last (verification takes `hash` out and
    /// canonicalizes the rest, so its place does not matter).
    pub fn seal(&mut self, at: Timestamp, event: &str, fields: Map<String, Value>) -> String {
        let mut object = fields;
        object.retain(|k, _| !RESERVED.contains(&k.as_str()));
        object.insert("record".into(), FORMAT.into());
        object.insert("segment".into(), self.id.clone().into());
        object.insert("seq".into(), self.next.into());
        object.insert("prev".into(), self.prev.clone().into());
        object.insert("at".into(), at.to_string().into());
        object.insert("event".into(), event.into());
        let mut line = canonical(&Value::Object(object));
        let hash = digest(&line);
        line.pop();
        line.push_str(",\"hash\":\"");
        line.push_str(&hash);
        line.push_str("\"}");
        self.prev = hash;
        self.next += 1;
        self.last_at = Some(at);
        line
    }

    /// The last record written, if any.
    pub fn head(&self) -> Option<Head> {
        Some(Head {
            segment: self.id.clone(),
            seq: self.next.checked_sub(1)?,
            hash: self.prev.clone(),
            at: self.last_at?,
        })
    }

    /// The segment's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// `sha256:<hex>` of the canonical JSON of `record` without its `hash` field.
pub fn hash_of(record: &Value) -> String {
    match record {
        Value::Object(map) if map.contains_key("hash") => {
            let mut map = map.clone();
            map.remove("hash");
            digest(&canonical(&Value::Object(map)))
        }
        other => digest(&canonical(other)),
    }
}

fn digest(text: &str) -> String {
    format!(
        "sha256:{}",
        super::approval::hex(&Sha256::digest(text.as_bytes()))
    )
}

/// JSON with every object's keys sorted and no whitespace: the same text for the same value
/// whatever order a log pipeline wrote the keys in.
pub fn canonical(value: &Value) -> String {
    let mut out = Vec::with_capacity(512);
    write_canonical(value, &mut out);
    // Only serde_json's output and ASCII punctuation were written.
    String::from_utf8(out).unwrap_or_default()
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Writing a string or a scalar into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *out, key);
                out.push(b':');
                write_canonical(&map[key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// Why a line that holds a record cannot be read as one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// Not JSON.
    #[error("not JSON: {0}")]
    Json(String),
    /// A field is missing or of the wrong type (or, for `record`, not this format).
    #[error("field `{0}` is missing or not {1}")]
    Field(&'static str, &'static str),
}

/// Finds the record in one log line: the line itself, the line after a prefix (`kubectl logs
/// --timestamps`, a container runtime's `<time> stdout F `), or a log pipeline's JSON wrapping
/// whose string field (`log`, `message`, ...) holds it. `None` for a line that holds no record.
pub fn find(line: &str) -> Option<Result<(Record, Value), Unreadable>> {
    let marker = format!("\"record\":\"{FORMAT}\"");
    let escaped = format!("\\\"record\\\":\\\"{FORMAT}\\\"");
    let wrapped = !line.contains(&marker);
    if wrapped && !line.contains(&escaped) {
        // A record whose `record` field was changed is still one: its chain fields say so.
        return looks_like_a_record(line).then_some(Err(Unreadable::Field("record", FORMAT)));
    }
    let start = line.find('{')?;
    let text = line[start..].trim_end();
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return Some(Err(Unreadable::Json(e.to_string()))),
    };
    if value.get("record").and_then(Value::as_str) == Some(FORMAT) {
        return Some(read(value));
    }
    // A pipeline's wrapping: the record is a string inside.
    let inner = value
        .as_object()?
        .values()
        .filter_map(Value::as_str)
        .find(|s| s.contains(&marker))?;
    find(inner)
}

/// Whether `line` holds the fields of a record, whatever its `record` field says.
fn looks_like_a_record(line: &str) -> bool {
    [
        "\"prev\":\"sha256:",
        "\"hash\":\"sha256:",
        "\"segment\":",
        "\"seq\":",
    ]
    .iter()
    .all(|field| line.contains(field))
}

fn read(value: Value) -> Result<(Record, Value), Unreadable> {
    let text = |name: &'static str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(Unreadable::Field(name, "a string"))
    };
    let record = Record {
        segment: text("segment")?,
        seq: value
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or(Unreadable::Field("seq", "a whole number"))?,
        prev: text("prev")?,
        at: text("at")?
            .parse()
            .map_err(|_| Unreadable::Field("at", "an RFC 3339 time"))?,
        event: text("event")?,
        hash: text("hash")?,
        fields: value
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    Ok((record, value))
}

#[cfg(test)]
mod tests;
