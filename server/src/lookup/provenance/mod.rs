//! Provenance verification: npm attestations (SLSA provenance + npm publish attestation), npm
//! registry signatures, and PyPI PEP 740 attestations, all checked offline against a Sigstore
//! trusted root that ships with the binary.
//!
//! Crate choice: `sigstore-verify` (the sigstore org's `sigstore-rust` family) with the `aws-lc-rs`
//! backend. It verifies npm's bundles end to end (Fulcio chain at the signing time, SCT, Rekor SET
//! and inclusion proof, integrated time inside the certificate validity, DSSE PAE signature, the
//! Rekor body matching the bundle, the in-toto subject digest), accepts key-signed bundles (the npm
//! publish attestation) and pulls in no TUF, tokio or network code. `sigstore` (sigstore-rs) 0.15
//! was measured to fail on npm bundles (it rejects chains that include the root, needs Rekor `dsse`
//! entries, cannot verify key-signed bundles and leaves SET checks as TODOs); see FINDINGS.md.
//!
//! Invariants:
//! - The trusted root and the npm registry keys come from `server/assets/` (`include_bytes!`) or from
//!   a file named by `LookupSettings::trusted_root`; nothing is fetched to verify, so verification
//!   works fully offline and never depends on the request path.
//! - The verification functions are synchronous and IO-free; `AttestationClient` fetches and runs
//!   them in `spawn_blocking`, so the editor never waits on cryptography.
//! - "Verified as wrong" (`Provenance::Invalid { step }`, naming the exact failed step) is kept apart
//!   from "could not verify" (`Provenance::Unknown`, or a `LookupError` for transport failures,
//!   which are never cached).
//! - What stays ours on top of the crate: choosing the npm key by the bundle's key hint and honouring
//!   its expiry at the authenticated integrated time, decoding `dist.integrity`, checking the subject
//!   *name* (`pkg:npm/{name}@{version}`, the PyPI file name), and reading the builder identity.
//! - The `aws-lc-rs` feature makes aws-lc the crate's default `CryptoProvider`, so nothing has to be
//!   installed at start-up.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sigstore_verify::crypto::SigningScheme;
use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::bundle::SignatureContent;
use sigstore_verify::types::{Artifact, ArtifactDigest, Bundle, DerPublicKey, HashAlgorithm, SignatureBytes};
use sigstore_verify::{
    CertificateError, Error as SigError, PublicKeyVerificationPolicy, TransparencyLogError, VerificationPolicy,
    Verifier,
};

use crate::lookup::{Attestations, Fetched, LookupError};
use crate::model::{Ecosystem, PackageFacts, PackageRef, Provenance, ProvenanceIdentity, RegistrySource, VersionFacts};

/// The Sigstore public-good trusted root shipped with the binary (sigstore/root-signing).
pub const BUNDLED_TRUSTED_ROOT: &[u8] = include_bytes!("../../../assets/trusted_root.json");
/// The npm registry signing keys shipped with the binary (the `/-/npm/v1/keys` shape).
pub const BUNDLED_NPM_KEYS: &[u8] = include_bytes!("../../../assets/npm-keys.json");

pub const SLSA_PROVENANCE_PREFIX: &str = "https://slsa.dev/provenance/";
/// Real attestations answers are a few tens of kilobytes; anything far larger is refused unread.
const MAX_ATTESTATIONS_BYTES: usize = 4 * 1024 * 1024;
pub const NPM_PUBLISH_PREDICATE: &str = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1";

/// A Sigstore trusted root prepared for verification, with a label for hovers.
pub struct TrustRoot {
    verifier: Verifier,
    /// "Sigstore public-good root" or the replacement's path.
    pub label: String,
}

impl TrustRoot {
    /// Parses a `trusted_root.json` (`application/vnd.dev.sigstore.trustedroot+json`).
    pub fn from_json(json: &[u8], label: &str) -> Result<TrustRoot, String> {
        let text = std::str::from_utf8(json).map_err(|err| format!("trusted root is not UTF-8: {err}"))?;
        let root = TrustedRoot::from_json(text).map_err(|err| format!("trusted root is not valid: {err}"))?;
        let verifier = Verifier::new(&root).map_err(|err| format!("trusted root cannot be used: {err}"))?;
        Ok(TrustRoot {
            verifier,
            label: label.to_string(),
        })
    }

