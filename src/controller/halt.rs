//! The stop button (EU AI Act Art. 14(4)(e)): while a system is halted its Deployments and
//! StatefulSets are scaled to zero and its CronJobs suspended; on resume exactly what was there is
//! restored. What to restore is kept in the system's status, so the operator writes only the scale
//! subresource of Deployments and StatefulSets (and `spec.suspend` of CronJobs), never their specs.

use std::borrow::Borrow;

use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::{Error, FIELD_MANAGER};
use crate::{
    api::HaltedWorkload,
    engine::workload::{WorkloadFacts, WorkloadKind},
};

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
    /// Set a CronJob's `spec.suspend`.
    Suspend {
        /// Its name.
        name: String,
        /// The value to set.
        suspend: bool,
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
            Self::Suspend { name, suspend } => write!(f, "CronJob/{name} suspend={suspend}"),
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
            (WorkloadKind::Deployment | WorkloadKind::StatefulSet, true) => {
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
            (WorkloadKind::CronJob, true) => {
                let suspended = w.suspended.unwrap_or(false);
                let remembered = known.cloned().unwrap_or(HaltedWorkload {
                    workload: name,
                    replicas: None,
                    suspended: Some(suspended),
                });
                if !suspended {
                    out.steps.push(Step::Suspend {
                        name: w.name.clone(),
                        suspend: true,
                    });
                }
                out.recorded.push(remembered);
            }
            (WorkloadKind::Deployment | WorkloadKind::StatefulSet, false) => {
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
            (WorkloadKind::CronJob, false) => {
                if let Some(suspended) = known.and_then(|k| k.suspended)
                    && w.suspended != Some(suspended)
                {
                    out.steps.push(Step::Suspend {
                        name: w.name.clone(),
                        suspend: suspended,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

pub use crate::engine::workload::KSERVE_STOP;

fn is_stopped(w: &WorkloadFacts) -> bool {
    w.annotations.get(KSERVE_STOP).is_some_and(|v| v == "true")
}

/// Carries out the steps in `namespace`.
pub async fn apply(client: &Client, namespace: &str, steps: &[Step]) -> Result<(), Error> {
    use k8s_openapi::api::{
        apps::v1::{Deployment, StatefulSet},
        batch::v1::CronJob,
    };
    let pp = PatchParams::default();
    for step in steps {
        match step {
            Step::Scale {
                kind,
                name,
                replicas,
            } => {
                let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
                if *kind == WorkloadKind::Deployment {
                    Api::<Deployment>::namespaced(client.clone(), namespace)
                        .patch_scale(name, &pp, &patch)
                        .await?;
                } else {
                    Api::<StatefulSet>::namespaced(client.clone(), namespace)
                        .patch_scale(name, &pp, &patch)
                        .await?;
                }
            }
            Step::Stop { name, stop } => {
                let value = if *stop { json!("true") } else { json!(null) };
                Api::<kube::api::DynamicObject>::namespaced_with(
                    client.clone(),
                    namespace,
                    &super::kserve::api_resource(),
                )
                .patch(
                    name,
                    &pp,
                    &Patch::Merge(json!({"metadata": {"annotations": {KSERVE_STOP: value}}})),
                )
                .await?;
            }
            Step::Suspend { name, suspend } => {
                Api::<CronJob>::namespaced(client.clone(), namespace)
                    .patch(
                        name,
                        &PatchParams::apply(FIELD_MANAGER),
                        &Patch::Merge(json!({"spec": {"suspend": suspend}})),
                    )
                    .await?;
            }
        }
    }
    Ok(())
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
                vec![
                    scale("a", 0),
                    Step::Suspend {
                        name: "c".into(),
                        suspend: true,
                    },
                ],
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
                vec![
                    scale("a", 3),
                    Step::Suspend {
                        name: "c".into(),
                        suspend: false,
                    },
                ],
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
