//! Block-device ioctls through nix (numbers from <linux/fs.h> and <linux/loop.h>), and the
//! device nodes they are issued on: the one place that talks to the block layer this way.

use std::os::fd::AsRawFd;

/// Request numbers, public so tests can compare them with <linux/fs.h>.
#[allow(clippy::unnecessary_cast)] // c_ulong on glibc, c_int on musl
pub const BLKDISCARD: u64 = nix::request_code_none!(0x12, 119) as u64;
#[allow(clippy::unnecessary_cast)] // c_ulong on glibc, c_int on musl
pub const BLKZEROOUT: u64 = nix::request_code_none!(0x12, 127) as u64;
#[allow(clippy::unnecessary_cast)] // c_ulong on glibc, c_int on musl
pub const BLKRRPART: u64 = nix::request_code_none!(0x12, 95) as u64;
#[allow(clippy::unnecessary_cast)] // c_ulong on glibc, c_int on musl
pub const BLKGETSIZE64: u64 = nix::request_code_read!(0x12, 114, 8) as u64;

nix::ioctl_read!(blkgetsize64, 0x12, 114, u64);
nix::ioctl_read_bad!(blksszget, libc::BLKSSZGET, libc::c_int);
nix::ioctl_read_bad!(blkpbszget, libc::BLKPBSZGET, libc::c_uint);
nix::ioctl_none!(blkrrpart, 0x12, 95);
// BLKDISCARD and BLKZEROOUT are `_IO(0x12, 119)` / `_IO(0x12, 127)` in <linux/fs.h>: no
// size or direction in the number although they take a `uint64_t[2]`, hence the `_bad`.
nix::ioctl_write_ptr_bad!(blkdiscard, nix::request_code_none!(0x12, 119), [u64; 2]);
nix::ioctl_write_ptr_bad!(blkzeroout, nix::request_code_none!(0x12, 127), [u64; 2]);
nix::ioctl_read_bad!(blkroget, nix::request_code_none!(0x12, 94), libc::c_int);
nix::ioctl_none!(blkflsbuf, 0x12, 97);

// <linux/loop.h>: these are "bad" ioctls (no size/direction encoded in the number).
const LOOP_SET_FD: u64 = 0x4C00;
const LOOP_CLR_FD: u64 = 0x4C01;
const LOOP_SET_STATUS64: u64 = 0x4C04;
const LOOP_CTL_GET_FREE: u64 = 0x4C82;
/// Detach the loop device when its last user closes it.
pub const LO_FLAGS_AUTOCLEAR: u32 = 4;
pub const LO_NAME_SIZE: usize = 64;

nix::ioctl_write_int_bad!(loop_set_fd, LOOP_SET_FD);
nix::ioctl_none_bad!(loop_clr_fd, LOOP_CLR_FD);
nix::ioctl_write_ptr_bad!(loop_set_status64, LOOP_SET_STATUS64, LoopInfo64);
nix::ioctl_none_bad!(loop_ctl_get_free, LOOP_CTL_GET_FREE);

/// `struct loop_info64` from <linux/loop.h>.
#[repr(C)]
pub struct LoopInfo64 {
    pub lo_device: u64,
    pub lo_inode: u64,
    pub lo_rdevice: u64,
    pub lo_offset: u64,
    pub lo_sizelimit: u64,
    pub lo_number: u32,
    pub lo_encrypt_type: u32,
    pub lo_encrypt_key_size: u32,
    pub lo_flags: u32,
    pub lo_file_name: [u8; LO_NAME_SIZE],
    pub lo_crypt_name: [u8; LO_NAME_SIZE],
    pub lo_encrypt_key: [u8; 32],
    pub lo_init: [u64; 2],
}

impl LoopInfo64 {
    /// A window of `size` bytes at `offset`, detached on last close, named `name` (as
    /// `losetup -l` shows it; truncated like losetup does).
    pub fn window(offset: u64, size: u64, name: &[u8]) -> LoopInfo64 {
        let mut info = LoopInfo64 {
            lo_device: 0,
            lo_inode: 0,
            lo_rdevice: 0,
            lo_offset: offset,
            lo_sizelimit: size,
            lo_number: 0,
            lo_encrypt_type: 0,
            lo_encrypt_key_size: 0,
            lo_flags: LO_FLAGS_AUTOCLEAR,
            lo_file_name: [0; LO_NAME_SIZE],
            lo_crypt_name: [0; LO_NAME_SIZE],
            lo_encrypt_key: [0; 32],
            lo_init: [0; 2],
        };
        let n = name.len().min(LO_NAME_SIZE - 1);
        info.lo_file_name[..n].copy_from_slice(&name[..n]);
        info
    }
}

/// Size in bytes of a block device.
pub fn size_bytes(f: &impl AsRawFd) -> std::io::Result<u64> {
    let mut n = 0u64;
    unsafe { blkgetsize64(f.as_raw_fd(), &mut n) }?;
    Ok(n)
}

