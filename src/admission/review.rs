//! Reading AdmissionReviews and writing their answers. Whatever the body holds, the answer is a
//! well-formed AdmissionReview: a body that cannot be read is refused with a message that says
//! where it went wrong, never with a panic.

use k8s_openapi::api::authentication::v1::UserInfo;
use kube::core::{
    GroupVersionKind, GroupVersionResource, Resource, Status, TypeMeta,
    admission::{AdmissionResponse, Operation},
};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, value::RawValue};

/// The largest body read. The API server's own request limit is 3 MiB and a review carries the
/// object and the old object; anything larger is not from the API server.
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// A body that is not a readable AdmissionReview.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the AdmissionReview: {message}")]
pub struct Unreadable {
    /// The request's uid, when the body has one where a review keeps it.
    pub uid: String,
    /// What is wrong, naming the field.
    pub message: String,
}

/// The request of an `admission.k8s.io/v1` AdmissionReview, as the handlers read it.
///
/// Its objects stay JSON text until a handler reads them, straight into the type it needs: a
/// review is read in one pass, with no intermediate tree of the objects.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewRequest {
    /// The review's `apiVersion` and `kind`, which the answer repeats.
    #[serde(skip)]
    pub types: TypeMeta,
    /// Identifies this admission call; the answer carries it back.
    pub uid: String,
    /// The kind of the object under review.
    pub kind: GroupVersionKind,
    /// The resource being requested.
    pub resource: GroupVersionResource,
    /// The subresource being requested, if any (`scale`, `status`).
    #[serde(default)]
    pub sub_resource: Option<String>,
    /// The object's name (empty on a create that generates it).
    #[serde(default)]
    pub name: String,
    /// The object's namespace (none for cluster-scoped kinds).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The operation being performed.
    pub operation: Operation,
    /// Who asks.
    pub user_info: UserInfo,
    /// The object as it would be stored, as JSON text.
    #[serde(default)]
    pub object: Option<Box<RawValue>>,
    /// The object as it is stored, on an update or delete, as JSON text.
    #[serde(default)]
    pub old_object: Option<Box<RawValue>>,
    /// Whether nothing of this request is persisted.
    #[serde(default)]
    pub dry_run: bool,
}

/// An AdmissionReview as it arrives.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    api_version: String,
    kind: String,
    #[serde(default)]
    request: Option<ReviewRequest>,
}

/// Reads the request of an `admission.k8s.io/v1` AdmissionReview.
pub fn decode(body: &[u8]) -> Result<ReviewRequest, Unreadable> {
    // One pass, straight into the request; a body that does not read is read again, slowly, to
    // say where it goes wrong.
    let review: Review = serde_json::from_slice(body).map_err(|e| diagnose(body, &e))?;
    let mut request = review.request.ok_or_else(|| Unreadable {
        uid: String::new(),
        message: "request: missing".to_owned(),
    })?;
    request.types = TypeMeta {
        api_version: review.api_version,
        kind: review.kind,
    };
    Ok(request)
}

/// What is wrong with a body that does not read as a review (`error`, from reading it in one
/// pass): whether it is JSON at all, else the path of the first field that does not read; with the
/// request's uid when it has one.
fn diagnose(body: &[u8], error: &serde_json::Error) -> Unreadable {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => {
            return Unreadable {
                uid: String::new(),
                message: format!("not JSON: {e}"),
            };
        }
    };
    let uid = value
        .pointer("/request/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let message = match serde_path_to_error::deserialize::<_, Review>(&value) {
        Err(e) => format!("{}: {}", e.path(), e.inner()),
        // A field given twice: the tree keeps one, so only the text says so.
        Ok(_) => error.to_string(),
    };
    Unreadable { uid, message }
}

impl ReviewRequest {
    /// The request's object as `K`, with the request's namespace filled in where the object names
    /// none (a create may leave it out); or a message naming the field that does not read.
    pub fn object<K: Resource + DeserializeOwned>(&self) -> Result<K, String> {
        self.read(self.object_text()?)
    }

    /// The request's object as JSON text, or a message saying it carries none.
    pub fn object_text(&self) -> Result<&RawValue, String> {
        self.object
            .as_deref()
            .ok_or_else(|| "the request carries no object".to_owned())
    }

    /// The request's old object as `K`, when it has one; see [`ReviewRequest::object`].
    pub fn old_object<K: Resource + DeserializeOwned>(&self) -> Result<Option<K>, String> {
        self.old_object
            .as_deref()
            .map(|raw| self.read(raw))
            .transpose()
    }

    fn read<K: Resource + DeserializeOwned>(&self, raw: &RawValue) -> Result<K, String> {
        let mut object: K =
            read(raw).map_err(|e| format!("cannot read the {}: {e}", self.kind.kind))?;
        if let (None, Some(ns)) = (&object.meta().namespace, &self.namespace) {
            object.meta_mut().namespace = Some(ns.clone());
        }
        Ok(object)
    }
}

/// Reads JSON text as `T`; the error names the field that does not read.
pub fn read<T: DeserializeOwned>(raw: &RawValue) -> Result<T, String> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(raw.get()))
        .map_err(|e| format!("{}: {}", e.path(), e.inner()))
}

