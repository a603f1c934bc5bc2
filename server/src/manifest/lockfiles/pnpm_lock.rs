//! `pnpm-lock.yaml` (lockfile versions 5.x, 6.x and 9.x) → every locked package with its dependency
//! edges, the root's and each workspace member's (`importers`) direct dependencies, and the
//! catalogs; `pnpm-workspace.yaml` → member globs, catalogs and overrides.
//!
//! Invariants:
//! - Read with `serde_yaml_ng` (the maintained fork of `serde_yaml`, already used for Dependabot and
//!   Renovate settings) into `lenient_struct!`s: a field of the wrong type is empty, never an error
//!   that loses the file. Spans come from a line scan of the `packages:`/`snapshots:` sections (`yaml_entry_spans`).
//! - Package keys differ by version: 5.x `/name/1.2.3_peer@1.0.0`, 6.x `/name@1.2.3(peer@1.0.0)`,
//!   9.x `name@1.2.3(peer@1.0.0)` with the metadata under `packages` and the edges under `snapshots`
//!   (one locked package per snapshot, so each peer variant keeps its own edges).
//! - A dependency reference is a version (`1.2.3`, `1.2.3(peer@1)`, `1.2.3_peer@1`), a full key for
//!   an npm alias (`/real/1.0.0`, `/real@1.0.0`, `real@1.0.0`), `link:` (a workspace member: no
//!   package) or a non-registry key (tarball, git).
//! - Packages resolved from git, a directory or a tarball outside the registry, and keys that are
//!   not registry keys, are `non_registry`.

use crate::manifest::lockfiles::{
    FastMap as HashMap, Lenient, Scalar, http_source, lenient_struct, split_spec, yaml_entry_spans, yaml_issue,
};
use crate::manifest::{LockedPackage, Lockfile, ManifestKind};
use crate::model::{Ecosystem, Span};

lenient_struct!(PnpmLock {
    lockfile_version: Scalar = "lockfileVersion",
    importers: Lenient<Importer> = "importers",
    // 5.x and 6.x single-project lockfiles keep the root's tables at the top level.
    dependencies: Lenient<DepRef> = "dependencies",
    dev_dependencies: Lenient<DepRef> = "devDependencies",
    optional_dependencies: Lenient<DepRef> = "optionalDependencies",
    packages: Lenient<Package> = "packages",
    snapshots: Lenient<Snapshot> = "snapshots",
    catalogs: Lenient<Lenient<DepRef>> = "catalogs",
});

lenient_struct!(Importer {
    dependencies: Lenient<DepRef> = "dependencies",
    dev_dependencies: Lenient<DepRef> = "devDependencies",
    optional_dependencies: Lenient<DepRef> = "optionalDependencies",
});

// 5.x: `name: 1.2.3`; 6.x and later: `name: { specifier: ^1.2.0, version: 1.2.3 }`.
lenient_struct!(DepRef scalar = version {
    specifier: Scalar = "specifier",
    version: Scalar = "version",
});

impl DepRef {
    fn version(&self) -> &str {
        self.version.as_str()
    }

    fn specifier(&self) -> &str {
        self.specifier.as_str()
    }
}

lenient_struct!(Package {
    resolution: Resolution = "resolution",
    name: Scalar = "name",
    version: Scalar = "version",
    dependencies: Lenient<Scalar> = "dependencies",
    optional_dependencies: Lenient<Scalar> = "optionalDependencies",
    dev: Scalar = "dev",
    optional: Scalar = "optional",
});

lenient_struct!(Resolution {
    integrity: Scalar = "integrity",
    tarball: Scalar = "tarball",
    repo: Scalar = "repo",
    commit: Scalar = "commit",
    directory: Scalar = "directory",
    kind: Scalar = "type",
});

lenient_struct!(Snapshot {
    dependencies: Lenient<Scalar> = "dependencies",
    optional_dependencies: Lenient<Scalar> = "optionalDependencies",
    optional: Scalar = "optional",
});

