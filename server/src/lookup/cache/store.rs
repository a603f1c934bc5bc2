//! The on-disk tier: one SQLite file per user, shared by every editor process and CLI run.
//!
//! Why SQLite (rusqlite, bundled): WAL mode lets many readers and one writer at a time work across
//! processes without a lock server; a process killed mid-transaction leaves the last committed state
//! (the WAL is replayed or discarded on the next open), and SQLite's own locking is the best-tested
//! answer to "several processes, one cache". Files per key (as crates-lsp does) race, tear and leak.
//!
//! Invariants:
//! - Short transactions, `busy_timeout` 5 s, atomic upserts: a concurrent writer waits, never fails.
//! - Tables carry their schema version in their name (`entries_v1`, `seen_v1`); `application_id`
//!   marks the file as ours. A file that is not SQLite, is corrupt, or belongs to another application is
//!   deleted and rebuilt; if even that fails the store runs in memory. Opening is never fatal.
//! - A row that fails to decode is deleted by the caller (`delete`), never served.
//! - `seen_v1` is append-only memory of every (version, digest) ever observed per package: rows are
//!   updated (`last_seen`, `missing_since`) but never deleted, not even by `clear`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::lookup::Validators;
use crate::lookup::cache::takedown::{SeenRow, vanished_from};
use crate::model::{PackageFacts, Vanished};

/// "GATE".
const APPLICATION_ID: i64 = 0x4741_5445;
const SCHEMA_VERSION: i64 = 1;
pub const STORE_FILE: &str = "gatehouse-v1.sqlite3";

#[derive(Debug, thiserror::Error)]
#[error("cache store: {0}")]
pub struct StoreError(String);

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError(err.to_string())
    }
}

/// One cached document. `value` is `None` for a remembered "not found".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub value: Option<Vec<u8>>,
    pub fetched_at: Timestamp,
    pub expires_at: Timestamp,
    pub validators: Validators,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    pub path: PathBuf,
    pub entries_by_kind: Vec<(String, u64)>,
    pub expired_entries: u64,
    pub seen_versions: u64,
    pub bytes_on_disk: u64,
}

impl std::fmt::Display for StoreStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "cache: {}", self.path.display())?;
        for (kind, count) in &self.entries_by_kind {
            writeln!(f, "  {kind}: {count} entries")?;
        }
        writeln!(f, "  expired (kept for offline use): {}", self.expired_entries)?;
        writeln!(f, "  versions remembered (takedown memory): {}", self.seen_versions)?;
        write!(f, "  size on disk: {:.1} MB", self.bytes_on_disk as f64 / 1_048_576.0)
    }
}

pub struct Store {
    path: Option<PathBuf>,
    /// `None` only when SQLite could not even open an in-memory database; every call then errors.
    conn: Mutex<Option<Connection>>,
}

pub(super) fn millis(ts: Timestamp) -> i64 {
    ts.as_millisecond()
}

