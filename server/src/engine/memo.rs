//! What one document's evaluations keep between keystrokes, so an edit re-checks only the dependencies it
//! touched: how each requirement was decided (parsed, and resolved against the versions the facts
//! list), the checks' raw findings per dependency (before the policy), and the solver's answers
//! (`fix::Memo`). A 300-dependency manifest otherwise runs every check of every dependency on every
//! keystroke, although one edit changes one dependency.
//!
//! Invariants:
//! - Deciding a requirement is a pure function of the package, the requirement text (and its syntax),
//!   the lockfile's pin, the facts and the installer's cooldown at `now`: reused for the same ones.
//! - Checks are pure functions of the context (`now`, facts, the policy's thresholds and signal rules)
//!   and of the dependency. A result is reused only for the very same facts (`Arc` identity, held weakly so
//!   the address cannot be reused), the same policy (compared in full, untrusted floor included), the
//!   same `now`, and an equal dependency (package, requirement text and parse, decided version and how,
//!   the path that pulls it in, private or not). Its position (`span`, index) is not part of the
//!   question: a reused finding is moved to the dependency's current place.
//! - `now` moving forgets only the answers time could change: an answer about a package every age
//!   threshold (the policy's, the untrusted floor's, the installer's) has passed for, at every version
//!   and at its creation, with no fixed `exclude-newer` cutoff, and (for the checks) with the decided
//!   version's publish time known (else the pre-advisory signals run, which read other packages' ages),
//!   reads nothing that moves with time from then on: it is kept for any later `now` (`settled`). Check
//!   states do not read the clock at all. So the minute's first keystroke re-checks only what is young.
//! - So reusing a result gives exactly what running the checks would give; it is never a guess. The
//!   caller decides how often `now` moves (the editor ticks it once a minute).
//! - Bounded: past `MAX_ENTRIES` answers the memo starts over.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;

use super::{CheckStates, Privacy};
use crate::checks::{self, AgeThresholds, CheckCtx, Finding, ResolvedDep};
use crate::fix;
use crate::model::{Fact, Facts, PackageRef};
use crate::policy::Policy;
use crate::resolve::{Requirement, Resolved};

/// What deciding a requirement reads besides the facts, the policy and `now`.
pub(super) struct Question<'a> {
    pub package: &'a PackageRef,
    /// Poetry's constraint syntax.
    pub poetry: bool,
    pub requirement: Option<&'a str>,
    pub locked: Option<&'a str>,
}

struct Decided {
    /// From this time on the answer no longer depends on `now` (`settled`).
    settled_since: Option<Timestamp>,
    poetry: bool,
    requirement_text: Option<String>,
    locked: Option<String>,
    requirement: Option<Requirement>,
    resolved: Resolved,
}

/// More answers than a document has dependencies means it changed a lot: start over.
const MAX_ENTRIES: usize = 8192;

/// The checks' answer for one dependency, with `dep` and `span` of its findings zeroed.
struct Checked {
    /// From this time on the answer no longer depends on `now` (`settled`).
    settled_since: Option<Timestamp>,
    /// Shared with `Memo::states` (`Memo::key_for`).
    dep: Arc<ResolvedDep>,
    raw: Vec<Finding>,
    /// At the untrusted project's floor (the user's own thresholds), when the policy has one.
    floor: Vec<Finding>,
}

/// How often the checks' answers were reused; for benches and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoStats {
    pub reused: usize,
    pub checked: usize,
}

/// What the memo knows about one package.
#[derive(Default)]
struct Answers {
    checks: Vec<Checked>,
    decided: Vec<Decided>,
    /// Each check's state (`states::check_states`), which reads the facts the way the checks do.
    states: Vec<(Arc<ResolvedDep>, PrivacyKey, CheckStates)>,
    /// One copy of each dependency the answers above are about (span zeroed), which `checks` and
    /// `states` share: a document held two copies of every dependency's record otherwise.
    keys: Vec<Arc<ResolvedDep>>,
}

impl Answers {
    fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.decided.is_empty() && self.states.is_empty() && self.keys.is_empty()
    }
}

