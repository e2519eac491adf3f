//! The block writer: decoded bytes → target, in large aligned chunks, with the image's first
//! MiB held back, a hard stop at the target's capacity, and safe zero skipping.
//!
//! Decoding runs on its own thread and hands filled buffers over a bounded channel, so memory
//! stays at (channel depth + 2) × CHUNK whatever the image size, and decode and write overlap.

use anyhow::{bail, Context, Result};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes per write: large and aligned (the base offset is MiB-aligned).
pub const CHUNK: usize = 4 << 20;
/// Filled buffers queued between decoder and writer.
const DEPTH: usize = 3;
/// Zero detection granularity; zero runs shorter than this are written.
const ZERO_GRAIN: usize = 64 << 10;
/// Memory and offset alignment for O_DIRECT writes: covers 512- and 4096-byte sectors.
const ALIGN: usize = 4096;
/// The first MiB (partition table, filesystem superblock) is written last.
pub const HOLD_BACK: u64 = 1 << 20;

/// How runs of zeros in the image reach the target. Never assume old data is zero: a skipped
/// run is made zero by a command that guarantees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZeroMode {
    /// Write the zeros like any other data.
    Write,
    /// Regular file: punch a hole (reads back as zeros, takes no space).
    PunchHole,
    /// Block device whose queue offloads write-zeroes: BLKZEROOUT.
    ZeroOut,
}

#[derive(Debug, Clone)]
pub struct WriteSpec {
    /// Where the image starts in the target (0 for a disk image, partition 1 for rootfs).
    pub base: u64,
    /// Most bytes the image may have (disk size, or the root partition's size).
    pub capacity: u64,
    pub zero_mode: ZeroMode,
    /// The target's name for messages.
    pub what: String,
}

#[derive(Debug)]
pub struct Written {
    /// Decoded bytes, including the held-back head.
    pub bytes: u64,
    /// The held-back first bytes; the caller writes them with `write_head` once verified.
    pub head: Vec<u8>,
    /// Bytes skipped as zero runs.
    pub zero_skipped: u64,
}

/// The write stage's output, the target as the writer sees it: opened normally (for
/// everything, and for the final flush), plus, where it is faster, a second descriptor
/// opened with O_DIRECT that takes the aligned bulk of the data (see `open_direct`).
pub struct Output<'a> {
    pub file: &'a File,
    pub direct: Option<File>,
}

/// Opens `target` a second time with O_DIRECT. Measured faster on both kinds of target
/// (bench/RESULTS.md): it skips the copy into the page cache and the kernel's write-back,
/// which on these two cores compete with decoding, and a ramdisk's memory is not filled
/// with dirty pages. `None` where O_DIRECT is refused (tmpfs, some FUSE and network
/// filesystems); writing then goes through the page cache only.
pub fn open_direct(target: &crate::disk::Target) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    target
        .open_checked(
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_DIRECT | libc::O_CLOEXEC),
        )
        .ok()
}

/// A CHUNK-sized buffer whose data starts on an ALIGN boundary, as O_DIRECT requires.
struct Buf {
    mem: Vec<u8>,
    start: usize,
    len: usize,
}

impl Buf {
    fn new() -> Buf {
        let mem = vec![0u8; CHUNK + ALIGN];
        let start = mem.as_ptr().align_offset(ALIGN);
        Buf { mem, start, len: 0 }
    }

    fn space(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.start + CHUNK]
    }

    fn data(&self) -> &[u8] {
        &self.mem[self.start..self.start + self.len]
    }
}

