//! bzip2's first (and, when decoding, last) run-length stage: after four equal bytes the
//! next byte is a count (0..=255) of further copies. Expanded lazily so a block of zeros
//! (900 kB in, ~45 MB out) never sits in memory expanded.

pub struct Rle1 {
    pre: Vec<u8>,
    pos: usize,
    /// Bytes of the current run still to emit.
    pending: usize,
    pending_byte: u8,
    /// The last literal byte and how many times in a row it was seen (0..=4).
    last: u8,
    same: u8,
    /// The block ended right after four equal bytes, where a count must follow.
    missing_count: bool,
}

impl Rle1 {
    pub fn new(pre: Vec<u8>) -> Rle1 {
        Rle1 {
            pre,
            pos: 0,
            pending: 0,
            pending_byte: 0,
            last: 0,
            same: 0,
            missing_count: false,
        }
    }

    /// The inverse-BWT output, for reuse.
    pub fn into_inner(self) -> Vec<u8> {
        self.pre
    }

    /// Starts the expansion over from the beginning.
    pub fn rewind(&mut self) {
        let pre = std::mem::take(&mut self.pre);
        *self = Rle1::new(pre);
    }

    /// Expands into `out` (appending) until done or `out` would exceed `cap` bytes.
    /// Returns true when everything was expanded.
    pub fn fill_vec(&mut self, out: &mut Vec<u8>, cap: usize) -> bool {
        loop {
            let start = out.len();
            let room = (cap - start).min(256 * 1024);
            if room == 0 {
                return self.is_done();
            }
            out.resize(start + room, 0);
            let k = self.fill(&mut out[start..]);
            out.truncate(start + k);
            if k == 0 {
                return true;
            }
        }
    }

    /// True once the expansion has reached the end of a block whose last four bytes are
    /// equal with no count after them. The reference decoder rejects such a block (data
    /// error); the compressor never makes one (it writes a count of 0).
    pub fn missing_count(&self) -> bool {
        self.missing_count
    }

    pub fn is_done(&self) -> bool {
        self.pending == 0 && self.pos >= self.pre.len()
    }

    /// Writes the next expanded bytes into `out`; returns how many (0 = finished).
    pub fn fill(&mut self, out: &mut [u8]) -> usize {
        let mut o = 0;
        loop {
            if self.pending > 0 {
                let k = self.pending.min(out.len() - o);
                out[o..o + k].fill(self.pending_byte);
                o += k;
                self.pending -= k;
                if self.pending > 0 {
                    return o;
                }
            }
            if o == out.len() || self.pos >= self.pre.len() {
                return o;
            }
            // Literal stretch: copy bytes until a fourth equal byte (then a count follows).
            let pre = &self.pre[self.pos..];
            let room = out.len() - o;
            let mut i = 0;
            let limit = pre.len().min(room);
            let (mut last, mut same) = (self.last, self.same);
            while i < limit {
                let c = pre[i];
                if c == last {
                    same += 1;
                } else {
                    last = c;
                    same = 1;
                }
                i += 1;
                if same == 4 {
                    break;
                }
            }
            out[o..o + i].copy_from_slice(&pre[..i]);
            o += i;
            self.pos += i;
            self.last = last;
            self.same = same;
            if same == 4 {
                // The count byte (absent when the block ends right after the four bytes).
                match self.pre.get(self.pos) {
                    Some(&count) => {
                        self.pos += 1;
                        self.pending = count as usize;
                        self.pending_byte = last;
                    }
                    None => self.missing_count = true,
                }
                self.same = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_all(pre: &[u8], step: usize) -> Vec<u8> {
        let mut r = Rle1::new(pre.to_vec());
        let mut out = Vec::new();
        let mut buf = vec![0u8; step];
        loop {
            let k = r.fill(&mut buf);
            if k == 0 {
                break;
            }
            out.extend_from_slice(&buf[..k]);
        }
        out
    }

    #[test]
    fn expands_runs_across_buffer_sizes() {
        let pre = [
            1u8, 2, 2, 2, 2, 3, 5, 5, 5, 5, 0, 7, 7, 7, 7, 7, 9, 9, 9, 9, 255, 9, 4, 4, 4, 4,
        ];
        let mut want = vec![1u8];
        want.extend([2; 7]);
        want.extend([5; 4]);
        want.extend([7; 4 + 7]);
        want.extend([9; 4 + 255]);
        want.push(9); // after a count the next byte starts afresh
        want.extend([4; 4]); // block ends without a count byte (flagged)
        for step in [1, 2, 3, 5, 64, 4096] {
            assert_eq!(expand_all(&pre, step), want, "step {step}");
        }
        let mut r = Rle1::new(pre.to_vec());
        let mut v = Vec::new();
        assert!(!r.fill_vec(&mut v, 10));
        r.rewind();
        let mut v = Vec::new();
        assert!(r.fill_vec(&mut v, 1000));
        assert_eq!(v, want);
        assert!(r.missing_count());
        let mut r = Rle1::new(vec![4, 4, 4, 4, 0]);
        assert!(r.fill_vec(&mut Vec::new(), 1000));
        assert!(!r.missing_count());
    }
}
