//! Age: fresh versions (published less than `min-version-age` ago, or after an `exclude-newer`
//! cutoff) and fresh packages (first seen less than `min-package-age` ago).
//!
//! Invariants:
//! - Pure: `now` and the thresholds come in `CheckCtx`; publish times come from `PackageFacts`.
//! - Unknown is never guessed: a version whose publish time the registry does not give gets no age
//!   finding at all (not even a note: the npm mirror and some private registries give no trustworthy
//!   time, and a note on every dependency would drown the real findings). The same for a package
//!   without `created`.
//! - A publish time in the future (clock skew between registry and machine) counts as "just now".
//! - A range resolved without a lockfile to a fresh version says which older version the range also
//!   admits, so the reader sees that the next install would pull the fresh one.
//! - `AgeThresholds::exempt` (the project's cooldown exclusions) silences both findings for the
//!   packages (or versions) it names; the solver still refuses versions the installer would refuse
//!   (`refused_by_installer`), which exemptions also lift, as the installer's own exclusions do.

use jiff::{SignedDuration, Timestamp};

use crate::checks::advisory::via_text;
use crate::checks::{AgeThresholds, CheckCtx, Evidence, Finding, FindingKind, ResolvedDep};
use crate::model::{Ecosystem, Fact, PackageFacts, Severity};
use crate::resolve::{Version, VersionSource};

pub fn check(ctx: &CheckCtx<'_>, dep_idx: usize, dep: &ResolvedDep, acc: &mut Vec<Finding>) {
    let Some(version) = dep.resolved.version.as_deref() else {
        return;
    };
    let Some(facts) = ctx.facts.packages.get(&dep.package).and_then(Fact::known) else {
        return;
    };
    let ecosystem = dep.package.ecosystem;
    let name = &dep.package.name;
    if is_exempt(ctx.age, ecosystem, name, Some(version)) {
        return;
    }
    let finding = |kind: FindingKind, message: String, evidence: Vec<Evidence>| {
        let message = format!("{message}{}", via_text(dep));
        Finding::of_kind(dep_idx, dep.span, kind, Severity::Warning, message, evidence)
    };

    if let Some(created) = facts.created {
        let age = age_at(ctx.now, created);
        if age < ctx.age.min_package_age {
            acc.push(finding(
                FindingKind::FreshPackage,
                format!(
                    "{name} is a new package: it first appeared {} ago (younger than {})",
                    describe(age),
                    describe(ctx.age.min_package_age)
                ),
                vec![Evidence::Published(created)],
            ));
        }
    }

    let Some(published) = version_facts(facts, ecosystem, version).and_then(|v| v.published()) else {
        return;
    };
    // Without a lockfile, an installer with its own cooldown skips the fresh version and installs an
    // older one, so the range does not expose this one. The engine resolves ranges against
    // `installable_versions`, so this only guards callers that resolve otherwise.
    if dep.resolved.source == VersionSource::Resolved
        && refused_by_installer(ctx.age, facts, ecosystem, name, version, ctx.now)
    {
        return;
    }
    let Some(why) = fresh_reason(ctx.age, ecosystem, name, published, ctx.now) else {
        return;
    };
    let mut message = format!("{name}@{version} {why}");
    if refused_by_installer(ctx.age, facts, ecosystem, name, version, ctx.now) {
        message.push_str("; the package manager refuses to install it");
    }
    if dep.resolved.source == VersionSource::Resolved
        && let Some(older) = older_admitted(ctx, dep, facts, version)
    {
        message = format!(
            "{message}; without a lockfile the range `{}` installs it although it also admits {older}",
            dep.requirement_text.as_deref().unwrap_or("").trim()
        );
    }
    acc.push(finding(
        FindingKind::FreshVersion,
        message,
        vec![
            Evidence::Published(published),
            Evidence::Text(format!("threshold set by {}", ctx.age.decided_by)),
        ],
    ));
}

/// Why a version published at `published` is too fresh, or `None` when it is old enough.
fn fresh_reason(
    age: &AgeThresholds,
    ecosystem: Ecosystem,
    name: &str,
    published: Timestamp,
    now: Timestamp,
) -> Option<String> {
    let elapsed = age_at(now, published);
    if let Some(cutoff) = cutoff_for(age, ecosystem, name)
        && published > cutoff
    {
        return Some(format!(
            "was published {} ago, after the exclude-newer cutoff {cutoff} ({})",
            describe(elapsed),
            age.decided_by
        ));
    }
    if elapsed < age.min_version_age {
        return Some(format!(
            "was published {} ago (younger than {}, {})",
            describe(elapsed),
            describe(age.min_version_age),
            age.decided_by
        ));
    }
    None
}

