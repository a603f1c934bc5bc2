//! Real Sigstore data (fixtures/sigstore) against the real trusted root; every broken variant is
//! derived here from the real files, never written by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use jiff::Timestamp;
use sigstore_verify::types::{ArtifactDigest, HashAlgorithm};

use crate::lookup::{Attestations, LookupError};
use crate::model::VersionFacts;
use crate::model::{Ecosystem, PackageFacts, PackageRef, Provenance, RegistrySource};
use crate::testing::sigstore::{ATTESTATIONS, BUNDLE_V03, OLD_NPM_KEY, SIGSTORE_100_INTEGRITY, SIGSTORE_500_INTEGRITY};

/// A file under `fixtures/sigstore/`, compiled in.
macro_rules! sigstore_fixture {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/sigstore/", $path))
    };
}
const TRUSTED_ROOT: &[u8] = sigstore_fixture!("trusted_root.json");
const NPM_KEYS: &[u8] = sigstore_fixture!("npm-keys.json");
const REGISTRY_SIGNATURES: &[u8] = sigstore_fixture!("npm-registry-signatures.json");
const HAS_PACKAGE_EXPORTS: &[u8] = sigstore_fixture!("registry-signatures/has-package-exports.min.json");

fn root() -> TrustRoot {
    TrustRoot::from_json(TRUSTED_ROOT, "Sigstore public-good root").unwrap()
}

fn keys() -> NpmKeys {
    NpmKeys::from_json(NPM_KEYS).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(text).unwrap()
}

/// Verifies sigstore@1.0.0's attestations after `edit` changed the parsed JSON.
/// Decodes a base64 string in place, XORs the byte at `at(bytes)` with `mask`, encodes it back.
fn flip_base64_byte(field: &mut Value, at: impl FnOnce(&[u8]) -> usize, mask: u8) {
    let mut bytes = unb64(field.as_str().unwrap());
    let at = at(&bytes);
    bytes[at] ^= mask;
    *field = Value::String(b64(&bytes));
}

fn verify_edited(edit: impl FnOnce(&mut Value)) -> Provenance {
    let mut json: Value = serde_json::from_slice(ATTESTATIONS).unwrap();
    edit(&mut json);
    let bytes = serde_json::to_vec(&json).unwrap();
    verify_npm_attestations(&bytes, "sigstore", "1.0.0", SIGSTORE_100_INTEGRITY, &root(), &keys())
}

