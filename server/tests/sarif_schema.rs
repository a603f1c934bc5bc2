//! `gatehouse check --format sarif` against the official OASIS SARIF 2.1.0 JSON schema
//! (fixtures/sarif/sarif-schema-2.1.0.json, draft-04, formats checked), plus what GitHub code scanning
//! needs beyond the schema: rules for every result, `ruleIndex`, `partialFingerprints`, 1-based lines,
//! and fingerprints that do not change between runs. Hermetic: the projects check offline against the
//! OSV snapshot in fixtures/osv, the cache lives in a temp dir, and the validator has no resolvers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

const SCHEMA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/sarif/sarif-schema-2.1.0.json");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/example");
const OSV_NPM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/osv/npm");

fn fixture_path(path: &str) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs `gatehouse check <project> --format sarif` from a fresh temp working dir with its own cache;
/// returns the exit code and the parsed SARIF.
fn check_sarif(project: &Path) -> (i32, Value) {
    let cwd = tempfile::tempdir().unwrap();
    // A clean environment with its own HOME: nothing of the developer's machine is read.
    let home = cwd.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["check", project.to_str().unwrap(), "--format", "sarif"])
        .current_dir(cwd.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", cwd.path().join("xdg-cache"))
        // npm's global config (`<prefix of the node on PATH>/etc/npmrc`) is the developer's too.
        .env("NPM_CONFIG_GLOBALCONFIG", home.join("no-global-npmrc"))
        // The test's own projects (and the bundled example): trusted, as the README does.
        .env("GATEHOUSE_TRUST_PROJECT_CONFIG", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let sarif = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    (output.status.code().unwrap_or(-1), sarif)
}

/// The schema as published (draft-04), and the same schema read as draft-07: draft-04 has no
/// `uri-reference` format, so only the second checks that `artifactLocation.uri` is a URI reference, as
/// SARIF §3.10.2 requires. The schema uses no keyword whose meaning differs between the two drafts.
fn validators() -> [(&'static str, jsonschema::Validator); 2] {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
    [
        (
            "draft-04",
            jsonschema::draft4::options()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap(),
        ),
        (
            "draft-07",
            jsonschema::draft7::options()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap(),
        ),
    ]
}

/// Every schema violation, one per line, with where in the SARIF and which schema rule.
fn schema_errors(sarif: &Value) -> Vec<String> {
    let mut errors: Vec<String> = Vec::new();
    for (draft, validator) in validators() {
        for error in validator.iter_errors(sarif) {
            let line = format!(
                "at {:?}: {error} (schema {}, {draft})",
                error.instance_path().as_str(),
                error.schema_path().as_str()
            );
            errors.push(line);
        }
    }
    errors
}

fn assert_schema_valid(sarif: &Value) {
    let errors = schema_errors(sarif);
    assert!(
        errors.is_empty(),
        "SARIF violates sarif-schema-2.1.0.json ({} errors):\n{}\n\nSARIF:\n{}",
        errors.len(),
        errors.join("\n"),
        serde_json::to_string_pretty(sarif).unwrap()
    );
}

/// GitHub code scanning's expectations beyond the schema; returns one problem per line.
fn code_scanning_problems(sarif: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(runs) = sarif["runs"].as_array() else {
        return vec!["no runs array".to_string()];
    };
    for (r, run) in runs.iter().enumerate() {
        let rules = run["tool"]["driver"]["rules"].as_array().cloned().unwrap_or_default();
        let Some(results) = run["results"].as_array() else {
            problems.push(format!("/runs/{r}: no results array"));
            continue;
        };
        for (i, result) in results.iter().enumerate() {
            let at = format!("/runs/{r}/results/{i}");
            let rule_id = result["ruleId"].as_str();
            let Some(rule_id) = rule_id else {
                problems.push(format!("{at}: no ruleId"));
                continue;
            };
            match rules.iter().position(|rule| rule["id"] == rule_id) {
                None => problems.push(format!("{at}: ruleId {rule_id:?} is not in tool.driver.rules")),
                Some(index) => {
                    if result["ruleIndex"].as_u64() != Some(index as u64) {
                        problems.push(format!(
                            "{at}: ruleIndex {} but rule {rule_id:?} is at {index}",
                            result["ruleIndex"]
                        ));
                    }
                }
            }
            match result["partialFingerprints"].as_object() {
                Some(prints)
                    if !prints.is_empty() && prints.values().all(|v| v.as_str().is_some_and(|s| !s.is_empty())) => {}
                _ => problems.push(format!("{at}: no partialFingerprints")),
            }
            let start_line = &result["locations"][0]["physicalLocation"]["region"]["startLine"];
            if start_line.as_u64().is_none_or(|line| line < 1) {
                problems.push(format!(
                    "{at}: locations[0].physicalLocation.region.startLine is {start_line}"
                ));
            }
            if result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                problems.push(format!("{at}: no artifactLocation.uri"));
            }
        }
    }
    problems
}

fn assert_code_scanning_ready(sarif: &Value) {
    let problems = code_scanning_problems(sarif);
    assert!(
        problems.is_empty(),
        "SARIF is not what GitHub code scanning expects:\n{}",
        problems.join("\n")
    );
}

/// Every result as (uri, ruleId, package, advisory, fingerprint key, fingerprint), sorted; asserts
/// that no two results share a fingerprint (GitHub would merge them into one alert).
fn fingerprints(sarif: &Value) -> Vec<[String; 6]> {
    let mut all = Vec::new();
    for result in sarif["runs"][0]["results"].as_array().unwrap() {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let uri = text(&result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]);
        for (key, value) in result["partialFingerprints"].as_object().unwrap() {
            all.push([
                uri.clone(),
                text(&result["ruleId"]),
                text(&result["properties"]["package"]),
                text(&result["properties"]["advisory"]),
                key.clone(),
                text(value),
            ]);
        }
    }
    all.sort();
    let mut seen = BTreeSet::new();
    for entry in &all {
        assert!(seen.insert(&entry[4..]), "two results share a fingerprint: {entry:?}");
    }
    all
}

