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
mod write_behind;

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
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            offline: false,
            ttl: Ttls::default(),
            memory_capacity: 500_000,
        }
    }
}

impl CacheSettings {
    pub fn from_lookup(settings: &LookupSettings) -> CacheSettings {
        CacheSettings {
            offline: settings.offline,
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

/// `gatehouse cache clear`: removes cached documents (takedown memory is kept); returns how many.
pub fn cache_clear(dir: &Path) -> Result<u64, LookupError> {
    Store::open(dir)
        .clear()
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

fn package_key(package: &PackageRef, source: &RegistrySource) -> String {
    match source {
        RegistrySource::Public => format!("{}:{}", package.ecosystem.osv_name(), package.name),
        RegistrySource::Private { url } => format!("{}:{}@{}", package.ecosystem.osv_name(), package.name, url),
    }
}

fn advisory_key(package: &PackageRef) -> String {
    format!("{}:{}", package.ecosystem.osv_name(), package.name)
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
        Some(bytes) => Some(crate::lookup::cache::store::decode_value::<PackageFacts>(bytes)?),
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
                    let _ = tokio::task::spawn_blocking(move || batcher.drain()).await;
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
mod tests {
    use super::advisories::AdvisoryAnswer;
    use super::*;
    use crate::lookup::http::{HostCredentials, HttpClient, HttpSettings};
    use crate::lookup::registry::RegistryClients;
    use crate::model::Ecosystem;
    use crate::testing::{Fault, FixtureServer, registry_fixtures};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn settings_for(server_url: &str, dir: &Path) -> LookupSettings {
        LookupSettings {
            npm_registry: format!("{server_url}/npm"),
            crates_index: format!("sparse+{server_url}/crates/"),
            pypi_url: format!("{server_url}/pypi"),
            cache_dir: dir.to_path_buf(),
            ..LookupSettings::default()
        }
    }

    /// A cached registry whose answers are in the store when they are given: the tests stand for
    /// processes that run one after the other, as a CLI run that flushes before it exits does.
    struct Flushed(CachedRegistry<RegistryClients>);

    #[async_trait]
    impl Registry for Flushed {
        async fn package(
            &self,
            package: &PackageRef,
            source: &RegistrySource,
        ) -> Result<Fetched<PackageFacts>, LookupError> {
            let answer = self.0.package(package, source).await;
            self.0.flush().await;
            answer
        }
    }

    fn cached(server_url: &str, dir: &Path, cache: CacheSettings) -> Flushed {
        Flushed(cached_unflushed(server_url, dir, cache))
    }

    fn cached_unflushed(server_url: &str, dir: &Path, cache: CacheSettings) -> CachedRegistry<RegistryClients> {
        let http_settings = HttpSettings {
            retries: 0,
            attempt_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(3),
            ..HttpSettings::default()
        };
        let http = Arc::new(HttpClient::new(http_settings, HostCredentials::default()).unwrap());
        let settings = settings_for(server_url, dir);
        CachedRegistry::new(
            Arc::new(RegistryClients::new(&settings, http)),
            Arc::new(Store::open(dir)),
            cache,
        )
    }

    fn npm(name: &str) -> PackageRef {
        PackageRef::new(Ecosystem::Npm, name)
    }

    #[tokio::test]
    async fn concurrent_asks_make_one_request_and_a_second_process_makes_none() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        server.set_latency(Duration::from_millis(50));
        let dir = tempfile::tempdir().unwrap();
        let registry = cached(&server.url(), dir.path(), CacheSettings::default());
        let minimist = npm("minimist");
        let asks = (0..50).map(|_| registry.package(&minimist, &RegistrySource::Public));
        let answers = futures::future::join_all(asks).await;
        assert!(answers.iter().all(|a| a.as_ref().is_ok_and(|f| !f.stale)));
        assert_eq!(server.request_count(), 1);
        // A new instance on the same directory stands for a second editor process.
        let second = cached(&server.url(), dir.path(), CacheSettings::default());
        let facts = second.package(&npm("minimist"), &RegistrySource::Public).await.unwrap();
        assert!(facts.value.version("1.2.5").is_some());
        assert_eq!(server.request_count(), 1);
    }

    #[tokio::test]
    async fn expired_entries_revalidate_with_etag_and_304() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        server.set_etags(true);
        let dir = tempfile::tempdir().unwrap();
        let expire_at_once = CacheSettings {
            ttl: Ttls {
                versions: Duration::ZERO,
                ..Ttls::default()
            },
            ..CacheSettings::default()
        };
        let registry = cached(&server.url(), dir.path(), expire_at_once.clone());
        let first = registry
            .package(&npm("left-pad"), &RegistrySource::Public)
            .await
            .unwrap();
        let again = cached(&server.url(), dir.path(), expire_at_once);
        let second = again.package(&npm("left-pad"), &RegistrySource::Public).await.unwrap();
        assert_eq!(first.value, second.value);
        let requests = server.requests();
        assert_eq!(requests.len(), 2);
        assert!(requests[0].header("if-none-match").is_none());
        assert!(requests[1].header("if-none-match").is_some());
    }

    #[tokio::test]
    async fn max_age_from_the_server_sets_the_ttl() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        server.add_header("Cache-Control", "max-age=0");
        let dir = tempfile::tempdir().unwrap();
        let registry = cached(&server.url(), dir.path(), CacheSettings::default());
        registry
            .package(&npm("left-pad"), &RegistrySource::Public)
            .await
            .unwrap();
        let second = cached(&server.url(), dir.path(), CacheSettings::default());
        second.package(&npm("left-pad"), &RegistrySource::Public).await.unwrap();
        assert_eq!(server.request_count(), 2);
    }

    #[tokio::test]
    async fn offline_serves_stale_entries_and_never_invents_unknown_ones() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let expire_at_once = CacheSettings {
            ttl: Ttls {
                versions: Duration::ZERO,
                ..Ttls::default()
            },
            ..CacheSettings::default()
        };
        let fetched = cached(&server.url(), dir.path(), expire_at_once)
            .package(&npm("lodash"), &RegistrySource::Public)
            .await
            .unwrap();
        let offline = CacheSettings {
            offline: true,
            ..CacheSettings::default()
        };
        let registry = cached(&server.url(), dir.path(), offline);
        server.clear_requests();
        let stale = registry.package(&npm("lodash"), &RegistrySource::Public).await.unwrap();
        assert!(stale.stale);
        assert_eq!(stale.value.versions, fetched.value.versions);
        let unknown = registry.package(&npm("left-pad"), &RegistrySource::Public).await;
        assert!(matches!(unknown, Err(LookupError::Offline(_))), "{unknown:?}");
        assert_eq!(server.request_count(), 0);
    }

    #[tokio::test]
    async fn a_dead_network_serves_stale_and_errors_are_not_cached() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let no_ttl = CacheSettings {
            ttl: Ttls {
                versions: Duration::ZERO,
                stale_retry: Duration::ZERO,
                ..Ttls::default()
            },
            ..CacheSettings::default()
        };
        let registry = cached(&server.url(), dir.path(), no_ttl);
        let fresh = registry
            .package(&npm("minimist"), &RegistrySource::Public)
            .await
            .unwrap();
        server.inject(
            "/npm/",
            Fault::Status {
                status: 500,
                retry_after: None,
            },
            None,
        );
        let stale = registry
            .package(&npm("minimist"), &RegistrySource::Public)
            .await
            .unwrap();
        assert!(stale.stale);
        assert_eq!(stale.fetched_at, fresh.fetched_at);
        let failed = registry.package(&npm("left-pad"), &RegistrySource::Public).await;
        assert!(
            matches!(failed, Err(LookupError::Status { status: 500, .. })),
            "{failed:?}"
        );
        server.clear_faults();
        let recovered = registry
            .package(&npm("left-pad"), &RegistrySource::Public)
            .await
            .unwrap();
        assert!(!recovered.stale);
    }

