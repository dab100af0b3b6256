//! Which system a workload belongs to, and which model workloads belong to none.

use std::{borrow::Borrow, collections::BTreeMap};

use super::{
    detect::{Detection, Detector},
    selector,
    workload::WorkloadFacts,
};
use crate::api::AISystem;

/// Whether workload `w` belongs to `system`: same namespace, and the system is one of its
/// claimants (see [`labels_belong`]).
pub fn belongs(system: &AISystem, w: &WorkloadFacts) -> bool {
    system.metadata.namespace.as_deref().unwrap_or_default() == w.namespace
        && labels_belong(system, &w.labels, &w.pod_labels)
}

/// Whether a workload of the system's namespace with these labels (its own, and its pod
/// template's) belongs to `system`: the part of [`belongs`] that reads labels only, so a caller can
/// skip reading the rest of a workload that does not.
///
/// The label wins: a workload whose labels (or pod template's labels) carry `aims.dev/system`
/// belongs to the systems they name and to no other, whatever selectors match it, so no
/// catch-all selector can take a workload away from its system. Only a workload without the label
/// is claimed by selectors, and an empty `workloadSelector` claims nothing (it would otherwise
/// claim every workload of the namespace). A workload may still have several claimants (two
/// label values, or two matching selectors); admission then applies the strictest verdict.
pub fn labels_belong(
    system: &AISystem,
    labels: &BTreeMap<String, String>,
    pod_labels: &BTreeMap<String, String>,
) -> bool {
    let mut named = named_systems(labels, pod_labels).peekable();
    if named.peek().is_some() {
        return named.any(|name| system.metadata.name.as_deref() == Some(name));
    }
    system
        .spec
        .workload_selector
        .as_ref()
        .filter(|s| !selector::is_empty(s))
        .is_some_and(|s| selector::matches(s, labels) || selector::matches(s, pod_labels))
}

/// The systems the `aims.dev/system` label names: the workload's own label, then its pod
/// template's when that names another.
fn named_systems<'a>(
    labels: &'a BTreeMap<String, String>,
    pod_labels: &'a BTreeMap<String, String>,
) -> impl Iterator<Item = &'a str> {
    let own = labels.get(crate::api::SYSTEM_LABEL).map(String::as_str);
    let pods = pod_labels
        .get(crate::api::SYSTEM_LABEL)
        .map(String::as_str)
        .filter(|p| Some(*p) != own);
    own.into_iter().chain(pods)
}

/// The systems among `systems` that `w` belongs to, in the order given.
pub fn claimants<'s>(systems: &[&'s AISystem], w: &WorkloadFacts) -> Vec<&'s AISystem> {
    systems.iter().copied().filter(|s| belongs(s, w)).collect()
}

/// A model workload that belongs to no AISystem, with why it looks like one.
#[derive(Clone, Debug)]
pub struct Unregistered<'a> {
    /// The workload.
    pub workload: &'a WorkloadFacts,
    /// Why it looks like model serving.
    pub detection: Detection,
}

/// The workloads that look like model serving and belong to none of `systems` (a label naming a
/// system that does not exist counts as none), including those that run an artifact one of
/// `systems` declares. The workloads are facts or shared facts (`Arc`).
pub fn unregistered<'a, W: Borrow<WorkloadFacts>>(
    systems: &[&AISystem],
    workloads: &'a [W],
    detector: &Detector,
) -> Vec<Unregistered<'a>> {
    workloads
        .iter()
        .map(Borrow::borrow)
        .filter(|w| !systems.iter().any(|s| belongs(s, w)))
        .filter_map(|w| {
            detector
                .detect_among(w, systems)
                .map(|detection| Unregistered {
                    workload: w,
                    detection,
                })
        })
        .collect()
}
