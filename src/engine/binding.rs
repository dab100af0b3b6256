//! Which controls apply to a system: the bindings that select it, their profiles, controls,
//! parameters, evidence and exclusions, merged.

use std::collections::{BTreeMap, BTreeSet};

use kube::ResourceExt;

use super::{
    catalog::{Catalog, Control, ids::HUMAN_OVERSIGHT},
    selector,
};
use crate::api::{
    AISystem, BindingRules, ClusterControlBinding, ControlBinding, ControlParams, Enforcement,
    Evidence, OversightMode, RiskTier,
};

/// A binding of either kind.
#[derive(Clone, Copy, Debug)]
pub enum Binding<'a> {
    /// A namespaced ControlBinding: applies to systems of its namespace.
    Namespaced(&'a ControlBinding),
    /// A ClusterControlBinding: applies across namespaces.
    Cluster(&'a ClusterControlBinding),
}

impl<'a> Binding<'a> {
    /// `ControlBinding ns/name` or `ClusterControlBinding name`, as messages name it.
    pub fn display_name(&self) -> String {
        match self {
            Self::Namespaced(b) => format!(
                "ControlBinding {}/{}",
                b.namespace().unwrap_or_default(),
                b.name_any()
            ),
            Self::Cluster(b) => format!("ClusterControlBinding {}", b.name_any()),
        }
    }

    /// The binding's controls, profile and exclusions.
    pub fn rules(&self) -> &'a BindingRules {
        match self {
            Self::Namespaced(b) => &b.spec.rules,
            Self::Cluster(b) => &b.spec.rules,
        }
    }

    /// Whether the binding selects `system`, whose namespace carries `namespace_labels`.
    pub fn selects(&self, system: &AISystem, namespace_labels: &BTreeMap<String, String>) -> bool {
        let labels = system.labels();
        let tier_ok =
            |tiers: &[RiskTier]| tiers.is_empty() || tiers.contains(&system.spec.risk_tier);
        match self {
            Self::Namespaced(b) => {
                b.namespace() == system.namespace()
                    && selector::matches_opt(b.spec.subjects.selector.as_ref(), labels)
                    && tier_ok(&b.spec.subjects.risk_tiers)
            }
            Self::Cluster(b) => {
                let s = &b.spec.subjects;
                selector::matches_opt(s.namespace_selector.as_ref(), namespace_labels)
                    && selector::matches_opt(s.selector.as_ref(), labels)
                    && tier_ok(&s.risk_tiers)
            }
        }
    }
}

/// A control that applies to a system, with everything the bindings say about it.
#[derive(Clone, Debug)]
pub struct Applied<'a> {
    /// The catalog entry.
    pub control: &'a Control,
    /// The strictest enforcement any selecting binding gives it.
    pub enforcement: Enforcement,
    /// Parameters, one entry per binding that sets them.
    pub params: Vec<BoundParams<'a>>,
    /// Evidence for an attested control, from every selecting binding.
    pub evidence: Vec<&'a Evidence>,
    /// The bindings (or the rule) that apply it.
    pub bound_by: Vec<String>,
    /// Whether a binding lists it in `controls` (not only through a profile).
    explicit: bool,
}

/// A binding's parameters for a control, and whether the binding is cluster-wide.
#[derive(Clone, Copy, Debug)]
pub struct BoundParams<'a> {
    /// The parameters.
    pub params: &'a ControlParams,
    /// Whether they come from a ClusterControlBinding (the platform team's) rather than from a
    /// ControlBinding of the system's namespace (the team's own).
    pub cluster: bool,
}

impl<'a> Applied<'a> {
    /// The longest `minRetentionDays` any binding requires.
    pub fn min_retention_days(&self) -> Option<u32> {
        self.all_params().filter_map(|p| p.min_retention_days).max()
    }

