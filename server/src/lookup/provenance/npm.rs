//! npm provenance: SLSA provenance and the npm publish attestation (Sigstore bundles), and the npm
//! registry signatures over `name@version:integrity`. Synchronous and IO-free.

use base64::Engine as _;
use jiff::Timestamp;
use serde::Deserialize;
use sigstore_verify::crypto::SigningScheme;
use sigstore_verify::types::bundle::SignatureContent;
use sigstore_verify::types::{Artifact, ArtifactDigest, Bundle, DerPublicKey, HashAlgorithm, SignatureBytes};
use sigstore_verify::{
    CertificateError, Error as SigError, PublicKeyVerificationPolicy, TransparencyLogError, VerificationPolicy,
};

use super::*;
use crate::model::{Provenance, ProvenanceIdentity};

pub const SLSA_PROVENANCE_PREFIX: &str = "https://slsa.dev/provenance/";

pub const NPM_PUBLISH_PREDICATE: &str = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1";

/// Decodes an SRI `dist.integrity` (`sha512-<base64>`, possibly several space-separated) to the
/// sha512 digest bytes.
pub fn decode_integrity(integrity: &str) -> Result<Vec<u8>, String> {
    for part in integrity.split_whitespace() {
        if let Some(b64) = part.strip_prefix("sha512-") {
            let b64 = b64.split('?').next().unwrap_or(b64);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|err| format!("dist.integrity is not base64: {err}"))?;
            if bytes.len() != 64 {
                return Err(format!("dist.integrity sha512 has {} bytes, expected 64", bytes.len()));
            }
            return Ok(bytes);
        }
    }
    Err(format!("dist.integrity {integrity:?} has no sha512 digest"))
}

/// The package URL npm puts in attestation subjects: `pkg:npm/%40scope/name@version`.
pub fn npm_purl(name: &str, version: &str) -> String {
    let name = name
        .strip_prefix('@')
        .map_or_else(|| name.to_string(), |rest| format!("%40{rest}"));
    format!("pkg:npm/{name}@{version}")
}

