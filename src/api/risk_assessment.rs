//! `RiskAssessment`: the risks of one AI system, its impact assessment, and the approvals of both.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Artifact, DocumentRef};

/// The risk assessment and impact assessment of an AI system, and their approvals. An approval
/// covers exactly the artifacts in `scope` and the content as it was when approved: a new model
/// version, or any change to the risks, impact assessment or scope, needs a new approval.
#[allow(clippy::duplicated_attributes)] // printcolumn(...) repeats keys by design
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aims.dev",
    version = "v1alpha1",
    kind = "RiskAssessment",
    plural = "riskassessments",
    singular = "riskassessment",
    shortname = "ra",
    category = "aims",
    namespaced,
    status = "RiskAssessmentStatus",
    selectable = ".spec.systemRef.name",
    printcolumn(
        name = "System",
        type_ = "string",
        json_path = ".spec.systemRef.name",
        description = "The assessed AISystem"
    ),
    printcolumn(
        name = "Residual",
        type_ = "string",
        json_path = ".status.residualRisk.level",
        description = "Highest residual risk level"
    ),
    printcolumn(
        name = "State",
        type_ = "string",
        json_path = ".status.state",
        description = "Approval state"
    ),
    // A string, not a date: kubectl prints a date column as an age, and a future time as <invalid>.
    printcolumn(
        name = "Expires",
        type_ = "string",
        json_path = ".status.expiresAt",
        description = "When the approval expires (RFC 3339)"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.submittedBy) == has(oldSelf.submittedBy) && (!has(self.submittedBy) || self.submittedBy == oldSelf.submittedBy)").message("spec.submittedBy cannot be changed: it records who created the assessment; create a new RiskAssessment instead"))]
#[x_kube(validation = Rule::new("!has(oldSelf.editedBy) || (has(self.editedBy) && size(self.editedBy) >= size(oldSelf.editedBy) && oldSelf.editedBy.all(e, self.editedBy.indexOf(e) == oldSelf.editedBy.indexOf(e)))").message("spec.editedBy is append-only: send the stored editors back unchanged; the operator adds whoever changes the assessed content"))]
pub struct RiskAssessmentSpec {
    /// The AISystem, in the same namespace, that this assessment is about. Cannot be changed.
    #[x_kube(validation = Rule::new("self == oldSelf").message("systemRef cannot be changed; create a new RiskAssessment"))]
    pub system_ref: SystemRef,
    /// What the assessment covers.
    pub scope: Scope,
    /// How risks are scored and how much risk is accepted.
    #[serde(default)]
    pub criteria: Criteria,
    /// The identified risks, each with its treatment. Ids are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["id".into()]))]
    pub risks: Vec<Risk>,
    /// The AI system impact assessment (ISO/IEC 42001 A.5; EU AI Act Art. 27 for the fundamental
    /// rights part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_assessment: Option<ImpactAssessment>,
    /// How long an approval stays valid, as a number and a unit (s, m, h or d), for example
    /// `180d`. Reassessment is due after it.
    #[serde(default = "default_valid_for")]
    #[schemars(length(max = 16))]
    #[x_kube(validation = Rule::new(r"self.matches('^[1-9][0-9]{0,5}(s|m|h|d)$')").message("must be a number and a unit (s, m, h or d), for example 180d"))]
    pub valid_for: String,
    /// Approval decisions, appended by approvers with `decision` and `comment`. Entries are
    /// append-only: once written they cannot be edited or removed. Defaults to an empty list, so
    /// a JSON patch `add /spec/approvals/-` works on an assessment without decisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), extend("default" = []))]
    #[x_kube(validation = Rule::new("size(self) >= size(oldSelf) && oldSelf.all(old, self.exists(new, new == old))").message("approvals are append-only: an entry, once written, cannot be edited or removed"))]
    pub approvals: Vec<Approval>,
    /// Who created the assessment. Stamped by the operator's admission webhook from the request;
    /// whatever a client writes here is overwritten. Cannot be changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub submitted_by: Option<String>,
    /// Everyone who changed the assessed content (scope, risks, impact assessment) after it was
    /// created. Stamped by the operator's admission webhook; none of them may approve.
    /// Append-only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 253)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub edited_by: Vec<String>,
    /// The operator's signature over `submittedBy` and `editedBy` (with the namespace, name,
    /// system and the assessed content as last admitted), dated when the assessment was created.
    /// Written by the admission webhook; an assessment whose record stamp does not verify (for
    /// example because its content was changed while the webhook was not running, so no editor
    /// was recorded) counts no approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_stamp: Option<RecordStamp>,
}

