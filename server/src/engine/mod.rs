//! The pure core: `needs` lists the facts an analysis is missing; `evaluate` turns a parsed manifest, its
//! lockfile and the known facts into an `Analysis` (checks → policy → fix).
//!
//! Invariants:
//! - Pure and synchronous: no IO, no async, no clock (`now` is an argument).
//! - The one place that knows the order checks → policy → fix.
//! - Privacy is decided here: path, git, URL and workspace dependencies are never queried, and packages of
//!   a private registry are only ever asked of that registry (never OSV, never the public registry).
//! - Missing data is never safety: a dependency whose advisories are pending or unavailable is marked so.

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};

use jiff::Timestamp;

use crate::checks::{self, AgeThresholds, CheckCtx, Finding, FindingKind, ResolvedDep};
use crate::fix::{self, Fix};
use crate::manifest::{DepKind, Dependency, Lockfile, Parsed, SourceKind, SyntaxIssue};
use crate::model::{Ecosystem, Fact, Facts, Note, PackageRef, Provenance, Query, RegistrySource, Severity, Span};
use crate::policy::{Policy, PolicyIssue, Suppression, Verdict};
use crate::resolve::{self, Requirement, VersionSource};

/// Which registries a project uses, as read from `.npmrc`, `.cargo/config.toml`, pip and uv settings
/// (by `lookup::private`, converted by the composition roots).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryRules {
    /// npm `registry=` when it is not the public registry.
    pub npm_default: Option<String>,
    /// npm `@scope:registry=`: (`@scope`, url).
    pub npm_scopes: Vec<(String, String)>,
    /// Cargo `[registries.<name>] index`: (name, url).
    pub cargo_registries: Vec<(String, String)>,
    /// Cargo `[source.crates-io] replace-with` target URL.
    pub cargo_replacement: Option<String>,
    /// Cargo `[registry] default`.
    pub cargo_default_registry: Option<String>,
    /// pip `--index-url` / `PIP_INDEX_URL` / uv `default = true` / Poetry `primary`, when not PyPI.
    pub pypi_index: Option<String>,
    /// Named Python indexes (uv, Poetry): (name, url).
    pub pypi_named: Vec<(String, String)>,
    /// Packages pinned to an index (uv `[tool.uv.sources]`): (normalised name, url).
    pub pypi_pinned: Vec<(String, String)>,
    /// The default-registry mirror serves public packages only (`mirror-is-public`).
    pub mirror_is_public: bool,
    /// `private-packages`: globs of the company's own names behind a mirror.
    pub private_packages: Vec<String>,
}

/// How a package's name may travel, decided once per package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// From the public registry: asked of the public registry and OSV.
    Public,
    /// From a scoped or named private registry: asked of that registry only, and not checked.
    Private,
    /// From a default-registry mirror (Artifactory, Nexus, devpi…), which may also serve private
    /// names: registry facts from the mirror, advisories from local OSV copies only.
    MirrorLocal,
    /// From a mirror, with permission for this name to reach the public OSV API (`mirror-is-public`,
    /// or outside `private-packages`).
    MirrorPublic,
}

impl RegistryRules {
    /// Whether `package` from `source` (declared with `registry`) comes through a default-registry
    /// mirror, and whether its name may go to the public OSV API.
    pub fn privacy(&self, package: &PackageRef, registry: Option<&str>, source: &RegistrySource) -> Privacy {
        let RegistrySource::Private { url } = source else {
            return Privacy::Public;
        };
        let mirror = match package.ecosystem {
            Ecosystem::Npm => self.npm_default.as_ref(),
            Ecosystem::CratesIo => self.cargo_replacement.as_ref().filter(|_| {
                registry
                    .or(self.cargo_default_registry.as_deref())
                    .is_none_or(|r| r == "crates-io")
            }),
            Ecosystem::PyPI => self.pypi_index.as_ref().filter(|_| registry.is_none()),
        };
        if mirror != Some(url) {
            return Privacy::Private;
        }
        if self.mirror_is_public || (!self.private_packages.is_empty() && !self.is_private_name(package)) {
            Privacy::MirrorPublic
        } else {
            Privacy::MirrorLocal
        }
    }

