//! Solver answers kept between evaluations of one document, so a keystroke re-solves only the dependency
//! it touched. The solver re-checks every candidate version of every dependency with findings, while its
//! answer changes only when the facts, the policy, the dependency, its findings or the time of day move.
//!
//! Invariants:
//! - An answer is reused only for the very same facts (`Arc` identity, held weakly so the address cannot be
//!   reused), the same policy (compared in full), the same dependency (package, requirement, decided
//!   version and how, private or not; not its position) and the same findings (kind, id, aliases,
//!   severity, and the message for every kind whose message does not state an age).
//! - And only while `now` has not crossed a time at which an age check or a suppression could decide
//!   differently: a publish time (or the package's creation) plus any age threshold of the policy or the
//!   installer, or the day after a suppression's `until`. Outside that window the answer is solved again.
//! - Reusing an answer gives exactly what `solve` would give at that `now`; it is never a guess.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;

use super::{Fix, solve};
use crate::checks::{CheckCtx, Finding, FindingKind, ResolvedDep};
use crate::model::{Fact, Facts, ManifestKind};
use crate::policy::Policy;

/// More entries than a document has dependencies with findings means the document changed a lot: start over.
const MAX_ENTRIES: usize = 4096;

struct Entry {
    fix: Fix,
    solved_at: Timestamp,
    /// The first time after `solved_at` at which the answer could differ; `None`: never by time alone.
    valid_until: Option<Timestamp>,
}

/// One document's solver answers; see the module doc for when an answer is reused.
#[derive(Default)]
pub struct Memo {
    /// The facts the answers came from, by identity only: held weakly, so memos do not keep old
    /// generations of the server's facts alive, while the allocation stays reserved (no new facts
    /// take its address).
    facts: Option<std::sync::Weak<Facts>>,
    policy: String,
    entries: HashMap<String, Entry>,
}

impl Memo {
    /// Forgets every answer unless `facts` and `policy` are the ones the answers were solved with.
    pub fn begin(&mut self, facts: &Arc<Facts>, policy: &Policy) {
        self.begin_with(facts, &format!("{policy:?}"));
    }

    /// `begin` with the policy already written out (`format!("{policy:?}")`), which its caller shares.
    pub fn begin_with(&mut self, facts: &Arc<Facts>, policy_key: &str) {
        let same_facts = self
            .facts
            .as_ref()
            .is_some_and(|known| std::ptr::eq(known.as_ptr(), Arc::as_ptr(facts)));
        if !same_facts || self.policy != policy_key || self.entries.len() > MAX_ENTRIES {
            self.entries.clear();
            self.facts = Some(Arc::downgrade(facts));
            self.policy = policy_key.to_string();
        }
    }

    /// `solve`, or its earlier answer for the same question while that answer still holds.
    pub fn solve(
        &mut self,
        ctx: &CheckCtx<'_>,
        policy: &Policy,
        dep: &ResolvedDep,
        findings: &[&Finding],
        lockfile: Option<ManifestKind>,
    ) -> Fix {
        let key = key(dep, findings, lockfile);
        if let Some(entry) = self.entries.get(&key)
            && entry.solved_at <= ctx.now
            && entry.valid_until.is_none_or(|until| ctx.now < until)
        {
            return entry.fix.clone();
        }
        let fix = solve(ctx, policy, dep, findings, lockfile);
        self.entries.insert(
            key,
            Entry {
                fix: fix.clone(),
                solved_at: ctx.now,
                valid_until: next_change(ctx, policy, dep),
            },
        );
        fix
    }
}

fn key(dep: &ResolvedDep, findings: &[&Finding], lockfile: Option<ManifestKind>) -> String {
    use std::fmt::Write;
    let mut res = format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}",
        dep.package.name,
        dep.package.ecosystem,
        dep.requirement_text,
        dep.requirement,
        dep.resolved.version,
        dep.resolved.source,
        dep.private,
        lockfile
    );
    for finding in findings {
        // Age messages say how long ago something was published: they change every second, and the
        // solver reads only their kind.
        let message = match finding.kind {
            FindingKind::FreshVersion | FindingKind::FreshPackage => "",
            _ => finding.message.as_str(),
        };
        let _ = write!(
            res,
            "|{:?} {} {:?} {:?} {message}",
            finding.kind, finding.id, finding.aliases, finding.severity
        );
    }
    res
}

/// The first instant after `ctx.now` at which an age threshold or a suppression could judge this
/// package's versions differently.
fn next_change(ctx: &CheckCtx<'_>, policy: &Policy, dep: &ResolvedDep) -> Option<Timestamp> {
    let mut res: Option<Timestamp> = None;
    let mut consider = |at: Timestamp| {
        if at > ctx.now {
            res = Some(res.map_or(at, |known| known.min(at)));
        }
    };
    if let Some(facts) = ctx.facts.packages.get(&dep.package).and_then(Fact::known) {
        // The context's thresholds, the policy's, and an untrusted project's floor (the user's own).
        let mut thresholds = vec![
            Some(ctx.age.min_version_age),
            Some(ctx.age.min_package_age),
            ctx.age.installer_min_age,
        ];
        for rules in std::iter::once(policy).chain(policy.untrusted_floor.as_deref()) {
            thresholds.extend([
                Some(rules.age.min_version_age),
                Some(rules.age.min_package_age),
                rules.age.installer_min_age,
            ]);
        }
        let times = facts.versions.iter().filter_map(|v| v.published()).chain(facts.created);
        for published in times {
            for threshold in thresholds.iter().flatten() {
                // A time that does not fit a timestamp is never reached: nothing changes then.
                if let Ok(at) = published.checked_add(*threshold) {
                    consider(at);
                }
            }
        }
    }
    let floor_ignores = policy.untrusted_floor.iter().flat_map(|floor| floor.ignores.iter());
    for ignore in policy.ignores.iter().chain(floor_ignores) {
        // A suppression stops applying on the day after its `until` (UTC).
        if let Some(until) = ignore.until
            && let Ok(next_day) = until.tomorrow()
            && let Ok(zoned) = next_day.to_zoned(jiff::tz::TimeZone::UTC)
        {
            consider(zoned.timestamp());
        }
    }
    res
}
