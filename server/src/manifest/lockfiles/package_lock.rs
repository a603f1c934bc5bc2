//! `package-lock.json` / `npm-shrinkwrap.json` (lockfileVersion 1, 2 and 3) → every installed package
//! with its dependency edges resolved the way Node resolves `require`.
//!
//! Invariants:
//! - Read with serde_json borrowing `RawValue`s, so each entry's span is exact and a 600 KB lockfile
//!   takes a few milliseconds; a type mismatch in one field drops that field, not the file.
//! - v2/v3 use `packages` (keyed `node_modules/a/node_modules/b`); v1 uses nested `dependencies`,
//!   which is flattened into the same keys. A dependency `n` of the entry at key `k` is found at
//!   `k/node_modules/n`, then by walking up one `node_modules` level at a time to `node_modules/n`.
//! - Roots: v2/v3 take the names the root entry `""` declares (every dependency table); v1 lockfiles do
//!   not record the root's declarations, so every top-level entry is a root (extra roots are harmless:
//!   callers look roots up by the name their manifest declares).
//! - npm workspaces: each member folder's entry (`packages/a`) gives that member's roots in
//!   `importers`, resolved from the member folder (`packages/a/node_modules/x`, then `node_modules/x`).
//! - Links, workspace folders, git and file entries are `non_registry`, and so is an http(s)
//!   `resolved` that is not shaped like the registry's tarball of the entry's name and version; a URL
//!   or git source is kept in `fetched_from` (whose host `engine` checks against the registries).
//! - A key repeated in one object is an issue, and its last value is read, as `JSON.parse` does.

use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::manifest::lockfiles::{Fields, duplicate_issues, http_source, json_issue, span_of};
use crate::manifest::{LockedPackage, Lockfile, ManifestKind};
use crate::model::Ecosystem;

pub fn parse(text: &str) -> Lockfile {
    let mut res = Lockfile::new(ManifestKind::PackageLock, Ecosystem::Npm);
    let top = match serde_json::from_str::<Fields>(text) {
        Ok(top) => top,
        Err(error) => {
            res.issues.push(json_issue(text, &error));
            return res;
        }
    };
    let mut builder = Builder {
        text,
        keys: Vec::new(),
        deps: Vec::new(),
        index: HashMap::new(),
        packages: Vec::new(),
        issues: Vec::new(),
    };
    duplicate_issues(text, &top, "npm", &mut builder.issues);
    let mut root_names: Option<Vec<String>> = None;
    // npm workspaces: each member folder's own declarations (`packages/a` → names).
    let mut member_names: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(packages) = top.object("packages") {
        duplicate_issues(text, &packages, "npm", &mut builder.issues);
        for (key, raw) in packages.members() {
            let key = key.to_string();
            let Ok(entry) = serde_json::from_str::<Fields>(raw.get()) else {
                continue;
            };
            duplicate_issues(text, &entry, "npm", &mut builder.issues);
            let mut dep_names = entry.names("dependencies");
            dep_names.extend(entry.names("optionalDependencies"));
            dep_names.extend(entry.names("peerDependencies"));
            let is_project = !key.contains("node_modules/");
            if is_project {
                dep_names.extend(entry.names("devDependencies"));
            }
            if key.is_empty() {
                root_names = Some(dep_names);
                continue;
            }
            if is_project {
                member_names.push((key.clone(), dep_names.clone()));
            }
            let name = entry
                .get::<String>("name")
                .unwrap_or_else(|| last_segment(&key).to_string());
            let link = entry.get::<bool>("link").unwrap_or(false);
            let resolved = entry.get::<String>("resolved");
            let version = entry.get::<String>("version").unwrap_or_default();
            let source = if link {
                Source::local(format!("workspace link to {}", resolved.as_deref().unwrap_or("?")))
            } else if is_project {
                Source::local(format!("workspace package at {key}"))
            } else {
                source_of(&name, &version, resolved.as_deref())
            };
            builder.push(key.clone(), dep_names, name, version, source, &entry, raw);
        }
    } else if let Some(dependencies) = top.object("dependencies") {
        builder.walk_v1("", &dependencies, 0);
    }

    // Links point at their target folder: give them the target's version and an edge to it.
    let link_targets: Vec<(usize, usize)> = builder
        .packages
        .iter()
        .enumerate()
        .filter(|(_, package)| {
            package
                .non_registry
                .as_deref()
                .is_some_and(|r| r.starts_with("workspace link"))
        })
        .filter_map(|(idx, package)| {
            let target = package.non_registry.as_deref()?.strip_prefix("workspace link to ")?;
            Some((idx, *builder.index.get(target)?))
        })
        .collect();

    let mut packages = std::mem::take(&mut builder.packages);
    for (idx, package) in packages.iter_mut().enumerate() {
        let key = &builder.keys[idx];
        let mut seen = Vec::new();
        for name in &builder.deps[idx] {
            if let Some(found) = resolve(&builder.index, key, name)
                && found != idx
                && !seen.contains(&found)
            {
                seen.push(found);
            }
        }
        package.dependencies = seen;
    }
    for (link, target) in link_targets {
        if let Some(version) = packages.get(target).map(|target| target.version.clone())
            && let Some(package) = packages.get_mut(link)
        {
            package.version = version;
            if !package.dependencies.contains(&target) {
                package.dependencies.push(target);
            }
        }
    }
    res.roots = match root_names {
        Some(names) => {
            let mut roots: Vec<(String, usize)> = Vec::new();
            for name in names {
                if roots.iter().any(|(root, _)| *root == name) {
                    continue;
                }
                if let Some(idx) = resolve(&builder.index, "", &name) {
                    roots.push((name, idx));
                }
            }
            roots
        }
        None => builder
            .keys
            .iter()
            .enumerate()
            .filter_map(|(idx, key)| {
                let name = key.strip_prefix("node_modules/")?;
                (!name.contains("/node_modules/")).then(|| (name.to_string(), idx))
            })
            .collect(),
    };
    for (member, names) in member_names {
        let mut roots: Vec<(String, usize)> = Vec::new();
        for name in names {
            if let Some(idx) = resolve(&builder.index, &member, &name)
                && !roots.iter().any(|(root, _)| *root == name)
            {
                roots.push((name, idx));
            }
        }
        res.importers.push((member, roots));
    }
    res.packages = packages;
    res.issues.append(&mut builder.issues);
    res
}

