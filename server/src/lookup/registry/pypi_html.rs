//! The PEP 503 HTML form of a PyPI Simple project page, which most private indexes answer with: one
//! anchor per file (`#sha256=` fragments, `data-yanked` from PEP 592, `data-provenance` from PEP 740)
//! and the `pypi:project-status` meta (PEP 792). HTML carries no upload times, so its versions have
//! no publish time (`published()` is `None`).
//!
//! Invariants:
//! - Tolerant reading: a broken tag ends the scan for that tag only; a body with no tags at all is an
//!   error, never an empty project.
//! - Files are grouped into versions exactly as the JSON form's are (`pypi::aggregate`).

use std::collections::BTreeMap;

use super::pypi::{FileFacts, aggregate, project_status, version_of_file_normalized};
use crate::model::{Ecosystem, PackageFacts, ProjectStatus};

/// Maps a PEP 503 HTML project page to `PackageFacts`: one anchor per file, its text the filename (or,
/// when empty, the last segment of its URL), its `#sha256=` fragment the digest.
pub fn parse_simple_html(project: &str, body: &[u8]) -> Result<PackageFacts, String> {
    let text = String::from_utf8_lossy(body);
    let project = Ecosystem::PyPI.normalize_name(project);
    let mut versions: BTreeMap<String, Vec<FileFacts>> = BTreeMap::new();
    let mut status = (ProjectStatus::Active, None);
    let mut saw_html = false;
    for tag in html::tags(&text) {
        saw_html = true;
        match tag.name.as_str() {
            "meta" => match tag.attr("name").as_deref() {
                Some("pypi:project-status") => status.0 = project_status(tag.attr("content").as_deref()),
                Some("pypi:project-status-reason") => status.1 = tag.attr("content").filter(|r| !r.is_empty()),
                _ => {}
            },
            "a" => {
                let Some(href) = tag.attr("href") else { continue };
                let (path, fragment) = href.split_once('#').unwrap_or((href.as_str(), ""));
                let from_text = html::decode(tag.text.trim());
                let filename = if from_text.is_empty() {
                    let path = path.split('?').next().unwrap_or(path);
                    crate::lookup::http::percent_decode(path.rsplit('/').next().unwrap_or(path))
                } else {
                    from_text
                };
                let Some(version) = version_of_file_normalized(&project, &filename) else {
                    continue;
                };
                let sha256 = fragment
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("sha256="))
                    .filter(|h| !h.is_empty())
                    .map(str::to_string);
                let yanked = tag.attr("data-yanked");
                versions.entry(version).or_default().push(FileFacts {
                    filename: filename.to_string(),
                    upload: None,
                    yanked: yanked.is_some(),
                    yanked_reason: yanked.filter(|r| !r.is_empty()),
                    sha256,
                    provenance: tag.attr("data-provenance").filter(|u| !u.is_empty()),
                });
            }
            _ => {}
        }
    }
    if !saw_html {
        return Err("not a Simple HTML page: no tags".to_string());
    }
    Ok(PackageFacts {
        versions: aggregate(&mut versions),
        status: status.0,
        status_reason: status.1,
        ..PackageFacts::default()
    })
}

/// Just enough HTML for PEP 503 pages: start tags with their attributes (quoted, unquoted or bare),
/// an anchor's text up to `</a>`, comments skipped, character references decoded. Tolerant: a broken
/// tag ends the scan for that tag only.
mod html {
    pub struct Tag {
        pub name: String,
        attrs: Vec<(String, Option<String>)>,
        /// For `a`: the raw text up to `</a>` (or the next tag).
        pub text: String,
    }

    impl Tag {
        /// The decoded value of an attribute; `Some("")` for a bare attribute.
        pub fn attr(&self, name: &str) -> Option<String> {
            self.attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_deref().map(decode).unwrap_or_default())
        }
    }

    pub fn tags(text: &str) -> Vec<Tag> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(offset) = text[i..].find('<') {
            i += offset + 1;
            if text[i..].starts_with("!--") {
                i = text[i..].find("-->").map_or(text.len(), |end| i + end + 3);
                continue;
            }
            let name_len = bytes[i..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
            if name_len == 0 {
                continue;
            }
            let name = text[i..i + name_len].to_ascii_lowercase();
            i += name_len;
            let mut attrs = Vec::new();
            loop {
                while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
                    i += 1;
                }
                if i >= bytes.len() {
                    break;
                }
                if bytes[i] == b'>' {
                    i += 1;
                    break;
                }
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !matches!(bytes[i], b'=' | b'>' | b'/') {
                    i += 1;
                }
                let attr = text[start..i].to_ascii_lowercase();
                if attr.is_empty() {
                    i += 1;
                    continue;
                }
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'=' {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                        i += 1;
                    }
                    let value = match bytes.get(i) {
                        Some(&quote @ (b'"' | b'\'')) => {
                            let end = text[i + 1..].find(quote as char).map_or(text.len(), |e| i + 1 + e);
                            let value = text[i + 1..end].to_string();
                            i = (end + 1).min(text.len());
                            value
                        }
                        _ => {
                            let start = i;
                            while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                                i += 1;
                            }
                            text[start..i].to_string()
                        }
                    };
                    attrs.push((attr, Some(value)));
                } else {
                    attrs.push((attr, None));
                }
            }
            let text_of = if name == "a" {
                let rest = &text[i.min(text.len())..];
                let end = rest.find('<').unwrap_or(rest.len());
                rest[..end].to_string()
            } else {
                String::new()
            };
            out.push(Tag {
                name,
                attrs,
                text: text_of,
            });
        }
        out
    }

    /// Decodes the character references PEP 503 pages use (`&amp;`, `&gt;`, `&#62;`, `&#x3e;`, …).
    pub fn decode(text: &str) -> String {
        if !text.contains('&') {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('&') {
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            let decoded = rest[1..].find(';').filter(|end| *end <= 10).and_then(|end| {
                let entity = &rest[1..1 + end];
                let ch = match entity {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ => entity.strip_prefix('#').and_then(|num| {
                        let code = match num.strip_prefix(['x', 'X']) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => num.parse().ok(),
                        };
                        code.and_then(char::from_u32)
                    }),
                };
                ch.map(|c| (c, end + 2))
            });
            match decoded {
                Some((ch, len)) => {
                    out.push(ch);
                    rest = &rest[len..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }
}