/// Key grammar by lockfile version.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    /// 5.x: `/name/1.2.3_peer@1`.
    Slash,
    /// 6.x: `/name@1.2.3(peer@1)`.
    SlashAt,
    /// 9.x: `name@1.2.3(peer@1)`.
    At,
}

pub fn parse(text: &str) -> Lockfile {
    let mut res = Lockfile::new(ManifestKind::PnpmLock, Ecosystem::Npm);
    let lock: PnpmLock = match crate::manifest::lockfiles::read_yaml::<Option<PnpmLock>>(text) {
        Ok(lock) => lock.unwrap_or_default(),
        Err(error) => {
            res.issues.push(yaml_issue(text, &error));
            return res;
        }
    };
    let major: u32 = lock
        .lockfile_version
        .as_str()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|major| major.parse().ok())
        .unwrap_or(9);
    let style = match major {
        0..=5 => Style::Slash,
        6..=8 => Style::SlashAt,
        _ => Style::At,
    };
    let package_spans = yaml_entry_spans(text, "packages");
    let snapshot_spans = yaml_entry_spans(text, "snapshots");
    let metadata: HashMap<&str, &Package> = lock.packages.0.iter().map(|(key, p)| (key.as_str(), p)).collect();

    // One locked package per snapshot (9.x) or per package entry (5.x, 6.x).
    struct Entry<'a> {
        key: &'a str,
        dependencies: Vec<(&'a str, &'a str)>,
    }
    let mut entries: Vec<Entry<'_>> = Vec::new();
    if style == Style::At && !lock.snapshots.0.is_empty() {
        let mut covered = std::collections::HashSet::<&str, foldhash::fast::RandomState>::default();
        for (key, snapshot) in &lock.snapshots.0 {
            covered.insert(strip_peers(key, style));
            entries.push(Entry {
                key,
                dependencies: edges(&snapshot.dependencies, &snapshot.optional_dependencies),
            });
            let meta = metadata.get(strip_peers(key, style));
            let package = locked(key, meta.copied(), style, text, &package_spans, &snapshot_spans);
            let mut package = package;
            package.optional |= snapshot.optional.is_true();
            res.packages.push(package);
        }
        for (key, package) in &lock.packages.0 {
            if !covered.contains(key.as_str()) {
                entries.push(Entry {
                    key,
                    dependencies: edges(&package.dependencies, &package.optional_dependencies),
                });
                res.packages
                    .push(locked(key, Some(package), style, text, &package_spans, &snapshot_spans));
            }
        }
    } else {
        for (key, package) in &lock.packages.0 {
            entries.push(Entry {
                key,
                dependencies: edges(&package.dependencies, &package.optional_dependencies),
            });
            res.packages
                .push(locked(key, Some(package), style, text, &package_spans, &snapshot_spans));
        }
    }

    let mut index: HashMap<&str, usize> = HashMap::with_capacity_and_hasher(entries.len() * 2, Default::default());
    // The same keys split into (name, version), so the common reference (a version, 6.x and 9.x)
    // resolves without building a key string; anything else goes through `resolve_reference`.
    let mut by_pair: HashMap<(&str, &str), usize> =
        HashMap::with_capacity_and_hasher(entries.len() * 2, Default::default());
    for (idx, entry) in entries.iter().enumerate() {
        for key in [entry.key, strip_peers(entry.key, style)] {
            index.entry(key).or_insert(idx);
            let base = match style {
                Style::SlashAt => key.strip_prefix('/'),
                Style::At => Some(key),
                Style::Slash => None,
            };
            if let Some((name, version)) = base.and_then(split_spec) {
                by_pair.entry((name, version)).or_insert(idx);
            }
        }
    }
    let find = |name: &str, reference: &str| -> Option<usize> {
        let trimmed = reference.trim();
        let plain_version = match style {
            Style::At => split_spec(strip_peers(trimmed, style)).is_none(),
            Style::SlashAt => !trimmed.starts_with('/'),
            Style::Slash => false,
        };
        // `name@reference` splits back into exactly (name, reference) when the name has no `@` but a
        // scope's first character, and no `(`.
        let name_splits = name.get(1..).is_some_and(|rest| !rest.contains('@')) && !name.contains('(');
        if plain_version && name_splits && !trimmed.is_empty() && !trimmed.starts_with("link:") {
            // `resolve_reference` tries `name@reference`, then it without peers, first.
            let fast = by_pair
                .get(&(name, trimmed))
                .or_else(|| by_pair.get(&(name, strip_peers(trimmed, style))));
            if let Some(idx) = fast {
                return Some(*idx);
            }
        }
        resolve_reference(&index, style, name, reference)
    };
    for (idx, entry) in entries.iter().enumerate() {
        let mut dependencies: Vec<usize> = Vec::new();
        for (name, reference) in &entry.dependencies {
            if let Some(found) = find(name, reference)
                && found != idx
                && !dependencies.contains(&found)
            {
                dependencies.push(found);
            }
        }
        if let Some(package) = res.packages.get_mut(idx) {
            package.dependencies = dependencies;
        }
    }

    // A `link:` reference installs a local folder (a workspace member, or a `link:` dependency) in
    // place of the registry's package, whatever range the manifest declares (vitest-dev/vitest's
    // `overrides: { vitest: workspace:* }` turns its examples' `"vitest": "latest"` into a link): it
    // becomes a local entry, so the engine skips it instead of resolving the range at the registry.
    let mut links: Vec<LockedPackage> = Vec::new();
    let mut roots_of = |importer: &Importer| -> Vec<(String, usize)> {
        let mut roots: Vec<(String, usize)> = Vec::new();
        for (name, reference) in importer
            .dependencies
            .0
            .iter()
            .chain(&importer.dev_dependencies.0)
            .chain(&importer.optional_dependencies.0)
        {
            if roots.iter().any(|(root, _)| root == name) {
                continue;
            }
            if let Some(target) = reference.version().trim().strip_prefix("link:") {
                roots.push((name.clone(), entries.len() + links.len()));
                links.push(LockedPackage {
                    name: name.clone(),
                    version: String::new(),
                    dependencies: Vec::new(),
                    non_registry: Some(format!("workspace link to {}", target.trim())),
                    dev: false,
                    optional: false,
                    span: Span::new(0, 0),
                    integrity: None,
                    fetched_from: None,
                });
            } else if let Some(idx) = find(name, reference.version()) {
                roots.push((name.clone(), idx));
            }
        }
        roots
    };
    let mut importers = Vec::new();
    let mut roots = Vec::new();
    for (path, importer) in &lock.importers.0 {
        let path = crate::manifest::normalize_importer(path);
        if path.is_empty() {
            roots = roots_of(importer);
        } else {
            importers.push((path.to_string(), roots_of(importer)));
        }
    }
    if lock.importers.0.is_empty() {
        roots = roots_of(&Importer {
            dependencies: lock.dependencies,
            dev_dependencies: lock.dev_dependencies,
            optional_dependencies: lock.optional_dependencies,
        });
    }
    debug_assert_eq!(res.packages.len(), entries.len());
    res.packages.extend(links);
    res.roots = roots;
    res.importers = importers;
    for (catalog, entries) in &lock.catalogs.0 {
        for (name, reference) in &entries.0 {
            if !reference.specifier().is_empty() {
                res.catalogs
                    .push((catalog.clone(), name.clone(), reference.specifier().to_string()));
            }
        }
    }
    res
}

