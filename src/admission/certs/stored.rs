//! The PEM material served, and what the Secret holds.

use std::{collections::BTreeMap, fmt};

use k8s_openapi::{ByteString, api::core::v1::Secret};

use super::*;

/// The PEM texts the server and the webhook configurations need.
#[derive(Clone, PartialEq, Eq)]
pub struct Material {
    /// The serving certificate chain, end-entity first.
    pub cert_chain_pem: String,
    /// Its private key.
    pub key_pem: String,
    /// The CA certificates the API server is to trust, for `caBundle`; `None` when another tool
    /// publishes them.
    pub ca_bundle_pem: Option<String>,
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Material")
            .field("cert_chain_pem", &self.cert_chain_pem)
            .field("key_pem", &"<redacted>")
            .field("ca_bundle_pem", &self.ca_bundle_pem)
            .finish()
    }
}

/// The four PEM texts of the Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Stored {
    pub(super) tls_crt: String,
    pub(super) tls_key: String,
    pub(super) ca_crt: String,
    pub(super) ca_key: String,
}

impl Stored {
    pub(super) fn from_secret(secret: &Secret) -> Self {
        let field = |key: &str| {
            secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .and_then(|b| String::from_utf8(b.0.clone()).ok())
                .unwrap_or_default()
        };
        Self {
            tls_crt: field(TLS_CRT),
            tls_key: field(TLS_KEY),
            ca_crt: field(CA_CRT),
            ca_key: field(CA_KEY),
        }
    }

    pub(super) fn write_into(&self, data: &mut BTreeMap<String, ByteString>) {
        for (key, value) in [
            (TLS_CRT, &self.tls_crt),
            (TLS_KEY, &self.tls_key),
            (CA_CRT, &self.ca_crt),
            (CA_KEY, &self.ca_key),
        ] {
            data.insert(key.to_owned(), ByteString(value.clone().into_bytes()));
        }
    }

    pub(super) fn material(&self) -> Material {
        Material {
            cert_chain_pem: self.tls_crt.clone(),
            key_pem: self.tls_key.clone(),
            ca_bundle_pem: Some(self.ca_crt.clone()),
        }
    }
}
