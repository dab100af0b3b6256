//! HTTPS for the admission webhook: rustls with the ring provider, TLS 1.2 and 1.3, HTTP/1.1 over
//! hyper, a certificate that can be replaced while the server runs, optionally a client
//! certificate required of every caller, and the [`Limits`] on time, size and concurrency.
//!
//! [`CertResolver`] holds the current certificate; every new connection's handshake reads it, so
//! [`CertResolver::set`] rotates the certificate without a restart and without touching
//! connections already open. [`ClientAuth`] does the same for the client CA. [`serve`] accepts
//! connections until its shutdown future completes, then lets open connections finish their
//! requests.

use std::{
    fmt, io,
    net::SocketAddr,
    pin::pin,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use rustls::{
    ServerConfig,
    crypto::CryptoProvider,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
};
use tokio_rustls::TlsAcceptor;

pub use super::{client_auth::ClientAuth, limits::Limits};

/// How long open connections get to finish their requests after shutdown begins.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The only application protocol offered: the API server speaks HTTP/1.1 to webhooks.
const ALPN_HTTP11: &[u8] = b"http/1.1";

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate PEM holds no certificate.
    #[error("the certificate PEM holds no CERTIFICATE block")]
    NoCertificate,
    /// The certificate PEM could not be read.
    #[error("cannot read the certificate PEM: {0}")]
    CertificatePem(#[source] rustls_pki_types::pem::Error),
    /// The key PEM could not be read, or holds no private key.
    #[error("cannot read the private key PEM: {0}")]
    KeyPem(#[source] rustls_pki_types::pem::Error),
    /// The key is of an unsupported type, or does not belong to the certificate.
    #[error("unusable certificate and key: {0}")]
    Key(#[source] rustls::Error),
    /// A client CA certificate cannot be a trust anchor.
    #[error("unusable client CA certificate: {0}")]
    ClientCa(#[source] rustls::Error),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
}

/// The ring crypto provider, the one kube uses too; named here so the server never depends on a
/// process-wide default provider.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Parses a PEM certificate chain (the end-entity certificate first) and its PEM private key
/// (PKCS#8, SEC1 or PKCS#1) into a key rustls can serve, checking that they belong together.
pub fn certified_key(cert_chain_pem: &str, key_pem: &str) -> Result<CertifiedKey, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(TlsError::CertificatePem)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(TlsError::KeyPem)?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(TlsError::Key)
}

/// The serving certificate, swappable while the server runs.
///
/// Until a certificate is set, handshakes fail (the client sees a TLS alert).
#[derive(Default)]
pub struct CertResolver {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl CertResolver {
    /// A resolver with no certificate yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A resolver serving the given PEM certificate chain and key.
    pub fn from_pem(cert_chain_pem: &str, key_pem: &str) -> Result<Self, TlsError> {
        let resolver = Self::new();
        resolver.set(cert_chain_pem, key_pem)?;
        Ok(resolver)
    }

    /// Replaces the certificate new connections get. On error the current certificate stays.
    pub fn set(&self, cert_chain_pem: &str, key_pem: &str) -> Result<(), TlsError> {
        let key = Arc::new(certified_key(cert_chain_pem, key_pem)?);
        // The lock guards one pointer; a writer that panicked cannot have left it half-written.
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = Some(key);
        Ok(())
    }

    /// The certificate new connections get, if one is set.
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver")
            .field("has_certificate", &self.current().is_some())
            .finish()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

/// The rustls server configuration: ring, TLS 1.3 and 1.2, ALPN `http/1.1`, the certificate
/// from `resolver`, and a client certificate required and checked by `client_auth` when given.
pub fn server_config(
    resolver: Arc<CertResolver>,
    client_auth: Option<Arc<ClientAuth>>,
) -> Result<ServerConfig, rustls::Error> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let mut config = match client_auth {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    }
    .with_cert_resolver(resolver);
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Ok(config)
}

/// What the server presents and what it asks of clients.
#[derive(Clone, Debug)]
pub struct Tls {
    /// The serving certificate.
    pub resolver: Arc<CertResolver>,
    /// The client certificate check; `None` answers any client.
    pub client_auth: Option<Arc<ClientAuth>>,
}

/// Binds `addr` and serves `router` over HTTPS until `shutdown` completes; see [`serve_with`].
pub async fn serve(
    addr: SocketAddr,
    tls: Tls,
    limits: Limits,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), io::Error> {
    let listener = TcpListener::bind(addr).await?;
    serve_with(listener, tls, limits, router, shutdown).await
}

/// [`serve_with`] with no client certificates and the default [`Limits`].
pub async fn serve_on(
    listener: TcpListener,
    resolver: Arc<CertResolver>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), io::Error> {
    let tls = Tls {
        resolver,
        client_auth: None,
    };
    serve_with(listener, tls, Limits::default(), router, shutdown).await
}

/// Serves `router` over HTTPS on a bound listener (bind `127.0.0.1:0` and read
/// [`TcpListener::local_addr`] to learn the port) until `shutdown` completes.
///
/// Held to `limits`: at most [`Limits::max_connections`] connections at once (one more is closed
/// as soon as it is accepted), of which at most [`Limits::max_handshakes`] in their TLS handshake
/// (a new one drops the oldest past [`Limits::handshake_grace`], or is closed), each with [`Limits::handshake_timeout`] for its TLS handshake and
/// [`Limits::header_read_timeout`] for each request's headers (and between requests), each
/// request with [`Limits::request_timeout`] and its body with [`Limits::max_body`] and the shared
/// body budget (see [`super::limits`]). Accept errors (a connection reset before it
/// was accepted, too many open files) are logged and the loop goes on. At shutdown the listener
/// closes, open connections finish their current request and close, and the function returns
/// once they have, or after [`SHUTDOWN_GRACE`].
pub async fn serve_with(
    listener: TcpListener,
    tls: Tls,
    limits: Limits,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), io::Error> {
    let config = server_config(tls.resolver, tls.client_auth).map_err(io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let router = super::limits::bound(router, &limits);
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let over_limit = OverLimit::default();
    let handshakes = Arc::new(Mutex::new(Handshakes::new(
        limits.max_handshakes,
        limits.handshake_grace,
    )));
    let graceful = GracefulShutdown::new();
    // Tells connections still in their handshake to give up; served ones are told by `graceful`.
    let (stopping_tx, stopping) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    tracing::info!(addr = %listener.local_addr()?, "admission webhook listening");
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_error(error).await;
                    continue;
                }
            },
        };
        let Ok(slot) = connections.clone().try_acquire_owned() else {
            drop(tcp);
            over_limit.closed(peer, "connections", limits.max_connections);
            continue;
        };
        let Some(pending) = Handshakes::begin(&handshakes) else {
            drop(tcp);
            over_limit.closed(peer, "handshakes", limits.max_handshakes);
            continue;
        };
        // Answers are small and latency is what counts: no Nagle delay between TLS records.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
        }
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        let mut stopping = stopping.clone();
        let limits = limits.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let mut pending = pending;
            let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp));
            let tls = tokio::select! {
                _ = &mut pending.evicted => {
                    tracing::debug!(%peer, "TLS handshake dropped for a newer one");
                    return;
                }
                done = handshake => match done {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(error)) => {
                        tracing::debug!(%peer, %error, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        return;
                    }
                },
                _ = stopping.wait_for(|stop| *stop) => return,
            };
            drop(pending);
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(limits.max_header_bytes.max(MIN_BUF_SIZE))
                .serve_connection(TokioIo::new(tls), service);
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%peer, %error, "webhook connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?SHUTDOWN_GRACE,
            "webhook connections still open after the shutdown grace period"
        );
    }
    Ok(())
}

