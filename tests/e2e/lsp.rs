//! The language server over stdio: open → diagnostics → code action → apply → diagnostics clear.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Project, Server, apply_edits, preferred_action, uri};

const PACKAGE_JSON: &str = "{\n  \"name\": \"demo\",\n  \"dependencies\": {\n    \"lodash\": \"4.17.15\",\n    \"minimist\": \"1.2.8\"\n  }\n}\n";

#[test]
fn vulnerable_pin_is_flagged_fixed_and_cleared() {
    let project = Project::new(&[("package.json", PACKAGE_JSON)]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let mut server = Server::start(project.dir.path());
    let init = server.initialize(project.dir.path(), Value::Null);
    assert_eq!(
        init["capabilities"]["textDocumentSync"]["change"], 2,
        "incremental sync"
    );

    let doc = uri(&project.path("package.json"));
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": PACKAGE_JSON}}),
    );
    let diagnostics = server.diagnostics(&doc, 1, |d| d.iter().any(|d| d["code"] == "GHSA-35jh-r3h4-6jhm"));
    let lodash = diagnostics.iter().find(|d| d["code"] == "GHSA-35jh-r3h4-6jhm").unwrap();
    // The range is the requirement text inside the quotes: line 3, `4.17.15`.
    assert_eq!(
        lodash["range"],
        json!({"start": {"line": 3, "character": 15}, "end": {"line": 3, "character": 22}})
    );
    assert_eq!(lodash["source"], "gatehouse");
    assert_eq!(lodash["severity"], 1);
    assert!(lodash["message"].as_str().unwrap().contains("4.17.21"), "{lodash}");
    assert!(
        lodash["codeDescription"]["href"]
            .as_str()
            .unwrap()
            .contains("GHSA-35jh-r3h4-6jhm")
    );
    assert!(
        diagnostics
            .iter()
            .all(|d| !d["message"].as_str().unwrap().contains("minimist")),
        "minimist 1.2.8 is clean: {diagnostics:?}"
    );

    // Re-check and clearing the cache keep the document's findings and fixes.
    server.request(
        "workspace/executeCommand",
        json!({"command": "gatehouse.recheck", "arguments": []}),
    );
    server.request(
        "workspace/executeCommand",
        json!({"command": "gatehouse.clearCache", "arguments": []}),
    );
    server.wait_for("lookups after clearing the cache", Duration::from_secs(30), |m| {
        m["method"] == "gatehouse/status" && m["params"]["state"] == "idle"
    });
    let hover = server.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": doc}, "position": {"line": 3, "character": 17}}),
    );
    let hover_text = hover["contents"]["value"].as_str().unwrap();
    assert!(hover_text.starts_with("**Gatehouse**"), "{hover_text}");
    assert!(
        hover_text.contains("4.17.15") && hover_text.contains("GHSA-35jh-r3h4-6jhm"),
        "{hover_text}"
    );

    let actions = server.code_actions(&doc, lodash);
    let action = preferred_action(&actions);
    assert_eq!(action["title"], "Update lodash to 4.17.21");
    assert_eq!(action["kind"], "quickfix");
    let ignore = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["title"]
                .as_str()
                .unwrap()
                .starts_with("Ignore GHSA-35jh-r3h4-6jhm for lodash until")
        })
        .expect("an ignore action");
    let config_uri = uri(&project.path("gatehouse.toml"));
    let config_edit = &ignore["edit"]["changes"][&config_uri][0];
    let config_text = std::fs::read_to_string(project.path("gatehouse.toml")).unwrap();
    let new_config = apply_edits(&config_text, std::slice::from_ref(config_edit));
    assert!(new_config.starts_with(&config_text), "{new_config}");
    assert!(
        new_config.contains("[[ignore]]\nid = \"GHSA-35jh-r3h4-6jhm\"\nreason = "),
        "{new_config}"
    );
    assert!(toml_parses(&new_config), "{new_config}");
    let edits = action["edit"]["changes"][&doc].as_array().unwrap().clone();
    let fixed = apply_edits(PACKAGE_JSON, &edits);
    assert!(fixed.contains("\"lodash\": \"4.17.21\""), "{fixed}");

    // Send the edit back as an incremental change and see the diagnostic go.
    let changes: Vec<Value> = edits
        .iter()
        .map(|e| json!({"range": e["range"], "text": e["newText"]}))
        .collect();
    server.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": doc, "version": 2}, "contentChanges": changes}),
    );
    server.diagnostics(&doc, 2, |d| d.iter().all(|d| d["code"] != "GHSA-35jh-r3h4-6jhm"));

    // Typing: several quick incremental edits, then a malicious package; the last version wins.
    let mut text = fixed;
    for (version, insertion) in [(3, "  "), (4, "")] {
        let _ = insertion;
        server.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": doc, "version": version}, "contentChanges": [{"text": text.clone()}]}),
        );
    }
    text = text.replace(
        "\"minimist\": \"1.2.8\"",
        "\"minimist\": \"1.2.8\",\n    \"flatmap-stream\": \"0.1.1\"",
    );
    server.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": doc, "version": 5}, "contentChanges": [{"text": text}]}),
    );
    let diagnostics = server.diagnostics(&doc, 5, |d| d.iter().any(|d| d["code"] == "MAL-2025-20690"));
    let malicious = diagnostics.iter().find(|d| d["code"] == "MAL-2025-20690").unwrap();
    assert_eq!(malicious["severity"], 1);

    assert_eq!(server.shutdown(), 0);
}

