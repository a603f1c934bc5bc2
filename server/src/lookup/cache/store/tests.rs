use super::*;
use crate::model::VersionFacts;

#[test]
fn rows_of_the_previous_format_are_not_decoded() {
    let facts = facts(&[("1.0.0", "sha256:ab")]);
    let mut row = encode_value(&facts).unwrap();
    assert_eq!(decode_value::<PackageFacts>(&row).unwrap(), facts);
    // The same bytes under format 1 (before `VersionFacts::meta`): dropped, so refetched.
    row[0] = 1;
    assert!(decode_value::<PackageFacts>(&row).is_err());
}

fn facts(versions: &[(&str, &str)]) -> PackageFacts {
    PackageFacts {
        versions: versions
            .iter()
            .map(|(v, d)| VersionFacts {
                version: (*v).into(),
                digests: vec![d.to_string()].into(),
                ..VersionFacts::default()
            })
            .collect(),
        ..PackageFacts::default()
    }
}

fn entry(value: &str) -> StoredEntry {
    StoredEntry {
        value: Some(value.as_bytes().to_vec()),
        fetched_at: Timestamp::UNIX_EPOCH,
        expires_at: Timestamp::UNIX_EPOCH,
        validators: Validators {
            etag: Some("\"e\"".into()),
            last_modified: None,
        },
    }
}

#[test]
fn round_trip_and_upsert() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    assert!(store.path().is_some());
    store.put("pkg", "npm:a", &entry("one")).unwrap();
    store.put("pkg", "npm:a", &entry("two")).unwrap();
    let got = store.get("pkg", "npm:a").unwrap().unwrap();
    assert_eq!(got.value.as_deref(), Some(&b"two"[..]));
    assert_eq!(got.validators.etag.as_deref(), Some("\"e\""));
    assert_eq!(store.count("pkg").unwrap(), 1);
    drop(store);
    let reopened = Store::open(dir.path());
    assert!(reopened.get("pkg", "npm:a").unwrap().is_some());
    assert!(reopened.integrity_ok().unwrap());
}

/// Editors starting together open a store that does not exist yet at the same moment: every one gets
/// the file (none falls back to memory) and no open deletes what another already wrote.
#[test]
fn stores_opened_at_once_on_a_new_folder_share_one_file() {
    for round in 0..20 {
        let dir = tempfile::tempdir().unwrap();
        let barrier = std::sync::Barrier::new(6);
        std::thread::scope(|scope| {
            for id in 0..6 {
                let (dir, barrier) = (dir.path(), &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let store = Store::open(dir);
                    assert!(store.path().is_some(), "round {round}: opener {id} fell back to memory");
                    store.put("pkg", &format!("k{id}"), &entry("v")).unwrap();
                });
            }
        });
        let store = Store::open(dir.path());
        assert_eq!(
            store.count("pkg").unwrap(),
            6,
            "round {round}: an open deleted another's write"
        );
    }
}

/// Another process holding the store's lock while this one opens it (four editors starting at once, or
/// a long write) is contention, not damage: the open waits, then runs in memory, and never deletes the
/// file every other process shares, with its cached answers and its takedown memory (`seen_v1`).
#[test]
fn a_store_locked_by_another_process_is_never_deleted_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path());
    store.put("pkg", "npm:a", &entry("kept")).unwrap();
    store
        .observe_versions("npm:a", &facts(&[("1.0.0", "sha512-a")]), Timestamp::now())
        .unwrap();
    drop(store);
    // A writer elsewhere: in rollback-journal mode an exclusive lock keeps even readers out, so every
    // statement of the open is refused as busy.
    let holder = Connection::open(dir.path().join(STORE_FILE)).unwrap();
    let _mode: String = holder
        .query_row("PRAGMA journal_mode=DELETE", [], |row| row.get(0))
        .unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE;").unwrap();

    let busy = Store::open_with_busy_timeout(dir.path(), Duration::from_millis(50));
    assert!(
        busy.path().is_none(),
        "a busy store is used in memory, not opened as if empty"
    );

    holder.execute_batch("COMMIT;").unwrap();
    drop(holder);
    let reopened = Store::open(dir.path());
    assert!(reopened.path().is_some());
    assert_eq!(
        reopened.get("pkg", "npm:a").unwrap().and_then(|e| e.value).as_deref(),
        Some(&b"kept"[..]),
        "the busy open deleted the shared store"
    );
    assert_eq!(reopened.query_count("SELECT count(*) FROM seen_v1").unwrap(), 1);
}

