//! The server in process, over an in-memory pipe, with lookup doubles that count what they are asked and
//! a test clock: the editor session over hours without waiting for it. Every wait is on an event (a
//! message from the server, or a counter the server or a double moves) with a timeout that fails loudly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, WriteHalf};
use tokio::sync::watch;
use tower_lsp_server::Server;

use super::clock::TestClock;
use super::{State, lock};
use crate::lookup::{Advisories, Fetched, Lookup, LookupError, Registry};
use crate::model::{
    Advisory, Affected, AffectedRange, PackageFacts, PackageRef, RangeEvent, RangeKind, RegistrySource, VersionFacts,
};

const TIMEOUT: Duration = Duration::from_secs(20);

/// A registry and an OSV source in one: answers every name with one old version, records every ask,
/// holds asks while its gate is closed, fails while `failing`, and serves the advisories it is given.
struct Stand {
    asked_packages: std::sync::Mutex<Vec<String>>,
    asked_advisories: std::sync::Mutex<Vec<String>>,
    /// Names whose registry ask is running now (dropped asks leave it).
    in_flight: watch::Sender<Vec<String>>,
    /// Moves on every ask.
    asks: watch::Sender<u64>,
    gate_open: watch::Sender<bool>,
    failing: AtomicBool,
    advisories: std::sync::Mutex<Vec<Advisory>>,
}

impl Stand {
    fn new() -> Arc<Stand> {
        Arc::new(Stand {
            asked_packages: Default::default(),
            asked_advisories: Default::default(),
            in_flight: watch::Sender::new(Vec::new()),
            asks: watch::Sender::new(0),
            gate_open: watch::Sender::new(true),
            failing: AtomicBool::new(false),
            advisories: Default::default(),
        })
    }

    fn asked_packages(&self) -> Vec<String> {
        lock(&self.asked_packages).clone()
    }

    fn asked_advisories(&self) -> Vec<String> {
        lock(&self.asked_advisories).clone()
    }

    fn in_flight(&self) -> Vec<String> {
        let mut names = self.in_flight.borrow().clone();
        names.sort();
        names
    }

    fn add_advisory(&self, id: &str, name: &str) {
        lock(&self.advisories).push(Advisory {
            id: id.to_string(),
            summary: format!("{name} is vulnerable"),
            affected: vec![Affected {
                package: Some(npm(name)),
                ranges: vec![AffectedRange {
                    kind: RangeKind::Semver,
                    events: vec![RangeEvent::Introduced("0".to_string())],
                }],
                ..Affected::default()
            }],
            ..Advisory::default()
        });
    }
}

fn npm(name: &str) -> PackageRef {
    PackageRef::new(crate::model::Ecosystem::Npm, name)
}

/// Leaves `Stand::in_flight` when the ask ends or is dropped.
struct InFlight<'a>(&'a Stand, String);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|names| {
            if let Some(at) = names.iter().position(|n| *n == self.1) {
                names.remove(at);
            }
        });
    }
}

struct StandRegistry(Arc<Stand>);

#[async_trait]
impl Registry for StandRegistry {
    async fn package(&self, package: &PackageRef, _: &RegistrySource) -> Result<Fetched<PackageFacts>, LookupError> {
        let stand = &self.0;
        lock(&stand.asked_packages).push(package.name.clone());
        stand.in_flight.send_modify(|names| names.push(package.name.clone()));
        let _in_flight = InFlight(stand, package.name.clone());
        stand.asks.send_modify(|n| *n += 1);
        let mut gate = stand.gate_open.subscribe();
        let _ = gate.wait_for(|open| *open).await;
        if stand.failing.load(Ordering::SeqCst) {
            return Err(LookupError::Transport {
                host: "127.0.0.1".to_string(),
                message: "connection refused".to_string(),
            });
        }
        let long_ago: Timestamp = "2020-01-01T00:00:00Z".parse().unwrap_or_default();
        Ok(Fetched::fresh(PackageFacts {
            versions: vec![VersionFacts {
                version: "1.0.0".into(),
                published: Some(long_ago).into(),
                ..VersionFacts::default()
            }],
            created: Some(long_ago),
            latest: Some("1.0.0".to_string()),
            ..PackageFacts::default()
        }))
    }
}

struct StandAdvisories(Arc<Stand>);