/// The operator's stamp on who submitted and edited an assessment.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RecordStamp {
    /// When the assessment was created, as the webhook saw it; within seconds of
    /// `metadata.creationTimestamp`.
    pub at: Time,
    /// The operator's signature over namespace, name, `systemRef`, `submittedBy`, `editedBy`, the
    /// content hash and `at`.
    #[schemars(length(max = 128))]
    pub signature: String,
}

fn default_valid_for() -> String {
    "180d".to_owned()
}

/// A reference to an AISystem in the same namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SystemRef {
    /// The AISystem's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// What an assessment covers.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// The model artifacts assessed. An approval admits exactly these images and model URIs.
    #[schemars(length(min = 1, max = 64))]
    pub artifacts: Vec<Artifact>,
    /// Anything else the assessment covers or leaves out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
}

/// How risks are scored: likelihood × severity, each on a scale of 1 to 5, so scores run from 1 to
/// 25.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Criteria {
    /// The risk appetite: the highest residual score (likelihood × severity, 1 to 25) the
    /// organisation accepts. A risk above it needs further treatment.
    #[serde(default = "default_acceptance_threshold")]
    #[schemars(range(min = 1, max = 25))]
    pub acceptance_threshold: u8,
}

fn default_acceptance_threshold() -> u8 {
    8
}

impl Default for Criteria {
    fn default() -> Self {
        Self {
            acceptance_threshold: default_acceptance_threshold(),
        }
    }
}

/// One identified risk and its treatment.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.residualLikelihood) == has(self.residualSeverity)").message("set residualLikelihood and residualSeverity together"))]
pub struct Risk {
    /// A short id, unique within the assessment, for example `R1` or `bias-age`.
    #[schemars(length(min = 1, max = 63))]
    pub id: String,
    /// What could go wrong.
    #[schemars(length(min = 1, max = 512))]
    pub title: String,
    /// More detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
    /// The objective the risk threatens or where it comes from (ISO/IEC 42001 Annex C).
    pub source: RiskSource,
    /// How likely it is before treatment, from 1 (rare) to 5 (almost certain).
    #[schemars(range(min = 1, max = 5))]
    pub likelihood: u8,
    /// How bad it is if it happens, before treatment, from 1 (negligible) to 5 (severe).
    #[schemars(range(min = 1, max = 5))]
    pub severity: u8,
    /// What is done about it.
    pub treatment: Treatment,
    /// The catalog ids of the controls that treat it, for example `A.7.4`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 38))]
    pub controls: Vec<String>,
    /// Likelihood after treatment, from 1 to 5. Unset means unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5))]
    pub residual_likelihood: Option<u8>,
    /// Severity after treatment, from 1 to 5. Unset means unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 5))]
    pub residual_severity: Option<u8>,
    /// Who owns the risk and its treatment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub owner: Option<String>,
}

/// Where a risk comes from, or the objective it threatens (after ISO/IEC 42001 Annex C).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[schemars(description = "")]
pub enum RiskSource {
    /// Unfair or discriminatory outcomes for people or groups.
    Fairness,
    /// Failure under unexpected input, drift or faults.
    Robustness,
    /// Exposure or misuse of personal data.
    Privacy,
    /// Attacks: poisoning, evasion, model theft, prompt injection.
    Security,
    /// Harm to health or safety.
    Safety,
    /// People cannot tell they deal with AI, or why it decided as it did.
    Transparency,
    /// Outputs cannot be explained to those affected.
    Explainability,
    /// Nobody answers for the system's outcomes.
    Accountability,
    /// Training, validation or test data unfit for purpose.
    DataQuality,
    /// Too little human control over automated decisions.
    Automation,
    /// Energy, water or other environmental impact.
    Environment,
    /// The system cannot be maintained or updated safely.
    Maintainability,
    /// The people building or running it lack the expertise.
    Expertise,
    /// Anything else; describe it.
    Other,
}

/// How a risk is treated.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[schemars(description = "")]
pub enum Treatment {
    /// Reduce likelihood or severity with controls.
    Mitigate,
    /// Accept the risk as it is.
    Accept,
    /// Share it with another party (insurance, a supplier contract).
    Transfer,
    /// Stop the activity that causes it.
    Avoid,
}

