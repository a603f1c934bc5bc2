//! The safe-version solver: for a dependency with findings, the nearest version that clears every check
//! and the policy, written back in the requirement's own style.
//!
//! Invariants:
//! - Pure; never proposes a version whose facts it does not have: candidates are the registry's version
//!   list when known, else the `fixed` versions the advisories name.
//! - A candidate is safe when every check, run on it as if pinned, leaves no finding at warning level or
//!   above after policy; the rewritten requirement must still admit the chosen version and, when the
//!   version list is known, must not resolve to an unsafe version (else the fix pins exactly).
//! - A malicious package has no safe version: the fix removes the dependency.
//! - A transitive package is first fixed by upgrading the direct dependency that pulls it in
//!   (`upgrade_direct`), when the registry's per-version dependency ranges prove the upgrade leaves the
//!   affected version: the direct dependency's nearest version that is safe itself and whose range for
//!   the next package on the path no longer admits the locked version there, and so on down the path
//!   (a hop whose range still admits its locked version keeps it, and with it the bad package), until
//!   the last range excludes the affected version; every version a new range admits counts (the
//!   installer may dedupe with an older one): each at an intermediate hop must lead away in turn, and
//!   each at the last hop must itself be safe; metadata missing anywhere on the way proves nothing.
//!   The engine offers the upgrade only when the lockfile reaches the bad version by this one path
//!   (no other direct dependency, no other package below this one, pulls it).
//!   Else through the package manager's override (`solve_transitive`): npm/Bun `overrides`, pnpm
//!   `pnpm.overrides`, Yarn `resolutions`, Cargo `cargo update --precise`, then the command that
//!   refreshes the lockfile.
//! - Prefers the same major version, then the smallest step up; never proposes a downgrade, except
//!   below a pinned or locked version the package manager refuses (its cooldown or `exclude-newer`),
//!   and, for a range without a lockfile, an older version the range already admits.

mod memo;

use std::cmp::Ordering;

use crate::checks::{self, CheckCtx, Finding, ResolvedDep, advisory};
use crate::model::{Ecosystem, Fact, FindingKind, ManifestKind, Severity, VersionSource};
use crate::policy::{Policy, Verdict};
use crate::resolve::{self, Requirement, Version};

pub use memo::Memo;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Rewrite the requirement to `requirement`, which installs `version`.
    Update {
        version: String,
        requirement: String,
        /// The command that refreshes the lockfile, when one decides the version.
        lockfile_command: Option<String>,
    },
    /// Remove the dependency (malicious packages).
    Remove { reason: String },
    /// No version clears every finding.
    NoSafeVersion { reason: String },
    /// A transitive package: upgrade the direct dependency `direct` to `version` (its requirement
    /// rewritten to `requirement`), whose own dependencies, as the registry's metadata shows them, no
    /// longer lead to the affected version of `package` (`reason` says how); then `command`.
    UpgradeDirect {
        direct: String,
        version: String,
        requirement: String,
        package: String,
        reason: String,
        command: String,
    },
    /// A transitive package: pin it to `version` through the package manager (`instruction`, in its
    /// own syntax), then refresh the lockfile with `command`.
    Override {
        package: String,
        version: String,
        /// The package manager that reads `instruction`: `npm`, `pnpm`, `yarn`, `bun`, `cargo`, `uv`, `poetry`.
        manager: &'static str,
        instruction: String,
        command: String,
    },
}

/// Whether findings of this kind are cleared by changing the version.
pub fn wants_fix(kind: FindingKind) -> bool {
    matches!(
        kind,
        FindingKind::Malicious
            | FindingKind::Advisory
            | FindingKind::FreshVersion
            | FindingKind::Yanked
            | FindingKind::Deprecated
            | FindingKind::TakenDown
            | FindingKind::BadProvenance
            | FindingKind::ProvenanceDowngrade
            | FindingKind::SuspiciousVersion
    )
}

