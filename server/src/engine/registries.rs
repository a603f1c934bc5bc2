//! Which registries a project uses and which names may leave the machine through them: the pure
//! privacy rules `needs` applies (a private registry's packages are asked of that registry only; a
//! mirror's names reach public hosts only with the user's permission).
//!
//! Invariants:
//! - A default registry (npm `registry=`, a Cargo `[source.crates-io]` replacement, pip's `index-url`)
//!   that only an untrusted project file names is never a data source (`set_aside_project_mirrors`):
//!   the repository being checked must not choose who answers "how old is this version". Its packages
//!   come from the registry the user's own settings give (the public one by default); what that
//!   registry cannot answer is `unavailable` with the file, the URL and how to trust the project.

use crate::model::{Ecosystem, PackageRef, RegistrySource};

/// Which registries a project uses, as read from `.npmrc`, `.cargo/config.toml`, pip and uv settings
/// (by `lookup::private`, converted by the composition roots).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryRules {
    /// npm `registry=` when it is not the public registry.
    pub npm_default: Option<String>,
    /// npm `@scope:registry=`: (`@scope`, url).
    pub npm_scopes: Vec<(String, String)>,
    /// Cargo `[registries.<name>] index`: (name, url).
    pub cargo_registries: Vec<(String, String)>,
    /// Cargo `[source.crates-io] replace-with` target URL.
    pub cargo_replacement: Option<String>,
    /// Cargo `[registry] default`.
    pub cargo_default_registry: Option<String>,
    /// pip `--index-url` / `PIP_INDEX_URL` / uv `default = true` / Poetry `primary`, when not PyPI.
    pub pypi_index: Option<String>,
    /// Named Python indexes (uv, Poetry): (name, url).
    pub pypi_named: Vec<(String, String)>,
    /// Packages pinned to an index (uv `[tool.uv.sources]`): (normalised name, url).
    pub pypi_pinned: Vec<(String, String)>,
    /// The default-registry mirror serves public packages only (`mirror-is-public`).
    pub mirror_is_public: bool,
    /// `private-packages`: globs of the company's own names behind a mirror.
    pub private_packages: Vec<String>,
    /// The URLs above that are a public registry under another spelling (`lookup::private::is_public`):
    /// a package sent there comes from the public registry.
    pub public_urls: Vec<String>,
    /// Private registry URLs that only the project's own (untrusted) files name, with the file that
    /// named each: (url, file). Empty when the user trusts the project. A package sent to one of them
    /// is not fully checked: Gatehouse cannot ask that registry for public data, and the user never
    /// said its packages are theirs.
    pub project_named: Vec<(String, String)>,
    /// Default registries an untrusted project file named and `set_aside_project_mirrors` did not use.
    pub set_aside: Vec<SetAside>,
}

/// A default registry (mirror) named only by a project file the user has not trusted, which is not
/// used as a data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAside {
    pub ecosystem: Ecosystem,
    pub url: String,
    /// The project file that named it.
    pub file: String,
    /// How the user trusts the project (a whole clause, from the composition root).
    pub how_to_trust: String,
}

impl SetAside {
    /// Why a package of this ecosystem has no registry data, appended to the registry's own reason.
    pub fn reason(&self) -> String {
        format!(
            "{} names {} as the registry, a project file you have not trusted, so Gatehouse asks the registry your own settings name instead and does not use that one ({})",
            self.file, self.url, self.how_to_trust
        )
    }
}

/// The default registries the user's own settings (and environment) give, before any project file:
/// what a package uses when the project's own default is set aside. `None` is the public registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserDefaults {
    pub npm: Option<String>,
    pub cargo_replacement: Option<String>,
    pub pypi_index: Option<String>,
}

/// How a package's name may travel, decided once per package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// From the public registry: asked of the public registry and OSV.
    Public,
    /// From a scoped or named private registry: asked of that registry only, and not checked.
    Private,
    /// From a default-registry mirror (Artifactory, Nexus, devpi…), which may also serve private
    /// names: registry facts from the mirror, advisories from local OSV copies only.
    MirrorLocal,
    /// From a mirror, with permission for this name to reach the public OSV API (`mirror-is-public`,
    /// or outside `private-packages`).
    MirrorPublic,
}

impl RegistryRules {
    /// Sets aside each default registry that only an untrusted project file names (`project_named`):
    /// the user's own default (`user`) takes its place, and the project's is recorded in `set_aside`
    /// so the packages the user's registry cannot answer for say which file named which registry.
    /// `how_to_trust` is the clause that tells the user how to trust the project.
    pub fn set_aside_project_mirrors(&mut self, user: &UserDefaults, how_to_trust: &str) {
        let project_named = self.project_named.clone();
        let named = |url: &str| {
            project_named
                .iter()
                .find(|(named, _)| named == url)
                .map(|(_, file)| file.clone())
        };
        let mut set_aside = Vec::new();
        for (ecosystem, current, users) in [
            (Ecosystem::Npm, &mut self.npm_default, &user.npm),
            (
                Ecosystem::CratesIo,
                &mut self.cargo_replacement,
                &user.cargo_replacement,
            ),
            (Ecosystem::PyPI, &mut self.pypi_index, &user.pypi_index),
        ] {
            let Some(url) = current.clone() else {
                continue;
            };
            // A local directory (`cargo vendor`) is where the code comes from, not a registry that
            // answers for it: it stays as it is (its registry checks cannot be done).
            if Some(&url) == users.as_ref() || url.starts_with("file:") {
                continue;
            }
            let Some(file) = named(&url) else {
                continue;
            };
            *current = users.clone();
            set_aside.push(SetAside {
                ecosystem,
                url,
                file,
                how_to_trust: how_to_trust.to_string(),
            });
        }
        self.set_aside.extend(set_aside);
    }

