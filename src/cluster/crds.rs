//! Which governed custom-resource kinds are installed, and at which version: one watch of the
//! cluster's CRDs, each read for its name, served versions and `Established` condition alone (a
//! CRD's schema is most of it, and is skipped while reading). Each custom kind's watch waits here
//! until its CRD is Established, so a kind installed after the operator started is picked up at
//! once, without a request per kind and per poll. The same watch says whether OpenReports'
//! `Report` kind ([`REPORTS_CRD`]) is installed, for the reports the controller writes there.

use std::{borrow::Cow, collections::BTreeMap, sync::Arc};

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    Api, Client,
    api::{ApiResource, GroupVersionKind},
    runtime::{WatchStreamExt, watcher},
};
use serde::Deserialize;
use tokio::sync::watch;

use crate::engine::kinds::{self, KindSpec};

/// A CRD, as much of it as says where its kind is served.
#[derive(Clone, Debug, Deserialize)]
pub struct CrdSummary {
    metadata: ObjectMeta,
    #[serde(default)]
    spec: SummarySpec,
    #[serde(default)]
    status: Option<SummaryStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct SummarySpec {
    #[serde(default)]
    versions: Vec<SummaryVersion>,
}

/// One version of a CRD.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SummaryVersion {
    /// Its name (`v1`).
    pub name: String,
    /// Whether the API serves it.
    #[serde(default)]
    pub served: bool,
    /// Whether objects are stored in it.
    #[serde(default)]
    pub storage: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct SummaryStatus {
    #[serde(default)]
    conditions: Vec<SummaryCondition>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct SummaryCondition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
}

impl CrdSummary {
    /// Where it serves `spec`'s kind, when it is Established.
    pub fn serving(&self, spec: &KindSpec) -> Option<ApiResource> {
        self.established()
            .then(|| serving_version(spec, &self.spec.versions))
            .flatten()
    }

    fn established(&self) -> bool {
        self.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
    }
}

impl kube::Resource for CrdSummary {
    type DynamicType = ();
    type Scope = kube::core::ClusterResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "CustomResourceDefinition".into()
    }

    fn group(_: &()) -> Cow<'_, str> {
        "apiextensions.k8s.io".into()
    }

    fn version(_: &()) -> Cow<'_, str> {
        "v1".into()
    }

    fn api_version(_: &()) -> Cow<'_, str> {
        "apiextensions.k8s.io/v1".into()
    }

    fn plural(_: &()) -> Cow<'_, str> {
        "customresourcedefinitions".into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The CRD's name of a kind: `<plural>.<group>`.
pub fn crd_name(spec: &KindSpec) -> String {
    format!("{}.{}", spec.plural, spec.group)
}

/// Where the API serves `spec`'s kind, given its CRD's versions: the row's version when it is
/// served, else the stored one, else any served one. The fields a row reads are the same in each.
pub fn serving_version(spec: &KindSpec, versions: &[SummaryVersion]) -> Option<ApiResource> {
    serving(
        &spec.group,
        &spec.kind,
        &spec.plural,
        &spec.version,
        versions,
    )
}

/// Where the API serves a kind of `group`: at `preferred` when it is served, else at the stored
/// version, else at any served one.
fn serving(
    group: &str,
    kind: &str,
    plural: &str,
    preferred: &str,
    versions: &[SummaryVersion],
) -> Option<ApiResource> {
    let version = versions
        .iter()
        .find(|v| v.served && v.name == preferred)
        .or_else(|| versions.iter().find(|v| v.served && v.storage))
        .or_else(|| versions.iter().find(|v| v.served))?;
    Some(ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, &version.name, kind),
        plural,
    ))
}

/// The CRD of OpenReports' namespaced `Report` (`openreports.io`), which the operator writes its
/// results to when it is installed.
pub const REPORTS_CRD: &str = "reports.openreports.io";

/// Where the API serves OpenReports' `Report`, given its CRD's versions (`v1alpha1` preferred).
fn reports_serving(versions: &[SummaryVersion]) -> Option<ApiResource> {
    serving("openreports.io", "Report", "reports", "v1alpha1", versions)
}

/// What the CRD watch has seen: each installed governed kind's CRD name (and [`REPORTS_CRD`]'s),
/// and where it is served.
pub type Served = BTreeMap<String, ApiResource>;

/// The governed kinds installed now, as the CRD watch reports them; `None` until its first list.
#[derive(Clone, Debug)]
pub struct Installed(watch::Receiver<Option<Arc<Served>>>);

impl Installed {
    /// A view that never changes: no CRD watch runs (tests, a process without a cluster). Its
    /// kinds are `served`, listed at once.
    pub fn fixed(served: Served) -> Self {
        let (tx, rx) = watch::channel(Some(Arc::new(served)));
        // The receiver keeps the last value after the sender is gone.
        drop(tx);
        Self(rx)
    }