pub(super) fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn is_corruption(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// How long a statement waits for another process's lock before it is refused as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn configure(conn: &Connection, busy_timeout: Duration) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(busy_timeout)?;
    // Setting up a new file (WAL mode, the marks, the tables) is done without fsync: it holds no data yet,
    // and the syncs cost 40–60 ms on a busy disk, which the first lookups of a fresh cache waited for. A
    // power cut at this point loses no observation, and a file it left corrupt is rebuilt (`open_file`).
    // On an existing store nothing below writes. Everything after uses `synchronous=NORMAL`.
    conn.execute_batch("PRAGMA synchronous=OFF;")?;
    // journal_mode returns a row; WAL persists in the file.
    let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    let app: i64 = conn.query_row("PRAGMA application_id", [], |row| row.get(0))?;
    if app != APPLICATION_ID {
        if app != 0 {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
                Some("a file of another application".to_string()),
            ));
        }
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name NOT LIKE 'entries_v%' AND name NOT LIKE 'seen_v%'",
            [],
            |row| row.get(0),
        )?;
        if tables > 0 {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
                Some("a database of another application".to_string()),
            ));
        }
        conn.execute_batch(&format!("PRAGMA application_id={APPLICATION_ID};"))?;
    }
    // Creating the tables takes the write lock: only when they are missing, so opening a store that
    // exists never waits on another process's writer.
    let ours: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('entries_v1', 'seen_v1')",
        [],
        |row| row.get(0),
    )?;
    if ours != 2 {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
         CREATE TABLE IF NOT EXISTS entries_v1 (
             kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB,
             fetched_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
             etag TEXT, last_modified TEXT,
             PRIMARY KEY (kind, key)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS seen_v1 (
             package TEXT NOT NULL, version TEXT NOT NULL, digest TEXT NOT NULL,
             first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, missing_since INTEGER,
             PRIMARY KEY (package, version, digest)) WITHOUT ROWID;
         COMMIT;",
        )?;
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version < SCHEMA_VERSION {
        conn.execute_batch(&format!("PRAGMA user_version={SCHEMA_VERSION};"))?;
    }
    // A page cache of 512 KiB instead of 2 MiB: the store is read a row per package, and the OS's page
    // cache already holds the file (an editor session's peak RSS carried ~2 MB of SQLite pages).
    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA cache_size=-512;")?;
    Ok(())
}

fn remove_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

impl Store {
    /// Opens (or creates, or rebuilds) the store in `dir`. Never fails: the fallback is in memory.
    pub fn open(dir: &Path) -> Store {
        Store::open_reporting(dir).0
    }

    /// `open`, and what to tell the user when the file could not be used: then answers live in memory
    /// only, and the takedown memory earlier runs wrote (versions seen before and gone since) is not
    /// consulted, which is a check not fully done, never a silent success. No folder at all (settings
    /// that ask for none) is in memory by design, and said by no one.
    pub fn open_reporting(dir: &Path) -> (Store, Option<String>) {
        Store::open_or_memory(dir, BUSY_TIMEOUT)
    }

    /// `open`, waiting at most `busy_timeout` for another process's lock on each statement.
    #[cfg(test)]
    pub(crate) fn open_with_busy_timeout(dir: &Path, busy_timeout: Duration) -> Store {
        Store::open_or_memory(dir, busy_timeout).0
    }

    fn open_or_memory(dir: &Path, busy_timeout: Duration) -> (Store, Option<String>) {
        if dir.as_os_str().is_empty() {
            return (Store::in_memory(), None);
        }
        match Store::open_file(dir, busy_timeout) {
            Ok(store) => (store, None),
            Err(err) => {
                tracing::warn!(
                    "cache store in {} unusable ({err}); caching in memory only",
                    dir.display()
                );
                let message = format!(
                    "the shared cache store in {} could not be used ({err}): answers are kept in memory \
                     only, and versions earlier runs saw that were taken down since (the takedown memory) \
                     are not looked for",
                    dir.display()
                );
                (Store::in_memory(), Some(message))
            }
        }
    }

