//! The checks: pure functions from a resolved dependency and the known facts to findings.
//!
//! Invariants:
//! - No check reads the clock, a file, the environment or the network: `now`, thresholds and facts come
//!   in `CheckCtx`.
//! - A check emits its default severity only; `policy` overrides and suppresses.
//! - Missing data is never safety: a check whose facts are pending or unavailable emits nothing, and the
//!   engine reports the dependency as not fully checked.
//! - One file per check: `advisory` (incl. `MAL-` records), `age`, `availability`, `provenance`, `signals`
//!   (pre-advisory signals from the registry's own metadata).

pub mod advisory;
pub mod age;
pub mod availability;
pub mod provenance;
pub mod signals;
pub mod typosquat;

use jiff::{SignedDuration, Timestamp};

pub use crate::model::{ALL_KINDS, FindingKind};
use crate::model::{Facts, PackageRef, Severity, Span};
use crate::resolve::{Requirement, Resolved};

/// Supporting data for hovers and SARIF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// An advisory: id, summary, severity label, affected ranges as text, link.
    Advisory {
        id: String,
        summary: String,
        severity: String,
        ranges: String,
        url: String,
    },
    Published(Timestamp),
    Text(String),
}

/// One problem with one dependency; how it is shown is `report`'s business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Index into the analysed dependencies (`Analysis::deps`).
    pub dep: usize,
    /// Bytes; `report` converts to client positions.
    pub span: Span,
    pub kind: FindingKind,
    /// The advisory id for advisory findings, else the kind's code.
    pub id: String,
    pub aliases: Vec<String>,
    /// Default severity; `policy` may change or suppress it.
    pub severity: Severity,
    /// One sentence, no trailing period.
    pub message: String,
    pub evidence: Vec<Evidence>,
    /// A link for the LSP `codeDescription` and SARIF `helpUri`.
    pub url: Option<String>,
}

impl Finding {
    /// A finding of `kind` at `span`, identified by the kind's code, with no aliases and no link (an
    /// advisory finding sets those itself).
    pub fn of_kind(
        dep: usize,
        span: Span,
        kind: FindingKind,
        severity: Severity,
        message: String,
        evidence: Vec<Evidence>,
    ) -> Finding {
        Finding {
            dep,
            span,
            kind,
            id: kind.code().to_string(),
            aliases: Vec::new(),
            severity,
            message,
            evidence,
            url: None,
        }
    }
}

/// A dependency with its decided version: what every check looks at.
#[derive(Debug, Clone)]
pub struct ResolvedDep {
    pub package: PackageRef,
    pub requirement_text: Option<String>,
    pub requirement: Option<Requirement>,
    pub resolved: Resolved,
    pub span: Span,
    /// For a transitive package: the chain of names from the direct dependency (`a → b → c`).
    pub via: Vec<String>,
    /// Private registry packages are not checked against public data.
    pub private: bool,
}

/// Thresholds of the age checks, as the policy decided them, with the setting that decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeThresholds {
    pub min_version_age: SignedDuration,
    pub min_package_age: SignedDuration,
    /// Human-readable name of the setting that decided `min_version_age`, for hovers.
    pub decided_by: String,
    /// Packages the project's cooldown setting exempts: names, `*` globs (`@myorg/*`), or
    /// `name@1.2.3 || 1.2.4` (pnpm) to exempt only those versions.
    pub exempt: Vec<String>,
    /// The package manager's own minimum release age: versions younger than this are refused by the
    /// installer itself, so the solver never proposes them whatever the policy says.
    pub installer_min_age: Option<SignedDuration>,
    /// uv `exclude-newer` / npm `before` as an absolute cutoff: versions published after it are refused.
    pub exclude_newer: Option<Timestamp>,
    /// uv `exclude-newer-package`: per-package cutoffs (normalised name, cutoff) that replace `exclude_newer`.
    pub exclude_newer_package: Vec<(String, Timestamp)>,
}

/// `decided_by` of the built-in default; anything else was set by a person.
pub const DEFAULT_DECIDED_BY: &str = "Gatehouse default min-version-age = 72h";

impl Default for AgeThresholds {
    fn default() -> Self {
        AgeThresholds {
            min_version_age: SignedDuration::from_hours(72),
            min_package_age: SignedDuration::from_hours(24 * 30),
            decided_by: DEFAULT_DECIDED_BY.to_string(),
            exempt: Vec::new(),
            installer_min_age: None,
            exclude_newer: None,
            exclude_newer_package: Vec::new(),
        }
    }
}

/// Everything a check may read.
pub struct CheckCtx<'a> {
    pub now: Timestamp,
    pub facts: &'a Facts,
    pub age: &'a AgeThresholds,
    /// The judgement rule of the pre-advisory signals.
    pub signals: &'a signals::SignalRules,
}

/// Runs every check on one dependency.
pub fn run_all(ctx: &CheckCtx<'_>, dep_idx: usize, dep: &ResolvedDep, acc: &mut Vec<Finding>) {
    if dep.private {
        return;
    }
    advisory::check(ctx, dep_idx, dep, acc);
    age::check(ctx, dep_idx, dep, acc);
    availability::check(ctx, dep_idx, dep, acc);
    provenance::check(ctx, dep_idx, dep, acc);
    signals::check(ctx, dep_idx, dep, acc);
}
