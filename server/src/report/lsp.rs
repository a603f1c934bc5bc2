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
use crate::manifest::{FixFiles, Parsed, ProjectFile};
use crate::model::{FindingKind, ManifestKind, Severity, Span};
use crate::report::overrides::{self, TextChange};
use crate::report::{Position, Positions, advisory_link, describe_fix, describe_status, provenance_label};

/// The edit a diagnostic's quick fix applies, carried in `Diagnostic.data`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FixData {
    pub title: String,
    /// Edits of the document the diagnostic is on.
    pub edits: Vec<lsp::TextEdit>,
    /// Edits of other files of the project (the workspace root's package.json, pnpm-workspace.yaml).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileEdit>,
}

/// Edits of one file beside the document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEdit {
    pub path: std::path::PathBuf,
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
        // A YAML entry's place is exact only where its value is (`pnpm_workspace`): one placed on an
        // enclosing key (flow style, an escaped key) would take that key's line, and every entry under it.
        ManifestKind::PnpmWorkspace | ManifestKind::YarnRc if dep.requirement_span.is_none() => None,
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

/// Whether a dependency's fix is shown and offered: a direct dependency's always; a transitive
/// package's when it changes something the project declares (an override, or the direct dependency).
pub fn shows_fix(dep: &AnalyzedDep) -> bool {
    !dep.is_transitive()
        || matches!(
            dep.fix.as_deref(),
            Some(Fix::Override { .. }) | Some(Fix::UpgradeDirect { .. })
        )
}

/// The quick fix for one dependency, if it has one.
pub fn fix_data(text: &str, parsed: &Parsed, dep: &AnalyzedDep, files: &FixFiles) -> Option<FixData> {
    if !shows_fix(dep) {
        return None;
    }
    let positions = Positions::new(text, true);
    fix_data_with(&positions, text, parsed, dep, files, true)
}

/// Edits of `other` (a file beside the document) as LSP edits, in that file's positions.
fn file_edit(other: &ProjectFile, change: TextChange, utf16: bool) -> FileEdit {
    let positions = Positions::new(&other.text, utf16);
    FileEdit {
        path: other.path.clone(),
        edits: vec![lsp::TextEdit {
            range: to_range(&positions, change.span),
            new_text: change.text,
        }],
    }
}

fn fix_data_with(
    positions: &Positions,
    text: &str,
    parsed: &Parsed,
    dep: &AnalyzedDep,
    files: &FixFiles,
    utf16: bool,
) -> Option<FixData> {
    // A lockfile is rewritten by its package manager, never by an edit here.
    if parsed.kind.is_lockfile() {
        return None;
    }
    let direct = dep.direct?;
    let declared = parsed.deps.get(direct)?;
    match dep.fix.as_deref()? {
        Fix::Update {
            requirement,
            lockfile_command,
            ..
        } => {
            let mut title = format!("Update {} to {requirement}", declared.name);
            if let Some(command) = lockfile_command {
                title.push_str(&format!(" (then run `{command}`)"));
            }
            // pnpm `catalog:`: the range is the catalog's, so the catalog entry is what changes.
            match catalog_edit(declared, requirement, files, utf16) {
                CatalogEdit::Edit(edit) => {
                    title = format!(
                        "Update {} to {requirement} in the catalog (pnpm-workspace.yaml)",
                        declared.name
                    );
                    return Some(FixData {
                        title,
                        edits: Vec::new(),
                        files: vec![edit],
                    });
                }
                CatalogEdit::Refused(_) => return None,
                CatalogEdit::NotCatalog => {}
            }
            let span = declared.requirement_span?;
            Some(FixData {
                title,
                edits: vec![lsp::TextEdit {
                    range: to_range(positions, span),
                    new_text: requirement.clone(),
                }],
                files: Vec::new(),
            })
        }
        Fix::UpgradeDirect {
            direct: direct_name,
            requirement,
            package,
            command,
            ..
        } => {
            let title = format!(
                "Update {direct_name} to {requirement}, which no longer pulls in the affected {package} (then run `{command}`)"
            );
            match catalog_edit(declared, requirement, files, utf16) {
                CatalogEdit::Edit(edit) => {
                    return Some(FixData {
                        title,
                        edits: Vec::new(),
                        files: vec![edit],
                    });
                }
                CatalogEdit::Refused(_) => return None,
                CatalogEdit::NotCatalog => {}
            }
            let span = declared.requirement_span?;
            Some(FixData {
                title,
                edits: vec![lsp::TextEdit {
                    range: to_range(positions, span),
                    new_text: requirement.clone(),
                }],
                files: Vec::new(),
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
                files: Vec::new(),
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
            let parent = dep.dep.via.first().map(String::as_str).unwrap_or_default();
            let root_text = files.root_manifest.as_ref().map_or(text, |f| &*f.text);
            let also_direct = parsed
                .deps
                .iter()
                .any(|d| d.name == *package && d.kind != crate::manifest::DepKind::Override)
                || declares(root_text, package)
                || files.root_manifest.is_none() && declares(text, package);
            let target = override_target(manager, package, version, parent, also_direct, root_text, files)?;
            let title = format!(
                "Pin {package} to {version} with {} (then run `{command}`)",
                target.describe
            );
            match target.file {
                Some(file) => Some(FixData {
                    title,
                    edits: Vec::new(),
                    files: vec![file_edit(file, target.change, utf16)],
                }),
                None => Some(FixData {
                    title,
                    edits: vec![lsp::TextEdit {
                        range: to_range(positions, target.change.span),
                        new_text: target.change.text,
                    }],
                    files: Vec::new(),
                }),
            }
        }
    }
}

/// Whether the package.json `text` declares `package` as one of its own dependencies.
fn declares(text: &str, package: &str) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return false;
    };
    [
        "dependencies",
        "devDependencies",
        "optionalDependencies",
        "peerDependencies",
    ]
    .iter()
    .any(|table| value.get(table).and_then(|t| t.get(package)).is_some())
}

