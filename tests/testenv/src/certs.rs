//! The certificates and keys a local control plane needs, generated fresh for each one.

use std::{fs, net::IpAddr, path::Path};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::Error;

/// Paths of the generated files, all inside the control plane's directory.
pub(crate) struct Pki {
    pub ca_cert: String,
    pub ca_key: String,
    pub server_cert: String,
    pub server_key: String,
    pub admin_cert: String,
    pub admin_key: String,
    pub sa_key: String,
    pub sa_pub: String,
    pub webhook_client_ca: String,
    pub webhook_client_cert: String,
    pub webhook_client_key: String,
}

/// The common name (and DNS name) of the client certificate the API server presents to webhooks.
pub const WEBHOOK_CLIENT_NAME: &str = "kube-apiserver-webhook-client";

/// Writes a CA, an API server serving certificate for 127.0.0.1, an admin client certificate in
/// `system:masters`, a service account signing key, and, under a CA of its own, the client
/// certificate the API server presents to webhooks into `dir`.
pub(crate) fn generate(dir: &Path) -> Result<Pki, Error> {
    let path = |name: &str| dir.join(name).display().to_string();
    let pki = Pki {
        ca_cert: path("ca.crt"),
        ca_key: path("ca.key"),
        server_cert: path("apiserver.crt"),
        server_key: path("apiserver.key"),
        admin_cert: path("admin.crt"),
        admin_key: path("admin.key"),
        sa_key: path("sa.key"),
        sa_pub: path("sa.pub"),
        webhook_client_ca: path("webhook-client-ca.crt"),
        webhook_client_cert: path("webhook-client.crt"),
        webhook_client_key: path("webhook-client.key"),
    };

    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "aims-testenv-ca");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    write(&pki.ca_cert, &ca.self_signed(&ca_key)?.pem())?;
    write(&pki.ca_key, &ca_key.serialize_pem())?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec![
        "localhost".to_owned(),
        "kubernetes".to_owned(),
        "kubernetes.default".to_owned(),
        "kubernetes.default.svc".to_owned(),
    ])?;
    for ip in ["127.0.0.1", "10.0.0.1"] {
        let ip: IpAddr = ip.parse().expect("a literal IP address");
        server.subject_alt_names.push(rcgen::SanType::IpAddress(ip));
    }
    server
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    write(
        &pki.server_cert,
        &server.signed_by(&server_key, &issuer)?.pem(),
    )?;
    write(&pki.server_key, &server_key.serialize_pem())?;

    let admin_key = KeyPair::generate()?;
    let mut admin = CertificateParams::new(Vec::<String>::new())?;
    admin.distinguished_name.push(DnType::CommonName, "admin");
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    write(
        &pki.admin_cert,
        &admin.signed_by(&admin_key, &issuer)?.pem(),
    )?;
    write(&pki.admin_key, &admin_key.serialize_pem())?;

    let sa_key = KeyPair::generate()?;
    write(&pki.sa_key, &sa_key.serialize_pem())?;
    write(&pki.sa_pub, &sa_key.public_key_pem())?;

    // A CA of its own: a webhook that trusts it trusts the API server's webhook client and no
    // user of the cluster (whose certificates the cluster CA signs).
    let webhook_ca_key = KeyPair::generate()?;
    let mut webhook_ca = CertificateParams::new(Vec::<String>::new())?;
    webhook_ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    webhook_ca
        .distinguished_name
        .push(DnType::CommonName, "aims-testenv-webhook-client-ca");
    webhook_ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    write(
        &pki.webhook_client_ca,
        &webhook_ca.self_signed(&webhook_ca_key)?.pem(),
    )?;
    let webhook_issuer = Issuer::new(webhook_ca, webhook_ca_key);
    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(vec![WEBHOOK_CLIENT_NAME.to_owned()])?;
    client
        .distinguished_name
        .push(DnType::CommonName, WEBHOOK_CLIENT_NAME);
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    write(
        &pki.webhook_client_cert,
        &client.signed_by(&client_key, &webhook_issuer)?.pem(),
    )?;
    write(&pki.webhook_client_key, &client_key.serialize_pem())?;
    Ok(pki)
}

fn write(path: &str, contents: &str) -> Result<(), Error> {
    fs::write(path, contents).map_err(|source| Error::Io {
        what: format!("write {path}"),
        source,
    })
}
