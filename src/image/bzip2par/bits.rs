//! A piece of the compressed input between two candidate boundaries, and a fast MSB-first bit
//! reader over it. bzip2 blocks start at any bit offset, so a chunk records where its first
//! bit sits in its first byte.

/// Zero bytes kept after a chunk's data so the reader can always load 8 bytes at once.
const PAD: usize = 8;

/// Bits `[start, start + len)` of `data` (bit 0 = most significant bit of `data[0]`).
#[derive(Debug)]
pub struct Chunk {
    data: Vec<u8>,
    start: usize,
    len: usize,
    /// Where the chunk starts in the whole input, in bits (for messages and byte alignment).
    pub input_bit: u64,
}

impl Chunk {
    /// Copies bits `[start_bit, start_bit + len_bits)` of `bytes`.
    pub fn from_bits(bytes: &[u8], start_bit: usize, len_bits: usize, input_bit: u64) -> Chunk {
        let first = start_bit / 8;
        let last = (start_bit + len_bits).div_ceil(8);
        let mut data = Vec::with_capacity(last - first + PAD);
        data.extend_from_slice(&bytes[first..last]);
        data.resize(last - first + PAD, 0);
        // Bits after the end are cleared, so reading past the end yields zeros consistently.
        let end = start_bit % 8 + len_bits;
        if !end.is_multiple_of(8) {
            data[end / 8] &= 0xFFu8 << (8 - end % 8);
        }
        Chunk {
            data,
            start: start_bit % 8,
            len: len_bits,
            input_bit,
        }
    }

    /// This chunk followed directly by `next` (used when a boundary between them was false).
    pub fn concat(&self, next: &Chunk) -> Chunk {
        let total = self.len + next.len;
        let mut out = vec![0u8; (self.start + total).div_ceil(8) + PAD];
        // Copy our bytes as they are (same start offset), then append `next` bit by bit in
        // 32-bit pieces; this is only used on the rare false-boundary path.
        let own = (self.start + self.len).div_ceil(8);
        out[..own].copy_from_slice(&self.data[..own]);
        let mut w = BitWriter {
            buf: &mut out,
            pos: self.start + self.len,
        };
        let mut r = next.reader();
        let mut left = next.len;
        while left > 0 {
            let n = left.min(32) as u32;
            w.put(r.bits(n), n);
            left -= n as usize;
        }
        Chunk {
            data: out,
            start: self.start,
            len: total,
            input_bit: self.input_bit,
        }
    }

    pub fn len_bits(&self) -> usize {
        self.len
    }

    pub fn reader(&self) -> BitReader<'_> {
        BitReader {
            data: &self.data,
            pos: self.start,
            end: self.start + self.len,
        }
    }
}

struct BitWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl BitWriter<'_> {
    fn put(&mut self, v: u32, n: u32) {
        for i in (0..n).rev() {
            if (v >> i) & 1 != 0 {
                self.buf[self.pos / 8] |= 0x80 >> (self.pos % 8);
            }
            self.pos += 1;
        }
    }
}

/// Reads bits MSB first. Reading past the end yields zero bits; `overrun()` tells.
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
}

impl BitReader<'_> {
    /// The next `n` (1..=32) bits without consuming them.
    #[inline(always)]
    pub fn peek(&self, n: u32) -> u32 {
        let byte = self.pos / 8;
        let word = match self.data.get(byte..byte + 8) {
            Some(b) => u64::from_be_bytes(b.try_into().unwrap()),
            // Far past the end (only after an overrun): all zeros.
            None => 0,
        };
        ((word << (self.pos % 8)) >> (64 - n)) as u32
    }

    #[inline(always)]
    pub fn consume(&mut self, n: u32) {
        self.pos += n as usize;
    }

    #[inline(always)]
    pub fn bits(&mut self, n: u32) -> u32 {
        let v = self.peek(n);
        self.consume(n);
        v
    }

    #[inline(always)]
    pub fn bit(&mut self) -> bool {
        self.bits(1) != 0
    }

    /// True once more bits were consumed than the chunk holds.
    pub fn overrun(&self) -> bool {
        self.pos > self.end
    }

    /// Bits not yet consumed (negative after an overrun).
    pub fn remaining(&self) -> isize {
        self.end as isize - self.pos as isize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_bits_and_concat_keep_every_bit() {
        let bytes: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let all = Chunk::from_bits(&bytes, 0, bytes.len() * 8, 0);
        let reference: Vec<u32> = {
            let mut r = all.reader();
            (0..bytes.len() * 8).map(|_| r.bits(1)).collect()
        };
        for (start, mid, end) in [(3, 50, 300), (0, 8, 16), (7, 9, 319), (13, 13 + 48, 200)] {
            let a = Chunk::from_bits(&bytes, start, mid - start, start as u64);
            let b = Chunk::from_bits(&bytes, mid, end - mid, mid as u64);
            let c = a.concat(&b);
            assert_eq!(c.len_bits(), end - start);
            let mut r = c.reader();
            for (i, want) in reference[start..end].iter().enumerate() {
                assert_eq!(r.bits(1), *want, "bit {i} of {start}..{end}");
            }
            assert_eq!(r.remaining(), 0);
            // Past the end: zeros.
            assert_eq!(r.bits(32), 0);
            assert!(r.overrun());
        }
    }
}
