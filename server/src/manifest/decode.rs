//! Bytes → text, the way each package manager reads its own files. The readers (`cli`, `project`, the
//! language server's disk reads) call this on every manifest, lockfile and include before parsing.
//!
//! What the tools do, and so what we do:
//! - pip (`pip/_internal/utils/encoding.py` `auto_decode`) reads requirements files with a byte-order
//!   mark as UTF-8, UTF-16 or UTF-32, else in the encoding a `# -*- coding: … -*-` comment on one of
//!   the first two lines declares, else in the locale's encoding (UTF-8 here). uv reads them the same
//!   way for the byte-order marks. Lines end at `\n`, `\r\n` or a lone `\r` (`str.splitlines`).
//! - npm (Node's `readFile(…, 'utf8')` then a BOM strip) reads `package.json` and `package-lock.json`
//!   as UTF-8 without a BOM; it cannot parse a UTF-16 file.
//! - cargo, uv and Poetry read their TOML files as UTF-8 (a UTF-8 byte-order mark is accepted); UTF-16
//!   fails in all of them.
//!
//! Invariants:
//! - Pure: bytes in, text out. Never fails silently: text that could not be decoded the way the tool
//!   reads it comes back with `problem` set (an error on that file), plus the best reading we could make
//!   of it so findings in it are still shown. Never an empty success.
//! - A lone `\r` line end becomes `\n` in requirements files (same length, so offsets are unchanged),
//!   so reported line numbers match what pip and an editor show.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

use crate::manifest::ManifestKind;

/// A file's text as its package manager reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// The encoding the text was read in (`"UTF-8"`, `"UTF-16LE"`, …).
    pub encoding: &'static str,
    /// Set when the package manager itself could not read the bytes (or we could not): an error on
    /// the file, shown and counted, never a silent empty result.
    pub problem: Option<String>,
}

/// The byte-order marks pip looks for, longest first where one is a prefix of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bom {
    Utf8,
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

impl Bom {
    fn sniff(bytes: &[u8]) -> Option<(Bom, usize)> {
        // UTF-32LE's mark starts with UTF-16LE's: test it first.
        if bytes.starts_with(&[0xFF, 0xFE, 0x00, 0x00]) {
            return Some((Bom::Utf32Le, 4));
        }
        if bytes.starts_with(&[0x00, 0x00, 0xFE, 0xFF]) {
            return Some((Bom::Utf32Be, 4));
        }
        if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
            return Some((Bom::Utf8, 3));
        }
        if bytes.starts_with(&[0xFF, 0xFE]) {
            return Some((Bom::Utf16Le, 2));
        }
        if bytes.starts_with(&[0xFE, 0xFF]) {
            return Some((Bom::Utf16Be, 2));
        }
        None
    }

    fn name(self) -> &'static str {
        match self {
            Bom::Utf8 => "UTF-8",
            Bom::Utf16Le => "UTF-16LE",
            Bom::Utf16Be => "UTF-16BE",
            Bom::Utf32Le => "UTF-32LE",
            Bom::Utf32Be => "UTF-32BE",
        }
    }
}

/// Decodes `bytes` for a file of `kind`.
pub fn decode(kind: ManifestKind, bytes: &[u8]) -> Decoded {
    let mut decoded = match kind {
        ManifestKind::Requirements => decode_pip(bytes),
        ManifestKind::PackageJson | ManifestKind::PackageLock => decode_utf8_only(bytes, "npm"),
        ManifestKind::CargoToml | ManifestKind::CargoConfig | ManifestKind::CargoLock => {
            decode_utf8_only(bytes, "cargo")
        }
        ManifestKind::Pyproject | ManifestKind::UvLock | ManifestKind::PyLock => decode_utf8_only(bytes, "uv and pip"),
        ManifestKind::PoetryLock => decode_utf8_only(bytes, "Poetry"),
        ManifestKind::PnpmLock | ManifestKind::PnpmWorkspace => decode_utf8_only(bytes, "pnpm"),
        ManifestKind::YarnLock | ManifestKind::YarnRc => decode_utf8_only(bytes, "Yarn"),
        ManifestKind::BunLock | ManifestKind::BunLockb => decode_utf8_only(bytes, "Bun"),
    };
    if kind == ManifestKind::Requirements {
        decoded.text = lone_cr_to_lf(decoded.text);
    }
    decoded
}