/// Admits the request.
pub fn allow(req: &ReviewRequest) -> AdmissionResponse {
    // `AdmissionResponse` is non-exhaustive: start from kube's blank answer and make it an
    // admission of this request.
    let mut response = AdmissionResponse::invalid("");
    response.types = req.types.clone();
    response.uid.clone_from(&req.uid);
    response.allowed = true;
    response.result = Status::default();
    response
}

/// The answer to a body that could not be read: a denial carrying the uid when there was one.
pub fn unreadable(e: &Unreadable) -> AdmissionResponse {
    let mut response = AdmissionResponse::invalid(e);
    response.uid.clone_from(&e.uid);
    response
}

/// A denial with `message`, code 403.
pub fn deny(req: &ReviewRequest, message: impl Into<String>) -> AdmissionResponse {
    let mut response = allow(req);
    response.allowed = false;
    response.result = Status::failure(&message.into(), "Forbidden").with_code(403);
    response
}

/// The body of the answer.
pub fn encode(response: AdmissionResponse) -> Vec<u8> {
    // A review of strings, booleans and bytes always serializes.
    serde_json::to_vec(&response.into_review()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::{Value, json};

    use super::*;
    use crate::testing::Review;

    fn review(request: Value) -> Vec<u8> {
        Review::of_request(request).bytes()
    }

    /// A CREATE in namespace `shop` of a Deployment whose object names no namespace.
    fn request() -> Value {
        let object =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
        Review::create(object)
            .with("namespace", json!("shop"))
            .request()
    }

    #[test]
    fn reads_a_review() {
        let req = decode(&review(request())).unwrap();
        assert_eq!(req.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(req.kind.kind, "Deployment");
        assert_eq!(req.user_info.username.as_deref(), Some("dev"));
    }

    #[test]
    fn reads_objects_as_their_type_in_the_request_namespace() {
        let mut update = request();
        update["operation"] = json!("UPDATE");
        update["oldObject"] = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "elsewhere"}});
        let req = decode(&review(update)).unwrap();
        let new: Deployment = req.object().unwrap();
        assert_eq!(new.metadata.namespace.as_deref(), Some("shop"), "filled in");
        let old: Deployment = req.old_object().unwrap().unwrap();
        assert_eq!(old.metadata.namespace.as_deref(), Some("elsewhere"), "kept");

        let mut wrong = request();
        wrong["object"]["spec"] = json!({"replicas": "three"});
        let e = decode(&review(wrong))
            .unwrap()
            .object::<Deployment>()
            .unwrap_err();
        assert!(
            e.starts_with("cannot read the Deployment: spec.replicas: invalid type"),
            "{e}"
        );

        let mut none = request();
        none["object"] = Value::Null;
        let req = decode(&review(none)).unwrap();
        assert_eq!(
            req.object::<Deployment>().unwrap_err(),
            "the request carries no object"
        );
        assert!(req.old_object::<Deployment>().unwrap().is_none());
    }

    #[test]
    fn answers_carry_the_review_type_and_uid() {
        let req = decode(&review(request())).unwrap();
        let allowed: Value = serde_json::from_slice(&encode(allow(&req))).unwrap();
        assert_eq!(
            allowed,
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                   "response": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": true, "status": {}}})
        );
        let denied: Value = serde_json::from_slice(&encode(deny(&req, "no"))).unwrap();
        assert_eq!(denied["response"]["allowed"], json!(false));
        assert_eq!(denied["response"]["status"]["code"], json!(403));
        assert_eq!(denied["response"]["status"]["message"], json!("no"));
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let mut wrong_type = request();
        wrong_type["operation"] = json!(7);
        let mut no_uid = request();
        no_uid.as_object_mut().unwrap().remove("uid");
        let table: Vec<(&str, Vec<u8>, &str, &str)> = vec![
            ("empty", Vec::new(), "", "not JSON"),
            ("garbage", b"\x00\xff{{".to_vec(), "", "not JSON"),
            (
                "truncated",
                review(request())[..40].to_vec(),
                "",
                "not JSON",
            ),
            ("a number", b"42".to_vec(), "", "invalid type"),
            (
                "no request",
                br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
                "",
                "request: missing",
            ),
            (
                "wrong type",
                review(wrong_type),
                "705ab4f5-6393-11e8-b7cc-42010a800002",
                "request.operation",
            ),
            ("no uid", review(no_uid), "", "uid"),
            (
                "a field twice",
                String::from_utf8(review(request()))
                    .unwrap()
                    .replacen(r#""request":{"#, r#""request":{"uid":"first","#, 1)
                    .into_bytes(),
                "705ab4f5-6393-11e8-b7cc-42010a800002",
                "duplicate field `uid`",
            ),
            (
                "trailing data",
                [review(request()), b"}".to_vec()].concat(),
                "",
                "not JSON",
            ),
        ];
        for (name, body, uid, says) in table {
            let e = decode(&body).expect_err(name);
            assert_eq!(e.uid, uid, "{name}");
            assert!(e.to_string().contains(says), "{name}: {e}");
            let answer: Value = serde_json::from_slice(&encode(unreadable(&e))).unwrap();
            assert_eq!(answer["response"]["allowed"], json!(false), "{name}");
            assert_eq!(answer["response"]["uid"], json!(uid), "{name}");
            assert_eq!(answer["kind"], json!("AdmissionReview"), "{name}");
        }
    }
}
