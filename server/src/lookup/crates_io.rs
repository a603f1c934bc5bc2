//! crates.io sparse-index client: `GET {index}/{prefix}/{name}` per the Cargo index layout.
//!
//! Invariants:
//! - Index lines are NDJSON; `vers`, `yanked`, `cksum` and `pubtime` (when present) are read, a line that
//!   does not parse is skipped, a document with no readable line is a decode error.
//! - A version without `pubtime` has `published: None` (older index entries; never guessed).
//! - `sparse+` prefixes are accepted on index URLs; a `Private { url }` source replaces the index URL.

use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Deserialize;

use crate::lookup::http::{HttpClient, redact};
use crate::lookup::{Fetched, LookupError, Registry, Revalidated, Validators};
use crate::model::{PackageFacts, PackageRef, RegistrySource, VersionFacts};

pub struct CratesIndexClient {
    http: Arc<HttpClient>,
    index: String,
}

fn clean_index(url: &str) -> &str {
    url.strip_prefix("sparse+").unwrap_or(url).trim_end_matches('/')
}

/// The path of a crate's file inside the index (`se/rd/serde`, `3/s/syn`, `1/a`).
pub fn index_path(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", chars[0]),
        _ => {
            let first: String = chars[..2].iter().collect();
            let second: String = chars[2..4].iter().collect();
            format!("{first}/{second}/{name}")
        }
    }
}

impl CratesIndexClient {
    pub fn new(http: Arc<HttpClient>, index: &str) -> CratesIndexClient {
        CratesIndexClient {
            http,
            index: clean_index(index).to_string(),
        }
    }

    pub fn url(&self, name: &str, source: &RegistrySource) -> String {
        let base = match source {
            RegistrySource::Public => self.index.as_str(),
            RegistrySource::Private { url } => clean_index(url),
        };
        format!("{base}/{}", index_path(name))
    }
}

#[async_trait]
impl Registry for CratesIndexClient {
    async fn package(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
    ) -> Result<Fetched<PackageFacts>, LookupError> {
        self.package_revalidated(package, source, &Validators::default())
            .await?
            .into_fresh()
    }

    async fn package_revalidated(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
        validators: &Validators,
    ) -> Result<Revalidated<PackageFacts>, LookupError> {
        let url = self.url(&package.name, source);
        match self.http.get_document(&url, None, validators, &package.name).await? {
            Revalidated::NotModified { max_age } => Ok(Revalidated::NotModified { max_age }),
            Revalidated::Modified {
                value,
                validators,
                max_age,
            } => {
                let facts = crate::lookup::http::parse_off_thread(value, parse_index_file)
                    .await
                    .map_err(|message| LookupError::Decode {
                        host: redact(&url),
                        message,
                    })?;
                Ok(Revalidated::Modified {
                    value: facts,
                    validators,
                    max_age,
                })
            }
        }
    }
}

#[derive(Deserialize)]
struct WireLine {
    vers: String,
    #[serde(default)]
    yanked: bool,
    #[serde(default)]
    cksum: Option<String>,
    #[serde(default)]
    pubtime: Option<String>,
}

/// Maps a sparse-index file (NDJSON) to `PackageFacts`.
pub fn parse_index_file(body: &[u8]) -> Result<PackageFacts, String> {
    let text = std::str::from_utf8(body).map_err(|_| "index file is not UTF-8".to_string())?;
    let mut versions = Vec::new();
    let mut bad_lines = 0usize;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<WireLine>(line) {
            Ok(wire) => versions.push(VersionFacts {
                version: wire.vers,
                published: wire.pubtime.as_deref().and_then(|t| t.parse::<Timestamp>().ok()),
                yanked: wire.yanked,
                digests: wire.cksum.map(|c| format!("sha256:{c}")).into_iter().collect(),
                ..VersionFacts::default()
            }),
            Err(_) => bad_lines += 1,
        }
    }
    if versions.is_empty() && bad_lines > 0 {
        return Err(format!("no readable line in the index file ({bad_lines} unreadable)"));
    }
    if bad_lines > 0 {
        tracing::debug!("skipped {bad_lines} unreadable index lines");
    }
    let created = versions.iter().filter_map(|v| v.published).min();
    Ok(PackageFacts {
        versions,
        created,
        ..PackageFacts::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_layout() {
        assert_eq!(index_path("a"), "1/a");
        assert_eq!(index_path("ab"), "2/ab");
        assert_eq!(index_path("syn"), "3/s/syn");
        assert_eq!(index_path("Serde"), "se/rd/serde");
        assert_eq!(index_path("rust_decimal"), "ru/st/rust_decimal");
    }

    #[test]
    fn recorded_index_file() {
        let body = std::fs::read(crate::testing::registry_fixtures().join("crates/sm/al/smallvec")).unwrap();
        let facts = parse_index_file(&body).unwrap();
        assert_eq!(facts.versions.len(), 89);
        assert_eq!(facts.versions.iter().filter(|v| v.yanked).count(), 20);
        let first = facts.version("0.1.0").unwrap();
        assert_eq!(first.published, Some("2015-04-06T06:21:18Z".parse().unwrap()));
        assert!(first.digests[0].starts_with("sha256:541ac5ac"));
        assert_eq!(facts.created, first.published);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(parse_index_file(b"<html>oops</html>").is_err());
        assert!(parse_index_file(b"").unwrap().versions.is_empty());
    }
}
