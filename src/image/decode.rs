//! Decoders chosen by magic bytes, each driven to the true end of its input: after the
//! decoder says "end", the compressed input must be exhausted too, so trailing garbage is an
//! error and every trailing checksum (gzip CRC, xz check, zstd checksum, bzip2 CRCs) is read.

use super::sniff::{sniff, Format, MAGIC_LEN};
use std::io::{self, BufRead, BufReader, Read};

const IN_BUF: usize = 256 * 1024;

/// Peek at the format, then build the decoder. `threads` feeds the parallel bzip2 decoder.
pub fn decoder(
    mut input: Box<dyn Read + Send>,
    threads: usize,
) -> io::Result<(Format, Box<dyn Read + Send>)> {
    let mut head = Vec::with_capacity(MAGIC_LEN);
    (&mut input).take(MAGIC_LEN as u64).read_to_end(&mut head)?;
    let format = sniff(&head);
    let input: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(input));
    let out: Box<dyn Read + Send> = match format {
        Format::Raw => input,
        Format::Bzip2 => super::bzip2par::reader(input, threads),
        Format::Gzip | Format::Xz | Format::Zstd => Box::new(Members {
            format,
            state: State::Between(BufReader::with_capacity(IN_BUF, input)),
            members: 0,
            threads: resolve_threads(threads),
        }),
    };
    Ok((format, out))
}

type Input = BufReader<Box<dyn Read + Send>>;

/// One compressed member (gzip member, xz stream, zstd frame) at a time, so that what follows
/// a member is judged exactly: another member, format padding, the end, or garbage.
enum State {
    Between(Input),
    Gzip(flate2::bufread::GzDecoder<Input>),
    Xz(liblzma::bufread::XzDecoder<Input>),
    Zstd(zstd::stream::read::Decoder<'static, Input>),
    Done,
}

struct Members {
    format: Format,
    state: State,
    members: u64,
    /// Worker threads for xz streams made of several blocks.
    threads: u32,
}

fn resolve_threads(threads: usize) -> u32 {
    super::bzip2par::decoder_threads(threads).clamp(1, 64) as u32
}

/// The most memory an xz stream may make us use. The largest preset (`xz -9`, 64 MiB
/// dictionary) needs about 65 MiB to decode; a header can ask for a 1.5 GiB dictionary,
/// which a machine running from a ramdisk may not have: refused with a clear error.
pub const XZ_MEMLIMIT: u64 = 256 << 20;

/// What the blocks of a multi-block stream (`xz -T`: sizes in the block headers) may use to
/// be decoded on several threads. Each thread holds a whole block in and out (`xz -T0`'s
/// default blocks are 24 MiB of output, plus the 8 MiB dictionary), so two threads need
/// about 100 MiB: parallel xz cannot fit the 64 MiB other formats keep to. As `xz` itself
/// does, a quarter of the available memory, here at most XZ_MEMLIMIT; a stream whose blocks
/// need more decodes on fewer threads, down to one.
fn xz_threading_budget() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kib| kib << 10);
    (available / 4).clamp(32 << 20, XZ_MEMLIMIT)
}

/// One xz stream at a time (no LZMA_CONCATENATED: what follows a stream is judged by
/// `Members`). With one thread, liblzma's plain stream decoder (about 10 MiB for `xz -6`);
/// otherwise its multithreaded decoder, which decodes independent blocks in parallel and a
/// single-block stream on one thread.
fn xz_decoder(input: Input, threads: u32) -> io::Result<liblzma::bufread::XzDecoder<Input>> {
    let stream = if threads <= 1 {
        liblzma::stream::Stream::new_stream_decoder(XZ_MEMLIMIT, 0)
    } else {
        liblzma::stream::MtStreamBuilder::new()
            .threads(threads)
            .memlimit_threading(xz_threading_budget())
            .memlimit_stop(XZ_MEMLIMIT)
            .decoder()
    }
    .map_err(|e| io::Error::other(format!("xz: cannot start the decoder: {e}")))?;
    Ok(liblzma::bufread::XzDecoder::new_stream(input, stream))
}

fn name(f: Format) -> &'static str {
    match f {
        Format::Gzip => "gzip",
        Format::Xz => "xz",
        Format::Zstd => "zstd",
        Format::Bzip2 => "bzip2",
        Format::Raw => "raw",
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Members {
    /// At a member boundary: start the next member, or finish.
    fn next(&mut self, mut input: Input) -> io::Result<()> {
        let fmt = self.format;
        if fmt == Format::Xz {
            // xz stream padding: null bytes in multiples of four, between or after streams.
            let mut zeros = 0u64;
            loop {
                let buf = input.fill_buf()?;
                let n = buf.iter().take_while(|b| **b == 0).count();
                if n == 0 {
                    break;
                }
                zeros += n as u64;
                input.consume(n);
            }
            if !zeros.is_multiple_of(4) {
                return Err(invalid(format!(
                    "{zeros} null bytes after xz stream {} are not valid stream padding (trailing garbage)",
                    self.members
                )));
            }
        }
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            if self.members == 0 {
                return Err(invalid(format!("the {} stream is empty", name(fmt))));
            }
            self.state = State::Done;
            return Ok(());
        }
        let magic_ok = match fmt {
            Format::Gzip => buf.starts_with(&[0x1f, 0x8b]),
            Format::Xz => buf.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            // A zstd frame, or a skippable frame (0x184D2A50..5F).
            Format::Zstd => {
                buf.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
                    || (buf.len() >= 4 && buf[0] & 0xf0 == 0x50 && buf[1..4] == [0x2a, 0x4d, 0x18])
            }
            _ => false,
        };
        if !magic_ok {
            return Err(invalid(format!(
                "trailing garbage after the {} stream: {} or more bytes starting {:02x?}",
                name(fmt),
                buf.len(),
                &buf[..buf.len().min(8)]
            )));
        }
        self.members += 1;
        self.state = match fmt {
            Format::Gzip => State::Gzip(flate2::bufread::GzDecoder::new(input)),
            Format::Xz => State::Xz(xz_decoder(input, self.threads)?),
            _ => {
                let d = zstd::stream::read::Decoder::with_buffer(input)?.single_frame();
                State::Zstd(d)
            }
        };
        Ok(())
    }
}

