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
        Format::Gzip => Box::new(EndChecked::new(
            flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(IN_BUF, input)),
            "gzip",
        )),
        Format::Xz => Box::new(EndChecked::new(
            liblzma::bufread::XzDecoder::new_multi_decoder(BufReader::with_capacity(IN_BUF, input)),
            "xz",
        )),
        Format::Zstd => {
            let d =
                zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(IN_BUF, input))?;
            Box::new(EndChecked::new(ZstdDec(d), "zstd"))
        }
    };
    Ok((format, out))
}

/// Access to the buffered compressed input under a decoder.
pub trait Inner {
    fn inner(&mut self) -> &mut dyn BufRead;
}

impl<R: BufRead> Inner for flate2::bufread::MultiGzDecoder<R> {
    fn inner(&mut self) -> &mut dyn BufRead {
        self.get_mut()
    }
}

impl<R: BufRead> Inner for liblzma::bufread::XzDecoder<R> {
    fn inner(&mut self) -> &mut dyn BufRead {
        self.get_mut()
    }
}

struct ZstdDec<'a, R: BufRead>(zstd::stream::read::Decoder<'a, R>);

impl<R: BufRead> Read for ZstdDec<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: BufRead> Inner for ZstdDec<'_, R> {
    fn inner(&mut self) -> &mut dyn BufRead {
        self.0.get_mut()
    }
}

/// Fails at the decoder's end unless the compressed input is exhausted as well.
pub struct EndChecked<D> {
    dec: D,
    name: &'static str,
    done: bool,
}

impl<D> EndChecked<D> {
    pub fn new(dec: D, name: &'static str) -> Self {
        EndChecked {
            dec,
            name,
            done: false,
        }
    }
}

impl<D: Read + Inner> Read for EndChecked<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.dec.read(buf).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} stream is corrupt: {e}", self.name),
            )
        })?;
        if n == 0 {
            let rest = self.dec.inner().fill_buf()?;
            if !rest.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} bytes of trailing garbage after the {} stream (starting {:02x?})",
                        rest.len(),
                        self.name,
                        &rest[..rest.len().min(8)]
                    ),
                ));
            }
            self.done = true;
        }
        Ok(n)
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
