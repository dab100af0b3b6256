//! AISystem changes that need the system's authority.
//!
//! The stop button is never blocked: anyone allowed to update an AISystem may set
//! `spec.oversight.halt`. What could weaken the system's governance needs its **authority**:
//!
//! * clearing a halt (stored `halt` true, requested `halt` false);
//! * changing who oversees it (the set of overseer names), halted or not: otherwise a team member
//!   could name themselves an overseer while the system runs and clear a later halt;
//! * lowering its risk tier (Prohibited > High > Limited > Minimal): a lower tier drops the
//!   bindings and duties of the higher one; raising it is always allowed;
//! * changing its intended purpose or its out-of-scope uses, which the risk assessment and its
//!   approval were made against.
//!
//! The authority is a user named in the stored `spec.oversight.overseers`; when none is named, a
//! member of the approver groups that apply to the system (its A.6.2.5 bindings); when neither is
//! set, anyone (nothing is overseen or approved). Deleting a halted AISystem is refused for
//! everyone but the namespace controller deleting its whole namespace: a halt must be cleared by
//! the authority first, so deleting and re-creating the system cannot clear it.
//!
//! Everything is read from the stored object, never from the request. Creating an AISystem is
//! always allowed here, halted or not: there is no earlier record to protect.
//!
//! Pure functions: no client, no clock, and no input makes them panic.

use std::collections::BTreeSet;

use super::Requester;
use crate::api::{AISystemSpec, RiskTier};

/// The user kube-controller-manager deletes a terminating namespace's objects as: a halted system
/// goes with its namespace (and its workloads).
pub const NAMESPACE_CONTROLLER: &str = "system:serviceaccount:kube-system:namespace-controller";

/// Who may make the changes of the [module](self) to one stored system.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authority {
    /// The overseers named in the stored system.
    Overseers(Vec<String>),
    /// No overseer is named: members of these approver groups.
    Approvers(BTreeSet<String>),
    /// Neither is set: anyone.
    Anyone,
}

impl Authority {
    /// The authority over a stored system, given the approver groups its bindings name.
    pub fn of(stored: &AISystemSpec, approver_groups: &BTreeSet<String>) -> Self {
        let overseers = overseers(stored);
        if !overseers.is_empty() {
            Self::Overseers(overseers)
        } else if !approver_groups.is_empty() {
            Self::Approvers(approver_groups.clone())
        } else {
            Self::Anyone
        }
    }

    fn holds(&self, requester: Requester<'_>) -> bool {
        match self {
            Self::Overseers(names) => names.iter().any(|n| n == requester.user),
            Self::Approvers(groups) => requester.groups.iter().any(|g| groups.contains(g)),
            Self::Anyone => true,
        }
    }

    /// Whom to ask, as a refusal says it.
    fn ask(&self, to: &str) -> String {
        match self {
            Self::Overseers(names) => format!("ask one of {} to {to}", names.join(", ")),
            Self::Approvers(groups) => format!(
                "no overseer is named in spec.oversight.overseers, so ask a member of {} (the \
                 system's approvers) to {to}",
                groups.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            Self::Anyone => format!("anyone may {to}"),
        }
    }
}

/// Why the webhook refuses an AISystem change. The message is what `kubectl` shows the person:
/// what is wrong, where (the field path), and who can do it instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SystemRefusal {
    /// A user without the authority tried to clear a halt.
    #[error(
        "spec.oversight.halt: only the system's overseers may clear a halt, and {user} is not one; {}",
        authority.ask("set spec.oversight.halt back to false")
    )]
    ClearHalt {
        /// The requesting user.
        user: String,
        /// Who may.
        authority: Authority,
    },
    /// A user without the authority tried to change a governance declaration.
    #[error(
        "{field}: changing {what} needs the system's authority (its overseers), and {user} does \
         not have it; {}",
        authority.ask("make the change")
    )]
    Declaration {
        /// The field path.
        field: &'static str,
        /// What the change is, in words.
        what: &'static str,
        /// The requesting user.
        user: String,
        /// Who may.
        authority: Authority,
    },
    /// Somebody tried to delete a halted system.
    #[error(
        "a halted AISystem cannot be deleted (deleting and re-creating it would clear the halt): \
         {}, then delete it",
        authority.ask("clear spec.oversight.halt")
    )]
    DeleteHalted {
        /// Who may clear the halt.
        authority: Authority,
    },
}

