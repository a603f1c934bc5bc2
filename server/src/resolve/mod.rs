//! Requirement text → typed `Requirement`; versions compared per ecosystem; which version a dependency
//! installs (`Resolved`).
//!
//! Invariants:
//! - Pure: available versions and lockfile pins are arguments; no IO.
//! - Version comparison is never hand-written: `semver` for Cargo, `nodejs-semver` for npm, `pep440_rs`
//!   for Python. This module only picks the crate and adapts the styles each ecosystem writes.
//! - Pre-releases are never "the highest match" unless the requirement names a pre-release (npm, Cargo)
//!   or no final release matches (PEP 440).
//!
//! Traps:
//! - npm: `^0.2.3` stays below `0.3.0`; `1.x`, `*`, `""` and `latest` mean any version.
//! - Cargo: a bare `"1.0"` is `^1.0`.
//! - PEP 440: `==1.0` matches `1.0+local`; `1.0` equals `1.0.0`; epochs order before everything.
//! - Poetry: `^1.2` is `>=1.2,<2.0` and `~1.2` is `>=1.2,<1.3` (see `pypi::poetry_to_pep440`).

pub mod pypi;

use std::cmp::Ordering;
use std::str::FromStr;
use std::sync::Arc;

use crate::model::Ecosystem;

/// A parsed version of one ecosystem. Versions of different ecosystems never compare.
#[derive(Debug, Clone)]
pub enum Version {
    Npm(nodejs_semver::Version),
    Cargo(semver::Version),
    Pep440(pep440_rs::Version),
}

impl Version {
    pub fn parse(ecosystem: Ecosystem, text: &str) -> Option<Version> {
        let text = text.trim();
        match ecosystem {
            Ecosystem::Npm => nodejs_semver::Version::parse(text.strip_prefix('v').unwrap_or(text))
                .ok()
                .map(Version::Npm),
            Ecosystem::CratesIo => semver::Version::parse(text).ok().map(Version::Cargo),
            Ecosystem::PyPI => pep440_rs::Version::from_str(text).ok().map(Version::Pep440),
        }
    }

    pub fn is_prerelease(&self) -> bool {
        match self {
            Version::Npm(v) => v.is_prerelease(),
            Version::Cargo(v) => !v.pre.is_empty(),
            Version::Pep440(v) => v.any_prerelease(),
        }
    }

    /// Release numbers (major, minor, patch, …) for "closest version" decisions.
    pub fn release(&self) -> Vec<u64> {
        match self {
            Version::Npm(v) => vec![v.major, v.minor, v.patch],
            Version::Cargo(v) => vec![v.major, v.minor, v.patch],
            Version::Pep440(v) => v.release().to_vec(),
        }
    }