/// pip's `auto_decode`: byte-order mark, then a PEP 263 coding comment on one of the first two lines,
/// then UTF-8.
fn decode_pip(bytes: &[u8]) -> Decoded {
    if let Some((bom, len)) = Bom::sniff(bytes) {
        let body = &bytes[len..];
        return match decode_with_bom(bom, body) {
            Ok(text) => Decoded {
                text,
                encoding: bom.name(),
                problem: None,
            },
            Err(lossy) => Decoded {
                text: lossy,
                encoding: bom.name(),
                problem: Some(format!(
                    "the file starts with a {} byte-order mark but is not valid {}; pip cannot read it",
                    bom.name(),
                    bom.name()
                )),
            },
        };
    }
    if let Some(label) = coding_cookie(bytes) {
        return match encoding_for_python_label(&label) {
            Some(encoding) => match encoding.decode_without_bom_handling_and_without_replacement(bytes) {
                Some(text) => Decoded {
                    text: text.into_owned(),
                    encoding: encoding.name(),
                    problem: None,
                },
                None => Decoded {
                    text: encoding.decode_without_bom_handling(bytes).0.into_owned(),
                    encoding: encoding.name(),
                    problem: Some(format!(
                        "the file declares `coding: {label}` but is not valid {}; pip cannot read it",
                        encoding.name()
                    )),
                },
            },
            None => Decoded {
                text: String::from_utf8_lossy(bytes).into_owned(),
                encoding: "UTF-8",
                problem: Some(format!(
                    "the file declares `coding: {label}`, an encoding Gatehouse does not know"
                )),
            },
        };
    }
    strict_utf8(bytes, "pip (in a UTF-8 locale)")
}

/// npm, cargo, uv, Poetry: UTF-8, a UTF-8 byte-order mark skipped; anything else is an error (with a
/// best-effort reading so findings are still shown).
fn decode_utf8_only(bytes: &[u8], tool: &str) -> Decoded {
    match Bom::sniff(bytes) {
        Some((Bom::Utf8, len)) => strict_utf8(&bytes[len..], tool),
        Some((bom, len)) => {
            let text = match decode_with_bom(bom, &bytes[len..]) {
                Ok(text) | Err(text) => text,
            };
            Decoded {
                text,
                encoding: bom.name(),
                problem: Some(format!(
                    "the file is {}; {tool} reads it as UTF-8 only and cannot read it",
                    bom.name()
                )),
            }
        }
        None => strict_utf8(bytes, tool),
    }
}

fn strict_utf8(bytes: &[u8], tool: &str) -> Decoded {
    match std::str::from_utf8(bytes) {
        Ok(text) => Decoded {
            text: text.to_string(),
            encoding: "UTF-8",
            problem: None,
        },
        Err(error) => Decoded {
            text: String::from_utf8_lossy(bytes).into_owned(),
            encoding: "UTF-8",
            problem: Some(format!(
                "not valid UTF-8 (byte {} of the file); {tool} reads it as UTF-8",
                error.valid_up_to()
            )),
        },
    }
}

/// The body after a byte-order mark: `Ok` when it decodes cleanly, else `Err` with replacement
/// characters where it did not.
fn decode_with_bom(bom: Bom, body: &[u8]) -> Result<String, String> {
    let encoding: &'static Encoding = match bom {
        Bom::Utf8 => UTF_8,
        Bom::Utf16Le => UTF_16LE,
        Bom::Utf16Be => UTF_16BE,
        Bom::Utf32Le | Bom::Utf32Be => return decode_utf32(body, bom == Bom::Utf32Be),
    };
    match encoding.decode_without_bom_handling_and_without_replacement(body) {
        Some(text) => Ok(text.into_owned()),
        None => Err(encoding.decode_without_bom_handling(body).0.into_owned()),
    }
}

