//! The bad-input suite: each case asserts the exit code, a message naming the culprit, the
//! `failed` event, and a byte-identical target whenever the failure comes before the write.

mod common;
use common::*;
use std::io::Write;
use std::sync::Arc;

const MIB: usize = 1 << 20;

struct Case {
    name: &'static str,
    args: Vec<String>,
    /// Written to a kernel command line file when set (used with --from-cmdline).
    cmdline: Option<String>,
    code: i32,
    needle: String,
}

fn case(name: &'static str, args: &[&str], code: i32, needle: &str) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        cmdline: None,
        code,
        needle: needle.to_string(),
    }
}

fn run_case(c: &Case, disk: &Disk) {
    let before = disk.sha256();
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["install".into(), "--yes".into(), "--json".into()];
    if let Some(line) = &c.cmdline {
        let p = dir.path().join("cmdline");
        std::fs::write(&p, line).unwrap();
        args.extend([
            "--from-cmdline".into(),
            "--cmdline-file".into(),
            p.display().to_string(),
        ]);
        args.extend(["--on-failure".into(), "exit".into()]);
    }
    args.extend(
        c.args
            .iter()
            .map(|a| a.replace("DISK", disk.path.to_str().unwrap())),
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = rdinstall(&refs);
    let t = text(&out);
    assert_eq!(code(&out), c.code, "case {}: {t}", c.name);
    assert!(
        t.contains(&c.needle),
        "case {}: message should name {:?}: {t}",
        c.name,
        c.needle
    );
    let evs = events(&out);
    let failed = evs.iter().find(|e| e["event"] == "failed");
    let failed = failed.unwrap_or_else(|| panic!("case {}: no failed event: {t}", c.name));
    assert_eq!(failed["exit_code"], c.code, "case {}", c.name);
    if c.code != 4 {
        assert_eq!(disk.sha256(), before, "case {}: the disk changed", c.name);
    } else {
        let d = disk.bytes();
        assert!(
            d[..MIB].iter().all(|b| *b == 0),
            "case {}: a partition table survived",
            c.name
        );
    }
}

fn corrupt_middle(mut v: Vec<u8>) -> Vec<u8> {
    let n = v.len();
    for i in (n / 2..n / 2 + 64).step_by(7) {
        v[i] ^= 0x5a;
    }
    v
}

#[test]
fn bad_inputs() {
    let img = sample_disk_image(6 * MIB);
    let srv = Server::start();
    let raw = srv.file("/img.raw", img.clone());
    let mut comp = Vec::new();
    for (ext, tool) in [
        ("bz2", &["bzip2", "-c"][..]),
        ("gz", &["gzip", "-c"][..]),
        ("xz", &["xz", "-c", "-0"][..]),
        ("zst", &["zstd", "-c", "-q"][..]),
    ] {
        let c = compress(tool, &img);
        let good = srv.file(&format!("/img.{ext}"), c.clone());
        let trunc = srv.file(
            &format!("/trunc.{ext}"),
            c[..c.len() - c.len() / 3].to_vec(),
        );
        let bad = srv.file(&format!("/corrupt.{ext}"), corrupt_middle(c.clone()));
        let mut t = c.clone();
        t.extend_from_slice(b"\x01trailing garbage");
        let trail = srv.file(&format!("/trail.{ext}"), t);
        comp.push((ext, good, trunc, bad, trail));
    }
    let big = srv.file(
        "/big.bz2",
        compress(&["bzip2", "-c"], &sample_disk_image(40 * MIB)),
    );
    srv.route("/loop1", Route::Redirect("/loop2".into()));
    srv.route("/loop2", Route::Redirect("/loop1".into()));
    srv.route("/e500", Route::Status(500));
    srv.route("/e403", Route::Status(403));
    srv.route("/hang", Route::Hang);
    srv.route("/short.raw", Route::Short(3 * MIB, Arc::new(img.clone())));
    let notyaml = srv.file(
        "/c/notyaml",
        b"#cloud-config\nusers: [a, b\n  - : :\n".to_vec(),
    );
    let list = srv.file("/c/list", b"#cloud-config\n- a\n- b\n".to_vec());
    let plain = srv.file("/c/plain", b"hostname: x\n".to_vec());
    let ign = srv.file("/c/ign", br#"{"ignition": {"version": "3.4.0"}}"#.to_vec());
    let huge = {
        let mut v = b"#cloud-config\nwrite_files:\n".to_vec();
        while v.len() <= MIB {
            v.extend_from_slice(
                b"  - {path: /x, content: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n",
            );
        }
        srv.file("/c/huge", v)
    };
    // A real qcow2 (Ubuntu's cloud .img files are qcow2), plain and inside xz.
    let qcow2 = {
        let d = tempfile::tempdir().unwrap();
        let (r, q) = (d.path().join("i.raw"), d.path().join("i.qcow2"));
        std::fs::write(&r, &img).unwrap();
        let st = std::process::Command::new("qemu-img")
            .args(["convert", "-f", "raw", "-O", "qcow2"])
            .arg(&r)
            .arg(&q)
            .status()
            .expect("qemu-img (qemu-utils) is needed");
        assert!(st.success());
        std::fs::read(&q).unwrap()
    };
    let qcow2_xz = srv.file("/img.qcow2.xz", compress(&["xz", "-c", "-0"], &qcow2));
    let qcow2 = srv.file("/img.qcow2", qcow2);
    let sfile = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(sfile.path(), "- not\n- a mapping\n").unwrap();
    let sunknown = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(sunknown.path(), "image: /x\ncolour: red\n").unwrap();
    let zero = format!("sha256:{}", "00".repeat(32));

    let mut cases = vec![
        // Kernel command lines.
        Case {
            cmdline: Some(format!("rdinstall.image=\"{raw} quiet")),
            ..case("unterminated quote", &[], 2, "unterminated")
        },
        Case {
            cmdline: Some(format!("rdinstall.image={raw} rdinstall.colour=red")),
            ..case("unknown cmdline key", &[], 2, "rdinstall.colour=")
        },
        Case {
            cmdline: Some("rdinstall.image= quiet".into()),
            ..case("empty cmdline value", &[], 2, "rdinstall.image=")
        },
        Case {
            cmdline: Some(format!("rdinstall.image={raw} BOOTIF=01-zz")),
            ..case("bad BOOTIF", &[], 2, "BOOTIF")
        },
        Case {
            cmdline: Some("rdinstall.image".into()),
            ..case("key without value", &[], 2, "rdinstall.image=")
        },
        Case {
            cmdline: Some(format!("rdinstall.image={raw} rdinstall.threads=many")),
            ..case("cmdline bad number", &[], 2, "rdinstall.threads=")
        },
        // Each setting with a bad value.
        case(
            "checksum algo",
            &["--image", &raw, "--image-checksum", "md5:00"],
            2,
            "--image-checksum",
        ),
        case(
            "checksum length",
            &["--image", &raw, "--image-checksum", "sha256:abcd"],
            2,
            "--image-checksum",
        ),
        case("url scheme", &["--image", "gopher://h/x"], 2, "--image"),
        case("url without host", &["--image", "http:///x"], 2, "--image"),
        case(
            "image kind",
            &["--image", &raw, "--image-kind", "iso"],
            2,
            "--image-kind",
        ),
        case(
            "size",
            &["--image", &raw, "--root-size", "10Q"],
            2,
            "--root-size",
        ),
        case(
            "threads",
            &["--image", &raw, "--threads", "lots"],
            2,
            "--threads",
        ),
        case(
            "on_failure",
            &["--image", &raw, "--on-failure", "explode"],
            2,
            "--on-failure",
        ),
        case(
            "partition_table",
            &["--image", &raw, "--partition-table", "apm"],
            2,
            "--partition-table",
        ),
        case("rest", &["--image", &raw, "--rest", "swap"], 2, "--rest"),
        case(
            "config_partition",
            &["--image", &raw, "--config-partition", "0"],
            2,
            "--config-partition",
        ),
        case(
            "signature policy",
            &["--image", &raw, "--signature", "maybe"],
            2,
            "--signature",
        ),
        case(
            "report url",
            &["--image", &raw, "--report", "mailto:x"],
            2,
            "--report",
        ),
        case(
            "timeout",
            &["--image", &raw, "--timeout", "0"],
            2,
            "--timeout",
        ),
        // A relative --disk is taken from the current directory (here: no such file);
        // the kernel command line still needs an absolute path.
        case(
            "disk relative",
            &["--image", &raw, "--disk", "sda"],
            3,
            "sda does not exist",
        ),
        Case {
            cmdline: Some(format!("rdinstall.image={raw} rdinstall.disk=sda")),
            ..case("cmdline disk relative", &[], 2, "absolute path")
        },
        case(
            "hint key",
            &["--image", &raw, "--disk-hint", "colour=red"],
            2,
            "--disk-hint",
        ),
        case(
            "settings not a mapping",
            &[
                "--image",
                &raw,
                "--settings",
                sfile.path().to_str().unwrap(),
            ],
            2,
            "mapping",
        ),
        case(
            "settings unknown key",
            &["--settings", sunknown.path().to_str().unwrap()],
            2,
            "colour",
        ),
        // HTTP.
        case(
            "404",
            &["--image", &srv.url("/nope.bz2"), "--disk", "DISK"],
            3,
            "/nope.bz2",
        ),
        case(
            "ignition config on a rootfs image",
            &[
                "--image",
                &raw,
                "--image-kind",
                "rootfs",
                "--config",
                &ign,
                "--disk",
                "DISK",
            ],
            3,
            "Ignition config",
        ),
        case(
            "qcow2 image",
            &["--image", &qcow2, "--disk", "DISK"],
            3,
            "qcow2 virtual-machine disk",
        ),
        case(
            "qcow2 inside xz",
            &["--image", &qcow2_xz, "--disk", "DISK"],
            3,
            "qemu-img convert -O raw",
        ),
        case(
            "403",
            &["--image", &srv.url("/e403"), "--disk", "DISK"],
            3,
            "403",
        ),
        case(
            "500",
            &[
                "--image",
                &srv.url("/e500"),
                "--disk",
                "DISK",
                "--retries",
                "1",
            ],
            3,
            "500",
        ),
        case(
            "redirect loop",
            &[
                "--image",
                &srv.url("/loop1"),
                "--disk",
                "DISK",
                "--retries",
                "0",
            ],
            3,
            "/loop",
        ),
        case(
            "hang",
            &[
                "--image",
                &srv.url("/hang"),
                "--disk",
                "DISK",
                "--stall-timeout",
                "1",
                "--retries",
                "0",
            ],
            3,
            "/hang",
        ),
        case(
            "short body",
            &[
                "--image",
                &srv.url("/short.raw"),
                "--disk",
                "DISK",
                "--retries",
                "1",
            ],
            4,
            "/short.raw",
        ),
        // Image data.
        case(
            "wrong checksum",
            &["--image", &raw, "--disk", "DISK", "--image-checksum", &zero],
            4,
            "checksum mismatch",
        ),
        case(
            "larger than disk",
            &["--image", &big, "--disk", "DISK"],
            3,
            "larger disk",
        ),
        // Config.
        case(
            "config not yaml",
            &["--image", &raw, "--disk", "DISK", "--config", &notyaml],
            3,
            "/c/notyaml",
        ),
        case(
            "config yaml list",
            &["--image", &raw, "--disk", "DISK", "--config", &list],
            3,
            "/c/list",
        ),
        case(
            "config not cloud-config",
            &["--image", &raw, "--disk", "DISK", "--config", &plain],
            3,
            "/c/plain",
        ),
        case(
            "config over 1 MiB",
            &["--image", &raw, "--disk", "DISK", "--config", &huge],
            3,
            "/c/huge",
        ),
        case(
            "config 404",
            &[
                "--image",
                &raw,
                "--disk",
                "DISK",
                "--config",
                &srv.url("/c/missing"),
            ],
            3,
            "/c/missing",
        ),
        case(
            "config unknown variable",
            &[
                "--image",
                &raw,
                "--disk",
                "DISK",
                "--config",
                &srv.url("/c/${colour}"),
            ],
            3,
            "colour",
        ),
        // Disks.
        case(
            "missing disk",
            &["--image", &raw, "--disk", "/nonexistent/disk"],
            3,
            "/nonexistent/disk",
        ),
        case(
            "hint no match",
            &["--image", &raw, "--disk-hint", "name=nomatch*"],
            3,
            "nomatch",
        ),
    ];
    for (ext, _good, trunc, bad, trail) in &comp {
        let _ = ext;
        cases.push(case(
            "truncated",
            &["--image", trunc, "--disk", "DISK"],
            4,
            "trunc.",
        ));
        cases.push(case(
            "corrupted",
            &["--image", bad, "--disk", "DISK"],
            4,
            "corrupt",
        ));
        cases.push(case(
            "trailing garbage",
            &["--image", trail, "--disk", "DISK"],
            4,
            "trailing garbage",
        ));
    }
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let disk = Disk::filled(16 * MIB as u64, Some(0x5c));
    let mut failures = Vec::new();
    for c in &cases {
        // Restore the fill between cases that legitimately changed the disk.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(c, &disk)));
        if let Err(e) = r {
            failures.push(format!(
                "{}: {}",
                c.name,
                e.downcast_ref::<String>().cloned().unwrap_or_default()
            ));
        }
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&disk.path)
            .unwrap();
        f.write_all(&vec![0x5c; 16 * MIB]).unwrap();
    }
    println!("{} bad inputs checked", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