#[async_trait]
impl Advisories for StandAdvisories {
    async fn advisories(
        &self,
        packages: &[PackageRef],
    ) -> Vec<(PackageRef, Result<Fetched<Vec<Advisory>>, LookupError>)> {
        let stand = &self.0;
        lock(&stand.asked_advisories).extend(packages.iter().map(|p| p.name.clone()));
        stand.asks.send_modify(|n| *n += 1);
        let known = lock(&stand.advisories).clone();
        let failing = stand.failing.load(Ordering::SeqCst);
        packages
            .iter()
            .map(|package| {
                if failing {
                    let error = LookupError::Status {
                        host: "127.0.0.1".to_string(),
                        status: 503,
                    };
                    return (package.clone(), Err(error));
                }
                let found = known
                    .iter()
                    .filter(|a| a.affected.iter().any(|x| x.package.as_ref() == Some(package)))
                    .cloned()
                    .collect();
                (package.clone(), Ok(Fetched::fresh(found)))
            })
            .collect()
    }
}

/// The server in process, its client end, and the doubles behind it.
struct Harness {
    state: Arc<State>,
    clock: Arc<TestClock>,
    stand: Arc<Stand>,
    dir: tempfile::TempDir,
    writer: WriteHalf<tokio::io::DuplexStream>,
    messages: tokio::sync::mpsc::UnboundedReceiver<Value>,
    next_id: i64,
    server: tokio::task::JoinHandle<()>,
}

impl Harness {
    /// Starts a server whose workspace is a fresh folder, with `settings` as initialization options.
    async fn start(settings: Value) -> Harness {
        Harness::start_with(settings, json!({})).await
    }

    /// `start`, with these client capabilities.
    async fn start_with(settings: Value, capabilities: Value) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let env = vec![
            ("HOME".to_string(), home.display().to_string()),
            (
                "XDG_CONFIG_HOME".to_string(),
                home.join(".config").display().to_string(),
            ),
        ];
        let clock = Arc::new(TestClock::new(Timestamp::now()));
        let stand = Stand::new();
        let for_compose = stand.clone();
        let compose: super::Composer = Arc::new(move |_, _| {
            let lookup = Lookup {
                registry: Arc::new(StandRegistry(for_compose.clone())),
                advisories: Arc::new(StandAdvisories(for_compose.clone())),
                local_advisories: None,
                attestations: None,
            };
            (lookup, Vec::new())
        });
        let state = Arc::new(State::new(env, clock.clone(), compose));
        let (client_end, server_end) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_end);
        let (service, socket) = super::service(state.clone());
        let server = tokio::spawn(Server::new(server_read, server_write, socket).serve(service));
        let (client_read, writer) = tokio::io::split(client_end);
        let (sender, messages) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(read_frames(client_read, sender));
        let mut harness = Harness {
            state,
            clock,
            stand,
            dir,
            writer,
            messages,
            next_id: 1,
            server,
        };
        let root = harness.uri("");
        harness
            .request(
                "initialize",
                json!({"processId": null, "rootUri": root, "capabilities": capabilities, "initializationOptions": settings}),
            )
            .await;
        harness.notify("initialized", json!({})).await;
        harness
    }

    fn uri(&self, name: &str) -> String {
        format!("file://{}", self.dir.path().join(name).display())
    }

    async fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).unwrap();
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        self.writer.write_all(header.as_bytes()).await.unwrap();
        self.writer.write_all(&body).await.unwrap();
        self.writer.flush().await.unwrap();
    }

    async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let response = self
            .wait_for(method, |m| m["id"] == json!(id) && m.get("method").is_none())
            .await;
        assert!(response.get("error").is_none(), "{method} failed: {response}");
        response["result"].clone()
    }

    /// The next message from the server that satisfies `pred` (server requests are answered with null).
    async fn wait_for(&mut self, what: &str, mut pred: impl FnMut(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        let mut seen = Vec::new();
        loop {
            let message = tokio::time::timeout_at(deadline, self.messages.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}; saw {seen:#?}"))
                .unwrap_or_else(|| panic!("the server stopped while waiting for {what}"));
            if message.get("id").is_some() && message.get("method").is_some() {
                let id = message["id"].clone();
                self.send(json!({"jsonrpc": "2.0", "id": id, "result": null})).await;
            }
            if pred(&message) {
                return message;
            }
            seen.push(message);
        }
    }

    /// Waits for the diagnostics of `name` at `version` that satisfy `pred`.
    async fn diagnostics(&mut self, name: &str, version: i64, mut pred: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
        let uri = self.uri(name);
        let message = self
            .wait_for(&format!("diagnostics of {name} v{version}"), |m| {
                m["method"] == "textDocument/publishDiagnostics"
                    && m["params"]["uri"] == uri
                    && m["params"]["version"] == version
                    && pred(m["params"]["diagnostics"].as_array().map(Vec::as_slice).unwrap_or(&[]))
            })
            .await;
        message["params"]["diagnostics"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `done` holds, re-checking whenever the server or the doubles move.
    async fn until(&self, what: &str, mut done: impl FnMut(&Harness) -> bool) {
        let mut tasks = self.state.live_tasks.subscribe();
        let mut rounds = self.state.rounds_landed.subscribe();
        let mut polls = self.state.polls.subscribe();
        let mut in_flight = self.stand.in_flight.subscribe();
        let mut asks = self.stand.asks.subscribe();
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        while !done(self) {
            let moved = async {
                tokio::select! {
                    _ = tasks.changed() => {}
                    _ = rounds.changed() => {}
                    _ = polls.changed() => {}
                    _ = in_flight.changed() => {}
                    _ = asks.changed() => {}
                }
            };
            if tokio::time::timeout_at(deadline, moved).await.is_err() {
                panic!(
                    "timed out waiting until {what}: {} tasks alive, in flight {:?}, held {:?}",
                    self.live_tasks(),
                    self.stand.in_flight(),
                    self.held()
                );
            }
        }
    }

    async fn open(&mut self, name: &str, text: &str) {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        let uri = self.uri(name);
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri, "languageId": "json", "version": 1, "text": text}}),
        )
        .await;
    }

    /// Replaces the whole text of `name`.
    async fn replace(&mut self, name: &str, version: i64, text: &str) {
        let uri = self.uri(name);
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
        )
        .await;
    }

    async fn close(&mut self, name: &str) {
        let uri = self.uri(name);
        self.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}))
            .await;
        // Closing publishes empty diagnostics without a version, after the facts are released.
        self.wait_for(&format!("{name} closed"), |m| {
            m["method"] == "textDocument/publishDiagnostics"
                && m["params"]["uri"] == uri
                && m["params"]["version"].is_null()
        })
        .await;
    }

    fn live_tasks(&self) -> usize {
        *self.state.live_tasks.borrow()
    }

    fn rounds(&self) -> u64 {
        *self.state.rounds_landed.borrow()
    }

    /// Looks at the files around open manifests taken so far (`poll`).
    fn polls(&self) -> u64 {
        *self.state.polls.borrow()
    }

    /// The names of every package the server holds facts for.
    fn held(&self) -> Vec<String> {
        let mut names: Vec<String> = lock(&self.state.facts)
            .values()
            .flat_map(|held| held.package_names())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    async fn shutdown(mut self) {
        self.request("shutdown", Value::Null).await;
        self.notify("exit", Value::Null).await;
        drop(self.writer);
        let _ = tokio::time::timeout(TIMEOUT, self.server).await;
    }
}

