//! What the reflector stores keep of each object, and how the watches read it. Workloads and
//! Namespaces are read from the API server's JSON with only what a decision reads
//! ([`ReadFields`]): their status, managed fields, the parts of pod templates no workload fact
//! comes from, and kubectl's copy of the whole object in `last-applied-configuration` are skipped
//! while reading, never built. Workloads are most of the operator's memory and of its watch
//! traffic. aims objects are read whole: their status is the previous status the next one is
//! computed from. Tests check that what is kept gives every workload the same facts.

use std::borrow::Cow;

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment, StatefulSet},
        batch::v1::{CronJob, Job},
        core::v1::{Namespace, Pod},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use kube::runtime::watcher::Event;
use serde::{Deserialize, Deserializer};

use super::{Watched, context::Guarded};
use crate::engine::workload::fields::ReadFields;

/// `K` as a watch reads it: with only what [`ReadFields`] reads.
#[derive(Clone, Debug)]
pub struct Lean<K>(pub K);

impl<'de, K: ReadFields> Deserialize<'de> for Lean<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        K::Fields::deserialize(d).map(|fields| Self(K::from_fields(fields)))
    }
}

/// The API's `K`: a watch of `Lean<K>` is a watch of `K`.
impl<K: kube::Resource> kube::Resource for Lean<K> {
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
        self.0.meta()
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0.meta_mut()
    }
}

/// A kind the stores keep, and what its watch reads.
pub trait Stored: Watched {
    /// What the watch reads: the kind itself, or [`Lean`] of it.
    type Wire: Watched<DynamicType = Self::DynamicType>;

    /// What the store keeps of what was read.
    fn stored(wire: Self::Wire) -> Self;
}

/// aims objects are kept whole but for their managed fields.
impl<K> Stored for Guarded<K>
where
    Guarded<K>: Watched,
{
    type Wire = Self;

    fn stored(mut wire: Self) -> Self {
        kube::Resource::meta_mut(&mut wire).managed_fields = None;
        wire
    }
}

macro_rules! lean {
    ($($kind:ty),*) => {$(
        impl Stored for $kind {
            type Wire = Lean<Self>;

            fn stored(wire: Lean<Self>) -> Self {
                wire.0
            }
        }
    )*};
}

lean!(Namespace, Deployment, StatefulSet, DaemonSet, Job, CronJob);

/// A Pod a controller owns is never a workload of its own (its owner is), so only the metadata
/// that says so is kept; a bare Pod keeps what its facts come from.
impl Stored for Pod {
    type Wire = Lean<Self>;

    fn stored(Lean(mut pod): Lean<Self>) -> Self {
        let controlled = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.controller == Some(true));
        if controlled {
            pod.spec = None;
            pod.metadata.annotations = None;
        }
        pod
    }
}

