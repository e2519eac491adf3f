//! The one event type of the program, and the emitter every stage sends through.
//! Stages only call `Events` methods; sinks (console, JSON lines, HTTP) subscribe.

use crate::error::Stage;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SCHEMA_VERSION: u32 = 1;
const LOG_TAIL_LINES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageState {
    Begin,
    End,
}

/// What happened. Serialized with `"event": "<name>"` beside the common fields.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum EventKind {
    Started {
        version: String,
    },
    Plan {
        plan: serde_json::Value,
    },
    Stage {
        stage: Stage,
        state: StageState,
    },
    Progress {
        stage: Stage,
        bytes_written: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        bytes_total: Option<u64>,
        /// Bytes as served (compressed) so far, and their total when known: the measure of
        /// progress for a compressed image whose decoded size is unknown.
        #[serde(skip_serializing_if = "Option::is_none")]
        bytes_served: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        bytes_served_total: Option<u64>,
        /// Progress events the HTTP queue had to drop so far (never stage or final events).
        #[serde(skip_serializing_if = "is_zero")]
        dropped: u64,
    },
    Succeeded {},
    Failed {
        stage: Stage,
        error: String,
        exit_code: i32,
        log_tail: Vec<String>,
    },
    /// A console line. Not part of the reported schema: the HTTP and JSON sinks skip it.
    Log {
        #[serde(skip)]
        level: Level,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    #[default]
    Info,
    Warn,
}

