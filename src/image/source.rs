//! Image sources: local files and HTTP(S) with retry, `Range` resume and mirrors.

use crate::net::{self, NetOptions};
use crate::report::Events;
use anyhow::{anyhow, bail, Context, Result};
use reqwest::header::{CONTENT_RANGE, ETAG, IF_RANGE, LAST_MODIFIED, RANGE};
use reqwest::StatusCode;
use std::io::{self, Read};

/// An open image: its bytes as served, and what is known before reading them.
pub struct Source {
    pub reader: Box<dyn Read + Send>,
    /// Bytes as served (Content-Length or file size), when known.
    pub size: Option<u64>,
    /// The location that answered (one of the mirrors).
    pub location: String,
}

/// Open the first location that answers. Mirrors are tried in order; a final error names
/// every location and why it failed. (A body that breaks later resumes on its own server.)
pub fn open(locations: &[String], o: &NetOptions, ev: &Events) -> Result<Source> {
    let mut errors = Vec::new();
    for loc in locations {
        match open_one(loc, o, ev) {
            Ok(s) => return Ok(s),
            Err(e) => {
                if locations.len() > 1 {
                    ev.warn(format!("image source {loc} failed: {e:#}"));
                }
                errors.push(e);
            }
        }
    }
    match errors.len() {
        0 => bail!("no image given: set image= (a URL or path)"),
        1 => Err(errors.pop().unwrap()),
        _ => {
            let all: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
            bail!("every image mirror failed: {}", all.join("; "))
        }
    }
}

/// The write stage: open the location that answered in preflight. When `verified` (a checksum
/// or signature covers the whole stream) and its server dies mid-body for good, the download
/// continues at the same byte from the next mirrors in the list; a splice of a different file
/// then fails verification, never silently.
pub fn open_for_write(
    locations: &[String],
    chosen: &str,
    verified: bool,
    o: &NetOptions,
    ev: &Events,
) -> Result<Source> {
    if net::local_path(chosen).is_some() {
        return open_one(chosen, o, ev);
    }
    let mut r = HttpReader::open(chosen, o, ev.clone())?;
    if verified {
        let after = locations
            .iter()
            .position(|l| l == chosen)
            .map_or(0, |i| i + 1);
        r.fallback = locations[after..]
            .iter()
            .filter(|l| net::local_path(l).is_none())
            .cloned()
            .collect();
    }
    Ok(Source {
        size: r.total,
        location: chosen.to_string(),
        reader: Box::new(r),
    })
}

fn open_one(loc: &str, o: &NetOptions, ev: &Events) -> Result<Source> {
    if let Some(path) = net::local_path(loc) {
        let f = std::fs::File::open(&path)
            .with_context(|| format!("cannot open image {}", path.display()))?;
        let meta = f.metadata()?;
        if meta.is_dir() {
            bail!("image {} is a directory", path.display());
        }
        return Ok(Source {
            reader: Box::new(f),
            size: Some(meta.len()).filter(|_| meta.is_file()),
            location: loc.to_string(),
        });
    }
    let r = HttpReader::open(loc, o, ev.clone())?;
    Ok(Source {
        size: r.total,
        location: loc.to_string(),
        reader: Box::new(r),
    })
}

/// An HTTP body that survives broken connections: it reconnects with `Range: bytes=N-`,
/// guarded by `If-Range` and a validator check, so a file that changed on the server is never
/// spliced in. A server that ignores ranges is re-read from the start, discarding what was
/// already consumed, while the retry budget lasts.
pub struct HttpReader {
    client: reqwest::blocking::Client,
    url: String,
    o: NetOptions,
    ev: Events,
    resp: Option<reqwest::blocking::Response>,
    /// Bytes handed to the caller so far.
    pos: u64,
    total: Option<u64>,
    etag: Option<String>,
    last_modified: Option<String>,
    /// Failures since the last byte arrived.
    failures: u32,
    /// Mirrors to continue from when this server is gone for good (see `open_for_write`).
    pub fallback: std::collections::VecDeque<String>,
    pub resumes: u32,
}

