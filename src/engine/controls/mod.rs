//! The controls the engine checks, one file per ISO/IEC 42001 Annex A family: what each control
//! checks of the system's records and of each of its workloads, the messages that say what to do,
//! and the condition it feeds. [`run`] runs one applicable control; enforcement, severity and
//! phase are decided by `evaluate`.
//!
//! | file | family | checks |
//! |---|---|---|
//! | `organisation` | A.3 internal organisation | accountability |
//! | `resources` | A.4 resources | resource and data inventory, pinned images, compute |
//! | `impact` | A.5 impact assessment | risk, impact, individual and societal impact |
//! | `lifecycle` | A.6 life cycle | model specification, design and technical documentation, monitoring, event logs |
//! | `deployment` | A.6.2.5 deployment | the approval the webhook enforces, its policy and break-glass |
//! | `data` | A.7 data | acquisition, quality, provenance |
//! | `information` | A.8 information for interested parties | user information, incident contact |
//! | `usage` | A.9 use of AI systems | human oversight, intended use |
//! | `suppliers` | A.10 third parties | approved suppliers |

mod data;
pub mod deployment;
pub mod impact;
mod information;
mod lifecycle;
mod organisation;
mod resources;
mod suppliers;
pub mod usage;

use jiff::Timestamp;
use serde::Serialize;

use super::{
    approval::AssessmentVerdict,
    binding::Applied,
    catalog::{Check, Control, ids},
    workload::WorkloadFacts,
};
use crate::api::{AISystem, Enforcement, RiskAssessment, RiskTier, Severity};

/// A RiskAssessment of the system with what `approval::assess` made of it.
#[derive(Clone, Debug)]
pub struct Assessed<'a> {
    /// The assessment.
    pub ra: &'a RiskAssessment,
    /// Its state, approvers, expiry and risk summary.
    pub verdict: AssessmentVerdict,
}

impl Assessed<'_> {
    /// The assessment's name.
    pub fn name(&self) -> &str {
        self.ra.metadata.name.as_deref().unwrap_or_default()
    }
}

/// What a check is given.
#[derive(Clone, Copy, Debug)]
pub struct CheckInputs<'c, 'a> {
    /// The system.
    pub system: &'a AISystem,
    /// Its assessments, best first (see `evaluate`).
    pub assessments: &'c [Assessed<'a>],
    /// The assessment whose approval is in force, if any.
    pub in_force: Option<&'c Assessed<'a>>,
    /// Now.
    pub now: Timestamp,
}

impl<'c, 'a> CheckInputs<'c, 'a> {
    /// The assessment the records checks read: the one in force, else the best one there is.
    pub fn primary(&self) -> Option<&'c Assessed<'a>> {
        self.in_force.or(self.assessments.first())
    }

    /// The system's name.
    fn system_name(&self) -> &'a str {
        self.system.metadata.name.as_deref().unwrap_or_default()
    }
}

/// One thing that fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What is missing or wrong, and what to do about it.
    pub message: String,
    /// The workload it is about, as `Kind/name`.
    pub workload: Option<String>,
    /// Whether it only waits for the system to be assessed and approved (it makes the phase
    /// `Pending` rather than `NonCompliant`).
    pub pending: bool,
}

impl Problem {
    /// A problem of the system's records.
    pub fn system(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            workload: None,
            pending: false,
        }
    }

    /// A problem that only waits for the system to be assessed and approved.
    pub fn pending(message: impl Into<String>) -> Self {
        Self {
            pending: true,
            ..Self::system(message)
        }
    }

    /// A problem of one workload.
    pub fn workload(w: &WorkloadFacts, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            workload: Some(w.display_name()),
            pending: false,
        }
    }
}

/// The problems one check finds, collected as it goes.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    /// Records `message` as a problem of the system unless `ok`.
    fn need(&mut self, ok: bool, message: impl Into<String>) {
        if !ok {
            self.0.push(Problem::system(message));
        }
    }

    fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }
}

