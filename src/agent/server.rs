//! The agent's command API (IPA's routes): HTTPS with the self-signed certificate, or plain
//! HTTP when TLS is off. Every command route needs the agent token Ironic got at lookup
//! (`?agent_token=`); answers are IPA's JSON, errors `{"faultcode", "faultstring"}`.

use super::commands::{self, ApiError};
use super::http::{self, Request};
use super::Agent;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Connections served at once. Ironic uses one or two; more are someone else's.
const MAX_CONNECTIONS: usize = 16;

/// Accept connections forever, one thread each (a `?wait=true` call may block for the
/// whole deploy while Ironic polls on another connection), at most `MAX_CONNECTIONS`.
pub fn serve(listener: TcpListener, agent: Arc<Agent>, tls: Option<Arc<rustls::ServerConfig>>) {
    let live = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        if live.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            live.fetch_sub(1, Ordering::SeqCst);
            continue; // dropped: closed at once
        }
        let (a, t, l) = (agent.clone(), tls.clone(), live.clone());
        std::thread::spawn(move || {
            if let Err(e) = handle(conn, &a, t) {
                a.ev.info(format!("agent: API connection: {e:#}"));
            }
            l.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

fn handle(
    conn: TcpStream,
    agent: &Arc<Agent>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    conn.set_write_timeout(Some(Duration::from_secs(60)))?;
    match tls {
        Some(cfg) => {
            let sc = rustls::ServerConnection::new(cfg)?;
            let mut s = rustls::StreamOwned::new(sc, conn);
            exchange(&mut s, agent)?;
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        None => {
            let mut s = conn;
            exchange(&mut s, agent)?;
        }
    }
    Ok(())
}

fn exchange<S: Read + Write>(s: &mut S, agent: &Arc<Agent>) -> anyhow::Result<()> {
    let token_given = |r: &Request| same_token(r.param("agent_token").unwrap_or(""), &agent.token);
    let (code, body) = match http::read_request(&mut *s, token_given) {
        Ok(req) => route(&req, agent),
        Err(e) => fault(ApiError::new(400, format!("400 Bad Request: {e}"))),
    };
    http::write_json(&mut *s, code, &body)?;
    Ok(())
}

fn fault(e: ApiError) -> (u16, Value) {
    let faultcode = if e.code >= 500 { "Server" } else { "Client" };
    (
        e.code,
        json!({"faultcode": faultcode, "faultstring": e.faultstring}),
    )
}

/// Compare without an early exit, so timing tells nothing about the token.
fn same_token(given: &str, want: &str) -> bool {
    let (g, w) = (given.as_bytes(), want.as_bytes());
    let mut diff = g.len() ^ w.len();
    for (i, b) in w.iter().enumerate() {
        diff |= (b ^ g.get(i).copied().unwrap_or(0)) as usize;
    }
    diff == 0 && !want.is_empty()
}

fn version_links() -> Value {
    json!({"id": "v1", "links": []})
}

/// Answer one request: status code and JSON body.
pub fn route(req: &Request, agent: &Arc<Agent>) -> (u16, Value) {
    // Both `/v1/commands/` and IPA's unversioned `/commands/`.
    let path = req.path.strip_prefix("/v1").unwrap_or(&req.path);
    let path = if path.is_empty() { "/" } else { path };
    let m = req.method.as_str();
    match (m, path) {
        ("GET", "/") if req.path == "/" => {
            return (
                200,
                json!({"name": "rdinstall (OpenStack Ironic agent API)",
                       "description": "rdinstall, an Ironic Python Agent compatible deploy agent",
                       "versions": [version_links()], "default_version": version_links()}),
            )
        }
        ("GET", "/") => return (200, version_links()),
        ("GET", "/status") => {
            return (
                200,
                json!({"started_at": agent.started_at, "version": super::ironic::AGENT_VERSION}),
            )
        }
        _ => {}
    }
    let is_commands = path == "/commands/" || path == "/commands";
    let command_id = path
        .strip_prefix("/commands/")
        .filter(|s| !s.is_empty() && !s.contains('/'));
    if !is_commands && command_id.is_none() {
        return fault(ApiError::new(
            404,
            format!("404 Not Found: no route {}", req.path),
        ));
    }
    if !same_token(req.param("agent_token").unwrap_or(""), &agent.token) {
        return fault(ApiError::new(401, "401 Unauthorized: Token invalid."));
    }
    let wait = req
        .param("wait")
        .is_some_and(|w| w.eq_ignore_ascii_case("true"));
    match (m, command_id) {
        ("GET", None) => (200, json!({"commands": agent.registry.list()})),
        ("GET", Some(id)) => {
            let rec = if wait {
                agent.registry.wait(id)
            } else {
                agent.registry.get(id)
            };
            match rec {
                Some(r) => (200, r),
                None => fault(ApiError::new(
                    404,
                    format!("Command Result not found: Command Result with id {id} not found."),
                )),
            }
        }
        ("POST", None) => {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let (Some(name), Some(params)) = (
                body.get("name").and_then(Value::as_str),
                body.get("params").filter(|p| p.is_object()),
            ) else {
                return fault(ApiError::new(
                    400,
                    "400 Bad Request: Missing or invalid name or params",
                ));
            };
            match commands::execute(agent, name, params.clone(), wait) {
                Ok(rec) => (200, rec),
                Err(e) => fault(e),
            }
        }
        _ => fault(ApiError::new(
            405,
            format!("405 Method Not Allowed: {m} {}", req.path),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abd", "abc"));
        assert!(!same_token("ab", "abc"));
        assert!(!same_token("abcd", "abc"));
        assert!(!same_token("", ""));
    }
}
