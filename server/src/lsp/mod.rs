//! Thin tower-lsp glue: the document store, the per-document scheduler and the handlers.
//!
//! Invariants:
//! - `did_open`/`did_change` apply the edit to the document store under a std `Mutex` with no `.await`
//!   between reading the old text and storing the new one (tower-lsp runs handlers concurrently).
//! - Per document one analysis task, and it is all of that document's work: its lookups run inside it,
//!   so a new version (or closing) aborts them with it. Lookups shared between documents are still
//!   made once: the cache layer coalesces concurrent asks for one key. Every publish carries the version
//!   it was computed for and is dropped if that version is no longer current.
//! - The warm path (parse → evaluate with facts in memory → publish) never awaits the network.
//! - The facts held are only those open documents read (`held`), and each is asked again when the
//!   cache's time-to-live for it has passed; failures are retried with backoff. Time comes from
//!   `State::clock`.
//! - Files a manifest's context is read from (`project::context_files`) changing on disk (watched when
//!   the client registers watchers at run time) or saved mark the manifests below them for a context
//!   reload, debounced like an edit.
//! - No check logic, HTTP or parsing here beyond calling `manifest`, `engine`, `report`, `lookup`.
//!
//! Files: this one is the wiring only (`State`, `Backend`, `run`, the `LanguageServer` impl that forwards
//! each method); `documents` the document store and edits; `scheduler` one analysis task per document
//! (debounce, cancellation, refreshing); `held` the facts held and when each is due; `clock` the
//! injected clock; `handlers/` one file per kind of request.

mod clock;
mod documents;
mod framing;
mod handlers;
mod held;
mod poll;
mod scheduler;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;
use tokio::task::JoinHandle;
use tower_lsp_server::jsonrpc::Result as RpcResult;
use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use crate::config::Layer;
use crate::engine::{self, Analysis};
use crate::lookup::compose::compose;
use crate::lookup::private::PrivateRegistries;
use crate::lookup::{Lookup, LookupSettings};
use crate::manifest::{ManifestKind, SourceFile};
use crate::model::Facts;
use crate::project::{self, Context};
use crate::report;
use clock::Clock;
use documents::Doc;

/// `gatehouse/status`: what the status bar shows.
pub enum StatusNotification {}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StatusParams {
    pub state: String,
    pub pending: usize,
    pub packages: usize,
    pub problems: usize,
    pub offline: bool,
    /// Dependencies shown with answers whose due refresh failed (served stale), and why the first failed.
    #[serde(default)]
    pub stale: usize,
    #[serde(rename = "staleReason", default, skip_serializing_if = "Option::is_none")]
    pub stale_reason: Option<String>,
    /// Dependencies with an enabled check that could not be done, and which checks (`advisory 1, age 2`).
    #[serde(default)]
    pub unchecked: usize,
    #[serde(rename = "uncheckedChecks", default, skip_serializing_if = "String::is_empty")]
    pub unchecked_checks: String,
}

impl lsp::notification::Notification for StatusNotification {
    type Params = StatusParams;
    const METHOD: &'static str = "gatehouse/status";
}

/// Builds the lookups of one configuration: `compose` outside tests, doubles inside them.
type Composer = Arc<dyn Fn(&LookupSettings, &PrivateRegistries) -> (Lookup, Vec<String>) + Send + Sync>;

struct State {
    docs: Mutex<HashMap<lsp::Uri, Doc>>,
    tasks: Mutex<HashMap<lsp::Uri, JoinHandle<()>>>,
    /// Documents whose facts a re-check asked to fetch again.
    refetch: Mutex<std::collections::HashSet<lsp::Uri>>,
    /// Facts per lookup configuration (keyed by its settings): only what open documents read, with
    /// when each is due again; the facts are swapped whole when lookups land.
    facts: Mutex<HashMap<String, held::Held>>,
    /// The lookups per configuration (keyed like `facts`); a cell is filled once, and a document that
    /// needs it while it is being built waits for that build.
    lookups: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Arc<Lookup>>>>>,
    /// What setting up a lookup could not do (a cache store that cannot be used, an unreadable OSV
    /// database…), not yet shown to the user (`window/showMessage`, once each).
    unshown: Mutex<Vec<String>>,
    /// The problems of manifests' surroundings already shown to the user (each once a session).
    shown_problems: Mutex<std::collections::HashSet<String>>,
    client_settings: Mutex<Value>,
    /// The editor's workspace folders (`workspaceFolders`, else `rootUri`), as given.
    roots: Mutex<Vec<PathBuf>>,
    utf16: AtomicBool,
    /// The client shows `$/progress` (window.workDoneProgress).
    work_done: AtomicBool,
    /// The client accepts file watchers registered at run time (`workspace.didChangeWatchedFiles`).
    watch_files: AtomicBool,
    env: Vec<(String, String)>,
    panicked_once: AtomicBool,
    clock: Arc<dyn Clock>,
    compose: Composer,
    /// Analysis tasks alive: at most one per open document.
    live_tasks: tokio::sync::watch::Sender<usize>,
    /// Lookup rounds landed so far (tests and benches wait on it).
    rounds_landed: tokio::sync::watch::Sender<u64>,
    /// Looks at the files around open manifests taken so far (`poll`, when the client cannot watch).
    polls: tokio::sync::watch::Sender<u64>,
}

