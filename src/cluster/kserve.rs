//! KServe InferenceServices, watched through the dynamic API once KServe's CRD exists, whether it
//! was installed before the operator started or later.

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind},
    runtime::{
        WatchStreamExt,
        reflector::{self, Store},
        watcher,
    },
};

/// KServe's CRD.
pub const CRD_NAME: &str = "inferenceservices.serving.kserve.io";
/// How often the operator looks for KServe's CRD until it appears.
const POLL: Duration = Duration::from_secs(5);

/// The InferenceService kind.
pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        "serving.kserve.io",
        "v1beta1",
        "InferenceService",
    ))
}

/// Whether KServe's CRD exists and is Established.
pub async fn established(client: &Client) -> bool {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    match crds.get_opt(CRD_NAME).await {
        Ok(Some(crd)) => crd.status.and_then(|s| s.conditions).is_some_and(|c| {
            c.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        }),
        Ok(None) => false,
        Err(err) => {
            tracing::debug!(%err, "cannot read KServe's CRD");
            false
        }
    }
}

/// A store of InferenceServices and the reflected watch stream that fills it. The stream waits
/// until KServe's CRD is Established, then watches.
pub fn reflect(
    client: Client,
) -> (
    Store<DynamicObject>,
    impl Stream<Item = Result<DynamicObject, watcher::Error>> + Send,
) {
    let resource = api_resource();
    let writer = reflector::store::Writer::new(resource.clone());
    let store = writer.as_reader();
    let wait = {
        let client = client.clone();
        async move {
            let mut logged = false;
            while !established(&client).await {
                if !logged {
                    tracing::info!(
                        "KServe is not installed; InferenceServices are watched once it is"
                    );
                    logged = true;
                }
                tokio::time::sleep(POLL).await;
            }
            tracing::info!("watching KServe InferenceServices");
        }
    };
    let stream = futures::stream::once(wait)
        .flat_map(move |()| {
            watcher(
                Api::<DynamicObject>::all_with(client.clone(), &resource),
                watcher::Config::default(),
            )
            .default_backoff()
            .modify(|o| o.metadata.managed_fields = None)
        })
        .boxed();
    (
        store,
        reflector::reflector(writer, stream).touched_objects(),
    )
}
