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
}

impl RegistryRules {
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

/// One checked package: a direct dependency or a transitive one from the lockfile.
#[derive(Debug, Clone)]
pub struct AnalyzedDep {
    /// Index into `Parsed::deps` of the declaring (or pulling-in) direct dependency.
    pub direct: Option<usize>,
    pub dep: ResolvedDep,
    pub name_span: Span,
    pub kind: DepKind,
    pub source: RegistrySource,
    pub status: Status,
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

fn requirement_of(dep: &Dependency, workspace: &[&Dependency]) -> (Option<String>, Option<Requirement>) {
    let text = match (&dep.source, &dep.requirement) {
        (SourceKind::WorkspaceInherited, _) => workspace
            .iter()
            .find(|w| w.name == dep.name)
            .and_then(|w| w.requirement.clone()),
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
        let package = PackageRef::new(dep.ecosystem, &dep.package);
        let (requirement_text, requirement) = requirement_of(dep, &workspace);
        let skipped = skip_reason(dep, &workspace);
        let locked = input
            .lockfile
            .filter(|l| l.ecosystem == dep.ecosystem)
            .and_then(|l| l.root_version(&dep.name))
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
        let source = input.registries.source_for(&package, dep.registry.as_deref());
        res.push(AnalyzedDep {
            direct: Some(idx),
            dep: ResolvedDep {
                private: source != RegistrySource::Public,
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

/// Walks the lockfile graph breadth-first from each direct dependency, so each transitive package is
/// reported once, on the first (shortest) path that reaches it.
fn collect_transitive(manifest: &Parsed, lockfile: &Lockfile, registries: &RegistryRules, acc: &mut Vec<AnalyzedDep>) {
    let mut seen: HashSet<usize> = HashSet::new();
    let mut queue: VecDeque<(usize, usize, Vec<String>)> = VecDeque::new();
    for (name, pkg_idx) in &lockfile.roots {
        let Some(direct) = manifest.deps.iter().position(|d| &d.name == name) else {
            continue;
        };
        seen.insert(*pkg_idx);
        queue.push_back((*pkg_idx, direct, vec![name.clone()]));
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
            let source = registries.source_for(&PackageRef::new(lockfile.ecosystem, &child.name), None);
            acc.push(AnalyzedDep {
                direct: Some(direct),
                dep: ResolvedDep {
                    private: source != RegistrySource::Public,
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
        if analyzed.source == RegistrySource::Public && !facts.advisories.contains_key(&package) {
            let query = Query::Advisories {
                package: package.clone(),
            };
            if seen.insert(query.clone()) {
                res.push(query);
            }
        }
        // The packages a fresh version added as dependencies: whether they are new, have few
        // versions or do not exist weighs in `checks::signals`. Only while the version is young at
        // fetch time, so old releases cost no request.
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
        if analyzed.dep.private {
            analyzed.status = match facts.packages.get(package) {
                Some(Fact::Unavailable(note)) => Status::Unavailable(note.message.clone()),
                Some(Fact::Pending) | None => Status::Pending,
                Some(Fact::Known { .. }) => Status::Checked,
            };
            continue;
        }
        analyzed.status = match facts.advisories.get(package) {
            Some(Fact::Known { .. }) => Status::Checked,
            Some(Fact::Unavailable(note)) => Status::Unavailable(note.message.clone()),
            Some(Fact::Pending) | None => Status::Pending,
        };
        if let Some(Fact::Unavailable(note)) = facts.packages.get(package)
            && !notes.iter().any(|n| n.message == note.message)
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
        if let Status::Unavailable(reason) = &analyzed.status
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
        checks::run_all(&ctx, dep_idx, &analyzed.dep, &mut raw);
        if let Some(floor_ctx) = &floor_ctx {
            checks::run_all(floor_ctx, dep_idx, &analyzed.dep, &mut raw_floor);
        }
    }
    // One note for many packages whose registry data is missing, not one line each.
    if unavailable_registry.len() > 1 {
        notes.retain(|n| !unavailable_registry.iter().any(|(_, m)| *m == n.message));
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
        if analyzed.is_transitive() || !findings.iter().any(|f| fix::wants_fix(f.kind)) {
            continue;
        }
        let lockfile = input.lockfile.map(|l| l.kind);
        let fix = match memo.as_deref_mut() {
            Some(memo) => memo.solve(&ctx, policy, &analyzed.dep, &findings, lockfile),
            None => fix::solve(&ctx, policy, &analyzed.dep, &findings, lockfile),
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
