//! The registry clients composed by ecosystem, and the private-registry configuration that decides
//! which `RegistrySource` (and which credentials) a package of a project uses.
//!
//! Invariants:
//! - `RegistryClients` dispatches on `PackageRef::ecosystem` only; it adds no policy.
//! - Configuration parsing is pure (text in, structure out); reading files and the environment happens
//!   in the `*_from_disk` functions only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use crate::lookup::registry::crates_io::CratesIndexClient;
use crate::lookup::http::{HostCredentials, HttpClient};
use crate::lookup::registry::npm::NpmClient;
use crate::lookup::registry::pypi::PypiClient;
use crate::lookup::{Fetched, LookupError, LookupSettings, Registry, Revalidated, Validators};
use crate::model::{Ecosystem, PackageFacts, PackageRef, RegistrySource};

/// npm, crates.io and PyPI clients over one shared HTTP client.
pub struct RegistryClients {
    pub npm: NpmClient,
    pub crates: CratesIndexClient,
    pub pypi: PypiClient,
}

impl RegistryClients {
    pub fn new(settings: &LookupSettings, http: Arc<HttpClient>) -> RegistryClients {
        RegistryClients {
            npm: NpmClient::new(http.clone(), &settings.npm_registry),
            crates: CratesIndexClient::new(http.clone(), &settings.crates_index)
                .with_api_dates(settings.crates_api_dates),
            pypi: PypiClient::new(http, &settings.pypi_url),
        }
    }

    fn client(&self, ecosystem: Ecosystem) -> &dyn Registry {
        match ecosystem {
            Ecosystem::Npm => &self.npm,
            Ecosystem::CratesIo => &self.crates,
            Ecosystem::PyPI => &self.pypi,
        }
    }
}

/// The registry side of `Lookup` for these settings: one shared HTTP client carrying the private
/// registries' credentials (each for its own origin only), the three clients, cached over `store`
/// (`Arc::new(Store::open(&settings.cache_dir))`, shared with the advisory and provenance caches).
pub fn cached_registries(
    settings: &LookupSettings,
    private: &PrivateRegistries,
    store: Arc<crate::lookup::cache::store::Store>,
) -> Result<crate::lookup::cache::CachedRegistry<RegistryClients>, LookupError> {
    let http = Arc::new(HttpClient::new(
        crate::lookup::http::HttpSettings::default(),
        private.credentials.clone(),
    )?);
    Ok(crate::lookup::cache::CachedRegistry::new(
        Arc::new(RegistryClients::new(settings, http)),
        store,
        crate::lookup::cache::CacheSettings::from_lookup(settings),
    ))
}

#[async_trait]
impl Registry for RegistryClients {
    async fn package(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
    ) -> Result<Fetched<PackageFacts>, LookupError> {
        self.client(package.ecosystem).package(package, source).await
    }

    async fn package_revalidated(
        &self,
        package: &PackageRef,
        source: &RegistrySource,
        validators: &Validators,
    ) -> Result<Revalidated<PackageFacts>, LookupError> {
        self.client(package.ecosystem)
            .package_revalidated(package, source, validators)
            .await
    }
}

/// Registries a project (and its user) configured, and the credentials for their hosts.
///
/// Extra indexes (`--extra-index-url`, uv indexes that are neither `default` nor `explicit`, Poetry
/// `supplemental` sources) do not make a package private: the installer asks the public index for it as
/// well, so the public registry is checked too (that is where dependency confusion lands).
#[derive(Debug, Clone, Default)]
pub struct PrivateRegistries {
    /// npm `registry=` when it is not the public registry.
    pub npm_default: Option<String>,
    /// npm `@scope:registry=` (scope with its `@`).
    pub npm_scopes: BTreeMap<String, String>,
    /// Cargo `[registries.<name>] index`.
    pub cargo_registries: BTreeMap<String, String>,
    /// Cargo `[source.crates-io] replace-with` resolved to a URL (a `file://` URL for directory sources).
    pub cargo_crates_io_replacement: Option<String>,
    /// Cargo `[registry] default`.
    pub cargo_default_registry: Option<String>,
    /// pip `--index-url` / `PIP_INDEX_URL` / `index-url`, uv `default = true`, Poetry `primary`, when not PyPI.
    pub pypi_index: Option<String>,
    pub pypi_extra_indexes: Vec<String>,
    /// Named Python indexes (uv `[[tool.uv.index]]`, Poetry `[[tool.poetry.source]]`).
    pub pypi_named: BTreeMap<String, String>,
    /// Packages pinned to a named index (uv `[tool.uv.sources]`), by normalised name → URL.
    pub pypi_pinned: BTreeMap<String, String>,
    pub credentials: HostCredentials,
}