fn edges<'a>(dependencies: &'a Lenient<Scalar>, optional: &'a Lenient<Scalar>) -> Vec<(&'a str, &'a str)> {
    dependencies
        .0
        .iter()
        .chain(&optional.0)
        .map(|(name, reference)| (name.as_str(), reference.as_str()))
        .collect()
}

/// `name@1.2.3(peer@1)` → `name@1.2.3`; 5.x `/name/1.2.3_peer@1` → `/name/1.2.3`.
fn strip_peers(key: &str, style: Style) -> &str {
    match style {
        Style::Slash => {
            // The version is the segment after the name; its peer suffix starts at `_`.
            let name_segments = if key.trim_start_matches('/').starts_with('@') {
                2
            } else {
                1
            };
            let leading = usize::from(key.starts_with('/'));
            let mut seen = 0;
            for (at, ch) in key.char_indices().skip(leading) {
                if ch == '/' {
                    seen += 1;
                }
                if seen == name_segments && ch == '_' {
                    return &key[..at];
                }
            }
            key
        }
        Style::SlashAt | Style::At => key.find('(').map_or(key, |at| &key[..at]),
    }
}

/// The entry a dependency reference names.
fn resolve_reference(index: &HashMap<&str, usize>, style: Style, name: &str, reference: &str) -> Option<usize> {
    let reference = reference.trim();
    if reference.is_empty() || reference.starts_with("link:") {
        return None;
    }
    let mut candidates: Vec<String> = Vec::with_capacity(3);
    match style {
        Style::Slash => {
            if !reference.starts_with('/') {
                candidates.push(format!("/{name}/{reference}"));
            }
        }
        Style::SlashAt => {
            if !reference.starts_with('/') {
                candidates.push(format!("/{name}@{reference}"));
            }
        }
        Style::At => {
            // An npm alias names the real package: `real@1.0.0`.
            let base = strip_peers(reference, style);
            if split_spec(base).is_none() {
                candidates.push(format!("{name}@{reference}"));
            }
        }
    }
    candidates.push(reference.to_string());
    candidates.push(format!("{name}@{reference}"));
    candidates.iter().find_map(|key| {
        index
            .get(key.as_str())
            .or_else(|| index.get(strip_peers(key, style)))
            .copied()
    })
}

