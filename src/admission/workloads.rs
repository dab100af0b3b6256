//! `/validate/workloads`: the engine's verdict for a governed workload being created, updated or
//! scaled, read from the in-memory stores.

use k8s_openapi::api::autoscaling::v1::Scale;
use kube::{
    core::admission::Operation,
    runtime::reflector::{ObjectRef, Store},
};
use serde_json::value::RawValue;

use super::{Outcome, Webhook, config::is_control_plane, review};
use crate::{
    cluster::stored::Workload,
    engine::{
        admission::{
            Requester,
            workload::{WorkloadDecision, WorkloadRequest},
        },
        approval::Trust,
        decide::{self, Judge},
        evaluate::Verdict,
        workload::{WorkloadFacts, WorkloadKind},
    },
};

/// Answers one review of a governed workload.
pub fn validate(hook: &Webhook, req: &review::ReviewRequest) -> Outcome {
    if !matches!(req.operation, Operation::Create | Operation::Update) {
        return Outcome::allow(req);
    }
    let facts = if req.sub_resource.as_deref() == Some("scale") {
        scale_facts(hook, req)
    } else {
        read_facts(req)
    };
    let (new, old) = match facts {
        Ok(Some(pair)) => pair,
        Ok(None) => return Outcome::allow(req),
        Err(message) => return Outcome::deny(req, message),
    };
    let user = req.user_info.username.as_deref().unwrap_or_default();
    let groups = req.user_info.groups.clone().unwrap_or_default();
    if by_its_owner(&new, req, user, &groups) {
        return Outcome::allow(req);
    }
    let decision = decide(
        hook,
        &new,
        old.as_ref(),
        Requester {
            user,
            groups: &groups,
        },
    );
    let mut response = review::allow(req);
    match decision.verdict {
        Verdict::Deny => response = review::deny(req, decision.deny_message()),
        Verdict::Warn => response.warnings = Some(decision.warnings()),
        Verdict::Allow => {}
    }
    Outcome {
        response,
        decision: Some(decision),
    }
}

/// Whether the request is a governed controller's own write of an object it controls (a Pod of a
/// ReplicaSet, StatefulSet, DaemonSet, Job or ReplicationController; a ReplicaSet of a
/// Deployment), made by the control plane's controllers: the object is its reviewed owner's
/// template, so it is admitted unjudged, as the Pods webhook's match condition skips it. The same
/// object from anyone else (an owner reference is only a claim) is judged as itself, and so is an
/// ephemeral container added to any Pod.
fn by_its_owner(
    new: &WorkloadFacts,
    req: &review::ReviewRequest,
    user: &str,
    groups: &[String],
) -> bool {
    matches!(new.kind, WorkloadKind::Pod | WorkloadKind::ReplicaSet)
        && new.controlled
        && req.sub_resource.is_none()
        && is_control_plane(user, groups)
}

/// The engine's decision for `new` (and `old`, on an update) against what the stores hold now.
pub fn decide(
    hook: &Webhook,
    new: &WorkloadFacts,
    old: Option<&WorkloadFacts>,
    requester: Requester,
) -> WorkloadDecision {
    decide::workload(
        &hook.stores,
        &WorkloadRequest {
            workload: new,
            old,
            requester,
        },
        &Judge {
            catalog: &hook.catalog,
            trust: Trust::Verify(&hook.key),
            detector: &hook.detector,
            now: jiff::Timestamp::now(),
        },
        &hook.policy,
    )
}

/// The facts of a workload as the request would store it, and as it was (on an update).
pub type Facts = (WorkloadFacts, Option<WorkloadFacts>);

/// The facts of the workload under review, read from the request's objects alone. `None` for a
/// kind the engine does not govern.
pub fn read_facts(req: &review::ReviewRequest) -> Result<Option<Facts>, String> {
    let Some(kind) = WorkloadKind::from_group_kind(&req.kind.group, &req.kind.kind) else {
        return Ok(None);
    };
    let read = |raw: &RawValue| -> Result<WorkloadFacts, String> {
        // The API server has validated the object against its schema: only the fields the facts
        // come from are read.
        let mut facts = WorkloadFacts::from_validated_json(kind, raw.get())
            .map_err(|e| format!("cannot read the {kind}: {e}"))?;
        // A create may leave the namespace out of the object; the request names it.
        if facts.namespace.is_empty()
            && let Some(namespace) = &req.namespace
        {
            facts.namespace.clone_from(namespace);
        }
        Ok(facts)
    };
    let new = read(req.object_text()?)?;
    let old = req.old_object.as_deref().map(read).transpose()?;
    Ok(Some((new, old)))
}

/// A scale request names a Deployment, StatefulSet, ReplicaSet or ReplicationController and its
/// new replica count: the stored workload's facts with the replicas of the request.
fn scale_facts(hook: &Webhook, req: &review::ReviewRequest) -> Result<Option<Facts>, String> {
    let namespace = req.namespace.clone().unwrap_or_default();
    fn stored<K: kube::Resource<DynamicType = ()> + 'static>(
        store: &Store<Workload<K>>,
        name: &str,
        namespace: &str,
    ) -> Option<WorkloadFacts> {
        store
            .get(&ObjectRef::new(name).within(namespace))
            .map(|w| WorkloadFacts::clone(&w.facts))
    }
    let stores = &hook.stores;
    let (name, ns) = (req.name.as_str(), namespace.as_str());
    let stored = match (req.resource.group.as_str(), req.resource.resource.as_str()) {
        ("apps", "deployments") => stored(&stores.deployments, name, ns),
        ("apps", "statefulsets") => stored(&stores.stateful_sets, name, ns),
        ("apps", "replicasets") => stored(&stores.replica_sets, name, ns),
        ("", "replicationcontrollers") => stored(&stores.replication_controllers, name, ns),
        // A custom kind whose CRD has a scale subresource (LeaderWorkerSet, Argo Rollout, a
        // PyTorchJob's workers): whatever path the count is at, the request says old and new.
        (group, plural) => {
            let Some(custom) = stores.custom.iter().find(|c| {
                c.kind
                    .spec()
                    .is_some_and(|s| s.group == group && s.plural == plural)
            }) else {
                return Ok(None);
            };
            custom.get(ns, name).map(|w| WorkloadFacts::clone(&w.facts))
        }
    };
    // The request's objects are Scale objects; only their replica count matters here.
    let replicas = |object: &Option<Box<RawValue>>| {
        object
            .as_deref()
            .and_then(|o| review::read::<Scale>(o).ok())
            .and_then(|s| s.spec?.replicas)
    };
    // Not in the stores yet (created a moment ago): what it runs is unknown here, so only a
    // scale to zero is admitted; admitting any other would let a scale-up right after a create
    // pass unjudged.
    let Some(stored) = stored else {
        if replicas(&req.object).unwrap_or_default() == 0 {
            return Ok(None);
        }
        return Err(format!(
            "{} {} was created a moment ago and the operator has not seen it yet; retry the scale",
            req.kind.kind, req.name
        ));
    };
    let mut new = stored.clone();
    new.replicas = replicas(&req.object).or(Some(0));
    let mut old = stored;
    old.replicas = replicas(&req.old_object).or(old.replicas);
    Ok(Some((new, Some(old))))
}