#[derive(Deserialize)]
struct WireAttestations {
    attestations: Vec<WireAttestation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAttestation {
    predicate_type: String,
    bundle: serde_json::Value,
}

/// Verifies the registry's attestations answer for `name@version` whose `dist.integrity` is
/// `integrity`: the SLSA provenance (Fulcio certificate, Rekor entry, DSSE signature, subject name
/// and digest) and, when present, the npm publish attestation (signed with the npm key its hint
/// names, valid at the integrated time).
pub fn verify_npm_attestations(
    json: &[u8],
    name: &str,
    version: &str,
    integrity: &str,
    root: &TrustRoot,
    keys: &NpmKeys,
) -> Provenance {
    let response: WireAttestations = match serde_json::from_slice(json) {
        Ok(response) => response,
        Err(err) => {
            return Provenance::Unknown {
                reason: format!("attestations answer is not readable: {err}"),
            };
        }
    };
    let digest = match decode_integrity(integrity) {
        Ok(digest) => digest,
        Err(reason) => return Provenance::Unknown { reason },
    };
    let purl = npm_purl(name, version);

    let provenance = response
        .attestations
        .iter()
        .find(|a| a.predicate_type.starts_with(SLSA_PROVENANCE_PREFIX));
    let Some(provenance) = provenance else {
        return Provenance::Absent;
    };
    let identity = match verify_slsa(provenance, &purl, &digest, root) {
        Ok(identity) => identity,
        Err(step) => return Provenance::Invalid { step },
    };
    if let Some(publish) = response
        .attestations
        .iter()
        .find(|a| a.predicate_type == NPM_PUBLISH_PREDICATE)
        && let Err(step) = verify_publish(publish, &purl, &digest, root, keys)
    {
        return Provenance::Invalid { step };
    }
    Provenance::Verified(identity)
}

pub(super) fn parse_bundle(value: &serde_json::Value, what: &str) -> Result<Bundle, String> {
    let text = serde_json::to_string(value).map_err(|err| format!("{what}: bundle is malformed: {err}"))?;
    Bundle::from_json(&text).map_err(|err| format!("{what}: bundle is malformed: {err}"))
}

fn sha512_artifact(digest: &[u8], what: &str) -> Result<ArtifactDigest, String> {
    ArtifactDigest::new(HashAlgorithm::Sha2512, digest.to_vec()).map_err(|err| format!("{what}: {err}"))
}

fn verify_slsa(
    attestation: &WireAttestation,
    purl: &str,
    digest: &[u8],
    root: &TrustRoot,
) -> Result<ProvenanceIdentity, String> {
    let what = "SLSA provenance";
    let bundle = parse_bundle(&attestation.bundle, what)?;
    let artifact = sha512_artifact(digest, what)?;
    let result = root
        .verifier
        .verify(Artifact::Digest(artifact), &bundle, &VerificationPolicy::any_identity())
        .map_err(|err| failed_step(what, &err, "the Fulcio certificate"))?;
    check_statement(&bundle, what, &attestation.predicate_type, purl, Some(digest), None)?;
    let Some(cert) = result.certificate() else {
        return Err(format!("{what}: bundle has no signing certificate"));
    };
    Ok(identity_of(cert))
}

fn verify_publish(
    attestation: &WireAttestation,
    purl: &str,
    digest: &[u8],
    root: &TrustRoot,
    keys: &NpmKeys,
) -> Result<(), String> {
    let what = "npm publish attestation";
    let hint = attestation
        .bundle
        .pointer("/verificationMaterial/publicKey/hint")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| format!("{what}: bundle names no npm key"))?;
    let key = keys
        .get(hint)
        .ok_or_else(|| format!("{what}: signed with unknown npm key {hint}"))?;
    let bundle = parse_bundle(&attestation.bundle, what)?;
    let artifact = sha512_artifact(digest, what)?;
    let policy = PublicKeyVerificationPolicy::new(DerPublicKey::new(key.key.clone()));
    let result = root
        .verifier
        .verify(Artifact::Digest(artifact), &bundle, &policy)
        .map_err(|err| failed_step(what, &err, &format!("npm key {hint}")))?;
    let signed_at = result
        .integrated_time()
        .or_else(|| result.verified_timestamps().first().copied())
        .ok_or_else(|| format!("{what}: no authenticated signing time to check npm key {hint} against"))?;
    if !key.valid_at(signed_at) {
        return Err(format!(
            "{what}: npm key {hint} had expired ({}) when it signed at {signed_at}",
            key.expires.map(|t| t.to_string()).unwrap_or_default()
        ));
    }
    check_statement(&bundle, what, &attestation.predicate_type, purl, Some(digest), None)
}

/// Checks the signed in-toto statement: predicate type as advertised, and a subject with the
/// expected name whose digest is the artifact's.
pub(super) fn check_statement(
    bundle: &Bundle,
    what: &str,
    predicate_type: &str,
    subject_name: &str,
    sha512: Option<&[u8]>,
    sha256: Option<&[u8]>,
) -> Result<(), String> {
    let SignatureContent::DsseEnvelope(envelope) = &bundle.content else {
        return Err(format!("{what}: bundle has no DSSE envelope"));
    };
    let statement: serde_json::Value = serde_json::from_slice(envelope.payload.as_bytes())
        .map_err(|err| format!("{what}: statement is not JSON: {err}"))?;
    let signed_type = statement
        .get("predicateType")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    if !predicate_type.is_empty() && signed_type != predicate_type {
        return Err(format!(
            "{what}: signed predicate type {signed_type} differs from the advertised {predicate_type}"
        ));
    }
    let subjects = statement
        .get("subject")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let named = subjects
        .iter()
        .find(|s| s.get("name").and_then(serde_json::Value::as_str) == Some(subject_name));
    let Some(subject) = named else {
        let names: Vec<&str> = subjects
            .iter()
            .filter_map(|s| s.get("name").and_then(serde_json::Value::as_str))
            .collect();
        return Err(format!(
            "{what}: subject name {} does not match {subject_name}",
            names.join(", ")
        ));
    };
    let digest_matches = |algorithm: &str, expected: &[u8]| {
        subject
            .pointer(&format!("/digest/{algorithm}"))
            .and_then(serde_json::Value::as_str)
            .and_then(|hex_text| hex::decode(hex_text).ok())
            .is_some_and(|bytes| bytes == expected)
    };
    if let Some(expected) = sha512
        && !digest_matches("sha512", expected)
    {
        return Err(format!("{what}: subject digest does not match dist.integrity"));
    }
    if let Some(expected) = sha256
        && !digest_matches("sha256", expected)
    {
        return Err(format!(
            "{what}: subject digest does not match the distribution's sha256"
        ));
    }
    Ok(())
}