/// Runs one applicable control: its check over the system's records and its workloads, or, for an
/// attested control, its evidence.
pub fn run(applied: &Applied, ctx: &CheckInputs, workloads: &[&WorkloadFacts]) -> Vec<Problem> {
    let Some(check) = applied.control.check else {
        return attested(applied, ctx.now);
    };
    let each = |check: fn(&CheckInputs, &WorkloadFacts) -> Vec<Problem>| {
        workloads.iter().flat_map(|w| check(ctx, w)).collect()
    };
    match check {
        Check::Accountability => organisation::accountability(ctx),
        Check::ResourceInventory => each(resources::inventory),
        Check::DataInventory => resources::data_inventory(ctx),
        Check::PinnedImages => each(resources::pinned_images),
        Check::ComputeResources => each(resources::compute),
        Check::RiskAssessment => impact::risk_assessment(ctx),
        Check::ImpactAssessment => impact::impact_assessment(ctx),
        Check::IndividualImpact => impact::individual_impact(ctx),
        Check::SocietalImpact => impact::societal_impact(ctx),
        Check::ModelSpecification => lifecycle::model_specification(ctx),
        Check::DesignDocumentation => lifecycle::design_documentation(ctx),
        Check::DeploymentApproval => deployment::check(ctx, workloads),
        Check::Monitoring => lifecycle::monitoring(ctx),
        Check::TechnicalDocumentation => lifecycle::technical_documentation(ctx),
        Check::EventLogs => lifecycle::event_logs(ctx, applied),
        Check::DataAcquisition => data::acquisition(ctx),
        Check::DataQuality => data::quality(ctx),
        Check::DataProvenance => data::provenance(ctx),
        Check::UserInformation => information::user_information(ctx),
        Check::IncidentContact => information::incident_contact(ctx),
        Check::Oversight => usage::oversight(ctx, applied),
        Check::IntendedUse => usage::intended_use(ctx),
        Check::Suppliers => suppliers::approved(ctx, applied),
    }
}

/// An attested control holds while some of its evidence is unexpired.
fn attested(applied: &Applied, now: Timestamp) -> Vec<Problem> {
    if applied.evidence.iter().any(|e| e.expires.0 > now) {
        return Vec::new();
    }
    let message = match applied.evidence.iter().map(|e| e.expires.0).max() {
        Some(expired) => format!("the evidence for this attested control expired at {expired}: attest it again in a binding"),
        None => "attested control without evidence: add evidence (uri, sha256, attestedBy, expires) to the control in a binding".to_owned(),
    };
    vec![Problem::system(message)]
}

/// Deployment approval and oversight failures are High; other failures are High for High-risk
/// systems and Medium otherwise.
pub fn severity(system: &AISystem, control: &Control) -> Severity {
    if control.id == ids::DEPLOYMENT_APPROVAL
        || control.id == ids::HUMAN_OVERSIGHT
        || system.spec.risk_tier == RiskTier::High
    {
        Severity::High
    } else {
        Severity::Medium
    }
}

/// Something that fails a control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlFinding {
    /// The catalog id of the control.
    pub control: String,
    /// The control's title.
    pub title: String,
    /// How serious it is.
    pub severity: Severity,
    /// How the control is enforced.
    pub enforcement: Enforcement,
    /// What is missing or wrong, and what to do about it.
    pub message: String,
    /// The workload it is about (`Kind/name`), when it is about one.
    pub workload: Option<String>,
    /// EU AI Act articles the control maps to.
    pub eu_ai_act: Vec<String>,
    /// NIST AI RMF subcategories the control maps to.
    pub nist_ai_rmf: Vec<String>,
    /// Whether it only waits for the system to be assessed and approved.
    #[serde(skip)]
    pending: bool,
}

impl ControlFinding {
    /// The finding of `problem` under `control`.
    pub fn new(
        control: &Control,
        enforcement: Enforcement,
        severity: Severity,
        problem: Problem,
    ) -> Self {
        Self {
            control: control.id.clone(),
            title: control.title.clone(),
            severity,
            enforcement,
            message: problem.message,
            workload: problem.workload,
            eu_ai_act: control.eu_ai_act.clone(),
            nist_ai_rmf: control.nist_ai_rmf.clone(),
            pending: problem.pending,
        }
    }

    /// Whether it only waits for the system to be assessed and approved.
    pub fn is_pending(&self) -> bool {
        self.pending
    }
}
