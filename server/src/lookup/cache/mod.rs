//! The cached lookup layer: moka in memory → the SQLite store → the network.
//!
//! Invariants:
//! - Concurrent asks for one key make one request (moka `try_get_with` coalesces them).
//! - Each kind of data has its own time-to-live (`Ttls`); a server's `Cache-Control: max-age` wins.
//!   An expired entry is revalidated with its `ETag`/`Last-Modified`; a `304` refreshes it without a body.
//! - Transport errors are never cached. "Not found" is cached briefly (`Ttls::not_found`).
//! - Offline (`CacheSettings::offline`, or the network failing) serves the stored entry, however old, as
//!   `Fetched { stale: true, fetched_at }`; a key never seen is an error (`Offline`), never an empty answer.
//! - Every registry document fetched is recorded in the store's takedown memory, and versions (or
//!   digests) seen before and now missing come back in `PackageFacts::vanished`.
//! - A stored row that fails to decode is deleted and treated as a miss.
//! - Never: deciding what is fetched (callers ask), or speaking a wire format (the clients do).
//!
//! Files: this one holds the TTLs, settings, keys and the `Batcher` that coalesces store work;
//! `memory` the moka entry and its expiry; `store` the SQLite file (the only SQL); `write_behind`
//! `Background` and the write batch; `takedown` what vanished since a registry last listed it;
//! `registry`, `advisories` and `provenance` the three cached sources.

mod advisories;
mod memory;
mod provenance;
mod registry;
pub mod store;
pub mod takedown;
pub mod write_behind;

pub use advisories::CachedAdvisories;
pub use provenance::CachedAttestations;
pub use registry::CachedRegistry;
pub use write_behind::Background;

use memory::{ByTtl, Cached};
use takedown::seen_many;
use write_behind::{WRITE_GATHER, write_many};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::Timestamp;
use moka::Expiry;
use moka::future::Cache;

use crate::lookup::cache::store::{Store, StoreStats, StoredEntry};
use crate::lookup::{
    Advisories, Attestations, Fetched, LookupError, LookupSettings, Registry, Revalidated, Validators,
};
use crate::model::{Advisory, PackageFacts, PackageRef, Provenance, RegistrySource};

const PACKAGE_KIND: &str = "registry";
const ADVISORY_KIND: &str = "advisories";
const PROVENANCE_KIND: &str = "provenance";

/// Time-to-live per kind of data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ttls {
    pub versions: Duration,
    pub advisories: Duration,
    pub not_found: Duration,
    /// Verified provenance is keyed by the artifact digest and kept this long (practically forever);
    /// `Absent` and `Invalid` answers for a digest are kept `versions` long; `Unknown` is not cached.
    pub verified_provenance: Duration,
    /// How long an answer served stale (network down) is kept in memory before the network is tried again.
    pub stale_retry: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Ttls {
            versions: Duration::from_secs(10 * 60),
            advisories: Duration::from_secs(60 * 60),
            not_found: Duration::from_secs(5 * 60),
            verified_provenance: Duration::from_secs(100 * 365 * 24 * 60 * 60),
            stale_retry: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    pub offline: bool,
    pub ttl: Ttls,
    /// Bound of the in-memory tier, in versions (registry) or advisories held.
    pub memory_capacity: u64,
    /// Appended to every key: empty for the public endpoints, else names the endpoints that answered,
    /// so answers from one configuration (a project's mirror, a test stand-in) never serve another
    /// from the shared store.
    pub namespace: String,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            offline: false,
            ttl: Ttls::default(),
            memory_capacity: 500_000,
            namespace: String::new(),
        }
    }
}

impl CacheSettings {
    pub fn from_lookup(settings: &LookupSettings) -> CacheSettings {
        CacheSettings {
            offline: settings.offline,
            namespace: endpoint_namespace(settings),
            ..CacheSettings::default()
        }
    }
}

/// Where the store lives when `lookup.cache-dir` is empty: `$XDG_CACHE_HOME/gatehouse`, else
/// `~/.cache/gatehouse`, else a folder in the temp dir. `env` is the process environment as the
/// composition root captured it (so tests pass their own).
pub fn default_cache_dir(env: &[(String, String)]) -> PathBuf {
    let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    if let Some(xdg) = get("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(xdg).join("gatehouse");
    }
    if let Some(home) = get("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".cache").join("gatehouse");
    }
    std::env::temp_dir().join("gatehouse-cache")
}

