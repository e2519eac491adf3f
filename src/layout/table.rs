//! The partition table a disk image brought (MBR with logical partitions, or GPT), as the
//! installed system's partitions, read through `disk::parttable`; and marking one partition
//! bootable for the BIOS boot code (a rewrite, through gptman for a GPT).

use super::rootfs::{sector_size, GPT_ATTR_LEGACY_BOOTABLE};
use super::PartitionTable;
use crate::disk::parttable::{self, ReadAt};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// 1-based, as the kernel numbers it (logical MBR partitions from 5).
    pub number: u32,
    pub start: u64,
    pub size: u64,
    /// MBR active flag, or GPT legacy-BIOS-bootable attribute.
    pub bootable: bool,
    /// GPT partition name (CoreOS names its partitions: ROOT, USR-A, ...).
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub kind: PartitionTable,
    pub sector_size: u64,
    pub partitions: Vec<Partition>,
}

/// Refuse a GPT header gptman must not see: it allocates the entry count the header states
/// (a u32 anyone can set, with a CRC anyone can compute) and computes offsets from its LBAs
/// unchecked. Checks every header it may read (primary, then backup), at the sector sizes it
/// may try: `ss`, 512, and 4096 only when no header is found with 512 (`GPT::find_from`): a
/// 512-byte GPT's entry array covers byte 4096, and what lies there is no header.
pub fn check_gpt(f: &File, ss: u64) -> Result<()> {
    use crate::disk::parttable::GptHeader;
    let size = disk_size(f)?;
    let mut sectors = vec![512];
    let last = (size / 512).saturating_sub(1);
    if [1, last]
        .iter()
        .all(|&l| GptHeader::read(f, 512, l).is_none())
    {
        sectors.push(4096);
    }
    if !sectors.contains(&ss) {
        sectors.push(ss);
    }
    parttable::check_gpt_headers(f, size, &sectors)
        .map_err(|e| anyhow::anyhow!("refusing the partition table: {e}"))
}

/// `read_table` of the disk or image file at `disk`, errors naming it.
pub fn read_table_at(disk: &std::path::Path) -> Result<Table> {
    let f = File::open(disk).with_context(|| format!("cannot open {}", disk.display()))?;
    read_table(&f).with_context(|| format!("reading the partition table of {}", disk.display()))
}

/// Read the partition table of `f` (a target disk or image file), checked (CRCs, boot
/// flags, the EBR chain) by the one byte-level reader, `disk::parttable`.
pub fn read_table(f: &File) -> Result<Table> {
    let ss = sector_size(f);
    let s0 = f
        .bytes_at(0, 512)
        .context("reading the first sector of the target: it is shorter than one sector")?;
    if parttable::protective_entry(&s0).is_some() {
        return read_gpt(f, ss);
    }
    if s0[510] != 0x55 || s0[511] != 0xAA {
        bail!("the disk has no partition table (no MBR signature in its first sector)");
    }
    read_mbr(f, &s0, ss)
}

fn disk_size(f: &File) -> Result<u64> {
    (&*f)
        .seek(SeekFrom::End(0))
        .context("finding the size of the target")
}

/// The GPT behind a protective MBR, its headers checked before anything is read.
fn read_gpt(f: &File, ss: u64) -> Result<Table> {
    check_gpt(f, ss)?;
    let size = disk_size(f)?;
    let gpt = parttable::read_gpt_checked(f, size, ss)
        .or_else(|_| parttable::find_gpt_checked(f, size))
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("the disk has a protective MBR but no readable GPT")?;
    let ss = gpt.header.sector;
    let mut partitions = Vec::new();
    for e in &gpt.entries {
        if e.last_lba < e.first_lba {
            continue;
        }
        let n = e.number;
        let start = e.first_lba.checked_mul(ss);
        let size = (e.last_lba - e.first_lba)
            .checked_add(1)
            .and_then(|s| s.checked_mul(ss));
        let (Some(start), Some(size)) = (start, size) else {
            bail!("GPT partition {n} lies beyond any disk (LBAs overflow 64 bits)");
        };
        partitions.push(Partition {
            number: n,
            start,
            size,
            bootable: e.attributes & GPT_ATTR_LEGACY_BOOTABLE != 0,
            name: Some(e.name.clone()).filter(|s| !s.is_empty()),
        });
    }
    Ok(Table {
        kind: PartitionTable::Gpt,
        sector_size: ss,
        partitions,
    })
}