/// Run `decoder` to its end and write everything but the head. `progress(bytes)` is called
/// after every chunk.
pub fn stream(
    decoder: Box<dyn Read + Send>,
    out: &Output<'_>,
    spec: &WriteSpec,
    mut progress: impl FnMut(u64),
) -> Result<Written> {
    let (full_tx, full_rx) = sync_channel::<io::Result<Buf>>(DEPTH);
    let (empty_tx, empty_rx) = sync_channel::<Buf>(DEPTH + 2);
    for _ in 0..DEPTH + 1 {
        let _ = empty_tx.try_send(Buf::new());
    }
    let reader = std::thread::Builder::new()
        .name("decode".into())
        .spawn(move || decode_loop(decoder, full_tx, empty_rx))
        .context("cannot start the decode thread")?;
    let result = write_loop(out, spec, &full_rx, &empty_tx, &mut progress);
    // Unblock and join the decoder whatever happened.
    drop(full_rx);
    drop(empty_tx);
    let _ = reader.join();
    result
}

fn decode_loop(
    mut dec: Box<dyn Read + Send>,
    full: SyncSender<io::Result<Buf>>,
    empty: Receiver<Buf>,
) {
    loop {
        let mut buf = empty.recv().unwrap_or_else(|_| Buf::new());
        let res = fill(&mut dec, buf.space());
        let at_end = matches!(res, Ok(0)) || res.is_err();
        let msg = res.map(|n| {
            buf.len = n;
            buf
        });
        if full.send(msg).is_err() || at_end {
            return;
        }
    }
}

/// Fill `buf` or read to the end of input; returns bytes read.
fn fill(dec: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match dec.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn write_loop(
    out: &Output<'_>,
    spec: &WriteSpec,
    full: &Receiver<io::Result<Buf>>,
    empty: &SyncSender<Buf>,
    progress: &mut dyn FnMut(u64),
) -> Result<Written> {
    let mut pos: u64 = 0;
    let mut head = Vec::new();
    let mut zero_skipped = 0;
    loop {
        let buf = match full.recv() {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("decoding the image failed after {pos} bytes")))
            }
            Err(_) => bail!("the decode thread stopped unexpectedly"),
        };
        if buf.len == 0 {
            break;
        }
        let end = pos + buf.len as u64;
        if end > spec.capacity {
            bail!(
                "the image is larger than {}: it has more than {} bytes, the target holds {}; use a larger disk",
                spec.what,
                spec.capacity,
                spec.capacity
            );
        }
        // Keep the first HOLD_BACK bytes in memory; write the rest.
        let mut data: &[u8] = buf.data();
        let mut at = pos;
        if at < HOLD_BACK {
            let keep = ((HOLD_BACK - at) as usize).min(data.len());
            head.extend_from_slice(&data[..keep]);
            data = &data[keep..];
            at += keep as u64;
        }
        zero_skipped += write_skipping_zeros(out, spec, spec.base + at, data)?;
        pos = end;
        progress(pos);
        let _ = empty.try_send(buf);
    }
    Ok(Written {
        bytes: pos,
        head,
        zero_skipped,
    })
}

fn is_zero(b: &[u8]) -> bool {
    let (pre, mid, post) = unsafe { b.align_to::<u128>() };
    pre.iter().all(|x| *x == 0) && mid.iter().all(|x| *x == 0) && post.iter().all(|x| *x == 0)
}

/// Write `data` at `off`; runs of whole zero grains become holes or zero-out commands when
/// the zero mode allows. Returns bytes skipped.
fn write_skipping_zeros(out: &Output<'_>, spec: &WriteSpec, off: u64, data: &[u8]) -> Result<u64> {
    let ctx = || format!("writing to {} failed", spec.what);
    if spec.zero_mode == ZeroMode::Write || data.is_empty() {
        write_at(out, data, off).with_context(ctx)?;
        return Ok(0);
    }
    let mut skipped = 0;
    let mut run_start = 0; // start of the pending data run
    let mut i = 0;
    while i < data.len() {
        let end = (i + ZERO_GRAIN).min(data.len());
        if end - i == ZERO_GRAIN && is_zero(&data[i..end]) {
            // Extend over following zero grains.
            let mut z_end = end;
            while z_end + ZERO_GRAIN <= data.len() && is_zero(&data[z_end..z_end + ZERO_GRAIN]) {
                z_end += ZERO_GRAIN;
            }
            if run_start < i {
                write_at(out, &data[run_start..i], off + run_start as u64).with_context(ctx)?;
            }
            make_zero(out.file, spec.zero_mode, off + i as u64, (z_end - i) as u64)
                .with_context(|| format!("zeroing a range of {} failed", spec.what))?;
            skipped += (z_end - i) as u64;
            i = z_end;
            run_start = z_end;
        } else {
            i = end;
        }
    }
    if run_start < data.len() {
        write_at(out, &data[run_start..], off + run_start as u64).with_context(ctx)?;
    }
    Ok(skipped)
}

