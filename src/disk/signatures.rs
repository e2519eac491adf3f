//! Every on-disk signature the wipe knows, where it lives, and how much around it is
//! erased. One table, offsets documented; `probe` finds them in an area (the whole disk or
//! one partition), the wipe zeroes them.
//!
//! LUKS headers are recognised with the `blkid-rs` crate (it parses the LUKS1/LUKS2 binary
//! header and gives LUKS2's header size, i.e. where the secondary header sits). Everything
//! else is matched here against magic bytes at the offsets libblkid/wipefs use, taken from
//! each format's on-disk layout (kernel and tool sources): blkid-rs knows only LUKS.
//!
//! Erasing means zeroing the 512-byte sector that holds the magic (`Erase::Sector`), or a
//! fixed range for headers whose identity spans more (`Erase::Range`). That is enough for
//! blkid, the kernel and every auto-assembler (LVM, mdadm, cryptsetup) to see nothing, and
//! it never touches data elsewhere: this is not a secure erase.

use super::parttable::ReadAt;
use serde::Serialize;

/// Where a magic sits, relative to an area of `len` bytes.
#[derive(Clone, Copy)]
pub enum Loc {
    /// Byte offset from the start of the area.
    Start(u64),
    /// Computed from the area's length (end-of-device formats).
    End(fn(u64) -> Option<u64>),
}

#[derive(Clone, Copy)]
pub enum Erase {
    /// The 512-byte sector containing the magic.
    Sector,
    /// `len` bytes starting at the magic.
    Range(u64),
}

pub struct Sig {
    pub name: &'static str,
    pub magic: &'static [u8],
    pub at: Loc,
    pub erase: Erase,
}

const fn s(name: &'static str, magic: &'static [u8], off: u64) -> Sig {
    Sig {
        name,
        magic,
        at: Loc::Start(off),
        erase: Erase::Sector,
    }
}

const fn e(name: &'static str, magic: &'static [u8], f: fn(u64) -> Option<u64>) -> Sig {
    Sig {
        name,
        magic,
        at: Loc::End(f),
        erase: Erase::Sector,
    }
}

const MD_MAGIC_LE: &[u8] = &[0xfc, 0x4e, 0x2b, 0xa9]; // 0xa92b4efc, little-endian
const MD_MAGIC_BE: &[u8] = &[0xa9, 0x2b, 0x4e, 0xfc];
const SWAP: &[u8] = b"SWAPSPACE2";
const SWAP_OLD: &[u8] = b"SWAP-SPACE";
const BCACHE: &[u8] = &[
    0xc6, 0x85, 0x73, 0xf6, 0x4e, 0x1a, 0x45, 0xca, 0x82, 0x65, 0xf5, 0x7f, 0x48, 0xba, 0x6d, 0x81,
];
const LUKS2_SECONDARY: &[u8] = b"SKUL\xba\xbe";

/// md 0.90: a 64 KiB superblock area at the last 64 KiB-aligned 64 KiB of the device.
fn md090(len: u64) -> Option<u64> {
    (len & !0xffff).checked_sub(0x10000)
}
/// md 1.0: 8 KiB from the end, rounded down to 4 KiB (`(sectors - 16) & ~7`).
fn md10(len: u64) -> Option<u64> {
    Some(((len >> 9).checked_sub(16)? & !7) << 9)
}
fn last_512(len: u64) -> Option<u64> {
    len.checked_sub(512).filter(|_| len.is_multiple_of(512))
}
fn last_4096(len: u64) -> Option<u64> {
    len.checked_sub(4096).filter(|_| len.is_multiple_of(4096))
}