#[test]
fn garbage_file_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(STORE_FILE), vec![0x5a; 8192]).unwrap();
    let store = Store::open(dir.path());
    assert!(store.path().is_some());
    store.put("pkg", "k", &entry("v")).unwrap();
    assert!(store.get("pkg", "k").unwrap().is_some());
}

#[test]
fn foreign_database_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = Connection::open(dir.path().join(STORE_FILE)).unwrap();
        conn.execute_batch("CREATE TABLE other (x); INSERT INTO other VALUES (1);")
            .unwrap();
    }
    let store = Store::open(dir.path());
    store.put("pkg", "k", &entry("v")).unwrap();
    let others = store
        .query_count("SELECT count(*) FROM sqlite_master WHERE name='other'")
        .unwrap();
    assert_eq!(others, 0);
}

#[test]
fn unusable_dir_falls_back_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let store = Store::open(&file);
    assert!(store.path().is_none());
    store.put("pkg", "k", &entry("v")).unwrap();
}

#[test]
fn takedown_memory_reports_vanished_and_changed_versions() {
    let store = Store::in_memory();
    let t1: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    let t2: Timestamp = "2026-11-02T00:00:00Z".parse().unwrap();
    let t3: Timestamp = "2026-11-03T00:00:00Z".parse().unwrap();
    assert!(
        store
            .observe_versions("npm:x", &facts(&[("1.0.0", "sha512-a"), ("1.0.1", "sha512-b")]), t1)
            .unwrap()
            .is_empty()
    );
    let vanished = store
        .observe_versions("npm:x", &facts(&[("1.0.0", "sha512-A")]), t2)
        .unwrap();
    assert_eq!(vanished.len(), 2, "{vanished:?}");
    assert_eq!(vanished[0].version, "1.0.1");
    assert_eq!(vanished[0].last_seen, t1);
    assert_eq!(vanished[0].missing_since, t2);
    assert_eq!(vanished[1].changed_digest.as_deref(), Some("sha512-a"));
    // Still missing a day later: "missing since" keeps the first day it was missed.
    let again = store
        .observe_versions("npm:x", &facts(&[("1.0.0", "sha512-A")]), t3)
        .unwrap();
    assert_eq!(again[0].missing_since, t2);
    assert_eq!(store.clear().unwrap(), 0);
    let seen = store.query_count("SELECT count(*) FROM seen_v1").unwrap();
    assert_eq!(seen, 3);
}

/// Several processes on one store, one killed with SIGKILL mid-run. The test binary runs itself as
/// the workers (`hammer_worker`, inert unless `GATEHOUSE_HAMMER_DIR` is set).
mod processes {
    use super::*;
    use std::io::{BufRead, Write};
    use std::process::{Command, Stdio};
    use std::time::Instant;

    fn worker_facts(id: u32, i: u64) -> PackageFacts {
        facts(&[
            (&format!("1.0.{i}"), &format!("sha512-w{id}")),
            (&format!("2.0.{}", i % 7), "sha512-shared"),
        ])
    }

