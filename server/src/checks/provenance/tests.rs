use jiff::Timestamp;

use super::*;
use crate::checks::AgeThresholds;
use crate::model::{Facts, PackageRef, Span};
use crate::resolve::{Resolved, VersionSource};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// (version, published, attested, signed)
fn package(versions: &[(&str, &str, bool, bool)], repository: Option<&str>) -> PackageFacts {
    PackageFacts {
        versions: versions
            .iter()
            .map(|(version, published, attested, signed)| VersionFacts {
                version: (*version).into(),
                published: Some(at(published)).into(),
                digests: vec![format!("sha512-{version}")].into(),
                detail: crate::model::VersionDetail {
                    attestations_url: attested
                        .then(|| format!("https://registry.npmjs.org/-/npm/v1/attestations/pkg@{version}")),
                    signatures: if *signed {
                        vec![("SHA256:key".to_string(), "sig".to_string())]
                    } else {
                        Vec::new()
                    },
                    ..Default::default()
                }
                .into(),
            })
            .collect(),
        repository: repository.map(str::to_string),
        ..PackageFacts::default()
    }
}

fn dep(version: &str) -> ResolvedDep {
    ResolvedDep {
        package: PackageRef::new(Ecosystem::Npm, "pkg"),
        requirement_text: None,
        requirement: None,
        resolved: Resolved {
            version: Some(version.to_string()),
            source: VersionSource::Lockfile,
        },
        span: Span::new(3, 9),
        via: Vec::new(),
        private: false,
    }
}

fn known<T>(value: T) -> Fact<T> {
    Fact::Known {
        value,
        as_of: at("2026-12-01T00:00:00Z"),
        stale: false,
    }
}

fn run(facts: PackageFacts, version: &str, provenance: &[(&str, Provenance)]) -> Vec<Finding> {
    let package = PackageRef::new(Ecosystem::Npm, "pkg");
    let mut all = Facts::default();
    all.packages.insert(package.clone(), known(std::sync::Arc::new(facts)));
    for (v, p) in provenance {
        all.provenance
            .insert((package.clone(), v.to_string()), known(p.clone()));
    }
    let age = AgeThresholds::default();
    let ctx = CheckCtx {
        now: at("2026-12-01T00:00:00Z"),
        facts: &all,
        age: &age,
        signals: &crate::checks::signals::SignalRules::default(),
    };
    let mut acc = Vec::new();
    check(&ctx, 0, &dep(version), &mut acc);
    acc
}

fn summary(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{} {}: {}", f.severity, f.kind.code(), f.message))
        .collect()
}

fn identity(repository: &str, workflow: &str) -> ProvenanceIdentity {
    ProvenanceIdentity {
        source_repository: Some(repository.to_string()),
        source_commit: Some("06528997c3c8ab9f864fad9a3658446aca7fd86d".to_string()),
        workflow: Some(workflow.to_string()),
        git_ref: Some("refs/tags/v1.0.0".to_string()),
        issuer: Some("https://token.actions.githubusercontent.com".to_string()),
        san: None,
    }
}

#[test]
fn invalid_provenance_is_an_error_with_the_step() {
    let facts = package(&[("1.0.0", "2023-02-09T00:00:00Z", true, true)], None);
    let findings = run(
        facts,
        "1.0.0",
        &[(
            "1.0.0",
            Provenance::Invalid {
                step: "SLSA provenance: subject digest does not match dist.integrity".to_string(),
            },
        )],
    );
    assert_eq!(
        summary(&findings),
        [
            "error bad-provenance: pkg@1.0.0 failed provenance verification: SLSA provenance: subject digest does not match dist.integrity"
        ]
    );
    assert_eq!(findings[0].span, Span::new(3, 9));
}

#[test]
fn unknown_provenance_is_information_not_safety() {
    let facts = package(&[("1.0.0", "2023-02-09T00:00:00Z", true, false)], None);
    let findings = run(
        facts,
        "1.0.0",
        &[(
            "1.0.0",
            Provenance::Unknown {
                reason: "the registry states no digest".to_string(),
            },
        )],
    );
    assert_eq!(
        summary(&findings),
        ["information no-provenance: provenance of pkg@1.0.0 could not be verified: the registry states no digest"]
    );
}