/// The table. Offsets are where the magic starts.
pub static TABLE: &[Sig] = &[
    // MBR (and the boot-sector mark of FAT/NTFS, and EBRs): 0x55AA at 510. Its sector goes
    // whole: boot code, the four partition entries and the mark.
    s("dos partition table (MBR)", &[0x55, 0xaa], 510),
    // GPT header "EFI PART" at LBA 1 and, as backup, at the last LBA (512 and 4K sectors).
    s("gpt (primary header)", b"EFI PART", 512),
    s("gpt (primary header, 4K sectors)", b"EFI PART", 4096),
    e("gpt (backup header)", b"EFI PART", last_512),
    e("gpt (backup header, 4K sectors)", b"EFI PART", last_4096),
    // ext2/3/4: superblock at 1024, s_magic 0xEF53 (LE) at +0x38.
    s("ext2/3/4", &[0x53, 0xef], 1024 + 0x38),
    // xfs: superblock at 0 starts with "XFSB".
    s("xfs", b"XFSB", 0),
    // btrfs: superblock at 64 KiB, copies at 64 MiB and 256 GiB; magic at +0x40.
    s("btrfs", b"_BHRfS_M", 0x10000 + 0x40),
    s("btrfs (backup superblock)", b"_BHRfS_M", 0x400_0000 + 0x40),
    s(
        "btrfs (backup superblock)",
        b"_BHRfS_M",
        0x40_0000_0000 + 0x40,
    ),
    // vfat: boot sector file-system type string, FAT12/16 at 0x36, FAT32 at 0x52.
    s("vfat (FAT32)", b"FAT32   ", 0x52),
    s("vfat (FAT16)", b"FAT16   ", 0x36),
    s("vfat (FAT12)", b"FAT12   ", 0x36),
    s("vfat", b"FAT     ", 0x36),
    // swap: last 10 bytes of the first page; page sizes 4K, 8K, 16K, 64K.
    s("swap", SWAP, 4096 - 10),
    s("swap", SWAP, 8192 - 10),
    s("swap", SWAP, 16384 - 10),
    s("swap", SWAP, 65536 - 10),
    s("swap (old format)", SWAP_OLD, 4096 - 10),
    s("swap (hibernation image)", b"S1SUSPEND", 4096 - 10),
    s("swap (hibernation image)", b"S2SUSPEND", 4096 - 10),
    s("swap (hibernation image)", b"ULSUSPEND", 4096 - 10),
    s("swap (hibernation image)", b"LINHIB0001", 4096 - 10),
    // iso9660: volume descriptors from sector 16 (2 KiB sectors): "CD001" at +1.
    s("iso9660", b"CD001", 0x8001),
    s("iso9660", b"CD001", 0x8801),
    s("iso9660", b"CD001", 0x9001),
    // LVM2 PV label "LABELONE" in one of the first four sectors ("LVM2 001" follows at +24),
    // and the metadata area header (" LVM2 x[5A%r0N*>" at 4096 + 4).
    s("LVM2 PV label", b"LABELONE", 0),
    s("LVM2 PV label", b"LABELONE", 512),
    s("LVM2 PV label", b"LABELONE", 1024),
    s("LVM2 PV label", b"LABELONE", 1536),
    s("LVM2 metadata area header", b" LVM2 x[5A%r0N*>", 4096 + 4),
    // md superblocks, magic 0xa92b4efc: 1.1 at 0, 1.2 at 4 KiB, 1.0 near the end, 0.90 in the
    // last 64 KiB (0.90 is host-endian: both byte orders).
    s("md raid 1.1 superblock", MD_MAGIC_LE, 0),
    s("md raid 1.2 superblock", MD_MAGIC_LE, 4096),
    e("md raid 1.0 superblock", MD_MAGIC_LE, md10),
    e("md raid 0.90 superblock", MD_MAGIC_LE, md090),
    e("md raid 0.90 superblock (big-endian)", MD_MAGIC_BE, md090),
    // LUKS: primary header at 0 ("LUKS\xba\xbe", parsed by blkid-rs, see `probe`); LUKS2's
    // secondary header ("SKUL\xba\xbe") at one of the offsets cryptsetup allows. Each binary
    // header is 4 KiB.
    Sig {
        name: "LUKS header",
        magic: b"LUKS\xba\xbe",
        at: Loc::Start(0),
        erase: Erase::Range(4096),
    },
    l2(0x4000),
    l2(0x8000),
    l2(0x10000),
    l2(0x20000),
    l2(0x40000),
    l2(0x80000),
    l2(0x100000),
    l2(0x200000),
    l2(0x400000),
    // bcache: superblock at 4 KiB, 16-byte magic at +24.
    s("bcache", BCACHE, 4096 + 24),
];

const fn l2(off: u64) -> Sig {
    Sig {
        name: "LUKS2 secondary header",
        magic: LUKS2_SECONDARY,
        at: Loc::Start(off),
        erase: Erase::Range(4096),
    }
}

/// One signature found in an area.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FoundSignature {
    pub name: String,
    /// Absolute byte offset of the magic on the device.
    pub offset: u64,
    /// Absolute byte range that the wipe zeroes.
    pub erase_start: u64,
    pub erase_len: u64,
}

/// Name a LUKS header at `off` with blkid-rs; None when it does not parse as one.
fn luks_name(dev: &(impl ReadAt + ?Sized), off: u64) -> Option<String> {
    use blkid_rs::{LuksHeader, LuksVersionedHeader};
    let buf = dev.bytes_at(off, 4096)?;
    match LuksHeader::read(std::io::Cursor::new(buf)).ok()? {
        LuksHeader::Luks1(h) => Some(format!(
            "LUKS1 header (uuid {})",
            h.uuid().map(|u| u.to_string()).unwrap_or_default()
        )),
        LuksHeader::Luks2(h) => Some(format!(
            "LUKS2 primary header (uuid {})",
            h.uuid().map(|u| u.to_string()).unwrap_or_default()
        )),
    }
}

