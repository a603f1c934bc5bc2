//! Settings: `workspace/didChangeConfiguration`, and diagnostics on an open `gatehouse.toml`.

use super::super::*;

impl Backend {
    pub(in crate::lsp) async fn publish_config_diagnostics(&self, uri: &lsp::Uri) {
        let diagnostics = {
            let docs = lock(&self.state.docs);
            let Some(doc) = docs.get(uri) else {
                return;
            };
            if !doc.is_config {
                return;
            }
            // Machine-trust keys are ignored (with a diagnostic at each) unless the user trusts this project.
            let path = doc.path.clone().unwrap_or_else(|| PathBuf::from("gatehouse.toml"));
            let root = lock(&self.state.root).clone();
            let workspace = workspace_of(root.as_deref(), &path, &self.state.env);
            let cwd = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let trusted = project::project_trusted(
                &self.state.env,
                &cwd,
                &super::super::scheduler::settings_layer(&self.state),
                &workspace,
            );
            Some((
                documents::config_diagnostics(doc, self.state.utf16.load(Ordering::Relaxed), trusted, &workspace),
                doc.version,
            ))
        };
        if let Some((diagnostics, version)) = diagnostics {
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
