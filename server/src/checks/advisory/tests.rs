//! Range semantics per event kind and order, classification, alias merging and messages.

use jiff::Timestamp;

use super::*;
use crate::checks::AgeThresholds;
use crate::model::{AffectedRange, Facts};
use crate::resolve::{Resolved, VersionSource};

fn intro(v: &str) -> RangeEvent {
    RangeEvent::Introduced(v.to_string())
}
fn fixed(v: &str) -> RangeEvent {
    RangeEvent::Fixed(v.to_string())
}
fn last(v: &str) -> RangeEvent {
    RangeEvent::LastAffected(v.to_string())
}
fn limit(v: &str) -> RangeEvent {
    RangeEvent::Limit(v.to_string())
}

fn pkg(ecosystem: Ecosystem, name: &str) -> PackageRef {
    PackageRef::new(ecosystem, name)
}

fn advisory(id: &str, package: &PackageRef, kind: RangeKind, events: Vec<RangeEvent>, versions: &[&str]) -> Advisory {
    Advisory {
        id: id.to_string(),
        affected: vec![Affected {
            package: Some(package.clone()),
            ranges: vec![AffectedRange { kind, events }],
            versions: versions.iter().map(|v| v.to_string()).collect(),
            last_known_affected_version_range: None,
        }],
        ..Advisory::default()
    }
}

/// Which of `versions` the advisory affects.
fn hits(advisory: &Advisory, package: &PackageRef, versions: &[&str]) -> Vec<String> {
    versions
        .iter()
        .filter(|v| affects(advisory, package, v))
        .map(|v| v.to_string())
        .collect()
}

const NPM_VERSIONS: [&str; 9] = [
    "0.0.1",
    "1.0.0",
    "1.2.0",
    "1.2.3",
    "1.5.0",
    "2.0.0",
    "2.0.1",
    "3.0.0-beta.1",
    "3.0.0",
];

#[test]
fn introduced_fixed_is_half_open() {
    let p = pkg(Ecosystem::Npm, "x");
    let a = advisory("A", &p, RangeKind::Semver, vec![intro("1.2.0"), fixed("2.0.0")], &[]);
    assert_eq!(hits(&a, &p, &NPM_VERSIONS), ["1.2.0", "1.2.3", "1.5.0"]);
}

#[test]
fn introduced_zero_is_from_the_beginning() {
    let p = pkg(Ecosystem::Npm, "x");
    let a = advisory("A", &p, RangeKind::Ecosystem, vec![intro("0"), fixed("1.2.3")], &[]);
    assert_eq!(hits(&a, &p, &NPM_VERSIONS), ["0.0.1", "1.0.0", "1.2.0"]);
}

#[test]
fn last_affected_is_inclusive() {
    let p = pkg(Ecosystem::Npm, "x");
    let a = advisory("A", &p, RangeKind::Semver, vec![intro("1.0.0"), last("1.2.3")], &[]);
    assert_eq!(hits(&a, &p, &NPM_VERSIONS), ["1.0.0", "1.2.0", "1.2.3"]);
}

#[test]
fn introduced_without_end_covers_every_later_version() {
    let p = pkg(Ecosystem::Npm, "x");
    let a = advisory("A", &p, RangeKind::Semver, vec![intro("2.0.0")], &[]);
    assert_eq!(hits(&a, &p, &NPM_VERSIONS), ["2.0.0", "2.0.1", "3.0.0-beta.1", "3.0.0"]);
}

#[test]
fn empty_fixed_is_no_fix() {
    let p = pkg(Ecosystem::Npm, "flatmap-stream");
    let a = advisory("A", &p, RangeKind::Ecosystem, vec![intro("0"), fixed("")], &[]);
    assert_eq!(hits(&a, &p, &NPM_VERSIONS).len(), NPM_VERSIONS.len());
}

#[test]
fn events_in_any_order_with_several_intervals() {
    let p = pkg(Ecosystem::Npm, "x");
    let in_order = advisory(
        "A",
        &p,
        RangeKind::Semver,
        vec![intro("0"), fixed("1.0.0"), intro("1.5.0"), fixed("2.0.1")],
        &[],
    );
    let shuffled = advisory(
        "A",
        &p,
        RangeKind::Semver,
        vec![fixed("2.0.1"), intro("1.5.0"), fixed("1.0.0"), intro("0")],
        &[],
    );
    let expected = ["0.0.1", "1.5.0", "2.0.0"];
    assert_eq!(hits(&in_order, &p, &NPM_VERSIONS), expected);
    assert_eq!(hits(&shuffled, &p, &NPM_VERSIONS), expected);
    assert_eq!(describe_ranges(&shuffled, &p), ">=0, <1.0.0 || >=1.5.0, <2.0.1");
    assert_eq!(fixed_versions(&shuffled, &p), ["1.0.0", "2.0.1"]);
}

