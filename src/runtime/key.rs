//! The approval signing key: a random 32-byte key in a Secret of the operator's namespace, created
//! on first start, read by the operator only.

use std::collections::BTreeMap;

use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
};

use super::Error;
use crate::engine::approval::SigningKey;

/// The Secret's name.
pub const SECRET_NAME: &str = "aims-approval-signing-key";
/// The key's entry in the Secret.
pub const SECRET_KEY: &str = "key";

/// Reads the signing key, creating the Secret with a fresh random key when there is none. Two
/// replicas starting at once both end up with the key the first one created.
pub async fn load_or_create(client: &Client, namespace: &str) -> Result<SigningKey, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    if let Some(secret) = secrets.get_opt(SECRET_NAME).await? {
        return from_secret(&secret);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Key(format!("no randomness for a new key: {e}")))?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(SECRET_NAME.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_owned(),
                "aims-operator".to_owned(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            SECRET_KEY.to_owned(),
            ByteString(bytes.to_vec()),
        )])),
        type_: Some("Opaque".to_owned()),
        ..Default::default()
    };
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(created) => from_secret(&created),
        Err(kube::Error::Api(e)) if e.code == 409 => from_secret(&secrets.get(SECRET_NAME).await?),
        Err(e) => Err(e.into()),
    }
}

fn from_secret(secret: &Secret) -> Result<SigningKey, Error> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(SECRET_KEY))
        .ok_or_else(|| Error::Key(format!("Secret {SECRET_NAME} has no data.{SECRET_KEY}")))?;
    SigningKey::new(&bytes.0).map_err(|e| Error::Key(format!("Secret {SECRET_NAME}: {e}")))
}
