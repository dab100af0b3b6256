//! A governed workload's admission: the engine's verdict for it (Enforce denies, Warn warns, Audit
//! records), what a halt forbids, the policy for unregistered model workloads, and break-glass.

use std::{collections::BTreeMap, fmt};

use jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;

use super::Requester;
use crate::{
    api::{AISystem, Enforcement, RiskAssessment},
    engine::{
        approval::Trust,
        binding::Binding,
        catalog::Catalog,
        detect::{Detection, Detector},
        evaluate::{self, ControlFinding, Inputs, Verdict},
        halt, membership,
        workload::WorkloadFacts,
    },
};

pub use crate::engine::break_glass::{
    BREAK_GLASS_REASON, BREAK_GLASS_TICKET, BREAK_GLASS_UNTIL, BreakGlass, BreakGlassPolicy,
    break_glass_of,
};

/// The namespace label that sets the policy for unregistered model workloads there
/// (`Deny`, `Warn` or `Audit`).
pub const UNREGISTERED_LABEL: &str = "aims.dev/unregistered";

/// What to do with a model workload that belongs to no AISystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum UnregisteredPolicy {
    /// Deny it.
    Deny,
    /// Admit it with a warning.
    Warn,
    /// Admit it and record it.
    Audit,
}

impl UnregisteredPolicy {
    /// The policy a namespace's [`UNREGISTERED_LABEL`] sets, or `default` when it sets none (or
    /// an unknown value; the label value is matched without regard to case).
    pub fn for_namespace(labels: &BTreeMap<String, String>, default: Self) -> Self {
        match labels
            .get(UNREGISTERED_LABEL)
            .map(|v| v.to_ascii_lowercase())
        {
            Some(v) if v == "deny" => Self::Deny,
            Some(v) if v == "warn" => Self::Warn,
            Some(v) if v == "audit" => Self::Audit,
            _ => default,
        }
    }

    fn verdict(self) -> Verdict {
        match self {
            Self::Deny => Verdict::Deny,
            Self::Warn => Verdict::Warn,
            Self::Audit => Verdict::Allow,
        }
    }
}

/// One reason for a verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    /// The control, when a control fails.
    pub control: Option<String>,
    /// How the control is enforced.
    pub enforcement: Option<Enforcement>,
    /// What is wrong, and what to do about it.
    pub message: String,
}

impl From<&ControlFinding> for Reason {
    fn from(f: &ControlFinding) -> Self {
        Self {
            control: Some(f.control.clone()),
            enforcement: Some(f.enforcement),
            message: f.message.clone(),
        }
    }
}

impl Reason {
    fn note(message: impl Into<String>) -> Self {
        Self {
            control: None,
            enforcement: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.control, self.enforcement) {
            (Some(c), Some(e)) => write!(f, "{c} ({}): {}", enforcement_name(e), self.message),
            (Some(c), None) => write!(f, "{c}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

fn enforcement_name(e: Enforcement) -> &'static str {
    match e {
        Enforcement::Enforce => "Enforce",
        Enforcement::Warn => "Warn",
        Enforcement::Audit => "Audit",
    }
}

/// The admission decision for one workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadDecision {
    /// `Kind/name`.
    pub workload: String,
    /// Its namespace.
    pub namespace: String,
    /// The AISystem it belongs to.
    pub system: Option<String>,
    /// Allow, Warn or Deny.
    pub verdict: Verdict,
    /// Why, worst first.
    pub reasons: Vec<Reason>,
    /// The break-glass admission it was let in under, if any.
    pub break_glass: Option<BreakGlass>,
}

impl WorkloadDecision {
    /// The control ids that fail, in the order of the reasons.
    pub fn failing_controls(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for id in self.reasons.iter().filter_map(|r| r.control.as_deref()) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// The message of a denial: the workload, the system, each reason, and where to look further.
    pub fn deny_message(&self) -> String {
        let mut m = match &self.system {
            Some(system) => format!(
                "{} is denied: it belongs to AISystem {system}, which does not pass its enforced controls",
                self.workload
            ),
            None => format!("{} is denied", self.workload),
        };
        for r in self.reasons.iter().filter(|r| is_blocking(r)) {
            m.push_str("\n  - ");
            m.push_str(&r.to_string());
        }
        match &self.system {
            Some(system) => m.push_str(&format!(
                "\nSee `kubectl describe aisystem {system} -n {}` for the whole picture.",
                self.namespace
            )),
            None => m.push_str(&format!(
                "\nRegister it with an AISystem (label the workload aims.dev/system=<name>), or see \
                 `aims scan` for the unregistered model workloads of namespace {}.",
                self.namespace
            )),
        }
        m
    }

    /// The admission warnings: one per reason that does not allow cleanly, prefixed with the
    /// workload, as `kubectl` prints them.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(bg) = &self.break_glass {
            out.push(format!(
                "{} admitted under break-glass ticket {} until {}: {}",
                self.workload, bg.ticket, bg.until, bg.reason
            ));
        }
        out.extend(
            self.reasons
                .iter()
                .filter(|r| r.enforcement != Some(Enforcement::Audit))
                .map(|r| format!("{}: {r}", self.workload)),
        );
        out
    }
}

/// A reason that would deny on its own: an enforced control, or a note (unregistered under Deny,
/// a halt).
fn is_blocking(r: &Reason) -> bool {
    r.enforcement.is_none_or(|e| e == Enforcement::Enforce)
}

/// The request: the workload as it would be stored, as it was (on an update), and who asks.
#[derive(Clone, Copy, Debug)]
pub struct WorkloadRequest<'a> {
    /// The workload as the request would store it.
    pub workload: &'a WorkloadFacts,
    /// The workload as stored before an update; `None` on a create.
    pub old: Option<&'a WorkloadFacts>,
    /// Who asks.
    pub requester: Requester<'a>,
}

