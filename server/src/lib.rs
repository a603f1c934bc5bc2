//! Gatehouse: checks dependencies for supply-chain attacks as they are typed.
//!
//! Modules in pipeline order: `model` (vocabulary) → `manifest` (text → dependencies) → `resolve`
//! (requirement → version) → `checks` → `policy` → `fix` → `engine` (the pure core) → `report`
//! (LSP, human, JSON, SARIF); `lookup` owns all IO; `config` merges settings; `project` composes a
//! document's context for `lsp` and `cli`, the composition roots.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

// The shared vocabulary.
pub mod model;
// The pure core, in pipeline order: text → dependencies → versions,
pub mod manifest;
pub mod resolve;
// → findings → severities and suppressions,
pub mod checks;
pub mod policy;
// → the nearest safe version,
pub mod fix;
// → the analysis (the one place that knows the order).
pub mod engine;
// All network, disk, environment and clock.
pub mod lookup;
// Analysis → LSP, human text, JSON, SARIF.
pub mod report;
// Settings merged once into typed values.
pub mod config;
// The composition `lsp` and `cli` share.
pub mod project;
// The composition roots.
pub mod cli;
pub mod lsp;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
