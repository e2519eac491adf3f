//! The install target: a whole block device or a regular file (a disk image).

use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Block,
    File,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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
    /// Which device or file `dev_path` named when it was resolved. Every later open checks
    /// it: a name can come to mean another disk between preflight and the write (hotplug,
    /// udev renaming, a file replaced), and the wrong disk must never be written.
    pub identity: Identity,
}

/// A block device by its device number (st_rdev), a regular file by st_dev + st_ino.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct Identity {
    dev: u64,
    ino: u64,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        if meta.file_type().is_block_device() {
            Identity {
                dev: meta.rdev(),
                ino: 0,
            }
        } else {
            Identity {
                dev: meta.dev(),
                ino: meta.ino(),
            }
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.ino == 0 {
            write!(
                f,
                "device {}:{}",
                libc::major(self.dev),
                libc::minor(self.dev)
            )
        } else {
            write!(
                f,
                "file {}:{} inode {}",
                libc::major(self.dev),
                libc::minor(self.dev),
                self.ino
            )
        }
    }
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
            identity: Identity::of(&meta),
        })
    }

    /// Fail unless `meta` (of something just opened or stat'ed by name) is the device or
    /// file resolved in preflight.
    fn check_identity(&self, meta: &std::fs::Metadata) -> Result<()> {
        let now = Identity::of(meta);
        if now != self.identity {
            bail!(
                "{} is no longer the disk chosen in preflight (it was {}, it is now {}): the \
                 device names changed under us (hotplug, renaming, a replaced file); nothing \
                 more is written to it",
                self.dev_path.display(),
                self.identity,
                now
            );
        }
        Ok(())
    }

    /// Check by name (stat) that `dev_path` still names the resolved disk, for steps that
    /// hand the path on (mounts, loop devices, kexec).
    pub fn check_same(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.dev_path)
            .with_context(|| format!("cannot stat target disk {}", self.dev_path.display()))?;
        self.check_identity(&meta)
    }

    /// Open `dev_path` with `opts`, then check (fstat on the open descriptor, so no rename
    /// can slip between check and use) that it is the resolved disk.
    pub fn open_checked(&self, opts: &OpenOptions) -> Result<File> {
        let f = opts
            .open(&self.dev_path)
            .with_context(|| format!("cannot open {}", self.dev_path.display()))?;
        let meta = f
            .metadata()
            .with_context(|| format!("cannot stat {}", self.dev_path.display()))?;
        self.check_identity(&meta)?;
        Ok(f)
    }

    /// Open for writing. Block devices are opened O_EXCL: the kernel refuses while anything
    /// (a mount, a device-mapper or md holder) has the device claimed.
    pub fn open_write(&self) -> Result<File> {
        let mut o = OpenOptions::new();
        o.read(true).write(true);
        if self.kind == TargetKind::Block {
            o.custom_flags(libc::O_EXCL | libc::O_CLOEXEC);
        }
        self.open_checked(&o).with_context(|| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_is_not_written() {
        let d = tempfile::tempdir().unwrap();
        let disk = d.path().join("disk.img");
        std::fs::File::create(&disk)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        let t = Target::inspect(&disk).unwrap();
        assert!(t.open_write().is_ok());
        assert!(t.check_same().is_ok());
        // Another file takes the name between preflight and the write.
        let other = d.path().join("other.img");
        std::fs::File::create(&other)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        std::fs::rename(&other, &disk).unwrap();
        let e = format!("{:#}", t.open_write().unwrap_err());
        assert!(e.contains("no longer the disk chosen in preflight"), "{e}");
        assert!(t.check_same().is_err());
        let e = format!(
            "{:#}",
            t.open_checked(OpenOptions::new().read(true)).unwrap_err()
        );
        assert!(e.contains("no longer"), "{e}");
    }
}
