//! Manifest and lockfile text → `Parsed` / `Lockfile`, with tree-sitter, incrementally as the user types.
//!
//! Invariants:
//! - `parse` never fails and never panics. tree-sitter `ERROR`/`MISSING` nodes become `SyntaxIssue`s on
//!   their exact span, and every dependency outside the damaged region is still returned.
//! - Every span is a byte range inside the text, on char boundaries. Name and requirement have separate
//!   spans, because fixes edit only the requirement.
//! - The requirement is recorded verbatim with its source kind; version semantics belong to `resolve`.
//! - An incremental reparse (`SourceFile::edit`) gives exactly what a fresh parse gives.
//! - File-name detection lives here only (`ManifestKind::detect`).
//!
//! No IO: `-r` includes and workspace roots are returned as paths for the caller to read.

use std::collections::HashMap;

use crate::model::{Ecosystem, Span};

pub use crate::model::ManifestKind;

/// Which dependency table a dependency was declared in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DepKind {
    Normal,
    Dev,
    Build,
    Optional,
    Peer,
    /// A named group: PEP 621 optional-dependencies extra, PEP 735 group, Poetry group.
    Group(String),
    /// A version the project forces on its package wherever the tree pulls it in, or a dependency it
    /// adds to another package: npm `overrides`, Yarn `resolutions`, pnpm `overrides` and
    /// `packageExtensions` (package.json or `pnpm-workspace.yaml`), Cargo `[patch]` and `[replace]`.
    /// Not a root of the lockfile walk, and not a direct dependency.
    Override,
}

/// Where a dependency comes from, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Registry,
    /// npm `npm:other@^1` alias; Cargo `package = "other"` rename. The real package is `Dependency::package`.
    Alias,
    Git(String),
    Path(String),
    Url(String),
    /// npm `workspace:` protocol.
    Workspace,
    /// Cargo `workspace = true`: the requirement comes from the workspace root's `[workspace.dependencies]`.
    WorkspaceInherited,
    /// Something the package manager installs that Gatehouse cannot read (why): never clean.
    Unread(String),
}

impl SourceKind {
    /// Why a dependency of this source is not looked up, if it is not.
    pub fn skip_reason(&self) -> Option<String> {
        match self {
            SourceKind::Registry | SourceKind::Alias | SourceKind::WorkspaceInherited => None,
            SourceKind::Git(url) => Some(format!("git dependency ({url}) is not checked against a registry")),
            SourceKind::Path(path) => Some(format!("local path dependency ({path}) is not checked")),
            SourceKind::Url(url) => Some(format!("URL dependency ({url}) is not checked against a registry")),
            SourceKind::Workspace => Some("workspace package is not checked against a registry".to_string()),
            SourceKind::Unread(why) => Some(why.clone()),
        }
    }
}

/// One dependency declared in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub ecosystem: Ecosystem,
    /// The key as written (the local name for npm aliases and Cargo renames).
    pub name: String,
    /// The real package name on the registry (after `npm:` alias / Cargo `package =`).
    pub package: String,
    pub name_span: Span,
    /// The version requirement text, verbatim (without quotes); `None` when there is none.
    pub requirement: Option<String>,
    /// The span of the requirement text (inside the quotes).
    pub requirement_span: Option<Span>,
    pub kind: DepKind,
    pub source: SourceKind,
    /// A custom registry named on the dependency (Cargo `registry = "…"`).
    pub registry: Option<String>,
    /// Python: `true` when the requirement uses Poetry's constraint syntax.
    pub poetry_syntax: bool,
    /// Python: extras and environment marker, verbatim.
    pub extras: Vec<String>,
    pub marker: Option<String>,
}

impl Dependency {
    /// The span a finding on this dependency is shown on: the requirement, else the name.
    pub fn finding_span(&self) -> Span {
        self.requirement_span.unwrap_or(self.name_span)
    }
}

/// A syntax problem, on its exact span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxIssue {
    pub span: Span,
    pub message: String,
}

/// A file named by a manifest that the caller should read too (requirements `-r`/`-c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub path: String,
    pub span: Span,
    /// `-c` constraints files: they constrain but add no dependencies.
    pub constraint: bool,
}

/// One entry of a pip constraints file (`-c`): every package pip installs under that name, listed or
/// pulled in, must satisfy it; the entry itself adds nothing to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// The name as written.
    pub name: String,
    /// The name as pip compares it (PEP 503, `Ecosystem::PyPI.normalize_name`), computed once: the
    /// editor matches every dependency against every entry on each keystroke.
    pub key: String,
    /// The version specifier as written (`==2.19.0`, `<3,>=2`); `None` when the entry names none.
    pub requirement: Option<String>,
    /// `Registry`, or the URL, VCS or path the entry says the package comes from.
    pub source: SourceKind,
    /// The PEP 508 marker, when the entry applies only in some environments.
    pub marker: Option<String>,
    /// Where the entry is, for people: `constraints.txt:3`.
    pub origin: String,
}

/// Whether an include names a URL (pip fetches `-r`/`-c https://…`); such a file is never read.
pub fn is_remote_include(path: &str) -> bool {
    let lower = path.trim().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("ftp://")
}