/// Writes `data` at `off`: the aligned part through the O_DIRECT descriptor when there is
/// one, the rest (an image's last partial sector) through the page cache, flushed later.
fn write_at(out: &Output<'_>, data: &[u8], off: u64) -> io::Result<()> {
    let aligned = data.len() & !(ALIGN - 1);
    if let Some(direct) = &out.direct {
        if aligned > 0 && off.is_multiple_of(ALIGN as u64) && data.as_ptr().align_offset(ALIGN) == 0
        {
            match direct.write_all_at(&data[..aligned], off) {
                // A device with stricter alignment needs than ours: write it buffered.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    return out.file.write_all_at(data, off)
                }
                r => r?,
            }
            return out
                .file
                .write_all_at(&data[aligned..], off + aligned as u64);
        }
    }
    out.file.write_all_at(data, off)
}

fn make_zero(f: &File, mode: ZeroMode, off: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    match mode {
        ZeroMode::Write => f.write_all_at(&vec![0u8; len as usize], off),
        ZeroMode::PunchHole => {
            let flags = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
            let r = unsafe { libc::fallocate(f.as_raw_fd(), flags, off as i64, len as i64) };
            if r == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        }
        ZeroMode::ZeroOut => crate::disk::ioctl::zero_out(f, off, len),
    }
}

/// Pick the zero mode a target supports, by trying it on an empty range where needed.
pub fn zero_mode_for(target: &crate::disk::Target, f: &File) -> ZeroMode {
    use crate::disk::TargetKind;
    match target.kind {
        // Punching a hole beyond EOF (KEEP_SIZE) changes nothing visible and tells whether
        // the filesystem supports holes, through the same call the writer makes.
        TargetKind::File => match make_zero(f, ZeroMode::PunchHole, target.size, 4096) {
            Ok(()) => ZeroMode::PunchHole,
            Err(_) => ZeroMode::Write,
        },
        TargetKind::Block => {
            let name = target
                .dev_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let offload = std::fs::read_to_string(format!(
                "/sys/class/block/{name}/queue/write_zeroes_max_bytes"
            ))
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
            if offload > 0 {
                ZeroMode::ZeroOut
            } else {
                ZeroMode::Write
            }
        }
    }
}

