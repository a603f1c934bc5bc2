//! The facts the server holds for its open documents, per lookup configuration: when each one is due to
//! be asked again, and releasing what no open document reads any more.
//!
//! Invariants:
//! - A fact is held only while an open document reads it (`retain` with the union of their `uses`), so
//!   memory follows the open documents, not every name ever typed.
//! - A known answer is asked again when the cache's time-to-live for its kind (`Ttls`) has passed since
//!   it was fetched, so a session open for a day sees a new advisory, yank or takedown. Until the new
//!   answer lands the old one keeps answering (`Facts::merge` never replaces a known fact by a failure).
//! - An answer that could not be had (`Unavailable`, or a known one served stale because the source
//!   failed) is asked again after a bounded exponential backoff (`RETRY_FIRST` doubling up to
//!   `RETRY_MAX`); the count resets when an answer lands. "Not found" is an answer, kept `not_found` long.
//! - Pure bookkeeping: time comes in as arguments (the server's clock), nothing here sleeps or fetches.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::lookup::cache::Ttls;
use crate::model::{Fact, Facts, PackageRef, Provenance, Query};

/// The first wait before a failed answer is asked again; it doubles with each failure.
pub const RETRY_FIRST: Duration = Duration::from_secs(60);
/// The longest wait between two tries of a failing answer.
pub const RETRY_MAX: Duration = Duration::from_secs(30 * 60);
/// The shortest wait before asking again, so an answer that arrives already past its time-to-live (an
/// old store row) is not asked again in a loop.
const MIN_REFRESH: Duration = Duration::from_secs(30);

/// Which fact a query fills (`LocalAdvisories` fills the same advisories as `Advisories`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FactKey {
    Package(PackageRef),
    Advisories(PackageRef),
    Provenance(PackageRef, String),
}

