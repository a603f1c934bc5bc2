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

mod documents;

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
    let stdin = tokio::io::stdin();
    let stdout = tokio::io::stdout();
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

fn settings_layer(state: &State) -> Vec<Layer> {
    let value = lock(&state.client_settings).clone();
    let root = lock(&state.root).clone();
    if value.is_null() {
        return Vec::new();
    }
    vec![Layer::from_json("client settings", value, root.as_deref())]
}

fn lookup_key(context: &Context) -> String {
    project::lookup_key(context)
}

impl State {
    fn facts_for(&self, key: &str) -> Arc<Facts> {
        lock(&self.facts).get(key).cloned().unwrap_or_default()
    }

    fn lookup_for(&self, context: &Context) -> Arc<Lookup> {
        let key = lookup_key(context);
        let mut lookups = lock(&self.lookups);
        lookups
            .entry(key)
            .or_insert_with(|| {
                let (lookup, messages) = compose(&context.config.lookup, &context.private);
                for message in messages {
                    tracing::warn!("{message}");
                }
                Arc::new(lookup)
            })
            .clone()
    }

    /// Evaluates the current version of a document. `None` when it is gone.
    fn evaluate(&self, uri: &lsp::Uri) -> Option<Evaluated> {
        let docs = lock(&self.docs);
        let doc = docs.get(uri)?;
        let utf16 = self.utf16.load(Ordering::Relaxed);
        if doc.is_config {
            return None;
        }
        let parsed = doc.source.parsed();
        let empty_context;
        let context = match &doc.context {
            Some(context) => context.as_ref(),
            None => {
                empty_context = documents::empty_context();
                &empty_context
            }
        };
        let facts = self.facts_for(&lookup_key(context));
        let input = context.input(&parsed);
        let analysis = engine::evaluate(&input, &facts, &context.config.policy, Timestamp::now());
        let diagnostics = report::lsp::to_diagnostics(doc.source.text(), &parsed, &analysis, utf16);
        Some(Evaluated {
            version: doc.version,
            diagnostics,
            analysis,
        })
    }
}

struct Evaluated {
    version: i32,
    diagnostics: Vec<lsp::Diagnostic>,
    analysis: Analysis,
}

impl Backend {
    async fn publish(&self, uri: &lsp::Uri, evaluated: Evaluated) {
        let current = lock(&self.state.docs).get(uri).map(|d| d.version);
        if current != Some(evaluated.version) {
            return;
        }
        self.client
            .publish_diagnostics(uri.clone(), evaluated.diagnostics, Some(evaluated.version))
            .await;
    }

    async fn status(&self, state: &str, analysis: Option<&Analysis>, offline: bool) {
        let (pending, packages, problems) = match analysis {
            Some(a) => (a.pending(), a.deps.len(), a.findings.len()),
            None => (0, 0, 0),
        };
        self.client
            .send_notification::<StatusNotification>(StatusParams {
                state: state.to_string(),
                pending,
                packages,
                problems,
                offline,
            })
            .await;
    }

    /// Starts (or restarts) the analysis task of one document.
    fn schedule(&self, uri: lsp::Uri) {
        let backend = Backend {
            client: self.client.clone(),
            state: self.state.clone(),
        };
        let task_uri = uri.clone();
        let handle = tokio::spawn(async move {
            let outcome = tokio::spawn(async move { backend.analyse(task_uri).await }).await;
            if let Err(error) = outcome
                && error.is_panic()
            {
                tracing::error!("an analysis panicked: {error}");
            }
        });
        if let Some(previous) = lock(&self.state.tasks).insert(uri, handle) {
            previous.abort();
        }
    }

