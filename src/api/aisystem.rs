//! `AISystem`: the inventory record of one AI system and the unit of compliance.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Artifact, DocumentRef, Person, RiskTier, Severity};

/// An AI system registered in the AI management system: what it is for, who answers for it, how
/// people oversee it, and which models and data it is built from. Its workloads carry the label
/// `aims.dev/system: <name>` (or match `workloadSelector`).
#[allow(clippy::duplicated_attributes)] // printcolumn(...) repeats keys by design
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aims.dev",
    version = "v1alpha1",
    kind = "AISystem",
    plural = "aisystems",
    singular = "aisystem",
    shortname = "ais",
    category = "aims",
    namespaced,
    status = "AISystemStatus",
    selectable = ".spec.riskTier",
    printcolumn(
        name = "Tier",
        type_ = "string",
        json_path = ".spec.riskTier",
        description = "EU AI Act risk tier"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Compliance phase"
    ),
    printcolumn(
        name = "Controls",
        type_ = "string",
        json_path = ".status.controls.summary",
        description = "Satisfied of applicable controls"
    ),
    printcolumn(
        name = "Workloads",
        type_ = "string",
        json_path = ".status.workloads.summary",
        description = "Compliant of matched workloads"
    ),
    // A string, not a date: kubectl prints a date column as an age, and a future time as <invalid>.
    printcolumn(
        name = "Expires",
        type_ = "string",
        json_path = ".status.approval.expiresAt",
        description = "When the approval expires (RFC 3339)"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.riskTier != 'High' || (has(self.oversight) && has(self.oversight.mode) && has(self.oversight.overseers) && size(self.oversight.overseers) > 0)").field_path(".oversight").message("a High-risk system needs oversight.mode and at least one entry in oversight.overseers (EU AI Act Art. 14)"))]
#[x_kube(validation = Rule::new("self.riskTier != 'High' || has(self.highRiskCategory)").field_path(".highRiskCategory").message("a High-risk system needs highRiskCategory (the EU AI Act Annex I or Annex III area that makes it high-risk)"))]
#[x_kube(validation = Rule::new("!has(self.highRiskCategory) || self.riskTier == 'High'").field_path(".highRiskCategory").message("highRiskCategory applies only to riskTier High"))]
pub struct AISystemSpec {
    /// A human-friendly name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub display_name: Option<String>,
    /// What the system is and does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
    /// The intended purpose: the use the system is designed, assessed and approved for (ISO/IEC
    /// 42001 A.9.4, EU AI Act Art. 13).
    #[schemars(length(min = 1, max = 4096))]
    pub purpose: String,
    /// Uses the system must not be put to (reasonably foreseeable misuse).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub out_of_scope_uses: Vec<String>,
    /// The organisation's role for this system under the EU AI Act.
    #[serde(default)]
    pub role: EuAiActRole,
    /// The EU AI Act risk tier. It selects which controls apply and how strictly.
    pub risk_tier: RiskTier,
    /// For riskTier High: the EU AI Act area that makes the system high-risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_risk_category: Option<HighRiskCategory>,
    /// The person accountable for the system (ISO/IEC 42001 A.3.2).
    pub owner: Person,
    /// The team that builds and runs the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub team: Option<String>,
    /// Human oversight (EU AI Act Art. 14): how people oversee the system, who they are, and the
    /// stop button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oversight: Option<Oversight>,
    /// Which workloads belong to this system. When unset, workloads labelled
    /// `aims.dev/system: <name of this AISystem>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<LabelSelector>,
    /// The models the system runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub models: Vec<Model>,
    /// The data sets the system was trained, validated and tested on, or reads at inference
    /// (ISO/IEC 42001 A.7, EU AI Act Art. 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub datasets: Vec<Dataset>,
    /// Where the system's documentation is (ISO/IEC 42001 A.6.2.7, A.8.2; EU AI Act Art. 11, 13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation: Option<Documentation>,
    /// Event logging (ISO/IEC 42001 A.6.2.8, EU AI Act Art. 12 and 26(6)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// How the system's operation is monitored (ISO/IEC 42001 A.6.2.6, EU AI Act Art. 72).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,
    /// Who to tell about an incident or a concern (ISO/IEC 42001 A.8.4, EU AI Act Art. 73).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_contact: Option<Person>,
}

/// The organisation's role for an AI system under the EU AI Act.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[schemars(description = "")]
pub enum EuAiActRole {
    /// Develops the system, or has it developed, and places it on the market or puts it into
    /// service under its own name.
    Provider,
    /// Uses the system under its own authority.
    #[default]
    Deployer,
    /// Both: builds the system and uses it.
    ProviderAndDeployer,
}

/// The area that makes a system high-risk: a safety component under EU AI Act Annex I, or an
/// Annex III use case.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[schemars(description = "")]
pub enum HighRiskCategory {
    /// Annex I: a safety component of a product under EU harmonisation legislation.
    ProductSafetyComponent,
    /// Annex III(1): remote biometric identification, biometric categorisation, emotion recognition.
    Biometrics,
    /// Annex III(2): safety components in critical infrastructure.
    CriticalInfrastructure,
    /// Annex III(3): education and vocational training.
    Education,
    /// Annex III(4): employment, workers management and access to self-employment.
    Employment,
    /// Annex III(5): access to essential private and public services (credit scoring, insurance
    /// pricing, public benefits, emergency dispatch).
    EssentialServices,
    /// Annex III(6): law enforcement.
    LawEnforcement,
    /// Annex III(7): migration, asylum and border control.
    Migration,
    /// Annex III(8): administration of justice and democratic processes.
    Justice,
}

/// Human oversight of an AI system.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.halt || (has(self.haltReason) && size(self.haltReason) > 0)").field_path(".haltReason").message("a halt needs haltReason"))]
pub struct Oversight {
    /// How people oversee the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<OversightMode>,
    /// The people who oversee the system and may halt and resume it (their Kubernetes user names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub overseers: Vec<Person>,
    /// The stop button (EU AI Act Art. 14(4)(e)): while true, every workload of the system is
    /// stopped as its kind allows (Deployments, StatefulSets and LeaderWorkerSets scaled to zero,
    /// CronJobs, Jobs, RayClusters and PyTorchJobs suspended, KServe services stopped, bare Pods
    /// deleted, ...), and new, scaled-up or restarted workloads are denied. Setting it back to
    /// false restores what was there.
    #[serde(default)]
    pub halt: bool,
    /// Why the system was halted. Required while `halt` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub halt_reason: Option<String>,
}

/// How people oversee an AI system.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
#[schemars(description = "")]
pub enum OversightMode {
    /// A person reviews and confirms each decision before it takes effect.
    HumanInTheLoop,
    /// People monitor operation as it happens and can intervene.
    HumanOnTheLoop,
    /// People decide when and how the system is used and can override or stop it at any time.
    HumanInCommand,
}

/// A model an AI system runs.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    /// The model's name, unique within the system.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The model's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub version: Option<String>,
    /// The exact artifact that runs: an image pinned by digest, or a model URI with its SHA-256.
    pub artifact: Artifact,
    /// For a third-party model: who supplied it (ISO/IEC 42001 A.10.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub supplier: Option<String>,
}

