//! Where a package is fetched from, and with which credential: the private-registry configuration
//! of a project (`.npmrc`, pnpm's `pnpm-workspace.yaml`, Yarn's `.yarnrc.yml` / `.yarnrc`, Bun's
//! `bunfig.toml`, Cargo config and
//! credentials, pip / uv / Poetry indexes) resolved to a `RegistrySource` per package.
//!
//! Invariants:
//! - Parsing is pure (text in, `PrivateRegistries` out): `npmrc`, `pnpm`, `yarn_bun`, `cargo_config`, `pip`. Reading files
//!   and the environment happens in `discover` only.
//! - A credential is bound to the origin it was configured for (`HostCredentials`); it never travels to
//!   another host.
//! - The repository being checked is untrusted input: its files are read inside the workspace only,
//!   never expand the user's environment (unless the user trusts the project), never re-aim a user's
//!   credential at a host the user's own files do not name, and never replace the user's credential
//!   for a host the user configured (`discover`, `npmrc`, `cargo_config`).
//! - A package pinned to a registry this code does not know is still private (`unknown-registry:…`):
//!   an unknown name never falls back to the public registry.
//! - A public registry under any spelling (`is_public`: port, case, trailing dot or slash, `sparse+`) is
//!   public: naming it never makes a package private.
//! - Only the project files its package manager reads apply (`ProjectRegistryFiles::decide`), and each
//!   registry URL only a project file names is recorded with that file (`project_named`).
//! - Never: network access, or deciding whether a name may leave the machine (`engine::needs`).

mod cargo_config;
mod discover;
mod npmrc;
mod pip;
mod pnpm;
mod yarn_bun;

pub use cargo_config::{UserToken, bind_user_tokens, parse_cargo_config, parse_cargo_credentials};
pub use discover::{ConfigFileProblem, Discovery, PROJECT_FILES, ProjectTrust, load_from_disk};
pub use npmrc::{Expansion, parse_npmrc};
pub use pip::{parse_pip_conf, parse_pyproject_indexes, parse_requirements_options};
pub use pnpm::parse_pnpm_workspace;
pub use yarn_bun::{Secrets, parse_bunfig, parse_yarnrc, parse_yarnrc_yml};

use std::collections::BTreeMap;

use crate::lookup::http::HostCredentials;
use crate::model::{Ecosystem, PackageRef, RegistrySource};

/// The client that installs an npm project, as far as its registry settings files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpmClient {
    Npm,
    Pnpm,
    Bun,
    YarnClassic,
    /// Yarn 2+: registries come from `.yarnrc.yml` (`npmRegistryServer`, `npmScopes`); `.npmrc` is ignored.
    YarnBerry,
}

impl NpmClient {
    /// The client of a project whose deciding lockfile is `lockfile` (`yarn_berry`: a yarn.lock with
    /// `__metadata`), with or without a `.yarnrc.yml` around it. Without a lockfile, a `.yarnrc.yml`
    /// means Yarn 2+, `pnpm` (the install root's `packageManager` names pnpm, or it holds a
    /// `pnpm-workspace.yaml` and `packageManager` names no other client) pnpm, and anything else npm.
    pub fn detect(
        lockfile: Option<crate::model::ManifestKind>,
        yarn_berry: bool,
        yarnrc_yml: bool,
        pnpm: bool,
    ) -> NpmClient {
        use crate::model::ManifestKind;
        match lockfile {
            Some(ManifestKind::PackageLock) => NpmClient::Npm,
            Some(ManifestKind::PnpmLock) => NpmClient::Pnpm,
            Some(ManifestKind::BunLock | ManifestKind::BunLockb) => NpmClient::Bun,
            Some(ManifestKind::YarnLock) if yarn_berry || yarnrc_yml => NpmClient::YarnBerry,
            Some(ManifestKind::YarnLock) => NpmClient::YarnClassic,
            _ if yarnrc_yml => NpmClient::YarnBerry,
            _ if pnpm => NpmClient::Pnpm,
            _ => NpmClient::Npm,
        }
    }
}