/// The connections still in their TLS handshake, oldest first. Past the limit, a new one drops the
/// oldest if that one has had its grace: a real client's handshake takes a round trip or two, so
/// clients that never finish theirs cannot keep one from starting, while a burst of real
/// handshakes, all young, is not cut short (the newest is refused instead).
struct Handshakes {
    max: usize,
    grace: Duration,
    next: u64,
    pending: std::collections::VecDeque<(u64, Instant, tokio::sync::oneshot::Sender<()>)>,
}

/// One connection's place among the handshakes, given up when dropped.
struct Pending {
    id: u64,
    all: Arc<Mutex<Handshakes>>,
    /// Completes when a newer handshake took this one's place.
    evicted: tokio::sync::oneshot::Receiver<()>,
}

impl Handshakes {
    fn new(max: usize, grace: Duration) -> Self {
        Self {
            max: max.max(1),
            grace,
            next: 0,
            pending: std::collections::VecDeque::new(),
        }
    }

    /// A place for a new handshake, or `None` when every place is held by one still in its grace.
    fn begin(all: &Arc<Mutex<Self>>) -> Option<Pending> {
        let mut this = all.lock().unwrap_or_else(|p| p.into_inner());
        while this.pending.len() >= this.max {
            let grace = this.grace;
            match this.pending.front() {
                Some((_, since, _)) if since.elapsed() >= grace => {
                    if let Some((_, _, oldest)) = this.pending.pop_front() {
                        let _ = oldest.send(());
                    }
                }
                _ => return None,
            }
        }
        let (evict, evicted) = tokio::sync::oneshot::channel();
        let id = this.next;
        this.next += 1;
        this.pending.push_back((id, Instant::now(), evict));
        Some(Pending {
            id,
            all: all.clone(),
            evicted,
        })
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = all.pending.iter().position(|(id, _, _)| *id == self.id) {
            all.pending.remove(at);
        }
    }
}

