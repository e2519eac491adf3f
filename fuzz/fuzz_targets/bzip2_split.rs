#![no_main]
//! The bzip2 block splitter on untrusted bytes: no panics, boundaries in order and in range.
//! (The threaded decoder behind it is exercised by tests/bzip2_parallel.rs with 300 randomly
//! damaged streams; spawning its threads per input would measure thread churn, not the code.)
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rdinstall::image::bzip2par::split_blocks(data);
});