#[test]
fn broken_json_still_reports_what_parsed() {
    let text =
        "{\n  \"dependencies\": {\n    \"lodash\": \"4.17.15\",\n    \"oops\" \n    \"event-stream\": \"3.3.6\"\n  }\n";
    let project = Project::new(&[("package.json", text)]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let mut server = Server::start(project.dir.path());
    server.initialize(project.dir.path(), Value::Null);
    let doc = uri(&project.path("package.json"));
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "json", "version": 7, "text": text}}),
    );
    let diagnostics = server.diagnostics(&doc, 7, |d| d.iter().any(|d| d["code"] == "GHSA-35jh-r3h4-6jhm"));
    assert!(diagnostics.iter().any(|d| d["code"] == "syntax"), "{diagnostics:?}");
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn client_settings_override_the_project_file() {
    // The project file says nothing about OSV; the client points the server at the offline records.
    let project = Project::new(&[("package.json", PACKAGE_JSON)]);
    let osv = crate::harness::fixtures().join("osv/npm");
    let mut server = Server::start(project.dir.path());
    server.initialize(
        project.dir.path(),
        json!({"offline": true, "osv-db": [osv.display().to_string()], "cache-dir": project.path("cache").display().to_string()}),
    );
    let doc = uri(&project.path("package.json"));
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": PACKAGE_JSON}}),
    );
    server.diagnostics(&doc, 1, |d| d.iter().any(|d| d["code"] == "GHSA-35jh-r3h4-6jhm"));
    // Turning the advisory check off through settings applies without a restart.
    server.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"gatehouse": {"offline": true, "osv-db": [osv.display().to_string()], "policy": {"severity": {"advisory": "off"}}}}}),
    );
    server.diagnostics(&doc, 1, |d| d.iter().all(|d| d["code"] != "GHSA-35jh-r3h4-6jhm"));
    let _ = Duration::from_secs(0);
    assert_eq!(server.shutdown(), 0);
}

fn toml_parses(text: &str) -> bool {
    text.parse::<toml::Table>().is_ok()
}

/// The shared cache store cannot be opened: the editor is told once (a warning message), not only the
/// server's log, since the takedown memory of earlier sessions is then not consulted.
#[test]
fn a_cache_store_that_cannot_be_opened_is_shown_to_the_user() {
    let manifest = r#"{"dependencies": {"lodash": "4.17.21"}}"#;
    let project = Project::new(&[("package.json", manifest)]);
    std::fs::write(project.path("cache"), "not a folder").unwrap();
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let mut server = Server::start(project.dir.path());
    server.initialize(project.dir.path(), Value::Null);
    let doc = uri(&project.path("package.json"));
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": manifest}}),
    );
    let shown = server.warning_shown("cache store");
    assert!(
        shown["params"]["message"].as_str().unwrap().contains("takedown"),
        "{shown}"
    );
    assert_eq!(server.shutdown(), 0);
}

#[test]
fn bad_policy_is_a_diagnostic_on_its_key() {
    let config = "offline = true\n[policy]\nmin-version-age = \"soon\"\nbogus-key = 1\n";
    let project = Project::new(&[("gatehouse.toml", config)]);
    let mut server = Server::start(project.dir.path());
    server.initialize(project.dir.path(), Value::Null);
    let doc = uri(&project.path("gatehouse.toml"));
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "toml", "version": 1, "text": config}}),
    );
    let diagnostics = server.diagnostics(&doc, 1, |d| d.len() >= 2);
    let duration = diagnostics
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("not a duration"))
        .unwrap();
    assert_eq!(duration["range"]["start"], json!({"line": 2, "character": 0}));
    let unknown = diagnostics
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("bogus-key"))
        .unwrap();
    assert_eq!(unknown["range"]["start"], json!({"line": 3, "character": 0}));
    assert_eq!(server.shutdown(), 0);
}

