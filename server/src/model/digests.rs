//! A version's artifact digests, kept as their bytes in one allocation per package.
//!
//! A session holds every version of every package its manifests name (ten 300-dependency
//! `package.json` files are ~90,000 versions), and nearly every npm version carries one
//! `sha512-<base64>` integrity: 95 bytes of text, a 96-byte allocation of its own. Kept as bytes (a
//! form byte and the 64-byte digest) in one buffer shared by all versions of the package, it costs
//! 65 bytes and no allocation of its own.
//!
//! The text the registry gave is kept exactly: a digest is stored as bytes only when writing the bytes
//! back gives the same text (`sha512-<canonical padded base64>`, `sha256:<lower-case hex>`), otherwise
//! as its text. So the stored and serialised form, a list of strings, is unchanged, and two digests are
//! equal exactly when their texts are.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

/// The digest algorithms kept as bytes, by their name in both spellings (`<name>-` SRI with base64,
/// `<name>:` with hex), and their digests' length. Their index is part of the entry's form byte.
const ALGORITHMS: [(&str, usize); 5] = [
    ("sha512", 64),
    ("sha384", 48),
    ("sha256", 32),
    ("sha1", 20),
    ("md5", 16),
];

/// An entry's form: its text verbatim, after its length (u16, little-endian).
const TEXT: u8 = 0;
/// `SRI + i`: `ALGORITHMS[i]-<base64>`; `HEX + i`: `ALGORITHMS[i]:<lower-case hex>`; the digest's bytes
/// follow the form byte (their length is the algorithm's).
const SRI: u8 = 1;
const HEX: u8 = 16;
/// A text longer than a u16 length holds (no registry writes one, but it is kept as given): its text
/// after its length as a u32.
const LONG_TEXT: u8 = 255;

fn base64_engine() -> &'static base64::engine::GeneralPurpose {
    &base64::engine::general_purpose::STANDARD
}

/// One digest of a version, read from the shared buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Digest<'a> {
    /// `<algorithm>-<base64>` (npm's `dist.integrity`).
    Sri(&'static str, &'a [u8]),
    /// `<algorithm>:<hex>` (npm's `dist.shasum` as `sha1:`, crates.io's `cksum` and PyPI's `sha256`).
    Hex(&'static str, &'a [u8]),
    /// Any other text, kept as written.
    Text(&'a str),
}

impl<'a> Digest<'a> {
    /// The algorithm's name as written before `-` or `:` (`sha512`, `sha256`, …), if any.
    pub fn algorithm(&self) -> Option<&'a str> {
        match *self {
            Digest::Sri(algorithm, _) | Digest::Hex(algorithm, _) => Some(algorithm),
            Digest::Text(text) => {
                let end = text.find(['-', ':'])?;
                Some(&text[..end])
            }
        }
    }

    /// Whether the text starts with `prefix`; an algorithm's (`"sha512-"`, `"sha256:"`) is read without
    /// writing the text out.
    pub fn starts_with(&self, prefix: &str) -> bool {
        let (algorithm, separator) = match *self {
            Digest::Sri(algorithm, _) => (algorithm, '-'),
            Digest::Hex(algorithm, _) => (algorithm, ':'),
            Digest::Text(text) => return text.starts_with(prefix),
        };
        match prefix.len().cmp(&(algorithm.len() + 1)) {
            std::cmp::Ordering::Less => algorithm.starts_with(prefix),
            std::cmp::Ordering::Equal => prefix.strip_prefix(algorithm) == Some(separator.encode_utf8(&mut [0; 4])),
            std::cmp::Ordering::Greater => self.to_string().starts_with(prefix),
        }
    }

    /// The digest's bytes with its algorithm's name: stored bytes as they are, a text digest decoded
    /// when it reads as `<algorithm>-<base64>` or `<algorithm>:<hex>` (hex in either case).
    pub fn bytes(&self) -> Option<(&'a str, Cow<'a, [u8]>)> {
        match *self {
            Digest::Sri(algorithm, bytes) | Digest::Hex(algorithm, bytes) => Some((algorithm, Cow::Borrowed(bytes))),
            Digest::Text(text) => {
                if let Some((algorithm, hex_digest)) = text.split_once(':') {
                    return Some((algorithm, Cow::Owned(hex::decode(hex_digest).ok()?)));
                }
                let (algorithm, encoded) = text.split_once('-')?;
                let encoded = encoded.split('?').next().unwrap_or(encoded);
                Some((algorithm, Cow::Owned(base64_engine().decode(encoded).ok()?)))
            }
        }
    }
}

