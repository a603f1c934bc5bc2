//! The cold path against loopback stand-ins: the npm registry and OSV, served by the fixture server.

use serde_json::{Value, json};

use gatehouse::testing::FixtureServer;

use crate::harness::{Project, Server, fixtures, preferred_action, uri};

/// A stand-in root: `npm/<name>` packuments and `osv/v1/vulns/<id>` records from fixtures/.
fn stand_in_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("npm")).unwrap();
    std::fs::create_dir_all(root.path().join("osv/v1/vulns")).unwrap();
    for name in ["lodash", "minimist"] {
        std::fs::copy(
            fixtures().join("registry/npm").join(name),
            root.path().join("npm").join(name),
        )
        .unwrap();
    }
    for id in ["GHSA-35jh-r3h4-6jhm", "GHSA-p6mc-m468-83gw", "GHSA-29mw-wpgm-hmr9"] {
        std::fs::copy(
            fixtures().join("osv/npm").join(format!("{id}.json")),
            root.path().join("osv/v1/vulns").join(id),
        )
        .unwrap();
    }
    root
}

/// Points a project's gatehouse.toml at the stand-ins, with a private cache and a short debounce.
fn point_at_stand_ins(project: &Project, base: &str) {
    std::fs::write(
        project.path("gatehouse.toml"),
        format!(
            "cache-dir = \"{}\"\n[endpoints]\nnpm = \"{base}/npm\"\nosv = \"{base}/osv\"\n[lookup]\ndebounce-ms = 10\n",
            project.path("cache").display()
        ),
    )
    .unwrap();
}

/// Starts the server in the project and opens its package.json at version 1.
fn open_package_json(project: &Project, text: &str) -> (Server, String) {
    let mut lsp = Server::start(project.dir.path());
    lsp.initialize(project.dir.path(), Value::Null);
    let doc = uri(&project.path("package.json"));
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": text}}),
    );
    (lsp, doc)
}

const QUERYBATCH: &str = r#"{"results":[{"vulns":[{"id":"GHSA-35jh-r3h4-6jhm","modified":"2024-01-01T00:00:00Z"},{"id":"GHSA-p6mc-m468-83gw","modified":"2024-01-01T00:00:00Z"},{"id":"GHSA-29mw-wpgm-hmr9","modified":"2024-01-01T00:00:00Z"}]}]}"#;

#[test]
fn registry_and_osv_answers_land_and_republish() {
    let root = stand_in_root();
    let server_http = FixtureServer::start(root.path()).unwrap();
    server_http.set_body("/osv/v1/querybatch", QUERYBATCH);
    let base = server_http.url();
    let text = "{\n  \"dependencies\": {\n    \"lodash\": \"4.17.15\",\n    \"@corp/secret\": \"1.0.0\"\n  }\n}\n";
    let project = Project::new(&[("package.json", text)]);
    // A private scope: its packages must never reach the public registry or OSV.
    std::fs::write(project.path(".npmrc"), format!("@corp:registry={base}/private/\n")).unwrap();
    point_at_stand_ins(&project, &base);
    let (mut lsp, doc) = open_package_json(&project, text);
    let diagnostics = lsp.diagnostics(&doc, 1, |d| d.iter().any(|d| d["code"] == "GHSA-35jh-r3h4-6jhm"));
    let lodash = diagnostics.iter().find(|d| d["code"] == "GHSA-35jh-r3h4-6jhm").unwrap();
    assert!(lodash["message"].as_str().unwrap().contains("4.17.21"), "{lodash}");
    let hover = lsp.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": doc}, "position": {"line": 2, "character": 17}}),
    );
    let hover = hover["contents"]["value"].as_str().unwrap().to_string();
    assert!(hover.contains("4.17.15") && hover.contains("pinned"), "{hover}");
    assert_eq!(lsp.shutdown(), 0);

    let requests = server_http.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert!(paths.contains(&"/npm/lodash"), "{paths:?}");
    assert!(paths.contains(&"/osv/v1/querybatch"), "{paths:?}");
    assert!(paths.contains(&"/osv/v1/vulns/GHSA-35jh-r3h4-6jhm"), "{paths:?}");
    assert!(
        !paths.iter().any(|p| p.starts_with("/npm/") && p.contains("corp")),
        "a private package went to the public registry: {paths:?}"
    );
}

