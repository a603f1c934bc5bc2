//! SARIF 2.1.0 for code scanning: one rule per finding code, results with physical locations (1-based
//! lines and columns) and `partialFingerprints` that stay stable across runs (file, package, finding id),
//! so GitHub code scanning deduplicates them.
//!
//! A SARIF file is often read without the exit code (uploaded, archived), so it carries the run's
//! completeness itself: `invocations[0].executionSuccessful` is false when a check of some package was
//! not done or a file could not be read, and each such gap is a `toolExecutionNotification` on the
//! dependency's line (stale data and configuration notes too, as warnings and notes).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::checks::{ALL_KINDS, FindingKind};
use crate::engine::Analysis;
use crate::model::Severity;
use crate::report::{Positions, advisory_link, describe_fix};

pub struct Sarif {
    results: Vec<Value>,
    used: Vec<FindingKind>,
    /// `toolExecutionNotifications`: what was not checked or not read, and notes.
    notifications: Vec<Value>,
    /// False once something was not checked or not read.
    successful: bool,
}

/// A notification at `region` of `file` (no location for a run-level one).
fn notification(level: &str, text: String, file: Option<&str>, region: Option<Value>) -> Value {
    let mut value = json!({ "level": level, "message": { "text": text } });
    if let Some(file) = file {
        let mut location = json!({ "artifactLocation": { "uri": artifact_uri(file) } });
        if let Some(region) = region {
            location["region"] = region;
        }
        value["locations"] = json!([{ "physicalLocation": location }]);
    }
    value
}

fn help(kind: FindingKind) -> (&'static str, &'static str) {
    match kind {
        FindingKind::Malicious => (
            "Malicious package",
            "An OSV record (OpenSSF MAL- or GHSA malware) says this package is malicious. Remove it; no version is safe.",
        ),
        FindingKind::Advisory => (
            "Known vulnerability",
            "An OSV advisory affects the checked version. Update to the version Gatehouse proposes.",
        ),
        FindingKind::FreshVersion => (
            "Freshly published version",
            "The version was published less than min-version-age ago; malicious releases are usually caught within days.",
        ),
        FindingKind::FreshPackage => (
            "New package",
            "The package first appeared less than min-package-age ago; typosquats and interview malware are new.",
        ),
        FindingKind::Yanked => ("Yanked version", "The registry yanked this version."),
        FindingKind::Deprecated => (
            "Deprecated version",
            "The registry marks this version or project deprecated.",
        ),
        FindingKind::Unpublished => (
            "Unpublished package",
            "The package was unpublished or replaced by a security holding package.",
        ),
        FindingKind::TakenDown => (
            "Taken down",
            "A version seen earlier is gone from the registry, or its artifact changed.",
        ),
        FindingKind::NoProvenance => ("No provenance", "The version has no build provenance."),
        FindingKind::BadProvenance => (
            "Invalid provenance",
            "The provenance attestation failed cryptographic verification.",
        ),
        FindingKind::ProvenanceDowngrade => (
            "Provenance downgrade",
            "Earlier versions had provenance and this one does not: the pattern of a stolen-token publish.",
        ),
        FindingKind::Unchecked => ("Not checked", "Gatehouse could not check this dependency."),
        FindingKind::Policy => ("Policy problem", "A problem in gatehouse.toml."),
        FindingKind::InstallScriptAdded => (
            "Install script added",
            "This version runs code on install (an npm install hook, a PyPI sdist-only release, a new crate build dependency) where earlier versions did not.",
        ),
        FindingKind::DependencyAdded => (
            "Dependency added",
            "This version adds a runtime dependency; stronger when the added package is new, has few versions or is not on the registry.",
        ),
        FindingKind::PublisherChanged => (
            "Publisher changed",
            "This version was published by an identity that published none of the earlier versions, or lost the provenance they had.",
        ),
        FindingKind::RepositoryChanged => (
            "Repository changed",
            "This version declares a different source repository than the version before it.",
        ),
        FindingKind::ReleasePattern => (
            "Unusual release pattern",
            "A release after a long dormancy, a burst of versions within an hour, or a version far above the earlier ones.",
        ),
        FindingKind::YanksAround => (
            "Versions around it yanked",
            "The versions just before this one are yanked, which pushes installers to it.",
        ),
        FindingKind::Typosquat => (
            "Typosquat",
            "A young package whose name is a small edit away from a popular package of the same ecosystem: check that it is the package you meant.",
        ),
        FindingKind::SuspiciousVersion => (
            "Suspicious fresh version",
            "Several pre-advisory signals on a freshly published version: the pattern of a hijacked release, before any advisory exists.",
        ),
        FindingKind::Denied => ("Denied package", "The project's policy denies this package."),
    }
}

