//! The HTTP client shared by image, config and report traffic, and small fetches.
//!
//! TLS is rustls with ring and the built-in webpki roots; `ca_cert` adds PEM roots, and
//! `insecure` (never the default) accepts any certificate. Image, config and reports are held
//! to the same trust rules because they use this one client.

use anyhow::{anyhow, bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to reach servers: trust, timeouts, retry budget. Part of the plan (durations in
/// whole seconds there).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NetOptions {
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Connect timeout and whole-request timeout for small fetches.
    #[serde(with = "seconds")]
    pub timeout: Duration,
    /// A body that delivers no bytes this long is treated as broken (and resumed).
    #[serde(with = "seconds")]
    pub stall_timeout: Duration,
    pub retries: u32,
}

/// A `Duration` as whole seconds in JSON.
mod seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_config(o: &NetOptions) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS setup failed")?;
    if o.insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider())))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &o.ca_cert {
        add_pem_roots(&mut roots, path)?;
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

fn add_pem_roots(roots: &mut rustls::RootCertStore, path: &Path) -> Result<()> {
    let pem =
        std::fs::read(path).with_context(|| format!("cannot read ca_cert {}", path.display()))?;
    let mut n = 0;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.with_context(|| format!("ca_cert {} is not valid PEM", path.display()))?;
        roots.add(cert).with_context(|| {
            format!(
                "ca_cert {} holds a certificate rustls rejects",
                path.display()
            )
        })?;
        n += 1;
    }
    if n == 0 {
        bail!("ca_cert {} holds no PEM certificate", path.display());
    }
    Ok(())
}

/// `insecure=true`: accept any server certificate, still check handshake signatures.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// At most this many redirects per request (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// Redirects are followed, except from https to plain http: that would send the request
/// (and the report token) in clear text and accept an unauthenticated answer where the
/// operator asked for TLS.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() == "http"
            && attempt.previous().iter().any(|u| u.scheme() == "https");
        if downgrade {
            let from = attempt
                .previous()
                .last()
                .map(|u| u.to_string())
                .unwrap_or_default();
            let to = attempt.url().to_string();
            attempt.error(format!(
                "refusing the redirect from {from} to {to}: it leaves HTTPS for plain HTTP; \
                 fix the server's redirect or point the setting at the final https:// URL"
            ))
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// Build the blocking client. Body reads time out after `stall_timeout` without data.
pub fn client(o: &NetOptions) -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls_config(o)?)
        .redirect(redirect_policy())
        .connect_timeout(o.timeout)
        .timeout(o.stall_timeout)
        .user_agent(concat!("rdinstall/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")
}

/// Is this HTTP status worth retrying?
pub fn retryable_status(s: reqwest::StatusCode) -> bool {
    s.is_server_error() || s.as_u16() == 408 || s.as_u16() == 429
}

/// Backoff before retry `attempt` (0-based): 0.5 s doubling, capped at 8 s, with jitter.
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1 << attempt.min(4));
    let jitter = rand::random::<u64>() % (base / 4 + 1);
    Duration::from_millis(base.min(8000) + jitter)
}

/// Explain a transport error with the URL and a hint.
pub fn explain(url: &str, e: &reqwest::Error) -> anyhow::Error {
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = src {
        if !chain.is_empty() {
            chain.push_str(": ");
        }
        chain.push_str(&s.to_string());
        src = s.source();
    }
    let lower = chain.to_ascii_lowercase();
    if lower.contains("certificate")
        || lower.contains("unknownissuer")
        || lower.contains("invalid peer")
    {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        return anyhow!(
            "TLS certificate of {host} is not trusted ({chain}) fetching {url}; add its CA with ca_cert=/path/ca.pem (or insecure=true for testing only)"
        );
    }
    if e.is_timeout() {
        return anyhow!(
            "timed out fetching {url} ({chain}); check the server, or raise timeout/stall_timeout"
        );
    }
    if e.is_connect() {
        return anyhow!("cannot connect to {url} ({chain}); check the server address and that the network is up");
    }
    anyhow!("fetching {url} failed: {chain}")
}

/// The whole time a small fetch may take, all attempts together: `clamp(4 × timeout, 20 s,
/// 300 s)`, the bound the reporter uses after the install. The client's per-request timeout
/// bounds one attempt, body included (measured: a server dripping a byte a second fails
/// after `timeout`), but without this the attempts together took up to
/// retries × (timeout + backoff): minutes with a generous retry budget.
pub fn small_fetch_deadline(o: &NetOptions) -> Duration {
    (o.timeout * 4).clamp(Duration::from_secs(20), Duration::from_secs(300))
}

