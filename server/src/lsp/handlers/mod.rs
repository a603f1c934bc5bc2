//! The LSP handlers, grouped by role: `lifecycle` (initialize, shutdown), `sync` (document changes),
//! `config` (settings, `gatehouse.toml` diagnostics), `diagnostics` (publishing, status), `hover`,
//! `code_action`, `commands` and `stats`.
//!
//! Invariants:
//! - A handler never awaits the network: it reads the document store and the facts in memory, or hands
//!   the document to the scheduler and returns.
//! - Requests answer from the current text and facts with the pure core (`engine`, `report::lsp`); no
//!   check logic, HTTP or parsing beyond `manifest` lives here.
//! - Rendering an answer never takes the server down: a panic becomes one `error!` per session and an
//!   empty answer.

mod code_action;
mod commands;
mod config;
mod diagnostics;
mod hover;
mod lifecycle;
mod stats;
mod sync;

use super::*;

impl Backend {
    fn with_analysis<T>(
        &self,
        uri: &lsp::Uri,
        render: impl FnOnce(&str, &crate::manifest::Parsed, &Analysis, bool) -> Option<T>,
    ) -> Option<T> {
        let outcome = self.state.with_evaluated(uri, |doc, parsed, analysis, utf16| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                render(doc.source.text(), parsed, &analysis, utf16)
            }))
        })?;
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
