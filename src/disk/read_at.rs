//! Reading a few bytes at an offset of untrusted input: a disk, an image file, an image's
//! head already in memory, or a window on one of these (a partition). The one helper the
//! partition-table, signature and superblock readers share.

use std::io;
use std::os::unix::fs::FileExt;

pub trait ReadAt {
    /// `len` bytes at `off`: `Ok(None)` when they are not all there (the input is shorter),
    /// `Err` when reading fails.
    fn read_bytes_at(&self, off: u64, len: usize) -> io::Result<Option<Vec<u8>>>;

    /// `read_bytes_at` for the tolerant readers, to which a failed read is as good as bytes
    /// that are not there.
    fn bytes_at(&self, off: u64, len: usize) -> Option<Vec<u8>> {
        self.read_bytes_at(off, len).ok().flatten()
    }
}

impl ReadAt for std::fs::File {
    fn read_bytes_at(&self, off: u64, len: usize) -> io::Result<Option<Vec<u8>>> {
        let mut b = vec![0u8; len];
        match self.read_exact_at(&mut b, off) {
            Ok(()) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl ReadAt for [u8] {
    fn read_bytes_at(&self, off: u64, len: usize) -> io::Result<Option<Vec<u8>>> {
        let Ok(start) = usize::try_from(off) else {
            return Ok(None);
        };
        Ok(start
            .checked_add(len)
            .and_then(|end| self.get(start..end))
            .map(<[u8]>::to_vec))
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_bytes_at(&self, off: u64, len: usize) -> io::Result<Option<Vec<u8>>> {
        (**self).read_bytes_at(off, len)
    }
}

/// A read-only view of `[start, start+len)` of a device or file: a partition without a
/// partition device node. Bytes past its end are not there.
pub struct Window<R> {
    inner: R,
    start: u64,
    len: u64,
}

impl<R: ReadAt> Window<R> {
    pub fn new(inner: R, start: u64, len: u64) -> Self {
        Window { inner, start, len }
    }
}

impl<R: ReadAt> ReadAt for Window<R> {
    fn read_bytes_at(&self, off: u64, len: usize) -> io::Result<Option<Vec<u8>>> {
        let inside = off
            .checked_add(len as u64)
            .is_some_and(|end| end <= self.len);
        match self.start.checked_add(off) {
            Some(at) if inside => self.inner.read_bytes_at(at, len),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_none_not_an_error() {
        let f = tempfile::tempfile().unwrap();
        f.set_len(100).unwrap();
        assert_eq!(f.read_bytes_at(90, 10).unwrap(), Some(vec![0; 10]));
        assert_eq!(f.read_bytes_at(90, 11).unwrap(), None);
        let b = [1u8, 2, 3];
        assert_eq!(b[..].read_bytes_at(1, 2).unwrap(), Some(vec![2, 3]));
        assert_eq!(b[..].read_bytes_at(2, 2).unwrap(), None);
        assert_eq!(b[..].read_bytes_at(u64::MAX, 2).unwrap(), None);
    }

    #[test]
    fn a_window_ends_where_the_partition_ends() {
        let disk: Vec<u8> = (0..=255).collect();
        let w = Window::new(&disk[..], 16, 100);
        assert_eq!(w.read_bytes_at(0, 2).unwrap(), Some(vec![16, 17]));
        assert_eq!(w.read_bytes_at(0, 100).unwrap().map(|b| b.len()), Some(100));
        assert_eq!(w.read_bytes_at(0, 101).unwrap(), None);
        assert_eq!(w.read_bytes_at(100, 1).unwrap(), None);
        assert_eq!(w.read_bytes_at(u64::MAX, 1).unwrap(), None);
    }
}
