//! The editor session over hours (issue 12 §3), through the real binary (`GATEHOUSE_BIN`, else the one
//! cargo builds for this bench) with npm answered by a loopback `testing::FixtureServer` and OSV by
//! `common::osv_standin`. Each scenario runs in a fresh server with a fresh cache. Reports, never asserts;
//! `TRACE=1` prints the frames of the open with their times.
//!
//! 1. Opens a 300-dependency `package.json`: time from the `didOpen` write to the first request at the
//!    registry stand-in (polled) and to the `gatehouse/status` "checking" frame (lookups starting), then
//!    to the final diagnostics.
//! 2. `EDITS` (default 5,000) version edits on it, each waiting for its diagnostics: peak RSS (`VmHWM`).
//! 3. `RAPID` (default 1,000) edits sent back to back without waiting, then the last one's diagnostics
//!    and idle: `gatehouse/stats` (analysis tasks alive, facts held).
//! 4. A fresh server with `lookup.debounce-ms = 0` and a one-dependency manifest whose name is replaced
//!    `NAMES` (default 10,000) times by a distinct name, each looked up (waiting for idle) before the next:
//!    peak RSS, and what is held at the end.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::lsp_client::{LspProcess, encode, is_publish_for, position, uri};
use common::osv_standin::OsvStandIn;
use gatehouse::testing::FixtureServer;
use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct StandIns {
    npm: FixtureServer,
    osv: OsvStandIn,
    _root: tempfile::TempDir,
}

