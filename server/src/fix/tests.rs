//! Solver tests: restyling examples, and properties over random version lists, advisories and
//! publish times: the chosen version has no finding under the same data, never goes below the current
//! version, and "no safe version" means no candidate is safe. Plus a timing print for a
//! 300-dependency manifest (a report, not an assertion).

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::checks::{AgeThresholds, CheckCtx, ResolvedDep};
use crate::model::{
    Advisory, Affected, AffectedRange, Fact, Facts, PackageFacts, PackageRef, RangeEvent, RangeKind, VersionFacts,
};
use crate::resolve::{Requirement, Resolved, Version, VersionSource};

#[test]
fn keeps_style() {
    assert_eq!(restyle(Ecosystem::Npm, "^4.17.15", "4.17.21"), "^4.17.21");
    assert_eq!(restyle(Ecosystem::Npm, "4.17.15", "4.17.21"), "4.17.21");
    assert_eq!(restyle(Ecosystem::Npm, "~1.2.3", "1.2.9"), "~1.2.9");
    assert_eq!(restyle(Ecosystem::Npm, ">=1.0.0 <2", "1.4.0"), ">=1.4.0 <2");
    assert_eq!(restyle(Ecosystem::PyPI, "==2.19.0", "2.31.0"), "==2.31.0");
    assert_eq!(restyle(Ecosystem::PyPI, ">=2.0,<3", "2.31.0"), ">=2.31.0,<3");
    assert_eq!(restyle(Ecosystem::PyPI, "~=2.19", "2.31.0"), "~=2.31");
    assert_eq!(restyle(Ecosystem::CratesIo, "1.0", "1.0.4"), "1.0.4");
    assert_eq!(restyle(Ecosystem::CratesIo, "=1.0.3", "1.0.4"), "=1.0.4");
    assert_eq!(restyle(Ecosystem::Npm, "1.x || 2.x", "2.0.1"), "2.0.1");
}

/// One generated world: a package's versions with publish ages, advisories, and the dependency.
#[derive(Debug, Clone)]
struct World {
    ecosystem: Ecosystem,
    /// (major, minor, patch, hours since publish, yanked, deprecated)
    versions: Vec<(u64, u64, u64, i64, bool, bool)>,
    /// (introduced index or None for "0", fixed index or None for open)
    advisories: Vec<(Option<usize>, Option<usize>)>,
    current: usize,
    /// true: `^current` resolved without a lockfile; false: pinned exactly.
    range: bool,
    installer_min_hours: Option<i64>,
}

fn now() -> Timestamp {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

fn version_text(ecosystem: Ecosystem, (major, minor, patch): (u64, u64, u64)) -> String {
    match ecosystem {
        Ecosystem::PyPI => format!("{major}.{minor}.{patch}"),
        _ => format!("{major}.{minor}.{patch}"),
    }
}

fn world_strategy() -> impl Strategy<Value = World> {
    let version = (
        0u64..3,
        0u64..4,
        0u64..4,
        0i64..400,
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.05),
    );
    (
        prop_oneof![Just(Ecosystem::Npm), Just(Ecosystem::CratesIo), Just(Ecosystem::PyPI)],
        proptest::collection::vec(version, 1..25),
        proptest::collection::vec(
            (proptest::option::of(0usize..30), proptest::option::of(0usize..30)),
            0..4,
        ),
        0usize..30,
        any::<bool>(),
        proptest::option::of(0i64..200),
    )
        .prop_map(
            |(ecosystem, mut versions, advisories, current, range, installer_min_hours)| {
                versions.sort_by_key(|v| (v.0, v.1, v.2));
                versions.dedup_by_key(|v| (v.0, v.1, v.2));
                let current = current % versions.len();
                World {
                    ecosystem,
                    versions,
                    advisories,
                    current,
                    range,
                    installer_min_hours,
                }
            },
        )
}

struct Built {
    facts: Facts,
    age: AgeThresholds,
    dep: ResolvedDep,
    texts: Vec<String>,
}

