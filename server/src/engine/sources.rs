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
//! - A tarball elsewhere (a mirror's host: Artifactory, Nexus, Verdaccio, a CI cache), shaped like a
//!   registry's tarball of the name and version, is the registry's package only when the lockfile's
//!   integrity equals the one the package's registry publishes for that version, compared in the
//!   algorithm the package manager verifies, the strongest the lockfile states (`same_bytes`): it
//!   verifies that integrity on install, so the bytes are the registry's wherever they are downloaded
//!   from. When the registry does not state that algorithm, or the lockfile's integrity is not wholly
//!   readable, it stays "installed from …, not checked"; while the registry's digests are not known
//!   yet it is undecided.
//! - Local packages (workspace members, links, `file:` paths) are the project's own code: not here.

use base64::Engine as _;

use crate::manifest::LockedPackage;
use crate::manifest::lockfiles::{installed_from, is_registry_tarball_path};
use crate::model::{Digest, Ecosystem, Fact, Facts, PackageRef, RegistrySource};

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
        if package.non_registry.is_none() && is_mirror_tarball(url, &package.name, &package.version) {
            return mirror_copy(url, package, ecosystem, facts);
        }
        return Some(installed_from(url));
    }
    if package.non_registry.is_some() {
        return None;
    }
    integrity_mismatch(package, ecosystem, facts)
}

/// Whether `url` is shaped like a registry's tarball of `name@version` on any host: npm's
/// `…/<name>/-/<file>-<version>.tgz` (`<file>` the name without its scope, or with it as GitLab writes
/// it) or GitHub Packages' `…/download/<name>/<version>/<digest>`.
fn is_mirror_tarball(url: &str, name: &str, version: &str) -> bool {
    let Some((_, path)) = origin_and_path(url) else {
        return false;
    };
    let path = path.trim_end_matches('/');
    let decoded = path.replace("%2f", "/").replace("%2F", "/").replace("%40", "@");
    is_registry_tarball_path(name, version, path)
        || decoded.ends_with(&format!("/{name}/-/{name}-{version}.tgz"))
        || decoded.rsplit_once('/').is_some_and(|(before, digest)| {
            !digest.is_empty() && before.ends_with(&format!("/download/{name}/{version}"))
        })
}

/// A registry-shaped tarball on a host that is not the package's registry: the registry's package when
/// the lockfile's integrity is the registry's (`None`, also while the registry's digests are not known
/// yet), else why it is not checked.
fn mirror_copy(url: &str, package: &LockedPackage, ecosystem: Ecosystem, facts: &Facts) -> Option<String> {
    let name_version = format!("{}@{}", package.name, package.version);
    let not_checked = |why: String| {
        Some(format!(
            "installed from {url}, not from the registry ({why}): not checked"
        ))
    };
    let Some(locked) = package.integrity.as_deref() else {
        return not_checked(format!(
            "the lockfile records no integrity to compare with the registry's for {name_version}"
        ));
    };
    let registry = match facts.packages.get(&PackageRef::new(ecosystem, &package.name)) {
        None | Some(Fact::Pending) => return None,
        Some(Fact::Unavailable(note)) => {
            return not_checked(format!(
                "the registry's integrity for {name_version} could not be read to compare: {}",
                note.message
            ));
        }
        Some(Fact::Known { value, .. }) => value,
    };
    let Some(version) = registry.version(&package.version) else {
        return not_checked(format!("the registry does not list {name_version}"));
    };
    match same_bytes(locked, ecosystem, version.digests.iter()) {
        Some(true) => None,
        Some(false) => not_checked(format!(
            "its integrity is not the one the registry publishes for {name_version}"
        )),
        None => not_checked(format!(
            "the lockfile's integrity and the registry's for {name_version} share no algorithm to compare (the package manager verifies the lockfile's strongest)"
        )),
    }
}

/// How strong a digest algorithm is (higher is stronger), by its SRI name.
fn strength(algorithm: &str) -> Option<u8> {
    match algorithm {
        "sha512" => Some(4),
        "sha384" => Some(3),
        "sha256" => Some(2),
        "sha1" => Some(1),
        _ => None,
    }
}

