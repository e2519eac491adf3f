//! Decoding of one bzip2 block: header, symbol map, selectors, Huffman tables, run-length
//! and move-to-front decoding, inverse Burrows-Wheeler transform, then the block CRC over
//! the fully expanded output. The final run-length stage is not kept expanded when it
//! would blow up (zero-filled disk areas grow ~50x): then the inverse-BWT output is kept
//! and expanded again as the consumer reads (see `rle`).

use super::bits::{BitReader, Chunk};
use super::crc::Crc;
use super::huffman::{Table, MAX_LEN};
use super::rle::Rle1;
use super::BLOCK_MAGIC;

/// The largest block (bzip2 -9): 900 000 bytes before the final run-length expansion.
pub const MAX_BLOCK: usize = 900_000;
/// Decoded blocks up to this size are kept expanded; larger ones as inverse-BWT output.
const KEEP_EXPANDED: usize = 3 * MAX_BLOCK / 2;
const GROUP_SIZE: usize = 50;
const MAX_GROUPS: usize = 6;
const MAX_SELECTORS: usize = 18_002;

/// Why a chunk did not decode as one block.
#[derive(Debug)]
pub enum BlockError {
    /// The chunk ended before the block did: the boundary after it was a false match.
    NeedMore,
    Corrupt(String),
}

fn corrupt<T>(what: impl Into<String>) -> Result<T, BlockError> {
    Err(BlockError::Corrupt(what.into()))
}

/// A decoded block, ready for the consumer.
pub struct Decoded {
    pub data: Output,
    /// Block size before the final run-length expansion (limited by the stream level).
    pub bwt_len: usize,
    pub crc: u32,
}

pub enum Output {
    Plain(Vec<u8>),
    Runs(Rle1),
}

/// Per-thread buffers reused across blocks.
pub struct Scratch {
    tt: Vec<u32>,
    tables: Vec<Table>,
    selectors: Vec<u8>,
    crc_buf: Vec<u8>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            tt: Vec::new(),
            tables: (0..MAX_GROUPS).map(|_| Table::default()).collect(),
            selectors: Vec::new(),
            crc_buf: vec![0; 64 * 1024],
        }
    }
}

/// Decodes `chunk` as exactly one block: it must start with the block magic and end where
/// the block's last symbol ends.
pub fn decode(chunk: &Chunk, s: &mut Scratch) -> Result<Decoded, BlockError> {
    let mut r = chunk.reader();
    if chunk.len_bits() < 48 + 32 + 1 + 24 + 16 {
        return Err(BlockError::NeedMore);
    }
    let magic = ((r.bits(24) as u64) << 24) | r.bits(24) as u64;
    if magic != BLOCK_MAGIC {
        return corrupt("missing block marker");
    }
    let result = decode_body(&mut r, s);
    // Zero bits read past the end can look like anything: an overrun always means the
    // chunk was too short, whatever the decoder concluded from them.
    if r.overrun() {
        return Err(BlockError::NeedMore);
    }
    let decoded = result?;
    if r.remaining() != 0 {
        return corrupt(format!(
            "{} unexpected bits after the end of the block",
            r.remaining()
        ));
    }
    Ok(decoded)
}

