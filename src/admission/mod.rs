//! The admission webhook: an HTTPS server inside `aims run` that answers the API server's
//! AdmissionReviews from the in-memory stores, with no API call on the request path.
//!
//! * [`review`]: reading reviews and writing answers, whatever the body holds.
//! * [`workloads`]: `/validate/workloads`, the engine's verdict for a governed workload.
//! * [`records`]: `/validate/records` and `/mutate/riskassessments`, the rules for the aims kinds.
//! * [`decision_log`]: one structured record per decision.
//! * [`tls`], [`client_auth`], [`limits`]: serving HTTPS to the API server alone, within bounds
//!   of time, size and concurrency.
//! * [`certs`], [`config`]: the certificates, and the webhook configurations.

pub mod certs;
pub mod client_auth;
pub mod config;
pub mod decision_log;
pub mod limits;
pub mod records;
pub mod review;
pub mod tls;
pub mod workloads;

use std::{sync::Arc, time::Instant};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use kube::core::admission::AdmissionResponse;

use crate::{
    cluster::{Stores, Synced},
    engine::{
        admission::workload::WorkloadDecision, approval::SigningKey, catalog::Catalog,
        decide::AdmissionPolicy, detect::Detector,
    },
    telemetry::metrics::Metrics,
};

/// Why the webhook could not be served.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The serving certificate could not be loaded or made.
    #[error("serving certificate: {0}")]
    Certificate(String),
    /// The client CA could not be loaded.
    #[error("client CA: {0}")]
    ClientCa(String),
    /// The HTTPS server failed.
    #[error("{addr}: {source}")]
    Serve {
        /// Where it listened.
        addr: std::net::SocketAddr,
        /// What failed.
        source: std::io::Error,
    },
}

/// Where the operator's serving certificate comes from.
#[derive(Clone, Debug)]
pub enum CertSource {
    /// The operator's own CA and certificate, kept in a Secret of its namespace, made for the
    /// Service's DNS names and `hosts`, rotated before expiry; the CA is published into the
    /// webhook configurations.
    SelfManaged {
        /// The Service the API server calls.
        service: String,
        /// More DNS names or IP addresses.
        hosts: Vec<String>,
    },
    /// Certificate files (for example from cert-manager), reloaded when they change.
    Files {
        /// The certificate chain (PEM).
        cert: std::path::PathBuf,
        /// Its private key (PEM).
        key: std::path::PathBuf,
    },
}

/// How the webhook is served.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Where to listen.
    pub addr: std::net::SocketAddr,
    /// The serving certificate.
    pub certs: CertSource,
    /// The client certificate every caller must present; `None` answers any caller.
    pub client_auth: Option<client_auth::ClientAuthConfig>,
    /// Bounds on time, size and concurrency.
    pub limits: limits::Limits,
}

/// Serves the webhook until `shutdown`: loads (or creates) the certificate, keeps it fresh, and
/// answers reviews over HTTPS.
pub async fn serve(
    client: kube::Client,
    namespace: String,
    config: ServeConfig,
    hook: Arc<Webhook>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let certs = match config.certs {
        CertSource::Files { cert, key } => {
            certs::WebhookCerts::Files(certs::CertFiles::new(cert, key))
        }
        CertSource::SelfManaged { service, hosts } => {
            let hosts = certs::service_hosts(&service, &namespace, &hosts);
            certs::WebhookCerts::Managed(certs::ManagedCerts::new(client, &namespace, hosts))
        }
    };
    let material = certs
        .load()
        .await
        .map_err(|e| Error::Certificate(e.to_string()))?;
    let resolver = Arc::new(
        tls::CertResolver::from_pem(&material.cert_chain_pem, &material.key_pem)
            .map_err(|e| Error::Certificate(e.to_string()))?,
    );
    let client_auth = match &config.client_auth {
        Some(wanted) => {
            let auth = client_auth::ClientAuth::load(wanted)
                .await
                .map_err(|e| Error::ClientCa(e.to_string()))?;
            tracing::info!(
                ca = %wanted.ca_file.display(),
                names = ?wanted.names,
                "the admission webhook answers only clients with a certificate from the client CA"
            );
            Some(Arc::new(auth))
        }
        None => {
            tracing::warn!(
                "the admission webhook answers any caller that reaches its port: without \
                 --webhook-client-ca-file anyone on the network can have fabricated reviews \
                 answered, stamped and logged; set it to the CA of the API server's client \
                 certificate, or restrict the port with a NetworkPolicy"
            );
            None
        }
    };
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let refresher = tokio::spawn(certs.keep_fresh(resolver.clone(), material, stopped()));
    let ca_refresher = match (&client_auth, &config.client_auth) {
        (Some(auth), Some(wanted)) => Some(tokio::spawn(
            auth.clone().keep_fresh(wanted.ca_file.clone(), stopped()),
        )),
        _ => None,
    };
    let tls = tls::Tls {
        resolver,
        client_auth,
    };
    let served = tls::serve(config.addr, tls, config.limits, router(hook), shutdown).await;
    let _ = stop_tx.send(true);
    let _ = refresher.await;
    if let Some(ca_refresher) = ca_refresher {
        let _ = ca_refresher.await;
    }
    served.map_err(|source| Error::Serve {
        addr: config.addr,
        source,
    })
}

