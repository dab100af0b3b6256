//! A.4, resources for AI systems: what the system runs is declared, pinned and sized.

use super::{CheckInputs, Problem, Problems, deployment::covers_image};
use crate::{
    api::{Artifact, EuAiActRole},
    engine::workload::WorkloadFacts,
};

/// A.4.2, per workload: every image and model URI the workload runs is declared in `spec.models`.
pub fn inventory(ctx: &CheckInputs, w: &WorkloadFacts) -> Vec<Problem> {
    let declared: Vec<&Artifact> = ctx.system.spec.models.iter().map(|m| &m.artifact).collect();
    let system = ctx.system_name();
    let mut out = Vec::new();
    for image in w.images() {
        if !declared.iter().any(|a| covers_image(a, image)) {
            out.push(Problem::workload(
                w,
                format!(
                    "image {} is not declared in spec.models of AISystem {system}",
                    image.reference
                ),
            ));
        }
    }
    for uri in &w.model_uris {
        if !declared.iter().any(|a| a.uri.as_deref() == Some(uri)) {
            out.push(Problem::workload(
                w,
                format!("model {uri} is not declared in spec.models of AISystem {system}"),
            ));
        }
    }
    out
}

/// A.4.3: the system declares its data sets (a Deployer may run on data it did not train with).
pub fn data_inventory(ctx: &CheckInputs) -> Vec<Problem> {
    let spec = &ctx.system.spec;
    let mut out = Problems::default();
    out.need(
        !spec.datasets.is_empty() || spec.role == EuAiActRole::Deployer,
        "spec.datasets is empty: declare the data the system was trained, validated and tested on",
    );
    out.0
}

/// A.4.4, per workload: every image is pinned by digest.
pub fn pinned_images(_: &CheckInputs, w: &WorkloadFacts) -> Vec<Problem> {
    w.images()
        .filter(|i| !i.is_pinned())
        .map(|image| {
            Problem::workload(
                w,
                format!(
                    "image {} is not pinned by digest: use <repository>@sha256:<digest>",
                    image.reference
                ),
            )
        })
        .collect()
}

/// A.4.5, per workload: every container declares its CPU or memory requests.
pub fn compute(_: &CheckInputs, w: &WorkloadFacts) -> Vec<Problem> {
    w.containers
        .iter()
        // An ephemeral container cannot declare resources: the API server refuses them.
        .filter(|c| !c.init && !c.ephemeral && !c.requests_declared)
        .map(|c| {
            Problem::workload(
                w,
                format!("container {} declares no cpu or memory requests", c.name),
            )
        })
        .collect()
}