/// What a manifest declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub kind: ManifestKind,
    pub deps: Vec<Dependency>,
    pub issues: Vec<SyntaxIssue>,
    pub includes: Vec<Include>,
    /// pip `--index-url` / `--extra-index-url` lines (requirements files).
    pub index_urls: Vec<String>,
    /// Cargo: `[workspace.dependencies]` entries, by key, for members that inherit.
    pub workspace_deps: Vec<Dependency>,
}

impl Parsed {
    pub fn empty(kind: ManifestKind) -> Parsed {
        Parsed {
            kind,
            deps: Vec::new(),
            issues: Vec::new(),
            includes: Vec::new(),
            index_urls: Vec::new(),
            workspace_deps: Vec::new(),
        }
    }
}

/// One package pinned by a lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    /// Indices into `Lockfile::packages` of the packages this one depends on, resolved by the
    /// lockfile's own rules (npm nested `node_modules` lookup, Cargo `name version` keys).
    pub dependencies: Vec<usize>,
    /// Not from the registry (git, path, link, workspace member): skipped.
    pub non_registry: Option<String>,
    pub dev: bool,
    pub optional: bool,
    /// The span of this package's entry in the lockfile (for findings shown on the lockfile).
    pub span: Span,
    /// Registry integrity or checksum as recorded (`sha512-…`, sha256 hex).
    pub integrity: Option<String>,
    /// The URL the package manager downloads this package from, when the lockfile records one (a
    /// tarball or a git repository). A tarball shaped like its registry's (`…/<name>/-/<file>-<version>.tgz`)
    /// is still `non_registry: None`: whether its host is the package's registry is decided with the
    /// project's registry settings (`engine`); anything else is `non_registry` too.
    pub fetched_from: Option<String>,
}

/// What a lockfile pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockfile {
    pub kind: ManifestKind,
    pub ecosystem: Ecosystem,
    pub packages: Vec<LockedPackage>,
    /// The root project's direct dependencies: (name as the manifest declares it, index into `packages`).
    pub roots: Vec<(String, usize)>,
    /// Workspace members' direct dependencies, by the member's folder relative to the lockfile's
    /// (`packages/a`, forward slashes, no `./`); the root is in `roots`.
    pub importers: Vec<(String, Vec<(String, usize)>)>,
    /// Yarn: each `name@range` entry key → package, for lockfiles that do not record the root's
    /// declarations (Yarn 1) and for ranges the manifest declares.
    pub specs: std::collections::HashMap<String, usize>,
    /// pnpm catalogs (`pnpm-workspace.yaml` or the lockfile's `catalogs`): (catalog, package, range).
    pub catalogs: Vec<(String, String, String)>,
    /// The workspace member whose direct dependencies `direct` answers for (its folder relative to
    /// the lockfile's; empty for the root). Set by `project` when a member uses the root's lockfile.
    pub member: String,
    pub issues: Vec<SyntaxIssue>,
    /// Files beside the lockfile that fixes edit (set by `project`).
    pub fix_files: FixFiles,
    /// Lockfiles of other package managers in the same folder, by file name (set by `project`): they
    /// decide no version, but every package in them is checked, since installing with their manager
    /// would use them and a repository must not be able to hide a version in the file it did not choose.
    pub also: Vec<(String, Lockfile)>,
    /// A yarn.lock written by Yarn 2+ ("Berry", with `__metadata`): that Yarn reads its registries
    /// from `.yarnrc.yml`, never from `.npmrc`.
    pub yarn_berry: bool,
}

/// A project file a fix may edit besides the manifest: its path and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFile {
    pub path: std::path::PathBuf,
    pub text: std::sync::Arc<str>,
}

/// The files around a lockfile that a fix may edit: the workspace root's `package.json` when the
/// manifest is a member (package managers read overrides there only), and `pnpm-workspace.yaml`
/// (pnpm 10 reads `overrides` there; catalogs are defined there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixFiles {
    pub root_manifest: Option<ProjectFile>,
    pub pnpm_workspace: Option<ProjectFile>,
}

impl Lockfile {
    pub fn new(kind: ManifestKind, ecosystem: Ecosystem) -> Lockfile {
        Lockfile {
            kind,
            ecosystem,
            packages: Vec::new(),
            roots: Vec::new(),
            importers: Vec::new(),
            specs: std::collections::HashMap::new(),
            catalogs: Vec::new(),
            member: String::new(),
            issues: Vec::new(),
            fix_files: FixFiles::default(),
            also: Vec::new(),
            yarn_berry: false,
        }
    }

    /// Makes every package a root: for lockfiles that record no dependency edges from the project
    /// (poetry.lock, pylock.toml), any locked package may be what a manifest names.
    pub fn every_package_a_root(&mut self) {
        self.roots = self
            .packages
            .iter()
            .enumerate()
            .map(|(idx, package)| (package.name.clone(), idx))
            .collect();
    }

    /// The roots of the workspace member at `importer` (relative folder; `""` is the root). A
    /// lockfile that records no members (Cargo.lock: every local package's dependencies are roots)
    /// answers with its roots for every member.
    pub fn roots_of(&self, importer: &str) -> &[(String, usize)] {
        let importer = normalize_importer(importer);
        if importer.is_empty() || self.importers.is_empty() {
            return &self.roots;
        }
        self.importers
            .iter()
            .find(|(path, _)| normalize_importer(path) == importer)
            .map(|(_, roots)| roots.as_slice())
            .unwrap_or(&[])
    }

