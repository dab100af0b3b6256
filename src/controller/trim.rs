//! What the reflector stores keep of each object: only what a decision reads. Workloads are most
//! of the operator's memory, so their status, the parts of their pod templates that no workload
//! fact comes from, and kubectl's copy of the whole object in `last-applied-configuration` are
//! dropped before they are stored. A test checks that trimming changes no workload's facts.

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment, StatefulSet},
        batch::v1::{CronJob, Job},
        core::v1::{
            Container, EnvVar, Namespace, Pod, PodSpec, PodTemplateSpec, ResourceRequirements,
        },
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};

use super::context::Guarded;

/// kubectl's copy of the object as last applied: as large as the object, and read by nothing here.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops the parts of an object no decision reads, before it is stored. aims objects keep
/// everything: their status is the previous status the next one is computed from.
pub trait Trim {
    /// Drops the unneeded parts.
    fn trim(&mut self) {}
}

impl<K> Trim for Guarded<K> {}

impl Trim for Namespace {
    fn trim(&mut self) {
        self.status = None;
        self.spec = None;
        trim_meta(&mut self.metadata);
    }
}

impl Trim for Deployment {
    fn trim(&mut self) {
        self.status = None;
        trim_meta(&mut self.metadata);
        if let Some(spec) = &mut self.spec {
            trim_template(&mut spec.template);
        }
    }
}

impl Trim for StatefulSet {
    fn trim(&mut self) {
        self.status = None;
        trim_meta(&mut self.metadata);
        if let Some(spec) = &mut self.spec {
            trim_template(&mut spec.template);
            spec.volume_claim_templates = None;
        }
    }
}

impl Trim for DaemonSet {
    fn trim(&mut self) {
        self.status = None;
        trim_meta(&mut self.metadata);
        if let Some(spec) = &mut self.spec {
            trim_template(&mut spec.template);
        }
    }
}

impl Trim for Job {
    fn trim(&mut self) {
        self.status = None;
        trim_meta(&mut self.metadata);
        if let Some(spec) = &mut self.spec {
            trim_template(&mut spec.template);
        }
    }
}

impl Trim for CronJob {
    fn trim(&mut self) {
        self.status = None;
        trim_meta(&mut self.metadata);
        if let Some(template) = self
            .spec
            .as_mut()
            .and_then(|s| s.job_template.spec.as_mut())
        {
            trim_template(&mut template.template);
        }
    }
}

/// A Pod a controller owns is never a workload of its own (its owner is), so only the metadata
/// that says so is kept; a bare Pod keeps what its facts come from.
impl Trim for Pod {
    fn trim(&mut self) {
        self.status = None;
        let controlled = self
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.controller == Some(true));
        if controlled {
            self.spec = None;
            self.metadata.annotations = None;
        } else {
            trim_meta(&mut self.metadata);
            if let Some(spec) = &mut self.spec {
                trim_pod_spec(spec);
            }
        }
    }
}

fn trim_meta(meta: &mut ObjectMeta) {
    if let Some(annotations) = &mut meta.annotations {
        annotations.remove(LAST_APPLIED);
    }
}

/// Keeps the template's labels and what [`trim_pod_spec`] keeps.
fn trim_template(template: &mut PodTemplateSpec) {
    if let Some(meta) = &mut template.metadata {
        *meta = ObjectMeta {
            labels: meta.labels.take(),
            ..ObjectMeta::default()
        };
    }
    if let Some(spec) = &mut template.spec {
        trim_pod_spec(spec);
    }
}

