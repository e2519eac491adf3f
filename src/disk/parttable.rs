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
pub struct TableExtents {
    pub kind: Kind,
    /// By start; empty when there is no table.
    pub extents: Vec<Extent>,
    /// Bytes the table needs after its last partition: the GPT's backup entry array and
    /// header at the end of the disk (0 for an MBR).
    pub trailer: u64,
}

impl TableExtents {
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
pub fn read(dev: &(impl ReadAt + ?Sized), size: u64) -> TableExtents {
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
        let Some(h) = GptHeader::at(dev, sector) else {
            continue;
        };
        // Tolerant: the LBAs are not checked (a wipe wants every plausible extent), only
        // what bounds the reading.
        if h.entries_fit().is_err() {
            continue;
        }
        kind = Kind::Gpt;
        let (count, esize) = (u64::from(h.count), u64::from(h.entry_size));
        // The backup: the entry array, then the header in the disk's last sector.
        trailer = (count * esize).div_ceil(sector) * sector + sector;
        let table = h
            .entries_lba
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
    TableExtents {
        kind,
        extents: out,
        trailer,
    }
}

/// Most entries a GPT may have here: 128 is the standard, a few tools make up to 1024 (4 MiB
/// at the largest entry size). The count is a u32 any image can set (its CRC is computable by
/// anyone), and gptman allocates what it says: 2^32 entries abort the process.
pub const MAX_GPT_ENTRIES: u32 = 1024;

/// The fields of a GPT header (signature "EFI PART") that say where things are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GptHeader {
    /// The sector size it was read with; its LBAs count these.
    pub sector: u64,
    pub my_lba: u64,
    pub alternate_lba: u64,
    pub first_usable_lba: u64,
    pub last_usable_lba: u64,
    pub entries_lba: u64,
    pub count: u32,
    pub entry_size: u32,
}

impl GptHeader {
    /// The header in sector `lba` (of `sector` bytes), if one is there.
    pub fn read(dev: &(impl ReadAt + ?Sized), sector: u64, lba: u64) -> Option<GptHeader> {
        let h = dev.bytes_at(lba.checked_mul(sector)?, 92)?;
        (&h[0..8] == b"EFI PART").then(|| GptHeader {
            sector,
            my_lba: le64(&h, 24),
            alternate_lba: le64(&h, 32),
            first_usable_lba: le64(&h, 40),
            last_usable_lba: le64(&h, 48),
            entries_lba: le64(&h, 72),
            count: le32(&h, 80) as u32,
            entry_size: le32(&h, 84) as u32,
        })
    }

    /// The primary header (LBA 1) for `sector`-byte sectors.
    pub fn at(dev: &(impl ReadAt + ?Sized), sector: u64) -> Option<GptHeader> {
        Self::read(dev, sector, 1)
    }

    /// Entry size 128 × 2^n up to 4096, 1 to `MAX_GPT_ENTRIES` entries.
    pub fn entries_fit(&self) -> Result<(), String> {
        let n = self.entry_size;
        if !(128..=4096).contains(&n) || !n.is_power_of_two() {
            return Err(format!(
                "partition entry size {n} (a GPT has 128, or a larger power of two up to 4096)"
            ));
        }
        if !(1..=MAX_GPT_ENTRIES).contains(&self.count) {
            return Err(format!(
                "{} partition entries (at most {MAX_GPT_ENTRIES} are accepted)",
                self.count
            ));
        }
        Ok(())
    }

    /// Bytes of the entry array.
    pub fn entries_bytes(&self) -> u64 {
        u64::from(self.count) * u64::from(self.entry_size)
    }

    /// Everything a reader trusts lies inside a disk of `disk_size` bytes: the entry array's
    /// size, and every LBA the header names (computed without overflow).
    pub fn check(&self, disk_size: u64) -> Result<(), String> {
        self.entries_fit()?;
        let sectors = disk_size / self.sector;
        let lba = |what: &str, v: u64| {
            if v < sectors {
                Ok(())
            } else {
                Err(format!(
                    "{what} LBA {v} is beyond the disk's {sectors} sectors of {} bytes",
                    self.sector
                ))
            }
        };
        lba("its own", self.my_lba)?;
        lba("the alternate header's", self.alternate_lba)?;
        lba("the first usable", self.first_usable_lba)?;
        lba("the last usable", self.last_usable_lba)?;
        if self.first_usable_lba > self.last_usable_lba {
            return Err(format!(
                "first usable LBA {} is after the last usable LBA {}",
                self.first_usable_lba, self.last_usable_lba
            ));
        }
        if self.my_lba == 0 || self.entries_lba == 0 {
            return Err("a header or entry array at LBA 0 (the MBR)".into());
        }
        let end = self
            .entries_lba
            .checked_mul(self.sector)
            .and_then(|o| o.checked_add(self.entries_bytes()));
        if end.is_none_or(|e| e > disk_size) {
            return Err(format!(
                "the partition entry array at LBA {} ({} bytes) runs past the end of the disk",
                self.entries_lba,
                self.entries_bytes()
            ));
        }
        Ok(())
    }
}