    async fn analyse(&self, uri: lsp::Uri) {
        // Load the document's context (lockfile, gatehouse.toml, workspace root) off the async threads.
        let needs_context = lock(&self.state.docs).get(&uri).map(|doc| {
            (
                doc.context.is_none() || doc.reload_context,
                doc.path.clone(),
                doc.source.kind,
            )
        });
        let Some((needs_context, path, kind)) = needs_context else {
            return;
        };
        // The warm path first: what is known now.
        if let Some(evaluated) = self.state.evaluate(&uri) {
            self.publish(&uri, evaluated).await;
        }
        if needs_context && let Some(path) = path.clone() {
            let layers = settings_layer(&self.state);
            let env = self.state.env.clone();
            let loaded = tokio::task::spawn_blocking(move || {
                let cwd = path.parent().map(Path::to_path_buf).unwrap_or_default();
                project::context(&path, kind, None, &env, &cwd, &layers)
            })
            .await;
            if let Ok(context) = loaded {
                if !context.config.issues.is_empty() {
                    let text = context
                        .config
                        .issues
                        .iter()
                        .map(|i| format!("{}: {}", i.source, i.message))
                        .collect::<Vec<_>>()
                        .join("; ");
                    self.client
                        .log_message(lsp::MessageType::WARNING, format!("gatehouse configuration: {text}"))
                        .await;
                }
                if let Some(doc) = lock(&self.state.docs).get_mut(&uri) {
                    doc.context = Some(Arc::new(context));
                    doc.reload_context = false;
                }
                if let Some(evaluated) = self.state.evaluate(&uri) {
                    self.publish(&uri, evaluated).await;
                }
            }
        }
        let context = lock(&self.state.docs).get(&uri).and_then(|d| d.context.clone());
        let Some(context) = context else {
            return;
        };
        let debounce = Duration::from_millis(context.config.debounce_ms);
        tokio::time::sleep(debounce).await;
        let lookup = self.state.lookup_for(&context);
        let key = lookup_key(&context);
        for _round in 0..3 {
            let queries = {
                let docs = lock(&self.state.docs);
                let Some(doc) = docs.get(&uri) else {
                    return;
                };
                let parsed = doc.source.parsed();
                let input = context.input(&parsed);
                // A re-check asks again for everything, while the facts already known keep answering
                // hovers and code actions until the new ones land.
                let refetch = lock(&self.state.refetch).contains(&uri);
                let facts = if refetch {
                    Arc::new(Facts::default())
                } else {
                    self.state.facts_for(&key)
                };
                engine::needs(&input, &facts)
            };
            if queries.is_empty() {
                break;
            }
            let pending = self.state.evaluate(&uri);
            self.status(
                "checking",
                pending.as_ref().map(|e| &e.analysis),
                context.config.lookup.offline,
            )
            .await;
            // The fetch belongs to the server, not the document: an edit aborts this task but not
            // the lookups, which fill the facts for the next evaluation.
            let state = self.state.clone();
            let lookup = lookup.clone();
            let fetch_key = key.clone();
            let client = self.client.clone();
            let fetch = tokio::spawn(async move {
                let progress = if state.work_done.load(Ordering::Relaxed) {
                    let token = lsp::ProgressToken::String(format!("gatehouse/{}", uuid_like()));
                    match client.create_work_done_progress(token.clone()).await {
                        Ok(()) => Some(
                            client
                                .progress(token, "Gatehouse")
                                .with_message(format!("checking {} packages", count_packages(&queries)))
                                .begin()
                                .await,
                        ),
                        Err(_) => None,
                    }
                } else {
                    None
                };
                let known = state.facts_for(&fetch_key);
                let fetched = lookup.fetch(&queries, &known).await;
                if let Some(progress) = progress {
                    progress.finish().await;
                }
                let mut all = lock(&state.facts);
                let mut merged = all.get(&fetch_key).map(|f| (**f).clone()).unwrap_or_default();
                merged.merge(fetched);
                all.insert(fetch_key, Arc::new(merged));
            });
            if fetch.await.is_err() {
                break;
            }
            lock(&self.state.refetch).remove(&uri);
            if let Some(evaluated) = self.state.evaluate(&uri) {
                self.publish(&uri, evaluated).await;
            }
        }
        let done = self.state.evaluate(&uri);
        self.status(
            "idle",
            done.as_ref().map(|e| &e.analysis),
            context.config.lookup.offline,
        )
        .await;
    }