    /// Whether `package` matches a `private-packages` glob (`ecosystem:glob` or a bare glob). A glob
    /// that does not compile matches everything: a typo never lets names out.
    fn is_private_name(&self, package: &PackageRef) -> bool {
        self.private_packages.iter().any(|pattern| {
            let (ecosystem, glob) = match pattern.split_once(':') {
                Some((eco, glob)) if Ecosystem::from_osv_name(eco).is_some() || eco.eq_ignore_ascii_case("cargo") => {
                    let ecosystem = Ecosystem::from_osv_name(eco).unwrap_or(Ecosystem::CratesIo);
                    (Some(ecosystem), glob)
                }
                _ => (None, pattern.as_str()),
            };
            if ecosystem.is_some_and(|e| e != package.ecosystem) {
                return false;
            }
            let normalized = package.ecosystem.normalize_name(glob);
            match globset::Glob::new(&normalized) {
                Ok(glob) => glob.compile_matcher().is_match(&package.name),
                Err(_) => true,
            }
        })
    }

    /// Where a package comes from. `registry` is the dependency's own registry name, when it has one.
    /// An unknown registry name is still not the public registry: it is never asked of a public service.
    pub fn source_for(&self, package: &PackageRef, registry: Option<&str>) -> RegistrySource {
        let private = |url: &String| RegistrySource::Private { url: url.clone() };
        let find = |list: &[(String, String)], key: &str| list.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        match package.ecosystem {
            Ecosystem::Npm => {
                if let Some((scope, _)) = package.name.split_once('/')
                    && let Some(url) = find(&self.npm_scopes, scope)
                {
                    return RegistrySource::Private { url };
                }
                self.npm_default.as_ref().map_or(RegistrySource::Public, private)
            }
            Ecosystem::CratesIo => {
                let named = registry.or(self.cargo_default_registry.as_deref());
                if let Some(name) = named.filter(|n| *n != "crates-io") {
                    return RegistrySource::Private {
                        url: find(&self.cargo_registries, name).unwrap_or_else(|| format!("unknown-registry:{name}")),
                    };
                }
                self.cargo_replacement.as_ref().map_or(RegistrySource::Public, private)
            }
            Ecosystem::PyPI => {
                if let Some(name) = registry {
                    return RegistrySource::Private {
                        url: find(&self.pypi_named, name).unwrap_or_else(|| format!("unknown-index:{name}")),
                    };
                }
                if let Some(url) = find(&self.pypi_pinned, &package.name) {
                    return RegistrySource::Private { url };
                }
                self.pypi_index.as_ref().map_or(RegistrySource::Public, private)
            }
        }
    }
}

/// Everything `evaluate` reads besides facts and policy.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub manifest: &'a Parsed,
    pub lockfile: Option<&'a Lockfile>,
    /// Cargo: the workspace root manifest, for members' `workspace = true` dependencies.
    pub workspace: Option<&'a Parsed>,
    pub registries: &'a RegistryRules,
}

/// How far a dependency got checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Checked,
    Pending,
    Unavailable(String),
    Skipped(String),
}

/// How far one check got for one package. `Off` means the policy turned every finding of the check off.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CheckState {
    Checked,
    #[default]
    Pending,
    Unavailable(String),
    Skipped(String),
    Off,
    /// Done, from less than the configured sources: "advisories from the offline snapshot as of …;
    /// the OSV API failed: …". Shown as checked with that reason, and counted as not fully checked.
    Degraded(String),
}

impl CheckState {
    /// The JSON name (`"checked"`, `"unavailable"`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            CheckState::Checked | CheckState::Degraded(_) => "checked",
            CheckState::Pending => "pending",
            CheckState::Unavailable(_) => "unavailable",
            CheckState::Skipped(_) => "skipped",
            CheckState::Off => "off",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            CheckState::Unavailable(reason) | CheckState::Skipped(reason) | CheckState::Degraded(reason) => {
                Some(reason)
            }
            CheckState::Off => Some("turned off by the policy"),
            CheckState::Checked | CheckState::Pending => None,
        }
    }

    /// An enabled check that has not been done (yet).
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self,
            CheckState::Pending | CheckState::Unavailable(_) | CheckState::Degraded(_)
        )
    }
}

/// The state of each check family for one package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckStates {
    pub advisory: CheckState,
    pub age: CheckState,
    pub availability: CheckState,
    pub provenance: CheckState,
}

