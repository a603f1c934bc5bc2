//! The local copy of OSV's export against a loopback stand-in serving an `all.zip` built here from
//! the real records in `fixtures/osv/npm`, then a `modified_id.csv` naming one newer record.

use std::io::Write as _;
use std::time::Duration;

use super::*;
use crate::lookup::http::{HostCredentials, HttpSettings};
use crate::testing::{Fault, FixtureServer, fixtures_dir, registry_fixtures};

/// The records of `fixtures/osv/npm` the first `all.zip` holds: every one modified up to
/// 2024-06-17T19:09:12Z (ws, GHSA-3h5v-q93c-6h6q), so minimist's GHSA-xvch-5gv4-984h (modified
/// 2024-06-21T21:33:52Z) is the "new" record a refresh finds.
const IN_FIRST_ZIP: [&str; 10] = [
    "GHSA-29mw-wpgm-hmr9",
    "GHSA-35jh-r3h4-6jhm",
    "GHSA-3h5v-q93c-6h6q",
    "GHSA-6fc8-4gx4-v693",
    "GHSA-hrpp-h998-j3pp",
    "GHSA-jf85-cpcp-j695",
    "GHSA-p6mc-m468-83gw",
    "GHSA-r683-j2x4-v87g",
    "GHSA-rv95-896h-c2vc",
    "GHSA-w7rc-rwvf-8q5r",
];
const NEW_RECORD: &str = "GHSA-xvch-5gv4-984h";

fn record(id: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(format!("osv/npm/{id}.json"))).unwrap()
}

/// A zip of `(entry name, bytes)`, deflated as OSV's are.
fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn first_zip() -> Vec<u8> {
    let entries: Vec<(String, Vec<u8>)> = IN_FIRST_ZIP
        .iter()
        .map(|id| (format!("{id}.json"), record(id)))
        .collect();
    zip_of(&entries)
}

/// The real layout's csv: `<modified>,<id>`, newest first; the new record, then lines already held.
const CSV_ONE_NEW: &str = "2024-06-21T21:33:52Z,GHSA-xvch-5gv4-984h\n2024-06-17T19:09:12Z,GHSA-3h5v-q93c-6h6q\n2024-04-22T19:49:41Z,GHSA-jf85-cpcp-j695\n2024-04-17T18:39:19Z,GHSA-35jh-r3h4-6jhm\n";

fn stand_in() -> FixtureServer {
    let server = FixtureServer::start(registry_fixtures()).unwrap();
    server.set_body("/export/npm/all.zip", first_zip());
    server.set_body(&format!("/export/npm/{NEW_RECORD}.json"), record(NEW_RECORD));
    server
}

fn http() -> Arc<HttpClient> {
    let settings = HttpSettings {
        backoff: Duration::from_millis(10),
        retries: 1,
        ..HttpSettings::default()
    };
    Arc::new(HttpClient::new(settings, HostCredentials::default()).unwrap())
}

/// A CLI-like source (waits for a due sync) that finds every copy due (refresh 0).
fn settings(server: &FixtureServer, cache: &Path) -> ExportSettings {
    ExportSettings {
        refresh: Duration::ZERO,
        wait: true,
        // The fixtures are from 2024: old, but still to be updated record by record here.
        max_incremental_age: Duration::from_secs(100 * 365 * 24 * 3600),
        ..ExportSettings::new(&format!("{}/export", server.url()), cache)
    }
}

/// A source standing for another process over the same cache folder (nothing in memory shared).
fn other_process(settings: ExportSettings, http: Option<Arc<HttpClient>>) -> OsvExport {
    OsvExport::with_shared(settings, http, Arc::new(Shared::new()))
}

fn npm(name: &str) -> PackageRef {
    PackageRef::new(Ecosystem::Npm, name)
}

fn paths(server: &FixtureServer) -> Vec<String> {
    server.requests().into_iter().map(|r| r.path).collect()
}

fn ids(answer: &Result<Fetched<Vec<Advisory>>, LookupError>) -> Vec<String> {
    let mut ids: Vec<String> = answer.as_ref().unwrap().value.iter().map(|a| a.id.clone()).collect();
    ids.sort();
    ids
}

