//! The admission webhook: an HTTPS server inside `aims run` that answers the API server's
//! AdmissionReviews from the in-memory stores.

pub mod certs;
pub mod config;
pub mod tls;