fn invalid_step(p: Provenance) -> String {
    match p {
        Provenance::Invalid { step } => step,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn bundled_assets_are_the_fixtures() {
    assert_eq!(BUNDLED_TRUSTED_ROOT, TRUSTED_ROOT);
    assert_eq!(BUNDLED_NPM_KEYS, NPM_KEYS);
    assert!(TrustRoot::bundled().is_ok());
    let keys = NpmKeys::bundled().unwrap();
    assert_eq!(keys.0.len(), 2);
    assert_eq!(
        keys.get(OLD_NPM_KEY).unwrap().expires,
        Some("2025-01-29T00:00:00Z".parse().unwrap())
    );
}

#[test]
fn real_sigstore_100_attestations_verify_with_identity() {
    let p = verify_npm_attestations(
        ATTESTATIONS,
        "sigstore",
        "1.0.0",
        SIGSTORE_100_INTEGRITY,
        &root(),
        &keys(),
    );
    let Provenance::Verified(id) = p else {
        panic!("expected Verified, got {p:?}");
    };
    assert_eq!(
        id.source_repository.as_deref(),
        Some("https://github.com/sigstore/sigstore-js")
    );
    assert_eq!(
        id.source_commit.as_deref(),
        Some("06528997c3c8ab9f864fad9a3658446aca7fd86d")
    );
    assert_eq!(id.workflow.as_deref(), Some(".github/workflows/publish.yml"));
    assert_eq!(id.git_ref.as_deref(), Some("refs/tags/v1.0.0"));
    assert_eq!(
        id.issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
    assert_eq!(
        id.san.as_deref(),
        Some("https://github.com/sigstore/sigstore-js/.github/workflows/publish.yml@refs/tags/v1.0.0")
    );
}

#[test]
fn real_v03_bundle_for_sigstore_500_verifies() {
    let bundle: Value = serde_json::from_slice(BUNDLE_V03).unwrap();
    let response = serde_json::json!({
        "attestations": [ { "predicateType": "https://slsa.dev/provenance/v1", "bundle": bundle } ]
    });
    let bytes = serde_json::to_vec(&response).unwrap();
    let p = verify_npm_attestations(&bytes, "sigstore", "5.0.0", SIGSTORE_500_INTEGRITY, &root(), &keys());
    let Provenance::Verified(id) = p else {
        panic!("expected Verified, got {p:?}");
    };
    assert_eq!(
        id.source_repository.as_deref(),
        Some("https://github.com/sigstore/sigstore-js")
    );
    assert!(id.source_commit.is_some());
}

#[test]
fn integrity_decoding_compares_bytes() {
    let bytes = decode_integrity(SIGSTORE_100_INTEGRITY).unwrap();
    assert_eq!(hex::encode(&bytes)[..16], *"7bea9f6e7ff37f5f");
    assert!(decode_integrity("sha1-abc").is_err());
    assert_eq!(
        npm_purl("@npmcli/arborist", "1.0.14"),
        "pkg:npm/%40npmcli/arborist@1.0.14"
    );
}

#[test]
fn flipped_payload_byte_fails() {
    let step = invalid_step(verify_edited(|json| {
        let payload = &mut json["attestations"][0]["bundle"]["dsseEnvelope"]["payload"];
        // Flip a letter inside the predicate (not the subject), keeping the JSON well formed.
        flip_base64_byte(
            payload,
            |p| p.windows(9).position(|w| w == b"buildType").unwrap() + 20,
            0x20,
        );
    }));
    assert!(
        step.starts_with("SLSA provenance: DSSE signature does not verify with the Fulcio certificate"),
        "{step}"
    );
}

#[test]
fn flipped_signature_byte_fails() {
    let step = invalid_step(verify_edited(|json| {
        let signature = &mut json["attestations"][0]["bundle"]["dsseEnvelope"]["signatures"][0]["sig"];
        flip_base64_byte(signature, |sig| sig.len() - 1, 0x01);
    }));
    assert!(
        step.starts_with("SLSA provenance: DSSE signature does not verify with the Fulcio certificate"),
        "{step}"
    );
}

#[test]
fn flipped_certificate_byte_fails() {
    let step = invalid_step(verify_edited(|json| {
        let cert = &mut json["attestations"][0]["bundle"]["verificationMaterial"]["x509CertificateChain"]["certificates"]
            [0]["rawBytes"];
        // The last bytes are the issuer's signature over the certificate.
        flip_base64_byte(cert, |der| der.len() - 3, 0x01);
    }));
    assert!(
        step.starts_with("SLSA provenance: certificate does not chain to a Fulcio CA"),
        "{step}"
    );
}

#[test]
fn swapped_subject_digest_fails() {
    // The attestation of sigstore@1.0.0 offered for a tarball with another digest (5.0.0's).
    let p = verify_npm_attestations(
        ATTESTATIONS,
        "sigstore",
        "1.0.0",
        SIGSTORE_500_INTEGRITY,
        &root(),
        &keys(),
    );
    assert_eq!(
        invalid_step(p),
        "SLSA provenance: subject digest does not match dist.integrity"
    );
}

#[test]
fn edited_subject_digest_in_payload_fails() {
    let step = invalid_step(verify_edited(|json| {
        let envelope = &mut json["attestations"][0]["bundle"]["dsseEnvelope"];
        let payload = String::from_utf8(unb64(envelope["payload"].as_str().unwrap())).unwrap();
        let other = hex::encode(decode_integrity(SIGSTORE_500_INTEGRITY).unwrap());
        let original = hex::encode(decode_integrity(SIGSTORE_100_INTEGRITY).unwrap());
        let swapped = payload.replace(&original, &other);
        assert_ne!(swapped, payload);
        envelope["payload"] = Value::String(b64(swapped.as_bytes()));
    }));
    // The signed payload no longer matches: either the digest or the signature step fails first.
    assert!(
        step.contains("subject digest does not match")
            || step.contains("DSSE signature does not verify")
            || step.contains("entry does not match"),
        "{step}"
    );
}

#[test]
fn wrong_subject_name_fails() {
    let p = verify_npm_attestations(
        ATTESTATIONS,
        "sigstore",
        "1.0.1",
        SIGSTORE_100_INTEGRITY,
        &root(),
        &keys(),
    );
    assert_eq!(
        invalid_step(p),
        "SLSA provenance: subject name pkg:npm/sigstore@1.0.0 does not match pkg:npm/sigstore@1.0.1"
    );
    let p = verify_npm_attestations(
        ATTESTATIONS,
        "sigstore-js",
        "1.0.0",
        SIGSTORE_100_INTEGRITY,
        &root(),
        &keys(),
    );
    assert!(invalid_step(p).contains("does not match pkg:npm/sigstore-js@1.0.0"));
}

#[test]
fn certificate_from_another_root_fails() {
    // A trusted root whose Fulcio CAs are replaced by another authority's chain (the TSA's), so
    // the real leaf chains to a root this root does not trust.
    let mut other: Value = serde_json::from_slice(TRUSTED_ROOT).unwrap();
    let tsa_chain = other["timestampAuthorities"][0]["certChain"].clone();
    for ca in other["certificateAuthorities"].as_array_mut().unwrap() {
        ca["certChain"] = tsa_chain.clone();
    }
    let bytes = serde_json::to_vec(&other).unwrap();
    let other_root = match TrustRoot::from_json(&bytes, "other root") {
        Ok(root) => root,
        Err(_) => {
            other["certificateAuthorities"] = Value::Array(Vec::new());
            TrustRoot::from_json(&serde_json::to_vec(&other).unwrap(), "other root").unwrap()
        }
    };
    let p = verify_npm_attestations(
        ATTESTATIONS,
        "sigstore",
        "1.0.0",
        SIGSTORE_100_INTEGRITY,
        &other_root,
        &keys(),
    );
    let step = invalid_step(p);
    assert!(step.contains("does not chain to a Fulcio CA"), "{step}");
}

#[test]
fn expired_npm_key_fails() {
    // The publish attestation was signed on 2023-02-09; a key that expired before then must not vouch.
    let mut keys = keys();
    for key in &mut keys.0 {
        if key.keyid == OLD_NPM_KEY {
            key.expires = Some("2023-01-01T00:00:00Z".parse().unwrap());
        }
    }
    let p = verify_npm_attestations(
        ATTESTATIONS,
        "sigstore",
        "1.0.0",
        SIGSTORE_100_INTEGRITY,
        &root(),
        &keys,
    );
    let step = invalid_step(p);
    assert!(
        step.starts_with("npm publish attestation: npm key SHA256:jl3bw"),
        "{step}"
    );
    assert!(step.contains("had expired"), "{step}");
}

#[test]
fn old_npm_key_still_verifies_older_publishes() {
    // The real key expired 2025-01-29; sigstore@1.0.0 was published 2023-02-09.
    assert!(matches!(
        verify_npm_attestations(
            ATTESTATIONS,
            "sigstore",
            "1.0.0",
            SIGSTORE_100_INTEGRITY,
            &root(),
            &keys()
        ),
        Provenance::Verified(_)
    ));
}

#[test]
fn unknown_npm_key_fails() {
    let keys = NpmKeys(keys().0.into_iter().filter(|k| k.keyid != OLD_NPM_KEY).collect());
    let p = verify_npm_attestations(
        ATTESTATIONS,
        "sigstore",
        "1.0.0",
        SIGSTORE_100_INTEGRITY,
        &root(),
        &keys,
    );
    assert!(invalid_step(p).contains("unknown npm key"));
}

#[test]
fn publish_attestation_with_the_other_npm_key_fails() {
    let step = invalid_step(verify_edited(|json| {
        json["attestations"][1]["bundle"]["verificationMaterial"]["publicKey"]["hint"] =
            Value::String("SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U".to_string());
    }));
    assert!(step.starts_with("npm publish attestation:"), "{step}");
    assert!(
        step.contains("does not verify") || step.contains("entry does not match"),
        "{step}"
    );
}

#[test]
fn integrated_time_outside_certificate_validity_fails() {
    // Fulcio certificates live ten minutes; move the log time an hour later.
    let step = invalid_step(verify_edited(|json| {
        let entry = &mut json["attestations"][0]["bundle"]["verificationMaterial"]["tlogEntries"][0];
        let time: i64 = entry["integratedTime"].as_str().unwrap().parse().unwrap();
        entry["integratedTime"] = Value::String((time + 3600).to_string());
    }));
    // The SET covers the integrated time, so the forged time is rejected before it is compared
    // with the certificate validity; either way the bundle is refused.
    assert!(
        step.starts_with("SLSA provenance: transparency-log SET does not verify against the Rekor key"),
        "{step}"
    );
}

#[test]
fn missing_provenance_is_absent_and_garbage_is_unknown() {
    let p = verify_edited(|json| {
        json["attestations"].as_array_mut().unwrap().remove(0);
    });
    assert_eq!(p, Provenance::Absent);
    let p = verify_npm_attestations(b"<html>", "sigstore", "1.0.0", SIGSTORE_100_INTEGRITY, &root(), &keys());
    assert!(matches!(p, Provenance::Unknown { .. }));
}

#[test]
fn malformed_bundle_is_invalid() {
    let step = invalid_step(verify_edited(|json| {
        json["attestations"][0]["bundle"]["dsseEnvelope"] = Value::Null;
    }));
    assert!(step.starts_with("SLSA provenance: bundle is malformed"), "{step}");
}

#[derive(serde::Deserialize)]
struct SignatureCases {
    cases: Vec<SignatureCase>,
}

#[derive(serde::Deserialize)]
struct SignatureCase {
    name: String,
    version: String,
    integrity: String,
    keyid: String,
    sig: String,
}

fn signature_cases() -> Vec<SignatureCase> {
    serde_json::from_slice::<SignatureCases>(REGISTRY_SIGNATURES)
        .unwrap()
        .cases
}

fn before_expiry() -> Option<Timestamp> {
    Some("2023-02-09T00:00:00Z".parse().unwrap())
}

#[test]
fn real_registry_signatures_verify() {
    let cases = signature_cases();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let signatures = [(case.keyid.clone(), case.sig.clone())];
        let answer = verify_registry_signatures(
            &case.name,
            &case.version,
            &case.integrity,
            &signatures,
            &keys(),
            before_expiry(),
        );
        assert_eq!(answer, Ok(()), "{}@{}", case.name, case.version);
    }
}

#[test]
fn registry_signature_over_other_integrity_fails() {
    let case = &signature_cases()[0];
    let signatures = [(case.keyid.clone(), case.sig.clone())];
    let answer = verify_registry_signatures(
        &case.name,
        &case.version,
        SIGSTORE_500_INTEGRITY,
        &signatures,
        &keys(),
        before_expiry(),
    );
    assert!(answer.unwrap_err().contains("does not verify"));
    let answer = verify_registry_signatures(
        &case.name,
        "9.9.9",
        &case.integrity,
        &signatures,
        &keys(),
        before_expiry(),
    );
    assert!(answer.is_err());
}

#[test]
fn registry_signature_by_expired_key_fails_after_expiry() {
    let case = &signature_cases()[0];
    let signatures = [(case.keyid.clone(), case.sig.clone())];
    let after = Some("2025-02-01T00:00:00Z".parse().unwrap());
    let answer = verify_registry_signatures(&case.name, &case.version, &case.integrity, &signatures, &keys(), after);
    assert!(answer.unwrap_err().contains("expired"));
    let answer = verify_registry_signatures(&case.name, &case.version, &case.integrity, &signatures, &keys(), None);
    assert!(answer.is_err());
}

#[test]
fn registry_signatures_by_unknown_keys_or_none_fail() {
    let case = &signature_cases()[0];
    let signatures = [("SHA256:nobody".to_string(), case.sig.clone())];
    let answer = verify_registry_signatures(
        &case.name,
        &case.version,
        &case.integrity,
        &signatures,
        &keys(),
        before_expiry(),
    );
    assert!(answer.unwrap_err().contains("unknown keys"));
    assert!(verify_registry_signatures("a", "1.0.0", "sha512-x", &[], &keys(), before_expiry()).is_err());
}

#[test]
fn recorded_packument_signatures_all_verify() {
    let packument: Value = serde_json::from_slice(HAS_PACKAGE_EXPORTS).unwrap();
    let mut checked = 0;
    for (version, data) in packument["versions"].as_object().unwrap() {
        let dist = &data["dist"];
        let integrity = dist["integrity"].as_str().unwrap();
        let signatures: Vec<(String, String)> = dist["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["keyid"].as_str().unwrap().to_string(),
                    s["sig"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let answer = verify_registry_signatures(
            "has-package-exports",
            version,
            integrity,
            &signatures,
            &keys(),
            before_expiry(),
        );
        assert_eq!(answer, Ok(()), "{version}");
        checked += 1;
    }
    assert_eq!(checked, 11);
}

/// sigstore@5.0.0's real v0.3 bundle, re-wrapped as a PEP 740 attestation object.
fn pep740_from_v03() -> Value {
    let bundle: Value = serde_json::from_slice(BUNDLE_V03).unwrap();
    serde_json::json!({
        "version": 1,
        "verification_material": {
            "certificate": bundle["verificationMaterial"]["certificate"]["rawBytes"],
            "transparency_entries": bundle["verificationMaterial"]["tlogEntries"],
        },
        "envelope": {
            "statement": bundle["dsseEnvelope"]["payload"],
            "signature": bundle["dsseEnvelope"]["signatures"][0]["sig"],
        },
    })
}

fn sigstore_js_publisher(workflow: &str) -> Pep740Publisher {
    Pep740Publisher {
        kind: "GitHub".to_string(),
        repository: Some("sigstore/sigstore-js".to_string()),
        workflow: Some(workflow.to_string()),
        workflow_filepath: None,
        email: None,
    }
}

fn sha512_500() -> ArtifactDigest {
    ArtifactDigest::new(
        HashAlgorithm::Sha2512,
        decode_integrity(SIGSTORE_500_INTEGRITY).unwrap(),
    )
    .unwrap()
}

#[test]
fn pep740_attestation_shape_verifies_with_its_publisher() {
    let attestation = pep740_from_v03();
    let id = verify_pep740_attestation(
        &attestation,
        &sigstore_js_publisher("release.yml"),
        Some("pkg:npm/sigstore@5.0.0"),
        sha512_500(),
        &root(),
    )
    .unwrap();
    assert_eq!(id.workflow.as_deref(), Some(".github/workflows/release.yml"));
}

#[test]
fn pep740_attestation_from_another_publisher_fails() {
    let attestation = pep740_from_v03();
    let step = verify_pep740_attestation(
        &attestation,
        &sigstore_js_publisher("publish.yml"),
        Some("pkg:npm/sigstore@5.0.0"),
        sha512_500(),
        &root(),
    )
    .unwrap_err();
    assert!(step.contains("is not the Trusted Publisher"), "{step}");
    let step = verify_pep740_attestation(
        &attestation,
        &sigstore_js_publisher("release.yml"),
        Some("sigstore-5.0.0.tar.gz"),
        sha512_500(),
        &root(),
    )
    .unwrap_err();
    assert!(step.contains("subject name"), "{step}");
}

#[test]
fn pep740_provenance_object_checks_the_distribution_digest() {
    let provenance = serde_json::json!({
        "version": 1,
        "attestation_bundles": [ {
            "publisher": { "kind": "GitHub", "repository": "sigstore/sigstore-js", "workflow": "release.yml" },
            "attestations": [ pep740_from_v03() ],
        } ],
    });
    let bytes = serde_json::to_vec(&provenance).unwrap();
    // The statement carries only a sha512 subject, so no sha256 can match it.
    let p = verify_pep740_provenance(&bytes, None, &"ab".repeat(32), &root());
    assert!(matches!(p, Provenance::Invalid { .. }), "{p:?}");
    assert!(matches!(
        verify_pep740_provenance(b"{}", None, &"ab".repeat(32), &root()),
        Provenance::Unknown { .. }
    ));
    assert_eq!(
        pep740_filename("https://pypi.org/integrity/sampleproject/4.0.0/sampleproject-4.0.0.tar.gz/provenance"),
        Some("sampleproject-4.0.0.tar.gz".to_string())
    );
}

// The loopback stand-in for the registry's attestations endpoint.

struct StandIn {
    base: String,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn stand_in() -> StandIn {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
                counter.fetch_add(1, Ordering::SeqCst);
                let (status, body): (&str, Vec<u8>) = match path.as_str() {
                    "/-/npm/v1/attestations/sigstore@1.0.0" => ("200 OK", ATTESTATIONS.to_vec()),
                    "/-/npm/v1/attestations/broken@1.0.0" => ("500 Internal Server Error", b"oops".to_vec()),
                    "/-/npm/v1/attestations/huge@1.0.0" => ("200 OK", vec![b' '; 5 * 1024 * 1024]),
                    _ => ("404 Not Found", b"{\"error\":\"not found\"}".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    StandIn { base, hits, task }
}

fn facts_for(version: &str, integrity: &str, url: Option<String>, signatures: Vec<(String, String)>) -> PackageFacts {
    PackageFacts {
        versions: vec![VersionFacts {
            version: version.into(),
            published: before_expiry().into(),
            digests: vec![integrity.to_string()].into(),
            detail: crate::model::VersionDetail {
                attestations_url: url,
                signatures,
                ..Default::default()
            }
            .into(),
        }],
        ..PackageFacts::default()
    }
}

/// Facts for `name`@1.0.0 with sigstore@1.0.0's integrity, its attestations served by `server`.
fn served_facts(server: &StandIn, name: &str, signatures: Vec<(String, String)>) -> PackageFacts {
    let url = format!("{}/-/npm/v1/attestations/{name}@1.0.0", server.base);
    facts_for("1.0.0", SIGSTORE_100_INTEGRITY, Some(url), signatures)
}

/// The shared hardened client, without retries: each ask is one request, so hits count asks.
fn client() -> AttestationClient {
    let settings = crate::lookup::http::HttpSettings {
        retries: 0,
        ..crate::lookup::http::HttpSettings::default()
    };
    let http = crate::lookup::http::HttpClient::new(settings, Default::default()).unwrap();
    AttestationClient::new(Arc::new(http), root(), keys())
}

/// The client as production holds it: behind the one provenance cache (memory and store).
fn cached_client() -> crate::lookup::cache::CachedAttestations<AttestationClient> {
    let store = Arc::new(crate::lookup::cache::store::Store::in_memory());
    crate::lookup::cache::CachedAttestations::new(Arc::new(client()), store, Default::default())
}

#[tokio::test]
async fn fetches_verifies_and_caches_over_loopback() {
    let server = stand_in().await;
    let client = cached_client();
    let package = PackageRef::new(Ecosystem::Npm, "sigstore");
    let case = &signature_cases()[0];
    let facts = served_facts(&server, "sigstore", vec![(case.keyid.clone(), case.sig.clone())]);
    let first = client
        .provenance(&package, "1.0.0", &RegistrySource::Public, &facts)
        .await
        .unwrap();
    assert!(matches!(first.value, Provenance::Verified(_)), "{:?}", first.value);
    let second = client
        .provenance(&package, "1.0.0", &RegistrySource::Public, &facts)
        .await
        .unwrap();
    assert_eq!(first.value, second.value);
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "the second answer comes from the cache"
    );
}

#[tokio::test]
async fn not_found_is_absent_and_server_errors_are_not_cached() {
    let server = stand_in().await;
    let client = cached_client();
    let package = PackageRef::new(Ecosystem::Npm, "left-pad");
    let facts = served_facts(&server, "left-pad", Vec::new());
    let answer = client
        .provenance(&package, "1.0.0", &RegistrySource::Public, &facts)
        .await
        .unwrap();
    assert_eq!(answer.value, Provenance::Absent);

    let broken = PackageRef::new(Ecosystem::Npm, "broken");
    let facts = served_facts(&server, "broken", Vec::new());
    let before = server.hits.load(Ordering::SeqCst);
    for _ in 0..2 {
        let answer = client
            .provenance(&broken, "1.0.0", &RegistrySource::Public, &facts)
            .await;
        assert!(
            matches!(answer, Err(LookupError::Status { status: 500, .. })),
            "{answer:?}"
        );
    }
    assert_eq!(
        server.hits.load(Ordering::SeqCst) - before,
        2,
        "a server error is not cached: the second ask goes to the network again"
    );
}

#[tokio::test]
async fn tampered_registry_signature_makes_the_version_invalid_without_fetching() {
    let client = client();
    let package = PackageRef::new(Ecosystem::Npm, "sigstore");
    let case = &signature_cases()[1];
    // tuf-js's signature offered for sigstore@1.0.0.
    let facts = facts_for(
        "1.0.0",
        SIGSTORE_100_INTEGRITY,
        None,
        vec![(case.keyid.clone(), case.sig.clone())],
    );
    let answer = client
        .provenance(&package, "1.0.0", &RegistrySource::Public, &facts)
        .await
        .unwrap();
    assert!(matches!(answer.value, Provenance::Invalid { .. }), "{:?}", answer.value);
}

#[test]
fn replacement_root_is_read_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root.json");
    std::fs::write(&path, TRUSTED_ROOT).unwrap();
    let root = TrustRoot::load(Some(&path)).unwrap();
    assert!(root.label.contains("root.json"));
    assert!(TrustRoot::load(Some(&dir.path().join("missing.json"))).is_err());
    std::fs::write(&path, b"{}").unwrap();
    assert!(TrustRoot::load(Some(&path)).is_err());
}

// The older npm/cli bundles (pre-1.0 layout: tlog entries under `verificationData`).

const OLD_VALID: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/sigstore/valid-bundle.json"
));
const OLD_BAD_SIGNATURE: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/sigstore/invalid-signature-bundle.json"
));
const OLD_DIGEST_MISMATCH: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/sigstore/digest-mismatch-provenance-bundle.json"
));
/// sha512 of npmcli-libnpmpublish-test-1.0.0.tgz, the tarball valid-bundle.json describes.
const LIBNPMPUBLISH_TEST_SHA512: &str = "ba5d2ecfa66724e1fafe473489339464a86ef4b5c69718ad94731f311b2d60578a83134b3393af9828aef83dc5edb19126a8aeda55253c31ec1909cbfd48f66f";

