//! Which kinds exist: the aims kinds, the governed workloads, and the well-known built-in kinds a
//! manifests directory holds; and what to say of a kind that is none of them.

use crate::{
    api::{GROUP, VERSION},
    engine::catalog::closest,
};

use super::*;

/// The four kinds of the aims API.
pub(super) const AIMS_KINDS: [&str; 4] = [
    "AISystem",
    "RiskAssessment",
    "ControlBinding",
    "ClusterControlBinding",
];

/// The kinds of the built-in (and KServe) group versions that manifests commonly use. A kind that
/// is not listed for its group version cannot be applied.
pub(super) const KNOWN_KINDS: &[(&str, &[&str])] = &[
    (
        "v1",
        &[
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "List",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        ],
    ),
    (
        "apps/v1",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    ("batch/v1", &["CronJob", "Job"]),
    (
        "networking.k8s.io/v1",
        &[
            "IPAddress",
            "Ingress",
            "IngressClass",
            "NetworkPolicy",
            "ServiceCIDR",
        ],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    ("policy/v1", &["Eviction", "PodDisruptionBudget"]),
    ("autoscaling/v2", &["HorizontalPodAutoscaler"]),
    ("serving.kserve.io/v1beta1", &["InferenceService"]),
];

/// The group of an `apiVersion`: `apps` for `apps/v1`, empty for the core `v1`. A bare `aims.dev`
/// (a version forgotten) counts as the aims group.
pub(super) fn group_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None if api_version == GROUP => GROUP,
        None => "",
    }
}

pub(super) fn aims_api_version() -> String {
    format!("{GROUP}/{VERSION}")
}

pub(super) fn known_kinds(api_version: &str) -> Option<&'static [&'static str]> {
    KNOWN_KINDS
        .iter()
        .find(|(v, _)| *v == api_version)
        .map(|(_, kinds)| *kinds)
}

/// Whether `apiVersion` + `kind` name a kind that cannot exist.
pub(super) fn is_unknown_kind(api_version: &str, kind: &str) -> bool {
    if group_of(api_version) == GROUP {
        return api_version != aims_api_version() || !AIMS_KINDS.contains(&kind);
    }
    known_kinds(api_version).is_some_and(|kinds| !kinds.contains(&kind))
}

/// The message of [`LoadError::UnknownKind`], with the field to fix and a hint.
pub(super) fn unknown_kind_message(object: &str, api_version: &str, kind: &str) -> String {
    let aims = group_of(api_version) == GROUP;
    if aims && AIMS_KINDS.contains(&kind) {
        return format!(
            "{}: {kind} is {}, not {api_version}",
            join_path(object, "apiVersion"),
            aims_api_version()
        );
    }
    let kinds: &[&str] = if aims {
        &AIMS_KINDS
    } else {
        known_kinds(api_version).unwrap_or_default()
    };
    let mut message = format!(
        "{}: {api_version} has no kind {kind:?}",
        join_path(object, "kind")
    );
    let home = KNOWN_KINDS
        .iter()
        .filter(|(v, kinds)| *v != api_version && kinds.contains(&kind))
        .map(|(v, _)| (*v).to_owned())
        .chain(AIMS_KINDS.contains(&kind).then(aims_api_version))
        .next();
    if let Some(home) = home {
        message.push_str(&format!("; {kind} is {home}"));
    } else if let Some(near) = closest(kind, kinds.iter().copied()) {
        message.push_str(&format!(" (did you mean {near}?)"));
    } else if !kinds.is_empty() && kinds.len() <= 8 {
        message.push_str(&format!("; its kinds are {}", kinds.join(", ")));
    }
    message
}