/// Write the held-back head and flush everything to stable storage.
pub fn write_head(f: &File, base: u64, head: &[u8], what: &str) -> Result<()> {
    f.write_all_at(head, base)
        .with_context(|| format!("writing the image's first MiB to {what} failed"))?;
    f.sync_all()
        .with_context(|| format!("flushing {what} failed (fsync)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> Vec<u8> {
        let mut v = vec![0u8; 9 << 20];
        for (i, b) in v.iter_mut().enumerate() {
            // Data in most MiBs, zero runs in MiB 3, 4 and half of 6.
            let mib = i >> 20;
            if !(mib == 3 || mib == 4 || (mib == 6 && i & (1 << 19) != 0)) {
                *b = (i % 251) as u8 | 1;
            }
        }
        v
    }

    fn run(zero_mode: ZeroMode, capacity: u64, prefill: u8) -> (Result<Written>, Vec<u8>) {
        run_with(image(), zero_mode, capacity, prefill, false)
    }

    fn run_with(
        data: Vec<u8>,
        zero_mode: ZeroMode,
        capacity: u64,
        prefill: u8,
        direct: bool,
    ) -> (Result<Written>, Vec<u8>) {
        // Not tmpfs (/tmp may be one): O_DIRECT needs a filesystem that supports it.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let p = dir.path().join("t.img");
        std::fs::write(&p, vec![prefill; 12 << 20]).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        let spec = WriteSpec {
            base: 1 << 20,
            capacity,
            zero_mode,
            what: "test".into(),
        };
        let mut last = 0;
        let out = Output {
            file: &f,
            direct: direct.then(|| {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_DIRECT)
                    .open(&p)
                    .expect("O_DIRECT open in the source tree")
            }),
        };
        let r = stream(Box::new(io::Cursor::new(data)), &out, &spec, |b| last = b);
        if let Ok(w) = &r {
            assert_eq!(last, w.bytes);
            write_head(&f, spec.base, &w.head, "test").unwrap();
        }
        (r, std::fs::read(&p).unwrap())
    }

    #[test]
    fn writes_image_at_base_with_head_last() {
        for mode in [ZeroMode::Write, ZeroMode::PunchHole] {
            let (r, disk) = run(mode, 10 << 20, 0xee);
            let w = r.unwrap();
            assert_eq!(w.bytes, 9 << 20);
            assert_eq!(w.head.len(), 1 << 20);
            assert!(
                disk[..1 << 20].iter().all(|b| *b == 0xee),
                "before base untouched"
            );
            assert!(
                disk[1 << 20..10 << 20] == image()[..],
                "{mode:?}: image bytes"
            );
            assert!(
                disk[10 << 20..].iter().all(|b| *b == 0xee),
                "after image untouched"
            );
            if mode == ZeroMode::PunchHole {
                assert_eq!(w.zero_skipped, (2 << 20) + (1 << 19));
            }
        }
    }

    #[test]
    fn direct_writes_with_an_unaligned_tail() {
        // 9 MiB and 1000 bytes: the aligned bulk goes through O_DIRECT, the last partial
        // sector through the page cache; zero runs are still punched.
        let mut data = image();
        data.extend((0..1000).map(|i| (i % 7) as u8 + 1));
        for mode in [ZeroMode::Write, ZeroMode::PunchHole] {
            let (r, disk) = run_with(data.clone(), mode, 11 << 20, 0xee, true);
            let w = r.unwrap();
            assert_eq!(w.bytes, data.len() as u64);
            assert!(disk[..1 << 20].iter().all(|b| *b == 0xee));
            assert!(
                disk[1 << 20..(1 << 20) + data.len()] == data[..],
                "{mode:?}"
            );
            assert!(disk[(1 << 20) + data.len()..].iter().all(|b| *b == 0xee));
        }
    }

    #[test]
    fn stops_at_capacity() {
        let (r, _) = run(ZeroMode::Write, 8 << 20, 0);
        let e = format!("{:#}", r.unwrap_err());
        assert!(e.contains("larger than test"), "{e}");
    }

    #[test]
    fn decode_errors_carry_the_position() {
        struct Broken(u64);
        impl Read for Broken {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "bad block"));
                }
                let n = (b.len() as u64).min(self.0) as usize;
                self.0 -= n as u64;
                b[..n].fill(7);
                Ok(n)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let f = File::create(dir.path().join("t")).unwrap();
        let spec = WriteSpec {
            base: 0,
            capacity: 1 << 30,
            zero_mode: ZeroMode::Write,
            what: "t".into(),
        };
        let e = format!(
            "{:#}",
            stream(
                Box::new(Broken(5 << 20)),
                &Output {
                    file: &f,
                    direct: None
                },
                &spec,
                |_| {}
            )
            .unwrap_err()
        );
        assert!(
            e.contains("bad block") && e.contains("after 4194304 bytes"),
            "{e}"
        );
    }
}
