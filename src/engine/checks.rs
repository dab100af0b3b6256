//! The engine's checks: one function per checked control, each returning what fails and what to do
//! about it. Checks read the system, its assessments (already assessed) and its workloads; they
//! never decide enforcement, severity or phase — `evaluate` does.

use jiff::Timestamp;

use super::{
    approval::AssessmentVerdict,
    binding::Applied,
    catalog::Check,
    workload::{ImageRef, WorkloadFacts},
};
use crate::api::{
    AISystem, Artifact, AssessmentState, DatasetUse, EuAiActRole, OversightMode, RiskAssessment,
    RiskTier,
};

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
    fn system(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            workload: None,
            pending: false,
        }
    }

    fn pending(message: impl Into<String>) -> Self {
        Self {
            pending: true,
            ..Self::system(message)
        }
    }

    pub fn workload(w: &WorkloadFacts, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            workload: Some(w.display_name()),
            pending: false,
        }
    }
}

/// Whether a check looks at each workload (and so runs once per workload) rather than at the
/// system's records.
pub fn is_per_workload(check: Check) -> bool {
    matches!(
        check,
        Check::ResourceInventory
            | Check::PinnedImages
            | Check::ComputeResources
            | Check::DeploymentApproval
    )
}

/// Runs a system-level check.
pub fn system_check(check: Check, applied: &Applied, ctx: &CheckInputs) -> Vec<Problem> {
    let spec = &ctx.system.spec;
    let high = spec.risk_tier == RiskTier::High;
    let mut out = Vec::new();
    let mut need = |ok: bool, message: &str| {
        if !ok {
            out.push(Problem::system(message));
        }
    };
    match check {
        Check::Accountability => {
            need(
                spec.owner.contact.is_some(),
                "spec.owner.contact is missing: say how to reach the accountable owner",
            );
            need(
                spec.team.is_some(),
                "spec.team is missing: name the team that builds and runs the system",
            );
        }
        Check::DataInventory => need(
            !spec.datasets.is_empty() || spec.role == EuAiActRole::Deployer,
            "spec.datasets is empty: declare the data the system was trained, validated and tested on",
        ),
        Check::RiskAssessment => return risk_assessment(ctx),
        Check::ImpactAssessment => match ctx.primary() {
            None => out.push(Problem::pending(format!(
                "no RiskAssessment with spec.systemRef.name: {} carries the impact assessment",
                name(ctx.system)
            ))),
            Some(a) => {
                let completed =
                    a.ra.spec
                        .impact_assessment
                        .as_ref()
                        .and_then(|i| i.completed_on.as_ref());
                need(
                    completed.is_some(),
                    &format!(
                        "RiskAssessment {}: spec.impactAssessment.completedOn is missing: complete the impact assessment",
                        a.name()
                    ),
                );
            }
        },
        Check::IndividualImpact => match ctx.primary() {
            None => out.push(Problem::pending(
                "no impact assessment names the individuals and groups affected",
            )),
            Some(a) => {
                let impact = a.ra.spec.impact_assessment.as_ref();
                need(
                    impact.is_some_and(|i| !i.affected_groups.is_empty()),
                    &format!(
                        "RiskAssessment {}: spec.impactAssessment.affectedGroups is empty: name who the system affects",
                        a.name()
                    ),
                );
                need(
                    !high || impact.is_some_and(|i| i.fundamental_rights.is_some()),
                    &format!(
                        "RiskAssessment {}: spec.impactAssessment.fundamentalRights is missing: a High-risk system needs a fundamental rights impact assessment (EU AI Act Art. 27)",
                        a.name()
                    ),
                );
            }
        },
        Check::SocietalImpact => match ctx.primary() {
            None => out.push(Problem::pending(
                "no impact assessment covers societal impacts",
            )),
            Some(a) => need(
                a.ra.spec
                    .impact_assessment
                    .as_ref()
                    .is_some_and(|i| !i.societal_impacts.is_empty()),
                &format!(
                    "RiskAssessment {}: spec.impactAssessment.societalImpacts is empty: assess the impact on society",
                    a.name()
                ),
            ),
        },
        Check::ModelSpecification => {
            need(
                !spec.models.is_empty(),
                "spec.models is empty: declare the models the system runs",
            );
            for m in spec.models.iter().filter(|m| m.version.is_none()) {
                out.push(Problem::system(format!(
                    "spec.models[{}].version is missing: record which version runs",
                    m.name
                )));
            }
        }
        Check::DesignDocumentation => need(
            spec.documentation
                .as_ref()
                .is_some_and(|d| d.model_card.is_some()),
            "spec.documentation.modelCard is missing: link the model card",
        ),
        Check::Monitoring => need(
            spec.monitoring
                .as_ref()
                .is_some_and(|m| m.description.is_some() || m.uri.is_some()),
            "spec.monitoring is missing: describe how operation is monitored, or link the dashboard",
        ),
        Check::TechnicalDocumentation => need(
            spec.documentation
                .as_ref()
                .is_some_and(|d| d.technical_documentation.is_some()),
            "spec.documentation.technicalDocumentation is missing: link the technical documentation (EU AI Act Annex IV)",
        ),
        Check::EventLogs => {
            let logging = spec.logging.as_ref();
            need(
                logging.is_some_and(|l| l.enabled),
                "spec.logging.enabled is not true: the system must record events while it runs (EU AI Act Art. 12)",
            );
            if let Some(min) = applied.min_retention_days() {
                let days = logging.and_then(|l| l.retention_days).unwrap_or(0);
                need(
                    days >= min,
                    &format!(
                        "spec.logging.retentionDays is {days}; the binding requires at least {min}"
                    ),
                );
            }
        }
        Check::DataAcquisition => {
            for d in &spec.datasets {
                if d.source.is_none() || d.licence.is_none() {
                    out.push(Problem::system(format!("spec.datasets[{}] needs source and licence: where the data comes from and on what legal basis", d.name)));
                }
            }
        }
        Check::DataQuality => {
            for d in spec
                .datasets
                .iter()
                .filter(|d| d.usage != DatasetUse::Inference && d.quality_report.is_none())
            {
                out.push(Problem::system(format!("spec.datasets[{}].qualityReport is missing: link the data quality and bias examination", d.name)));
            }
        }
        Check::DataProvenance => {
            for d in spec.datasets.iter().filter(|d| d.provenance.is_none()) {
                out.push(Problem::system(format!("spec.datasets[{}].provenance is missing: record the exact version, snapshot or digest used", d.name)));
            }
        }
        Check::UserInformation => {
            let docs = spec.documentation.as_ref();
            match spec.risk_tier {
                RiskTier::High => need(
                    docs.is_some_and(|d| d.instructions_for_use.is_some()),
                    "spec.documentation.instructionsForUse is missing: a High-risk system needs instructions for use (EU AI Act Art. 13)",
                ),
                RiskTier::Limited => need(
                    docs.is_some_and(|d| d.transparency_notice.is_some()),
                    "spec.documentation.transparencyNotice is missing: people must be told they deal with an AI system (EU AI Act Art. 50)",
                ),
                _ => need(
                    docs.is_some_and(|d| {
                        d.instructions_for_use.is_some() || d.transparency_notice.is_some()
                    }),
                    "spec.documentation needs instructionsForUse or transparencyNotice",
                ),
            }
        }
        Check::IncidentContact => need(
            spec.incident_contact.is_some(),
            "spec.incidentContact is missing: name who to tell about an incident",
        ),
        Check::Oversight => return oversight(ctx.system, applied),
        Check::DeploymentApproval => {
            if ctx.in_force.is_none() {
                out.push(not_approved(ctx));
            }
        }
        Check::IntendedUse => need(
            !spec.out_of_scope_uses.is_empty(),
            "spec.outOfScopeUses is empty: state the uses the system must not be put to",
        ),
        Check::Suppliers => {
            for allowlist in applied.supplier_allowlists() {
                for m in &spec.models {
                    if let Some(supplier) = &m.supplier
                        && !allowlist.contains(supplier)
                    {
                        out.push(Problem::system(format!("spec.models[{}].supplier {supplier:?} is not an approved supplier ({})", m.name, allowlist.join(", "))));
                    }
                }
            }
        }
        // Per-workload checks have nothing to say at system level.
        Check::ResourceInventory | Check::PinnedImages | Check::ComputeResources => {}
    }
    out
}

