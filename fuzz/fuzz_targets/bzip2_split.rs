#![no_main]
//! The bzip2 block splitter and the parallel decoder on untrusted bytes: no panics, and a
//! stream either decodes or fails cleanly.
use libfuzzer_sys::fuzz_target;
use std::io::Read;

fuzz_target!(|data: &[u8]| {
    let _ = rdinstall::image::bzip2par::split_blocks(data);
    let mut r = rdinstall::image::bzip2par::reader(std::io::Cursor::new(data.to_vec()), 2);
    let mut sink = Vec::new();
    let _ = r.read_to_end(&mut sink);
});