/// Whether `version` of `dep` leaves any finding at warning level or above, and the package manager
/// would install it at all.
///
/// Findings about the package as a whole (PEP 792 status, npm unpublish) are the same for every
/// version, so they are measured once on the unversioned dependency and do not count against a
/// candidate: changing the version cannot clear them.
pub fn is_safe(ctx: &CheckCtx<'_>, policy: &Policy, dep: &ResolvedDep, version: &str) -> bool {
    if installer_refuses(ctx, dep, version) {
        return false;
    }
    let whole_package = whole_package_findings(ctx, dep);
    let candidate = ResolvedDep {
        resolved: resolve::Resolved {
            version: Some(version.to_string()),
            source: VersionSource::Pinned,
        },
        ..dep.clone()
    };
    if candidate.private {
        return true;
    }
    // The same checks as `checks::run_all`, cheapest first, stopping at the first unsafe one: most
    // candidates the solver tries are unsafe, and provenance is the costliest check (about five times
    // the advisory check on a 40-version package, measured in a debug build).
    type Check = fn(&CheckCtx<'_>, usize, &ResolvedDep, &mut Vec<Finding>);
    let in_order: [Check; 5] = [
        checks::age::check,
        checks::availability::check,
        checks::advisory::check,
        checks::signals::check,
        checks::provenance::check,
    ];
    in_order.iter().all(|check| {
        let mut acc = Vec::new();
        check(ctx, 0, &candidate, &mut acc);
        acc.into_iter()
            .filter(|f| f.kind != FindingKind::FreshPackage && f.kind != FindingKind::Unchecked)
            .filter(|f| !whole_package.iter().any(|p| p.kind == f.kind && p.message == f.message))
            .filter_map(|f| policy.apply(f, &dep.package, ctx.now))
            .all(|verdict| match verdict {
                Verdict::Keep(f) => !f.severity.at_least(Severity::Warning),
                Verdict::Suppressed { .. } => true,
            })
    })
}

/// The findings that hold for every version of `dep`: the availability check's findings about the
/// package itself (PEP 792 status, npm unpublish, security holding), which it emits with no version.
fn whole_package_findings(ctx: &CheckCtx<'_>, dep: &ResolvedDep) -> Vec<Finding> {
    let unversioned = ResolvedDep {
        resolved: resolve::Resolved {
            version: None,
            source: VersionSource::Unresolved,
        },
        ..dep.clone()
    };
    let mut acc = Vec::new();
    checks::availability::check(ctx, 0, &unversioned, &mut acc);
    acc
}

fn lockfile_command(kind: Option<ManifestKind>, dep: &ResolvedDep) -> Option<String> {
    let name = &dep.package.name;
    match kind? {
        ManifestKind::PackageLock => Some(format!("npm install {name}")),
        ManifestKind::CargoLock => Some(format!("cargo update -p {name}")),
        ManifestKind::UvLock => Some(format!("uv lock --upgrade-package {name}")),
        ManifestKind::PoetryLock => Some(format!("poetry update {name}")),
        _ => None,
    }
}

/// The package manager's way to pin a transitive `package` to `version`, and the command that
/// refreshes the lockfile after it. Cargo has no override that keeps the registry source (`[patch]`
/// replaces the source), so it is `cargo update --precise`.
pub fn override_instruction(
    lockfile: ManifestKind,
    package: &str,
    version: &str,
) -> Option<(&'static str, String, String)> {
    Some(match lockfile {
        ManifestKind::PackageLock => (
            "npm",
            format!("add \"overrides\": {{ \"{package}\": \"{version}\" }} to package.json"),
            "npm install".to_string(),
        ),
        ManifestKind::PnpmLock => (
            "pnpm",
            format!(
                "add \"pnpm\": {{ \"overrides\": {{ \"{package}\": \"{version}\" }} }} to package.json (pnpm 9 and 10), or `overrides:` to pnpm-workspace.yaml (pnpm 10 and later)"
            ),
            "pnpm install".to_string(),
        ),
        ManifestKind::YarnLock => (
            "yarn",
            format!("add \"resolutions\": {{ \"{package}\": \"{version}\" }} to package.json"),
            "yarn install".to_string(),
        ),
        ManifestKind::BunLock | ManifestKind::BunLockb => (
            "bun",
            format!("add \"overrides\": {{ \"{package}\": \"{version}\" }} to package.json"),
            "bun install".to_string(),
        ),
        ManifestKind::CargoLock => (
            "cargo",
            "move the lockfile to it (Cargo has no override that keeps the registry source)".to_string(),
            format!("cargo update -p {package} --precise {version}"),
        ),
        ManifestKind::UvLock => (
            "uv",
            format!("add \"{package}>={version}\" to [tool.uv] constraint-dependencies in pyproject.toml"),
            format!("uv lock --upgrade-package {package}"),
        ),
        ManifestKind::PoetryLock => (
            "poetry",
            format!("run `poetry update {package}` (add `{package} = \">={version}\"` if the range holds it back)"),
            format!("poetry update {package}"),
        ),
        _ => return None,
    })
}

/// One package on a transitive package's path below the direct dependency, with the version the
/// lockfile installs there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub name: String,
    pub version: String,
}