/// What the cluster holds that the decision reads: the records of the workload's namespace.
#[derive(Clone, Copy)]
pub struct AdmissionInputs<'a> {
    /// The AISystems of the namespace.
    pub systems: &'a [&'a AISystem],
    /// The AISystems whose declared models (`spec.models`) are a detection signal for a workload
    /// of no system: every one the decision can see, in any namespace.
    pub declared_by: &'a [&'a AISystem],
    /// The namespace's labels.
    pub namespace_labels: &'a BTreeMap<String, String>,
    /// The RiskAssessments of the namespace.
    pub assessments: &'a [&'a RiskAssessment],
    /// Every binding.
    pub bindings: &'a [Binding<'a>],
    /// The catalog.
    pub catalog: &'a Catalog,
    /// How approval signatures are checked.
    pub trust: Trust<'a>,
    /// The unregistered-model-workload detector.
    pub detector: &'a Detector,
    /// The policy for unregistered model workloads where the namespace sets none.
    pub unregistered: UnregisteredPolicy,
    /// Who may break the glass.
    pub break_glass: &'a BreakGlassPolicy,
    /// Now.
    pub now: Timestamp,
}

/// Decides one workload create or update.
///
/// An update that only scales down or stops a workload (fewer replicas, a suspended CronJob, a
/// stopped InferenceService) and changes nothing else the controls look at is always admitted:
/// neither the controller's halt nor a person reducing harm is ever blocked, and routine updates
/// by other controllers are not held to controls that the workload's status already reports.
///
/// Every system that claims the workload judges it, and the strictest verdict applies: the
/// systems it belongs to as the request would store it and, on an update, the systems it belonged
/// to before. A workload leaves a system (by a label or selector change) only when that system
/// would admit it as it is after the update, so leaving a halted or failing system is denied like a
/// scale-up of it.
pub fn admit(req: &WorkloadRequest, cluster: &AdmissionInputs) -> WorkloadDecision {
    let w = req.workload;
    let mut decision = WorkloadDecision {
        workload: w.display_name(),
        namespace: w.namespace.clone(),
        system: None,
        verdict: Verdict::Allow,
        reasons: Vec::new(),
        break_glass: None,
    };
    let staying = membership::claimants(cluster.systems, w);
    let leaving: Vec<&AISystem> = req
        .old
        .map(|old| membership::claimants(cluster.systems, old))
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !staying.iter().any(|t| std::ptr::eq(*t, *s)))
        .collect();
    decision.system = staying.first().or(leaving.first()).map(|s| s.name_any());
    if req.old.is_some_and(|old| only_stops(old, w)) {
        decision
            .reasons
            .push(Reason::note("only scales down or stops the workload"));
        return decision;
    }
    if staying.is_empty() && leaving.is_empty() {
        unattached(&mut decision, w, cluster);
        return decision;
    }
    let several = staying.len() + leaving.len() > 1;
    let judged: Vec<(Judgement, &AISystem, bool)> = staying
        .iter()
        .map(|s| (judge(s, false, req, cluster), *s, false))
        .chain(
            leaving
                .iter()
                .map(|s| (judge(s, true, req, cluster), *s, true)),
        )
        .collect();
    // The strictest verdict decides; among equals, the systems the workload stays in come first.
    let Some(worst) = judged.iter().map(|(j, _, _)| j.verdict).max() else {
        return decision;
    };
    let (_, primary, _) = judged
        .iter()
        .find(|(j, _, _)| j.verdict == worst)
        .unwrap_or(&judged[0]);
    decision.system = Some(primary.name_any());
    decision.verdict = worst;
    for (judgement, system, left) in judged {
        let prefix = match (left, several) {
            (true, _) => Some(format!(
                "leaving AISystem {} (the update takes the workload out of it, which is judged \
                 as if it stayed): ",
                system.name_any()
            )),
            (false, true) => Some(format!("AISystem {}: ", system.name_any())),
            (false, false) => None,
        };
        if decision.break_glass.is_none() && judgement.verdict == worst {
            decision.break_glass = judgement.break_glass;
        }
        decision
            .reasons
            .extend(judgement.reasons.into_iter().map(|mut r| {
                if let Some(p) = &prefix {
                    r.message.insert_str(0, p);
                }
                r
            }));
    }
    if several {
        // What blocks first, worst first within each system.
        decision
            .reasons
            .sort_by_key(|r| std::cmp::Reverse(is_blocking(r)));
    }
    decision
}

