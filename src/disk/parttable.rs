//! Partitions as the disk's own MBR/GPT describes them, read from the bytes (for regular
//! files and loop devices, where the kernel made no partition nodes). Tolerant by design:
//! a wipe wants every plausible partition start, not a validated table, so CRCs are not
//! checked and entries past the end of the disk are dropped.

use std::os::unix::fs::FileExt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extent {
    pub label: String,
    pub start: u64,
    pub len: u64,
}

fn le32(b: &[u8], o: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[o..o + 4].try_into().unwrap()))
}
fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn read(dev: &impl FileExt, off: u64, len: usize) -> Option<Vec<u8>> {
    let mut b = vec![0u8; len];
    dev.read_exact_at(&mut b, off).ok()?;
    Some(b)
}

fn is_extended(t: u8) -> bool {
    matches!(t, 0x05 | 0x0f | 0x85)
}

/// Partitions of the MBR (primary, and logical ones through the EBR chain) and of a GPT
/// found with 512- or 4096-byte sectors. `size` is the disk's size in bytes.
pub fn partitions(dev: &impl FileExt, size: u64) -> Vec<Extent> {
    let mut out = Vec::new();
    let Some(mbr) = read(dev, 0, 512) else {
        return out;
    };
    let keep = |label: String, start: u64, len: u64, out: &mut Vec<Extent>| {
        if len > 0 && start > 0 && start.checked_add(len).is_some_and(|e| e <= size) {
            out.push(Extent { label, start, len });
        }
    };
    if mbr[510..512] == [0x55, 0xaa] {
        for i in 0..4 {
            let e = &mbr[446 + i * 16..446 + (i + 1) * 16];
            let (ptype, lba, n) = (e[4], le32(e, 8), le32(e, 12));
            if ptype == 0 || ptype == 0xee {
                continue;
            }
            keep(
                format!("MBR partition {}", i + 1),
                lba * 512,
                n * 512,
                &mut out,
            );
            if is_extended(ptype) {
                logical(dev, lba, size, &mut out);
            }
        }
    }
    for sector in [512u64, 4096] {
        let Some(h) = read(dev, sector, 92) else {
            continue;
        };
        if &h[0..8] != b"EFI PART" {
            continue;
        }
        let (entries_lba, count, esize) = (le64(&h, 72), le32(&h, 80), le32(&h, 84));
        if !(128..=4096).contains(&esize) || count > 1024 {
            continue;
        }
        let Some(tbl) = read(dev, entries_lba * sector, (count * esize) as usize) else {
            continue;
        };
        for i in 0..count as usize {
            let e = &tbl[i * esize as usize..(i + 1) * esize as usize];
            if e[0..16].iter().all(|&b| b == 0) {
                continue;
            }
            let (first, last) = (le64(e, 32), le64(e, 40));
            if last >= first {
                keep(
                    format!("GPT partition {}", i + 1),
                    first * sector,
                    (last - first + 1) * sector,
                    &mut out,
                );
            }
        }
        break;
    }
    out.sort_by_key(|e| e.start);
    out.dedup_by_key(|e| e.start);
    out
}

/// Walk the EBR chain of an extended partition starting at `ext_lba`.
fn logical(dev: &impl FileExt, ext_lba: u64, size: u64, out: &mut Vec<Extent>) {
    let mut ebr_lba = ext_lba;
    for n in 5..5 + 128 {
        let Some(ebr) = read(dev, ebr_lba * 512, 512) else {
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
