//! Secrets out of everything rdinstall prints or reports.
//!
//! One function, `text`, is applied to every line before it leaves the process (console,
//! /dev/kmsg, `--json`, HTTP events and their `log_tail`, `rdinstall cmdline`, dry runs):
//!
//! - the userinfo of a URL goes: `http://user:pass@host/` → `http://***@host/`;
//! - the values of query parameters whose names look like credentials (token, sig,
//!   signature, key, password, secret, auth, X-Amz-Signature, X-Amz-Credential, …) become
//!   `***`: presigned S3/GCS/Azure URLs carry their credentials there;
//! - any string registered with `register` (the report token) is replaced wherever it shows.
//!
//! Redaction is textual on purpose: error chains from the HTTP stack, the settings parser and
//! our own messages all quote URLs inside free text, and one pass over the final line catches
//! them wherever they came from.

use std::sync::Mutex;

/// What a redacted secret is replaced with.
pub const MASK: &str = "***";

/// Known secret values (the report token): replaced wherever they appear.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remember a secret value so that `text` masks it everywhere. Very short values are not
/// registered: masking every "a" in the output would make it unreadable and protect nothing.
pub fn register(secret: &str) {
    let s = secret.trim();
    if s.len() < 4 {
        return;
    }
    let mut v = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// Query parameter names whose values are credentials. Matched case-insensitively as a
/// substring of the name, so `X-Amz-Signature`, `X-Goog-Credential`, `access_token`, `sig`
/// (Azure SAS), `api_key`, `passwd` are all covered; masking a harmless value is cheap.
const SENSITIVE: &[&str] = &[
    "token",
    "sig",
    "key",
    "pass",
    "pwd",
    "secret",
    "auth",
    "credential",
    "session",
    "security",
];

pub fn is_sensitive_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SENSITIVE.iter().any(|s| n.contains(s))
}

/// Redact every URL inside `s`, every `report_token=` value and every registered secret.
pub fn text(s: &str) -> String {
    let mut out = token_assignments(&urls_in(s));
    let secrets = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// Redact every string inside a JSON value (plans and settings printed as JSON).
pub fn json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            let r = text(s);
            if r != *s {
                *s = r;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(json),
        serde_json::Value::Object(o) => o.values_mut().for_each(json),
        _ => {}
    }
}

/// `report_token=VALUE` (or `report-token=`, any case) quoted inside other text: a quote
/// misplaced on the kernel command line can make the token part of another setting's value,
/// which an error message then quotes.
fn token_assignments(s: &str) -> String {
    const KEYS: &[&str] = &["report_token=", "report-token="];
    let lower = s.to_ascii_lowercase();
    if !KEYS.iter().any(|k| lower.contains(k)) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hit = KEYS
            .iter()
            .filter_map(|k| lower[i..].find(k).map(|p| (i + p, k.len())))
            .min();
        let Some((at, klen)) = hit else { break };
        let value_start = at + klen;
        out.push_str(&s[i..value_start]);
        let value_len = s[value_start..]
            .find(ends_url)
            .unwrap_or(s.len() - value_start);
        if value_len > 0 {
            out.push_str(MASK);
        }
        i = value_start + value_len;
    }
    out.push_str(&s[i..]);
    out
}

/// Characters that end a URL inside free text. Generous on purpose: a URL is cut at
/// whitespace and quotes only, so that nothing after an odd character escapes redaction.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '`')
}

