//! Device-mapper through its ioctls on `/dev/mapper/control` (no `dmsetup`, no `lvm`).
//!
//! Layout of `struct dm_ioctl` from <linux/dm-ioctl.h> (interface version 4):
//!
//! | offset | field |
//! | --- | --- |
//! | 0 | `__u32 version[3]` — what we speak; the kernel answers with its own |
//! | 12 | `__u32 data_size` — bytes of the whole buffer, this struct included |
//! | 16 | `__u32 data_start` — where the payload starts (after this struct) |
//! | 20 | `__u32 target_count` |
//! | 24 | `__s32 open_count` (out) |
//! | 28 | `__u32 flags` |
//! | 32 | `__u32 event_nr` (udev cookie on input for remove) |
//! | 36 | `__u32 padding` |
//! | 40 | `__u64 dev` |
//! | 48 | `char name[128]` |
//! | 176 | `char uuid[129]` |
//! | 305 | `char data[7]` |
//!
//! sizeof = 312. Every command is `_IOWR(0xfd, CMD, struct dm_ioctl)`; DM_DEV_REMOVE is
//! command 4, DM_DEV_SUSPEND 6 (resumes without DM_SUSPEND_FLAG), DM_DEV_STATUS 7,
//! DM_TABLE_LOAD 9 (the payload after the struct: `struct dm_target_spec` — `__u64
//! sector_start, length; __s32 status; __u32 next; char target_type[16]` — then the
//! target's parameters, NUL-terminated). The kernel rejects a major version other than 4
//! and a minor newer than its own, so we send 4.0.0.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

pub const DM_NAME_LEN: usize = 128;
pub const DM_UUID_LEN: usize = 129;
pub const DM_IOCTL: u8 = 0xfd;
pub const DM_VERSION_CMD: u8 = 0;
pub const DM_DEV_REMOVE_CMD: u8 = 4;
pub const DM_DEV_SUSPEND_CMD: u8 = 6;
pub const DM_DEV_STATUS_CMD: u8 = 7;
pub const DM_TABLE_LOAD_CMD: u8 = 9;
/// In `flags`: the device is suspended (status), or suspend rather than resume (suspend).
pub const DM_SUSPEND_FLAG: u32 = 1 << 1;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct DmIoctl {
    pub version: [u32; 3],
    pub data_size: u32,
    pub data_start: u32,
    pub target_count: u32,
    pub open_count: i32,
    pub flags: u32,
    pub event_nr: u32,
    pub padding: u32,
    pub dev: u64,
    pub name: [u8; DM_NAME_LEN],
    pub uuid: [u8; DM_UUID_LEN],
    pub data: [u8; 7],
}

impl DmIoctl {
    /// A request for the device called `name` (a `/dev/mapper/` name, e.g. `vg0-root`).
    pub fn for_name(name: &str) -> Result<DmIoctl> {
        if name.is_empty() || name.len() >= DM_NAME_LEN || name.contains('/') {
            bail!("invalid device-mapper name {name:?}");
        }
        let mut io = DmIoctl {
            version: [4, 0, 0],
            data_size: std::mem::size_of::<DmIoctl>() as u32,
            data_start: std::mem::size_of::<DmIoctl>() as u32,
            target_count: 0,
            open_count: 0,
            flags: 0,
            event_nr: 0,
            padding: 0,
            dev: 0,
            name: [0; DM_NAME_LEN],
            uuid: [0; DM_UUID_LEN],
            data: [0; 7],
        };
        io.name[..name.len()].copy_from_slice(name.as_bytes());
        Ok(io)
    }
}

/// `_IOWR(0xfd, cmd, struct dm_ioctl)`.
#[allow(clippy::unnecessary_cast)] // c_ulong on glibc, c_int on musl
const fn request(cmd: u8) -> u64 {
    nix::request_code_readwrite!(DM_IOCTL, cmd, std::mem::size_of::<DmIoctl>()) as u64
}

/// The request numbers, public so tests can compare them with the C headers.
pub const DM_DEV_REMOVE: u64 = request(DM_DEV_REMOVE_CMD);
pub const DM_DEV_STATUS: u64 = request(DM_DEV_STATUS_CMD);
pub const DM_DEV_SUSPEND: u64 = request(DM_DEV_SUSPEND_CMD);
pub const DM_TABLE_LOAD: u64 = request(DM_TABLE_LOAD_CMD);

