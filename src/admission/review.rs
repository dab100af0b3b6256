//! Reading AdmissionReviews and writing their answers. Whatever the body holds, the answer is a
//! well-formed AdmissionReview: a body that cannot be read is refused with a message that says
//! where it went wrong, never with a panic.

use kube::{
    api::DynamicObject,
    core::{
        Status,
        admission::{AdmissionRequest, AdmissionResponse, AdmissionReview},
    },
};
use serde_json::Value;

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

/// Reads the request of an `admission.k8s.io/v1` AdmissionReview.
pub fn decode(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, Unreadable> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Unreadable {
        uid: String::new(),
        message: format!("not JSON: {e}"),
    })?;
    let uid = value
        .pointer("/request/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let fail = |message: String| Unreadable {
        uid: uid.clone(),
        message,
    };
    let review: AdmissionReview<DynamicObject> =
        serde_path_to_error::deserialize(&value).map_err(|e| {
            let path = e.path().to_string();
            fail(format!("{path}: {}", e.into_inner()))
        })?;
    review
        .try_into()
        .map_err(|_| fail("request: missing".to_owned()))
}

/// The JSON of one of the request's objects, with the request's namespace filled in where the
/// object names none (a create may leave it out).
pub fn object_json(
    req: &AdmissionRequest<DynamicObject>,
    object: &DynamicObject,
) -> Result<Value, String> {
    let mut value = serde_json::to_value(object).map_err(|e| e.to_string())?;
    if let (Some(meta), Some(ns)) = (
        value.get_mut("metadata").and_then(Value::as_object_mut),
        req.namespace.as_ref(),
    ) {
        meta.entry("namespace")
            .or_insert_with(|| Value::String(ns.clone()));
    }
    Ok(value)
}

/// The answer to a body that could not be read: a denial carrying the uid when there was one.
pub fn unreadable(e: &Unreadable) -> AdmissionResponse {
    let mut response = AdmissionResponse::invalid(e);
    response.uid.clone_from(&e.uid);
    response
}

/// A denial with `message`, code 403.
pub fn deny(
    req: &AdmissionRequest<DynamicObject>,
    message: impl Into<String>,
) -> AdmissionResponse {
    let mut response = AdmissionResponse::from(req);
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
    use serde_json::json;

    use super::*;

    fn review(request: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request
        }))
        .unwrap()
    }

    fn request() -> Value {
        json!({
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "name": "web", "namespace": "shop", "operation": "CREATE",
            "userInfo": {"username": "dev", "groups": ["system:authenticated"]},
            "object": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
            "dryRun": false
        })
    }

    #[test]
    fn reads_a_review() {
        let req = decode(&review(request())).unwrap();
        assert_eq!(req.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(req.kind.kind, "Deployment");
        assert_eq!(req.user_info.username.as_deref(), Some("dev"));
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
