//! Block devices: discovery from sysfs, selection by hints, safety checks, holder teardown,
//! signature wipe, partition-table re-read.
//!
//! | module | job |
//! | --- | --- |
//! | `sysfs`, `mounts` | what the kernel says about block devices, mounts and swap |
//! | `hints`, `hint_ops`, `select` | `disk_hint` (Ironic's root device hints and their operators) parsing/matching and the `disk=auto` choice |
//! | `safety` | refusing disks in use |
//! | `holders`, `dm`, `md` | tearing down device-mapper and md holders, swapoff |
//! | `signatures`, `wipe` | finding and erasing on-disk signatures |
//! | `parttable` | the one partition-table reader: tolerant (the wipe, an image's head) and checked (the installed system's table) |
//! | `read_at` | reading bytes at an offset of untrusted input (and a window on it) |
//! | `target`, `ioctl` | the chosen disk; block and loop ioctls and device nodes |

pub mod dm;
#[cfg(test)]
mod fixture_tests;
pub mod hint_ops;
pub mod hints;
pub mod holders;
pub mod ioctl;
pub mod md;
pub mod mounts;
pub mod parttable;
pub mod read_at;
pub mod safety;
pub mod select;
pub mod signatures;
pub mod sysfs;
pub mod target;
pub mod wipe;

pub use safety::check_safe;
pub use sysfs::Roots;
pub use target::{Target, TargetKind};
pub use wipe::{wipe, WipeReport};

use anyhow::{bail, Result};
use std::path::Path;

/// Resolve `disk` (None = auto) and `disk_hint` into a target. `min_size` is the image's
/// size when known. Errors here are preflight errors (exit 3).
pub fn resolve(disk: Option<&Path>, hint: Option<&str>, min_size: Option<u64>) -> Result<Target> {
    resolve_in(&Roots::host(), disk, hint, min_size)
}

/// `resolve` against an injected sysfs/dev root.
pub fn resolve_in(
    roots: &Roots,
    disk: Option<&Path>,
    hint: Option<&str>,
    min_size: Option<u64>,
) -> Result<Target> {
    let t = match disk {
        Some(p) => Target::inspect(p)?,
        None => Target::inspect(&roots.dev_node(&choose_auto(roots, hint, min_size)?))?,
    };
    if let Some(min) = min_size {
        if t.size < min {
            bail!(
                "target disk {} is {}, smaller than the image ({}); pick a larger disk",
                t.path.display(),
                target::human_size(t.size),
                target::human_size(min)
            );
        }
    }
    Ok(t)
}

/// The kernel name of the disk `disk=auto` picks, or why none can be picked.
pub fn choose_auto(roots: &Roots, hint: Option<&str>, min_size: Option<u64>) -> Result<String> {
    let hints = hint
        .map(hints::Hints::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let sys = sysfs::System::scan(roots)?;
    let (_, choice) = select::evaluate(&sys, min_size, hints.as_ref());
    choice.map_err(anyhow::Error::msg)
}