struct Builder<'a> {
    text: &'a str,
    keys: Vec<String>,
    deps: Vec<Vec<String>>,
    index: HashMap<String, usize>,
    packages: Vec<LockedPackage>,
    /// Keys repeated in one object.
    issues: Vec<crate::manifest::SyntaxIssue>,
}

impl<'a> Builder<'a> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        key: String,
        dep_names: Vec<String>,
        name: String,
        version: String,
        source: Source,
        entry: &Fields<'_>,
        raw: &RawValue,
    ) {
        let dev_optional = entry.get::<bool>("devOptional").unwrap_or(false);
        let package = LockedPackage {
            name,
            version,
            dependencies: Vec::new(),
            non_registry: source.non_registry,
            fetched_from: source.fetched_from,
            dev: entry.get::<bool>("dev").unwrap_or(false) || dev_optional,
            optional: entry.get::<bool>("optional").unwrap_or(false) || dev_optional,
            span: span_of(self.text, raw),
            integrity: entry.get::<String>("integrity"),
        };
        // Keys are unique (`Fields::members`): a repeated key's last entry is the one npm installs.
        self.index.insert(key.clone(), self.packages.len());
        self.keys.push(key);
        self.deps.push(dep_names);
        self.packages.push(package);
    }

    /// lockfileVersion 1: `dependencies` nest like `node_modules` folders; `requires` names the edges.
    fn walk_v1(&mut self, parent: &str, dependencies: &Fields<'_>, depth: usize) {
        if depth > 64 {
            return;
        }
        duplicate_issues(self.text, dependencies, "npm", &mut self.issues);
        for (name, raw) in dependencies.members() {
            let name = name.to_string();
            let Ok(entry) = serde_json::from_str::<Fields>(raw.get()) else {
                continue;
            };
            duplicate_issues(self.text, &entry, "npm", &mut self.issues);
            let key = if parent.is_empty() {
                format!("node_modules/{name}")
            } else {
                format!("{parent}/node_modules/{name}")
            };
            let raw_version = entry.get::<String>("version").unwrap_or_default();
            let (package, version) = match raw_version.strip_prefix("npm:") {
                Some(alias) => split_alias(alias),
                None => (name.clone(), raw_version.clone()),
            };
            let resolved = entry.get::<String>("resolved");
            let source = source_of(&package, &version, resolved.as_deref());
            let dep_names = entry.names("requires");
            self.push(key.clone(), dep_names, package, version, source, &entry, raw);
            if let Some(nested) = entry.object("dependencies") {
                self.walk_v1(&key, &nested, depth + 1);
            }
        }
    }
}

/// `real@1.2.3` or `@scope/real@1.2.3` → (name, version).
fn split_alias(alias: &str) -> (String, String) {
    let search_from = usize::from(alias.starts_with('@'));
    match alias[search_from..].find('@') {
        Some(at) => {
            let at = search_from + at;
            (alias[..at].to_string(), alias[at + 1..].to_string())
        }
        None => (alias.to_string(), String::new()),
    }
}