/// Find `scheme://` occurrences and redact the URL that follows each.
fn urls_in(s: &str) -> String {
    if !s.contains("://") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        // Everything up to and including "://" is copied as it is (the scheme included).
        let (before, after) = rest.split_at(i + 3);
        out.push_str(before);
        let end = after.find(ends_url).unwrap_or(after.len());
        let (url, tail) = after.split_at(end);
        redact_after_scheme(url, &mut out);
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `url` is what follows `scheme://`: authority, then path, query, fragment.
fn redact_after_scheme(url: &str, out: &mut String) {
    let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (authority, rest) = url.split_at(auth_end);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(MASK);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    // Only the query carries parameters; a fragment (after '#') is copied as it is, except
    // that one looking like a query (`#access_token=…`, OAuth implicit flow) is treated alike.
    let mut rest = rest;
    while let Some(q) = rest.find(['?', '#']) {
        out.push_str(&rest[..=q]);
        let after = &rest[q + 1..];
        let end = after.find(['#', '?']).unwrap_or(after.len());
        redact_query(&after[..end], out);
        rest = &after[end..];
    }
    out.push_str(rest);
}

/// `a=1&token=x;b=2` → `a=1&token=***;b=2`.
fn redact_query(q: &str, out: &mut String) {
    for part in q.split_inclusive(['&', ';']) {
        let (pair, sep) = match part.char_indices().last() {
            Some((i, c)) if c == '&' || c == ';' => (&part[..i], &part[i..]),
            _ => (part, ""),
        };
        match pair.split_once('=') {
            Some((name, value)) if is_sensitive_name(name) && !value.is_empty() => {
                out.push_str(name);
                out.push('=');
                out.push_str(MASK);
                // Keep closing punctuation of the surrounding text ("(url)", "url.").
                let keep =
                    value.len() - value.trim_end_matches([')', ']', '}', ',', '.', ':']).len();
                out.push_str(&value[value.len() - keep..]);
            }
            _ => out.push_str(pair),
        }
        out.push_str(sep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_goes() {
        assert_eq!(
            text("fetching http://user:pa55@10.0.0.1:8080/os.img failed"),
            "fetching http://***@10.0.0.1:8080/os.img failed"
        );
        assert_eq!(text("https://tok@h/x"), "https://***@h/x");
        // An @ in the path is not userinfo.
        assert_eq!(text("http://h/a@b"), "http://h/a@b");
        // No authority end at all.
        assert_eq!(text("http://u:p@h"), "http://***@h");
    }

    #[test]
    fn credential_query_values_go() {
        let u = "https://b.s3.amazonaws.com/os.img?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2026&X-Amz-Date=20261130&X-Amz-Signature=abcdef0123&X-Amz-Security-Token=FQo";
        let r = text(u);
        for secret in ["AKIA", "abcdef0123", "FQo"] {
            assert!(!r.contains(secret), "{r}");
        }
        assert!(r.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256"), "{r}");
        assert!(r.contains("X-Amz-Date=20261130"), "{r}");
        assert_eq!(
            text("(url http://h/x?sv=1&sig=S3CR3T), retrying"),
            "(url http://h/x?sv=1&sig=***), retrying"
        );
        assert_eq!(
            text("http://h/x?a=1;password=p#frag"),
            "http://h/x?a=1;password=***#frag"
        );
        assert_eq!(
            text("http://h/cb#access_token=abc&x=1"),
            "http://h/cb#access_token=***&x=1"
        );
        assert_eq!(text("http://h/x?token="), "http://h/x?token=");
        assert_eq!(text("http://h/x?api_key=K"), "http://h/x?api_key=***");
    }

    #[test]
    fn several_urls_and_plain_text() {
        assert_eq!(
            text("a http://u:p@h/x?token=1 b \"https://h2/y?auth=2\" c"),
            "a http://***@h/x?token=*** b \"https://h2/y?auth=***\" c"
        );
        assert_eq!(text("no url here: a=b?token=x"), "no url here: a=b?token=x");
        assert_eq!(text("://"), "://");
        assert_eq!(text("x://@"), "x://***@");
    }

    #[test]
    fn registered_secrets_go_everywhere() {
        register("tok-registered-9f3");
        assert_eq!(
            text("header was Bearer tok-registered-9f3 (really)"),
            "header was Bearer *** (really)"
        );
        register("ab"); // too short to register
        assert_eq!(text("abab"), "abab");
    }

    #[test]
    fn report_token_assignments_go() {
        assert_eq!(
            text("setting rdinstall.threads= \"1 rdinstall.report_token=T0K \": bad"),
            "setting rdinstall.threads= \"1 rdinstall.report_token=*** \": bad"
        );
        assert_eq!(text("REPORT-TOKEN=x y"), "REPORT-TOKEN=*** y");
        assert_eq!(text("report_token="), "report_token=");
    }

    #[test]
    fn json_strings_are_redacted_in_place() {
        let mut v = serde_json::json!({"image": {"location": "http://u:p@h/i"}, "report": ["http://h/r?token=t"], "n": 3});
        json(&mut v);
        assert_eq!(v["image"]["location"], "http://***@h/i");
        assert_eq!(v["report"][0], "http://h/r?token=***");
        assert_eq!(v["n"], 3);
    }
}
