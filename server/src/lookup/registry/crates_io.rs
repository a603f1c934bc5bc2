//! crates.io sparse-index client: `GET {index}/{prefix}/{name}` per the Cargo index layout.
//!
//! Invariants:
//! - Index lines are NDJSON; `vers`, `yanked`, `cksum` and `pubtime` (when present) are read, a line that
//!   does not parse is skipped, a document with no readable line is a decode error.
//! - A version without `pubtime` has no publish time (`published()` is `None`) (older index entries; never guessed).
//! - `sparse+` prefixes are accepted on index URLs; a `Private { url }` source replaces the index URL.
//! - The index's `config.json` (`dl`, `api`, `auth-required`) is read once per index per process, and
//!   only when needed, so a warm check costs no request: when the index refuses a file (401/403), to
//!   say whether the registry requires a token and whether ours was refused; and, with `api_dates` on,
//!   to find the web API that supplies publish dates the index lacks.
//! - Web-API dates only fill versions without `pubtime`; a failing API costs the dates, never the
//!   package. crates.io's own API is paced to one request a second (its crawler policy).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use compact_str::CompactString;
use jiff::Timestamp;
use serde::Deserialize;

use crate::lookup::http::{HttpClient, parse_document, redact};
use crate::lookup::{ConditionalRegistry, LookupError, Revalidated, Validators};
use crate::model::{
    DeclaredDep, DeclaredKind, PackageFacts, PackageRef, RegistrySource, SharedStrings, VersionDetail, VersionFacts,
    VersionMeta,
};

pub struct CratesIndexClient {
    http: Arc<HttpClient>,
    index: String,
    api_dates: bool,
    /// `config.json` by index base URL (`None`: unreadable), each fetched at most once.
    configs: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Option<IndexConfig>>>>>,
    /// When the next crates.io web-API request may start.
    api_pace: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

/// A registry index's `config.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct IndexConfig {
    #[serde(default)]
    pub dl: Option<String>,
    #[serde(default)]
    pub api: Option<String>,
    #[serde(default, rename = "auth-required")]
    pub auth_required: bool,
}

pub fn parse_index_config(body: &[u8]) -> Result<IndexConfig, String> {
    serde_json::from_slice(body).map_err(|err| format!("not an index config.json: {err}"))
}