/// Names the failed step of a sigstore-verify error in the user's terms.
pub(super) fn failed_step(what: &str, err: &SigError, signer: &str) -> String {
    let step = match err {
        SigError::ArtifactMismatch(_) => "subject digest does not match dist.integrity".to_string(),
        SigError::SignatureInvalid(detail) => {
            format!("DSSE signature does not verify with {signer} ({detail})")
        }
        SigError::Certificate(CertificateError::ChainInvalid(detail)) => {
            format!("certificate does not chain to a Fulcio CA in the trusted root ({detail})")
        }
        SigError::Certificate(CertificateError::NoValidAuthority { time }) => {
            format!("certificate does not chain to a Fulcio CA valid at {time}")
        }
        SigError::Certificate(CertificateError::Expired { time, not_after }) => {
            format!("integrated time {time} is after the certificate expired ({not_after})")
        }
        SigError::Certificate(CertificateError::NotYetValid { time, not_before }) => {
            format!("integrated time {time} is before the certificate was valid ({not_before})")
        }
        SigError::Certificate(CertificateError::Malformed(detail)) => format!("certificate is malformed ({detail})"),
        SigError::Certificate(CertificateError::Sct(detail)) => {
            format!("certificate transparency timestamp (SCT) does not verify ({detail})")
        }
        SigError::TransparencyLog(TransparencyLogError::InclusionPromise(detail)) => {
            format!("transparency-log SET does not verify against the Rekor key ({detail})")
        }
        SigError::TransparencyLog(TransparencyLogError::InclusionProof(detail)) => {
            format!("transparency-log inclusion proof does not verify ({detail})")
        }
        SigError::TransparencyLog(TransparencyLogError::IntegratedTime(detail)) => {
            format!("integrated time is outside the certificate validity ({detail})")
        }
        SigError::TransparencyLog(TransparencyLogError::EntryMismatch(detail)) => {
            format!("transparency-log entry does not match the bundle ({detail})")
        }
        SigError::TransparencyLog(TransparencyLogError::UnknownLog { log_id }) => {
            format!("transparency log {log_id} is not in the trusted root")
        }
        other => other.to_string(),
    };
    format!("{what}: {step}")
}

/// Who built it, from the verified Fulcio certificate: SAN (workflow and ref), issuer, and the
/// source repository and commit from the Fulcio extensions (new arc first, deprecated GitHub arc
/// for older certificates).
pub(super) fn identity_of(cert: &sigstore_verify::crypto::CertificateInfo) -> ProvenanceIdentity {
    let san = cert.identity.as_ref().map(|san| san.as_str().to_string());
    let claims = &cert.ci_claims;
    let legacy = &claims.deprecated_github;
    let source_repository = claims.source_repository_uri.clone().or_else(|| {
        legacy
            .workflow_repository
            .as_ref()
            .map(|repo| format!("https://github.com/{repo}"))
    });
    let source_commit = claims
        .source_repository_digest
        .clone()
        .or_else(|| legacy.workflow_sha.clone());
    // Only a URI identity names a workflow; an email identity is a person.
    let uri_san = match &cert.identity {
        Some(sigstore_verify::SubjectAltName::Uri(uri)) => Some(uri.clone()),
        _ => None,
    };
    let signer = claims.build_signer_uri.clone().or(uri_san);
    let (workflow, san_ref) = match &signer {
        Some(uri) => split_workflow(uri),
        None => (None, None),
    };
    let git_ref = claims
        .source_repository_ref
        .clone()
        .or_else(|| legacy.workflow_ref.clone())
        .or(san_ref);
    ProvenanceIdentity {
        source_repository,
        source_commit,
        workflow,
        git_ref,
        issuer: cert.issuer.clone(),
        san,
    }
}

