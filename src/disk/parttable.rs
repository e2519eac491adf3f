//! Partition tables read from the bytes: the MBR (primary entries, and logical ones through
//! the EBR chain) and a GPT found with 512- or 4096-byte sectors. One reader for two jobs:
//! the wipe (a disk's own table, on regular files and loop devices where the kernel made no
//! partition nodes) and preflight (the image's first MiB, in memory: which table, and how big
//! a disk it needs). Tolerant by design: a wipe wants every plausible partition start, not a
//! validated table, so CRCs are not checked and entries past `size` are dropped. The bytes
//! are untrusted: every offset is checked, nothing here panics on garbage.
//!
//! The installed system's table (layout::table) is read here too, through the checked
//! readers (`read_gpt_checked`, `find_gpt_checked`, `read_mbr_checked`): there the table
//! must be valid (signatures, revision, header size and CRCs, boot flags, a consistent EBR
//! chain), as gptman and mbrman require when they read it, since it is written back.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    pub label: String,
    pub start: u64,
    pub len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
pub use super::read_at::ReadAt;

fn le32(b: &[u8], o: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[o..o + 4].try_into().unwrap()))
}
fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn is_extended(t: u8) -> bool {
    matches!(t, 0x05 | 0x0f | 0x85)
}

/// The extended types mbrman (which writes rdinstall's tables) knows: also DR-DOS's secured
/// ones. The checked reader follows it, so that what it reads matches what gets written.
pub fn is_extended_checked(t: u8) -> bool {
    is_extended(t) || matches!(t, 0xc5 | 0xd5)
}

/// The index (0-3) of the first GPT protective entry (type 0xEE) of the MBR in `sector0`,
/// when it has the boot signature: the one test for "a protective MBR is here".
pub fn protective_entry(sector0: &[u8]) -> Option<usize> {
    if sector0.len() < 512 || sector0[510..512] != [0x55, 0xaa] {
        return None;
    }
    (0..4).find(|i| sector0[446 + 16 * i + 4] == 0xee)
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
            let MbrEntry {
                ptype,
                start_lba: lba,
                sectors: n,
                ..
            } = mbr_entry(&mbr, i as u32 + 1, i);
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
    /// The CRC32 the header states for its entry array.
    pub entries_crc32: u32,
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
            entries_crc32: le32(&h, 88) as u32,
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
        let e1 = mbr_entry(&ebr, n, 0);
        let (t1, s1, l1) = (e1.ptype, e1.start_lba, e1.sectors);
        let start = (ebr_lba + s1) * 512;
        if t1 != 0 && l1 > 0 && start + l1 * 512 <= size {
            out.push(Extent {
                label: format!("MBR logical partition {n}"),
                start,
                len: l1 * 512,
            });
        }
        let e2 = mbr_entry(&ebr, 0, 1);
        let (t2, s2) = (e2.ptype, e2.start_lba);
        if !is_extended(t2) || s2 == 0 {
            return;
        }
        ebr_lba = ext_lba + s2;
    }
}

/// One entry of an MBR or of an EBR, numbered as the kernel numbers it (logical from 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MbrEntry {
    pub number: u32,
    /// 0x80 active, 0x00 not.
    pub boot: u8,
    pub ptype: u8,
    /// Absolute (for logical partitions too), in sectors of the size the table was read with.
    pub start_lba: u64,
    pub sectors: u64,
}

impl MbrEntry {
    fn parse(number: u32, e: &[u8]) -> MbrEntry {
        MbrEntry {
            number,
            boot: e[0],
            ptype: e[4],
            start_lba: le32(e, 8),
            sectors: le32(e, 12),
        }
    }
}

/// The 16-byte entries `i` of a 512-byte MBR or EBR.
fn mbr_entry(sector0: &[u8], number: u32, i: usize) -> MbrEntry {
    MbrEntry::parse(number, &sector0[446 + i * 16..446 + (i + 1) * 16])
}

/// An MBR or EBR sector the checked reader accepts: boot signature, and boot flags of 0x00
/// or 0x80 in the entries it uses (`n` of them).
fn check_boot_sector(s: &[u8], n: usize) -> Result<(), String> {
    if s[510..512] != [0x55, 0xaa] {
        return Err("no boot signature (55 AA)".into());
    }
    if (0..n).any(|i| !matches!(s[446 + i * 16], 0x00 | 0x80)) {
        return Err("a partition entry has a boot flag other than 00 or 80".into());
    }
    Ok(())
}

/// The MBR on `dev` with `sector`-byte sectors, checked: every primary entry (used or not,
/// numbered 1-4) and, through the EBR chain of the first extended partition, every logical
/// one (from 5). An EBR that is not there ends an empty chain; anywhere else it is an
/// error, as is a chain that does not move forward.
pub fn read_mbr_checked(
    dev: &(impl ReadAt + ?Sized),
    sector: u64,
) -> Result<Vec<MbrEntry>, String> {
    let s0 = dev
        .bytes_at(0, 512)
        .ok_or("the disk is shorter than one sector")?;
    check_boot_sector(&s0, 4).map_err(|e| format!("the MBR is invalid: {e}"))?;
    let mut out: Vec<MbrEntry> = (0..4).map(|i| mbr_entry(&s0, i as u32 + 1, i)).collect();
    let Some(ext) = out.iter().find(|e| is_extended_checked(e.ptype)).copied() else {
        return Ok(out);
    };
    let mut relative = 0u64;
    for number in 5u32.. {
        let ebr_lba = ext.start_lba + relative;
        let ebr = dev
            .bytes_at(ebr_lba * sector, 512)
            .ok_or_else(|| format!("EBR at sector {ebr_lba} is past the end of the disk"))
            .and_then(|b| check_boot_sector(&b, 2).map(|()| b));
        let ebr = match ebr {
            Ok(b) => b,
            // An empty extended partition need not have an EBR.
            Err(_) if relative == 0 => break,
            Err(e) => return Err(format!("the EBR at sector {ebr_lba} is invalid: {e}")),
        };
        let mut logical = mbr_entry(&ebr, number, 0);
        logical.start_lba += ebr_lba;
        out.push(logical);
        let next = mbr_entry(&ebr, 0, 1).start_lba;
        if next > 0 && relative >= next {
            return Err(format!(
                "the EBR chain does not move forward (the EBR at sector {ebr_lba} links to \
                 sector {next} of the extended partition)"
            ));
        }
        if next == 0 {
            break;
        }
        relative = next;
    }
    Ok(out)
}

