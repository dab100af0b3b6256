//! TODO
use super::Requester;
use crate::api::AISystemSpec;
#[derive(Debug, thiserror::Error)]
#[error("todo")]
pub struct Refusal;
pub fn admit(
    _old: Option<&AISystemSpec>,
    _new: &AISystemSpec,
    _r: Requester,
) -> Result<(), Refusal> {
    Ok(())
}