/// Where and how an override is written.
struct OverrideTarget<'a> {
    /// `None`: the open document (the root's package.json); else a file beside it.
    file: Option<&'a ProjectFile>,
    change: TextChange,
    /// `"overrides" in package.json`, for the title.
    describe: String,
}

/// The override of `package` to `version` in the package manager's own place and syntax. When the
/// package is also a direct dependency, the override is scoped to the parent that pulls the bad copy
/// in (npm `{"parent": {"package": …}}`, pnpm `parent>package`, Yarn `parent/package`): npm refuses a
/// top-level override of a direct dependency that differs from its spec (EOVERRIDE), and the others
/// would move the direct dependency too. pnpm: the place follows the pnpm version `packageManager`
/// names (9: package.json `pnpm.overrides`; 10: either, the workspace file first; 11: only
/// `pnpm-workspace.yaml`); with no version known, where the project already keeps overrides, else
/// the workspace file when there is one, and the title says which pnpm versions read the place.
fn override_target<'a>(
    manager: &str,
    package: &str,
    version: &str,
    parent: &str,
    also_direct: bool,
    root_text: &str,
    files: &'a FixFiles,
) -> Option<OverrideTarget<'a>> {
    let value = serde_json::to_string(version).ok()?;
    let json_file = files.root_manifest.as_ref();
    let scoped = also_direct && !parent.is_empty();
    let json = |path: &[&str], npm_dot: bool, describe: &str| -> Option<OverrideTarget<'a>> {
        Some(OverrideTarget {
            file: json_file,
            change: overrides::set_json_member(root_text, path, &value, npm_dot)?,
            describe: format!("{describe} in package.json"),
        })
    };
    match manager {
        "npm" if scoped => json(&["overrides", parent, package], true, "\"overrides\""),
        "npm" | "bun" => json(&["overrides", package], manager == "npm", "\"overrides\""),
        "yarn" => {
            let key = if scoped {
                format!("{parent}/{package}")
            } else {
                package.to_string()
            };
            json(&["resolutions", &key], false, "\"resolutions\"")
        }
        "pnpm" => {
            let key = if scoped {
                format!("{parent}>{package}")
            } else {
                package.to_string()
            };
            let root: Option<serde_json::Value> = serde_json::from_str(root_text).ok();
            let has_json_overrides = root
                .as_ref()
                .is_some_and(|v| v.get("pnpm").and_then(|p| p.get("overrides")).is_some());
            let yaml_file = files.pnpm_workspace.as_ref();
            let has_yaml_overrides = yaml_file.is_some_and(|yaml| {
                crate::manifest::lockfiles::pnpm_lock::parse_workspace(&yaml.text).is_ok_and(|w| w.has_overrides)
            });
            let major = root.as_ref().and_then(pnpm_major);
            // pnpm 9 reads only package.json's `pnpm.overrides`, pnpm 11 only pnpm-workspace.yaml's
            // `overrides`, pnpm 10 either.
            let (to_yaml, note) = match major {
                Some(..=9) => (false, ""),
                Some(10) => (yaml_file.is_some() && (has_yaml_overrides || !has_json_overrides), ""),
                Some(_) => (true, ""),
                None if has_yaml_overrides && !has_json_overrides => (true, " (read by pnpm 10 and later)"),
                None if has_json_overrides => (false, " (read by pnpm 10 and earlier)"),
                None if yaml_file.is_some() => (true, " (read by pnpm 10 and later)"),
                None => (false, " (read by pnpm 10 and earlier)"),
            };
            if to_yaml {
                // pnpm 11 without a workspace file: package.json would be ignored, so no edit.
                let yaml = yaml_file?;
                let change = overrides::set_yaml_entry(&yaml.text, &["overrides"], &key, version)?;
                return Some(OverrideTarget {
                    file: Some(yaml),
                    change,
                    describe: format!("\"overrides\" in pnpm-workspace.yaml{note}"),
                });
            }
            json(&["pnpm", "overrides", &key], false, "\"pnpm.overrides\"").map(|target| OverrideTarget {
                describe: format!("{}{note}", target.describe),
                ..target
            })
        }
        _ => None,
    }
}

/// The major version of pnpm `packageManager` names (`pnpm@10.4.1+sha512.…`), if it names pnpm.
fn pnpm_major(root: &serde_json::Value) -> Option<u64> {
    let spec = root.get("packageManager")?.as_str()?.trim().strip_prefix("pnpm@")?;
    spec.trim_start_matches(['v', '^', '~', '='])
        .split(['.', '+', '-'])
        .next()?
        .parse()
        .ok()
}

