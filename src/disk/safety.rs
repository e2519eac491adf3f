//! The check before anything is written. A disk whose own filesystem, partitions or holders
//! are mounted, or that holds the running system's root, is refused (`error::Refusal`,
//! exit 5) with every mount point named. Active swap on it is not a reason to refuse: SPEC
//! says the wipe tears swap down, so the check lists it (`InUse::swap`) for the plan to
//! announce and the wipe to turn off.

use super::sysfs::{Roots, System, Usage};
use super::target::{Target, TargetKind};
use crate::error::Refusal;
use anyhow::Result;
use serde::Serialize;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// `major:minor` of a block device node.
pub fn dev_number(path: &Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    let rdev = m.rdev();
    Some(format!("{}:{}", libc::major(rdev), libc::minor(rdev)))
}

/// How a target is in use: what refuses it, and what the wipe will turn off.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct InUse {
    /// Mounted filesystems and the running system, one sentence each. Never torn down.
    pub refusals: Vec<String>,
    /// Active swap on the target, its partitions, holders or loop devices over the same
    /// file (or the target file itself), as /proc/swaps names it.
    pub swap: Vec<String>,
}

impl InUse {
    fn add(&mut self, what: &str, u: &Usage) {
        for (dev, mp) in &u.mount_details {
            if dev == what {
                self.refusals.push(format!("{dev} is mounted on {mp}"));
            } else {
                self.refusals
                    .push(format!("{dev} (on {what}) is mounted on {mp}"));
            }
        }
        if u.holds_root {
            self.refusals.push(format!(
                "{what} holds the running system's root filesystem (/)"
            ));
        }
        self.swap.extend(u.swap.iter().cloned());
    }

    fn dedup(mut self) -> InUse {
        self.refusals.dedup();
        let mut seen = std::collections::BTreeSet::new();
        self.swap.retain(|s| seen.insert(s.clone()));
        self
    }
}

/// The devices whose use counts as the block device `name`'s: itself and, for a loop
/// device, the other loop devices over the same file. On kernels without partition
/// scanning those are its partitions (a loop device at the partition's offset).
pub fn block_members(sys: &System, name: &str) -> Vec<String> {
    let mut v = vec![name.to_string()];
    if let Some(b) = sys.device(name).and_then(|d| d.loop_backing.clone()) {
        for alias in sys.loops_backed_by(Path::new(&b.file)) {
            if !v.contains(&alias.name) {
                v.push(alias.name.clone());
            }
        }
    }
    v
}

/// How the block device `name` (a disk or a partition, with everything on it) is in use.
pub fn block_usage(sys: &System, name: &str) -> InUse {
    let mut u = InUse::default();
    for m in block_members(sys, name) {
        u.add(&m, &sys.usage(&m));
    }
    u.dedup()
}

/// How the disk image `file` is in use: through loop devices over it, or as a swap file.
pub fn file_usage(sys: &System, file: &Path) -> InUse {
    let mut u = InUse::default();
    for l in sys.loops_backed_by(file) {
        u.add(&l.name, &sys.usage(&l.name));
    }
    let canon = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let canon = canon.to_string_lossy();
    if sys.swaps.iter().any(|s| *s == canon) {
        u.swap.push(canon.into_owned());
    }
    u.dedup()
}

/// The sysfs name of a block target, or why it cannot be checked.
pub fn block_name(roots: &Roots, sys: &System, target: &Target) -> Result<String> {
    dev_number(&target.dev_path)
        .and_then(|d| sys.name_of_dev(&d).map(String::from))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} is not listed under {}/block; cannot check whether it is in use",
                target.dev_path.display(),
                roots.sys.display()
            )
        })
}

/// How `target` is in use, read from `sys`.
pub fn usage_of(sys: &System, target: &Target) -> Result<InUse> {
    Ok(match target.kind {
        TargetKind::Block => block_usage(sys, &block_name(sys.roots(), sys, target)?),
        TargetKind::File => file_usage(sys, &target.dev_path),
    })
}

/// Preflight's check on the host: refuses a mounted disk or the running system's; returns
/// the swap the wipe will turn off.
pub fn check_safe(target: &Target) -> Result<InUse> {
    check_in(&Roots::host(), target)
}

/// The check against injected roots. Err is a `Refusal` (exit 5) naming every reason.
pub fn check_in(roots: &Roots, target: &Target) -> Result<InUse> {
    let sys = System::scan(roots)?;
    refuse_if_used(&usage_of(&sys, target)?, target)
}

/// Ok with the usage when nothing in it refuses the target.
pub fn refuse_if_used(u: &InUse, target: &Target) -> Result<InUse> {
    if u.refusals.is_empty() {
        return Ok(u.clone());
    }
    Err(Refusal(format!(
        "refusing to touch {}: {}. Unmount it first, or choose another disk",
        target.path.display(),
        u.refusals.join("; ")
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> System {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sysfs")
            .join(name);
        System::scan(&Roots::under(&dir)).unwrap()
    }

    #[test]
    fn names_mounts_through_holders_and_root_and_lists_swap() {
        let sys = fixture("server");
        assert_eq!(
            block_usage(&sys, "sdb").refusals,
            ["dm-0 (on sdb) is mounted on /srv"]
        );
        // Swap is not a refusal: the wipe turns it off.
        let nv = block_usage(&sys, "nvme0n1");
        assert!(nv.refusals.is_empty(), "{nv:?}");
        assert_eq!(nv.swap, ["/dev/nvme0n1p2"]);
        // md members with nothing mounted on the array are fine: the wipe stops it.
        assert_eq!(block_usage(&sys, "sdd"), InUse::default());
        assert_eq!(block_usage(&sys, "sda"), InUse::default());
        let vm = fixture("vm");
        assert_eq!(
            block_usage(&vm, "vda").refusals,
            [
                "vda1 (on vda) is mounted on /",
                "vda holds the running system's root filesystem (/)"
            ]
        );
        assert_eq!(block_usage(&vm, "vdb"), InUse::default());
    }
}
