//! Settings: `workspace/didChangeConfiguration`, and diagnostics on an open `gatehouse.toml`.

use super::super::*;

impl Backend {
    /// Reading the user's configuration (whether this project is trusted) and canonicalising paths is
    /// disk work: it runs on the blocking pool on a copy of the document, with no lock held.
    pub(in crate::lsp) async fn publish_config_diagnostics(&self, uri: &lsp::Uri) {
        let copy = {
            let docs = lock(&self.state.docs);
            let Some(doc) = docs.get(uri) else {
                return;
            };
            if !doc.is_config {
                return;
            }
            documents::Doc::new(
                SourceFile::new(documents::CONFIG_KIND_MARKER, doc.source.text().to_string()),
                doc.version,
                doc.path.clone(),
                true,
            )
        };
        let roots = lock(&self.state.roots).clone();
        let env = self.state.env.clone();
        let layers = super::super::scheduler::settings_layer(&self.state);
        let utf16 = self.state.utf16.load(Ordering::Relaxed);
        let version = copy.version;
        let diagnostics = tokio::task::spawn_blocking(move || {
            // Machine-trust keys are ignored (with a diagnostic at each) unless the user trusts this project.
            let path = copy.path.clone().unwrap_or_else(|| PathBuf::from("gatehouse.toml"));
            let workspace = workspace_of(&roots, &path, &env);
            let cwd = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let trusted = project::project_trusted(&env, &cwd, &layers, &workspace);
            documents::config_diagnostics(&copy, utf16, trusted, &workspace)
        })
        .await;
        let Ok(diagnostics) = diagnostics else {
            tracing::error!("checking gatehouse.toml panicked");
            return;
        };
        // Published only if the text it was computed for is still current.
        if lock(&self.state.docs).get(uri).map(|d| d.version) == Some(version) {
            self.client
                .publish_diagnostics(uri.clone(), diagnostics, Some(version))
                .await;
        }
    }

    pub(in crate::lsp) async fn did_change_configuration(&self, params: lsp::DidChangeConfigurationParams) {
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
}

/// Accepts `{ "gatehouse": {...} }` or the settings object itself.
pub(super) fn unwrap_section(value: Value) -> Value {
    match value {
        Value::Object(mut map) if map.contains_key("gatehouse") => map.remove("gatehouse").unwrap_or(Value::Null),
        other => other,
    }
}
