#![no_main]
//! Superblock readers on untrusted bytes (an image's or an old disk's) never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rdinstall::boot::fsprobe::probe(data);
});
