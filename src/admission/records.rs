//! `/validate/records` and `/mutate/riskassessments`: the rules for the aims records themselves.
//! Approvals are append-only, decided by approvers who neither submitted nor edited the content,
//! and stamped and signed by the operator; bindings name known controls; only overseers clear a
//! halt.

use kube::{Resource, ResourceExt, core::admission::Operation};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{Outcome, Webhook, review, review::ReviewRequest};
use crate::{
    api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment, RiskAssessmentSpec},
    cluster::{as_bindings, readable},
    engine::{
        admission::{Requester, assessment, binding, system},
        approval::ApprovalPolicy,
        binding::resolve,
        controls::deployment::approval_policy,
    },
};

/// The group of the aims kinds.
const GROUP: &str = "aims.dev";

/// Answers one review of an aims record.
pub fn validate(hook: &Webhook, req: &ReviewRequest) -> Outcome {
    if req.kind.group != GROUP {
        return Outcome::allow(req);
    }
    // Deleting is reviewed for AISystems only: a halted one is not deleted.
    let delete_of_system = req.operation == Operation::Delete && req.kind.kind == "AISystem";
    if !delete_of_system && !matches!(req.operation, Operation::Create | Operation::Update) {
        return Outcome::allow(req);
    }
    let user = req.user_info.username.as_deref().unwrap_or_default();
    let groups = req.user_info.groups.clone().unwrap_or_default();
    let requester = Requester {
        user,
        groups: &groups,
    };
    let result = match req.kind.kind.as_str() {
        "AISystem" => system_change(req).and_then(|(new, old)| {
            let approvers = old
                .as_ref()
                .map(|old| approval_policy_of(hook, old).approver_groups)
                .unwrap_or_default();
            system::admit(
                old.as_ref().map(|o| &o.spec),
                new.as_ref().map(|n| &n.spec),
                requester,
                &approvers,
            )
            .map_err(|e| e.to_string())
        }),
        "RiskAssessment" => typed::<RiskAssessment>(req).and_then(|(new, old)| {
            let policy = policy_for(hook, &new);
            assessment::verify_stored(
                old.as_ref(),
                &new,
                requester,
                &policy,
                &hook.key,
                req.dry_run,
                jiff::Timestamp::now(),
            )
            .map_err(|e| e.to_string())
        }),
        "ControlBinding" => typed::<ControlBinding>(req).and_then(|(new, _)| {
            binding::admit(&new.spec.rules, &hook.catalog).map_err(|e| e.to_string())
        }),
        "ClusterControlBinding" => typed::<ClusterControlBinding>(req).and_then(|(new, _)| {
            binding::admit(&new.spec.rules, &hook.catalog).map_err(|e| e.to_string())
        }),
        _ => Ok(()),
    };
    match result {
        Ok(()) => Outcome::allow(req),
        Err(message) => Outcome::deny(req, message),
    }
}

/// Stamps a RiskAssessment: the submitter at create, editors when the content changes, the
/// record stamp over both, and each new approval entry with the approver, the time, the content
/// hash and the signature. A dry-run request is signed under the dry-run domains, so nothing it
/// returns counts when written for real.
pub fn mutate_assessment(hook: &Webhook, req: &ReviewRequest) -> Outcome {
    if req.kind.group != GROUP
        || req.kind.kind != "RiskAssessment"
        || !matches!(req.operation, Operation::Create | Operation::Update)
    {
        return Outcome::allow(req);
    }
    let (new, old) = match typed::<RiskAssessment>(req) {
        Ok(pair) => pair,
        Err(message) => return Outcome::deny(req, message),
    };
    let user = req.user_info.username.as_deref().unwrap_or_default();
    let groups = req.user_info.groups.clone().unwrap_or_default();
    let policy = policy_for(hook, &new);
    let stamped = match assessment::admit(
        old.as_ref(),
        &new,
        Requester {
            user,
            groups: &groups,
        },
        &policy,
        &hook.key,
        req.dry_run,
        jiff::Timestamp::now(),
    ) {
        Ok(spec) => spec,
        Err(e) => return Outcome::deny(req, e.to_string()),
    };
    // The object as sent, to tell the fields it leaves out from those it sets to empty.
    let raw: Value = req
        .object
        .as_deref()
        .and_then(|o| review::read(o).ok())
        .unwrap_or_default();
    let ops = patch(&raw, &new.spec, &stamped);
    let response = review::allow(req);
    let response = if ops.is_empty() {
        response
    } else {
        match serde_json::from_value::<json_patch::Patch>(Value::Array(ops))
            .map_err(|e| e.to_string())
            .and_then(|p| response.with_patch(p).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(e) => return Outcome::deny(req, format!("cannot stamp the assessment: {e}")),
        }
    };
    Outcome {
        response,
        decision: None,
    }
}

