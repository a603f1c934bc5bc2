//! `Analysis` → LSP diagnostics, hovers and code actions. The only file outside `lsp/` that names
//! `ls_types`.
//!
//! Invariants:
//! - Diagnostics carry `source: "gatehouse"`, the finding id as `code` and a `codeDescription` link.
//! - Each fixable diagnostic carries its edit in `data` (`FixData`), so a code action needs no server state.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tower_lsp_server::ls_types as lsp;

use crate::checks::Evidence;
use crate::engine::{Analysis, AnalyzedDep};
use crate::fix::Fix;
use crate::manifest::Parsed;
use crate::model::{FindingKind, ManifestKind, Severity, Span};
use crate::report::{Position, Positions, advisory_link, describe_fix, describe_status, provenance_label};

/// The edit a diagnostic's quick fix applies, carried in `Diagnostic.data`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FixData {
    pub title: String,
    pub edits: Vec<lsp::TextEdit>,
}

/// A byte span as a client range.
pub fn to_range(positions: &Positions, span: Span) -> lsp::Range {
    let (start, end) = positions.range(span);
    lsp::Range {
        start: lsp::Position {
            line: start.line,
            character: start.character,
        },
        end: lsp::Position {
            line: end.line,
            character: end.character,
        },
    }
}

/// A client range as byte offsets `(start, end)` into the text `positions` indexes.
pub fn to_offsets(positions: &Positions, range: lsp::Range) -> (usize, usize) {
    let start = positions.offset(Position {
        line: range.start.line,
        character: range.start.character,
    });
    let end = positions.offset(Position {
        line: range.end.line,
        character: range.end.character,
    });
    (start, end)
}

fn to_severity(severity: Severity) -> lsp::DiagnosticSeverity {
    match severity {
        Severity::Error => lsp::DiagnosticSeverity::ERROR,
        Severity::Warning => lsp::DiagnosticSeverity::WARNING,
        Severity::Information => lsp::DiagnosticSeverity::INFORMATION,
        Severity::Hint => lsp::DiagnosticSeverity::HINT,
    }
}

