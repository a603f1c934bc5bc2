//! A minimal LSP client over the real binary's stdio, and helpers for temporary projects.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_gatehouse")
}

/// The binary with a clean environment: its own HOME and XDG folders under `sandbox`, so no test reads
/// the developer's `~/.npmrc`, `~/.cargo`, `pip.conf` or `~/.config/gatehouse`, or reads or clears
/// their `~/.cache/gatehouse`. Only PATH (and TMPDIR) are kept.
pub fn command(sandbox: &Path) -> Command {
    let home = sandbox.join("home");
    for dir in ["", ".config", ".local/share", ".local/state"] {
        std::fs::create_dir_all(home.join(dir)).unwrap();
    }
    let mut command = Command::new(binary());
    command.env_clear();
    for key in ["PATH", "TMPDIR"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CACHE_HOME", sandbox.join("xdg-cache"))
        // npm's global config is the developer's (`<prefix of the node on PATH>/etc/npmrc`): never read.
        .env("NPM_CONFIG_GLOBALCONFIG", home.join("no-global-npmrc"))
        // Never OSV's real export bucket: a test that wants the export points it at a stand-in.
        .env("GATEHOUSE_OSV_EXPORT", "");
    command
}

/// A temporary project folder with files written into it.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(files: &[(&str, &str)]) -> Project {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Project { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A gatehouse.toml that answers offline from the bundled OSV records, with a private cache.
    pub fn offline_config(&self) -> String {
        let osv = fixtures().join("osv");
        format!(
            "offline = true\ncache-dir = \"{}\"\nosv-db = [\"{}\", \"{}\", \"{}\", \"{}\"]\n",
            self.dir.path().join("cache").display(),
            osv.join("npm").display(),
            osv.join("PyPI").display(),
            osv.join("crates.io").display(),
            osv.join("incidents/npm").display(),
        )
    }
}

pub fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// One running server and the frames it wrote.
pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: Receiver<Result<Value, String>>,
    next_id: i64,
    /// Every message seen, in order (notifications and responses).
    pub seen: Vec<Value>,
}

fn read_frames(stdout: impl Read, tx: std::sync::mpsc::Sender<Result<Value, String>>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => return,
                Ok(_) => {}
                Err(error) => {
                    let _ = tx.send(Err(format!("read error: {error}")));
                    return;
                }
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            match line.split_once(':') {
                Some((name, value)) if name.eq_ignore_ascii_case("Content-Length") => {
                    length = value.trim().parse::<usize>().ok();
                }
                Some((name, _)) if name.eq_ignore_ascii_case("Content-Type") => {}
                _ => {
                    let _ = tx.send(Err(format!("stdout is not an LSP frame header: {line:?}")));
                    return;
                }
            }
        }
        let Some(length) = length else {
            let _ = tx.send(Err("frame without Content-Length".to_string()));
            return;
        };
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) => {
                if tx.send(Ok(value)).is_err() {
                    return;
                }
            }
            Err(error) => {
                let _ = tx.send(Err(format!("frame is not JSON: {error}")));
                return;
            }
        }
    }
}

impl Server {
    pub fn start(cwd: &Path) -> Server {
        let mut command = command(cwd);
        command
            .env("GATEHOUSE_LOG", "warn")
            // These projects are the test's own: their gatehouse.toml points at the stand-ins.
            .env("GATEHOUSE_TRUST_PROJECT_CONFIG", "1");
        Server::spawn(command, cwd)
    }

