//! A fast reader for the YAML that pnpm and Yarn Berry write: block mappings with keys at fixed
//! indentation, one scalar per line, one-line flow collections without nesting. It returns the same
//! values the full YAML parse (`serde_yaml_ng`) gives, and declines (returns `None`) at the first
//! thing it does not recognise, so the caller falls back to the full parse.
//!
//! Invariants:
//! - Declines on: tabs, carriage returns, document markers and directives, anchors, aliases, tags,
//!   block scalars (`|`, `>`), complex keys (`?`), merge keys, multi-line plain or quoted scalars, nested
//!   flow collections, a `:` or `#` inside a flow scalar, a ` #` comment after a value, escapes in
//!   double-quoted scalars, block sequences of mappings, and more than `MAX_DEPTH` levels.
//! - A plain scalar that could be other than a string (null, booleans, numbers: a short list of
//!   shapes) is resolved by `serde_yaml_ng` itself, so typing agrees exactly; every other plain
//!   scalar is a string.
//! - A property test holds that on every fixture and on random mutations of them this reader either
//!   declines or gives exactly what `serde_yaml_ng` gives (`pnpm_lock` and `yarn_lock` tests).

use std::borrow::Cow;

#[cfg(test)]
use serde::Deserialize;
use serde::Deserializer;
use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{DeserializeOwned, IntoDeserializer, Visitor};

/// Deeper than this declines (`serde_yaml_ng` stops at 128).
const MAX_DEPTH: usize = 64;

/// A YAML value as the fast reader read it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    Seq(Vec<Node<'a>>),
    Map(Vec<(Node<'a>, Node<'a>)>),
}

/// Reads `text` into `T` with the fast reader; `None` when it declines (or `T` rejects what it read),
/// and the caller parses with `serde_yaml_ng`.
pub(crate) fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    let node = read(text)?;
    T::deserialize(&node).ok()
}

/// The document as a `Node`, or `None` when the text is outside what this reader recognises.
pub(crate) fn read(text: &str) -> Option<Node<'_>> {
    // One leading byte order mark is not content (pnpm strips it, and so does the full parse).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !only_plain_characters(text) {
        return None;
    }
    let lines: Vec<Line<'_>> = text
        .split('\n')
        .filter_map(|raw| {
            let body = raw.trim_start_matches(' ');
            if body.is_empty() || body.starts_with('#') {
                return None;
            }
            Some(Line {
                indent: raw.len() - body.len(),
                body: body.trim_end_matches(' '),
            })
        })
        .collect();
    let Some(first) = lines.first() else {
        // Only comments and blank lines: an empty document.
        return Some(Node::Null);
    };
    if first.body.starts_with("---") || first.body.starts_with("...") || first.body.starts_with('%') {
        return None;
    }
    let mut reader = Reader { lines: &lines, at: 0 };
    let node = reader.block(first.indent, 0)?;
    (reader.at == lines.len()).then_some(node)
}

/// Whether `text` holds only characters this reader knows to read as the full parse does: YAML's
/// printable set (the full parse fails on the rest: "control characters are not allowed") without
/// tab and carriage return, and without the YAML 1.1 line breaks (U+0085, U+2028, U+2029) and a
/// BOM inside the text, which readers treat differently.
fn only_plain_characters(text: &str) -> bool {
    if text.bytes().any(|byte| (byte < 0x20 && byte != b'\n') || byte == 0x7f) {
        return false;
    }
    text.is_ascii()
        || !text.chars().any(|ch| {
            let code = u32::from(ch);
            (0x80..0xa0).contains(&code) || matches!(code, 0x2028 | 0x2029 | 0xfeff | 0xfffe | 0xffff)
        })
}

struct Line<'a> {
    indent: usize,
    /// Without the indentation and trailing spaces; never empty, never a comment.
    body: &'a str,
}

struct Reader<'l, 'a> {
    lines: &'l [Line<'a>],
    at: usize,
}

