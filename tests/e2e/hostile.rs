//! Hostile repositories (issue 13): each test builds a repository an attacker controls in a temporary
//! folder and runs the real binary on it. Whatever the repository holds, Gatehouse must not crash,
//! hang, grow past 100 MB, read or delete outside the workspace and the cache, ask a host the user did
//! not configure, or lose a malicious finding.

use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{binary, fixtures};

/// Past this the run has hung: it is killed and the test fails.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The memory bound of issue 13, in KiB (peak resident set of the child).
const MEMORY_BOUND_KB: u64 = 100 * 1024;

pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The largest `VmHWM` seen in `/proc/<pid>/status` while the child ran (a lower bound of its peak).
    pub peak_kb: u64,
}

pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    // Once the child is reaped its pid may be reused at once by another test's child, which right after
    // `fork` carries the whole test process's memory (it read as 0.9–1.5 GiB "after 19 ms" under the
    // full suite): only a sample of a process that is `gatehouse` counts.
    let name = status.lines().find_map(|line| line.strip_prefix("Name:"))?.trim();
    if name != "gatehouse" {
        return None;
    }
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The user's side of a hostile run: its own HOME and XDG folders, nothing trusted.
pub struct User {
    pub home: tempfile::TempDir,
}

impl User {
    pub fn new() -> User {
        let home = tempfile::tempdir().unwrap();
        for dir in ["config", "cache", "data"] {
            std::fs::create_dir_all(home.path().join(dir)).unwrap();
        }
        User { home }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        let home = self.home.path();
        vec![
            ("HOME".into(), home.display().to_string()),
            ("XDG_CONFIG_HOME".into(), home.join("config").display().to_string()),
            ("XDG_CACHE_HOME".into(), home.join("cache").display().to_string()),
            ("XDG_DATA_HOME".into(), home.join("data").display().to_string()),
            ("GATEHOUSE_LOG".into(), "warn".into()),
            // npm's global config is the developer's (`<prefix of the node on PATH>/etc/npmrc`): never read.
            (
                "NPM_CONFIG_GLOBALCONFIG".into(),
                home.join("no-global-npmrc").display().to_string(),
            ),
            // Never OSV's real export bucket from a test.
            ("GATEHOUSE_OSV_EXPORT".into(), String::new()),
        ]
    }

    /// Runs the binary with this user's environment (and nothing else of the developer's), bounded in
    /// time; samples its peak memory while it runs.
    pub fn run(&self, args: &[&str], cwd: &Path, extra_env: &[(&str, &str)]) -> Outcome {
        let mut command = Command::new(binary());
        command
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in self.env() {
            command.env(key, value);
        }
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let pid = child.id();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (done_tx, done_rx) = channel::<()>();
        let started = Instant::now();
        let mut peak_kb = 0;
        // Samples memory until the child ends; the channel closes when the waiter below is done.
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            drop(done_tx);
            status
        });
        loop {
            if let Some(kb) = peak_rss_kb(pid) {
                peak_kb = peak_kb.max(kb);
            }
            match done_rx.recv_timeout(Duration::from_millis(2)) {
                Err(RecvTimeoutError::Timeout) => {
                    if started.elapsed() > TIMEOUT || peak_kb > 4 * MEMORY_BOUND_KB {
                        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                        let _ = waiter.join();
                        panic!(
                            "gatehouse {args:?} hung or ran away (peak {peak_kb} KiB after {:?}); killed",
                            started.elapsed()
                        );
                    }
                }
                _ => break,
            }
        }
        let status = waiter.join().unwrap().unwrap();
        // For the issue note: `cargo test --test e2e hostile -- --nocapture`.
        eprintln!("peak RSS {peak_kb} KiB: gatehouse {}", args.join(" "));
        Outcome {
            code: status.code().unwrap_or(-1),
            stdout: out_reader.join().unwrap(),
            stderr: err_reader.join().unwrap(),
            peak_kb,
        }
    }
}

/// A repository built by a test: a folder that stands for the cloned stranger's project, inside a
/// parent folder that stands for the user's disk around it.
pub struct Repo {
    pub parent: tempfile::TempDir,
    pub root: PathBuf,
}

impl Repo {
    pub fn new(files: &[(&str, &str)]) -> Repo {
        let parent = tempfile::tempdir().unwrap();
        let root = parent.path().join("repo");
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for (name, text) in files {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Repo { parent, root }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn fifo(&self, name: &str) {
        let status = Command::new("mkfifo").arg(self.path(name)).status().unwrap();
        assert!(status.success());
    }

    pub fn link(&self, target: &str, name: &str) {
        symlink(target, self.path(name)).unwrap();
    }

    /// A sparse file of `len` bytes (costs no disk).
    pub fn sparse(&self, name: &str, len: u64) {
        let file = std::fs::File::create(self.path(name)).unwrap();
        file.set_len(len).unwrap();
    }
}

/// The user's own flags for an offline check against the bundled OSV records: trusted, since the user
/// typed them.
pub fn offline_flags() -> Vec<String> {
    let osv = fixtures().join("osv");
    let mut res = vec!["--offline".to_string()];
    for ecosystem in ["npm", "PyPI", "crates.io", "incidents/npm", "incidents/PyPI"] {
        res.push("--osv-db".to_string());
        res.push(osv.join(ecosystem).display().to_string());
    }
    res
}

const MALICIOUS_PACKAGE_JSON: &str = "{\n  \"dependencies\": {\n    \"flatmap-stream\": \"0.1.1\"\n  }\n}\n";

pub fn check_json(user: &User, repo: &Repo, extra: &[&str]) -> (Outcome, Value) {
    let flags = offline_flags();
    let mut args: Vec<&str> = vec!["check", ".", "--format", "json"];
    args.extend(flags.iter().map(String::as_str));
    args.extend(extra);
    let outcome = user.run(&args, &repo.root, &[]);
    assert!(
        outcome.peak_kb < MEMORY_BOUND_KB,
        "peak {} KiB: {}",
        outcome.peak_kb,
        outcome.stderr
    );
    let report: Value = serde_json::from_str(&outcome.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON report (exit {}): {}{}",
            outcome.code, outcome.stdout, outcome.stderr
        )
    });
    (outcome, report)
}

/// The report's entry for package `name` (the first, when several files list it).
pub fn package<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["package"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report}"))
}

pub fn has_malicious(report: &Value, package: &str) -> bool {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["package"] == package && f["check"] == "malicious" && f["severity"] == "error")
}