fn decode_body(r: &mut BitReader<'_>, s: &mut Scratch) -> Result<Decoded, BlockError> {
    let stored_crc = r.bits(32);
    let randomised = r.bit();
    let orig_ptr = r.bits(24) as usize;

    // Which byte values occur: 16 groups of 16.
    let mut seq_to_unseq = [0u8; 256];
    let mut n_in_use = 0usize;
    let used16 = r.bits(16);
    for i in 0..16 {
        if used16 & (0x8000 >> i) != 0 {
            let used = r.bits(16);
            for j in 0..16 {
                if used & (0x8000 >> j) != 0 {
                    seq_to_unseq[n_in_use] = (i * 16 + j) as u8;
                    n_in_use += 1;
                }
            }
        }
    }
    if n_in_use == 0 {
        return corrupt("block uses no byte values");
    }
    let alpha_size = n_in_use + 2;

    let n_groups = r.bits(3) as usize;
    if !(2..=MAX_GROUPS).contains(&n_groups) {
        return corrupt(format!("invalid number of Huffman tables {n_groups}"));
    }
    let n_selectors = r.bits(15) as usize;
    if n_selectors == 0 {
        return corrupt("no selectors");
    }
    // Selectors, move-to-front coded in unary. Like bzip2 1.0.8, read them all but keep
    // only as many as a maximal block can use.
    let mut pos = [0u8, 1, 2, 3, 4, 5];
    s.selectors.clear();
    for _ in 0..n_selectors {
        let mut j = 0usize;
        while r.bit() {
            j += 1;
            if j >= n_groups {
                return corrupt("invalid selector");
            }
        }
        let v = pos[j];
        pos.copy_within(0..j, 1);
        pos[0] = v;
        if s.selectors.len() < MAX_SELECTORS {
            s.selectors.push(v);
        }
        if r.overrun() {
            return Err(BlockError::NeedMore);
        }
    }

    // Code lengths, delta coded.
    let mut lengths = [0u8; 258];
    for t in 0..n_groups {
        let mut curr = r.bits(5) as i32;
        for len in lengths.iter_mut().take(alpha_size) {
            loop {
                if !(1..=MAX_LEN as i32).contains(&curr) {
                    return corrupt("invalid Huffman code length");
                }
                if !r.bit() {
                    break;
                }
                if r.bit() {
                    curr -= 1;
                } else {
                    curr += 1;
                }
            }
            *len = curr as u8;
        }
        if r.overrun() {
            return Err(BlockError::NeedMore);
        }
        s.tables[t]
            .build(&lengths[..alpha_size])
            .map_err(|e| BlockError::Corrupt(e.into()))?;
    }

    // Symbols: runs of the front byte (RUNA/RUNB, bijective base 2) and move-to-front
    // indices. The bytes go straight into the low 8 bits of tt.
    let eob = (n_in_use + 1) as u16;
    let mut mtf = seq_to_unseq;
    let mut counts = [0u32; 256];
    s.tt.clear();
    s.tt.reserve(MAX_BLOCK);
    let tt = &mut s.tt;
    let mut run: usize = 0;
    let mut run_weight: usize = 1;
    let mut group = 0usize;
    let mut left_in_group = 0usize;
    let mut table = &s.tables[0];
    loop {
        if left_in_group == 0 {
            if r.overrun() {
                return Err(BlockError::NeedMore);
            }
            let Some(&sel) = s.selectors.get(group) else {
                return corrupt("more symbol groups than selectors");
            };
            if sel as usize >= n_groups {
                return corrupt("selector out of range");
            }
            table = &s.tables[sel as usize];
            group += 1;
            left_in_group = GROUP_SIZE;
        }
        left_in_group -= 1;
        let sym = table.decode(r).map_err(|e| BlockError::Corrupt(e.into()))?;
        if sym <= 1 {
            run += run_weight << sym;
            run_weight <<= 1;
            if run_weight > 2 * 1024 * 1024 {
                return corrupt("run too long");
            }
            continue;
        }
        if run > 0 {
            if tt.len() + run > MAX_BLOCK {
                return corrupt("block longer than 900000 bytes");
            }
            let b = mtf[0];
            counts[b as usize] += run as u32;
            tt.resize(tt.len() + run, b as u32);
            run = 0;
            run_weight = 1;
        }
        if sym == eob {
            break;
        }
        if sym > eob {
            return corrupt("symbol out of range");
        }
        let v = (sym - 1) as usize;
        let b = mtf[v];
        move_to_front(&mut mtf, v);
        counts[b as usize] += 1;
        if tt.len() >= MAX_BLOCK {
            return corrupt("block longer than 900000 bytes");
        }
        tt.push(b as u32);
    }
    let n = tt.len();
    if orig_ptr >= n {
        return corrupt("original pointer out of range");
    }

    // Inverse BWT: link each position to the next output position in the high 24 bits.
    let mut cftab = [0u32; 256];
    let mut sum = 0u32;
    for (c, &k) in cftab.iter_mut().zip(counts.iter()) {
        *c = sum;
        sum += k;
    }
    for i in 0..n {
        let b = (tt[i] & 0xff) as usize;
        let dst = cftab[b] as usize;
        cftab[b] += 1;
        tt[dst] |= (i as u32) << 8;
    }
    let mut pre = Vec::with_capacity(n);
    let mut t_pos = tt[orig_ptr] >> 8;
    for _ in 0..n {
        let e = tt[t_pos as usize];
        pre.push(e as u8);
        t_pos = e >> 8;
    }
    if randomised {
        derandomise(&mut pre);
    }

    // Final run-length expansion, CRC over the result.
    let mut crc = Crc::default();
    let mut rle = Rle1::new(pre);
    let mut plain = Vec::with_capacity(n + n / 16);
    let fits = rle.fill_vec(&mut plain, KEEP_EXPANDED);
    let data = if fits {
        crc.update(&plain);
        Output::Plain(plain)
    } else {
        crc.update(&plain);
        drop(plain);
        loop {
            let k = rle.fill(&mut s.crc_buf);
            if k == 0 {
                break;
            }
            crc.update(&s.crc_buf[..k]);
        }
        rle.rewind();
        Output::Runs(rle)
    };
    let computed = crc.finish();
    if computed != stored_crc {
        return corrupt(format!(
            "block CRC mismatch (stored {stored_crc:08x}, computed {computed:08x})"
        ));
    }
    Ok(Decoded {
        data,
        bwt_len: n,
        crc: computed,
    })
}

