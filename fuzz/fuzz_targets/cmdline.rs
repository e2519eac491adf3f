#![no_main]
//! The kernel command line parser and settings resolution never panic, and a report token
//! given on the line never shows in what rdinstall prints: errors, `rdinstall cmdline`'s
//! JSON (redacted as app.rs does).
use libfuzzer_sys::fuzz_target;

#[path = "shared/insertion.rs"]
mod insertion;

const MARK: &str = "Zq9SeCrEtTokenzQ";

fn check(line: &str, token_given: bool) {
    match rdinstall::settings::cmdline::parse(line) {
        Ok(c) => match rdinstall::settings::Settings::resolve(&[c.layer], true) {
            Ok(s) => {
                let mut v = serde_json::to_value(&s).unwrap();
                rdinstall::redact::json(&mut v);
                let out = v.to_string();
                let is_token = s.report_token.as_ref().is_some_and(|t| t.expose() == MARK);
                if is_token {
                    assert!(!out.contains(MARK), "token in cmdline output: {out}");
                    assert!(!format!("{s:?}").contains(MARK), "token in Debug");
                }
            }
            Err(e) => {
                if token_given {
                    let m = e.to_string();
                    assert!(!m.contains(MARK), "token in error: {m}");
                }
            }
        },
        Err(e) => {
            if token_given {
                let m = e.to_string();
                assert!(!m.contains(MARK), "token in error: {m}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check(text, false);
    // The same line with the token parameter inserted at a fuzzer-chosen place.
    // The property is about the inserted secret: an input that already holds the marker
    // (the fuzzer learns it from the comparisons; quotes vanish in parsing) uses it as
    // ordinary text.
    if text.replace('"', "").contains(MARK) {
        return;
    }
    let Some((before, after)) = insertion::split_at_chosen(text) else {
        return;
    };
    let line = format!("{before} rdinstall.report_token={MARK} {after}");
    check(&line, true);
});
