//! Finding candidate boundaries: the 48-bit block magic (0x314159265359) and end-of-stream
//! magic (0x177245385090) at any bit offset, and cutting the input into chunks between
//! consecutive candidates. A candidate can be a false match inside compressed data; the
//! consumer finds out when a block does not decode and merges chunks (see `stream`).

use std::collections::VecDeque;
use std::io::{self, Read};

use super::bits::Chunk;
use super::{BLOCK_MAGIC, EOS_MAGIC};

/// What a candidate boundary looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The first chunk of the input (expected to be a "BZh1".."BZh9" stream header).
    Start,
    Block,
    EndOfStream,
}

/// A candidate boundary at bit `bit` of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Boundary {
    pub bit: u64,
    pub kind: Kind,
}

const MASK48: u64 = (1 << 48) - 1;

/// Prefilter tables: for bytes 1 and 2 of an 8-byte window, which bit shifts (bits 0..8 for
/// the block magic, 8..16 for the end-of-stream magic) they are compatible with.
static FILTER: [[u16; 256]; 2] = build_filter();

const fn build_filter() -> [[u16; 256]; 2] {
    let mut f = [[0u16; 256]; 2];
    let magics = [BLOCK_MAGIC, EOS_MAGIC];
    let mut m = 0;
    while m < 2 {
        let mut s = 0;
        while s < 8 {
            // The window w (64 bits) holds the magic at bits [s, s + 48) from the top.
            let w = magics[m] << (16 - s);
            let b1 = ((w >> 48) & 0xff) as usize;
            let b2 = ((w >> 40) & 0xff) as usize;
            f[0][b1] |= 1 << (m * 8 + s);
            f[1][b2] |= 1 << (m * 8 + s);
            s += 1;
        }
        m += 1;
    }
    f
}

/// Appends the candidates starting in bytes `from..to` of `data` to `out`; `data` must hold
/// 8 bytes after `to - 1` or be the end of input (then `total_bits` bounds a match).
/// `base_bit` is the input position of `data[0]`.
fn scan(data: &[u8], from: usize, to: usize, base_bit: u64, out: &mut Vec<Boundary>) {
    let total_bits = data.len() * 8;
    let window = |i: usize| -> u64 {
        let mut b = [0u8; 8];
        let avail = data.len().saturating_sub(i).min(8);
        b[..avail].copy_from_slice(&data[i..i + avail]);
        u64::from_be_bytes(b)
    };
    for i in from..to {
        let m = match (data.get(i + 1), data.get(i + 2)) {
            (Some(&b1), Some(&b2)) => FILTER[0][b1 as usize] & FILTER[1][b2 as usize],
            _ => 0xffff, // at the very end: check all shifts
        };
        if m == 0 {
            continue;
        }
        let w = window(i);
        for s in 0..8 {
            let v = (w >> (16 - s)) & MASK48;
            let kind = if m & (1 << s) != 0 && v == BLOCK_MAGIC {
                Kind::Block
            } else if m & (1 << (8 + s)) != 0 && v == EOS_MAGIC {
                Kind::EndOfStream
            } else {
                continue;
            };
            if i * 8 + s + 48 <= total_bits {
                out.push(Boundary {
                    bit: base_bit + (i * 8 + s) as u64,
                    kind,
                });
            }
        }
    }
}

/// Every candidate boundary in `data`, in input order (overlapping matches included).
/// Public as a fuzzing entry point for the splitter.
pub fn split_blocks(data: &[u8]) -> Vec<Boundary> {
    let mut out = Vec::new();
    scan(data, 0, data.len(), 0, &mut out);
    out
}

/// True when `b` starts with a stream header "BZh1".."BZh9".
pub fn is_stream_header(b: &[u8]) -> bool {
    b.len() >= 4 && &b[..3] == b"BZh" && (b'1'..=b'9').contains(&b[3])
}

/// Cuts a byte stream into chunks at candidate boundaries, reading as it goes.
pub struct Splitter<R> {
    input: R,
    /// Unconsumed input; `buf[0]` is input byte `buf_start`.
    buf: Vec<u8>,
    buf_start: u64,
    /// Bytes of `buf` already scanned for candidates.
    scanned: usize,
    chunk_start: u64,
    chunk_kind: Kind,
    found: VecDeque<Boundary>,
    eof: bool,
    /// Set once a chunk grew too long: the next call reports it.
    too_long: bool,
    checked_header: bool,
    max_chunk_bytes: usize,
    /// Extra (false) boundaries to report, sorted, for tests of the merge logic.
    inject: VecDeque<Boundary>,
}

/// Read granularity.
const READ_SIZE: usize = 1 << 20;

impl<R: Read> Splitter<R> {
    /// `max_chunk_bytes`: a chunk longer than this without a boundary is an error.
    pub fn new(input: R, max_chunk_bytes: usize) -> Self {
        Splitter {
            input,
            buf: Vec::new(),
            buf_start: 0,
            scanned: 0,
            chunk_start: 0,
            chunk_kind: Kind::Start,
            found: VecDeque::new(),
            eof: false,
            too_long: false,
            checked_header: false,
            max_chunk_bytes,
            inject: VecDeque::new(),
        }
    }

    /// Also reports these boundaries, as if the magic had been found there (tests).
    pub fn inject(&mut self, mut extra: Vec<Boundary>) {
        extra.sort_by_key(|b| b.bit);
        self.inject = extra.into_iter().filter(|b| b.bit > 0).collect();
    }