async fn read_frames(
    reader: tokio::io::ReadHalf<tokio::io::DuplexStream>,
    sender: tokio::sync::mpsc::UnboundedSender<Value>,
) {
    let mut reader = BufReader::new(reader);
    loop {
        let mut length = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
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
        let mut body = vec![0; length.expect("a frame without Content-Length")];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let message: Value = serde_json::from_slice(&body).expect("a frame that is not JSON");
        if sender.send(message).is_err() {
            return;
        }
    }
}

fn manifest(names: &[&str]) -> String {
    let deps: Vec<String> = names.iter().map(|name| format!("\"{name}\": \"1.0.0\"")).collect();
    format!("{{\"dependencies\": {{{}}}}}\n", deps.join(", "))
}

fn codes(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .filter_map(|d| d["code"].as_str().map(str::to_string))
        .collect()
}

const DEBOUNCE: Duration = Duration::from_millis(250);

/// Item 1 of issue 12 §3: an edit or a close aborts the document's task, and its lookups with it; the
/// number of live tasks returns to one per open document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_or_closing_a_document_cancels_its_lookups() {
    let mut lsp = Harness::start(Value::Null).await;
    lsp.stand.gate_open.send_replace(false);
    lsp.open("package.json", &manifest(&["alpha"])).await;
    lsp.until("alpha is being looked up", |h| h.stand.in_flight() == ["alpha"])
        .await;
    // Many rapid edits, each naming another package; the last one settles.
    for version in 2..=60 {
        let text = manifest(&[&format!("beta{version}")]);
        lsp.replace("package.json", version, &text).await;
    }
    lsp.diagnostics("package.json", 60, |_| true).await;
    lsp.clock.advance(DEBOUNCE);
    lsp.until("only the current name is being looked up", |h| {
        h.stand.in_flight() == ["beta60"] && h.live_tasks() == 1
    })
    .await;
    lsp.open("other/package.json", &manifest(&["gamma"])).await;
    lsp.until("both documents look up", |h| {
        h.stand.in_flight() == ["beta60", "gamma"] && h.live_tasks() == 2
    })
    .await;
    lsp.close("package.json").await;
    lsp.until("the closed document's lookup is dropped", |h| {
        h.stand.in_flight() == ["gamma"] && h.live_tasks() == 1
    })
    .await;
    // Once its lookups land, the open document keeps one task (waiting until its facts are due again).
    lsp.stand.gate_open.send_replace(true);
    lsp.until("gamma's facts landed", |h| h.held() == ["gamma"]).await;
    lsp.wait_for("idle", |m| {
        m["method"] == "gatehouse/status" && m["params"]["state"] == "idle"
    })
    .await;
    lsp.until("one task per open document", |h| h.live_tasks() == 1).await;
    assert!(
        !lsp.stand.asked_packages().contains(&"beta2".to_string()),
        "an unsettled name was looked up"
    );
    lsp.close("other/package.json").await;
    lsp.until("no task is left", |h| {
        h.live_tasks() == 0 && h.stand.in_flight().is_empty()
    })
    .await;
    lsp.shutdown().await;
}