fn start_server(binary: &Path, stand_ins: &StandIns, options: Value) -> (LspProcess, tempfile::TempDir) {
    let project = tempfile::tempdir().unwrap();
    let home = project.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let env: Vec<(String, String)> = [
        ("HOME", home.display().to_string()),
        ("XDG_CACHE_HOME", project.path().join("xdg-cache").display().to_string()),
        ("GATEHOUSE_NPM_REGISTRY", format!("{}/npm", stand_ins.npm.url())),
        ("GATEHOUSE_OSV_URL", stand_ins.osv.url().to_string()),
        ("GATEHOUSE_LOG", "warn".to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect();
    let mut server = LspProcess::start(binary, &["lsp", "--stdio"], project.path(), &env);
    server.initialize(
        project.path(),
        json!({"general": {"positionEncodings": ["utf-16"]}}),
        options,
    );
    (server, project)
}

/// Waits for `gatehouse/status` idle after the diagnostics of `version` (the analysis of that version
/// is done: `gatehouse/status` names no document, and only this one is being edited).
fn wait_idle_after(server: &mut LspProcess, manifest_uri: &str, version: i64) -> Instant {
    let mut published = false;
    loop {
        let frame = server.wait_for("idle", Duration::from_secs(120), |_| true);
        if is_publish_for(&frame.message, manifest_uri, version) {
            published = true;
        } else if published
            && frame.message["method"] == "gatehouse/status"
            && frame.message["params"]["state"] == "idle"
        {
            return frame.at;
        }
    }
}

fn stats(server: &mut LspProcess) -> Value {
    let answer = server.request("gatehouse/stats", Value::Null);
    answer.get("result").cloned().unwrap_or(answer)
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    let binary = std::env::var_os("GATEHOUSE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gatehouse")));
    let n_edits = env_usize("EDITS", 5_000);
    let n_rapid = env_usize("RAPID", 1_000);
    let n_names = env_usize("NAMES", 10_000);

    let packages = common::pinned_packages(300);
    let advisories = common::npm_advisories();
    let facts = common::pinned_facts(&packages, &advisories);
    let root = tempfile::tempdir().unwrap();
    common::write_packuments(root.path(), &facts);
    let stand_ins = StandIns {
        npm: FixtureServer::start(root.path()).unwrap(),
        osv: OsvStandIn::start(&common::osv_dirs(), Duration::ZERO),
        _root: root,
    };
    println!("editor_session: {}", binary.display());

    // 1. Open.
    let (mut server, project) = start_server(&binary, &stand_ins, Value::Null);
    let path = project.path().join("app/package.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text = common::package_json(&packages);
    std::fs::write(&path, &text).unwrap();
    let manifest_uri = uri(&path);
    stand_ins.npm.clear_requests();
    let opened = Instant::now();
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": manifest_uri, "languageId": "json", "version": 1, "text": text}}),
    );
    // The stand-in runs on its own thread: poll its request count (a measurement, not a wait in a test).
    while stand_ins.npm.request_count() == 0 && opened.elapsed() < Duration::from_secs(60) {
        std::hint::spin_loop();
    }
    let first_request = opened.elapsed();
    let mut checking = None;
    let mut published = false;
    let final_at = loop {
        let frame = server.wait_for("final diagnostics", Duration::from_secs(120), |_| true);
        if std::env::var_os("TRACE").is_some() {
            let params = &frame.message["params"];
            println!(
                "  {:>7.1} ms {} {} {}",
                (frame.at - opened).as_secs_f64() * 1e3,
                frame.message["method"],
                params["state"],
                params["diagnostics"].as_array().map_or(0, Vec::len)
            );
        }
        if frame.message["method"] == "gatehouse/status" && frame.message["params"]["state"] == "checking" {
            checking.get_or_insert(frame.at);
        }
        if is_publish_for(&frame.message, &manifest_uri, 1) {
            published = true;
        }
        if published
            && frame.message["method"] == "gatehouse/status"
            && frame.message["params"]["state"] == "idle"
            && frame.message["params"]["pending"] == 0
        {
            break frame.at;
        }
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "editor_session: didOpen (300 deps) → first registry request {:.1} ms, → status \"checking\" {:.1} ms, \
         → final diagnostics {:.0} ms; peak RSS {:.1} MB",
        ms(first_request),
        checking.map_or(f64::NAN, |at| ms(at - opened)),
        ms(final_at - opened),
        mb(server.peak_rss_kib()),
    );

    // 2. Edits, each waiting for its diagnostics: a pinned version's last digit, bumped and back.
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
    let (line, character) = position(&text, at);
    let edit = |version: i64| {
        encode(
            &json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": manifest_uri, "version": version},
                "contentChanges": [{
                    "range": {"start": {"line": line, "character": character},
                              "end": {"line": line, "character": character + 1}},
                    "text": digits[version as usize % 2],
                }],
            }}),
        )
    };
    let rss_before = server.rss_kib();
    let started = Instant::now();
    for n in 0..n_edits {
        let version = n as i64 + 2;
        server.send_frame(&edit(version));
        server.wait_for("diagnostics for the edit", Duration::from_secs(60), |m| {
            is_publish_for(m, &manifest_uri, version)
        });
    }
    let cpu = server.cpu_time();
    println!(
        "editor_session: {n_edits} edits (each waiting for its diagnostics) in {:.1} s: peak RSS {:.1} MB, RSS \
         {:.1} MB before and {:.1} MB after; server CPU so far {:.1} s",
        started.elapsed().as_secs_f64(),
        mb(server.peak_rss_kib()),
        mb(rss_before),
        mb(server.rss_kib()),
        cpu.as_secs_f64(),
    );

    // 3. Rapid edits, back to back.
    let first = n_edits as i64 + 2;
    let frames: Vec<Vec<u8>> = (0..n_rapid as i64).map(|n| edit(first + n)).collect();
    for frame in &frames {
        server.send_frame(frame);
    }
    let last = first + n_rapid as i64 - 1;
    wait_idle_after(&mut server, &manifest_uri, last);
    println!(
        "editor_session: {n_rapid} rapid edits, then idle: gatehouse/stats {}; peak RSS {:.1} MB",
        stats(&mut server),
        mb(server.peak_rss_kib()),
    );
    server.stop();

    // 4. Distinct names, each settled and looked up.
    let (mut server, project) = start_server(&binary, &stand_ins, json!({"lookup": {"debounce-ms": 0}}));
    let path = project.path().join("typing/package.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let manifest = |name: &str| format!("{{\"dependencies\": {{\"{name}\": \"1.0.0\"}}}}\n");
    let text = manifest("typed-name-0");
    std::fs::write(&path, &text).unwrap();
    let manifest_uri = uri(&path);
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": manifest_uri, "languageId": "json", "version": 1, "text": text}}),
    );
    wait_idle_after(&mut server, &manifest_uri, 1);
    let rss_before = server.rss_kib();
    let started = Instant::now();
    for n in 1..n_names {
        let version = n as i64 + 1;
        let text = manifest(&format!("typed-name-{n}"));
        server.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": manifest_uri, "version": version}, "contentChanges": [{"text": text}]}),
        );
        wait_idle_after(&mut server, &manifest_uri, version);
    }
    println!(
        "editor_session: {n_names} distinct names typed, each looked up, in {:.1} s: peak RSS {:.1} MB (RSS {:.1} MB \
         after the first, {:.1} MB at the end); gatehouse/stats {}; registry requests {}",
        started.elapsed().as_secs_f64(),
        mb(server.peak_rss_kib()),
        mb(rss_before),
        mb(server.rss_kib()),
        stats(&mut server),
        stand_ins.npm.request_count(),
    );
    server.stop();
}