/// The byte span a removal of dependency `dep_idx` deletes: the whole entry with its separator.
fn removal_span(text: &str, parsed: &Parsed, dep_idx: usize) -> Option<Span> {
    let dep = parsed.deps.get(dep_idx)?;
    let end_of_entry = dep
        .requirement_span
        .map_or(dep.name_span.end, |s| s.end.max(dep.name_span.end));
    let bytes = text.as_bytes();
    match parsed.kind {
        ManifestKind::PackageJson => {
            // `"name": "req"` plus its trailing comma, or the preceding comma when it is the last pair.
            let mut start = dep.name_span.start.saturating_sub(1);
            let mut end = (end_of_entry + 1).min(text.len());
            let mut after = end;
            while after < bytes.len() && (bytes[after] == b' ' || bytes[after] == b'\t') {
                after += 1;
            }
            if after < bytes.len() && bytes[after] == b',' {
                end = after + 1;
            } else {
                let mut before = start;
                while before > 0 && bytes[before - 1].is_ascii_whitespace() {
                    before -= 1;
                }
                if before > 0 && bytes[before - 1] == b',' {
                    start = before - 1;
                    return Some(Span::new(start, end));
                }
            }
            // Take the whole line when the entry is alone on it.
            let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
            if text[line_start..start].trim().is_empty() {
                let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
                if text[end..line_end].trim().is_empty() {
                    return Some(Span::new(line_start, line_end));
                }
            }
            Some(Span::new(start, end))
        }
        _ => {
            // TOML entries and requirement lines: the whole line(s).
            let line_start = text[..dep.name_span.start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[end_of_entry..]
                .find('\n')
                .map_or(text.len(), |i| end_of_entry + i + 1);
            let line = &text[line_start..line_end];
            let trimmed = line.trim_start();
            if trimmed.starts_with('"') || trimmed.starts_with('\'') {
                // A PEP 508 string inside a TOML array: the string and its comma.
                let mut start = dep.name_span.start.saturating_sub(1);
                while start > 0 && bytes[start] != b'"' && bytes[start] != b'\'' {
                    start -= 1;
                }
                let mut end = end_of_entry;
                while end < bytes.len() && bytes[end] != b'"' && bytes[end] != b'\'' && bytes[end] != b'\n' {
                    end += 1;
                }
                end = (end + 1).min(text.len());
                if end < bytes.len() && bytes[end] == b',' {
                    end += 1;
                }
                if text[line_start..start].trim().is_empty() && text[end..line_end].trim().is_empty() {
                    return Some(Span::new(line_start, line_end));
                }
                return Some(Span::new(start, end));
            }
            Some(Span::new(line_start, line_end))
        }
    }
}

/// The quick fix for one dependency, if it has one.
pub fn fix_data(text: &str, parsed: &Parsed, dep: &AnalyzedDep) -> Option<FixData> {
    if dep.is_transitive() && !matches!(dep.fix, Some(Fix::Override { .. })) {
        return None;
    }
    let positions = Positions::new(text, true);
    fix_data_with(&positions, text, parsed, dep)
}

fn fix_data_with(positions: &Positions, text: &str, parsed: &Parsed, dep: &AnalyzedDep) -> Option<FixData> {
    // A lockfile is rewritten by its package manager, never by an edit here.
    if parsed.kind.is_lockfile() {
        return None;
    }
    let direct = dep.direct?;
    let declared = parsed.deps.get(direct)?;
    match dep.fix.as_ref()? {
        Fix::Update {
            requirement,
            lockfile_command,
            ..
        } => {
            let span = declared.requirement_span?;
            let mut title = format!("Update {} to {requirement}", declared.name);
            if let Some(command) = lockfile_command {
                title.push_str(&format!(" (then run `{command}`)"));
            }
            Some(FixData {
                title,
                edits: vec![lsp::TextEdit {
                    range: to_range(positions, span),
                    new_text: requirement.clone(),
                }],
            })
        }
        Fix::Remove { .. } => {
            let span = removal_span(text, parsed, direct)?;
            Some(FixData {
                title: format!("Remove {} (malicious: no version is safe)", declared.name),
                edits: vec![lsp::TextEdit {
                    range: to_range(positions, span),
                    new_text: String::new(),
                }],
            })
        }
        Fix::NoSafeVersion { .. } => None,
        Fix::Override {
            package,
            version,
            manager,
            command,
            ..
        } => {
            let (key, nested) = match *manager {
                "npm" | "bun" => ("overrides", None),
                "yarn" => ("resolutions", None),
                "pnpm" => ("pnpm", Some("overrides")),
                _ => return None,
            };
            let edit = override_edit(text, key, nested, package, version)?;
            Some(FixData {
                title: format!("Pin {package} to {version} with \"{key}\" (then run `{command}`)"),
                edits: vec![lsp::TextEdit {
                    range: to_range(positions, edit.0),
                    new_text: edit.1,
                }],
            })
        }
    }
}

/// An insertion of `"key": { "package": "version" }` (or `"key": { "nested": { … } }`) as the last
/// member of package.json's top-level object; `None` when the key is already there (editing an
/// existing table is left to the person) or the text does not end in an object.
fn override_edit(text: &str, key: &str, nested: Option<&str>, package: &str, version: &str) -> Option<(Span, String)> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let object = value.as_object()?;
    if object.contains_key(key) {
        return None;
    }
    let close = text.trim_end().len().checked_sub(1)?;
    if text.as_bytes().get(close) != Some(&b'}') {
        return None;
    }
    let before = text[..close].trim_end();
    let separator = if object.is_empty() { "" } else { "," };
    let pin = serde_json::json!({ package: version });
    let inner = match nested {
        Some(nested) => serde_json::json!({ nested: pin }),
        None => pin,
    };
    let insertion = format!("{separator}\n  \"{key}\": {inner}\n");
    Some((Span::new(before.len(), close), insertion))
}