/// Item 2: a name still being typed is not looked up; only the name it settles on is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_being_typed_is_looked_up_only_once_it_settles() {
    let mut lsp = Harness::start(Value::Null).await;
    let text = "{\"dependencies\": {\"\": \"1.0.0\"}}\n";
    lsp.open("package.json", text).await;
    lsp.diagnostics("package.json", 1, |_| true).await;
    let uri = lsp.uri("package.json");
    for (typed, ch) in "request".chars().enumerate() {
        let at = 19 + typed;
        let version = typed as i64 + 2;
        lsp.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{
                "range": {"start": {"line": 0, "character": at}, "end": {"line": 0, "character": at}},
                "text": ch.to_string(),
            }]}),
        )
        .await;
        // The warm path answers every keystroke at once, lookups or not.
        lsp.diagnostics("package.json", version, |_| true).await;
    }
    assert!(lsp.stand.asked_packages().is_empty(), "looked up while typing");
    lsp.clock.advance(DEBOUNCE);
    lsp.until("the settled name's lookups landed", |h| h.rounds() >= 1)
        .await;
    assert_eq!(lsp.stand.asked_packages(), ["request"]);
    assert_eq!(lsp.stand.asked_advisories(), ["request"]);
    lsp.shutdown().await;
}

/// Item 2: opening is not debounced (with an hour of debounce and a clock that never moves).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_document_looks_up_at_once() {
    let mut lsp = Harness::start(json!({"lookup": {"debounce-ms": 3_600_000}})).await;
    lsp.open("package.json", &manifest(&["left-pad"])).await;
    lsp.until("left-pad is looked up", |h| h.held() == ["left-pad"]).await;
    assert_eq!(lsp.stand.asked_packages(), ["left-pad"]);
    lsp.shutdown().await;
}

/// Item 3: a fact past its time-to-live is asked again, and a new advisory appears without an edit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fact_past_its_time_to_live_is_asked_again_and_a_new_advisory_shows() {
    let mut lsp = Harness::start(Value::Null).await;
    lsp.open("package.json", &manifest(&["left-pad"])).await;
    lsp.until("left-pad is known", |h| h.rounds() >= 1).await;
    let before = lsp.diagnostics("package.json", 1, |_| true).await;
    assert!(!codes(&before).contains(&"GHSA-test-0001".to_string()), "{before:?}");
    lsp.stand.add_advisory("GHSA-test-0001", "left-pad");
    // Within the time-to-live nothing is asked again: the registry answer (10 min) comes due first.
    let ttls = crate::lookup::cache::Ttls::default();
    lsp.clock.advance(ttls.versions + Duration::from_secs(60));
    lsp.until("the registry facts are asked again", |h| h.rounds() >= 2)
        .await;
    assert_eq!(lsp.stand.asked_packages().len(), 2);
    assert_eq!(
        lsp.stand.asked_advisories(),
        ["left-pad"],
        "advisories asked before their time-to-live"
    );
    lsp.clock.advance(ttls.advisories);
    let after = lsp
        .diagnostics("package.json", 1, |d| codes(d).contains(&"GHSA-test-0001".to_string()))
        .await;
    assert!(
        after
            .iter()
            .any(|d| d["message"].as_str().unwrap_or_default().contains("is affected")),
        "{after:?}"
    );
    assert_eq!(lsp.stand.asked_advisories(), ["left-pad", "left-pad"]);
    lsp.shutdown().await;
}