impl CheckStates {
    pub const NAMES: [&'static str; 4] = ["advisory", "age", "availability", "provenance"];

    fn all(state: CheckState) -> CheckStates {
        CheckStates {
            advisory: state.clone(),
            age: state.clone(),
            availability: state.clone(),
            provenance: state,
        }
    }

    /// (name, state) in a fixed order.
    pub fn iter(&self) -> [(&'static str, &CheckState); 4] {
        [
            ("advisory", &self.advisory),
            ("age", &self.age),
            ("availability", &self.availability),
            ("provenance", &self.provenance),
        ]
    }

    /// The first enabled check that could not be done, with its reason.
    pub fn first_unavailable(&self) -> Option<(&'static str, &str)> {
        self.iter().into_iter().find_map(|(name, state)| match state {
            CheckState::Unavailable(reason) => Some((name, reason.as_str())),
            _ => None,
        })
    }
}

/// The finding kinds each check family emits, for "is this check turned off".
const FAMILIES: [(&str, &[FindingKind]); 4] = [
    ("advisory", &[FindingKind::Advisory, FindingKind::Malicious]),
    ("age", &[FindingKind::FreshVersion, FindingKind::FreshPackage]),
    (
        "availability",
        &[
            FindingKind::Yanked,
            FindingKind::Deprecated,
            FindingKind::Unpublished,
            FindingKind::TakenDown,
        ],
    ),
    (
        "provenance",
        &[
            FindingKind::NoProvenance,
            FindingKind::BadProvenance,
            FindingKind::ProvenanceDowngrade,
        ],
    ),
];

fn family_off(policy: &Policy, family: &str, ecosystem: Ecosystem) -> bool {
    FAMILIES
        .iter()
        .find(|(name, _)| *name == family)
        .is_some_and(|(_, kinds)| kinds.iter().all(|kind| policy.is_off(*kind, ecosystem)))
}

fn fact_state<T>(fact: Option<&Fact<T>>) -> CheckState {
    match fact {
        Some(Fact::Known { .. }) => CheckState::Checked,
        Some(Fact::Unavailable(note)) => CheckState::Unavailable(note.message.clone()),
        Some(Fact::Pending) | None => CheckState::Pending,
    }
}

/// Each check's state for one (not skipped) package.
fn check_states(analyzed: &AnalyzedDep, facts: &Facts, policy: &Policy) -> CheckStates {
    let package = &analyzed.dep.package;
    let registry = fact_state(facts.packages.get(package));
    let advisory = if analyzed.dep.private {
        CheckState::Skipped("a private registry's packages are not sent to OSV".to_string())
    } else {
        match (
            fact_state(facts.advisories.get(package)),
            facts.advisory_caveats.get(package),
        ) {
            (CheckState::Checked, Some(caveat)) => CheckState::Degraded(caveat.clone()),
            (state, _) => state,
        }
    };
    if analyzed.privacy == Privacy::Private {
        let reason = "a private registry's package: only asked of that registry".to_string();
        return CheckStates {
            advisory,
            age: CheckState::Skipped(reason.clone()),
            availability: CheckState::Skipped(reason.clone()),
            provenance: CheckState::Skipped(reason),
        };
    }
    let provenance = match facts.packages.get(package).and_then(Fact::known) {
        _ if analyzed.privacy == Privacy::MirrorLocal => CheckState::Skipped(
            "behind a registry mirror: the name is not sent to public attestation hosts (set `mirror-is-public` or `private-packages`)"
                .to_string(),
        ),
        _ if package.ecosystem == Ecosystem::CratesIo => {
            CheckState::Skipped("crates.io publishes no provenance attestations".to_string())
        }
        Some(registry_facts) => {
            let mut state = CheckState::Checked;
            for version in checks::provenance::provenance_versions(&analyzed.dep, registry_facts) {
                let found = match facts.provenance.get(&(package.clone(), version)) {
                    Some(Fact::Known {
                        value: Provenance::Unknown { reason },
                        ..
                    }) => CheckState::Unavailable(reason.clone()),
                    other => fact_state(other),
                };
                match (&state, found) {
                    (CheckState::Unavailable(_), _) => {}
                    (_, found @ CheckState::Unavailable(_)) => state = found,
                    (CheckState::Checked, CheckState::Pending) => state = CheckState::Pending,
                    _ => {}
                }
            }
            state
        }
        None => registry.clone(),
    };
    let mut states = CheckStates {
        advisory,
        age: registry.clone(),
        availability: registry,
        provenance,
    };
    for (name, state) in [
        ("advisory", &mut states.advisory),
        ("age", &mut states.age),
        ("availability", &mut states.availability),
        ("provenance", &mut states.provenance),
    ] {
        if family_off(policy, name, package.ecosystem) {
            *state = CheckState::Off;
        }
    }
    states
}

/// The package's overall status from its checks: the first enabled check that could not be done
/// decides it.
fn overall_status(states: &CheckStates) -> Status {
    if let Some((name, reason)) = states.first_unavailable() {
        return Status::Unavailable(if name == "advisory" {
            reason.to_string()
        } else {
            format!("{name}: {reason}")
        });
    }
    if states.iter().iter().any(|(_, state)| **state == CheckState::Pending) {
        return Status::Pending;
    }
    Status::Checked
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
    pub fix: Option<Fix>,
    pub provenance: Option<Provenance>,
    /// The oldest `as_of` of a stale fact this dependency was checked with (offline).
    pub stale_as_of: Option<Timestamp>,
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

/// Cargo: the root's `[workspace.dependencies]` entry a `dep = { workspace = true }` inherits.
fn inherited<'a>(dep: &Dependency, workspace: &[&'a Dependency]) -> Option<&'a Dependency> {
    (dep.source == SourceKind::WorkspaceInherited)
        .then(|| workspace.iter().find(|w| w.name == dep.name).copied())
        .flatten()
}

