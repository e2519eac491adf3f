#![no_main]
//! The cloud-config validator never panics and never echoes the config.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rdinstall::config::validate(data, "fuzz");
});
