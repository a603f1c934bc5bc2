//! `bun.lock` (Bun's text lockfile, JSON with trailing commas) → every locked package with its
//! dependency edges and each workspace's direct dependencies. `bun.lockb` (binary) is not read: it
//! gives one issue that says how to get a text lockfile, never an empty success.
//!
//! Invariants:
//! - Trailing commas (and `//`, `/* */` comments) are blanked to spaces outside strings before
//!   `serde_json` reads the text, so the text keeps its length and every span stays exact.
//! - `packages` keys are install paths: `a` is hoisted, `a/b` is `b` nested under `a` (a scoped name
//!   is one segment). A dependency `d` of the package at `k` is `k/d`, then `d` one level up at a
//!   time, the way Node resolves `require`; a workspace's dependency is `<workspace name>/d`, then `d`.
//! - An entry is `[ "name@version", registry, { dependencies, … }, integrity ]`; a version that is a
//!   protocol (`workspace:`, `file:`, `link:`, git, URL) is `non_registry`.

use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::manifest::lockfiles::{Fields, duplicate_issues, http_source, json_issue, span_of, split_spec};
use crate::manifest::{LockedPackage, Lockfile, ManifestKind, SyntaxIssue};
use crate::model::{Ecosystem, Span};

/// The note a binary `bun.lockb` gets.
pub const BINARY_NOTE: &str = "bun.lockb is Bun's binary lockfile, which Gatehouse cannot read: run `bun install --save-text-lockfile` to let Gatehouse read it (installed versions and transitive packages are not checked until then)";

/// `bun.lockb`: no packages and one issue saying why.
pub fn binary() -> Lockfile {
    let mut res = Lockfile::new(ManifestKind::BunLockb, Ecosystem::Npm);
    res.issues.push(SyntaxIssue {
        span: Span::new(0, 0),
        message: BINARY_NOTE.to_string(),
    });
    res
}

pub fn parse(text: &str) -> Lockfile {
    let mut res = Lockfile::new(ManifestKind::BunLock, Ecosystem::Npm);
    let json = strip_jsonc(text);
    let top = match serde_json::from_str::<Fields>(&json) {
        Ok(top) => top,
        Err(error) => {
            res.issues.push(json_issue(text, &error));
            return res;
        }
    };
    // Spans are computed on the blanked copy, which has the text's offsets.
    duplicate_issues(&json, &top, "Bun", &mut res.issues);
    let mut keys: Vec<String> = Vec::new();
    let mut wanted: Vec<Vec<String>> = Vec::new();
    if let Some(packages) = top.object("packages") {
        duplicate_issues(&json, &packages, "Bun", &mut res.issues);
        for (key, raw) in packages.members() {
            let key = key.to_string();
            let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw.get()) else {
                continue;
            };
            let ident: String = items
                .first()
                .and_then(|raw| serde_json::from_str(raw.get()).ok())
                .unwrap_or_default();
            let info = items
                .iter()
                .find_map(|raw| serde_json::from_str::<Fields>(raw.get()).ok());
            let integrity = items
                .iter()
                .skip(1)
                .filter_map(|raw| serde_json::from_str::<String>(raw.get()).ok())
                .find(|s| s.starts_with("sha"));
            let (name, version) = match split_spec(&ident) {
                Some((name, version)) => (name.to_string(), version.to_string()),
                None => (last_segment(&key).to_string(), String::new()),
            };
            let mut names = Vec::new();
            if let Some(info) = &info {
                for table in ["dependencies", "optionalDependencies", "peerDependencies"] {
                    names.extend(info.names(table));
                }
            }
            // The span is computed on the blanked copy, which has the text's offsets.
            let span = span_of(&json, raw);
            // A registry package's second item is its registry ("" for the default one), or the
            // tarball URL; a URL or git package has its source in the version itself.
            let registry: String = items
                .get(1)
                .and_then(|raw| serde_json::from_str(raw.get()).ok())
                .unwrap_or_default();
            let (non_registry, fetched_from) = source(&name, &version, &registry);
            res.packages.push(LockedPackage {
                non_registry,
                fetched_from,
                name,
                version,
                dependencies: Vec::new(),
                dev: false,
                optional: info
                    .as_ref()
                    .and_then(|info| info.get::<bool>("optional"))
                    .unwrap_or(false),
                span: if span.end <= text.len() { span } else { Span::new(0, 0) },
                integrity,
            });
            keys.push(key.clone());
            wanted.push(names);
        }
    }
    let index: HashMap<&str, usize> = keys.iter().enumerate().map(|(idx, key)| (key.as_str(), idx)).collect();
    for (idx, names) in wanted.iter().enumerate() {
        let mut dependencies = Vec::new();
        for name in names {
            if let Some(found) = resolve(&index, &keys[idx], name)
                && found != idx
                && !dependencies.contains(&found)
            {
                dependencies.push(found);
            }
        }
        res.packages[idx].dependencies = dependencies;
    }
    if let Some(workspaces) = top.object("workspaces") {
        duplicate_issues(&json, &workspaces, "Bun", &mut res.issues);
        for (path, raw) in workspaces.members() {
            let Ok(workspace) = serde_json::from_str::<Fields>(raw.get()) else {
                continue;
            };
            duplicate_issues(&json, &workspace, "Bun", &mut res.issues);
            let member_name = workspace.get::<String>("name").unwrap_or_default();
            let mut roots: Vec<(String, usize)> = Vec::new();
            for table in [
                "dependencies",
                "devDependencies",
                "optionalDependencies",
                "peerDependencies",
            ] {
                for name in workspace.names(table) {
                    let nested = (!member_name.is_empty() && !path.is_empty())
                        .then(|| index.get(format!("{member_name}/{name}").as_str()).copied())
                        .flatten();
                    if let Some(idx) = nested.or_else(|| index.get(name.as_str()).copied())
                        && !roots.iter().any(|(root, _)| *root == name)
                    {
                        roots.push((name, idx));
                    }
                }
            }
            let path = crate::manifest::normalize_importer(path);
            if path.is_empty() {
                res.roots = roots;
            } else {
                res.importers.push((path.to_string(), roots));
            }
        }
    }
    res
}

