//! OSV advisories (incl. OpenSSF `MAL-` malicious-package records) against the checked version.
//!
//! Invariants:
//! - Pure: the advisories come in `CheckCtx::facts`; missing facts (pending, unavailable) emit nothing,
//!   the engine reports the dependency as unchecked.
//! - Range semantics follow the OSV schema's evaluation algorithm: `SEMVER` and `ECOSYSTEM` ranges only
//!   (`GIT` and unknown kinds are ignored); events are sorted by version whatever their order in the
//!   record (`introduced: "0"` first; on equal versions `introduced` sorts before the others);
//!   `introduced..fixed` is half-open, `introduced..=last_affected` closed, an `introduced` with no later
//!   end covers every later version, an empty `"fixed": ""` is no fix, and when a range has `limit`
//!   events the version must also be below one of them. Versions are compared with
//!   `crate::resolve::Version` (npm and crates.io semver, PyPI PEP 440), never as strings.
//! - The enumerated `versions` list affects too (matched by exact text or by ecosystem version equality,
//!   so PEP 440 `1.0` is `1.0.0`). An `affected[]` entry with neither ranges nor versions affects every
//!   version (malicious-package records do this). Withdrawn records never affect.
//! - An entry's `database_specific.last_known_affected_version_range` (GHSA, `< 2.6.7` / `<= 1.2.3`)
//!   repairs contradictory events: a range whose `fixed` sorts below its `introduced` ends at that
//!   bound instead of staying open, and a closed interval is widened up to it. Both occur in
//!   GHSA-r683-j2x4-v87g (`fixed: 1.0.0` beside `< 3.1.1` and `< 2.6.7`), where the literal events
//!   would miss every 2.x/3.x. A range with no end keeps no end (the bound is "last known").
//! - Records that alias each other (GHSA + PYSEC + CVE, GHSA + RUSTSEC) are one finding: the id is the
//!   preferred record's (`MAL-` first, then `GHSA-`, then the rest by id), the others are `aliases`.
//!
//! Severity mapping (`classify`), the default before policy:
//! - Malicious → (`Malicious`, `Error`) when the id starts with `MAL-`, when the record lists CWE-506
//!   ("Embedded Malicious Code", how GitHub marks its malware advisories), or when the summary/details
//!   describe a malicious package rather than a malicious attacker ("malicious code in", "contains
//!   malicious code", "replaced with a malicious project", "is considered malicious", "malware", …;
//!   e.g. PYSEC-2022-199 for `ctx`, which carries no CWE).
//! - Otherwise `Advisory`, `Error` when the highest CVSS base score of `severity[]` (v2, v3.x or v4 vectors,
//!   scored by the `cvss` crate) is ≥ 7.0 or `database_specific.severity` is `CRITICAL`/`HIGH`; `Warning`
//!   for lower scores, `MODERATE`/`MEDIUM`/`LOW`, and when no severity is known.

use std::cmp::Ordering;
use std::str::FromStr;

use crate::checks::{CheckCtx, Evidence, Finding, FindingKind, ResolvedDep};
use crate::model::{Advisory, Affected, Ecosystem, Fact, PackageRef, RangeEvent, RangeKind, Severity};
use crate::resolve::{Requirement, Version};

/// A lower end of an affected interval.
#[derive(Debug, Clone)]
enum Lower {
    /// `introduced: "0"`: from the first version.
    Zero,
    At(Version, String),
}

/// An upper end of an affected interval.
#[derive(Debug, Clone)]
enum Upper {
    /// `fixed`: versions below are affected.
    Before(Version, String),
    /// `last_affected`: versions up to and including are affected.
    Through(Version, String),
    /// No end: every later version.
    Open,
}

#[derive(Debug, Clone)]
struct Interval {
    lower: Lower,
    upper: Upper,
}

impl Interval {
    fn contains(&self, version: &Version) -> bool {
        let above = match &self.lower {
            Lower::Zero => true,
            Lower::At(lower, _) => version.compare(lower).is_some_and(|o| o != Ordering::Less),
        };
        let below = match &self.upper {
            Upper::Before(upper, _) => version.compare(upper) == Some(Ordering::Less),
            Upper::Through(upper, _) => version.compare(upper).is_some_and(|o| o != Ordering::Greater),
            Upper::Open => true,
        };
        above && below
    }

