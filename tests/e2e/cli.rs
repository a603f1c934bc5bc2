//! `gatehouse check` as CI runs it: exit codes, JSON and SARIF.

use serde_json::Value;

use crate::harness::{Project, fixtures};

fn run(args: &[&str], cwd: &std::path::Path) -> (i32, String, String) {
    let output = crate::harness::command(cwd)
        .args(args)
        .current_dir(cwd)
        // These projects (and the bundled example) are the test's own: trusted, as the README does.
        .env("GATEHOUSE_TRUST_PROJECT_CONFIG", "1")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn bundled_example_reports_real_findings_as_json() {
    let example = fixtures().join("example");
    let temp = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(&["check", example.to_str().unwrap(), "--format", "json"], temp.path());
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["version"], 1);
    let findings = report["findings"].as_array().unwrap();
    let malicious = findings
        .iter()
        .find(|f| f["package"] == "flatmap-stream")
        .expect("flatmap-stream is reported");
    assert_eq!(malicious["check"], "malicious");
    assert_eq!(malicious["severity"], "error");
    assert_eq!(malicious["fix"], Value::Null);
    let lodash = findings
        .iter()
        .find(|f| f["package"] == "lodash" && f["id"] == "GHSA-35jh-r3h4-6jhm")
        .expect("lodash advisory");
    assert_eq!(lodash["ecosystem"], "npm");
    assert_eq!(lodash["requirement"], "^4.17.15");
    assert_eq!(lodash["fix"]["requirement"], "^4.17.21");
    assert_eq!(lodash["range"]["start"]["line"], 5);
    for finding in findings {
        for key in [
            "file",
            "range",
            "ecosystem",
            "package",
            "requirement",
            "version",
            "version_source",
            "check",
            "id",
            "aliases",
            "severity",
            "message",
            "fix",
        ] {
            assert!(finding.get(key).is_some(), "finding lacks {key}: {finding}");
        }
    }
    assert!(
        report["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["package"] == "minimist")
    );
}

#[test]
fn offline_without_registry_data_is_not_clean_and_fail_on_never_always_exits_zero() {
    // Offline, the bundled OSV records answer the advisory check, but nothing answers age,
    // availability or provenance: not clean, so never exit 0 (tests/e2e/truth.rs has the clean run).
    let project = Project::new(&[("package.json", "{\"dependencies\": {\"minimist\": \"1.2.8\"}}")]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (code, stdout, stderr) = run(&["check", "."], project.dir.path());
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.contains("0 errors"), "{stdout}");
    assert!(
        stdout.contains("could not be checked (age 1, availability 1, provenance 1)"),
        "{stdout}"
    );

    let example = fixtures().join("example");
    let (code, _, _) = run(
        &["check", example.to_str().unwrap(), "--fail-on", "never"],
        project.dir.path(),
    );
    assert_eq!(code, 0);
}

#[test]
fn usage_errors_exit_two() {
    let temp = tempfile::tempdir().unwrap();
    let (code, _, _) = run(&["check", "--format", "yaml"], temp.path());
    assert_eq!(code, 2);
    let (code, _, stderr) = run(&["check", "does-not-exist"], temp.path());
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn sarif_has_rules_locations_and_fingerprints() {
    let example = fixtures().join("example");
    let temp = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(&["check", example.to_str().unwrap(), "--format", "sarif"], temp.path());
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "malicious"));
    for result in run["results"].as_array().unwrap() {
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert!(result["partialFingerprints"]["gatehouse/v1"].as_str().unwrap().len() == 64);
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
}

#[test]
fn transitive_findings_land_on_the_direct_dependency_with_their_path() {
    let lock = r#"{
  "name": "demo",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"name": "demo", "dependencies": {"event-stream": "^3.3.4"}},
    "node_modules/event-stream": {"version": "3.3.6", "dependencies": {"flatmap-stream": "^0.1.0", "through": "~2.3.1"}},
    "node_modules/flatmap-stream": {"version": "0.1.1"},
    "node_modules/through": {"version": "2.3.8"}
  }
}"#;
    let manifest = "{\n  \"name\": \"demo\",\n  \"dependencies\": {\n    \"event-stream\": \"^3.3.4\"\n  }\n}\n";
    let project = Project::new(&[("package.json", manifest), ("package-lock.json", lock)]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (code, stdout, stderr) = run(&["check", ".", "--format", "json"], project.dir.path());
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let direct = findings
        .iter()
        .find(|f| f["package"] == "event-stream")
        .expect("event-stream");
    assert_eq!(direct["version"], "3.3.6");
    assert_eq!(direct["version_source"], "lockfile");
    let transitive = findings
        .iter()
        .find(|f| f["package"] == "flatmap-stream" && f["id"] == "MAL-2025-20690")
        .expect("flatmap-stream through event-stream");
    assert_eq!(transitive["via"], serde_json::json!(["event-stream", "flatmap-stream"]));
    assert_eq!(transitive["range"], direct["range"], "shown on the direct dependency");
    assert!(
        transitive["message"]
            .as_str()
            .unwrap()
            .contains("event-stream → flatmap-stream"),
        "{transitive}"
    );
    assert_eq!(transitive["fix"], Value::Null);
}