/// Name and version of a registry key, or `None` for a key that is not one.
fn name_version(key: &str, style: Style) -> Option<(String, String)> {
    let base = strip_peers(key, style);
    match style {
        Style::Slash => {
            let rest = base.strip_prefix('/')?;
            let (name, version) = rest.rsplit_once('/')?;
            (!name.is_empty() && is_plain_version(version)).then(|| (name.to_string(), version.to_string()))
        }
        Style::SlashAt | Style::At => {
            let rest = if style == Style::SlashAt {
                base.strip_prefix('/')?
            } else {
                base
            };
            let (name, version) = split_spec(rest)?;
            (!name.is_empty() && is_plain_version(version)).then(|| (name.to_string(), version.to_string()))
        }
    }
}

fn is_plain_version(version: &str) -> bool {
    !version.is_empty() && version.starts_with(|c: char| c.is_ascii_digit()) && !version.contains([':', '/', '#', ' '])
}

fn locked(
    key: &str,
    meta: Option<&Package>,
    style: Style,
    text: &str,
    package_spans: &HashMap<String, Span>,
    snapshot_spans: &HashMap<String, Span>,
) -> LockedPackage {
    let parsed = name_version(key, style);
    let meta_name = meta.map(|p| p.name.as_str()).filter(|n| !n.is_empty());
    let meta_version = meta.map(|p| p.version.as_str()).filter(|v| !v.is_empty());
    let (name, version) = match (&parsed, meta_name, meta_version) {
        (_, Some(name), Some(version)) => (name.to_string(), version.to_string()),
        (Some((name, version)), _, _) => (name.clone(), version.clone()),
        (None, name, version) => (
            name.map(str::to_string)
                .or_else(|| split_spec(key.trim_start_matches('/')).map(|(n, _)| n.to_string()))
                .unwrap_or_else(|| key.to_string()),
            version.unwrap_or_default().to_string(),
        ),
    };
    let (from_resolution, fetched_from) = meta.map_or((None, None), |p| source(&p.resolution, &name, &version));
    let non_registry = from_resolution.or_else(|| {
        parsed
            .is_none()
            .then(|| format!("package from outside the registry ({key})"))
    });
    let span = package_spans
        .get(strip_peers(key, style))
        .or_else(|| package_spans.get(key))
        .or_else(|| snapshot_spans.get(key))
        .copied()
        .unwrap_or(Span::new(0, 0));
    debug_assert!(span.end <= text.len());
    LockedPackage {
        name,
        version,
        dependencies: Vec::new(),
        non_registry,
        fetched_from,
        dev: meta.is_some_and(|p| p.dev.is_true()),
        optional: meta.is_some_and(|p| p.optional.is_true()),
        span,
        integrity: meta
            .map(|p| p.resolution.integrity.as_str().to_string())
            .filter(|i| !i.is_empty()),
    }
}