    fn describe(&self) -> String {
        let lower = match &self.lower {
            Lower::Zero => ">=0".to_string(),
            Lower::At(_, text) => format!(">={text}"),
        };
        match &self.upper {
            Upper::Before(_, text) => format!("{lower}, <{text}"),
            Upper::Through(_, text) => format!("{lower}, <={text}"),
            Upper::Open => lower,
        }
    }
}

/// The affected intervals and the `limit` caps of one range.
struct RangeIntervals {
    intervals: Vec<Interval>,
    limits: Vec<Version>,
}

impl RangeIntervals {
    fn contains(&self, version: &Version) -> bool {
        let under_limit = self.limits.is_empty()
            || self
                .limits
                .iter()
                .any(|limit| version.compare(limit) == Some(Ordering::Less));
        under_limit && self.intervals.iter().any(|i| i.contains(version))
    }
}

/// Reads one range's events as intervals, per the schema's evaluation algorithm.
fn intervals(ecosystem: Ecosystem, events: &[RangeEvent], last_known: Option<&str>) -> RangeIntervals {
    // (rank on equal versions, bound, event); introduced sorts first on ties.
    let mut sorted: Vec<(u8, Option<Version>, &RangeEvent)> = Vec::new();
    let mut limits = Vec::new();
    for event in events {
        match event {
            RangeEvent::Introduced(text) if text.trim() == "0" => sorted.push((0, None, event)),
            RangeEvent::Introduced(text) => {
                if let Some(version) = Version::parse(ecosystem, text) {
                    sorted.push((0, Some(version), event));
                }
            }
            RangeEvent::Fixed(text) | RangeEvent::LastAffected(text) => {
                if let Some(version) = Version::parse(ecosystem, text) {
                    sorted.push((1, Some(version), event));
                }
            }
            RangeEvent::Limit(text) => {
                if let Some(version) = Version::parse(ecosystem, text) {
                    limits.push(version);
                }
            }
        }
    }
    sorted.sort_by(|a, b| {
        let by_version = match (&a.1, &b.1) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.compare(y).unwrap_or(Ordering::Equal),
        };
        by_version.then(a.0.cmp(&b.0))
    });
    let mut res = Vec::new();
    let mut open: Option<Lower> = None;
    let mut inverted = false;
    let mut closed_lowers: Vec<Lower> = Vec::new();
    for (_, version, event) in sorted {
        match (event, version) {
            (RangeEvent::Introduced(_), None) => {
                open.get_or_insert(Lower::Zero);
            }
            (RangeEvent::Introduced(text), Some(version)) => {
                open.get_or_insert(Lower::At(version, text.trim().to_string()));
            }
            (RangeEvent::Fixed(text), Some(version)) => match open.take() {
                Some(lower) => {
                    closed_lowers.push(lower.clone());
                    res.push(Interval {
                        lower,
                        upper: Upper::Before(version, text.trim().to_string()),
                    });
                }
                None => inverted = true,
            },
            (RangeEvent::LastAffected(text), Some(version)) => match open.take() {
                Some(lower) => {
                    closed_lowers.push(lower.clone());
                    res.push(Interval {
                        lower,
                        upper: Upper::Through(version, text.trim().to_string()),
                    });
                }
                None => inverted = true,
            },
            _ => {}
        }
    }
    let last_known = last_known.and_then(|range| last_known_upper(ecosystem, range));
    if let Some(lower) = open {
        // A fix that sorts below its introduction (a GHSA data error) leaves the interval open; GitHub's
        // own `last_known_affected_version_range` then names the real end.
        let upper = if inverted {
            last_known.clone()
        } else {
            Some(Upper::Open)
        };
        if let Some(upper) = upper {
            res.push(Interval { lower, upper });
        }
    }
    // A closed interval beside a `last_known_affected_version_range` that reaches further (a bogus
    // `fixed: 1.0.0` beside `< 2.6.7`): the versions up to that bound are affected too.
    if let Some(upper) = last_known {
        for lower in closed_lowers {
            res.push(Interval {
                lower,
                upper: upper.clone(),
            });
        }
    }
    RangeIntervals { intervals: res, limits }
}

