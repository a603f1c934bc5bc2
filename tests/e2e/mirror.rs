//! A default-registry mirror named by the repository being checked (`registry=` in its `.npmrc`): the
//! repository is untrusted input, so it must not choose where registry data comes from. Public facts
//! come from the public registry (or the registry the user's own configuration names); a lockfile
//! tarball on a mirror host is the registry's package only when its integrity is the one the public
//! registry publishes. Loopback stand-ins play the public registry (`/npm`), the mirror (`/mirror`) and
//! OSV (`/osv`), and record every request; each run has its own HOME.

use serde_json::{Value, json};

use gatehouse::testing::FixtureServer;

use crate::harness::fixtures;
use crate::hostile::{Outcome, Repo, User, package};

/// The public registry's integrity of left-pad 1.3.0 (fixtures/registry/npm/left-pad).
const LEFT_PAD_INTEGRITY: &str =
    "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQGinBN9yTQT3bFlCBy/aVx2HrNcqQGsdot8ghrjyrvMCoEA==";

/// A packument for `name` whose versions were published at the given times (RFC 3339).
fn packument(name: &str, versions: &[(&str, &str)]) -> Value {
    let mut time = serde_json::Map::new();
    time.insert("created".into(), json!("2019-01-01T00:00:00.000Z"));
    time.insert("modified".into(), json!(versions.last().map(|(_, t)| *t)));
    let mut all = serde_json::Map::new();
    for (version, published) in versions {
        time.insert((*version).into(), json!(published));
        all.insert(
            (*version).into(),
            json!({"name": name, "version": version, "dist": {"tarball": format!("https://registry.npmjs.org/{name}/-/{name}-{version}.tgz")}}),
        );
    }
    let latest = versions.last().map(|(v, _)| *v).unwrap_or_default();
    json!({"_id": name, "name": name, "dist-tags": {"latest": latest}, "versions": all, "time": time})
}

/// An hour ago, as the registry writes times.
fn an_hour_ago() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let then = jiff::Timestamp::from_second(now as i64 - 3600).unwrap();
    then.strftime("%Y-%m-%dT%H:%M:%S.000Z").to_string()
}

/// Stand-ins for the public registry, the mirror and the OSV API (which knows no advisory). The public
/// registry has `quiet-lib` 1.0.1 published an hour ago; the mirror says it is five years old and also
/// serves `corp-only`, which the public registry does not have. Both serve the real left-pad.
fn stand_ins() -> (tempfile::TempDir, FixtureServer) {
    let root = tempfile::tempdir().unwrap();
    for folder in ["npm", "mirror"] {
        std::fs::create_dir_all(root.path().join(folder)).unwrap();
        std::fs::copy(
            fixtures().join("registry/npm/left-pad"),
            root.path().join(folder).join("left-pad"),
        )
        .unwrap();
    }
    let fresh = an_hour_ago();
    let public = packument(
        "quiet-lib",
        &[("1.0.0", "2019-01-01T00:00:00.000Z"), ("1.0.1", fresh.as_str())],
    );
    let mirrored = packument(
        "quiet-lib",
        &[
            ("1.0.0", "2019-01-01T00:00:00.000Z"),
            ("1.0.1", "2021-01-01T00:00:00.000Z"),
        ],
    );
    let corp = packument("corp-only", &[("2.0.0", "2020-01-01T00:00:00.000Z")]);
    std::fs::write(root.path().join("npm/quiet-lib"), public.to_string()).unwrap();
    std::fs::write(root.path().join("mirror/quiet-lib"), mirrored.to_string()).unwrap();
    std::fs::write(root.path().join("mirror/corp-only"), corp.to_string()).unwrap();
    let server = FixtureServer::start(root.path()).unwrap();
    server.set_body("/osv/v1/querybatch", r#"{"results":[{}]}"#);
    (root, server)
}

/// `gatehouse check . --format json` against the stand-ins, with the bundled npm OSV records as a
/// local copy (so a name behind a mirror can be checked for advisories without sending it anywhere)
/// and provenance off (the stand-ins publish no attestations).
fn check(user: &User, repo: &Repo, server: &FixtureServer, extra: &[&str]) -> (Outcome, Value) {
    let base = server.url();
    let npm = format!("{base}/npm");
    let osv = format!("{base}/osv");
    let snapshot = fixtures().join("osv/npm").display().to_string();
    let mut args = vec![
        "check",
        ".",
        "--format",
        "json",
        "--npm-registry",
        npm.as_str(),
        "--osv-url",
        osv.as_str(),
        "--osv-db",
        snapshot.as_str(),
        "--set",
        "policy.severity.no-provenance=off",
        "--set",
        "policy.severity.bad-provenance=off",
        "--set",
        "policy.severity.provenance-downgrade=off",
    ];
    args.extend(extra);
    let outcome = user.run(&args, &repo.root, &[]);
    let report: Value = serde_json::from_str(&outcome.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON report (exit {}): {}{}",
            outcome.code, outcome.stdout, outcome.stderr
        )
    });
    (outcome, report)
}