/// Fetch a small document (config, settings, signature) from http(s), file:// or a path,
/// refusing more than `max` bytes. Retries connection errors and 408/429/5xx; each attempt
/// must finish (headers and body) within `timeout`, and all of them within
/// `small_fetch_deadline`.
pub fn fetch_small(location: &str, max: u64, o: &NetOptions) -> Result<Vec<u8>> {
    if let Some(path) = local_path(location) {
        let f = std::fs::File::open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        return read_limited(f, max, location, None);
    }
    let client = client(o)?;
    let overall = small_fetch_deadline(o);
    let end = Instant::now() + overall;
    let mut attempt = 0;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let this_try = o.timeout.min(left);
        let try_end = Instant::now() + this_try;
        let res = client.get(location).timeout(this_try).send();
        let err = match res {
            Ok(r) if r.status().is_success() => {
                match read_limited(r, max, location, Some((try_end, this_try))) {
                    Ok(b) => return Ok(b),
                    Err(e) if e.downcast_ref::<TooSlow>().is_some() => e,
                    Err(e) => return Err(e),
                }
            }
            Ok(r) if retryable_status(r.status()) => anyhow!("{location} answered {}", r.status()),
            Ok(r) => bail!("{}", status_message(location, r.status())),
            Err(e) => explain(location, &e),
        };
        let pause = backoff(attempt);
        if attempt >= o.retries || Instant::now() + pause >= end {
            return Err(err.context(format!(
                "gave up fetching {location} after {} attempt(s) ({}s at most for the whole fetch)",
                attempt + 1,
                overall.as_secs()
            )));
        }
        std::thread::sleep(pause);
        attempt += 1;
    }
}

/// A body that did not arrive within its attempt's time (retryable).
#[derive(Debug)]
struct TooSlow;
impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the body did not arrive in time")
    }
}
impl std::error::Error for TooSlow {}

/// A clear message for a final HTTP status.
pub fn status_message(url: &str, s: reqwest::StatusCode) -> String {
    match s.as_u16() {
        404 => format!(
            "{url} was not found (HTTP 404); check the URL and that the file is on the server"
        ),
        401 | 403 => format!(
            "{url} was refused (HTTP {}); check the server's access rules",
            s.as_u16()
        ),
        _ => format!("{url} answered HTTP {s}"),
    }
}

/// Read at most `max` bytes (more is an error); with `deadline` (the instant and the time it
/// stands for), give up when the body has not ended by then. Each read is itself bounded by
/// the client's read timeout, so the check between reads is never far late.
fn read_limited(
    r: impl Read,
    max: u64,
    location: &str,
    deadline: Option<(Instant, Duration)>,
) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut r = r.take(max + 1);
    let mut chunk = [0u8; 16 * 1024];
    let too_slow = |got: usize, len: Duration| {
        anyhow::Error::new(TooSlow).context(format!(
            "{location} did not finish sending within {}s ({got} bytes so far); the server \
             is too slow or stuck (raise timeout= if it is just slow)",
            len.as_secs()
        ))
    };
    loop {
        let n = match r.read(&mut chunk) {
            Ok(n) => n,
            // The client's own timeout for the attempt (the same instant) fired in the middle
            // of the body; its error says only "operation timed out".
            Err(_)
                if deadline
                    .is_some_and(|(end, _)| Instant::now() + Duration::from_millis(250) >= end) =>
            {
                return Err(too_slow(
                    buf.len(),
                    deadline.map(|d| d.1).unwrap_or_default(),
                ));
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("reading {location} failed")))
            }
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((end, len)) = deadline {
            if Instant::now() >= end {
                return Err(too_slow(buf.len(), len));
            }
        }
    }
    if buf.len() as u64 > max {
        bail!("{location} is larger than {max} bytes, the limit for this kind of file");
    }
    Ok(buf)
}

/// `file:///x` or `/x` → a path; http(s) → None.
pub fn local_path(location: &str) -> Option<std::path::PathBuf> {
    if let Some(p) = location.strip_prefix("file://") {
        Some(p.into())
    } else if location.starts_with("http://") || location.starts_with("https://") {
        None
    } else {
        Some(location.into())
    }
}