/// The command that refreshes `lockfile` after a manifest's requirement of `direct` changed.
fn refresh_command(lockfile: ManifestKind, direct: &str) -> Option<String> {
    Some(match lockfile {
        ManifestKind::PackageLock => "npm install".to_string(),
        ManifestKind::PnpmLock => "pnpm install".to_string(),
        ManifestKind::YarnLock => "yarn install".to_string(),
        ManifestKind::BunLock | ManifestKind::BunLockb => "bun install".to_string(),
        ManifestKind::CargoLock => format!("cargo update -p {direct}"),
        ManifestKind::UvLock => format!("uv lock --upgrade-package {direct}"),
        ManifestKind::PoetryLock => format!("poetry update {direct}"),
        _ => return None,
    })
}

/// The range `version` of `package` declares for `dependency`, from the registry's metadata: `Ok(None)`
/// when the metadata shows it declares none (outside its dev dependencies), `Err` when the metadata
/// does not say.
fn declared_range(
    ctx: &CheckCtx<'_>,
    package: &crate::model::PackageRef,
    version: &str,
    dependency: &str,
) -> Result<Option<String>, ()> {
    let facts = ctx.facts.packages.get(package).and_then(Fact::known).ok_or(())?;
    let entry = facts.versions.iter().find(|v| v.version == version).ok_or(())?;
    let declared = entry.detail.meta.dependencies.as_ref().ok_or(())?;
    Ok(declared
        .iter()
        .find(|d| &*d.name == dependency && d.kind != crate::model::DeclaredKind::Dev)
        .map(|d| d.req.to_string()))
}

/// A dependency on `package` with no requirement: what `is_safe` and `registry_versions` take.
fn unversioned(package: crate::model::PackageRef) -> ResolvedDep {
    ResolvedDep {
        package,
        requirement_text: None,
        requirement: None,
        resolved: resolve::Resolved {
            version: None,
            source: VersionSource::Unresolved,
        },
        span: crate::model::Span::default(),
        via: Vec::new(),
        private: false,
    }
}