fn requirement_of(
    dep: &Dependency,
    workspace: &[&Dependency],
    lockfile: Option<&Lockfile>,
) -> (Option<String>, Option<Requirement>) {
    let text = match (&dep.source, &dep.requirement) {
        (SourceKind::WorkspaceInherited, _) => inherited(dep, workspace).and_then(|w| w.requirement.clone()),
        // pnpm `catalog:`: the range is the catalog's (pnpm-workspace.yaml).
        (_, Some(text)) if text.trim_start().starts_with("catalog:") => lockfile
            .and_then(|l| l.catalog_range(&dep.package, text))
            .map(str::to_string)
            .or_else(|| Some(text.clone())),
        (_, text) => text.clone(),
    };
    let requirement = text
        .as_deref()
        .and_then(|t| Requirement::parse(dep.ecosystem, t, dep.poetry_syntax).ok());
    (text, requirement)
}

fn skip_reason(dep: &Dependency, workspace: &[&Dependency]) -> Option<String> {
    if dep.source == SourceKind::WorkspaceInherited
        && let Some(root) = workspace.iter().find(|w| w.name == dep.name)
    {
        return root.source.skip_reason();
    }
    dep.source.skip_reason()
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
            .filter(|v| !v.yanked)
            .map(|v| v.version.clone())
            .collect(),
    })
}

/// Builds the list of packages to check: direct dependencies, then lockfile packages they pull in.
/// `age` (thresholds and now) makes ranges resolve the way an installer with a cooldown would.
fn collect(input: &Input<'_>, facts: &Facts, age: Option<(&AgeThresholds, Timestamp)>) -> Vec<AnalyzedDep> {
    let manifest = input.manifest;
    let workspace: Vec<&Dependency> = manifest
        .workspace_deps
        .iter()
        .chain(input.workspace.map(|w| w.workspace_deps.as_slice()).unwrap_or_default())
        .collect();
    let mut res = Vec::new();
    for (idx, dep) in manifest.deps.iter().enumerate() {
        // Renames survive inheritance: `webpki = { workspace = true }` is whatever the root's
        // `webpki` entry names (`package = "rustls-webpki"`), from the root's registry.
        let root_entry = inherited(dep, &workspace);
        let package_name = root_entry.map_or(dep.package.as_str(), |w| w.package.as_str());
        let registry = dep
            .registry
            .as_deref()
            .or(root_entry.and_then(|w| w.registry.as_deref()));
        let package = PackageRef::new(dep.ecosystem, package_name);
        let (requirement_text, requirement) = requirement_of(dep, &workspace, input.lockfile);
        let skipped = skip_reason(dep, &workspace);
        let locked = input
            .lockfile
            .filter(|l| l.ecosystem == dep.ecosystem)
            .and_then(|l| direct_package(l, dep, package_name))
            .filter(|p| p.non_registry.is_none())
            .map(|p| p.version.clone());
        // Only a range without a lockfile pin needs the version list (and building it clones every
        // version string), so pinned and locked dependencies skip it on the warm path.
        let pinned = requirement_text
            .as_deref()
            .is_some_and(|text| resolve::exact_pin(dep.ecosystem, text).is_some());
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
        let source = input.registries.source_for(&package, registry);
        let privacy = input.registries.privacy(&package, registry, &source);
        res.push(AnalyzedDep {
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
            checks: match &skipped {
                Some(reason) => CheckStates::all(CheckState::Skipped(reason.clone())),
                None => CheckStates::default(),
            },
            status: match skipped {
                Some(reason) => Status::Skipped(reason),
                None => Status::Checked,
            },
            fix: None,
            provenance: None,
            stale_as_of: None,
        });
    }
    if let Some(lockfile) = input.lockfile {
        collect_transitive(manifest, lockfile, input.registries, &mut res);
    }
    res
}