fn last_segment(key: &str) -> &str {
    match key.rfind("node_modules/") {
        Some(at) => &key[at + "node_modules/".len()..],
        None => key,
    }
}

/// Whether an entry is a registry package, and where it is downloaded from when the lockfile says.
struct Source {
    non_registry: Option<String>,
    fetched_from: Option<String>,
}

impl Source {
    fn local(why: String) -> Source {
        Source {
            non_registry: Some(why),
            fetched_from: None,
        }
    }
}

/// Git and local specs are not the registry; an http(s) `resolved` (or v1 `version`) is the registry
/// only when shaped like a registry tarball of `name@version` (its host is checked by `engine`).
fn source_of(name: &str, version: &str, resolved: Option<&str>) -> Source {
    for spec in [Some(version), resolved].into_iter().flatten() {
        let lower = spec.to_ascii_lowercase();
        if ["git+", "git:", "github:", "gitlab:", "bitbucket:", "gist:"]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
        {
            return Source {
                non_registry: Some(format!("git dependency ({spec})")),
                fetched_from: Some(spec.to_string()),
            };
        }
        if lower.starts_with("file:") || lower.starts_with("link:") {
            return Source::local(format!("local path dependency ({spec})"));
        }
    }
    for spec in [resolved, Some(version)].into_iter().flatten() {
        if let Some((url, why)) = http_source(name, version, spec) {
            return Source {
                non_registry: why,
                fetched_from: Some(url),
            };
        }
    }
    Source {
        non_registry: None,
        fetched_from: None,
    }
}

