//! The pure core: `needs` lists the facts an analysis is missing; `evaluate` turns a parsed manifest, its
//! lockfile and the known facts into an `Analysis` (checks → policy → fix).
//!
//! Invariants:
//! - Pure and synchronous: no IO, no async, no clock (`now` is an argument).
//! - The one place that knows the order checks → policy → fix.
//! - Privacy is decided here: path, git, URL and workspace dependencies are never queried (a URL that is
//!   the public registry's own file of a release is that release: `declared`), and packages of
//!   a private registry are only ever asked of that registry and the local OSV copies (never the OSV API,
//!   never the public registry). A private registry only the untrusted project names is not a choice the
//!   user made: its packages are not fully checked (`RegistryRules::untrusted_private`).
//! - The lockfile walk goes through git and path entries to what they pull in. Local entries (path,
//!   link, workspace) are shown as skipped; an entry fetched from outside its registry (git, a URL, a
//!   tarball on another host, another integrity: `sources`) is not checked, never clean, and so is a
//!   dependency the manifest itself fetches from a git repository or a URL (`declared`).
//! - Missing data is never safety: a dependency whose advisories are pending or unavailable is marked so.
//! - pip constraints (`Input::constraints`, read by the caller) decide a requirements dependency's version
//!   with its requirement (`constraints`): a URL one sends it elsewhere (not checked), a path one makes
//!   it local (skipped), one that admits no
//!   version with it makes it not installable (never clean), and no fix is offered on the requirement.

mod constraints;
mod declared;
mod memo;
mod registries;
mod sources;
mod states;

/// The check states of a package not checked for `skipped`'s reason (every check skipped), else the
/// default (each check still to do).
fn skipped_checks(skipped: &Option<String>) -> CheckStates {
    match skipped {
        Some(reason) => CheckStates::all(CheckState::Skipped(reason.clone())),
        None => CheckStates::default(),
    }
}

/// The status that goes with `skipped_checks`.
fn skipped_status(skipped: Option<String>) -> Status {
    match skipped {
        Some(reason) => Status::Skipped(reason),
        None => Status::Checked,
    }
}

/// The note on a direct dependency whose advisories could not be checked (shown, never silent).
fn advisory_not_checked(dep_idx: usize, analyzed: &AnalyzedDep, package: &PackageRef) -> Option<Finding> {
    let CheckState::Unavailable(reason) = &analyzed.checks.advisory else {
        return None;
    };
    (analyzed.direct.is_some() && !analyzed.is_transitive()).then(|| {
        Finding::of_kind(
            dep_idx,
            analyzed.dep.span,
            FindingKind::Unchecked,
            Severity::Information,
            format!("could not check {} for advisories: {reason}", package.name),
            Vec::new(),
        )
    })
}

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};

use jiff::Timestamp;

use crate::checks::{self, AgeThresholds, CheckCtx, Finding, FindingKind, ResolvedDep};
use crate::fix::{self, Fix};
use crate::manifest::{DepKind, Dependency, DirectIndex, LockedPackage, Lockfile, Parsed, SourceKind, SyntaxIssue};
use crate::model::{Fact, Facts, Note, PackageRef, Provenance, Query, RegistrySource, Severity, Span};
use crate::policy::{Policy, PolicyIssue, Suppression, Verdict};
use crate::resolve::{self, Requirement, VersionSource};

pub use constraints::PipConstraints;
use declared::Declared;
pub use memo::{Memo, MemoStats};
pub use registries::{Privacy, RegistryRules, SetAside, UserDefaults};
pub use states::{CheckState, CheckStates};
use states::{check_states, overall_status};

/// Everything `evaluate` reads besides facts and policy.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub manifest: &'a Parsed,
    pub lockfile: Option<&'a Lockfile>,
    /// Cargo: the workspace root manifest, for members' `workspace = true` dependencies.
    pub workspace: Option<&'a Parsed>,
    pub registries: &'a RegistryRules,
    /// pip constraints files (`-c`) that govern a requirements file's dependencies, or mark it as one.
    pub constraints: PipConstraints<'a>,
}

/// How far a dependency got checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Checked,
    Pending,
    Unavailable(String),
    Skipped(String),
}

/// One checked package: a direct dependency or a transitive one from the lockfile.
#[derive(Debug, Clone)]
pub struct AnalyzedDep {
    /// Index into `Parsed::deps` of the declaring (or pulling-in) direct dependency.
    pub direct: Option<usize>,
    pub dep: ResolvedDep,
    pub name_span: Span,
    pub kind: DepKind,
    pub source: RegistrySource,
    pub privacy: Privacy,
    pub status: Status,
    /// Each check's state (additive to `status`, which summarises them).
    pub checks: CheckStates,
    /// Boxed, as `provenance`: most dependencies have neither, and a document holds one of these per
    /// dependency (824 → 552 bytes each).
    pub fix: Option<Box<Fix>>,
    pub provenance: Option<Box<Provenance>>,
    /// The oldest `as_of` of a stale fact this dependency was checked with (offline).
    pub stale_as_of: Option<Timestamp>,
    /// Why the stale facts could not be refreshed, when a refresh was due and failed.
    pub stale_reason: Option<String>,
    /// The lockfile of another package manager this package comes from (`Lockfile::also`), when it is
    /// not the one that decides the versions.
    pub other_lockfile: Option<String>,
    /// For a private registry's package: why it is not fully checked, when the registry is the
    /// project's (untrusted) setting or undefined (`RegistryRules::untrusted_private`).
    pub untrusted_source: Option<String>,
    /// Why the lockfile's entry is not what the registry serves (a tarball on another host, a git
    /// repository, another integrity): then no check counts as done, and the package is never shown
    /// as clean.
    pub installed_elsewhere: Option<String>,
    /// The manifest fetches it from a git repository or a URL that is not a registry's release
    /// (`declared`), or a constraint does: its name is asked of no registry and no OSV.
    pub never_asked: bool,
    /// The pip constraints that decide this dependency's version ("constrained by constraints.txt:3
    /// (==2.19.0)"), or, in a constraints file, what its entry means; said with every finding.
    pub constrained_by: Option<String>,
    /// Why pip cannot install this dependency at all (its requirement and its constraints admit no
    /// version together): then no check counts as done, and it is never shown as clean.
    pub not_installable: Option<String>,
}

impl AnalyzedDep {
    pub fn is_transitive(&self) -> bool {
        !self.dep.via.is_empty()
    }
}

