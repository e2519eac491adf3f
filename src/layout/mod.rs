//! Partition tables: the `rootfs` layout (mbrman/gptman), reading a written image's table,
//! and GPT backup relocation.
//!
//! `plan_rootfs` runs in preflight and only computes; `write_rootfs_table` writes the table
//! after the filesystem has been streamed in; `table` reads what a disk image brought.

pub mod gpt_backup;
pub mod rootfs;
pub mod table;

use crate::units::Size;
use anyhow::{bail, Result};
use serde::Serialize;
use std::fs::File;

pub use table::{read_table, read_table_at, set_bootable, Partition, Table};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RestPartition {
    #[default]
    None,
    Linux,
    Lvm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PartitionTable {
    #[default]
    Msdos,
    Gpt,
}

pub const MIB: u64 = 1 << 20;
/// Sectors a GPT keeps at the end of the disk: 32 sectors of entries and the backup header.
const GPT_TAIL_BYTES: u64 = 33 * 512;
/// MBR entries count sectors in 32 bits: with 512-byte sectors nothing may end past 2 TiB.
const MBR_LIMIT_BYTES: u64 = (u32::MAX as u64) * 512;

/// The second partition over the rest of the disk (`rest=linux|lvm`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RestLayout {
    pub kind: RestPartition,
    pub start: u64,
    pub size: u64,
}

/// The partition layout rdinstall creates for image_kind=rootfs.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RootfsLayout {
    /// Byte offset of partition 1 (the root filesystem).
    pub root_start: u64,
    /// Byte size of partition 1.
    pub root_size: u64,
    pub table: PartitionTable,
    pub rest: Option<RestLayout>,
}

fn round_up_mib(n: u64) -> u64 {
    n.div_ceil(MIB).saturating_mul(MIB)
}

fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / MIB as f64)
}

/// What the settings ask of a rootfs layout (`partition_table`, `rest`, `root_size`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RootfsRequest {
    pub table: PartitionTable,
    pub rest: RestPartition,
    pub root_size: Option<Size>,
}

/// Plan the layout in preflight. `image_size` is the decoded filesystem's size when known.
///
/// Partition 1 starts at 1 MiB and is `root_size` (or the image's size) rounded up to whole
/// MiB. Without either, and with `rest=none`, it takes the whole disk. Refuses what does not
/// fit; nothing is written.
pub fn plan_rootfs(
    s: &RootfsRequest,
    disk_size: u64,
    image_size: Option<u64>,
) -> Result<RootfsLayout> {
    let gpt = s.table == PartitionTable::Gpt;
    let root_start = MIB;
    // Where the last partition may end.
    let mut end = disk_size / 512 * 512;
    if gpt {
        end = end.saturating_sub(GPT_TAIL_BYTES);
    } else {
        end = end.min(MBR_LIMIT_BYTES);
    }
    let room = end.saturating_sub(root_start);
    if room < MIB {
        bail!(
            "the target disk ({} bytes) is too small for a root partition at 1 MiB",
            disk_size
        );
    }
    let root_size = root_size(s, room, image_size)?;
    if root_size > room {
        bail!(
            "partition 1 ({}) does not fit on the target disk ({} usable from 1 MiB{}); use a \
             larger disk or a smaller root_size",
            mib(root_size),
            mib(room),
            if !gpt && disk_size > MBR_LIMIT_BYTES {
                "; an msdos table reaches only 2 TiB, partition_table=gpt reaches further"
            } else {
                ""
            }
        );
    }
    let rest = rest_layout(s.rest, gpt, root_start + root_size, end)?;
    Ok(RootfsLayout {
        root_start,
        root_size,
        table: s.table,
        rest,
    })
}

/// The size of partition 1: `root_size` (at least the image), or the image's size, or (with
/// no second partition) all the room there is.
fn root_size(s: &RootfsRequest, room: u64, image_size: Option<u64>) -> Result<u64> {
    Ok(match (s.root_size, image_size) {
        (Some(sz), img) => {
            let r = round_up_mib(sz.0);
            if let Some(i) = img.filter(|i| *i > r) {
                bail!(
                    "root_size {} is smaller than the filesystem image ({}); raise root_size \
                     or leave it unset to use the image's size",
                    mib(r),
                    mib(i)
                );
            }
            r
        }
        (None, Some(i)) => round_up_mib(i.max(1)),
        (None, None) if s.rest == RestPartition::None => room / MIB * MIB,
        (None, None) => bail!(
            "the filesystem image's size is not known before writing, so rest={} cannot be \
             placed: set root_size",
            rest_name(s.rest)
        ),
    })
}