/// crates.io asks crawlers for at most one request a second.
const CRATES_IO_API_PACE: Duration = Duration::from_secs(1);
const API_MAX_PAGES: usize = 20;

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
            api_dates: false,
            configs: Mutex::new(HashMap::new()),
            api_pace: tokio::sync::Mutex::new(None),
        }
    }

    /// Asks the registry's web API (from `config.json` `api`) for publish dates the index lacks.
    pub fn with_api_dates(mut self, on: bool) -> CratesIndexClient {
        self.api_dates = on;
        self
    }

    fn base<'a>(&'a self, source: &'a RegistrySource) -> &'a str {
        match source {
            RegistrySource::Public => self.index.as_str(),
            RegistrySource::Private { url } => clean_index(url),
        }
    }

    pub fn url(&self, name: &str, source: &RegistrySource) -> String {
        format!("{}/{}", self.base(source), index_path(name))
    }

    /// The index's `config.json`, fetched once per index (concurrent callers share the request).
    pub async fn index_config(&self, base: &str) -> Option<IndexConfig> {
        let cell = self
            .configs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(base.to_string())
            .or_default()
            .clone();
        cell.get_or_init(|| async {
            let url = format!("{base}/config.json");
            match self
                .http
                .get_document(&url, None, &Validators::default(), "config.json")
                .await
            {
                Ok(Revalidated::Modified { value, .. }) => parse_index_config(&value)
                    .inspect_err(|err| tracing::debug!("{}: {err}", redact(&url)))
                    .ok(),
                Ok(Revalidated::NotModified { .. }) => None,
                Err(err) => {
                    tracing::debug!("{}: {err}", redact(&url));
                    None
                }
            }
        })
        .await
        .clone()
    }

    /// Why the index refused a file, in words a user can act on.
    async fn refused(&self, base: &str, url: &str, status: u16) -> LookupError {
        let host = redact(base);
        let message = if self.http.has_credentials(url) {
            format!(
                "{host} refused the registry token ({status}): renew it (CARGO_REGISTRIES_<NAME>_TOKEN or $CARGO_HOME/credentials.toml)"
            )
        } else {
            let required = match self.index_config(base).await {
                Some(config) if config.auth_required => " (its config.json sets auth-required)",
                _ => "",
            };
            format!(
                "{host} requires authentication{required} and no token is configured for it: set CARGO_REGISTRIES_<NAME>_TOKEN or add the token to $CARGO_HOME/credentials.toml"
            )
        };
        LookupError::Other(message)
    }

    /// Fills publish dates the index lacks from the registry's web API; any failure leaves them unknown.
    async fn fill_dates_from_api(&self, base: &str, name: &str, facts: &mut PackageFacts) {
        let Some(api) = self.index_config(base).await.and_then(|c| c.api) else {
            return;
        };
        let api = api.trim_end_matches('/');
        let paced = reqwest::Url::parse(api)
            .ok()
            .and_then(|u| u.host_str().map(|h| h == "crates.io" || h.ends_with(".crates.io")))
            .unwrap_or(false);
        let first = format!(
            "{api}/api/v1/crates/{}/versions?per_page=100",
            name.to_ascii_lowercase()
        );
        let mut next = Some(first.clone());
        let mut dates = HashMap::new();
        for _ in 0..API_MAX_PAGES {
            let Some(url) = next.take() else { break };
            if paced {
                let mut slot = self.api_pace.lock().await;
                if let Some(at) = *slot {
                    tokio::time::sleep_until(at).await;
                }
                *slot = Some(tokio::time::Instant::now() + CRATES_IO_API_PACE);
            }
            let page = match self.http.get_document(&url, None, &Validators::default(), name).await {
                Ok(Revalidated::Modified { value, .. }) => parse_api_versions(&value),
                Ok(Revalidated::NotModified { .. }) => Err("unexpected 304".to_string()),
                Err(err) => Err(err.to_string()),
            };
            match page {
                Ok(page) => {
                    dates.extend(page.dates);
                    next = page.next_page.map(|query| {
                        let path = first.split('?').next().unwrap_or(&first);
                        format!("{path}{query}")
                    });
                }
                Err(err) => {
                    tracing::debug!("publish dates of {name} from {}: {err}", redact(api));
                    break;
                }
            }
        }
        for version in facts.versions.iter_mut().filter(|v| v.published().is_none()) {
            version.published = dates.get(version.version.as_str()).copied().into();
        }
        facts.created = facts.versions.iter().filter_map(|v| v.published()).min();
    }
}

/// One page of `GET {api}/api/v1/crates/{name}/versions`: publish dates by version, and the query of
/// the next page when there is one.
#[derive(Debug, Default)]
pub struct ApiVersionsPage {
    pub dates: HashMap<String, Timestamp>,
    pub next_page: Option<String>,
}

pub fn parse_api_versions(body: &[u8]) -> Result<ApiVersionsPage, String> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(default)]
        versions: Vec<WireVersion>,
        #[serde(default)]
        meta: Option<WireMeta>,
    }
    #[derive(Deserialize)]
    struct WireVersion {
        num: String,
        #[serde(default)]
        created_at: Option<String>,
    }
    #[derive(Deserialize)]
    struct WireMeta {
        #[serde(default)]
        next_page: Option<String>,
    }
    let wire: Wire = serde_json::from_slice(body).map_err(|err| format!("not a versions document: {err}"))?;
    Ok(ApiVersionsPage {
        dates: wire
            .versions
            .into_iter()
            .filter_map(|v| Some((v.num, v.created_at?.parse::<Timestamp>().ok()?)))
            .collect(),
        next_page: wire.meta.and_then(|m| m.next_page).filter(|q| q.starts_with('?')),
    })
}