/// Everything but RFC 3986 unreserved characters and `/` is percent-encoded, so a path with spaces,
/// `#`, `%`, `:` or non-ASCII letters is a valid `uri-reference` (SARIF §3.4.3) that still resolves
/// against the repository root. Backslashes are turned into `/` first.
const URI_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

fn artifact_uri(file: &str) -> String {
    utf8_percent_encode(&file.replace('\\', "/"), URI_PATH).to_string()
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Information | Severity::Hint => "note",
    }
}

impl Sarif {
    pub fn new() -> Sarif {
        Sarif {
            results: Vec::new(),
            used: Vec::new(),
            notifications: Vec::new(),
            successful: true,
        }
    }

    /// A file that could not be read, decoded or parsed: the run is incomplete.
    pub fn unread(&mut self, source: &str, message: &str) {
        self.successful = false;
        self.notifications.push(notification(
            "error",
            format!("{source} could not be checked: {message}"),
            Some(source),
            None,
        ));
    }

    /// A configuration note (`note:` in the text report).
    pub fn note(&mut self, source: &str, message: &str) {
        self.notifications
            .push(notification("note", format!("{source}: {message}"), None, None));
    }

    /// The gaps of one file's analysis: checks not done, stale answers, syntax problems.
    fn add_gaps(&mut self, file: &str, positions: &Positions, analysis: &Analysis) {
        use crate::engine::{CheckState, Status};
        let region = |span| {
            let (start, end) = positions.range(span);
            json!({
                "startLine": start.line + 1,
                "startColumn": start.character + 1,
                "endLine": end.line + 1,
                "endColumn": end.character + 1,
            })
        };
        for dep in &analysis.deps {
            let name = match &dep.dep.resolved.version {
                Some(version) => format!("{} {version}", dep.dep.package),
                None => dep.dep.package.to_string(),
            };
            let via = if dep.dep.via.is_empty() {
                String::new()
            } else {
                format!(" (via {})", dep.dep.via.join(" > "))
            };
            let gaps: Vec<String> = dep
                .checks
                .iter()
                .into_iter()
                .filter(|(_, state)| state.is_incomplete())
                .map(|(check, state)| match state {
                    // The run is over: a check still pending was not done.
                    CheckState::Pending => format!("{check} not checked (no answer before the run ended)"),
                    CheckState::Degraded(caveat) => format!("{check} incomplete ({caveat})"),
                    other => match other.reason() {
                        Some(reason) => format!("{check} not checked ({reason})"),
                        None => format!("{check} not checked"),
                    },
                })
                .collect();
            let span = dep.dep.span;
            if !gaps.is_empty() {
                self.successful = false;
                self.notifications.push(notification(
                    "error",
                    format!("{name}{via}: {}", gaps.join("; ")),
                    Some(file),
                    Some(region(span)),
                ));
            } else if matches!(dep.status, Status::Checked)
                && dep.stale_as_of.is_some()
                && let Some(status) = crate::report::describe_status(dep)
            {
                self.notifications.push(notification(
                    "warning",
                    format!("{name}{via}: {status}"),
                    Some(file),
                    Some(region(span)),
                ));
            }
        }
        for issue in &analysis.syntax {
            self.notifications.push(notification(
                "warning",
                issue.message.clone(),
                Some(file),
                Some(region(issue.span)),
            ));
        }
    }

