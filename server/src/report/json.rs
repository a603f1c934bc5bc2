//! The JSON contract of `gatehouse check --format json` (documented in the README; additive changes only).

use serde::Serialize;

use crate::engine::{Analysis, AnalyzedDep};
use crate::fix::Fix;
use crate::report::{Position, Positions, provenance_label};

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub findings: Vec<JsonFinding>,
    pub packages: Vec<JsonPackage>,
    pub errors: Vec<JsonError>,
    /// What could not be checked or read (additive to version 1).
    pub summary: JsonSummary,
    #[serde(skip)]
    unread_sources: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct JsonSummary {
    pub packages: usize,
    /// Packages with at least one enabled check that could not be done.
    pub unchecked_packages: usize,
    /// Per check: how many packages it could not be done for.
    pub unchecked: std::collections::BTreeMap<&'static str, usize>,
    /// Files (manifests, lockfiles, includes, named files) that could not be read or parsed.
    pub unread_files: usize,
    /// Packages checked against answers older than their time to live (`stale_as_of`).
    pub stale_packages: usize,
}

/// Each check's state as a string; the reasons sit beside them in `check_reasons`.
#[derive(Debug, Serialize)]
pub struct JsonChecks {
    pub advisory: &'static str,
    pub age: &'static str,
    pub availability: &'static str,
    pub provenance: &'static str,
}

#[derive(Debug, Serialize)]
pub struct JsonRange {
    pub start: Position,
    pub end: Position,
}

#[derive(Debug, Serialize)]
pub struct JsonFix {
    pub version: String,
    pub requirement: String,
}

/// A transitive package's fix: its override in the package manager's syntax (additive field).
#[derive(Debug, Serialize)]
pub struct JsonOverride {
    pub package: String,
    pub version: String,
    pub manager: &'static str,
    pub instruction: String,
    pub command: String,
}

/// A transitive package's fix through its direct dependency (additive field).
#[derive(Debug, Serialize)]
pub struct JsonUpgradeDirect {
    /// The direct dependency to update.
    pub package: String,
    pub version: String,
    pub requirement: String,
    /// Why the update leaves the affected version, from the registry's metadata.
    pub reason: String,
    pub command: String,
}

#[derive(Debug, Serialize)]
pub struct JsonFinding {
    pub file: String,
    pub range: JsonRange,
    pub ecosystem: &'static str,
    pub package: String,
    pub requirement: Option<String>,
    pub version: Option<String>,
    pub version_source: &'static str,
    pub check: &'static str,
    pub code: &'static str,
    pub id: String,
    pub aliases: Vec<String>,
    pub severity: &'static str,
    pub message: String,
    pub fix: Option<JsonFix>,
    /// For a transitive package: how to pin it to a safe version.
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_fix: Option<JsonOverride>,
    /// For a transitive package: the update of the direct dependency that leaves it.
    #[serde(rename = "upgradeDirect", skip_serializing_if = "Option::is_none")]
    pub upgrade_direct: Option<JsonUpgradeDirect>,
    /// For a transitive package: the path from the direct dependency.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    /// The lockfile of another package manager the package comes from, when it is not the one that
    /// decides the versions (additive field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lockfile: Option<String>,
    /// The pip constraints that decide the version checked, or what a constraints file's entry means
    /// (additive field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constrained_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct JsonProvenance {
    pub status: &'static str,
    pub details: String,
}

#[derive(Debug, Serialize)]
pub struct JsonPackage {
    pub file: String,
    pub ecosystem: &'static str,
    pub package: String,
    pub requirement: Option<String>,
    pub version: Option<String>,
    pub version_source: &'static str,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<JsonProvenance>,
    pub checks: JsonChecks,
    /// Why a check is `unavailable`, `skipped` or `off`, by check name.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub check_reasons: std::collections::BTreeMap<&'static str, String>,
    /// When the answers are older than their time to live (offline, or the refresh failed): the time
    /// of the oldest one the checks used (additive field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_as_of: Option<String>,
    /// Why they could not be refreshed, when a refresh was tried (additive field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_reason: Option<String>,
    /// The pip constraints that decide the version checked, or what a constraints file's entry means
    /// (additive field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constrained_by: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct JsonError {
    pub source: String,
    pub message: String,
}

impl Report {
    pub fn new() -> Report {
        Report {
            version: 1,
            findings: Vec::new(),
            packages: Vec::new(),
            errors: Vec::new(),
            summary: JsonSummary::default(),
            unread_sources: Vec::new(),
        }
    }

    /// A file that could not be read or yielded nothing: an error that makes the run incomplete.
    pub fn unread(&mut self, source: &str, message: &str) {
        if !self.unread_sources.iter().any(|s| s == source) {
            self.unread_sources.push(source.to_string());
            self.summary.unread_files += 1;
        }
        self.error(source, message);
    }

