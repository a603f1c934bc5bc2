//! `initialize` (capabilities, position encoding, workspace root, initialization options),
//! `initialized` and `shutdown` (aborts the document tasks, lets written-behind answers land).

use super::super::*;
use super::config::unwrap_section;

impl Backend {
    pub(in crate::lsp) async fn initialize(&self, params: lsp::InitializeParams) -> RpcResult<lsp::InitializeResult> {
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
        let watch_files = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        self.state.watch_files.store(watch_files, Ordering::Relaxed);
        // Every workspace folder bounds the documents inside it; `rootUri` when the client gives none.
        let mut roots: Vec<PathBuf> = params
            .workspace_folders
            .iter()
            .flatten()
            .filter_map(|folder| folder.uri.to_file_path().map(|p| p.into_owned()))
            .collect();
        #[allow(deprecated)]
        let root_uri = params.root_uri.as_ref();
        if roots.is_empty()
            && let Some(root) = root_uri.and_then(|u| u.to_file_path().map(|p| p.into_owned()))
        {
            roots.push(root);
        }
        *lock(&self.state.roots) = roots.clone();
        if let Some(options) = params.initialization_options {
            *lock(&self.state.client_settings) = unwrap_section(options);
        }
        tokio::spawn(prepare_lookups(self.state.clone(), roots));
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

    /// Registers watchers for the files around manifests that Gatehouse reads (`project::context_files`)
    /// when the client accepts them at run time, so a `git pull` or an install in a terminal reaches the
    /// open manifests; otherwise looks at those files itself (`poll`). Sent from a task of its own: the
    /// handler does not wait for the client's answer.
    pub(in crate::lsp) async fn initialized(&self, _params: lsp::InitializedParams) {
        tracing::info!("gatehouse language server ready");
        if !self.state.watch_files.load(Ordering::Relaxed) {
            // The client cannot watch files: the server looks at them itself.
            poll::start(self);
            return;
        }
        let watchers: Vec<lsp::FileSystemWatcher> = project::context_files()
            .into_iter()
            .map(|name| lsp::FileSystemWatcher {
                glob_pattern: lsp::GlobPattern::String(format!("**/{name}")),
                kind: None,
            })
            .collect();
        let options = lsp::DidChangeWatchedFilesRegistrationOptions { watchers };
        let registration = lsp::Registration {
            id: "gatehouse/watched-files".to_string(),
            method: "workspace/didChangeWatchedFiles".to_string(),
            register_options: serde_json::to_value(options).ok(),
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Err(error) = client.register_capability(vec![registration]).await {
                tracing::warn!("the editor refused the file watchers: {error}");
            }
        });
    }

    pub(in crate::lsp) async fn shutdown(&self) -> RpcResult<()> {
        for (_, task) in lock(&self.state.tasks).drain() {
            task.abort();
        }
        // Answers already given are still being written behind; let them land before the exit.
        let lookups: Vec<Arc<Lookup>> = lock(&self.state.lookups)
            .values()
            .filter_map(|cell| cell.get().cloned())
            .collect();
        let flush = futures::future::join_all(lookups.iter().map(|lookup| lookup.flush()));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), flush).await;
        Ok(())
    }
}

/// Sets up, in the background, the lookups of the manifests at the top of each workspace folder (the
/// ones an editor most likely opens first): their context is read as opening them reads it, and the
/// lookup for it (the store, the HTTP client) is built, so that a document opened while this runs waits
/// for the same build instead of starting its own, and one opened after finds it ready. Then, unless
/// lookups are offline, it connects to the default endpoints those manifests will ask
/// (`preconnect_urls`); nothing is fetched and no package name is sent. A folder's other manifests are
/// set up when opened.
async fn prepare_lookups(state: Arc<State>, roots: Vec<PathBuf>) {
    let layers = super::super::scheduler::settings_layer(&state);
    let env = state.env.clone();
    let contexts = tokio::task::spawn_blocking(move || {
        let mut contexts = Vec::new();
        for root in &roots {
            for name in ["Cargo.toml", "package.json", "pyproject.toml", "requirements.txt"] {
                let path = root.join(name);
                // A regular file only (no symlink is followed out of the folder here).
                if !std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_file()) {
                    continue;
                }
                let Some(kind) = ManifestKind::detect(&path, false) else {
                    continue;
                };
                let workspace = workspace_of(&roots, &path, &env);
                contexts.push((
                    kind,
                    project::context(&path, kind, None, &env, root, &layers, &workspace),
                ));
            }
        }
        contexts
    })
    .await
    .unwrap_or_default();
    let mut urls = std::collections::BTreeSet::new();
    for (kind, context) in &contexts {
        state.lookup_for(context).await;
        urls.extend(preconnect_urls(*kind, &context.config.lookup, &context.registries));
    }
    for url in urls {
        tokio::spawn(async move { crate::lookup::http::preconnect(&url).await });
    }
}

