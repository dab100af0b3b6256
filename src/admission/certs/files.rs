//! [`CertFiles`]: certificate and key files another tool writes and rotates.

use std::path::{Path, PathBuf};

use super::*;

/// Certificate and key files written by another tool (cert-manager), re-read when they change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    /// The certificate chain PEM file (`tls.crt`).
    pub cert: PathBuf,
    /// The private key PEM file (`tls.key`).
    pub key: PathBuf,
}

impl CertFiles {
    /// The files at `cert` and `key`.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
        }
    }

    /// Reads both files and checks that they can be served. The material has no CA bundle.
    pub async fn load(&self) -> Result<Material, CertsError> {
        let cert_chain_pem = read(&self.cert).await?;
        let key_pem = read(&self.key).await?;
        crate::admission::tls::certified_key(&cert_chain_pem, &key_pem).map_err(|source| {
            CertsError::Tls {
                what: format!("{} with {}", self.cert.display(), self.key.display()),
                source,
            }
        })?;
        Ok(Material {
            cert_chain_pem,
            key_pem,
            ca_bundle_pem: None,
        })
    }
}

async fn read(path: &Path) -> Result<String, CertsError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| CertsError::Read {
            path: path.display().to_string(),
            source,
        })
}