/// Item 3: an answer that could not be had is asked again after the backoff and turns to checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_answer_is_retried_after_the_backoff_and_turns_checked() {
    let mut lsp = Harness::start(Value::Null).await;
    lsp.stand.failing.store(true, Ordering::SeqCst);
    lsp.open("package.json", &manifest(&["left-pad"])).await;
    lsp.diagnostics("package.json", 1, |d| codes(d).contains(&"unchecked".to_string()))
        .await;
    // Still failing at the first retry: asked again, still not checked.
    lsp.clock.advance(super::held::RETRY_FIRST);
    // Wait for the retry's answer to land, so the next backoff counts from it.
    lsp.until("the first retry landed", |h| h.rounds() >= 2).await;
    assert_eq!(lsp.stand.asked_packages().len(), 2);
    lsp.stand.failing.store(false, Ordering::SeqCst);
    // The second retry waits twice as long.
    lsp.clock.advance(super::held::RETRY_FIRST * 2);
    lsp.diagnostics("package.json", 1, |d| !codes(d).contains(&"unchecked".to_string()))
        .await;
    assert_eq!(lsp.stand.asked_packages().len(), 3);
    let status = lsp
        .wait_for("idle", |m| {
            m["method"] == "gatehouse/status" && m["params"]["state"] == "idle"
        })
        .await;
    assert_eq!(status["params"]["pending"], 0, "{status}");
    lsp.shutdown().await;
}

/// Unknown is never clean in the status bar either: the idle status counts what could not be checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_status_counts_what_could_not_be_checked() {
    let mut lsp = Harness::start(Value::Null).await;
    lsp.stand.failing.store(true, Ordering::SeqCst);
    lsp.open("package.json", &manifest(&["left-pad", "lodash"])).await;
    let status = lsp
        .wait_for("idle with both unchecked", |m| {
            m["method"] == "gatehouse/status" && m["params"]["state"] == "idle" && m["params"]["unchecked"] == 2
        })
        .await;
    let checks = status["params"]["uncheckedChecks"].as_str().unwrap_or_default();
    assert!(checks.contains("advisory 2"), "{status}");
    lsp.shutdown().await;
}

/// Item 4: closing a document releases the facts only it read; what another open document reads stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_document_releases_the_facts_only_it_read() {
    let mut lsp = Harness::start(Value::Null).await;
    lsp.open("a/package.json", &manifest(&["shared", "only-a"])).await;
    lsp.open("b/package.json", &manifest(&["shared", "only-b"])).await;
    lsp.until("both documents' facts are held", |h| {
        h.held() == ["only-a", "only-b", "shared"]
    })
    .await;
    lsp.close("a/package.json").await;
    assert_eq!(lsp.held(), ["only-b", "shared"]);
    lsp.close("b/package.json").await;
    assert!(lsp.held().is_empty(), "{:?}", lsp.held());
    lsp.shutdown().await;
}

/// Item 4: ten thousand distinct names typed leave only the current name's facts held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_names_typed_leave_only_the_current_ones_held() {
    let mut lsp = Harness::start(json!({"lookup": {"debounce-ms": 0}})).await;
    lsp.open("package.json", &manifest(&["name0"])).await;
    lsp.until("name0 is held", |h| h.held() == ["name0"]).await;
    let mut messages_seen = 0usize;
    for index in 1..10_000 {
        let name = format!("name{index}");
        lsp.replace("package.json", index as i64 + 1, &manifest(&[&name])).await;
        lsp.until("only the current name is held", |h| h.held() == [name.as_str()])
            .await;
        // Drain what the server published meanwhile, so the pipe never fills.
        while lsp.messages.try_recv().is_ok() {
            messages_seen += 1;
        }
    }
    assert!(messages_seen > 0);
    // Each name once: a superseded task never looks up the names of a newer text.
    let mut asked = lsp.stand.asked_packages();
    asked.sort();
    asked.dedup();
    assert_eq!(asked.len(), 10_000);
    assert_eq!(lsp.stand.asked_packages().len(), 10_000);
    // An aborted task is dropped when its worker next gets to it.
    lsp.until("one task per open document", |h| h.live_tasks() == 1).await;
    let stats = lsp.request("gatehouse/stats", Value::Null).await;
    assert_eq!(
        stats,
        json!({"analysisTasks": 1, "openDocuments": 1, "heldPackages": 1, "heldFacts": 2})
    );
    lsp.shutdown().await;
}

