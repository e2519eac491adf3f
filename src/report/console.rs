//! Console sink: an indicatif bar on a TTY, plain lines on a serial console or pipe, and (when
//! started from the kernel command line) the kernel log, so messages show in `dmesg`.

use super::event::{Event, EventKind, Level, Sink};
use crate::error::Stage;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bar,
    Plain,
    /// Messages only, no progress.
    Quiet,
}

pub struct Console {
    style: Style,
    /// Write lines to stderr (when stdout carries `--json`).
    to_stderr: bool,
    kmsg: Option<std::fs::File>,
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Console {
    pub fn new(style: Style, to_stderr: bool, kernel_log: bool) -> Console {
        let kmsg = if kernel_log {
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/kmsg")
                .ok()
        } else {
            None
        };
        Console {
            style,
            to_stderr,
            kmsg,
            bar: None,
            started: Instant::now(),
        }
    }

    fn line(&mut self, text: &str, warn: bool) {
        self.line_prefixed(text, warn, if warn { "warning: " } else { "" })
    }

    fn line_prefixed(&mut self, text: &str, warn: bool, prefix: &str) {
        let text = format!("{prefix}{text}");
        if let Some(k) = self.kmsg.as_mut() {
            // <4> warning, <6> info; one write per record.
            let prio = if warn { 4 } else { 6 };
            let _ = k.write_all(format!("<{prio}>rdinstall: {text}\n").as_bytes());
        }
        if let Some(bar) = &self.bar {
            bar.println(&text);
        } else if self.to_stderr {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    fn progress(&mut self, stage: Stage, written: u64, total: Option<u64>) {
        match self.style {
            Style::Quiet => {}
            Style::Bar => {
                let bar = self.bar.get_or_insert_with(|| {
                    let b = ProgressBar::new(total.unwrap_or(0));
                    let tmpl = if total.is_some() {
                        "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"
                    } else {
                        "{msg} {spinner} {bytes} {bytes_per_sec} {elapsed}"
                    };
                    b.set_style(
                        ProgressStyle::with_template(tmpl)
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                    );
                    b.set_message(stage.to_string());
                    b
                });
                bar.set_position(written);
            }
            Style::Plain => {
                let secs = self.started.elapsed().as_secs_f64().max(0.001);
                let mb = written as f64 / 1e6;
                let pct = total
                    .filter(|t| *t > 0)
                    .map(|t| format!(" ({}%)", written * 100 / t))
                    .unwrap_or_default();
                let of = total
                    .map(|t| format!(" of {:.1}", t as f64 / 1e6))
                    .unwrap_or_default();
                self.line(
                    &format!(
                        "{stage}: {mb:.1}{of} MB written{pct}, {:.1} MB/s",
                        mb / secs
                    ),
                    false,
                );
            }
        }
    }
}

impl Sink for Console {
    fn send(&mut self, ev: &Event) {
        match &ev.kind {
            EventKind::Progress {
                stage,
                bytes_written,
                bytes_total,
                ..
            } => self.progress(*stage, *bytes_written, *bytes_total),
            EventKind::Stage { .. } => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
                self.started = Instant::now();
                if let Some(m) = &ev.message {
                    self.line(m, false);
                }
            }
            EventKind::Log { level } => {
                if let Some(m) = &ev.message {
                    self.line(m, *level == Level::Warn);
                }
            }
            EventKind::Failed { .. } => {
                if let Some(m) = &ev.message {
                    self.line_prefixed(m, true, "error: ");
                }
            }
            _ => {
                if let Some(m) = &ev.message {
                    self.line(m, false);
                }
            }
        }
    }

    fn close(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// `--json`: one reported event per line on stdout.
pub struct JsonLines;

impl Sink for JsonLines {
    fn send(&mut self, ev: &Event) {
        if ev.kind.is_reported() {
            if let Ok(s) = serde_json::to_string(ev) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{s}");
                let _ = out.flush();
            }
        }
    }
}
