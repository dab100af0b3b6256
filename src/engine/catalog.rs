//! The control catalog: the ISO/IEC 42001 Annex A controls, their crosswalk to the EU AI Act and the
//! NIST AI RMF, which of them the engine checks and which are attested, and the profiles.
//!
//! The catalog is data (`catalog/iso42001-annex-a.yaml`, embedded in the binary); this module reads
//! and indexes it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::api::Profile;

/// The catalog shipped with aims.
const BUILTIN: &str = include_str!("../../catalog/iso42001-annex-a.yaml");

/// The controls the engine's rules name by id; every other control is reached through its check.
pub mod ids {
    /// A.6.2.5, AI system deployment: the approval the webhook enforces, and its approval policy.
    pub const DEPLOYMENT_APPROVAL: &str = "A.6.2.5";
    /// A.9.2, human oversight: always applied to High-risk systems, and the control a halt is
    /// reported under.
    pub const HUMAN_OVERSIGHT: &str = "A.9.2";
    /// A.9.4, intended use: the control a prohibited practice is reported under.
    pub const INTENDED_USE: &str = "A.9.4";
}

/// An engine check that decides a control from the records and the live workloads.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The owner is reachable and a team answers for the system.
    Accountability,
    /// Every image and model URI the workloads run is declared in `spec.models`.
    ResourceInventory,
    /// The system declares its data sets.
    DataInventory,
    /// Every image is pinned by digest.
    PinnedImages,
    /// Every container declares its CPU or memory requests.
    ComputeResources,
    /// A risk assessment exists and every residual risk is within appetite.
    RiskAssessment,
    /// The impact assessment is complete.
    ImpactAssessment,
    /// The impact assessment names the affected people; High systems have a fundamental rights
    /// assessment.
    IndividualImpact,
    /// The impact assessment covers societal impacts.
    SocietalImpact,
    /// Every model declares its version.
    ModelSpecification,
    /// Every model has a model card.
    DesignDocumentation,
    /// An approved, unexpired assessment covers every artifact a workload runs.
    DeploymentApproval,
    /// Monitoring is described.
    Monitoring,
    /// Technical documentation is referenced.
    TechnicalDocumentation,
    /// Event logging is on and kept long enough.
    EventLogs,
    /// Every data set has a source and a licence or legal basis.
    DataAcquisition,
    /// Training, validation and test data sets have a quality report.
    DataQuality,
    /// Every data set has provenance.
    DataProvenance,
    /// Instructions for use (High) or a transparency notice (Limited) exist.
    UserInformation,
    /// An incident contact is named.
    IncidentContact,
    /// Human oversight: a mode, named overseers, the mode a binding requires.
    Oversight,
    /// The intended purpose and the uses out of scope are stated.
    IntendedUse,
    /// Third-party models come from approved suppliers.
    Suppliers,
}

/// One Annex A control.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Control {
    /// The control id, for example `A.6.2.5`.
    pub id: String,
    /// The control group, for example `A.6`.
    pub group: String,
    /// The short title.
    pub title: String,
    /// What the control is for, in our own words.
    pub intent: String,
    /// EU AI Act articles it maps to.
    #[serde(default)]
    pub eu_ai_act: Vec<String>,
    /// NIST AI RMF subcategories it maps to.
    #[serde(default)]
    pub nist_ai_rmf: Vec<String>,
    /// The engine check that decides it; `None` means it is attested with evidence.
    #[serde(default)]
    pub check: Option<Check>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CatalogFile {
    #[serde(default)]
    groups: Vec<Group>,
    controls: Vec<Control>,
    profiles: BTreeMap<String, Vec<String>>,
}

/// An Annex A group, as far as its id and title (`A.6`, `AI system life cycle`).
#[derive(Deserialize, Clone, Debug)]
struct Group {
    id: String,
    title: String,
}

/// Why a catalog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The YAML does not parse into a catalog.
    #[error("catalog: {0}")]
    Parse(String),
    /// A control id appears twice.
    #[error("catalog: control {0} appears twice")]
    DuplicateControl(String),
    /// A profile names a control the catalog does not have.
    #[error("catalog: profile {profile} names unknown control {id}")]
    UnknownControlInProfile {
        /// The profile.
        profile: String,
        /// The unknown id.
        id: String,
    },
    /// A profile the API defines is missing from the catalog, or the catalog defines one the API
    /// does not know.
    #[error("catalog: profile {0} is missing or unknown")]
    Profile(String),
}

/// The indexed catalog.
#[derive(Clone, Debug)]
pub struct Catalog {
    controls: Vec<Control>,
    by_id: BTreeMap<String, usize>,
    profiles: BTreeMap<Profile, Vec<usize>>,
    groups: BTreeMap<String, String>,
}

impl Catalog {
    /// The catalog shipped with aims.
    pub fn builtin() -> Self {
        // The embedded file is fixed at build time and a unit test parses it.
        Self::from_yaml(BUILTIN).expect("the embedded catalog is valid")
    }