/// hyper's smallest read buffer.
const MIN_BUF_SIZE: usize = 8192;

/// Connections closed for want of a slot: logged as a warning at most once a minute, and at
/// debug level in between.
#[derive(Default)]
struct OverLimit {
    warned: Mutex<Option<Instant>>,
    since: std::sync::atomic::AtomicU64,
}

impl OverLimit {
    fn closed(&self, peer: SocketAddr, what: &'static str, max: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let count = self.since.fetch_add(1, Relaxed) + 1;
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *warned = Some(Instant::now());
            self.since.store(0, Relaxed);
            tracing::warn!(%peer, limit = what, max, closed = count, "webhook connection limit reached; closing new connections");
        } else {
            tracing::debug!(%peer, limit = what, "webhook connection closed: limit reached");
        }
    }
}

/// Logs an accept error; after one that is not about a single connection (such as running out
/// of file descriptors), waits a moment so the loop does not spin.
async fn accept_error(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::debug!(%error, "webhook connection failed before it was accepted");
    } else {
        tracing::warn!(%error, "cannot accept webhook connections; retrying in 1s");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A TLS client for tests: trusts given CA certificates, sends one HTTP/1.1 request.

    use std::{net::SocketAddr, sync::Arc};

    use rustls::{ClientConfig, RootCertStore};
    use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    };
    use tokio_rustls::TlsConnector;

    /// What one request saw: the response's status line and the server's certificate.
    pub(crate) struct Seen {
        pub(crate) status_line: String,
        pub(crate) body: String,
        pub(crate) peer_certificate: CertificateDer<'static>,
    }

    /// Sends `GET path` to `addr` over TLS, verifying the server as `server_name` against `cas`.
    pub(crate) async fn get(
        addr: SocketAddr,
        server_name: &str,
        cas: &[CertificateDer<'static>],
        path: &str,
    ) -> Result<Seen, Box<dyn std::error::Error + Send + Sync>> {
        get_as(addr, server_name, cas, None, path).await
    }

    /// [`get`], presenting the client certificate chain and key (PEM) of `client` when given.
    pub(crate) async fn get_as(
        addr: SocketAddr,
        server_name: &str,
        cas: &[CertificateDer<'static>],
        client: Option<(&str, &str)>,
        path: &str,
    ) -> Result<Seen, Box<dyn std::error::Error + Send + Sync>> {
        let mut roots = RootCertStore::empty();
        for ca in cas {
            roots.add(ca.clone())?;
        }
        let builder = ClientConfig::builder_with_provider(super::provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let config = match client {
            Some((chain, key)) => builder.with_client_auth_cert(
                CertificateDer::pem_slice_iter(chain.as_bytes()).collect::<Result<Vec<_>, _>>()?,
                rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes())?,
            )?,
            None => builder.with_no_client_auth(),
        };
        let connector = TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = connector
            .connect(ServerName::try_from(server_name.to_owned())?, tcp)
            .await?;
        let peer_certificate = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or("no peer certificate")?
            .clone()
            .into_owned();
        tls.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut response = Vec::new();
        // The server closes after the response; a missing close_notify is not the test's concern.
        let _ = tls.read_to_end(&mut response).await;
        let response = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        Ok(Seen {
            status_line: head.lines().next().unwrap_or_default().to_owned(),
            body: body.to_owned(),
            peer_certificate,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use axum::routing::get;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use tokio::sync::oneshot;

    use super::*;

    /// A CA and a certificate for `localhost` signed by it: (CA DER, chain PEM, key PEM).
    fn pki(cn: &str) -> (CertificateDer<'static>, String, String) {
        let (ca, _, chain, key) = pki_with_ca_pem(cn);
        (ca, chain, key)
    }

    /// [`pki`], with the CA as PEM too: (CA DER, CA PEM, chain PEM, key PEM).
    fn pki_with_ca_pem(cn: &str) -> (CertificateDer<'static>, String, String, String) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{cn} CA"));
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (ca.der().clone(), ca.pem(), cert.pem(), key.serialize_pem())
    }

    struct Running {
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        done: tokio::task::JoinHandle<Result<(), io::Error>>,
    }

    impl Running {
        /// Stops the server and waits for it to finish cleanly.
        async fn stop(self) {
            self.stop.send(()).unwrap();
            self.done.await.unwrap().unwrap();
        }
    }

    /// The server side of TLS from a PEM chain and key, with `client_auth` if any.
    fn serving(chain: &str, key: &str, client_auth: Option<ClientAuth>) -> Tls {
        Tls {
            resolver: Arc::new(CertResolver::from_pem(chain, key).unwrap()),
            client_auth: client_auth.map(Arc::new),
        }
    }

    async fn start(resolver: Arc<CertResolver>) -> Running {
        let tls = Tls {
            resolver,
            client_auth: None,
        };
        start_with(tls, Limits::default()).await
    }

    async fn start_with(tls: Tls, limits: Limits) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new().route("/hello", get(|| async { "hello" }));
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(serve_with(listener, tls, limits, router, async move {
            let _ = stopped.await;
        }));
        Running { addr, stop, done }
    }

    /// Whether `GET /hello` as `client` got the router's answer.
    async fn answered(
        addr: SocketAddr,
        ca: &CertificateDer<'static>,
        client: Option<(&str, &str)>,
    ) -> bool {
        testing::get_as(
            addr,
            "localhost",
            std::slice::from_ref(ca),
            client,
            "/hello",
        )
        .await
        .is_ok_and(|seen| seen.status_line == "HTTP/1.1 200 OK" && seen.body == "hello")
    }

    /// Reads from `tcp` until the server closes it; how long that took.
    async fn closed_within(mut tcp: tokio::net::TcpStream, bound: Duration) -> Duration {
        use tokio::io::AsyncReadExt;
        let start = std::time::Instant::now();
        let mut buf = [0u8; 4096];
        let read = tokio::time::timeout(bound, async {
            while tcp.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        })
        .await;
        assert!(
            read.is_ok(),
            "the server kept the connection open past {bound:?}"
        );
        start.elapsed()
    }

    #[tokio::test]
    async fn with_client_auth_only_clients_of_the_ca_get_answers() {
        let (server_ca, chain, key) = pki("server");
        let (_, client_ca, client_chain, client_key) = pki_with_ca_pem("kube-apiserver");
        let (_, _, stranger_chain, stranger_key) = pki_with_ca_pem("kube-apiserver");
        let (_, _, other_name_chain, other_name_key) = {
            // Same CA name, but this is a different CA: only `client_ca` is trusted.
            pki_with_ca_pem("someone")
        };
        let auth = ClientAuth::from_pem(&client_ca, vec!["kube-apiserver".to_owned()]).unwrap();
        let tls = serving(&chain, &key, Some(auth));
        let server = start_with(tls, Limits::default()).await;
        let addr = server.addr;
        assert!(answered(addr, &server_ca, Some((&client_chain, &client_key))).await);
        assert!(!answered(addr, &server_ca, None).await);
        assert!(!answered(addr, &server_ca, Some((&stranger_chain, &stranger_key))).await);
        assert!(!answered(addr, &server_ca, Some((&other_name_chain, &other_name_key))).await);
        // The legitimate client still gets through after the refusals.
        assert!(answered(addr, &server_ca, Some((&client_chain, &client_key))).await);
        server.stop().await;
    }

    #[tokio::test]
    async fn a_wrong_name_from_the_right_ca_is_refused() {
        let (server_ca, chain, key) = pki("server");
        let (_, client_ca, client_chain, client_key) = pki_with_ca_pem("kube-apiserver");
        let auth =
            ClientAuth::from_pem(&client_ca, vec!["aims-webhook-client".to_owned()]).unwrap();
        let tls = serving(&chain, &key, Some(auth));
        let server = start_with(tls, Limits::default()).await;
        assert!(!answered(server.addr, &server_ca, Some((&client_chain, &client_key))).await);
        server.stop().await;
    }

    #[tokio::test]
    async fn slow_handshakes_idle_connections_and_slow_headers_are_cut_off() {
        let (ca, chain, key) = pki("one");
        let limits = Limits {
            handshake_timeout: Duration::from_millis(300),
            header_read_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let resolver = Arc::new(CertResolver::from_pem(&chain, &key).unwrap());
        let tls = Tls {
            resolver: resolver.clone(),
            client_auth: None,
        };
        let server = start_with(tls, limits).await;
        // No ClientHello at all.
        let idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let took = closed_within(idle, Duration::from_secs(3)).await;
        assert!(took >= Duration::from_millis(250), "{took:?}");
        // A finished handshake and then half a request line, never completed.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(
                rustls_pki_types::ServerName::try_from("localhost").unwrap(),
                tcp,
            )
            .await
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tls.write_all(b"POST /hello HTT").await.unwrap();
        tls.flush().await.unwrap();
        let start = std::time::Instant::now();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), tls.read_to_end(&mut buf))
            .await
            .expect("the server kept a connection with unfinished headers open");
        assert!(start.elapsed() < Duration::from_secs(3));
        assert!(answered(server.addr, &ca, None).await);
        server.stop().await;
    }

    #[tokio::test]
    async fn handshakes_that_never_finish_give_way_to_new_ones() {
        let (ca, chain, key) = pki("one");
        let limits = Limits {
            max_handshakes: 2,
            handshake_grace: Duration::ZERO,
            handshake_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let tls = serving(&chain, &key, None);
        let server = start_with(tls, limits).await;
        let oldest = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let _second = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let _third = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        // The third took the oldest's place, long before the handshake timeout.
        closed_within(oldest, Duration::from_secs(3)).await;
        // And a real client, arriving while two idle ones hold every place, gets through.
        assert!(answered(server.addr, &ca, None).await);
        server.stop().await;
    }

    #[tokio::test]
    async fn young_handshakes_are_not_cut_short_the_newest_is_refused() {
        let (_, chain, key) = pki("one");
        let limits = Limits {
            max_handshakes: 2,
            handshake_grace: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let tls = serving(&chain, &key, None);
        let server = start_with(tls, limits).await;
        let first = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let _second = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let third = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        closed_within(third, Duration::from_secs(3)).await;
        // The first is still waiting for its handshake.
        use tokio::io::AsyncReadExt;
        let mut first = first;
        let mut byte = [0u8; 1];
        assert!(
            tokio::time::timeout(Duration::from_millis(300), first.read(&mut byte))
                .await
                .is_err(),
            "the oldest handshake was cut short"
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_are_closed_and_their_slots_come_back() {
        let (ca, chain, key) = pki("one");
        let limits = Limits {
            max_connections: 2,
            handshake_timeout: Duration::from_secs(30),
            ..Limits::default()
        };
        let tls = serving(&chain, &key, None);
        let server = start_with(tls, limits).await;
        let first = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let second = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        // The third is closed at once, long before any timeout.
        let third = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        closed_within(third, Duration::from_secs(3)).await;
        assert!(!answered(server.addr, &ca, None).await);
        drop((first, second));
        let start = std::time::Instant::now();
        while !answered(server.addr, &ca, None).await {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the slots of closed connections never came back"
            );
            tokio::task::yield_now().await;
        }
        server.stop().await;
    }

    #[test]
    fn certified_key_rejects_what_cannot_be_served() {
        let (_, chain, key) = pki("one");
        let (_, _, other_key) = pki("two");
        assert!(certified_key(&chain, &key).is_ok());
        assert!(matches!(
            certified_key("", &key),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            certified_key(&chain, "not a key"),
            Err(TlsError::KeyPem(_))
        ));
        assert!(matches!(
            certified_key(&chain, &other_key),
            Err(TlsError::Key(_))
        ));
    }

    #[test]
    fn a_failed_set_keeps_the_current_certificate() {
        let (_, chain, key) = pki("one");
        let resolver = CertResolver::from_pem(&chain, &key).unwrap();
        let before = resolver.current().unwrap();
        assert!(resolver.set(&chain, "garbage").is_err());
        assert!(Arc::ptr_eq(&before, &resolver.current().unwrap()));
    }

    #[tokio::test]
    async fn serves_the_router_and_rotates_without_restart() {
        let (ca_one, chain_one, key_one) = pki("one");
        let (ca_two, chain_two, key_two) = pki("two");
        let resolver = Arc::new(CertResolver::from_pem(&chain_one, &key_one).unwrap());
        let server = start(resolver.clone()).await;
        let cas = [ca_one.clone(), ca_two.clone()];

        let first = testing::get(server.addr, "localhost", &cas, "/hello")
            .await
            .unwrap();
        assert_eq!(first.status_line, "HTTP/1.1 200 OK");
        assert_eq!(first.body, "hello");
        let served_one = certified_key(&chain_one, &key_one).unwrap().cert[0].clone();
        assert_eq!(first.peer_certificate, served_one);

        resolver.set(&chain_two, &key_two).unwrap();
        let second = testing::get(server.addr, "localhost", &cas, "/hello")
            .await
            .unwrap();
        assert_eq!(second.status_line, "HTTP/1.1 200 OK");
        let served_two = certified_key(&chain_two, &key_two).unwrap().cert[0].clone();
        assert_eq!(second.peer_certificate, served_two);

        // A client that trusts only the first CA no longer gets through.
        assert!(
            testing::get(server.addr, "localhost", &[ca_one], "/hello")
                .await
                .is_err()
        );

        server.stop().await;
    }

    #[tokio::test]
    async fn without_a_certificate_handshakes_fail() {
        let (ca, _, _) = pki("one");
        let server = start(Arc::new(CertResolver::new())).await;
        assert!(
            testing::get(server.addr, "localhost", &[ca], "/hello")
                .await
                .is_err()
        );
        server.stop().await;
    }

    #[tokio::test]
    async fn a_client_that_never_handshakes_does_not_block_shutdown_or_others() {
        let (ca, chain, key) = pki("one");
        let server = start(Arc::new(CertResolver::from_pem(&chain, &key).unwrap())).await;
        // An idle TCP connection with no ClientHello.
        let _idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let seen = testing::get(server.addr, "localhost", &[ca], "/hello")
            .await
            .unwrap();
        assert_eq!(seen.status_line, "HTTP/1.1 200 OK");
        server.stop.send(()).unwrap();
        // Shutdown does not wait for the idle connection's handshake.
        tokio::time::timeout(Duration::from_secs(2), server.done)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn plain_http_gets_no_answer_and_only_http11_is_offered() {
        let (_, chain, key) = pki("one");
        let server = start(Arc::new(CertResolver::from_pem(&chain, &key).unwrap())).await;
        let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tcp.write_all(b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        let _ = tcp.read_to_end(&mut buf).await;
        assert!(!String::from_utf8_lossy(&buf).contains("hello"));
        let config = server_config(Arc::new(CertResolver::new()), None).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        server.stop().await;
    }
}
