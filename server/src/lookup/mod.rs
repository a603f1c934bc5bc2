//! The lookup layer: the only module (beside the composition roots) that touches the network, the disk,
//! the environment or the clock.
//!
//! Invariants:
//! - Exposes traits that speak `model` types (`Registry`, `Advisories`, `Attestations`); wire structs stay
//!   private to each client file.
//! - It sends exactly what it is asked for. Which names may leave the machine is decided in
//!   `engine::needs`, where it is pure and tested.
//! - A transport failure is never cached as "not found"; a package never seen is `Unavailable`, never clean.
//! - `Lookup::fetch` never panics and always returns: every query ends `Known` or `Unavailable`.
//!
//! Rooms, one concern each (every folder's `mod.rs` states its own invariants):
//! - `http`: the one hardened client every fetcher uses (timeouts, size caps, per-host limits, retries).
//! - `registry/`: one client per registry protocol (npm, crates.io sparse index, PyPI) and the dispatch.
//! - `private/`: which registry and which credential a package uses (`.npmrc`, Cargo, pip config);
//!   `private/discover.rs` is its only file IO.
//! - `advisories/`: the OSV record schema, the OSV API, offline OSV databases, the local copy of OSV's
//!   export (`export.rs`), merging them.
//! - `provenance/`: trust material, npm and PEP 740 verification, fetching attestations.
//! - `cache/`: TTLs and coalescing, the memory tier, the SQLite store, write-behind, takedown memory.
//! - `compose.rs`: builds the `Lookup` the fronts hold out of all of the above; it names every room, so
//!   it sits beside them rather than in one of them.
//! - `memory.rs`: in-memory doubles of the traits for tests (`test-support`), beside the traits they
//!   implement, as docs/ARCHITECTURE.md §3 places them.
//!
//! Composition (for `lsp` and `cli`): open one `cache::store::Store` on `settings.cache_dir` (default
//! `cache::default_cache_dir(env)`), read `private::load_from_disk(&Discovery { .. })` for private registries and
//! their credentials, then `registry::cached_registries(..)` for the registry side and
//! `cache::CachedAdvisories::new(osv, store, ..)` / `cache::CachedAttestations::new(..)` around the OSV and
//! provenance sources; `PrivateRegistries::source_for` gives each package its `RegistrySource`.
//! `gatehouse cache stats|clear|path` are `cache::cache_stats`, `cache::cache_clear`, `cache::cache_path`;
//! `gatehouse db update` is `advisories::export::OsvExport::sync_now`.

pub mod advisories;
pub mod cache;
pub mod compose;
pub mod http;
pub mod private;
pub mod provenance;
pub mod registry;
pub mod untrusted;

#[cfg(any(test, feature = "test-support"))]
pub mod memory;

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::model::{Advisory, Fact, Facts, Note, PackageFacts, PackageRef, Provenance, Query, RegistrySource};

/// A value with when it was fetched and whether it is past its time-to-live (served offline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched<T> {
    pub value: T,
    pub fetched_at: Timestamp,
    pub stale: bool,
    /// Why this answer is less than the configured sources would give (one of several advisory
    /// sources failed and another answered): shown beside it, never dropped.
    pub caveat: Option<String>,
    /// Where a full answer came from, when a person should know it ("advisories from the offline
    /// snapshot as of …" for a name answered by the local copy of OSV's export): said beside the
    /// answer, which still counts as checked.
    pub note: Option<String>,
}

impl<T> Fetched<T> {
    pub fn fresh(value: T) -> Fetched<T> {
        Fetched {
            value,
            fetched_at: Timestamp::now(),
            stale: false,
            caveat: None,
            note: None,
        }
    }

