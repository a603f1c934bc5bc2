//! pip requirements files → dependencies, `-r`/`-c` includes and index URLs, following pip's own
//! line handling (`pip/_internal/req/req_file.py`): join `\` continuations, strip comments, split the
//! requirement from its per-requirement options, then read the requirement as PEP 508.
//!
//! Invariants:
//! - Work is per logical line, so a broken line (an unclosed marker quote, a half-typed pin) never
//!   affects the next one. Each logical line keeps a byte map back into the original text, so every
//!   span (name, version specifier, include path) is exact even across continuations, CRLF and tabs.
//! - Spans come from a scan of the PEP 508 structure (name, extras, specifier clauses, `@ url`,
//!   `; marker`); `pep508_rs` validates the same text and its error becomes the issue. We do not use
//!   tree-sitter-requirements here: its markers swallow following lines and it disagrees with pip on
//!   continuations and comments (FINDINGS), and a per-line scan keeps the warm path in microseconds.
//! - URL, path, VCS and editable lines are dependencies that carry their source kind and are not looked
//!   up. A line that names no package (`./dist/x-1.0-py3-none-any.whl`, a bare URL, `-e ../dir`) is
//!   one too, labelled by what its location suggests: pip installs it, so it is listed (not checked),
//!   never left out.
//! - No IO: includes are returned as written for the caller to read. `pep508_rs` is used with a URL
//!   type that only keeps the text, so no environment variable or working directory is read.

use std::fmt;
use std::str::FromStr;

use crate::manifest::{Constraint, DepKind, Dependency, Include, ManifestKind, Parsed, SourceKind, SyntaxIssue};
use crate::model::{Ecosystem, Span};

pub fn extract(text: &str) -> Parsed {
    let mut res = Parsed::empty(ManifestKind::Requirements);
    for line in logical_lines(text) {
        read_line(&line, &mut res);
    }
    res
}

/// The entries of a constraints file (`text`, parsed as `parsed`), each labelled `<label>:<line>`.
/// pip reads a constraints file with the requirements parser, so every dependency line is an entry
/// (pip refuses editable and unnamed ones; they are kept here with their location, so they are never
/// taken for a registry version).
pub fn constraints(parsed: &Parsed, text: &str, label: &str) -> Vec<Constraint> {
    parsed
        .deps
        .iter()
        .map(|dep| {
            let line = text
                .get(..dep.name_span.start)
                .map_or(1, |before| before.matches('\n').count() + 1);
            Constraint {
                name: dep.package.clone(),
                key: Ecosystem::PyPI.normalize_name(&dep.package),
                requirement: dep.requirement.clone(),
                source: dep.source.clone(),
                marker: dep.marker.clone(),
                origin: format!("{label}:{line}"),
            }
        })
        .collect()
}

/// A logical line: its text and the physical-line segments it was joined from.
struct Line {
    text: String,
    /// (offset in `text`, offset in the original text) where each copied segment starts, ascending.
    segments: Vec<(usize, usize)>,
}

impl Line {
    /// Where logical byte `at` is in the original text.
    fn origin(&self, at: usize) -> usize {
        let idx = self.segments.partition_point(|(logical, _)| *logical <= at);
        match idx.checked_sub(1).and_then(|idx| self.segments.get(idx)) {
            Some((logical, original)) => original + (at - logical),
            None => at,
        }
    }

    /// The original span of logical bytes `start..end`.
    fn span(&self, start: usize, end: usize) -> Span {
        let first = self.origin(start);
        if end <= start {
            return Span::new(first, first);
        }
        // Segments are cut at ASCII bytes (`\`, line ends), so the byte after a char's last byte is
        // the next char boundary in the original too.
        Span::new(first, self.origin(end - 1) + 1)
    }
}

