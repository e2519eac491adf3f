//! Shared test helpers: a real HTTP server on 127.0.0.1 with fault injection and request
//! recording, sparse disk files, and running the real binary.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the server answers one path.
#[derive(Clone)]
pub enum Route {
    /// The file's bytes; Range supported.
    Body(Arc<Vec<u8>>),
    /// Status only.
    Status(u16),
    /// Fail with `status` for the first `n` requests, then serve the body.
    FailFirst(usize, u16, Arc<Vec<u8>>),
    /// Send headers then hang without sending the body.
    Hang,
    /// Announce full Content-Length but close after `n` bytes of the body.
    Short(usize, Arc<Vec<u8>>),
    /// Cut the connection at these offsets of the body (one cut per request); Range supported.
    CutAt(Arc<Mutex<Vec<u64>>>, Arc<Vec<u8>>),
    /// Redirect to the given path.
    Redirect(String),
    /// The first two requests (preflight's look at the head, then the write) get the body cut
    /// at this offset; every later one a 503: a server that dies mid-download and stays down.
    CutThenDown(u64, Arc<Vec<u8>>),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

pub struct Server {
    pub port: u16,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    pub requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    /// POSTs answered with 500 before succeeding / refused entirely while > 0.
    pub post_failures: Arc<AtomicUsize>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = Server {
            port,
            routes: Arc::default(),
            requests: Arc::default(),
            stop: Arc::default(),
            hits: Arc::default(),
            post_failures: Arc::default(),
        };
        let (routes, reqs, stop, hits, pf) = (
            s.routes.clone(),
            s.requests.clone(),
            s.stop.clone(),
            s.hits.clone(),
            s.post_failures.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (routes, reqs, hits, pf) =
                    (routes.clone(), reqs.clone(), hits.clone(), pf.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &routes, &reqs, &hits, &pf);
                });
            }
        });
        s
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn route(&self, path: &str, r: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), r);
    }

    pub fn file(&self, path: &str, data: Vec<u8>) -> String {
        self.route(path, Route::Body(Arc::new(data)));
        self.url(path)
    }

    pub fn posts(&self) -> Vec<serde_json::Value> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == "POST")
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn handle(
    conn: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    reqs: &Mutex<Vec<Request>>,
    hits: &Mutex<HashMap<String, usize>>,
    post_failures: &AtomicUsize,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        let req = Request {
            method: method.clone(),
            path: path.clone(),
            headers: headers.clone(),
            body,
        };
        if method == "POST" {
            // Fail while the counter is positive (a report server that is down, then recovers).
            if post_failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                reqs.lock().unwrap().push(Request {
                    method: "POST-FAILED".into(),
                    ..req
                });
                write!(
                    out,
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
                )?;
                continue;
            }
            reqs.lock().unwrap().push(req);
            write!(out, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        }
        reqs.lock().unwrap().push(req);
        let n = {
            let mut h = hits.lock().unwrap();
            let e = h.entry(path.clone()).or_insert(0);
            *e += 1;
            *e
        };
        let route = routes.lock().unwrap().get(&path).cloned();
        let range_start: Option<u64> = headers
            .get("range")
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.split('-').next())
            .and_then(|r| r.parse().ok());
        match route {
            None => write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?,
            Some(Route::Status(code)) => {
                write!(out, "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\n\r\n")?
            }
            Some(Route::Redirect(to)) => write!(
                out,
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n"
            )?,
            Some(Route::Body(data)) => send_body(&mut out, &data, range_start, None)?,
            Some(Route::FailFirst(k, code, data)) => {
                if n <= k {
                    write!(out, "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\n\r\n")?;
                } else {
                    send_body(&mut out, &data, range_start, None)?;
                }
            }
            Some(Route::Hang) => {
                write!(out, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")?;
                out.flush()?;
                std::thread::sleep(Duration::from_secs(120));
                return Ok(());
            }
            Some(Route::Short(k, data)) => {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    data.len()
                )?;
                out.write_all(&data[..k.min(data.len())])?;
                return Ok(());
            }
            Some(Route::CutThenDown(at, data)) => {
                if n <= 2 {
                    send_body(&mut out, &data, range_start, Some(at))?;
                    return Ok(());
                }
                write!(out, "HTTP/1.1 503 Down\r\nContent-Length: 0\r\n\r\n")?;
            }
            Some(Route::CutAt(cuts, data)) => {
                let cut = {
                    let mut c = cuts.lock().unwrap();
                    let start = range_start.unwrap_or(0);
                    // The next cut beyond where this request starts.
                    c.retain(|x| *x > start);
                    c.first().copied()
                };
                send_body(&mut out, &data, range_start, cut)?;
                if cut.is_some() {
                    return Ok(());
                }
            }
        }
    }
}