    fn open_file(dir: &Path, busy_timeout: Duration) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|err| StoreError(format!("cannot create {}: {err}", dir.display())))?;
        let path = dir.join(STORE_FILE);
        // SQLite answers some lock conflicts of an open at once, without its busy handler (switching a
        // new file to WAL while another process does the same): retried here until `busy_timeout`.
        let deadline = std::time::Instant::now() + busy_timeout;
        let mut pause = Duration::from_millis(2);
        let attempt = loop {
            let attempt = Connection::open(&path).and_then(|conn| configure(&conn, busy_timeout).map(|()| conn));
            match attempt {
                Err(err) if is_busy(&err) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                attempt => break attempt,
            }
        };
        let conn = match attempt {
            Ok(conn) => conn,
            // Only a file that is damaged or not ours is rebuilt. Busy, locked, read-only, out of
            // space: the file is shared by every process and holds the takedown memory, so it is
            // left alone and this process caches in memory.
            Err(err) if is_corruption(&err) => {
                tracing::warn!("rebuilding the cache store {}: {err}", path.display());
                remove_files(&path);
                let conn = Connection::open(&path)?;
                configure(&conn, busy_timeout)?;
                conn
            }
            Err(err) => return Err(err.into()),
        };
        Ok(Store {
            path: Some(path),
            conn: Mutex::new(Some(conn)),
        })
    }

    /// Opens the store already in `dir`, creating and rebuilding nothing: the file must be a regular
    /// file (not a symlink) holding a Gatehouse store. For `clear`, which must never touch a folder
    /// or a file Gatehouse did not make.
    pub fn open_existing(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(STORE_FILE);
        match std::fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.file_type().is_file() => {}
            Ok(_) => {
                return Err(StoreError(format!(
                    "{} is not a regular file, so not a Gatehouse store: nothing cleared",
                    path.display()
                )));
            }
            Err(_) => {
                return Err(StoreError(format!(
                    "{} holds no Gatehouse store ({STORE_FILE}): nothing cleared",
                    dir.display()
                )));
            }
        }
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let app: i64 = conn.query_row("PRAGMA application_id", [], |row| row.get(0))?;
        let ours: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='entries_v1'",
            [],
            |row| row.get(0),
        )?;
        if app != APPLICATION_ID || ours != 1 {
            return Err(StoreError(format!(
                "{} is not a Gatehouse store: nothing cleared",
                path.display()
            )));
        }
        Ok(Store {
            path: Some(path),
            conn: Mutex::new(Some(conn)),
        })
    }

    /// A store that lives only as long as the process (tests, or when the disk is unusable).
    pub fn in_memory() -> Store {
        let conn = Connection::open_in_memory().and_then(|conn| configure(&conn, BUSY_TIMEOUT).map(|()| conn));
        Store {
            path: None,
            conn: Mutex::new(conn.ok()),
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        match self.conn.lock() {
            Ok(conn) => conn,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs `f` on the connection; a corruption error marks the file for rebuilding on the next open.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error>) -> Result<T, StoreError> {
        let mut guard = self.lock();
        let Some(conn) = guard.as_mut() else {
            return Err(StoreError("no database".to_string()));
        };
        f(conn).map_err(|err| {
            if is_corruption(&err) {
                tracing::warn!("the cache store is corrupt; it will be rebuilt on the next start: {err}");
                let _ = conn.execute_batch("PRAGMA application_id=1;");
            }
            err.into()
        })
    }

    pub fn get(&self, kind: &str, key: &str) -> Result<Option<StoredEntry>, StoreError> {
        let row = self.with(|conn| {
            conn.query_row(SELECT_ENTRY, params![kind, key], entry_of_row)
                .optional()
        });
        if row.is_err() {
            // A row that cannot be read is dropped, so the next ask refetches it.
            let _ = self.delete(kind, key);
        }
        row
    }

    /// Reads many keys in one read transaction (the warm path of a new process reads hundreds at once).
    pub fn get_many(&self, kind: &str, keys: &[String]) -> Result<Vec<Option<StoredEntry>>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let mut res = Vec::with_capacity(keys.len());
            {
                let mut select = tx.prepare_cached(SELECT_ENTRY)?;
                for key in keys {
                    let row = select.query_row(params![kind, key], entry_of_row).optional();
                    // A row that cannot be read is a miss (it is rewritten after the next fetch).
                    res.push(row.unwrap_or(None));
                }
            }
            tx.commit()?;
            Ok(res)
        })
    }

    pub fn put(&self, kind: &str, key: &str, entry: &StoredEntry) -> Result<(), StoreError> {
        self.with(|conn| upsert(&mut *conn.prepare_cached(UPSERT_ENTRY)?, kind, key, entry).map(|_| ()))
    }

    /// The takedown memory of many packages, in one read transaction.
    pub fn seen_many(&self, packages: &[String]) -> Result<Vec<Vec<SeenRow>>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction()?;
            let res = packages
                .iter()
                .map(|package| seen_rows(&tx, package))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit()?;
            Ok(res)
        })
    }

    /// Writes many entries in one transaction (one commit).
    pub fn put_many(&self, kind: &str, entries: &[(String, StoredEntry)]) -> Result<(), StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut statement = tx.prepare_cached(UPSERT_ENTRY)?;
                for (key, entry) in entries {
                    upsert(&mut statement, kind, key, entry)?;
                }
            }
            tx.commit()
        })
    }

    /// A `304`: the entry is current again.
    pub fn touch(&self, kind: &str, key: &str, fetched_at: Timestamp, expires_at: Timestamp) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.execute(
                "UPDATE entries_v1 SET fetched_at=?3, expires_at=?4 WHERE kind=?1 AND key=?2",
                params![kind, key, millis(fetched_at), millis(expires_at)],
            )
            .map(|_| ())
        })
    }

    pub fn delete(&self, kind: &str, key: &str) -> Result<(), StoreError> {
        self.with(|conn| {
            conn.execute("DELETE FROM entries_v1 WHERE kind=?1 AND key=?2", params![kind, key])
                .map(|_| ())
        })
    }

    /// Records every (version, digest) of `facts` as seen at `now` and returns what was seen before
    /// and is now missing or changed (takedown memory). Rows are never deleted.
    pub fn observe_versions(
        &self,
        package: &str,
        facts: &PackageFacts,
        now: Timestamp,
    ) -> Result<Vec<Vanished>, StoreError> {
        self.with(|conn| observe(conn, package, facts, now, None))
    }

    /// Records many fetched documents in one transaction (one commit for a whole cold batch).
    pub fn observe_and_put_many(&self, writes: Vec<PendingWrite>) -> Result<Vec<Vec<Vanished>>, StoreError> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut res = Vec::with_capacity(writes.len());
            let mut aside = super::write_behind::StepAside::per_batch();
            for write in writes {
                aside.step();
                let PendingWrite {
                    package,
                    facts,
                    now,
                    kind,
                    mut entry,
                } = write;
                let vanished = observe_in(
                    &tx,
                    &package,
                    &facts,
                    now,
                    Some(&mut aside),
                    Some(Box::new(|vanished: &[Vanished]| {
                        entry.value = if vanished.is_empty() {
                            encode_value(&*facts)
                        } else {
                            let mut with_vanished = (*facts).clone();
                            with_vanished.vanished = vanished.to_vec();
                            encode_value(&with_vanished)
                        };
                        (kind.to_string(), package.clone(), entry)
                    })),
                )?;
                res.push(vanished);
            }
            tx.commit()?;
            Ok(res)
        })
    }

    /// `observe_versions` and, in the same transaction, stores the entry `make_entry` builds from what
    /// vanished (one commit per fetched document).
    pub fn observe_and_put(
        &self,
        package: &str,
        facts: &PackageFacts,
        now: Timestamp,
        make_entry: impl FnOnce(&[Vanished]) -> (String, String, StoredEntry),
    ) -> Result<Vec<Vanished>, StoreError> {
        self.with(|conn| observe(conn, package, facts, now, Some(Box::new(make_entry))))
    }

    pub fn stats(&self, now: Timestamp) -> Result<StoreStats, StoreError> {
        let (entries_by_kind, expired_entries, seen_versions) = self.with(|conn| {
            let by_kind: Vec<(String, u64)> = conn
                .prepare("SELECT kind, count(*) FROM entries_v1 GROUP BY kind ORDER BY kind")?
                .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64)))?
                .collect::<Result<_, _>>()?;
            let expired: i64 = conn.query_row(
                "SELECT count(*) FROM entries_v1 WHERE expires_at < ?1",
                [millis(now)],
                |row| row.get(0),
            )?;
            let seen: i64 = conn.query_row("SELECT count(*) FROM seen_v1", [], |row| row.get(0))?;
            Ok((by_kind, expired as u64, seen as u64))
        })?;
        let mut bytes_on_disk = 0;
        if let Some(path) = &self.path {
            for suffix in ["", "-wal"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                bytes_on_disk += std::fs::metadata(PathBuf::from(name)).map(|m| m.len()).unwrap_or(0);
            }
        }
        Ok(StoreStats {
            path: self.path.clone().unwrap_or_default(),
            entries_by_kind,
            expired_entries,
            seen_versions,
            bytes_on_disk,
        })
    }

    /// Removes every cached document; takedown memory (`seen_v1`) is kept. Returns how many went.
    pub fn clear(&self) -> Result<u64, StoreError> {
        self.with(|conn| {
            let removed = conn.execute("DELETE FROM entries_v1", [])?;
            let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
            Ok(removed as u64)
        })
    }

    /// `PRAGMA integrity_check` says "ok".
    pub fn integrity_ok(&self) -> Result<bool, StoreError> {
        let result: String = self.with(|conn| conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)))?;
        Ok(result == "ok")
    }

    pub fn count(&self, kind: &str) -> Result<u64, StoreError> {
        let count: i64 = self.with(|conn| {
            conn.query_row("SELECT count(*) FROM entries_v1 WHERE kind=?1", [kind], |row| {
                row.get(0)
            })
        })?;
        Ok(count as u64)
    }

    /// Runs raw SQL returning one integer (tests and diagnostics).
    pub fn query_count(&self, sql: &str) -> Result<i64, StoreError> {
        self.with(|conn| conn.query_row(sql, [], |row| row.get(0)))
    }
}