/// The result of one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub deps: Vec<AnalyzedDep>,
    pub findings: Vec<Finding>,
    /// Findings a suppression the policy applied turned off, with what did (shown in hovers and counted
    /// in the per-file summary note).
    pub suppressed: Vec<(Finding, Suppression)>,
    pub syntax: Vec<SyntaxIssue>,
    pub policy_issues: Vec<PolicyIssue>,
    pub notes: Vec<Note>,
    /// The files beside the lockfile that fixes write to (overrides, catalogs), for `report`.
    pub fix_files: crate::manifest::FixFiles,
}

impl Analysis {
    pub fn pending(&self) -> usize {
        self.deps.iter().filter(|d| d.status == Status::Pending).count()
    }

    pub fn findings_for(&self, dep_idx: usize) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.dep == dep_idx)
    }

    pub fn unchecked(&self) -> usize {
        self.deps
            .iter()
            .filter(|d| matches!(d.status, Status::Unavailable(_)))
            .count()
    }
}

/// `RegistryRules::untrusted_private` for a package of a private registry.
fn untrusted_source(registries: &RegistryRules, privacy: Privacy, source: &RegistrySource) -> Option<String> {
    (privacy == Privacy::Private)
        .then(|| registries.untrusted_private(source))
        .flatten()
}

/// Cargo: the root's `[workspace.dependencies]` entry a `dep = { workspace = true }` inherits.
fn inherited<'a>(dep: &Dependency, workspace: &[&'a Dependency]) -> Option<&'a Dependency> {
    (dep.source == SourceKind::WorkspaceInherited)
        .then(|| workspace.iter().find(|w| w.name == dep.name).copied())
        .flatten()
}

/// The requirement text a dependency is checked with: its own, the workspace root's it inherits, or
/// the pnpm catalog's range.
fn requirement_text_of(dep: &Dependency, workspace: &[&Dependency], lockfile: Option<&Lockfile>) -> Option<String> {
    match (&dep.source, &dep.requirement) {
        (SourceKind::WorkspaceInherited, _) => inherited(dep, workspace).and_then(|w| w.requirement.clone()),
        // pnpm `catalog:`: the range is the catalog's (pnpm-workspace.yaml).
        (_, Some(text)) if text.trim_start().starts_with("catalog:") => lockfile
            .and_then(|l| l.catalog_range(&dep.package, text))
            .map(str::to_string)
            .or_else(|| Some(text.clone())),
        (_, text) => text.clone(),
    }
}

fn skip_reason(dep: &Dependency, workspace: &[&Dependency]) -> Option<String> {
    if dep.source == SourceKind::WorkspaceInherited
        && let Some(root) = workspace.iter().find(|w| w.name == dep.name)
    {
        return root.source.skip_reason();
    }
    dep.source.skip_reason()
}

/// Why a lockfile entry is the project's own code (a workspace link or member, a path, the project
/// itself), if it is: a `non_registry` reason of that kind, with nothing fetched from elsewhere.
fn local_entry(package: &LockedPackage) -> Option<&str> {
    const LOCAL: [&str; 5] = [
        "workspace link to ",
        "workspace package at ",
        "local path dependency",
        "local package",
        "the project itself",
    ];
    let reason = package.non_registry.as_deref()?;
    (package.fetched_from.is_none() && LOCAL.iter().any(|local| reason.starts_with(local))).then_some(reason)
}

/// The versions a range may install today: not yanked and, when the project's package manager has a
/// cooldown (`AgeThresholds::installer_min_age`, `exclude_newer`), not refused by it, since the
/// installer then picks an older version.
fn available_versions(
    facts: &Facts,
    package: &PackageRef,
    age: Option<(&AgeThresholds, Timestamp)>,
) -> Option<Vec<String>> {
    let known = facts.packages.get(package)?.known()?;
    Some(match age {
        Some((age, now)) => checks::age::installable_versions(age, known, package.ecosystem, &package.name, now),
        None => known
            .versions
            .iter()
            .filter(|v| !v.yanked())
            .map(|v| v.version.to_string())
            .collect(),
    })
}