/// Node's lookup: `key/node_modules/name`, then one `node_modules` level up at a time.
fn resolve(index: &HashMap<String, usize>, key: &str, name: &str) -> Option<usize> {
    let mut base = key;
    loop {
        let candidate = if base.is_empty() {
            format!("node_modules/{name}")
        } else {
            format!("{base}/node_modules/{name}")
        };
        if let Some(idx) = index.get(&candidate) {
            return Some(*idx);
        }
        if base.is_empty() {
            return None;
        }
        base = match base.rfind("/node_modules/") {
            Some(at) => &base[..at],
            None => "",
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::lockfiles::tests::{deps_of, non_registry_of};

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!("{}/../fixtures/manifests/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// One line per package: key facts, its dependencies by name@version, and whether it is a root.
    fn render(lock: &Lockfile, text: &str) -> String {
        let mut res = String::new();
        for (name, idx) in &lock.roots {
            let package = &lock.packages[*idx];
            res.push_str(&format!("root {name} -> {}@{}\n", package.name, package.version));
        }
        for package in &lock.packages {
            assert!(package.span.end <= text.len());
            let entry = &text[package.span.start..package.span.end];
            assert!(entry.starts_with('{') && entry.ends_with('}'), "{entry}");
            res.push_str(&format!(
                "{}@{}{}{}{}{} deps=[{}]\n",
                package.name,
                package.version,
                if package.dev { " dev" } else { "" },
                if package.optional { " optional" } else { "" },
                non_registry_of(package),
                if package.integrity.is_some() { " integrity" } else { "" },
                deps_of(lock, package)
            ));
        }
        for issue in &lock.issues {
            res.push_str(&format!("issue {} at {}\n", issue.message, issue.span.start));
        }
        res
    }

    fn check(path: &str) -> String {
        let text = fixture(path);
        render(&parse(&text), &text)
    }

    #[test]
    fn v1_alias() {
        insta::assert_snapshot!(check("npm/v1-alias/package-lock.json"));
    }

    #[test]
    fn v1_nested() {
        insta::assert_snapshot!(check("npm/v1-nested-dependencies/package-lock.json"));
    }

    #[test]
    fn v1_left_pad_and_ansi_html() {
        insta::assert_snapshot!(format!(
            "{}---\n{}",
            check("npm/v1-deprecated-left-pad/package-lock.json"),
            check("npm/v1-insecure-ansi-html/package-lock.json")
        ));
    }

    #[test]
    fn v2_commits() {
        insta::assert_snapshot!(check("npm/v2-commits/package-lock.json"));
    }

    #[test]
    fn v2_small_cases() {
        insta::assert_snapshot!(format!(
            "{}---\n{}---\n{}",
            check("npm/v2-optional-package/package-lock.json"),
            check("npm/v2-scoped-packages/package-lock.json"),
            check("npm/v2-licenses/package-lock.json"),
        ));
    }

    #[test]
    fn v3_cases() {
        insta::assert_snapshot!(format!(
            "{}---\n{}",
            check("npm/v3-bundled-dependencies/package-lock.json"),
            check("npm/v3-type-order/package-lock.json"),
        ));
    }

    #[test]
    fn large_lockfiles_resolve_every_root_and_edge() {
        for (path, manifest) in [
            ("large/npm-cli/package-lock.json", "large/npm-cli/package.json"),
            (
                "npm/v2-santatracker/package-lock.json",
                "npm/v2-santatracker/package.json",
            ),
            ("npm/v2-osv-fix-104-deps/package-lock.json", ""),
        ] {
            let text = fixture(path);
            let lock = parse(&text);
            assert!(lock.issues.is_empty());
            assert!(lock.packages.len() > 100, "{path}: {}", lock.packages.len());
            assert!(!lock.roots.is_empty());
            if !manifest.is_empty() {
                let manifest_text = fixture(manifest);
                let parsed = crate::manifest::parse(ManifestKind::PackageJson, &manifest_text);
                for dep in &parsed.deps {
                    assert!(
                        lock.root_version(&dep.name).is_some(),
                        "{path}: root {} missing",
                        dep.name
                    );
                }
            }
            let registry = lock.packages.iter().filter(|p| p.non_registry.is_none()).count();
            let with_integrity = lock.packages.iter().filter(|p| p.integrity.is_some()).count();
            assert!(
                with_integrity * 10 >= registry * 8,
                "{path}: {with_integrity}/{registry}"
            );
        }
    }

    #[test]
    fn npm_cli_links_and_nested_lookup() {
        let text = fixture("large/npm-cli/package-lock.json");
        let lock = parse(&text);
        let arborist = lock.root_version("@npmcli/arborist").unwrap();
        assert!(
            arborist
                .non_registry
                .as_deref()
                .unwrap()
                .contains("workspaces/arborist")
        );
        assert_eq!(arborist.dependencies.len(), 1);
        assert!(lock.packages.len() >= 1270);
    }

    #[test]
    fn broken_json_is_an_issue_not_a_panic() {
        let text = fixture("npm/v2-licenses/package-lock.json");
        let broken = &text[..text.len() / 2];
        let lock = parse(broken);
        assert_eq!(lock.issues.len(), 1);
        assert!(lock.packages.is_empty());
        let wrong_types = r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": ["x"]}, "node_modules/x": {"version": 3, "dev": "yes"}, "node_modules/y": 7}}"#;
        insta::assert_snapshot!(render(&parse(wrong_types), wrong_types), @"x@ deps=[]");
    }
}

#[cfg(test)]
mod duplicate_keys {
    use super::*;

    /// npm reads the lockfile with `JSON.parse`, which keeps a repeated key's last value: that is the
    /// version it installs, so it is the one checked, and the repetition is an issue on the file.
    #[test]
    fn a_repeated_key_is_an_issue_and_the_last_value_is_read() {
        let root = r#""": {"dependencies": {"left": "^1.0.0"}}"#;
        let same_entry = format!(
            r#"{{"lockfileVersion": 3, "packages": {{{root}, "node_modules/left": {{"version": "1.0.0"}}, "node_modules/left": {{"version": "9.9.9"}}}}}}"#
        );
        let same_field = format!(
            r#"{{"lockfileVersion": 3, "packages": {{{root}, "node_modules/left": {{"version": "1.0.0", "version": "9.9.9"}}}}}}"#
        );
        let two_tables = format!(
            r#"{{"lockfileVersion": 3, "packages": {{{root}, "node_modules/left": {{"version": "1.0.0"}}}}, "packages": {{{root}, "node_modules/left": {{"version": "9.9.9"}}}}}}"#
        );
        let v1 = r#"{"lockfileVersion": 1, "dependencies": {"left": {"version": "1.0.0"}, "left": {"version": "9.9.9", "version": "9.9.9"}}}"#;
        for (text, key) in [
            (same_entry.as_str(), "node_modules/left"),
            (same_field.as_str(), "version"),
            (two_tables.as_str(), "packages"),
            (v1, "left"),
        ] {
            let lock = parse(text);
            let left = lock.root_version("left").unwrap_or_else(|| panic!("{text}"));
            assert_eq!(left.version, "9.9.9", "{text}");
            assert_eq!(lock.packages.iter().filter(|p| p.name == "left").count(), 1, "{text}");
            let issue = lock.issues.first().unwrap_or_else(|| panic!("no issue: {text}"));
            assert!(
                issue.message.contains(&format!("{key:?} occurs more than once")),
                "{}",
                issue.message
            );
            assert!(text[issue.span.start..issue.span.end].contains("1.0.0") || key == "version" || key == "left");
        }
    }
}
