//! Pacing of AISystem evaluations: at most one per system per [`EVALUATION_INTERVAL`] when only
//! what the system watches changed (its workloads, assessments, bindings), so a burst of
//! workload changes costs one evaluation and one status write, not one each.
//!
//! Without it, every Deployment created in a system's namespace cost an evaluation and a status
//! write (the workload counts changed), 4.5 ms of the operator's CPU and about as much of the API
//! server's per create in a load run. A change of the system's own spec (a halt, new models) is
//! never paced: the caller evaluates at once when `metadata.generation` is not the one its
//! status was computed from.
//!
//! The first change after a quiet interval is evaluated at once (leading edge); changes inside
//! the interval are evaluated together when it ends (the caller requeues), so the last change of
//! a burst always reaches the status.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// The shortest time between two evaluations of one system, unless its spec changed.
pub const EVALUATION_INTERVAL: Duration = Duration::from_secs(1);

/// Past this many systems remembered, those evaluated longer than an interval ago are dropped
/// (they would not be paced anyway).
const PRUNE_ABOVE: usize = 1024;

/// When each system was last evaluated, by namespace and name.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    last: Mutex<HashMap<(String, String), Instant>>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(EVALUATION_INTERVAL)
    }
}

impl Pacer {
    /// A pacer allowing one evaluation per system per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::default(),
        }
    }

    /// How long the system must wait before its next evaluation, if it was evaluated less than an
    /// interval before `now`.
    pub fn wait(&self, namespace: &str, name: &str, now: Instant) -> Option<Duration> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let at = *last.get(&(namespace.to_owned(), name.to_owned()))?;
        let next = at + self.interval;
        (next > now).then(|| next - now)
    }

    /// Records an evaluation of the system at `now`.
    pub fn evaluated(&self, namespace: &str, name: &str, now: Instant) {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.len() >= PRUNE_ABOVE {
            let interval = self.interval;
            last.retain(|_, at| now.saturating_duration_since(*at) < interval);
        }
        last.insert((namespace.to_owned(), name.to_owned()), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_evaluation_per_interval_per_system() {
        let pacer = Pacer::new(Duration::from_secs(1));
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Never evaluated: at once.
        assert_eq!(pacer.wait("a", "s", t0), None);
        pacer.evaluated("a", "s", t0);
        let cases = [
            ("a", "s", ms(0), Some(ms(1000))),
            ("a", "s", ms(300), Some(ms(700))),
            ("a", "s", ms(999), Some(ms(1))),
            ("a", "s", ms(1000), None),
            ("a", "s", ms(5000), None),
            // Other systems, and the same name in another namespace, are not held back.
            ("a", "t", ms(300), None),
            ("b", "s", ms(300), None),
        ];
        for (namespace, name, after, want) in cases {
            assert_eq!(
                pacer.wait(namespace, name, t0 + after),
                want,
                "{namespace}/{name} after {after:?}"
            );
        }
        // Evaluated again when the interval ended: the next interval starts there.
        pacer.evaluated("a", "s", t0 + ms(1000));
        assert_eq!(pacer.wait("a", "s", t0 + ms(1500)), Some(ms(500)));
    }

    #[test]
    fn only_recent_evaluations_are_kept_once_there_are_many() {
        let pacer = Pacer::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..PRUNE_ABOVE {
            pacer.evaluated("ns", &format!("old-{i}"), t0);
        }
        pacer.evaluated("ns", "recent", t0 + Duration::from_millis(500));
        pacer.evaluated("ns", "new", t0 + Duration::from_secs(2));
        let kept = pacer.last.lock().unwrap();
        assert_eq!(kept.len(), 1, "{:?}", kept.keys().collect::<Vec<_>>());
        assert!(kept.contains_key(&("ns".to_owned(), "new".to_owned())));
    }
}