/// pip's `join_lines` + `ignore_comments`: a line ending in `\` continues on the next unless it is a
/// comment line (`#` after optional whitespace); backslashes at both ends of a continued line are
/// dropped; then everything from the first `#` at the start or after whitespace is a comment.
fn logical_lines(text: &str) -> Vec<Line> {
    let mut res = Vec::new();
    let mut pending: Option<Line> = None;
    for (start, physical) in physical_lines(text) {
        let is_comment = physical.trim_start().starts_with('#');
        let line = pending.get_or_insert_with(|| Line {
            text: String::new(),
            segments: Vec::new(),
        });
        if physical.ends_with('\\') && !is_comment {
            let kept = physical.trim_start_matches('\\');
            let lead = physical.len() - kept.len();
            let kept = kept.trim_end_matches('\\');
            push_segment(line, kept, start + lead);
            continue;
        }
        push_segment(line, physical, start);
        if let Some(line) = pending.take() {
            res.push(line);
        }
    }
    if let Some(line) = pending.take() {
        res.push(line);
    }
    for line in &mut res {
        let cut = comment_start(&line.text);
        line.text.truncate(cut);
    }
    res
}

/// pip reads lines with Python's `str.splitlines`: `\n`, `\r\n`, a lone `\r` and the other Unicode
/// line boundaries all end a line. Yields (offset, line without its end). A leading byte-order mark
/// (an editor may keep one) is not part of the first line, as pip's decoder drops it.
fn physical_lines(text: &str) -> Vec<(usize, &str)> {
    let mut res = Vec::new();
    let mut start = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let base = start;
    let mut chars = text[base..]
        .char_indices()
        .map(move |(at, ch)| (at + base, ch))
        .peekable();
    while let Some((at, ch)) = chars.next() {
        let width = match ch {
            '\r' if chars.peek().is_some_and(|(_, next)| *next == '\n') => {
                chars.next();
                2
            }
            '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                ch.len_utf8()
            }
            _ => continue,
        };
        res.push((start, &text[start..at]));
        start = at + width;
    }
    if start < text.len() {
        res.push((start, &text[start..]));
    }
    res
}

fn push_segment(line: &mut Line, segment: &str, origin: usize) {
    line.segments.push((line.text.len(), origin));
    line.text.push_str(segment);
}

/// pip's `COMMENT_RE = (^|\s+)#.*$`: the first `#` at the start or after whitespace.
fn comment_start(text: &str) -> usize {
    for (at, _) in text.match_indices('#') {
        if text[..at].chars().next_back().is_none_or(char::is_whitespace) {
            return at;
        }
    }
    text.len()
}

fn read_line(line: &Line, acc: &mut Parsed) {
    let text = line.text.as_str();
    let trimmed_start = text.len() - text.trim_start().len();
    let body = text.trim();
    if body.is_empty() {
        return;
    }
    // pip's `break_args_options`: the requirement is every space-separated token before the first one
    // that starts with `-`; the rest are options (`--hash`, `-C`, `--global-option`, …).
    let mut args_end = trimmed_start;
    let mut cursor = trimmed_start;
    for token in text[trimmed_start..].split(' ') {
        if token.starts_with('-') {
            break;
        }
        cursor += token.len();
        if !token.trim().is_empty() {
            args_end = cursor;
        }
        cursor += 1;
    }
    let args_end = args_end.min(text.len());
    if args_end <= trimmed_start {
        read_options(line, trimmed_start, acc);
        return;
    }
    let args = &text[trimmed_start..args_end];
    if looks_like_location(args) {
        if let Some(dep) = located_dependency(line, trimmed_start, args_end, DepKind::Normal) {
            acc.deps.push(dep);
        }
        return;
    }
    read_requirement(line, trimmed_start, args_end, acc);
}

