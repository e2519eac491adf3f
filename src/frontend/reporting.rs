//! What every front-end does with the `report` settings: warn about a token sent in clear
//! text, and attach the HTTP report sink.

use crate::machine::Machine;
use crate::net::NetOptions;
use crate::report::http::{HttpReporter, ReportOptions};
use crate::report::Events;
use crate::settings::{template, Secret};
use std::time::Duration;

/// The report token goes out as an Authorization header: over http:// anyone on the path
/// reads it. Said once, on the console and the kernel log, not refused (a lab network may
/// have no TLS).
pub fn warn_cleartext_token(urls: &[String], token: Option<&Secret>, ev: &Events) {
    if token.is_none() {
        return;
    }
    let plain: Vec<String> = urls
        .iter()
        .filter(|u| u.starts_with("http://"))
        .map(|u| crate::redact::text(u))
        .collect();
    if !plain.is_empty() {
        ev.warn(format!(
            "report_token is sent in clear text to the http:// report URL(s) {}; anyone on \
             the network path can read it: use https:// report URLs",
            plain.join(", ")
        ));
    }
}

/// Events to the `report` URLs (templates expanded) with the token, over `net`.
pub fn attach_reporter(
    urls: &[String],
    token: Option<&Secret>,
    net: &NetOptions,
    m: &Machine,
    ev: &Events,
) {
    if urls.is_empty() {
        return;
    }
    let mut expanded = Vec::new();
    for u in urls {
        match template::expand(u, m) {
            Ok(u) => expanded.push(u),
            Err(e) => ev.warn(format!("report URL skipped: {e}")),
        }
    }
    let o = ReportOptions {
        urls: expanded,
        token: token.map(|t| t.expose().to_string()),
        attempts: net.retries.clamp(1, 5),
        final_budget: (net.timeout * 4).clamp(Duration::from_secs(20), Duration::from_secs(300)),
        net: net.clone(),
    };
    match HttpReporter::start(o, ev.dropped_counter()) {
        Ok(r) => ev.add_sink(Box::new(r)),
        Err(e) => ev.warn(format!("cannot start the report sink: {e:#}")),
    }
}
