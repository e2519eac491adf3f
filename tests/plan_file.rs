//! `rdinstall install --plan FILE`: the plan `--dry-run --json` prints is what runs, and a
//! plan made earlier is checked again before anything is written.

mod common;
use common::*;

const MIB: usize = 1 << 20;

/// A dry run's JSON lines (the plan inside), written to a file in `dir`.
fn dry_run_plan(
    dir: &std::path::Path,
    url: &str,
    disk: &Disk,
    extra: &[&str],
) -> std::path::PathBuf {
    let mut args = vec![
        "install",
        "--dry-run",
        "--json",
        "--image",
        url,
        "--disk",
        disk.path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = rdinstall(&args);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let p = dir.join("plan.jsonl");
    std::fs::write(&p, &out.stdout).unwrap();
    p
}

fn plan_object(lines: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(lines).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "plan")
        .expect("a plan event")["plan"]
        .clone()
}

#[test]
fn the_plan_of_a_dry_run_installs_exactly_that() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample_disk_image(6 * MIB);
    let srv = Server::start();
    let sum = sha256_hex(&compress(&["zstd", "-c", "-q"], &img));
    let url = srv.file("/img.zst", compress(&["zstd", "-c", "-q"], &img));
    let disk = Disk::filled(16 * MIB as u64, Some(0x5a));
    let before = disk.sha256();
    let lines = dry_run_plan(
        dir.path(),
        &url,
        &disk,
        &[
            "--image-checksum",
            &format!("sha256:{sum}"),
            "--threads",
            "2",
        ],
    );
    assert_eq!(disk.sha256(), before, "the dry run wrote");
    let plan = plan_object(&lines);
    assert_eq!(plan["image"]["checksum"], format!("sha256:{sum}"));
    assert_eq!(plan["image"]["threads"], 2);
    assert_eq!(plan["bootloader"]["action"], "keep-images");

    // The JSON lines of the dry run as they are.
    let out = rdinstall(&["install", "--plan", lines.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(disk.bytes()[..img.len()] == img[..], "written bytes differ");

    // The plan object alone runs as well (the same file, its contents overwritten).
    let obj = dir.path().join("plan.json");
    std::fs::write(&obj, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    std::fs::write(&disk.path, vec![0x11u8; 16 * MIB]).unwrap();
    let out = rdinstall(&["install", "--plan", obj.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(disk.bytes()[..img.len()] == img[..], "written bytes differ");
}

#[test]
fn a_plan_for_another_disk_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let img = sample_disk_image(2 * MIB);
    let srv = Server::start();
    let url = srv.file("/img.raw", img);
    let disk = Disk::filled(8 * MIB as u64, Some(0x22));
    let lines = dry_run_plan(dir.path(), &url, &disk, &[]);
    // The same name now means another file (as a hot-plugged disk would take a name). Made
    // beside the old one and renamed over it, so it cannot reuse the old inode number.
    let other = dir.path().join("other.img");
    std::fs::write(&other, vec![0x77u8; 8 * MIB]).unwrap();
    std::fs::rename(&other, &disk.path).unwrap();
    let before = disk.sha256();
    let out = rdinstall(&["install", "--plan", lines.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("not the disk the plan was made for"), "{t}");
    assert_eq!(disk.sha256(), before, "a refused plan wrote");
    // Resized: refused too.
    let lines = dry_run_plan(dir.path(), &url, &disk, &[]);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&disk.path)
        .unwrap()
        .set_len(12 * MIB as u64)
        .unwrap();
    let before = disk.sha256();
    let out = rdinstall(&["install", "--plan", lines.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert_eq!(disk.sha256(), before, "a refused plan wrote");
}

#[test]
fn a_config_that_changed_since_the_plan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let url = srv.file("/img.raw", sample_disk_image(2 * MIB));
    let cfg = srv.file("/user-data", b"#cloud-config\nhostname: a\n".to_vec());
    let disk = Disk::filled(8 * MIB as u64, Some(0x23));
    let lines = dry_run_plan(dir.path(), &url, &disk, &["--config", &cfg]);
    let plan = plan_object(&lines);
    assert_eq!(plan["config"]["bytes"], 26);
    assert!(
        !std::fs::read_to_string(&lines)
            .unwrap()
            .contains("hostname: a"),
        "the config's text is in the plan"
    );
    srv.file("/user-data", b"#cloud-config\nhostname: b\n".to_vec());
    let before = disk.sha256();
    let out = rdinstall(&["install", "--plan", lines.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        text(&out).contains("changed since the plan"),
        "{}",
        text(&out)
    );
    assert_eq!(disk.sha256(), before);
}

#[test]
fn settings_beside_a_plan_and_bad_plans_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start();
    let url = srv.file("/img.raw", sample_disk_image(2 * MIB));
    let disk = Disk::filled(8 * MIB as u64, Some(0x24));
    let lines = dry_run_plan(dir.path(), &url, &disk, &[]);
    let p = lines.to_str().unwrap();
    let out = rdinstall(&["install", "--plan", p, "--image", &url, "--yes"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("image"), "{}", text(&out));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"version\": 99}").unwrap();
    let out = rdinstall(&["install", "--plan", bad.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let mut plan = plan_object(&lines);
    plan["version"] = 99.into();
    std::fs::write(&bad, plan.to_string()).unwrap();
    let out = rdinstall(&["install", "--plan", bad.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("version 99"), "{}", text(&out));
}