/// Which of a project's own registry settings files its package manager reads: the one place that
/// decides it, so a file the installer ignores never changes where a package comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProjectRegistryFiles {
    /// The project `.npmrc` read after the user's: the install root's (npm, pnpm, Bun and Yarn 1 read
    /// the project root's, which for a workspace is the root's, never a member folder's); none for
    /// Yarn 2+, which ignores `.npmrc`.
    pub npmrc: Option<std::path::PathBuf>,
    /// Yarn 2+: the install root, whose `.yarnrc.yml` and those of every folder above it (inside the
    /// workspace, outermost first) apply, after the user's `~/.yarnrc.yml`.
    pub yarnrc_yml_from: Option<std::path::PathBuf>,
    /// Yarn 1: the install root's `.yarnrc`, read after `.npmrc` (and after the user's `~/.yarnrc`).
    pub yarnrc: Option<std::path::PathBuf>,
    /// Bun: the install root's `bunfig.toml`, read after `.npmrc` (and after the user's
    /// `$XDG_CONFIG_HOME/.bunfig.toml` or `~/.bunfig.toml`).
    pub bunfig: Option<std::path::PathBuf>,
    /// pnpm: the install root's `pnpm-workspace.yaml` (`registry`, `registries`), read after `.npmrc`.
    pub pnpm_workspace: Option<std::path::PathBuf>,
}

impl ProjectRegistryFiles {
    /// For a manifest in `manifest_dir` installed from `install_root` (the folder of the lockfile that
    /// decides its versions; the manifest's own folder without one) by `client`.
    pub fn decide(client: NpmClient, manifest_dir: &std::path::Path, install_root: Option<&std::path::Path>) -> Self {
        let root = install_root.unwrap_or(manifest_dir);
        ProjectRegistryFiles {
            npmrc: (client != NpmClient::YarnBerry).then(|| root.join(".npmrc")),
            yarnrc_yml_from: (client == NpmClient::YarnBerry).then(|| root.to_path_buf()),
            yarnrc: (client == NpmClient::YarnClassic).then(|| root.join(".yarnrc")),
            bunfig: (client == NpmClient::Bun).then(|| root.join("bunfig.toml")),
            pnpm_workspace: (client == NpmClient::Pnpm).then(|| root.join("pnpm-workspace.yaml")),
        }
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
    /// Registry URLs first named by a project file rather than the user's own settings, with that
    /// file (`discover` records them): the composition roots hand them on unless the project is trusted.
    pub project_named: BTreeMap<String, String>,
    /// The default registries the user's own files and environment give, before any project file
    /// (`discover` records them): what a package uses when an untrusted project's default is set aside.
    pub users_own: OwnDefaults,
}

/// The default registries of the user's own settings (`None`: the public registry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnDefaults {
    pub npm: Option<String>,
    pub cargo_replacement: Option<String>,
    pub pypi_index: Option<String>,
}

/// The public registries, as (host, path) after `canonical_registry_url`.
const PUBLIC_REGISTRIES: [(&str, &str); 6] = [
    ("registry.npmjs.org", ""),
    ("registry.yarnpkg.com", ""),
    ("index.crates.io", ""),
    ("github.com", "/rust-lang/crates.io-index"),
    ("pypi.org", "/simple"),
    ("pypi.python.org", "/simple"),
];

fn trimmed(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// A registry URL as (host, path) the way every client spelling of it reaches the same place: the
/// `sparse+` / `registry+` / `git+` prefixes dropped, scheme and host case-insensitive (http and https
/// alike), the default port, a trailing dot on the host, user info, repeated and trailing slashes and
/// a `.git` suffix removed. `None` for what is not an http(s) or git URL, or carries a query.
fn canonical_registry_url(url: &str) -> Option<(String, String)> {
    let mut text = url.trim();
    for prefix in ["sparse+", "registry+", "git+"] {
        if text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix) {
            text = &text[prefix.len()..];
        }
    }
    let parsed = reqwest::Url::parse(text).ok()?;
    let default_port = match parsed.scheme() {
        "https" => 443,
        "http" => 80,
        "git" => 9418,
        "ssh" => 22,
        _ => return None,
    };
    if parsed.port().is_some_and(|port| port != default_port) || parsed.query().is_some_and(|q| !q.is_empty()) {
        return None;
    }
    let host = parsed.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let mut path = String::new();
    for segment in parsed.path().split('/').filter(|s| !s.is_empty()) {
        path.push('/');
        path.push_str(segment);
    }
    let path = path.strip_suffix(".git").map(str::to_string).unwrap_or(path);
    Some((host, path))
}

