//! Block-device ioctls through nix. Numbers from <linux/fs.h>.

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
