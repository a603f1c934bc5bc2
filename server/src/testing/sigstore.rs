//! The recorded Sigstore data (`fixtures/sigstore`, origins in `fixtures/SOURCES.md`) that the
//! provenance tests and the provenance bench both verify.

/// npm's attestations answer for sigstore@1.0.0 (SLSA v0.2 provenance + npm publish attestation).
pub const ATTESTATIONS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/sigstore/valid-sigstore-attestations.json"
));

/// The SLSA v1 bundle (v0.3, inclusion proof + checkpoint) of sigstore@5.0.0.
pub const BUNDLE_V03: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/sigstore/sigstore-5.0.0-slsa-bundle-v03.json"
));

/// `dist.integrity` of sigstore@1.0.0 on the registry.
pub const SIGSTORE_100_INTEGRITY: &str =
    "sha512-e+qfbn/zf1+rCza/BhIA//Awmf0v1pa5HQS8Xk8iXrn9bgytytVLqYD0P7NSqZ6IELTgq+tcDvLPkQjNHyWLNg==";

/// `dist.integrity` of sigstore@5.0.0 on the registry.
pub const SIGSTORE_500_INTEGRITY: &str =
    "sha512-hJqJfoG/e4qFQaauQL00c6J6FrHLBGKtkFvW3JbTSIEFOhLrSjdSM/gWd/yUOfYo/gsERehTXGC1VZWX+9X4Dg==";

/// The npm registry key that signed versions published before its expiry.
pub const OLD_NPM_KEY: &str = "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA";