#[test]
fn example_project_sarif_is_valid_sarif_2_1_0() {
    let (code, sarif) = check_sarif(&fixture_path(EXAMPLE));
    assert_eq!(code, 1, "the example has findings, so check exits 1");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.len() >= 5,
        "expected the example's findings, got {}",
        results.len()
    );
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "malicious" && r["properties"]["package"] == "flatmap-stream"),
        "flatmap-stream is reported as malicious"
    );
    assert_schema_valid(&sarif);
    assert_code_scanning_ready(&sarif);
}

#[test]
fn clean_project_sarif_is_valid_sarif_2_1_0() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("package.json"),
        r#"{"dependencies":{"minimist":"1.2.8"}}"#,
    )
    .unwrap();
    let osv = fixture_path(OSV_NPM);
    std::fs::write(
        project.path().join("gatehouse.toml"),
        format!("offline = true\nosv-db = [{}]\n", toml_string(&osv)),
    )
    .unwrap();
    let (code, sarif) = check_sarif(project.path());
    // No findings; offline without registry data the age, availability and provenance checks could
    // not be done, so the run is not clean (exit 2), and the SARIF is still valid.
    assert_eq!(
        code, 2,
        "minimist 1.2.8 has no findings, but was not fully checked: {sarif}"
    );
    assert_eq!(sarif["runs"][0]["results"], json!([]));
    // A SARIF file is read without the exit code (uploaded, archived): it says itself that the run
    // was incomplete, and which checks of which package were not done, on the dependency's line.
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], json!(false), "{sarif}");
    let notifications = invocation["toolExecutionNotifications"].as_array().unwrap();
    let minimist = notifications
        .iter()
        .find(|n| n["message"]["text"].as_str().unwrap().contains("minimist"))
        .unwrap_or_else(|| panic!("no notification names minimist: {sarif}"));
    let text = minimist["message"]["text"].as_str().unwrap();
    assert!(text.contains("age") && text.contains("not checked"), "{text}");
    assert_eq!(minimist["level"], "error");
    let location = &minimist["locations"][0]["physicalLocation"];
    assert!(
        location["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("package.json")
    );
    assert_eq!(location["region"]["startLine"], 1);
    assert_schema_valid(&sarif);
    assert_code_scanning_ready(&sarif);
}