/// Why a package is not from the registry (if it is not), and where it is downloaded from when the
/// resolution says. A `tarball:` is the registry only when shaped like the registry's tarball of
/// `name@version` (whether its host is the package's registry is `engine`'s to decide), whatever
/// integrity it carries: pnpm writes one for any tarball it downloaded.
fn source(resolution: &Resolution, name: &str, version: &str) -> (Option<String>, Option<String>) {
    let kind = resolution.kind.as_str();
    if kind == "directory" || !resolution.directory.as_str().is_empty() {
        return (
            Some(format!("local path dependency ({})", resolution.directory.as_str())),
            None,
        );
    }
    let repo = resolution.repo.as_str();
    if kind == "git" || !repo.is_empty() || !resolution.commit.as_str().is_empty() {
        return (
            Some(format!("git dependency ({repo})")),
            Some(repo.to_string()).filter(|r| !r.is_empty()),
        );
    }
    let tarball = resolution.tarball.as_str();
    if tarball.is_empty() {
        return (None, None);
    }
    match http_source(name, version, tarball) {
        Some((url, why)) => (why, Some(url)),
        None if tarball.starts_with("file:") => (Some(format!("local tarball ({tarball})")), None),
        None => (Some(format!("tarball dependency ({tarball})")), None),
    }
}

/// What `pnpm-workspace.yaml` declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workspace {
    /// Member globs (`packages/*`, `!**/test/**`).
    pub packages: Vec<String>,
    /// (catalog, package, range); the unnamed `catalog` is `default`.
    pub catalogs: Vec<(String, String, String)>,
    /// Whether the file defines `catalog` (not null): the default catalog's first spelling.
    pub has_catalog: bool,
    /// Whether the file defines `catalogs.default` (not null): its second spelling (pnpm refuses both).
    pub has_catalogs_default: bool,
    /// Whether the file has an `overrides` entry (pnpm 10 and later read it).
    pub has_overrides: bool,
}

lenient_struct!(WorkspaceFile {
    packages: Vec<Scalar> = "packages",
    catalog: Option<Lenient<Scalar>> = "catalog",
    catalogs: Lenient<Option<Lenient<Scalar>>> = "catalogs",
    overrides: Option<serde::de::IgnoredAny> = "overrides",
});

/// Reads `pnpm-workspace.yaml`; a file that does not parse declares nothing (and says so).
pub fn parse_workspace(text: &str) -> Result<Workspace, String> {
    let file = crate::manifest::lockfiles::read_yaml::<Option<WorkspaceFile>>(text)
        .map_err(|error| format!("invalid pnpm-workspace.yaml: {error}"))?
        .unwrap_or_default();
    let mut res = Workspace {
        packages: file
            .packages
            .into_iter()
            .map(|glob| glob.0)
            .filter(|g| !g.is_empty())
            .collect(),
        catalogs: Vec::new(),
        has_catalog: file.catalog.is_some(),
        has_catalogs_default: file
            .catalogs
            .0
            .iter()
            .any(|(name, entries)| name == "default" && entries.is_some()),
        has_overrides: file.overrides.is_some(),
    };
    for (name, range) in file.catalog.unwrap_or_default().0 {
        res.catalogs.push(("default".to_string(), name, range.0));
    }
    for (catalog, entries) in file.catalogs.0 {
        for (name, range) in entries.unwrap_or_default().0 {
            res.catalogs.push((catalog.clone(), name, range.0));
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests;