/// Whether the package manager itself would refuse to install `version`: its own release-age setting
/// (`installer_min_age`) or an `exclude-newer` cutoff. Unknown publish times are not refused.
pub fn refused_by_installer(
    age: &AgeThresholds,
    facts: &PackageFacts,
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
    now: Timestamp,
) -> bool {
    match version_facts(facts, ecosystem, version) {
        Some(found) => refused(age, ecosystem, name, found, cutoff_for(age, ecosystem, name), now),
        None => false,
    }
}

/// `refused_by_installer` for a registry entry already in hand (no lookup by version text).
fn refused(
    age: &AgeThresholds,
    ecosystem: Ecosystem,
    name: &str,
    found: &crate::model::VersionFacts,
    cutoff: Option<Timestamp>,
    now: Timestamp,
) -> bool {
    if is_exempt(age, ecosystem, name, Some(&found.version)) {
        return false;
    }
    let Some(published) = found.published() else {
        return false;
    };
    let after_cutoff = cutoff.is_some_and(|cutoff| published > cutoff);
    let too_young = age
        .installer_min_age
        .is_some_and(|min_age| age_at(now, published) < min_age);
    after_cutoff || too_young
}

/// The versions an installer with the project's cooldown would choose from: not yanked, and not refused
/// by `refused_by_installer`. What a range "installs today" is the highest of these.
pub fn installable_versions(
    age: &AgeThresholds,
    facts: &PackageFacts,
    ecosystem: Ecosystem,
    name: &str,
    now: Timestamp,
) -> Vec<String> {
    // Runs on every evaluation for every package: one pass, no lookups by version text.
    let cutoff = cutoff_for(age, ecosystem, name);
    let constrained = cutoff.is_some() || age.installer_min_age.is_some();
    facts
        .versions
        .iter()
        .filter(|v| !v.yanked())
        .filter(|v| !constrained || !refused(age, ecosystem, name, v, cutoff, now))
        .map(|v| v.version.to_string())
        .collect()
}

/// When `version` stops being fresh under `age` (the later of the policy's and the installer's
/// minimum ages); `None` when its publish time is unknown or a fixed cutoff refuses it for good.
pub fn old_enough_at(
    age: &AgeThresholds,
    facts: &PackageFacts,
    ecosystem: Ecosystem,
    name: &str,
    version: &str,
) -> Option<Timestamp> {
    let published = version_facts(facts, ecosystem, version)?.published()?;
    if cutoff_for(age, ecosystem, name).is_some_and(|cutoff| published > cutoff) {
        return None;
    }
    let wait = age
        .installer_min_age
        .map_or(age.min_version_age, |installer| installer.max(age.min_version_age));
    published.checked_add(wait).ok()
}

fn cutoff_for(age: &AgeThresholds, ecosystem: Ecosystem, name: &str) -> Option<Timestamp> {
    age.exclude_newer_package
        .iter()
        .find(|(package, _)| ecosystem.normalize_name(package) == name)
        .map(|(_, cutoff)| *cutoff)
        .or(age.exclude_newer)
}

/// The registry's entry for `version`, matched by text or, failing that, by version equality
/// (PEP 440 `1.0` is `1.0.0`).
pub fn version_facts<'a>(
    facts: &'a PackageFacts,
    ecosystem: Ecosystem,
    version: &str,
) -> Option<&'a crate::model::VersionFacts> {
    if let Some(found) = facts.version(version) {
        return Some(found);
    }
    let wanted = Version::parse(ecosystem, version)?;
    facts
        .versions
        .iter()
        .find(|v| Version::parse(ecosystem, &v.version).is_some_and(|parsed| parsed == wanted))
}

/// Whether the cooldown exclusions name this package (and, for `name@versions` entries, this version).
pub fn is_exempt(age: &AgeThresholds, ecosystem: Ecosystem, name: &str, version: Option<&str>) -> bool {
    age.exempt.iter().any(|pattern| {
        let pattern = pattern.trim();
        // `@scope/name@1.0.0` and `name@1.0.0`: the version part follows an `@` that is not the first char.
        let (name_pattern, versions) = match pattern.get(1..).and_then(|rest| rest.find('@')) {
            Some(at) => (&pattern[..at + 1], Some(&pattern[at + 2..])),
            None => (pattern, None),
        };
        if !glob_matches(&ecosystem.normalize_name(name_pattern), name) {
            return false;
        }
        match (versions, version) {
            (None, _) => true,
            (Some(list), Some(version)) => list.split("||").any(|v| v.trim() == version),
            (Some(_), None) => false,
        }
    })
}