/// The lockfile entry a direct dependency installs: by the name it is declared under (npm aliases
/// are installed under it), else by the registry name (Cargo renames), for the lockfile's member.
fn direct_index(lockfile: &Lockfile, dep: &Dependency, package: &str) -> Option<usize> {
    let requirement = dep.requirement.as_deref();
    lockfile.direct(&dep.name, requirement).or_else(|| {
        (package != dep.name)
            .then(|| lockfile.direct(package, requirement))
            .flatten()
    })
}

fn direct_package<'a>(
    lockfile: &'a Lockfile,
    dep: &Dependency,
    package: &str,
) -> Option<&'a crate::manifest::LockedPackage> {
    direct_index(lockfile, dep, package).and_then(|idx| lockfile.packages.get(idx))
}

/// Walks the lockfile graph breadth-first from each direct dependency, so each transitive package is
/// reported once, on the first (shortest) path that reaches it.
fn collect_transitive(manifest: &Parsed, lockfile: &Lockfile, registries: &RegistryRules, acc: &mut Vec<AnalyzedDep>) {
    let mut seen: HashSet<usize> = HashSet::new();
    let mut queue: VecDeque<(usize, usize, Vec<String>)> = VecDeque::new();
    for (direct, dep) in manifest.deps.iter().enumerate() {
        if dep.ecosystem != lockfile.ecosystem || dep.source.skip_reason().is_some() {
            continue;
        }
        let package = acc
            .get(direct)
            .map_or(dep.package.as_str(), |a| a.dep.package.name.as_str());
        let Some(pkg_idx) = direct_index(lockfile, dep, package) else {
            continue;
        };
        if !seen.insert(pkg_idx) {
            continue;
        }
        queue.push_back((pkg_idx, direct, vec![dep.name.clone()]));
    }
    let mut checked: HashSet<(String, String)> = HashSet::new();
    while let Some((pkg_idx, direct, path)) = queue.pop_front() {
        let Some(package) = lockfile.packages.get(pkg_idx) else {
            continue;
        };
        for child_idx in &package.dependencies {
            if !seen.insert(*child_idx) {
                continue;
            }
            let Some(child) = lockfile.packages.get(*child_idx) else {
                continue;
            };
            let mut child_path = path.clone();
            child_path.push(child.name.clone());
            queue.push_back((*child_idx, direct, child_path.clone()));
            if child.non_registry.is_some() || !checked.insert((child.name.clone(), child.version.clone())) {
                continue;
            }
            let Some(declaring) = manifest.deps.get(direct) else {
                continue;
            };
            let child_ref = PackageRef::new(lockfile.ecosystem, &child.name);
            let source = registries.source_for(&child_ref, None);
            let privacy = registries.privacy(&child_ref, None, &source);
            acc.push(AnalyzedDep {
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
                status: Status::Checked,
                checks: CheckStates::default(),
                fix: None,
                provenance: None,
                stale_as_of: None,
            });
        }
    }
}

