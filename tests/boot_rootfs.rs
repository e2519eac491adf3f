//! image_kind=rootfs through the library, on sparse files: layout → filesystem copied in →
//! partition table → bootloader → cloud-config. Everything checked with independent tools
//! (sfdisk, sgdisk, blkid, debugfs, e2fsck) on loop devices losetup makes.

#[path = "common/boot.rs"]
mod support;

use rdinstall::boot::{self, PostInstall};
use rdinstall::config::{self, Config, ConfigKind};
use rdinstall::disk::Target;
use rdinstall::install::preflight::{boot_plan, config_plan, rootfs_request};
use rdinstall::layout;
use rdinstall::machine::Machine;
use rdinstall::report::Events;
use rdinstall::settings::{Bootloader, ConfigTarget, ImageKind, PartitionTable, Settings};
use std::path::Path;
use std::process::Command;
use support::*;

const USER_DATA: &[u8] = b"#cloud-config\nhostname: installed\nruncmd:\n  - echo secret-value\n";

struct Installed {
    _dir: Option<tempfile::TempDir>,
    disk: std::path::PathBuf,
    layout: layout::RootfsLayout,
    install_id: String,
    events: Events,
}

/// A change to the fixture tree before mkfs.
type TreeHook = Box<dyn FnOnce(&Path)>;

thread_local! {
    /// A change to the fixture tree before mkfs, for the one test that needs it.
    static TREE_HOOK: std::cell::Cell<Option<TreeHook>> =
        const { std::cell::Cell::new(None) };
}

/// What the lead's install flow does for a rootfs image, with the stages under test.
fn install_rootfs(s: &Settings, live_conf: bool, disk_size: u64) -> anyhow::Result<Installed> {
    let dir = tempfile::tempdir().unwrap();
    let mut i = install_rootfs_in(dir.path(), s, live_conf, disk_size)?;
    i._dir = Some(dir);
    Ok(i)
}

fn install_rootfs_in(
    dir: &Path,
    s: &Settings,
    live_conf: bool,
    disk_size: u64,
) -> anyhow::Result<Installed> {
    let tree = dir.join("tree");
    rootfs_tree(&tree, live_conf);
    if let Some(f) = TREE_HOOK.with(|h| h.take()) {
        f(&tree);
    }
    let img = dir.join("rootfs.img");
    mkfs_ext4(&img, 40 * MIB, &tree, "liveroot");
    let disk = dir.join("disk.img");
    sparse(&disk, disk_size);

    let img_size = std::fs::metadata(&img).unwrap().len();
    let l = layout::plan_rootfs(&rootfs_request(s), disk_size, Some(img_size))?;
    copy_at(&img, &disk, l.root_start);
    layout::write_rootfs_table(&open_rw(&disk), disk_size, &l)?;

    let target = Target::inspect(&disk)?;
    let cfg = Config {
        bytes: USER_DATA.to_vec(),
        kind: config::validate(USER_DATA, "test")?,
        source: "test".into(),
    };
    let machine = Machine {
        hostname: Some("node-7".into()),
        ..Machine::default()
    };
    let events = Events::silent();
    let install_id = events.install_id().to_string();
    let p = PostInstall {
        target: &target,
        layout: Some(&l),
        machine: &machine,
        install_id: &install_id,
        events: &events,
    };
    boot::install(&p, &boot_plan(s))?;
    config::inject(&p, &config_plan(s, &cfg), &cfg)?;
    Ok(Installed {
        _dir: None,
        disk,
        layout: l,
        install_id,
        events,
    })
}

fn settings(table: PartitionTable) -> Settings {
    Settings {
        image_kind: ImageKind::Rootfs,
        partition_table: table,
        extra_kargs: Some("console=ttyS0 panic=-1".into()),
        config_target: vec![ConfigTarget::Nocloud, ConfigTarget::Coreos],
        extlinux: "extlinux".into(),
        ..Settings::default()
    }
}

