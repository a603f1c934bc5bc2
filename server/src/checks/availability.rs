//! Availability: yanked and deprecated versions, unpublished and quarantined packages, npm security
//! holding packages, and takedowns this machine remembers.
//!
//! Invariants:
//! - Pure: reads `PackageFacts` only; the takedown memory (`PackageFacts::vanished`) is filled by
//!   `lookup` from its append-only store.
//! - Default severities: yanked, unpublished, security holding, quarantined, taken down, changed
//!   artifact → error; deprecated (npm message, PEP 792 `deprecated`, PEP 792 `archived`) → warning.
//!   The registry's own words (`yanked_reason`, `deprecated`, `status_reason`) are quoted in the message.
//! - Kinds: PEP 792 `quarantined` is `taken-down` (the registry pulled it pending review); `archived`
//!   and `deprecated` are `deprecated`; npm unpublish and security holding packages are `unpublished`.
//! - A locked or pinned version that the registry does not list (and the takedown memory does not
//!   know either) is `unpublished` at error severity, "not listed by the registry": we cannot tell a
//!   removal we never saw from a version that never existed, and both break the next install. Only a
//!   known package list counts: pending or unavailable facts emit nothing, and a version resolved from
//!   the list itself is listed by construction.

use crate::checks::advisory::via_text;
use crate::checks::age::version_facts;
use crate::checks::{CheckCtx, Evidence, Finding, FindingKind, ResolvedDep};
use crate::model::{Fact, PackageFacts, ProjectStatus, Severity};
use crate::resolve::{Version, VersionSource};

/// The version npm publishes in place of a package it removed for security reasons.
pub const SECURITY_HOLDING_VERSION: &str = "0.0.1-security";

/// One finding before it is placed on the dependency: kind, default severity, message, evidence.
type Found = (FindingKind, Severity, String, Vec<Evidence>);

pub fn check(ctx: &CheckCtx<'_>, dep_idx: usize, dep: &ResolvedDep, acc: &mut Vec<Finding>) {
    let Some(facts) = ctx.facts.packages.get(&dep.package).and_then(Fact::known) else {
        return;
    };
    let (mut found, every_version) = whole_package(dep, facts);
    if !every_version && let Some(version) = dep.resolved.version.as_deref() {
        found.extend(checked_version(dep, facts, version));
    }
    acc.extend(found.into_iter().map(|(kind, severity, message, evidence)| {
        let message = format!("{message}{}", via_text(dep));
        Finding::of_kind(dep_idx, dep.span, kind, severity, message, evidence)
    }));
}

/// `: reason` when the registry gave one.
fn reason_suffix(reason: &Option<String>) -> String {
    match reason.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => format!(": {text}"),
        _ => String::new(),
    }
}

/// Findings about the package as a whole (security holding, unpublished, PEP 792 status), and whether
/// they settle it for every version (then the checked version is not looked at).
fn whole_package(dep: &ResolvedDep, facts: &PackageFacts) -> (Vec<Found>, bool) {
    let name = &dep.package.name;
    let holding = facts.versions.iter().any(|v| v.version == SECURITY_HOLDING_VERSION)
        && (facts.versions.len() == 1 || dep.resolved.version.as_deref() == Some(SECURITY_HOLDING_VERSION))
        || facts
            .status_reason
            .as_deref()
            .is_some_and(|reason| reason.to_ascii_lowercase().contains("security holding"));
    if holding {
        let message = format!("{name} is a security holding package: the registry removed it for malicious code");
        return (
            vec![(FindingKind::Unpublished, Severity::Error, message, Vec::new())],
            true,
        );
    }
    // npm keeps `time.unpublished` only while nothing is published again; a stray one beside listed
    // versions is not an unpublished package.
    if facts.status == ProjectStatus::Unpublished || facts.unpublished.is_some() && facts.versions.is_empty() {
        let when = facts.unpublished.map(|t| format!(" on {t}")).unwrap_or_default();
        return (
            vec![(
                FindingKind::Unpublished,
                Severity::Error,
                format!("{name} was unpublished from the registry{when}; it can no longer be installed"),
                facts.unpublished.map(Evidence::Published).into_iter().collect(),
            )],
            true,
        );
    }
    let status = match facts.status {
        ProjectStatus::Quarantined => Some((
            FindingKind::TakenDown,
            Severity::Error,
            format!(
                "{name} is quarantined by the registry{}",
                reason_suffix(&facts.status_reason)
            ),
            Vec::new(),
        )),
        ProjectStatus::Archived => Some((
            FindingKind::Deprecated,
            Severity::Warning,
            format!(
                "{name} is archived: its maintainers expect no further releases{}",
                reason_suffix(&facts.status_reason)
            ),
            Vec::new(),
        )),
        ProjectStatus::Deprecated => Some((
            FindingKind::Deprecated,
            Severity::Warning,
            format!("{name} is deprecated{}", reason_suffix(&facts.status_reason)),
            Vec::new(),
        )),
        ProjectStatus::Active | ProjectStatus::Unpublished => None,
    };
    (status.into_iter().collect(), false)
}