/// Moves `verificationData.tlogEntries` into `verificationMaterial` (v0.1 layout) and wraps the
/// bundle as a registry attestations answer.
fn old_layout_answer(bytes: &[u8]) -> Vec<u8> {
    let mut bundle: Value = serde_json::from_slice(bytes).unwrap();
    let data = bundle.as_object_mut().unwrap().remove("verificationData").unwrap();
    bundle["verificationMaterial"]["tlogEntries"] = data["tlogEntries"].clone();
    bundle["mediaType"] = Value::String("application/vnd.dev.sigstore.bundle+json;version=0.1".to_string());
    serde_json::to_vec(&serde_json::json!({
        "attestations": [ { "predicateType": "https://slsa.dev/provenance/v0.2", "bundle": bundle } ]
    }))
    .unwrap()
}

fn libnpmpublish_test(answer: &[u8]) -> Provenance {
    let integrity = format!("sha512-{}", b64(&hex::decode(LIBNPMPUBLISH_TEST_SHA512).unwrap()));
    verify_npm_attestations(
        answer,
        "@npmcli/libnpmpublish-test",
        "1.0.0",
        &integrity,
        &root(),
        &keys(),
    )
}

#[test]
fn old_layout_valid_bundle_verifies_with_an_email_identity() {
    let Provenance::Verified(id) = libnpmpublish_test(&old_layout_answer(OLD_VALID)) else {
        panic!("expected Verified");
    };
    assert_eq!(id.san.as_deref(), Some("brian@dehamer.com"));
    assert_eq!(id.source_repository, None);
    assert_eq!(id.workflow, None);
    assert_eq!(id.git_ref, None);
}