fn build(world: &World) -> Built {
    let package = PackageRef::new(world.ecosystem, "pkg");
    let texts: Vec<String> = world
        .versions
        .iter()
        .map(|v| version_text(world.ecosystem, (v.0, v.1, v.2)))
        .collect();
    let versions = world
        .versions
        .iter()
        .zip(&texts)
        .map(|(v, text)| {
            let mut facts = VersionFacts {
                version: text.as_str().into(),
                published: Some(now() - SignedDuration::from_hours(v.3)).into(),
                detail: crate::model::VersionDetail {
                    deprecated: v.5.then(|| "do not use".to_string()),
                    ..Default::default()
                }
                .into(),
                ..VersionFacts::default()
            };
            facts.set_yanked(v.4);
            facts
        })
        .collect();
    let pick = |idx: Option<usize>| idx.map(|i| texts[i % texts.len()].clone());
    let advisories: Vec<Advisory> = world
        .advisories
        .iter()
        .enumerate()
        .map(|(n, (introduced, fixed))| {
            let mut events = vec![RangeEvent::Introduced(
                pick(*introduced).unwrap_or_else(|| "0".to_string()),
            )];
            if let Some(fixed) = pick(*fixed) {
                events.push(RangeEvent::Fixed(fixed));
            }
            Advisory {
                id: format!("GHSA-test-{n}"),
                summary: "test".to_string(),
                database_severity: Some("HIGH".to_string()),
                affected: vec![Affected {
                    package: Some(package.clone()),
                    ranges: vec![AffectedRange {
                        kind: RangeKind::Ecosystem,
                        events,
                    }],
                    ..Affected::default()
                }],
                ..Advisory::default()
            }
        })
        .collect();
    let as_of = now();
    let mut facts = Facts::default();
    facts.packages.insert(
        package.clone(),
        Fact::Known {
            value: std::sync::Arc::new(PackageFacts {
                versions,
                created: Some(now() - SignedDuration::from_hours(24 * 365)),
                ..PackageFacts::default()
            }),
            as_of,
            stale: false,
        },
    );
    facts.advisories.insert(
        package.clone(),
        Fact::Known {
            value: advisories,
            as_of,
            stale: false,
        },
    );
    let age = AgeThresholds {
        installer_min_age: world.installer_min_hours.map(SignedDuration::from_hours),
        ..AgeThresholds::default()
    };
    let current = texts[world.current].clone();
    let (requirement_text, resolved) = if world.range {
        let text = match world.ecosystem {
            Ecosystem::PyPI => format!(">={current}"),
            _ => format!("^{current}"),
        };
        let requirement = Requirement::parse(world.ecosystem, &text, false).unwrap();
        let installable: Vec<&str> = world
            .versions
            .iter()
            .zip(&texts)
            .filter(|(v, _)| !v.4)
            .map(|(_, t)| t.as_str())
            .collect();
        let highest = requirement.highest(world.ecosystem, installable);
        (
            text,
            Resolved {
                source: if highest.is_some() {
                    VersionSource::Resolved
                } else {
                    VersionSource::Unresolved
                },
                version: highest,
            },
        )
    } else {
        let text = match world.ecosystem {
            Ecosystem::Npm => current.clone(),
            Ecosystem::CratesIo => format!("={current}"),
            Ecosystem::PyPI => format!("=={current}"),
        };
        (
            text,
            Resolved {
                version: Some(current),
                source: VersionSource::Pinned,
            },
        )
    };
    let dep = ResolvedDep {
        package,
        requirement: Requirement::parse(world.ecosystem, &requirement_text, false).ok(),
        requirement_text: Some(requirement_text),
        resolved,
        span: crate::model::Span::default(),
        via: Vec::new(),
        private: false,
    };
    Built { facts, age, dep, texts }
}

/// The oracle, written apart from `is_safe`: run every check on the version as if pinned; safe when
/// nothing at warning or above remains (fresh-package aside, which no version change clears) and the
/// installer would install it.
fn oracle_safe(ctx: &CheckCtx<'_>, dep: &ResolvedDep, version: &str) -> bool {
    let pinned = ResolvedDep {
        resolved: Resolved {
            version: Some(version.to_string()),
            source: VersionSource::Pinned,
        },
        ..dep.clone()
    };
    let mut acc = Vec::new();
    checks::run_all(ctx, 0, &pinned, &mut acc);
    let clean = acc
        .iter()
        .filter(|f| f.kind != FindingKind::FreshPackage)
        .all(|f| !f.severity.at_least(Severity::Warning));
    let published = ctx
        .facts
        .packages
        .get(&dep.package)
        .and_then(Fact::known)
        .and_then(|p| p.version(version))
        .and_then(|v| v.published());
    let refused = match (ctx.age.installer_min_age, published) {
        (Some(min), Some(published)) => ctx.now.duration_since(published) < min,
        _ => false,
    };
    clean && !refused
}