type MakeEntry<'a> = Box<dyn FnOnce(&[Vanished]) -> (String, String, StoredEntry) + 'a>;

const SELECT_ENTRY: &str =
    "SELECT value, fetched_at, expires_at, etag, last_modified FROM entries_v1 WHERE kind=?1 AND key=?2";

/// One row of `SELECT_ENTRY`.
fn entry_of_row(row: &rusqlite::Row<'_>) -> Result<StoredEntry, rusqlite::Error> {
    Ok(StoredEntry {
        value: row.get(0)?,
        fetched_at: from_millis(row.get(1)?),
        expires_at: from_millis(row.get(2)?),
        validators: Validators {
            etag: row.get(3)?,
            last_modified: row.get(4)?,
        },
    })
}

/// Runs a prepared `UPSERT_ENTRY` for one entry.
fn upsert(
    statement: &mut rusqlite::Statement<'_>,
    kind: &str,
    key: &str,
    entry: &StoredEntry,
) -> rusqlite::Result<usize> {
    statement.execute(params![
        kind,
        key,
        entry.value,
        millis(entry.fetched_at),
        millis(entry.expires_at),
        entry.validators.etag,
        entry.validators.last_modified
    ])
}

const UPSERT_ENTRY: &str = "INSERT INTO entries_v1 (kind, key, value, fetched_at, expires_at, etag, last_modified)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (kind, key) DO UPDATE SET value=excluded.value, fetched_at=excluded.fetched_at,
       expires_at=excluded.expires_at, etag=excluded.etag, last_modified=excluded.last_modified";