    /// The groups whose members may approve.
    ///
    /// Separation of duties: a team's own (namespaced) binding can only narrow what the platform's
    /// cluster bindings allow. When cluster bindings name approver groups, those are the
    /// approvers, narrowed to the groups each namespaced binding that names some also names (a
    /// narrowing that would leave nobody is ignored, never read as "anyone"). A namespaced binding
    /// adding the team's own group thus adds nobody. Only when no cluster binding names approver
    /// groups do the namespaced bindings' groups apply (any of them).
    pub fn approver_groups(&self) -> BTreeSet<String> {
        let groups = |cluster: bool| {
            self.params
                .iter()
                .filter(move |p| p.cluster == cluster && !p.params.approver_groups.is_empty())
                .map(|p| &p.params.approver_groups)
        };
        let platform: BTreeSet<String> = groups(true).flatten().cloned().collect();
        if platform.is_empty() {
            return groups(false).flatten().cloned().collect();
        }
        let narrowed: BTreeSet<String> = platform
            .iter()
            .filter(|g| groups(false).all(|team| team.contains(g)))
            .cloned()
            .collect();
        if narrowed.is_empty() {
            platform
        } else {
            narrowed
        }
    }

    /// Every binding's parameters for this control.
    fn all_params(&self) -> impl Iterator<Item = &'a ControlParams> + '_ {
        self.params.iter().map(|p| p.params)
    }

    /// The most approvals any binding requires (at least 1).
    pub fn min_approvals(&self) -> u8 {
        self.all_params()
            .filter_map(|p| p.min_approvals)
            .max()
            .unwrap_or(1)
    }

    /// The oversight modes bindings require; the system must declare each.
    pub fn oversight_modes(&self) -> BTreeSet<OversightMode> {
        self.all_params().filter_map(|p| p.oversight_mode).collect()
    }

    /// The supplier allowlists bindings set; a model's supplier must be on each.
    pub fn supplier_allowlists(&self) -> impl Iterator<Item = &Vec<String>> {
        self.all_params()
            .map(|p| &p.approved_suppliers)
            .filter(|l| !l.is_empty())
    }
}

/// A control a binding declares not applicable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excluded<'a> {
    /// The catalog entry.
    pub control: &'a Control,
    /// Why it does not apply.
    pub justification: String,
    /// The binding that excludes it.
    pub by: String,
}

/// Which controls apply to one system.
#[derive(Clone, Debug, Default)]
pub struct Applicability<'a> {
    /// The applicable controls, in catalog order.
    pub applied: Vec<Applied<'a>>,
    /// The excluded controls (the exclusions of the Statement of Applicability).
    pub excluded: Vec<Excluded<'a>>,
    /// Control ids that bindings name but the catalog does not know, with the binding.
    pub unknown: Vec<(String, String)>,
    /// The bindings that select the system.
    pub bindings: Vec<String>,
}

impl Applicability<'_> {
    /// The applied control with this id.
    pub fn get(&self, id: &str) -> Option<&Applied<'_>> {
        self.applied.iter().find(|a| a.control.id == id)
    }
}