/// Whether installing `version` of the direct dependency leaves the path's last (affected) version,
/// as far as the registry metadata proves it; `Some(why)` when it does.
///
/// The installer may pick any version a range admits (the highest, or an older copy it dedupes
/// with), so every admitted version the registry lists counts: at an intermediate hop each must
/// lead away in turn, and at the last hop each the installer would take must clear every check and
/// the policy. A range that still admits the locked version keeps it, and with it what is below.
fn leaves_path(
    ctx: &CheckCtx<'_>,
    policy: &Policy,
    direct: &crate::model::PackageRef,
    version: &str,
    path: &[Hop],
) -> Option<String> {
    let ecosystem = direct.ecosystem;
    let mut package = direct.clone();
    // The versions that may be installed at the current level, highest first.
    let mut installed = vec![version.to_string()];
    let mut reason = None;
    for (at, hop) in path.iter().enumerate() {
        let last = at + 1 == path.len();
        let locked = Version::parse(ecosystem, &hop.version)?;
        let hop_dep = unversioned(crate::model::PackageRef::new(ecosystem, &hop.name));
        let available = registry_versions(ctx, &hop_dep)?;
        let mut next: Vec<(Version, String)> = Vec::new();
        for (idx, parent_version) in installed.iter().enumerate() {
            let range = match declared_range(ctx, &package, parent_version, &hop.name) {
                Ok(Some(range)) => range,
                Ok(None) => {
                    if idx == 0 {
                        reason = Some(format!(
                            "{} {parent_version} no longer depends on {}",
                            package.name, hop.name
                        ));
                    }
                    continue;
                }
                Err(()) => return None,
            };
            let requirement = Requirement::parse(ecosystem, &range, false).ok()?;
            if requirement.matches(&locked) {
                return None;
            }
            let admitted: Vec<(Version, String)> = available
                .iter()
                .filter_map(|text| Version::parse(ecosystem, text).map(|v| (v, text.clone())))
                .filter(|(v, _)| requirement.matches(v))
                .filter(|(_, text)| !installer_refuses(ctx, &hop_dep, text))
                .collect();
            if admitted.is_empty() {
                // Nothing the metadata shows the installer could take: unproven.
                return None;
            }
            if last && !admitted.iter().all(|(_, text)| is_safe(ctx, policy, &hop_dep, text)) {
                return None;
            }
            if idx == 0 && last {
                reason = Some(format!(
                    "{} {parent_version} requires {} {range}, which excludes {}",
                    package.name, hop.name, hop.version
                ));
            }
            next.extend(admitted);
        }
        if next.is_empty() {
            // No version at this level depends on the next package any more.
            return reason;
        }
        next.sort_by(|a, b| b.0.compare(&a.0).unwrap_or(Ordering::Equal));
        next.dedup_by(|a, b| a.1 == b.1);
        package = hop_dep.package;
        installed = next.into_iter().map(|(_, text)| text).collect();
    }
    reason
}

/// The fix for a transitive package through the direct dependency that pulls it in: the nearest
/// version of `direct` (newer than the locked one, same release line first) that clears every check
/// and the policy for itself and whose dependency ranges, per the registry's metadata, no longer lead
/// to the affected version at the end of `path` (the hops below `direct`, ending with the affected
/// package). `None` when no such version is proven; the caller then falls back to an override.
pub fn upgrade_direct(
    ctx: &CheckCtx<'_>,
    policy: &Policy,
    direct: &ResolvedDep,
    path: &[Hop],
    lockfile: ManifestKind,
) -> Option<Fix> {
    let bad = path.last()?;
    let current = direct
        .resolved
        .version
        .as_deref()
        .and_then(|v| Version::parse(direct.package.ecosystem, v))?;
    let candidates = newer_candidates(ctx, direct, Some(&current));
    let versions_known = registry_versions(ctx, direct).is_some();
    for version in same_line_first(&candidates, Some(&current)) {
        if !is_safe(ctx, policy, direct, version) {
            continue;
        }
        let Some(reason) = leaves_path(ctx, policy, &direct.package, version, path) else {
            continue;
        };
        let Some(mut requirement) = rewrite(direct, version, ctx, policy, versions_known) else {
            continue;
        };
        // The rewritten range must not install a newer version that leads back to the bad one.
        let ecosystem = direct.package.ecosystem;
        let highest = Requirement::parse(ecosystem, &requirement, false)
            .ok()
            .zip(registry_versions(ctx, direct))
            .and_then(|(req, available)| req.highest(ecosystem, available.iter().map(String::as_str)));
        if highest.is_some_and(|h| h != *version && leaves_path(ctx, policy, &direct.package, &h, path).is_none()) {
            requirement = exact_style(ecosystem, version);
        }
        return Some(Fix::UpgradeDirect {
            direct: direct.package.name.clone(),
            version: version.clone(),
            requirement,
            package: bad.name.clone(),
            reason,
            command: refresh_command(lockfile, &direct.package.name)?,
        });
    }
    None
}