/// Every file under `root`, relative, sorted.
fn files_under(root: &Path) -> Vec<String> {
    let mut res = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                res.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    res.sort();
    res
}

#[tokio::test]
async fn first_sync_downloads_all_zip_and_a_refresh_fetches_only_the_new_record() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    let export = OsvExport::new(settings(&server, cache.path()), Some(http()));

    let answers = export
        .advisories(&[npm("minimist"), npm("lodash"), npm("left-pad")])
        .await;
    assert_eq!(
        paths(&server),
        vec!["/export/npm/all.zip"],
        "the first sync downloads all.zip only"
    );
    assert_eq!(
        ids(&answers[0].1),
        Vec::<String>::new(),
        "minimist's record is not in the first zip"
    );
    assert_eq!(ids(&answers[1].1).len(), 4, "{:?}", answers[1].1);
    assert_eq!(
        ids(&answers[2].1),
        Vec::<String>::new(),
        "the export covers npm: no record is no advisory"
    );
    let state = export.state(Ecosystem::Npm).await;
    assert_eq!(state.newest_modified, Some("2024-06-17T19:09:12Z".parse().unwrap()));
    assert!(state.last_error.is_none(), "{state:?}");

    // The export moves on: one record is new.
    server.clear_requests();
    server.set_body("/export/npm/modified_id.csv", CSV_ONE_NEW);
    let answers = export.advisories(&[npm("minimist")]).await;
    assert_eq!(
        paths(&server),
        vec![
            "/export/npm/modified_id.csv".to_string(),
            format!("/export/npm/{NEW_RECORD}.json")
        ],
        "a refresh reads the list and fetches only the record modified after the newest held"
    );
    assert_eq!(
        ids(&answers[0].1),
        vec![NEW_RECORD.to_string()],
        "the mirrored package is flagged"
    );
    let answer = answers[0].1.as_ref().unwrap();
    assert_eq!(
        answer.note.as_deref(),
        Some("advisories from the offline snapshot as of 2024-06-21 21:33 UTC")
    );
    assert!(answer.caveat.is_none());
    let state = export.state(Ecosystem::Npm).await;
    assert_eq!(state.newest_modified, Some("2024-06-21T21:33:52Z".parse().unwrap()));

    // Nothing newer: the list is read down to its first line, nothing else is fetched.
    server.clear_requests();
    let answers = export.advisories(&[npm("minimist")]).await;
    assert_eq!(paths(&server), vec!["/export/npm/modified_id.csv"]);
    assert_eq!(ids(&answers[0].1), vec![NEW_RECORD.to_string()]);

    // Only the cache folder was written: the archive, the fetched record, the state; no leftovers.
    assert_eq!(
        files_under(cache.path()),
        vec![
            format!("{EXPORT_DIR}/npm/all.zip"),
            format!("{EXPORT_DIR}/npm/records/{NEW_RECORD}.json"),
            format!("{EXPORT_DIR}/npm/sync.lock"),
            format!("{EXPORT_DIR}/npm/sync.state"),
        ]
    );
}

#[tokio::test]
async fn within_the_refresh_interval_nothing_is_asked_again() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    let settings = ExportSettings {
        refresh: Duration::from_secs(3600),
        ..settings(&server, cache.path())
    };
    let export = OsvExport::new(settings.clone(), Some(http()));
    export.advisories(&[npm("lodash")]).await;
    // Another process sharing the cache (a second editor) finds the copy fresh.
    let other = other_process(settings, Some(http()));
    let answers = other.advisories(&[npm("lodash")]).await;
    assert_eq!(ids(&answers[0].1).len(), 4);
    assert_eq!(paths(&server), vec!["/export/npm/all.zip"]);
}