impl fmt::Display for Digest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Digest::Sri(algorithm, bytes) => write!(f, "{algorithm}-{}", base64_engine().encode(bytes)),
            Digest::Hex(algorithm, bytes) => {
                write!(f, "{algorithm}:")?;
                bytes.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Digest::Text(text) => f.write_str(text),
        }
    }
}

impl fmt::Debug for Digest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl Serialize for Digest<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Appends the entry for `text` to `out`: its bytes when they write back to exactly `text`, else the
/// text. `false` (nothing appended) for what is not a digest: empty, or longer than a u32 holds.
fn encode(text: &str, out: &mut Vec<u8>) -> bool {
    if text.is_empty() {
        return false;
    }
    if text.len() > usize::from(u16::MAX) {
        let Ok(len) = u32::try_from(text.len()) else {
            return false;
        };
        out.push(LONG_TEXT);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        return true;
    }
    for (index, (algorithm, length)) in ALGORITHMS.iter().enumerate() {
        let Some(rest) = text.strip_prefix(algorithm) else {
            continue;
        };
        let bytes = if let Some(encoded) = rest.strip_prefix('-') {
            base64_engine()
                .decode(encoded)
                .ok()
                .filter(|bytes| base64_engine().encode(bytes) == encoded)
                .map(|bytes| (SRI, bytes))
        } else if let Some(hex_digest) = rest.strip_prefix(':') {
            (!hex_digest.bytes().any(|b| b.is_ascii_uppercase()))
                .then(|| hex::decode(hex_digest).ok())
                .flatten()
                .map(|bytes| (HEX, bytes))
        } else {
            None
        };
        if let Some((form, bytes)) = bytes.filter(|(_, bytes)| bytes.len() == *length) {
            out.push(form + index as u8);
            out.extend_from_slice(&bytes);
            return true;
        }
    }
    out.push(TEXT);
    out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    true
}

/// The entries in `bytes` (a well-formed run of entries, as `encode` writes them), each with its raw
/// bytes.
fn entries(bytes: &[u8]) -> impl Iterator<Item = (&[u8], Digest<'_>)> + '_ {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let (&form, after) = rest.split_first()?;
        let (digest, used) = if form == TEXT {
            let len = usize::from(u16::from_le_bytes([*after.first()?, *after.get(1)?]));
            let text = std::str::from_utf8(after.get(2..2 + len)?).unwrap_or_default();
            (Digest::Text(text), 2 + len)
        } else if form == LONG_TEXT {
            let len = u32::from_le_bytes([*after.first()?, *after.get(1)?, *after.get(2)?, *after.get(3)?]);
            let len = usize::try_from(len).ok()?;
            let text = std::str::from_utf8(after.get(4..4 + len)?).unwrap_or_default();
            (Digest::Text(text), 4 + len)
        } else {
            let (sri, index) = if form >= HEX {
                (false, form - HEX)
            } else {
                (true, form - SRI)
            };
            let (algorithm, length) = *ALGORITHMS.get(usize::from(index))?;
            let payload = after.get(..length)?;
            let digest = if sri {
                Digest::Sri(algorithm, payload)
            } else {
                Digest::Hex(algorithm, payload)
            };
            (digest, length)
        };
        let raw = &rest[..1 + used];
        rest = &after[used..];
        Some((raw, digest))
    })
}

/// A version's artifact digests as the registry states them (`sha512-…` integrity, `sha256:…` hex), in
/// the order it gave them. A slice of a buffer that all versions of a package share once
/// `PackageFacts::pack_digests` has run (until then, a buffer of its own). Stored and serialised as a
/// list of strings.
#[derive(Clone, Default)]
pub struct Digests {
    buffer: Option<Arc<Box<[u8]>>>,
    start: u32,
    end: u32,
}