/// Global option lines: `-r`, `-c`, `-e`, `-i`, `--extra-index-url`, in `-x value`, `-xvalue`,
/// `--long value` and `--long=value` forms.
fn read_options(line: &Line, start: usize, acc: &mut Parsed) {
    let text = &line.text;
    let tokens = tokens(text, start);
    let mut idx = 0;
    while idx < tokens.len() {
        let (token_start, token_end) = tokens[idx];
        let token = &text[token_start..token_end];
        idx += 1;
        let (option, inline_value) = if let Some(long) = token.strip_prefix("--") {
            match long.split_once('=') {
                Some((name, _)) => (format!("--{name}"), Some(token_start + 2 + name.len() + 1)),
                None => (token.to_string(), None),
            }
        } else if token.len() > 2 && token.is_char_boundary(2) {
            (token[..2].to_string(), Some(token_start + 2))
        } else {
            (token.to_string(), None)
        };
        let takes_value = matches!(
            option.as_str(),
            "-r" | "--requirement"
                | "-c"
                | "--constraint"
                | "-e"
                | "--editable"
                | "-i"
                | "--index-url"
                | "--extra-index-url"
                | "-f"
                | "--find-links"
                | "--trusted-host"
                | "--no-binary"
                | "--only-binary"
                | "--hash"
                | "-C"
                | "--config-settings"
                | "--global-option"
        );
        if !takes_value {
            continue;
        }
        let value = match inline_value {
            Some(value_start) => Some((value_start, token_end)),
            None => {
                let next = tokens.get(idx).copied();
                idx += 1;
                next
            }
        };
        let Some((value_start, value_end)) = value else {
            acc.issues.push(SyntaxIssue {
                span: line.span(token_start, token_end),
                message: format!("`{option}` needs a value"),
            });
            continue;
        };
        let value_text = &text[value_start..value_end];
        match option.as_str() {
            "-r" | "--requirement" | "-c" | "--constraint" => acc.includes.push(Include {
                path: value_text.to_string(),
                span: line.span(value_start, value_end),
                constraint: matches!(option.as_str(), "-c" | "--constraint"),
            }),
            "-i" | "--index-url" | "--extra-index-url" => acc.index_urls.push(value_text.to_string()),
            "-e" | "--editable" => {
                if let Some(dep) = located_dependency(line, value_start, value_end, DepKind::Normal) {
                    acc.deps.push(dep);
                }
            }
            _ => {}
        }
    }
}

/// Whitespace-separated tokens from `start`, as byte ranges.
fn tokens(text: &str, start: usize) -> Vec<(usize, usize)> {
    let mut res = Vec::new();
    let mut token_start = None;
    for (at, ch) in text[start..].char_indices() {
        let at = start + at;
        match (ch.is_whitespace(), token_start) {
            (true, Some(begin)) => {
                res.push((begin, at));
                token_start = None;
            }
            (false, None) => token_start = Some(at),
            _ => {}
        }
    }
    if let Some(begin) = token_start {
        res.push((begin, text.len()));
    }
    res
}

/// Source archives pip installs from a path or URL (a wheel ends in `.whl`).
const SOURCE_ARCHIVES: [&str; 4] = [".tar.gz", ".tar.bz2", ".tgz", ".zip"];

/// A character of a project name as `#egg=` and distribution file names write it.
fn is_name_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.')
}

/// pip treats a requirement that is a URL, an archive or a path as a location, not a name.
fn looks_like_location(args: &str) -> bool {
    let first = args.split([' ', '\t', ';']).next().unwrap_or(args);
    // `name@https://…` is PEP 508, not a location.
    if let Some(at) = first.find('@')
        && at > 0
        && first[..at]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'[' | b']' | b','))
    {
        return false;
    }
    first.contains("://")
        || first.starts_with("file:")
        || first.starts_with('.')
        || first.starts_with('/')
        || first.starts_with('~')
        || first.contains('/')
        || first.contains('\\')
        || first.ends_with(".whl")
        || SOURCE_ARCHIVES.iter().any(|suffix| first.ends_with(suffix))
}

pub(crate) fn location_source(location: &str) -> SourceKind {
    let lower = location.to_ascii_lowercase();
    if ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
    {
        SourceKind::Git(location.to_string())
    } else if lower.contains("://") && !lower.starts_with("file:") {
        SourceKind::Url(location.to_string())
    } else {
        SourceKind::Path(location.to_string())
    }
}