impl HttpReader {
    pub fn open(url: &str, o: &NetOptions, ev: Events) -> Result<HttpReader> {
        let client = net::client(o)?;
        let mut r = HttpReader {
            client,
            url: url.to_string(),
            o: o.clone(),
            ev,
            resp: None,
            pos: 0,
            total: None,
            etag: None,
            last_modified: None,
            failures: 0,
            fallback: Default::default(),
            resumes: 0,
        };
        let mut attempt = 0;
        loop {
            match r.request(0) {
                Ok(resp) => {
                    r.total = resp.content_length();
                    r.etag = header(&resp, ETAG);
                    r.last_modified = header(&resp, LAST_MODIFIED);
                    r.resp = Some(resp);
                    return Ok(r);
                }
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retry(e)) => {
                    if attempt >= o.retries {
                        return Err(e.context(format!("gave up after {} attempts", attempt + 1)));
                    }
                    r.ev.warn(format!("{e:#}; retrying"));
                    std::thread::sleep(net::backoff(attempt));
                    attempt += 1;
                }
            }
        }
    }

    fn request(&self, from: u64) -> std::result::Result<reqwest::blocking::Response, Failure> {
        let mut req = self.client.get(&self.url);
        if from > 0 {
            req = req.header(RANGE, format!("bytes={from}-"));
            if let Some(v) = self.etag.as_ref().or(self.last_modified.as_ref()) {
                req = req.header(IF_RANGE, v);
            }
        }
        match req.send() {
            Ok(resp) if resp.status().is_success() => Ok(resp),
            Ok(resp) if net::retryable_status(resp.status()) => Err(Failure::Retry(anyhow!(
                "{} answered HTTP {}",
                self.url,
                resp.status()
            ))),
            Ok(resp) if resp.status() == StatusCode::RANGE_NOT_SATISFIABLE && from > 0 => Ok(resp),
            Ok(resp) => Err(Failure::Final(anyhow!(
                "{}",
                net::status_message(&self.url, resp.status())
            ))),
            Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                let ex = net::explain(&self.url, &e);
                if format!("{ex}").contains("not trusted") {
                    Err(Failure::Final(ex))
                } else {
                    Err(Failure::Retry(ex))
                }
            }
            Err(e) => Err(Failure::Final(net::explain(&self.url, &e))),
        }
    }

    /// Reconnect after a broken body, positioned at `self.pos`.
    fn resume(&mut self, why: &str) -> io::Result<()> {
        self.resp = None;
        loop {
            if self.failures > self.o.retries {
                if let Some(next) = self.fallback.pop_front() {
                    self.ev.warn(format!(
                        "{} is gone; continuing at byte {} from mirror {next} (the checksum/signature covers the splice)",
                        self.url, self.pos
                    ));
                    self.url = next;
                    self.etag = None;
                    self.last_modified = None;
                    self.failures = 0;
                    continue;
                }
                return Err(io::Error::other(format!(
                    "download of {} broke at byte {} ({why}) and did not recover after {} attempts",
                    self.url, self.pos, self.failures
                )));
            }
            std::thread::sleep(net::backoff(self.failures.saturating_sub(1)));
            self.failures += 1;
            self.ev.warn(format!(
                "download of {} broke at byte {} ({why}); resuming (attempt {})",
                self.url, self.pos, self.failures
            ));
            let resp = match self.request(self.pos) {
                Ok(r) => r,
                Err(Failure::Retry(e)) => {
                    self.ev.warn(format!("{e:#}"));
                    continue;
                }
                Err(Failure::Final(e)) => return Err(io::Error::other(format!("{e:#}"))),
            };
            self.check_same_file(&resp)?;
            match resp.status() {
                StatusCode::PARTIAL_CONTENT => {
                    let start =
                        header(&resp, CONTENT_RANGE).and_then(|v| parse_content_range_start(&v));
                    if start != Some(self.pos) {
                        return Err(io::Error::other(format!(
                            "{} answered a range that does not start at byte {}",
                            self.url, self.pos
                        )));
                    }
                    self.resp = Some(resp);
                }
                StatusCode::RANGE_NOT_SATISFIABLE => {
                    // We already had every byte: the break was at the very end.
                    if Some(self.pos) == self.total {
                        self.resp = None;
                        self.total = Some(self.pos);
                        return Ok(());
                    }
                    return Err(io::Error::other(format!(
                        "{} refused a range from byte {} (HTTP 416)",
                        self.url, self.pos
                    )));
                }
                _ => {
                    // 200: the server ignores ranges. Re-read from the start and discard what
                    // was already consumed.
                    let mut resp = resp;
                    self.ev.warn(format!(
                        "{} does not support ranges; re-reading {} bytes from the start",
                        self.url, self.pos
                    ));
                    let skipped = io::copy(&mut (&mut resp).take(self.pos), &mut io::sink())?;
                    if skipped != self.pos {
                        continue;
                    }
                    self.resp = Some(resp);
                }
            }
            self.resumes += 1;
            return Ok(());
        }
    }

    fn check_same_file(&self, resp: &reqwest::blocking::Response) -> io::Result<()> {
        let changed = match (&self.etag, header(resp, ETAG)) {
            (Some(a), Some(b)) => *a != b,
            _ => match (&self.last_modified, header(resp, LAST_MODIFIED)) {
                (Some(a), Some(b)) => *a != b,
                _ => false,
            },
        };
        if changed {
            return Err(io::Error::other(format!(
                "{} changed on the server while it was being downloaded; start the install again",
                self.url
            )));
        }
        Ok(())
    }
}

fn header(resp: &reqwest::blocking::Response, name: reqwest::header::HeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `bytes 100-199/200` → 100.
fn parse_content_range_start(v: &str) -> Option<u64> {
    v.strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

enum Failure {
    Retry(anyhow::Error),
    Final(anyhow::Error),
}

impl Read for HttpReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(resp) = self.resp.as_mut() else {
                if Some(self.pos) == self.total {
                    return Ok(0);
                }
                self.resume("no connection")?;
                if self.resp.is_none() {
                    return Ok(0);
                }
                continue;
            };
            match resp.read(buf) {
                Ok(0) => match self.total {
                    Some(t) if self.pos < t => {
                        let why = format!("connection closed after {} of {t} bytes", self.pos);
                        self.resume(&why)?;
                    }
                    _ => {
                        self.resp = None;
                        self.total = Some(self.pos);
                        return Ok(0);
                    }
                },
                Ok(n) => {
                    self.pos += n as u64;
                    self.failures = 0;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let why = e.to_string();
                    self.resume(&why)?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_range() {
        assert_eq!(
            super::parse_content_range_start("bytes 100-199/200"),
            Some(100)
        );
        assert_eq!(super::parse_content_range_start("bytes */200"), None);
    }
}
