//! Gatehouse side by side with crates-lsp on one real `Cargo.toml`, both driven by the same LSP client
//! (`common::lsp_client`) against the real crates.io sparse index. Run it through
//! `benches/vs-crates-lsp.sh`, which builds crates-lsp 0.4.3 outside the repository and passes it as
//! `CRATES_LSP_BIN`; without it only Gatehouse is measured.
//!
//! Per run and server (the servers alternate, and which goes first alternates too): a fresh HOME and
//! cache folder, `initialize`, `didOpen` of the manifest, then
//! - first diagnostics: `didOpen` → the first `publishDiagnostics` of version 1;
//! - cold: `didOpen` → the final diagnostics of version 1 (crates-lsp publishes once, after every fetch;
//!   Gatehouse's final publish is the last one before its `gatehouse/status` turns `idle`);
//! - warm: right after the cold answer (`BENCH_SETTLE=1`: once the server has used no CPU for 100 ms,
//!   when Gatehouse has written what the open fetched to its store), `EDITS` (default 300) one-character edits of one dependency's version, each timed from the
//!   `didChange` write to the `publishDiagnostics` of that version (read by the reader thread). Each
//!   server gets the sync kind it asked for: crates-lsp full text, Gatehouse incremental ranges;
//! - peak RSS (`VmHWM`) and CPU time of the whole session.
//!
//! Gatehouse also asks OSV for advisories; `common::osv_standin` answers on loopback from the recorded
//! records in `fixtures/osv` (api.osv.dev is unreachable here), after `OSV_LATENCY_MS` (default 0).
//! Medians over `RUNS` (default 3) runs; ratios are Gatehouse / crates-lsp (below 1 is faster or smaller).
//! Environment: `GATEHOUSE_BIN`, `CRATES_LSP_BIN`, `RUNS`, `EDITS`, `BENCH_MANIFEST` (a Cargo.toml,
//! default `fixtures/manifests/cargo/tokei/Cargo.toml`), `BENCH_EDIT_DEP` (default `log`).
//! Timelines (figures taken this way are not comparable): `BENCH_TRACE_DIR` writes each server's
//! stderr to `<dir>/<server>-<run>.log` and prints the wall-clock time of `didOpen` and of the first
//! and final diagnostics; `BENCH_GATEHOUSE_LOG` sets Gatehouse's `GATEHOUSE_LOG` (default `warn`);
//! `BENCH_TRACE_WRAP` runs each server under a command, `{}` replaced by `<dir>/<server>-<run>`
//! (e.g. `strace -f -tt -e trace=network -o {}.strace`; RSS and CPU are then the wrapper's). With
//! `BENCH_TRACE_DIR` each server's `/proc/<pid>/smaps` and `status` at the end of the edits are kept as
//! `<dir>/<server>-<run>.smaps` / `.status`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::lsp_client::{LspProcess, Trace, encode, is_publish_for, position, uri};
use common::osv_standin::OsvStandIn;
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    CratesLsp,
    Gatehouse,
}

struct Side {
    kind: Kind,
    label: &'static str,
    binary: PathBuf,
}

/// One character of one dependency's version requirement, and the two digits an edit alternates.
struct Edit {
    at: usize,
    digits: [char; 2],
}