/// Check every GPT header a table reader may use on a disk of `disk_size` bytes: the primary
/// (LBA 1) and the backup (last sector), for each sector size in `sectors`. A sector without
/// the GPT signature is not a header and passes.
pub fn check_gpt_headers(
    dev: &(impl ReadAt + ?Sized),
    disk_size: u64,
    sectors: &[u64],
) -> Result<(), String> {
    for &sector in sectors {
        let last = (disk_size / sector).checked_sub(1);
        for (which, lba) in [("primary", Some(1)), ("backup", last)] {
            let Some(h) = lba.and_then(|l| GptHeader::read(dev, sector, l)) else {
                continue;
            };
            h.check(disk_size).map_err(|e| {
                format!(
                    "the {which} GPT header (LBA {}, {sector}-byte sectors) is invalid: {e}",
                    lba.unwrap_or_default()
                )
            })?;
        }
    }
    Ok(())
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

    fn header(count: u32, esize: u32, entries_lba: u64, lbas: [u64; 4]) -> [u8; 92] {
        let mut h = [0u8; 92];
        h[0..8].copy_from_slice(b"EFI PART");
        for (i, v) in lbas.iter().enumerate() {
            h[24 + 8 * i..32 + 8 * i].copy_from_slice(&v.to_le_bytes());
        }
        h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
        h[80..84].copy_from_slice(&count.to_le_bytes());
        h[84..88].copy_from_slice(&esize.to_le_bytes());
        h
    }

    #[test]
    fn gpt_headers_are_bounded_before_anyone_allocates() {
        let size = 1u64 << 20;
        let sectors = size / 512;
        let ok = [1, sectors - 1, 34, sectors - 34];
        let check = |h: [u8; 92], at: u64| {
            let mut disk = vec![0u8; size as usize];
            disk[at as usize..at as usize + 92].copy_from_slice(&h);
            check_gpt_headers(&disk[..], size, &[512, 4096])
        };
        assert_eq!(check(header(128, 128, 2, ok), 512), Ok(()));
        // No header at all passes; so does one for 4096-byte sectors that fits.
        assert_eq!(check([0; 92], 512), Ok(()));
        let ok4k = [1, size / 4096 - 1, 6, size / 4096 - 6];
        assert_eq!(check(header(128, 128, 2, ok4k), 4096), Ok(()));

        let e = check(header(u32::MAX, 128, 2, ok), 512).unwrap_err();
        assert!(e.contains("4294967295 partition entries"), "{e}");
        assert!(e.contains("primary GPT header"), "{e}");
        // The backup header in the last sector is checked too (gptman falls back to it).
        let e = check(header(u32::MAX, 128, 2, ok), size - 512).unwrap_err();
        assert!(e.contains("backup GPT header"), "{e}");
        for bad in [0, 64, 129, 384, 8192] {
            let e = check(header(128, bad, 2, ok), 512).unwrap_err();
            assert!(e.contains("entry size"), "{bad}: {e}");
        }
        assert!(check(header(0, 128, 2, ok), 512).is_err());
        // LBAs beyond the disk, or whose byte offsets overflow u64.
        for lbas in [
            [1, sectors, 34, 100],
            [1, 2, 34, u64::MAX],
            [u64::MAX, 2, 34, 100],
            [1, 2, 200, 100],
        ] {
            assert!(check(header(128, 128, 2, lbas), 512).is_err(), "{lbas:?}");
        }
        for entries in [0, sectors - 1, u64::MAX / 512 + 1, u64::MAX] {
            let e = check(header(128, 128, entries, ok), 512).unwrap_err();
            assert!(e.contains("LBA"), "{entries}: {e}");
        }
        // The tolerant reader skips such a header instead of reading 2^32 entries.
        let mut disk = vec![0u8; size as usize];
        disk[512..604].copy_from_slice(&header(u32::MAX, 128, 2, ok));
        assert_eq!(read(&disk[..], size).kind, Kind::None);
    }
}
