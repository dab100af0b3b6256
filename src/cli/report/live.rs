//! The records of a live cluster, as the documents `aims report` reads: the aims records, the
//! namespaces' labels and every governed workload, in one namespace or all.

use kube::{Api, api::ListParams};

use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment},
    cli::{
        connect::{ClusterError, Connection, Target},
        scan,
    },
    manifests::{Document, Object, Source},
};

/// Where a live document came from: the cluster, the nth object read.
fn source(n: usize) -> Source {
    Source {
        file: "cluster".to_owned(),
        document: n,
        line: 0,
    }
}

/// Lists `K` in `namespace` (every namespace when `None`).
async fn list<K>(
    c: &Connection,
    namespace: Option<&str>,
    kind: &'static str,
) -> Result<Vec<K>, ClusterError>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    scan::api::<K>(&c.client, namespace)
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .map_err(|e| c.classify(e, Target::list(kind, namespace)))
}

/// The records of `namespace` (of the cluster when `None`), and the cluster-wide bindings and
/// namespace labels that select them.
pub async fn documents(
    c: &Connection,
    namespace: Option<&str>,
) -> Result<Vec<Document>, ClusterError> {
    let mut objects = Vec::new();
    objects.extend(
        list::<AISystem>(c, namespace, "aisystem")
            .await?
            .into_iter()
            .map(Object::AISystem),
    );
    objects.extend(
        list::<RiskAssessment>(c, namespace, "riskassessment")
            .await?
            .into_iter()
            .map(Object::RiskAssessment),
    );
    objects.extend(
        list::<ControlBinding>(c, namespace, "controlbinding")
            .await?
            .into_iter()
            .map(Object::ControlBinding),
    );
    let cluster_bindings = Api::<ClusterControlBinding>::all(c.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| c.classify(e, Target::list("clustercontrolbinding", None)))?;
    objects.extend(
        cluster_bindings
            .into_iter()
            .map(Object::ClusterControlBinding),
    );
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(c.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| c.classify(e, Target::list("namespace", None)))?;
    objects.extend(namespaces.into_iter().map(|n| Object::Namespace {
        name: n.metadata.name.unwrap_or_default(),
        labels: n.metadata.labels.unwrap_or_default(),
    }));
    let workloads = scan::workloads(&c.client, namespace)
        .await
        .map_err(|e| c.classify(e, Target::list("workload", namespace)))?;
    objects.extend(workloads.into_iter().map(Object::Workload));
    Ok(objects
        .into_iter()
        .enumerate()
        .map(|(i, object)| Document {
            source: source(i + 1),
            object,
        })
        .collect())
}
