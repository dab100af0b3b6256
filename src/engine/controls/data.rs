//! A.7, data for AI systems: where each data set comes from, its quality and its provenance.

use super::{CheckInputs, Problem};
use crate::api::DatasetUse;

/// A.7.3: every data set has a source and a licence or legal basis.
pub fn acquisition(ctx: &CheckInputs) -> Vec<Problem> {
    ctx.system
        .spec
        .datasets
        .iter()
        .filter(|d| d.source.is_none() || d.licence.is_none())
        .map(|d| Problem::system(format!("spec.datasets[{}] needs source and licence: where the data comes from and on what legal basis", d.name)))
        .collect()
}

/// A.7.4: every training, validation and test data set has a quality report.
pub fn quality(ctx: &CheckInputs) -> Vec<Problem> {
    ctx.system
        .spec
        .datasets
        .iter()
        .filter(|d| d.usage != DatasetUse::Inference && d.quality_report.is_none())
        .map(|d| Problem::system(format!("spec.datasets[{}].qualityReport is missing: link the data quality and bias examination", d.name)))
        .collect()
}

/// A.7.5: every data set records its provenance.
pub fn provenance(ctx: &CheckInputs) -> Vec<Problem> {
    ctx.system
        .spec
        .datasets
        .iter()
        .filter(|d| d.provenance.is_none())
        .map(|d| Problem::system(format!("spec.datasets[{}].provenance is missing: record the exact version, snapshot or digest used", d.name)))
        .collect()
}
