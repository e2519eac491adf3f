//! Writing the `rootfs` layout's table: an MBR with partition 1 active, or a GPT with the
//! legacy-BIOS-bootable attribute on partition 1 and a protective MBR.
//! Bytes 0..440 (boot code) are never changed here.

use super::{RootfsLayout, MIB};
use crate::layout::{PartitionTable, RestPartition};
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileTypeExt;

/// GPT partition type GUIDs, as text.
pub const GUID_LINUX_FS: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
pub const GUID_LINUX_LVM: &str = "E6D6D379-F507-44C2-A23C-238F2A3DF928";
/// GPT attribute bit 2: "legacy BIOS bootable", what syslinux's gptmbr.bin looks for.
pub const GPT_ATTR_LEGACY_BOOTABLE: u64 = 1 << 2;

pub const MBR_TYPE_LINUX: u8 = 0x83;
pub const MBR_TYPE_LVM: u8 = 0x8e;

/// A GUID in text form to the on-disk (mixed-endian) bytes.
pub fn guid_bytes(text: &str) -> [u8; 16] {
    let h: String = text.chars().filter(|c| *c != '-').collect();
    let mut b = [0u8; 16];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = u8::from_str_radix(h.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0);
    }
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    b
}

/// A random version-4 GUID in on-disk byte order.
pub fn random_guid() -> [u8; 16] {
    let mut b: [u8; 16] = rand::random();
    b[7] = (b[7] & 0x0f) | 0x40; // version field (little-endian third group)
    b[8] = (b[8] & 0x3f) | 0x80; // variant
    b
}

/// Logical sector size of the target: the device's for block devices, 512 for files.
pub fn sector_size(f: &File) -> u64 {
    match f.metadata() {
        Ok(m) if m.file_type().is_block_device() => {
            crate::disk::ioctl::logical_sector_size(f).map_or(512, u64::from)
        }
        _ => 512,
    }
}

pub(super) fn write(f: &File, disk_size: u64, l: &RootfsLayout) -> Result<()> {
    let ss = sector_size(f);
    for (what, v) in [
        ("start", l.root_start),
        ("size", l.root_size),
        ("rest start", l.rest.as_ref().map_or(0, |r| r.start)),
    ] {
        if v % ss != 0 {
            bail!("partition {what} {v} is not a multiple of the {ss}-byte sector");
        }
    }
    let mut w = f;
    match l.table {
        PartitionTable::Msdos => write_mbr(&mut w, ss, l),
        PartitionTable::Gpt => write_gpt(&mut w, ss, disk_size, l),
    }?;
    f.sync_all().context("flushing the partition table")?;
    Ok(())
}

fn lba32(bytes: u64, ss: u64, what: &str) -> Result<u32> {
    u32::try_from(bytes / ss)
        .with_context(|| format!("{what} is beyond what an msdos table can address (2 TiB)"))
}

/// CHS of an LBA with the usual 255 heads / 63 sectors geometry; the 1023/254/63 marker when
/// out of reach (every BIOS that matters reads the LBA fields).
fn chs(lba: u32) -> mbrman::CHS {
    let (h, s) = (255u32, 63u32);
    let c = lba / (h * s);
    if c > 1023 {
        return mbrman::CHS::new(1023, 254, 63);
    }
    mbrman::CHS::new(c as u16, ((lba / s) % h) as u8, (lba % s + 1) as u8)
}

fn entry(boot: bool, sys: u8, start: u64, size: u64, ss: u64) -> Result<mbrman::MBRPartitionEntry> {
    let lba = lba32(start, ss, "partition start")?;
    let sectors = lba32(size, ss, "partition size")?;
    let last = lba32(start + size - ss, ss, "partition end")?;
    Ok(mbrman::MBRPartitionEntry {
        boot: if boot {
            mbrman::BOOT_ACTIVE
        } else {
            mbrman::BOOT_INACTIVE
        },
        first_chs: chs(lba),
        sys,
        last_chs: chs(last),
        starting_lba: lba,
        sectors,
    })
}

fn read_boot_code<R: Read + Seek>(r: &mut R) -> Result<[u8; 440]> {
    let mut code = [0u8; 440];
    r.seek(SeekFrom::Start(0))?;
    r.read_exact(&mut code)
        .context("reading the first sector of the target")?;
    Ok(code)
}

fn write_mbr<W: Read + Write + Seek>(w: &mut W, ss: u64, l: &RootfsLayout) -> Result<()> {
    let code = read_boot_code(w)?;
    let mut sig: [u8; 4] = rand::random();
    if sig == [0; 4] {
        sig = [1, 0, 0, 0];
    }
    let mut mbr = mbrman::MBR::new_from(w, ss as u32, sig).context("preparing the MBR")?;
    mbr.header.bootstrap_code = code;
    mbr[1] = entry(true, MBR_TYPE_LINUX, l.root_start, l.root_size, ss)?;
    if let Some(r) = &l.rest {
        let sys = if r.kind == RestPartition::Lvm {
            MBR_TYPE_LVM
        } else {
            MBR_TYPE_LINUX
        };
        mbr[2] = entry(false, sys, r.start, r.size, ss)?;
    }
    mbr.write_into(w).context("writing the MBR")?;
    Ok(())
}

fn write_gpt<W: Read + Write + Seek>(
    w: &mut W,
    ss: u64,
    disk_size: u64,
    l: &RootfsLayout,
) -> Result<()> {
    let mut gpt = gptman::GPT::new_from(w, ss, random_guid()).context("preparing the GPT")?;
    gpt.align = MIB / ss;
    let last_lba = |start: u64, size: u64| (start + size) / ss - 1;
    if last_lba(l.root_start, l.root_size) > gpt.header.last_usable_lba {
        bail!("partition 1 ends past the last usable sector of a {disk_size}-byte disk with a GPT");
    }
    gpt[1] = gptman::GPTPartitionEntry {
        partition_type_guid: guid_bytes(GUID_LINUX_FS),
        unique_partition_guid: random_guid(),
        starting_lba: l.root_start / ss,
        ending_lba: last_lba(l.root_start, l.root_size),
        attribute_bits: GPT_ATTR_LEGACY_BOOTABLE,
        partition_name: "root".into(),
    };
    if let Some(r) = &l.rest {
        let (ty, name) = if r.kind == RestPartition::Lvm {
            (GUID_LINUX_LVM, "lvm")
        } else {
            (GUID_LINUX_FS, "data")
        };
        gpt[2] = gptman::GPTPartitionEntry {
            partition_type_guid: guid_bytes(ty),
            unique_partition_guid: random_guid(),
            starting_lba: r.start / ss,
            ending_lba: last_lba(r.start, r.size).min(gpt.header.last_usable_lba),
            attribute_bits: 0,
            partition_name: name.into(),
        };
    }
    gpt.write_into(w).context("writing the GPT")?;
    // Writes bytes 446..512 only: the boot code stays.
    gptman::GPT::write_protective_mbr_into(w, ss).context("writing the protective MBR")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text_to_disk_order() {
        // The Linux filesystem type as it appears on disk (sgdisk writes these bytes).
        assert_eq!(
            hex::encode(guid_bytes(GUID_LINUX_FS)),
            "af3dc60f838472478e793d69d8477de4"
        );
    }

    #[test]
    fn chs_of_small_and_large_lbas() {
        let c = chs(2048);
        assert_eq!((c.cylinder, c.head, c.sector), (0, 32, 33));
        let c = chs(u32::MAX);
        assert_eq!((c.cylinder, c.head, c.sector), (1023, 254, 63));
    }
}