#[test]
fn newer_version_without_provenance_on_an_attested_line_is_an_error() {
    let facts = package(
        &[
            ("5.0.0", "2024-01-01T00:00:00Z", true, true),
            ("5.0.1", "2024-02-01T00:00:00Z", false, true),
        ],
        None,
    );
    assert_eq!(
        summary(&run(facts, "5.0.1", &[])),
        ["error provenance-downgrade: pkg@5.0.1 has no provenance, but 5.0.0 on the same release line had it"]
    );
}

#[test]
fn gap_after_earlier_attested_versions_on_the_line_is_a_warning() {
    let facts = package(
        &[
            ("5.0.0", "2024-01-01T00:00:00Z", true, true),
            ("5.0.1", "2024-02-01T00:00:00Z", false, true),
            ("5.0.2", "2024-03-01T00:00:00Z", false, true),
        ],
        None,
    );
    assert_eq!(
        summary(&run(facts, "5.0.2", &[])),
        [
            "warning provenance-downgrade: pkg@5.0.2 has no provenance, but earlier versions on its release line had it (5.0.0)"
        ]
    );
}

#[test]
fn backport_on_a_line_without_provenance_is_not_a_downgrade() {
    // 4.0.1 and 6.3.5 were published after 5.x gained provenance, on lines that never had it.
    let facts = package(
        &[
            ("4.0.0", "2022-01-01T00:00:00Z", false, true),
            ("5.0.0", "2024-01-01T00:00:00Z", true, true),
            ("4.0.1", "2024-06-01T00:00:00Z", false, true),
        ],
        None,
    );
    assert!(run(facts, "4.0.1", &[]).is_empty());
    let facts = package(
        &[
            ("0.6.3", "2022-01-01T00:00:00Z", false, true),
            ("0.7.0", "2024-01-01T00:00:00Z", true, true),
            ("0.6.4", "2024-06-01T00:00:00Z", false, true),
        ],
        None,
    );
    assert!(run(facts, "0.6.4", &[]).is_empty());
}

#[test]
fn new_line_without_provenance_after_an_attested_one_is_a_warning() {
    let facts = package(
        &[
            ("5.1.0", "2024-01-01T00:00:00Z", true, true),
            ("6.0.0", "2024-06-01T00:00:00Z", false, true),
        ],
        None,
    );
    assert_eq!(
        summary(&run(facts, "6.0.0", &[])),
        ["warning provenance-downgrade: pkg@6.0.0 has no provenance, but 5.1.0 before it had it"]
    );
}

#[test]
fn missing_registry_signature_after_signed_versions_is_a_downgrade() {
    let facts = package(
        &[
            ("1.0.0", "2021-01-01T00:00:00Z", false, true),
            ("1.0.1", "2021-02-01T00:00:00Z", false, false),
        ],
        None,
    );
    assert_eq!(
        summary(&run(facts, "1.0.1", &[])),
        ["error provenance-downgrade: pkg@1.0.1 has no registry signature, but 1.0.0 on the same release line had it"]
    );
}

#[test]
fn advertised_but_absent_attestations_count_as_missing() {
    let facts = package(
        &[
            ("5.0.0", "2024-01-01T00:00:00Z", true, true),
            ("5.0.1", "2024-02-01T00:00:00Z", true, true),
        ],
        None,
    );
    let findings = run(facts, "5.0.1", &[("5.0.1", Provenance::Absent)]);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].kind, FindingKind::ProvenanceDowngrade);
}

#[test]
fn builder_change_is_an_error() {
    let facts = package(
        &[
            ("1.0.0", "2024-01-01T00:00:00Z", true, true),
            ("1.0.1", "2024-02-01T00:00:00Z", true, true),
        ],
        Some("git+https://github.com/org/pkg.git"),
    );
    let findings = run(
        facts,
        "1.0.1",
        &[
            (
                "1.0.0",
                Provenance::Verified(identity("https://github.com/org/pkg", ".github/workflows/release.yml")),
            ),
            (
                "1.0.1",
                Provenance::Verified(identity("https://github.com/evil/pkg", ".github/workflows/release.yml")),
            ),
        ],
    );
    let summary = summary(&findings);
    assert_eq!(
        summary[0],
        "error bad-provenance: pkg@1.0.1 was built from github.com/evil/pkg (workflow .github/workflows/release.yml), but 1.0.0 was built from github.com/org/pkg (workflow .github/workflows/release.yml)"
    );
    // The repository field also disagrees with the new builder.
    assert_eq!(
        summary[1],
        "warning bad-provenance: pkg@1.0.1 was built in github.com/evil/pkg, but its repository field names github.com/org/pkg"
    );
    assert_eq!(summary.len(), 2);
}