#[test]
fn limit_caps_the_range() {
    let p = pkg(Ecosystem::Npm, "x");
    let a = advisory("A", &p, RangeKind::Semver, vec![intro("1.0.0"), limit("2.0.0")], &[]);
    assert_eq!(hits(&a, &p, &NPM_VERSIONS), ["1.0.0", "1.2.0", "1.2.3", "1.5.0"]);
}

#[test]
fn git_ranges_are_ignored_and_bare_entries_cover_everything() {
    let p = pkg(Ecosystem::Npm, "x");
    let git = advisory("A", &p, RangeKind::Git, vec![intro("0"), fixed("abc123")], &[]);
    assert!(hits(&git, &p, &NPM_VERSIONS).is_empty());
    let mut bare = advisory("MAL-1", &p, RangeKind::Semver, vec![], &[]);
    bare.affected[0].ranges.clear();
    assert_eq!(hits(&bare, &p, &NPM_VERSIONS).len(), NPM_VERSIONS.len());
    assert_eq!(describe_ranges(&bare, &p), "every version");
    // Another package's entry never matches.
    assert!(!affects(&bare, &pkg(Ecosystem::Npm, "y"), "1.0.0"));
}

#[test]
fn withdrawn_never_affects() {
    let p = pkg(Ecosystem::Npm, "x");
    let mut a = advisory("A", &p, RangeKind::Semver, vec![intro("0")], &["1.0.0"]);
    assert!(affects(&a, &p, "1.0.0"));
    a.withdrawn = Some(Timestamp::UNIX_EPOCH);
    assert!(!affects(&a, &p, "1.0.0"));
}

#[test]
fn enumerated_versions_compare_as_versions() {
    let p = pkg(Ecosystem::PyPI, "Foo_Bar");
    let a = advisory("A", &p, RangeKind::Ecosystem, vec![], &["1.0", "0.1.2-1"]);
    assert!(affects(&a, &pkg(Ecosystem::PyPI, "foo-bar"), "1.0.0"));
    assert!(affects(&a, &p, "1.0"));
    // `0.1.2-1` is PEP 440 for 0.1.2.post1.
    assert!(affects(&a, &p, "0.1.2.post1"));
    assert!(!affects(&a, &p, "1.0.1"));
}

#[test]
fn pep440_ordering_of_prereleases_and_posts() {
    let p = pkg(Ecosystem::PyPI, "x");
    let a = advisory(
        "A",
        &p,
        RangeKind::Ecosystem,
        vec![intro("1.0rc1"), fixed("1.0.post1")],
        &[],
    );
    assert_eq!(
        hits(&a, &p, &["0.9", "1.0a1", "1.0rc1", "1.0", "1.0.post1", "1.1"]),
        ["1.0rc1", "1.0"]
    );
}

#[test]
fn cargo_prerelease_lower_bounds() {
    let p = pkg(Ecosystem::CratesIo, "time");
    let a = advisory(
        "RUSTSEC",
        &p,
        RangeKind::Semver,
        vec![intro("0.0.0-0"), fixed("0.2.1-0"), intro("0.2.7"), fixed("0.2.23")],
        &[],
    );
    assert_eq!(
        hits(
            &a,
            &p,
            &["0.1.45", "0.2.0", "0.2.5", "0.2.7", "0.2.22", "0.2.23", "0.3.0"]
        ),
        ["0.1.45", "0.2.0", "0.2.7", "0.2.22"]
    );
}

#[test]
fn inverted_ghsa_range_uses_last_known_affected() {
    let p = pkg(Ecosystem::Npm, "node-fetch");
    let mut a = advisory(
        "GHSA",
        &p,
        RangeKind::Ecosystem,
        vec![intro("3.0.0"), fixed("1.0.0")],
        &[],
    );
    assert!(!affects(&a, &p, "3.1.0"));
    a.affected[0].last_known_affected_version_range = Some("< 3.1.1".to_string());
    assert!(affects(&a, &p, "3.1.0"));
    assert!(!affects(&a, &p, "3.1.1"));
    assert!(!affects(&a, &p, "2.6.0"));
}

