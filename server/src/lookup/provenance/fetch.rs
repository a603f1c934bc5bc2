//! Fetching attestations (npm `dist.attestations.url`, the PEP 740 provenance URL) through the hardened
//! client and verifying them in `spawn_blocking`.

use std::sync::Arc;

use async_trait::async_trait;

use super::*;
use crate::lookup::http::{HttpAnswer, HttpClient, HttpRequest};
use crate::lookup::{Attestations, Fetched, LookupError};
use crate::model::{Ecosystem, PackageFacts, PackageRef, Provenance, RegistrySource, VersionFacts};

/// Real attestations answers are a few tens of kilobytes; anything far larger is refused unread.
const MAX_ATTESTATIONS_BYTES: usize = 4 * 1024 * 1024;

/// Fetches attestations (npm `dist.attestations.url`, PEP 740 provenance URL) through the shared
/// hardened client (retries, breaker, per-host limits, a size cap that holds without `Content-Length`)
/// and verifies them off the async runtime. It keeps nothing: `cache::CachedAttestations` (memory and
/// the shared store) is the one provenance cache, and coalesces concurrent asks for one version.
pub struct AttestationClient {
    http: Arc<HttpClient>,
    root: Arc<TrustRoot>,
    keys: Arc<NpmKeys>,
}

impl AttestationClient {
    pub fn new(http: Arc<HttpClient>, root: TrustRoot, keys: NpmKeys) -> AttestationClient {
        AttestationClient {
            http,
            root: Arc::new(root),
            keys: Arc::new(keys),
        }
    }

    /// With the root from `settings.trusted_root` (else the bundled one) and the bundled npm keys.
    pub fn from_settings(
        http: Arc<HttpClient>,
        settings: &crate::lookup::LookupSettings,
    ) -> Result<AttestationClient, String> {
        let root = TrustRoot::load(settings.trusted_root.as_deref())?;
        Ok(AttestationClient::new(http, root, NpmKeys::bundled()?))
    }

    async fn fetch(&self, url: &str) -> Result<Option<Vec<u8>>, LookupError> {
        let started = std::time::Instant::now();
        let request = HttpRequest::get_json(url).with_max_body(MAX_ATTESTATIONS_BYTES);
        match self.http.get(&request).await? {
            HttpAnswer::Body { body, .. } => {
                tracing::debug!(
                    url = crate::lookup::http::redact(url),
                    bytes = body.len(),
                    ms = started.elapsed().as_millis() as u64,
                    tier = "network",
                    "attestations"
                );
                Ok(Some(body))
            }
            HttpAnswer::NotFound => {
                tracing::debug!(url = crate::lookup::http::redact(url), status = 404, "no attestations");
                Ok(None)
            }
            HttpAnswer::NotModified { .. } => Err(LookupError::Decode {
                host: crate::lookup::http::redact(url),
                message: "answered 304 to a request without validators".to_string(),
            }),
        }
    }
}

#[async_trait]
impl Attestations for AttestationClient {
    async fn provenance(
        &self,
        package: &PackageRef,
        version: &str,
        _source: &RegistrySource,
        facts: &PackageFacts,
    ) -> Result<Fetched<Provenance>, LookupError> {
        let Some(version_facts) = facts.version(version) else {
            return Err(LookupError::NotFound(format!("{}@{version}", package.name)));
        };
        let digest = match package.ecosystem {
            Ecosystem::Npm => version_facts.digests.iter().find(|d| d.starts_with("sha512-")),
            _ => version_facts.digests.iter().find(|d| d.starts_with("sha256:")),
        };
        let Some(digest) = digest.map(|digest| digest.to_string()) else {
            return Ok(Fetched::fresh(Provenance::Unknown {
                reason: "the registry states no digest to verify against".to_string(),
            }));
        };
        Ok(Fetched::fresh(self.verify(package, version_facts, digest).await?))
    }
}

impl AttestationClient {
    async fn verify(
        &self,
        package: &PackageRef,
        version_facts: &VersionFacts,
        digest: String,
    ) -> Result<Provenance, LookupError> {
        let body = match &version_facts.detail.attestations_url {
            Some(url) => self.fetch(url).await?,
            None => None,
        };
        let root = Arc::clone(&self.root);
        let keys = Arc::clone(&self.keys);
        let name = package.name.clone();
        let version = version_facts.version.to_string();
        let signatures = version_facts.detail.signatures.clone();
        let published = version_facts.published();
        let url = version_facts.detail.attestations_url.clone();
        let ecosystem = package.ecosystem;
        let other_digests: Vec<String> = version_facts
            .digests
            .iter()
            .filter(|d| d.starts_with("sha256:"))
            .map(|d| d.to_string())
            .filter(|d| *d != digest)
            .collect();
        tokio::task::spawn_blocking(move || match ecosystem {
            Ecosystem::Npm => {
                if !signatures.is_empty() {
                    match check_registry_signatures(&name, &version, &digest, &signatures, &keys, published) {
                        Ok(()) => {}
                        Err(SignatureProblem::Invalid(step)) => return Provenance::Invalid { step },
                        // Not proof of tampering: the attestations below still decide.
                        Err(SignatureProblem::Unverifiable(reason)) => {
                            tracing::debug!(package = name, version, reason, "registry signatures not checkable");
                        }
                    }
                }
                match body {
                    Some(body) => verify_npm_attestations(&body, &name, &version, &digest, &root, &keys),
                    None => Provenance::Absent,
                }
            }
            _ => match body {
                Some(body) => {
                    // One version has several files; the provenance belongs to one of them.
                    let filename = url.as_deref().and_then(pep740_filename);
                    let mut first = None;
                    for candidate in std::iter::once(&digest).chain(other_digests.iter()) {
                        let answer = verify_pep740_provenance(&body, filename.as_deref(), candidate, &root);
                        if matches!(answer, Provenance::Verified(_)) {
                            return answer;
                        }
                        first.get_or_insert(answer);
                    }
                    first.unwrap_or(Provenance::Absent)
                }
                None => Provenance::Absent,
            },
        })
        .await
        .map_err(|err| LookupError::Other(format!("provenance verification stopped: {err}")))
    }
}