/// A round aborted by closing its document still ends its `$/progress` report (no spinner left behind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborted_round_ends_its_progress_report() {
    let mut lsp = Harness::start_with(Value::Null, json!({"window": {"workDoneProgress": true}})).await;
    lsp.stand.gate_open.send_replace(false);
    lsp.open("package.json", &manifest(&["alpha"])).await;
    let begin = lsp
        .wait_for("progress begin", |m| {
            m["method"] == "$/progress" && m["params"]["value"]["kind"] == "begin"
        })
        .await;
    let token = begin["params"]["token"].clone();
    lsp.until("alpha is being looked up", |h| h.stand.in_flight() == ["alpha"])
        .await;
    let uri = lsp.uri("package.json");
    lsp.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}))
        .await;
    lsp.wait_for("progress end", |m| {
        m["method"] == "$/progress" && m["params"]["token"] == token && m["params"]["value"]["kind"] == "end"
    })
    .await;
    lsp.until("the lookup is dropped", |h| {
        h.stand.in_flight().is_empty() && h.live_tasks() == 0
    })
    .await;
    lsp.shutdown().await;
}

/// A due refresh that fails leaves the old answer marked stale, and the hover says so with the error,
/// instead of showing an expired answer as fresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_shows_the_old_answer_as_stale_with_the_error() {
    let mut lsp = Harness::start(Value::Null).await;
    lsp.open("package.json", &manifest(&["left-pad"])).await;
    lsp.until("left-pad is known", |h| h.rounds() >= 1).await;
    let uri = lsp.uri("package.json");
    let position = json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 21}});
    let fresh = lsp.request("textDocument/hover", position.clone()).await.to_string();
    assert!(!fresh.contains("stale"), "{fresh}");
    lsp.stand.failing.store(true, Ordering::SeqCst);
    let ttls = crate::lookup::cache::Ttls::default();
    lsp.clock.advance(ttls.versions + Duration::from_secs(60));
    lsp.until("the refresh failed", |h| h.rounds() >= 2).await;
    let status = lsp
        .wait_for("a status that counts the stale answer", |m| {
            m["method"] == "gatehouse/status" && m["params"]["state"] == "idle" && m["params"]["stale"] == 1
        })
        .await;
    let why = status["params"]["staleReason"].as_str().unwrap_or_default();
    assert!(why.contains("connection refused"), "{status}");
    let stale = lsp.request("textDocument/hover", position).await.to_string();
    assert!(stale.contains("stale"), "{stale}");
    assert!(stale.contains("connection refused"), "{stale}");
    lsp.shutdown().await;
}

/// A pnpm lockfile whose member `packages/a` installs `left-pad` at `version`.
fn pnpm_lock(version: &str) -> String {
    format!(
        "lockfileVersion: '9.0'\n\nimporters:\n\n  packages/a:\n    dependencies:\n      left-pad:\n        specifier: ^1.0.0\n        version: {version}\n\npackages:\n\n  left-pad@{version}:\n    resolution: {{integrity: sha512-AAAA}}\n\nsnapshots:\n\n  left-pad@{version}: {{}}\n"
    )
}

fn messages(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .filter_map(|d| d["message"].as_str().map(str::to_string))
        .collect()
}

fn mentions(diagnostics: &[Value], text: &str) -> bool {
    messages(diagnostics).iter().any(|m| m.contains(text))
}

const WATCHING: &str = r#"{"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": true}}}"#;

