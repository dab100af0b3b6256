//! `ControlBinding` and `ClusterControlBinding`: which ISO/IEC 42001 Annex A controls apply to
//! which AI systems, and how strictly. They relate to AISystems as RoleBinding and
//! ClusterRoleBinding relate to subjects.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DocumentRef, Enforcement, OversightMode, RiskTier};

/// Binds ISO/IEC 42001 Annex A controls to the AISystems of its namespace. Its controls and
/// `notApplicable` entries are rows of the Statement of Applicability.
#[allow(clippy::duplicated_attributes)] // printcolumn(...) repeats keys by design
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aims.dev",
    version = "v1alpha1",
    kind = "ControlBinding",
    plural = "controlbindings",
    singular = "controlbinding",
    shortname = "cb",
    category = "aims",
    namespaced,
    status = "ControlBindingStatus",
    printcolumn(
        name = "Profile",
        type_ = "string",
        json_path = ".spec.profile",
        description = "Control profile"
    ),
    printcolumn(
        name = "Enforcement",
        type_ = "string",
        json_path = ".spec.enforcement",
        description = "Default enforcement"
    ),
    printcolumn(
        name = "Systems",
        type_ = "integer",
        json_path = ".status.matchedSystems",
        description = "AISystems bound"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ControlBindingSpec {
    /// Which AISystems of this namespace the binding applies to. Empty means all of them.
    #[serde(default)]
    pub subjects: Subjects,
    /// The controls and how they are enforced.
    #[serde(flatten)]
    pub rules: BindingRules,
}

/// Binds ISO/IEC 42001 Annex A controls to AISystems across namespaces: the platform team's
/// defaults, such as the `eu-ai-act-high-risk` profile for every High-risk system.
#[allow(clippy::duplicated_attributes)] // printcolumn(...) repeats keys by design
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aims.dev",
    version = "v1alpha1",
    kind = "ClusterControlBinding",
    plural = "clustercontrolbindings",
    singular = "clustercontrolbinding",
    shortname = "ccb",
    category = "aims",
    status = "ControlBindingStatus",
    printcolumn(
        name = "Profile",
        type_ = "string",
        json_path = ".spec.profile",
        description = "Control profile"
    ),
    printcolumn(
        name = "Enforcement",
        type_ = "string",
        json_path = ".spec.enforcement",
        description = "Default enforcement"
    ),
    printcolumn(
        name = "Systems",
        type_ = "integer",
        json_path = ".status.matchedSystems",
        description = "AISystems bound"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterControlBindingSpec {
    /// Which AISystems, in which namespaces, the binding applies to. Empty means all of them.
    #[serde(default)]
    pub subjects: ClusterSubjects,
    /// The controls and how they are enforced.
    #[serde(flatten)]
    pub rules: BindingRules,
}

/// The AISystems a ControlBinding applies to: those that match every given criterion.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Subjects {
    /// AISystems whose labels match. Unset matches every AISystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// AISystems of these risk tiers. Empty matches every tier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    pub risk_tiers: Vec<RiskTier>,
}

/// The AISystems a ClusterControlBinding applies to: those that match every given criterion.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSubjects {
    /// Namespaces whose labels match. Unset matches every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// AISystems whose labels match. Unset matches every AISystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// AISystems of these risk tiers. Empty matches every tier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 4))]
    pub risk_tiers: Vec<RiskTier>,
}

/// The controls a binding applies: a profile, individual controls, and exclusions.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.profile) || (has(self.controls) && size(self.controls) > 0)").message("set profile, controls, or both"))]
#[x_kube(validation = Rule::new("!has(self.controls) || !has(self.notApplicable) || self.controls.all(c, !self.notApplicable.exists(n, n.id == c.id))").field_path(".notApplicable").message("a control cannot be both in controls and in notApplicable"))]
pub struct BindingRules {
    /// A preset set of controls: `minimal`, `iso42001` (every Annex A control) or
    /// `eu-ai-act-high-risk` (the controls behind the EU AI Act's duties for high-risk systems).
    /// Entries in `controls` add to it or override its settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// How the profile's controls, and controls without their own `enforcement`, are enforced.
    #[serde(default = "default_enforcement")]
    pub enforcement: Enforcement,
    /// Controls bound individually, with their parameters and evidence. Ids are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["id".into()]))]
    pub controls: Vec<ControlRule>,
    /// Controls that do not apply, each with its justification (the exclusions of the Statement of
    /// Applicability). Ids are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["id".into()]))]
    pub not_applicable: Vec<Exclusion>,
}