/// A used GPT entry (its type GUID is not all zeros), numbered from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GptEntry {
    pub number: u32,
    pub type_guid: [u8; 16],
    pub unique_guid: [u8; 16],
    pub first_lba: u64,
    pub last_lba: u64,
    pub attributes: u64,
    /// UTF-16LE up to the first NUL.
    pub name: String,
}

impl GptEntry {
    /// `e`: at least the 128 bytes every entry size starts with.
    fn parse(number: u32, e: &[u8]) -> GptEntry {
        let units: Vec<u16> = e[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        GptEntry {
            number,
            type_guid: e[0..16].try_into().unwrap(),
            unique_guid: e[16..32].try_into().unwrap(),
            first_lba: le64(e, 32),
            last_lba: le64(e, 40),
            attributes: le64(e, 48),
            name: String::from_utf16_lossy(&units),
        }
    }
}

/// A GPT read and checked: the header it was read from (the primary, or the backup when
/// the primary is unusable) and its used entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpt {
    pub header: GptHeader,
    pub entries: Vec<GptEntry>,
}

/// Why a checked GPT read failed: no header at all, or one that is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GptError {
    NoSignature,
    Invalid(String),
}

impl std::fmt::Display for GptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GptError::NoSignature => write!(f, "no GPT header (signature \"EFI PART\")"),
            GptError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

/// The header in sector `lba`, checked as UEFI says a reader must: signature, revision 1.0,
/// a 92-byte header and its CRC32.
fn checked_header(
    dev: &(impl ReadAt + ?Sized),
    sector: u64,
    lba: u64,
) -> Result<GptHeader, GptError> {
    let at = |what: &str| GptError::Invalid(format!("the GPT header at LBA {lba} {what}"));
    let raw = lba
        .checked_mul(sector)
        .and_then(|off| dev.bytes_at(off, 92))
        .ok_or_else(|| at("is past the end of the disk"))?;
    let h = GptHeader::read(&raw[..], sector, 0).ok_or(GptError::NoSignature)?;
    if raw[8..12] != [0, 0, 1, 0] {
        return Err(at("has a revision other than 1.0"));
    }
    if le32(&raw, 12) != 92 {
        return Err(at("has a size other than 92 bytes"));
    }
    let mut zeroed = raw.clone();
    zeroed[16..20].fill(0);
    if crc32fast::hash(&zeroed) != le32(&raw, 16) as u32 {
        return Err(at("has a wrong CRC32"));
    }
    Ok(h)
}

/// The GPT on a disk of `size` bytes with `sector`-byte sectors, checked: the primary header
/// or, when that is unusable, the backup in the last sector; then its entry array, whose
/// CRC32 must match. Run `check_gpt_headers` first on untrusted bytes; the entry array is
/// bounded here too.
pub fn read_gpt_checked(
    dev: &(impl ReadAt + ?Sized),
    size: u64,
    sector: u64,
) -> Result<Gpt, GptError> {
    let header = checked_header(dev, sector, 1).or_else(|primary| {
        let last = (size / sector).checked_sub(1).ok_or(GptError::Invalid(
            "the disk is shorter than one sector".into(),
        ))?;
        checked_header(dev, sector, last).map_err(|backup| match (primary, backup) {
            (GptError::NoSignature, GptError::NoSignature) => GptError::NoSignature,
            (p, b) => GptError::Invalid(format!("primary: {p}; backup: {b}")),
        })
    })?;
    header.entries_fit().map_err(GptError::Invalid)?;
    let esize = header.entry_size as usize;
    let array = header
        .entries_lba
        .checked_mul(sector)
        .and_then(|off| dev.bytes_at(off, header.entries_bytes() as usize))
        .ok_or_else(|| GptError::Invalid("the partition entry array is past the end".into()))?;
    if header.entries_crc32 != crc32fast::hash(&array) {
        return Err(GptError::Invalid(
            "the partition entry array has a wrong CRC32".into(),
        ));
    }
    let entries = array
        .chunks_exact(esize)
        .enumerate()
        .filter(|(_, e)| e[0..16].iter().any(|&b| b != 0))
        .map(|(i, e)| GptEntry::parse(i as u32 + 1, e))
        .collect();
    Ok(Gpt { header, entries })
}

/// `read_gpt_checked` with 512-byte sectors, or with 4096-byte ones when there is no header
/// at all for 512.
pub fn find_gpt_checked(dev: &(impl ReadAt + ?Sized), size: u64) -> Result<Gpt, GptError> {
    read_gpt_checked(dev, size, 512).or_else(|e| match e {
        GptError::NoSignature => read_gpt_checked(dev, size, 4096),
        e => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

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
