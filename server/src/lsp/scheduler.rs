//! The scheduler: one analysis task per document. `schedule` aborts the task of the previous version;
//! a task publishes what is known at once (the warm path; after an edit `did_change` has done that
//! itself, on the thread that read the edit), loads the document's context off the async threads,
//! waits `lookup.debounce-ms` after an edit (never after opening), asks `lookup` for the missing facts
//! and publishes again when they land; then it sleeps until one of the facts the document reads is due
//! again (`held`), asks again, and publishes.
//!
//! Invariants:
//! - One task per document, and it is all of the document's work: lookups run inside it (no inner
//!   spawn), so aborting it (a new version, closing) drops them too. Lookups two documents share are
//!   made once: the cache layer coalesces concurrent asks for one key, and if one asker is dropped
//!   another carries on. A result for a version that is no longer current is dropped (`publish` checks).
//! - Debounce the network, not the diagnostics: the warm path publishes before the debounce. Only edits
//!   are debounced: an opened document starts its lookups at once.
//! - Before asking, a document records which facts it reads (`Doc::uses`); facts no open document reads
//!   are released then and on close, so what is held follows the open documents.
//! - No blocking work on async threads and no lock held across an await: building a lookup (store,
//!   offline databases) and reading the context run on the blocking pool.
//! - Evaluating never awaits: `State::evaluate` holds the document lock and calls the pure core only.
//! - Time comes from `State::clock` (evaluations, the debounce, when facts are due).

use super::held::{FactKey, Held};
use super::*;
use crate::lookup::cache::{CacheSettings, Ttls};
use crate::model::Query;

impl State {
    pub(super) fn facts_for(&self, key: &str) -> Arc<Facts> {
        lock(&self.facts).get(key).map(Held::facts).unwrap_or_default()
    }

    /// Releases the facts of the lookup configurations `keys` that no document in `docs` reads.
    pub(super) fn release_unused(&self, docs: &HashMap<lsp::Uri, Doc>, keys: &[String]) {
        let mut facts = lock(&self.facts);
        for key in keys {
            let used: std::collections::HashSet<FactKey> = docs
                .values()
                .filter(|doc| doc.uses_key == *key)
                .flat_map(|doc| doc.uses.iter().cloned())
                .collect();
            if let Some(held) = facts.get_mut(key)
                && !held.retain(&used)
            {
                facts.remove(key);
            }
        }
    }

    /// Counts a live analysis task until the returned guard is dropped (the task ended or was aborted).
    fn task_alive(&self) -> TaskAlive {
        self.live_tasks.send_modify(|n| *n += 1);
        TaskAlive(self.live_tasks.clone())
    }