/// `"< 3.1.1"` / `"<= 1.2.3"` → the upper end it names.
fn last_known_upper(ecosystem: Ecosystem, range: &str) -> Option<Upper> {
    let range = range.trim();
    if let Some(text) = range.strip_prefix("<=") {
        let text = text.trim();
        return Version::parse(ecosystem, text).map(|v| Upper::Through(v, text.to_string()));
    }
    let text = range.strip_prefix('<')?.trim();
    Version::parse(ecosystem, text).map(|v| Upper::Before(v, text.to_string()))
}

fn entries<'a>(advisory: &'a Advisory, package: &'a PackageRef) -> impl Iterator<Item = &'a Affected> + 'a {
    advisory
        .affected
        .iter()
        .filter(move |entry| entry.package.as_ref() == Some(package))
}

fn version_ranges(entry: &Affected, ecosystem: Ecosystem) -> Vec<RangeIntervals> {
    entry
        .ranges
        .iter()
        .filter(|range| matches!(range.kind, RangeKind::Semver | RangeKind::Ecosystem))
        .map(|range| {
            intervals(
                ecosystem,
                &range.events,
                entry.last_known_affected_version_range.as_deref(),
            )
        })
        .collect()
}

/// An entry with neither ranges nor versions names the whole package.
fn covers_everything(entry: &Affected) -> bool {
    entry.ranges.is_empty() && entry.versions.is_empty()
}

fn listed(entry: &Affected, text: &str, version: Option<&Version>, ecosystem: Ecosystem) -> bool {
    let text = text.trim();
    entry.versions.iter().any(|listed| {
        listed.trim() == text || version.is_some_and(|v| Version::parse(ecosystem, listed).is_some_and(|l| l == *v))
    })
}

/// Whether the ranges of `entry` (ignoring its enumerated `versions`) include `version`.
fn in_ranges(entry: &Affected, ecosystem: Ecosystem, version: &Version) -> bool {
    version_ranges(entry, ecosystem)
        .iter()
        .any(|range| range.contains(version))
}

/// Whether `advisory` affects `version` of `package`, per the OSV schema.
pub fn affects(advisory: &Advisory, package: &PackageRef, version: &str) -> bool {
    if advisory.withdrawn.is_some() {
        return false;
    }
    let ecosystem = package.ecosystem;
    let parsed = Version::parse(ecosystem, version);
    entries(advisory, package).any(|entry| {
        covers_everything(entry)
            || listed(entry, version, parsed.as_ref(), ecosystem)
            || parsed.as_ref().is_some_and(|v| in_ranges(entry, ecosystem, v))
    })
}

/// Range semantics alone: whether the `SEMVER`/`ECOSYSTEM` ranges of `advisory` for `package` include
/// `version`, ignoring the enumerated `versions` and `withdrawn`. For measuring ranges against lists.
pub fn ranges_affect(advisory: &Advisory, package: &PackageRef, version: &str) -> bool {
    let Some(parsed) = Version::parse(package.ecosystem, version) else {
        return false;
    };
    entries(advisory, package).any(|entry| in_ranges(entry, package.ecosystem, &parsed))
}

/// The lowest versions a requirement admits, where it names them (`>=1.2`, `^1.2`, `~=1.2`, `==1.2`).
fn requirement_floors(requirement: &Requirement) -> Vec<Version> {
    match requirement {
        Requirement::Npm(range) => range.min_version().map(Version::Npm).into_iter().collect(),
        Requirement::Cargo(req) => req
            .comparators
            .iter()
            .filter(|c| {
                matches!(
                    c.op,
                    semver::Op::Exact
                        | semver::Op::GreaterEq
                        | semver::Op::Tilde
                        | semver::Op::Caret
                        | semver::Op::Wildcard
                )
            })
            .map(|c| {
                let mut version = semver::Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0));
                version.pre = c.pre.clone();
                Version::Cargo(version)
            })
            .collect(),
        Requirement::Pep440(specifiers) => specifiers
            .iter()
            .filter(|s| {
                matches!(
                    s.operator(),
                    pep440_rs::Operator::Equal
                        | pep440_rs::Operator::EqualStar
                        | pep440_rs::Operator::ExactEqual
                        | pep440_rs::Operator::GreaterThanEqual
                        | pep440_rs::Operator::TildeEqual
                )
            })
            .map(|s| Version::Pep440(s.version().clone()))
            .collect(),
    }
}

