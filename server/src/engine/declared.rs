//! Dependencies the manifest itself fetches from a git repository or a URL (`"x": "github:o/x"`,
//! `"x": "https://host/x.tgz"`, `x @ https://…`, `x = { git = "…" }`, a bare URL line). What such a
//! source serves is not a registry's release and nothing is known about it, so it is not checked and
//! never clean: unavailable, with a finding that says so, exit 2 (as an entry a lockfile fetches from
//! elsewhere, `sources`).
//!
//! One exception: a URL that is the public registry's own file of a release installs that release,
//! so it is checked as that release, pinned. A malicious version is not hidden by naming its tarball
//! (`"lodash": "https://registry.npmjs.org/flatmap-stream/-/flatmap-stream-0.1.1.tgz"` installs
//! flatmap-stream 0.1.1 under the name lodash).
//!
//! Invariants:
//! - Pure: the dependency's ecosystem, name and source in, a decision out.
//! - A release only from the public registry's own hosts, with the exact shape that registry serves
//!   the release at (npm: `https://registry.npmjs.org/<name>/-/<file>-<version>.tgz`, no query or
//!   fragment; PyPI: `https://files.pythonhosted.org/packages/…/<file>`, a wheel or an sdist of the
//!   requirement's own project, PEP 503 names). Anything else is elsewhere: a look-alike host, a
//!   mirror (no integrity is written beside a manifest URL to compare), another project's file.
//! - Local code (paths, workspace members) is not here: it is the project's own and stays skipped.

use std::str::FromStr;

use crate::manifest::SourceKind;
use crate::manifest::lockfiles::{installed_from, is_registry_tarball_path};
use crate::model::Ecosystem;

/// What a git or URL dependency installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Declared {
    /// The public registry's own file of `name@version` (at the URL `at`): checked as that release.
    Release { name: String, version: String, at: String },
    /// Anything else, with the reason it is not checked.
    Elsewhere(String),
}

/// What a dependency of `ecosystem` named `package` with source `kind` installs, when `kind` is a git
/// repository or a URL; `None` for registry, alias, path and workspace sources.
pub(crate) fn declared(ecosystem: Ecosystem, package: &str, kind: &SourceKind) -> Option<Declared> {
    match kind {
        SourceKind::Git(location) => Some(Declared::Elsewhere(installed_from(location))),
        SourceKind::Unread(why) => Some(Declared::Elsewhere(why.clone())),
        SourceKind::Url(location) => Some(
            release_at(ecosystem, package, location)
                .map(|(name, version)| Declared::Release {
                    name,
                    version,
                    at: location.clone(),
                })
                .unwrap_or_else(|| Declared::Elsewhere(installed_from(location))),
        ),
        _ => None,
    }
}

/// The release `url` is the public registry's own file of, if it is one.
fn release_at(ecosystem: Ecosystem, package: &str, url: &str) -> Option<(String, String)> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let host = parsed.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    if parsed.query().is_some() || parsed.port().is_some() || !parsed.username().is_empty() {
        return None;
    }
    match ecosystem {
        Ecosystem::Npm => {
            let public = matches!(host.as_str(), "registry.npmjs.org" | "registry.yarnpkg.com");
            (public && parsed.scheme() == "https" && parsed.fragment().is_none())
                .then(|| npm_tarball(parsed.path()))
                .flatten()
        }
        Ecosystem::PyPI => (host == "files.pythonhosted.org" && parsed.scheme() == "https")
            .then(|| pypi_file(package, parsed.path()))
            .flatten()
            .map(|version| (Ecosystem::PyPI.normalize_name(package), version)),
        Ecosystem::CratesIo => None,
    }
}