/// One document's memo; see the module doc.
#[derive(Default)]
pub struct Memo {
    /// The facts the answers came from, by identity only: held weakly, so memos do not keep old
    /// generations of the server's facts alive, while the allocation stays reserved (no new facts
    /// take its address).
    facts: Option<std::sync::Weak<Facts>>,
    policy: String,
    now: Option<Timestamp>,
    /// The answers about each package, in one map: four maps held four copies of every name.
    packages: HashMap<PackageRef, Answers>,
    entries: usize,
    stats: MemoStats,
    pub(super) fix: fix::Memo,
}

impl Memo {
    /// Forgets the checks' answers unless `facts`, `policy` and `now` are the ones they were given with
    /// (the solver's memo keeps its own, time-windowed rule).
    pub(super) fn begin(&mut self, facts: &Arc<Facts>, policy: &Policy, now: Timestamp) {
        let policy_key = format!("{policy:?}");
        let same_facts = self
            .facts
            .as_ref()
            .is_some_and(|known| std::ptr::eq(known.as_ptr(), Arc::as_ptr(facts)));
        if !same_facts || self.policy != policy_key || self.entries > MAX_ENTRIES {
            self.packages.clear();
            self.entries = 0;
            self.facts = Some(Arc::downgrade(facts));
        } else if self.now != Some(now) {
            let holds = |since: Option<Timestamp>| since.is_some_and(|since| since <= now);
            self.packages.retain(|_, answers| {
                answers.checks.retain(|answer| holds(answer.settled_since));
                answers.decided.retain(|answer| holds(answer.settled_since));
                // Keys no answer holds any more.
                answers.keys.retain(|key| Arc::strong_count(key) > 1);
                !answers.is_empty()
            });
            self.entries = self
                .packages
                .values()
                .map(|answers| answers.checks.len() + answers.decided.len() + answers.states.len())
                .sum();
        }
        self.now = Some(now);
        self.fix.begin_with(facts, &policy_key);
        self.policy = policy_key;
    }

    /// `decide()` (the parsed requirement and the resolved version), or its earlier answer to the same
    /// question. `settled`: the answer cannot change with time from `now` on (`settled`, or it reads no
    /// version list).
    pub(super) fn resolution(
        &mut self,
        question: Question<'_>,
        settled: bool,
        decide: impl FnOnce() -> (Option<Requirement>, Resolved),
    ) -> (Option<Requirement>, Resolved) {
        let same = |known: &&Decided| {
            known.poetry == question.poetry
                && known.requirement_text.as_deref() == question.requirement
                && known.locked.as_deref() == question.locked
        };
        if let Some(found) = self
            .packages
            .get(question.package)
            .and_then(|answers| answers.decided.iter().find(same))
        {
            return (found.requirement.clone(), found.resolved.clone());
        }
        let (requirement, resolved) = decide();
        self.entries += 1;
        let decided = Decided {
            settled_since: if settled { self.now } else { None },
            poetry: question.poetry,
            requirement_text: question.requirement.map(str::to_string),
            locked: question.locked.map(str::to_string),
            requirement: requirement.clone(),
            resolved: resolved.clone(),
        };
        push_one(&mut self.answers(question.package).decided, decided);
        (requirement, resolved)
    }

    /// `states()` for `dep` behind `privacy`, or the earlier answer for an equal dependency.
    pub(super) fn check_states(
        &mut self,
        dep: &ResolvedDep,
        privacy: PrivacyKey,
        states: impl FnOnce() -> CheckStates,
    ) -> CheckStates {
        if let Some((_, _, found)) = self.packages.get(&dep.package).and_then(|answers| {
            answers
                .states
                .iter()
                .find(|(known, known_privacy, _)| *known_privacy == privacy && same_question(known, dep))
        }) {
            return found.clone();
        }
        let res = states();
        self.entries += 1;
        let key = self.key_for(dep);
        push_one(&mut self.answers(&dep.package).states, (key, privacy, res.clone()));
        res
    }

    /// The shared copy of `dep` (span zeroed) that answers about it are keyed by.
    fn key_for(&mut self, dep: &ResolvedDep) -> Arc<ResolvedDep> {
        let keys = &mut self.answers(&dep.package).keys;
        if let Some(known) = keys.iter().find(|known| same_question(known, dep)) {
            return known.clone();
        }
        let key = Arc::new(ResolvedDep {
            span: Default::default(),
            ..dep.clone()
        });
        push_one(keys, key.clone());
        key
    }

