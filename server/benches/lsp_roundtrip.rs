//! Keystroke → diagnostics through the real binary with every check on and findings present, then memory
//! with ten manifests open. Spawns `gatehouse lsp` (the binary cargo builds for this bench, or
//! `GATEHOUSE_BIN`) with a fresh cache, npm answered by a loopback `testing::FixtureServer` serving
//! packuments written from the benches' synthetic version lists (so age, availability, advisory ranges
//! and the safe-version solver all have candidates), and OSV by `common::osv_standin` (the recorded
//! records of `fixtures/osv`). Ten vulnerable pins give advisory findings with fixes.
//!
//! 1. Opens a 300-dependency `package.json`: first diagnostics, and the final ones (`gatehouse/status`
//!    idle) after every lookup landed.
//! 2. Right after (`BENCH_SETTLE=1`: once the server has used no CPU for 100 ms, the open's
//!    write-behind to the store done), `EDITS` (default 300) one-character version edits, each timed from the `didChange` write to the
//!    `publishDiagnostics` of that version: p50/p95/p99/max. Never asserts timing.
//! 3. Opens `MANIFESTS - 1` (default 9) more 300-dependency manifests (overlapping windows of 900 real
//!    package names, each in its own folder), waits for each to finish, and prints peak RSS (`VmHWM`).
//!
//! `BENCH_TRACE_DIR` / `BENCH_TRACE_WRAP` as in `vs_crates_lsp` (stderr, a wrapper command such as
//! callgrind, and the server's `smaps` at the end). `BENCH_WATCHERS=1`: the client says it registers
//! file watchers (as VS Code does), so the server does not look at the files around the manifests
//! itself every 2 s (as for Neovim, and by default here).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::lsp_client::{LspProcess, Trace, encode, is_publish_for, position, uri};
use common::osv_standin::OsvStandIn;
use serde_json::{Value, json};

/// Opens `text` as `path` and waits until the analysis is idle: (first diagnostics, final diagnostics,
/// diagnostics in the final answer).
fn open(server: &mut LspProcess, path: &Path, text: &str) -> (Duration, Duration, usize) {
    let manifest_uri = uri(path);
    let opened = Instant::now();
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": manifest_uri, "languageId": "json", "version": 1, "text": text}}),
    );
    let deadline = opened + Duration::from_secs(120);
    let mut first = None;
    let mut last: Option<(Instant, usize)> = None;
    loop {
        let frame = server.next(deadline).expect("no final diagnostics within 120 s");
        if is_publish_for(&frame.message, &manifest_uri, 1) {
            first.get_or_insert(frame.at);
            let n = frame.message["params"]["diagnostics"].as_array().map_or(0, Vec::len);
            last = Some((frame.at, n));
        } else if frame.message["method"] == "gatehouse/status"
            && frame.message["params"]["state"] == "idle"
            && last.is_some()
        {
            let pending = frame.message["params"]["pending"].as_u64().unwrap_or(0);
            if pending > 0 {
                println!(
                    "lsp_roundtrip: {} still has {pending} pending packages when idle",
                    path.display()
                );
            }
            break;
        }
    }
    let (last_at, n_last) = last.unwrap();
    (first.unwrap() - opened, last_at - opened, n_last)
}

