//! End-to-end tests: drive the real `gatehouse` binary over stdio (LSP) and as a CLI.

mod cli;
mod harness;
mod lsp;
mod online;
mod truth;
