//! The signals on the pre-advisory replays (`fixtures/preadvisory/`, served documents parsed by the
//! real registry parsers), on synthetic facts for what the replays do not show, and the false-alarm
//! bench over recorded latest versions of popular packages (`fixtures/signals-bench/`).

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::checks::{AgeThresholds, CheckCtx, Finding, FindingKind, ResolvedDep};
use crate::model::{Ecosystem, Fact, Facts, Note, PackageFacts, PackageRef, Severity, Span, VersionFacts};
use crate::resolve::{Resolved, VersionSource};
use crate::testing::replay::{self, ReplayCase};

fn parse(ecosystem: Ecosystem, name: &str, body: &[u8]) -> PackageFacts {
    match ecosystem {
        Ecosystem::Npm => crate::lookup::registry::npm::parse_packument(body).unwrap(),
        Ecosystem::CratesIo => crate::lookup::registry::crates_io::parse_index_file(body).unwrap(),
        Ecosystem::PyPI => crate::lookup::registry::pypi::parse_simple(name, body).unwrap(),
    }
}

fn known(facts: PackageFacts, now: Timestamp) -> Fact<std::sync::Arc<PackageFacts>> {
    Fact::Known {
        value: std::sync::Arc::new(facts),
        as_of: now,
        stale: false,
    }
}

/// The facts the engine would have for a replay: the package from its shifted documents, and every
/// dependency its version added from `fixtures/preadvisory-deps` (absent there: not found, as the
/// stand-in answers).
fn replay_facts(case: &ReplayCase, now: Timestamp) -> Facts {
    let replayed = replay::replay(case, now);
    let first = &replayed.files[0];
    let package = PackageRef::new(case.ecosystem, &case.name);
    let facts = parse(case.ecosystem, &case.name, &first.body);
    let mut all = Facts::default();
    for added in added_dependencies(case.ecosystem, &facts, &case.version) {
        let added_ref = PackageRef::new(case.ecosystem, &added);
        let path = match case.ecosystem {
            Ecosystem::Npm => format!("npm/{added}"),
            Ecosystem::CratesIo => format!("crates/{}", crate::lookup::registry::crates_io::index_path(&added)),
            Ecosystem::PyPI => format!("pypi/simple/{}/index.json", added_ref.name),
        };
        let file = crate::testing::fixtures_dir().join("preadvisory-deps").join(path);
        let fact = match std::fs::read(&file) {
            Ok(body) => known(parse(case.ecosystem, &added, &body), now),
            Err(_) => Fact::Unavailable(Note {
                source: format!("registry{}", crate::model::NOT_FOUND_SOURCE_SUFFIX),
                message: format!("`{added}` was not found"),
            }),
        };
        all.packages.insert(added_ref, fact);
    }
    all.packages.insert(package, known(facts, now));
    all
}

fn pinned(ecosystem: Ecosystem, name: &str, version: &str) -> ResolvedDep {
    ResolvedDep {
        package: PackageRef::new(ecosystem, name),
        requirement_text: Some(version.to_string()),
        requirement: None,
        resolved: Resolved {
            version: Some(version.to_string()),
            source: VersionSource::Pinned,
        },
        span: Span::default(),
        via: Vec::new(),
        private: false,
    }
}

fn run(facts: &Facts, dep: &ResolvedDep, now: Timestamp) -> Vec<Finding> {
    let age = AgeThresholds::default();
    let rules = SignalRules::default();
    let ctx = CheckCtx {
        now,
        facts,
        age: &age,
        signals: &rules,
    };
    let mut acc = Vec::new();
    check(&ctx, 0, dep, &mut acc);
    acc
}

fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).min()
}

#[test]
fn every_documented_incident_is_an_error_and_no_control_is() {
    let now = Timestamp::now();
    let mut report = Vec::new();
    for case in replay::cases(&replay::replay_root()) {
        let facts = replay_facts(&case, now);
        let findings = run(&facts, &pinned(case.ecosystem, &case.name, &case.version), now);
        let combined = findings.iter().find(|f| f.kind == FindingKind::SuspiciousVersion);
        report.push(format!(
            "{} {}@{}: {:?} {}",
            case.kind,
            case.name,
            case.version,
            worst(&findings),
            combined.map_or(String::new(), |f| f.message.clone())
        ));
        if case.is_benign() {
            assert!(
                worst(&findings).is_none_or(|s| !s.at_least(Severity::Error)),
                "control {}@{} must not be an error: {findings:#?}",
                case.name,
                case.version
            );
        } else {
            let combined = combined
                .unwrap_or_else(|| panic!("{}@{}: no combined finding: {findings:#?}", case.name, case.version));
            assert_eq!(
                combined.severity,
                Severity::Error,
                "{}@{}: {combined:#?}",
                case.name,
                case.version
            );
            assert!(combined.message.contains("ago"), "{}", combined.message);
            assert!(
                combined
                    .evidence
                    .iter()
                    .any(|e| matches!(e, crate::checks::Evidence::Text(t) if t.contains("previous version"))),
                "the evidence names the previous version: {combined:#?}"
            );
        }
    }
    println!("{}", report.join("\n"));
}