/// Human oversight: a mode, named overseers for High systems, and the mode each binding requires.
fn oversight(system: &AISystem, applied: &Applied) -> Vec<Problem> {
    let oversight = system.spec.oversight.as_ref();
    let mode = oversight.and_then(|o| o.mode);
    let mut out = Vec::new();
    if system.spec.risk_tier == RiskTier::High {
        if mode.is_none() {
            out.push(Problem::system("spec.oversight.mode is missing: say how people oversee the system (EU AI Act Art. 14)"));
        }
        if oversight.is_none_or(|o| o.overseers.is_empty()) {
            out.push(Problem::system("spec.oversight.overseers is empty: name the people who oversee the system and can stop it"));
        }
    }
    for required in applied.oversight_modes() {
        if mode != Some(required) {
            out.push(Problem::system(format!(
                "spec.oversight.mode is {}; the binding requires {}",
                mode.map_or("unset".to_owned(), |m| format!("{m:?}")),
                mode_name(required)
            )));
        }
    }
    out
}

fn mode_name(mode: OversightMode) -> &'static str {
    match mode {
        OversightMode::HumanInTheLoop => "HumanInTheLoop",
        OversightMode::HumanOnTheLoop => "HumanOnTheLoop",
        OversightMode::HumanInCommand => "HumanInCommand",
    }
}