    /// The answers about `package`, made empty the first time (only asked when an answer is added).
    fn answers(&mut self, package: &PackageRef) -> &mut Answers {
        self.packages.entry(package.clone()).or_default()
    }

    pub fn stats(&self) -> MemoStats {
        self.stats
    }

    /// `checks::run_all` for `dep` (and at the floor, when `floor_ctx` is given), or the earlier answer
    /// for an equal dependency, appended to `raw` and `raw_floor` at `dep_idx` and `dep.span`.
    pub(super) fn run_all(
        &mut self,
        ctx: &CheckCtx<'_>,
        floor_ctx: Option<&CheckCtx<'_>>,
        dep_idx: usize,
        dep: &ResolvedDep,
        raw: &mut Vec<Finding>,
        raw_floor: &mut Vec<Finding>,
    ) {
        let place = |finding: &Finding| Finding {
            dep: dep_idx,
            span: dep.span,
            ..finding.clone()
        };
        if let Some(found) = self
            .packages
            .get(&dep.package)
            .and_then(|answers| answers.checks.iter().find(|answer| same_question(&answer.dep, dep)))
        {
            self.stats.reused += 1;
            raw.extend(found.raw.iter().map(place));
            raw_floor.extend(found.floor.iter().map(place));
            return;
        }
        self.stats.checked += 1;
        let (raw_start, floor_start) = (raw.len(), raw_floor.len());
        checks::run_all(ctx, dep_idx, dep, raw);
        if let Some(floor_ctx) = floor_ctx {
            checks::run_all(floor_ctx, dep_idx, dep, raw_floor);
        }
        let unplace = |finding: &Finding| Finding {
            dep: 0,
            span: Default::default(),
            ..finding.clone()
        };
        let mut ages = vec![ctx.age];
        ages.extend(floor_ctx.map(|floor| floor.age));
        let settled = settled(ctx.facts, &dep.package, &ages, ctx.now) && publish_time_known(ctx.facts, dep);
        let answer = Checked {
            settled_since: settled.then_some(ctx.now),
            dep: self.key_for(dep),
            raw: raw.get(raw_start..).unwrap_or_default().iter().map(unplace).collect(),
            floor: raw_floor
                .get(floor_start..)
                .unwrap_or_default()
                .iter()
                .map(unplace)
                .collect(),
        };
        self.entries += 1;
        push_one(&mut self.answers(&dep.package).checks, answer);
    }
}

/// What the check states depend on besides the dependency: its privacy, and why its private
/// registry is not trusted (`AnalyzedDep::untrusted_source`).
pub(super) type PrivacyKey = (Privacy, Option<String>);

/// Pushes onto a package's list of answers, making room for one at first: most packages get one answer,
/// and a first push into an empty `Vec` reserves four (ten open 300-dependency manifests held ~8 MB of
/// empty slots).
fn push_one<T>(answers: &mut Vec<T>, answer: T) {
    if answers.capacity() == 0 {
        answers.reserve_exact(1);
    }
    answers.push(answer);
}

/// Whether the checks would see the same dependency (everything but where it is written).
fn same_question(known: &ResolvedDep, dep: &ResolvedDep) -> bool {
    let ResolvedDep {
        package,
        requirement_text,
        requirement,
        resolved,
        span: _,
        via,
        private,
    } = dep;
    known.package == *package
        && known.requirement_text == *requirement_text
        && known.requirement == *requirement
        && known.resolved == *resolved
        && known.via == *via
        && known.private == *private
}