/// The MBR (`s0`, its first sector) and its logical partitions.
fn read_mbr(f: &File, s0: &[u8], ss: u64) -> Result<Table> {
    // No real partition starts on the MBR itself (and mbrman, which writes tables, panics
    // on one, found by fuzzing): refuse such an entry first.
    for i in 0..4 {
        let e = &s0[446 + i * 16..446 + (i + 1) * 16];
        let start = u32::from_le_bytes([e[8], e[9], e[10], e[11]]);
        if e[4] != 0 && start == 0 {
            bail!("the MBR is invalid: partition {} starts at sector 0", i + 1);
        }
    }
    let entries = parttable::read_mbr_checked(f, ss)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("reading the MBR")?;
    let partitions = entries
        .iter()
        .filter(|p| p.ptype != 0 && !parttable::is_extended_checked(p.ptype) && p.sectors > 0)
        .map(|p| Partition {
            number: p.number,
            start: p.start_lba * ss,
            size: p.sectors * ss,
            bootable: p.boot == 0x80,
            name: None,
        })
        .collect();
    Ok(Table {
        kind: PartitionTable::Msdos,
        sector_size: ss,
        partitions,
    })
}

/// Mark partition `number` as the one the BIOS boot code starts: the MBR active flag (and no
/// other), or the GPT legacy-BIOS-bootable attribute. Leaves the boot code bytes alone.
pub fn set_bootable(f: &File, table: &Table, number: u32) -> Result<()> {
    let mut w = f;
    match table.kind {
        PartitionTable::Msdos => {
            if !(1..=4).contains(&number) {
                bail!(
                    "partition {number} is a logical partition; the MBR boot code can only \
                     start a primary one (1-4)"
                );
            }
            let mut entries = [0u8; 64];
            w.seek(SeekFrom::Start(446))?;
            w.read_exact(&mut entries)?;
            for i in 0..4u32 {
                entries[16 * i as usize] = if i + 1 == number { 0x80 } else { 0x00 };
            }
            w.seek(SeekFrom::Start(446))?;
            w.write_all(&entries)
                .context("writing the MBR active flag")?;
        }
        PartitionTable::Gpt => {
            check_gpt(f, table.sector_size)?;
            let mut gpt = gptman::GPT::read_from(&mut w, table.sector_size)
                .context("re-reading the GPT to set the bootable attribute")?;
            let p = &mut gpt[number];
            if p.is_unused() {
                bail!("GPT partition {number} does not exist");
            }
            if p.attribute_bits & GPT_ATTR_LEGACY_BOOTABLE != 0 {
                return Ok(());
            }
            p.attribute_bits |= GPT_ATTR_LEGACY_BOOTABLE;
            gpt.write_into(&mut w)
                .context("writing the GPT with the legacy-BIOS-bootable attribute")?;
        }
    }
    f.sync_all().context("flushing the partition table")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{plan_rootfs, write_rootfs_table, MIB};
    use crate::layout::{PartitionTable, RestPartition, RootfsRequest};
    use std::os::unix::fs::FileExt;
    use std::process::Command;

    /// Regression: fuzzing found mbrman panicking on an entry that starts at sector 0.
    #[test]
    fn entry_at_sector_zero_is_an_error_not_a_panic() {
        let crash = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/regressions/partition_table-mbr-start-0"
        ))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d");
        std::fs::write(&p, &crash).unwrap();
        let f = File::open(&p).unwrap();
        let _ = read_table(&f);
        let mut m = vec![0u8; 4096];
        m[446 + 4] = 0x83;
        m[446 + 12] = 8;
        m[510] = 0x55;
        m[511] = 0xaa;
        std::fs::write(&p, &m).unwrap();
        let e = read_table(&File::open(&p).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("sector 0"), "{e}");
    }

    /// Regression (issue 14): a GPT header stating 2^32 - 1 entries with a valid CRC made
    /// gptman allocate hundreds of GiB and abort.
    #[test]
    fn huge_gpt_entry_count_is_an_error_not_an_abort() {
        let f = File::open(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fuzz/regressions/partition_table-gpt-huge-entry-count"
        ))
        .unwrap();
        let e = format!("{:#}", read_table(&f).unwrap_err());
        assert!(e.contains("4294967295 partition entries"), "{e}");
    }

    /// A 512-byte GPT whose 25th entry (at byte 4096, where a 4096-byte GPT's header would
    /// be) has a type GUID starting with "EFI PART": gptman never reads that as a header, so
    /// it is not judged as one.
    #[test]
    fn a_512_byte_gpt_is_not_judged_as_a_4096_byte_one() {
        let mut f = tempfile::tempfile().unwrap();
        f.set_len(8 << 20).unwrap();
        let mut gpt = gptman::GPT::new_from(&mut f, 512, [7; 16]).unwrap();
        let mut guid = [0xffu8; 16];
        guid[..8].copy_from_slice(b"EFI PART");
        gpt[25] = gptman::GPTPartitionEntry {
            partition_type_guid: guid,
            unique_partition_guid: [2; 16],
            starting_lba: 2048,
            ending_lba: 4095,
            attribute_bits: 0,
            partition_name: "odd".into(),
        };
        gpt.write_into(&mut f).unwrap();
        gptman::GPT::write_protective_mbr_into(&mut f, 512).unwrap();
        check_gpt(&f, 512).unwrap();
        assert_eq!(read_table(&f).unwrap().partitions[0].number, 25);
    }

    fn disk(size: u64) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("disk.img");
        File::create(&p).unwrap().set_len(size).unwrap();
        (d, p)
    }

    fn open_rw(p: &std::path::Path) -> File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(p)
            .unwrap()
    }

    /// What sfdisk (util-linux) reads back from our table, as JSON.
    fn sfdisk(p: &std::path::Path) -> serde_json::Value {
        let out = Command::new("sfdisk")
            .arg("--json")
            .arg(p)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    #[test]
    fn msdos_layout_round_trip_and_boot_code_kept() {
        let (_d, p) = disk(256 * MIB);
        let f = open_rw(&p);
        // Something in the boot code area that the table writer must not touch.
        (&f).write_all(&[0xEB; 440]).unwrap();
        let s = RootfsRequest {
            rest: RestPartition::Lvm,
            ..RootfsRequest::default()
        };
        let l = plan_rootfs(&s, 256 * MIB, Some(100 * MIB)).unwrap();
        write_rootfs_table(&f, 256 * MIB, &l).unwrap();
        let mut head = [0u8; 440];
        (&f).seek(SeekFrom::Start(0)).unwrap();
        (&f).read_exact(&mut head).unwrap();
        assert_eq!(head, [0xEB; 440]);

        let t = read_table(&f).unwrap();
        assert_eq!(t.kind, PartitionTable::Msdos);
        assert_eq!(t.partitions.len(), 2);
        assert_eq!(
            (
                t.partitions[0].start,
                t.partitions[0].size,
                t.partitions[0].bootable
            ),
            (MIB, 100 * MIB, true)
        );
        assert_eq!(t.partitions[1].start + t.partitions[1].size, 256 * MIB);

        let j = sfdisk(&p);
        let parts = j["partitiontable"]["partitions"].as_array().unwrap();
        assert_eq!(j["partitiontable"]["label"], "dos");
        assert_eq!(parts[0]["start"], 2048);
        assert_eq!(parts[0]["size"], 204800);
        assert_eq!(parts[0]["bootable"], true);
        assert_eq!(parts[0]["type"], "83");
        assert_eq!(parts[1]["type"], "8e");
    }

    #[test]
    fn gpt_layout_round_trip() {
        let (_d, p) = disk(256 * MIB);
        let f = open_rw(&p);
        let s = RootfsRequest {
            table: PartitionTable::Gpt,
            rest: RestPartition::Linux,
            ..RootfsRequest::default()
        };
        let l = plan_rootfs(&s, 256 * MIB, Some(64 * MIB)).unwrap();
        write_rootfs_table(&f, 256 * MIB, &l).unwrap();
        let t = read_table(&f).unwrap();
        assert_eq!(t.kind, PartitionTable::Gpt);
        assert_eq!(t.partitions[0].start, MIB);
        assert_eq!(t.partitions[0].size, 64 * MIB);
        assert!(t.partitions[0].bootable);
        assert!(!t.partitions[1].bootable);
        let j = sfdisk(&p);
        let pt = &j["partitiontable"];
        assert_eq!(pt["label"], "gpt");
        let parts = pt["partitions"].as_array().unwrap();
        assert_eq!(parts[0]["start"], 2048);
        assert_eq!(parts[0]["size"], 64 * 2048);
        assert_eq!(parts[0]["type"], GUID_LINUX_FS_TEXT);
        assert!(parts[0]["attrs"]
            .as_str()
            .unwrap()
            .contains("LegacyBIOSBootable"));
        // sgdisk verifies CRCs, the backup header and the protective MBR.
        let out = Command::new("sgdisk").arg("-v").arg(&p).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("No problems found"), "{text}");
    }

    const GUID_LINUX_FS_TEXT: &str = crate::layout::rootfs::GUID_LINUX_FS;

    #[test]
    fn set_bootable_moves_the_active_flag() {
        let (_d, p) = disk(64 * MIB);
        sfdisk_script(&p, "label: dos\n2048,20M,83,*\n,20M,83\n,,5\n,5M,83\n");
        let f = open_rw(&p);
        let t = read_table(&f).unwrap();
        let nums: Vec<u32> = t.partitions.iter().map(|p| p.number).collect();
        assert_eq!(nums, vec![1, 2, 5]);
        set_bootable(&f, &t, 2).unwrap();
        let t = read_table(&f).unwrap();
        assert!(!t.partitions[0].bootable);
        assert!(t.partitions[1].bootable);
        assert!(set_bootable(&f, &t, 5).is_err());
    }

    /// What gptman and mbrman (the readers before disk::parttable took over) make of `f`,
    /// as (number, start, size, bootable, name) rows: the oracle for the checked readers.
    fn oracle(f: &File) -> Vec<(u32, u64, u64, bool, Option<String>)> {
        let mut r = f;
        if let Ok(gpt) = gptman::GPT::find_from(&mut r) {
            let ss = gpt.sector_size;
            return gpt
                .iter()
                .filter(|(_, p)| p.is_used())
                .map(|(n, p)| {
                    let name = p.partition_name.as_str().to_string();
                    (
                        n,
                        p.starting_lba * ss,
                        (p.ending_lba - p.starting_lba + 1) * ss,
                        p.attribute_bits & GPT_ATTR_LEGACY_BOOTABLE != 0,
                        Some(name).filter(|s| !s.is_empty()),
                    )
                })
                .collect();
        }
        let mbr = mbrman::MBR::read_from(&mut r, 512).unwrap();
        mbr.iter()
            .filter(|(_, p)| p.is_used() && !p.is_extended() && p.sectors > 0)
            .map(|(n, p)| {
                let (start, size) = (u64::from(p.starting_lba), u64::from(p.sectors));
                (n as u32, start * 512, size * 512, p.is_active(), None)
            })
            .collect()
    }

    fn rows(t: &Table) -> Vec<(u32, u64, u64, bool, Option<String>)> {
        t.partitions
            .iter()
            .map(|p| (p.number, p.start, p.size, p.bootable, p.name.clone()))
            .collect()
    }

    fn sfdisk_script(p: &std::path::Path, script: &str) {
        let out = Command::new("sfdisk")
            .arg(p)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().unwrap().write_all(script.as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(out.status.success());
    }

    /// The checked readers of disk::parttable read what gptman and mbrman read: MBRs with
    /// logical partitions and GPTs with names and attributes, made by sfdisk.
    #[test]
    fn checked_readers_agree_with_gptman_and_mbrman() {
        for script in [
            "label: dos\n2048,20M,83,*\n,20M,83\n,,5\n,5M,83\n,3M,82\n",
            "label: dos\n2048,8M,c\n,8M,83,*\n",
            "label: gpt\nstart=2048, size=20M, type=L, name=ROOT, attrs=LegacyBIOSBootable\n\
             size=10M, type=S\ntype=L, name=USR-A\n",
        ] {
            let (_d, p) = disk(64 * MIB);
            sfdisk_script(&p, script);
            let f = File::open(&p).unwrap();
            let t = read_table(&f).unwrap();
            assert!(!t.partitions.is_empty(), "{script}");
            assert_eq!(rows(&t), oracle(&f), "{script}");
        }
    }

    /// Like gptman: a primary header with a wrong CRC falls back to the backup; an entry
    /// array with a wrong CRC is refused.
    #[test]
    fn gpt_crcs_are_checked() {
        let (_d, p) = disk(64 * MIB);
        sfdisk_script(&p, "label: gpt\n2048,20M,L\n");
        let f = open_rw(&p);
        let want = rows(&read_table(&f).unwrap());
        // A flipped byte in the primary header's reserved field breaks only its CRC.
        f.write_all_at(&[0xff], 512 + 20).unwrap();
        assert_eq!(rows(&read_table(&f).unwrap()), want);
        // A flipped byte in both entry arrays: nothing valid is left.
        f.write_all_at(&[0xff], 1024 + 100).unwrap();
        let backup_array = 64 * MIB - 33 * 512;
        f.write_all_at(&[0xff], backup_array + 100).unwrap();
        let e = format!("{:#}", read_table(&f).unwrap_err());
        assert!(e.contains("no readable GPT"), "{e}");
        assert!(e.contains("CRC32"), "{e}");
    }

    #[test]
    fn no_table_is_an_error() {
        let (_d, p) = disk(MIB);
        let f = open_rw(&p);
        assert!(read_table(&f).is_err());
    }
}