/// The store file for these settings (`gatehouse cache path`).
pub fn cache_path(settings: &LookupSettings) -> PathBuf {
    settings.cache_dir.join(crate::lookup::cache::store::STORE_FILE)
}

/// `gatehouse cache stats`.
pub fn cache_stats(dir: &Path) -> Result<StoreStats, LookupError> {
    Store::open(dir)
        .stats(Timestamp::now())
        .map_err(|err| LookupError::Other(err.to_string()))
}

/// `gatehouse cache clear` and the editor's "Clear cache": removes the cached documents inside the
/// Gatehouse store in `dir` (takedown memory is kept); returns how many. Deletes rows, never a file or
/// a folder, and refuses a folder that holds no Gatehouse store (nothing is created there either).
pub fn cache_clear(dir: &Path) -> Result<u64, LookupError> {
    Store::open_existing(dir)
        .and_then(|store| store.clear())
        .map_err(|err| LookupError::Other(err.to_string()))
}

/// Now, at the store's precision (milliseconds), so a stored time reads back equal.
fn now_ms() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now)
}

fn remaining(expires_at: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(expires_at.duration_since(now)).unwrap_or(Duration::ZERO)
}

fn plus(now: Timestamp, ttl: Duration) -> Timestamp {
    let ttl = jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX);
    now.checked_add(ttl).unwrap_or(Timestamp::MAX)
}

async fn blocking<T: Send + 'static>(store: &Arc<Store>, f: impl FnOnce(&Store) -> T + Send + 'static) -> Option<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store)).await.ok()
}

/// The public endpoints a store key is valid for: empty for the real public services (keys as they
/// always were), else every endpoint, so a store shared by every project on the machine never answers
/// for one endpoint with what another said.
fn endpoint_namespace(settings: &LookupSettings) -> String {
    const PUBLIC: [&str; 4] = [
        "https://registry.npmjs.org",
        "https://index.crates.io",
        "https://pypi.org",
        "https://api.osv.dev",
    ];
    let endpoints = [
        &settings.npm_registry,
        &settings.crates_index,
        &settings.pypi_url,
        &settings.osv_url,
    ];
    let normalized: Vec<String> = endpoints
        .iter()
        .map(|url| {
            url.strip_prefix("sparse+")
                .unwrap_or(url)
                .trim_end_matches('/')
                .to_string()
        })
        .collect();
    if normalized
        .iter()
        .zip(PUBLIC)
        .all(|(url, public)| url.is_empty() || url == public)
    {
        return String::new();
    }
    format!("#{}", normalized.join("|"))
}

fn package_key(package: &PackageRef, source: &RegistrySource, namespace: &str) -> String {
    match source {
        RegistrySource::Public => format!("{}:{}{namespace}", package.ecosystem.osv_name(), package.name),
        RegistrySource::Private { url } => format!("{}:{}@{}", package.ecosystem.osv_name(), package.name, url),
    }
}

fn advisory_key(package: &PackageRef, namespace: &str) -> String {
    format!("{}:{}{namespace}", package.ecosystem.osv_name(), package.name)
}

/// Decodes a stored row, deleting it when it does not decode.
fn decode<T: serde::de::DeserializeOwned>(
    store: &Store,
    kind: &str,
    key: &str,
    entry: StoredEntry,
) -> Option<(StoredEntry, Option<T>)> {
    match &entry.value {
        None => Some((entry, None)),
        Some(bytes) => match crate::lookup::cache::store::decode_value::<T>(bytes) {
            Ok(value) => Some((entry, Some(value))),
            Err(err) => {
                tracing::debug!("dropping undecodable cache row {kind}/{key}: {err}");
                let _ = store.delete(kind, key);
                None
            }
        },
    }
}

type PackageKey = (PackageRef, RegistrySource);

