//! The stop button, carried out: the steps `engine::halt::plan` makes are written to the API. The
//! operator writes only the scale subresource of the scalable kinds, `spec.suspend` of CronJobs
//! and Jobs, KServe's stop annotation and the one node-selector entry of DaemonSets.

use kube::{
    Api, Client,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::{Error, FIELD_MANAGER};
use crate::engine::halt::{HALT_NODE_LABEL, KSERVE_STOP, Step};
use crate::engine::workload::WorkloadKind;

/// Carries out the steps in `namespace`.
pub async fn apply(client: &Client, namespace: &str, steps: &[Step]) -> Result<(), Error> {
    use k8s_openapi::api::{
        apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
        batch::v1::{CronJob, Job},
        core::v1::{Pod, ReplicationController},
    };
    let pp = PatchParams::default();
    for step in steps {
        match step {
            Step::Scale {
                kind,
                name,
                replicas,
            } => {
                let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
                match kind {
                    WorkloadKind::Deployment => {
                        Api::<Deployment>::namespaced(client.clone(), namespace)
                            .patch_scale(name, &pp, &patch)
                            .await?;
                    }
                    WorkloadKind::ReplicaSet => {
                        Api::<ReplicaSet>::namespaced(client.clone(), namespace)
                            .patch_scale(name, &pp, &patch)
                            .await?;
                    }
                    WorkloadKind::ReplicationController => {
                        Api::<ReplicationController>::namespaced(client.clone(), namespace)
                            .patch_scale(name, &pp, &patch)
                            .await?;
                    }
                    _ => {
                        Api::<StatefulSet>::namespaced(client.clone(), namespace)
                            .patch_scale(name, &pp, &patch)
                            .await?;
                    }
                }
            }
            Step::Stop { name, stop } => {
                let value = if *stop { json!("true") } else { json!(null) };
                Api::<kube::api::DynamicObject>::namespaced_with(
                    client.clone(),
                    namespace,
                    &crate::cluster::kserve::api_resource(),
                )
                .patch(
                    name,
                    &pp,
                    &Patch::Merge(json!({"metadata": {"annotations": {KSERVE_STOP: value}}})),
                )
                .await?;
            }
            Step::Suspend {
                kind,
                name,
                suspend,
            } => {
                let pp = PatchParams::apply(FIELD_MANAGER);
                let patch = Patch::Merge(json!({"spec": {"suspend": suspend}}));
                if *kind == WorkloadKind::Job {
                    Api::<Job>::namespaced(client.clone(), namespace)
                        .patch(name, &pp, &patch)
                        .await?;
                } else {
                    Api::<CronJob>::namespaced(client.clone(), namespace)
                        .patch(name, &pp, &patch)
                        .await?;
                }
            }
            Step::Park { name, park } => {
                let value = if *park { json!("true") } else { json!(null) };
                let patch = json!({"spec": {"template": {"spec": {"nodeSelector": {HALT_NODE_LABEL: value}}}}});
                Api::<DaemonSet>::namespaced(client.clone(), namespace)
                    .patch(
                        name,
                        &PatchParams::apply(FIELD_MANAGER),
                        &Patch::Merge(patch),
                    )
                    .await?;
            }
            Step::Delete { name } => {
                match Api::<Pod>::namespaced(client.clone(), namespace)
                    .delete(name, &Default::default())
                    .await
                {
                    // Gone already: what the step wanted.
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    other => {
                        other?;
                    }
                }
            }
        }
    }
    Ok(())
}
