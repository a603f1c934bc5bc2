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
