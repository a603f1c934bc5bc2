//! npm registry client: `GET {registry}/{name}` (scoped names as `@scope%2fname`).
//!
//! Invariants:
//! - The full packument is fetched by default, because publish times, `time.unpublished` and `created`
//!   exist only there; `PackumentForm::Abbreviated` (`application/vnd.npm.install-v1+json`) is for callers
//!   that need versions, deprecation and `dist` only.
//! - Publish times are trusted only when the document carries `time.created` (the public registry always
//!   does); mirrors that rewrite `time` without it yield no publish time (`published()` is `None`).
//! - A `Private { url }` source replaces the registry base URL; credentials are the HTTP client's, by origin.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use compact_str::CompactString;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::lookup::http::{HttpClient, parse_document};
use crate::lookup::{ConditionalRegistry, LookupError, Revalidated, Validators};
use crate::model::{
    DeclaredDep, DeclaredKind, Digests, PackageFacts, PackageRef, ProjectStatus, PublishTime, RegistrySource,
    SharedStrings, VersionDetail, VersionFacts, VersionMeta,
};

pub const ABBREVIATED_ACCEPT: &str = "application/vnd.npm.install-v1+json";
const FULL_ACCEPT: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackumentForm {
    Full,
    Abbreviated,
}

pub struct NpmClient {
    http: Arc<HttpClient>,
    registry: String,
    form: PackumentForm,
}

impl NpmClient {
    pub fn new(http: Arc<HttpClient>, registry: &str) -> NpmClient {
        NpmClient {
            http,
            registry: registry.trim_end_matches('/').to_string(),
            form: PackumentForm::Full,
        }
    }

    pub fn with_form(mut self, form: PackumentForm) -> NpmClient {
        self.form = form;
        self
    }

    pub fn url(&self, name: &str, source: &RegistrySource) -> String {
        let base = match source {
            RegistrySource::Public => self.registry.as_str(),
            RegistrySource::Private { url } => url.trim_end_matches('/'),
        };
        format!("{base}/{}", encode_name(name))
    }
}

/// `@scope/name` → `@scope%2fname`; other characters outside the URL-safe set are percent-encoded.
pub fn encode_name(name: &str) -> String {
    let mut res = String::with_capacity(name.len() + 2);
    for byte in name.bytes() {
        match byte {
            b'/' => res.push_str("%2f"),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' | b'!' => res.push(byte as char),
            _ => res.push_str(&format!("%{byte:02X}")),
        }
    }
    res
}

#[async_trait]
impl ConditionalRegistry for NpmClient {
    async fn conditional_package(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
        validators: &Validators,
    ) -> Result<Revalidated<PackageFacts>, LookupError> {
        let url = self.url(&package.name, source);
        let accept = match self.form {
            PackumentForm::Full => FULL_ACCEPT,
            PackumentForm::Abbreviated => ABBREVIATED_ACCEPT,
        };
        let answer = self
            .http
            .get_document(&url, Some(accept), validators, &package.name)
            .await?;
        parse_document(answer, &url, parse_packument).await
    }
}

// The wire structs borrow from the body: a packument has hundreds of versions and a cold start parses
// hundreds of packuments, so only what Gatehouse keeps is copied. Fields read only for some versions
// (`repository`, `time` values) stay raw until needed.

#[derive(Deserialize)]
struct WirePackument<'a> {
    #[serde(default, rename = "dist-tags", borrow)]
    dist_tags: HashMap<Cow<'a, str>, Cow<'a, str>>,
    #[serde(default, borrow)]
    versions: BTreeMap<Cow<'a, str>, WireVersion<'a>>,
    #[serde(default, borrow)]
    time: HashMap<Cow<'a, str>, &'a RawValue>,
    #[serde(default, borrow)]
    repository: Option<&'a RawValue>,
    /// Only the abbreviated form has a top-level `modified` and no `time`.
    #[serde(default, borrow)]
    modified: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireVersion<'a> {
    #[serde(default, borrow)]
    deprecated: Option<&'a RawValue>,
    #[serde(default, borrow)]
    dist: Option<WireDist<'a>>,
    #[serde(default, borrow)]
    repository: Option<&'a RawValue>,
    #[serde(default, borrow)]
    homepage: Option<&'a RawValue>,
    #[serde(default, borrow)]
    scripts: Option<&'a RawValue>,
    #[serde(default, borrow)]
    gypfile: Option<&'a RawValue>,
    #[serde(default, rename = "hasInstallScript", borrow)]
    has_install_script: Option<&'a RawValue>,
    #[serde(default, borrow)]
    dependencies: Option<&'a RawValue>,
    #[serde(default, rename = "_npmUser", borrow)]
    npm_user: Option<&'a RawValue>,
    #[serde(default, borrow)]
    maintainers: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireDist<'a> {
    #[serde(default, borrow)]
    integrity: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    shasum: Option<Cow<'a, str>>,
    #[serde(default)]
    attestations: Option<WireAttestations>,
    #[serde(default)]
    signatures: Vec<WireSignature>,
}

