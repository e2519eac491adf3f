//! The wipe stage: tear down holders, optionally discard, erase every known signature on the
//! disk and each partition (from sysfs and from the disk's own MBR/GPT), verify nothing is
//! left, re-read the partition table.

use super::safety;
use super::signatures::{self, FoundSignature};
use super::sysfs::{Roots, System};
use super::target::{Target, TargetKind};
use crate::report::Events;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

/// What the wipe found and did, for the log and `--json`.
#[derive(Debug, Default, Serialize)]
pub struct WipeReport {
    /// One line per erased signature: `xfs at 1048576 (partition 1)`.
    pub erased: Vec<String>,
    pub found: Vec<FoundSignature>,
    /// Swap turned off, device-mapper devices removed, md arrays stopped.
    pub teardown: Vec<String>,
    /// The areas probed: the whole disk and each partition.
    pub areas: Vec<Area>,
    pub discarded: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Area {
    pub label: String,
    pub start: u64,
    pub len: u64,
}

/// BLKRRPART through a plain descriptor of the target, opened for this (and checked to
/// still be the same device): some kernels (6.1/6.2 before "block: fix scan partition for
/// exclusively open device again") answer it on an O_EXCL descriptor with EBUSY even when
/// that descriptor is the only opener. The caller closes its O_EXCL descriptor first.
pub fn reread_partitions(target: &Target) -> std::io::Result<()> {
    let f = target
        .open_checked(OpenOptions::new().read(true))
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    super::ioctl::reread_partition_table(&f)
}

pub fn wipe(target: &Target, discard: bool, ev: &Events) -> Result<WipeReport> {
    wipe_in(&Roots::host(), target, discard, ev)
}

/// Nothing may swap into the disk while it is written: after `swapoff_all`, /proc/swaps
/// must name nothing on the target.
fn verify_swap_off(roots: &Roots, target: &Target) -> Result<()> {
    let left = safety::usage_of(&System::scan(roots)?, target)?.swap;
    if !left.is_empty() {
        bail!(
            "swap is still active on {} after swapoff: {}",
            target.path.display(),
            left.join(", ")
        );
    }
    Ok(())
}

fn open(target: &Target) -> Result<File> {
    match target.kind {
        TargetKind::Block => target.open_write(),
        TargetKind::File => target
            .open_checked(OpenOptions::new().read(true).write(true))
            .with_context(|| format!("cannot open {} for writing", target.dev_path.display())),
    }
}

/// Discard the whole device (BLKDISCARD), or punch the whole file out (a sparse image).
/// Unsupported is not an error: the signature erase follows anyway.
fn discard_all(f: &File, target: &Target, ev: &Events) -> Result<bool> {
    let dev = target.dev_path.display();
    let r = match target.kind {
        TargetKind::Block => super::ioctl::discard(f, 0, target.size),
        TargetKind::File => {
            let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
            let rc = unsafe { libc::fallocate(f.as_raw_fd(), mode, 0, target.size as libc::off_t) };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        }
    };
    match r {
        Ok(()) => {
            ev.info(format!("wipe: discarded all of {dev}"));
            Ok(true)
        }
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::ENOTTY | libc::EINVAL | libc::ENOSYS)
            ) =>
        {
            ev.info(format!(
                "wipe: {dev} does not support discard ({e}); erasing signatures only"
            ));
            Ok(false)
        }
        Err(e) => Err(e).with_context(|| format!("discard of {dev} failed")),
    }
}

/// The whole disk and every partition we can find: the kernel's (sysfs) and the table's.
fn areas(f: &File, target: &Target, sys: Option<(&System, &str)>) -> Vec<Area> {
    let mut v = vec![Area {
        label: "whole disk".into(),
        start: 0,
        len: target.size,
    }];
    if let Some((sys, name)) = sys {
        if let Some(d) = sys.device(name) {
            for p in &d.partitions {
                v.push(Area {
                    label: format!("partition {}", p.name),
                    start: p.start,
                    len: p.size,
                });
            }
        }
    }
    for e in super::parttable::partitions(f, target.size) {
        if !v.iter().any(|a| a.start == e.start) {
            v.push(Area {
                label: e.label,
                start: e.start,
                len: e.len,
            });
        }
    }
    v
}

fn probe_all(f: &File, areas: &[Area]) -> Vec<(usize, FoundSignature)> {
    let mut out: Vec<(usize, FoundSignature)> = Vec::new();
    for (i, a) in areas.iter().enumerate() {
        for fd in signatures::probe(f, a.start, a.len) {
            // The same bytes seen from two areas (a partition's sector 0 is also inside the
            // whole disk) are reported once.
            if !out
                .iter()
                .any(|(_, o)| o.offset == fd.offset && o.name == fd.name)
            {
                out.push((i, fd));
            }
        }
    }
    out
}

