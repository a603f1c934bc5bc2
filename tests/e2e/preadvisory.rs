//! The pre-advisory replays end to end: `gatehouse check` against a loopback registry stand-in that
//! serves each replay document of `fixtures/preadvisory/` with its timestamps shifted so the replay's
//! instant is now (`gatehouse::testing::replay`), the version pinned. Every incident whose documented
//! signals are in the metadata is an error with a fix to an earlier version; no control is an error.

use std::process::Command;

use serde_json::Value;

use gatehouse::model::Ecosystem;
use gatehouse::testing::FixtureServer;
use gatehouse::testing::replay::{self, ReplayCase};

use crate::harness::{Project, binary};

fn manifest(case: &ReplayCase) -> (&'static str, String) {
    match case.ecosystem {
        Ecosystem::Npm => (
            "package.json",
            format!(
                "{{\n  \"dependencies\": {{\n    \"{}\": \"{}\"\n  }}\n}}\n",
                case.name, case.version
            ),
        ),
        Ecosystem::CratesIo => (
            "Cargo.toml",
            format!(
                "[package]\nname = \"replay\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n{} = \"={}\"\n",
                case.name, case.version
            ),
        ),
        Ecosystem::PyPI => ("requirements.txt", format!("{}=={}\n", case.name, case.version)),
    }
}

fn check(case: &ReplayCase) -> Vec<Value> {
    let root = tempfile::tempdir().unwrap();
    replay::write_stand_in(case, jiff::Timestamp::now(), root.path());
    let server = FixtureServer::start(root.path()).unwrap();
    server.set_body("/osv/v1/querybatch", r#"{"results":[{"vulns":[]}]}"#);
    let base = server.url();
    let (file, text) = manifest(case);
    let project = Project::new(&[(file, text.as_str())]);
    std::fs::write(
        project.path("gatehouse.toml"),
        format!(
            "cache-dir = \"{}\"\n[endpoints]\nnpm = \"{base}/npm\"\ncrates = \"{base}/crates\"\npypi = \"{base}/pypi\"\nosv = \"{base}/osv\"\n",
            project.path("cache").display()
        ),
    )
    .unwrap();
    let output = Command::new(binary())
        .args(["check", ".", "--format", "json"])
        .current_dir(project.dir.path())
        .env("XDG_CACHE_HOME", project.path("xdg-cache"))
        // npm's global config (`<prefix of the node on PATH>/etc/npmrc`) is the developer's: not read.
        .env("NPM_CONFIG_GLOBALCONFIG", project.path("no-global-npmrc"))
        // The project's gatehouse.toml points the endpoints at the stand-in: trusted, as a user would.
        .env("GATEHOUSE_TRUST_PROJECT_CONFIG", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|err| panic!("{err}: {stdout}{}", String::from_utf8_lossy(&output.stderr)));
    report["findings"].as_array().cloned().unwrap_or_default()
}

#[test]
fn incidents_are_errors_with_evidence_and_controls_are_not() {
    for case in replay::cases(&replay::replay_root()) {
        let findings = check(&case);
        let label = format!("{} {}@{}", case.kind, case.name, case.version);
        for finding in &findings {
            println!(
                "{label}: {} {} {} fix={}",
                finding["severity"], finding["check"], finding["message"], finding["fix"]
            );
        }
        let errors: Vec<&Value> = findings.iter().filter(|f| f["severity"] == "error").collect();
        if case.is_benign() {
            assert!(
                errors.is_empty(),
                "{label}: a control must not be an error: {errors:#?}"
            );
            continue;
        }
        let suspicious = findings
            .iter()
            .find(|f| f["check"] == "suspicious-version")
            .unwrap_or_else(|| panic!("{label}: no suspicious-version finding: {findings:#?}"));
        assert_eq!(suspicious["severity"], "error", "{label}: {suspicious:#}");
        let message = suspicious["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{} was published", case.version)),
            "{label}: {message}"
        );
        // The quick fix pins an earlier version of the line, never the suspicious one.
        let fixed = suspicious["fix"]["version"].as_str().unwrap_or_default();
        assert!(
            !fixed.is_empty() && fixed != case.version,
            "{label}: the fix pins an earlier version: {suspicious:#}"
        );
        // Every signal is also its own finding, at most information.
        assert!(
            findings.iter().any(|f| f["check"] != "suspicious-version"
                && f["check"] != "fresh-version"
                && f["severity"] != "error"),
            "{label}: the signals are listed: {findings:#?}"
        );
    }
}