fn findings(report: &Value, name: &str) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["package"] == name)
        .map(|f| f["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn paths(server: &FixtureServer) -> Vec<String> {
    server.requests().into_iter().map(|r| r.path).collect()
}

fn manifest(deps: &[(&str, &str)]) -> String {
    let deps: serde_json::Map<String, Value> = deps.iter().map(|(n, v)| ((*n).into(), json!(v))).collect();
    json!({"name": "app", "version": "1.0.0", "dependencies": deps}).to_string()
}

fn mirror_npmrc(server: &FixtureServer) -> String {
    format!("registry={}/mirror/\n", server.url())
}

/// The attacker's mirror says `quiet-lib` 1.0.1 is five years old; the public registry published it an
/// hour ago. The project's `.npmrc` used to decide: "checked", no finding, exit 0. Now the public
/// registry's answer is the one checked: a fresh-version finding, and the mirror is never asked.
#[test]
fn a_project_mirror_cannot_make_a_fresh_version_look_old() {
    let user = User::new();
    let (_root, server) = stand_ins();
    let repo = Repo::new(&[
        ("package.json", &manifest(&[("quiet-lib", "1.0.1")])),
        (".npmrc", &mirror_npmrc(&server)),
    ]);
    let (outcome, report) = check(&user, &repo, &server, &["--fail-on", "warning"]);
    assert!(
        findings(&report, "quiet-lib").contains(&"fresh-version".to_string()),
        "{report}\n{}",
        outcome.stderr
    );
    assert_eq!(outcome.code, 1, "{report}");
    let asked = paths(&server);
    assert!(asked.iter().any(|p| p == "/npm/quiet-lib"), "{asked:?}");
    assert!(
        !asked.iter().any(|p| p.starts_with("/mirror/")),
        "the untrusted project's mirror was asked: {asked:?}"
    );
}

/// A package the public registry does not have, which only the project's mirror serves: its registry
/// checks cannot be done (never clean, exit 2), and the reason says which file named which registry
/// and how to trust it.
#[test]
fn a_package_only_the_project_mirror_has_is_unavailable_and_says_why() {
    let user = User::new();
    let (_root, server) = stand_ins();
    let repo = Repo::new(&[
        ("package.json", &manifest(&[("corp-only", "2.0.0")])),
        (".npmrc", &mirror_npmrc(&server)),
    ]);
    let (outcome, report) = check(&user, &repo, &server, &[]);
    assert_eq!(outcome.code, 2, "{report}\n{}", outcome.stderr);
    let corp = package(&report, "corp-only");
    assert_eq!(corp["status"], "unavailable", "{corp}");
    assert_eq!(corp["checks"]["age"], "unavailable", "{corp}");
    assert_eq!(corp["checks"]["availability"], "unavailable", "{corp}");
    let reason = corp["check_reasons"]["age"].as_str().unwrap_or_default();
    let mirror = format!("{}/mirror", server.url());
    assert!(
        reason.contains(".npmrc") && reason.contains(&mirror) && reason.contains("gatehouse trust"),
        "{reason}"
    );
    assert_eq!(report["summary"]["unchecked_packages"], 1, "{report}");
    assert!(
        !paths(&server).iter().any(|p| p.starts_with("/mirror/")),
        "{:?}",
        paths(&server)
    );
}

/// The user trusts the project (or names the mirror in their own `~/.npmrc`): the mirror is the
/// user's choice and is used as before; its names stay off public hosts.
#[test]
fn a_trusted_project_or_the_users_own_npmrc_keeps_the_mirror() {
    for how in ["trusted project", "user's npmrc"] {
        let user = User::new();
        let (_root, server) = stand_ins();
        let mut files = vec![("package.json".to_string(), manifest(&[("corp-only", "2.0.0")]))];
        let mut extra = Vec::new();
        match how {
            "trusted project" => {
                files.push((".npmrc".to_string(), mirror_npmrc(&server)));
                extra.push("--trust-project-config");
            }
            _ => std::fs::write(user.home.path().join(".npmrc"), mirror_npmrc(&server)).unwrap(),
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let repo = Repo::new(&files);
        let (outcome, report) = check(&user, &repo, &server, &extra);
        assert_eq!(outcome.code, 0, "{how}: {report}\n{}", outcome.stderr);
        let corp = package(&report, "corp-only");
        assert_eq!(corp["checks"]["age"], "checked", "{how}: {corp}");
        let asked = paths(&server);
        assert!(asked.iter().any(|p| p == "/mirror/corp-only"), "{how}: {asked:?}");
        assert!(
            !asked.iter().any(|p| p.starts_with("/npm/") || p.starts_with("/osv/")),
            "{how}: a name behind the user's mirror reached a public host: {asked:?}"
        );
    }
}

/// A package-lock.json written against a mirror that is not configured on this machine (CI without the
/// developer's `.npmrc`): left-pad resolved to a registry-shaped tarball on the mirror host with the
/// public registry's own integrity is the registry's package, checked, with no "not checked" noise. The
/// same URL with another integrity is other bytes: not checked, exit 2.
#[test]
fn a_mirror_tarball_with_the_public_integrity_is_the_registrys_package() {
    let lockfile = |integrity: Option<&str>| {
        let mut entry = json!({
            "version": "1.3.0",
            "resolved": "https://artifactory.corp.invalid/artifactory/api/npm/npm-remote/left-pad/-/left-pad-1.3.0.tgz"
        });
        if let Some(integrity) = integrity {
            entry["integrity"] = json!(integrity);
        }
        json!({
            "name": "app",
            "version": "1.0.0",
            "lockfileVersion": 3,
            "requires": true,
            "packages": {
                "": {"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}},
                "node_modules/left-pad": entry
            }
        })
        .to_string()
    };
    let package_json = manifest(&[("left-pad", "^1.3.0")]);

    let user = User::new();
    let (_root, server) = stand_ins();
    let repo = Repo::new(&[
        ("package.json", &package_json),
        ("package-lock.json", &lockfile(Some(LEFT_PAD_INTEGRITY))),
    ]);
    let (outcome, report) = check(&user, &repo, &server, &[]);
    let left_pad = package(&report, "left-pad");
    assert_eq!(left_pad["status"], "checked", "{left_pad}\n{}", outcome.stderr);
    assert_eq!(left_pad["checks"]["age"], "checked", "{left_pad}");
    assert!(!report.to_string().contains("not checked"), "{report}");
    assert_eq!(outcome.code, 0, "{report}");

    // Another integrity at the same URL: what gets installed is not the registry's package.
    let user = User::new();
    let (_root, server) = stand_ins();
    let other =
        "sha512-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==";
    let repo = Repo::new(&[
        ("package.json", &package_json),
        ("package-lock.json", &lockfile(Some(other))),
    ]);
    let (outcome, report) = check(&user, &repo, &server, &[]);
    let left_pad = package(&report, "left-pad");
    assert_eq!(left_pad["status"], "unavailable", "{left_pad}");
    let reason = left_pad["check_reasons"]["age"].as_str().unwrap_or_default();
    assert!(reason.contains("artifactory.corp.invalid"), "{reason}");
    assert_eq!(outcome.code, 2, "{report}");

    // No integrity at all: nothing proves the bytes are the registry's.
    let user = User::new();
    let (_root, server) = stand_ins();
    let without = lockfile(None);
    let repo = Repo::new(&[("package.json", &package_json), ("package-lock.json", &without)]);
    let (outcome, report) = check(&user, &repo, &server, &[]);
    assert_eq!(package(&report, "left-pad")["status"], "unavailable", "{report}");
    assert_eq!(outcome.code, 2, "{report}");
}

/// The project's mirror and a lockfile resolved on it (the everyday corporate set-up, cloned by someone
/// whose own configuration does not name the mirror): the packages the public registry has are checked
/// against it; a lockfile tarball on the mirror with the public integrity is not noise.
#[test]
fn a_project_mirror_with_its_lockfile_is_checked_against_the_public_registry() {
    let user = User::new();
    let (_root, server) = stand_ins();
    let mirror = format!("{}/mirror", server.url());
    let lockfile = json!({
        "name": "app",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": true,
        "packages": {
            "": {"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}},
            "node_modules/left-pad": {
                "version": "1.3.0",
                "resolved": format!("{mirror}/left-pad/-/left-pad-1.3.0.tgz"),
                "integrity": LEFT_PAD_INTEGRITY
            }
        }
    })
    .to_string();
    let repo = Repo::new(&[
        ("package.json", &manifest(&[("left-pad", "^1.3.0")])),
        ("package-lock.json", &lockfile),
        (".npmrc", &mirror_npmrc(&server)),
    ]);
    let (outcome, report) = check(&user, &repo, &server, &[]);
    let left_pad = package(&report, "left-pad");
    assert_eq!(left_pad["status"], "checked", "{left_pad}\n{}", outcome.stderr);
    assert_eq!(outcome.code, 0, "{report}");
    let asked = paths(&server);
    assert!(asked.iter().any(|p| p == "/npm/left-pad"), "{asked:?}");
    assert!(!asked.iter().any(|p| p.starts_with("/mirror/")), "{asked:?}");
}

/// Yarn 2+ and Bun read their own files, not `.npmrc`: `.yarnrc.yml` (`npmRegistryServer`) and
/// `bunfig.toml` (`[install] registry`) get the same treatment. Untrusted, a package only that mirror
/// serves is unavailable and the reason names the file; trusted, the mirror answers as npm's would.
#[test]
fn yarn_and_bun_registry_files_get_the_same_treatment() {
    for (file, text) in [
        (".yarnrc.yml", "npmRegistryServer: \"{mirror}\"\n"),
        ("bunfig.toml", "[install]\nregistry = \"{mirror}\"\n"),
    ] {
        let user = User::new();
        let (_root, server) = stand_ins();
        let text = text.replace("{mirror}", &format!("{}/mirror/", server.url()));
        let mut files = vec![("package.json", manifest(&[("corp-only", "2.0.0")])), (file, text)];
        if file == "bunfig.toml" {
            // Bun is the client when its lockfile decides the versions.
            files.push((
                "bun.lock",
                "{\n  \"lockfileVersion\": 1,\n  \"workspaces\": {\n    \"\": {\n      \"name\": \"app\",\n      \"dependencies\": {\n        \"corp-only\": \"2.0.0\",\n      },\n    },\n  },\n  \"packages\": {\n    \"corp-only\": [\"corp-only@2.0.0\", \"\", {}, \"\"],\n  }\n}\n"
                    .to_string(),
            ));
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
        let repo = Repo::new(&files);
        let (outcome, report) = check(&user, &repo, &server, &[]);
        assert_eq!(outcome.code, 2, "{file}: {report}\n{}", outcome.stderr);
        let reason = package(&report, "corp-only")["check_reasons"]["age"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(reason.contains(file) && reason.contains("/mirror"), "{file}: {reason}");
        assert!(!paths(&server).iter().any(|p| p.starts_with("/mirror/")), "{file}");

        server.clear_requests();
        let (outcome, report) = check(&user, &repo, &server, &["--trust-project-config"]);
        assert_eq!(outcome.code, 0, "{file}: {report}\n{}", outcome.stderr);
        assert_eq!(
            package(&report, "corp-only")["checks"]["age"],
            "checked",
            "{file}: {report}"
        );
        assert!(
            paths(&server).iter().any(|p| p == "/mirror/corp-only"),
            "{file}: {:?}",
            paths(&server)
        );
    }
}

/// The user's own `~/.yarnrc.yml` names an authenticated mirror: it is the user's choice, asked with
/// the user's token (and only it gets the token).
#[test]
fn the_users_own_yarnrc_mirror_is_used_with_its_token() {
    let user = User::new();
    let (_root, server) = stand_ins();
    std::fs::write(
        user.home.path().join(".yarnrc.yml"),
        format!(
            "npmRegistryServer: \"{}/mirror/\"\nnpmAuthToken: USERTOK\n",
            server.url()
        ),
    )
    .unwrap();
    let repo = Repo::new(&[
        ("package.json", &manifest(&[("corp-only", "2.0.0")])),
        (".yarnrc.yml", "nodeLinker: node-modules\n"),
    ]);
    let (outcome, report) = check(&user, &repo, &server, &[]);
    assert_eq!(outcome.code, 0, "{report}\n{}", outcome.stderr);
    assert_eq!(package(&report, "corp-only")["checks"]["age"], "checked", "{report}");
    let requests = server.requests();
    let mirror = requests
        .iter()
        .find(|r| r.path == "/mirror/corp-only")
        .unwrap_or_else(|| panic!("{requests:?}"));
    assert_eq!(mirror.header("authorization"), Some("Bearer USERTOK"), "{mirror:?}");
    assert!(
        requests
            .iter()
            .filter(|r| !r.path.starts_with("/mirror/"))
            .all(|r| r.header("authorization").is_none()),
        "{requests:?}"
    );
}
