//! Credentials and hostile repositories: whatever a cloned project's `.npmrc`, `.cargo/config.toml` or
//! pip settings say, the user's secrets (environment variables, `~/.npmrc` tokens, cargo tokens) only
//! reach the registries the user's own files name, and project files outside the workspace are not
//! applied. Every test records what the loopback stand-ins received.

use std::path::Path;

use serde_json::Value;

use crate::hostile::{Outcome, Repo, User, errors_text};

/// A registry stand-in that answers 404 to everything and records every request.
fn stand_in() -> (tempfile::TempDir, gatehouse::testing::FixtureServer) {
    let root = tempfile::tempdir().unwrap();
    let server = gatehouse::testing::FixtureServer::start(root.path()).unwrap();
    (root, server)
}

fn host_port(server: &gatehouse::testing::FixtureServer) -> String {
    server.url().trim_start_matches("http://").to_string()
}

/// `gatehouse check . --format json` with nothing public reachable (a closed port), so only the
/// project's and the user's registries can be asked.
fn check(user: &User, repo: &Repo, extra_args: &[&str], extra_env: &[(&str, &str)]) -> (Outcome, Value) {
    let mut args = vec![
        "check",
        ".",
        "--format",
        "json",
        "--osv-url",
        "http://127.0.0.1:9",
        "--npm-registry",
        "http://127.0.0.1:9",
        "--crates-index",
        "http://127.0.0.1:9",
        "--pypi-url",
        "http://127.0.0.1:9",
    ];
    args.extend(extra_args);
    let outcome = user.run(&args, &repo.root, extra_env);
    let report: Value = serde_json::from_str(&outcome.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON report (exit {}): {}{}",
            outcome.code, outcome.stdout, outcome.stderr
        )
    });
    (outcome, report)
}