/// A watch event of what was read, as the store keeps it.
pub fn stored<K: Stored>(event: Event<K::Wire>) -> Event<K> {
    match event {
        Event::Apply(o) => Event::Apply(K::stored(o)),
        Event::Delete(o) => Event::Delete(K::stored(o)),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(K::stored(o)),
        Event::InitDone => Event::InitDone,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::engine::workload::{WorkloadFacts, fields::LAST_APPLIED};

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

    /// `object` read whole, and read as its watch reads it for the store.
    fn both<K: Stored<Wire = Lean<K>> + ReadFields>(object: &Value) -> (K, K) {
        let whole = serde_json::from_value(object.clone()).unwrap();
        let lean = K::stored(serde_json::from_value(object.clone()).unwrap());
        (whole, lean)
    }

    #[test]
    fn what_is_kept_gives_the_same_workload_facts() {
        let (d, d2) = both::<Deployment>(&json!({
            "metadata": meta(),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "scorer"}}, "template": template()},
            "status": {"replicas": 3}
        }));
        let (s, s2) = both::<StatefulSet>(&json!({
            "metadata": meta(),
            "spec": {"replicas": 2, "serviceName": "scorer", "selector": {"matchLabels": {"app": "scorer"}},
                     "template": template(),
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}
        }));
        let (ds, ds2) = both::<DaemonSet>(&json!({
            "metadata": meta(),
            "spec": {"selector": {"matchLabels": {"app": "scorer"}}, "template": template()}
        }));
        let (j, j2) = both::<Job>(&json!({"metadata": meta(), "spec": {"template": template()}}));
        let (cj, cj2) = both::<CronJob>(&json!({
            "metadata": meta(),
            "spec": {"schedule": "0 * * * *", "suspend": true, "jobTemplate": {"spec": {"template": template()}}}
        }));
        let mut pod = template();
        pod["metadata"] = meta();
        let (p, p2) = both::<Pod>(&pod);

        let pairs = [
            (
                WorkloadFacts::from_deployment(&d),
                WorkloadFacts::from_deployment(&d2),
            ),
            (
                WorkloadFacts::from_stateful_set(&s),
                WorkloadFacts::from_stateful_set(&s2),
            ),
            (
                WorkloadFacts::from_daemon_set(&ds),
                WorkloadFacts::from_daemon_set(&ds2),
            ),
            (WorkloadFacts::from_job(&j), WorkloadFacts::from_job(&j2)),
            (
                WorkloadFacts::from_cron_job(&cj),
                WorkloadFacts::from_cron_job(&cj2),
            ),
            (WorkloadFacts::from_pod(&p), WorkloadFacts::from_pod(&p2)),
        ];
        for (full, kept) in pairs {
            let mut full = full;
            full.annotations.remove(LAST_APPLIED);
            assert_eq!(full, kept, "{}", full.display_name());
            assert!(!kept.containers.is_empty() && !kept.model_uris.is_empty());
        }
    }

    #[test]
    fn what_nothing_reads_is_not_kept() {
        let mut metadata = meta();
        metadata["uid"] = json!("6f1c1f8e-8d5b-4f57-9f0e-3a1c2b7d9e10");
        metadata["resourceVersion"] = json!("4711");
        metadata["generation"] = json!(2);
        metadata["managedFields"] = json!([{"manager": "kubectl", "operation": "Apply",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
        let (d, t) = both::<Deployment>(&json!({
            "metadata": metadata,
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "scorer"}}, "template": template()},
            "status": {"replicas": 3}
        }));
        let full = serde_json::to_vec(&d).unwrap().len();
        let kept = serde_json::to_vec(&t).unwrap().len();
        assert!(kept * 10 < full * 6, "kept {kept} of {full} bytes");
        // What identifies the object to its watch and store stays.
        assert_eq!(t.metadata.name, d.metadata.name);
        assert_eq!(t.metadata.namespace, d.metadata.namespace);
        assert_eq!(t.metadata.uid, d.metadata.uid);
        assert_eq!(t.metadata.resource_version.as_deref(), Some("4711"));
        assert_eq!(t.metadata.generation, Some(2));
        assert_eq!(t.metadata.labels, d.metadata.labels);
        assert!(t.status.is_none() && t.metadata.managed_fields.is_none());
        let annotations = t.metadata.annotations.as_ref().unwrap();
        assert!(!annotations.contains_key(LAST_APPLIED));
        assert_eq!(annotations.len(), 2);
        let spec = t.spec.unwrap();
        assert_eq!(spec.replicas, Some(3));
        let template = spec.template;
        assert!(template.metadata.unwrap().annotations.is_none());
        let spec = template.spec.unwrap();
        assert!(spec.volumes.is_none() && spec.affinity.is_none() && spec.tolerations.is_none());
        let c = &spec.containers[0];
        assert!(c.readiness_probe.is_none() && c.volume_mounts.is_none());
        assert_eq!(
            c.env.as_ref().unwrap().len(),
            1,
            "only literal values are kept"
        );
    }

    #[test]
    fn a_pod_a_controller_owns_keeps_its_metadata_only() {
        let mut pod = template();
        pod["metadata"] = meta();
        pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "scorer-1", "uid": "u", "controller": true}]);
        let (_, p) = both::<Pod>(&pod);
        assert!(p.spec.is_none() && p.metadata.annotations.is_none());
        assert_eq!(p.metadata.labels.unwrap()["aims.dev/system"], "scoring");
        assert!(
            WorkloadFacts::from_pod(&Pod::default())
                .containers
                .is_empty()
        );
    }

    #[test]
    fn watch_events_read_lean() {
        let line = json!({"type": "ADDED", "object": {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "credit", "resourceVersion": "9", "labels": {"team": "risk"},
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}})
        .to_string();
        let event: kube::core::WatchEvent<Lean<Namespace>> = serde_json::from_str(&line).unwrap();
        let kube::core::WatchEvent::Added(Lean(ns)) = event else {
            panic!("{line}")
        };
        assert_eq!(
            kube::ResourceExt::resource_version(&ns).as_deref(),
            Some("9")
        );
        assert_eq!(ns.metadata.labels.unwrap()["team"], "risk");
        assert!(ns.spec.is_none() && ns.status.is_none() && ns.metadata.managed_fields.is_none());
        let bookmark = json!({"type": "BOOKMARK", "object": {"kind": "Namespace", "apiVersion": "v1",
            "metadata": {"resourceVersion": "12", "annotations": {"k8s.io/initial-events-end": "true"}}}})
        .to_string();
        let event: kube::core::WatchEvent<Lean<Namespace>> =
            serde_json::from_str(&bookmark).unwrap();
        assert!(
            matches!(event, kube::core::WatchEvent::Bookmark(b) if b.metadata.resource_version == "12")
        );
    }
}
