#![no_main]
//! The settings YAML reader and resolution never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(l) = rdinstall::settings::yaml::parse(text, "fuzz") {
            let _ = rdinstall::settings::Settings::resolve(&[l], false);
        }
    }
});
