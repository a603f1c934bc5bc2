//! Stub: filled in by later work.

use crate::checks::{CheckCtx, Finding, ResolvedDep};

pub fn check(_ctx: &CheckCtx<'_>, _dep_idx: usize, _dep: &ResolvedDep, _acc: &mut Vec<Finding>) {}

/// Which versions the engine should ask to verify for `dep`.
pub fn provenance_versions(_dep: &ResolvedDep, _facts: &crate::model::PackageFacts) -> Vec<String> {
    Vec::new()
}
