//! The text edits that write a fix into a project's own files: a member set or merged into a JSON
//! object (`overrides`, `resolutions`, `pnpm.overrides`), an entry of `pnpm-workspace.yaml`'s
//! `overrides` or a catalog.
//!
//! Invariants:
//! - An edit changes one place and keeps everything else as written; the result parses (JSON: by
//!   `serde_json`, YAML: by the same reader `manifest` uses), and the member it sets is the one the
//!   package manager reads (JSON: the last of duplicate keys, as `JSON.parse` keeps).
//! - Anything not recognised (not an object, a flow-style YAML section, tabs) gives no edit, never a
//!   guess: the fix is still described in words.

use serde_json::value::RawValue;

use crate::manifest::lockfiles::{Fields, span_of};
use crate::model::Span;

/// Bytes `span` of a file become `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChange {
    pub span: Span,
    pub text: String,
}

fn quote(key: &str) -> String {
    serde_json::to_string(key).unwrap_or_else(|_| format!("\"{key}\""))
}

/// `{"a": {"b": value}}` for `path` [a, b]; `value` itself for an empty path.
fn nest(path: &[&str], value: &str) -> String {
    match path.split_first() {
        None => value.to_string(),
        Some((first, rest)) => format!("{{{}: {}}}", quote(first), nest(rest, value)),
    }
}

/// Sets `path` (object keys from the top) to `value` (JSON text) in the JSON document `text`, creating
/// the objects on the way and keeping everything else as written. With `npm_dot`, a string met where
/// an object is needed becomes `{".": string, …}` and an object met where the value goes gets its `"."`
/// member set (npm's form for overriding a package and, separately, what is below it). `None` when
/// the document is not a JSON object.
pub fn set_json_member(text: &str, path: &[&str], value: &str, npm_dot: bool) -> Option<TextChange> {
    serde_json::from_str::<serde_json::Value>(text).ok()?.as_object()?;
    let start = text.find('{')?;
    let end = text.rfind('}')? + 1;
    set_in_object(text, Span::new(start, end), path, value, npm_dot)
}

fn set_in_object(text: &str, object: Span, path: &[&str], value: &str, npm_dot: bool) -> Option<TextChange> {
    let (first, rest) = path.split_first()?;
    let inner = text.get(object.start..object.end)?;
    let fields: Fields<'_> = serde_json::from_str(inner).ok()?;
    // Spans of the values borrowed from `inner` are offsets into `inner`.
    let offset = |raw: &RawValue| {
        let span = span_of(inner, raw);
        Span::new(object.start + span.start, object.start + span.end)
    };
    let existing = fields.0.iter().rev().find(|(key, _)| key == first);
    match existing {
        Some((_, raw)) => {
            let span = offset(raw);
            let is_object = raw.get().trim_start().starts_with('{');
            match (rest.is_empty(), is_object) {
                (true, true) if npm_dot => set_in_object(text, span, &["."], value, false),
                (true, _) => Some(TextChange {
                    span,
                    text: value.to_string(),
                }),
                (false, true) => set_in_object(text, span, rest, value, npm_dot),
                (false, false) if npm_dot && raw.get().trim_start().starts_with('"') => Some(TextChange {
                    span,
                    text: format!(
                        "{{\".\": {}, {}: {}}}",
                        raw.get(),
                        quote(rest[0]),
                        nest(&rest[1..], value)
                    ),
                }),
                (false, false) => Some(TextChange {
                    span,
                    text: nest(rest, value),
                }),
            }
        }
        None => {
            let member = format!("{}: {}", quote(first), nest(rest, value));
            match fields.0.last() {
                Some((_, last)) => {
                    let after = offset(last).end;
                    let multi_line = inner.contains('\n');
                    let separator = if multi_line {
                        let line_start = text[..offset(last).start].rfind('\n').map_or(0, |at| at + 1);
                        let indent: String = text[line_start..]
                            .chars()
                            .take_while(|c| *c == ' ' || *c == '\t')
                            .collect();
                        format!(",\n{indent}")
                    } else {
                        ", ".to_string()
                    };
                    Some(TextChange {
                        span: Span::new(after, after),
                        text: format!("{separator}{member}"),
                    })
                }
                None => {
                    let open = object.start + 1;
                    let close = object.end - 1;
                    let multi_line = inner.contains('\n');
                    let text = if multi_line {
                        let line_start = text[..object.start].rfind('\n').map_or(0, |at| at + 1);
                        let indent: String = text[line_start..]
                            .chars()
                            .take_while(|c| *c == ' ' || *c == '\t')
                            .collect();
                        format!("\n{indent}  {member}\n{indent}")
                    } else {
                        member
                    };
                    Some(TextChange {
                        span: Span::new(open, close),
                        text,
                    })
                }
            }
        }
    }
}