    /// The package a direct dependency `name` (declared with `requirement`) of `member` installs.
    pub fn direct(&self, name: &str, requirement: Option<&str>) -> Option<usize> {
        self.direct_in(&self.member, name, requirement)
    }

    /// The package a direct dependency `name` (declared with `requirement`) of the member at
    /// `importer` installs (see `DirectIndex::get`). For many names, build the index once.
    pub fn direct_in(&self, importer: &str, name: &str, requirement: Option<&str>) -> Option<usize> {
        self.direct_index_in(importer).get(name, requirement)
    }

    /// `direct` for many names: an index of the member's roots built once, so looking up every
    /// dependency of a large manifest stays linear.
    pub fn direct_index(&self) -> DirectIndex<'_> {
        self.direct_index_in(&self.member)
    }

    fn direct_index_in(&self, importer: &str) -> DirectIndex<'_> {
        let roots = self.roots_of(importer);
        let mut exact: HashMap<&str, usize> = HashMap::with_capacity(roots.len());
        let mut normalized: HashMap<String, usize> = HashMap::with_capacity(roots.len());
        for (name, idx) in roots {
            exact.entry(name.as_str()).or_insert(*idx);
            normalized.entry(self.ecosystem.normalize_name(name)).or_insert(*idx);
        }
        // Yarn: a name with exactly one registry package installs that one.
        let mut unique: HashMap<&str, Option<usize>> = HashMap::new();
        if !self.specs.is_empty() {
            for (idx, package) in self.packages.iter().enumerate() {
                if package.non_registry.is_none() {
                    unique
                        .entry(package.name.as_str())
                        .and_modify(|found| *found = None)
                        .or_insert(Some(idx));
                }
            }
        }
        DirectIndex {
            lockfile: self,
            exact,
            normalized,
            unique,
        }
    }

    /// The catalog range a pnpm `catalog:` / `catalog:<name>` requirement of `package` stands for.
    pub fn catalog_range(&self, package: &str, requirement: &str) -> Option<&str> {
        let catalog = requirement.trim().strip_prefix("catalog:")?.trim();
        let catalog = if catalog.is_empty() { "default" } else { catalog };
        self.catalogs
            .iter()
            .find(|(name, entry, _)| name == catalog && entry == package)
            .map(|(_, _, range)| range.as_str())
    }

    /// The locked version for a direct dependency declared as `name`.
    ///
    /// An exact match wins; otherwise names are compared normalised for the ecosystem (PEP 503 for PyPI,
    /// so `Faker` finds `faker`).
    pub fn root_version(&self, name: &str) -> Option<&LockedPackage> {
        let exact = self.roots.iter().find(|(root, _)| root == name);
        let found = exact.or_else(|| {
            let wanted = self.ecosystem.normalize_name(name);
            self.roots
                .iter()
                .find(|(root, _)| self.ecosystem.normalize_name(root) == wanted)
        });
        found.and_then(|(_, idx)| self.packages.get(*idx))
    }
}

/// The direct dependencies of one member of a `Lockfile` by name (see `Lockfile::direct_index`).
pub struct DirectIndex<'a> {
    lockfile: &'a Lockfile,
    exact: HashMap<&'a str, usize>,
    normalized: HashMap<String, usize>,
    unique: HashMap<&'a str, Option<usize>>,
}

impl DirectIndex<'_> {
    /// The package a direct dependency `name` (declared with `requirement`) installs: the member's
    /// recorded roots first (exact, then normalised for the ecosystem), then the `name@requirement`
    /// entry (Yarn), then the one package of that name when the lockfile holds exactly one.
    pub fn get(&self, name: &str, requirement: Option<&str>) -> Option<usize> {
        if let Some(idx) = self.exact.get(name) {
            return Some(*idx);
        }
        if let Some(idx) = self.normalized.get(&self.lockfile.ecosystem.normalize_name(name)) {
            return Some(*idx);
        }
        if self.lockfile.specs.is_empty() {
            return None;
        }
        if let Some(requirement) = requirement
            && let Some(idx) = self.lockfile.specs.get(&format!("{name}@{requirement}"))
        {
            return Some(*idx);
        }
        self.unique.get(name).copied().flatten()
    }
}

/// `./packages/a/` → `packages/a`; `.` → ``.
pub fn normalize_importer(path: &str) -> &str {
    let path = path.trim_matches('/');
    let path = path.strip_prefix("./").unwrap_or(path);
    if path == "." { "" } else { path.trim_end_matches('/') }
}

/// A manifest's text and its tree, kept per open document for incremental reparsing, and what was
/// extracted from them (extracted when first asked; after an edit inside one version string of a
/// `package.json`, patched from the previous extraction instead: `npm::patch`).
pub struct SourceFile {
    pub kind: ManifestKind,
    text: String,
    tree: Option<tree_sitter::Tree>,
    parsed: std::sync::OnceLock<Parsed>,
}