impl State {
    fn new(env: Vec<(String, String)>, clock: Arc<dyn Clock>, compose: Composer) -> State {
        State {
            docs: Mutex::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
            refetch: Mutex::new(std::collections::HashSet::new()),
            facts: Mutex::new(HashMap::new()),
            lookups: Mutex::new(HashMap::new()),
            unshown: Mutex::new(Vec::new()),
            shown_problems: Mutex::new(std::collections::HashSet::new()),
            client_settings: Mutex::new(Value::Null),
            roots: Mutex::new(Vec::new()),
            utf16: AtomicBool::new(true),
            work_done: AtomicBool::new(false),
            watch_files: AtomicBool::new(false),
            env,
            panicked_once: AtomicBool::new(false),
            clock,
            compose,
            live_tasks: tokio::sync::watch::Sender::new(0),
            rounds_landed: tokio::sync::watch::Sender::new(0),
            polls: tokio::sync::watch::Sender::new(0),
        }
    }

    /// The first workspace folder: what relative paths in client settings are relative to.
    fn first_root(&self) -> Option<PathBuf> {
        lock(&self.roots).first().cloned()
    }
}

pub struct Backend {
    client: Client,
    state: Arc<State>,
}

/// Serves LSP on stdin/stdout until the client exits.
pub async fn run() {
    // One-time work of the first request, started now beside `initialize` so that the first request after
    // opening a manifest does not wait for it: seeding the TLS random generator, and reading the OS
    // trust store for the client of the default HTTP settings, which every lookup uses. One thread: on
    // a busy machine a second one competes with the first diagnostics of the document opened meanwhile.
    tokio::task::spawn_blocking(|| {
        crate::lookup::http::prewarm_tls_random();
        crate::lookup::http::prewarm(&crate::lookup::http::HttpSettings::default());
    });
    // Malformed client messages are answered by the guard instead of ending the session.
    let (input, output) = framing::stdio();
    let (stdin, stdout) = framing::guard(input, output);
    let state = State::new(project::env_vars(), Arc::new(clock::SystemClock), Arc::new(compose));
    let (service, socket) = service(Arc::new(state));
    Server::new(stdin, stdout, socket).serve(service).await;
}

/// The service over `state`: the standard methods and Gatehouse's own.
fn service(state: Arc<State>) -> (LspService<Backend>, tower_lsp_server::ClientSocket) {
    LspService::build(move |client| Backend { client, state })
        .custom_method("gatehouse/stats", Backend::stats)
        .finish()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The editor's workspace folder that holds `path` (the innermost, when folders nest) bounds what the
/// project may name and where walks up for `gatehouse.toml`, `.npmrc` and the like stop; a file outside
/// every folder gets its own repository (or folder) as its workspace. Disk work: call it on the
/// blocking pool.
fn workspace_of(roots: &[PathBuf], path: &Path, env: &[(String, String)]) -> PathBuf {
    let real = std::fs::canonicalize(path).ok();
    roots
        .iter()
        .filter_map(|root| std::fs::canonicalize(root).ok())
        .filter(|root| real.as_ref().is_some_and(|real| real.starts_with(root)))
        .max_by_key(|root| root.components().count())
        .unwrap_or_else(|| project::workspace_root(path, env))
}

/// The editor evaluates at the clock's time to the whole minute. Ages are worded in minutes at the finest,
/// so a keystroke sees what it would see to the second except that a threshold is crossed up to a minute
/// late; and the keystrokes of one minute share one `now`, which is what lets `engine::Memo` reuse the
/// checks' answers for every dependency the edit did not touch.
fn to_the_minute(now: Timestamp) -> Timestamp {
    let second = now.as_second();
    Timestamp::from_second(second - second.rem_euclid(60)).unwrap_or(now)
}

fn lookup_key(context: &Context) -> String {
    project::lookup_key(context)
}

struct Evaluated {
    version: i32,
    diagnostics: Vec<lsp::Diagnostic>,
    analysis: Analysis,
}

/// Each method forwards to the inherent `Backend` method of the same name in `handlers/` (Rust picks an
/// inherent method over a trait method of the same name, so these calls do not recurse).
impl LanguageServer for Backend {
    async fn initialize(&self, params: lsp::InitializeParams) -> RpcResult<lsp::InitializeResult> {
        Backend::initialize(self, params).await
    }

    async fn initialized(&self, params: lsp::InitializedParams) {
        Backend::initialized(self, params).await
    }

    async fn shutdown(&self) -> RpcResult<()> {
        Backend::shutdown(self).await
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        Backend::did_open(self, params).await
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        Backend::did_change(self, params).await
    }

    async fn did_save(&self, params: lsp::DidSaveTextDocumentParams) {
        Backend::did_save(self, params).await
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        Backend::did_close(self, params).await
    }

    async fn did_change_watched_files(&self, params: lsp::DidChangeWatchedFilesParams) {
        Backend::did_change_watched_files(self, params).await
    }

    async fn did_change_configuration(&self, params: lsp::DidChangeConfigurationParams) {
        Backend::did_change_configuration(self, params).await
    }

    async fn hover(&self, params: lsp::HoverParams) -> RpcResult<Option<lsp::Hover>> {
        Backend::hover(self, params).await
    }

    async fn code_action(&self, params: lsp::CodeActionParams) -> RpcResult<Option<lsp::CodeActionResponse>> {
        Backend::code_action(self, params).await
    }

    async fn execute_command(&self, params: lsp::ExecuteCommandParams) -> RpcResult<Option<Value>> {
        Backend::execute_command(self, params).await
    }
}