/// Checks shared by the MBR and GPT variants, on partition 1.
fn check_partition_one(i: &Installed) {
    // extlinux wrote its boot sector at the start of the partition.
    let vbr = read_at(&i.disk, i.layout.root_start, 512);
    assert!(
        vbr.windows(8).any(|w| w == b"SYSLINUX"),
        "no SYSLINUX boot sector"
    );
    let part = Losetup::at(&i.disk, i.layout.root_start, i.layout.root_size);
    part.fsck();
    let uuid = part.blkid("UUID");
    assert_eq!(uuid.len(), 36, "blkid UUID {uuid:?}");

    // extlinux installed into the directory of the image's own configuration.
    for f in ["ldlinux.sys", "ldlinux.c32", "extlinux.conf"] {
        assert!(
            part.mode(&format!("/boot/extlinux/{f}")).is_some(),
            "/boot/extlinux/{f} missing"
        );
    }
    let conf = part.cat("/boot/extlinux/extlinux.conf");
    let append = conf
        .lines()
        .find(|l| l.trim_start().starts_with("append"))
        .unwrap_or_else(|| panic!("no append line in:\n{conf}"));
    let args: Vec<&str> = append.split_whitespace().skip(1).collect();
    assert!(
        args.contains(&format!("root=UUID={uuid}").as_str()),
        "{append}"
    );
    assert_eq!(
        args.iter().filter(|a| a.starts_with("root=")).count(),
        1,
        "{append}"
    );
    for gone in ["ro", "rd.live.image", "rootfstype=auto"] {
        assert!(!args.contains(&gone), "{gone} still in {append}");
    }
    assert!(args.ends_with(&["console=ttyS0", "panic=-1"]), "{append}");
    assert!(args.contains(&"initrd=/boot/initrd.img") && args.contains(&"quiet"));

    // The kernel (stored with a hole by mkfs.ext4 -d) was rewritten densely, same bytes.
    let kernel = dummy_kernel();
    assert!(part.allocated("/boot/vmlinuz") >= kernel.len() as u64);
    assert!(part.cat("/boot/vmlinuz").as_bytes() == kernel.as_slice());

    // Cloud-config at both targets, 0600 in 0700 directories, meta-data for NoCloud.
    for f in [
        "/var/lib/cloud/seed/nocloud/user-data",
        "/var/lib/coreos-install/user_data",
    ] {
        assert_eq!(part.mode(f), Some(0o600), "{f}");
        assert_eq!(part.cat(f).as_bytes(), USER_DATA, "{f}");
    }
    for d in [
        "/var/lib/cloud",
        "/var/lib/cloud/seed",
        "/var/lib/cloud/seed/nocloud",
        "/var/lib/coreos-install",
    ] {
        assert_eq!(part.mode(d), Some(0o700), "{d}");
    }
    // The image's own /var/lib was not tightened.
    assert_eq!(part.mode("/var/lib"), Some(0o755));
    assert_eq!(
        part.mode("/var/lib/cloud/seed/nocloud/meta-data"),
        Some(0o600)
    );
    assert_eq!(
        part.cat("/var/lib/cloud/seed/nocloud/meta-data"),
        format!(
            "instance-id: iid-rdinstall-{}\nlocal-hostname: node-7\n",
            i.install_id
        )
    );
    // The config's contents never reached the log.
    for line in i.events.log_tail() {
        assert!(!line.contains("secret-value"), "{line}");
    }
}