impl FactKey {
    pub fn of(query: &Query) -> FactKey {
        match query {
            Query::Package { package, .. } => FactKey::Package(package.clone()),
            Query::Advisories { package } | Query::LocalAdvisories { package } => FactKey::Advisories(package.clone()),
            Query::Provenance { package, version, .. } => FactKey::Provenance(package.clone(), version.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Refresh {
    at: Timestamp,
    failures: u32,
}

/// The facts of one lookup configuration and when each is due.
#[derive(Default)]
pub struct Held {
    facts: Arc<Facts>,
    due: HashMap<FactKey, Refresh>,
}

impl Held {
    pub fn facts(&self) -> Arc<Facts> {
        self.facts.clone()
    }

    /// The held facts without those due at `now`: what `engine::needs` is given, so it asks for them
    /// again while the held ones keep answering.
    pub fn without_due(&self, now: Timestamp) -> Arc<Facts> {
        let due: Vec<&FactKey> = self
            .due
            .iter()
            .filter(|(_, refresh)| refresh.at <= now)
            .map(|(key, _)| key)
            .collect();
        if due.is_empty() {
            return self.facts.clone();
        }
        let mut view = (*self.facts).clone();
        for key in due {
            match key {
                FactKey::Package(package) => {
                    view.packages.remove(package);
                }
                FactKey::Advisories(package) => {
                    view.advisories.remove(package);
                }
                FactKey::Provenance(package, version) => {
                    view.provenance.remove(&(package.clone(), version.clone()));
                }
            }
        }
        Arc::new(view)
    }

    /// Merges newly fetched facts and schedules when each is asked again. A key `asked` for that did not
    /// come back counts as a failure (so it is not asked again in a loop).
    pub fn merge(&mut self, fetched: Facts, asked: &[Query], now: Timestamp, ttls: &Ttls) {
        for query in asked {
            let key = FactKey::of(query);
            let answered = match &key {
                FactKey::Package(package) => fetched.packages.contains_key(package),
                FactKey::Advisories(package) => fetched.advisories.contains_key(package),
                FactKey::Provenance(package, version) => {
                    fetched.provenance.contains_key(&(package.clone(), version.clone()))
                }
            };
            if !answered {
                self.schedule(key, None, now);
            }
        }
        for (package, fact) in &fetched.packages {
            let ttl = ttls.versions;
            self.schedule_fact(FactKey::Package(package.clone()), fact, ttl, now, ttls);
        }
        for (package, fact) in &fetched.advisories {
            let key = FactKey::Advisories(package.clone());
            if fetched.advisory_caveats.contains_key(package) {
                // Less than asked for (one source failed, another answered): retried like a failure.
                self.schedule(key, None, now);
            } else {
                self.schedule_fact(key, fact, ttls.advisories, now, ttls);
            }
        }
        for ((package, version), fact) in &fetched.provenance {
            let ttl = match fact {
                Fact::Known {
                    value: Provenance::Verified(_),
                    ..
                } => ttls.verified_provenance,
                _ => ttls.versions,
            };
            self.schedule_fact(
                FactKey::Provenance(package.clone(), version.clone()),
                fact,
                ttl,
                now,
                ttls,
            );
        }
        // Always a new `Arc`, never merged in place: memos recognise the facts they answered from by
        // identity.
        let mut merged = (*self.facts).clone();
        merged.merge(fetched);
        self.facts = Arc::new(merged);
    }

    fn schedule_fact<T>(&mut self, key: FactKey, fact: &Fact<T>, ttl: Duration, now: Timestamp, ttls: &Ttls) {
        let answered = match fact {
            Fact::Known {
                as_of, stale: false, ..
            } => Some(expiry(*as_of, ttl, now)),
            Fact::Unavailable(note) if note.is_not_found() => Some(later(now, ttls.not_found)),
            Fact::Known { stale: true, .. } | Fact::Unavailable(_) => None,
            Fact::Pending => return,
        };
        self.schedule(key, answered, now);
    }

    /// `answered`: when the answer expires; `None` when it could not be had (backoff).
    fn schedule(&mut self, key: FactKey, answered: Option<Timestamp>, now: Timestamp) {
        let refresh = match answered {
            Some(at) => Refresh { at, failures: 0 },
            None => {
                let failures = self.due.get(&key).map_or(0, |r| r.failures).saturating_add(1);
                Refresh {
                    at: later(now, backoff(failures)),
                    failures,
                }
            }
        };
        self.due.insert(key, refresh);
    }

    /// The earliest time one of `keys` is due, if any is held.
    pub fn next_due<'a>(&self, keys: impl IntoIterator<Item = &'a FactKey>) -> Option<Timestamp> {
        keys.into_iter().filter_map(|key| self.due.get(key)).map(|r| r.at).min()
    }

    /// Keeps only the facts some open document reads; `false` when nothing is left.
    pub fn retain(&mut self, used: &HashSet<FactKey>) -> bool {
        let unused = |key: FactKey| !used.contains(&key);
        let drops = self.facts.packages.keys().any(|p| unused(FactKey::Package(p.clone())))
            || self
                .facts
                .advisories
                .keys()
                .any(|p| unused(FactKey::Advisories(p.clone())))
            || (self.facts.provenance.keys()).any(|(p, v)| unused(FactKey::Provenance(p.clone(), v.clone())));
        if drops {
            let mut kept = (*self.facts).clone();
            kept.packages.retain(|p, _| used.contains(&FactKey::Package(p.clone())));
            kept.advisories
                .retain(|p, _| used.contains(&FactKey::Advisories(p.clone())));
            kept.advisory_caveats
                .retain(|p, _| used.contains(&FactKey::Advisories(p.clone())));
            kept.advisory_notes
                .retain(|p, _| used.contains(&FactKey::Advisories(p.clone())));
            kept.provenance
                .retain(|(p, v), _| used.contains(&FactKey::Provenance(p.clone(), v.clone())));
            kept.packages.shrink_to_fit();
            kept.advisories.shrink_to_fit();
            kept.provenance.shrink_to_fit();
            self.facts = Arc::new(kept);
        }
        self.due.retain(|key, _| used.contains(key));
        self.due.shrink_to_fit();
        !(self.facts.packages.is_empty() && self.facts.advisories.is_empty() && self.facts.provenance.is_empty())
    }

    /// How many packages something is held for, and how many facts are held.
    pub fn counts(&self) -> (usize, usize) {
        let facts = &self.facts;
        let mut packages: std::collections::HashSet<&PackageRef> = facts.packages.keys().collect();
        packages.extend(facts.advisories.keys());
        packages.extend(facts.provenance.keys().map(|(p, _)| p));
        let n_facts = facts.packages.len() + facts.advisories.len() + facts.provenance.len();
        (packages.len(), n_facts)
    }

    /// The names of every package something is held for.
    #[cfg(test)]
    pub fn package_names(&self) -> Vec<String> {
        let mut names: Vec<String> = (self.facts.packages.keys())
            .chain(self.facts.advisories.keys())
            .chain(self.facts.provenance.keys().map(|(p, _)| p))
            .map(|p| p.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The wait after `failures` failed tries: `RETRY_FIRST`, doubling, at most `RETRY_MAX`.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RETRY_FIRST.saturating_mul(1 << doublings).min(RETRY_MAX)
}

/// When an answer fetched at `as_of` is asked again: its time-to-live after it was fetched, but never
/// sooner than `MIN_REFRESH` from now.
fn expiry(as_of: Timestamp, ttl: Duration, now: Timestamp) -> Timestamp {
    let by_ttl = later(as_of, ttl);
    by_ttl.max(later(now, MIN_REFRESH))
}

pub fn later(from: Timestamp, wait: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(wait)
        .ok()
        .and_then(|wait| from.checked_add(wait).ok())
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ecosystem, Note, PackageFacts};

    fn package(name: &str) -> PackageRef {
        PackageRef::new(Ecosystem::Npm, name)
    }

    fn known(as_of: Timestamp) -> Fact<Arc<PackageFacts>> {
        Fact::Known {
            value: Arc::new(PackageFacts::default()),
            as_of,
            stale: false,
        }
    }

    fn failed() -> Fact<Arc<PackageFacts>> {
        Fact::Unavailable(Note {
            source: "registry".to_string(),
            message: "could not reach 127.0.0.1".to_string(),
        })
    }

    fn with_package(name: &str, fact: Fact<Arc<PackageFacts>>) -> Facts {
        let mut facts = Facts::default();
        facts.packages.insert(package(name), fact);
        facts
    }

    fn start() -> Timestamp {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_known_answer_is_due_after_its_time_to_live() {
        let ttls = Ttls::default();
        let mut held = Held::default();
        held.merge(with_package("a", known(start())), &[], start(), &ttls);
        let key = FactKey::Package(package("a"));
        assert_eq!(held.next_due([&key]), Some(later(start(), ttls.versions)));
        assert!(
            held.without_due(later(start(), ttls.versions - Duration::from_secs(1)))
                .packages
                .contains_key(&package("a"))
        );
        assert!(
            !held
                .without_due(later(start(), ttls.versions))
                .packages
                .contains_key(&package("a"))
        );
        // Still held for the hover until the new answer lands.
        assert!(held.facts().packages.contains_key(&package("a")));
    }

    #[test]
    fn failures_back_off_exponentially_up_to_a_bound_and_reset_on_success() {
        let ttls = Ttls::default();
        let mut held = Held::default();
        let key = FactKey::Package(package("a"));
        let mut now = start();
        let mut waits = Vec::new();
        for _ in 0..8 {
            held.merge(with_package("a", failed()), &[], now, &ttls);
            let due = held.next_due([&key]).unwrap();
            waits.push(due.duration_since(now).as_secs());
            now = due;
        }
        assert_eq!(waits, [60, 120, 240, 480, 960, 1800, 1800, 1800]);
        held.merge(with_package("a", known(now)), &[], now, &ttls);
        held.merge(with_package("a", failed()), &[], now, &ttls);
        assert_eq!(held.next_due([&key]), Some(later(now, RETRY_FIRST)), "reset on success");
        // A failure never replaces the known answer.
        assert!(matches!(held.facts().packages[&package("a")], Fact::Known { .. }));
    }

    #[test]
    fn an_advisory_answer_with_a_caveat_is_retried_like_a_failure() {
        let ttls = Ttls::default();
        let mut held = Held::default();
        let mut facts = Facts::default();
        facts.advisories.insert(
            package("a"),
            Fact::Known {
                value: Vec::new(),
                as_of: start(),
                stale: false,
            },
        );
        facts.advisory_caveats.insert(
            package("a"),
            "advisories from the offline snapshot; the OSV API failed".to_string(),
        );
        held.merge(facts, &[], start(), &ttls);
        let key = FactKey::Advisories(package("a"));
        assert_eq!(held.next_due([&key]), Some(later(start(), RETRY_FIRST)));
    }

    #[test]
    fn a_key_asked_for_that_did_not_come_back_is_retried_later() {
        let ttls = Ttls::default();
        let mut held = Held::default();
        let asked = [Query::Provenance {
            package: package("a"),
            version: "1.0.0".to_string(),
            source: crate::model::RegistrySource::Public,
        }];
        held.merge(Facts::default(), &asked, start(), &ttls);
        let key = FactKey::Provenance(package("a"), "1.0.0".to_string());
        assert_eq!(held.next_due([&key]), Some(later(start(), RETRY_FIRST)));
    }

    #[test]
    fn not_found_is_an_answer_kept_briefly() {
        let ttls = Ttls::default();
        let mut held = Held::default();
        let not_found = Fact::Unavailable(Note {
            source: format!("registry{}", crate::model::NOT_FOUND_SOURCE_SUFFIX),
            message: "`a` was not found".to_string(),
        });
        held.merge(with_package("a", not_found), &[], start(), &ttls);
        assert_eq!(
            held.next_due([&FactKey::Package(package("a"))]),
            Some(later(start(), ttls.not_found))
        );
    }

    #[test]
    fn an_answer_already_past_its_time_to_live_is_not_asked_again_at_once() {
        let ttls = Ttls::default();
        let mut held = Held::default();
        let old = start().checked_sub(jiff::SignedDuration::from_hours(5)).unwrap();
        held.merge(with_package("a", known(old)), &[], start(), &ttls);
        assert_eq!(
            held.next_due([&FactKey::Package(package("a"))]),
            Some(later(start(), MIN_REFRESH))
        );
    }

    #[test]
    fn retain_releases_what_no_document_reads() {
        let ttls = Ttls::default();
        let mut held = Held::default();
        let mut facts = with_package("shared", known(start()));
        facts.packages.insert(package("only-a"), known(start()));
        held.merge(facts, &[], start(), &ttls);
        let used: HashSet<FactKey> = [FactKey::Package(package("shared"))].into_iter().collect();
        assert!(held.retain(&used));
        assert_eq!(held.package_names(), ["shared"]);
        assert_eq!(held.next_due([&FactKey::Package(package("only-a"))]), None);
        assert!(!held.retain(&HashSet::new()));
    }
}
