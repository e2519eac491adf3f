//! Block devices as sysfs describes them: whole disks under `/sys/block`, their partitions,
//! holders (device-mapper, md), `/dev/disk/by-id` and `by-path` links, and what of it is
//! mounted or used as swap. Nothing here parses tool output or writes anything.
//!
//! The roots are injectable (`Roots`) so tests run against fixture trees in
//! `tests/fixtures/sysfs/`.

use super::mounts::{self, Mount};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where to read the system's view from.
#[derive(Debug, Clone)]
pub struct Roots {
    /// `/sys`
    pub sys: PathBuf,
    /// `/dev`
    pub dev: PathBuf,
    /// `/proc/self/mountinfo`
    pub mountinfo: PathBuf,
    /// `/proc/swaps`
    pub swaps: PathBuf,
}

impl Roots {
    pub fn host() -> Roots {
        Roots {
            sys: "/sys".into(),
            dev: "/dev".into(),
            mountinfo: "/proc/self/mountinfo".into(),
            swaps: "/proc/swaps".into(),
        }
    }

    /// A fixture tree with `sys/`, `dev/`, `proc/self/mountinfo` and `proc/swaps` inside.
    pub fn under(dir: &Path) -> Roots {
        Roots {
            sys: dir.join("sys"),
            dev: dir.join("dev"),
            mountinfo: dir.join("proc/self/mountinfo"),
            swaps: dir.join("proc/swaps"),
        }
    }

    /// The device node of a kernel name (`sda` → `/dev/sda`).
    pub fn dev_node(&self, name: &str) -> PathBuf {
        self.dev.join(name)
    }
}

/// What kind of block device a `/sys/block` entry is; only `Disk` is a candidate for auto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Disk,
    Loop,
    Ram,
    Zram,
    Dm,
    Md,
    Nbd,
    /// CD/DVD drives (`sr*`).
    Optical,
}

impl DeviceKind {
    fn of(name: &str) -> DeviceKind {
        let p = |s: &str| name.starts_with(s);
        if p("loop") {
            DeviceKind::Loop
        } else if p("zram") {
            DeviceKind::Zram
        } else if p("ram") {
            DeviceKind::Ram
        } else if p("dm-") {
            DeviceKind::Dm
        } else if p("md") {
            DeviceKind::Md
        } else if p("nbd") {
            DeviceKind::Nbd
        } else if p("sr") {
            DeviceKind::Optical
        } else {
            DeviceKind::Disk
        }
    }
}