fn risk_assessment(ctx: &CheckInputs) -> Vec<Problem> {
    let Some(a) = ctx.primary() else {
        return vec![Problem::pending(format!(
            "no RiskAssessment with spec.systemRef.name: {}: assess the system's risks",
            name(ctx.system)
        ))];
    };
    if a.verdict.state == AssessmentState::Draft {
        return vec![Problem::pending(format!(
            "RiskAssessment {} is a Draft: {}",
            a.name(),
            draft_gaps(a)
        ))];
    }
    match &a.verdict.risk {
        Some(risk) if !risk.within_appetite => vec![Problem::system(format!(
            "RiskAssessment {}: residual risk of {} exceeds the acceptance threshold {}: treat them further",
            a.name(),
            risk.above_appetite.join(", "),
            a.ra.spec.criteria.acceptance_threshold
        ))],
        _ => Vec::new(),
    }
}

/// Runs a per-workload check on one workload of the system.
pub fn workload_check(check: Check, ctx: &CheckInputs, w: &WorkloadFacts) -> Vec<Problem> {
    let mut out = Vec::new();
    match check {
        Check::ResourceInventory => {
            let declared: Vec<&Artifact> =
                ctx.system.spec.models.iter().map(|m| &m.artifact).collect();
            for image in w.images() {
                if !declared.iter().any(|a| covers_image(a, image)) {
                    out.push(Problem::workload(
                        w,
                        format!(
                            "image {} is not declared in spec.models of AISystem {}",
                            image.reference,
                            name(ctx.system)
                        ),
                    ));
                }
            }
            for uri in &w.model_uris {
                if !declared.iter().any(|a| a.uri.as_deref() == Some(uri)) {
                    out.push(Problem::workload(
                        w,
                        format!(
                            "model {uri} is not declared in spec.models of AISystem {}",
                            name(ctx.system)
                        ),
                    ));
                }
            }
        }
        Check::PinnedImages => {
            for image in w.images().filter(|i| !i.is_pinned()) {
                out.push(Problem::workload(
                    w,
                    format!(
                        "image {} is not pinned by digest: use <repository>@sha256:<digest>",
                        image.reference
                    ),
                ));
            }
        }
        Check::ComputeResources => {
            for c in w
                .containers
                .iter()
                // An ephemeral container cannot declare resources: the API server refuses them.
                .filter(|c| !c.init && !c.ephemeral && !c.requests_declared)
            {
                out.push(Problem::workload(
                    w,
                    format!("container {} declares no cpu or memory requests", c.name),
                ));
            }
        }
        Check::DeploymentApproval => return deployment_scope(ctx, w),
        _ => {}
    }
    out
}

/// A.6.2.5, per workload: every image and model URI is in the scope of the approved assessment
/// (or, while none is approved, of the one closest to approval, so the gap shows early). That an
/// approval exists at all is the system-level half of the check.
pub fn deployment_scope(ctx: &CheckInputs, w: &WorkloadFacts) -> Vec<Problem> {
    match (ctx.in_force, ctx.assessments.first()) {
        (Some(a), _) => uncovered(a, w),
        (None, Some(a)) => uncovered(a, w)
            .into_iter()
            .map(|p| Problem {
                message: p.message.replace("the approved scope", "the scope"),
                ..p
            })
            .collect(),
        (None, None) => Vec::new(),
    }
}

/// The images and model URIs of `w` that the scope of `a` does not cover.
fn uncovered(a: &Assessed, w: &WorkloadFacts) -> Vec<Problem> {
    let scope = &a.ra.spec.scope.artifacts;
    let mut out = Vec::new();
    for image in w.images() {
        if !image.is_pinned() {
            out.push(Problem::workload(
                w,
                format!(
                    "image {} is not pinned by digest, so no approval can cover it",
                    image.reference
                ),
            ));
        } else if !scope.iter().any(|art| covers_image(art, image)) {
            out.push(Problem::workload(w, format!("image {} is not in the approved scope of RiskAssessment {}: add it to spec.scope.artifacts and have it approved", image.reference, a.name())));
        }
    }
    for uri in &w.model_uris {
        if !scope.iter().any(|art| art.uri.as_deref() == Some(uri)) {
            out.push(Problem::workload(
                w,
                format!(
                    "model {uri} is not in the approved scope of RiskAssessment {}",
                    a.name()
                ),
            ));
        }
    }
    out
}