const PUBLIC_URLS: [&str; 6] = [
    "https://registry.npmjs.org",
    "https://registry.yarnpkg.com",
    "https://index.crates.io",
    "https://github.com/rust-lang/crates.io-index",
    "https://pypi.org/simple",
    "https://pypi.python.org/simple",
];

fn trimmed(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

fn is_public(url: &str) -> bool {
    let url = trimmed(url.strip_prefix("sparse+").unwrap_or(url));
    PUBLIC_URLS.iter().any(|p| url.eq_ignore_ascii_case(p))
}

/// Takes `user:password@` out of a URL and records it as Basic credentials for that origin.
fn strip_userinfo(url: &str, credentials: &mut HostCredentials) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url.trim()) else {
        return url.trim().to_string();
    };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return url.trim().to_string();
    }
    let user = crate::lookup::http::percent_decode(parsed.username());
    let password = parsed
        .password()
        .map(crate::lookup::http::percent_decode)
        .unwrap_or_default();
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    let clean = parsed.to_string();
    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    credentials.insert(&clean, &format!("Basic {basic}"));
    clean
}

/// Expands `${VAR}` the way npm does in `.npmrc` values.
fn expand_env(value: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut res = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        res.push_str(&rest[..start]);
        match rest[start + 2..].find('}') {
            Some(end) => {
                let name = &rest[start + 2..start + 2 + end];
                res.push_str(&env(name).unwrap_or_default());
                rest = &rest[start + 3 + end..];
            }
            None => {
                res.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    res.push_str(rest);
    res
}

impl PrivateRegistries {
    /// Where `package` comes from. `registry` is the dependency's own registry name, when it has one
    /// (Cargo `registry = "…"`, Poetry `source = "…"`, uv `index = "…"`).
    pub fn source_for(&self, package: &PackageRef, registry: Option<&str>) -> RegistrySource {
        let private = |url: &String| RegistrySource::Private { url: url.clone() };
        match package.ecosystem {
            Ecosystem::Npm => {
                if let Some((scope, _)) = package.name.split_once('/')
                    && let Some(url) = self.npm_scopes.get(scope)
                {
                    return private(url);
                }
                self.npm_default.as_ref().map_or(RegistrySource::Public, private)
            }
            Ecosystem::CratesIo => {
                let named = registry.or(self.cargo_default_registry.as_deref());
                if let Some(name) = named.filter(|n| *n != "crates-io") {
                    // An unknown registry name is still not crates.io: never ask the public index.
                    return match self.cargo_registries.get(name) {
                        Some(url) => private(url),
                        None => RegistrySource::Private {
                            url: format!("unknown-registry:{name}"),
                        },
                    };
                }
                self.cargo_crates_io_replacement
                    .as_ref()
                    .map_or(RegistrySource::Public, private)
            }
            Ecosystem::PyPI => {
                if let Some(name) = registry {
                    return match self.pypi_named.get(name) {
                        Some(url) => private(url),
                        None => RegistrySource::Private {
                            url: format!("unknown-index:{name}"),
                        },
                    };
                }
                if let Some(url) = self.pypi_pinned.get(&package.name) {
                    return private(url);
                }
                self.pypi_index.as_ref().map_or(RegistrySource::Public, private)
            }
        }
    }
}

/// Applies one `.npmrc` (later calls override earlier ones).
pub fn parse_npmrc(text: &str, env: &dyn Fn(&str) -> Option<String>, into: &mut PrivateRegistries) {
    let mut users: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let value = expand_env(value.trim().trim_matches('"'), env);
        if key == "registry" {
            into.npm_default = (!is_public(&value)).then(|| trimmed(&value));
        } else if let Some(scope) = key.strip_suffix(":registry")
            && scope.starts_with('@')
        {
            if is_public(&value) {
                into.npm_scopes.remove(scope);
            } else {
                into.npm_scopes.insert(scope.to_string(), trimmed(&value));
            }
        } else if let Some(rest) = key.strip_prefix("//")
            && let Some((host_path, setting)) = rest.rsplit_once(":")
        {
            let header = match setting {
                "_authToken" => Some(format!("Bearer {value}")),
                "_auth" => Some(format!("Basic {value}")),
                "username" => {
                    users.entry(host_path.to_string()).or_default().0 = Some(value.clone());
                    None
                }
                "_password" => {
                    users.entry(host_path.to_string()).or_default().1 = Some(value.clone());
                    None
                }
                _ => None,
            };
            if let Some(header) = header {
                for scheme in ["https", "http"] {
                    into.credentials.insert(&format!("{scheme}://{host_path}"), &header);
                }
            }
        }
    }
    use base64::Engine;
    for (host_path, (user, password)) in users {
        let (Some(user), Some(password)) = (user, password) else {
            continue;
        };
        // npm stores `_password` base64-encoded.
        let password = base64::engine::general_purpose::STANDARD
            .decode(password.as_bytes())
            .ok()
            .and_then(|p| String::from_utf8(p).ok())
            .unwrap_or(password);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        for scheme in ["https", "http"] {
            into.credentials
                .insert(&format!("{scheme}://{host_path}"), &format!("Basic {basic}"));
        }
    }
}

/// Applies one `.cargo/config.toml` (later calls override earlier ones).
pub fn parse_cargo_config(text: &str, into: &mut PrivateRegistries) -> Result<(), String> {
    let doc: toml::Table = text.parse().map_err(|err| format!("{err}"))?;
    let mut tokens = Vec::new();
    if let Some(registries) = doc.get("registries").and_then(|r| r.as_table()) {
        for (name, table) in registries {
            if let Some(index) = table.get("index").and_then(|i| i.as_str()) {
                into.cargo_registries.insert(name.clone(), trimmed(index));
                if let Some(token) = table.get("token").and_then(|t| t.as_str()) {
                    tokens.push((index.to_string(), token.to_string()));
                }
            }
        }
    }
    if let Some(default) = doc
        .get("registry")
        .and_then(|r| r.get("default"))
        .and_then(|d| d.as_str())
    {
        into.cargo_default_registry = Some(default.to_string());
    }
    if let Some(sources) = doc.get("source").and_then(|s| s.as_table()) {
        let mut name = sources
            .get("crates-io")
            .and_then(|c| c.get("replace-with"))
            .and_then(|r| r.as_str());
        let mut hops = 0;
        while let Some(current) = name {
            hops += 1;
            let Some(source) = sources.get(current) else {
                into.cargo_crates_io_replacement = into
                    .cargo_registries
                    .get(current)
                    .cloned()
                    .or_else(|| Some(format!("unknown-source:{current}")));
                break;
            };
            if let Some(next) = source.get("replace-with").and_then(|r| r.as_str())
                && hops < 8
            {
                name = Some(next);
                continue;
            }
            let url = source
                .get("registry")
                .and_then(|r| r.as_str())
                .map(trimmed)
                .or_else(|| {
                    ["directory", "local-registry"]
                        .iter()
                        .find_map(|key| source.get(*key).and_then(|d| d.as_str()).map(|d| format!("file://{d}")))
                })
                .unwrap_or_else(|| format!("unknown-source:{current}"));
            into.cargo_crates_io_replacement = (!is_public(&url)).then_some(url);
            break;
        }
    }
    for (index, token) in tokens {
        into.credentials
            .insert(index.strip_prefix("sparse+").unwrap_or(&index), &token);
    }
    Ok(())
}

/// Applies `$CARGO_HOME/credentials.toml` (`[registries.<name>] token`), after the config files.
pub fn parse_cargo_credentials(text: &str, into: &mut PrivateRegistries) -> Result<(), String> {
    let doc: toml::Table = text.parse().map_err(|err| format!("{err}"))?;
    if let Some(registries) = doc.get("registries").and_then(|r| r.as_table()) {
        for (name, table) in registries {
            if let (Some(token), Some(index)) = (
                table.get("token").and_then(|t| t.as_str()),
                into.cargo_registries.get(name),
            ) {
                let index = index.strip_prefix("sparse+").unwrap_or(index).to_string();
                into.credentials.insert(&index, token);
            }
        }
    }
    Ok(())
}

fn set_pypi_index(url: &str, into: &mut PrivateRegistries) {
    let url = strip_userinfo(url, &mut into.credentials);
    into.pypi_index = (!is_public(&url)).then(|| trimmed(&url));
}

fn add_pypi_extra(url: &str, into: &mut PrivateRegistries) {
    let url = trimmed(&strip_userinfo(url, &mut into.credentials));
    if !is_public(&url) && !into.pypi_extra_indexes.contains(&url) {
        into.pypi_extra_indexes.push(url);
    }
}

/// Applies `pip.conf` (`[global]` / `[install]` `index-url`, `extra-index-url`).
pub fn parse_pip_conf(text: &str, into: &mut PrivateRegistries) {
    let mut section = String::new();
    let mut key = String::new();
    for line in text.lines() {
        let trimmed_line = line.trim();
        if trimmed_line.is_empty() || trimmed_line.starts_with('#') || trimmed_line.starts_with(';') {
            continue;
        }
        if trimmed_line.starts_with('[') {
            section = trimmed_line.trim_matches(['[', ']']).trim().to_string();
            continue;
        }
        if section != "global" && section != "install" {
            continue;
        }
        // Continuation lines of a multi-line value are indented.
        let (current_key, values) = if line.starts_with([' ', '\t']) && !key.is_empty() {
            (key.clone(), trimmed_line)
        } else if let Some((k, v)) = trimmed_line.split_once(['=', ':']) {
            key = k.trim().to_string();
            (key.clone(), v.trim())
        } else {
            continue;
        };
        for value in values.split_whitespace() {
            match current_key.as_str() {
                "index-url" | "index_url" => set_pypi_index(value, into),
                "extra-index-url" | "extra_index_url" => add_pypi_extra(value, into),
                _ => {}
            }
        }
    }
}

/// Applies `--index-url`/`-i` and `--extra-index-url` lines of a requirements file.
pub fn parse_requirements_options(text: &str, into: &mut PrivateRegistries) {
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or_default().trim();
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            let (option, inline) = match word.split_once('=') {
                Some((option, value)) => (option, Some(value)),
                None => (word, None),
            };
            let value = match option {
                "--index-url" | "-i" | "--extra-index-url" => {
                    inline.map(str::to_string).or_else(|| words.next().map(str::to_string))
                }
                _ => None,
            };
            let Some(value) = value else { continue };
            if option == "--extra-index-url" {
                add_pypi_extra(&value, into);
            } else {
                set_pypi_index(&value, into);
            }
        }
    }
}

