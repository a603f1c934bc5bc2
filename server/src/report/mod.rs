//! `Analysis` → what people and machines read: LSP diagnostics, hovers and edits (`lsp.rs`), terminal
//! text (`human.rs`), the JSON contract (`json.rs`) and SARIF 2.1.0 (`sarif.rs`).
//!
//! Invariants:
//! - Byte spans become client positions here only (UTF-16 by default, UTF-8 when negotiated).
//! - JSON and SARIF are public contracts: additive changes only.
//! - No IO: writers are passed in.

pub mod human;
pub mod json;
pub mod lsp;
pub mod overrides;
pub mod sarif;

use line_index::{LineCol, LineIndex, TextSize, WideEncoding};

use crate::checks::{Evidence, Finding};
use crate::engine::{Analysis, AnalyzedDep, CheckState, CheckStates, Status};
use crate::fix::Fix;
use crate::manifest::SyntaxIssue;
use crate::model::{PolicyIssue, Provenance, Severity, Span};

/// Converts byte offsets of one text to line/character positions.
pub struct Positions {
    index: LineIndex,
    len: usize,
    utf16: bool,
}

/// A 0-based line and character (UTF-16 code units unless UTF-8 was negotiated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

impl Positions {
    pub fn new(text: &str, utf16: bool) -> Positions {
        Positions {
            index: LineIndex::new(text),
            len: text.len(),
            utf16,
        }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = u32::try_from(offset.min(self.len)).unwrap_or(u32::MAX);
        let line_col = self.index.line_col(TextSize::from(offset));
        if self.utf16
            && let Some(wide) = self.index.to_wide(WideEncoding::Utf16, line_col)
        {
            return Position {
                line: wide.line,
                character: wide.col,
            };
        }
        Position {
            line: line_col.line,
            character: line_col.col,
        }
    }

    /// The byte offset of a client position, clamped into the text.
    pub fn offset(&self, position: Position) -> usize {
        let line_col = if self.utf16 {
            self.index.to_utf8(
                WideEncoding::Utf16,
                line_index::WideLineCol {
                    line: position.line,
                    col: position.character,
                },
            )
        } else {
            Some(LineCol {
                line: position.line,
                col: position.character,
            })
        };
        let resolved = line_col.and_then(|lc| self.index.offset(lc)).map(u32::from);
        match resolved {
            Some(offset) => (offset as usize).min(self.len),
            None => {
                // Past the end of a line: the end of that line, or of the text.
                match self.index.line(position.line) {
                    Some(range) => u32::from(range.end()) as usize,
                    None => self.len,
                }
            }
        }
    }

    pub fn range(&self, span: Span) -> (Position, Position) {
        (self.position(span.start), self.position(span.end))
    }
}

/// The advisory ids and links of a finding, for hovers and SARIF.
pub fn advisory_link(finding: &Finding) -> Option<String> {
    finding.url.clone().or_else(|| {
        finding.evidence.iter().find_map(|e| match e {
            Evidence::Advisory { url, .. } if !url.is_empty() => Some(url.clone()),
            _ => None,
        })
    })
}

/// One sentence about the fix, for messages and hovers.
pub fn describe_fix(fix: &Fix) -> String {
    match fix {
        Fix::Update {
            version,
            requirement,
            lockfile_command,
        } => {
            let target = if requirement.trim_start_matches(['=', 'v']) == version {
                format!("`{requirement}`")
            } else {
                format!("`{requirement}` ({version})")
            };
            match lockfile_command {
                Some(command) => format!("fix: {target} clears every finding, then run `{command}`"),
                None => format!("fix: {target} clears every finding"),
            }
        }
        Fix::Remove { reason } => reason.clone(),
        Fix::NoSafeVersion { reason } => reason.clone(),
        Fix::Override {
            package,
            version,
            instruction,
            command,
            ..
        } => format!("fix: pin {package} to {version}: {instruction}, then run `{command}`"),
        Fix::UpgradeDirect {
            direct,
            version,
            requirement,
            package,
            reason,
            command,
        } => format!(
            "fix: update {direct} to `{requirement}` ({version}), which no longer pulls in this {package} ({reason}), then run `{command}`"
        ),
    }
}

/// Text for a dependency's provenance in hovers and JSON.
pub fn provenance_label(provenance: &Provenance) -> (&'static str, String) {
    match provenance {
        Provenance::Verified(identity) => {
            let mut parts = Vec::new();
            if let Some(repo) = &identity.source_repository {
                parts.push(format!("built by {repo}"));
            }
            if let Some(workflow) = &identity.workflow {
                parts.push(format!("workflow {workflow}"));
            }
            if let Some(commit) = &identity.source_commit {
                parts.push(format!("commit {}", commit.get(..12).unwrap_or(commit)));
            }
            parts.push("verified offline against the Sigstore trusted root".to_string());
            ("verified", parts.join(", "))
        }
        Provenance::Absent => ("absent", "no provenance attestation".to_string()),
        Provenance::Invalid { step } => ("invalid", step.clone()),
        Provenance::Unknown { reason } => ("unknown", reason.clone()),
    }
}

/// What the status of a dependency means to a person.
pub fn describe_status(dep: &AnalyzedDep) -> Option<String> {
    match &dep.status {
        Status::Checked => dep.stale_as_of.map(|as_of| {
            let as_of = as_of.strftime("%Y-%m-%d %H:%M UTC");
            match &dep.stale_reason {
                Some(why) => format!("stale: showing data as of {as_of}; the refresh failed: {why}"),
                None => format!("offline: showing data as of {as_of}"),
            }
        }),
        Status::Pending => Some("checking…".to_string()),
        Status::Unavailable(reason) => Some(format!("could not check: {reason}")),
        Status::Skipped(reason) => Some(format!("skipped: {reason}")),
    }
}