/// Keeps the containers and init containers, each with its name, image, command, arguments,
/// literal environment values and resources: what workload facts and detection read.
fn trim_pod_spec(spec: &mut PodSpec) {
    fn keep(c: Container) -> Container {
        Container {
            name: c.name,
            image: c.image,
            command: c.command,
            args: c.args,
            env: c.env.map(|env| {
                env.into_iter()
                    .filter(|e| e.value.is_some())
                    .map(|e| EnvVar {
                        name: e.name,
                        value: e.value,
                        value_from: None,
                    })
                    .collect()
            }),
            resources: c.resources.map(|r| ResourceRequirements {
                requests: r.requests,
                limits: r.limits,
                claims: None,
            }),
            ..Container::default()
        }
    }
    *spec = PodSpec {
        containers: std::mem::take(&mut spec.containers)
            .into_iter()
            .map(keep)
            .collect(),
        init_containers: spec
            .init_containers
            .take()
            .map(|cs| cs.into_iter().map(keep).collect()),
        ..PodSpec::default()
    };
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::engine::workload::WorkloadFacts;

    /// A pod template with much that no fact reads: probes, volumes, mounts, security contexts,
    /// env from Secrets, affinity, tolerations, annotations.
    fn template() -> Value {
        json!({
            "metadata": {"labels": {"app": "scorer", "aims.dev/system": "scoring"},
                         "annotations": {"prometheus.io/scrape": "true"}},
            "spec": {
                "serviceAccountName": "scorer",
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}]}}},
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "models"}}],
                "initContainers": [{"name": "fetch", "image": "r.example.com/fetch:1",
                    "args": ["--model", "hf://org/model"], "env": [{"name": "STORAGE_URI", "value": "s3://models/m"}]}],
                "containers": [{
                    "name": "server",
                    "image": "vllm/vllm-openai@sha256:1111111111111111111111111111111111111111111111111111111111111111",
                    "command": ["python", "-m", "vllm.entrypoints.openai.api_server"],
                    "args": ["--model", "/models/m"],
                    "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
                            {"name": "MODEL_ID", "value": "meta-llama/Llama-3.1-8B"}],
                    "resources": {"requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"},
                                  "limits": {"memory": "16Gi", "nvidia.com/gpu": "1"}},
                    "ports": [{"containerPort": 8000}],
                    "volumeMounts": [{"name": "models", "mountPath": "/models"}],
                    "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}},
                    "securityContext": {"runAsNonRoot": true}
                }]
            }
        })
    }

    fn meta() -> Value {
        json!({"name": "scorer", "namespace": "credit", "labels": {"aims.dev/system": "scoring"},
               "annotations": {"aims.dev/break-glass-ticket": "INC-1",
                               "serving.kserve.io/stop": "false",
                               LAST_APPLIED: "{\"a whole copy\": true}"}})
    }

    fn trimmed<K: Trim + Clone>(object: &K) -> K {
        let mut t = object.clone();
        t.trim();
        t
    }

    #[test]
    fn trimming_changes_no_workload_facts() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": meta(),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "scorer"}}, "template": template()},
            "status": {"replicas": 3}
        }))
        .unwrap();
        let s: StatefulSet = serde_json::from_value(json!({
            "metadata": meta(),
            "spec": {"replicas": 2, "serviceName": "scorer", "selector": {"matchLabels": {"app": "scorer"}},
                     "template": template(),
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}
        }))
        .unwrap();
        let ds: DaemonSet = serde_json::from_value(json!({
            "metadata": meta(),
            "spec": {"selector": {"matchLabels": {"app": "scorer"}}, "template": template()}
        }))
        .unwrap();
        let j: Job =
            serde_json::from_value(json!({"metadata": meta(), "spec": {"template": template()}}))
                .unwrap();
        let cj: CronJob = serde_json::from_value(json!({
            "metadata": meta(),
            "spec": {"schedule": "0 * * * *", "suspend": true, "jobTemplate": {"spec": {"template": template()}}}
        }))
        .unwrap();
        let mut pod = template();
        pod["metadata"] = meta();
        let p: Pod = serde_json::from_value(pod).unwrap();

        let pairs = [
            (
                WorkloadFacts::from_deployment(&d),
                WorkloadFacts::from_deployment(&trimmed(&d)),
            ),
            (
                WorkloadFacts::from_stateful_set(&s),
                WorkloadFacts::from_stateful_set(&trimmed(&s)),
            ),
            (
                WorkloadFacts::from_daemon_set(&ds),
                WorkloadFacts::from_daemon_set(&trimmed(&ds)),
            ),
            (
                WorkloadFacts::from_job(&j),
                WorkloadFacts::from_job(&trimmed(&j)),
            ),
            (
                WorkloadFacts::from_cron_job(&cj),
                WorkloadFacts::from_cron_job(&trimmed(&cj)),
            ),
            (
                WorkloadFacts::from_pod(&p),
                WorkloadFacts::from_pod(&trimmed(&p)),
            ),
        ];
        for (full, kept) in pairs {
            let mut full = full;
            full.annotations.remove(LAST_APPLIED);
            assert_eq!(full, kept, "{}", full.display_name());
            assert!(!kept.containers.is_empty() && !kept.model_uris.is_empty());
        }
    }

    #[test]
    fn trimming_drops_what_nothing_reads() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": meta(),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "scorer"}}, "template": template()},
            "status": {"replicas": 3}
        }))
        .unwrap();
        let full = serde_json::to_vec(&d).unwrap().len();
        let t = trimmed(&d);
        let kept = serde_json::to_vec(&t).unwrap().len();
        assert!(kept * 10 < full * 6, "kept {kept} of {full} bytes");
        assert!(t.status.is_none());
        assert!(
            !t.metadata
                .annotations
                .as_ref()
                .unwrap()
                .contains_key(LAST_APPLIED)
        );
        let spec = t.spec.unwrap().template.spec.unwrap();
        assert!(spec.volumes.is_none() && spec.affinity.is_none() && spec.tolerations.is_none());
        let c = &spec.containers[0];
        assert!(c.readiness_probe.is_none() && c.volume_mounts.is_none());
        assert_eq!(
            c.env.as_ref().unwrap().len(),
            1,
            "only literal values are kept"
        );
    }
}