#[test]
fn workflow_change_is_an_error_and_same_builder_is_clean() {
    let facts = package(
        &[
            ("1.0.0", "2024-01-01T00:00:00Z", true, true),
            ("1.0.1", "2024-02-01T00:00:00Z", true, true),
        ],
        Some("github:org/pkg"),
    );
    let same = run(
        facts.clone(),
        "1.0.1",
        &[
            (
                "1.0.0",
                Provenance::Verified(identity("https://github.com/org/pkg", ".github/workflows/release.yml")),
            ),
            (
                "1.0.1",
                Provenance::Verified(identity("https://github.com/org/pkg", ".github/workflows/release.yml")),
            ),
        ],
    );
    assert!(same.is_empty(), "{:?}", summary(&same));
    let changed = run(
        facts,
        "1.0.1",
        &[
            (
                "1.0.0",
                Provenance::Verified(identity("https://github.com/org/pkg", ".github/workflows/release.yml")),
            ),
            (
                "1.0.1",
                Provenance::Verified(identity("https://github.com/org/pkg", ".github/workflows/other.yml")),
            ),
        ],
    );
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].kind, FindingKind::BadProvenance);
    assert_eq!(changed[0].severity, Severity::Error);
}

#[test]
fn repository_field_mismatch_is_only_a_warning() {
    // tuf-js 1.0.0 declares github/tuf-js but was built in theupdateframework/tuf-js: valid.
    let facts = package(&[("1.0.0", "2023-02-09T00:00:00Z", true, true)], Some("github/tuf-js"));
    let findings = run(
        facts,
        "1.0.0",
        &[(
            "1.0.0",
            Provenance::Verified(identity(
                "https://github.com/theupdateframework/tuf-js",
                ".github/workflows/release.yml",
            )),
        )],
    );
    assert_eq!(
        summary(&findings),
        [
            "warning bad-provenance: pkg@1.0.0 was built in github.com/theupdateframework/tuf-js, but its repository field names github.com/github/tuf-js"
        ]
    );
}

#[test]
fn pending_facts_emit_nothing() {
    let package_ref = PackageRef::new(Ecosystem::Npm, "pkg");
    let mut all = Facts::default();
    all.packages.insert(package_ref, Fact::Pending);
    let age = AgeThresholds::default();
    let ctx = CheckCtx {
        now: at("2026-12-01T00:00:00Z"),
        facts: &all,
        age: &age,
        signals: &crate::checks::signals::SignalRules::default(),
    };
    let mut acc = Vec::new();
    check(&ctx, 0, &dep("1.0.0"), &mut acc);
    assert!(acc.is_empty());
}

#[test]
fn versions_to_verify_are_the_checked_and_the_previous_attested_one() {
    let facts = package(
        &[
            ("4.9.0", "2022-01-01T00:00:00Z", true, true),
            ("5.0.0", "2024-01-01T00:00:00Z", true, true),
            ("5.0.1", "2024-02-01T00:00:00Z", false, true),
            ("5.0.2", "2024-03-01T00:00:00Z", true, true),
        ],
        None,
    );
    assert_eq!(provenance_versions(&dep("5.0.2"), &facts), ["5.0.2", "5.0.0"]);
    assert_eq!(provenance_versions(&dep("5.0.0"), &facts), ["5.0.0", "4.9.0"]);
    let bare = package(&[("1.0.0", "2022-01-01T00:00:00Z", false, false)], None);
    assert!(provenance_versions(&dep("1.0.0"), &bare).is_empty());
}

#[test]
fn hover_text_names_the_builder() {
    let p = Provenance::Verified(identity(
        "https://github.com/sigstore/sigstore-js",
        ".github/workflows/publish.yml",
    ));
    assert_eq!(
        describe(&p),
        "built by github.com/sigstore/sigstore-js, workflow publish.yml, ref refs/tags/v1.0.0, commit 0652899, verified offline against Sigstore public-good root"
    );
    assert_eq!(status(&p), "verified");
    assert_eq!(status(&Provenance::Absent), "absent");
}

#[test]
fn repositories_normalise() {
    for text in [
        "git+https://github.com/Org/Repo.git",
        "github:org/repo",
        "org/repo",
        "git@github.com:org/repo.git",
        "https://github.com/org/repo/",
    ] {
        assert_eq!(normalize_repository(text), "github.com/org/repo", "{text}");
    }
}