/// A partition of a disk as the kernel shows it in sysfs (not an entry of an on-disk table).
#[derive(Debug, Clone, Serialize)]
pub struct KernelPartition {
    pub name: String,
    /// `major:minor`
    pub dev: String,
    pub number: Option<u32>,
    /// Byte offset within the disk.
    pub start: u64,
    pub size: u64,
    pub holders: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlockDevice {
    pub name: String,
    pub path: PathBuf,
    /// `major:minor`
    pub dev: String,
    pub kind: DeviceKind,
    pub size: u64,
    pub logical_sector: u32,
    pub physical_sector: u32,
    pub model: Option<String>,
    pub vendor: Option<String>,
    pub serial: Option<String>,
    /// The unit's identifier as sysfs has it (`wwid`: `naa.…`, `eui.…`, `t10.…`).
    pub wwn: Option<String>,
    /// udev's `ID_WWN_WITH_EXTENSION` (see `wwn_parts`).
    pub wwn_with_extension: Option<String>,
    /// udev's `ID_WWN_VENDOR_EXTENSION`: only NAA 6 ids have one.
    pub wwn_vendor_extension: Option<String>,
    pub rotational: bool,
    pub removable: bool,
    pub ro: bool,
    /// SCSI host:channel:target:lun.
    pub hctl: Option<String>,
    pub by_id: Vec<String>,
    pub by_path: Vec<String>,
    /// sata, ata, sas, fc, iscsi, spi, usb, nvme, virtio, mmc, scsi, xen, virtual (see
    /// `transport_of`); Ironic's `tran`.
    pub transport: Option<String>,
    /// Direct holders of the disk and of its partitions (`dm-0`, `md127`).
    pub holders: Vec<String>,
    pub partitions: Vec<KernelPartition>,
    /// Mount points of the disk, its partitions and (recursively) its holders.
    pub mounts: Vec<String>,
    /// Active swap on the disk, its partitions or holders (device paths as /proc/swaps says).
    pub swap: Vec<String>,
    /// True when the running system's `/` lives on this disk (directly or through holders).
    pub holds_root: bool,
    /// For loop devices: the file behind it, with its offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_backing: Option<LoopBacking>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoopBacking {
    pub file: String,
    pub offset: u64,
}

/// One node of the holder graph: any device under /sys/block or a partition of one.
#[derive(Debug, Clone, Default)]
struct Node {
    dev: String,
    holders: Vec<String>,
    /// For top-level devices: their partitions' names.
    parts: Vec<String>,
}

/// The whole picture: every /sys/block device plus the holder graph and mounts.
#[derive(Debug, Clone)]
pub struct System {
    pub devices: Vec<BlockDevice>,
    nodes: BTreeMap<String, Node>,
    pub mounts: Vec<Mount>,
    pub swaps: Vec<String>,
    /// Names of the devices the running system's `/` sits on (before walking slaves).
    root_dev: Option<String>,
    /// `/dev/mapper/NAME` → `dm-N`.
    dm_names: BTreeMap<String, String>,
    roots: Roots,
}

fn read_attr(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn read_u64(p: &Path) -> Option<u64> {
    read_attr(p)?.parse().ok()
}

fn list_dir(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `/dev/disk/by-*/LINK` → name of the device it points at (`../../sda` → `sda`).
fn link_index(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut idx: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for link in list_dir(dir) {
        if let Ok(t) = std::fs::read_link(dir.join(&link)) {
            if let Some(n) = t.file_name().and_then(|n| n.to_str()) {
                idx.entry(n.to_string()).or_default().push(link);
            }
        }
    }
    idx
}

/// SCSI/SATA disks have no `serial` attribute; the unit serial number is VPD page 0x80:
/// a 4-byte header whose byte 3 is the length, then the (blank-padded) serial.
fn vpd_serial(p: &Path) -> Option<String> {
    let b = std::fs::read(p).ok()?;
    let len = usize::from(*b.get(3)?);
    let s = String::from_utf8_lossy(b.get(4..4 + len)?)
        .trim()
        .to_string();
    (!s.is_empty()).then_some(s)
}

/// The SCSI host directory a disk hangs off (`…/host0/target0:0:0/0:0:0:0/block/sda`).
fn scsi_host_dir(real: &Path) -> Option<&Path> {
    real.ancestors().find(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("host"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Transport, named as lsblk's TRAN column (which IPA reports for Ironic's `tran` hint)
/// names it, from the disk's place in the sysfs device tree:
/// - a SCSI disk: by the transport class of its host — `spi_host` → `spi`, `fc_host` →
///   `fc`, `sas_host` (or an `end_device-` on the path) → `sas`, `iscsi_host` → `iscsi`;
///   else a `usb` bus on the path → `usb`; else the host driver's `proc_name`: `ahci*`/
///   `sata*` → `sata`, other `*ata*` → `ata`; else a libata port (`ataN`) on the path →
///   `sata`; any other SCSI host (virtio-scsi, RAID HBAs) → `scsi`, where lsblk says
///   nothing;
/// - otherwise by the path or name: `usb`, `nvme`, `virtio`, `mmc`, `xen`, `virtual`.
fn transport_of(real: &Path, name: &str) -> Option<String> {
    let s = real.to_string_lossy();
    let t = if let Some(host) = scsi_host_dir(real) {
        let class = |c: &str| host.join(c).is_dir();
        let proc_name = host
            .file_name()
            .and_then(|h| read_attr(&host.join("scsi_host").join(h).join("proc_name")))
            .unwrap_or_default();
        if class("spi_host") {
            "spi"
        } else if class("fc_host") {
            "fc"
        } else if class("sas_host") || s.contains("/end_device-") {
            "sas"
        } else if class("iscsi_host") {
            "iscsi"
        } else if s.contains("/usb") {
            "usb"
        } else if proc_name.starts_with("ahci") || proc_name.starts_with("sata") {
            "sata"
        } else if proc_name.contains("ata") {
            "ata"
        } else if s.contains("/ata") {
            "sata"
        } else {
            "scsi"
        }
    } else if s.contains("/usb") {
        "usb"
    } else if name.starts_with("nvme") || s.contains("/nvme") {
        "nvme"
    } else if s.contains("/virtio") {
        "virtio"
    } else if s.contains("/mmc_host") || s.contains("/mmc") {
        "mmc"
    } else if s.contains("/vbd-") || s.contains("/xen") {
        "xen"
    } else if s.contains("/virtual/") {
        "virtual"
    } else {
        return None;
    };
    Some(t.to_string())
}

/// True for `H:C:T:L`.
fn is_hctl(c: &str) -> bool {
    let p: Vec<&str> = c.split(':').collect();
    p.len() == 4
        && p.iter()
            .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
}

/// The SCSI address: the name under `device/scsi_device/` (where IPA reads it), else the
/// last path component that looks like `H:C:T:L`.
fn hctl_of(dev_dir: &Path, real: &Path) -> Option<String> {
    list_dir(&dev_dir.join("device/scsi_device"))
        .into_iter()
        .find(|n| is_hctl(n))
        .or_else(|| {
            real.components()
                .rev()
                .filter_map(|c| c.as_os_str().to_str())
                .find(|c| is_hctl(c))
                .map(String::from)
        })
}

/// The WWN fields udev derives from a SCSI/ATA NAA identifier (sysfs `wwid`, e.g.
/// `naa.5000c5007a1b2c3d`), which IPA reports as `wwn`, `wwn_with_extension` and
/// `wwn_vendor_extension`: a 16-digit (NAA 2/3/5) id is all three's first two; a 32-digit
/// NAA 6 ("registered extended") id is its first 16 digits, the whole, and its last 16.
/// Other ids (NVMe `eui.`/`nvme.`, SCSI `t10.`) have no udev WWN split: `None`s.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WwnParts {
    pub wwn: Option<String>,
    pub with_extension: Option<String>,
    pub vendor_extension: Option<String>,
}

pub fn wwn_parts(id: &str) -> WwnParts {
    let id = id.trim().to_ascii_lowercase();
    let Some(hex) = id.strip_prefix("naa.") else {
        return WwnParts::default();
    };
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return WwnParts::default();
    }
    match hex.len() {
        16 => WwnParts {
            wwn: Some(format!("0x{hex}")),
            with_extension: Some(format!("0x{hex}")),
            vendor_extension: None,
        },
        32 => WwnParts {
            wwn: Some(format!("0x{}", &hex[..16])),
            with_extension: Some(format!("0x{hex}")),
            vendor_extension: Some(format!("0x{}", &hex[16..])),
        },
        _ => WwnParts::default(),
    }
}

/// The `/dev/disk/by-*` links, by the name of the device they point at.
struct Links {
    by_id: BTreeMap<String, Vec<String>>,
    by_path: BTreeMap<String, Vec<String>>,
}

/// The partitions of the device at sysfs `d`, by number; each becomes a node of the holder
/// graph in `nodes`.
fn read_partitions(d: &Path, nodes: &mut BTreeMap<String, Node>) -> Vec<KernelPartition> {
    let mut partitions = Vec::new();
    for sub in list_dir(d) {
        let pd = d.join(&sub);
        if !pd.join("partition").exists() {
            continue;
        }
        let holders = list_dir(&pd.join("holders"));
        let dev = read_attr(&pd.join("dev")).unwrap_or_default();
        nodes.insert(
            sub.clone(),
            Node {
                dev: dev.clone(),
                holders: holders.clone(),
                parts: vec![],
            },
        );
        partitions.push(KernelPartition {
            number: read_attr(&pd.join("partition")).and_then(|s| s.parse().ok()),
            start: read_u64(&pd.join("start")).unwrap_or(0) * 512,
            size: read_u64(&pd.join("size")).unwrap_or(0) * 512,
            name: sub,
            dev,
            holders,
        });
    }
    partitions.sort_by_key(|p| (p.number.unwrap_or(u32::MAX), p.name.clone()));
    partitions
}

/// The device `name` at sysfs `d`, with its `partitions`; usage (mounts, swap, `/`) is
/// filled in once the whole holder graph is known.
fn read_block_device(
    roots: &Roots,
    d: &Path,
    name: &str,
    links: &Links,
    partitions: Vec<KernelPartition>,
) -> BlockDevice {
    let real = std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf());
    let attr = |rel: &str| read_attr(&d.join(rel));
    let mut holders = list_dir(&d.join("holders"));
    for p in &partitions {
        holders.extend(p.holders.iter().cloned());
    }
    holders.sort();
    holders.dedup();
    let kind = DeviceKind::of(name);
    let loop_backing = attr("loop/backing_file").map(|file| LoopBacking {
        file,
        offset: attr("loop/offset")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
    });
    let wwn = attr("wwid")
        .or_else(|| attr("device/wwid"))
        .or_else(|| attr("device/wwn"));
    let parts = wwn.as_deref().map(wwn_parts).unwrap_or_default();
    let sector = |rel: &str| attr(rel).and_then(|s| s.parse().ok()).unwrap_or(512);
    BlockDevice {
        path: roots.dev_node(name),
        dev: attr("dev").unwrap_or_default(),
        kind,
        size: read_u64(&d.join("size")).unwrap_or(0) * 512,
        logical_sector: sector("queue/logical_block_size"),
        physical_sector: sector("queue/physical_block_size"),
        model: attr("device/model"),
        vendor: attr("device/vendor"),
        serial: attr("device/serial")
            .or_else(|| attr("serial"))
            .or_else(|| vpd_serial(&d.join("device/vpd_pg80"))),
        wwn,
        wwn_with_extension: parts.with_extension,
        wwn_vendor_extension: parts.vendor_extension,
        rotational: attr("queue/rotational").as_deref() == Some("1"),
        removable: attr("removable").as_deref() == Some("1"),
        ro: attr("ro").as_deref() == Some("1"),
        hctl: if kind == DeviceKind::Disk || kind == DeviceKind::Optical {
            hctl_of(d, &real)
        } else {
            None
        },
        by_id: links.by_id.get(name).cloned().unwrap_or_default(),
        by_path: links.by_path.get(name).cloned().unwrap_or_default(),
        transport: transport_of(&real, name),
        holders,
        partitions,
        mounts: vec![],
        swap: vec![],
        holds_root: false,
        loop_backing,
        name: name.to_string(),
    }
}

impl BlockDevice {
    /// udev's `ID_WWN` for this disk, when it differs in spelling from `wwn`.
    pub fn wwn_udev(&self) -> Option<String> {
        self.wwn.as_deref().and_then(|w| wwn_parts(w).wwn)
    }
}

impl System {
    /// Read everything from `roots`. Only a missing `/sys/block` is an error.
    pub fn scan(roots: &Roots) -> Result<System> {
        let block = roots.sys.join("block");
        let names = list_dir(&block);
        if names.is_empty() && !block.is_dir() {
            anyhow::bail!(
                "cannot list block devices: {} is missing (is sysfs mounted?)",
                block.display()
            );
        }
        let links = Links {
            by_id: link_index(&roots.dev.join("disk/by-id")),
            by_path: link_index(&roots.dev.join("disk/by-path")),
        };
        let (mounts, swaps) = mounts::read(&roots.mountinfo, &roots.swaps);

        let mut nodes = BTreeMap::new();
        let mut devices = Vec::new();
        let mut dm_names = BTreeMap::new();
        for name in &names {
            let d = block.join(name);
            let partitions = read_partitions(&d, &mut nodes);
            let dev = read_block_device(roots, &d, name, &links, partitions);
            nodes.insert(
                name.clone(),
                Node {
                    dev: dev.dev.clone(),
                    holders: list_dir(&d.join("holders")),
                    parts: dev.partitions.iter().map(|p| p.name.clone()).collect(),
                },
            );
            if let Some(dm) = read_attr(&d.join("dm/name")) {
                dm_names.insert(dm, name.clone());
            }
            devices.push(dev);
        }

        let mut sys = System {
            devices,
            nodes,
            root_dev: None,
            mounts,
            swaps,
            dm_names,
            roots: roots.clone(),
        };
        sys.root_dev = mounts::root_mount(&sys.mounts).and_then(|m| sys.node_of_mount(m));
        sys.fill_usage();
        Ok(sys)
    }

    /// Each device's mounts, swap and whether it holds `/`, through the holder graph.
    fn fill_usage(&mut self) {
        let usage: Vec<_> = self
            .devices
            .iter()
            .map(|d| {
                let u = self.usage(&d.name);
                (u.mounts, u.swap, u.holds_root)
            })
            .collect();
        for (d, (m, s, r)) in self.devices.iter_mut().zip(usage) {
            d.mounts = m;
            d.swap = s;
            d.holds_root = r;
        }
    }

    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    pub fn device(&self, name: &str) -> Option<&BlockDevice> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// The /sys/block device or partition with this `major:minor`.
    pub fn name_of_dev(&self, dev: &str) -> Option<&str> {
        self.nodes
            .iter()
            .find(|(_, n)| n.dev == dev)
            .map(|(k, _)| k.as_str())
    }

    /// Map a mount (or swap) source to a node name: by `major:minor` first, then by path.
    fn node_of_mount(&self, m: &Mount) -> Option<String> {
        self.name_of_dev(&m.dev)
            .map(String::from)
            .or_else(|| self.node_of_path(&m.source))
    }

    /// `/dev/sda1`, `/dev/mapper/vg-lv`, `/dev/dm-0` → node name.
    pub fn node_of_path(&self, p: &str) -> Option<String> {
        // mountinfo and /proc/swaps speak of the real /dev; a fixture tree has its own root.
        let dev = self.roots.dev.to_string_lossy().into_owned();
        let rel = p
            .strip_prefix("/dev/")
            .or_else(|| p.strip_prefix(dev.as_str()))?
            .trim_start_matches('/');
        if let Some(dm) = rel.strip_prefix("mapper/") {
            return self.dm_names.get(dm).cloned();
        }
        let name = match std::fs::canonicalize(self.roots.dev.join(rel)) {
            Ok(real) => real
                .file_name()
                .and_then(|n| n.to_str())
                .map(String::from)?,
            Err(_) => Path::new(rel).file_name()?.to_str()?.to_string(),
        };
        self.nodes.contains_key(&name).then_some(name)
    }

    /// `name`, its partitions and everything stacked on them, recursively.
    pub fn closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            if !seen.insert(n.clone()) {
                continue;
            }
            if let Some(node) = self.nodes.get(&n) {
                todo.extend(node.holders.iter().cloned());
                todo.extend(node.parts.iter().cloned());
            }
        }
        seen
    }

