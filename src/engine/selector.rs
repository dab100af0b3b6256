//! Label selectors, evaluated without a client.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` match `selector`, with Kubernetes semantics: every `matchLabels` pair and every
/// `matchExpressions` requirement must hold; an empty selector matches everything. An expression
/// with an unknown operator matches nothing, so a typo never widens a selection.
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    pairs && expressions
}

/// Whether `selector` has no requirement at all, and so would match every set of labels.
pub fn is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(|e| e.is_empty())
}

/// Like [`matches()`], where an absent selector matches everything.
pub fn matches_opt(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    selector.is_none_or(|s| matches(s, labels))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn selectors_follow_kubernetes_semantics() {
        let team = labels(&[("team", "credit"), ("tier", "gold")]);
        let by_labels = |pairs: &[(&str, &str)]| LabelSelector {
            match_labels: Some(labels(pairs)),
            ..Default::default()
        };
        let by_expr = |e: LabelSelectorRequirement| LabelSelector {
            match_expressions: Some(vec![e]),
            ..Default::default()
        };
        let cases = [
            ("empty selector", LabelSelector::default(), true),
            ("matching pair", by_labels(&[("team", "credit")]), true),
            ("other value", by_labels(&[("team", "hr")]), false),
            ("missing key", by_labels(&[("env", "prod")]), false),
            ("In", by_expr(expr("team", "In", &["credit", "hr"])), true),
            ("In, absent", by_expr(expr("env", "In", &["prod"])), false),
            ("NotIn", by_expr(expr("team", "NotIn", &["hr"])), true),
            (
                "NotIn, absent",
                by_expr(expr("env", "NotIn", &["prod"])),
                true,
            ),
            (
                "NotIn, listed",
                by_expr(expr("team", "NotIn", &["credit"])),
                false,
            ),
            ("Exists", by_expr(expr("tier", "Exists", &[])), true),
            (
                "DoesNotExist",
                by_expr(expr("tier", "DoesNotExist", &[])),
                false,
            ),
            (
                "unknown operator",
                by_expr(expr("team", "Like", &["cred"])),
                false,
            ),
        ];
        for (name, selector, want) in cases {
            assert_eq!(matches(&selector, &team), want, "{name}");
        }
        assert!(matches_opt(None, &team));
    }
}