/// The report's `errors` (notes on sources, files and settings), one `source: message` per line.
pub fn errors_text(report: &Value) -> String {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}\n",
                e["source"].as_str().unwrap_or(""),
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn package_names(report: &Value) -> Vec<String> {
    report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["package"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn lockfile_symlinked_to_dev_zero_is_skipped_not_read() {
    let user = User::new();
    let repo = Repo::new(&[("package.json", MALICIOUS_PACKAGE_JSON)]);
    repo.link("/dev/zero", "package-lock.json");
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(has_malicious(&report, "flatmap-stream"), "{report}");
    let errors = errors_text(&report);
    assert!(
        errors.contains("package-lock.json") && errors.contains("not a regular file"),
        "{errors}"
    );
}

#[test]
fn fifo_manifest_and_symlink_loops_do_not_hang_the_walk() {
    let user = User::new();
    let repo = Repo::new(&[("package.json", MALICIOUS_PACKAGE_JSON)]);
    repo.fifo("requirements.txt");
    repo.link(".", "a");
    repo.link(".", "b");
    std::fs::create_dir(repo.path("sub")).unwrap();
    repo.link("..", "sub/up");
    repo.link("loop2", "loop1");
    repo.link("loop1", "loop2");
    repo.fifo("sub/Cargo.toml");
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(has_malicious(&report, "flatmap-stream"), "{report}");
    let errors = errors_text(&report);
    assert!(errors.contains("requirements.txt is a FIFO"), "{errors}");
    assert!(errors.contains("Cargo.toml is a FIFO"), "{errors}");
    // The manifest is found once, not once per path through the loops.
    let files: Vec<&str> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["file"].as_str())
        .collect();
    assert!(files.iter().all(|f| f.ends_with("package.json")), "{files:?}");
}

#[test]
fn named_fifo_and_device_are_errors_not_reads() {
    let user = User::new();
    let repo = Repo::new(&[]);
    repo.fifo("requirements.txt");
    repo.link("/dev/zero", "dev-requirements.txt");
    let outcome = user.run(
        &["check", "requirements.txt", "dev-requirements.txt", "--offline"],
        &repo.root,
        &[],
    );
    assert!(outcome.peak_kb < MEMORY_BOUND_KB, "peak {} KiB", outcome.peak_kb);
    assert_eq!(outcome.code, 2, "{}{}", outcome.stdout, outcome.stderr);
    assert!(outcome.stdout.contains("is a FIFO"), "{}", outcome.stdout);
    assert!(outcome.stdout.contains("not a regular file"), "{}", outcome.stdout);
}

#[test]
fn oversized_manifest_and_lockfile_are_refused_with_a_clear_error() {
    let user = User::new();
    let repo = Repo::new(&[("package.json", MALICIOUS_PACKAGE_JSON)]);
    repo.sparse("requirements.txt", 512 * 1024 * 1024);
    repo.sparse("package-lock.json", 2 * 1024 * 1024 * 1024);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    assert!(has_malicious(&report, "flatmap-stream"), "{report}");
    let errors = errors_text(&report);
    assert!(errors.contains("requirements.txt is larger than"), "{errors}");
    assert!(errors.contains("package-lock.json is larger than"), "{errors}");
}

#[test]
fn includes_outside_the_workspace_are_errors_on_their_line_and_never_read() {
    let user = User::new();
    let repo = Repo::new(&[(
        "requirements.txt",
        "requests==2.19.0\n-r /etc/passwd\n-r ../outside.txt\n-c ../../constraints.txt\n-r inside.txt\n",
    )]);
    std::fs::write(repo.path("inside.txt"), "flask==2.0.0\n").unwrap();
    std::fs::write(repo.parent.path().join("outside.txt"), "secret-outside-name==1.0\n").unwrap();
    repo.link("../outside.txt", "sneaky.txt");
    std::fs::write(repo.path("requirements-also.txt"), "-r sneaky.txt\n").unwrap();
    let (_, report) = check_json(&user, &repo, &[]);
    let errors = errors_text(&report);
    assert!(
        errors.contains("requirements.txt:2: included file /etc/passwd"),
        "{errors}"
    );
    assert!(
        errors.contains("requirements.txt:3: included file ../outside.txt"),
        "{errors}"
    );
    assert!(errors.contains("outside the workspace"), "{errors}");
    assert!(
        errors.contains("requirements.txt:4: included file ../../constraints.txt: ../../constraints.txt is outside"),
        "{errors}"
    );
    assert!(
        errors.contains("requirements-also.txt:1: included file sneaky.txt"),
        "{errors}"
    );
    let names = package_names(&report);
    assert!(names.contains(&"flask".to_string()), "{names:?}");
    assert!(names.contains(&"requests".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "root" || n.starts_with("secret-outside")),
        "{names:?}"
    );
}

/// A host the user never configured: a listener that counts the connections it is offered.
pub struct Attacker {
    listener: std::net::TcpListener,
}

impl Attacker {
    pub fn new() -> Attacker {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        Attacker { listener }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }

    /// Connections made so far (the run is over when this is asked, so every attempt is queued).
    pub fn connections(&self) -> usize {
        let mut n = 0;
        while self.listener.accept().is_ok() {
            n += 1;
        }
        n
    }
}

/// A project gatehouse.toml that tries everything: redirect every endpoint, point the cache at the
/// project's parent, read devices, go online, never fail, and switch off or allow every finding.
pub fn hostile_config(attacker: &str) -> String {
    format!(
        r#"offline = false
cache-dir = ".."
osv-db = ["/dev/zero", "../outside-osv"]
trusted-root = "/dev/zero"
fail-on = "never"
trusted-folders = ["/"]
trust-project-config = true

[endpoints]
npm = "{attacker}/npm"
osv = "{attacker}/osv"
pypi = "{attacker}/pypi"
crates = "{attacker}/crates"

[policy]
min-version-age = "0h"
min-package-age = "0h"
allow = ["flatmap-stream", "lodash"]

[policy.severity]
malicious = "off"
advisory = "off"

[[ignore]]
id = "MAL-2025-20690"
reason = "trust me"

[[ignore]]
id = "GHSA-35jh-r3h4-6jhm"
reason = "trust me"
"#
    )
}

#[test]
fn an_untrusted_config_can_neither_redirect_nor_silence() {
    let user = User::new();
    let attacker = Attacker::new();
    let stand_in_root = tempfile::tempdir().unwrap();
    let registry = gatehouse::testing::FixtureServer::start(stand_in_root.path()).unwrap();
    let package_json =
        "{\n  \"dependencies\": {\n    \"flatmap-stream\": \"0.1.1\",\n    \"lodash\": \"4.17.15\"\n  }\n}\n";
    let repo = Repo::new(&[("package.json", package_json)]);
    std::fs::write(repo.path("gatehouse.toml"), hostile_config(&attacker.url())).unwrap();
    std::fs::write(repo.parent.path().join("precious.txt"), "mine").unwrap();
    let osv = fixtures().join("osv");
    let base = registry.url();
    let (npm, osv_url) = (format!("{base}/npm"), format!("{base}/osv"));
    let outcome = user.run(
        &[
            "check",
            ".",
            "--format",
            "json",
            "--npm-registry",
            &npm,
            "--osv-url",
            &osv_url,
            "--osv-db",
            osv.join("npm").to_str().unwrap(),
            "--osv-db",
            osv.join("incidents/npm").to_str().unwrap(),
        ],
        &repo.root,
        &[],
    );
    assert!(outcome.peak_kb < MEMORY_BOUND_KB, "peak {} KiB", outcome.peak_kb);
    let report: Value = serde_json::from_str(&outcome.stdout).unwrap_or_else(|_| panic!("{}", outcome.stderr));
    // `fail-on = "never"` does not hold: the malicious package fails the run.
    assert_eq!(outcome.code, 1, "{}", outcome.stderr);
    let findings = report["findings"].as_array().unwrap();
    let malicious = findings
        .iter()
        .find(|f| f["package"] == "flatmap-stream" && f["check"] == "malicious")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(malicious["severity"], "error");
    assert!(
        malicious["message"]
            .as_str()
            .unwrap()
            .contains("(untrusted) tries to lower"),
        "{malicious}"
    );
    let lodash = findings
        .iter()
        .find(|f| f["package"] == "lodash" && f["id"] == "GHSA-35jh-r3h4-6jhm")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(lodash["severity"], "information");
    assert!(
        lodash["message"]
            .as_str()
            .unwrap()
            .contains("suppressed by this project's gatehouse.toml (untrusted)"),
        "{lodash}"
    );
    let errors = errors_text(&report);
    for key in [
        "offline",
        "cache-dir",
        "osv-db",
        "trusted-root",
        "endpoints.npm",
        "endpoints.osv",
        "endpoints.pypi",
        "endpoints.crates",
        "trusted-folders",
        "trust-project-config",
        "fail-on",
    ] {
        assert!(errors.contains(&format!("`{key}` is ignored")), "{key}: {errors}");
    }
    assert!(errors.contains("gatehouse trust"), "{errors}");
    assert_eq!(attacker.connections(), 0, "the project's endpoints were contacted");
    assert!(registry.request_count() > 0, "the user's own registry is used");
    assert_eq!(
        std::fs::read_to_string(repo.parent.path().join("precious.txt")).unwrap(),
        "mine"
    );
    // The cache went where the user's side says (the user's XDG cache), not beside the project.
    assert!(user.home.path().join("cache/gatehouse").exists());
}

#[test]
fn trusting_a_project_honours_its_machine_keys_and_nothing_else_is_trusted() {
    let user = User::new();
    let repo = Repo::new(&[("package.json", MALICIOUS_PACKAGE_JSON)]);
    let osv = fixtures().join("osv");
    std::fs::write(
        repo.path("gatehouse.toml"),
        format!(
            "offline = true\nosv-db = [\"{}\"]\n",
            osv.join("incidents/npm").display()
        ),
    )
    .unwrap();
    // Untrusted: offline and osv-db are ignored (and the network is not reachable: no finding).
    let untrusted = user.run(
        &["check", ".", "--format", "json"],
        &repo.root,
        &[
            ("GATEHOUSE_NPM_REGISTRY", "http://127.0.0.1:9"),
            ("GATEHOUSE_OSV_URL", "http://127.0.0.1:9"),
        ],
    );
    let report: Value = serde_json::from_str(&untrusted.stdout).unwrap();
    assert!(!has_malicious(&report, "flatmap-stream"), "{report}");
    assert!(errors_text(&report).contains("`offline` is ignored"));
    // `gatehouse trust` records the folder; the next run honours the file.
    let trusted = user.run(&["trust", "."], &repo.root, &[]);
    assert_eq!(trusted.code, 0, "{}{}", trusted.stdout, trusted.stderr);
    let config = std::fs::read_to_string(user.home.path().join("config/gatehouse/config.toml")).unwrap();
    assert!(config.contains("trusted-folders"), "{config}");
    let again = user.run(&["trust", "."], &repo.root, &[]);
    assert!(again.stdout.contains("already trusted"), "{}", again.stdout);
    let run = user.run(&["check", ".", "--format", "json"], &repo.root, &[]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(has_malicious(&report, "flatmap-stream"), "{report}");
    assert!(!errors_text(&report).contains("is ignored"), "{}", errors_text(&report));
    // A sibling project is not trusted by it.
    let sibling = repo.parent.path().join("sibling");
    std::fs::create_dir_all(sibling.join(".git")).unwrap();
    std::fs::write(sibling.join("package.json"), MALICIOUS_PACKAGE_JSON).unwrap();
    std::fs::copy(repo.path("gatehouse.toml"), sibling.join("gatehouse.toml")).unwrap();
    let run = user.run(&["check", ".", "--format", "json", "--offline"], &sibling, &[]);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        errors_text(&report).contains("`osv-db` is ignored"),
        "{}",
        errors_text(&report)
    );
}

/// Every file under `dir` with its bytes (symlinks as their target), to prove nothing changed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut res = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                res.push((
                    path.clone(),
                    std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes(),
                ));
            } else if kind.is_dir() {
                res.push((path.clone(), Vec::new()));
                stack.push(path);
            } else if kind.is_file() {
                res.push((path.clone(), std::fs::read(&path).unwrap()));
            } else {
                res.push((path, b"special".to_vec()));
            }
        }
    }
    res.sort();
    res
}

