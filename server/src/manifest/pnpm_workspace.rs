//! `pnpm-workspace.yaml` → the versions it makes pnpm install that no `package.json` names: pnpm 10
//! reads `overrides` (forced on a package wherever the tree pulls it in) and `packageExtensions`
//! (dependencies added to other packages) here. `.yarnrc.yml` → the same for Yarn's
//! `packageExtensions`. Each is a dependency of its own (`DepKind::Override`), checked on its own line;
//! members' `catalog:` specs are resolved where they are used, not here.
//!
//! Invariants:
//! - What the file means is read by the YAML parse every pnpm file goes through (`read_yaml`); where it
//!   is written is found afterwards by a scan of block-mapping keys (`Places`). A key the scan cannot
//!   find (flow style, escapes) takes the span of its nearest enclosing key that it can: a finding is
//!   never lost for want of a position.
//! - A value's place (and with it any edit) stands only if a second parse confirms it
//!   (`verify_places`); one it does not confirm moves the finding to the start of the file.
//! - An override's selector is read as package.json's are (`a>b@<2` → `b`); its value as npm reads a
//!   spec; `catalog:` / `catalog:<name>` takes the range of this file's catalog; `-` installs nothing.
//! - What cannot be read is listed as not checked (`SourceKind::Unread`), never dropped: a `$name`
//!   reference (the root package.json's dependency), a selector that names no package, a value that is
//!   not a scalar, a catalog that does not define the package, and a file that does not parse (an issue).

use serde_yaml_ng::Value;

use crate::manifest::npm;
use crate::manifest::{Dependency, ManifestKind, Parsed, SyntaxIssue};
use crate::model::Span;

/// The sections of a `packageExtensions` entry whose packages pnpm installs (peers too: pnpm installs
/// missing peers by default).
const EXTENSION_SECTIONS: [&str; 3] = ["dependencies", "optionalDependencies", "peerDependencies"];

pub fn extract(text: &str) -> Parsed {
    read(text, ManifestKind::PnpmWorkspace)
}

/// `.yarnrc.yml`: Yarn's `packageExtensions` have the same shape (Yarn has no `overrides` there; its
/// `resolutions` are in package.json).
pub fn extract_yarnrc(text: &str) -> Parsed {
    read(text, ManifestKind::YarnRc)
}

fn read(text: &str, kind: ManifestKind) -> Parsed {
    let mut res = Parsed::empty(kind);
    let file = if kind == ManifestKind::YarnRc {
        ".yarnrc.yml"
    } else {
        "pnpm-workspace.yaml"
    };
    let value = match crate::manifest::lockfiles::read_yaml::<Option<Value>>(text) {
        Ok(value) => value.unwrap_or(Value::Null),
        Err(error) => {
            res.issues.push(SyntaxIssue {
                span: error_span(text, &error),
                message: format!("invalid {file}: {error}"),
            });
            return res;
        }
    };
    // pnpm reads with js-yaml's core schema (merge keys, typed scalars); Yarn with its failsafe schema
    // (no merge keys, every scalar the string it is written as).
    let yarn = kind == ManifestKind::YarnRc;
    let Doc::Map(top) = Doc::read(value, 0, !yarn) else {
        return res;
    };
    let places = Places::scan(text);
    let catalogs = Catalogs::of(&top);
    // Each dependency's key path and where its whole value is written, for `verify_places`.
    let mut paths: Vec<(Vec<String>, Option<Span>)> = Vec::new();
    let overrides = (kind == ManifestKind::PnpmWorkspace).then_some("overrides");
    for overrides in overrides.into_iter().flat_map(|key| entries(&top, key)) {
        for (selector, value) in overrides {
            let path = ["overrides", selector.as_str()];
            let at = places.locate(&path);
            if let Some(dep) = forced(text, selector, value, &at, &catalogs, None) {
                res.deps.push(dep);
                paths.push(placed_path(&path, &at));
            }
        }
    }
    for extensions in entries(&top, "packageExtensions") {
        for (selector, extension) in extensions {
            let Doc::Map(extension) = extension else {
                continue;
            };
            // Yarn installs an extension's `dependencies` only (its peers are not installed for it).
            let sections = if yarn {
                &EXTENSION_SECTIONS[..1]
            } else {
                &EXTENSION_SECTIONS[..]
            };
            for section in sections {
                for deps in entries(extension, section) {
                    for (name, spec) in deps {
                        let path = ["packageExtensions", selector.as_str(), section, name.as_str()];
                        let at = places.locate(&path);
                        let spec = if yarn { spec.as_written(text, &at) } else { spec.clone() };
                        if let Some(dep) = forced(text, name, &spec, &at, &catalogs, Some(name)) {
                            res.deps.push(dep);
                            paths.push(placed_path(&path, &at));
                        }
                    }
                }
            }
        }
    }
    verify_places(text, yarn, &mut res.deps, &paths);
    res
}