/// A transitive finding fixed through its direct dependency, in every output format: request 2.81.0
/// pulls in qs 6.4.0 (GHSA-hrpp-h998-j3pp); the registry stand-in serves the recorded packument of
/// request (derived here: its deprecations removed, since as recorded every version is deprecated and
/// none would be safe), whose 2.82.0 declares `qs: ~6.5.1`. qs is served as a packument trimmed to
/// 6.4.0, 6.4.1 and 6.5.3 (real versions and dates; no 6.5.1/6.5.2, which GHSA-hrpp-h998-j3pp
/// affects and `~6.5.1` would admit, so the upgrade would not be proven: see
/// `upgrade_direct_needs_every_admitted_version_of_the_last_hop_safe`).
#[test]
fn an_upgrade_of_the_direct_dependency_shows_in_text_json_and_sarif() {
    let stand_in = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(stand_in.path().join("npm")).unwrap();
    let mut request: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("registry/npm/request")).unwrap()).unwrap();
    for version in request["versions"].as_object_mut().unwrap().values_mut() {
        version.as_object_mut().unwrap().remove("deprecated");
    }
    std::fs::write(stand_in.path().join("npm/request"), request.to_string()).unwrap();
    let qs = serde_json::json!({
        "name": "qs",
        "dist-tags": {"latest": "6.5.3"},
        "versions": {
            "6.4.0": {"name": "qs", "version": "6.4.0"},
            "6.4.1": {"name": "qs", "version": "6.4.1"},
            "6.5.3": {"name": "qs", "version": "6.5.3"}
        },
        "time": {
            "created": "2011-01-01T00:00:00.000Z",
            "6.4.0": "2017-02-17T00:00:00.000Z",
            "6.4.1": "2022-12-06T00:00:00.000Z",
            "6.5.3": "2022-12-06T00:00:00.000Z"
        }
    });
    std::fs::write(stand_in.path().join("npm/qs"), qs.to_string()).unwrap();
    let registry = gatehouse::testing::FixtureServer::start(stand_in.path()).unwrap();
    let project = Project::new(&[
        ("package.json", "{\"dependencies\": {\"request\": \"~2.81.0\"}}\n"),
        (
            "package-lock.json",
            r#"{"lockfileVersion": 3, "packages": {"": {"dependencies": {"request": "~2.81.0"}}, "node_modules/request": {"version": "2.81.0", "dependencies": {"qs": "~6.4.0"}}, "node_modules/qs": {"version": "6.4.0"}}}"#,
        ),
    ]);
    let npm = format!("{}/npm", registry.url());
    let osv = fixtures().join("osv/npm");
    let check = |format: &str| {
        let (code, stdout, stderr) = run(
            &[
                "check",
                ".",
                "--format",
                format,
                "--npm-registry",
                &npm,
                "--osv-db",
                osv.to_str().unwrap(),
                "--osv-url",
                "http://127.0.0.1:9",
            ],
            project.dir.path(),
        );
        assert_eq!(code, 1, "{stdout}{stderr}");
        stdout
    };
    let json: Value = serde_json::from_str(&check("json")).unwrap();
    let qs = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["package"] == "qs" && f["id"] == "GHSA-hrpp-h998-j3pp")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(qs["upgradeDirect"]["package"], "request", "{qs:#}");
    assert_eq!(qs["upgradeDirect"]["requirement"], "~2.82.0", "{qs:#}");
    assert_eq!(qs["upgradeDirect"]["command"], "npm install", "{qs:#}");
    assert!(qs.get("override").is_none(), "{qs:#}");
    let said = "fix: update request to `~2.82.0` (2.82.0), which no longer pulls in this qs";
    let sarif: Value = serde_json::from_str(&check("sarif")).unwrap();
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["message"]["text"].as_str().unwrap().contains(said)),
        "{sarif:#}"
    );
    let text = check("human");
    assert!(text.contains(said), "{text}");
}

