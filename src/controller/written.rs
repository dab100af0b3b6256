//! What this replica last wrote for each system (namespace, name), and when: so that an evaluation
//! whose output did not change (its OpenReports reports, its entry of the compiled floor) costs no
//! call. An entry older than [`RECHECK`] is not trusted: the next write compares with what is
//! stored again, so a change made meanwhile (by hand, or by another replica while it led) is
//! mended within that time. Forgotten on restart and whenever this replica becomes leader.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// How long a written value is trusted.
pub const RECHECK: Duration = Duration::from_secs(600);

/// A system's namespace and name.
pub type SystemKey = (String, String);

/// The value last written per system.
#[derive(Debug)]
pub struct Written<V>(Mutex<HashMap<SystemKey, (V, Instant)>>);

impl<V> Default for Written<V> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<V: PartialEq> Written<V> {
    /// Whether `value` is what was written for `key` less than [`RECHECK`] ago.
    pub fn fresh(&self, key: &SystemKey, value: &V) -> bool {
        self.0.lock().ok().is_some_and(|map| {
            map.get(key)
                .is_some_and(|(v, at)| v == value && at.elapsed() < RECHECK)
        })
    }

    /// Forgets everything written: on becoming leader, what another replica wrote meanwhile is
    /// unknown here.
    pub fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }

    /// Forgets what was written for the keys `which` selects.
    pub fn forget(&self, which: impl Fn(&SystemKey) -> bool) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|key, _| !which(key));
        }
    }

    /// Records that `value` was written for `key`, now.
    pub fn set(&self, key: SystemKey, value: V) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, (value, Instant::now()));
        }
    }
}
