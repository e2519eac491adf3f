//! Tearing down what sits on a disk, top of the stack first: swap is turned off, then
//! device-mapper devices (LVM logical volumes, crypt mappings) are removed and md arrays
//! stopped, through their ioctls (`dm`, `md`). Mounted holders are never touched: the
//! safety check refuses those disks before we get here.

use super::ioctl::mknod_char_or_block;
use super::sysfs::System;
use crate::report::Events;
use anyhow::{bail, Context, Result};
use std::ffi::CString;

/// swapoff(2) on a device or file path.
pub fn swapoff(path: &str) -> Result<()> {
    let c = CString::new(path).context("swap path contains a NUL byte")?;
    if unsafe { libc::swapoff(c.as_ptr()) } != 0 {
        let e = std::io::Error::last_os_error();
        // The kernel must take every swapped-out page back into RAM first.
        let hint = if e.raw_os_error() == Some(libc::ENOMEM) {
            " (not enough free memory to take its pages back)"
        } else {
            ""
        };
        return Err(e).with_context(|| format!("swapoff {path} failed{hint}"));
    }
    Ok(())
}

/// Turn off each of `swaps` (paths as /proc/swaps names them): the first step of a
/// teardown, since active swap holds its device open and a dm device or md array under it
/// could not be removed. Returns what was done, one line each, for the wipe report.
pub fn swapoff_all(swaps: &[String], ev: &Events) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for s in swaps {
        ev.info(format!("wipe: turning off swap on {s}"));
        swapoff(s)?;
        done.push(format!("swapoff {s}"));
    }
    Ok(done)
}

/// Remove `name`'s holders, top of the stack first: device-mapper devices (LVM volumes,
/// dm-crypt/LUKS mappings: all plain dm devices to DM_DEV_REMOVE) and md arrays, each after
/// everything stacked on it. Swap on them must be off already (`swapoff_all`). Returns what
/// was done, one line each, for the wipe report.
pub fn remove_holders(sys: &System, name: &str, ev: &Events) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for h in sys.holders_top_down(name) {
        let usage = sys.usage(&h);
        if !usage.mounts.is_empty() {
            bail!(
                "{h} (on {name}) is mounted on {}: unmount it first",
                usage.mounts.join(", ")
            );
        }
        if h.starts_with("dm-") {
            let dm_name = super::dm::name_of(&sys.roots().sys, &h)?;
            ev.info(format!(
                "wipe: removing device-mapper device {dm_name} ({h})"
            ));
            let sectors =
                std::fs::read_to_string(sys.roots().sys.join("block").join(&h).join("size"))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0);
            if super::dm::remove(&dm_name, sectors)? {
                ev.warn(format!(
                    "wipe: {dm_name} was suspended with I/O stuck on it; that I/O was failed \
                     (error table) so the device could be removed"
                ));
            }
            if let Some(dev) = sys.device(&h).map(|d| d.dev.as_str()) {
                let mapper = sys.roots().dev.join("mapper").join(&dm_name);
                if remove_stale_node(&mapper, dev) {
                    ev.info(format!("wipe: removed the stale node {}", mapper.display()));
                }
            }
            done.push(format!("removed device-mapper device {dm_name} ({h})"));
        } else if h.starts_with("md") {
            let node = sys.roots().dev_node(&h);
            if !node.exists() {
                // No devtmpfs/udev node (a minimal /dev): make one from sysfs' numbers.
                if let Some(dev) = sys.device(&h).map(|d| d.dev.clone()) {
                    mknod_char_or_block(&node, &dev, true).with_context(|| {
                        format!("{} is missing and cannot be created", node.display())
                    })?;
                }
            }
            ev.info(format!("wipe: stopping md array {}", node.display()));
            super::md::stop(&node)?;
            done.push(format!("stopped md array {h}"));
        } else {
            bail!(
                "{name} is held by {h}, which rdinstall cannot tear down (only device-mapper and md); release it by hand"
            );
        }
    }
    Ok(done)
}

/// Without udev, libdevmapper (lvm, cryptsetup) makes `/dev/mapper/NAME` as a node of its
/// own, and `dmsetup remove` deletes it again; after our DM_DEV_REMOVE it would point at a
/// free minor that the next dm device may take. Removes `node` only when it is a block
/// device node (not udev's symlink) for exactly `dev` (`major:minor`). Returns whether it
/// did.
pub fn remove_stale_node(node: &std::path::Path, dev: &str) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(m) = std::fs::symlink_metadata(node) else {
        return false;
    };
    let same = format!("{}:{}", libc::major(m.rdev()), libc::minor(m.rdev())) == dev;
    m.file_type().is_block_device() && same && std::fs::remove_file(node).is_ok()
}

/// After teardown: nothing may hold the disk any more.
pub fn verify_free(sys: &System, name: &str) -> Result<()> {
    let left = sys.holders_top_down(name);
    if !left.is_empty() {
        bail!(
            "{name} is still held by {} after teardown; release them and retry",
            left.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_node_is_removed_only_for_a_block_node_of_that_device() {
        let dir = tempfile::tempdir().unwrap();
        let node = dir.path().join("oldswap");
        // A symlink (what udev makes) and a regular file stay.
        std::os::unix::fs::symlink("../dm-0", &node).unwrap();
        assert!(!remove_stale_node(&node, "253:0"));
        std::fs::remove_file(&node).unwrap();
        std::fs::write(&node, b"").unwrap();
        assert!(!remove_stale_node(&node, "0:0"));
        std::fs::remove_file(&node).unwrap();
        if mknod_char_or_block(&node, "253:7", true).is_err() {
            return; // not root: mknod is not allowed here
        }
        assert!(!remove_stale_node(&node, "253:8"), "another device's node");
        assert!(node.exists());
        assert!(remove_stale_node(&node, "253:7"));
        assert!(!node.exists());
    }
}