/// A data set an AI system uses.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    /// The data set's name, unique within the system.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// What the data set is used for.
    #[serde(rename = "use")]
    pub usage: DatasetUse,
    /// Where the data comes from (ISO/IEC 42001 A.7.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub source: Option<String>,
    /// Which exact version was used: a version, snapshot id or content digest (ISO/IEC 42001 A.7.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub provenance: Option<String>,
    /// The licence or legal basis for using the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub licence: Option<String>,
    /// Whether the data set contains personal data (GDPR; EU AI Act Art. 10(5)).
    #[serde(default)]
    pub contains_personal_data: bool,
    /// A report on the data's quality and representativeness, examined for bias (ISO/IEC 42001
    /// A.7.4, EU AI Act Art. 10(2)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_report: Option<DocumentRef>,
}

/// What a data set is used for.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[schemars(description = "")]
pub enum DatasetUse {
    /// Training data.
    Training,
    /// Validation data.
    Validation,
    /// Test data.
    Test,
    /// Data the system reads while it runs.
    Inference,
}

/// Where an AI system's documentation is.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Documentation {
    /// Technical documentation (EU AI Act Art. 11 and Annex IV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technical_documentation: Option<DocumentRef>,
    /// The model card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_card: Option<DocumentRef>,
    /// Instructions for use for deployers (EU AI Act Art. 13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions_for_use: Option<DocumentRef>,
    /// The notice that tells people they are dealing with an AI system (EU AI Act Art. 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparency_notice: Option<DocumentRef>,
}

