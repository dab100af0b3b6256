//! Reading certificates (validity, names, issuer, key) and making them: the CA, the serving
//! certificate, and their renewal.

use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, pem::PemObject};
use x509_parser::{certificate::X509Certificate, extensions::GeneralName};

use super::*;

/// Each CERTIFICATE block of a PEM text, as its own PEM text and DER.
pub(super) fn pem_blocks(pem: &str) -> Option<Vec<(String, CertificateDer<'static>)>> {
    let mut blocks = Vec::new();
    let mut iter = CertificateDer::pem_slice_iter(pem.as_bytes());
    loop {
        let before = iter.remainder();
        let Some(next) = iter.next() else { break };
        let der = next.ok()?;
        let consumed = before.len().checked_sub(iter.remainder().len())?;
        let text = std::str::from_utf8(before.get(..consumed)?).ok()?.trim();
        blocks.push((format!("{text}\n"), der));
    }
    Some(blocks)
}

pub(super) fn parse(der: &[u8]) -> Option<X509Certificate<'_>> {
    x509_parser::parse_x509_certificate(der)
        .ok()
        .map(|(_, cert)| cert)
}

pub(super) fn validity(cert: &X509Certificate<'_>) -> Option<Validity> {
    Some(Validity {
        not_before: Timestamp::from_second(cert.validity().not_before.timestamp()).ok()?,
        not_after: Timestamp::from_second(cert.validity().not_after.timestamp()).ok()?,
    })
}

/// Whether `key_pem` is the private key of `cert`.
pub(super) fn key_matches(cert: &X509Certificate<'_>, key_pem: &str) -> bool {
    KeyPair::from_pem(key_pem)
        .is_ok_and(|key| key.public_key_raw() == cert.public_key().subject_public_key.data.as_ref())
}

pub(super) fn hosts(cert: &X509Certificate<'_>) -> Vec<Host> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(Host::Dns(dns.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes).ok().map(IpAddr::from),
                16 => <[u8; 16]>::try_from(*bytes).ok().map(IpAddr::from),
                _ => None,
            }
            .map(Host::Ip),
            _ => None,
        })
        .collect()
}

pub(super) fn signed_by(cert: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == ca.subject().as_raw()
        && cert.verify_signature(Some(ca.public_key())).is_ok()
}

/// What renewal needs to know of the Secret's contents. Anything unreadable counts as missing.
pub(super) fn observe(stored: &Stored) -> Observed {
    let blocks = pem_blocks(&stored.ca_crt).unwrap_or_default();
    let cas: Option<Vec<X509Certificate<'_>>> = blocks.iter().map(|(_, der)| parse(der)).collect();
    let cas = cas.unwrap_or_default();
    let Some(current) = cas
        .first()
        .filter(|ca| ca.is_ca() && key_matches(ca, &stored.ca_key))
    else {
        return Observed::default();
    };
    let Some(ca) = validity(current) else {
        return Observed::default();
    };
    let previous_cas: Vec<Validity> = cas.iter().skip(1).filter_map(validity).collect();
    let serving_blocks = pem_blocks(&stored.tls_crt).unwrap_or_default();
    let serving = serving_blocks
        .first()
        .and_then(|(_, der)| parse(der))
        .filter(|cert| key_matches(cert, &stored.tls_key))
        .and_then(|cert| {
            let issued_by = if signed_by(&cert, current) {
                IssuedBy::Current
            } else {
                cas.iter()
                    .skip(1)
                    .find(|ca| signed_by(&cert, ca))
                    .and_then(validity)
                    .map_or(IssuedBy::Unknown, IssuedBy::Previous)
            };
            Some(ServingFacts {
                validity: validity(&cert)?,
                hosts: hosts(&cert),
                issued_by,
            })
        });
    Observed {
        ca: Some(ca),
        previous_cas,
        serving,
    }
}

pub(super) fn later(at: Timestamp, by: SignedDuration) -> Result<Timestamp, CertsError> {
    at.checked_add(by)
        .map_err(|e| CertsError::Time(e.to_string()))
}

