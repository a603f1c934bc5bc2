//! `gatehouse/stats`: what the server holds, for benches and bug reports (tasks alive, documents open,
//! facts held). Reads counters only; never awaits anything but the answer.

use super::super::*;

#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Analysis tasks alive: at most one per open document.
    pub analysis_tasks: usize,
    pub open_documents: usize,
    /// Packages the server holds facts for, over every lookup configuration.
    pub held_packages: usize,
    pub held_facts: usize,
}

impl Backend {
    pub(in crate::lsp) async fn stats(&self) -> RpcResult<Stats> {
        let open_documents = lock(&self.state.docs).len();
        let (held_packages, held_facts) = lock(&self.state.facts)
            .values()
            .map(held::Held::counts)
            .fold((0, 0), |(p, f), (dp, df)| (p + dp, f + df));
        Ok(Stats {
            analysis_tasks: *self.state.live_tasks.borrow(),
            open_documents,
            held_packages,
            held_facts,
        })
    }
}