    /// Where `spec`'s kind is served, once its CRD is Established: waits until it is, for as long
    /// as it takes. `None` if the watch is gone (shutdown).
    pub async fn served(&self, spec: &KindSpec) -> Option<ApiResource> {
        let name = crd_name(spec);
        let mut rx = self.0.clone();
        let seen = rx
            .wait_for(|s| s.as_ref().is_some_and(|s| s.contains_key(&name)))
            .await
            .ok()?;
        seen.as_ref().and_then(|s| s.get(&name).cloned())
    }

    /// Where the CRD named `crd` serves its kind right now, if it is installed and Established:
    /// `None` as well before the first list. Never waits.
    pub fn now(&self, crd: &str) -> Option<ApiResource> {
        self.0
            .borrow()
            .as_ref()
            .and_then(|served| served.get(crd).cloned())
    }

    /// Yields each time the CRD named `crd` goes from absent to installed, once the CRDs have been
    /// listed (a CRD already there at the first list is not news): for a controller to evaluate
    /// everything again (`Controller::reconcile_all_on`). Ends when the watch does.
    pub fn appeared(&self, crd: &'static str) -> impl futures::Stream<Item = ()> + Send + 'static {
        futures::stream::unfold(
            (self.0.clone(), None::<bool>),
            move |(mut rx, mut was)| async move {
                loop {
                    let now = rx.borrow_and_update().as_ref().map(|s| s.contains_key(crd));
                    let news = was == Some(false) && now == Some(true);
                    was = now.or(was);
                    if news {
                        return Some(((), (rx, was)));
                    }
                    rx.changed().await.ok()?;
                }
            },
        )
    }

    /// Once the CRDs have been listed, the governed kinds installed at that moment.
    pub async fn listed(&self) -> Arc<Served> {
        let mut rx = self.0.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(seen) => seen.clone().unwrap_or_default(),
            Err(_) => Arc::default(),
        }
    }
}

/// The watch of the cluster's CRDs and what it reports. The future must be polled (it is one of
/// the operator's tasks) for [`Installed`] to change; it runs until the process ends.
pub fn watch_crds(client: Client) -> (Installed, futures::future::BoxFuture<'static, ()>) {
    let (tx, rx) = watch::channel(None);
    let task = async move {
        let rows = kinds::installed();
        let mut served = Served::new();
        let mut listing = Served::new();
        let mut events = watcher(Api::<CrdSummary>::all(client), watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            let changed = match event {
                Ok(watcher::Event::Init) => {
                    listing.clear();
                    false
                }
                Ok(watcher::Event::InitApply(crd)) => {
                    apply(rows, &mut listing, &crd);
                    false
                }
                Ok(watcher::Event::InitDone) => {
                    served = std::mem::take(&mut listing);
                    true
                }
                Ok(watcher::Event::Apply(crd)) => apply(rows, &mut served, &crd),
                Ok(watcher::Event::Delete(crd)) => served
                    .remove(crd.metadata.name.as_deref().unwrap_or_default())
                    .is_some(),
                Err(error) => {
                    tracing::warn!(%error, "the CRD watch failed; retrying");
                    false
                }
            };
            if changed {
                for (crd, resource) in &served {
                    tracing::debug!(%crd, version = %resource.version, "installed");
                }
                tx.send_replace(Some(Arc::new(served.clone())));
            }
        }
    };
    (Installed(rx), Box::pin(task))
}

