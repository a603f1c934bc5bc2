//! The team's policy: thresholds, severity overrides, allow/deny lists and suppressions, applied to the
//! findings the checks emitted.
//!
//! Invariants:
//! - Pure: the policy arrives validated (`config` builds it); `now` comes from the caller.
//! - A suppression needs a `reason`; one without, or with a past `until`, is itself reported, and an
//!   expired one stops applying (its finding resurfaces with a note).
//! - Allowed packages lose every finding except `malicious`; denied packages get an error on any use.
//! - A suppressed finding is returned as `Verdict::Suppressed` with what suppressed it, never dropped.
//! - An untrusted project's policy carries the user's own (`untrusted_floor`); `engine` shows what the
//!   project loosens as information and never lets it lower a malicious or fresh-publish finding.

pub mod cooldown;

/// The signal rule lives with its check; `config` fills it through `policy`.
pub use crate::checks::signals::{SIGNAL_KINDS, SignalRules};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::checks::{AgeThresholds, Finding, FindingKind};
use crate::model::{Ecosystem, PackageRef, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeverityOverride {
    Level(Severity),
    Off,
}

/// One `[[ignore]]` entry of `gatehouse.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// Position in the `[[ignore]]` array, for diagnostics.
    pub index: usize,
    pub id: Option<String>,
    pub package: Option<String>,
    pub reason: Option<String>,
    pub until: Option<Date>,
}

impl Ignore {
    fn matches(&self, finding: &Finding, package: &PackageRef) -> bool {
        if self.id.is_none() && self.package.is_none() {
            return false;
        }
        let id_ok = self.id.as_ref().is_none_or(|id| {
            finding.id.eq_ignore_ascii_case(id)
                || finding.aliases.iter().any(|a| a.eq_ignore_ascii_case(id))
                || finding.kind.code() == id
        });
        let package_ok = self.package.as_ref().is_none_or(|name| package_matches(name, package));
        id_ok && package_ok
    }

    fn expired(&self, now: Timestamp) -> bool {
        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        self.until.is_some_and(|until| until < today)
    }
}

/// `name` or `ecosystem:name`, compared after the ecosystem's normalisation.
fn package_matches(pattern: &str, package: &PackageRef) -> bool {
    if let Some((eco, name)) = pattern.split_once(':')
        && let Some(ecosystem) = Ecosystem::from_osv_name(eco)
    {
        return ecosystem == package.ecosystem && package.ecosystem.normalize_name(name) == package.name;
    }
    package.ecosystem.normalize_name(pattern) == package.name
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub age: AgeThresholds,
    /// The judgement rule of the pre-advisory signals (`[policy.signals]`).
    pub signals: SignalRules,
    /// (check, only this ecosystem, override); later entries win, ecosystem-specific beats general.
    pub severity: Vec<(FindingKind, Option<Ecosystem>, SeverityOverride)>,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    pub ignores: Vec<Ignore>,
    /// Set when this policy includes an untrusted project's files: the policy of the user's own
    /// settings. What the project loosens against it stays visible (`engine` compares the two).
    pub untrusted_floor: Option<Box<Policy>>,
}

/// What turned a finding off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suppression {
    /// The `[[ignore]]` entry at this index.
    Ignore(usize),
    /// `policy.severity.<check> = "off"` (or per ecosystem).
    SeverityOff,
    /// `policy.allow`.
    Allowed,
}

impl Suppression {
    /// How a hover or a report names it.
    pub fn describe(self) -> String {
        match self {
            Suppression::Ignore(idx) => format!("[[ignore]] #{idx}"),
            Suppression::SeverityOff => "a severity set to off".to_string(),
            Suppression::Allowed => "the allow list".to_string(),
        }
    }
}

/// What the policy made of one finding. Nothing is dropped silently: a suppressed finding is kept
/// with what suppressed it, for hovers and the per-file summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep(Finding),
    Suppressed { finding: Finding, by: Suppression },
}