/// Diagnostics for one document.
pub fn to_diagnostics(text: &str, parsed: &Parsed, analysis: &Analysis, utf16: bool) -> Vec<lsp::Diagnostic> {
    let positions = Positions::new(text, utf16);
    let fix_positions = Positions::new(text, utf16);
    let mut res = Vec::new();
    let mut fixes: HashMap<usize, Option<FixData>> = HashMap::new();
    for finding in &analysis.findings {
        let Some(dep) = analysis.deps.get(finding.dep) else {
            continue;
        };
        let fix = fixes
            .entry(finding.dep)
            .or_insert_with(|| {
                if dep.is_transitive() && !matches!(dep.fix, Some(Fix::Override { .. })) {
                    None
                } else {
                    fix_data_with(&fix_positions, text, parsed, dep)
                }
            })
            .clone();
        let mut message = finding.message.clone();
        if let Some(fix) = &dep.fix
            && (!dep.is_transitive() || matches!(fix, Fix::Override { .. }))
        {
            message = format!("{message}; {}", describe_fix(fix));
        }
        if let Some(as_of) = dep.stale_as_of {
            message = format!("{message} (offline: data as of {})", as_of.strftime("%Y-%m-%d"));
        }
        let href = advisory_link(finding).and_then(|link| link.parse::<lsp::Uri>().ok());
        res.push(lsp::Diagnostic {
            range: to_range(&positions, finding.span),
            severity: Some(to_severity(finding.severity)),
            code: Some(lsp::NumberOrString::String(finding.id.clone())),
            code_description: href.map(|href| lsp::CodeDescription { href }),
            source: Some("gatehouse".to_string()),
            message,
            related_information: None,
            tags: None,
            data: fix.and_then(|f| serde_json::to_value(f).ok()),
        });
    }
    // One summary line per file for the suppressions gatehouse.toml applied (or tried), at the top.
    for note in analysis.notes.iter().filter(|note| note.source == "gatehouse.toml") {
        res.push(lsp::Diagnostic {
            range: lsp::Range::default(),
            severity: Some(lsp::DiagnosticSeverity::INFORMATION),
            code: Some(lsp::NumberOrString::String("suppressed".to_string())),
            source: Some("gatehouse".to_string()),
            message: note.message.clone(),
            ..lsp::Diagnostic::default()
        });
    }
    for issue in &analysis.syntax {
        res.push(lsp::Diagnostic {
            range: to_range(&positions, issue.span),
            severity: Some(lsp::DiagnosticSeverity::WARNING),
            code: Some(lsp::NumberOrString::String("syntax".to_string())),
            source: Some("gatehouse".to_string()),
            message: issue.message.clone(),
            ..lsp::Diagnostic::default()
        });
    }
    res
}

