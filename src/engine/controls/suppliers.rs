//! A.10, third-party and customer relationships.

use super::{CheckInputs, Problem};
use crate::engine::binding::Applied;

/// A.10.3: every model with a supplier comes from one each binding's allow-list names.
pub fn approved(ctx: &CheckInputs, applied: &Applied) -> Vec<Problem> {
    let mut out = Vec::new();
    for allowlist in applied.supplier_allowlists() {
        for m in &ctx.system.spec.models {
            if let Some(supplier) = &m.supplier
                && !allowlist.contains(supplier)
            {
                out.push(Problem::system(format!(
                    "spec.models[{}].supplier {supplier:?} is not an approved supplier ({})",
                    m.name,
                    allowlist.join(", ")
                )));
            }
        }
    }
    out
}
