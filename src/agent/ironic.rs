//! The agent's calls to the Ironic API: version discovery, lookup, heartbeat.

use crate::net::{self, NetOptions};
use anyhow::{anyhow, Context, Result};
use reqwest::blocking::Client;
use serde_json::{json, Value};

/// The agent protocol level announced in heartbeats. Ironic gates features on it by
/// comparing with IPA releases; rdinstall speaks the protocol of this IPA release.
pub const AGENT_VERSION: &str = "13.0.0";
/// IPA asks the lookup at this API version at most (token in the answer since 1.62).
const LOOKUP_VERSION: (u32, u32) = (1, 62);
/// `agent_verify_ca` in heartbeats needs 1.68.
const VERIFY_CA_VERSION: (u32, u32) = (1, 68);

pub struct Ironic {
    url: String,
    client: Client,
    request_id: Option<String>,
    /// The API's maximum version.
    pub max_version: (u32, u32),
}

/// What a successful lookup gives.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub node: Value,
    pub uuid: String,
    pub token: String,
    pub heartbeat_timeout: u64,
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn fmt_version(v: (u32, u32)) -> String {
    format!("{}.{}", v.0, v.1)
}

/// Ironic's error bodies: `{"error_message": "{\"faultstring\": …}"}` (a JSON string inside).
fn error_text(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let inner = v.get("error_message").cloned().unwrap_or(Value::Null);
    let inner = match inner {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    };
    inner
        .get("faultstring")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| inner.as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(500).collect())
}

/// Parse the body of a 200 lookup answer.
pub fn parse_lookup(body: &Value) -> Result<Lookup> {
    let node = body
        .get("node")
        .cloned()
        .ok_or_else(|| anyhow!("the lookup answer has no node"))?;
    let uuid = node
        .get("uuid")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("the lookup answer's node has no uuid"))?
        .to_string();
    let config = body.get("config").cloned().unwrap_or(Value::Null);
    let token = config
        .get("agent_token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if token.is_empty() || token == "******" {
        return Err(anyhow!(
            "Ironic did not hand out the agent token for node {uuid} (it gives it to the \
             first lookup only; another agent may have looked this node up already): \
             reboot the node into the deploy ramdisk again"
        ));
    }
    let heartbeat_timeout = config
        .get("heartbeat_timeout")
        .and_then(Value::as_u64)
        .unwrap_or(300)
        .max(10);
    Ok(Lookup {
        node,
        uuid,
        token,
        heartbeat_timeout,
    })
}

impl Ironic {
    /// Ask the API root for the versions it speaks.
    pub fn connect(url: &str, o: &NetOptions, request_id: Option<String>) -> Result<Ironic> {
        let client = net::client(o)?;
        let r = client
            .get(format!("{url}/"))
            .send()
            .map_err(|e| net::explain(url, &e))?;
        let status = r.status();
        let text = r.text().unwrap_or_default();
        let body: Value = serde_json::from_str(&text)
            .with_context(|| format!("the Ironic API at {url} did not answer JSON"))?;
        if !status.is_success() {
            return Err(anyhow!("{}", net::status_message(url, status)));
        }
        let max = body
            .pointer("/default_version/version")
            .and_then(Value::as_str)
            .and_then(parse_version)
            .ok_or_else(|| {
                anyhow!("{url} does not look like the Ironic API (no default_version.version)")
            })?;
        Ok(Ironic {
            url: url.to_string(),
            client,
            request_id,
            max_version: max,
        })
    }

    pub fn supports_verify_ca(&self) -> bool {
        self.max_version >= VERIFY_CA_VERSION
    }

    fn request(
        &self,
        m: reqwest::Method,
        path: &str,
        version: (u32, u32),
    ) -> reqwest::blocking::RequestBuilder {
        let mut b = self
            .client
            .request(m, format!("{}{path}", self.url))
            .header("X-OpenStack-Ironic-API-Version", fmt_version(version));
        if let Some(id) = &self.request_id {
            b = b.header("X-OpenStack-Request-ID", id);
        }
        b
    }

    /// `GET /v1/lookup?addresses=…`. `Ok(None)`: no node for these MACs (yet), or not in a
    /// state that expects an agent; the caller retries.
    pub fn lookup(&self, macs: &[String]) -> Result<Option<Lookup>> {
        let v = self.max_version.min(LOOKUP_VERSION);
        let path = format!("/v1/lookup?addresses={}", macs.join(","));
        let r = self
            .request(reqwest::Method::GET, &path, v)
            .send()
            .map_err(|e| net::explain(&self.url, &e))?;
        let status = r.status();
        let text = r.text().unwrap_or_default();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(anyhow!(
                "lookup at {}: HTTP {status}: {}",
                self.url,
                error_text(&text)
            ));
        }
        let body: Value = serde_json::from_str(&text)
            .with_context(|| format!("lookup at {}: the answer is not JSON", self.url))?;
        parse_lookup(&body).map(Some)
    }

    /// `POST /v1/heartbeat/<uuid>`. Ironic answers 202 and does its work afterwards.
    pub fn heartbeat(
        &self,
        uuid: &str,
        token: &str,
        callback_url: &str,
        verify_ca: Option<&str>,
    ) -> Result<()> {
        let mut body = json!({
            "callback_url": callback_url,
            "agent_token": token,
            "agent_version": AGENT_VERSION,
        });
        let version = if self.supports_verify_ca() {
            if let Some(ca) = verify_ca {
                body["agent_verify_ca"] = json!(ca);
            }
            VERIFY_CA_VERSION
        } else {
            self.max_version.min(LOOKUP_VERSION)
        };
        let r = self
            .request(
                reqwest::Method::POST,
                &format!("/v1/heartbeat/{uuid}"),
                version,
            )
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .map_err(|e| net::explain(&self.url, &e))?;
        let status = r.status();
        if status.is_success() {
            return Ok(());
        }
        let text = r.text().unwrap_or_default();
        Err(anyhow!(
            "heartbeat to {}: HTTP {status}: {}",
            self.url,
            error_text(&text)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_answer_gives_node_and_token() {
        let body = json!({
            "node": {"uuid": "1be26c0b-03f2-4d2e-ae87-c02d7f33c123",
                     "properties": {"root_device": {"size": ">= 3"}},
                     "instance_info": {}, "driver_internal_info": {}},
            "config": {"agent_token": "tok", "agent_token_required": true,
                       "heartbeat_timeout": 300, "permitted_image_formats": ["raw"]}
        });
        let l = parse_lookup(&body).unwrap();
        assert_eq!(l.uuid, "1be26c0b-03f2-4d2e-ae87-c02d7f33c123");
        assert_eq!(l.token, "tok");
        assert_eq!(l.heartbeat_timeout, 300);
    }

    #[test]
    fn a_masked_token_is_an_error_that_says_why() {
        let body = json!({"node": {"uuid": "u"}, "config": {"agent_token": "******"}});
        let e = parse_lookup(&body).unwrap_err().to_string();
        assert!(e.contains("first lookup"), "{e}");
    }

    #[test]
    fn ironic_error_bodies_are_unwrapped() {
        let b =
            r#"{"error_message": "{\"faultstring\": \"Node not found\", \"debuginfo\": null}"}"#;
        assert_eq!(error_text(b), "Node not found");
        assert_eq!(parse_version("1.115"), Some((1, 115)));
        assert!(parse_version("1.115") > Some((1, 68)));
    }
}