impl<'a> Reader<'_, 'a> {
    /// The block (mapping or sequence) whose entries start at column `indent`.
    fn block(&mut self, indent: usize, depth: usize) -> Option<Node<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let line = self.lines.get(self.at)?;
        if is_item(line.body) {
            self.sequence(indent)
        } else {
            self.mapping(indent, depth)
        }
    }

    fn sequence(&mut self, indent: usize) -> Option<Node<'a>> {
        let mut items = Vec::new();
        while let Some(line) = self.lines.get(self.at) {
            if line.indent < indent || (line.indent == indent && !is_item(line.body)) {
                // The end of the sequence (a compact one ends at its parent's next key).
                break;
            }
            if line.indent > indent {
                return None;
            }
            let item = line.body.strip_prefix('-')?.trim_start_matches(' ');
            if item.is_empty() || key_end(item).is_some() {
                // `-` alone (a nested block) or `- key: value` (a mapping in a sequence).
                return None;
            }
            items.push(inline_value(item)?);
            self.at += 1;
        }
        Some(Node::Seq(items))
    }

    fn mapping(&mut self, indent: usize, depth: usize) -> Option<Node<'a>> {
        let mut entries = Vec::new();
        while let Some(line) = self.lines.get(self.at) {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || is_item(line.body) {
                // A continuation line (multi-line scalar) or a sequence where a key belongs.
                return None;
            }
            let (key, rest) = split_key(line.body)?;
            self.at += 1;
            let value = if rest.is_empty() {
                match self.lines.get(self.at) {
                    Some(next) if next.indent > indent => self.block(next.indent, depth + 1)?,
                    // pnpm-workspace.yaml writes `packages:` with its items at the key's column.
                    Some(next) if next.indent == indent && is_item(next.body) => self.sequence(indent)?,
                    _ => Node::Null,
                }
            } else {
                inline_value(rest)?
            };
            entries.push((key, value));
        }
        // YAML forbids duplicate keys, and readers differ on them: not this reader's business.
        if has_duplicate_keys(&entries) {
            return None;
        }
        Some(Node::Map(entries))
    }
}

/// Whether two keys are the same as the lockfile readers see them: as text (`1` and `'1'` are one
/// key to pnpm's reader and to `Lenient`).
fn has_duplicate_keys(entries: &[(Node<'_>, Node<'_>)]) -> bool {
    let mut seen =
        std::collections::HashSet::with_capacity_and_hasher(entries.len(), foldhash::fast::RandomState::default());
    entries.iter().any(|(key, _)| match key_text(key) {
        Some(text) => !seen.insert(text),
        // Keys that are not scalars are rare: compare them the slow way.
        None => entries.iter().filter(|(k, _)| k == key).count() > 1,
    })
}

/// A scalar key as text, the way `Scalar` reads it.
fn key_text<'n>(key: &'n Node<'_>) -> Option<Cow<'n, str>> {
    Some(match key {
        Node::Str(text) => Cow::Borrowed(text.as_ref()),
        Node::Null => Cow::Borrowed(""),
        Node::Bool(value) => Cow::Owned(value.to_string()),
        Node::U64(value) => Cow::Owned(value.to_string()),
        Node::I64(value) => Cow::Owned(value.to_string()),
        Node::F64(value) => Cow::Owned(value.to_string()),
        Node::Seq(_) | Node::Map(_) => return None,
    })
}

fn is_item(body: &str) -> bool {
    body == "-" || body.starts_with("- ")
}

/// Whether a plain scalar may not start this way (YAML indicators, and `--` to be safe).
fn starts_with_indicator(text: &str) -> bool {
    match text.as_bytes().first() {
        None => true,
        Some(
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"'
            | b'%' | b'@' | b'`',
        ) => true,
        Some(b'-') => text == "-" || text.starts_with("- ") || text.starts_with("--"),
        Some(_) => false,
    }
}