fn observe(
    conn: &mut Connection,
    package: &str,
    facts: &PackageFacts,
    now: Timestamp,
    then_put: Option<MakeEntry<'_>>,
) -> Result<Vec<Vanished>, rusqlite::Error> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let res = observe_in(&tx, package, facts, now, None, then_put)?;
    tx.commit()?;
    Ok(res)
}

/// One fetched document to record: its takedown observation and its cache entry.
pub struct PendingWrite {
    pub package: String,
    /// The document as fetched, without `vanished` (shared with the answer in memory).
    pub facts: Arc<PackageFacts>,
    pub now: Timestamp,
    pub kind: &'static str,
    /// The entry; its value is encoded from `facts` (and what vanished) when it is written.
    pub entry: StoredEntry,
}

/// Versions written between two looks at the editor's input (`write_behind::StepAside`): a
/// row is a few microseconds.
const ROWS_BETWEEN_STEPS: usize = 32;

fn observe_in(
    tx: &rusqlite::Transaction<'_>,
    package: &str,
    facts: &PackageFacts,
    now: Timestamp,
    mut aside: Option<&mut super::write_behind::StepAside>,
    then_put: Option<MakeEntry<'_>>,
) -> Result<Vec<Vanished>, rusqlite::Error> {
    let now_ms = millis(now);
    {
        let mut upsert = tx.prepare_cached(
            "INSERT INTO seen_v1 (package, version, digest, first_seen, last_seen, missing_since)
                 VALUES (?1, ?2, ?3, ?4, ?4, NULL)
                 ON CONFLICT (package, version, digest) DO UPDATE SET
                   last_seen=max(last_seen, excluded.last_seen), missing_since=NULL",
        )?;
        for (at, version) in facts.versions.iter().enumerate() {
            if at % ROWS_BETWEEN_STEPS == ROWS_BETWEEN_STEPS - 1
                && let Some(aside) = aside.as_deref_mut()
            {
                aside.step();
            }
            if version.digests.is_empty() {
                upsert.execute(params![package, version.version.as_str(), "", now_ms])?;
            }
            for digest in version.digests.iter() {
                upsert.execute(params![package, version.version.as_str(), digest.to_string(), now_ms])?;
            }
        }
    }
    let rows = seen_rows(tx, package)?;
    let (res, newly_missing) = vanished_from(&rows, facts, now);
    {
        let mut mark =
            tx.prepare_cached("UPDATE seen_v1 SET missing_since=?4 WHERE package=?1 AND version=?2 AND digest=?3")?;
        for (version, digest) in newly_missing {
            mark.execute(params![package, version, digest, now_ms])?;
        }
    }
    if let Some(make_entry) = then_put {
        let (kind, key, entry) = make_entry(&res);
        let mut statement = tx.prepare_cached(UPSERT_ENTRY)?;
        upsert(&mut statement, &kind, &key, &entry)?;
    }
    Ok(res)
}

