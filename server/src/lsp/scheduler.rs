//! The scheduler: one analysis task per document. `schedule` aborts the task of the previous version;
//! a task publishes what is known at once (the warm path), loads the document's context off the async
//! threads, waits `lookup.debounce-ms` after an edit (never after opening), then asks `lookup` for the
//! missing facts in a server-owned task and publishes again when they land.
//!
//! Invariants:
//! - One task per document; a new version aborts the old one, and a result for a version that is no
//!   longer current is dropped (`publish` checks the version).
//! - Debounce the network, not the diagnostics: the warm path publishes before the debounce. Only edits
//!   are debounced: an opened document starts its lookups at once.
//! - The task is the work: no inner task outlives an abort (a panic is caught with `catch_unwind`).
//! - No blocking work on async threads and no lock held across it: building a lookup (store, offline
//!   databases) and reading the context run on the blocking pool.
//! - Lookups are owned by the server, not the document: an edit aborts the task, never the fetch, which
//!   fills the facts for the next evaluation.
//! - Evaluating never awaits: `State::evaluate` holds the document lock and calls the pure core only.

use super::*;
use crate::model::Query;

impl State {
    pub(super) fn facts_for(&self, key: &str) -> Arc<Facts> {
        lock(&self.facts).get(key).cloned().unwrap_or_default()
    }

    /// The lookup for a context's settings, built once per distinct settings. Building it opens the
    /// store and loads offline databases (disk work, seconds for a large `all.zip`): that runs on the
    /// blocking pool with no lock held, never on an async worker thread.
    pub(super) async fn lookup_for(&self, context: &Context) -> Arc<Lookup> {
        let key = lookup_key(context);
        if let Some(found) = lock(&self.lookups).get(&key) {
            return found.clone();
        }
        let settings = context.config.lookup.clone();
        let private = context.private.clone();
        let built = tokio::task::spawn_blocking(move || {
            let (lookup, messages) = compose(&settings, &private);
            for message in messages {
                tracing::warn!("{message}");
            }
            Arc::new(lookup)
        })
        .await
        .unwrap_or_else(|error| {
            tracing::error!("setting up lookups panicked: {error}");
            let why = "lookups could not be set up".to_string();
            Arc::new(Lookup {
                registry: Arc::new(crate::lookup::NoRegistry(why.clone())),
                advisories: Arc::new(crate::lookup::advisories::NoAdvisories(why)),
                local_advisories: None,
                attestations: None,
            })
        });
        // Two documents may have built one at once: the first stored wins, so they share it.
        lock(&self.lookups).entry(key).or_insert(built).clone()
    }

    /// Evaluates the current version of a document. `None` when it is gone.
    pub(super) fn evaluate(&self, uri: &lsp::Uri) -> Option<Evaluated> {
        self.with_evaluated(uri, |doc, parsed, analysis, utf16| {
            let mut diagnostics = report::lsp::to_diagnostics(doc.source.text(), parsed, &analysis, utf16);
            if let Some(context) = doc.context.as_deref() {
                diagnostics.extend(outside_includes(doc, parsed, context, utf16));
            }
            Evaluated {
                version: doc.version,
                diagnostics,
                analysis,
            }
        })
    }

    /// Evaluates the current text of a manifest (not `gatehouse.toml`) with the facts in memory, under the
    /// document lock, and hands the result to `use_it`. `None` when the document is gone or is a config.
    pub(super) fn with_evaluated<T>(
        &self,
        uri: &lsp::Uri,
        use_it: impl FnOnce(&documents::Doc, &crate::manifest::Parsed, Analysis, bool) -> T,
    ) -> Option<T> {
        let mut docs = lock(&self.docs);
        let doc = docs.get_mut(uri)?;
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
        let analysis =
            engine::evaluate_memoized(&input, &facts, &context.config.policy, Timestamp::now(), &mut doc.memo);
        Some(use_it(doc, &parsed, analysis, utf16))
    }
}

/// `-r`/`-c` includes whose path leaves the workspace: an error on that line (the editor never reads
/// includes; the CLI refuses them the same way). Lexical, so no IO on the warm path.
fn outside_includes(
    doc: &Doc,
    parsed: &crate::manifest::Parsed,
    context: &Context,
    utf16: bool,
) -> Vec<lsp::Diagnostic> {
    if doc.path.is_none() || context.workspace_root.as_os_str().is_empty() {
        return Vec::new();
    }
    let dir = &context.manifest_dir;
    let workspace = crate::lookup::untrusted::normalize_lexically(&context.workspace_root);
    let positions = report::Positions::new(doc.source.text(), utf16);
    parsed
        .includes
        .iter()
        .filter(|include| {
            let target = crate::lookup::untrusted::normalize_lexically(&dir.join(&include.path));
            !target.starts_with(&workspace)
        })
        .map(|include| lsp::Diagnostic {
            range: report::lsp::to_range(&positions, include.span),
            severity: Some(lsp::DiagnosticSeverity::ERROR),
            code: Some(lsp::NumberOrString::String("include-outside-workspace".to_string())),
            source: Some("gatehouse".to_string()),
            message: format!(
                "included file {} is outside the workspace ({}): not read",
                include.path,
                workspace.display()
            ),
            ..lsp::Diagnostic::default()
        })
        .collect()
}