/// A URL/path/VCS requirement (or `-e` value): named by its `#egg=name`, else by what its location
/// suggests (`location_label`), spanning the whole location.
fn located_dependency(line: &Line, start: usize, end: usize, kind: DepKind) -> Option<Dependency> {
    let location = line.text[start..end].split([' ', '\t', ';']).next().unwrap_or("");
    if location.is_empty() {
        return None;
    }
    let egg = location
        .find("#egg=")
        .or_else(|| location.find("&egg="))
        .map(|at| at + "#egg=".len())
        .map(|egg_at| {
            let name_len = location[egg_at..]
                .find(|ch: char| !is_name_char(ch))
                .unwrap_or(location.len() - egg_at);
            (egg_at, egg_at + name_len)
        })
        .filter(|(from, to)| to > from);
    let (name, name_span) = match egg {
        Some((from, to)) => (&location[from..to], line.span(start + from, start + to)),
        None => (location_label(location), line.span(start, start + location.len())),
    };
    Some(Dependency {
        ecosystem: Ecosystem::PyPI,
        name: name.to_string(),
        package: name.to_string(),
        name_span,
        requirement: None,
        requirement_span: None,
        kind,
        source: location_source(location),
        registry: None,
        poetry_syntax: false,
        extras: Vec::new(),
        marker: None,
    })
}

/// What a location that names no package suggests as its name, only to label it (it is never looked
/// up): a wheel's distribution (`numpy-1.9.2-cp34-none-any.whl`), a source archive's name before its
/// version (`pkg-2.0.tar.gz`), a repository's or folder's last segment (`…/black.git@main`, `../sibling`);
/// the location itself when none of these gives a plain name.
fn location_label(location: &str) -> &str {
    let bare = location
        .split(['#', '?'])
        .next()
        .unwrap_or(location)
        .trim_end_matches(['/', '\\']);
    let segment = bare.rsplit(['/', '\\']).next().unwrap_or(bare);
    let segment = segment.split_once('@').map_or(segment, |(before, _)| before);
    let lower = segment.to_ascii_lowercase();
    let label = if lower.ends_with(".whl") {
        segment.split('-').next().unwrap_or(segment)
    } else if let Some(suffix) = SOURCE_ARCHIVES.iter().find(|s| lower.ends_with(*s)) {
        let stem = &segment[..segment.len() - suffix.len()];
        match stem.rsplit_once('-') {
            Some((name, version)) if version.starts_with(|ch: char| ch.is_ascii_digit()) => name,
            _ => stem,
        }
    } else {
        segment.strip_suffix(".git").unwrap_or(segment)
    };
    let plain = !label.is_empty() && label.chars().all(is_name_char);
    if plain && label != "." && label != ".." {
        label
    } else {
        location
    }
}

/// The parts of a PEP 508 requirement, as byte ranges into the scanned text.
#[derive(Debug, Default)]
pub(crate) struct Pep508Parts {
    pub name: (usize, usize),
    pub extras: Vec<String>,
    /// The version specifier without surrounding parentheses or whitespace.
    pub specifier: Option<(usize, usize)>,
    pub url: Option<(usize, usize)>,
    pub marker: Option<(usize, usize)>,
    /// Where the scan stopped understanding the text, if before the end.
    pub junk: Option<usize>,
}

