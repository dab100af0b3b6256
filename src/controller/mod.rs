//! The reconcilers: the controllers that evaluate every AISystem, RiskAssessment and binding
//! against what runs, and write the result to their status.
//!
//! Thin on purpose: the stores of [`crate::cluster`] feed the pure engine, and the only writes are
//! server-side applies of `status` (skipped when nothing changed), Events, and a halted system's
//! scale-downs. [`crate::runtime`] starts them ([`tasks`]).

mod aisystem;
mod assessment;
mod binding;
pub mod context;
pub mod floor;
pub mod halt;
pub mod openreports;
pub mod pace;
pub mod records;
mod scan;
pub mod status;
pub mod written;

use std::sync::Arc;

use futures::{FutureExt, StreamExt, future::BoxFuture};

pub use context::Context;

use crate::cluster::watches::{SharedEvents, Triggers};

/// The controllers' tasks, each named, over the watches' `triggers`: the AISystem,
/// RiskAssessment, ControlBinding and ClusterControlBinding controllers, and the scan for
/// unregistered model workloads. Each ends once `shutdown` resolves.
pub fn tasks<S>(
    ctx: &Arc<Context>,
    triggers: Triggers,
    shutdown: impl Fn() -> S,
) -> Vec<(&'static str, BoxFuture<'static, ()>)>
where
    S: std::future::Future<Output = ()> + Send + Sync + 'static,
{
    // The CRD watch runs beside the controllers: it starts each custom kind's watch once its CRD
    // is installed.
    let mut triggers = triggers;
    let crds = std::mem::replace(&mut triggers.crds, futures::future::pending().boxed());
    // Every other controller subscribes before the AISystem controller first polls the watches.
    let shared = SharedEvents::new();
    let assessments = assessment::controller(ctx, &shared);
    let bindings = binding::namespaced(ctx, &shared);
    let cluster_bindings = binding::cluster(ctx, &shared);
    let systems = aisystem::controller(ctx, triggers, &shared)
        .graceful_shutdown_on(shutdown())
        .run(aisystem::reconcile, aisystem::error_policy, ctx.clone())
        .for_each(report);
    let assessments = assessments
        .graceful_shutdown_on(shutdown())
        .run(assessment::reconcile, assessment::error_policy, ctx.clone())
        .for_each(report);
    let bindings = bindings
        .graceful_shutdown_on(shutdown())
        .run(
            binding::reconcile_namespaced,
            binding::error_policy,
            ctx.clone(),
        )
        .for_each(report);
    let cluster_bindings = cluster_bindings
        .graceful_shutdown_on(shutdown())
        .run(
            binding::reconcile_cluster,
            binding::error_policy,
            ctx.clone(),
        )
        .for_each(report);
    vec![
        ("crd watch", crds),
        ("aisystem controller", systems.boxed()),
        ("riskassessment controller", assessments.boxed()),
        ("controlbinding controller", bindings.boxed()),
        ("clustercontrolbinding controller", cluster_bindings.boxed()),
        (
            "unregistered scan",
            scan::run(ctx.clone(), shutdown()).boxed(),
        ),
        (
            "memos per leadership",
            futures::future::select(
                Box::pin(forget_on_leadership(ctx.clone())),
                Box::pin(shutdown()),
            )
            .map(drop)
            .boxed(),
        ),
    ]
}

/// Forgets what was written (OpenReports reports, the compiled floor) each time this replica
/// becomes leader: another replica may have written since, and an entry trusted as written would
/// not be mended for up to [`written::RECHECK`].
async fn forget_on_leadership(ctx: Arc<Context>) {
    let mut leader = ctx.leader.clone();
    let mut was = *leader.borrow_and_update();
    while leader.changed().await.is_ok() {
        let now = *leader.borrow_and_update();
        if now && !was {
            ctx.reports_written.clear();
            ctx.floor_written.clear();
            ctx.unregistered_written.clear();
        }
        was = now;
    }
}

/// The field manager of every status the operator writes.
pub const FIELD_MANAGER: &str = "aims-operator";

/// Writes `status` as the whole status of the object `name` by server-side apply, under the
/// operator's field manager (forced: the operator alone writes these statuses), and counts the
/// write for `controller`.
pub async fn write_status<K>(
    ctx: &Context,
    controller: &'static str,
    api: &kube::Api<K>,
    name: &str,
    status: &impl serde::Serialize,
) -> Result<(), Error>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    use kube::api::{Patch, PatchParams};
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    ctx.metrics.status_write(controller);
    Ok(())
}

/// Errors of the controllers, each with a stable label for metrics and logs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be serialized.
    #[error("cannot serialize: {0}")]
    Serialize(#[from] serde_json::Error),
    /// Work handed to the blocking pool was dropped: the runtime is shutting down.
    #[error("shutting down")]
    Stopped,
}

impl Error {
    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Serialize(_) => "serialize",
            Self::Stopped => "stopped",
        }
    }
}

