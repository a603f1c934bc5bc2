//! Pre-advisory replays (`fixtures/preadvisory/`): recorded registry documents of a package as they
//! stood hours after a malicious publish (or a benign control release), turned into the files a
//! loopback registry stand-in serves, with every timestamp shifted so the replay's instant is `now`.
//!
//! - `now_for_replay` of the case becomes `now`; a control without one is replayed three hours after
//!   its publish time, and a control whose document has no publish time for its version gets one
//!   (three hours before `now`) plus `time.created` five years back, both said in `SOURCES.md`.
//! - npm documents get the `time.created` key the real registry always sends (the curated documents
//!   dropped it, see the replay README), set to the earliest version time.
//! - A PyPI JSON API document is also served as the PEP 691 Simple JSON page the client asks first
//!   (file names, sha256, upload times, yanks), derived field by field.
//! - `_replay` keys are notes and are served as they are (no client reads them).
//! - Test support only: a broken fixture fails the test that reads it, loudly.

#![allow(
    clippy::expect_used,
    reason = "test support: a broken fixture must fail the test loudly"
)]

use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::model::Ecosystem;

/// One entry of `index.json`.
#[derive(Debug, Clone)]
pub struct ReplayCase {
    pub dir: PathBuf,
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// `compromised` or `benign`.
    pub kind: String,
    pub case: Value,
}

impl ReplayCase {
    pub fn is_benign(&self) -> bool {
        self.kind == "benign"
    }
}

/// `fixtures/preadvisory`.
pub fn replay_root() -> PathBuf {
    super::fixtures_dir().join("preadvisory")
}

/// Every case of `root/index.json`.
pub fn cases(root: &Path) -> Vec<ReplayCase> {
    let index: Value = serde_json::from_slice(&std::fs::read(root.join("index.json")).expect("index.json"))
        .expect("index.json is JSON");
    index
        .as_array()
        .expect("index.json is a list")
        .iter()
        .map(|entry| {
            let text = |k: &str| entry[k].as_str().unwrap_or_default().to_string();
            let dir = root.join(text("path"));
            let case = serde_json::from_slice(&std::fs::read(dir.join("case.json")).expect("case.json"))
                .expect("case.json is JSON");
            ReplayCase {
                ecosystem: Ecosystem::from_osv_name(&text("ecosystem")).expect("known ecosystem"),
                name: text("name"),
                version: text("version"),
                kind: text("kind"),
                dir,
                case,
            }
        })
        .collect()
}

fn parse_time(value: &Value) -> Option<Timestamp> {
    value.as_str()?.parse().ok()
}

fn shift(value: &mut Value, delta: SignedDuration) {
    if let Some(at) = parse_time(value) {
        *value = Value::String((at + delta).to_string());
    }
}

/// One file for the stand-in: URL path under its root, and body.
pub struct ServedFile {
    pub path: String,
    pub body: Vec<u8>,
}

/// The replay's stand-in files and the instant that became `now`.
pub struct Replayed {
    pub files: Vec<ServedFile>,
    /// The version's shifted publish time, when the document has one.
    pub published: Option<Timestamp>,
}

/// The documents of `case` with every timestamp moved so the replay's instant is `now`.
pub fn replay(case: &ReplayCase, now: Timestamp) -> Replayed {
    let documented_now = parse_time(&case.case["now_for_replay"]);
    let published_at = parse_time(&case.case["published_at"]);
    match case.ecosystem {
        Ecosystem::Npm => replay_npm(case, documented_now, published_at, now),
        Ecosystem::CratesIo => replay_crates(case, documented_now, published_at, now),
        Ecosystem::PyPI => replay_pypi(case, documented_now, published_at, now),
    }
}

/// The instant of the replay: `now_for_replay`, or three hours after the publish time.
fn instant(documented_now: Option<Timestamp>, published: Option<Timestamp>, benign: bool) -> Option<Timestamp> {
    match (documented_now, published) {
        (Some(at), Some(published)) if benign && at <= published => Some(published + SignedDuration::from_hours(3)),
        (Some(at), _) => Some(at),
        (None, Some(published)) => Some(published + SignedDuration::from_hours(3)),
        (None, None) => None,
    }
}

