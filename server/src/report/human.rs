//! Terminal output of `gatehouse check`: one block per finding with the source line and carets, colours
//! when writing to a terminal, and a summary line.

use std::io::Write;

use crate::engine::Analysis;
use crate::model::Severity;
use crate::report::{Positions, counts, describe_fix, describe_unchecked, unchecked_by_check};

pub struct Human {
    pub color: bool,
    pub totals: [usize; 4],
    pub packages: usize,
    pub unchecked: usize,
    /// Per check (`CheckStates::NAMES` order): packages it could not be done for.
    pub unchecked_by_check: [usize; 4],
    /// Files that could not be read, decoded or parsed.
    pub unread_files: usize,
    pub files: usize,
    /// Packages checked against answers older than their time to live, and the oldest answer's time.
    pub stale: usize,
    pub stale_as_of: Option<jiff::Timestamp>,
    /// Findings on pip-constrained packages already counted (package, version, finding id): a pin in a
    /// constraints file is reported on its own line and on each requirement it constrains, but it is one
    /// problem in the summary.
    constrained_counted: std::collections::HashSet<(String, Option<String>, String)>,
}

impl Human {
    pub fn new(color: bool) -> Human {
        Human {
            color,
            totals: [0; 4],
            packages: 0,
            unchecked: 0,
            unchecked_by_check: [0; 4],
            unread_files: 0,
            files: 0,
            stale: 0,
            stale_as_of: None,
            constrained_counted: std::collections::HashSet::new(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn add(&mut self, out: &mut dyn Write, file: &str, text: &str, analysis: &Analysis) -> std::io::Result<()> {
        self.files += 1;
        self.packages += analysis.deps.len();
        self.unchecked += analysis
            .deps
            .iter()
            .filter(|d| d.checks.iter().iter().any(|(_, state)| state.is_incomplete()))
            .count();
        for dep in &analysis.deps {
            if let Some(as_of) = dep.stale_as_of {
                self.stale += 1;
                self.stale_as_of = Some(self.stale_as_of.map_or(as_of, |oldest| oldest.min(as_of)));
            }
        }
        for (total, n) in self.unchecked_by_check.iter_mut().zip(unchecked_by_check(analysis)) {
            *total += n;
        }
        let positions = Positions::new(text, false);
        for finding in &analysis.findings {
            let Some(dep) = analysis.deps.get(finding.dep) else {
                continue;
            };
            let (start, end) = positions.range(finding.span);
            let (label, colour) = match finding.severity {
                Severity::Error => ("error", "1;31"),
                Severity::Warning => ("warning", "1;33"),
                Severity::Information => ("info", "1;36"),
                Severity::Hint => ("hint", "2"),
            };
            writeln!(
                out,
                "{}[{}]: {}",
                self.paint(colour, label),
                finding.id,
                finding.message
            )?;
            writeln!(
                out,
                "  {} {}:{}:{}",
                self.paint("34", "-->"),
                file,
                start.line + 1,
                start.character + 1
            )?;
            let line_text = text.lines().nth(start.line as usize).unwrap_or("");
            let gutter = format!("{}", start.line + 1);
            writeln!(out, "  {} | {}", gutter, line_text.trim_end_matches('\r'))?;
            let width = if end.line == start.line {
                (end.character.saturating_sub(start.character)).max(1) as usize
            } else {
                1
            };
            let pad: String = line_text
                .chars()
                .take(start.character as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(
                out,
                "  {} | {}{}",
                " ".repeat(gutter.len()),
                pad,
                self.paint(colour, &"^".repeat(width))
            )?;
            if let Some(fix) = &dep.fix
                && crate::report::lsp::shows_fix(dep)
            {
                writeln!(out, "  {} {}", self.paint("32", "="), describe_fix(fix))?;
            }
            writeln!(out)?;
        }
        for note in &analysis.notes {
            writeln!(out, "{}: {file}: {}", self.paint("1;36", "note"), note.message)?;
        }
        for issue in &analysis.syntax {
            let position = positions.position(issue.span.start);
            writeln!(
                out,
                "{}: {file}:{}:{}: {}",
                self.paint("1;33", "syntax"),
                position.line + 1,
                position.character + 1,
                issue.message
            )?;
        }
        let mut found = counts(analysis);
        for finding in &analysis.findings {
            let Some(dep) = analysis
                .deps
                .get(finding.dep)
                .filter(|dep| dep.constrained_by.is_some())
            else {
                continue;
            };
            let key = (
                dep.dep.package.to_string(),
                dep.dep.resolved.version.clone(),
                finding.id.clone(),
            );
            if !self.constrained_counted.insert(key) {
                let idx = match finding.severity {
                    Severity::Error => 0,
                    Severity::Warning => 1,
                    Severity::Information => 2,
                    Severity::Hint => 3,
                };
                found[idx] = found[idx].saturating_sub(1);
            }
        }
        for (total, n) in self.totals.iter_mut().zip(found) {
            *total += n;
        }
        Ok(())
    }

    pub fn summary(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let [errors, warnings, infos, hints] = self.totals;
        let mut line = format!(
            "gatehouse: {} package{} in {} file{}: {errors} error{}, {warnings} warning{}",
            self.packages,
            plural(self.packages),
            self.files,
            plural(self.files),
            plural(errors),
            plural(warnings)
        );
        if infos + hints > 0 {
            line.push_str(&format!(", {} note{}", infos + hints, plural(infos + hints)));
        }
        if self.unchecked > 0 {
            line.push_str(&format!(
                ", {} could not be checked ({})",
                self.unchecked,
                describe_unchecked(&self.unchecked_by_check)
            ));
        }
        if let Some(as_of) = self.stale_as_of {
            line.push_str(&format!(
                ", {} checked against data as of {} (offline or the refresh failed)",
                self.stale,
                as_of.strftime("%Y-%m-%d %H:%M UTC")
            ));
        }
        if self.unread_files > 0 {
            line.push_str(&format!(
                ", {} file{} could not be read",
                self.unread_files,
                plural(self.unread_files)
            ));
        }
        let colour = if errors > 0 {
            "1;31"
        } else if warnings > 0 || self.unchecked > 0 || self.unread_files > 0 || self.stale > 0 {
            "1;33"
        } else {
            "1;32"
        };
        writeln!(out, "{}", self.paint(colour, &line))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
