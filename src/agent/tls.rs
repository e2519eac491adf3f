//! The command API's TLS: a fresh self-signed certificate for the advertised address, whose
//! PEM goes to Ironic as `agent_verify_ca` (IPA's "auto TLS"). Ironic then verifies the agent
//! with exactly this certificate.

use anyhow::{Context, Result};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    pub cert_pem: String,
}

/// A certificate for `host` (an IP address or a name: it becomes the subject alternative
/// name that Ironic's client checks against the callback URL).
pub fn self_signed(host: &str) -> Result<ServerTls> {
    let ck = rcgen::generate_simple_self_signed(vec![host.to_string()])
        .with_context(|| format!("cannot make a certificate for {host}"))?;
    let cert_pem = ck.cert.pem();
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .context("cannot use the generated certificate")?;
    Ok(ServerTls {
        config: Arc::new(config),
        cert_pem,
    })
}