/// The hover for the dependency under `offset`, as markdown.
pub fn hover(
    text: &str,
    parsed: &Parsed,
    analysis: &Analysis,
    position: lsp::Position,
    utf16: bool,
) -> Option<lsp::Hover> {
    let positions = Positions::new(text, utf16);
    let offset = positions.offset(Position {
        line: position.line,
        character: position.character,
    });
    let direct = parsed
        .deps
        .iter()
        .position(|dep| dep.name_span.contains(offset) || dep.requirement_span.is_some_and(|s| s.contains(offset)))?;
    let dep = analysis
        .deps
        .iter()
        .position(|d| d.direct == Some(direct) && !d.is_transitive())?;
    let analyzed = analysis.deps.get(dep)?;
    let mut md = String::new();
    let package = &analyzed.dep.package;
    md.push_str(&format!(
        "**Gatehouse** · `{}` ({})\n\n",
        package.name, package.ecosystem
    ));
    match &analyzed.dep.resolved.version {
        Some(version) => md.push_str(&format!(
            "Checked version **{version}** ({})\n\n",
            match analyzed.dep.resolved.source {
                crate::model::VersionSource::Lockfile => "from the lockfile",
                crate::model::VersionSource::Pinned => "pinned in the manifest",
                crate::model::VersionSource::Resolved => "the highest version the requirement admits today",
                crate::model::VersionSource::Unresolved => "unresolved",
            }
        )),
        None => md.push_str("Version unresolved: checked every version the requirement admits\n\n"),
    }
    if let Some(status) = describe_status(analyzed) {
        md.push_str(&format!("_{status}_\n\n"));
    }
    if let Some(checks) = crate::report::describe_checks(analyzed) {
        md.push_str(&format!("Checks: {checks}\n\n"));
    }
    let findings: Vec<_> = analysis.findings_for(dep).collect();
    if findings.is_empty() && matches!(analyzed.status, crate::engine::Status::Checked) {
        md.push_str("No known problems.\n\n");
    }
    for finding in &findings {
        md.push_str(&format!(
            "- **{}** {} — {}\n",
            finding.severity, finding.id, finding.message
        ));
        for evidence in &finding.evidence {
            match evidence {
                Evidence::Advisory {
                    id,
                    summary,
                    severity,
                    ranges,
                    url,
                } => md.push_str(&format!(
                    "  - [{id}]({url}) {summary} (severity {severity}; affected {ranges})\n"
                )),
                Evidence::Published(at) => {
                    md.push_str(&format!("  - published {}\n", at.strftime("%Y-%m-%d %H:%M UTC")))
                }
                Evidence::Text(text) => md.push_str(&format!("  - {text}\n")),
            }
        }
    }
    for (finding, by) in analysis.suppressed.iter().filter(|(f, _)| f.dep == dep) {
        md.push_str(&format!(
            "- _suppressed by gatehouse.toml ({})_: {} {} — {}\n",
            by.describe(),
            finding.severity,
            finding.id,
            finding.message
        ));
    }
    let transitive: Vec<_> = analysis
        .deps
        .iter()
        .enumerate()
        .filter(|(_, d)| d.direct == Some(direct) && d.is_transitive())
        .filter(|(idx, _)| analysis.findings_for(*idx).next().is_some())
        .collect();
    if !transitive.is_empty() {
        md.push_str("\nThrough its dependencies:\n");
        for (idx, d) in transitive {
            for finding in analysis.findings_for(idx) {
                md.push_str(&format!(
                    "- {} {} ({}) — {}\n",
                    finding.severity,
                    finding.id,
                    d.dep.via.join(" → "),
                    finding.message
                ));
            }
        }
    }
    if let Some(fix) = &analyzed.fix {
        md.push_str(&format!("\n**{}**\n", describe_fix(fix)));
    }
    if let Some(provenance) = &analyzed.provenance {
        let (status, details) = provenance_label(provenance);
        md.push_str(&format!("\nProvenance: {status} — {details}\n"));
    }
    if findings
        .iter()
        .any(|f| matches!(f.kind, FindingKind::FreshVersion | FindingKind::FreshPackage))
    {
        md.push_str(&format!(
            "\nAge threshold decided by: {}\n",
            analysis_age_source(analysis)
        ));
    }
    let range = analyzed.dep.span;
    Some(lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent {
            kind: lsp::MarkupKind::Markdown,
            value: md,
        }),
        range: Some(to_range(&positions, range)),
    })
}

fn analysis_age_source(analysis: &Analysis) -> String {
    analysis
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter())
        .find_map(|e| match e {
            Evidence::Text(text) if text.starts_with("threshold:") => {
                Some(text.trim_start_matches("threshold:").trim().to_string())
            }
            _ => None,
        })
        .unwrap_or_else(|| "Gatehouse policy".to_string())
}