/// Builds the list of packages to check: direct dependencies, then lockfile packages they pull in.
/// `age` (thresholds and now) makes ranges resolve the way an installer with a cooldown would.
/// `memo` keeps how each requirement was decided (for the same facts, policy and `now`).
fn collect(
    input: &Input<'_>,
    facts: &Facts,
    age: Option<(&AgeThresholds, Timestamp)>,
    mut memo: Option<&mut Memo>,
) -> Vec<AnalyzedDep> {
    let manifest = input.manifest;
    let workspace: Vec<&Dependency> = manifest
        .workspace_deps
        .iter()
        .chain(input.workspace.map(|w| w.workspace_deps.as_slice()).unwrap_or_default())
        .collect();
    let mut res = Vec::with_capacity(manifest.deps.len());
    // Built once: looking up every direct dependency of a large manifest stays linear.
    let direct = input.lockfile.map(|lockfile| (lockfile, lockfile.direct_index()));
    for (idx, dep) in manifest.deps.iter().enumerate() {
        // Renames survive inheritance: `webpki = { workspace = true }` is whatever the root's
        // `webpki` entry names (`package = "rustls-webpki"`), from the root's registry.
        let root_entry = inherited(dep, &workspace);
        let package_name = root_entry.map_or(dep.package.as_str(), |w| w.package.as_str());
        let registry = dep
            .registry
            .as_deref()
            .or(root_entry.and_then(|w| w.registry.as_deref()));
        // A git repository or a URL the manifest names: the registry's own file of a release is that
        // release, pinned; anything else is not checked (`declared`).
        let declared = declared::declared(dep.ecosystem, package_name, &root_entry.unwrap_or(dep).source);
        let (package, declared_pin, declared_elsewhere) = match declared {
            Some(Declared::Release { name, version, at }) => {
                (PackageRef::new(dep.ecosystem, &name), Some((version, at)), None)
            }
            Some(Declared::Elsewhere(why)) => (PackageRef::new(dep.ecosystem, package_name), None, Some(why)),
            None => (PackageRef::new(dep.ecosystem, package_name), None, None),
        };
        let requirement_text = requirement_text_of(dep, &workspace, input.lockfile);
        let source = input.registries.source_for(&package, registry);
        // The public registry's file is the public package: when the settings send this name to another
        // registry, checking that one's package would check something else (dependency confusion).
        let (declared_pin, declared_elsewhere) = match declared_pin {
            Some((_, at)) if source != RegistrySource::Public => (
                None,
                Some(format!(
                    "{}: the public registry's file of {}, while the settings send that name to another registry",
                    crate::manifest::lockfiles::installed_from(&at),
                    package.name
                )),
            ),
            Some((version, _)) => (Some(version), declared_elsewhere),
            None => (None, declared_elsewhere),
        };
        let from_declared_source = declared_pin.is_some() || declared_elsewhere.is_some();
        let locked_entry = direct
            .as_ref()
            .filter(|(lockfile, _)| lockfile.ecosystem == dep.ecosystem)
            .and_then(|(lockfile, index)| {
                direct_index(index, dep, package_name).and_then(|idx| lockfile.packages.get(idx))
            });
        // A registry range the lockfile satisfies with the project's own package (npm links a sibling
        // workspace whose version is in range; a Cargo `[patch]` to a path): that code is installed,
        // not the registry's, so it is skipped like a `workspace:` or path dependency.
        let skipped = if from_declared_source {
            None
        } else {
            skip_reason(dep, &workspace).or_else(|| {
                locked_entry.and_then(local_entry).map(|reason| {
                    format!("{reason}: the lockfile installs the project's own package here, not the registry's")
                })
            })
        };
        // pip constraints (`-c`): a path one makes the package the project's own code (skipped), a URL
        // or git one sends it elsewhere (not checked); otherwise the version checked is the one the
        // requirement and every constraint admit together. A URL requirement is what pip installs.
        let (skipped, constrained, constrained_elsewhere) = match skipped {
            Some(reason) => (Some(reason), None, None),
            None if from_declared_source => (None, None, None),
            None => match constraints::apply(&input.constraints, dep, requirement_text.as_deref()) {
                Some(constraints::Applied::Local(reason)) => (Some(reason), None, None),
                Some(constraints::Applied::Elsewhere(reason)) => (None, None, Some(reason)),
                Some(constraints::Applied::Constrained(constrained)) => (None, Some(constrained), None),
                None => (None, None, None),
            },
        };
        let declared_elsewhere = declared_elsewhere.or(constrained_elsewhere);
        // A constraints file's own entry: a pin is what pip installs whenever anything pulls the
        // package in (checked on its line); a range installs nothing by itself, and is checked on its
        // line only when no requirements file read with the file is checked with it.
        let (skipped, entry_note, entry_pin) = match skipped {
            None if from_declared_source => (None, None, None),
            None => match constraints::own_entry(&input.constraints, dep, requirement_text.as_deref()) {
                Some(Ok((note, pin))) => (None, Some(note), pin),
                Some(Err(reason)) => (Some(reason), None, None),
                None => (None, None, None),
            },
            other => (other, None, None),
        };
        let requirement_text = match &constrained {
            Some(constrained) if !constrained.requirement.is_empty() => Some(constrained.requirement.clone()),
            _ => requirement_text,
        };
        let constraint_pin = constrained
            .as_ref()
            .and_then(|c| c.pin.clone())
            .or_else(|| entry_pin.map(|pin| (pin, VersionSource::Pinned)))
            .or_else(|| declared_pin.map(|pin| (pin, VersionSource::Pinned)));
        // A range the lockfile satisfies from a URL or a git repository installs that, not what the
        // registry would resolve the range to: it stays the locked version, not checked.
        let never_asked = declared_elsewhere.is_some();
        let installed_elsewhere = declared_elsewhere.or_else(|| {
            locked_entry
                .filter(|_| skipped.is_none())
                .and_then(|p| sources::installed_elsewhere(p, dep.ecosystem, &source, facts))
        });
        let locked = locked_entry
            .filter(|p| p.non_registry.is_none() || installed_elsewhere.is_some())
            .map(|p| p.version.clone())
            .filter(|v| !v.is_empty());
        // Only a range without a lockfile pin needs the version list (and building it clones every
        // version string), so pinned and locked dependencies skip it on the warm path.
        let pinned = constraint_pin.is_some()
            || requirement_text
                .as_deref()
                .is_some_and(|text| resolve::exact_pin(dep.ecosystem, text).is_some());
        let decide = || {
            let requirement = requirement_text
                .as_deref()
                .and_then(|t| Requirement::parse(dep.ecosystem, t, dep.poetry_syntax).ok());
            if let (Some((pin, source)), None) = (&constraint_pin, &locked) {
                let resolved = resolve::Resolved {
                    version: Some(pin.clone()),
                    source: *source,
                };
                return (requirement, resolved);
            }
            let available = if locked.is_some() || pinned {
                None
            } else {
                available_versions(facts, &package, age)
            };
            let resolved = resolve::resolve(
                dep.ecosystem,
                requirement.as_ref(),
                requirement_text.as_deref(),
                locked.as_deref(),
                available.as_deref(),
            );
            (requirement, resolved)
        };
        let (requirement, mut resolved) = match memo.as_deref_mut() {
            // A constrained answer is not the requirement text's alone, and a constraints file's pin
            // is not what the same text resolves to elsewhere: neither is kept in the memo.
            Some(memo) if constrained.is_none() && constraint_pin.is_none() => {
                // The version list an installer's cooldown filters moves with time until it settles.
                let settled = locked.is_some()
                    || pinned
                    || age.is_none_or(|(age, now)| memo::settled(facts, &package, &[age], now));
                memo.resolution(
                    memo::Question {
                        package: &package,
                        poetry: dep.poetry_syntax,
                        requirement: requirement_text.as_deref(),
                        locked: locked.as_deref(),
                    },
                    settled,
                    decide,
                )
            }
            _ => decide(),
        };
        let not_installable = constrained.as_ref().and_then(|constrained| {
            let known = facts.packages.get(&package).and_then(Fact::known).is_some();
            constraints::not_installable(constrained, requirement.as_ref(), &resolved, locked.is_some(), known)
        });
        if not_installable.is_some() {
            resolved = resolve::Resolved {
                version: None,
                source: VersionSource::Unresolved,
            };
        }
        let privacy = input.registries.privacy(&package, registry, &source);
        let untrusted_source = untrusted_source(input.registries, privacy, &source);
        res.push(AnalyzedDep {
            untrusted_source,
            direct: Some(idx),
            privacy,
            dep: ResolvedDep {
                private: privacy == Privacy::Private,
                package,
                requirement_text,
                requirement,
                resolved,
                span: dep.finding_span(),
                via: Vec::new(),
            },
            name_span: dep.name_span,
            kind: dep.kind.clone(),
            source,
            checks: skipped_checks(&skipped),
            status: skipped_status(skipped),
            fix: None,
            provenance: None,
            stale_as_of: None,
            stale_reason: None,
            other_lockfile: None,
            installed_elsewhere,
            never_asked,
            constrained_by: constrained.map(|c| c.note).or(entry_note),
            not_installable,
        });
    }
    if let Some(lockfile) = input.lockfile {
        collect_transitive(manifest, lockfile, input.registries, facts, &mut res);
        if lockfile.kind == crate::model::ManifestKind::PyLock {
            // PEP 751 records no graph an installer follows: it installs every entry (whose marker
            // matches), so the entries no declared dependency reaches are checked too.
            collect_other(manifest, None, lockfile, input.registries, facts, &mut res);
        }
        for (name, other) in &lockfile.also {
            collect_other(manifest, Some(name), other, input.registries, facts, &mut res);
        }
    }
    res
}

