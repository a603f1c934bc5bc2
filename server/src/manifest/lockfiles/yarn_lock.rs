//! `yarn.lock` → every locked package with its dependency edges: Yarn 1 ("classic", its own
//! indentation format) and Yarn 2+ ("Berry", YAML with `__metadata`).
//!
//! Invariants:
//! - Berry is read with `serde_yaml_ng` (see `pnpm_lock`); Yarn 1 is not YAML (`name "value"` pairs,
//!   comma-separated keys) and is read by `parse_classic`, a line reader that never indexes past a
//!   line and skips what it does not understand.
//! - An entry's key lists every `name@range` it satisfies; a dependency `name: range` is the entry
//!   whose key holds `name@range` (Berry also tries `name@npm:range`, for files written before Yarn 4
//!   added the protocol). Every key goes into `Lockfile::specs`, so a manifest's own declarations find
//!   their entry even though Yarn 1 records no root.
//! - The real name comes from `resolution` (Berry) or the `npm:` alias in the key; `patch:` entries are
//!   the patched registry package (advisories still apply); `workspace:` entries are the workspace
//!   members and give `roots`/`importers`; `link:`, `portal:`, `file:`, `exec:`, git and URL entries
//!   are `non_registry`.
//! - An entry's span runs from its key line to the next top-level line.

use std::collections::HashMap;

use crate::manifest::lockfiles::{
    FastMap, Lenient, Scalar, clamp, http_source, lenient_struct, split_spec, yaml_issue,
};
use crate::manifest::{LockedPackage, Lockfile, ManifestKind, SyntaxIssue};
use crate::model::{Ecosystem, Span};

/// One entry, whichever format it came from.
struct Entry {
    specs: Vec<String>,
    name: String,
    version: String,
    /// Berry `resolution`; Yarn 1 `resolved`.
    resolution: String,
    integrity: Option<String>,
    dependencies: Vec<(String, String)>,
    span: Span,
}

