//! image_kind=rootfs through the real binary:
//! `rdinstall install --image FILE --image-kind rootfs --disk FILE --yes`, checked with
//! independent tools on loop devices losetup makes.

#[path = "common/boot.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::*;

const USER_DATA: &str = "#cloud-config\nhostname: from-binary\n";

fn rdinstall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdinstall"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A 40 MiB ext4 rootfs image with a live CD's extlinux.conf, and a cloud-config file.
fn fixtures(dir: &Path) -> (String, String) {
    let tree = dir.join("tree");
    rootfs_tree(&tree, true);
    let img = dir.join("rootfs.img");
    mkfs_ext4(&img, 40 * MIB, &tree, "liveroot");
    let cfg = dir.join("user-data.yml");
    std::fs::write(&cfg, USER_DATA).unwrap();
    (
        img.to_str().unwrap().to_string(),
        cfg.to_str().unwrap().to_string(),
    )
}

fn check_root(disk: &Path, start: u64, size: u64) {
    let part = Losetup::at(disk, start, size);
    part.fsck();
    let uuid = part.blkid("UUID");
    let conf = part.cat("/boot/extlinux/extlinux.conf");
    let append = conf
        .lines()
        .find(|l| l.trim_start().starts_with("append"))
        .unwrap_or_else(|| panic!("no append line:\n{conf}"));
    assert!(
        append.contains(&format!(" root=UUID={uuid} ")),
        "{append} (blkid says {uuid})"
    );
    assert!(!append.contains("rd.live.image") && !append.contains(" ro "));
    assert!(append.ends_with("console=ttyS0"), "{append}");
    assert!(part.mode("/boot/extlinux/ldlinux.sys").is_some());
    assert!(part.mode("/boot/extlinux/ldlinux.c32").is_some());
    for f in [
        "/var/lib/cloud/seed/nocloud/user-data",
        "/var/lib/coreos-install/user_data",
    ] {
        assert_eq!(part.mode(f), Some(0o600), "{f}");
        assert_eq!(part.cat(f), USER_DATA);
    }
    assert_eq!(part.mode("/var/lib/cloud/seed/nocloud"), Some(0o700));
    assert!(part
        .cat("/var/lib/cloud/seed/nocloud/meta-data")
        .starts_with("instance-id: iid-rdinstall-"));
}

#[test]
fn binary_rootfs_install_msdos() {
    let d = tempfile::tempdir().unwrap();
    let (img, cfg) = fixtures(d.path());
    let disk = d.path().join("disk.img");
    sparse(&disk, 128 * MIB);
    let o = rdinstall(&[
        "install",
        "--image",
        &img,
        "--image-kind",
        "rootfs",
        "--disk",
        disk.to_str().unwrap(),
        "--config",
        &cfg,
        "--config-target",
        "nocloud,coreos",
        "--extra-kargs",
        "console=ttyS0",
        "--yes",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        !out.contains("from-binary"),
        "config contents in the log:\n{out}"
    );

    let mbr = std::fs::read(MBR_BIN).unwrap();
    assert_eq!(read_at(&disk, 0, 440), &mbr[..440]);
    let j = sfdisk_json(&disk);
    let parts = j["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["start"], 2048);
    assert_eq!(parts[0]["size"], 40 * 2048);
    assert_eq!(parts[0]["bootable"], true);
    check_root(&disk, MIB, 40 * MIB);
    assert_nothing_left(&disk);
}

/// A compressed rootfs image (size unknown before the write) on a GPT: partition 1 takes the
/// disk; gptmbr.bin and the legacy-BIOS-bootable attribute make it bootable.
#[test]
fn binary_rootfs_install_gpt_compressed() {
    let d = tempfile::tempdir().unwrap();
    let (img, cfg) = fixtures(d.path());
    run(Command::new("gzip").args(["-1", "-k"]).arg(&img));
    let gz = format!("{img}.gz");
    let disk = d.path().join("disk.img");
    sparse(&disk, 96 * MIB);
    let o = rdinstall(&[
        "install",
        "--image",
        &gz,
        "--image-kind",
        "rootfs",
        "--partition-table",
        "gpt",
        "--disk",
        disk.to_str().unwrap(),
        "--config",
        &cfg,
        "--config-target",
        "nocloud,coreos",
        "--extra-kargs",
        "console=ttyS0",
        "--yes",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let gptmbr = std::fs::read(GPTMBR_BIN).unwrap();
    assert_eq!(read_at(&disk, 0, 440), &gptmbr[..440]);
    let v = run(Command::new("sgdisk").arg("-v").arg(&disk));
    assert!(v.contains("No problems found"), "{v}");
    let j = sfdisk_json(&disk);
    let p = &j["partitiontable"]["partitions"][0];
    assert_eq!(p["start"], 2048);
    assert!(p["attrs"]
        .as_str()
        .unwrap_or_default()
        .contains("LegacyBIOSBootable"));
    let size = p["size"].as_u64().unwrap() * 512;
    assert!(size >= 94 * MIB, "partition 1 is {size} bytes");
    check_root(&disk, MIB, size);
    assert_nothing_left(&disk);
}

/// A bad cloud-config stops the install in preflight (exit 3) with the line and column, and
/// the disk keeps every byte.
#[test]
fn binary_bad_configs_exit_3_and_touch_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (img, _) = fixtures(d.path());
    let disk = d.path().join("disk.img");
    sparse(&disk, 64 * MIB);
    // Something recognisable on the disk to prove nothing was written.
    let marker: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    std::fs::write(&disk, &marker).unwrap();
    open_rw(&disk).set_len(64 * MIB).unwrap();
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "bad.yml",
            "#cloud-config\nusers:\n  - name: a\n bad: [\n",
            &["line 4 column"],
        ),
        (
            "list.yml",
            "#cloud-config\n- one\n- two\n",
            &["line 2 column 1", "mapping"],
        ),
        ("plain.yml", "hostname: x\n", &["#cloud-config"]),
        ("missing.yml", "", &["missing.yml"]),
    ];
    for (name, body, wants) in cases {
        let p = d.path().join(name);
        if !body.is_empty() {
            std::fs::write(&p, body).unwrap();
        }
        let o = rdinstall(&[
            "install",
            "--image",
            &img,
            "--image-kind",
            "rootfs",
            "--disk",
            disk.to_str().unwrap(),
            "--config",
            p.to_str().unwrap(),
            "--yes",
        ]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(3), "{name}: {out}");
        for w in wants {
            assert!(out.contains(w), "{name}: no {w:?} in:\n{out}");
        }
        assert_eq!(
            read_at(&disk, 0, MIB as usize),
            marker,
            "{name}: disk changed"
        );
    }
    assert_nothing_left(&disk);
}
