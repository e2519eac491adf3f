//! image_kind=disk: finding the installed root filesystem among the image's partitions for the
//! cloud-config, `config_partition`, CoreOS's ROOT label; bootloader=auto leaving the image's
//! boot code alone and bootloader=extlinux installing on the image's boot partition.

#[path = "common/boot.rs"]
mod support;

use rdinstall::boot::{self, PostInstall};
use rdinstall::config::{self, Config};
use rdinstall::disk::Target;
use rdinstall::install::preflight::{boot_plan, config_plan};
use rdinstall::machine::Machine;
use rdinstall::report::Events;
use rdinstall::settings::{Bootloader, ConfigTarget, ImageKind, Settings};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::*;

const SCRIPT: &[u8] = b"#!/bin/sh\necho installed-by-script\n";

/// What goes into each partition of the test disk image.
enum Fs {
    /// ext4 with /etc, /usr, /var and /boot/{vmlinuz,initrd.img}.
    Root(&'static str),
    /// ext4 with nothing but a label.
    Empty(&'static str),
    Vfat,
}

/// A disk image: `label` is `gpt` or `dos`; each partition is `size` MiB from 1 MiB on.
fn disk_image(dir: &Path, label: &str, parts: &[(u64, Fs)]) -> PathBuf {
    let disk = dir.join("disk.img");
    let total: u64 = parts.iter().map(|(s, _)| s).sum::<u64>() + 2;
    sparse(&disk, total * MIB);
    let mut script = format!("label: {label}\n");
    let mut start = 1;
    for (size, _) in parts {
        script.push_str(&format!("start={}, size={}\n", start * 2048, size * 2048));
        start += size;
    }
    sfdisk(&disk, &[], &script);
    let mut start = 1;
    for (i, (size, fs)) in parts.iter().enumerate() {
        let img = dir.join(format!("p{}.img", i + 1));
        match fs {
            Fs::Root(l) => {
                let tree = dir.join(format!("tree{}", i + 1));
                rootfs_tree(&tree, false);
                mkfs_ext4(&img, size * MIB, &tree, l);
            }
            Fs::Empty(l) => {
                let tree = dir.join(format!("empty{}", i + 1));
                std::fs::create_dir_all(&tree).unwrap();
                mkfs_ext4(&img, size * MIB, &tree, l);
            }
            Fs::Vfat => {
                sparse(&img, size * MIB);
                run(Command::new("mkfs.vfat").args(["-n", "EFI"]).arg(&img));
            }
        }
        copy_at(&img, &disk, start * MIB);
        start += size;
    }
    disk
}

fn post_run(
    disk: &Path,
    s: &Settings,
    config: Option<&[u8]>,
    stage: fn(&PostInstall, &Settings, Option<&Config>) -> anyhow::Result<()>,
) -> (anyhow::Result<()>, Vec<String>) {
    let target = Target::inspect(disk).unwrap();
    let cfg = config.map(|b| Config {
        bytes: b.to_vec(),
        kind: config::validate(b, "test").unwrap(),
        source: "test".into(),
    });
    let machine = Machine::default();
    let events = Events::silent();
    let p = PostInstall {
        target: &target,
        layout: None,
        machine: &machine,
        install_id: "abc123",
        events: &events,
    };
    let r = stage(&p, s, cfg.as_ref());
    (r, events.log_tail())
}

/// The config stage with the plan these settings make.
fn inject(p: &PostInstall, s: &Settings, cfg: Option<&Config>) -> anyhow::Result<()> {
    let cfg = cfg.expect("a config to inject");
    config::inject(p, &config_plan(s, cfg), cfg)
}

/// The bootloader stage with the plan these settings make.
fn bootloader(p: &PostInstall, s: &Settings, _: Option<&Config>) -> anyhow::Result<()> {
    boot::install(p, &boot_plan(s))
}

fn disk_settings() -> Settings {
    Settings {
        image_kind: ImageKind::Disk,
        config_target: vec![ConfigTarget::Nocloud, ConfigTarget::Coreos],
        ..Settings::default()
    }
}

#[test]
fn config_goes_to_the_partition_with_a_root_layout() {
    let d = tempfile::tempdir().unwrap();
    let disk = disk_image(
        d.path(),
        "gpt",
        &[
            (16, Fs::Vfat),
            (8, Fs::Empty("data")),
            (24, Fs::Root("root")),
        ],
    );
    let (r, log) = post_run(&disk, &disk_settings(), Some(SCRIPT), inject);
    r.unwrap();
    let p3 = Losetup::at(&disk, 25 * MIB, 24 * MIB);
    assert_eq!(
        p3.cat("/var/lib/cloud/seed/nocloud/user-data").as_bytes(),
        SCRIPT
    );
    assert_eq!(
        p3.mode("/var/lib/cloud/seed/nocloud/user-data"),
        Some(0o600)
    );
    assert_eq!(p3.mode("/var/lib/coreos-install/user_data"), Some(0o600));
    assert_eq!(
        p3.cat("/var/lib/cloud/seed/nocloud/meta-data"),
        "instance-id: iid-rdinstall-abc123\n"
    );
    p3.fsck();
    let p2 = Losetup::at(&disk, 17 * MIB, 8 * MIB);
    assert_eq!(p2.mode("/var"), None, "the data partition was written to");
    assert!(
        log.iter().any(|l| l.contains("partition 3")),
        "{}",
        log.join("\n")
    );
    drop((p2, p3));
    assert_nothing_left(&disk);

    // A second install over the same filesystem says it replaces the files.
    let (r, log) = post_run(&disk, &disk_settings(), Some(SCRIPT), inject);
    r.unwrap();
    assert!(
        log.iter()
            .any(|l| l.contains("replacing the image's existing /var/lib/coreos-install/user_data")),
        "{}",
        log.join("\n")
    );
    assert_nothing_left(&disk);
}

#[test]
fn config_partition_wins_and_coreos_root_label_is_found() {
    let d = tempfile::tempdir().unwrap();
    // CoreOS-like: the ROOT filesystem is empty until first boot.
    let disk = disk_image(
        d.path(),
        "gpt",
        &[
            (16, Fs::Vfat),
            (8, Fs::Empty("OEM")),
            (8, Fs::Empty("ROOT")),
        ],
    );
    let mut s = disk_settings();
    s.config_target = vec![ConfigTarget::Coreos, ConfigTarget::Flatcar];
    let (r, _) = post_run(&disk, &s, Some(SCRIPT), inject);
    r.unwrap();
    let root = Losetup::at(&disk, 25 * MIB, 8 * MIB);
    // CoreOS Container Linux's path, and Flatcar's (as flatcar-install -c writes it).
    for f in [
        "/var/lib/coreos-install/user_data",
        "/var/lib/flatcar-install/user_data",
    ] {
        assert_eq!(root.cat(f).as_bytes(), SCRIPT, "{f}");
        assert_eq!(root.mode(f), Some(0o600), "{f}");
    }
    drop(root);

    s.config_partition = Some(2);
    let (r, _) = post_run(&disk, &s, Some(SCRIPT), inject);
    r.unwrap();
    let oem = Losetup::at(&disk, 17 * MIB, 8 * MIB);
    assert_eq!(oem.mode("/var/lib/coreos-install/user_data"), Some(0o600));
    drop(oem);

    s.config_partition = Some(7);
    let (r, _) = post_run(&disk, &s, Some(SCRIPT), inject);
    let e = format!("{:#}", r.unwrap_err());
    assert!(e.contains("no partition 7") && e.contains("1, 2, 3"), "{e}");
    assert_nothing_left(&disk);
}

#[test]
fn no_root_filesystem_is_an_error_naming_config_partition() {
    let d = tempfile::tempdir().unwrap();
    let disk = disk_image(d.path(), "dos", &[(16, Fs::Vfat), (8, Fs::Empty("data"))]);
    let (r, _) = post_run(&disk, &disk_settings(), Some(SCRIPT), inject);
    let e = format!("{:#}", r.unwrap_err());
    assert!(e.contains("config_partition"), "{e}");
    assert_nothing_left(&disk);
}

#[test]
fn bootloader_auto_keeps_a_disk_images_boot_code() {
    let d = tempfile::tempdir().unwrap();
    let disk = disk_image(d.path(), "dos", &[(24, Fs::Root("root"))]);
    let code = [0x90u8; 440];
    open_rw(&disk).write_all(&code).unwrap();
    let before = read_at(&disk, 0, 512);
    let (r, log) = post_run(&disk, &disk_settings(), None, bootloader);
    r.unwrap();
    assert_eq!(read_at(&disk, 0, 512), before);
    assert!(log.iter().any(|l| l.contains("keeps its own boot code")));
    let mut none = disk_settings();
    none.image_kind = ImageKind::Rootfs;
    none.bootloader = Bootloader::None;
    let (r, _) = post_run(&disk, &none, None, bootloader);
    r.unwrap();
    assert_eq!(read_at(&disk, 0, 512), before);
}

#[test]
fn bootloader_extlinux_on_a_disk_image() {
    let d = tempfile::tempdir().unwrap();
    let disk = disk_image(d.path(), "dos", &[(16, Fs::Vfat), (24, Fs::Root("root"))]);
    let mut s = disk_settings();
    s.bootloader = Bootloader::Extlinux;
    let (r, log) = post_run(&disk, &s, None, bootloader);
    r.unwrap();
    let mbr = std::fs::read(MBR_BIN).unwrap();
    assert_eq!(read_at(&disk, 0, 440), &mbr[..440]);
    let j = sfdisk_json(&disk);
    let parts = j["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(parts[0].get("bootable"), None, "{j}");
    assert_eq!(parts[1]["bootable"], true, "{j}");
    let p2 = Losetup::at(&disk, 17 * MIB, 24 * MIB);
    let uuid = p2.blkid("UUID");
    let conf = p2.cat("/boot/extlinux/extlinux.conf");
    assert!(
        conf.contains(&format!("APPEND root=UUID={uuid} rw")),
        "{conf}"
    );
    assert!(p2.mode("/boot/extlinux/ldlinux.sys").is_some());
    p2.fsck();
    assert!(log.iter().any(|l| l.contains("partition 2")), "{log:?}");
    drop(p2);
    assert_nothing_left(&disk);
}

#[test]
fn bootloader_extlinux_on_a_gpt_disk_image() {
    let d = tempfile::tempdir().unwrap();
    let disk = disk_image(d.path(), "gpt", &[(16, Fs::Vfat), (24, Fs::Root("root"))]);
    let mut s = disk_settings();
    s.bootloader = Bootloader::Extlinux;
    s.extra_kargs = Some("console=ttyS0".into());
    let (r, _) = post_run(&disk, &s, None, bootloader);
    r.unwrap();
    let gptmbr = std::fs::read(GPTMBR_BIN).unwrap();
    assert_eq!(read_at(&disk, 0, 440), &gptmbr[..440]);
    let v = run(Command::new("sgdisk").arg("-v").arg(&disk));
    assert!(v.contains("No problems found"), "{v}");
    let j = sfdisk_json(&disk);
    let parts = j["partitiontable"]["partitions"].as_array().unwrap();
    assert!(parts[0].get("attrs").is_none(), "{j}");
    assert!(parts[1]["attrs"]
        .as_str()
        .unwrap_or_default()
        .contains("LegacyBIOSBootable"));
    let p2 = Losetup::at(&disk, 17 * MIB, 24 * MIB);
    let conf = p2.cat("/boot/extlinux/extlinux.conf");
    let uuid = p2.blkid("UUID");
    assert!(
        conf.contains(&format!("APPEND root=UUID={uuid} rw console=ttyS0")),
        "{conf}"
    );
    drop(p2);
    assert_nothing_left(&disk);
}

/// The whole-disk flow through the binary: a GPT disk image onto a larger disk file, the
/// cloud-config injected into the image's root filesystem, the image's boot code kept.
#[test]
fn binary_disk_image_install_injects_the_config() {
    let d = tempfile::tempdir().unwrap();
    let img = disk_image(d.path(), "gpt", &[(16, Fs::Vfat), (24, Fs::Root("root"))]);
    open_rw(&img).write_all(&[0x90; 440]).unwrap();
    let cfg = d.path().join("c.yml");
    std::fs::write(&cfg, "#cloud-config\nhostname: disk-flow\n").unwrap();
    let target = d.path().join("target.img");
    sparse(&target, 128 * MIB);
    let o = Command::new(env!("CARGO_BIN_EXE_rdinstall"))
        .args(["install", "--image"])
        .arg(&img)
        .arg("--disk")
        .arg(&target)
        .arg("--config")
        .arg(&cfg)
        .args(["--config-target", "nocloud,coreos", "--yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        !out.contains("disk-flow"),
        "config contents in the log:\n{out}"
    );
    assert_eq!(read_at(&target, 0, 440), vec![0x90; 440]);
    let p2 = Losetup::at(&target, 17 * MIB, 24 * MIB);
    for f in [
        "/var/lib/cloud/seed/nocloud/user-data",
        "/var/lib/coreos-install/user_data",
    ] {
        assert_eq!(p2.mode(f), Some(0o600), "{f}");
        assert_eq!(p2.cat(f), "#cloud-config\nhostname: disk-flow\n");
    }
    p2.fsck();
    drop(p2);
    assert_nothing_left(&target);
}

/// A filesystem mounted by the test through `mount -o loop` (the loop device goes with it:
/// autoclear), unmounted on drop.
struct TestMount(tempfile::TempDir);

impl TestMount {
    fn new(file: &Path, options: &str) -> TestMount {
        let dir = tempfile::tempdir().unwrap();
        run(Command::new("mount")
            .args(["-o", options])
            .arg(file)
            .arg(dir.path()));
        TestMount(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for TestMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn config_lands_in_fedoras_var_subvolume() {
    // Fedora Cloud's layout: btrfs with subvolumes root (/), home and var, mounted by
    // subvol= entries in root/etc/fstab. The NoCloud seed must be in the var subvolume, which
    // the booted system mounts over /var, not in root/var, which it hides.
    let d = tempfile::tempdir().unwrap();
    let disk = disk_image(d.path(), "gpt", &[(16, Fs::Vfat), (8, Fs::Empty("boot"))]);
    let part = d.path().join("btrfs.img");
    sparse(&part, 128 * MIB);
    run(Command::new("mkfs.btrfs")
        .args(["-q", "-L", "fedora"])
        .arg(&part));
    let uuid = run(Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "UUID"])
        .arg(&part));
    {
        let m = TestMount::new(&part, "loop");
        for sv in ["root", "home", "var"] {
            run(Command::new("btrfs")
                .args(["-q", "subvolume", "create"])
                .arg(m.path().join(sv)));
        }
        for dir in ["root/etc", "root/usr", "root/var", "var/lib"] {
            std::fs::create_dir_all(m.path().join(dir)).unwrap();
        }
        let uuid = uuid.trim();
        std::fs::write(
            m.path().join("root/etc/fstab"),
            format!(
                "UUID={uuid} / btrfs subvol=root,compress=zstd:1 0 0\n\
                 UUID={uuid} /home btrfs subvol=home,compress=zstd:1 0 0\n\
                 UUID={uuid} /var btrfs subvol=var,compress=zstd:1 0 0\n"
            ),
        )
        .unwrap();
    }
    // Partition 3 from 25 MiB on, 128 MiB.
    open_rw(&disk).set_len(155 * MIB).unwrap();
    sfdisk(
        &disk,
        &["--append"],
        &format!("start={}, size={}\n", 25 * 2048, 128 * 2048),
    );
    copy_at(&part, &disk, 25 * MIB);

    let (r, log) = post_run(&disk, &disk_settings(), Some(SCRIPT), inject);
    r.unwrap();
    let log = log.join("\n");
    assert!(log.contains("partition 3"), "{log}");
    assert!(
        log.contains("/var/lib/cloud/seed/nocloud is in subvolume var"),
        "{log}"
    );
    assert_nothing_left(&disk);
    let m = TestMount::new(
        &disk,
        &format!("loop,ro,offset={},sizelimit={}", 25 * MIB, 128 * MIB),
    );
    let seed = m.path().join("var/lib/cloud/seed/nocloud");
    assert_eq!(std::fs::read(seed.join("user-data")).unwrap(), SCRIPT);
    assert!(std::fs::read_to_string(seed.join("meta-data"))
        .unwrap()
        .starts_with("instance-id: iid-rdinstall-"));
    assert!(m.path().join("var/lib/coreos-install/user_data").is_file());
    assert!(
        !m.path().join("root/var/lib").exists(),
        "written into root/var, which /var hides at boot"
    );
}

const IGNITION: &[u8] = br#"{"ignition": {"version": "3.4.0"}}"#;

#[test]
fn ignition_goes_to_flatcars_oem_or_fedora_coreos_boot_partition() {
    // Flatcar: config.ign at the top of the OEM partition; the top's mode stays.
    let d = tempfile::tempdir().unwrap();
    let disk = disk_image(
        d.path(),
        "gpt",
        &[
            (16, Fs::Vfat),
            (8, Fs::Empty("OEM")),
            (8, Fs::Empty("ROOT")),
        ],
    );
    let (r, log) = post_run(&disk, &disk_settings(), Some(IGNITION), inject);
    r.unwrap();
    assert!(log.iter().any(|l| l.contains("partition 2")), "{log:?}");
    let oem = Losetup::at(&disk, 17 * MIB, 8 * MIB);
    assert_eq!(oem.cat("/config.ign").as_bytes(), IGNITION);
    assert_eq!(oem.mode("/config.ign"), Some(0o600));
    assert_eq!(
        oem.mode("/"),
        Some(0o755),
        "the OEM filesystem's top keeps its mode"
    );
    drop(oem);
    let root = Losetup::at(&disk, 25 * MIB, 8 * MIB);
    assert_eq!(root.mode("/var"), None, "nothing goes to ROOT for Ignition");
    drop(root);
    assert_nothing_left(&disk);

    // Fedora CoreOS: ignition/config.ign on the partition labelled boot, not on root.
    let d = tempfile::tempdir().unwrap();
    let disk = disk_image(
        d.path(),
        "gpt",
        &[
            (16, Fs::Vfat),
            (8, Fs::Empty("boot")),
            (24, Fs::Root("root")),
        ],
    );
    let (r, _) = post_run(&disk, &disk_settings(), Some(IGNITION), inject);
    r.unwrap();
    let boot = Losetup::at(&disk, 17 * MIB, 8 * MIB);
    assert_eq!(boot.cat("/ignition/config.ign").as_bytes(), IGNITION);
    assert_eq!(boot.mode("/ignition/config.ign"), Some(0o600));
    assert_eq!(boot.mode("/ignition"), Some(0o700));
    drop(boot);
    let root = Losetup::at(&disk, 25 * MIB, 24 * MIB);
    assert_eq!(root.mode("/var/lib/cloud/seed/nocloud/user-data"), None);
    drop(root);
    assert_nothing_left(&disk);

    // Neither: an error naming both labels and config_partition.
    let d = tempfile::tempdir().unwrap();
    let disk = disk_image(d.path(), "gpt", &[(16, Fs::Vfat), (24, Fs::Root("root"))]);
    let (r, _) = post_run(&disk, &disk_settings(), Some(IGNITION), inject);
    let e = format!("{:#}", r.unwrap_err());
    assert!(
        e.contains("OEM") && e.contains("boot") && e.contains("config_partition"),
        "{e}"
    );
    assert_nothing_left(&disk);
}
