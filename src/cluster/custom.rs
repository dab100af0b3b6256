//! The custom-resource kinds of the governed kinds' data ([`crate::engine::kinds`]), watched
//! through the dynamic API once each one's CRD exists ([`super::crds`] says when), whether it was
//! installed before the operator started or later. The stores keep each object as its facts, like
//! the built-in kinds.

use std::{
    borrow::Cow,
    sync::{Arc, OnceLock},
};

use futures::{Stream, StreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    Api, Client,
    api::{ApiResource, GroupVersionKind},
    runtime::{
        WatchStreamExt,
        reflector::{self, Store},
        watcher,
    },
};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::crds::{CrdSummary, Installed, crd_name};
use crate::engine::{
    kinds::KindSpec,
    workload::{WorkloadFacts, WorkloadKind},
};

/// The kind at the version its manifests are written in: how the stores key its objects.
pub fn api_resource(spec: &KindSpec) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&spec.group, &spec.version, &spec.kind),
        &spec.plural,
    )
}

/// Where the API serves a kind, read once (a person's CLI; the operator watches the CRDs,
/// [`super::crds`]): `Some` once its CRD is Established, `None` while it is not installed.
/// Without the right to read CRDs, the manifests' version is assumed.
pub async fn served(client: &Client, spec: &KindSpec) -> Result<Option<ApiResource>, kube::Error> {
    let crds: Api<CrdSummary> = Api::all(client.clone());
    match crds.get_opt(&crd_name(spec)).await {
        Ok(Some(crd)) => Ok(crd.serving(spec)),
        Ok(None) => Ok(None),
        Err(kube::Error::Api(e)) if e.code == 403 => Ok(Some(api_resource(spec))),
        Err(e) => Err(e),
    }
}

/// An object of a custom kind as the stores keep it: its name, namespace, resourceVersion and uid,
/// and its facts. Read from any version of the kind: the facts come from the row's paths.
#[derive(Clone, Debug)]
pub struct CustomWorkload {
    metadata: ObjectMeta,
    /// What the engine knows of it, shared with every evaluation that reads it.
    pub facts: Arc<WorkloadFacts>,
}

impl CustomWorkload {
    /// What the stores keep of `object`, an object of `spec`'s kind. An object whose fields do
    /// not have the row's shape (a stand-in CRD without a schema admits anything) is kept as its
    /// metadata alone and logged: one bad object never stops its kind's watch, and the webhook
    /// refuses such an object in the first place.
    pub fn new(spec: &'static KindSpec, object: &Value) -> Self {
        let facts = WorkloadFacts::from_custom(spec, object).unwrap_or_else(|err| {
            tracing::warn!(%err, "an object of a governed kind cannot be read; only its metadata is kept");
            let bare = serde_json::json!({ "metadata": object.get("metadata") });
            WorkloadFacts::from_custom(spec, &bare).unwrap_or_else(|_| {
                WorkloadFacts::from_custom(spec, &Value::Null)
                    .expect("an object with no fields has facts")
            })
        });
        let meta = object.get("metadata");
        let text = |key: &str| {
            meta.and_then(|m| m.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Self {
            metadata: ObjectMeta {
                name: text("name"),
                namespace: text("namespace"),
                resource_version: text("resourceVersion"),
                uid: text("uid"),
                ..ObjectMeta::default()
            },
            facts: Arc::new(facts),
        }
    }
}

/// Read from the object's own `apiVersion` and `kind`: the watch of each custom kind yields its
/// objects as this one type.
impl<'de> Deserialize<'de> for CustomWorkload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let object = Value::deserialize(d)?;
        let field = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
        match WorkloadKind::from_type(field("apiVersion"), field("kind")) {
            Some(WorkloadKind::Custom(spec)) => Ok(Self::new(spec, &object)),
            _ => Err(serde::de::Error::custom(format!(
                "{} {} is not a governed custom kind",
                field("apiVersion"),
                field("kind")
            ))),
        }
    }
}