/// A dependency's key path, and where its whole value is written when its place is exact.
fn placed_path(path: &[&str], at: &Located) -> (Vec<String>, Option<Span>) {
    (
        path.iter().map(|part| part.to_string()).collect(),
        at.value.filter(|_| at.exact),
    )
}

/// Checks every exact place against the parse: each placed value is replaced with a marker of its own,
/// the text parsed again, and a place stands only if its marker is then the value at its dependency's
/// path. The line scan can take text inside a string or a flow collection for a key (a decoy
/// `overrides:` line in a quoted scalar); such a place is dropped, with its edits: the finding stays,
/// at the start of the file. One more parse of the file, whatever its size.
fn verify_places(text: &str, yarn: bool, deps: &mut [Dependency], paths: &[(Vec<String>, Option<Span>)]) {
    let mut placed: Vec<(usize, Span)> = deps
        .iter()
        .zip(paths)
        .enumerate()
        .filter_map(|(idx, (dep, (_, value)))| dep.requirement_span.and(*value).map(|span| (idx, span)))
        .collect();
    if placed.is_empty() {
        return;
    }
    placed.sort_by_key(|(_, span)| span.start);
    let marker = |idx: usize| format!("gatehouseprobe{idx}x");
    let mut probe = String::with_capacity(text.len() + placed.len() * 24);
    let mut copied = 0;
    let mut replaced: Vec<usize> = Vec::new();
    for (idx, span) in &placed {
        // Overlapping spans (two dependencies on one value) cannot both be probed: neither stands.
        if span.start < copied {
            continue;
        }
        probe.push_str(&text[copied..span.start]);
        probe.push_str(&marker(*idx));
        copied = span.end;
        replaced.push(*idx);
    }
    probe.push_str(&text[copied..]);
    // Where each marker landed: its dependency's index → the path it is the value of.
    let mut landed: std::collections::HashMap<usize, Vec<String>> = std::collections::HashMap::new();
    if let Ok(Some(value)) = crate::manifest::lockfiles::read_yaml::<Option<Value>>(&probe) {
        Doc::read(value, 0, !yarn).markers(&mut Vec::new(), &mut landed);
    }
    let replaced: std::collections::HashSet<usize> = replaced.into_iter().collect();
    for (idx, dep) in deps.iter_mut().enumerate() {
        if dep.requirement_span.is_none() {
            continue;
        }
        let holds = replaced.contains(&idx) && landed.get(&idx).is_some_and(|path| *path == paths[idx].0);
        if !holds {
            dep.requirement_span = None;
            dep.name_span = Span::new(0, 0);
        }
    }
}

/// The YAML document as pnpm's reader (js-yaml) hands it over: merge keys (`<<`) applied (explicit
/// keys win, then the merged mappings in order), every key as the string JavaScript makes of it (a
/// sequence key `[a]` is `"a"`), tags dropped. Entries keep their order; a key that appears twice (after
/// merging spellings) is kept twice, so each is checked.
#[derive(Debug, Clone, PartialEq)]
enum Doc {
    Scalar(String),
    /// A number or a boolean (typed by the core schema), as the parse printed it.
    Typed(String),
    Seq(Vec<Doc>),
    Map(Vec<(String, Doc)>),
    Null,
}

/// Deeper than this is not read: above the YAML parse's own limit (128 levels), so never reached.
const MAX_DOC_DEPTH: usize = 512;

impl Doc {
    /// `merge`: apply merge keys (js-yaml's core schema); without it `<<` is a key like any other.
    fn read(value: Value, depth: usize, merge: bool) -> Doc {
        if depth > MAX_DOC_DEPTH {
            return Doc::Null;
        }
        match value {
            Value::Null => Doc::Null,
            Value::Bool(b) => Doc::Typed(b.to_string()),
            Value::Number(n) => Doc::Typed(n.to_string()),
            Value::String(s) => Doc::Scalar(s),
            Value::Sequence(items) => Doc::Seq(
                items
                    .into_iter()
                    .map(|item| Doc::read(item, depth + 1, merge))
                    .collect(),
            ),
            Value::Tagged(tagged) => Doc::read(tagged.value, depth, merge),
            Value::Mapping(mapping) => {
                let mut own: Vec<(String, Doc)> = Vec::new();
                let mut merged: Vec<(String, Doc)> = Vec::new();
                for (key, value) in mapping {
                    let value = Doc::read(value, depth + 1, merge);
                    if merge && key.as_str() == Some("<<") {
                        match value {
                            Doc::Map(entries) => merged.extend(entries),
                            Doc::Seq(items) => {
                                for item in items {
                                    if let Doc::Map(entries) = item {
                                        merged.extend(entries);
                                    }
                                }
                            }
                            _ => {}
                        }
                    } else {
                        own.push((key_text(&key), value));
                    }
                }
                let mut known: std::collections::HashSet<String> = own.iter().map(|(key, _)| key.clone()).collect();
                for (key, value) in merged {
                    if known.insert(key.clone()) {
                        own.push((key, value));
                    }
                }
                Doc::Map(own)
            }
        }
    }

