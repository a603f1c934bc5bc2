//! Stub: filled in by the manifest work.

use crate::manifest::{Lockfile, ManifestKind};
use crate::model::Ecosystem;

pub fn parse(_text: &str) -> Lockfile {
    Lockfile {
        kind: ManifestKind::UvLock,
        ecosystem: Ecosystem::PyPI,
        packages: Vec::new(),
        roots: Vec::new(),
        issues: Vec::new(),
    }
}
