//! Provenance verification cost: one npm attestations answer (SLSA provenance bundle + npm publish
//! attestation) verified cold against the real trusted root, the same answer served by the one
//! provenance cache production uses (`CachedAttestations`: memory tier, then the SQLite store), one
//! registry signature, and preparing the trusted root.
//!
//! Run: `cargo bench --bench provenance -- --warm-up-time 1 --measurement-time 4`.
//!
//! Measured 2026-12-02 on the shared 2-core build machine (under load from other builds), aws-lc-rs:
//! sigstore@1.0.0 answer (SLSA v0.2 bundle + npm publish attestation) cold 2.19 ms; sigstore@5.0.0
//! v0.3 bundle (inclusion proof + checkpoint) cold 1.87 ms; one registry signature 205 µs; preparing
//! the bundled trusted root 74 µs; a cached answer 2.0 µs (that figure was the attestation client's own
//! memory cache, removed in issue 17; the two cached figures now measure `CachedAttestations` and have
//! not been re-measured yet).

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse::lookup::cache::store::Store;
use gatehouse::lookup::cache::{CacheSettings, CachedAttestations};
use gatehouse::lookup::provenance::{NpmKeys, TrustRoot, verify_npm_attestations, verify_registry_signatures};
use gatehouse::lookup::{Attestations, Fetched, LookupError};
use gatehouse::model::{Ecosystem, PackageFacts, PackageRef, Provenance, RegistrySource, VersionFacts};
use gatehouse::testing::sigstore::{
    ATTESTATIONS, BUNDLE_V03, OLD_NPM_KEY as OLD_KEY, SIGSTORE_100_INTEGRITY as INTEGRITY_100,
    SIGSTORE_500_INTEGRITY as INTEGRITY_500,
};

const SIG_100: &str =
    "MEQCIBlpcHT68iWOpx8pJr3WUzD1EqQ7tb0CmY36ebbceR6IAiAVGRaxrFoyh0/5B7H1o4VFhfsHw9F8G+AxOZQq87q+lg==";

fn bench(c: &mut Criterion) {
    let root = TrustRoot::bundled().unwrap();
    let keys = NpmKeys::bundled().unwrap();

    c.bench_function("npm attestations sigstore@1.0.0 (SLSA v0.2 + publish), cold", |b| {
        b.iter(|| verify_npm_attestations(ATTESTATIONS, "sigstore", "1.0.0", INTEGRITY_100, &root, &keys))
    });

    let bundle: serde_json::Value = serde_json::from_slice(BUNDLE_V03).unwrap();
    let v03 = serde_json::to_vec(&serde_json::json!({
        "attestations": [ { "predicateType": "https://slsa.dev/provenance/v1", "bundle": bundle } ]
    }))
    .unwrap();
    c.bench_function("npm SLSA v1 bundle v0.3 sigstore@5.0.0 (inclusion proof), cold", |b| {
        b.iter(|| verify_npm_attestations(&v03, "sigstore", "5.0.0", INTEGRITY_500, &root, &keys))
    });

    let published = Some("2023-02-09T00:00:00Z".parse().unwrap());
    let signatures = [(OLD_KEY.to_string(), SIG_100.to_string())];
    c.bench_function("npm registry signature", |b| {
        b.iter(|| verify_registry_signatures("sigstore", "1.0.0", INTEGRITY_100, &signatures, &keys, published))
    });

    c.bench_function("prepare bundled trusted root", |b| {
        b.iter(|| TrustRoot::bundled().unwrap())
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let package = PackageRef::new(Ecosystem::Npm, "sigstore");
    let facts = PackageFacts {
        versions: vec![VersionFacts {
            version: "1.0.0".into(),
            digests: vec![INTEGRITY_100.to_string()].into(),
            detail: gatehouse::model::VersionDetail {
                // Never fetched: the first ask is answered by `Verified` below, later ones by the cache.
                attestations_url: Some("http://127.0.0.1:9/-/npm/v1/attestations/sigstore@1.0.0".to_string()),
                ..Default::default()
            }
            .into(),
            ..VersionFacts::default()
        }],
        ..PackageFacts::default()
    };
    let verified = verify_npm_attestations(ATTESTATIONS, "sigstore", "1.0.0", INTEGRITY_100, &root, &keys);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()));
    let cached = CachedAttestations::new(
        Arc::new(Verified(verified.clone())),
        store.clone(),
        CacheSettings::default(),
    );
    runtime.block_on(async {
        cached
            .provenance(&package, "1.0.0", &RegistrySource::Public, &facts)
            .await
            .unwrap();
        cached.flush().await;
    });
    c.bench_function("npm attestations sigstore@1.0.0, cached (memory tier)", |b| {
        b.iter(|| {
            runtime
                .block_on(cached.provenance(&package, "1.0.0", &RegistrySource::Public, &facts))
                .unwrap()
        })
    });
    // A second editor process: nothing in memory yet, the answer comes from the shared store.
    c.bench_function("npm attestations sigstore@1.0.0, cached (store tier)", |b| {
        b.iter_batched(
            || {
                CachedAttestations::new(
                    Arc::new(Verified(verified.clone())),
                    store.clone(),
                    CacheSettings::default(),
                )
            },
            |fresh| {
                runtime
                    .block_on(fresh.provenance(&package, "1.0.0", &RegistrySource::Public, &facts))
                    .unwrap()
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

/// Stands in for `AttestationClient` (which `CachedAttestations` wraps in production) with the answer
/// verified above, so the cached figures measure the cache alone.
struct Verified(Provenance);

#[async_trait::async_trait]
impl Attestations for Verified {
    async fn provenance(
        &self,
        _package: &PackageRef,
        _version: &str,
        _source: &RegistrySource,
        _facts: &PackageFacts,
    ) -> Result<Fetched<Provenance>, LookupError> {
        Ok(Fetched::fresh(self.0.clone()))
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
