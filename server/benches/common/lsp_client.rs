//! A minimal LSP client over a child's stdio, the same for every server the benches drive: frames are
//! timestamped by the reader thread the moment their body is read (so the bench's own JSON work is not
//! counted), server-to-client requests are answered, and peak RSS and CPU time come from `/proc`.
//!
//! Lines between frames that are not headers (a server printing to stdout) are skipped and counted,
//! not fatal: crates-lsp prints fetch errors to stdout.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One message from the server and when its last byte was read.
pub struct Frame {
    pub at: Instant,
    pub message: Value,
}

fn read_frames(stdout: impl Read, tx: Sender<Frame>, noise: Arc<AtomicUsize>) {
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
                if length.is_some() {
                    break;
                }
                continue;
            }
            match line.split_once(':') {
                Some((name, value)) if name.eq_ignore_ascii_case("Content-Length") => {
                    length = value.trim().parse::<usize>().ok();
                }
                Some((name, _)) if name.eq_ignore_ascii_case("Content-Type") => {}
                _ => {
                    noise.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let Some(length) = length else { return };
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let at = Instant::now();
        let Ok(message) = serde_json::from_slice::<Value>(&body) else {
            noise.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if tx.send(Frame { at, message }).is_err() {
            return;
        }
    }
}

/// Where a traced server's stderr goes, and the command it runs under (may be empty).
pub struct Trace {
    pub log: std::path::PathBuf,
    pub wrapper: Vec<String>,
}

impl Trace {
    /// `BENCH_TRACE_DIR` / `BENCH_TRACE_WRAP` for one run of one server: stderr to
    /// `<dir>/<label>-<run>.log`, the server run under the wrapper with `{}` replaced by
    /// `<dir>/<label>-<run>`. `None` without `BENCH_TRACE_DIR`.
    #[allow(dead_code)] // each bench binary compiles this module; not all trace
    pub fn from_env(label: &str, run: usize) -> Option<Trace> {
        let dir = std::path::PathBuf::from(std::env::var_os("BENCH_TRACE_DIR")?);
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join(format!("{label}-{run}")).display().to_string();
        let wrapper = std::env::var("BENCH_TRACE_WRAP")
            .unwrap_or_default()
            .split_whitespace()
            .map(|word| word.replace("{}", &stem))
            .collect();
        Some(Trace {
            log: std::path::PathBuf::from(format!("{stem}.log")),
            wrapper,
        })
    }

    /// Keeps the server's `/proc/<pid>/smaps` and `status` next to its log (where the resident memory
    /// is, mapping by mapping).
    /// Also `<stem>.pages`: for each file-backed mapping, `<file offset of the page> <path>` of every
    /// page resident (from `/proc/<pid>/pagemap`'s present bit), to see which code is resident.
    #[allow(dead_code)]
    pub fn keep_memory_maps(&self, server: &LspProcess) {
        for file in ["smaps", "status"] {
            let from = format!("/proc/{}/{file}", server.pid());
            let _ = std::fs::copy(from, self.log.with_extension(file));
        }
        let _ = std::fs::write(self.log.with_extension("pages"), resident_file_pages(server.pid()));
    }
}

/// `<file offset> <path>` lines for the resident pages of a process's file-backed mappings.
fn resident_file_pages(pid: u32) -> String {
    use std::io::{Read, Seek, SeekFrom};
    const PAGE: u64 = 4096;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    let Ok(mut pagemap) = std::fs::File::open(format!("/proc/{pid}/pagemap")) else {
        return String::new();
    };
    let mut out = String::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [range, _, offset, _, _, path] = fields[..] else {
            continue;
        };
        let (Some((start, end)), Ok(offset)) = (range.split_once('-'), u64::from_str_radix(offset, 16)) else {
            continue;
        };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) else {
            continue;
        };
        let pages = (end - start) / PAGE;
        let mut entries = vec![0u8; pages as usize * 8];
        if pagemap.seek(SeekFrom::Start(start / PAGE * 8)).is_err() || pagemap.read_exact(&mut entries).is_err() {
            continue;
        }
        for (index, entry) in entries.chunks_exact(8).enumerate() {
            let entry = u64::from_le_bytes(entry.try_into().unwrap());
            if entry >> 63 == 1 {
                out.push_str(&format!("{:x} {path}\n", offset + index as u64 * PAGE));
            }
        }
    }
    out
}

pub struct LspProcess {
    child: Child,
    stdin: ChildStdin,
    frames: Receiver<Frame>,
    /// Non-protocol lines the server wrote to stdout.
    pub noise: Arc<AtomicUsize>,
    next_id: i64,
}

impl LspProcess {
    /// Starts `binary args…` in `cwd` with exactly `env` (nothing inherited but `PATH`).
    pub fn start(binary: &Path, args: &[&str], cwd: &Path, env: &[(String, String)]) -> LspProcess {
        LspProcess::start_traced(binary, args, cwd, env, None)
    }