/// The facts an evaluation of `input` is missing from `facts`.
pub fn needs(input: &Input<'_>, facts: &Facts) -> Vec<Query> {
    let mut res = Vec::new();
    let mut seen = HashSet::new();
    for analyzed in collect(input, facts, None) {
        if matches!(analyzed.status, Status::Skipped(_)) {
            continue;
        }
        let package = analyzed.dep.package.clone();
        if package.name.is_empty() {
            continue;
        }
        if !facts.packages.contains_key(&package) {
            let query = Query::Package {
                package: package.clone(),
                source: analyzed.source.clone(),
            };
            if seen.insert(query.clone()) {
                res.push(query);
            }
        }
        if !facts.advisories.contains_key(&package) {
            let query = match analyzed.privacy {
                Privacy::Public | Privacy::MirrorPublic => Some(Query::Advisories {
                    package: package.clone(),
                }),
                // The name must not leave the machine: local OSV copies only.
                Privacy::MirrorLocal => Some(Query::LocalAdvisories {
                    package: package.clone(),
                }),
                Privacy::Private => None,
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
                .and_then(|v| v.published)
                .is_some_and(|published| as_of.duration_since(published) < checks::signals::ADDED_LOOKUP_WINDOW)
        {
            for name in checks::signals::added_dependencies(package.ecosystem, value, version) {
                let added = PackageRef::new(package.ecosystem, &name);
                if added.name.is_empty() || facts.packages.contains_key(&added) {
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
                if facts.provenance.contains_key(&(package.clone(), version.clone())) {
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

/// `evaluate`, reusing the solver's earlier answers from `memo` where they still hold (see `fix::Memo`):
/// what an editor calls on every keystroke, so only the dependency an edit touched is solved again.
pub fn evaluate_memoized(
    input: &Input<'_>,
    facts: &std::sync::Arc<Facts>,
    policy: &Policy,
    now: Timestamp,
    memo: &mut fix::Memo,
) -> Analysis {
    memo.begin(facts, policy);
    evaluate_inner(input, facts, policy, now, Some(memo))
}

fn evaluate_inner(
    input: &Input<'_>,
    facts: &Facts,
    policy: &Policy,
    now: Timestamp,
    mut memo: Option<&mut fix::Memo>,
) -> Analysis {
    let mut analysis = Analysis {
        deps: collect(input, facts, Some((&policy.age, now))),
        syntax: input.manifest.issues.clone(),
        ..Analysis::default()
    };
    if let Some(lockfile) = input.lockfile {
        analysis.syntax.extend(lockfile.issues.iter().map(|issue| SyntaxIssue {
            span: Span::default(),
            message: format!("lockfile: {}", issue.message),
        }));
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
        analyzed.checks = check_states(analyzed, facts, policy);
        analyzed.status = overall_status(&analyzed.checks);
        if analyzed.dep.private {
            continue;
        }
        if let Some(Fact::Unavailable(note)) = facts.packages.get(package)
            && note_messages.insert(note.message.clone())
        {
            unavailable_registry.push((package.name.clone(), note.message.clone()));
            notes.push(note.clone());
        }
        analyzed.stale_as_of = oldest_stale(facts, package);
        if let Some(version) = &analyzed.dep.resolved.version {
            analyzed.provenance = facts
                .provenance
                .get(&(package.clone(), version.clone()))
                .and_then(Fact::known)
                .cloned();
        }
        if let CheckState::Unavailable(reason) = &analyzed.checks.advisory
            && analyzed.direct.is_some()
            && !analyzed.is_transitive()
        {
            raw.push(Finding::of_kind(
                dep_idx,
                analyzed.dep.span,
                FindingKind::Unchecked,
                Severity::Information,
                format!("could not check {} for advisories: {reason}", package.name),
                Vec::new(),
            ));
        }
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
        checks::run_all(&ctx, dep_idx, &analyzed.dep, &mut raw);
        if let Some(floor_ctx) = &floor_ctx {
            checks::run_all(floor_ctx, dep_idx, &analyzed.dep, &mut raw_floor);
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

    let mut by_dep: HashMap<usize, Vec<&Finding>> = HashMap::new();
    for finding in &analysis.findings {
        by_dep.entry(finding.dep).or_default().push(finding);
    }
    let mut fixes = Vec::new();
    for (dep_idx, findings) in by_dep {
        let Some(analyzed) = analysis.deps.get(dep_idx) else {
            continue;
        };
        if !findings.iter().any(|f| fix::wants_fix(f.kind)) {
            continue;
        }
        let lockfile = input.lockfile.map(|l| l.kind);
        let fix = match lockfile {
            Some(kind) if analyzed.is_transitive() => {
                fix::solve_transitive(&ctx, policy, &analyzed.dep, &findings, kind)
            }
            _ if analyzed.is_transitive() => continue,
            _ => match memo.as_deref_mut() {
                Some(memo) => memo.solve(&ctx, policy, &analyzed.dep, &findings, lockfile),
                None => fix::solve(&ctx, policy, &analyzed.dep, &findings, lockfile),
            },
        };
        fixes.push((dep_idx, fix));
    }
    for (dep_idx, fix) in fixes {
        if let Some(analyzed) = analysis.deps.get_mut(dep_idx) {
            analyzed.fix = Some(fix);
        }
    }
    analysis
        .findings
        .sort_by(|a, b| (a.span.start, a.severity, a.kind, &a.id).cmp(&(b.span.start, b.severity, b.kind, &b.id)));
    analysis
}