pub fn logical_sector_size(f: &impl AsRawFd) -> std::io::Result<u32> {
    let mut n: libc::c_int = 0;
    unsafe { blksszget(f.as_raw_fd(), &mut n) }?;
    Ok(n as u32)
}

pub fn read_only(f: &impl AsRawFd) -> std::io::Result<bool> {
    let mut n: libc::c_int = 0;
    unsafe { blkroget(f.as_raw_fd(), &mut n) }?;
    Ok(n != 0)
}

/// BLKRRPART, retried while the kernel says EBUSY (udev may hold the device briefly).
pub fn reread_partition_table(f: &impl AsRawFd) -> std::io::Result<()> {
    let mut last = None;
    for attempt in 0..10 {
        match unsafe { blkrrpart(f.as_raw_fd()) } {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EBUSY) => {
                last = Some(nix::errno::Errno::EBUSY);
                std::thread::sleep(std::time::Duration::from_millis(100 << attempt.min(4)));
            }
            // Loop devices without partition scanning and some virtual disks say EINVAL:
            // there is nothing for the kernel to re-read, which is not a failure.
            Err(nix::errno::Errno::EINVAL) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Err(std::io::Error::from(
        last.unwrap_or(nix::errno::Errno::EBUSY),
    ))
}

/// BLKZEROOUT over [start, start+len): the device guarantees zeroes afterwards.
pub fn zero_out(f: &impl AsRawFd, start: u64, len: u64) -> std::io::Result<()> {
    let range = [start, len];
    unsafe { blkzeroout(f.as_raw_fd(), &range) }?;
    Ok(())
}

/// BLKDISCARD over [start, start+len).
pub fn discard(f: &impl AsRawFd, start: u64, len: u64) -> std::io::Result<()> {
    let range = [start, len];
    unsafe { blkdiscard(f.as_raw_fd(), &range) }?;
    Ok(())
}

/// BLKFLSBUF: drop the device's buffer cache (after writing it back).
pub fn flush_buffer_cache(f: &impl AsRawFd) -> std::io::Result<()> {
    unsafe { blkflsbuf(f.as_raw_fd()) }?;
    Ok(())
}

/// LOOP_CTL_GET_FREE on /dev/loop-control: the number of a free loop device.
pub fn loop_get_free(ctl: &impl AsRawFd) -> nix::Result<i32> {
    unsafe { loop_ctl_get_free(ctl.as_raw_fd()) }
}

/// LOOP_SET_FD: make `lo` read and write `backing`. EBUSY when the device is taken.
pub fn loop_attach(lo: &impl AsRawFd, backing: &impl AsRawFd) -> nix::Result<()> {
    unsafe { loop_set_fd(lo.as_raw_fd(), backing.as_raw_fd()) }.map(drop)
}

/// LOOP_SET_STATUS64: offset, size limit, flags and name of an attached loop device.
pub fn loop_set_status(lo: &impl AsRawFd, info: &LoopInfo64) -> nix::Result<()> {
    unsafe { loop_set_status64(lo.as_raw_fd(), info) }.map(drop)
}

/// LOOP_CLR_FD: detach a loop device (EBUSY while it is still open elsewhere).
pub fn loop_detach(lo: &impl AsRawFd) -> nix::Result<()> {
    unsafe { loop_clr_fd(lo.as_raw_fd()) }.map(drop)
}

/// Create a device node at `path` for `dev` (`major:minor`, as sysfs `dev` files say): a
/// block device when `block`, else a character device.
pub fn mknod_char_or_block(path: &std::path::Path, dev: &str, block: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let (maj, min) = dev
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .with_context(|| format!("bad device number {dev:?}"))?;
    let kind = if block {
        SFlag::S_IFBLK
    } else {
        SFlag::S_IFCHR
    };
    mknod(
        path,
        kind,
        Mode::from_bits_truncate(0o600),
        makedev(maj, min),
    )
    .with_context(|| format!("mknod {} ({dev}) failed", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    // libc's request type is c_ulong on glibc and c_int on musl: the cast is needed on one.
    #[allow(clippy::unnecessary_cast)]
    fn request_numbers_match_linux_fs_h() {
        assert_eq!(nix::request_code_none!(0x12, 119), 0x1277); // BLKDISCARD
        assert_eq!(nix::request_code_none!(0x12, 127), 0x127f); // BLKZEROOUT
        assert_eq!(nix::request_code_none!(0x12, 95), 0x125f); // BLKRRPART
        assert_eq!(nix::request_code_none!(0x12, 94), 0x125e); // BLKROGET
        assert_eq!(nix::request_code_read!(0x12, 114, 8), 0x8008_1272); // BLKGETSIZE64
        assert_eq!(libc::BLKSSZGET as u64, 0x1268);
        assert_eq!(libc::BLKPBSZGET as u64, 0x127b);
    }
}
