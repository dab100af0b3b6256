//! The fields workload facts come from, read from JSON text with everything else skipped: for
//! objects the API server has already validated against their schema, as the webhook gets them.
//!
//! A Deployment as the API server sends it carries its managed fields, defaults and status; read
//! into `k8s_openapi`'s types it costs about six times what these fields alone do, half of it in
//! `metadata.managedFields`. What is read is moved into the `k8s_openapi` types (the rest left
//! empty) and its facts taken by the same functions that read the stores' objects, so both ways
//! of reading agree by construction; a test compares them on every kind.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        apps::v1::{
            DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, ReplicaSet, ReplicaSetSpec,
            StatefulSet, StatefulSetSpec,
        },
        batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec},
        core::v1::{
            Container, EnvVar, EphemeralContainer, Pod, PodResourceClaim, PodSpec, PodTemplateSpec,
            ReplicationController, ReplicationControllerSpec, ResourceClaim, ResourceRequirements,
        },
    },
    apimachinery::pkg::{
        api::resource::Quantity,
        apis::meta::v1::{ObjectMeta, OwnerReference},
    },
};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};

use super::{FactsError, WorkloadFacts, WorkloadKind};

/// kubectl's copy of the object as last applied: as large as the object, and read by nothing here.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A kind read from JSON with only what workload facts, and the stores that hold the kind, need:
/// the rest of the object is skipped without being built.
pub trait ReadFields: Sized {
    /// What is read of the object.
    type Fields: DeserializeOwned;
    /// The object with what was read, the rest left empty.
    fn from_fields(fields: Self::Fields) -> Self;
}

/// `metadata`: what identifies the object, names its system and says whether a controller owns
/// it. Managed fields and kubectl's last-applied copy are skipped.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    uid: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(deserialize_with = "annotations")]
    annotations: Option<BTreeMap<String, String>>,
    owner_references: Option<Vec<OwnerReference>>,
}

impl From<Meta> for ObjectMeta {
    fn from(m: Meta) -> Self {
        Self {
            name: m.name,
            namespace: m.namespace,
            resource_version: m.resource_version,
            uid: m.uid,
            labels: m.labels,
            annotations: m.annotations,
            owner_references: m.owner_references,
            ..Self::default()
        }
    }
}

/// Annotations without [`LAST_APPLIED`], whose value is skipped unread.
fn annotations<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    Ok(Option::<Annotations>::deserialize(d)?.map(|a| a.0))
}

struct Annotations(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Annotations {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Annotations;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of strings")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Annotations, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == LAST_APPLIED {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    } else {
                        out.insert(key, map.next_value()?);
                    }
                }
                Ok(Annotations(out))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// An environment variable with a literal value; those set from a Secret or a field carry no
/// text a fact could read, and are skipped.
#[derive(Deserialize)]
struct EnvFields {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

/// A container's resource requests, limits and dynamic resource claims.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ResourceFields {
    limits: Option<BTreeMap<String, Quantity>>,
    requests: Option<BTreeMap<String, Quantity>>,
    claims: Option<Vec<ClaimFields>>,
}

/// The name of a Pod's resource claim that a container uses.
#[derive(Deserialize)]
struct ClaimFields {
    name: String,
}

/// A Pod's resource claim: its name and where the claim comes from.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodClaimFields {
    name: String,
    #[serde(default)]
    resource_claim_name: Option<String>,
    #[serde(default)]
    resource_claim_template_name: Option<String>,
}

impl From<PodClaimFields> for PodResourceClaim {
    fn from(c: PodClaimFields) -> Self {
        Self {
            name: c.name,
            resource_claim_name: c.resource_claim_name,
            resource_claim_template_name: c.resource_claim_template_name,
        }
    }
}

/// A container: its name, image, command line, literal environment and resources.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerFields {
    name: String,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    command: Option<Vec<String>>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<EnvFields>>,
    #[serde(default)]
    resources: Option<ResourceFields>,
}

