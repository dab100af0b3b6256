//! The crosswalk of the controls to the harmonised standards under preparation for the EU AI Act
//! (CEN/CLC JTC 21): data (`catalog/harmonised-standards.yaml`), matched through the EU AI Act
//! articles a control maps to.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::catalog::Control;

/// The standards file, embedded.
const BUILTIN: &str = include_str!("../../catalog/harmonised-standards.yaml");

/// One harmonised standard under preparation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Standard {
    /// Its reference, for example `prEN 18228`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The EU AI Act articles it supports.
    pub articles: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StandardsFile {
    standards: Vec<Standard>,
}

static STANDARDS: LazyLock<Vec<Standard>> = LazyLock::new(|| {
    serde_saphyr::from_str::<StandardsFile>(BUILTIN)
        .expect("the embedded catalog/harmonised-standards.yaml is valid (tested)")
        .standards
});

/// Every standard of the crosswalk.
pub fn standards() -> &'static [Standard] {
    &STANDARDS
}

/// The article an article reference names, without a paragraph: `Art. 26(5)` → `Art. 26`.
fn article(reference: &str) -> &str {
    reference.split('(').next().unwrap_or(reference).trim()
}

/// The standards that support any of `articles`, in the file's order.
pub fn for_articles(articles: &[String]) -> Vec<&'static Standard> {
    standards()
        .iter()
        .filter(|s| {
            s.articles
                .iter()
                .any(|a| articles.iter().any(|b| article(a) == article(b)))
        })
        .collect()
}

/// The standards that cover `control`, through its EU AI Act articles.
pub fn for_control(control: &Control) -> Vec<&'static Standard> {
    for_articles(&control.eu_ai_act)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::Catalog;

    #[test]
    fn the_standards_file_reads_and_names_the_jtc21_deliverables() {
        let ids: Vec<&str> = standards().iter().map(|s| s.id.as_str()).collect();
        for id in [
            "prEN 18228",
            "prEN 18229-1",
            "prEN 18229-2",
            "prEN 18282",
            "prEN 18283",
            "prEN 18284",
            "prEN 18285",
            "prEN 18286",
            "prEN ISO/IEC 24970",
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
    }

    #[test]
    fn a_control_reaches_the_standards_of_its_articles() {
        let catalog = Catalog::builtin();
        let cases = [
            // Risk assessment (Art. 9) → risk management.
            ("A.5.2", "prEN 18228"),
            // Human oversight (Art. 14) → logging, transparency and oversight.
            ("A.9.2", "prEN 18229-1"),
            // Data provenance (Art. 10) → data quality and governance, and bias.
            ("A.7.5", "prEN 18284"),
            ("A.7.5", "prEN 18283"),
            // Event logs (Art. 12) → logging.
            ("A.6.2.8", "prEN ISO/IEC 24970"),
            // AI policy (Art. 17) → quality management system.
            ("A.2.2", "prEN 18286"),
        ];
        for (control, standard) in cases {
            let control = catalog.get(control).unwrap();
            let found: Vec<&str> = for_control(control).iter().map(|s| s.id.as_str()).collect();
            assert!(
                found.contains(&standard),
                "{}: {standard} not in {found:?} (articles {:?})",
                control.id,
                control.eu_ai_act
            );
        }
        // A paragraph matches its article; another article does not.
        let found: Vec<&str> = for_articles(&["Art. 40".into()])
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(found, ["prEN 18287"]);
        assert!(for_articles(&["Art. 99".into()]).is_empty());
    }
}