    /// The lookup for a context's settings, built once per distinct settings (a second asker waits for
    /// the build in progress). Building it opens the store and loads offline databases (disk work,
    /// seconds for a large `all.zip`): that runs on the blocking pool with no lock held, never on an
    /// async worker thread.
    pub(super) async fn lookup_for(&self, context: &Context) -> Arc<Lookup> {
        let key = lookup_key(context);
        let cell = lock(&self.lookups).entry(key).or_default().clone();
        cell.get_or_init(|| async {
            let settings = context.config.lookup.clone();
            let private = context.private.clone();
            let compose = self.compose.clone();
            let built = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let (lookup, messages) = compose(&settings, &private);
                tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "lookups set up");
                for message in &messages {
                    tracing::warn!("{message}");
                }
                (Arc::new(lookup), messages)
            })
            .await;
            built
                .map(|(lookup, messages)| {
                    lock(&self.unshown).extend(messages);
                    lookup
                })
                .unwrap_or_else(|error| {
                    tracing::error!("setting up lookups panicked: {error}");
                    let why = "lookups could not be set up".to_string();
                    Arc::new(Lookup {
                        registry: Arc::new(crate::lookup::NoRegistry(why.clone())),
                        advisories: Arc::new(crate::lookup::advisories::NoAdvisories(why)),
                        local_advisories: None,
                        attestations: None,
                    })
                })
        })
        .await
        .clone()
    }

    /// Evaluates the current version of a document. `None` when it is gone.
    pub(super) fn evaluate(&self, uri: &lsp::Uri) -> Option<Evaluated> {
        self.with_evaluated(uri, |doc, parsed, analysis, utf16| {
            let mut diagnostics = report::lsp::to_diagnostics(doc.source.text(), parsed, &analysis, utf16);
            if let Some(context) = doc.context.as_deref() {
                diagnostics.extend(outside_includes(doc, parsed, context, utf16));
                diagnostics.extend(unread_constraints(doc, parsed, context, utf16));
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
        let input = context.input(parsed);
        let analysis = engine::evaluate_memoized(
            &input,
            &facts,
            &context.config.policy,
            to_the_minute(self.clock.now()),
            &mut doc.memo,
        );
        Some(use_it(doc, parsed, analysis, utf16))
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

/// `-c` lines whose constraints file could not be read (absent, not a regular file, too large, a URL),
/// and `-r`/`-c` lines that lead to such a file: a warning on that line, since the versions checked may
/// then not be the ones pip installs (pip itself fails without the file).
fn unread_constraints(
    doc: &Doc,
    parsed: &crate::manifest::Parsed,
    context: &Context,
    utf16: bool,
) -> Vec<lsp::Diagnostic> {
    if context.constraints_unread.is_empty() {
        return Vec::new();
    }
    let positions = report::Positions::new(doc.source.text(), utf16);
    parsed
        .includes
        .iter()
        .flat_map(|include| {
            context
                .constraints_unread
                .iter()
                .filter(move |(via, _)| *via == include.path)
                .map(move |(_, what)| (include, what))
        })
        .map(|(include, what)| lsp::Diagnostic {
            range: report::lsp::to_range(&positions, include.span),
            severity: Some(lsp::DiagnosticSeverity::WARNING),
            code: Some(lsp::NumberOrString::String("constraints-not-read".to_string())),
            source: Some("gatehouse".to_string()),
            message: format!(
                "{what}: its constraints are not applied, so the versions checked here may not be the ones pip installs"
            ),
            ..lsp::Diagnostic::default()
        })
        .collect()
}

/// Why a document's analysis task (re)starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// Opened, or the settings changed: publish what is known, then ask for lookups at once.
    Open,
    /// Edited, or files its context is read from changed: publish what is known, then ask for lookups
    /// once the text has settled (a name still being typed is not looked up), after `lookup.debounce-ms`.
    Edit,
    /// Edited, and `did_change` already published what is known: the debounce and lookups only.
    EditPublished,
}

impl Backend {
    /// Shows what setting up lookups could not do, once each, as a warning: the log alone is not seen.
    async fn show_lookup_problems(&self) {
        let unshown = std::mem::take(&mut *lock(&self.state.unshown));
        for message in unshown {
            self.client
                .show_message(lsp::MessageType::WARNING, format!("Gatehouse: {message}"))
                .await;
        }
    }

    /// Starts (or restarts) the analysis task of one document (see `Start`).
    pub(super) fn schedule(&self, uri: lsp::Uri, start: Start) {
        let edited_at = (start != Start::Open).then(|| self.state.clock.now());
        self.schedule_edited_at(uri, start, edited_at);
    }

    /// `schedule`, for an edit made at `edited_at` (the debounce counts from the keystroke, not from when
    /// the task gets to it).
    pub(super) fn schedule_edited_at(&self, uri: lsp::Uri, start: Start, edited_at: Option<Timestamp>) {
        use futures::FutureExt;
        let backend = Backend {
            client: self.client.clone(),
            state: self.state.clone(),
        };
        let task_uri = uri.clone();
        let generation = {
            let mut docs = lock(&self.state.docs);
            let Some(doc) = docs.get_mut(&uri) else {
                return;
            };
            doc.generation += 1;
            doc.generation
        };
        let publish_first = start != Start::EditPublished;
        let alive = self.state.task_alive();
        // One task, no inner spawn: aborting it drops the analysis and its lookups (an inner task used
        // to run on after the abort, so stale lookups piled up). A panic is caught and logged, never fatal.
        let handle = tokio::spawn(async move {
            let _alive = alive;
            let outcome = std::panic::AssertUnwindSafe(backend.analyse(task_uri, generation, edited_at, publish_first))
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

    /// `edited_at`: when the edit that started this task was made (`None` when the document was opened
    /// or its context changed: no debounce). `publish_first`: publish what is known before anything
    /// else (unless `did_change` did).
    async fn analyse(&self, uri: lsp::Uri, generation: u64, edited_at: Option<Timestamp>, publish_first: bool) {
        // The warm path first: what is known now.
        let Some(context) = self.publish_then_load_context(&uri, edited_at, publish_first).await else {
            return;
        };
        let clock = self.state.clock.clone();
        if let Some(edited_at) = edited_at {
            let settled = held::later(edited_at, Duration::from_millis(context.config.debounce_ms));
            clock.sleep_until(settled).await;
        }
        let lookup = self.state.lookup_for(&context).await;
        self.show_lookup_problems().await;
        let key = lookup_key(&context);
        let ttls = CacheSettings::from_lookup(&context.config.lookup).ttl;
        let offline = context.config.lookup.offline;
        let mut woke = false;
        loop {
            let mut landed = false;
            // A round's answers can lead to more questions (provenance of the resolved version, the
            // packages a fresh version added): at most three rounds.
            for _round in 0..3 {
                let Some(queries) = self.missing_facts(&uri, generation, &context, &key) else {
                    return;
                };
                if queries.is_empty() {
                    break;
                }
                let pending = self.state.evaluate(&uri);
                self.status("checking", pending.as_ref().map(|e| &e.analysis), offline)
                    .await;
                tracing::debug!(queries = queries.len(), "asking");
                self.fetch(&uri, generation, queries, &lookup, &key, &ttls).await;
                tracing::debug!("landed");
                lock(&self.state.refetch).remove(&uri);
                landed = true;
                if let Some(evaluated) = self.state.evaluate(&uri) {
                    self.publish(&uri, evaluated).await;
                }
            }
            // Another document may have refreshed what this one reads: show it.
            if woke
                && !landed
                && let Some(evaluated) = self.state.evaluate(&uri)
            {
                self.publish(&uri, evaluated).await;
            }
            let done = self.state.evaluate(&uri);
            self.status("idle", done.as_ref().map(|e| &e.analysis), offline).await;
            // Sleep until one of the facts this document reads is due again.
            let Some(next) = self.next_due(&uri, &key) else {
                return;
            };
            clock.sleep_until(next).await;
            woke = true;
        }
    }

    /// When the first of the facts `uri` reads is due to be asked again.
    fn next_due(&self, uri: &lsp::Uri, key: &str) -> Option<Timestamp> {
        let docs = lock(&self.state.docs);
        let doc = docs.get(uri)?;
        lock(&self.state.facts).get(key)?.next_due(&doc.uses)
    }

    /// Publishes what is known now (when `publish_first`), then loads the document's context (lockfile, gatehouse.toml,
    /// workspace root) off the async threads when it is missing or stale, and publishes again.
    /// A reload that files changing on disk asked for (`edited_at` set) waits for the debounce first,
    /// so a checkout that writes many files is read once. `None` when the document is gone or has no
    /// context.
    async fn publish_then_load_context(
        &self,
        uri: &lsp::Uri,
        edited_at: Option<Timestamp>,
        publish_first: bool,
    ) -> Option<Arc<Context>> {
        let needs_context = lock(&self.state.docs).get(uri).map(|doc| {
            (
                doc.context.is_none() || doc.reload_context,
                doc.path.clone(),
                doc.source.kind,
                doc.context.as_ref().map(|c| c.config.debounce_ms),
            )
        });
        let (needs_context, path, kind, reload_debounce) = needs_context?;
        if publish_first && let Some(evaluated) = self.state.evaluate(uri) {
            self.publish(uri, evaluated).await;
        }
        if needs_context && let (Some(edited_at), Some(debounce_ms)) = (edited_at, reload_debounce) {
            let settled = held::later(edited_at, Duration::from_millis(debounce_ms));
            self.state.clock.sleep_until(settled).await;
        }
        if needs_context && let Some(path) = path.clone() {
            let layers = settings_layer(&self.state);
            let env = self.state.env.clone();
            let roots = lock(&self.state.roots).clone();
            // The includes as the text says now (after the debounce): a requirements file's constraints
            // files are read for them.
            let includes = lock(&self.state.docs)
                .get(uri)
                .filter(|_| kind == ManifestKind::Requirements)
                .map(|doc| doc.source.parsed().includes.clone())
                .unwrap_or_default();
            let loaded = tokio::task::spawn_blocking(move || {
                let started = std::time::Instant::now();
                let cwd = path.parent().map(Path::to_path_buf).unwrap_or_default();
                let workspace = workspace_of(&roots, &path, &env);
                let mut context = project::context(&path, kind, None, &env, &cwd, &layers, &workspace);
                if kind == ManifestKind::Requirements {
                    project::load_pip_constraints(&mut context, &path, &includes);
                }
                tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "context loaded");
                context
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

    /// Files around the manifest that were refused or leave something unknown, and configuration
    /// problems, go to the log; the former are also shown once each (a warning): the log alone is not
    /// seen, and each may mean the versions checked are not the ones installed.
    async fn log_context_problems(&self, context: &Context) {
        for (source, message) in &context.problems {
            let text = format!("{source}: {message}");
            self.client
                .log_message(lsp::MessageType::WARNING, format!("gatehouse: {text}"))
                .await;
            if lock(&self.state.shown_problems).insert(text.clone()) {
                self.client
                    .show_message(lsp::MessageType::WARNING, format!("Gatehouse: {text}"))
                    .await;
            }
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

    /// The queries the current version of the document still needs (missing, or due to be asked
    /// again); `None` when it is gone. Records first which facts the document reads, and releases those
    /// no open document reads any more.
    fn missing_facts(&self, uri: &lsp::Uri, generation: u64, context: &Context, key: &str) -> Option<Vec<Query>> {
        let now = self.state.clock.now();
        let mut docs = lock(&self.state.docs);
        let doc = docs.get_mut(uri).filter(|doc| doc.generation == generation)?;
        let parsed = doc.source.parsed();
        let input = context.input(parsed);
        let (held, not_due) = match lock(&self.state.facts).get(key) {
            Some(held) => (held.facts(), held.without_due(now)),
            None => Default::default(),
        };
        // A re-check asks again for everything, while the facts already known keep answering
        // hovers and code actions until the new ones land.
        let refetch = lock(&self.state.refetch).contains(uri);
        let ask_against = if refetch { Arc::new(Facts::default()) } else { not_due };
        let res = engine::needs(&input, &ask_against);
        let uses: std::collections::HashSet<FactKey> = engine::uses(&input, &held).iter().map(FactKey::of).collect();
        doc.uses = uses.into_iter().collect();
        let previous_key = std::mem::replace(&mut doc.uses_key, key.to_string());
        let keys = if previous_key == key {
            vec![previous_key]
        } else {
            vec![previous_key, key.to_string()]
        };
        self.state.release_unused(&docs, &keys);
        Some(res)
    }

    /// Runs one round of lookups in this document's task and merges what lands into the held facts.
    /// Aborting the task drops the round; an ask another document shares carries on in the cache layer.
    /// A round that a newer task superseded while it ran is not merged: the newer one reads other facts.
    async fn fetch(
        &self,
        uri: &lsp::Uri,
        generation: u64,
        queries: Vec<Query>,
        lookup: &Lookup,
        key: &str,
        ttls: &Ttls,
    ) {
        let progress = self.begin_progress(&queries).await;
        let known = self.state.facts_for(key);
        let fetched = lookup.fetch(&queries, &known).await;
        drop(progress);
        let now = self.state.clock.now();
        {
            let docs = lock(&self.state.docs);
            if docs.get(uri).is_none_or(|doc| doc.generation != generation) {
                return;
            }
            lock(&self.state.facts)
                .entry(key.to_string())
                .or_default()
                .merge(fetched, &queries, now, ttls);
        }
        self.state.rounds_landed.send_modify(|n| *n += 1);
    }

    /// `$/progress` for one round, when the client shows it; ended when the guard drops (also when the
    /// round is aborted, so the editor never keeps a spinner for work that stopped).
    async fn begin_progress(&self, queries: &[Query]) -> Option<ProgressEnd> {
        if !self.state.work_done.load(Ordering::Relaxed) {
            return None;
        }
        let token = lsp::ProgressToken::String(format!("gatehouse/{}", uuid_like()));
        self.client.create_work_done_progress(token.clone()).await.ok()?;
        // The end is sent by `ProgressEnd`, not by this handle.
        let _ongoing = self
            .client
            .progress(token.clone(), "Gatehouse")
            .with_message(format!("checking {} packages", count_packages(queries)))
            .begin()
            .await;
        Some(ProgressEnd {
            client: self.client.clone(),
            token,
        })
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
            self.schedule(uri, Start::Open);
        }
    }
}

pub(in crate::lsp) fn settings_layer(state: &State) -> Vec<Layer> {
    let value = lock(&state.client_settings).clone();
    let root = state.first_root();
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

/// Counts one live analysis task in `State::live_tasks` while it exists.
struct TaskAlive(tokio::sync::watch::Sender<usize>);

impl Drop for TaskAlive {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Ends a `$/progress` report when dropped: the round finished or its task was aborted. Sending needs
/// an await, so the end goes out from a task of its own that only sends it.
struct ProgressEnd {
    client: Client,
    token: lsp::ProgressToken,
}

impl Drop for ProgressEnd {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = self.client.clone();
        let token = self.token.clone();
        runtime.spawn(async move {
            client
                .send_notification::<lsp::notification::Progress>(lsp::ProgressParams {
                    token,
                    value: lsp::ProgressParamsValue::WorkDone(lsp::WorkDoneProgress::End(lsp::WorkDoneProgressEnd {
                        message: None,
                    })),
                })
                .await;
        });
    }
}
