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

#[cfg(test)]
mod tests {
    //! Against the fixture trees in tests/fixtures/sysfs (see make-fixtures.sh there).
    use super::*;
    use crate::disk::sysfs::Roots;

    fn fixture(name: &str) -> System {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sysfs")
            .join(name);
        System::scan(&Roots::under(&dir)).unwrap()
    }

    fn choose(sys: &System, min: Option<u64>, hint: Option<&str>) -> Result<String, String> {
        let h = hint.map(|h| Hints::parse(h).unwrap());
        evaluate(sys, min, h.as_ref()).1
    }

    fn skips(sys: &System, name: &str) -> Vec<Skip> {
        evaluate(sys, None, None)
            .0
            .into_iter()
            .find(|v| v.device.name == name)
            .unwrap()
            .skipped
    }

    #[test]
    fn reads_every_field_from_sysfs() {
        let sys = fixture("server");
        let sda = sys.device("sda").unwrap();
        assert_eq!(sda.size, 500 << 30);
        assert_eq!(sda.dev, "8:0");
        assert_eq!((sda.logical_sector, sda.physical_sector), (512, 4096));
        assert_eq!(sda.model.as_deref(), Some("ST500DM002-1BD142"));
        assert_eq!(sda.vendor.as_deref(), Some("ATA"));
        assert_eq!(
            sda.serial.as_deref(),
            Some("Z3T1A2B3"),
            "from VPD page 0x80"
        );
        assert_eq!(sda.wwn.as_deref(), Some("naa.5000c5007a1b2c3d"));
        assert!(sda.rotational && !sda.removable && !sda.ro);
        assert_eq!(sda.hctl.as_deref(), Some("0:0:0:0"));
        assert_eq!(sda.transport.as_deref(), Some("sata"));
        assert_eq!(sda.by_path, ["pci-0000:00:1f.2-ata-1"]);
        assert_eq!(
            sda.by_id,
            ["ata-ST500DM002-1BD142_Z3T1A2B3", "wwn-0x5000c5007a1b2c3d"]
        );
        let nv = sys.device("nvme0n1").unwrap();
        assert_eq!(nv.transport.as_deref(), Some("nvme"));
        assert_eq!(nv.serial.as_deref(), Some("S4EWNX0R123456"));
        assert_eq!(nv.partitions.len(), 2);
        assert_eq!(nv.partitions[1].start, (900u64 << 30) + 2048 * 512);
        assert_eq!(nv.swap, ["/dev/nvme0n1p2"]);
        let sdb = sys.device("sdb").unwrap();
        assert_eq!(sdb.holders, ["dm-0"]);
        assert_eq!(sdb.mounts, ["/srv"], "mounted through its LVM holder");
        assert_eq!(sys.device("sdc").unwrap().transport.as_deref(), Some("usb"));
        assert_eq!(sys.device("sdd").unwrap().holders, ["md127"]);
    }

    #[test]
    fn says_why_each_device_is_skipped() {
        let sys = fixture("server");
        assert!(skips(&sys, "sda").is_empty());
        assert_eq!(
            skips(&sys, "sdb"),
            [Skip::Mounted {
                mounts: vec!["/srv".into()]
            }]
        );
        assert_eq!(skips(&sys, "sdc"), [Skip::Removable]);
        assert_eq!(
            skips(&sys, "sr0"),
            [
                Skip::NotADisk {
                    kind: DeviceKind::Optical
                },
                Skip::Removable,
                Skip::ReadOnly,
                Skip::TooSmall {
                    size: 1 << 30,
                    needed: MIN_AUTO_SIZE
                }
            ]
        );
        assert_eq!(
            skips(&sys, "nvme0n1"),
            [Skip::Swap {
                swap: vec!["/dev/nvme0n1p2".into()]
            }]
        );
        assert!(matches!(
            skips(&sys, "nvme1n1")[..],
            [Skip::TooSmall { .. }]
        ));
        assert!(skips(&sys, "loop0").contains(&Skip::NotADisk {
            kind: DeviceKind::Loop
        }));
        assert!(skips(&sys, "loop0").contains(&Skip::NoMedium));
        assert_eq!(
            skips(&sys, "zram0"),
            [Skip::NotADisk {
                kind: DeviceKind::Zram
            }]
        );
        assert!(skips(&sys, "dm-0").contains(&Skip::NotADisk {
            kind: DeviceKind::Dm
        }));
        assert!(skips(&sys, "md127").contains(&Skip::NotADisk {
            kind: DeviceKind::Md
        }));
    }

    #[test]
    fn default_choice_is_the_smallest_with_a_name_tie_break() {
        let sys = fixture("server");
        // sdd and sde are both 240 GiB: the name decides, every time.
        assert_eq!(choose(&sys, None, None).unwrap(), "sdd");
        // An image larger than both leaves sda.
        assert_eq!(choose(&sys, Some(300 << 30), None).unwrap(), "sda");
        let e = choose(&sys, Some(2 << 40), None).unwrap_err();
        assert!(e.contains("no disk qualifies"), "{e}");
        assert!(e.contains("sda (500.0 GiB"), "lists candidates: {e}");
        assert!(e.contains("too small"), "{e}");

        let vm = fixture("vm");
        let vda = vm.device("vda").unwrap();
        assert!(vda.holds_root);
        assert_eq!(
            skips(&vm, "vda"),
            [
                Skip::HoldsRunningSystem,
                Skip::Mounted {
                    mounts: vec!["/".into()]
                }
            ]
        );
        assert_eq!(choose(&vm, None, None).unwrap(), "vdb");
        assert_eq!(vm.device("vdb").unwrap().serial.as_deref(), Some("data-b"));
        assert_eq!(
            vm.device("loop3")
                .unwrap()
                .loop_backing
                .as_ref()
                .unwrap()
                .file,
            "/var/tmp/disk.img"
        );
    }