    #[tokio::test]
    async fn not_found_is_cached_briefly() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let registry = cached(&server.url(), dir.path(), CacheSettings::default());
        for _ in 0..3 {
            let answer = registry.package(&npm("no-such-package"), &RegistrySource::Public).await;
            assert!(matches!(answer, Err(LookupError::NotFound(_))));
        }
        assert_eq!(server.request_count(), 1);
    }

    #[tokio::test]
    async fn takedown_memory_reports_versions_that_disappear_or_change() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let no_ttl = CacheSettings {
            ttl: Ttls {
                versions: Duration::ZERO,
                not_found: Duration::ZERO,
                ..Ttls::default()
            },
            ..CacheSettings::default()
        };
        let registry = cached(&server.url(), dir.path(), no_ttl);
        let before = registry
            .package(&npm("minimist"), &RegistrySource::Public)
            .await
            .unwrap();
        assert!(before.value.vanished.is_empty());
        // The same real document with 1.2.5 removed and 1.2.0's integrity replaced.
        let original = std::fs::read(registry_fixtures().join("npm/minimist")).unwrap();
        let mut doc: serde_json::Value = serde_json::from_slice(&original).unwrap();
        doc["versions"].as_object_mut().unwrap().remove("1.2.5");
        doc["versions"]["1.2.0"]["dist"]["integrity"] = "sha512-replaced".into();
        server.set_body("/npm/minimist", serde_json::to_vec(&doc).unwrap());
        let after = registry
            .package(&npm("minimist"), &RegistrySource::Public)
            .await
            .unwrap();
        let vanished: Vec<_> = after
            .value
            .vanished
            .iter()
            .map(|v| (v.version.as_str(), v.changed_digest.is_some()))
            .collect();
        assert_eq!(vanished, [("1.2.5", false), ("1.2.0", true)]);
        let old = before.value.version("1.2.0").unwrap().digests[0].clone();
        assert_eq!(after.value.vanished[1].changed_digest.as_deref(), Some(old.as_str()));
        // The whole package gone: every version it had is reported.
        server.set_body("/npm/minimist", Vec::new());
        let dir_listing = registry_fixtures().join("npm/nonexistent");
        assert!(!dir_listing.exists());
        let gone_server = FixtureServer::start(dir.path()).unwrap();
        let gone = cached(&gone_server.url(), dir.path(), CacheSettings::default());
        let taken_down = gone.package(&npm("minimist"), &RegistrySource::Public).await.unwrap();
        assert!(taken_down.value.versions.is_empty());
        assert_eq!(taken_down.value.vanished.len(), before.value.versions.len());
    }

    struct Counting(AtomicUsize, crate::lookup::memory::MemoryAdvisories);

    #[async_trait]
    impl Advisories for Counting {
        async fn advisories(&self, packages: &[PackageRef]) -> Vec<(PackageRef, AdvisoryAnswer)> {
            self.0.fetch_add(packages.len(), Ordering::SeqCst);
            self.1.advisories(packages).await
        }
    }

    #[tokio::test]
    async fn advisories_are_cached_per_package_and_served_stale_offline() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()));
        let advisory = Advisory {
            id: "GHSA-test".into(),
            affected: vec![crate::model::Affected {
                package: Some(npm("minimist")),
                ..Default::default()
            }],
            ..Advisory::default()
        };
        let inner = Arc::new(Counting(
            AtomicUsize::new(0),
            crate::lookup::memory::MemoryAdvisories(vec![advisory]),
        ));
        let cache = CachedAdvisories::new(inner.clone(), store.clone(), CacheSettings::default());
        let asked = [npm("minimist"), npm("lodash"), npm("minimist")];
        let first = cache.advisories(&asked).await;
        cache.flush().await;
        assert_eq!(first.len(), 3);
        assert_eq!(first[0].1.as_ref().unwrap().value.len(), 1);
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
        let second = CachedAdvisories::new(inner.clone(), store.clone(), CacheSettings::default());
        second.advisories(&asked).await;
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
        let dyn_inner: Arc<dyn Advisories> = Arc::new(crate::lookup::advisories::NoAdvisories("offline".into()));
        let offline = CachedAdvisories::new(
            dyn_inner,
            store,
            CacheSettings {
                offline: true,
                ..CacheSettings::default()
            },
        );
        let answers = offline.advisories(&[npm("minimist"), npm("react")]).await;
        assert_eq!(answers[0].1.as_ref().unwrap().value.len(), 1);
        assert!(matches!(answers[1].1, Err(LookupError::Offline(_))));
    }

    struct CountingAttestations(AtomicUsize);

    #[async_trait]
    impl Attestations for CountingAttestations {
        async fn provenance(
            &self,
            _package: &PackageRef,
            _version: &str,
            _source: &RegistrySource,
            _facts: &PackageFacts,
        ) -> Result<Fetched<Provenance>, LookupError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Fetched::fresh(Provenance::Verified(Default::default())))
        }
    }

    #[tokio::test]
    async fn verified_provenance_is_kept_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()));
        let inner = Arc::new(CountingAttestations(AtomicUsize::new(0)));
        let mut facts = PackageFacts {
            versions: vec![crate::model::VersionFacts {
                version: "1.0.0".into(),
                digests: vec!["sha512-one".into()],
                ..Default::default()
            }],
            ..PackageFacts::default()
        };
        let public = RegistrySource::Public;
        let first = CachedAttestations::new(inner.clone(), store.clone(), CacheSettings::default());
        first.provenance(&npm("x"), "1.0.0", &public, &facts).await.unwrap();
        first.provenance(&npm("x"), "1.0.0", &public, &facts).await.unwrap();
        first.flush().await;
        let second = CachedAttestations::new(inner.clone(), store.clone(), CacheSettings::default());
        let again = second.provenance(&npm("x"), "1.0.0", &public, &facts).await.unwrap();
        assert!(matches!(again.value, Provenance::Verified(_)));
        assert_eq!(inner.0.load(Ordering::SeqCst), 1);
        // A new artifact digest for the same version is verified again.
        facts.versions[0].digests = vec!["sha512-two".into()];
        second.provenance(&npm("x"), "1.0.0", &public, &facts).await.unwrap();
        assert_eq!(inner.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_undecodable_row_is_dropped_and_refetched() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path());
        let entry = StoredEntry {
            value: Some(b"{\"versions\": 17}".to_vec()),
            fetched_at: Timestamp::now(),
            expires_at: plus(Timestamp::now(), Duration::from_secs(3600)),
            validators: Validators::default(),
        };
        store.put(PACKAGE_KIND, "npm:minimist", &entry).unwrap();
        drop(store);
        let registry = cached(&server.url(), dir.path(), CacheSettings::default());
        let facts = registry
            .package(&npm("minimist"), &RegistrySource::Public)
            .await
            .unwrap();
        assert!(!facts.value.versions.is_empty());
        assert_eq!(server.request_count(), 1);
        let row = Store::open(dir.path())
            .get(PACKAGE_KIND, "npm:minimist")
            .unwrap()
            .unwrap();
        assert!(crate::lookup::cache::store::decode_value::<PackageFacts>(&row.value.unwrap()).is_ok());
    }
}