pub fn parse(text: &str) -> Lockfile {
    let mut res = Lockfile::new(ManifestKind::YarnLock, Ecosystem::Npm);
    let berry = text
        .lines()
        .any(|line| line.starts_with("__metadata:") || line.starts_with("\"__metadata\":"));
    res.yarn_berry = berry;
    let entries = if berry {
        match parse_berry(text) {
            Ok(entries) => entries,
            Err(issue) => {
                res.issues.push(issue);
                return res;
            }
        }
    } else {
        parse_classic(text, &mut res.issues)
    };
    // Yarn keeps the last entry a spec keys (a later key overwrites an earlier one in its reader), so
    // literal keys go in last-wins; the `npm:`-less forms derived from them never displace a literal
    // key, and among themselves the last wins too (hence the reversed pass).
    for (idx, entry) in entries.iter().enumerate() {
        for spec in &entry.specs {
            if let Some(before) = res.specs.insert(spec.clone(), idx)
                && before != idx
            {
                res.issues.push(SyntaxIssue {
                    span: entries[before].span,
                    message: format!(
                        "invalid lockfile: {spec:?} keys more than one entry; Yarn uses the last one, which is what is checked (Yarn never writes such a file)"
                    ),
                });
            }
        }
    }
    for (idx, entry) in entries.iter().enumerate().rev() {
        for spec in &entry.specs {
            // `name@npm:^1` is what a manifest writes as `^1`.
            if let Some((name, range)) = split_spec(spec)
                && let Some(plain) = range.strip_prefix("npm:")
                && split_spec(plain).is_none()
            {
                res.specs.entry(format!("{name}@{plain}")).or_insert(idx);
            }
        }
    }
    // The same lookups as `specs` by (name, range), built alongside so that resolving an edge
    // allocates nothing: `plain` holds what `specs` holds, `npm` the `name@npm:range` keys by `range`.
    let mut plain: FastMap<(&str, &str), usize> =
        FastMap::with_capacity_and_hasher(res.specs.len(), Default::default());
    let mut npm: FastMap<(&str, &str), usize> = FastMap::default();
    for (idx, entry) in entries.iter().enumerate() {
        for spec in &entry.specs {
            if let Some((name, range)) = split_spec(spec) {
                plain.insert((name, range), idx);
                if let Some(stripped) = range.strip_prefix("npm:") {
                    npm.insert((name, stripped), idx);
                }
            }
        }
    }
    for (idx, entry) in entries.iter().enumerate().rev() {
        for spec in &entry.specs {
            if let Some((name, range)) = split_spec(spec)
                && let Some(stripped) = range.strip_prefix("npm:")
                && split_spec(stripped).is_none()
            {
                plain.entry((name, stripped)).or_insert(idx);
            }
        }
    }
    let find = |_: &HashMap<String, usize>, name: &str, range: &str| -> Option<usize> {
        plain.get(&(name, range)).or_else(|| npm.get(&(name, range))).copied()
    };
    for (idx, entry) in entries.iter().enumerate() {
        let mut dependencies: Vec<usize> = Vec::new();
        for (name, range) in &entry.dependencies {
            if let Some(found) = find(&res.specs, name, range)
                && found != idx
                && !dependencies.contains(&found)
            {
                dependencies.push(found);
            }
        }
        let (non_registry, fetched_from) = source(entry);
        res.packages.push(LockedPackage {
            name: entry.name.clone(),
            version: entry.version.clone(),
            dependencies,
            non_registry,
            fetched_from,
            dev: false,
            optional: false,
            span: entry.span,
            integrity: entry.integrity.clone(),
        });
    }
    for (idx, entry) in entries.iter().enumerate() {
        let Some(path) = workspace_path(&entry.resolution) else {
            continue;
        };
        let roots: Vec<(String, usize)> = res.packages[idx]
            .dependencies
            .iter()
            .filter_map(|dep_idx| {
                let declared = entry
                    .dependencies
                    .iter()
                    .find(|(name, range)| find(&res.specs, name, range) == Some(*dep_idx))?;
                Some((declared.0.clone(), *dep_idx))
            })
            .collect();
        let path = crate::manifest::normalize_importer(path);
        if path.is_empty() {
            res.roots = roots;
        } else {
            res.importers.push((path.to_string(), roots));
        }
    }
    res
}

/// `name@workspace:packages/a` → `packages/a`.
fn workspace_path(resolution: &str) -> Option<&str> {
    let (_, range) = split_spec(resolution)?;
    range.strip_prefix("workspace:")
}

/// Why an entry is not from the registry (if it is not), and where it is downloaded from when its
/// resolution is a URL. An http(s) tarball is the registry only when shaped like the registry's tarball
/// of the entry's name and version (its host is checked by `engine` against the project's registries).
fn source(entry: &Entry) -> (Option<String>, Option<String>) {
    let resolution = entry.resolution.as_str();
    let range = split_spec(resolution).map_or(resolution, |(_, range)| range);
    let lower = range.to_ascii_lowercase();
    let remote = [
        "git+",
        "git:",
        "github:",
        "https://github.com/",
        "ssh://",
        "http://",
        "https://",
    ]
    .iter()
    .any(|prefix| lower.starts_with(prefix));
    let fetched_from = remote.then(|| range.split('#').next().unwrap_or(range).to_string());
    (non_registry(entry, range, &lower), fetched_from)
}

fn non_registry(entry: &Entry, range: &str, lower: &str) -> Option<String> {
    if let Some(path) = lower.strip_prefix("workspace:") {
        return Some(format!("workspace package at {path}"));
    }
    for (prefix, what) in [
        ("link:", "local link"),
        ("portal:", "local portal"),
        ("file:", "local path dependency"),
        ("exec:", "generated package"),
        ("git+", "git dependency"),
        ("git:", "git dependency"),
        ("github:", "git dependency"),
        ("https://github.com/", "git dependency"),
        ("ssh://", "git dependency"),
    ] {
        if lower.starts_with(prefix) {
            return Some(format!("{what} ({range})"));
        }
    }
    if lower.contains(".git#") || lower.contains("#commit=") {
        return Some(format!("git dependency ({range})"));
    }
    // Yarn 1 records a registry package's tarball URL in `resolved`: still the registry when it has
    // the registry's shape for this name and version.
    http_source(&entry.name, &entry.version, range).and_then(|(_, why)| why)
}

