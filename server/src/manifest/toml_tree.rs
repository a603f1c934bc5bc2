//! Reading tree-sitter-toml-ng trees: keys and strings with exact spans, and every `pair` with its full
//! key path (table header + dotted key), shared by `cargo.rs` and `pyproject.rs`.
//!
//! Invariants:
//! - A string's span is its content inside the quotes; `verbatim` says whether offsets in the value are
//!   offsets in the text (no escapes), which is what lets callers take sub-spans.
//! - Pairs inside `ERROR` nodes are still reported under the table they sit in; the grammar gives
//!   strings no content child, so quotes are stripped and escapes decoded here (TOML 1.0 §String).

use crate::model::Span;

/// A TOML key part or string value with the span of its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TomlStr {
    pub value: String,
    pub span: Span,
    pub verbatim: bool,
    /// For strings with escapes: for each byte of `value`, the range of the text (relative to
    /// `span.start`) it was decoded from.
    pub origins: Vec<(usize, usize)>,
}

impl TomlStr {
    /// The span of `value[start..end]` in the text; exact even when the string has escapes.
    pub fn sub_span(&self, start: usize, end: usize) -> Span {
        let origins = (!self.verbatim).then_some(self.origins.as_slice());
        crate::manifest::unescaped_sub_span(self.span, origins, start, end)
    }
}

/// One `key = value` with the key path from the document root.
pub(crate) struct Entry<'tree> {
    pub path: Vec<TomlStr>,
    pub value: tree_sitter::Node<'tree>,
}

/// A table header (`[a.b]` or `[[a.b]]`) and the entries in it.
pub(crate) struct Table<'tree> {
    pub header: Vec<TomlStr>,
    pub is_array: bool,
    pub entries: Vec<Entry<'tree>>,
}

/// Every table of the document in order; the pairs before the first header form a table with an empty header.
pub(crate) fn tables<'tree>(root: tree_sitter::Node<'tree>, text: &str) -> Vec<Table<'tree>> {
    let mut res = vec![Table {
        header: Vec::new(),
        is_array: false,
        entries: Vec::new(),
    }];
    collect(root, text, &mut res, 0);
    res
}

fn collect<'tree>(node: tree_sitter::Node<'tree>, text: &str, acc: &mut Vec<Table<'tree>>, depth: usize) {
    if depth > 32 {
        return;
    }
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "table" | "table_array_element" => {
                let mut header = Vec::new();
                let mut inner = child.walk();
                for part in child.named_children(&mut inner) {
                    if matches!(part.kind(), "bare_key" | "quoted_key" | "dotted_key") {
                        key_parts(part, text, &mut header);
                        break;
                    }
                }
                acc.push(Table {
                    header,
                    is_array: child.kind() == "table_array_element",
                    entries: Vec::new(),
                });
                collect(child, text, acc, depth + 1);
            }
            "pair" => {
                if let Some(entry) = pair_entry(child, text, acc.last().map(|t| t.header.as_slice()).unwrap_or(&[]))
                    && let Some(table) = acc.last_mut()
                {
                    table.entries.push(entry);
                }
            }
            "ERROR" => collect(child, text, acc, depth + 1),
            _ => {}
        }
    }
}

fn pair_entry<'tree>(pair: tree_sitter::Node<'tree>, text: &str, header: &[TomlStr]) -> Option<Entry<'tree>> {
    let mut cursor = pair.walk();
    let mut children = pair.named_children(&mut cursor);
    let key = children.next()?;
    if !matches!(key.kind(), "bare_key" | "quoted_key" | "dotted_key") {
        return None;
    }
    let value = children.next()?;
    let mut path = header.to_vec();
    key_parts(key, text, &mut path);
    Some(Entry { path, value })
}

/// The pairs of an inline table, with their (dotted) keys.
pub(crate) fn inline_pairs<'tree>(table: tree_sitter::Node<'tree>, text: &str) -> Vec<Entry<'tree>> {
    let mut res = Vec::new();
    let mut cursor = table.walk();
    for child in table.named_children(&mut cursor) {
        if child.kind() == "pair"
            && let Some(entry) = pair_entry(child, text, &[])
        {
            res.push(entry);
        }
    }
    res
}

/// Flattens a key (`a`, `"a.b"`, `a.'b'.c`) into its parts. Iterative: `dotted_key` nests once per dot.
pub(crate) fn key_parts(node: tree_sitter::Node, text: &str, acc: &mut Vec<TomlStr>) {
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        match node.kind() {
            "bare_key" => {
                if let Some(value) = text.get(node.start_byte()..node.end_byte()) {
                    acc.push(TomlStr {
                        value: value.to_string(),
                        span: Span::new(node.start_byte(), node.end_byte()),
                        verbatim: true,
                        origins: Vec::new(),
                    });
                }
            }
            "quoted_key" => {
                if let Some(part) = string(node, text) {
                    acc.push(part);
                }
            }
            "dotted_key" => {
                let mut cursor = node.walk();
                let children: Vec<_> = node.named_children(&mut cursor).collect();
                stack.extend(children.into_iter().rev());
            }
            _ => {}
        }
    }
}