/// The shared cache store cannot be opened (here its folder is a regular file): the run still checks,
/// in memory, but the takedown memory of earlier runs (versions seen before and gone since) is not
/// consulted, which the report says instead of a silent success.
#[test]
fn a_cache_store_that_cannot_be_opened_is_said() {
    let project = Project::new(&[("package.json", r#"{"dependencies": {"lodash": "4.17.21"}}"#)]);
    std::fs::write(project.path("cache"), "not a folder").unwrap();
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (_, stdout, stderr) = run(&["check", "."], project.dir.path());
    let note = stdout
        .lines()
        .find(|line| line.contains("cache store"))
        .unwrap_or_else(|| panic!("no note about the cache store:\n{stdout}\n{stderr}"));
    assert!(note.starts_with("note: lookup: "), "{note}");
    assert!(note.contains("in memory only") && note.contains("takedown"), "{note}");
    let (_, json, _) = run(&["check", ".", "--format", "json"], project.dir.path());
    assert!(json.contains("cache store"), "{json}");
}

/// `gatehouse check .` names every manifest by a relative path; a pnpm workspace member's own
/// importer must still decide its versions (vuejs/core's `packages/compiler-sfc` was read with the
/// root importer's, so most of its dependencies had no locked version).
#[test]
fn a_workspace_member_named_by_a_relative_path_reads_its_own_importer() {
    let manifests = fixtures().join("manifests/pnpm/v9-workspace2");
    let read = |name: &str| std::fs::read_to_string(manifests.join(name)).unwrap();
    let (lock, workspace, foo) = (
        read("pnpm-lock.yaml"),
        read("pnpm-workspace.yaml"),
        read("foo/package.json"),
    );
    let project = Project::new(&[
        ("pnpm-lock.yaml", &lock),
        ("pnpm-workspace.yaml", &workspace),
        ("foo/package.json", &foo),
    ]);
    std::fs::create_dir(project.path(".git")).unwrap();
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    for target in [".", "foo/package.json", "./foo/package.json"] {
        let (_, stdout, stderr) = run(&["check", target, "--format", "json"], project.dir.path());
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
        let webpack = report["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["package"] == "webpack" && p.get("via").is_none())
            .unwrap_or_else(|| panic!("{target}: {stdout}"));
        assert_eq!(webpack["version"], "2.7.0", "{target}: {webpack}");
        assert_eq!(webpack["version_source"], "lockfile", "{target}: {webpack}");
    }
}

/// python/mypy's requirements files are `mypy-requirements.txt`, `build-requirements.txt` and the
/// pip-compiled `test-requirements.txt`; a walk of the folder read none of them and said nothing
/// ("no manifests found" alone, or a clean run beside any other manifest).
#[test]
fn a_walk_reads_requirements_files_named_the_way_projects_name_them() {
    let real = fixtures().join("manifests/pypi/mypy-requirement-names");
    let read = |name: &str| std::fs::read_to_string(real.join(name)).unwrap();
    let (mypy, build, test) = (
        read("mypy-requirements.txt"),
        read("build-requirements.txt"),
        read("test-requirements.txt"),
    );
    let project = Project::new(&[
        ("mypy-requirements.txt", &mypy),
        ("build-requirements.txt", &build),
        ("test-requirements.txt", &test),
        ("requirements/base.txt", "attrs==26.1.0\n"),
    ]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (_, stdout, stderr) = run(&["check", ".", "--format", "json"], project.dir.path());
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let packages = report["packages"].as_array().unwrap();
    for (file, package, version) in [
        ("test-requirements.txt", "pytest-xdist", Some("3.8.0")),
        ("mypy-requirements.txt", "pathspec", None),
        ("build-requirements.txt", "types-psutil", None),
        ("requirements/base.txt", "attrs", Some("26.1.0")),
    ] {
        let found = packages
            .iter()
            .find(|p| p["file"].as_str().is_some_and(|f| f.ends_with(file)) && p["package"] == package)
            .unwrap_or_else(|| panic!("{file}: {package} not read: {stdout}"));
        if let Some(version) = version {
            assert_eq!(found["version"], version, "{found}");
        }
    }
}

/// pypa/pip's `build-project/` pins its build tools in a PEP 751 `pylock.toml` (`pip lock`): a walk
/// checked the pyproject as if nothing were locked and said nothing of the lockfile. It decides the
/// versions of the pyproject beside it, every entry is checked (PEP 751 installs every entry), and a
/// lockfile Gatehouse does not read (a named `pylock.<name>.toml`) is said to be unread (exit 2).
#[test]
fn a_pep_751_lockfile_decides_and_an_unread_one_is_reported() {
    let real = fixtures().join("manifests/pypi/pip-build-project-pylock");
    let read = |name: &str| std::fs::read_to_string(real.join(name)).unwrap();
    let (pyproject, pylock) = (read("pyproject.toml"), read("pylock.toml"));
    let project = Project::new(&[("pyproject.toml", &pyproject), ("pylock.toml", &pylock)]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (_, stdout, stderr) = run(&["check", ".", "--format", "json"], project.dir.path());
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    assert_eq!(report["summary"]["unread_files"], 0, "{stdout}");
    let packages = report["packages"].as_array().unwrap();
    let find = |name: &str| {
        packages
            .iter()
            .find(|p| p["package"] == name)
            .unwrap_or_else(|| panic!("{name} not checked: {stdout}"))
    };
    for (name, version) in [("build", "1.5.0"), ("flit-core", "4.0.2"), ("packaging", "26.3")] {
        assert_eq!(find(name)["version"], version, "{}", find(name));
        assert_eq!(find(name)["version_source"], "lockfile", "{}", find(name));
    }

    std::fs::write(project.path("pylock.dev.toml"), &pylock).unwrap();
    let (code, stdout, stderr) = run(&["check", ".", "--format", "json"], project.dir.path());
    assert_eq!(code, 2, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    assert_eq!(report["summary"]["unread_files"], 1, "{stdout}");
    assert!(
        report["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"].as_str().is_some_and(|s| s.ends_with("pylock.dev.toml"))),
        "{stdout}"
    );
}

/// In a tree without `.git` (an unpacked archive, a CI artifact) the README bounds the walk up at the
/// current folder when the checked file is inside it; it was bounded at the file's own folder, so a
/// workspace member named on the command line never found the root's lockfile.
#[test]
fn a_member_named_inside_the_current_folder_finds_the_root_lockfile_without_git() {
    let manifests = fixtures().join("manifests/pnpm/v9-workspace2");
    let read = |name: &str| std::fs::read_to_string(manifests.join(name)).unwrap();
    let (lock, workspace, foo) = (
        read("pnpm-lock.yaml"),
        read("pnpm-workspace.yaml"),
        read("foo/package.json"),
    );
    let project = Project::new(&[
        ("pnpm-lock.yaml", &lock),
        ("pnpm-workspace.yaml", &workspace),
        ("foo/package.json", &foo),
    ]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    // --offline: with the old bound the project's gatehouse.toml (offline) was not found either.
    let (_, stdout, stderr) = run(
        &["check", "foo/package.json", "--format", "json", "--offline"],
        project.dir.path(),
    );
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let webpack = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["package"] == "webpack" && p.get("via").is_none())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(webpack["version"], "2.7.0", "{webpack}");
    assert_eq!(webpack["version_source"], "lockfile", "{webpack}");
}

fn packages_of<'a>(report: &'a Value, file: &str, package: &str) -> Vec<&'a Value> {
    report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["file"].as_str().is_some_and(|f| f.ends_with(file)) && p["package"] == package)
        .collect()
}

fn finding_of<'a>(report: &'a Value, file: &str, package: &str, id: &str) -> Option<&'a Value> {
    report["findings"].as_array().unwrap().iter().find(|f| {
        f["file"].as_str().is_some_and(|name| name.ends_with(file)) && f["package"] == package && f["id"] == id
    })
}

/// pip applies `-c constraints.txt` to everything it installs: `requests>=2` with `requests==2.19.0`
/// in the constraints file installs 2.19.0 (PYSEC-2018-28). Gatehouse checked that the file existed and
/// resolved the bare range, so a clone could hide the finding in its constraints file. The version
/// checked is the constrained one, said in text, JSON and SARIF, and the pin is a finding on its own
/// line in the constraints file too (pip installs it whenever anything pulls requests in).
#[test]
fn a_constraints_file_decides_the_version_checked() {
    let project = Project::new(&[
        ("requirements.txt", "requests>=2\n-c constraints.txt\n"),
        ("constraints.txt", "# pins\nrequests==2.19.0\n"),
    ]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    // Offline without registry data: findings, and the registry checks not done (never 0).
    let (code, stdout, stderr) = run(&["check", ".", "--format", "json"], project.dir.path());
    assert_ne!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let listed = finding_of(&report, "requirements.txt", "requests", "PYSEC-2018-28")
        .unwrap_or_else(|| panic!("no finding on the requirement: {stdout}"));
    assert_eq!(listed["version"], "2.19.0", "{listed}");
    assert_eq!(listed["version_source"], "constrained", "{listed}");
    assert_eq!(
        listed["constrained_by"], "constrained by constraints.txt:2 (==2.19.0)",
        "{listed}"
    );
    assert!(
        listed["message"]
            .as_str()
            .unwrap()
            .contains("constrained by constraints.txt:2"),
        "{listed}"
    );
    let pinned = finding_of(&report, "constraints.txt", "requests", "PYSEC-2018-28")
        .filter(|f| !f["file"].as_str().unwrap().ends_with("requirements.txt"))
        .unwrap_or_else(|| panic!("no finding on the constraint's line: {stdout}"));
    assert_eq!(pinned["range"]["start"]["line"], 1, "{pinned}");
    assert!(pinned["message"].as_str().unwrap().contains("a constraint"), "{pinned}");

    let (code, text, stderr) = run(&["check", "."], project.dir.path());
    assert_ne!(code, 0, "{text}{stderr}");
    assert!(text.contains("(constrained by constraints.txt:2 (==2.19.0))"), "{text}");
    // One pinned version is one problem in the summary, though shown on both lines.
    let shown = text
        .lines()
        .filter(|line| line.starts_with("warning[") || line.starts_with("error["))
        .count();
    let summary = text.lines().find(|line| line.starts_with("gatehouse: ")).unwrap();
    let counted: usize = summary
        .split([':', ','])
        .filter_map(|part| {
            let (n, what) = part.trim().split_once(' ')?;
            (what.starts_with("error") || what.starts_with("warning")).then(|| n.parse::<usize>().ok())?
        })
        .sum();
    assert!(
        shown > 0 && counted * 2 == shown,
        "{shown} shown, {counted} counted: {text}"
    );
    let (_, sarif, _) = run(&["check", ".", "--format", "sarif"], project.dir.path());
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["properties"]["constrainedBy"] == "constrained by constraints.txt:2 (==2.19.0)"),
        "{sarif}"
    );
}