nix::ioctl_readwrite!(dm_dev_remove, DM_IOCTL, DM_DEV_REMOVE_CMD, DmIoctl);
nix::ioctl_readwrite!(dm_dev_status, DM_IOCTL, DM_DEV_STATUS_CMD, DmIoctl);
nix::ioctl_readwrite!(dm_dev_suspend, DM_IOCTL, DM_DEV_SUSPEND_CMD, DmIoctl);
nix::ioctl_readwrite!(dm_table_load, DM_IOCTL, DM_TABLE_LOAD_CMD, DmIoctl);

#[repr(C)]
#[derive(Clone, Copy)]
pub struct DmTargetSpec {
    pub sector_start: u64,
    pub length: u64,
    pub status: i32,
    pub next: u32,
    pub target_type: [u8; 16],
}

/// DM_TABLE_LOAD's buffer for a one-target table of type "error" (no parameters).
#[repr(C)]
struct ErrorTable {
    io: DmIoctl,
    spec: DmTargetSpec,
    params: [u8; 8],
}

/// The control node; created by devtmpfs when dm-mod is loaded.
pub const CONTROL: &str = "/dev/mapper/control";

fn open_control() -> Result<File> {
    // A /dev without udev may lack the node although dm-mod is loaded: make it from the
    // misc device's number, as `dmsetup mknodes` would.
    if !Path::new(CONTROL).exists() {
        if let Ok(dev) = std::fs::read_to_string("/sys/class/misc/device-mapper/dev") {
            let _ = std::fs::create_dir_all("/dev/mapper");
            let _ = super::ioctl::mknod_char_or_block(Path::new(CONTROL), dev.trim(), false);
        }
    }
    File::open(CONTROL).with_context(|| {
        format!(
            "cannot open {CONTROL} to remove device-mapper devices (is dm-mod loaded and devtmpfs mounted on /dev?)"
        )
    })
}

/// How many openers a mapped device has (its holders, mounts, processes).
pub fn open_count(name: &str) -> Result<i32> {
    Ok(status(&open_control()?, name)?.open_count)
}

/// DM_DEV_STATUS of `name`.
fn status(ctl: &File, name: &str) -> Result<DmIoctl> {
    let mut io = DmIoctl::for_name(name)?;
    unsafe { dm_dev_status(ctl.as_raw_fd(), &mut io) }
        .with_context(|| format!("device-mapper status of {name} failed"))?;
    Ok(io)
}

/// What `dmsetup remove --force` does, for a device left suspended (an interrupted lvm
/// operation): whoever has it open is stuck in I/O that will never complete, so it never
/// closes it. An "error" table is loaded and the device resumed: the stuck I/O fails, the
/// openers let go, and the device can be removed. Only for suspended devices: an active
/// one that is busy is in use by someone who may still finish and close it.
fn fail_stuck_io(ctl: &File, name: &str, sectors: u64) -> Result<()> {
    let mut t = ErrorTable {
        io: DmIoctl::for_name(name)?,
        spec: DmTargetSpec {
            sector_start: 0,
            length: sectors,
            status: 0,
            next: 0,
            target_type: [0; 16],
        },
        params: [0; 8],
    };
    t.spec.target_type[..5].copy_from_slice(b"error");
    t.io.data_size = std::mem::size_of::<ErrorTable>() as u32;
    t.io.target_count = 1;
    // The ioctl takes the header; data_size tells the kernel the payload follows it.
    unsafe { dm_table_load(ctl.as_raw_fd(), &mut t.io as *mut DmIoctl) }
        .with_context(|| format!("loading an error table into {name} failed"))?;
    let mut io = DmIoctl::for_name(name)?;
    unsafe { dm_dev_suspend(ctl.as_raw_fd(), &mut io) }
        .with_context(|| format!("resuming {name} with an error table failed"))?;
    Ok(())
}