#[test]
fn cache_clear_never_deletes_what_gatehouse_did_not_make() {
    let user = User::new();
    for (cache_dir, trust) in [("..", false), ("..", true), (".", true)] {
        let repo = Repo::new(&[("package.json", MALICIOUS_PACKAGE_JSON), ("src/index.js", "// code\n")]);
        std::fs::write(repo.path("gatehouse.toml"), format!("cache-dir = \"{cache_dir}\"\n")).unwrap();
        std::fs::write(repo.parent.path().join("precious.txt"), "mine").unwrap();
        let before = snapshot(repo.parent.path());
        let mut args = vec!["cache", "clear"];
        if trust {
            args.push("--trust-project-config");
        }
        let outcome = user.run(&args, &repo.root, &[]);
        assert_eq!(outcome.code, 2, "refused: {}{}", outcome.stdout, outcome.stderr);
        assert!(
            outcome.stdout.contains("holds no Gatehouse store"),
            "{}",
            outcome.stdout
        );
        assert_eq!(
            snapshot(repo.parent.path()),
            before,
            "cache-dir = {cache_dir:?}, trusted: {trust}"
        );
    }
}

#[test]
fn cache_clear_empties_the_store_and_keeps_the_folder_and_takedown_memory() {
    let user = User::new();
    let repo = Repo::new(&[("package.json", MALICIOUS_PACKAGE_JSON)]);
    let stand_in_root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(stand_in_root.path().join("npm")).unwrap();
    std::fs::copy(
        fixtures().join("registry/npm/left-pad"),
        stand_in_root.path().join("npm/left-pad"),
    )
    .unwrap();
    let registry = gatehouse::testing::FixtureServer::start(stand_in_root.path()).unwrap();
    std::fs::write(
        repo.path("package.json"),
        "{\"dependencies\": {\"left-pad\": \"1.3.0\"}}\n",
    )
    .unwrap();
    let npm = format!("{}/npm", registry.url());
    let osv = fixtures().join("osv/npm");
    let run = user.run(
        &[
            "check",
            ".",
            "--npm-registry",
            &npm,
            "--osv-db",
            osv.to_str().unwrap(),
            "--osv-url",
            "http://127.0.0.1:9",
        ],
        &repo.root,
        &[],
    );
    let cache = user.home.path().join("cache/gatehouse");
    assert!(
        cache.join("gatehouse-v1.sqlite3").is_file(),
        "{}{}",
        run.stdout,
        run.stderr
    );
    std::fs::write(cache.join("notes.txt"), "not ours").unwrap();
    let before: Vec<PathBuf> = snapshot(&cache).into_iter().map(|(p, _)| p).collect();
    let cleared = user.run(&["cache", "clear"], &repo.root, &[]);
    assert_eq!(cleared.code, 0, "{}{}", cleared.stdout, cleared.stderr);
    assert!(cleared.stdout.contains("cleared"), "{}", cleared.stdout);
    let after: Vec<PathBuf> = snapshot(&cache).into_iter().map(|(p, _)| p).collect();
    assert!(before.iter().all(|p| after.contains(p)), "{before:?} vs {after:?}");
    let stats = user.run(&["cache", "stats"], &repo.root, &[]);
    assert!(
        stats.stdout.contains("versions remembered (takedown memory)"),
        "{}",
        stats.stdout
    );
    assert!(
        !stats.stdout.contains("versions remembered (takedown memory): 0"),
        "{}",
        stats.stdout
    );
}