    /// Every `verify_places` marker in the document, with the key path it is the value of (the first
    /// place a marker is found wins).
    fn markers(&self, path: &mut Vec<String>, acc: &mut std::collections::HashMap<usize, Vec<String>>) {
        match self {
            Doc::Scalar(text) | Doc::Typed(text) => {
                if let Some(idx) = text
                    .strip_prefix("gatehouseprobe")
                    .and_then(|rest| rest.strip_suffix('x'))
                    .and_then(|idx| idx.parse::<usize>().ok())
                {
                    acc.entry(idx).or_insert_with(|| path.clone());
                }
            }
            Doc::Map(entries) => {
                for (key, value) in entries {
                    path.push(key.clone());
                    value.markers(path, acc);
                    path.pop();
                }
            }
            Doc::Seq(items) => {
                for item in items {
                    path.push("-".to_string());
                    item.markers(path, acc);
                    path.pop();
                }
            }
            Doc::Null => {}
        }
    }

    /// A typed scalar as it is written (Yarn reads `1.10` as the text `1.10`, not the number 1.1), when
    /// its place is known exactly; anything else as it is.
    fn as_written(&self, text: &str, at: &Located) -> Doc {
        match (self, at.value) {
            (Doc::Typed(_), Some(span)) if at.exact => Doc::Scalar(text[span.start..span.end].to_string()),
            // Its text is not known (the parse printed `1.10` as `1.1`): not guessed, so not read.
            (Doc::Typed(_), _) => Doc::Null,
            (other, _) => other.clone(),
        }
    }
}

/// The string JavaScript makes of a YAML key (js-yaml keys objects by `String(key)`).
fn key_text(key: &Value) -> String {
    match key {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Sequence(items) => items.iter().map(key_text).collect::<Vec<_>>().join(","),
        Value::Mapping(_) => "[object Object]".to_string(),
        Value::Tagged(tagged) => key_text(&tagged.value),
    }
}

/// The mappings under `key` in `map` (every entry spelled `key`, in order).
fn entries<'d>(map: &'d [(String, Doc)], key: &'d str) -> impl Iterator<Item = &'d [(String, Doc)]> + 'd {
    map.iter().filter_map(move |(name, value)| match value {
        Doc::Map(entries) if name == key => Some(entries.as_slice()),
        _ => None,
    })
}

/// The dependency an override (`package` is `None`: the selector names it) or an extension's entry
/// (`package` given) installs.
fn forced(
    text: &str,
    key: &str,
    value: &Doc,
    at: &Located,
    catalogs: &Catalogs,
    package: Option<&str>,
) -> Option<Dependency> {
    let (package, name_span) = match package {
        Some(package) => (package.to_string(), at.key),
        None => match npm::override_target(key) {
            Some(range) => (
                key[range.clone()].to_string(),
                if at.exact {
                    Span::new(at.key.start + range.start, at.key.start + range.end)
                } else {
                    at.key
                },
            ),
            None => {
                return Some(npm::unread_override(
                    key,
                    at.key,
                    at.value,
                    format!(
                        "an override whose selector `{key}` names no package Gatehouse can read: what it installs is not checked"
                    ),
                ));
            }
        },
    };
    let (Doc::Scalar(spec) | Doc::Typed(spec)) = value else {
        return Some(npm::unread_override(
            &package,
            name_span,
            at.value,
            format!("the version forced on {package} is not a string Gatehouse can read: not checked"),
        ));
    };
    let spec = spec.trim().to_string();
    if spec.is_empty() || spec == "-" {
        return None;
    }
    if spec.starts_with('$') {
        return Some(npm::unread_override(
            &package,
            name_span,
            at.value,
            format!(
                "the version forced on {package} is `{spec}`, the root package.json's dependency: not checked here"
            ),
        ));
    }
    let value_span = at
        .value
        .filter(|span| at.exact && text.get(span.start..span.end) == Some(spec.as_str()));
    if let Some(catalog) = spec.strip_prefix("catalog:") {
        let catalog = match catalog.trim() {
            "" => "default",
            named => named,
        };
        return Some(match catalogs.range(catalog, &package) {
            Some(range) => npm::forced_dependency(package, name_span, range, None),
            None => npm::unread_override(
                &package,
                name_span,
                value_span,
                format!("`{spec}` forced on {package}, but that catalog does not define it: not checked"),
            ),
        });
    }
    Some(npm::forced_dependency(package, name_span, &spec, value_span))
}

