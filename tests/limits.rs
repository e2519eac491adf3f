//! Bounds on what a server or a name can do to an install: a config server that drips one
//! byte a second, or never answers however many retries are allowed, fails within the fetch
//! deadline with a message naming the URL; and `--disk` accepts a path relative to the
//! current directory.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

/// A server that answers every request with a large Content-Length and then one byte a
/// second, never finishing.
fn drip_server() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                let mut c = c;
                let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n#");
                for _ in 0..300 {
                    std::thread::sleep(Duration::from_secs(1));
                    if c.write_all(b"a").is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// Run rdinstall, killing it after `limit` (so a test of a hang cannot hang itself).
fn run_limited(args: &[&str], limit: Duration) -> (std::process::Output, Duration) {
    let t0 = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdinstall"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    (out, t0.elapsed())
}

/// `install` of `image` onto `disk` with the cloud-config at `cfg`, 2 s a fetch attempt.
fn install_with_config(
    image: &str,
    disk: &Disk,
    cfg: &str,
    retries: &str,
) -> (std::process::Output, Duration) {
    let disk = disk.path.to_str().unwrap();
    run_limited(
        &[
            "install",
            "--image",
            image,
            "--disk",
            disk,
            "--yes",
            "--config",
            cfg,
            "--timeout",
            "2",
            "--retries",
            retries,
        ],
        Duration::from_secs(90),
    )
}

#[test]
fn a_dripping_config_server_fails_within_the_deadline() {
    let img = sample_disk_image(2 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.raw", img);
    let port = drip_server();
    let cfg = format!("http://127.0.0.1:{port}/cfg.yml");
    let disk = Disk::filled(8 * MIB as u64, Some(5));
    let before = disk.sha256();
    let (out, took) = install_with_config(&url, &disk, &cfg, "1");
    // Each attempt 2 s, all within clamp(4 × 2 s, 20 s, 300 s) = 20 s.
    assert!(
        took < Duration::from_secs(30),
        "took {took:?}: {}",
        text(&out)
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains(&cfg) && t.contains("did not finish"), "{t}");
    assert_eq!(disk.sha256(), before, "preflight touched nothing");
}

/// A config server that accepts and never answers, with a large retry budget: all the
/// attempts together stay within clamp(4 × timeout, 20 s, 300 s) (before, each of the 51
/// attempts waited its timeout plus up to 8 s of backoff: minutes).
#[test]
fn a_silent_config_server_fails_within_the_overall_deadline() {
    let img = sample_disk_image(2 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.raw", img);
    let port = silent_server();
    let cfg = format!("http://127.0.0.1:{port}/cfg.yml");
    let disk = Disk::new(8 * MIB as u64);
    let (out, took) = install_with_config(&url, &disk, &cfg, "50");
    assert!(
        took < Duration::from_secs(30),
        "took {took:?}: {}",
        text(&out)
    );
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains(&cfg), "{}", text(&out));
}

#[test]
fn a_relative_disk_flag_means_the_current_directory() {
    let img = sample_disk_image(2 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.raw", img.clone());
    let disk = Disk::new(8 * MIB as u64);
    let out = Command::new(env!("CARGO_BIN_EXE_rdinstall"))
        .args(["install", "--image", &url, "--disk", "disk.img", "--yes"])
        .current_dir(disk.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(disk.bytes()[..img.len()] == img[..]);
    // The kernel command line still wants an absolute path.
    let f = disk.dir.path().join("cmdline");
    std::fs::write(&f, "rdinstall.disk=disk.img").unwrap();
    let out = rdinstall(&["cmdline", "--file", f.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("absolute path"), "{}", text(&out));
}
