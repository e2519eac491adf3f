//! The refusal check before anything is written: a disk whose own filesystem, partitions or
//! holders are mounted, that carries active swap, or that holds the running system's root
//! is refused (`error::Refusal`, exit 5) with every mount point named.

use super::sysfs::{Roots, System, Usage};
use super::target::{Target, TargetKind};
use crate::error::Refusal;
use anyhow::Result;
use std::os::unix::fs::MetadataExt;

/// `major:minor` of a block device node.
pub fn dev_number(path: &std::path::Path) -> Option<String> {
    let m = std::fs::metadata(path).ok()?;
    let rdev = m.rdev();
    Some(format!("{}:{}", libc::major(rdev), libc::minor(rdev)))
}

pub fn check_safe(target: &Target) -> Result<()> {
    check_safe_in(&Roots::host(), target)
}

fn describe_usage(what: &str, u: &Usage, refuse_swap: bool, out: &mut Vec<String>) {
    for (dev, mp) in &u.mount_details {
        if dev == what {
            out.push(format!("{dev} is mounted on {mp}"));
        } else {
            out.push(format!("{dev} (on {what}) is mounted on {mp}"));
        }
    }
    for s in u.swap.iter().filter(|_| refuse_swap) {
        out.push(format!("{s} (on {what}) is active swap"));
    }
    if u.holds_root {
        out.push(format!(
            "{what} holds the running system's root filesystem (/)"
        ));
    }
}

/// Why the block device `name` (a disk or a partition, with everything on it) may not be
/// touched; empty = safe.
pub fn block_reasons(sys: &System, name: &str, refuse_swap: bool) -> Vec<String> {
    let mut reasons = Vec::new();
    describe_usage(name, &sys.usage(name), refuse_swap, &mut reasons);
    // A loop device's partitions are, on kernels without partition scanning, other loop
    // devices over the same file at an offset: those count as this disk's.
    if let Some(b) = sys.device(name).and_then(|d| d.loop_backing.clone()) {
        for alias in sys.loops_backed_by(std::path::Path::new(&b.file)) {
            if alias.name != name {
                describe_usage(
                    &alias.name,
                    &sys.usage(&alias.name),
                    refuse_swap,
                    &mut reasons,
                );
            }
        }
    }
    reasons.dedup();
    reasons
}

/// Why the disk image `file` may not be touched: a loop device over it is in use, or it is
/// an active swap file.
pub fn file_reasons(sys: &System, file: &std::path::Path, refuse_swap: bool) -> Vec<String> {
    let mut reasons = Vec::new();
    for l in sys.loops_backed_by(file) {
        describe_usage(&l.name, &sys.usage(&l.name), refuse_swap, &mut reasons);
    }
    let canon = file.to_string_lossy();
    if refuse_swap && sys.swaps.iter().any(|s| *s == canon) {
        reasons.push(format!("{canon} is an active swap file"));
    }
    reasons.dedup();
    reasons
}

pub fn check_safe_in(roots: &Roots, target: &Target) -> Result<()> {
    check_in(roots, target, true)
}

/// The check itself. `refuse_swap` false is the wipe's own last-moment check: it turns swap
/// off as part of the teardown, but never touches a mounted disk or the running system.
pub fn check_in(roots: &Roots, target: &Target, refuse_swap: bool) -> Result<()> {
    let sys = System::scan(roots)?;
    let reasons = match target.kind {
        TargetKind::Block => {
            let name =
                dev_number(&target.dev_path).and_then(|d| sys.name_of_dev(&d).map(String::from));
            let Some(name) = name else {
                anyhow::bail!(
                    "{} is not listed under {}/block; cannot check whether it is in use",
                    target.dev_path.display(),
                    roots.sys.display()
                );
            };
            block_reasons(&sys, &name, refuse_swap)
        }
        TargetKind::File => file_reasons(&sys, &target.dev_path, refuse_swap),
    };
    if reasons.is_empty() {
        return Ok(());
    }
    Err(Refusal(format!(
        "refusing to touch {}: {}. Unmount it (or swapoff) first, or choose another disk",
        target.path.display(),
        reasons.join("; ")
    ))
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> System {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sysfs")
            .join(name);
        System::scan(&Roots::under(&dir)).unwrap()
    }

    #[test]
    fn names_mounts_through_holders_swap_and_root() {
        let sys = fixture("server");
        assert_eq!(
            block_reasons(&sys, "sdb", true),
            ["dm-0 (on sdb) is mounted on /srv"]
        );
        assert_eq!(
            block_reasons(&sys, "nvme0n1", true),
            ["/dev/nvme0n1p2 (on nvme0n1) is active swap"]
        );
        // md members with nothing mounted on the array are fine: the wipe stops it.
        assert!(
            block_reasons(&sys, "nvme0n1", false).is_empty(),
            "the wipe turns swap off"
        );
        assert!(block_reasons(&sys, "sdd", true).is_empty());
        assert!(block_reasons(&sys, "sda", true).is_empty());
        let vm = fixture("vm");
        assert_eq!(
            block_reasons(&vm, "vda", true),
            [
                "vda1 (on vda) is mounted on /",
                "vda holds the running system's root filesystem (/)"
            ]
        );
        assert!(block_reasons(&vm, "vdb", true).is_empty());
    }
}