/// Code actions for `range`: the quick fix of each diagnostic there, and "fix all" for the file.
pub fn code_actions(
    uri: &lsp::Uri,
    text: &str,
    parsed: &Parsed,
    analysis: &Analysis,
    range: lsp::Range,
    utf16: bool,
) -> Vec<lsp::CodeActionOrCommand> {
    let positions = Positions::new(text, utf16);
    let (start, end) = to_offsets(&positions, range);
    let diagnostics = to_diagnostics(text, parsed, analysis, utf16);
    let mut res = Vec::new();
    let mut all_edits: Vec<lsp::TextEdit> = Vec::new();
    let mut seen_titles = Vec::new();
    for (finding, diagnostic) in analysis.findings.iter().zip(diagnostics.iter()) {
        let Some(data) = diagnostic
            .data
            .clone()
            .and_then(|d| serde_json::from_value::<FixData>(d).ok())
        else {
            continue;
        };
        if !data.edits.iter().any(|e| all_edits.contains(e)) {
            all_edits.extend(data.edits.iter().cloned());
        }
        let overlaps = finding.span.start <= end && start <= finding.span.end;
        if !overlaps || seen_titles.contains(&data.title) {
            continue;
        }
        seen_titles.push(data.title.clone());
        let related: Vec<lsp::Diagnostic> = diagnostics
            .iter()
            .filter(|d| d.data.as_ref() == diagnostic.data.as_ref())
            .cloned()
            .collect();
        res.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
            title: data.title.clone(),
            kind: Some(lsp::CodeActionKind::QUICKFIX),
            diagnostics: Some(related),
            edit: Some(workspace_edit(uri, data.edits)),
            is_preferred: Some(true),
            ..lsp::CodeAction::default()
        }));
    }
    if all_edits.len() > 1 || (!res.is_empty() && !all_edits.is_empty()) {
        res.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
            title: "Fix all Gatehouse findings in this file".to_string(),
            kind: Some(lsp::CodeActionKind::QUICKFIX),
            edit: Some(workspace_edit(uri, all_edits)),
            ..lsp::CodeAction::default()
        }));
    }
    res
}

fn workspace_edit(uri: &lsp::Uri, edits: Vec<lsp::TextEdit>) -> lsp::WorkspaceEdit {
    let mut changes = HashMap::new();
    changes.insert(uri.clone(), edits);
    lsp::WorkspaceEdit {
        changes: Some(changes),
        ..lsp::WorkspaceEdit::default()
    }
}

/// Where an "ignore" code action writes its `[[ignore]]` entry.
pub struct IgnoreTarget {
    pub uri: lsp::Uri,
    /// The current text of `gatehouse.toml`, or `None` when the file does not exist yet.
    pub text: Option<String>,
}

/// The suppression entry an "ignore until" action appends.
pub fn ignore_entry(finding: &crate::checks::Finding, package: &str, until: jiff::civil::Date) -> String {
    let key = if matches!(finding.kind, FindingKind::Advisory | FindingKind::Malicious) {
        format!("id = \"{}\"", finding.id)
    } else {
        format!("id = \"{}\"\npackage = \"{package}\"", finding.kind.code())
    };
    // The placeholder fails the reason rule, so the entry suppresses nothing until a person says why.
    format!(
        "[[ignore]]\n{key}\nreason = \"{}\"\nuntil = {until}\n",
        crate::model::IGNORE_REASON_PLACEHOLDER
    )
}