#[test]
fn old_layout_scrambled_signature_fails() {
    let step = invalid_step(libnpmpublish_test(&old_layout_answer(OLD_BAD_SIGNATURE)));
    assert!(step.starts_with("SLSA provenance:"), "{step}");
}

#[test]
fn old_layout_digest_mismatch_fails_on_the_digest() {
    assert_eq!(
        invalid_step(libnpmpublish_test(&old_layout_answer(OLD_DIGEST_MISMATCH))),
        "SLSA provenance: subject digest does not match dist.integrity"
    );
}

#[tokio::test]
async fn concurrent_asks_share_one_fetch() {
    let server = stand_in().await;
    let client = cached_client();
    let package = PackageRef::new(Ecosystem::Npm, "sigstore");
    let facts = served_facts(&server, "sigstore", Vec::new());
    let ask = || client.provenance(&package, "1.0.0", &RegistrySource::Public, &facts);
    let (a, b, c) = futures::join!(ask(), ask(), ask());
    for answer in [a, b, c] {
        assert!(matches!(answer.unwrap().value, Provenance::Verified(_)));
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn unverifiable_registry_signatures_are_not_tampering() {
    let client = client();
    let package = PackageRef::new(Ecosystem::Npm, "sigstore");
    let case = &signature_cases()[0];
    // An expiring key and no trustworthy publish time (the mirror's case), no attestations.
    let mut facts = facts_for(
        "1.0.0",
        SIGSTORE_100_INTEGRITY,
        None,
        vec![(case.keyid.clone(), case.sig.clone())],
    );
    facts.versions[0].published = crate::model::PublishTime::NONE;
    let answer = client
        .provenance(&package, "1.0.0", &RegistrySource::Public, &facts)
        .await
        .unwrap();
    assert_eq!(answer.value, Provenance::Absent);
    // A key this build does not know (rotated after release).
    let facts = facts_for(
        "1.0.0",
        SIGSTORE_100_INTEGRITY,
        None,
        vec![("SHA256:rotated".to_string(), case.sig.clone())],
    );
    let package = PackageRef::new(Ecosystem::Npm, "sigstore-rotated");
    let answer = client
        .provenance(&package, "1.0.0", &RegistrySource::Public, &facts)
        .await
        .unwrap();
    assert_eq!(answer.value, Provenance::Absent);
}

#[tokio::test]
async fn oversized_answers_are_refused() {
    let server = stand_in().await;
    let client = client();
    let package = PackageRef::new(Ecosystem::Npm, "huge");
    let facts = served_facts(&server, "huge", Vec::new());
    let answer = client
        .provenance(&package, "1.0.0", &RegistrySource::Public, &facts)
        .await;
    match answer {
        Err(LookupError::Transport { message, .. }) => assert!(message.contains("larger than 4 MB"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// Attestations go through the shared hardened client: a 500 is retried, a chunked answer past the
/// cap is refused while it streams.
#[tokio::test]
async fn attestations_are_retried_and_capped_without_content_length() {
    use crate::testing::{Fault, FixtureServer, registry_fixtures};
    let server = FixtureServer::start(registry_fixtures()).unwrap();
    let body = std::fs::read(crate::testing::fixtures_dir().join("sigstore/valid-sigstore-attestations.json")).unwrap();
    server.set_body("/-/npm/v1/attestations/sigstore@1.0.0", body);
    server.inject(
        "/-/npm/v1/attestations/sigstore@1.0.0",
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        Some(1),
    );
    server.inject(
        "/-/npm/v1/attestations/huge@1.0.0",
        Fault::Chunked(64 * 1024 * 1024),
        None,
    );
    let settings = crate::lookup::http::HttpSettings {
        backoff: std::time::Duration::from_millis(10),
        ..crate::lookup::http::HttpSettings::default()
    };
    let http = Arc::new(crate::lookup::http::HttpClient::new(settings, Default::default()).unwrap());
    let client = AttestationClient::new(http, root(), keys());
    let case = &signature_cases()[0];
    let url = format!("{}/-/npm/v1/attestations/sigstore@1.0.0", server.url());
    let facts = facts_for(
        "1.0.0",
        SIGSTORE_100_INTEGRITY,
        Some(url),
        vec![(case.keyid.clone(), case.sig.clone())],
    );
    let package = PackageRef::new(Ecosystem::Npm, "sigstore");
    let answer = client
        .provenance(&package, "1.0.0", &RegistrySource::Public, &facts)
        .await
        .unwrap();
    assert!(matches!(answer.value, Provenance::Verified(_)), "{:?}", answer.value);
    assert_eq!(server.request_count(), 2, "the 503 was retried once");

    let url = format!("{}/-/npm/v1/attestations/huge@1.0.0", server.url());
    let facts = facts_for("1.0.0", SIGSTORE_100_INTEGRITY, Some(url), Vec::new());
    let huge = PackageRef::new(Ecosystem::Npm, "huge");
    match client.provenance(&huge, "1.0.0", &RegistrySource::Public, &facts).await {
        Err(LookupError::Transport { message, .. }) => assert!(message.contains("larger than 4 MB"), "{message}"),
        other => panic!("{other:?}"),
    }
}
