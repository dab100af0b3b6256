//! `aims scan`: the unregistered model workloads of a live cluster, with the reasons they look like
//! model serving.

use kube::{Api, Client, api::ListParams};
use serde::Serialize;

use crate::{
    api::AISystem,
    cluster::custom::{self, CustomWorkload},
    engine::{detect::Detector, membership, workload::WorkloadFacts},
};

/// One unregistered model workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnregisteredRow {
    /// Its namespace.
    pub namespace: String,
    /// `Kind/name`.
    pub workload: String,
    /// Why it looks like model serving.
    pub reasons: Vec<String>,
}

/// The API of `K` in `namespace`, or in every namespace.
pub(crate) fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

async fn list<K>(
    client: &Client,
    namespace: Option<&str>,
    facts: impl Fn(&K) -> WorkloadFacts,
) -> Result<Vec<WorkloadFacts>, kube::Error>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    Ok(api::<K>(client, namespace)
        .list(&ListParams::default())
        .await?
        .iter()
        .map(facts)
        .collect())
}

/// Every governed workload of `namespace` (of the cluster when `None`), as its facts: those a
/// governed kind controls are left out (their owner is the workload). The custom kinds whose CRDs
/// are installed are included.
pub async fn workloads(
    client: &Client,
    namespace: Option<&str>,
) -> Result<Vec<WorkloadFacts>, kube::Error> {
    let mut workloads = Vec::new();
    workloads.extend(list(client, namespace, WorkloadFacts::from_deployment).await?);
    workloads.extend(list(client, namespace, WorkloadFacts::from_stateful_set).await?);
    workloads.extend(list(client, namespace, WorkloadFacts::from_daemon_set).await?);
    workloads.extend(list(client, namespace, WorkloadFacts::from_cron_job).await?);
    workloads.extend(
        list(
            client,
            namespace,
            WorkloadFacts::from_replication_controller,
        )
        .await?,
    );
    workloads.extend(
        list(client, namespace, WorkloadFacts::from_replica_set)
            .await?
            .into_iter()
            .filter(|w| !w.controlled),
    );
    workloads.extend(
        list(client, namespace, WorkloadFacts::from_job)
            .await?
            .into_iter()
            .filter(|w| !w.controlled),
    );
    workloads.extend(
        list(client, namespace, WorkloadFacts::from_pod)
            .await?
            .into_iter()
            .filter(|w| !w.controlled),
    );
    // Each custom kind whose CRD is installed.
    for spec in crate::engine::kinds::installed() {
        let Some(resource) = custom::served(client, spec).await? else {
            continue;
        };
        let objects = match namespace {
            Some(ns) => Api::<CustomWorkload>::namespaced_with(client.clone(), ns, &resource),
            None => Api::<CustomWorkload>::all_with(client.clone(), &resource),
        };
        match objects.list(&ListParams::default()).await {
            Ok(list) => workloads.extend(list.into_iter().map(|o| WorkloadFacts::clone(&o.facts))),
            // Removed since it was found.
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(workloads)
}

/// Lists every governed workload of `namespace` (of the cluster when `None`) and returns those
/// that look like model serving and belong to no AISystem. The custom kinds whose CRDs are
/// installed are included.
pub async fn scan(
    client: &Client,
    namespace: Option<&str>,
    detector: &Detector,
) -> Result<Vec<UnregisteredRow>, kube::Error> {
    let systems = api::<AISystem>(client, namespace)
        .list(&ListParams::default())
        .await?
        .items;
    let workloads = workloads(client, namespace).await?;
    let refs: Vec<&AISystem> = systems.iter().collect();
    let mut rows: Vec<UnregisteredRow> = membership::unregistered(&refs, &workloads, detector)
        .into_iter()
        .map(|u| UnregisteredRow {
            namespace: u.workload.namespace.clone(),
            workload: u.workload.display_name(),
            reasons: u
                .detection
                .reasons
                .iter()
                .map(ToString::to_string)
                .collect(),
        })
        .collect();
    rows.sort_by(|a, b| (&a.namespace, &a.workload).cmp(&(&b.namespace, &b.workload)));
    Ok(rows)
}

/// The rows as a table.
pub fn table(rows: &[UnregisteredRow]) -> String {
    if rows.is_empty() {
        return "No unregistered model workloads found.\n".to_owned();
    }
    let width = |f: fn(&UnregisteredRow) -> usize, header: &str| {
        rows.iter().map(f).max().unwrap_or(0).max(header.len())
    };
    let (ns_w, wl_w) = (
        width(|r| r.namespace.len(), "NAMESPACE"),
        width(|r| r.workload.len(), "WORKLOAD"),
    );
    let mut out = format!("{:ns_w$}   {:wl_w$}   REASONS\n", "NAMESPACE", "WORKLOAD");
    for r in rows {
        out.push_str(&format!(
            "{:ns_w$}   {:wl_w$}   {}\n",
            r.namespace,
            r.workload,
            r.reasons.join("; ")
        ));
    }
    out
}