fn lsp_user_settings(user: &User) -> Value {
    let osv = fixtures().join("osv");
    serde_json::json!({
        "offline": true,
        "osv-db": [osv.join("npm"), osv.join("incidents/npm")],
        "cache-dir": user.home.path().join("cache/gatehouse"),
        "lookup": {"debounce-ms": 10},
    })
}

#[test]
fn the_editor_on_a_hostile_repository_stays_up_bounded_and_loud() {
    use crate::harness::{Server, uri};
    let user = User::new();
    let attacker = Attacker::new();
    let repo = Repo::new(&[("package.json", MALICIOUS_PACKAGE_JSON)]);
    std::fs::write(repo.path("gatehouse.toml"), hostile_config(&attacker.url())).unwrap();
    repo.link("/dev/zero", "package-lock.json");
    repo.fifo("requirements.txt");
    repo.fifo(".npmrc");
    repo.link(".", "a");
    repo.sparse("Cargo.lock", 1024 * 1024 * 1024);
    std::fs::write(repo.parent.path().join("precious.txt"), "mine").unwrap();
    let before = snapshot(repo.parent.path());

    let mut env = user.env();
    env.retain(|(k, _)| k != "GATEHOUSE_LOG");
    let mut server = Server::start_with_env(&repo.root, &env);
    server.initialize(&repo.root, lsp_user_settings(&user));
    let doc = uri(&repo.path("package.json"));
    server.notify(
        "textDocument/didOpen",
        serde_json::json!({"textDocument": {"uri": doc, "languageId": "json", "version": 1, "text": MALICIOUS_PACKAGE_JSON}}),
    );
    let diagnostics = server.diagnostics(&doc, 1, |d| {
        d.iter().any(|d| d["code"] == "MAL-2025-20690" && d["severity"] == 1)
    });
    assert!(
        diagnostics.iter().any(|d| d["message"]
            .as_str()
            .unwrap_or("")
            .contains("(untrusted) tries to lower")),
        "{diagnostics:?}"
    );
    let config_text = std::fs::read_to_string(repo.path("gatehouse.toml")).unwrap();
    let config_uri = uri(&repo.path("gatehouse.toml"));
    server.notify(
        "textDocument/didOpen",
        serde_json::json!({"textDocument": {"uri": config_uri, "languageId": "toml", "version": 1, "text": config_text}}),
    );
    let config_diagnostics = server.diagnostics(&config_uri, 1, |d| {
        d.iter()
            .any(|d| d["message"].as_str().unwrap_or("").contains("`cache-dir` is ignored"))
    });
    let cache_dir_line = config_text.lines().position(|l| l.starts_with("cache-dir")).unwrap();
    let at_key = config_diagnostics
        .iter()
        .find(|d| d["message"].as_str().unwrap_or("").contains("`cache-dir` is ignored"))
        .unwrap();
    assert_eq!(at_key["range"]["start"]["line"], cache_dir_line, "{at_key}");
    assert!(config_diagnostics.iter().any(|d| {
        d["message"]
            .as_str()
            .unwrap_or("")
            .contains("`endpoints.npm` is ignored")
    }));

    server.request(
        "workspace/executeCommand",
        serde_json::json!({"command": "gatehouse.clearCache", "arguments": []}),
    );
    server.diagnostics(&doc, 1, |d| d.iter().any(|d| d["code"] == "MAL-2025-20690"));
    let peak = peak_rss_kb(server.pid()).unwrap();
    eprintln!("peak RSS {peak} KiB: gatehouse lsp on the hostile repository");
    assert!(peak < MEMORY_BOUND_KB, "peak {peak} KiB");
    assert_eq!(server.shutdown(), 0);
    assert_eq!(attacker.connections(), 0, "the project's endpoints were contacted");
    assert_eq!(
        snapshot(repo.parent.path()),
        before,
        "something outside the cache changed"
    );
}