    /// The root shipped with the binary.
    pub fn bundled() -> Result<TrustRoot, String> {
        TrustRoot::from_json(BUNDLED_TRUSTED_ROOT, "Sigstore public-good root")
    }

    /// The replacement root at `path` (`--trusted-root`), else the bundled one.
    pub fn load(path: Option<&Path>) -> Result<TrustRoot, String> {
        match path {
            None => TrustRoot::bundled(),
            Some(path) => {
                let bytes =
                    std::fs::read(path).map_err(|err| format!("cannot read trusted root {}: {err}", path.display()))?;
                TrustRoot::from_json(&bytes, &format!("trusted root {}", path.display()))
            }
        }
    }
}

/// One npm registry signing key.
#[derive(Debug, Clone)]
pub struct NpmKey {
    /// An opaque label (`SHA256:…`), matched against `dist.signatures[].keyid` and bundle key hints.
    pub keyid: String,
    /// Signatures made at or after this instant are not accepted.
    pub expires: Option<Timestamp>,
    /// DER SubjectPublicKeyInfo (P-256).
    pub key: Vec<u8>,
}

/// The npm registry's signing keys.
#[derive(Debug, Clone, Default)]
pub struct NpmKeys(pub Vec<NpmKey>);

#[derive(Deserialize)]
struct WireKeys {
    keys: Vec<WireKey>,
}

#[derive(Deserialize)]
struct WireKey {
    #[serde(default)]
    expires: Option<String>,
    keyid: String,
    key: String,
}

impl NpmKeys {
    /// Parses the registry's `/-/npm/v1/keys` answer.
    pub fn from_json(json: &[u8]) -> Result<NpmKeys, String> {
        let wire: WireKeys = serde_json::from_slice(json).map_err(|err| format!("npm keys are not valid: {err}"))?;
        let mut keys = Vec::new();
        for key in wire.keys {
            let expires = match key.expires.as_deref() {
                None | Some("") => None,
                Some(text) => Some(
                    text.parse::<Timestamp>()
                        .map_err(|err| format!("npm key {} has a bad expiry {text:?}: {err}", key.keyid))?,
                ),
            };
            let der = base64::engine::general_purpose::STANDARD
                .decode(key.key.trim())
                .map_err(|err| format!("npm key {} is not base64: {err}", key.keyid))?;
            keys.push(NpmKey {
                keyid: key.keyid,
                expires,
                key: der,
            });
        }
        Ok(NpmKeys(keys))
    }

    pub fn bundled() -> Result<NpmKeys, String> {
        NpmKeys::from_json(BUNDLED_NPM_KEYS)
    }

    pub fn get(&self, keyid: &str) -> Option<&NpmKey> {
        self.0.iter().find(|key| key.keyid == keyid)
    }
}

impl NpmKey {
    /// Whether a signature made at `at` is inside the key's validity.
    fn valid_at(&self, at: Timestamp) -> bool {
        self.expires.is_none_or(|expires| at < expires)
    }
}

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

