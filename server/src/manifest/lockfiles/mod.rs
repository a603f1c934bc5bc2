//! Lockfile readers: each returns every locked package with its resolved dependency edges.

pub mod bun_lock;
pub mod cargo_lock;
pub mod package_lock;
pub mod pnpm_lock;
pub mod poetry_lock;
pub mod pylock;
pub mod uv_lock;
pub(crate) mod yaml_fast;
pub mod yarn_lock;

use std::fmt;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::manifest::SyntaxIssue;
use crate::model::Span;

/// A map for the readers' large indexes: foldhash, randomly seeded per process (the keys come from
/// untrusted files), several times faster than SipHash on package keys.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A span clamped into `text` and widened to char boundaries.
pub(crate) fn clamp(text: &str, start: usize, end: usize) -> Span {
    let mut start = start.min(text.len());
    let mut end = end.clamp(start, text.len());
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    Span::new(start, end)
}

/// The span of one `[[package]]` entry of a TOML lockfile: from the last `[[package]]` header at or
/// before `inside` to the next one (or the end). `headers` are the header offsets, ascending.
pub(crate) fn entry_span(text: &str, headers: &[usize], inside: usize) -> Span {
    let start = headers
        .iter()
        .rev()
        .find(|at| **at <= inside)
        .copied()
        .unwrap_or(inside);
    let end = headers.iter().find(|at| **at > inside).copied().unwrap_or(text.len());
    clamp(text, start, end)
}

/// Offsets of every `[[package]]` header that starts a line.
pub(crate) fn package_headers(text: &str) -> Vec<usize> {
    text.match_indices("[[package]]")
        .map(|(at, _)| at)
        .filter(|at| *at == 0 || text.as_bytes().get(at - 1) == Some(&b'\n'))
        .collect()
}

/// The typed form of a TOML lockfile, with the empty `Lockfile` it will fill; when the text does not
/// parse, that empty lockfile carries the parse error as its issue and is the answer.
// The error is the (empty) lockfile with its one issue, built once per parse: not worth a box.
#[allow(clippy::result_large_err)]
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(
    kind: crate::manifest::ManifestKind,
    ecosystem: crate::model::Ecosystem,
    text: &str,
) -> Result<(crate::manifest::Lockfile, T), crate::manifest::Lockfile> {
    let mut res = crate::manifest::Lockfile::new(kind, ecosystem);
    match toml::from_str(text) {
        Ok(lock) => Ok((res, lock)),
        Err(error) => {
            res.issues.push(toml_issue(text, &error));
            Err(res)
        }
    }
}

/// A TOML parse error as a lockfile issue.
pub(crate) fn toml_issue(text: &str, error: &toml::de::Error) -> crate::manifest::SyntaxIssue {
    crate::manifest::SyntaxIssue {
        span: error
            .span()
            .map(|range| clamp(text, range.start, range.end))
            .unwrap_or(Span::new(0, 0)),
        message: match error.message() {
            "" => "invalid lockfile: unexpected end of file".to_string(),
            message => format!("invalid lockfile: {message}"),
        },
    }
}

pub(crate) fn span_of(text: &str, raw: &RawValue) -> Span {
    let start = (raw.get().as_ptr() as usize).checked_sub(text.as_ptr() as usize);
    match start {
        Some(start) if start + raw.get().len() <= text.len() => Span::new(start, start + raw.get().len()),
        _ => Span::new(0, 0),
    }
}

pub(crate) fn json_issue(text: &str, error: &serde_json::Error) -> SyntaxIssue {
    let line_start = text
        .split_inclusive('\n')
        .take(error.line().saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    let mut offset = (line_start + error.column().saturating_sub(1)).min(text.len());
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    SyntaxIssue {
        span: Span::new(offset, offset),
        message: format!("invalid lockfile: {error}"),
    }
}

/// A JSON object's members in file order, values kept as raw text borrowed from the input. Every
/// member is kept, a repeated key too; readers look keys up the way `JSON.parse` (npm) does: the last
/// value wins (`get`, `object`, `names`, `members`), and `duplicates` names the values it shadows.
pub(crate) struct Fields<'a>(pub(crate) Vec<(String, &'a RawValue)>);