/// What a pnpm `catalog:` dependency's fix edits.
enum CatalogEdit {
    /// Not a catalog reference (or no pnpm-workspace.yaml): the member's own requirement.
    NotCatalog,
    /// The catalog entry in pnpm-workspace.yaml.
    Edit(FileEdit),
    /// No edit: the workspace file's layout is not one this can edit safely (why).
    Refused(String),
}

/// pnpm: a dependency declared `catalog:` (or `catalog:<name>`) takes its range from the catalog in
/// `pnpm-workspace.yaml`, so that entry is rewritten (the member keeps its `catalog:` reference).
/// Where the default catalog is (`catalog` or `catalogs.default`) is read from the parsed file, and
/// the edited file must parse with the new range in place and the default catalog still defined
/// once (pnpm refuses it twice), else there is no edit.
fn catalog_edit(
    declared: &crate::manifest::Dependency,
    requirement: &str,
    files: &FixFiles,
    utf16: bool,
) -> CatalogEdit {
    let Some(name) = declared
        .requirement
        .as_deref()
        .and_then(|r| r.trim().strip_prefix("catalog:"))
        .map(str::trim)
    else {
        return CatalogEdit::NotCatalog;
    };
    let Some(yaml) = files.pnpm_workspace.as_ref() else {
        return CatalogEdit::NotCatalog;
    };
    let parse = crate::manifest::lockfiles::pnpm_lock::parse_workspace;
    let workspace = match parse(&yaml.text) {
        Ok(workspace) => workspace,
        Err(why) => return CatalogEdit::Refused(why),
    };
    if workspace.has_catalog && workspace.has_catalogs_default {
        return CatalogEdit::Refused(
            "pnpm-workspace.yaml defines the default catalog twice (`catalog` and `catalogs.default`)".to_string(),
        );
    }
    let catalog = if name.is_empty() { "default" } else { name };
    let section: Vec<&str> = match catalog {
        "default" if workspace.has_catalog || !workspace.has_catalogs_default => vec!["catalog"],
        other => vec!["catalogs", other],
    };
    let refused = || {
        CatalogEdit::Refused(format!(
            "the catalog in pnpm-workspace.yaml is laid out in a way Gatehouse does not edit; set {} to {requirement} there",
            declared.name
        ))
    };
    let Some(change) = overrides::set_yaml_entry(&yaml.text, &section, &declared.name, requirement) else {
        return refused();
    };
    let mut edited = yaml.text.to_string();
    if change.span.end > edited.len()
        || !edited.is_char_boundary(change.span.start)
        || !edited.is_char_boundary(change.span.end)
    {
        return refused();
    }
    edited.replace_range(change.span.start..change.span.end, &change.text);
    let proven = parse(&edited).is_ok_and(|after| {
        !(after.has_catalog && after.has_catalogs_default)
            && after
                .catalogs
                .iter()
                .filter(|(c, package, _)| c == catalog && *package == declared.name)
                .all(|(_, _, range)| range == requirement)
            && after
                .catalogs
                .iter()
                .any(|(c, package, _)| c == catalog && *package == declared.name)
    });
    if !proven {
        return refused();
    }
    CatalogEdit::Edit(file_edit(yaml, change, utf16))
}

/// Why a dependency's fix has no quick fix, when its catalog is not editable.
fn catalog_refusal(parsed: &Parsed, dep: &AnalyzedDep, files: &FixFiles) -> Option<String> {
    let declared = parsed.deps.get(dep.direct?)?;
    let requirement = match dep.fix.as_deref()? {
        Fix::Update { requirement, .. } | Fix::UpgradeDirect { requirement, .. } => requirement,
        _ => return None,
    };
    match catalog_edit(declared, requirement, files, true) {
        CatalogEdit::Refused(why) => Some(why),
        _ => None,
    }
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
                if shows_fix(dep) {
                    fix_data_with(&fix_positions, text, parsed, dep, &analysis.fix_files, utf16)
                } else {
                    None
                }
            })
            .clone();
        let mut message = finding.message.clone();
        if let Some(fix) = &dep.fix
            && shows_fix(dep)
        {
            message = format!("{message}; {}", describe_fix(fix));
            if let Some(why) = catalog_refusal(parsed, dep, &analysis.fix_files) {
                message = format!("{message} (no quick fix: {why})");
            }
        }
        if let Some(as_of) = dep.stale_as_of {
            let as_of = as_of.strftime("%Y-%m-%d");
            message = match &dep.stale_reason {
                Some(why) => format!("{message} (stale: data as of {as_of}; the refresh failed: {why})"),
                None => format!("{message} (offline: data as of {as_of})"),
            };
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
                crate::model::VersionSource::Constrained => "pinned by a constraints file (`-c`)",
                crate::model::VersionSource::Resolved => "the highest version the requirement admits today",
                crate::model::VersionSource::Unresolved => "unresolved",
            }
        )),
        None => md.push_str("Version unresolved: checked every version the requirement admits\n\n"),
    }
    if let Some(constrained_by) = &analyzed.constrained_by {
        md.push_str(&format!("Pip constraints: {constrained_by}\n\n"));
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
    // "Fix all" takes each fix whose edits touch nothing an earlier one edits: two overrides written
    // into one file would each add the same key.
    let mut all = FixData {
        title: "Fix all Gatehouse findings in this file".to_string(),
        edits: Vec::new(),
        files: Vec::new(),
    };
    let mut n_fixes = 0;
    let mut seen_titles = Vec::new();
    for (finding, diagnostic) in analysis.findings.iter().zip(diagnostics.iter()) {
        let Some(data) = diagnostic
            .data
            .clone()
            .and_then(|d| serde_json::from_value::<FixData>(d).ok())
        else {
            continue;
        };
        if merge_disjoint(&mut all, &data) {
            n_fixes += 1;
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
            edit: Some(workspace_edit(uri, &data)),
            is_preferred: Some(true),
            ..lsp::CodeAction::default()
        }));
    }
    if n_fixes > 1 || (!res.is_empty() && n_fixes > 0) {
        res.push(lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
            title: all.title.clone(),
            kind: Some(lsp::CodeActionKind::QUICKFIX),
            edit: Some(workspace_edit(uri, &all)),
            ..lsp::CodeAction::default()
        }));
    }
    res
}

