//! `disk=auto`: which disks are candidates, why the others are skipped, and the choice.

use super::hints::Hints;
use super::sysfs::{BlockDevice, DeviceKind, System};
use super::target::human_size;
use serde::Serialize;

/// Auto never picks a disk smaller than this, whatever the image size.
pub const MIN_AUTO_SIZE: u64 = 4 << 30;

/// Why `disk=auto` will not pick a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Skip {
    /// loop, ram, zram, dm, md, nbd or optical.
    NotADisk {
        kind: DeviceKind,
    },
    Removable,
    ReadOnly,
    NoMedium,
    TooSmall {
        size: u64,
        needed: u64,
    },
    HoldsRunningSystem,
    Mounted {
        mounts: Vec<String>,
    },
    Swap {
        swap: Vec<String>,
    },
    /// Failed a `disk_hint` key.
    Hint {
        failed: Vec<String>,
    },
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NotADisk { kind } => {
                let k = serde_json::to_value(kind).ok();
                let k = k.as_ref().and_then(|v| v.as_str()).unwrap_or("virtual");
                write!(f, "{k} device")
            }
            Skip::Removable => f.write_str("removable"),
            Skip::ReadOnly => f.write_str("read-only"),
            Skip::NoMedium => f.write_str("no medium (size 0)"),
            Skip::TooSmall { size, needed } => write!(
                f,
                "too small ({} < {})",
                human_size(*size),
                human_size(*needed)
            ),
            Skip::HoldsRunningSystem => f.write_str("holds the running system (/)"),
            Skip::Mounted { mounts } => write!(f, "mounted on {}", mounts.join(", ")),
            Skip::Swap { swap } => write!(f, "active swap {}", swap.join(", ")),
            Skip::Hint { failed } => write!(f, "disk_hint: {}", failed.join("; ")),
        }
    }
}

/// Every reason `d` is not a candidate (empty = candidate).
pub fn skip_reasons(d: &BlockDevice, needed: u64, hints: Option<&Hints>) -> Vec<Skip> {
    let mut r = Vec::new();
    if d.kind != DeviceKind::Disk {
        r.push(Skip::NotADisk { kind: d.kind });
    }
    if d.removable {
        r.push(Skip::Removable);
    }
    if d.ro {
        r.push(Skip::ReadOnly);
    }
    if d.size == 0 {
        r.push(Skip::NoMedium);
    } else if d.size < needed {
        r.push(Skip::TooSmall {
            size: d.size,
            needed,
        });
    }
    if d.holds_root {
        r.push(Skip::HoldsRunningSystem);
    }
    if !d.mounts.is_empty() {
        r.push(Skip::Mounted {
            mounts: d.mounts.clone(),
        });
    }
    if !d.swap.is_empty() {
        r.push(Skip::Swap {
            swap: d.swap.clone(),
        });
    }
    // Hint fields are only worth reporting for devices that are otherwise candidates.
    if let Some(h) = hints.filter(|_| r.is_empty()) {
        let failed = h.mismatches(d);
        if !failed.is_empty() {
            r.push(Skip::Hint { failed });
        }
    }
    r
}

/// The size auto requires: the image's size and at least 4 GiB.
pub fn needed_size(min_size: Option<u64>) -> u64 {
    min_size.unwrap_or(0).max(MIN_AUTO_SIZE)
}

/// One device with the verdict of auto on it.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict<'a> {
    #[serde(flatten)]
    pub device: &'a BlockDevice,
    pub skipped: Vec<Skip>,
    /// True for the device `disk=auto` picks.
    pub chosen: bool,
}

/// Deterministic order among candidates: smallest first, then kernel name in enumeration
/// order (`sdb` before `sdaa`).
fn order_key(d: &BlockDevice) -> (u64, usize, String) {
    (d.size, d.name.len(), d.name.clone())
}

/// Evaluate every device; mark the choice. Err = the reason auto cannot choose.
pub fn evaluate<'a>(
    sys: &'a System,
    min_size: Option<u64>,
    hints: Option<&Hints>,
) -> (Vec<Verdict<'a>>, Result<String, String>) {
    let needed = needed_size(min_size);
    let mut verdicts: Vec<Verdict> = sys
        .devices
        .iter()
        .map(|d| Verdict {
            device: d,
            skipped: skip_reasons(d, needed, hints),
            chosen: false,
        })
        .collect();
    let mut cands: Vec<&BlockDevice> = verdicts
        .iter()
        .filter(|v| v.skipped.is_empty())
        .map(|v| v.device)
        .collect();
    cands.sort_by_key(|d| order_key(d));
    let choice = match (cands.len(), hints) {
        (0, _) => Err(no_candidate_message(&verdicts, needed, hints)),
        (1, _) | (_, None) => Ok(cands[0].name.clone()),
        (_, Some(h)) => Err(format!(
            "disk_hint {:?} matches {} disks: {}; add a key that tells them apart (serial=, wwn=, by_path=)",
            hint_text(h),
            cands.len(),
            cands.iter().map(|d| describe(d)).collect::<Vec<_>>().join("; ")
        )),
    };
    if let Ok(name) = &choice {
        for v in verdicts.iter_mut() {
            v.chosen = &v.device.name == name;
        }
    }
    (verdicts, choice)
}

fn hint_text(h: &Hints) -> String {
    h.pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `sda (8.0 GiB, QEMU HARDDISK, serial X, by-path …)`
pub fn describe(d: &BlockDevice) -> String {
    let mut p = vec![human_size(d.size)];
    p.extend(d.model.clone());
    if let Some(s) = &d.serial {
        p.push(format!("serial {s}"));
    }
    if let Some(b) = d.by_path.first() {
        p.push(format!("by-path {b}"));
    }
    format!("{} ({})", d.name, p.join(", "))
}

fn no_candidate_message(verdicts: &[Verdict], needed: u64, hints: Option<&Hints>) -> String {
    let mut s = match hints {
        Some(h) => format!("no disk matches disk_hint {:?}", hint_text(h)),
        None => format!(
            "no disk qualifies for disk=auto (needs a writable, non-removable whole disk of at least {})",
            human_size(needed)
        ),
    };
    let (disks, others): (Vec<&Verdict>, Vec<&Verdict>) = verdicts
        .iter()
        .partition(|v| v.device.kind == DeviceKind::Disk);
    if disks.is_empty() {
        s.push_str("; no whole disks were found at all (missing storage driver?)");
    } else {
        s.push_str(". Disks and why they were skipped: ");
        s.push_str(
            &disks
                .iter()
                .map(|v| {
                    let why: Vec<String> = v.skipped.iter().map(|k| k.to_string()).collect();
                    format!("{}: {}", describe(v.device), why.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|v| v.device.name.as_str()).collect();
        s.push_str(&format!(
            "; not disks (loop/ram/zram/dm/md/optical): {}",
            names.join(" ")
        ));
    }
    s.push_str(". Give disk=PATH, or adjust disk_hint (see `rdinstall disks`)");
    s
}
