//! `poetry.lock` → every `[[package]]` with its `[package.dependencies]` edges.
//!
//! Invariants:
//! - Read with the `toml` crate; a package's span runs from its `[[package]]` header to the next one.
//! - Names are compared PEP 503-normalised (`Faker` in `[package.dependencies]` is the package `faker`).
//! - Roots: poetry.lock does not record which packages the project declares (only a content hash), so
//!   every package is a root under its own name and a declared name finds its pin through
//!   `Lockfile::root_version` (which falls back to normalised names). Poetry usually locks one version per
//!   name; when markers split a name into several versions (`proto-plus` 1.22.0 and 1.23.0 in the
//!   fixture), the first is the one a root or a dependency edge points at.
//! - `dev` is Poetry 1's `category = "dev"` or Poetry 2's `groups` without `"main"`; git, directory,
//!   file and url sources and private (`legacy`) indexes are `non_registry`.

use std::collections::HashMap;

use serde::Deserialize;

use crate::manifest::lockfiles::{entry_span, package_headers, read_toml};
use crate::manifest::{LockedPackage, Lockfile, ManifestKind};
use crate::model::Ecosystem;

#[derive(Deserialize)]
struct PoetryLock {
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: toml::Spanned<String>,
    #[serde(default)]
    version: String,
    #[serde(default)]
    optional: bool,
    category: Option<String>,
    groups: Option<Vec<String>>,
    source: Option<Source>,
    #[serde(default)]
    dependencies: HashMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct Source {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    url: String,
}

pub fn parse(text: &str) -> Lockfile {
    let (mut res, lock) = match read_toml::<PoetryLock>(ManifestKind::PoetryLock, Ecosystem::PyPI, text) {
        Ok(read) => read,
        Err(unreadable) => return unreadable,
    };
    let headers = package_headers(text);
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for (idx, package) in lock.package.iter().enumerate() {
        by_name
            .entry(Ecosystem::PyPI.normalize_name(package.name.get_ref()))
            .or_insert(idx);
    }
    for package in &lock.package {
        let mut dependencies: Vec<usize> = package
            .dependencies
            .keys()
            .filter_map(|name| by_name.get(&Ecosystem::PyPI.normalize_name(name)).copied())
            .collect();
        dependencies.sort_unstable();
        dependencies.dedup();
        let non_registry = package.source.as_ref().and_then(|source| match source.kind.as_str() {
            "git" => Some(format!("git dependency ({})", source.url)),
            "directory" | "file" => Some(format!("local path dependency ({})", source.url)),
            "url" => Some(format!("URL dependency ({})", source.url)),
            "legacy" => Some(format!("package from a private index ({})", source.url)),
            _ => None,
        });
        let dev = match (&package.groups, &package.category) {
            (Some(groups), _) => !groups.iter().any(|group| group == "main"),
            (None, Some(category)) => category == "dev",
            (None, None) => false,
        };
        res.packages.push(LockedPackage {
            name: package.name.get_ref().clone(),
            version: package.version.clone(),
            dependencies,
            non_registry,
            dev,
            optional: package.optional,
            span: entry_span(text, &headers, package.name.span().start),
            integrity: None,
            // Installed from a URL or a git repository, not the index: never checked as the index's.
            fetched_from: package
                .source
                .as_ref()
                .filter(|source| matches!(source.kind.as_str(), "git" | "url"))
                .map(|source| source.url.clone()),
        });
    }
    res.every_package_a_root();
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_v2() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/manifests/pypi/poetry-multiple-packages-v2/poetry.lock"
        ))
        .unwrap();
        let lock = parse(&text);
        insta::assert_snapshot!(crate::manifest::lockfiles::tests::render(&lock, &text));
        assert_eq!(lock.root_version("Faker").map(|p| p.version.as_str()), Some("33.3.0"));
    }

    #[test]
    fn poetry_v1_sources_and_broken() {
        let text = "[[package]]\nname = \"Requests\"\nversion = \"2.31.0\"\ncategory = \"main\"\noptional = false\n\n[package.dependencies]\nidna = \">=2.5\"\n\n[[package]]\nname = \"idna\"\nversion = \"3.6\"\ncategory = \"dev\"\n\n[[package]]\nname = \"mine\"\nversion = \"0.1\"\n\n[package.source]\ntype = \"git\"\nurl = \"https://github.com/x/mine.git\"\n";
        let lock = parse(text);
        let broken = &text[..40];
        insta::assert_snapshot!(format!(
            "{}---\n{}",
            crate::manifest::lockfiles::tests::render(&lock, text),
            crate::manifest::lockfiles::tests::render(&parse(broken), broken)
        ));
    }
}
