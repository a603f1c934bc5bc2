//! `pnpm-workspace.yaml` → the versions it makes pnpm install that no `package.json` names: pnpm 10
//! reads `overrides` (forced on a package wherever the tree pulls it in) and `packageExtensions`
//! (dependencies added to other packages) here. Each is a dependency of its own (`DepKind::Override`),
//! checked on its own line; members' `catalog:` specs are resolved where they are used, not here.
//!
//! Invariants:
//! - What the file means is read by the YAML parse every pnpm file goes through (`read_yaml`); where it
//!   is written is found afterwards by a scan of block-mapping keys (`locate`). A key the scan cannot
//!   find (flow style, escapes) takes the span of its nearest enclosing key that it can: a finding is
//!   never lost for want of a position.
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
    let mut res = Parsed::empty(ManifestKind::PnpmWorkspace);
    let value = match crate::manifest::lockfiles::read_yaml::<Option<Value>>(text) {
        Ok(value) => value.unwrap_or(Value::Null),
        Err(error) => {
            res.issues.push(SyntaxIssue {
                span: error_span(text, &error),
                message: format!("invalid pnpm-workspace.yaml: {error}"),
            });
            return res;
        }
    };
    let Value::Mapping(top) = value else {
        return res;
    };
    let catalogs = Catalogs::of(&top);
    if let Some(Value::Mapping(overrides)) = top.get("overrides") {
        for (key, value) in overrides {
            let Some(selector) = scalar(key) else {
                continue;
            };
            let at = locate(text, &["overrides", &selector]);
            if let Some(dep) = forced(&selector, value, &at, &catalogs, None) {
                res.deps.push(dep);
            }
        }
    }
    if let Some(Value::Mapping(extensions)) = top.get("packageExtensions") {
        for (selector, extension) in extensions {
            let (Some(selector), Value::Mapping(extension)) = (scalar(selector), extension) else {
                continue;
            };
            for section in EXTENSION_SECTIONS {
                let Some(Value::Mapping(deps)) = extension.get(section) else {
                    continue;
                };
                for (name, spec) in deps {
                    let Some(name) = scalar(name) else {
                        continue;
                    };
                    let at = locate(text, &["packageExtensions", &selector, section, &name]);
                    if let Some(dep) = forced(&name, spec, &at, &catalogs, Some(&name)) {
                        res.deps.push(dep);
                    }
                }
            }
        }
    }
    res
}

/// The dependency an override (`package` is `None`: the selector names it) or an extension's entry
/// (`package` given) installs.
fn forced(key: &str, value: &Value, at: &Located, catalogs: &Catalogs, package: Option<&str>) -> Option<Dependency> {
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
    let Some(spec) = scalar(value) else {
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
    let value_span = at.value.filter(|span| at.exact_value(span, &spec));
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
    fn of(top: &serde_yaml_ng::Mapping) -> Catalogs {
        let mut res = Vec::new();
        let mut add = |catalog: &str, entries: Option<&Value>| {
            if let Some(Value::Mapping(entries)) = entries {
                for (name, range) in entries {
                    if let (Some(name), Some(range)) = (scalar(name), scalar(range)) {
                        res.push((catalog.to_string(), name, range));
                    }
                }
            }
        };
        add("default", top.get("catalog"));
        if let Some(Value::Mapping(named)) = top.get("catalogs") {
            for (catalog, entries) in named {
                if let Some(catalog) = scalar(catalog) {
                    add(&catalog, Some(entries));
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

/// A scalar as the text pnpm reads (YAML numbers and booleans as written in their plain form).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
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

impl Located {
    /// Whether `span` holds exactly `value` in the text (so sub-spans of the value map byte for byte).
    fn exact_value(&self, span: &Span, value: &str) -> bool {
        self.exact && span.end - span.start == value.len()
    }
}

/// Finds the block-mapping key path `path` in `text` by indentation. Scans lines only; the values come
/// from the YAML parse.
fn locate(text: &str, path: &[&str]) -> Located {
    let lines: Vec<(usize, &str)> = text
        .split_inclusive('\n')
        .scan(0, |at, line| {
            let start = *at;
            *at += line.len();
            Some((start, line.trim_end_matches(['\n', '\r'])))
        })
        .collect();
    let mut res = Located {
        key: Span::new(0, 0),
        value: None,
        exact: false,
    };
    // The lines of the current block: after the parent key's line, while more indented than it.
    let mut from = 0;
    let mut parent_indent: Option<usize> = None;
    for (depth, want) in path.iter().enumerate() {
        let mut found = None;
        let mut child_indent = None;
        for (idx, (start, line)) in lines.iter().enumerate().skip(from) {
            let body = line.trim_start_matches(' ');
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            let indent = line.len() - body.len();
            if parent_indent.is_some_and(|parent| indent <= parent) {
                break;
            }
            let child = *child_indent.get_or_insert(indent);
            if indent != child {
                continue;
            }
            if let Some((key, value)) = block_key(body)
                && text[start + indent + key.start..start + indent + key.end] == **want
            {
                let shift = |span: Span| Span::new(start + indent + span.start, start + indent + span.end);
                found = Some((idx, indent, shift(key), value.map(shift)));
                break;
            }
        }
        let Some((idx, indent, key, value)) = found else {
            return res;
        };
        res = Located {
            key,
            value,
            exact: depth + 1 == path.len(),
        };
        from = idx + 1;
        parent_indent = Some(indent);
    }
    res
}

/// A block mapping entry's key (inside its quotes) and its scalar value on the same line (inside its
/// quotes, without a trailing comment), as byte ranges of `body`.
fn block_key(body: &str) -> Option<(Span, Option<Span>)> {
    let (key, after_key) = match body.as_bytes().first()? {
        quote @ (b'"' | b'\'') => {
            let end = 1 + body[1..].find(*quote as char)?;
            (Span::new(1, end), end + 1)
        }
        _ => {
            let colon = body
                .match_indices(':')
                .find(|(at, _)| body[at + 1..].is_empty() || body[at + 1..].starts_with(' '))?;
            (Span::new(0, body[..colon.0].trim_end().len()), colon.0)
        }
    };
    let rest = body[after_key..].trim_start();
    let rest = rest.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with(' ')) {
        return None;
    }
    let value_at = body.len() - rest.trim_start().len();
    let value = &body[value_at..];
    let value = match value.as_bytes().first() {
        None | Some(b'#' | b'{' | b'[' | b'|' | b'>' | b'&' | b'*' | b'!') => None,
        Some(quote @ (b'"' | b'\'')) => value[1..]
            .find(*quote as char)
            .map(|end| Span::new(value_at + 1, value_at + 1 + end)),
        Some(_) => {
            let end = value.find(" #").unwrap_or(value.len());
            Some(Span::new(value_at, value_at + value[..end].trim_end().len()))
        }
    };
    Some((key, value))
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
}
