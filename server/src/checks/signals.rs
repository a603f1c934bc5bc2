//! Pre-advisory signals: what changed in a version's own registry metadata compared with the versions
//! before it (an install hook, a dependency, the publisher, the repository, the release pattern), and
//! the judgement that turns a combination of them on a fresh version into an error.
//!
//! Invariants:
//! - Pure: everything comes from `PackageFacts` (and the facts of the dependencies a version added,
//!   when the engine fetched them), `now` and the rules in `CheckCtx`. No tarball is ever read.
//! - Unknown is not a change: a field one side does not carry (no `_npmUser` on older versions, no
//!   publish times on the npm mirror, a PyPI release without file names) is never compared; the
//!   combined finding says which comparisons could not be made.
//! - Each signal alone is at most information. Only the combined `suspicious-version` finding reaches
//!   warning or error, by the explicit rule of `SignalRules`: the points of every signal kind (its
//!   strongest instance) are added up;
//!   on a version younger than the policy's version age, `error_at` points are an error and `warn_at`
//!   a warning; on a version whose publish time is unknown, `error_at` points are a warning. An old
//!   version gets no combined finding: advisories have had their time.
//! - Individual signal findings are emitted only where the combined judgement looks (a fresh version,
//!   or one whose combination fired), so routine history stays silent. A version without a publish
//!   time is looked at only when it is the package's newest (`latest`).
//! - Precision over recall: a signal fires only on what its evidence shows; weaker forms (an
//!   established package added in a minor release) count fewer points or none.
//!
//! This file holds the rule, the judgement and the combined finding; `detect` the one detector per
//! signal kind.

use jiff::{SignedDuration, Timestamp};

use crate::checks::advisory::via_text;
use crate::checks::age::{age_at, describe, version_facts};
use crate::checks::{CheckCtx, Evidence, Finding, FindingKind, ResolvedDep};
use crate::model::{DeclaredKind, Ecosystem, Fact, PackageFacts, PackageRef, Severity, VersionFacts};
use crate::resolve::Version;

mod detect;
pub use detect::normalize_repository;
use detect::*;

/// The signal kinds, in the order their findings are listed.
pub const SIGNAL_KINDS: [FindingKind; 7] = [
    FindingKind::Typosquat,
    FindingKind::InstallScriptAdded,
    FindingKind::DependencyAdded,
    FindingKind::PublisherChanged,
    FindingKind::RepositoryChanged,
    FindingKind::ReleasePattern,
    FindingKind::YanksAround,
];

/// The judgement rule, from `[policy.signals]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRules {
    /// Points of each signal's strongest form; weaker forms count 1, 2 or 3 less (never below 0).
    /// 0 turns the signal off for the judgement.
    pub points: Vec<(FindingKind, u32)>,
    /// Points of the supporting facts that are not signals of their own: a package younger than the
    /// policy's package age, and versions of it that vanished from the registry (takedown memory).
    pub new_package_points: u32,
    pub takedown_points: u32,
    /// A fresh version with at least this many points is an error.
    pub error_at: u32,
    /// A fresh version with at least this many points is a warning.
    pub warn_at: u32,
    /// How long without a release counts as dormancy.
    pub dormancy: SignedDuration,
}

impl Default for SignalRules {
    fn default() -> Self {
        SignalRules {
            points: vec![
                (FindingKind::InstallScriptAdded, 3),
                (FindingKind::DependencyAdded, 3),
                (FindingKind::PublisherChanged, 3),
                (FindingKind::RepositoryChanged, 2),
                (FindingKind::ReleasePattern, 3),
                (FindingKind::YanksAround, 1),
                (FindingKind::Typosquat, 2),
            ],
            new_package_points: 1,
            takedown_points: 1,
            error_at: 4,
            warn_at: 3,
            dormancy: SignedDuration::from_hours(24 * 365),
        }
    }
}

impl SignalRules {
    pub fn points_of(&self, kind: FindingKind) -> u32 {
        self.points
            .iter()
            .rev()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, points)| *points)
    }
}