/// Applies `[[tool.uv.index]]`, `[tool.uv.sources]` and `[[tool.poetry.source]]` of a pyproject.toml.
pub fn parse_pyproject_indexes(text: &str, into: &mut PrivateRegistries) -> Result<(), String> {
    let doc: toml::Table = text.parse().map_err(|err| format!("{err}"))?;
    let tool = doc.get("tool");
    if let Some(indexes) = tool
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("index"))
        .and_then(|i| i.as_array())
    {
        for index in indexes {
            let Some(url) = index.get("url").and_then(|u| u.as_str()) else {
                continue;
            };
            let url = trimmed(&strip_userinfo(url, &mut into.credentials));
            if let Some(name) = index.get("name").and_then(|n| n.as_str()) {
                into.pypi_named.insert(name.to_string(), url.clone());
            }
            if index.get("default").and_then(|d| d.as_bool()) == Some(true) {
                into.pypi_index = (!is_public(&url)).then_some(url);
            } else if index.get("explicit").and_then(|e| e.as_bool()) != Some(true) {
                add_pypi_extra(&url, into);
            }
        }
    }
    if let Some(sources) = tool
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("sources"))
        .and_then(|s| s.as_table())
    {
        for (package, source) in sources {
            if let Some(index) = source.get("index").and_then(|i| i.as_str())
                && let Some(url) = into.pypi_named.get(index).cloned()
            {
                into.pypi_pinned.insert(Ecosystem::PyPI.normalize_name(package), url);
            }
        }
    }
    if let Some(sources) = tool
        .and_then(|t| t.get("poetry"))
        .and_then(|p| p.get("source"))
        .and_then(|s| s.as_array())
    {
        for source in sources {
            let Some(url) = source.get("url").and_then(|u| u.as_str()) else {
                continue;
            };
            let url = trimmed(&strip_userinfo(url, &mut into.credentials));
            if let Some(name) = source.get("name").and_then(|n| n.as_str()) {
                into.pypi_named.insert(name.to_string(), url.clone());
            }
            let priority = source.get("priority").and_then(|p| p.as_str());
            let legacy_default = source.get("default").and_then(|d| d.as_bool()) == Some(true);
            match priority {
                Some("primary") | Some("default") => into.pypi_index = (!is_public(&url)).then_some(url),
                None if legacy_default => into.pypi_index = (!is_public(&url)).then_some(url),
                Some("explicit") => {}
                _ => add_pypi_extra(&url, into),
            }
        }
    }
    Ok(())
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
}