/// Constraints named in an included file apply to the whole invocation; one that admits no version
/// with the requirement is a problem (pip refuses), never clean; one with a URL sends the package
/// there (not checked against the registry).
#[test]
fn included_conflicting_and_url_constraints_are_never_clean() {
    let project = Project::new(&[
        ("requirements.txt", "-r base.txt\nrequests>=2.20\n"),
        ("base.txt", "--constraint pins/constraints.txt\nFlask\n"),
        (
            "pins/constraints.txt",
            "requests==2.19.0\nflask @ https://evil.example/flask-0.1.tar.gz\n",
        ),
    ]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (code, stdout, stderr) = run(&["check", "requirements.txt", "--format", "json"], project.dir.path());
    assert_ne!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let requests = packages_of(&report, "requirements.txt", "requests");
    let requests = requests.first().unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(requests["status"], "unavailable", "{requests}");
    assert!(
        requests["check_reasons"]["advisory"]
            .as_str()
            .unwrap()
            .contains("pip cannot install it"),
        "{requests}"
    );
    assert_eq!(requests["version"], Value::Null, "{requests}");
    let flask = packages_of(&report, "base.txt", "flask");
    let flask = flask.first().unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(flask["status"], "unavailable", "{flask}");
    assert!(
        flask["check_reasons"]["advisory"]
            .as_str()
            .unwrap()
            .contains("installed from https://evil.example/flask-0.1.tar.gz"),
        "{flask}"
    );

    // Apache Airflow's documented install names its constraints by URL: pip fetches it, Gatehouse
    // does not, and says that the constraints were not applied (never a clean run).
    let airflow = Project::new(&[(
        "requirements.txt",
        "apache-airflow==2.7.0
-c https://raw.githubusercontent.com/apache/airflow/constraints-2.7.0/constraints-3.8.txt
",
    )]);
    std::fs::write(airflow.path("gatehouse.toml"), airflow.offline_config()).unwrap();
    let (code, stdout, stderr) = run(&["check", ".", "--format", "json"], airflow.dir.path());
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stdout.contains("is a URL, which Gatehouse does not fetch: its constraints are not applied"),
        "{stdout}"
    );
}

