//! The memory tier: moka entries with their own time-to-live (`ByTtl`).

use super::*;

/// One entry of the memory tier. `value: None` is a remembered "not found".
#[derive(Debug)]
pub(super) struct Cached<T> {
    pub(super) value: Option<T>,
    pub(super) fetched_at: Timestamp,
    pub(super) stale: bool,
    pub(super) ttl: Duration,
}

impl<T: Clone> Cached<T> {
    /// The entry as an answer about `package`: its value with its age, or "not found".
    pub(super) fn answer(&self, package: &PackageRef) -> Result<Fetched<T>, LookupError> {
        match &self.value {
            Some(value) => Ok(Fetched {
                value: value.clone(),
                fetched_at: self.fetched_at,
                stale: self.stale,
                caveat: None,
                note: None,
            }),
            None => Err(LookupError::NotFound(package.name.clone())),
        }
    }
}

pub(super) struct ByTtl;

impl<K, T> Expiry<K, Arc<Cached<T>>> for ByTtl {
    fn expire_after_create(&self, _key: &K, value: &Arc<Cached<T>>, _created_at: Instant) -> Option<Duration> {
        Some(value.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &K,
        value: &Arc<Cached<T>>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl)
    }
}