impl SourceFile {
    pub fn new(kind: ManifestKind, text: String) -> SourceFile {
        let mut res = SourceFile {
            kind,
            text,
            tree: None,
            parsed: std::sync::OnceLock::new(),
        };
        res.tree = parse_tree(kind, &res.text, None);
        res
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Replaces bytes `start..end` with `new_text` and reparses incrementally. Out-of-range or
    /// non-char-boundary offsets are clamped, never a panic.
    pub fn edit(&mut self, start: usize, end: usize, new_text: &str) {
        let start = floor_char_boundary(&self.text, start.min(self.text.len()));
        let end = floor_char_boundary(&self.text, end.clamp(start, self.text.len()));
        let start_position = point_at(&self.text, start);
        let old_end_position = point_at(&self.text, end);
        self.text.replace_range(start..end, new_text);
        let new_end = start + new_text.len();
        let new_end_position = point_at(&self.text, new_end);
        if let Some(tree) = self.tree.as_mut() {
            tree.edit(&tree_sitter::InputEdit {
                start_byte: start,
                old_end_byte: end,
                new_end_byte: new_end,
                start_position,
                old_end_position,
                new_end_position,
            });
        }
        // tree-sitter's error recovery may differ between an incremental and a fresh parse of the same
        // text (a property test found one with a CR inside a broken TOML table header). A tree with
        // errors is therefore parsed afresh: the answer never depends on the edit history, and text
        // without errors (the common case) keeps the incremental speed.
        self.tree = match parse_tree(self.kind, &self.text, self.tree.as_ref()) {
            Some(tree) if tree.root_node().has_error() => parse_tree(self.kind, &self.text, None),
            other => other,
        };
        let previous = self.parsed.take();
        if self.kind == ManifestKind::PackageJson
            && let (Some(previous), Some(tree)) = (previous, self.tree.as_ref())
            && let Some(patched) = npm::patch(&previous, &self.text, tree, start, end, new_end)
        {
            let _ = self.parsed.set(patched);
        }
    }

    /// Replaces the whole text (full sync).
    pub fn replace(&mut self, text: String) {
        self.text = text;
        self.tree = parse_tree(self.kind, &self.text, None);
        self.parsed = std::sync::OnceLock::new();
    }

    /// What the manifest declares: exactly what `parse` gives for the current text.
    pub fn parsed(&self) -> &Parsed {
        if self.parsed.get().is_none() {
            // Extracted here, not in a closure `OnceLock` runs: deep recursion in a broken file needs
            // every frame it can get on a small stack.
            let _ = self.parsed.set(extract(self.kind, &self.text, self.tree.as_ref()));
        }
        self.parsed.get_or_init(|| Parsed::empty(self.kind))
    }

    pub fn lockfile(&self) -> Option<Lockfile> {
        parse_lockfile(self.kind, &self.text)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn point_at(text: &str, offset: usize) -> tree_sitter::Point {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let row = before.iter().filter(|b| **b == b'\n').count();
    let column = before.iter().rev().take_while(|b| **b != b'\n').count();
    tree_sitter::Point { row, column }
}

/// Parses a manifest from scratch.
pub fn parse(kind: ManifestKind, text: &str) -> Parsed {
    if kind.is_lockfile() {
        return lockfile_as_manifest(kind, text);
    }
    let tree = parse_tree(kind, text, None);
    extract(kind, text, tree.as_ref())
}

/// Parses a lockfile; `None` when `kind` is not a lockfile.
pub fn parse_lockfile(kind: ManifestKind, text: &str) -> Option<Lockfile> {
    match kind {
        ManifestKind::PackageLock => Some(lockfiles::package_lock::parse(text)),
        ManifestKind::CargoLock => Some(lockfiles::cargo_lock::parse(text)),
        ManifestKind::PoetryLock => Some(lockfiles::poetry_lock::parse(text)),
        ManifestKind::UvLock => Some(lockfiles::uv_lock::parse(text)),
        ManifestKind::PyLock => Some(lockfiles::pylock::parse(text)),
        ManifestKind::PnpmLock => Some(lockfiles::pnpm_lock::parse(text)),
        ManifestKind::YarnLock => Some(lockfiles::yarn_lock::parse(text)),
        ManifestKind::BunLock => Some(lockfiles::bun_lock::parse(text)),
        ManifestKind::BunLockb => Some(lockfiles::bun_lock::binary()),
        _ => None,
    }
}

fn parse_tree(kind: ManifestKind, text: &str, old: Option<&tree_sitter::Tree>) -> Option<tree_sitter::Tree> {
    let language: tree_sitter::Language = match kind {
        ManifestKind::PackageJson | ManifestKind::PackageLock => tree_sitter_json::LANGUAGE.into(),
        ManifestKind::CargoToml | ManifestKind::CargoConfig | ManifestKind::Pyproject | ManifestKind::CargoLock => {
            tree_sitter_toml_ng::LANGUAGE.into()
        }
        // Requirements files are parsed per logical line (see `requirements.rs`); lockfiles other
        // than the above are read with serde, not kept as trees.
        ManifestKind::Requirements
        | ManifestKind::PnpmWorkspace
        | ManifestKind::YarnRc
        | ManifestKind::PoetryLock
        | ManifestKind::UvLock
        | ManifestKind::PyLock
        | ManifestKind::PnpmLock
        | ManifestKind::YarnLock
        | ManifestKind::BunLock
        | ManifestKind::BunLockb => return None,
    };
    let mut parser = tree_sitter::Parser::new();
    parser.set_language(&language).ok()?;
    parser.parse(text, old)
}

fn extract(kind: ManifestKind, text: &str, tree: Option<&tree_sitter::Tree>) -> Parsed {
    let mut parsed = match kind {
        ManifestKind::PackageJson => npm::extract(text, tree),
        ManifestKind::CargoToml => cargo::extract(text, tree),
        ManifestKind::Requirements => requirements::extract(text),
        ManifestKind::Pyproject => pyproject::extract(text, tree),
        ManifestKind::PnpmWorkspace => pnpm_workspace::extract(text),
        ManifestKind::YarnRc => pnpm_workspace::extract_yarnrc(text),
        ManifestKind::CargoConfig => cargo::extract_config(text, tree),
        _ => lockfile_as_manifest(kind, text),
    };
    // Held for as long as the document is open: not the growth room of the pushes that built it (a
    // 300-dependency package.json kept room for 512).
    parsed.deps.shrink_to_fit();
    parsed
}

/// A lockfile opened on its own: every registry package it pins becomes an exact dependency on the
/// span of its version string, so findings on transitive packages show on the lockfile itself.
pub fn lockfile_as_manifest(kind: ManifestKind, text: &str) -> Parsed {
    let mut res = Parsed::empty(kind);
    let Some(lockfile) = parse_lockfile(kind, text) else {
        return res;
    };
    res.issues = lockfile.issues.clone();
    let mut seen = std::collections::HashSet::new();
    for package in &lockfile.packages {
        if package.non_registry.is_some()
            || package.name.is_empty()
            || !seen.insert((package.name.clone(), package.version.clone()))
        {
            continue;
        }
        let entry = text.get(package.span.start..package.span.end).unwrap_or("");
        let quoted = format!("\"{}\"", package.version);
        let version_span = entry
            .find(&quoted)
            .map(|at| {
                Span::new(
                    package.span.start + at + 1,
                    package.span.start + at + 1 + package.version.len(),
                )
            })
            .unwrap_or(package.span);
        let name_span = entry
            .find(&format!("\"{}\"", package.name))
            .map(|at| {
                Span::new(
                    package.span.start + at + 1,
                    package.span.start + at + 1 + package.name.len(),
                )
            })
            .unwrap_or(version_span);
        let requirement = match lockfile.ecosystem {
            Ecosystem::Npm => package.version.clone(),
            Ecosystem::CratesIo => format!("={}", package.version),
            Ecosystem::PyPI => format!("=={}", package.version),
        };
        res.deps.push(Dependency {
            ecosystem: lockfile.ecosystem,
            name: package.name.clone(),
            package: package.name.clone(),
            name_span,
            requirement: Some(requirement),
            requirement_span: Some(version_span),
            kind: DepKind::Group("lockfile".to_string()),
            source: SourceKind::Registry,
            registry: None,
            poetry_syntax: false,
            extras: Vec::new(),
            marker: None,
        });
    }
    res
}

pub mod cargo;
pub mod decode;
pub mod lockfiles;
pub mod npm;
pub mod pnpm_workspace;
pub mod pyproject;
pub mod requirements;
mod toml_tree;

/// One issue per `ERROR` or `MISSING` node, on its exact span. Iterative, so a deeply nested broken
/// file cannot overflow the stack.
pub(crate) fn collect_issues(node: tree_sitter::Node, text: &str, acc: &mut Vec<SyntaxIssue>) {
    let mut cursor = node.walk();
    loop {
        let current = cursor.node();
        let mut descend = false;
        if current.is_error() {
            let span = Span::new(current.start_byte(), current.end_byte());
            let snippet: String = text.get(span.start..span.end).unwrap_or("").chars().take(20).collect();
            // Nested MISSING nodes inside an ERROR are part of the same damage.
            acc.push(SyntaxIssue {
                span,
                message: format!("syntax error near `{}`", snippet.trim()),
            });
        } else if current.is_missing() {
            acc.push(SyntaxIssue {
                span: Span::new(current.start_byte(), current.end_byte()),
                message: format!("missing `{}`", current.kind()),
            });
        } else {
            descend = current.has_error();
        }
        if descend && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}

/// The span of `value[start..end]` of a string literal at `span` whose value is `value`: `origins` maps
/// each byte of the value to its source range inside the literal (`None` when the value is written
/// verbatim), so the span is exact even when the literal has escapes. Out of range: the whole literal.
pub(crate) fn unescaped_sub_span(span: Span, origins: Option<&[(usize, usize)]>, start: usize, end: usize) -> Span {
    let Some(origins) = origins else {
        return Span::new(span.start + start, span.start + end);
    };
    let first = origins.get(start).map(|origin| origin.0);
    let last = if end > start {
        origins.get(end - 1).map(|origin| origin.1)
    } else {
        first
    };
    match (first, last) {
        (Some(first), Some(last)) => Span::new(span.start + first, span.start + last),
        _ => span,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Renders a span as its source line(s) with `marker` characters under it, so a reviewer sees the range.
    pub(crate) fn underline(text: &str, span: Span, marker: char) -> String {
        assert!(span.end <= text.len(), "span {span:?} out of bounds");
        assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end));
        let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[span.start..].find('\n').map_or(text.len(), |i| span.start + i);
        let line = text[line_start..line_end].trim_end_matches('\r');
        let prefix: String = text[line_start..span.start]
            .chars()
            .map(|ch| if ch == '\t' { '\t' } else { ' ' })
            .collect();
        let width = text[span.start..span.end.min(line_end)].chars().count().max(1);
        let more = if span.end > line_end { " (continues)" } else { "" };
        format!("    {line}\n    {prefix}{}{more}\n", marker.to_string().repeat(width))
    }

    pub(crate) fn render(parsed: &Parsed, text: &str) -> String {
        let mut res = String::new();
        for (label, deps) in [("dep", &parsed.deps), ("workspace", &parsed.workspace_deps)] {
            for dep in deps {
                res.push_str(&format!(
                    "{label} {} pkg={} kind={:?} source={:?} req={:?}",
                    dep.name, dep.package, dep.kind, dep.source, dep.requirement
                ));
                if let Some(registry) = &dep.registry {
                    res.push_str(&format!(" registry={registry}"));
                }
                if dep.poetry_syntax {
                    res.push_str(" poetry");
                }
                if !dep.extras.is_empty() {
                    res.push_str(&format!(" extras={:?}", dep.extras));
                }
                if let Some(marker) = &dep.marker {
                    res.push_str(&format!(" marker={marker:?}"));
                }
                res.push('\n');
                res.push_str(&underline(text, dep.name_span, '^'));
                if let Some(span) = dep.requirement_span {
                    res.push_str(&underline(text, span, '~'));
                }
            }
        }
        for include in &parsed.includes {
            res.push_str(&format!("include {} constraint={}\n", include.path, include.constraint));
            res.push_str(&underline(text, include.span, '^'));
        }
        for url in &parsed.index_urls {
            res.push_str(&format!("index {url}\n"));
        }
        for issue in &parsed.issues {
            res.push_str(&format!("issue {}\n", issue.message));
            res.push_str(&underline(text, issue.span, '!'));
        }
        res
    }

    const SEEDS: [(ManifestKind, &str); 17] = [
        (
            ManifestKind::PnpmWorkspace,
            "packages:\n  - \"apps/*\"\ncatalog:\n  react: ^18\noverrides:\n  # pinned\n  lodash: 4.17.21\n  \"a@1>b@<2\": '2.0.0'  # why\n  c: 'catalog:'\n  base: &b\n    x: 1\npackageExtensions:\n  d@1:\n    peerDependencies: {e: \"*\", f: ~1}\n    dependencies:\n      g: npm:h@^3\n",
        ),
        (
            ManifestKind::YarnRc,
            "nodeLinker: node-modules\nnpmRegistryServer: \"https://r.example\"\npackageExtensions:\n  \"a@*\":\n    dependencies:\n      b: 1.10\n      c: \"^2\" # note\n",
        ),
        (
            ManifestKind::CargoConfig,
            "[net]\nretry = 2\n[patch.crates-io]\nserde = { git = \"https://g.example/serde\" }\n[patch.'https://g.example/x']\nx = \"=1.0.0\"\npatch = 1\n",
        ),
        (
            ManifestKind::PackageJson,
            "{\n  \"name\": \"größe\",\n  \"dependencies\": { \"a\": \"^1.0.0\", \"b\": \"npm:c@~2\" },\n\t\"devDependencies\": {\"d\": \"file:../d\"}\r\n}\n",
        ),
        (
            ManifestKind::CargoToml,
            "[package]\nname = \"x\"\n\n[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\nrand = \"0.8\"\n[dependencies.tokio]\nversion = '1.2'\n[target.'cfg(unix)'.dev-dependencies]\nnix.version = \"0.27\"\n",
        ),
        (
            ManifestKind::Requirements,
            "requests==2.31.0  # pinned\nflask[async]>=2,<3 ; python_version >= \"3.8\"\n-r other.txt\nnumpy==1.26.4 \\\n    --hash=sha256:abc\n-e ./local\n",
        ),
        (
            ManifestKind::Pyproject,
            "[project]\nname = \"x\"\ndependencies = [\"requests>=2\", 'attrs ; python_version<\"3.9\"']\n[project.optional-dependencies]\ndev = [\"pytest==8.0\"]\n[tool.poetry.dependencies]\npython = \"^3.9\"\nhttpx = { version = \"^0.27\", extras = [\"http2\"] }\n",
        ),
        (
            ManifestKind::PackageLock,
            "{\"lockfileVersion\": 3, \"packages\": {\"\": {\"dependencies\": {\"a\": \"^1\"}}, \"node_modules/a\": {\"version\": \"1.0.0\", \"dependencies\": {\"b\": \"*\"}}, \"node_modules/b\": {\"version\": \"2.0.0\"}}}",
        ),
        (
            ManifestKind::CargoLock,
            "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"serde\"]\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"ab\"\n",
        ),
        (
            ManifestKind::PoetryLock,
            "[[package]]\nname = \"requests\"\nversion = \"2.31.0\"\n\n[package.dependencies]\nidna = \">=2.5\"\n\n[[package]]\nname = \"idna\"\nversion = \"3.6\"\n",
        ),
        (
            ManifestKind::PyLock,
            "lock-version = \"1.0\"\n\n[[packages]]\nname = \"idna\"\nversion = \"3.6\"\ndependencies = [{ name = \"x\" }, { version = 1 }]\n\n[[packages]]\nname = \"x\"\nvcs = { url = \"https://ä\" }\n",
        ),
        (
            ManifestKind::UvLock,
            "version = 1\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\ndependencies = [{ name = \"idna\" }]\n\n[[package]]\nname = \"idna\"\nversion = \"3.6\"\nsource = { registry = \"https://pypi.org/simple\" }\n",
        ),
        (
            ManifestKind::PnpmLock,
            "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1\n        version: 1.0.0(p@2.0.0)\n  pkgs/b:\n    dependencies:\n      c:\n        specifier: npm:d@1\n        version: d@1.0.0\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-a}\n  d@1.0.0:\n    resolution: {tarball: file:d.tgz}\n  'p@2.0.0':\n    resolution: {integrity: sha512-ä}\nsnapshots:\n  a@1.0.0(p@2.0.0):\n    dependencies:\n      p: 2.0.0\n  d@1.0.0: {}\n  p@2.0.0: {}\n",
        ),
        (
            ManifestKind::PnpmLock,
            "lockfileVersion: 5.4\nspecifiers:\n  a: ^1\ndependencies:\n  a: 1.0.0_p@2.0.0\npackages:\n  /a/1.0.0_p@2.0.0:\n    resolution: {integrity: sha512-a}\n    dependencies:\n      p: 2.0.0\n    dev: false\n  /p/2.0.0:\n    resolution: {integrity: sha512-p}\n    dev: true\n",
        ),
        (
            ManifestKind::YarnLock,
            "# yarn lockfile v1\n\n\"a@^1\", a@^1.1:\n  version \"1.2.0\"\n  resolved \"https://registry.yarnpkg.com/a/-/a-1.2.0.tgz\"\n  dependencies:\n    b \"npm:c@^2\"\n\r\nb@npm:c@^2:\n  version \"2.0.0\"\n\tintegrity ä\n",
        ),
        (
            ManifestKind::YarnLock,
            "__metadata:\n  version: 8\n\n\"a@npm:^1\":\n  version: 1.2.0\n  resolution: \"a@npm:1.2.0\"\n  dependencies:\n    b: \"npm:^2\"\n\n\"b@npm:^2, b@patch:b@npm%3A^2#~/p.patch\":\n  version: 2.0.0\n  resolution: \"b@npm:2.0.0\"\n\n\"root@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"root@workspace:.\"\n  dependencies:\n    a: \"npm:^1\"\n",
        ),
        (
            ManifestKind::BunLock,
            "{\n  \"lockfileVersion\": 1,\n  \"workspaces\": {\n    \"\": { \"dependencies\": { \"a\": \"^1\", }, },\n  },\n  \"packages\": {\n    \"a\": [\"a@1.0.0\", \"\", { \"dependencies\": { \"b\": \"^2\" } }, \"sha512-a\"],\n    \"a/b\": [\"b@2.0.0\", \"\", {}, \"sha512-ä\",],\n  },\n}\n",
        ),
    ];

    fn assert_spans_ok(text: &str, spans: impl IntoIterator<Item = Span>) {
        for span in spans {
            assert!(
                span.start <= span.end && span.end <= text.len(),
                "{span:?} in {} bytes",
                text.len()
            );
            assert!(
                text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                "{span:?}"
            );
        }
    }

    fn check_invariants(kind: ManifestKind, text: &str) {
        let parsed = parse(kind, text);
        let deps = parsed.deps.iter().chain(&parsed.workspace_deps);
        assert_spans_ok(
            text,
            deps.flat_map(|dep| [Some(dep.name_span), dep.requirement_span])
                .flatten()
                .chain(parsed.issues.iter().map(|issue| issue.span))
                .chain(parsed.includes.iter().map(|include| include.span)),
        );
        if let Some(lock) = parse_lockfile(kind, text) {
            assert_spans_ok(text, lock.packages.iter().map(|package| package.span));
            for package in &lock.packages {
                assert!(package.dependencies.iter().all(|idx| *idx < lock.packages.len()));
            }
            assert!(lock.roots.iter().all(|(_, idx)| *idx < lock.packages.len()));
        }
    }

    fn edit_strategy() -> impl proptest::strategy::Strategy<Value = Vec<(usize, usize, String)>> {
        use proptest::prelude::*;
        let piece = prop::string::string_regex("[\"'{}\\[\\]=,:#;@^~<>a-z0-9 .\\\\\n\r\tä✓-]{0,6}").unwrap();
        prop::collection::vec((0usize..400, 0usize..12, piece), 1..10)
    }

    /// The case the property test below found: a CR typed into a broken pyproject table header.
    #[test]
    fn incremental_edit_through_an_error_matches_a_fresh_parse() {
        let (kind, seed) = SEEDS[3];
        let mut file = SourceFile::new(kind, seed.to_string());
        for (at, len, insert) in [(53usize, 2usize, "aa0"), (284, 0, "\"\ra:0"), (22, 0, "[")] {
            let start = at % (file.text().len() + 1);
            file.edit(start, start + len, insert);
            assert_eq!(*file.parsed(), parse(kind, file.text()));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_never_panic(kind_idx in 0usize..SEEDS.len(), bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let text = String::from_utf8_lossy(&bytes);
            check_invariants(SEEDS[kind_idx].0, &text);
        }

        #[test]
        fn truncations_never_panic(kind_idx in 0usize..SEEDS.len(), cut in 0usize..700) {
            let (kind, seed) = SEEDS[kind_idx];
            let mut cut = cut.min(seed.len());
            while !seed.is_char_boundary(cut) {
                cut -= 1;
            }
            check_invariants(kind, &seed[..cut]);
        }

        #[test]
        fn incremental_edits_match_fresh_parses(kind_idx in 0usize..SEEDS.len(), edits in edit_strategy()) {
            let (kind, seed) = SEEDS[kind_idx];
            let mut file = SourceFile::new(kind, seed.to_string());
            for (at, len, insert) in edits {
                let start = at % (file.text().len() + 1);
                file.edit(start, start + len, &insert);
                let fresh = parse(kind, file.text());
                proptest::prop_assert_eq!(file.parsed(), &fresh);
                check_invariants(kind, file.text());
            }
        }
    }

    fn real_seed(idx: usize) -> (ManifestKind, String) {
        let (kind, path) = [
            (ManifestKind::PackageJson, "large/webpack/package.json"),
            (ManifestKind::CargoToml, "large/cargo/Cargo.toml"),
            (ManifestKind::Requirements, "large/pypi-warehouse/requirements/main.in"),
            (ManifestKind::Pyproject, "pypi/pyproject-optional-deps/pyproject.toml"),
        ][idx];
        let text =
            std::fs::read_to_string(format!("{}/../fixtures/manifests/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        (kind, text)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// The same property on real files, where edits land inside big trees.
        #[test]
        fn incremental_edits_on_real_files_match_fresh_parses(
            seed_idx in 0usize..4,
            edits in proptest::collection::vec((0.0f64..1.0, 0usize..12, "[\"'{}\\[\\]=,:#\\n a-z0-9.^~ä]{0,6}"), 1..8),
        ) {
            let (kind, seed) = real_seed(seed_idx);
            let mut file = SourceFile::new(kind, seed);
            for (position, len, insert) in edits {
                let start = (position * file.text().len() as f64) as usize;
                file.edit(start, start + len, &insert);
                proptest::prop_assert_eq!(file.parsed(), &parse(kind, file.text()));
                check_invariants(kind, file.text());
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Keystrokes inside the version strings of a real package.json (what `npm::patch` answers
        /// without extracting afresh), with characters that keep the string, escape, or end it early,
        /// and edits that reach its quotes: what the file reports is what a fresh parse reports.
        #[test]
        fn edits_inside_version_strings_match_fresh_parses(
            edits in proptest::collection::vec(
                (0usize..1000, 0usize..8, 0usize..3, "[0-9a-z.^~<>=| *\\\"-]{0,3}"),
                1..12,
            ),
        ) {
            let (kind, seed) = real_seed(0);
            let mut file = SourceFile::new(kind, seed);
            for (which, offset, len, insert) in edits {
                let deps = &file.parsed().deps;
                let Some(span) = deps.get(which % deps.len().max(1)).and_then(|d| d.requirement_span) else {
                    continue;
                };
                // Mostly inside the string; sometimes one past either end, onto a quote.
                let start = (span.start + offset).saturating_sub(1).min(span.end + 1);
                file.edit(start, start + len, &insert);
                proptest::prop_assert_eq!(file.parsed(), &parse(kind, file.text()));
            }
        }
    }

    /// Deeply nested input must not overflow a small stack (editor worker threads have 2 MB or less).
    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let inputs = vec![
            (ManifestKind::PackageJson, "[".repeat(30_000)),
            (
                ManifestKind::PackageJson,
                format!("{{\"dependencies\": {}", "{\"a\": ".repeat(20_000)),
            ),
            (
                ManifestKind::CargoToml,
                format!("[dependencies]\n{} = \"1\"\n", vec!["a"; 20_000].join(".")),
            ),
            (ManifestKind::Pyproject, format!("x = {}\n", "[".repeat(30_000))),
            (
                ManifestKind::PackageLock,
                format!("{{\"dependencies\": {}", "{\"a\": {\"dependencies\": ".repeat(20_000)),
            ),
            (ManifestKind::CargoLock, format!("x = {}", "[".repeat(30_000))),
            (ManifestKind::PoetryLock, format!("x = {}", "{a = ".repeat(30_000))),
            (ManifestKind::UvLock, format!("x = {}", "[".repeat(30_000))),
            (ManifestKind::PyLock, format!("packages = {}", "[".repeat(30_000))),
            (ManifestKind::PnpmLock, format!("packages: {}", "[".repeat(30_000))),
            (ManifestKind::PnpmLock, format!("x: {}", "{a: ".repeat(30_000))),
            (ManifestKind::PnpmLock, format!("x: {}", "[".repeat(30_000))),
            (ManifestKind::PnpmLock, format!("packages:\n{}", "- \n  ".repeat(5_000))),
            (
                ManifestKind::YarnLock,
                format!("__metadata:\n  a: {}", "{a: ".repeat(30_000)),
            ),
            (
                ManifestKind::YarnLock,
                format!("a@1:\n{}", "  dependencies:\n    b \"1\"\n".repeat(5_000)),
            ),
            (
                ManifestKind::BunLock,
                format!("{{\"packages\": {}", "{\"a\": ".repeat(30_000)),
            ),
            (ManifestKind::Requirements, format!("a{}", "[".repeat(30_000))),
        ];
        let handle = std::thread::Builder::new()
            .stack_size(512 * 1024)
            .spawn(move || {
                for (kind, text) in inputs {
                    check_invariants(kind, &text);
                    let mut file = SourceFile::new(kind, text);
                    file.edit(5, 6, "x");
                    let _ = file.parsed();
                }
            })
            .unwrap();
        handle.join().unwrap();
    }
}