/// Decides whether `requester` may change an AISystem from `old` (`None` on create) to `new`
/// (`None` on delete), where `approver_groups` are the approver groups that apply to the stored
/// system. See the [module](self) for the rules.
pub fn admit(
    old: Option<&AISystemSpec>,
    new: Option<&AISystemSpec>,
    requester: Requester<'_>,
    approver_groups: &BTreeSet<String>,
) -> Result<(), SystemRefusal> {
    let Some(old) = old else {
        return Ok(());
    };
    let authority = Authority::of(old, approver_groups);
    let Some(new) = new else {
        // A namespace being deleted takes the system's workloads with it.
        return if old.halted() && requester.user != NAMESPACE_CONTROLLER {
            Err(SystemRefusal::DeleteHalted { authority })
        } else {
            Ok(())
        };
    };
    if authority.holds(requester) {
        return Ok(());
    }
    let user = requester.user.to_owned();
    if old.halted() && !new.halted() {
        return Err(SystemRefusal::ClearHalt { user, authority });
    }
    let names = |spec: &AISystemSpec| overseers(spec).into_iter().collect::<BTreeSet<_>>();
    let declaration = if names(old) != names(new) {
        Some(("spec.oversight.overseers", "who oversees the system"))
    } else if rank(new.risk_tier) < rank(old.risk_tier) {
        Some(("spec.riskTier", "the risk tier to a lower one"))
    } else if old.purpose != new.purpose {
        Some(("spec.purpose", "the intended purpose"))
    } else if old.out_of_scope_uses != new.out_of_scope_uses {
        Some((
            "spec.outOfScopeUses",
            "the uses the system must not be put to",
        ))
    } else {
        None
    };
    match declaration {
        Some((field, what)) => Err(SystemRefusal::Declaration {
            field,
            what,
            user,
            authority,
        }),
        None => Ok(()),
    }
}

