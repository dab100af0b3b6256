//! The reports' writes against a mocked API server: what is sent when nothing is stored, when the
//! stored reports already say it all, and when a workload has left.

use std::sync::Mutex;

use axum::http::{Request, Response};
use jiff::Timestamp;
use kube::{Client, client::Body};
use serde_json::{Value, json};

use super::*;
use crate::{
    cluster::{Stores, crds::Installed, store_of},
    testing::{Manifest, System},
};

/// One request: method, path and query, body.
type Sent = (String, String, Value);

/// A client that answers a list with `stored` and any other request with its own body, and
/// records every request.
fn recording_client(stored: Vec<Value>) -> (Client, Arc<Mutex<Vec<Sent>>>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let log = sent.clone();
    let service = tower::service_fn(move |req: Request<Body>| {
        let log = log.clone();
        let stored = stored.clone();
        async move {
            let (parts, body) = req.into_parts();
            let bytes = body.collect_bytes().await.unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let method = parts.method.to_string();
            let answer = if method == "GET" {
                json!({"apiVersion": "openreports.io/v1alpha1", "kind": "ReportList",
                       "metadata": {}, "items": stored})
            } else if method == "DELETE" {
                json!({"apiVersion": "v1", "kind": "Status", "status": "Success"})
            } else {
                body.clone()
            };
            let path = parts
                .uri
                .path_and_query()
                .map(ToString::to_string)
                .unwrap_or_default();
            log.lock().unwrap().push((method, path, body));
            Ok::<_, std::convert::Infallible>(
                Response::builder()
                    .status(200)
                    .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                    .unwrap(),
            )
        }
    });
    (Client::new(service, "default"), sent)
}

fn reports_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk("openreports.io", "v1alpha1", "Report"),
        "reports",
    )
}

fn system() -> AISystem {
    System::scoring().meta("uid", json!("system-uid")).build()
}

/// A leader's context whose stores hold `system`, a system `other` of the same namespace and
/// Deployment `scorer` (uid `scorer-uid`), with the Report CRD installed when `installed`.
fn context(client: Client, installed: bool) -> Arc<Context> {
    let deployment = Manifest::deployment("scorer", "r.example.com/scorer:1")
        .namespace("credit")
        .system("scoring")
        .json();
    let mut deployment = deployment;
    deployment["metadata"]["uid"] = json!("scorer-uid");
    let mut served = crate::cluster::crds::Served::new();
    if installed {
        served.insert(REPORTS_CRD.to_owned(), reports_resource());
    }
    let stores = Stores {
        systems: store_of(vec![
            serde_json::from_value(serde_json::to_value(system()).unwrap()).unwrap(),
            serde_json::from_value(System::scoring().meta("name", json!("other")).json()).unwrap(),
        ]),
        cluster_bindings: store_of(vec![
            serde_json::from_value(
                serde_json::to_value(crate::engine::report::openreports::tests::baseline())
                    .unwrap(),
            )
            .unwrap(),
        ]),
        deployments: store_of(vec![serde_json::from_value(deployment).unwrap()]),
        installed: Installed::fixed(served),
        ..Stores::empty()
    };
    Context::for_test(client, stores, true)
}

/// Syncs the reports of `system()` once, with `stored` the reports the API server lists.
async fn sync_once(stored: Vec<Value>, installed: bool) -> Vec<Sent> {
    let (client, sent) = recording_client(stored);
    let ctx = context(client, installed);
    let system = system();
    let (evaluation, workloads) = ctx.evaluate(&system, Timestamp::UNIX_EPOCH);
    sync(&ctx, &system, &evaluation, &workloads).await;
    sent.lock().unwrap().clone()
}

fn patches(sent: &[Sent]) -> Vec<&Sent> {
    sent.iter().filter(|(m, _, _)| m == "PATCH").collect()
}

#[tokio::test]
async fn without_the_crd_nothing_is_read_or_written() {
    assert!(sync_once(Vec::new(), false).await.is_empty());
}