/// Event logging of an AI system.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Logging {
    /// Whether the system records events automatically while it runs.
    #[serde(default)]
    pub enabled: bool,
    /// How many days logs are kept (EU AI Act Art. 26(6): at least six months for deployers of
    /// high-risk systems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 36500))]
    pub retention_days: Option<u32>,
}

/// How an AI system's operation is monitored.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    /// What is monitored and how (drift, accuracy, complaints, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
    /// Where the monitoring can be seen: a dashboard or runbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub uri: Option<String>,
}

/// What the operator last observed about an AI system. Written by the operator only.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AISystemStatus {
    /// Compliance phase: Compliant, NonCompliant, Pending (not yet assessed and approved) or Halted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Conditions: Registered, RiskAssessed, ImpactAssessed, Approved, OversightReady,
    /// ControlsSatisfied and Ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The approval in force, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalSummary>,
    /// How many of the applicable controls are satisfied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controls: Option<ControlCounts>,
    /// What fails, worst first. Capped; `findingsTotal` says how many there are in all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub findings: Vec<Finding>,
    /// How many findings there are, including those beyond the cap of `findings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings_total: Option<u32>,
    /// The workloads that belong to the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workloads: Option<WorkloadCounts>,
    /// The enforced controls the system fails now, by id: its open nonconformities (ISO/IEC 42001
    /// clause 10.2). The records log when each starts and stops failing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub nonconformities: Vec<String>,
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When the system was last evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_evaluated: Option<Time>,
    /// When the evaluation can next change on its own (an approval, evidence or break-glass expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_review_at: Option<Time>,
    /// While halted: what the operator stopped, and what to restore on resume.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["workload".into()]))]
    pub halted_workloads: Vec<HaltedWorkload>,
}

/// A workload the operator stopped when its system was halted.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HaltedWorkload {
    /// `Kind/name`.
    pub workload: String,
    /// For a kind a halt scales to zero (a Deployment, a StatefulSet, a LeaderWorkerSet, ...): the
    /// replicas to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// For a kind a halt stops by a flag (a CronJob's or a Job's `spec.suspend`, a parked DaemonSet,
    /// a custom kind's suspend field or stop annotation such as KServe's
    /// `serving.kserve.io/stop`): whether it was already stopped before the halt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
}

/// The compliance phase of an AI system.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[schemars(description = "")]
pub enum Phase {
    /// Every applicable control is satisfied.
    Compliant,
    /// At least one applicable control fails.
    NonCompliant,
    /// Registered but not yet assessed and approved.
    Pending,
    /// Stopped by an overseer.
    Halted,
}

impl AISystemSpec {
    /// Whether an overseer has halted the system (`oversight.halt`): nothing of it is admitted
    /// or scaled up, and its workloads are stopped, until an overseer clears it.
    pub fn halted(&self) -> bool {
        self.oversight.as_ref().is_some_and(|o| o.halt)
    }
}

impl Phase {
    /// The phase as it is written in status.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Compliant => "Compliant",
            Self::NonCompliant => "NonCompliant",
            Self::Pending => "Pending",
            Self::Halted => "Halted",
        }
    }
}

/// The approval an AI system runs under.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSummary {
    /// The RiskAssessment that carries the approval.
    pub assessment: String,
    /// Who approved it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// When the last required approval was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<Time>,
    /// When the approval expires and reassessment is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
}

/// Control counts of an AI system.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ControlCounts {
    /// Applicable controls that are satisfied.
    pub satisfied: u32,
    /// Controls that apply to the system.
    pub applicable: u32,
    /// Controls excluded by a binding, with a justification (Statement of Applicability).
    pub not_applicable: u32,
    /// `satisfied/applicable`, for display.
    pub summary: String,
}

/// Something that fails a control.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The catalog id of the control, for example `A.6.2.5`.
    pub control: String,
    /// How serious it is.
    pub severity: Severity,
    /// What is missing or wrong, and what to do about it.
    pub message: String,
    /// The workload the finding is about, as `Kind/name`, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// EU AI Act articles the control maps to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eu_ai_act: Vec<String>,
    /// NIST AI RMF subcategories the control maps to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nist_ai_rmf: Vec<String>,
}

/// Workload counts of an AI system.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadCounts {
    /// Workloads that belong to the system.
    pub matched: u32,
    /// Of those, the ones that pass every enforced control.
    pub compliant: u32,
    /// `compliant/matched`, for display.
    pub summary: String,
    /// The workloads, as `Kind/name`. Capped at 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub names: Vec<String>,
}