    /// Reads a catalog from YAML.
    pub fn from_yaml(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile =
            serde_saphyr::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
        let mut by_id = BTreeMap::new();
        for (i, control) in file.controls.iter().enumerate() {
            if by_id.insert(control.id.clone(), i).is_some() {
                return Err(CatalogError::DuplicateControl(control.id.clone()));
            }
        }
        let mut profiles = BTreeMap::new();
        for (name, ids) in file.profiles {
            let profile =
                profile_named(&name).ok_or_else(|| CatalogError::Profile(name.clone()))?;
            let indices =
                ids.iter()
                    .map(|id| {
                        by_id.get(id).copied().ok_or_else(|| {
                            CatalogError::UnknownControlInProfile {
                                profile: name.clone(),
                                id: id.clone(),
                            }
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
            profiles.insert(profile, indices);
        }
        for profile in [
            Profile::Minimal,
            Profile::Iso42001,
            Profile::EuAiActHighRisk,
        ] {
            if !profiles.contains_key(&profile) {
                return Err(CatalogError::Profile(format!("{profile:?}")));
            }
        }
        Ok(Self {
            controls: file.controls,
            by_id,
            profiles,
            groups: file.groups.into_iter().map(|g| (g.id, g.title)).collect(),
        })
    }

    /// Every control, in catalog order.
    pub fn controls(&self) -> &[Control] {
        &self.controls
    }

    /// The control with this id.
    pub fn get(&self, id: &str) -> Option<&Control> {
        self.by_id.get(id).map(|&i| &self.controls[i])
    }

    /// The controls of a profile.
    pub fn profile(&self, profile: Profile) -> impl Iterator<Item = &Control> {
        self.profiles
            .get(&profile)
            .into_iter()
            .flatten()
            .map(|&i| &self.controls[i])
    }

    /// The title of the Annex A group `id` (`A.6` → `AI system life cycle`), when the catalog
    /// names it.
    pub fn group_title(&self, id: &str) -> Option<&str> {
        self.groups.get(id).map(String::as_str)
    }

    /// The ids of the checked controls.
    pub fn checked(&self) -> BTreeSet<&str> {
        self.controls
            .iter()
            .filter(|c| c.check.is_some())
            .map(|c| c.id.as_str())
            .collect()
    }
}

/// The candidate most similar to `word` (ignoring case), if one is close enough to be a typo: the
/// did-you-mean of error messages, for control ids as for field names and kinds.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    const MAX_LEN: usize = 64;
    let word: Vec<char> = word.to_lowercase().chars().collect();
    if word.is_empty() || word.len() > MAX_LEN {
        return None;
    }
    candidates
        .into_iter()
        .filter_map(|candidate| {
            let c: Vec<char> = candidate.to_lowercase().chars().collect();
            if c.len() > MAX_LEN {
                return None;
            }
            let distance = edit_distance(&word, &c);
            let allowed = (word.len().max(c.len()) / 3).max(1);
            (distance <= allowed).then_some((distance, candidate))
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Edit distance with insertions, deletions, substitutions and transpositions of neighbours.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

fn profile_named(name: &str) -> Option<Profile> {
    match name {
        "minimal" => Some(Profile::Minimal),
        "iso42001" => Some(Profile::Iso42001),
        "eu-ai-act-high-risk" => Some(Profile::EuAiActHighRisk),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_has_the_38_annex_a_controls() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.controls().len(), 38);
        assert!(catalog.checked().len() >= 20, "{:?}", catalog.checked());
        assert_eq!(catalog.profile(Profile::Iso42001).count(), 38);
        let a625 = catalog.get("A.6.2.5").unwrap();
        assert_eq!(a625.check, Some(Check::DeploymentApproval));
        assert!(a625.eu_ai_act.iter().any(|a| a.starts_with("Art.")));
        assert_eq!(
            catalog.get("A.2.2").unwrap().check,
            None,
            "the AI policy is attested"
        );
        assert!(catalog.get("A.99").is_none());
    }

    #[test]
    fn every_check_decides_exactly_one_control() {
        let catalog = Catalog::builtin();
        let checks: Vec<_> = catalog.controls().iter().filter_map(|c| c.check).collect();
        let distinct: BTreeSet<_> = checks.iter().collect();
        assert_eq!(checks.len(), distinct.len());
    }

    #[test]
    fn the_high_risk_profile_includes_oversight_and_deployment_approval() {
        let catalog = Catalog::builtin();
        let ids: Vec<_> = catalog
            .profile(Profile::EuAiActHighRisk)
            .map(|c| c.id.as_str())
            .collect();
        for id in ["A.9.2", "A.6.2.5", "A.5.4", "A.6.2.8", "A.7.5"] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
    }

    #[test]
    fn typos_are_matched_by_edit_distance() {
        let cases = [
            ("riskTeir", Some("riskTier")),
            ("haltReasn", Some("haltReason")),
            ("deployment", Some("Deployment")),
            ("Deploymnet", Some("Deployment")),
            ("colour", None),
            ("", None),
        ];
        for (word, want) in cases {
            let candidates = ["riskTier", "haltReason", "Deployment", "DaemonSet", "halt"];
            assert_eq!(closest(word, candidates), want, "{word}");
        }
    }

    #[test]
    fn broken_catalogs_are_rejected_with_a_reason() {
        let control = "- {id: A.1, group: A, title: t, intent: i}\n";
        let profiles = "profiles: {minimal: [A.1], iso42001: [A.1], eu-ai-act-high-risk: [A.1]}\n";
        let cases = [
            (
                format!("controls:\n{control}{control}{profiles}"),
                "appears twice",
            ),
            (
                format!(
                    "controls:\n{control}profiles: {{minimal: [A.2], iso42001: [], eu-ai-act-high-risk: []}}\n"
                ),
                "unknown control A.2",
            ),
            (
                format!("controls:\n{control}profiles: {{minimal: [A.1], iso42001: [A.1]}}\n"),
                "missing or unknown",
            ),
            (
                format!(
                    "controls:\n- {{id: A.1, group: A, title: t, intent: i, check: telepathy}}\n{profiles}"
                ),
                "telepathy",
            ),
            ("controls: 7".to_owned(), "catalog"),
        ];
        for (yaml, want) in cases {
            let err = Catalog::from_yaml(&yaml).unwrap_err().to_string();
            assert!(err.contains(want), "{want:?} not in {err:?}");
        }
    }
}