impl From<ContainerFields> for Container {
    fn from(c: ContainerFields) -> Self {
        Self {
            name: c.name,
            image: c.image,
            command: c.command,
            args: c.args,
            env: c.env.map(|env| {
                env.into_iter()
                    .filter_map(|e| {
                        Some(EnvVar {
                            name: e.name,
                            value: Some(e.value?),
                            value_from: None,
                        })
                    })
                    .collect()
            }),
            resources: c.resources.map(|r| ResourceRequirements {
                limits: r.limits,
                requests: r.requests,
                claims: r.claims.map(|claims| {
                    claims
                        .into_iter()
                        .map(|c| ResourceClaim {
                            name: c.name,
                            request: None,
                        })
                        .collect()
                }),
            }),
            ..Self::default()
        }
    }
}

impl From<ContainerFields> for EphemeralContainer {
    fn from(c: ContainerFields) -> Self {
        let c = Container::from(c);
        Self {
            name: c.name,
            image: c.image,
            command: c.command,
            args: c.args,
            env: c.env,
            resources: c.resources,
            ..Self::default()
        }
    }
}

fn containers<C: From<ContainerFields>>(list: Option<Vec<ContainerFields>>) -> Option<Vec<C>> {
    list.map(|l| l.into_iter().map(C::from).collect())
}

/// A pod spec's containers, init containers, ephemeral containers and resource claims.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpecFields {
    containers: Option<Vec<ContainerFields>>,
    init_containers: Option<Vec<ContainerFields>>,
    node_selector: Option<BTreeMap<String, String>>,
    ephemeral_containers: Option<Vec<ContainerFields>>,
    resource_claims: Option<Vec<PodClaimFields>>,
}

impl From<PodSpecFields> for PodSpec {
    fn from(s: PodSpecFields) -> Self {
        Self {
            containers: containers(s.containers).unwrap_or_default(),
            init_containers: containers(s.init_containers),
            node_selector: s.node_selector,
            ephemeral_containers: containers(s.ephemeral_containers),
            resource_claims: s
                .resource_claims
                .map(|l| l.into_iter().map(PodResourceClaim::from).collect()),
            ..Self::default()
        }
    }
}

/// A pod template's labels and spec.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Template {
    metadata: Option<TemplateMeta>,
    spec: Option<PodSpecFields>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TemplateMeta {
    labels: Option<BTreeMap<String, String>>,
}

impl From<Template> for PodTemplateSpec {
    fn from(t: Template) -> Self {
        Self {
            metadata: t.metadata.map(|m| ObjectMeta {
                labels: m.labels,
                ..ObjectMeta::default()
            }),
            spec: t.spec.map(PodSpec::from),
        }
    }
}

/// A Deployment's, StatefulSet's, DaemonSet's, ReplicaSet's, ReplicationController's or Job's
/// spec: replicas (where the kind has them) and the pod template.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TemplatedSpec {
    replicas: Option<i32>,
    suspend: Option<bool>,
    template: Template,
}

/// A CronJob's spec: whether it is suspended, and its jobs' pod template.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct CronJobFields {
    suspend: Option<bool>,
    job_template: JobTemplate,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct JobTemplate {
    spec: Option<TemplatedSpec>,
}

/// The fields read of an object: its metadata and its spec.
#[derive(Deserialize)]
pub struct ObjectFields<S> {
    #[serde(default)]
    metadata: Meta,
    spec: Option<S>,
}

impl ReadFields for Deployment {
    type Fields = ObjectFields<TemplatedSpec>;

    fn from_fields(o: Self::Fields) -> Self {
        Self {
            metadata: o.metadata.into(),
            spec: o.spec.map(|s| DeploymentSpec {
                replicas: s.replicas,
                template: s.template.into(),
                ..DeploymentSpec::default()
            }),
            status: None,
        }
    }
}

impl ReadFields for StatefulSet {
    type Fields = ObjectFields<TemplatedSpec>;

    fn from_fields(o: Self::Fields) -> Self {
        Self {
            metadata: o.metadata.into(),
            spec: o.spec.map(|s| StatefulSetSpec {
                replicas: s.replicas,
                template: s.template.into(),
                ..StatefulSetSpec::default()
            }),
            status: None,
        }
    }
}