/// Where a block mapping key ends (the offset of its `:`), for a line that is `key: …` or `key:`.
fn key_end(body: &str) -> Option<usize> {
    if body.starts_with(['\'', '"']) {
        let quote = body.as_bytes()[0] as char;
        let close = closing_quote(body, quote)?;
        // As for a plain key, the colon must end the line or be followed by a space: libyaml (block
        // context) does not read `"b":"c"` as a key and its value, so the fast reader must not either.
        let after = &body[close + 1..];
        let ends_key = after == ":" || after.starts_with(": ");
        return ends_key.then_some(close + 1);
    }
    let mut search = 0;
    while let Some(rel) = body[search..].find(':') {
        let at = search + rel;
        let after = &body[at + 1..];
        if after.is_empty() || after.starts_with(' ') {
            return Some(at);
        }
        search = at + 1;
    }
    None
}

/// The offset of the quote that closes the quoted scalar at the start of `text`.
fn closing_quote(text: &str, quote: char) -> Option<usize> {
    let mut at = 1;
    let bytes = text.as_bytes();
    while at < bytes.len() {
        if bytes[at] as char == quote {
            if quote == '\'' && bytes.get(at + 1) == Some(&b'\'') {
                at += 2;
                continue;
            }
            return Some(at);
        }
        at += 1;
    }
    None
}

/// `key: rest` → (key, rest); `None` for what is not a plain or quoted key followed by `: ` or `:`.
fn split_key(body: &str) -> Option<(Node<'_>, &str)> {
    let end = key_end(body)?;
    let raw = &body[..end];
    let key = if raw.starts_with(['\'', '"']) {
        quoted(raw)?
    } else {
        if raw.is_empty() || raw.ends_with(' ') || starts_with_indicator(raw) || raw.contains(" #") || raw == "<<" {
            return None;
        }
        plain(raw)?
    };
    Some((key, body[end + 1..].trim_start_matches(' ')))
}

/// A value on the key's line: a quoted or plain scalar, or a one-line flow collection.
fn inline_value(text: &str) -> Option<Node<'_>> {
    if text.starts_with('{') {
        return flow(text, '}');
    }
    if text.starts_with('[') {
        return flow(text, ']');
    }
    if text.starts_with(['\'', '"']) {
        return quoted(text);
    }
    if starts_with_indicator(text) || text.contains(" #") || text.contains(": ") || text.ends_with(':') {
        return None;
    }
    plain(text)
}

/// A quoted scalar that is the whole of `text`: single-quoted with `''`, double-quoted without
/// escapes.
fn quoted(text: &str) -> Option<Node<'_>> {
    let quote = text.chars().next()?;
    let close = closing_quote(text, quote)?;
    if close + 1 != text.len() {
        return None;
    }
    let inner = &text[1..close];
    match quote {
        '\'' if inner.contains("''") => Some(Node::Str(Cow::Owned(inner.replace("''", "'")))),
        '\'' => Some(Node::Str(Cow::Borrowed(inner))),
        _ if inner.contains('\\') => None,
        _ => Some(Node::Str(Cow::Borrowed(inner))),
    }
}

/// A plain scalar: a string, unless it may be a null, a boolean or a number, which `serde_yaml_ng`
/// itself resolves.
fn plain(text: &str) -> Option<Node<'_>> {
    if !maybe_not_a_string(text) {
        return Some(Node::Str(Cow::Borrowed(text)));
    }
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
    Some(match value {
        serde_yaml_ng::Value::Null => Node::Null,
        serde_yaml_ng::Value::Bool(b) => Node::Bool(b),
        serde_yaml_ng::Value::Number(n) => {
            if let Some(n) = n.as_u64() {
                Node::U64(n)
            } else if let Some(n) = n.as_i64() {
                Node::I64(n)
            } else {
                Node::F64(n.as_f64()?)
            }
        }
        serde_yaml_ng::Value::String(s) if s == text => Node::Str(Cow::Borrowed(text)),
        _ => return None,
    })
}

/// Whether a plain scalar has one of the shapes YAML may read as other than a string: a null or boolean
/// word, or a number-like run (a digit, sign or dot first, then only number characters, at most one
/// dot: `1.2.3` is a string).
fn maybe_not_a_string(text: &str) -> bool {
    if text.len() <= 5
        && [
            "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "+.inf", "-.inf", ".nan",
        ]
        .iter()
        .any(|word| word.eq_ignore_ascii_case(text))
    {
        return true;
    }
    text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.'))
        && text.bytes().filter(|b| *b == b'.').count() <= 1
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'+' | b'-' | b'_' | b'x' | b'o' | b'X' | b'O'))
}