fn findings_of(ctx: &CheckCtx<'_>, dep: &ResolvedDep) -> Vec<Finding> {
    let mut acc = Vec::new();
    checks::run_all(ctx, 0, dep, &mut acc);
    acc
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, max_global_rejects: 100_000, ..ProptestConfig::default() })]

    #[test]
    fn solver_properties(world in world_strategy()) {
        let built = build(&world);
        let policy = Policy::default();
        let ctx = CheckCtx { now: now(), facts: &built.facts, age: &built.age , signals: &crate::checks::signals::SignalRules::default()};
        let findings = findings_of(&ctx, &built.dep);
        let refs: Vec<&Finding> = findings.iter().collect();
        // The engine asks for a fix only when a finding wants one.
        prop_assume!(refs.iter().any(|f| wants_fix(f.kind)));
        let fix = solve(&ctx, &policy, &built.dep, &refs, None);
        let ecosystem = world.ecosystem;
        let current = built.dep.resolved.version.as_deref().and_then(|v| Version::parse(ecosystem, v));
        match &fix {
            Fix::Update { version, requirement, .. } => {
                prop_assert!(oracle_safe(&ctx, &built.dep, version), "{version} is not safe: {fix:?}");
                let chosen = Version::parse(ecosystem, version).unwrap();
                let parsed = Requirement::parse(ecosystem, requirement, false).unwrap();
                prop_assert!(parsed.matches(&chosen), "{requirement} does not admit {version}");
                // Never below the current version; for a range without a lockfile the floor is the
                // range itself (an older admitted version is the fix for a fresh highest match).
                let above = current.as_ref().is_none_or(|c| chosen.compare(c) == Some(Ordering::Greater));
                let within = built.dep.resolved.source == VersionSource::Resolved
                    && built.dep.requirement.as_ref().is_some_and(|r| r.matches(&chosen));
                // The exception: a current version the installer refuses (its cooldown).
                let refused = built.dep.resolved.version.as_deref().is_some_and(|v| {
                    checks::age::refused_by_installer(&built.age, built.facts.packages.get(&built.dep.package).and_then(Fact::known).unwrap(), ecosystem, "pkg", v, now())
                });
                prop_assert!(above || within || refused, "{version} is below the current version");
                // The rewritten requirement, resolved against today's list, installs a safe version.
                let installable: Vec<&str> = world.versions.iter().zip(&built.texts)
                    .filter(|(v, _)| !v.4).map(|(_, t)| t.as_str()).collect();
                let installs = parsed.highest(ecosystem, installable).unwrap();
                prop_assert!(oracle_safe(&ctx, &built.dep, &installs), "{requirement} installs {installs}, not safe");
            }
            Fix::NoSafeVersion { .. } => {
                for text in &built.texts {
                    let candidate = Version::parse(ecosystem, text).unwrap();
                    let above = current.as_ref().is_none_or(|c| candidate.compare(c) == Some(Ordering::Greater));
                    let within = built.dep.resolved.source == VersionSource::Resolved
                        && built.dep.requirement.as_ref().is_some_and(|r| r.matches(&candidate));
                    let refused_current = built.dep.resolved.version.as_deref().is_some_and(|v| {
                        checks::age::refused_by_installer(&built.age, built.facts.packages.get(&built.dep.package).and_then(Fact::known).unwrap(), ecosystem, "pkg", v, now())
                    });
                    let same_line_below = refused_current
                        && current.as_ref().is_some_and(|c| {
                            candidate.compare(c) == Some(Ordering::Less) && major_line(&candidate) == major_line(c)
                        });
                    if above || within || same_line_below {
                        prop_assert!(!oracle_safe(&ctx, &built.dep, text), "{text} is safe but the solver found none");
                    }
                }
            }
            Fix::Remove { .. } => prop_assert!(false, "no malicious records were generated"),
            Fix::Override { .. } | Fix::UpgradeDirect { .. } => {
                prop_assert!(false, "`solve` never proposes a fix for a transitive package")
            }
        }
    }
}

