//! The operator's tamper-evident records ([`crate::engine::chain`]): one [`Chain`] per process,
//! shared by the webhook (a record per admission decision) and the controllers (a record per
//! lifecycle transition), written as JSON lines to standard output, whatever the log format of
//! the rest; and its [`anchor`] in the cluster.

pub mod anchor;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::engine::chain::{Head, Segment};

/// The records of this process: its current segment and where its lines go.
pub struct Chain {
    identity: String,
    inner: Mutex<Inner>,
}

struct Inner {
    segment: Segment,
    out: Box<dyn Write + Send>,
}

impl Chain {
    /// Starts a segment for `identity` (this replica's name), linked to `previous` (the head last
    /// anchored in the cluster, when there is one), writing to `out`.
    pub fn start(identity: &str, previous: Option<&Head>, out: Box<dyn Write + Send>) -> Arc<Self> {
        let now = Timestamp::now();
        let (segment, line) = Segment::start(
            &segment_id(identity, now),
            now,
            previous,
            None,
            fields([("replica", identity.into()), ("reason", "start".into())]),
        );
        let mut inner = Inner { segment, out };
        inner.write(&line);
        Arc::new(Self {
            identity: identity.to_owned(),
            inner: Mutex::new(inner),
        })
    }

    /// [`Chain::start`] writing to standard output.
    pub fn to_stdout(identity: &str, previous: Option<&Head>) -> Arc<Self> {
        Self::start(identity, previous, Box::new(std::io::stdout()))
    }

    /// A chain whose lines go nowhere: for benchmarks and tests that do not read them.
    pub fn discard() -> Arc<Self> {
        Self::start("discard", None, Box::new(std::io::sink()))
    }

    /// Appends one record: `event` with its `fields`.
    pub fn record(&self, event: &str, fields: Map<String, Value>) {
        let mut inner = self.lock();
        let line = inner.segment.seal(Timestamp::now(), event, fields);
        inner.write(&line);
    }

    /// The last record written.
    pub fn head(&self) -> Option<Head> {
        self.lock().segment.head()
    }

    /// Starts a new segment, linked to this one's head and, when given, to `follows` (the head of
    /// the replica this one takes over from): a leader change.
    pub fn restart(&self, reason: &str, follows: Option<&Head>) {
        let now = Timestamp::now();
        let mut inner = self.lock();
        let previous = inner.segment.head();
        let (segment, line) = Segment::start(
            &segment_id(&self.identity, now),
            now,
            previous.as_ref(),
            follows,
            fields([
                ("replica", self.identity.clone().into()),
                ("reason", reason.into()),
            ]),
        );
        inner.segment = segment;
        inner.write(&line);
    }

    /// Closes the segment: its process stops in order.
    pub fn close(&self) {
        self.record(crate::engine::chain::SEGMENT_CLOSED, Map::new());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock left at worst a line unwritten; the chain goes on.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    fn write(&mut self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        // One write per line, so lines of other writers never interleave inside it.
        if let Err(e) = self.out.write_all(&bytes).and_then(|()| self.out.flush()) {
            tracing::error!(error = %e, "cannot write a record to standard output");
        }
    }
}

/// A segment id: the replica's name, the start time in milliseconds and a random suffix (a
/// leadership can start in the millisecond its process did), in the characters a ConfigMap key
/// allows (the anchor keys heads by segment).
fn segment_id(identity: &str, now: Timestamp) -> String {
    let mut random = [0u8; 3];
    // Without randomness the time alone still tells segments of different milliseconds apart.
    let _ = getrandom::fill(&mut random);
    let name: String = identity
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .take(200)
        .collect();
    format!(
        "{name}.{}-{}",
        now.as_millisecond(),
        crate::engine::approval::hex(&random)
    )
}

/// An event's fields from `(name, value)` pairs.
pub fn fields<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::chain::verify;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_process_writes_a_verifiable_chain_across_a_leader_change() {
        let out = Shared::default();
        let chain = Chain::start("aims-operator-0", None, Box::new(out.clone()));
        chain.record("AdmissionDecision", fields([("verdict", "deny".into())]));
        let before = chain.head().unwrap();
        chain.restart("leader", None);
        chain.record("Approved", fields([("system", "scoring".into())]));
        chain.close();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let v = verify(text.lines(), None);
        assert!(v.problems.is_empty(), "{:?}\n{text}", v.problems);
        assert_eq!(v.segments.len(), 2);
        assert!(v.segments[1].closed);
        assert_eq!(v.records[2].link("previous"), Some(before));
        assert!(v.segments[0].id.starts_with("aims-operator-0."));
    }
}
