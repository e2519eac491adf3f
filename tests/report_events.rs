//! Reporting over HTTP to a real server on 127.0.0.1 that records what it receives.

mod common;
use common::*;
use std::sync::atomic::Ordering;

const MIB: usize = 1 << 20;
const TOKEN: &str = "tok-3f9a-SECRET";

fn kinds(posts: &[serde_json::Value]) -> Vec<String> {
    posts
        .iter()
        .map(|p| p["event"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn success_sends_every_event_in_order_with_the_token() {
    let img = sample_disk_image(6 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.bz2", compress(&["bzip2", "-c"], &img));
    let disk = Disk::new(16 * MIB as u64);
    let out = install(
        &url,
        &disk,
        &[
            "--json",
            "--report",
            &srv.url("/report"),
            "--report-token",
            TOKEN,
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let posts = srv.posts();
    let k = kinds(&posts);
    assert_eq!(k.first().map(String::as_str), Some("started"), "{k:?}");
    let pos = |pred: &dyn Fn(&serde_json::Value) -> bool| posts.iter().position(pred).unwrap();
    let plan = pos(&|p| p["event"] == "plan");
    let wipe = pos(&|p| p["event"] == "stage" && p["stage"] == "wipe");
    let write_begin = pos(&|p| p["event"] == "stage" && p["stage"] == "write");
    let progress = pos(&|p| p["event"] == "progress");
    assert!(plan < wipe && write_begin < progress, "order: {k:?}");
    assert_eq!(k.last().map(String::as_str), Some("succeeded"), "{k:?}");
    assert!(k.iter().any(|e| e == "progress"), "{k:?}");
    for (stage, state) in [
        ("preflight", "begin"),
        ("wipe", "end"),
        ("write", "begin"),
        ("write", "end"),
        ("finish", "end"),
    ] {
        assert!(
            posts
                .iter()
                .any(|p| p["event"] == "stage" && p["stage"] == stage && p["state"] == state),
            "missing stage {stage} {state}: {k:?}"
        );
    }
    let seqs: Vec<u64> = posts.iter().map(|p| p["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq in order: {seqs:?}"
    );
    let id = &posts[0]["install_id"];
    assert!(posts.iter().all(|p| p["install_id"] == *id && p["v"] == 1));
    assert!(posts
        .iter()
        .all(|p| p["time"].as_str().unwrap().ends_with('Z')));
    let reqs = srv.requests.lock().unwrap();
    for r in reqs.iter().filter(|r| r.method == "POST") {
        assert_eq!(
            r.headers.get("authorization").map(String::as_str),
            Some(&*format!("Bearer {TOKEN}"))
        );
        assert_eq!(
            r.headers.get("content-type").map(String::as_str),
            Some("application/json")
        );
    }
    // The token never shows in output or JSON events.
    assert!(!text(&out).contains(TOKEN), "token leaked to output");
}

#[test]
fn failure_reports_stage_exit_code_and_log_tail() {
    let img = sample_disk_image(4 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.gz", compress(&["gzip", "-c"], &img));
    let disk = Disk::new(16 * MIB as u64);
    let out = install(
        &url,
        &disk,
        &[
            "--image-checksum",
            &format!("sha256:{}", "ab".repeat(32)),
            "--report",
            &srv.url("/report"),
            "--report-token",
            TOKEN,
        ],
    );
    assert_eq!(code(&out), 4, "{}", text(&out));
    let posts = srv.posts();
    let failed = posts.last().unwrap();
    assert_eq!(failed["event"], "failed");
    assert_eq!(failed["stage"], "write");
    assert_eq!(failed["exit_code"], 4);
    assert!(failed["error"]
        .as_str()
        .unwrap()
        .contains("checksum mismatch"));
    let tail = failed["log_tail"].as_array().unwrap();
    assert!(
        tail.iter()
            .any(|l| l.as_str().unwrap().contains("write: begin")),
        "{tail:?}"
    );
    assert!(!text(&out).contains(TOKEN));
}

#[test]
fn a_failing_report_server_never_changes_the_result() {
    let img = sample_disk_image(4 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.raw", img.clone());
    // 500 for the first 6 POSTs, then it recovers.
    srv.post_failures.store(6, Ordering::SeqCst);
    let disk = Disk::new(16 * MIB as u64);
    let out = install(
        &url,
        &disk,
        &["--report", &srv.url("/report"), "--timeout", "5"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(disk.bytes()[..img.len()] == img[..]);
    let k = kinds(&srv.posts());
    assert_eq!(k.last().map(String::as_str), Some("succeeded"), "{k:?}");
    assert!(
        text(&out).contains("answered HTTP 500"),
        "errors show on the console"
    );

    // A report server that refuses connections: still installs, exit 0.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!(
        "http://127.0.0.1:{}/report",
        dead.local_addr().unwrap().port()
    );
    drop(dead);
    let disk = Disk::new(16 * MIB as u64);
    let out = install(
        &url,
        &disk,
        &["--report", &dead_url, "--timeout", "1", "--retries", "1"],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("cannot connect"), "{}", text(&out));
}

#[test]
fn notify_url_gets_one_get_on_success() {
    let img = sample_disk_image(2 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.raw", img);
    srv.file("/cblr/svc/op/nopxe/system/node1", Vec::new());
    let disk = Disk::new(8 * MIB as u64);
    let out = install(
        &url,
        &disk,
        &["--notify-url", &srv.url("/cblr/svc/op/nopxe/system/node1")],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let gets = srv
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path.contains("nopxe"))
        .count();
    assert_eq!(gets, 1);
}

/// A report server that accepts connections and never answers: the install still ends, and
/// the whole wait after it is bounded by clamp(4 × timeout, 20 s, 300 s) = 20 s here, shared
/// by every queued event (not retries × timeout per event and URL).
#[test]
fn a_silent_report_server_delays_the_end_by_the_bound_only() {
    let img = sample_disk_image(2 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.raw", img);
    let port = silent_server();
    let disk = Disk::new(8 * MIB as u64);
    let report = format!("http://127.0.0.1:{port}/report");
    let report2 = format!("http://127.0.0.1:{port}/second");
    let t0 = std::time::Instant::now();
    let out = install(
        &url,
        &disk,
        &[
            "--report",
            &report,
            "--report",
            &report2,
            "--timeout",
            "1",
            "--retries",
            "5",
        ],
    );
    let took = t0.elapsed();
    assert_eq!(code(&out), 0, "{}", text(&out));
    // 20 s for the reports after the install, plus the install itself and slack for a busy
    // machine; before the bound each of the ~12 stage events took ~12 s per URL.
    assert!(
        took < std::time::Duration::from_secs(40),
        "took {took:?}: {}",
        text(&out)
    );
    assert!(text(&out).contains("dropped"), "{}", text(&out));
}
