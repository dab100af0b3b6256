//! ControlBinding and ClusterControlBinding admission: bindings name only controls the catalog
//! knows.
//!
//! An unknown control id is refused when the binding is written, not silently ignored when it is
//! evaluated: a typo such as `A.6.2.50` would otherwise leave the intended control unbound.
//! Every unknown id is reported at once, with its field path and, when a catalog id is close
//! enough to be what was meant, a suggestion.
//!
//! The controls and exclusions sit directly under `spec` in the objects (the binding rules are
//! flattened into it), so the paths are `spec.controls[i].id` and `spec.notApplicable[i].id`.
//!
//! Pure functions: no client, and no input makes them panic.

use std::fmt;

use crate::{
    api::BindingRules,
    engine::catalog::{Catalog, closest},
};

/// A control id in a binding that the catalog does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownControl {
    /// Where it is, for example `spec.controls[3].id`.
    pub path: String,
    /// The id as written.
    pub id: String,
    /// The catalog id it most likely means, if one is close enough.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {:?}", self.path, self.id)?;
        match &self.suggestion {
            Some(suggestion) => write!(f, " (did you mean {suggestion}?)"),
            None => Ok(()),
        }
    }
}

/// Why the webhook refuses a binding. The message is what `kubectl` shows the person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BindingRefusal {
    /// The binding names control ids the catalog does not know.
    #[error(
        "the control catalog has no control with {}: {}; bind ISO/IEC 42001 Annex A control ids \
         such as A.6.2.5 (a group such as A.6 is not a control)",
        if unknown.len() == 1 { "this id" } else { "these ids" },
        unknown.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    UnknownControls {
        /// Each unknown id, in the order of the spec: `controls` first, then `notApplicable`.
        unknown: Vec<UnknownControl>,
    },
}

/// Checks that every `controls[].id` and `notApplicable[].id` of a binding is a control id in
/// `catalog`. Ids are compared exactly; the suggestion ignores case.
pub fn admit(rules: &BindingRules, catalog: &Catalog) -> Result<(), BindingRefusal> {
    let controls = rules
        .controls
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("spec.controls[{i}].id"), &c.id));
    let exclusions = rules
        .not_applicable
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("spec.notApplicable[{i}].id"), &e.id));
    let unknown: Vec<_> = controls
        .chain(exclusions)
        .filter(|(_, id)| catalog.get(id).is_none())
        .map(|(path, id)| UnknownControl {
            path,
            id: id.clone(),
            suggestion: closest(id, catalog.controls().iter().map(|c| c.id.as_str()))
                .map(str::to_owned),
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(BindingRefusal::UnknownControls { unknown })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules(controls: &[&str], not_applicable: &[&str]) -> BindingRules {
        serde_json::from_value(json!({
            "controls": controls.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            "notApplicable": not_applicable
                .iter()
                .map(|id| json!({"id": id, "justification": "We train no models ourselves."}))
                .collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    fn unknown(path: &str, id: &str, suggestion: Option<&str>) -> UnknownControl {
        UnknownControl {
            path: path.to_owned(),
            id: id.to_owned(),
            suggestion: suggestion.map(str::to_owned),
        }
    }

    #[test]
    fn bindings_name_only_catalog_controls() {
        let catalog = Catalog::builtin();
        type Row<'a> = (&'a str, &'a [&'a str], &'a [&'a str], Vec<UnknownControl>);
        let cases: [Row<'_>; 9] = [
            ("nothing bound", &[], &[], vec![]),
            (
                "known controls",
                &["A.6.2.5", "A.6.2.8", "A.10.3"],
                &["A.10.4"],
                vec![],
            ),
            (
                "a digit too many",
                &["A.6.2.5", "A.6.2.8", "A.9.2", "A.6.2.50"],
                &[],
                vec![unknown("spec.controls[3].id", "A.6.2.50", Some("A.6.2.5"))],
            ),
            (
                "lower case is unknown, and suggested in upper case",
                &["a.7.4"],
                &[],
                vec![unknown("spec.controls[0].id", "a.7.4", Some("A.7.4"))],
            ),
            (
                "an exclusion",
                &["A.6.2.5"],
                &["A.10.4", "A.10.44"],
                vec![unknown(
                    "spec.notApplicable[1].id",
                    "A.10.44",
                    Some("A.10.4"),
                )],
            ),
            (
                "a group is not a control",
                &["A.6"],
                &[],
                vec![unknown("spec.controls[0].id", "A.6", None)],
            ),
            (
                "nothing close",
                &["A.99.99.99"],
                &[],
                vec![unknown("spec.controls[0].id", "A.99.99.99", None)],
            ),
            (
                "every unknown id, controls first",
                &["A.6.2.50", "A.6.2.5", "X"],
                &["A.2.22"],
                vec![
                    unknown("spec.controls[0].id", "A.6.2.50", Some("A.6.2.5")),
                    unknown("spec.controls[2].id", "X", None),
                    unknown("spec.notApplicable[0].id", "A.2.22", Some("A.2.2")),
                ],
            ),
            (
                "empty and overlong ids",
                &["", &"A.1".repeat(100)],
                &[],
                vec![
                    unknown("spec.controls[0].id", "", None),
                    unknown("spec.controls[1].id", &"A.1".repeat(100), None),
                ],
            ),
        ];
        for (name, controls, not_applicable, want) in cases {
            let got = admit(&rules(controls, not_applicable), &catalog);
            let want = if want.is_empty() {
                Ok(())
            } else {
                Err(BindingRefusal::UnknownControls { unknown: want })
            };
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn the_refusal_names_each_path_and_suggestion() {
        let catalog = Catalog::builtin();
        let cases: [(&[&str], &[&str], &[&str]); 2] = [
            (
                &["A.6.2.50"],
                &[],
                &[
                    "spec.controls[0].id is \"A.6.2.50\" (did you mean A.6.2.5?)",
                    "no control with this id: spec.controls[0]",
                    "such as A.6.2.5",
                ],
            ),
            (
                &["A.6.2.50", "B"],
                &["A.10.44"],
                &[
                    "no control with these ids: spec.controls[0]",
                    "spec.controls[0].id is \"A.6.2.50\" (did you mean A.6.2.5?); \
                     spec.controls[1].id is \"B\"; \
                     spec.notApplicable[0].id is \"A.10.44\" (did you mean A.10.4?)",
                ],
            ),
        ];
        for (controls, not_applicable, needles) in cases {
            let message = admit(&rules(controls, not_applicable), &catalog)
                .unwrap_err()
                .to_string();
            for needle in needles {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
        }
    }
}
