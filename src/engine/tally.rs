//! A binding's tally: the systems it selects and, for each control it applies, how many of them
//! satisfy it; and the control ids the catalog does not know. Read from the systems' evaluations.

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;

use super::{binding::Binding, catalog::Catalog, evaluate::Evaluation};
use crate::api::AISystem;

/// What a binding amounts to across the systems it selects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// The selected systems, as `namespace/name`.
    pub systems: Vec<String>,
    /// For each control the binding applies (catalog order): how many selected systems it applies
    /// to, and how many of those satisfy it.
    pub controls: Vec<(String, u32, u32)>,
    /// Control ids the binding names that the catalog does not know.
    pub unknown: Vec<String>,
}

/// Tallies `binding` over the evaluations of the systems it selects (`evaluated`, each with its
/// namespace's labels).
pub fn tally(
    binding: &Binding,
    evaluated: &[(&AISystem, &BTreeMap<String, String>, &Evaluation)],
    catalog: &Catalog,
) -> Tally {
    let rules = binding.rules();
    let mut ids: BTreeSet<&str> = rules
        .profile
        .into_iter()
        .flat_map(|p| catalog.profile(p))
        .map(|c| c.id.as_str())
        .collect();
    let mut unknown = Vec::new();
    for id in rules
        .controls
        .iter()
        .map(|c| &c.id)
        .chain(rules.not_applicable.iter().map(|n| &n.id))
    {
        if catalog.get(id).is_none() {
            unknown.push(id.clone());
        }
    }
    ids.extend(
        rules
            .controls
            .iter()
            .map(|c| c.id.as_str())
            .filter(|id| catalog.get(id).is_some()),
    );
    let selected: Vec<_> = evaluated
        .iter()
        .filter(|(s, labels, _)| binding.selects(s, labels))
        .collect();
    let controls = catalog
        .controls()
        .iter()
        .filter(|c| ids.contains(c.id.as_str()))
        .map(|c| {
            let results = selected
                .iter()
                .filter_map(|(_, _, e)| e.controls.iter().find(|r| r.id == c.id));
            let (mut applicable, mut satisfied) = (0, 0);
            for r in results {
                applicable += 1;
                satisfied += u32::from(r.satisfied);
            }
            (c.id.clone(), satisfied, applicable)
        })
        .collect();
    let mut systems: Vec<String> = selected
        .iter()
        .map(|(s, _, _)| format!("{}/{}", s.namespace().unwrap_or_default(), s.name_any()))
        .collect();
    systems.sort();
    Tally {
        systems,
        controls,
        unknown,
    }
}