    fn refetch_all(&self) {
        let uris: Vec<lsp::Uri> = lock(&self.state.docs).keys().cloned().collect();
        lock(&self.state.refetch).extend(uris);
    }

    fn reschedule_all(&self, reset_context: bool) {
        let uris: Vec<lsp::Uri> = {
            let mut docs = lock(&self.state.docs);
            if reset_context {
                // The old context keeps serving until the new one is read (no empty answers between).
                for doc in docs.values_mut() {
                    doc.reload_context = true;
                }
            }
            docs.keys().cloned().collect()
        };
        for uri in uris {
            self.schedule(uri);
        }
    }

    async fn publish_config_diagnostics(&self, uri: &lsp::Uri) {
        let diagnostics = {
            let docs = lock(&self.state.docs);
            let Some(doc) = docs.get(uri) else {
                return;
            };
            if !doc.is_config {
                return;
            }
            Some((
                documents::config_diagnostics(doc, self.state.utf16.load(Ordering::Relaxed)),
                doc.version,
            ))
        };
        if let Some((diagnostics, version)) = diagnostics {
            self.client
                .publish_diagnostics(uri.clone(), diagnostics, Some(version))
                .await;
        }
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: lsp::InitializeParams) -> RpcResult<lsp::InitializeResult> {
        let utf8 = params
            .capabilities
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_ref())
            .is_some_and(|encodings| encodings.contains(&lsp::PositionEncodingKind::UTF8));
        self.state.utf16.store(!utf8, Ordering::Relaxed);
        let work_done = params
            .capabilities
            .window
            .as_ref()
            .and_then(|w| w.work_done_progress)
            .unwrap_or(false);
        self.state.work_done.store(work_done, Ordering::Relaxed);
        #[allow(deprecated)]
        let root = params
            .workspace_folders
            .as_ref()
            .and_then(|folders| folders.first())
            .and_then(|folder| folder.uri.to_file_path().map(|p| p.into_owned()))
            .or_else(|| {
                params
                    .root_uri
                    .as_ref()
                    .and_then(|u| u.to_file_path().map(|p| p.into_owned()))
            });
        *lock(&self.state.root) = root;
        if let Some(options) = params.initialization_options {
            *lock(&self.state.client_settings) = unwrap_section(options);
        }
        Ok(lsp::InitializeResult {
            capabilities: lsp::ServerCapabilities {
                position_encoding: Some(if utf8 {
                    lsp::PositionEncodingKind::UTF8
                } else {
                    lsp::PositionEncodingKind::UTF16
                }),
                text_document_sync: Some(lsp::TextDocumentSyncCapability::Options(lsp::TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(lsp::TextDocumentSyncKind::INCREMENTAL),
                    save: Some(lsp::TextDocumentSyncSaveOptions::Supported(true)),
                    ..lsp::TextDocumentSyncOptions::default()
                })),
                hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
                code_action_provider: Some(lsp::CodeActionProviderCapability::Options(lsp::CodeActionOptions {
                    code_action_kinds: Some(vec![lsp::CodeActionKind::QUICKFIX]),
                    ..lsp::CodeActionOptions::default()
                })),
                execute_command_provider: Some(lsp::ExecuteCommandOptions {
                    commands: vec!["gatehouse.recheck".to_string(), "gatehouse.clearCache".to_string()],
                    ..lsp::ExecuteCommandOptions::default()
                }),
                ..lsp::ServerCapabilities::default()
            },
            server_info: Some(lsp::ServerInfo {
                name: "gatehouse".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _params: lsp::InitializedParams) {
        tracing::info!("gatehouse language server ready");
    }

    async fn shutdown(&self) -> RpcResult<()> {
        for (_, task) in lock(&self.state.tasks).drain() {
            task.abort();
        }
        // Answers already given are still being written behind; let them land before the exit.
        let lookups: Vec<Arc<Lookup>> = lock(&self.state.lookups).values().cloned().collect();
        let flush = futures::future::join_all(lookups.iter().map(|lookup| lookup.flush()));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), flush).await;
        Ok(())
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        let document = params.text_document;
        let path = document.uri.to_file_path().map(|p| p.into_owned());
        let name_path = path
            .clone()
            .unwrap_or_else(|| PathBuf::from(document.uri.path().as_str()));
        let is_config = name_path.file_name().is_some_and(|n| n == "gatehouse.toml");
        let by_language = match document.language_id.as_str() {
            "pip-requirements" | "requirements" => Some(ManifestKind::Requirements),
            _ => None,
        };
        let kind = ManifestKind::detect(&name_path, false).or(by_language);
        if kind.is_none() && !is_config {
            return;
        }
        let doc = Doc {
            source: SourceFile::new(kind.unwrap_or(documents::CONFIG_KIND_MARKER), document.text),
            version: document.version,
            path,
            context: None,
            reload_context: false,
            is_config,
        };
        lock(&self.state.docs).insert(document.uri.clone(), doc);
        if is_config {
            self.publish_config_diagnostics(&document.uri).await;
            return;
        }
        self.schedule(document.uri);
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        let is_config = {
            let utf16 = self.state.utf16.load(Ordering::Relaxed);
            let mut docs = lock(&self.state.docs);
            let Some(doc) = docs.get_mut(&uri) else {
                return;
            };
            documents::apply_changes(doc, params.text_document.version, params.content_changes, utf16);
            doc.is_config
        };
        if is_config {
            self.publish_config_diagnostics(&uri).await;
            return;
        }
        self.schedule(uri);
    }

