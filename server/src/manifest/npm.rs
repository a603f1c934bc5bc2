//! `package.json` → the dependencies of its `dependencies`, `devDependencies`, `optionalDependencies`
//! and `peerDependencies` objects, read from the tree-sitter-json tree, and the versions its overrides
//! force on whatever pulls a package in (npm `overrides`, Yarn `resolutions`, pnpm `pnpm.overrides`)
//! or add to other packages (pnpm `pnpm.packageExtensions`).
//!
//! Invariants:
//! - The name span is the key's text inside its quotes; the requirement span is the value's text inside
//!   its quotes, or only the range part of an `npm:other@range` alias.
//! - A broken file still yields every `pair` tree-sitter recovered, also those inside `ERROR` nodes;
//!   each `ERROR`/`MISSING` node becomes one issue.
//! - The spec is classified the way npm-package-arg does it (alias, path, git, URL, workspace), but
//!   never interpreted: ranges belong to `resolve`.
//! - An override is what the package manager installs for its package wherever the tree pulls it in,
//!   so each one is a dependency of its own (`DepKind::Override`), named by the package its selector
//!   ends in (`a>b@<2` → `b`, `**/@s/b` → `@s/b`, npm's nested `"a": {".": "1.0.0"}` → `a`), its
//!   version the override's value. `$a` takes the spec of the direct dependency `a`; pnpm's removal
//!   (`-`) installs nothing and is not listed; a selector naming no readable package is listed as not
//!   checked (`SourceKind::Unread`).

use crate::manifest::{DepKind, Dependency, ManifestKind, Parsed, SourceKind, SyntaxIssue, collect_issues};
use crate::model::{Ecosystem, Span};

pub fn extract(text: &str, tree: Option<&tree_sitter::Tree>) -> Parsed {
    let mut res = Parsed::empty(ManifestKind::PackageJson);
    let Some(tree) = tree else {
        return res;
    };
    let root = tree.root_node();
    collect_issues(root, text, &mut res.issues);
    visit_top(root, text, 0, &mut res);
    resolve_override_references(&mut res);
    res
}

/// What `extract` gives for `text` and `tree` after an edit that replaced `start..old_end` of the text
/// `previous` was extracted from with the bytes now at `start..new_end`, built from `previous` when the
/// edit stayed inside one dependency's version string (the keystroke's common case): that dependency is
/// read again from its pair and the spans after the edit move. `None` when the edit reached anything
/// else (or either text has a syntax error): then extract afresh. Never a guess: every case it cannot
/// prove unchanged falls back.
pub fn patch(
    previous: &Parsed,
    text: &str,
    tree: &tree_sitter::Tree,
    start: usize,
    old_end: usize,
    new_end: usize,
) -> Option<Parsed> {
    let root = tree.root_node();
    // Overrides can take a dependency's spec (`$name`): a file with any is read afresh.
    if !previous.issues.is_empty()
        || root.has_error()
        || previous.kind != ManifestKind::PackageJson
        || previous.deps.iter().any(|dep| dep.kind == DepKind::Override)
    {
        return None;
    }
    let delta = new_end as isize - old_end as isize;
    let mut value = root.descendant_for_byte_range(start, new_end)?;
    while value.kind() != "string" {
        value = value.parent()?;
    }
    let pair = value.parent()?;
    if pair.kind() != "pair" || pair.child_by_field_name("value")?.id() != value.id() {
        return None;
    }
    let key = string_value(pair.child_by_field_name("key")?, text)?;
    // The dependency this pair was: same key (before the edit, so not moved), its requirement the whole
    // string's content then (not an alias, whose requirement is only part of it), and the edit inside it.
    let idx = previous.deps.iter().position(|dep| dep.name_span == key.span)?;
    let old = &previous.deps[idx];
    let old_content = old.requirement_span?;
    let content_end = (value.end_byte() - 1).checked_add_signed(-delta)?;
    if old.source == SourceKind::Alias
        || old_content.start != value.start_byte() + 1
        || old_content.end != content_end
        || start < old_content.start
        || old_end > old_content.end
        || !text[value.start_byte()..value.end_byte()].ends_with('"')
    {
        return None;
    }
    let dep = dependency(pair, text, &old.kind)?;
    let moved = |span: Span| {
        if span.start >= old_end {
            Some(Span::new(
                span.start.checked_add_signed(delta)?,
                span.end.checked_add_signed(delta)?,
            ))
        } else if span.end <= start {
            Some(span)
        } else {
            None
        }
    };
    let mut res = Parsed::empty(ManifestKind::PackageJson);
    res.deps.reserve(previous.deps.len());
    for (at, known) in previous.deps.iter().enumerate() {
        if at == idx {
            res.deps.push(dep.clone());
            continue;
        }
        let mut known = known.clone();
        known.name_span = moved(known.name_span)?;
        known.requirement_span = match known.requirement_span {
            Some(span) => Some(moved(span)?),
            None => None,
        };
        res.deps.push(known);
    }
    Some(res)
}

