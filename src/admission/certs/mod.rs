//! The webhook's serving certificate, from one of two sources:
//!
//! * [`ManagedCerts`] (the default): the operator's own CA and a serving certificate it signs,
//!   kept in the Secret [`SECRET_NAME`] of the operator's namespace, renewed before they expire,
//!   with the CA published in the webhook configurations' `caBundle`.
//! * [`CertFiles`]: certificate and key files another tool writes and rotates (cert-manager, whose
//!   CA injector then fills `caBundle`; the operator leaves it alone).
//!
//! [`WebhookCerts::load`] gives the certificate to start with and [`WebhookCerts::keep_fresh`]
//! keeps the server's [`CertResolver`] and the `caBundle` current while the operator runs.
//!
//! # Lifetimes and rotation
//!
//! The CA lives a year and the serving certificate 90 days ([`Lifetimes::default`]); each is
//! replaced once less than a third of its lifetime is left ([`Validity::renewal_due`]), so a
//! replica that is down for weeks still finds a valid certificate. A short CA life means its
//! rotation runs every few months, and a stolen CA key is useful for a year at most.
//!
//! A CA rotation never breaks a request: the new CA joins the bundle beside the old one (which
//! stays until it expires), the serving certificate signed by the old CA is kept, and only once the
//! new CA has been published for [`Lifetimes::ca_propagation`] is the serving certificate
//! re-signed by it. Each replica publishes the bundle before it serves a certificate the bundle
//! must vouch for.
//!
//! # Several replicas
//!
//! Every replica reads the Secret each round. The first to start creates it (a replica that loses
//! the race reads the winner's); a renewal is a replace with the resourceVersion read, and a
//! replica whose write conflicts reads again and finds the other's renewal. Replicas pick up a
//! certificate another replica wrote on their next round.
//!
//! Renewal decisions are the pure [`renewal`] of what the Secret holds, the names the certificate
//! must cover and `now`.

mod ca_bundle;
mod files;
mod managed;
mod renewal;
mod stored;
mod x509;

pub use ca_bundle::*;
pub use files::*;
pub use managed::*;
pub use renewal::*;
pub use stored::*;
use x509::*;

use std::{
    fmt, io,
    net::IpAddr,
    pin::pin,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use tokio::time::MissedTickBehavior;

use super::tls::{CertResolver, TlsError};

/// The Secret holding the operator's CA and serving certificate.
pub const SECRET_NAME: &str = "aims-webhook-tls";
/// The serving certificate in the Secret.
pub const TLS_CRT: &str = "tls.crt";
/// The serving certificate's private key in the Secret.
pub const TLS_KEY: &str = "tls.key";
/// The CA bundle in the Secret: the CA that signs first, then older CAs not yet expired.
pub const CA_CRT: &str = "ca.crt";
/// The signing CA's private key in the Secret.
pub const CA_KEY: &str = "ca.key";
/// The type of the Secret.
pub const SECRET_TYPE: &str = "kubernetes.io/tls";

/// The field manager that owns `caBundle` in the webhook configurations.
pub const CA_FIELD_MANAGER: &str = "aims-operator-ca";

/// How often a replica re-reads the Secret (and renews what is due) with [`ManagedCerts`].
pub const MANAGED_INTERVAL: Duration = Duration::from_secs(60);
/// How often the certificate files are re-read with [`CertFiles`].
pub const FILES_INTERVAL: Duration = Duration::from_secs(10);
/// How often the `caBundle` is re-applied even when it did not change, to undo an overwrite (for
/// example a chart upgrade that sets it empty).
pub const REPUBLISH_INTERVAL: Duration = Duration::from_secs(600);

/// How far back a new certificate's validity starts, for clocks a little behind this one.
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_mins(5);

/// How many times a round reads the Secret again after another replica changed it.
const ATTEMPTS: usize = 5;

/// Errors while getting, renewing or publishing the webhook's certificates.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// A call to the API server failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A key or certificate could not be generated.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A validity date is out of range.
    #[error("certificate validity out of range: {0}")]
    Time(String),
    /// The Secret exists but cannot be used.
    #[error("Secret {SECRET_NAME}: {0}")]
    Secret(String),
    /// Other replicas kept changing the Secret between this replica's read and write.
    #[error("Secret {SECRET_NAME} changed under every one of {ATTEMPTS} attempts to update it")]
    Contended,
    /// A certificate file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// The certificate and key cannot be served.
    #[error("{what}: {source}")]
    Tls {
        /// Where they came from.
        what: String,
        /// What is wrong with them.
        source: TlsError,
    },
    /// The CA bundle could not be encoded for a webhook configuration.
    #[error("cannot encode the CA bundle: {0}")]
    Encode(#[from] serde_json::Error),
}

impl CertsError {
    /// A short label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::Generate(_) => "generate",
            Self::Time(_) => "time",
            Self::Secret(_) => "secret",
            Self::Contended => "contended",
            Self::Read { .. } => "read",
            Self::Tls { .. } => "tls",
            Self::Encode(_) => "encode",
        }
    }
}