/// The file's catalogs: `catalog` (the default) and `catalogs.<name>`.
struct Catalogs(Vec<(String, String, String)>);

impl Catalogs {
    fn of(top: &[(String, Doc)]) -> Catalogs {
        let mut res = Vec::new();
        let mut add = |catalog: &str, entries: &[(String, Doc)]| {
            for (name, range) in entries {
                if let Doc::Scalar(range) | Doc::Typed(range) = range {
                    res.push((catalog.to_string(), name.clone(), range.clone()));
                }
            }
        };
        for entries in entries(top, "catalog") {
            add("default", entries);
        }
        for named in entries(top, "catalogs") {
            for (catalog, entries) in named {
                if let Doc::Map(entries) = entries {
                    add(catalog, entries);
                }
            }
        }
        Catalogs(res)
    }

    fn range(&self, catalog: &str, package: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(c, name, _)| c == catalog && name == package)
            .map(|(_, _, range)| range.as_str())
    }
}

/// Where a key path was found: the key's span (of the deepest key found along the path), and its
/// value's when it is a scalar on the key's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Located {
    key: Span,
    value: Option<Span>,
    /// Whether the whole path was found, with the last key's text exactly the key (no quotes' escapes).
    exact: bool,
}

/// The sections whose keys are placed (`Places`); nothing else is looked up.
const PLACED: [&str; 2] = ["overrides", "packageExtensions"];

/// Paths longer than this are not placed (`packageExtensions.<selector>.<section>.<name>` is four).
const MAX_PLACED_DEPTH: usize = 4;

/// Where each block-mapping key under `PLACED` is written, by its key path: one pass over the lines,
/// skipping the insides of multi-line quoted scalars and block scalars (whose lines only look like keys).
/// The first spelling of a path wins; keys inside sequences are not placed.
/// A path written twice is ambiguous (the parse refuses a repeated key, so one of them is inside
/// something the scan took for keys): nothing at or below it is placed exactly.
struct Places(std::collections::HashMap<Vec<String>, Placed>);

struct Placed {
    key: Span,
    value: Option<Span>,
    ambiguous: bool,
}

impl Places {
    fn scan(text: &str) -> Places {
        let mut res = std::collections::HashMap::new();
        // Open keys (and sequence items, as `-`) by indentation.
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut open_quote: Option<u8> = None;
        let mut block_above: Option<usize> = None;
        let mut start = 0;
        for raw in text.split_inclusive('\n') {
            let line_start = start;
            start += raw.len();
            let line = raw.trim_end_matches(['\n', '\r']);
            if let Some(quote) = open_quote {
                // What follows the closing quote on its line is not a key either.
                if closing_quote(line.as_bytes(), quote).is_some() {
                    open_quote = None;
                }
                continue;
            }
            let body = line.trim_start_matches(' ');
            let indent = line.len() - body.len();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            if let Some(above) = block_above {
                if indent > above {
                    continue;
                }
                block_above = None;
            }
            while stack.last().is_some_and(|(open, _)| *open >= indent) {
                stack.pop();
            }
            let (content, content_at) = match body
                .strip_prefix('-')
                .filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
            {
                Some(rest) => {
                    // A sequence item: its inside is not placed, but a string it opens is skipped.
                    stack.push((indent, "-".to_string()));
                    let item = rest.trim_start_matches([' ', '\t']);
                    (item, line.len() - item.len())
                }
                None => (body, indent),
            };
            let Some((key, value, opens)) = block_key(content) else {
                open_quote = opens_quote(content);
                continue;
            };
            let shift =
                |span: Span| Span::new(line_start + content_at + span.start, line_start + content_at + span.end);
            let key_text = content[key.start..key.end].to_string();
            if content_at == indent {
                let mut path: Vec<String> = stack.iter().map(|(_, key)| key.clone()).collect();
                path.push(key_text.clone());
                if path.len() <= MAX_PLACED_DEPTH && PLACED.contains(&path[0].as_str()) {
                    res.entry(path)
                        .and_modify(|placed: &mut Placed| placed.ambiguous = true)
                        .or_insert(Placed {
                            key: shift(key),
                            value: value.map(shift),
                            ambiguous: false,
                        });
                }
                stack.push((indent, key_text));
            }
            match opens {
                Opens::Quote(quote) => open_quote = Some(quote),
                Opens::Block => block_above = Some(indent),
                Opens::Nothing => {}
            }
        }
        Places(res)
    }