/// `https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1` → (`.github/workflows/release.yml`, `refs/tags/v1`).
fn split_workflow(uri: &str) -> (Option<String>, Option<String>) {
    let (path, git_ref) = match uri.rsplit_once('@') {
        Some((path, git_ref)) => (path, Some(git_ref.to_string())),
        None => (uri, None),
    };
    let workflow = path
        .find("/.github/")
        .map(|at| path[at + 1..].to_string())
        .or_else(|| {
            path.split_once("//")
                .and_then(|(_, rest)| rest.split_once("//"))
                .map(|(_, file)| file.to_string())
        })
        .or_else(|| Some(path.to_string()));
    (workflow, git_ref)
}

/// Verifies npm `dist.signatures` (ECDSA P-256 over `{name}@{version}:{integrity}`) against the
/// registry keys. Every signature by a known key must verify, at least one key must be known, and a
/// key with an expiry only vouches for versions published before it.
pub fn verify_registry_signatures(
    name: &str,
    version: &str,
    integrity: &str,
    signatures: &[(String, String)],
    keys: &NpmKeys,
    publish_time: Option<Timestamp>,
) -> Result<(), String> {
    check_registry_signatures(name, version, integrity, signatures, keys, publish_time)
        .map_err(|problem| match problem {
            SignatureProblem::Invalid(text) | SignatureProblem::Unverifiable(text) => text,
        })
}

/// Why registry signatures were not accepted: wrong, or not checkable with what we have.
pub(super) enum SignatureProblem {
    /// A signature does not verify, or its key had expired when the version was published.
    Invalid(String),
    /// Only unknown keys, or an expiring key and no trustworthy publish time.
    Unverifiable(String),
}

pub(super) fn check_registry_signatures(
    name: &str,
    version: &str,
    integrity: &str,
    signatures: &[(String, String)],
    keys: &NpmKeys,
    publish_time: Option<Timestamp>,
) -> Result<(), SignatureProblem> {
    if signatures.is_empty() {
        return Err(SignatureProblem::Unverifiable("no registry signatures".to_string()));
    }
    let message = format!("{name}@{version}:{integrity}");
    let mut known = 0;
    let mut unknown_time = None;
    for (keyid, signature) in signatures {
        let Some(key) = keys.get(keyid) else {
            continue;
        };
        known += 1;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .map_err(|err| SignatureProblem::Invalid(format!("registry signature by {keyid} is not base64: {err}")))?;
        sigstore_verify::crypto::verify_signature(
            &DerPublicKey::new(key.key.clone()),
            message.as_bytes(),
            &SignatureBytes::new(signature),
            SigningScheme::EcdsaP256Sha256,
        )
        .map_err(|_| {
            SignatureProblem::Invalid(format!(
                "registry signature by npm key {keyid} does not verify over {message}"
            ))
        })?;
        if let Some(expires) = key.expires {
            match publish_time {
                Some(published) if published < expires => {}
                Some(published) => {
                    return Err(SignatureProblem::Invalid(format!(
                        "registry signature by npm key {keyid}, which expired {expires}, on a version published {published}"
                    )));
                }
                None => {
                    unknown_time = Some(format!(
                        "registry signature by npm key {keyid} (expires {expires}) on a version without a publish time"
                    ));
                }
            }
        }
    }
    if known == 0 {
        let ids: Vec<&str> = signatures.iter().map(|(keyid, _)| keyid.as_str()).collect();
        return Err(SignatureProblem::Unverifiable(format!(
            "registry signatures use unknown keys {}",
            ids.join(", ")
        )));
    }
    match unknown_time {
        Some(reason) => Err(SignatureProblem::Unverifiable(reason)),
        None => Ok(()),
    }
}