/// JSON patch operations that turn the fields the operator stamps in `sent` into `stamped`:
/// `spec.submittedBy`, `spec.editedBy`, `spec.recordStamp` and the stamps of approval entries.
/// Nothing else in the object is touched.
fn patch(raw: &Value, sent: &RiskAssessmentSpec, stamped: &RiskAssessmentSpec) -> Vec<Value> {
    let mut ops = Vec::new();
    let mut set = |path: String, present: bool, value: Option<Value>| match value {
        Some(value) => ops.push(json!({"op": "add", "path": path, "value": value})),
        None if present => ops.push(json!({"op": "remove", "path": path})),
        None => {}
    };
    if sent.submitted_by != stamped.submitted_by {
        set(
            "/spec/submittedBy".to_owned(),
            raw.pointer("/spec/submittedBy").is_some(),
            stamped.submitted_by.clone().map(Value::String),
        );
    }
    if sent.edited_by != stamped.edited_by {
        set(
            "/spec/editedBy".to_owned(),
            raw.pointer("/spec/editedBy").is_some(),
            (!stamped.edited_by.is_empty()).then(|| json!(stamped.edited_by)),
        );
    }
    if sent.record_stamp != stamped.record_stamp {
        set(
            "/spec/recordStamp".to_owned(),
            raw.pointer("/spec/recordStamp").is_some(),
            stamped
                .record_stamp
                .as_ref()
                .and_then(|s| serde_json::to_value(s).ok()),
        );
    }
    for (i, entry) in stamped.approvals.iter().enumerate() {
        let before = sent.approvals.get(i).and_then(|a| a.stamp.as_ref());
        if before != entry.stamp.as_ref() {
            let path = format!("/spec/approvals/{i}/stamp");
            let present = raw.pointer(&path).is_some();
            set(
                path,
                present,
                entry
                    .stamp
                    .as_ref()
                    .and_then(|s| serde_json::to_value(s).ok()),
            );
        }
    }
    ops
}

/// Who may approve `ra`: the approval policy the bindings of its system set (the default when the
/// system is not registered yet).
fn policy_for(hook: &Webhook, ra: &RiskAssessment) -> ApprovalPolicy {
    let namespace = ra.namespace().unwrap_or_default();
    let systems = hook.stores.systems.state();
    let Some(system) = readable(&systems).find(|s| {
        s.namespace().as_deref() == Some(namespace.as_str())
            && s.name_any() == ra.spec.system_ref.name
    }) else {
        return ApprovalPolicy::default();
    };
    approval_policy_of(hook, system)
}

/// The approval policy the bindings set for `system`.
fn approval_policy_of(hook: &Webhook, system: &AISystem) -> ApprovalPolicy {
    let namespace = system.namespace().unwrap_or_default();
    let (namespaced, cluster) = hook.stores.bindings();
    let bindings = as_bindings(&namespaced, &cluster);
    let labels = hook.stores.namespace_labels(&namespace);
    approval_policy(&resolve(system, &labels, &bindings, &hook.catalog))
}

/// An AISystem review's object (`None` on a delete) and old object.
fn system_change(req: &ReviewRequest) -> Result<(Option<AISystem>, Option<AISystem>), String> {
    let new = match req.operation {
        Operation::Delete => None,
        _ => Some(req.object()?),
    };
    Ok((new, req.old_object()?))
}

/// The request's object and old object as `K`, or a message naming the field that does not read.
fn typed<K: Resource + DeserializeOwned>(req: &ReviewRequest) -> Result<(K, Option<K>), String> {
    Ok((req.object()?, req.old_object()?))
}

impl Outcome {
    /// Admits the request.
    pub fn allow(req: &ReviewRequest) -> Self {
        Self {
            response: review::allow(req),
            decision: None,
        }
    }

    /// Refuses the request with `message`.
    pub fn deny(req: &ReviewRequest, message: impl Into<String>) -> Self {
        Self {
            response: review::deny(req, message),
            decision: None,
        }
    }
}