/// The fix for a transitive package the lockfile pulls in: the nearest version that clears every
/// check and the policy (as `solve` picks for a direct dependency), pinned through the package
/// manager's override (the fallback after `upgrade_direct`).
pub fn solve_transitive(
    ctx: &CheckCtx<'_>,
    policy: &Policy,
    dep: &ResolvedDep,
    findings: &[&Finding],
    lockfile: ManifestKind,
) -> Fix {
    let pinned = ResolvedDep {
        requirement_text: None,
        requirement: None,
        ..dep.clone()
    };
    match solve(ctx, policy, &pinned, findings, None) {
        Fix::Update { version, .. } => match override_instruction(lockfile, &dep.package.name, &version) {
            Some((manager, instruction, command)) => Fix::Override {
                package: dep.package.name.clone(),
                version,
                manager,
                instruction,
                command,
            },
            None => Fix::NoSafeVersion {
                reason: format!(
                    "{} {version} is safe, but this lockfile has no override",
                    dep.package.name
                ),
            },
        },
        other => other,
    }
}

/// Finds the fix for one dependency with `findings`: the first safe version, in the order of
/// `versions_to_try`, whose requirement can be rewritten; else why there is none.
pub fn solve(
    ctx: &CheckCtx<'_>,
    policy: &Policy,
    dep: &ResolvedDep,
    findings: &[&Finding],
    lockfile: Option<ManifestKind>,
) -> Fix {
    if let Some(fix) = no_version_helps(ctx, dep, findings) {
        return fix;
    }
    let current = dep
        .resolved
        .version
        .as_deref()
        .and_then(|v| Version::parse(dep.package.ecosystem, v));
    let candidates = newer_candidates(ctx, dep, current.as_ref());
    let within_range = older_within_range(ctx, dep);
    // A pinned or locked version that the package manager itself refuses (its cooldown, uv's
    // `exclude-newer`) cannot be installed at all, so staying at or above it is no fix: the newest
    // older version of the same release line that the installer accepts is. The same for a
    // suspicious fresh version (pre-advisory signals): a newer one from the same publisher is no fix,
    // the last earlier version of its line without the signals is. These are the only downgrades
    // the solver proposes.
    let suspicious_current = findings
        .iter()
        .any(|f| f.kind == FindingKind::SuspiciousVersion && f.severity.at_least(Severity::Warning));
    let refused_current = dep
        .resolved
        .version
        .as_deref()
        .is_some_and(|version| installer_refuses(ctx, dep, version));
    let below_refused = match &current {
        Some(cur) if suspicious_current || refused_current => older_on_line(ctx, dep, cur),
        _ => Vec::new(),
    };
    let versions_known = registry_versions(ctx, dep).is_some();
    let ordered = within_range
        .iter()
        .chain(below_refused.iter())
        .chain(same_line_first(&candidates, current.as_ref()));
    for version in ordered {
        if !is_safe(ctx, policy, dep, version) {
            continue;
        }
        let Some(requirement) = rewrite(dep, version, ctx, policy, versions_known) else {
            continue;
        };
        return Fix::Update {
            version: version.clone(),
            requirement,
            lockfile_command: lockfile_command(lockfile, dep),
        };
    }
    let nothing_to_try = candidates.is_empty() && within_range.is_empty() && below_refused.is_empty();
    Fix::NoSafeVersion {
        reason: no_safe_version_reason(ctx, dep, findings, nothing_to_try),
    }
}