/// Moves `mtf[v]` to the front. Indices are mostly small, so a plain loop beats a call to
/// memmove (musl's is slow for these sizes).
#[inline(always)]
fn move_to_front(mtf: &mut [u8; 256], v: usize) {
    let b = mtf[v];
    if v < 16 {
        let mut i = v;
        while i > 0 {
            mtf[i] = mtf[i - 1];
            i -= 1;
        }
    } else {
        mtf.copy_within(0..v, 1);
    }
    mtf[0] = b;
}

/// Undoes the "randomised" flag of blocks written by bzip2 0.9.0 (never set by later
/// versions): byte positions given by a fixed table were XORed with 1.
fn derandomise(pre: &mut [u8]) {
    let mut to_go: u32 = 0;
    let mut t_pos = 0usize;
    for b in pre.iter_mut() {
        if to_go == 0 {
            to_go = RNUMS[t_pos] as u32;
            t_pos = (t_pos + 1) % 512;
        }
        to_go -= 1;
        if to_go == 1 {
            *b ^= 1;
        }
    }
}

#[rustfmt::skip]
static RNUMS: [u16; 512] = [
    619, 720, 127, 481, 931, 816, 813, 233, 566, 247, 985, 724, 205, 454, 863, 491, 741, 242, 949,
    214, 733, 859, 335, 708, 621, 574, 73, 654, 730, 472, 419, 436, 278, 496, 867, 210, 399, 680,
    480, 51, 878, 465, 811, 169, 869, 675, 611, 697, 867, 561, 862, 687, 507, 283, 482, 129, 807,
    591, 733, 623, 150, 238, 59, 379, 684, 877, 625, 169, 643, 105, 170, 607, 520, 932, 727, 476,
    693, 425, 174, 647, 73, 122, 335, 530, 442, 853, 695, 249, 445, 515, 909, 545, 703, 919, 874,
    474, 882, 500, 594, 612, 641, 801, 220, 162, 819, 984, 589, 513, 495, 799, 161, 604, 958, 533,
    221, 400, 386, 867, 600, 782, 382, 596, 414, 171, 516, 375, 682, 485, 911, 276, 98, 553, 163,
    354, 666, 933, 424, 341, 533, 870, 227, 730, 475, 186, 263, 647, 537, 686, 600, 224, 469, 68,
    770, 919, 190, 373, 294, 822, 808, 206, 184, 943, 795, 384, 383, 461, 404, 758, 839, 887, 715,
    67, 618, 276, 204, 918, 873, 777, 604, 560, 951, 160, 578, 722, 79, 804, 96, 409, 713, 940,
    652, 934, 970, 447, 318, 353, 859, 672, 112, 785, 645, 863, 803, 350, 139, 93, 354, 99, 820,
    908, 609, 772, 154, 274, 580, 184, 79, 626, 630, 742, 653, 282, 762, 623, 680, 81, 927, 626,
    789, 125, 411, 521, 938, 300, 821, 78, 343, 175, 128, 250, 170, 774, 972, 275, 999, 639, 495,
    78, 352, 126, 857, 956, 358, 619, 580, 124, 737, 594, 701, 612, 669, 112, 134, 694, 363, 992,
    809, 743, 168, 974, 944, 375, 748, 52, 600, 747, 642, 182, 862, 81, 344, 805, 988, 739, 511,
    655, 814, 334, 249, 515, 897, 955, 664, 981, 649, 113, 974, 459, 893, 228, 433, 837, 553, 268,
    926, 240, 102, 654, 459, 51, 686, 754, 806, 760, 493, 403, 415, 394, 687, 700, 946, 670, 656,
    610, 738, 392, 760, 799, 887, 653, 978, 321, 576, 617, 626, 502, 894, 679, 243, 440, 680, 879,
    194, 572, 640, 724, 926, 56, 204, 700, 707, 151, 457, 449, 797, 195, 791, 558, 945, 679, 297,
    59, 87, 824, 713, 663, 412, 693, 342, 606, 134, 108, 571, 364, 631, 212, 174, 643, 304, 329,
    343, 97, 430, 751, 497, 314, 983, 374, 822, 928, 140, 206, 73, 263, 980, 736, 876, 478, 430,
    305, 170, 514, 364, 692, 829, 82, 855, 953, 676, 246, 369, 970, 294, 750, 807, 827, 150, 790,
    288, 923, 804, 378, 215, 828, 592, 281, 565, 555, 710, 82, 896, 831, 547, 261, 524, 462, 293,
    465, 502, 56, 661, 821, 976, 991, 658, 869, 905, 758, 745, 193, 768, 550, 608, 933, 378, 286,
    215, 979, 792, 961, 61, 688, 793, 644, 986, 403, 106, 366, 905, 644, 372, 567, 466, 434, 645,
    210, 389, 550, 919, 135, 780, 773, 635, 389, 707, 100, 626, 958, 165, 504, 920, 176, 193, 713,
    857, 265, 203, 50, 668, 108, 645, 990, 626, 197, 510, 357, 358, 850, 858, 364, 936, 638,
];