impl Backend {
    /// Starts (or restarts) the analysis task of one document. `debounce`: the document was edited,
    /// so wait for the text to settle before asking for lookups (a name still being typed is not
    /// looked up); an opened document starts its lookups at once.
    pub(super) fn schedule(&self, uri: lsp::Uri, debounce: bool) {
        use futures::FutureExt;
        let backend = Backend {
            client: self.client.clone(),
            state: self.state.clone(),
        };
        let task_uri = uri.clone();
        // One task, no inner spawn: aborting it drops the analysis itself (an inner task used to run on
        // after the abort, so stale analyses piled up). A panic is caught and logged, never fatal.
        let handle = tokio::spawn(async move {
            let outcome = std::panic::AssertUnwindSafe(backend.analyse(task_uri, debounce))
                .catch_unwind()
                .await;
            if outcome.is_err() {
                tracing::error!("an analysis panicked");
            }
        });
        if let Some(previous) = lock(&self.state.tasks).insert(uri, handle) {
            previous.abort();
        }
    }

    async fn analyse(&self, uri: lsp::Uri, debounce: bool) {
        // The warm path first: what is known now.
        let Some(context) = self.publish_then_load_context(&uri).await else {
            return;
        };
        if debounce {
            tokio::time::sleep(Duration::from_millis(context.config.debounce_ms)).await;
        }
        let lookup = self.state.lookup_for(&context).await;
        let key = lookup_key(&context);
        for _round in 0..3 {
            let Some(queries) = self.missing_facts(&uri, &context, &key) else {
                return;
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
            if !self.fetch(queries, lookup.clone(), key.clone()).await {
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

    /// Publishes what is known now, then loads the document's context (lockfile, gatehouse.toml,
    /// workspace root) off the async threads when it is missing or stale, and publishes again.
    /// `None` when the document is gone or has no context.
    async fn publish_then_load_context(&self, uri: &lsp::Uri) -> Option<Arc<Context>> {
        let needs_context = lock(&self.state.docs).get(uri).map(|doc| {
            (
                doc.context.is_none() || doc.reload_context,
                doc.path.clone(),
                doc.source.kind,
            )
        });
        let (needs_context, path, kind) = needs_context?;
        if let Some(evaluated) = self.state.evaluate(uri) {
            self.publish(uri, evaluated).await;
        }
        if needs_context && let Some(path) = path.clone() {
            let layers = settings_layer(&self.state);
            let env = self.state.env.clone();
            let root = lock(&self.state.root).clone();
            let loaded = tokio::task::spawn_blocking(move || {
                let cwd = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let workspace = workspace_of(root.as_deref(), &path, &env);
                project::context(&path, kind, None, &env, &cwd, &layers, &workspace)
            })
            .await;
            if let Ok(context) = loaded {
                self.log_context_problems(&context).await;
                if let Some(doc) = lock(&self.state.docs).get_mut(uri) {
                    doc.context = Some(Arc::new(context));
                    doc.reload_context = false;
                }
                if let Some(evaluated) = self.state.evaluate(uri) {
                    self.publish(uri, evaluated).await;
                }
            }
        }
        lock(&self.state.docs).get(uri).and_then(|d| d.context.clone())
    }

    /// Files around the manifest that were refused, and configuration problems, go to the log.
    async fn log_context_problems(&self, context: &Context) {
        for (source, message) in &context.problems {
            self.client
                .log_message(lsp::MessageType::WARNING, format!("gatehouse: {source}: {message}"))
                .await;
        }
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
    }

    /// The queries the current version of the document still needs; `None` when it is gone.
    fn missing_facts(&self, uri: &lsp::Uri, context: &Context, key: &str) -> Option<Vec<Query>> {
        let docs = lock(&self.state.docs);
        let doc = docs.get(uri)?;
        let parsed = doc.source.parsed();
        let input = context.input(&parsed);
        // A re-check asks again for everything, while the facts already known keep answering
        // hovers and code actions until the new ones land.
        let refetch = lock(&self.state.refetch).contains(uri);
        let facts = if refetch {
            Arc::new(Facts::default())
        } else {
            self.state.facts_for(key)
        };
        Some(engine::needs(&input, &facts))
    }

    /// Runs one round of lookups and merges what lands into the shared facts. The fetch belongs to the
    /// server, not the document: an edit aborts the analysis but not the lookups, which fill the facts
    /// for the next evaluation. `false` when the fetch task failed.
    async fn fetch(&self, queries: Vec<Query>, lookup: Arc<Lookup>, fetch_key: String) -> bool {
        let state = self.state.clone();
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
        fetch.await.is_ok()
    }

    pub(super) fn refetch_all(&self) {
        let uris: Vec<lsp::Uri> = lock(&self.state.docs).keys().cloned().collect();
        lock(&self.state.refetch).extend(uris);
    }

    pub(super) fn reschedule_all(&self, reset_context: bool) {
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
            self.schedule(uri, false);
        }
    }
}

pub(in crate::lsp) fn settings_layer(state: &State) -> Vec<Layer> {
    let value = lock(&state.client_settings).clone();
    let root = lock(&state.root).clone();
    if value.is_null() {
        return Vec::new();
    }
    vec![Layer::from_json("client settings", value, root.as_deref())]
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
            | crate::model::Query::LocalAdvisories { package }
            | crate::model::Query::Provenance { package, .. } => package,
        })
        .collect();
    names.sort();
    names.dedup();
    names.len()
}