/// Works out which controls apply to `system`.
///
/// A control applies when a selecting binding lists it or its profile includes it; the strictest
/// enforcement wins. A `notApplicable` entry removes a control that came from a profile, but not
/// one a binding lists explicitly, and never human oversight (A.9.2) of a High-risk system, which
/// applies at `Enforce` even with no binding (EU AI Act Art. 14).
pub fn resolve<'a>(
    system: &AISystem,
    namespace_labels: &BTreeMap<String, String>,
    bindings: &[Binding<'a>],
    catalog: &'a Catalog,
) -> Applicability<'a> {
    let mut applied: BTreeMap<&str, Applied<'a>> = BTreeMap::new();
    let mut exclusions: Vec<(&'a str, &'a str, String)> = Vec::new();
    let mut out = Applicability::default();

    for binding in bindings
        .iter()
        .filter(|b| b.selects(system, namespace_labels))
    {
        let name = binding.display_name();
        let rules = binding.rules();
        let cluster = matches!(binding, Binding::Cluster(_));
        // Within one binding an entry in `controls` overrides what its profile says; across
        // bindings the strictest enforcement wins.
        let mut own: BTreeMap<&str, (&'a Control, Enforcement, bool)> = BTreeMap::new();
        if let Some(profile) = rules.profile {
            for control in catalog.profile(profile) {
                own.insert(&control.id, (control, rules.enforcement, false));
            }
        }
        for rule in &rules.controls {
            let Some(control) = catalog.get(&rule.id) else {
                out.unknown.push((rule.id.clone(), name.clone()));
                continue;
            };
            own.insert(
                &control.id,
                (control, rule.enforcement.unwrap_or(rules.enforcement), true),
            );
        }
        for (control, enforcement, explicit) in own.into_values() {
            add(&mut applied, control, enforcement, &name, explicit);
        }
        for rule in &rules.controls {
            if let Some(entry) = applied.get_mut(rule.id.as_str()) {
                entry.params.extend(
                    rule.params
                        .iter()
                        .map(|params| BoundParams { params, cluster }),
                );
                entry.evidence.extend(&rule.evidence);
            }
        }
        for exclusion in &rules.not_applicable {
            match catalog.get(&exclusion.id) {
                Some(control) => {
                    exclusions.push((&control.id, &exclusion.justification, name.clone()))
                }
                None => out.unknown.push((exclusion.id.clone(), name.clone())),
            }
        }
        out.bindings.push(name);
    }

    let high = system.spec.risk_tier == RiskTier::High;
    if high && let Some(control) = catalog.get(HUMAN_OVERSIGHT) {
        add(
            &mut applied,
            control,
            Enforcement::Enforce,
            "EU AI Act Art. 14 (always checked for High-risk systems)",
            true,
        );
    }

    for (id, justification, by) in exclusions {
        let protected =
            applied.get(id).is_some_and(|a| a.explicit) || (high && id == HUMAN_OVERSIGHT);
        if protected {
            continue;
        }
        applied.remove(id);
        if let Some(control) = catalog.get(id) {
            out.excluded.push(Excluded {
                control,
                justification: justification.to_owned(),
                by,
            });
        }
    }

    out.applied = catalog
        .controls()
        .iter()
        .filter_map(|c| applied.remove(c.id.as_str()))
        .collect();
    out
}