/// A member of a pnpm monorepo opened with no Gatehouse configuration in the repository: the root's
/// pnpm-lock.yaml decides the installed versions (express 4.17.2, not the newest 4.x), the transitive
/// qs 6.9.6 (GHSA-hrpp-h998-j3pp) shows on express with its path, and the quick fix writes a valid
/// override into pnpm-workspace.yaml, where pnpm 10 reads it. The offline settings come from the
/// client, as an editor would send them.
#[test]
fn a_pnpm_workspace_member_gets_versions_transitive_findings_and_a_valid_fix_from_the_root() {
    let fixture = crate::harness::fixtures().join("manifests/pnpm/v9-workspace2");
    let read = |name: &str| std::fs::read_to_string(fixture.join(name)).unwrap();
    let member = read("foo/package.json");
    let workspace_yaml = read("pnpm-workspace.yaml");
    let project = Project::new(&[
        ("pnpm-lock.yaml", &read("pnpm-lock.yaml")),
        ("pnpm-workspace.yaml", &workspace_yaml),
        ("foo/package.json", &member),
        ("bar/package.json", &read("bar/package.json")),
    ]);
    std::fs::create_dir(project.path(".git")).unwrap();
    let osv = crate::harness::fixtures().join("osv");
    let options = json!({
        "offline": true,
        "cache-dir": project.path("cache"),
        "osv-db": [osv.join("npm"), osv.join("incidents/npm")],
    });
    let mut server = Server::start(project.dir.path());
    server.initialize(project.dir.path(), options);
    let doc = uri(&project.path("foo/package.json"));
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": member}}),
    );
    let diagnostics = server.diagnostics(&doc, 1, |d| d.iter().any(|d| d["code"] == "GHSA-hrpp-h998-j3pp"));
    let qs = diagnostics.iter().find(|d| d["code"] == "GHSA-hrpp-h998-j3pp").unwrap();
    let message = qs["message"].as_str().unwrap();
    assert!(message.contains("6.9.6"), "{message}");
    let start = crate::harness::offset(&member, &qs["range"]["start"]);
    assert!(
        member[start..].starts_with("4.17.2\""),
        "on express's requirement: {qs}"
    );

    let hover = server.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": doc}, "position": qs["range"]["start"]}),
    );
    let hover_text = hover["contents"]["value"].as_str().unwrap();
    assert!(
        hover_text.contains("Checked version **4.17.2** (from the lockfile)"),
        "{hover_text}"
    );
    assert!(hover_text.contains("express → qs"), "{hover_text}");

    let actions = server.code_actions(&doc, qs);
    let action = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("Pin qs to "))
        .unwrap_or_else(|| panic!("an override action: {actions:#}"));
    let changes = action["edit"]["changes"].as_object().unwrap();
    assert!(
        changes.get(&doc).is_none(),
        "the member is not where pnpm reads overrides: {action:#}"
    );
    let yaml_edits = changes[&uri(&project.path("pnpm-workspace.yaml"))].as_array().unwrap();
    let edited = apply_edits(&workspace_yaml, yaml_edits);
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&edited).unwrap();
    assert_eq!(value["overrides"]["qs"].as_str(), Some("6.9.7"), "{edited}");
    assert_eq!(value["packages"][0].as_str(), Some("*"), "{edited}");
    assert_eq!(server.shutdown(), 0);
}

