//! PyPI PEP 740 (index-hosted attestations): the provenance object, its bundles and the Trusted
//! Publisher identity checked against the certificate. Synchronous and IO-free.

use serde::Deserialize;
use sigstore_verify::VerificationPolicy;
use sigstore_verify::types::{Artifact, ArtifactDigest, HashAlgorithm};

use super::*;
use crate::model::{Provenance, ProvenanceIdentity};

// PyPI PEP 740 (index-hosted attestations).

#[derive(Deserialize)]
struct Pep740Provenance {
    attestation_bundles: Vec<Pep740Bundle>,
}

#[derive(Deserialize)]
struct Pep740Bundle {
    publisher: Pep740Publisher,
    attestations: Vec<serde_json::Value>,
}

/// A Trusted Publisher as PEP 740 names it (`kind` GitHub, GitLab, Google, …).
#[derive(Debug, Clone, Deserialize)]
pub struct Pep740Publisher {
    pub kind: String,
    #[serde(default)]
    pub repository: Option<String>,
    /// GitHub: workflow file name.
    #[serde(default)]
    pub workflow: Option<String>,
    /// GitLab: CI file path.
    #[serde(default)]
    pub workflow_filepath: Option<String>,
    /// Google: service account email.
    #[serde(default)]
    pub email: Option<String>,
}

/// Verifies a PEP 740 provenance object (the Integrity API's `/integrity/{project}/{version}/{file}/provenance`)
/// for the distribution `filename` (when known) with sha256 `sha256_hex`: each attestation's
/// certificate, Rekor entry and DSSE signature against the root, the statement's subject (name and
/// sha256), and the certificate identity against the Trusted Publisher the bundle names.
pub fn verify_pep740_provenance(json: &[u8], filename: Option<&str>, sha256_hex: &str, root: &TrustRoot) -> Provenance {
    let provenance: Pep740Provenance = match serde_json::from_slice(json) {
        Ok(provenance) => provenance,
        Err(err) => {
            return Provenance::Unknown {
                reason: format!("PEP 740 provenance is not readable: {err}"),
            };
        }
    };
    let Ok(sha256) = hex::decode(sha256_hex.trim().trim_start_matches("sha256:")) else {
        return Provenance::Unknown {
            reason: format!("distribution sha256 {sha256_hex:?} is not hex"),
        };
    };
    let digest = match ArtifactDigest::new(HashAlgorithm::Sha2256, sha256.clone()) {
        Ok(digest) => digest,
        Err(err) => {
            return Provenance::Unknown {
                reason: err.to_string(),
            };
        }
    };
    let mut identity = None;
    for bundle in &provenance.attestation_bundles {
        for attestation in &bundle.attestations {
            match verify_pep740_attestation(attestation, &bundle.publisher, filename, digest.clone(), root) {
                Ok(found) => {
                    identity.get_or_insert(found);
                }
                Err(step) => return Provenance::Invalid { step },
            }
        }
    }
    match identity {
        Some(identity) => Provenance::Verified(identity),
        None => Provenance::Absent,
    }
}

/// Verifies one PEP 740 attestation object against `digest` (sha256 for PyPI; any algorithm the
/// statement's subject carries) and the publisher. Exposed for tests that re-wrap real bundles.
pub fn verify_pep740_attestation(
    attestation: &serde_json::Value,
    publisher: &Pep740Publisher,
    subject_name: Option<&str>,
    digest: ArtifactDigest,
    root: &TrustRoot,
) -> Result<ProvenanceIdentity, String> {
    let what = "PEP 740 attestation";
    let bundle_json = pep740_to_bundle(attestation).ok_or_else(|| format!("{what}: attestation is malformed"))?;
    let bundle = parse_bundle(&bundle_json, what)?;
    let expected_digest = digest.as_bytes().to_vec();
    let algorithm = digest.algorithm();
    let result = root
        .verifier
        .verify(Artifact::Digest(digest), &bundle, &VerificationPolicy::any_identity())
        .map_err(|err| {
            failed_step(what, &err, "the Fulcio certificate").replace("dist.integrity", "the distribution digest")
        })?;
    let (sha512, sha256) = match algorithm {
        HashAlgorithm::Sha2512 => (Some(expected_digest.as_slice()), None),
        _ => (None, Some(expected_digest.as_slice())),
    };
    if let Some(name) = subject_name {
        check_statement(&bundle, what, "", name, sha512, sha256)?;
    }
    let cert = result
        .certificate()
        .ok_or_else(|| format!("{what}: no signing certificate"))?;
    let identity = identity_of(cert);
    check_publisher(publisher, &identity).map_err(|step| format!("{what}: {step}"))?;
    Ok(identity)
}

/// PEP 740 attestation object → Sigstore bundle v0.3 JSON.
fn pep740_to_bundle(attestation: &serde_json::Value) -> Option<serde_json::Value> {
    let material = attestation.get("verification_material")?;
    let certificate = material.get("certificate")?.as_str()?;
    let entries = material.get("transparency_entries")?.as_array()?;
    let envelope = attestation.get("envelope")?;
    let statement = envelope.get("statement")?.as_str()?;
    let signature = envelope.get("signature")?.as_str()?;
    Some(serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": { "rawBytes": certificate },
            "tlogEntries": entries,
        },
        "dsseEnvelope": {
            "payload": statement,
            "payloadType": "application/vnd.in-toto+json",
            "signatures": [ { "sig": signature } ],
        },
    }))
}

/// The certificate must name the Trusted Publisher the index recorded.
fn check_publisher(publisher: &Pep740Publisher, identity: &ProvenanceIdentity) -> Result<(), String> {
    let san = identity.san.clone().unwrap_or_default();
    let issuer = identity.issuer.clone().unwrap_or_default();
    match publisher.kind.as_str() {
        "GitHub" => {
            let repository = publisher.repository.clone().unwrap_or_default();
            let workflow = publisher.workflow.clone().unwrap_or_default();
            let prefix = format!("https://github.com/{repository}/.github/workflows/{workflow}@");
            if issuer != "https://token.actions.githubusercontent.com" {
                return Err(format!("certificate issuer {issuer} is not GitHub Actions"));
            }
            if !san.to_ascii_lowercase().starts_with(&prefix.to_ascii_lowercase()) {
                return Err(format!(
                    "certificate identity {san} is not the Trusted Publisher {repository} workflow {workflow}"
                ));
            }
            Ok(())
        }
        "GitLab" => {
            let repository = publisher.repository.clone().unwrap_or_default();
            let file = publisher.workflow_filepath.clone().unwrap_or_default();
            let prefix = format!("https://gitlab.com/{repository}//{file}@");
            if issuer != "https://gitlab.com" {
                return Err(format!("certificate issuer {issuer} is not GitLab"));
            }
            if !san.to_ascii_lowercase().starts_with(&prefix.to_ascii_lowercase()) {
                return Err(format!(
                    "certificate identity {san} is not the Trusted Publisher {repository} file {file}"
                ));
            }
            Ok(())
        }
        "Google" => {
            let email = publisher.email.clone().unwrap_or_default();
            if san != email || issuer != "https://accounts.google.com" {
                return Err(format!(
                    "certificate identity {san} is not the Trusted Publisher {email}"
                ));
            }
            Ok(())
        }
        other => Err(format!("Trusted Publisher kind {other} is not supported")),
    }
}

/// The file name in an Integrity API URL (`…/integrity/{project}/{version}/{filename}/provenance`).
pub fn pep740_filename(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let last = segments.next()?;
    if last != "provenance" {
        return None;
    }
    segments.next().filter(|name| !name.is_empty()).map(str::to_string)
}
