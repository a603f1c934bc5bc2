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

use jiff::{SignedDuration, Timestamp};

use crate::checks::advisory::via_text;
use crate::checks::age::{age_at, describe, version_facts};
use crate::checks::{CheckCtx, Evidence, Finding, FindingKind, ResolvedDep};
use crate::model::{DeclaredKind, Ecosystem, Fact, PackageFacts, PackageRef, Severity, VersionFacts};
use crate::resolve::Version;

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
    let freshness = match this.published {
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
    if let Some(published) = this.published {
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
        this.meta.dependencies.as_ref(),
        before.first().and_then(|(_, v)| v.meta.dependencies.as_ref()),
    ) else {
        return Vec::new();
    };
    let had: Vec<String> = then_deps.iter().map(|d| ecosystem.normalize_name(&d.name)).collect();
    now_deps
        .iter()
        .filter(|d| d.kind == DeclaredKind::Normal && !d.optional)
        .filter(|d| !had.contains(&ecosystem.normalize_name(&d.name)))
        .map(|d| d.name.clone())
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

/// A young package (younger than the policy's package age) named like a popular one: an
/// established package near a popular name has had its time to be reported.
fn typosquat(ctx: &CheckCtx<'_>, package: &PackageRef, facts: &PackageFacts, res: &mut Assessment) {
    let Some(created) = facts.created else {
        return;
    };
    if age_at(ctx.now, created) >= ctx.age.min_package_age
        || crate::checks::typosquat::is_popular(package.ecosystem, &package.name)
    {
        return;
    }
    let found = crate::checks::typosquat::squats(package.ecosystem, &package.name);
    let Some(first) = found.first() else {
        return;
    };
    let others: Vec<&str> = found.iter().skip(1).map(|s| s.intended.as_str()).collect();
    res.signals.push(Signal {
        kind: FindingKind::Typosquat,
        weaker_by: 0,
        phrase: format!("is named like the popular package {}", first.intended),
        message: format!(
            "is named like the popular package {} ({}); did you mean {}?",
            first.intended, first.how, first.intended
        ),
        evidence: std::iter::once(format!(
            "{} {}; the package first appeared {} ago",
            package.name,
            first.how,
            describe(age_at(ctx.now, created))
        ))
        .chain((!others.is_empty()).then(|| format!("also close to: {}", others.join(", "))))
        .collect(),
    });
}

fn install_scripts(
    ecosystem: Ecosystem,
    this: &VersionFacts,
    before: &[(Version, &VersionFacts)],
    res: &mut Assessment,
) {
    match ecosystem {
        Ecosystem::Npm => {
            let Some(hooks) = &this.meta.install_scripts else {
                res.not_compared
                    .push("install scripts (the registry entry does not list scripts)".to_string());
                return;
            };
            let known: Vec<&VersionFacts> = before
                .iter()
                .map(|(_, v)| *v)
                .filter(|v| v.meta.install_scripts.is_some())
                .collect();
            if known.is_empty() {
                if !hooks.is_empty() {
                    res.not_compared
                        .push("install scripts (no earlier version to compare with)".to_string());
                }
                return;
            }
            for (hook, command) in hooks {
                let had = known
                    .iter()
                    .any(|v| v.meta.install_scripts.iter().flatten().any(|(h, _)| h == hook));
                if had {
                    continue;
                }
                res.signals.push(Signal {
                    kind: FindingKind::InstallScriptAdded,
                    weaker_by: 0,
                    phrase: format!("adds a {hook} script"),
                    message: format!(
                        "adds a {hook} script that none of the {} earlier versions had: `{command}`",
                        known.len()
                    ),
                    evidence: vec![
                        format!("{hook}: `{command}`"),
                        format!("previous version without it: {}", known[0].version),
                    ],
                });
            }
        }
        Ecosystem::PyPI => {
            let Some(files) = this.meta.files else {
                return;
            };
            let Some(previous) = before.iter().map(|(_, v)| *v).find(|v| v.meta.files.is_some()) else {
                return;
            };
            let previous_files = previous.meta.files.unwrap_or_default();
            if files.sdists > 0 && files.wheels == 0 && previous_files.wheels > 0 {
                res.signals.push(Signal {
                    kind: FindingKind::InstallScriptAdded,
                    weaker_by: 1,
                    phrase: "ships only a source distribution (its setup code runs on install)".to_string(),
                    message: format!(
                        "ships only a source distribution, whose setup code runs on install, where {} shipped {} wheel(s)",
                        previous.version, previous_files.wheels
                    ),
                    evidence: vec![
                        format!("{} sdist(s), no wheel", files.sdists),
                        format!("previous version with wheels: {}", previous.version),
                    ],
                });
            }
        }
        Ecosystem::CratesIo => {
            // A build dependency new to the crate: build scripts run at build time.
            let Some(deps) = &this.meta.dependencies else {
                return;
            };
            let Some(previous) = before.iter().map(|(_, v)| *v).find(|v| v.meta.dependencies.is_some()) else {
                return;
            };
            let had_build: Vec<&str> = previous
                .meta
                .dependencies
                .iter()
                .flatten()
                .filter(|d| d.kind == DeclaredKind::Build)
                .map(|d| d.name.as_str())
                .collect();
            for dep in deps.iter().filter(|d| d.kind == DeclaredKind::Build) {
                if had_build.contains(&dep.name.as_str()) {
                    continue;
                }
                res.signals.push(Signal {
                    kind: FindingKind::InstallScriptAdded,
                    weaker_by: 2,
                    phrase: format!("adds the build dependency {}", dep.name),
                    message: format!("adds the build dependency {} {}", dep.name, dep.req),
                    evidence: vec![
                        format!("build dependency {} {}", dep.name, dep.req),
                        format!("previous version without it: {}", previous.version),
                    ],
                });
            }
        }
    }
}

/// Whether `current` is a patch release after `previous`: same major and minor (same minor for 0.x
/// counts as patch too).
fn is_patch(current: &Version, previous: &Version) -> bool {
    let (a, b) = (current.release(), previous.release());
    a.first() == b.first() && a.get(1).copied().unwrap_or(0) == b.get(1).copied().unwrap_or(0)
}

/// How established a dependency a version added is.
enum AddedStatus {
    /// Not on the registry at all.
    Absent,
    /// Younger than the policy's package age, or with at most three versions: (reason).
    New(String),
    Established,
    Unknown,
}

const FEW_VERSIONS: usize = 3;

fn added_status(ctx: &CheckCtx<'_>, ecosystem: Ecosystem, name: &str) -> AddedStatus {
    let package = PackageRef::new(ecosystem, name);
    match ctx.facts.packages.get(&package) {
        Some(Fact::Known { value, .. }) => {
            if let Some(created) = value.created
                && age_at(ctx.now, created) < ctx.age.min_package_age
            {
                return AddedStatus::New(format!(
                    "a package first published {} ago",
                    describe(age_at(ctx.now, created))
                ));
            }
            // Versions that existed by now (a replayed or recorded document may list later ones).
            let count = value
                .versions
                .iter()
                .filter(|v| v.published.is_none_or(|p| p <= ctx.now))
                .count();
            if count <= FEW_VERSIONS {
                return AddedStatus::New(format!(
                    "a package with {count} version{}",
                    if count == 1 { "" } else { "s" }
                ));
            }
            AddedStatus::Established
        }
        Some(Fact::Unavailable(note)) if note.is_not_found() => AddedStatus::Absent,
        _ => AddedStatus::Unknown,
    }
}

fn dependencies(
    ctx: &CheckCtx<'_>,
    ecosystem: Ecosystem,
    this: &VersionFacts,
    current: &Version,
    previous_parsed: &Version,
    previous: &VersionFacts,
    res: &mut Assessment,
) {
    let (Some(now_deps), Some(then_deps)) = (&this.meta.dependencies, &previous.meta.dependencies) else {
        let missing = if this.meta.dependencies.is_none() {
            &this.version
        } else {
            &previous.version
        };
        res.not_compared
            .push(format!("dependencies (the registry document lists none for {missing})"));
        return;
    };
    let patch = is_patch(current, previous_parsed);
    let runtime = |d: &&crate::model::DeclaredDep| d.kind == DeclaredKind::Normal && !d.optional;
    let had: Vec<String> = then_deps.iter().map(|d| ecosystem.normalize_name(&d.name)).collect();
    for dep in now_deps.iter().filter(runtime) {
        if had.contains(&ecosystem.normalize_name(&dep.name)) {
            continue;
        }
        let status = added_status(ctx, ecosystem, &dep.name);
        let (weaker_by, mut what) = match &status {
            AddedStatus::Absent => (0, "a package not on the registry".to_string()),
            AddedStatus::New(reason) => (0, reason.clone()),
            // Without data on the added package, it counts as an established one: precision first.
            AddedStatus::Unknown if patch => (2, "a package Gatehouse has no registry data for".to_string()),
            AddedStatus::Unknown => (3, "a package Gatehouse has no registry data for".to_string()),
            AddedStatus::Established if patch => (2, "an established package".to_string()),
            AddedStatus::Established => (3, "an established package".to_string()),
        };
        // A new or missing package named like a popular one says so (proc-macro1 next to proc-macro2);
        // the name alone never adds points: legitimate packages sit one edit from popular ones too.
        if matches!(status, AddedStatus::Absent | AddedStatus::New(_))
            && !crate::checks::typosquat::is_popular(ecosystem, &dep.name)
            && let Some(squat) = crate::checks::typosquat::squats(ecosystem, &dep.name).first()
        {
            what = format!("{what}, named like the popular {}", squat.intended);
        }
        let release = if patch { "patch" } else { "minor or major" };
        res.signals.push(Signal {
            kind: FindingKind::DependencyAdded,
            weaker_by,
            phrase: format!("adds the dependency {} {} ({what})", dep.name, dep.req),
            message: format!(
                "adds the runtime dependency {} {} in a {release} release ({what})",
                dep.name, dep.req
            ),
            evidence: vec![
                format!("{} {}: {what}", dep.name, dep.req),
                format!("previous version without it: {}", previous.version),
            ],
        });
    }
}

fn publisher(this: &VersionFacts, before: &[(Version, &VersionFacts)], res: &mut Assessment) {
    // npm `_npmUser` against the publishers and maintainers of the last ten versions that name one.
    if let Some(who) = &this.meta.publisher {
        let known: Vec<&VersionFacts> = before
            .iter()
            .map(|(_, v)| *v)
            .filter(|v| v.meta.publisher.is_some())
            .take(10)
            .collect();
        if known.is_empty() {
            res.not_compared
                .push("publisher (no earlier version names its publisher)".to_string());
        } else {
            let seen = known.iter().any(|v| {
                v.meta.publisher.as_deref() == Some(who.as_str())
                    || v.meta.maintainers.iter().flatten().any(|m| m == who)
            });
            if !seen {
                let earlier: Vec<&str> = known.iter().filter_map(|v| v.meta.publisher.as_deref()).collect();
                let mut earlier_unique: Vec<&str> = Vec::new();
                for name in earlier {
                    if !earlier_unique.contains(&name) {
                        earlier_unique.push(name);
                    }
                }
                res.signals.push(Signal {
                    kind: FindingKind::PublisherChanged,
                    weaker_by: 0,
                    phrase: String::new(),
                    message: format!(
                        "was published by {who}, who published none of the {} earlier versions and is not among their maintainers",
                        known.len()
                    ),
                    evidence: vec![
                        format!("publisher: {who}; earlier publishers: {}", earlier_unique.join(", ")),
                        format!("previous version by another publisher: {}", known[0].version),
                    ],
                });
            }
        }
    } else {
        res.not_compared
            .push("publisher (the registry names no publisher for this version)".to_string());
    }
    // Provenance lost: the previous version advertised attestations, this one does not.
    if let Some((_, previous)) = before.first()
        && previous.attestations_url.is_some()
        && this.attestations_url.is_none()
    {
        res.signals.push(Signal {
            kind: FindingKind::PublisherChanged,
            weaker_by: 0,
            phrase: "has no provenance where the previous version had".to_string(),
            message: format!(
                "has no provenance attestation, where {} was published with one",
                previous.version
            ),
            evidence: vec![format!("previous version with provenance: {}", previous.version)],
        });
    }
}

/// A repository URL reduced to `host/owner/name` (lower case; protocol, `git+`, `.git`, trailing slash
/// and GitHub shorthand `owner/name` normalised away).
pub fn normalize_repository(url: &str) -> String {
    let mut text = url.trim().to_ascii_lowercase();
    for prefix in ["git+", "git://", "https://", "http://", "ssh://", "git@"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest.to_string();
        }
    }
    for prefix in ["git@", "www."] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest.to_string();
        }
    }
    if let Some(rest) = text.strip_prefix("github:") {
        text = format!("github.com/{rest}");
    }
    text = text.replacen(".com:", ".com/", 1).replacen(".org:", ".org/", 1);
    let text = text.split(['#', '?']).next().unwrap_or("").trim_end_matches('/');
    let text = text.strip_suffix(".git").unwrap_or(text);
    let parts: Vec<&str> = text.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        // `owner/name` shorthand means GitHub.
        [owner, name] if !owner.contains('.') => format!("github.com/{owner}/{name}"),
        [host, owner, name, ..] => format!("{host}/{owner}/{name}"),
        _ => parts.join("/"),
    }
}

