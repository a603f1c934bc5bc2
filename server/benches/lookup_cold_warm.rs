//! Cold and warm lookup of 300 npm and 300 PyPI dependencies against loopback stand-ins that add 50 ms
//! to every answer. Run: `cargo bench --bench lookup_cold_warm` (or `cargo test --bench lookup_cold_warm`
//! for an unoptimised run). The documents are the real recorded minimist packument and jinja2 Simple
//! page, copied under 300 names each into a temporary directory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::lookup::cache::{CacheSettings, CachedRegistry};
use gatehouse::lookup::http::{HostCredentials, HttpClient, HttpSettings};
use gatehouse::lookup::registries::RegistryClients;
use gatehouse::lookup::store::Store;
use gatehouse::lookup::{Lookup, LookupSettings, NoAdvisories};
use gatehouse::model::{Ecosystem, Facts, PackageRef, Query, RegistrySource};
use gatehouse::testing::{FixtureServer, registry_fixtures};

const COUNT: usize = 300;
const LATENCY: Duration = Duration::from_millis(50);

fn lookup(server: &FixtureServer, dir: &std::path::Path, http: HttpSettings) -> Lookup {
    let settings = LookupSettings {
        npm_registry: format!("{}/npm", server.url()),
        crates_index: format!("{}/crates", server.url()),
        pypi_url: format!("{}/pypi", server.url()),
        cache_dir: dir.to_path_buf(),
        ..LookupSettings::default()
    };
    let http = Arc::new(HttpClient::new(http, HostCredentials::default()).unwrap());
    let registry = CachedRegistry::new(
        Arc::new(RegistryClients::new(&settings, http)),
        Arc::new(Store::open(dir)),
        CacheSettings::default(),
    );
    Lookup {
        registry: Arc::new(registry),
        advisories: Arc::new(NoAdvisories("not measured".into())),
        attestations: None,
    }
}

fn queries(ecosystem: Ecosystem, prefix: &str, count: usize) -> Vec<Query> {
    (0..count)
        .map(|i| Query::Package {
            package: PackageRef::new(ecosystem, &format!("{prefix}{i}")),
            source: RegistrySource::Public,
        })
        .collect()
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    let npm_doc = std::fs::read(registry_fixtures().join("npm/minimist")).unwrap();
    let simple_doc = std::fs::read_to_string(registry_fixtures().join("pypi/simple/jinja2/index.json")).unwrap();
    std::fs::create_dir_all(root.path().join("npm")).unwrap();
    for i in 0..COUNT {
        std::fs::write(root.path().join(format!("npm/dep-{i}")), &npm_doc).unwrap();
        let dir = root.path().join(format!("pypi/simple/dep-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let renamed = simple_doc
            .replace("jinja2-", &format!("dep_{i}-"))
            .replace("Jinja2-", &format!("dep_{i}-"));
        std::fs::write(dir.join("index.json"), renamed).unwrap();
    }
    let server = FixtureServer::start(root.path()).unwrap();
    server.set_latency(LATENCY);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let concurrency: usize = std::env::var("GATEHOUSE_BENCH_PER_HOST")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(HttpSettings::default().per_host_concurrency);
    let http = HttpSettings {
        per_host_concurrency: concurrency,
        ..HttpSettings::default()
    };
    println!("per-host concurrency {concurrency}, {COUNT} packages per ecosystem, {LATENCY:?} added per request");
    // The transport alone: 300 concurrent GETs of the npm documents, nothing parsed or stored.
    {
        let client = Arc::new(HttpClient::new(http.clone(), HostCredentials::default()).unwrap());
        let started = Instant::now();
        runtime.block_on(futures::future::join_all((0..COUNT).map(|i| {
            let client = client.clone();
            let url = format!("{}/npm/dep-{i}", server.url());
            async move {
                client
                    .get(&gatehouse::lookup::http::HttpRequest {
                        url,
                        ..Default::default()
                    })
                    .await
                    .unwrap()
            }
        })));
        println!(
            "transport only: {COUNT} GETs in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    for (ecosystem, label) in [
        (Ecosystem::Npm, "npm package.json"),
        (Ecosystem::PyPI, "PyPI requirements.txt"),
    ] {
        let cache_dir = tempfile::tempdir().unwrap();
        // The critical path: one package, cold.
        let single_dir = tempfile::tempdir().unwrap();
        let single = lookup(&server, single_dir.path(), http.clone());
        let started = Instant::now();
        let one = runtime.block_on(single.fetch(&queries(ecosystem, "dep-", 1), &Facts::default()));
        let critical = started.elapsed();
        assert_eq!(one.packages.len(), 1);

        server.clear_requests();
        let cold = lookup(&server, cache_dir.path(), http.clone());
        // Connections are made before the clock starts, as an editor's server does at start-up.
        runtime.block_on(cold.fetch(&queries(ecosystem, "warmup-", 1), &Facts::default()));
        server.clear_requests();
        let all = queries(ecosystem, "dep-", COUNT);
        let started = Instant::now();
        let facts = runtime.block_on(cold.fetch(&all, &Facts::default()));
        let cold_time = started.elapsed();
        let known = facts.packages.values().filter(|f| f.known().is_some()).count();
        let cold_requests = server.request_count();
        drop(cold);

        // A second process: new memory tier, same store directory.
        server.clear_requests();
        let started = Instant::now();
        let warm = lookup(&server, cache_dir.path(), http.clone());
        let setup_time = started.elapsed();
        let started = Instant::now();
        let facts = runtime.block_on(warm.fetch(&all, &Facts::default()));
        let warm_time = started.elapsed();
        let warm_known = facts.packages.values().filter(|f| f.known().is_some()).count();
        let warm_requests = server.request_count();

        // The same process again: the memory tier.
        let started = Instant::now();
        runtime.block_on(warm.fetch(&all, &Facts::default()));
        let hot_time = started.elapsed();

        println!(
            "{label}: critical path {:.1} ms; cold {:.1} ms ({:.2}x, {cold_requests} requests, {known}/{COUNT} known); \
             warm second process {:.1} ms after {:.1} ms start-up ({warm_requests} requests, {warm_known}/{COUNT} known); same process {:.2} ms",
            critical.as_secs_f64() * 1e3,
            cold_time.as_secs_f64() * 1e3,
            cold_time.as_secs_f64() / critical.as_secs_f64(),
            warm_time.as_secs_f64() * 1e3,
            setup_time.as_secs_f64() * 1e3,
            hot_time.as_secs_f64() * 1e3,
        );
    }
}