/// A one-line flow mapping (`close` `}`) or sequence (`]`) of scalars, the whole of `text`.
fn flow(text: &str, close: char) -> Option<Node<'_>> {
    let inner = text.strip_prefix(['{', '['])?.strip_suffix(close)?;
    let mut entries = Vec::new();
    let mut items = Vec::new();
    let mut rest = inner.trim_start_matches(' ');
    while !rest.is_empty() {
        if close == '}' {
            let (key, after) = flow_scalar(rest, true)?;
            let after = after.strip_prefix(": ")?.trim_start_matches(' ');
            let (value, after) = flow_scalar(after, false)?;
            entries.push((key, value));
            rest = after;
        } else {
            let (value, after) = flow_scalar(rest, false)?;
            items.push(value);
            rest = after;
        }
        rest = rest.trim_start_matches(' ');
        match rest.strip_prefix(',') {
            Some(after) => {
                rest = after.trim_start_matches(' ');
                if rest.is_empty() {
                    // A trailing comma: valid YAML, but not worth the doubt.
                    return None;
                }
            }
            None if rest.is_empty() => {}
            None => return None,
        }
    }
    if has_duplicate_keys(&entries) {
        return None;
    }
    Some(if close == '}' {
        Node::Map(entries)
    } else {
        Node::Seq(items)
    })
}

/// One scalar inside a flow collection and what follows it; a key ends at `:`, a value at `,`.
fn flow_scalar(text: &str, key: bool) -> Option<(Node<'_>, &str)> {
    if text.starts_with(['\'', '"']) {
        let quote = text.chars().next()?;
        let close = closing_quote(text, quote)?;
        return Some((quoted(&text[..=close])?, &text[close + 1..]));
    }
    let end = if key {
        text.find(':')?
    } else {
        text.find(',').unwrap_or(text.len())
    };
    let raw = text[..end].trim_end_matches(' ');
    if raw.is_empty()
        || starts_with_indicator(raw)
        || raw.contains(['[', ']', '{', '}', '#', ':', ','])
        || raw.contains("  ")
    {
        return None;
    }
    Some((plain(raw)?, &text[end..]))
}

