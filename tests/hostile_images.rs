//! Issue 14, hostile images: every path, link and number inside an image is the image's
//! choice. Symlinks planted where rdinstall or extlinux write, an fstab that never ends or
//! blocks, a seed directory that leads out of the image, a GPT header whose entry count makes
//! a reader allocate hundreds of GiB. Host files the image points at live in the test's
//! temporary directory and must come out unchanged.

#[path = "common/boot.rs"]
mod support;

use rdinstall::boot::{self, PostInstall};
use rdinstall::disk::Target;
use rdinstall::machine::Machine;
use rdinstall::report::Events;
use rdinstall::settings::{Bootloader, ImageKind, Settings};
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const HOST: &[u8] = b"a host file the image must not reach\n";

/// A host file (outside any image) with known contents.
fn host_file(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, HOST).unwrap();
    p
}

/// An MBR disk image with one bootable ext4 partition (1 MiB on, `mib` MiB) made from `tree`.
fn disk_image(dir: &Path, tree: &Path, mib: u64) -> PathBuf {
    let disk = dir.join("disk.img");
    sparse(&disk, (mib + 2) * MIB);
    sfdisk(
        &disk,
        &[],
        &format!("label: dos\nstart=2048, size={}, bootable\n", mib * 2048),
    );
    let part = dir.join("p1.img");
    mkfs_ext4(&part, mib * MIB, tree, "root");
    copy_at(&part, &disk, MIB);
    disk
}