/// `*` matches any run of characters; everything else literally.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (idx, part) in parts.iter().enumerate() {
        if idx == 0 {
            let Some(after) = rest.strip_prefix(part) else {
                return false;
            };
            rest = after;
        } else if idx == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// The newest version below `version` that the requirement admits and that is old enough.
fn older_admitted(ctx: &CheckCtx<'_>, dep: &ResolvedDep, facts: &PackageFacts, version: &str) -> Option<String> {
    let requirement = dep.requirement.as_ref()?;
    let ecosystem = dep.package.ecosystem;
    let matching = requirement.matching(
        ecosystem,
        facts
            .versions
            .iter()
            .filter(|v| !v.yanked())
            .map(|v| v.version.as_str()),
    );
    matching
        .into_iter()
        .rev()
        .filter(|candidate| candidate != version)
        .find(|candidate| {
            version_facts(facts, ecosystem, candidate)
                .and_then(|v| v.published())
                .is_some_and(|published| {
                    fresh_reason(ctx.age, ecosystem, &dep.package.name, published, ctx.now).is_none()
                })
        })
}

/// Time since `then`; a time in the future counts as zero.
pub(crate) fn age_at(now: Timestamp, then: Timestamp) -> SignedDuration {
    let elapsed = now.duration_since(then);
    if elapsed.is_negative() {
        SignedDuration::ZERO
    } else {
        elapsed
    }
}