    /// Holders of `name` in teardown order: every holder comes after the ones stacked on it
    /// (top of the stack first), each once.
    pub fn holders_top_down(&self, name: &str) -> Vec<String> {
        fn visit(sys: &System, n: &str, out: &mut Vec<String>, on_path: &mut BTreeSet<String>) {
            let Some(node) = sys.nodes.get(n) else { return };
            if !on_path.insert(n.to_string()) {
                return; // a cycle would be a sysfs bug; do not loop
            }
            let mut direct: Vec<String> = node.holders.clone();
            for p in &node.parts {
                if let Some(pn) = sys.nodes.get(p) {
                    direct.extend(pn.holders.iter().cloned());
                }
            }
            for h in direct {
                visit(sys, &h, out, on_path);
                if !out.contains(&h) {
                    out.push(h);
                }
            }
            on_path.remove(n);
        }
        let mut out = Vec::new();
        visit(self, name, &mut out, &mut BTreeSet::new());
        out
    }

    /// Mounts, swap and root use of `name` and everything in its closure.
    pub fn usage(&self, name: &str) -> Usage {
        let set = self.closure(name);
        let mut u = Usage::default();
        for m in &self.mounts {
            if let Some(n) = self.node_of_mount(m) {
                if set.contains(&n) {
                    u.mounts.push(m.mount_point.clone());
                    u.mount_details.push((n, m.mount_point.clone()));
                }
            }
        }
        for s in &self.swaps {
            if let Some(n) = self.node_of_path(s) {
                if set.contains(&n) {
                    u.swap.push(s.clone());
                }
            }
        }
        u.holds_root = self.root_dev.as_ref().is_some_and(|r| set.contains(r));
        u
    }