fn rest_name(r: RestPartition) -> &'static str {
    match r {
        RestPartition::Lvm => "lvm",
        _ => "linux",
    }
}

/// The second partition (`rest=linux|lvm`) from the end of partition 1 to `end`.
fn rest_layout(
    kind: RestPartition,
    gpt: bool,
    root_end: u64,
    end: u64,
) -> Result<Option<RestLayout>> {
    if kind == RestPartition::None {
        return Ok(None);
    }
    let rest_end = if gpt { end } else { end / MIB * MIB };
    let size = rest_end.saturating_sub(root_end);
    if size < MIB {
        bail!(
            "rest={} asks for a second partition but only {} remain after partition 1",
            rest_name(kind),
            mib(size)
        );
    }
    Ok(Some(RestLayout {
        kind,
        start: root_end,
        size,
    }))
}

/// Write the partition table (after the filesystem has been streamed into place). The first
/// 440 bytes (boot code) are kept as they are: the bootloader stage decides about them.
pub fn write_rootfs_table(f: &File, disk_size: u64, l: &RootfsLayout) -> Result<()> {
    rootfs::write(f, disk_size, l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(table: PartitionTable, rest: RestPartition, root: Option<u64>) -> RootfsRequest {
        RootfsRequest {
            table,
            rest,
            root_size: root.map(Size),
        }
    }

    #[test]
    fn image_size_rounds_up_to_mib() {
        let s = settings(PartitionTable::Msdos, RestPartition::None, None);
        let l = plan_rootfs(&s, 1 << 30, Some(100 * MIB + 1)).unwrap();
        assert_eq!((l.root_start, l.root_size), (MIB, 101 * MIB));
        assert!(l.rest.is_none());
    }

    #[test]
    fn root_size_wins_but_not_below_the_image() {
        let s = settings(PartitionTable::Msdos, RestPartition::None, Some(200 * MIB));
        assert_eq!(
            plan_rootfs(&s, 1 << 30, Some(100 * MIB)).unwrap().root_size,
            200 * MIB
        );
        let e = plan_rootfs(&s, 1 << 30, Some(300 * MIB)).unwrap_err();
        assert!(
            e.to_string().contains("smaller than the filesystem image"),
            "{e}"
        );
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let s = settings(PartitionTable::Msdos, RestPartition::None, None);
        let e = plan_rootfs(&s, 64 * MIB, Some(64 * MIB)).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");
        assert!(plan_rootfs(&s, 65 * MIB, Some(64 * MIB)).is_ok());
        // GPT needs its backup at the end.
        let g = settings(PartitionTable::Gpt, RestPartition::None, None);
        assert!(plan_rootfs(&g, 65 * MIB, Some(64 * MIB)).is_err());
        assert!(plan_rootfs(&g, 66 * MIB, Some(64 * MIB)).is_ok());
    }

    #[test]
    fn rest_takes_the_remainder() {
        let s = settings(PartitionTable::Msdos, RestPartition::Lvm, None);
        let l = plan_rootfs(&s, 1 << 30, Some(100 * MIB)).unwrap();
        let r = l.rest.unwrap();
        assert_eq!(r.start, 101 * MIB);
        assert_eq!(r.start + r.size, 1 << 30);
        let g = settings(PartitionTable::Gpt, RestPartition::Linux, None);
        let r = plan_rootfs(&g, 1 << 30, Some(100 * MIB))
            .unwrap()
            .rest
            .unwrap();
        assert_eq!(r.start + r.size, (1 << 30) - 33 * 512);
        // No room left for it: an error, not a silent skip.
        assert!(plan_rootfs(&s, 101 * MIB, Some(100 * MIB)).is_err());
    }

    #[test]
    fn unknown_image_size() {
        let s = settings(PartitionTable::Msdos, RestPartition::None, None);
        let l = plan_rootfs(&s, 1 << 30, None).unwrap();
        assert_eq!(l.root_size, (1 << 30) - MIB);
        let s = settings(PartitionTable::Msdos, RestPartition::Linux, None);
        assert!(plan_rootfs(&s, 1 << 30, None).is_err());
    }
}