#[test]
fn a_dead_osv_host_is_a_visible_note_not_a_hang() {
    let root = stand_in_root();
    let server_http = FixtureServer::start(root.path()).unwrap();
    server_http.inject(
        "/osv/",
        gatehouse::testing::Fault::Status {
            status: 500,
            retry_after: None,
        },
        None,
    );
    let base = server_http.url();
    let text = "{\"dependencies\": {\"lodash\": \"4.17.15\"}}\n";
    let project = Project::new(&[("package.json", text)]);
    point_at_stand_ins(&project, &base);
    let (mut lsp, doc) = open_package_json(&project, text);
    let diagnostics = lsp.diagnostics(&doc, 1, |d| d.iter().any(|d| d["code"] == "unchecked"));
    let note = diagnostics.iter().find(|d| d["code"] == "unchecked").unwrap();
    assert_eq!(note["severity"], 3, "information, never an error: {note}");
    assert!(note["message"].as_str().unwrap().contains("could not check"), "{note}");
    assert_eq!(lsp.shutdown(), 0);
}

/// The real recorded minimist packument with its newest version's publish time moved to `hours_ago`
/// (derived here, the fixture stays as recorded).
fn fresh_minimist(root: &std::path::Path, hours_ago: i64) -> String {
    let text = std::fs::read_to_string(fixtures().join("registry/npm/minimist")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    let latest = doc["dist-tags"]["latest"].as_str().unwrap().to_string();
    let when = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(hours_ago);
    doc["time"][&latest] = Value::String(when.to_string());
    std::fs::write(root.join("npm/minimist"), serde_json::to_vec(&doc).unwrap()).unwrap();
    latest
}

fn fresh_project(base: &str, npmrc: Option<&str>) -> Project {
    let text = "{\n  \"dependencies\": {\n    \"minimist\": \"^1.2.0\"\n  }\n}\n";
    let project = Project::new(&[("package.json", text)]);
    if let Some(npmrc) = npmrc {
        std::fs::write(project.path(".npmrc"), npmrc).unwrap();
    }
    point_at_stand_ins(&project, base);
    project
}

#[test]
fn a_fresh_publish_is_flagged_and_fixed_with_an_old_enough_version() {
    let root = stand_in_root();
    let latest = fresh_minimist(root.path(), 5);
    let server_http = FixtureServer::start(root.path()).unwrap();
    server_http.set_body("/osv/v1/querybatch", r#"{"results":[{"vulns":[]}]}"#);
    let project = fresh_project(&server_http.url(), None);
    let text = std::fs::read_to_string(project.path("package.json")).unwrap();
    let (mut lsp, doc) = open_package_json(&project, &text);
    let diagnostics = lsp.diagnostics(&doc, 1, |d| d.iter().any(|d| d["code"] == "fresh-version"));
    let fresh = diagnostics.iter().find(|d| d["code"] == "fresh-version").unwrap();
    let message = fresh["message"].as_str().unwrap();
    assert!(message.contains(&latest) && message.contains("hours ago"), "{message}");
    let hover = lsp.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": doc}, "position": {"line": 2, "character": 18}}),
    );
    let hover = hover["contents"]["value"].as_str().unwrap().to_string();
    assert!(
        hover.contains("min-version-age"),
        "the hover names the deciding setting: {hover}"
    );
    let actions = lsp.code_actions(&doc, fresh);
    let action = preferred_action(&actions);
    let new_text = action["edit"]["changes"][&doc][0]["newText"].as_str().unwrap();
    assert!(!new_text.contains(&latest), "never the fresh version: {new_text}");
    assert!(
        !new_text.starts_with('^'),
        "a caret would still install the fresh version: {new_text}"
    );
    assert_eq!(lsp.shutdown(), 0);
}

#[test]
fn the_project_cooldown_decides_what_installs() {
    // With npm's own `min-release-age` (days), npm would not install the fresh version, so the range
    // resolves to the newest version old enough and nothing is flagged.
    let root = stand_in_root();
    fresh_minimist(root.path(), 5);
    let server_http = FixtureServer::start(root.path()).unwrap();
    server_http.set_body("/osv/v1/querybatch", r#"{"results":[{"vulns":[]}]}"#);
    let project = fresh_project(&server_http.url(), Some("min-release-age=1\n"));
    let text = std::fs::read_to_string(project.path("package.json")).unwrap();
    let (mut lsp, doc) = open_package_json(&project, &text);
    lsp.wait_for("lookups to finish", std::time::Duration::from_secs(30), |m| {
        m["method"] == "gatehouse/status" && m["params"]["state"] == "idle"
    });
    let hover = lsp.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": doc}, "position": {"line": 2, "character": 18}}),
    );
    let hover = hover["contents"]["value"].as_str().unwrap().to_string();
    assert!(
        hover.contains("Checked version **1.2.") && !hover.contains("fresh"),
        "{hover}"
    );
    let last = lsp
        .seen
        .iter()
        .rev()
        .find(|m| m["method"] == "textDocument/publishDiagnostics")
        .cloned()
        .unwrap();
    assert!(
        last["params"]["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["code"] != "fresh-version"),
        "{last}"
    );
    assert_eq!(lsp.shutdown(), 0);
}
