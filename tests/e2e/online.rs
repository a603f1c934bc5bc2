//! The cold path against loopback stand-ins: the npm registry and OSV, served by the fixture server.

use serde_json::{Value, json};

use gatehouse::testing::FixtureServer;

use crate::harness::{Project, Server, fixtures, uri};

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
    std::fs::write(
        project.path("gatehouse.toml"),
        format!(
            "cache-dir = \"{}\"\n[endpoints]\nnpm = \"{base}/npm\"\nosv = \"{base}/osv\"\n[lookup]\ndebounce-ms = 10\n",
            project.path("cache").display()
        ),
    )
    .unwrap();
    let mut lsp = Server::start(project.dir.path());
    lsp.initialize(project.dir.path(), Value::Null);
    let doc = uri(&project.path("package.json"));
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": text}}),
    );
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
    std::fs::write(
        project.path("gatehouse.toml"),
        format!(
            "cache-dir = \"{}\"\n[endpoints]\nnpm = \"{base}/npm\"\nosv = \"{base}/osv\"\n[lookup]\ndebounce-ms = 10\n",
            project.path("cache").display()
        ),
    )
    .unwrap();
    let mut lsp = Server::start(project.dir.path());
    lsp.initialize(project.dir.path(), Value::Null);
    let doc = uri(&project.path("package.json"));
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": text}}),
    );
    let diagnostics = lsp.diagnostics(&doc, 1, |d| d.iter().any(|d| d["code"] == "unchecked"));
    let note = diagnostics.iter().find(|d| d["code"] == "unchecked").unwrap();
    assert_eq!(note["severity"], 3, "information, never an error: {note}");
    assert!(note["message"].as_str().unwrap().contains("could not check"), "{note}");
    assert_eq!(lsp.shutdown(), 0);
}
