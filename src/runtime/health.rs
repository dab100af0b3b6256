//! `/metrics`, `/healthz` (the process answers) and `/readyz` (every store has synced), served on
//! their own port; and the moment the stores are synced, which readiness, the controllers' first
//! writes and the webhook's first answers all wait for.

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, http::StatusCode, routing::get};

use super::Error;
use crate::{
    cluster::{Stores, Synced, crds},
    telemetry::metrics::Metrics,
};

/// Marks `synced` (and readiness) once every store has seen its first full list, then serves the
/// endpoints until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    stores: Stores,
    synced: Synced,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let ready_metrics = metrics.clone();
    tokio::spawn(async move {
        stores
            .wait_until_ready(std::time::Duration::from_secs(10))
            .await;
        // A custom kind whose CRD is installed has workloads too: a status computed before they
        // are listed would be written twice.
        let installed = stores.installed.listed().await;
        for custom in &stores.custom {
            let Some(spec) = custom.kind.spec() else {
                continue;
            };
            if installed.contains_key(&crds::crd_name(spec)) {
                let _ = custom.store.wait_until_ready().await;
            }
        }
        synced.set();
        ready_metrics.set_ready();
        tracing::info!("stores synced; ready");
    });
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(m): State<Arc<Metrics>>| async move { m.render() }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(m): State<Arc<Metrics>>| async move {
                if m.is_ready() {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "stores not synced yet")
                }
            }),
        )
        .with_state(metrics);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