/// Whether the lockfile walk starts at direct dependency `dep`: every one of the lockfile's ecosystem
/// but a sibling workspace member (`workspace:`), whose own manifest is checked with its dependencies.
fn walks_from(dep: &Dependency, lockfile: &Lockfile) -> bool {
    // An override is not a root of the tree: what it forces is reached from the dependencies.
    dep.ecosystem == lockfile.ecosystem && dep.source != SourceKind::Workspace && dep.kind != DepKind::Override
}

/// Per package index of a lockfile: the direct dependency it was reached from and the path of names.
type Reached = Vec<Option<(usize, Vec<String>)>>;

/// Breadth-first through `lockfile` from each direct dependency's entry, in the manifest's order: for
/// each package reached, the direct dependency it was first (by the shortest path) reached from and
/// that path of names; and the order in which the packages below the direct entries were reached.
fn reach(manifest: &Parsed, lockfile: &Lockfile, acc: &[AnalyzedDep]) -> (Reached, Vec<usize>) {
    let index = lockfile.direct_index();
    let mut order: Vec<usize> = Vec::new();
    let mut reached: Reached = vec![None; lockfile.packages.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    // Git, path and URL dependencies are not checked themselves, but what they pull in from the
    // registry is installed all the same: the walk starts at them too.
    for (direct, dep) in manifest.deps.iter().enumerate() {
        if !walks_from(dep, lockfile) {
            continue;
        }
        let package = acc
            .get(direct)
            .map_or(dep.package.as_str(), |a| a.dep.package.name.as_str());
        if let Some(idx) = direct_index(&index, dep, package)
            && let Some(slot) = reached.get_mut(idx)
            && slot.is_none()
        {
            *slot = Some((direct, vec![dep.name.clone()]));
            queue.push_back(idx);
        }
    }
    while let Some(idx) = queue.pop_front() {
        let Some((direct, path)) = reached.get(idx).cloned().flatten() else {
            continue;
        };
        for child in lockfile
            .packages
            .get(idx)
            .map(|p| p.dependencies.as_slice())
            .unwrap_or_default()
        {
            if let (Some(slot), Some(package)) = (reached.get_mut(*child), lockfile.packages.get(*child))
                && slot.is_none()
            {
                let mut child_path = path.clone();
                child_path.push(package.name.clone());
                *slot = Some((direct, child_path));
                queue.push_back(*child);
                order.push(*child);
            }
        }
    }
    (reached, order)
}

/// Every registry package of `other`, a lockfile of another package manager beside the one that
/// decides versions (`Lockfile::also`), that is not already checked at the same version: shown on
/// the direct dependency whose entry in `other` leads to it (the entry itself included, with its path),
/// else at the top of the manifest. Installing with that manager installs every entry, reachable or not.
/// `name` is that lockfile's name; `None` for the deciding lockfile itself when it installs every
/// entry (PEP 751).
fn collect_other(
    manifest: &Parsed,
    name: Option<&str>,
    other: &Lockfile,
    registries: &RegistryRules,
    facts: &Facts,
    acc: &mut Vec<AnalyzedDep>,
) {
    let already: HashSet<(String, String)> = acc
        .iter()
        .filter_map(|d| Some((d.dep.package.name.clone(), d.dep.resolved.version.clone()?)))
        .collect();
    let (reached, _) = reach(manifest, other, acc);
    let mut checked: HashSet<(String, String)> = HashSet::new();
    for (idx, package) in other.packages.iter().enumerate() {
        if package.name.is_empty() || package.version.is_empty() {
            continue;
        }
        let package_ref = PackageRef::new(other.ecosystem, &package.name);
        let source = registries.source_for(&package_ref, None);
        // Fetched from a URL or git, or with an integrity the registry does not publish: not checked.
        let installed_elsewhere = sources::installed_elsewhere(package, other.ecosystem, &source, facts);
        let skipped = package.non_registry.clone().filter(|_| installed_elsewhere.is_none());
        let key = (package.name.clone(), package.version.clone());
        if (already.contains(&key) && installed_elsewhere.is_none()) || !checked.insert(key) {
            continue;
        }
        let declaring = reached
            .get(idx)
            .cloned()
            .flatten()
            .and_then(|(direct, path)| Some((direct, path, manifest.deps.get(direct)?)));
        let privacy = registries.privacy(&package_ref, None, &source);
        acc.push(AnalyzedDep {
            untrusted_source: untrusted_source(registries, privacy, &source),
            direct: declaring.as_ref().map(|(direct, _, _)| *direct),
            privacy,
            dep: ResolvedDep {
                private: privacy == Privacy::Private,
                package: package_ref,
                requirement_text: None,
                requirement: None,
                resolved: resolve::Resolved {
                    version: Some(package.version.clone()),
                    source: VersionSource::Lockfile,
                },
                span: declaring.as_ref().map_or(Span::default(), |(_, _, d)| d.finding_span()),
                via: declaring
                    .as_ref()
                    .map_or_else(|| vec![package.name.clone()], |(_, path, _)| path.clone()),
            },
            name_span: declaring.as_ref().map_or(Span::default(), |(_, _, d)| d.name_span),
            kind: declaring.as_ref().map_or(DepKind::Normal, |(_, _, d)| d.kind.clone()),
            source,
            // A local package (path, link, workspace): shown as skipped with why, never dropped.
            checks: skipped_checks(&skipped),
            status: skipped_status(skipped),
            fix: None,
            provenance: None,
            stale_as_of: None,
            stale_reason: None,
            other_lockfile: name.map(str::to_string),
            installed_elsewhere,
            never_asked: false,
            constrained_by: None,
            not_installable: None,
        });
    }
}

/// The lockfile entry a direct dependency installs: by the name it is declared under (npm aliases
/// are installed under it), else by the registry name (Cargo renames), for the lockfile's member.
fn direct_index(index: &DirectIndex<'_>, dep: &Dependency, package: &str) -> Option<usize> {
    let requirement = dep.requirement.as_deref();
    index
        .get(&dep.name, requirement)
        .or_else(|| {
            // Yarn keys an npm alias by the whole spec the manifest wrote (`prettier-2@npm:prettier@^2`),
            // while the dependency keeps the real package and its range apart.
            (dep.source == SourceKind::Alias)
                .then(|| {
                    let spec = match requirement {
                        Some(range) => format!("npm:{package}@{range}"),
                        None => format!("npm:{package}"),
                    };
                    index.get(&dep.name, Some(&spec))
                })
                .flatten()
        })
        .or_else(|| (package != dep.name).then(|| index.get(package, requirement)).flatten())
}

/// Walks the lockfile graph breadth-first from each direct dependency, so each transitive package is
/// reported once, on the first (shortest) path that reaches it.
fn collect_transitive(
    manifest: &Parsed,
    lockfile: &Lockfile,
    registries: &RegistryRules,
    facts: &Facts,
    acc: &mut Vec<AnalyzedDep>,
) {
    let (reached, order) = reach(manifest, lockfile, acc);
    let mut checked: HashSet<(String, String)> = HashSet::new();
    for child_idx in order {
        let (Some(child), Some((direct, child_path))) = (
            lockfile.packages.get(child_idx),
            reached.get(child_idx).cloned().flatten(),
        ) else {
            continue;
        };
        let child_ref = PackageRef::new(lockfile.ecosystem, &child.name);
        let source = registries.source_for(&child_ref, None);
        // Fetched from a URL or git, or with an integrity the registry does not publish: listed, not
        // checked. A local package (path, link, workspace) is shown as skipped with why; the walk
        // went on below either.
        let installed_elsewhere = sources::installed_elsewhere(child, lockfile.ecosystem, &source, facts);
        if !checked.insert((child.name.clone(), child.version.clone())) {
            continue;
        }
        let Some(declaring) = manifest.deps.get(direct) else {
            continue;
        };
        let skipped = child.non_registry.clone().filter(|_| installed_elsewhere.is_none());
        let privacy = registries.privacy(&child_ref, None, &source);
        acc.push(AnalyzedDep {
            untrusted_source: untrusted_source(registries, privacy, &source),
            direct: Some(direct),
            privacy,
            dep: ResolvedDep {
                private: privacy == Privacy::Private,
                package: PackageRef::new(lockfile.ecosystem, &child.name),
                requirement_text: None,
                requirement: None,
                resolved: resolve::Resolved {
                    version: Some(child.version.clone()),
                    source: VersionSource::Lockfile,
                },
                span: declaring.finding_span(),
                via: child_path,
            },
            name_span: declaring.name_span,
            kind: declaring.kind.clone(),
            source,
            checks: skipped_checks(&skipped),
            status: skipped_status(skipped),
            fix: None,
            provenance: None,
            stale_as_of: None,
            stale_reason: None,
            other_lockfile: None,
            installed_elsewhere,
            never_asked: false,
            constrained_by: None,
            not_installable: None,
        });
    }
}

/// A transitive package's direct dependency and the path below it with the version the lockfile
/// installs at each hop (ending with the package itself), found by following `via` through the
/// lockfile from the direct dependency's locked entry.
fn path_below_direct<'a>(
    analysis: &'a Analysis,
    lockfile: &Lockfile,
    transitive: &AnalyzedDep,
) -> Option<(&'a AnalyzedDep, Vec<fix::Hop>, Vec<usize>)> {
    let direct = analysis
        .deps
        .iter()
        .find(|d| d.direct == transitive.direct && !d.is_transitive())?;
    let direct_version = direct.dep.resolved.version.as_deref()?;
    let mut at = lockfile
        .packages
        .iter()
        .position(|p| p.name == direct.dep.package.name && p.version == direct_version)?;
    let mut path = Vec::new();
    let mut chain = vec![at];
    for name in transitive.dep.via.iter().skip(1) {
        let package = lockfile.packages.get(at)?;
        at = package
            .dependencies
            .iter()
            .copied()
            .find(|idx| lockfile.packages.get(*idx).is_some_and(|p| p.name == *name))?;
        chain.push(at);
        let hop = lockfile.packages.get(at)?;
        path.push(fix::Hop {
            name: hop.name.clone(),
            version: hop.version.clone(),
        });
    }
    (path.last().map(|hop| (&hop.name, &hop.version))
        == Some((&transitive.dep.package.name, transitive.dep.resolved.version.as_ref()?)))
    .then_some((direct, path, chain))
}