#[derive(Deserialize)]
struct WireAttestations {
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct WireSignature {
    #[serde(default)]
    keyid: String,
    #[serde(default)]
    sig: String,
}

/// A raw JSON value read as a string, when it is one.
fn raw_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    serde_json::from_str::<Cow<'_, str>>(text).ok()
}

fn timestamp(value: Option<&&RawValue>) -> Option<Timestamp> {
    raw_str(value?)?.parse().ok()
}

fn repository_url(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repository {
        Url(String),
        Object {
            #[serde(default)]
            url: Option<String>,
        },
        Other(serde::de::IgnoredAny),
    }
    match serde_json::from_str::<Repository>(raw.get()).ok()? {
        Repository::Url(url) => Some(url),
        Repository::Object { url } => url,
        Repository::Other(_) => None,
    }
}

/// The install hooks npm runs: `preinstall`, `install`, `postinstall`; a `gypfile` (or an abbreviated
/// entry's `hasInstallScript`) without an explicit `install` means npm runs `node-gyp rebuild`.
const INSTALL_HOOKS: [&str; 3] = ["preinstall", "install", "postinstall"];

fn install_scripts(wire: &WireVersion<'_>, full_entry: bool) -> Option<Vec<(String, String)>> {
    let scripts: HashMap<String, serde_json::Value> = match wire.scripts {
        Some(raw) => serde_json::from_str(raw.get()).unwrap_or_default(),
        None => HashMap::new(),
    };
    let mut hooks: Vec<(String, String)> = INSTALL_HOOKS
        .iter()
        .filter_map(|hook| {
            let command = scripts.get(*hook)?.as_str()?.trim();
            (!command.is_empty()).then(|| (hook.to_string(), command.to_string()))
        })
        .collect();
    let flag = |raw: Option<&RawValue>| raw.is_some_and(|r| r.get() == "true");
    if flag(wire.gypfile) && !hooks.iter().any(|(hook, _)| hook == "install") {
        hooks.push(("install".to_string(), "node-gyp rebuild (binding.gyp)".to_string()));
    }
    if !full_entry {
        // An abbreviated entry has no `scripts`, only the flag.
        return match wire.has_install_script {
            Some(raw) if raw.get() == "true" => Some(vec![(
                "install".to_string(),
                "(an install script; its text is not in the abbreviated document)".to_string(),
            )]),
            Some(_) => Some(hooks),
            None => None,
        };
    }
    Some(hooks)
}

fn dependencies(raw: &RawValue, shared: &mut SharedStrings) -> Option<Vec<DeclaredDep>> {
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(raw.get()).ok()?;
    Some(
        map.into_iter()
            .map(|(name, req)| DeclaredDep {
                name: shared.get(&name),
                req: shared.get(req.as_str().unwrap_or_default()),
                kind: DeclaredKind::Normal,
                optional: false,
            })
            .collect(),
    )
}

/// A person as npm writes one: `{"name": …}` or `"Name <email> (url)"`.
fn person_name(value: &serde_json::Value) -> Option<String> {
    let name = match value {
        serde_json::Value::Object(map) => map.get("name")?.as_str()?.trim().to_string(),
        serde_json::Value::String(text) => text.split(['<', '(']).next()?.trim().to_string(),
        _ => return None,
    };
    (!name.is_empty()).then_some(name)
}

fn people(raw: &RawValue) -> Option<Vec<String>> {
    let list: Vec<serde_json::Value> = serde_json::from_str(raw.get()).ok()?;
    Some(list.iter().filter_map(person_name).collect())
}

/// `full_entry`: the version entry comes from a full packument (the published package.json), so a
/// missing `scripts` or `dependencies` means none; an abbreviated one omits scripts and people.
fn version_meta(wire: &WireVersion<'_>, full_entry: bool, shared: &mut SharedStrings) -> VersionMeta {
    VersionMeta {
        install_scripts: install_scripts(wire, full_entry),
        dependencies: match wire.dependencies {
            Some(raw) => dependencies(raw, shared),
            // A full entry is the published package.json: no `dependencies` key means none.
            None if full_entry => Some(Vec::new()),
            None => None,
        },
        publisher: wire
            .npm_user
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
            .as_ref()
            .and_then(person_name),
        maintainers: wire.maintainers.and_then(people).filter(|m| !m.is_empty()),
        repository: wire.repository.and_then(repository_url),
        homepage: wire.homepage.and_then(|raw| raw_str(raw).map(Cow::into_owned)),
        files: None,
    }
}

fn deprecation(raw: &RawValue) -> Option<String> {
    match raw.get() {
        "true" => Some(String::new()),
        _ => raw_str(raw).filter(|message| !message.is_empty()).map(Cow::into_owned),
    }
}