/// How strict a tier is: a higher rank has more duties.
fn rank(tier: RiskTier) -> u8 {
    match tier {
        RiskTier::Minimal => 0,
        RiskTier::Limited => 1,
        RiskTier::High => 2,
        RiskTier::Prohibited => 3,
    }
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

    /// A High-risk system overseen by `olga` and `oscar`, halted or not.
    fn system(halt: bool) -> AISystemSpec {
        let mut spec: AISystemSpec = serde_json::from_value(json!({
            "purpose": "Scores credit applications",
            "outOfScopeUses": ["employment decisions"],
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

    fn overseers_of_olga() -> Authority {
        Authority::Overseers(strings(&["olga", "oscar"]))
    }

    fn clear_refused(user: &str, authority: Authority) -> Result<(), SystemRefusal> {
        Err(SystemRefusal::ClearHalt {
            user: user.to_owned(),
            authority,
        })
    }

    fn declaration_refused(field: &'static str, what: &'static str) -> Result<(), SystemRefusal> {
        Err(SystemRefusal::Declaration {
            field,
            what,
            user: "mallory".to_owned(),
            authority: overseers_of_olga(),
        })
    }

    type Change = fn(&mut AISystemSpec);

    /// A case: its name, the stored spec (`None` for a create), the change the request makes to
    /// it (`None` for a delete), the requesting user and groups, and the answer.
    type Row<'a> = (
        &'a str,
        Option<&'a AISystemSpec>,
        Option<Change>,
        (&'a str, &'a [&'a str]),
        Result<(), SystemRefusal>,
    );

    #[test]
    fn only_the_systems_authority_weakens_its_governance() {
        let halted = system(true);
        let running = system(false);
        let unsupervised = |halt| {
            let mut spec = system(halt);
            no_overseers(&mut spec);
            spec.risk_tier = RiskTier::Limited;
            spec
        };
        let halted_unsupervised = unsupervised(true);
        let running_unsupervised = unsupervised(false);
        let no_oversight = AISystemSpec {
            oversight: None,
            risk_tier: RiskTier::Limited,
            ..system(false)
        };
        let mallory = ("mallory", &[][..]);
        let olga = ("olga", &[][..]);
        let reviewer = ("rita", &["aims:reviewers"][..]);
        let reviewers = || Authority::Approvers(["aims:reviewers".to_owned()].into());
        #[rustfmt::skip]
        let cases: Vec<Row<'_>> = vec![
            // Create: nothing stored to protect.
            ("create", None, Some(|_| {}), mallory, Ok(())),
            ("create halted", None, Some(halt), mallory, Ok(())),
            // The stop button.
            ("anyone halts", Some(&running), Some(halt), mallory, Ok(())),
            ("anyone halts without oversight stored", Some(&no_oversight), Some(halt), mallory, Ok(())),
            // Clearing a halt.
            ("an overseer clears the halt", Some(&halted), Some(clear_halt), olga, Ok(())),
            ("another overseer clears the halt", Some(&halted), Some(clear_halt), ("oscar", &[]), Ok(())),
            ("a non-overseer clears the halt", Some(&halted), Some(clear_halt), mallory, clear_refused("mallory", overseers_of_olga())),
            ("by dropping oversight", Some(&halted), Some(|s| s.oversight = None), mallory, clear_refused("mallory", overseers_of_olga())),
            ("by naming themselves in the same request", Some(&halted), Some(|s| {
                clear_halt(s);
                add_overseer(s, "mallory");
            }), mallory, clear_refused("mallory", overseers_of_olga())),
            ("no overseer named: an approver clears it", Some(&halted_unsupervised), Some(clear_halt), reviewer, Ok(())),
            ("no overseer named: a non-approver does not", Some(&halted_unsupervised), Some(clear_halt), mallory, clear_refused("mallory", reviewers())),
            // Overseers, halted or not.
            ("a non-overseer names themselves while running", Some(&running), Some(|s| add_overseer(s, "mallory")), mallory,
                declaration_refused("spec.oversight.overseers", "who oversees the system")),
            ("a non-overseer removes them", Some(&running), Some(no_overseers), mallory,
                declaration_refused("spec.oversight.overseers", "who oversees the system")),
            ("a non-overseer adds themselves while halted", Some(&halted), Some(|s| add_overseer(s, "mallory")), mallory,
                declaration_refused("spec.oversight.overseers", "who oversees the system")),
            ("an overseer adds one", Some(&halted), Some(|s| add_overseer(s, "otto")), olga, Ok(())),
            ("reordering is no change", Some(&halted), Some(|s| {
                if let Some(o) = s.oversight.as_mut() {
                    o.overseers.reverse();
                    o.overseers[0].contact = Some("oscar@example.com".into());
                }
            }), mallory, Ok(())),
            // The other declarations.
            ("a non-overseer lowers the tier", Some(&running), Some(|s| s.risk_tier = RiskTier::Minimal), mallory,
                declaration_refused("spec.riskTier", "the risk tier to a lower one")),
            ("a non-overseer raises it", Some(&running), Some(|s| s.risk_tier = RiskTier::Prohibited), mallory, Ok(())),
            ("an overseer lowers it", Some(&running), Some(|s| s.risk_tier = RiskTier::Limited), olga, Ok(())),
            ("a non-overseer edits the purpose", Some(&running), Some(|s| s.purpose = "Scores loans".into()), mallory,
                declaration_refused("spec.purpose", "the intended purpose")),
            ("a non-overseer drops an out-of-scope use", Some(&running), Some(|s| s.out_of_scope_uses.clear()), mallory,
                declaration_refused("spec.outOfScopeUses", "the uses the system must not be put to")),
            ("a non-overseer edits the description", Some(&running), Some(|s| s.description = Some("new words".into())), mallory, Ok(())),
            ("a non-overseer edits the halt reason", Some(&halted), Some(|s| {
                if let Some(o) = s.oversight.as_mut() {
                    o.halt_reason = Some("still biased".into());
                }
            }), mallory, Ok(())),
            ("no overseer or approver: anyone names the first overseer", Some(&running_unsupervised), Some(|s| add_overseer(s, "mallory")), mallory, Ok(())),
            // Delete.
            ("a running system is deleted", Some(&running), None, mallory, Ok(())),
            ("a halted system is not, even by an overseer", Some(&halted), None, olga, Err(SystemRefusal::DeleteHalted { authority: overseers_of_olga() })),
            ("a halted system goes with its namespace", Some(&halted), None, (NAMESPACE_CONTROLLER, &[]), Ok(())),
        ];
        for (name, old, change, (user, groups), want) in cases {
            let new = change.map(|change| {
                let mut new = old.cloned().unwrap_or_else(|| system(false));
                change(&mut new);
                new
            });
            let groups = strings(groups);
            let requester = Requester {
                user,
                groups: &groups,
            };
            // Only the unsupervised halted system has approvers (an A.6.2.5 binding naming them).
            let approvers = if old == Some(&halted_unsupervised) {
                ["aims:reviewers".to_owned()].into()
            } else {
                BTreeSet::new()
            };
            assert_eq!(
                admit(old, new.as_ref(), requester, &approvers),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn refusals_name_the_field_and_whom_to_ask() {
        let cases: [(SystemRefusal, &[&str]); 4] = [
            (
                SystemRefusal::ClearHalt {
                    user: "mallory".into(),
                    authority: overseers_of_olga(),
                },
                &[
                    "spec.oversight.halt",
                    "mallory",
                    "olga, oscar",
                    "back to false",
                ],
            ),
            (
                SystemRefusal::ClearHalt {
                    user: "mallory".into(),
                    authority: Authority::Approvers(["risk".to_owned()].into()),
                },
                &["spec.oversight.halt", "no overseer", "a member of risk"],
            ),
            (
                SystemRefusal::Declaration {
                    field: "spec.riskTier",
                    what: "the risk tier to a lower one",
                    user: "mallory".into(),
                    authority: overseers_of_olga(),
                },
                &["spec.riskTier", "mallory", "ask one of olga"],
            ),
            (
                SystemRefusal::DeleteHalted {
                    authority: overseers_of_olga(),
                },
                &["cannot be deleted", "olga", "clear spec.oversight.halt"],
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