#[test]
fn devices_named_as_databases_or_trust_roots_are_refused_not_read() {
    let user = User::new();
    let repo = Repo::new(&[("package.json", MALICIOUS_PACKAGE_JSON)]);
    // A folder database with a record that is a device, a FIFO, and a loop.
    let db = repo.parent.path().join("osv");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::copy(
        fixtures().join("osv/incidents/npm/MAL-2025-20690.json"),
        db.join("MAL-2025-20690.json"),
    )
    .unwrap();
    symlink("/dev/zero", db.join("zero.json")).unwrap();
    symlink(".", db.join("again")).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(db.join("fifo.json"))
            .status()
            .unwrap()
            .success()
    );
    let outcome = user.run(
        &[
            "check",
            ".",
            "--format",
            "json",
            "--offline",
            "--osv-db",
            "/dev/zero",
            "--osv-db",
            "/proc/self/environ",
            "--osv-db",
            db.to_str().unwrap(),
            "--trusted-root",
            "/dev/zero",
        ],
        &repo.root,
        &[],
    );
    assert!(outcome.peak_kb < MEMORY_BOUND_KB, "peak {} KiB", outcome.peak_kb);
    let report: Value = serde_json::from_str(&outcome.stdout).unwrap_or_else(|_| panic!("{}", outcome.stderr));
    assert!(has_malicious(&report, "flatmap-stream"), "{report}");
    let errors = errors_text(&report);
    assert!(errors.contains("/dev/zero is a system file"), "{errors}");
    assert!(errors.contains("zero.json is a device"), "{errors}");
    assert!(errors.contains("fifo.json is a FIFO"), "{errors}");
}

#[test]
fn two_private_registries_on_one_host_each_get_only_their_own_credential() {
    let user = User::new();
    let stand_in_root = tempfile::tempdir().unwrap();
    let artifactory = gatehouse::testing::FixtureServer::start(stand_in_root.path()).unwrap();
    let base = artifactory.url();
    let host_port = base.trim_start_matches("http://").to_string();
    // The user's own settings: an npm scope and a pip index on one Artifactory, different paths.
    std::fs::write(
        user.home.path().join(".npmrc"),
        format!("@corp:registry={base}/api/npm/npm-local/\n//{host_port}/api/npm/npm-local/:_authToken=NPMTOK\n"),
    )
    .unwrap();
    std::fs::create_dir_all(user.home.path().join("config/pip")).unwrap();
    std::fs::write(
        user.home.path().join("config/pip/pip.conf"),
        format!("[global]\nindex-url = http://alice:pypipass@{host_port}/api/pypi/pypi-local/simple/\n"),
    )
    .unwrap();
    let repo = Repo::new(&[
        ("package.json", "{\"dependencies\": {\"@corp/widgets\": \"1.0.0\"}}\n"),
        ("requirements.txt", "internal-lib==1.0\n"),
    ]);
    let outcome = user.run(
        &["check", ".", "--format", "json", "--osv-url", "http://127.0.0.1:9"],
        &repo.root,
        &[],
    );
    assert!(outcome.peak_kb < MEMORY_BOUND_KB);
    let requests = artifactory.requests();
    let npm: Vec<_> = requests.iter().filter(|r| r.path.starts_with("/api/npm/")).collect();
    let pypi: Vec<_> = requests.iter().filter(|r| r.path.starts_with("/api/pypi/")).collect();
    assert!(!npm.is_empty() && !pypi.is_empty(), "{requests:?}\n{}", outcome.stdout);
    for request in &npm {
        assert_eq!(request.header("authorization"), Some("Bearer NPMTOK"), "{request:?}");
    }
    for request in &pypi {
        let auth = request.header("authorization").unwrap_or_default();
        assert!(auth.starts_with("Basic "), "{request:?}");
    }
}

const LODASH_QUERYBATCH: &str =
    r#"{"results":[{"vulns":[{"id":"GHSA-35jh-r3h4-6jhm","modified":"2024-01-01T00:00:00Z"}]}]}"#;
const EMPTY_QUERYBATCH: &str = r#"{"results":[{}]}"#;

/// An OSV stand-in that first says lodash is clean (the poison), then tells the truth.
fn osv_stand_in() -> (tempfile::TempDir, gatehouse::testing::FixtureServer) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("osv/v1/vulns")).unwrap();
    std::fs::copy(
        fixtures().join("osv/npm/GHSA-35jh-r3h4-6jhm.json"),
        root.path().join("osv/v1/vulns/GHSA-35jh-r3h4-6jhm"),
    )
    .unwrap();
    let server = gatehouse::testing::FixtureServer::start(root.path()).unwrap();
    server.set_body("/osv/v1/querybatch", EMPTY_QUERYBATCH);
    (root, server)
}

const LODASH_PACKAGE_JSON: &str = "{\"dependencies\": {\"lodash\": \"4.17.15\"}}\n";

fn lodash_flagged(report: &Value) -> bool {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["package"] == "lodash" && f["id"] == "GHSA-35jh-r3h4-6jhm")
}

#[test]
fn a_poisoned_cache_shipped_in_the_repository_hides_nothing() {
    let user = User::new();
    let (_root, osv) = osv_stand_in();
    let osv_url = format!("{}/osv", osv.url());
    let repo = Repo::new(&[("package.json", LODASH_PACKAGE_JSON)]);
    // The attacker fills a store while their OSV says "clean", and ships it with the repository.
    let shipped = repo.path(".gatehouse-cache");
    let poison = user.run(
        &[
            "check",
            ".",
            "--osv-url",
            &osv_url,
            "--npm-registry",
            "http://127.0.0.1:9",
            "--cache-dir",
            shipped.to_str().unwrap(),
        ],
        &repo.root,
        &[],
    );
    assert!(
        shipped.join("gatehouse-v1.sqlite3").is_file(),
        "{}{}",
        poison.stdout,
        poison.stderr
    );
    std::fs::write(repo.path("gatehouse.toml"), "cache-dir = \".gatehouse-cache\"\n").unwrap();
    osv.set_body("/osv/v1/querybatch", LODASH_QUERYBATCH);
    let run = user.run(
        &[
            "check",
            ".",
            "--format",
            "json",
            "--osv-url",
            &osv_url,
            "--npm-registry",
            "http://127.0.0.1:9",
        ],
        &repo.root,
        &[],
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("{}", run.stderr));
    assert!(lodash_flagged(&report), "{report}");
    assert!(errors_text(&report).contains("`cache-dir` is ignored"));
}

#[test]
fn answers_from_one_endpoint_never_serve_another_from_the_shared_cache() {
    let user = User::new();
    let (_root, mirror) = osv_stand_in();
    let (_root2, real) = osv_stand_in();
    real.set_body("/osv/v1/querybatch", LODASH_QUERYBATCH);
    let repo = Repo::new(&[("package.json", LODASH_PACKAGE_JSON)]);
    // A trusted project (or an earlier setting) used a mirror that says lodash is clean...
    let mirror_url = format!("{}/osv", mirror.url());
    user.run(
        &[
            "check",
            ".",
            "--osv-url",
            &mirror_url,
            "--npm-registry",
            "http://127.0.0.1:9",
        ],
        &repo.root,
        &[],
    );
    // ...and the same user's shared cache must not answer for another OSV with it.
    let real_url = format!("{}/osv", real.url());
    let run = user.run(
        &[
            "check",
            ".",
            "--format",
            "json",
            "--osv-url",
            &real_url,
            "--npm-registry",
            "http://127.0.0.1:9",
        ],
        &repo.root,
        &[],
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("{}", run.stderr));
    assert!(lodash_flagged(&report), "{report}");
}

