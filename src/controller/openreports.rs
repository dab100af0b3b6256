//! OpenReports: when the `reports.openreports.io` CRD is installed (the CRD watch says so,
//! [`crate::cluster::crds::REPORTS_CRD`]), each AISystem's evaluation is also written as
//! `openreports.io` `Report`s in its namespace, for Policy Reporter and the other readers of
//! policy reports: one for the system (owned by the AISystem) and one per workload of the system
//! (owned by the workload), their results built by [`crate::engine::report::openreports`].
//!
//! Only the leader writes, by server-side apply under the operator's field manager, and only a
//! report whose content differs from the stored one: the operator's reports of the system are
//! listed (by their label and annotation) once per evaluation and compared. A report whose
//! workload has left the system, or is gone, is deleted. Each write and delete is counted
//! (`aims_openreports_writes_total{operation}`). Without the CRD nothing is read or written.

use std::sync::Arc;

use kube::{
    Api, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Context;
use crate::{
    api::AISystem,
    cluster::crds::REPORTS_CRD,
    engine::{
        evaluate::Evaluation,
        report::openreports::{self, Contents},
        workload::WorkloadFacts,
    },
};

/// The label every report the operator writes carries, with [`MANAGED_BY`].
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`] on the operator's reports.
pub const MANAGED_BY: &str = "aims-operator";
/// The annotation naming the AISystem a report belongs to.
pub const SYSTEM_ANNOTATION: &str = "aims.dev/system";
/// The longest name the API accepts.
const MAX_NAME: usize = 253;

/// Writes the reports of `system` from its `evaluation`, its workloads among `workloads`, and
/// deletes those it no longer has. Does nothing unless the CRD is installed and this replica may
/// write. A failure is logged and counted, never fatal: the next evaluation tries again.
pub async fn sync(
    ctx: &Context,
    system: &AISystem,
    evaluation: &Evaluation,
    workloads: &[Arc<WorkloadFacts>],
) {
    let Some(resource) = ctx.stores.installed.now(REPORTS_CRD) else {
        return;
    };
    if !ctx.may_write() {
        return;
    }
    let desired = desired(ctx, &resource, system, evaluation, workloads);
    // What this replica last wrote for the system: when nothing changed, not even a list.
    let key = (system.namespace().unwrap_or_default(), system.name_any());
    let digest = Sha256::digest(serde_json::to_vec(&desired).unwrap_or_default()).to_vec();
    if ctx.reports_written.fresh(&key, &digest) {
        return;
    }
    match write(ctx, &resource, system, desired).await {
        Ok(()) => ctx.reports_written.set(key, digest),
        Err(error) => {
            tracing::warn!(%error, system = %system.name_any(), "cannot write the OpenReports reports");
            ctx.metrics.reconcile_error("openreports", "kube");
        }
    }
}

/// The reports `system` should have, by name.
fn desired(
    ctx: &Context,
    resource: &ApiResource,
    system: &AISystem,
    evaluation: &Evaluation,
    workloads: &[Arc<WorkloadFacts>],
) -> Vec<(String, Value)> {
    let namespace = system.namespace().unwrap_or_default();
    let name = system.name_any();
    let system_ref = json!({
        "apiVersion": "aims.dev/v1alpha1",
        "kind": "AISystem",
        "name": name,
        "namespace": namespace,
        "uid": system.uid(),
    });
    let mut reports = vec![report(
        resource,
        &name,
        &report_name(&["aisystem", &name]),
        &system_ref,
        openreports::system(&ctx.catalog, system, evaluation),
    )];
    for verdict in &evaluation.workloads {
        let Some(w) = workloads
            .iter()
            .find(|w| w.display_name() == verdict.workload)
        else {
            continue;
        };
        // A custom kind at the version its CRD serves: the one the garbage collector resolves.
        let api_version = ctx
            .stores
            .custom(w.kind)
            .and_then(|c| c.resource())
            .map_or_else(|| w.kind.api_version(), |r| r.api_version);
        let scope = json!({
            "apiVersion": api_version,
            "kind": w.kind.to_string(),
            "name": w.name,
            "namespace": w.namespace,
            "uid": ctx.stores.uid_of(w),
        });
        let kind = w.kind.to_string().to_lowercase();
        reports.push(report(
            resource,
            &name,
            &report_name(&[&kind, &w.name, &name]),
            &scope,
            openreports::workload(&ctx.catalog, system, evaluation, verdict),
        ));
    }
    reports
}

/// One report of `system`, named `name`, about `scope` (its owner, when its uid is known).
fn report(
    resource: &ApiResource,
    system: &str,
    name: &str,
    scope: &Value,
    contents: Contents,
) -> (String, Value) {
    let scope = without_nulls(scope);
    let owners = match scope.get("uid") {
        Some(uid) => json!([{
            "apiVersion": scope["apiVersion"],
            "kind": scope["kind"],
            "name": scope["name"],
            "uid": uid,
        }]),
        None => json!([]),
    };
    let object = json!({
        "apiVersion": resource.api_version,
        "kind": resource.kind,
        "metadata": {
            "name": name,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY},
            "annotations": {SYSTEM_ANNOTATION: system},
            "ownerReferences": owners,
        },
        "scope": scope,
        "source": openreports::SOURCE,
        "summary": contents.summary,
        "results": contents.results,
    });
    (name.to_owned(), object)
}

/// `value` without its null fields.
fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A report's name: `aims-` and `parts` joined by `-`, cut to fit with a hash of the whole when
/// it is too long or could be read as another's (a part with a `-` in it): distinct parts give
/// distinct names.
pub fn report_name(parts: &[&str]) -> String {
    let plain = format!("aims-{}", parts.join("-"));
    if parts.len() == 2 && plain.len() <= MAX_NAME {
        // `aims-aisystem-<name>`: one free part, nothing to confuse it with.
        return plain;
    }
    let digest = Sha256::digest(parts.join("/").as_bytes());
    let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let mut head: String = plain.chars().take(MAX_NAME - hash.len() - 1).collect();
    while head.ends_with(['-', '.']) {
        head.pop();
    }
    format!("{head}-{hash}")
}

/// Applies each of `desired` that differs from what is stored, and deletes the operator's other
/// reports of `system`, and those of the namespace's systems that no longer exist (a deleted
/// AISystem's workloads outlive it, and so would their reports).
async fn write(
    ctx: &Context,
    resource: &ApiResource,
    system: &AISystem,
    desired: Vec<(String, Value)>,
) -> Result<(), kube::Error> {
    let namespace = system.namespace().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &namespace, resource);
    let name = system.name_any();
    let exists = |other: &str| {
        let key = kube::runtime::reflector::ObjectRef::new(other).within(&namespace);
        other == name || ctx.stores.systems.get(&key).is_some()
    };
    let stored: Vec<DynamicObject> = api
        .list(&ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY}")))
        .await?
        .items
        .into_iter()
        .filter(|r| {
            r.annotations()
                .get(SYSTEM_ANNOTATION)
                .is_some_and(|s| *s == name || !exists(s))
        })
        .collect();
    let params = PatchParams::apply(super::FIELD_MANAGER).force();
    for (name, object) in &desired {
        let current = stored.iter().find(|r| r.name_any() == *name);
        if current.is_some_and(|c| same(c, object)) {
            continue;
        }
        api.patch(name, &params, &Patch::Apply(object)).await?;
        ctx.metrics.report_write("apply");
        tracing::debug!(report = %name, "report written");
    }
    for gone in stored
        .iter()
        .filter(|r| !desired.iter().any(|(name, _)| *name == r.name_any()))
    {
        match api.delete(&gone.name_any(), &DeleteParams::default()).await {
            Ok(_) => {
                ctx.metrics.report_write("delete");
                tracing::debug!(report = %gone.name_any(), "report deleted");
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether the stored report `current` already says what `desired` says.
fn same(current: &DynamicObject, desired: &Value) -> bool {
    let meta = &current.metadata;
    let owners = serde_json::to_value(meta.owner_references.clone().unwrap_or_default())
        .unwrap_or(Value::Null);
    meta.labels
        .as_ref()
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .is_some_and(|v| v == MANAGED_BY)
        && owners == desired["metadata"]["ownerReferences"]
        && ["scope", "source", "summary", "results"]
            .iter()
            .all(|field| current.data.get(*field).unwrap_or(&Value::Null) == &desired[*field])
}

#[cfg(test)]
mod tests;
