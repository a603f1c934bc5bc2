//! `package.json` → the dependencies of its `dependencies`, `devDependencies`, `optionalDependencies`
//! and `peerDependencies` objects, read from the tree-sitter-json tree.
//!
//! Invariants:
//! - The name span is the key's text inside its quotes; the requirement span is the value's text inside
//!   its quotes, or only the range part of an `npm:other@range` alias.
//! - A broken file still yields every `pair` tree-sitter recovered, also those inside `ERROR` nodes;
//!   each `ERROR`/`MISSING` node becomes one issue.
//! - The spec is classified the way npm-package-arg does it (alias, path, git, URL, workspace), but
//!   never interpreted: ranges belong to `resolve`.

use crate::manifest::{DepKind, Dependency, ManifestKind, Parsed, SourceKind, SyntaxIssue};
use crate::model::{Ecosystem, Span};

pub fn extract(text: &str, tree: Option<&tree_sitter::Tree>) -> Parsed {
    let mut res = Parsed::empty(ManifestKind::PackageJson);
    let Some(tree) = tree else {
        return res;
    };
    let root = tree.root_node();
    collect_issues(root, text, &mut res.issues);
    visit_top(root, text, 0, &mut res);
    res
}

/// Walks the document and the top-level object (through `ERROR` nodes) looking for section pairs.
fn visit_top(node: tree_sitter::Node, text: &str, depth: usize, acc: &mut Parsed) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "object" if depth == 0 => visit_top(child, text, depth + 1, acc),
            "ERROR" => visit_top(child, text, depth, acc),
            "pair" if depth == 1 || node.is_error() => {
                let Some(key) = child.child_by_field_name("key") else {
                    continue;
                };
                let Some(kind) = string_value(key, text).and_then(|key| section_kind(&key.value)) else {
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
                }
            }
            _ => {}
        }
    }
}

fn dependency(pair: tree_sitter::Node, text: &str, kind: &DepKind) -> Option<Dependency> {
    let key = string_value(pair.child_by_field_name("key")?, text)?;
    let value = pair.child_by_field_name("value")?;
    if value.kind() != "string" {
        return None;
    }
    let spec = string_value(value, text)?;
    let classified = classify(&spec.value);
    let (package, requirement, requirement_span) = match &classified {
        Classified::Alias { package, range } => {
            let package = spec.value[package.clone()].to_string();
            match range {
                Some(range) => {
                    // The range's span is exact only when the value has no escapes; otherwise the whole
                    // value is the span, which still covers the text a fix would edit.
                    let span = if spec.verbatim {
                        Span::new(spec.span.start + range.start, spec.span.start + range.end)
                    } else {
                        spec.span
                    };
                    (package, Some(spec.value[range.clone()].to_string()), Some(span))
                }
                None => (package, None, None),
            }
        }
        _ => (key.value.clone(), Some(spec.value.clone()), Some(spec.span)),
    };
    Some(Dependency {
        ecosystem: Ecosystem::Npm,
        name: key.value,
        package,
        name_span: key.span,
        requirement,
        requirement_span,
        kind: kind.clone(),
        source: classified.source(&spec.value),
        registry: None,
        poetry_syntax: false,
        extras: Vec::new(),
        marker: None,
    })
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
    /// True when the text inside the quotes has no escapes, so offsets in `value` are offsets in the text.
    pub verbatim: bool,
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
            verbatim: true,
        });
    }
    let value = serde_json::from_str::<String>(&format!("\"{inner}\"")).unwrap_or_else(|_| inner.to_string());
    Some(JsonString {
        value,
        span,
        verbatim: false,
    })
}

/// One issue per `ERROR` or `MISSING` node, on its exact span.
pub(crate) fn collect_issues(node: tree_sitter::Node, text: &str, acc: &mut Vec<SyntaxIssue>) {
    if !node.has_error() {
        return;
    }
    if node.is_error() {
        let span = Span::new(node.start_byte(), node.end_byte());
        let snippet: String = text.get(span.start..span.end).unwrap_or("").chars().take(20).collect();
        acc.push(SyntaxIssue {
            span,
            message: format!("syntax error near `{}`", snippet.trim()),
        });
        // Nested MISSING nodes inside an ERROR are part of the same damage.
        return;
    }
    if node.is_missing() {
        acc.push(SyntaxIssue {
            span: Span::new(node.start_byte(), node.end_byte()),
            message: format!("missing `{}`", node.kind()),
        });
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect_issues(child, text, acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{parse, tests::render};

    fn check(text: &str) -> String {
        render(&parse(ManifestKind::PackageJson, text), text)
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
  "l": "latest"
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