/// Reads every registry configuration that applies to `project_dir`: user then project `.npmrc`, then
/// `NPM_CONFIG_REGISTRY`; `$CARGO_HOME/config.toml`, then `.cargo/config.toml` from the outermost
/// ancestor inwards, then `credentials.toml` and `CARGO_REGISTRIES_<NAME>_TOKEN`; pip.conf, `PIP_INDEX_URL`,
/// `PIP_EXTRA_INDEX_URL`, then the project's `requirements*.txt` and `pyproject.toml`.
pub fn load_from_disk(project_dir: &Path) -> PrivateRegistries {
    let mut res = PrivateRegistries::default();
    let env = |name: &str| std::env::var(name).ok();
    let home = home();
    if let Some(home) = &home
        && let Some(text) = read(&home.join(".npmrc"))
    {
        parse_npmrc(&text, &env, &mut res);
    }
    if let Some(text) = read(&project_dir.join(".npmrc")) {
        parse_npmrc(&text, &env, &mut res);
    }
    if let Some(registry) = env("NPM_CONFIG_REGISTRY").or_else(|| env("npm_config_registry")) {
        parse_npmrc(&format!("registry={registry}"), &env, &mut res);
    }

    let cargo_home = env("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".cargo")));
    if let Some(cargo_home) = &cargo_home
        && let Some(text) = read(&cargo_home.join("config.toml")).or_else(|| read(&cargo_home.join("config")))
    {
        let _ = parse_cargo_config(&text, &mut res);
    }
    let mut ancestors: Vec<&Path> = project_dir.ancestors().collect();
    ancestors.reverse();
    for dir in ancestors {
        let cargo_dir = dir.join(".cargo");
        if Some(&cargo_dir) == cargo_home.as_ref() {
            continue;
        }
        if let Some(text) = read(&cargo_dir.join("config.toml")).or_else(|| read(&cargo_dir.join("config"))) {
            let _ = parse_cargo_config(&text, &mut res);
        }
    }
    if let Some(cargo_home) = &cargo_home
        && let Some(text) = read(&cargo_home.join("credentials.toml"))
    {
        let _ = parse_cargo_credentials(&text, &mut res);
    }
    let registries: Vec<(String, String)> = res
        .cargo_registries
        .iter()
        .map(|(n, u)| (n.clone(), u.clone()))
        .collect();
    for (name, index) in registries {
        let var = format!("CARGO_REGISTRIES_{}_TOKEN", name.to_ascii_uppercase().replace('-', "_"));
        if let Some(token) = env(&var) {
            res.credentials
                .insert(index.strip_prefix("sparse+").unwrap_or(&index), &token);
        }
    }

    let mut pip_confs = Vec::new();
    if let Some(home) = &home {
        pip_confs.push(home.join(".pip/pip.conf"));
        let config = env("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".config"));
        pip_confs.push(config.join("pip/pip.conf"));
    }
    if let Some(path) = env("PIP_CONFIG_FILE") {
        pip_confs.push(PathBuf::from(path));
    }
    for path in pip_confs {
        if let Some(text) = read(&path) {
            parse_pip_conf(&text, &mut res);
        }
    }
    if let Some(url) = env("PIP_INDEX_URL") {
        set_pypi_index(&url, &mut res);
    }
    if let Some(urls) = env("PIP_EXTRA_INDEX_URL") {
        for url in urls.split_whitespace() {
            add_pypi_extra(url, &mut res);
        }
    }
    if let Ok(entries) = std::fs::read_dir(project_dir) {
        let mut names: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("requirements") && n.ends_with(".txt"))
            })
            .collect();
        names.sort();
        for path in names {
            if let Some(text) = read(&path) {
                parse_requirements_options(&text, &mut res);
            }
        }
    }
    if let Some(text) = read(&project_dir.join("pyproject.toml")) {
        let _ = parse_pyproject_indexes(&text, &mut res);
    }
    res
}