/// What the webhook handlers share: the stores they decide from, what the engine needs beside
/// them, and where the answers are counted and recorded. Nothing of a controller's.
pub struct Webhook {
    /// The stores.
    pub stores: Stores,
    /// Set once the stores have synced; until then every review is refused.
    pub synced: Synced,
    /// The control catalog.
    pub catalog: Catalog,
    /// The unregistered-model-workload detector.
    pub detector: Detector,
    /// The approval signing key (approvals are stamped and verified with it).
    pub key: SigningKey,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Publishes the Events of the decision log.
    pub recorder: kube::runtime::events::Recorder,
    /// What the webhook decides that the records leave open.
    pub policy: AdmissionPolicy,
    /// The tamper-evident records: a decision is one of them.
    pub chain: Arc<crate::audit::Chain>,
}

/// A handler's answer, and the workload decision behind it, for the decision log.
pub struct Outcome {
    /// The answer.
    pub response: AdmissionResponse,
    /// The engine's decision, for a governed workload.
    pub decision: Option<WorkloadDecision>,
}

/// The paths the webhooks are served on, and their handlers.
type Handler = fn(&Webhook, &review::ReviewRequest) -> Outcome;

/// The webhook's routes: the three review paths and `/healthz`.
pub fn router(hook: Arc<Webhook>) -> Router {
    fn route(name: &'static str, handler: Handler) -> axum::routing::MethodRouter<Arc<Webhook>> {
        post(
            move |State(hook): State<Arc<Webhook>>, body: Body| async move {
                answer(hook, name, handler, body).await
            },
        )
    }
    Router::new()
        .route(
            config::VALIDATE_WORKLOADS_PATH,
            route("workloads", workloads::validate),
        )
        .route(
            config::VALIDATE_RECORDS_PATH,
            route("records", records::validate),
        )
        .route(
            config::MUTATE_RISKASSESSMENTS_PATH,
            route("riskassessments", records::mutate_assessment),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(hook)
}

async fn answer(hook: Arc<Webhook>, name: &'static str, handler: Handler, body: Body) -> Response {
    let start = Instant::now();
    let bytes: Bytes = match axum::body::to_bytes(body, review::MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let e = review::Unreadable {
                uid: String::new(),
                message: format!(
                    "the body cannot be read or is larger than {} bytes: {e}",
                    review::MAX_BODY
                ),
            };
            return reply(&hook, name, "invalid", start, review::unreadable(&e));
        }
    };
    let req = match review::decode(&bytes) {
        Ok(req) => req,
        Err(e) => {
            tracing::warn!(target: decision_log::TARGET, webhook = name, error = %e, "unreadable review");
            return reply(&hook, name, "invalid", start, review::unreadable(&e));
        }
    };
    let Outcome { response, decision } = if hook.synced.is_set() {
        handler(&hook, &req)
    } else {
        Outcome::deny(
            &req,
            "aims-operator is still loading the cluster's records; retry in a few seconds",
        )
    };
    let verdict = decision_log::verdict(&response);
    let message = response.result.message.clone();
    let answer = reply(&hook, name, verdict, start, response);
    // The record is only queued here: the records' writer makes its fields, seals and writes it
    // on a thread of its own, and drops the request there, off the request's path and off the
    // runtime's threads.
    decision_log::record(
        &hook,
        decision_log::Answered {
            webhook: name,
            req,
            decision,
            verdict,
            message,
        },
    );
    answer
}

fn reply(
    hook: &Webhook,
    name: &'static str,
    verdict: &'static str,
    start: Instant,
    response: AdmissionResponse,
) -> Response {
    let body = review::encode(response);
    hook.metrics
        .admission(name, verdict, start.elapsed().as_secs_f64());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