#[test]
fn the_editor_marks_includes_outside_the_workspace_on_their_line() {
    use crate::harness::{Server, uri};
    let user = User::new();
    let text = "requests==2.19.0\n-r /etc/passwd\n-r ../outside.txt\n-r inside.txt\n";
    let repo = Repo::new(&[("requirements.txt", text), ("inside.txt", "flask\n")]);
    std::fs::write(repo.parent.path().join("outside.txt"), "secret-outside-name==1.0\n").unwrap();
    let mut server = Server::start_with_env(&repo.root, &user.env());
    server.initialize(&repo.root, lsp_user_settings(&user));
    let doc = uri(&repo.path("requirements.txt"));
    server.notify(
        "textDocument/didOpen",
        serde_json::json!({"textDocument": {"uri": doc, "languageId": "pip-requirements", "version": 1, "text": text}}),
    );
    let diagnostics = server.diagnostics(&doc, 1, |d| {
        d.iter().filter(|d| d["code"] == "include-outside-workspace").count() == 2
    });
    let lines: Vec<u64> = diagnostics
        .iter()
        .filter(|d| d["code"] == "include-outside-workspace")
        .map(|d| d["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![1, 2], "{diagnostics:?}");
    assert_eq!(server.shutdown(), 0);
}

/// Audit item 6: a git dependency's lockfile entry pulls in flatmap-stream (MAL-2025-20690). The walk
/// used to stop at the git entry: "1 package: 0 errors", exit 0. Now the malicious package is found
/// (via the git dependency) and the git dependency itself is listed as skipped with its reason.
#[test]
fn transitives_of_a_git_dependency_are_checked() {
    let user = User::new();
    let lock = r#"{
  "name": "app",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"dependencies": {"helper": "github:someone/helper"}},
    "node_modules/helper": {
      "version": "1.0.0",
      "resolved": "git+ssh://git@github.com/someone/helper.git#0123456789abcdef0123456789abcdef01234567",
      "dependencies": {"flatmap-stream": "^0.1.0"}
    },
    "node_modules/flatmap-stream": {
      "version": "0.1.1",
      "resolved": "https://registry.npmjs.org/flatmap-stream/-/flatmap-stream-0.1.1.tgz"
    }
  }
}
"#;
    let repo = Repo::new(&[
        (
            "package.json",
            "{\n  \"dependencies\": {\n    \"helper\": \"github:someone/helper\"\n  }\n}\n",
        ),
        ("package-lock.json", lock),
    ]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}{}", outcome.stdout, outcome.stderr);
    assert!(has_malicious(&report, "flatmap-stream"), "{report}");
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["package"] == "flatmap-stream")
        .unwrap();
    assert_eq!(
        finding["via"],
        serde_json::json!(["helper", "flatmap-stream"]),
        "{finding}"
    );
    let helper = package(&report, "helper");
    assert_eq!(helper["status"], "unavailable", "{helper}");
}

/// A fake-interview repository whose only dependency is the attacker's git repository, or a tarball on
/// the attacker's host: nothing about it can be checked, so the run is not clean (exit 2) and says why.
/// It used to be "skipped", exit 0. A path dependency (the project's own code) stays skipped.
#[test]
fn a_dependency_fetched_from_a_git_repository_or_a_url_is_never_clean() {
    let user = User::new();
    for manifest in [
        (
            "package.json",
            "{\n  \"dependencies\": {\n    \"helper\": \"github:someone/helper\"\n  }\n}\n",
        ),
        (
            "package.json",
            "{\n  \"dependencies\": {\n    \"helper\": \"https://evil.example/helper-1.0.0.tgz\"\n  }\n}\n",
        ),
        (
            "requirements.txt",
            "https://evil.example/helper-1.0.0-py3-none-any.whl\n",
        ),
        (
            "requirements.txt",
            "helper @ git+https://github.com/someone/helper@main\n",
        ),
        (
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nhelper = { git = \"https://github.com/someone/helper\" }\n",
        ),
    ] {
        let repo = Repo::new(&[manifest]);
        let (outcome, report) = check_json(&user, &repo, &[]);
        assert_eq!(outcome.code, 2, "{manifest:?}: {}{}", outcome.stdout, outcome.stderr);
        let helper = package(&report, "helper");
        assert_eq!(helper["status"], "unavailable", "{helper}");
        assert!(
            helper["check_reasons"]["advisory"]
                .as_str()
                .unwrap()
                .contains("installed from"),
            "{helper}"
        );
        assert!(outcome.stderr.contains("could not be checked"), "{}", outcome.stderr);
    }
    let repo = Repo::new(&[(
        "package.json",
        "{\n  \"dependencies\": {\n    \"local\": \"file:../local\"\n  }\n}\n",
    )]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert_eq!(report["packages"][0]["status"], "skipped", "{report}");
}

/// A repository without a lockfile that forces the malicious flatmap-stream 0.1.1 (MAL-2025-20690) on
/// whatever pulls it in, through npm `overrides`, Yarn `resolutions` or `pnpm.overrides`: the package
/// manager installs it, so it is found on the override's line, exit 1. It used to go unread: "1 package:
/// 0 errors".
#[test]
fn a_malicious_version_forced_by_an_override_is_found() {
    let user = User::new();
    for overrides in [
        "\"overrides\": {\"event-stream\": {\"flatmap-stream\": \"0.1.1\"}}",
        "\"overrides\": {\"event-stream@>=3\": {\"flatmap-stream\": \"0.1.1\"}}",
        "\"overrides\": {\"flatmap-stream\": \"$pinned\"}",
        "\"resolutions\": {\"flatmap-stream\": \"npm:0.1.1\"}",
        "\"resolutions\": {\"**/flatmap-stream\": \"0.1.1\"}",
        "\"pnpm\": {\"overrides\": {\"event-stream>flatmap-stream\": \"0.1.1\"}}",
    ] {
        let manifest = format!(
            "{{\n  \"dependencies\": {{\"event-stream\": \"3.3.4\", \"pinned\": \"0.1.1\"}},\n  {overrides}\n}}\n"
        );
        let repo = Repo::new(&[("package.json", manifest.as_str())]);
        let (outcome, report) = check_json(&user, &repo, &[]);
        assert_eq!(outcome.code, 1, "{overrides}: {}{}", outcome.stdout, outcome.stderr);
        assert!(has_malicious(&report, "flatmap-stream"), "{overrides}: {report}");
        let finding = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["package"] == "flatmap-stream")
            .unwrap();
        assert_eq!(finding["version"], "0.1.1", "{finding}");
        let line = finding["range"]["start"]["line"].as_u64().unwrap();
        assert_eq!(line, 2, "on the override's line: {finding}");
    }
}

/// Naming a malicious release by the registry's own tarball URL, under another name, installs that
/// release: it is found (flatmap-stream 0.1.1, MAL-2025-20690), exit 1.
#[test]
fn a_malicious_release_named_by_its_registry_tarball_is_found() {
    let user = User::new();
    let repo = Repo::new(&[(
        "package.json",
        "{\n  \"dependencies\": {\n    \"lodash\": \"https://registry.npmjs.org/flatmap-stream/-/flatmap-stream-0.1.1.tgz\"\n  }\n}\n",
    )]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}{}", outcome.stdout, outcome.stderr);
    assert!(has_malicious(&report, "flatmap-stream"), "{report}");
}

/// The report's first finding that `matches`, or a failure showing the report.
fn find_finding(report: &Value, matches: impl Fn(&Value) -> bool) -> &Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| matches(f))
        .unwrap_or_else(|| panic!("no such finding in {report}"))
}

