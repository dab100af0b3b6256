//! The decision engine: pure functions from records and workload facts to verdicts.
//!
//! No kube client and no clock in here: the controller, the admission webhook and the offline CLI
//! each gather the inputs, pass `now`, and act on the result.

pub mod admission;
pub mod approval;
pub mod binding;
pub mod break_glass;
pub mod catalog;
pub mod chain;
pub mod conditions;
pub mod controls;
pub mod crosswalk;
pub mod decide;
pub mod detect;
pub mod evaluate;
pub mod floor;
pub mod gates;
pub mod halt;
pub mod kinds;
pub mod membership;
pub mod report;
pub mod risk;
pub mod selector;
pub mod tally;
pub mod workload;

#[cfg(test)]
mod scenarios;
