//! A loopback HTTP/1.1 file server for tests: serves `root/<url path>`, records every request, and
//! can misbehave on demand (latency, 429/500, truncated or oversized bodies, garbage, hangs, slowloris).
//!
//! It runs on its own thread and runtime, so sync and async tests (and other test targets through the
//! `test-support` feature) can use it alike; dropping it stops it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::testing::loopback::{Loopback, lock};

/// One request as the server saw it. Header names are lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The raw request target (percent-encoding kept), query included.
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The request body (`Content-Length` bytes; empty for a GET).
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// A way to misbehave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with a short body (and `Retry-After` when given).
    Status { status: u16, retry_after: Option<String> },
    /// Announce the full length, send half the body, close.
    Truncated,
    /// Accept, read the request, never answer.
    Hang,
    /// Answer 200 with this many bytes of JSON-ish filler (no Content-Length).
    Oversized(usize),
    /// Answer 200 with this many bytes of filler in `Transfer-Encoding: chunked` (no Content-Length, and
    /// the connection stays open: only counting what arrives can stop it).
    Chunked(usize),
    /// Answer 200 with bytes that are not JSON.
    Garbage,
    /// Send the headers, then one body byte per interval, forever.
    Slowloris(Duration),
}

#[derive(Debug, Clone)]
struct FaultRule {
    path_prefix: String,
    fault: Fault,
    remaining: Option<u32>,
}

#[derive(Default)]
struct Shared {
    root: PathBuf,
    requests: Vec<RecordedRequest>,
    faults: Vec<FaultRule>,
    latency: Duration,
    overrides: HashMap<String, Vec<u8>>,
    extra_headers: Vec<(String, String)>,
    etags: bool,
    /// Connections open now, and the most that were open at once.
    open_connections: usize,
    peak_connections: usize,
}

/// The server; stops when dropped.
pub struct FixtureServer {
    loopback: Loopback,
    shared: Arc<Mutex<Shared>>,
}

impl FixtureServer {
    /// Starts serving `root` on 127.0.0.1, port chosen by the OS.
    pub fn start(root: impl Into<PathBuf>) -> std::io::Result<FixtureServer> {
        let shared = Arc::new(Mutex::new(Shared {
            root: root.into(),
            ..Shared::default()
        }));
        let served = shared.clone();
        let loopback = Loopback::start("fixture-server", 2, move |stream| {
            let shared = served.clone();
            async move {
                {
                    let mut shared = lock(&shared);
                    shared.open_connections += 1;
                    shared.peak_connections = shared.peak_connections.max(shared.open_connections);
                }
                let _ = serve_connection(stream, shared.clone()).await;
                lock(&shared).open_connections -= 1;
            }
        })?;
        Ok(FixtureServer { loopback, shared })
    }

    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.loopback.addr())
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }

    /// The most client connections that were open at the same time.
    pub fn peak_connections(&self) -> usize {
        lock(&self.shared).peak_connections
    }

    pub fn request_count(&self) -> usize {
        lock(&self.shared).requests.len()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared).requests.clear();
    }

    /// Delay added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared).latency = latency;
    }

    /// Misbehave for requests whose path starts with `path_prefix`, `times` times (or forever).
    pub fn inject(&self, path_prefix: &str, fault: Fault, times: Option<u32>) {
        lock(&self.shared).faults.push(FaultRule {
            path_prefix: path_prefix.to_string(),
            fault,
            remaining: times,
        });
    }

    pub fn clear_faults(&self) {
        lock(&self.shared).faults.clear();
    }

    /// Serves `body` for exactly `path` (the decoded path, query excluded) instead of the file.
    pub fn set_body(&self, path: &str, body: impl Into<Vec<u8>>) {
        lock(&self.shared).overrides.insert(path.to_string(), body.into());
    }

    /// Adds a header to every 200 answer (e.g. `Cache-Control`).
    pub fn add_header(&self, name: &str, value: &str) {
        lock(&self.shared)
            .extra_headers
            .push((name.to_string(), value.to_string()));
    }

    /// Sends a content `ETag` and answers `If-None-Match` with 304.
    pub fn set_etags(&self, on: bool) {
        lock(&self.shared).etags = on;
    }
}

pub(crate) fn resolve_file(root: &Path, decoded: &str) -> Option<PathBuf> {
    let relative = decoded.trim_start_matches('/').trim_end_matches('/');
    if relative.split('/').any(|part| part == "..") {
        return None;
    }
    let path = root.join(relative);
    if path.is_dir() {
        let index = path.join("index.json");
        return index.is_file().then_some(index);
    }
    path.is_file().then_some(path)
}

