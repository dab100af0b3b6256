//! The operator's Prometheus metrics, recorded by the controllers and the webhook and served by
//! [`crate::runtime::health`].

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabel {
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NamespaceLabel {
    namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    namespace: String,
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AdmissionLabels {
    webhook: &'static str,
    verdict: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabel {
    webhook: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    controller: &'static str,
    error: &'static str,
}

/// The upper bounds (seconds) of `aims_admission_duration_seconds`'s buckets. A review takes tens
/// of microseconds, and a quantile read from a histogram is only as exact as the buckets around
/// it (interpolated linearly within one): bounds 25 µs apart up to 0.2 ms, where the handler's
/// p99 target lies, then coarser. Every bound of the earlier, coarser set (50 µs, 0.1, 0.25,
/// 0.5 ms, 1, 2, 5, 10, 50 ms) is kept, so queries written against them still read.
pub const ADMISSION_BUCKETS: [f64; 19] = [
    0.000025, 0.00005, 0.000075, 0.0001, 0.000125, 0.00015, 0.000175, 0.0002, 0.00025, 0.0003,
    0.0004, 0.0005, 0.00075, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05,
];

/// The operator's metrics.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabel, Counter>,
    failures: Family<ErrorLabels, Counter>,
    status_writes: Family<ControllerLabel, Counter>,
    report_writes: Family<OperationLabel, Counter>,
    duration: Family<ControllerLabel, Histogram>,
    unregistered: Family<NamespaceLabel, Gauge>,
    systems: Family<PhaseLabels, Gauge>,
    admissions: Family<AdmissionLabels, Counter>,
    admission_duration: Family<WebhookLabel, Histogram>,
    ready: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("aims");
        let reconciles = Family::<ControllerLabel, Counter>::default();
        let failures = Family::<ErrorLabels, Counter>::default();
        let status_writes = Family::<ControllerLabel, Counter>::default();
        let duration = Family::<ControllerLabel, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ])
        });
        registry.register("reconciles", "Reconciliations run", reconciles.clone());
        registry.register(
            "reconcile_failures",
            "Reconciliations that failed, by error",
            failures.clone(),
        );
        registry.register(
            "status_writes",
            "Status updates written to the API server",
            status_writes.clone(),
        );
        let report_writes = Family::<OperationLabel, Counter>::default();
        registry.register(
            "openreports_writes",
            "OpenReports Reports written (apply) or deleted (delete)",
            report_writes.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "How long a reconciliation took",
            duration.clone(),
        );
        let unregistered = Family::<NamespaceLabel, Gauge>::default();
        registry.register(
            "unregistered_model_workloads",
            "Workloads that look like model serving but belong to no AISystem",
            unregistered.clone(),
        );
        let systems = Family::<PhaseLabels, Gauge>::default();
        registry.register(
            "systems",
            "AISystems by namespace and compliance phase (Unknown: not evaluated yet)",
            systems.clone(),
        );
        let admissions = Family::<AdmissionLabels, Counter>::default();
        registry.register(
            "admission_requests",
            "Admission reviews answered, by webhook and verdict (allow, warn, deny, invalid)",
            admissions.clone(),
        );
        let admission_duration = Family::<WebhookLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(ADMISSION_BUCKETS)
        });
        registry.register(
            "admission_duration_seconds",
            "How long the webhook took to answer a review: from its body read to its answer encoded (TLS, HTTP and the decision's record not included)",
            admission_duration.clone(),
        );
        Self {
            registry,
            admissions,
            admission_duration,
            reconciles,
            failures,
            status_writes,
            report_writes,
            duration,
            unregistered,
            systems,
            ready: AtomicBool::new(false),
        }
    }
}

/// Records a reconciliation's duration when dropped.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    controller: &'static str,
    start: Instant,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        let label = ControllerLabel {
            controller: self.controller,
        };
        self.metrics.reconciles.get_or_create(&label).inc();
        self.metrics
            .duration
            .get_or_create(&label)
            .observe(self.start.elapsed().as_secs_f64());
    }
}