impl kube::Resource for CustomWorkload {
    type DynamicType = ApiResource;
    type Scope = kube::core::DynamicResourceScope;

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// One custom kind's store, and where its API is served once its CRD is found.
#[derive(Clone)]
pub struct CustomStore {
    /// The kind.
    pub kind: WorkloadKind,
    /// Its objects, keyed by [`api_resource`].
    pub store: Store<CustomWorkload>,
    /// The kind as the API serves it, set once its CRD is Established.
    pub served: Arc<OnceLock<ApiResource>>,
}

impl CustomStore {
    /// A store that holds nothing and will hold nothing (a kind not watched), ready at once.
    pub fn unwatched(spec: &'static KindSpec) -> Self {
        let mut writer = reflector::store::Writer::new(api_resource(spec));
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
        Self {
            kind: WorkloadKind::Custom(spec),
            store: writer.as_reader(),
            served: Arc::default(),
        }
    }

    /// The stored object `name` in `namespace`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<CustomWorkload>> {
        let spec = self.kind.spec()?;
        self.store
            .get(&reflector::ObjectRef::new_with(name, api_resource(spec)).within(namespace))
    }

    /// The kind as the API serves it, or at the manifests' version before its CRD was found.
    pub fn resource(&self) -> Option<ApiResource> {
        let spec = self.kind.spec()?;
        Some(
            self.served
                .get()
                .cloned()
                .unwrap_or_else(|| api_resource(spec)),
        )
    }
}

/// A store of one custom kind and the reflected watch stream that fills it. The stream waits until
/// `installed` reports the kind's CRD Established, then watches the version it serves.
pub fn reflect(
    client: Client,
    spec: &'static KindSpec,
    installed: Installed,
) -> (
    CustomStore,
    impl Stream<Item = Result<CustomWorkload, watcher::Error>> + Send,
) {
    let writer = reflector::store::Writer::new(api_resource(spec));
    let store = writer.as_reader();
    let served = Arc::new(OnceLock::new());
    let wait = {
        let served = served.clone();
        async move {
            let resource = installed.served(spec).await?;
            tracing::info!(kind = %spec.kind, version = %resource.version, "watching");
            let _ = served.set(resource.clone());
            Some(resource)
        }
    };
    let stream = futures::stream::once(wait)
        .filter_map(futures::future::ready)
        .flat_map(move |resource| {
            watcher(
                Api::<CustomWorkload>::all_with(client.clone(), &resource),
                watcher::Config::default(),
            )
            .default_backoff()
        })
        .boxed();
    (
        CustomStore {
            kind: WorkloadKind::Custom(spec),
            store,
            served,
        },
        reflector::reflector(writer, stream).touched_objects(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_custom_object_is_stored_as_its_facts() {
        let lws = json!({
            "apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
            "metadata": {"name": "vllm", "namespace": "chat", "resourceVersion": "7",
                         "labels": {"aims.dev/system": "chat"}, "managedFields": [{"manager": "x"}]},
            "spec": {"replicas": 2, "leaderWorkerTemplate": {
                "size": 2,
                "leaderTemplate": {"spec": {"containers": [{"name": "leader", "image": "vllm/vllm-openai:v0.9.1"}]}},
                "workerTemplate": {"spec": {"containers": [{"name": "worker", "image": "vllm/vllm-openai:v0.9.1"}]}}
            }}
        });
        let stored: CustomWorkload = serde_json::from_value(lws).unwrap();
        assert_eq!(stored.metadata.name.as_deref(), Some("vllm"));
        assert_eq!(stored.metadata.resource_version.as_deref(), Some("7"));
        assert!(stored.metadata.managed_fields.is_none());
        assert_eq!(stored.facts.display_name(), "LeaderWorkerSet/vllm");
        assert_eq!(stored.facts.replicas, Some(2));
        assert_eq!(stored.facts.containers.len(), 2);
    }

    #[test]
    fn a_malformed_object_keeps_its_metadata_and_does_not_stop_the_watch() {
        let bad = json!({
            "apiVersion": "ray.io/v1", "kind": "RayCluster",
            "metadata": {"name": "r", "namespace": "n", "labels": {"aims.dev/system": "s"}},
            "spec": {"headGroupSpec": {"template": {"spec": {"containers": "not a list"}}}}
        });
        let stored: CustomWorkload = serde_json::from_value(bad).unwrap();
        assert_eq!(stored.facts.system_label(), Some("s"));
        assert!(stored.facts.containers.is_empty());
        let other: Result<CustomWorkload, _> =
            serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap"}));
        assert!(other.is_err());
    }
}
