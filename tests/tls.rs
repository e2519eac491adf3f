//! HTTPS with a certificate made for the test: untrusted by default, trusted with ca_cert,
//! accepted with insecure. The config fetch is held to the same rules as the image.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;

const MIB: usize = 1 << 20;

struct TlsServer {
    port: u16,
    ca_pem: String,
}

fn start_tls(files: Vec<(&'static str, Vec<u8>)>) -> TlsServer {
    start_tls_with(files, Vec::new())
}

/// `redirects`: paths answered with `302 Found` to the given location.
fn start_tls_with(
    files: Vec<(&'static str, Vec<u8>)>,
    redirects: Vec<(&'static str, String)>,
) -> TlsServer {
    let ca =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert_der = ca.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::try_from(ca.signing_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let files = Arc::new(files);
    let redirects = Arc::new(redirects);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let config = config.clone();
            let files = files.clone();
            let redirects = redirects.clone();
            std::thread::spawn(move || {
                let Ok(tls) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut s = rustls::StreamOwned::new(tls, conn);
                let mut r = BufReader::new(&mut s);
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    return; // the client refused our certificate
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                }
                let body = files
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, b)| b.clone());
                let to = redirects
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, t)| t.clone());
                let resp = match (body, to) {
                    (_, Some(to)) => format!(
                        "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    .into_bytes(),
                    (Some(b), None) => {
                        let mut v = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        )
                        .into_bytes();
                        v.extend(b);
                        v
                    }
                    (None, None) => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = s.write_all(&resp);
                let _ = s.flush();
                s.conn.send_close_notify();
                let _ = s.flush();
            });
        }
    });
    TlsServer {
        port,
        ca_pem: ca.cert.pem(),
    }
}

#[test]
fn https_trust_rules() {
    let img = sample_disk_image(3 * MIB);
    let srv = start_tls(vec![
        ("/img.gz", compress(&["gzip", "-c"], &img)),
        ("/cfg", b"#!/bin/sh\necho hi\n".to_vec()),
    ]);
    let url = format!("https://localhost:{}/img.gz", srv.port);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &srv.ca_pem).unwrap();

    // Untrusted: preflight fails, names the host and says how to add a CA.
    let disk = Disk::filled(8 * MIB as u64, Some(7));
    let before = disk.sha256();
    let out = install(&url, &disk, &[]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        text(&out).contains("localhost") && text(&out).contains("ca_cert"),
        "{}",
        text(&out)
    );
    assert_eq!(disk.sha256(), before);

    // Trusted through ca_cert.
    let out = install(&url, &disk, &["--ca-cert", ca.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(disk.bytes()[..img.len()] == img[..]);

    // insecure accepts it (never the default).
    let disk = Disk::new(8 * MIB as u64);
    let out = install(&url, &disk, &["--insecure"]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    // The config fetch follows the same rules: a trusted image with an untrusted config URL
    // is impossible here (same server), so check the config alone against an untrusted server.
    let plain = Server::start();
    let img_url = plain.file("/img.raw", img.clone());
    let cfg_url = format!("https://localhost:{}/cfg", srv.port);
    let disk = Disk::filled(8 * MIB as u64, Some(9));
    let before = disk.sha256();
    let out = install(&img_url, &disk, &["--config", &cfg_url, "--retries", "0"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("not trusted"), "{}", text(&out));
    assert_eq!(disk.sha256(), before);

    // A bad ca_cert file is named.
    std::fs::write(&ca, "not a certificate").unwrap();
    let out = install(&url, &disk, &["--ca-cert", ca.to_str().unwrap()]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("ca.pem"), "{}", text(&out));
}

/// A redirect from https to plain http is refused with a clear error (the image would be
/// fetched unauthenticated where the operator asked for TLS); https to https still works.
#[test]
fn https_to_http_redirects_are_refused() {
    let img = sample_disk_image(2 * MIB);
    let plain = Server::start();
    let plain_url = plain.file("/img.raw", img.clone());
    let srv = start_tls_with(
        vec![("/img.raw", img.clone())],
        vec![
            ("/down.raw", plain_url.clone()),
            ("/same.raw", "/img.raw".to_string()),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &srv.ca_pem).unwrap();
    let ca = ca.to_str().unwrap();

    let disk = Disk::filled(4 * MIB as u64, Some(3));
    let before = disk.sha256();
    let url = format!("https://localhost:{}/down.raw", srv.port);
    let out = install(&url, &disk, &["--ca-cert", ca, "--retries", "0"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        text(&out).contains("redirect") && text(&out).contains("plain HTTP"),
        "{}",
        text(&out)
    );
    assert_eq!(disk.sha256(), before);
    assert!(
        plain.requests.lock().unwrap().is_empty(),
        "the http:// target was never asked"
    );

    let url = format!("https://localhost:{}/same.raw", srv.port);
    let out = install(&url, &disk, &["--ca-cert", ca]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(disk.bytes()[..img.len()] == img[..]);
}

/// `insecure:` with no value (or `~`) in a settings file is a usage error, not "insecure".
#[test]
fn an_empty_insecure_is_an_error_not_true() {
    let img = sample_disk_image(2 * MIB);
    let srv = start_tls(vec![("/img.raw", img)]);
    let url = format!("https://localhost:{}/img.raw", srv.port);
    let dir = tempfile::tempdir().unwrap();
    for doc in ["insecure:\n", "insecure: ~\n"] {
        let f = dir.path().join("s.yml");
        std::fs::write(&f, doc).unwrap();
        let disk = Disk::filled(4 * MIB as u64, Some(4));
        let before = disk.sha256();
        let out = install(&url, &disk, &["--settings", f.to_str().unwrap()]);
        assert_eq!(code(&out), 2, "{doc:?}: {}", text(&out));
        assert!(text(&out).contains("insecure"), "{}", text(&out));
        assert_eq!(disk.sha256(), before);
    }
    // On the kernel command line: `rdinstall.insecure=` as well.
    let f = dir.path().join("cmdline");
    std::fs::write(&f, "rdinstall.insecure=").unwrap();
    let out = rdinstall(&["cmdline", "--file", f.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
}
