//! Write-behind: fetched documents are stored after the answer is given, gathered into one
//! transaction per burst, and `Background::flush` waits for them (a CLI run flushes before it exits).
//!
//! Invariants:
//! - A write never delays an answer; a failed write is logged and the answer stands.
//! - Every write is owned by `Background` (no detached task that outlives a flush).

use super::*;

/// Fetched documents are written once no new one arrived for this long (write-behind: a cold start's
/// hundreds of answers become one transaction, run after the burst rather than during it).
pub(super) const WRITE_GATHER: Duration = Duration::from_millis(30);

pub(super) fn write_many(
    store: &Store,
    _kind: &'static str,
    writes: Vec<crate::lookup::cache::store::PendingWrite>,
) -> Vec<Option<Vec<crate::model::Vanished>>> {
    match store.observe_and_put_many(writes) {
        Ok(vanished) => vanished.into_iter().map(Some).collect(),
        Err(err) => {
            tracing::debug!("cache write failed: {err}");
            Vec::new()
        }
    }
}

/// Store writes that run after the answer is given (write-behind), and a way to wait for them: a CLI
/// run calls `flush` before it exits; an editor's server just lets them finish.
#[derive(Default)]
pub struct Background {
    outstanding: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
}

impl Background {
    pub fn spawn(self: &Arc<Self>, work: impl std::future::Future<Output = ()> + Send + 'static) {
        use std::sync::atomic::Ordering;
        self.outstanding.fetch_add(1, Ordering::AcqRel);
        let this = self.clone();
        tokio::spawn(async move {
            work.await;
            if this.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
                this.done.notify_waiters();
            }
        });
    }

    /// Waits until every write spawned so far has finished.
    pub async fn flush(&self) {
        use std::sync::atomic::Ordering;
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.outstanding.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}