impl Digests {
    fn raw(&self) -> &[u8] {
        match &self.buffer {
            Some(buffer) => buffer.get(self.start as usize..self.end as usize).unwrap_or_default(),
            None => &[],
        }
    }

    /// The digests in the order the registry gave them.
    pub fn iter(&self) -> impl Iterator<Item = Digest<'_>> + '_ {
        entries(self.raw()).map(|(_, digest)| digest)
    }

    pub fn first(&self) -> Option<Digest<'_>> {
        self.iter().next()
    }

    pub fn is_empty(&self) -> bool {
        self.raw().is_empty()
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether one of the digests is written exactly `text`.
    pub fn contains(&self, text: &str) -> bool {
        let mut wanted = Vec::with_capacity(5 + text.len());
        encode(text, &mut wanted) && entries(self.raw()).any(|(raw, _)| raw == wanted.as_slice())
    }

    /// Adds one digest. An empty one, or one holding a line break (no digest does), is not a digest and
    /// is dropped.
    pub fn push(&mut self, text: &str) {
        if text.contains('\n') {
            return;
        }
        let mut bytes = self.raw().to_vec();
        if encode(text, &mut bytes) {
            *self = Digests::own(bytes);
        }
    }

    fn own(bytes: Vec<u8>) -> Digests {
        let end = u32::try_from(bytes.len()).unwrap_or(0);
        Digests {
            buffer: (end > 0).then(|| Arc::new(bytes.into_boxed_slice())),
            start: 0,
            end,
        }
    }

    /// Moves the digests of all of `list` into one shared buffer (nothing changes when they already
    /// share one, or when together they would not fit one).
    pub fn pack<T>(list: &mut [T], digests_of: fn(&mut T) -> &mut Digests) {
        let mut shared: Option<Arc<Box<[u8]>>> = None;
        let mut total = 0usize;
        let mut already = true;
        for item in list.iter_mut() {
            let digests = digests_of(item);
            total += digests.raw().len();
            if let Some(buffer) = &digests.buffer {
                already &= shared.as_ref().is_none_or(|first| Arc::ptr_eq(first, buffer));
                shared.get_or_insert_with(|| buffer.clone());
            }
        }
        if already || u32::try_from(total).is_err() {
            return;
        }
        let mut bytes = Vec::with_capacity(total);
        let mut spans = Vec::new();
        for item in list.iter_mut() {
            let start = bytes.len() as u32;
            bytes.extend_from_slice(digests_of(item).raw());
            spans.push((start, bytes.len() as u32));
        }
        let buffer = Arc::new(bytes.into_boxed_slice());
        for (item, (start, end)) in list.iter_mut().zip(spans) {
            *digests_of(item) = Digests {
                buffer: (start < end).then(|| buffer.clone()),
                start,
                end,
            };
        }
    }
}

impl PartialEq for Digests {
    fn eq(&self, other: &Self) -> bool {
        self.raw() == other.raw()
    }
}

impl Eq for Digests {}

impl<S: AsRef<str>> FromIterator<S> for Digests {
    fn from_iter<I: IntoIterator<Item = S>>(digests: I) -> Self {
        let mut bytes = Vec::new();
        for digest in digests {
            let digest = digest.as_ref();
            if !digest.contains('\n') {
                encode(digest, &mut bytes);
            }
        }
        Digests::own(bytes)
    }
}

