//! `uv.lock` → every `[[package]]` with its dependency edges (`dependencies`, `optional-dependencies`,
//! `dev-dependencies`).
//!
//! Invariants:
//! - Read with the `toml` crate; a package's span runs from its `[[package]]` header to the next one.
//! - A dependency `{ name, version?, source? }` picks the package with that name, and with that version
//!   and source when the lockfile holds several (uv forks by marker).
//! - Roots are the dependencies (every table) of the project packages, those whose source is
//!   `editable` or `virtual` `"."`; other editable, virtual, git, path, directory and url packages and
//!   packages from an index other than PyPI are `non_registry`.
//! - uv workspaces: every other editable or virtual package is a member at its folder, and its
//!   dependencies are that member's roots (`importers`).
//! - `integrity` is the sdist hash when there is one.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::manifest::lockfiles::{entry_span, package_headers, read_toml};
use crate::manifest::{LockedPackage, Lockfile, ManifestKind};
use crate::model::Ecosystem;

#[derive(Deserialize)]
struct UvLock {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: toml::Spanned<String>,
    #[serde(default)]
    version: String,
    #[serde(default)]
    source: BTreeMap<String, toml::Value>,
    sdist: Option<Sdist>,
    #[serde(default)]
    dependencies: Vec<DependencyRef>,
    #[serde(default, rename = "optional-dependencies")]
    optional_dependencies: BTreeMap<String, Vec<DependencyRef>>,
    #[serde(default, rename = "dev-dependencies")]
    dev_dependencies: BTreeMap<String, Vec<DependencyRef>>,
}

#[derive(Deserialize)]
struct Sdist {
    hash: Option<String>,
}

#[derive(Deserialize)]
struct DependencyRef {
    name: String,
    version: Option<String>,
    #[serde(default)]
    source: BTreeMap<String, toml::Value>,
}

impl Package {
    fn all_dependencies(&self) -> impl Iterator<Item = &DependencyRef> {
        self.dependencies
            .iter()
            .chain(self.optional_dependencies.values().flatten())
            .chain(self.dev_dependencies.values().flatten())
    }

    fn is_project(&self) -> bool {
        ["editable", "virtual"]
            .iter()
            .any(|kind| self.source.get(*kind).and_then(|v| v.as_str()) == Some("."))
    }
}

pub fn parse(text: &str) -> Lockfile {
    let (mut res, lock) = match read_toml::<UvLock>(ManifestKind::UvLock, Ecosystem::PyPI, text) {
        Ok(read) => read,
        Err(unreadable) => return unreadable,
    };
    let headers = package_headers(text);
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (idx, package) in lock.package.iter().enumerate() {
        by_name
            .entry(Ecosystem::PyPI.normalize_name(package.name.get_ref()))
            .or_default()
            .push(idx);
    }
    let find = |dep: &DependencyRef| -> Option<usize> {
        let candidates = by_name.get(&Ecosystem::PyPI.normalize_name(&dep.name))?;
        candidates.iter().copied().find(|idx| {
            let package = &lock.package[*idx];
            dep.version.as_ref().is_none_or(|version| *version == package.version)
                && (dep.source.is_empty() || dep.source == package.source)
        })
    };
    for package in &lock.package {
        let mut dependencies: Vec<usize> = package.all_dependencies().filter_map(&find).collect();
        dependencies.sort_unstable();
        dependencies.dedup();
        res.packages.push(LockedPackage {
            name: package.name.get_ref().clone(),
            version: package.version.clone(),
            dependencies,
            non_registry: non_registry(package),
            dev: false,
            optional: false,
            span: entry_span(text, &headers, package.name.span().start),
            integrity: package.sdist.as_ref().and_then(|sdist| sdist.hash.clone()),
            // Installed from a URL or a git repository, not the index: never checked as the index's.
            fetched_from: ["url", "git"]
                .iter()
                .find_map(|kind| package.source.get(*kind).and_then(|v| v.as_str()))
                .map(str::to_string),
        });
    }
    // uv workspaces: each member (an editable or virtual package at its own folder) has its roots.
    for package in &lock.package {
        let Some(path) = ["editable", "virtual"]
            .iter()
            .find_map(|kind| package.source.get(*kind).and_then(|v| v.as_str()))
            .filter(|path| !crate::manifest::normalize_importer(path).is_empty())
        else {
            continue;
        };
        let mut roots: Vec<(String, usize)> = Vec::new();
        for dep in package.all_dependencies() {
            if let Some(idx) = find(dep)
                && !roots.iter().any(|(name, _)| *name == dep.name)
            {
                roots.push((dep.name.clone(), idx));
            }
        }
        res.importers
            .push((crate::manifest::normalize_importer(path).to_string(), roots));
    }
    for package in lock.package.iter().filter(|package| package.is_project()) {
        for dep in package.all_dependencies() {
            if let Some(idx) = find(dep)
                && !res.roots.iter().any(|(name, root)| *name == dep.name && *root == idx)
            {
                res.roots.push((dep.name.clone(), idx));
            }
        }
    }
    res
}

fn non_registry(package: &Package) -> Option<String> {
    let (kind, value) = package.source.iter().next()?;
    let value = value.as_str().unwrap_or("?");
    match kind.as_str() {
        "registry" => {
            let pypi = value.starts_with("https://pypi.org/") || value.starts_with("https://files.pythonhosted.org/");
            (!pypi).then(|| format!("package from another index ({value})"))
        }
        "editable" | "virtual" if value == "." => Some("the project itself".to_string()),
        "editable" | "virtual" | "path" | "directory" => Some(format!("local path dependency ({value})")),
        "git" => Some(format!("git dependency ({value})")),
        "url" => Some(format!("URL dependency ({value})")),
        other => Some(format!("package from a {other} source ({value})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::lockfiles::tests::render;

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!(
            "{}/../fixtures/manifests/pypi/{path}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn uv_fixtures() {
        let two = fixture("uv-two-packages/uv.lock");
        let grouped = fixture("uv-grouped-packages/uv.lock");
        insta::assert_snapshot!(format!(
            "{}---\n{}",
            render(&parse(&two), &two),
            render(&parse(&grouped), &grouped)
        ));
    }

    #[test]
    fn forks_git_and_broken() {
        let text = "version = 1\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { editable = \".\" }\ndependencies = [\n    { name = \"numpy\", version = \"1.26.4\", source = { registry = \"https://pypi.org/simple\" } },\n    { name = \"mine\" },\n]\n\n[[package]]\nname = \"numpy\"\nversion = \"2.0.0\"\nsource = { registry = \"https://pypi.org/simple\" }\n\n[[package]]\nname = \"numpy\"\nversion = \"1.26.4\"\nsource = { registry = \"https://pypi.org/simple\" }\nsdist = { url = \"https://x\", hash = \"sha256:ab\" }\n\n[[package]]\nname = \"mine\"\nversion = \"0.1\"\nsource = { git = \"https://github.com/x/mine.git?rev=1#abc\" }\n";
        let broken = &text[..60];
        insta::assert_snapshot!(format!(
            "{}---\n{}",
            render(&parse(text), text),
            render(&parse(broken), broken)
        ));
    }
}
