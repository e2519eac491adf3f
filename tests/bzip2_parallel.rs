//! The parallel bzip2 decoder against real `bzip2` output: round trips over sizes, levels and
//! data kinds, several streams, thread counts; corrupt, truncated and padded inputs must
//! fail instead of producing wrong data; false block boundaries must not change anything.

use std::io::{Cursor, Read, Write};
use std::process::{Command, Stdio};

use rdinstall::image::bzip2par::{self, Boundary, Kind, BLOCK_MAGIC, EOS_MAGIC};

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Text-like data: words from a small vocabulary with numbers, compresses like logs/configs.
fn text(len: usize, seed: u64) -> Vec<u8> {
    let words = [
        "usr", "lib", "share", "config", "the", "and", "linux", "kernel", "module", "=", "\n", "#",
        "0x", "void", "return", "int", "static", "{", "}", "\t",
    ];
    let r = noise(len / 2 + 16, seed);
    let mut out = Vec::with_capacity(len + 16);
    let mut i = 0;
    while out.len() < len {
        let w = words[r[i % r.len()] as usize % words.len()];
        out.extend_from_slice(w.as_bytes());
        if r[(i + 1) % r.len()].is_multiple_of(3) {
            out.extend_from_slice(format!("{}", r[(i + 2) % r.len()]).as_bytes());
        }
        out.push(b' ');
        i += 3;
    }
    out.truncate(len);
    out
}

/// A disk-image-like mix: random (compressed files), text, zero runs, repeated patterns.
fn mixed(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut k = 0u64;
    while out.len() < len {
        let part = 50_000 + (seed.wrapping_mul(31).wrapping_add(k * 7919) % 300_000) as usize;
        match k % 4 {
            0 => out.extend(noise(part, seed + k)),
            1 => out.extend(text(part, seed + k)),
            2 => out.resize(out.len() + part * 3, 0),
            _ => out.extend((0..part).map(|i| (i % 251) as u8)),
        }
        k += 1;
    }
    out.truncate(len);
    out
}

fn bzip2(data: &[u8], level: u32) -> Vec<u8> {
    let mut child = Command::new("bzip2")
        .arg(format!("-{level}"))
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running bzip2 (apt-get install bzip2)");
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    feeder.join().unwrap();
    assert!(child.wait().unwrap().success());
    out
}

fn decode(bz: &[u8], threads: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    bzip2par::reader(Cursor::new(bz.to_vec()), threads).read_to_end(&mut out)?;
    Ok(out)
}

/// Decodes and expects an InvalidData error; whatever came out before it must be a prefix
/// of `original` (an error may come late, but never after wrong bytes).
fn expect_error(bz: &[u8], original: &[u8], threads: usize, what: &str) -> String {
    let mut r = bzip2par::reader(Cursor::new(bz.to_vec()), threads);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => panic!("{what}: decoded without error ({} bytes)", out.len()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{what}: {e}");
                let msg = e.to_string();
                assert!(msg.starts_with("bzip2: "), "{what}: {msg}");
                // The error sticks.
                assert!(r.read(&mut buf).is_err(), "{what}: second read succeeded");
                assert!(
                    out.len() <= original.len() && out[..] == original[..out.len()],
                    "{what}: wrong bytes before the error"
                );
                return msg;
            }
        }
    }
}

fn real_boundaries(bz: &[u8]) -> Vec<Boundary> {
    bzip2par::split_blocks(bz)
}

#[test]
fn round_trips_sizes_and_data_kinds() {
    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        ("empty", Vec::new(), 9),
        ("one byte", vec![42], 9),
        ("four equal bytes", vec![7; 4], 9),
        ("five equal bytes", vec![7; 5], 1),
        ("one full block", noise(899_000, 1), 9),
        ("just over one block", noise(900_100, 2), 9),
        ("many blocks", mixed(6_000_000, 3), 1),
        ("text", text(2_500_000, 4), 9),
        (
            "all 256 byte values",
            (0..=255u8).cycle().take(300_000).collect(),
            2,
        ),
        ("zeros", vec![0; 30_000_000], 9),
        ("random", noise(2_000_000, 5), 5),
    ];
    for (name, data, level) in &cases {
        let bz = bzip2(data, *level);
        let got = decode(&bz, 2).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(got == *data, "{name}: output differs");
    }
}

#[test]
fn every_level_decodes() {
    let data = mixed(1_500_000, 11);
    for level in 1..=9 {
        let bz = bzip2(&data, level);
        assert!(decode(&bz, 3).unwrap() == data, "level {level}");
    }
}

#[test]
fn thread_counts_give_identical_output() {
    let data = mixed(4_000_000, 21);
    let bz = bzip2(&data, 2);
    for threads in [0, 1, 2, 3, 4] {
        assert!(decode(&bz, threads).unwrap() == data, "{threads} threads");
    }
}