    /// The default registry of `ecosystem` an untrusted project named and `set_aside_project_mirrors`
    /// did not use.
    pub fn set_aside_for(&self, ecosystem: Ecosystem) -> Option<&SetAside> {
        self.set_aside.iter().find(|s| s.ecosystem == ecosystem)
    }

    /// Whether `package` from `source` (declared with `registry`) comes through a default-registry
    /// mirror, and whether its name may go to the public OSV API.
    pub fn privacy(&self, package: &PackageRef, registry: Option<&str>, source: &RegistrySource) -> Privacy {
        let RegistrySource::Private { url } = source else {
            return Privacy::Public;
        };
        let mirror = match package.ecosystem {
            Ecosystem::Npm => self.npm_default.as_ref(),
            Ecosystem::CratesIo => self.cargo_replacement.as_ref().filter(|_| {
                registry
                    .or(self.cargo_default_registry.as_deref())
                    .is_none_or(|r| r == "crates-io")
            }),
            Ecosystem::PyPI => self.pypi_index.as_ref().filter(|_| registry.is_none()),
        };
        if mirror != Some(url) {
            return Privacy::Private;
        }
        if self.mirror_is_public || (!self.private_packages.is_empty() && !self.is_private_name(package)) {
            Privacy::MirrorPublic
        } else {
            Privacy::MirrorLocal
        }
    }

    /// Why a package from `source` is not fully checked although its registry is private: the
    /// registry is the project's setting, not the user's (`project_named`), or a name no settings
    /// file defines. `None` for the public registry, a mirror, and a registry the user configured.
    pub fn untrusted_private(&self, source: &RegistrySource) -> Option<String> {
        let RegistrySource::Private { url } = source else {
            return None;
        };
        if let Some((_, file)) = self.project_named.iter().find(|(named, _)| named == url) {
            return Some(format!(
                "private registry {url} named by {file}, a project file you have not trusted: Gatehouse does not check a private registry's packages (name the registry in your own settings, or trust the project with `gatehouse trust`)"
            ));
        }
        ["unknown-registry:", "unknown-index:", "unknown-source:"]
            .iter()
            .any(|prefix| url.starts_with(prefix))
            .then(|| format!("{url}: a registry no settings file defines, so Gatehouse cannot ask it"))
    }

    /// Whether `package` matches a `private-packages` glob (`ecosystem:glob` or a bare glob). A glob
    /// that does not compile matches everything: a typo never lets names out.
    fn is_private_name(&self, package: &PackageRef) -> bool {
        self.private_packages.iter().any(|pattern| {
            let (ecosystem, glob) = match pattern.split_once(':') {
                Some((eco, glob)) if Ecosystem::from_osv_name(eco).is_some() || eco.eq_ignore_ascii_case("cargo") => {
                    let ecosystem = Ecosystem::from_osv_name(eco).unwrap_or(Ecosystem::CratesIo);
                    (Some(ecosystem), glob)
                }
                _ => (None, pattern.as_str()),
            };
            if ecosystem.is_some_and(|e| e != package.ecosystem) {
                return false;
            }
            let normalized = package.ecosystem.normalize_name(glob);
            match globset::Glob::new(&normalized) {
                Ok(glob) => glob.compile_matcher().is_match(&package.name),
                Err(_) => true,
            }
        })
    }

    /// Where a package comes from. `registry` is the dependency's own registry name, when it has one.
    /// An unknown registry name is still not the public registry: it is never asked of a public service.
    pub fn source_for(&self, package: &PackageRef, registry: Option<&str>) -> RegistrySource {
        match self.configured_source(package, registry) {
            RegistrySource::Private { url } if self.public_urls.contains(&url) => RegistrySource::Public,
            other => other,
        }
    }

    fn configured_source(&self, package: &PackageRef, registry: Option<&str>) -> RegistrySource {
        let private = |url: &String| RegistrySource::Private { url: url.clone() };
        let find = |list: &[(String, String)], key: &str| list.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        match package.ecosystem {
            Ecosystem::Npm => {
                if let Some((scope, _)) = package.name.split_once('/')
                    && let Some(url) = find(&self.npm_scopes, scope)
                {
                    return RegistrySource::Private { url };
                }
                self.npm_default.as_ref().map_or(RegistrySource::Public, private)
            }
            Ecosystem::CratesIo => {
                let named = registry.or(self.cargo_default_registry.as_deref());
                if let Some(name) = named.filter(|n| *n != "crates-io") {
                    return RegistrySource::Private {
                        url: find(&self.cargo_registries, name).unwrap_or_else(|| format!("unknown-registry:{name}")),
                    };
                }
                self.cargo_replacement.as_ref().map_or(RegistrySource::Public, private)
            }
            Ecosystem::PyPI => {
                if let Some(name) = registry {
                    return RegistrySource::Private {
                        url: find(&self.pypi_named, name).unwrap_or_else(|| format!("unknown-index:{name}")),
                    };
                }
                if let Some(url) = find(&self.pypi_pinned, &package.name) {
                    return RegistrySource::Private { url };
                }
                self.pypi_index.as_ref().map_or(RegistrySource::Public, private)
            }
        }
    }
}