/// `/<name>/-/<file>-<version>.tgz` (a scope's `/` may be written `%2f`): npm's tarball of a release.
fn npm_tarball(path: &str) -> Option<(String, String)> {
    let (before, file) = path.rsplit_once("/-/")?;
    let name = before
        .trim_start_matches('/')
        .replace("%2f", "/")
        .replace("%2F", "/")
        .replace("%40", "@");
    let base = name.rsplit('/').next()?;
    let valid_name = match name.split_once('/') {
        Some((scope, rest)) => scope.starts_with('@') && scope.len() > 1 && !rest.is_empty() && !rest.contains('/'),
        None => !name.is_empty() && !name.starts_with('@'),
    };
    let version = file.strip_prefix(base)?.strip_prefix('-')?.strip_suffix(".tgz")?;
    (valid_name && semver::Version::parse(version).is_ok() && is_registry_tarball_path(&name, version, path))
        .then(|| (name.clone(), version.to_string()))
}

/// The version of `package` that a file on PyPI's file host (`/packages/…/<file>`) is, when the file
/// is a wheel or an sdist of that project.
fn pypi_file(package: &str, path: &str) -> Option<String> {
    if !path.starts_with("/packages/") {
        return None;
    }
    let file = path.rsplit('/').next()?;
    let file = percent_encoding::percent_decode_str(file).decode_utf8().ok()?;
    let wanted = Ecosystem::PyPI.normalize_name(package);
    let version = if let Some(stem) = file.strip_suffix(".whl") {
        // `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`: no `-` inside a field.
        let mut fields = stem.split('-');
        let (distribution, version) = (fields.next()?, fields.next()?);
        let rest = fields.count();
        (Ecosystem::PyPI.normalize_name(distribution) == wanted && (rest == 3 || rest == 4)).then_some(version)?
    } else {
        // `{name}-{version}.tar.gz` (old sdists keep the name's own `-`): the version follows the `-`
        // where the name, normalized, is the requirement's.
        let stem = [".tar.gz", ".tar.bz2", ".tgz", ".zip"]
            .iter()
            .find_map(|suffix| file.strip_suffix(suffix))?;
        stem.match_indices('-')
            .map(|(at, _)| (&stem[..at], &stem[at + 1..]))
            .find(|(name, _)| Ecosystem::PyPI.normalize_name(name) == wanted)
            .map(|(_, version)| version)?
    };
    pep440_rs::Version::from_str(version).ok().map(|_| version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(ecosystem: Ecosystem, package: &str, url: &str) -> Option<(String, String)> {
        match declared(ecosystem, package, &SourceKind::Url(url.to_string()))? {
            Declared::Release { name, version, at } => {
                assert_eq!(at, url);
                Some((name, version))
            }
            Declared::Elsewhere(why) => {
                assert!(why.contains(url) && why.contains("not checked"), "{why}");
                None
            }
        }
    }

    fn pair(name: &str, version: &str) -> Option<(String, String)> {
        Some((name.to_string(), version.to_string()))
    }

    #[test]
    fn the_public_npm_registrys_tarball_is_that_release() {
        let npm = |package: &str, url: &str| release(Ecosystem::Npm, package, url);
        assert_eq!(
            npm(
                "lodash",
                "https://registry.npmjs.org/flatmap-stream/-/flatmap-stream-0.1.1.tgz"
            ),
            pair("flatmap-stream", "0.1.1")
        );
        assert_eq!(
            npm("x", "https://registry.yarnpkg.com/@babel/core/-/core-7.24.0.tgz"),
            pair("@babel/core", "7.24.0")
        );
        assert_eq!(
            npm("x", "https://registry.npmjs.org/@babel%2fcore/-/core-7.24.0-rc.1.tgz"),
            pair("@babel/core", "7.24.0-rc.1")
        );
        for elsewhere in [
            // Look-alike hosts, other schemes, ports, credentials, queries, fragments.
            "https://registry.npmjs.org.evil.example/flatmap-stream/-/flatmap-stream-0.1.1.tgz",
            "http://registry.npmjs.org/flatmap-stream/-/flatmap-stream-0.1.1.tgz",
            "https://registry.npmjs.org:8443/flatmap-stream/-/flatmap-stream-0.1.1.tgz",
            "https://user@registry.npmjs.org/flatmap-stream/-/flatmap-stream-0.1.1.tgz",
            "https://registry.npmjs.org/flatmap-stream/-/flatmap-stream-0.1.1.tgz?x=1",
            "https://registry.npmjs.org/flatmap-stream/-/flatmap-stream-0.1.1.tgz#x",
            // Not the registry's shape: another file name, no version, a deeper path.
            "https://registry.npmjs.org/flatmap-stream/-/other-0.1.1.tgz",
            "https://registry.npmjs.org/flatmap-stream/-/flatmap-stream-latest.tgz",
            "https://registry.npmjs.org/a/b/c/-/c-1.0.0.tgz",
            "https://evil.example/flatmap-stream/-/flatmap-stream-0.1.1.tgz",
            "https://codeload.github.com/o/x/tar.gz/main",
            "not a url",
        ] {
            assert_eq!(npm("flatmap-stream", elsewhere), None, "{elsewhere}");
        }
    }

    #[test]
    fn a_file_on_pypis_file_host_is_that_release_of_the_requirements_project() {
        let pypi = |package: &str, url: &str| release(Ecosystem::PyPI, package, url);
        let host = "https://files.pythonhosted.org/packages/a1/b2/0123456789abcdef";
        assert_eq!(pypi("ctx", &format!("{host}/ctx-0.2.2.tar.gz")), pair("ctx", "0.2.2"));
        assert_eq!(
            pypi("ctx", &format!("{host}/ctx-0.2.2.tar.gz#sha256=00ff")),
            pair("ctx", "0.2.2")
        );
        assert_eq!(
            pypi("Python_Dateutil", &format!("{host}/python-dateutil-2.8.2.tar.gz")),
            pair("python-dateutil", "2.8.2")
        );
        assert_eq!(
            pypi("requests", &format!("{host}/requests-2.31.0-py3-none-any.whl")),
            pair("requests", "2.31.0")
        );
        assert_eq!(
            pypi(
                "zope.interface",
                &format!("{host}/zope.interface-6.0-1-cp311-cp311-linux_x86_64.whl")
            ),
            pair("zope-interface", "6.0")
        );
        for elsewhere in [
            // Another project's file under this requirement's name.
            format!("{host}/evil-1.0.tar.gz"),
            format!("{host}/evil-1.0-py3-none-any.whl"),
            // Not PyPI's file host, or not its files.
            "https://files.pythonhosted.org.evil.example/packages/ctx-0.2.2.tar.gz".to_string(),
            "https://pypi.org/packages/ctx-0.2.2.tar.gz".to_string(),
            "https://files.pythonhosted.org/other/ctx-0.2.2.tar.gz".to_string(),
            "http://files.pythonhosted.org/packages/a1/ctx-0.2.2.tar.gz".to_string(),
            format!("{host}/ctx-0.2.2.tar.gz?x=1"),
            // Not a version.
            format!("{host}/ctx-latest.tar.gz"),
            format!("{host}/ctx-0.2.2.exe"),
        ] {
            assert_eq!(pypi("ctx", &elsewhere), None, "{elsewhere}");
        }
    }

    #[test]
    fn git_is_elsewhere_and_local_or_registry_sources_are_not_declared_here() {
        let git = declared(
            Ecosystem::CratesIo,
            "serde",
            &SourceKind::Git("https://github.com/serde-rs/serde".to_string()),
        );
        assert!(
            matches!(&git, Some(Declared::Elsewhere(why)) if why.contains("https://github.com/serde-rs/serde")),
            "{git:?}"
        );
        assert_eq!(
            release(
                Ecosystem::CratesIo,
                "serde",
                "https://static.crates.io/crates/serde/serde-1.0.0.crate"
            ),
            None
        );
        for local in [
            SourceKind::Registry,
            SourceKind::Alias,
            SourceKind::Path("../x".to_string()),
            SourceKind::Workspace,
            SourceKind::WorkspaceInherited,
        ] {
            assert_eq!(declared(Ecosystem::Npm, "x", &local), None, "{local:?}");
        }
    }
}