impl<'a> Fields<'a> {
    /// The value of the last member named `key`.
    fn last(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(name, _)| name == key).map(|(_, raw)| *raw)
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        serde_json::from_str(self.last(key)?.get()).ok()
    }

    /// The object under `key`, borrowing from the same input.
    pub(crate) fn object(&self, key: &str) -> Option<Fields<'a>> {
        serde_json::from_str::<Fields<'a>>(self.last(key)?.get()).ok()
    }

    /// The member names of the object under `key` (dependency tables), each once.
    pub(crate) fn names(&self, key: &str) -> Vec<String> {
        self.object(key)
            .map(|fields| fields.members().into_iter().map(|(name, _)| name.to_string()).collect())
            .unwrap_or_default()
    }

    /// The index of the last member of each key.
    fn last_index(&self) -> FastMap<&str, usize> {
        let mut res = FastMap::with_capacity_and_hasher(self.0.len(), Default::default());
        for (idx, (name, _)) in self.0.iter().enumerate() {
            res.insert(name.as_str(), idx);
        }
        res
    }

    /// The members as `JSON.parse` keeps them: each key once, where it first occurs, with its last value.
    pub(crate) fn members(&self) -> Vec<(&str, &'a RawValue)> {
        let last = self.last_index();
        if last.len() == self.0.len() {
            return self.0.iter().map(|(name, raw)| (name.as_str(), *raw)).collect();
        }
        let mut seen = FastMap::<&str, ()>::default();
        let mut res = Vec::with_capacity(last.len());
        for (name, _) in &self.0 {
            if seen.insert(name.as_str(), ()).is_none()
                && let Some(idx) = last.get(name.as_str())
            {
                res.push((name.as_str(), self.0[*idx].1));
            }
        }
        res
    }

    /// Each member whose key occurs again later in the object: the values `JSON.parse` drops.
    pub(crate) fn duplicates(&self) -> Vec<(&str, &'a RawValue)> {
        let last = self.last_index();
        if last.len() == self.0.len() {
            return Vec::new();
        }
        self.0
            .iter()
            .enumerate()
            .filter(|(idx, (name, _))| last.get(name.as_str()) != Some(idx))
            .map(|(_, (name, raw))| (name.as_str(), *raw))
            .collect()
    }
}

/// A key repeated in one object of a JSON lockfile, as an issue on the value that is not used: no
/// package manager writes such a file, and a reader that took the first value would check something
/// other than what `manager` installs (it takes the last, as `JSON.parse` does, and so does Gatehouse).
pub(crate) fn duplicate_issues(text: &str, fields: &Fields<'_>, manager: &str, issues: &mut Vec<SyntaxIssue>) {
    for (key, raw) in fields.duplicates() {
        issues.push(SyntaxIssue {
            span: span_of(text, raw),
            message: format!(
                "invalid lockfile: the key {key:?} occurs more than once in one object; {manager} uses the last one, which is what is checked (no package manager writes such a file)"
            ),
        });
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for FieldsVisitor<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut res = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                    res.push((key, value));
                }
                Ok(Fields(res))
            }
        }
        deserializer.deserialize_map(FieldsVisitor(std::marker::PhantomData))
    }
}