/// The editor reads a requirements file's constraints files (`-c`) off the request path, as `gatehouse
/// check` does: `requests>=2` with `requests==2.19.0` in constraints.txt is checked at 2.19.0
/// (PYSEC-2018-28), not at the newest release the bare range admits. Editing the `-c` line reads the
/// constraints again; a constraints file that cannot be read is a warning on its line.
#[test]
fn the_editor_checks_the_version_a_constraints_file_decides() {
    let text = "requests>=2\n-c constraints.txt\n";
    let project = Project::new(&[("requirements.txt", text), ("constraints.txt", "requests==2.19.0\n")]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let mut server = Server::start(project.dir.path());
    server.initialize(project.dir.path(), Value::Null);
    let doc = uri(&project.path("requirements.txt"));
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "pip-requirements", "version": 1, "text": text}}),
    );
    let constrained = |d: &Value| {
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("constrained by constraints.txt:1 (==2.19.0)"))
    };
    let diagnostics = server.diagnostics(&doc, 1, |d| {
        d.iter().any(|d| d["code"] == "PYSEC-2018-28" && constrained(d))
    });
    let advisory = diagnostics.iter().find(|d| d["code"] == "PYSEC-2018-28").unwrap();
    assert_eq!(advisory["range"]["start"]["line"], 0, "{advisory}");
    let hover = server.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": doc}, "position": {"line": 0, "character": 2}}),
    );
    let hover_text = hover["contents"]["value"].as_str().unwrap();
    assert!(
        hover_text.contains("Checked version **2.19.0** (pinned by a constraints file (`-c`))"),
        "{hover_text}"
    );
    assert!(hover_text.contains("constrained by constraints.txt:1"), "{hover_text}");

    // The constraints file changes on disk (a `git pull`): read again, the new pin is checked.
    std::fs::write(project.path("constraints.txt"), "requests==2.31.0\n").unwrap();
    server.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": uri(&project.path("constraints.txt")), "type": 2}]}),
    );
    let diagnostics = server.diagnostics(&doc, 1, |d| {
        !d.iter().any(|d| d["code"] == "PYSEC-2018-28")
            && d.iter().any(|d| {
                d["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("constrained by constraints.txt:1 (==2.31.0)"))
            })
    });
    assert!(!diagnostics.iter().any(constrained), "{diagnostics:?}");

    // Without the `-c` line nothing is constrained any more.
    server.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": doc, "version": 2}, "contentChanges": [{"text": "requests>=2\n"}]}),
    );
    server.diagnostics(&doc, 2, |d| !d.iter().any(constrained));

    // A constraints file that is not there: said on its line, never silently unconstrained.
    server.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": doc, "version": 3}, "contentChanges": [{"text": "requests>=2\n-c missing.txt\n"}]}),
    );
    let diagnostics = server.diagnostics(&doc, 3, |d| d.iter().any(|d| d["code"] == "constraints-not-read"));
    let unread = diagnostics
        .iter()
        .find(|d| d["code"] == "constraints-not-read")
        .unwrap();
    assert_eq!(unread["range"]["start"]["line"], 1, "{unread}");

    // One an included file names: said on the `-r` line that leads to it.
    std::fs::write(project.path("base.txt"), "-c nowhere.txt\n").unwrap();
    server.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": doc, "version": 4}, "contentChanges": [{"text": "requests>=2\n-r base.txt\n"}]}),
    );
    let diagnostics = server.diagnostics(&doc, 4, |d| d.iter().any(|d| d["code"] == "constraints-not-read"));
    let unread = diagnostics
        .iter()
        .find(|d| d["code"] == "constraints-not-read")
        .unwrap();
    assert_eq!(unread["range"]["start"]["line"], 1, "{unread}");
    assert!(
        unread["message"]
            .as_str()
            .unwrap()
            .contains("constraints file nowhere.txt, named in base.txt, could not be read"),
        "{unread}"
    );
    assert_eq!(server.shutdown(), 0);
}

/// `pnpm-workspace.yaml` is checked in the editor like a manifest: an override to a vulnerable lodash
/// gets its diagnostic on the override's value, and the quick fix rewrites that value in the YAML.
#[test]
fn a_pnpm_workspace_override_is_flagged_and_fixed_in_the_editor() {
    let text = "packages:\n  - packages/*\noverrides:\n  lodash: 4.17.15 # pinned\n";
    let project = Project::new(&[
        ("package.json", "{\"dependencies\": {}}\n"),
        ("pnpm-workspace.yaml", text),
    ]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let mut server = Server::start(project.dir.path());
    server.initialize(project.dir.path(), Value::Null);
    let doc = uri(&project.path("pnpm-workspace.yaml"));
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "yaml", "version": 1, "text": text}}),
    );
    let diagnostics = server.diagnostics(&doc, 1, |d| d.iter().any(|d| d["code"] == "GHSA-35jh-r3h4-6jhm"));
    let lodash = diagnostics.iter().find(|d| d["code"] == "GHSA-35jh-r3h4-6jhm").unwrap();
    assert_eq!(lodash["range"]["start"]["line"], 3, "{lodash}");
    let actions = server.code_actions(&doc, lodash);
    let action = preferred_action(&actions);
    let edits = action["edit"]["changes"][&doc].as_array().unwrap().clone();
    let fixed = apply_edits(text, &edits);
    assert_eq!(
        fixed,
        "packages:\n  - packages/*\noverrides:\n  lodash: 4.17.21 # pinned\n"
    );
    assert_eq!(server.shutdown(), 0);
}

/// What the files around a manifest leave unknown is shown once in the editor (a warning), not only
/// logged: here a pnpmfile whose hooks can change any dependency, with no lockfile.
#[test]
fn a_problem_around_the_manifest_is_shown_to_the_user_once() {
    let manifest = "{\"dependencies\": {\"lodash\": \"4.17.21\"}}\n";
    let project = Project::new(&[
        ("package.json", manifest),
        ("pnpm-workspace.yaml", "packages:\n  - packages/*\n"),
        (".pnpmfile.cjs", "module.exports = { hooks: {} }\n"),
    ]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let mut server = Server::start(project.dir.path());
    server.initialize(project.dir.path(), Value::Null);
    let doc = uri(&project.path("package.json"));
    server.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": manifest}}),
    );
    server.warning_shown(".pnpmfile.cjs");
    assert_eq!(server.shutdown(), 0);
}
