//! True answers from `gatehouse check`: files read the way pip and npm read them, per-check states in
//! the JSON, and exit codes that are never 0 when something could not be checked or read.

use std::path::Path;

use serde_json::Value;

use gatehouse::testing::{Fault, FixtureServer};

use crate::harness::{Project, command, fixtures};

fn run(args: &[&str], cwd: &Path) -> (i32, Value, String) {
    // These projects are the test's own: their gatehouse.toml (offline, osv-db, stand-ins) is trusted.
    let output = command(cwd)
        .args(args)
        .current_dir(cwd)
        .env("GATEHOUSE_TRUST_PROJECT_CONFIG", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), json, format!("{stdout}\n{stderr}"))
}

fn package_names(report: &Value) -> Vec<String> {
    let mut names: Vec<String> = report["packages"]
        .as_array()
        .map(|packages| {
            packages
                .iter()
                .map(|p| p["package"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut res = if big_endian { vec![0xFE, 0xFF] } else { vec![0xFF, 0xFE] };
    for unit in text.encode_utf16() {
        res.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    res
}

#[test]
fn requirements_files_are_read_the_way_pip_reads_them() {
    let text = "requests==2.19.0\nflask==0.12\n";
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend(text.as_bytes());
    let variants: [(&str, Vec<u8>); 4] = [
        ("utf8-bom", bom),
        ("utf16-le", utf16(text, false)),
        ("utf16-be", utf16(text, true)),
        ("cr-only", text.replace('\n', "\r").into_bytes()),
    ];
    for (label, bytes) in variants {
        let project = Project::new(&[]);
        std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
        std::fs::write(project.path("requirements.txt"), bytes).unwrap();
        let (_, report, output) = run(&["check", ".", "--format", "json"], project.dir.path());
        assert_eq!(package_names(&report), ["flask", "requests"], "{label}: {output}");
    }
}

/// Folders the walk skips by name or by a `pyvenv.cfg` (build output, virtualenvs) hold no manifests
/// of their own; a repository that puts one there (a workspace member named `target/`, or marked as a
/// virtualenv) does not hide it: a manifest directly inside such a folder is checked.
#[test]
fn a_manifest_in_a_folder_the_walk_skips_is_still_checked() {
    let project = Project::new(&[]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    std::fs::write(
        project.path("package.json"),
        "{\"private\": true, \"workspaces\": [\"packages/*\", \"target\"], \"dependencies\": {\"left-pad\": \"1.3.0\"}}",
    )
    .unwrap();
    for (folder, name) in [
        ("packages/evil", "minimist"),
        ("target", "lodash"),
        (".venv", "express"),
    ] {
        std::fs::create_dir_all(project.path(folder)).unwrap();
        std::fs::write(
            project.path(&format!("{folder}/package.json")),
            format!("{{\"dependencies\": {{\"{name}\": \"1.0.0\"}}}}"),
        )
        .unwrap();
    }
    std::fs::write(project.path("packages/evil/pyvenv.cfg"), "").unwrap();
    // What a virtualenv or a build folder really holds deeper down stays unread.
    std::fs::create_dir_all(project.path("target/debug/build/x")).unwrap();
    std::fs::write(
        project.path("target/debug/build/x/package.json"),
        "{\"dependencies\": {\"chalk\": \"1.0.0\"}}",
    )
    .unwrap();
    std::fs::create_dir_all(project.path("node_modules/x")).unwrap();
    std::fs::write(
        project.path("node_modules/x/package.json"),
        "{\"dependencies\": {\"debug\": \"1.0.0\"}}",
    )
    .unwrap();
    let (_, report, output) = run(&["check", ".", "--format", "json"], project.dir.path());
    assert_eq!(
        package_names(&report),
        ["express", "left-pad", "lodash", "minimist"],
        "{output}"
    );
}

#[test]
fn an_undecodable_file_is_an_error_never_an_empty_success() {
    let project = Project::new(&[]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    // Valid path dependency (needs no lookup) followed by bytes that are not UTF-8.
    std::fs::write(project.path("requirements.txt"), b"./local-package\n\xff\xfe\xfa\xfb\n").unwrap();
    let (code, report, output) = run(&["check", ".", "--format", "json"], project.dir.path());
    assert_eq!(code, 2, "{output}");
    assert_eq!(report["summary"]["unread_files"], 1, "{output}");
    assert!(
        report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("UTF-8")),
        "{output}"
    );
}

#[test]
fn a_missing_include_or_a_manifest_that_did_not_parse_fails_the_run() {
    // Nothing here needs a lookup: a path dependency is skipped, so only the missing include can
    // make the run incomplete.
    let project = Project::new(&[("requirements.txt", "-r missing.txt\n./local-package\n")]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (code, _, output) = run(&["check", "requirements.txt"], project.dir.path());
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("missing.txt"), "{output}");
    let (code, _, output) = run(&["check", "requirements.txt", "--fail-on", "never"], project.dir.path());
    assert_eq!(code, 0, "--fail-on never: {output}");

    let broken = Project::new(&[("package.json", "{ \"dependencies\": [[[ }")]);
    std::fs::write(broken.path("gatehouse.toml"), broken.offline_config()).unwrap();
    let (code, report, output) = run(&["check", ".", "--format", "json"], broken.dir.path());
    assert_eq!(code, 2, "{output}");
    assert_eq!(report["summary"]["unread_files"], 1, "{output}");

    let (code, _, output) = run(&["check", "no-such-file.txt"], project.dir.path());
    assert_eq!(code, 2, "{output}");
}

/// Stand-ins for the npm registry and OSV with minimist (no advisories).
fn stand_ins() -> (tempfile::TempDir, FixtureServer) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("npm")).unwrap();
    std::fs::copy(
        fixtures().join("registry/npm/minimist"),
        root.path().join("npm/minimist"),
    )
    .unwrap();
    let server = FixtureServer::start(root.path()).unwrap();
    server.set_body("/osv/v1/querybatch", r#"{"results":[{}]}"#);
    (root, server)
}

fn check_against(server: &FixtureServer, project: &Project, extra: &[&str]) -> (i32, Value, String) {
    let base = server.url();
    let npm = format!("{base}/npm");
    let osv = format!("{base}/osv");
    let cache = project.path("cache").display().to_string();
    let mut args = vec![
        "check",
        ".",
        "--format",
        "json",
        "--npm-registry",
        npm.as_str(),
        "--osv-url",
        osv.as_str(),
        "--cache-dir",
        cache.as_str(),
    ];
    args.extend(extra);
    run(&args, project.dir.path())
}

fn minimist_project() -> Project {
    Project::new(&[("package.json", "{\"dependencies\": {\"minimist\": \"1.2.5\"}}")])
}

#[test]
fn every_package_carries_the_state_of_each_check() {
    let (_root, server) = stand_ins();
    let project = minimist_project();
    let (code, report, output) = check_against(&server, &project, &[]);
    let minimist = &report["packages"][0];
    assert_eq!(minimist["package"], "minimist", "{output}");
    assert_eq!(minimist["checks"]["advisory"], "checked", "{output}");
    assert_eq!(minimist["checks"]["age"], "checked", "{output}");
    assert_eq!(minimist["checks"]["availability"], "checked", "{output}");
    assert!(minimist["checks"]["provenance"].is_string(), "{output}");
    assert_eq!(report["summary"]["packages"], 1, "{output}");
    if minimist["checks"]["provenance"] == "checked" {
        assert_eq!(code, 0, "{output}");
    } else {
        assert_eq!(code, 2, "{output}");
    }
}

#[test]
fn a_failing_registry_leaves_its_checks_unavailable_and_the_exit_code_non_zero() {
    for fault in [
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        Fault::Garbage,
        Fault::Truncated,
    ] {
        let (_root, server) = stand_ins();
        server.inject("/npm/", fault.clone(), None);
        let project = minimist_project();
        let (code, report, output) = check_against(&server, &project, &[]);
        let minimist = &report["packages"][0];
        assert_eq!(minimist["checks"]["advisory"], "checked", "{fault:?}: {output}");
        for check in ["age", "availability", "provenance"] {
            assert_eq!(minimist["checks"][check], "unavailable", "{fault:?} {check}: {output}");
            assert!(
                minimist["check_reasons"][check].is_string(),
                "{fault:?} {check}: {output}"
            );
        }
        assert_eq!(report["summary"]["unchecked"]["age"], 1, "{fault:?}: {output}");
        assert_eq!(code, 2, "{fault:?}: never 0 when a check could not be done: {output}");
        let (code, _, output) = check_against(&server, &project, &["--fail-on", "never"]);
        assert_eq!(code, 0, "{fault:?}: {output}");
    }
}

#[test]
fn a_stray_file_above_the_workspace_changes_nothing() {
    let outer = tempfile::tempdir().unwrap();
    // Above the workspace: a config that would deny the only dependency and a Cargo lockfile.
    std::fs::write(outer.path().join("gatehouse.toml"), "[policy]\ndeny = [\"minimist\"]\n").unwrap();
    let workspace = outer.path().join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(
        workspace.join("package.json"),
        "{\"dependencies\": {\"minimist\": \"1.2.5\"}}",
    )
    .unwrap();
    let (_root, server) = stand_ins();
    let project = Project {
        dir: tempfile::tempdir().unwrap(),
    };
    let base = server.url();
    let npm = format!("{base}/npm");
    let osv = format!("{base}/osv");
    let cache = project.path("cache").display().to_string();
    let output = command(project.dir.path())
        .args([
            "check",
            ".",
            "--format",
            "json",
            "--npm-registry",
            &npm,
            "--osv-url",
            &osv,
            "--cache-dir",
            &cache,
        ])
        .current_dir(&workspace)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(
        !findings.iter().any(|f| f["check"] == "denied"),
        "the gatehouse.toml above the workspace was read: {stdout}"
    );
}

#[test]
fn an_offline_database_answers_only_for_the_ecosystems_it_holds() {
    let project = Project::new(&[("requirements.txt", "requests==2.19.0\n")]);
    let npm_only = fixtures().join("osv/npm");
    std::fs::write(
        project.path("gatehouse.toml"),
        format!(
            "offline = true\ncache-dir = \"{}\"\nosv-db = [\"{}\"]\n",
            project.path("cache").display(),
            npm_only.display()
        ),
    )
    .unwrap();
    let (code, report, output) = run(&["check", ".", "--format", "json"], project.dir.path());
    let requests = &report["packages"][0];
    assert_eq!(requests["checks"]["advisory"], "unavailable", "{output}");
    assert!(
        requests["check_reasons"]["advisory"].as_str().unwrap().contains("PyPI"),
        "{output}"
    );
    assert_eq!(code, 2, "{output}");
}

#[test]
fn an_online_failure_behind_a_snapshot_is_said_never_hidden() {
    let (_root, server) = stand_ins();
    server.inject(
        "/osv/",
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        None,
    );
    let project = minimist_project();
    let snapshot = fixtures().join("osv/npm").display().to_string();
    let (code, report, output) = check_against(&server, &project, &["--osv-db", snapshot.as_str()]);
    let minimist = &report["packages"][0];
    assert_eq!(minimist["checks"]["advisory"], "checked", "{output}");
    let reason = minimist["check_reasons"]["advisory"].as_str().unwrap_or_default();
    assert!(
        reason.contains("advisories from the offline snapshot as of") && reason.contains("the OSV API failed"),
        "{output}"
    );
    assert_eq!(report["summary"]["unchecked"]["advisory"], 1, "{output}");
    // The snapshot's own finding (minimist 1.2.5 is affected) still shows, and decides the exit code.
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "advisory"),
        "{output}"
    );
    assert_eq!(code, 1, "{output}");
}

/// A project behind a default-registry mirror (`registry=` in `.npmrc`), with stand-ins for the mirror,
/// the public registry and OSV that record every request.
fn mirror_project(server: &FixtureServer) -> Project {
    let project = minimist_project();
    std::fs::write(project.path(".npmrc"), format!("registry={}/mirror/\n", server.url())).unwrap();
    project
}

fn mirror_stand_ins() -> (tempfile::TempDir, FixtureServer) {
    let (root, server) = stand_ins();
    std::fs::create_dir_all(root.path().join("mirror")).unwrap();
    std::fs::copy(
        fixtures().join("registry/npm/minimist"),
        root.path().join("mirror/minimist"),
    )
    .unwrap();
    (root, server)
}

fn paths(server: &FixtureServer) -> Vec<String> {
    server.requests().into_iter().map(|r| r.path).collect()
}

#[test]
fn a_registry_mirror_is_checked_without_sending_its_names_to_public_hosts() {
    // Without a local OSV copy or permission: the advisory check is unavailable, with the reason;
    // age and availability come from the mirror's own document; nothing goes to OSV or npmjs.
    let (_root, server) = mirror_stand_ins();
    let project = mirror_project(&server);
    let (code, report, output) = check_against(&server, &project, &[]);
    let minimist = &report["packages"][0];
    assert_eq!(minimist["checks"]["advisory"], "unavailable", "{output}");
    assert!(
        minimist["check_reasons"]["advisory"]
            .as_str()
            .unwrap()
            .contains("mirror"),
        "{output}"
    );
    assert_eq!(minimist["checks"]["age"], "checked", "{output}");
    assert_eq!(minimist["checks"]["availability"], "checked", "{output}");
    assert_eq!(code, 2, "{output}");
    let asked = paths(&server);
    assert!(asked.iter().any(|p| p == "/mirror/minimist"), "{asked:?}");
    assert!(
        !asked.iter().any(|p| p.starts_with("/osv") || p.starts_with("/npm/")),
        "a name behind the mirror reached a public host: {asked:?}"
    );

    // With a local OSV copy: checked against it (minimist 1.2.5 is affected), still nothing public.
    let (_root, server) = mirror_stand_ins();
    let project = mirror_project(&server);
    let snapshot = fixtures().join("osv/npm").display().to_string();
    let (code, report, output) = check_against(&server, &project, &["--osv-db", snapshot.as_str()]);
    assert_eq!(report["packages"][0]["checks"]["advisory"], "checked", "{output}");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check"] == "advisory"),
        "{output}"
    );
    assert_eq!(code, 1, "{output}");
    let asked = paths(&server);
    assert!(
        !asked.iter().any(|p| p.starts_with("/osv") || p.starts_with("/npm/")),
        "a name behind the mirror reached a public host: {asked:?}"
    );

    // With `mirror-is-public`: the name may go to the OSV API.
    let (_root, server) = mirror_stand_ins();
    let project = mirror_project(&server);
    let (_, report, output) = check_against(&server, &project, &["--set", "mirror-is-public=true"]);
    assert_eq!(report["packages"][0]["checks"]["advisory"], "checked", "{output}");
    let asked = paths(&server);
    assert!(asked.iter().any(|p| p == "/osv/v1/querybatch"), "{asked:?}");
    assert!(!asked.iter().any(|p| p.starts_with("/npm/")), "{asked:?}");
}

#[test]
fn a_stray_cargo_config_above_the_workspace_changes_nothing() {
    let outer = tempfile::tempdir().unwrap();
    // Above the workspace: a Cargo source replacement that would make crates.io a mirror.
    std::fs::create_dir_all(outer.path().join(".cargo")).unwrap();
    std::fs::write(
        outer.path().join(".cargo/config.toml"),
        "[source.crates-io]\nreplace-with = \"stray\"\n[source.stray]\nregistry = \"sparse+http://127.0.0.1:9/index/\"\n",
    )
    .unwrap();
    let workspace = outer.path().join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::write(
        workspace.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nsmallvec = \"1.13.2\"\n",
    )
    .unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let cache = sandbox.path().join("cache").display().to_string();
    let output = command(sandbox.path())
        .args(["check", ".", "--format", "json", "--offline", "--cache-dir", &cache])
        .current_dir(&workspace)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let reason = report["packages"][0]["check_reasons"]["advisory"]
        .as_str()
        .unwrap_or_default();
    assert!(
        !reason.contains("mirror"),
        "the .cargo/config.toml above the workspace was read: {stdout}"
    );
}

/// A malformed client message (invalid JSON, a lone surrogate escape) gets a JSON-RPC parse error and
/// the server keeps serving (it used to exit, silently, with code 0).
#[test]
fn a_malformed_client_message_gets_a_parse_error_and_the_server_keeps_serving() {
    let project = Project::new(&[("package.json", "{\"dependencies\": {}}\n")]);
    let mut lsp = crate::harness::Server::start(project.dir.path());
    lsp.initialize(project.dir.path(), Value::Null);
    lsp.send_raw(br#"{"jsonrpc":"2.0","id":90,"method":"shutdown","#);
    lsp.send_raw(br#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///x\ud800","languageId":"json","version":1,"text":""}}}"#);
    for what in ["invalid JSON", "a lone surrogate"] {
        let error = lsp.wait_for(what, std::time::Duration::from_secs(20), |m| {
            m["error"]["code"] == -32700
        });
        assert_eq!(error["id"], Value::Null, "{error}");
    }
    let hover = lsp.request(
        "textDocument/hover",
        serde_json::json!({"textDocument": {"uri": crate::harness::uri(&project.path("package.json"))}, "position": {"line": 0, "character": 1}}),
    );
    assert!(hover.is_null() || hover.is_object(), "{hover}");
    assert_eq!(lsp.shutdown(), 0);
}

/// Opening a manifest starts its lookups at once: the debounce is for edits only (with an hour of
/// debounce, the lookups of an opened document still land).
#[test]
fn opening_a_manifest_starts_its_lookups_without_the_edit_debounce() {
    let (_root, server) = stand_ins();
    let base = server.url();
    let text = "{\"dependencies\": {\"minimist\": \"1.2.5\"}}\n";
    let project = Project::new(&[("package.json", text)]);
    std::fs::write(
        project.path("gatehouse.toml"),
        format!(
            "cache-dir = \"{}\"\n[endpoints]\nnpm = \"{base}/npm\"\nosv = \"{base}/osv\"\n[lookup]\ndebounce-ms = 3600000\n",
            project.path("cache").display()
        ),
    )
    .unwrap();
    let mut lsp = crate::harness::Server::start(project.dir.path());
    lsp.initialize(project.dir.path(), Value::Null);
    let doc = crate::harness::uri(&project.path("package.json"));
    lsp.notify(
        "textDocument/didOpen",
        serde_json::json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": text}}),
    );
    // The lookups have landed when the server says it is idle with nothing pending (the clock never
    // reaches the hour of debounce, so only the open can have started them).
    lsp.wait_for(
        "the opened document's lookups",
        std::time::Duration::from_secs(20),
        |m| m["method"] == "gatehouse/status" && m["params"]["state"] == "idle" && m["params"]["pending"] == 0,
    );
    let hover = lsp.request(
        "textDocument/hover",
        serde_json::json!({"textDocument": {"uri": doc}, "position": {"line": 0, "character": 20}}),
    );
    let text = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(
        text.contains("advisory: checked") && text.contains("age: checked"),
        "the opened document's lookups did not start: {text}"
    );
    assert_eq!(lsp.shutdown(), 0);
}

/// The editor's workspace folder bounds every document inside it: a `gatehouse.toml` (denying the only
/// dependency) and an `.npmrc` (a default registry that answers nothing) above the folder, in the
/// repository that holds it, change nothing.
#[test]
fn a_stray_file_above_the_workspace_folder_changes_nothing_in_the_editor() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(outer.path().join(".git")).unwrap();
    std::fs::write(outer.path().join("gatehouse.toml"), "[policy]\ndeny = [\"minimist\"]\n").unwrap();
    std::fs::write(outer.path().join(".npmrc"), "registry=http://127.0.0.1:9/\n").unwrap();
    let workspace = outer.path().join("ws");
    std::fs::create_dir_all(&workspace).unwrap();
    let text = "{\"dependencies\": {\"minimist\": \"1.2.5\"}}\n";
    std::fs::write(workspace.join("package.json"), text).unwrap();
    let (_root, server) = stand_ins();
    let base = server.url();
    let sandbox = tempfile::tempdir().unwrap();
    let mut lsp = crate::harness::Server::start(sandbox.path());
    lsp.request(
        "initialize",
        serde_json::json!({
            "processId": null,
            "rootUri": null,
            "workspaceFolders": [{"uri": crate::harness::uri(&workspace), "name": "ws"}],
            "capabilities": {},
            "initializationOptions": {
                "cache-dir": sandbox.path().join("cache").display().to_string(),
                "endpoints": {"npm": format!("{base}/npm"), "osv": format!("{base}/osv")},
            },
        }),
    );
    lsp.notify("initialized", serde_json::json!({}));
    let doc = crate::harness::uri(&workspace.join("package.json"));
    lsp.notify(
        "textDocument/didOpen",
        serde_json::json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": text}}),
    );
    lsp.wait_for("the lookups", std::time::Duration::from_secs(20), |m| {
        m["method"] == "gatehouse/status" && m["params"]["state"] == "idle" && m["params"]["pending"] == 0
    });
    let hover = lsp.request(
        "textDocument/hover",
        serde_json::json!({"textDocument": {"uri": doc}, "position": {"line": 0, "character": 20}}),
    );
    let hover = hover["contents"]["value"].as_str().unwrap_or_default().to_string();
    assert!(
        hover.contains("advisory: checked") && hover.contains("age: checked"),
        "the .npmrc above the workspace folder was read: {hover}"
    );
    let published: Vec<&Value> = lsp
        .seen
        .iter()
        .filter(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == doc)
        .collect();
    let last = published.last().expect("diagnostics were published");
    assert!(
        !last["params"]["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "denied"),
        "the gatehouse.toml above the workspace folder was read: {last}"
    );
    assert_eq!(lsp.shutdown(), 0);
}