/// Findings about the checked version: vanished or changed since it was seen, not listed, yanked,
/// deprecated.
fn checked_version(dep: &ResolvedDep, facts: &PackageFacts, version: &str) -> Vec<Found> {
    let ecosystem = dep.package.ecosystem;
    let name = &dep.package.name;
    let parsed = Version::parse(ecosystem, version);
    let vanished = facts.vanished.iter().find(|v| {
        v.version == version
            || parsed
                .as_ref()
                .is_some_and(|p| Version::parse(ecosystem, &v.version).is_some_and(|other| &other == p))
    });
    if let Some(vanished) = vanished {
        let message = match &vanished.changed_digest {
            Some(old) => format!(
                "{name}@{version}: the published artifact changed between {} and {} (it was {old}); a release's bytes must never change",
                vanished.last_seen, vanished.missing_since
            ),
            None => format!(
                "{name}@{version} was removed from the registry between {} and {}",
                vanished.last_seen, vanished.missing_since
            ),
        };
        return vec![(
            FindingKind::TakenDown,
            Severity::Error,
            message,
            vec![Evidence::Published(vanished.missing_since)],
        )];
    }
    let Some(listed) = version_facts(facts, ecosystem, version) else {
        if matches!(
            dep.resolved.source,
            VersionSource::Lockfile | VersionSource::Pinned | VersionSource::Constrained
        ) {
            return vec![(
                FindingKind::Unpublished,
                Severity::Error,
                format!(
                    "{name}@{version} ({}) is not listed by the registry: it was removed, or never published there",
                    dep.resolved.source.as_str()
                ),
                Vec::new(),
            )];
        }
        return Vec::new();
    };
    let mut res = Vec::new();
    if listed.yanked() {
        res.push((
            FindingKind::Yanked,
            Severity::Error,
            format!(
                "{name}@{version} was yanked{}",
                reason_suffix(&listed.detail.yanked_reason)
            ),
            listed
                .detail
                .yanked_reason
                .iter()
                .map(|reason| Evidence::Text(reason.clone()))
                .collect(),
        ));
    }
    if let Some(message) = listed
        .detail
        .deprecated
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        res.push((
            FindingKind::Deprecated,
            Severity::Warning,
            format!("{name}@{version} is deprecated: {message}"),
            vec![Evidence::Text(message.to_string())],
        ));
    }
    res
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::checks::AgeThresholds;
    use crate::model::{Ecosystem, Facts, PackageFacts, PackageRef, Span, VersionFacts};
    use crate::resolve::Resolved;

    fn messages(
        ecosystem: Ecosystem,
        facts: PackageFacts,
        version: Option<&str>,
        source: VersionSource,
    ) -> Vec<String> {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let package = PackageRef::new(ecosystem, "pkg");
        let mut all = Facts::default();
        all.packages.insert(
            package.clone(),
            Fact::Known {
                value: std::sync::Arc::new(facts),
                as_of: now,
                stale: false,
            },
        );
        let dep = ResolvedDep {
            package,
            requirement_text: None,
            requirement: None,
            resolved: Resolved {
                version: version.map(str::to_string),
                source,
            },
            span: Span::default(),
            via: Vec::new(),
            private: false,
        };
        let age = AgeThresholds::default();
        let ctx = CheckCtx {
            now,
            facts: &all,
            age: &age,
            signals: &crate::checks::signals::SignalRules::default(),
        };
        let mut acc = Vec::new();
        check(&ctx, 0, &dep, &mut acc);
        acc.into_iter()
            .map(|f| format!("{} {} {}", f.severity, f.id, f.message))
            .collect()
    }

    fn version(text: &str) -> VersionFacts {
        VersionFacts {
            version: text.into(),
            ..VersionFacts::default()
        }
    }

    #[test]
    fn package_states() {
        let unpublished = PackageFacts {
            unpublished: Some("2022-01-10T00:00:00Z".parse().unwrap()),
            status: ProjectStatus::Unpublished,
            ..PackageFacts::default()
        };
        let deprecated = PackageFacts {
            versions: vec![version("1.0.0")],
            status: ProjectStatus::Deprecated,
            status_reason: Some("use pkg2".into()),
            ..PackageFacts::default()
        };
        let holding_by_reason = PackageFacts {
            versions: vec![version("1.0.0")],
            status_reason: Some("Security holding package".into()),
            ..PackageFacts::default()
        };
        let mut yanked_version = VersionFacts {
            detail: crate::model::VersionDetail {
                deprecated: Some(String::new()),
                ..Default::default()
            }
            .into(),
            ..version("1.0")
        };
        yanked_version.set_yanked(true);
        let yanked_empty_deprecation = PackageFacts {
            versions: vec![yanked_version],
            ..PackageFacts::default()
        };
        insta::assert_debug_snapshot!((
            messages(Ecosystem::Npm, unpublished, Some("1.0.0"), VersionSource::Lockfile),
            messages(Ecosystem::PyPI, deprecated, Some("1.0.0"), VersionSource::Pinned),
            messages(Ecosystem::Npm, holding_by_reason, Some("1.0.0"), VersionSource::Pinned),
            // PEP 440: the registry lists `1.0`, the lockfile says `1.0.0`; an empty npm deprecation
            // message means "un-deprecated".
            messages(Ecosystem::PyPI, yanked_empty_deprecation.clone(), Some("1.0.0"), VersionSource::Lockfile),
            // A version resolved from the list is never "not listed"; unresolved says nothing.
            messages(Ecosystem::PyPI, yanked_empty_deprecation, Some("2.0.0"), VersionSource::Resolved),
        ), @r#"
        (
            [
                "error unpublished pkg was unpublished from the registry on 2022-01-10T00:00:00Z; it can no longer be installed",
            ],
            [
                "warning deprecated pkg is deprecated: use pkg2",
            ],
            [
                "error unpublished pkg is a security holding package: the registry removed it for malicious code",
            ],
            [
                "error yanked pkg@1.0.0 was yanked",
            ],
            [],
        )
        "#);
    }
}