#[async_trait]
impl ConditionalRegistry for CratesIndexClient {
    async fn conditional_package(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
        validators: &Validators,
    ) -> Result<Revalidated<PackageFacts>, LookupError> {
        let base = self.base(source);
        let url = self.url(&package.name, source);
        let answer = match self.http.get_document(&url, None, validators, &package.name).await {
            Err(LookupError::Status {
                status: status @ (401 | 403),
                ..
            }) => return Err(self.refused(base, &url, status).await),
            answer => answer?,
        };
        let mut answer = parse_document(answer, &url, parse_index_file).await?;
        if let Revalidated::Modified { value: facts, .. } = &mut answer
            && self.api_dates
            && facts.versions.iter().any(|v| v.published().is_none())
        {
            self.fill_dates_from_api(base, &package.name, facts).await;
        }
        Ok(answer)
    }
}

#[derive(Deserialize)]
struct WireLine {
    vers: CompactString,
    #[serde(default)]
    yanked: bool,
    #[serde(default)]
    cksum: Option<String>,
    #[serde(default)]
    pubtime: Option<String>,
    #[serde(default)]
    deps: Option<Vec<WireDep>>,
}

#[derive(Deserialize)]
struct WireDep {
    name: String,
    #[serde(default)]
    req: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    kind: Option<String>,
    /// A renamed dependency: `name` is the local name, `package` the crate.
    #[serde(default)]
    package: Option<String>,
}

/// The index's dependency list as kept: exactly as long as it is (`extend`, not `collect`, which would
/// reuse the larger `WireDep` buffer in place: 2.7 of a Cargo.toml session's 6.4 MB of heap were such
/// buffers, one per version of every crate).
fn declared(deps: Vec<WireDep>, shared: &mut SharedStrings) -> Vec<DeclaredDep> {
    let mut declared = Vec::with_capacity(deps.len());
    declared.extend(deps.into_iter().map(|dep| DeclaredDep {
        name: shared.get(dep.package.as_deref().unwrap_or(&dep.name)),
        req: shared.get(&dep.req),
        kind: match dep.kind.as_deref() {
            Some("build") => DeclaredKind::Build,
            Some("dev") => DeclaredKind::Dev,
            _ => DeclaredKind::Normal,
        },
        optional: dep.optional,
    }));
    declared
}