    pub fn add(&mut self, file: &str, text: &str, analysis: &Analysis) {
        // SARIF columns count UTF-16 code units by default (`columnKind: utf16CodeUnits`).
        let positions = Positions::new(text, true);
        self.add_gaps(file, &positions, analysis);
        for finding in &analysis.findings {
            let Some(dep) = analysis.deps.get(finding.dep) else {
                continue;
            };
            if !self.used.contains(&finding.kind) {
                self.used.push(finding.kind);
            }
            let (start, end) = positions.range(finding.span);
            let mut fingerprint = Sha256::new();
            fingerprint.update(file.as_bytes());
            fingerprint.update([0]);
            fingerprint.update(dep.dep.package.to_string().as_bytes());
            fingerprint.update([0]);
            fingerprint.update(finding.id.as_bytes());
            fingerprint.update([0]);
            fingerprint.update(dep.dep.via.join(">").as_bytes());
            let mut message = finding.message.clone();
            if let Some(fix) = &dep.fix
                && crate::report::lsp::shows_fix(dep)
            {
                message = format!("{message}; {}", describe_fix(fix));
            }
            let mut result = json!({
                "ruleId": finding.kind.code(),
                "level": level(finding.severity),
                "message": { "text": message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": artifact_uri(file) },
                        "region": {
                            "startLine": start.line + 1,
                            "startColumn": start.character + 1,
                            "endLine": end.line + 1,
                            "endColumn": end.character + 1,
                        }
                    }
                }],
                "partialFingerprints": {
                    "gatehouse/v1": hex::encode(fingerprint.finalize()),
                },
                "properties": {
                    "package": dep.dep.package.name,
                    "ecosystem": dep.dep.package.ecosystem.osv_name(),
                    "version": dep.dep.resolved.version,
                    "advisory": finding.id,
                    "aliases": finding.aliases,
                }
            });
            if let Some(link) = advisory_link(finding)
                && let Some(props) = result.get_mut("properties").and_then(Value::as_object_mut)
            {
                props.insert("url".to_string(), Value::String(link));
            }
            if let Some(constrained_by) = &dep.constrained_by
                && let Some(props) = result.get_mut("properties").and_then(Value::as_object_mut)
            {
                props.insert("constrainedBy".to_string(), Value::String(constrained_by.clone()));
            }
            self.results.push(result);
        }
    }

    pub fn to_value(&self) -> Value {
        let rules: Vec<Value> = ALL_KINDS
            .iter()
            .filter(|kind| self.used.contains(kind))
            .map(|kind| {
                let (name, text) = help(*kind);
                json!({
                    "id": kind.code(),
                    "name": name.replace(' ', ""),
                    "shortDescription": { "text": name },
                    "fullDescription": { "text": text },
                    "help": { "text": text, "markdown": text },
                    "helpUri": format!("https://github.com/gatehouse-dev/gatehouse#check-{}", kind.code()),
                    "defaultConfiguration": { "level": if matches!(kind, FindingKind::Malicious | FindingKind::BadProvenance | FindingKind::Yanked | FindingKind::Denied) { "error" } else { "warning" } },
                })
            })
            .collect();
        let mut results = self.results.clone();
        for result in &mut results {
            let rule_id = result
                .get("ruleId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(idx) = ALL_KINDS
                .iter()
                .filter(|kind| self.used.contains(kind))
                .position(|kind| kind.code() == rule_id)
                && let Some(obj) = result.as_object_mut()
            {
                obj.insert("ruleIndex".to_string(), json!(idx));
            }
        }
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {
                    "driver": {
                        "name": "gatehouse",
                        "informationUri": "https://github.com/gatehouse-dev/gatehouse",
                        "version": env!("CARGO_PKG_VERSION"),
                        "rules": rules,
                    }
                },
                "columnKind": "utf16CodeUnits",
                "invocations": [{
                    "executionSuccessful": self.successful,
                    "toolExecutionNotifications": self.notifications,
                }],
                "results": results,
            }]
        })
    }

    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, &self.to_value())?;
        writeln!(out)
    }
}

impl Default for Sarif {
    fn default() -> Self {
        Sarif::new()
    }
}
