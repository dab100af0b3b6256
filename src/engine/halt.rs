//! Halt planning (EU AI Act Art. 14(4)(e)): what stopping a halted system's workloads, and
//! restoring them on resume, takes, and how admission recognises the restore. Pure: the controller
//! carries the plan out (`controller::halt`) and keeps what it recorded in the system's status.
//!
//! While a system is halted no Pod of it runs, whatever its kind: Deployments, StatefulSets,
//! ReplicaSets and ReplicationControllers are scaled to zero, CronJobs and Jobs suspended,
//! InferenceServices stopped, DaemonSets parked (their pods select the node label
//! [`HALT_NODE_LABEL`], which no node carries) and bare Pods deleted; on resume exactly what was
//! there is restored (a deleted Pod is not: whoever runs it creates it again, and the webhook
//! judges that).

use std::borrow::Borrow;

pub use super::workload::{HALT_NODE_LABEL, KSERVE_STOP};
use super::workload::{WorkloadFacts, WorkloadKind};
use crate::api::{AISystem, HaltedWorkload};

/// One change to a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Set a Deployment's or StatefulSet's replicas through its scale subresource.
    Scale {
        /// Deployment or StatefulSet.
        kind: WorkloadKind,
        /// Its name.
        name: String,
        /// The replicas to set.
        replicas: i32,
    },
    /// Stop (or start) a KServe InferenceService with its `serving.kserve.io/stop` annotation.
    Stop {
        /// Its name.
        name: String,
        /// Whether it is to be stopped.
        stop: bool,
    },
    /// Set a CronJob's or a Job's `spec.suspend` (a suspended Job's Pods are deleted by the Job
    /// controller).
    Suspend {
        /// CronJob or Job.
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
            Self::Stop { name, stop: true } => write!(f, "InferenceService/{name} stopped"),
            Self::Stop { name, stop: false } => write!(f, "InferenceService/{name} started"),
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
        match (w.kind, halted) {
            (
                WorkloadKind::Deployment
                | WorkloadKind::StatefulSet
                | WorkloadKind::ReplicaSet
                | WorkloadKind::ReplicationController,
                true,
            ) => {
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
            (WorkloadKind::InferenceService, true) => {
                let stopped = is_stopped(w);
                let remembered = known.cloned().unwrap_or(HaltedWorkload {
                    workload: name,
                    replicas: None,
                    suspended: Some(stopped),
                });
                if !stopped {
                    out.steps.push(Step::Stop {
                        name: w.name.clone(),
                        stop: true,
                    });
                }
                out.recorded.push(remembered);
            }
            (WorkloadKind::InferenceService, false) => {
                if let Some(stopped) = known.and_then(|k| k.suspended)
                    && is_stopped(w) != stopped
                {
                    out.steps.push(Step::Stop {
                        name: w.name.clone(),
                        stop: stopped,
                    });
                }
            }
            (WorkloadKind::CronJob | WorkloadKind::Job | WorkloadKind::DaemonSet, true) => {
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
            (WorkloadKind::Pod, true) => out.steps.push(Step::Delete {
                name: w.name.clone(),
            }),
            (
                WorkloadKind::Deployment
                | WorkloadKind::StatefulSet
                | WorkloadKind::ReplicaSet
                | WorkloadKind::ReplicationController,
                false,
            ) => {
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
            (WorkloadKind::CronJob | WorkloadKind::Job | WorkloadKind::DaemonSet, false) => {
                if let Some(suspended) = known.and_then(|k| k.suspended)
                    && w.suspended.unwrap_or(false) != suspended
                {
                    out.steps.push(stop_step(w, suspended));
                }
            }
            _ => {}
        }
    }
    out
}

/// The step that stops (or starts) a CronJob, a Job or a DaemonSet.
fn stop_step(w: &WorkloadFacts, stop: bool) -> Step {
    let name = w.name.clone();
    match w.kind {
        WorkloadKind::DaemonSet => Step::Park { name, park: stop },
        kind => Step::Suspend {
            kind,
            name,
            suspend: stop,
        },
    }
}

fn is_stopped(w: &WorkloadFacts) -> bool {
    w.annotations.get(KSERVE_STOP).is_some_and(|v| v == "true")
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
    let stop = KSERVE_STOP;
    let back = match new.kind {
        WorkloadKind::Deployment
        | WorkloadKind::StatefulSet
        | WorkloadKind::ReplicaSet
        | WorkloadKind::ReplicationController => {
            old.replicas == Some(0) && new.replicas.is_some() && new.replicas == recorded.replicas
        }
        WorkloadKind::CronJob | WorkloadKind::Job | WorkloadKind::DaemonSet => {
            old.suspended == Some(true)
                && new.suspended.unwrap_or(false) == recorded.suspended.unwrap_or(false)
        }
        WorkloadKind::InferenceService => {
            is_true(old, stop) && is_true(new, stop) == recorded.suspended.unwrap_or(false)
        }
        WorkloadKind::Pod => false,
    };
    back && decisive(old) == decisive(new)
}

/// The facts with what only stops a workload blanked out, and only the annotations a decision
/// reads kept.
pub fn decisive(w: &WorkloadFacts) -> WorkloadFacts {
    let mut w = w.clone();
    w.replicas = None;
    w.suspended = None;
    w.annotations
        .retain(|k, _| k.starts_with("aims.dev/") && k != KSERVE_STOP);
    w
}

fn is_true(w: &WorkloadFacts, annotation: &str) -> bool {
    w.annotations.get(annotation).is_some_and(|v| v == "true")
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

    fn isvc(name: &str, stop: Option<&str>) -> WorkloadFacts {
        let annotations = stop.map_or_else(|| json!({}), |v| json!({KSERVE_STOP: v}));
        WorkloadFacts::from_json(
            WorkloadKind::InferenceService,
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
