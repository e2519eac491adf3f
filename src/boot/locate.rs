//! Finding the partitions of the installed system: its root filesystem (for the cloud-config
//! and `root=UUID=`) and, for disk images, the partition that carries the bootloader.

use super::conf;
use super::fsprobe::FsInfo;
use super::mount::{probe_partition, MountedFs};
use super::sysroot::SystemRoot;
use crate::fs_in_image::ImageDir;
use crate::layout::{Partition, RootfsLayout, Table};
use crate::report::Events;
use anyhow::{bail, Result};
use std::path::Path;

/// Partition 1 of the layout rdinstall wrote.
pub fn rootfs_partition(l: &RootfsLayout) -> Partition {
    Partition {
        number: 1,
        start: l.root_start,
        size: l.root_size,
        bootable: true,
        name: None,
    }
}

/// Look into each partition with a known filesystem (mounted read-only) and return the first
/// for which `test` holds.
fn first_where(
    disk: &Path,
    parts: &[&Partition],
    events: &Events,
    test: impl Fn(&Path, &FsInfo) -> bool,
) -> Option<(Partition, FsInfo)> {
    for p in parts {
        match probe_partition(disk, p) {
            Ok(Some(_)) => {}
            _ => continue,
        }
        match MountedFs::mount(disk, p, true) {
            Ok(m) => {
                if test(m.root(), &m.info) {
                    return Some(((*p).clone(), m.info.clone()));
                }
            }
            Err(e) => events.warn(format!(
                "cannot look into partition {} of {}: {e:#}",
                p.number,
                disk.display()
            )),
        }
    }
    None
}

/// The installed root filesystem of a disk image: `config_partition` when given, else the
/// first partition with `/etc` and `/usr` or `/var` (at its top, or in a btrfs subvolume
/// such as Fedora's `root`), else one labelled `ROOT` (CoreOS and
/// Flatcar ship their ROOT filesystem nearly empty and fill it on first boot).
pub fn find_root(
    disk: &Path,
    table: &Table,
    config_partition: Option<u32>,
    events: &Events,
) -> Result<(Partition, FsInfo)> {
    if let Some(n) = config_partition {
        let Some(p) = table.partitions.iter().find(|p| p.number == n) else {
            bail!(
                "config_partition={n}, but {} has no partition {n} (it has {})",
                disk.display(),
                numbers(table)
            );
        };
        let Some(info) = probe_partition(disk, p)? else {
            bail!(
                "config_partition={n}: partition {n} of {} holds no filesystem rdinstall can \
                 write (ext2/3/4, xfs, btrfs, vfat)",
                disk.display()
            );
        };
        return Ok((p.clone(), info));
    }
    let all: Vec<&Partition> = table.partitions.iter().collect();
    let is_root = |top: &Path, fs: &FsInfo| SystemRoot::find(top, fs).is_some();
    if let Some(found) = first_where(disk, &all, events, is_root) {
        return Ok(found);
    }
    for p in &table.partitions {
        if let Ok(Some(info)) = probe_partition(disk, p) {
            if has_label(p, Some(&info), "ROOT") {
                return Ok((p.clone(), info));
            }
        }
    }
    bail!(
        "found no installed root filesystem on {} (no partition among {} has /etc and /usr or \
         /var, or the label ROOT); set config_partition to the partition number",
        disk.display(),
        numbers(table)
    )
}

/// The partition of a disk image that carries a syslinux configuration or a kernel:
/// bootable-flagged ones first.
pub fn find_boot(disk: &Path, table: &Table, events: &Events) -> Result<(Partition, FsInfo)> {
    let mut order: Vec<&Partition> = table.partitions.iter().filter(|p| p.bootable).collect();
    order.extend(table.partitions.iter().filter(|p| !p.bootable));
    let bootable = |root: &Path, _: &FsInfo| {
        let Ok(img) = ImageDir::open(root) else {
            return false;
        };
        conf::CONFIG_CANDIDATES
            .iter()
            .any(|c| img.is_regular(Path::new(c)))
            || conf::find_kernel(&img, Path::new("boot")).is_some()
            || conf::find_kernel(&img, Path::new("")).is_some()
    };
    match first_where(disk, &order, events, bootable) {
        Some(found) => Ok(found),
        None => bail!(
            "bootloader=extlinux: no partition of {} (among {}) holds a syslinux configuration \
             or a kernel",
            disk.display(),
            numbers(table)
        ),
    }
}

/// `part` is called `label` (case aside): its filesystem's label (`fs`, as probed) or its GPT
/// partition name.
pub fn has_label(part: &Partition, fs: Option<&FsInfo>, label: &str) -> bool {
    let same = |s: Option<&str>| s.is_some_and(|s| s.eq_ignore_ascii_case(label));
    same(part.name.as_deref()) || same(fs.and_then(|i| i.label.as_deref()))
}

fn numbers(t: &Table) -> String {
    if t.partitions.is_empty() {
        return "none".into();
    }
    t.partitions
        .iter()
        .map(|p| p.number.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