/// The digests in a lockfile's integrity text, as (strength, bytes); `None` when a token is not one
/// this can compare (an unknown algorithm, a digest that does not decode), since the package manager
/// may verify with exactly that one. npm (ssri) reads only SRI `<algorithm>-<base64>` (options after
/// `?` ignored): it skips anything else, so the registry's own `sha1:<hex>` form there is verified by
/// nobody. Other lockfiles also write `sha256:<hex>` (uv, pylock) or a bare 64-digit hex sha256
/// (Cargo.lock).
fn digests_of(text: &str, ecosystem: Ecosystem) -> Option<Vec<(u8, Vec<u8>)>> {
    let engine = base64::engine::general_purpose::STANDARD;
    text.split_whitespace()
        .map(|token| {
            if ecosystem != Ecosystem::Npm {
                if let Some((algorithm, hex_digest)) = token.split_once(':') {
                    return Some((strength(algorithm)?, hex::decode(hex_digest).ok()?));
                }
                if token.len() == 64 {
                    return hex::decode(token).ok().map(|bytes| (2, bytes));
                }
            }
            let (algorithm, encoded) = token.split_once('-')?;
            let encoded = encoded.split('?').next().unwrap_or(encoded);
            Some((strength(algorithm)?, engine.decode(encoded).ok()?))
        })
        .collect()
}