/// Scans `text[start..end]` as a PEP 508 requirement; `None` when it does not start with a name.
pub(crate) fn scan_pep508(text: &str, start: usize, end: usize) -> Option<Pep508Parts> {
    let bytes = text.as_bytes();
    let skip_space = |mut at: usize| {
        while at < end && matches!(bytes[at], b' ' | b'\t') {
            at += 1;
        }
        at
    };
    let mut at = skip_space(start);
    let name_start = at;
    while at < end && (bytes[at].is_ascii_alphanumeric() || matches!(bytes[at], b'-' | b'_' | b'.')) {
        at += 1;
    }
    if at == name_start {
        return None;
    }
    let mut res = Pep508Parts {
        name: (name_start, at),
        ..Pep508Parts::default()
    };
    at = skip_space(at);
    if at < end && bytes[at] == b'[' {
        let close = text[at..end].find(']').map(|i| at + i);
        let inner_end = close.unwrap_or(end);
        res.extras = text[at + 1..inner_end]
            .split(',')
            .map(str::trim)
            .filter(|extra| !extra.is_empty())
            .map(str::to_string)
            .collect();
        at = skip_space(close.map_or(end, |close| close + 1));
    }
    if at < end && bytes[at] == b'@' {
        let url_start = skip_space(at + 1);
        // PEP 508: the URL ends at whitespace; a marker follows after ` ;`.
        let url_end = text[url_start..end].find([' ', '\t']).map_or(end, |i| url_start + i);
        res.url = Some((url_start, url_end));
        at = skip_space(url_end);
    } else {
        let parenthesized = at < end && bytes[at] == b'(';
        if parenthesized {
            at = skip_space(at + 1);
        }
        let spec_start = at;
        let mut spec_end = at;
        loop {
            let op_len = ["===", "==", "!=", "~=", "<=", ">=", "<", ">"]
                .iter()
                .find(|op| text[at..end].starts_with(**op))
                .map(|op| op.len());
            let Some(op_len) = op_len else {
                break;
            };
            at = skip_space(at + op_len);
            while at < end && !matches!(bytes[at], b' ' | b'\t' | b',' | b';' | b')') {
                at += 1;
            }
            spec_end = at;
            at = skip_space(at);
            if at < end && bytes[at] == b',' {
                at = skip_space(at + 1);
                continue;
            }
            break;
        }
        if spec_end > spec_start {
            res.specifier = Some((spec_start, spec_end));
        }
        if parenthesized {
            if at < end && bytes[at] == b')' {
                at = skip_space(at + 1);
            } else {
                res.junk = Some(at);
            }
        }
    }
    if at < end && bytes[at] == b';' {
        let marker_start = skip_space(at + 1);
        let marker_end = text[..end].trim_end().len().max(marker_start);
        if marker_end > marker_start {
            res.marker = Some((marker_start, marker_end));
        }
        at = end;
    }
    if at < end && res.junk.is_none() {
        res.junk = Some(at);
    }
    Some(res)
}

/// A URL type for `pep508_rs` that keeps the text and reads nothing (no env vars, no working directory).
#[derive(Debug, Clone)]
pub(crate) struct RawUrl(String);

impl fmt::Display for RawUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl pep508_rs::Pep508Url for RawUrl {
    type Err = std::convert::Infallible;

    fn parse_url(url: &str, _working_dir: Option<&std::path::Path>) -> Result<Self, Self::Err> {
        Ok(RawUrl(url.to_string()))
    }
}

/// Validates a PEP 508 requirement; the error message when it is not one.
pub(crate) fn validate_pep508(text: &str) -> Option<String> {
    // pep508_rs 0.9.2 slices its input with lengths that assume ASCII and panics on a non-ASCII char
    // after a marker string (`python_version >= "3.8"ä`). PEP 508 allows non-ASCII only inside quoted
    // strings, so anything else is reported here and quoted chars are replaced before validating.
    let mut sanitized = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    for ch in text.chars() {
        match quote {
            Some(open) if ch == open => quote = None,
            None if matches!(ch, '"' | '\'') => quote = Some(ch),
            _ => {}
        }
        if ch.is_ascii() {
            sanitized.push(ch);
        } else if quote.is_some() {
            sanitized.push('x');
        } else {
            return Some(format!("`{ch}` is not allowed outside a quoted string"));
        }
    }
    let text = sanitized.as_str();
    if let Some(message) = check_identifiers(text) {
        return Some(message);
    }
    match pep508_rs::Requirement::<RawUrl>::from_str(text) {
        Ok(_) => None,
        Err(error) => Some(error.message.to_string()),
    }
}