async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<RecordedRequest> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            buffer.drain(..end + 4);
            let mut lines = head.split("\r\n");
            let mut first = lines.next()?.split(' ');
            let method = first.next()?.to_string();
            let path = first.next()?.to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|line| line.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            // A POST's body is read off the connection, so the next request on it starts where it should.
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            while buffer.len() < length {
                let mut chunk = [0u8; 4096];
                let read = stream.read(&mut chunk).await.ok()?;
                if read == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            let body = buffer.drain(..length).collect();
            return Some(RecordedRequest {
                method,
                path,
                headers,
                body,
            });
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<Mutex<Shared>>) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    while let Some(request) = read_request(&mut stream, &mut buffer).await {
        let target = request.path.split('?').next().unwrap_or_default().to_string();
        let decoded = crate::lookup::http::percent_decode(&target);
        let (latency, fault, body, extra_headers, etags) = {
            let mut state = lock(&shared);
            state.requests.push(request.clone());
            let fault = take_fault(&mut state.faults, &decoded, &target);
            let body = match state.overrides.get(&decoded) {
                Some(body) => Ok(body.clone()),
                None => Err(state.root.clone()),
            };
            (state.latency, fault, body, state.extra_headers.clone(), state.etags)
        };
        // Files are read outside the lock, so concurrent requests do not queue behind each other.
        let body = match body {
            Ok(body) => Some(body),
            Err(root) => match resolve_file(&root, &decoded) {
                Some(path) => tokio::fs::read(path).await.ok(),
                None => None,
            },
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if let Some(fault) = fault {
            match misbehave(&mut stream, fault, body).await? {
                AfterFault::NextRequest => continue,
                AfterFault::Close => return Ok(()),
            }
        }
        let Some(body) = body else {
            stream
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
                .await?;
            continue;
        };
        answer(&mut stream, &request, &body, &extra_headers, etags).await?;
    }
    Ok(())
}

/// The first rule matching the path that still has uses left; a rule with a count uses one up.
fn take_fault(rules: &mut [FaultRule], decoded: &str, target: &str) -> Option<Fault> {
    for rule in rules.iter_mut() {
        if decoded.starts_with(&rule.path_prefix) || target.starts_with(&rule.path_prefix) {
            match &mut rule.remaining {
                Some(0) => continue,
                Some(n) => *n -= 1,
                None => {}
            }
            return Some(rule.fault.clone());
        }
    }
    None
}

/// What the connection does after a fault was served.
enum AfterFault {
    NextRequest,
    Close,
}

async fn misbehave(stream: &mut TcpStream, fault: Fault, body: Option<Vec<u8>>) -> std::io::Result<AfterFault> {
    match fault {
        Fault::Status { status, retry_after } => {
            let mut head = format!("HTTP/1.1 {status} Fault\r\nContent-Length: 5\r\n");
            if let Some(after) = retry_after {
                head.push_str(&format!("Retry-After: {after}\r\n"));
            }
            head.push_str("\r\nfault");
            stream.write_all(head.as_bytes()).await?;
            Ok(AfterFault::NextRequest)
        }
        Fault::Truncated => {
            let body = body.unwrap_or_else(|| b"{\"truncated\": true}".to_vec());
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&body[..body.len() / 2]).await?;
            Ok(AfterFault::Close)
        }
        Fault::Hang => {
            std::future::pending::<()>().await;
            Ok(AfterFault::Close)
        }
        Fault::Oversized(size) => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                .await?;
            let chunk = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < size {
                let n = chunk.len().min(size - sent);
                stream.write_all(&chunk[..n]).await?;
                sent += n;
            }
            Ok(AfterFault::Close)
        }
        Fault::Chunked(size) => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            let filler = vec![b' '; 64 * 1024];
            let mut sent = 0;
            while sent < size {
                let n = filler.len().min(size - sent);
                let mut frame = format!("{n:x}\r\n").into_bytes();
                frame.extend_from_slice(&filler[..n]);
                frame.extend_from_slice(b"\r\n");
                stream.write_all(&frame).await?;
                sent += n;
            }
            stream.write_all(b"0\r\n\r\n").await?;
            Ok(AfterFault::NextRequest)
        }
        Fault::Garbage => {
            let garbage = b"\x00\xff<html>not json at all";
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", garbage.len());
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(garbage).await?;
            Ok(AfterFault::NextRequest)
        }
        Fault::Slowloris(interval) => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
                .await?;
            loop {
                stream.write_all(b" ").await?;
                tokio::time::sleep(interval).await;
            }
        }
    }
}

/// A 200 with the file (or a 304 when `etags` is on and the client holds the current one).
async fn answer(
    stream: &mut TcpStream,
    request: &RecordedRequest,
    body: &[u8],
    extra_headers: &[(String, String)],
    etags: bool,
) -> std::io::Result<()> {
    let mut head = String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
    if etags {
        let etag = format!("\"{}\"", hex::encode(&Sha256::digest(body)[..8]));
        if request.header("if-none-match") == Some(etag.as_str()) {
            let mut not_modified = format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n");
            for (name, value) in extra_headers {
                not_modified.push_str(&format!("{name}: {value}\r\n"));
            }
            not_modified.push_str("Content-Length: 0\r\n\r\n");
            return stream.write_all(not_modified.as_bytes()).await;
        }
        head.push_str(&format!("ETag: {etag}\r\n"));
    }
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    // One write, as a real server does: a separate small head write would let Nagle's algorithm hold
    // the body back until the client's delayed ACK (tens of milliseconds on loopback).
    let mut answer = Vec::with_capacity(head.len() + body.len());
    answer.extend_from_slice(head.as_bytes());
    answer.extend_from_slice(body);
    stream.write_all(&answer).await
}
