//! Keystroke → diagnostics through the real binary, everything cached: spawns `gatehouse lsp` (the
//! binary cargo builds for this bench, or `GATEHOUSE_BIN`), opens a 300-dependency `package.json` in a
//! project whose `gatehouse.toml` is offline with `osv-db` = `fixtures/osv`, waits until the first
//! analysis is complete, then sends `EDITS` (default 200) `didChange` edits one at a time and times each
//! until the `publishDiagnostics` for that version arrives. Prints p50/p95/p99/max; never asserts timing.
//!
//! Offline with an empty cache, the server has advisories (from `osv-db`) but no registry facts, so
//! version-list work (age, provenance downgrade, fix candidates) is not exercised here; the in-process
//! `warm_keystroke` bench has both.
//!
//! The server debounces lookups (250 ms) but publishes the warm evaluation at once, and every edit here
//! lands before the debounce ends, as when typing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn read_frames(stdout: impl Read, tx: Sender<Value>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("Content-Length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length.expect("frame without Content-Length")];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let value: Value = serde_json::from_slice(&body).expect("frame is not JSON");
        if tx.send(value).is_err() {
            return;
        }
    }
}

struct Server {
    child: Child,
    stdin: ChildStdin,
    frames: Receiver<Value>,
}

impl Server {
    fn start(binary: &Path, cwd: &Path) -> Server {
        let mut child = Command::new(binary)
            .args(["lsp", "--stdio"])
            .current_dir(cwd)
            .env("GATEHOUSE_LOG", "warn")
            .env("XDG_CACHE_HOME", cwd.join("xdg-cache"))
            // The bench's own project: its gatehouse.toml is offline with the bundled OSV records.
            .env("GATEHOUSE_TRUST_PROJECT_CONFIG", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || read_frames(stdout, tx));
        Server {
            stdin: child.stdin.take().unwrap(),
            child,
            frames: rx,
        }
    }

    fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).unwrap();
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(&body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// The next message matching `pred`; answers server-to-client requests on the way.
    fn wait_for(&mut self, what: &str, mut pred: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .frames
                .recv_timeout(left)
                .unwrap_or_else(|error| panic!("no {what}: {error}"));
            if message.get("id").is_some() && message.get("method").is_some() {
                let result = if message["method"] == "workspace/configuration" {
                    json!([null])
                } else {
                    Value::Null
                };
                self.send(json!({"jsonrpc": "2.0", "id": message["id"].clone(), "result": result}));
            }
            if pred(&message) {
                return message;
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// (line, UTF-16 character) of a byte offset in ASCII-only text.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let column = offset - before.rfind('\n').map(|idx| idx + 1).unwrap_or(0);
    (line, column)
}

fn main() {
    let binary = std::env::var_os("GATEHOUSE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gatehouse")));
    let n_edits: usize = std::env::var("EDITS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);

    let warm = common::warm(300);
    let text = warm.source.text().to_string();
    let project = tempfile::tempdir().unwrap();
    let osv_db = common::osv_dirs()
        .iter()
        .map(|dir| format!("\"{}\"", dir.display()))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        project.path().join("gatehouse.toml"),
        format!(
            "offline = true\ncache-dir = \"{}\"\nosv-db = [{osv_db}]\n",
            project.path().join("cache").display()
        ),
    )
    .unwrap();
    let manifest = project.path().join("package.json");
    std::fs::write(&manifest, &text).unwrap();
    let manifest_uri = uri(&manifest);

    let mut server = Server::start(&binary, project.path());
    server.send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": null,
        "rootUri": uri(project.path()),
        "capabilities": {"general": {"positionEncodings": ["utf-16"]}},
    }}));
    server.wait_for("initialize response", |m| m["id"] == 1 && m.get("method").is_none());
    server.notify("initialized", json!({}));
    let opened = Instant::now();
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": manifest_uri, "languageId": "json", "version": 1, "text": text}}),
    );
    let first = server.wait_for("first diagnostics with findings", |m| {
        m["method"] == "textDocument/publishDiagnostics"
            && m["params"]["version"] == 1
            && m["params"]["diagnostics"].as_array().is_some_and(|d| !d.is_empty())
    });
    let first_at = opened.elapsed();
    let n_first = first["params"]["diagnostics"].as_array().map(Vec::len).unwrap_or(0);
    server.wait_for("the first analysis to finish", |m| {
        m["method"] == "gatehouse/status" && m["params"]["state"] == "idle"
    });
    let idle_at = opened.elapsed();

    let (line, character) = position(&text, warm.edit_at);
    let mut samples = Vec::with_capacity(n_edits);
    let mut n_last = 0;
    for edit in 0..n_edits {
        let version = edit as i64 + 2;
        let digit = &warm.digits[edit % 2];
        let started = Instant::now();
        server.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": manifest_uri, "version": version},
                "contentChanges": [{
                    "range": {
                        "start": {"line": line, "character": character},
                        "end": {"line": line, "character": character + 1},
                    },
                    "text": digit,
                }],
            }),
        );
        let published = server.wait_for("diagnostics for the edit", |m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == manifest_uri
                && m["params"]["version"] == version
        });
        samples.push(started.elapsed());
        n_last = published["params"]["diagnostics"].as_array().map(Vec::len).unwrap_or(0);
    }
    let [p50, p95, p99, max] = common::percentiles(&mut samples);
    println!(
        "lsp_roundtrip: {} ({} deps): first diagnostics after {:.0} ms ({n_first} diagnostics), idle after {:.0} ms",
        binary.display(),
        warm.source.parsed().deps.len(),
        first_at.as_secs_f64() * 1e3,
        idle_at.as_secs_f64() * 1e3,
    );
    println!(
        "lsp_roundtrip: {n_edits} didChange → publishDiagnostics ({n_last} diagnostics): \
         p50 {p50:.0} µs, p95 {p95:.0} µs, p99 {p99:.0} µs, max {max:.0} µs"
    );
}