/// UTF-32 (encoding_rs implements the WHATWG encodings only, which leave it out).
fn decode_utf32(body: &[u8], big_endian: bool) -> Result<String, String> {
    let mut text = String::with_capacity(body.len() / 4);
    let mut clean = body.len().is_multiple_of(4);
    for chunk in body.chunks(4) {
        let unit = match <[u8; 4]>::try_from(chunk) {
            Ok(bytes) if big_endian => u32::from_be_bytes(bytes),
            Ok(bytes) => u32::from_le_bytes(bytes),
            Err(_) => {
                clean = false;
                text.push(char::REPLACEMENT_CHARACTER);
                continue;
            }
        };
        match char::from_u32(unit) {
            Some(ch) => text.push(ch),
            None => {
                clean = false;
                text.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }
    if clean { Ok(text) } else { Err(text) }
}

/// pip's `ENCODING_RE = rb"coding[:=]\s*([-\w.]+)"`, searched in the first two lines when they start
/// with `#`.
fn coding_cookie(bytes: &[u8]) -> Option<String> {
    for line in bytes.split(|b| *b == b'\n').take(2) {
        if line.first() != Some(&b'#') {
            continue;
        }
        let mut from = 0;
        while let Some(found) = find(&line[from..], b"coding") {
            let after = from + found + b"coding".len();
            from = after;
            if !matches!(line.get(after), Some(b':' | b'=')) {
                continue;
            }
            let rest = &line[after + 1..];
            let rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
            let label: String = rest
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                .map(|b| char::from(*b))
                .collect();
            if !label.is_empty() {
                return Some(label);
            }
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Python codec names → WHATWG labels (`latin-1` and `utf8` are Python spellings WHATWG lacks).
fn encoding_for_python_label(label: &str) -> Option<&'static Encoding> {
    let lower = label.to_ascii_lowercase().replace('_', "-");
    let whatwg = match lower.as_str() {
        "latin-1" | "latin1" | "l1" | "iso-8859-1" | "iso8859-1" | "8859" | "cp819" => "iso-8859-1",
        "utf8" | "utf-8" | "u8" | "utf" | "utf8-sig" | "utf-8-sig" => "utf-8",
        other => other,
    };
    Encoding::for_label(whatwg.as_bytes())
}

/// Lone `\r` line ends (old Mac files) become `\n`; `\r\n` is kept.
fn lone_cr_to_lf(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let mut bytes = text.into_bytes();
    for idx in 0..bytes.len() {
        if bytes[idx] == b'\r' && bytes.get(idx + 1) != Some(&b'\n') {
            bytes[idx] = b'\n';
        }
    }
    // Only an ASCII byte was replaced by another ASCII byte.
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mut res = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
        for unit in text.encode_utf16() {
            let bytes = if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            res.extend(bytes);
        }
        res
    }

    #[test]
    fn requirements_byte_order_marks() {
        let text = "requests==2.31.0\nflask>=2\n";
        let mut utf8 = vec![0xEF, 0xBB, 0xBF];
        utf8.extend(text.as_bytes());
        for bytes in [utf8, utf16(text, false), utf16(text, true)] {
            let decoded = decode(ManifestKind::Requirements, &bytes);
            assert_eq!(decoded.text, text, "{}", decoded.encoding);
            assert_eq!(decoded.problem, None);
        }
        let mut utf32 = vec![0xFF, 0xFE, 0x00, 0x00];
        for ch in text.chars() {
            utf32.extend((ch as u32).to_le_bytes());
        }
        assert_eq!(decode(ManifestKind::Requirements, &utf32).text, text);
    }

    #[test]
    fn requirements_lone_cr_line_ends() {
        let decoded = decode(ManifestKind::Requirements, b"requests==2.31.0\rflask>=2\r\n# c\r");
        assert_eq!(decoded.text, "requests==2.31.0\nflask>=2\r\n# c\n");
    }

    #[test]
    fn requirements_coding_cookie() {
        let mut bytes = b"# -*- coding: latin-1 -*-\n# caf\xe9\nrequests\n".to_vec();
        let decoded = decode(ManifestKind::Requirements, &bytes);
        assert_eq!(decoded.problem, None);
        assert!(decoded.text.contains("café"), "{}", decoded.text);
        bytes[15] = b'X';
        let decoded = decode(ManifestKind::Requirements, &bytes);
        assert!(
            decoded.problem.is_some(),
            "an unknown encoding is an error: {decoded:?}"
        );
    }

    #[test]
    fn undecodable_is_an_error_never_empty() {
        let decoded = decode(ManifestKind::Requirements, b"requests==2.31.0\n\xff\xfe\xfd-bad\n");
        assert!(decoded.problem.is_some());
        assert!(decoded.text.contains("requests==2.31.0"));
        let mut odd = utf16("requests\n", false);
        odd.push(0x41);
        assert!(decode(ManifestKind::Requirements, &odd).problem.is_some());
    }

    #[test]
    fn npm_and_toml_read_utf8_with_an_optional_bom() {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend(br#"{"dependencies":{"lodash":"4.17.15"}}"#);
        let decoded = decode(ManifestKind::PackageJson, &bytes);
        assert_eq!(decoded.problem, None);
        assert!(decoded.text.starts_with('{'));
        let decoded = decode(
            ManifestKind::CargoToml,
            &utf16("[dependencies]\nserde = \"1\"\n", false),
        );
        assert!(
            decoded.problem.as_deref().is_some_and(|p| p.contains("cargo")),
            "{decoded:?}"
        );
        assert!(decoded.text.contains("serde"), "still read for findings: {decoded:?}");
    }
}
