//! `Cargo.lock` (versions 1–4) → every `[[package]]` with its dependency edges.
//!
//! Invariants:
//! - Read with the `toml` crate; each package's span runs from its `[[package]]` header to the next
//!   header, found from the `name` value's span.
//! - A dependency entry is `name`, `name version` or `name version (source)`; a bare name is unique in
//!   the file by Cargo's rules, otherwise version (and source) pick the package.
//! - Packages without `source` are local (the workspace and path dependencies): `non_registry`, and the
//!   roots are the dependencies of local packages that are not local themselves (or, in a file with no
//!   local package, every package nothing depends on).
//! - Version 1 files keep checksums in `[metadata]` (`"checksum name version (source)" = "hex"`).

use std::collections::HashMap;

use serde::Deserialize;

use crate::manifest::lockfiles::{entry_span, package_headers, read_toml};
use crate::manifest::{LockedPackage, Lockfile, ManifestKind};
use crate::model::Ecosystem;

#[derive(Deserialize)]
struct CargoLock {
    #[serde(default)]
    package: Vec<Package>,
    #[serde(default)]
    metadata: HashMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct Package {
    name: toml::Spanned<String>,
    #[serde(default)]
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

pub fn parse(text: &str) -> Lockfile {
    let (mut res, lock) = match read_toml::<CargoLock>(ManifestKind::CargoLock, Ecosystem::CratesIo, text) {
        Ok(read) => read,
        Err(unreadable) => return unreadable,
    };
    let headers = package_headers(text);
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (idx, package) in lock.package.iter().enumerate() {
        by_name.entry(package.name.get_ref().as_str()).or_default().push(idx);
    }
    for package in &lock.package {
        let integrity = package.checksum.clone().or_else(|| {
            let source = package.source.as_deref()?;
            let key = format!("checksum {} {} ({source})", package.name.get_ref(), package.version);
            lock.metadata.get(&key)?.as_str().map(str::to_string)
        });
        let non_registry = match package.source.as_deref() {
            None => Some("local package (workspace member or path dependency)".to_string()),
            Some(source) if source.starts_with("git+") => Some(format!("git dependency ({source})")),
            Some(source) if source.starts_with("registry+") || source.starts_with("sparse+") => {
                // A registry other than crates.io is private: its names must not be looked up there.
                let url = source.split_once('+').map_or("", |(_, url)| url);
                (!is_crates_io(url)).then(|| format!("package from another registry ({url})"))
            }
            Some(source) => Some(format!("package from {source}")),
        };
        let dependencies = package
            .dependencies
            .iter()
            .filter_map(|entry| find(&lock.package, &by_name, entry))
            .collect();
        res.packages.push(LockedPackage {
            name: package.name.get_ref().clone(),
            version: package.version.clone(),
            dependencies,
            non_registry,
            dev: false,
            optional: false,
            span: entry_span(text, &headers, package.name.span().start),
            integrity,
            // Fetched from a git repository, not the registry (a `[patch]`, or a git dependency below
            // another package): never checked as the registry's version of that name.
            fetched_from: package
                .source
                .as_deref()
                .and_then(|source| source.strip_prefix("git+"))
                .map(str::to_string),
        });
    }
    for (idx, package) in lock.package.iter().enumerate() {
        if package.source.is_some() {
            continue;
        }
        for dep_idx in &res.packages[idx].dependencies {
            let dep = &lock.package[*dep_idx];
            let name = dep.name.get_ref();
            if dep.source.is_some() && !res.roots.iter().any(|(root, i)| root == name && i == dep_idx) {
                res.roots.push((name.clone(), *dep_idx));
            }
        }
    }
    if !lock.package.iter().any(|package| package.source.is_none()) {
        // A lockfile without its workspace members (trimmed by hand): the packages nothing depends on.
        let mut depended = vec![false; res.packages.len()];
        for package in &res.packages {
            for dep_idx in &package.dependencies {
                depended[*dep_idx] = true;
            }
        }
        res.roots = (0..res.packages.len())
            .filter(|idx| !depended[*idx])
            .map(|idx| (res.packages[idx].name.clone(), idx))
            .collect();
    }
    res
}

/// Resolves a `dependencies` entry (`name`, `name version`, `name version (source)`) to a package index.
/// The two URLs Cargo records for crates.io (a mirror set by source replacement keeps them): any other
/// URL, even one that contains `index.crates.io` in its path, is another registry.
fn is_crates_io(url: &str) -> bool {
    let url = url.trim_end_matches('/').to_ascii_lowercase();
    url == "https://github.com/rust-lang/crates.io-index" || url == "https://index.crates.io"
}

fn find(packages: &[Package], by_name: &HashMap<&str, Vec<usize>>, entry: &str) -> Option<usize> {
    let mut parts = entry.splitn(3, ' ');
    let name = parts.next()?;
    let version = parts.next();
    let source = parts
        .next()
        .map(|source| source.trim_start_matches('(').trim_end_matches(')'));
    let candidates = by_name.get(name)?;
    candidates.iter().copied().find(|idx| {
        let package = &packages[*idx];
        version.is_none_or(|version| package.version == version)
            && source.is_none_or(|source| package.source.as_deref() == Some(source))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::lockfiles::tests::{deps_of, issues_of, non_registry_of};

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!("{}/../fixtures/manifests/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn render(lock: &Lockfile, text: &str) -> String {
        let mut res = String::new();
        for (name, idx) in &lock.roots {
            res.push_str(&format!("root {name} -> {}\n", lock.packages[*idx].version));
        }
        for package in &lock.packages {
            let entry = &text[package.span.start..package.span.end];
            assert!(entry.starts_with("[[package]]"), "{entry}");
            res.push_str(&format!(
                "{}@{}{}{} deps=[{}]\n",
                package.name,
                package.version,
                non_registry_of(package),
                if package.integrity.is_some() { " checksum" } else { "" },
                deps_of(lock, package)
            ));
        }
        res.push_str(&issues_of(lock));
        res
    }

    #[test]
    fn small_cases() {
        let mut res = String::new();
        for path in [
            "cargo/two-packages-with-local/Cargo.lock",
            "cargo/package-with-build-string/Cargo.lock",
            "cargo/deprecated-novuln/Cargo.lock",
            "cargo/deprecated-vuln/Cargo.lock",
        ] {
            let text = fixture(path);
            res.push_str(&format!("--- {path}\n{}", render(&parse(&text), &text)));
        }
        insta::assert_snapshot!(res);
    }

    #[test]
    fn large_lockfiles() {
        for path in [
            "large/cargo/Cargo.lock",
            "cargo/many-packages/Cargo.lock",
            "cargo/image-with-deprecated/Cargo.lock",
        ] {
            let text = fixture(path);
            let lock = parse(&text);
            assert!(lock.issues.is_empty(), "{path}");
            assert!(lock.packages.len() > 5, "{path}");
            assert!(!lock.roots.is_empty(), "{path}");
            let value: toml::Value = toml::from_str(&text).unwrap();
            let edges: usize = value["package"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.get("dependencies").and_then(|d| d.as_array()).map_or(0, |d| d.len()))
                .sum();
            let resolved: usize = lock.packages.iter().map(|p| p.dependencies.len()).sum();
            assert_eq!(resolved, edges, "{path}: every dependency entry resolves");
            render(&lock, &text);
        }
    }

    /// A registry whose URL merely contains the crates.io index's name is another registry: its
    /// packages are never checked as crates.io's (Cargo installs them from that host).
    #[test]
    fn only_the_crates_io_urls_are_crates_io() {
        let entry = |source: &str| {
            format!("version = 3\n\n[[package]]\nname = \"serde\"\nversion = \"1.0.0\"\nsource = \"{source}\"\n")
        };
        for source in [
            "registry+https://github.com/rust-lang/crates.io-index",
            "sparse+https://index.crates.io/",
        ] {
            let lock = parse(&entry(source));
            assert_eq!(lock.packages[0].non_registry, None, "{source}");
        }
        for source in [
            "sparse+https://evil.example/index.crates.io/",
            "sparse+https://index.crates.io.evil.example/",
            "registry+https://evil.example/github.com/rust-lang/crates.io-index",
        ] {
            let lock = parse(&entry(source));
            assert!(lock.packages[0].non_registry.is_some(), "{source}");
        }
    }

    #[test]
    fn broken_lockfile_is_an_issue() {
        let text = fixture("cargo/two-packages-with-local/Cargo.lock");
        let broken = text.replacen("version = \"0.15.2\"", "version = \"0.15.2", 1);
        insta::assert_snapshot!(render(&parse(&broken), &broken));
    }
}