/// The AI system impact assessment.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImpactAssessment {
    /// The individuals and groups the system affects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub affected_groups: Vec<String>,
    /// Impacts on society: on groups, institutions, the environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub societal_impacts: Vec<String>,
    /// The fundamental rights impact assessment (EU AI Act Art. 27), where one is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fundamental_rights: Option<FundamentalRightsAssessment>,
    /// What is done to reduce the impacts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub mitigations: Vec<String>,
    /// The date the impact assessment was completed, as YYYY-MM-DD. Unset means it is not complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    #[x_kube(validation = Rule::new(r"self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}$')").message("must be a date as YYYY-MM-DD"))]
    pub completed_on: Option<String>,
}

/// A fundamental rights impact assessment (EU AI Act Art. 27).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FundamentalRightsAssessment {
    /// The rights at stake and the conclusion.
    #[schemars(length(min = 1, max = 8192))]
    pub summary: String,
    /// The full assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentRef>,
    /// Whether the market surveillance authority has been notified (EU AI Act Art. 27(3)).
    #[serde(default)]
    pub authority_notified: bool,
}

/// One approver's decision on an assessment.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// Approve or Reject.
    pub decision: Decision,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub comment: Option<String>,
    /// Who decided, when, on what content, and the operator's signature over all of it. Written by
    /// the operator's admission webhook from the request; never by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<ApprovalStamp>,
}

/// An approver's decision.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[schemars(description = "")]
pub enum Decision {
    /// The assessment is accepted and the system may run.
    Approve,
    /// The assessment is not accepted.
    Reject,
}

/// The operator's stamp on an approval.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalStamp {
    /// The Kubernetes user who added the entry.
    pub user: String,
    /// That user's groups at the time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// When the entry was added.
    pub at: Time,
    /// The hash of the assessed content (scope, risks, impact assessment) the decision was made on.
    pub content_hash: String,
    /// The operator's signature over user, groups, time, decision, comment, content hash, the
    /// entry's index, and the assessment's uid, namespace, name, system, submitter and editors.
    pub signature: String,
}

/// What the operator last observed about a risk assessment. Written by the operator only.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RiskAssessmentStatus {
    /// Where the assessment stands: Draft, PendingApproval, Approved, Rejected, Expired or Stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<AssessmentState>,
    /// The highest risk before treatment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherent_risk: Option<RiskScore>,
    /// The highest risk after treatment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub residual_risk: Option<RiskScore>,
    /// Whether every residual risk is within the acceptance threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_appetite: Option<bool>,
    /// The hash of the assessed content as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Who approved the current content, counting only entries whose signature verifies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved_by: Vec<String>,
    /// When the last required approval was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<Time>,
    /// When the approval expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// The entries of `spec.approvals` that do not count, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounted: Vec<DiscountedEntry>,
    /// Conditions, keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// An entry of `spec.approvals` that does not count.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DiscountedEntry {
    /// Its index in `spec.approvals`.
    pub index: u32,
    /// The user its stamp names, if it has a stamp (unverified when the signature does not
    /// verify).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Why, as a name: Unstamped, BadSignature, SelfApproval, NotAnApprover, StaleContent,
    /// DuplicateApprover or UnverifiedRecord.
    pub reason: String,
    /// Why, in words.
    pub message: String,
}

/// Where an assessment stands.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[schemars(description = "")]
pub enum AssessmentState {
    /// Not yet complete enough to approve.
    Draft,
    /// Complete, waiting for enough approvals.
    PendingApproval,
    /// Approved by enough approvers, on the current content, and not expired.
    Approved,
    /// An approver rejected the current content.
    Rejected,
    /// The approval's validity ran out: reassessment is due.
    Expired,
    /// The content changed after it was approved.
    Stale,
}

impl AssessmentState {
    /// The name used in manifests and condition reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "Draft",
            Self::PendingApproval => "PendingApproval",
            Self::Approved => "Approved",
            Self::Rejected => "Rejected",
            Self::Expired => "Expired",
            Self::Stale => "Stale",
        }
    }
}

/// A risk score and its level.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RiskScore {
    /// Likelihood × severity, from 1 to 25.
    pub score: u8,
    /// Low (1–4), Medium (5–9), High (10–16) or Critical (17–25).
    pub level: RiskLevel,
}

/// A risk level.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
#[schemars(description = "")]
pub enum RiskLevel {
    /// Score 1 to 4.
    Low,
    /// Score 5 to 9.
    Medium,
    /// Score 10 to 16.
    High,
    /// Score 17 to 25.
    Critical,
}
