//! Shared fixtures for the boot and config tests (included with `#[path]`; as its own test
//! crate it holds no tests). Everything lives on sparse files in a temporary directory;
//! loop devices made here are detached by guards, also when an assertion fails.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const MIB: u64 = 1 << 20;
pub const MBR_BIN: &str = "/usr/lib/syslinux/mbr/mbr.bin";
pub const GPTMBR_BIN: &str = "/usr/lib/syslinux/mbr/gptmbr.bin";

/// The extlinux.conf of a live CD as seed 000 found it (isolinux.cfg renamed).
pub const LIVE_CONF: &str = "default linux0\ntimeout 10\n\nlabel linux0\n  kernel /boot/vmlinuz\n  \
append initrd=/boot/initrd.img root=live:CDLABEL=openstack-LiveCD rootfstype=auto ro rd.live.image quiet\n";

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A root filesystem tree: /etc, /usr, /var, /boot/vmlinuz and /boot/initrd.img (dummies),
/// and optionally a live CD's extlinux.conf.
pub fn rootfs_tree(dir: &Path, live_conf: bool) {
    for d in ["etc", "usr/bin", "var/lib", "boot"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::write(dir.join("etc/hostname"), "live\n").unwrap();
    fs::write(dir.join("boot/vmlinuz"), dummy_kernel()).unwrap();
    fs::write(dir.join("boot/initrd.img"), vec![0x1f; 4096]).unwrap();
    if live_conf {
        fs::create_dir_all(dir.join("boot/extlinux")).unwrap();
        fs::write(dir.join("boot/extlinux/extlinux.conf"), LIVE_CONF).unwrap();
    }
}

/// A kernel stand-in with a zero MiB in the middle: `mkfs.ext4 -d` stores it with a hole,
/// which syslinux cannot read, so the bootloader stage must rewrite it densely.
pub fn dummy_kernel() -> Vec<u8> {
    let mut k = vec![0x4b; 64 << 10];
    k.extend(vec![0u8; 1 << 20]);
    k.extend(vec![0x4b; 64 << 10]);
    k
}

/// `mkfs.ext4 -d tree` on a fresh sparse file of `size` bytes.
pub fn mkfs_ext4(img: &Path, size: u64, tree: &Path, label: &str) {
    File::create(img).unwrap().set_len(size).unwrap();
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", label, "-d"])
        .arg(tree)
        .arg(img));
}

pub fn sparse(path: &Path, size: u64) {
    File::create(path).unwrap().set_len(size).unwrap();
}

pub fn open_rw(p: &Path) -> File {
    OpenOptions::new().read(true).write(true).open(p).unwrap()
}

/// Copy `src` into `dst` at byte `offset` (what the write stage does with a rootfs image).
pub fn copy_at(src: &Path, dst: &Path, offset: u64) {
    let mut s = File::open(src).unwrap();
    let mut d = open_rw(dst);
    d.seek(SeekFrom::Start(offset)).unwrap();
    let mut buf = vec![0u8; MIB as usize];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        d.write_all(&buf[..n]).unwrap();
    }
    d.sync_all().unwrap();
}

pub fn read_at(p: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut f = File::open(p).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut v = vec![0u8; len];
    f.read_exact(&mut v).unwrap();
    v
}

/// A read-only loop device made by losetup (not by the code under test), detached on drop.
pub struct Losetup(pub PathBuf);

impl Losetup {
    pub fn at(file: &Path, offset: u64, size: u64) -> Losetup {
        let out = run(Command::new("losetup")
            .args(["-r", "-f", "--show", "-o"])
            .arg(offset.to_string())
            .arg("--sizelimit")
            .arg(size.to_string())
            .arg(file));
        Losetup(PathBuf::from(out.trim()))
    }

    pub fn blkid(&self, tag: &str) -> String {
        run(Command::new("blkid")
            .args(["-p", "-o", "value", "-s", tag])
            .arg(&self.0))
        .trim()
        .to_string()
    }

    /// `debugfs -R REQUEST` (read-only) on the device.
    pub fn debugfs(&self, request: &str) -> String {
        let out = Command::new("debugfs")
            .arg("-R")
            .arg(request)
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn cat(&self, path: &str) -> String {
        self.debugfs(&format!("cat {path}"))
    }

    /// The permission bits of `path` from `debugfs stat` (`Mode:  0600`), `None` if missing.
    pub fn mode(&self, path: &str) -> Option<u32> {
        let out = self.debugfs(&format!("stat {path}"));
        let i = out.find("Mode:")?;
        let m = out[i + 5..].split_whitespace().next()?;
        u32::from_str_radix(m, 8).ok()
    }

    /// Bytes allocated to `path` (debugfs `Blockcount`, in 512-byte units).
    pub fn allocated(&self, path: &str) -> u64 {
        let out = self.debugfs(&format!("stat {path}"));
        let i = out.find("Blockcount:").expect("no Blockcount");
        out[i + 11..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 512
    }

    /// `e2fsck -fn`: the filesystem is consistent after our writes.
    pub fn fsck(&self) {
        run(Command::new("e2fsck").arg("-fn").arg(&self.0));
    }
}

impl Drop for Losetup {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

/// No loop device over `file` (and so no mount through one) is left behind. The kernel
/// detaches an autoclear loop device after its last close from a work queue, so a device
/// still listed right after the unmount is given a few seconds to go (a device really left
/// behind stays, and fails).
pub fn assert_nothing_left(file: &Path) {
    // Our mounts go through loop devices over the file (autoclear keeps one while it is
    // mounted), so no loop over it means no mount of it either.
    let name = file.to_str().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let loops = run(Command::new("losetup").arg("-a"));
        if !loops.lines().any(|l| l.contains(name)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a loop device over {name} is left behind:\n{loops}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs `sfdisk -q ARGS DISK` with `script` on its standard input (a partition table the
/// way an administrator writes one).
pub fn sfdisk(disk: &Path, args: &[&str], script: &str) {
    use std::io::Write;
    let mut c = Command::new("sfdisk")
        .arg("-q")
        .args(args)
        .arg(disk)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("running sfdisk (apt-get install fdisk)");
    c.stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(
        c.wait().unwrap().success(),
        "sfdisk {args:?} {}",
        disk.display()
    );
}

/// Partition table as sfdisk reads it.
pub fn sfdisk_json(disk: &Path) -> serde_json::Value {
    let out = run(Command::new("sfdisk").arg("--json").arg(disk));
    serde_json::from_str(&out).unwrap()
}
