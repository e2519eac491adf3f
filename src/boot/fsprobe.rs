//! Small superblock readers: filesystem type, UUID and label of ext2/3/4, xfs, btrfs, vfat.
//!
//! Our own instead of blkid: the ramdisk has no util-linux, and we only need four formats.
//! The input is untrusted (whatever the image put on the disk): every read is bounds-checked,
//! a short device is "no filesystem", and nothing here panics on garbage.

use crate::disk::read_at::ReadAt;
pub use crate::disk::read_at::Window;
use serde::Serialize;
use std::io;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsKind {
    Ext2,
    Ext3,
    Ext4,
    Xfs,
    Btrfs,
    Vfat,
}

impl FsKind {
    /// The name blkid and /proc/filesystems use.
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Ext2 => "ext2",
            FsKind::Ext3 => "ext3",
            FsKind::Ext4 => "ext4",
            FsKind::Xfs => "xfs",
            FsKind::Btrfs => "btrfs",
            FsKind::Vfat => "vfat",
        }
    }

    /// Filesystem types to try with mount(2), best first. The ext4 driver mounts ext2/3 too,
    /// and some kernels have no separate ext2/ext3 driver.
    pub fn mount_types(self) -> &'static [&'static str] {
        match self {
            FsKind::Ext2 => &["ext4", "ext2"],
            FsKind::Ext3 => &["ext4", "ext3"],
            FsKind::Ext4 => &["ext4"],
            FsKind::Xfs => &["xfs"],
            FsKind::Btrfs => &["btrfs"],
            FsKind::Vfat => &["vfat"],
        }
    }
}

impl std::fmt::Display for FsKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsInfo {
    pub kind: FsKind,
    /// As blkid prints it: `8-4-4-4-12` lowercase hex, or `XXXX-XXXX` for vfat.
    pub uuid: String,
    pub label: Option<String>,
}

/// Identify the filesystem at the start of `dev` (a partition, or a [`Window`] on one).
/// `Ok(None)`: none of the known formats.
pub fn probe(dev: &(impl ReadAt + ?Sized)) -> io::Result<Option<FsInfo>> {
    // Order: formats with a magic far from the start first, so a vfat-looking boot sector left
    // in front of another filesystem (mkfs does not always clear it) does not win.
    if let Some(i) = probe_btrfs(dev)? {
        return Ok(Some(i));
    }
    if let Some(i) = probe_ext(dev)? {
        return Ok(Some(i));
    }
    if let Some(i) = probe_xfs(dev)? {
        return Ok(Some(i));
    }
    probe_vfat(dev)
}

