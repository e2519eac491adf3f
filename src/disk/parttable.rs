//! Partition tables read from the bytes: the MBR (primary entries, and logical ones through
//! the EBR chain) and a GPT found with 512- or 4096-byte sectors. One reader for two jobs:
//! the wipe (a disk's own table, on regular files and loop devices where the kernel made no
//! partition nodes) and preflight (the image's first MiB, in memory: which table, and how big
//! a disk it needs). Tolerant by design: a wipe wants every plausible partition start, not a
//! validated table, so CRCs are not checked and entries past `size` are dropped. The bytes
//! are untrusted: every offset is checked, nothing here panics on garbage. The installed
//! system's table (layout::table) is read with gptman/mbrman instead: there it must be
//! valid (CRCs checked), and it is written back.

use std::os::unix::fs::FileExt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    pub label: String,
    pub start: u64,
    pub len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Gpt,
    Msdos,
    None,
}

/// What a table describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: Kind,
    /// By start; empty when there is no table.
    pub extents: Vec<Extent>,
    /// Bytes the table needs after its last partition: the GPT's backup entry array and
    /// header at the end of the disk (0 for an MBR).
    pub trailer: u64,
}

impl Found {
    /// The smallest disk holding every partition (and the GPT backup), if any partition.
    pub fn min_disk_size(&self) -> Option<u64> {
        let end = self.extents.iter().map(|e| e.start + e.len).max()?;
        end.checked_add(self.trailer)
    }
}

/// Where the table is read from: a file or device, or bytes already in memory.
pub trait ReadAt {
    /// `buf.len()` bytes at `off`, or `None` when they are not all there.
    fn bytes_at(&self, off: u64, len: usize) -> Option<Vec<u8>>;
}

impl ReadAt for std::fs::File {
    fn bytes_at(&self, off: u64, len: usize) -> Option<Vec<u8>> {
        let mut b = vec![0u8; len];
        self.read_exact_at(&mut b, off).ok()?;
        Some(b)
    }
}

impl ReadAt for [u8] {
    fn bytes_at(&self, off: u64, len: usize) -> Option<Vec<u8>> {
        let start = usize::try_from(off).ok()?;
        self.get(start..start.checked_add(len)?).map(<[u8]>::to_vec)
    }
}

fn le32(b: &[u8], o: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[o..o + 4].try_into().unwrap()))
}
fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn is_extended(t: u8) -> bool {
    matches!(t, 0x05 | 0x0f | 0x85)
}

/// Partitions of the table on `dev` whose extent lies within `size` bytes.
pub fn partitions(dev: &(impl ReadAt + ?Sized), size: u64) -> Vec<Extent> {
    read(dev, size).extents
}

/// The table on `dev` (`size`: the disk's size in bytes; `u64::MAX` keeps every extent).
/// A GPT wins over the MBR it comes with (its protective entry is skipped; other MBR
/// entries, as in hybrid tables, are kept).
pub fn read(dev: &(impl ReadAt + ?Sized), size: u64) -> Found {
    let mut out = Vec::new();
    let keep = |label: String, start: Option<u64>, len: Option<u64>, out: &mut Vec<Extent>| {
        let (Some(start), Some(len)) = (start, len) else {
            return;
        };
        if len > 0 && start > 0 && start.checked_add(len).is_some_and(|e| e <= size) {
            out.push(Extent { label, start, len });
        }
    };
    let mut kind = Kind::None;
    if let Some(mbr) = dev.bytes_at(0, 512).filter(|m| is_mbr(m)) {
        for i in 0..4 {
            let e = &mbr[446 + i * 16..446 + (i + 1) * 16];
            let (ptype, lba, n) = (e[4], le32(e, 8), le32(e, 12));
            if ptype == 0 || ptype == 0xee || n == 0 {
                continue;
            }
            kind = Kind::Msdos;
            let label = format!("MBR partition {}", i + 1);
            keep(label, Some(lba * 512), Some(n * 512), &mut out);
            if is_extended(ptype) {
                logical(dev, lba, size, &mut out);
            }
        }
    }
    let mut trailer = 0;
    for sector in [512u64, 4096] {
        let Some(h) = dev.bytes_at(sector, 92) else {
            continue;
        };
        if &h[0..8] != b"EFI PART" {
            continue;
        }
        let (entries_lba, count, esize) = (le64(&h, 72), le32(&h, 80), le32(&h, 84));
        if !(128..=4096).contains(&esize) || count > 1024 {
            continue;
        }
        kind = Kind::Gpt;
        // The backup: the entry array, then the header in the disk's last sector.
        trailer = (count * esize).div_ceil(sector) * sector + sector;
        let table = entries_lba
            .checked_mul(sector)
            .and_then(|off| dev.bytes_at(off, (count * esize) as usize));
        let Some(tbl) = table else {
            break;
        };
        for i in 0..count as usize {
            let e = &tbl[i * esize as usize..(i + 1) * esize as usize];
            if e[0..16].iter().all(|&b| b == 0) {
                continue;
            }
            let (first, last) = (le64(e, 32), le64(e, 40));
            if last >= first {
                let len = (last - first)
                    .checked_add(1)
                    .and_then(|n| n.checked_mul(sector));
                let label = format!("GPT partition {}", i + 1);
                keep(label, first.checked_mul(sector), len, &mut out);
            }
        }
        break;
    }
    out.sort_by_key(|e| e.start);
    out.dedup_by_key(|e| e.start);
    Found {
        kind,
        extents: out,
        trailer,
    }
}

