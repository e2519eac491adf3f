//! Canonical Huffman decoding for bzip2's coding tables (code lengths 1..=20, up to 258
//! symbols). Short codes come from a direct lookup table; the rare long ones from a search
//! over the per-length code limits.

use super::bits::BitReader;

pub const MAX_LEN: u32 = 20;
/// Codes up to this many bits decode with one table lookup.
const FAST_BITS: u32 = 10;

pub struct Table {
    /// Indexed by the next FAST_BITS bits: `symbol << 5 | length`, or 0 for a longer code.
    fast: [u16; 1 << FAST_BITS],
    /// For each length: one past the last code of that length (left-aligned to MAX_LEN
    /// bits), and the index in `perm` of the first code of that length minus its code value.
    limit: [u32; MAX_LEN as usize + 2],
    offset: [i32; MAX_LEN as usize + 1],
    perm: [u16; 258],
    max_len: u32,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            fast: [0; 1 << FAST_BITS],
            limit: [0; MAX_LEN as usize + 2],
            offset: [0; MAX_LEN as usize + 1],
            perm: [0; 258],
            max_len: 0,
        }
    }
}

impl Table {
    /// Builds the table from code lengths (each 1..=20).
    pub fn build(&mut self, lengths: &[u8]) -> Result<(), &'static str> {
        let mut count = [0u32; MAX_LEN as usize + 1];
        for &l in lengths {
            count[l as usize] += 1;
        }
        self.max_len = (1..=MAX_LEN)
            .rev()
            .find(|&l| count[l as usize] > 0)
            .unwrap_or(0);
        // perm: symbols sorted by (length, symbol), which is canonical code order.
        let mut next_index = [0u32; MAX_LEN as usize + 2];
        for l in 1..=MAX_LEN as usize {
            next_index[l + 1] = next_index[l] + count[l];
        }
        let first_index = next_index;
        for (sym, &l) in lengths.iter().enumerate() {
            let i = &mut next_index[l as usize];
            self.perm[*i as usize] = sym as u16;
            *i += 1;
        }
        self.fast.fill(0);
        // Canonical codes, assigned exactly as libbzip2 does (BZ2_hbCreateDecodeTables): the
        // codes of length `l` follow on from those of length `l - 1`, doubled. libbzip2 does
        // not reject over-subscribed lengths (more codes than `l` bits can hold): the codes
        // past the last `l`-bit pattern are simply unreachable, and so are all longer ones.
        // Such tables decode, so they must decode here too, the same way.
        let mut code: u32 = 0;
        for l in 1..=MAX_LEN {
            let n = count[l as usize];
            let first = code;
            let reachable_end = (first + n).min(1 << l);
            self.offset[l as usize] = first_index[l as usize] as i32 - first as i32;
            self.limit[l as usize] = reachable_end.max(first) << (MAX_LEN - l);
            if l <= FAST_BITS {
                for c in first..reachable_end {
                    let sym = self.perm[(first_index[l as usize] + c - first) as usize];
                    let lo = (c << (FAST_BITS - l)) as usize;
                    let hi = ((c + 1) << (FAST_BITS - l)) as usize;
                    self.fast[lo..hi].fill((sym << 5) | l as u16);
                }
            }
            // Past 2^l every longer code is unreachable: stop the values growing.
            code = reachable_end.max(first.min(1 << l)) << 1;
        }
        Ok(())
    }

    /// Decodes one symbol. `Err` on a bit pattern that is no code (incomplete tables).
    #[inline(always)]
    pub fn decode(&self, r: &mut BitReader<'_>) -> Result<u16, &'static str> {
        let v = r.peek(MAX_LEN);
        let e = self.fast[(v >> (MAX_LEN - FAST_BITS)) as usize];
        if e != 0 {
            r.consume((e & 31) as u32);
            return Ok(e >> 5);
        }
        self.decode_long(r, v)
    }

    #[cold]
    fn decode_long(&self, r: &mut BitReader<'_>, v: u32) -> Result<u16, &'static str> {
        for l in FAST_BITS + 1..=self.max_len {
            if v < self.limit[l as usize] {
                let code = (v >> (MAX_LEN - l)) as i32;
                r.consume(l);
                let i = code + self.offset[l as usize];
                return Ok(self.perm[i as usize]);
            }
        }
        Err("bit pattern matches no Huffman code")
    }
}

#[cfg(test)]
mod tests {
    use super::super::bits::Chunk;
    use super::*;

    #[test]
    fn decodes_short_and_long_canonical_codes() {
        // Lengths: sym0=1, sym1=2, sym2..=13 long ones to exercise the slow path.
        let mut lengths = vec![1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
        lengths.push(13);
        let mut t = Table::default();
        t.build(&lengths).unwrap();
        // Canonical codes: 0, 10, 110, 1110, ..., 1111111111110 (13 bits), 1111111111111.
        let mut bits = String::new();
        let order = [13usize, 0, 12, 1, 5, 10, 11, 2];
        for &s in &order {
            let l = lengths[s] as usize;
            let code = if s == 13 {
                "1".repeat(13)
            } else {
                format!("{}0", "1".repeat(l - 1))
            };
            bits.push_str(&code);
        }
        let mut bytes = vec![0u8; bits.len().div_ceil(8)];
        for (i, c) in bits.chars().enumerate() {
            if c == '1' {
                bytes[i / 8] |= 0x80 >> (i % 8);
            }
        }
        let chunk = Chunk::from_bits(&bytes, 0, bits.len(), 0);
        let mut r = chunk.reader();
        for &s in &order {
            assert_eq!(t.decode(&mut r).unwrap() as usize, s);
        }
        assert_eq!(r.remaining(), 0);
    }

    fn reader_for(bits: &str) -> Chunk {
        let mut bytes = vec![0u8; bits.len().div_ceil(8)];
        for (i, c) in bits.chars().enumerate() {
            if c == '1' {
                bytes[i / 8] |= 0x80 >> (i % 8);
            }
        }
        Chunk::from_bits(&bytes, 0, bits.len(), 0)
    }

    /// libbzip2 decodes over-subscribed tables: the codes that fit are used, the rest are
    /// unreachable (found by fuzzing against libbzip2).
    #[test]
    fn oversubscribed_lengths_decode_as_libbzip2_does() {
        let mut t = Table::default();
        // sym0 = 0, sym1 = 1; sym2 (and sym3, length 2) unreachable.
        t.build(&[1, 1, 1, 2]).unwrap();
        let chunk = reader_for("0110");
        let mut r = chunk.reader();
        for want in [0, 1, 1, 0] {
            assert_eq!(t.decode(&mut r).unwrap(), want);
        }
        // Over-subscribed at a long length: codes 0, 10, …, 1111111110 (lengths 1..=10)
        // leave two 11-bit codes; the third 11-bit symbol is unreachable, the two others
        // decode through the slow path.
        let mut lengths: Vec<u8> = (1..=10).collect();
        lengths.extend([11, 11, 11]);
        t.build(&lengths).unwrap();
        let chunk = reader_for("1111111111111111111110");
        let mut r = chunk.reader();
        assert_eq!(t.decode(&mut r).unwrap(), 11);
        assert_eq!(t.decode(&mut r).unwrap(), 10);
    }

    #[test]
    fn unassigned_patterns_of_incomplete_tables_are_errors() {
        let mut t = Table::default();
        // Codes 0 and 10; "11" is no code.
        t.build(&[1, 2]).unwrap();
        let chunk = reader_for("11000000000000000000");
        assert!(t.decode(&mut chunk.reader()).is_err());
    }
}