fn zero(ecosystem: Ecosystem) -> Option<Version> {
    match ecosystem {
        Ecosystem::Npm | Ecosystem::CratesIo => Version::parse(ecosystem, "0.0.0"),
        Ecosystem::PyPI => Version::parse(ecosystem, "0"),
    }
}

/// For an unresolved requirement: whether some version it admits could be affected.
///
/// Tested candidates: the enumerated versions, each interval's lower bound and `last_affected` bound,
/// and the requirement's own lower bounds (so `^4.17.0` meets `>=0, <4.17.21`). A requirement whose only
/// admitted affected versions lie strictly between bounds none of these name (`>4.0` against
/// `>=0, <4.5`) is not seen.
pub fn admits_affected(advisory: &Advisory, package: &PackageRef, requirement: &Requirement) -> bool {
    if advisory.withdrawn.is_some() {
        return false;
    }
    let ecosystem = package.ecosystem;
    let floors = requirement_floors(requirement);
    entries(advisory, package).any(|entry| {
        if covers_everything(entry) {
            return true;
        }
        let listed_hit = entry
            .versions
            .iter()
            .filter_map(|text| Version::parse(ecosystem, text))
            .any(|v| requirement.matches(&v));
        if listed_hit {
            return true;
        }
        version_ranges(entry, ecosystem).iter().any(|range| {
            let mut candidates: Vec<Version> = floors.clone();
            for interval in &range.intervals {
                match &interval.lower {
                    Lower::Zero => candidates.extend(zero(ecosystem)),
                    Lower::At(v, _) => candidates.push(v.clone()),
                }
                if let Upper::Through(v, _) = &interval.upper {
                    candidates.push(v.clone());
                }
            }
            candidates
                .iter()
                .any(|candidate| requirement.matches(candidate) && range.contains(candidate))
        })
    })
}

const MALICIOUS_WORDING: [&str; 14] = [
    "malicious code in",
    "contains malicious code",
    "contained malicious code",
    "contain malicious code",
    "found to contain malicious",
    "is considered malicious",
    "was malicious",
    "malicious package",
    "malicious project",
    "malicious version",
    "malicious release",
    "malicious dependency",
    "embedded malicious",
    "malware",
];

fn is_malicious(advisory: &Advisory) -> bool {
    if advisory.id.starts_with("MAL-") {
        return true;
    }
    if advisory
        .cwes
        .iter()
        .any(|cwe| cwe.trim().eq_ignore_ascii_case("CWE-506"))
    {
        return true;
    }
    let text = format!("{}\n{}", advisory.summary, advisory.details).to_lowercase();
    MALICIOUS_WORDING.iter().any(|phrase| text.contains(phrase))
}

/// The highest CVSS base score among the record's vectors.
fn cvss_score(advisory: &Advisory) -> Option<f64> {
    advisory
        .cvss
        .iter()
        .filter_map(|(_, vector)| cvss::Cvss::from_str(vector.trim()).ok())
        .map(|cvss| cvss.score())
        .fold(None, |max: Option<f64>, score| {
            Some(max.map_or(score, |m| m.max(score)))
        })
}

/// A label for hovers: "critical (CVSS 9.8)", "moderate", "unknown".
pub fn severity_label(advisory: &Advisory) -> String {
    if is_malicious(advisory) {
        return "malicious".to_string();
    }
    let score = cvss_score(advisory);
    let word = advisory
        .database_severity
        .as_deref()
        .map(|s| s.trim().to_lowercase())
        .or_else(|| {
            score.map(|s| {
                match s {
                    s if s >= 9.0 => "critical",
                    s if s >= 7.0 => "high",
                    s if s >= 4.0 => "moderate",
                    s if s > 0.0 => "low",
                    _ => "none",
                }
                .to_string()
            })
        });
    match (word, score) {
        (Some(word), Some(score)) => format!("{word} (CVSS {score:.1})"),
        (Some(word), None) => word,
        (None, _) => "unknown".to_string(),
    }
}