    /// Where `path` is written: its key (and value) when found, else the nearest enclosing key found,
    /// else the start of the file (`exact: false`).
    fn locate(&self, path: &[&str]) -> Located {
        let prefix = |len: usize| -> Vec<String> { path[..len].iter().map(|part| part.to_string()).collect() };
        for len in (1..=path.len()).rev() {
            if let Some(placed) = self.0.get(&prefix(len)) {
                let unambiguous =
                    (1..=len).all(|above| self.0.get(&prefix(above)).is_some_and(|placed| !placed.ambiguous));
                let exact = len == path.len() && unambiguous;
                return Located {
                    key: placed.key,
                    value: if exact { placed.value } else { None },
                    exact,
                };
            }
        }
        Located {
            key: Span::new(0, 0),
            value: None,
            exact: false,
        }
    }
}

/// What a value leaves open past its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opens {
    Nothing,
    /// A quoted scalar that continues on the next lines.
    Quote(u8),
    /// A block scalar (`|`, `>`): the more indented lines below are its text.
    Block,
}

/// A block mapping entry `key: value` in `body` (which starts at the key): the key's span (inside its
/// quotes), its scalar value's on the same line (inside its quotes, without a trailing comment), and what
/// the value leaves open. `None` when `body` is not such an entry.
fn block_key(body: &str) -> Option<(Span, Option<Span>, Opens)> {
    let (key, after_key) = match body.as_bytes().first()? {
        quote @ (b'"' | b'\'') => {
            let end = 1 + closing_quote(&body.as_bytes()[1..], *quote)?;
            (Span::new(1, end), end + 1)
        }
        _ => {
            let (colon, _) = body.match_indices(':').find(|(at, _)| {
                let after = &body[at + 1..];
                after.is_empty() || after.starts_with([' ', '\t'])
            })?;
            (Span::new(0, body[..colon].trim_end().len()), colon)
        }
    };
    let rest = body[after_key..].trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let mut value_at = body.len() - rest.trim_start_matches([' ', '\t']).len();
    // Node properties (`&anchor`, `!tag`) before the value: the value follows them.
    while body[value_at..].starts_with(['&', '!']) {
        let token_end = body[value_at..]
            .find([' ', '\t'])
            .map_or(body.len(), |end| value_at + end);
        value_at = body.len() - body[token_end..].trim_start_matches([' ', '\t']).len();
    }
    let value = &body[value_at..];
    let (span, opens) = match value.as_bytes().first() {
        Some(b'{' | b'[') => (None, flow_open_quote(value).map_or(Opens::Nothing, Opens::Quote)),
        None | Some(b'#' | b'*') => (None, Opens::Nothing),
        Some(b'|' | b'>') => (None, Opens::Block),
        Some(quote @ (b'"' | b'\'')) => match closing_quote(&value.as_bytes()[1..], *quote) {
            Some(end) => (Some(Span::new(value_at + 1, value_at + 1 + end)), Opens::Nothing),
            None => (None, Opens::Quote(*quote)),
        },
        Some(_) => {
            let end = value.find(" #").or_else(|| value.find("\t#")).unwrap_or(value.len());
            (
                Some(Span::new(
                    value_at,
                    value_at + value[..end].trim_end_matches([' ', '\t']).len(),
                )),
                Opens::Nothing,
            )
        }
    };
    Some((key, span, opens))
}

/// The quote a flow collection's line leaves open at its end, if any: a quoted scalar starts at the
/// start of a flow entry or value (after `[`, `{`, `,` or `:` and spaces).
fn flow_open_quote(line: &str) -> Option<u8> {
    let bytes = line.as_bytes();
    let mut at = 0;
    let mut entry_start = true;
    while at < bytes.len() {
        match bytes[at] {
            quote @ (b'"' | b'\'') if entry_start => match closing_quote(&bytes[at + 1..], quote) {
                Some(end) => {
                    at += end + 2;
                    entry_start = false;
                    continue;
                }
                None => return Some(quote),
            },
            b'[' | b'{' | b',' | b':' => entry_start = true,
            b' ' | b'\t' => {}
            // A comment (`#` after a space, or at an entry's start) ends the line's content.
            b'#' if entry_start || at == 0 || matches!(bytes[at - 1], b' ' | b'\t') => return None,
            _ => entry_start = false,
        }
        at += 1;
    }
    None
}

