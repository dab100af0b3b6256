//! `kubectl aims halt` and `kubectl aims resume`: the stop button of an AISystem
//! (`spec.oversight.halt`). While halted the operator scales the system's workloads to zero and
//! its webhook denies new ones; anyone allowed to edit the system may halt it, and only an
//! overseer named in it may resume it.

use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

use super::connect::{ClusterError, Connection, Named, Target, settle};
use crate::api::{AISystem, Phase};

/// The annotation that keeps why a system was last resumed (the spec keeps only why it was
/// halted, while it is).
pub const RESUME_REASON: &str = "aims.dev/resume-reason";

/// Options of `aims halt`.
#[derive(Debug, clap::Args)]
pub struct HaltArgs {
    /// The AISystem to halt.
    #[arg(value_name = "AISYSTEM")]
    pub name: String,
    /// Its namespace.
    #[command(flatten)]
    pub scope: super::connect::ObjectScope,
    /// Why: kept in spec.oversight.haltReason while the system is halted.
    #[arg(long, value_name = "TEXT", required = true, value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub reason: String,
    /// How to reach the cluster.
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
}

/// Options of `aims resume`.
#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The AISystem to resume.
    #[arg(value_name = "AISYSTEM")]
    pub name: String,
    /// Its namespace.
    #[command(flatten)]
    pub scope: super::connect::ObjectScope,
    /// Why it may run again: kept in the annotation aims.dev/resume-reason.
    #[arg(long, value_name = "TEXT", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub reason: Option<String>,
    /// How to reach the cluster.
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
}

/// The merge patch that halts a system for `reason`. It drops the reason of an earlier resume,
/// which no longer applies.
pub fn halt_patch(reason: &str) -> Value {
    json!({
        "metadata": {"annotations": {RESUME_REASON: null}},
        "spec": {"oversight": {"halt": true, "haltReason": reason}},
    })
}

/// The merge patch that resumes a system: `halt` false, and the halt's reason cleared (it says why
/// the system is halted, which it no longer is); the resume's own reason, if any, in the
/// annotation [`RESUME_REASON`].
pub fn resume_patch(reason: Option<&str>) -> Value {
    json!({
        "metadata": {"annotations": {RESUME_REASON: reason}},
        "spec": {"oversight": {"halt": false, "haltReason": null}},
    })
}

/// What the operator made of the change, in one line: the phase and what it stopped.
pub fn outcome(system: &AISystem) -> String {
    let Some(status) = system.status.as_ref() else {
        return "  phase: not evaluated yet (is the operator running?)".to_owned();
    };
    let phase = match status.phase {
        Some(Phase::Compliant) => "Compliant",
        Some(Phase::NonCompliant) => "NonCompliant",
        Some(Phase::Pending) => "Pending",
        Some(Phase::Halted) => "Halted",
        None => "-",
    };
    let stopped: Vec<&str> = status
        .halted_workloads
        .iter()
        .map(|w| w.workload.as_str())
        .collect();
    if stopped.is_empty() {
        format!("  phase: {phase}")
    } else {
        format!("  phase: {phase}; stopped: {}", stopped.join(", "))
    }
}

/// Applies `patch` to the system, says `done` and what the operator made of it.
async fn set(
    cluster: &Connection,
    name: &str,
    namespace: Option<String>,
    patch: Value,
    done: &str,
) -> Result<String, ClusterError> {
    let namespace = cluster.namespace(namespace);
    let api: Api<AISystem> = cluster.api(&namespace);
    let updated = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| cluster.classify(e, Target::object("aisystem", name, &namespace)))?;
    let named = Named {
        kind: "aisystem",
        name,
        namespace: &namespace,
    };
    let mut out = format!("{named}: {done}\n");
    let evaluated = settle(&api, name, updated.metadata.generation, |o| {
        o.status.as_ref().and_then(|s| s.observed_generation)
    })
    .await;
    out.push_str(&outcome(evaluated.as_ref().unwrap_or(&updated)));
    if evaluated.is_none() {
        out.push_str(" (the operator has not acted on it yet)");
    }
    out.push('\n');
    Ok(out)
}

/// `aims halt`.
pub async fn halt(cluster: &Connection, args: HaltArgs) -> Result<String, ClusterError> {
    let done = format!("halted ({})", args.reason);
    set(
        cluster,
        &args.name,
        args.scope.namespace,
        halt_patch(&args.reason),
        &done,
    )
    .await
}

/// `aims resume`.
pub async fn resume(cluster: &Connection, args: ResumeArgs) -> Result<String, ClusterError> {
    let done = match &args.reason {
        Some(reason) => format!("resumed ({reason})"),
        None => "resumed".to_owned(),
    };
    set(
        cluster,
        &args.name,
        args.scope.namespace,
        resume_patch(args.reason.as_deref()),
        &done,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halting_sets_the_reason_the_schema_requires() {
        assert_eq!(
            halt_patch("drift under investigation"),
            json!({
                "metadata": {"annotations": {"aims.dev/resume-reason": null}},
                "spec": {"oversight": {"halt": true, "haltReason": "drift under investigation"}},
            })
        );
    }

    #[test]
    fn resuming_clears_the_halt_reason_and_keeps_its_own() {
        assert_eq!(
            resume_patch(Some("retrained on fresh data")),
            json!({
                "metadata": {"annotations": {"aims.dev/resume-reason": "retrained on fresh data"}},
                "spec": {"oversight": {"halt": false, "haltReason": null}},
            })
        );
        assert_eq!(
            resume_patch(None)["metadata"]["annotations"]["aims.dev/resume-reason"],
            Value::Null
        );
    }

    #[test]
    fn a_merge_patch_leaves_the_overseers_alone() {
        let mut system = json!({"metadata": {"name": "s"}, "spec": {"oversight": {"mode": "HumanOnTheLoop", "overseers": [{"name": "olga"}]}}});
        json_patch::merge(&mut system, &halt_patch("drift"));
        assert_eq!(
            system["spec"]["oversight"],
            json!({"mode": "HumanOnTheLoop", "overseers": [{"name": "olga"}], "halt": true, "haltReason": "drift"})
        );
        json_patch::merge(&mut system, &resume_patch(None));
        assert_eq!(
            system["spec"]["oversight"],
            json!({"mode": "HumanOnTheLoop", "overseers": [{"name": "olga"}], "halt": false})
        );
        assert_eq!(system["metadata"], json!({"name": "s", "annotations": {}}));
    }

    #[test]
    fn the_outcome_names_the_phase_and_what_was_stopped() {
        let system: AISystem = serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
            "metadata": {"name": "s", "namespace": "n"},
            "spec": {"purpose": "p", "riskTier": "Minimal", "owner": {"name": "o"}},
            "status": {"phase": "Halted", "haltedWorkloads": [{"workload": "Deployment/scorer", "replicas": 3}]},
        }))
        .unwrap();
        assert_eq!(
            outcome(&system),
            "  phase: Halted; stopped: Deployment/scorer"
        );
    }
}