/// The finding kind and default severity of an advisory (mapping in the module doc).
pub fn classify(advisory: &Advisory) -> (FindingKind, Severity) {
    if is_malicious(advisory) {
        return (FindingKind::Malicious, Severity::Error);
    }
    let high_score = cvss_score(advisory).is_some_and(|score| score >= 7.0);
    let high_label = advisory
        .database_severity
        .as_deref()
        .is_some_and(|s| matches!(s.trim().to_ascii_uppercase().as_str(), "CRITICAL" | "HIGH"));
    if high_score || high_label {
        (FindingKind::Advisory, Severity::Error)
    } else {
        (FindingKind::Advisory, Severity::Warning)
    }
}

/// Every `fixed` version the advisory names for `package`, in ascending order.
pub fn fixed_versions(advisory: &Advisory, package: &PackageRef) -> Vec<String> {
    let mut res: Vec<String> = Vec::new();
    for entry in entries(advisory, package) {
        for range in &entry.ranges {
            if !matches!(range.kind, RangeKind::Semver | RangeKind::Ecosystem) {
                continue;
            }
            for event in &range.events {
                if let RangeEvent::Fixed(text) = event {
                    let text = text.trim();
                    if !text.is_empty() && !res.iter().any(|have| have == text) {
                        res.push(text.to_string());
                    }
                }
            }
        }
    }
    res.sort_by(|a, b| crate::resolve::compare_versions(package.ecosystem, a, b));
    res
}

/// The affected ranges as text for hovers, e.g. `>=0, <4.17.21`; intervals joined with ` || `.
pub fn describe_ranges(advisory: &Advisory, package: &PackageRef) -> String {
    let mut parts: Vec<String> = Vec::new();
    for entry in entries(advisory, package) {
        if covers_everything(entry) {
            parts.push("every version".to_string());
            continue;
        }
        let mut described = false;
        for range in version_ranges(entry, package.ecosystem) {
            for interval in &range.intervals {
                parts.push(interval.describe());
                described = true;
            }
        }
        if !described && !entry.versions.is_empty() {
            let shown: Vec<&str> = entry.versions.iter().take(5).map(String::as_str).collect();
            let more = entry.versions.len().saturating_sub(shown.len());
            let mut text = format!("versions {}", shown.join(", "));
            if more > 0 {
                text.push_str(&format!(" and {more} more"));
            }
            parts.push(text);
        }
    }
    parts.dedup();
    parts.join(" || ")
}

/// Preference of a record id as the finding's id: `MAL-`, then `GHSA-`, then the rest.
fn id_rank(id: &str) -> u8 {
    if id.starts_with("MAL-") {
        0
    } else if id.starts_with("GHSA-") {
        1
    } else if id.starts_with("CVE-") {
        3
    } else {
        2
    }
}

