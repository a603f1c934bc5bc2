//! End-to-end tests: drive the real `gatehouse` binary over stdio (LSP) and as a CLI.

mod cli;
mod credentials;
mod harness;
mod hostile;
mod lsp;
mod mirror;
mod online;
mod osv_export;
mod preadvisory;
mod private_sources;
mod truth;
