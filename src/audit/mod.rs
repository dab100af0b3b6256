//! The operator's tamper-evident records ([`crate::engine::chain`]): one [`Chain`] per process,
//! shared by the webhook (a record per admission decision) and the controllers (a record per
//! lifecycle transition), written as JSON lines to standard output, whatever the log format of
//! the rest; and its [`anchor`] in the cluster.
//!
//! Records are sealed (canonical JSON, SHA-256) and written by a thread of their own, in the order
//! they were made: whoever makes one only queues it. A decision's record thus costs the webhook a
//! push onto a queue instead of its sealing and a write to standard output on the async runtime's
//! threads, and a standard output that is read late (a log pipeline behind) holds up no request
//! while the queue has room. When it has none, the maker waits for room: a record is never
//! dropped, and the wait is logged.

pub mod anchor;

use std::{
    io::Write,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, SyncSender, TrySendError},
    },
    thread::JoinHandle,
    time::Duration,
};

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::engine::chain::{Head, Segment};

/// How many records may wait for the writer: about a second of reviews at 1,000 a second.
pub const QUEUE: usize = 1024;

/// How long the writer lets records gather after writing, while more keep coming: they are then
/// written together, and a steady stream of records does not wake the writer once per record. A
/// record reaches standard output within about this long.
const LINGER: Duration = Duration::from_millis(2);

/// What one `write` to standard output holds at most: whole lines up to the size a pipe writes at
/// once (`PIPE_BUF`), so lines of other writers never interleave inside one.
const WRITE_MAX: usize = 4096;

/// The records of this process: its current segment and where its lines go.
pub struct Chain {
    identity: String,
    /// The segment and the output. The writer seals and writes each record under this lock, so the
    /// head read under it is always a record already written.
    state: Arc<Mutex<Inner>>,
    /// Records on their way to the writer, in the order they were made.
    queue: SyncSender<Entry>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Whether makers are waiting for room in the queue (logged once per episode).
    behind: AtomicBool,
}

struct Inner {
    segment: Segment,
    out: Box<dyn Write + Send>,
    /// Whole lines not yet written.
    pending: Vec<u8>,
}

/// An event's fields, or how to make them: the webhook hands over the request and the decision,
/// and the writer makes the fields (and drops the request) off the request's path.
type MakeFields = Box<dyn FnOnce() -> Map<String, Value> + Send>;

/// What the writer is asked to do, in order.
enum Entry {
    /// Seal and write one record.
    Record {
        event: &'static str,
        fields: MakeFields,
    },
    /// Start a new segment; answer once its first record is written.
    Restart {
        reason: String,
        follows: Option<Head>,
        done: SyncSender<()>,
    },
    /// Answer once every record queued before is written.
    Flush(SyncSender<()>),
    /// Write what is queued before, and stop.
    Stop,
}

