//! AdmissionReviews as the API server sends them.

use serde_json::{Value, json};

/// An AdmissionReview request being built: `Review::create(object).with("dryRun", json!(true))`.
///
/// The kind and resource are read from the object's `apiVersion` and `kind` (the resource is the
/// kind in lower case with an `s`); the requester is `dev` in `system:authenticated`.
#[derive(Clone, Debug)]
pub struct Review(Value);

impl Review {
    /// A CREATE of `object`.
    pub fn create(object: Value) -> Self {
        Self::of("CREATE", object, Value::Null)
    }

    /// An UPDATE from `old` to `object`.
    pub fn update(object: Value, old: Value) -> Self {
        Self::of("UPDATE", object, old)
    }

    fn of(operation: &str, object: Value, old: Value) -> Self {
        let mut review = Self(json!({
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "operation": operation,
            "userInfo": {"username": "dev", "groups": ["system:authenticated"]},
            "object": object, "oldObject": old, "dryRun": false
        }));
        let object = review.0["object"].clone();
        review.fill_from(&object);
        review
    }

    /// A review of the request `request`, as it is.
    pub fn of_request(request: Value) -> Self {
        Self(request)
    }

    /// Kind, resource, name and namespace from `object`, if there is one.
    fn fill_from(&mut self, object: &Value) {
        if object.is_null() {
            return;
        }
        let api_version = object["apiVersion"].as_str().unwrap_or("v1");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = object["kind"].as_str().unwrap_or_default();
        let resource = format!("{}s", kind.to_lowercase());
        self.set_kind((group, version, kind), &resource);
        self.0["name"] = object["metadata"]["name"].clone();
        self.0["namespace"] = object["metadata"]["namespace"].clone();
    }

    fn set_kind(&mut self, (group, version, kind): (&str, &str, &str), resource: &str) {
        let gvk = json!({"group": group, "version": version, "kind": kind});
        let gvr = json!({"group": group, "version": version, "resource": resource});
        self.0["kind"] = gvk.clone();
        self.0["resource"] = gvr.clone();
        self.0["requestKind"] = gvk;
        self.0["requestResource"] = gvr;
    }

    /// Of `kind` (group, version, kind) through `resource`, whatever the object says.
    pub fn kind(mut self, kind: (&str, &str, &str), resource: &str) -> Self {
        self.set_kind(kind, resource);
        self
    }

    /// With the request's field `key` set to `value` (`userInfo`, `subResource`, `namespace`,
    /// `uid`, `dryRun`, `options`, ...).
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.0[key] = value;
        self
    }

    /// The request alone.
    pub fn request(self) -> Value {
        self.0
    }

    /// The whole AdmissionReview.
    pub fn json(self) -> Value {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": self.0})
    }

    /// The whole AdmissionReview, serialized as the API server posts it.
    pub fn bytes(self) -> Vec<u8> {
        serde_json::to_vec(&self.json()).unwrap_or_default()
    }
}
