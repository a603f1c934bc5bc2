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
//!
//! Files: `trust` (bundled trusted root and npm keys), `npm` (SLSA + publish attestations, registry
//! signatures), `pep740` (PyPI attestations), `fetch` (`AttestationClient`: the only file here that does
//! IO, through `lookup::http`).

mod fetch;
mod npm;
mod pep740;
mod trust;

pub use fetch::*;
pub use npm::*;
pub use pep740::*;
pub use trust::*;

#[cfg(test)]
mod tests;