    /// Adds one file's analysis.
    pub fn add(&mut self, file: &str, text: &str, analysis: &Analysis) {
        let positions = Positions::new(text, true);
        for finding in &analysis.findings {
            let Some(dep) = analysis.deps.get(finding.dep) else {
                continue;
            };
            let (start, end) = positions.range(finding.span);
            let fix = match dep.fix.as_deref() {
                Some(Fix::Update {
                    version, requirement, ..
                }) if !dep.is_transitive() => Some(JsonFix {
                    version: version.clone(),
                    requirement: requirement.clone(),
                }),
                _ => None,
            };
            let override_fix = match dep.fix.as_deref() {
                Some(Fix::Override {
                    package,
                    version,
                    manager,
                    instruction,
                    command,
                }) => Some(JsonOverride {
                    package: package.clone(),
                    version: version.clone(),
                    manager,
                    instruction: instruction.clone(),
                    command: command.clone(),
                }),
                _ => None,
            };
            self.findings.push(JsonFinding {
                file: file.to_string(),
                range: JsonRange { start, end },
                ecosystem: dep.dep.package.ecosystem.osv_name(),
                package: dep.dep.package.name.clone(),
                requirement: dep.dep.requirement_text.clone(),
                version: dep.dep.resolved.version.clone(),
                version_source: dep.dep.resolved.source.as_str(),
                check: finding.kind.check_name(),
                code: finding.kind.code(),
                id: finding.id.clone(),
                aliases: finding.aliases.clone(),
                severity: finding.severity.as_str(),
                message: finding.message.clone(),
                fix,
                override_fix,
                upgrade_direct: match dep.fix.as_deref() {
                    Some(Fix::UpgradeDirect {
                        direct,
                        version,
                        requirement,
                        reason,
                        command,
                        ..
                    }) => Some(JsonUpgradeDirect {
                        package: direct.clone(),
                        version: version.clone(),
                        requirement: requirement.clone(),
                        reason: reason.clone(),
                        command: command.clone(),
                    }),
                    _ => None,
                },
                via: dep.dep.via.clone(),
                lockfile: dep.other_lockfile.clone(),
                constrained_by: dep.constrained_by.clone(),
            });
        }
        for dep in &analysis.deps {
            self.packages.push(package(file, dep));
        }
        self.summary.packages += analysis.deps.len();
        self.summary.unchecked_packages += analysis
            .deps
            .iter()
            .filter(|d| d.checks.iter().iter().any(|(_, s)| s.is_incomplete()))
            .count();
        self.summary.stale_packages += analysis.deps.iter().filter(|d| d.stale_as_of.is_some()).count();
        let by_check = crate::report::unchecked_by_check(analysis);
        for (name, n) in crate::engine::CheckStates::NAMES.iter().zip(by_check) {
            if n > 0 {
                *self.summary.unchecked.entry(name).or_default() += n;
            }
        }
        for note in &analysis.notes {
            self.errors.push(JsonError {
                source: format!("{file}: {}", note.source),
                message: note.message.clone(),
            });
        }
        for issue in &analysis.syntax {
            self.errors.push(JsonError {
                source: file.to_string(),
                message: issue.message.clone(),
            });
        }
    }

    pub fn error(&mut self, source: &str, message: &str) {
        self.errors.push(JsonError {
            source: source.to_string(),
            message: message.to_string(),
        });
    }

    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self)?;
        writeln!(out)
    }
}

impl Default for Report {
    fn default() -> Self {
        Report::new()
    }
}

fn package(file: &str, dep: &AnalyzedDep) -> JsonPackage {
    use crate::engine::{CheckState, Status};
    // The run is over: a check still pending was not done.
    let state = |state: &CheckState| match state {
        CheckState::Pending => "unavailable",
        other => other.as_str(),
    };
    let mut check_reasons = std::collections::BTreeMap::new();
    for (name, check) in dep.checks.iter() {
        match check {
            CheckState::Pending => {
                check_reasons.insert(name, "no answer before the run ended".to_string());
            }
            other => {
                if let Some(reason) = other.reason() {
                    check_reasons.insert(name, reason.to_string());
                }
            }
        }
    }
    JsonPackage {
        checks: JsonChecks {
            advisory: state(&dep.checks.advisory),
            age: state(&dep.checks.age),
            availability: state(&dep.checks.availability),
            provenance: state(&dep.checks.provenance),
        },
        check_reasons,
        file: file.to_string(),
        ecosystem: dep.dep.package.ecosystem.osv_name(),
        package: dep.dep.package.name.clone(),
        requirement: dep.dep.requirement_text.clone(),
        version: dep.dep.resolved.version.clone(),
        version_source: dep.dep.resolved.source.as_str(),
        status: match dep.status {
            Status::Checked => "checked",
            Status::Pending => "pending",
            Status::Unavailable(_) => "unavailable",
            Status::Skipped(_) => "skipped",
        },
        via: dep.dep.via.clone(),
        stale_as_of: dep.stale_as_of.map(|as_of| as_of.to_string()),
        stale_reason: dep.stale_as_of.and(dep.stale_reason.clone()),
        constrained_by: dep.constrained_by.clone(),
        provenance: dep.provenance.as_deref().map(|p| {
            let (status, details) = provenance_label(p);
            JsonProvenance { status, details }
        }),
    }
}
