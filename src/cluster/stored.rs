//! What the reflector stores keep of each object, and how the watches read it. A workload is kept
//! as its facts ([`Workload`]): read from the API server's JSON with only the fields they come from
//! ([`ReadFields`]), so its status, managed fields, the rest of its pod template and kubectl's copy
//! of the whole object in `last-applied-configuration` are skipped while reading, never built.
//! Workloads are most of the operator's memory and of its watch traffic, and every decision about
//! them reads their facts. Namespaces keep their metadata. aims objects are kept whole: their
//! status is the previous status the next one is computed from. Tests check that a workload's
//! stored facts are those of the whole object.
//!
//! [`ReadFields`]: crate::engine::workload::fields::ReadFields

use std::{borrow::Cow, marker::PhantomData, sync::Arc};

use k8s_openapi::{api::core::v1::Namespace, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use serde::{Deserialize, Deserializer};

use super::{stores::Guarded, watch::Watched};
use crate::engine::workload::{WorkloadFacts, WorkloadKind, WorkloadObject, fields::LAST_APPLIED};

/// A kind the stores keep: what of each object is dropped before it is stored.
pub trait Stored: Watched {
    /// Drops what no decision reads.
    fn trim(&mut self) {}
}

/// aims objects are kept whole but for their managed fields.
impl<K> Stored for Guarded<K>
where
    Guarded<K>: Watched,
{
    fn trim(&mut self) {
        kube::Resource::meta_mut(self).managed_fields = None;
    }
}

/// Namespaces keep their metadata (their labels decide the unregistered-workload policy).
impl Stored for Namespace {
    fn trim(&mut self) {
        self.spec = None;
        self.status = None;
        self.metadata.managed_fields = None;
        if let Some(annotations) = &mut self.metadata.annotations {
            annotations.remove(LAST_APPLIED);
        }
    }
}

/// A workload as the stores keep it: its name, namespace and resourceVersion (what its watch and
/// its store read), its uid (what a report it owns names), and its facts.
pub struct Workload<K> {
    metadata: ObjectMeta,
    /// What the engine knows of it, shared with every evaluation that reads it (none copies it).
    pub facts: Arc<WorkloadFacts>,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Workload<K> {
    fn clone(&self) -> Self {
        Self {
            metadata: self.metadata.clone(),
            facts: self.facts.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for Workload<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload")
            .field("metadata", &self.metadata)
            .field("facts", &self.facts)
            .finish()
    }
}

impl<K: WorkloadObject + kube::Resource> Workload<K> {
    /// What the stores keep of `object`.
    pub fn new(object: &K) -> Self {
        let mut facts = object.facts();
        if facts.controlled && facts.kind == WorkloadKind::Pod {
            // A Pod a governed kind controls is never a workload of its own (its owner is): only
            // that it is owned is kept, and its labels.
            facts.pod_labels = Default::default();
            facts.annotations = Default::default();
            facts.containers = Vec::new();
            facts.model_uris = Vec::new();
        }
        // Kept for the object's life: no spare capacity from the vectors' growth while reading.
        facts.containers.shrink_to_fit();
        for c in &mut facts.containers {
            c.args_and_env.shrink_to_fit();
        }
        facts.model_uris.shrink_to_fit();
        let meta = object.meta();
        Self {
            metadata: ObjectMeta {
                name: meta.name.clone(),
                namespace: meta.namespace.clone(),
                resource_version: meta.resource_version.clone(),
                uid: meta.uid.clone(),
                ..ObjectMeta::default()
            },
            facts: Arc::new(facts),
            kind: PhantomData,
        }
    }
}

/// Read for the fields facts come from only: the rest is skipped, never built.
impl<'de, K: WorkloadObject + kube::Resource> Deserialize<'de> for Workload<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let object = K::from_fields(K::Fields::deserialize(d)?);
        Ok(Self::new(&object))
    }
}

/// The API's `K`: a watch of `Workload<K>` is a watch of `K`.
impl<K: kube::Resource> kube::Resource for Workload<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }

    fn api_version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::api_version(dt)
    }

    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A workload is read as it is kept.
