//! Bootloader: extlinux install, extlinux.conf, syslinux MBR code.
//!
//! For image_kind=rootfs (bootloader=auto or extlinux) the filesystem in partition 1 gets
//! extlinux and a configuration with `root=UUID=` of that filesystem, the disk gets syslinux's
//! `mbr.bin` (`gptmbr.bin` for GPT) in its first 440 bytes, and partition 1 is marked active.
//! For image_kind=disk, `auto` leaves the image's own boot code alone; `extlinux` does the same
//! on the image's boot partition, keeping the image's own `root=` unless it is a live one.

pub mod conf;
pub mod extlinux;
pub mod fsprobe;
pub mod kexec;
pub mod locate;
pub mod mount;
pub mod partdev;
pub mod sysroot;

use crate::disk::Target;
use crate::layout::{self, PartitionTable, RootfsLayout};
use crate::machine::Machine;
use crate::report::Events;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

/// What the bootloader stage does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootAction {
    /// A disk image keeps its own boot code (bootloader=auto).
    KeepImages,
    /// bootloader=none: nothing is touched.
    None,
    /// extlinux on the root (or boot) partition and syslinux's MBR code.
    Extlinux,
}

impl BootAction {
    pub fn describe(self) -> &'static str {
        match self {
            BootAction::KeepImages => "keep the image's own boot code",
            BootAction::None => "none",
            BootAction::Extlinux => "extlinux + syslinux MBR",
        }
    }
}

/// The bootloader stage's part of the plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BootPlan {
    pub action: BootAction,
    /// The extlinux binary.
    pub extlinux: PathBuf,
    /// Directory holding syslinux's mbr.bin and gptmbr.bin.
    pub syslinux_mbr_dir: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_kargs: Option<String>,
}

/// What the stages after the write share: the disk written and what was put on it.
pub struct PostInstall<'a> {
    pub target: &'a Target,
    /// `Some` for image_kind=rootfs: the layout rdinstall created.
    pub layout: Option<&'a RootfsLayout>,
    pub machine: &'a Machine,
    pub install_id: &'a str,
    pub events: &'a Events,
}

/// Preflight (touches nothing): the extlinux binary and the boot code the bootloader stage
/// will need are there. `table` is the table rdinstall will create (rootfs images); `None`
/// for a disk image, whose table kind is known only after the write: both files are checked.
pub fn check(b: &BootPlan, table: Option<PartitionTable>) -> Result<()> {
    if b.action != BootAction::Extlinux {
        return Ok(());
    }
    if find_program(&b.extlinux).is_none() {
        bail!(
            "bootloader: extlinux binary {} not found (set extlinux=PATH, or bootloader=none)",
            b.extlinux.display()
        );
    }
    let gpt = match table {
        Some(t) => vec![t == PartitionTable::Gpt],
        None => vec![false, true],
    };
    for g in gpt {
        extlinux::read_mbr_code(&extlinux::mbr_code_path(&b.syslinux_mbr_dir, g))?;
    }
    Ok(())
}

/// `name` as given when it has a slash, else looked up in PATH.
fn find_program(name: &Path) -> Option<std::path::PathBuf> {
    if name.components().count() > 1 {
        return name.is_file().then(|| name.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Stage `bootloader`: install extlinux + MBR code where asked (bootloader=auto|extlinux|none).
pub fn install(p: &PostInstall, b: &BootPlan) -> Result<()> {
    let ev = p.events;
    match b.action {
        BootAction::Extlinux => {}
        BootAction::None => {
            ev.info("bootloader=none: boot code and configuration left as they are");
            return Ok(());
        }
        BootAction::KeepImages => {
            ev.info("bootloader=auto: the disk image keeps its own boot code");
            return Ok(());
        }
    }
    p.target.check_same()?;
    let disk = p.target.dev_path.as_path();
    let table = layout::read_table_at(disk)?;
    let code = extlinux::read_mbr_code(&extlinux::mbr_code_path(
        &b.syslinux_mbr_dir,
        table.kind == PartitionTable::Gpt,
    ))?;
    let (part, policy) = match p.layout {
        Some(l) => (locate::rootfs_partition(l), conf::RootPolicy::Replace),
        None => (
            locate::find_boot(disk, &table, ev)?.0,
            conf::RootPolicy::KeepImages,
        ),
    };
    ev.info(format!(
        "bootloader: installing extlinux on partition {} of {}",
        part.number,
        disk.display()
    ));
    let m = mount::MountedFs::mount(disk, &part, false)?;
    let root_uuid = if p.layout.is_some() || mount::has_root_layout(m.root()) {
        m.info.uuid.clone()
    } else {
        // A separate /boot: the kernel's root is elsewhere on the disk.
        locate::find_root(disk, &table, None, ev)?.1.uuid
    };
    let modules = extlinux::modules_dir_for(&b.syslinux_mbr_dir);
    let done = extlinux::ExtlinuxJob {
        root: m.root(),
        root_uuid: &root_uuid,
        policy,
        extra_kargs: b.extra_kargs.as_deref(),
        extlinux: &b.extlinux,
        modules_dir: modules.as_deref(),
        events: ev,
    }
    .run()?;
    m.unmount()?;
    ev.info(format!(
        "bootloader: extlinux installed in /{} of partition {}",
        done.dir.display(),
        part.number
    ));

    extlinux::write_mbr_code(disk, &code)?;
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(disk)
        .with_context(|| format!("cannot open {}", disk.display()))?;
    layout::set_bootable(&f, &table, part.number)
        .with_context(|| format!("marking partition {} bootable", part.number))?;
    ev.info(format!(
        "bootloader: syslinux {} written to {}, partition {} marked bootable",
        if table.kind == PartitionTable::Gpt {
            "gptmbr.bin"
        } else {
            "mbr.bin"
        },
        disk.display(),
        part.number
    ));
    Ok(())
}