fn repository(this: &VersionFacts, previous: Option<&VersionFacts>, res: &mut Assessment) {
    let Some(previous) = previous else {
        return;
    };
    let pick = |v: &VersionFacts| v.meta.repository.clone();
    match (pick(this), pick(previous)) {
        (Some(now), Some(then)) => {
            if normalize_repository(&now) != normalize_repository(&then) {
                res.signals.push(Signal {
                    kind: FindingKind::RepositoryChanged,
                    weaker_by: 0,
                    phrase: format!("changes its repository to {now}"),
                    message: format!(
                        "declares the repository {now}, where {} declared {then}",
                        previous.version
                    ),
                    evidence: vec![
                        format!("repository: {now} (was {then})"),
                        format!("previous version with the old repository: {}", previous.version),
                    ],
                });
            }
        }
        (None, Some(then)) => res.signals.push(Signal {
            kind: FindingKind::RepositoryChanged,
            weaker_by: 1,
            phrase: "drops its repository".to_string(),
            message: format!("declares no repository, where {} declared {then}", previous.version),
            evidence: vec![format!("previous version with a repository: {}", previous.version)],
        }),
        (Some(_), None) => {}
        (None, None) => {
            if this.meta.install_scripts.is_some() {
                // A full npm entry without a repository on either side: nothing to compare.
                res.not_compared
                    .push("repository (neither version declares one)".to_string());
            }
        }
    }
}