/// Records `crd` in `served` when it is a governed kind's (or OpenReports' `Report`) and
/// Established; says whether that changed anything.
fn apply(rows: &[KindSpec], served: &mut Served, crd: &CrdSummary) -> bool {
    let name = crd.metadata.name.clone().unwrap_or_default();
    let now = if name == REPORTS_CRD {
        crd.established()
            .then(|| reports_serving(&crd.spec.versions))
            .flatten()
    } else {
        rows.iter()
            .find(|k| crd_name(k) == name)
            .and_then(|k| crd.serving(k))
    };
    let before = served.get(&name).map(|r| r.version.clone());
    match now {
        Some(resource) => {
            let changed = before.as_deref() != Some(resource.version.as_str());
            served.insert(name, resource);
            changed
        }
        None => served.remove(&name).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn crd(name: &str, versions: serde_json::Value, established: bool) -> CrdSummary {
        serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {"group": "x", "names": {"kind": "X", "plural": "xs"}, "scope": "Namespaced",
                     "versions": versions},
            "status": {"conditions": [{"type": "Established", "status": if established { "True" } else { "False" }}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_governed_kind_is_served_once_its_crd_is_established_at_the_version_it_serves() {
        let rows = kinds::builtin();
        let mut served = Served::new();
        let lws = "leaderworkersets.leaderworkerset.x-k8s.io";
        let v1 = json!([{"name": "v1", "served": true, "storage": true}]);
        assert!(!apply(&rows, &mut served, &crd(lws, v1.clone(), false)));
        assert!(served.is_empty());
        assert!(apply(&rows, &mut served, &crd(lws, v1.clone(), true)));
        assert_eq!(served[lws].api_version, "leaderworkerset.x-k8s.io/v1");
        assert!(!apply(&rows, &mut served, &crd(lws, v1, true)), "no change");
        // Served only at another version: that one.
        let llm = "llminferenceservices.serving.kserve.io";
        let v2 = json!([{"name": "v1alpha1", "served": false, "storage": false},
                        {"name": "v1alpha2", "served": true, "storage": true}]);
        assert!(apply(&rows, &mut served, &crd(llm, v2, true)));
        assert_eq!(served[llm].version, "v1alpha2");
        // Not a governed kind's CRD.
        let other = json!([{"name": "v1", "served": true, "storage": true}]);
        assert!(!apply(
            &rows,
            &mut served,
            &crd("widgets.example.com", other, true)
        ));
        assert_eq!(served.len(), 2);
    }

    #[test]
    fn the_openreports_crd_is_served_once_established() {
        let rows = kinds::builtin();
        let mut served = Served::new();
        let v1alpha1 = json!([{"name": "v1alpha1", "served": true, "storage": true}]);
        assert!(!apply(
            &rows,
            &mut served,
            &crd(REPORTS_CRD, v1alpha1.clone(), false)
        ));
        assert!(apply(&rows, &mut served, &crd(REPORTS_CRD, v1alpha1, true)));
        let reports = &served[REPORTS_CRD];
        assert_eq!(reports.api_version, "openreports.io/v1alpha1");
        assert_eq!(
            (reports.kind.as_str(), reports.plural.as_str()),
            ("Report", "reports")
        );
        let installed = Installed::fixed(served);
        assert_eq!(installed.now(REPORTS_CRD).unwrap().version, "v1alpha1");
        assert!(installed.now("clusterreports.openreports.io").is_none());
    }

    #[tokio::test]
    async fn a_crd_installed_after_the_first_list_is_news_once() {
        let (tx, rx) = watch::channel(None);
        let installed = Installed(rx);
        let mut appeared = Box::pin(installed.appeared(REPORTS_CRD));
        let with = |crds: &[&str]| {
            let mut served = Served::new();
            for crd in crds {
                served.insert((*crd).to_owned(), ApiResource::erase::<CrdSummary>(&()));
            }
            Some(Arc::new(served))
        };
        let next = |s: &mut std::pin::Pin<Box<_>>| {
            futures::FutureExt::now_or_never(futures::StreamExt::next(s))
        };
        assert_eq!(next(&mut appeared), None, "not listed yet");
        tx.send_replace(with(&[]));
        assert_eq!(next(&mut appeared), None, "listed, absent");
        tx.send_replace(with(&["rayclusters.ray.io"]));
        assert_eq!(next(&mut appeared), None, "another CRD");
        tx.send_replace(with(&[REPORTS_CRD]));
        assert_eq!(next(&mut appeared), Some(Some(())), "installed");
        tx.send_replace(with(&[REPORTS_CRD, "rayclusters.ray.io"]));
        assert_eq!(next(&mut appeared), None, "still there");
        tx.send_replace(with(&[]));
        assert_eq!(next(&mut appeared), None, "removed");
        tx.send_replace(with(&[REPORTS_CRD]));
        assert_eq!(next(&mut appeared), Some(Some(())), "installed again");
        drop(tx);
        assert_eq!(next(&mut appeared), Some(None), "the watch is gone");

        // Already there at the first list: not news.
        let (tx, rx) = watch::channel(None);
        let mut appeared = Box::pin(Installed(rx).appeared(REPORTS_CRD));
        tx.send_replace(with(&[REPORTS_CRD]));
        assert_eq!(next(&mut appeared), None);
    }

    #[test]
    fn a_crd_is_read_without_its_schema() {
        let big = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "rayclusters.ray.io"},
            "spec": {"versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}}}]},
            "status": {"conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}]}
        });
        let summary: CrdSummary = serde_json::from_value(big).unwrap();
        assert!(summary.established());
        assert_eq!(summary.spec.versions[0].name, "v1");
    }

    #[tokio::test]
    async fn a_fixed_view_answers_at_once() {
        let spec = kinds::find("ray.io", "RayCluster").unwrap();
        let mut served = Served::new();
        served.insert(
            crd_name(spec),
            serving_version(
                spec,
                &[SummaryVersion {
                    name: "v1".into(),
                    served: true,
                    storage: true,
                }],
            )
            .unwrap(),
        );
        let installed = Installed::fixed(served);
        assert_eq!(installed.listed().await.len(), 1);
        assert_eq!(installed.served(spec).await.unwrap().version, "v1");
    }
}