    #[test]
    fn hammer_worker() {
        let Ok(dir) = std::env::var("GATEHOUSE_HAMMER_DIR") else {
            return;
        };
        let id: u32 = std::env::var("GATEHOUSE_HAMMER_ID").unwrap().parse().unwrap();
        let seconds: u64 = std::env::var("GATEHOUSE_HAMMER_SECS").unwrap().parse().unwrap();
        let store = Store::open(Path::new(&dir));
        assert!(store.path().is_some(), "the store fell back to memory");
        let started = Instant::now();
        let mut stdout = std::io::stdout();
        let mut i = 0u64;
        while started.elapsed() < Duration::from_secs(seconds) {
            let key = format!("w{id}-{i}");
            store
                .put("hammer", &key, &entry(&"x".repeat(200 + (i as usize % 3000))))
                .unwrap();
            store
                .observe_versions(&format!("npm:pkg{}", i % 25), &worker_facts(id, i), Timestamp::now())
                .unwrap();
            let other = format!("w{}-{}", (id + 1) % 4, i / 2);
            let _ = store.get("hammer", &other).unwrap();
            writeln!(stdout, "committed {i}").unwrap();
            stdout.flush().unwrap();
            i += 1;
        }
    }

    #[test]
    fn four_processes_and_a_sigkill_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut children: Vec<_> = (0..4u32)
            .map(|id| {
                Command::new(&exe)
                    .args([
                        "--exact",
                        "lookup::cache::store::tests::processes::hammer_worker",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env("GATEHOUSE_HAMMER_DIR", dir.path())
                    .env("GATEHOUSE_HAMMER_ID", id.to_string())
                    .env("GATEHOUSE_HAMMER_SECS", if id == 0 { "30" } else { "3" })
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Let worker 0 get going, then kill it without warning (SIGKILL on Unix).
        let stdout0 = children[0].stdout.take().unwrap();
        let mut reader0 = std::io::BufReader::new(stdout0);
        let mut committed0 = Vec::new();
        let mut line = String::new();
        while committed0.len() < 200 {
            line.clear();
            if reader0.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some(n) = line.trim().strip_prefix("committed ") {
                committed0.push(n.parse::<u64>().unwrap());
            }
        }
        children[0].kill().unwrap();
        children[0].wait().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut reader0, &mut rest).unwrap();
        committed0.extend(
            rest.lines()
                .filter_map(|l| l.strip_prefix("committed ")?.parse::<u64>().ok()),
        );
        let mut committed = vec![committed0];
        for child in children.drain(1..) {
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "worker failed: {stderr}");
            let stdout = String::from_utf8_lossy(&output.stdout);
            committed.push(
                stdout
                    .lines()
                    .filter_map(|l| l.strip_prefix("committed ")?.parse::<u64>().ok())
                    .collect(),
            );
        }
        let store = Store::open(dir.path());
        assert!(store.path().is_some());
        assert!(store.integrity_ok().unwrap());
        let mut total = 0;
        for (id, done) in committed.iter().enumerate() {
            assert!(!done.is_empty(), "worker {id} committed nothing");
            for i in done {
                assert!(
                    store.get("hammer", &format!("w{id}-{i}")).unwrap().is_some(),
                    "lost w{id}-{i}"
                );
            }
            total += done.len();
        }
        let seen = store.query_count("SELECT count(*) FROM seen_v1").unwrap();
        assert!(seen > 0);
        eprintln!(
            "4 processes committed {total} entries ({:?} each); none lost",
            committed.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
}

/// A new store is set up without fsync, but what it stores afterwards is synced as before: WAL mode with
/// `synchronous=NORMAL`, on a new file and on reopening it.
#[test]
fn a_store_syncs_normally_once_set_up() {
    let dir = tempfile::tempdir().unwrap();
    for _open in 0..2 {
        let store = Store::open(dir.path());
        assert!(store.path().is_some(), "the store is on disk");
        let (mode, synchronous) = store
            .with(|conn| {
                let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
                let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |row| row.get(0))?;
                Ok((mode, synchronous))
            })
            .unwrap();
        assert_eq!((mode.as_str(), synchronous), ("wal", 1), "1 is NORMAL");
        store.put("registry", "k", &entry("v")).unwrap();
        assert_eq!(store.get("registry", "k").unwrap(), Some(entry("v")));
    }
}