/// Whether no answer about `package` that reads its publish times through the thresholds `ages` can
/// change from `now` on: every threshold has passed for its newest publish and for its creation (times
/// only grow older), and no fixed cutoff (`exclude-newer`) is set, whose message states an age that
/// keeps growing. A package without registry facts reads no time (the facts never change in one memo).
pub(super) fn settled(facts: &Facts, package: &PackageRef, ages: &[&AgeThresholds], now: Timestamp) -> bool {
    if ages
        .iter()
        .any(|age| age.exclude_newer.is_some() || !age.exclude_newer_package.is_empty())
    {
        return false;
    }
    let Some(known) = facts.packages.get(package).and_then(Fact::known) else {
        return true;
    };
    let Some(newest) = known
        .versions
        .iter()
        .filter_map(|v| v.published())
        .chain(known.created)
        .max()
    else {
        return true;
    };
    let longest = ages
        .iter()
        .flat_map(|age| {
            [
                Some(age.min_version_age),
                Some(age.min_package_age),
                age.installer_min_age,
            ]
        })
        .flatten()
        .max();
    // A time past the end of timestamps is never reached.
    longest.is_none_or(|longest| newest.checked_add(longest).is_ok_and(|at| at <= now))
}

/// Whether the decided version's publish time is known when its facts are: without it the pre-advisory
/// signals run for the newest version, and they read other packages' ages.
fn publish_time_known(facts: &Facts, dep: &ResolvedDep) -> bool {
    let Some(version) = dep.resolved.version.as_deref() else {
        return true;
    };
    let Some(known) = facts.packages.get(&dep.package).and_then(Fact::known) else {
        return true;
    };
    checks::age::version_facts(known, dep.package.ecosystem, version).is_none_or(|v| v.published().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Ecosystem, Span, VersionSource};

    fn dep(requirement: &str, at: usize) -> ResolvedDep {
        ResolvedDep {
            package: PackageRef::new(Ecosystem::Npm, "left-pad"),
            requirement_text: Some(requirement.to_string()),
            requirement: None,
            resolved: Resolved {
                version: Some("1.3.0".to_string()),
                source: VersionSource::Resolved,
            },
            span: Span { start: at, end: at + 6 },
            via: Vec::new(),
            private: false,
        }
    }

    /// The answers about one dependency share one copy of it, wherever it is written; another
    /// question gets its own, and a copy no answer holds is let go when the answers are.
    #[test]
    fn answers_about_one_dependency_share_one_copy_of_it() {
        let mut memo = Memo::default();
        let first = memo.key_for(&dep("^1.3.0", 10));
        let moved = memo.key_for(&dep("^1.3.0", 99));
        assert!(Arc::ptr_eq(&first, &moved));
        assert_eq!(first.span, Span::default());
        let other = memo.key_for(&dep("~1.3.0", 10));
        assert!(!Arc::ptr_eq(&first, &other));
        drop((first, moved, other));
        memo.now = Some(Timestamp::UNIX_EPOCH);
        let facts = Arc::new(Facts::default());
        memo.facts = Some(Arc::downgrade(&facts));
        memo.policy = format!("{:?}", Policy::default());
        memo.begin(&facts, &Policy::default(), Timestamp::from_second(60).unwrap());
        assert!(memo.packages.is_empty());
    }

    /// A document's memo recognises the facts it answered from without keeping them: the server
    /// replaces its facts as lookups land, and memos holding each document's last generation kept
    /// every generation alive (ten open manifests: ~1.2 MB of old maps). Facts it no longer holds are
    /// never mistaken for new ones at the same address.
    #[test]
    fn the_memo_does_not_keep_the_facts_it_answered_from() {
        let mut memo = Memo::default();
        let policy = Policy::default();
        let now = Timestamp::UNIX_EPOCH;
        let facts = Arc::new(Facts::default());
        memo.begin(&facts, &policy, now);
        assert_eq!(Arc::strong_count(&facts), 1);
        memo.key_for(&dep("^1.3.0", 10));
        memo.entries = 1;
        memo.begin(&facts, &policy, now);
        assert_eq!(memo.entries, 1, "the same facts keep the answers");
        let newer = Arc::new(Facts::default());
        memo.begin(&newer, &policy, now);
        assert_eq!(memo.entries, 0, "other facts forget them");
        assert_eq!((Arc::strong_count(&facts), Arc::strong_count(&newer)), (1, 1));
        // The facts it answered from are let go; new facts are new even at the same address.
        memo.entries = 1;
        drop(newer);
        for _ in 0..100 {
            let other = Arc::new(Facts::default());
            memo.entries = 1;
            memo.begin(&other, &policy, now);
            assert_eq!(memo.entries, 0);
        }
    }
}
