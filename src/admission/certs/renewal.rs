//! When the certificates are renewed: the pure [`renewal`] of what the Secret holds, the names
//! the certificate must cover and `now`.

use jiff::{SignedDuration, Timestamp};

use super::*;

/// How long certificates live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetimes {
    /// The CA's.
    pub ca: SignedDuration,
    /// The serving certificate's (shortened to the CA's end if that comes first).
    pub serving: SignedDuration,
    /// How long a new CA is in the bundle before the serving certificate moves to it: long enough
    /// for every replica to publish it and the API server to load it.
    pub ca_propagation: SignedDuration,
}

impl Default for Lifetimes {
    /// A CA of a year, serving certificates of 90 days, an hour for a new CA to spread.
    fn default() -> Self {
        Self {
            ca: SignedDuration::from_hours(365 * 24),
            serving: SignedDuration::from_hours(90 * 24),
            ca_propagation: SignedDuration::from_hours(1),
        }
    }
}

/// When a certificate is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// Its first valid moment.
    pub not_before: Timestamp,
    /// Its last valid moment.
    pub not_after: Timestamp,
}

impl Validity {
    /// Whether less than a third of its lifetime is left at `now` (or it has expired).
    pub fn renewal_due(&self, now: Timestamp) -> bool {
        let (start, end) = (self.not_before.as_second(), self.not_after.as_second());
        let lifetime = end.saturating_sub(start).max(0);
        now.as_second() >= end.saturating_sub(lifetime / 3)
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        now > self.not_after
    }
}

/// Which CA of the bundle signed the serving certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuedBy {
    /// The CA that signs now.
    Current,
    /// An older CA still in the bundle, valid as given.
    Previous(Validity),
    /// None of them.
    Unknown,
}

/// What renewal needs to know of the serving certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServingFacts {
    /// When it is valid.
    pub validity: Validity,
    /// The names it covers.
    pub hosts: Vec<Host>,
    /// Who signed it.
    pub issued_by: IssuedBy,
}

/// What the Secret holds, as far as renewal is concerned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The signing CA, when its certificate and key are there and belong together.
    pub ca: Option<Validity>,
    /// The older CAs in the bundle.
    pub previous_cas: Vec<Validity>,
    /// The serving certificate, when it and its key are there and belong together.
    pub serving: Option<ServingFacts>,
}

/// What a round must replace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Renewal {
    /// A new CA: there is none, or less than a third of its lifetime is left.
    pub ca: bool,
    /// A new serving certificate.
    pub serving: bool,
    /// Drop expired CAs from the bundle.
    pub prune: bool,
}

impl Renewal {
    /// Whether anything is to change.
    pub fn any(&self) -> bool {
        self.ca || self.serving || self.prune
    }
}

/// What must be replaced at `now`, given what the Secret holds and the names the serving
/// certificate must cover.
///
/// * No usable CA: a new CA and serving certificate (a fresh start).
/// * The CA has less than a third of its lifetime left: a new CA; the serving certificate stays.
/// * The serving certificate is missing, lacks a required name, has less than a third of its
///   lifetime left, was signed by no CA of the bundle or by one that expired, or was signed by an
///   older CA while the current one has been published for [`Lifetimes::ca_propagation`]: a new
///   serving certificate.
/// * An older CA expired: it leaves the bundle.
pub fn renewal(
    now: Timestamp,
    observed: &Observed,
    required: &[Host],
    lifetimes: &Lifetimes,
) -> Renewal {
    let Some(ca) = observed.ca else {
        return Renewal {
            ca: true,
            serving: true,
            prune: !observed.previous_cas.is_empty(),
        };
    };
    let rotate_ca = ca.renewal_due(now);
    let ca_published = now.as_second()
        >= ca
            .not_before
            .as_second()
            .saturating_add(CLOCK_SKEW.as_secs())
            .saturating_add(lifetimes.ca_propagation.as_secs());
    let serving = match &observed.serving {
        None => true,
        Some(serving) => {
            serving.validity.renewal_due(now)
                || !required.iter().all(|h| serving.hosts.contains(h))
                || match serving.issued_by {
                    IssuedBy::Current => false,
                    IssuedBy::Previous(issuer) => {
                        issuer.expired(now) || (ca_published && !rotate_ca)
                    }
                    IssuedBy::Unknown => true,
                }
        }
    };
    Renewal {
        ca: rotate_ca,
        serving,
        prune: observed.previous_cas.iter().any(|c| c.expired(now)),
    }
}