lenient_struct!(BerryEntry {
    version: Scalar = "version",
    resolution: Scalar = "resolution",
    checksum: Scalar = "checksum",
    dependencies: Lenient<Scalar> = "dependencies",
    optional_dependencies: Lenient<Scalar> = "optionalDependencies",
});

fn parse_berry(text: &str) -> Result<Vec<Entry>, SyntaxIssue> {
    let map: Lenient<BerryEntry> = crate::manifest::lockfiles::read_yaml::<Option<Lenient<BerryEntry>>>(text)
        .map_err(|error| yaml_issue(text, &error))?
        .unwrap_or_default();
    let spans = top_level_spans(text);
    let mut res = Vec::new();
    for (key, entry) in map.0 {
        if key == "__metadata" {
            continue;
        }
        let specs: Vec<String> = key
            .split(", ")
            .map(|spec| spec.trim().to_string())
            .filter(|spec| !spec.is_empty())
            .collect();
        let resolution = entry.resolution.0;
        let name = real_name(&resolution)
            .or_else(|| specs.first().and_then(|spec| real_name(spec)))
            .unwrap_or_default();
        res.push(Entry {
            span: spans.get(key.as_str()).copied().unwrap_or(Span::new(0, 0)),
            specs,
            name,
            version: entry.version.0,
            resolution,
            integrity: Some(entry.checksum.0).filter(|c| !c.is_empty()),
            dependencies: entry
                .dependencies
                .0
                .into_iter()
                .chain(entry.optional_dependencies.0)
                .map(|(name, range)| (name, range.0))
                .collect(),
        });
    }
    Ok(res)
}

/// The registry name behind a spec or resolution: `a@npm:1.0.0` → `a`; an alias
/// `b@npm:a@^1` → `a`; a patch `a@patch:a@npm%3A1.0.0#…` → `a`.
fn real_name(spec: &str) -> Option<String> {
    let (name, range) = split_spec(spec)?;
    if let Some(aliased) = range.strip_prefix("npm:")
        && let Some((real, _)) = split_spec(aliased)
    {
        return Some(real.to_string());
    }
    if let Some(patched) = range.strip_prefix("patch:")
        && let Some((real, _)) = split_spec(patched)
    {
        return Some(real.to_string());
    }
    Some(name.to_string())
}

/// Each top-level key (unquoted, as written) → the span up to the next top-level line.
fn top_level_spans(text: &str) -> FastMap<String, Span> {
    let mut res = FastMap::default();
    let mut open: Option<(String, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if content.is_empty() || content.starts_with('#') || content.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((key, from)) = open.take() {
            res.insert(key, clamp(text, from, start));
        }
        let key = content.trim_end().strip_suffix(':').unwrap_or(content);
        let key = if key.len() >= 2 && key.starts_with('"') && key.ends_with('"') {
            serde_json::from_str::<String>(key).unwrap_or_else(|_| key[1..key.len() - 1].to_string())
        } else {
            key.to_string()
        };
        open = Some((key, start));
    }
    if let Some((key, from)) = open {
        res.insert(key, clamp(text, from, text.len()));
    }
    res
}