#[tokio::test]
async fn a_malformed_or_unordered_list_falls_back_to_all_zip() {
    for csv in [
        "not a csv line at all\n",
        "2024-06-21T21:33:52Z,../../etc/passwd\n",
        // Out of order: an older line above a newer one (both newer than the copy).
        "2024-06-20T00:00:00Z,GHSA-3h5v-q93c-6h6q\n2024-06-21T21:33:52Z,GHSA-xvch-5gv4-984h\n",
        // The whole list is newer than the copy: it does not reach back far enough.
        "2024-06-21T21:33:52Z,GHSA-xvch-5gv4-984h\n",
    ] {
        let server = stand_in();
        let cache = tempfile::tempdir().unwrap();
        let export = OsvExport::new(settings(&server, cache.path()), Some(http()));
        export.advisories(&[npm("lodash")]).await;
        server.clear_requests();
        server.set_body("/export/npm/modified_id.csv", csv);
        let answers = export.advisories(&[npm("lodash")]).await;
        assert_eq!(
            paths(&server),
            vec!["/export/npm/modified_id.csv", "/export/npm/all.zip"],
            "{csv}"
        );
        assert_eq!(ids(&answers[0].1).len(), 4, "{csv}");
        assert!(export.state(Ecosystem::Npm).await.last_error.is_none(), "{csv}");
    }
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_copy_in_use_and_says_so() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    let export = OsvExport::new(settings(&server, cache.path()), Some(http()));
    export.advisories(&[npm("lodash")]).await;
    server.inject(
        "/export/",
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        None,
    );
    let answers = export.advisories(&[npm("lodash")]).await;
    let answer = answers[0].1.as_ref().unwrap();
    assert_eq!(answer.value.len(), 4, "the previous copy still answers");
    let caveat = answer.caveat.as_deref().unwrap_or_default();
    assert!(
        caveat.starts_with("advisories from the offline snapshot as of 2024-06-17 19:09 UTC; updating it failed:")
            && caveat.contains("500"),
        "{caveat}"
    );
    let state = export.state(Ecosystem::Npm).await;
    assert!(
        state.last_error.as_deref().unwrap_or_default().contains("500"),
        "{state:?}"
    );
}