/// Walks the document and the top-level object (through `ERROR` nodes) looking for section pairs.
///
/// When an edit breaks the top-level object, tree-sitter may flatten it into one `ERROR` node holding
/// `"dependencies"`, `:`, `{` and the section's pairs as siblings; the tokens are followed in order so
/// those pairs still land in their section.
fn visit_top(node: tree_sitter::Node, text: &str, depth: usize, acc: &mut Parsed) {
    let mut pending: Option<DepKind> = None;
    let mut active: Option<DepKind> = None;
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        match child.kind() {
            "object" if depth == 0 => visit_top(child, text, depth + 1, acc),
            "ERROR" => visit_top(child, text, depth, acc),
            "string" if node.is_error() => {
                pending = string_value(child, text).and_then(|key| section_kind(&key.value));
            }
            "{" if node.is_error() => active = pending.take(),
            "}" if node.is_error() => active = None,
            "pair" if active.is_some() => {
                if let Some(kind) = &active
                    && let Some(dep) = dependency(child, text, kind)
                {
                    acc.deps.push(dep);
                }
            }
            "pair" if depth == 1 || node.is_error() => {
                let Some(key) = child.child_by_field_name("key") else {
                    continue;
                };
                let key = string_value(key, text);
                if depth == 1
                    && let Some(key) = &key
                    && let Some(value) = child.child_by_field_name("value")
                    && value.kind() == "object"
                {
                    match key.value.as_str() {
                        "overrides" | "resolutions" => visit_overrides(value, text, None, 0, acc),
                        "pnpm" => {
                            let mut cursor = value.walk();
                            for pair in value.named_children(&mut cursor).filter(|n| n.kind() == "pair") {
                                let (Some(name), Some(value)) =
                                    (pair.child_by_field_name("key"), pair.child_by_field_name("value"))
                                else {
                                    continue;
                                };
                                if value.kind() != "object" {
                                    continue;
                                }
                                match string_value(name, text).map(|name| name.value).as_deref() {
                                    Some("overrides") => visit_overrides(value, text, None, 0, acc),
                                    Some("packageExtensions") => visit_extensions(value, text, acc),
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
                let Some(kind) = key.and_then(|key| section_kind(&key.value)) else {
                    continue;
                };
                if let Some(value) = child.child_by_field_name("value")
                    && matches!(value.kind(), "object" | "ERROR")
                {
                    visit_section(value, text, &kind, acc);
                }
            }
            _ => {}
        }
    }
}

fn section_kind(key: &str) -> Option<DepKind> {
    match key {
        "dependencies" => Some(DepKind::Normal),
        "devDependencies" => Some(DepKind::Dev),
        "optionalDependencies" => Some(DepKind::Optional),
        "peerDependencies" => Some(DepKind::Peer),
        _ => None,
    }
}

fn visit_section(node: tree_sitter::Node, text: &str, kind: &DepKind, acc: &mut Parsed) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "ERROR" => visit_section(child, text, kind, acc),
            "pair" => {
                if let Some(dep) = dependency(child, text, kind) {
                    acc.deps.push(dep);
                } else if let Some(value) = child.child_by_field_name("value")
                    && !value.is_missing()
                    && !matches!(value.kind(), "string" | "ERROR")
                {
                    acc.issues.push(SyntaxIssue {
                        span: Span::new(value.start_byte(), value.end_byte()),
                        message: "a dependency's version must be a string".to_string(),
                    });
                }
            }
            _ => {}
        }
    }
}

/// pnpm's `packageExtensions`: `{"<selector>": {"dependencies": {...}, "peerDependencies": {...}}}`
/// adds dependencies to the packages the selectors name; pnpm installs them (peers too, by default), so
/// each is a dependency of its own, like an override.
fn visit_extensions(node: tree_sitter::Node, text: &str, acc: &mut Parsed) {
    let mut cursor = node.walk();
    for extension in node.named_children(&mut cursor).filter(|n| n.kind() == "pair") {
        let Some(sections) = extension.child_by_field_name("value").filter(|v| v.kind() == "object") else {
            continue;
        };
        let mut cursor = sections.walk();
        for section in sections.named_children(&mut cursor).filter(|n| n.kind() == "pair") {
            let (Some(key), Some(deps)) = (section.child_by_field_name("key"), section.child_by_field_name("value"))
            else {
                continue;
            };
            let installs = string_value(key, text).is_some_and(|key| {
                matches!(
                    key.value.as_str(),
                    "dependencies" | "optionalDependencies" | "peerDependencies"
                )
            });
            if !installs || deps.kind() != "object" {
                continue;
            }
            let mut cursor = deps.walk();
            for pair in deps.named_children(&mut cursor).filter(|n| n.kind() == "pair") {
                if let Some(dep) = dependency(pair, text, &DepKind::Override) {
                    acc.deps.push(dep);
                }
            }
        }
    }
}

/// Override objects nest (npm: `"a": {"b": "1.0.0", ".": "2.0.0"}`); deeper than this is not a file
/// anyone writes, and is not followed.
const MAX_OVERRIDE_DEPTH: usize = 16;

/// The overrides of an `overrides` / `resolutions` / `pnpm.overrides` object; `parent` is the package
/// of the enclosing npm selector (what `"."` overrides).
fn visit_overrides(node: tree_sitter::Node, text: &str, parent: Option<&str>, depth: usize, acc: &mut Parsed) {
    if depth > MAX_OVERRIDE_DEPTH {
        return;
    }
    let mut cursor = node.walk();
    for pair in node.named_children(&mut cursor).filter(|n| n.kind() == "pair") {
        let (Some(key), Some(value)) = (pair.child_by_field_name("key"), pair.child_by_field_name("value")) else {
            continue;
        };
        let Some(key) = string_value(key, text) else {
            continue;
        };
        let (package, name_span) = if key.value == "." {
            match parent {
                Some(parent) => (parent.to_string(), key.span),
                None => continue,
            }
        } else {
            match override_target(&key.value) {
                Some(range) => (
                    key.value[range.clone()].to_string(),
                    key.sub_span(range.start, range.end),
                ),
                None => {
                    // The package manager installs what it forces all the same: not checked, never clean.
                    acc.deps.push(unreadable_override(&key.value, key.span, value, text));
                    continue;
                }
            }
        };
        match value.kind() {
            "object" => visit_overrides(value, text, Some(&package), depth + 1, acc),
            "string" => {
                if let Some(dep) = override_dependency(package, name_span, value, text) {
                    acc.deps.push(dep);
                }
            }
            _ => {}
        }
    }
}

/// The byte range of the package an override selector ends in: after the last `>` (pnpm's parent
/// chain), the last path segment, with its scope (Yarn's `**/a/@s/b`), without a version selector
/// (`b@<2`, `b@npm:1.0.0`). `None` when that is not a package name.
pub(crate) fn override_target(selector: &str) -> Option<std::ops::Range<usize>> {
    // pnpm's parent separator is a `>` after a name or version (`a@1>b`); one after ` `, `|` or `@`
    // belongs to a range (`b@>=1`, `b@<1 || >2`).
    let start = selector
        .char_indices()
        .rfind(|&(at, ch)| ch == '>' && at > 0 && !matches!(selector.as_bytes()[at - 1], b' ' | b'|' | b'@'))
        .map_or(0, |(at, _)| at + 1);
    let chain = &selector[start..];
    let slashes: Vec<usize> = chain.match_indices('/').map(|(at, _)| at).collect();
    let name_start = match slashes.as_slice() {
        [] => 0,
        [_] if chain.starts_with('@') => 0,
        [.., before, _] if chain[before + 1..].starts_with('@') => before + 1,
        [.., last] => last + 1,
    };
    let named = &chain[name_start..];
    // A version selector follows the name's first `@` after its scope.
    let scope_len = if named.starts_with('@') {
        named.find('/').map_or(named.len(), |at| at + 1)
    } else {
        0
    };
    let name_len = named[scope_len..].find('@').map_or(named.len(), |at| scope_len + at);
    let name = &named[..name_len];
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name != "**"
        && name != "*"
        && name
            .trim_start_matches('@')
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.' | '/' | '~'))
        && name.matches('/').count() == usize::from(name.starts_with('@'));
    valid.then(|| start + name_start..start + name_start + name_len)
}

/// An override whose selector names no package Gatehouse can read: listed as not checked.
fn unreadable_override(selector: &str, span: Span, value: tree_sitter::Node, text: &str) -> Dependency {
    unread_override(
        selector,
        span,
        string_value(value, text).map(|spec| spec.span),
        format!(
            "an override whose selector `{selector}` names no package Gatehouse can read: what it installs is not checked"
        ),
    )
}

/// An override (or added dependency) of `name` that Gatehouse cannot read: listed as not checked, with
/// `reason`.
pub(crate) fn unread_override(name: &str, span: Span, requirement_span: Option<Span>, reason: String) -> Dependency {
    Dependency {
        ecosystem: Ecosystem::Npm,
        name: name.to_string(),
        package: name.to_string(),
        name_span: span,
        requirement: None,
        requirement_span,
        kind: DepKind::Override,
        source: SourceKind::Unread(reason),
        registry: None,
        poetry_syntax: false,
        extras: Vec::new(),
        marker: None,
    }
}

/// What a project file other than package.json forces or adds for `package` (named at `name_span`)
/// with `spec`, read as npm reads a spec. `spec_span` is where `spec` is written byte for byte, when it
/// is (`None`: no requirement span, so no fix edits it).
pub(crate) fn forced_dependency(package: String, name_span: Span, spec: &str, spec_span: Option<Span>) -> Dependency {
    let written = JsonString {
        value: spec.to_string(),
        span: spec_span.unwrap_or(Span::new(name_span.start, name_span.start + spec.len())),
        origins: Vec::new(),
    };
    let mut dep = spec_dependency(package, name_span, &written, &classify(spec), DepKind::Override);
    if spec_span.is_none() {
        dep.requirement_span = None;
    }
    dep
}

/// npm's `$name` override value: the spec of the direct dependency `name` (any section), which need not
/// be the overridden package (`"flatmap-stream": "$harmless"` installs flatmap-stream at harmless's
/// spec). Each such override takes that spec; one naming no direct dependency is dropped (npm refuses
/// to install with it).
fn resolve_override_references(acc: &mut Parsed) {
    let direct: Vec<Dependency> = acc
        .deps
        .iter()
        .filter(|dep| dep.kind != DepKind::Override)
        .cloned()
        .collect();
    acc.deps.retain_mut(|dep| {
        if dep.kind != DepKind::Override || dep.source != SourceKind::Registry {
            return true;
        }
        let Some(name) = dep.requirement.as_deref().and_then(|r| r.trim().strip_prefix('$')) else {
            return true;
        };
        let Some(referenced) = direct.iter().find(|direct| direct.name == name) else {
            return false;
        };
        // The referenced spec replaces the override's: the same package at that range, or, for an
        // `npm:` alias, the aliased package.
        if referenced.source == SourceKind::Alias && referenced.package != referenced.name {
            dep.package = referenced.package.clone();
        }
        dep.source = referenced.source.clone();
        dep.requirement = referenced.requirement.clone();
        true
    });
}

/// An override of `package` to the spec in `value`: what gets installed for it.
fn override_dependency(package: String, name_span: Span, value: tree_sitter::Node, text: &str) -> Option<Dependency> {
    let spec = string_value(value, text)?;
    let trimmed = spec.value.trim();
    if trimmed.is_empty() || trimmed == "-" {
        return None;
    }
    let classified = if trimmed.starts_with('$') {
        // Resolved once the whole file is read (`resolve_override_references`).
        Classified::Registry
    } else {
        classify(&spec.value)
    };
    Some(spec_dependency(
        package,
        name_span,
        &spec,
        &classified,
        DepKind::Override,
    ))
}

fn dependency(pair: tree_sitter::Node, text: &str, kind: &DepKind) -> Option<Dependency> {
    let key = string_value(pair.child_by_field_name("key")?, text)?;
    let value = pair.child_by_field_name("value")?;
    if value.kind() != "string" {
        return None;
    }
    let spec = string_value(value, text)?;
    let classified = classify(&spec.value);
    Some(spec_dependency(key.value, key.span, &spec, &classified, kind.clone()))
}

/// The dependency `name` (at `name_span`) declared with `spec`, read as `classified`: an `npm:` alias
/// installs the aliased package at the alias's range (an empty package, Yarn's `npm:<range>`, is
/// `name` itself); anything else is `name` at the whole spec.
fn spec_dependency(
    name: String,
    name_span: Span,
    spec: &JsonString,
    classified: &Classified,
    kind: DepKind,
) -> Dependency {
    let (package, requirement, requirement_span) = match classified {
        Classified::Alias { package, range } => (
            Some(spec.value[package.clone()].to_string())
                .filter(|package| !package.is_empty())
                .unwrap_or_else(|| name.clone()),
            range.as_ref().map(|range| spec.value[range.clone()].to_string()),
            range.as_ref().map(|range| spec.sub_span(range.start, range.end)),
        ),
        _ => (name.clone(), Some(spec.value.clone()), Some(spec.span)),
    };
    Dependency {
        ecosystem: Ecosystem::Npm,
        name,
        package,
        name_span,
        requirement,
        requirement_span,
        kind,
        source: classified.source(&spec.value),
        registry: None,
        poetry_syntax: false,
        extras: Vec::new(),
        marker: None,
    }
}

/// How npm reads a dependency spec (npm-package-arg), without interpreting ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Classified {
    Registry,
    /// `npm:<package>[@<range>]`: byte ranges into the spec.
    Alias {
        package: std::ops::Range<usize>,
        range: Option<std::ops::Range<usize>>,
    },
    Path,
    Git,
    Url,
    Workspace,
}

