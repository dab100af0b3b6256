//! The gates: findings no binding can switch off or exclude. A prohibited practice (EU AI Act
//! Art. 5) admits nothing; a halt by an overseer (Art. 14(4)(e)) admits and scales up nothing
//! until it is cleared (`halt` plans the stop itself).

use super::{
    catalog::{Catalog, ids},
    controls::{ControlFinding, Problem},
};
use crate::api::{AISystem, Enforcement, RiskTier, Severity};

/// The gates `system` is shut by, as Critical, enforced findings.
pub fn gates(system: &AISystem, catalog: &Catalog) -> Vec<ControlFinding> {
    let gate = |id: &str, message: String| {
        let control = catalog.get(id)?;
        Some(ControlFinding::new(
            control,
            Enforcement::Enforce,
            Severity::Critical,
            Problem::system(message),
        ))
    };
    let prohibited = (system.spec.risk_tier == RiskTier::Prohibited).then(|| {
        gate(
            ids::INTENDED_USE,
            "riskTier is Prohibited: EU AI Act Art. 5 prohibits this practice, and no workload of it is admitted".to_owned(),
        )
    });
    let halted = system.spec.oversight.as_ref().filter(|o| o.halt).map(|o| {
        gate(
            ids::HUMAN_OVERSIGHT,
            format!(
                "halted by an overseer ({}): nothing is admitted or scaled up until spec.oversight.halt is false",
                o.halt_reason.as_deref().unwrap_or("no reason given")
            ),
        )
    });
    prohibited.into_iter().chain(halted).flatten().collect()
}
