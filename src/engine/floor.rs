//! The compiled floor: one system's evaluation as the API server's own admission reads it
//! ([`crate::api::AdmissionFloor`]). Pure. What a ValidatingAdmissionPolicy can decide from the
//! admitted object and these parameters alone: whether the system admits anything, whether it is
//! halted, and which images its approval covers. The workload-level controls that need the
//! engine (a container's requests, ...) stay the webhook's: the floor denies no less than the
//! engine on what it covers, and never more. Also the cluster's rules for model workloads of no
//! system ([`unregistered`]) and the workloads a scale request may not grow ([`held`]).

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::{
    admission::workload::UnregisteredPolicy,
    catalog::Catalog,
    controls::deployment::{covers_image, normalize},
    detect::Detector,
    evaluate::Evaluation,
    gates, selector,
    workload::{ImageRef, WorkloadFacts, WorkloadKind, is_sha256_digest},
};
use crate::api::{
    AISystem, Enforcement, FloorNamespace, FloorSystem, FloorUnregistered, RiskAssessment,
};

/// The control whose approval of the scope the floor carries.
const APPROVAL: &str = "A.6.2.5";

/// `system` as the floor holds it, from its `evaluation` and the assessment whose approval is in
/// force (`approved`), if any.
pub fn entry(
    system: &AISystem,
    evaluation: &Evaluation,
    approved: Option<&RiskAssessment>,
    catalog: &Catalog,
) -> FloorSystem {
    // The halt's own gate is the floor's `halted`, said as such; every other system-wide failure
    // is `admit`.
    let halt_gate: Vec<(String, String)> = if system.spec.halted() {
        let mut running = system.clone();
        if let Some(o) = running.spec.oversight.as_mut() {
            o.halt = false;
        }
        let open = gates::gates(&running, catalog);
        gates::gates(system, catalog)
            .into_iter()
            .filter(|g| !open.iter().any(|o| o.message == g.message))
            .map(|g| (g.control, g.message))
            .collect()
    } else {
        Vec::new()
    };
    let approval_enforced = evaluation
        .controls
        .iter()
        .any(|c| c.id == APPROVAL && c.enforcement == Enforcement::Enforce);
    // A system-wide enforced failure (no approval in force, an owner without contact, ...) stops
    // every workload of the system; a workload's own failures are the webhook's.
    let admit = !evaluation.findings.iter().any(|f| {
        f.enforcement == Enforcement::Enforce
            && f.workload.is_none()
            && !halt_gate
                .iter()
                .any(|(c, m)| *c == f.control && *m == f.message)
    });
    let mut images = BTreeMap::new();
    let mut model_uris = BTreeMap::new();
    if approval_enforced && let Some(ra) = approved {
        for artifact in &ra.spec.scope.artifacts {
            if let Some(uri) = &artifact.uri {
                model_uris.insert(uri.clone(), true);
            }
            let Some(reference) = &artifact.image else {
                continue;
            };
            let image = ImageRef::parse(reference);
            if image.digest.is_none() || !covers_image(artifact, &image) {
                continue;
            }
            for key in keys(&image) {
                images.insert(key, true);
            }
        }
    }
    FloorSystem {
        admit,
        halted: system.spec.halted(),
        any_image: !approval_enforced,
        images,
        break_glass: system.spec.risk_tier != crate::api::RiskTier::Prohibited,
        model_uris,
    }
}

/// The floor's key of `w` for a scale request of it: the request's resource, its group after a
/// dot when it has one, and the name (`deployments.apps/scorer`).
pub fn scale_key(w: &WorkloadFacts) -> String {
    let resource = match w.kind {
        WorkloadKind::Deployment => "deployments",
        WorkloadKind::StatefulSet => "statefulsets",
        WorkloadKind::ReplicaSet => "replicasets",
        WorkloadKind::ReplicationController => "replicationcontrollers",
        WorkloadKind::DaemonSet => "daemonsets",
        WorkloadKind::Job => "jobs",
        WorkloadKind::CronJob => "cronjobs",
        WorkloadKind::Pod => "pods",
        WorkloadKind::Custom(spec) => &spec.plural,
    };
    match w.kind.group() {
        "" => format!("{resource}/{}", w.name),
        group => format!("{resource}.{group}/{}", w.name),
    }
}

