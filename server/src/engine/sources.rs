//! Whether a locked package is what its registry serves. A lockfile can have the package manager fetch
//! a package from a URL or a git repository while the manifest asks for a registry range, or record
//! an integrity the registry never published for that version: either way what gets installed is not
//! the registry's package, so it is not checked (never shown as clean) and never replaced by a
//! registry resolution of the range.
//!
//! Invariants:
//! - Pure: the lockfile entry, the package's registry and the registry facts held come in, a reason
//!   goes out.
//! - A tarball URL is the registry's when its host (and path prefix) is the public npm registry's or
//!   the registry the project's settings give the package (npm rewrites the public host to the
//!   configured registry, `replace-registry-host`), and the reader found it shaped like that
//!   registry's tarball of the name and version (`manifest::lockfiles::is_registry_tarball_path`).
//! - Local packages (workspace members, links, `file:` paths) are the project's own code: not here.

use base64::Engine as _;

use crate::manifest::LockedPackage;
use crate::manifest::lockfiles::{installed_from, is_registry_tarball_path};
use crate::model::{Ecosystem, Fact, Facts, PackageRef, RegistrySource};

/// The public npm registry's hosts (Yarn 1 writes the second).
const PUBLIC_NPM: [&str; 2] = ["https://registry.npmjs.org/", "https://registry.yarnpkg.com/"];

/// Why `package`, an entry of an `ecosystem` lockfile whose registry is `source`, is not what that
/// registry serves, when it is not.
pub(crate) fn installed_elsewhere(
    package: &LockedPackage,
    ecosystem: Ecosystem,
    source: &RegistrySource,
    facts: &Facts,
) -> Option<String> {
    if let Some(url) = &package.fetched_from
        && (package.non_registry.is_some() || !on_registry(url, source, &package.name, &package.version))
    {
        return Some(installed_from(url));
    }
    if package.non_registry.is_some() {
        return None;
    }
    integrity_mismatch(package, ecosystem, facts)
}

/// Whether `url` is where the package's registry serves `name@version`: on the public npm registry,
/// shaped like its tarball of that name and version; or under the registry the settings give the
/// package (its host and path prefix), whatever the shape (GitHub Packages, GitLab and Artifactory
/// write their own).
fn on_registry(url: &str, source: &RegistrySource, name: &str, version: &str) -> bool {
    let Some((host, path)) = origin_and_path(url) else {
        return false;
    };
    let under = |base: &str| {
        origin_and_path(base).is_some_and(|(base_host, base_path)| base_host == host && path.starts_with(&base_path))
    };
    let public = PUBLIC_NPM.iter().any(|base| under(base))
        && is_registry_tarball_path(name, version, path.trim_end_matches('/'));
    let configured = match source {
        RegistrySource::Private { url } => under(url),
        RegistrySource::Public => false,
    };
    public || configured
}

/// An http(s) URL's host (lower case, without credentials and the scheme's default port) and path
/// (ending with `/`, without query or fragment), read by the WHATWG URL parser, as npm's Node reads it
/// (`\` separates like `/`, `..` is resolved, the host is IDNA-mapped).
fn origin_and_path(url: &str) -> Option<(String, String)> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return None;
    }
    let host = parsed.host_str()?.trim_end_matches('.').to_ascii_lowercase();
    let host = match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    let path = parsed.path();
    let path = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    (!host.is_empty()).then_some((host, path))
}

/// The lockfile's integrity of a registry package against the digests its registry publishes for
/// that version (npm `sha512-…`/`sha1-…` against `dist.integrity`/`dist.shasum`, a Cargo.lock
/// checksum against the index's `cksum`): a digest of the same algorithm that differs means the
/// package manager installs other bytes than the registry's.
fn integrity_mismatch(package: &LockedPackage, ecosystem: Ecosystem, facts: &Facts) -> Option<String> {
    let locked = package.integrity.as_deref()?;
    let registry = facts
        .packages
        .get(&PackageRef::new(ecosystem, &package.name))
        .and_then(Fact::known)?;
    let digests = &registry.version(&package.version)?.digests;
    let differs = |algorithm: &str, ours: String| {
        digests
            .iter()
            .find_map(|digest| digest.strip_prefix(algorithm))
            .is_some_and(|theirs| !theirs.eq_ignore_ascii_case(&ours))
    };
    let mismatch = locked.split_whitespace().any(|hash| {
        if let Some(encoded) = hash.strip_prefix("sha512-") {
            differs("sha512-", encoded.to_string())
        } else if let Some(encoded) = hash.strip_prefix("sha1-") {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .is_ok_and(|bytes| differs("sha1:", hex::encode(bytes)))
        } else if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            differs("sha256:", hash.to_string())
        } else {
            false
        }
    });
    mismatch.then(|| {
        format!(
            "the lockfile's integrity for {}@{} is not the one the registry publishes: installed from somewhere else, not checked",
            package.name, package.version
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_hosts_are_compared_by_host_and_path() {
        let public = RegistrySource::Public;
        let corp = RegistrySource::Private {
            url: "https://npm.corp.example/artifactory/api/npm/npm/".to_string(),
        };
        for (url, source, expected) in [
            ("https://registry.npmjs.org/left/-/left-1.0.0.tgz", &public, true),
            ("http://registry.npmjs.org:80/left/-/left-1.0.0.tgz", &public, true),
            ("https://REGISTRY.yarnpkg.com:443/left/-/left-1.0.0.tgz", &public, true),
            ("https://registry.npmjs.org/left/-/left-1.0.0.tgz", &corp, true),
            (
                "https://npm.corp.example/artifactory/api/npm/npm/left/-/left-1.0.0.tgz",
                &corp,
                true,
            ),
            (
                "https://npm.corp.example/artifactory/api/npm/npm/left/-/left-1.0.0.tgz",
                &public,
                false,
            ),
            ("https://npm.corp.example/other/left/-/left-1.0.0.tgz", &corp, false),
            ("https://evil.example/left/-/left-1.0.0.tgz", &public, false),
            (
                "https://registry.npmjs.org.evil.example/left/-/left-1.0.0.tgz",
                &public,
                false,
            ),
            (
                "https://registry.npmjs.org@evil.example/left/-/left-1.0.0.tgz",
                &public,
                false,
            ),
            ("https://registry.npmjs.org:8443/left/-/left-1.0.0.tgz", &public, false),
            ("ftp://registry.npmjs.org/left/-/left-1.0.0.tgz", &public, false),
            // npm's URL parser reads `\` as `/`: the host is evil.example.
            (
                "https://evil.example\\@registry.npmjs.org/left/-/left-1.0.0.tgz",
                &public,
                false,
            ),
            (
                "https://evil.example\\registry.npmjs.org/left/-/left-1.0.0.tgz",
                &public,
                false,
            ),
            // The public registry serves only its own tarball shape.
            ("https://registry.npmjs.org/left/-/other-1.0.0.tgz", &public, false),
            ("https://registry.npmjs.org/download/left/1.0.0/abc", &public, false),
            // A configured registry writes its own shapes (GitHub Packages, GitLab).
            (
                "https://npm.corp.example/artifactory/api/npm/npm/download/left/1.0.0/0123abcd",
                &corp,
                true,
            ),
        ] {
            assert_eq!(on_registry(url, source, "left", "1.0.0"), expected, "{url}");
        }
    }
}
