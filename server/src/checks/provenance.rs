//! Provenance: verified-as-wrong attestations, provenance downgrades and builder identity changes.
//!
//! Invariants:
//! - Pure: reads `PackageFacts` (which versions advertise attestations and registry signatures, with
//!   publish times) and `Facts::provenance` (what `lookup::provenance` verified offline); no clock,
//!   no IO. Cryptography never happens here.
//! - "Verified as wrong" (`Provenance::Invalid`) is `BadProvenance` at error severity and names the
//!   failed step; "could not verify" (`Provenance::Unknown`) is `NoProvenance` at information
//!   severity; pending or unavailable facts emit nothing (the engine reports them as unchecked).
//! - Downgrades are judged within the release line (same major; same major.minor for 0.x): a
//!   backport on a line that never had provenance is not a downgrade.
//! - Identity continuity compares the checked version with the previous attested version on its
//!   line (or, for the first version of a new line, the previous attested version before it): a
//!   different source repository or workflow is an error; a mismatch with the package's own
//!   `repository` field is only a warning (forks and renames are common and legitimate).

use std::cmp::Ordering;

use crate::checks::{CheckCtx, Evidence, Finding, FindingKind, ResolvedDep};
use crate::model::{Ecosystem, Fact, PackageFacts, Provenance, ProvenanceIdentity, Severity, VersionFacts};
use crate::resolve::Version;

/// The label of the bundled trusted root, for hovers.
pub const DEFAULT_ROOT_LABEL: &str = "Sigstore public-good root";

pub fn check(ctx: &CheckCtx<'_>, dep_idx: usize, dep: &ResolvedDep, acc: &mut Vec<Finding>) {
    let Some(version) = dep.resolved.version.as_deref() else {
        return;
    };
    let Some(facts) = ctx.facts.packages.get(&dep.package).and_then(Fact::known) else {
        return;
    };
    let Some(current) = facts.version(version) else {
        return;
    };
    let ecosystem = dep.package.ecosystem;
    let verified = provenance_of(ctx, dep, version);
    let finding = |kind: FindingKind, severity: Severity, message: String, evidence: Vec<Evidence>| {
        Finding::of_kind(dep_idx, dep.span, kind, severity, message, evidence)
    };
    let name = &dep.package.name;

    match verified {
        Some(Provenance::Invalid { step }) => {
            acc.push(finding(
                FindingKind::BadProvenance,
                Severity::Error,
                format!("{name}@{version} failed provenance verification: {step}"),
                vec![Evidence::Text(step.clone())],
            ));
            return;
        }
        Some(Provenance::Unknown { reason }) => {
            acc.push(finding(
                FindingKind::NoProvenance,
                Severity::Information,
                format!("provenance of {name}@{version} could not be verified: {reason}"),
                vec![Evidence::Text(reason.clone())],
            ));
        }
        _ => {}
    }

    if let Some((severity, message, evidence)) = downgrade_of(ecosystem, facts, current, verified) {
        acc.push(finding(
            FindingKind::ProvenanceDowngrade,
            severity,
            format!("{name}@{version} {message}"),
            evidence,
        ));
    }
    if let Some(Provenance::Verified(identity)) = verified {
        acc.extend(
            identity_findings(ctx, dep, facts, version, identity)
                .into_iter()
                .map(|(severity, message, evidence)| finding(FindingKind::BadProvenance, severity, message, evidence)),
        );
    }
}

/// This version lacks what earlier versions of its line had: provenance, else a registry signature.
fn downgrade_of(
    ecosystem: Ecosystem,
    facts: &PackageFacts,
    current: &VersionFacts,
    verified: Option<&Provenance>,
) -> Option<(Severity, String, Vec<Evidence>)> {
    let has_provenance = current.detail.attestations_url.is_some() && !matches!(verified, Some(Provenance::Absent));
    let found = if has_provenance {
        None
    } else {
        downgrade(
            ecosystem,
            facts,
            current,
            |v| v.detail.attestations_url.is_some(),
            "provenance",
        )
    };
    found.or_else(|| {
        if current.detail.signatures.is_empty() {
            downgrade(
                ecosystem,
                facts,
                current,
                |v| !v.detail.signatures.is_empty(),
                "registry signature",
            )
        } else {
            None
        }
    })
}

