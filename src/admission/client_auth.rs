//! Mutual TLS for the webhook: only a client whose certificate chains to the client CA (and, when
//! names are given, whose certificate carries one of them) completes the TLS handshake.
//!
//! The API server presents such a certificate when its admission configuration gives it one
//! (`--admission-control-config-file`, a `WebhookAdmissionConfiguration` whose `kubeConfigFile`
//! names a client certificate for the webhook's host). Without it, anyone who can reach the port
//! could post a fabricated AdmissionReview and have it answered, stamped and logged.
//!
//! [`ClientAuth`] holds the current CA behind a lock, so [`ClientAuth::keep_fresh`] swaps in a
//! changed CA file for new handshakes without a restart.

use std::{
    fmt,
    path::{Path, PathBuf},
    pin::pin,
    sync::{Arc, RwLock},
    time::Duration,
};

use rustls::{
    DigitallySignedStruct, DistinguishedName, Error as RustlsError, RootCertStore, SignatureScheme,
    client::danger::HandshakeSignatureValid,
    server::{
        WebPkiClientVerifier,
        danger::{ClientCertVerified, ClientCertVerifier},
    },
};
use rustls_pki_types::{CertificateDer, UnixTime, pem::PemObject};

use super::tls::{TlsError, provider};

/// How often the client CA file is read again.
pub const CA_FILE_INTERVAL: Duration = Duration::from_secs(10);

/// Which clients may talk to the webhook: those with a certificate from the CA in `ca_file`,
/// carrying one of `names` (as its subject's common name or a DNS name) when any are given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAuthConfig {
    /// The CA bundle (PEM) that signs the API server's client certificate.
    pub ca_file: PathBuf,
    /// The names a client certificate must carry one of; empty accepts any from the CA.
    pub names: Vec<String>,
}

/// The client certificate check of the webhook's TLS server, with a CA that can be replaced
/// while the server runs.
pub struct ClientAuth {
    names: Vec<String>,
    current: RwLock<Current>,
}

struct Current {
    pem: String,
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ClientAuth {
    /// Accepts client certificates from the CAs in `ca_pem` that carry one of `names` (any
    /// name when empty).
    pub fn from_pem(ca_pem: &str, names: Vec<String>) -> Result<Self, TlsError> {
        Ok(Self {
            names,
            current: RwLock::new(Current {
                pem: ca_pem.to_owned(),
                verifier: verifier(ca_pem)?,
            }),
        })
    }

    /// Reads the CA file of `config`.
    pub async fn load(config: &ClientAuthConfig) -> Result<Self, TlsError> {
        let pem = read(&config.ca_file).await?;
        Self::from_pem(&pem, config.names.clone())
    }

    /// Replaces the CA new handshakes are checked against. On error the current CA stays.
    pub fn set_ca(&self, ca_pem: &str) -> Result<(), TlsError> {
        let verifier = verifier(ca_pem)?;
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = Current {
            pem: ca_pem.to_owned(),
            verifier,
        };
        Ok(())
    }

    fn verifier(&self) -> Arc<dyn ClientCertVerifier> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .verifier
            .clone()
    }

    fn changed(&self, pem: &str) -> bool {
        self.current.read().unwrap_or_else(|p| p.into_inner()).pem != pem
    }

    /// Reads `ca_file` every [`CA_FILE_INTERVAL`] until `shutdown` and swaps in a CA that
    /// changed. A file that cannot be read or holds no usable CA is logged; the current CA stays.
    pub async fn keep_fresh(self: Arc<Self>, ca_file: PathBuf, shutdown: impl Future<Output = ()>) {
        self.keep_fresh_every(CA_FILE_INTERVAL, ca_file, shutdown)
            .await;
    }

    async fn keep_fresh_every(
        self: Arc<Self>,
        interval: Duration,
        ca_file: PathBuf,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut shutdown = pin!(shutdown);
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticks.tick() => {}
            }
            let pem = match read(&ca_file).await {
                Ok(pem) => pem,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the webhook client CA; keeping the current one");
                    continue;
                }
            };
            if !self.changed(&pem) {
                continue;
            }
            match self.set_ca(&pem) {
                Ok(()) => tracing::info!(file = %ca_file.display(), "webhook client CA reloaded"),
                Err(error) => {
                    tracing::warn!(%error, "unusable webhook client CA; keeping the current one");
                }
            }
        }
    }

    /// Whether the end-entity certificate carries one of the expected names.
    fn named(&self, end_entity: &CertificateDer<'_>) -> bool {
        self.names.is_empty()
            || certificate_names(end_entity).is_some_and(|names| {
                names
                    .iter()
                    .any(|name| self.names.iter().any(|want| want == name))
            })
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// A verifier of chains to the CAs in `ca_pem`, with the crate's crypto provider.
fn verifier(ca_pem: &str) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(ca.map_err(TlsError::CertificatePem)?)
            .map_err(TlsError::ClientCa)?;
    }
    if roots.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsError::ClientCa(RustlsError::General(e.to_string())))
}

