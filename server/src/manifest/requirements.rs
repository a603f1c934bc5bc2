//! Stub: filled in by the manifest work.

use crate::manifest::{ManifestKind, Parsed};

pub fn extract(_text: &str) -> Parsed {
    Parsed::empty(ManifestKind::Requirements)
}