impl<K> Stored for Workload<K> where
    K: WorkloadObject + kube::Resource<DynamicType = ()> + Send + Sync + 'static
{
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use k8s_openapi::api::{
        apps::v1::{DaemonSet, Deployment, StatefulSet},
        batch::v1::{CronJob, Job},
        core::v1::Pod,
    };

    use super::*;

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

    /// The facts of `object` read whole, and the workload its watch stores.
    fn both<K: WorkloadObject + kube::Resource + serde::de::DeserializeOwned>(
        object: &Value,
    ) -> (WorkloadFacts, Workload<K>) {
        let whole: K = serde_json::from_value(object.clone()).unwrap();
        let stored = serde_json::from_value(object.clone()).unwrap();
        (whole.facts(), stored)
    }

    /// The facts of `object` read whole, and those its watch stores.
    fn facts<K: WorkloadObject + kube::Resource + serde::de::DeserializeOwned>(
        object: &Value,
    ) -> (WorkloadFacts, WorkloadFacts) {
        let (whole, stored) = both::<K>(object);
        (whole, Arc::unwrap_or_clone(stored.facts))
    }

    #[test]
    fn a_stored_workload_has_the_facts_of_the_whole_object() {
        let pairs = [
            facts::<Deployment>(&json!({
                "metadata": meta(),
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "scorer"}}, "template": template()},
                "status": {"replicas": 3}
            })),
            facts::<StatefulSet>(&json!({
                "metadata": meta(),
                "spec": {"replicas": 2, "serviceName": "scorer", "selector": {"matchLabels": {"app": "scorer"}},
                         "template": template(),
                         "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}
            })),
            facts::<DaemonSet>(&json!({
                "metadata": meta(),
                "spec": {"selector": {"matchLabels": {"app": "scorer"}}, "template": template()}
            })),
            facts::<Job>(&json!({"metadata": meta(), "spec": {"template": template()}})),
            facts::<CronJob>(&json!({
                "metadata": meta(),
                "spec": {"schedule": "0 * * * *", "suspend": true, "jobTemplate": {"spec": {"template": template()}}}
            })),
            {
                let mut pod = template();
                pod["metadata"] = meta();
                facts::<Pod>(&pod)
            },
        ];
        for (full, kept) in pairs {
            let mut full = full;
            full.annotations.remove(LAST_APPLIED);
            assert_eq!(full, kept, "{}", full.display_name());
            assert!(!kept.containers.is_empty() && !kept.model_uris.is_empty());
            // Kept for the object's life: no spare capacity left from reading.
            assert_eq!(kept.containers.capacity(), kept.containers.len());
            assert_eq!(kept.model_uris.capacity(), kept.model_uris.len());
            for c in &kept.containers {
                assert_eq!(
                    c.args_and_env.capacity(),
                    c.args_and_env.len(),
                    "{}",
                    c.name
                );
            }
        }
    }

    #[test]
    fn a_stored_workload_keeps_what_identifies_it() {
        let mut metadata = meta();
        metadata["uid"] = json!("6f1c1f8e-8d5b-4f57-9f0e-3a1c2b7d9e10");
        metadata["resourceVersion"] = json!("4711");
        metadata["generation"] = json!(2);
        metadata["managedFields"] = json!([{"manager": "kubectl", "operation": "Apply",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
        let (_, w) = both::<Deployment>(&json!({
            "metadata": metadata,
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "scorer"}}, "template": template()},
            "status": {"replicas": 3}
        }));
        // What the watch and the store read: name, namespace, resourceVersion.
        let meta = kube::Resource::meta(&w);
        assert_eq!(meta.name.as_deref(), Some("scorer"));
        assert_eq!(meta.namespace.as_deref(), Some("credit"));
        assert_eq!(meta.resource_version.as_deref(), Some("4711"));
        assert!(meta.labels.is_none() && meta.managed_fields.is_none());
        assert_eq!(
            kube::runtime::reflector::ObjectRef::from_obj(&w),
            kube::runtime::reflector::ObjectRef::new("scorer").within("credit")
        );
        assert_eq!(w.facts.replicas, Some(3));
        assert!(!w.facts.annotations.contains_key(LAST_APPLIED));
        assert_eq!(w.facts.annotations.len(), 2);
    }

    #[test]
    fn a_pod_a_controller_owns_keeps_only_that_it_is_owned() {
        let mut pod = template();
        pod["metadata"] = meta();
        pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "scorer-1", "uid": "u", "controller": true}]);
        let (_, p) = both::<Pod>(&pod);
        assert!(p.facts.controlled);
        assert!(p.facts.containers.is_empty() && p.facts.annotations.is_empty());
        assert_eq!(p.facts.labels["aims.dev/system"], "scoring");
    }

    #[test]
    fn a_namespace_keeps_its_metadata() {
        let mut ns: Namespace = serde_json::from_value(json!({
            "metadata": {"name": "credit", "resourceVersion": "9", "labels": {"team": "risk"},
                         "annotations": {LAST_APPLIED: "{}", "owner": "risk"},
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}))
        .unwrap();
        ns.trim();
        assert_eq!(ns.metadata.resource_version.as_deref(), Some("9"));
        assert_eq!(ns.metadata.labels.as_ref().unwrap()["team"], "risk");
        assert_eq!(
            ns.metadata
                .annotations
                .as_ref()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["owner"]
        );
        assert!(ns.spec.is_none() && ns.status.is_none() && ns.metadata.managed_fields.is_none());
    }

    #[test]
    fn workload_watch_events_read_as_stored() {
        let mut object = template();
        object["metadata"] = meta();
        object["metadata"]["resourceVersion"] = json!("9");
        let line = format!(r#"{{"type":"MODIFIED","object":{object}}}"#);
        let event: kube::core::WatchEvent<Workload<Pod>> = serde_json::from_str(&line).unwrap();
        let kube::core::WatchEvent::Modified(pod) = event else {
            panic!("{line}")
        };
        assert_eq!(
            kube::ResourceExt::resource_version(&pod).as_deref(),
            Some("9")
        );
        assert_eq!(pod.facts.name, "scorer");
        let bookmark = json!({"type": "BOOKMARK", "object": {"kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": "12", "annotations": {"k8s.io/initial-events-end": "true"}}}})
        .to_string();
        let event: kube::core::WatchEvent<Workload<Deployment>> =
            serde_json::from_str(&bookmark).unwrap();
        assert!(
            matches!(event, kube::core::WatchEvent::Bookmark(b) if b.metadata.resource_version == "12")
        );
    }
}