/// One signal on one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub kind: FindingKind,
    /// How much weaker than the strongest form (subtracted from the configured points).
    pub weaker_by: u32,
    /// A short phrase for the combined message ("adds a postinstall script").
    pub phrase: String,
    /// The full sentence for the signal's own finding.
    pub message: String,
    /// The evidence, including the previous version that did not have it.
    pub evidence: Vec<String>,
}

/// Everything the signals found on one version, and the judgement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    pub signals: Vec<Signal>,
    /// Supporting facts that count points without a finding of their own: (points, phrase).
    pub supporting: Vec<(u32, String)>,
    pub points: u32,
    /// Comparisons that could not be made, and why.
    pub not_compared: Vec<String>,
    /// The version is a prerelease.
    pub prerelease: bool,
}

/// Whether the version counts as fresh for the judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh(SignedDuration),
    Old,
    Unknown,
}

/// The verdict of the rule on an assessment.
pub fn verdict(rules: &SignalRules, assessment: &Assessment, freshness: Freshness) -> Option<Severity> {
    let points = assessment.points;
    let severity = match freshness {
        Freshness::Fresh(_) if points >= rules.error_at => Some(Severity::Error),
        Freshness::Fresh(_) if points >= rules.warn_at => Some(Severity::Warning),
        Freshness::Unknown if points >= rules.error_at => Some(Severity::Warning),
        _ => None,
    };
    // A prerelease installs only when asked for by name: at most a warning.
    if assessment.prerelease {
        return severity.map(|s| s.max(Severity::Warning));
    }
    severity
}

pub fn check(ctx: &CheckCtx<'_>, dep_idx: usize, dep: &ResolvedDep, acc: &mut Vec<Finding>) {
    let Some(version) = dep.resolved.version.as_deref() else {
        return;
    };
    let Some(facts) = ctx.facts.packages.get(&dep.package).and_then(Fact::known) else {
        return;
    };
    if crate::checks::age::is_exempt(ctx.age, dep.package.ecosystem, &dep.package.name, Some(version)) {
        return;
    }
    let Some(this) = version_facts(facts, dep.package.ecosystem, version) else {
        return;
    };
    let freshness = match this.published() {
        Some(published) => {
            let elapsed = age_at(ctx.now, published);
            if elapsed < ctx.age.min_version_age {
                Freshness::Fresh(elapsed)
            } else {
                Freshness::Old
            }
        }
        None => Freshness::Unknown,
    };
    if freshness == Freshness::Old {
        return;
    }
    // Without a publish time only the package's newest version can be a new publish; skipping the
    // rest keeps registries without times (the npm mirror) off the warm path's bill.
    if freshness == Freshness::Unknown && !is_newest(dep.package.ecosystem, facts, &this.version) {
        return;
    }
    let assessment = assess(ctx, &dep.package, facts, this);
    let combined = verdict(ctx.signals, &assessment, freshness);
    if combined.is_none() && !matches!(freshness, Freshness::Fresh(_)) {
        return;
    }
    let via = via_text(dep);
    // One finding per kind: thirteen added dependencies are one hover entry, strongest first.
    for kind in SIGNAL_KINDS {
        let mut of_kind: Vec<&Signal> = assessment.signals.iter().filter(|s| s.kind == kind).collect();
        let Some(signal) = of_kind.iter().min_by_key(|s| s.weaker_by).copied() else {
            continue;
        };
        of_kind.sort_by_key(|s| s.weaker_by);
        let points = ctx.signals.points_of(signal.kind).saturating_sub(signal.weaker_by);
        let more = if of_kind.len() > 1 {
            format!(" (and {} more of this kind, in the evidence)", of_kind.len() - 1)
        } else {
            String::new()
        };
        acc.push(Finding {
            dep: dep_idx,
            span: dep.span,
            kind: signal.kind,
            id: signal.kind.code().to_string(),
            aliases: Vec::new(),
            severity: if points >= 3 {
                Severity::Information
            } else {
                Severity::Hint
            },
            message: format!("{}@{version} {}{more}{via}", dep.package.name, signal.message),
            evidence: of_kind
                .iter()
                .flat_map(|s| s.evidence.iter().cloned())
                .map(Evidence::Text)
                .collect(),
            url: None,
        });
    }
    let Some(severity) = combined else {
        return;
    };
    let mut evidence: Vec<Evidence> = Vec::new();
    if let Some(published) = this.published() {
        evidence.push(Evidence::Published(published));
    }
    for signal in &assessment.signals {
        let points = ctx.signals.points_of(signal.kind).saturating_sub(signal.weaker_by);
        evidence.push(Evidence::Text(format!(
            "{} ({points} points): {}",
            signal.kind.code(),
            signal.evidence.join("; ")
        )));
    }
    for (points, phrase) in &assessment.supporting {
        evidence.push(Evidence::Text(format!("{phrase} ({points} points)")));
    }
    evidence.push(Evidence::Text(format!(
        "{} points in all; the rule: {} points on a version younger than {} is an error, {} a warning ([policy.signals])",
        assessment.points,
        ctx.signals.error_at,
        describe(ctx.age.min_version_age),
        ctx.signals.warn_at
    )));
    for missing in &assessment.not_compared {
        evidence.push(Evidence::Text(format!("not compared: {missing}")));
    }
    acc.push(Finding {
        dep: dep_idx,
        span: dep.span,
        kind: FindingKind::SuspiciousVersion,
        id: FindingKind::SuspiciousVersion.code().to_string(),
        aliases: Vec::new(),
        severity,
        message: format!("{}{via}", combined_message(version, &assessment, freshness)),
        evidence,
        url: None,
    });
}