/// The fixes that need no search: a package that is malicious as a whole (a record with no fixed
/// version) is removed; findings about the package as a whole (PEP 792 status, npm unpublish, security
/// holding) are the same for every version, so when they are all that asks for a fix, no version helps.
/// A malicious release of an otherwise good package (event-stream 3.3.6) is fixed by a clean one.
fn no_version_helps(ctx: &CheckCtx<'_>, dep: &ResolvedDep, findings: &[&Finding]) -> Option<Fix> {
    if let Some(malicious) = findings
        .iter()
        .find(|f| f.kind == FindingKind::Malicious && malicious_everywhere(ctx, dep, f))
    {
        return Some(Fix::Remove {
            reason: format!(
                "{} is malicious ({}); no version is safe, remove it",
                dep.package.name, malicious.id
            ),
        });
    }
    let whole_package = whole_package_findings(ctx, dep);
    if !whole_package.is_empty()
        && findings
            .iter()
            .filter(|f| wants_fix(f.kind))
            .all(|f| whole_package.iter().any(|p| p.kind == f.kind && p.message == f.message))
    {
        return Some(Fix::NoSafeVersion {
            reason: format!(
                "the finding concerns every version of {}; changing the version does not clear it",
                dep.package.name
            ),
        });
    }
    None
}

/// The known versions above `current` (all of them when there is none), ascending, without
/// pre-releases unless the current version is one, and without npm's security-holding placeholder.
fn newer_candidates(ctx: &CheckCtx<'_>, dep: &ResolvedDep, current: Option<&Version>) -> Vec<(Version, String)> {
    let ecosystem = dep.package.ecosystem;
    let mut candidates: Vec<(Version, String)> = candidate_versions(ctx, dep)
        .into_iter()
        .filter_map(|text| Version::parse(ecosystem, &text).map(|v| (v, text)))
        .filter(|(v, _)| current.is_none_or(|cur| v.compare(cur) == Some(Ordering::Greater)))
        .filter(|(v, _)| !v.is_prerelease() || current.is_some_and(Version::is_prerelease))
        .filter(|(_, text)| text != checks::availability::SECURITY_HOLDING_VERSION)
        .collect();
    candidates.sort_by(|a, b| a.0.compare(&b.0).unwrap_or(Ordering::Equal));
    candidates.dedup_by(|a, b| a.0 == b.0);
    candidates
}

/// Same release line first (same major, or same minor for 0.x), then anything above.
fn same_line_first<'a>(
    candidates: &'a [(Version, String)],
    current: Option<&Version>,
) -> impl Iterator<Item = &'a String> {
    let current_major = current.map(major_line);
    let same = current_major.clone();
    candidates
        .iter()
        .filter(move |(v, _)| same.as_ref().is_none_or(|line| &major_line(v) == line))
        .chain(
            candidates
                .iter()
                .filter(move |(v, _)| current_major.as_ref().is_some_and(|line| &major_line(v) != line)),
        )
        .map(|(_, text)| text)
}

/// Without a lockfile the resolved version is only what the range would install today: when that is
/// unsafe (a fresh publish, most often), an older version the range already admits is the nearest fix,
/// and pinning it (see `rewrite`) keeps the next install off the unsafe one. Newest first.
fn older_within_range(ctx: &CheckCtx<'_>, dep: &ResolvedDep) -> Vec<String> {
    match (&dep.requirement, dep.resolved.source) {
        (Some(requirement), VersionSource::Resolved) => {
            let admitted = requirement.matching(
                dep.package.ecosystem,
                candidate_versions(ctx, dep).iter().map(String::as_str),
            );
            let resolved = dep.resolved.version.as_deref();
            admitted
                .into_iter()
                .rev()
                .filter(|v| Some(v.as_str()) != resolved)
                .filter(|v| v != checks::availability::SECURITY_HOLDING_VERSION)
                .collect()
        }
        _ => Vec::new(),
    }
}

/// Whether the package manager refuses to install `version` (its cooldown, uv's `exclude-newer`).
fn installer_refuses(ctx: &CheckCtx<'_>, dep: &ResolvedDep, version: &str) -> bool {
    ctx.facts
        .packages
        .get(&dep.package)
        .and_then(Fact::known)
        .is_some_and(|facts| {
            checks::age::refused_by_installer(
                ctx.age,
                facts,
                dep.package.ecosystem,
                &dep.package.name,
                version,
                ctx.now,
            )
        })
}

