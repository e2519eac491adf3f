//! The write path end to end through the real binary: real HTTP on 127.0.0.1, real
//! compressors, sparse files as disks.

mod common;
use common::*;
use std::sync::{Arc, Mutex};

const MIB: usize = 1 << 20;

fn tools() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("bz2", vec!["bzip2", "-c", "-9"]),
        ("gz", vec!["gzip", "-c", "-1"]),
        ("xz", vec!["xz", "-c", "-0", "-T1"]),
        ("zst", vec!["zstd", "-c", "-3", "-q"]),
    ]
}

#[test]
fn every_format_installs_the_exact_bytes() {
    let img = sample_disk_image(12 * MIB);
    let srv = Server::start();
    let mut cases: Vec<(String, Vec<u8>)> = tools()
        .into_iter()
        .map(|(ext, t)| (ext.to_string(), compress(&t, &img)))
        .collect();
    cases.push(("raw".into(), img.clone()));
    for (ext, data) in cases {
        let sum = sha256_hex(&data);
        let url = srv.file(&format!("/img.{ext}"), data);
        let disk = Disk::filled(32 * MIB as u64, Some(0xa5));
        let out = install(
            &url,
            &disk,
            &[
                "--image-checksum",
                &format!("sha256:{sum}"),
                "--progress",
                "plain",
            ],
        );
        assert_eq!(code(&out), 0, "{ext}: {}", text(&out));
        let d = disk.bytes();
        assert!(
            d[..img.len()] == img[..],
            "{ext}: written bytes differ from the image"
        );
        // Bytes past the image are the old contents (nothing assumed zero, nothing touched),
        // except the last MiB which the wipe clears (old GPT backup area).
        assert!(
            d[img.len()..d.len() - MIB].iter().all(|b| *b == 0xa5),
            "{ext}: wrote past the image"
        );
    }
}

#[test]
fn file_url_and_plain_path_sources() {
    let img = sample_disk_image(4 * MIB);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.gz");
    std::fs::write(&p, compress(&["gzip", "-c"], &img)).unwrap();
    for loc in [format!("file://{}", p.display()), p.display().to_string()] {
        let disk = Disk::new(16 * MIB as u64);
        let out = install(&loc, &disk, &[]);
        assert_eq!(code(&out), 0, "{loc}: {}", text(&out));
        assert!(disk.bytes()[..img.len()] == img[..]);
    }
}