/// Cargo builds a `[patch]` or `[replace]` entry in place of the registry crate it names. Without a
/// lockfile a git patch of a checked dependency went unread: the dependency was checked as the crates.io
/// release it no longer is. Now a git patch is listed as not checked (exit 2), and a patch that takes a
/// vulnerable release from crates.io (smallvec 1.6.0, RUSTSEC-2021-0003) is found on its own line.
#[test]
fn a_cargo_patch_or_replace_is_checked_from_its_own_source() {
    let user = User::new();
    let base = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nsmallvec = \"1.13.2\"\n\n";
    for (forced, package) in [
        (
            "[patch.crates-io]\nsmallvec = { git = \"https://github.com/someone/smallvec\" }\n",
            "smallvec",
        ),
        (
            "[replace]\n\"smallvec:1.13.2\" = { git = \"https://github.com/someone/smallvec\" }\n",
            "smallvec",
        ),
    ] {
        let manifest = format!("{base}{forced}");
        let repo = Repo::new(&[("Cargo.toml", manifest.as_str())]);
        let (outcome, report) = check_json(&user, &repo, &[]);
        assert_eq!(outcome.code, 2, "{forced}: {}{}", outcome.stdout, outcome.stderr);
        // Offline with no registry data the direct dependency is unavailable too (exit 2 either way):
        // the patch is listed as what it is, on its own.
        let patched = report["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                p["package"] == package
                    && p["status"] == "unavailable"
                    && p["check_reasons"]["advisory"]
                        .as_str()
                        .is_some_and(|r| r.contains("installed from https://github.com/someone/smallvec"))
            })
            .count();
        assert_eq!(patched, 1, "{forced}: {report}");
    }
    let manifest = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nsmallvec = { git = \"https://github.com/servo/rust-smallvec\" }\n\n[patch.\"https://github.com/servo/rust-smallvec\"]\nsmallvec = \"=1.6.0\"\n";
    let repo = Repo::new(&[("Cargo.toml", manifest)]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}{}", outcome.stdout, outcome.stderr);
    let finding = find_finding(&report, |f| f["package"] == "smallvec" && f["version"] == "1.6.0");
    assert_eq!(finding["range"]["start"]["line"], 8, "{finding}");
}

/// pnpm 10 reads `overrides` and `packageExtensions` from `pnpm-workspace.yaml`, and pnpm reads
/// `pnpm.packageExtensions` from package.json: each installs a version no dependency names. Without a
/// lockfile, a repository that forced the malicious flatmap-stream 0.1.1 (MAL-2025-20690) there was
/// clean ("0 errors", exit 0). Now it is found on the line that forces it, in the file that does.
#[test]
fn a_malicious_version_forced_by_pnpm_workspace_settings_is_found() {
    let user = User::new();
    let package_json = "{\n  \"dependencies\": {\"event-stream\": \"3.3.4\"}\n}\n";
    for (yaml, line) in [
        ("packages:\n  - packages/*\noverrides:\n  flatmap-stream: 0.1.1\n", 3),
        (
            "overrides:\n  # pinned\n  \"event-stream>flatmap-stream\": '0.1.1'  # why\n",
            2,
        ),
        (
            "overrides:\n  event-stream@3>flatmap-stream: 'catalog:'\ncatalog:\n  flatmap-stream: 0.1.1\n",
            1,
        ),
        (
            "packageExtensions:\n  event-stream@3:\n    dependencies:\n      flatmap-stream: 0.1.1\n",
            3,
        ),
        ("overrides: {flatmap-stream: 0.1.1}\n", 0),
    ] {
        let repo = Repo::new(&[("package.json", package_json), ("pnpm-workspace.yaml", yaml)]);
        let (outcome, report) = check_json(&user, &repo, &[]);
        assert_eq!(outcome.code, 1, "{yaml}: {}{}", outcome.stdout, outcome.stderr);
        assert!(has_malicious(&report, "flatmap-stream"), "{yaml}: {report}");
        let finding = find_finding(&report, |f| f["package"] == "flatmap-stream");
        assert!(
            finding["file"].as_str().unwrap().ends_with("pnpm-workspace.yaml"),
            "{yaml}: {finding}"
        );
        assert_eq!(finding["version"], "0.1.1", "{yaml}: {finding}");
        assert_eq!(finding["range"]["start"]["line"], line, "{yaml}: {finding}");
    }
    // package.json's own `pnpm.packageExtensions`.
    let manifest = "{\n  \"dependencies\": {\"event-stream\": \"3.3.4\"},\n  \"pnpm\": {\"packageExtensions\": {\"event-stream@3\": {\n    \"peerDependencies\": {\"flatmap-stream\": \"0.1.1\"}}}}\n}\n";
    let repo = Repo::new(&[("package.json", manifest)]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}{}", outcome.stdout, outcome.stderr);
    assert!(has_malicious(&report, "flatmap-stream"), "{report}");
    // What Gatehouse cannot read is not checked, never clean: a `$` reference to the root's
    // dependency, an unreadable selector, a file that does not parse.
    for yaml in [
        "overrides:\n  flatmap-stream: $event-stream\n",
        "overrides:\n  \"**\": 0.1.1\n",
        "overrides:\n  flatmap-stream: [0.1.1\n",
    ] {
        let repo = Repo::new(&[("package.json", package_json), ("pnpm-workspace.yaml", yaml)]);
        let (outcome, _) = check_json(&user, &repo, &[]);
        assert_eq!(outcome.code, 2, "{yaml}: {}{}", outcome.stdout, outcome.stderr);
    }
}

