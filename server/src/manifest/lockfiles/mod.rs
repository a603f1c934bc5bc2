//! Lockfile readers: each returns every locked package with its resolved dependency edges.

pub mod cargo_lock;
pub mod package_lock;
pub mod poetry_lock;
pub mod uv_lock;

use crate::model::Span;

/// A span clamped into `text` and widened to char boundaries.
pub(crate) fn clamp(text: &str, start: usize, end: usize) -> Span {
    let mut start = start.min(text.len());
    let mut end = end.clamp(start, text.len());
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    while end < text.len() && !text.is_char_boundary(end) {
        end += 1;
    }
    Span::new(start, end)
}

/// The span of one `[[package]]` entry of a TOML lockfile: from the last `[[package]]` header at or
/// before `inside` to the next one (or the end). `headers` are the header offsets, ascending.
pub(crate) fn entry_span(text: &str, headers: &[usize], inside: usize) -> Span {
    let start = headers
        .iter()
        .rev()
        .find(|at| **at <= inside)
        .copied()
        .unwrap_or(inside);
    let end = headers.iter().find(|at| **at > inside).copied().unwrap_or(text.len());
    clamp(text, start, end)
}

/// Offsets of every `[[package]]` header that starts a line.
pub(crate) fn package_headers(text: &str) -> Vec<usize> {
    text.match_indices("[[package]]")
        .map(|(at, _)| at)
        .filter(|at| *at == 0 || text.as_bytes().get(at - 1) == Some(&b'\n'))
        .collect()
}

/// The typed form of a TOML lockfile, with the empty `Lockfile` it will fill; when the text does not
/// parse, that empty lockfile carries the parse error as its issue and is the answer.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(
    kind: crate::manifest::ManifestKind,
    ecosystem: crate::model::Ecosystem,
    text: &str,
) -> Result<(crate::manifest::Lockfile, T), crate::manifest::Lockfile> {
    let mut res = crate::manifest::Lockfile {
        kind,
        ecosystem,
        packages: Vec::new(),
        roots: Vec::new(),
        issues: Vec::new(),
    };
    match toml::from_str(text) {
        Ok(lock) => Ok((res, lock)),
        Err(error) => {
            res.issues.push(toml_issue(text, &error));
            Err(res)
        }
    }
}

/// A TOML parse error as a lockfile issue.
pub(crate) fn toml_issue(text: &str, error: &toml::de::Error) -> crate::manifest::SyntaxIssue {
    crate::manifest::SyntaxIssue {
        span: error
            .span()
            .map(|range| clamp(text, range.start, range.end))
            .unwrap_or(Span::new(0, 0)),
        message: match error.message() {
            "" => "invalid lockfile: unexpected end of file".to_string(),
            message => format!("invalid lockfile: {message}"),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::manifest::{LockedPackage, Lockfile};

    /// A package's dependencies by name@version, comma-separated.
    pub(crate) fn deps_of(lock: &Lockfile, package: &LockedPackage) -> String {
        let deps: Vec<String> = package
            .dependencies
            .iter()
            .map(|idx| format!("{}@{}", lock.packages[*idx].name, lock.packages[*idx].version))
            .collect();
        deps.join(", ")
    }

    /// ` non-registry(<why>)` for a package that does not come from a registry, else nothing.
    pub(crate) fn non_registry_of(package: &LockedPackage) -> String {
        package
            .non_registry
            .as_deref()
            .map(|r| format!(" non-registry({r})"))
            .unwrap_or_default()
    }

    /// One line per issue.
    pub(crate) fn issues_of(lock: &Lockfile) -> String {
        lock.issues
            .iter()
            .map(|issue| format!("issue {} at {:?}\n", issue.message, issue.span))
            .collect()
    }

    /// One line per root and per package (flags, dependencies by name@version); asserts spans are in bounds.
    pub(crate) fn render(lock: &Lockfile, text: &str) -> String {
        let mut res = String::new();
        for (name, idx) in &lock.roots {
            res.push_str(&format!("root {name} -> {}\n", lock.packages[*idx].version));
        }
        for package in &lock.packages {
            assert!(package.span.end <= text.len());
            assert!(text[package.span.start..].starts_with("[[package]]"));
            res.push_str(&format!(
                "{}@{}{}{}{}{} deps=[{}]\n",
                package.name,
                package.version,
                if package.dev { " dev" } else { "" },
                if package.optional { " optional" } else { "" },
                non_registry_of(package),
                package
                    .integrity
                    .as_deref()
                    .map(|i| format!(" integrity={i}"))
                    .unwrap_or_default(),
                deps_of(lock, package)
            ));
        }
        res.push_str(&issues_of(lock));
        res
    }
}