#[test]
fn concatenated_streams_decode_in_order() {
    // Two files concatenated, and pbzip2-style output (each piece its own stream, with
    // different levels and an empty stream in between).
    let a = mixed(1_200_000, 31);
    let b = text(700_000, 32);
    let mut bz = bzip2(&a, 9);
    bz.extend(bzip2(&b, 9));
    let mut want = a.clone();
    want.extend(&b);
    assert!(decode(&bz, 2).unwrap() == want);

    let data = mixed(3_000_000, 33);
    let mut bz = Vec::new();
    for (i, piece) in data.chunks(400_000).enumerate() {
        bz.extend(bzip2(piece, 1 + (i as u32 % 9)));
        if i == 2 {
            bz.extend(bzip2(&[], 9));
        }
    }
    assert!(decode(&bz, 4).unwrap() == data);
}

#[test]
fn corruption_in_any_block_is_an_error() {
    let data = mixed(2_500_000, 41);
    let bz = bzip2(&data, 1);
    let blocks: Vec<u64> = real_boundaries(&bz)
        .into_iter()
        .filter(|b| b.kind == Kind::Block)
        .map(|b| b.bit)
        .collect();
    assert!(
        blocks.len() >= 5,
        "expected several blocks, got {}",
        blocks.len()
    );
    let ends: Vec<u64> = blocks[1..]
        .iter()
        .copied()
        .chain([real_boundaries(&bz).last().unwrap().bit])
        .collect();
    for (i, (&start, &end)) in blocks.iter().zip(&ends).enumerate() {
        // A bit in the stored CRC, one in the tables, one in the middle, one near the end.
        for bit in [start + 48 + 5, start + 200, (start + end) / 2, end - 3] {
            let mut bad = bz.clone();
            bad[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
            expect_error(&bad, &data, 2, &format!("block {i} bit {bit}"));
        }
    }
    // The stream CRC.
    let eos = real_boundaries(&bz).last().unwrap().bit;
    let mut bad = bz.clone();
    let bit = eos + 48 + 10;
    bad[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
    let msg = expect_error(&bad, &data, 2, "stream CRC");
    assert!(msg.contains("stream CRC"), "{msg}");
}

#[test]
fn truncated_input_is_an_error() {
    let data = mixed(1_500_000, 51);
    let bz = bzip2(&data, 1);
    let n = bz.len();
    for cut in [0, 2, 4, 10, n / 3, n / 2, n - 20, n - 5, n - 1] {
        expect_error(&bz[..cut], &data, 2, &format!("cut at {cut} of {n}"));
    }
    // A header alone.
    expect_error(b"BZh9", &[], 1, "header only");
}

#[test]
fn anything_after_the_last_stream_is_an_error() {
    let data = text(300_000, 61);
    let bz = bzip2(&data, 9);
    let mut tails: Vec<Vec<u8>> = vec![
        vec![0],
        vec![0; 4],
        vec![0; 4096],
        b"garbage".to_vec(),
        b"BZh9".to_vec(),
        b"BZh".to_vec(),
        noise(5_000_000, 62),
    ];
    // A block magic right where the next header should be.
    tails.push(BLOCK_MAGIC.to_be_bytes()[2..].to_vec());
    for tail in &tails {
        let mut bad = bz.clone();
        bad.extend(tail);
        expect_error(&bad, &data, 2, &format!("tail of {} bytes", tail.len()));
    }
    // Zero padding to a 512-byte boundary, like a disk or tape would add.
    let mut bad = bz.clone();
    bad.resize(bz.len().div_ceil(512) * 512 + 512, 0);
    let msg = expect_error(&bad, &data, 2, "zero padding");
    assert!(msg.contains("after the end"), "{msg}");
}

#[test]
fn bad_magic_is_an_error() {
    for input in [&b"BZh0xxxxxxxx"[..], b"\x1f\x8b\x08\x00", b"", b"BZ"] {
        expect_error(input, &[], 1, &format!("{input:?}"));
    }
    let msg = expect_error(b"PK\x03\x04 not bzip2 at all", &[], 1, "zip");
    assert!(msg.contains("not a bzip2 stream"), "{msg}");
}

#[test]
fn false_boundaries_never_change_the_output() {
    let a = mixed(2_000_000, 71);
    let b = text(500_000, 72);
    let mut bz = bzip2(&a, 2);
    bz.extend(bzip2(&b, 9));
    let mut want = a.clone();
    want.extend(&b);
    let real = real_boundaries(&bz);
    assert_eq!(
        real.iter().filter(|b| b.kind == Kind::EndOfStream).count(),
        2
    );
    // False candidates inside every block (near its start, middle and end), inside the
    // stream CRC, inside the second stream's header, and several in a row.
    let mut extra = Vec::new();
    for w in real.windows(2) {
        let (start, end) = (w[0].bit, w[1].bit);
        for (k, at) in [start + 1, start + 60, (start + end) / 2, end - 1]
            .iter()
            .enumerate()
        {
            let kind = if k % 2 == 0 {
                Kind::Block
            } else {
                Kind::EndOfStream
            };
            extra.push(Boundary { bit: *at, kind });
        }
    }
    let first_eos = real
        .iter()
        .find(|b| b.kind == Kind::EndOfStream)
        .unwrap()
        .bit;
    for at in [first_eos + 50, first_eos + 90, first_eos + 100] {
        extra.push(Boundary {
            bit: at,
            kind: Kind::Block,
        });
    }
    extra.push(Boundary {
        bit: 9,
        kind: Kind::Block,
    });
    for threads in [1, 2, 4] {
        let mut out = Vec::new();
        bzip2par::reader_with_false_boundaries(Cursor::new(bz.clone()), threads, extra.clone())
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{threads} threads: {e}"));
        assert!(out == want, "{threads} threads: output differs");
    }
    // And with false boundaries, corruption is still caught.
    let mut bad = bz.clone();
    let mid = (real[1].bit + real[2].bit) / 2;
    bad[(mid / 8) as usize] ^= 0x10;
    let mut out = Vec::new();
    let err = bzip2par::reader_with_false_boundaries(Cursor::new(bad), 2, extra)
        .read_to_end(&mut out)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn splitter_finds_exactly_the_real_boundaries() {
    let data = mixed(3_000_000, 81);
    let bz = bzip2(&data, 3);
    let found = real_boundaries(&bz);
    // Every candidate reads back as its magic, the last is the end of stream, and the
    // block count matches what the decoder sees (3 blocks of 300 kB or more).
    for b in &found {
        let bit = b.bit as usize;
        let mut v = 0u64;
        for k in 0..48 {
            let p = bit + k;
            v = (v << 1) | ((bz[p / 8] >> (7 - p % 8)) & 1) as u64;
        }
        let want = if b.kind == Kind::Block {
            BLOCK_MAGIC
        } else {
            EOS_MAGIC
        };
        assert_eq!(v, want);
    }
    assert_eq!(found.last().unwrap().kind, Kind::EndOfStream);
    assert_eq!(found[0].bit, 32);
    assert!(found.len() > 4);
}

#[test]
fn damaged_streams_fail_cleanly_never_panic() {
    // Random bit flips and overwritten ranges anywhere (headers, tables, data, markers).
    // Each must decode to the original (a flip in padding) or fail with InvalidData; a
    // panic in a decoder thread would show as "a decoder thread failed" (and abort the
    // release build, which uses panic=abort).
    let data = mixed(400_000, 91);
    let bz = bzip2(&data, 1);
    let r = noise(4096, 92);
    for i in 0..300 {
        let mut bad = bz.clone();
        let at = (u32::from_le_bytes([r[i], r[i + 1], r[i + 2], r[i + 3]]) as usize) % bad.len();
        if i % 3 == 0 {
            let end = (at + 1 + r[i + 5] as usize).min(bad.len());
            bad[at..end].copy_from_slice(&noise(end - at, i as u64));
        } else {
            for k in 0..(1 + i % 8) {
                let p = (at + k * 977) % bad.len();
                bad[p] ^= 1 << (r[i + k] % 8);
            }
        }
        match decode(&bad, 1 + i % 3) {
            Ok(out) => assert!(out == data, "case {i}: wrong output without an error"),
            Err(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "case {i}: {e}");
                assert!(!e.to_string().contains("thread failed"), "case {i}: {e}");
            }
        }
    }
    // The splitter on arbitrary bytes.
    for i in 0..50 {
        let junk = noise(10_000 + i * 37, 100 + i as u64);
        let _ = bzip2par::split_blocks(&junk);
    }
}

/// Inputs the differential fuzz target (fuzz/fuzz_targets/bzip2_decode.rs) found where
/// rdinstall and libbzip2 disagreed: now both decode the same bytes, or both reject.
#[test]
fn fuzz_regressions_agree_with_the_reference_bzip2() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("bzip2_decode-") {
            continue;
        }
        seen += 1;
        let input = std::fs::read(&path).unwrap();
        let reference = Command::new("bzip2")
            .arg("-dc")
            .arg(&path)
            .output()
            .expect("running bzip2");
        let ours = decode(&input, 2);
        match ours {
            Ok(out) => {
                assert!(
                    reference.status.success(),
                    "{name}: only rdinstall decodes it"
                );
                assert!(out == reference.stdout, "{name}: different bytes");
            }
            Err(e) => assert!(
                !reference.status.success(),
                "{name}: only bzip2 decodes it: {e}"
            ),
        }
    }
    assert!(seen > 0, "no regression inputs in {}", dir.display());
}
