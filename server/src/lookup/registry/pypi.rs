//! PyPI client: the Simple API JSON form (PEP 691, `application/vnd.pypi.simple.v1+json`) first, with
//! PEP 700 `upload-time`, PEP 592 `yanked`, PEP 792 `project-status` and PEP 740 `provenance`; the JSON
//! API (`{pypi}/pypi/{name}/json`) when the index refuses the JSON form (406). An index that answers
//! with the PEP 503 HTML page (most private indexes) is read by `pypi_html`; HTML carries no upload
//! times, so those versions have no publish time (`published()` is `None`).
//!
//! Invariants:
//! - A version's publish time is its earliest file's upload time; a version with no file or no upload
//!   time has no publish time (`published()` is `None`). A version is yanked when every one of its files is.
//! - A `Private { url }` source is an index URL (`…/simple`): the project page is `{url}/{name}/`.
//! - Names are PEP 503-normalised by `PackageRef`; the request uses that form.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::value::RawValue;

pub use super::pypi_html::parse_simple_html;
use crate::lookup::http::{HttpClient, parse_document};
use crate::lookup::{ConditionalRegistry, LookupError, Revalidated, Validators};
use crate::model::{
    Ecosystem, FileKinds, PackageFacts, PackageRef, ProjectStatus, RegistrySource, VersionDetail, VersionFacts,
    VersionMeta,
};

pub const SIMPLE_JSON_ACCEPT: &str = "application/vnd.pypi.simple.v1+json";
/// What the client asks a Simple index for: the JSON form, else the PEP 503 HTML page (many private
/// indexes serve only HTML; PEP 691 content negotiation picks the best form the server has).
pub const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";

pub struct PypiClient {
    http: Arc<HttpClient>,
    base: String,
}

impl PypiClient {
    pub fn new(http: Arc<HttpClient>, pypi_url: &str) -> PypiClient {
        PypiClient {
            http,
            base: pypi_url.trim_end_matches('/').to_string(),
        }
    }

    /// The Simple project page and, when one exists, the JSON API document.
    pub fn urls(&self, name: &str, source: &RegistrySource) -> (String, Option<String>) {
        match source {
            RegistrySource::Public => (
                format!("{}/simple/{name}/", self.base),
                Some(format!("{}/pypi/{name}/json", self.base)),
            ),
            RegistrySource::Private { url } => {
                let index = url.trim_end_matches('/');
                let json = index
                    .strip_suffix("/simple")
                    .map(|root| format!("{root}/pypi/{name}/json"));
                (format!("{index}/{name}/"), json)
            }
        }
    }
}

#[async_trait]
impl ConditionalRegistry for PypiClient {
    async fn conditional_package(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
        validators: &Validators,
    ) -> Result<Revalidated<PackageFacts>, LookupError> {
        let (simple_url, json_url) = self.urls(&package.name, source);
        let simple = self
            .http
            .get_document(&simple_url, Some(SIMPLE_ACCEPT), validators, &package.name)
            .await;
        let fallback_reason = match simple {
            Ok(answer) => {
                let name = package.name.clone();
                match parse_document(answer, &simple_url, move |body| parse_simple_any(&name, body)).await {
                    Ok(parsed) => return Ok(parsed),
                    // A page that does not parse: the JSON API may still answer.
                    Err(decode) => decode,
                }
            }
            // 406: the index does not speak the JSON form.
            Err(LookupError::Status { status: 406, host }) => LookupError::Status { status: 406, host },
            Err(err) => return Err(err),
        };
        let Some(json_url) = json_url else {
            return Err(fallback_reason);
        };
        let answer = self
            .http
            .get_document(&json_url, None, &Validators::default(), &package.name)
            .await?;
        match parse_document(answer, &json_url, parse_json_api).await? {
            // The validators belong to the Simple page, which failed; keep none.
            Revalidated::Modified { value, max_age, .. } => Ok(Revalidated::Modified {
                value,
                validators: Validators::default(),
                max_age,
            }),
            not_modified => Ok(not_modified),
        }
    }
}

