#![no_main]
//! The whole parallel bzip2 decoder (splitter, workers, block decoder, in-order consumer)
//! against libbzip2 itself, on untrusted bytes: the same output, or both reject.
//!
//! The oracle decodes stream after stream as `bzip2 -d` does; what follows the last stream
//! must be another stream (rdinstall rejects trailing garbage; `bzip2 -d` only warns).
//! Outputs are compared up to CAP bytes: a few bytes of bzip2 can ask for gigabytes.
use libfuzzer_sys::fuzz_target;
use std::io::Read;

const CAP: usize = 4 << 20;

enum Oracle {
    /// Decoded completely (at most CAP bytes).
    Ok(Vec<u8>),
    /// More than CAP bytes; here are the first CAP, and nothing is known about the rest.
    Capped(Vec<u8>),
    /// An error, after these bytes.
    Rejected(Vec<u8>),
}

fn libbzip2(data: &[u8]) -> Oracle {
    use bzip2_sys::*;
    let mut out = Vec::new();
    let mut pos = 0;
    let mut buf = vec![0u8; 1 << 16];
    if data.is_empty() {
        return Oracle::Rejected(out);
    }
    while pos < data.len() {
        // SAFETY: a zeroed bz_stream is how libbzip2 expects to be initialised; the
        // pointers handed over stay valid (and unaliased) for each call.
        unsafe {
            let mut s: bz_stream = std::mem::zeroed();
            assert_eq!(BZ2_bzDecompressInit(&mut s, 0, 0), BZ_OK);
            s.next_in = data[pos..].as_ptr() as *mut _;
            s.avail_in = (data.len() - pos) as u32;
            let verdict = loop {
                s.next_out = buf.as_mut_ptr() as *mut _;
                s.avail_out = buf.len() as u32;
                let r = BZ2_bzDecompress(&mut s);
                let produced = buf.len() - s.avail_out as usize;
                out.extend_from_slice(&buf[..produced]);
                if out.len() > CAP {
                    out.truncate(CAP);
                    break Some(Oracle::Capped(std::mem::take(&mut out)));
                }
                if r == BZ_STREAM_END {
                    pos = data.len() - s.avail_in as usize;
                    break None;
                }
                if r != BZ_OK || (s.avail_in == 0 && produced == 0) {
                    break Some(Oracle::Rejected(std::mem::take(&mut out)));
                }
            };
            BZ2_bzDecompressEnd(&mut s);
            if let Some(v) = verdict {
                return v;
            }
        }
    }
    Oracle::Ok(out)
}

/// Ours: the bytes it gave (at most CAP + 1) and whether it ended cleanly.
fn ours(data: &[u8]) -> (Vec<u8>, bool) {
    let mut r = rdinstall::image::bzip2par::reader(std::io::Cursor::new(data.to_vec()), 2);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > CAP {
                    return (out, true);
                }
            }
            Err(_) => return (out, false),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (got, clean) = ours(data);
    match libbzip2(data) {
        Oracle::Ok(want) => {
            assert!(clean, "libbzip2 decodes this, rdinstall rejects it");
            assert!(
                got == want,
                "different output ({} vs {} bytes)",
                got.len(),
                want.len()
            );
        }
        // libbzip2 emits a block before checking its CRC; rdinstall checks first. So
        // rdinstall may stop earlier, but never with different bytes.
        Oracle::Rejected(want) => {
            assert!(!clean, "libbzip2 rejects this, rdinstall decodes it");
            assert!(
                got.len() <= want.len() && got[..] == want[..got.len()],
                "different bytes before the error"
            );
        }
        Oracle::Capped(want) => {
            let n = got.len().min(want.len());
            assert!(
                got[..n] == want[..n],
                "different output within the first {n} bytes"
            );
        }
    }
});