/// Why a package is not from the registry (if it is not), and where it is downloaded from when the
/// lockfile names a URL: a version that is one, or a registry package's non-default registry (a base
/// URL, to which the registry's tarball path is added, or a tarball URL, which must have that shape).
fn source(name: &str, version: &str, registry: &str) -> (Option<String>, Option<String>) {
    if let Some(why) = non_registry(version) {
        let lower = version.to_ascii_lowercase();
        let remote = ["git", "github:", "ssh:", "http://", "https://"]
            .iter()
            .any(|prefix| lower.starts_with(prefix));
        return (Some(why), remote.then(|| version.to_string()));
    }
    if registry.is_empty() {
        return (None, None);
    }
    let url = if registry.contains("/-/") {
        registry.to_string()
    } else {
        let file_name = name.rsplit('/').next().unwrap_or(name);
        format!("{}/{name}/-/{file_name}-{version}.tgz", registry.trim_end_matches('/'))
    };
    match http_source(name, version, &url) {
        Some((url, why)) => (why, Some(url)),
        None => (
            Some(format!("package from an unrecognised registry ({registry})")),
            None,
        ),
    }
}

fn non_registry(version: &str) -> Option<String> {
    let lower = version.to_ascii_lowercase();
    if let Some(path) = lower.strip_prefix("workspace:") {
        return Some(format!("workspace package at {path}"));
    }
    if lower.starts_with("file:") || lower.starts_with("link:") || lower.starts_with("portal:") {
        return Some(format!("local path dependency ({version})"));
    }
    if lower.starts_with("git") || lower.starts_with("github:") || lower.starts_with("ssh:") || lower.contains(".git#")
    {
        return Some(format!("git dependency ({version})"));
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(format!("URL dependency ({version})"));
    }
    if version.is_empty() || !version.starts_with(|c: char| c.is_ascii_digit()) {
        return Some(format!("package with an unrecognised version ({version})"));
    }
    None
}

/// The segments of an install path: `@s/a/b` → [`@s/a`, `b`].
fn segments(key: &str) -> Vec<&str> {
    let mut res = Vec::new();
    let mut rest = key;
    while !rest.is_empty() {
        let cut = if rest.starts_with('@') {
            rest.find('/')
                .and_then(|first| rest[first + 1..].find('/').map(|second| first + 1 + second))
        } else {
            rest.find('/')
        };
        match cut {
            Some(at) => {
                res.push(&rest[..at]);
                rest = &rest[at + 1..];
            }
            None => {
                res.push(rest);
                break;
            }
        }
    }
    res
}

fn last_segment(key: &str) -> &str {
    segments(key).last().copied().unwrap_or(key)
}

/// `k/name`, then `name` under each shorter prefix of `k`, then `name`.
fn resolve(index: &HashMap<&str, usize>, key: &str, name: &str) -> Option<usize> {
    let parts = segments(key);
    for len in (1..=parts.len()).rev() {
        let candidate = format!("{}/{name}", parts[..len].join("/"));
        if let Some(idx) = index.get(candidate.as_str()) {
            return Some(*idx);
        }
    }
    index.get(name).copied()
}

/// Blanks comments, then trailing commas, outside strings, keeping every other byte where it was.
fn strip_jsonc(text: &str) -> String {
    let mut out = text.as_bytes().to_vec();
    blank(&mut out, false);
    blank(&mut out, true);
    // Only ASCII bytes outside strings became spaces (a comment's bytes all did), so this is UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// One pass over `bytes`: blanks comments, or (`commas`) commas whose next non-space byte closes.
fn blank(bytes: &mut [u8], commas: bool) {
    let mut at = 0;
    let mut in_string = false;
    while at < bytes.len() {
        let byte = bytes[at];
        if in_string {
            match byte {
                b'\\' => at += 1,
                b'"' => in_string = false,
                _ => {}
            }
            at += 1;
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'/' if !commas && bytes.get(at + 1) == Some(&b'/') => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    bytes[at] = b' ';
                    at += 1;
                }
                continue;
            }
            b'/' if !commas && bytes.get(at + 1) == Some(&b'*') => {
                let end = bytes[at + 2..]
                    .windows(2)
                    .position(|pair| pair == b"*/")
                    .map_or(bytes.len(), |rel| at + 2 + rel + 2);
                for byte in &mut bytes[at..end] {
                    if *byte != b'\n' {
                        *byte = b' ';
                    }
                }
                at = end;
                continue;
            }
            b',' if commas => {
                let next = bytes[at + 1..].iter().find(|b| !b.is_ascii_whitespace());
                if matches!(next, Some(b'}') | Some(b']')) {
                    bytes[at] = b' ';
                }
            }
            _ => {}
        }
        at += 1;
    }
}

#[cfg(test)]
mod tests;
