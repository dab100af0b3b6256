//! Halt planning (EU AI Act Art. 14(4)(e)): what stopping a halted system's workloads, and
//! restoring them on resume, takes, and how admission recognises the restore. Pure: the controller
//! carries the plan out (`controller::halt`) and keeps what it recorded in the system's status.
//!
//! While a system is halted no Pod of it runs, whatever its kind. How each kind stops is its
//! [`Stopper`]: Deployments, StatefulSets, ReplicaSets, ReplicationControllers and the custom kinds
//! that scale (LeaderWorkerSet, Argo Rollout, ...) go to zero replicas; CronJobs, Jobs and the
//! custom kinds with a `suspend` (JobSet, RayCluster, PyTorchJob, ...) are suspended; the kinds
//! with a stop annotation (KServe's) are stopped with it; DaemonSets are parked (their pods select
//! the node label [`HALT_NODE_LABEL`], which no node carries); bare Pods are deleted; a kind with
//! no stop of its own (RayService, Knative Service) stops through what it creates, which carries
//! its labels and is governed itself. On resume exactly what was there is restored (a deleted Pod
//! is not: whoever runs it creates it again, and the webhook judges that).

use std::borrow::Borrow;

pub use super::workload::HALT_NODE_LABEL;
use super::{
    kinds::{Halt, Stopper},
    workload::{WorkloadFacts, WorkloadKind},
};
use crate::api::{AISystem, HaltedWorkload};

/// One change to a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Set the replicas of a kind that scales: through its scale subresource, or its replicas
    /// field for a custom kind that has no scale subresource.
    Scale {
        /// Its kind.
        kind: WorkloadKind,
        /// Its name.
        name: String,
        /// The replicas to set.
        replicas: i32,
    },
    /// Stop (or start) an object of a kind stopped by an annotation (KServe's
    /// `serving.kserve.io/stop`): set it, or remove it.
    Stop {
        /// Its kind.
        kind: WorkloadKind,
        /// Its name.
        name: String,
        /// Whether it is to be stopped.
        stop: bool,
    },
    /// Set the `suspend` flag of a CronJob, a Job (a suspended Job's Pods are deleted by the Job
    /// controller) or a custom kind with one.
    Suspend {
        /// Its kind.
        kind: WorkloadKind,
        /// Its name.
        name: String,
        /// The value to set.
        suspend: bool,
    },
    /// Park (or unpark) a DaemonSet: add (or remove) [`HALT_NODE_LABEL`] in its pod template's
    /// `nodeSelector`, so that its pods go away from every node.
    Park {
        /// Its name.
        name: String,
        /// Whether it is to be parked.
        park: bool,
    },
    /// Delete a Pod no controller owns.
    Delete {
        /// Its name.
        name: String,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Scale {
                kind,
                name,
                replicas,
            } => write!(f, "{kind}/{name} to {replicas} replicas"),
            Self::Stop {
                kind,
                name,
                stop: true,
            } => write!(f, "{kind}/{name} stopped"),
            Self::Stop {
                kind,
                name,
                stop: false,
            } => write!(f, "{kind}/{name} started"),
            Self::Suspend {
                kind,
                name,
                suspend,
            } => write!(f, "{kind}/{name} suspend={suspend}"),
            Self::Park { name, park: true } => write!(f, "DaemonSet/{name} parked"),
            Self::Park { name, park: false } => write!(f, "DaemonSet/{name} unparked"),
            Self::Delete { name } => write!(f, "Pod/{name} deleted"),
        }
    }
}

/// What to do, and what to remember afterwards.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The changes to make.
    pub steps: Vec<Step>,
    /// What the status records once the steps are done.
    pub recorded: Vec<HaltedWorkload>,
}