fn default_enforcement() -> Enforcement {
    Enforcement::Enforce
}

/// A preset set of controls.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
#[schemars(description = "")]
pub enum Profile {
    /// The few controls every AI system should meet: an owner, a purpose, an inventory of models.
    #[serde(rename = "minimal")]
    Minimal,
    /// Every ISO/IEC 42001 Annex A control.
    #[serde(rename = "iso42001")]
    Iso42001,
    /// The controls behind the EU AI Act's duties for high-risk systems (Art. 9 to 15, 17, 26, 27).
    #[serde(rename = "eu-ai-act-high-risk")]
    EuAiActHighRisk,
}

/// One control bound by a binding.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ControlRule {
    /// The control's catalog id, for example `A.6.2.5`.
    #[schemars(length(min = 1, max = 16))]
    #[x_kube(validation = Rule::new(r"self.matches('^A\\.[0-9]+(\\.[0-9]+)+$')").message("must be an ISO/IEC 42001 Annex A control id such as A.6.2.5"))]
    pub id: String,
    /// How the control is enforced. Unset means the binding's `enforcement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<Enforcement>,
    /// Parameters of the control's check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<ControlParams>,
    /// Evidence that satisfies an attested control (one that the operator cannot check from the
    /// cluster): an organisation-level policy, a review record, a training register.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub evidence: Vec<Evidence>,
}

/// Parameters of a control's check. Each applies to the controls named in its description.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ControlParams {
    /// A.6.2.8: the fewest days event logs must be kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 36500))]
    pub min_retention_days: Option<u32>,
    /// A.6.2.5 (and A.5.2): the groups whose members may approve a RiskAssessment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub approver_groups: Vec<String>,
    /// A.6.2.5 (and A.5.2): how many distinct approvers an approval needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub min_approvals: Option<u8>,
    /// A.10.3: the suppliers whose models may run. Every model with a `supplier` must name one of
    /// them. Empty means any supplier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub approved_suppliers: Vec<String>,
    /// A.9.2 (and A.3.2): the human oversight mode the system must declare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversight_mode: Option<OversightMode>,
}

/// Evidence for an attested control.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// Where the evidence is, and the SHA-256 of the version attested.
    #[serde(flatten)]
    pub document: DocumentRef,
    /// Who attests that the evidence satisfies the control.
    #[schemars(length(min = 1, max = 253))]
    pub attested_by: String,
    /// When the evidence stops counting (the next review date).
    pub expires: Time,
}

/// A control that does not apply, and why.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Exclusion {
    /// The control's catalog id, for example `A.10.4`.
    #[schemars(length(min = 1, max = 16))]
    pub id: String,
    /// Why the control does not apply. Auditors read this.
    #[schemars(length(min = 10, max = 4096))]
    pub justification: String,
}

/// What the operator last observed about a binding. Written by the operator only.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ControlBindingStatus {
    /// How many AISystems the binding applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_systems: Option<u32>,
    /// The AISystems the binding applies to (`namespace/name`). Capped at 50.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub systems: Vec<String>,
    /// For each bound control, how many of the matched systems satisfy it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["id".into()]))]
    pub controls: Vec<ControlTally>,
    /// Control ids the catalog does not know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_controls: Vec<String>,
    /// Conditions, keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// How many matched systems satisfy one control.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ControlTally {
    /// The control's catalog id.
    pub id: String,
    /// Matched systems that satisfy it.
    pub satisfied: u32,
    /// Matched systems it applies to.
    pub applicable: u32,
}
