//! The local copy of OSV's export, end to end: a package behind a registry mirror is checked against
//! it without its name reaching any host but the mirror, offline runs use the copy, `gatehouse db
//! update` says what it did, and a project cannot choose where the export comes from.

use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

use gatehouse::testing::FixtureServer;

use crate::harness::{Project, command, fixtures};

const MINIMIST_RECORD: &str = "osv/npm/GHSA-xvch-5gv4-984h.json";

/// An `all.zip` as OSV publishes it (one JSON record per entry), built from real records.
fn all_zip(records: &[&str]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for record in records {
        let bytes = std::fs::read(fixtures().join(record)).unwrap();
        let name = Path::new(record).file_name().unwrap().to_str().unwrap();
        writer.start_file(name, options).unwrap();
        writer.write_all(&bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A mirror serving minimist, the public registry and OSV API (never to be asked), and the export.
fn stand_ins() -> (tempfile::TempDir, FixtureServer) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("mirror")).unwrap();
    std::fs::copy(
        fixtures().join("registry/npm/minimist"),
        root.path().join("mirror/minimist"),
    )
    .unwrap();
    let server = FixtureServer::start(root.path()).unwrap();
    server.set_body(
        "/export/npm/all.zip",
        all_zip(&[MINIMIST_RECORD, "osv/npm/GHSA-35jh-r3h4-6jhm.json"]),
    );
    (root, server)
}

fn run(args: &[&str], cwd: &Path, sandbox: &Path) -> (i32, Value, String) {
    let output = command(sandbox).args(args).current_dir(cwd).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.code().unwrap_or(-1), json, format!("{stdout}\n{stderr}"))
}

/// A project whose packages come through a mirror the user's own `~/.npmrc` names (in `sandbox`'s
/// home, as `harness::command` sets it): the user's choice (a mirror only the untrusted project names
/// is set aside, `mirror.rs`).
fn mirror_project(server: &FixtureServer, sandbox: &Path) -> Project {
    let project = Project::new(&[("package.json", "{\"dependencies\": {\"minimist\": \"1.2.5\"}}")]);
    let home = sandbox.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join(".npmrc"), format!("registry={}/mirror/\n", server.url())).unwrap();
    project
}

fn has_advisory(report: &Value) -> bool {
    report["findings"]
        .as_array()
        .is_some_and(|findings| findings.iter().any(|f| f["check"] == "advisory"))
}

#[test]
fn a_mirrored_package_is_checked_against_the_local_osv_export_without_sending_its_name() {
    let (_root, server) = stand_ins();
    let sandbox = tempfile::tempdir().unwrap();
    let project = mirror_project(&server, sandbox.path());
    let base = server.url();
    let cache = sandbox.path().join("cache").display().to_string();
    let export = format!("endpoints.osv-export={base}/export");
    let osv = format!("{base}/osv");
    let npm = format!("{base}/npm");
    let common = [
        "check",
        ".",
        "--format",
        "json",
        "--cache-dir",
        &cache,
        "--osv-url",
        &osv,
        "--npm-registry",
        &npm,
    ];
    let mut args = common.to_vec();
    args.extend(["--set", export.as_str()]);
    let (code, report, output) = run(&args, project.dir.path(), sandbox.path());
    assert_eq!(report["packages"][0]["checks"]["advisory"], "checked", "{output}");
    assert!(
        has_advisory(&report),
        "minimist 1.2.5 is affected by GHSA-xvch-5gv4-984h: {output}"
    );
    assert_eq!(code, 1, "{output}");
    let asked: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    let mut sorted = asked.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted,
        vec!["/export/npm/all.zip", "/mirror/minimist"],
        "only the mirror hears the name; the export is fetched whole: {asked:?}"
    );

    // Offline, with the server gone: the copy answers.
    drop(server);
    let mut args = common.to_vec();
    args.extend(["--set", export.as_str(), "--offline"]);
    let (code, report, output) = run(&args, project.dir.path(), sandbox.path());
    assert_eq!(report["packages"][0]["checks"]["advisory"], "checked", "{output}");
    assert!(has_advisory(&report), "{output}");
    assert_eq!(code, 1, "{output}");
}

