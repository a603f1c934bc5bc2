//! Trust material: the Sigstore trusted root and the npm registry signing keys, bundled with the binary
//! or read from the file the user named (`LookupSettings::trusted_root`); never fetched.

use std::path::Path;

use base64::Engine as _;
use jiff::Timestamp;
use serde::Deserialize;
use sigstore_verify::Verifier;
use sigstore_verify::trust_root::TrustedRoot;

/// The Sigstore public-good trusted root shipped with the binary (sigstore/root-signing).
pub const BUNDLED_TRUSTED_ROOT: &[u8] = include_bytes!("../../../assets/trusted_root.json");
/// The npm registry signing keys shipped with the binary (the `/-/npm/v1/keys` shape).
pub const BUNDLED_NPM_KEYS: &[u8] = include_bytes!("../../../assets/npm-keys.json");

/// A Sigstore trusted root prepared for verification, with a label for hovers.
pub struct TrustRoot {
    pub(super) verifier: Verifier,
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
                let bytes = crate::lookup::untrusted::read_untrusted(
                    path,
                    &crate::lookup::untrusted::Bounds::user_named(crate::lookup::untrusted::TRUST_ROOT_CAP),
                )
                .map_err(|err| format!("cannot read trusted root: {err}"))?;
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
    pub(super) fn valid_at(&self, at: Timestamp) -> bool {
        self.expires.is_none_or(|expires| at < expires)
    }
}
