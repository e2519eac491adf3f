//! Secrets never leave the process: the report token, and credentials inside URLs (userinfo,
//! presigned query strings) are absent from stdout, stderr, `--json`, every HTTP event a
//! recording server on 127.0.0.1 receives (log_tail included), `rdinstall cmdline` and
//! dry runs, in success and in failure.

mod common;
use common::*;

const MIB: usize = 1 << 20;
const TOKEN: &str = "tok-SECRET-report-71c2";
const SECRETS: &[&str] = &[
    TOKEN,
    "PASSW0RD-img",
    "SIG-SECRET-img",
    "QTOKEN-SECRET-img",
    "REPPASS-rep",
    "REPAUTH-rep",
    "CFGSIG-cfg",
];

/// Fails naming the stream and the secret that leaked.
fn assert_clean(what: &str, s: &str) {
    for secret in SECRETS {
        assert!(!s.contains(secret), "{secret} leaked into {what}:\n{s}");
    }
}

struct Setup {
    srv: Server,
    image: String,
    report: String,
    config: String,
    image_bytes: Vec<u8>,
}

fn setup() -> Setup {
    let img = sample_disk_image(2 * MIB);
    let srv = Server::start();
    let query = "?X-Amz-Algorithm=AWS4&X-Amz-Signature=SIG-SECRET-img&token=QTOKEN-SECRET-img";
    srv.route(
        &format!("/img.raw{query}"),
        Route::Body(std::sync::Arc::new(img.clone())),
    );
    srv.route(
        "/cfg?sig=CFGSIG-cfg",
        Route::Body(std::sync::Arc::new(b"#!/bin/sh\necho hi\n".to_vec())),
    );
    Setup {
        image: format!(
            "http://user:PASSW0RD-img@127.0.0.1:{}/img.raw{query}",
            srv.port
        ),
        report: format!(
            "http://rep:REPPASS-rep@127.0.0.1:{}/report?auth=REPAUTH-rep",
            srv.port
        ),
        config: format!("http://127.0.0.1:{}/cfg?sig=CFGSIG-cfg", srv.port),
        srv,
        image_bytes: img,
    }
}

fn check_output(what: &str, out: &std::process::Output) {
    assert_clean(
        &format!("{what}: stdout"),
        &String::from_utf8_lossy(&out.stdout),
    );
    assert_clean(
        &format!("{what}: stderr"),
        &String::from_utf8_lossy(&out.stderr),
    );
}

fn check_posts(what: &str, srv: &Server) -> usize {
    let reqs = srv.requests.lock().unwrap();
    let posts: Vec<_> = reqs
        .iter()
        .filter(|r| r.method.starts_with("POST"))
        .collect();
    for r in &posts {
        assert_clean(
            &format!("{what}: HTTP event"),
            &String::from_utf8_lossy(&r.body),
        );
    }
    posts.len()
}

#[test]
fn secrets_are_absent_from_every_output_of_an_install() {
    let s = setup();
    let disk = Disk::new(8 * MIB as u64);
    // The sample image has no filesystem to inject a config into: the config (and its
    // secret) goes into the runs that stop before the config stage.
    let common_args: [&str; 4] = ["--report", &s.report, "--report-token", TOKEN];

    // Success, with --json events on stdout.
    let mut args: Vec<&str> = vec!["--json"];
    args.extend_from_slice(&common_args);
    let out = install(&s.image, &disk, &args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(disk.bytes()[..s.image_bytes.len()] == s.image_bytes[..]);
    check_output("install --json", &out);
    let evs = events(&out);
    assert!(evs.iter().any(|e| e["event"] == "plan"), "{evs:?}");
    // Still useful: the host and path are shown, only the credentials masked.
    let image_field = evs.last().unwrap()["image"].as_str().unwrap().to_string();
    assert!(
        image_field.contains("***@127.0.0.1") && image_field.contains("/img.raw?"),
        "{image_field}"
    );
    assert!(check_posts("install", &s.srv) >= 5);
    // The token goes out where it should, and the http:// report URL gets one warning.
    let auth = s
        .srv
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.method == "POST")
        .filter_map(|r| r.headers.get("authorization").cloned())
        .next();
    assert_eq!(auth.as_deref(), Some(&*format!("Bearer {TOKEN}")));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("report_token is sent in clear text").count(),
        1,
        "{stderr}"
    );

    // Failure after the write began: `failed` carries error and the 200-line log_tail.
    s.srv.requests.lock().unwrap().clear();
    let mut args: Vec<&str> = vec![
        "--image-checksum",
        "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "--config",
        &s.config,
    ];
    args.extend_from_slice(&common_args);
    let out = install(&s.image, &disk, &args);
    assert_eq!(code(&out), 4, "{}", text(&out));
    check_output("failed install", &out);
    check_posts("failed install", &s.srv);
    let posts = s.srv.posts();
    let failed = posts
        .iter()
        .find(|p| p["event"] == "failed")
        .expect("failed event");
    assert!(!failed["log_tail"].as_array().unwrap().is_empty());

    // A dry run, plain and --json (the plan is printed, nothing reported).
    for extra in [&["--dry-run"][..], &["--dry-run", "--json"][..]] {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend_from_slice(&common_args);
        args.extend_from_slice(&["--config", &s.config]);
        let out = install(&s.image, &disk, &args);
        assert_eq!(code(&out), 0, "{}", text(&out));
        check_output(&format!("install {extra:?}"), &out);
    }
    // A transport error quoting the URL (a port nobody listens on).
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let url = format!("http://u:PASSW0RD-img@127.0.0.1:{port}/i?token=QTOKEN-SECRET-img");
    let out = install(&url, &disk, &["--retries", "0", "--json"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("cannot connect"), "{}", text(&out));
    check_output("unreachable image", &out);
}

#[test]
fn secrets_are_absent_from_rdinstall_cmdline_and_its_errors() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cmdline");
    let run = |line: &str| {
        std::fs::write(&file, line).unwrap();
        rdinstall(&["cmdline", "--file", file.to_str().unwrap()])
    };

    let out = run(&format!(
        "quiet rdinstall.image={} rdinstall.report={} rdinstall.report_token={TOKEN} rdinstall.config={} rdinstall.notify_url={}",
        s.image, s.report, s.config, s.config
    ));
    assert_eq!(code(&out), 0, "{}", text(&out));
    check_output("rdinstall cmdline", &out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report_token"], "<redacted>");

    // An unterminated quote swallows the rest of the line: only the key is named.
    let out = run(&format!(
        "rdinstall.extra_kargs=\"console=ttyS0 rdinstall.report_token={TOKEN} rdinstall.image={}",
        s.image
    ));
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("rdinstall.extra_kargs"),
        "{}",
        text(&out)
    );
    check_output("unterminated quote", &out);

    // A misspelt key: its name, never its value.
    let out = run(&format!("rdinstall.report-tokn={TOKEN}"));
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("report_tokn"), "{}", text(&out));
    check_output("misspelt key", &out);

    // A bad value quoting a URL with credentials.
    let out = run("rdinstall.image=gopher://u:PASSW0RD-img@h/x?token=QTOKEN-SECRET-img");
    assert_eq!(code(&out), 2, "{}", text(&out));
    check_output("bad image value", &out);
}