/// The released versions below `current` on its release line, newest first.
fn older_on_line(ctx: &CheckCtx<'_>, dep: &ResolvedDep, current: &Version) -> Vec<String> {
    let mut older: Vec<(Version, String)> = candidate_versions(ctx, dep)
        .into_iter()
        .filter_map(|text| Version::parse(dep.package.ecosystem, &text).map(|v| (v, text)))
        .filter(|(v, _)| v.compare(current) == Some(Ordering::Less) && !v.is_prerelease())
        .filter(|(v, _)| major_line(v) == major_line(current))
        .collect();
    older.sort_by(|a, b| b.0.compare(&a.0).unwrap_or(Ordering::Equal));
    older.into_iter().map(|(_, text)| text).collect()
}

/// Why no version was proposed: a fresh version that only needs time says when it is old enough.
fn no_safe_version_reason(
    ctx: &CheckCtx<'_>,
    dep: &ResolvedDep,
    findings: &[&Finding],
    nothing_to_try: bool,
) -> String {
    let only_fresh = findings
        .iter()
        .filter(|f| wants_fix(f.kind))
        .all(|f| f.kind == FindingKind::FreshVersion);
    let matures = match (only_fresh, dep.resolved.version.as_deref()) {
        (true, Some(version)) => ctx
            .facts
            .packages
            .get(&dep.package)
            .and_then(Fact::known)
            .and_then(|facts| {
                checks::age::old_enough_at(ctx.age, facts, dep.package.ecosystem, &dep.package.name, version)
            })
            .map(|at| (version, at)),
        _ => None,
    };
    if let Some((version, at)) = matures {
        format!(
            "no other version of {} is old enough and safe; {version} is old enough from {at}",
            dep.package.name
        )
    } else if nothing_to_try {
        format!("no newer version of {} is known", dep.package.name)
    } else {
        format!("no newer version of {} clears every finding", dep.package.name)
    }
}

/// Whether the records behind a malicious finding name no fixed version for the package.
fn malicious_everywhere(ctx: &CheckCtx<'_>, dep: &ResolvedDep, finding: &Finding) -> bool {
    let Some(Fact::Known { value: advisories, .. }) = ctx.facts.advisories.get(&dep.package) else {
        return true;
    };
    let ids: Vec<&str> = std::iter::once(finding.id.as_str())
        .chain(finding.aliases.iter().map(String::as_str))
        .collect();
    let fixed: Vec<String> = advisories
        .iter()
        .filter(|a| ids.contains(&a.id.as_str()))
        .flat_map(|a| advisory::fixed_versions(a, &dep.package))
        .filter(|v| !v.is_empty())
        .collect();
    fixed.is_empty()
}

fn major_line(version: &Version) -> Vec<u64> {
    let release = version.release();
    match release.first() {
        Some(0) => release.iter().take(2).copied().collect(),
        _ => release.iter().take(1).copied().collect(),
    }
}

fn registry_versions(ctx: &CheckCtx<'_>, dep: &ResolvedDep) -> Option<Vec<String>> {
    let facts = ctx.facts.packages.get(&dep.package)?.known()?;
    Some(facts.versions.iter().map(|v| v.version.to_string()).collect())
}

fn candidate_versions(ctx: &CheckCtx<'_>, dep: &ResolvedDep) -> Vec<String> {
    if let Some(versions) = registry_versions(ctx, dep) {
        return versions;
    }
    let Some(Fact::Known { value: advisories, .. }) = ctx.facts.advisories.get(&dep.package) else {
        return Vec::new();
    };
    advisories
        .iter()
        .flat_map(|a| advisory::fixed_versions(a, &dep.package))
        .collect()
}

