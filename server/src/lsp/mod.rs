//! Thin tower-lsp glue: the document store, the per-document scheduler and the handlers.
//!
//! Invariants:
//! - `did_open`/`did_change` apply the edit to the document store under a std `Mutex` with no `.await`
//!   between reading the old text and storing the new one (tower-lsp runs handlers concurrently).
//! - Per document one analysis task: a new version aborts the previous task. Every publish carries the
//!   version it was computed for and is dropped if that version is no longer current.
//! - The warm path (parse → evaluate with facts in memory → publish) never awaits the network; lookups run
//!   in server-owned tasks that are not aborted with a document (they fill the facts for the next one).
//! - No check logic, HTTP or parsing here beyond calling `manifest`, `engine`, `report`, `lookup`.
//!
//! Files: this one is the wiring only (`State`, `Backend`, `run`, the `LanguageServer` impl that forwards
//! each method); `documents` the document store and edits; `scheduler` one analysis task per document
//! (debounce, cancellation, server-owned lookups); `handlers/` one file per kind of request.

mod documents;
mod framing;
mod handlers;
mod scheduler;

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
use crate::lookup::Lookup;
use crate::lookup::compose::compose;
use crate::manifest::{ManifestKind, SourceFile};
use crate::model::Facts;
use crate::project::{self, Context};
use crate::report;
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
}

impl lsp::notification::Notification for StatusNotification {
    type Params = StatusParams;
    const METHOD: &'static str = "gatehouse/status";
}

struct State {
    docs: Mutex<HashMap<lsp::Uri, Doc>>,
    tasks: Mutex<HashMap<lsp::Uri, JoinHandle<()>>>,
    /// Documents whose facts a re-check asked to fetch again.
    refetch: Mutex<std::collections::HashSet<lsp::Uri>>,
    /// Facts per lookup configuration (keyed by its settings), swapped whole when lookups land.
    facts: Mutex<HashMap<String, Arc<Facts>>>,
    lookups: Mutex<HashMap<String, Arc<Lookup>>>,
    client_settings: Mutex<Value>,
    root: Mutex<Option<PathBuf>>,
    utf16: AtomicBool,
    /// The client shows `$/progress` (window.workDoneProgress).
    work_done: AtomicBool,
    env: Vec<(String, String)>,
    panicked_once: AtomicBool,
}

pub struct Backend {
    client: Client,
    state: Arc<State>,
}

/// Serves LSP on stdin/stdout until the client exits.
pub async fn run() {
    // Malformed client messages are answered by the guard instead of ending the session.
    let (stdin, stdout) = framing::guard(tokio::io::stdin(), tokio::io::stdout());
    let (service, socket) = LspService::new(|client| Backend {
        client,
        state: Arc::new(State {
            docs: Mutex::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
            refetch: Mutex::new(std::collections::HashSet::new()),
            facts: Mutex::new(HashMap::new()),
            lookups: Mutex::new(HashMap::new()),
            client_settings: Mutex::new(Value::Null),
            root: Mutex::new(None),
            utf16: AtomicBool::new(true),
            work_done: AtomicBool::new(false),
            env: project::env_vars(),
            panicked_once: AtomicBool::new(false),
        }),
    });
    Server::new(stdin, stdout, socket).serve(service).await;
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The editor's workspace folder bounds what the project may name; a file outside it gets its own
/// repository (or folder) as its workspace.
fn workspace_of(root: Option<&Path>, path: &Path, env: &[(String, String)]) -> PathBuf {
    root.and_then(|root| std::fs::canonicalize(root).ok())
        .filter(|root| std::fs::canonicalize(path).is_ok_and(|real| real.starts_with(root)))
        .unwrap_or_else(|| project::workspace_root(path, env))
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