#[tokio::test]
async fn no_copy_and_a_failed_download_is_a_failure_with_the_reason() {
    let server = FixtureServer::start(registry_fixtures()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let export = OsvExport::new(settings(&server, cache.path()), Some(http()));
    let answers = export.advisories(&[npm("lodash")]).await;
    match &answers[0].1 {
        Err(LookupError::Other(why)) => {
            assert!(why.contains("no local copy of OSV's npm export"), "{why}");
            assert!(why.contains("all.zip was not found"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        files_under(cache.path()),
        vec![
            format!("{EXPORT_DIR}/npm/sync.lock"),
            format!("{EXPORT_DIR}/npm/sync.state")
        ]
    );
}

#[tokio::test]
async fn a_zip_with_traversal_names_and_an_oversized_entry_is_read_safely() {
    let server = stand_in();
    let hostile = zip_of(&[
        ("../../../escaped.json".to_string(), record("GHSA-29mw-wpgm-hmr9")),
        ("/abs/also-escaped.json".to_string(), record("GHSA-35jh-r3h4-6jhm")),
        // Larger than a record may be once inflated (deflates to a few KB).
        ("huge.json".to_string(), vec![b' '; (OSV_RECORD_CAP + 1) as usize]),
        (format!("{NEW_RECORD}.json"), record(NEW_RECORD)),
    ]);
    server.set_body("/export/npm/all.zip", hostile);
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("a/b/c/cache");
    let export = OsvExport::new(settings(&server, &cache), Some(http()));
    let answers = export.advisories(&[npm("lodash"), npm("minimist")]).await;
    // Member names are never paths: the records are indexed, nothing lands outside the cache.
    assert_eq!(ids(&answers[0].1), vec!["GHSA-29mw-wpgm-hmr9", "GHSA-35jh-r3h4-6jhm"]);
    assert_eq!(ids(&answers[1].1), vec![NEW_RECORD.to_string()]);
    assert_eq!(
        files_under(root.path()),
        vec![
            format!("a/b/c/cache/{EXPORT_DIR}/npm/all.zip"),
            format!("a/b/c/cache/{EXPORT_DIR}/npm/sync.lock"),
            format!("a/b/c/cache/{EXPORT_DIR}/npm/sync.state"),
        ]
    );
}

#[tokio::test]
async fn an_oversized_download_is_refused_and_leaves_nothing_behind() {
    let server = FixtureServer::start(registry_fixtures()).unwrap();
    server.inject("/export/npm/all.zip", Fault::Chunked(64 * 1024 * 1024), None);
    let cache = tempfile::tempdir().unwrap();
    let settings = ExportSettings {
        max_zip_bytes: 1024 * 1024,
        ..settings(&server, cache.path())
    };
    let export = OsvExport::new(settings, Some(http()));
    let answers = export.advisories(&[npm("lodash")]).await;
    match &answers[0].1 {
        Err(LookupError::Other(why)) => assert!(why.contains("larger than 1 MB"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        files_under(cache.path()),
        vec![
            format!("{EXPORT_DIR}/npm/sync.lock"),
            format!("{EXPORT_DIR}/npm/sync.state")
        ]
    );
}

#[tokio::test]
async fn offline_uses_the_copy_at_hand_with_no_server() {
    let cache = tempfile::tempdir().unwrap();
    {
        let server = stand_in();
        let export = OsvExport::new(settings(&server, cache.path()), Some(http()));
        export.advisories(&[npm("lodash")]).await;
    }
    // The server is gone; offline, with no HTTP client at all.
    let offline = ExportSettings {
        offline: true,
        ..ExportSettings::new("http://127.0.0.1:9/export", cache.path())
    };
    let export = OsvExport::new(offline.clone(), None);
    let answers = export
        .advisories(&[npm("lodash"), PackageRef::new(Ecosystem::PyPI, "requests")])
        .await;
    assert_eq!(ids(&answers[0].1).len(), 4);
    assert!(answers[0].1.as_ref().unwrap().caveat.is_none());
    match &answers[1].1 {
        Err(LookupError::NotCovered(why)) => assert!(why.contains("offline"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(
        export.sync_now(Ecosystem::Npm).await.is_err(),
        "offline never downloads"
    );
}

#[tokio::test]
async fn an_editor_gets_an_answer_at_once_while_the_first_copy_downloads() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    let settings = ExportSettings {
        wait: false,
        refresh: Duration::from_secs(3600),
        ..settings(&server, cache.path())
    };
    let export = OsvExport::new(settings, Some(http()));
    let answers = export.advisories(&[npm("lodash")]).await;
    match &answers[0].1 {
        Err(LookupError::Other(why)) => assert!(why.contains("being downloaded"), "{why}"),
        other => panic!("{other:?}"),
    }
    // The background sync is owned by the source; waiting for it here stands for a later ask.
    let task = lock(&export.inner.tasks).remove(&Ecosystem::Npm).unwrap();
    task.await.unwrap();
    let answers = export.advisories(&[npm("lodash")]).await;
    assert_eq!(ids(&answers[0].1).len(), 4);
    assert_eq!(paths(&server), vec!["/export/npm/all.zip"]);
}

#[test]
fn ids_that_could_be_paths_are_refused() {
    for bad in [
        "",
        "..",
        ".hidden",
        "a/b",
        "a\\b",
        "GHSA-x/../../y",
        "id with space",
        "é",
    ] {
        assert!(!safe_id(bad), "{bad:?}");
    }
    for good in [
        "GHSA-29mw-wpgm-hmr9",
        "MAL-2024-1234",
        "PYSEC-2021-1",
        "RUSTSEC-2020-0001",
        "GO-2022.1",
    ] {
        assert!(safe_id(good), "{good}");
    }
}

#[tokio::test]
async fn an_updated_record_replaces_the_archived_one_and_the_archive_is_not_indexed_again() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    let export = OsvExport::new(settings(&server, cache.path()), Some(http()));
    let answers = export.advisories(&[npm("lodash")]).await;
    assert!(ids(&answers[0].1).contains(&"GHSA-35jh-r3h4-6jhm".to_string()));
    let base_before = lock(&export.inner.shared.loaded)[&Ecosystem::Npm].base.clone();

    // Derived from the real record: a later revision that no longer names `lodash` (its other
    // packages stay), as a corrected advisory would.
    let mut revised: serde_json::Value = serde_json::from_slice(&record("GHSA-35jh-r3h4-6jhm")).unwrap();
    revised["modified"] = serde_json::Value::String("2024-07-01T00:00:00Z".to_string());
    revised["affected"]
        .as_array_mut()
        .unwrap()
        .retain(|affected| affected["package"]["name"] != "lodash");
    server.set_body(
        "/export/npm/GHSA-35jh-r3h4-6jhm.json",
        serde_json::to_vec(&revised).unwrap(),
    );
    server.set_body(
        "/export/npm/modified_id.csv",
        format!("2024-07-01T00:00:00Z,GHSA-35jh-r3h4-6jhm\n{CSV_ONE_NEW}"),
    );
    let answers = export
        .advisories(&[npm("lodash"), npm("lodash-es"), npm("minimist")])
        .await;
    assert!(
        !ids(&answers[0].1).contains(&"GHSA-35jh-r3h4-6jhm".to_string()),
        "the revision no longer names lodash: {:?}",
        ids(&answers[0].1)
    );
    assert!(ids(&answers[1].1).contains(&"GHSA-35jh-r3h4-6jhm".to_string()));
    assert_eq!(ids(&answers[2].1), vec![NEW_RECORD.to_string()]);
    let base_after = lock(&export.inner.shared.loaded)[&Ecosystem::Npm].base.clone();
    assert!(
        Arc::ptr_eq(&base_before, &base_after),
        "an incremental refresh loads only the records it fetched"
    );
    assert_eq!(
        export.state(Ecosystem::Npm).await.newest_modified,
        Some("2024-07-01T00:00:00Z".parse().unwrap())
    );
}

#[tokio::test]
async fn downloads_a_killed_process_left_behind_are_swept_and_nothing_else() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    let tmp = cache.path().join(EXPORT_DIR).join(".tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3 * 3600);
    for name in ["part-1-00-all.zip", "part-2-00-all.zip", "not-ours"] {
        std::fs::write(tmp.join(name), b"partial").unwrap();
    }
    for name in ["part-1-00-all.zip", "not-ours"] {
        std::fs::File::options()
            .write(true)
            .open(tmp.join(name))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let export = OsvExport::new(settings(&server, cache.path()), Some(http()));
    export.advisories(&[npm("lodash")]).await;
    let mut left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    // The old partial download is gone; a recent one (another process's, still running) and a file
    // that is not ours stay.
    assert_eq!(left, vec!["not-ours", "part-2-00-all.zip"]);
}

#[tokio::test]
async fn two_processes_syncing_one_cache_at_once_leave_a_readable_copy() {
    // Two sources over one cache folder stand for two editor processes: each downloads and renames
    // its own temporary file; the last writer wins, and neither sees a torn file.
    let server = stand_in();
    server.set_body("/export/npm/modified_id.csv", CSV_ONE_NEW);
    let cache = tempfile::tempdir().unwrap();
    let first = other_process(settings(&server, cache.path()), Some(http()));
    let second = other_process(settings(&server, cache.path()), Some(http()));
    let packages = [npm("lodash"), npm("minimist")];
    for _ in 0..3 {
        let (a, b) = futures::join!(first.advisories(&packages), second.advisories(&packages));
        for answers in [a, b] {
            assert_eq!(ids(&answers[0].1).len(), 4, "{:?}", answers[0].1);
            assert!(answers[1].1.is_ok(), "{:?}", answers[1].1);
        }
    }
    // A third process reading afterwards finds one consistent copy with the new record.
    let reader = other_process(
        ExportSettings {
            offline: true,
            ..settings(&server, cache.path())
        },
        None,
    );
    let answers = reader.advisories(&packages).await;
    assert_eq!(ids(&answers[0].1).len(), 4);
    assert_eq!(ids(&answers[1].1), vec![NEW_RECORD.to_string()]);
    assert!(files_under(&cache.path().join(EXPORT_DIR).join(".tmp")).is_empty());
}

/// Two processes due for a sync at once take turns (a lock file in the copy folder): the second finds
/// the copy the first just made up to date, so the archive is downloaded once and neither overwrites
/// the other's `sync.state` with what it read before the other's sync.
#[tokio::test]
async fn two_processes_due_at_once_sync_one_after_the_other() {
    let server = stand_in();
    server.set_body("/export/npm/modified_id.csv", CSV_ONE_NEW);
    let cache = tempfile::tempdir().unwrap();
    let hourly = || ExportSettings {
        refresh: Duration::from_secs(3600),
        ..settings(&server, cache.path())
    };
    let first = other_process(hourly(), Some(http()));
    let second = other_process(hourly(), Some(http()));
    let packages = [npm("minimist")];
    let (a, b) = futures::join!(first.advisories(&packages), second.advisories(&packages));
    for answers in [a, b] {
        assert!(answers[0].1.is_ok(), "{:?}", answers[0].1);
    }
    let downloads = paths(&server).iter().filter(|path| path.ends_with("/all.zip")).count();
    assert_eq!(downloads, 1, "{:?}", paths(&server));
    let state = first.state(Ecosystem::Npm).await;
    assert!(
        state.zip_changed_at.is_some() && state.last_error.is_none(),
        "{state:?}"
    );
}

/// An `osv-db` holding a few npm records (not the package asked about).
fn osv_db_of(ids: &[&str]) -> (tempfile::TempDir, OfflineDb) {
    let dir = tempfile::tempdir().unwrap();
    for id in ids {
        std::fs::write(dir.path().join(format!("{id}.json")), record(id)).unwrap();
    }
    let (db, errors) = OfflineDb::load(&[dir.path().to_path_buf()]);
    assert!(errors.is_empty(), "{errors:?}");
    (dir, db)
}

#[tokio::test]
async fn a_failed_or_pending_first_download_beside_osv_db_is_a_caveat_never_a_clean_answer() {
    use crate::lookup::advisories::MergedAdvisories;
    for wait in [true, false] {
        // The export host answers 404 for everything (blocked, or a wrong endpoint).
        let server = FixtureServer::start(registry_fixtures()).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let settings = ExportSettings {
            wait,
            ..settings(&server, cache.path())
        };
        let export: Arc<dyn Advisories> = Arc::new(OsvExport::new(settings, Some(http())));
        let (_dir, db) = osv_db_of(&["GHSA-35jh-r3h4-6jhm"]);
        let merged = MergedAdvisories(vec![Arc::new(db), export.clone()]);
        let answers = merged.advisories(&[npm("minimist")]).await;
        let answer = answers[0].1.as_ref().expect("osv-db answered");
        let caveat = answer.caveat.as_deref().unwrap_or_default();
        let why = if wait {
            "all.zip was not found"
        } else {
            "being downloaded"
        };
        assert!(
            caveat.contains("no local copy of OSV's npm export") && caveat.contains(why),
            "wait={wait}: {answer:?}"
        );
        // Alone, the export is a failure too, never "not covered".
        let answers = export.advisories(&[npm("minimist")]).await;
        assert!(
            matches!(&answers[0].1, Err(LookupError::Other(why)) if why.contains("no local copy")),
            "wait={wait}: {:?}",
            answers[0].1
        );
    }
}

#[tokio::test]
async fn an_export_that_never_applies_is_not_covered() {
    let cache = tempfile::tempdir().unwrap();
    for (settings, why) in [
        (ExportSettings::new("", cache.path()), "is empty"),
        (
            ExportSettings {
                offline: true,
                ..ExportSettings::new("http://127.0.0.1:9/export", cache.path())
            },
            "offline",
        ),
    ] {
        let export = OsvExport::new(settings, Some(http()));
        let answers = export.advisories(&[npm("minimist")]).await;
        assert!(
            matches!(&answers[0].1, Err(LookupError::NotCovered(text)) if text.contains(why)),
            "{:?}",
            answers[0].1
        );
    }
}

#[tokio::test]
async fn a_full_sync_by_another_process_is_loaded_by_a_process_that_holds_the_old_archive() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    let fresh = ExportSettings {
        refresh: Duration::from_secs(3600),
        ..settings(&server, cache.path())
    };
    // A long-running process (an editor) loads the first archive.
    let editor = OsvExport::new(fresh.clone(), Some(http()));
    let answers = editor.advisories(&[npm("minimist")]).await;
    assert_eq!(ids(&answers[0].1), Vec::<String>::new());
    // Another process downloads a newer archive that holds minimist's record (no list: a full sync).
    let mut entries: Vec<(String, Vec<u8>)> = IN_FIRST_ZIP
        .iter()
        .map(|id| (format!("{id}.json"), record(id)))
        .collect();
    entries.push((format!("{NEW_RECORD}.json"), record(NEW_RECORD)));
    server.set_body("/export/npm/all.zip", zip_of(&entries));
    let other = other_process(fresh, Some(http()));
    let outcome = other.sync_now(Ecosystem::Npm).await.unwrap();
    assert!(matches!(outcome, SyncOutcome::Full { .. }), "{outcome:?}");
    assert!(other.state(Ecosystem::Npm).await.zip_changed_at.is_some());
    // The editor answers from the new archive, not from its old one.
    let answers = editor.advisories(&[npm("minimist")]).await;
    assert_eq!(ids(&answers[0].1), vec![NEW_RECORD.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_over_one_cache_share_one_copy_and_concurrent_callers_load_it_once() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    // Another process downloaded the copy.
    other_process(settings(&server, cache.path()), Some(http()))
        .advisories(&[npm("lodash")])
        .await;
    server.clear_requests();
    // Two lookup settings keys of one process (say, two projects, one offline) over one cache folder.
    let offline = OsvExport::new(
        ExportSettings {
            offline: true,
            ..settings(&server, cache.path())
        },
        None,
    );
    let editor = OsvExport::new(
        ExportSettings {
            wait: false,
            refresh: Duration::from_secs(3600),
            ..settings(&server, cache.path())
        },
        Some(http()),
    );
    assert!(Arc::ptr_eq(&offline.inner.shared, &editor.inner.shared));
    let shared = offline.inner.shared.clone();
    *lock(&shared.hold.0) = true;
    // Many documents opening at once.
    let (offline, editor) = (Arc::new(offline), Arc::new(editor));
    let callers: Vec<_> = (0..8)
        .map(|i| {
            let source = if i % 2 == 0 { offline.clone() } else { editor.clone() };
            tokio::spawn(async move { source.advisories(&[npm("lodash")]).await })
        })
        .collect();
    // Every caller has found no copy in memory while the first load is held.
    while shared.entered.load(std::sync::atomic::Ordering::SeqCst) < 8 {
        tokio::task::yield_now().await;
    }
    *lock(&shared.hold.0) = false;
    shared.hold.1.notify_all();
    for caller in callers {
        let answer = caller.await.unwrap();
        assert_eq!(ids(&answer[0].1).len(), 4, "{:?}", answer[0].1);
    }
    assert_eq!(
        shared.loads.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "the archive is indexed once"
    );
    assert!(paths(&server).is_empty(), "{:?}", paths(&server));
}

/// A record derived from a real one, with another `modified` (and, for lodash's, no longer naming
/// lodash, as a corrected advisory would).
fn revised(id: &str, modified: &str) -> Vec<u8> {
    let mut record: serde_json::Value = serde_json::from_slice(&record(id)).unwrap();
    record["modified"] = serde_json::Value::String(modified.to_string());
    record["affected"]
        .as_array_mut()
        .unwrap()
        .retain(|affected| affected["package"]["name"] != "lodash");
    serde_json::to_vec(&record).unwrap()
}

#[tokio::test]
async fn a_refresh_fetches_records_with_the_newest_time_held_or_exported_late_with_an_older_one() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    let export = OsvExport::new(settings(&server, cache.path()), Some(http()));
    export.advisories(&[npm("lodash")]).await;
    server.clear_requests();
    // The copy's newest record is ws's, 2024-06-17T19:09:12Z. Two records appear in the list after
    // that sync: minimist's, with that very time, and a revision of lodash's exported late, with a
    // time an hour older than the newest held.
    server.set_body(
        &format!("/export/npm/{NEW_RECORD}.json"),
        revised(NEW_RECORD, "2024-06-17T19:09:12Z"),
    );
    server.set_body(
        "/export/npm/GHSA-35jh-r3h4-6jhm.json",
        revised("GHSA-35jh-r3h4-6jhm", "2024-06-17T18:09:12Z"),
    );
    server.set_body(
        "/export/npm/modified_id.csv",
        "2024-06-17T19:09:12Z,GHSA-xvch-5gv4-984h\n2024-06-17T19:09:12Z,GHSA-3h5v-q93c-6h6q\n2024-06-17T18:09:12Z,GHSA-35jh-r3h4-6jhm\n2024-04-22T19:49:41Z,GHSA-jf85-cpcp-j695\n",
    );
    let answers = export.advisories(&[npm("minimist"), npm("lodash")]).await;
    assert_eq!(ids(&answers[0].1), vec![NEW_RECORD.to_string()]);
    assert!(
        !ids(&answers[1].1).contains(&"GHSA-35jh-r3h4-6jhm".to_string()),
        "{:?}",
        ids(&answers[1].1)
    );
    let mut asked = paths(&server);
    asked.sort();
    assert_eq!(
        asked,
        vec![
            "/export/npm/GHSA-35jh-r3h4-6jhm.json".to_string(),
            format!("/export/npm/{NEW_RECORD}.json"),
            "/export/npm/modified_id.csv".to_string(),
        ],
        "ws's record, held with that time, is not fetched again"
    );
    // The next refresh finds both held: nothing is fetched again.
    server.clear_requests();
    export.advisories(&[npm("minimist")]).await;
    assert_eq!(paths(&server), vec!["/export/npm/modified_id.csv"]);
}

#[tokio::test]
async fn all_zip_is_downloaded_again_a_week_after_the_last_download() {
    let server = stand_in();
    server.set_body("/export/npm/modified_id.csv", CSV_ONE_NEW);
    let cache = tempfile::tempdir().unwrap();
    let settings = ExportSettings {
        max_incremental_age: Duration::from_secs(7 * 24 * 3600),
        ..settings(&server, cache.path())
    };
    let export = OsvExport::new(settings, Some(http()));
    export.advisories(&[npm("lodash")]).await;
    // Within the week, the copy is updated record by record, however old its records are.
    server.clear_requests();
    export.advisories(&[npm("lodash")]).await;
    assert_eq!(
        paths(&server),
        vec![
            "/export/npm/modified_id.csv".to_string(),
            format!("/export/npm/{NEW_RECORD}.json")
        ]
    );
    // Eight days after the archive was downloaded, it is downloaded again.
    let dir = cache.path().join(EXPORT_DIR).join("npm");
    let mut state = read_state(&dir).unwrap();
    let eight_days_ago = Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(8 * 24))
        .unwrap();
    state.zip_changed_at = Some(eight_days_ago);
    write_state(&dir, &state).unwrap();
    server.clear_requests();
    export.advisories(&[npm("lodash")]).await;
    assert_eq!(paths(&server), vec!["/export/npm/all.zip"]);
}

#[tokio::test]
async fn an_unreadable_record_in_a_refresh_is_skipped_and_said_and_the_rest_is_kept() {
    let server = stand_in();
    let cache = tempfile::tempdir().unwrap();
    let export = OsvExport::new(settings(&server, cache.path()), Some(http()));
    export.advisories(&[npm("lodash")]).await;
    server.set_body("/export/npm/GHSA-zzzz-zzzz-zzzz.json", "{not json");
    // A record served under another record's name.
    server.set_body("/export/npm/GHSA-mmmm-mmmm-mmmm.json", record("GHSA-29mw-wpgm-hmr9"));
    server.set_body(
        "/export/npm/modified_id.csv",
        format!("2024-06-22T00:00:00Z,GHSA-zzzz-zzzz-zzzz\n2024-06-21T23:00:00Z,GHSA-mmmm-mmmm-mmmm\n{CSV_ONE_NEW}"),
    );
    let outcome = export.sync_now(Ecosystem::Npm).await.unwrap();
    match &outcome {
        SyncOutcome::Incremental { fetched: 1, skipped } => {
            assert_eq!(skipped.len(), 2, "{skipped:?}");
            assert!(skipped[0].contains("GHSA-mmmm-mmmm-mmmm"), "{skipped:?}");
            assert!(skipped[1].contains("GHSA-zzzz-zzzz-zzzz"), "{skipped:?}");
        }
        other => panic!("{other:?}"),
    }
    let answers = export.advisories(&[npm("minimist")]).await;
    assert_eq!(ids(&answers[0].1), vec![NEW_RECORD.to_string()]);
    let answer = answers[0].1.as_ref().unwrap();
    let note = answer.note.as_deref().unwrap_or_default();
    assert!(
        note.contains("GHSA-zzzz-zzzz-zzzz") && note.contains("GHSA-mmmm-mmmm-mmmm"),
        "{answer:?}"
    );
    // The next refresh does not fail on them either.
    assert!(export.sync_now(Ecosystem::Npm).await.is_ok());
    assert!(export.state(Ecosystem::Npm).await.last_error.is_none());
}
