//! The CRC-32 bzip2 uses (polynomial 0x04C11DB7, most significant bit first, init and final
//! xor 0xFFFFFFFF), computed eight bytes at a time ("slicing by 8") because every decoded
//! byte passes through it, including the long runs of zero-filled disk areas.

const POLY: u32 = 0x04C1_1DB7;

/// TABLES[k][b]: the CRC register change for byte `b` followed by `k` zero bytes.
static TABLES: [[u32; 256]; 8] = build_tables();

const fn build_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut b = 0;
    while b < 256 {
        let mut c = (b as u32) << 24;
        let mut i = 0;
        while i < 8 {
            c = if c & 0x8000_0000 != 0 {
                (c << 1) ^ POLY
            } else {
                c << 1
            };
            i += 1;
        }
        t[0][b] = c;
        b += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut b = 0;
        while b < 256 {
            let prev = t[k - 1][b];
            t[k][b] = (prev << 8) ^ t[0][(prev >> 24) as usize];
            b += 1;
        }
        k += 1;
    }
    t
}

/// A running bzip2 CRC.
#[derive(Clone, Copy, Debug)]
pub struct Crc(u32);

impl Default for Crc {
    fn default() -> Self {
        Crc(0xFFFF_FFFF)
    }
}

impl Crc {
    pub fn update(&mut self, data: &[u8]) {
        let t = &TABLES;
        let mut crc = self.0;
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            let hi = crc ^ u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            let lo = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
            crc = t[7][(hi >> 24) as usize]
                ^ t[6][((hi >> 16) & 0xff) as usize]
                ^ t[5][((hi >> 8) & 0xff) as usize]
                ^ t[4][(hi & 0xff) as usize]
                ^ t[3][(lo >> 24) as usize]
                ^ t[2][((lo >> 16) & 0xff) as usize]
                ^ t[1][((lo >> 8) & 0xff) as usize]
                ^ t[0][(lo & 0xff) as usize];
        }
        for &b in chunks.remainder() {
            crc = (crc << 8) ^ t[0][((crc >> 24) ^ b as u32) as usize];
        }
        self.0 = crc;
    }

    pub fn finish(self) -> u32 {
        !self.0
    }
}

/// Folds a block CRC into the stream CRC stored after the end-of-stream marker.
pub fn combine(stream: u32, block: u32) -> u32 {
    stream.rotate_left(1) ^ block
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytewise(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            for i in 0..8 {
                let bit = ((b >> (7 - i)) & 1) as u32;
                let top = crc >> 31;
                crc <<= 1;
                if top ^ bit != 0 {
                    crc ^= POLY;
                }
            }
        }
        !crc
    }

    #[test]
    fn check_value_and_sliced_matches_bitwise() {
        // The catalogued check value of CRC-32/BZIP2 for "123456789".
        let mut c = Crc::default();
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xFC89_1918);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 999] {
            let mut c = Crc::default();
            // Split updates at an odd point to exercise the remainder path in the middle.
            let (a, b) = data[..len].split_at(len / 3);
            c.update(a);
            c.update(b);
            assert_eq!(c.finish(), bytewise(&data[..len]), "len {len}");
        }
    }
}
