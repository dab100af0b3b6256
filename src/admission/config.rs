//! TODO
/// x
pub const VALIDATE_WORKLOADS_PATH: &str = "/validate/workloads";
/// x
pub const VALIDATE_RECORDS_PATH: &str = "/validate/records";
/// x
pub const MUTATE_ASSESSMENTS_PATH: &str = "/mutate/riskassessments";
