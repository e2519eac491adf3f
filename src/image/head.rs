//! What the image's first MiB says about the image: whether it is a virtual-machine disk
//! container rather than a raw disk, its partition table, and the smallest disk that holds
//! every partition. The table is read by the same reader the wipe uses (disk::parttable).

use crate::disk::parttable::{self, Kind};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct HeadInfo {
    pub table: Kind,
    /// Bytes a disk needs to hold every partition (and the GPT backup), when a table says so.
    pub min_disk_size: Option<u64>,
    pub partitions: usize,
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

/// The partition table in `head` (the image's first bytes). Entries beyond `head` (a GPT
/// entry array past the first MiB, EBRs further on) are not seen.
pub fn inspect(head: &[u8]) -> HeadInfo {
    let found = parttable::read(head, u64::MAX);
    HeadInfo {
        table: found.kind,
        min_disk_size: found.min_disk_size(),
        partitions: found.extents.len(),
    }
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
        assert_eq!(i.table, Kind::Msdos);
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
        assert_eq!(i.table, Kind::Gpt);
        assert_eq!(i.partitions, 1);
        assert_eq!(i.min_disk_size, Some((40960 + 32 + 1) * 512));
    }

    #[test]
    fn a_boot_sector_is_no_table() {
        // A FAT filesystem's boot sector has the 55 AA signature too, and boot code where
        // an MBR has its entries.
        let mut vbr = vec![0x41u8; 512];
        vbr[..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
        vbr[510] = 0x55;
        vbr[511] = 0xaa;
        let i = inspect(&vbr);
        assert_eq!((i.table, i.min_disk_size), (Kind::None, None));
    }

    #[test]
    fn garbage_is_no_table() {
        assert_eq!(inspect(&[0xffu8; 4096]).table, Kind::None);
        assert_eq!(inspect(&[]).table, Kind::None);
        let mut h = vec![0u8; 1024];
        h[512..520].copy_from_slice(b"EFI PART");
        h[512 + 84..512 + 88].copy_from_slice(&128u32.to_le_bytes());
        h[512 + 72..512 + 80].copy_from_slice(&u64::MAX.to_le_bytes());
        h[512 + 80..512 + 84].copy_from_slice(&4u32.to_le_bytes());
        let _ = inspect(&h);
    }
}
