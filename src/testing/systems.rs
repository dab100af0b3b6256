//! AISystems, built up from a minimal registered one.

use serde_json::{Value, json};

use crate::api::AISystem;

/// An AISystem being built: `System::scoring().halted().json()`.
#[derive(Clone, Debug)]
pub struct System(Value);

impl System {
    /// AISystem `credit/scoring`: Limited risk, scoring loan applications, owned by `ana` and
    /// overseen by `olga`; no models, data sets or documents declared.
    pub fn scoring() -> Self {
        Self(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
            "metadata": {"name": "scoring", "namespace": "credit"},
            "spec": {
                "purpose": "Score loan applications", "riskTier": "Limited", "owner": {"name": "ana"},
                "oversight": {"overseers": [{"name": "olga"}]}
            }
        }))
    }

    /// Of risk tier `tier` (`Minimal`, `Limited`, `High`, `Prohibited`).
    pub fn tier(self, tier: &str) -> Self {
        self.spec("riskTier", json!(tier))
    }

    /// Halted by an overseer, for `drift`.
    pub fn halted(mut self) -> Self {
        self.0["spec"]["oversight"]["halt"] = json!(true);
        self.0["spec"]["oversight"]["haltReason"] = json!("drift");
        self
    }

    /// Halted when `halt`, for `drift`.
    pub fn halted_if(self, halt: bool) -> Self {
        if halt { self.halted() } else { self }
    }

    /// With `spec.<key>` set to `value`.
    fn spec(mut self, key: &str, value: Value) -> Self {
        self.0["spec"][key] = value;
        self
    }

    /// With `metadata.<key>` set to `value`.
    pub fn meta(mut self, key: &str, value: Value) -> Self {
        self.0["metadata"][key] = value;
        self
    }

    /// With `status` set.
    pub fn status(mut self, status: Value) -> Self {
        self.0["status"] = status;
        self
    }

    /// The object as JSON.
    pub fn json(self) -> Value {
        self.0
    }

    /// The object.
    pub fn build(self) -> AISystem {
        serde_json::from_value(self.0)
            .unwrap_or_else(|e| unreachable!("the builder makes valid AISystems: {e}"))
    }
}