    /// Loop devices whose backing file is `file` (same device and inode when it can be
    /// checked, else the same path).
    pub fn loops_backed_by(&self, file: &Path) -> Vec<&BlockDevice> {
        use std::os::unix::fs::MetadataExt;
        let want = std::fs::metadata(file).ok().map(|m| (m.dev(), m.ino()));
        let canon = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        self.devices
            .iter()
            .filter(|d| {
                let Some(b) = &d.loop_backing else {
                    return false;
                };
                let bf = b.file.trim_end_matches(" (deleted)");
                let same_inode = std::fs::metadata(bf)
                    .ok()
                    .map(|m| (m.dev(), m.ino()))
                    .zip(want)
                    .is_some_and(|(a, b)| a == b);
                same_inode || Path::new(bf) == canon
            })
            .collect()
    }
}

/// How a device (with its partitions and holders) is in use right now.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub mounts: Vec<String>,
    /// (device name, mount point) for messages.
    pub mount_details: Vec<(String, String)>,
    pub swap: Vec<String>,
    pub holds_root: bool,
}

impl Usage {
    pub fn in_use(&self) -> bool {
        !self.mounts.is_empty() || !self.swap.is_empty() || self.holds_root
    }
}

/// Read the host's sysfs (for callers that do not inject roots).
pub fn scan_host() -> Result<System> {
    System::scan(&Roots::host()).context("reading block devices from /sys")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        assert_eq!(DeviceKind::of("sda"), DeviceKind::Disk);
        assert_eq!(DeviceKind::of("nvme0n1"), DeviceKind::Disk);
        assert_eq!(DeviceKind::of("loop3"), DeviceKind::Loop);
        assert_eq!(DeviceKind::of("zram0"), DeviceKind::Zram);
        assert_eq!(DeviceKind::of("ram0"), DeviceKind::Ram);
        assert_eq!(DeviceKind::of("dm-1"), DeviceKind::Dm);
        assert_eq!(DeviceKind::of("md127"), DeviceKind::Md);
        assert_eq!(DeviceKind::of("sr0"), DeviceKind::Optical);
    }

    #[test]
    fn transport_and_hctl_from_device_path() {
        let p = Path::new(
            "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda",
        );
        assert_eq!(transport_of(p, "sda").as_deref(), Some("sata"));
        assert_eq!(
            hctl_of(Path::new("/nonexistent"), p).as_deref(),
            Some("0:0:0:0")
        );
        let v = Path::new("/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda");
        assert_eq!(transport_of(v, "vda").as_deref(), Some("virtio"));
        assert_eq!(hctl_of(Path::new("/nonexistent"), v), None);
        let sas = Path::new(
            "/sys/devices/pci0000:00/0000:00:03.0/0000:02:00.0/host7/port-7:0/end_device-7:0/target7:0:0/7:0:0:0/block/sdf",
        );
        assert_eq!(transport_of(sas, "sdf").as_deref(), Some("sas"));
        let vscsi = Path::new(
            "/sys/devices/pci0000:00/0000:00:05.0/virtio3/host2/target2:0:0/2:0:0:0/block/sdb",
        );
        assert_eq!(transport_of(vscsi, "sdb").as_deref(), Some("scsi"));
        let nv = Path::new("/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1");
        assert_eq!(transport_of(nv, "nvme0n1").as_deref(), Some("nvme"));
    }

    #[test]
    fn wwn_parts_as_udev_splits_them() {
        let p = wwn_parts("naa.600508b1001c4d5e6f7a8b9c0d1e2f30");
        assert_eq!(p.wwn.as_deref(), Some("0x600508b1001c4d5e"));
        assert_eq!(
            p.with_extension.as_deref(),
            Some("0x600508b1001c4d5e6f7a8b9c0d1e2f30")
        );
        assert_eq!(p.vendor_extension.as_deref(), Some("0x6f7a8b9c0d1e2f30"));
        let a = wwn_parts("naa.5000C5007A1B2C3D");
        assert_eq!(a.wwn, a.with_extension);
        assert_eq!(a.wwn.as_deref(), Some("0x5000c5007a1b2c3d"));
        assert_eq!(a.vendor_extension, None);
        assert_eq!(wwn_parts("eui.0025385b71b0a1c2"), WwnParts::default());
        assert_eq!(wwn_parts("t10.ATA     QEMU HARDDISK"), WwnParts::default());
    }
}