fn touches(a: &lsp::Range, b: &lsp::Range) -> bool {
    let key = |p: &lsp::Position| (p.line, p.character);
    key(&a.start) <= key(&b.end) && key(&b.start) <= key(&a.end)
}

/// Adds `data`'s edits to `all` when none of them touches an edit already there (or repeats one
/// exactly, which is the same fix shown on two diagnostics and taken once); whether it was added.
fn merge_disjoint(all: &mut FixData, data: &FixData) -> bool {
    let clashes = |existing: &[lsp::TextEdit], new: &[lsp::TextEdit]| {
        new.iter()
            .any(|edit| existing.iter().any(|e| touches(&e.range, &edit.range)))
    };
    let same_file = |path: &std::path::Path| all.files.iter().find(|f| f.path == path).map(|f| f.edits.clone());
    let already = data.edits.iter().all(|e| all.edits.contains(e))
        && data
            .files
            .iter()
            .all(|f| same_file(&f.path).is_some_and(|edits| f.edits.iter().all(|e| edits.contains(e))));
    if already
        || clashes(&all.edits, &data.edits)
        || data
            .files
            .iter()
            .any(|f| same_file(&f.path).is_some_and(|edits| clashes(&edits, &f.edits)))
    {
        return false;
    }
    all.edits.extend(data.edits.iter().cloned());
    for file in &data.files {
        match all.files.iter_mut().find(|f| f.path == file.path) {
            Some(existing) => existing.edits.extend(file.edits.iter().cloned()),
            None => all.files.push(file.clone()),
        }
    }
    true
}