/// One system's verdict on the workload under review.
struct Judgement {
    verdict: Verdict,
    reasons: Vec<Reason>,
    break_glass: Option<BreakGlass>,
}

/// The verdict of `system` on the workload as the request would store it; `leaving` when the
/// update takes the workload out of the system, which then judges it as if it stayed.
fn judge(
    system: &AISystem,
    leaving: bool,
    req: &WorkloadRequest,
    cluster: &AdmissionInputs,
) -> Judgement {
    let w = req.workload;
    let mut judgement = Judgement {
        verdict: Verdict::Allow,
        reasons: Vec::new(),
        break_glass: None,
    };
    if !leaving && req.old.is_some_and(|old| halt::restores(system, old, w)) {
        judgement.reasons.push(Reason::note(
            "restores what ran before the system's halt, which an overseer has cleared",
        ));
        return judgement;
    }

    // A workload's verdict reads the system and the workload alone (the engine's
    // `verdicts_do_not_depend_on_other_workloads`), so the system's other workloads are not read.
    let inputs = Inputs {
        system,
        namespace_labels: cluster.namespace_labels,
        assessments: cluster.assessments,
        bindings: cluster.bindings,
        workloads: std::slice::from_ref(&w),
        catalog: cluster.catalog,
        trust: cluster.trust,
        now: cluster.now,
    };
    let evaluation = evaluate::evaluate_as_member(&inputs, w);
    let name = w.display_name();
    if let Some(v) = evaluation.workloads.iter().find(|v| v.workload == name) {
        judgement.verdict = v.verdict;
        judgement.reasons = v.reasons.iter().map(Reason::from).collect();
    }

    if let Some(bg) = break_glass_of(w) {
        let why_not = if judgement.verdict != Verdict::Deny {
            None
        } else {
            break_glass_refusal(system, &bg, req, cluster)
        };
        match (bg, why_not) {
            (Ok(bg), None) if judgement.verdict == Verdict::Deny => {
                judgement.verdict = Verdict::Warn;
                judgement.break_glass = Some(bg);
            }
            (_, Some(why_not)) => judgement
                .reasons
                .push(Reason::note(format!("break-glass not honoured: {why_not}"))),
            _ => {}
        }
    }
    judgement
}

/// The verdict for a workload that belongs to no AISystem: a label naming a system that does not
/// exist warns; a model workload follows the namespace's policy for unregistered ones.
pub fn unattached_verdict(
    w: &WorkloadFacts,
    detection: Option<&Detection>,
    policy: UnregisteredPolicy,
) -> (Verdict, Vec<Reason>) {
    let mut verdict = Verdict::Allow;
    let mut reasons = Vec::new();
    if let Some(name) = w.system_label() {
        verdict = Verdict::Warn;
        reasons.push(Reason::note(format!(
            "the label aims.dev/system names AISystem {name}, which does not exist in namespace {}",
            w.namespace
        )));
    }
    if let Some(detection) = detection {
        verdict = verdict.max(policy.verdict());
        reasons.push(Reason::note(format!(
            "unregistered model workload: {detection}"
        )));
    }
    (verdict, reasons)
}

fn unattached(decision: &mut WorkloadDecision, w: &WorkloadFacts, cluster: &AdmissionInputs) {
    let policy = UnregisteredPolicy::for_namespace(cluster.namespace_labels, cluster.unregistered);
    let detection = cluster.detector.detect_among(w, cluster.declared_by);
    let (verdict, reasons) = unattached_verdict(w, detection.as_ref(), policy);
    decision.verdict = verdict;
    decision.reasons = reasons;
}

