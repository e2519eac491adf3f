//! The `rdinstall disks` and `rdinstall wipe` commands, through the real binary, on this
//! host's sysfs (read only) and on sparse files / loop devices.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rdinstall");

fn rdinstall(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Loop(String);

impl Loop {
    fn new(file: &Path) -> Loop {
        for _ in 0..10 {
            let out = Command::new("losetup")
                .args(["-f", "--show"])
                .arg(file)
                .output()
                .unwrap();
            if out.status.success() {
                return Loop(String::from_utf8_lossy(&out.stdout).trim().to_string());
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        panic!("no free loop device");
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.0]).status();
    }
}

struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn sparse(dir: &tempfile::TempDir, size: u64) -> PathBuf {
    let p = dir.path().join("disk.img");
    File::create(&p).unwrap().set_len(size).unwrap();
    p
}

#[test]
fn disks_json_lists_devices_and_explains_skips() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let img = sparse(&dir, 16 << 20);
    let l = Loop::new(&img);
    let name = l.0.trim_start_matches("/dev/").to_string();

    let out = rdinstall(&["disks", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let devs = v["devices"].as_array().unwrap();
    let dev = |n: &str| devs.iter().find(|d| d["name"] == n).cloned();

    // Our loop device: listed with its backing file, skipped as a loop device.
    let d = dev(&name).unwrap_or_else(|| panic!("{name} missing from {v:#}"));
    assert_eq!(d["kind"], "loop");
    assert_eq!(d["size"], 16 << 20);
    assert_eq!(d["loop_backing"]["file"], img.to_str().unwrap());
    assert_eq!(d["chosen"], false);
    let reasons: Vec<&str> = d["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"not_a_disk"), "{reasons:?}");
    assert!(reasons.contains(&"too_small"), "{reasons:?}");
    for field in [
        "logical_sector",
        "physical_sector",
        "model",
        "vendor",
        "serial",
        "wwn",
        "rotational",
        "removable",
        "ro",
        "hctl",
        "by_id",
        "by_path",
        "transport",
        "holders",
        "partitions",
        "mounts",
        "swap",
    ] {
        assert!(d.get(field).is_some(), "field {field} missing: {d:#}");
    }

    // The disk this machine runs from is never chosen, and says why.
    let root = devs
        .iter()
        .find(|d| d["holds_root"] == true)
        .expect("the root disk is found through /proc/self/mountinfo");
    assert_eq!(root["chosen"], false);
    assert!(root["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["reason"] == "holds_running_system"));
    // Whatever auto chose (if anything) is marked exactly once.
    let chosen = devs.iter().filter(|d| d["chosen"] == true).count();
    assert_eq!(chosen, usize::from(v["auto"].is_string()));
    assert_eq!(v["auto"].is_null(), v["auto_error"].is_string());
}

#[test]
fn disks_text_marks_skips_and_bad_hints_are_usage_errors() {
    let out = rdinstall(&["disks"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("  NAME") || text.contains("NAME"),
        "{text}"
    );
    assert!(text.contains("holds the running system"), "{text}");
    assert!(text.contains("disk=auto:"), "{text}");

    let out = rdinstall(&["disks", "--disk-hint", "colour=blue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown disk_hint key"));
}

#[test]
fn wipe_command_erases_a_file_and_refuses_a_mounted_loop() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let img = sparse(&dir, 64 << 20);
    let p = img.to_str().unwrap();
    run("mkfs.ext4", &["-q", "-F", p]);
    let out = rdinstall(&["wipe", "--disk", p, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(run("wipefs", &["-n", p]).trim(), "");

    // Not confirmed (no terminal, no --yes): refused, exit 5, untouched.
    run("mkswap", &[p]);
    let out = rdinstall(&["wipe", "--disk", p]);
    assert_eq!(out.status.code(), Some(5));
    assert!(run("wipefs", &["-n", p]).contains("swap"));

    // Mounted through a loop device: refused with the mount point named.
    run("mkfs.ext4", &["-q", "-F", p]);
    let l = Loop::new(&img);
    let mnt = tempfile::tempdir().unwrap();
    run(
        "mount",
        &["-o", "ro,noload", &l.0, mnt.path().to_str().unwrap()],
    );
    let _m = Mounted(mnt.path().to_path_buf());
    let out = rdinstall(&["wipe", "--disk", &l.0, "--yes"]);
    assert_eq!(out.status.code(), Some(5));
    let err =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(err.contains(mnt.path().to_str().unwrap()), "{err}");
    assert!(run("wipefs", &["-n", p]).contains("ext4"));
}