#[test]
fn without_a_copy_the_mirrored_package_is_unavailable_with_the_reason() {
    // The export answers 404: no copy, no permission to ask OSV. Never "checked".
    let (_root, server) = stand_ins();
    let sandbox = tempfile::tempdir().unwrap();
    let project = mirror_project(&server, sandbox.path());
    let base = server.url();
    let cache = sandbox.path().join("cache").display().to_string();
    let export = format!("endpoints.osv-export={base}/nothing-here");
    let (code, report, output) = run(
        &[
            "check",
            ".",
            "--format",
            "json",
            "--cache-dir",
            &cache,
            "--set",
            &export,
        ],
        project.dir.path(),
        sandbox.path(),
    );
    let minimist = &report["packages"][0];
    assert_eq!(minimist["checks"]["advisory"], "unavailable", "{output}");
    let reason = minimist["check_reasons"]["advisory"].as_str().unwrap_or_default();
    assert!(
        reason.contains("no local copy of OSV's npm export")
            && reason.contains("not found")
            && reason.contains("mirror"),
        "{reason}"
    );
    assert_eq!(code, 2, "{output}");
}

#[test]
fn db_update_says_what_it_did_and_a_project_cannot_choose_the_export() {
    let (_root, server) = stand_ins();
    let attacker = FixtureServer::start(fixtures().join("registry")).unwrap();
    let sandbox = tempfile::tempdir().unwrap();
    let project = Project::new(&[(
        "gatehouse.toml",
        &format!("[endpoints]\nosv-export = \"{}/export\"\n", attacker.url()),
    )]);
    let cache = sandbox.path().join("cache").display().to_string();
    let export = format!("{}/export", server.url());
    let (code, _, output) = run(
        &[
            "db",
            "update",
            "--ecosystem",
            "npm",
            "--cache-dir",
            &cache,
            "--osv-export",
            &export,
        ],
        project.dir.path(),
        sandbox.path(),
    );
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("npm: downloaded all.zip (2 records")
            && output.contains("newest record modified 2024-06-21T21:33:52Z"),
        "{output}"
    );
    // The user's own configuration names an endpoint that answers nothing (a closed port); the
    // untrusted project's gatehouse.toml, which would win over it if honoured, names the attacker.
    let user_config = sandbox.path().join("home/.config/gatehouse");
    std::fs::create_dir_all(&user_config).unwrap();
    std::fs::write(
        user_config.join("config.toml"),
        "[endpoints]\nosv-export = \"http://127.0.0.1:9/export\"\n",
    )
    .unwrap();
    let output = command(sandbox.path())
        .env_remove("GATEHOUSE_OSV_EXPORT")
        .args(["db", "update", "--ecosystem", "npm", "--cache-dir", &cache])
        .current_dir(project.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(attacker.request_count(), 0, "{stdout}");
    assert!(stdout.contains("from http://127.0.0.1:9/export"), "{stdout}");

    // Offline never downloads, and says so.
    let (code, _, output) = run(
        &[
            "db",
            "update",
            "--ecosystem",
            "npm",
            "--cache-dir",
            &cache,
            "--offline",
            "--osv-export",
            &export,
        ],
        project.dir.path(),
        sandbox.path(),
    );
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("npm: not updated: offline"), "{output}");
}

#[test]
fn a_failed_export_download_beside_osv_db_is_never_a_clean_check() {
    // `osv-db` holds a few npm records (not minimist's); the export host is blocked (404). The
    // mirrored package is answered by `osv-db` only: said beside the answer, and the exit is not 0.
    let (_root, server) = stand_ins();
    let sandbox = tempfile::tempdir().unwrap();
    let project = mirror_project(&server, sandbox.path());
    let db = sandbox.path().join("osv-db");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::copy(
        fixtures().join("osv/npm/GHSA-35jh-r3h4-6jhm.json"),
        db.join("GHSA-35jh-r3h4-6jhm.json"),
    )
    .unwrap();
    let cache = sandbox.path().join("cache").display().to_string();
    let export = format!("endpoints.osv-export={}/blocked", server.url());
    let (code, report, output) = run(
        &[
            "check",
            ".",
            "--format",
            "json",
            "--cache-dir",
            &cache,
            "--osv-db",
            db.to_str().unwrap(),
            "--set",
            &export,
        ],
        project.dir.path(),
        sandbox.path(),
    );
    let minimist = &report["packages"][0];
    let reason = minimist["check_reasons"]["advisory"].as_str().unwrap_or_default();
    assert!(
        reason.contains("no local copy of OSV's npm export") && reason.contains("not found"),
        "{output}"
    );
    assert_ne!(code, 0, "{output}");
}
