//! Mounting one partition of the target in a private temporary directory, with a guard that
//! unmounts, removes the directory and detaches the loop device also when a stage fails.

use super::fsprobe::{self, FsInfo, Window};
use super::partdev::PartDev;
use crate::layout::Partition;
use anyhow::{Context, Result};
use std::fs::File;
use std::path::{Path, PathBuf};
use sys_mount::{Mount, MountFlags, UnmountFlags};

/// MS_NOSYMFOLLOW from <linux/mount.h>, which sys_mount does not name.
const MS_NOSYMFOLLOW: MountFlags = MountFlags::from_bits_retain(256);

/// Identify the filesystem of `part` by reading the target directly (no device needed).
pub fn probe_partition(disk: &Path, part: &Partition) -> Result<Option<FsInfo>> {
    let f = File::open(disk).with_context(|| format!("cannot open {}", disk.display()))?;
    let w = Window::new(f, part.start, part.size);
    fsprobe::probe(&w).with_context(|| {
        format!(
            "reading the superblock of partition {} of {}",
            part.number,
            disk.display()
        )
    })
}

/// A mounted partition. Field order is drop order: unmount (in `Drop`), then the loop device.
pub struct MountedFs {
    dir: PathBuf,
    mounted: Option<Mount>,
    pub info: FsInfo,
    pub dev: PartDev,
}

impl MountedFs {
    /// Mount partition `part` of `disk` (a block device or a regular file).
    pub fn mount(disk: &Path, part: &Partition, read_only: bool) -> Result<MountedFs> {
        let info = probe_partition(disk, part)?.with_context(|| {
            format!(
                "partition {} of {} holds no filesystem rdinstall can read \
                 (ext2/3/4, xfs, btrfs, vfat)",
                part.number,
                disk.display()
            )
        })?;
        let dev = PartDev::open(disk, part.number, part.start, part.size)?;
        let template = std::env::temp_dir().join("rdinstall-mnt-XXXXXX");
        let dir = nix::unistd::mkdtemp(&template)
            .with_context(|| format!("cannot create a mount point like {}", template.display()))?;
        let mut guard = MountedFs {
            dir,
            mounted: None,
            info,
            dev,
        };
        // The image's files are data to us: no set-uid programs, device nodes or executables
        // from it. A writable mount also follows no symlink at all (MS_NOSYMFOLLOW, Linux
        // 5.10): extlinux, which we run on it, opens its files with plain open(2), and a
        // link planted at one of their names must not send its writes into the ramdisk. Our
        // own reads go through fs_in_image, which keeps links inside the filesystem, so a
        // read-only mount keeps them working (a kernel named by a link, for kexec).
        let mut flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        if read_only {
            flags |= MountFlags::RDONLY;
        } else {
            flags |= MS_NOSYMFOLLOW;
        }
        let mut last = None;
        for ty in guard.info.kind.mount_types() {
            let mut attempt = flags;
            let r = loop {
                match Mount::builder()
                    .fstype(*ty)
                    .flags(attempt)
                    .mount(guard.dev.path(), &guard.dir)
                {
                    // A kernel before 5.10 refuses the flag it does not know.
                    Err(e)
                        if e.raw_os_error() == Some(libc::EINVAL)
                            && attempt.contains(MS_NOSYMFOLLOW) =>
                    {
                        attempt.remove(MS_NOSYMFOLLOW);
                    }
                    other => break other,
                }
            };
            match r {
                Ok(m) => {
                    guard.mounted = Some(m);
                    return Ok(guard);
                }
                Err(e) => last = Some((ty, e)),
            }
        }
        let (ty, e) = last.expect("every kind has a mount type");
        Err(e).with_context(|| {
            format!(
                "cannot mount partition {} of {} ({} as {ty}, through {})",
                part.number,
                disk.display(),
                guard.info.kind,
                guard.dev.path().display()
            )
        })
    }

    /// The mounted filesystem's root directory.
    pub fn root(&self) -> &Path {
        &self.dir
    }

    /// Unmount now and report failure (Drop can only try).
    pub fn unmount(mut self) -> Result<()> {
        if let Some(m) = self.mounted.take() {
            nix::unistd::sync();
            if let Err(e) = unmount_retrying(&m) {
                // Back into the guard: its Drop detaches the mount lazily.
                self.mounted = Some(m);
                return Err(e).with_context(|| {
                    format!(
                        "cannot unmount {} from {}",
                        self.dev.path().display(),
                        self.dir.display()
                    )
                });
            }
        }
        Ok(())
    }
}

/// umount(2), retried for a while on EBUSY: a process forked elsewhere in this program holds
/// copies of our file descriptors until it execs, and udev may briefly look at a new device.
fn unmount_retrying(m: &Mount) -> std::io::Result<()> {
    use sys_mount::Unmount;
    let mut tries = 0;
    loop {
        match m.unmount(UnmountFlags::empty()) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 20 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(50 * tries.min(4)));
            }
            other => return other,
        }
    }
}

impl Drop for MountedFs {
    fn drop(&mut self) {
        if let Some(m) = self.mounted.take() {
            use sys_mount::Unmount;
            if unmount_retrying(&m).is_err() {
                // Something still holds it: detach it from the namespace now; the kernel
                // finishes when it lets go (and the loop device's autoclear with it).
                let _ = m.unmount(UnmountFlags::DETACH);
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// True when `root` looks like an installed Linux root: `/etc` and `/usr` or `/var`.
pub fn has_root_layout(root: &Path) -> bool {
    let dir = |p: &str| {
        std::fs::symlink_metadata(root.join(p))
            .map(|m| m.is_dir())
            .unwrap_or(false)
    };
    dir("etc") && (dir("usr") || dir("var"))
}
