//! `aims run`: the one place that wires the operator. It loads the signing key, joins the leader
//! election, starts one watch of every kind ([`crate::cluster`]), and starts and supervises every
//! task together: the controllers ([`crate::controller`]), the admission webhook
//! ([`crate::admission`]), and the metrics and health server ([`health`]). Every task ends on
//! SIGTERM or SIGINT; one that ends early stops the process loudly rather than let it limp on.
//!
//! * [`key`]: the approval signing key in its Secret.
//! * [`health`]: `/metrics`, `/healthz` and `/readyz`, and the moment the stores are synced.

pub mod health;
pub mod key;

use std::{net::SocketAddr, sync::Arc};

use futures::{FutureExt, future::BoxFuture};
use kube::{
    Client,
    runtime::events::{Recorder, Reporter},
};
use tokio::sync::watch;

use crate::{
    admission,
    audit::{Chain, anchor},
    cluster::{
        Synced,
        watches::{self, WatchScope},
    },
    controller::{self, FIELD_MANAGER},
    engine::{catalog::Catalog, decide::AdmissionPolicy, detect::Detector},
    telemetry::metrics::Metrics,
};

/// How `aims run` runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The namespace the operator runs in (its signing key lives there).
    pub namespace: String,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub metrics_addr: SocketAddr,
    /// This replica's name in the leader Lease (the pod name in a cluster).
    pub identity: String,
    /// Whether to run the controllers (false: a webhook-only replica).
    pub controllers: bool,
    /// The admission webhook, when it is served.
    pub webhook: Option<admission::ServeConfig>,
    /// What the webhook decides that the records leave open.
    pub admission: AdmissionPolicy,
    /// Whether to write the compiled admission floor the chart's ValidatingAdmissionPolicies read.
    pub compiled_floor: bool,
}

/// The Lease that elects the replica that writes.
pub const LEASE_NAME: &str = "aims-operator";