pub fn wipe_in(roots: &Roots, target: &Target, discard: bool, ev: &Events) -> Result<WipeReport> {
    let dev = target.dev_path.display().to_string();
    let mut report = WipeReport::default();
    let sys = tear_down(roots, target, &mut report.teardown, ev)?;

    let f = open(target)?;
    report.areas = areas(&f, target, sys.as_ref().map(|(s, n)| (s, n.as_str())));
    // Probe before the discard so the log says what was on the disk.
    let found = probe_all(&f, &report.areas);
    if found.is_empty() {
        ev.info(format!("wipe: no known signatures on {dev}"));
    }
    // Discard does not promise zeroes afterwards, so the signatures are erased after it too.
    if discard {
        report.discarded = discard_all(&f, target, ev)?;
    }
    erase(&f, &dev, &found, &mut report, ev)?;
    verify_erased(&f, &dev, &report.areas)?;

    if target.kind == TargetKind::Block {
        drop(f);
        reread_after_wipe(target, &dev)?;
    }
    ev.info(format!(
        "wipe: {dev} done ({} signature(s) erased, {} holder action(s))",
        report.erased.len(),
        report.teardown.len()
    ));
    Ok(report)
}

/// Turn off swap on the disk and remove its holders (block devices only), then check both
/// are gone. What was done goes to `done`; for a block device, returns the fresh picture
/// of the system with the disk's kernel name.
fn tear_down(
    roots: &Roots,
    target: &Target,
    done: &mut Vec<String>,
    ev: &Events,
) -> Result<Option<(System, String)>> {
    // The caller ran `check_safe` in preflight; things may have been mounted since. A last
    // look costs a sysfs scan and keeps `wipe` safe on its own.
    let s = System::scan(roots)?;
    let usage = safety::refuse_if_used(&safety::usage_of(&s, target)?, target)?;
    // Swap first: it holds the dm device or md array under it open. Swap that appeared
    // since preflight is on this disk too, and goes the same way.
    *done = super::holders::swapoff_all(&usage.swap, ev)?;
    let mut sys = None;
    if target.kind == TargetKind::Block {
        let name = safety::block_name(roots, &s, target)?;
        let removed = super::holders::remove_holders(&s, &name, ev)?;
        done.extend(removed);
        // Read the picture again: the holders are gone now. The kernel drops the holder
        // links as it releases the members, which can trail the ioctl by a moment.
        let mut s = System::scan(roots)?;
        for _ in 0..20 {
            if s.holders_top_down(&name).is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            s = System::scan(roots)?;
        }
        super::holders::verify_free(&s, &name)?;
        sys = Some((s, name));
    }
    verify_swap_off(roots, target)?;
    Ok(sys)
}

/// Zero each found signature's erase range, recording it in `report`.
fn erase(
    f: &File,
    dev: &str,
    found: &[(usize, FoundSignature)],
    report: &mut WipeReport,
    ev: &Events,
) -> Result<()> {
    for (i, fd) in found {
        let a = &report.areas[*i];
        let zeros = vec![0u8; fd.erase_len as usize];
        f.write_all_at(&zeros, fd.erase_start).with_context(|| {
            format!(
                "erasing {} at offset {} of {dev} failed",
                fd.name, fd.erase_start
            )
        })?;
        let line = format!("{} at offset {} ({})", fd.name, fd.offset, a.label);
        ev.info(format!("wipe: erased {line} on {dev}"));
        report.erased.push(line);
        report.found.push(fd.clone());
    }
    f.sync_all()
        .with_context(|| format!("flushing the wipe of {dev} failed"))
}

/// Nothing known is left in any area. Erasing a partition table hides partitions, so what
/// is left is probed in the areas found before.
fn verify_erased(f: &File, dev: &str, areas: &[Area]) -> Result<()> {
    let left = probe_all(f, areas);
    if !left.is_empty() {
        let what: Vec<String> = left
            .iter()
            .map(|(_, f)| format!("{} at {}", f.name, f.offset))
            .collect();
        bail!(
            "signatures still present on {dev} after the wipe: {}",
            what.join(", ")
        );
    }
    Ok(())
}

/// BLKRRPART once the wipe's descriptor is closed, explaining EBUSY.
fn reread_after_wipe(target: &Target, dev: &str) -> Result<()> {
    reread_partitions(target).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EBUSY) {
            ": the kernel still holds a partition busy (mounted, swap, or held by LVM/RAID); release it and retry"
        } else {
            ""
        };
        anyhow::anyhow!("re-reading the partition table of {dev} failed: {e}{hint}")
    })
}
