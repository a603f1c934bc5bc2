//! Stub: filled in by the manifest work.

use crate::manifest::{ManifestKind, Parsed};

pub fn extract(_text: &str, _tree: Option<&tree_sitter::Tree>) -> Parsed {
    Parsed::empty(ManifestKind::Pyproject)
}
