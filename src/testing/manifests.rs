//! Workload manifests, built up from a minimal Deployment.

use serde_json::{Value, json};

/// A workload manifest being built: `Manifest::deployment("scorer", image).system("credit")`.
#[derive(Clone, Debug)]
pub struct Manifest(Value);

impl Manifest {
    /// A Deployment `name` in namespace `default` whose one container, `main`, runs `image` and
    /// requests a cpu; its pods carry `app: name`, which its selector matches.
    pub fn deployment(name: &str, image: &str) -> Self {
        Self(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
            "spec": {
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [
                        {"name": "main", "image": image, "resources": {"requests": {"cpu": "1"}}}
                    ]}
                }
            }
        }))
    }

    /// In namespace `namespace`.
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.0["metadata"]["namespace"] = json!(namespace);
        self
    }

    /// Labelled as a workload of AISystem `system`.
    pub fn system(self, system: &str) -> Self {
        self.label(crate::api::SYSTEM_LABEL, system)
    }

    /// With the label `key: value` on the workload itself.
    fn label(mut self, key: &str, value: &str) -> Self {
        self.0["metadata"]["labels"][key] = json!(value);
        self
    }

    /// With the annotation `key: value` on the workload itself.
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.0["metadata"]["annotations"][key] = json!(value);
        self
    }

    /// With `spec.replicas` set.
    pub fn replicas(mut self, replicas: i32) -> Self {
        self.0["spec"]["replicas"] = json!(replicas);
        self
    }

    /// With its container named `name`.
    pub fn container(mut self, name: &str) -> Self {
        self.0["spec"]["template"]["spec"]["containers"][0]["name"] = json!(name);
        self
    }

    /// With its container requesting `cpu`.
    pub fn cpu(mut self, cpu: &str) -> Self {
        self.0["spec"]["template"]["spec"]["containers"][0]["resources"] =
            json!({"requests": {"cpu": cpu}});
        self
    }

    /// With its containers' requests removed.
    pub fn without_requests(mut self) -> Self {
        if let Some(containers) = self.0["spec"]["template"]["spec"]["containers"].as_array_mut() {
            for c in containers {
                if let Some(c) = c.as_object_mut() {
                    c.remove("resources");
                }
            }
        }
        self
    }

    /// The manifest.
    pub fn json(self) -> Value {
        self.0
    }

    /// The manifest as one YAML document (JSON is YAML), for `kubectl apply -f -`.
    pub fn yaml(&self) -> String {
        self.0.to_string()
    }
}
