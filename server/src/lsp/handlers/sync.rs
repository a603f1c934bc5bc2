//! Document sync: `didOpen`, `didChange`, `didSave`, `didClose`, and `workspace/didChangeWatchedFiles`. Each applies the edit to the document
//! store with no `.await` between reading the old text and storing the new one, then hands the document
//! to the scheduler and returns.

use super::super::scheduler::Start;
use super::super::*;

impl Backend {
    pub(in crate::lsp) async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
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
        let doc = Doc::new(
            SourceFile::new(kind.unwrap_or(documents::CONFIG_KIND_MARKER), document.text),
            document.version,
            path,
            is_config,
        );
        lock(&self.state.docs).insert(document.uri.clone(), doc);
        if is_config {
            self.publish_config_diagnostics(&document.uri).await;
            return;
        }
        // Opening starts lookups at once: only edits are debounced.
        self.schedule(document.uri, Start::Open);
    }

    pub(in crate::lsp) async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        // The keystroke's time, before its diagnostics are published: the debounce counts from here.
        let edited_at = self.state.clock.now();
        let uri = params.text_document.uri;
        let is_config = {
            let utf16 = self.state.utf16.load(Ordering::Relaxed);
            let mut docs = lock(&self.state.docs);
            let Some(doc) = docs.get_mut(&uri) else {
                return;
            };
            documents::apply_changes(doc, params.text_document.version, params.content_changes, utf16);
            // The running task stops at its next step: it must not look up names of the new text.
            doc.generation += 1;
            // A `-r`/`-c` line changed: the constraints are read again for the new includes (off this
            // thread, after the debounce); until then the old ones serve.
            if doc.source.kind == ManifestKind::Requirements
                && let Some(context) = doc.context.as_deref()
                && !same_includes(&doc.source.parsed().includes, &context.constraints_read_for)
            {
                doc.reload_context = true;
            }
            doc.is_config
        };
        if is_config {
            self.publish_config_diagnostics(&uri).await;
            return;
        }
        // The warm path right here, on the thread that read the edit: a keystroke's diagnostics wait for
        // no other thread (handing them to the analysis task cost a wake-up, often a busy CPU's wait).
        if let Some(evaluated) = self.state.evaluate(&uri) {
            self.publish(&uri, evaluated).await;
            // The diagnostics are queued for the output, which this same thread writes once this handler
            // yields; scheduling first woke a worker thread (spawn, abort), which preempted this one
            // before the write, and this thread then waited for a CPU (`perf sched`: up to 3.4 ms).
            tokio::task::yield_now().await;
        }
        self.schedule_edited_at(uri, Start::EditPublished, Some(edited_at));
    }

    /// Saving a file the context of manifests is read from (`project::context_files`) reloads the
    /// context of the manifests it may apply to, as a watched change does.
    pub(in crate::lsp) async fn did_save(&self, params: lsp::DidSaveTextDocumentParams) {
        if let Some(path) = params.text_document.uri.to_file_path() {
            self.context_files_changed(&[path.into_owned()]);
        }
    }

    /// Files changed on disk (a `git pull`, an install in a terminal): the manifests they may apply to
    /// read their context again and are analysed again.
    pub(in crate::lsp) async fn did_change_watched_files(&self, params: lsp::DidChangeWatchedFilesParams) {
        let paths: Vec<PathBuf> = params
            .changes
            .iter()
            .filter_map(|change| change.uri.to_file_path().map(|p| p.into_owned()))
            .collect();
        self.context_files_changed(&paths);
    }

    /// Marks the context of every open manifest at or below the folder of a changed context file for
    /// reloading (the old context serves until the new one is read) and schedules it again, debounced
    /// like an edit: a checkout changes many files at once, and the task each change starts replaces
    /// the previous one.
    pub(in crate::lsp) fn context_files_changed(&self, paths: &[PathBuf]) {
        let folders: Vec<PathBuf> = paths.iter().filter_map(|p| project::context_file_folder(p)).collect();
        // A requirements or constraints file a manifest's constraints were read from (pip `-c`).
        let files: Vec<PathBuf> = paths
            .iter()
            .filter(|p| ManifestKind::detect(p, true) == Some(ManifestKind::Requirements))
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect();
        if folders.is_empty() && files.is_empty() {
            return;
        }
        let affected: Vec<lsp::Uri> = {
            let mut docs = lock(&self.state.docs);
            docs.iter_mut()
                .filter(|(_, doc)| !doc.is_config)
                .filter(|(_, doc)| {
                    let dir = doc.path.as_deref().and_then(Path::parent);
                    let canonical = doc.context.as_deref().map(|c| c.manifest_dir.as_path());
                    let read = doc
                        .context
                        .as_deref()
                        .map_or(&[][..], |c| c.constraint_files.as_slice());
                    read.iter().any(|file| files.contains(file))
                        || folders.iter().any(|folder| {
                            dir.is_some_and(|dir| dir.starts_with(folder))
                                || canonical.is_some_and(|dir| dir.starts_with(folder))
                        })
                })
                .map(|(uri, doc)| {
                    doc.reload_context = true;
                    uri.clone()
                })
                .collect()
        };
        for uri in affected {
            self.schedule(uri, Start::Edit);
        }
    }

    /// Closing aborts the document's task (and with it its lookups) and releases the facts no other
    /// open document reads.
    pub(in crate::lsp) async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        let uri = params.text_document.uri;
        if let Some(task) = lock(&self.state.tasks).remove(&uri) {
            task.abort();
        }
        {
            let mut docs = lock(&self.state.docs);
            if let Some(closed) = docs.remove(&uri) {
                self.state.release_unused(&docs, &[closed.uses_key]);
            }
        }
        self.client.publish_diagnostics(uri, Vec::new(), None).await;
    }
}

/// Whether a document's includes are still the ones its constraints were read for.
fn same_includes(includes: &[crate::manifest::Include], read_for: &[(String, bool)]) -> bool {
    includes.len() == read_for.len()
        && includes
            .iter()
            .zip(read_for)
            .all(|(include, (path, constraint))| include.path == *path && include.constraint == *constraint)
}