fn requirement(ecosystem: Ecosystem, text: &str) -> Requirement {
    Requirement::parse(ecosystem, text, false).unwrap()
}

#[test]
fn requirements_that_admit_affected_versions() {
    let npm = pkg(Ecosystem::Npm, "lodash");
    let a = advisory("A", &npm, RangeKind::Semver, vec![intro("0"), fixed("4.17.21")], &[]);
    assert!(admits_affected(&a, &npm, &requirement(Ecosystem::Npm, "^4.17.0")));
    assert!(admits_affected(&a, &npm, &requirement(Ecosystem::Npm, "<5")));
    assert!(!admits_affected(&a, &npm, &requirement(Ecosystem::Npm, "^4.17.21")));
    assert!(!admits_affected(&a, &npm, &requirement(Ecosystem::Npm, ">=5.0.0")));

    let py = pkg(Ecosystem::PyPI, "requests");
    let b = advisory("B", &py, RangeKind::Ecosystem, vec![intro("2.1"), last("2.5.3")], &[]);
    assert!(admits_affected(&b, &py, &requirement(Ecosystem::PyPI, ">=2.0,<3")));
    assert!(admits_affected(&b, &py, &requirement(Ecosystem::PyPI, "~=2.3")));
    assert!(!admits_affected(&b, &py, &requirement(Ecosystem::PyPI, ">=2.6")));
    assert!(!admits_affected(&b, &py, &requirement(Ecosystem::PyPI, "<2.1")));

    let cargo = pkg(Ecosystem::CratesIo, "smallvec");
    let c = advisory(
        "C",
        &cargo,
        RangeKind::Semver,
        vec![intro("1.6.0"), fixed("1.6.1")],
        &[],
    );
    assert!(admits_affected(&c, &cargo, &requirement(Ecosystem::CratesIo, "1.6")));
    assert!(!admits_affected(&c, &cargo, &requirement(Ecosystem::CratesIo, "1.6.1")));
}

#[test]
fn classification() {
    let p = pkg(Ecosystem::Npm, "x");
    let mut a = advisory("GHSA-aaaa-bbbb-cccc", &p, RangeKind::Semver, vec![intro("0")], &[]);
    assert_eq!(classify(&a), (FindingKind::Advisory, Severity::Warning));
    a.database_severity = Some("MODERATE".to_string());
    assert_eq!(classify(&a), (FindingKind::Advisory, Severity::Warning));
    a.database_severity = Some("HIGH".to_string());
    assert_eq!(classify(&a), (FindingKind::Advisory, Severity::Error));
    a.database_severity = None;
    a.cvss = vec![(
        "CVSS_V3".to_string(),
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".to_string(),
    )];
    assert_eq!(classify(&a), (FindingKind::Advisory, Severity::Error));
    assert_eq!(severity_label(&a), "critical (CVSS 9.8)");
    a.cvss = vec![(
        "CVSS_V3".to_string(),
        "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N".to_string(),
    )];
    assert_eq!(classify(&a), (FindingKind::Advisory, Severity::Warning));
    a.cvss = vec![(
        "CVSS_V4".to_string(),
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N".to_string(),
    )];
    assert_eq!(classify(&a), (FindingKind::Advisory, Severity::Error));
    a.cvss = vec![("CVSS_V3".to_string(), "not a vector".to_string())];
    assert_eq!(classify(&a), (FindingKind::Advisory, Severity::Warning));
    a.cwes = vec!["CWE-506".to_string()];
    assert_eq!(classify(&a), (FindingKind::Malicious, Severity::Error));
    let mal = advisory("MAL-2025-1", &p, RangeKind::Semver, vec![intro("0")], &[]);
    assert_eq!(classify(&mal), (FindingKind::Malicious, Severity::Error));
    // "a malicious user" describes an attacker, not a malicious package.
    let mut attacker = advisory("GHSA-x", &p, RangeKind::Semver, vec![intro("0")], &[]);
    attacker.details = "allows a malicious user to modify the prototype of Object".to_string();
    assert_eq!(classify(&attacker).0, FindingKind::Advisory);
}

fn dep(package: &PackageRef, version: Option<&str>, requirement_text: &str, via: &[&str]) -> ResolvedDep {
    ResolvedDep {
        package: package.clone(),
        requirement_text: Some(requirement_text.to_string()),
        requirement: Requirement::parse(package.ecosystem, requirement_text, false).ok(),
        resolved: Resolved {
            version: version.map(str::to_string),
            source: if version.is_some() {
                VersionSource::Lockfile
            } else {
                VersionSource::Unresolved
            },
        },
        span: crate::model::Span::new(3, 9),
        via: via.iter().map(|s| s.to_string()).collect(),
        private: false,
    }
}