/// The boot signature, and boot flags of 0x00 or 0x80 only: otherwise this is a boot
/// sector (a FAT filesystem's, say), not a partition table.
fn is_mbr(s: &[u8]) -> bool {
    s[510..512] == [0x55, 0xaa] && (0..4).all(|i| matches!(s[446 + i * 16], 0x00 | 0x80))
}

/// Walk the EBR chain of an extended partition starting at `ext_lba`.
fn logical(dev: &(impl ReadAt + ?Sized), ext_lba: u64, size: u64, out: &mut Vec<Extent>) {
    let mut ebr_lba = ext_lba;
    for n in 5..5 + 128 {
        let Some(ebr) = dev.bytes_at(ebr_lba * 512, 512) else {
            return;
        };
        if ebr[510..512] != [0x55, 0xaa] {
            return;
        }
        let e1 = &ebr[446..462];
        let (t1, s1, l1) = (e1[4], le32(e1, 8), le32(e1, 12));
        let start = (ebr_lba + s1) * 512;
        if t1 != 0 && l1 > 0 && start + l1 * 512 <= size {
            out.push(Extent {
                label: format!("MBR logical partition {n}"),
                start,
                len: l1 * 512,
            });
        }
        let e2 = &ebr[462..478];
        let (t2, s2) = (e2[4], le32(e2, 8));
        if !is_extended(t2) || s2 == 0 {
            return;
        }
        ebr_lba = ext_lba + s2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(buf: &mut [u8], at: usize, ptype: u8, lba: u32, n: u32) {
        buf[at + 4] = ptype;
        buf[at + 8..at + 12].copy_from_slice(&lba.to_le_bytes());
        buf[at + 12..at + 16].copy_from_slice(&n.to_le_bytes());
    }

    #[test]
    fn mbr_with_an_extended_chain() {
        let size = 64u64 << 20;
        let f = tempfile::tempfile().unwrap();
        f.set_len(size).unwrap();
        let mut mbr = [0u8; 512];
        entry(&mut mbr, 446, 0x83, 2048, 4096);
        entry(&mut mbr, 462, 0x05, 8192, 40960);
        mbr[510..].copy_from_slice(&[0x55, 0xaa]);
        f.write_all_at(&mbr, 0).unwrap();
        // EBR 1 at the start of the extended partition: a logical partition 2048 sectors in,
        // and a link to EBR 2 at extended + 10240.
        let mut ebr = [0u8; 512];
        entry(&mut ebr, 446, 0x83, 2048, 4096);
        entry(&mut ebr, 462, 0x05, 10240, 8192);
        ebr[510..].copy_from_slice(&[0x55, 0xaa]);
        f.write_all_at(&ebr, 8192 * 512).unwrap();
        let mut ebr2 = [0u8; 512];
        entry(&mut ebr2, 446, 0x83, 2048, 2048);
        ebr2[510..].copy_from_slice(&[0x55, 0xaa]);
        f.write_all_at(&ebr2, (8192 + 10240) * 512).unwrap();

        let p = partitions(&f, size);
        let starts: Vec<u64> = p.iter().map(|e| e.start / 512).collect();
        assert_eq!(starts, [2048, 8192, 8192 + 2048, 8192 + 10240 + 2048]);
        assert_eq!(p[3].label, "MBR logical partition 6");
        assert_eq!(p[3].len, 2048 * 512);
    }

    #[test]
    fn gpt_entries_and_out_of_range_ones_dropped() {
        let size = 16u64 << 20;
        let f = tempfile::tempfile().unwrap();
        f.set_len(size).unwrap();
        let mut h = [0u8; 92];
        h[0..8].copy_from_slice(b"EFI PART");
        h[72..80].copy_from_slice(&2u64.to_le_bytes()); // entries at LBA 2
        h[80..84].copy_from_slice(&128u32.to_le_bytes());
        h[84..88].copy_from_slice(&128u32.to_le_bytes());
        f.write_all_at(&h, 512).unwrap();
        let mut e = [0u8; 256];
        e[0] = 1; // a non-zero type GUID
        e[32..40].copy_from_slice(&2048u64.to_le_bytes());
        e[40..48].copy_from_slice(&4095u64.to_le_bytes());
        e[128] = 1;
        e[128 + 32..128 + 40].copy_from_slice(&4096u64.to_le_bytes());
        e[128 + 40..128 + 48].copy_from_slice(&(1u64 << 40).to_le_bytes()); // past the end
        f.write_all_at(&e, 1024).unwrap();
        let p = partitions(&f, size);
        assert_eq!(
            p,
            [Extent {
                label: "GPT partition 1".into(),
                start: 2048 * 512,
                len: 2048 * 512
            }]
        );
    }
}
