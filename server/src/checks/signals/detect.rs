//! The detectors, one per signal kind: each looks at one version beside the versions before it and
//! adds what its evidence shows to the `Assessment`; `signals` (the parent) runs them and judges.

use super::*;

/// A young package (younger than the policy's package age) named like a popular one: an
/// established package near a popular name has had its time to be reported.
pub(super) fn typosquat(ctx: &CheckCtx<'_>, package: &PackageRef, facts: &PackageFacts, res: &mut Assessment) {
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

pub(super) fn install_scripts(
    ecosystem: Ecosystem,
    this: &VersionFacts,
    before: &[(Version, &VersionFacts)],
    res: &mut Assessment,
) {
    match ecosystem {
        Ecosystem::Npm => {
            let Some(hooks) = &this.detail.meta.install_scripts else {
                res.not_compared
                    .push("install scripts (the registry entry does not list scripts)".to_string());
                return;
            };
            let known: Vec<&VersionFacts> = before
                .iter()
                .map(|(_, v)| *v)
                .filter(|v| v.detail.meta.install_scripts.is_some())
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
                    .any(|v| v.detail.meta.install_scripts.iter().flatten().any(|(h, _)| h == hook));
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
            let Some(files) = this.detail.meta.files else {
                return;
            };
            let Some(previous) = before.iter().map(|(_, v)| *v).find(|v| v.detail.meta.files.is_some()) else {
                return;
            };
            let previous_files = previous.detail.meta.files.unwrap_or_default();
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
            let Some(deps) = &this.detail.meta.dependencies else {
                return;
            };
            let Some(previous) = before
                .iter()
                .map(|(_, v)| *v)
                .find(|v| v.detail.meta.dependencies.is_some())
            else {
                return;
            };
            let had_build: Vec<&str> = previous
                .detail
                .meta
                .dependencies
                .iter()
                .flatten()
                .filter(|d| d.kind == DeclaredKind::Build)
                .map(|d| &*d.name)
                .collect();
            for dep in deps.iter().filter(|d| d.kind == DeclaredKind::Build) {
                if had_build.contains(&&*dep.name) {
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
pub(super) fn is_patch(current: &Version, previous: &Version) -> bool {
    let (a, b) = (current.release(), previous.release());
    a.first() == b.first() && a.get(1).copied().unwrap_or(0) == b.get(1).copied().unwrap_or(0)
}

/// How established a dependency a version added is.
pub(super) enum AddedStatus {
    /// Not on the registry at all.
    Absent,
    /// Younger than the policy's package age, or with at most three versions: (reason).
    New(String),
    Established,
    Unknown,
}

const FEW_VERSIONS: usize = 3;

pub(super) fn added_status(ctx: &CheckCtx<'_>, ecosystem: Ecosystem, name: &str) -> AddedStatus {
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
                .filter(|v| v.published().is_none_or(|p| p <= ctx.now))
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

pub(super) fn dependencies(
    ctx: &CheckCtx<'_>,
    ecosystem: Ecosystem,
    this: &VersionFacts,
    current: &Version,
    previous_parsed: &Version,
    previous: &VersionFacts,
    res: &mut Assessment,
) {
    let (Some(now_deps), Some(then_deps)) = (&this.detail.meta.dependencies, &previous.detail.meta.dependencies) else {
        let missing = if this.detail.meta.dependencies.is_none() {
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

pub(super) fn publisher(this: &VersionFacts, before: &[(Version, &VersionFacts)], res: &mut Assessment) {
    // npm `_npmUser` against the publishers and maintainers of the last ten versions that name one.
    if let Some(who) = &this.detail.meta.publisher {
        let known: Vec<&VersionFacts> = before
            .iter()
            .map(|(_, v)| *v)
            .filter(|v| v.detail.meta.publisher.is_some())
            .take(10)
            .collect();
        if known.is_empty() {
            res.not_compared
                .push("publisher (no earlier version names its publisher)".to_string());
        } else {
            let seen = known.iter().any(|v| {
                v.detail.meta.publisher.as_deref() == Some(who.as_str())
                    || v.detail.meta.maintainers.iter().flatten().any(|m| m == who)
            });
            if !seen {
                let earlier: Vec<&str> = known
                    .iter()
                    .filter_map(|v| v.detail.meta.publisher.as_deref())
                    .collect();
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
        && previous.detail.attestations_url.is_some()
        && this.detail.attestations_url.is_none()
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

pub(super) fn repository(this: &VersionFacts, previous: Option<&VersionFacts>, res: &mut Assessment) {
    let Some(previous) = previous else {
        return;
    };
    let pick = |v: &VersionFacts| v.detail.meta.repository.clone();
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
            if this.detail.meta.install_scripts.is_some() {
                // A full npm entry without a repository on either side: nothing to compare.
                res.not_compared
                    .push("repository (neither version declares one)".to_string());
            }
        }
    }
}

/// Major version numbers that read as a year (calendar versioning), not a jump.
pub(super) fn looks_like_year(major: u64) -> bool {
    (2000..=2100).contains(&major) || (20..=40).contains(&major)
}

pub(super) fn release_pattern(
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
    let Some(published) = this.published() else {
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
        .filter_map(|v| v.published().map(|p| (p, v.version.as_str())))
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
        .filter(|v| {
            v.published()
                .is_some_and(|p| p.duration_since(published).abs() <= window)
        })
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

pub(super) fn yanks_around(this: &VersionFacts, before: &[(Version, &VersionFacts)], res: &mut Assessment) {
    if this.yanked() {
        return;
    }
    let yanked: Vec<&str> = before
        .iter()
        .take_while(|(_, v)| v.yanked())
        .map(|(_, v)| v.version.as_str())
        .collect();
    if yanked.len() < 2 {
        return;
    }
    let weaker_by = if yanked.len() >= 3 { 0 } else { 1 };
    let last_good = before
        .iter()
        .find(|(_, v)| !v.yanked())
        .map(|(_, v)| v.version.as_str());
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
