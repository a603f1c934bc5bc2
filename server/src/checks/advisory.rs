//! OSV advisories (incl. OpenSSF `MAL-` malicious-package records) against the checked version.
//!
//! Stub: range semantics, severity mapping and the check are filled in by the OSV work.

use crate::checks::{CheckCtx, Finding, FindingKind, ResolvedDep};
use crate::model::{Advisory, PackageRef, Severity};

/// Whether `advisory` affects `version` of `package`, per the OSV schema.
pub fn affects(_advisory: &Advisory, _package: &PackageRef, _version: &str) -> bool {
    false
}

/// The finding kind and default severity of an advisory.
pub fn classify(_advisory: &Advisory) -> (FindingKind, Severity) {
    (FindingKind::Advisory, Severity::Warning)
}

pub fn check(_ctx: &CheckCtx<'_>, _dep_idx: usize, _dep: &ResolvedDep, _acc: &mut Vec<Finding>) {}

/// Every `fixed` event of the advisory's entries for `package`.
pub fn fixed_versions(_advisory: &Advisory, _package: &PackageRef) -> Vec<String> {
    Vec::new()
}