impl Chain {
    /// Starts a segment for `identity` (this replica's name), linked to `previous` (the head last
    /// anchored in the cluster, when there is one), writing to `out`; its first record is written
    /// before this returns.
    pub fn start(identity: &str, previous: Option<&Head>, out: Box<dyn Write + Send>) -> Arc<Self> {
        let now = Timestamp::now();
        let (segment, line) = Segment::start(
            &segment_id(identity, now),
            now,
            previous,
            None,
            fields([("replica", identity.into()), ("reason", "start".into())]),
        );
        let mut inner = Inner {
            segment,
            out,
            pending: Vec::new(),
        };
        inner.push(&line);
        inner.write_pending();
        let state = Arc::new(Mutex::new(inner));
        let (queue, entries) = std::sync::mpsc::sync_channel(QUEUE);
        let writer = {
            let state = state.clone();
            let identity = identity.to_owned();
            std::thread::Builder::new()
                .name("aims-records".into())
                .spawn(move || write_entries(&state, &identity, &entries))
        };
        // Without a thread (it could not be started), the queue has no reader and every record
        // is written by its maker (see `Chain::record_with`).
        let writer = writer
            .inspect_err(|e| {
                tracing::error!(error = %e, "cannot start the records' writer; records are written as they are made");
            })
            .ok();
        Arc::new(Self {
            identity: identity.to_owned(),
            state,
            queue,
            writer: Mutex::new(writer),
            behind: AtomicBool::new(false),
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
    pub fn record(&self, event: &'static str, fields: Map<String, Value>) {
        self.record_with(event, move || fields);
    }

    /// Appends one record: `event` with the fields `make` returns, made by the writer. Returns
    /// once the record is queued; when the queue is full, once there is room.
    pub fn record_with(
        &self,
        event: &'static str,
        make: impl FnOnce() -> Map<String, Value> + Send + 'static,
    ) {
        let entry = Entry::Record {
            event,
            fields: Box::new(make),
        };
        let entry = match self.queue.try_send(entry) {
            Ok(()) => {
                if self.behind.load(Ordering::Relaxed) {
                    self.behind.store(false, Ordering::Relaxed);
                }
                return;
            }
            Err(TrySendError::Full(entry)) => {
                if !self.behind.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        queued = QUEUE,
                        "records are made faster than standard output takes them: their makers wait for room"
                    );
                }
                match self.queue.send(entry) {
                    Ok(()) => return,
                    Err(e) => e.0,
                }
            }
            Err(TrySendError::Disconnected(entry)) => entry,
        };
        // No writer: the maker writes the record itself, under the same lock.
        if let Entry::Record { event, fields } = entry {
            let mut inner = lock(&self.state);
            inner.seal(event, fields());
            inner.write_pending();
        }
    }

    /// The last record written.
    pub fn head(&self) -> Option<Head> {
        lock(&self.state).segment.head()
    }

    /// Waits until every record made before is written.
    pub fn flush(&self) {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        if self.queue.send(Entry::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    /// Starts a new segment, linked to this one's head and, when given, to `follows` (the head of
    /// the replica this one takes over from): a leader change. Returns once the new segment's
    /// first record is written, after every record made before.
    pub fn restart(&self, reason: &str, follows: Option<&Head>) {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        let entry = Entry::Restart {
            reason: reason.to_owned(),
            follows: follows.cloned(),
            done,
        };
        match self.queue.send(entry) {
            Ok(()) => {
                let _ = wait.recv();
            }
            Err(e) => {
                if let Entry::Restart {
                    reason, follows, ..
                } = e.0
                {
                    let mut inner = lock(&self.state);
                    inner.restart(&self.identity, &reason, follows.as_ref());
                    inner.write_pending();
                }
            }
        }
    }

    /// Closes the segment (its process stops in order); returns once its closing record is
    /// written, after every record made before.
    pub fn close(&self) {
        self.record(crate::engine::chain::SEGMENT_CLOSED, Map::new());
        self.flush();
    }
}

impl Drop for Chain {
    /// Writes every record still queued before the chain goes.
    fn drop(&mut self) {
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            let _ = self.queue.send(Entry::Stop);
            let _ = writer.join();
        }
    }
}

/// The writer: takes the queued entries in order, seals each record and writes the lines, until
/// told to stop or the chain is gone.
fn write_entries(state: &Mutex<Inner>, identity: &str, entries: &Receiver<Entry>) {
    while let Ok(first) = entries.recv() {
        let mut inner = lock(state);
        for entry in std::iter::once(first).chain(entries.try_iter()) {
            match entry {
                Entry::Record { event, fields } => inner.seal(event, fields()),
                Entry::Restart {
                    reason,
                    follows,
                    done,
                } => {
                    inner.restart(identity, &reason, follows.as_ref());
                    inner.write_pending();
                    let _ = done.send(());
                }
                Entry::Flush(done) => {
                    inner.write_pending();
                    let _ = done.send(());
                }
                Entry::Stop => {
                    inner.write_pending();
                    return;
                }
            }
        }
        inner.write_pending();
        drop(inner);
        std::thread::sleep(LINGER);
    }
}

fn lock(state: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    // A panic while holding the lock left at worst a line unwritten; the chain goes on.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Inner {
    /// Seals one record into the lines to write.
    fn seal(&mut self, event: &str, fields: Map<String, Value>) {
        let line = self.segment.seal(Timestamp::now(), event, fields);
        self.push(&line);
    }

    /// Starts a new segment linked to this one's head, its first record among the lines to write.
    fn restart(&mut self, identity: &str, reason: &str, follows: Option<&Head>) {
        let now = Timestamp::now();
        let previous = self.segment.head();
        let (segment, line) = Segment::start(
            &segment_id(identity, now),
            now,
            previous.as_ref(),
            follows,
            fields([("replica", identity.into()), ("reason", reason.into())]),
        );
        self.segment = segment;
        self.push(&line);
    }

    /// Adds a line to those to write, writing those before first when together they would
    /// exceed one write.
    fn push(&mut self, line: &str) {
        if !self.pending.is_empty() && self.pending.len() + line.len() + 1 > WRITE_MAX {
            self.write_pending();
        }
        self.pending.extend_from_slice(line.as_bytes());
        self.pending.push(b'\n');
    }

    /// Writes the pending lines in one write (a line longer than [`WRITE_MAX`] alone).
    fn write_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if let Err(e) = self
            .out
            .write_all(&self.pending)
            .and_then(|()| self.out.flush())
        {
            tracing::error!(error = %e, "cannot write records to standard output");
        }
        self.pending.clear();
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

    /// A writer whose writes wait while its gate is shut: a standard output read late.
    #[derive(Clone, Default)]
    struct Gated {
        out: Shared,
        shut: Arc<(Mutex<bool>, std::sync::Condvar)>,
    }

    impl Gated {
        fn set(&self, shut: bool) {
            *self.shut.0.lock().unwrap() = shut;
            self.shut.1.notify_all();
        }
    }

    impl Write for Gated {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let (lock, open) = &*self.shut;
            let _open = open.wait_while(lock.lock().unwrap(), |shut| *shut).unwrap();
            self.out.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn text(out: &Shared) -> String {
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn records_made_on_many_threads_form_one_chain_in_the_order_they_were_queued() {
        let out = Shared::default();
        let chain = Chain::start("aims-operator-0", None, Box::new(out.clone()));
        std::thread::scope(|s| {
            for t in 0..4 {
                let chain = &chain;
                s.spawn(move || {
                    for i in 0..500 {
                        chain.record(
                            "AdmissionDecision",
                            fields([("thread", t.into()), ("i", i.into())]),
                        );
                    }
                });
            }
        });
        chain.close();
        let text = text(&out);
        let v = verify(text.lines(), None);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.records.len(), 2 + 4 * 500);
        // Each thread's records are in the order it made them.
        for t in 0..4 {
            let seen: Vec<u64> = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|r| r["thread"] == t)
                .filter_map(|r| r["i"].as_u64())
                .collect();
            assert_eq!(seen, (0..500).collect::<Vec<_>>());
        }
        // The head is the closing record, and it is written.
        let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(
            Some(last["hash"].as_str().unwrap()),
            chain.head().as_ref().map(|h| h.hash.as_str())
        );
        assert_eq!(last["event"], crate::engine::chain::SEGMENT_CLOSED);
    }

    #[test]
    fn an_output_read_late_holds_its_makers_back_and_loses_no_record() {
        let gated = Gated::default();
        let chain = Chain::start("aims-operator-0", None, Box::new(gated.clone()));
        gated.set(true);
        let total = 3 * QUEUE;
        let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let maker = {
            let (chain, made) = (chain.clone(), made.clone());
            std::thread::spawn(move || {
                for i in 0..total {
                    chain.record("AdmissionDecision", fields([("i", i.into())]));
                    made.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        // The queue fills while the output takes nothing...
        let start = std::time::Instant::now();
        while made.load(Ordering::Relaxed) < QUEUE {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the queue never filled"
            );
            std::thread::yield_now();
        }
        // ... and then the maker waits: the writer holds at most the lines of one write.
        assert!(made.load(Ordering::Relaxed) < total, "records were let go");
        assert!(!maker.is_finished());
        gated.set(false);
        maker.join().unwrap();
        chain.close();
        let text = text(&gated.out);
        let v = verify(text.lines(), None);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(
            v.records.len(),
            2 + total,
            "every record, the start and the close"
        );
    }

    #[test]
    fn a_chain_dropped_writes_what_was_queued() {
        let out = Shared::default();
        let chain = Chain::start("aims-operator-0", None, Box::new(out.clone()));
        for i in 0..100 {
            chain.record("AdmissionDecision", fields([("i", i.into())]));
        }
        drop(chain);
        let text = text(&out);
        let v = verify(text.lines(), None);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert_eq!(v.records.len(), 101);
    }

    #[test]
    fn a_process_writes_a_verifiable_chain_across_a_leader_change() {
        let out = Shared::default();
        let chain = Chain::start("aims-operator-0", None, Box::new(out.clone()));
        chain.record("AdmissionDecision", fields([("verdict", "deny".into())]));
        chain.flush();
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