/// LUKS2 header size from blkid-rs: the secondary header starts there.
fn luks2_header_size(dev: &(impl ReadAt + ?Sized), off: u64) -> Option<u64> {
    use blkid_rs::{Luks2Header, LuksHeader};
    let buf = dev.bytes_at(off, 4096)?;
    match LuksHeader::read(std::io::Cursor::new(buf)).ok()? {
        LuksHeader::Luks2(h) => Some(h.header_size()),
        LuksHeader::Luks1(_) => None,
    }
}

fn found(
    name: String,
    magic_at: u64,
    magic_len: u64,
    erase: Erase,
    area_end: u64,
) -> FoundSignature {
    let (start, len) = match erase {
        Erase::Sector => (magic_at & !511, 512),
        Erase::Range(n) => (magic_at, n.max(magic_len)),
    };
    FoundSignature {
        name,
        offset: magic_at,
        erase_start: start,
        erase_len: len.min(area_end.saturating_sub(start)),
    }
}

/// Every known signature in the area `[start, start+len)` of `dev`.
pub fn probe(dev: &(impl ReadAt + ?Sized), start: u64, len: u64) -> Vec<FoundSignature> {
    let end = start + len;
    let mut out: Vec<FoundSignature> = Vec::new();
    let check =
        |name: &str, magic: &[u8], rel: u64, erase: Erase, out: &mut Vec<FoundSignature>| {
            if rel + magic.len() as u64 > len {
                return;
            }
            let at = start + rel;
            if out.iter().any(|f| f.offset == at && f.name == name) {
                return;
            }
            if dev.bytes_at(at, magic.len()).is_some_and(|b| b == magic) {
                out.push(found(name.to_string(), at, magic.len() as u64, erase, end));
            }
        };
    for sig in TABLE {
        let rel = match sig.at {
            Loc::Start(o) => Some(o),
            Loc::End(f) => f(len),
        };
        if let Some(rel) = rel {
            check(sig.name, sig.magic, rel, sig.erase, &mut out);
        }
    }
    // Name LUKS headers properly, and follow LUKS2's header size to its secondary copy.
    for f in out.iter_mut().filter(|f| f.name == "LUKS header") {
        if let Some(n) = luks_name(dev, f.offset) {
            f.name = n;
        }
    }
    if let Some(hs) = luks2_header_size(dev, start).filter(|&h| h > 0 && h < len) {
        check(
            "LUKS2 secondary header",
            LUKS2_SECONDARY,
            hs,
            Erase::Range(4096),
            &mut out,
        );
    }
    // A GPT's backup lives where the primary header says (its alternate LBA), which is not
    // the last sector when the disk was grown after partitioning.
    for (sector, label) in [
        (512u64, "gpt (backup header)"),
        (4096, "gpt (backup header, 4K sectors)"),
    ] {
        if let Some(h) = dev
            .bytes_at(start + sector, 40)
            .filter(|h| &h[0..8] == b"EFI PART")
        {
            let alt = u64::from_le_bytes(h[32..40].try_into().unwrap());
            if let Some(rel) = alt.checked_mul(sector).filter(|&r| r > sector) {
                check(label, b"EFI PART", rel, Erase::Sector, &mut out);
            }
        }
    }
    out.sort_by_key(|f| f.offset);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    fn image(len: usize, marks: &[(usize, &[u8])]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        f.as_file().set_len(len as u64).unwrap();
        for (off, b) in marks {
            f.as_file().write_all_at(b, *off as u64).unwrap();
        }
        f
    }

    #[test]
    fn end_offsets() {
        let len = 100 * 1024 * 1024 + 12345;
        assert_eq!(md090(len), Some((len & !0xffff) - 0x10000));
        let sectors = len / 512;
        assert_eq!(md10(len), Some(((sectors - 16) & !7) * 512));
        assert_eq!(last_512(1 << 20), Some((1 << 20) - 512));
        assert_eq!(last_512(1000), None);
        assert_eq!(md090(1000), None);
    }

    #[test]
    fn finds_magics_at_start_end_and_in_a_partition_area() {
        let len = 8 << 20;
        let f = image(
            len,
            &[
                (510, &[0x55, 0xaa]),
                (512, b"EFI PART"),
                (len - 512, b"EFI PART"),
                (1 << 20, b"XFSB"),
                ((1 << 20) + 4096, MD_MAGIC_LE),
            ],
        );
        let all = probe(f.as_file(), 0, len as u64);
        let names: Vec<&str> = all.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "dos partition table (MBR)",
                "gpt (primary header)",
                "gpt (backup header)"
            ]
        );
        assert_eq!((all[0].erase_start, all[0].erase_len), (0, 512));
        assert_eq!(all[2].erase_start, len as u64 - 512);
        let part = probe(f.as_file(), 1 << 20, 2 << 20);
        let names: Vec<&str> = part.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["xfs", "md raid 1.2 superblock"]);
        assert_eq!(part[1].offset, (1 << 20) + 4096);
    }

    #[test]
    fn nothing_on_zeroes() {
        let f = image(1 << 20, &[]);
        assert!(probe(f.as_file(), 0, 1 << 20).is_empty());
    }
}
