//! Pacing of AISystem evaluations: at most one per system per [`EVALUATION_INTERVAL`] when only
//! what the system watches changed (its workloads, assessments, bindings), so a burst of
//! workload changes costs one evaluation and one status write, not one each.
//!
//! Without it, every Deployment created in a system's namespace cost an evaluation and a status
//! write (the workload counts changed), 4.5 ms of the operator's CPU and about as much of the API
//! server's per create in a load run. A change of the system's own spec (a halt, new models) is
//! never paced: the caller says whether `metadata.generation` differs from the one its status was
//! computed from.
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

    /// Whether the system may be evaluated at `now`: `None` if so (the evaluation is recorded),
    /// or how long it must wait. It waits only when its spec has not changed since its status was
    /// computed (`spec_changed` false) and it was evaluated less than an interval before `now`.
    pub fn hold(
        &self,
        namespace: &str,
        name: &str,
        spec_changed: bool,
        now: Instant,
    ) -> Option<Duration> {
        let key = (namespace.to_owned(), name.to_owned());
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if !spec_changed
            && let Some(next) = last.get(&key).map(|at| *at + self.interval)
            && next > now
        {
            return Some(next - now);
        }
        if last.len() >= PRUNE_ABOVE {
            let interval = self.interval;
            last.retain(|_, at| now.saturating_duration_since(*at) < interval);
        }
        last.insert(key, now);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_evaluation_per_interval_per_system_unless_its_spec_changed() {
        let ms = Duration::from_millis;
        // (namespace, name, spec changed, time after t0, held for); each case on a pacer that
        // evaluated a/s at t0.
        let cases = [
            ("a", "s", false, ms(0), Some(ms(1000))),
            ("a", "s", false, ms(300), Some(ms(700))),
            ("a", "s", false, ms(999), Some(ms(1))),
            ("a", "s", false, ms(1000), None),
            ("a", "s", false, ms(5000), None),
            // A halt or a new model is evaluated at once.
            ("a", "s", true, ms(300), None),
            // Other systems, and the same name in another namespace, are not held back.
            ("a", "t", false, ms(300), None),
            ("b", "s", false, ms(300), None),
        ];
        for (namespace, name, spec_changed, after, want) in cases {
            let pacer = Pacer::new(Duration::from_secs(1));
            let t0 = Instant::now();
            assert_eq!(pacer.hold("a", "s", false, t0), None, "never evaluated");
            assert_eq!(
                pacer.hold(namespace, name, spec_changed, t0 + after),
                want,
                "{namespace}/{name} (spec changed: {spec_changed}) after {after:?}"
            );
        }
    }

    #[test]
    fn the_next_interval_starts_at_the_last_evaluation() {
        let ms = Duration::from_millis;
        let pacer = Pacer::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert_eq!(pacer.hold("a", "s", false, t0), None);
        // Held: not recorded, so the wait does not grow.
        assert_eq!(pacer.hold("a", "s", false, t0 + ms(400)), Some(ms(600)));
        assert_eq!(pacer.hold("a", "s", false, t0 + ms(1000)), None);
        assert_eq!(pacer.hold("a", "s", false, t0 + ms(1500)), Some(ms(500)));
        // A spec change is evaluated and restarts the interval.
        assert_eq!(pacer.hold("a", "s", true, t0 + ms(1600)), None);
        assert_eq!(pacer.hold("a", "s", false, t0 + ms(2100)), Some(ms(500)));
    }

    #[test]
    fn only_recent_evaluations_are_kept_once_there_are_many() {
        let pacer = Pacer::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..PRUNE_ABOVE {
            pacer.hold("ns", &format!("old-{i}"), false, t0);
        }
        pacer.hold("ns", "recent", false, t0 + Duration::from_millis(500));
        pacer.hold("ns", "new", false, t0 + Duration::from_secs(2));
        let kept = pacer.last.lock().unwrap();
        assert_eq!(kept.len(), 1, "{:?}", kept.keys().collect::<Vec<_>>());
        assert!(kept.contains_key(&("ns".to_owned(), "new".to_owned())));
    }
}
