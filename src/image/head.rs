//! What the image's first MiB says about the image: its partition table and the smallest disk
//! that holds every partition. Untrusted bytes: every offset is bounds-checked.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    Gpt,
    Msdos,
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeadInfo {
    pub table: Table,
    /// Bytes a disk needs to hold every partition (and the GPT backup), when a table says so.
    pub min_disk_size: Option<u64>,
    pub partitions: usize,
}

fn u32le(b: &[u8], off: usize) -> Option<u64> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes(s.try_into().unwrap()) as u64)
}
fn u64le(b: &[u8], off: usize) -> Option<u64> {
    b.get(off..off + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
}

/// Virtual-machine disk containers, which are not raw disks: written to a disk byte for byte
/// they leave a disk that does not boot, so they are named and refused before anything is
/// written. (A fixed-size VHD is raw data plus a footer at the end, and works as it is.)
pub fn container_format(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"QFI\xfb") {
        Some("qcow2")
    } else if head.starts_with(b"KDMV") || head.starts_with(b"# Disk DescriptorFile") {
        Some("VMDK")
    } else if head.starts_with(b"vhdxfile") {
        Some("VHDX")
    } else if head.starts_with(b"conectix") {
        Some("VHD (dynamic)")
    } else if head.get(0x40..0x44) == Some(&[0x7f, 0x10, 0xda, 0xbe]) {
        Some("VDI")
    } else {
        None
    }
}

pub fn inspect(head: &[u8]) -> HeadInfo {
    for ss in [512usize, 4096] {
        if let Some(info) = gpt(head, ss) {
            return info;
        }
    }
    if let Some(info) = mbr(head) {
        return info;
    }
    HeadInfo {
        table: Table::None,
        min_disk_size: None,
        partitions: 0,
    }
}

fn gpt(head: &[u8], ss: usize) -> Option<HeadInfo> {
    let h = head.get(ss..ss + 92)?;
    if &h[..8] != b"EFI PART" {
        return None;
    }
    let entries_lba = u64le(h, 72)?;
    let count = u32le(h, 80)?.min(1024);
    let esize = u32le(h, 84)?;
    if !(128..=4096).contains(&esize) {
        return None;
    }
    let mut max_end = 0u64;
    let mut n = 0;
    for i in 0..count {
        let off = (entries_lba as usize).checked_mul(ss)? + (i * esize) as usize;
        let Some(e) = head.get(off..off + 56) else {
            break; // entries beyond the first MiB: judge by what we saw
        };
        if e[..16].iter().all(|b| *b == 0) {
            continue;
        }
        n += 1;
        max_end = max_end.max(u64le(e, 40)?);
    }
    // Partition entry array (32 sectors of 512 bytes for the usual 128 entries) + header.
    let array_sectors = (count * esize).div_ceil(ss as u64);
    let min = if n > 0 {
        Some((max_end + 1 + array_sectors + 1) * ss as u64)
    } else {
        None
    };
    Some(HeadInfo {
        table: Table::Gpt,
        min_disk_size: min,
        partitions: n,
    })
}

fn mbr(head: &[u8]) -> Option<HeadInfo> {
    let s = head.get(..512)?;
    if s[510] != 0x55 || s[511] != 0xaa {
        return None;
    }
    let mut max_end = 0;
    let mut n = 0;
    for i in 0..4 {
        let e = &s[446 + i * 16..446 + (i + 1) * 16];
        // Boot flag must be 0x00 or 0x80, or this is a boot sector (e.g. a FAT VBR), not an MBR.
        if e[0] != 0 && e[0] != 0x80 {
            return None;
        }
        let (ty, start, len) = (e[4], u32le(e, 8)?, u32le(e, 12)?);
        if ty == 0 || len == 0 {
            continue;
        }
        n += 1;
        max_end = max_end.max((start + len) * 512);
    }
    if n == 0 {
        return None;
    }
    Some(HeadInfo {
        table: Table::Msdos,
        min_disk_size: Some(max_end),
        partitions: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_named() {
        assert_eq!(container_format(b"QFI\xfb\0\0\0\x03"), Some("qcow2"));
        assert_eq!(container_format(b"KDMV\x01\0\0\0"), Some("VMDK"));
        assert_eq!(container_format(b"vhdxfile"), Some("VHDX"));
        let mut vdi = vec![0u8; 512];
        vdi[0x40..0x44].copy_from_slice(&0xbeda_107f_u32.to_le_bytes());
        assert_eq!(container_format(&vdi), Some("VDI"));
        // A raw disk with an MBR, and an empty one, are not containers.
        let mut mbr = vec![0u8; 512];
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        assert_eq!(container_format(&mbr), None);
        assert_eq!(container_format(b""), None);
    }

    #[test]
    fn mbr_extent() {
        let mut h = vec![0u8; 1 << 20];
        h[510] = 0x55;
        h[511] = 0xaa;
        h[446] = 0x80;
        h[446 + 4] = 0x83;
        h[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
        h[446 + 12..446 + 16].copy_from_slice(&4096u32.to_le_bytes());
        let i = inspect(&h);
        assert_eq!(i.table, Table::Msdos);
        assert_eq!(i.min_disk_size, Some((2048 + 4096) * 512));
    }

    #[test]
    fn gpt_extent_from_real_table() {
        let mut cur = std::io::Cursor::new(vec![0u8; 64 << 20]);
        let mut gpt = gptman::GPT::new_from(&mut cur, 512, [7; 16]).unwrap();
        gpt[1] = gptman::GPTPartitionEntry {
            partition_type_guid: [1; 16],
            unique_partition_guid: [2; 16],
            starting_lba: 2048,
            ending_lba: 40959,
            attribute_bits: 0,
            partition_name: "root".into(),
        };
        gpt.write_into(&mut cur).unwrap();
        let data = cur.into_inner();
        let i = inspect(&data[..1 << 20]);
        assert_eq!(i.table, Table::Gpt);
        assert_eq!(i.partitions, 1);
        assert_eq!(i.min_disk_size, Some((40960 + 32 + 1) * 512));
    }

    #[test]
    fn garbage_is_no_table() {
        assert_eq!(inspect(&[0xffu8; 4096]).table, Table::None);
        assert_eq!(inspect(&[]).table, Table::None);
        let mut h = vec![0u8; 1024];
        h[512..520].copy_from_slice(b"EFI PART");
        h[512 + 84..512 + 88].copy_from_slice(&128u32.to_le_bytes());
        h[512 + 72..512 + 80].copy_from_slice(&u64::MAX.to_le_bytes());
        h[512 + 80..512 + 84].copy_from_slice(&4u32.to_le_bytes());
        let _ = inspect(&h);
    }
}