    fn into_fact(self) -> Fact<T> {
        Fact::Known {
            value: self.value,
            as_of: self.fetched_at,
            stale: self.stale,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LookupError {
    #[error("`{0}` was not found")]
    NotFound(String),
    #[error("offline: no cached data for `{0}`")]
    Offline(String),
    #[error("could not reach {host}: {message}")]
    Transport { host: String, message: String },
    #[error("{host} answered {status}")]
    Status { host: String, status: u16 },
    #[error("could not read the answer from {host}: {message}")]
    Decode { host: String, message: String },
    /// The source does not hold this package's ecosystem (an offline database of other ecosystems):
    /// not a failure of the source, and never an answer.
    #[error("{0}")]
    NotCovered(String),
    #[error("{0}")]
    Other(String),
}

/// Versions, publish times and status flags of packages, as their registries report them.
#[async_trait]
pub trait Registry: Send + Sync {
    async fn package(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
    ) -> Result<Fetched<PackageFacts>, LookupError>;

    /// Like `package`, but with the validators of an earlier answer, so an unchanged document costs a
    /// `304` and no body. Clients that cannot revalidate answer `Modified` every time.
    /// Like `package`, shared: a cache hands out what it holds without copying it.
    async fn package_shared(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
    ) -> Result<Fetched<std::sync::Arc<PackageFacts>>, LookupError> {
        self.package(package, source).await.map(|f| Fetched {
            value: std::sync::Arc::new(f.value),
            fetched_at: f.fetched_at,
            stale: f.stale,
            caveat: f.caveat,
            note: f.note,
        })
    }

    async fn package_revalidated(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
        validators: &Validators,
    ) -> Result<Revalidated<PackageFacts>, LookupError> {
        let _ = validators;
        let fetched = self.package(package, source).await?;
        Ok(Revalidated::Modified {
            value: fetched.value,
            validators: Validators::default(),
            max_age: None,
        })
    }

    /// Waits for writes still running behind answers already given (see `cache::Background`).
    async fn flush(&self) {}
}

/// HTTP validators of a cached document (`ETag`, `Last-Modified`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// The answer to a conditional fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revalidated<T> {
    Modified {
        value: T,
        validators: Validators,
        /// `Cache-Control: max-age`, when the server gave one.
        max_age: Option<std::time::Duration>,
    },
    NotModified {
        max_age: Option<std::time::Duration>,
    },
}

impl<T> Revalidated<T> {
    /// The answer to an unconditional fetch (no validators sent), where a `304` cannot happen.
    pub fn into_fresh(self) -> Result<Fetched<T>, LookupError> {
        match self {
            Revalidated::Modified { value, .. } => Ok(Fetched::fresh(value)),
            Revalidated::NotModified { .. } => Err(LookupError::Other("unexpected 304".to_string())),
        }
    }
}

/// A registry client over HTTP: it implements only the conditional fetch, and `Registry` follows (a
/// plain `package` is a conditional fetch with no validators, where a `304` cannot happen).
#[async_trait]
pub trait ConditionalRegistry: Send + Sync {
    async fn conditional_package(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
        validators: &Validators,
    ) -> Result<Revalidated<PackageFacts>, LookupError>;
}

#[async_trait]
impl<T: ConditionalRegistry> Registry for T {
    async fn package(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
    ) -> Result<Fetched<PackageFacts>, LookupError> {
        self.conditional_package(package, source, &Validators::default())
            .await?
            .into_fresh()
    }

    async fn package_revalidated(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
        validators: &Validators,
    ) -> Result<Revalidated<PackageFacts>, LookupError> {
        self.conditional_package(package, source, validators).await
    }
}

/// Every advisory naming each package (OSV online and offline).
#[async_trait]
pub trait Advisories: Send + Sync {
    /// Answers for each asked package; a package with no advisories maps to an empty list.
    async fn advisories(
        &self,
        packages: &[PackageRef],
    ) -> Vec<(PackageRef, Result<Fetched<Vec<Advisory>>, LookupError>)>;

    /// Waits for writes still running behind answers already given (see `cache::Background`).
    async fn flush(&self) {}

    /// What this source is, for messages: "the OSV API", "the offline snapshot as of …".
    fn describe(&self) -> String {
        "the advisory source".to_string()
    }
}

/// Verified provenance of one version.
#[async_trait]
pub trait Attestations: Send + Sync {
    async fn provenance(
        &self,
        package: &PackageRef,
        version: &str,
        source: &RegistrySource,
        facts: &PackageFacts,
    ) -> Result<Fetched<Provenance>, LookupError>;

    /// Waits for writes still running behind answers already given (see `cache::Background`).
    async fn flush(&self) {}
}

/// Why a package asked of the local OSV copies only (a private registry's, or one behind a registry
/// mirror) has no advisory answer.
pub const NO_LOCAL_COPY: &str = "the package comes from a private registry, or a registry mirror that may also serve private packages, so its name is not sent to the public OSV API (for a mirror: set `mirror-is-public`, or list the private names in `private-packages`), and no local OSV copy (`osv-db`, or OSV's export downloaded from `endpoints.osv-export`) holds its ecosystem";
/// Said after a local source's failure (a download of the export that failed or is under way).
pub const MIRROR_NOT_SENT: &str = "the package comes from a private registry, or a registry mirror that may also serve private packages, so its name is not sent to the public OSV API (for a mirror: set `mirror-is-public`, or list the private names in `private-packages`)";

/// The three sources, composed; what the LSP and CLI hold.
#[derive(Clone)]
pub struct Lookup {
    pub registry: Arc<dyn Registry>,
    pub advisories: Arc<dyn Advisories>,
    /// The local advisory sources only (offline OSV databases, the local copy of OSV's export), for
    /// names that must not leave the machine. `None` when there is none.
    pub local_advisories: Option<Arc<dyn Advisories>>,
    pub attestations: Option<Arc<dyn Attestations>>,
}

impl Lookup {
    /// Waits until every answer given so far is in the on-disk store (a CLI run, before it exits).
    pub async fn flush(&self) {
        let attestations = async {
            if let Some(attestations) = &self.attestations {
                attestations.flush().await;
            }
        };
        futures::join!(self.registry.flush(), self.advisories.flush(), attestations);
    }

    /// Fetches every query concurrently and returns them as facts. Provenance queries need the
    /// package's registry facts, which are fetched first (and reused) when not in `known`.
    pub async fn fetch(&self, queries: &[Query], known: &Facts) -> Facts {
        let mut res = Facts::default();
        let mut advisory_packages = Vec::new();
        let mut local_packages = Vec::new();
        let mut package_queries = Vec::new();
        let mut provenance_queries = Vec::new();
        for query in queries {
            match query {
                Query::Advisories { package } => advisory_packages.push(package.clone()),
                Query::LocalAdvisories { package } => local_packages.push(package.clone()),
                Query::Package { package, source } => package_queries.push((package.clone(), source.clone())),
                Query::Provenance {
                    package,
                    version,
                    source,
                } => provenance_queries.push((package.clone(), version.clone(), source.clone())),
            }
        }
        let advisories = async {
            if advisory_packages.is_empty() {
                Vec::new()
            } else {
                self.advisories.advisories(&advisory_packages).await
            }
        };
        let packages = futures::future::join_all(package_queries.iter().map(|(package, source)| async move {
            (package.clone(), self.registry.package_shared(package, source).await)
        }));
        let local = async {
            match (&self.local_advisories, local_packages.is_empty()) {
                (_, true) => Vec::new(),
                (Some(local), false) => local.advisories(&local_packages).await,
                (None, false) => local_packages
                    .iter()
                    .map(|package| (package.clone(), Err(LookupError::Other(NO_LOCAL_COPY.to_string()))))
                    .collect(),
            }
        };
        let (advisories, local, packages) = futures::join!(advisories, local, packages);
        let advisories: Vec<_> = advisories
            .into_iter()
            .chain(local.into_iter().map(|(package, answer)| {
                // Say why the name was not asked of the OSV API.
                let answer = answer.map_err(|err| match err {
                    LookupError::NotCovered(why) => LookupError::Other(format!("{why}; {NO_LOCAL_COPY}")),
                    LookupError::Other(why) => LookupError::Other(format!("{why}; {MIRROR_NOT_SENT}")),
                    other => other,
                });
                (package, answer)
            }))
            .collect();
        for (package, answer) in advisories {
            match &answer {
                Ok(Fetched {
                    caveat: Some(caveat), ..
                }) => {
                    res.advisory_caveats.insert(package.clone(), caveat.clone());
                }
                Ok(Fetched { note: Some(note), .. }) => {
                    res.advisory_notes.insert(package.clone(), note.clone());
                }
                _ => {}
            }
            res.advisories.insert(package, to_fact(answer, "advisories"));
        }
        for (package, answer) in packages {
            res.packages.insert(package, to_fact(answer, "registry"));
        }
        if let Some(attestations) = &self.attestations {
            let res_ref = &res;
            let proofs =
                futures::future::join_all(provenance_queries.iter().map(|(package, version, source)| async move {
                    let facts = res_ref
                        .packages
                        .get(package)
                        .or_else(|| known.packages.get(package))
                        .and_then(Fact::known)
                        .cloned();
                    let answer = match facts {
                        Some(facts) => attestations.provenance(package, version, source, &facts).await,
                        None => Err(LookupError::Other(format!("no registry data for `{}`", package.name))),
                    };
                    ((package.clone(), version.clone()), answer)
                }))
                .await;
            for (key, answer) in proofs {
                res.provenance.insert(key, to_fact(answer, "provenance"));
            }
        }
        res
    }
}

fn to_fact<T>(answer: Result<Fetched<T>, LookupError>, source: &str) -> Fact<T> {
    match answer {
        Ok(fetched) => fetched.into_fact(),
        Err(err @ LookupError::NotFound(_)) => Fact::Unavailable(Note {
            source: format!("{source}{}", crate::model::NOT_FOUND_SOURCE_SUFFIX),
            message: err.to_string(),
        }),
        Err(err) => Fact::Unavailable(Note {
            source: source.to_string(),
            message: err.to_string(),
        }),
    }
}

/// Answers nothing: no registry reachable (offline with an empty cache).
pub struct NoRegistry(pub String);

#[async_trait]
impl Registry for NoRegistry {
    async fn package(
        &self,
        _package: &PackageRef,
        _source: &RegistrySource,
    ) -> Result<Fetched<PackageFacts>, LookupError> {
        Err(LookupError::Other(self.0.clone()))
    }
}

/// Where and how the lookup layer may fetch; built from `config::Config` by the composition roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupSettings {
    /// No network at all: answer from the cache and the offline OSV databases.
    pub offline: bool,
    /// Where the store lives; empty until the composition root fills in `cache::default_cache_dir`.
    pub cache_dir: std::path::PathBuf,
    pub npm_registry: String,
    pub crates_index: String,
    /// Fill publish dates the crates index lacks from the registry's web API (`config.json` `api`).
    pub crates_api_dates: bool,
    pub pypi_url: String,
    pub osv_url: String,
    /// Folders of OSV JSON records or OSV `all.zip` files.
    pub osv_db: Vec<std::path::PathBuf>,
    /// Where OSV's per-ecosystem export is downloaded from (`<base>/<Ecosystem>/all.zip`, …) into the
    /// cache, for packages whose names must not reach the OSV API; empty turns downloading off.
    pub osv_export: String,
    /// A local export copy synced more recently than this is not asked again.
    pub osv_export_refresh: std::time::Duration,
    /// Await a due sync of the export copy before answering (the CLI, a one-shot run); an editor
    /// answers from the copy at hand and syncs in the background.
    pub wait_for_osv_export: bool,
    /// A replacement Sigstore trusted root (else the bundled one).
    pub trusted_root: Option<std::path::PathBuf>,
}

impl Default for LookupSettings {
    fn default() -> Self {
        LookupSettings {
            offline: false,
            cache_dir: std::path::PathBuf::new(),
            npm_registry: "https://registry.npmjs.org".to_string(),
            crates_index: "https://index.crates.io".to_string(),
            crates_api_dates: false,
            pypi_url: "https://pypi.org".to_string(),
            osv_url: "https://api.osv.dev".to_string(),
            osv_db: Vec::new(),
            osv_export: crate::lookup::advisories::export::DEFAULT_EXPORT_URL.to_string(),
            osv_export_refresh: std::time::Duration::from_secs(3600),
            wait_for_osv_export: false,
            trusted_root: None,
        }
    }
}