    /// A server with exactly this environment (plus `PATH`): nothing of the developer's.
    pub fn start_with_env(cwd: &Path, env: &[(String, String)]) -> Server {
        let mut command = Command::new(binary());
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default());
        for (key, value) in env {
            command.env(key, value);
        }
        Server::spawn(command, cwd)
    }

    fn spawn(mut command: Command, cwd: &Path) -> Server {
        let mut child = command
            .args(["lsp", "--stdio"])
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || read_frames(stdout, tx));
        Server {
            stdin: child.stdin.take(),
            child,
            frames: rx,
            next_id: 1,
            seen: Vec::new(),
        }
    }

    /// The server's process id (for `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).unwrap();
        let stdin = self.stdin.as_mut().unwrap();
        write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        stdin.write_all(&body).unwrap();
        stdin.flush().unwrap();
    }

    /// Sends `body` as one frame, as is (for malformed messages).
    pub fn send_raw(&mut self, body: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        write!(stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        stdin.write_all(body).unwrap();
        stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Waits for the next message matching `pred`, failing loudly after `timeout`.
    pub fn wait_for(&mut self, what: &str, timeout: Duration, mut pred: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.frames.recv_timeout(left) {
                Ok(Ok(message)) => {
                    self.seen.push(message.clone());
                    // Answer server-to-client requests so the server never waits on us.
                    if message.get("id").is_some() && message.get("method").is_some() {
                        let id = message["id"].clone();
                        let result = if message["method"] == "workspace/configuration" {
                            json!([null])
                        } else {
                            Value::Null
                        };
                        self.send(json!({"jsonrpc": "2.0", "id": id, "result": result}));
                    }
                    if pred(&message) {
                        return message;
                    }
                }
                Ok(Err(error)) => panic!("protocol violation while waiting for {what}: {error}"),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timed out waiting for {what}; saw: {}",
                    serde_json::to_string_pretty(&self.seen).unwrap()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!("server exited while waiting for {what}"),
            }
        }
    }

    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let response = self.wait_for(method, Duration::from_secs(20), |m| {
            m.get("id") == Some(&json!(id)) && m.get("method").is_none()
        });
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    pub fn initialize(&mut self, root: &Path, options: Value) -> Value {
        let result = self.request(
            "initialize",
            json!({
                "processId": null,
                "rootUri": uri(root),
                "capabilities": {"general": {"positionEncodings": ["utf-16"]}},
                "initializationOptions": options,
            }),
        );
        self.notify("initialized", json!({}));
        result
    }

    /// Waits for diagnostics of `uri` at `version` that satisfy `pred`.
    /// The `window/showMessage` whose text contains `about`, which must be a warning.
    pub fn warning_shown(&mut self, about: &str) -> Value {
        let shown = self.wait_for(&format!("a message about {about}"), Duration::from_secs(20), |m| {
            m["method"] == "window/showMessage" && m["params"]["message"].as_str().unwrap_or("").contains(about)
        });
        assert_eq!(shown["params"]["type"], 2, "a warning: {shown}");
        shown
    }

    /// The code actions offered for `diagnostic` of the document `uri`, on its range.
    pub fn code_actions(&mut self, uri: &str, diagnostic: &Value) -> Value {
        self.request(
            "textDocument/codeAction",
            json!({
                "textDocument": {"uri": uri},
                "range": diagnostic["range"],
                "context": {"diagnostics": [diagnostic]},
            }),
        )
    }

    pub fn diagnostics(&mut self, uri: &str, version: i64, mut pred: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
        let message = self.wait_for(
            &format!("diagnostics for {uri} v{version}"),
            Duration::from_secs(30),
            |m| {
                m["method"] == "textDocument/publishDiagnostics"
                    && m["params"]["uri"] == uri
                    && m["params"]["version"] == version
                    && pred(m["params"]["diagnostics"].as_array().map(Vec::as_slice).unwrap_or(&[]))
            },
        );
        message["params"]["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// Shuts down cleanly and returns the exit code.
    pub fn shutdown(mut self) -> i32 {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Everything left on stdout must still be LSP frames.
                while let Ok(frame) = self.frames.recv_timeout(Duration::from_millis(200)) {
                    if let Err(error) = frame {
                        panic!("protocol violation after exit: {error}");
                    }
                }
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("server did not exit after `exit`");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Applies LSP text edits (UTF-16 positions) to `text`.
/// The preferred quick fix among `actions` (a `textDocument/codeAction` answer).
pub fn preferred_action(actions: &Value) -> &Value {
    actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["isPreferred"] == true)
        .expect("a preferred quick fix")
}

pub fn apply_edits(text: &str, edits: &[Value]) -> String {
    let mut edits: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset(text, &e["range"]["start"]),
                offset(text, &e["range"]["end"]),
                e["newText"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut res = text.to_string();
    for (start, end, new_text) in edits {
        res.replace_range(start..end, &new_text);
    }
    res
}

pub fn offset(text: &str, position: &Value) -> usize {
    let line = position["line"].as_u64().unwrap() as usize;
    let character = position["character"].as_u64().unwrap() as usize;
    let mut offset = 0;
    for (idx, line_text) in text.split_inclusive('\n').enumerate() {
        if idx == line {
            let mut units = 0;
            for (byte, ch) in line_text.char_indices() {
                if units >= character {
                    return offset + byte;
                }
                units += ch.len_utf16();
            }
            return offset + line_text.trim_end_matches('\n').len();
        }
        offset += line_text.len();
    }
    text.len()
}
