//! [`ManagedCerts`]: the operator's own CA and serving certificate in their Secret.

use std::{collections::BTreeMap, fmt};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};

use crate::admission::config::CONFIGURATION_NAME;

use super::*;

/// The operator's own CA and serving certificate, kept in the Secret [`SECRET_NAME`].
#[derive(Clone)]
pub struct ManagedCerts {
    pub(super) client: Client,
    pub(super) namespace: String,
    pub(super) hosts: Vec<Host>,
    pub(super) configuration: String,
    pub(super) lifetimes: Lifetimes,
}

impl fmt::Debug for ManagedCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedCerts")
            .field("namespace", &self.namespace)
            .field("hosts", &self.hosts)
            .field("configuration", &self.configuration)
            .field("lifetimes", &self.lifetimes)
            .finish_non_exhaustive()
    }
}

impl ManagedCerts {
    /// Certificates kept in `namespace` (the operator's) for the names `hosts` (see
    /// [`service_hosts`]), with the CA published to the configurations named
    /// [`CONFIGURATION_NAME`] and the default [`Lifetimes`].
    pub fn new(client: Client, namespace: impl Into<String>, hosts: Vec<Host>) -> Self {
        Self {
            client,
            namespace: namespace.into(),
            hosts,
            configuration: CONFIGURATION_NAME.to_owned(),
            lifetimes: Lifetimes::default(),
        }
    }

    /// Publishes the CA to the webhook configurations named `name` instead.
    pub fn with_configuration(mut self, name: impl Into<String>) -> Self {
        self.configuration = name.into();
        self
    }

    /// Uses other lifetimes.
    pub fn with_lifetimes(mut self, lifetimes: Lifetimes) -> Self {
        self.lifetimes = lifetimes;
        self
    }

    /// One round at `now`: reads the Secret, creates it when it is missing or renews what is due
    /// (see [`renewal`]), and returns what it then holds. Does not publish the CA bundle.
    pub async fn ensure(&self, now: Timestamp) -> Result<Material, CertsError> {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        for _ in 0..ATTEMPTS {
            let Some(mut secret) = secrets.get_opt(SECRET_NAME).await? else {
                let stored = renew(
                    &Stored::default(),
                    &Observed::default(),
                    renewal(now, &Observed::default(), &self.hosts, &self.lifetimes),
                    now,
                    &self.hosts,
                    &self.lifetimes,
                )?;
                match secrets
                    .create(&PostParams::default(), &self.new_secret(&stored))
                    .await
                {
                    Ok(_) => {
                        tracing::info!(secret = SECRET_NAME, hosts = ?self.hosts, "created the webhook CA and serving certificate");
                        return Ok(stored.material());
                    }
                    // Another replica created it first: read theirs.
                    Err(kube::Error::Api(e)) if e.code == 409 => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            if secret.type_.as_deref() != Some(SECRET_TYPE) {
                return Err(CertsError::Secret(format!(
                    "has type {:?}, not {SECRET_TYPE}; delete it and the operator creates it anew",
                    secret.type_.as_deref().unwrap_or("Opaque")
                )));
            }
            let stored = Stored::from_secret(&secret);
            let observed = observe(&stored);
            let due = renewal(now, &observed, &self.hosts, &self.lifetimes);
            if !due.any() {
                return Ok(stored.material());
            }
            let next = renew(&stored, &observed, due, now, &self.hosts, &self.lifetimes)?;
            next.write_into(secret.data.get_or_insert_with(BTreeMap::new));
            secret.string_data = None;
            // The resourceVersion read makes this fail with 409 if another replica wrote since.
            match secrets
                .replace(SECRET_NAME, &PostParams::default(), &secret)
                .await
            {
                Ok(_) => {
                    tracing::info!(
                        secret = SECRET_NAME,
                        ca = due.ca,
                        serving = due.serving,
                        pruned = due.prune,
                        "renewed webhook certificates"
                    );
                    return Ok(next.material());
                }
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CertsError::Contended)
    }

    /// Sets `caBundle` on every webhook of the configurations this source publishes to; see
    /// [`publish_ca_bundle`].
    pub async fn publish(&self, ca_bundle_pem: &str) -> Result<(), CertsError> {
        publish_ca_bundle(&self.client, &self.configuration, ca_bundle_pem).await
    }

    pub(super) fn new_secret(&self, stored: &Stored) -> Secret {
        let mut data = BTreeMap::new();
        stored.write_into(&mut data);
        Secret {
            metadata: ObjectMeta {
                name: Some(SECRET_NAME.to_owned()),
                namespace: Some(self.namespace.clone()),
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_owned(),
                    "aims-operator".to_owned(),
                )])),
                ..Default::default()
            },
            data: Some(data),
            type_: Some(SECRET_TYPE.to_owned()),
            ..Default::default()
        }
    }
}