#[test]
fn rootfs_msdos_install() {
    let s = settings(PartitionTable::Msdos);
    let i = install_rootfs(&s, true, 128 * MIB).unwrap();

    // Boot code is syslinux's mbr.bin, byte for byte.
    let mbr = std::fs::read(MBR_BIN).unwrap();
    assert_eq!(read_at(&i.disk, 0, 440), &mbr[..440]);

    // Partition 1: active, from 1 MiB, the image's size (40 MiB); nothing else.
    let j = sfdisk_json(&i.disk);
    let t = &j["partitiontable"];
    assert_eq!(t["label"], "dos");
    let parts = t["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["start"], 2048);
    assert_eq!(parts[0]["size"], 40 * 2048);
    assert_eq!(parts[0]["bootable"], true);
    assert_eq!(parts[0]["type"], "83");

    check_partition_one(&i);
    let log = i.events.log_tail().join("\n");
    assert!(
        log.contains("rewrote /boot/extlinux/extlinux.conf"),
        "{log}"
    );
    drop(i.events);
    assert_nothing_left(&i.disk);
}

#[test]
fn rootfs_gpt_install() {
    let mut s = settings(PartitionTable::Gpt);
    s.rest = rdinstall::settings::RestPartition::Lvm;
    let i = install_rootfs(&s, true, 128 * MIB).unwrap();

    let gptmbr = std::fs::read(GPTMBR_BIN).unwrap();
    assert_eq!(read_at(&i.disk, 0, 440), &gptmbr[..440]);
    let out = run(Command::new("sgdisk").arg("-v").arg(&i.disk));
    assert!(out.contains("No problems found"), "{out}");
    let j = sfdisk_json(&i.disk);
    let parts = j["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["start"], 2048);
    assert_eq!(parts[0]["size"], 40 * 2048);
    assert!(parts[0]["attrs"]
        .as_str()
        .unwrap_or_default()
        .contains("LegacyBIOSBootable"));
    assert_eq!(parts[1]["type"], "E6D6D379-F507-44C2-A23C-238F2A3DF928");
    assert_eq!(parts[1]["start"], 41 * 2048);

    check_partition_one(&i);
    assert_nothing_left(&i.disk);
}

#[test]
fn generated_extlinux_conf_when_the_image_has_none() {
    let mut s = settings(PartitionTable::Msdos);
    s.extra_kargs = None;
    s.config_target = vec![ConfigTarget::Nocloud];
    let i = install_rootfs(&s, false, 64 * MIB).unwrap();
    let part = Losetup::at(&i.disk, i.layout.root_start, i.layout.root_size);
    let uuid = part.blkid("UUID");
    let conf = part.cat("/boot/extlinux/extlinux.conf");
    assert!(conf.contains("LINUX /boot/vmlinuz\n"), "{conf}");
    assert!(conf.contains("INITRD /boot/initrd.img\n"), "{conf}");
    assert!(
        conf.contains(&format!("APPEND root=UUID={uuid} rw\n")),
        "{conf}"
    );
    assert!(part.mode("/boot/extlinux/ldlinux.sys").is_some());
    assert_eq!(part.mode("/var/lib/coreos-install"), None);
    part.fsck();
}

#[test]
fn a_failing_bootloader_leaves_no_mount_or_loop_behind() {
    let mut s = settings(PartitionTable::Msdos);
    s.extlinux = "/nonexistent/extlinux".into();
    let dir = tempfile::tempdir().unwrap();
    let err = match install_rootfs_in(dir.path(), &s, true, 64 * MIB) {
        Ok(_) => panic!("an install with a missing extlinux succeeded"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("/nonexistent/extlinux"), "{err}");
    assert_nothing_left(&dir.path().join("disk.img"));
    // And preflight catches it before anything is written.
    let e = check(&s).unwrap_err();
    assert!(format!("{e:#}").contains("not found"), "{e:#}");
}

/// The bootloader part of preflight for these settings.
fn check(s: &Settings) -> anyhow::Result<()> {
    let table = (s.image_kind == ImageKind::Rootfs).then_some(s.partition_table);
    boot::check(&boot_plan(s), table)
}

#[test]
fn preflight_check_knows_what_is_needed() {
    let s = settings(PartitionTable::Msdos);
    check(&s).unwrap();
    let mut none = s.clone();
    none.bootloader = Bootloader::None;
    none.extlinux = "/nonexistent".into();
    check(&none).unwrap();
    let mut bad = s.clone();
    bad.syslinux_mbr_dir = Path::new("/nonexistent").into();
    let e = check(&bad).unwrap_err();
    assert!(format!("{e:#}").contains("mbr.bin"), "{e:#}");
    assert_eq!(
        config::validate(b"#!/bin/sh\n", "x").unwrap(),
        ConfigKind::Script
    );
}

/// Symlinks in the image that point at the host's files (absolute paths resolve on the
/// installer's side while the filesystem is mounted) are never written through.
#[test]
fn image_symlinks_never_lead_outside_the_filesystem() {
    let host = tempfile::tempdir().unwrap();
    let victim = host.path().join("victim.conf");
    std::fs::write(&victim, "untouched").unwrap();
    let victim_dir = host.path().join("cloud");
    std::fs::create_dir(&victim_dir).unwrap();
    let (v, vd) = (victim.clone(), victim_dir.clone());
    TREE_HOOK.with(|h| {
        h.set(Some(Box::new(move |tree: &Path| {
            std::fs::create_dir_all(tree.join("boot/extlinux")).unwrap();
            std::os::unix::fs::symlink(&v, tree.join("boot/extlinux/extlinux.conf")).unwrap();
            std::os::unix::fs::symlink(&vd, tree.join("var/lib/cloud")).unwrap();
        })))
    });
    let dir = tempfile::tempdir().unwrap();
    let s = settings(PartitionTable::Msdos);
    let err = match install_rootfs_in(dir.path(), &s, false, 64 * MIB) {
        Ok(_) => panic!("wrote the cloud-config through a symlink"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("var/lib/cloud") && err.contains("symlink"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert_eq!(std::fs::read_dir(&victim_dir).unwrap().count(), 0);
    // The bootloader stage replaced the symlinked extlinux.conf with its own file.
    let part = Losetup::at(&dir.path().join("disk.img"), MIB, 40 * MIB);
    assert!(part
        .cat("/boot/extlinux/extlinux.conf")
        .contains("LINUX /boot/vmlinuz"));
    drop(part);
    assert_nothing_left(&dir.path().join("disk.img"));
}

/// Boot entries in an INCLUDEd file (as live CDs keep them) are rewritten too.
#[test]
fn included_config_files_are_rewritten() {
    TREE_HOOK.with(|h| {
        h.set(Some(Box::new(|tree: &Path| {
            let d = tree.join("boot/extlinux");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("extlinux.conf"), "DEFAULT live\nINCLUDE live.cfg\n").unwrap();
            std::fs::write(
                d.join("live.cfg"),
                "LABEL live\n  LINUX /boot/vmlinuz\n  INITRD /boot/initrd.img\n  \
                 APPEND root=live:LABEL=x rd.live.image ro quiet\n",
            )
            .unwrap();
        })))
    });
    let mut s = settings(PartitionTable::Msdos);
    s.config_target = vec![ConfigTarget::Nocloud];
    let i = install_rootfs(&s, false, 64 * MIB).unwrap();
    let part = Losetup::at(&i.disk, i.layout.root_start, i.layout.root_size);
    let uuid = part.blkid("UUID");
    assert_eq!(
        part.cat("/boot/extlinux/extlinux.conf"),
        "DEFAULT live\nINCLUDE live.cfg\n"
    );
    let live = part.cat("/boot/extlinux/live.cfg");
    assert!(
        live.contains(&format!(
            "  APPEND quiet root=UUID={uuid} console=ttyS0 panic=-1\n"
        )),
        "{live}"
    );
    // The kernel it names was densified although only the included file names it.
    assert!(part.allocated("/boot/vmlinuz") >= dummy_kernel().len() as u64);
    part.fsck();
}
