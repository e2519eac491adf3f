//! Decoding of one bzip2 block: header, symbol map, selectors, Huffman tables, run-length
//! and move-to-front decoding, inverse Burrows-Wheeler transform, then the block CRC over
//! the fully expanded output. The final run-length stage is not kept expanded when it
//! would blow up (zero-filled disk areas grow ~50x): then the inverse-BWT output is kept
//! and expanded again as the consumer reads (see `rle`).

use super::bits::{BitReader, Chunk};
use super::crc::Crc;
use super::huffman::{Table, MAX_LEN};
use super::pool::Pool;
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
    /// Where output buffers come from (shared with the consumer, which hands them back).
    pool: Pool,
    /// The block after run-length and move-to-front decoding (the BWT's last column).
    ll: Vec<u8>,
    /// Inverse-BWT links: for each position, the next one along the output.
    tt: Vec<u32>,
    tables: Vec<Table>,
    selectors: Vec<u8>,
    /// Buffers for the pieces of the interleaved inverse-BWT walk.
    pieces: Vec<Vec<u8>>,
    crc_buf: Vec<u8>,
}

impl Scratch {
    pub fn with_pool(pool: Pool) -> Self {
        Scratch {
            pool,
            ll: Vec::new(),
            tt: Vec::new(),
            tables: (0..MAX_GROUPS).map(|_| Table::default()).collect(),
            selectors: Vec::new(),
            pieces: Vec::new(),
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
    // indices.
    let eob = (n_in_use + 1) as u16;
    let mut mtf = seq_to_unseq;
    let mut counts = [0u32; 256];
    // A slice and a local length rather than Vec::push: byte stores may alias a Vec's
    // length field, which would then be reloaded after every byte.
    if s.ll.len() < MAX_BLOCK {
        s.ll.resize(MAX_BLOCK, 0);
    }
    let ll = &mut s.ll[..MAX_BLOCK];
    let mut n = 0usize;
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
            if n + run > MAX_BLOCK {
                return corrupt("block longer than 900000 bytes");
            }
            let b = mtf[0];
            counts[b as usize] += run as u32;
            ll[n..n + run].fill(b);
            n += run;
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
        if n >= MAX_BLOCK {
            return corrupt("block longer than 900000 bytes");
        }
        ll[n] = b;
        n += 1;
    }
    if orig_ptr >= n {
        return corrupt("original pointer out of range");
    }

    // Inverse BWT: link each position to the next output position. Plain stores into
    // 256 ascending runs, no read-modify-write. Each entry also carries the byte its
    // position holds in the sorted first column (the byte being placed: `b`), which is the
    // byte the walk emits on arriving there, so the walk needs one random load per byte,
    // not two (bzip2's "fast" layout, with the first column instead of the last).
    let mut cftab = [0u32; 256];
    let mut sum = 0u32;
    for (c, &k) in cftab.iter_mut().zip(counts.iter()) {
        *c = sum;
        sum += k;
    }
    // No clearing: the loop below writes each of tt[..n] exactly once.
    if s.tt.len() < n {
        s.tt.resize(n, 0);
    }
    let tt = &mut s.tt[..n];
    let ll = &s.ll[..n];
    for (i, &b) in ll.iter().enumerate() {
        let dst = &mut cftab[b as usize];
        tt[*dst as usize] = ((i as u32) << 8) | b as u32;
        *dst += 1;
    }
    let mut pre = walk(tt, orig_ptr, &mut s.pieces, &s.pool);
    if randomised {
        derandomise(&mut pre);
    }

    // Final run-length expansion, CRC over the result.
    let mut crc = Crc::default();
    let mut rle = Rle1::new(pre);
    let mut plain = s.pool.take(n + n / 16);
    let fits = rle.fill_vec(&mut plain, KEEP_EXPANDED);
    let mut rle_missing_count = rle.missing_count();
    let data = if fits {
        crc.update(&plain);
        s.pool.give(rle.into_inner());
        Output::Plain(plain)
    } else {
        crc.update(&plain);
        s.pool.give(plain);
        loop {
            let k = rle.fill(&mut s.crc_buf);
            if k == 0 {
                break;
            }
            crc.update(&s.crc_buf[..k]);
        }
        rle_missing_count = rle.missing_count();
        rle.rewind();
        Output::Runs(rle)
    };
    if rle_missing_count {
        return corrupt("block ends inside a run-length code (four equal bytes, no count)");
    }
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

/// Chains walked at once by `walk`.
const CHAINS: usize = 8;
/// Chains `walk` starts at most. A block made of one long cycle needs a few dozen; a
/// periodic block (a disk image's free space) is thousands of short cycles, and walking
/// more of those than this only costs memory.
const MAX_PIECES: usize = 512;
/// Link entries: the byte in bits 0..8, the next position (below 2^20) in bits 8..28, and
/// two flags: where a chain starts, and entries some chain has passed.
const MARK: u32 = 1 << 31;
const VISITED: u32 = 1 << 30;
const LINK: u32 = ((1 << 20) - 1) << 8;

#[inline(always)]
fn next(e: u32) -> usize {
    ((e & LINK) >> 8) as usize
}

/// Follows the inverse-BWT links from `orig_ptr` for `n` steps, producing the block before
/// its final run-length expansion: each entry visited gives one byte and the next position.
///
/// The links form a permutation, but not always one cycle: when the block is periodic
/// (after bzip2's first run-length stage, a run of one byte becomes `b b b b 255` over and
/// over), equal rotations make several cycles, and the cycle through `orig_ptr` is one
/// period. The reference decoder simply takes `n` steps, going round that cycle again and
/// again; so does this walk, which is why no link structure is ever "corrupt" here (the
/// block CRC decides).
///
/// One step is a dependent load from a 3.6 MB array: memory latency, not work, sets the
/// speed. So CHAINS chains are walked at once: one from the true start, the others from
/// entries no chain has passed yet (a new one whenever one ends). Each chain stops where
/// another one started (those entries are marked); the pieces are then put in order by
/// which piece ends where, from `orig_ptr` round to it.
fn walk(
    tt: &mut [u32],
    orig_ptr: usize,
    spare_pieces: &mut Vec<Vec<u8>>,
    buffers: &Pool,
) -> Vec<u8> {
    let n = tt.len();
    if n < 64 * 1024 {
        let mut pre = buffers.take(n);
        let mut pos = orig_ptr;
        for _ in 0..n {
            let e = tt[pos];
            pre.push(e as u8);
            pos = next(e);
        }
        return pre;
    }
    struct Piece {
        start: usize,
        end: usize,
        out: Vec<u8>,
    }
    let mut pieces: Vec<Piece> = Vec::new();
    let mut active = [(0usize, 0usize); CHAINS]; // (piece, position)
    let mut k = 0;
    let mut steps = 0usize;
    // Starts a chain at `r` (not passed by any chain): marks it, takes its first step.
    let mut start = |r: usize,
                     tt: &mut [u32],
                     pieces: &mut Vec<Piece>,
                     active: &mut [(usize, usize); CHAINS],
                     k: &mut usize| {
        let e = tt[r];
        tt[r] = e | MARK | VISITED;
        let mut out = spare_pieces.pop().unwrap_or_default();
        out.clear();
        // The first chains usually cover most of the block; later ones are short.
        out.reserve(if pieces.len() < CHAINS {
            n / CHAINS
        } else {
            4096
        });
        out.push(e as u8);
        pieces.push(Piece {
            start: r,
            end: usize::MAX,
            out,
        });
        active[*k] = (pieces.len() - 1, next(e));
        *k += 1;
    };
    start(orig_ptr, tt, &mut pieces, &mut active, &mut k);
    for c in 1..CHAINS {
        let r = (c * n / CHAINS + 7) % n;
        if tt[r] & (MARK | VISITED) == 0 {
            start(r, tt, &mut pieces, &mut active, &mut k);
        }
    }
    steps += k;
    let mut rng = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while k > 0 {
        let mut j = 0;
        while j < k {
            let (piece, p) = active[j];
            let e = tt[p];
            if e & MARK != 0 {
                pieces[piece].end = p;
                k -= 1;
                active[j] = active[k];
                continue;
            }
            tt[p] = e | VISITED;
            pieces[piece].out.push(e as u8);
            active[j].1 = next(e);
            j += 1;
        }
        steps += k;
        // Keep CHAINS loads in flight: replace ended chains while much is left to walk.
        if k < CHAINS && n.saturating_sub(steps) > 16 * 1024 && pieces.len() < MAX_PIECES {
            for _ in 0..4 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let r = (rng % n as u64) as usize;
                if tt[r] & (MARK | VISITED) == 0 {
                    start(r, tt, &mut pieces, &mut active, &mut k);
                    steps += 1;
                    if k == CHAINS {
                        break;
                    }
                }
            }
        }
    }
    // Put the pieces in order: each ends where another one starts (every chain ran until it
    // met a marked start), so from `orig_ptr` this goes round its cycle back to it.
    let mut by_start: Vec<(usize, usize)> = pieces
        .iter()
        .enumerate()
        .map(|(i, pc)| (pc.start, i))
        .collect();
    by_start.sort_unstable();
    let mut pre = buffers.take(n);
    let mut i = 0;
    loop {
        let take = pieces[i].out.len().min(n - pre.len());
        pre.extend_from_slice(&pieces[i].out[..take]);
        let end = pieces[i].end;
        if end == orig_ptr || pre.len() == n {
            break;
        }
        let at = by_start
            .binary_search_by_key(&end, |&(st, _)| st)
            .expect("every chain ends at the start of another");
        i = by_start[at].1;
    }
    // A shorter cycle: n steps go round it again and again.
    while pre.len() < n {
        let more = pre.len().min(n - pre.len());
        pre.extend_from_within(..more);
    }
    // Hand the buffers back for the next block, but not huge ones (keeping every buffer
    // at its largest would hold megabytes per thread).
    for pc in pieces {
        if spare_pieces.len() < 4 * CHAINS && pc.out.capacity() <= MAX_BLOCK / 4 {
            spare_pieces.push(pc.out);
        }
    }
    pre
}

/// Moves `mtf[v]` to the front, shifting `mtf[..v]` up by one. This is the decoder's hot
/// spot: musl's memmove copies byte by byte when source and destination are misaligned,
/// so the shift is done here in 16-byte pieces.
#[inline(always)]
fn move_to_front(mtf: &mut [u8; 256], v: usize) {
    let b = mtf[v];
    let low = load16(mtf, 0);
    if v < 16 {
        // One 16-byte word: bytes 1..=v take their left neighbour, the rest stay.
        let shifted = low << 8;
        let keep_high = if v == 15 { 0 } else { !0u128 << (8 * (v + 1)) };
        let moved = (shifted & !keep_high) | (low & keep_high);
        store16(mtf, 0, (moved & !0xff) | b as u128);
        return;
    }
    // Top down, so no piece is overwritten before it is read. The lowest piece was loaded
    // first; storing it last also covers the remainder (its bytes end up where they must).
    let mut top = v;
    while top > 16 {
        let x = load16(mtf, top - 16);
        store16(mtf, top - 15, x);
        top -= 16;
    }
    store16(mtf, 1, low);
    mtf[0] = b;
}

#[inline(always)]
fn load16(a: &[u8; 256], at: usize) -> u128 {
    u128::from_le_bytes(a[at..at + 16].try_into().unwrap())
}

#[inline(always)]
fn store16(a: &mut [u8; 256], at: usize, v: u128) {
    a[at..at + 16].copy_from_slice(&v.to_le_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_to_front_matches_the_simple_definition() {
        let start: [u8; 256] = std::array::from_fn(|i| (i as u8).wrapping_mul(167));
        for v in 0..256 {
            let mut fast = start;
            move_to_front(&mut fast, v);
            let mut slow = start.to_vec();
            let b = slow.remove(v);
            slow.insert(0, b);
            assert_eq!(fast.to_vec(), slow, "v = {v}");
        }
    }
}