/// A string (or quoted key) node's value and content span.
pub(crate) fn string(node: tree_sitter::Node, text: &str) -> Option<TomlStr> {
    if !matches!(node.kind(), "string" | "quoted_key") {
        return None;
    }
    let raw = text.get(node.start_byte()..node.end_byte())?;
    let (quote, literal) = if raw.starts_with("\"\"\"") {
        ("\"\"\"", false)
    } else if raw.starts_with("'''") {
        ("'''", true)
    } else if raw.starts_with('"') {
        ("\"", false)
    } else if raw.starts_with('\'') {
        ("'", true)
    } else {
        return None;
    };
    let mut inner = &raw[quote.len()..];
    inner = inner.strip_suffix(quote).unwrap_or(inner);
    let mut start = node.start_byte() + quote.len();
    if quote.len() == 3 {
        // TOML: a newline right after the opening delimiter of a multi-line string is trimmed.
        for newline in ["\r\n", "\n"] {
            if let Some(rest) = inner.strip_prefix(newline) {
                inner = rest;
                start += newline.len();
                break;
            }
        }
    }
    let span = Span::new(start, start + inner.len());
    if literal || !inner.contains('\\') {
        return Some(TomlStr {
            value: inner.to_string(),
            span,
            verbatim: true,
            origins: Vec::new(),
        });
    }
    let (value, origins) = unescape(inner);
    Some(TomlStr {
        value,
        span,
        verbatim: false,
        origins,
    })
}

/// TOML basic-string escapes, with where each decoded byte came from; an invalid escape is kept as written.
fn unescape(inner: &str) -> (String, Vec<(usize, usize)>) {
    let mut res = String::with_capacity(inner.len());
    let mut origins = Vec::with_capacity(inner.len());
    let mut chars = inner.char_indices().peekable();
    let mut push = |res: &mut String, ch: char, from: usize, to: usize| {
        res.push(ch);
        origins.extend(std::iter::repeat_n((from, to), ch.len_utf8()));
    };
    while let Some((at, ch)) = chars.next() {
        if ch != '\\' {
            push(&mut res, ch, at, at + ch.len_utf8());
            continue;
        }
        let Some((next_at, next)) = chars.next() else {
            push(&mut res, '\\', at, at + 1);
            break;
        };
        let end = next_at + next.len_utf8();
        let simple = match next {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'e' => Some('\u{1b}'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            _ => None,
        };
        if let Some(decoded) = simple {
            push(&mut res, decoded, at, end);
            continue;
        }
        match next {
            'u' | 'U' => {
                let len = if next == 'u' { 4 } else { 8 };
                let mut hex = String::new();
                let mut hex_end = end;
                while hex.len() < len {
                    match chars.peek() {
                        Some((digit_at, digit)) if digit.is_ascii_hexdigit() => {
                            hex.push(*digit);
                            hex_end = digit_at + 1;
                            chars.next();
                        }
                        _ => break,
                    }
                }
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == len => push(&mut res, decoded, at, hex_end),
                    _ => {
                        for (offset, kept) in inner[at..hex_end].char_indices() {
                            push(&mut res, kept, at + offset, at + offset + kept.len_utf8());
                        }
                    }
                }
            }
            // Line-ending backslash (multi-line basic strings): skip the newline and leading whitespace.
            other if other.is_whitespace() => {
                while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                    chars.next();
                }
            }
            other => {
                push(&mut res, '\\', at, at + 1);
                push(&mut res, other, next_at, end);
            }
        }
    }
    (res, origins)
}

/// The string values of an array node (other element kinds are skipped).
pub(crate) fn string_array(node: tree_sitter::Node, text: &str) -> Vec<TomlStr> {
    let mut res = Vec::new();
    collect_array_strings(node, text, &mut res);
    res
}

fn collect_array_strings(node: tree_sitter::Node, text: &str, acc: &mut Vec<TomlStr>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "string" => {
                if let Some(value) = string(child, text) {
                    acc.push(value);
                }
            }
            "ERROR" => collect_array_strings(child, text, acc),
            _ => {}
        }
    }
}

pub(crate) fn boolean(node: tree_sitter::Node, text: &str) -> Option<bool> {
    match text.get(node.start_byte()..node.end_byte())? {
        "true" if node.kind() == "boolean" => Some(true),
        "false" if node.kind() == "boolean" => Some(false),
        _ => None,
    }
}