/// Times the solver on a 300-dependency manifest whose every dependency has a finding (the worst
/// case: a fix is computed for each). Prints the figure; asserts nothing about speed.
#[test]
fn solver_speed_on_300_dependencies() {
    let mut worlds = Vec::new();
    for n in 0..300u64 {
        let versions: Vec<(u64, u64, u64, i64, bool, bool)> = (0..40u64)
            .map(|i| {
                (
                    1 + i / 20,
                    (i / 5) % 4,
                    i % 5,
                    10_000 - (i as i64) * 200 + (n as i64 % 7),
                    false,
                    false,
                )
            })
            .collect();
        // Every version below 2.1.0 is affected; the dependency pins 1.0.0.
        worlds.push(World {
            ecosystem: Ecosystem::Npm,
            versions,
            advisories: vec![(None, Some(25))],
            current: 0,
            range: false,
            installer_min_hours: None,
        });
    }
    let mut facts = Facts::default();
    let mut deps = Vec::new();
    for (n, world) in worlds.iter().enumerate() {
        let built = build(world);
        let name = format!("pkg-{n}");
        let package = PackageRef::new(Ecosystem::Npm, &name);
        let dep = ResolvedDep {
            package: package.clone(),
            ..built.dep
        };
        for (key, value) in built.facts.packages {
            let _ = key;
            facts.packages.insert(package.clone(), value);
        }
        for (_, mut value) in built.facts.advisories {
            if let Fact::Known { value: list, .. } = &mut value {
                for advisory in list.iter_mut() {
                    for affected in &mut advisory.affected {
                        affected.package = Some(package.clone());
                    }
                }
            }
            facts.advisories.insert(package.clone(), value);
        }
        deps.push(dep);
    }
    let age = AgeThresholds::default();
    let policy = Policy::default();
    let ctx = CheckCtx {
        now: now(),
        facts: &facts,
        age: &age,
        signals: &crate::checks::signals::SignalRules::default(),
    };
    let started = Instant::now();
    let mut updates = 0;
    for dep in &deps {
        let findings = findings_of(&ctx, dep);
        let refs: Vec<&Finding> = findings.iter().collect();
        assert!(!refs.is_empty());
        if matches!(solve(&ctx, &policy, dep, &refs, None), Fix::Update { .. }) {
            updates += 1;
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(updates, 300);
    println!(
        "solver: 300 dependencies, 40 versions each, every one with an advisory: {:.2} ms total ({:.1} µs per dependency, debug build)",
        elapsed.as_secs_f64() * 1000.0,
        elapsed.as_secs_f64() * 1e6 / 300.0
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The memo answers exactly what `solve` answers at every `now`, as time moves on (forward mostly,
    /// sometimes back) and publishes age past the thresholds between two evaluations.
    #[test]
    fn memo_answers_as_solve_would(world in world_strategy(), steps in proptest::collection::vec(-20i64..120, 1..12)) {
        let built = build(&world);
        let policy = Policy { age: built.age.clone(), ..Policy::default() };
        let facts = std::sync::Arc::new(built.facts.clone());
        let mut memo = Memo::default();
        let mut at = now();
        for step in steps {
            at += SignedDuration::from_hours(step);
            let ctx = CheckCtx { now: at, facts: &facts, age: &built.age, signals: &crate::checks::signals::SignalRules::default() };
            let findings = findings_of(&ctx, &built.dep);
            let refs: Vec<&Finding> = findings.iter().collect();
            if !refs.iter().any(|f| wants_fix(f.kind)) {
                continue;
            }
            memo.begin(&facts, &policy);
            let remembered = memo.solve(&ctx, &policy, &built.dep, &refs, None);
            let solved = solve(&ctx, &policy, &built.dep, &refs, None);
            prop_assert_eq!(remembered, solved, "at {}", at);
        }
    }
}

/// New facts or a new policy forget every answer.
#[test]
fn memo_forgets_when_facts_or_policy_change() {
    let world = World {
        ecosystem: Ecosystem::Npm,
        versions: vec![(1, 0, 0, 300, false, false), (1, 0, 1, 200, false, false)],
        advisories: vec![(None, Some(1))],
        current: 0,
        range: false,
        installer_min_hours: None,
    };
    let built = build(&world);
    let policy = Policy {
        age: built.age.clone(),
        ..Policy::default()
    };
    let facts = std::sync::Arc::new(built.facts.clone());
    let ctx = CheckCtx {
        now: now(),
        facts: &facts,
        age: &built.age,
        signals: &crate::checks::signals::SignalRules::default(),
    };
    let findings = findings_of(&ctx, &built.dep);
    let refs: Vec<&Finding> = findings.iter().collect();
    let mut memo = Memo::default();
    memo.begin(&facts, &policy);
    let first = memo.solve(&ctx, &policy, &built.dep, &refs, None);
    assert!(
        matches!(&first, Fix::Update { version, .. } if version == "1.0.1"),
        "{first:?}"
    );

    // The same package facts, but 1.0.1 is now yanked: a new facts generation.
    let mut yanked = built.facts.clone();
    if let Some(Fact::Known { value, .. }) = yanked.packages.get_mut(&built.dep.package) {
        std::sync::Arc::make_mut(value).versions[1].set_yanked(true);
    }
    let yanked = std::sync::Arc::new(yanked);
    let ctx = CheckCtx {
        now: now(),
        facts: &yanked,
        age: &built.age,
        signals: &crate::checks::signals::SignalRules::default(),
    };
    memo.begin(&yanked, &policy);
    let second = memo.solve(&ctx, &policy, &built.dep, &refs, None);
    assert_eq!(second, solve(&ctx, &policy, &built.dep, &refs, None));
    assert!(matches!(second, Fix::NoSafeVersion { .. }), "{second:?}");

    // A policy that does not mind yanked versions makes 1.0.1 the fix again.
    let lenient = Policy {
        severity: vec![(FindingKind::Yanked, None, crate::policy::SeverityOverride::Off)],
        ..policy.clone()
    };
    memo.begin(&yanked, &lenient);
    let third = memo.solve(&ctx, &lenient, &built.dep, &refs, None);
    assert_eq!(third, solve(&ctx, &lenient, &built.dep, &refs, None));
    assert_eq!(third, first);
}