/// Yarn 1: top-level `spec, spec:` lines open an entry; two-space `key value` lines are its fields;
/// `dependencies:`/`optionalDependencies:` open a table of four-space `name range` lines.
fn parse_classic(text: &str, issues: &mut Vec<SyntaxIssue>) -> Vec<Entry> {
    let mut res: Vec<Entry> = Vec::new();
    let mut table: Option<bool> = None;
    // After a top-level line that opens no entry, its indented lines belong to nothing.
    let mut skipping = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() || content.trim_start().starts_with('#') {
            continue;
        }
        let indent = content.len() - content.trim_start_matches(' ').len();
        let body = content.trim();
        if indent == 0 {
            if let Some(last) = res.last_mut() {
                last.span = clamp(text, last.span.start, start);
            }
            table = None;
            let Some(keys) = body.strip_suffix(':') else {
                skipping = true;
                issues.push(SyntaxIssue {
                    span: clamp(text, start, start + content.len()),
                    message: "invalid lockfile: expected `name@range:` to start an entry".to_string(),
                });
                continue;
            };
            skipping = false;
            let specs: Vec<String> = split_keys(keys);
            let name = specs.first().and_then(|spec| real_name(spec)).unwrap_or_default();
            res.push(Entry {
                specs,
                name,
                version: String::new(),
                resolution: String::new(),
                integrity: None,
                dependencies: Vec::new(),
                span: clamp(text, start, offset),
            });
            continue;
        }
        let Some(entry) = res.last_mut().filter(|_| !skipping) else {
            continue;
        };
        entry.span = clamp(text, entry.span.start, offset);
        if indent <= 2 {
            table = None;
            if let Some(section) = body.strip_suffix(':') {
                let section = unquote(section);
                table = match section.as_str() {
                    "dependencies" => Some(true),
                    "optionalDependencies" => Some(true),
                    _ => Some(false),
                };
                continue;
            }
            let (key, value) = split_pair(body);
            match key.as_str() {
                "version" => entry.version = value,
                "resolved" => entry.resolution = value,
                "integrity" => entry.integrity = Some(value).filter(|v| !v.is_empty()),
                _ => {}
            }
        } else if table == Some(true) {
            let (name, range) = split_pair(body);
            if !name.is_empty() {
                entry.dependencies.push((name, range));
            }
        }
    }
    for entry in &mut res {
        // Aliases and registry entries carry the real name in the key; `resolved` decides whether
        // it came from the registry at all. Non-registry ranges (`file:`, git) keep theirs.
        if entry.resolution.is_empty()
            && let Some(range) = entry.specs.first().and_then(|spec| split_spec(spec)).map(|(_, r)| r)
        {
            entry.resolution = format!("{}@{range}", entry.name);
        } else if !entry.resolution.is_empty() {
            let range = entry
                .specs
                .first()
                .and_then(|spec| split_spec(spec))
                .map_or("", |(_, r)| r);
            let lower = range.to_ascii_lowercase();
            let local = ["file:", "link:", "portal:", "git", "github:", "http", "workspace:"]
                .iter()
                .any(|p| lower.starts_with(p));
            entry.resolution = if local {
                format!("{}@{range}", entry.name)
            } else {
                format!("{}@{}", entry.name, entry.resolution)
            };
        }
    }
    res
}

/// `"a@^1", a@^1.2, "@s/b@2"` → each spec, unquoted.
fn split_keys(keys: &str) -> Vec<String> {
    let mut res = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = keys.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' if !quoted => {
                let spec = current.trim().to_string();
                if !spec.is_empty() {
                    res.push(spec);
                }
                current.clear();
            }
            _ => current.push(ch),
        }
    }
    let spec = current.trim().to_string();
    if !spec.is_empty() {
        res.push(spec);
    }
    res
}

/// `key "value"` or `"key" value` → (key, value), both unquoted.
fn split_pair(body: &str) -> (String, String) {
    let body = body.trim();
    let key_end = if body.starts_with('"') {
        let mut escaped = false;
        body.char_indices()
            .skip(1)
            .find(|(_, ch)| {
                let end = *ch == '"' && !escaped;
                escaped = *ch == '\\' && !escaped;
                end
            })
            .map_or(body.len(), |(at, _)| at + 1)
    } else {
        body.find([' ', '\t']).unwrap_or(body.len())
    };
    let (key, value) = body.split_at(key_end);
    (unquote(key), unquote(value.trim()))
}

fn unquote(value: &str) -> String {
    let value = value.trim();
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        return serde_json::from_str::<String>(value).unwrap_or_else(|_| value[1..value.len() - 1].to_string());
    }
    value.to_string()
}

#[cfg(test)]
mod tests;