pub(super) fn offset(
    at: Timestamp,
    by: SignedDuration,
) -> Result<time::OffsetDateTime, CertsError> {
    let second = at
        .as_second()
        .checked_add(by.as_secs())
        .ok_or_else(|| CertsError::Time(format!("{at} + {by:?}")))?;
    time::OffsetDateTime::from_unix_timestamp(second).map_err(|e| CertsError::Time(e.to_string()))
}

/// A new self-signed CA: (certificate PEM, key PEM).
pub(super) fn new_ca(
    now: Timestamp,
    lifetimes: &Lifetimes,
) -> Result<(String, String), CertsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "aims-operator");
    // Unique per CA, so old and new CAs in one bundle are told apart by name too.
    name.push(
        DnType::CommonName,
        format!("aims-operator webhook CA {}", now.as_second()),
    );
    params.distinguished_name = name;
    params.not_before = offset(now, -CLOCK_SKEW)?;
    params.not_after = offset(now, lifetimes.ca)?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A new serving certificate for `hosts`, signed by the CA: (certificate PEM, key PEM).
pub(super) fn new_serving(
    now: Timestamp,
    ca: (&str, &str, Validity),
    hosts: &[Host],
    lifetimes: &Lifetimes,
) -> Result<(String, String), CertsError> {
    let (ca_pem, ca_key_pem, ca_validity) = ca;
    let issuer = Issuer::from_ca_cert_pem(ca_pem, KeyPair::from_pem(ca_key_pem)?)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.subject_alt_names = hosts
        .iter()
        .map(|host| match host {
            Host::Dns(name) => Ok(SanType::DnsName(name.as_str().try_into()?)),
            Host::Ip(ip) => Ok(SanType::IpAddress(*ip)),
        })
        .collect::<Result<_, rcgen::Error>>()?;
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "aims-operator");
    name.push(
        DnType::CommonName,
        hosts
            .first()
            .map_or_else(|| "aims-operator webhook".to_owned(), Host::to_string),
    );
    params.distinguished_name = name;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = offset(now, -CLOCK_SKEW)?;
    // A certificate outliving its CA would fail verification once the CA expires.
    let end = offset(now, lifetimes.serving)?;
    let ca_end = offset(ca_validity.not_after, SignedDuration::ZERO)?;
    params.not_after = end.min(ca_end);
    let cert = params.signed_by(&key, &issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The Secret's contents after `renewal`. `stored` is what the Secret held (empty when there was
/// none) and `observed` what [`observe`] made of it.
pub(super) fn renew(
    stored: &Stored,
    observed: &Observed,
    renewal: Renewal,
    now: Timestamp,
    hosts: &[Host],
    lifetimes: &Lifetimes,
) -> Result<Stored, CertsError> {
    // The bundle as it was: the signing CA first. Empty when there is no usable CA.
    let old: Vec<(String, Validity)> = if observed.ca.is_some() {
        pem_blocks(&stored.ca_crt)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(pem, der)| Some((pem, validity(&parse(&der)?)?)))
            .collect()
    } else {
        Vec::new()
    };
    let (ca_pem, ca_key, ca_validity, older) = match old.split_first() {
        Some(((pem, validity), rest)) if !renewal.ca => {
            (pem.clone(), stored.ca_key.clone(), *validity, rest.to_vec())
        }
        _ => {
            let (pem, key) = new_ca(now, lifetimes)?;
            let validity = Validity {
                not_before: now,
                not_after: later(now, lifetimes.ca)?,
            };
            (pem, key, validity, old)
        }
    };
    // Older CAs stay in the bundle until they expire: certificates they signed may still be
    // served by replicas that have not yet read the new Secret.
    let mut ca_crt = ca_pem.clone();
    for (pem, validity) in &older {
        if !validity.expired(now) {
            ca_crt.push_str(pem);
        }
    }
    let (tls_crt, tls_key) = if renewal.serving {
        new_serving(now, (&ca_pem, &ca_key, ca_validity), hosts, lifetimes)?
    } else {
        (stored.tls_crt.clone(), stored.tls_key.clone())
    };
    Ok(Stored {
        tls_crt,
        tls_key,
        ca_crt,
        ca_key,
    })
}