impl Metrics {
    /// Starts timing a reconciliation of `controller`.
    pub fn reconcile_timer(&self, controller: &'static str) -> ReconcileTimer<'_> {
        ReconcileTimer {
            metrics: self,
            controller,
            start: Instant::now(),
        }
    }

    /// Counts a failed reconciliation.
    pub fn reconcile_error(&self, controller: &'static str, error: &'static str) {
        self.failures
            .get_or_create(&ErrorLabels { controller, error })
            .inc();
    }

    /// Counts a status write.
    pub fn status_write(&self, controller: &'static str) {
        self.status_writes
            .get_or_create(&ControllerLabel { controller })
            .inc();
    }

    /// Counts an OpenReports Report written (`apply`) or deleted (`delete`).
    pub fn report_write(&self, operation: &'static str) {
        self.report_writes
            .get_or_create(&OperationLabel { operation })
            .inc();
    }

    /// Sets the unregistered-workload counts from one namespace per workload found.
    pub fn set_unregistered<'a>(&self, namespaces: impl Iterator<Item = &'a str>) {
        let mut counts = std::collections::BTreeMap::<&str, i64>::new();
        for ns in namespaces {
            *counts.entry(ns).or_default() += 1;
        }
        self.unregistered.clear();
        for (namespace, n) in counts {
            self.unregistered
                .get_or_create(&NamespaceLabel {
                    namespace: namespace.to_owned(),
                })
                .set(n);
        }
    }

    /// Sets the AISystem counts from each system's namespace and phase.
    pub fn set_systems<'a>(&self, systems: impl Iterator<Item = (&'a str, &'static str)>) {
        let mut counts = std::collections::BTreeMap::<(&str, &'static str), i64>::new();
        for key in systems {
            *counts.entry(key).or_default() += 1;
        }
        self.systems.clear();
        for ((namespace, phase), n) in counts {
            self.systems
                .get_or_create(&PhaseLabels {
                    namespace: namespace.to_owned(),
                    phase,
                })
                .set(n);
        }
    }

    /// Counts an admission review answered by `webhook` with `verdict`, and how long it took.
    pub fn admission(&self, webhook: &'static str, verdict: &'static str, seconds: f64) {
        self.admissions
            .get_or_create(&AdmissionLabels { webhook, verdict })
            .inc();
        self.admission_duration
            .get_or_create(&WebhookLabel { webhook })
            .observe(seconds);
    }

    /// Records that the stores have synced: `/readyz` answers ready from now on.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Whether the stores have synced.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metric families the operator exports, from the `# TYPE` lines.
    fn families(m: &Metrics) -> Vec<String> {
        m.render()
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_metric_the_dashboard_queries_is_exported() {
        let dashboard = include_str!("../../charts/aims-operator/files/dashboard.json");
        // Families without a sample are not rendered: give each one.
        let m = Metrics::default();
        drop(m.reconcile_timer("aisystem"));
        m.reconcile_error("aisystem", "kube");
        m.status_write("aisystem");
        m.set_unregistered(["hr"].into_iter());
        m.set_systems([("hr", "Compliant")].into_iter());
        m.admission("workloads", "deny", 0.001);
        let exported = families(&m);
        let queried = regex::Regex::new(r"aims_[a-z_]+").unwrap();
        let mut seen = 0;
        for name in queried.find_iter(dashboard).map(|m| m.as_str()) {
            let family = ["_bucket", "_total"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            assert!(
                exported.iter().any(|e| e == family),
                "the dashboard queries {name}, which the operator does not export: {exported:?}"
            );
            seen += 1;
        }
        assert!(seen >= 8, "the dashboard queries only {seen} metrics");
    }

    #[test]
    fn systems_are_counted_by_namespace_and_phase() {
        let m = Metrics::default();
        m.set_systems([("hr", "Compliant"), ("hr", "Compliant"), ("hr", "Halted")].into_iter());
        let text = m.render();
        assert!(
            text.contains(r#"aims_systems{namespace="hr",phase="Compliant"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"aims_systems{namespace="hr",phase="Halted"} 1"#));
        m.set_systems([("hr", "Pending")].into_iter());
        assert!(!m.render().contains(r#"phase="Compliant""#));
    }
}