/// Why there is no approval in force.
pub fn not_approved(ctx: &CheckInputs) -> Problem {
    let system = name(ctx.system);
    let Some(a) = ctx.assessments.first() else {
        return Problem::pending(format!(
            "not approved: no RiskAssessment with spec.systemRef.name: {system}"
        ));
    };
    let v = &a.verdict;
    let n = a.name();
    match v.state {
        AssessmentState::Draft => Problem::pending(format!(
            "not approved: RiskAssessment {n} is a Draft: {}",
            draft_gaps(a)
        )),
        AssessmentState::PendingApproval => match v.record {
            Some(problem) => Problem::pending(format!(
                "not approved: RiskAssessment {n} counts no approval: {problem}; re-create it with the operator's webhook running, then approve it"
            )),
            None => Problem::pending(format!(
                "not approved: RiskAssessment {n} awaits approval ({}); approvers add an entry to spec.approvals",
                so_far(v)
            )),
        },
        AssessmentState::Rejected => Problem::system(format!(
            "not approved: RiskAssessment {n} was rejected by {}",
            v.rejected_by.as_deref().unwrap_or("an approver")
        )),
        AssessmentState::Expired => Problem::system(format!(
            "not approved: the approval of RiskAssessment {n} expired at {}: reassess and approve again",
            v.expires_at.map_or_else(String::new, |t| t.to_string())
        )),
        AssessmentState::Stale => Problem::system(format!(
            "not approved: RiskAssessment {n} changed after it was approved: its approval is stale and must be given again"
        )),
        AssessmentState::Approved => Problem::system(format!("not approved: RiskAssessment {n}")),
    }
}

/// Who approved so far and which entries do not count: `ana so far; 1 entry discounted: ...`,
/// or `none so far` when there are no entries.
fn so_far(v: &super::approval::AssessmentVerdict) -> String {
    let mut parts = Vec::new();
    if !v.approvers.is_empty() {
        parts.push(format!("{} so far", v.approvers.join(", ")));
    }
    if !v.discounted.is_empty() {
        parts.push(discounted_summary(&v.discounted));
    }
    if parts.is_empty() {
        parts.push("none so far".to_owned());
    }
    parts.join("; ")
}

/// Most discounted entries a summary names one by one.
const MAX_DISCOUNTED_NAMED: usize = 5;

/// The approval entries that do not count, as one sentence: `2 entries discounted:
/// spec.approvals[0] by bob: <why>; spec.approvals[1] (unstamped): <why>`. Empty when none is.
pub fn discounted_summary(discounted: &[super::approval::Discounted]) -> String {
    if discounted.is_empty() {
        return String::new();
    }
    let count = discounted.len();
    let mut named: Vec<String> = discounted
        .iter()
        .take(MAX_DISCOUNTED_NAMED)
        .map(|d| {
            let who = d
                .user
                .as_deref()
                .map_or_else(|| " (unstamped)".to_owned(), |u| format!(" by {u}"));
            format!("spec.approvals[{}]{who}: {}", d.index, d.reason)
        })
        .collect();
    if count > MAX_DISCOUNTED_NAMED {
        named.push(format!("and {} more", count - MAX_DISCOUNTED_NAMED));
    }
    format!(
        "{count} {} discounted: {}",
        if count == 1 { "entry" } else { "entries" },
        named.join("; ")
    )
}

/// What keeps an assessment a Draft, as one sentence.
fn draft_gaps(a: &Assessed) -> String {
    super::approval::incomplete(&a.ra.spec)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether `artifact` names exactly this image: same repository (Docker Hub prefixes aside) and
/// same digest.
pub fn covers_image(artifact: &Artifact, image: &ImageRef) -> bool {
    let Some(reference) = &artifact.image else {
        return false;
    };
    let declared = ImageRef::parse(reference);
    declared.digest.is_some()
        && declared.digest == image.digest
        && normalize(&declared.repository) == normalize(&image.repository)
}

fn normalize(repository: &str) -> &str {
    let r = repository
        .strip_prefix("docker.io/")
        .or_else(|| repository.strip_prefix("index.docker.io/"))
        .unwrap_or(repository);
    r.strip_prefix("library/").unwrap_or(r)
}

fn name(system: &AISystem) -> &str {
    system.metadata.name.as_deref().unwrap_or_default()
}