    async fn did_save(&self, params: lsp::DidSaveTextDocumentParams) {
        let name = params.text_document.uri.path().as_str().to_string();
        // Files that change the context of manifests: policy, lockfiles, cooldowns, registries.
        let context_file = name.ends_with("gatehouse.toml")
            || name.ends_with(".lock")
            || name.ends_with("-lock.json")
            || name.ends_with("npm-shrinkwrap.json")
            || crate::policy::cooldown::CooldownFile::detect(&name).is_some();
        if context_file {
            self.reschedule_all(true);
        }
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        lock(&self.state.docs).remove(&uri);
        if let Some(task) = lock(&self.state.tasks).remove(&uri) {
            task.abort();
        }
        self.client.publish_diagnostics(uri, Vec::new(), None).await;
    }

    async fn did_change_configuration(&self, params: lsp::DidChangeConfigurationParams) {
        let mut settings = unwrap_section(params.settings);
        if settings.as_object().is_none_or(|m| m.is_empty()) {
            let items = vec![lsp::ConfigurationItem {
                scope_uri: None,
                section: Some("gatehouse".to_string()),
            }];
            if let Ok(mut values) = self.client.configuration(items).await
                && let Some(value) = values.pop()
            {
                settings = value;
            }
        }
        *lock(&self.state.client_settings) = settings;
        self.reschedule_all(true);
    }

    async fn hover(&self, params: lsp::HoverParams) -> RpcResult<Option<lsp::Hover>> {
        let position = params.text_document_position_params.position;
        let uri = params.text_document_position_params.text_document.uri;
        Ok(self.with_analysis(&uri, |text, parsed, analysis, utf16| {
            report::lsp::hover(text, parsed, analysis, position, utf16)
        }))
    }

    async fn code_action(&self, params: lsp::CodeActionParams) -> RpcResult<Option<lsp::CodeActionResponse>> {
        let uri = params.text_document.uri;
        let range = params.range;
        let target = self.ignore_target(&uri);
        let until = Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .checked_add(jiff::Span::new().days(30))
            .ok();
        let actions = self.with_analysis(&uri, |text, parsed, analysis, utf16| {
            let mut actions = report::lsp::code_actions(&uri, text, parsed, analysis, range, utf16);
            if let (Some(target), Some(until)) = (&target, until) {
                actions.extend(report::lsp::ignore_actions(text, analysis, range, utf16, target, until));
            }
            Some(actions)
        });
        Ok(actions.filter(|a| !a.is_empty()))
    }