/// Runs CPU-bound work (evaluating many systems) on tokio's blocking pool, so that it never holds
/// up the async workers that serve the webhook and drive the watches. A panic in `work` is
/// resumed here.
pub async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Ok(value),
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(_) => Err(Error::Stopped),
    }
}

/// A controller driven by `stream`, one of the shared watches (each backs off by itself, as every
/// stream given to [`kube::runtime::Controller::watches_stream`] must), with `store` the store that
/// watch fills.
///
/// kube's controllers also pause all their trigger streams together whenever any one of them fails,
/// with one backoff that grows across streams and resets only after two quiet minutes. At start,
/// a few failed lists (kinds just installed) thus stalled every watch, and so readiness, for
/// minutes. Here each watch backs off alone and the controller never pauses the others.
pub(crate) fn controller_for_stream<K: crate::cluster::watch::Watched>(
    stream: impl futures::Stream<Item = Result<K, kube::runtime::watcher::Error>> + Send + 'static,
    store: kube::runtime::reflector::Store<K>,
) -> kube::runtime::Controller<K> {
    kube::runtime::Controller::for_stream(stream, store)
        .trigger_backoff(NoPause)
        .with_config(kube::runtime::controller::Config::default().concurrency(CONCURRENCY))
}

/// How many reconciles of one controller run at once. Unbounded, a start on a large cluster ran
/// every object's reconcile together: each held its evaluation in memory and opened its own
/// connection for its status write, which set the operator's peak memory. A reconcile is a few
/// milliseconds of evaluation and one write, so a few at a time keep two cores and the API server
/// busy.
pub const CONCURRENCY: u16 = 8;

/// A controller backoff that never pauses: each trigger stream backs off on its own.
struct NoPause;

impl Iterator for NoPause {
    type Item = std::time::Duration;

    fn next(&mut self) -> Option<Self::Item> {
        Some(std::time::Duration::ZERO)
    }
}

impl kube::runtime::utils::Backoff for NoPause {
    fn reset(&mut self) {}
}