/// Issue 12 §3 and issue 14: a lockfile changed on disk (a `git pull`, `pnpm install` in a terminal)
/// reaches the open member: the client is asked to watch the files Gatehouse reads, and a watched
/// change, or saving the file, re-reads the context (debounced) and shows the new installed version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockfile_changed_on_disk_shows_the_new_installed_version() {
    let capabilities: Value = serde_json::from_str(WATCHING).unwrap();
    let mut lsp = Harness::start_with(Value::Null, capabilities).await;
    let registration = lsp
        .wait_for("the watchers' registration", |m| {
            m["method"] == "client/registerCapability"
        })
        .await;
    let registered = &registration["params"]["registrations"][0];
    assert_eq!(registered["method"], "workspace/didChangeWatchedFiles");
    let patterns: Vec<String> = registered["registerOptions"]["watchers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["globPattern"].as_str().map(str::to_string))
        .collect();
    for name in [
        "pnpm-lock.yaml",
        "pnpm-workspace.yaml",
        "package-lock.json",
        "yarn.lock",
        "bun.lock",
        "Cargo.lock",
        "uv.lock",
        "poetry.lock",
        ".npmrc",
        ".cargo/config.toml",
        "gatehouse.toml",
        "*constraints.txt",
    ] {
        assert!(
            patterns.contains(&format!("**/{name}")),
            "{name} is not watched: {patterns:?}"
        );
    }
    lsp.stand.add_advisory("GHSA-test-0001", "left-pad");
    let root = lsp.dir.path().to_path_buf();
    std::fs::write(root.join("package.json"), "{\"name\": \"root\", \"private\": true}\n").unwrap();
    std::fs::write(root.join("pnpm-workspace.yaml"), "packages:\n  - packages/*\n").unwrap();
    std::fs::write(root.join("pnpm-lock.yaml"), pnpm_lock("1.0.1")).unwrap();
    let member = "packages/a/package.json";
    lsp.open(member, "{\"dependencies\": {\"left-pad\": \"^1.0.0\"}}\n")
        .await;
    lsp.diagnostics(member, 1, |d| mentions(d, "left-pad 1.0.1 is affected"))
        .await;
    lsp.wait_for("idle", |m| {
        m["method"] == "gatehouse/status" && m["params"]["state"] == "idle"
    })
    .await;

    // `pnpm install` in a terminal: the lockfile changes on disk, and the editor says so.
    std::fs::write(root.join("pnpm-lock.yaml"), pnpm_lock("1.0.2")).unwrap();
    let changed = lsp.uri("pnpm-lock.yaml");
    lsp.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": changed, "type": 2}]}),
    )
    .await;
    // The warm path answers at once with what is known; the context is read again once settled.
    lsp.diagnostics(member, 1, |d| mentions(d, "left-pad 1.0.1 is affected"))
        .await;
    lsp.clock.advance(DEBOUNCE);
    let after = lsp
        .diagnostics(member, 1, |d| mentions(d, "left-pad 1.0.2 is affected"))
        .await;
    assert!(!mentions(&after, "1.0.1"), "{:?}", messages(&after));
    lsp.wait_for("idle", |m| {
        m["method"] == "gatehouse/status" && m["params"]["state"] == "idle"
    })
    .await;

    // Saving the lockfile in the editor does the same.
    std::fs::write(root.join("pnpm-lock.yaml"), pnpm_lock("1.0.3")).unwrap();
    lsp.notify("textDocument/didSave", json!({"textDocument": {"uri": changed}}))
        .await;
    lsp.diagnostics(member, 1, |d| mentions(d, "left-pad 1.0.2 is affected"))
        .await;
    lsp.clock.advance(DEBOUNCE);
    lsp.diagnostics(member, 1, |d| mentions(d, "left-pad 1.0.3 is affected"))
        .await;
    lsp.shutdown().await;
}

/// A client that cannot watch files (Neovim on Linux turns dynamic registration off) still sees a
/// lockfile changed on disk: the server looks at the files around the open manifests itself, every
/// `poll::POLL_EVERY`, and reloads the contexts whose files changed, were created or were deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_client_watchers_a_lockfile_changed_on_disk_is_noticed() {
    let mut lsp = Harness::start_with(
        Value::Null,
        json!({"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": false}}}),
    )
    .await;
    lsp.stand.add_advisory("GHSA-test-0001", "left-pad");
    let root = lsp.dir.path().to_path_buf();
    std::fs::write(root.join("package.json"), "{\"name\": \"root\", \"private\": true}\n").unwrap();
    std::fs::write(root.join("pnpm-workspace.yaml"), "packages:\n  - packages/*\n").unwrap();
    std::fs::write(root.join("pnpm-lock.yaml"), pnpm_lock("1.0.1")).unwrap();
    let member = "packages/a/package.json";
    lsp.open(member, "{\"dependencies\": {\"left-pad\": \"^1.0.0\"}}\n")
        .await;
    lsp.diagnostics(member, 1, |d| mentions(d, "left-pad 1.0.1 is affected"))
        .await;
    // One look at the files as they are.
    let polls = lsp.polls();
    lsp.clock.advance(super::poll::POLL_EVERY);
    lsp.until("a look at the files", |h| h.polls() > polls).await;

    // `pnpm install` in a terminal.
    std::fs::write(root.join("pnpm-lock.yaml"), pnpm_lock("1.0.2") + "\n").unwrap();
    let polls = lsp.polls();
    lsp.clock.advance(super::poll::POLL_EVERY);
    lsp.until("a look at the files", |h| h.polls() > polls).await;
    lsp.clock.advance(DEBOUNCE);
    let after = lsp
        .diagnostics(member, 1, |d| mentions(d, "left-pad 1.0.2 is affected"))
        .await;
    assert!(!mentions(&after, "1.0.1"), "{:?}", messages(&after));
    lsp.shutdown().await;
}

