//! `pylock.toml` (PEP 751, written by `pip lock`, `uv export --format pylock.toml`, PDM) → every
//! `[[packages]]` entry with its `dependencies` edges.
//!
//! Invariants:
//! - Read with the `toml` crate; a package's span runs from its `[[packages]]` header to the next one.
//! - PEP 751 records no root: an installer installs every entry whose `marker` matches, so every
//!   package is a root under its own name (as in `poetry.lock`), and `engine::collect` checks the
//!   entries no declared dependency reaches too (for `ManifestKind::PyLock`).
//! - `dependencies` is optional and holds only enough keys to identify a package (`name`, maybe
//!   `version`): an edge goes to the entry with that name, and that version when given.
//! - Where an entry comes from is the one source table it has: `vcs` (a git repository), `directory`
//!   (a local path), `archive` (a URL or a file), or `sdist`/`wheels` from `index` (a registry;
//!   anything but PyPI is another index). Only the registry's entries are checked as the registry's.
//! - `integrity` is the sdist's sha256 when there is one.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::manifest::lockfiles::{entry_span, read_toml};
use crate::manifest::{LockedPackage, Lockfile, ManifestKind};
use crate::model::Ecosystem;

#[derive(Deserialize)]
struct PyLock {
    #[serde(default)]
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: toml::Spanned<String>,
    #[serde(default)]
    version: String,
    index: Option<String>,
    vcs: Option<Vcs>,
    directory: Option<Location>,
    archive: Option<Location>,
    sdist: Option<Location>,
    #[serde(default)]
    dependencies: Vec<BTreeMap<String, toml::Value>>,
}

#[derive(Deserialize)]
struct Vcs {
    url: Option<String>,
    path: Option<String>,
}

/// The fields of `directory`, `archive` and `sdist` that say where it is.
#[derive(Deserialize)]
struct Location {
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

impl Location {
    fn shown(&self) -> String {
        self.url
            .clone()
            .or_else(|| self.path.clone())
            .unwrap_or_else(|| "?".to_string())
    }
}

/// Offsets of every `[[packages]]` header that starts a line.
fn packages_headers(text: &str) -> Vec<usize> {
    text.match_indices("[[packages]]")
        .map(|(at, _)| at)
        .filter(|at| *at == 0 || text.as_bytes().get(at - 1) == Some(&b'\n'))
        .collect()
}

/// Why an entry is not the registry's (if it is not), and the URL it is downloaded from.
fn source(package: &Package) -> (Option<String>, Option<String>) {
    if let Some(vcs) = &package.vcs {
        let shown = vcs
            .url
            .clone()
            .or_else(|| vcs.path.clone())
            .unwrap_or_else(|| "?".to_string());
        return (Some(format!("git dependency ({shown})")), vcs.url.clone());
    }
    if let Some(directory) = &package.directory {
        return (Some(format!("local path dependency ({})", directory.shown())), None);
    }
    if let Some(archive) = &package.archive {
        return (
            Some(format!("URL dependency ({})", archive.shown())),
            archive.url.clone(),
        );
    }
    match package.index.as_deref().map(str::trim) {
        Some(index) if !is_pypi(index) => (Some(format!("package from another index ({index})")), None),
        _ => (None, None),
    }
}

/// PyPI's Simple API under its usual spellings.
fn is_pypi(index: &str) -> bool {
    let index = index.trim_end_matches('/');
    ["https://pypi.org/simple", "https://pypi.python.org/simple"]
        .iter()
        .any(|pypi| index.eq_ignore_ascii_case(pypi))
}

pub fn parse(text: &str) -> Lockfile {
    let (mut res, lock) = match read_toml::<PyLock>(ManifestKind::PyLock, Ecosystem::PyPI, text) {
        Ok(read) => read,
        Err(unreadable) => return unreadable,
    };
    let headers = packages_headers(text);
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (idx, package) in lock.packages.iter().enumerate() {
        by_name
            .entry(Ecosystem::PyPI.normalize_name(package.name.get_ref()))
            .or_default()
            .push(idx);
    }
    for package in &lock.packages {
        let mut dependencies: Vec<usize> = package
            .dependencies
            .iter()
            .filter_map(|dependency| {
                let name = dependency.get("name")?.as_str()?;
                let candidates = by_name.get(&Ecosystem::PyPI.normalize_name(name))?;
                let version = dependency.get("version").and_then(toml::Value::as_str);
                candidates
                    .iter()
                    .copied()
                    .find(|idx| version.is_none_or(|v| lock.packages.get(*idx).is_some_and(|p| p.version == v)))
                    .or_else(|| candidates.first().copied())
            })
            .collect();
        dependencies.sort_unstable();
        dependencies.dedup();
        let (non_registry, fetched_from) = source(package);
        res.packages.push(LockedPackage {
            name: package.name.get_ref().clone(),
            version: package.version.clone(),
            dependencies,
            non_registry,
            dev: false,
            optional: false,
            span: entry_span(text, &headers, package.name.span().start),
            integrity: package
                .sdist
                .as_ref()
                .and_then(|sdist| sdist.hashes.get("sha256"))
                .map(|hash| format!("sha256:{hash}")),
            fetched_from,
        });
    }
    res.every_package_a_root();
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::lockfiles::tests::render_js as render;

    #[test]
    fn pip_lock_output() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/manifests/pypi/pip-build-project-pylock/pylock.toml"
        ))
        .unwrap();
        let lock = parse(&text);
        assert!(lock.issues.is_empty(), "{:?}", lock.issues);
        assert_eq!(lock.root_version("build").map(|p| p.version.as_str()), Some("1.5.0"));
        assert_eq!(
            lock.root_version("Flit_Core").map(|p| p.version.as_str()),
            Some("4.0.2")
        );
        assert!(lock.packages.iter().all(|p| p.non_registry.is_none()));
        insta::assert_snapshot!(render(&lock, &text));
    }

    /// The PEP 751 example's shapes: edges by name and version, and each kind of source.
    #[test]
    fn sources_and_edges() {
        let text = r#"lock-version = "1.0"
created-by = "mousebender"

[[packages]]
name = "attrs"
version = "25.1.0"
requires-python = ">=3.8"
index = "https://pypi.org/simple/"
dependencies = [{ name = "Six", version = "1.17.0" }]

[[packages.wheels]]
name = "attrs-25.1.0-py3-none-any.whl"
url = "https://files.pythonhosted.org/packages/attrs-25.1.0-py3-none-any.whl"
hashes = { sha256 = "c75a69e28a550a7e93789579c22aa26b0f5b83b75dc4e08fe092980051e1090a" }

[[packages]]
name = "six"
version = "1.17.0"

[packages.sdist]
url = "https://files.pythonhosted.org/packages/six-1.17.0.tar.gz"
hashes = { sha256 = "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81" }

[[packages]]
name = "corp-lib"
version = "2.0.0"
index = "https://pypi.corp.example/simple"

[[packages]]
name = "mine"
directory = { path = "libs/mine", editable = true }

[[packages]]
name = "from-git"
version = "0.3.0"
vcs = { type = "git", url = "https://github.com/o/from-git.git", commit-id = "0123abc" }

[[packages]]
name = "tarball"
version = "1.0"
archive = { url = "https://example.com/tarball-1.0.tar.gz", hashes = { sha256 = "00" } }
"#;
        let lock = parse(text);
        insta::assert_snapshot!(render(&lock, text));
        let broken = &text[..60];
        assert_eq!(parse(broken).issues.len(), 1);
    }
}
