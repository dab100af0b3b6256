//! TODO
use super::Requester;
use crate::{
    api::{RiskAssessment, RiskAssessmentSpec},
    engine::approval::{ApprovalPolicy, SigningKey},
};
use jiff::Timestamp;
#[derive(Debug, thiserror::Error)]
#[error("todo")]
pub struct Refusal;
pub fn admit(
    _old: Option<&RiskAssessment>,
    new: &RiskAssessment,
    _r: Requester,
    _p: &ApprovalPolicy,
    _k: &SigningKey,
    _now: Timestamp,
) -> Result<RiskAssessmentSpec, Refusal> {
    Ok(new.spec.clone())
}
pub fn verify_stored(
    _old: Option<&RiskAssessment>,
    _new: &RiskAssessment,
    _r: Requester,
    _p: &ApprovalPolicy,
    _k: &SigningKey,
    _now: Timestamp,
) -> Result<(), Refusal> {
    Ok(())
}