/// Where opening a manifest of `kind` will send its first requests, when that is a public default
/// endpoint: the ecosystem's registry (unless the project replaces it) and the OSV API. Connecting to
/// them ahead (`http::preconnect`) sends no package name. Nothing when lookups are offline; the
/// endpoints come from the lookup settings (defaults, the user's configuration, a trusted project),
/// never from a repository's registry files.
fn preconnect_urls(
    kind: ManifestKind,
    lookup: &crate::lookup::LookupSettings,
    registries: &crate::engine::RegistryRules,
) -> Vec<String> {
    if lookup.offline {
        return Vec::new();
    }
    let base = |url: &str| {
        url.strip_prefix("sparse+")
            .unwrap_or(url)
            .trim_end_matches('/')
            .to_string()
    };
    let registry = match kind.ecosystem() {
        crate::model::Ecosystem::CratesIo
            if registries.cargo_replacement.is_none() && registries.cargo_default_registry.is_none() =>
        {
            Some(format!("{}/config.json", base(&lookup.crates_index)))
        }
        crate::model::Ecosystem::Npm if registries.npm_default.is_none() => {
            Some(format!("{}/", base(&lookup.npm_registry)))
        }
        crate::model::Ecosystem::PyPI if registries.pypi_index.is_none() => {
            Some(format!("{}/simple/", base(&lookup.pypi_url)))
        }
        _ => None,
    };
    let Some(registry) = registry else {
        return Vec::new();
    };
    let mut urls = vec![registry];
    if !lookup.osv_url.is_empty() {
        urls.push(format!("{}/", base(&lookup.osv_url)));
    }
    urls.retain(|url| url.starts_with("https://"));
    urls
}

#[cfg(test)]
mod tests {
    use super::preconnect_urls;
    use crate::engine::RegistryRules;
    use crate::lookup::LookupSettings;
    use crate::manifest::ManifestKind;

    #[test]
    fn only_the_default_public_endpoints_of_the_manifests_ecosystem_are_connected_to_ahead() {
        let online = LookupSettings::default();
        let public = RegistryRules::default();
        assert_eq!(
            preconnect_urls(ManifestKind::CargoToml, &online, &public),
            ["https://index.crates.io/config.json", "https://api.osv.dev/"]
        );
        assert_eq!(
            preconnect_urls(ManifestKind::PackageJson, &online, &public),
            ["https://registry.npmjs.org/", "https://api.osv.dev/"]
        );
        assert_eq!(
            preconnect_urls(ManifestKind::Pyproject, &online, &public),
            ["https://pypi.org/simple/", "https://api.osv.dev/"]
        );
        // Offline: no network at all.
        let offline = LookupSettings {
            offline: true,
            ..LookupSettings::default()
        };
        assert!(preconnect_urls(ManifestKind::CargoToml, &offline, &public).is_empty());
        // A project whose registry files replace the default registry: nothing (its own registry files
        // never decide where Gatehouse connects, and its lookups do not go to the default).
        let replaced = RegistryRules {
            cargo_replacement: Some("sparse+https://mirror.example/index/".to_string()),
            ..RegistryRules::default()
        };
        assert!(preconnect_urls(ManifestKind::CargoToml, &online, &replaced).is_empty());
        let npm_mirror = RegistryRules {
            npm_default: Some("https://npm.example/".to_string()),
            ..RegistryRules::default()
        };
        assert!(preconnect_urls(ManifestKind::PackageJson, &online, &npm_mirror).is_empty());
        // Endpoints the lookup settings name (user configuration, a trusted project), https only.
        let configured = LookupSettings {
            crates_index: "sparse+https://crates.example/index/".to_string(),
            osv_url: "http://127.0.0.1:9/".to_string(),
            ..LookupSettings::default()
        };
        assert_eq!(
            preconnect_urls(ManifestKind::CargoToml, &configured, &public),
            ["https://crates.example/index/config.json"]
        );
    }
}