/// Gathers the store work of concurrent lookups into one blocking task and one transaction: a new
/// process's warm path reads hundreds of keys at once, a cold batch writes hundreds of documents.
struct Batcher<Req, Resp> {
    store: Arc<Store>,
    kind: &'static str,
    process: fn(&Store, &'static str, Vec<Req>) -> Vec<Option<Resp>>,
    pending: std::sync::Mutex<Vec<(Req, tokio::sync::oneshot::Sender<Option<Resp>>)>>,
    running: std::sync::atomic::AtomicBool,
}

/// A stored registry entry, its value decoded (`None`: a remembered "not found").
type StoredPackage = (StoredEntry, Option<PackageFacts>);
type ReadBatcher = Batcher<String, StoredPackage>;
type SeenBatcher = Batcher<String, Vec<crate::lookup::cache::takedown::SeenRow>>;
type WriteBatcher = Batcher<crate::lookup::cache::store::PendingWrite, Vec<crate::model::Vanished>>;

/// Reads and decodes in the same blocking task: a new process's warm path is hundreds of these at once,
/// and one hop to the blocking pool per batch beats one per entry. A row that does not decode is deleted
/// and is a miss.
fn read_many(store: &Store, kind: &'static str, keys: Vec<String>) -> Vec<Option<StoredPackage>> {
    let rows = store.get_many(kind, &keys).unwrap_or_default();
    // Decoding is most of the warm path's work: a big batch is split over the cores.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    let chunk = rows.len().div_ceil(threads).max(32);
    let decoded: Vec<Vec<Result<Option<StoredPackage>, String>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = rows
            .chunks(chunk)
            .map(|rows| scope.spawn(move || rows.iter().map(decode_row).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or_default())
            .collect()
    });
    decoded
        .into_iter()
        .flatten()
        .zip(&keys)
        .map(|(decoded, key)| match decoded {
            Ok(found) => found,
            Err(err) => {
                tracing::debug!("dropping undecodable cache row {kind}/{key}: {err}");
                let _ = store.delete(kind, key);
                None
            }
        })
        .collect()
}

fn decode_row(row: &Option<StoredEntry>) -> Result<Option<StoredPackage>, String> {
    let Some(entry) = row else { return Ok(None) };
    let value = match &entry.value {
        None => None,
        Some(bytes) => {
            let mut value = crate::lookup::cache::store::decode_value::<PackageFacts>(bytes)?;
            value.share_strings();
            value.pack_digests();
            Some(value)
        }
    };
    let entry = StoredEntry {
        value: None,
        fetched_at: entry.fetched_at,
        expires_at: entry.expires_at,
        validators: entry.validators.clone(),
    };
    Ok(Some((entry, value)))
}

impl<Req: Send + 'static, Resp: Send + 'static> Batcher<Req, Resp> {
    fn new(
        store: Arc<Store>,
        kind: &'static str,
        process: fn(&Store, &'static str, Vec<Req>) -> Vec<Option<Resp>>,
    ) -> Arc<Batcher<Req, Resp>> {
        Arc::new(Batcher {
            store,
            kind,
            process,
            pending: std::sync::Mutex::new(Vec::new()),
            running: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<(Req, tokio::sync::oneshot::Sender<Option<Resp>>)>> {
        match self.pending.lock() {
            Ok(pending) => pending,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    async fn call(self: &Arc<Self>, request: Req) -> Option<Resp> {
        self.call_after(request, Duration::ZERO).await
    }

    /// Like `call`, but a batch this request opens waits `gather` first, so that a burst (a cold start's
    /// hundreds of writes) becomes one transaction that runs after the burst, not during it.
    async fn call_after(self: &Arc<Self>, request: Req, gather: Duration) -> Option<Resp> {
        use std::sync::atomic::Ordering;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.pending().push((request, sender));
        if !self.running.swap(true, Ordering::AcqRel) {
            let batcher = self.clone();
            if gather.is_zero() {
                tokio::task::spawn_blocking(move || batcher.drain());
            } else {
                tokio::spawn(async move {
                    // Wait until the burst is over (no new request for `gather`), at most 20 × `gather`.
                    let mut queued = 0;
                    for _ in 0..20 {
                        tokio::time::sleep(gather).await;
                        let now_queued = batcher.pending().len();
                        if now_queued == queued {
                            break;
                        }
                        queued = now_queued;
                    }
                    // On the low-priority writer thread: a burst's transaction (hundreds of documents
                    // written just after an open) must not take the CPU from the next keystrokes.
                    write_behind::in_background(move || batcher.drain()).await;
                });
            }
        }
        receiver.await.ok().flatten()
    }

    fn drain(&self) {
        use std::sync::atomic::Ordering;
        loop {
            let batch = std::mem::take(&mut *self.pending());
            if batch.is_empty() {
                self.running.store(false, Ordering::Release);
                // A request queued between `take` and the store above would wait forever: re-check.
                let queued = !self.pending().is_empty();
                if queued && !self.running.swap(true, Ordering::AcqRel) {
                    continue;
                }
                return;
            }
            let (requests, waiters): (Vec<Req>, Vec<_>) = batch.into_iter().unzip();
            let mut answers = (self.process)(&self.store, self.kind, requests).into_iter();
            for waiter in waiters {
                let _ = waiter.send(answers.next().flatten());
            }
        }
    }
}

#[cfg(test)]
mod tests;