/// liblzma's "memory usage limit reached", as the crate passes it on.
fn is_xz_memlimit(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<liblzma::stream::Error>())
        .is_some_and(|le| matches!(le, liblzma::stream::Error::MemLimit))
}

impl Read for Members {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let fmt = self.format;
            let corrupt = |e: io::Error| {
                let msg = if is_xz_memlimit(&e) {
                    format!(
                        "the xz stream needs more than {} MiB of memory to decode (its \
                         dictionary is too large for an installer); recompress it with \
                         xz -9 or a lower preset",
                        XZ_MEMLIMIT >> 20
                    )
                } else if e.kind() == io::ErrorKind::UnexpectedEof {
                    format!("the {} stream is truncated ({e})", name(fmt))
                } else {
                    format!("the {} stream is corrupt: {e}", name(fmt))
                };
                invalid(msg)
            };
            let n = match &mut self.state {
                State::Done => return Ok(0),
                State::Between(_) => 0,
                State::Gzip(d) => d.read(buf).map_err(corrupt)?,
                State::Xz(d) => d.read(buf).map_err(corrupt)?,
                State::Zstd(d) => d.read(buf).map_err(corrupt)?,
            };
            if n > 0 {
                return Ok(n);
            }
            // This member ended (its own trailer checked by the decoder): what follows?
            let input = match std::mem::replace(&mut self.state, State::Done) {
                State::Between(i) => i,
                State::Gzip(d) => d.into_inner(),
                State::Xz(d) => d.into_inner(),
                State::Zstd(d) => d.finish(),
                State::Done => return Ok(0),
            };
            self.next(input)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        for i in 0..200_000u32 {
            v.extend_from_slice(&(i.wrapping_mul(2_654_435_761) >> (i % 7)).to_le_bytes());
        }
        v.extend(std::iter::repeat_n(0u8, 300_000));
        v
    }

    fn compress(f: Format, data: &[u8]) -> Vec<u8> {
        match f {
            Format::Raw => data.to_vec(),
            Format::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Format::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Format::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Format::Zstd => {
                // As the zstd command does by default: a content checksum per frame.
                let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
                e.include_checksum(true).unwrap();
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
        }
    }

    fn decode_all(bytes: Vec<u8>) -> io::Result<(Format, Vec<u8>)> {
        let (f, mut d) = decoder(Box::new(io::Cursor::new(bytes)), 2)?;
        let mut out = Vec::new();
        d.read_to_end(&mut out)?;
        Ok((f, out))
    }

    const ALL: [Format; 4] = [Format::Gzip, Format::Bzip2, Format::Xz, Format::Zstd];

    #[test]
    fn round_trips_and_multi_stream() {
        let data = sample();
        for f in ALL.into_iter().chain([Format::Raw]) {
            let (got_f, out) = decode_all(compress(f, &data)).unwrap();
            assert_eq!(got_f, f);
            assert!(out == data, "{f:?} round trip");
            if f != Format::Raw {
                let mut two = compress(f, &data[..1000]);
                two.extend(compress(f, &data[1000..]));
                let (_, out) = decode_all(two).unwrap();
                assert!(out == data, "{f:?} multi-stream");
            }
        }
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        let data = sample();
        for f in ALL {
            for tail in [&b"garbage!"[..], &[0u8; 7][..], &[0u8; 4096][..]] {
                if f == Format::Xz && tail.len() % 4 == 0 && tail.iter().all(|b| *b == 0) {
                    continue; // xz "stream padding": valid by the format, `xz -dc` accepts it
                }
                let mut c = compress(f, &data);
                c.extend_from_slice(tail);
                assert!(
                    decode_all(c).is_err(),
                    "{f:?} with {} trailing bytes",
                    tail.len()
                );
            }
        }
    }

    #[test]
    fn truncated_or_corrupt_is_an_error() {
        let data = sample();
        for f in ALL {
            let c = compress(f, &data);
            let cut = c[..c.len() - 9].to_vec();
            assert!(decode_all(cut).is_err(), "{f:?} truncated");
            let mut bad = c.clone();
            let mid = bad.len() / 2;
            bad[mid] ^= 0x55;
            bad[mid + 1] ^= 0xaa;
            assert!(decode_all(bad).is_err(), "{f:?} corrupted");
        }
    }
}