/// Whether `url` names a public registry, however it is spelled (`https://registry.npmjs.org:443/`,
/// `sparse+https://INDEX.crates.io./`, `https://pypi.org/simple/`): a public registry under another
/// spelling is still public, so naming it never makes a package private.
pub fn is_public(url: &str) -> bool {
    canonical_registry_url(url).is_some_and(|(host, path)| {
        PUBLIC_REGISTRIES
            .iter()
            .any(|(public_host, public_path)| host == *public_host && path == *public_path)
    })
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

impl PrivateRegistries {
    /// Where `package` comes from. `registry` is the dependency's own registry name, when it has one
    /// (Cargo `registry = "…"`, Poetry `source = "…"`, uv `index = "…"`).
    pub fn source_for(&self, package: &PackageRef, registry: Option<&str>) -> RegistrySource {
        match self.configured_source(package, registry) {
            // A named registry or index whose URL is a public registry's, however spelled.
            RegistrySource::Private { url } if is_public(&url) => RegistrySource::Public,
            other => other,
        }
    }

    /// Every registry URL these settings name (what `is_public` is asked about when they are handed on).
    pub fn urls(&self) -> std::collections::BTreeSet<String> {
        let mut res = std::collections::BTreeSet::new();
        res.extend(self.npm_default.iter().cloned());
        res.extend(self.npm_scopes.values().cloned());
        res.extend(self.cargo_registries.values().cloned());
        res.extend(self.cargo_crates_io_replacement.iter().cloned());
        res.extend(self.pypi_index.iter().cloned());
        res.extend(self.pypi_named.values().cloned());
        res.extend(self.pypi_pinned.values().cloned());
        res
    }

    /// Applies one project file (`parse` over its text) and records each registry URL it names that
    /// the settings read before it did not, as named by `file`.
    pub(crate) fn apply_project_file<R>(&mut self, file: &std::path::Path, parse: impl FnOnce(&mut Self) -> R) -> R {
        let before = self.urls();
        let res = parse(self);
        for url in self.urls().difference(&before) {
            self.project_named
                .entry(url.clone())
                .or_insert_with(|| file.display().to_string());
        }
        res
    }

    fn configured_source(&self, package: &PackageRef, registry: Option<&str>) -> RegistrySource {
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

#[cfg(test)]
mod config_tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// Audit item 3: a public registry under another spelling (default port, case, trailing dot or
    /// slash, `sparse+`, `/simple` vs `/simple/`) is public, so naming it never makes a package private.
    #[test]
    fn public_registry_url_variants_are_public() {
        for url in [
            "https://registry.npmjs.org:443/",
            "HTTPS://Registry.NPMJS.org",
            "https://registry.npmjs.org./",
            "http://registry.npmjs.org:80",
            "https://user:secret@registry.npmjs.org//",
            "https://registry.yarnpkg.com/",
            "sparse+https://index.crates.io:443/",
            "sparse+https://INDEX.crates.io./",
            "registry+https://github.com/rust-lang/crates.io-index",
            "https://github.com/rust-lang/crates.io-index.git",
            "https://pypi.org:443/simple",
            "https://pypi.org/simple/",
            "https://PyPI.org//simple//",
            "https://pypi.python.org/simple/",
        ] {
            assert!(is_public(url), "{url} is a public registry");
        }
        for url in [
            "https://registry.npmjs.org.evil.example/",
            "https://registry.npmjs.org:8443/",
            "https://npm.corp.example/",
            "https://pypi.org/simple/private/",
            "https://index.crates.io/?x=1",
            "https://github.com/rust-lang/crates.io-index-fork",
            "unknown-registry:ci",
            "file://vendor",
        ] {
            assert!(!is_public(url), "{url} is not a public registry");
        }

        // The audit's three inputs: each names the public registry, so each package is public.
        let mut npm = PrivateRegistries::default();
        parse_npmrc(
            "@ctrl:registry=https://registry.npmjs.org:443/\n",
            Expansion::Env(&no_env),
            &mut npm,
        );
        let tinycolor = PackageRef::new(Ecosystem::Npm, "@ctrl/tinycolor");
        assert_eq!(npm.source_for(&tinycolor, None), RegistrySource::Public);

        let mut uv = PrivateRegistries::default();
        parse_pyproject_indexes(
            "[[tool.uv.index]]\nname = \"pypi2\"\nurl = \"https://pypi.org:443/simple\"\nexplicit = true\n[tool.uv.sources]\nevilpkg = { index = \"pypi2\" }\n",
            &mut uv,
        )
        .unwrap();
        let evilpkg = PackageRef::new(Ecosystem::PyPI, "evilpkg");
        assert_eq!(uv.source_for(&evilpkg, None), RegistrySource::Public);
        assert_eq!(uv.source_for(&evilpkg, Some("pypi2")), RegistrySource::Public);

        let mut cargo = PrivateRegistries::default();
        parse_cargo_config(
            "[registries.ci]\nindex = \"sparse+https://index.crates.io:443/\"\n",
            &mut cargo,
        )
        .unwrap();
        let serde = PackageRef::new(Ecosystem::CratesIo, "serde");
        assert_eq!(cargo.source_for(&serde, Some("ci")), RegistrySource::Public);
    }

    /// Binds `credentials.toml` tokens as the user's, with every registry of `config` the user's own.
    fn user_tokens(text: &str, config: &mut PrivateRegistries) {
        let tokens: Vec<UserToken> = parse_cargo_credentials(text)
            .unwrap()
            .into_iter()
            .map(|(registry, token)| UserToken {
                registry,
                token,
                source: "credentials.toml".into(),
            })
            .collect();
        let own = config.cargo_registries.clone();
        assert!(bind_user_tokens(&tokens, &own, false, config).is_empty());
    }

    #[test]
    fn npmrc_scopes_default_and_tokens() {
        let mut config = PrivateRegistries::default();
        let env = |name: &str| (name == "NPM_TOKEN").then(|| "tok123".to_string());
        parse_npmrc(
            "; user\nregistry=https://registry.npmjs.org/\n@corp:registry=https://npm.corp.example/repo/\n//npm.corp.example/repo/:_authToken=${NPM_TOKEN}\n",
            Expansion::Env(&env),
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
            Expansion::Env(&no_env),
            &mut config,
        );
        assert!(matches!(
            config.source_for(&PackageRef::new(Ecosystem::Npm, "react"), None),
            RegistrySource::Private { .. }
        ));
    }

    /// Issue 13: an Artifactory serving npm and PyPI (and two cargo registries) on one host under
    /// different paths. Each registry gets only its own credential, as npm (longest `//host/path/`
    /// prefix), pip (per index URL) and cargo (per registry) scope them.
    #[test]
    fn credentials_are_scoped_by_path_on_a_shared_host() {
        let mut config = PrivateRegistries::default();
        parse_npmrc(
            "@corp:registry=https://art.corp.example/api/npm/npm-local/\n//art.corp.example/api/npm/npm-local/:_authToken=NPMTOK\n//art.corp.example/:_authToken=HOSTWIDE\n",
            Expansion::Env(&no_env),
            &mut config,
        );
        parse_pip_conf(
            "[global]\nindex-url = https://alice:pypipass@art.corp.example/api/pypi/pypi-local/simple/\n",
            &mut config,
        );
        parse_cargo_config(
            "[registries.one]\nindex = \"sparse+https://art.corp.example/api/cargo/one/index/\"\n[registries.two]\nindex = \"sparse+https://art.corp.example/api/cargo/two/index/\"\n",
            &mut config,
        )
        .unwrap();
        user_tokens(
            "[registries.one]\ntoken = \"ONE\"\n[registries.two]\ntoken = \"TWO\"\n",
            &mut config,
        );
        let for_url = |url: &str| {
            config
                .credentials
                .for_url(&reqwest::Url::parse(url).unwrap())
                .map(str::to_string)
        };
        assert_eq!(
            for_url("https://art.corp.example/api/npm/npm-local/@corp%2fwidgets").as_deref(),
            Some("Bearer NPMTOK")
        );
        let pip = for_url("https://art.corp.example/api/pypi/pypi-local/simple/requests/").unwrap();
        assert!(pip.starts_with("Basic "), "{pip}");
        assert_eq!(
            for_url("https://art.corp.example/api/cargo/one/index/se/rd/serde").as_deref(),
            Some("ONE")
        );
        assert_eq!(
            for_url("https://art.corp.example/api/cargo/two/index/config.json").as_deref(),
            Some("TWO")
        );
        // Elsewhere on the host only the host-wide npm token applies (npm would send it there too).
        assert_eq!(
            for_url("https://art.corp.example/api/other/").as_deref(),
            Some("Bearer HOSTWIDE")
        );
        // A path that merely starts with the same letters is another registry.
        assert_eq!(
            for_url("https://art.corp.example/api/npm/npm-local-evil/x").as_deref(),
            Some("Bearer HOSTWIDE")
        );
        assert_eq!(for_url("https://elsewhere.example/api/npm/npm-local/x"), None);
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
        user_tokens("[registries.my-registry]\ntoken = \"cargo-token\"\n", &mut config);
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
