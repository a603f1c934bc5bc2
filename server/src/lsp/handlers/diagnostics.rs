//! Publishing: diagnostics for the version they were computed for, and the `gatehouse/status` notification.

use super::super::*;

impl Backend {
    pub(in crate::lsp) async fn publish(&self, uri: &lsp::Uri, evaluated: Evaluated) {
        let current = lock(&self.state.docs).get(uri).map(|d| d.version);
        if current != Some(evaluated.version) {
            return;
        }
        tracing::debug!(
            version = evaluated.version,
            diagnostics = evaluated.diagnostics.len(),
            "publishing"
        );
        self.client
            .publish_diagnostics(uri.clone(), evaluated.diagnostics, Some(evaluated.version))
            .await;
    }

    pub(in crate::lsp) async fn status(&self, state: &str, analysis: Option<&Analysis>, offline: bool) {
        let (pending, packages, problems) = match analysis {
            Some(a) => (a.pending(), a.deps.len(), a.findings.len()),
            None => (0, 0, 0),
        };
        let stale_reasons: Vec<&String> = analysis
            .iter()
            .flat_map(|a| a.deps.iter())
            .filter_map(|dep| dep.stale_reason.as_ref())
            .collect();
        self.client
            .send_notification::<StatusNotification>(StatusParams {
                state: state.to_string(),
                pending,
                packages,
                problems,
                offline,
                stale: stale_reasons.len(),
                stale_reason: stale_reasons.first().map(|why| why.to_string()),
                unchecked: analysis.map_or(0, |a| {
                    a.deps
                        .iter()
                        .filter(|d| d.checks.iter().iter().any(|(_, state)| state.is_incomplete()))
                        .count()
                }),
                unchecked_checks: analysis
                    .map(|a| crate::report::describe_unchecked(&crate::report::unchecked_by_check(a)))
                    .unwrap_or_default(),
            })
            .await;
    }
}