/// Rewrites the requirement to admit `version`, keeping its operators; `None` when the result would
/// not admit the version or would resolve to an unsafe one.
fn rewrite(
    dep: &ResolvedDep,
    version: &str,
    ctx: &CheckCtx<'_>,
    policy: &Policy,
    versions_known: bool,
) -> Option<String> {
    let ecosystem = dep.package.ecosystem;
    let original = dep.requirement_text.as_deref().unwrap_or("").trim();
    let rewritten = restyle(ecosystem, original, version);
    let poetry = false;
    let admits = |text: &str| {
        let parsed = Requirement::parse(ecosystem, text, poetry).ok();
        let version = Version::parse(ecosystem, version);
        match (parsed, version) {
            (Some(req), Some(v)) => req.matches(&v),
            _ => false,
        }
    };
    let resolves_safely = |text: &str| {
        if !versions_known {
            return true;
        }
        let Some(req) = Requirement::parse(ecosystem, text, poetry).ok() else {
            return false;
        };
        let Some(available) = registry_versions(ctx, dep) else {
            return true;
        };
        match req.highest(ecosystem, available.iter().map(String::as_str)) {
            Some(highest) => is_safe(ctx, policy, dep, &highest),
            None => false,
        }
    };
    if admits(&rewritten) && resolves_safely(&rewritten) {
        return Some(rewritten);
    }
    let exact = exact_style(ecosystem, version);
    admits(&exact).then_some(exact)
}

fn exact_style(ecosystem: Ecosystem, version: &str) -> String {
    match ecosystem {
        Ecosystem::Npm => version.to_string(),
        Ecosystem::CratesIo => format!("={version}"),
        Ecosystem::PyPI => format!("=={version}"),
    }
}

fn is_version_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '*' | '!')
}

/// Replaces the lower-bound version in `original` with `version`, keeping the operators:
/// `^4.17.15` → `^4.17.21`, `==2.19.0` → `==2.31.0`, `1.0` → `1.0.4`, `>=2.0,<3` → `>=2.31.0,<3`.
pub fn restyle(ecosystem: Ecosystem, original: &str, version: &str) -> String {
    if original.is_empty() || original == "*" || original == "latest" {
        return match ecosystem {
            Ecosystem::Npm => format!("^{version}"),
            Ecosystem::CratesIo => version.to_string(),
            Ecosystem::PyPI => format!(">={version}"),
        };
    }
    if original.contains("||") || original.contains(" - ") {
        return exact_style(ecosystem, version);
    }
    let separators: &[char] = match ecosystem {
        Ecosystem::PyPI | Ecosystem::CratesIo => &[','],
        Ecosystem::Npm => &[' '],
    };
    let parts: Vec<&str> = original.split(separators).collect();
    let mut replaced = false;
    let mut out = Vec::new();
    for part in &parts {
        let trimmed = part.trim();
        let op_len = trimmed.find(|c: char| c.is_ascii_digit()).unwrap_or(trimmed.len());
        let (op, rest) = trimmed.split_at(op_len);
        let op_trim = op.trim();
        let is_lower = matches!(
            op_trim,
            "" | "^" | "~" | "=" | "==" | "===" | "~=" | ">=" | ">" | "v" | "=v"
        );
        if !replaced && is_lower && !rest.is_empty() {
            let tail: String = rest.chars().skip_while(|c| is_version_char(*c)).collect();
            let new_op = match op_trim {
                ">" => ">=".to_string(),
                "~=" => {
                    // `~=X.Y` admits `>=X.Y,<X+1`; keep the same number of release segments.
                    let segments = rest.split('.').count().max(2);
                    let trimmed_version: Vec<&str> = version.split('.').take(segments).collect();
                    out.push(format!("~={}{tail}", trimmed_version.join(".")));
                    replaced = true;
                    continue;
                }
                other => other.to_string(),
            };
            let leading_ws: String = part.chars().take_while(|c| c.is_whitespace()).collect();
            out.push(format!("{leading_ws}{new_op}{version}{tail}"));
            replaced = true;
        } else {
            out.push(part.to_string());
        }
    }
    if !replaced {
        return exact_style(ecosystem, version);
    }
    let joiner = match ecosystem {
        Ecosystem::PyPI | Ecosystem::CratesIo => ",",
        Ecosystem::Npm => " ",
    };
    out.join(joiner)
}

#[cfg(test)]
mod tests;
