//! Cold and warm lookup of 300 npm and 300 PyPI dependencies against loopback stand-ins that add 50 ms
//! to every answer. Run: `cargo bench --bench lookup_cold_warm` (or `cargo test --bench lookup_cold_warm`
//! for an unoptimised run). The documents are the real recorded minimist packument and jinja2 Simple
//! page, copied under 300 names each into a temporary directory.
//!
//! Two stand-ins: HTTPS with HTTP/2 (`TlsFixtureServer`), which is how registry.npmjs.org, pypi.org and
//! index.crates.io answer, so every request shares one connection; and plain HTTP/1.1 (`FixtureServer`),
//! like a private registry without TLS, where each request in flight needs its own connection.
//!
//! Environment: `GATEHOUSE_BENCH_LATENCY_MS` (default 50), `GATEHOUSE_BENCH_PER_HOST` (requests in
//! flight per host), `GATEHOUSE_BENCH_MEMORY_STORE` (an in-memory store instead of the SQLite file, to
//! separate the disk's share), `GATEHOUSE_BENCH_SERVER=h2|http1` (only one stand-in).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse::lookup::advisories::NoAdvisories;
use gatehouse::lookup::cache::store::Store;
use gatehouse::lookup::cache::{CacheSettings, CachedRegistry};
use gatehouse::lookup::http::{HostCredentials, HttpClient, HttpSettings};
use gatehouse::lookup::registry::RegistryClients;
use gatehouse::lookup::{Lookup, LookupSettings};
use gatehouse::model::{Ecosystem, Facts, PackageRef, Query, RegistrySource};
use gatehouse::testing::{FixtureServer, TlsFixtureServer, registry_fixtures, test_ca_file};

const COUNT: usize = 300;

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// What the bench needs of a stand-in.
trait StandIn {
    fn url(&self) -> String;
    fn request_count(&self) -> usize;
    fn clear_requests(&self);
}

impl StandIn for FixtureServer {
    fn url(&self) -> String {
        FixtureServer::url(self)
    }
    fn request_count(&self) -> usize {
        FixtureServer::request_count(self)
    }
    fn clear_requests(&self) {
        FixtureServer::clear_requests(self)
    }
}

impl StandIn for TlsFixtureServer {
    fn url(&self) -> String {
        TlsFixtureServer::url(self)
    }
    fn request_count(&self) -> usize {
        TlsFixtureServer::request_count(self)
    }
    fn clear_requests(&self) {
        TlsFixtureServer::clear_requests(self)
    }
}