/// Identity continuity (the builder of the previous attested version) and the `repository` field.
fn identity_findings(
    ctx: &CheckCtx<'_>,
    dep: &ResolvedDep,
    facts: &PackageFacts,
    version: &str,
    identity: &ProvenanceIdentity,
) -> Vec<(Severity, String, Vec<Evidence>)> {
    let name = &dep.package.name;
    let mut res = Vec::new();
    if let Some(previous) = previous_attested(dep.package.ecosystem, facts, version)
        && let Some(Provenance::Verified(before)) = provenance_of(ctx, dep, &previous.version)
        && let Some(change) = identity_change(before, identity)
    {
        res.push((
            Severity::Error,
            format!(
                "{name}@{version} was built from {change}, but {} was built from {}",
                previous.version,
                identity_change(identity, before).unwrap_or_default()
            ),
            vec![
                Evidence::Text(format!(
                    "{version}: {}",
                    describe(&Provenance::Verified(identity.clone()))
                )),
                Evidence::Text(format!(
                    "{}: {}",
                    previous.version,
                    describe(&Provenance::Verified(before.clone()))
                )),
            ],
        ));
    }
    if let (Some(declared), Some(built)) = (facts.repository.as_deref(), identity.source_repository.as_deref())
        && normalize_repository(declared) != normalize_repository(built)
    {
        res.push((
            Severity::Warning,
            format!(
                "{name}@{version} was built in {}, but its repository field names {}",
                normalize_repository(built),
                normalize_repository(declared)
            ),
            vec![Evidence::Text(describe(&Provenance::Verified(identity.clone())))],
        ));
    }
    res
}

fn provenance_of<'a>(ctx: &'a CheckCtx<'_>, dep: &ResolvedDep, version: &str) -> Option<&'a Provenance> {
    ctx.facts
        .provenance
        .get(&(dep.package.clone(), version.to_string()))
        .and_then(Fact::known)
}

/// The release line of a version: `[major]`, or `[0, minor]` for 0.x.
pub fn release_line(ecosystem: Ecosystem, version: &str) -> Option<Vec<u64>> {
    Version::parse(ecosystem, version).map(|parsed| line_of(&parsed))
}

fn line_of(version: &Version) -> Vec<u64> {
    let release = version.release();
    let major = release.first().copied().unwrap_or(0);
    if major == 0 {
        vec![0, release.get(1).copied().unwrap_or(0)]
    } else {
        vec![major]
    }
}

/// The versions of `facts` that pass `keep` and are lower than `version`, highest first, each with its
/// release line.
fn lower_versions<'a>(
    ecosystem: Ecosystem,
    facts: &'a PackageFacts,
    version: &str,
    keep: impl Fn(&VersionFacts) -> bool,
) -> Vec<(Vec<u64>, &'a VersionFacts)> {
    // Each version is parsed once: this runs on every evaluation, for packages with hundreds of versions.
    let Some(current) = Version::parse(ecosystem, version) else {
        return Vec::new();
    };
    let mut lower: Vec<(Version, &VersionFacts)> = facts
        .versions
        .iter()
        .filter(|v| keep(v))
        .filter_map(|v| Version::parse(ecosystem, &v.version).map(|parsed| (parsed, v)))
        .filter(|(parsed, _)| parsed.compare(&current) == Some(Ordering::Less))
        .collect();
    lower.sort_by(|a, b| b.0.compare(&a.0).unwrap_or(Ordering::Equal));
    lower.into_iter().map(|(parsed, v)| (line_of(&parsed), v)).collect()
}

fn downgrade(
    ecosystem: Ecosystem,
    facts: &PackageFacts,
    current: &VersionFacts,
    has: impl Fn(&VersionFacts) -> bool,
    what: &str,
) -> Option<(Severity, String, Vec<Evidence>)> {
    // Most packages never had it: nothing can be a downgrade, and nothing needs sorting.
    if !facts.versions.iter().any(&has) {
        return None;
    }
    let line = release_line(ecosystem, &current.version)?;
    let lower = lower_versions(ecosystem, facts, &current.version, |_| true);
    let on_line: Vec<&VersionFacts> = lower
        .iter()
        .filter(|(version_line, _)| *version_line == line)
        .map(|(_, v)| *v)
        .collect();
    let evidence = |v: &VersionFacts| {
        let mut evidence = vec![Evidence::Text(format!("{} had {what}", v.version))];
        if let Some(published) = v.published() {
            evidence.push(Evidence::Published(published));
        }
        evidence
    };
    if let Some(previous) = on_line.first() {
        if has(previous) {
            let newer = match (current.published(), previous.published()) {
                (Some(now), Some(before)) => now > before,
                _ => true,
            };
            let severity = if newer { Severity::Error } else { Severity::Warning };
            return Some((
                severity,
                format!(
                    "has no {what}, but {} on the same release line had it",
                    previous.version
                ),
                evidence(previous),
            ));
        }
        let earlier: Vec<&str> = on_line.iter().filter(|v| has(v)).map(|v| v.version.as_str()).collect();
        if let Some(first) = on_line.iter().find(|v| has(v)) {
            return Some((
                Severity::Warning,
                format!(
                    "has no {what}, but earlier versions on its release line had it ({})",
                    earlier.iter().take(3).copied().collect::<Vec<_>>().join(", ")
                ),
                evidence(first),
            ));
        }
        return None;
    }
    // The first version of a new line: compare with the version just below it.
    let (_, previous) = lower.first()?;
    if has(previous) {
        return Some((
            Severity::Warning,
            format!("has no {what}, but {} before it had it", previous.version),
            evidence(previous),
        ));
    }
    None
}

