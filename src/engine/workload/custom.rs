//! Facts of an object of a custom-resource kind of the governed kinds' data
//! ([`crate::engine::kinds`]), read by the paths of its row rather than by a type.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Container, PodSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use serde_json::Value;

use super::{FactsError, WorkloadFacts, WorkloadKind};
use crate::{
    api::SYSTEM_LABEL,
    engine::kinds::{Halt, KindSpec, LabelsFrom},
};

impl WorkloadFacts {
    /// Facts of an object of a custom-resource kind, read by the paths of its row: the labels of
    /// its first pod template (its own, for a kind without templates), the containers of every
    /// pod template, pod spec and container-shaped object, the model URIs, the replicas and
    /// whether it is stopped. A field of the wrong shape is an error naming its path, and so are
    /// two pod templates that name different systems: an object belongs to one system.
    pub fn from_custom(spec: &'static KindSpec, object: &Value) -> Result<Self, FactsError> {
        let kind = WorkloadKind::Custom(spec);
        let shape = |path: &str, message: String| FactsError::Shape {
            kind,
            path: path.to_owned(),
            message,
        };
        let meta: ObjectMeta = match object.get("metadata") {
            Some(m) => read_at(kind, "metadata", m)?,
            None => ObjectMeta::default(),
        };
        let mut facts = Self::from_meta(kind, &meta);
        let mut system: Option<(String, String)> = None;
        let mut templates = 0;
        for path in &spec.pod_templates {
            for (at, template) in path.find(object) {
                let labels: BTreeMap<String, String> =
                    match template.get("metadata").and_then(|m| m.get("labels")) {
                        Some(l) => read_at(kind, &format!("{at}.metadata.labels"), l)?,
                        None => BTreeMap::new(),
                    };
                if let Some(named) = labels.get(SYSTEM_LABEL) {
                    match &system {
                        Some((first, other)) if other != named => {
                            return Err(shape(
                                &format!("{at}.metadata.labels"),
                                format!(
                                    "{SYSTEM_LABEL} is {named}, while {first} names {other}: \
                                     all pods of one object belong to one system"
                                ),
                            ));
                        }
                        Some(_) => {}
                        None => system = Some((at.clone(), named.clone())),
                    }
                }
                if templates == 0 {
                    facts.pod_labels = labels;
                }
                templates += 1;
                if let Some(pod) = template.get("spec") {
                    facts.add_pod_spec_value(pod, &format!("{at}.spec"))?;
                }
            }
        }
        if spec.pod_templates.is_empty() {
            facts.pod_labels = facts.labels.clone();
        }
        if let Halt::Through {
            labels_from: LabelsFrom::PodTemplates,
            ..
        } = &spec.halt
        {
            facts.labels_on_every_template(spec, object)?;
        }
        for path in &spec.pod_specs {
            for (at, pod) in path.find(object) {
                facts.add_pod_spec_value(pod, &at)?;
            }
        }
        for path in &spec.containers {
            for (at, c) in path.find(object) {
                facts.add_container_value(c, &at)?;
            }
        }
        for path in &spec.model_uris {
            for (at, uri) in path.find(object) {
                let uri = uri
                    .as_str()
                    .ok_or_else(|| shape(&at, format!("expected a string, found {uri}")))?;
                facts.model_uris.push(uri.to_owned());
            }
        }
        if let Some(replicas) = &spec.replicas {
            facts.replicas = Some(match replicas.path.find(object).first() {
                Some((at, n)) => n
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| shape(at, format!("expected a replica count, found {n}")))?,
                None => replicas.default,
            });
        }
        facts.suspended = match &spec.halt {
            Halt::Suspend { path } => Some(match path.find(object).first() {
                Some((at, flag)) => flag
                    .as_bool()
                    .ok_or_else(|| shape(at, format!("expected true or false, found {flag}")))?,
                None => false,
            }),
            Halt::Annotation { key, value } => Some(facts.annotations.get(key) == Some(value)),
            _ => None,
        };
        facts.model_uris.sort();
        facts.model_uris.dedup();
        Ok(facts)
    }

    /// Refuses an object whose `aims.dev/system` label is not on every pod template: the objects
    /// its controller creates carry the templates' labels alone.
    fn labels_on_every_template(&self, spec: &KindSpec, object: &Value) -> Result<(), FactsError> {
        let Some(system) = self.labels.get(SYSTEM_LABEL) else {
            return Ok(());
        };
        for path in &spec.pod_templates {
            for (at, template) in path.find(object) {
                let named = template
                    .pointer(&format!(
                        "/metadata/labels/{}",
                        SYSTEM_LABEL.replace('/', "~1")
                    ))
                    .and_then(Value::as_str);
                if named != Some(system) {
                    return Err(FactsError::Shape {
                        kind: self.kind,
                        path: format!("{at}.metadata.labels"),
                        message: format!(
                            "{SYSTEM_LABEL}: {system} is on the {kind} but not on its pod template: \
                             what the {kind} creates carries the template's labels alone, so it \
                             would belong to no system and a halt could not reach it; label the \
                             template",
                            kind = self.kind
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Adds the containers of a pod spec given as JSON at `at`.
    fn add_pod_spec_value(&mut self, pod: &Value, at: &str) -> Result<(), FactsError> {
        // Only the fields facts come from: the rest of a custom kind's pod spec may not even be a
        // pod spec's (KServe's predictor).
        let mut slim = serde_json::Map::new();
        slim.insert(
            "containers".to_owned(),
            pod.get("containers")
                .cloned()
                .unwrap_or_else(|| Value::Array(Vec::new())),
        );
        for field in ["initContainers", "resourceClaims"] {
            if let Some(v) = pod.get(field) {
                slim.insert(field.to_owned(), v.clone());
            }
        }
        let spec: PodSpec = read_at(self.kind, at, &Value::Object(slim))?;
        self.add_pod_spec(&spec);
        Ok(())
    }

    /// Adds a container-shaped object given as JSON at `at` (`image` as a string or as
    /// `{repository, tag}`; `resources` or `resourcesPerNode`; `command`, `args`, `env`). One
    /// with no image is not a container of its own (a runtime elsewhere gives the image).
    fn add_container_value(&mut self, c: &Value, at: &str) -> Result<(), FactsError> {
        let kind = self.kind;
        let image = match c.get("image") {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::String(image)) => image.clone(),
            Some(Value::Object(parts)) => {
                let part = |key: &str| parts.get(key).and_then(Value::as_str).unwrap_or_default();
                match (part("repository"), part("tag")) {
                    (repository, "") => repository.to_owned(),
                    (repository, tag) => format!("{repository}:{tag}"),
                }
            }
            Some(other) => {
                return Err(FactsError::Shape {
                    kind,
                    path: format!("{at}.image"),
                    message: format!("expected an image reference, found {other}"),
                });
            }
        };
        let field = |name: &str| c.get(name).filter(|v| !v.is_null());
        let resources = match field("resources")
            .map(|r| ("resources", r))
            .or_else(|| field("resourcesPerNode").map(|r| ("resourcesPerNode", r)))
        {
            Some((name, r)) => Some(read_at(kind, &format!("{at}.{name}"), r)?),
            None => None,
        };
        let strings = |name: &str| -> Result<Option<Vec<String>>, FactsError> {
            field(name)
                .map(|v| read_at(kind, &format!("{at}.{name}"), v))
                .transpose()
        };
        let container = Container {
            // Named by its own name, else by its field (`trainer`), else (the whole `spec` of a
            // NIMService) by the kind.
            name: c.get("name").and_then(Value::as_str).map_or_else(
                || match at.rsplit('.').next().unwrap_or(at) {
                    "spec" => kind.as_str().to_lowercase(),
                    field => field.to_owned(),
                },
                str::to_owned,
            ),
            image: Some(image),
            command: strings("command")?,
            args: strings("args")?,
            env: field("env")
                .map(|v| read_at(kind, &format!("{at}.env"), v))
                .transpose()?,
            resources,
            ..Container::default()
        };
        self.add_container(&container, false);
        Ok(())
    }
}

/// Reads `value`, found at `at` in an object of `kind`, as a `T`; an error names the path.
fn read_at<'v, T: serde::Deserialize<'v>>(
    kind: WorkloadKind,
    at: &str,
    value: &'v Value,
) -> Result<T, FactsError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        FactsError::Shape {
            kind,
            path: if inner == "." {
                at.to_owned()
            } else {
                format!("{at}.{inner}")
            },
            message: e.inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kind(name: &str) -> &'static KindSpec {
        WorkloadKind::custom(name)
            .and_then(WorkloadKind::spec)
            .unwrap()
    }

    #[test]
    fn pod_templates_that_name_two_systems_are_refused_with_the_path() {
        let lws = json!({"metadata": {"name": "x"}, "spec": {"replicas": 1, "leaderWorkerTemplate": {
            "leaderTemplate": {"metadata": {"labels": {"aims.dev/system": "approved"}},
                               "spec": {"containers": [{"name": "a", "image": "i"}]}},
            "workerTemplate": {"metadata": {"labels": {"aims.dev/system": "other"}},
                               "spec": {"containers": [{"name": "b", "image": "j"}]}}}}});
        let err = WorkloadFacts::from_custom(kind("LeaderWorkerSet"), &lws)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.leaderWorkerTemplate.workerTemplate.metadata.labels")
                && err.contains("aims.dev/system is other")
                && err.contains("names approved"),
            "{err}"
        );
    }

    #[test]
    fn a_knative_service_names_its_system_on_the_template_its_deployments_carry() {
        let service = |object_label: bool, template_label: bool| {
            let label = |on: bool| {
                if on {
                    json!({"aims.dev/system": "chat"})
                } else {
                    json!({})
                }
            };
            WorkloadFacts::from_custom(
                kind("Service"),
                &json!({"metadata": {"name": "s", "labels": label(object_label)},
                    "spec": {"template": {"metadata": {"labels": label(template_label)},
                        "spec": {"containers": [{"image": "r.io/m:1"}]}}}}),
            )
        };
        let err = service(true, false).unwrap_err().to_string();
        assert!(
            err.contains("spec.template.metadata.labels")
                && err.contains(
                    "aims.dev/system: chat is on the Service but not on its pod template"
                ),
            "{err}"
        );
        assert_eq!(service(true, true).unwrap().system_label(), Some("chat"));
        assert_eq!(service(false, true).unwrap().system_label(), Some("chat"));
        assert_eq!(service(false, false).unwrap().system_label(), None);
        // KubeRay copies a RayService's own labels to its RayClusters: the object's label is enough.
        let ray = WorkloadFacts::from_custom(
            kind("RayService"),
            &json!({"metadata": {"labels": {"aims.dev/system": "chat"}},
                "spec": {"rayClusterConfig": {"headGroupSpec": {"template": {
                    "spec": {"containers": [{"name": "h", "image": "r.io/ray:1"}]}}}}}}),
        )
        .unwrap();
        assert_eq!(ray.system_label(), Some("chat"));
    }

    #[test]
    fn a_field_of_the_wrong_shape_is_named_by_its_path() {
        let cases = [
            (
                "PyTorchJob",
                json!({"spec": {"runPolicy": {"suspend": "yes"}, "pytorchReplicaSpecs": {}}}),
                "spec.runPolicy.suspend: expected true or false",
            ),
            (
                "RayCluster",
                json!({"spec": {"workerGroupSpecs": [{"template": {"spec": {"containers": [{"name": 3}]}}}]}}),
                "spec.workerGroupSpecs[0].template.spec.containers[0].name",
            ),
            (
                "NIMService",
                json!({"spec": {"image": 7}}),
                "spec.image: expected an image reference",
            ),
            (
                "LeaderWorkerSet",
                json!({"spec": {"replicas": "two"}}),
                "spec.replicas: expected a replica count",
            ),
            (
                "LLMInferenceService",
                json!({"spec": {"model": {"uri": 1}}}),
                "spec.model.uri: expected a string",
            ),
        ];
        for (k, object, want) in cases {
            let err = WorkloadFacts::from_custom(kind(k), &object)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{k}: {err}");
        }
    }

    #[test]
    fn each_stop_is_read_as_the_row_says() {
        let pytorch = |suspend: Option<bool>| {
            let run_policy = suspend.map_or_else(|| json!({}), |s| json!({"suspend": s}));
            WorkloadFacts::from_custom(
                kind("PyTorchJob"),
                &json!({"spec": {"runPolicy": run_policy, "pytorchReplicaSpecs": {}}}),
            )
            .unwrap()
            .suspended
        };
        assert_eq!(pytorch(None), Some(false));
        assert_eq!(pytorch(Some(true)), Some(true));
        let llm = |annotations: serde_json::Value| {
            WorkloadFacts::from_custom(
                kind("LLMInferenceService"),
                &json!({"metadata": {"annotations": annotations}, "spec": {}}),
            )
            .unwrap()
        };
        assert_eq!(llm(json!({})).suspended, Some(false));
        assert_eq!(
            llm(json!({"serving.kserve.io/stop": "true"})).suspended,
            Some(true)
        );
        assert_eq!(llm(json!({})).replicas, Some(1), "the row's default");
        let lws =
            WorkloadFacts::from_custom(kind("LeaderWorkerSet"), &json!({"spec": {"replicas": 3}}))
                .unwrap();
        assert_eq!((lws.replicas, lws.suspended), (Some(3), None));
        let knative = WorkloadFacts::from_custom(kind("Service"), &json!({"spec": {}})).unwrap();
        assert_eq!((knative.replicas, knative.suspended), (None, None));
    }

    #[test]
    fn a_container_shaped_object_is_read_whatever_its_image_form() {
        let nim = WorkloadFacts::from_custom(
            kind("NIMService"),
            &json!({"metadata": {"labels": {"aims.dev/system": "chat"}}, "spec": {
                "image": {"repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct", "tag": "1.3.3"},
                "resources": {"limits": {"nvidia.com/gpu": 1}}}}),
        )
        .unwrap();
        assert_eq!(nim.system_label(), Some("chat"));
        let c = &nim.containers[0];
        assert_eq!(c.name, "nimservice");
        assert_eq!(
            c.image.reference,
            "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3"
        );
        assert_eq!(
            c.extended_resources
                .get("nvidia.com/gpu")
                .map(String::as_str),
            Some("1")
        );
        // A trainer whose image its runtime gives is no container of its own; its model still
        // counts.
        let train = WorkloadFacts::from_custom(
            kind("TrainJob"),
            &json!({"spec": {"trainer": {"numNodes": 2},
                             "initializer": {"model": {"storageUri": "hf://org/m"}}}}),
        )
        .unwrap();
        assert!(train.containers.is_empty());
        assert_eq!(train.model_uris, ["hf://org/m"]);
    }
}