fn main() {
    let binary = std::env::var_os("GATEHOUSE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gatehouse")));
    let n_edits: usize = std::env::var("EDITS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let n_manifests: usize = std::env::var("MANIFESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
        .max(1);

    // Manifest k declares packages[step·k .. step·k + 300]: overlapping windows of the ~900 real names.
    let n_names = if n_manifests == 1 { 300 } else { 900 };
    let step = (n_names - 300) / (n_manifests - 1).max(1);
    let packages = common::pinned_packages(n_names);
    let advisories = common::npm_advisories();
    let facts = common::pinned_facts(&packages, &advisories);
    let stand_in_root = tempfile::tempdir().unwrap();
    common::write_packuments(stand_in_root.path(), &facts);
    let npm = gatehouse::testing::FixtureServer::start(stand_in_root.path()).unwrap();
    let osv = OsvStandIn::start(&common::osv_dirs(), Duration::ZERO);

    let project = tempfile::tempdir().unwrap();
    let manifests: Vec<(PathBuf, String)> = (0..n_manifests)
        .map(|k| {
            let folder = project.path().join(format!("app{k}"));
            std::fs::create_dir_all(&folder).unwrap();
            let path = folder.join("package.json");
            let text = common::package_json(&packages[step * k..step * k + 300]);
            std::fs::write(&path, &text).unwrap();
            (path, text)
        })
        .collect();
    let home = project.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let env: Vec<(String, String)> = [
        ("HOME", home.display().to_string()),
        ("XDG_CACHE_HOME", project.path().join("xdg-cache").display().to_string()),
        ("GATEHOUSE_NPM_REGISTRY", format!("{}/npm", npm.url())),
        ("GATEHOUSE_OSV_URL", osv.url().to_string()),
        ("GATEHOUSE_LOG", "warn".to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect();

    let trace = Trace::from_env("gatehouse", 1);
    let mut server = LspProcess::start_traced(&binary, &["lsp", "--stdio"], project.path(), &env, trace.as_ref());
    server.initialize(
        project.path(),
        if std::env::var_os("BENCH_WATCHERS").is_some() {
            json!({"general": {"positionEncodings": ["utf-16"]}, "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}}})
        } else {
            json!({"general": {"positionEncodings": ["utf-16"]}})
        },
        Value::Null,
    );
    let (path, text) = &manifests[0];
    let (first_at, final_at, n_final) = open(&mut server, path, text);
    let manifest_uri = uri(path);

    // The edit: the last digit of a pinned version in the middle of the file, bumped and back.
    let (name, version) = packages[150..300]
        .iter()
        .find(|(_, version)| common::bump_patch(version).len() == version.len())
        .unwrap();
    let needle = format!("\"{name}\": \"{version}\"");
    let at = text.find(&needle).unwrap() + needle.len() - 2;
    let bumped = common::bump_patch(version);
    let digits = [
        bumped[bumped.len() - 1..].to_string(),
        version[version.len() - 1..].to_string(),
    ];
    // `BENCH_SETTLE=1`: warm edits start once the server is quiet (the open's write-behind done).
    let settled = server.settle(Duration::from_millis(100), Duration::from_secs(10));
    if !settled.is_zero() {
        println!(
            "lsp_roundtrip: server quiet {:.0} ms after the final diagnostics",
            settled.as_secs_f64() * 1e3
        );
    }
    let (line, character) = position(text, at);
    let mut samples = Vec::with_capacity(n_edits);
    let mut n_last = 0;
    for edit in 0..n_edits {
        let version = edit as i64 + 2;
        let frame = encode(
            &json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": manifest_uri, "version": version},
                "contentChanges": [{
                    "range": {
                        "start": {"line": line, "character": character},
                        "end": {"line": line, "character": character + 1},
                    },
                    "text": digits[edit % 2],
                }],
            }}),
        );
        let started = Instant::now();
        server.send_frame(&frame);
        let published = server.wait_for("diagnostics for the edit", Duration::from_secs(60), |m| {
            is_publish_for(m, &manifest_uri, version)
        });
        samples.push(published.at - started);
        n_last = published.message["params"]["diagnostics"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0);
    }
    let rss_one = server.peak_rss_kib();
    // Which edits were the slow ones (an early cluster is background work left from the open).
    let mut slowest: Vec<(usize, Duration)> = samples.iter().copied().enumerate().collect();
    slowest.sort_by_key(|(_, took)| std::cmp::Reverse(*took));
    println!(
        "lsp_roundtrip: slowest edits (index: µs): {}",
        slowest
            .iter()
            .take(6)
            .map(|(idx, took)| format!("{idx}: {}", took.as_micros()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let [p50, p95, p99, max] = common::percentiles(&mut samples);
    println!(
        "lsp_roundtrip: {} (300 deps, npm + OSV stand-ins): first diagnostics after {:.1} ms, final after \
         {:.0} ms ({n_final} diagnostics)",
        binary.display(),
        first_at.as_secs_f64() * 1e3,
        final_at.as_secs_f64() * 1e3,
    );
    println!(
        "lsp_roundtrip: {n_edits} didChange → publishDiagnostics ({n_last} diagnostics): \
         p50 {p50:.0} µs, p95 {p95:.0} µs, p99 {p99:.0} µs, max {max:.0} µs"
    );
    println!(
        "lsp_roundtrip: peak RSS with 1 manifest open: {:.1} MB",
        rss_one as f64 / 1024.0
    );

    let mut finals = Vec::new();
    for (path, text) in &manifests[1..] {
        let (_, final_at, _) = open(&mut server, path, text);
        finals.push(final_at.as_secs_f64() * 1e3);
    }
    if n_manifests > 1 {
        // `gatehouse/status` does not name a document, so an idle status may belong to another one: wait
        // until the server has been quiet for 2 s (every lookup landed) before reading the peak.
        while server.next(Instant::now() + Duration::from_secs(2)).is_some() {}
        let (anonymous, file_backed) = server.rss_split_kib();
        println!(
            "lsp_roundtrip: {n_manifests} manifests open ({} more, final diagnostics after {} ms): peak RSS \
             {:.1} MB, RSS now {:.1} MB ({:.1} MB anonymous, {:.1} MB file-backed)",
            n_manifests - 1,
            finals.iter().map(|ms| format!("{ms:.0}")).collect::<Vec<_>>().join("/"),
            server.peak_rss_kib() as f64 / 1024.0,
            server.rss_kib() as f64 / 1024.0,
            anonymous as f64 / 1024.0,
            file_backed as f64 / 1024.0,
        );
    }
    if let Some(trace) = &trace {
        trace.keep_memory_maps(&server);
    }
    server.stop();
}