/// Which lockfile packages lead to which (reversed edges), limited to those the manifest's direct
/// dependencies reach: what `only_way` walks up.
struct Ancestry {
    parents: Vec<Vec<usize>>,
    roots: HashSet<usize>,
}

impl Ancestry {
    fn new(manifest: &Parsed, lockfile: &Lockfile, deps: &[AnalyzedDep]) -> Ancestry {
        let index = lockfile.direct_index();
        let roots: HashSet<usize> = manifest
            .deps
            .iter()
            .enumerate()
            .filter(|(_, dep)| walks_from(dep, lockfile))
            .filter_map(|(direct, dep)| {
                let package = deps
                    .get(direct)
                    .map_or(dep.package.as_str(), |a| a.dep.package.name.as_str());
                direct_index(&index, dep, package)
            })
            .collect();
        let mut parents = vec![Vec::new(); lockfile.packages.len()];
        let mut seen: HashSet<usize> = roots.clone();
        let mut queue: VecDeque<usize> = roots.iter().copied().collect();
        while let Some(at) = queue.pop_front() {
            for child in lockfile.packages.get(at).map_or(&[][..], |p| &p.dependencies[..]) {
                if let Some(list) = parents.get_mut(*child) {
                    list.push(at);
                }
                if seen.insert(*child) {
                    queue.push_back(*child);
                }
            }
        }
        Ancestry { parents, roots }
    }

    /// Whether every way from the direct dependencies down to the last package of `chain` runs along
    /// `chain` (the direct dependency's package, then each hop): no other direct dependency and no
    /// other package below this one leads there, so upgrading the direct dependency is enough.
    fn only_way(&self, lockfile: &Lockfile, chain: &[usize]) -> bool {
        let Some((&bad, above)) = chain.split_last() else {
            return false;
        };
        let on_chain: HashSet<usize> = above.iter().copied().collect();
        let Some(bad_package) = lockfile.packages.get(bad) else {
            return false;
        };
        // Every copy of the bad version (npm nests copies at several paths).
        let copies: Vec<usize> = (0..lockfile.packages.len())
            .filter(|idx| {
                lockfile.packages[*idx].name == bad_package.name
                    && lockfile.packages[*idx].version == bad_package.version
            })
            .collect();
        if copies.iter().any(|copy| self.roots.contains(copy)) {
            return false;
        }
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack = copies;
        while let Some(at) = stack.pop() {
            for parent in self.parents.get(at).map_or(&[][..], |p| &p[..]) {
                if !on_chain.contains(parent) {
                    return false;
                }
                if seen.insert(*parent) {
                    stack.push(*parent);
                }
            }
        }
        // The direct dependency's package is reached by this manifest only as a direct dependency.
        above.first().is_some_and(|direct| self.roots.contains(direct))
    }
}

