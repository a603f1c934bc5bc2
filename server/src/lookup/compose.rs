//! Builds the `Lookup` the front ends hold from `LookupSettings`: registry clients and OSV sources
//! behind the shared cache.
//!
//! Invariants:
//! - Offline means no network client is built at all: answers come from the cache and `osv-db`.
//! - A source that cannot be set up (unreadable `osv-db`, bad trusted root) is a message, never a failure.

use std::sync::Arc;
use std::time::Duration;

use crate::lookup::attestations::{AttestationClient, NpmKeys, TrustRoot};
use crate::lookup::osv::OsvClient;
use crate::lookup::osv_offline::OfflineDb;
use crate::lookup::{Advisories, Lookup, LookupSettings, MergedAdvisories, NoAdvisories, NoRegistry};

/// One HTTP client per process: TLS through the operating system's trust store, system proxies.
pub fn http_client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .ok()
}

/// The lookup layer for `settings`, and messages about sources that could not be set up.
pub fn compose(settings: &LookupSettings) -> (Lookup, Vec<String>) {
    let mut messages = Vec::new();
    let mut advisory_sources: Vec<Arc<dyn Advisories>> = Vec::new();
    if !settings.osv_db.is_empty() {
        let (db, errors) = OfflineDb::load(&settings.osv_db);
        messages.extend(errors);
        advisory_sources.push(Arc::new(db));
    }
    let http = if settings.offline { None } else { http_client() };
    if let Some(http) = &http {
        advisory_sources.push(Arc::new(OsvClient::new(http.clone(), &settings.osv_url)));
    }
    let advisories: Arc<dyn Advisories> = match advisory_sources.len() {
        0 => Arc::new(NoAdvisories(
            "offline and no --osv-db given: advisories unknown".to_string(),
        )),
        1 => advisory_sources.remove(0),
        _ => Arc::new(MergedAdvisories(advisory_sources)),
    };
    let attestations = match (TrustRoot::load(settings.trusted_root.as_deref()), NpmKeys::bundled()) {
        (Ok(root), Ok(keys)) => http
            .clone()
            .map(|http| Arc::new(AttestationClient::new(http, root, keys)) as Arc<dyn crate::lookup::Attestations>),
        (Err(error), _) | (_, Err(error)) => {
            messages.push(format!("provenance verification is off: {error}"));
            None
        }
    };
    let registry = Arc::new(NoRegistry(if settings.offline {
        "offline: registry data unknown".to_string()
    } else {
        "registry lookups are not available".to_string()
    }));
    (
        Lookup {
            registry,
            advisories,
            attestations,
        },
        messages,
    )
}