impl Classified {
    fn source(&self, spec: &str) -> SourceKind {
        match self {
            Classified::Registry => SourceKind::Registry,
            Classified::Alias { .. } => SourceKind::Alias,
            Classified::Path => SourceKind::Path(spec.to_string()),
            Classified::Git => SourceKind::Git(spec.to_string()),
            Classified::Url => SourceKind::Url(spec.to_string()),
            Classified::Workspace => SourceKind::Workspace,
        }
    }
}

pub(crate) fn classify(spec: &str) -> Classified {
    let trimmed = spec.trim();
    let lower = trimmed.to_ascii_lowercase();
    if let Some(rest) = spec.strip_prefix("npm:") {
        // Yarn's `npm:<range>` (`npm:^1.2.0`, `npm:1.2.3`): the same package at that range; the alias's
        // package is then empty and the key names the package.
        if rest
            .trim_start()
            .starts_with(|ch: char| ch.is_ascii_digit() || matches!(ch, '^' | '~' | '<' | '>' | '=' | '*'))
        {
            let base = "npm:".len();
            return Classified::Alias {
                package: base..base,
                range: Some(base..spec.len()),
            };
        }
        // A scoped name starts with `@`, so the version separator is the first `@` after it.
        let search_from = usize::from(rest.starts_with('@'));
        let base = "npm:".len();
        return match rest[search_from..].find('@') {
            Some(at) => {
                let at = base + search_from + at;
                Classified::Alias {
                    package: base..at,
                    range: Some(at + 1..spec.len()),
                }
            }
            None => Classified::Alias {
                package: base..spec.len(),
                range: None,
            },
        };
    }
    if lower.starts_with("workspace:") {
        return Classified::Workspace;
    }
    if lower.starts_with("file:")
        || lower.starts_with("link:")
        || lower.starts_with("portal:")
        || trimmed.starts_with("./")
        || trimmed.starts_with("../")
        || trimmed.starts_with('/')
        || trimmed.starts_with("~/")
    {
        return Classified::Path;
    }
    if lower.starts_with("git+")
        || lower.starts_with("git://")
        || lower.starts_with("github:")
        || lower.starts_with("gitlab:")
        || lower.starts_with("bitbucket:")
        || lower.starts_with("gist:")
        || lower.starts_with("git@")
    {
        return Classified::Git;
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        // npm-package-arg reads URLs of known git hosts and `.git` URLs as git repositories.
        let without_ref = lower.split('#').next().unwrap_or(&lower);
        let host = without_ref.split("://").nth(1).unwrap_or("");
        let host = host.split('/').next().unwrap_or("");
        let host = host.rsplit('@').next().unwrap_or(host);
        if without_ref.ends_with(".git") || matches!(host, "github.com" | "gitlab.com" | "bitbucket.org") {
            return Classified::Git;
        }
        return Classified::Url;
    }
    if is_github_shorthand(trimmed) {
        return Classified::Git;
    }
    Classified::Registry
}

