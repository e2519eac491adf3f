//! Reaching one partition of a target: its kernel node (`/dev/sda1`, `/dev/nvme0n1p1`,
//! `/dev/loop0p1`) when the kernel made one that matches, else a loop device at the
//! partition's offset.
//!
//! The loop path is what runs for regular-file targets (building a disk image without a VM),
//! on kernels without partition scanning, and on loop devices attached without `-P`.
//! Loop devices are set up with plain ioctls (LOOP_CTL_GET_FREE, LOOP_SET_FD,
//! LOOP_SET_STATUS64, in `disk::ioctl`) and detached on drop; they also carry LO_FLAGS_AUTOCLEAR so that a
//! crash leaves nothing behind once the last user is gone.

use crate::disk::ioctl;
use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// A loop device over `[offset, offset+size)` of a file or block device. Detached on drop.
#[derive(Debug)]
pub struct LoopDevice {
    file: File,
    path: PathBuf,
}

impl LoopDevice {
    /// Attach `backing` at `offset` with `size` bytes. Retries when another process takes the
    /// free device first (LOOP_CTL_GET_FREE and LOOP_SET_FD are two steps).
    pub fn attach(backing: &Path, offset: u64, size: u64, read_only: bool) -> Result<LoopDevice> {
        let back = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(backing)
            .with_context(|| format!("cannot open {} for a loop device", backing.display()))?;
        let ctl = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/loop-control")
            .context("cannot open /dev/loop-control (is the loop module loaded?)")?;
        let mut last_err = None;
        for _ in 0..20 {
            let n = ioctl::loop_get_free(&ctl)
                .context("LOOP_CTL_GET_FREE on /dev/loop-control failed")?;
            let path = PathBuf::from(format!("/dev/loop{n}"));
            let file = match OpenOptions::new().read(true).write(!read_only).open(&path) {
                Ok(f) => f,
                // devtmpfs may not show the node yet; try again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    last_err = Some(anyhow::Error::new(e).context(format!("{}", path.display())));
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
            };
            match ioctl::loop_attach(&file, &back) {
                Ok(()) => {}
                Err(nix::errno::Errno::EBUSY) => {
                    last_err = Some(anyhow::anyhow!("{} was taken meanwhile", path.display()));
                    continue;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("LOOP_SET_FD {} on {}", path.display(), backing.display())
                    })
                }
            }
            // From here on the device is ours: Drop detaches it whatever fails next.
            let dev = LoopDevice { file, path };
            dev.set_window(backing, offset, size)?;
            return Ok(dev);
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("no free loop device")))
            .context("could not get a free loop device after 20 tries")
    }

    fn set_window(&self, backing: &Path, offset: u64, size: u64) -> Result<()> {
        // Shown by `losetup -l`.
        let info = ioctl::LoopInfo64::window(offset, size, backing.as_os_str().as_encoded_bytes());
        ioctl::loop_set_status(&self.file, &info).with_context(|| {
            format!(
                "LOOP_SET_STATUS64 (offset {offset}, size {size}) on {}",
                self.path.display()
            )
        })?;
        let got = ioctl::size_bytes(&self.file)
            .with_context(|| format!("cannot read the size of {}", self.path.display()))?;
        if got != size {
            bail!(
                "{} at offset {offset} gives {got} bytes instead of {size}: the partition \
                 extends past the end of {}",
                self.path.display(),
                backing.display()
            );
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        // EBUSY while still mounted (a lazy unmount): autoclear finishes the job later.
        let _ = ioctl::loop_detach(&self.file);
    }
}

/// One partition, reachable as a block device path for mount(2) and extlinux.
#[derive(Debug)]
pub struct PartDev {
    path: PathBuf,
    /// Kept only to detach on drop.
    _loop: Option<LoopDevice>,
    /// The whole-disk node, when the partition is the kernel's own node (for cache flushes).
    disk: Option<PathBuf>,
    pub number: u32,
    pub start: u64,
    pub size: u64,
}