/// Groups records that alias each other (sharing any id or alias), keeping first-seen order.
fn group_aliases<'a>(advisories: &[&'a Advisory]) -> Vec<Vec<&'a Advisory>> {
    let mut groups: Vec<(Vec<String>, Vec<&'a Advisory>)> = Vec::new();
    for advisory in advisories {
        let mut names: Vec<String> = std::iter::once(advisory.id.clone())
            .chain(advisory.aliases.iter().cloned())
            .collect();
        let mut members = vec![*advisory];
        // Merge every existing group that shares a name, so chains (a~b, b~c) end in one group.
        let mut i = 0;
        while i < groups.len() {
            if groups[i].0.iter().any(|name| names.contains(name)) {
                let (other_names, other_members) = groups.remove(i);
                for name in other_names {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                let mut merged = other_members;
                merged.extend(members);
                members = merged;
            } else {
                i += 1;
            }
        }
        groups.push((names, members));
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

fn sentence(text: &str) -> String {
    let text = text.trim();
    let first_line = text.lines().next().unwrap_or_default().trim();
    first_line.trim_end_matches('.').to_string()
}

pub(crate) fn via_text(dep: &ResolvedDep) -> String {
    if dep.via.is_empty() {
        return String::new();
    }
    let mut path: Vec<&str> = dep.via.iter().map(String::as_str).collect();
    if path.last().is_some_and(|last| *last != dep.package.name) {
        path.push(&dep.package.name);
    }
    format!(" (via {})", path.join(" → "))
}

/// Checks one dependency against every advisory known for its package.
pub fn check(ctx: &CheckCtx<'_>, dep_idx: usize, dep: &ResolvedDep, acc: &mut Vec<Finding>) {
    let Some(Fact::Known { value: advisories, .. }) = ctx.facts.advisories.get(&dep.package) else {
        return;
    };
    let package = &dep.package;
    let matched: Vec<&Advisory> = match (&dep.resolved.version, &dep.requirement) {
        (Some(version), _) => advisories.iter().filter(|a| affects(a, package, version)).collect(),
        (None, Some(requirement)) => advisories
            .iter()
            .filter(|a| admits_affected(a, package, requirement))
            .collect(),
        (None, None) => return,
    };
    let mut found = Vec::new();
    for mut group in group_aliases(&matched) {
        group.sort_by(|a, b| id_rank(&a.id).cmp(&id_rank(&b.id)).then_with(|| a.id.cmp(&b.id)));
        let Some(preferred) = group.first().copied() else {
            continue;
        };
        let mut kind = FindingKind::Advisory;
        let mut severity = Severity::Warning;
        for advisory in &group {
            let (k, s) = classify(advisory);
            if k == FindingKind::Malicious {
                kind = FindingKind::Malicious;
            }
            severity = severity.min(s);
        }
        let mut aliases: Vec<String> = Vec::new();
        for advisory in &group {
            for name in std::iter::once(&advisory.id).chain(advisory.aliases.iter()) {
                if *name != preferred.id && !aliases.contains(name) {
                    aliases.push(name.clone());
                }
            }
        }
        aliases.sort_by(|a, b| id_rank(a).cmp(&id_rank(b)).then_with(|| a.cmp(b)));
        let summary = group
            .iter()
            .map(|a| sentence(&a.summary))
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let named = if summary.is_empty() {
            preferred.id.clone()
        } else {
            format!("{} ({summary})", preferred.id)
        };
        let via = via_text(dep);
        let message = match (&dep.resolved.version, kind) {
            (Some(version), FindingKind::Malicious) => {
                format!("{} {version} is malicious: {named}{via}", package.name)
            }
            (Some(version), _) => format!("{} {version} is affected by {named}{via}", package.name),
            (None, _) => {
                let requirement = dep.requirement_text.as_deref().unwrap_or("the requirement").trim();
                let what = if kind == FindingKind::Malicious {
                    "malicious versions"
                } else {
                    "affected versions"
                };
                format!(
                    "{} has no resolved version and {requirement} admits {what}: {named}{via}",
                    package.name
                )
            }
        };
        let evidence = group
            .iter()
            .map(|advisory| Evidence::Advisory {
                id: advisory.id.clone(),
                summary: sentence(&advisory.summary),
                severity: severity_label(advisory),
                ranges: describe_ranges(advisory, package),
                url: advisory
                    .url
                    .clone()
                    .unwrap_or_else(|| format!("https://osv.dev/vulnerability/{}", advisory.id)),
            })
            .collect();
        found.push(Finding {
            dep: dep_idx,
            span: dep.span,
            kind,
            id: preferred.id.clone(),
            aliases,
            severity,
            message,
            evidence,
            url: preferred
                .url
                .clone()
                .or_else(|| Some(format!("https://osv.dev/vulnerability/{}", preferred.id))),
        });
    }
    // Most severe first, then by preferred id, so output is stable whatever the facts' order.
    found.sort_by(|a, b| (a.severity, id_rank(&a.id), &a.id).cmp(&(b.severity, id_rank(&b.id), &b.id)));
    acc.extend(found);
}

#[cfg(test)]
mod tests;