/// "5 hours", "1 day", "40 minutes": whole units, days from 48 hours on.
pub fn describe(duration: SignedDuration) -> String {
    let secs = duration.as_secs().max(0);
    let (amount, unit) = if secs < 3600 {
        (secs / 60, "minute")
    } else if secs < 48 * 3600 {
        (secs / 3600, "hour")
    } else {
        (secs / 86400, "day")
    };
    if amount == 1 {
        format!("1 {unit}")
    } else {
        format!("{amount} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Facts, PackageRef, Span, VersionFacts};
    use crate::resolve::{Requirement, Resolved};

    fn now() -> Timestamp {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    /// Versions as (text, hours since publish or None for unknown), checked at `version`.
    fn check_with(
        age: &AgeThresholds,
        versions: &[(&str, Option<i64>)],
        requirement: &str,
        version: &str,
        source: VersionSource,
    ) -> Vec<String> {
        let package = PackageRef::new(Ecosystem::Npm, "pkg");
        let mut facts = Facts::default();
        facts.packages.insert(
            package.clone(),
            Fact::Known {
                value: std::sync::Arc::new(PackageFacts {
                    versions: versions
                        .iter()
                        .map(|(v, hours)| VersionFacts {
                            version: (*v).into(),
                            published: hours.map(|h| now() - SignedDuration::from_hours(h)).into(),
                            ..VersionFacts::default()
                        })
                        .collect(),
                    created: Some(now() - SignedDuration::from_hours(24 * 400)),
                    ..PackageFacts::default()
                }),
                as_of: now(),
                stale: false,
            },
        );
        let dep = ResolvedDep {
            package,
            requirement_text: Some(requirement.to_string()),
            requirement: Requirement::parse(Ecosystem::Npm, requirement, false).ok(),
            resolved: Resolved {
                version: Some(version.to_string()),
                source,
            },
            span: Span::default(),
            via: Vec::new(),
            private: false,
        };
        let ctx = CheckCtx {
            now: now(),
            facts: &facts,
            age,
            signals: &crate::checks::signals::SignalRules::default(),
        };
        let mut acc = Vec::new();
        check(&ctx, 0, &dep, &mut acc);
        acc.into_iter().map(|f| format!("{} {}", f.id, f.message)).collect()
    }

    #[test]
    fn fresh_versions_and_unknown_times() {
        let age = AgeThresholds::default();
        let versions = [
            ("1.0.0", Some(24 * 90)),
            ("1.1.0", Some(5)),
            ("1.2.0", None),
            ("1.3.0", Some(-3)),
        ];
        insta::assert_debug_snapshot!(check_with(&age, &versions, "1.1.0", "1.1.0", VersionSource::Pinned), @r#"
        [
            "fresh-version pkg@1.1.0 was published 5 hours ago (younger than 3 days, Gatehouse default min-version-age = 72h)",
        ]
        "#);
        // Unknown publish time: no finding, never a guess.
        assert!(check_with(&age, &versions, "1.2.0", "1.2.0", VersionSource::Pinned).is_empty());
        // A time in the future (clock skew) counts as just published.
        insta::assert_debug_snapshot!(check_with(&age, &versions, "1.3.0", "1.3.0", VersionSource::Pinned), @r#"
        [
            "fresh-version pkg@1.3.0 was published 0 minutes ago (younger than 3 days, Gatehouse default min-version-age = 72h)",
        ]
        "#);
        assert!(check_with(&age, &versions, "1.0.0", "1.0.0", VersionSource::Pinned).is_empty());
    }

    #[test]
    fn range_names_the_older_version_it_admits() {
        let age = AgeThresholds::default();
        let versions = [("1.0.0", Some(24 * 90)), ("1.1.0", Some(5))];
        insta::assert_debug_snapshot!(check_with(&age, &versions, "^1.0.0", "1.1.0", VersionSource::Resolved), @r#"
        [
            "fresh-version pkg@1.1.0 was published 5 hours ago (younger than 3 days, Gatehouse default min-version-age = 72h); without a lockfile the range `^1.0.0` installs it although it also admits 1.0.0",
        ]
        "#);
    }

    #[test]
    fn exemptions_and_cutoffs() {
        let versions = [("1.0.0", Some(24 * 90)), ("1.1.0", Some(24 * 10))];
        let exempt = AgeThresholds {
            exempt: vec!["pkg".into()],
            min_version_age: SignedDuration::from_hours(24 * 30),
            ..AgeThresholds::default()
        };
        assert!(check_with(&exempt, &versions, "1.1.0", "1.1.0", VersionSource::Pinned).is_empty());
        let cutoff = AgeThresholds {
            exclude_newer: Some(now() - SignedDuration::from_hours(24 * 20)),
            decided_by: "uv.toml exclude-newer = \"2026-11-05T12:00:00Z\"".into(),
            ..AgeThresholds::default()
        };
        insta::assert_debug_snapshot!(check_with(&cutoff, &versions, "1.1.0", "1.1.0", VersionSource::Pinned), @r#"
        [
            "fresh-version pkg@1.1.0 was published 10 days ago, after the exclude-newer cutoff 2026-11-05T12:00:00Z (uv.toml exclude-newer = \"2026-11-05T12:00:00Z\"); the package manager refuses to install it",
        ]
        "#);
        let facts = PackageFacts {
            versions: vec![VersionFacts {
                version: "1.1.0".into(),
                published: Some(now() - SignedDuration::from_hours(24 * 10)).into(),
                ..VersionFacts::default()
            }],
            ..PackageFacts::default()
        };
        assert!(refused_by_installer(
            &cutoff,
            &facts,
            Ecosystem::Npm,
            "pkg",
            "1.1.0",
            now()
        ));
        let installer = AgeThresholds {
            installer_min_age: Some(SignedDuration::from_hours(24 * 11)),
            ..AgeThresholds::default()
        };
        assert!(refused_by_installer(
            &installer,
            &facts,
            Ecosystem::Npm,
            "pkg",
            "1.1.0",
            now()
        ));
        assert!(!refused_by_installer(
            &AgeThresholds::default(),
            &facts,
            Ecosystem::Npm,
            "pkg",
            "1.1.0",
            now()
        ));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(describe(SignedDuration::from_hours(5)), "5 hours");
        assert_eq!(describe(SignedDuration::from_hours(72)), "3 days");
        assert_eq!(describe(SignedDuration::from_mins(1)), "1 minute");
        assert_eq!(describe(SignedDuration::from_hours(47)), "47 hours");
    }

    #[test]
    fn exemptions_take_globs_and_versions() {
        let age = AgeThresholds {
            exempt: vec!["@myorg/*".into(), "webpack@5.1.0 || 5.1.1".into(), "react".into()],
            ..AgeThresholds::default()
        };
        assert!(is_exempt(&age, Ecosystem::Npm, "@myorg/tool", Some("1.0.0")));
        assert!(is_exempt(&age, Ecosystem::Npm, "react", Some("19.0.0")));
        assert!(is_exempt(&age, Ecosystem::Npm, "webpack", Some("5.1.1")));
        assert!(!is_exempt(&age, Ecosystem::Npm, "webpack", Some("5.2.0")));
        assert!(!is_exempt(&age, Ecosystem::Npm, "@other/tool", Some("1.0.0")));
        let pypi = AgeThresholds {
            exempt: vec!["Typing_Extensions".into()],
            ..AgeThresholds::default()
        };
        assert!(is_exempt(&pypi, Ecosystem::PyPI, "typing-extensions", None));
    }
}