impl ReadFields for DaemonSet {
    type Fields = ObjectFields<TemplatedSpec>;

    fn from_fields(o: Self::Fields) -> Self {
        Self {
            metadata: o.metadata.into(),
            spec: o.spec.map(|s| DaemonSetSpec {
                template: s.template.into(),
                ..DaemonSetSpec::default()
            }),
            status: None,
        }
    }
}

impl ReadFields for ReplicaSet {
    type Fields = ObjectFields<TemplatedSpec>;

    fn from_fields(o: Self::Fields) -> Self {
        Self {
            metadata: o.metadata.into(),
            spec: o.spec.map(|s| ReplicaSetSpec {
                replicas: s.replicas,
                template: Some(s.template.into()),
                ..ReplicaSetSpec::default()
            }),
            status: None,
        }
    }
}

impl ReadFields for ReplicationController {
    type Fields = ObjectFields<TemplatedSpec>;

    fn from_fields(o: Self::Fields) -> Self {
        Self {
            metadata: o.metadata.into(),
            spec: o.spec.map(|s| ReplicationControllerSpec {
                replicas: s.replicas,
                template: Some(s.template.into()),
                ..ReplicationControllerSpec::default()
            }),
            status: None,
        }
    }
}

impl ReadFields for Job {
    type Fields = ObjectFields<TemplatedSpec>;

    fn from_fields(o: Self::Fields) -> Self {
        Self {
            metadata: o.metadata.into(),
            spec: o.spec.map(|s| JobSpec {
                suspend: s.suspend,
                template: s.template.into(),
                ..JobSpec::default()
            }),
            status: None,
        }
    }
}

impl ReadFields for CronJob {
    type Fields = ObjectFields<CronJobFields>;

    fn from_fields(o: Self::Fields) -> Self {
        Self {
            metadata: o.metadata.into(),
            spec: o.spec.map(|s| CronJobSpec {
                suspend: s.suspend,
                job_template: JobTemplateSpec {
                    metadata: None,
                    spec: s.job_template.spec.map(|s| JobSpec {
                        template: s.template.into(),
                        ..JobSpec::default()
                    }),
                },
                ..CronJobSpec::default()
            }),
            status: None,
        }
    }
}

impl ReadFields for Pod {
    type Fields = ObjectFields<PodSpecFields>;

    fn from_fields(o: Self::Fields) -> Self {
        Self {
            metadata: o.metadata.into(),
            spec: o.spec.map(PodSpec::from),
            status: None,
        }
    }
}

/// Reads `text` as `K`'s fields. Where it does not read, it is read again, tracking the path this
/// time (which costs as much again), to say where.
fn parse<K: ReadFields>(kind: WorkloadKind, text: &str) -> Result<K, FactsError> {
    parse_as::<K::Fields>(kind, text).map(K::from_fields)
}

fn parse_as<T: DeserializeOwned>(kind: WorkloadKind, text: &str) -> Result<T, FactsError> {
    serde_json::from_str(text).map_err(|error| {
        let mut json = serde_json::Deserializer::from_str(text);
        let (path, message) = match serde_path_to_error::deserialize::<_, T>(&mut json) {
            Err(e) => (e.path().to_string(), e.inner().to_string()),
            Ok(_) => (".".to_owned(), error.to_string()),
        };
        FactsError::Shape {
            kind,
            path,
            message,
        }
    })
}

