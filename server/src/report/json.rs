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
    /// For a transitive package: the path from the direct dependency.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
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
        }
    }

    /// Adds one file's analysis.
    pub fn add(&mut self, file: &str, text: &str, analysis: &Analysis) {
        let positions = Positions::new(text, true);
        for finding in &analysis.findings {
            let Some(dep) = analysis.deps.get(finding.dep) else {
                continue;
            };
            let (start, end) = positions.range(finding.span);
            let fix = match &dep.fix {
                Some(Fix::Update {
                    version, requirement, ..
                }) if !dep.is_transitive() => Some(JsonFix {
                    version: version.clone(),
                    requirement: requirement.clone(),
                }),
                _ => None,
            };
            let override_fix = match &dep.fix {
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
                via: dep.dep.via.clone(),
            });
        }
        for dep in &analysis.deps {
            self.packages.push(package(file, dep));
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
    use crate::engine::Status;
    JsonPackage {
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
        provenance: dep.provenance.as_ref().map(|p| {
            let (status, details) = provenance_label(p);
            JsonProvenance { status, details }
        }),
    }
}
