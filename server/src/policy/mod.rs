//! The team's policy: thresholds, severity overrides, allow/deny lists and suppressions, applied to the
//! findings the checks emitted.
//!
//! Invariants:
//! - Pure: the policy arrives validated (`config` builds it); `now` comes from the caller.
//! - A suppression needs a `reason`; one without, or with a past `until`, is itself reported, and an
//!   expired one stops applying (its finding resurfaces with a note).
//! - Allowed packages lose every finding except `malicious`; denied packages get an error on any use.

pub mod cooldown;

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
    /// (check, only this ecosystem, override); later entries win, ecosystem-specific beats general.
    pub severity: Vec<(FindingKind, Option<Ecosystem>, SeverityOverride)>,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
    pub ignores: Vec<Ignore>,
}

/// What the policy made of one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Keep(Finding),
    Suppressed { finding: Finding, by: usize },
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

    /// Applies overrides, allow list and suppressions to one finding.
    pub fn apply(&self, mut finding: Finding, package: &PackageRef, now: Timestamp) -> Option<Verdict> {
        if self.is_allowed(package) && finding.kind != FindingKind::Malicious {
            return None;
        }
        match self.override_for(finding.kind, package.ecosystem) {
            Some(SeverityOverride::Off) => return None,
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
                by: ignore.index,
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