#[test]
fn wrong_checksum_fails_after_write_and_leaves_no_partition_table() {
    let img = sample_disk_image(8 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.bz2", compress(&["bzip2", "-c"], &img));
    // An old partition table on the disk that must not survive either.
    let disk = Disk::new(32 * MIB as u64);
    std::fs::write(&disk.path, sample_disk_image(2 * MIB)).unwrap();
    disk_len(&disk, 32 * MIB as u64);
    let bad = format!("sha256:{}", "00".repeat(32));
    let out = install(&url, &disk, &["--image-checksum", &bad, "--json"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
    let d = disk.bytes();
    assert!(
        d[..MIB].iter().all(|b| *b == 0),
        "first MiB must be cleared"
    );
    assert!(
        d[d.len() - MIB..].iter().all(|b| *b == 0),
        "last MiB must be cleared"
    );
    let evs = events(&out);
    let failed = evs
        .iter()
        .find(|e| e["event"] == "failed")
        .expect("a failed event");
    assert_eq!(failed["stage"], "write");
    assert_eq!(failed["exit_code"], 4);
}

fn disk_len(d: &Disk, n: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(&d.path)
        .unwrap()
        .set_len(n)
        .unwrap();
}

#[test]
fn truncated_and_corrupt_streams_fail_with_exit_4() {
    let img = sample_disk_image(6 * MIB);
    let srv = Server::start();
    for (ext, t) in tools() {
        let c = compress(&t, &img);
        let cut = c[..c.len() * 2 / 3].to_vec();
        let mut trailing = c.clone();
        trailing.extend_from_slice(b"GARBAGE!");
        for (what, data) in [("truncated", cut), ("trailing", trailing)] {
            let url = srv.file(&format!("/{what}.{ext}"), data);
            let disk = Disk::new(16 * MIB as u64);
            let out = install(&url, &disk, &[]);
            assert_eq!(code(&out), 4, "{what} {ext}: {}", text(&out));
            assert!(
                disk.bytes()[..MIB].iter().all(|b| *b == 0),
                "{what} {ext}: head written"
            );
        }
    }
}

#[test]
fn not_found_is_a_preflight_error_and_touches_nothing() {
    let srv = Server::start();
    let disk = Disk::filled(8 * MIB as u64, Some(0x11));
    let before = disk.sha256();
    for (path, status) in [("/missing.bz2", None), ("/forbidden", Some(403))] {
        if let Some(s) = status {
            srv.route(path, Route::Status(s));
        }
        let out = install(&srv.url(path), &disk, &[]);
        assert_eq!(code(&out), 3, "{}", text(&out));
        assert!(
            text(&out).contains(&srv.url(path)),
            "message names the URL: {}",
            text(&out)
        );
        assert_eq!(disk.sha256(), before);
    }
}

#[test]
fn server_errors_are_retried() {
    let img = sample_disk_image(3 * MIB);
    let srv = Server::start();
    srv.route(
        "/flaky.raw",
        Route::FailFirst(2, 503, Arc::new(img.clone())),
    );
    let disk = Disk::new(8 * MIB as u64);
    let out = install(&srv.url("/flaky.raw"), &disk, &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(disk.bytes()[..img.len()] == img[..]);
}

#[test]
fn image_larger_than_disk_is_refused() {
    let srv = Server::start();
    // The partition table says 12 MiB; the disk has 8.
    let img = sample_disk_image(12 * MIB);
    let url = srv.file("/big.bz2", compress(&["bzip2", "-c"], &img));
    let disk = Disk::filled(8 * MIB as u64, Some(0x22));
    let before = disk.sha256();
    let out = install(&url, &disk, &[]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("larger disk"), "{}", text(&out));
    assert_eq!(disk.sha256(), before);
    // Raw: Content-Length tells.
    let url = srv.file("/big.raw", vec![1u8; 9 * MIB]);
    let out = install(&url, &disk, &[]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert_eq!(disk.sha256(), before);
    // Compressed, no table: stops cleanly at the disk's end.
    let url = srv.file(
        "/big-notable.gz",
        compress(&["gzip", "-c"], &vec![3u8; 9 * MIB]),
    );
    let out = install(&url, &disk, &[]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(text(&out).contains("larger than"), "{}", text(&out));
}

#[test]
fn dry_run_touches_nothing_and_prints_the_plan() {
    let img = sample_disk_image(4 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.zst", compress(&["zstd", "-c", "-q"], &img));
    let disk = Disk::filled(16 * MIB as u64, Some(0x33));
    let before = disk.sha256();
    let out = rdinstall(&[
        "install",
        "--dry-run",
        "--json",
        "--image",
        &url,
        "--disk",
        disk.path.to_str().unwrap(),
        "--report",
        &srv.url("/report"),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(disk.sha256(), before);
    assert!(srv.posts().is_empty(), "a dry run reports nothing");
    let evs = events(&out);
    let plan = evs
        .iter()
        .find(|e| e["event"] == "plan")
        .expect("plan event");
    assert_eq!(plan["plan"]["image"]["format"], "zstd");
    assert_eq!(plan["plan"]["image"]["head"]["table"], "msdos");
    assert_eq!(plan["plan"]["disk"]["size"], 16 * MIB);
}

#[test]
fn without_a_terminal_and_without_yes_it_refuses() {
    let img = sample_disk_image(2 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.raw", img);
    let disk = Disk::filled(8 * MIB as u64, Some(0x44));
    let before = disk.sha256();
    let out = rdinstall(&[
        "install",
        "--image",
        &url,
        "--disk",
        disk.path.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 5, "{}", text(&out));
    assert!(text(&out).contains("--yes"));
    assert_eq!(disk.sha256(), before);
}

#[test]
fn bad_settings_exit_2_naming_the_setting() {
    let disk = Disk::new(8 * MIB as u64);
    let d = disk.path.to_str().unwrap();
    for (args, needle) in [
        (vec!["--image", "ftp://h/x", "--disk", d], "--image"),
        (
            vec!["--image", "/x", "--image-checksum", "md5:00"],
            "--image-checksum",
        ),
        (vec!["--image", "/x", "--root-size", "12Q"], "--root-size"),
        (vec!["--image", "/x", "--image-kind", "iso"], "--image-kind"),
        (
            vec!["--image", "/x", "--disk-hint", "colour=red"],
            "--disk-hint",
        ),
        (
            vec!["--image", "/x", "--on-success", "explode"],
            "--on-success",
        ),
        (vec!["--image", "/x", "--report", "not-a-url"], "--report"),
        (vec!["--disk", d], "no image"),
    ] {
        let mut a = vec!["install", "--yes"];
        a.extend(args.iter());
        let out = rdinstall(&a);
        assert_eq!(code(&out), 2, "{a:?}: {}", text(&out));
        assert!(text(&out).contains(needle), "{a:?}: {}", text(&out));
    }
}

#[test]
fn kernel_command_line_drives_an_install() {
    let img = sample_disk_image(4 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.xz", compress(&["xz", "-c", "-0"], &img));
    let disk = Disk::new(16 * MIB as u64);
    let dir = tempfile::tempdir().unwrap();
    let cmdline = dir.path().join("cmdline");
    std::fs::write(
        &cmdline,
        format!(
            "BOOT_IMAGE=/vmlinuz console=ttyS0 BOOTIF=01-52-54-00-12-34-56 rdinstall.image={url} rdinstall.disk={} rdinstall.on_success=exit rdinstall.report={}\n",
            disk.path.display(),
            srv.url("/report")
        ),
    )
    .unwrap();
    let out = rdinstall(&[
        "install",
        "--from-cmdline",
        "--cmdline-file",
        cmdline.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(disk.bytes()[..img.len()] == img[..]);
    let posts = srv.posts();
    assert_eq!(posts.last().unwrap()["event"], "succeeded");
    assert_eq!(posts[0]["mac"], "52:54:00:12:34:56");
    // `rdinstall cmdline` shows the same settings.
    let out = rdinstall(&["cmdline", "--file", cmdline.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["image"][0], url);
    assert_eq!(v["bootif"], "52:54:00:12:34:56");
    assert_eq!(v["on_failure"], "shell");
    // Unknown keys are named.
    std::fs::write(&cmdline, "rdinstall.imgae=http://x/ quiet").unwrap();
    let out = rdinstall(&["cmdline", "--file", cmdline.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    assert!(text(&out).contains("rdinstall.imgae="), "{}", text(&out));
}

#[test]
fn gpt_backup_moves_to_the_end_of_a_larger_disk() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("gpt.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(8 * MIB as u64)
        .unwrap();
    let st = std::process::Command::new("sgdisk")
        .args(["-n", "1:2048:+4M", "-t", "1:8300", img.to_str().unwrap()])
        .output()
        .expect("sgdisk (gdisk package) is needed");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let srv = Server::start();
    let url = srv.file(
        "/gpt.gz",
        compress(&["gzip", "-c"], &std::fs::read(&img).unwrap()),
    );
    let disk = Disk::new(64 * MIB as u64);
    let out = install(&url, &disk, &[]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("moved the GPT backup header"),
        "{}",
        text(&out)
    );
    let v = std::process::Command::new("sgdisk")
        .args(["-v", disk.path.to_str().unwrap()])
        .output()
        .unwrap();
    let vt = String::from_utf8_lossy(&v.stdout);
    assert!(vt.contains("No problems found"), "sgdisk -v: {vt}");
}

#[test]
fn resumes_after_the_connection_breaks() {
    // 20 installs, each cut at two random offsets: all finish with the right bytes.
    let img = sample_disk_image(6 * MIB);
    let data = compress(&["gzip", "-c", "-1"], &img);
    let sum = sha256_hex(&data);
    let srv = Server::start();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for i in 0..20 {
        seed ^= seed << 7;
        seed ^= seed >> 9;
        let a = seed % data.len() as u64;
        let b = (seed >> 20) % data.len() as u64;
        let mut cuts = vec![a.max(1), b.max(1)];
        cuts.sort();
        cuts.dedup();
        let path = format!("/cut{i}.gz");
        srv.route(
            &path,
            Route::CutAt(Arc::new(Mutex::new(cuts)), Arc::new(data.clone())),
        );
        let disk = Disk::new(16 * MIB as u64);
        let out = install(
            &srv.url(&path),
            &disk,
            &["--image-checksum", &format!("sha256:{sum}")],
        );
        assert_eq!(code(&out), 0, "run {i}: {}", text(&out));
        assert!(
            text(&out).contains("resuming"),
            "run {i} should have resumed: {}",
            text(&out)
        );
        assert!(
            disk.bytes()[..img.len()] == img[..],
            "run {i}: bytes differ"
        );
    }
}

#[test]
fn short_body_is_resumed_or_fails_cleanly() {
    let img = sample_disk_image(3 * MIB);
    let srv = Server::start();
    // Always short: resume can never complete → exit 4 after the retry budget.
    srv.route("/short.raw", Route::Short(MIB + 5, Arc::new(img.clone())));
    let disk = Disk::new(8 * MIB as u64);
    let out = install(&srv.url("/short.raw"), &disk, &["--retries", "1"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
    assert!(disk.bytes()[..MIB].iter().all(|b| *b == 0));
}

#[test]
fn mirrors_fall_over_to_the_next_location() {
    let img = sample_disk_image(3 * MIB);
    let srv = Server::start();
    let good = srv.file("/m2/img.raw", img.clone());
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!(
        "http://127.0.0.1:{}/m1/img.raw",
        dead.local_addr().unwrap().port()
    );
    drop(dead);
    let list = format!("{},{dead_url},{good}", srv.url("/m0/missing.raw"));
    let disk = Disk::new(8 * MIB as u64);
    let out = install(&list, &disk, &["--retries", "0"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("/m0/missing.raw") && text(&out).contains("/m1/img.raw"),
        "{}",
        text(&out)
    );
    assert!(disk.bytes()[..img.len()] == img[..]);
    // All mirrors failing names every one.
    let out = rdinstall(&[
        "install",
        "--image",
        &format!("{},{dead_url}", srv.url("/m0/missing.raw")),
        "--disk",
        disk.path.to_str().unwrap(),
        "--yes",
        "--retries",
        "0",
    ]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        text(&out).contains("every image mirror failed"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_mirror_takes_over_mid_download_when_a_checksum_covers_the_splice() {
    let img = sample_disk_image(6 * MIB);
    let data = compress(&["gzip", "-c", "-1"], &img);
    let sum = format!("sha256:{}", sha256_hex(&data));
    let a = Server::start();
    let b = Server::start();
    a.route(
        "/img.gz",
        Route::CutThenDown(data.len() as u64 / 2, Arc::new(data.clone())),
    );
    let b_url = b.file("/img.gz", data.clone());
    let list = format!("{},{b_url}", a.url("/img.gz"));
    let disk = Disk::new(16 * MIB as u64);
    let out = install(&list, &disk, &["--retries", "1", "--image-checksum", &sum]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("continuing at byte"), "{}", text(&out));
    assert!(disk.bytes()[..img.len()] == img[..]);
    let ranged = b
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.headers.contains_key("range"))
        .count();
    assert_eq!(ranged, 1, "the mirror was asked for the rest only");

    // Without a checksum the splice is not allowed: the install fails cleanly instead.
    a.route(
        "/img2.gz",
        Route::CutThenDown(data.len() as u64 / 2, Arc::new(data.clone())),
    );
    let list = format!("{},{b_url}", a.url("/img2.gz"));
    let disk = Disk::new(16 * MIB as u64);
    let out = install(&list, &disk, &["--retries", "1"]);
    assert_eq!(code(&out), 4, "{}", text(&out));
}
