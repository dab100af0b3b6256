//! `kubectl aims status`: the AISystems of a namespace (or all), their tier and phase, and the
//! controls they miss, as the operator last wrote them.

use kube::{Api, ResourceExt, api::ListParams};

use super::connect::{ClusterError, Connection, Target};
use crate::api::{AISystem, AISystemStatus, Phase};

/// Options of `aims status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Where: `-n NS`, `-A`, or the current kubeconfig context's namespace.
    #[command(flatten)]
    pub scope: super::connect::ListScope,
    /// How to reach the cluster.
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    /// The system's namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its EU AI Act risk tier.
    pub tier: String,
    /// Its phase; `-` before the operator has evaluated it.
    pub phase: String,
    /// The failing control ids, worst first, each once; `-` when none.
    pub missing: String,
}

impl StatusRow {
    /// The row of `system`.
    pub fn of(system: &AISystem) -> Self {
        let status = system.status.as_ref();
        Self {
            namespace: system.namespace().unwrap_or_default(),
            name: system.name_any(),
            tier: system.spec.risk_tier.as_str().to_owned(),
            phase: status
                .and_then(|s| s.phase)
                .map_or("-", phase_name)
                .to_owned(),
            missing: status.map_or_else(|| "-".to_owned(), missing),
        }
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Compliant => "Compliant",
        Phase::NonCompliant => "NonCompliant",
        Phase::Pending => "Pending",
        Phase::Halted => "Halted",
    }
}

/// The failing controls of `status`, from its findings: each control id once, in the findings'
/// order (worst first), and how many findings the status left out for its cap.
pub fn missing(status: &AISystemStatus) -> String {
    let mut ids: Vec<&str> = Vec::new();
    for finding in &status.findings {
        if !ids.contains(&finding.control.as_str()) {
            ids.push(&finding.control);
        }
    }
    if ids.is_empty() {
        return "-".to_owned();
    }
    let mut text = ids.join(", ");
    let listed = status.findings.len();
    let total = status
        .findings_total
        .map_or(listed, |t| usize::try_from(t).unwrap_or(usize::MAX));
    if total > listed {
        text.push_str(&format!(" (+{} more findings)", total - listed));
    }
    text
}

/// The systems as a table, sorted by namespace and name; with a NAMESPACE column when
/// `all_namespaces`. `scope` names where they were listed, for the line printed when there are
/// none.
pub fn table(systems: &[AISystem], all_namespaces: bool, scope: &str) -> String {
    if systems.is_empty() {
        return format!("No AISystems found {scope}.\n");
    }
    let mut rows: Vec<StatusRow> = systems.iter().map(StatusRow::of).collect();
    rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let mut columns: Vec<(&str, Vec<&str>)> = Vec::new();
    if all_namespaces {
        columns.push((
            "NAMESPACE",
            rows.iter().map(|r| r.namespace.as_str()).collect(),
        ));
    }
    columns.push(("NAME", rows.iter().map(|r| r.name.as_str()).collect()));
    columns.push(("TIER", rows.iter().map(|r| r.tier.as_str()).collect()));
    columns.push(("PHASE", rows.iter().map(|r| r.phase.as_str()).collect()));
    columns.push(("MISSING", rows.iter().map(|r| r.missing.as_str()).collect()));
    let widths: Vec<usize> = columns
        .iter()
        .map(|(header, cells)| {
            cells
                .iter()
                .map(|c| c.len())
                .max()
                .unwrap_or(0)
                .max(header.len())
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:w$}   ", w = widths[i]));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(columns.iter().map(|(h, _)| *h).collect());
    for i in 0..rows.len() {
        out.push_str(&line(columns.iter().map(|(_, cells)| cells[i]).collect()));
    }
    out
}

/// Lists the systems and renders the table.
pub async fn run(cluster: &Connection, args: StatusArgs) -> Result<String, ClusterError> {
    let namespace = args.scope.namespace(cluster);
    let api = match &namespace {
        None => Api::<AISystem>::all(cluster.client.clone()),
        Some(ns) => cluster.api::<AISystem>(ns),
    };
    let systems = api
        .list(&ListParams::default())
        .await
        .map_err(|e| cluster.classify(e, Target::list("aisystem", namespace.as_deref())))?
        .items;
    let scope = namespace.map_or_else(
        || "in any namespace".to_owned(),
        |ns| format!("in namespace {ns:?}"),
    );
    Ok(table(&systems, args.scope.all_namespaces, &scope))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn system(ns: &str, name: &str, status: serde_json::Value) -> AISystem {
        serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1",
            "kind": "AISystem",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"purpose": "p", "riskTier": "Limited", "owner": {"name": "sam"}},
            "status": status,
        }))
        .unwrap()
    }

    fn finding(control: &str) -> serde_json::Value {
        json!({"control": control, "severity": "High", "message": "m"})
    }

    #[test]
    fn missing_lists_each_failing_control_once_worst_first() {
        let status: AISystemStatus = serde_json::from_value(json!({
            "phase": "NonCompliant",
            "findings": [finding("A.6.2.5"), finding("A.3.2"), finding("A.6.2.5"), finding("A.4.5")],
        }))
        .unwrap();
        assert_eq!(missing(&status), "A.6.2.5, A.3.2, A.4.5");
    }

    #[test]
    fn missing_says_how_many_findings_the_status_left_out() {
        let status: AISystemStatus = serde_json::from_value(json!({
            "findings": [finding("A.3.2")],
            "findingsTotal": 4,
        }))
        .unwrap();
        assert_eq!(missing(&status), "A.3.2 (+3 more findings)");
        assert_eq!(missing(&AISystemStatus::default()), "-");
    }

    #[test]
    fn table_of_one_namespace() {
        let systems = [
            system(
                "credit",
                "scoring",
                json!({"phase": "Pending", "findings": [finding("A.6.2.5")]}),
            ),
            system("credit", "chat", json!({"phase": "Compliant"})),
        ];
        assert_eq!(
            table(&systems, false, "in namespace \"credit\""),
            "NAME      TIER      PHASE       MISSING\n\
             chat      Limited   Compliant   -\n\
             scoring   Limited   Pending     A.6.2.5\n"
        );
    }

    #[test]
    fn table_of_all_namespaces_sorted_with_unevaluated_systems() {
        let systems = [
            system(
                "shop",
                "recommender",
                json!({"phase": "Halted", "findings": [finding("A.9.2")]}),
            ),
            system("credit", "scoring", json!(null)),
        ];
        assert_eq!(
            table(&systems, true, "in any namespace"),
            "NAMESPACE   NAME          TIER      PHASE    MISSING\n\
             credit      scoring       Limited   -        -\n\
             shop        recommender   Limited   Halted   A.9.2\n"
        );
    }

    #[test]
    fn an_empty_list_says_where_it_looked() {
        assert_eq!(
            table(&[], false, "in namespace \"hr\""),
            "No AISystems found in namespace \"hr\".\n"
        );
    }
}