/// Whether `version` is the registry's `latest` tag, or, without one, the highest version listed.
fn is_newest(ecosystem: Ecosystem, facts: &PackageFacts, version: &str) -> bool {
    if let Some(latest) = &facts.latest {
        return latest == version;
    }
    let Some(wanted) = Version::parse(ecosystem, version) else {
        return false;
    };
    !facts
        .versions
        .iter()
        .filter_map(|v| Version::parse(ecosystem, &v.version))
        .any(|v| v.compare(&wanted) == Some(std::cmp::Ordering::Greater))
}

/// "4.4.2 was published 3 hours ago by a new publisher and adds a postinstall script".
fn combined_message(version: &str, assessment: &Assessment, freshness: Freshness) -> String {
    let when = match freshness {
        Freshness::Fresh(elapsed) => format!("was published {} ago", describe(elapsed)),
        _ => "(publish time unknown)".to_string(),
    };
    let by_new_publisher = assessment
        .signals
        .iter()
        .any(|s| s.kind == FindingKind::PublisherChanged && s.phrase.is_empty());
    let phrases: Vec<&str> = assessment
        .signals
        .iter()
        .map(|s| s.phrase.as_str())
        .filter(|p| !p.is_empty())
        .chain(assessment.supporting.iter().map(|(_, p)| p.as_str()))
        .collect();
    let mut message = format!("{version} {when}");
    if by_new_publisher {
        message.push_str(" by a new publisher");
    }
    match phrases.split_last() {
        None => {}
        Some((last, [])) => message.push_str(&format!(" and {last}")),
        Some((last, rest)) => message.push_str(&format!(", {}, and {last}", rest.join(", "))),
    }
    message
}