// The wire structs borrow from the body: a Simple page lists every file of every release.
#[derive(Deserialize)]
struct WireSimple<'a> {
    #[serde(default, borrow)]
    versions: Vec<Cow<'a, str>>,
    #[serde(default, borrow)]
    files: Vec<WireSimpleFile<'a>>,
    #[serde(default, rename = "project-status")]
    project_status: Option<WireProjectStatus>,
}

#[derive(Deserialize)]
struct WireSimpleFile<'a> {
    #[serde(borrow)]
    filename: Cow<'a, str>,
    #[serde(default, borrow)]
    hashes: WireHashes<'a>,
    #[serde(default, rename = "upload-time", borrow)]
    upload_time: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    yanked: Option<&'a RawValue>,
    #[serde(default)]
    provenance: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireHashes<'a> {
    #[serde(default, borrow)]
    sha256: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireProjectStatus {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// The version a distribution file belongs to, given the project's name.
pub fn version_of_file(project: &str, filename: &str) -> Option<String> {
    version_of_file_normalized(&Ecosystem::PyPI.normalize_name(project), filename)
}

/// `version_of_file` for a project name already PEP 503-normalised: the version starts after the first
/// `-` whose prefix normalises to the project (one pass, no allocation per file but the answer).
pub(super) fn version_of_file_normalized(project: &str, filename: &str) -> Option<String> {
    // Walk the filename, comparing its normalised prefix with `project` as we go.
    let project = project.as_bytes();
    let mut matched = 0usize;
    let mut pending_separator = false;
    let mut diverged = false;
    for (index, ch) in filename.char_indices() {
        if ch == '-' && !diverged && matched == project.len() {
            let rest = &filename[index + 1..];
            if filename.ends_with(".whl") || filename.ends_with(".egg") || filename.ends_with(".exe") {
                return rest.split('-').next().map(|v| v.trim_end_matches(".whl").to_string());
            }
            for ext in [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"] {
                if let Some(version) = rest.strip_suffix(ext) {
                    return Some(version.to_string());
                }
            }
            return rest.split('-').next().map(str::to_string);
        }
        if diverged {
            continue;
        }
        if matches!(ch, '-' | '_' | '.') {
            pending_separator = matched > 0;
            continue;
        }
        if pending_separator {
            if project.get(matched) != Some(&b'-') {
                diverged = true;
                continue;
            }
            matched += 1;
            pending_separator = false;
        }
        for lower in ch.to_lowercase() {
            let mut buf = [0u8; 4];
            for byte in lower.encode_utf8(&mut buf).bytes() {
                if project.get(matched) == Some(&byte) {
                    matched += 1;
                } else {
                    diverged = true;
                }
            }
        }
    }
    None
}

/// What one file of a release says; a version aggregates its files.
pub(super) struct FileFacts {
    /// The file's name, for its kind (sdist or wheel).
    pub(super) filename: String,
    pub(super) upload: Option<Timestamp>,
    pub(super) yanked: bool,
    pub(super) yanked_reason: Option<String>,
    pub(super) sha256: Option<String>,
    pub(super) provenance: Option<String>,
}

pub(super) fn aggregate(versions: &mut BTreeMap<String, Vec<FileFacts>>) -> Vec<VersionFacts> {
    versions
        .iter_mut()
        .map(|(version, files)| {
            let yanked = !files.is_empty() && files.iter().all(|f| f.yanked);
            let mut facts = VersionFacts {
                version: version.as_str().into(),
                published: files.iter().filter_map(|f| f.upload).min().into(),
                digests: files
                    .iter()
                    .filter_map(|f| f.sha256.as_ref().map(|h| format!("sha256:{h}")))
                    .collect(),
                detail: VersionDetail {
                    yanked_reason: if yanked {
                        files.iter().find_map(|f| f.yanked_reason.clone())
                    } else {
                        None
                    },
                    attestations_url: files.iter().find_map(|f| f.provenance.clone()),
                    meta: VersionMeta {
                        files: (!files.is_empty()).then(|| {
                            let mut kinds = FileKinds::default();
                            for file in files.iter().filter(|f| !f.filename.is_empty()) {
                                kinds.add_file(&file.filename);
                            }
                            kinds
                        }),
                        ..VersionMeta::default()
                    },
                    ..VersionDetail::default()
                }
                .into(),
            };
            facts.set_yanked(yanked);
            facts
        })
        .collect()
}

/// PEP 592 `yanked`: `true`/`false`, or a reason (which means yanked).
fn yanked_of(value: Option<&RawValue>) -> (bool, Option<String>) {
    let Some(raw) = value else { return (false, None) };
    match raw.get() {
        "true" => (true, None),
        text if text.starts_with('"') => {
            let reason = serde_json::from_str::<Cow<'_, str>>(text).unwrap_or_default();
            (true, (!reason.is_empty()).then(|| reason.into_owned()))
        }
        _ => (false, None),
    }
}

/// Maps a PEP 691 Simple JSON project page to `PackageFacts`.
pub fn parse_simple(project: &str, body: &[u8]) -> Result<PackageFacts, String> {
    let wire: WireSimple<'_> = serde_json::from_slice(body).map_err(|err| format!("not a Simple JSON page: {err}"))?;
    let project = Ecosystem::PyPI.normalize_name(project);
    let mut versions: BTreeMap<String, Vec<FileFacts>> =
        wire.versions.iter().map(|v| (v.to_string(), Vec::new())).collect();
    for file in wire.files {
        let Some(version) = version_of_file_normalized(&project, &file.filename) else {
            continue;
        };
        let (yanked, yanked_reason) = yanked_of(file.yanked);
        versions.entry(version).or_default().push(FileFacts {
            filename: file.filename.to_string(),
            upload: file.upload_time.as_deref().and_then(|t| t.parse().ok()),
            yanked,
            yanked_reason,
            sha256: file.hashes.sha256.map(Cow::into_owned),
            provenance: file.provenance,
        });
    }
    let versions = aggregate(&mut versions);
    let (status, status_reason) = match wire.project_status {
        Some(status) => (project_status(status.status.as_deref()), status.reason),
        None => (ProjectStatus::Active, None),
    };
    Ok(PackageFacts {
        created: versions.iter().filter_map(|v| v.published()).min(),
        versions,
        status,
        status_reason,
        ..PackageFacts::default()
    })
}

/// Reads a Simple project page in whichever form the index answered: JSON (PEP 691) or HTML (PEP 503),
/// told apart by the body, since indexes label their content types loosely.
pub fn parse_simple_any(project: &str, body: &[u8]) -> Result<PackageFacts, String> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'<') => parse_simple_html(project, body),
        _ => parse_simple(project, body),
    }
}