/// Plans the halt or the resume of a system's workloads. Pure: the same inputs give the same plan,
/// and a plan already carried out plans nothing more.
///
/// Halting records each running workload once (the first value seen is the one restored, so a
/// workload scaled to zero by the halt is not recorded as "zero" again) and stops it. Resuming
/// restores what was recorded for workloads that still exist, and forgets the rest.
pub fn plan<W: Borrow<WorkloadFacts>>(
    halted: bool,
    workloads: &[W],
    recorded: &[HaltedWorkload],
) -> Plan {
    let mut out = Plan::default();
    for w in workloads.iter().map(Borrow::borrow) {
        let name = w.display_name();
        let known = recorded.iter().find(|r| r.workload == name);
        match (w.kind.stopper(), halted) {
            (Stopper::Count, true) => {
                let replicas = w.replicas.unwrap_or(1);
                let remembered = known.cloned().unwrap_or(HaltedWorkload {
                    workload: name,
                    replicas: Some(replicas),
                    suspended: None,
                });
                if replicas != 0 {
                    out.steps.push(Step::Scale {
                        kind: w.kind,
                        name: w.name.clone(),
                        replicas: 0,
                    });
                }
                out.recorded.push(remembered);
            }
            (Stopper::Count, false) => {
                if let Some(replicas) = known.and_then(|k| k.replicas)
                    && w.replicas != Some(replicas)
                {
                    out.steps.push(Step::Scale {
                        kind: w.kind,
                        name: w.name.clone(),
                        replicas,
                    });
                }
            }
            (Stopper::Flag, true) => {
                let suspended = w.suspended.unwrap_or(false);
                let remembered = known.cloned().unwrap_or(HaltedWorkload {
                    workload: name,
                    replicas: None,
                    suspended: Some(suspended),
                });
                if !suspended {
                    out.steps.push(stop_step(w, true));
                }
                out.recorded.push(remembered);
            }
            (Stopper::Flag, false) => {
                if let Some(suspended) = known.and_then(|k| k.suspended)
                    && w.suspended.unwrap_or(false) != suspended
                {
                    out.steps.push(stop_step(w, suspended));
                }
            }
            (Stopper::Delete, true) => out.steps.push(Step::Delete {
                name: w.name.clone(),
            }),
            (Stopper::Delete | Stopper::Nothing, _) => {}
        }
    }
    out
}

/// The step that stops (or starts) a workload whose stop is a flag.
fn stop_step(w: &WorkloadFacts, stop: bool) -> Step {
    let name = w.name.clone();
    match w.kind {
        WorkloadKind::DaemonSet => Step::Park { name, park: stop },
        WorkloadKind::Custom(spec) if matches!(spec.halt, Halt::Annotation { .. }) => Step::Stop {
            kind: w.kind,
            name,
            stop,
        },
        kind => Step::Suspend {
            kind,
            name,
            suspend: stop,
        },
    }
}

/// Whether an update only brings a workload back to what the system's status recorded when it was
/// halted, now that the halt is cleared: the controller carrying out an overseer's resume. Without
/// this, resuming a system that fails an enforced control would be refused by its own webhook.
pub fn restores(system: &AISystem, old: &WorkloadFacts, new: &WorkloadFacts) -> bool {
    if system.spec.halted() {
        return false;
    }
    let name = new.display_name();
    let Some(recorded) = system
        .status
        .as_ref()
        .and_then(|s| s.halted_workloads.iter().find(|h| h.workload == name))
    else {
        return false;
    };
    let back = match new.kind.stopper() {
        Stopper::Count => {
            old.replicas == Some(0) && new.replicas.is_some() && new.replicas == recorded.replicas
        }
        Stopper::Flag => {
            old.suspended == Some(true)
                && new.suspended.unwrap_or(false) == recorded.suspended.unwrap_or(false)
        }
        Stopper::Delete | Stopper::Nothing => false,
    };
    back && decisive(old) == decisive(new)
}

