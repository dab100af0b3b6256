//! AISystem changes only overseers may make.
//!
//! The stop button is never blocked: anyone allowed to update an AISystem may set
//! `spec.oversight.halt`. Taking the system out of a halt is the overseers' decision:
//!
//! * clearing a halt (stored `halt` true, requested `halt` false) needs a user named in the
//!   stored `spec.oversight.overseers`;
//! * while the system is halted, changing who oversees it (the set of overseer names) needs such
//!   a user too, or anyone could name themselves an overseer and then clear the halt.
//!
//! Overseers are read from the stored object, never from the request. Creating an AISystem is
//! always allowed here, halted or not: there is no earlier halt to protect.
//!
//! Pure functions: no client, no clock, and no input makes them panic.

use std::collections::BTreeSet;

use super::Requester;
use crate::api::AISystemSpec;

/// Why the webhook refuses an AISystem update. The message is what `kubectl` shows the person:
/// what is wrong, where (the field path), and who can do it instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A user who is not an overseer tried to clear a halt.
    #[error(
        "spec.oversight.halt: only an overseer may clear a halt, and {user} is not one; {}",
        ask(overseers, "set spec.oversight.halt back to false")
    )]
    ClearHalt {
        /// The requesting user.
        user: String,
        /// The overseers named in the stored object.
        overseers: Vec<String>,
    },
    /// A user who is not an overseer tried to change the overseers of a halted system.
    #[error(
        "spec.oversight.overseers: while the system is halted only an overseer may change who \
         oversees it, and {user} is not one; {}",
        ask(
            overseers,
            "make the change, or change the overseers once the halt is cleared"
        )
    )]
    OverseersWhileHalted {
        /// The requesting user.
        user: String,
        /// The overseers named in the stored object.
        overseers: Vec<String>,
    },
}

/// What to tell the person: whom to ask, or that nobody can be asked.
fn ask(overseers: &[String], to: &str) -> String {
    if overseers.is_empty() {
        "no overseer was named in spec.oversight.overseers when the system was halted, so the \
         halt cannot be cleared by an update: delete the AISystem and create it again with \
         overseers named"
            .to_owned()
    } else {
        format!("ask one of {} to {to}", overseers.join(", "))
    }
}

/// Decides whether `requester` may change an AISystem from `old` (`None` on create) to `new`. See
/// the [module](self) for the rules.
pub fn admit(
    old: Option<&AISystemSpec>,
    new: &AISystemSpec,
    requester: Requester<'_>,
) -> Result<(), Refusal> {
    let Some(old) = old else {
        return Ok(());
    };
    if !halted(old) {
        return Ok(());
    }
    let overseers = overseers(old);
    if overseers.iter().any(|name| name == requester.user) {
        return Ok(());
    }
    let refusal = |make: fn(String, Vec<String>) -> Refusal| {
        Err(make(requester.user.to_owned(), overseers.clone()))
    };
    if !halted(new) {
        return refusal(|user, overseers| Refusal::ClearHalt { user, overseers });
    }
    let names = |names: Vec<String>| names.into_iter().collect::<BTreeSet<_>>();
    if names(overseers.clone()) != names(self::overseers(new)) {
        return refusal(|user, overseers| Refusal::OverseersWhileHalted { user, overseers });
    }
    Ok(())
}

fn halted(spec: &AISystemSpec) -> bool {
    spec.oversight.as_ref().is_some_and(|o| o.halt)
}