impl EventKind {
    /// Events that must reach the server: everything but progress and log lines.
    pub fn is_essential(&self) -> bool {
        !matches!(self, EventKind::Progress { .. } | EventKind::Log { .. })
    }
    pub fn is_final(&self) -> bool {
        matches!(self, EventKind::Succeeded {} | EventKind::Failed { .. })
    }
    pub fn is_reported(&self) -> bool {
        !matches!(self, EventKind::Log { .. })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub v: u32,
    pub install_id: String,
    pub seq: u64,
    pub time: String,
    #[serde(flatten)]
    pub kind: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Receives every event in order. Must not block for long: slow work goes to a thread.
pub trait Sink: Send {
    fn send(&mut self, ev: &Event);
    /// Called once at the end; may wait (bounded) for queued events to go out.
    fn close(&mut self) {}
}

#[derive(Default)]
struct Context {
    mac: Option<String>,
    hostname: Option<String>,
    disk: Option<String>,
    image: Option<String>,
}

struct Inner {
    seq: u64,
    ctx: Context,
    sinks: Vec<Box<dyn Sink>>,
    log_tail: VecDeque<String>,
    last_progress: Option<(Instant, u64)>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

/// Cheap to clone; all clones feed the same sinks in one `seq` order.
#[derive(Clone)]
pub struct Events {
    install_id: Arc<str>,
    inner: Arc<Mutex<Inner>>,
}

/// A random 128-bit id, hex.
fn new_install_id() -> String {
    let v: u128 = rand::random();
    format!("{v:032x}")
}

impl Events {
    pub fn new() -> Events {
        Events {
            install_id: new_install_id().into(),
            inner: Arc::new(Mutex::new(Inner {
                seq: 0,
                ctx: Context::default(),
                sinks: Vec::new(),
                log_tail: VecDeque::new(),
                last_progress: None,
                dropped: Arc::default(),
            })),
        }
    }

    /// No sinks at all: for library callers and tests that only want the return value.
    pub fn silent() -> Events {
        Events::new()
    }

    pub fn install_id(&self) -> &str {
        &self.install_id
    }

    pub fn add_sink(&self, sink: Box<dyn Sink>) {
        self.lock().sinks.push(sink);
    }

    /// Counter the HTTP sink bumps when it drops a progress event.
    pub fn dropped_counter(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.lock().dropped.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_machine(&self, mac: Option<String>, hostname: Option<String>) {
        let mut i = self.lock();
        i.ctx.mac = mac;
        i.ctx.hostname = hostname;
    }
    pub fn set_disk(&self, disk: &str) {
        self.lock().ctx.disk = Some(disk.to_string());
    }
    pub fn set_image(&self, image: &str) {
        self.lock().ctx.image = Some(crate::redact::text(image));
    }

    fn emit_with(&self, kind: EventKind, message: Option<String>) {
        // Every line and value leaves through here: console, kernel log, --json, HTTP and
        // the log tail all get the redacted text (README "Threat model").
        let message = message.map(|m| crate::redact::text(&m));
        let kind = redact_kind(kind);
        let mut i = self.lock();
        if let Some(m) = &message {
            if i.log_tail.len() == LOG_TAIL_LINES {
                i.log_tail.pop_front();
            }
            i.log_tail.push_back(m.clone());
        }
        if kind.is_reported() {
            i.seq += 1;
        }
        let ev = Event {
            v: SCHEMA_VERSION,
            install_id: self.install_id.to_string(),
            seq: i.seq,
            time: utc_now(),
            kind,
            mac: i.ctx.mac.clone(),
            hostname: i.ctx.hostname.clone(),
            disk: i.ctx.disk.clone(),
            image: i.ctx.image.clone(),
            message,
        };
        for s in i.sinks.iter_mut() {
            s.send(&ev);
        }
    }

    pub fn emit(&self, kind: EventKind) {
        self.emit_with(kind, None)
    }

    /// A console line, also kept for the `failed` event's log tail.
    pub fn info(&self, msg: impl Into<String>) {
        self.emit_with(EventKind::Log { level: Level::Info }, Some(msg.into()))
    }
    pub fn warn(&self, msg: impl Into<String>) {
        self.emit_with(EventKind::Log { level: Level::Warn }, Some(msg.into()))
    }

    pub fn started(&self) {
        self.emit_with(
            EventKind::Started {
                version: env!("CARGO_PKG_VERSION").into(),
            },
            Some(format!("rdinstall {} starting", env!("CARGO_PKG_VERSION"))),
        )
    }

    pub fn stage(&self, stage: Stage, state: StageState) {
        let msg = match state {
            StageState::Begin => format!("{stage}: begin"),
            StageState::End => format!("{stage}: done"),
        };
        self.emit_with(EventKind::Stage { stage, state }, Some(msg))
    }

    /// Rate-limited: at most once a second, and on each 5% step; always at completion.
    /// `served` is (bytes served so far, their total) for compressed images.
    pub fn progress(
        &self,
        stage: Stage,
        written: u64,
        total: Option<u64>,
        served: Option<(u64, Option<u64>)>,
    ) {
        let now = Instant::now();
        // The fraction done: decoded bytes when their total is known, else served bytes.
        let (done, whole) = match (total, served) {
            (Some(t), _) => (written, Some(t)),
            (None, Some((s, st))) => (s, st),
            (None, None) => (written, None),
        };
        let due = {
            let mut i = self.lock();
            let pct = |b: u64| whole.filter(|t| *t > 0).map(|t| b * 20 / t);
            let due = match i.last_progress {
                None => true,
                Some((t, b)) => {
                    now.duration_since(t) >= Duration::from_secs(1)
                        || pct(done) != pct(b)
                        || Some(done) == whole
                }
            };
            if due {
                i.last_progress = Some((now, done));
            }
            due
        };
        if due {
            let dropped = self
                .lock()
                .dropped
                .load(std::sync::atomic::Ordering::Relaxed);
            self.emit(EventKind::Progress {
                stage,
                bytes_written: written,
                bytes_total: total,
                bytes_served: served.map(|s| s.0),
                bytes_served_total: served.and_then(|s| s.1),
                dropped,
            });
        }
    }

    pub fn reset_progress(&self) {
        self.lock().last_progress = None;
    }

    pub fn log_tail(&self) -> Vec<String> {
        self.lock().log_tail.iter().cloned().collect()
    }

    pub fn succeeded(&self) {
        self.emit_with(EventKind::Succeeded {}, Some("install succeeded".into()))
    }

    pub fn failed(&self, stage: Stage, error: &str, exit_code: i32) {
        let log_tail = self.log_tail();
        self.emit_with(
            EventKind::Failed {
                stage,
                error: error.to_string(),
                exit_code,
                log_tail,
            },
            Some(format!(
                "install failed in {stage} (exit {exit_code}): {error}"
            )),
        )
    }

    /// Let every sink finish (the HTTP reporter retries the final event here).
    pub fn close(&self) {
        let mut sinks = std::mem::take(&mut self.lock().sinks);
        for s in sinks.iter_mut() {
            s.close();
        }
    }
}

/// The free-text and nested parts of an event, redacted (messages are redacted apart).
fn redact_kind(kind: EventKind) -> EventKind {
    match kind {
        EventKind::Plan { mut plan } => {
            crate::redact::json(&mut plan);
            EventKind::Plan { plan }
        }
        EventKind::Failed {
            stage,
            error,
            exit_code,
            log_tail,
        } => EventKind::Failed {
            stage,
            error: crate::redact::text(&error),
            exit_code,
            // Already redacted line by line as they were logged; once more costs nothing and
            // covers a secret registered after the line was logged.
            log_tail: log_tail.iter().map(|l| crate::redact::text(l)).collect(),
        },
        other => other,
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

/// RFC 3339 UTC time with second precision, without a date crate.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Capture(Arc<Mutex<Vec<Event>>>);
    impl Sink for Capture {
        fn send(&mut self, ev: &Event) {
            self.0.lock().unwrap().push(ev.clone());
        }
    }

    #[test]
    fn formats_utc() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_795_550_400), "2026-11-24T20:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn seq_counts_reported_events_and_json_shape() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let ev = Events::new();
        ev.add_sink(Box::new(Capture(got.clone())));
        ev.set_machine(Some("52:54:00:12:34:56".into()), Some("n1".into()));
        ev.started();
        ev.info("hello");
        ev.stage(Stage::Write, StageState::Begin);
        ev.failed(Stage::Write, "boom", 4);
        let got = got.lock().unwrap();
        let seqs: Vec<u64> = got.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 1, 2, 3]);
        let j = serde_json::to_value(&got[3]).unwrap();
        assert_eq!(j["event"], "failed");
        assert_eq!(j["stage"], "write");
        assert_eq!(j["exit_code"], 4);
        assert_eq!(j["mac"], "52:54:00:12:34:56");
        assert_eq!(j["v"], 1);
        assert!(j["log_tail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "hello"));
        let j = serde_json::to_value(&got[2]).unwrap();
        assert_eq!(j["state"], "begin");
    }

    #[test]
    fn progress_is_rate_limited_but_steps_on_5_percent() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let ev = Events::new();
        ev.add_sink(Box::new(Capture(got.clone())));
        for b in 0..=1000u64 {
            ev.progress(Stage::Write, b, Some(1000), None);
        }
        let n = got.lock().unwrap().len();
        assert_eq!(n, 21, "one per 5% step plus the first");
    }
}