/// npm reads `user/repo` and `user/repo#ref` as a GitHub repository.
fn is_github_shorthand(spec: &str) -> bool {
    let repo = spec.split('#').next().unwrap_or(spec);
    let mut parts = repo.split('/');
    let (Some(user), Some(project), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
    };
    !user.starts_with('.') && ok(user) && ok(project)
}

/// A JSON string's value and the span of its text inside the quotes.
pub(crate) struct JsonString {
    pub value: String,
    pub span: Span,
    /// For strings with escapes: for each byte of `value`, the range of the text (relative to
    /// `span.start`) it was decoded from. Empty when the text has no escapes.
    origins: Vec<(usize, usize)>,
}

impl JsonString {
    /// The span of `value[start..end]` in the text; exact even when the string has escapes.
    pub(crate) fn sub_span(&self, start: usize, end: usize) -> Span {
        let origins = (!self.origins.is_empty()).then_some(self.origins.as_slice());
        crate::manifest::unescaped_sub_span(self.span, origins, start, end)
    }
}

pub(crate) fn string_value(node: tree_sitter::Node, text: &str) -> Option<JsonString> {
    if node.kind() != "string" {
        return None;
    }
    let raw = text.get(node.start_byte()..node.end_byte())?;
    let inner = raw.strip_prefix('"')?;
    // An unterminated string (half-typed) has no closing quote; its content runs to the node's end.
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let start = node.start_byte() + 1;
    let span = Span::new(start, start + inner.len());
    if !inner.contains('\\') {
        return Some(JsonString {
            value: inner.to_string(),
            span,
            origins: Vec::new(),
        });
    }
    let (value, origins) = unescape(inner);
    Some(JsonString { value, span, origins })
}

