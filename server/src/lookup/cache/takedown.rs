//! The takedown memory: which (version, digest) pairs a registry listed before and no longer lists.
//!
//! Invariants:
//! - The store appends observations and never erases a version it once saw; a version that disappears
//!   comes back as `Vanished`, so an unpublished or taken-down version is reported, never forgotten.
//! - `vanished_from` is pure (rows and a fresh document in, what vanished out); SQL stays in `store`.

use jiff::Timestamp;

use crate::lookup::cache::store::{Store, from_millis, millis};
use crate::model::{PackageFacts, Vanished};

/// One (version, digest) of the takedown memory, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRow {
    pub version: String,
    /// Empty when the registry gave no digest for the version.
    pub digest: String,
    pub last_seen: Timestamp,
    pub missing_since: Option<Timestamp>,
}

/// What of the takedown memory `rows` is missing from a fresh document `facts` fetched at `now`:
/// versions no longer listed (one entry per version) and versions whose artifact digest changed, and
/// the (version, digest) rows missing for the first time (to be marked `missing_since = now`).
pub fn vanished_from(rows: &[SeenRow], facts: &PackageFacts, now: Timestamp) -> (Vec<Vanished>, Vec<(String, String)>) {
    let now = from_millis(millis(now));
    let listed: std::collections::HashMap<&str, &crate::model::VersionFacts> =
        facts.versions.iter().map(|v| (v.version.as_str(), v)).collect();
    let mut gone: std::collections::BTreeMap<&str, (Timestamp, Timestamp)> = std::collections::BTreeMap::new();
    let mut changed = Vec::new();
    let mut newly_missing = Vec::new();
    for row in rows {
        let current = listed.get(row.version.as_str());
        let missing = match current {
            None => true,
            Some(current) => {
                !row.digest.is_empty() && !current.digests.is_empty() && !current.digests.contains(&row.digest)
            }
        };
        if !missing {
            continue;
        }
        let since = match row.missing_since {
            Some(since) => since,
            None => {
                newly_missing.push((row.version.clone(), row.digest.clone()));
                now
            }
        };
        if current.is_none() {
            let entry = gone.entry(row.version.as_str()).or_insert((row.last_seen, since));
            entry.0 = entry.0.max(row.last_seen);
            entry.1 = entry.1.min(since);
        } else {
            changed.push(Vanished {
                version: row.version.clone(),
                last_seen: row.last_seen,
                missing_since: since,
                changed_digest: Some(row.digest.clone()),
            });
        }
    }
    let mut res: Vec<Vanished> = gone
        .into_iter()
        .map(|(version, (last_seen, missing_since))| Vanished {
            version: version.to_string(),
            last_seen,
            missing_since,
            changed_digest: None,
        })
        .collect();
    res.extend(changed);
    (res, newly_missing)
}
pub(super) fn seen_many(
    store: &Store,
    _kind: &'static str,
    packages: Vec<String>,
) -> Vec<Option<Vec<crate::lookup::cache::takedown::SeenRow>>> {
    match store.seen_many(&packages) {
        Ok(rows) => rows.into_iter().map(Some).collect(),
        Err(err) => {
            tracing::debug!("cannot read the takedown memory: {err}");
            Vec::new()
        }
    }
}