/// DM_DEV_REMOVE `name`; retried briefly while it is busy (udev probing it right after a
/// change holds it open for a moment). A device left suspended with I/O stuck on it is
/// first switched to an error table (see `fail_stuck_io`); `sectors` is its size. Returns
/// whether that was needed.
pub fn remove(name: &str, sectors: u64) -> Result<bool> {
    let ctl = open_control()?;
    let mut forced = false;
    if let Ok(st) = status(&ctl, name) {
        if st.flags & DM_SUSPEND_FLAG != 0 && st.open_count > 0 {
            fail_stuck_io(&ctl, name, sectors)
                .with_context(|| format!("device-mapper device {name} is suspended and in use"))?;
            forced = true;
        }
    }
    let mut last = nix::errno::Errno::EBUSY;
    for attempt in 0..8 {
        let mut io = DmIoctl::for_name(name)?;
        match unsafe { dm_dev_remove(ctl.as_raw_fd(), &mut io) } {
            Ok(_) => return Ok(forced),
            // Already gone (removed by someone else between scan and now).
            Err(nix::errno::Errno::ENXIO) => return Ok(forced),
            Err(e @ nix::errno::Errno::EBUSY) => {
                last = e;
                std::thread::sleep(std::time::Duration::from_millis(50 << attempt.min(4)));
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("removing device-mapper device {name} failed"))
            }
        }
    }
    let opens = open_count(name)
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(last).with_context(|| {
        format!(
            "device-mapper device {name} is busy (open count {opens}): something still uses it (a mount, swap or a process); stop that first"
        )
    })
}

/// The mapped name of `dm-N` from sysfs (`/sys/block/dm-N/dm/name`).
pub fn name_of(sys: &Path, kernel_name: &str) -> Result<String> {
    let p = sys.join("block").join(kernel_name).join("dm/name");
    Ok(std::fs::read_to_string(&p)
        .with_context(|| format!("cannot read {}", p.display()))?
        .trim()
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn struct_layout_matches_linux_dm_ioctl_h() {
        assert_eq!(size_of::<DmIoctl>(), 312);
        assert_eq!(offset_of!(DmIoctl, data_size), 12);
        assert_eq!(offset_of!(DmIoctl, data_start), 16);
        assert_eq!(offset_of!(DmIoctl, open_count), 24);
        assert_eq!(offset_of!(DmIoctl, flags), 28);
        assert_eq!(offset_of!(DmIoctl, event_nr), 32);
        assert_eq!(offset_of!(DmIoctl, dev), 40);
        assert_eq!(offset_of!(DmIoctl, name), 48);
        assert_eq!(offset_of!(DmIoctl, uuid), 176);
        assert_eq!(offset_of!(DmIoctl, data), 305);
        // struct dm_target_spec right after the header (312 is 8-aligned).
        assert_eq!(size_of::<DmTargetSpec>(), 40);
        assert_eq!(offset_of!(DmTargetSpec, next), 20);
        assert_eq!(offset_of!(DmTargetSpec, target_type), 24);
        assert_eq!(offset_of!(ErrorTable, spec), 312);
        assert_eq!(offset_of!(ErrorTable, params), 352);
    }

    #[test]
    fn request_numbers() {
        // _IOWR(0xfd, 4, struct dm_ioctl): dir 3 << 30 | size 312 << 16 | 0xfd << 8 | 4
        assert_eq!(
            nix::request_code_readwrite!(DM_IOCTL, DM_DEV_REMOVE_CMD, size_of::<DmIoctl>()),
            0xc138_fd04
        );
        assert_eq!(
            nix::request_code_readwrite!(DM_IOCTL, DM_DEV_STATUS_CMD, size_of::<DmIoctl>()),
            0xc138_fd07
        );
        assert_eq!(
            nix::request_code_readwrite!(DM_IOCTL, DM_DEV_SUSPEND_CMD, size_of::<DmIoctl>()),
            0xc138_fd06
        );
        assert_eq!(
            nix::request_code_readwrite!(DM_IOCTL, DM_TABLE_LOAD_CMD, size_of::<DmIoctl>()),
            0xc138_fd09
        );
    }

    #[test]
    fn name_is_nul_terminated_and_checked() {
        let io = DmIoctl::for_name("vg0-root").unwrap();
        assert_eq!(&io.name[..9], b"vg0-root\0");
        assert_eq!(io.version, [4, 0, 0]);
        assert_eq!(io.data_size, 312);
        assert!(DmIoctl::for_name(&"x".repeat(128)).is_err());
        assert!(DmIoctl::for_name("a/b").is_err());
    }
}
