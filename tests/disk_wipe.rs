//! Host tests of the wipe on sparse files and loop devices, with signatures written by the
//! real tools (mkfs.ext4, mkfs.xfs, mkswap, mkfs.vfat, pvcreate, cryptsetup, sgdisk,
//! sfdisk). md superblocks are written by hand here: `mdadm --create` needs the md driver,
//! which this host's kernel lacks (see TESTBED.md); the layout and checksum follow
//! <linux/raid/md_p.h>, and the test first checks that blkid recognises them.
//!
//! Success means `wipefs -n` and `blkid -p` find nothing, on the whole disk and at every
//! partition's offset. Every test cleans up its loop devices and mounts (Drop guards).

use rdinstall::disk::{self, Target};
use rdinstall::error::{ExitCode, Refusal};
use rdinstall::report::Events;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const MIB: u64 = 1 << 20;

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_stdin(cmd: &str, args: &[&str], input: &str) {
    use std::io::Write;
    let mut c = Command::new(cmd)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A sparse file in its own temp dir.
struct Img {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn img(name: &str, size: u64) -> Img {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let path = dir.path().join(name);
    File::create(&path).unwrap().set_len(size).unwrap();
    Img { _dir: dir, path }
}

/// A loop device, detached on drop.
struct Loop(PathBuf);

impl Loop {
    fn new(file: &Path, offset: u64, size: Option<u64>) -> Loop {
        let mut args = vec!["-f".to_string(), "--show".into()];
        if offset > 0 {
            args.extend(["-o".into(), offset.to_string()]);
        }
        if let Some(s) = size {
            args.extend(["--sizelimit".into(), s.to_string()]);
        }
        args.push(file.to_string_lossy().into_owned());
        // Other builders share this machine's loop devices: a free one can be taken between
        // the search and the attach, so retry a few times.
        for _ in 0..10 {
            let out = Command::new("losetup").args(&args).output().unwrap();
            if out.status.success() {
                let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
                return Loop(dev.into());
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        panic!("losetup {args:?} kept failing (no free loop device?)");
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

struct Mounted(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl Mounted {
    /// Read-only (and without journal replay), so the kernel itself never writes to the
    /// device and "left byte-identical" can be checked.
    fn new(dev: &str) -> Mounted {
        let dir = tempfile::tempdir().unwrap();
        run(
            "mount",
            &["-o", "ro,noload", dev, dir.path().to_str().unwrap()],
        );
        Mounted(dir.path().to_path_buf(), dir)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// What `blkid -p` sees in [off, off+len) of `file` (empty = nothing).
fn blkid_at(file: &Path, off: u64, len: u64) -> String {
    let out = Command::new("blkid")
        .args(["-p", "-O", &off.to_string(), "-S", &len.to_string()])
        .arg(file)
        .output()
        .unwrap();
    // Exit 2: nothing found.
    assert!(
        out.status.success() || out.status.code() == Some(2),
        "blkid failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wipefs(file: &Path) -> String {
    run("wipefs", &["-n", file.to_str().unwrap()])
        .trim()
        .to_string()
}

/// Copy `src` into `dst` at `off`, skipping zero chunks (keeps the image sparse).
fn copy_at(src: &Path, dst: &Path, off: u64) {
    let s = std::fs::read(src).unwrap();
    let d = std::fs::OpenOptions::new().write(true).open(dst).unwrap();
    for (i, chunk) in s.chunks(64 << 10).enumerate() {
        if chunk.iter().any(|&b| b != 0) {
            d.write_all_at(chunk, off + (i as u64) * (64 << 10))
                .unwrap();
        }
    }
    d.sync_all().unwrap();
}

/// A filesystem/signature image of `size` bytes made by `make(path)`.
fn part_image(size: u64, make: impl FnOnce(&str)) -> Img {
    let i = img("part.img", size);
    make(i.path.to_str().unwrap());
    i
}

/// An md 1.x superblock for a 2-disk RAID1 member at `sb_sector` (sectors from the start of
/// the member), checksummed as the kernel's calc_sb_1_csum does.
fn md1_superblock(sb_sector: u64, data_offset: u64) -> Vec<u8> {
    let mut b = vec![0u8; 256 + 2 * 2];
    let put32 = |b: &mut Vec<u8>, o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    let put64 = |b: &mut Vec<u8>, o: usize, v: u64| b[o..o + 8].copy_from_slice(&v.to_le_bytes());
    put32(&mut b, 0, 0xa92b_4efc); // magic
    put32(&mut b, 4, 1); // major_version
    b[16..32].copy_from_slice(&[7u8; 16]); // set_uuid
    b[32..39].copy_from_slice(b"host:r1"); // set_name
    put32(&mut b, 72, 1); // level: raid1
    put64(&mut b, 80, 8192); // size (sectors)
    put32(&mut b, 92, 2); // raid_disks
    put64(&mut b, 128, data_offset); // data_offset
    put64(&mut b, 136, 8192); // data_size
    put64(&mut b, 144, sb_sector); // super_offset
    put32(&mut b, 220, 2); // max_dev
    b[258] = 1; // dev_roles[1] = 1
    let sum: u64 = b
        .chunks(4)
        .map(|c| u64::from(u32::from_le_bytes(c.try_into().unwrap())))
        .sum();
    let csum = (sum & 0xffff_ffff) + (sum >> 32);
    put32(&mut b, 216, csum as u32); // sb_csum
    b
}

/// md 0.90: mdp_super_t's first words (magic, version 0.90.0), at the end of the member.
fn md090_superblock() -> Vec<u8> {
    let mut b = vec![0u8; 4096];
    for (o, v) in [
        (0, 0xa92b_4efcu32),
        (4, 0),
        (8, 90),
        (12, 0),
        (20, 0x1234_5678),
    ] {
        b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }
    b
}

fn wipe_target(path: &Path) -> disk::WipeReport {
    let t = Target::inspect(path).unwrap();
    disk::check_safe(&t).unwrap();
    disk::wipe(&t, false, &Events::silent()).unwrap()
}

fn sha(path: &Path) -> Vec<u8> {
    let mut h = Sha256::new();
    let mut f = File::open(path).unwrap();
    std::io::copy(&mut f, &mut h).unwrap();
    h.finalize().to_vec()
}

#[test]
fn gpt_image_with_ext4_xfs_swap_vfat_is_wiped_clean() {
    // mkfs.xfs wants more than 300 MB.
    let size = 500 * MIB;
    let disk = img("disk.img", size);
    let d = disk.path.to_str().unwrap();
    run(
        "sgdisk",
        &[
            "-n1:2048:+64M",
            "-n2:0:+320M",
            "-n3:0:+64M",
            "-n4:0:+32M",
            d,
        ],
    );
    let parts: [(u64, u64, &str); 4] = [
        (2048 * 512, 64 * MIB, "ext4"),
        (133_120 * 512, 320 * MIB, "xfs"),
        (788_480 * 512, 64 * MIB, "swap"),
        (919_552 * 512, 32 * MIB, "vfat"),
    ];
    for (off, len, kind) in parts {
        let p = part_image(len, |p| match kind {
            "ext4" => drop(run("mkfs.ext4", &["-q", "-F", p])),
            "xfs" => drop(run("mkfs.xfs", &["-q", "-f", p])),
            "swap" => drop(run("mkswap", &[p])),
            _ => drop(run("mkfs.vfat", &[p])),
        });
        copy_at(&p.path, &disk.path, off);
        let seen = blkid_at(&disk.path, off, len);
        assert!(
            seen.contains(&format!("TYPE=\"{kind}\"")),
            "{kind} before wipe: {seen}"
        );
    }
    assert!(wipefs(&disk.path).contains("gpt"), "GPT before wipe");
    let last = {
        let mut b = [0u8; 8];
        File::open(&disk.path)
            .unwrap()
            .read_exact_at(&mut b, size - 512)
            .unwrap();
        b
    };
    assert_eq!(
        &last, b"EFI PART",
        "sgdisk wrote the backup header at the end"
    );

    let r = wipe_target(&disk.path);
    let names: Vec<&str> = r.found.iter().map(|f| f.name.as_str()).collect();
    for want in [
        "dos partition table (MBR)",
        "gpt (primary header)",
        "gpt (backup header)",
        "ext2/3/4",
        "xfs",
        "swap",
        "vfat (FAT16)",
    ] {
        assert!(names.contains(&want), "{want} not reported: {names:?}");
    }
    assert_eq!(
        r.areas.len(),
        5,
        "whole disk + 4 GPT partitions: {:?}",
        r.areas
    );

    assert_eq!(wipefs(&disk.path), "", "wipefs still finds something");
    assert_eq!(blkid_at(&disk.path, 0, size), "");
    for (off, len, kind) in parts {
        assert_eq!(
            blkid_at(&disk.path, off, len),
            "",
            "{kind} partition at {off}"
        );
    }
    let mut b = [0u8; 8];
    File::open(&disk.path)
        .unwrap()
        .read_exact_at(&mut b, size - 512)
        .unwrap();
    assert_ne!(&b, b"EFI PART", "GPT backup header survived");
}

#[test]
fn mbr_image_with_luks_md_and_logical_partitions_is_wiped_clean() {
    let disk = img("disk.img", 300 * MIB);
    let d = disk.path.to_str().unwrap();
    run_stdin(
        "sfdisk",
        &["-q", d],
        "label: dos\n,64M,83\n,64M,fd\n,,5\n,64M,fd\n,64M,fd\n",
    );
    let p1 = (2048 * 512, 64 * MIB);
    let p2 = (133_120 * 512, 64 * MIB);
    let p5 = (266_240 * 512, 64 * MIB);
    let p6 = (399_360 * 512, 64 * MIB);
    // p1: LUKS2 (primary + secondary header).
    let luks = part_image(p1.1, |p| {
        run_stdin(
            "cryptsetup",
            &[
                "luksFormat",
                "--batch-mode",
                "--type",
                "luks2",
                "--pbkdf",
                "pbkdf2",
                "--pbkdf-force-iterations",
                "1000",
                p,
            ],
            "secret\n",
        )
    });
    copy_at(&luks.path, &disk.path, p1.0);
    // p2: md 1.2 at 4 KiB. p5 (logical): md 1.0 near the end. p6 (logical): md 0.90.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&disk.path)
        .unwrap();
    f.write_all_at(&md1_superblock(8, 2048), p2.0 + 4096)
        .unwrap();
    let sb10 = ((p5.1 / 512 - 16) & !7) * 512;
    f.write_all_at(&md1_superblock(sb10 / 512, 0), p5.0 + sb10)
        .unwrap();
    let sb090 = (p6.1 & !0xffff) - 0x10000;
    f.write_all_at(&md090_superblock(), p6.0 + sb090).unwrap();
    f.sync_all().unwrap();
    drop(f);

    let before = [
        (p1, "crypto_LUKS"),
        (p2, "linux_raid_member"),
        (p5, "linux_raid_member"),
        (p6, "linux_raid_member"),
    ];
    for ((off, len), t) in before {
        let seen = blkid_at(&disk.path, off, len);
        assert!(seen.contains(t), "{t} at {off} before wipe: {seen}");
    }
    assert!(wipefs(&disk.path).contains("dos"));

    let r = wipe_target(&disk.path);
    let names: Vec<&str> = r.found.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("LUKS2 primary header (uuid ")),
        "{names:?}"
    );
    assert!(names.contains(&"LUKS2 secondary header"), "{names:?}");
    assert!(names.contains(&"md raid 1.2 superblock"), "{names:?}");
    assert!(names.contains(&"md raid 1.0 superblock"), "{names:?}");
    assert!(names.contains(&"md raid 0.90 superblock"), "{names:?}");
    assert!(
        r.areas.iter().any(|a| a.start == p6.0),
        "logical partition found through the EBR chain: {:?}",
        r.areas
    );

    assert_eq!(wipefs(&disk.path), "");
    for ((off, len), t) in before {
        assert_eq!(
            blkid_at(&disk.path, off, len),
            "",
            "{t} at {off} after wipe"
        );
    }
}

#[test]
fn loop_device_with_lvm_luks1_and_gpt_is_wiped_clean() {
    let disk = img("disk.img", 200 * MIB);
    run(
        "sgdisk",
        &["-n1:2048:+64M", "-n2:0:+64M", disk.path.to_str().unwrap()],
    );
    let p1 = (2048 * 512, 64 * MIB);
    let p2 = (133_120 * 512, 64 * MIB);
    // p1: an LVM PV written by pvcreate (it wants a block device: a loop at the offset).
    {
        let part = Loop::new(&disk.path, p1.0, Some(p1.1));
        run("pvcreate", &["-ff", "-y", part.path()]);
    }
    let luks = part_image(p2.1, |p| {
        run_stdin(
            "cryptsetup",
            &[
                "luksFormat",
                "--batch-mode",
                "--type",
                "luks1",
                "--pbkdf-force-iterations",
                "1000",
                p,
            ],
            "secret\n",
        )
    });
    copy_at(&luks.path, &disk.path, p2.0);
    assert!(blkid_at(&disk.path, p1.0, p1.1).contains("LVM2_member"));
    assert!(blkid_at(&disk.path, p2.0, p2.1).contains("crypto_LUKS"));

    let l = Loop::new(&disk.path, 0, None);
    let t = Target::inspect(Path::new(l.path())).unwrap();
    assert_eq!(t.kind, disk::TargetKind::Block);
    disk::check_safe(&t).unwrap();
    let r = disk::wipe(&t, false, &Events::silent()).unwrap();
    let names: Vec<&str> = r.found.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"LVM2 PV label"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("LUKS1 header")),
        "{names:?}"
    );
    assert!(names.contains(&"gpt (backup header)"), "{names:?}");
    drop(l);

    assert_eq!(wipefs(&disk.path), "");
    assert_eq!(blkid_at(&disk.path, p1.0, p1.1), "");
    assert_eq!(blkid_at(&disk.path, p2.0, p2.1), "");
}

#[test]
fn whole_loop_device_pv_is_wiped_and_discard_is_reported() {
    let disk = img("disk.img", 64 * MIB);
    let l = Loop::new(&disk.path, 0, None);
    run("pvcreate", &["-ff", "-y", l.path()]);
    assert!(run("wipefs", &["-n", l.path()]).contains("LVM2_member"));
    let t = Target::inspect(Path::new(l.path())).unwrap();
    let r = disk::wipe(&t, true, &Events::silent()).unwrap();
    assert!(
        r.found.iter().any(|f| f.name == "LVM2 PV label"),
        "{:?}",
        r.found
    );
    assert!(
        r.discarded,
        "loop devices support BLKDISCARD (punch hole in the file)"
    );
    assert_eq!(run("wipefs", &["-n", l.path()]).trim(), "");
    assert_eq!(blkid_at(&disk.path, 0, 64 * MIB), "");
}

#[test]
fn mounted_loop_device_is_refused_and_left_intact() {
    let disk = img("disk.img", 64 * MIB);
    let l = Loop::new(&disk.path, 0, None);
    run("mkfs.ext4", &["-q", "-F", l.path()]);
    let m = Mounted::new(l.path());
    run("sync", &[]);
    let before = sha(&disk.path);

    let t = Target::inspect(Path::new(l.path())).unwrap();
    let e = disk::check_safe(&t).unwrap_err();
    let refusal = e.downcast_ref::<Refusal>().expect("a Refusal (exit 5)");
    let mp = m.0.to_str().unwrap();
    assert!(
        refusal.0.contains(mp),
        "names the mount point: {}",
        refusal.0
    );
    assert!(refusal.0.contains("is mounted on"), "{}", refusal.0);

    // Through the `rdinstall wipe` entry point: exit code 5, nothing written.
    let f = rdinstall::frontend::disks::wipe(Path::new(l.path()), false, &Events::silent())
        .unwrap_err();
    assert_eq!(f.code, ExitCode::Refused);
    assert!(f.chain().contains(mp), "{}", f.chain());

    // The image file itself, while a loop device over it is mounted: refused too.
    let tf = Target::inspect(&disk.path).unwrap();
    let e = disk::check_safe(&tf).unwrap_err();
    assert!(
        e.downcast_ref::<Refusal>()
            .is_some_and(|r| r.0.contains(mp)),
        "{e:#}"
    );

    run("sync", &[]);
    drop(m);
    assert_eq!(sha(&disk.path), before, "refused disk was modified");
    assert!(blkid_at(&disk.path, 0, 64 * MIB).contains("ext4"));
}

#[test]
fn loop_disk_is_refused_when_a_partition_loop_over_the_same_file_is_mounted() {
    let disk = img("disk.img", 100 * MIB);
    run("sgdisk", &["-n1:2048:+64M", disk.path.to_str().unwrap()]);
    let part = Loop::new(&disk.path, 2048 * 512, Some(64 * MIB));
    run("mkfs.ext4", &["-q", "-F", part.path()]);
    let m = Mounted::new(part.path());
    let whole = Loop::new(&disk.path, 0, None);
    let t = Target::inspect(Path::new(whole.path())).unwrap();
    let e = disk::check_safe(&t).unwrap_err();
    let msg = &e.downcast_ref::<Refusal>().expect("a Refusal").0;
    assert!(msg.contains(m.0.to_str().unwrap()), "{msg}");
    drop(m);
    // Unmounted: the same disk is fine to wipe.
    disk::check_safe(&t).unwrap();
}

#[test]
fn file_target_that_is_not_in_use_passes_the_safety_check() {
    let disk = img("disk.img", 8 * MIB);
    let t = Target::inspect(&disk.path).unwrap();
    disk::check_safe(&t).unwrap();
    let r = disk::wipe(&t, true, &Events::silent()).unwrap();
    assert!(r.found.is_empty());
}

#[test]
fn gpt_image_with_btrfs_bcache_iso9660_and_md11_is_wiped_clean() {
    let size = 300 * MIB;
    let disk = img("disk.img", size);
    run(
        "sgdisk",
        &[
            "-n1:2048:+128M",
            "-n2:0:+32M",
            "-n3:0:+8M",
            "-n4:0:+8M",
            disk.path.to_str().unwrap(),
        ],
    );
    let p1 = (2048 * 512, 128 * MIB);
    let p2 = (p1.0 + p1.1, 32 * MIB);
    let p3 = (p2.0 + p2.1, 8 * MIB);
    let p4 = (p3.0 + p3.1, 8 * MIB);
    let btrfs = part_image(p1.1, |p| drop(run("mkfs.btrfs", &["-q", "-f", p])));
    copy_at(&btrfs.path, &disk.path, p1.0);
    let bcache = part_image(p2.1, |p| drop(run("make-bcache", &["-B", p])));
    copy_at(&bcache.path, &disk.path, p2.0);
    let isodir = tempfile::tempdir().unwrap();
    std::fs::write(isodir.path().join("hello.txt"), "hello").unwrap();
    let iso = img("cd.iso", 0);
    run(
        "genisoimage",
        &[
            "-quiet",
            "-o",
            iso.path.to_str().unwrap(),
            isodir.path().to_str().unwrap(),
        ],
    );
    copy_at(&iso.path, &disk.path, p3.0);
    // md 1.1: superblock at sector 0 of the member.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&disk.path)
        .unwrap();
    f.write_all_at(&md1_superblock(0, 2048), p4.0).unwrap();
    drop(f);
    let before = [
        (p1, "btrfs"),
        (p2, "bcache"),
        (p3, "iso9660"),
        (p4, "linux_raid_member"),
    ];
    for ((off, len), t) in before {
        let seen = blkid_at(&disk.path, off, len);
        assert!(
            seen.contains(&format!("TYPE=\"{t}\"")),
            "{t} before: {seen}"
        );
    }

    let r = wipe_target(&disk.path);
    let names: Vec<&str> = r.found.iter().map(|f| f.name.as_str()).collect();
    for want in ["btrfs", "bcache", "iso9660", "md raid 1.1 superblock"] {
        assert!(names.contains(&want), "{want} not reported: {names:?}");
    }
    assert_eq!(wipefs(&disk.path), "");
    for ((off, len), t) in before {
        assert_eq!(blkid_at(&disk.path, off, len), "", "{t} after wipe");
    }
}

#[test]
fn gpt_backup_of_a_grown_disk_is_found_through_the_primary_header() {
    let disk = img("disk.img", 64 * MIB);
    run("sgdisk", &["-n1:2048:+16M", disk.path.to_str().unwrap()]);
    // The disk "grows": the backup header stays at the old end, 64 MiB - 512.
    File::options()
        .write(true)
        .open(&disk.path)
        .unwrap()
        .set_len(128 * MIB)
        .unwrap();
    let old_backup = 64 * MIB - 512;
    let read8 = |off: u64| {
        let mut b = [0u8; 8];
        File::open(&disk.path)
            .unwrap()
            .read_exact_at(&mut b, off)
            .unwrap();
        b
    };
    assert_eq!(&read8(old_backup), b"EFI PART");
    let r = wipe_target(&disk.path);
    assert!(
        r.found
            .iter()
            .any(|f| f.name == "gpt (backup header)" && f.offset == old_backup),
        "{:?}",
        r.found
    );
    assert_eq!(read8(old_backup), [0u8; 8]);
    assert_eq!(wipefs(&disk.path), "");
}

/// Swap on our own loop device, turned off on drop if the test did not.
struct SwapOn(String);

impl Drop for SwapOn {
    fn drop(&mut self) {
        let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
        if swaps
            .lines()
            .any(|l| l.split_whitespace().next() == Some(&self.0))
        {
            let _ = Command::new("swapoff").arg(&self.0).status();
        }
    }
}

/// stdout and stderr of a run of the binary, for matching and for failure messages.
fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn swap_active(dev: &str) -> bool {
    std::fs::read_to_string("/proc/swaps")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().next() == Some(dev))
}

/// `swapon DEV` after `mkswap`; the guard turns it off on drop if the test did not. Declare
/// it after the loop device, so it drops (swapoff) before the loop is detached.
fn swapon(dev: &str) -> SwapOn {
    run("mkswap", &["-q", dev]);
    run("swapon", &[dev]);
    assert!(swap_active(dev));
    SwapOn(dev.to_string())
}

#[test]
fn active_swap_passes_check_safe_and_is_turned_off_by_wipe() {
    let disk = img("disk.img", 16 * MIB);
    let l = Loop::new(&disk.path, 0, None);
    let _guard = swapon(l.path());

    // SPEC: swap is torn down by the wipe, so it is no reason to refuse; the check names it.
    let t = Target::inspect(Path::new(l.path())).unwrap();
    let u = disk::check_safe(&t).unwrap();
    assert_eq!(u.swap, [l.path()]);
    assert!(u.refusals.is_empty(), "{u:?}");
    assert!(swap_active(l.path()), "the check itself changes nothing");

    let r = disk::wipe(&t, false, &Events::silent()).unwrap();
    assert_eq!(r.teardown, [format!("swapoff {}", l.path())]);
    assert!(r.found.iter().any(|f| f.name == "swap"), "{:?}", r.found);
    assert!(!swap_active(l.path()));
    assert_eq!(blkid_at(&disk.path, 0, 16 * MIB), "");
}

/// A disk file with an MBR: partition 1 (16 MiB at 1 MiB) is swap, active through a loop
/// device at its offset, the way the host reaches partitions without partition scanning.
fn disk_with_swap_partition() -> Img {
    let disk = img("disk.img", 64 * MIB);
    run_stdin(
        "sfdisk",
        &["-q", disk.path.to_str().unwrap()],
        "start=2048, size=32768, type=82\nstart=34816, type=83\n",
    );
    disk
}

#[test]
fn install_onto_a_disk_file_turns_off_swap_on_its_partition() {
    let disk = disk_with_swap_partition();
    let p1 = Loop::new(&disk.path, MIB, Some(16 * MIB));
    let _guard = swapon(p1.path());
    // A small raw disk image: its own MBR, partition 1 at 1 MiB.
    let image = img("image.raw", 4 * MIB);
    run_stdin(
        "sfdisk",
        &["-q", image.path.to_str().unwrap()],
        "start=2048, type=83\n",
    );
    let bin = env!("CARGO_BIN_EXE_rdinstall");
    let install = |extra: &[&str]| {
        let mut args = vec![
            "install",
            "--image",
            image.path.to_str().unwrap(),
            "--disk",
            disk.path.to_str().unwrap(),
            "--yes",
        ];
        args.extend_from_slice(extra);
        let o = Command::new(bin)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (o.status.code(), output_text(&o))
    };

    // The plan says what will happen, and preflight changes nothing.
    let (code, text) = install(&["--dry-run"]);
    assert_eq!(code, Some(0), "{text}");
    let line = format!(
        "active swap on {} will be turned off in the wipe",
        p1.path()
    );
    assert!(text.contains(&line), "{text}");
    assert!(swap_active(p1.path()), "a dry run must not turn swap off");

    let (code, text) = install(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("turning off swap on {}", p1.path())),
        "{text}"
    );
    assert!(!swap_active(p1.path()));
    let mut head = vec![0u8; 512];
    File::open(&disk.path)
        .unwrap()
        .read_exact_at(&mut head, 0)
        .unwrap();
    let mut want = vec![0u8; 512];
    File::open(&image.path)
        .unwrap()
        .read_exact_at(&mut want, 0)
        .unwrap();
    assert_eq!(head, want, "the image's MBR is on the disk");
}

#[test]
fn wipe_of_a_loop_disk_turns_off_swap_on_a_partition_loop_but_a_mount_still_refuses() {
    let disk = disk_with_swap_partition();
    let whole = Loop::new(&disk.path, 0, None);
    let p1 = Loop::new(&disk.path, MIB, Some(16 * MIB));
    let p2 = Loop::new(&disk.path, 17 * MIB, Some(47 * MIB));
    run("mkfs.ext4", &["-q", "-F", p2.path()]);
    let swap = swapon(p1.path());
    let bin = env!("CARGO_BIN_EXE_rdinstall");
    let wipe = || {
        Command::new(bin)
            .args(["wipe", "--disk", whole.path(), "--yes"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };

    // Mounted: refused (exit 5) for the mount alone, and the swap is left alone too.
    let m = Mounted::new(p2.path());
    let o = wipe();
    let out = output_text(&o);
    assert_eq!(o.status.code(), Some(5), "{out}");
    let p2_name = p2.path().trim_start_matches("/dev/");
    assert!(out.contains(&format!("{p2_name} is mounted on")), "{out}");
    assert!(!out.contains("swap"), "swap is no refusal reason: {out}");
    assert!(swap_active(p1.path()));
    drop(m);

    let o = wipe();
    let out = output_text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!("turning off swap on {}", p1.path())),
        "{out}"
    );
    assert!(!swap_active(p1.path()));
    drop(swap);
    assert_eq!(wipefs(&disk.path), "");
    assert_eq!(blkid_at(&disk.path, MIB, 16 * MIB), "");
}

#[test]
fn library_wipe_refuses_a_mounted_disk_even_without_preflight() {
    let disk = img("disk.img", 32 * MIB);
    let l = Loop::new(&disk.path, 0, None);
    run("mkfs.ext4", &["-q", "-F", l.path()]);
    let m = Mounted::new(l.path());
    let before = sha(&disk.path);
    let t = Target::inspect(Path::new(l.path())).unwrap();
    let e = disk::wipe(&t, true, &Events::silent()).unwrap_err();
    let msg = &e.downcast_ref::<Refusal>().expect("a Refusal").0;
    assert!(msg.contains(m.0.to_str().unwrap()), "{msg}");
    drop(m);
    assert_eq!(sha(&disk.path), before);
}
