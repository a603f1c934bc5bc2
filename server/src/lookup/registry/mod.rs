//! The registry clients, one file per registry protocol (PyPI's PEP 503 HTML form in `pypi_html`), and
//! the dispatch by ecosystem.
//!
//! Invariants:
//! - `RegistryClients` dispatches on `PackageRef::ecosystem` only; it adds no policy.
//! - Every client fetches through the one hardened `http::HttpClient`; wire structs stay private to
//!   each client file, which answers in `model` types (`PackageFacts`).
//! - A client asks exactly the registry and the package it is given (`RegistrySource`); which
//!   registry a package belongs to is `private`'s business, whether it may be asked is `engine::needs`'.
//! - Never: file IO, caching (that is `cache`), or reading the environment.

pub mod crates_io;
pub mod npm;
pub mod pypi;
mod pypi_html;

use std::sync::Arc;

use async_trait::async_trait;

use crate::lookup::http::HttpClient;
use crate::lookup::registry::crates_io::CratesIndexClient;
use crate::lookup::registry::npm::NpmClient;
use crate::lookup::registry::pypi::PypiClient;
use crate::lookup::{ConditionalRegistry, LookupError, LookupSettings, Registry, Revalidated, Validators};
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

/// The registry side of `Lookup` for these settings: the three clients over `http` (the one shared
/// client, carrying the private registries' credentials, each for its own origin only), cached over
/// `store` (`Arc::new(Store::open(&settings.cache_dir))`, shared with the advisory and provenance caches).
pub fn cached_registries(
    settings: &LookupSettings,
    http: Arc<HttpClient>,
    store: Arc<crate::lookup::cache::store::Store>,
) -> crate::lookup::cache::CachedRegistry<RegistryClients> {
    crate::lookup::cache::CachedRegistry::new(
        Arc::new(RegistryClients::new(settings, http)),
        store,
        crate::lookup::cache::CacheSettings::from_lookup(settings),
    )
}

#[async_trait]
impl ConditionalRegistry for RegistryClients {
    async fn conditional_package(
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
        assert_eq!(tokio_facts.value.versions.iter().filter(|v| v.yanked()).count(), 6);
        let requests = clients
            .package(&PackageRef::new(Ecosystem::PyPI, "Requests"), &public)
            .await
            .unwrap();
        assert!(requests.value.version("2.32.0").unwrap().yanked());
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
        assert_eq!(
            simple.header("accept"),
            Some(crate::lookup::registry::pypi::SIMPLE_ACCEPT)
        );
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
        assert!(facts.value.version("2.32.0").unwrap().yanked());
        assert!(
            facts
                .value
                .version("2.31.0")
                .is_some_and(|v| !v.yanked() && v.published().is_none())
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
        assert!(facts.value.versions.iter().all(|v| v.detail.deprecated.is_some()));
        assert_eq!(
            server.requests()[0].header("accept"),
            Some(crate::lookup::registry::npm::ABBREVIATED_ACCEPT)
        );
    }
}