/// "Ignore … until …" actions for the findings overlapping `range`: each appends an `[[ignore]]` entry to
/// `gatehouse.toml`, creating the file when it is missing.
pub fn ignore_actions(
    text: &str,
    analysis: &Analysis,
    range: lsp::Range,
    utf16: bool,
    target: &IgnoreTarget,
    until: jiff::civil::Date,
) -> Vec<lsp::CodeActionOrCommand> {
    let positions = Positions::new(text, utf16);
    let (start, end) = to_offsets(&positions, range);
    let mut res = Vec::new();
    let mut seen = Vec::new();
    for finding in &analysis.findings {
        if !(finding.span.start <= end && start <= finding.span.end)
            || matches!(
                finding.kind,
                FindingKind::Unchecked | FindingKind::Policy | FindingKind::Malicious
            )
            || seen.contains(&finding.id)
        {
            continue;
        }
        seen.push(finding.id.clone());
        let Some(dep) = analysis.deps.get(finding.dep) else {
            continue;
        };
        let entry = ignore_entry(finding, &dep.dep.package.name, until);
        let edit = match &target.text {
            Some(existing) => {
                let config_positions = Positions::new(existing, utf16);
                let at = config_positions.position(existing.len());
                let separator = if existing.is_empty() || existing.ends_with("\n\n") {
                    ""
                } else if existing.ends_with('\n') {
                    "\n"
                } else {
                    "\n\n"
                };
                let point = lsp::Position {
                    line: at.line,
                    character: at.character,
                };
                let mut changes = HashMap::new();
                changes.insert(
                    target.uri.clone(),
                    vec![lsp::TextEdit {
                        range: lsp::Range {
                            start: point,
                            end: point,
                        },
                        new_text: format!("{separator}{entry}"),
                    }],
                );
                lsp::WorkspaceEdit {
                    changes: Some(changes),
                    ..lsp::WorkspaceEdit::default()
                }
            }
            None => lsp::WorkspaceEdit {
                document_changes: Some(lsp::DocumentChanges::Operations(vec![
                    lsp::DocumentChangeOperation::Op(lsp::ResourceOp::Create(lsp::CreateFile {
                        uri: target.uri.clone(),
                        options: Some(lsp::CreateFileOptions {
                            overwrite: Some(false),
                            ignore_if_exists: Some(true),
                        }),
                        annotation_id: None,
                    })),
                    lsp::DocumentChangeOperation::Edit(lsp::TextDocumentEdit {
                        text_document: lsp::OptionalVersionedTextDocumentIdentifier {
                            uri: target.uri.clone(),
                            version: None,
                        },
                        edits: vec![lsp::OneOf::Left(lsp::TextEdit {
                            range: lsp::Range::default(),
                            new_text: format!("# Gatehouse policy: see `gatehouse check --help`.\n\n{entry}"),
                        })],
                    }),
                ])),
                ..lsp::WorkspaceEdit::default()
            },
        };
        res.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
            title: format!(
                "Ignore {} for {} until {until} (in gatehouse.toml)",
                finding.id, dep.dep.package.name
            ),
            kind: Some(lsp::CodeActionKind::QUICKFIX),
            edit: Some(edit),
            is_preferred: Some(false),
            ..lsp::CodeAction::default()
        }));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{self, Input, RegistryRules};
    use crate::manifest;
    use crate::model::{Advisory, Ecosystem, Fact, Facts, PackageFacts, PackageRef, VersionFacts};
    use crate::policy::Policy;
    use jiff::Timestamp;

    fn known<T>(value: T, as_of: Timestamp) -> Fact<T> {
        Fact::Known {
            value,
            as_of,
            stale: false,
        }
    }

    /// A transitive package with an advisory: the finding shows on the direct dependency with its path,
    /// and the fix pins the nearest safe version through the package manager's own override.
    #[test]
    fn transitive_findings_get_an_override_in_the_managers_syntax() {
        use crate::model::{Affected, AffectedRange, RangeEvent, RangeKind};
        let manifest_text = "{\n  \"name\": \"app\",\n  \"dependencies\": {\n    \"a\": \"^1.0.0\"\n  }\n}\n";
        let lock_text = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1.0.0\n        version: 1.0.0\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-a}\n  b@1.2.0:\n    resolution: {integrity: sha512-b}\nsnapshots:\n  a@1.0.0:\n    dependencies:\n      b: 1.2.0\n  b@1.2.0: {}\n";
        let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
        let epoch = Timestamp::from_second(1_600_000_000).unwrap();
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let versions = |list: &[&str]| {
            std::sync::Arc::new(PackageFacts {
                versions: list
                    .iter()
                    .map(|v| VersionFacts {
                        version: v.to_string(),
                        published: Some(epoch),
                        ..VersionFacts::default()
                    })
                    .collect(),
                created: Some(epoch),
                ..PackageFacts::default()
            })
        };
        let b = PackageRef::new(Ecosystem::Npm, "b");
        let a = PackageRef::new(Ecosystem::Npm, "a");
        let advisory = Advisory {
            id: "GHSA-test-b".to_string(),
            summary: "b is broken".to_string(),
            affected: vec![Affected {
                package: Some(b.clone()),
                ranges: vec![AffectedRange {
                    kind: RangeKind::Semver,
                    events: vec![
                        RangeEvent::Introduced("0".to_string()),
                        RangeEvent::Fixed("1.2.3".to_string()),
                    ],
                }],
                ..Affected::default()
            }],
            ..Advisory::default()
        };
        let mut facts = Facts::default();
        facts.packages.insert(a.clone(), known(versions(&["1.0.0"]), now));
        facts
            .packages
            .insert(b.clone(), known(versions(&["1.2.0", "1.2.3", "1.3.0", "2.0.0"]), now));
        facts.advisories.insert(a, known(Vec::new(), now));
        facts.advisories.insert(b, known(vec![advisory], now));
        let policy = Policy::default();
        let registries = RegistryRules::default();
        let mut rendered = String::new();
        for (kind, text) in [
            (ManifestKind::PnpmLock, lock_text.to_string()),
            (
                ManifestKind::YarnLock,
                "# yarn lockfile v1\n\na@^1.0.0:\n  version \"1.0.0\"\n  dependencies:\n    b \"^1.1.0\"\n\nb@^1.1.0:\n  version \"1.2.0\"\n".to_string(),
            ),
        ] {
            let lockfile = manifest::parse_lockfile(kind, &text).unwrap();
            let input = Input {
                manifest: &parsed,
                lockfile: Some(&lockfile),
                workspace: None,
                registries: &registries,
            };
            let analysis = engine::evaluate(&input, &facts, &policy, now);
            let dep = analysis.deps.iter().find(|d| d.dep.package.name == "b").unwrap();
            assert_eq!(dep.dep.via, vec!["a", "b"]);
            let finding = analysis.findings.iter().find(|f| f.id == "GHSA-test-b").unwrap();
            assert_eq!(&manifest_text[finding.span.start..finding.span.end], "^1.0.0");
            rendered.push_str(&format!("{:?}\n{}\n", dep.fix, describe_fix(dep.fix.as_ref().unwrap())));
            let data = fix_data(manifest_text, &parsed, dep).unwrap();
            let positions = Positions::new(manifest_text, true);
            let mut edited = manifest_text.to_string();
            for edit in data.edits.iter().rev() {
                let start = positions.offset(Position {
                    line: edit.range.start.line,
                    character: edit.range.start.character,
                });
                let end = positions.offset(Position {
                    line: edit.range.end.line,
                    character: edit.range.end.character,
                });
                edited.replace_range(start..end, &edit.new_text);
            }
            let value: serde_json::Value = serde_json::from_str(&edited).unwrap();
            rendered.push_str(&format!("{}\n{}\n", data.title, value));
        }
        insta::assert_snapshot!(rendered, @r#"
        Some(Override { package: "b", version: "1.2.3", manager: "pnpm", instruction: "add \"pnpm\": { \"overrides\": { \"b\": \"1.2.3\" } } to package.json (or `overrides:` in pnpm-workspace.yaml)", command: "pnpm install" })
        fix: pin b to 1.2.3: add "pnpm": { "overrides": { "b": "1.2.3" } } to package.json (or `overrides:` in pnpm-workspace.yaml), then run `pnpm install`
        Pin b to 1.2.3 with "pnpm" (then run `pnpm install`)
        {"dependencies":{"a":"^1.0.0"},"name":"app","pnpm":{"overrides":{"b":"1.2.3"}}}
        Some(Override { package: "b", version: "1.2.3", manager: "yarn", instruction: "add \"resolutions\": { \"b\": \"1.2.3\" } to package.json", command: "yarn install" })
        fix: pin b to 1.2.3: add "resolutions": { "b": "1.2.3" } to package.json, then run `yarn install`
        Pin b to 1.2.3 with "resolutions" (then run `yarn install`)
        {"dependencies":{"a":"^1.0.0"},"name":"app","resolutions":{"b":"1.2.3"}}
        "#);
    }
}
