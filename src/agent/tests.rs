//! The command API over a real local TCP connection (plain HTTP and HTTPS): token checks,
//! busy answers, IPA's JSON.

use super::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;

fn test_agent() -> Arc<Agent> {
    let cfg = AgentConfig::resolve(&AgentArgs {
        api_url: Some("http://127.0.0.1:1".into()),
        ..Default::default()
    })
    .unwrap();
    Arc::new(Agent::new(
        cfg,
        "secret-token".into(),
        json!({"uuid": "n1"}),
        Events::silent(),
        logs::MemoryLog::default(),
        Machine::default(),
        // Never power anything off in a test.
        Box::new(|| {}),
    ))
}

fn start_plain(agent: Arc<Agent>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || server::serve(l, agent, None));
    port
}

fn call(port: u16, method: &str, target: &str, body: &str) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1;
    (code, serde_json::from_str(body).unwrap())
}

#[test]
fn commands_need_the_token() {
    let port = start_plain(test_agent());
    let body = r#"{"name": "deploy.get_deploy_steps", "params": {}}"#;
    let (c, v) = call(
        port,
        "POST",
        "/v1/commands/?wait=true&agent_token=wrong",
        body,
    );
    assert_eq!(c, 401);
    assert!(v["faultstring"].as_str().unwrap().contains("Token invalid"));
    let (c, _) = call(port, "POST", "/v1/commands/?wait=true", body);
    assert_eq!(c, 401);
    let (c, _) = call(port, "GET", "/v1/commands/", "");
    assert_eq!(c, 401);
    let (c, v) = call(
        port,
        "POST",
        "/v1/commands/?wait=true&agent_token=secret-token",
        body,
    );
    assert_eq!(c, 200);
    assert_eq!(v["command_status"], "SUCCEEDED");
    assert_eq!(
        v["command_result"]["deploy_steps"]["RdinstallHardwareManager"][0]["step"],
        "write_image"
    );
    let (c, v) = call(port, "GET", "/v1/commands/?agent_token=secret-token", "");
    assert_eq!(c, 200);
    assert_eq!(v["commands"].as_array().unwrap().len(), 1);
    let id = v["commands"][0]["id"].as_str().unwrap().to_string();
    let (c, v) = call(
        port,
        "GET",
        &format!("/v1/commands/{id}?agent_token=secret-token"),
        "",
    );
    assert_eq!(
        (c, v["command_name"].as_str()),
        (200, Some("get_deploy_steps"))
    );
    // The root answers without a token (IPA does; it tells nothing).
    let (c, _) = call(port, "GET", "/", "");
    assert_eq!(c, 200);
}

#[test]
fn busy_unknown_and_malformed_commands() {
    let agent = test_agent();
    let port = start_plain(agent.clone());
    let t = "agent_token=secret-token";
    // A command still running: the next one is refused with 409 "Agent is busy".
    let id = agent.registry.start("deploy.execute_deploy_step").unwrap();
    let (c, v) = call(
        port,
        "POST",
        &format!("/v1/commands/?{t}"),
        r#"{"name": "standby.sync", "params": {}}"#,
    );
    assert_eq!(c, 409);
    assert!(v["faultstring"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("agent is busy"));
    agent.registry.finish(&id, Ok(Value::Null));
    let (c, v) = call(
        port,
        "POST",
        &format!("/v1/commands/?{t}"),
        r#"{"name": "standby.sync", "params": {}}"#,
    );
    assert_eq!((c, v["command_status"].as_str()), (200, Some("SUCCEEDED")));
    let (c, v) = call(
        port,
        "POST",
        &format!("/v1/commands/?{t}"),
        r#"{"name": "clean.erase_devices", "params": {}}"#,
    );
    assert_eq!(c, 404);
    assert_eq!(v["faultcode"], "Client");
    let (c, _) = call(
        port,
        "POST",
        &format!("/v1/commands/?{t}"),
        r#"{"name": "standby.cache_image", "params": {}}"#,
    );
    assert_eq!(c, 400);
    let (c, _) = call(
        port,
        "POST",
        &format!("/v1/commands/?{t}"),
        r#"{"params": {}}"#,
    );
    assert_eq!(c, 400);
    let (c, _) = call(port, "GET", &format!("/v1/commands/nope?{t}"), "");
    assert_eq!(c, 404);
}

#[test]
fn deploy_step_failure_is_a_failed_record_and_logs_are_collected() {
    let agent = test_agent();
    let port = start_plain(agent.clone());
    let t = "agent_token=secret-token";
    let step = json!({"name": "deploy.execute_deploy_step", "params": {"step": {
        "interface": "deploy", "step": "write_image", "args": {"image_info": {
            "urls": ["http://a/x.img"], "disk_format": "qcow2"}}}}});
    let (c, v) = call(
        port,
        "POST",
        &format!("/v1/commands/?wait=true&{t}"),
        &step.to_string(),
    );
    assert_eq!(c, 200);
    assert_eq!(v["command_status"], "FAILED");
    assert!(v["command_error"]["details"]
        .as_str()
        .unwrap()
        .contains("qcow2"));
    let (c, v) = call(
        port,
        "POST",
        &format!("/v1/commands/?wait=true&{t}"),
        r#"{"name": "log.collect_system_logs", "params": {}}"#,
    );
    assert_eq!(c, 200);
    assert!(v["command_result"]["system_logs"].as_str().unwrap().len() > 100);
}

#[test]
fn https_with_the_self_signed_certificate() {
    let agent = test_agent();
    let t = tls::self_signed("127.0.0.1").unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let cfg = t.config.clone();
    std::thread::spawn(move || server::serve(l, agent, Some(cfg)));
    // A client that trusts only the PEM the agent would send as agent_verify_ca.
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut t.cert_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cc = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(cc), "127.0.0.1".try_into().unwrap()).unwrap();
    let mut s = rustls::StreamOwned::new(conn, TcpStream::connect(("127.0.0.1", port)).unwrap());
    write!(
        s,
        "GET /v1/commands/?agent_token=secret-token HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains(r#""commands":[]"#), "{out}");
}