    async fn execute_command(&self, params: lsp::ExecuteCommandParams) -> RpcResult<Option<Value>> {
        match params.command.as_str() {
            "gatehouse.recheck" => {
                self.refetch_all();
                self.reschedule_all(true);
            }
            "gatehouse.clearCache" => {
                self.refetch_all();
                lock(&self.state.lookups).clear();
                let dirs: Vec<PathBuf> = lock(&self.state.docs)
                    .values()
                    .filter_map(|d| d.context.as_ref().map(|c| c.config.lookup.cache_dir.clone()))
                    .collect();
                for dir in dirs {
                    if let Err(error) = std::fs::remove_dir_all(&dir)
                        && error.kind() != std::io::ErrorKind::NotFound
                    {
                        self.client
                            .show_message(
                                lsp::MessageType::WARNING,
                                format!("could not clear {}: {error}", dir.display()),
                            )
                            .await;
                    }
                }
                self.reschedule_all(true);
            }
            other => tracing::warn!("unknown command {other}"),
        }
        Ok(None)
    }
}

impl Backend {
    /// The `gatehouse.toml` an ignore action writes to: the one in effect, else a new one beside the
    /// manifest. An open, edited copy wins over the file on disk.
    fn ignore_target(&self, uri: &lsp::Uri) -> Option<report::lsp::IgnoreTarget> {
        let docs = lock(&self.state.docs);
        let doc = docs.get(uri)?;
        let context = doc.context.as_ref();
        let path = match context.and_then(|c| c.config_path.clone()) {
            Some(path) => path,
            None => doc.path.as_ref()?.parent()?.join("gatehouse.toml"),
        };
        let config_uri = lsp::Uri::from_file_path(&path)?;
        let open_text = docs.get(&config_uri).map(|d| d.source.text().to_string());
        let text = open_text.or_else(|| context.and_then(|c| c.config_text.clone()));
        Some(report::lsp::IgnoreTarget { uri: config_uri, text })
    }

    fn with_analysis<T>(
        &self,
        uri: &lsp::Uri,
        render: impl FnOnce(&str, &crate::manifest::Parsed, &Analysis, bool) -> Option<T>,
    ) -> Option<T> {
        let utf16 = self.state.utf16.load(Ordering::Relaxed);
        let docs = lock(&self.state.docs);
        let doc = docs.get(uri)?;
        if doc.is_config {
            return None;
        }
        let parsed = doc.source.parsed();
        let empty_context;
        let context = match &doc.context {
            Some(context) => context.as_ref(),
            None => {
                empty_context = documents::empty_context();
                &empty_context
            }
        };
        let facts = self.state.facts_for(&lookup_key(context));
        let input = context.input(&parsed);
        let analysis = engine::evaluate(&input, &facts, &context.config.policy, Timestamp::now());
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            render(doc.source.text(), &parsed, &analysis, utf16)
        }));
        match outcome {
            Ok(value) => value,
            Err(_) => {
                if !self.state.panicked_once.swap(true, Ordering::Relaxed) {
                    tracing::error!("rendering an answer panicked");
                }
                None
            }
        }
    }
}

/// A process-unique token suffix for progress reports.
fn uuid_like() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn count_packages(queries: &[crate::model::Query]) -> usize {
    let mut names: Vec<&crate::model::PackageRef> = queries
        .iter()
        .map(|q| match q {
            crate::model::Query::Package { package, .. }
            | crate::model::Query::Advisories { package }
            | crate::model::Query::Provenance { package, .. } => package,
        })
        .collect();
    names.sort();
    names.dedup();
    names.len()
}

/// Accepts `{ "gatehouse": {...} }` or the settings object itself.
fn unwrap_section(value: Value) -> Value {
    match value {
        Value::Object(mut map) if map.contains_key("gatehouse") => map.remove("gatehouse").unwrap_or(Value::Null),
        other => other,
    }
}