impl WorkloadFacts {
    /// Reads the facts of a governed object from JSON text the API server has validated against
    /// the kind's schema (an AdmissionReview's object), reading only the fields facts come from.
    /// The same facts as [`WorkloadFacts::from_json`], which checks every field of the object.
    pub fn from_validated_json(kind: WorkloadKind, text: &str) -> Result<Self, FactsError> {
        Ok(match kind {
            WorkloadKind::Deployment => Self::from_deployment(&parse(kind, text)?),
            WorkloadKind::StatefulSet => Self::from_stateful_set(&parse(kind, text)?),
            WorkloadKind::DaemonSet => Self::from_daemon_set(&parse(kind, text)?),
            WorkloadKind::ReplicaSet => Self::from_replica_set(&parse(kind, text)?),
            WorkloadKind::ReplicationController => {
                Self::from_replication_controller(&parse(kind, text)?)
            }
            WorkloadKind::Job => Self::from_job(&parse(kind, text)?),
            WorkloadKind::CronJob => Self::from_cron_job(&parse(kind, text)?),
            WorkloadKind::Pod => Self::from_pod(&parse(kind, text)?),
            WorkloadKind::Custom(spec) => {
                Self::from_custom(spec, &parse_as::<serde_json::Value>(kind, text)?)?
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// A pod spec with everything a facts reader must find and plenty it must skip.
    fn pod_spec() -> Value {
        json!({
            "initContainers": [{
                "name": "fetch", "image": "registry.example.com/tools/fetch:2",
                "command": ["fetch"], "args": ["s3://models/credit/v3"],
                "env": [{"name": "STORAGE_URI", "value": "s3://models/credit/v3"}],
                "terminationMessagePath": "/dev/termination-log"
            }],
            "containers": [{
                "name": "server",
                "image": format!("registry.example.com/credit/model@sha256:{}", "a".repeat(64)),
                "args": ["--model-dir=/models"],
                "env": [
                    {"name": "MODEL", "value": "hf://org/model"},
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "k"}}}
                ],
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {
                    "requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
                    "limits": {"memory": "2Gi", "nvidia.com/gpu": 1}
                },
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                "securityContext": {"runAsNonRoot": true},
                "imagePullPolicy": "IfNotPresent"
            }, {"name": "sidecar", "image": "envoy:1.31"}],
            "volumes": [{"name": "models", "emptyDir": {}}],
            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
            "securityContext": {}, "terminationGracePeriodSeconds": 30
        })
    }

    /// Metadata as the API server sends it: managed fields, uid, owner.
    fn metadata(name: &str, owned: bool) -> Value {
        let mut meta = json!({
            "name": name, "namespace": "credit", "uid": "6f1c1f8e-8d5b-4f57-9f0e-3a1c2b7d9e10",
            "generation": 1, "creationTimestamp": "2026-11-24T10:00:00Z",
            "labels": {"aims.dev/system": "credit-scoring", "app": name},
            "annotations": {"aims.dev/break-glass": "INC-1: outage", "note": "x"},
            "managedFields": [{
                "manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1",
                "time": "2026-11-24T10:00:00Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
            }]
        });
        if owned {
            meta["ownerReferences"] = json!([{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "owner",
                "uid": "00000000-0000-0000-0000-000000000001", "controller": true
            }]);
        }
        meta
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "m", "aims.dev/system": "credit-scoring"}}, "spec": pod_spec()})
    }

    fn objects() -> Vec<(WorkloadKind, Value)> {
        let status =
            json!({"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]});
        vec![
            (
                WorkloadKind::Deployment,
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata("d", false),
                    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "m"}}, "template": template(),
                        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}},
                    "status": status}),
            ),
            (
                WorkloadKind::Deployment,
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bare"}}),
            ),
            (
                WorkloadKind::Deployment,
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata("zero", false),
                    "spec": {"replicas": 0, "selector": {}, "template": {"spec": {"containers": []}}}}),
            ),
            (
                WorkloadKind::StatefulSet,
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": metadata("s", false),
                    "spec": {"serviceName": "s", "selector": {}, "template": template(),
                        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]},
                    "status": status}),
            ),
            (
                WorkloadKind::DaemonSet,
                json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": metadata("ds", false),
                    "spec": {"selector": {}, "template": template()}}),
            ),
            (
                WorkloadKind::Job,
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata("j", true),
                    "spec": {"backoffLimit": 2, "template": template()}}),
            ),
            (
                WorkloadKind::CronJob,
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata("c", false),
                    "spec": {"schedule": "0 * * * *", "suspend": true,
                        "jobTemplate": {"metadata": {"labels": {"x": "y"}}, "spec": {"template": template()}}}}),
            ),
            (
                WorkloadKind::CronJob,
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": metadata("c2", false),
                    "spec": {"schedule": "0 * * * *", "jobTemplate": {}}}),
            ),
            (
                WorkloadKind::Pod,
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata("p", false), "spec": pod_spec(),
                    "status": {"phase": "Pending"}}),
            ),
            (
                WorkloadKind::Pod,
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata("owned", true), "spec": pod_spec()}),
            ),
            (
                WorkloadKind::ReplicaSet,
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": metadata("rs", false),
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "m"}}, "template": template()},
                    "status": {"replicas": 2}}),
            ),
            (
                WorkloadKind::ReplicationController,
                json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": metadata("rc", false),
                    "spec": {"replicas": 1, "selector": {"app": "m"}, "template": template()}}),
            ),
            (
                WorkloadKind::ReplicationController,
                json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": metadata("rc2", false),
                    "spec": {}}),
            ),
            (
                WorkloadKind::Pod,
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata("debugged", false),
                "spec": {
                    "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "single-gpu"}],
                    "containers": [{"name": "app", "image": "r.io/app:1",
                        "resources": {"claims": [{"name": "gpu", "request": "g"}]}}],
                    "ephemeralContainers": [{"name": "debugger", "image": "vllm/vllm-openai:v0.9.1",
                        "command": ["vllm", "serve"], "targetContainerName": "app",
                        "env": [{"name": "HF_TOKEN", "value": "t"}]}]
                }}),
            ),
            (
                WorkloadKind::custom("InferenceService").unwrap(),
                json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                    "metadata": metadata("isvc", false),
                    "spec": {"predictor": {"minReplicas": 2, "model": {"modelFormat": {"name": "sklearn"},
                        "storageUri": "gs://models/credit/v3"}}}}),
            ),
        ]
    }

    /// The workloads of the examples, as a user writes them.
    fn examples() -> Vec<(WorkloadKind, Value)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        let mut found = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(dir)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for doc in serde_saphyr::from_multiple::<Value>(&text).unwrap() {
                        let kind = WorkloadKind::from_type(
                            doc["apiVersion"].as_str().unwrap_or_default(),
                            doc["kind"].as_str().unwrap_or_default(),
                        );
                        if let Some(kind) = kind {
                            found.push((kind, doc));
                        }
                    }
                }
            }
        }
        found
    }

    #[test]
    fn the_fields_alone_give_the_facts_the_whole_object_gives() {
        let examples = examples();
        assert!(examples.len() >= 5, "{} example workloads", examples.len());
        for (kind, object) in objects().into_iter().chain(examples) {
            let text = object.to_string();
            let whole = WorkloadFacts::from_json(kind, object).unwrap();
            let fields = WorkloadFacts::from_validated_json(kind, &text).unwrap();
            assert_eq!(fields, whole, "{text}");
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let cases = [
            (
                WorkloadKind::Deployment,
                json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": 5}]}}}}),
                "spec.template.spec.containers[0].image",
            ),
            (
                WorkloadKind::Deployment,
                json!({"metadata": {"labels": ["a"]}}),
                "metadata.labels",
            ),
            (
                WorkloadKind::CronJob,
                json!({"spec": {"suspend": "yes"}}),
                "spec.suspend",
            ),
            (
                WorkloadKind::Pod,
                json!({"spec": {"containers": [{"image": "x"}]}}),
                "spec.containers[0]",
            ),
            (
                WorkloadKind::Job,
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": []}}}]}}}}),
                "spec.template.spec.containers[0].resources.limits.memory",
            ),
        ];
        for (kind, object, path) in cases {
            let text = object.to_string();
            let error = WorkloadFacts::from_validated_json(kind, &text).unwrap_err();
            let FactsError::Shape { path: got, .. } = &error;
            assert_eq!(got, path, "{text}: {error}");
        }
        for text in ["", "{", "[]", "null", "{\"metadata\": {}} x"] {
            assert!(
                WorkloadFacts::from_validated_json(WorkloadKind::Deployment, text).is_err(),
                "{text:?}"
            );
        }
    }
}