fn replay_npm(
    case: &ReplayCase,
    documented_now: Option<Timestamp>,
    published_at: Option<Timestamp>,
    now: Timestamp,
) -> Replayed {
    let mut doc: Value = serde_json::from_slice(&std::fs::read(case.dir.join("packument.json")).expect("packument"))
        .expect("packument is JSON");
    let version_time = parse_time(&doc["time"][&case.version]);
    let at = instant(documented_now, published_at.or(version_time), case.is_benign());
    if !doc["time"].is_object() {
        doc["time"] = json!({});
    }
    let times = doc["time"].as_object_mut().expect("time object");
    match at {
        Some(at) => {
            let delta = now.duration_since(at);
            for value in times.values_mut() {
                shift(value, delta);
            }
        }
        None => {
            // No time at all for this control: it was published three hours ago, the package long before.
            times.insert(
                case.version.clone(),
                Value::String((now - SignedDuration::from_hours(3)).to_string()),
            );
            times.insert(
                "created".to_string(),
                Value::String((now - SignedDuration::from_hours(24 * 365 * 5)).to_string()),
            );
        }
    }
    if !times.contains_key("created") {
        let earliest = times.values().filter_map(parse_time).min();
        if let Some(earliest) = earliest {
            times.insert("created".to_string(), Value::String(earliest.to_string()));
        }
    }
    let published = parse_time(&doc["time"][&case.version]);
    Replayed {
        files: vec![ServedFile {
            // The stand-in serves decoded paths: `@scope/name` is a folder and a file.
            path: format!("npm/{}", case.name),
            body: serde_json::to_vec(&doc).expect("serialises"),
        }],
        published,
    }
}

fn replay_crates(
    case: &ReplayCase,
    documented_now: Option<Timestamp>,
    published_at: Option<Timestamp>,
    now: Timestamp,
) -> Replayed {
    let text = std::fs::read_to_string(case.dir.join("index.ndjson")).expect("index.ndjson");
    let mut lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("index line is JSON"))
        .collect();
    let version_time = lines
        .iter()
        .find(|l| l["vers"] == case.version.as_str())
        .and_then(|l| parse_time(&l["pubtime"]));
    let at =
        instant(documented_now, published_at.or(version_time), case.is_benign()).expect("crates replays have times");
    let delta = now.duration_since(at);
    for line in &mut lines {
        shift(&mut line["pubtime"], delta);
    }
    let published = version_time.map(|t| t + delta);
    let body: Vec<u8> = lines
        .iter()
        .map(|l| serde_json::to_string(l).expect("serialises") + "\n")
        .collect::<String>()
        .into_bytes();
    Replayed {
        files: vec![ServedFile {
            path: format!("crates/{}", crate::lookup::registry::crates_io::index_path(&case.name)),
            body,
        }],
        published,
    }
}

fn replay_pypi(
    case: &ReplayCase,
    documented_now: Option<Timestamp>,
    published_at: Option<Timestamp>,
    now: Timestamp,
) -> Replayed {
    let mut doc: Value = serde_json::from_slice(&std::fs::read(case.dir.join("project.json")).expect("project.json"))
        .expect("project.json is JSON");
    let at = instant(documented_now, published_at, case.is_benign()).expect("PyPI replays have times");
    let delta = now.duration_since(at);
    let mut files = Vec::new();
    let mut versions = Vec::new();
    if let Some(releases) = doc["releases"].as_object_mut() {
        for (version, release_files) in releases.iter_mut() {
            versions.push(version.clone());
            for file in release_files.as_array_mut().into_iter().flatten() {
                shift(&mut file["upload_time_iso_8601"], delta);
                shift(&mut file["upload_time"], delta);
                files.push(json!({
                    "filename": file["filename"],
                    "hashes": {"sha256": file["digests"]["sha256"]},
                    "upload-time": file["upload_time_iso_8601"],
                    "yanked": file["yanked"],
                }));
            }
        }
    }
    for file in doc["urls"].as_array_mut().into_iter().flatten() {
        shift(&mut file["upload_time_iso_8601"], delta);
    }
    let published = published_at.map(|t| t + delta);
    let name = Ecosystem::PyPI.normalize_name(&case.name);
    let simple = json!({"meta": {"api-version": "1.1"}, "name": name, "versions": versions, "files": files});
    Replayed {
        files: vec![
            ServedFile {
                path: format!("pypi/simple/{name}/index.json"),
                body: serde_json::to_vec(&simple).expect("serialises"),
            },
            ServedFile {
                path: format!("pypi/pypi/{name}/json"),
                body: serde_json::to_vec(&doc).expect("serialises"),
            },
        ],
        published,
    }
}

/// Writes the replay's files (and the recorded documents of the packages its version depends on,
/// `fixtures/preadvisory-deps/<url path>`, as they are) under `root` for a `FixtureServer`.
pub fn write_stand_in(case: &ReplayCase, now: Timestamp, root: &Path) -> Replayed {
    let replayed = replay(case, now);
    let deps = super::fixtures_dir().join("preadvisory-deps");
    if deps.is_dir() {
        copy_tree(&deps, root);
    }
    for file in &replayed.files {
        let path = root.join(&file.path);
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("create dir");
        std::fs::write(path, &file.body).expect("write");
    }
    replayed
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("create dir");
            copy_tree(&entry.path(), &target);
        } else if entry.file_name() != "SOURCES.md" {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