/// Cargo also reads `[patch]` from the repository's `.cargo/config.toml` (and the older `.cargo/config`),
/// and Yarn reads `packageExtensions` from `.yarnrc.yml`: the same forced versions, in files that are
/// not manifests. Each is checked in its own file: a git patch is not checked (exit 2), a vulnerable
/// registry patch (smallvec 1.6.0) and a malicious added dependency (flatmap-stream 0.1.1) are found.
#[test]
fn forced_versions_in_cargo_and_yarn_settings_files_are_checked() {
    let user = User::new();
    let cargo_toml = "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nsmallvec = \"1.13.2\"\n";
    for config in [".cargo/config.toml", ".cargo/config"] {
        let repo = Repo::new(&[
            ("Cargo.toml", cargo_toml),
            (
                config,
                "[net]\nretry = 2\n\n[patch.crates-io]\nsmallvec = { git = \"https://github.com/evil/smallvec\" }\n",
            ),
        ]);
        let (outcome, report) = check_json(&user, &repo, &[]);
        assert_eq!(outcome.code, 2, "{config}: {}{}", outcome.stdout, outcome.stderr);
        let patched = report["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| {
                p["check_reasons"]["advisory"]
                    .as_str()
                    .is_some_and(|r| r.contains("installed from https://github.com/evil/smallvec"))
            })
            .unwrap_or_else(|| panic!("{config}: {report}"));
        assert!(patched["file"].as_str().unwrap().ends_with(config), "{patched}");
    }
    let repo = Repo::new(&[
        ("Cargo.toml", cargo_toml),
        (
            ".cargo/config.toml",
            "[patch.\"https://github.com/servo/rust-smallvec\"]\nsmallvec = \"=1.6.0\"\n",
        ),
    ]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}{}", outcome.stdout, outcome.stderr);
    let finding = find_finding(&report, |f| f["package"] == "smallvec" && f["version"] == "1.6.0");
    assert!(
        finding["file"].as_str().unwrap().ends_with(".cargo/config.toml"),
        "{finding}"
    );
    assert_eq!(finding["range"]["start"]["line"], 1, "{finding}");

    let repo = Repo::new(&[
        (
            "package.json",
            "{\n  \"dependencies\": {\"event-stream\": \"3.3.4\"}\n}\n",
        ),
        (
            ".yarnrc.yml",
            "nodeLinker: node-modules\npackageExtensions:\n  \"event-stream@*\":\n    dependencies:\n      flatmap-stream: 0.1.1\n",
        ),
    ]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}{}", outcome.stdout, outcome.stderr);
    assert!(has_malicious(&report, "flatmap-stream"), "{report}");
    let finding = find_finding(&report, |f| f["package"] == "flatmap-stream");
    assert!(finding["file"].as_str().unwrap().ends_with(".yarnrc.yml"), "{finding}");
    assert_eq!(finding["range"]["start"]["line"], 4, "{finding}");
}

/// A `[patch]` in `.cargo/config.toml` is resolved from the workspace's Cargo.lock, as one in Cargo.toml
/// is (review of 82aa58e: it was "unresolved" there, or the newest release online).
#[test]
fn a_cargo_config_patch_takes_the_version_cargo_lock_pins() {
    let user = User::new();
    let repo = Repo::new(&[
        (
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n\n[dependencies]\nsmallvec = { git = \"https://github.com/servo/rust-smallvec\" }\n",
        ),
        (
            "Cargo.lock",
            "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec\"]\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
        ),
        (
            ".cargo/config.toml",
            "[patch.\"https://github.com/servo/rust-smallvec\"]\nsmallvec = \"1.6\"\n",
        ),
    ]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 1, "{}{}", outcome.stdout, outcome.stderr);
    let finding = find_finding(&report, |f| {
        f["package"] == "smallvec" && f["file"].as_str().is_some_and(|f| f.ends_with(".cargo/config.toml"))
    });
    assert_eq!(finding["version"], "1.6.0", "{finding}");
    assert_eq!(finding["version_source"], "lockfile", "{finding}");
}

/// Cargo follows a symlinked `.cargo` folder; the walk does not (it could lead anywhere), so a `[patch]`
/// behind one is said to be unread (exit 2), never silently passed over (review of 82aa58e).
#[test]
fn a_symlinked_cargo_settings_folder_is_not_passed_over() {
    let user = User::new();
    let repo = Repo::new(&[
        ("Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n"),
        (
            "cfg/config.toml",
            "[patch.crates-io]\nsmallvec = { git = \"https://github.com/evil/smallvec\" }\n",
        ),
    ]);
    repo.link("cfg", ".cargo");
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 2, "{}{}", outcome.stdout, outcome.stderr);
    assert!(errors_text(&report).contains(".cargo"), "{report}");
}

/// `.pnpmfile.cjs` is code pnpm runs when it installs, and its `readPackage` hook can change any
/// dependency (add flatmap-stream 0.1.1 to event-stream, say). Without a lockfile that records what it
/// chose, the versions checked may not be the ones installed: not checked, never clean (exit 2). With a
/// pnpm-lock.yaml the lockfile's versions are the ones checked, and nothing is said.
#[test]
fn a_pnpmfile_without_a_lockfile_is_never_clean() {
    let user = User::new();
    let hook = "module.exports = { hooks: { readPackage(pkg) { pkg.dependencies['flatmap-stream'] = '0.1.1'; return pkg } } }\n";
    let repo = Repo::new(&[
        (
            "package.json",
            "{\n  \"dependencies\": {\"left-pad\": \"file:./left-pad\"}\n}\n",
        ),
        ("pnpm-workspace.yaml", "packages:\n  - packages/*\n"),
        (".pnpmfile.cjs", hook),
    ]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 2, "{}{}", outcome.stdout, outcome.stderr);
    assert!(errors_text(&report).contains(".pnpmfile.cjs"), "{report}");
    // npm does not run it.
    let repo = Repo::new(&[
        (
            "package.json",
            "{\n  \"packageManager\": \"npm@10.8.0\",\n  \"dependencies\": {\"left-pad\": \"file:./left-pad\"}\n}\n",
        ),
        (".pnpmfile.cjs", hook),
    ]);
    let (outcome, report) = check_json(&user, &repo, &[]);
    assert_eq!(outcome.code, 0, "{}{}", outcome.stdout, outcome.stderr);
    assert!(!errors_text(&report).contains(".pnpmfile.cjs"), "{report}");
}
