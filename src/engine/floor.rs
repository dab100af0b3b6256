//! The compiled floor: one system's evaluation as the API server's own admission reads it
//! ([`crate::api::AdmissionFloor`]). Pure. What a ValidatingAdmissionPolicy can decide from the
//! admitted object and these parameters alone: whether the system admits anything, whether it is
//! halted, and which images its approval covers. The workload-level controls that need the
//! engine (a container's requests, model URIs, detection) stay the webhook's: the floor denies
//! no less than the engine on what it covers, and never more.

use std::collections::BTreeMap;

use super::{
    catalog::Catalog,
    controls::deployment::{covers_image, normalize},
    evaluate::Evaluation,
    gates,
    workload::ImageRef,
};
use crate::api::{AISystem, Enforcement, FloorSystem, RiskAssessment};

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
    if approval_enforced && let Some(ra) = approved {
        for artifact in &ra.spec.scope.artifacts {
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