/// Whether the lockfile's integrity `locked` (of an `ecosystem` lockfile) names the same bytes as the
/// registry's `digests`, in every algorithm the package manager may verify with: npm (ssri) verifies
/// the strongest the lockfile states and accepts bytes matching any of its digests of that algorithm;
/// pip and uv accept bytes matching any digest the lockfile states, whatever its algorithm. So each of
/// those lockfile digests must be one the registry states. `None` when the registry does not state such
/// an algorithm or the lockfile's integrity cannot be read whole: then the bytes installed were compared
/// with nothing the registry publishes.
fn same_bytes<'a>(locked: &str, ecosystem: Ecosystem, digests: impl IntoIterator<Item = Digest<'a>>) -> Option<bool> {
    let ours = digests_of(locked, ecosystem)?;
    let theirs: Vec<(u8, Vec<u8>)> = digests
        .into_iter()
        .filter_map(|digest| {
            let (algorithm, bytes) = digest.bytes()?;
            Some((strength(algorithm)?, bytes.into_owned()))
        })
        .collect();
    let strongest = ours.iter().map(|(strength, _)| *strength).max()?;
    let verified: Vec<&(u8, Vec<u8>)> = ours
        .iter()
        .filter(|(strength, _)| ecosystem != Ecosystem::Npm || *strength == strongest)
        .collect();
    let mut same = true;
    for (strength, digest) in verified {
        let mut stated = theirs.iter().filter(|(s, _)| s == strength).peekable();
        stated.peek()?;
        same &= stated.any(|(_, bytes)| bytes == digest);
    }
    Some(same)
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
    // A digest of an algorithm the registry states that is not the registry's: their bytes differ,
    // or, when the two cannot both be read as bytes, their texts do.
    let differs = |algorithm: &str, ours: &str, decode: fn(&str) -> Option<Vec<u8>>| {
        let Some(theirs) = digests.iter().find(|digest| digest.algorithm() == Some(algorithm)) else {
            return false;
        };
        match (decode(ours), theirs.bytes()) {
            (Some(ours), Some((_, theirs))) => ours != *theirs,
            _ => {
                let text = theirs.to_string();
                text.split_once(['-', ':']).map(|(_, digest)| digest) != Some(ours)
            }
        }
    };
    let base64 = |encoded: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(encoded.split('?').next().unwrap_or(encoded))
            .ok()
    };
    let mismatch = locked.split_whitespace().any(|hash| {
        if let Some(encoded) = hash.strip_prefix("sha512-") {
            differs("sha512", encoded, base64)
        } else if let Some(encoded) = hash.strip_prefix("sha1-") {
            differs("sha1", encoded, base64)
        } else if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            differs("sha256", hash, |hex_digest| hex::decode(hex_digest).ok())
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
    use crate::model::{Note, PackageFacts, VersionFacts};

    const SHA512_A: &str =
        "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQGinBN9yTQT3bFlCBy/aVx2HrNcqQGsdot8ghrjyrvMCoEA==";
    const SHA512_B: &str =
        "sha512-bpLjOUQlzM11PeWgY7V75ccKKa7IxcqKJo3DQAB71QxfvwhgStOQc8mp4xaevEX9hQuBlyByYOuUbqwSM4XCgg==";
    /// sha1 5b8a3a7765dfe001261dde915589e782f8c94d1e as SRI.
    const SHA1_A_SRI: &str = "sha1-W4o6d2Xf4AEmHd6RVYnngvjJTR4=";

    fn registry(digests: &[&str]) -> crate::model::Digests {
        digests.iter().collect()
    }

    #[test]
    fn the_strongest_algorithm_both_state_decides() {
        assert_eq!(
            same_bytes(SHA512_A, Ecosystem::Npm, registry(&[SHA512_A]).iter()),
            Some(true)
        );
        assert_eq!(
            same_bytes(SHA512_A, Ecosystem::Npm, registry(&[SHA512_B]).iter()),
            Some(false)
        );
        // SRI: npm accepts bytes matching any of the lockfile's digests of the algorithm it verifies,
        // so every one of them must be the registry's (one of several the registry states); options
        // after `?` are ignored.
        let both = format!("{SHA512_B} {SHA512_A}?opt");
        assert_eq!(
            same_bytes(&both, Ecosystem::Npm, registry(&[SHA512_A]).iter()),
            Some(false)
        );
        assert_eq!(
            same_bytes(&both, Ecosystem::Npm, registry(&[SHA512_A, SHA512_B]).iter()),
            Some(true)
        );
        assert_eq!(
            same_bytes(&format!("{SHA512_A}?opt"), Ecosystem::Npm, registry(&[SHA512_A]).iter()),
            Some(true)
        );
        // pip and uv accept any digest the lockfile states, of any algorithm: each must be the registry's.
        let real = "sha256:541ac5ac8bd0a4fd7a4ff8a1b44a2abd1a8b88b4ef1e6b1e2a7e76cf2a0b3c4d";
        let evil = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(same_bytes(real, Ecosystem::PyPI, registry(&[real]).iter()), Some(true));
        assert_eq!(
            same_bytes(&format!("{real} {evil}"), Ecosystem::PyPI, registry(&[real]).iter()),
            Some(false)
        );
        assert_eq!(
            same_bytes(
                &format!("{real} {SHA1_A_SRI}"),
                Ecosystem::PyPI,
                registry(&[real]).iter()
            ),
            None
        );
        // The registry's shasum (hex) against the lockfile's sha1 (base64).
        let shasum = "sha1:5b8a3a7765dfe001261dde915589e782f8c94d1e";
        assert_eq!(
            same_bytes(SHA1_A_SRI, Ecosystem::Npm, registry(&[shasum]).iter()),
            Some(true)
        );
        // sha512 is compared when both have it, even when sha1 agrees.
        let lock = format!("{SHA512_B} {SHA1_A_SRI}");
        assert_eq!(
            same_bytes(&lock, Ecosystem::Npm, registry(&[SHA512_A, shasum]).iter()),
            Some(false)
        );
        // No algorithm in common, or nothing readable: not comparable.
        assert_eq!(
            same_bytes(SHA1_A_SRI, Ecosystem::Npm, registry(&[SHA512_A]).iter()),
            None
        );
        assert_eq!(
            same_bytes("sha512-not base64!", Ecosystem::Npm, registry(&[SHA512_A]).iter()),
            None
        );
        assert_eq!(
            same_bytes("md5-AAAA", Ecosystem::Npm, registry(&[SHA512_A]).iter()),
            None
        );
    }

    #[test]
    fn mirror_tarballs_are_recognised_by_their_registry_shape() {
        for (url, name, expected) in [
            (
                "https://art.corp.example/artifactory/api/npm/npm-remote/left/-/left-1.0.0.tgz",
                "left",
                true,
            ),
            ("http://127.0.0.1:4873/left/-/left-1.0.0.tgz", "left", true),
            ("https://nexus.corp/repository/npm/@s/x/-/x-1.0.0.tgz", "@s/x", true),
            ("https://nexus.corp/repository/npm/@s%2fx/-/x-1.0.0.tgz", "@s/x", true),
            // GitLab writes the scoped name in the file.
            (
                "https://gitlab.corp/api/v4/packages/npm/@s/x/-/@s/x-1.0.0.tgz",
                "@s/x",
                true,
            ),
            // GitHub Packages.
            ("https://npm.pkg.github.com/download/@s/x/1.0.0/0a1b2c", "@s/x", true),
            // Another package, another version, not a tarball, not http(s).
            ("https://art.corp.example/npm/other/-/other-1.0.0.tgz", "left", false),
            ("https://art.corp.example/npm/left/-/left-1.0.1.tgz", "left", false),
            ("https://evil.example/left-1.0.0.tgz", "left", false),
            ("https://evil.example/download/left/1.0.0/", "left", false),
            ("file:///tmp/left/-/left-1.0.0.tgz", "left", false),
        ] {
            assert_eq!(is_mirror_tarball(url, name, "1.0.0"), expected, "{url}");
        }
    }

    fn locked(url: &str, integrity: Option<&str>) -> LockedPackage {
        LockedPackage {
            name: "left".into(),
            version: "1.0.0".into(),
            dependencies: Vec::new(),
            non_registry: None,
            dev: false,
            optional: false,
            span: Default::default(),
            integrity: integrity.map(str::to_string),
            fetched_from: Some(url.into()),
        }
    }

    fn registry_says(fact: Option<Fact<std::sync::Arc<PackageFacts>>>) -> Facts {
        let mut facts = Facts::default();
        if let Some(fact) = fact {
            facts.packages.insert(PackageRef::new(Ecosystem::Npm, "left"), fact);
        }
        facts
    }

    /// A registry-shaped tarball on a host no setting names is the registry's package exactly when its
    /// integrity is the registry's; undecided while the registry's digests are not known.
    #[test]
    fn a_mirror_tarball_is_the_registrys_package_only_with_the_registrys_integrity() {
        let url = "https://art.corp.example/api/npm/npm/left/-/left-1.0.0.tgz";
        let listed = PackageFacts {
            versions: vec![VersionFacts {
                version: "1.0.0".into(),
                digests: vec![SHA512_A].into(),
                ..VersionFacts::default()
            }],
            ..PackageFacts::default()
        };
        let known = |value: PackageFacts| Fact::Known {
            value: std::sync::Arc::new(value),
            as_of: jiff::Timestamp::UNIX_EPOCH,
            stale: false,
        };
        let public = RegistrySource::Public;
        let verdict =
            |package: &LockedPackage, facts: &Facts| installed_elsewhere(package, Ecosystem::Npm, &public, facts);
        let facts = registry_says(Some(known(listed.clone())));
        assert_eq!(verdict(&locked(url, Some(SHA512_A)), &facts), None);
        for (package, why) in [
            (
                locked(url, Some(SHA512_B)),
                "integrity is not the one the registry publishes",
            ),
            (locked(url, None), "records no integrity"),
            (locked(url, Some(SHA1_A_SRI)), "share no algorithm"),
        ] {
            let reason = verdict(&package, &facts).unwrap_or_default();
            assert!(reason.contains(why) && reason.contains(url), "{reason}");
        }
        // Not yet known: undecided (the registry checks are pending meanwhile).
        assert_eq!(verdict(&locked(url, Some(SHA512_B)), &registry_says(None)), None);
        assert_eq!(
            verdict(&locked(url, Some(SHA512_B)), &registry_says(Some(Fact::Pending))),
            None
        );
        // The registry could not be asked, or does not list the version: not checked.
        let unavailable = registry_says(Some(Fact::Unavailable(Note {
            source: "registry".into(),
            message: "connection refused".into(),
        })));
        let reason = verdict(&locked(url, Some(SHA512_A)), &unavailable).unwrap_or_default();
        assert!(reason.contains("connection refused"), "{reason}");
        let other_version = registry_says(Some(known(PackageFacts {
            versions: vec![VersionFacts {
                version: "2.0.0".into(),
                digests: vec![SHA512_A].into(),
                ..VersionFacts::default()
            }],
            ..PackageFacts::default()
        })));
        let reason = verdict(&locked(url, Some(SHA512_A)), &other_version).unwrap_or_default();
        assert!(reason.contains("does not list left@1.0.0"), "{reason}");
        // A tarball that is not registry-shaped stays not checked whatever its integrity.
        let odd = "https://art.corp.example/files/left.tgz";
        assert!(verdict(&locked(odd, Some(SHA512_A)), &facts).is_some());
        // A URL dependency (the manifest asked for the URL) is never the registry's.
        let mut url_dep = locked(url, Some(SHA512_A));
        url_dep.non_registry = Some("a URL".into());
        assert!(verdict(&url_dep, &facts).is_some());
    }

    /// npm verifies a tarball against the strongest algorithm of the lockfile's own integrity (ssri's
    /// `pickAlgorithm`: md5 < sha1 < sha224 < sha256 < sha384 < sha512), and reads only SRI
    /// `<algorithm>-<base64>` there. A mirror tarball whose lockfile adds a digest the registry does not
    /// state (its own sha512 beside the registry's sha1, a sha224), or writes the registry's digest in a
    /// form npm ignores (`sha512:<hex>`: nothing is verified), installs bytes nobody compared with the
    /// registry's: not checked. Matching the strongest algorithm both stated took these for the
    /// registry's package.
    #[test]
    fn a_mirror_tarball_is_compared_in_the_algorithm_npm_verifies() {
        let url = "https://evil.example/left/-/left-1.0.0.tgz";
        let shasum = "sha1:5b8a3a7765dfe001261dde915589e782f8c94d1e";
        let facts_with = |digests: Vec<&str>| {
            registry_says(Some(Fact::Known {
                value: std::sync::Arc::new(PackageFacts {
                    versions: vec![VersionFacts {
                        version: "1.0.0".into(),
                        digests: digests.into(),
                        ..VersionFacts::default()
                    }],
                    ..PackageFacts::default()
                }),
                as_of: jiff::Timestamp::UNIX_EPOCH,
                stale: false,
            }))
        };
        let public = RegistrySource::Public;
        let verdict = |integrity: &str, facts: &Facts| {
            installed_elsewhere(&locked(url, Some(integrity)), Ecosystem::Npm, &public, facts)
        };
        let sha1_only = facts_with(vec![shasum]);
        let both = facts_with(vec![SHA512_A, shasum]);
        let sha512_as_hex = format!(
            "sha512:{}",
            hex::encode(
                base64::engine::general_purpose::STANDARD
                    .decode(&SHA512_A["sha512-".len()..])
                    .unwrap()
            )
        );
        for (integrity, facts) in [
            (format!("{SHA512_B} {SHA1_A_SRI}"), &sha1_only),
            (format!("{SHA1_A_SRI} {SHA512_B}"), &sha1_only),
            (
                format!("sha224-jRkDlBp0aEnMhbW6V/SbBtV8mrGe+5Z/0yKdFA== {SHA1_A_SRI}"),
                &sha1_only,
            ),
            (format!("sha256:{} {SHA1_A_SRI}", "ab".repeat(32)), &sha1_only),
            (sha512_as_hex.clone(), &both),
            // npm accepts the tarball when it matches any sha512 the lockfile states: the attacker's
            // digest beside the registry's lets the attacker's bytes in.
            (format!("{SHA512_A} {SHA512_B}"), &both),
        ] {
            let reason = verdict(&integrity, facts).unwrap_or_default();
            assert!(reason.contains("not checked"), "{integrity}: {reason:?}");
        }
        // What npm verifies is the registry's: the registry's package.
        assert_eq!(verdict(SHA1_A_SRI, &sha1_only), None);
        assert_eq!(verdict(&format!("{SHA1_A_SRI} {SHA512_A}"), &both), None);
        assert_eq!(verdict(SHA512_A, &both), None);
    }

    /// A lockfile entry from the registry's own URL is the registry's package only when its integrity
    /// names the registry's bytes: base64 is case-sensitive, so an integrity that differs from the
    /// registry's only in letter case is another digest (it used to be compared as text, ignoring case).
    #[test]
    fn a_registry_tarball_with_another_integrity_is_not_the_registrys() {
        let url = "https://registry.npmjs.org/left/-/left-1.0.0.tgz";
        let facts = registry_says(Some(Fact::Known {
            value: std::sync::Arc::new(PackageFacts {
                versions: vec![VersionFacts {
                    version: "1.0.0".into(),
                    digests: vec![SHA512_A, "sha1:5b8a3a7765dfe001261dde915589e782f8c94d1e"].into(),
                    ..VersionFacts::default()
                }],
                ..PackageFacts::default()
            }),
            as_of: jiff::Timestamp::UNIX_EPOCH,
            stale: false,
        }));
        let public = RegistrySource::Public;
        let verdict =
            |integrity: &str| installed_elsewhere(&locked(url, Some(integrity)), Ecosystem::Npm, &public, &facts);
        let case_swapped: String = SHA512_A
            .chars()
            .map(|c| {
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        let case_swapped = format!("sha512-{}", &case_swapped["SHA512-".len()..]);
        for other in [
            case_swapped.as_str(),
            SHA512_B,
            "sha512-not base64!",
            "sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ] {
            let reason = verdict(other).unwrap_or_default();
            assert!(
                reason.contains("is not the one the registry publishes"),
                "{other}: {reason}"
            );
        }
        for same in [
            SHA512_A,
            SHA1_A_SRI,
            &format!("{SHA512_A}?opt"),
            &format!("{SHA1_A_SRI} {SHA512_A}"),
        ] {
            assert_eq!(verdict(same), None, "{same}");
        }
    }

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
