//! aims-operator: keeps an organisation's AI management system (ISO/IEC 42001, and the EU AI Act's
//! duties for high-risk AI) true of what actually runs in a Kubernetes cluster.
//!
//! * [`api`]: the custom resource types of `aims.dev/v1alpha1`.
//! * [`crds`]: their CustomResourceDefinitions, generated from the types.
//! * [`engine`]: the pure decision engine.
//! * [`manifests`]: reading manifest files into typed objects, with errors that name the file,
//!   document, line and field.
//! * [`controller`]: `aims run`, the controllers that write compliance status back.
//! * [`telemetry`]: logging setup.
//! * [`cli`]: the `aims` command line.

pub mod admission;
pub mod api;
pub mod cli;
pub mod controller;
pub mod crds;
pub mod engine;
pub mod manifests;
pub mod telemetry;
