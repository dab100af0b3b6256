//! Watching a kind: reflected watches that back off on their own and trim what the stores keep,
//! and the trigger streams made from them.

use futures::StreamExt;
use kube::{
    Client,
    runtime::{
        WatchStreamExt,
        reflector::{self, Store},
        watcher,
    },
};

use super::stored::Stored;

/// What a watched kind must be: what kube's reflectors and controllers need of it.
pub trait Watched:
    kube::Resource<DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Watched for K where
    K: kube::Resource<DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// The reflected watch events of `K` in every namespace, backing off on their own, with what
/// [`Stored::trim`] drops removed before the store keeps them; and the store.
pub fn reflect_events<K: Stored>(
    client: Client,
) -> (
    kube::runtime::reflector::Store<K>,
    impl futures::Stream<Item = Result<kube::runtime::watcher::Event<K>, kube::runtime::watcher::Error>>
    + Send
    + 'static,
) {
    use kube::runtime::{WatchStreamExt, reflector, watcher};
    let (store, writer) = reflector::store();
    let events = reflector(
        writer,
        watcher(kube::Api::<K>::all(client), watcher::Config::default())
            .default_backoff()
            .modify(K::trim),
    );
    (store, events)
}

/// Drops the watch events of `K` that change neither its generation (its spec), labels nor
/// annotations: the updates of its status alone. New and deleted objects always pass.
///
/// For triggers whose mapper reads no status: the statuses the operator writes back would
/// otherwise each start another round of reconciles that change nothing (a binding's tally
/// re-evaluated every system it selects).
pub fn without_status_updates<K, S>(stream: S) -> impl futures::Stream<Item = S::Item>
where
    K: kube::Resource,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
    S: futures::Stream<
            Item = Result<kube::runtime::watcher::Event<K>, kube::runtime::watcher::Error>,
        >,
{
    use kube::runtime::{reflector::ObjectRef, watcher::Event};
    let mut seen = std::collections::HashMap::<ObjectRef<K>, u64>::new();
    stream.filter(move |event| {
        let keep = match event {
            Ok(Event::Apply(o) | Event::InitApply(o)) => {
                seen.insert(ObjectRef::from_obj(o), spec_version(o)) != Some(spec_version(o))
            }
            Ok(Event::Delete(o)) => {
                seen.remove(&ObjectRef::from_obj(o));
                true
            }
            Ok(Event::Init) => {
                // A new list follows: it sees every object again.
                seen.clear();
                true
            }
            Ok(Event::InitDone) | Err(_) => true,
        };
        futures::future::ready(keep)
    })
}

/// A hash of what a status write leaves unchanged: generation, labels and annotations.
fn spec_version<K: kube::Resource>(o: &K) -> u64 {
    use std::hash::{Hash, Hasher};
    let meta = o.meta();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (meta.generation, &meta.labels, &meta.annotations).hash(&mut h);
    h.finish()
}

/// A reflected watch of `K` that keeps what decisions need: its store, and a trigger stream of
/// every object touched.
pub fn reflect<K: Stored>(
    client: Client,
) -> (
    Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send,
) {
    let (store, events) = reflect_events(client);
    (store, events.touched_objects())
}

/// `watch()` when `watched`; otherwise the store of `unused`, empty and ready at once, and a
/// trigger stream that never yields. A webhook-only replica keeps only the stores the webhook
/// reads.
pub fn watch_if<K, S>(
    watched: bool,
    unused: reflector::store::Writer<K>,
    watch: impl FnOnce() -> (Store<K>, S),
) -> (
    Store<K>,
    futures::future::Either<S, futures::stream::Pending<S::Item>>,
)
where
    K: kube::runtime::reflector::Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
    S: futures::Stream,
{
    if watched {
        let (store, stream) = watch();
        (store, futures::future::Either::Left(stream))
    } else {
        let mut writer = unused;
        writer.apply_watcher_event(&watcher::Event::Init);
        writer.apply_watcher_event(&watcher::Event::InitDone);
        (
            writer.as_reader(),
            futures::future::Either::Right(futures::stream::pending()),
        )
    }
}

/// Polls a reflected watch for its stores alone, logging its failures (it retries by itself).
pub fn drain<T>(
    stream: impl futures::Stream<Item = Result<T, watcher::Error>> + Send + 'static,
) -> futures::future::BoxFuture<'static, ()> {
    use futures::{FutureExt, StreamExt};
    stream
        .for_each(|item| {
            if let Err(error) = item {
                tracing::warn!(%error, "watch failed; retrying");
            }
            futures::future::ready(())
        })
        .boxed()
}
