//! HTTP reporter: POSTs each reported event as JSON to every `report` URL from a background
//! thread, so a slow or dead server never slows the install.
//!
//! Queue policy: progress events are dropped (and counted) when more than a few are waiting;
//! stage and final events are never dropped while the install runs. Each event is retried
//! with exponential backoff and jitter; the final event (`succeeded`/`failed`) gets a larger
//! budget.
//!
//! Closing (after the install, before the reboot) waits for the queue under one deadline,
//! `final_budget` from the moment of closing, shared by every queued event and every URL:
//! each attempt's timeout and each backoff are cut to what is left, and what is still queued
//! when it passes is dropped and counted on the console. A dead report server thus delays the
//! reboot by at most that budget, not by retries × timeout × events × URLs.

use super::event::{Event, Sink};
use crate::net::{self, NetOptions};
use crate::redact;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MAX_QUEUED_PROGRESS: usize = 4;

/// Extra time `close` gives the worker beyond the deadline (it checks the deadline between
/// attempts; an attempt started before closing may run a little past it).
const CLOSE_SLACK: Duration = Duration::from_secs(2);

struct Queue {
    items: VecDeque<(Event, String)>,
    closed: bool,
    /// Set by `close`: nothing is sent after this instant.
    deadline: Option<Instant>,
}

type Shared = Arc<(Mutex<Queue>, Condvar)>;

pub struct HttpReporter {
    shared: Shared,
    worker: Option<JoinHandle<()>>,
    /// The worker says here that it has finished (so `close` can wait with a timeout).
    finished: Option<mpsc::Receiver<()>>,
    dropped: Arc<AtomicU64>,
    final_budget: Duration,
}

#[derive(Clone)]
pub struct ReportOptions {
    pub urls: Vec<String>,
    pub token: Option<String>,
    pub net: NetOptions,
    /// Attempts for ordinary events.
    pub attempts: u32,
    /// The whole wait after the install (README: `clamp(4 × timeout, 20 s, 300 s)`), shared
    /// by every event still queued and every URL.
    pub final_budget: Duration,
}

impl HttpReporter {
    pub fn start(o: ReportOptions, dropped: Arc<AtomicU64>) -> anyhow::Result<HttpReporter> {
        let client = net::client(&o.net)?;
        let shared = Arc::new((
            Mutex::new(Queue {
                items: VecDeque::new(),
                closed: false,
                deadline: None,
            }),
            Condvar::new(),
        ));
        let s2 = shared.clone();
        let final_budget = o.final_budget;
        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("report".into())
            .spawn(move || {
                worker(s2, client, o);
                let _ = tx.send(());
            })?;
        Ok(HttpReporter {
            shared,
            worker: Some(worker),
            finished: Some(rx),
            dropped,
            final_budget,
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
        let deadline = Instant::now() + self.final_budget;
        {
            let (lock, cv) = &*self.shared;
            let mut q = lock.lock().unwrap_or_else(|p| p.into_inner());
            q.closed = true;
            q.deadline = Some(deadline);
            cv.notify_one();
        }
        let Some(finished) = self.finished.take() else {
            return;
        };
        let wait = (deadline + CLOSE_SLACK).saturating_duration_since(Instant::now());
        match finished.recv_timeout(wait) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Some(w) = self.worker.take() {
                    let _ = w.join();
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // An attempt begun before closing is still hanging: leave the thread behind
                // (the process ends or reboots next) rather than wait for it.
                let left = {
                    let q = self.shared.0.lock().unwrap_or_else(|p| p.into_inner());
                    q.items.len() + 1
                };
                eprintln!(
                    "warning: report server(s) did not answer within {}s after the install; \
                     dropped {left} queued event(s)",
                    self.final_budget.as_secs()
                );
            }
        }
    }
}

/// The close deadline, once set.
fn deadline_of(shared: &Shared) -> Option<Instant> {
    shared.0.lock().unwrap_or_else(|p| p.into_inner()).deadline
}

fn worker(shared: Shared, client: reqwest::blocking::Client, o: ReportOptions) {
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
        for (i, url) in o.urls.iter().enumerate() {
            if deliver(&client, &o, url, &body, is_final, &ev, &shared) == Delivery::OutOfTime {
                // This event to the URLs not tried yet, and everything still queued.
                let queued = shared
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .items
                    .len();
                let dropped = (o.urls.len() - i) + queued * o.urls.len();
                eprintln!(
                    "warning: report server(s) did not take the queued events within {}s after \
                     the install; dropped {dropped} event deliveries (the last was {} event #{})",
                    o.final_budget.as_secs(),
                    kind_name(&ev),
                    ev.seq
                );
                return;
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Delivery {
    Sent,
    GaveUp,
    /// The close deadline passed.
    OutOfTime,
}

fn deliver(
    client: &reqwest::blocking::Client,
    o: &ReportOptions,
    url: &str,
    body: &str,
    is_final: bool,
    ev: &Event,
    shared: &Shared,
) -> Delivery {
    let started = Instant::now();
    // Console lines never show a report URL's credentials.
    let shown = redact::text(url);
    let mut attempt = 0u32;
    loop {
        // Before closing, an attempt gets the whole timeout; after, what is left of the one
        // deadline shared by every queued event and URL.
        let deadline = deadline_of(shared);
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Delivery::OutOfTime;
                }
                o.net.timeout.min(left)
            }
            None => o.net.timeout,
        };
        let mut req = client
            .post(url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(t) = &o.token {
            req = req.bearer_auth(t);
        }
        let err = match req.send() {
            Ok(r) if r.status().is_success() => return Delivery::Sent,
            Ok(r) => format!("report server {shown} answered HTTP {}", r.status()),
            Err(e) => redact::text(&format!("{:#}", net::explain(url, &e))),
        };
        attempt += 1;
        let out_of_budget = if is_final {
            started.elapsed() >= o.final_budget
        } else {
            attempt >= o.attempts || !ev.kind.is_essential()
        };
        if out_of_budget {
            eprintln!(
                "warning: giving up reporting {} event #{} to {shown}: {err}",
                kind_name(ev),
                ev.seq
            );
            return Delivery::GaveUp;
        }
        eprintln!(
            "warning: reporting {} event to {shown} failed: {err}; retrying",
            kind_name(ev)
        );
        let mut wait = net::backoff(attempt - 1);
        if is_final {
            wait = wait.min(o.final_budget.saturating_sub(started.elapsed()));
        }
        if let Some(d) = deadline_of(shared) {
            wait = wait.min(d.saturating_duration_since(Instant::now()));
        }
        std::thread::sleep(wait);
    }
}

fn kind_name(ev: &Event) -> String {
    serde_json::to_value(&ev.kind)
        .ok()
        .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_default()
}