/// Whether `new` differs from `old` only by stopping or shrinking it.
fn only_stops(old: &WorkloadFacts, new: &WorkloadFacts) -> bool {
    let fewer = match (old.replicas, new.replicas) {
        (Some(o), Some(n)) => n <= o,
        (o, n) => o == n,
    };
    // A suspend flag, a parked DaemonSet and a stop annotation alike are `suspended`.
    let not_resumed = !(old.suspended == Some(true) && new.suspended != Some(true));
    fewer && not_resumed && halt::decisive(old) == halt::decisive(new)
}

/// Why a break-glass admission is not honoured, or `None` when it is.
fn break_glass_refusal(
    system: &AISystem,
    bg: &Result<BreakGlass, String>,
    req: &WorkloadRequest,
    cluster: &AdmissionInputs,
) -> Option<String> {
    let bg = match bg {
        Ok(bg) => bg,
        Err(e) => return Some(e.clone()),
    };
    if system.spec.halted() {
        return Some(
            "break-glass does not lift a halt; an overseer resumes the system by setting \
             spec.oversight.halt to false"
                .to_owned(),
        );
    }
    if system.spec.risk_tier == crate::api::RiskTier::Prohibited {
        return Some("break-glass does not admit a prohibited practice".to_owned());
    }
    let now = cluster.now;
    if bg.until <= now {
        return Some(format!("it ended at {}", bg.until));
    }
    let policy = cluster.break_glass;
    if bg.until.duration_since(now) > policy.max {
        return Some(format!(
            "{BREAK_GLASS_UNTIL} is {} but a break-glass admission lasts at most {:#} from now",
            bg.until, policy.max
        ));
    }
    // A break-glass covers exactly what its member admitted: an update that keeps the same
    // annotations and changes nothing else a decision reads (images, model URIs, resources, ...)
    // and does not grow or restart the workload keeps it; anything else needs a member again.
    let unchanged = req.old.is_some_and(|old| {
        break_glass_of(old).is_some_and(|o| o.as_ref() == Ok(bg)) && only_stops(old, req.workload)
    });
    if !unchanged && !req.requester.groups.contains(&policy.group) {
        return Some(format!(
            "{} is not in the group {}, whose members may break the glass",
            req.requester.user, policy.group
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use serde_json::json;

    use super::*;
    use crate::{
        api::ControlBinding,
        engine::workload::{WorkloadKind, is_sha256_hex},
        testing::System,
    };

    const NOW: &str = "2026-01-10T12:00:00Z";
    const DIGEST: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    fn system(halt: bool) -> AISystem {
        System::scoring()
            .halted_if(halt)
            // What the controller recorded when it halted the system (kept until it has resumed).
            .status(json!({"haltedWorkloads": [{"workload": "Deployment/scorer", "replicas": 3}]}))
            .build()
    }

    fn deployment(
        name: &str,
        system: Option<&str>,
        replicas: i32,
        extra: serde_json::Value,
    ) -> WorkloadFacts {
        assert!(is_sha256_hex(DIGEST));
        let mut labels = json!({});
        if let Some(s) = system {
            labels = json!({"aims.dev/system": s});
        }
        let mut annotations = json!({});
        if let Some(map) = extra.as_object() {
            annotations = json!(map);
        }
        WorkloadFacts::from_json(
            WorkloadKind::Deployment,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "credit", "labels": labels, "annotations": annotations},
                "spec": {
                    "replicas": replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "c", "image": format!("r.example.com/scorer@sha256:{DIGEST}"),
                            "resources": {"requests": {"cpu": "1"}, "limits": {"memory": "1Gi"}}}]}
                    }
                }
            }),
        )
        .unwrap()
    }

    fn with_image(mut w: WorkloadFacts, image: &str) -> WorkloadFacts {
        w.containers[0].image = crate::engine::workload::ImageRef::parse(image);
        w
    }

    fn vllm(name: &str) -> WorkloadFacts {
        WorkloadFacts::from_json(
            WorkloadKind::Deployment,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "credit"},
                "spec": {
                    "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "c", "image": "vllm/vllm-openai:v0.6.0"}]}}
                }
            }),
        )
        .unwrap()
    }

    /// An Enforce binding of the deployment-approval control for every system of the namespace.
    fn enforce_approval() -> ControlBinding {
        serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "ControlBinding",
            "metadata": {"name": "approvals", "namespace": "credit"},
            "spec": {"subjects": {}, "enforcement": "Enforce", "controls": [{"id": "A.6.2.5"}]}
        }))
        .unwrap()
    }

    struct Case {
        name: &'static str,
        halt: bool,
        workload: WorkloadFacts,
        old: Option<WorkloadFacts>,
        groups: &'static [&'static str],
        namespace_labels: &'static [(&'static str, &'static str)],
        verdict: Verdict,
        break_glass: bool,
        says: &'static str,
    }

    fn until(hours: i64) -> String {
        (now() + SignedDuration::from_hours(hours)).to_string()
    }

    fn glass(hours: i64) -> serde_json::Value {
        json!({BREAK_GLASS_TICKET: "INC-7", BREAK_GLASS_REASON: "fraud wave", BREAK_GLASS_UNTIL: until(hours)})
    }

    #[test]
    fn decisions() {
        let d = |name, replicas| deployment(name, Some("scoring"), replicas, json!({}));
        let cases = vec![
            Case {
                name: "an unapproved workload of an enforced system is denied, naming the control",
                halt: false,
                workload: d("scorer", 1),
                old: None,
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "A.6.2.5 (Enforce)",
            },
            Case {
                name: "scaling down is always admitted",
                halt: false,
                workload: d("scorer", 1),
                old: Some(d("scorer", 3)),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Allow,
                break_glass: false,
                says: "",
            },
            Case {
                name: "scaling up a non-compliant workload is denied",
                halt: false,
                workload: d("scorer", 4),
                old: Some(d("scorer", 3)),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "A.6.2.5",
            },
            Case {
                name: "a halted system denies creates",
                halt: true,
                workload: d("scorer", 1),
                old: None,
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "halted by an overseer (drift)",
            },
            Case {
                name: "a halted system denies scale-ups, even from zero",
                halt: true,
                workload: d("scorer", 1),
                old: Some(d("scorer", 0)),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "halted",
            },
            Case {
                name: "a resume restores exactly the recorded replicas, despite failing controls",
                halt: false,
                workload: d("scorer", 3),
                old: Some(d("scorer", 0)),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Allow,
                break_glass: false,
                says: "",
            },
            Case {
                name: "a resume is no way to scale beyond what was recorded",
                halt: false,
                workload: d("scorer", 4),
                old: Some(d("scorer", 0)),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "A.6.2.5",
            },
            Case {
                name: "the recorded replicas are denied while the halt holds",
                halt: true,
                workload: d("scorer", 3),
                old: Some(d("scorer", 0)),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "halted",
            },
            Case {
                name: "a workload the halt did not record is not restored past its controls",
                halt: false,
                workload: d("other", 3),
                old: Some(d("other", 0)),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "A.6.2.5",
            },
            Case {
                name: "the halt's own scale-down is admitted",
                halt: true,
                workload: d("scorer", 0),
                old: Some(d("scorer", 2)),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Allow,
                break_glass: false,
                says: "only scales down or stops the workload",
            },
            Case {
                name: "break-glass by a member admits with a warning",
                halt: false,
                workload: deployment("scorer", Some("scoring"), 1, glass(2)),
                old: None,
                groups: &["aims:break-glass"],
                namespace_labels: &[],
                verdict: Verdict::Warn,
                break_glass: true,
                says: "A.6.2.5",
            },
            Case {
                name: "break-glass by a non-member is not honoured",
                halt: false,
                workload: deployment("scorer", Some("scoring"), 1, glass(2)),
                old: None,
                groups: &["developers"],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "dev is not in the group aims:break-glass",
            },
            Case {
                name: "break-glass kept as admitted needs no member",
                halt: false,
                workload: deployment("scorer", Some("scoring"), 1, glass(2)),
                old: Some(deployment("scorer", Some("scoring"), 1, glass(2))),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Allow,
                break_glass: false,
                says: "only scales down or stops the workload",
            },
            Case {
                name: "break-glass covers no more replicas than its member admitted",
                halt: false,
                workload: deployment("scorer", Some("scoring"), 5, glass(2)),
                old: Some(deployment("scorer", Some("scoring"), 1, glass(2))),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "dev is not in the group aims:break-glass",
            },
            Case {
                name: "break-glass covers no image its member did not admit",
                halt: false,
                workload: with_image(
                    deployment("scorer", Some("scoring"), 1, glass(2)),
                    "vllm/vllm-openai:v0.9.1",
                ),
                old: Some(deployment("scorer", Some("scoring"), 1, glass(2))),
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "dev is not in the group aims:break-glass",
            },
            Case {
                name: "a member may change what break-glass covers",
                halt: false,
                workload: deployment("scorer", Some("scoring"), 5, glass(2)),
                old: Some(deployment("scorer", Some("scoring"), 1, glass(2))),
                groups: &["aims:break-glass"],
                namespace_labels: &[],
                verdict: Verdict::Warn,
                break_glass: true,
                says: "",
            },
            Case {
                name: "break-glass longer than allowed is not honoured",
                halt: false,
                workload: deployment("scorer", Some("scoring"), 1, glass(48)),
                old: None,
                groups: &["aims:break-glass"],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "lasts at most",
            },
            Case {
                name: "expired break-glass is not honoured",
                halt: false,
                workload: deployment("scorer", Some("scoring"), 1, glass(-1)),
                old: None,
                groups: &["aims:break-glass"],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "it ended at",
            },
            Case {
                name: "break-glass without a reason is not honoured and says which annotation",
                halt: false,
                workload: deployment(
                    "scorer",
                    Some("scoring"),
                    1,
                    json!({BREAK_GLASS_TICKET: "INC-7", BREAK_GLASS_UNTIL: until(1)}),
                ),
                old: None,
                groups: &["aims:break-glass"],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "metadata.annotations[aims.dev/break-glass-reason] is missing",
            },
            Case {
                name: "break-glass does not lift a halt",
                halt: true,
                workload: deployment("scorer", Some("scoring"), 1, glass(2)),
                old: None,
                groups: &["aims:break-glass"],
                namespace_labels: &[],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "does not lift a halt",
            },
            Case {
                name: "an unregistered vLLM deployment warns by default",
                halt: false,
                workload: vllm("shadow"),
                old: None,
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Warn,
                break_glass: false,
                says: "unregistered model workload",
            },
            Case {
                name: "the namespace label can deny unregistered model workloads",
                halt: false,
                workload: vllm("shadow"),
                old: None,
                groups: &[],
                namespace_labels: &[(UNREGISTERED_LABEL, "deny")],
                verdict: Verdict::Deny,
                break_glass: false,
                says: "unregistered model workload",
            },
            Case {
                name: "a plain workload of no system is admitted",
                halt: false,
                workload: deployment("web", None, 1, json!({})),
                old: None,
                groups: &[],
                namespace_labels: &[(UNREGISTERED_LABEL, "deny")],
                verdict: Verdict::Allow,
                break_glass: false,
                says: "",
            },
            Case {
                name: "a label naming a missing system warns",
                halt: false,
                workload: deployment("web", Some("nope"), 1, json!({})),
                old: None,
                groups: &[],
                namespace_labels: &[],
                verdict: Verdict::Warn,
                break_glass: false,
                says: "names AISystem nope, which does not exist",
            },
        ];
        let catalog = Catalog::builtin();
        let detector = Detector::default();
        let cb = enforce_approval();
        let bindings = [Binding::Namespaced(&cb)];
        let policy = BreakGlassPolicy::default();
        for case in cases {
            let s = system(case.halt);
            let systems = [&s];
            let labels: BTreeMap<String, String> = case
                .namespace_labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let groups: Vec<String> = case.groups.iter().map(|g| (*g).to_owned()).collect();
            let decision = admit(
                &WorkloadRequest {
                    workload: &case.workload,
                    old: case.old.as_ref(),
                    requester: Requester {
                        user: "dev",
                        groups: &groups,
                    },
                },
                &AdmissionInputs {
                    systems: &systems,
                    declared_by: &systems,
                    namespace_labels: &labels,
                    assessments: &[],
                    bindings: &bindings,
                    catalog: &catalog,
                    trust: Trust::AsWritten,
                    detector: &detector,
                    unregistered: UnregisteredPolicy::Warn,
                    break_glass: &policy,
                    now: now(),
                },
            );
            assert_eq!(
                decision.verdict, case.verdict,
                "{}: {decision:#?}",
                case.name
            );
            assert_eq!(
                decision.break_glass.is_some(),
                case.break_glass,
                "{}: {decision:#?}",
                case.name
            );
            // Every decision of a workload of the system names it, for the decision log.
            if case.workload.system_label() == Some("scoring") {
                assert_eq!(decision.system.as_deref(), Some("scoring"), "{}", case.name);
            }
            let notes: Vec<String> = decision.reasons.iter().map(ToString::to_string).collect();
            let text = format!(
                "{}\n{}\n{}",
                decision.deny_message(),
                decision.warnings().join("\n"),
                notes.join("\n")
            );
            assert!(text.contains(case.says), "{}: {text}", case.name);
        }
    }

    #[test]
    fn deny_message_names_system_controls_and_where_to_look() {
        let decision = WorkloadDecision {
            workload: "Deployment/scorer".to_owned(),
            namespace: "credit".to_owned(),
            system: Some("scoring".to_owned()),
            verdict: Verdict::Deny,
            reasons: vec![
                Reason {
                    control: Some("A.6.2.5".to_owned()),
                    enforcement: Some(Enforcement::Enforce),
                    message: "no approved RiskAssessment".to_owned(),
                },
                Reason {
                    control: Some("A.6.2.8".to_owned()),
                    enforcement: Some(Enforcement::Warn),
                    message: "logs kept 30 days".to_owned(),
                },
            ],
            break_glass: None,
        };
        assert_eq!(
            decision.deny_message(),
            "Deployment/scorer is denied: it belongs to AISystem scoring, which does not pass its enforced controls\n  \
             - A.6.2.5 (Enforce): no approved RiskAssessment\n\
             See `kubectl describe aisystem scoring -n credit` for the whole picture."
        );
        assert_eq!(
            decision.warnings(),
            [
                "Deployment/scorer: A.6.2.5 (Enforce): no approved RiskAssessment",
                "Deployment/scorer: A.6.2.8 (Warn): logs kept 30 days"
            ]
        );
        assert_eq!(decision.failing_controls(), ["A.6.2.5", "A.6.2.8"]);
    }

    #[test]
    fn namespace_policy_label() {
        let table = [
            (None, UnregisteredPolicy::Warn),
            (Some("Deny"), UnregisteredPolicy::Deny),
            (Some("audit"), UnregisteredPolicy::Audit),
            (Some("WARN"), UnregisteredPolicy::Warn),
            (Some("bogus"), UnregisteredPolicy::Warn),
        ];
        for (value, want) in table {
            let labels: BTreeMap<String, String> = value
                .map(|v| (UNREGISTERED_LABEL.to_owned(), v.to_owned()))
                .into_iter()
                .collect();
            assert_eq!(
                UnregisteredPolicy::for_namespace(&labels, UnregisteredPolicy::Warn),
                want,
                "{value:?}"
            );
        }
    }

    #[test]
    fn break_glass_shows_as_a_finding_until_it_ends() {
        let catalog = Catalog::builtin();
        let cb = enforce_approval();
        let bindings = [Binding::Namespaced(&cb)];
        let s = system(false);
        let labels = BTreeMap::new();
        for (hours, shown) in [(2, true), (-1, false)] {
            let w = deployment("scorer", Some("scoring"), 1, glass(hours));
            let evaluation = evaluate::evaluate(&Inputs {
                system: &s,
                namespace_labels: &labels,
                assessments: &[],
                bindings: &bindings,
                workloads: &[&w],
                catalog: &catalog,
                trust: Trust::AsWritten,
                now: now(),
            });
            let finding = evaluation.findings.iter().find(|f| {
                f.message
                    .contains("runs under break-glass (ticket INC-7: fraud wave)")
            });
            assert_eq!(
                finding.is_some(),
                shown,
                "{hours}h: {:#?}",
                evaluation.findings
            );
            let until: Timestamp = until(hours).parse().unwrap();
            assert_eq!(
                evaluation.next_review_at == Some(until),
                shown,
                "the system is evaluated again when the break-glass ends"
            );
        }
    }

    /// A system of the namespace: `approved` ones need no approval (no binding applies A.6.2.5 to
    /// them), the others are bound by [`enforce_approval`]'s Enforce binding through a label.
    fn member_system(
        name: &str,
        halt: bool,
        approved: bool,
        selector: serde_json::Value,
    ) -> AISystem {
        let mut s = system(halt);
        s.metadata.name = Some(name.to_owned());
        let mut labels = BTreeMap::new();
        if !approved {
            labels.insert("approval".to_owned(), "required".to_owned());
        }
        s.metadata.labels = Some(labels);
        s.spec.workload_selector =
            (!selector.is_null()).then(|| serde_json::from_value(selector).unwrap());
        s.status = None;
        s
    }

    fn labelled(
        name: &str,
        system: Option<&str>,
        pod_system: Option<&str>,
        replicas: i32,
    ) -> WorkloadFacts {
        let mut w = deployment(name, system, replicas, json!({}));
        w.labels.insert("app".to_owned(), name.to_owned());
        if let Some(p) = pod_system {
            w.pod_labels
                .insert("aims.dev/system".to_owned(), p.to_owned());
        }
        w
    }

    /// Which systems judge a workload, and that the strictest of them decides.
    #[test]
    fn membership_decisions() {
        struct Case {
            name: &'static str,
            systems: Vec<AISystem>,
            workload: WorkloadFacts,
            old: Option<WorkloadFacts>,
            verdict: Verdict,
            system: Option<&'static str>,
            says: &'static str,
        }
        let open = |name| member_system(name, false, true, json!(null));
        let halted = |name| member_system(name, true, true, json!(null));
        let failing = |name| member_system(name, false, false, json!(null));
        let cases = vec![
            Case {
                name: "removing the label and scaling up in one update leaves a halted system: denied",
                systems: vec![halted("scoring")],
                workload: labelled("scorer", None, None, 3),
                old: Some(labelled("scorer", Some("scoring"), None, 0)),
                verdict: Verdict::Deny,
                system: Some("scoring"),
                says: "leaving AISystem scoring",
            },
            Case {
                name: "relabelling to another system leaves the halted one: denied",
                systems: vec![halted("scoring"), open("other")],
                workload: labelled("scorer", Some("other"), None, 3),
                old: Some(labelled("scorer", Some("scoring"), None, 0)),
                verdict: Verdict::Deny,
                system: Some("scoring"),
                says: "halted by an overseer",
            },
            Case {
                name: "relabelling out of a failing system: denied",
                systems: vec![failing("scoring"), open("other")],
                workload: labelled("scorer", Some("other"), None, 1),
                old: Some(labelled("scorer", Some("scoring"), None, 1)),
                verdict: Verdict::Deny,
                system: Some("scoring"),
                says: "A.6.2.5",
            },
            Case {
                name: "moving between two systems that both admit it is admitted",
                systems: vec![open("scoring"), open("other")],
                workload: labelled("scorer", Some("other"), None, 1),
                old: Some(labelled("scorer", Some("scoring"), None, 1)),
                verdict: Verdict::Allow,
                system: Some("other"),
                says: "",
            },
            Case {
                name: "the label wins over a catch-all selector",
                systems: vec![
                    halted("scoring"),
                    member_system(
                        "catch-all",
                        false,
                        true,
                        json!({"matchLabels": {"app": "scorer"}}),
                    ),
                ],
                workload: labelled("scorer", Some("scoring"), None, 3),
                old: Some(labelled("scorer", Some("scoring"), None, 0)),
                verdict: Verdict::Deny,
                system: Some("scoring"),
                says: "halted by an overseer",
            },
            Case {
                name: "an empty selector claims nothing",
                systems: vec![member_system("everything", true, true, json!({}))],
                workload: labelled("web", None, None, 1),
                old: None,
                verdict: Verdict::Allow,
                system: None,
                says: "",
            },
            Case {
                name: "a selector claims an unlabelled workload",
                systems: vec![member_system(
                    "scoring",
                    true,
                    true,
                    json!({"matchLabels": {"app": "web"}}),
                )],
                workload: labelled("web", None, None, 1),
                old: None,
                verdict: Verdict::Deny,
                system: Some("scoring"),
                says: "halted",
            },
            Case {
                name: "two selectors claim it: the strictest verdict applies, whichever comes first",
                systems: vec![
                    member_system(
                        "lenient",
                        false,
                        true,
                        json!({"matchLabels": {"app": "web"}}),
                    ),
                    member_system(
                        "strict",
                        true,
                        true,
                        json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}),
                    ),
                ],
                workload: labelled("web", None, None, 1),
                old: None,
                verdict: Verdict::Deny,
                system: Some("strict"),
                says: "AISystem strict: halted",
            },
            Case {
                name: "a pod template naming another system makes that system a judge too",
                systems: vec![open("scoring"), halted("other")],
                workload: labelled("scorer", Some("scoring"), Some("other"), 1),
                old: None,
                verdict: Verdict::Deny,
                system: Some("other"),
                says: "halted",
            },
        ];
        let catalog = Catalog::builtin();
        let detector = Detector::default();
        let cb: ControlBinding = serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "ControlBinding",
            "metadata": {"name": "approvals", "namespace": "credit"},
            "spec": {"subjects": {"selector": {"matchLabels": {"approval": "required"}}},
                     "enforcement": "Enforce", "controls": [{"id": "A.6.2.5"}]}
        }))
        .unwrap();
        let bindings = [Binding::Namespaced(&cb)];
        let policy = BreakGlassPolicy::default();
        let labels = BTreeMap::new();
        for case in cases {
            let systems: Vec<&AISystem> = case.systems.iter().collect();
            let decision = admit(
                &WorkloadRequest {
                    workload: &case.workload,
                    old: case.old.as_ref(),
                    requester: Requester {
                        user: "dev",
                        groups: &[],
                    },
                },
                &AdmissionInputs {
                    systems: &systems,
                    declared_by: &systems,
                    namespace_labels: &labels,
                    assessments: &[],
                    bindings: &bindings,
                    catalog: &catalog,
                    trust: Trust::AsWritten,
                    detector: &detector,
                    unregistered: UnregisteredPolicy::Warn,
                    break_glass: &policy,
                    now: now(),
                },
            );
            assert_eq!(
                decision.verdict, case.verdict,
                "{}: {decision:#?}",
                case.name
            );
            assert_eq!(
                decision.system.as_deref(),
                case.system,
                "{}: {decision:#?}",
                case.name
            );
            let text = format!(
                "{}\n{}",
                decision.deny_message(),
                decision.warnings().join("\n")
            );
            assert!(text.contains(case.says), "{}: {text}", case.name);
        }
    }
}