/// The previous version with advertised provenance on the line of `version` or, when its line has
/// none below it, the highest attested version below it.
fn previous_attested<'a>(ecosystem: Ecosystem, facts: &'a PackageFacts, version: &str) -> Option<&'a VersionFacts> {
    // Only attested versions can be the answer, so only they are parsed and sorted: most packages have
    // none, and this runs for every dependency on every evaluation and in `needs`.
    let attested = lower_versions(ecosystem, facts, version, |v| v.detail.attestations_url.is_some());
    let line = release_line(ecosystem, version);
    attested
        .iter()
        .find(|(version_line, _)| Some(version_line) == line.as_ref())
        .or_else(|| attested.first())
        .map(|(_, v)| *v)
}

/// Which versions the engine should ask `lookup` to verify for this dependency: the checked one
/// (when it advertises attestations or signatures) and the previous attested one on its line.
pub fn provenance_versions(dep: &ResolvedDep, facts: &PackageFacts) -> Vec<String> {
    let Some(version) = dep.resolved.version.as_deref() else {
        return Vec::new();
    };
    let mut versions = Vec::new();
    if let Some(current) = facts.version(version)
        && (current.detail.attestations_url.is_some() || !current.detail.signatures.is_empty())
    {
        versions.push(version.to_string());
    }
    if let Some(previous) = previous_attested(dep.package.ecosystem, facts, version) {
        versions.push(previous.version.to_string());
    }
    versions
}

/// `Some(description of after)` when the source repository or workflow changed between builds.
fn identity_change(before: &ProvenanceIdentity, after: &ProvenanceIdentity) -> Option<String> {
    let repository_changed = match (&before.source_repository, &after.source_repository) {
        (Some(a), Some(b)) => normalize_repository(a) != normalize_repository(b),
        _ => false,
    };
    let workflow_changed = match (&before.workflow, &after.workflow) {
        (Some(a), Some(b)) => a != b,
        _ => false,
    };
    if !repository_changed && !workflow_changed {
        return None;
    }
    Some(format!(
        "{} (workflow {})",
        after
            .source_repository
            .as_deref()
            .map_or_else(|| "an unknown repository".to_string(), normalize_repository),
        after.workflow.as_deref().unwrap_or("unknown")
    ))
}

/// `git+https://github.com/Org/Repo.git`, `github:org/repo`, `org/repo`, `git@github.com:org/repo`
/// → `github.com/org/repo`.
pub fn normalize_repository(text: &str) -> String {
    let mut text = text.trim().to_ascii_lowercase();
    for prefix in ["git+", "https://", "http://", "ssh://", "git://", "git@"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest.to_string();
        }
    }
    if let Some(rest) = text.strip_prefix("github:") {
        text = format!("github.com/{rest}");
    } else if let Some(rest) = text.strip_prefix("gitlab:") {
        text = format!("gitlab.com/{rest}");
    }
    text = text.replacen("github.com:", "github.com/", 1);
    let text = text.trim_end_matches('/').trim_end_matches(".git").to_string();
    // npm shorthand `org/repo` means GitHub.
    if !text.contains('.') && text.matches('/').count() == 1 {
        return format!("github.com/{text}");
    }
    text
}

/// The JSON `packages[].provenance` status.
pub fn status(p: &Provenance) -> &'static str {
    match p {
        Provenance::Verified(_) => "verified",
        Provenance::Absent => "absent",
        Provenance::Invalid { .. } => "invalid",
        Provenance::Unknown { .. } => "unknown",
    }
}

/// Hover text, for the bundled root.
pub fn describe(p: &Provenance) -> String {
    describe_with_root(p, DEFAULT_ROOT_LABEL)
}

/// Hover text: "built by github.com/org/repo, workflow release.yml, commit abc1234, verified offline
/// against Sigstore public-good root".
pub fn describe_with_root(p: &Provenance, root_label: &str) -> String {
    match p {
        Provenance::Verified(id) => {
            let mut parts = Vec::new();
            let repository = id
                .source_repository
                .as_deref()
                .map(normalize_repository)
                .or_else(|| id.san.clone())
                .unwrap_or_else(|| "an unknown builder".to_string());
            parts.push(format!("built by {repository}"));
            if let Some(workflow) = &id.workflow {
                let file = workflow.rsplit('/').next().unwrap_or(workflow);
                parts.push(format!("workflow {file}"));
            }
            if let Some(git_ref) = &id.git_ref {
                parts.push(format!("ref {git_ref}"));
            }
            if let Some(commit) = &id.source_commit {
                parts.push(format!("commit {}", commit.get(..7).unwrap_or(commit)));
            }
            parts.push(format!("verified offline against {root_label}"));
            parts.join(", ")
        }
        Provenance::Absent => "no provenance attestation".to_string(),
        Provenance::Invalid { step } => format!("provenance is invalid: {step}"),
        Provenance::Unknown { reason } => format!("provenance could not be verified: {reason}"),
    }
}

#[cfg(test)]
mod tests;
