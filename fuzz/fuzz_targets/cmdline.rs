#![no_main]
//! The kernel command line parser and settings resolution never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = rdinstall::settings::cmdline::parse(text) {
            let _ = rdinstall::settings::Settings::resolve(&[c.layer], true);
        }
    }
});
