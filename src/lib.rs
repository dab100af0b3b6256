//! aims-operator: keeps an organisation's AI management system (ISO/IEC 42001, and the EU AI Act's
//! duties for high-risk AI) true of what actually runs in a Kubernetes cluster.
//!
//! The modules, from the bottom up (each uses only those above it):
//!
//! * [`api`]: the custom resource types of `aims.dev/v1alpha1`.
//! * [`crds`]: their CustomResourceDefinitions, generated from the types.
//! * [`engine`]: the pure decision engine: no client, no clock.
//! * [`manifests`]: reading manifest files into typed objects, with errors that name the file,
//!   document, line and field.
//! * [`telemetry`]: logging and metrics.
//! * [`audit`]: the tamper-evident records (a hash chain of JSON lines) and their anchor.
//! * [`cluster`]: the watches and the stores both doors decide from.
//! * [`controller`]: the reconcilers that write compliance status back.
//! * [`admission`]: the admission webhook's HTTPS server and handlers.
//! * [`runtime`]: `aims run`, the one place that starts and supervises every task.
//! * [`cli`]: the `aims` command line.
//! * [`testing`]: builders for the tests and benchmarks (compiled for them alone).

pub mod admission;
pub mod api;
pub mod audit;
pub mod cli;
pub mod cluster;
pub mod controller;
pub mod crds;
pub mod engine;
pub mod manifests;
pub mod runtime;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