/// A line that is not a key entry (a sequence item's scalar) but opens a quoted scalar it does not close.
fn opens_quote(content: &str) -> Option<u8> {
    match content.as_bytes().first() {
        Some(quote @ (b'"' | b'\'')) if closing_quote(&content.as_bytes()[1..], *quote).is_none() => Some(*quote),
        _ => None,
    }
}

/// The index of the quote that closes a `quote`-quoted scalar in `bytes` (which start after the
/// opening quote): `"` not escaped by `\\`; `'` not doubled (`''` is a quote inside).
fn closing_quote(bytes: &[u8], quote: u8) -> Option<usize> {
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' if quote == b'"' => at += 2,
            b'\'' if quote == b'\'' && bytes.get(at + 1) == Some(&b'\'') => at += 2,
            byte if byte == quote => return Some(at),
            _ => at += 1,
        }
    }
    None
}

/// The span a YAML error points at (its line), or the start of the file.
fn error_span(text: &str, error: &serde_yaml_ng::Error) -> Span {
    let Some(location) = error.location() else {
        return Span::new(0, 0);
    };
    let at = location.index().min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    Span::new(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{DepKind, SourceKind};

    fn forced(text: &str) -> Vec<(String, SourceKind, Option<String>, String)> {
        let parsed = extract(text);
        assert!(parsed.issues.is_empty(), "{:?}", parsed.issues);
        parsed
            .deps
            .iter()
            .map(|dep| {
                assert_eq!(dep.kind, DepKind::Override);
                (
                    dep.package.clone(),
                    dep.source.clone(),
                    dep.requirement.clone(),
                    text[dep.name_span.start..dep.name_span.end].to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn overrides_and_extensions_are_dependencies_on_their_own_lines() {
        let text = "packages:\n  - packages/*\ncatalog:\n  react: ^18.2.0\ncatalogs:\n  legacy:\n    react: ^16.0.0\noverrides:\n  # a comment\n  lodash: 4.17.21\n  \"foo@1>bar@<2\": '2.0.0'  # why\n  '@s/baz': npm:@s/other@^3\n  qux: 'catalog:'\n  react: catalog:legacy\n  removed: '-'\n  num: 1.5\npackageExtensions:\n  react-redux@1:\n    peerDependencies:\n      react-dom: '*'\n    dependencies:\n      extra: ^1.0.0\n";
        let got = forced(text);
        let reg = SourceKind::Registry;
        let unread = |why: &str| SourceKind::Unread(why.to_string());
        assert_eq!(
            got,
            vec![
                ("lodash".into(), reg.clone(), Some("4.17.21".into()), "lodash".into()),
                ("bar".into(), reg.clone(), Some("2.0.0".into()), "bar".into()),
                ("@s/other".into(), SourceKind::Alias, Some("^3".into()), "@s/baz".into()),
                (
                    "qux".into(),
                    unread("`catalog:` forced on qux, but that catalog does not define it: not checked"),
                    None,
                    "qux".into()
                ),
                ("react".into(), reg.clone(), Some("^16.0.0".into()), "react".into()),
                ("num".into(), reg.clone(), Some("1.5".into()), "num".into()),
                ("extra".into(), reg.clone(), Some("^1.0.0".into()), "extra".into()),
                ("react-dom".into(), reg.clone(), Some("*".into()), "react-dom".into()),
            ]
        );
        let parsed = extract(text);
        // Requirement spans hold the value as written.
        for dep in &parsed.deps {
            if let (Some(span), Some(requirement)) = (dep.requirement_span, &dep.requirement) {
                assert_eq!(&text[span.start..span.end], requirement.as_str(), "{dep:?}");
            }
        }
    }

    #[test]
    fn what_cannot_be_read_or_placed_is_still_listed() {
        // Flow style: the value comes from the parse, the position from the nearest key found.
        let text = "overrides: {lodash: 4.17.21}\n";
        let parsed = extract(text);
        assert_eq!(parsed.deps.len(), 1);
        let dep = &parsed.deps[0];
        assert_eq!(
            (dep.package.as_str(), dep.requirement.as_deref()),
            ("lodash", Some("4.17.21"))
        );
        assert_eq!(&text[dep.name_span.start..dep.name_span.end], "overrides");
        assert_eq!(dep.requirement_span, None);
        for (text, package) in [
            ("overrides:\n  lodash: $lodash\n", "lodash"),
            ("overrides:\n  '**': 1.0.0\n", "**"),
            ("overrides:\n  lodash: [1, 2]\n", "lodash"),
        ] {
            let parsed = extract(text);
            assert_eq!(parsed.deps.len(), 1, "{text}");
            assert_eq!(parsed.deps[0].package, package, "{text}");
            assert!(
                matches!(parsed.deps[0].source, SourceKind::Unread(_)),
                "{text}: {:?}",
                parsed.deps[0]
            );
        }
        // A file pnpm cannot read is an issue, not an empty success.
        let parsed = extract("overrides:\n  lodash: [1.0.0\n");
        assert!(parsed.deps.is_empty());
        assert_eq!(parsed.issues.len(), 1);
        // A key with the same name deeper in another section is not taken for the override's.
        let text = "catalog:\n  lodash: ^4\noverrides:\n  lodash: 4.17.21\n";
        let dep = &extract(text).deps[0];
        assert_eq!(text[..dep.name_span.start].matches('\n').count(), 3);
        assert_eq!(
            &text[dep.requirement_span.unwrap().start..dep.requirement_span.unwrap().end],
            "4.17.21"
        );
        // A file with neither section declares nothing.
        assert!(extract("packages:\n  - a/*\n").deps.is_empty());
        assert!(extract("").deps.is_empty());
    }

    /// pnpm reads YAML with js-yaml, which applies merge keys (`<<`) and turns a sequence key into its
    /// items joined by `,`: each of these installs flatmap-stream 0.1.1 (review of 2959dbe).
    #[test]
    fn merge_keys_and_sequence_keys_are_read_as_pnpm_reads_them() {
        for text in [
            "<<:\n  overrides:\n    flatmap-stream: 0.1.1\n",
            "[overrides]:\n  flatmap-stream: 0.1.1\n",
            "overrides:\n  [flatmap-stream]: 0.1.1\n",
            "overrides: {<<: {flatmap-stream: 0.1.1}}\n",
            "base: &base\n  flatmap-stream: 0.1.1\noverrides:\n  <<: *base\n",
            "packageExtensions:\n  event-stream@3:\n    <<:\n      dependencies:\n        flatmap-stream: 0.1.1\n",
            "packageExtensions:\n  event-stream@3:\n    [dependencies]:\n      flatmap-stream: 0.1.1\n",
            "!!map\noverrides: !!map\n  flatmap-stream: !!str 0.1.1\n",
        ] {
            let parsed = extract(text);
            assert!(parsed.issues.is_empty(), "{text}: {:?}", parsed.issues);
            let forced: Vec<_> = parsed
                .deps
                .iter()
                .map(|dep| (dep.package.as_str(), dep.source.clone(), dep.requirement.as_deref()))
                .collect();
            assert_eq!(
                forced,
                vec![("flatmap-stream", SourceKind::Registry, Some("0.1.1"))],
                "{text}"
            );
        }
    }

    /// Positions: a line inside a multi-line string or a block scalar is not a key, a tab may follow
    /// the `:`, and a large file is placed in one pass (a quadratic scan took 158 s for 20,000 entries).
    #[test]
    fn positions_skip_strings_and_scale() {
        let text = "packages:\n  - \"a\noverrides:\n  lodash: 4.17.15\n  \"\nnote: |\n  overrides:\n    lodash: 4.17.15\noverrides:\n  lodash: 4.17.15\n";
        let dep = &extract(text).deps[0];
        assert_eq!(text[..dep.name_span.start].matches('\n').count(), 9, "{dep:?}");
        let text = "overrides:\n  lodash:\t4.17.15\n";
        let dep = &extract(text).deps[0];
        assert_eq!(&text[dep.name_span.start..dep.name_span.end], "lodash");
        assert_eq!(
            &text[dep.requirement_span.unwrap().start..dep.requirement_span.unwrap().end],
            "4.17.15"
        );
        let mut text = String::from("overrides:\n");
        for at in 0..20_000 {
            text.push_str(&format!("  p{at}: 1.0.{at}\n"));
        }
        let parsed = extract(&text);
        assert_eq!(parsed.deps.len(), 20_000);
        let last = parsed.deps.last().unwrap();
        assert_eq!(&text[last.name_span.start..last.name_span.end], "p19999");
    }

    /// Review of 751642f: a chain of nested merge keys past 64 levels was cut off (pnpm applies all
    /// of it); a decoy key inside a quoted scalar opened after an anchor, a tag or a flow opener took
    /// the real entry's place (and its quick fix).
    #[test]
    fn long_merge_chains_and_decoys_after_anchors_and_flow_openers() {
        let mut text = String::from("overrides:\n");
        for level in 1..=70 {
            text.push_str(&format!("{}<<:\n", "  ".repeat(level)));
        }
        text.push_str(&format!("{}flatmap-stream: 0.1.1\n", "  ".repeat(71)));
        let parsed = extract(&text);
        let packages: Vec<&str> = parsed.deps.iter().map(|d| d.package.as_str()).collect();
        assert!(
            parsed.issues.is_empty() && packages == ["flatmap-stream"],
            "{packages:?} {:?}",
            parsed.issues
        );
        for decoy in [
            "note: &a \"\noverrides:\n  lodash: 4.17.99\n\"\n",
            "note: !!str \"\noverrides:\n  lodash: 4.17.99\n\"\n",
            "note: {a: \"\noverrides:\n  lodash: 4.17.99\n\"}\n",
            "note: [\"x\", \"\noverrides:\n  lodash: 4.17.99\n\"]\n",
        ] {
            let text = format!("{decoy}overrides:\n  lodash: 4.17.15\n");
            let parsed = extract(&text);
            assert!(parsed.issues.is_empty(), "{text}: {:?}", parsed.issues);
            let dep = &parsed.deps[0];
            assert_eq!(dep.requirement.as_deref(), Some("4.17.15"), "{text}");
            let line = |at: usize| text[..at].matches('\n').count();
            // Placed on the real entry, or not placed exactly (then no edit is offered): never on the decoy.
            assert!(
                line(dep.name_span.start) == 5 || dep.requirement_span.is_none(),
                "{text}: {dep:?}"
            );
            if let Some(span) = dep.requirement_span {
                assert_eq!(
                    (line(span.start), &text[span.start..span.end]),
                    (5, "4.17.15"),
                    "{text}"
                );
            }
        }
    }

    /// `.yarnrc.yml` is read as Yarn reads it (js-yaml's failsafe schema: every scalar a string, no
    /// merge keys), and Yarn installs only an extension's `dependencies`.
    #[test]
    fn yarnrc_extensions_are_read_as_yarn_reads_them() {
        let text =
            "packageExtensions:\n  \"a@*\":\n    dependencies:\n      b: 1.10\n    peerDependencies:\n      c: 1.0.0\n";
        let parsed = extract_yarnrc(text);
        let found: Vec<(&str, Option<&str>)> = parsed
            .deps
            .iter()
            .map(|d| (d.package.as_str(), d.requirement.as_deref()))
            .collect();
        assert_eq!(found, vec![("b", Some("1.10"))]);
        // pnpm reads the same number as js-yaml's core schema does: 1.1.
        let text = "overrides:\n  b: 1.10\n";
        assert_eq!(extract(text).deps[0].requirement.as_deref(), Some("1.1"));
    }

    /// Review of ed1449f: decoys the line scan cannot tell from keys (a real key written with a
    /// property, escapes or `?`; a quote opened after a property in a sequence item; a flow collection
    /// over several lines) never receive the place of the real entry: every place is checked against a
    /// second parse. A comment after a flow collection does not open a quote.
    #[test]
    fn every_exact_place_is_verified_and_comments_end_flow_lines() {
        for text in [
            "note: \"\noverrides:\n  lodash: 4.17.15\n\"\n&k overrides:\n  lodash: 4.17.15\n",
            "note: \"\noverrides:\n  lodash: 4.17.15\n\"\n\"overrid\\x65s\":\n  lodash: 4.17.15\n",
            "list:\n- !!str \"\noverrides:\n  lodash: 4.17.15\n\"\n\"overrid\\x65s\":\n  lodash: 4.17.15\n",
            "note: [1,\noverrides: 2,\n  lodash: \"4.17.15\"]\n\"overrid\\x65s\":\n  lodash: 4.17.15\n",
        ] {
            let parsed = extract(text);
            assert!(parsed.issues.is_empty(), "{text}: {:?}", parsed.issues);
            let dep = parsed.deps.iter().find(|d| d.package == "lodash").unwrap();
            // The real entry is on the last line; a place elsewhere is never one an edit may use.
            let last_line = text.trim_end().matches('\n').count();
            if let Some(span) = dep.requirement_span {
                assert_eq!(text[..span.start].matches('\n').count(), last_line, "{text}: {dep:?}");
            }
        }
        let text = "packages: [apps/*]  # see: \"docs\noverrides:\n  lodash: 4.17.15\n";
        let dep = &extract(text).deps[0];
        assert_eq!(
            &text[dep.requirement_span.unwrap().start..dep.requirement_span.unwrap().end],
            "4.17.15"
        );
        // Yarn: a number whose text cannot be placed is not guessed.
        let parsed = extract_yarnrc("packageExtensions: {\"a@*\": {dependencies: {b: 1.10}}}\n");
        assert!(
            matches!(parsed.deps[0].source, SourceKind::Unread(_)),
            "{:?}",
            parsed.deps
        );
    }
}