fn parse_bundle(value: &serde_json::Value, what: &str) -> Result<Bundle, String> {
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
fn check_statement(
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
fn failed_step(what: &str, err: &SigError, signer: &str) -> String {
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
fn identity_of(cert: &sigstore_verify::crypto::CertificateInfo) -> ProvenanceIdentity {
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
enum SignatureProblem {
    /// A signature does not verify, or its key had expired when the version was published.
    Invalid(String),
    /// Only unknown keys, or an expiring key and no trustworthy publish time.
    Unverifiable(String),
}

fn check_registry_signatures(
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

// Fetching and caching.

/// The cache key of one verification: a result depends only on these (and the trust root).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProvenanceCacheKey {
    pub package: PackageRef,
    pub version: String,
    /// The artifact digest as the registry states it.
    pub digest: String,
}

/// What is stored per key; serializable for the shared on-disk store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedProvenance {
    pub provenance: Provenance,
    pub verified_at: Timestamp,
}

pub fn cache_key(package: &PackageRef, version: &str, digest: &str) -> ProvenanceCacheKey {
    ProvenanceCacheKey {
        package: package.clone(),
        version: version.to_string(),
        digest: digest.to_string(),
    }
}

/// Fetches attestations (npm `dist.attestations.url`, PEP 740 provenance URL), verifies them off the
/// async runtime and memoises results by (package, version, digest).
pub struct AttestationClient {
    client: reqwest::Client,
    root: Arc<TrustRoot>,
    keys: Arc<NpmKeys>,
    cache: moka::future::Cache<ProvenanceCacheKey, CachedProvenance>,
}

impl AttestationClient {
    pub fn new(client: reqwest::Client, root: TrustRoot, keys: NpmKeys) -> AttestationClient {
        AttestationClient {
            client,
            root: Arc::new(root),
            keys: Arc::new(keys),
            cache: moka::future::Cache::new(10_000),
        }
    }

    /// With the root from `settings.trusted_root` (else the bundled one) and the bundled npm keys.
    pub fn from_settings(
        client: reqwest::Client,
        settings: &crate::lookup::LookupSettings,
    ) -> Result<AttestationClient, String> {
        let root = TrustRoot::load(settings.trusted_root.as_deref())?;
        Ok(AttestationClient::new(client, root, NpmKeys::bundled()?))
    }

    /// A result already verified for `key`, if any.
    pub async fn cached(&self, key: &ProvenanceCacheKey) -> Option<CachedProvenance> {
        self.cache.get(key).await
    }

    /// Seeds the memory cache (from the shared on-disk store).
    pub async fn remember(&self, key: ProvenanceCacheKey, value: CachedProvenance) {
        self.cache.insert(key, value).await;
    }

    async fn fetch(&self, url: &str) -> Result<Option<Vec<u8>>, LookupError> {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
        let started = std::time::Instant::now();
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| LookupError::Transport {
                host: host.clone(),
                message: err.to_string(),
            })?;
        let status = response.status();
        if response
            .content_length()
            .is_some_and(|len| len > MAX_ATTESTATIONS_BYTES as u64)
        {
            return Err(LookupError::Decode {
                host,
                message: "attestations answer is too large".to_string(),
            });
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            tracing::debug!(host, status = 404, "no attestations");
            return Ok(None);
        }
        if !status.is_success() {
            return Err(LookupError::Status {
                host,
                status: status.as_u16(),
            });
        }
        let body = response.bytes().await.map_err(|err| LookupError::Transport {
            host: host.clone(),
            message: err.to_string(),
        })?;
        if body.len() > MAX_ATTESTATIONS_BYTES {
            return Err(LookupError::Decode {
                host,
                message: format!("attestations answer of {} bytes is too large", body.len()),
            });
        }
        tracing::debug!(
            host,
            status = status.as_u16(),
            bytes = body.len(),
            ms = started.elapsed().as_millis() as u64,
            tier = "network",
            "attestations"
        );
        Ok(Some(body.to_vec()))
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
        let Some(digest) = digest.cloned() else {
            return Ok(Fetched::fresh(Provenance::Unknown {
                reason: "the registry states no digest to verify against".to_string(),
            }));
        };
        let key = cache_key(package, version, &digest);
        // Concurrent asks for one key share one fetch and one verification; errors are not cached.
        let verified = self
            .cache
            .try_get_with(key, self.verify_uncached(package, version_facts, digest))
            .await
            .map_err(|err| (*err).clone())?;
        Ok(Fetched {
            value: verified.provenance,
            fetched_at: verified.verified_at,
            stale: false,
        })
    }
}

impl AttestationClient {
    async fn verify_uncached(
        &self,
        package: &PackageRef,
        version_facts: &VersionFacts,
        digest: String,
    ) -> Result<CachedProvenance, LookupError> {
        let body = match &version_facts.attestations_url {
            Some(url) => self.fetch(url).await?,
            None => None,
        };
        let root = Arc::clone(&self.root);
        let keys = Arc::clone(&self.keys);
        let name = package.name.clone();
        let version = version_facts.version.clone();
        let signatures = version_facts.signatures.clone();
        let published = version_facts.published;
        let url = version_facts.attestations_url.clone();
        let ecosystem = package.ecosystem;
        let other_digests: Vec<String> = version_facts
            .digests
            .iter()
            .filter(|d| d.starts_with("sha256:") && **d != digest)
            .cloned()
            .collect();
        let provenance = tokio::task::spawn_blocking(move || match ecosystem {
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
        .map_err(|err| LookupError::Other(format!("provenance verification stopped: {err}")))?;
        Ok(CachedProvenance {
            provenance,
            verified_at: Timestamp::now(),
        })
    }
}

#[cfg(test)]
mod tests;