/// One line per check for the hover: `advisory: checked · age: could not be done (registry 500)`.
pub fn describe_checks(dep: &AnalyzedDep) -> Option<String> {
    if matches!(dep.status, Status::Skipped(_)) {
        return None;
    }
    let parts: Vec<String> = dep
        .checks
        .iter()
        .into_iter()
        .map(|(name, state)| match state {
            CheckState::Checked => format!("{name}: checked"),
            CheckState::Pending => format!("{name}: checking…"),
            CheckState::Unavailable(reason) => format!("{name}: **not checked** ({reason})"),
            CheckState::Skipped(reason) => format!("{name}: skipped ({reason})"),
            CheckState::Off => format!("{name}: off (policy)"),
            CheckState::Degraded(reason) | CheckState::CheckedFrom(reason) => format!("{name}: checked, {reason}"),
        })
        .collect();
    Some(parts.join(" · "))
}

/// How many packages had each check left undone, in `CheckStates::NAMES` order.
pub fn unchecked_by_check(analysis: &Analysis) -> [usize; 4] {
    let mut res = [0; 4];
    for dep in &analysis.deps {
        for (idx, (_, state)) in dep.checks.iter().into_iter().enumerate() {
            if state.is_incomplete() {
                res[idx] += 1;
            }
        }
    }
    res
}

/// `advisory 3, age 5` for the summaries; empty when every check was done.
pub fn describe_unchecked(by_check: &[usize; 4]) -> String {
    CheckStates::NAMES
        .iter()
        .zip(by_check)
        .filter(|(_, n)| **n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Severity counts, for summaries and the status bar.
pub fn counts(analysis: &Analysis) -> [usize; 4] {
    let mut res = [0; 4];
    for finding in &analysis.findings {
        let idx = match finding.severity {
            Severity::Error => 0,
            Severity::Warning => 1,
            Severity::Information => 2,
            Severity::Hint => 3,
        };
        res[idx] += 1;
    }
    res
}

/// A syntax or policy problem shown as a plain diagnostic.
pub struct PlainIssue {
    pub span: Span,
    pub severity: Severity,
    pub message: String,
    pub code: &'static str,
}

pub fn syntax_issues(issues: &[SyntaxIssue]) -> Vec<PlainIssue> {
    issues
        .iter()
        .map(|issue| PlainIssue {
            span: issue.span,
            severity: Severity::Warning,
            message: issue.message.clone(),
            code: "syntax",
        })
        .collect()
}

pub fn policy_issue_text(issue: &PolicyIssue) -> String {
    format!("[[ignore]] #{}: {}", issue.ignore_index + 1, issue.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{self, Input, RegistryRules};
    use crate::manifest::{self, ManifestKind};
    use crate::model::{Ecosystem, Fact, Facts, PackageFacts, PackageRef, VersionFacts};
    use crate::policy::Policy;
    use jiff::Timestamp;

    /// An answer older than its time to live whose refresh failed is still used, and every report says
    /// so: JSON on the package (when, why) and in the summary, the text summary, SARIF as a warning.
    #[test]
    fn a_stale_answer_says_when_and_why_in_every_report() {
        let text = "{\"dependencies\": {\"a\": \"1.0.0\"}}";
        let parsed = manifest::parse(ManifestKind::PackageJson, text);
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let as_of = Timestamp::from_second(1_690_000_000).unwrap();
        let a = PackageRef::new(Ecosystem::Npm, "a");
        let mut facts = Facts::default();
        facts.packages.insert(
            a.clone(),
            Fact::Known {
                value: std::sync::Arc::new(PackageFacts {
                    versions: vec![VersionFacts {
                        version: "1.0.0".into(),
                        published: Some(as_of).into(),
                        ..VersionFacts::default()
                    }],
                    created: Some(as_of),
                    ..PackageFacts::default()
                }),
                as_of,
                stale: true,
            },
        );
        facts.advisories.insert(
            a.clone(),
            Fact::Known {
                value: Vec::new(),
                as_of: now,
                stale: false,
            },
        );
        facts.refresh_errors.insert(a, "registry answered 503".to_string());
        let registries = RegistryRules::default();
        let input = Input {
            manifest: &parsed,
            lockfile: None,
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        let analysis = engine::evaluate(&input, &facts, &Policy::default(), now);
        let mut report = json::Report::new();
        report.add("package.json", text, &analysis);
        let value = serde_json::to_value(&report).unwrap();
        let package = &value["packages"][0];
        assert_eq!(package["stale_as_of"], as_of.to_string(), "{value}");
        assert_eq!(package["stale_reason"], "registry answered 503", "{value}");
        assert_eq!(value["summary"]["stale_packages"], 1, "{value}");

        let mut human = human::Human::new(false);
        let mut out = Vec::new();
        human.add(&mut out, "package.json", text, &analysis).unwrap();
        human.summary(&mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("1 checked against data as of 2023-07-22 04:26 UTC (offline or the refresh failed)"),
            "{out}"
        );

        let mut sarif = sarif::Sarif::new();
        sarif.add("package.json", text, &analysis);
        let value = sarif.to_value();
        let notification = &value["runs"][0]["invocations"][0]["toolExecutionNotifications"][0];
        assert_eq!(notification["level"], "warning", "{value}");
        assert!(
            notification["message"]["text"]
                .as_str()
                .unwrap()
                .contains("the refresh failed: registry answered 503"),
            "{value}"
        );
    }
}