impl Verdict {
    /// The severity the finding is shown at; `None` when suppressed.
    pub fn shown_at(&self) -> Option<Severity> {
        match self {
            Verdict::Keep(finding) => Some(finding.severity),
            Verdict::Suppressed { .. } => None,
        }
    }
}

pub use crate::model::{PolicyIssue, PolicyIssueKind};

impl Policy {
    pub fn is_denied(&self, package: &PackageRef) -> bool {
        self.deny.iter().any(|p| package_matches(p, package))
    }

    fn is_allowed(&self, package: &PackageRef) -> bool {
        self.allow.iter().any(|p| package_matches(p, package))
    }

    fn override_for(&self, kind: FindingKind, ecosystem: Ecosystem) -> Option<SeverityOverride> {
        let specific = self
            .severity
            .iter()
            .rev()
            .find(|(k, eco, _)| *k == kind && *eco == Some(ecosystem));
        let general = self
            .severity
            .iter()
            .rev()
            .find(|(k, eco, _)| *k == kind && eco.is_none());
        specific.or(general).map(|(_, _, level)| *level)
    }

    /// True when the policy turns `kind` off for `ecosystem` (`severity.<check> = "off"`).
    pub fn is_off(&self, kind: FindingKind, ecosystem: Ecosystem) -> bool {
        self.override_for(kind, ecosystem) == Some(SeverityOverride::Off)
    }

    /// Applies overrides, allow list and suppressions to one finding. Always `Some` (kept for callers
    /// that filter).
    pub fn apply(&self, mut finding: Finding, package: &PackageRef, now: Timestamp) -> Option<Verdict> {
        if self.is_allowed(package) && finding.kind != FindingKind::Malicious {
            return Some(Verdict::Suppressed {
                finding,
                by: Suppression::Allowed,
            });
        }
        match self.override_for(finding.kind, package.ecosystem) {
            Some(SeverityOverride::Off) => {
                return Some(Verdict::Suppressed {
                    finding,
                    by: Suppression::SeverityOff,
                });
            }
            Some(SeverityOverride::Level(level)) => finding.severity = level,
            None => {}
        }
        for ignore in &self.ignores {
            if !ignore.matches(&finding, package) {
                continue;
            }
            if ignore.expired(now) {
                if let Some(until) = ignore.until {
                    finding.message = format!("{} (suppression expired on {until})", finding.message);
                }
                continue;
            }
            if ignore.reason.is_none() {
                continue;
            }
            return Some(Verdict::Suppressed {
                finding,
                by: Suppression::Ignore(ignore.index),
            });
        }
        Some(Verdict::Keep(finding))
    }

    /// Problems with the suppressions themselves.
    pub fn issues(&self, now: Timestamp, used: &[usize]) -> Vec<PolicyIssue> {
        let mut res = Vec::new();
        for ignore in &self.ignores {
            let mut issue = |kind: PolicyIssueKind, message: String, severity: Severity| {
                res.push(PolicyIssue {
                    ignore_index: ignore.index,
                    kind,
                    message,
                    severity,
                })
            };
            if ignore.id.is_none() && ignore.package.is_none() {
                issue(
                    PolicyIssueKind::NoTarget,
                    "suppression names neither `id` nor `package`".to_string(),
                    Severity::Warning,
                );
            }
            if ignore.reason.is_none() {
                issue(
                    PolicyIssueKind::NoReason,
                    "suppression has no `reason`, so it does not apply".to_string(),
                    Severity::Warning,
                );
            }
            if let Some(until) = ignore.until.filter(|_| ignore.expired(now)) {
                issue(
                    PolicyIssueKind::Expired,
                    format!("suppression expired on {until}; its findings are reported again"),
                    Severity::Warning,
                );
            } else if !used.contains(&ignore.index) && ignore.reason.is_some() {
                issue(
                    PolicyIssueKind::Unused,
                    "suppression matched no finding".to_string(),
                    Severity::Hint,
                );
            }
        }
        res
    }
}