/// The versions before `this` in version order (prereleases only when `this` is one), newest first.
fn earlier<'a>(ecosystem: Ecosystem, facts: &'a PackageFacts, this: &VersionFacts) -> Vec<(Version, &'a VersionFacts)> {
    let Some(current) = Version::parse(ecosystem, &this.version) else {
        return Vec::new();
    };
    let mut res: Vec<(Version, &VersionFacts)> = facts
        .versions
        .iter()
        .filter_map(|v| Version::parse(ecosystem, &v.version).map(|parsed| (parsed, v)))
        .filter(|(parsed, _)| parsed.compare(&current) == Some(std::cmp::Ordering::Less))
        .filter(|(parsed, _)| !parsed.is_prerelease() || current.is_prerelease())
        .collect();
    res.sort_by(|a, b| b.0.compare(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    res
}

/// How long after its publish a version's added dependencies are looked up (at fetch time): the
/// judgement only looks at fresh versions, so older ones cost no request.
pub const ADDED_LOOKUP_WINDOW: SignedDuration = SignedDuration::from_hours(24 * 14);

/// The runtime dependencies `version` declares that the version before it did not (names as written).
pub fn added_dependencies(ecosystem: Ecosystem, facts: &PackageFacts, version: &str) -> Vec<String> {
    let Some(this) = version_facts(facts, ecosystem, version) else {
        return Vec::new();
    };
    let before = earlier(ecosystem, facts, this);
    let (Some(now_deps), Some(then_deps)) = (
        this.detail.meta.dependencies.as_ref(),
        before.first().and_then(|(_, v)| v.detail.meta.dependencies.as_ref()),
    ) else {
        return Vec::new();
    };
    let had: Vec<String> = then_deps.iter().map(|d| ecosystem.normalize_name(&d.name)).collect();
    now_deps
        .iter()
        .filter(|d| d.kind == DeclaredKind::Normal && !d.optional)
        .filter(|d| !had.contains(&ecosystem.normalize_name(&d.name)))
        .map(|d| d.name.to_string())
        .collect()
}

/// Computes every signal on `this` version of `package`.
pub fn assess(ctx: &CheckCtx<'_>, package: &PackageRef, facts: &PackageFacts, this: &VersionFacts) -> Assessment {
    let ecosystem = package.ecosystem;
    let mut res = Assessment::default();
    let before = earlier(ecosystem, facts, this);
    let current = Version::parse(ecosystem, &this.version);
    res.prerelease = current.as_ref().is_some_and(Version::is_prerelease);
    let previous = before.first().map(|(_, v)| *v);

    typosquat(ctx, package, facts, &mut res);
    install_scripts(ecosystem, this, &before, &mut res);
    if let (Some(current), Some((previous_parsed, previous))) = (current.as_ref(), before.first()) {
        dependencies(ctx, ecosystem, this, current, previous_parsed, previous, &mut res);
    }
    publisher(this, &before, &mut res);
    repository(this, previous, &mut res);
    release_pattern(ctx, ecosystem, facts, this, current.as_ref(), &before, &mut res);
    yanks_around(this, &before, &mut res);

    if let Some(created) = facts.created
        && age_at(ctx.now, created) < ctx.age.min_package_age
        && ctx.signals.new_package_points > 0
    {
        res.supporting.push((
            ctx.signals.new_package_points,
            format!("the package itself is {} old", describe(age_at(ctx.now, created))),
        ));
    }
    if !facts.vanished.is_empty() && ctx.signals.takedown_points > 0 {
        let versions: Vec<&str> = facts.vanished.iter().map(|v| v.version.as_str()).take(5).collect();
        res.supporting.push((
            ctx.signals.takedown_points,
            format!("versions of it vanished from the registry ({})", versions.join(", ")),
        ));
    }

    // A signal configured to 0 points is off; a weak form worth 0 points stays in the hover.
    res.signals.retain(|signal| ctx.signals.points_of(signal.kind) > 0);
    for signal in &mut res.signals {
        if ctx.signals.points_of(signal.kind).saturating_sub(signal.weaker_by) == 0 {
            signal.phrase.clear();
        }
    }
    // Each kind counts once, with its strongest instance: thirteen dependencies added in one release
    // are one signal, not thirteen.
    res.points = SIGNAL_KINDS
        .iter()
        .map(|kind| {
            res.signals
                .iter()
                .filter(|s| s.kind == *kind)
                .map(|s| ctx.signals.points_of(s.kind).saturating_sub(s.weaker_by))
                .max()
                .unwrap_or(0)
        })
        .sum::<u32>()
        + res.supporting.iter().map(|(points, _)| points).sum::<u32>();
    res
}

#[cfg(test)]
mod tests;