/// The real binary installing `image` onto a sparse target file, with a time limit (a hang
/// is a failure, not a stuck test) and an address-space limit (a reader that grows without
/// bound fails fast instead of taking the machine's memory).
fn install_binary(
    dir: &Path,
    image: &Path,
    config: Option<&str>,
) -> (Option<i32>, String, PathBuf) {
    let target = dir.join("target.img");
    sparse(&target, 128 * MIB);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rdinstall"));
    cmd.args(["install", "--image"])
        .arg(image)
        .arg("--disk")
        .arg(&target)
        .args(["--yes", "--progress", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(c) = config {
        let p = dir.join("c.yml");
        std::fs::write(&p, c).unwrap();
        cmd.arg("--config").arg(p);
    }
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 4 << 30,
                rlim_max: 4 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &lim);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rdinstall did not finish within 120 s (hung on the image?)");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), None, "killed by a signal (abort?):\n{log}");
    (status.code(), log, target)
}

/// An extlinux.conf that loads menu.c32 (so libcom32.c32 and libutil.c32 are copied too),
/// and symlinks to host files at those names and at the ones extlinux itself creates.
#[test]
fn symlinks_planted_for_extlinux_do_not_redirect_writes() {
    let d = tempfile::tempdir().unwrap();
    let tree = d.path().join("tree");
    rootfs_tree(&tree, false);
    let ext = tree.join("boot/extlinux");
    std::fs::create_dir_all(&ext).unwrap();
    std::fs::write(
        ext.join("extlinux.conf"),
        "UI menu.c32\nDEFAULT l\nLABEL l\n  LINUX /boot/vmlinuz\n  INITRD /boot/initrd.img\n  \
         APPEND ro\nINCLUDE fifo.cfg\n",
    )
    .unwrap();
    nix::unistd::mkfifo(&ext.join("fifo.cfg"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let names = ["libcom32.c32", "menu.c32", "ldlinux.sys", "ldlinux.c32"];
    let hosts: Vec<PathBuf> = names
        .iter()
        .map(|n| {
            let h = host_file(d.path(), &format!("host-{n}"));
            symlink(&h, ext.join(n)).unwrap();
            h
        })
        .collect();
    let disk = disk_image(d.path(), &tree, 32);

    let target = Target::inspect(&disk).unwrap();
    let s = Settings {
        image_kind: ImageKind::Disk,
        bootloader: Bootloader::Extlinux,
        ..Settings::default()
    };
    let machine = Machine::default();
    let events = Events::silent();
    let p = PostInstall {
        target: &target,
        layout: None,
        machine: &machine,
        install_id: "hostile",
        events: &events,
    };
    let r = boot::install(&p, &rdinstall::install::preflight::boot_plan(&s));
    let log = events.log_tail().join("\n");
    for h in &hosts {
        assert_eq!(
            std::fs::read(h).unwrap(),
            HOST,
            "{} was written through the image's symlink\n{log}",
            h.display()
        );
    }
    r.unwrap_or_else(|e| panic!("{e:#}\n{log}"));
    // The files are regular files inside the image now: ours.
    let p1 = Losetup::at(&disk, MIB, 32 * MIB);
    for n in names {
        let st = p1.debugfs(&format!("stat /boot/extlinux/{n}"));
        assert!(st.contains("Type: regular"), "{n}: {st}");
    }
    let lib = std::fs::read("/usr/lib/syslinux/modules/bios/libcom32.c32").unwrap();
    assert_eq!(
        p1.debugfs("cat /boot/extlinux/libcom32.c32").len(),
        String::from_utf8_lossy(&lib).len()
    );
    p1.fsck();
    drop(p1);
    assert!(
        log.contains("fifo.cfg"),
        "the FIFO include is named:\n{log}"
    );
    assert_nothing_left(&disk);
}

/// `etc/fstab` as a link to the host's /dev/zero (endless) and as a FIFO (blocks an open):
/// the install still finishes, in bounded time and memory, the config in place.
#[test]
fn an_endless_or_blocking_fstab_does_not_hang_the_install() {
    let zero: fn(&Path) = |t| symlink("/dev/zero", t).unwrap();
    let fifo: fn(&Path) = |t| nix::unistd::mkfifo(t, nix::sys::stat::Mode::S_IRWXU).unwrap();
    for (what, plant) in [("link to /dev/zero", zero), ("FIFO", fifo)] {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("tree");
        rootfs_tree(&tree, false);
        plant(&tree.join("etc/fstab"));
        let img = disk_image(d.path(), &tree, 32);
        let (code, log, target) =
            install_binary(d.path(), &img, Some("#cloud-config\nhostname: h\n"));
        assert_eq!(code, Some(0), "fstab {what}:\n{log}");
        let p1 = Losetup::at(&target, MIB, 32 * MIB);
        assert_eq!(
            p1.cat("/var/lib/cloud/seed/nocloud/user-data"),
            "#cloud-config\nhostname: h\n",
            "fstab {what}"
        );
        drop(p1);
        assert_nothing_left(&target);
    }
}

/// The NoCloud seed directory as a link out of the image: nothing is written there, and the
/// install fails cleanly (exit 4, partition tables erased) instead.
#[test]
fn a_seed_directory_linking_out_of_the_image_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let outside = d.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let tree = d.path().join("tree");
    rootfs_tree(&tree, false);
    std::fs::create_dir_all(tree.join("var/lib/cloud")).unwrap();
    symlink(&outside, tree.join("var/lib/cloud/seed")).unwrap();
    let img = disk_image(d.path(), &tree, 32);
    let (code, log, target) = install_binary(d.path(), &img, Some("#cloud-config\n"));
    assert_eq!(
        std::fs::read_dir(&outside).unwrap().count(),
        0,
        "written outside the image:\n{log}"
    );
    assert_eq!(code, Some(4), "{log}");
    assert!(
        log.contains("/var/lib/cloud/seed in the image is a symlink"),
        "{log}"
    );
    assert_eq!(read_at(&target, 0, 1 << 20), vec![0u8; 1 << 20]);
    assert_nothing_left(&target);
}

/// A GPT whose header says 2^32 - 1 partition entries, its CRC recomputed as anyone can:
/// gptman would allocate hundreds of GiB and abort the process right after the write, with
/// no scrub and no `failed` event. Refused instead: exit 4, the head erased.
#[test]
fn a_gpt_header_with_a_huge_entry_count_fails_cleanly() {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("gpt.img");
    sparse(&img, 16 * MIB);
    sfdisk(&img, &[], "label: gpt\nstart=2048, size=8192\n");
    let mut h = read_at(&img, 512, 92);
    h[80..84].copy_from_slice(&u32::MAX.to_le_bytes());
    h[16..20].fill(0);
    let mut crc = flate2::Crc::new();
    crc.update(&h);
    h[16..20].copy_from_slice(&crc.sum().to_le_bytes());
    use std::os::unix::fs::FileExt;
    open_rw(&img).write_all_at(&h, 512).unwrap();

    let (code, log, target) = install_binary(d.path(), &img, None);
    assert_eq!(code, Some(4), "{log}");
    assert!(log.contains("4294967295 partition entries"), "{log}");
    assert!(log.contains("erased the partition tables"), "{log}");
    assert_eq!(read_at(&target, 0, 1 << 20), vec![0u8; 1 << 20]);
}