fn lookup(server: &dyn StandIn, dir: &std::path::Path, http: &HttpSettings) -> Lookup {
    let settings = LookupSettings {
        npm_registry: format!("{}/npm", server.url()),
        crates_index: format!("{}/crates", server.url()),
        pypi_url: format!("{}/pypi", server.url()),
        cache_dir: dir.to_path_buf(),
        ..LookupSettings::default()
    };
    let http = Arc::new(HttpClient::new(http.clone(), HostCredentials::default()).unwrap());
    let store = if std::env::var_os("GATEHOUSE_BENCH_MEMORY_STORE").is_some() {
        Store::in_memory()
    } else {
        Store::open(dir)
    };
    let registry = CachedRegistry::new(
        Arc::new(RegistryClients::new(&settings, http)),
        Arc::new(store),
        CacheSettings::default(),
    );
    Lookup {
        registry: Arc::new(registry),
        advisories: Arc::new(NoAdvisories("not measured".into())),
        local_advisories: None,
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

fn ticks(stat: &str) -> u64 {
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum()
}

/// User and system time of this process, and the part of it spent by the stand-in's threads
/// (`/proc/self/task/*/stat`; zero where there is no /proc).
fn cpu_time() -> (Duration, Duration) {
    let (mut all, mut stand_in) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let used = ticks(&stat);
        all += used;
        if stat.contains("(tls-standin") || stat.contains("(fixture-server") {
            stand_in += used;
        }
    }
    (Duration::from_millis(all * 10), Duration::from_millis(stand_in * 10))
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// The transport alone: `COUNT` concurrent GETs of the npm documents, nothing parsed or stored.
fn get_all(runtime: &tokio::runtime::Runtime, client: &Arc<HttpClient>, server: &dyn StandIn) {
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
}

fn measure(label: &str, server: &dyn StandIn, http: &HttpSettings, runtime: &tokio::runtime::Runtime) {
    // The transport alone: 300 concurrent GETs of the npm documents, nothing parsed or stored.
    let client = Arc::new(HttpClient::new(http.clone(), HostCredentials::default()).unwrap());
    for round in ["new connections", "pooled connections"] {
        let started = Instant::now();
        get_all(runtime, &client, server);
        println!(
            "{label}: transport only ({round}): {COUNT} GETs in {:.1} ms",
            millis(started.elapsed())
        );
    }
    for (ecosystem, manifest) in [
        (Ecosystem::Npm, "npm package.json"),
        (Ecosystem::PyPI, "PyPI requirements.txt"),
    ] {
        let cache_dir = tempfile::tempdir().unwrap();
        // The critical path: one package, cold, on a connection made beforehand.
        let single_dir = tempfile::tempdir().unwrap();
        let single = lookup(server, single_dir.path(), http);
        runtime.block_on(single.fetch(&queries(ecosystem, "warmup-", 1), &Facts::default()));
        let started = Instant::now();
        let one = runtime.block_on(single.fetch(&queries(ecosystem, "dep-", 1), &Facts::default()));
        let critical = started.elapsed();
        assert_eq!(one.packages.len(), 1);

        let cold = lookup(server, cache_dir.path(), http);
        // Connections are made before the clock starts, as an editor's server does at start-up.
        runtime.block_on(cold.fetch(&queries(ecosystem, "warmup-", 1), &Facts::default()));
        server.clear_requests();
        let all = queries(ecosystem, "dep-", COUNT);
        let started = Instant::now();
        let facts = runtime.block_on(cold.fetch(&all, &Facts::default()));
        let cold_time = started.elapsed();
        let known = facts.packages.values().filter(|f| f.known().is_some()).count();
        let cold_requests = server.request_count();
        // What a CLI run does before it exits: the store has every answer.
        let started = Instant::now();
        runtime.block_on(cold.flush());
        let flush_time = started.elapsed();
        drop(cold);

        // A second process: new memory tier, same store directory.
        server.clear_requests();
        let started = Instant::now();
        let warm = lookup(server, cache_dir.path(), http);
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
            "{label}: {manifest}: critical path {:.1} ms; cold {:.1} ms ({:.2}x, {cold_requests} requests, \
             {known}/{COUNT} known; store written {:.1} ms later); warm second process {:.1} ms after {:.1} ms \
             start-up ({warm_requests} requests, {warm_known}/{COUNT} known); same process {:.2} ms",
            millis(critical),
            millis(cold_time),
            cold_time.as_secs_f64() / critical.as_secs_f64(),
            millis(flush_time),
            millis(warm_time),
            millis(setup_time),
            millis(hot_time),
        );
    }
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    let npm_doc = std::fs::read(registry_fixtures().join("npm/minimist")).unwrap();
    let simple_doc = std::fs::read_to_string(registry_fixtures().join("pypi/simple/jinja2/index.json")).unwrap();
    std::fs::create_dir_all(root.path().join("npm")).unwrap();
    for prefix in ["dep-", "warmup-"] {
        for i in 0..COUNT {
            std::fs::write(root.path().join(format!("npm/{prefix}{i}")), &npm_doc).unwrap();
            let dir = root.path().join(format!("pypi/simple/{prefix}{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let normalised = prefix.replace('-', "_");
            let renamed = simple_doc
                .replace("jinja2-", &format!("{normalised}{i}-"))
                .replace("Jinja2-", &format!("{normalised}{i}-"));
            std::fs::write(dir.join("index.json"), renamed).unwrap();
        }
    }
    let latency = Duration::from_millis(env_number("GATEHOUSE_BENCH_LATENCY_MS").unwrap_or(50));
    let concurrency = env_number("GATEHOUSE_BENCH_PER_HOST")
        .map(|n| n as usize)
        .unwrap_or(HttpSettings::default().per_host_concurrency);
    let http = HttpSettings {
        per_host_concurrency: concurrency,
        extra_root_certs: vec![test_ca_file()],
        ..HttpSettings::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("per-host concurrency {concurrency}, {COUNT} packages per ecosystem, {latency:?} added per request");
    if let Some(rounds) = env_number("GATEHOUSE_BENCH_PROFILE_COLD") {
        // Only the cold npm lookup, again and again, for a profiler.
        let server = TlsFixtureServer::start(root.path()).unwrap();
        server.set_latency(latency);
        let all = queries(Ecosystem::Npm, "dep-", COUNT);
        for _ in 0..rounds {
            let dir = tempfile::tempdir().unwrap();
            let cold = lookup(&server, dir.path(), &http);
            runtime.block_on(cold.fetch(&queries(Ecosystem::Npm, "warmup-", 1), &Facts::default()));
            let cpu = cpu_time();
            let started = Instant::now();
            runtime.block_on(cold.fetch(&all, &Facts::default()));
            let (all, stand_in) = cpu_time();
            println!(
                "cold {:.1} ms; CPU: {:.0} ms in all, {:.0} ms of it the stand-in's",
                millis(started.elapsed()),
                millis(all - cpu.0),
                millis(stand_in - cpu.1)
            );
            runtime.block_on(cold.flush());
            let client = Arc::new(HttpClient::new(http.clone(), HostCredentials::default()).unwrap());
            runtime
                .block_on(client.get(&gatehouse::lookup::http::HttpRequest {
                    url: format!("{}/npm/warmup-0", server.url()),
                    ..Default::default()
                }))
                .unwrap();
            let cpu = cpu_time();
            let started = Instant::now();
            get_all(&runtime, &client, &server);
            let (all, stand_in) = cpu_time();
            println!(
                "  transport only {:.1} ms; CPU: {:.0} ms in all, {:.0} ms of it the stand-in's",
                millis(started.elapsed()),
                millis(all - cpu.0),
                millis(stand_in - cpu.1)
            );
        }
        return;
    }
    let only = std::env::var("GATEHOUSE_BENCH_SERVER").unwrap_or_default();
    if only.is_empty() || only == "h2" {
        let server = TlsFixtureServer::start(root.path()).unwrap();
        server.set_latency(latency);
        measure("https+h2", &server, &http, &runtime);
        println!("https+h2: {} TLS connections in all", server.connection_count());
    }
    if only.is_empty() || only == "http1" {
        let server = FixtureServer::start(root.path()).unwrap();
        server.set_latency(latency);
        measure("http/1.1", &server, &http, &runtime);
    }
}
