//! The document store: text, incremental tree and version per open document, plus its context.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tower_lsp_server::ls_types as lsp;

use crate::config::{self, Layer};
use crate::engine::RegistryRules;
use crate::manifest::{ManifestKind, SourceFile};
use crate::project::Context;
use crate::report::Positions;
use crate::report::lsp::{to_offsets, to_range};

use super::held::FactKey;

/// `gatehouse.toml` documents keep their text in a `SourceFile` of a kind without a tree.
pub const CONFIG_KIND_MARKER: ManifestKind = ManifestKind::Requirements;

pub struct Doc {
    pub source: SourceFile,
    pub version: i32,
    pub path: Option<PathBuf>,
    pub context: Option<Arc<Context>>,
    /// Settings or project files changed: read the context again (the old one serves meanwhile).
    pub reload_context: bool,
    pub is_config: bool,
    /// The checks' and the solver's answers from earlier evaluations of this document
    /// (`engine::evaluate_memoized`).
    pub memo: crate::engine::Memo,
    /// The facts this document read when it last asked for lookups, and the lookup configuration they
    /// belong to: what keeps them held (`held::Held::retain`). Distinct keys, in a slice of exactly their
    /// number (a set's table took ~1.7 times the room, for every open document).
    pub uses: Box<[FactKey]>,
    pub uses_key: String,
    /// Which analysis task is this document's: a task stops at its next step once a newer one was
    /// scheduled (aborting cannot stop a task in the middle of a step on another thread).
    pub generation: u64,
}

impl Doc {
    pub fn new(source: SourceFile, version: i32, path: Option<PathBuf>, is_config: bool) -> Doc {
        Doc {
            source,
            version,
            path,
            context: None,
            reload_context: false,
            is_config,
            memo: Default::default(),
            uses: Box::default(),
            uses_key: String::new(),
            generation: 0,
        }
    }
}

/// A context with defaults, for the first publish before files around the document are read.
pub fn empty_context() -> Context {
    Context {
        lockfile: None,
        lockfile_path: None,
        workspace: None,
        config: config::build(&[]),
        config_path: None,
        config_text: None,
        registries: RegistryRules::default(),
        private: Default::default(),
        workspace_root: PathBuf::new(),
        manifest_dir: PathBuf::new(),
        problems: Vec::new(),
        constraints: Vec::new(),
        is_constraints_file: false,
        constraints_applied: false,
        constraints_read_for: Vec::new(),
        constraint_files: Vec::new(),
        constraints_unread: Vec::new(),
    }
}

/// Applies LSP content changes in order; a change without a range replaces the text.
pub fn apply_changes(doc: &mut Doc, version: i32, changes: Vec<lsp::TextDocumentContentChangeEvent>, utf16: bool) {
    for change in changes {
        match change.range {
            Some(range) => {
                let positions = Positions::new(doc.source.text(), utf16);
                let (start, end) = to_offsets(&positions, range);
                doc.source.edit(start, end.max(start), &change.text);
            }
            None => doc.source.replace(change.text),
        }
    }
    doc.version = version;
}

/// Diagnostics for a `gatehouse.toml` document: unknown keys, bad values, suppression problems, and
/// the machine-trust keys ignored because the project (rooted at `workspace`) is not `trusted`.
pub fn config_diagnostics(doc: &Doc, utf16: bool, trusted: bool, workspace: &Path) -> Vec<lsp::Diagnostic> {
    let text = doc.source.text();
    let path = doc.path.clone().unwrap_or_else(|| PathBuf::from("gatehouse.toml"));
    let (layer, _) = Layer::from_toml(&path, text);
    let built = config::build(&[layer]);
    let issues = crate::project::project_config_issues(&path, text, trusted, workspace);
    let positions = Positions::new(text, utf16);
    let diagnostic = |span: crate::model::Span, message: String| lsp::Diagnostic {
        range: to_range(&positions, span),
        severity: Some(lsp::DiagnosticSeverity::WARNING),
        code: Some(lsp::NumberOrString::String("policy".to_string())),
        source: Some("gatehouse".to_string()),
        message,
        ..lsp::Diagnostic::default()
    };
    let mut res: Vec<lsp::Diagnostic> = issues
        .into_iter()
        .map(|issue| diagnostic(key_span(text, &issue.key), issue.message))
        .collect();
    let now = jiff::Timestamp::now();
    for issue in built.policy.issues(now, &[]) {
        if issue.kind == crate::model::PolicyIssueKind::Unused {
            continue;
        }
        let span = nth_table_span(text, "[[ignore]]", issue.ignore_index);
        res.push(diagnostic(span, crate::report::policy_issue_text(&issue)));
    }
    res
}

/// The span of the last segment of a dotted key in TOML text (best effort: its first occurrence as a
/// key at the start of a line), else the first line.
fn key_span(text: &str, dotted: &str) -> crate::model::Span {
    let last = dotted.rsplit('.').next().unwrap_or(dotted);
    if !last.is_empty() {
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.starts_with(last) && trimmed[last.len()..].trim_start().starts_with(['=', '.']) {
                return crate::model::Span::new(offset + indent, offset + indent + last.len());
            }
            offset += line.len();
        }
    }
    let first_line = text.find('\n').unwrap_or(text.len());
    crate::model::Span::new(0, first_line)
}

fn nth_table_span(text: &str, header: &str, index: usize) -> crate::model::Span {
    text.match_indices(header)
        .nth(index)
        .map(|(at, _)| crate::model::Span::new(at, at + header.len()))
        .unwrap_or_default()
}
