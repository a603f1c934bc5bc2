//! `textDocument/hover`: rendered by `report::lsp::hover` from the facts in memory.

use super::super::*;

impl Backend {
    pub(in crate::lsp) async fn hover(&self, params: lsp::HoverParams) -> RpcResult<Option<lsp::Hover>> {
        let position = params.text_document_position_params.position;
        let uri = params.text_document_position_params.text_document.uri;
        Ok(self.with_analysis(&uri, |text, parsed, analysis, utf16| {
            report::lsp::hover(text, parsed, analysis, position, utf16)
        }))
    }
}