fn send_body(
    out: &mut TcpStream,
    data: &[u8],
    range: Option<u64>,
    cut: Option<u64>,
) -> std::io::Result<()> {
    let etag = "\"v1\"";
    let (status, start) = match range {
        Some(s) if (s as usize) < data.len() => ("206 Partial Content", s as usize),
        _ => ("200 OK", 0),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nETag: {etag}\r\nAccept-Ranges: bytes\r\n",
        data.len() - start
    );
    if start > 0 {
        head += &format!(
            "Content-Range: bytes {start}-{}/{}\r\n",
            data.len() - 1,
            data.len()
        );
    }
    head += "\r\n";
    out.write_all(head.as_bytes())?;
    let end = match cut {
        Some(c) => (c as usize).clamp(start, data.len()),
        None => data.len(),
    };
    out.write_all(&data[start..end])?;
    out.flush()
}

/// A port on 127.0.0.1 that accepts connections and never reads or answers (a hung server).
pub fn silent_server() -> u16 {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Hold every connection open without reading or answering.
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
        }
    });
    port
}

/// A sparse file used as a target disk, removed on drop.
pub struct Disk {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Disk {
    pub fn new(size: u64) -> Disk {
        Self::filled(size, None)
    }
    /// A disk whose every byte is `fill` (to prove which bytes were written).
    pub fn filled(size: u64, fill: Option<u8>) -> Disk {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk.img");
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(size).unwrap();
        if let Some(b) = fill {
            let chunk = vec![b; 1 << 20];
            let mut f = f;
            let mut left = size;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                f.write_all(&chunk[..n]).unwrap();
                left -= n as u64;
            }
        }
        Disk { dir, path }
    }
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }
    pub fn sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(self.bytes()))
    }
}

/// Run the real binary with args; stdin is closed (no TTY).
pub fn rdinstall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdinstall"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// JSON events printed with --json.
pub fn events(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A realistic small disk image: an MBR with one partition, data, zero runs.
pub fn sample_disk_image(size: usize) -> Vec<u8> {
    let mut v = vec![0u8; size];
    let mut x: u32 = 0x12345678;
    for (i, b) in v.iter_mut().enumerate().skip(1 << 20) {
        // Zero runs in every fourth MiB, pseudo-random bytes elsewhere.
        if (i >> 20) % 4 == 3 {
            continue;
        }
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = if (i >> 12) % 3 == 0 {
            (i % 7) as u8
        } else {
            x as u8
        };
    }
    // MBR: partition 1 from 1 MiB to the end of the image.
    v[446] = 0x80;
    v[446 + 4] = 0x83;
    v[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
    v[446 + 12..446 + 16].copy_from_slice(&((size as u32 / 512) - 2048).to_le_bytes());
    v[510] = 0x55;
    v[511] = 0xaa;
    v
}

/// Compress with the real command-line tool.
pub fn compress(tool: &[&str], data: &[u8]) -> Vec<u8> {
    let mut c = Command::new(tool[0])
        .args(&tool[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} is needed for this test: {e}", tool[0]));
    let mut stdin = c.stdin.take().unwrap();
    let data = data.to_vec();
    let w = std::thread::spawn(move || stdin.write_all(&data));
    let out = c.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

pub fn sha256_hex(d: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(d))
}

/// `rdinstall install --image IMAGE --disk DISK --yes EXTRA...`
pub fn install(image: &str, disk: &Disk, extra: &[&str]) -> Output {
    let mut a = vec![
        "install",
        "--image",
        image,
        "--disk",
        disk.path.to_str().unwrap(),
        "--yes",
    ];
    a.extend_from_slice(extra);
    rdinstall(&a)
}