/// RFC 8259 escapes, with where each decoded byte came from; an invalid escape is kept as written.
fn unescape(inner: &str) -> (String, Vec<(usize, usize)>) {
    let mut value = String::with_capacity(inner.len());
    let mut origins = Vec::with_capacity(inner.len());
    let mut push = |value: &mut String, ch: char, from: usize, to: usize| {
        value.push(ch);
        origins.extend(std::iter::repeat_n((from, to), ch.len_utf8()));
    };
    let hex4 = |at: usize| inner.get(at..at + 4).and_then(|hex| u32::from_str_radix(hex, 16).ok());
    let mut at = 0;
    while let Some(ch) = inner[at..].chars().next() {
        if ch != '\\' {
            push(&mut value, ch, at, at + ch.len_utf8());
            at += ch.len_utf8();
            continue;
        }
        let Some(next) = inner[at + 1..].chars().next() else {
            push(&mut value, '\\', at, at + 1);
            break;
        };
        let simple = match next {
            '"' => Some('"'),
            '\\' => Some('\\'),
            '/' => Some('/'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            _ => None,
        };
        if let Some(decoded) = simple {
            push(&mut value, decoded, at, at + 2);
            at += 2;
            continue;
        }
        if next == 'u'
            && let Some(high) = hex4(at + 2)
        {
            // A UTF-16 surrogate pair is two escapes for one char.
            let pair = (0xD800..0xDC00).contains(&high) && inner.get(at + 6..at + 8) == Some("\\u");
            let low = if pair {
                hex4(at + 8).filter(|low| (0xDC00..0xE000).contains(low))
            } else {
                None
            };
            let (code, len) = match low {
                Some(low) => (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), 12),
                None => (high, 6),
            };
            push(&mut value, char::from_u32(code).unwrap_or('\u{fffd}'), at, at + len);
            at += len;
            continue;
        }
        push(&mut value, '\\', at, at + 1);
        at += 1;
    }
    (value, origins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{parse, tests::render};

    fn check(text: &str) -> String {
        render(&parse(ManifestKind::PackageJson, text), text)
    }

    /// Overrides force a version wherever the tree pulls the package in: each is a dependency of its
    /// own, named by the package its selector ends in, on the override's value.
    #[test]
    fn overrides_resolutions_and_pnpm_overrides_are_dependencies_of_their_own() {
        let text = r#"{
  "dependencies": {"event-stream": "3.3.6", "a": "^1.0.0"},
  "overrides": {
    "flatmap-stream": "0.1.1",
    "b@<2": "2.0.0",
    "c": {".": "3.0.0", "@s/d": "4.0.0", "e@1": {"f": "npm:g@5.0.0"}},
    "a": "$a",
    "h": "github:evil/h"
  },
  "resolutions": {"**/i": "6.0.0", "j/@s/k": "7.0.0", "@s/l": "8.0.0", "m@npm:1.0.0": "9.0.0", "**": "1"},
  "pnpm": {"overrides": {"n@1>o": "10.0.0", "p": "-", "q>@s/r@<3": "11.0.0"}},
  "scripts": {"overrides": "not a section"}
}"#;
        let parsed = parse(ManifestKind::PackageJson, text);
        let overrides: Vec<(String, String, String, String)> = parsed
            .deps
            .iter()
            .filter(|dep| dep.kind == DepKind::Override)
            .map(|dep| {
                (
                    dep.name.clone(),
                    dep.package.clone(),
                    text[dep.name_span.start..dep.name_span.end].to_string(),
                    dep.requirement_span
                        .map(|span| text[span.start..span.end].to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let expected = [
            ("flatmap-stream", "flatmap-stream", "flatmap-stream", "0.1.1"),
            ("b", "b", "b", "2.0.0"),
            ("c", "c", ".", "3.0.0"),
            ("@s/d", "@s/d", "@s/d", "4.0.0"),
            ("f", "g", "f", "5.0.0"),
            // `$a`: the direct dependency's own spec (shown on the reference).
            ("a", "a", "a", "$a"),
            ("h", "h", "h", "github:evil/h"),
            ("i", "i", "i", "6.0.0"),
            ("@s/k", "@s/k", "@s/k", "7.0.0"),
            ("@s/l", "@s/l", "@s/l", "8.0.0"),
            ("m", "m", "m", "9.0.0"),
            // A selector naming no package: listed, not checked.
            ("**", "**", "**", "1"),
            ("o", "o", "o", "10.0.0"),
            ("@s/r", "@s/r", "@s/r", "11.0.0"),
        ]
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), d.to_string()));
        assert_eq!(overrides, expected);
        let h = parsed.deps.iter().find(|dep| dep.name == "h").unwrap();
        assert!(matches!(&h.source, SourceKind::Git(_)), "{h:?}");
        assert_eq!(
            parsed.deps.iter().filter(|dep| dep.kind != DepKind::Override).count(),
            2
        );
        assert!(parsed.issues.is_empty(), "{:?}", parsed.issues);
    }

    /// Review fixes: a range selector (`b@>=1`) is not pnpm's parent separator; `$name` takes the spec of
    /// any direct dependency; Yarn's `npm:<range>` keeps the package; a selector that names no readable
    /// package is listed (never dropped).
    #[test]
    fn range_selectors_references_and_unreadable_overrides() {
        let text = r#"{
  "dependencies": {"harmless": "0.1.1", "event-stream": "3.3.6"},
  "devDependencies": {"aliased": "npm:other@^2.0.0"},
  "overrides": {
    "event-stream@>=3": {"flatmap-stream": "0.1.1"},
    "x@<1 || >2": "1.0.0",
    "flatmap-stream": "$harmless",
    "y": "$aliased",
    "z": "$missing",
    "???": "1.0.0"
  },
  "resolutions": {"w": "npm:0.1.1"}
}"#;
        let parsed = parse(ManifestKind::PackageJson, text);
        let got: Vec<(String, String, Option<String>)> = parsed
            .deps
            .iter()
            .filter(|dep| dep.kind == DepKind::Override)
            .map(|dep| (dep.name.clone(), dep.package.clone(), dep.requirement.clone()))
            .collect();
        let want = [
            ("flatmap-stream", "flatmap-stream", Some("0.1.1")),
            ("x", "x", Some("1.0.0")),
            ("flatmap-stream", "flatmap-stream", Some("0.1.1")),
            ("y", "other", Some("^2.0.0")),
            ("???", "???", None),
            ("w", "w", Some("0.1.1")),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.map(str::to_string)));
        assert_eq!(got, want);
        let unread = parsed.deps.iter().find(|dep| dep.name == "???").unwrap();
        assert!(
            matches!(&unread.source, SourceKind::Unread(why) if why.contains("???")),
            "{unread:?}"
        );
        let w = parsed.deps.iter().find(|dep| dep.name == "w").unwrap();
        assert_eq!(w.source, SourceKind::Alias);
    }

    #[test]
    fn sections_and_kinds() {
        insta::assert_snapshot!(check(
            r#"{
  "name": "x",
  "dependencies": { "lodash": "^4.17.21", "@scope/pkg": "~1.2.3" },
  "devDependencies": {
    "jest": ">=29 <30"
  },
  "optionalDependencies": { "fsevents": "*" },
  "peerDependencies": { "react": "^18 || ^19" },
  "scripts": { "dependencies": "not a section" }
}"#
        ));
    }

    #[test]
    fn aliases_and_sources() {
        insta::assert_snapshot!(check(
            r#"{"dependencies": {
  "a": "npm:other@^1.2",
  "b": "npm:@s/o@^1",
  "c": "npm:bare",
  "d": "file:../d",
  "e": "link:../e",
  "f": "git+https://github.com/x/f.git#v1",
  "g": "github:x/g",
  "h": "user/repo#main",
  "i": "https://example.com/i.tgz",
  "j": "workspace:*",
  "k": "1.0.0 - 2.0.0",
  "l": "latest",
  "m": 1,
  "n": "https://github.com/x/n.git",
  "o": "git@github.com:x/o.git",
  "p\u00fc": "npm:\u00fcber@\u005e1.0 \ud83d\ude00"
}}"#
        ));
    }

    #[test]
    fn non_ascii_crlf_tabs_escapes() {
        insta::assert_snapshot!(check(
            "{\r\n\t\"description\": \"größe ✓\",\r\n\t\"dependencies\": {\r\n\t\t\"ünï\": \"^1.0.0\",\r\n\t\t\"esc\\u0061ped\": \"\\u005e2.0.0\"\r\n\t}\r\n}\r\n"
        ));
    }

    #[test]
    fn broken_json_keeps_pairs_outside_damage() {
        insta::assert_snapshot!(check(
            r#"{
  "dependencies": {
    "a": "^1.0.0"
    "b": "^2.0.0",
    "c": ,
    "d": "^4.0.0"
  },
  "devDependencies": { "e": "^5
"#
        ));
    }

    #[test]
    fn flattened_error_keeps_its_section() {
        insta::assert_snapshot!(check(
            "{\"name\": \"x\", \"dependencies\": {\"a\": \"1\", \"b\": \"2\","
        ));
    }

    #[test]
    fn half_typed_entry() {
        insta::assert_snapshot!(check(
            "{\n  \"dependencies\": {\n    \"react\": \"^18.2.0\",\n    \"reac\n  }\n}\n"
        ));
    }

    #[test]
    fn real_files() {
        for path in [
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/manifests/large/webpack/package.json"
            ),
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/manifests/npm/package-json-undici/package.json"
            ),
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../fixtures/manifests/npm/package-json-with-deps/package.json"
            ),
        ] {
            let text = std::fs::read_to_string(path).unwrap();
            let parsed = parse(ManifestKind::PackageJson, &text);
            assert!(parsed.issues.is_empty(), "{path}: {:?}", parsed.issues);
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let expected: usize = [
                "dependencies",
                "devDependencies",
                "optionalDependencies",
                "peerDependencies",
            ]
            .iter()
            .filter_map(|section| value.get(section).and_then(|s| s.as_object()).map(|s| s.len()))
            .sum();
            assert_eq!(parsed.deps.len(), expected, "{path}");
            for dep in &parsed.deps {
                assert_eq!(&text[dep.name_span.start..dep.name_span.end], dep.name);
            }
        }
    }

    #[test]
    fn webpack_snapshot() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/manifests/large/webpack/package.json"
        ))
        .unwrap();
        insta::assert_snapshot!(render(&parse(ManifestKind::PackageJson, &text), &text));
    }
}