#[tokio::test]
async fn the_system_and_each_workload_get_a_report_owned_by_their_object() {
    let sent = sync_once(Vec::new(), true).await;
    let (method, list, _) = &sent[0];
    assert_eq!(method, "GET");
    assert!(
        list.starts_with("/apis/openreports.io/v1alpha1/namespaces/credit/reports?")
            && list.contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Daims-operator"),
        "{list}"
    );
    let written = patches(&sent);
    assert_eq!(written.len(), 2, "{sent:#?}");
    let (_, path, report) = written[0];
    assert!(
        path.starts_with(
            "/apis/openreports.io/v1alpha1/namespaces/credit/reports/aims-aisystem-scoring?"
        ) && path.contains("fieldManager=aims-operator")
            && path.contains("force=true"),
        "{path}"
    );
    assert_eq!(
        report["scope"],
        json!({"apiVersion": "aims.dev/v1alpha1", "kind": "AISystem", "name": "scoring",
               "namespace": "credit", "uid": "system-uid"})
    );
    assert_eq!(
        report["metadata"]["ownerReferences"],
        json!([{"apiVersion": "aims.dev/v1alpha1", "kind": "AISystem", "name": "scoring",
                "uid": "system-uid"}])
    );
    assert_eq!(report["metadata"]["labels"][MANAGED_BY_LABEL], MANAGED_BY);
    assert_eq!(report["source"], "aims-operator");
    let a625 = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "A.6.2.5")
        .unwrap();
    assert_eq!(a625["result"], "fail");
    assert_eq!(a625["policy"], "iso42001-annex-a");
    assert!(report["summary"]["fail"].as_u64().unwrap() >= 1);

    let (_, path, report) = written[1];
    assert!(
        path.contains("/reports/aims-deployment-scorer-scoring-"),
        "{path}"
    );
    assert_eq!(
        report["scope"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "scorer",
               "namespace": "credit", "uid": "scorer-uid"})
    );
    assert_eq!(
        report["metadata"]["ownerReferences"][0]["uid"],
        "scorer-uid"
    );
}

#[tokio::test]
async fn stored_reports_that_say_the_same_are_not_written_again() {
    let first = sync_once(Vec::new(), true).await;
    // The API server stores what was applied, and adds its own metadata.
    let stored: Vec<Value> = patches(&first)
        .into_iter()
        .map(|(_, _, body)| {
            let mut body = body.clone();
            body["metadata"]["namespace"] = json!("credit");
            body["metadata"]["resourceVersion"] = json!("7");
            body["metadata"]["annotations"]["kubectl.kubernetes.io/other"] = json!("x");
            body
        })
        .collect();
    let sent = sync_once(stored, true).await;
    assert_eq!(sent.len(), 1, "only the list: {sent:#?}");
}

#[tokio::test]
async fn the_reports_of_a_workload_that_left_and_of_a_deleted_system_go_another_systems_stay() {
    let stray = |name: &str, system: &str| {
        json!({"apiVersion": "openreports.io/v1alpha1", "kind": "Report",
               "metadata": {"name": name, "namespace": "credit",
                            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
                            "annotations": {SYSTEM_ANNOTATION: system}}})
    };
    // `other` is a system the stores hold; `deleted` is not.
    let sent = sync_once(
        vec![
            stray("aims-deployment-old", "scoring"),
            stray("aims-aisystem-other", "other"),
            stray("aims-deployment-orphan", "deleted"),
        ],
        true,
    )
    .await;
    let deleted: Vec<&str> = sent
        .iter()
        .filter(|(m, _, _)| m == "DELETE")
        .map(|(_, p, _)| p.as_str())
        .collect();
    assert_eq!(
        deleted,
        [
            "/apis/openreports.io/v1alpha1/namespaces/credit/reports/aims-deployment-old?",
            "/apis/openreports.io/v1alpha1/namespaces/credit/reports/aims-deployment-orphan?"
        ]
    );
}

#[test]
fn names_are_distinct_and_bounded() {
    assert_eq!(
        report_name(&["aisystem", "scoring"]),
        "aims-aisystem-scoring"
    );
    let a = report_name(&["deployment", "a-b", "c"]);
    let b = report_name(&["deployment", "a", "b-c"]);
    assert_ne!(a, b);
    assert!(a.starts_with("aims-deployment-a-b-c-"), "{a}");
    let long = "x".repeat(300);
    for name in [
        report_name(&["aisystem", &long]),
        report_name(&["deployment", &long, &long]),
    ] {
        assert!(name.len() <= MAX_NAME, "{}", name.len());
        assert!(!name.contains("--"));
    }
    assert_ne!(
        report_name(&["aisystem", &long]),
        report_name(&["aisystem", &format!("{long}y")])
    );
}