/// A manifest that cannot be read is a failed run in the SARIF itself, not an empty list of results.
#[test]
fn an_unreadable_manifest_is_a_notification_in_the_sarif() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("package.json"),
        b"{\"dependencies\": {\"a\": \"\xff\"}}",
    )
    .unwrap();
    std::fs::write(project.path().join("gatehouse.toml"), "offline = true\n").unwrap();
    let (code, sarif) = check_sarif(project.path());
    assert_eq!(code, 2, "{sarif}");
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], json!(false), "{sarif}");
    let notifications = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert!(
        notifications
            .iter()
            .any(|n| n["level"] == "error" && n["message"]["text"].as_str().unwrap().contains("package.json")),
        "{sarif}"
    );
    assert_schema_valid(&sarif);
    assert_code_scanning_ready(&sarif);
}

#[test]
fn fingerprints_are_identical_across_runs() {
    let example = fixture_path(EXAMPLE);
    let (_, first) = check_sarif(&example);
    let (_, second) = check_sarif(&example);
    let first = fingerprints(&first);
    assert!(!first.is_empty());
    assert_eq!(first, fingerprints(&second));
}

/// `artifactLocation.uri` is a URI reference: a project folder with a space (or `#`, `%`, non-ASCII)
/// must come out percent-encoded, or the schema's `uri-reference` format rejects it.
#[test]
fn paths_needing_escapes_are_valid_uris() {
    let root = tempfile::tempdir().unwrap();
    let project = root.path().join("my proj #1 ü");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(project.join("package.json"), r#"{"dependencies":{"lodash":"4.17.15"}}"#).unwrap();
    std::fs::write(
        project.join("gatehouse.toml"),
        format!("offline = true\nosv-db = [{}]\n", toml_string(&fixture_path(OSV_NPM))),
    )
    .unwrap();
    let (code, sarif) = check_sarif(&project);
    assert_eq!(code, 1, "lodash 4.17.15 has advisories: {sarif}");
    let uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert!(uri.ends_with("/my%20proj%20%231%20%C3%BC/package.json"), "{uri}");
    assert_schema_valid(&sarif);
    assert_code_scanning_ready(&sarif);
}

/// Turns valid SARIF into SARIF the schema must reject.
type Break = fn(&mut Value);

/// The validator is not vacuous: broken variants of real output are rejected at the right place.
#[test]
fn schema_rejects_broken_sarif() {
    let (_, sarif) = check_sarif(&fixture_path(EXAMPLE));
    let cases: [(&str, Break); 5] = [
        ("/version", |s| s["version"] = json!("2.0.0")),
        ("/runs/0/results/0/locations/0/physicalLocation/region/startLine", |s| {
            s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = json!(0)
        }),
        ("/runs/0/results/0/level", |s| {
            s["runs"][0]["results"][0]["level"] = json!("fatal")
        }),
        (
            "/runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri",
            |s| {
                s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] =
                    json!("my proj/package.json")
            },
        ),
        ("/runs/0/tool/driver/informationUri", |s| {
            s["runs"][0]["tool"]["driver"]["informationUri"] = json!("not a uri")
        }),
    ];
    for (path, break_it) in cases {
        let mut broken = sarif.clone();
        break_it(&mut broken);
        let errors = schema_errors(&broken);
        assert!(
            errors.iter().any(|e| e.starts_with(&format!("at {path:?}"))),
            "breaking {path} was not caught: {errors:?}"
        );
    }
    let mut no_rule = sarif.clone();
    no_rule["runs"][0]["tool"]["driver"]["rules"] = json!([]);
    assert!(!code_scanning_problems(&no_rule).is_empty());
}

fn toml_string(path: &Path) -> String {
    // A TOML basic string; serde_json's escaping is a subset TOML accepts.
    serde_json::to_string(path.to_str().unwrap()).unwrap()
}