/// Adds `control` to `applied`, or tightens the entry already there.
fn add<'m, 'a>(
    applied: &'m mut BTreeMap<&'a str, Applied<'a>>,
    control: &'a Control,
    enforcement: Enforcement,
    name: &str,
    explicit: bool,
) -> &'m mut Applied<'a> {
    let entry = applied
        .entry(control.id.as_str())
        .or_insert_with(|| Applied {
            control,
            enforcement,
            params: Vec::new(),
            evidence: Vec::new(),
            bound_by: Vec::new(),
            explicit: false,
        });
    entry.enforcement = entry.enforcement.min(enforcement); // Enforce < Warn < Audit
    entry.explicit |= explicit;
    if !entry.bound_by.iter().any(|b| b == name) {
        entry.bound_by.push(name.to_owned());
    }
    entry
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn system(tier: &str, labels: serde_json::Value) -> AISystem {
        let mut spec = json!({"purpose": "p", "riskTier": tier, "owner": {"name": "o"}});
        if tier == "High" {
            spec["highRiskCategory"] = json!("Employment");
            spec["oversight"] = json!({"mode": "HumanInTheLoop", "overseers": [{"name": "x"}]});
        }
        serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
            "metadata": {"name": "s", "namespace": "team", "labels": labels},
            "spec": spec
        }))
        .unwrap()
    }

    fn cb(namespace: &str, spec: serde_json::Value) -> ControlBinding {
        serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "ControlBinding",
            "metadata": {"name": "cb", "namespace": namespace}, "spec": spec
        }))
        .unwrap()
    }

    fn ccb(name: &str, spec: serde_json::Value) -> ClusterControlBinding {
        serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "ClusterControlBinding",
            "metadata": {"name": name}, "spec": spec
        }))
        .unwrap()
    }

    fn ids(a: &Applicability) -> Vec<String> {
        a.applied.iter().map(|c| c.control.id.clone()).collect()
    }

    #[test]
    fn bindings_select_by_namespace_labels_tier_and_namespace_selector() {
        let ns_labels: BTreeMap<String, String> = [("env".to_string(), "prod".to_string())].into();
        let minimal = system("Minimal", json!({"team": "credit"}));
        let same_ns = cb("team", json!({"controls": [{"id": "A.3.2"}]}));
        let other_ns = cb("elsewhere", json!({"controls": [{"id": "A.3.2"}]}));
        let by_label = cb(
            "team",
            json!({"subjects": {"selector": {"matchLabels": {"team": "credit"}}}, "controls": [{"id": "A.3.2"}]}),
        );
        let wrong_label = cb(
            "team",
            json!({"subjects": {"selector": {"matchLabels": {"team": "hr"}}}, "controls": [{"id": "A.3.2"}]}),
        );
        let high_only = ccb(
            "h",
            json!({"subjects": {"riskTiers": ["High"]}, "profile": "minimal"}),
        );
        let prod_only = ccb(
            "p",
            json!({"subjects": {"namespaceSelector": {"matchLabels": {"env": "prod"}}}, "profile": "minimal"}),
        );
        let dev_only = ccb(
            "d",
            json!({"subjects": {"namespaceSelector": {"matchLabels": {"env": "dev"}}}, "profile": "minimal"}),
        );
        for (binding, want) in [
            (Binding::Namespaced(&same_ns), true),
            (Binding::Namespaced(&other_ns), false),
            (Binding::Namespaced(&by_label), true),
            (Binding::Namespaced(&wrong_label), false),
            (Binding::Cluster(&high_only), false),
            (Binding::Cluster(&prod_only), true),
            (Binding::Cluster(&dev_only), false),
        ] {
            assert_eq!(
                binding.selects(&minimal, &ns_labels),
                want,
                "{}",
                binding.display_name()
            );
        }
    }

    /// Separation of duties: whatever the team's bindings say, the platform's approver groups are
    /// the most that can approve.
    #[test]
    fn a_team_binding_only_narrows_the_platforms_approvers() {
        let catalog = Catalog::builtin();
        let s = system("High", json!({}));
        let groups = |groups: &[&str]| json!({"controls": [{"id": "A.6.2.5", "params": {"approverGroups": groups}}]});
        let set = |groups: &[&str]| {
            groups
                .iter()
                .map(|g| (*g).to_owned())
                .collect::<BTreeSet<_>>()
        };
        /// A case's name, the platform's groups, each team binding's groups, the approvers.
        type Row<'a> = (&'a str, &'a [&'a str], &'a [&'a [&'a str]], &'a [&'a str]);
        let table: [Row<'_>; 6] = [
            (
                "the platform's groups alone",
                &["risk", "audit"],
                &[],
                &["risk", "audit"],
            ),
            (
                "the team adds its own group: ignored",
                &["risk"],
                &[&["risk", "ml-team"]],
                &["risk"],
            ),
            (
                "the team names only its own group: the platform's stay",
                &["risk"],
                &[&["ml-team"]],
                &["risk"],
            ),
            (
                "the team narrows to one of the platform's",
                &["risk", "audit"],
                &[&["audit"]],
                &["audit"],
            ),
            (
                "no platform groups: the team's apply",
                &[],
                &[&["leads"], &["risk"]],
                &["leads", "risk"],
            ),
            (
                "nobody names any: anyone (not the submitter)",
                &[],
                &[],
                &[],
            ),
        ];
        for (name, platform, teams, want) in table {
            let platform = ccb("platform", groups(platform));
            let teams: Vec<ControlBinding> = teams.iter().map(|t| cb("team", groups(t))).collect();
            let mut bindings = vec![Binding::Cluster(&platform)];
            bindings.extend(teams.iter().map(Binding::Namespaced));
            let result = resolve(&s, &BTreeMap::new(), &bindings, &catalog);
            let approval = result.get("A.6.2.5").unwrap();
            assert_eq!(approval.approver_groups(), set(want), "{name}");
        }
    }

    #[test]
    fn the_strictest_enforcement_wins_and_parameters_merge() {
        let catalog = Catalog::builtin();
        let s = system("Minimal", json!({}));
        let a = ccb(
            "a",
            json!({"profile": "minimal", "enforcement": "Audit", "controls": [
            {"id": "A.6.2.5", "enforcement": "Warn", "params": {"approverGroups": ["risk"], "minApprovals": 2}},
            {"id": "A.6.2.8", "params": {"minRetentionDays": 90}}]}),
        );
        let b = cb(
            "team",
            json!({"enforcement": "Warn", "controls": [
            {"id": "A.6.2.5", "enforcement": "Enforce", "params": {"approverGroups": ["leads"]}},
            {"id": "A.6.2.8", "params": {"minRetentionDays": 180}}]}),
        );
        let result = resolve(
            &s,
            &BTreeMap::new(),
            &[Binding::Cluster(&a), Binding::Namespaced(&b)],
            &catalog,
        );
        assert_eq!(
            ids(&result),
            ["A.3.2", "A.4.2", "A.4.4", "A.6.2.5", "A.6.2.8"]
        );
        let approval = result.get("A.6.2.5").unwrap();
        assert_eq!(approval.enforcement, Enforcement::Enforce);
        assert_eq!(approval.min_approvals(), 2);
        assert_eq!(
            approval.approver_groups(),
            ["risk".to_string()].into(),
            "the team's binding cannot add its own group to the platform's approvers"
        );
        assert_eq!(
            result.get("A.6.2.8").unwrap().min_retention_days(),
            Some(180)
        );
        assert_eq!(
            result.get("A.6.2.8").unwrap().enforcement,
            Enforcement::Warn,
            "binding b's default"
        );
        assert_eq!(result.get("A.3.2").unwrap().enforcement, Enforcement::Audit);
        assert_eq!(result.bindings.len(), 2);
    }

    #[test]
    fn exclusions_remove_profile_controls_but_not_explicit_ones_nor_oversight_of_high_systems() {
        let catalog = Catalog::builtin();
        let high = system("High", json!({}));
        let platform = ccb(
            "platform",
            json!({"profile": "eu-ai-act-high-risk", "controls": [{"id": "A.6.2.5"}]}),
        );
        let team = cb(
            "team",
            json!({"controls": [{"id": "A.3.2"}], "notApplicable": [
            {"id": "A.5.5", "justification": "no societal reach at all"},
            {"id": "A.6.2.5", "justification": "we would rather not be approved"},
            {"id": "A.9.2", "justification": "nobody watches this system"},
            {"id": "A.77", "justification": "unknown control id here"}]}),
        );
        let result = resolve(
            &high,
            &BTreeMap::new(),
            &[Binding::Cluster(&platform), Binding::Namespaced(&team)],
            &catalog,
        );
        let applied = ids(&result);
        assert!(!applied.contains(&"A.5.5".to_string()));
        assert!(
            applied.contains(&"A.6.2.5".to_string()),
            "explicitly bound by the platform"
        );
        assert!(
            applied.contains(&"A.9.2".to_string()),
            "oversight of a High system"
        );
        assert_eq!(result.excluded.len(), 1);
        assert_eq!(result.excluded[0].control.id, "A.5.5");
        assert_eq!(
            result.unknown,
            [("A.77".to_string(), "ControlBinding team/cb".to_string())]
        );
    }

    #[test]
    fn an_entry_in_controls_overrides_its_own_profile_but_not_another_binding() {
        let catalog = Catalog::builtin();
        let s = system("Minimal", json!({}));
        let relaxed = ccb(
            "r",
            json!({"profile": "minimal", "controls": [{"id": "A.4.4", "enforcement": "Audit"}]}),
        );
        let result = resolve(
            &s,
            &BTreeMap::new(),
            &[Binding::Cluster(&relaxed)],
            &catalog,
        );
        assert_eq!(result.get("A.4.4").unwrap().enforcement, Enforcement::Audit);
        let strict = ccb("s", json!({"profile": "minimal"}));
        let both = [Binding::Cluster(&relaxed), Binding::Cluster(&strict)];
        let result = resolve(&s, &BTreeMap::new(), &both, &catalog);
        assert_eq!(
            result.get("A.4.4").unwrap().enforcement,
            Enforcement::Enforce
        );
    }

    #[test]
    fn oversight_applies_to_high_systems_without_any_binding() {
        let catalog = Catalog::builtin();
        let result = resolve(&system("High", json!({})), &BTreeMap::new(), &[], &catalog);
        assert_eq!(ids(&result), ["A.9.2"]);
        assert_eq!(result.applied[0].enforcement, Enforcement::Enforce);
        let result = resolve(
            &system("Limited", json!({})),
            &BTreeMap::new(),
            &[],
            &catalog,
        );
        assert!(result.applied.is_empty());
    }
}