/// The scale keys of the workloads of a system whose `entry` admits nothing or is halted: no
/// scale request may grow them (the engine denies a scale-up there). None otherwise.
pub fn held<'a>(
    entry: &FloorSystem,
    workloads: impl IntoIterator<Item = &'a WorkloadFacts>,
) -> Vec<String> {
    if entry.admit && !entry.halted {
        return Vec::new();
    }
    let mut keys: Vec<String> = workloads.into_iter().map(scale_key).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// How the API server judges workloads of no system, from the cluster's `systems`, the default
/// `policy` and the `detector`'s rules: for each namespace its systems and their selectors, and
/// the digests the systems declare in `spec.models` (an unlabelled copy of a system's model is a
/// model workload).
pub fn unregistered(
    policy: UnregisteredPolicy,
    systems: &[&AISystem],
    detector: &Detector,
) -> FloorUnregistered {
    let mut detection = detector.floor();
    let mut namespaces: BTreeMap<String, FloorNamespace> = BTreeMap::new();
    for system in systems {
        let namespace = system.namespace().unwrap_or_default();
        let name = system.name_any();
        for model in &system.spec.models {
            if let Some(digest) = model
                .artifact
                .image
                .as_deref()
                .and_then(|i| i.rsplit_once('@'))
                .map(|(_, d)| d)
                .filter(|d| is_sha256_digest(d))
            {
                detection
                    .declared_digests
                    .insert(digest.to_owned(), format!("{namespace}/{name}"));
            }
        }
        let entry = namespaces.entry(namespace).or_default();
        entry.systems.insert(name, true);
        if let Some(s) = system
            .spec
            .workload_selector
            .as_ref()
            .filter(|s| !selector::is_empty(s))
        {
            entry.selectors.push(s.clone());
        }
    }
    FloorUnregistered {
        policy: match policy {
            UnregisteredPolicy::Deny => "deny",
            UnregisteredPolicy::Warn => "warn",
            UnregisteredPolicy::Audit => "audit",
        }
        .to_owned(),
        namespaces,
        detection,
    }
}

/// Every spelling of `image` (`repository@digest`, without its tag) that the engine takes for the
/// same repository: with and without `docker.io/`, `index.docker.io/` and, for a name of one part,
/// `library/`.
pub fn keys(image: &ImageRef) -> Vec<String> {
    let Some(digest) = &image.digest else {
        return Vec::new();
    };
    let bare = normalize(&image.repository);
    let mut names = Vec::new();
    let mut forms = vec![bare.to_owned()];
    if !bare.contains('/') {
        forms.push(format!("library/{bare}"));
    }
    for form in forms {
        for prefix in ["", "docker.io/", "index.docker.io/"] {
            names.push(format!("{prefix}{form}@{digest}"));
        }
    }
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn a_held_system_lists_its_workloads_by_scale_key() {
        let d = |name: &str| {
            let mut w = WorkloadFacts::from_deployment(&Default::default());
            w.name = name.to_owned();
            w
        };
        let (a, b) = (d("scorer"), d("api"));
        for (admit, halted, want) in [
            (true, false, vec![]),
            (
                false,
                false,
                vec!["deployments.apps/api", "deployments.apps/scorer"],
            ),
            (
                true,
                true,
                vec!["deployments.apps/api", "deployments.apps/scorer"],
            ),
        ] {
            let entry = FloorSystem {
                admit,
                halted,
                ..Default::default()
            };
            assert_eq!(
                held(&entry, [&a, &b, &a]),
                want,
                "admit {admit} halted {halted}"
            );
        }
    }

    #[test]
    fn the_rules_for_unregistered_workloads_know_every_system_and_declared_model() {
        let system = |ns: &str, name: &str, selector: bool, model: Option<&str>| -> AISystem {
            let mut s = crate::testing::System::scoring().build();
            s.metadata.namespace = Some(ns.to_owned());
            s.metadata.name = Some(name.to_owned());
            s.spec.workload_selector = selector.then(|| {
                serde_json::from_value(serde_json::json!({"matchLabels": {"app": name}})).unwrap()
            });
            s.spec.models = model
                .map(|image| {
                    serde_json::from_value(
                        serde_json::json!([{"name": "m", "artifact": {"image": image}}]),
                    )
                    .unwrap()
                })
                .unwrap_or_default();
            s
        };
        let (a, b, c) = (
            system(
                "credit",
                "scoring",
                false,
                Some(&format!("registry.example.com/s@{D}")),
            ),
            system(
                "credit",
                "chat",
                true,
                Some("registry.example.com/unpinned:1"),
            ),
            system("hr", "screening", false, None),
        );
        let rules = unregistered(
            UnregisteredPolicy::Deny,
            &[&a, &b, &c],
            &Detector::default(),
        );
        assert_eq!(rules.policy, "deny");
        assert_eq!(rules.namespaces.len(), 2);
        let credit = &rules.namespaces["credit"];
        assert_eq!(
            credit.systems.keys().collect::<Vec<_>>(),
            ["chat", "scoring"]
        );
        assert_eq!(
            credit.selectors.len(),
            1,
            "only a system with a selector adds one"
        );
        assert!(rules.namespaces["hr"].selectors.is_empty());
        assert_eq!(
            rules.detection.declared_digests.get(D).map(String::as_str),
            Some("credit/scoring"),
            "only a pinned declared image is a digest"
        );
        assert_eq!(rules.detection.declared_digests.len(), 1);
    }

    #[test]
    fn every_spelling_of_an_approved_image_is_a_key_and_the_tag_is_dropped() {
        let cases: [(&str, &[&str]); 3] = [
            (
                "registry.example.com/credit/scorer:v3",
                &[
                    "docker.io/registry.example.com/credit/scorer",
                    "index.docker.io/registry.example.com/credit/scorer",
                    "registry.example.com/credit/scorer",
                ],
            ),
            (
                "vllm/vllm-openai:v0.9.1",
                &[
                    "docker.io/vllm/vllm-openai",
                    "index.docker.io/vllm/vllm-openai",
                    "vllm/vllm-openai",
                ],
            ),
            (
                "docker.io/library/nginx",
                &[
                    "docker.io/library/nginx",
                    "docker.io/nginx",
                    "index.docker.io/library/nginx",
                    "index.docker.io/nginx",
                    "library/nginx",
                    "nginx",
                ],
            ),
        ];
        for (reference, names) in cases {
            let image = ImageRef::parse(&format!("{reference}@{D}"));
            let want: Vec<String> = names.iter().map(|n| format!("{n}@{D}")).collect();
            assert_eq!(keys(&image), want, "{reference}");
            for key in &want {
                // What a container naming it so is looked up as.
                assert!(covers_image(
                    &crate::api::Artifact {
                        image: Some(format!("{reference}@{D}")),
                        ..Default::default()
                    },
                    &ImageRef::parse(key)
                ));
            }
        }
        assert!(
            keys(&ImageRef::parse("nginx:1.27")).is_empty(),
            "an unpinned image is never a key"
        );
    }
}