/// A YAML scalar in single quotes (`'@s/a'`): safe for any package name or version.
fn yaml_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A mapping key as written: plain when it is a plain word (`overrides`, `lodash`), else quoted.
fn yaml_key_text(key: &str) -> String {
    let plain = key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if plain { key.to_string() } else { yaml_quote(key) }
}

/// The unquoted text of a YAML block-mapping key as pnpm writes it (`a`, `'@s/a'`, `"@s/a"`).
fn yaml_key(raw: &str) -> String {
    let raw = raw.trim();
    if raw.len() >= 2 && raw.starts_with('\'') && raw.ends_with('\'') {
        return raw[1..raw.len() - 1].replace("''", "'");
    }
    if raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"') {
        return serde_json::from_str::<String>(raw).unwrap_or_else(|_| raw[1..raw.len() - 1].to_string());
    }
    raw.to_string()
}

/// Lines of `text` with their start offsets, without line ends.
fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut res = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        res.push((offset, line.trim_end_matches(['\n', '\r'])));
        offset += line.len();
    }
    res
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_blank_or_comment(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// Sets `key: value` in the block mapping at `section` (top-level keys, then nested ones: `["overrides"]`,
/// `["catalogs", "react17"]`) of a YAML file such as `pnpm-workspace.yaml`, creating the sections that
/// are missing at the end of their parent. `None` for a layout this does not recognise (tabs, a flow
/// or inline value where a block mapping is needed).
pub fn set_yaml_entry(text: &str, section: &[&str], key: &str, value: &str) -> Option<TextChange> {
    if text.contains('\t') {
        return None;
    }
    let all = lines(text);
    // The span of lines the current mapping covers, and its entries' indentation.
    let mut from = 0;
    let mut to = all.len();
    let mut parent_indent: Option<usize> = None;
    for (depth, name) in section.iter().enumerate() {
        let child_indent = entries_indent(&all[from..to], parent_indent);
        let found = all[from..to].iter().enumerate().find(|(_, (_, line))| {
            !is_blank_or_comment(line)
                && Some(indent_of(line)) == child_indent
                && split_entry(line).is_some_and(|(k, _)| yaml_key(k) == *name)
        });
        let Some((at, (_, line))) = found else {
            // Create the rest of the sections, then the entry, after the last line of this mapping.
            let indent = child_indent.unwrap_or(parent_indent.map_or(0, |p| p + 2));
            let mut insertion = String::new();
            for (level, missing) in section[depth..].iter().enumerate() {
                insertion.push_str(&format!(
                    "{}{}:\n",
                    " ".repeat(indent + 2 * level),
                    yaml_key_text(missing)
                ));
            }
            let level = section.len() - depth;
            insertion.push_str(&format!(
                "{}{}: {}\n",
                " ".repeat(indent + 2 * level),
                yaml_key_text(key),
                yaml_quote(value)
            ));
            return Some(insert_after(text, &all, from, to, insertion));
        };
        let (_, inline) = split_entry(line)?;
        if !is_blank_or_comment(inline) {
            // `overrides: {}` or a scalar: not a block mapping.
            return None;
        }
        let own_indent = indent_of(line);
        let start = from + at + 1;
        let end = all[start..to]
            .iter()
            .position(|(_, l)| !is_blank_or_comment(l) && indent_of(l) <= own_indent)
            .map_or(to, |rel| start + rel);
        from = start;
        to = end;
        parent_indent = Some(own_indent);
    }
    let child_indent = entries_indent(&all[from..to], parent_indent);
    let entry = all[from..to].iter().find(|(_, line)| {
        !is_blank_or_comment(line)
            && Some(indent_of(line)) == child_indent
            && split_entry(line).is_some_and(|(k, _)| yaml_key(k) == key)
    });
    match entry {
        Some((offset, line)) => {
            let (_, old) = split_entry(line)?;
            if old.trim().is_empty() || old.trim_start().starts_with(['{', '[', '|', '>', '&', '*', '!']) {
                return None;
            }
            let value_start = offset + line.len() - old.len();
            // Keep a trailing comment.
            let value_len = old.find(" #").unwrap_or(old.len());
            Some(TextChange {
                span: Span::new(value_start, value_start + value_len),
                text: yaml_quote(value),
            })
        }
        None => {
            let indent = child_indent.unwrap_or(parent_indent.map_or(0, |p| p + 2));
            let insertion = format!("{}{}: {}\n", " ".repeat(indent), yaml_key_text(key), yaml_quote(value));
            Some(insert_after(text, &all, from, to, insertion))
        }
    }
}

/// The indentation of the entries in `lines` (the first non-blank line deeper than `parent`).
fn entries_indent(lines: &[(usize, &str)], parent: Option<usize>) -> Option<usize> {
    lines
        .iter()
        .find(|(_, line)| !is_blank_or_comment(line) && parent.is_none_or(|p| indent_of(line) > p))
        .map(|(_, line)| indent_of(line))
}

/// `key: value` → (`key`, `value`), `key:` → (`key`, ``); the key may be quoted. `None` for a line
/// that is not a mapping entry (a sequence item, a bare scalar).
fn split_entry(line: &str) -> Option<(&str, &str)> {
    let body = line.trim_start();
    if body.starts_with("- ") || body == "-" {
        return None;
    }
    let key_end = if body.starts_with('\'') || body.starts_with('"') {
        let quote = body.chars().next()?;
        let close = body[1..].find(quote)? + 1;
        close + 1
    } else {
        body.find(':')?
    };
    let rest = body.get(key_end..)?;
    let value = rest.strip_prefix(':')?;
    if !value.is_empty() && !value.starts_with(' ') {
        return None;
    }
    Some((&body[..key_end], value.trim_start()))
}

/// Inserts `insertion` (whole lines) after the last non-blank line of `lines[from..to]`, or at
/// `lines[from]` when the mapping is empty; adds a line break first when the file lacks one.
fn insert_after(text: &str, lines: &[(usize, &str)], from: usize, to: usize, insertion: String) -> TextChange {
    let last = lines[from..to]
        .iter()
        .rposition(|(_, line)| !is_blank_or_comment(line))
        .map(|rel| from + rel);
    let at = match last {
        Some(idx) => lines
            .get(idx + 1)
            .map_or(text.len(), |(offset, _)| *offset)
            .min(text.len()),
        None => lines.get(from).map_or(text.len(), |(offset, _)| *offset),
    };
    let needs_break = at == text.len() && !text.is_empty() && !text.ends_with('\n');
    TextChange {
        span: Span::new(at, at),
        text: if needs_break {
            format!("\n{insertion}")
        } else {
            insertion
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str, change: &TextChange) -> String {
        let mut res = text.to_string();
        res.replace_range(change.span.start..change.span.end, &change.text);
        res
    }

    fn json(text: &str, path: &[&str], value: &str, npm_dot: bool) -> serde_json::Value {
        let change = set_json_member(text, path, value, npm_dot).unwrap();
        let edited = apply(text, &change);
        serde_json::from_str(&edited).unwrap_or_else(|e| panic!("{e}: {edited}"))
    }

    #[test]
    fn json_members_are_merged_into_what_exists() {
        let v = json("{\n  \"name\": \"app\"\n}\n", &["overrides", "b"], "\"1.2.3\"", true);
        assert_eq!(v["overrides"]["b"], "1.2.3");
        // An existing object with another entry keeps it.
        let text = "{\n  \"overrides\": {\n    \"other\": \"1.0.0\"\n  }\n}";
        let change = set_json_member(text, &["overrides", "b"], "\"1.2.3\"", true).unwrap();
        assert_eq!(
            apply(text, &change),
            "{\n  \"overrides\": {\n    \"other\": \"1.0.0\",\n    \"b\": \"1.2.3\"\n  }\n}"
        );
        // The package already overridden (to a bad version) is replaced, not duplicated.
        let v = json(
            "{\"overrides\": {\"b\": \"1.2.0\", \"c\": \"1\"}}",
            &["overrides", "b"],
            "\"1.2.3\"",
            true,
        );
        assert_eq!(v["overrides"], serde_json::json!({"b": "1.2.3", "c": "1"}));
        // An empty object, single-line and multi-line.
        assert_eq!(
            json("{\"overrides\": {}}", &["overrides", "b"], "\"1\"", true)["overrides"]["b"],
            "1"
        );
        assert_eq!(
            json("{\n  \"overrides\": {\n  }\n}", &["overrides", "b"], "\"1\"", true)["overrides"]["b"],
            "1"
        );
        // pnpm: `pnpm` exists without `overrides`.
        let v = json(
            "{\"pnpm\": {\"onlyBuiltDependencies\": [\"esbuild\"]}}",
            &["pnpm", "overrides", "b"],
            "\"1.2.3\"",
            false,
        );
        assert_eq!(v["pnpm"]["overrides"]["b"], "1.2.3");
        assert_eq!(v["pnpm"]["onlyBuiltDependencies"][0], "esbuild");
        // npm: a nested override of the package keeps what is below it and sets ".".
        let v = json(
            "{\"overrides\": {\"b\": {\"c\": \"2\"}}}",
            &["overrides", "b"],
            "\"1.2.3\"",
            true,
        );
        assert_eq!(v["overrides"]["b"], serde_json::json!({".": "1.2.3", "c": "2"}));
        // npm: a parent overridden by a string becomes `{".": …}` with the nested entry.
        let v = json(
            "{\"overrides\": {\"a\": \"1.0.0\"}}",
            &["overrides", "a", "b"],
            "\"1.2.3\"",
            true,
        );
        assert_eq!(v["overrides"]["a"], serde_json::json!({".": "1.0.0", "b": "1.2.3"}));
        // Duplicate keys: the last is the one `JSON.parse` keeps, so that is the one edited.
        let v = json(
            "{\"overrides\": {\"x\": \"1\"}, \"overrides\": {\"b\": \"0.1\"}}",
            &["overrides", "b"],
            "\"1.2.3\"",
            true,
        );
        assert_eq!(v["overrides"]["b"], "1.2.3");
        // Not an object: no edit.
        assert!(set_json_member("[1]", &["overrides", "b"], "\"1\"", true).is_none());
        assert!(set_json_member("{\"a\": ", &["overrides", "b"], "\"1\"", true).is_none());
    }

    fn yaml(text: &str, section: &[&str], key: &str, value: &str) -> String {
        let change = set_yaml_entry(text, section, key, value).unwrap();
        let edited = apply(text, &change);
        let _: serde_yaml_ng::Value = serde_yaml_ng::from_str(&edited).unwrap_or_else(|e| panic!("{e}: {edited}"));
        edited
    }

    #[test]
    fn yaml_entries_are_set_in_block_mappings() {
        let text = "packages:\n  - 'packages/*'\n";
        insta::assert_snapshot!(yaml(text, &["overrides"], "@s/b", "1.2.3"), @r"
        packages:
          - 'packages/*'
        overrides:
          '@s/b': '1.2.3'
        ");
        let text = "packages:\n  - a\noverrides:\n  c: 1.0.0 # pinned\n  b: 1.2.0\ncatalog:\n  x: ^1\n";
        insta::assert_snapshot!(yaml(text, &["overrides"], "b", "1.2.3"), @r"
        packages:
          - a
        overrides:
          c: 1.0.0 # pinned
          b: '1.2.3'
        catalog:
          x: ^1
        ");
        insta::assert_snapshot!(yaml(text, &["overrides"], "c", "2.0.0"), @r"
        packages:
          - a
        overrides:
          c: '2.0.0' # pinned
          b: 1.2.0
        catalog:
          x: ^1
        ");
        insta::assert_snapshot!(yaml(text, &["overrides"], "d", "3.0.0"), @r"
        packages:
          - a
        overrides:
          c: 1.0.0 # pinned
          b: 1.2.0
          d: '3.0.0'
        catalog:
          x: ^1
        ");
        insta::assert_snapshot!(yaml(text, &["catalog"], "x", "^1.0.5"), @r"
        packages:
          - a
        overrides:
          c: 1.0.0 # pinned
          b: 1.2.0
        catalog:
          x: '^1.0.5'
        ");
        let named = "catalogs:\n  react17:\n    react: ^17.0.0\n  other:\n    y: 1\n";
        insta::assert_snapshot!(yaml(named, &["catalogs", "react17"], "react", "^17.0.2"), @r"
        catalogs:
          react17:
            react: '^17.0.2'
          other:
            y: 1
        ");
        // A flow-style section and tabs are not guessed at.
        assert!(set_yaml_entry("overrides: {b: 1}\n", &["overrides"], "b", "2").is_none());
        assert!(set_yaml_entry("overrides:\n\tb: 1\n", &["overrides"], "b", "2").is_none());
    }
}