    /// The next chunk with the kind of boundary it starts at, `None` at the end of input.
    pub fn next_chunk(&mut self) -> io::Result<Option<(Kind, Chunk)>> {
        loop {
            if let Some(b) = self.found.pop_front() {
                return Ok(Some(self.cut(b.bit, b.kind)));
            }
            if self.eof {
                let end = (self.buf_start + self.buf.len() as u64) * 8;
                if end > self.chunk_start {
                    return Ok(Some(self.cut(end, self.chunk_kind)));
                }
                return Ok(None);
            }
            if self.too_long {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "bzip2: no block boundary within {} MiB before input byte {}: the data \
                         is corrupt or not bzip2",
                        self.max_chunk_bytes >> 20,
                        self.chunk_start / 8
                    ),
                ));
            }
            let held = self.buf.len() - ((self.chunk_start / 8 - self.buf_start) as usize);
            if held > self.max_chunk_bytes {
                // Hand out what we have (the consumer can tell trailing garbage from a
                // broken block by its kind), then fail.
                self.too_long = true;
                let end = (self.buf_start + self.buf.len() as u64) * 8;
                return Ok(Some(self.cut(end, self.chunk_kind)));
            }
            self.fill()?;
            if !self.checked_header && (self.buf.len() >= 4 || self.eof) {
                self.checked_header = true;
                if !is_stream_header(&self.buf) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "bzip2: not a bzip2 stream (the input does not start with \"BZh1\" to \
                         \"BZh9\"); check the image URL and format",
                    ));
                }
            }
            // Scan what has 8 bytes after it (or everything at the end of input).
            let to = if self.eof {
                self.buf.len()
            } else {
                self.buf.len().saturating_sub(8)
            };
            if to > self.scanned {
                let base = self.buf_start * 8;
                let mut found = Vec::new();
                scan(&self.buf, self.scanned, to, base, &mut found);
                self.scanned = to;
                // The very first bits are the stream header, never a boundary.
                self.found.extend(found.into_iter().filter(|b| b.bit > 0));
                let scanned_bits = (self.buf_start + to as u64) * 8;
                if self.inject.front().is_some_and(|b| b.bit < scanned_bits) {
                    while let Some(b) = self.inject.pop_front() {
                        if b.bit >= scanned_bits {
                            self.inject.push_front(b);
                            break;
                        }
                        if b.bit > self.chunk_start {
                            self.found.push_back(b);
                        }
                    }
                    self.found.make_contiguous().sort_by_key(|b| b.bit);
                    let mut seen = u64::MAX;
                    self.found
                        .retain(|b| std::mem::replace(&mut seen, b.bit) != b.bit);
                }
            }
        }
    }

    fn fill(&mut self) -> io::Result<()> {
        // Drop the bytes before the current chunk's first byte (here rather than per chunk:
        // one move per read instead of one per block).
        let drop = (self.chunk_start / 8 - self.buf_start) as usize;
        if drop > 0 {
            self.buf.drain(..drop);
            self.buf_start += drop as u64;
            self.scanned -= drop.min(self.scanned);
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_SIZE, 0);
        let n = loop {
            match self.input.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// Emits the chunk from the current start to `end` and starts the next one there.
    fn cut(&mut self, end: u64, next_kind: Kind) -> (Kind, Chunk) {
        let local = (self.chunk_start - self.buf_start * 8) as usize;
        let chunk = Chunk::from_bits(
            &self.buf,
            local,
            (end - self.chunk_start) as usize,
            self.chunk_start,
        );
        let kind = self.chunk_kind;
        self.chunk_start = end;
        self.chunk_kind = next_kind;
        (kind, chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `pattern` (48 bits) at bit `at` into `data`.
    fn put48(data: &mut [u8], at: usize, pattern: u64) {
        for k in 0..48 {
            let bit = (pattern >> (47 - k)) & 1;
            let p = at + k;
            if bit == 1 {
                data[p / 8] |= 0x80 >> (p % 8);
            } else {
                data[p / 8] &= !(0x80 >> (p % 8));
            }
        }
    }

    #[test]
    fn finds_magics_at_every_bit_offset() {
        for at in [0usize, 1, 3, 7, 8, 13, 100, 200 - 48] {
            let mut data = vec![0u8; 25];
            put48(&mut data, at, BLOCK_MAGIC);
            assert_eq!(
                split_blocks(&data),
                vec![Boundary {
                    bit: at as u64,
                    kind: Kind::Block
                }],
                "at {at}"
            );
            let mut data = vec![0xffu8; 25];
            put48(&mut data, at, EOS_MAGIC);
            assert_eq!(
                split_blocks(&data),
                vec![Boundary {
                    bit: at as u64,
                    kind: Kind::EndOfStream
                }]
            );
        }
    }

    #[test]
    fn splitter_cuts_chunks_at_candidates_with_small_reads() {
        // A reader that returns one byte at a time, to exercise buffering.
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[self.1];
                self.1 += 1;
                Ok(1)
            }
        }
        let mut data = vec![0x55u8; 64];
        data[..4].copy_from_slice(b"BZh9");
        put48(&mut data, 37, BLOCK_MAGIC);
        put48(&mut data, 37 + 48 + 5, EOS_MAGIC);
        put48(&mut data, 300, BLOCK_MAGIC);
        let mut sp = Splitter::new(Trickle(data.clone(), 0), 1 << 20);
        let mut got = Vec::new();
        while let Some((kind, c)) = sp.next_chunk().unwrap() {
            got.push((kind, c.input_bit, c.len_bits()));
        }
        assert_eq!(
            got,
            vec![
                (Kind::Start, 0, 37),
                (Kind::Block, 37, 53),
                (Kind::EndOfStream, 90, 210),
                (Kind::Block, 300, 512 - 300),
            ]
        );
    }
}