/// Major version numbers that read as a year (calendar versioning), not a jump.
fn looks_like_year(major: u64) -> bool {
    (2000..=2100).contains(&major) || (20..=40).contains(&major)
}

fn release_pattern(
    ctx: &CheckCtx<'_>,
    ecosystem: Ecosystem,
    facts: &PackageFacts,
    this: &VersionFacts,
    current: Option<&Version>,
    before: &[(Version, &VersionFacts)],
    res: &mut Assessment,
) {
    // A version far above every earlier one (`99.0.0`, `1000.0.0`): dependency confusion.
    if let Some(current) = current
        && !before.is_empty()
    {
        let major = current.release().first().copied().unwrap_or(0);
        let highest_before = before
            .iter()
            .filter_map(|(v, _)| v.release().first().copied())
            .max()
            .unwrap_or(0);
        if major >= 90 && highest_before < 10 && !looks_like_year(major) {
            res.signals.push(Signal {
                kind: FindingKind::ReleasePattern,
                weaker_by: 0,
                phrase: format!("jumps to major version {major} from {highest_before}"),
                message: format!(
                    "jumps to major version {major}, far above every earlier version (at most {highest_before}.x)"
                ),
                evidence: vec![format!(
                    "highest earlier major: {highest_before}; previous version: {}",
                    before[0].1.version
                )],
            });
        }
    }
    let Some(published) = this.published else {
        if !before.is_empty() {
            res.not_compared
                .push("release pattern (the registry gives no publish time for this version)".to_string());
        }
        return;
    };
    // Publish history before this version, oldest first.
    let mut history: Vec<(Timestamp, &str)> = facts
        .versions
        .iter()
        .filter(|v| v.version != this.version)
        .filter_map(|v| v.published.map(|p| (p, v.version.as_str())))
        .filter(|(p, _)| *p <= published)
        .collect();
    history.sort();
    if history.is_empty() {
        return;
    }
    // Dormancy: a gap of over `dormancy` ending at this version, or ending at a version published at
    // most 30 days before it (the package woke up and this is the release that followed).
    let recent = SignedDuration::from_hours(24 * 30);
    let mut times: Vec<(Timestamp, &str)> = history.clone();
    times.push((published, this.version.as_str()));
    let mut woke: Option<(Timestamp, &str, SignedDuration)> = None;
    for pair in times.windows(2) {
        let gap = pair[1].0.duration_since(pair[0].0);
        if gap > ctx.signals.dormancy && published.duration_since(pair[1].0) <= recent {
            woke = Some((pair[1].0, pair[1].1, gap));
        }
    }
    if let Some((_, woke_version, gap)) = woke {
        let months = gap.as_secs() / (86400 * 30);
        let (phrase, message, weaker_by) = if woke_version == this.version {
            (
                format!("ends {months} months without a release"),
                format!("is the first release in {months} months"),
                1,
            )
        } else {
            (
                format!("follows {woke_version}, the first release after {months} months"),
                format!("follows {woke_version}, the first release after {months} months without one"),
                2,
            )
        };
        res.signals.push(Signal {
            kind: FindingKind::ReleasePattern,
            weaker_by,
            phrase,
            message,
            evidence: vec![format!(
                "no release for {months} months before {woke_version}; previous version: {}",
                history.last().map_or("", |(_, v)| v)
            )],
        });
    }
    // A burst: at least three versions (this one included) within an hour, on two or more lines.
    let window = SignedDuration::from_hours(1);
    let burst: Vec<&VersionFacts> = facts
        .versions
        .iter()
        .filter(|v| v.published.is_some_and(|p| p.duration_since(published).abs() <= window))
        .collect();
    let lines: std::collections::HashSet<Vec<u64>> = burst
        .iter()
        .filter_map(|v| Version::parse(ecosystem, &v.version))
        .map(|v| v.release().into_iter().take(2).collect())
        .collect();
    if burst.len() >= 3 && lines.len() >= 2 {
        let names: Vec<&str> = burst.iter().map(|v| v.version.as_str()).collect();
        res.signals.push(Signal {
            kind: FindingKind::ReleasePattern,
            weaker_by: 2,
            phrase: format!("came with {} other versions within an hour", burst.len() - 1),
            message: format!(
                "is one of {} versions published within an hour ({})",
                burst.len(),
                names.join(", ")
            ),
            evidence: vec![format!("published together: {}", names.join(", "))],
        });
    }
}

fn yanks_around(this: &VersionFacts, before: &[(Version, &VersionFacts)], res: &mut Assessment) {
    if this.yanked {
        return;
    }
    let yanked: Vec<&str> = before
        .iter()
        .take_while(|(_, v)| v.yanked)
        .map(|(_, v)| v.version.as_str())
        .collect();
    if yanked.len() < 2 {
        return;
    }
    let weaker_by = if yanked.len() >= 3 { 0 } else { 1 };
    let last_good = before.iter().find(|(_, v)| !v.yanked).map(|(_, v)| v.version.as_str());
    res.signals.push(Signal {
        kind: FindingKind::YanksAround,
        weaker_by,
        phrase: format!("the {} versions before it are yanked", yanked.len()),
        message: format!(
            "follows {} yanked versions ({}), so installers are pushed to it",
            yanked.len(),
            yanked.join(", ")
        ),
        evidence: vec![format!(
            "yanked: {}; last earlier version not yanked: {}",
            yanked.join(", "),
            last_good.unwrap_or("none")
        )],
    });
}

#[cfg(test)]
mod tests;