/// The facts an evaluation of `input` is missing from `facts`.
pub fn needs(input: &Input<'_>, facts: &Facts) -> Vec<Query> {
    queries(input, facts, Asked::Missing)
}

/// Every fact an evaluation of `input` reads, held in `facts` or not (what `needs` would ask for with
/// nothing held, plus what the held registry facts lead to): what a server keeps for an open document.
pub fn uses(input: &Input<'_>, facts: &Facts) -> Vec<Query> {
    queries(input, facts, Asked::All)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Asked {
    Missing,
    All,
}

fn queries(input: &Input<'_>, facts: &Facts, asked: Asked) -> Vec<Query> {
    let wanted = |held: bool| asked == Asked::All || !held;
    let mut res = Vec::new();
    let mut seen = HashSet::new();
    for analyzed in collect(input, facts, None, None) {
        if matches!(analyzed.status, Status::Skipped(_)) || analyzed.never_asked {
            continue;
        }
        let package = analyzed.dep.package.clone();
        if package.name.is_empty() {
            continue;
        }
        if wanted(facts.packages.contains_key(&package)) {
            let query = Query::Package {
                package: package.clone(),
                source: analyzed.source.clone(),
            };
            if seen.insert(query.clone()) {
                res.push(query);
            }
        }
        if wanted(facts.advisories.contains_key(&package)) {
            let query = match analyzed.privacy {
                Privacy::Public | Privacy::MirrorPublic => Some(Query::Advisories {
                    package: package.clone(),
                }),
                // The name must not leave the machine: local OSV copies only. A private registry's
                // package is still matched against them (it sends nothing anywhere): a name that
                // collides with a public malicious package is worth a finding.
                Privacy::MirrorLocal | Privacy::Private => Some(Query::LocalAdvisories {
                    package: package.clone(),
                }),
            };
            if let Some(query) = query
                && seen.insert(query.clone())
            {
                res.push(query);
            }
        }
        // The packages a fresh version added as dependencies: whether they are new, have few
        // versions or do not exist weighs in `checks::signals`. Only while the version is young at
        // fetch time, so old releases cost no request. A name behind a mirror is asked of its own
        // registry (`source_for`), never of a public host.
        if let Some(Fact::Known { value, as_of, .. }) = facts.packages.get(&package)
            && let Some(version) = analyzed.dep.resolved.version.as_deref()
            && checks::age::version_facts(value, package.ecosystem, version)
                .and_then(|v| v.published())
                .is_some_and(|published| as_of.duration_since(published) < checks::signals::ADDED_LOOKUP_WINDOW)
        {
            for name in checks::signals::added_dependencies(package.ecosystem, value, version) {
                let added = PackageRef::new(package.ecosystem, &name);
                if added.name.is_empty() || !wanted(facts.packages.contains_key(&added)) {
                    continue;
                }
                let query = Query::Package {
                    source: input.registries.source_for(&added, None),
                    package: added,
                };
                if seen.insert(query.clone()) {
                    res.push(query);
                }
            }
        }
        // Attestations live on public hosts: a name that must stay on the machine is not sent there.
        if analyzed.privacy == Privacy::MirrorLocal {
            continue;
        }
        if let Some(registry_facts) = facts.packages.get(&package).and_then(Fact::known) {
            for version in checks::provenance::provenance_versions(&analyzed.dep, registry_facts) {
                if !wanted(facts.provenance.contains_key(&(package.clone(), version.clone()))) {
                    continue;
                }
                let query = Query::Provenance {
                    package: package.clone(),
                    version,
                    source: analyzed.source.clone(),
                };
                if seen.insert(query.clone()) {
                    res.push(query);
                }
            }
        }
    }
    res
}

fn oldest_stale(facts: &Facts, package: &PackageRef) -> Option<Timestamp> {
    let mut res: Option<Timestamp> = None;
    let mut consider = |as_of: Timestamp| res = Some(res.map_or(as_of, |r: Timestamp| r.min(as_of)));
    if let Some(Fact::Known { as_of, stale: true, .. }) = facts.packages.get(package) {
        consider(*as_of);
    }
    if let Some(Fact::Known { as_of, stale: true, .. }) = facts.advisories.get(package) {
        consider(*as_of);
    }
    res
}

/// A finding an untrusted project's policy would lower, as shown instead: a malicious package or a
/// fresh publish younger than the user's own threshold keeps the user's severity (with a note that the
/// project tried); anything else is shown as information.
fn loosened_by_untrusted(mut finding: Finding, count: &mut usize) -> Finding {
    *count += 1;
    if matches!(
        finding.kind,
        FindingKind::Malicious | FindingKind::FreshVersion | FindingKind::FreshPackage
    ) {
        finding.message = format!(
            "{} (this project's gatehouse.toml (untrusted) tries to lower this; your own settings keep it)",
            finding.message
        );
    } else {
        finding.severity = Severity::Information;
        finding.message = format!(
            "{} (suppressed by this project's gatehouse.toml (untrusted))",
            finding.message
        );
    }
    finding
}

/// Evaluates a manifest against the known facts and the policy.
pub fn evaluate(input: &Input<'_>, facts: &Facts, policy: &Policy, now: Timestamp) -> Analysis {
    evaluate_inner(input, facts, policy, now, None)
}

/// `evaluate`, reusing the checks' and the solver's earlier answers from `memo` where they still hold
/// (see `engine::Memo`, `fix::Memo`): what an editor calls on every keystroke, so only the dependency an
/// edit touched is checked and solved again. Gives exactly what `evaluate` gives.
pub fn evaluate_memoized(
    input: &Input<'_>,
    facts: &std::sync::Arc<Facts>,
    policy: &Policy,
    now: Timestamp,
    memo: &mut Memo,
) -> Analysis {
    memo.begin(facts, policy, now);
    evaluate_inner(input, facts, policy, now, Some(memo))
}

fn evaluate_inner(
    input: &Input<'_>,
    facts: &Facts,
    policy: &Policy,
    now: Timestamp,
    mut memo: Option<&mut Memo>,
) -> Analysis {
    let mut syntax = input.manifest.issues.clone();
    syntax.extend(constraints::refused_entries(&input.constraints, input.manifest));
    let mut analysis = Analysis {
        deps: collect(input, facts, Some((&policy.age, now)), memo.as_deref_mut()),
        syntax,
        fix_files: input.lockfile.map(|l| l.fix_files.clone()).unwrap_or_default(),
        ..Analysis::default()
    };
    if let Some(lockfile) = input.lockfile {
        analysis.syntax.extend(lockfile.issues.iter().map(|issue| SyntaxIssue {
            span: Span::default(),
            message: format!("lockfile: {}", issue.message),
        }));
        // A lockfile of another package manager is checked too, so what it could not read is as
        // much an issue as in the chosen one (an unread one is a project problem already).
        for (name, other) in &lockfile.also {
            analysis.syntax.extend(other.issues.iter().map(|issue| SyntaxIssue {
                span: Span::default(),
                message: format!("lockfile {name} (another package manager's): {}", issue.message),
            }));
        }
    }
    let ctx = CheckCtx {
        now,
        facts,
        age: &policy.age,
        signals: &policy.signals,
    };
    // An untrusted project's policy is compared with the user's own: the checks also run at the user's
    // thresholds, so a cooldown the project shortened cannot hide a fresh publish.
    let floor = policy.untrusted_floor.as_deref();
    let floor_ctx = floor.map(|floor| CheckCtx {
        now,
        facts,
        age: &floor.age,
        // The user's own signal rule too: a project cannot switch the pre-advisory signals off.
        signals: &floor.signals,
    });
    let mut raw_floor = Vec::new();
    let mut raw = Vec::new();
    let mut notes: Vec<Note> = Vec::new();
    let mut unavailable_registry: Vec<(String, String)> = Vec::new();
    // Sets, not scans of the lists: offline, every package has its own message, and scanning made a
    // 20k-package lockfile quadratic.
    let mut note_messages: HashSet<String> = HashSet::new();
    for (dep_idx, analyzed) in analysis.deps.iter_mut().enumerate() {
        if matches!(analyzed.status, Status::Skipped(_)) {
            continue;
        }
        let package = &analyzed.dep.package;
        if policy.is_denied(package) {
            raw.push(Finding::of_kind(
                dep_idx,
                analyzed.dep.span,
                FindingKind::Denied,
                Severity::Error,
                format!("{} is on the project's deny list", package.name),
                Vec::new(),
            ));
        }
        analyzed.checks = match memo.as_deref_mut() {
            // What the lockfile installs is not the registry's package: nothing about it is known.
            _ if analyzed.installed_elsewhere.is_some() => CheckStates::all(CheckState::Unavailable(
                analyzed.installed_elsewhere.clone().unwrap_or_default(),
            )),
            // pip refuses to install it: there is no version to check, and that is not clean.
            _ if analyzed.not_installable.is_some() => CheckStates::all(CheckState::Unavailable(
                analyzed.not_installable.clone().unwrap_or_default(),
            )),
            Some(memo) => {
                let privacy = (analyzed.privacy, analyzed.untrusted_source.clone());
                let states = || check_states(analyzed, facts, policy);
                memo.check_states(&analyzed.dep, privacy, states)
            }
            None => check_states(analyzed, facts, policy),
        };
        // The registry the user's settings give could not answer, and the project named another one
        // that was set aside: say which file named which registry and how to trust it.
        if analyzed.privacy != Privacy::Private
            && analyzed.installed_elsewhere.is_none()
            && let Some(set_aside) = input.registries.set_aside_for(package.ecosystem)
            && matches!(facts.packages.get(package), Some(Fact::Unavailable(_)))
        {
            let reason = set_aside.reason();
            let states = &mut analyzed.checks;
            for state in [&mut states.age, &mut states.availability, &mut states.provenance] {
                if let CheckState::Unavailable(why) = state {
                    *why = format!("{why}; {reason}");
                }
            }
        }
        analyzed.status = overall_status(&analyzed.checks);
        if analyzed.dep.private {
            // Only the local OSV copies were asked (nothing leaves the machine); what they hold is
            // about the public package of the same name, which is worth a finding all the same
            // (dependency confusion, or a project that names a registry to hide a package).
            if matches!(
                analyzed.checks.advisory,
                CheckState::Checked | CheckState::CheckedFrom(_) | CheckState::Degraded(_)
            ) {
                let start = raw.len();
                checks::advisory::check(&ctx, dep_idx, &analyzed.dep, &mut raw);
                let from = match &analyzed.source {
                    RegistrySource::Private { url } => format!(" {url}"),
                    RegistrySource::Public => String::new(),
                };
                for finding in raw.iter_mut().skip(start) {
                    finding.message = format!(
                        "{} (the name matches a public advisory; this package is set to come from the private registry{from}, so check that it is your own package)",
                        finding.message
                    );
                }
            }
            raw.extend(advisory_not_checked(dep_idx, analyzed, package));
            continue;
        }
        if let Some(Fact::Unavailable(note)) = facts.packages.get(package)
            && note_messages.insert(note.message.clone())
        {
            unavailable_registry.push((package.name.clone(), note.message.clone()));
            notes.push(note.clone());
        }
        analyzed.stale_as_of = oldest_stale(facts, package);
        analyzed.stale_reason = analyzed
            .stale_as_of
            .and_then(|_| facts.refresh_errors.get(package).cloned());
        if let Some(version) = &analyzed.dep.resolved.version {
            analyzed.provenance = facts
                .provenance
                .get(&(package.clone(), version.clone()))
                .and_then(Fact::known)
                .cloned()
                .map(Box::new);
        }
        raw.extend(advisory_not_checked(dep_idx, analyzed, package));
        if let CheckState::Degraded(caveat) = &analyzed.checks.advisory
            && analyzed.direct.is_some()
            && !analyzed.is_transitive()
        {
            raw.push(Finding {
                dep: dep_idx,
                span: analyzed.dep.span,
                kind: FindingKind::Unchecked,
                id: FindingKind::Unchecked.code().to_string(),
                aliases: Vec::new(),
                severity: Severity::Information,
                message: format!("{}: {caveat}", package.name),
                evidence: Vec::new(),
                url: None,
            });
        }
        match memo.as_deref_mut() {
            Some(memo) => memo.run_all(
                &ctx,
                floor_ctx.as_ref(),
                dep_idx,
                &analyzed.dep,
                &mut raw,
                &mut raw_floor,
            ),
            None => {
                checks::run_all(&ctx, dep_idx, &analyzed.dep, &mut raw);
                if let Some(floor_ctx) = &floor_ctx {
                    checks::run_all(floor_ctx, dep_idx, &analyzed.dep, &mut raw_floor);
                }
            }
        }
    }
    // One note for many packages whose registry data is missing, not one line each.
    if unavailable_registry.len() > 1 {
        let registry_messages: HashSet<&str> = unavailable_registry.iter().map(|(_, m)| m.as_str()).collect();
        notes.retain(|n| !registry_messages.contains(n.message.as_str()));
        let names: Vec<&str> = unavailable_registry.iter().map(|(n, _)| n.as_str()).take(5).collect();
        let more = unavailable_registry.len().saturating_sub(names.len());
        let first = unavailable_registry
            .first()
            .map(|(_, m)| m.as_str())
            .unwrap_or_default();
        notes.push(Note {
            source: "registry".to_string(),
            message: format!(
                "registry data unavailable for {} packages ({}{}), so age, yank and deprecation checks were skipped for them; first reason: {first}",
                unavailable_registry.len(),
                names.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ),
        });
    }

    let mut used_ignores = Vec::new();
    let mut loosened = 0;
    // Findings the user's own thresholds raise but the project's shorter cooldown dropped.
    let dropped_by_project: Vec<Finding> = raw_floor
        .into_iter()
        .filter(|f| !raw.iter().any(|r| r.dep == f.dep && r.kind == f.kind && r.id == f.id))
        .collect();
    for finding in raw {
        let Some(analyzed) = analysis.deps.get(finding.dep) else {
            continue;
        };
        let package = &analyzed.dep.package;
        let floor_verdict = floor.and_then(|floor| floor.apply(finding.clone(), package, now));
        let verdict = policy.apply(finding, package, now);
        if let (Some(Verdict::Keep(own)), Some(verdict)) = (&floor_verdict, &verdict) {
            let project_level = verdict.shown_at();
            if project_level.is_none_or(|level| !level.at_least(own.severity)) {
                // The untrusted project loosens what the user's settings show.
                if let Verdict::Suppressed {
                    by: Suppression::Ignore(idx),
                    ..
                } = verdict
                {
                    used_ignores.push(*idx);
                }
                analysis
                    .findings
                    .push(loosened_by_untrusted(own.clone(), &mut loosened));
                continue;
            }
        }
        match verdict {
            Some(Verdict::Keep(finding)) => analysis.findings.push(finding),
            Some(Verdict::Suppressed { finding, by }) => {
                if let Suppression::Ignore(idx) = by {
                    used_ignores.push(idx);
                }
                analysis.suppressed.push((finding, by));
            }
            None => {}
        }
    }
    for finding in dropped_by_project {
        let Some(analyzed) = analysis.deps.get(finding.dep) else {
            continue;
        };
        if let Some(Verdict::Keep(own)) = floor.and_then(|floor| floor.apply(finding, &analyzed.dep.package, now)) {
            analysis.findings.push(loosened_by_untrusted(own, &mut loosened));
        }
    }
    if !analysis.suppressed.is_empty() {
        let n = analysis.suppressed.len();
        notes.push(Note {
            source: "gatehouse.toml".to_string(),
            message: format!(
                "{n} finding{} suppressed by gatehouse.toml",
                if n == 1 { "" } else { "s" }
            ),
        });
    }
    if loosened > 0 {
        notes.push(Note {
            source: "gatehouse.toml".to_string(),
            message: format!(
                "{loosened} finding{} this project's gatehouse.toml (untrusted) would suppress or lower {} still shown",
                if loosened == 1 { "" } else { "s" },
                if loosened == 1 { "is" } else { "are" }
            ),
        });
    }
    analysis.notes = notes;
    analysis.policy_issues = policy.issues(now, &used_ignores);

    for finding in &mut analysis.findings {
        if let Some(name) = analysis.deps.get(finding.dep).and_then(|d| d.other_lockfile.as_ref()) {
            finding.message = format!(
                "{} (in {name}, the lockfile of another package manager: installing with it would use this version)",
                finding.message
            );
        }
    }
    for finding in &mut analysis.findings {
        if let Some(note) = analysis.deps.get(finding.dep).and_then(|d| d.constrained_by.as_ref()) {
            finding.message = format!("{} ({note})", finding.message);
        }
    }
    let mut by_dep: HashMap<usize, Vec<&Finding>> = HashMap::new();
    for finding in &analysis.findings {
        by_dep.entry(finding.dep).or_default().push(finding);
    }
    let mut fixes = Vec::new();
    let mut ancestry: Option<Ancestry> = None;
    for (dep_idx, findings) in by_dep {
        let Some(analyzed) = analysis.deps.get(dep_idx) else {
            continue;
        };
        // A private registry's package: the solver has no facts of that registry to choose from.
        // A constrained dependency's version is the constraints file's to change (its entry gets the fix).
        let constrained = analyzed.constrained_by.is_some() && !input.constraints.is_constraints_file;
        // A registry file named under another dependency name (`"lodash": "https://…/event-stream-3.3.6.tgz"`):
        // writing a version there would install another package.
        let renamed_file = !analyzed.is_transitive()
            && analyzed
                .direct
                .and_then(|idx| input.manifest.deps.get(idx))
                .is_some_and(|dep| matches!(dep.source, SourceKind::Url(_)) && dep.name != analyzed.dep.package.name);
        if !findings.iter().any(|f| fix::wants_fix(f.kind))
            || analyzed.other_lockfile.is_some()
            || analyzed.dep.private
            || constrained
            || renamed_file
        {
            // A package of a lockfile that decides nothing is fixed by removing or regenerating that file.
            continue;
        }
        let lockfile = input.lockfile.map(|l| l.kind);
        let fix = match (lockfile, input.lockfile) {
            (Some(kind), Some(locked)) if analyzed.is_transitive() => {
                let upgrade = path_below_direct(&analysis, locked, analyzed)
                    .filter(|(_, _, chain)| {
                        // Another way to the bad version keeps it installed after the upgrade.
                        ancestry
                            .get_or_insert_with(|| Ancestry::new(input.manifest, locked, &analysis.deps))
                            .only_way(locked, chain)
                    })
                    .and_then(|(direct, path, _)| fix::upgrade_direct(&ctx, policy, &direct.dep, &path, kind));
                upgrade.unwrap_or_else(|| fix::solve_transitive(&ctx, policy, &analyzed.dep, &findings, kind))
            }
            _ if analyzed.is_transitive() => continue,
            _ => match memo.as_deref_mut() {
                Some(memo) => memo.fix.solve(&ctx, policy, &analyzed.dep, &findings, lockfile),
                None => fix::solve(&ctx, policy, &analyzed.dep, &findings, lockfile),
            },
        };
        fixes.push((dep_idx, fix));
    }
    for (dep_idx, fix) in fixes {
        if let Some(analyzed) = analysis.deps.get_mut(dep_idx) {
            analyzed.fix = Some(Box::new(fix));
        }
    }
    analysis
        .findings
        .sort_by(|a, b| (a.span.start, a.severity, a.kind, &a.id).cmp(&(b.span.start, b.severity, b.kind, &b.id)));
    analysis
}