impl PartDev {
    /// Partition `number` of `disk` (a block device or a regular file), spanning
    /// `[start, start+size)` bytes.
    pub fn open(disk: &Path, number: u32, start: u64, size: u64) -> Result<PartDev> {
        let meta = std::fs::metadata(disk)
            .with_context(|| format!("cannot stat target disk {}", disk.display()))?;
        if meta.file_type().is_block_device() {
            if let Some(node) = kernel_node(disk, number, start, size) {
                // The whole disk's page cache and the partition's are separate: what the
                // write stage wrote through the disk must be on the media before we read it
                // through the partition node.
                flush_buffers(disk);
                return Ok(PartDev {
                    path: node,
                    _loop: None,
                    disk: Some(disk.to_path_buf()),
                    number,
                    start,
                    size,
                });
            }
        }
        let lo = LoopDevice::attach(disk, start, size, false).with_context(|| {
            format!(
                "cannot reach partition {number} of {} (offset {start}, {size} bytes) \
                 through a loop device",
                disk.display()
            )
        })?;
        Ok(PartDev {
            path: lo.path().to_path_buf(),
            _loop: Some(lo),
            disk: None,
            number,
            start,
            size,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_loop(&self) -> bool {
        self._loop.is_some()
    }
}

impl Drop for PartDev {
    fn drop(&mut self) {
        // Written through the partition node: drop the whole disk's stale cached copy.
        if let Some(d) = &self.disk {
            flush_buffers(&self.path);
            flush_buffers(d);
        }
    }
}

/// fsync + BLKFLSBUF (write back and drop the buffer cache) on a block device; best effort.
fn flush_buffers(dev: &Path) {
    if let Ok(f) = File::open(dev) {
        let _ = f.sync_all();
        let _ = ioctl::flush_buffer_cache(&f);
    }
}

/// Name of partition `number` of disk `name`: `sda` → `sda1`, `nvme0n1` → `nvme0n1p1`.
pub fn partition_name(disk_name: &str, number: u32) -> String {
    if disk_name.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{disk_name}p{number}")
    } else {
        format!("{disk_name}{number}")
    }
}

/// The kernel's node for the partition when sysfs shows it with the expected start and size.
fn kernel_node(disk: &Path, number: u32, start: u64, size: u64) -> Option<PathBuf> {
    let disk = std::fs::canonicalize(disk).ok()?;
    let name = disk.file_name()?.to_str()?;
    let part = partition_name(name, number);
    let sys = Path::new("/sys/class/block").join(&part);
    if !node_matches(&sys, start, size) {
        return None;
    }
    let node = Path::new("/dev").join(&part);
    // The kernel knows the partition; its /dev node may still be on its way from udev (or
    // never come, in a ramdisk without devtmpfs automation): wait briefly, then make it.
    for _ in 0..25 {
        if node.exists() {
            return Some(node);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    make_node(&sys, &node).then_some(node)
}

/// mknod a block device node from sysfs `dev` ("major:minor").
fn make_node(sys: &Path, node: &Path) -> bool {
    std::fs::read_to_string(sys.join("dev"))
        .is_ok_and(|dev| ioctl::mknod_char_or_block(node, dev.trim(), true).is_ok())
}

/// sysfs `start` and `size` are in 512-byte units whatever the sector size.
fn node_matches(sys: &Path, start: u64, size: u64) -> bool {
    let read = |f: &str| -> Option<u64> {
        std::fs::read_to_string(sys.join(f))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    read("start").map(|s| s * 512) == Some(start) && read("size").map(|s| s * 512) == Some(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom, Write};

    #[test]
    fn partition_names() {
        assert_eq!(partition_name("sda", 1), "sda1");
        assert_eq!(partition_name("vda", 12), "vda12");
        assert_eq!(partition_name("nvme0n1", 2), "nvme0n1p2");
        assert_eq!(partition_name("loop0", 1), "loop0p1");
        assert_eq!(partition_name("mmcblk0", 1), "mmcblk0p1");
    }

    #[test]
    fn sysfs_start_and_size_must_match() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("start"), "2048\n").unwrap();
        std::fs::write(d.path().join("size"), "4096\n").unwrap();
        assert!(node_matches(d.path(), 1 << 20, 2 << 20));
        assert!(!node_matches(d.path(), 2 << 20, 2 << 20));
        assert!(!node_matches(d.path(), 1 << 20, 1 << 20));
        assert!(!node_matches(&d.path().join("missing"), 1 << 20, 2 << 20));
    }

    /// A regular file's partition goes through a loop device that sees exactly the window and
    /// is gone after drop.
    #[test]
    fn loop_at_offset_on_a_regular_file() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("disk.img");
        let mut f = File::create(&img).unwrap();
        f.set_len(8 << 20).unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(b"partition-one").unwrap();
        drop(f);
        let path;
        {
            let p = PartDev::open(&img, 1, 1 << 20, 2 << 20).unwrap();
            assert!(p.is_loop());
            path = p.path().to_path_buf();
            let mut dev = File::open(p.path()).unwrap();
            let mut head = [0u8; 13];
            dev.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"partition-one");
            assert_eq!(dev.seek(SeekFrom::End(0)).unwrap(), 2 << 20);
        }
        // Detached: the loop's size is 0 (or the node is gone / reused by someone else).
        let sys = Path::new("/sys/class/block")
            .join(path.file_name().unwrap())
            .join("loop/backing_file");
        let still = std::fs::read_to_string(&sys).unwrap_or_default();
        assert!(
            !still.contains(img.to_str().unwrap()),
            "{} still attached to {}",
            path.display(),
            still
        );
    }

    #[test]
    fn partition_past_the_end_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let img = d.path().join("disk.img");
        File::create(&img).unwrap().set_len(4 << 20).unwrap();
        let e = PartDev::open(&img, 1, 1 << 20, 8 << 20).unwrap_err();
        assert!(format!("{e:#}").contains("past the end"), "{e:#}");
    }
}
