//! `textDocument/codeAction`: the fixes carried in `Diagnostic.data` and the ignore actions that write
//! a suppression to the `gatehouse.toml` in effect.

use super::super::*;

impl Backend {
    pub(in crate::lsp) async fn code_action(
        &self,
        params: lsp::CodeActionParams,
    ) -> RpcResult<Option<lsp::CodeActionResponse>> {
        let uri = params.text_document.uri;
        let range = params.range;
        let target = self.ignore_target(&uri);
        let until = self
            .state
            .clock
            .now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .checked_add(jiff::Span::new().days(30))
            .ok();
        let actions = self.with_analysis(&uri, |text, parsed, analysis, utf16| {
            let mut actions = report::lsp::code_actions(&uri, text, parsed, analysis, range, utf16);
            if let (Some(target), Some(until)) = (&target, until) {
                actions.extend(report::lsp::ignore_actions(text, analysis, range, utf16, target, until));
            }
            Some(actions)
        });
        Ok(actions.filter(|a| !a.is_empty()))
    }

    /// The `gatehouse.toml` an ignore action writes to: the one in effect, else a new one beside the
    /// manifest. An open, edited copy wins over the file on disk.
    fn ignore_target(&self, uri: &lsp::Uri) -> Option<report::lsp::IgnoreTarget> {
        let docs = lock(&self.state.docs);
        let doc = docs.get(uri)?;
        let context = doc.context.as_ref();
        let path = match context.and_then(|c| c.config_path.clone()) {
            Some(path) => path,
            None => doc.path.as_ref()?.parent()?.join("gatehouse.toml"),
        };
        let config_uri = lsp::Uri::from_file_path(&path)?;
        let open_text = docs.get(&config_uri).map(|d| d.source.text().to_string());
        let text = open_text.or_else(|| context.and_then(|c| c.config_text.clone()));
        Some(report::lsp::IgnoreTarget { uri: config_uri, text })
    }
}
