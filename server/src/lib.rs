//! Gatehouse: checks dependencies for supply-chain attacks as they are typed.
//!
//! Modules in pipeline order: `model` (vocabulary) → `manifest` (text → dependencies) → `resolve`
//! (requirement → version) → `checks` → `policy` → `fix` → `engine` (the pure core) → `report`
//! (LSP, human, JSON, SARIF); `lookup` owns all IO; `config` merges settings; `lsp` and `cli` are the
//! composition roots.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

pub mod checks;
pub mod cli;
pub mod config;
pub mod engine;
pub mod fix;
pub mod lookup;
pub mod lsp;
pub mod manifest;
pub mod model;
pub mod policy;
pub mod project;
pub mod report;
pub mod resolve;

#[cfg(any(test, feature = "test-support"))]
pub mod testing;