    pub fn compare(&self, other: &Version) -> Option<Ordering> {
        match (self, other) {
            (Version::Npm(a), Version::Npm(b)) => Some(a.cmp(b)),
            (Version::Cargo(a), Version::Cargo(b)) => Some(a.cmp_precedence(b).then_with(|| a.cmp(b))),
            (Version::Pep440(a), Version::Pep440(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.compare(other) == Some(Ordering::Equal)
    }
}

/// Compares two version strings of one ecosystem; unparsable versions sort first, by text.
pub fn compare_versions(ecosystem: Ecosystem, a: &str, b: &str) -> Ordering {
    match (Version::parse(ecosystem, a), Version::parse(ecosystem, b)) {
        (Some(va), Some(vb)) => va.compare(&vb).unwrap_or(Ordering::Equal),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// A version requirement as the ecosystem understands it. Shared (`Arc`): a document's answers keep a
/// dependency's parsed requirement in several places (the decision, the dependency, the memo's key),
/// and a parsed npm range is a few hundred bytes in several allocations; equality compares contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Npm(Arc<nodejs_semver::Range>),
    Cargo(Arc<semver::VersionReq>),
    Pep440(Arc<pep440_rs::VersionSpecifiers>),
}

impl Requirement {
    /// Parses requirement text as written in the manifest (`^1.2`, `1.0`, `>=2,<3`, `==1.*`).
    /// For PyPI, `poetry` selects Poetry's constraint syntax (`^`, `~`, bare versions).
    pub fn parse(ecosystem: Ecosystem, text: &str, poetry: bool) -> Result<Requirement, String> {
        let text = text.trim();
        match ecosystem {
            Ecosystem::Npm => {
                let text = match text {
                    "" | "latest" | "x" | "X" => "*",
                    other => other,
                };
                nodejs_semver::Range::parse(text)
                    .map(|parsed| Requirement::Npm(Arc::new(parsed)))
                    .map_err(|err| format!("not an npm version range: {err}"))
            }
            Ecosystem::CratesIo => {
                let text = if text.is_empty() { "*" } else { text };
                semver::VersionReq::parse(text)
                    .map(|parsed| Requirement::Cargo(Arc::new(parsed)))
                    .map_err(|err| format!("not a Cargo version requirement: {err}"))
            }
            Ecosystem::PyPI => {
                let converted;
                let text = if poetry {
                    converted = pypi::poetry_to_pep440(text)?;
                    converted.as_str()
                } else {
                    text
                };
                pep440_rs::VersionSpecifiers::from_str(text)
                    .map(|parsed| Requirement::Pep440(Arc::new(parsed)))
                    .map_err(|err| format!("not a PEP 440 specifier: {err}"))
            }
        }
    }

    pub fn matches(&self, version: &Version) -> bool {
        match (self, version) {
            (Requirement::Npm(range), Version::Npm(v)) => range.satisfies(v),
            (Requirement::Cargo(req), Version::Cargo(v)) => req.matches(v),
            (Requirement::Pep440(spec), Version::Pep440(v)) => spec.contains(v),
            _ => false,
        }
    }

    /// Whether the requirement itself names a pre-release (then pre-releases may be chosen).
    fn names_prerelease(&self) -> bool {
        match self {
            Requirement::Npm(range) => range.to_string().contains('-'),
            Requirement::Cargo(req) => req.comparators.iter().any(|c| !c.pre.is_empty()),
            Requirement::Pep440(spec) => spec.iter().any(|s| s.version().any_prerelease()),
        }
    }

    /// The highest of `versions` that this requirement admits, preferring final releases.
    pub fn highest<'a>(&self, ecosystem: Ecosystem, versions: impl IntoIterator<Item = &'a str>) -> Option<String> {
        self.matching(ecosystem, versions).into_iter().last()
    }

    /// Every version of `versions` that the requirement admits, sorted ascending. Pre-releases are
    /// left out unless the requirement names one, or (PEP 440) nothing else matches.
    pub fn matching<'a>(&self, ecosystem: Ecosystem, versions: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let allow_pre = self.names_prerelease();
        let mut finals = Vec::new();
        let mut pres = Vec::new();
        for text in versions {
            let Some(version) = Version::parse(ecosystem, text) else {
                continue;
            };
            if !self.matches(&version) {
                continue;
            }
            if version.is_prerelease() && !allow_pre {
                pres.push((version, text.to_string()));
            } else {
                finals.push((version, text.to_string()));
            }
        }
        let mut res = if finals.is_empty() && ecosystem == Ecosystem::PyPI {
            pres
        } else {
            finals
        };
        res.sort_by(|a, b| a.0.compare(&b.0).unwrap_or(Ordering::Equal));
        res.into_iter().map(|(_, text)| text).collect()
    }
}

pub use crate::model::VersionSource;

/// The version a dependency installs, and how that was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub version: Option<String>,
    pub source: VersionSource,
}

/// The exact version a requirement pins, if it pins one: npm `1.2.3`/`=1.2.3`, Cargo `=1.2.3`,
/// PEP 440 `==1.2.3` / `===1.2.3` (no wildcard).
pub fn exact_pin(ecosystem: Ecosystem, requirement: &str) -> Option<String> {
    let text = requirement.trim();
    match ecosystem {
        Ecosystem::Npm => {
            let bare = text.strip_prefix('=').unwrap_or(text).trim();
            let bare = bare.strip_prefix('v').unwrap_or(bare);
            // Every keystroke asks this of every dependency: a plain `X.Y.Z` (most pins) is one without
            // the full parser, and a range is none without it.
            if !is_plain_version(bare) {
                return None;
            }
            if is_core_version(bare) {
                return Some(bare.to_string());
            }
            nodejs_semver::Version::parse(bare).ok().map(|_| bare.to_string())
        }
        Ecosystem::CratesIo => {
            let bare = text.strip_prefix('=')?.trim();
            semver::Version::parse(bare).ok().map(|_| bare.to_string())
        }
        Ecosystem::PyPI => {
            if text.contains(',') {
                return None;
            }
            let bare = text.strip_prefix("===").or_else(|| text.strip_prefix("=="))?.trim();
            if bare.contains('*') {
                return None;
            }
            pep440_rs::Version::from_str(bare).ok().map(|_| bare.to_string())
        }
    }
}

/// `MAJOR.MINOR.PATCH` exactly as SemVer 2.0 writes a version core: three decimal numbers without
/// leading zeros (and small enough for any parser).
fn is_core_version(text: &str) -> bool {
    let mut parts = 0;
    for part in text.split('.') {
        parts += 1;
        let number = !part.is_empty() && part.len() <= 15 && part.bytes().all(|b| b.is_ascii_digit());
        if !number || (part.len() > 1 && part.starts_with('0')) {
            return false;
        }
    }
    parts == 3
}

fn is_plain_version(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_ascii_digit())
        && !text.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '|' | '^' | '~' | '*'))
        && !text.contains(".x")
}

