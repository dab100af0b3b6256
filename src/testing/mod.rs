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