impl<S: AsRef<str>> From<Vec<S>> for Digests {
    fn from(digests: Vec<S>) -> Self {
        digests.into_iter().collect()
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Digests {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.iter().map(|digest| digest.to_string()).eq(other.iter().copied())
    }
}

impl fmt::Debug for Digests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Digests {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for digest in self.iter() {
            seq.serialize_element(&digest)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Digests {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Digests::from(Vec::<String>::deserialize(deserializer)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA512: &str =
        "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQGinBN9yTQT3bFlCBy/aVx2HrNcqQGsdot8ghrjyrvMCoEA==";
    const SHA256: &str = "sha256:541ac5ac8bd0a4fd7a4ff8a1b44a2abd1a8b88b4ef1e6b1e2a7e76cf2a0b3c4d";

    #[test]
    fn digests_read_as_the_list_the_registry_gave() {
        let mut digests = Digests::default();
        assert!(digests.is_empty() && digests.first().is_none());
        digests.push("sha256:aa");
        digests.push("");
        digests.push("sha256:bb\nsha256:cc");
        digests.push("sha256:dd");
        assert_eq!(digests, ["sha256:aa", "sha256:dd"]);
        assert!(digests.contains("sha256:dd") && !digests.contains("sha256:cc"));
        assert_eq!(digests.len(), 2);
        // The stored form is the list it always was.
        let as_list = vec!["sha256:aa".to_string(), "sha256:dd".to_string()];
        assert_eq!(
            postcard::to_stdvec(&digests).unwrap(),
            postcard::to_stdvec(&as_list).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&digests).unwrap(),
            serde_json::to_string(&as_list).unwrap()
        );
        let back: Digests = postcard::from_bytes(&postcard::to_stdvec(&as_list).unwrap()).unwrap();
        assert_eq!(back, digests);
        assert_eq!(std::mem::size_of::<Digests>(), 16);
    }

    /// Every text comes back exactly as written, whether it was kept as bytes or as text; and the bytes
    /// form is used for the digests registries write.
    #[test]
    fn every_digest_writes_back_exactly() {
        let texts = [
            SHA512,
            SHA256,
            "sha1:5b8a3a7765dfe001261dde915589e782f8c94d1e",
            "sha1-W4o6d2Xf4AEmHd6RVYnngvjJTR4=",
            "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            // Not canonical, so kept as text: upper-case hex, base64 without padding or with
            // non-zero trailing bits, an unknown algorithm, an SRI option, odd hex, no algorithm.
            "sha256:541AC5AC8BD0A4FD7A4FF8A1B44A2ABD1A8B88B4EF1E6B1E2A7E76CF2A0B3C4D",
            "sha1-W4o6d2Xf4AEmHd6RVYnngvjJTR4",
            "sha1-W4o6d2Xf4AEmHd6RVYnngvjJTR5=",
            "blake2b_256:00ff",
            "sha512-abc?opt",
            "sha256:abc",
            "sha256:",
            "sha512-",
            "deadbeef",
            "sha512-x",
            "ü-ünicode:ß",
            // Readable, but not the algorithm's length: kept as text.
            "sha256:abcd",
            "sha512-W4o6d2Xf4AEmHd6RVYnngvjJTR4=",
            "md5-W4o6d2Xf4AEmHd6RVYnngvjJTR4=",
        ];
        for text in texts {
            let digests = Digests::from(vec![text]);
            assert_eq!(digests, [text], "{text}");
            assert!(digests.contains(text), "{text}");
            assert_eq!(digests.first().unwrap().to_string(), text);
            let json = serde_json::to_string(&digests).unwrap();
            assert_eq!(json, serde_json::to_string(&[text]).unwrap());
            assert_eq!(serde_json::from_str::<Digests>(&json).unwrap(), digests);
        }
        let kept = |text: &str| Digests::from(vec![text]).raw().len();
        assert_eq!(kept(SHA512), 1 + 64);
        assert_eq!(kept(SHA256), 1 + 32);
        assert_eq!(kept("sha1:5b8a3a7765dfe001261dde915589e782f8c94d1e"), 1 + 20);
        assert_eq!(kept("sha256:abcd"), 3 + "sha256:abcd".len());
        // Two texts of the same bytes are still two texts.
        let upper = "sha256:541AC5AC8BD0A4FD7A4FF8A1B44A2ABD1A8B88B4EF1E6B1E2A7E76CF2A0B3C4D";
        assert!(!Digests::from(vec![SHA256]).contains(upper));
        assert!(!Digests::from(vec![upper]).contains(SHA256));
        assert_ne!(Digests::from(vec![SHA256]), Digests::from(vec![upper]));
    }

    #[test]
    fn a_digest_reads_its_algorithm_and_bytes() {
        let digests = Digests::from(vec![
            SHA512,
            "sha256:541AC5AC8BD0A4FD7A4FF8A1B44A2ABD1A8B88B4EF1E6B1E2A7E76CF2A0B3C4D",
            "sha1-W4o6d2Xf4AEmHd6RVYnngvjJTR4=?x",
            "nothing",
        ]);
        let all: Vec<Digest<'_>> = digests.iter().collect();
        assert!(all[0].starts_with("sha512-") && !all[0].starts_with("sha512:") && all[0].starts_with("sha5"));
        assert!(all[0].starts_with("sha512-XI5M") && !all[0].starts_with("sha512-XI5m") && all[0].starts_with(""));
        assert!(!all[0].starts_with("sha256") && !all[0].starts_with(&format!("{SHA512}=")));
        assert_eq!(all[0].algorithm(), Some("sha512"));
        assert_eq!(all[0].bytes().unwrap().1.len(), 64);
        assert!(all[1].starts_with("sha256:"));
        assert_eq!(
            all[1].bytes().unwrap(),
            ("sha256", Cow::Owned(hex::decode(&SHA256["sha256:".len()..]).unwrap()))
        );
        assert_eq!(
            all[2].bytes().unwrap().1.as_ref(),
            hex::decode("5b8a3a7765dfe001261dde915589e782f8c94d1e").unwrap()
        );
        assert_eq!((all[3].algorithm(), all[3].bytes()), (None, None));
    }

    /// A text longer than a u16 length holds is not a digest any registry writes, but it is kept and
    /// compared as written (the list of strings it replaced kept it); it used to be dropped, so a version
    /// stating only such a text read as stating no digest.
    #[test]
    fn a_text_longer_than_a_short_entry_is_kept() {
        let long = format!("sha512-{}", "A".repeat(70_000));
        let mut digests = Digests::from(vec![SHA256, long.as_str()]);
        digests.push("sha256:aa");
        assert_eq!(digests.len(), 3);
        assert!(digests.contains(&long) && !digests.contains(&long[..long.len() - 1]));
        assert_eq!(digests.iter().nth(1).unwrap().to_string(), long);
        assert_eq!(digests.iter().nth(2).unwrap().to_string(), "sha256:aa");
        let json = serde_json::to_string(&digests).unwrap();
        assert_eq!(serde_json::from_str::<Digests>(&json).unwrap(), digests);
        let mut list = [digests.clone(), Digests::from(vec![SHA512])];
        Digests::pack(&mut list, |digests| digests);
        assert_eq!(list[0], digests);
    }

    /// Packing moves every version's digests into one buffer and changes none of them; packing again
    /// leaves that buffer.
    #[test]
    fn packing_shares_one_buffer_and_keeps_every_digest() {
        let mut list = [
            Digests::from(vec![SHA512]),
            Digests::default(),
            Digests::from(vec![SHA256, "other"]),
            Digests::from(vec!["sha1-W4o6d2Xf4AEmHd6RVYnngvjJTR4="]),
        ];
        let before = list.clone();
        Digests::pack(&mut list, |digests| digests);
        assert_eq!(list, before);
        let buffer = list[0].buffer.clone().unwrap();
        assert_eq!(buffer.len(), before.iter().map(|d| d.raw().len()).sum::<usize>());
        assert!(list[1].buffer.is_none());
        assert!(
            list.iter()
                .filter_map(|d| d.buffer.as_ref())
                .all(|b| Arc::ptr_eq(b, &buffer))
        );
        Digests::pack(&mut list, |digests| digests);
        assert!(Arc::ptr_eq(list[0].buffer.as_ref().unwrap(), &buffer));
        // A packed list still takes new digests, each version on its own.
        list[1].push("sha256:aa");
        assert_eq!(list[1], ["sha256:aa"]);
        assert_eq!(list[2], [SHA256, "other"]);
        assert_eq!(list[0], before[0]);
    }
}
