//! Test support shared by unit tests and other test targets (through the `test-support` feature):
//! the loopback fixture server and paths to the committed fixtures.

pub mod fixture_server;
mod loopback;
pub mod replay;
pub mod sigstore;
#[cfg(feature = "test-support")]
pub mod tls_server;

pub use fixture_server::{Fault, FixtureServer, RecordedRequest};
#[cfg(feature = "test-support")]
pub use tls_server::{TlsFixtureServer, test_ca_file};

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
}

/// `fixtures/registry`, laid out as URL paths (`npm/<name>`, `crates/<prefix>/<name>`,
/// `pypi/pypi/<name>/json`, `pypi/simple/<name>/index.json`).
pub fn registry_fixtures() -> std::path::PathBuf {
    fixtures_dir().join("registry")
}