/// Maps a sparse-index file (NDJSON) to `PackageFacts`.
pub fn parse_index_file(body: &[u8]) -> Result<PackageFacts, String> {
    let text = std::str::from_utf8(body).map_err(|_| "index file is not UTF-8".to_string())?;
    let mut versions = Vec::new();
    let mut shared = SharedStrings::default();
    let mut bad_lines = 0usize;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<WireLine>(line) {
            Ok(wire) => {
                let mut facts = VersionFacts {
                    version: wire.vers,
                    published: wire.pubtime.as_deref().and_then(|t| t.parse::<Timestamp>().ok()).into(),
                    digests: wire.cksum.map(|c| format!("sha256:{c}")).into_iter().collect(),
                    detail: VersionDetail {
                        meta: VersionMeta {
                            dependencies: wire.deps.map(|deps| declared(deps, &mut shared)),
                            // Crates run no install hooks of their own; a build script shows as a build
                            // dependency at most, and the index lists no publisher or repository.
                            ..VersionMeta::default()
                        },
                        ..VersionDetail::default()
                    }
                    .into(),
                };
                facts.set_yanked(wire.yanked);
                versions.push(facts);
            }
            Err(_) => bad_lines += 1,
        }
    }
    if versions.is_empty() && bad_lines > 0 {
        return Err(format!("no readable line in the index file ({bad_lines} unreadable)"));
    }
    if bad_lines > 0 {
        tracing::debug!("skipped {bad_lines} unreadable index lines");
    }
    // One line per version, counted only as they are read: drop the growth room the pushes left.
    versions.shrink_to_fit();
    let created = versions.iter().filter_map(|v| v.published()).min();
    Ok(PackageFacts {
        versions,
        created,
        ..PackageFacts::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::Registry;

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
        // A session holds every version of every crate it names: no growth room kept (issue 16).
        assert_eq!(facts.versions.capacity(), facts.versions.len());
        assert_eq!(facts.versions.iter().filter(|v| v.yanked()).count(), 20);
        let first = facts.version("0.1.0").unwrap();
        assert_eq!(first.published(), Some("2015-04-06T06:21:18Z".parse().unwrap()));
        assert!(first.digests.first().unwrap().starts_with("sha256:541ac5ac"));
        assert_eq!(facts.created, first.published());
    }

    /// Every version of a crate lists its dependencies; equal names and requirements are one string.
    #[test]
    fn declared_dependencies_share_their_strings() {
        let body = std::fs::read(crate::testing::registry_fixtures().join("crates/to/ki/tokio")).unwrap();
        let facts = parse_index_file(&body).unwrap();
        let mut deps = facts
            .versions
            .iter()
            .flat_map(|v| v.detail.meta.dependencies.iter().flatten());
        let first = deps.next().unwrap().clone();
        let same: Vec<_> = deps.filter(|dep| dep.name == first.name).collect();
        assert!(!same.is_empty());
        assert!(same.iter().all(|dep| std::sync::Arc::ptr_eq(&dep.name, &first.name)));
        // Decoded from the store, they are shared again.
        let stored = crate::lookup::cache::store::encode_value(&facts).unwrap();
        let mut decoded: PackageFacts = crate::lookup::cache::store::decode_value(&stored).unwrap();
        assert_eq!(decoded, facts);
        decoded.share_strings();
        let mut deps = decoded
            .versions
            .iter()
            .flat_map(|v| v.detail.meta.dependencies.iter().flatten());
        let first = deps.next().unwrap().clone();
        assert!(
            deps.filter(|dep| dep.name == first.name)
                .all(|dep| std::sync::Arc::ptr_eq(&dep.name, &first.name))
        );
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(parse_index_file(b"<html>oops</html>").is_err());
        assert!(parse_index_file(b"").unwrap().versions.is_empty());
    }

    #[test]
    fn index_config_and_api_pages() {
        let recorded =
            std::fs::read(crate::testing::registry_fixtures().join("crates-meta/mirror-config.json")).unwrap();
        let config = parse_index_config(&recorded).unwrap();
        assert!(config.dl.unwrap().ends_with("/v1/crates"));
        assert!(config.api.is_some());
        assert!(!config.auth_required);
        let private = parse_index_config(br#"{"dl":"https://x/dl","api":"https://x","auth-required":true}"#).unwrap();
        assert!(private.auth_required);
        assert!(parse_index_config(b"<html>").is_err());

        let page = parse_api_versions(
            br#"{"versions":[{"num":"1.0.0","created_at":"2019-04-16T18:48:11.404457+00:00","yanked":false},
                {"num":"0.9.0","created_at":"garbage"},{"num":"0.8.0"}],"meta":{"total":3,"next_page":"?per_page=100&seek=abc"}}"#,
        )
        .unwrap();
        assert_eq!(page.dates.len(), 1);
        assert_eq!(page.dates["1.0.0"], "2019-04-16T18:48:11.404457Z".parse().unwrap());
        assert_eq!(page.next_page.as_deref(), Some("?per_page=100&seek=abc"));
        let last = parse_api_versions(br#"{"versions":[],"meta":{"next_page":null}}"#).unwrap();
        assert!(last.next_page.is_none());
    }

    /// The recorded smallvec index file with `pubtime` taken out of every line (an older or private
    /// registry), and the web API's answer built from the dates taken out.
    fn smallvec_without_pubtime() -> (String, String) {
        let body = std::fs::read_to_string(crate::testing::registry_fixtures().join("crates/sm/al/smallvec")).unwrap();
        let mut index = String::new();
        let mut api = Vec::new();
        for line in body.lines() {
            let mut value: serde_json::Value = serde_json::from_str(line).unwrap();
            let time = value.as_object_mut().unwrap().remove("pubtime").unwrap();
            api.push(serde_json::json!({"num": value["vers"], "created_at": time, "yanked": value["yanked"]}));
            index.push_str(&value.to_string());
            index.push('\n');
        }
        let api = serde_json::json!({"versions": api, "meta": {"total": api.len(), "next_page": null}});
        (index, api.to_string())
    }

    fn client(
        server: &crate::testing::FixtureServer,
        credentials: crate::lookup::http::HostCredentials,
    ) -> CratesIndexClient {
        let http = Arc::new(HttpClient::new(crate::lookup::http::HttpSettings::default(), credentials).unwrap());
        CratesIndexClient::new(http, &format!("sparse+{}/crates/", server.url()))
    }

    #[tokio::test]
    async fn publish_dates_the_index_lacks_come_from_the_api_named_in_config_json() {
        let server = crate::testing::FixtureServer::start(crate::testing::registry_fixtures()).unwrap();
        let (index, api) = smallvec_without_pubtime();
        server.set_body("/corp/sm/al/smallvec", index);
        server.set_body(
            "/corp/config.json",
            format!(r#"{{"dl":"{0}/dl","api":"{0}/corp-api/"}}"#, server.url()),
        );
        server.set_body("/corp-api/api/v1/crates/smallvec/versions", api);
        let source = RegistrySource::Private {
            url: format!("sparse+{}/corp/", server.url()),
        };
        let smallvec = PackageRef::new(crate::model::Ecosystem::CratesIo, "smallvec");

        // Off (the default): no dates, and no request but the index file.
        let plain = client(&server, Default::default())
            .package(&smallvec, &source)
            .await
            .unwrap();
        assert!(plain.value.versions.iter().all(|v| v.published().is_none()));
        assert_eq!(server.request_count(), 1);

        server.clear_requests();
        let dated = client(&server, Default::default())
            .with_api_dates(true)
            .package(&smallvec, &source)
            .await
            .unwrap();
        let first = dated.value.version("0.1.0").unwrap();
        assert_eq!(first.published(), Some("2015-04-06T06:21:18Z".parse().unwrap()));
        assert!(dated.value.versions.iter().all(|v| v.published().is_some()));
        assert_eq!(dated.value.created, first.published());
        let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(
            paths,
            [
                "/corp/sm/al/smallvec",
                "/corp/config.json",
                "/corp-api/api/v1/crates/smallvec/versions?per_page=100"
            ]
        );

        // A broken API costs the dates, never the package.
        server.set_body("/corp-api/api/v1/crates/smallvec/versions", "<html>");
        let broken = client(&server, Default::default())
            .with_api_dates(true)
            .package(&smallvec, &source)
            .await
            .unwrap();
        assert_eq!(broken.value.versions.len(), 89);
        assert!(broken.value.versions.iter().all(|v| v.published().is_none()));
    }

    #[tokio::test]
    async fn a_refusing_index_says_whether_a_token_is_missing_or_refused() {
        use crate::testing::Fault;
        let server = crate::testing::FixtureServer::start(crate::testing::registry_fixtures()).unwrap();
        server.set_body(
            "/corp/config.json",
            r#"{"dl":"https://x/dl","api":"https://x","auth-required":true}"#,
        );
        server.inject(
            "/corp/se/",
            Fault::Status {
                status: 401,
                retry_after: None,
            },
            None,
        );
        let source = RegistrySource::Private {
            url: format!("{}/corp", server.url()),
        };
        let serde = PackageRef::new(crate::model::Ecosystem::CratesIo, "serde");
        let missing = client(&server, Default::default()).package(&serde, &source).await;
        let Err(LookupError::Other(message)) = missing else {
            panic!("{missing:?}")
        };
        assert!(
            message.contains("requires authentication (its config.json sets auth-required)"),
            "{message}"
        );
        assert!(message.contains("CARGO_REGISTRIES_<NAME>_TOKEN"), "{message}");

        let mut credentials = crate::lookup::http::HostCredentials::default();
        credentials.insert(&server.url(), "stale-token");
        let refused = client(&server, credentials).package(&serde, &source).await;
        let Err(LookupError::Other(message)) = refused else {
            panic!("{refused:?}")
        };
        assert!(message.contains("refused the registry token (401)"), "{message}");
        assert!(!message.contains("stale-token"), "{message}");
    }
}