    #[test]
    fn hints_pick_exactly_one() {
        let sys = fixture("server");
        assert_eq!(choose(&sys, None, Some("rotational=1")).unwrap(), "sda");
        assert_eq!(
            choose(&sys, None, Some("serial=S3Z2NB0K100003")).unwrap(),
            "sde"
        );
        assert_eq!(
            choose(&sys, None, Some("wwn=0x5002538e40a0b003")).unwrap(),
            "sde"
        );
        assert_eq!(
            choose(
                &sys,
                None,
                Some("by_path=/dev/disk/by-path/pci-0000:00:1f.2-ata-4")
            )
            .unwrap(),
            "sde"
        );
        assert_eq!(choose(&sys, None, Some("size=500G")).unwrap(), "sda");
        assert_eq!(
            choose(&sys, None, Some("min_size=300G,vendor=ata")).unwrap(),
            "sda"
        );
        assert_eq!(
            choose(&sys, None, Some("model=samsung ssd 860,name=sd[e-z]")).unwrap(),
            "sde"
        );
        assert_eq!(
            choose(&sys, None, Some("max_size=250G,name=/dev/sdd")).unwrap(),
            "sdd"
        );
    }

    #[test]
    fn ambiguous_hints_name_the_matches() {
        let sys = fixture("server");
        let e = choose(&sys, None, Some("model=Samsung SSD 860")).unwrap_err();
        assert!(e.contains("matches 2 disks"), "{e}");
        assert!(
            e.contains("sdd (240.0 GiB, Samsung SSD 860, serial S3Z2NB0K100002"),
            "{e}"
        );
        assert!(e.contains("sde (240.0 GiB"), "{e}");
        assert!(!e.contains("sdb ("), "sdb is mounted, not a match: {e}");
        assert!(e.contains("serial="), "says how to disambiguate: {e}");
    }

    #[test]
    fn no_match_lists_the_failing_fields() {
        let sys = fixture("server");
        let e = choose(&sys, None, Some("name=nvme*")).unwrap_err();
        assert!(
            e.contains("no disk matches disk_hint \"name=nvme*\""),
            "{e}"
        );
        assert!(e.contains("nvme0n1 (1.0 TiB"), "{e}");
        assert!(e.contains("active swap /dev/nvme0n1p2"), "{e}");
        assert!(e.contains("nvme1n1 (2.0 GiB"), "{e}");
        assert!(e.contains("name=nvme*: name is sda"), "{e}");
        let e = choose(&sys, None, Some("model=Nope,rotational=0")).unwrap_err();
        assert!(
            e.contains("model=Nope: model is \"ST500DM002-1BD142\""),
            "{e}"
        );
        assert!(e.contains("rotational=0: rotational is 1"), "{e}");
        let e = choose(&sys, None, Some("wwn=1234")).unwrap_err();
        assert!(
            e.contains("wwn=1234: wwn is \"naa.5000c5007a1b2c3d\""),
            "{e}"
        );
        assert!(!e.contains("nvme1n1 (2.0 GiB, Tiny NVMe, serial TINY0001, by-path pci-0000:3e:00.0-nvme-1): too small (2.0 GiB < 4.0 GiB), disk_hint"), "hint fields only for otherwise eligible disks: {e}");
        assert!(
            e.contains("not disks (loop/ram/zram/dm/md/optical): dm-0 loop0 md127 sr0 zram0"),
            "{e}"
        );
    }

    #[test]
    fn holder_teardown_order_and_closure() {
        let sys = fixture("server");
        assert_eq!(sys.holders_top_down("sdb"), ["dm-0"]);
        assert_eq!(sys.holders_top_down("sdd"), ["md127"]);
        assert!(sys.holders_top_down("sda").is_empty());
        let c = sys.closure("sdb");
        assert!(c.contains("sdb1") && c.contains("sdb2") && c.contains("dm-0"));
        assert_eq!(
            sys.node_of_path("/dev/mapper/vg0-srv").as_deref(),
            Some("dm-0")
        );
    }
}

#[cfg(test)]
mod stacked_tests {
    //! Root on LVM, and LUKS on LVM on md RAID1 (fixture `stacked`).
    use super::*;
    use crate::disk::safety::block_reasons;
    use crate::disk::sysfs::Roots;

    fn sys() -> System {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysfs/stacked");
        System::scan(&Roots::under(&dir)).unwrap()
    }

    #[test]
    fn teardown_goes_from_the_top_of_the_stack_down() {
        let s = sys();
        assert_eq!(s.holders_top_down("sdb"), ["dm-2", "dm-1", "md0"]);
        assert_eq!(s.holders_top_down("sdc"), ["dm-2", "dm-1", "md0"]);
        assert_eq!(s.holders_top_down("md0"), ["dm-2", "dm-1"]);
        assert_eq!(s.holders_top_down("sda"), ["dm-0"]);
        assert_eq!(s.device("sdb").unwrap().holders, ["md0"]);
    }

    #[test]
    fn root_on_lvm_marks_its_disk_only() {
        let s = sys();
        assert!(s.device("sda").unwrap().holds_root);
        assert!(!s.device("sdb").unwrap().holds_root);
        assert_eq!(
            block_reasons(&s, "sda", true),
            [
                "dm-0 (on sda) is mounted on /",
                "sda holds the running system's root filesystem (/)"
            ]
        );
        assert!(block_reasons(&s, "sdb", true).is_empty());
        // sdb and sdc tie on size: the name decides.
        assert_eq!(evaluate(&s, None, None).1.unwrap(), "sdb");
    }
}