fn run(facts: &Facts, dep: &ResolvedDep) -> Vec<Finding> {
    let age = AgeThresholds::default();
    let ctx = CheckCtx {
        now: Timestamp::UNIX_EPOCH,
        facts,
        age: &age,
        signals: &crate::checks::signals::SignalRules::default(),
    };
    let mut acc = Vec::new();
    check(&ctx, 0, dep, &mut acc);
    acc
}

fn known(advisories: Vec<Advisory>) -> Fact<Vec<Advisory>> {
    Fact::Known {
        value: advisories,
        as_of: Timestamp::UNIX_EPOCH,
        stale: false,
    }
}

#[test]
fn aliases_merge_into_one_finding() {
    let p = pkg(Ecosystem::PyPI, "requests");
    let mut pysec = advisory(
        "PYSEC-2023-74",
        &p,
        RangeKind::Ecosystem,
        vec![intro("2.3.0"), fixed("2.31.0")],
        &[],
    );
    pysec.aliases = vec!["CVE-2023-32681".to_string(), "GHSA-j8r2-6x86-q33q".to_string()];
    let mut ghsa = advisory(
        "GHSA-j8r2-6x86-q33q",
        &p,
        RangeKind::Ecosystem,
        vec![intro("2.3.0"), fixed("2.31.0")],
        &[],
    );
    ghsa.aliases = vec!["CVE-2023-32681".to_string()];
    ghsa.summary = "Unintended leak of Proxy-Authorization header in requests.".to_string();
    ghsa.database_severity = Some("MODERATE".to_string());
    let unrelated = advisory(
        "PYSEC-2014-14",
        &p,
        RangeKind::Ecosystem,
        vec![intro("0"), fixed("2.3.0")],
        &[],
    );
    let mut facts = Facts::default();
    facts.advisories.insert(p.clone(), known(vec![pysec, unrelated, ghsa]));

    let findings = run(&facts, &dep(&p, Some("2.28.0"), "==2.28.0", &["myapp", "httpx"]));
    assert_eq!(findings.len(), 1);
    let finding = &findings[0];
    assert_eq!(finding.id, "GHSA-j8r2-6x86-q33q");
    assert_eq!(finding.aliases, ["PYSEC-2023-74", "CVE-2023-32681"]);
    assert_eq!(finding.kind, FindingKind::Advisory);
    assert_eq!(finding.severity, Severity::Warning);
    assert_eq!(
        finding.message,
        "requests 2.28.0 is affected by GHSA-j8r2-6x86-q33q (Unintended leak of Proxy-Authorization header in requests) (via myapp → httpx → requests)"
    );
    assert_eq!(finding.evidence.len(), 2);
    assert_eq!(finding.span, crate::model::Span::new(3, 9));

    // An unresolved requirement that admits affected versions.
    let findings = run(&facts, &dep(&p, None, ">=2.0", &[]));
    let ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["GHSA-j8r2-6x86-q33q", "PYSEC-2014-14"]);
    assert_eq!(
        findings[1].message,
        "requests has no resolved version and >=2.0 admits affected versions: PYSEC-2014-14"
    );
    assert!(run(&facts, &dep(&p, None, ">=2.31", &[])).is_empty());
}

#[test]
fn malicious_message_and_missing_facts() {
    let p = pkg(Ecosystem::Npm, "flatmap-stream");
    let mut mal = advisory("MAL-2025-20690", &p, RangeKind::Semver, vec![intro("0")], &[]);
    mal.summary = "Malicious code in flatmap-stream (npm)".to_string();
    let mut facts = Facts::default();
    facts.advisories.insert(p.clone(), known(vec![mal]));
    let findings = run(&facts, &dep(&p, Some("0.1.1"), "0.1.1", &[]));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].kind, FindingKind::Malicious);
    assert_eq!(findings[0].severity, Severity::Error);
    assert_eq!(
        findings[0].message,
        "flatmap-stream 0.1.1 is malicious: MAL-2025-20690 (Malicious code in flatmap-stream (npm))"
    );

    let mut pending = Facts::default();
    pending.advisories.insert(p.clone(), Fact::Pending);
    assert!(run(&pending, &dep(&p, Some("0.1.1"), "0.1.1", &[])).is_empty());
    assert!(run(&Facts::default(), &dep(&p, Some("0.1.1"), "0.1.1", &[])).is_empty());
}
