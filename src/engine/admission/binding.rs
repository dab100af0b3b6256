//! TODO
use crate::{api::BindingRules, engine::catalog::Catalog};
#[derive(Debug, thiserror::Error)]
#[error("todo")]
pub struct Refusal;
pub fn admit(_rules: &BindingRules, _c: &Catalog) -> Result<(), Refusal> {
    Ok(())
}
