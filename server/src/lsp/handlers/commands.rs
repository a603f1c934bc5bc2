//! `workspace/executeCommand`: `gatehouse.recheck` and `gatehouse.clearCache`.

use super::super::*;

impl Backend {
    pub(in crate::lsp) async fn execute_command(&self, params: lsp::ExecuteCommandParams) -> RpcResult<Option<Value>> {
        match params.command.as_str() {
            "gatehouse.recheck" => {
                self.refetch_all();
                self.reschedule_all(true);
            }
            "gatehouse.clearCache" => {
                self.refetch_all();
                lock(&self.state.lookups).clear();
                let mut dirs: Vec<PathBuf> = lock(&self.state.docs)
                    .values()
                    .filter_map(|d| d.context.as_ref().map(|c| c.config.lookup.cache_dir.clone()))
                    .collect();
                dirs.sort();
                dirs.dedup();
                // The same as `gatehouse cache clear`: rows of Gatehouse's own store, nothing else.
                let cleared = tokio::task::spawn_blocking(move || {
                    dirs.into_iter()
                        .map(|dir| {
                            let result = crate::lookup::cache::cache_clear(&dir);
                            (dir, result)
                        })
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                for (dir, result) in cleared {
                    let (kind, message) = match result {
                        Ok(removed) => (
                            lsp::MessageType::INFO,
                            format!("cleared {removed} entries from {}", dir.display()),
                        ),
                        Err(error) => (
                            lsp::MessageType::WARNING,
                            format!("could not clear {}: {error}", dir.display()),
                        ),
                    };
                    self.client.show_message(kind, message).await;
                }
                self.reschedule_all(true);
            }
            other => tracing::warn!("unknown command {other}"),
        }
        Ok(None)
    }
}
