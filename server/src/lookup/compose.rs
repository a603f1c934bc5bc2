//! Builds the `Lookup` the front ends hold from `LookupSettings`: registry clients and OSV sources
//! behind the shared cache (moka in memory → the SQLite store every process shares → network).
//!
//! Invariants:
//! - Offline, the network clients exist but are never called: the cache answers from the store (stale,
//!   with its age) or says it has nothing; the offline OSV databases answer beside it.
//! - The offline OSV database is local data and is not copied into the store. The local copy of OSV's
//!   export (`advisories::export`) answers for names behind a registry mirror only, beside `osv-db`;
//!   it downloads only for the ecosystems it is asked about, never offline.
//! - A source that cannot be set up (unreadable `osv-db`, bad trusted root) is a message, never a failure.

use std::sync::Arc;

use crate::lookup::advisories::MergedAdvisories;
use crate::lookup::advisories::export::{ExportSettings, OsvExport};
use crate::lookup::advisories::offline_db::OfflineDb;
use crate::lookup::advisories::osv_api::OsvClient;
use crate::lookup::cache::store::Store;
use crate::lookup::cache::{CacheSettings, CachedAdvisories, CachedAttestations};
use crate::lookup::http::{HttpClient, HttpSettings};
use crate::lookup::private::PrivateRegistries;
use crate::lookup::provenance::{AttestationClient, NpmKeys, TrustRoot};
use crate::lookup::registry::cached_registries;
use crate::lookup::{Advisories, Attestations, Lookup, LookupSettings, NoRegistry, Registry};

/// The lookup layer for `settings` and the project's private registries, and messages about sources
/// that could not be set up.
pub fn compose(settings: &LookupSettings, private: &PrivateRegistries) -> (Lookup, Vec<String>) {
    let mut messages = Vec::new();
    let started = std::time::Instant::now();
    let (store, problem) = Store::open_reporting(&settings.cache_dir);
    messages.extend(problem);
    let store = Arc::new(store);
    tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "store opened");
    let cache_settings = CacheSettings::from_lookup(settings);
    // One hardened client for registries, OSV and attestations: one set of per-host limits and
    // breakers, and credentials that reach only the origin they were configured for.
    let started = std::time::Instant::now();
    // The process's client for these settings: built once (the language server builds it at start-up
    // while this opens the store), its connection pool shared by every configuration.
    let http = HttpClient::shared(HttpSettings::default(), private.credentials.clone());
    tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "HTTP client built");
    let http = match http {
        Ok(http) => Some(Arc::new(http)),
        Err(error) => {
            messages.push(format!(
                "could not set up the HTTP client: online lookups are off: {error}"
            ));
            None
        }
    };

    let mut advisory_sources: Vec<Arc<dyn Advisories>> = Vec::new();
    // Sources that answer without sending a name anywhere, for packages behind a registry mirror.
    let mut local_sources: Vec<Arc<dyn Advisories>> = Vec::new();
    if !settings.osv_db.is_empty() {
        let (db, errors) = OfflineDb::load(&settings.osv_db);
        messages.extend(errors);
        let db: Arc<dyn Advisories> = Arc::new(db);
        local_sources.push(db.clone());
        advisory_sources.push(db);
    }
    // The local copy of OSV's export lives in the cache folder; with no cache folder there is none.
    if !settings.cache_dir.as_os_str().is_empty() {
        let export = ExportSettings {
            refresh: settings.osv_export_refresh,
            offline: settings.offline,
            wait: settings.wait_for_osv_export,
            ..ExportSettings::new(&settings.osv_export, &settings.cache_dir)
        };
        local_sources.push(Arc::new(OsvExport::new(export, http.clone())));
    }
    let local_advisories: Option<Arc<dyn Advisories>> = match local_sources.len() {
        0 => None,
        1 => local_sources.pop(),
        _ => Some(Arc::new(MergedAdvisories(local_sources))),
    };
    if let Some(http) = &http {
        let online = Arc::new(OsvClient::new(http.clone(), &settings.osv_url));
        advisory_sources.push(Arc::new(CachedAdvisories::new(
            online,
            store.clone(),
            cache_settings.clone(),
        )));
    }
    let advisories: Arc<dyn Advisories> = if advisory_sources.len() == 1 {
        advisory_sources.remove(0)
    } else {
        Arc::new(MergedAdvisories(advisory_sources))
    };

    let registry: Arc<dyn Registry> = match &http {
        Some(http) => Arc::new(cached_registries(settings, http.clone(), store.clone())),
        None => Arc::new(NoRegistry("registry lookups are off: no HTTP client".to_string())),
    };

    let attestations = match (
        TrustRoot::load(settings.trusted_root.as_deref()),
        NpmKeys::bundled(),
        &http,
    ) {
        (Ok(root), Ok(keys), Some(http)) => {
            let client = Arc::new(AttestationClient::new(http.clone(), root, keys));
            Some(Arc::new(CachedAttestations::new(client, store, cache_settings)) as Arc<dyn Attestations>)
        }
        (Err(error), _, _) | (_, Err(error), _) => {
            messages.push(format!("provenance verification is off: {error}"));
            None
        }
        _ => None,
    };
    (
        Lookup {
            registry,
            advisories,
            local_advisories,
            attestations,
        },
        messages,
    )
}
