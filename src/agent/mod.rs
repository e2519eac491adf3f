//! Ironic agent mode: rdinstall as the deploy ramdisk of OpenStack Ironic's `direct` deploy
//! interface, speaking ironic-python-agent's protocol.
//!
//! lookup (by the NICs' MACs, BOOTIF first) → command API up (HTTPS, self-signed, the
//! certificate sent as `agent_verify_ca`) → heartbeats; Ironic then drives the deploy
//! through the command API: get_deploy_steps, execute_deploy_step(write_image) — the same
//! install pipeline as every other front-end —, get_partition_uuids, power_off.

mod commands;
mod config;
mod deploy;
mod http;
mod ironic;
mod logs;
mod nics;
mod registry;
mod server;
mod tls;

pub use config::{AgentArgs, AgentConfig};

use crate::machine::Machine;
use crate::report::console::{Console, Style};
use crate::report::Events;
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::net::{TcpListener, ToSocketAddrs, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Everything the command handlers share.
pub struct Agent {
    pub cfg: AgentConfig,
    pub token: String,
    /// The node as the lookup returned it.
    pub node: Value,
    pub ev: Events,
    pub log: logs::MemoryLog,
    pub machine: Machine,
    pub registry: registry::Registry,
    pub started_at: f64,
    /// Set by write_image for `standby.get_partition_uuids`.
    partition_uuids: Mutex<Value>,
    /// When the next heartbeat is due early (after an asynchronous command ended).
    wake: (Mutex<Option<Instant>>, Condvar),
    stopping: AtomicBool,
    /// Powers the machine off (replaced in tests).
    power_off_fn: Box<dyn Fn() + Send + Sync>,
}

impl Agent {
    pub fn new(
        cfg: AgentConfig,
        token: String,
        node: Value,
        ev: Events,
        log: logs::MemoryLog,
        machine: Machine,
        power_off_fn: Box<dyn Fn() + Send + Sync>,
    ) -> Agent {
        Agent {
            cfg,
            token,
            node,
            ev,
            log,
            machine,
            registry: Default::default(),
            started_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
            partition_uuids: Mutex::new(serde_json::json!({})),
            wake: (Mutex::new(None), Condvar::new()),
            stopping: AtomicBool::new(false),
            power_off_fn,
        }
    }

    pub fn partition_uuids(&self) -> Value {
        self.partition_uuids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_partition_uuids(&self, v: Value) {
        *self
            .partition_uuids
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = v;
    }

    /// Heartbeat `after` from now (sooner if one is due anyway).
    pub fn heartbeat_soon(&self, after: Duration) {
        let mut w = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        *w = Some(Instant::now() + after);
        self.wake.1.notify_all();
    }

    /// `standby.power_off` succeeded: stop heartbeating; the main thread powers off.
    pub fn power_off(&self) {
        // Under the lock: the heartbeat loop checks `stopping` and then waits while holding
        // it, so the wake-up cannot fall between the two.
        let _w = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.1.notify_all();
    }
}

/// `rdinstall agent`: returns the exit code (only when the agent cannot continue, or when
/// power off was asked and did not happen).
pub fn run(args: AgentArgs) -> i32 {
    let ev = Events::new();
    ev.add_sink(Box::new(Console::new(
        Style::Plain,
        false,
        args.from_cmdline,
    )));
    let log = logs::MemoryLog::default();
    ev.add_sink(log.sink());
    let cfg = match AgentConfig::resolve(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rdinstall agent: {e:#}");
            return 2;
        }
    };
    let machine = Machine::detect(cfg.bootif.as_deref());
    ev.set_machine(machine.mac.clone(), machine.hostname.clone());
    let base = &cfg.base;
    crate::frontend::reporting::warn_cleartext_token(&base.report, base.report_token.as_ref(), &ev);
    crate::frontend::reporting::attach_reporter(
        &base.report,
        base.report_token.as_ref(),
        &base.net_options(),
        &machine,
        &ev,
    );
    match start(cfg, ev.clone(), log, machine) {
        Ok(()) => 0,
        Err(e) => {
            ev.warn(format!("agent: {e:#}"));
            ev.close();
            1
        }
    }
}

/// Keep trying `f` every few seconds until it gives `Some` or `timeout` passes.
fn retry<T>(
    ev: &Events,
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let end = Instant::now() + timeout;
    let mut said = false;
    loop {
        let last = match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "not found".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() >= end {
            return Err(anyhow!(
                "{what}: gave up after {}s: {last}",
                timeout.as_secs()
            ));
        }
        if !said {
            ev.info(format!("agent: {what}: {last}; retrying"));
            said = true;
        }
        std::thread::sleep(Duration::from_secs(3));
    }
}

/// The local address on the route to the Ironic API: what Ironic can reach us at (IPA's
/// default when ipa-advertise-host is not given).
fn routable_addr(api_url: &str) -> Result<String> {
    let u = reqwest::Url::parse(api_url).with_context(|| format!("bad API URL {api_url}"))?;
    let host = u.host_str().unwrap_or("").trim_matches(['[', ']']);
    let port = u.port_or_known_default().unwrap_or(6385);
    let to = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| anyhow!("cannot resolve {host}"))?;
    let bind = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let s = UdpSocket::bind(bind)?;
    s.connect(to)?;
    Ok(s.local_addr()?.ip().to_string())
}

/// The URL Ironic calls back (`ipa-advertise-host`/`-port`, else the address on the route to
/// the API), and the self-signed certificate when the command API serves HTTPS.
fn callback(
    cfg: &AgentConfig,
    api: &ironic::Ironic,
    ev: &Events,
) -> Result<(String, Option<tls::ServerTls>)> {
    let host = match &cfg.advertise_host {
        Some(h) => h.clone(),
        None => routable_addr(&cfg.api_url)?,
    };
    let port = cfg.advertise_port.unwrap_or(cfg.listen_port);
    let tls = if cfg.tls && !api.supports_verify_ca() {
        ev.warn(
            "agent: the Ironic API is older than 1.68 (no agent_verify_ca): serving plain HTTP",
        );
        None
    } else if cfg.tls {
        Some(tls::self_signed(&host)?)
    } else {
        None
    };
    let h = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    Ok((format!("{scheme}://{h}:{port}"), tls))
}

fn start(cfg: AgentConfig, ev: Events, log: logs::MemoryLog, machine: Machine) -> Result<()> {
    let o = cfg.base.net_options();
    let timeout = Duration::from_secs(cfg.lookup_timeout);
    ev.info(format!("agent: Ironic API {}", cfg.api_url));
    let api = retry(&ev, "reaching the Ironic API", timeout, || {
        ironic::Ironic::connect(&cfg.api_url, &o, cfg.global_request_id.clone()).map(Some)
    })?;
    let macs = nics::lookup_macs(Path::new("/sys/class/net"), cfg.bootif.as_deref());
    if macs.is_empty() {
        return Err(anyhow!(
            "no network interface to look this machine up by (no NIC in /sys/class/net)"
        ));
    }
    ev.info(format!("agent: lookup by {}", macs.join(",")));
    let found = retry(&ev, "lookup", timeout, || api.lookup(&macs))?;
    crate::redact::register(&found.token);
    ev.info(format!("agent: this is node {}", found.uuid));

    let (callback, tls) = callback(&cfg, &api, &ev)?;
    let listener = TcpListener::bind(("0.0.0.0", cfg.listen_port))
        .with_context(|| format!("cannot listen on port {}", cfg.listen_port))?;
    ev.info(format!(
        "agent: command API on port {}, advertised as {callback}",
        cfg.listen_port
    ));

    let from_cmdline = cfg.from_cmdline;
    let ev2 = ev.clone();
    let power: Box<dyn Fn() + Send + Sync> = Box::new(move || {
        ev2.close();
        crate::finish::act(
            crate::settings::FinishAction::Poweroff,
            from_cmdline,
            None,
            0,
        );
    });
    let heartbeat_timeout = found.heartbeat_timeout;
    let agent = Arc::new(Agent::new(
        cfg,
        found.token.clone(),
        found.node,
        ev.clone(),
        log,
        machine,
        power,
    ));
    let server_cfg = tls.as_ref().map(|t| t.config.clone());
    let a = agent.clone();
    std::thread::spawn(move || server::serve(listener, a, server_cfg));

    let ca = tls.as_ref().map(|t| t.cert_pem.clone());
    heartbeat_loop(
        &agent,
        &api,
        &found.uuid,
        &callback,
        ca.as_deref(),
        heartbeat_timeout,
    );
    // Only power off ends the heartbeats. Give Ironic a moment to read the answer first.
    agent.ev.info("agent: powering off as Ironic asked");
    std::thread::sleep(Duration::from_secs(1));
    (agent.power_off_fn)();
    Err(anyhow!("the machine did not power off"))
}

/// Heartbeat now, then every 0.3–0.6 × heartbeat_timeout (as IPA), early when a command
/// asked for it, until power off. A failed heartbeat is retried within seconds.
fn heartbeat_loop(
    agent: &Agent,
    api: &ironic::Ironic,
    uuid: &str,
    callback: &str,
    ca: Option<&str>,
    timeout: u64,
) {
    let mut ok_before = false;
    while !agent.stopping.load(Ordering::SeqCst) {
        let next = match api.heartbeat(uuid, &agent.token, callback, ca) {
            Ok(()) => {
                if !ok_before {
                    agent.ev.info("agent: heartbeat accepted");
                    ok_before = true;
                }
                let f = rand::random_range(0.3..0.6);
                Duration::from_secs_f64(timeout as f64 * f)
            }
            Err(e) => {
                agent.ev.warn(format!("agent: {e:#}"));
                ok_before = false;
                Duration::from_secs(5)
            }
        };
        let deadline = Instant::now() + next;
        let mut w = agent.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if agent.stopping.load(Ordering::SeqCst) {
                return;
            }
            let due = w.map_or(deadline, |d| d.min(deadline));
            let now = Instant::now();
            if now >= due {
                *w = None;
                break;
            }
            w = agent
                .wake
                .1
                .wait_timeout(w, due - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

#[cfg(test)]
mod tests;
