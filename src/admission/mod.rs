//! The admission webhook: an HTTPS server inside `aims run` that answers the API server's
//! AdmissionReviews from the in-memory stores, with no API call on the request path.
//!
//! * [`review`]: reading reviews and writing answers, whatever the body holds.
//! * [`workloads`]: `/validate/workloads`, the engine's verdict for a governed workload.
//! * [`records`]: `/validate/records` and `/mutate/riskassessments`, the rules for the aims kinds.
//! * [`decision_log`]: one structured record per decision.
//! * [`tls`], [`certs`], [`config`]: serving HTTPS, the certificates, and the webhook
//!   configurations.

pub mod certs;
pub mod config;
pub mod decision_log;
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
use kube::{
    api::DynamicObject,
    core::admission::{AdmissionRequest, AdmissionResponse},
};

use crate::{
    controller::Context,
    engine::admission::workload::{BreakGlassPolicy, Decision, UnregisteredPolicy},
};

/// How the webhook decides what the records leave open.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The policy for unregistered model workloads where a namespace's `aims.dev/unregistered`
    /// label sets none.
    pub unregistered: UnregisteredPolicy,
    /// Who may break the glass, and for how long.
    pub break_glass: BreakGlassPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            unregistered: UnregisteredPolicy::Warn,
            break_glass: BreakGlassPolicy::default(),
        }
    }
}

/// What the webhook handlers share: the controllers' context (stores, catalog, key, metrics,
/// recorder) and the settings.
pub struct Webhook {
    /// The stores and the rest of the operator's shared state.
    pub ctx: Arc<Context>,
    /// The settings.
    pub settings: Settings,
}

/// A handler's answer, and the workload decision behind it, for the decision log.
pub struct Outcome {
    /// The answer.
    pub response: AdmissionResponse,
    /// The engine's decision, for a governed workload.
    pub decision: Option<Decision>,
}

/// The paths the webhooks are served on, and their handlers.
type Handler = fn(&Webhook, &AdmissionRequest<DynamicObject>) -> Outcome;

/// The webhook's routes: the three review paths and `/healthz`.
pub fn router(hook: Arc<Webhook>) -> Router {
    fn route(name: &'static str, handler: Handler) -> axum::routing::MethodRouter<Arc<Webhook>> {
        post(
            move |State(hook): State<Arc<Webhook>>, body: Body| async move {
                answer(&hook, name, handler, body).await
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

async fn answer(hook: &Webhook, name: &'static str, handler: Handler, body: Body) -> Response {
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
            return reply(hook, name, "invalid", start, review::unreadable(&e));
        }
    };
    let req = match review::decode(&bytes) {
        Ok(req) => req,
        Err(e) => {
            tracing::warn!(target: decision_log::TARGET, webhook = name, error = %e, "unreadable review");
            return reply(hook, name, "invalid", start, review::unreadable(&e));
        }
    };
    let outcome = if hook.ctx.synced() {
        handler(hook, &req)
    } else {
        Outcome::deny(
            &req,
            "aims-operator is still loading the cluster's records; retry in a few seconds",
        )
    };
    decision_log::record(hook, name, &req, &outcome);
    let verdict = decision_log::verdict(&outcome);
    reply(hook, name, verdict, start, outcome.response)
}

fn reply(
    hook: &Webhook,
    name: &'static str,
    verdict: &'static str,
    start: Instant,
    response: AdmissionResponse,
) -> Response {
    let body = review::encode(response);
    hook.ctx
        .metrics
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
