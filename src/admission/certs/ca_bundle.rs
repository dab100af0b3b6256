//! Publishing the CA in the webhook configurations' `caBundle`.

use std::fmt;

use futures::StreamExt;
use k8s_openapi::{
    ByteString,
    api::admissionregistration::v1::{
        MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
    },
};
use kube::{
    Api, Client, Resource,
    api::{Patch, PatchParams},
    runtime::{WatchStreamExt, watcher},
};
use serde::de::DeserializeOwned;

use super::*;

/// Sets `webhooks[].clientConfig.caBundle` of every webhook in the ValidatingWebhookConfiguration
/// and the MutatingWebhookConfiguration named `configuration`, by server-side apply as
/// [`CA_FIELD_MANAGER`]. A configuration that does not exist (yet) is skipped; one whose webhooks
/// all carry the bundle already is not written.
pub async fn publish_ca_bundle(
    client: &Client,
    configuration: &str,
    ca_bundle_pem: &str,
) -> Result<(), CertsError> {
    let bundle = ByteString(ca_bundle_pem.as_bytes().to_vec());
    apply_ca_bundle::<ValidatingWebhookConfiguration>(client, configuration, &bundle, |c| {
        c.webhooks
            .unwrap_or_default()
            .into_iter()
            .map(|w| (w.name, w.client_config.ca_bundle))
            .collect()
    })
    .await?;
    apply_ca_bundle::<MutatingWebhookConfiguration>(client, configuration, &bundle, |c| {
        c.webhooks
            .unwrap_or_default()
            .into_iter()
            .map(|w| (w.name, w.client_config.ca_bundle))
            .collect()
    })
    .await
}

/// Applies `bundle` to every webhook of the configuration of kind `K` named `name`, unless they
/// all have it; `webhooks` lists a configuration's webhooks by name with their bundle. A
/// configuration that does not exist (yet) is skipped.
async fn apply_ca_bundle<K>(
    client: &Client,
    name: &str,
    bundle: &ByteString,
    webhooks: fn(K) -> Vec<(String, Option<ByteString>)>,
) -> Result<(), CertsError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    let Some(found) = api.get_opt(name).await? else {
        tracing::debug!(configuration = name, kind = %K::kind(&()), "no webhook configuration to publish the CA to yet");
        return Ok(());
    };
    let webhooks = webhooks(found);
    if webhooks
        .iter()
        .all(|(_, have)| have.as_ref() == Some(bundle))
    {
        return Ok(());
    }
    let encoded = serde_json::to_value(bundle)?;
    let entries: Vec<serde_json::Value> = webhooks
        .iter()
        .map(|(webhook, _)| {
            serde_json::json!({ "name": webhook, "clientConfig": { "caBundle": encoded } })
        })
        .collect();
    // The webhooks list is a map keyed by name: this touches only caBundle of each entry.
    let body = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": { "name": name },
        "webhooks": entries,
    });
    api.patch(
        name,
        &PatchParams::apply(CA_FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    tracing::info!(kind = %K::kind(&()), name, "published the webhook CA bundle");
    Ok(())
}

/// The `caBundle` of every webhook of the configurations `managed` publishes to, each time one of
/// them is created or changed.
pub(super) fn configuration_bundles(
    managed: &ManagedCerts,
) -> impl futures::Stream<Item = Vec<Vec<u8>>> + Send + use<> {
    fn bundles<K>(
        client: Client,
        name: &str,
        of: fn(&K) -> Vec<Vec<u8>>,
    ) -> impl futures::Stream<Item = Vec<Vec<u8>>> + Send + use<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        watcher::watcher(Api::<K>::all(client), config)
            .default_backoff()
            .applied_objects()
            .filter_map(move |o| futures::future::ready(o.ok().map(|o| of(&o))))
    }
    fn bytes(b: Option<&ByteString>) -> Vec<u8> {
        b.map(|b| b.0.clone()).unwrap_or_default()
    }
    let validating = bundles::<ValidatingWebhookConfiguration>(
        managed.client.clone(),
        &managed.configuration,
        |c| {
            c.webhooks
                .iter()
                .flatten()
                .map(|w| bytes(w.client_config.ca_bundle.as_ref()))
                .collect()
        },
    );
    let mutating = bundles::<MutatingWebhookConfiguration>(
        managed.client.clone(),
        &managed.configuration,
        |c| {
            c.webhooks
                .iter()
                .flatten()
                .map(|w| bytes(w.client_config.ca_bundle.as_ref()))
                .collect()
        },
    );
    futures::stream::select(validating, mutating)
}
