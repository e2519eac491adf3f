//! The agent's own log, kept in memory for `log.collect_system_logs`: every event the
//! install and the agent sent (console lines included), as text and as JSON lines, packed
//! with the kernel log into the base64 tar.gz that Ironic stores (`[agent] deploy_logs_*`).

use crate::report::{Event, EventKind, Sink};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// At most this many events are kept (oldest dropped): progress is at most one a second.
const MAX_EVENTS: usize = 20_000;

#[derive(Clone, Default)]
pub struct MemoryLog {
    events: Arc<Mutex<VecDeque<Event>>>,
}

impl MemoryLog {
    pub fn sink(&self) -> Box<dyn Sink> {
        Box::new(self.clone())
    }

    fn snapshot(&self) -> Vec<Event> {
        let g = self.events.lock().unwrap_or_else(|p| p.into_inner());
        g.iter().cloned().collect()
    }

    /// Human-readable lines: time, event name, message or the event's fields.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for e in self.snapshot() {
            let line = match (&e.kind, &e.message) {
                (EventKind::Log { .. }, Some(m)) => m.clone(),
                _ => serde_json::to_value(&e.kind)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            };
            out.push_str(&format!("{} {}\n", e.time, line));
        }
        out
    }

    pub fn json_lines(&self) -> String {
        self.snapshot()
            .iter()
            .filter_map(|e| serde_json::to_string(e).ok())
            .map(|l| l + "\n")
            .collect()
    }
}

impl Sink for MemoryLog {
    fn send(&mut self, ev: &Event) {
        let mut g = self.events.lock().unwrap_or_else(|p| p.into_inner());
        if g.len() == MAX_EVENTS {
            g.pop_front();
        }
        g.push_back(ev.clone());
    }
}

/// One regular file in a ustar archive.
fn tar_entry(out: &mut Vec<u8>, name: &str, data: &[u8], mtime: u64) {
    let mut h = [0u8; 512];
    let name = name.as_bytes();
    h[..name.len().min(99)].copy_from_slice(&name[..name.len().min(99)]);
    let octal = |h: &mut [u8; 512], off: usize, len: usize, v: u64| {
        let s = format!("{v:0w$o}\0", w = len - 1);
        h[off..off + len].copy_from_slice(s.as_bytes());
    };
    octal(&mut h, 100, 8, 0o644);
    octal(&mut h, 108, 8, 0);
    octal(&mut h, 116, 8, 0);
    octal(&mut h, 124, 12, data.len() as u64);
    octal(&mut h, 136, 12, mtime);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A gzipped tar of `files` (name, contents).
pub fn tar_gz(files: &[(&str, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut tar = Vec::new();
    for (n, d) in files {
        tar_entry(&mut tar, n, d, mtime);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar)?;
    gz.finish()
}

/// The output of a diagnostic command, or why there is none.
fn command_output(prog: &str, args: &[&str]) -> Vec<u8> {
    match std::process::Command::new(prog).args(args).output() {
        Ok(o) => {
            let mut v = o.stdout;
            v.extend_from_slice(&o.stderr);
            v
        }
        Err(e) => format!("{prog}: {e}\n").into_bytes(),
    }
}

/// What `log.collect_system_logs` returns: the base64 of a tar.gz with rdinstall's log and
/// events and the machine's kernel log and block devices.
pub fn collect(log: &MemoryLog) -> std::io::Result<String> {
    use base64::Engine;
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "rdinstall".into());
    let files = [
        (
            "rdinstall.log",
            crate::redact::text(&log.text()).into_bytes(),
        ),
        (
            "rdinstall-events.jsonl",
            crate::redact::text(&log.json_lines()).into_bytes(),
        ),
        ("dmesg", command_output("dmesg", &[])),
        ("block-devices", command_output(&exe, &["disks"])),
        ("mounts", std::fs::read("/proc/mounts").unwrap_or_default()),
    ];
    Ok(base64::engine::general_purpose::STANDARD.encode(tar_gz(&files)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_is_a_tar_gz_that_tar_reads() {
        let gz = tar_gz(&[
            ("rdinstall.log", b"hello\n".to_vec()),
            ("b", vec![7u8; 600]),
        ])
        .unwrap();
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("logs.tar.gz");
        std::fs::write(&p, gz).unwrap();
        let out = std::process::Command::new("tar")
            .arg("-xzf")
            .arg(&p)
            .arg("-C")
            .arg(t.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(t.path().join("rdinstall.log")).unwrap(),
            b"hello\n"
        );
        assert_eq!(std::fs::read(t.path().join("b")).unwrap(), vec![7u8; 600]);
    }
}