/// Why `aims run` stopped before it was asked to.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The approval signing key is missing or unusable.
    #[error("approval signing key: {0}")]
    Key(String),
    /// Leader election failed.
    #[error("leader election: {0}")]
    Lease(String),
    /// The metrics and health server failed.
    #[error("metrics server: {0}")]
    Server(#[from] std::io::Error),
    /// The admission webhook failed.
    #[error("admission webhook: {0}")]
    Webhook(#[from] admission::Error),
    /// A task that runs until shutdown ended by itself.
    #[error("{0} stopped unexpectedly")]
    Ended(&'static str),
}

/// Runs the operator until SIGTERM or SIGINT.
pub async fn run(client: Client, config: Config) -> Result<(), Error> {
    let key = key::load_or_create(&client, &config.namespace).await?;
    // The records of this process start where the last anchored ones ended.
    let previous = anchor::newest(&client, &config.namespace, None)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the records' anchor; the segment starts unlinked");
            None
        });
    let chain = Chain::to_stdout(&config.identity, previous.as_ref());
    let metrics = Arc::new(Metrics::default());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let stopping = shutdown_rx.clone();
    let shutdown = move || {
        let mut rx = shutdown_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };

    // One watch per kind; a webhook-only replica watches only what the webhook reads.
    let scope = if config.controllers {
        WatchScope::Everything
    } else {
        WatchScope::Webhook
    };
    let (stores, triggers) = watches::watch(&client, scope);
    let synced = Synced::default();
    let recorder = Recorder::new(client.clone(), Reporter::from(FIELD_MANAGER));

    let mut tasks: Vec<(&'static str, BoxFuture<'static, Result<(), Error>>)> = vec![
        (
            "metrics server",
            health::serve(
                config.metrics_addr,
                metrics.clone(),
                stores.clone(),
                synced.clone(),
                shutdown(),
            )
            .boxed(),
        ),
        (
            "records anchor",
            anchor::run(
                client.clone(),
                config.namespace.clone(),
                chain.clone(),
                shutdown(),
            )
            .map(Ok)
            .boxed(),
        ),
    ];
    // Every replica that runs the controllers watches and evaluates; the one holding the Lease
    // writes. Dropping the last receiver of the Lease (with the controllers' tasks, at shutdown)
    // releases it, so a successor takes over without waiting for it to expire. A webhook-only
    // replica takes no part in the election, and its watches fill the stores and trigger nothing.
    let mut lease_task = None;
    if config.controllers {
        let lease = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), LEASE_NAME)
            .with_namespace(&config.namespace)
            .with_identity(&config.identity)
            .with_duration(15)
            .with_grace(5)
            .build()
            .await
            .map_err(|e| Error::Lease(e.to_string()))?;
        let (leader, task) = lease.watch().await;
        lease_task = Some(task);
        tasks.push((
            "records per leadership",
            anchor::segment_per_leadership(
                client.clone(),
                config.namespace.clone(),
                chain.clone(),
                leader.clone(),
                shutdown(),
            )
            .map(Ok)
            .boxed(),
        ));
        let ctx = Arc::new(controller::Context {
            client: client.clone(),
            stores: stores.clone(),
            catalog: Catalog::builtin(),
            detector: Detector::default(),
            key: key.clone(),
            metrics: metrics.clone(),
            recorder: recorder.clone(),
            synced: synced.clone(),
            leader,
            pacer: Default::default(),
            chain: chain.clone(),
            reports_written: Default::default(),
            floor: config.compiled_floor.then(|| controller::floor::Config {
                namespace: config.namespace.clone(),
                unregistered: config.admission.unregistered,
            }),
            floor_written: Default::default(),
            unregistered_written: Default::default(),
        });
        for (name, task) in controller::tasks(&ctx, triggers, shutdown.clone()) {
            tasks.push((name, task.map(Ok).boxed()));
        }
    } else {
        let watches = futures::future::select(triggers.drain(), Box::pin(shutdown()));
        tasks.push(("watches", watches.map(|_| Ok(())).boxed()));
    }
    if let Some(webhook) = config.webhook.clone() {
        let state = Arc::new(admission::Webhook {
            stores,
            catalog: Catalog::builtin(),
            detector: Detector::default(),
            key,
            metrics: metrics.clone(),
            recorder,
            synced,
            policy: config.admission.clone(),
            chain: chain.clone(),
        });
        tasks.push((
            "admission webhook",
            admission::serve(
                client.clone(),
                config.namespace.clone(),
                webhook,
                state,
                shutdown(),
            )
            .map(|r| r.map_err(Error::from))
            .boxed(),
        ));
    }
    tracing::info!(
        namespace = %config.namespace,
        metrics = %config.metrics_addr,
        controllers = config.controllers,
        webhook = ?config.webhook.as_ref().map(|w| w.addr),
        tasks = ?tasks.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "aims-operator running"
    );

    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = shutdown_tx.send(true);
    });

    // Every task ends on shutdown; if one ends first, the process stops loudly.
    let (names, tasks): (Vec<_>, Vec<_>) = tasks.into_iter().unzip();
    let (result, index, rest) = futures::future::select_all(tasks).await;
    let result = result.and_then(|()| {
        if *stopping.borrow() {
            Ok(())
        } else {
            Err(Error::Ended(names[index]))
        }
    });
    // Dropping the controllers' tasks drops the last Lease receiver: the lease task releases the
    // Lease for a successor.
    drop(rest);
    // Nothing records any more: the segment closes, and its end is anchored.
    anchor::finish(
        &client,
        &config.namespace,
        &chain,
        std::time::Duration::from_secs(3),
    )
    .await;
    if let Some(lease_task) = lease_task
        && tokio::time::timeout(std::time::Duration::from_secs(5), lease_task)
            .await
            .is_err()
    {
        tracing::warn!("the Lease was not released in time; a successor waits for it to expire");
    }
    result
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