/// A name the serving certificate covers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Host {
    /// A DNS name, lower case.
    Dns(String),
    /// An IP address (for an API server that calls a URL such as `https://127.0.0.1:8443`).
    Ip(IpAddr),
}

impl Host {
    /// An IP address if `name` is one, a DNS name otherwise.
    pub fn parse(name: &str) -> Self {
        match name.parse::<IpAddr>() {
            Ok(ip) => Self::Ip(ip),
            Err(_) => Self::Dns(name.to_ascii_lowercase()),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// The names the API server may use for the webhook Service `service` in `namespace` (`<service>`,
/// `<service>.<ns>`, `<service>.<ns>.svc`, `<service>.<ns>.svc.cluster.local`), then `extra`
/// (DNS names or IP addresses), without duplicates.
pub fn service_hosts(service: &str, namespace: &str, extra: &[String]) -> Vec<Host> {
    let names = [
        service.to_owned(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ];
    let mut hosts: Vec<Host> = Vec::new();
    for host in names.iter().chain(extra).map(|n| Host::parse(n)) {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// Where the webhook's certificate comes from.
#[derive(Clone, Debug)]
pub enum WebhookCerts {
    /// The operator's own CA, in a Secret; it publishes `caBundle`.
    Managed(ManagedCerts),
    /// Files another tool writes; `caBundle` is that tool's business.
    Files(CertFiles),
}

impl WebhookCerts {
    /// How often [`keep_fresh`](Self::keep_fresh) checks.
    pub fn interval(&self) -> Duration {
        match self {
            Self::Managed(_) => MANAGED_INTERVAL,
            Self::Files(_) => FILES_INTERVAL,
        }
    }

    /// The certificate to start with. With [`ManagedCerts`], creates or renews the Secret as
    /// needed and publishes the CA bundle; a failure to publish is logged, not returned (the
    /// server can start, and [`keep_fresh`](Self::keep_fresh) publishes again).
    pub async fn load(&self) -> Result<Material, CertsError> {
        match self {
            Self::Managed(managed) => {
                let material = managed.ensure(Timestamp::now()).await?;
                if let Some(bundle) = &material.ca_bundle_pem
                    && let Err(error) = managed.publish(bundle).await
                {
                    tracing::warn!(%error, "cannot publish the webhook CA bundle yet");
                }
                Ok(material)
            }
            Self::Files(files) => files.load().await,
        }
    }

    /// Keeps `resolver` and the `caBundle` current until `shutdown` completes: every
    /// [`interval`](Self::interval), reads the certificate again (with [`ManagedCerts`], renewing
    /// what is due and publishing the bundle when it changed, or every [`REPUBLISH_INTERVAL`]), and
    /// swaps a changed certificate into `resolver`. `current` is what `resolver` serves now.
    ///
    /// Errors are logged and the current certificate stays. A certificate whose CA bundle could
    /// not be published is not served until it is.
    pub async fn keep_fresh(
        self,
        resolver: Arc<CertResolver>,
        current: Material,
        shutdown: impl Future<Output = ()>,
    ) {
        let mut shutdown = pin!(shutdown);
        let mut ticks = tokio::time::interval(self.interval());
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks.tick().await;
        let mut current = current;
        let mut published: Option<(String, Instant)> = None;
        // A configuration created or edited after start gets the bundle at once, not at the next
        // round: the API server cannot call the webhook until it has it.
        let mut configurations = match &self {
            Self::Managed(managed) => configuration_bundles(managed).boxed(),
            Self::Files(_) => futures::stream::pending().boxed(),
        };
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticks.tick() => {}
                Some(bundles) = configurations.next() => {
                    if let (Self::Managed(managed), Some(bundle)) = (&self, &current.ca_bundle_pem)
                        && bundles.iter().any(|b| b.as_slice() != bundle.as_bytes())
                    {
                        match managed.publish(bundle).await {
                            Ok(()) => published = Some((bundle.clone(), Instant::now())),
                            Err(error) => tracing::warn!(%error, "cannot publish the webhook CA bundle"),
                        }
                    }
                    continue;
                }
            }
            self.round(&resolver, &mut current, &mut published).await;
        }
    }

    /// One round of [`WebhookCerts::keep_fresh`]: reads the certificate (renewing or reloading
    /// it as due), hands a changed one to `resolver`, and republishes the CA bundle when due.
    pub async fn round(
        &self,
        resolver: &CertResolver,
        current: &mut Material,
        published: &mut Option<(String, Instant)>,
    ) {
        let next = match self {
            Self::Managed(managed) => managed.ensure(Timestamp::now()).await,
            Self::Files(files) => files.load().await,
        };
        let next = match next {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(%error, label = error.label(), "cannot check the webhook certificate; serving the current one");
                return;
            }
        };
        if let (Self::Managed(managed), Some(bundle)) = (self, &next.ca_bundle_pem) {
            let due = published
                .as_ref()
                .is_none_or(|(last, at)| last != bundle || at.elapsed() >= REPUBLISH_INTERVAL);
            if due {
                match managed.publish(bundle).await {
                    Ok(()) => *published = Some((bundle.clone(), Instant::now())),
                    Err(error) => {
                        tracing::warn!(%error, "cannot publish the webhook CA bundle");
                        if next.ca_bundle_pem != current.ca_bundle_pem {
                            return;
                        }
                    }
                }
            }
        }
        if next.cert_chain_pem != current.cert_chain_pem || next.key_pem != current.key_pem {
            if let Err(error) = resolver.set(&next.cert_chain_pem, &next.key_pem) {
                tracing::warn!(%error, "cannot serve the new webhook certificate; serving the current one");
                return;
            }
            tracing::info!("serving a new webhook certificate");
        }
        *current = next;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::{
        RootCertStore,
        client::{WebPkiServerVerifier, danger::ServerCertVerifier},
    };
    use rustls_pki_types::{ServerName, UnixTime};

    use super::*;

    fn ts(day: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + day * 86_400).unwrap()
    }

    fn at_hour(day: i64, hour: i64) -> Timestamp {
        Timestamp::from_second(ts(day).as_second() + hour * 3600).unwrap()
    }

    fn days(from: i64, to: i64) -> Validity {
        Validity {
            not_before: ts(from),
            not_after: ts(to),
        }
    }

    fn hosts() -> Vec<Host> {
        service_hosts(
            "aims-webhook",
            "aims-system",
            &["127.0.0.1".to_owned(), "Webhook.Example.COM".to_owned()],
        )
    }

    #[test]
    fn service_hosts_lists_the_service_names_then_extras() {
        assert_eq!(
            hosts(),
            [
                Host::Dns("aims-webhook".to_owned()),
                Host::Dns("aims-webhook.aims-system".to_owned()),
                Host::Dns("aims-webhook.aims-system.svc".to_owned()),
                Host::Dns("aims-webhook.aims-system.svc.cluster.local".to_owned()),
                Host::Ip("127.0.0.1".parse().unwrap()),
                Host::Dns("webhook.example.com".to_owned()),
            ]
        );
        assert_eq!(service_hosts("s", "n", &["s.n".to_owned()]).len(), 4);
    }

    #[test]
    fn renewal_is_due_with_a_third_of_the_lifetime_left() {
        let v = days(0, 90);
        for (now, due) in [
            (ts(-1), false),
            (ts(0), false),
            (ts(59), false),
            (ts(60), true),
            (ts(90), true),
            (ts(200), true),
        ] {
            assert_eq!(v.renewal_due(now), due, "{now}");
        }
        assert!(!v.expired(ts(90)));
        assert!(v.expired(at_hour(90, 1)));
    }

    #[test]
    fn renewal_decision_table() {
        let lifetimes = Lifetimes::default();
        let required = hosts();
        let fresh = |issued_by| ServingFacts {
            validity: days(0, 90),
            hosts: required.clone(),
            issued_by,
        };
        let issued_on = |day: i64, issued_by| ServingFacts {
            validity: days(day, day + 90),
            ..fresh(issued_by)
        };
        let observed = |ca: Option<Validity>, previous: Vec<Validity>, serving| Observed {
            ca,
            previous_cas: previous,
            serving,
        };
        let none = Renewal::default();
        let serving_only = Renewal {
            serving: true,
            ..none
        };
        let cases: Vec<(&str, Timestamp, Observed, Renewal)> = vec![
            (
                "empty Secret: everything new",
                ts(0),
                Observed::default(),
                Renewal {
                    ca: true,
                    serving: true,
                    prune: false,
                },
            ),
            (
                "fresh CA and serving certificate: nothing",
                ts(1),
                observed(Some(days(0, 365)), vec![], Some(fresh(IssuedBy::Current))),
                none,
            ),
            (
                "serving certificate missing",
                ts(1),
                observed(Some(days(0, 365)), vec![], None),
                serving_only,
            ),
            (
                "serving certificate with two thirds of its life used",
                ts(60),
                observed(Some(days(0, 365)), vec![], Some(fresh(IssuedBy::Current))),
                serving_only,
            ),
            (
                "serving certificate missing a required name",
                ts(1),
                observed(
                    Some(days(0, 365)),
                    vec![],
                    Some(ServingFacts {
                        hosts: required[..4].to_vec(),
                        ..fresh(IssuedBy::Current)
                    }),
                ),
                serving_only,
            ),
            (
                "serving certificate with more names than required",
                ts(1),
                observed(
                    Some(days(0, 365)),
                    vec![],
                    Some(ServingFacts {
                        hosts: [required.clone(), vec![Host::parse("extra.example")]].concat(),
                        ..fresh(IssuedBy::Current)
                    }),
                ),
                none,
            ),
            (
                "serving certificate signed by no CA of the bundle",
                ts(1),
                observed(Some(days(0, 365)), vec![], Some(fresh(IssuedBy::Unknown))),
                serving_only,
            ),
            (
                "CA with two thirds of its life used: new CA, serving certificate kept",
                ts(244),
                observed(
                    Some(days(0, 365)),
                    vec![],
                    Some(issued_on(200, IssuedBy::Current)),
                ),
                Renewal { ca: true, ..none },
            ),
            (
                "new CA not yet published long enough: serving certificate stays on the old CA",
                at_hour(244, 1),
                observed(
                    Some(days(244, 609)),
                    vec![days(0, 365)],
                    Some(issued_on(200, IssuedBy::Previous(days(0, 365)))),
                ),
                none,
            ),
            (
                "new CA published for an hour: serving certificate moves to it",
                at_hour(244, 2),
                observed(
                    Some(days(244, 609)),
                    vec![days(0, 365)],
                    Some(issued_on(200, IssuedBy::Previous(days(0, 365)))),
                ),
                serving_only,
            ),
            (
                "old CA expired: pruned",
                ts(366),
                observed(
                    Some(days(244, 609)),
                    vec![days(0, 365)],
                    Some(issued_on(340, IssuedBy::Current)),
                ),
                Renewal {
                    prune: true,
                    ..none
                },
            ),
            (
                "serving certificate signed by an expired CA",
                ts(366),
                observed(
                    Some(days(360, 725)),
                    vec![days(0, 365)],
                    Some(issued_on(340, IssuedBy::Previous(days(0, 365)))),
                ),
                Renewal {
                    serving: true,
                    prune: true,
                    ..none
                },
            ),
            (
                "everything long expired (operator off for years): everything new",
                ts(2000),
                observed(Some(days(0, 365)), vec![], Some(fresh(IssuedBy::Current))),
                Renewal {
                    ca: true,
                    serving: true,
                    prune: false,
                },
            ),
        ];
        for (name, now, observed, want) in cases {
            assert_eq!(
                renewal(now, &observed, &required, &lifetimes),
                want,
                "{name}"
            );
        }
    }

    /// Verifies `stored`'s serving certificate for `name` at `now` against `bundle`, as a client
    /// trusting that bundle would.
    fn verifies(stored: &Stored, bundle: &str, name: &str, now: Timestamp) -> bool {
        let mut roots = RootCertStore::empty();
        for (_, der) in pem_blocks(bundle).unwrap() {
            roots.add(der).unwrap();
        }
        let verifier = WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let chain = pem_blocks(&stored.tls_crt).unwrap();
        let now = UnixTime::since_unix_epoch(Duration::from_secs(now.as_second() as u64));
        verifier
            .verify_server_cert(
                &chain[0].1,
                &[],
                &ServerName::try_from(name.to_owned()).unwrap(),
                &[],
                now,
            )
            .is_ok()
    }

    /// One round as [`ManagedCerts::ensure`] does it, without the API server.
    fn step(stored: &Stored, now: Timestamp) -> Stored {
        let observed = observe(stored);
        let due = renewal(now, &observed, &hosts(), &Lifetimes::default());
        if !due.any() {
            return stored.clone();
        }
        renew(stored, &observed, due, now, &hosts(), &Lifetimes::default()).unwrap()
    }

    #[test]
    fn a_fresh_secret_covers_every_name_and_its_ca_signs_it() {
        let stored = step(&Stored::default(), ts(0));
        let observed = observe(&stored);
        let serving = observed.serving.clone().unwrap();
        assert_eq!(serving.issued_by, IssuedBy::Current);
        assert_eq!(serving.hosts, hosts());
        let ca = observed.ca.unwrap();
        assert_eq!(ca.not_after, ts(365));
        assert_eq!(serving.validity.not_after, ts(90));
        assert_eq!(
            renewal(ts(1), &observed, &hosts(), &Lifetimes::default()),
            Renewal::default()
        );
        for name in [
            "aims-webhook.aims-system.svc",
            "aims-webhook.aims-system.svc.cluster.local",
            "127.0.0.1",
            "webhook.example.com",
        ] {
            assert!(verifies(&stored, &stored.ca_crt, name, ts(1)), "{name}");
        }
        assert!(!verifies(
            &stored,
            &stored.ca_crt,
            "other.aims-system.svc",
            ts(1)
        ));
        assert!(!verifies(&stored, &stored.ca_crt, "127.0.0.1", ts(91)));
        // Another CA does not vouch for it.
        let other = step(&Stored::default(), ts(0));
        assert!(!verifies(&stored, &other.ca_crt, "127.0.0.1", ts(1)));
    }

    #[test]
    fn broken_contents_start_over() {
        let good = step(&Stored::default(), ts(0));
        let other = step(&Stored::default(), ts(0));
        let garbage = Stored {
            tls_crt: "junk".to_owned(),
            tls_key: "junk".to_owned(),
            ca_crt: "junk".to_owned(),
            ca_key: "junk".to_owned(),
        };
        assert_eq!(observe(&garbage), Observed::default());
        // A CA key that is not the CA's.
        let wrong_ca_key = Stored {
            ca_key: other.ca_key.clone(),
            ..good.clone()
        };
        assert_eq!(observe(&wrong_ca_key).ca, None);
        // A serving key that is not the certificate's.
        let wrong_key = Stored {
            tls_key: other.tls_key.clone(),
            ..good.clone()
        };
        assert_eq!(observe(&wrong_key).serving, None);
        // A serving certificate from another CA.
        let foreign = Stored {
            tls_crt: other.tls_crt.clone(),
            tls_key: other.tls_key.clone(),
            ..good.clone()
        };
        assert_eq!(
            observe(&foreign).serving.map(|s| s.issued_by),
            Some(IssuedBy::Unknown)
        );
        let repaired = step(&foreign, ts(1));
        assert_eq!(repaired.ca_crt, good.ca_crt);
        assert!(verifies(&repaired, &good.ca_crt, "127.0.0.1", ts(1)));
    }

    /// Almost two years in steps of six hours: the certificate a
    /// replica serves always verifies against the bundle the API server has, whether that is the
    /// bundle from before a round or after it (each replica publishes before it swaps, and
    /// replicas that have not swapped yet still serve the previous certificate).
    #[test]
    fn rotations_never_leave_a_gap() {
        let mut stored = step(&Stored::default(), ts(0));
        let mut now = ts(0);
        let (mut ca_rotations, mut serving_renewals) = (0, 0);
        let mut max_bundle = 1;
        while now < ts(700) {
            now = Timestamp::from_second(now.as_second() + 6 * 3600).unwrap();
            let next = step(&stored, now);
            if next.ca_key != stored.ca_key {
                ca_rotations += 1;
            }
            if next.tls_crt != stored.tls_crt {
                serving_renewals += 1;
                // The new certificate is trusted by the bundle published before it is served,
                // and by the one the API server may still hold.
                assert!(
                    verifies(&next, &stored.ca_crt, "127.0.0.1", now),
                    "new certificate at {now} not trusted by the previous bundle"
                );
            }
            assert!(verifies(&next, &next.ca_crt, "127.0.0.1", now), "at {now}");
            // Replicas still serving the previous certificate keep working with the new bundle.
            assert!(
                verifies(&stored, &next.ca_crt, "127.0.0.1", now),
                "previous certificate at {now} not trusted by the new bundle"
            );
            max_bundle = max_bundle.max(pem_blocks(&next.ca_crt).unwrap().len());
            stored = next;
        }
        assert_eq!(ca_rotations, 2, "a CA rotation every ~243 days");
        assert!(serving_renewals >= 10, "{serving_renewals}");
        assert_eq!(max_bundle, 2);
    }

    #[test]
    fn pem_blocks_keeps_each_certificate() {
        let a = step(&Stored::default(), ts(0));
        let b = step(&Stored::default(), ts(0));
        let bundle = format!("{}\n{}", a.ca_crt, b.ca_crt);
        let blocks = pem_blocks(&bundle).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0, a.ca_crt);
        assert_eq!(blocks[1].0, b.ca_crt);
        assert!(pem_blocks("-----BEGIN CERTIFICATE-----\nnot base64!\n").is_none());
    }

    #[test]
    fn material_debug_hides_the_key() {
        let stored = step(&Stored::default(), ts(0));
        let text = format!("{:?}", stored.material());
        assert!(!text.contains("PRIVATE KEY"));
    }

    /// The background task can be spawned on a multi-threaded runtime.
    #[test]
    fn keep_fresh_is_send() {
        fn spawnable<T: Future + Send + 'static>(_: &T) {}
        let files = WebhookCerts::Files(CertFiles::new("tls.crt", "tls.key"));
        let material = step(&Stored::default(), ts(0)).material();
        let task = files.keep_fresh(Arc::new(CertResolver::new()), material, async {});
        spawnable(&task);
    }

    #[tokio::test]
    async fn files_load_and_reject_mismatched_pairs() {
        let a = step(&Stored::default(), ts(0));
        let b = step(&Stored::default(), ts(0));
        let dir = std::env::temp_dir().join(format!("aims-certfiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, &a.tls_crt).unwrap();
        std::fs::write(&key, &a.tls_key).unwrap();
        let files = CertFiles::new(&cert, &key);
        let material = files.load().await.unwrap();
        assert_eq!(material.cert_chain_pem, a.tls_crt);
        assert_eq!(material.ca_bundle_pem, None);
        std::fs::write(&key, &b.tls_key).unwrap();
        assert!(matches!(files.load().await, Err(CertsError::Tls { .. })));
        std::fs::remove_file(&key).unwrap();
        assert!(matches!(files.load().await, Err(CertsError::Read { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