/// Any YAML scalar as text (`2`, `1.0`, `true` and `'2'` alike); a sequence, a map or null is empty.
/// Lockfiles are untrusted: a wrong type in one field must not lose the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scalar(pub(crate) String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a scalar")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Scalar, E> {
                Ok(Scalar(value.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, value: String) -> Result<Scalar, E> {
                Ok(Scalar(value))
            }
            fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Scalar, E> {
                Ok(Scalar(value.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Scalar, E> {
                Ok(Scalar(value.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Scalar, E> {
                Ok(Scalar(value.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Scalar, E> {
                Ok(Scalar(value.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::default())
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Scalar, D::Error> {
                deserializer.deserialize_any(self)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Scalar::default())
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl Scalar {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_true(&self) -> bool {
        self.0 == "true"
    }
}

/// The `Visitor` methods for everything but a map: the input is consumed and `$default` returned.
macro_rules! lenient_non_map {
    ($default:expr) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok($default)
        }
    };
}
pub(crate) use lenient_non_map;

/// A map in file order whose values are read leniently (`T` is a `lenient_struct!`, a `Scalar` or
/// another `Lenient`); anything that is not a map is empty.
#[derive(Debug)]
pub(crate) struct Lenient<T>(pub(crate) Vec<(String, T)>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LenientVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for LenientVisitor<T> {
            type Value = Lenient<T>;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a map")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut res = Vec::new();
                while let Some(key) = map.next_key::<Scalar>()? {
                    res.push((key.0, map.next_value::<T>()?));
                }
                Ok(Lenient(res))
            }
            lenient_non_map!(Lenient(Vec::new()));
        }
        deserializer.deserialize_any(LenientVisitor(std::marker::PhantomData))
    }
}

/// A struct read from a YAML map that never fails on a wrong type: known keys are read as their
/// (lenient) field types, unknown keys are skipped, and a value that is not a map gives the default
/// (or, with `scalar = field`, a scalar fills that field). Syntax errors and the reader's recursion
/// limit still fail, and fail the file.
macro_rules! lenient_struct {
    ($name:ident $(scalar = $scalar:ident)? { $($field:ident : $ty:ty = $key:literal),* $(,)? }) => {
        #[derive(Default)]
        struct $name {
            $($field: $ty,)*
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct StructVisitor;
                impl<'de> serde::de::Visitor<'de> for StructVisitor {
                    type Value = $name;
                    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                        formatter.write_str(stringify!($name))
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<$name, M::Error> {
                        let mut res = $name::default();
                        while let Some(key) = map.next_key::<$crate::manifest::lockfiles::Scalar>()? {
                            match key.as_str() {
                                $($key => res.$field = map.next_value()?,)*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(res)
                    }
                    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<$name, D::Error> {
                        deserializer.deserialize_any(self)
                    }
                    $(
                    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<$name, E> {
                        let mut res = $name::default();
                        res.$scalar = $crate::manifest::lockfiles::Scalar(value.to_string());
                        Ok(res)
                    }
                    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<$name, E> {
                        self.visit_str(&value.to_string())
                    }
                    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<$name, E> {
                        self.visit_str(&value.to_string())
                    }
                    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<$name, E> {
                        self.visit_str(&value.to_string())
                    }
                    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_unit<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_none<E: serde::de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<$name, A::Error> {
                        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                        Ok($name::default())
                    }
                    )?
                    $crate::manifest::lockfiles::lenient_struct!(@rest $name $($scalar)?);
                }
                deserializer.deserialize_any(StructVisitor)
            }
        }
    };
    (@rest $name:ident $scalar:ident) => {};
    (@rest $name:ident) => {
        $crate::manifest::lockfiles::lenient_non_map!($name::default());
    };
}
pub(crate) use lenient_struct;

/// The spans of the entries of a top-level YAML map `section` (`packages:`): each entry runs from
/// its key line (indented by two spaces) to the next such line or the next top-level key. Keys are
/// unquoted. A plain line scan, independent of the YAML parser, so spans stay exact and cheap.
pub(crate) fn yaml_entry_spans(text: &str, section: &str) -> FastMap<String, Span> {
    let mut res = FastMap::default();
    let mut inside = false;
    let mut open: Option<(String, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if content.trim().is_empty() || content.trim_start().starts_with('#') {
            continue;
        }
        let top_level = !content.starts_with([' ', '\t']);
        let entry_level = content.starts_with("  ") && !content[2..].starts_with([' ', '\t']);
        if (top_level || entry_level)
            && let Some((key, from)) = open.take()
        {
            res.insert(key, clamp(text, from, start));
        }
        if top_level {
            inside = content.trim_end() == format!("{section}:");
            continue;
        }
        if inside && entry_level {
            let key = content[2..].trim_end();
            let key = key.strip_suffix(':').or_else(|| key.split_once(": ").map(|(k, _)| k));
            if let Some(key) = key {
                open = Some((unquote_yaml_key(key.trim()), start));
            }
        }
    }
    if let Some((key, from)) = open {
        res.insert(key, clamp(text, from, text.len()));
    }
    res
}

fn unquote_yaml_key(key: &str) -> String {
    if key.len() >= 2 && key.starts_with('\'') && key.ends_with('\'') {
        return key[1..key.len() - 1].replace("''", "'");
    }
    if key.len() >= 2 && key.starts_with('"') && key.ends_with('"') {
        return serde_json::from_str::<String>(key).unwrap_or_else(|_| key[1..key.len() - 1].to_string());
    }
    key.to_string()
}

#[cfg(test)]
thread_local! {
    /// Tests turn the fast YAML reader off to compare it with the full parse.
    pub(crate) static FAST_YAML: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Reads YAML with the fast reader for the layout pnpm and Yarn write (`yaml_fast`), and with
/// `serde_yaml_ng` whenever that declines: the same value either way, the full parse's error when
/// the text is not YAML.
pub(crate) fn read_yaml<T: DeserializeOwned>(text: &str) -> Result<T, serde_yaml_ng::Error> {
    #[cfg(test)]
    let fast = FAST_YAML.with(std::cell::Cell::get);
    #[cfg(not(test))]
    let fast = true;
    if fast && let Some(value) = yaml_fast::from_str(text) {
        return Ok(value);
    }
    // The full parse slows down with the square of flow nesting (`[[[[…]]]]`: 64k levels took 14 s),
    // so a linear scan refuses deep nesting first; pnpm and Yarn write two or three levels at most.
    if let Some(at) = deep_flow_nesting(text, MAX_FLOW_DEPTH) {
        let line = text[..at].matches('\n').count() + 1;
        return Err(serde::de::Error::custom(format!(
            "flow collections (`[`, `{{`) nested deeper than {MAX_FLOW_DEPTH} levels at line {line}: refused unread (no package manager writes this)"
        )));
    }
    // Through `Value`, whose mappings refuse a duplicated key (with its location): pnpm and Yarn
    // refuse such a file, and `Lenient` would keep both entries.
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)?;
    if let Some(key) = duplicate_text_key(&value) {
        return Err(serde::de::Error::custom(format!("duplicate entry with key {key:?}")));
    }
    serde_yaml_ng::from_value(value)
}

/// Flow nesting deeper than this is refused before the full YAML parse.
pub(crate) const MAX_FLOW_DEPTH: usize = 64;

/// The offset where YAML flow collections (`[`, `{`) nest deeper than `limit`, found in one linear
/// pass. Brackets inside quoted scalars and comments do not count; a quote opens a scalar only where
/// YAML starts a node (a line start; after `: `, a leading `- ` or `? `, an anchor or a tag; inside a
/// flow collection also after `[`, `{`, `,` and a quoted key's `:`), and outside flow collections a
/// bracket opens one only there too. A second count that ignores quotes altogether, with a four times
/// higher limit, bounds what a misread quote could hide (a quote on the continuation line of a plain
/// scalar is read as opening one).
fn deep_flow_nesting(text: &str, limit: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut unquoted_depth = 0usize;
    let mut quote: Option<u8> = None;
    // The last byte that is not a blank outside quoted scalars (`\n` at a line start), whether blanks
    // followed it, whether only block indicators (`- `, `? `) came before it on its line, whether the
    // current word is an anchor or tag at a node start, and where the last quoted scalar closed.
    let mut prev = b'\n';
    let mut blank = true;
    let mut lead = true;
    let mut properties = false;
    let mut closed_quote_at = usize::MAX;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        match byte {
            b'[' | b'{' => unquoted_depth += 1,
            b']' | b'}' => unquoted_depth = unquoted_depth.saturating_sub(1),
            _ => {}
        }
        if unquoted_depth > limit * 4 {
            return Some(at);
        }
        if let Some(open) = quote {
            if open == b'"' && byte == b'\\' {
                at += 2;
                continue;
            }
            if byte == open {
                if open == b'\'' && bytes.get(at + 1) == Some(&b'\'') {
                    at += 2;
                    continue;
                }
                quote = None;
                prev = byte;
                blank = false;
                lead = false;
                properties = false;
                closed_quote_at = at;
            }
            at += 1;
            continue;
        }
        let flow = depth > 0;
        let node_start = prev == b'\n'
            || (flow && matches!(prev, b'[' | b'{' | b','))
            || (blank && prev == b':')
            || (blank && lead && matches!(prev, b'-' | b'?'))
            || (blank && properties)
            || (flow && prev == b':' && closed_quote_at.checked_add(2) == Some(at));
        match byte {
            b' ' | b'\t' => blank = true,
            b'\n' | b'\r' => {
                prev = b'\n';
                blank = true;
                lead = true;
                properties = false;
            }
            b'#' if blank => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
                continue;
            }
            b'\'' | b'"' if node_start => quote = Some(byte),
            b'[' | b'{' if flow || node_start => {
                depth += 1;
                if depth > limit {
                    return Some(at);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') && quote.is_none() {
            if blank || prev == b'\n' {
                let indicator =
                    matches!(byte, b'-' | b'?') && bytes.get(at + 1).is_none_or(|next| next.is_ascii_whitespace());
                lead = lead && indicator;
                properties = matches!(byte, b'&' | b'!') && node_start;
            }
            prev = byte;
            blank = false;
        }
        at += 1;
    }
    None
}

/// A key that occurs twice in one mapping once keys are read as text (`1` and `'1'`), as `Lenient`
/// and pnpm's reader see them.
fn duplicate_text_key(value: &serde_yaml_ng::Value) -> Option<String> {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            serde_yaml_ng::Value::Mapping(map) => {
                let mut seen = std::collections::HashSet::<String, foldhash::fast::RandomState>::default();
                for (key, child) in map {
                    if let Ok(text) = serde_yaml_ng::from_value::<Scalar>(key.clone())
                        && !key.is_mapping()
                        && !key.is_sequence()
                        && !seen.insert(text.0.clone())
                    {
                        return Some(text.0);
                    }
                    stack.push(child);
                }
            }
            serde_yaml_ng::Value::Sequence(items) => stack.extend(items),
            serde_yaml_ng::Value::Tagged(tagged) => stack.push(&tagged.value),
            _ => {}
        }
    }
    None
}

/// A YAML parse error as a lockfile issue.
pub(crate) fn yaml_issue(text: &str, error: &serde_yaml_ng::Error) -> SyntaxIssue {
    let offset = error.location().map_or(0, |location| location.index());
    SyntaxIssue {
        span: clamp(text, offset, offset),
        message: format!("invalid lockfile: {error}"),
    }
}

/// How a package installed from `url` rather than from its registry is shown: it is not checked.
pub fn installed_from(url: &str) -> String {
    format!("installed from {url}, not from the registry: not checked")
}

/// Whether `url`'s path is where an npm registry serves `name@version`: `…/<name>/-/<file>-<version>.tgz`,
/// `<file>` being the name without its scope (the scope's `/` may be written `%2f`).
pub(crate) fn is_registry_tarball_path(name: &str, version: &str, url: &str) -> bool {
    let path = url.split(['#', '?']).next().unwrap_or(url);
    let Some((before, file)) = path.rsplit_once("/-/") else {
        return false;
    };
    let before = before.replace("%2f", "/").replace("%2F", "/").replace("%40", "@");
    let file_name = name.rsplit('/').next().unwrap_or(name);
    !name.is_empty()
        && !version.is_empty()
        && before.ends_with(&format!("/{name}"))
        && file == format!("{file_name}-{version}.tgz")
}

/// An http(s) URL a lockfile records as where `name@version` is downloaded from: the URL (without a
/// `#` fragment), and no reason of its own. Whether it is the registry's tarball depends on the
/// registry the settings give the package (a configured registry writes its own URL shapes), so the
/// engine decides (`engine::sources`), never a reader. `None` for anything that is not an http(s) URL.
pub(crate) fn http_source(_name: &str, _version: &str, url: &str) -> Option<(String, Option<String>)> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return None;
    }
    let url = url.split('#').next().unwrap_or(url);
    Some((url.to_string(), None))
}

/// `name@range` → (`name`, `range`); the name of a scoped package starts with `@`, so the separator
/// is the first `@` after the first character.
pub(crate) fn split_spec(spec: &str) -> Option<(&str, &str)> {
    let first = spec.chars().next()?.len_utf8();
    let at = spec[first..].find('@')? + first;
    Some((&spec[..at], &spec[at + 1..]))
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::manifest::{LockedPackage, Lockfile};

    /// Deep flow nesting (which the full YAML parse reads in quadratic time) is refused as an issue on
    /// the file before that parse runs; the nesting real lockfiles use still reads.
    #[test]
    fn deep_yaml_flow_nesting_is_refused_before_the_full_parse() {
        let nest = |open: &str, close: &str, n: usize| format!("{}{}", open.repeat(n), close.repeat(n));
        let deep = [
            nest("[", "]", 100),
            nest("{a: ", "}", 100),
            // Quoted closers between the openers do not close anything.
            nest("[ \"]\", ", "]", 100),
            nest("['}', ", "]", 100),
            // Across lines, after an anchor, in a JSON-like mapping.
            nest("[\n  ", "]", 100),
            format!("&a {}", nest("{\"k\":", "}", 100)),
        ];
        for value in &deep {
            let pnpm = format!("lockfileVersion: '9.0'\n\npackages:\n\n  left@1.0.0:\n    resolution: {value}\n");
            let lock = super::pnpm_lock::parse(&pnpm);
            assert!(lock.packages.is_empty(), "{value}");
            assert!(
                lock.issues
                    .first()
                    .is_some_and(|i| i.message.contains("nested deeper than 64")),
                "{value}: {:?}",
                lock.issues
            );
            let berry =
                format!("__metadata:\n  version: 8\n\n\"left@npm:^1\":\n  version: 1.0.0\n  resolution: {value}\n");
            let lock = super::yarn_lock::parse(&berry);
            assert!(
                lock.issues
                    .first()
                    .is_some_and(|i| i.message.contains("nested deeper than 64")),
                "{value}: {:?}",
                lock.issues
            );
            let workspace = format!("packages:\n  - {value}\n");
            let error = super::pnpm_lock::parse_workspace(&workspace).unwrap_err();
            assert!(error.contains("nested deeper than 64"), "{error}");
        }
        // Brackets in quoted scalars and comments, and shallow nesting, are read.
        let shallow = format!(
            "lockfileVersion: '9.0'\n\n# {}\npackages:\n\n  left@1.0.0:\n    resolution: {{integrity: sha512-A}}\n    engines: {{node: '{}'}}\n    cpu: [x64, arm64]\n    os: [{{a: [b]}}]\n",
            "[".repeat(300),
            "[".repeat(100)
        );
        let lock = super::pnpm_lock::parse(&shallow);
        assert!(lock.issues.is_empty(), "{:?}", lock.issues);
        assert_eq!(lock.packages.len(), 1);
    }

    /// A package's dependencies by name@version, comma-separated.
    pub(crate) fn deps_of(lock: &Lockfile, package: &LockedPackage) -> String {
        let deps: Vec<String> = package
            .dependencies
            .iter()
            .map(|idx| format!("{}@{}", lock.packages[*idx].name, lock.packages[*idx].version))
            .collect();
        deps.join(", ")
    }

    /// ` non-registry(<why>)` for a package that does not come from a registry, else nothing.
    pub(crate) fn non_registry_of(package: &LockedPackage) -> String {
        package
            .non_registry
            .as_deref()
            .map(|r| format!(" non-registry({r})"))
            .unwrap_or_default()
    }

    /// One line per issue.
    pub(crate) fn issues_of(lock: &Lockfile) -> String {
        lock.issues
            .iter()
            .map(|issue| format!("issue {} at {:?}\n", issue.message, issue.span))
            .collect()
    }

    pub(crate) fn fixture(path: &str) -> String {
        std::fs::read_to_string(format!("{}/../fixtures/manifests/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// Roots, importers, then one line per package (flags, edges by name@version, the first line of
    /// its span); asserts spans are in bounds and on char boundaries.
    pub(crate) fn render_js(lock: &Lockfile, text: &str) -> String {
        let mut res = String::new();
        let at = |idx: usize| format!("{}@{}", lock.packages[idx].name, lock.packages[idx].version);
        for (name, idx) in &lock.roots {
            res.push_str(&format!("root {name} -> {}\n", at(*idx)));
        }
        for (path, roots) in &lock.importers {
            for (name, idx) in roots {
                res.push_str(&format!("importer {path}: {name} -> {}\n", at(*idx)));
            }
        }
        for (catalog, name, range) in &lock.catalogs {
            res.push_str(&format!("catalog {catalog}: {name} {range}\n"));
        }
        for package in &lock.packages {
            assert!(package.span.end <= text.len() && package.span.start <= package.span.end);
            assert!(text.is_char_boundary(package.span.start) && text.is_char_boundary(package.span.end));
            let first_line = text[package.span.start..package.span.end].lines().next().unwrap_or("");
            let deps: Vec<String> = package.dependencies.iter().map(|idx| at(*idx)).collect();
            res.push_str(&format!(
                "{}@{}{}{}{}{} deps=[{}] at `{}`\n",
                package.name,
                package.version,
                if package.dev { " dev" } else { "" },
                if package.optional { " optional" } else { "" },
                package
                    .non_registry
                    .as_deref()
                    .map(|r| format!(" non-registry({r})"))
                    .unwrap_or_default(),
                if package.integrity.is_some() { " integrity" } else { "" },
                deps.join(", "),
                first_line.trim()
            ));
        }
        for issue in &lock.issues {
            res.push_str(&format!("issue {} at {:?}\n", issue.message, issue.span));
        }
        res
    }

    /// One line per root and per package (flags, dependencies by name@version); asserts spans are in bounds.
    pub(crate) fn render(lock: &Lockfile, text: &str) -> String {
        let mut res = String::new();
        for (name, idx) in &lock.roots {
            res.push_str(&format!("root {name} -> {}\n", lock.packages[*idx].version));
        }
        for package in &lock.packages {
            assert!(package.span.end <= text.len());
            assert!(text[package.span.start..].starts_with("[[package]]"));
            res.push_str(&format!(
                "{}@{}{}{}{}{} deps=[{}]\n",
                package.name,
                package.version,
                if package.dev { " dev" } else { "" },
                if package.optional { " optional" } else { "" },
                non_registry_of(package),
                package
                    .integrity
                    .as_deref()
                    .map(|i| format!(" integrity={i}"))
                    .unwrap_or_default(),
                deps_of(lock, package)
            ));
        }
        res.push_str(&issues_of(lock));
        res
    }
}

#[cfg(test)]
mod tarball_tests {
    use super::is_registry_tarball_path;

    #[test]
    fn registry_tarball_paths_name_the_package_and_version() {
        for (name, version, url, expected) in [
            (
                "left",
                "1.0.0",
                "https://registry.npmjs.org/left/-/left-1.0.0.tgz",
                true,
            ),
            (
                "@s/a",
                "2.0.0-rc.1",
                "https://registry.npmjs.org/@s/a/-/a-2.0.0-rc.1.tgz",
                true,
            ),
            ("@s/a", "1.0.0", "https://r.example/npm/@s%2fa/-/a-1.0.0.tgz#sha", true),
            (
                "left",
                "1.0.0",
                "https://registry.npmjs.org/left/-/left-9.9.9.tgz",
                false,
            ),
            (
                "left",
                "1.0.0",
                "https://registry.npmjs.org/right/-/left-1.0.0.tgz",
                false,
            ),
            ("left", "1.0.0", "https://evil.example/-/payload.tgz", false),
            ("left", "1.0.0", "https://evil.example/payload.tgz", false),
            ("left", "1.0.0", "https://evil.example/xleft/-/left-1.0.0.tgz", false),
            ("left", "", "https://registry.npmjs.org/left/-/left-.tgz", false),
        ] {
            assert_eq!(
                is_registry_tarball_path(name, version, url),
                expected,
                "{name}@{version} {url}"
            );
        }
    }
}