/// pep508_rs 0.9.2 panics (an `expect` in `parse_name` / `parse_extras`) on a package or extra name that
/// ends in `.`, `-` or `_` and is followed by more text (`nu.==1`, `x[a.]`). Those names are invalid
/// anyway (PEP 508: names end with a letter or digit), so they are reported here and never reach it.
fn check_identifiers(text: &str) -> Option<String> {
    let is_name_char = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_');
    let bad_end = |run: &str| run.ends_with(['.', '-', '_']);
    let rest = text.trim_start();
    let name_len = rest.find(|ch: char| !is_name_char(ch)).unwrap_or(rest.len());
    let name = &rest[..name_len];
    if bad_end(name) {
        return Some(format!("package name `{name}` must end with a letter or digit"));
    }
    let after = rest[name_len..].trim_start();
    if let Some(extras) = after.strip_prefix('[') {
        let extras = extras.split(']').next().unwrap_or(extras);
        for piece in extras.split(',') {
            let piece = piece.trim_start();
            let run_len = piece.find(|ch: char| !is_name_char(ch)).unwrap_or(piece.len());
            if bad_end(&piece[..run_len]) {
                return Some(format!("extra `{}` must end with a letter or digit", &piece[..run_len]));
            }
        }
    }
    None
}

fn read_requirement(line: &Line, start: usize, end: usize, acc: &mut Parsed) {
    let text = line.text.as_str();
    let Some(parts) = scan_pep508(text, start, end) else {
        acc.issues.push(SyntaxIssue {
            span: line.span(start, end),
            message: format!("`{}` is not a requirement", &text[start..end]),
        });
        return;
    };
    if let Some(message) = validate_pep508(&text[start..end]) {
        acc.issues.push(SyntaxIssue {
            span: line.span(start, end),
            message: format!("invalid requirement: {message}"),
        });
    }
    let name = &text[parts.name.0..parts.name.1];
    let (source, requirement, requirement_span) = match parts.url {
        Some((url_start, url_end)) => (location_source(&text[url_start..url_end]), None, None),
        None => (
            SourceKind::Registry,
            parts.specifier.map(|(a, b)| text[a..b].to_string()),
            parts.specifier.map(|(a, b)| line.span(a, b)),
        ),
    };
    acc.deps.push(Dependency {
        ecosystem: Ecosystem::PyPI,
        name: name.to_string(),
        package: name.to_string(),
        name_span: line.span(parts.name.0, parts.name.1),
        requirement,
        requirement_span,
        kind: DepKind::Normal,
        source,
        registry: None,
        poetry_syntax: false,
        extras: parts.extras,
        marker: parts.marker.map(|(a, b)| text[a..b].to_string()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{parse, tests::render};

    fn check(text: &str) -> String {
        render(&parse(ManifestKind::Requirements, text), text)
    }

    fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!("{}/../fixtures/manifests/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// pip installs a line that names no package as surely as one that does: it is listed (a dependency
    /// from a location, never looked up), never left out of the report.
    #[test]
    fn lines_that_name_no_package_are_listed() {
        let parsed = extract(
            "./dist/mypkg-1.0-py3-none-any.whl\nhttps://evil.example/pkgs/other_pkg-2.0.tar.gz#sha256=ab\n\
             -e ../sibling/\ngit+https://github.com/psf/black@main\nhttps://example.com/download?id=3\n",
        );
        let listed: Vec<(&str, &SourceKind)> = parsed.deps.iter().map(|dep| (dep.name.as_str(), &dep.source)).collect();
        assert_eq!(
            listed,
            [
                (
                    "mypkg",
                    &SourceKind::Path("./dist/mypkg-1.0-py3-none-any.whl".to_string())
                ),
                (
                    "other_pkg",
                    &SourceKind::Url("https://evil.example/pkgs/other_pkg-2.0.tar.gz#sha256=ab".to_string())
                ),
                ("sibling", &SourceKind::Path("../sibling/".to_string())),
                (
                    "black",
                    &SourceKind::Git("git+https://github.com/psf/black@main".to_string())
                ),
                (
                    "download",
                    &SourceKind::Url("https://example.com/download?id=3".to_string())
                ),
            ]
        );
        assert!(parsed.deps.iter().all(|dep| dep.requirement.is_none()));
    }

    #[test]
    fn forms() {
        insta::assert_snapshot!(check(
            "requests==2.19.0\nflask [async, dotenv] >=1,<2 ; python_version >= \"3.8\"  # web\n\
             attrs (>=20.1)\nurllib3 @ https://example.com/u.zip ; sys_platform == 'linux'\n\
             -r base.txt\n--requirement=more.txt\n-c constraints.txt\n-i https://pypi.example/simple\n\
             --extra-index-url https://extra.example/simple\n-e git+https://github.com/x/y.git#egg=y-pkg\n\
             -e ./local\n./downloads/numpy-1.9.2.whl\ngit+https://github.com/x/z.git@v1#egg=zed\n\
             numpy==1.26.4 --hash=sha256:abc \\\n    --hash=sha256:def\n#full comment\n   # indented comment\n"
        ));
    }

    #[test]
    fn non_ascii_crlf_tabs_and_half_typed() {
        insta::assert_snapshot!(check(
            "# größe ✓\r\nrequests\t==\t2.31.0\r\nreque\r\ndjango>=\r\nflask==2.0 ; python_version < \"3.8\r\nnext==1.0\r\n"
        ));
    }

    #[test]
    fn lone_cr_and_other_line_ends_split_lines_like_pip() {
        // pip's `str.splitlines`: an old-Mac file (CR only) still has three requirements.
        for text in [
            "requests==2.31.0\rflask>=2\rdjango==4.2\r",
            "requests==2.31.0\u{0c}flask>=2\u{2028}django==4.2",
            "\u{feff}requests==2.31.0\nflask>=2\ndjango==4.2\n",
        ] {
            let parsed = extract(text);
            let names: Vec<&str> = parsed.deps.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(names, ["requests", "flask", "django"], "{text:?}");
            assert!(parsed.issues.is_empty(), "{text:?}: {:?}", parsed.issues);
            for dep in &parsed.deps {
                assert_eq!(&text[dep.name_span.start..dep.name_span.end], dep.name);
            }
        }
    }

    #[test]
    fn continuations_follow_pip() {
        insta::assert_snapshot!(check(&fixture("pypi/requirements-line-continuation/requirements.txt")));
    }

    #[test]
    fn per_requirement_options() {
        insta::assert_snapshot!(check(&fixture(
            "pypi/requirements-per-req-options-edge-cases/requirements.txt"
        )));
    }

    #[test]
    fn every_real_file() {
        let mut res = String::new();
        let root = format!("{}/../fixtures/manifests/pypi", env!("CARGO_MANIFEST_DIR"));
        let mut paths: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .flat_map(|dir| std::fs::read_dir(dir.unwrap().path()).unwrap())
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.strip_prefix(&root).unwrap().display().to_string();
            res.push_str(&format!("=== {name}\n{}", check(&text)));
        }
        insta::assert_snapshot!(res);
    }

    #[test]
    fn names_that_crash_pep508_rs_are_issues() {
        for text in ["nu.==1", "x[a.]", "x [a. , b]", "y-;python_version<'3'", "z_ (>=1)"] {
            let parsed = parse(ManifestKind::Requirements, text);
            assert_eq!(parsed.issues.len(), 1, "{text}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// pep508_rs has panicked on inputs like these; `validate_pep508` must shield every one.
        #[test]
        fn validation_never_panics(text in "[a-z0-9._\\-\\[\\],;@ <>=!~*()'\"ä✓:/]{0,40}") {
            let _ = validate_pep508(&text);
            let _ = validate_pep508(&format!("name{text}"));
            let _ = validate_pep508(&format!("name>=1 ; python_version {text}"));
        }
    }

    #[test]
    fn warehouse() {
        let text = fixture("large/pypi-warehouse/requirements/main.txt");
        let parsed = parse(ManifestKind::Requirements, &text);
        assert!(parsed.issues.is_empty(), "{:?}", parsed.issues);
        assert_eq!(parsed.deps.len(), 184);
        for dep in &parsed.deps {
            assert!(dep.requirement.as_deref().unwrap().starts_with("=="), "{dep:?}");
            let span = dep.requirement_span.unwrap();
            assert_eq!(&text[span.start..span.end], dep.requirement.as_deref().unwrap());
        }
        let input = fixture("large/pypi-warehouse/requirements/main.in");
        let parsed = parse(ManifestKind::Requirements, &input);
        insta::assert_snapshot!(render(&parsed, &input));
    }
}