fn le16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// `8-4-4-4-12` lowercase hex of 16 bytes in on-disk order.
pub fn format_uuid(u: &[u8]) -> String {
    let h = hex::encode(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A label field: up to the first NUL, trailing spaces trimmed, invalid UTF-8 replaced.
fn label(raw: &[u8]) -> Option<String> {
    let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
    let s = String::from_utf8_lossy(&raw[..end]).trim_end().to_string();
    (!s.is_empty()).then_some(s)
}

// ext2/3/4: superblock at 1024; s_magic 0xEF53 at 0x38, s_uuid at 0x68, s_volume_name at 0x78.
const EXT_COMPAT_HAS_JOURNAL: u32 = 0x4;
// Incompat features ext3 does not know: extents, 64bit, flex_bg, mmp, inline data, ...
const EXT_INCOMPAT_EXT4_ONLY: u32 = 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x1000 | 0x8000;
const EXT_INCOMPAT_JOURNAL_DEV: u32 = 0x8;

fn probe_ext(dev: &(impl ReadAt + ?Sized)) -> io::Result<Option<FsInfo>> {
    let Some(sb) = dev.read_bytes_at(1024, 1024)? else {
        return Ok(None);
    };
    if le16(&sb, 0x38) != 0xEF53 {
        return Ok(None);
    }
    let compat = le32(&sb, 0x5C);
    let incompat = le32(&sb, 0x60);
    if incompat & EXT_INCOMPAT_JOURNAL_DEV != 0 {
        // An external journal device, not a filesystem one could mount.
        return Ok(None);
    }
    let kind = if incompat & EXT_INCOMPAT_EXT4_ONLY != 0 {
        FsKind::Ext4
    } else if compat & EXT_COMPAT_HAS_JOURNAL != 0 {
        FsKind::Ext3
    } else {
        FsKind::Ext2
    };
    Ok(Some(FsInfo {
        kind,
        uuid: format_uuid(&sb[0x68..0x78]),
        label: label(&sb[0x78..0x88]),
    }))
}

// xfs: big-endian superblock at 0; "XFSB", sb_uuid at 32, sb_fname[12] at 108.
fn probe_xfs(dev: &(impl ReadAt + ?Sized)) -> io::Result<Option<FsInfo>> {
    let Some(sb) = dev.read_bytes_at(0, 512)? else {
        return Ok(None);
    };
    if &sb[0..4] != b"XFSB" {
        return Ok(None);
    }
    // A sane block size guards against a stray "XFSB" at the start of something else.
    let bs = be32(&sb, 4);
    if !(512..=65536).contains(&bs) || !bs.is_power_of_two() {
        return Ok(None);
    }
    Ok(Some(FsInfo {
        kind: FsKind::Xfs,
        uuid: format_uuid(&sb[32..48]),
        label: label(&sb[108..120]),
    }))
}

// btrfs: superblock at 64 KiB; fsid at 0x20, magic "_BHRfS_M" at 0x40, label[256] at 0x12b.
fn probe_btrfs(dev: &(impl ReadAt + ?Sized)) -> io::Result<Option<FsInfo>> {
    let Some(sb) = dev.read_bytes_at(0x10000, 0x12b + 256)? else {
        return Ok(None);
    };
    if &sb[0x40..0x48] != b"_BHRfS_M" {
        return Ok(None);
    }
    Ok(Some(FsInfo {
        kind: FsKind::Btrfs,
        uuid: format_uuid(&sb[0x20..0x30]),
        label: label(&sb[0x12b..0x12b + 256]),
    }))
}

// vfat: boot sector at 0. FAT32 has "FAT32   " at 0x52, the volume id at 0x43 and the label at
// 0x47; FAT12/16 have "FAT1x" at 0x36, the id at 0x27, the label at 0x2b.
fn probe_vfat(dev: &(impl ReadAt + ?Sized)) -> io::Result<Option<FsInfo>> {
    let Some(bs) = dev.read_bytes_at(0, 512)? else {
        return Ok(None);
    };
    if bs[510] != 0x55 || bs[511] != 0xAA {
        return Ok(None);
    }
    let sector = le16(&bs, 11);
    let per_cluster = bs[13];
    let reserved = le16(&bs, 14);
    let fats = bs[16];
    let sane = matches!(sector, 512 | 1024 | 2048 | 4096)
        && per_cluster != 0
        && per_cluster.is_power_of_two()
        && reserved != 0
        && (1..=4).contains(&fats);
    if !sane {
        return Ok(None);
    }
    let (id_off, label_off) = if &bs[0x52..0x57] == b"FAT32" {
        (0x43, 0x47)
    } else if &bs[0x36..0x39] == b"FAT" || &bs[0x36..0x3B] == b"MSDOS" {
        (0x27, 0x2b)
    } else {
        return Ok(None);
    };
    let id = le32(&bs, id_off);
    let uuid = format!("{:04X}-{:04X}", id >> 16, id & 0xFFFF);
    // mkfs.vfat writes "NO NAME" when there is no label.
    let label = label(&bs[label_off..label_off + 11]).filter(|l| l != "NO NAME");
    Ok(Some(FsInfo {
        kind: FsKind::Vfat,
        uuid,
        label,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Run a mkfs tool on a fresh sparse file; `None` when the tool is not installed.
    fn mkfs(tool: &str, size: u64, args: &[&str]) -> Option<(tempfile::TempDir, Vec<u8>)> {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("fs.img");
        std::fs::File::create(&img).unwrap().set_len(size).unwrap();
        let out = match Command::new(tool).args(args).arg(&img).output() {
            Ok(o) => o,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(e) => panic!("{tool}: {e}"),
        };
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&img).unwrap();
        Some((d, bytes))
    }

    fn blkid(img: &std::path::Path, tag: &str) -> String {
        let out = Command::new("blkid")
            .args(["-p", "-o", "value", "-s", tag])
            .arg(img)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn check(tool: &str, size: u64, args: &[&str], kind: FsKind, want_label: Option<&str>) {
        let Some((d, bytes)) = mkfs(tool, size, args) else {
            // scripts/test.sh installs every mkfs tool and sets RDINSTALL_REQUIRE_QEMU=1:
            // there a missing tool is a failure, never a silent pass.
            assert!(
                std::env::var_os("RDINSTALL_REQUIRE_QEMU").is_none_or(|v| v != "1"),
                "{tool} is not installed and RDINSTALL_REQUIRE_QEMU=1 forbids skipping"
            );
            eprintln!("{tool} not installed; skipping");
            return;
        };
        let info = probe(&bytes[..]).unwrap().expect("detected");
        assert_eq!(info.kind, kind);
        assert_eq!(info.label.as_deref(), want_label);
        let img = d.path().join("fs.img");
        assert_eq!(info.uuid, blkid(&img, "UUID"), "UUID as blkid reads it");
        assert_eq!(info.kind.name(), blkid(&img, "TYPE"));
    }

    #[test]
    fn ext4_from_mkfs() {
        check(
            "mkfs.ext4",
            16 << 20,
            &["-q", "-F", "-L", "rootfs"],
            FsKind::Ext4,
            Some("rootfs"),
        );
    }

    #[test]
    fn ext3_and_ext2_from_mkfs() {
        check("mkfs.ext3", 16 << 20, &["-q", "-F"], FsKind::Ext3, None);
        check(
            "mkfs.ext2",
            16 << 20,
            &["-q", "-F", "-L", "old"],
            FsKind::Ext2,
            Some("old"),
        );
    }

    #[test]
    fn xfs_from_mkfs() {
        check(
            "mkfs.xfs",
            300 << 20,
            &["-q", "-f", "-L", "xroot"],
            FsKind::Xfs,
            Some("xroot"),
        );
    }

    #[test]
    fn btrfs_from_mkfs() {
        check(
            "mkfs.btrfs",
            128 << 20,
            &["-q", "-f", "-L", "broot"],
            FsKind::Btrfs,
            Some("broot"),
        );
    }

    #[test]
    fn vfat_from_mkfs() {
        check(
            "mkfs.vfat",
            64 << 20,
            &["-F", "32", "-n", "EFI"],
            FsKind::Vfat,
            Some("EFI"),
        );
        check("mkfs.vfat", 32 << 20, &["-F", "16"], FsKind::Vfat, None);
        check(
            "mkfs.vfat",
            2 << 20,
            &["-F", "12", "-n", "small"],
            FsKind::Vfat,
            Some("small"),
        );
    }

    #[test]
    fn through_a_window_at_an_offset() {
        let (_d, fs) = mkfs("mkfs.ext4", 8 << 20, &["-q", "-F"]).unwrap();
        let mut disk = vec![0xAAu8; 1 << 20];
        disk.extend_from_slice(&fs);
        let w = Window::new(&disk[..], 1 << 20, fs.len() as u64);
        let a = probe(&w).unwrap().unwrap();
        let b = probe(&fs[..]).unwrap().unwrap();
        assert_eq!(a, b);
        // Window ends where the partition ends.
        let w = Window::new(&disk[..], 1 << 20, 100);
        assert_eq!(
            w.read_bytes_at(0, 100).unwrap(),
            Some(disk[1 << 20..][..100].to_vec())
        );
        assert_eq!(w.read_bytes_at(0, 101).unwrap(), None);
        assert_eq!(w.read_bytes_at(100, 1).unwrap(), None);
    }

    /// Real superblocks with random bytes changed, and cut at random lengths: never a panic.
    #[test]
    fn mutated_superblocks_never_panic() {
        let mut x: u64 = 0x2545F4914F6CDD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut detected = 0;
        for (tool, size, args) in [
            ("mkfs.ext4", 8u64 << 20, &["-q", "-F"][..]),
            ("mkfs.vfat", 8 << 20, &[][..]),
            ("mkfs.xfs", 300 << 20, &["-q", "-f"][..]),
        ] {
            let Some((_d, bytes)) = mkfs(tool, size, args) else {
                continue;
            };
            // Only the first 128 KiB hold what the readers look at.
            let head = &bytes[..0x20000];
            for _ in 0..2000 {
                let mut m = head.to_vec();
                for _ in 0..(next() % 16 + 1) {
                    let i = (next() % 0x1200) as usize;
                    m[i] = next() as u8;
                }
                let cut = (next() % 0x20000) as usize;
                let _ = probe(&m[..cut]).unwrap();
                if probe(&m[..]).unwrap().is_some() {
                    detected += 1;
                }
            }
        }
        // Most single-digit mutations leave the magic intact: the readers still answer.
        assert!(detected > 1000, "{detected}");
    }

    #[test]
    fn garbage_short_and_empty_are_none() {
        assert_eq!(probe(&Vec::<u8>::new()[..]).unwrap(), None);
        assert_eq!(probe(&vec![0u8; 100][..]).unwrap(), None);
        assert_eq!(probe(&vec![0u8; 1 << 20][..]).unwrap(), None);
        // Pseudo-random bytes, with each magic planted in turn and the rest left as garbage.
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let mut noise = vec![0u8; 0x20000];
        for b in noise.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        assert_eq!(probe(&noise[..]).unwrap(), None);
        let mut ext = noise.clone();
        ext[1024 + 0x38] = 0x53;
        ext[1024 + 0x39] = 0xEF;
        ext[1024 + 0x60..1024 + 0x64].copy_from_slice(&[0, 0, 0, 0]);
        let i = probe(&ext[..]).unwrap().unwrap();
        assert_eq!(i.kind.name().get(..3), Some("ext"));
        let mut btr = noise.clone();
        btr[0x10040..0x10048].copy_from_slice(b"_BHRfS_M");
        assert_eq!(probe(&btr[..]).unwrap().unwrap().kind, FsKind::Btrfs);
        // Truncated right after the btrfs magic: label out of range is "not btrfs", no panic.
        assert!(probe(&btr[..0x10050]).is_ok());
        let mut fat = noise.clone();
        fat[510] = 0x55;
        fat[511] = 0xAA;
        // Garbage BPB: rejected.
        fat[11] = 3;
        assert_eq!(probe(&fat[..]).unwrap(), None);
    }
}