/// The overseers' names, in order.
fn overseers(spec: &AISystemSpec) -> Vec<String> {
    spec.oversight
        .iter()
        .flat_map(|o| &o.overseers)
        .map(|p| p.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::{Oversight, Person};

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A system overseen by `olga` and `oscar`, halted or not.
    fn system(halt: bool) -> AISystemSpec {
        let mut spec: AISystemSpec = serde_json::from_value(json!({
            "purpose": "Scores credit applications",
            "role": "Deployer",
            "riskTier": "High",
            "highRiskCategory": "EssentialServices",
            "owner": {"name": "owen"},
            "oversight": {
                "mode": "HumanOnTheLoop",
                "overseers": [{"name": "olga", "contact": "olga@example.com"}, {"name": "oscar"}]
            }
        }))
        .unwrap();
        set_halt(&mut spec, halt);
        spec
    }

    fn set_halt(spec: &mut AISystemSpec, halt: bool) {
        let oversight = spec.oversight.get_or_insert_with(Oversight::default);
        oversight.halt = halt;
        oversight.halt_reason = halt.then(|| "biased scores".to_owned());
    }

    fn add_overseer(spec: &mut AISystemSpec, name: &str) {
        let oversight = spec.oversight.get_or_insert_with(Oversight::default);
        oversight.overseers.push(Person {
            name: name.to_owned(),
            contact: None,
        });
    }

    fn clear_halt(spec: &mut AISystemSpec) {
        set_halt(spec, false);
    }

    fn halt(spec: &mut AISystemSpec) {
        set_halt(spec, true);
    }

    fn no_overseers(spec: &mut AISystemSpec) {
        if let Some(o) = spec.oversight.as_mut() {
            o.overseers.clear();
        }
    }

    fn clear_refused(user: &str, overseers: &[&str]) -> Result<(), Refusal> {
        Err(Refusal::ClearHalt {
            user: user.to_owned(),
            overseers: strings(overseers),
        })
    }

    fn change_refused(user: &str) -> Result<(), Refusal> {
        Err(Refusal::OverseersWhileHalted {
            user: user.to_owned(),
            overseers: strings(&["olga", "oscar"]),
        })
    }

    type Change = fn(&mut AISystemSpec);

    /// A case: its name, the stored spec (`None` for a create), the change the request makes to
    /// it, the requesting user, and the answer.
    type Row<'a> = (
        &'a str,
        Option<&'a AISystemSpec>,
        Change,
        &'a str,
        Result<(), Refusal>,
    );

    #[test]
    fn only_overseers_take_a_system_out_of_a_halt() {
        let halted = system(true);
        let running = system(false);
        let halted_unsupervised = {
            let mut spec = system(true);
            no_overseers(&mut spec);
            spec
        };
        let no_oversight = AISystemSpec {
            oversight: None,
            ..system(false)
        };
        #[rustfmt::skip]
        let cases: [Row<'_>; 20] = [
            // Create: nothing stored to protect.
            ("create", None, |_| {}, "mallory", Ok(())),
            ("create halted", None, halt, "mallory", Ok(())),
            ("create with the halt cleared", None, clear_halt, "mallory", Ok(())),
            // The stop button.
            ("anyone halts", Some(&running), halt, "mallory", Ok(())),
            ("an overseer halts", Some(&running), halt, "olga", Ok(())),
            ("anyone halts without oversight stored", Some(&no_oversight), halt, "mallory", Ok(())),
            ("anyone halts and names themselves", Some(&running), |s| {
                halt(s);
                add_overseer(s, "mallory");
            }, "mallory", Ok(())),
            ("anyone changes overseers while running", Some(&running), no_overseers, "mallory", Ok(())),
            // Clearing a halt.
            ("an overseer clears the halt", Some(&halted), clear_halt, "olga", Ok(())),
            ("another overseer clears the halt", Some(&halted), clear_halt, "oscar", Ok(())),
            ("a non-overseer clears the halt", Some(&halted), clear_halt, "mallory", clear_refused("mallory", &["olga", "oscar"])),
            ("by dropping oversight", Some(&halted), |s| s.oversight = None, "mallory", clear_refused("mallory", &["olga", "oscar"])),
            ("by naming themselves in the same request", Some(&halted), |s| {
                clear_halt(s);
                add_overseer(s, "mallory");
            }, "mallory", clear_refused("mallory", &["olga", "oscar"])),
            ("nobody to clear it", Some(&halted_unsupervised), clear_halt, "olga", clear_refused("olga", &[])),
            // Overseers while halted.
            ("a non-overseer adds themselves", Some(&halted), |s| add_overseer(s, "mallory"), "mallory", change_refused("mallory")),
            ("a non-overseer removes them", Some(&halted), no_overseers, "mallory", change_refused("mallory")),
            ("an overseer adds one", Some(&halted), |s| add_overseer(s, "otto"), "olga", Ok(())),
            ("reordering is no change", Some(&halted), |s| {
                if let Some(o) = s.oversight.as_mut() {
                    o.overseers.reverse();
                    o.overseers[0].contact = Some("oscar@example.com".into());
                }
            }, "mallory", Ok(())),
            // Other changes while halted.
            ("a non-overseer edits the reason", Some(&halted), |s| {
                if let Some(o) = s.oversight.as_mut() {
                    o.halt_reason = Some("still biased".into());
                }
            }, "mallory", Ok(())),
            ("a non-overseer edits the purpose", Some(&halted), |s| s.purpose = "Scores loans".into(), "mallory", Ok(())),
        ];
        for (name, old, change, user, want) in cases {
            let mut new = old.cloned().unwrap_or_else(|| system(false));
            change(&mut new);
            let groups = strings(&["system:authenticated"]);
            let requester = Requester {
                user,
                groups: &groups,
            };
            assert_eq!(admit(old, &new, requester), want, "{name}");
        }
    }

    #[test]
    fn refusals_name_the_field_and_the_overseers() {
        let cases: [(Refusal, &[&str]); 3] = [
            (
                Refusal::ClearHalt {
                    user: "mallory".into(),
                    overseers: strings(&["olga", "oscar"]),
                },
                &[
                    "spec.oversight.halt",
                    "mallory",
                    "olga, oscar",
                    "back to false",
                ],
            ),
            (
                Refusal::ClearHalt {
                    user: "mallory".into(),
                    overseers: Vec::new(),
                },
                &["spec.oversight.halt", "no overseer", "create it again"],
            ),
            (
                Refusal::OverseersWhileHalted {
                    user: "mallory".into(),
                    overseers: strings(&["olga"]),
                },
                &[
                    "spec.oversight.overseers",
                    "mallory",
                    "ask one of olga",
                    "halt is cleared",
                ],
            ),
        ];
        for (refusal, needles) in cases {
            let message = refusal.to_string();
            for needle in needles {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}");
            }
        }
    }
}