/// The first byte of every stored value: its encoding. Values are postcard (compact, and decoded about
/// 2.5 times faster than JSON, which is most of a new process's warm path); a row in another encoding
/// (an older Gatehouse) does not decode, so it is dropped and fetched again.
///
/// 2: `VersionFacts` gained `meta` (install scripts, dependencies, publisher, repository, file kinds for
/// the pre-advisory signals). Postcard is not self-describing, so rows of 1 would misread; they are
/// refetched instead.
const VALUE_FORMAT_POSTCARD: u8 = 2;

pub fn encode_value<T: serde::Serialize>(value: &T) -> Option<Vec<u8>> {
    postcard::to_extend(value, vec![VALUE_FORMAT_POSTCARD]).ok()
}

pub fn decode_value<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match bytes.split_first() {
        Some((&VALUE_FORMAT_POSTCARD, rest)) => postcard::from_bytes(rest).map_err(|err| err.to_string()),
        _ => Err("stored in an unknown format".to_string()),
    }
}

fn seen_rows(conn: &Connection, package: &str) -> Result<Vec<SeenRow>, rusqlite::Error> {
    let mut select =
        conn.prepare_cached("SELECT version, digest, last_seen, missing_since FROM seen_v1 WHERE package=?1")?;
    select
        .query_map(params![package], |row| {
            Ok(SeenRow {
                version: row.get(0)?,
                digest: row.get(1)?,
                last_seen: from_millis(row.get(2)?),
                missing_since: row.get::<_, Option<i64>>(3)?.map(from_millis),
            })
        })?
        .collect()
}

#[cfg(test)]
mod tests;