/// Decides the checked version: the lockfile's, else the exact pin, else the highest match among
/// `available` (when the registry's list is known), else unresolved.
pub fn resolve(
    ecosystem: Ecosystem,
    requirement: Option<&Requirement>,
    requirement_text: Option<&str>,
    locked: Option<&str>,
    available: Option<&[String]>,
) -> Resolved {
    if let Some(version) = locked {
        return Resolved {
            version: Some(version.to_string()),
            source: VersionSource::Lockfile,
        };
    }
    if let Some(version) = requirement_text.and_then(|text| exact_pin(ecosystem, text)) {
        return Resolved {
            version: Some(version),
            source: VersionSource::Pinned,
        };
    }
    if let (Some(requirement), Some(available)) = (requirement, available)
        && let Some(version) = requirement.highest(ecosystem, available.iter().map(String::as_str))
    {
        return Resolved {
            version: Some(version),
            source: VersionSource::Resolved,
        };
    }
    Resolved {
        version: None,
        source: VersionSource::Unresolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn highest(eco: Ecosystem, req: &str, versions: &[&str]) -> Option<String> {
        Requirement::parse(eco, req, false)
            .unwrap()
            .highest(eco, versions.iter().copied())
    }

    #[test]
    fn npm_ranges() {
        let v = ["0.2.3", "0.2.9", "0.3.0", "1.0.0", "1.5.0-beta.1", "1.4.2", "2.0.0"];
        assert_eq!(highest(Ecosystem::Npm, "^0.2.3", &v).as_deref(), Some("0.2.9"));
        assert_eq!(highest(Ecosystem::Npm, "^1.0.0", &v).as_deref(), Some("1.4.2"));
        assert_eq!(highest(Ecosystem::Npm, "1.x || >=2", &v).as_deref(), Some("2.0.0"));
        assert_eq!(highest(Ecosystem::Npm, "0.2.0 - 0.3.0", &v).as_deref(), Some("0.3.0"));
        assert_eq!(highest(Ecosystem::Npm, "latest", &v).as_deref(), Some("2.0.0"));
        assert_eq!(highest(Ecosystem::Npm, "~0.2.3", &v).as_deref(), Some("0.2.9"));
    }

    #[test]
    fn cargo_caret_by_default() {
        let v = ["1.0.0", "1.0.4", "1.1.0", "2.0.0"];
        assert_eq!(highest(Ecosystem::CratesIo, "1.0", &v).as_deref(), Some("1.1.0"));
        assert_eq!(highest(Ecosystem::CratesIo, "~1.0", &v).as_deref(), Some("1.0.4"));
    }

    #[test]
    fn pep440() {
        let v = ["2.19.0", "2.31.0", "3.0.0rc1"];
        assert_eq!(highest(Ecosystem::PyPI, ">=2,<3", &v).as_deref(), Some("2.31.0"));
        assert_eq!(highest(Ecosystem::PyPI, ">=3.0.0rc1", &v).as_deref(), Some("3.0.0rc1"));
        assert_eq!(exact_pin(Ecosystem::PyPI, "==2.19.0").as_deref(), Some("2.19.0"));
        assert_eq!(exact_pin(Ecosystem::PyPI, "==2.*"), None);
        assert_eq!(exact_pin(Ecosystem::Npm, "4.17.15").as_deref(), Some("4.17.15"));
        // The fast path for `X.Y.Z` answers as the full parser does.
        for text in [
            "1.2.3",
            "0.0.0",
            "10.20.30",
            "01.2.3",
            "1.02.3",
            "1.2",
            "1",
            "1.2.3.4",
            "1.2.3-beta.1",
            "1.2.3+build",
            "v1.2.3",
            "=1.2.3",
            "= v1.2.3",
            "1.2.x",
            "1.2.*",
            "^1.2.3",
            "~1.2.3",
            ">=1.2.3",
            "1.2.3 - 2.0.0",
            "1.2.3 || 2.0.0",
            "",
            "latest",
            "1..3",
            "1.2.",
            "99999999999999999999.0.0",
        ] {
            let bare = text.trim().strip_prefix('=').unwrap_or(text.trim()).trim();
            let bare = bare.strip_prefix('v').unwrap_or(bare);
            let parsed = nodejs_semver::Version::parse(bare)
                .ok()
                .filter(|_| is_plain_version(bare))
                .map(|_| bare.to_string());
            assert_eq!(exact_pin(Ecosystem::Npm, text), parsed, "{text:?}");
        }
        assert_eq!(exact_pin(Ecosystem::Npm, "^4.17.15"), None);
        assert_eq!(exact_pin(Ecosystem::CratesIo, "1.0"), None);
        assert_eq!(exact_pin(Ecosystem::CratesIo, "=1.0.3").as_deref(), Some("1.0.3"));
    }

    #[test]
    fn pep440_local_and_equal_forms() {
        let a = Version::parse(Ecosystem::PyPI, "1.0").unwrap();
        let b = Version::parse(Ecosystem::PyPI, "1.0.0").unwrap();
        assert_eq!(a, b);
    }
}
