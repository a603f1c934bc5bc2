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
    let old = before
        .value
        .version("1.2.0")
        .unwrap()
        .digests
        .first()
        .unwrap()
        .to_string();
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
            digests: vec!["sha512-one"].into(),
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
    facts.versions[0].digests = vec!["sha512-two"].into();
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
