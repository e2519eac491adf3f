//! HTTP reporter: POSTs each reported event as JSON to every `report` URL from a background
//! thread, so a slow or dead server never slows the install.
//!
//! Queue policy: progress events are dropped (and counted) when more than a few are waiting;
//! stage and final events are never dropped. Each event is retried with exponential backoff
//! and jitter; the final event (`succeeded`/`failed`) gets a larger budget, and `close` waits
//! for it (bounded) before the machine reboots.

use super::event::{Event, Sink};
use crate::net::{self, NetOptions};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MAX_QUEUED_PROGRESS: usize = 4;

struct Queue {
    items: VecDeque<(Event, String)>,
    closed: bool,
}

pub struct HttpReporter {
    shared: Arc<(Mutex<Queue>, Condvar)>,
    worker: Option<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
}

#[derive(Clone)]
pub struct ReportOptions {
    pub urls: Vec<String>,
    pub token: Option<String>,
    pub net: NetOptions,
    /// Attempts for ordinary events.
    pub attempts: u32,
    /// Time budget for the final event.
    pub final_budget: Duration,
}

impl HttpReporter {
    pub fn start(o: ReportOptions, dropped: Arc<AtomicU64>) -> anyhow::Result<HttpReporter> {
        let client = net::client(&o.net)?;
        let shared = Arc::new((
            Mutex::new(Queue {
                items: VecDeque::new(),
                closed: false,
            }),
            Condvar::new(),
        ));
        let s2 = shared.clone();
        let worker = std::thread::Builder::new()
            .name("report".into())
            .spawn(move || worker(s2, client, o))?;
        Ok(HttpReporter {
            shared,
            worker: Some(worker),
            dropped,
        })
    }
}

impl Sink for HttpReporter {
    fn send(&mut self, ev: &Event) {
        if !ev.kind.is_reported() {
            return;
        }
        let Ok(body) = serde_json::to_string(ev) else {
            return;
        };
        let (lock, cv) = &*self.shared;
        let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
        if !ev.kind.is_essential() {
            let waiting = q
                .items
                .iter()
                .filter(|(e, _)| !e.kind.is_essential())
                .count();
            if waiting >= MAX_QUEUED_PROGRESS {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        q.items.push_back((ev.clone(), body));
        cv.notify_one();
    }

    fn close(&mut self) {
        {
            let (lock, cv) = &*self.shared;
            lock.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
            cv.notify_one();
        }
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn worker(
    shared: Arc<(Mutex<Queue>, Condvar)>,
    client: reqwest::blocking::Client,
    o: ReportOptions,
) {
    loop {
        let (ev, body) = {
            let (lock, cv) = &*shared;
            let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if let Some(item) = q.items.pop_front() {
                    break item;
                }
                if q.closed {
                    return;
                }
                q = cv.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        let is_final = ev.kind.is_final();
        for url in &o.urls {
            deliver(&client, &o, url, &body, is_final, &ev);
        }
    }
}

fn deliver(
    client: &reqwest::blocking::Client,
    o: &ReportOptions,
    url: &str,
    body: &str,
    is_final: bool,
    ev: &Event,
) {
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        let mut req = client
            .post(url)
            .timeout(o.net.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(t) = &o.token {
            req = req.bearer_auth(t);
        }
        let err = match req.send() {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => format!("report server {url} answered HTTP {}", r.status()),
            Err(e) => format!("{:#}", net::explain(url, &e)),
        };
        attempt += 1;
        let out_of_budget = if is_final {
            started.elapsed() >= o.final_budget
        } else {
            attempt >= o.attempts || !ev.kind.is_essential()
        };
        if out_of_budget {
            eprintln!(
                "warning: giving up reporting {} event #{} to {url}: {err}",
                kind_name(ev),
                ev.seq
            );
            return;
        }
        eprintln!(
            "warning: reporting {} event to {url} failed: {err}; retrying",
            kind_name(ev)
        );
        let wait = net::backoff(attempt - 1);
        let wait = if is_final {
            wait.min(o.final_budget.saturating_sub(started.elapsed()))
        } else {
            wait
        };
        std::thread::sleep(wait);
    }
}

fn kind_name(ev: &Event) -> String {
    serde_json::to_value(&ev.kind)
        .ok()
        .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_default()
}
