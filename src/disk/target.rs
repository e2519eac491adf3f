//! The install target: a whole block device or a regular file (a disk image).

use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Block,
    File,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// As the user or the selection named it (`/dev/disk/by-id/...` stays as given).
    pub path: PathBuf,
    /// Symlinks resolved (`/dev/sda`).
    pub dev_path: PathBuf,
    pub kind: TargetKind,
    pub size: u64,
    pub logical_sector: u32,
    /// Model, size and serial for confirmation prompts and logs.
    pub description: String,
}

impl Target {
    /// Inspect `path` without writing. A missing path is an error: regular-file targets must
    /// exist already (create them with `truncate -s SIZE`), so a typo never fills /.
    pub fn inspect(path: &Path) -> Result<Target> {
        let dev_path = std::fs::canonicalize(path).with_context(|| {
            format!(
                "target disk {} does not exist (check the path, or `rdinstall disks`)",
                path.display()
            )
        })?;
        let meta = std::fs::metadata(&dev_path)
            .with_context(|| format!("cannot stat target disk {}", dev_path.display()))?;
        let ft = meta.file_type();
        let (kind, size, sector) = if ft.is_block_device() {
            let f = File::open(&dev_path)
                .with_context(|| format!("cannot open target disk {}", dev_path.display()))?;
            let size = super::ioctl::size_bytes(&f)
                .with_context(|| format!("cannot read the size of {}", dev_path.display()))?;
            let sector = super::ioctl::logical_sector_size(&f).unwrap_or(512);
            (TargetKind::Block, size, sector)
        } else if ft.is_file() {
            (TargetKind::File, meta.len(), 512)
        } else {
            bail!(
                "target {} is neither a block device nor a regular file",
                dev_path.display()
            );
        };
        if size == 0 {
            bail!("target disk {} has size 0 (no medium, or an empty file: create it with `truncate -s 8G FILE`)", dev_path.display());
        }
        let description = describe(&dev_path, kind, size);
        Ok(Target {
            path: path.to_path_buf(),
            dev_path,
            kind,
            size,
            logical_sector: sector,
            description,
        })
    }

    /// Open for writing. Block devices are opened O_EXCL: the kernel refuses while anything
    /// (a mount, a device-mapper or md holder) has the device claimed.
    pub fn open_write(&self) -> Result<File> {
        let mut o = OpenOptions::new();
        o.read(true).write(true);
        if self.kind == TargetKind::Block {
            o.custom_flags(libc::O_EXCL | libc::O_CLOEXEC);
        }
        o.open(&self.dev_path).with_context(|| {
            format!(
                "cannot open {} for writing exclusively (is it mounted, or held by LVM/RAID? see `rdinstall disks`)",
                self.dev_path.display()
            )
        })
    }
}

fn sysfs_attr(dev: &Path, rel: &str) -> Option<String> {
    let name = dev.file_name()?.to_str()?;
    std::fs::read_to_string(format!("/sys/class/block/{name}/{rel}"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn human_size(n: u64) -> String {
    const U: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < U.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

fn describe(dev: &Path, kind: TargetKind, size: u64) -> String {
    let mut parts = vec![dev.display().to_string()];
    if kind == TargetKind::File {
        parts.push("(disk image file)".into());
    }
    if let Some(m) = sysfs_attr(dev, "device/model") {
        parts.push(m);
    }
    parts.push(human_size(size));
    if let Some(s) = sysfs_attr(dev, "device/serial").or_else(|| sysfs_attr(dev, "serial")) {
        parts.push(format!("serial {s}"));
    }
    parts.join(", ")
}