/// The facts with what only stops a workload blanked out (its replicas, its stop flag or stop
/// annotation), and only the annotations a decision reads kept.
pub fn decisive(w: &WorkloadFacts) -> WorkloadFacts {
    let mut w = w.clone();
    w.replicas = None;
    w.suspended = None;
    w.annotations.retain(|k, _| k.starts_with("aims.dev/"));
    w
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deployment(name: &str, replicas: i32) -> WorkloadFacts {
        WorkloadFacts::from_json(
            WorkloadKind::Deployment,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "n"},
                   "spec": {"replicas": replicas, "selector": {}, "template": {}}}),
        )
        .unwrap()
    }

    fn cron(name: &str, suspend: bool) -> WorkloadFacts {
        WorkloadFacts::from_json(
            WorkloadKind::CronJob,
            json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": "n"},
                   "spec": {"schedule": "* * * * *", "suspend": suspend, "jobTemplate": {}}}),
        )
        .unwrap()
    }

    fn isvc_kind() -> WorkloadKind {
        WorkloadKind::custom("InferenceService").unwrap()
    }

    fn isvc(name: &str, stop: Option<&str>) -> WorkloadFacts {
        let annotations = stop.map_or_else(|| json!({}), |v| json!({"serving.kserve.io/stop": v}));
        WorkloadFacts::from_json(
            isvc_kind(),
            json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                   "metadata": {"name": name, "namespace": "n", "annotations": annotations}, "spec": {"predictor": {}}}),
        )
        .unwrap()
    }

    fn rec(workload: &str, replicas: Option<i32>, suspended: Option<bool>) -> HaltedWorkload {
        HaltedWorkload {
            workload: workload.into(),
            replicas,
            suspended,
        }
    }

    fn suspend(name: &str, suspend: bool) -> Step {
        Step::Suspend {
            kind: WorkloadKind::CronJob,
            name: name.into(),
            suspend,
        }
    }

    fn job(name: &str, suspend: bool) -> WorkloadFacts {
        WorkloadFacts::from_json(
            WorkloadKind::Job,
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "n"},
                   "spec": {"suspend": suspend, "template": {}}}),
        )
        .unwrap()
    }

    fn daemon_set(name: &str, parked: bool) -> WorkloadFacts {
        let node_selector = if parked {
            json!({HALT_NODE_LABEL: "true", "gpu": "a100"})
        } else {
            json!({"gpu": "a100"})
        };
        WorkloadFacts::from_json(
            WorkloadKind::DaemonSet,
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "n"},
                   "spec": {"selector": {}, "template": {"spec": {"nodeSelector": node_selector, "containers": []}}}}),
        )
        .unwrap()
    }

    fn scalable(kind: WorkloadKind, name: &str, replicas: i32) -> WorkloadFacts {
        let api_version = if kind == WorkloadKind::ReplicaSet {
            "apps/v1"
        } else {
            "v1"
        };
        WorkloadFacts::from_json(
            kind,
            json!({"apiVersion": api_version, "kind": kind.to_string(), "metadata": {"name": name, "namespace": "n"},
                   "spec": {"replicas": replicas, "selector": {}, "template": {}}}),
        )
        .unwrap()
    }

    fn pod(name: &str) -> WorkloadFacts {
        WorkloadFacts::from_json(
            WorkloadKind::Pod,
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "n"},
                   "spec": {"containers": []}}),
        )
        .unwrap()
    }

    fn scale(name: &str, replicas: i32) -> Step {
        Step::Scale {
            kind: WorkloadKind::Deployment,
            name: name.into(),
            replicas,
        }
    }

    #[test]
    fn halting_and_resuming() {
        let cases = [
            (
                "halt scales to zero and remembers",
                true,
                vec![deployment("a", 3), cron("c", false)],
                vec![],
                vec![scale("a", 0), suspend("c", true)],
                vec![
                    rec("Deployment/a", Some(3), None),
                    rec("CronJob/c", None, Some(false)),
                ],
            ),
            (
                "a halt carried out plans nothing more and keeps what it remembered",
                true,
                vec![deployment("a", 0), cron("c", true)],
                vec![
                    rec("Deployment/a", Some(3), None),
                    rec("CronJob/c", None, Some(false)),
                ],
                vec![],
                vec![
                    rec("Deployment/a", Some(3), None),
                    rec("CronJob/c", None, Some(false)),
                ],
            ),
            (
                "a workload scaled up during the halt is stopped again, the first value kept",
                true,
                vec![deployment("a", 5)],
                vec![rec("Deployment/a", Some(3), None)],
                vec![scale("a", 0)],
                vec![rec("Deployment/a", Some(3), None)],
            ),
            (
                "resume restores exactly what was there",
                false,
                vec![deployment("a", 0), cron("c", true)],
                vec![
                    rec("Deployment/a", Some(3), None),
                    rec("CronJob/c", None, Some(false)),
                ],
                vec![scale("a", 3), suspend("c", false)],
                vec![],
            ),
            (
                "a CronJob suspended before the halt stays suspended",
                false,
                vec![cron("c", true)],
                vec![rec("CronJob/c", None, Some(true))],
                vec![],
                vec![],
            ),
            (
                "every kind stops: Jobs suspended, DaemonSets parked, bare Pods deleted",
                true,
                vec![job("j", false), daemon_set("d", false), pod("p")],
                vec![],
                vec![
                    Step::Suspend {
                        kind: WorkloadKind::Job,
                        name: "j".into(),
                        suspend: true,
                    },
                    Step::Park {
                        name: "d".into(),
                        park: true,
                    },
                    Step::Delete { name: "p".into() },
                ],
                vec![
                    rec("Job/j", None, Some(false)),
                    rec("DaemonSet/d", None, Some(false)),
                ],
            ),
            (
                "and come back as they were; a deleted Pod does not",
                false,
                vec![job("j", true), daemon_set("d", true), job("k", true)],
                vec![
                    rec("Job/j", None, Some(false)),
                    rec("DaemonSet/d", None, Some(false)),
                    rec("Job/k", None, Some(true)),
                ],
                vec![
                    Step::Suspend {
                        kind: WorkloadKind::Job,
                        name: "j".into(),
                        suspend: false,
                    },
                    Step::Park {
                        name: "d".into(),
                        park: false,
                    },
                ],
                vec![],
            ),
            (
                "a ReplicaSet and a ReplicationController made directly scale like Deployments",
                true,
                vec![
                    scalable(WorkloadKind::ReplicaSet, "rs", 2),
                    scalable(WorkloadKind::ReplicationController, "rc", 1),
                ],
                vec![],
                vec![
                    Step::Scale {
                        kind: WorkloadKind::ReplicaSet,
                        name: "rs".into(),
                        replicas: 0,
                    },
                    Step::Scale {
                        kind: WorkloadKind::ReplicationController,
                        name: "rc".into(),
                        replicas: 0,
                    },
                ],
                vec![
                    rec("ReplicaSet/rs", Some(2), None),
                    rec("ReplicationController/rc", Some(1), None),
                ],
            ),
            (
                "nothing halted, nothing to do",
                false,
                vec![deployment("a", 2)],
                vec![],
                vec![],
                vec![],
            ),
            (
                "an InferenceService is stopped with KServe's annotation",
                true,
                vec![isvc("chat", None)],
                vec![],
                vec![Step::Stop {
                    kind: isvc_kind(),
                    name: "chat".into(),
                    stop: true,
                }],
                vec![rec("InferenceService/chat", None, Some(false))],
            ),
            (
                "an InferenceService that ran before the halt is started again",
                false,
                vec![isvc("chat", Some("true"))],
                vec![rec("InferenceService/chat", None, Some(false))],
                vec![Step::Stop {
                    kind: isvc_kind(),
                    name: "chat".into(),
                    stop: false,
                }],
                vec![],
            ),
            (
                "an InferenceService stopped before the halt stays stopped",
                false,
                vec![isvc("chat", Some("true"))],
                vec![rec("InferenceService/chat", None, Some(true))],
                vec![],
                vec![],
            ),
            (
                "a deployment already at zero is remembered as zero",
                true,
                vec![deployment("idle", 0)],
                vec![],
                vec![],
                vec![rec("Deployment/idle", Some(0), None)],
            ),
        ];
        for (name, halted, workloads, recorded, steps, after) in cases {
            let p = plan(halted, &workloads, &recorded);
            assert_eq!(p.steps, steps, "{name}: steps");
            assert_eq!(p.recorded, after, "{name}: recorded");
        }
    }
}