/// A change to a file no manifest reads, or outside the member's folders, starts no reload.
#[test]
fn only_the_files_a_context_reads_name_a_folder() {
    use crate::project::context_file_folder;
    use std::path::{Path, PathBuf};
    assert_eq!(
        context_file_folder(Path::new("/w/pnpm-lock.yaml")),
        Some(PathBuf::from("/w"))
    );
    assert_eq!(
        context_file_folder(Path::new("/w/app/.cargo/config.toml")),
        Some(PathBuf::from("/w/app"))
    );
    assert_eq!(
        context_file_folder(Path::new("/w/requirements-dev.txt")),
        Some(PathBuf::from("/w"))
    );
    assert_eq!(context_file_folder(Path::new("/w/src/main.rs")), None);
    assert_eq!(context_file_folder(Path::new("/w/config.toml")), None);
}

/// The watchers are registered only when the client accepts registrations at run time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_watchers_are_registered_without_dynamic_registration() {
    for capabilities in [
        json!({}),
        json!({"workspace": {"didChangeWatchedFiles": {"dynamicRegistration": false}}}),
    ] {
        let mut lsp = Harness::start_with(Value::Null, capabilities).await;
        lsp.open("package.json", &manifest(&["left-pad"])).await;
        let mut registered = false;
        lsp.wait_for("idle", |m| {
            registered |= m["method"] == "client/registerCapability";
            m["method"] == "gatehouse/status" && m["params"]["state"] == "idle"
        })
        .await;
        lsp.request("gatehouse/stats", Value::Null).await;
        while let Ok(message) = lsp.messages.try_recv() {
            registered |= message["method"] == "client/registerCapability";
        }
        assert!(!registered, "watchers registered without dynamic registration");
        lsp.shutdown().await;
    }
}

/// The warm path: every edit is published once, for its version, in order, and shows what a fresh look
/// at the same text shows (the memo and the incremental parse give exactly a full evaluation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_edit_is_published_once_in_order_as_a_fresh_open_shows_it() {
    let mut lsp = Harness::start(Value::Null).await;
    lsp.stand.add_advisory("GHSA-left", "left");
    let mut text = manifest(&["left", "middle", "right"]);
    lsp.open("a/package.json", &text).await;
    lsp.diagnostics("a/package.json", 1, |d| codes(d).contains(&"GHSA-left".to_string()))
        .await;
    let uri = lsp.uri("a/package.json");
    // Retype the last digit of each version in turn, without waiting for the answers in between.
    let mut edits = Vec::new();
    for (name, digit) in [
        ("left", "1"),
        ("middle", "2"),
        ("left", "0"),
        ("right", "3"),
        ("left", "9"),
    ] {
        let at = text.find(&format!("\"{name}\": \"")).unwrap() + name.len() + 9;
        text.replace_range(at..at + 1, digit);
        edits.push((at, digit));
    }
    for (version, (at, digit)) in edits.iter().enumerate() {
        let version = version as i64 + 2;
        lsp.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{
                "range": {"start": {"line": 0, "character": at}, "end": {"line": 0, "character": at + 1}},
                "text": digit,
            }]}),
        )
        .await;
    }
    let last = edits.len() as i64 + 1;
    let mut versions = Vec::new();
    let edited = loop {
        let message = lsp
            .wait_for("the last edit's diagnostics", |m| {
                m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri
            })
            .await;
        let version = message["params"]["version"].as_i64().unwrap();
        if version == 1 && versions.is_empty() {
            // The opened text's last answers may still be on their way.
            continue;
        }
        versions.push(version);
        if version == last {
            break message["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
        }
    };
    assert_eq!(
        versions,
        (2..=last).collect::<Vec<_>>(),
        "each edit published once, in order"
    );
    assert!(text.contains("\"left\": \"1.0.9\""), "{text}");
    lsp.open("b/package.json", &text).await;
    let fresh = lsp
        .diagnostics("b/package.json", 1, |d| codes(d).contains(&"GHSA-left".to_string()))
        .await;
    let shown = |diagnostics: &[Value]| -> Vec<String> {
        diagnostics
            .iter()
            .map(|d| format!("{} {} {} {}", d["range"], d["severity"], d["code"], d["message"]))
            .collect()
    };
    assert_eq!(shown(&edited), shown(&fresh));
    lsp.shutdown().await;
}
