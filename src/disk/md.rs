//! md RAID arrays through their ioctls (no `mdadm`).
//!
//! From <linux/raid/md_u.h>: `#define STOP_ARRAY _IO(MD_MAJOR, 0x32)` with `MD_MAJOR` 9
//! (<linux/major.h>): no argument, request number 0x932. The kernel refuses with EBUSY
//! while anyone else has the array open, so we open it O_EXCL first, as mdadm does: that
//! fails early (and says so) when a mount or a device-mapper device sits on it.

use anyhow::{Context, Result};
use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

pub const MD_MAJOR: u8 = 9;
pub const STOP_ARRAY_NR: u8 = 0x32;

/// `STOP_ARRAY`, public so tests can compare it with <linux/raid/md_u.h>.
#[allow(clippy::unnecessary_cast)] // c_ulong on glibc, c_int on musl
pub const STOP_ARRAY: u64 = nix::request_code_none!(MD_MAJOR, STOP_ARRAY_NR) as u64;

nix::ioctl_none!(md_stop_array, MD_MAJOR, STOP_ARRAY_NR);

/// Stop the array at `node` (`/dev/md127`). Works on active and inactive (partly assembled)
/// arrays; afterwards its members have no holder.
pub fn stop(node: &Path) -> Result<()> {
    let mut last = None;
    for attempt in 0..8 {
        let f = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_EXCL | libc::O_CLOEXEC)
            .open(node)
        {
            Ok(f) => f,
            // udev may still be probing the array: retry, then report.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                last = Some(e);
                std::thread::sleep(std::time::Duration::from_millis(50 << attempt.min(4)));
                continue;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open md array {}", node.display()))
            }
        };
        match unsafe { md_stop_array(f.as_raw_fd()) } {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EBUSY) => {
                last = Some(std::io::Error::from_raw_os_error(libc::EBUSY));
                drop(f);
                std::thread::sleep(std::time::Duration::from_millis(50 << attempt.min(4)));
            }
            Err(e) => {
                return Err(e).with_context(|| format!("STOP_ARRAY on {} failed", node.display()))
            }
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from_raw_os_error(libc::EBUSY))).with_context(|| {
        format!(
            "md array {} is busy: something still uses it (a mount, swap, or a device-mapper device); stop that first",
            node.display()
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn stop_array_request_number() {
        // _IO(9, 0x32): no direction, no size.
        assert_eq!(
            nix::request_code_none!(super::MD_MAJOR, super::STOP_ARRAY_NR),
            0x932
        );
    }
}
