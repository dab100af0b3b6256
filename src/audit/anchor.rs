//! The anchor: each segment's head, written at intervals to a ConfigMap in the operator's
//! namespace that only the operator may write (the chart's `records-anchor` policy). A log cut
//! off after its last anchored record, or rewritten whole from some record on, no longer matches
//! it; a new segment links to the newest head in it.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
};

use super::Chain;
use crate::engine::chain::Head;

/// The ConfigMap that holds the heads.
pub const NAME: &str = "aims-operator-records";

/// How often a changed head is anchored.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// How many segments' heads it keeps (the oldest go first): a segment is a process start or a
/// leadership, so a thousand is years of them; each head is about 200 bytes.
pub const KEEP: usize = 1000;

/// Every head anchored in `namespace`, by segment; `None` when there is no anchor there (no
/// operator has run in that namespace).
pub async fn heads(
    client: &Client,
    namespace: &str,
) -> Result<Option<BTreeMap<String, Head>>, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let Some(map) = api.get_opt(NAME).await? else {
        return Ok(None);
    };
    Ok(Some(
        map.data
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(segment, value)| Some((segment, serde_json::from_str(&value).ok()?)))
            .collect(),
    ))
}

/// The newest head anchored, other than `except`'s segment.
pub async fn newest(
    client: &Client,
    namespace: &str,
    except: Option<&str>,
) -> Result<Option<Head>, kube::Error> {
    Ok(heads(client, namespace)
        .await?
        .unwrap_or_default()
        .into_values()
        .filter(|h| Some(h.segment.as_str()) != except)
        .max_by_key(|h| h.at))
}

/// Anchors `head`, dropping the oldest heads beyond [`KEEP`].
pub async fn write(client: &Client, namespace: &str, head: &Head) -> Result<(), kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let value = serde_json::to_string(head).unwrap_or_default();
    let Some(stored) = api.get_opt(NAME).await? else {
        let map = ConfigMap {
            metadata: kube::api::ObjectMeta {
                name: Some(NAME.to_owned()),
                ..Default::default()
            },
            data: Some([(head.segment.clone(), value)].into()),
            ..Default::default()
        };
        return match api.create(&PostParams::default(), &map).await {
            Ok(_) => Ok(()),
            // Another replica created it first: patch it.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                Box::pin(write(client, namespace, head)).await
            }
            Err(e) => Err(e),
        };
    };
    let mut data = serde_json::Map::new();
    let mut others: Vec<Head> = stored
        .data
        .unwrap_or_default()
        .into_iter()
        .filter(|(segment, _)| *segment != head.segment)
        .filter_map(|(_, v)| serde_json::from_str(&v).ok())
        .collect();
    others.sort_by_key(|h| std::cmp::Reverse(h.at));
    for old in others.iter().skip(KEEP - 1) {
        data.insert(old.segment.clone(), serde_json::Value::Null);
    }
    data.insert(head.segment.clone(), value.into());
    let patch = serde_json::json!({ "data": data });
    api.patch(NAME, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Anchors the chain's head every [`INTERVAL`] while it changes, until `shutdown` ([`finish`]
/// closes the segment and anchors its end).
pub async fn run(
    client: Client,
    namespace: String,
    chain: Arc<Chain>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut anchored: Option<Head> = None;
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut shutdown => break,
        }
        anchor_if_changed(&client, &namespace, &chain, &mut anchored).await;
    }
}

/// Closes the segment (its process stops in order) and anchors its last record, within
/// `timeout`.
pub async fn finish(client: &Client, namespace: &str, chain: &Chain, timeout: Duration) {
    chain.close();
    let Some(head) = chain.head() else { return };
    match tokio::time::timeout(timeout, write(client, namespace, &head)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot anchor the records' last head"),
        Err(_) => tracing::warn!("the records' last head was not anchored in time"),
    }
}

async fn anchor_if_changed(
    client: &Client,
    namespace: &str,
    chain: &Chain,
    anchored: &mut Option<Head>,
) {
    let head = chain.head();
    if head.is_none() || head == *anchored {
        return;
    }
    if let Some(head) = &head {
        match write(client, namespace, head).await {
            Ok(()) => *anchored = Some(head.clone()),
            Err(e) => tracing::warn!(error = %e, "cannot anchor the records' head; retrying"),
        }
    }
}

/// Starts a new segment each time this replica becomes the leader, linked to its own head and to
/// the newest head another segment anchored (the leader it takes over from); runs until
/// `shutdown`.
pub async fn segment_per_leadership(
    client: Client,
    namespace: String,
    chain: Arc<Chain>,
    mut leader: tokio::sync::watch::Receiver<bool>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut leading = *leader.borrow_and_update();
    loop {
        tokio::select! {
            changed = leader.changed() => if changed.is_err() { break },
            () = &mut shutdown => return,
        }
        let now = *leader.borrow_and_update();
        if now && !leading {
            let own = chain.head().map(|h| h.segment);
            let follows = match newest(&client, &namespace, own.as_deref()).await {
                Ok(head) => head,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the records' anchor");
                    None
                }
            };
            chain.restart("leader", follows.as_ref());
            // Anchored at once: a segment the anchor does not know reads as not the operator's.
            if let Some(head) = chain.head()
                && let Err(e) = write(&client, &namespace, &head).await
            {
                tracing::warn!(error = %e, "cannot anchor the records' head; retrying");
            }
        }
        leading = now;
    }
    // The Lease is gone (its task ended): wait for shutdown like every other task.
    shutdown.await;
}