fn authorizations(server: &gatehouse::testing::FixtureServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_string))
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Audit item 1: a project `.npmrc` names a host and asks for `${SECRET_X}` as its token (and in a
/// registry path). Untrusted, nothing is expanded: the secret reaches no request, and the file says why
/// its credential is not used. Trusted (`--trust-project-config`), it behaves as npm does.
#[test]
fn untrusted_npmrc_never_expands_env_into_credentials() {
    let user = User::new();
    let (_root, server) = stand_in();
    let (base, host) = (server.url(), host_port(&server));
    let repo = Repo::new(&[(
        "package.json",
        "{\"dependencies\": {\"@corp/widgets\": \"1.0.0\", \"@leak/x\": \"1.0.0\"}}\n",
    )]);
    write(
        &repo.path(".npmrc"),
        &format!(
            "@corp:registry={base}/npm/\n@leak:registry={base}/leak-${{SECRET_X}}/\n//{host}/:_authToken=${{SECRET_X}}\n"
        ),
    );
    let secret = [("SECRET_X", "s3cr3t-value")];
    let (outcome, report) = check(&user, &repo, &[], &secret);
    for request in server.requests() {
        let seen = format!("{request:?}");
        assert!(!seen.contains("s3cr3t"), "the secret left the machine: {seen}");
    }
    assert!(authorizations(&server).is_empty(), "{:?}", server.requests());
    let errors = errors_text(&report);
    assert!(
        errors.contains("${SECRET_X}") && errors.contains("not expanded"),
        "{errors}\n{}",
        outcome.stderr
    );
    assert!(errors.contains("gatehouse trust"), "{errors}");

    // The user trusts this project: its `.npmrc` is read as npm reads it.
    server.clear_requests();
    let (_, _) = check(&user, &repo, &["--trust-project-config"], &secret);
    let auth = authorizations(&server);
    assert!(!auth.is_empty(), "{:?}", server.requests());
    assert!(auth.iter().all(|a| a == "Bearer s3cr3t-value"), "{auth:?}");
}

/// A token in the user's `~/.npmrc` for a host travels over https, or over http where the user's own
/// files name an http registry on it: a project naming the user's host over plain http gets no token.
#[test]
fn project_npmrc_cannot_pull_a_user_token_onto_plain_http() {
    let user = User::new();
    let (_root, server) = stand_in();
    let (base, host) = (server.url(), host_port(&server));
    write(
        &user.home.path().join(".npmrc"),
        &format!("//{host}/:_authToken=USERTOK\n"),
    );
    let repo = Repo::new(&[("package.json", "{\"dependencies\": {\"@corp/widgets\": \"1.0.0\"}}\n")]);
    write(&repo.path(".npmrc"), &format!("@corp:registry={base}/npm/\n"));
    let (_, _) = check(&user, &repo, &[], &[]);
    assert!(server.request_count() > 0, "the project's registry is asked");
    assert!(authorizations(&server).is_empty(), "{:?}", server.requests());

    // When the user's own file names that http registry, the token goes there (and only there). A new
    // user: the first one's cache already holds the answer.
    let user = User::new();
    write(
        &user.home.path().join(".npmrc"),
        &format!("@corp:registry={base}/npm/\n//{host}/:_authToken=USERTOK\n"),
    );
    std::fs::remove_file(repo.path(".npmrc")).unwrap();
    server.clear_requests();
    let (_, _) = check(&user, &repo, &[], &[]);
    let auth = authorizations(&server);
    assert!(!auth.is_empty(), "{:?}", server.requests());
    assert!(auth.iter().all(|a| a == "Bearer USERTOK"), "{auth:?}");
}

/// A project `.npmrc` that writes its own token for the user's registry does not replace the user's.
#[test]
fn project_npmrc_cannot_replace_the_users_token_for_the_users_registry() {
    let user = User::new();
    let (_root, server) = stand_in();
    let (base, host) = (server.url(), host_port(&server));
    write(
        &user.home.path().join(".npmrc"),
        &format!("@corp:registry={base}/npm/\n//{host}/:_authToken=USERTOK\n"),
    );
    let repo = Repo::new(&[("package.json", "{\"dependencies\": {\"@corp/widgets\": \"1.0.0\"}}\n")]);
    write(&repo.path(".npmrc"), &format!("//{host}/npm/:_authToken=PROJECTTOK\n"));
    let (_, report) = check(&user, &repo, &[], &[]);
    let auth = authorizations(&server);
    assert!(!auth.is_empty(), "{:?}", server.requests());
    assert!(auth.iter().all(|a| a == "Bearer USERTOK"), "{auth:?}");
    assert!(errors_text(&report).contains("your own"), "{}", errors_text(&report));
}

const CARGO_TOML: &str = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nwidget = { version = \"1\", registry = \"corp\" }\n";

/// Audit item 2: the user's token for registry `corp` (credentials.toml, or
/// `CARGO_REGISTRIES_CORP_TOKEN`) is bound to the index the user's config names for `corp`. A project
/// `.cargo/config.toml` that points `corp` at its own host gets no token, and says why.
#[test]
fn project_cargo_config_cannot_rebind_user_registry_token() {
    let user = User::new();
    let (_root, attacker) = stand_in();
    let attacker_base = attacker.url();
    let cargo_home = user.home.path().join(".cargo");
    write(
        &cargo_home.join("config.toml"),
        "[registries.corp]\nindex = \"sparse+https://cargo.corp.example/index/\"\n",
    );
    write(
        &cargo_home.join("credentials.toml"),
        "[registries.corp]\ntoken = \"USERTOK\"\n",
    );
    let repo = Repo::new(&[("Cargo.toml", CARGO_TOML)]);
    write(
        &repo.path(".cargo/config.toml"),
        &format!("[registries.corp]\nindex = \"sparse+{attacker_base}/index/\"\n"),
    );
    let env = [("CARGO_REGISTRIES_CORP_TOKEN", "ENVTOK")];
    let (outcome, report) = check(&user, &repo, &[], &env);
    assert!(
        attacker.request_count() > 0,
        "the project's index is asked: {}",
        outcome.stderr
    );
    assert!(authorizations(&attacker).is_empty(), "{:?}", attacker.requests());
    let errors = errors_text(&report);
    assert!(errors.contains("corp") && errors.contains("token"), "{errors}");

    // With no index of the user's own for `corp`, the token has nowhere to go either (a new user: the
    // first one's cache already holds the answer).
    let user = User::new();
    write(
        &user.home.path().join(".cargo/credentials.toml"),
        "[registries.corp]\ntoken = \"USERTOK\"\n",
    );
    attacker.clear_requests();
    let (_, report) = check(&user, &repo, &[], &env);
    assert!(attacker.request_count() > 0);
    assert!(authorizations(&attacker).is_empty(), "{:?}", attacker.requests());
    assert!(errors_text(&report).contains("corp"), "{}", errors_text(&report));
}

/// The user's index for `corp` (config or `CARGO_REGISTRIES_CORP_INDEX`) gets the user's token, also
/// when the project repeats the same definition.
#[test]
fn the_users_own_cargo_index_gets_the_users_token() {
    let user = User::new();
    let (_root, server) = stand_in();
    let base = server.url();
    write(
        &user.home.path().join(".cargo/credentials.toml"),
        "[registries.corp]\ntoken = \"USERTOK\"\n",
    );
    let repo = Repo::new(&[("Cargo.toml", CARGO_TOML)]);
    write(
        &repo.path(".cargo/config.toml"),
        &format!("[registries.corp]\nindex = \"sparse+{base}/index/\"\n"),
    );
    let index = format!("sparse+{base}/index/");
    let (outcome, _) = check(&user, &repo, &[], &[("CARGO_REGISTRIES_CORP_INDEX", &index)]);
    let auth = authorizations(&server);
    assert!(!auth.is_empty(), "{:?}\n{}", server.requests(), outcome.stderr);
    assert!(auth.iter().all(|a| a == "USERTOK"), "{auth:?}");
}

/// crates.io's token (`CARGO_REGISTRY_TOKEN`, `[registry] token`) is never sent, not even to a
/// `[source.crates-io]` replacement the project names. Untrusted, that replacement is not even asked
/// (`mirror.rs`: a project does not choose where registry data comes from); trusted, it is asked
/// without the token.
#[test]
fn crates_io_token_never_goes_to_a_project_source_replacement() {
    let user = User::new();
    let (_root, attacker) = stand_in();
    let attacker_base = attacker.url();
    write(
        &user.home.path().join(".cargo/credentials.toml"),
        "[registry]\ntoken = \"CRATESIOTOK\"\n",
    );
    let repo = Repo::new(&[(
        "Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\n",
    )]);
    write(
        &repo.path(".cargo/config.toml"),
        &format!(
            "[source.crates-io]\nreplace-with = \"mirror\"\n[source.mirror]\nregistry = \"sparse+{attacker_base}/index/\"\n"
        ),
    );
    let (_, _) = check(&user, &repo, &[], &[("CARGO_REGISTRY_TOKEN", "CRATESIOTOK")]);
    assert_eq!(attacker.request_count(), 0, "{:?}", attacker.requests());
    let (_, _) = check(
        &user,
        &repo,
        &["--trust-project-config"],
        &[("CARGO_REGISTRY_TOKEN", "CRATESIOTOK")],
    );
    assert!(attacker.request_count() > 0);
    assert!(authorizations(&attacker).is_empty(), "{:?}", attacker.requests());
}

/// Audit item 8: registry files of the project that are symlinks to outside the workspace are reported
/// as not read, and nothing they say is applied (no registry is asked, no credential sent).
#[test]
fn project_registry_files_outside_the_workspace_are_not_applied() {
    let user = User::new();
    let (_root, server) = stand_in();
    let (base, host) = (server.url(), host_port(&server));
    let repo = Repo::new(&[
        ("package.json", "{\"dependencies\": {\"@corp/widgets\": \"1.0.0\"}}\n"),
        ("Cargo.toml", CARGO_TOML),
        ("requirements.txt", "internal-lib==1.0\n"),
    ]);
    let outside = repo.parent.path().join("outside");
    write(
        &outside.join("npmrc"),
        &format!("@corp:registry={base}/npm/\n//{host}/:_authToken=OUTSIDETOK\n"),
    );
    write(
        &outside.join("config.toml"),
        &format!("[registries.corp]\nindex = \"sparse+{base}/index/\"\ntoken = \"OUTSIDETOK\"\n"),
    );
    write(
        &outside.join("requirements.txt"),
        &format!("--index-url http://bob:pw@{host}/simple/\n"),
    );
    std::fs::create_dir_all(repo.path(".cargo")).unwrap();
    repo.link(outside.join("npmrc").to_str().unwrap(), ".npmrc");
    repo.link(outside.join("config.toml").to_str().unwrap(), ".cargo/config.toml");
    repo.link(
        outside.join("requirements.txt").to_str().unwrap(),
        "requirements-extra.txt",
    );
    let (outcome, report) = check(&user, &repo, &[], &[]);
    assert_eq!(server.request_count(), 0, "{:?}\n{}", server.requests(), outcome.stderr);
    let errors = errors_text(&report);
    for name in [".npmrc", "config.toml", "requirements-extra.txt"] {
        assert!(
            errors
                .lines()
                .any(|line| line.contains(name) && line.contains("outside the workspace")),
            "{name}: {errors}"
        );
    }
}