    /// `start`, with the server's stderr written to `trace.log` and the server run under
    /// `trace.wrapper` (e.g. `strace -f -tt -e trace=network -o FILE`) when given: for timelines only.
    pub fn start_traced(
        binary: &Path,
        args: &[&str],
        cwd: &Path,
        env: &[(String, String)],
        trace: Option<&Trace>,
    ) -> LspProcess {
        let mut command = match trace.map(|t| t.wrapper.as_slice()) {
            Some([program, wrapper_args @ ..]) => {
                let mut command = Command::new(program);
                command.args(wrapper_args).arg(binary);
                command
            }
            _ => Command::new(binary),
        };
        let stderr = match trace {
            Some(trace) => Stdio::from(std::fs::File::create(&trace.log).unwrap()),
            None => Stdio::null(),
        };
        command
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        let noise = Arc::new(AtomicUsize::new(0));
        let reader_noise = noise.clone();
        std::thread::spawn(move || read_frames(stdout, tx, reader_noise));
        LspProcess {
            stdin: child.stdin.take().unwrap(),
            child,
            frames: rx,
            noise,
            next_id: 1,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn send(&mut self, message: &Value) {
        self.send_frame(&encode(message));
    }

    /// Writes a frame made by `encode`, so a timed send does no JSON work.
    pub fn send_frame(&mut self, frame: &[u8]) {
        self.stdin.write_all(frame).unwrap();
        self.stdin.flush().unwrap();
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its answer.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait_for(method, Duration::from_secs(60), |m| {
            m["id"] == id && m.get("method").is_none()
        })
        .message
    }

    /// `initialize` (UTF-16, the given capabilities and options) then `initialized`.
    pub fn initialize(&mut self, root: &Path, capabilities: Value, options: Value) -> Value {
        let answer = self.request(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": uri(root),
                "workspaceFolders": [{"uri": uri(root), "name": "bench"}],
                "capabilities": capabilities,
                "initializationOptions": options,
            }),
        );
        self.notify("initialized", json!({}));
        answer
    }

    /// The next message matching `pred`, answering server-to-client requests on the way. Panics after
    /// `timeout`: a bench that cannot finish says so.
    pub fn wait_for(&mut self, what: &str, timeout: Duration, mut pred: impl FnMut(&Value) -> bool) -> Frame {
        let deadline = Instant::now() + timeout;
        loop {
            let frame = self
                .next(deadline)
                .unwrap_or_else(|| panic!("no {what} within {timeout:?}"));
            if pred(&frame.message) {
                return frame;
            }
        }
    }

    /// The next message before `deadline` (`None` when it passes), answering server requests.
    pub fn next(&mut self, deadline: Instant) -> Option<Frame> {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = self.frames.recv_timeout(left).ok()?;
        let message = &frame.message;
        if message.get("id").is_some() && message.get("method").is_some() {
            let result = if message["method"] == "workspace/configuration" {
                let n = message["params"]["items"].as_array().map_or(1, Vec::len);
                Value::Array(vec![Value::Null; n])
            } else {
                Value::Null
            };
            let answer = json!({"jsonrpc": "2.0", "id": message["id"].clone(), "result": result});
            self.send(&answer);
        }
        Some(frame)
    }

    /// Peak resident set size (`VmHWM`) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_field(self.pid(), "VmHWM:")
    }

    /// Current resident set size (`VmRSS`) in KiB.
    pub fn rss_kib(&self) -> u64 {
        status_field(self.pid(), "VmRSS:")
    }

    /// Current resident set size split into anonymous memory (`RssAnon`: the heap) and file-backed
    /// pages (`RssFile`: mostly the binary's code), in KiB.
    #[allow(dead_code)]
    pub fn rss_split_kib(&self) -> (u64, u64) {
        (
            status_field(self.pid(), "RssAnon:"),
            status_field(self.pid(), "RssFile:"),
        )
    }

    /// With `BENCH_SETTLE=1`: waits until the server has used no CPU for `quiet` (its background work
    /// after an open, such as writing what it fetched to its store, is done), at most `limit`; returns
    /// how long it waited. Without it, warm edits start at once, while that work may still run. (On a
    /// virtual machine, edits after a quiet spell can be slower: waking a halted virtual CPU costs.)
    pub fn settle(&self, quiet: Duration, limit: Duration) -> Duration {
        let started = Instant::now();
        if !std::env::var("BENCH_SETTLE").is_ok_and(|v| v == "1") {
            return Duration::ZERO;
        }
        let mut last = self.cpu_time();
        let mut since = Instant::now();
        while started.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.cpu_time();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                break;
            }
        }
        started.elapsed()
    }

    /// User + system CPU time so far.
    pub fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks: u64 = [11, 12]
            .iter()
            .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
            .sum();
        Duration::from_millis(ticks * 10)
    }

    /// `shutdown` + `exit`, then waits briefly for the process; kills it if it lingers.
    pub fn stop(mut self) {
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": "shutdown", "params": null}));
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(frame) = self.next(deadline) {
            if frame.message["id"] == id && frame.message.get("method").is_none() {
                break;
            }
        }
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LspProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One message as a whole LSP frame (header and body).
pub fn encode(message: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(message).unwrap();
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(&body);
    frame
}

pub fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// (line, UTF-16 character) of a byte offset in ASCII-only text.
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let column = offset - before.rfind('\n').map(|idx| idx + 1).unwrap_or(0);
    (line, column)
}

pub fn is_publish_for(message: &Value, uri: &str, version: i64) -> bool {
    message["method"] == "textDocument/publishDiagnostics"
        && message["params"]["uri"] == uri
        && message["params"]["version"] == version
}