#[cfg(test)]
mod config_tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn npmrc_scopes_default_and_tokens() {
        let mut config = PrivateRegistries::default();
        let env = |name: &str| (name == "NPM_TOKEN").then(|| "tok123".to_string());
        parse_npmrc(
            "; user\nregistry=https://registry.npmjs.org/\n@corp:registry=https://npm.corp.example/repo/\n//npm.corp.example/repo/:_authToken=${NPM_TOKEN}\n",
            &env,
            &mut config,
        );
        assert_eq!(config.npm_default, None);
        let corp = PackageRef::new(Ecosystem::Npm, "@corp/widgets");
        assert_eq!(
            config.source_for(&corp, None),
            RegistrySource::Private {
                url: "https://npm.corp.example/repo".into()
            }
        );
        assert_eq!(
            config.source_for(&PackageRef::new(Ecosystem::Npm, "react"), None),
            RegistrySource::Public
        );
        let url = reqwest::Url::parse("https://npm.corp.example/repo/@corp%2fwidgets").unwrap();
        assert_eq!(config.credentials.for_url(&url), Some("Bearer tok123"));
        let public = reqwest::Url::parse("https://registry.npmjs.org/react").unwrap();
        assert_eq!(config.credentials.for_url(&public), None);
        parse_npmrc(
            "registry=https://artifactory.corp.example/api/npm/npm/",
            &no_env,
            &mut config,
        );
        assert!(matches!(
            config.source_for(&PackageRef::new(Ecosystem::Npm, "react"), None),
            RegistrySource::Private { .. }
        ));
    }

    #[test]
    fn cargo_registries_and_source_replacement() {
        let mut config = PrivateRegistries::default();
        parse_cargo_config(
            r#"
[registries.my-registry]
index = "sparse+https://cargo.corp.example/index/"
[source.crates-io]
replace-with = "vendored"
[source.vendored]
directory = "vendor"
"#,
            &mut config,
        )
        .unwrap();
        parse_cargo_credentials("[registries.my-registry]\ntoken = \"cargo-token\"\n", &mut config).unwrap();
        let serde = PackageRef::new(Ecosystem::CratesIo, "serde");
        assert_eq!(
            config.source_for(&serde, Some("my-registry")),
            RegistrySource::Private {
                url: "sparse+https://cargo.corp.example/index".into()
            }
        );
        assert_eq!(
            config.source_for(&serde, None),
            RegistrySource::Private {
                url: "file://vendor".into()
            }
        );
        assert!(matches!(
            config.source_for(&serde, Some("nope")),
            RegistrySource::Private { .. }
        ));
        let url = reqwest::Url::parse("https://cargo.corp.example/index/se/rd/serde").unwrap();
        assert_eq!(config.credentials.for_url(&url), Some("cargo-token"));
        let mut plain = PrivateRegistries::default();
        parse_cargo_config("[source.crates-io]\nreplace-with = \"mirror\"\n[source.mirror]\nregistry = \"sparse+https://index.crates.io/\"\n", &mut plain).unwrap();
        assert_eq!(plain.source_for(&serde, None), RegistrySource::Public);
    }

    #[test]
    fn pip_index_urls_from_requirements_conf_and_pyproject() {
        let mut config = PrivateRegistries::default();
        parse_requirements_options(
            "--index-url https://user:p%40ss@pypi.corp.example/simple/\n--extra-index-url=https://extra.example/simple\nrequests==2.31.0\n",
            &mut config,
        );
        assert_eq!(config.pypi_index.as_deref(), Some("https://pypi.corp.example/simple"));
        assert_eq!(config.pypi_extra_indexes, ["https://extra.example/simple"]);
        let url = reqwest::Url::parse("https://pypi.corp.example/simple/requests/").unwrap();
        assert!(config.credentials.for_url(&url).unwrap().starts_with("Basic "));
        let mut conf = PrivateRegistries::default();
        parse_pip_conf(
            "[global]\nindex-url = https://pypi.org/simple\nextra-index-url =\n    https://a.example/simple\n    https://b.example/simple\n",
            &mut conf,
        );
        assert_eq!(conf.pypi_index, None);
        assert_eq!(conf.pypi_extra_indexes.len(), 2);
        let mut uv = PrivateRegistries::default();
        parse_pyproject_indexes(
            r#"
[[tool.uv.index]]
name = "internal"
url = "https://uv.corp.example/simple"
explicit = true
[tool.uv.sources]
Corp_Lib = { index = "internal" }
[[tool.poetry.source]]
name = "corp"
url = "https://poetry.corp.example/simple/"
priority = "primary"
"#,
            &mut uv,
        )
        .unwrap();
        assert_eq!(
            uv.source_for(&PackageRef::new(Ecosystem::PyPI, "corp-lib"), None),
            RegistrySource::Private {
                url: "https://uv.corp.example/simple".into()
            }
        );
        assert_eq!(
            uv.source_for(&PackageRef::new(Ecosystem::PyPI, "requests"), None),
            RegistrySource::Private {
                url: "https://poetry.corp.example/simple".into()
            }
        );
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;
    use crate::lookup::http::{HostCredentials, HttpSettings};
    use crate::testing::{FixtureServer, registry_fixtures};

    pub(crate) fn settings_for(server: &FixtureServer) -> LookupSettings {
        LookupSettings {
            npm_registry: format!("{}/npm", server.url()),
            crates_index: format!("sparse+{}/crates/", server.url()),
            pypi_url: format!("{}/pypi", server.url()),
            ..LookupSettings::default()
        }
    }

    fn clients(server: &FixtureServer, credentials: HostCredentials) -> RegistryClients {
        let http = Arc::new(HttpClient::new(HttpSettings::default(), credentials).unwrap());
        RegistryClients::new(&settings_for(server), http)
    }

    #[tokio::test]
    async fn each_ecosystem_from_the_fixture_server() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        let clients = clients(&server, HostCredentials::default());
        let public = RegistrySource::Public;
        let npm = clients
            .package(&PackageRef::new(Ecosystem::Npm, "minimist"), &public)
            .await
            .unwrap();
        assert!(npm.value.version("1.2.5").is_some());
        let tokio_facts = clients
            .package(&PackageRef::new(Ecosystem::CratesIo, "tokio"), &public)
            .await
            .unwrap();
        assert_eq!(tokio_facts.value.versions.iter().filter(|v| v.yanked).count(), 6);
        let requests = clients
            .package(&PackageRef::new(Ecosystem::PyPI, "Requests"), &public)
            .await
            .unwrap();
        assert!(requests.value.version("2.32.0").unwrap().yanked);
        let missing = clients.package(&PackageRef::new(Ecosystem::PyPI, "ctx"), &public).await;
        assert!(matches!(missing, Err(LookupError::NotFound(_))), "{missing:?}");
        let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
        assert!(paths.contains(&"/npm/minimist".to_string()), "{paths:?}");
        assert!(paths.contains(&"/crates/to/ki/tokio".to_string()), "{paths:?}");
        assert!(paths.contains(&"/pypi/simple/requests/".to_string()), "{paths:?}");
        let simple = server
            .requests()
            .into_iter()
            .find(|r| r.path == "/pypi/simple/requests/")
            .unwrap();
        assert_eq!(simple.header("accept"), Some(crate::lookup::registry::pypi::SIMPLE_ACCEPT));
    }

    #[tokio::test]
    async fn a_private_index_that_serves_only_html_is_read() {
        let public = FixtureServer::start(registry_fixtures()).unwrap();
        let private = FixtureServer::start(registry_fixtures()).unwrap();
        let page = std::fs::read(registry_fixtures().join("pypi/html/requests.html")).unwrap();
        private.set_body("/corp/simple/requests/", page);
        let clients = clients(&public, HostCredentials::default());
        let source = RegistrySource::Private {
            url: format!("{}/corp/simple", private.url()),
        };
        let facts = clients
            .package(&PackageRef::new(Ecosystem::PyPI, "requests"), &source)
            .await
            .unwrap();
        assert!(facts.value.version("2.32.0").unwrap().yanked);
        assert!(
            facts
                .value
                .version("2.31.0")
                .is_some_and(|v| !v.yanked && v.published.is_none())
        );
        assert_eq!(private.request_count(), 1);
        assert_eq!(public.request_count(), 0);
    }

    #[tokio::test]
    async fn private_registry_gets_the_package_and_its_credentials_public_gets_neither() {
        let public = FixtureServer::start(registry_fixtures()).unwrap();
        let private = FixtureServer::start(registry_fixtures()).unwrap();
        let mut credentials = HostCredentials::default();
        credentials.insert(&private.url(), "Bearer s3cret");
        let clients = clients(&public, credentials);
        let source = RegistrySource::Private {
            url: format!("{}/npm/", private.url()),
        };
        let facts = clients
            .package(&PackageRef::new(Ecosystem::Npm, "circular-json"), &source)
            .await
            .unwrap();
        assert!(!facts.value.versions.is_empty());
        clients
            .package(&PackageRef::new(Ecosystem::Npm, "lodash"), &RegistrySource::Public)
            .await
            .unwrap();
        let on_private = private.requests();
        assert_eq!(on_private.len(), 1);
        assert_eq!(on_private[0].path, "/npm/circular-json");
        assert_eq!(on_private[0].header("authorization"), Some("Bearer s3cret"));
        for request in public.requests() {
            assert!(!request.path.contains("circular-json"), "{request:?}");
            assert!(request.header("authorization").is_none(), "{request:?}");
        }
    }

    #[tokio::test]
    async fn unresolvable_private_sources_are_never_fetched() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        let clients = clients(&server, HostCredentials::default());
        for url in ["file://vendor", "unknown-registry:corp"] {
            let source = RegistrySource::Private { url: url.into() };
            let answer = clients
                .package(&PackageRef::new(Ecosystem::CratesIo, "serde"), &source)
                .await;
            assert!(matches!(answer, Err(LookupError::Other(_))), "{answer:?}");
        }
        assert_eq!(server.request_count(), 0);
    }

    #[tokio::test]
    async fn abbreviated_packuments_are_asked_for_with_their_accept_header() {
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        let http = Arc::new(HttpClient::new(HttpSettings::default(), HostCredentials::default()).unwrap());
        let npm = NpmClient::new(http, &format!("{}/npm", server.url()))
            .with_form(crate::lookup::registry::npm::PackumentForm::Abbreviated);
        let facts = npm
            .package(&PackageRef::new(Ecosystem::Npm, "request"), &RegistrySource::Public)
            .await
            .unwrap();
        assert!(facts.value.versions.iter().all(|v| v.deprecated.is_some()));
        assert_eq!(
            server.requests()[0].header("accept"),
            Some(crate::lookup::registry::npm::ABBREVIATED_ACCEPT)
        );
    }
}