#[derive(Default)]
struct Run {
    first: Duration,
    cold: Duration,
    warm: Vec<Duration>,
    peak_rss_kib: u64,
    cpu: Duration,
    /// Diagnostics in the final cold answer, by code.
    codes: std::collections::BTreeMap<String, usize>,
    pending: u64,
    noise: usize,
    /// How long after the final cold answer the server went quiet (warm edits start then).
    settled: Duration,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn find_edit(text: &str, dep: &str) -> Edit {
    let needle = format!("\n{dep} = \"");
    let start = text
        .find(&needle)
        .unwrap_or_else(|| panic!("no `{dep} = \"…\"` line in the bench manifest"))
        + needle.len();
    let end = start + text[start..].find('"').unwrap();
    let at = end - 1;
    let old = text.as_bytes()[at] as char;
    let digit = old
        .to_digit(10)
        .unwrap_or_else(|| panic!("`{dep}`'s requirement does not end in a digit"));
    let new = char::from_digit(if digit == 0 { 1 } else { digit - 1 }, 10).unwrap();
    Edit { at, digits: [new, old] }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn code_of(diagnostic: &Value) -> String {
    match &diagnostic["code"] {
        Value::String(code) => code.clone(),
        Value::Number(code) => code.to_string(),
        _ => "(none)".to_string(),
    }
}

/// Wall-clock time of an `Instant` (for lining a run up with the server's own timestamps).
fn wall(at: Instant) -> String {
    let now = std::time::SystemTime::now();
    let then = now - Instant::now().saturating_duration_since(at);
    let since = then.duration_since(std::time::UNIX_EPOCH).unwrap();
    let secs = since.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        since.subsec_micros()
    )
}

fn run_once(side: &Side, text: &str, edit: &Edit, osv: &OsvStandIn, n_edits: usize, run_idx: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    let home = dir.path().join("home");
    let cache = dir.path().join("cache");
    for folder in [&project, &home, &cache] {
        std::fs::create_dir_all(folder).unwrap();
    }
    let manifest = project.join("Cargo.toml");
    std::fs::write(&manifest, text).unwrap();
    let manifest_uri = uri(&manifest);
    let mut env = vec![
        ("HOME".to_string(), home.display().to_string()),
        ("XDG_CACHE_HOME".to_string(), cache.display().to_string()),
    ];
    let args: &[&str] = match side.kind {
        Kind::CratesLsp => &[],
        Kind::Gatehouse => {
            env.push(("GATEHOUSE_OSV_URL".to_string(), osv.url().to_string()));
            let log = std::env::var("BENCH_GATEHOUSE_LOG").unwrap_or_else(|_| "warn".to_string());
            env.push(("GATEHOUSE_LOG".to_string(), log));
            &["lsp", "--stdio"]
        }
    };
    let trace = Trace::from_env(side.label, run_idx + 1);
    let mut server = LspProcess::start_traced(&side.binary, args, &project, &env, trace.as_ref());
    let capabilities = json!({
        "general": {"positionEncodings": ["utf-16"]},
        "textDocument": {"publishDiagnostics": {"versionSupport": true}},
    });
    server.initialize(&project, capabilities, Value::Null);

    let mut run = Run::default();
    let opened = Instant::now();
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": manifest_uri, "languageId": "toml", "version": 1, "text": text}}),
    );
    let deadline = opened + Duration::from_secs(120);
    let mut first = None;
    let mut last: Option<(Instant, Value)> = None;
    loop {
        let frame = server
            .next(deadline)
            .unwrap_or_else(|| panic!("{}: no final diagnostics within 120 s", side.label));
        if is_publish_for(&frame.message, &manifest_uri, 1) {
            first.get_or_insert(frame.at);
            last = Some((frame.at, frame.message));
            if side.kind == Kind::CratesLsp {
                break;
            }
        } else if frame.message["method"] == "gatehouse/status"
            && frame.message["params"]["state"] == "idle"
            && last.is_some()
        {
            run.pending = frame.message["params"]["pending"].as_u64().unwrap_or(0);
            break;
        }
    }
    let (last_at, last_message) = last.unwrap();
    if trace.is_some() {
        println!(
            "  {} wall clock: didOpen {}  first {}  final {}",
            side.label,
            wall(opened),
            wall(first.unwrap()),
            wall(last_at)
        );
    }
    run.first = first.unwrap() - opened;
    run.cold = last_at - opened;
    for diagnostic in last_message["params"]["diagnostics"].as_array().into_iter().flatten() {
        let mut code = code_of(diagnostic);
        if side.kind == Kind::CratesLsp
            && diagnostic["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("Unknown crate"))
        {
            code = "unknown-crate".to_string();
        }
        *run.codes.entry(code).or_default() += 1;
    }

    // `BENCH_SETTLE=1`: warm edits start once the server is quiet (both servers alike).
    run.settled = server.settle(Duration::from_millis(100), Duration::from_secs(10));
    let (line, character) = position(text, edit.at);
    let mut current = text.to_string();
    for idx in 0..n_edits {
        let version = idx as i64 + 2;
        let digit = edit.digits[idx % 2];
        current.replace_range(edit.at..edit.at + 1, &digit.to_string());
        let change = match side.kind {
            Kind::CratesLsp => json!({"text": current}),
            Kind::Gatehouse => json!({
                "range": {
                    "start": {"line": line, "character": character},
                    "end": {"line": line, "character": character + 1},
                },
                "text": digit.to_string(),
            }),
        };
        let params = json!({
            "textDocument": {"uri": manifest_uri, "version": version},
            "contentChanges": [change],
        });
        let frame = encode(&json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": params}));
        let started = Instant::now();
        server.send_frame(&frame);
        let frame = server.wait_for("diagnostics for an edit", Duration::from_secs(60), |m| {
            is_publish_for(m, &manifest_uri, version)
        });
        run.warm.push(frame.at - started);
    }
    run.peak_rss_kib = server.peak_rss_kib();
    if let Some(trace) = &trace {
        trace.keep_memory_maps(&server);
    }
    run.cpu = server.cpu_time();
    run.noise = server.noise.load(std::sync::atomic::Ordering::Relaxed);
    server.stop();
    run
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn percentile_ms(samples: &[Duration], q: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let idx = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    millis(sorted[idx])
}

/// The per-run figures of one side: first, cold, warm p50, warm p99, warm max, peak RSS MB, CPU ms.
fn figures(run: &Run) -> [f64; 7] {
    [
        millis(run.first),
        millis(run.cold),
        percentile_ms(&run.warm, 0.50),
        percentile_ms(&run.warm, 0.99),
        percentile_ms(&run.warm, 1.0),
        run.peak_rss_kib as f64 / 1024.0,
        millis(run.cpu),
    ]
}

const ROWS: [(&str, &str); 7] = [
    ("first diagnostics (ms)", "didOpen → first publishDiagnostics"),
    ("cold open (ms)", "didOpen → final diagnostics"),
    ("warm edit p50 (ms)", "didChange → publishDiagnostics"),
    ("warm edit p99 (ms)", ""),
    ("warm edit max (ms)", ""),
    ("peak RSS (MB)", "VmHWM, whole session"),
    ("CPU time (ms)", "user + system, whole session"),
];

fn main() {
    let manifest_path = std::env::var_os("BENCH_MANIFEST")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::fixtures().join("manifests/cargo/tokei/Cargo.toml"));
    let text = std::fs::read_to_string(&manifest_path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", manifest_path.display()));
    let edit_dep = std::env::var("BENCH_EDIT_DEP").unwrap_or_else(|_| "log".to_string());
    let edit = find_edit(&text, &edit_dep);
    let n_runs = env_number("RUNS", 3).max(1);
    let n_edits = env_number("EDITS", 300).max(1);
    let latency = Duration::from_millis(env_number("OSV_LATENCY_MS", 0) as u64);
    let osv = OsvStandIn::start(&common::osv_dirs(), latency);

    let mut sides = Vec::new();
    match std::env::var_os("CRATES_LSP_BIN") {
        Some(binary) => sides.push(Side {
            kind: Kind::CratesLsp,
            label: "crates-lsp",
            binary: PathBuf::from(binary),
        }),
        None => println!("vs_crates_lsp: CRATES_LSP_BIN is not set; measuring Gatehouse alone"),
    }
    sides.push(Side {
        kind: Kind::Gatehouse,
        label: "gatehouse",
        binary: std::env::var_os("GATEHOUSE_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gatehouse"))),
    });
    println!(
        "vs_crates_lsp: {} ({} bytes), {n_runs} runs, {n_edits} edits of `{edit_dep}` per run, \
         OSV stand-in latency {} ms",
        display(&manifest_path),
        text.len(),
        latency.as_millis()
    );
    for side in &sides {
        println!("  {}: {}", side.label, side.binary.display());
    }

    let mut runs: Vec<Vec<Run>> = sides.iter().map(|_| Vec::new()).collect();
    for run_idx in 0..n_runs {
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if run_idx % 2 == 1 {
            order.reverse();
        }
        for side_idx in order {
            let side = &sides[side_idx];
            let run = run_once(side, &text, &edit, &osv, n_edits, run_idx);
            let [first, cold, p50, p99, max, rss, cpu] = figures(&run);
            println!(
                "run {} {:<10} first {first:7.1} ms  cold {cold:7.1} ms  warm p50 {p50:6.3} p99 {p99:6.3} \
                 max {max:6.3} ms  peak RSS {rss:5.1} MB  CPU {cpu:5.0} ms  quiet after {:4.0} ms  final {:?}{}{}",
                run_idx + 1,
                side.label,
                run.settled.as_secs_f64() * 1e3,
                run.codes,
                if run.pending > 0 {
                    format!("  PENDING {}", run.pending)
                } else {
                    String::new()
                },
                if run.noise > 0 {
                    format!("  ({} non-LSP lines on stdout)", run.noise)
                } else {
                    String::new()
                },
            );
            if run
                .codes
                .get("unknown-crate")
                .is_some_and(|&n| n * 2 > run.codes.values().sum::<usize>())
            {
                println!("  WARNING: most crates are unknown to crates-lsp: it did not reach the index (TLS roots?)");
            }
            runs[side_idx].push(run);
        }
    }

    println!();
    print!("{:<26}", "median of runs");
    for side in &sides {
        print!("{:>14}", side.label);
    }
    if sides.len() == 2 {
        print!("{:>10}", "ratio");
    }
    println!();
    let table: Vec<Vec<[f64; 7]>> = runs
        .iter()
        .map(|side_runs| side_runs.iter().map(figures).collect())
        .collect();
    for (row, (name, note)) in ROWS.iter().enumerate() {
        print!("{name:<26}");
        let values: Vec<f64> = table
            .iter()
            .map(|side_runs| median(side_runs.iter().map(|f| f[row]).collect()))
            .collect();
        for value in &values {
            print!("{value:>14.3}");
        }
        if values.len() == 2 && values[0] > 0.0 {
            print!("{:>9.2}x", values[1] / values[0]);
        }
        println!("  {note}");
    }
    println!("OSV stand-in answered {} requests", osv.request_count());
}

fn display(path: &Path) -> String {
    path.canonicalize()
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