pub(super) fn project_status(status: Option<&str>) -> ProjectStatus {
    match status {
        Some("archived") => ProjectStatus::Archived,
        Some("quarantined") => ProjectStatus::Quarantined,
        Some("deprecated") => ProjectStatus::Deprecated,
        _ => ProjectStatus::Active,
    }
}

#[derive(Deserialize)]
struct WireJson {
    #[serde(default)]
    info: Option<WireInfo>,
    #[serde(default)]
    releases: BTreeMap<String, Vec<WireJsonFile>>,
}

#[derive(Deserialize)]
struct WireInfo {
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct WireJsonFile {
    #[serde(default)]
    filename: String,
    #[serde(default)]
    digests: BTreeMap<String, String>,
    #[serde(default)]
    upload_time_iso_8601: Option<String>,
    #[serde(default)]
    yanked: bool,
    #[serde(default)]
    yanked_reason: Option<String>,
}

/// Maps a JSON API project document to `PackageFacts`.
pub fn parse_json_api(body: &[u8]) -> Result<PackageFacts, String> {
    let wire: WireJson = serde_json::from_slice(body).map_err(|err| format!("not a PyPI JSON document: {err}"))?;
    let mut versions: BTreeMap<String, Vec<FileFacts>> = wire
        .releases
        .into_iter()
        .map(|(version, files)| {
            let files = files
                .into_iter()
                .map(|f| FileFacts {
                    filename: f.filename,
                    upload: f.upload_time_iso_8601.as_deref().and_then(|t| t.parse().ok()),
                    yanked: f.yanked,
                    yanked_reason: f.yanked_reason.filter(|r| !r.is_empty()),
                    sha256: f.digests.get("sha256").cloned(),
                    provenance: None,
                })
                .collect();
            (version, files)
        })
        .collect();
    let versions = aggregate(&mut versions);
    Ok(PackageFacts {
        created: versions.iter().filter_map(|v| v.published()).min(),
        versions,
        latest: wire.info.and_then(|i| i.version),
        ..PackageFacts::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Digests;

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(crate::testing::registry_fixtures().join("pypi").join(path)).unwrap()
    }

    #[test]
    fn file_versions() {
        assert_eq!(
            version_of_file("requests", "requests-2.32.0-py3-none-any.whl").as_deref(),
            Some("2.32.0")
        );
        assert_eq!(
            version_of_file("requests", "requests-0.10.0.tar.gz").as_deref(),
            Some("0.10.0")
        );
        assert_eq!(
            version_of_file("python-dateutil", "python_dateutil-2.8.2-py2.py3-none-any.whl").as_deref(),
            Some("2.8.2")
        );
        assert_eq!(
            version_of_file("python-dateutil", "python-dateutil-2.8.2.tar.gz").as_deref(),
            Some("2.8.2")
        );
        assert_eq!(
            version_of_file("pyyaml", "PyYAML-6.0.1.tar.gz").as_deref(),
            Some("6.0.1")
        );
    }

    #[test]
    fn simple_and_json_agree_on_requests() {
        let simple = parse_simple("requests", &fixture("simple/requests/index.json")).unwrap();
        let json = parse_json_api(&fixture("pypi/requests/json")).unwrap();
        assert_eq!(simple.versions.len(), 163);
        assert_eq!(json.versions.len(), 163);
        for name in ["2.32.0", "2.32.1"] {
            let s = simple.version(name).unwrap();
            let j = json.version(name).unwrap();
            assert!(s.yanked() && j.yanked(), "{name}");
            assert!(j.detail.yanked_reason.as_deref().unwrap().contains("CVE-2024-35195"));
            assert_eq!(s.detail.yanked_reason, j.detail.yanked_reason);
            assert_eq!(s.published, j.published);
            assert_eq!(s.digests, j.digests);
        }
        let yanked: Vec<_> = simple
            .versions
            .iter()
            .filter(|v| v.yanked())
            .map(|v| &v.version)
            .collect();
        assert_eq!(yanked, ["2.32.0", "2.32.1"]);
        assert_eq!(json.latest.as_deref(), Some("2.34.2"));
    }

    #[test]
    fn project_status_and_provenance() {
        let body = br#"{"meta":{"api-version":"1.4"},"name":"x","project-status":{"status":"quarantined","reason":"malware"},
            "versions":["1.0"],"files":[{"filename":"x-1.0.tar.gz","hashes":{"sha256":"ab"},"upload-time":"2025-01-02T03:04:05Z","yanked":false,"provenance":"https://pypi.org/integrity/x/1.0/x-1.0.tar.gz/provenance"}]}"#;
        let facts = parse_simple("x", body).unwrap();
        assert_eq!(facts.status, ProjectStatus::Quarantined);
        assert_eq!(facts.status_reason.as_deref(), Some("malware"));
        let v = facts.version("1.0").unwrap();
        assert!(v.detail.attestations_url.as_deref().unwrap().ends_with("/provenance"));
        assert_eq!(v.published(), Some("2025-01-02T03:04:05Z".parse().unwrap()));
    }

    #[test]
    fn html_page_agrees_with_json_on_requests() {
        // Recorded PEP 503 page (fetched later than the JSON one). HTML lists files only, so a version
        // the JSON form names without any file (three of requests') is absent from it.
        let html = parse_simple_any("requests", &fixture("html/requests.html")).unwrap();
        let json = parse_simple("requests", &fixture("simple/requests/index.json")).unwrap();
        let with_files: Vec<_> = json.versions.iter().filter(|v| !v.digests.is_empty()).collect();
        assert_eq!(with_files.len(), 160);
        assert!(html.versions.len() >= with_files.len(), "{}", html.versions.len());
        for j in with_files {
            let h = html
                .version(&j.version)
                .unwrap_or_else(|| panic!("{} missing", j.version));
            assert_eq!(h.yanked(), j.yanked(), "{}", j.version);
            assert_eq!(h.detail.yanked_reason, j.detail.yanked_reason, "{}", j.version);
            let sorted = |d: &Digests| {
                let mut d: Vec<String> = d.iter().map(|d| d.to_string()).collect();
                d.sort();
                d
            };
            assert_eq!(sorted(&h.digests), sorted(&j.digests), "{}", j.version);
            assert_eq!(h.published(), None);
        }
        assert!(html.version("2.32.0").unwrap().yanked());
        assert!(
            html.version("2.32.0")
                .unwrap()
                .detail
                .yanked_reason
                .as_deref()
                .unwrap()
                .contains("CVE-2024-35195")
        );
    }

    #[test]
    fn html_quirks_status_provenance_and_garbage() {
        let body = br#"<!DOCTYPE html><html><head>
            <meta name="pypi:repository-version" content="1.4">
            <meta name="pypi:project-status" content="quarantined">
            <meta name="pypi:project-status-reason" content="malware &amp; more">
            </head><body><!-- <a href="x-9.9.tar.gz">x-9.9.tar.gz</a> -->
            <A HREF='../../packages/x-1.0.tar.gz#sha256=AB12' data-yanked>x-1.0.tar.gz</A>
            <a href=../../packages/x_1.0-1.0-py3-none-any.whl#sha256=cd data-yanked="">x_1.0-1.0-py3-none-any.whl</a>
            <a href="https://files.example/x-2.0.tar.gz#md5=00&amp;sha256=ef" data-requires-python="&gt;=3.8"
               data-provenance="https://example/integrity/x/2.0/x-2.0.tar.gz/provenance"></a>
            <a href="https://files.example/other-3.0.tar.gz">other-3.0.tar.gz</a>
            <a href="broken
            </body></html>"#;
        let facts = parse_simple_any("X", body).unwrap();
        assert_eq!(facts.status, ProjectStatus::Quarantined);
        assert_eq!(facts.status_reason.as_deref(), Some("malware & more"));
        let versions: Vec<_> = facts.versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(versions, ["1.0", "2.0"]);
        let one = facts.version("1.0").unwrap();
        assert!(one.yanked() && one.detail.yanked_reason.is_none());
        assert_eq!(one.digests, ["sha256:AB12"]);
        let two = facts.version("2.0").unwrap();
        assert!(!two.yanked());
        assert_eq!(two.digests, ["sha256:ef"]);
        assert!(two.detail.attestations_url.as_deref().unwrap().ends_with("/provenance"));
        assert!(parse_simple_any("x", b"   no tags here").is_err());
        assert!(parse_simple_any("x", b"<<<<>>>>").is_err());
        assert!(
            parse_simple_any("x", b"<html><body></body></html>")
                .unwrap()
                .versions
                .is_empty()
        );
    }
}