/// The subject's common names and the DNS names of a certificate; `None` when it cannot be read.
fn certificate_names(der: &CertificateDer<'_>) -> Option<Vec<String>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let mut names: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        names.extend(san.value.general_names.iter().filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        }));
    }
    Some(names)
}

async fn read(path: &Path) -> Result<String, TlsError> {
    tokio::fs::read_to_string(path)
        .await
        .map_err(|source| TlsError::Read {
            path: path.display().to_string(),
            source,
        })
}

impl ClientCertVerifier for ClientAuth {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// No hints: the CA can change between handshakes, and the API server (Go's TLS client)
    /// sends its one certificate when the server names no CA.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, RustlsError> {
        let verified = self
            .verifier()
            .verify_client_cert(end_entity, intermediates, now)?;
        if !self.named(end_entity) {
            return Err(RustlsError::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, RustlsError> {
        self.verifier().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, RustlsError> {
        self.verifier().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier().supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    use super::*;

    /// A CA (PEM) and a client certificate (DER) it signed with common name `cn` and DNS `dns`.
    fn client(cn: &str, dns: &[&str]) -> (String, CertificateDer<'static>) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "client CA");
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(dns.iter().map(|d| (*d).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (ca_pem, cert.der().clone())
    }

    fn verify(auth: &ClientAuth, cert: &CertificateDer<'_>) -> bool {
        auth.verify_client_cert(cert, &[], UnixTime::now()).is_ok()
    }

    #[test]
    fn accepts_only_certificates_of_the_ca_with_an_expected_name() {
        let (ca, apiserver) = client("kube-apiserver", &["apiserver.local"]);
        let (other_ca, stranger) = client("kube-apiserver", &[]);
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        for (expected, cert, ok) in [
            (names(&[]), &apiserver, true),
            (names(&["kube-apiserver"]), &apiserver, true),
            (names(&["apiserver.local"]), &apiserver, true),
            (names(&["someone-else", "kube-apiserver"]), &apiserver, true),
            (names(&["someone-else"]), &apiserver, false),
            (names(&[]), &stranger, false),
            (names(&["kube-apiserver"]), &stranger, false),
        ] {
            let auth = ClientAuth::from_pem(&ca, expected.clone()).unwrap();
            assert_eq!(verify(&auth, cert), ok, "names {expected:?}");
        }
        // Both CAs in one bundle: both clients pass.
        let both = ClientAuth::from_pem(&format!("{ca}{other_ca}"), vec![]).unwrap();
        assert!(verify(&both, &apiserver) && verify(&both, &stranger));
    }

    #[test]
    fn a_new_ca_applies_at_once_and_a_bad_one_keeps_the_current() {
        let (ca, apiserver) = client("kube-apiserver", &[]);
        let (other_ca, stranger) = client("kube-apiserver", &[]);
        let auth = ClientAuth::from_pem(&ca, vec![]).unwrap();
        assert!(verify(&auth, &apiserver) && !verify(&auth, &stranger));
        assert!(auth.set_ca("not a certificate").is_err());
        assert!(auth.set_ca("").is_err());
        assert!(verify(&auth, &apiserver));
        auth.set_ca(&other_ca).unwrap();
        assert!(!verify(&auth, &apiserver) && verify(&auth, &stranger));
    }

    #[tokio::test]
    async fn a_changed_ca_file_is_picked_up_and_a_broken_one_ignored() {
        let (ca, apiserver) = client("kube-apiserver", &[]);
        let (other_ca, stranger) = client("kube-apiserver", &[]);
        let dir = std::env::temp_dir().join(format!("aims-client-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ca.crt");
        std::fs::write(&file, &ca).unwrap();
        let config = ClientAuthConfig {
            ca_file: file.clone(),
            names: vec![],
        };
        let auth = Arc::new(ClientAuth::load(&config).await.unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(auth.clone().keep_fresh_every(
            Duration::from_millis(20),
            file.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        let until = |want: bool, cert: CertificateDer<'static>| {
            let auth = auth.clone();
            async move {
                let start = std::time::Instant::now();
                while verify(&auth, &cert) != want {
                    assert!(
                        start.elapsed() < Duration::from_secs(5),
                        "never became {want}"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        };
        until(true, apiserver.clone()).await;
        // A file being rewritten, or broken, keeps the current CA.
        std::fs::write(&file, "-----BEGIN CERTIFICATE-----\n").unwrap();
        std::fs::write(&file, &other_ca).unwrap();
        until(true, stranger.clone()).await;
        until(false, apiserver.clone()).await;
        std::fs::write(&file, "garbage").unwrap();
        std::fs::remove_file(&file).unwrap();
        assert!(verify(&auth, &stranger));
        stop.send(()).unwrap();
        task.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bundle_without_a_usable_certificate_is_refused() {
        assert!(matches!(
            ClientAuth::from_pem("", vec![]),
            Err(TlsError::NoCertificate)
        ));
        let not_der = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(ClientAuth::from_pem(not_der, vec![]).is_err());
    }
}