fn workspace_edit(uri: &lsp::Uri, data: &FixData) -> lsp::WorkspaceEdit {
    let mut changes = HashMap::new();
    if !data.edits.is_empty() {
        changes.insert(uri.clone(), data.edits.clone());
    }
    for file in &data.files {
        if let Some(other) = lsp::Uri::from_file_path(&file.path) {
            changes
                .entry(other)
                .or_insert_with(Vec::new)
                .extend(file.edits.iter().cloned());
        }
    }
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

    /// A pnpm-workspace.yaml entry is removed only where its position is exact: one written in flow
    /// style (placed on its section's key) is not, and removing that line would drop every override
    /// (review of 2959dbe).
    #[test]
    fn a_pnpm_workspace_entry_is_removed_only_where_it_is_written() {
        let text = "overrides:\n  flatmap-stream: 0.1.1\n  lodash: 4.17.21\n";
        let parsed = manifest::parse(ManifestKind::PnpmWorkspace, text);
        let span = removal_span(text, &parsed, 0).unwrap();
        assert_eq!(&text[span.start..span.end], "  flatmap-stream: 0.1.1\n");
        let text =
            "packageExtensions: {\"event-stream@*\": {dependencies: {flatmap-stream: 0.1.1, lodash: 4.17.21}}}\n";
        let parsed = manifest::parse(ManifestKind::YarnRc, text);
        assert_eq!(parsed.deps[0].package, "flatmap-stream");
        assert_eq!(removal_span(text, &parsed, 0), None, "{text}");
        for text in [
            "overrides: {flatmap-stream: 0.1.1, lodash: 4.17.21}\n",
            "catalog:\n  react: ^18.2.0\noverrides:\n  \"flatmap\\x2dstream\": 0.1.1\n  lodash: 4.17.21\n",
        ] {
            let parsed = manifest::parse(ManifestKind::PnpmWorkspace, text);
            assert_eq!(parsed.deps[0].package, "flatmap-stream", "{text}");
            assert_eq!(removal_span(text, &parsed, 0), None, "{text}");
        }
    }

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
        let manifest_text = "{\n  \"name\": \"app\",\n  \"dependencies\": {\n    \"a\": \"^1.0.0\"\n  }\n}\n";
        let lock_text = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1.0.0\n        version: 1.0.0\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-a}\n  b@1.2.0:\n    resolution: {integrity: sha512-b}\nsnapshots:\n  a@1.0.0:\n    dependencies:\n      b: 1.2.0\n  b@1.2.0: {}\n";
        let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let facts = facts_ab(now);
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
                constraints: Default::default(),
            };
            let analysis = engine::evaluate(&input, &facts, &policy, now);
            let dep = analysis.deps.iter().find(|d| d.dep.package.name == "b").unwrap();
            assert_eq!(dep.dep.via, vec!["a", "b"]);
            let finding = analysis.findings.iter().find(|f| f.id == "GHSA-test-b").unwrap();
            assert_eq!(&manifest_text[finding.span.start..finding.span.end], "^1.0.0");
            rendered.push_str(&format!("{:?}\n{}\n", dep.fix, describe_fix(dep.fix.as_deref().unwrap())));
            let data = fix_data(manifest_text, &parsed, dep, &analysis.fix_files).unwrap();
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
        Some(Override { package: "b", version: "1.2.3", manager: "pnpm", instruction: "add \"pnpm\": { \"overrides\": { \"b\": \"1.2.3\" } } to package.json (pnpm 9 and 10), or `overrides:` to pnpm-workspace.yaml (pnpm 10 and later)", command: "pnpm install" })
        fix: pin b to 1.2.3: add "pnpm": { "overrides": { "b": "1.2.3" } } to package.json (pnpm 9 and 10), or `overrides:` to pnpm-workspace.yaml (pnpm 10 and later), then run `pnpm install`
        Pin b to 1.2.3 with "pnpm.overrides" in package.json (read by pnpm 10 and earlier) (then run `pnpm install`)
        {"dependencies":{"a":"^1.0.0"},"name":"app","pnpm":{"overrides":{"b":"1.2.3"}}}
        Some(Override { package: "b", version: "1.2.3", manager: "yarn", instruction: "add \"resolutions\": { \"b\": \"1.2.3\" } to package.json", command: "yarn install" })
        fix: pin b to 1.2.3: add "resolutions": { "b": "1.2.3" } to package.json, then run `yarn install`
        Pin b to 1.2.3 with "resolutions" in package.json (then run `yarn install`)
        {"dependencies":{"a":"^1.0.0"},"name":"app","resolutions":{"b":"1.2.3"}}
        "#);
    }

    /// Facts for `a` (one version, no dependency metadata) and `b` (1.2.0 affected, fixed in 1.2.3).
    fn facts_ab(now: Timestamp) -> Facts {
        use crate::model::{Affected, AffectedRange, RangeEvent, RangeKind};
        let epoch = Timestamp::from_second(1_600_000_000).unwrap();
        let versions = |list: &[&str]| {
            std::sync::Arc::new(PackageFacts {
                versions: list
                    .iter()
                    .map(|v| VersionFacts {
                        version: (*v).into(),
                        published: Some(epoch).into(),
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
        facts
    }

    /// Applies `edits` (LSP ranges in `text`'s UTF-16 positions) to `text`.
    fn apply_edits(text: &str, edits: &[lsp::TextEdit]) -> String {
        let positions = Positions::new(text, true);
        let mut spans: Vec<(usize, usize, &str)> = edits
            .iter()
            .map(|edit| {
                let (start, end) = to_offsets(&positions, edit.range);
                (start, end, edit.new_text.as_str())
            })
            .collect();
        spans.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
        let mut res = text.to_string();
        for (start, end, new_text) in spans {
            res.replace_range(start..end, new_text);
        }
        res
    }

    /// The quick fix of package `b` (transitive via `a`) for `manifest_text` with `lock_text`, applied:
    /// (title, the edited manifest, each other file edited with its new text).
    /// The fix's title, the document after its edits, and each other file after its edits.
    type FixOfB = (String, String, Vec<(std::path::PathBuf, String)>);

    fn fix_b(manifest_text: &str, kind: ManifestKind, lock_text: &str, files: FixFiles) -> FixOfB {
        fix_b_if_any(manifest_text, kind, lock_text, files).unwrap()
    }

    fn fix_b_if_any(manifest_text: &str, kind: ManifestKind, lock_text: &str, files: FixFiles) -> Option<FixOfB> {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
        let mut lockfile = manifest::parse_lockfile(kind, lock_text).unwrap();
        lockfile.fix_files = files.clone();
        let registries = RegistryRules::default();
        let input = Input {
            manifest: &parsed,
            lockfile: Some(&lockfile),
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        let analysis = engine::evaluate(&input, &facts_ab(now), &Policy::default(), now);
        let dep = analysis
            .deps
            .iter()
            .find(|d| d.dep.package.name == "b" && d.is_transitive())
            .unwrap();
        let data = fix_data(manifest_text, &parsed, dep, &analysis.fix_files)?;
        let others = data
            .files
            .iter()
            .map(|file| {
                let original = [&files.root_manifest, &files.pnpm_workspace]
                    .into_iter()
                    .flatten()
                    .find(|f| f.path == file.path)
                    .unwrap();
                (file.path.clone(), apply_edits(&original.text, &file.edits))
            })
            .collect();
        Some((data.title, apply_edits(manifest_text, &data.edits), others))
    }

    /// npm's rule (EOVERRIDE): a top-level override of a package the root depends on directly must
    /// equal that dependency's spec (or reference it with `$name`).
    fn npm_override_rules_hold(package_json: &str) {
        let value: serde_json::Value = serde_json::from_str(package_json).unwrap();
        let Some(overrides) = value.get("overrides").and_then(|o| o.as_object()) else {
            return;
        };
        for (name, spec) in overrides {
            let declared = ["dependencies", "devDependencies", "optionalDependencies"]
                .iter()
                .find_map(|table| value.get(table).and_then(|t| t.get(name)).and_then(|s| s.as_str()));
            let own = match spec {
                serde_json::Value::String(s) => Some(s.as_str()),
                serde_json::Value::Object(o) => o.get(".").and_then(|s| s.as_str()),
                _ => None,
            };
            if let (Some(declared), Some(own)) = (declared, own) {
                assert!(
                    own == declared || own == format!("${name}"),
                    "override of direct dependency {name} is {own}, its spec {declared}: {package_json}"
                );
            }
        }
    }

    const NPM_LOCK: &str = r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"a": "^1.0.0"}}, "node_modules/a": {"version": "1.0.0", "dependencies": {"b": "^1.1.0"}}, "node_modules/b": {"version": "1.2.0"}}}"#;

    #[test]
    fn an_override_merges_into_the_existing_overrides() {
        // Another package already overridden: the entry joins it.
        let manifest_text = "{\n  \"dependencies\": {\n    \"a\": \"^1.0.0\"\n  },\n  \"overrides\": {\n    \"other\": \"1.0.0\"\n  }\n}\n";
        let (title, edited, others) = fix_b(manifest_text, ManifestKind::PackageLock, NPM_LOCK, FixFiles::default());
        assert!(others.is_empty());
        assert_eq!(
            title,
            "Pin b to 1.2.3 with \"overrides\" in package.json (then run `npm install`)"
        );
        let value: serde_json::Value = serde_json::from_str(&edited).unwrap();
        assert_eq!(value["overrides"], serde_json::json!({"other": "1.0.0", "b": "1.2.3"}));
        npm_override_rules_hold(&edited);
        // The package already overridden to the affected version: the entry is replaced.
        let manifest_text = "{\"dependencies\": {\"a\": \"^1.0.0\"}, \"overrides\": {\"b\": \"1.2.0\"}}";
        let (_, edited, _) = fix_b(manifest_text, ManifestKind::PackageLock, NPM_LOCK, FixFiles::default());
        let value: serde_json::Value = serde_json::from_str(&edited).unwrap();
        assert_eq!(value["overrides"], serde_json::json!({"b": "1.2.3"}));
        npm_override_rules_hold(&edited);
    }

    /// `b` is also a direct dependency (2.0.0, safe) while `a` pulls in an affected 1.2.0: a top-level
    /// override would break npm's rule and move the direct dependency, so the override is scoped to `a`.
    #[test]
    fn an_override_of_a_package_that_is_also_direct_is_scoped_to_its_parent() {
        let lock = r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"a": "^1.0.0", "b": "^2.0.0"}}, "node_modules/a": {"version": "1.0.0", "dependencies": {"b": "^1.1.0"}}, "node_modules/a/node_modules/b": {"version": "1.2.0"}, "node_modules/b": {"version": "2.0.0"}}}"#;
        let manifest_text =
            "{\"dependencies\": {\"a\": \"^1.0.0\", \"b\": \"^2.0.0\"}, \"overrides\": {\"a\": \"1.0.0\"}}";
        let (_, edited, _) = fix_b(manifest_text, ManifestKind::PackageLock, lock, FixFiles::default());
        let value: serde_json::Value = serde_json::from_str(&edited).unwrap();
        assert_eq!(
            value["overrides"],
            serde_json::json!({"a": {".": "1.0.0", "b": "1.2.3"}})
        );
        // `a`'s own override is not npm-valid here to begin with (it differs from "^1.0.0"); the rule is
        // checked on the part the fix wrote.
        let mut written = value.clone();
        written["overrides"]["a"] = serde_json::json!({"b": "1.2.3"});
        npm_override_rules_hold(&written.to_string());
    }

    const PNPM_LOCK: &str = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1.0.0\n        version: 1.0.0\n  packages/m:\n    dependencies:\n      a:\n        specifier: ^1.0.0\n        version: 1.0.0\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-a}\n  b@1.2.0:\n    resolution: {integrity: sha512-b}\nsnapshots:\n  a@1.0.0:\n    dependencies:\n      b: 1.2.0\n  b@1.2.0: {}\n";

    fn project_file(path: &str, text: &str) -> Option<ProjectFile> {
        Some(ProjectFile {
            path: std::path::PathBuf::from(path),
            text: text.into(),
        })
    }

    #[test]
    fn pnpm_overrides_go_to_the_workspace_file_unless_package_json_has_them() {
        let manifest_text = "{\"dependencies\": {\"a\": \"^1.0.0\"}}";
        let workspace = "packages:\n  - 'packages/*'\n";
        let files = FixFiles {
            root_manifest: None,
            pnpm_workspace: project_file("/repo/pnpm-workspace.yaml", workspace),
        };
        let (title, edited, others) = fix_b(manifest_text, ManifestKind::PnpmLock, PNPM_LOCK, files.clone());
        assert_eq!(edited, manifest_text);
        assert_eq!(
            title,
            "Pin b to 1.2.3 with \"overrides\" in pnpm-workspace.yaml (read by pnpm 10 and later) (then run `pnpm install`)"
        );
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&others[0].1).unwrap();
        assert_eq!(yaml["overrides"]["b"].as_str(), Some("1.2.3"));
        assert_eq!(yaml["packages"][0].as_str(), Some("packages/*"));
        // package.json already has `pnpm.overrides`: the entry joins them there.
        let manifest_text = "{\"dependencies\": {\"a\": \"^1.0.0\"}, \"pnpm\": {\"overrides\": {\"c\": \"1\"}}}";
        let (_, edited, others) = fix_b(manifest_text, ManifestKind::PnpmLock, PNPM_LOCK, files);
        assert!(others.is_empty());
        let value: serde_json::Value = serde_json::from_str(&edited).unwrap();
        assert_eq!(value["pnpm"]["overrides"], serde_json::json!({"c": "1", "b": "1.2.3"}));
    }

    /// pnpm 9 reads overrides only from package.json (`pnpm.overrides`), pnpm 11 only from
    /// pnpm-workspace.yaml, pnpm 10 from either: `packageManager` decides; when it is not there, the
    /// place the project already keeps overrides, else the files there are, and the title says which
    /// pnpm versions read it.
    #[test]
    fn pnpm_overrides_follow_the_pnpm_version() {
        let with_yaml = |workspace: &str| FixFiles {
            root_manifest: None,
            pnpm_workspace: project_file("/repo/pnpm-workspace.yaml", workspace),
        };
        let json_overrides = |edited: &str| {
            let value: serde_json::Value = serde_json::from_str(edited).unwrap();
            value["pnpm"]["overrides"]["b"].as_str().map(str::to_string)
        };
        // pnpm 9 with a workspace file: package.json.
        let pnpm9 = "{\"packageManager\": \"pnpm@9.15.0\", \"dependencies\": {\"a\": \"^1.0.0\"}}";
        let (title, edited, others) = fix_b(
            pnpm9,
            ManifestKind::PnpmLock,
            PNPM_LOCK,
            with_yaml("packages:\n  - 'packages/*'\n"),
        );
        assert!(others.is_empty(), "{title}");
        assert_eq!(json_overrides(&edited).as_deref(), Some("1.2.3"));
        // pnpm 11 with overrides already in package.json: pnpm-workspace.yaml all the same.
        let pnpm11 = "{\"packageManager\": \"pnpm@11.1.0+sha512.abc\", \"dependencies\": {\"a\": \"^1.0.0\"}, \"pnpm\": {\"overrides\": {\"c\": \"1\"}}}";
        let (_, edited, others) = fix_b(
            pnpm11,
            ManifestKind::PnpmLock,
            PNPM_LOCK,
            with_yaml("packages:\n  - 'packages/*'\n"),
        );
        assert_eq!(edited, pnpm11);
        let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&others[0].1).unwrap();
        assert_eq!(yaml["overrides"]["b"].as_str(), Some("1.2.3"));
        // pnpm 11 without a workspace file: no edit package.json would be ignored for.
        assert_eq!(
            fix_b_if_any(pnpm11, ManifestKind::PnpmLock, PNPM_LOCK, FixFiles::default()),
            None
        );
        // Unknown version, overrides kept in the workspace file: there, and the title says who reads it.
        let unknown = "{\"dependencies\": {\"a\": \"^1.0.0\"}}";
        let (title, _, others) = fix_b(
            unknown,
            ManifestKind::PnpmLock,
            PNPM_LOCK,
            with_yaml("packages:\n  - 'packages/*'\noverrides:\n  c: '1'\n"),
        );
        assert_eq!(others.len(), 1);
        assert!(title.contains("pnpm 10 and later"), "{title}");
        // Unknown version, no workspace file: package.json, with the versions that read it.
        let (title, edited, _) = fix_b(unknown, ManifestKind::PnpmLock, PNPM_LOCK, FixFiles::default());
        assert_eq!(json_overrides(&edited).as_deref(), Some("1.2.3"));
        assert!(title.contains("pnpm 10 and earlier"), "{title}");
    }

    /// A workspace member's package.json is not where package managers read overrides: the edit goes
    /// to the root's package.json, and the member is left as it is.
    #[test]
    fn a_members_override_is_written_to_the_root_package_json() {
        let member = "{\"name\": \"m\", \"dependencies\": {\"a\": \"^1.0.0\"}}";
        let root = "{\n  \"private\": true,\n  \"resolutions\": {\n    \"x\": \"1.0.0\"\n  }\n}\n";
        let yarn = "# yarn lockfile v1\n\na@^1.0.0:\n  version \"1.0.0\"\n  dependencies:\n    b \"^1.1.0\"\n\nb@^1.1.0:\n  version \"1.2.0\"\n";
        let files = FixFiles {
            root_manifest: project_file("/repo/package.json", root),
            pnpm_workspace: None,
        };
        let (title, edited, others) = fix_b(member, ManifestKind::YarnLock, yarn, files);
        assert_eq!(edited, member);
        assert_eq!(
            title,
            "Pin b to 1.2.3 with \"resolutions\" in package.json (then run `yarn install`)"
        );
        assert_eq!(others[0].0, std::path::PathBuf::from("/repo/package.json"));
        let value: serde_json::Value = serde_json::from_str(&others[0].1).unwrap();
        assert_eq!(value["resolutions"], serde_json::json!({"x": "1.0.0", "b": "1.2.3"}));
    }

    /// The catalog fix of `b` (declared `catalog:`) with `workspace` as pnpm-workspace.yaml: the
    /// fix data, and the diagnostics' messages.
    fn catalog_fix(workspace: &str) -> (Option<FixData>, Vec<String>) {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let manifest_text = "{\"dependencies\": {\"b\": \"catalog:\"}}";
        let lock = "lockfileVersion: '9.0'\ncatalogs:\n  default:\n    b:\n      specifier: ^1.1.0\n      version: 1.2.0\nimporters:\n  .:\n    dependencies:\n      b:\n        specifier: 'catalog:'\n        version: 1.2.0\npackages:\n  b@1.2.0:\n    resolution: {integrity: sha512-b}\nsnapshots:\n  b@1.2.0: {}\n";
        let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
        let mut lockfile = manifest::parse_lockfile(ManifestKind::PnpmLock, lock).unwrap();
        lockfile.fix_files.pnpm_workspace = project_file("/repo/pnpm-workspace.yaml", workspace);
        let registries = RegistryRules::default();
        let input = Input {
            manifest: &parsed,
            lockfile: Some(&lockfile),
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        let analysis = engine::evaluate(&input, &facts_ab(now), &Policy::default(), now);
        let dep = analysis.deps.iter().find(|d| d.dep.package.name == "b").unwrap();
        let messages = to_diagnostics(manifest_text, &parsed, &analysis, true)
            .into_iter()
            .map(|d| d.message)
            .collect();
        (fix_data(manifest_text, &parsed, dep, &analysis.fix_files), messages)
    }

    /// pnpm refuses a default catalog defined both as `catalog` and as `catalogs.default`: however
    /// the file spells `catalog:`, the entry goes there; a layout the edit cannot handle gets no edit,
    /// and the diagnostic says why.
    #[test]
    fn a_catalog_fix_never_defines_the_default_catalog_twice() {
        for workspace in [
            "catalog: # shared\n  b: ^1.1.0\n",
            "\"catalog\":\n  b: ^1.1.0\n",
            "'catalog':   \n  b: ^1.1.0\n",
            "catalogs:\n  default:\n    b: ^1.1.0\n",
            "catalogs:\n  other:\n    c: ^1\n",
        ] {
            let (data, _) = catalog_fix(workspace);
            let data = data.unwrap_or_else(|| panic!("{workspace:?}"));
            assert!(data.edits.is_empty(), "{data:?}");
            let edited = apply_edits(workspace, &data.files[0].edits);
            let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&edited).unwrap();
            let in_catalog = yaml.get("catalog").is_some_and(|c| !c.is_null());
            let in_default = yaml
                .get("catalogs")
                .and_then(|c| c.get("default"))
                .is_some_and(|c| !c.is_null());
            assert!(in_catalog != in_default, "{workspace:?} -> {edited:?}");
            let parsed = crate::manifest::lockfiles::pnpm_lock::parse_workspace(&edited).unwrap();
            assert!(
                parsed
                    .catalogs
                    .contains(&("default".to_string(), "b".to_string(), "^1.2.3".to_string())),
                "{workspace:?} -> {edited:?}"
            );
        }
        for workspace in [
            "catalog: {b: ^1.1.0}\n",
            "catalog:\n  b: ^1.1.0\ncatalogs:\n  default:\n    b: ^1\n",
        ] {
            let (data, messages) = catalog_fix(workspace);
            assert!(data.is_none(), "{workspace:?}: {data:?}");
            assert!(
                messages
                    .iter()
                    .any(|m| m.contains("no quick fix") && m.contains("pnpm-workspace.yaml")),
                "{messages:?}"
            );
        }
    }

    /// A direct dependency declared `catalog:` is fixed in the catalog, not in the member.
    #[test]
    fn a_catalog_dependency_is_fixed_in_the_catalog() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let manifest_text = "{\"dependencies\": {\"b\": \"catalog:\"}}";
        let workspace = "packages:\n  - 'packages/*'\ncatalog:\n  b: ^1.1.0\n";
        let lock = "lockfileVersion: '9.0'\ncatalogs:\n  default:\n    b:\n      specifier: ^1.1.0\n      version: 1.2.0\nimporters:\n  .:\n    dependencies:\n      b:\n        specifier: 'catalog:'\n        version: 1.2.0\npackages:\n  b@1.2.0:\n    resolution: {integrity: sha512-b}\nsnapshots:\n  b@1.2.0: {}\n";
        let parsed = manifest::parse(ManifestKind::PackageJson, manifest_text);
        let mut lockfile = manifest::parse_lockfile(ManifestKind::PnpmLock, lock).unwrap();
        lockfile.fix_files.pnpm_workspace = project_file("/repo/pnpm-workspace.yaml", workspace);
        let registries = RegistryRules::default();
        let input = Input {
            manifest: &parsed,
            lockfile: Some(&lockfile),
            workspace: None,
            registries: &registries,
            constraints: Default::default(),
        };
        let analysis = engine::evaluate(&input, &facts_ab(now), &Policy::default(), now);
        let dep = analysis.deps.iter().find(|d| d.dep.package.name == "b").unwrap();
        let data = fix_data(manifest_text, &parsed, dep, &analysis.fix_files).unwrap();
        assert!(data.edits.is_empty(), "{data:?}");
        assert_eq!(data.title, "Update b to ^1.2.3 in the catalog (pnpm-workspace.yaml)");
        let edited = apply_edits(workspace, &data.files[0].edits);
        assert_eq!(edited, "packages:\n  - 'packages/*'\ncatalog:\n  b: '^1.2.3'\n");
    }
}
