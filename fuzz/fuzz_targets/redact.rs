#![no_main]
//! `redact::text` never panics, is stable (redacting twice changes nothing more), and a
//! URL's password or a credential query value put anywhere between words never survives.
use libfuzzer_sys::fuzz_target;

#[path = "shared/insertion.rs"]
mod insertion;

const MARK: &str = "Pw9SeCrEtMark";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let once = rdinstall::redact::text(text);
    assert_eq!(
        rdinstall::redact::text(&once),
        once,
        "not stable for {text:?}"
    );
    // The property is about the inserted secret: an input that already holds the marker
    // (the fuzzer learns it from the comparisons) uses it as ordinary text.
    if text.contains(MARK) {
        return;
    }
    let Some((before, after)) = insertion::split_at_chosen(text) else {
        return;
    };
    for url in [
        format!("http://user:{MARK}@host/p"),
        format!("https://h:1/p?a=1&X-Amz-Signature={MARK}&b=2"),
        format!("http://h/p?token={MARK}"),
    ] {
        let line = format!("{before} {url} {after}");
        let r = rdinstall::redact::text(&line);
        assert!(!r.contains(MARK), "{MARK} survived in {r:?}");
    }
});
