//! Builders shared by the crate's unit tests, `tests/` and `benches/`: AISystems, workload manifests,
//! AdmissionReviews as the API server sends them, and RiskAssessments stamped and signed as the
//! webhook does. Compiled for the crate's own tests and, through the `testing` feature (which the
//! crate's dev-dependency on itself turns on), for the integration tests and benchmarks; never in
//! a release build.

mod approvals;
mod manifests;
mod reviews;
mod systems;

pub use approvals::*;
pub use manifests::*;
pub use reviews::*;
pub use systems::*;

/// A sha256 digest for pinned test images.
pub const DIGEST: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// An evaluation in `phase` with nothing in it: no conditions, controls, findings or workloads.
pub fn evaluation(phase: crate::api::Phase) -> crate::engine::evaluate::Evaluation {
    crate::engine::evaluate::Evaluation {
        phase,
        conditions: Vec::new(),
        controls: Vec::new(),
        excluded: Vec::new(),
        findings: Vec::new(),
        workloads: Vec::new(),
        approval: None,
        assessments: Vec::new(),
        unknown_controls: Vec::new(),
        next_review_at: None,
    }
}
