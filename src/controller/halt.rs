//! The stop button, carried out: the steps `engine::halt::plan` makes are written to the API. The
//! operator writes only the scale subresource of the scalable kinds, `spec.suspend` of CronJobs
//! and Jobs, the one node-selector entry of DaemonSets, and of a custom kind the one field or
//! annotation its row's `halt` names.

use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams},
};
use serde_json::json;

use super::{Error, FIELD_MANAGER};
use crate::{
    cluster::Stores,
    engine::{
        halt::{HALT_NODE_LABEL, Step},
        kinds::Halt,
        workload::WorkloadKind,
    },
};

/// Writes the one field or annotation of a custom kind's object that a step changes.
async fn patch_custom(
    client: &Client,
    stores: &Stores,
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
    value: serde_json::Value,
) -> Result<(), Error> {
    let (Some(spec), Some(resource)) =
        (kind.spec(), stores.custom(kind).and_then(|c| c.resource()))
    else {
        return Ok(());
    };
    let api = Api::<DynamicObject>::namespaced_with(client.clone(), namespace, &resource);
    let pp = PatchParams::apply(FIELD_MANAGER);
    let patch = match &spec.halt {
        Halt::Scale {} => {
            api.patch_scale(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": value}})),
            )
            .await?;
            return Ok(());
        }
        Halt::Replicas {} => spec
            .replicas
            .as_ref()
            .and_then(|r| r.path.merge_patch(value)),
        Halt::Suspend { path } => path.merge_patch(value),
        Halt::Annotation { key, value: on } => {
            let value = if value == json!(true) {
                json!(on)
            } else {
                json!(null)
            };
            Some(json!({"metadata": {"annotations": {key: value}}}))
        }
        Halt::Through { .. } => None,
    };
    if let Some(patch) = patch {
        api.patch(name, &pp, &Patch::Merge(patch)).await?;
    }
    Ok(())
}

/// Carries out the steps in `namespace`.
pub async fn apply(
    client: &Client,
    stores: &Stores,
    namespace: &str,
    steps: &[Step],
) -> Result<(), Error> {
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
                    WorkloadKind::Custom(_) => {
                        patch_custom(client, stores, namespace, *kind, name, json!(replicas))
                            .await?;
                    }
                    _ => {
                        Api::<StatefulSet>::namespaced(client.clone(), namespace)
                            .patch_scale(name, &pp, &patch)
                            .await?;
                    }
                }
            }
            Step::Stop { kind, name, stop } => {
                patch_custom(client, stores, namespace, *kind, name, json!(stop)).await?;
            }
            Step::Suspend {
                kind,
                name,
                suspend,
            } => {
                let pp = PatchParams::apply(FIELD_MANAGER);
                let patch = Patch::Merge(json!({"spec": {"suspend": suspend}}));
                if let WorkloadKind::Custom(_) = kind {
                    patch_custom(client, stores, namespace, *kind, name, json!(suspend)).await?;
                } else if *kind == WorkloadKind::Job {
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