impl<'de, 'a> Deserializer<'de> for &'de Node<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(*b),
            Node::U64(n) => visitor.visit_u64(*n),
            Node::I64(n) => visitor.visit_i64(*n),
            Node::F64(n) => visitor.visit_f64(*n),
            Node::Str(s) => visitor.visit_str(s),
            Node::Seq(items) => visitor.visit_seq(SeqDeserializer::new(items.iter())),
            Node::Map(entries) => visitor.visit_map(MapDeserializer::new(entries.iter().map(|(k, v)| (k, v)))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, 'a> IntoDeserializer<'de, Error> for &'de Node<'a> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

/// `Deserialize` for `Node` is not needed: values go from `Node` into the lockfile types only.
#[cfg(test)]
pub(crate) fn agrees_with_yaml(text: &str) -> bool {
    let Some(node) = read(text) else {
        return true;
    };
    let fast = serde_yaml_ng::Value::deserialize(&node);
    let slow = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text);
    match (fast, slow) {
        (Ok(fast), Ok(slow)) => fast == slow,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_pnpm_and_berry_write() {
        let text = "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n\nimporters:\n\n  .:\n    dependencies:\n      '@s/a':\n        specifier: ^1.0.0\n        version: 1.0.0(b@2.0.0)\npackages:\n  '@s/a@1.0.0':\n    resolution: {integrity: sha512-AB+/c==}\n    engines: {node: '>=6'}\n    cpu: [x64, arm64]\n    hasBin: true\n  b@2.0.0: {}\n";
        let node = read(text).unwrap();
        let value = serde_yaml_ng::Value::deserialize(&node).unwrap();
        let slow: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(value, slow);
        let berry = "# generated\n\n__metadata:\n  version: 8\n  cacheKey: 10c0\n\n\"a@npm:^1, a@npm:~1\":\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n  dependencies:\n    b: \"npm:^2\"\n  checksum: 10c0/abc\n  languageName: node\n  linkType: hard\n";
        assert!(read(berry).is_some());
        assert!(agrees_with_yaml(berry));
        let workspace = "packages:\n- 'packages/*'\n- '!**/test/**'\ncatalog:\n  react: ^18.2.0\n";
        assert!(read(workspace).is_some());
        assert!(agrees_with_yaml(workspace));
        for scalar in [
            "5.4", "6.0", "2", "0x1f", "1e3", "010", "-1", "~", "null", "True", "yes", ".inf", "1.2.3", "10c0",
        ] {
            let text = format!("v: {scalar}\n");
            assert!(read(&text).is_some(), "{scalar}");
            assert!(agrees_with_yaml(&text), "{scalar}");
        }
    }

    #[test]
    fn declines_what_it_does_not_know() {
        for text in [
            "a: &x 1\nb: *x\n",
            "a: |\n  text\n",
            "a: >\n  text\n",
            "a: b\n  c\n",
            "a: 'b\n  c'\n",
            "a: {b: {c: 1}}\n",
            "a: \"b\\nc\"\n",
            "a:\n\t- b\n",
            "--- \na: 1\n",
            "? a\n: b\n",
            "<<: {a: 1}\n",
            "a: !tag b\n",
            "a: b # comment\n",
            "a:\n  - b: 1\n",
            "a: {b: https://x}\n",
            "a: b: c\n",
            "a:\r\n  b: 1\r\n",
            // A quoted key with its value right after the colon: libyaml (block context) does not read
            // it as `b: c`; found by `mutations_are_declined_or_read_the_same`.
            "a:\n  \"b\":\"c\"\n",
            "'b':c\n",
        ] {
            assert!(read(text).is_none(), "{text:?}");
        }
    }

    /// Characters outside YAML's printable set fail the full parse (pnpm's reader rejects them
    /// too); YAML 1.1 line breaks and a BOM inside the text are read differently by readers.
    #[test]
    fn declines_non_printable_characters_and_yaml11_breaks() {
        for ch in [
            '\0', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}', '\u{80}', '\u{9f}', '\u{85}', '\u{2028}',
            '\u{2029}', '\u{feff}', '\u{fffe}', '\u{ffff}',
        ] {
            for text in [
                format!("lockfileVersion: '9.0'\n# {ch}\nimporters: {{}}\n"),
                format!("a: 1.0.0{ch}b\n"),
                format!("lodash@1.0.0:{ch}  version: 2\n"),
                format!("a:\n  b{ch}: c\n"),
            ] {
                assert!(read(&text).is_none(), "{text:?}");
                assert!(agrees_with_yaml(&text), "{text:?}");
            }
        }
        assert!(serde_yaml_ng::from_str::<serde_yaml_ng::Value>("a: 1\n# \u{1}\n").is_err());
    }

    /// One leading BOM is not part of the first key (pnpm strips it; so does the full parse).
    #[test]
    fn a_leading_bom_is_not_part_of_the_first_key() {
        let text = "\u{feff}catalog:\n  react: ^18\n";
        let node = read(text).unwrap();
        let Node::Map(entries) = &node else { panic!("{node:?}") };
        assert_eq!(entries[0].0, Node::Str("catalog".into()));
        assert!(agrees_with_yaml(text));
        assert!(read("\u{feff}\u{feff}a: 1\n").is_none());
    }

    /// Every pnpm lockfile, pnpm-workspace.yaml and Yarn Berry lockfile in fixtures/manifests.
    fn yaml_fixtures() -> Vec<(String, String)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/manifests");
        let mut res = Vec::new();
        for manager in ["pnpm", "yarn"] {
            let mut dirs: Vec<_> = std::fs::read_dir(root.join(manager)).unwrap().flatten().collect();
            dirs.sort_by_key(|d| d.path());
            for dir in dirs {
                for name in ["pnpm-lock.yaml", "pnpm-workspace.yaml", "yarn.lock"] {
                    let path = dir.path().join(name);
                    if let Ok(text) = std::fs::read_to_string(&path)
                        && (name != "yarn.lock" || text.contains("__metadata:"))
                    {
                        res.push((path.display().to_string(), text));
                    }
                }
            }
        }
        assert!(res.len() >= 10, "{}", res.len());
        res
    }

    /// The lockfile parsed with the fast reader on and off.
    fn both_ways(name: &str, text: &str) -> (crate::manifest::Lockfile, crate::manifest::Lockfile) {
        let parse = |fast: bool| {
            crate::manifest::lockfiles::FAST_YAML.with(|cell| cell.set(fast));
            let res = if name.ends_with("yarn.lock") {
                crate::manifest::lockfiles::yarn_lock::parse(text)
            } else {
                crate::manifest::lockfiles::pnpm_lock::parse(text)
            };
            crate::manifest::lockfiles::FAST_YAML.with(|cell| cell.set(true));
            res
        };
        (parse(true), parse(false))
    }

    #[test]
    fn every_fixture_is_read_fast_and_the_same() {
        for (name, text) in yaml_fixtures() {
            assert!(read(&text).is_some(), "the fast reader declines {name}");
            assert!(agrees_with_yaml(&text), "{name}");
            if !name.ends_with("pnpm-workspace.yaml") {
                let (fast, full) = both_ways(&name, &text);
                assert_eq!(fast, full, "{name}");
            }
        }
    }

    /// A window of lines of a fixture with one edit of the kind that changes YAML's reading.
    fn mutated() -> impl Strategy<Value = (String, String)> {
        let fixtures = yaml_fixtures();
        let n = fixtures.len();
        (
            0..n,
            any::<prop::sample::Index>(),
            1usize..60,
            any::<prop::sample::Index>(),
            0usize..8,
            0usize..35,
        )
            .prop_map(move |(file, from, len, at, op, ch)| {
                let (name, text) = &fixtures[file];
                let lines: Vec<&str> = text.split_inclusive('\n').collect();
                let start = from.index(lines.len());
                let mut window: String = lines[start..(start + len).min(lines.len())].concat();
                let chars = [
                    " ", "\n", ":", "- ", "'", "\"", "#", "{", "}", "[", "]", ",", "&a ", "*a", "|", ">", "!", "0",
                    ".", "?", "~", "\t", "\\", "  ", "\0", "\u{1}", "\u{7f}", "\u{85}", "\u{9f}", "\u{2028}",
                    "\u{2029}", "\u{feff}", "\u{fffe}", "\u{ffff}", "\r",
                ];
                let mut pos = at.index(window.len() + 1);
                while !window.is_char_boundary(pos) {
                    pos -= 1;
                }
                match op {
                    0..=3 => window.insert_str(pos, chars[ch]),
                    4 | 5 => {
                        let mut end = (pos + 1 + ch % 3).min(window.len());
                        while !window.is_char_boundary(end) {
                            end += 1;
                        }
                        window.replace_range(pos..end, "");
                    }
                    6 => {
                        let line_start = window[..pos].rfind('\n').map_or(0, |i| i + 1);
                        window.insert_str(line_start, "  ");
                    }
                    _ => {
                        let line_start = window[..pos].rfind('\n').map_or(0, |i| i + 1);
                        let line_end = window[pos..].find('\n').map_or(window.len(), |i| pos + i + 1);
                        let line = window[line_start..line_end].to_string();
                        window.insert_str(line_end, &line);
                    }
                }
                (name.clone(), window)
            })
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
        /// The fast reader declines or agrees exactly with `serde_yaml_ng`, on the value and on the
        /// lockfile read from it.
        #[test]
        fn mutations_are_declined_or_read_the_same((name, text) in mutated()) {
            prop_assert!(agrees_with_yaml(&text), "{name}: {text:?}");
            if !name.ends_with("pnpm-workspace.yaml") && read(&text).is_some() {
                let (fast, full) = both_ways(&name, &text);
                prop_assert_eq!(fast, full);
            }
        }
    }
}