/// Logs a watch that failed (it is retried with backoff); failed reconciles are logged by the
/// controllers' error policies.
fn report<T, E: std::error::Error>(
    result: Result<T, kube::runtime::controller::Error<E, kube::runtime::watcher::Error>>,
) -> futures::future::Ready<()> {
    if let Err(kube::runtime::controller::Error::QueueError(error)) = result {
        tracing::warn!(%error, "watch failed; retrying");
    }
    futures::future::ready(())
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::{WatchStreamExt, controller::Action, reflector, watcher};

    use super::controller_for_stream;

    /// Eight failed lists, then the object: kube's own controller backoff would pause all
    /// triggers after each failure (0.8 s, 1.6 s, ... 30 s: over a minute in all) before the object
    /// is reconciled; here it is reconciled at once. Time is tokio's paused clock.
    #[tokio::test(start_paused = true)]
    async fn failed_watches_do_not_hold_back_the_triggers() {
        let object: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cm", "namespace": "default"}
        }))
        .unwrap();
        let failures = (0..8).map(|_| Err(watcher::Error::NoResourceVersion));
        let list = [
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(object)),
            Ok(watcher::Event::InitDone),
        ];
        let events = futures::stream::iter(failures.chain(list)).chain(futures::stream::pending());
        let (store, writer) = reflector::store();
        let stream = reflector(writer, events).applied_objects();

        let start = tokio::time::Instant::now();
        let run = controller_for_stream(stream, store)
            .run(
                |_: Arc<ConfigMap>, _: Arc<()>| async {
                    Ok::<_, std::io::Error>(Action::await_change())
                },
                |_, _, _| Action::await_change(),
                Arc::new(()),
            )
            .filter_map(|r| futures::future::ready(r.ok()));
        let first = Box::pin(run).next().await;
        assert_eq!(first.unwrap().0.name, "cm");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the object waited {:?}",
            start.elapsed()
        );
    }

    /// A ConfigMap named `name` at `generation`, with `labels`, and some status-like data that
    /// stands for what a status write changes.
    fn object(name: &str, generation: i64, labels: &[(&str, &str)], data: &str) -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "default", "generation": generation,
                         "labels": labels.iter().copied().collect::<std::collections::BTreeMap<_, _>>()},
            "data": {"status": data}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn status_updates_alone_are_dropped_and_every_other_change_passes() {
        use watcher::Event::{Apply, Delete, Init, InitApply, InitDone};
        let a = |generation, labels: &[(&str, &str)], data| object("a", generation, labels, data);
        let cases: Vec<(&str, watcher::Event<ConfigMap>, bool)> = vec![
            ("the list begins", Init, true),
            ("listed", InitApply(a(1, &[], "x")), true),
            ("the list ends", InitDone, true),
            ("status alone", Apply(a(1, &[], "y")), false),
            ("status alone again", Apply(a(1, &[], "z")), false),
            ("new generation (spec)", Apply(a(2, &[], "z")), true),
            ("new label", Apply(a(2, &[("team", "t")], "z")), true),
            (
                "deleted, unchanged",
                Delete(a(2, &[("team", "t")], "z")),
                true,
            ),
            ("created again", Apply(a(2, &[("team", "t")], "z")), true),
            ("another object", Apply(object("b", 1, &[], "x")), true),
            ("a new list", Init, true),
            (
                "listed again, unchanged",
                InitApply(a(2, &[("team", "t")], "z")),
                true,
            ),
        ];
        let events = cases
            .iter()
            .map(|(_, e, _)| Ok(e.clone()))
            .collect::<Vec<_>>();
        let kept: Vec<_> =
            crate::cluster::watch::without_status_updates(futures::stream::iter(events))
                .map(|e| format!("{:?}", e.unwrap()))
                .collect()
                .await;
        let want: Vec<_> = cases
            .iter()
            .filter(|(_, _, keep)| *keep)
            .map(|(_, e, _)| format!("{e:?}"))
            .collect();
        assert_eq!(
            kept,
            want,
            "dropped wrongly or kept wrongly among: {:?}",
            cases
                .iter()
                .map(|(name, _, keep)| (name, keep))
                .collect::<Vec<_>>()
        );
    }

    /// Thirty objects listed at once are reconciled at most `CONCURRENCY` at a time (kube's
    /// default would run all thirty together). Time is tokio's paused clock.
    #[tokio::test(start_paused = true)]
    async fn reconciles_run_a_few_at_a_time() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let objects = (0..30).map(|i| {
            Ok(watcher::Event::InitApply(object(
                &format!("cm-{i}"),
                1,
                &[],
                "x",
            )))
        });
        let list = std::iter::once(Ok(watcher::Event::Init))
            .chain(objects)
            .chain(std::iter::once(Ok(watcher::Event::InitDone)));
        let events = futures::stream::iter(list).chain(futures::stream::pending());
        let (store, writer) = reflector::store();
        let stream = reflector(writer, events).applied_objects();
        // (running now, most at once)
        let counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let run = controller_for_stream(stream, store)
            .run(
                |_: Arc<ConfigMap>, counts: Arc<(AtomicUsize, AtomicUsize)>| async move {
                    let now = counts.0.fetch_add(1, Ordering::SeqCst) + 1;
                    counts.1.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    counts.0.fetch_sub(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(Action::await_change())
                },
                |_, _, _| Action::await_change(),
                counts.clone(),
            )
            .filter_map(|r| futures::future::ready(r.ok()));
        let done: Vec<_> = Box::pin(run).take(30).collect().await;
        assert_eq!(done.len(), 30);
        assert_eq!(
            counts.1.load(Ordering::SeqCst),
            usize::from(super::CONCURRENCY)
        );
    }

    /// A client whose requests are recorded (method, path and query) and never answered: every
    /// watch stays at its first list.
    fn unanswering_client() -> (kube::Client, Arc<std::sync::Mutex<Vec<String>>>) {
        let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = sent.clone();
        let service = tower::service_fn(move |req: axum::http::Request<kube::client::Body>| {
            log.lock().unwrap().push(format!(
                "{} {}",
                req.method(),
                req.uri().path_and_query().map_or("", |p| p.as_str())
            ));
            futures::future::pending::<
                Result<axum::http::Response<kube::client::Body>, std::convert::Infallible>,
            >()
        });
        (kube::Client::new(service, "default"), sent)
    }

    /// The controllers share the watches: each kind is listed once, however many controllers read
    /// it (the RiskAssessment and binding controllers each watched their own kind a second time).
    #[tokio::test]
    async fn every_kind_is_listed_once_for_all_the_controllers() {
        use crate::cluster::watches::{WatchScope, watch};
        let (client, sent) = unanswering_client();
        let (stores, triggers) = watch(&client, WatchScope::Everything);
        let ctx = super::Context::for_test(client, stores, false);
        let tasks = super::tasks(&ctx, triggers, futures::future::pending::<()>);
        let running = tokio::spawn(futures::future::join_all(
            tasks.into_iter().map(|(_, task)| task),
        ));

        let kinds = [
            "aisystems",
            "riskassessments",
            "controlbindings",
            "clustercontrolbindings",
            "namespaces",
            "deployments",
            "statefulsets",
            "daemonsets",
            "replicasets",
            "replicationcontrollers",
            "jobs",
            "cronjobs",
            "pods",
        ];
        let lists = || {
            let mut lists = std::collections::BTreeMap::<String, usize>::new();
            for request in sent.lock().unwrap().iter() {
                let Some(path) = request.strip_prefix("GET ") else {
                    continue;
                };
                let resource = path.split('?').next().unwrap_or_default();
                let resource = resource.rsplit('/').next().unwrap_or_default().to_owned();
                *lists.entry(resource).or_default() += 1;
            }
            lists
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !kinds.iter().all(|k| lists().contains_key(*k)) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "not every kind was listed: {:?}",
                lists()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Every controller started with the first poll; a watch of its own would have listed by now.
        tokio::time::sleep(Duration::from_millis(200)).await;
        running.abort();
        let lists = lists();
        for kind in kinds {
            assert_eq!(lists.get(kind), Some(&1), "{kind}: {lists:?}");
        }
    }
}
