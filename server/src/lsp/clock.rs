//! The server's clock: what time it is for evaluations and for when held facts are due, and waiting
//! until a time (the edit debounce, the next refresh). Injected so tests move time instead of waiting.
//!
//! Invariants:
//! - Every time the LSP reads or waits on goes through `State::clock`; `lookup` keeps its own (the cache's
//!   expiry is its business).
//! - `sleep_until` of a time already passed is ready at once.

use std::future::Future;
use std::pin::Pin;

use jiff::Timestamp;

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    /// Ready when `now()` has reached `at`.
    fn sleep_until(&self, at: Timestamp) -> Sleep;
}

/// The system clock; waits with tokio's timer.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        let wait = at.duration_since(Timestamp::now());
        let wait = std::time::Duration::try_from(wait).unwrap_or_default();
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when a test says so; sleepers wake when it passes their time.
#[cfg(test)]
pub struct TestClock {
    now: tokio::sync::watch::Sender<Timestamp>,
}

#[cfg(test)]
impl TestClock {
    pub fn new(start: Timestamp) -> TestClock {
        TestClock {
            now: tokio::sync::watch::Sender::new(start),
        }
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.now.send_modify(|now| {
            let by = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
            *now = now.checked_add(by).unwrap_or(Timestamp::MAX);
        });
    }
}

#[cfg(test)]
impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: Timestamp) -> Sleep {
        let mut changes = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; if it is gone, nobody will move time again.
            let _ = changes.wait_for(|now| *now >= at).await;
        })
    }
}