/// openvinotoolkit/openvino's Python bindings: `requirements_test.txt` opens with `-c ./constraints.txt`
/// and lists bare names whose versions the constraints decide.
#[test]
fn openvino_test_requirements_are_checked_with_their_constraints() {
    let real = fixtures().join("manifests/pip-constraints/openvino");
    let read = |name: &str| std::fs::read_to_string(real.join(name)).unwrap();
    let project = Project::new(&[
        ("requirements_test.txt", &read("requirements_test.txt")),
        ("constraints.txt", &read("constraints.txt")),
    ]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (_, stdout, stderr) = run(&["check", ".", "--format", "json"], project.dir.path());
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let first = |file: &str, package: &str| {
        *packages_of(&report, file, package)
            .first()
            .unwrap_or_else(|| panic!("{file}: {package}: {stdout}"))
    };
    let html = first("requirements_test.txt", "pytest-html");
    assert_eq!(html["version"], "4.1.1", "{html}");
    assert_eq!(html["version_source"], "constrained", "{html}");
    let numpy = first("requirements_test.txt", "numpy");
    assert_eq!(numpy["requirement"], ">=1.16.6,<2.3.0", "{numpy}");
    assert_eq!(
        numpy["constrained_by"], "constrained by constraints.txt:2 (>=1.16.6,<2.3.0)",
        "{numpy}"
    );
    let wheel = first("requirements_test.txt", "wheel");
    assert_eq!(
        wheel["constrained_by"], "constrained by constraints.txt:15 (>=0.38.1)",
        "{wheel}"
    );
    // The constraints file's own pins are what pip installs whenever anything pulls them in.
    let onnx = first("constraints.txt", "onnx");
    assert_eq!(onnx["version"], "1.18.0", "{onnx}");
    assert!(
        onnx["constrained_by"].as_str().unwrap().starts_with("a constraint"),
        "{onnx}"
    );
    let ranged = first("constraints.txt", "tensorflow");
    assert_eq!(ranged["status"], "skipped", "{ranged}");
}

/// A constraints file passed on pip's command line (`pip install -r requirements.txt -c
/// constraints.txt`, the form READMEs give) is named by no `-c` line: a walk reads it by its name and
/// checks its pins on their lines, and its ranges too (nothing else is checked with them, yet pip
/// installs what they admit); it is not applied to a requirements file nothing links it to.
#[test]
fn a_walk_checks_the_pins_of_a_constraints_file_nothing_names() {
    let project = Project::new(&[
        ("requirements.txt", "requests>=2\n"),
        ("constraints.txt", "requests==2.19.0\nurllib3<2\n"),
    ]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (code, stdout, stderr) = run(&["check", ".", "--format", "json"], project.dir.path());
    assert_ne!(code, 0, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    assert!(
        finding_of(&report, "/constraints.txt", "requests", "PYSEC-2018-28").is_some(),
        "{stdout}"
    );
    let urllib3 = packages_of(&report, "/constraints.txt", "urllib3");
    let urllib3 = urllib3.first().unwrap_or_else(|| panic!("{stdout}"));
    assert_ne!(urllib3["status"], "skipped", "{urllib3}");
    assert!(
        urllib3["constrained_by"]
            .as_str()
            .is_some_and(|note| note.contains("names with -c")),
        "{urllib3}"
    );
    let listed = packages_of(&report, "/requirements.txt", "requests");
    assert_eq!(listed.first().map(|p| p.get("constrained_by")), Some(None), "{stdout}");
}

/// `-c requirements.txt` in `requirements-dev.txt` keeps the two in step: the dev file's `requests` is
/// held to `requirements.txt`'s line, and `requirements.txt` (which pip also installs on its own) stays a
/// requirements file: its ranges are checked, not set aside as constraints.
#[test]
fn a_requirements_file_used_as_constraints_is_still_checked_as_requirements() {
    let project = Project::new(&[
        ("requirements.txt", "requests==2.19.0\nflask>=2\n"),
        ("requirements-dev.txt", "-c requirements.txt\nrequests\n"),
    ]);
    std::fs::write(project.path("gatehouse.toml"), project.offline_config()).unwrap();
    let (_, stdout, stderr) = run(&["check", ".", "--format", "json"], project.dir.path());
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let flask = packages_of(&report, "/requirements.txt", "flask");
    let flask = flask.first().unwrap_or_else(|| panic!("{stdout}"));
    assert_ne!(flask["status"], "skipped", "{flask}");
    assert_eq!(flask.get("constrained_by"), None, "{flask}");
    let dev = packages_of(&report, "requirements-dev.txt", "requests");
    let dev = dev.first().unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(dev["version"], "2.19.0", "{dev}");
    assert_eq!(
        dev["constrained_by"], "constrained by requirements.txt:1 (==2.19.0)",
        "{dev}"
    );
}

/// The May 2022 `ctx` takeover (PYSEC-2022-199, fixtures/osv/incidents): a clone that lists a bare `ctx`
/// and pins the malicious 0.2.2 in its constraints file gets an error on both lines, exit 1.
#[test]
fn a_malicious_release_pinned_through_a_constraint_is_an_error() {
    let project = Project::new(&[
        ("requirements.txt", "ctx\n-c constraints.txt\n"),
        ("constraints.txt", "ctx==0.2.2\n"),
    ]);
    let config = format!(
        "offline = true\ncache-dir = \"{}\"\nosv-db = [\"{}\"]\n",
        project.path("cache").display(),
        fixtures().join("osv/incidents/PyPI").display()
    );
    std::fs::write(project.path("gatehouse.toml"), config).unwrap();
    let (code, stdout, stderr) = run(&["check", ".", "--format", "json"], project.dir.path());
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    for file in ["/requirements.txt", "/constraints.txt"] {
        let finding = finding_of(&report, file, "ctx", "PYSEC-2022-199").unwrap_or_else(|| panic!("{file}: {stdout}"));
        assert_eq!(finding["severity"], "error", "{finding}");
        assert_eq!(finding["version"], "0.2.2", "{finding}");
    }
}

/// pnpm reads registries from `pnpm-workspace.yaml` (pnpm 11 moved them there): a pnpm project whose
/// file sends `@corp` to another registry installs `@corp/widget` from there, so checking it against
/// the public registry and saying "checked" would be false. Untrusted, the package is not checked
/// (exit 2) and the reason names the file and the registry; the same file in a project another client
/// installs changes nothing.
#[test]
fn a_scope_pnpm_workspace_yaml_sends_elsewhere_is_not_checked_against_the_public_registry() {
    let stand_in = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(stand_in.path().join("npm/@corp")).unwrap();
    let widget = serde_json::json!({
        "name": "@corp/widget",
        "dist-tags": {"latest": "1.0.0"},
        "versions": {"1.0.0": {"name": "@corp/widget", "version": "1.0.0"}},
        "time": {"created": "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-01T00:00:00.000Z"}
    });
    std::fs::write(stand_in.path().join("npm/@corp/widget"), widget.to_string()).unwrap();
    let registry = gatehouse::testing::FixtureServer::start(stand_in.path()).unwrap();
    let npm = format!("{}/npm", registry.url());
    let osv = fixtures().join("osv/npm");
    let check = |project: &Project| {
        let output = crate::harness::command(project.dir.path())
            .args([
                "check",
                ".",
                "--format",
                "json",
                "--npm-registry",
                &npm,
                "--osv-db",
                osv.to_str().unwrap(),
                "--osv-url",
                "http://127.0.0.1:9",
            ])
            .current_dir(project.dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
        let widget = report["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["package"] == "@corp/widget")
            .cloned()
            .unwrap_or_else(|| panic!("{report:#}"));
        (output.status.code().unwrap_or(-1), widget, report, stderr)
    };
    let manifest = |manager: &str| {
        format!(
            "{{\n  \"packageManager\": \"{manager}\",\n  \"dependencies\": {{\n    \"@corp/widget\": \"1.0.0\"\n  }}\n}}\n"
        )
    };
    let scope_map = "packages:\n  - '.'\nregistries:\n  '@corp': https://npm.corp.invalid/\n";

    // pnpm (named by `packageManager`), pnpm 11's scope map.
    let project = Project::new(&[
        ("package.json", &manifest("pnpm@11.0.0")),
        ("pnpm-workspace.yaml", scope_map),
    ]);
    let (code, widget, report, stderr) = check(&project);
    assert_eq!(code, 2, "{report:#}{stderr}");
    assert_eq!(widget["status"], "unavailable", "{widget:#}");
    let reason = widget["check_reasons"]["age"].as_str().unwrap_or_default();
    assert!(
        reason.contains("pnpm-workspace.yaml") && reason.contains("https://npm.corp.invalid"),
        "{widget:#}"
    );

    // pnpm (a pnpm-workspace.yaml and no other `packageManager`), pnpm 11.23's declaration by URL.
    let project = Project::new(&[
        ("package.json", "{\"dependencies\": {\"@corp/widget\": \"1.0.0\"}}\n"),
        (
            "pnpm-workspace.yaml",
            "registries:\n  https://npm.corp.invalid/:\n    scopes: ['@corp']\n",
        ),
    ]);
    let (code, widget, report, stderr) = check(&project);
    assert_eq!(code, 2, "{report:#}{stderr}");
    assert!(
        widget["check_reasons"]["age"]
            .as_str()
            .unwrap_or_default()
            .contains("pnpm-workspace.yaml"),
        "{widget:#}"
    );

    // npm installs this one: pnpm's file does not apply, and the public registry is the right one.
    let project = Project::new(&[
        ("package.json", &manifest("npm@10.9.0")),
        ("pnpm-workspace.yaml", scope_map),
    ]);
    let (_, widget, _, stderr) = check(&project);
    assert_eq!(widget["status"], "checked", "{widget:#}{stderr}");
    assert_eq!(widget["checks"]["age"], "checked", "{widget:#}");
    assert!(widget["check_reasons"]["age"].is_null(), "{widget:#}");
}
