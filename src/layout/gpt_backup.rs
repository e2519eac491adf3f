//! After a whole-disk image is written to a larger disk, its GPT backup header sits where the
//! image ended. Move it (and the backup entry array) to the disk's real end, update the
//! primary header's last usable LBA, and refresh a protective MBR's size (keeping its boot
//! code and bootable flag), as `sgdisk -e` does.

use anyhow::{Context, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

/// Returns true when a GPT was found and moved.
pub fn relocate(f: &mut File, sector_size: u64, what: &str) -> Result<bool> {
    // The image's GPT is untrusted: check it before gptman allocates what it says.
    super::table::check_gpt(f, sector_size).with_context(|| format!("after writing {what}"))?;
    let mut gpt = match gptman::GPT::read_from(f, sector_size) {
        Ok(g) if g.header.primary_lba == 1 => g,
        _ => return Ok(false),
    };
    let disk_sectors = f.seek(SeekFrom::End(0))? / sector_size;
    let old_backup = gpt.header.backup_lba;
    if old_backup.checked_add(1) == Some(disk_sectors) {
        return Ok(false);
    }
    gpt.header
        .update_from(f, sector_size)
        .with_context(|| format!("cannot update the GPT header on {what}"))?;
    gpt.write_into(f)
        .with_context(|| format!("cannot move the GPT backup header to the end of {what}"))?;
    // The old backup header now lies inside the disk: erase its sector so no tool finds a
    // stale, conflicting copy.
    if old_backup < disk_sectors && old_backup > 1 {
        // In range: old_backup * sector_size < the disk's size.
        f.seek(SeekFrom::Start(old_backup * sector_size))?;
        f.write_all(&vec![0u8; sector_size as usize])?;
    }
    let mut mbr = [0u8; 512];
    f.seek(SeekFrom::Start(0))?;
    f.read_exact(&mut mbr)?;
    // A protective MBR has its 0xEE entry in the first slot; a hybrid one with the entry
    // elsewhere is left alone.
    if crate::disk::parttable::protective_entry(&mbr) == Some(0) {
        if mbr[446] == 0x80 {
            gptman::GPT::write_bootable_protective_mbr_into(f, sector_size)?;
        } else {
            gptman::GPT::write_protective_mbr_into(f, sector_size)?;
        }
    }
    f.sync_all()
        .with_context(|| format!("flushing {what} failed"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_backup_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("img");
        // A 16 MiB "image" with a GPT, copied onto a 64 MiB "disk".
        {
            let mut f = File::options()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&img)
                .unwrap();
            f.set_len(16 << 20).unwrap();
            let mut gpt = gptman::GPT::new_from(&mut f, 512, [9; 16]).unwrap();
            gpt[1] = gptman::GPTPartitionEntry {
                partition_type_guid: [1; 16],
                unique_partition_guid: [2; 16],
                starting_lba: 2048,
                ending_lba: 20000,
                attribute_bits: 0,
                partition_name: "root".into(),
            };
            gpt.write_into(&mut f).unwrap();
            gptman::GPT::write_bootable_protective_mbr_into(&mut f, 512).unwrap();
        }
        let disk = dir.path().join("disk");
        std::fs::copy(&img, &disk).unwrap();
        let mut f = File::options().read(true).write(true).open(&disk).unwrap();
        f.set_len(64 << 20).unwrap();
        assert!(relocate(&mut f, 512, "disk").unwrap());
        let gpt = gptman::GPT::read_from(&mut f, 512).unwrap();
        assert_eq!(gpt.header.backup_lba, (64 << 20) / 512 - 1);
        assert_eq!(gpt[1].ending_lba, 20000);
        // The backup copy at the end is valid on its own.
        f.seek(SeekFrom::Start(gpt.header.backup_lba * 512))
            .unwrap();
        let backup = gptman::GPTHeader::read_from(&mut f).unwrap();
        assert_eq!(backup.primary_lba, gpt.header.backup_lba);
        let mut mbr = [0u8; 512];
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_exact(&mut mbr).unwrap();
        assert_eq!(mbr[446], 0x80);
        assert_eq!(
            u32::from_le_bytes(mbr[458..462].try_into().unwrap()),
            (64 << 20) / 512 - 1
        );
        // Idempotent.
        assert!(!relocate(&mut f, 512, "disk").unwrap());
    }

    /// Regression (issue 14): a GPT header stating 2^32 - 1 entries, its CRC recomputed, made
    /// gptman allocate hundreds of GiB and abort the process right after the write.
    #[test]
    fn huge_entry_count_is_an_error_not_an_abort() {
        let mut f = tempfile::tempfile().unwrap();
        f.set_len(16 << 20).unwrap();
        let mut gpt = gptman::GPT::new_from(&mut f, 512, [9; 16]).unwrap();
        gpt.write_into(&mut f).unwrap();
        gptman::GPT::write_protective_mbr_into(&mut f, 512).unwrap();
        let mut h = [0u8; 92];
        f.seek(SeekFrom::Start(512)).unwrap();
        f.read_exact(&mut h).unwrap();
        h[80..84].copy_from_slice(&u32::MAX.to_le_bytes());
        h[16..20].fill(0);
        let mut crc = flate2::Crc::new();
        crc.update(&h);
        h[16..20].copy_from_slice(&crc.sum().to_le_bytes());
        f.seek(SeekFrom::Start(512)).unwrap();
        f.write_all(&h).unwrap();
        f.set_len(64 << 20).unwrap();
        let e = format!("{:#}", relocate(&mut f, 512, "disk").unwrap_err());
        assert!(e.contains("4294967295 partition entries"), "{e}");
        let e = format!("{:#}", crate::layout::read_table(&f).unwrap_err());
        assert!(e.contains("partition entries"), "{e}");
    }
}
