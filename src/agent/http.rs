//! A minimal HTTP/1.1 server side: one request per connection (`Connection: close`), JSON
//! answers. Enough for Ironic's agent client (python-requests), nothing more.

use anyhow::{anyhow, bail, Result};
use std::io::{BufRead, BufReader, Read, Write};

/// A configdrive travels inside the deploy step's JSON (base64 of up to 64 MiB gzipped).
pub const MAX_BODY: usize = 128 << 20;
const MAX_HEAD: usize = 64 << 10;

#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Read one request: the head, then the Content-Length body only when `may_send_body`
/// accepts the head (the agent token is in the query string: a caller without it never gets
/// the agent to buffer a body).
pub fn read_request<R: Read>(
    stream: R,
    may_send_body: impl Fn(&Request) -> bool,
) -> Result<Request> {
    let mut r = BufReader::new(stream);
    // Every line of the head is read through a limit: a line without an end cannot grow
    // without bound.
    let mut head_len = 0;
    let head_line = |r: &mut BufReader<R>, head_len: &mut usize| -> Result<String> {
        let mut l = String::new();
        let left = MAX_HEAD.saturating_sub(*head_len) as u64;
        r.by_ref().take(left).read_line(&mut l)?;
        *head_len += l.len();
        if !l.ends_with('\n') {
            if *head_len >= MAX_HEAD {
                bail!("request head larger than {MAX_HEAD} bytes");
            }
            bail!("connection closed in the request head");
        }
        Ok(l)
    };
    let line = head_line(&mut r, &mut head_len)?;
    let mut parts = line.split_whitespace();
    let method = parts
        .next()
        .ok_or_else(|| anyhow!("empty request"))?
        .to_string();
    let target = parts
        .next()
        .ok_or_else(|| anyhow!("no request target"))?
        .to_string();
    let mut content_length = 0usize;
    loop {
        let h = head_line(&mut r, &mut head_len)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-length" {
                content_length = v
                    .trim()
                    .parse()
                    .map_err(|_| anyhow!("bad Content-Length"))?;
            } else if k == "transfer-encoding" && !v.trim().eq_ignore_ascii_case("identity") {
                bail!("chunked request bodies are not supported");
            }
        }
    }
    if content_length > MAX_BODY {
        bail!("request body of {content_length} bytes is larger than {MAX_BODY}");
    }
    let (path, q) = target.split_once('?').unwrap_or((target.as_str(), ""));
    let mut req = Request {
        method,
        path: path.to_string(),
        query: parse_query(q),
        body: Vec::new(),
    };
    if content_length > 0 && may_send_body(&req) {
        // Grown as bytes arrive, not allocated up front from what the client claims.
        r.take(content_length as u64).read_to_end(&mut req.body)?;
        if req.body.len() != content_length {
            bail!("connection closed in the request body");
        }
    }
    Ok(req)
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        _ => "Internal Server Error",
    }
}

pub fn write_json<W: Write>(mut w: W, code: u16, body: &serde_json::Value) -> std::io::Result<()> {
    let body = serde_json::to_vec(body).unwrap_or_default();
    write!(
        w,
        "HTTP/1.1 {code} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        reason(code),
        body.len()
    )?;
    w.write_all(&body)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_command_post() {
        let raw = b"POST /v1/commands/?wait=true&agent_token=a%2Fb HTTP/1.1\r\nHost: x\r\n\
                    Content-Length: 11\r\n\r\n{\"a\": true}";
        let r = read_request(&raw[..], |_| true).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/commands/");
        assert_eq!(r.param("wait"), Some("true"));
        assert_eq!(r.param("agent_token"), Some("a/b"));
        assert_eq!(r.body, b"{\"a\": true}");
    }

    #[test]
    fn refuses_chunked_and_huge_bodies() {
        let raw = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(read_request(&raw[..], |_| true).is_err());
        let raw = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert!(read_request(raw.as_bytes(), |_| true).is_err());
        let raw = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD * 2));
        let e = read_request(raw.as_bytes(), |_| true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than"), "{e}");
    }

    #[test]
    fn a_body_is_read_only_when_the_head_is_accepted() {
        // A client without the token claims a large body and sends little of it: nothing
        // is buffered, nothing waited for.
        let raw =
            b"POST /v1/commands/?agent_token=bad HTTP/1.1\r\nContent-Length: 100000000\r\n\r\n{";
        let r = read_request(&raw[..], |r| r.param("agent_token") == Some("good")).unwrap();
        assert!(r.body.is_empty());
        let e = read_request(&raw[..], |_| true).unwrap_err().to_string();
        assert!(e.contains("closed in the request body"), "{e}");
    }
}