/// Maps a full or abbreviated packument to `PackageFacts`.
pub fn parse_packument(body: &[u8]) -> Result<PackageFacts, String> {
    let wire: WirePackument<'_> = serde_json::from_slice(body).map_err(|err| format!("not a packument: {err}"))?;
    let created = timestamp(wire.time.get("created"));
    let times_trusted = created.is_some();
    let full_document = !wire.time.is_empty() || wire.modified.is_none();
    let mut versions = Vec::with_capacity(wire.versions.len());
    let mut shared = SharedStrings::default();
    for (version, wire_version) in &wire.versions {
        let mut detail = VersionDetail {
            deprecated: wire_version.deprecated.and_then(deprecation),
            meta: version_meta(wire_version, full_document, &mut shared),
            ..VersionDetail::default()
        };
        let mut digests = Digests::default();
        if let Some(dist) = &wire_version.dist {
            if let Some(integrity) = &dist.integrity {
                digests.push(integrity);
            } else if let Some(shasum) = &dist.shasum {
                digests.push(&format!("sha1:{shasum}"));
            }
            detail.attestations_url = dist.attestations.as_ref().and_then(|a| a.url.clone());
            detail.signatures = dist
                .signatures
                .iter()
                .map(|s| (s.keyid.clone(), s.sig.clone()))
                .collect();
        }
        let facts = VersionFacts {
            version: CompactString::from(version.as_ref()),
            published: if times_trusted {
                timestamp(wire.time.get(version)).into()
            } else {
                PublishTime::NONE
            },
            digests,
            detail: detail.into(),
        };
        versions.push(facts);
    }
    let latest = wire.dist_tags.get("latest").map(|l| l.to_string());
    let repository = wire.repository.and_then(repository_url).or_else(|| {
        latest
            .as_deref()
            .and_then(|l| wire.versions.get(l))
            .and_then(|v| v.repository)
            .and_then(repository_url)
    });
    let unpublished = wire.time.get("unpublished").and_then(|raw| {
        #[derive(Deserialize)]
        struct Unpublished {
            time: Option<String>,
        }
        serde_json::from_str::<Unpublished>(raw.get()).ok()?.time?.parse().ok()
    });
    let status = if unpublished.is_some() && versions.is_empty() {
        ProjectStatus::Unpublished
    } else {
        ProjectStatus::Active
    };
    let created = created.or_else(|| versions.iter().filter_map(|v| v.published()).min());
    Ok(PackageFacts {
        versions,
        created,
        status,
        status_reason: None,
        unpublished,
        repository,
        latest,
        vanished: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(crate::testing::registry_fixtures().join("npm").join(name)).unwrap()
    }

    #[test]
    fn scoped_names_are_encoded() {
        assert_eq!(encode_name("@babel/core"), "@babel%2fcore");
        assert_eq!(encode_name("lodash"), "lodash");
    }

    #[test]
    fn recorded_packument_keeps_times_deprecation_and_signatures() {
        let facts = parse_packument(&fixture("has-package-exports")).unwrap();
        assert_eq!(facts.created, Some("2020-01-09T07:54:56.494Z".parse().unwrap()));
        let first = facts.version("1.0.0").unwrap();
        assert_eq!(first.published(), Some("2020-01-09T07:54:56.613Z".parse().unwrap()));
        assert!(facts.versions.iter().filter(|v| v.detail.deprecated.is_some()).count() == 4);
        assert!(facts.versions.iter().any(|v| !v.detail.signatures.is_empty()));
        assert!(
            first.digests.first().unwrap().starts_with("sha512-") || first.digests.first().unwrap().starts_with("sha1")
        );
        assert!(facts.repository.unwrap().contains("inspect-js/has-package-exports"));
    }

    #[test]
    fn mirror_times_are_not_trusted() {
        let facts = parse_packument(&fixture("lodash")).unwrap();
        assert!(facts.versions.len() > 100);
        // Real version strings are held inline, without an allocation each (issue 16).
        assert!(facts.versions.iter().all(|v| !v.version.is_heap_allocated()));
        assert!(facts.versions.iter().all(|v| v.published().is_none()));
        assert_eq!(facts.latest.as_deref(), Some("4.18.1"));
    }

    #[test]
    fn abbreviated_packument_is_read() {
        let facts = parse_packument(&fixture("request")).unwrap();
        assert_eq!(facts.versions.len(), 126);
        assert!(facts.versions.iter().all(|v| v.detail.deprecated.is_some()));
    }

    #[test]
    fn unpublished_package() {
        let body = br#"{"name":"gone","time":{"created":"2020-01-01T00:00:00Z","unpublished":{"time":"2021-02-03T04:05:06Z","versions":["1.0.0"]}}}"#;
        let facts = parse_packument(body).unwrap();
        assert_eq!(facts.status, ProjectStatus::Unpublished);
        assert_eq!(facts.unpublished, Some("2021-02-03T04:05:06Z".parse().unwrap()));
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(parse_packument(b"\x00<html>").is_err());
    }
}
