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
//!   and of the dependency. A result is reused only for the very same facts (`Arc` identity, held so
//!   the address cannot be reused), the same policy (compared in full, untrusted floor included), the
//!   same `now`, and an equal dependency (package, requirement text and parse, decided version and how,
//!   the path that pulls it in, private or not). Its position (`span`, index) is not part of the
//!   question: a reused finding is moved to the dependency's current place.
//! - So reusing a result gives exactly what running the checks would give; it is never a guess. The
//!   caller decides how often `now` moves (the editor ticks it once a minute).
//! - Bounded: past `MAX_ENTRIES` answers the memo starts over.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;

use super::{CheckStates, Privacy};
use crate::checks::{self, CheckCtx, Finding, ResolvedDep};
use crate::fix;
use crate::model::{Facts, PackageRef};
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
    dep: ResolvedDep,
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

/// One document's memo; see the module doc.
#[derive(Default)]
pub struct Memo {
    facts: Option<Arc<Facts>>,
    policy: String,
    now: Option<Timestamp>,
    checks: HashMap<PackageRef, Vec<Checked>>,
    decided: HashMap<PackageRef, Vec<Decided>>,
    /// Each check's state (`states::check_states`), which reads the facts the way the checks do.
    states: HashMap<PackageRef, Vec<(ResolvedDep, PrivacyKey, CheckStates)>>,
    entries: usize,
    stats: MemoStats,
    pub(super) fix: fix::Memo,
}

impl Memo {
    /// Forgets the checks' answers unless `facts`, `policy` and `now` are the ones they were given with
    /// (the solver's memo keeps its own, time-windowed rule).
    pub(super) fn begin(&mut self, facts: &Arc<Facts>, policy: &Policy, now: Timestamp) {
        let policy_key = format!("{policy:?}");
        let same_facts = self.facts.as_ref().is_some_and(|known| Arc::ptr_eq(known, facts));
        if !same_facts || self.policy != policy_key || self.now != Some(now) || self.entries > MAX_ENTRIES {
            self.checks.clear();
            self.decided.clear();
            self.states.clear();
            self.entries = 0;
            self.facts = Some(facts.clone());
            self.now = Some(now);
        }
        self.fix.begin_with(facts, &policy_key);
        self.policy = policy_key;
    }

    /// `decide()` (the parsed requirement and the resolved version), or its earlier answer to the same
    /// question.
    pub(super) fn resolution(
        &mut self,
        question: Question<'_>,
        decide: impl FnOnce() -> (Option<Requirement>, Resolved),
    ) -> (Option<Requirement>, Resolved) {
        let same = |known: &&Decided| {
            known.poetry == question.poetry
                && known.requirement_text.as_deref() == question.requirement
                && known.locked.as_deref() == question.locked
        };
        if let Some(found) = self.decided.get(question.package).and_then(|all| all.iter().find(same)) {
            return (found.requirement.clone(), found.resolved.clone());
        }
        let (requirement, resolved) = decide();
        self.entries += 1;
        self.decided.entry(question.package.clone()).or_default().push(Decided {
            poetry: question.poetry,
            requirement_text: question.requirement.map(str::to_string),
            locked: question.locked.map(str::to_string),
            requirement: requirement.clone(),
            resolved: resolved.clone(),
        });
        (requirement, resolved)
    }

    /// `states()` for `dep` behind `privacy`, or the earlier answer for an equal dependency.
    pub(super) fn check_states(
        &mut self,
        dep: &ResolvedDep,
        privacy: PrivacyKey,
        states: impl FnOnce() -> CheckStates,
    ) -> CheckStates {
        if let Some((_, _, found)) = self.states.get(&dep.package).and_then(|all| {
            all.iter()
                .find(|(known, known_privacy, _)| *known_privacy == privacy && same_question(known, dep))
        }) {
            return found.clone();
        }
        let res = states();
        self.entries += 1;
        let key = ResolvedDep {
            span: Default::default(),
            ..dep.clone()
        };
        self.states
            .entry(dep.package.clone())
            .or_default()
            .push((key, privacy, res.clone()));
        res
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
            .checks
            .get(&dep.package)
            .and_then(|answers| answers.iter().find(|answer| same_question(&answer.dep, dep)))
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
        let answer = Checked {
            dep: ResolvedDep {
                span: Default::default(),
                ..dep.clone()
            },
            raw: raw.get(raw_start..).unwrap_or_default().iter().map(unplace).collect(),
            floor: raw_floor
                .get(floor_start..)
                .unwrap_or_default()
                .iter()
                .map(unplace)
                .collect(),
        };
        self.entries += 1;
        self.checks.entry(dep.package.clone()).or_default().push(answer);
    }
}

/// What the check states depend on besides the dependency: its privacy, and why its private
/// registry is not trusted (`AnalyzedDep::untrusted_source`).
pub(super) type PrivacyKey = (Privacy, Option<String>);

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
