//! A local copy of OSV's per-ecosystem export (`<base>/<Ecosystem>/all.zip`, `modified_id.csv`,
//! `<ID>.json`), kept in the cache folder and refreshed incrementally, so packages behind a registry
//! mirror are checked for advisories without sending their names anywhere.
//!
//! Invariants:
//! - What is asked of the export host names no package: whole-ecosystem archives, the list of recently
//!   modified ids, and the records that list names. Nothing else leaves the machine.
//! - Everything is written inside `<cache-dir>/osv-export-v1/`: downloads stream into a temporary file
//!   there (size-capped while they stream) and are renamed into place once complete and readable; a
//!   record file is named after an id that passed `safe_id` (letters, digits, `-`, `_`, `.`; no path).
//!   Zip member names are never used as paths (the members are read in memory by `offline_db`).
//! - Concurrent processes sharing the cache: every file is replaced by an atomic rename, so a reader
//!   sees either the old or the new file, never a torn one. Syncs take turns across processes
//!   (`sync.lock`, an advisory lock the OS drops with the process): the one that waited reads the state
//!   the other wrote and finds the copy up to date, so neither overwrites the other's `sync.state`.
//! - A refresh reads `modified_id.csv` from the top down to `OVERLAP` before the newest `modified`
//!   held (a record may carry the newest time held, or be exported late with an older one), and
//!   fetches each listed record not held with that `modified` (`SyncState::recent`). It falls back to
//!   `all.zip` when the archive was downloaded longer than `MAX_INCREMENTAL_AGE` ago, more than
//!   `MAX_INCREMENTAL` records changed, or the list is malformed, out of order or missing.
//! - A failed sync keeps the previous copy in use, is recorded (`sync.state`) and is said beside every
//!   answer from that copy. With no copy, a failed or pending download is a failure (`Other`, so a
//!   source merged beside it, `osv-db`, answers with a caveat, never cleanly); `NotCovered` only when
//!   the export never applies (offline, or no endpoint). Never silent. A record a refresh cannot read
//!   is skipped, kept in `sync.state` and named beside every answer; the rest of the refresh is kept.
//! - Offline, nothing is downloaded: whatever copy exists answers.
//! - One in-memory copy per copy folder in a process (`Shared`, whichever lookup settings ask): one
//!   sync and one load at a time per ecosystem; callers arriving during a load take its result. A
//!   full sync records `zip_changed_at`, so a process holding an older archive indexes the new one.
//! - Loading and indexing run on the blocking pool (`spawn_blocking`), through `offline_db`, the one
//!   loader of OSV databases. In an editor (`wait = false`) a due sync runs as a task this source owns
//!   (aborted when it is dropped) and answers come from the copy at hand meanwhile.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::lookup::advisories::offline_db::{OfflineDb, describe_snapshot};
use crate::lookup::advisories::osv_record::parse_record;
use crate::lookup::http::{BodySink, Downloaded, HttpAnswer, HttpClient, HttpRequest, redact};
use crate::lookup::untrusted::OSV_RECORD_CAP;
use crate::lookup::{Advisories, Fetched, LookupError};
use crate::model::{Advisory, Ecosystem, PackageRef};

/// The folder under the cache folder (versioned: a format change never reads old files).
pub const EXPORT_DIR: &str = "osv-export-v1";
/// The default endpoint: OSV's public bucket.
pub const DEFAULT_EXPORT_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";
/// The largest `all.zip` downloaded (npm's is the largest export, well under this).
pub const MAX_ZIP_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The largest `modified_id.csv` read (it is read only down to the first line already held).
pub const MAX_CSV_BYTES: u64 = 256 * 1024 * 1024;
/// More changed records than this since the newest held: download `all.zip` instead.
pub const MAX_INCREMENTAL: usize = 5000;
/// An `all.zip` downloaded longer ago than this is downloaded again (what a record-by-record refresh
/// may have missed is caught up).
pub const MAX_INCREMENTAL_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// A refresh reads the list down to this long before the newest `modified` held.
const OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// After a failed sync, the next try comes after this (or the refresh interval, when shorter).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10 * 60);
/// Bound on one download (the idle read timeout of the client still applies).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Records fetched at once during an incremental refresh.
const RECORD_CONCURRENCY: usize = 8;

/// Where the export comes from and how often it is refreshed.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// `endpoints.osv-export`; empty turns syncing off (a copy already present still answers).
    pub base_url: String,
    /// `<cache-dir>/osv-export-v1`.
    pub dir: PathBuf,
    /// `osv-export-refresh`: a copy synced more recently than this is not asked again.
    pub refresh: Duration,
    /// No network: answer from the copy at hand.
    pub offline: bool,
    /// Await a due sync before answering (the CLI); else sync in the background (an editor).
    pub wait: bool,
    pub max_zip_bytes: u64,
    pub max_incremental: usize,
    /// An `all.zip` downloaded longer ago than this is downloaded again.
    pub max_incremental_age: Duration,
}

impl ExportSettings {
    pub fn new(base_url: &str, cache_dir: &Path) -> ExportSettings {
        ExportSettings {
            base_url: base_url.trim_end_matches('/').to_string(),
            dir: cache_dir.join(EXPORT_DIR),
            refresh: Duration::from_secs(3600),
            offline: false,
            wait: false,
            max_zip_bytes: MAX_ZIP_BYTES,
            max_incremental: MAX_INCREMENTAL,
            max_incremental_age: MAX_INCREMENTAL_AGE,
        }
    }
}

/// What `sync.state` records per ecosystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// When a sync last succeeded.
    pub last_success: Option<Timestamp>,
    /// The newest `modified` the copy holds (from the records themselves and the csv lines fetched).
    pub newest_modified: Option<Timestamp>,
    /// When a sync was last tried.
    pub last_attempt: Option<Timestamp>,
    /// Why the last try failed; `None` when it succeeded.
    pub last_error: Option<String>,
    /// When the files of the copy last changed: a loaded copy older than this is loaded again.
    pub changed_at: Option<Timestamp>,
    /// When `all.zip` last changed: only then is the (large) archive indexed again; records fetched
    /// since are a small overlay loaded on their own.
    pub zip_changed_at: Option<Timestamp>,
    /// The records held whose `modified` lies within `OVERLAP` of `newest_modified`, with it: a refresh
    /// re-reads those lines of the list and fetches only what is not held with that `modified`.
    #[serde(default)]
    pub recent: BTreeMap<String, Timestamp>,
    /// Records a refresh listed but could not read (id → why): left out of the copy, and said beside
    /// every answer until they are read or a full download replaces the copy.
    #[serde(default)]
    pub unreadable: BTreeMap<String, String>,
}

/// The oldest `modified` a refresh reads the list down to.
fn overlap_floor(newest: Timestamp) -> Timestamp {
    newest
        .checked_sub(jiff::SignedDuration::from_secs(OVERLAP.as_secs() as i64))
        .unwrap_or(newest)
}

/// What one sync did, for `gatehouse db update` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// `all.zip` was downloaded (why: first copy, too old, list malformed …).
    Full {
        records: usize,
        bytes: u64,
        why: String,
    },
    /// Only these records were fetched.
    Incremental {
        fetched: usize,
        skipped: Vec<String>,
    },
    UpToDate,
}

impl std::fmt::Display for SyncOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncOutcome::Full { records, bytes, why } => write!(
                f,
                "downloaded all.zip ({records} records, {:.1} MB) because {why}",
                *bytes as f64 / (1024.0 * 1024.0)
            ),
            SyncOutcome::Incremental { fetched, skipped } if skipped.is_empty() => {
                write!(f, "fetched {fetched} records modified since the last sync")
            }
            SyncOutcome::Incremental { fetched, skipped } => write!(
                f,
                "fetched {fetched} records modified since the last sync; skipped {}: {}",
                skipped.len(),
                skipped.join("; ")
            ),
            SyncOutcome::UpToDate => write!(f, "already up to date"),
        }
    }
}

/// The ecosystem's folder name: the export's own spelling, from our enum (never from a server).
fn folder(ecosystem: Ecosystem) -> &'static str {
    ecosystem.osv_name()
}

/// Whether `id` may name a file and a URL path segment: OSV ids are `GHSA-…`, `MAL-2024-1`,
/// `PYSEC-…`, `RUSTSEC-…`. Anything else (a `/`, `..`, a leading dot, odd characters) is refused.
fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The local copy of OSV's export for the ecosystems asked of it.
pub struct OsvExport {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ExportSettings,
    http: Option<Arc<HttpClient>>,
    /// What every source over this copy folder in this process shares.
    shared: Arc<Shared>,
    /// Background syncs (editor mode), aborted when the source is dropped.
    tasks: Mutex<HashMap<Ecosystem, tokio::task::JoinHandle<()>>>,
}

/// One per copy folder in a process (each lookup settings key builds its own `OsvExport`): one
/// in-memory copy of each archive, one sync and one load at a time.
struct Shared {
    /// One sync at a time per ecosystem in this process.
    syncing: HashMap<Ecosystem, tokio::sync::Mutex<()>>,
    /// One load from disk at a time per ecosystem: callers arriving meanwhile get its result.
    loading: HashMap<Ecosystem, tokio::sync::Mutex<()>>,
    /// The loaded copies, with the state they were loaded under.
    loaded: Mutex<HashMap<Ecosystem, Loaded>>,
    /// How many times an archive was indexed from disk (tests count it).
    loads: std::sync::atomic::AtomicUsize,
    /// Tests: callers that reached a load from disk, and a hold on loads until released.
    #[cfg(test)]
    entered: std::sync::atomic::AtomicUsize,
    #[cfg(test)]
    hold: (Mutex<bool>, std::sync::Condvar),
}

impl Shared {
    fn new() -> Shared {
        let gates = || {
            [Ecosystem::Npm, Ecosystem::PyPI, Ecosystem::CratesIo]
                .into_iter()
                .map(|ecosystem| (ecosystem, tokio::sync::Mutex::new(())))
                .collect()
        };
        Shared {
            syncing: gates(),
            loading: gates(),
            loaded: Mutex::new(HashMap::new()),
            loads: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(test)]
            entered: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(test)]
            hold: (Mutex::new(false), std::sync::Condvar::new()),
        }
    }

    /// The process-wide one for the copy folder `dir` (kept while a source holds it).
    fn for_dir(dir: &Path) -> Arc<Shared> {
        static ALL: Mutex<Vec<(PathBuf, std::sync::Weak<Shared>)>> = Mutex::new(Vec::new());
        let mut all = lock(&ALL);
        all.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(shared) = all
            .iter()
            .find(|(held, _)| held == dir)
            .and_then(|(_, weak)| weak.upgrade())
        {
            return shared;
        }
        let shared = Arc::new(Shared::new());
        all.push((dir.to_path_buf(), Arc::downgrade(&shared)));
        shared
    }
}

/// A loaded copy: the indexed `all.zip`, and the records fetched since as an overlay (an id in the
/// overlay replaces the archive's record of that id everywhere).
#[derive(Clone)]
struct Loaded {
    base: Arc<OfflineDb>,
    /// The state's `zip_changed_at` the archive was indexed under.
    base_for: Option<Timestamp>,
    overlay: Arc<OfflineDb>,
    /// The state's `changed_at` the overlay was loaded under.
    overlay_for: Option<Timestamp>,
}

impl Loaded {
    fn covers(&self, ecosystem: Ecosystem) -> bool {
        self.base.covers(ecosystem) || self.overlay.covers(ecosystem)
    }

    fn get(&self, package: &PackageRef) -> Vec<Advisory> {
        let overlay = self.overlay.get(package);
        let mut res: Vec<Advisory> = self
            .base
            .get(package)
            .iter()
            .filter(|advisory| !self.overlay.holds(&advisory.id))
            .cloned()
            .collect();
        res.extend(overlay.iter().cloned());
        res
    }

    fn describe(&self) -> String {
        let newest = self.base.newest_modified().max(self.overlay.newest_modified());
        describe_snapshot(newest)
    }
}

impl Drop for OsvExport {
    fn drop(&mut self) {
        for (_, task) in lock(&self.inner.tasks).drain() {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl OsvExport {
    /// `http` is the shared hardened client (`None`: no network, as offline).
    /// Sources over one copy folder share one in-memory copy and one sync per ecosystem.
    pub fn new(settings: ExportSettings, http: Option<Arc<HttpClient>>) -> OsvExport {
        let shared = Shared::for_dir(&settings.dir);
        OsvExport::with_shared(settings, http, shared)
    }

    fn with_shared(settings: ExportSettings, http: Option<Arc<HttpClient>>, shared: Arc<Shared>) -> OsvExport {
        OsvExport {
            inner: Arc::new(Inner {
                settings,
                http,
                shared,
                tasks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Syncs `ecosystem` now, whether or not it is due (`gatehouse db update`). Offline or without an
    /// endpoint it is an error that says so.
    pub async fn sync_now(&self, ecosystem: Ecosystem) -> Result<SyncOutcome, String> {
        self.inner.clone().sync(ecosystem, true).await
    }

    /// The recorded state of `ecosystem`'s copy.
    pub async fn state(&self, ecosystem: Ecosystem) -> SyncState {
        let dir = self.inner.ecosystem_dir(ecosystem);
        blocking(move || read_state(&dir)).await.unwrap_or_default()
    }
}

impl Inner {
    fn ecosystem_dir(&self, ecosystem: Ecosystem) -> PathBuf {
        self.settings.dir.join(folder(ecosystem))
    }

    fn host(&self) -> String {
        redact(&self.settings.base_url)
    }

    fn can_sync(&self) -> bool {
        !self.settings.offline && !self.settings.base_url.is_empty() && self.http.is_some()
    }

    /// Whether a sync is due under `state` at `now`.
    fn due(&self, state: &SyncState, now: Timestamp) -> bool {
        let Some(attempt) = state.last_attempt else {
            return true;
        };
        let wait = if state.last_error.is_some() {
            self.settings.refresh.min(RETRY_AFTER_FAILURE)
        } else {
            self.settings.refresh
        };
        let elapsed = now.duration_since(attempt);
        elapsed.is_negative() || elapsed.unsigned_abs() >= wait
    }

    /// Runs one sync of `ecosystem` (coalesced in this process); `forced` ignores the refresh interval.
    async fn sync(self: Arc<Self>, ecosystem: Ecosystem, forced: bool) -> Result<SyncOutcome, String> {
        if self.settings.offline {
            return Err("offline: the local OSV copy is not updated".to_string());
        }
        let Some(http) = self.http.clone() else {
            return Err("no HTTP client: the local OSV copy is not updated".to_string());
        };
        if self.settings.base_url.is_empty() {
            return Err("`endpoints.osv-export` is empty: the local OSV copy is not updated".to_string());
        }
        let Some(gate) = self.shared.syncing.get(&ecosystem) else {
            return Err(format!("no export for {ecosystem}"));
        };
        let _one_at_a_time = gate.lock().await;
        let dir = self.ecosystem_dir(ecosystem);
        // And one process at a time: the lock is released when the file closes (also when the process
        // is killed). Without it (a file system without locks) the syncs still leave whole files.
        let _one_process_at_a_time = {
            let dir = dir.clone();
            match blocking(move || lock_sync(&dir)).await {
                Ok(file) => Some(file),
                Err(error) => {
                    tracing::debug!("syncing {ecosystem} without the cross-process lock: {error}");
                    None
                }
            }
        };
        let state = {
            let dir = dir.clone();
            blocking(move || read_state(&dir)).await.unwrap_or_default()
        };
        // Another task or process may have synced while this one waited.
        if !forced && !self.due(&state, Timestamp::now()) {
            return Ok(SyncOutcome::UpToDate);
        }
        let started = Timestamp::now();
        let result = self.sync_ecosystem(&http, ecosystem, &dir, &state).await;
        let mut next = state.clone();
        next.last_attempt = Some(started);
        let result = result.map(|(outcome, newest, db, recent, unreadable)| {
            next.recent = recent;
            next.unreadable = unreadable;
            if let Some(db) = db {
                // The archive just checked is the copy: not loaded a second time.
                lock(&self.shared.loaded).insert(
                    ecosystem,
                    Loaded {
                        base: Arc::new(db),
                        base_for: Some(started),
                        overlay: Arc::new(OfflineDb::default()),
                        overlay_for: Some(started),
                    },
                );
            }
            (outcome, newest)
        });
        match &result {
            Ok((outcome, newest)) => {
                if !matches!(
                    outcome,
                    SyncOutcome::UpToDate | SyncOutcome::Incremental { fetched: 0, .. }
                ) {
                    next.changed_at = Some(started);
                }
                // Another process holding the old archive sees this and indexes the new one.
                if matches!(outcome, SyncOutcome::Full { .. }) {
                    next.zip_changed_at = Some(started);
                }
                next.last_success = Some(started);
                next.last_error = None;
                next.newest_modified = (*newest).or(state.newest_modified);
            }
            Err(error) => {
                tracing::warn!("updating the local OSV copy of {ecosystem} failed: {error}");
                next.last_error = Some(error.clone());
            }
        }
        let written = {
            let dir = dir.clone();
            blocking(move || write_state(&dir, &next)).await
        };
        if let Err(error) = written {
            tracing::warn!("could not record the OSV export sync of {ecosystem}: {error}");
        }
        result.map(|(outcome, _)| outcome)
    }

    /// Downloads what is missing; the outcome and the newest `modified` now held.
    async fn sync_ecosystem(
        &self,
        http: &HttpClient,
        ecosystem: Ecosystem,
        dir: &Path,
        state: &SyncState,
    ) -> Result<Synced, String> {
        let has_zip = dir.join("all.zip").is_file();
        let held = state.newest_modified.filter(|_| has_zip);
        let why_full = match (held, state.zip_changed_at) {
            (None, _) => Some("there was no local copy".to_string()),
            (Some(_), None) => Some("when all.zip was last downloaded is not recorded".to_string()),
            (Some(_), Some(downloaded)) => {
                let age = Timestamp::now().duration_since(downloaded);
                (age.is_positive() && age.unsigned_abs() > self.settings.max_incremental_age).then(|| {
                    format!(
                        "all.zip was last downloaded more than {} days ago ({downloaded})",
                        self.settings.max_incremental_age.as_secs() / 86400
                    )
                })
            }
        };
        if let (None, Some(newest)) = (&why_full, held) {
            match self.changed_since(http, ecosystem, newest, &state.recent).await {
                Ok(Changes::Ids(ids)) if ids.is_empty() => {
                    return Ok((
                        SyncOutcome::UpToDate,
                        Some(newest),
                        None,
                        state.recent.clone(),
                        state.unreadable.clone(),
                    ));
                }
                Ok(Changes::Ids(ids)) => {
                    let newest = ids.iter().map(|(modified, _)| *modified).fold(newest, Timestamp::max);
                    let (fetched, skipped, unread_now) = self.fetch_records(http, ecosystem, dir, &ids).await?;
                    // A record listed again replaces what was said of it; one still unreadable stays said.
                    let mut unreadable = state.unreadable.clone();
                    for (_, id) in &ids {
                        unreadable.remove(id);
                    }
                    unreadable.extend(unread_now);
                    // Every listed record is now held with its listed time (or said as skipped): the
                    // next refresh does not ask for it again unless it changes.
                    let floor = overlap_floor(newest);
                    let mut recent = state.recent.clone();
                    recent.extend(ids.into_iter().map(|(modified, id)| (id, modified)));
                    recent.retain(|_, modified| *modified >= floor);
                    return Ok((
                        SyncOutcome::Incremental { fetched, skipped },
                        Some(newest),
                        None,
                        recent,
                        unreadable,
                    ));
                }
                Ok(Changes::Full(why)) => return self.full(http, ecosystem, dir, why).await,
                Err(error) => return Err(error),
            }
        }
        self.full(http, ecosystem, dir, why_full.unwrap_or_default()).await
    }

    /// Reads `modified_id.csv` down to `OVERLAP` before `newest`: the records not held (`recent`).
    async fn changed_since(
        &self,
        http: &HttpClient,
        ecosystem: Ecosystem,
        newest: Timestamp,
        recent: &BTreeMap<String, Timestamp>,
    ) -> Result<Changes, String> {
        let url = format!("{}/{}/modified_id.csv", self.settings.base_url, folder(ecosystem));
        let mut sink = CsvSink::new(overlap_floor(newest), recent.clone(), self.settings.max_incremental);
        let request = HttpRequest {
            url: url.clone(),
            timeout: Some(DOWNLOAD_TIMEOUT),
            ..HttpRequest::default()
        };
        match http.download(&request, MAX_CSV_BYTES, &mut sink).await {
            Ok(Downloaded::NotFound) => return Ok(Changes::Full(format!("{} was not found", redact(&url)))),
            Ok(Downloaded::Done(_)) => {}
            Err(error) => return Err(format!("could not read {}: {error}", redact(&url))),
        }
        Ok(sink.finish())
    }

    /// Fetches each listed record into `records/`; a record that is gone (404) or unreadable (not an
    /// OSV record, another record's id) is skipped and said, and the rest is kept: one bad record
    /// never fails every refresh. A transport failure fails this refresh (tried again later).
    async fn fetch_records(
        &self,
        http: &HttpClient,
        ecosystem: Ecosystem,
        dir: &Path,
        ids: &[(Timestamp, String)],
    ) -> Result<(usize, Vec<String>, BTreeMap<String, String>), String> {
        let records_dir = dir.join("records");
        let base = &self.settings.base_url;
        let fetched: Vec<Result<RecordAnswer, String>> = futures::stream::iter(ids.iter().cloned())
            .map(|(_, id)| async move {
                let url = format!("{base}/{}/{id}.json", folder(ecosystem));
                let request = HttpRequest {
                    timeout: Some(Duration::from_secs(120)),
                    ..HttpRequest::get_json(url.clone())
                }
                .with_max_body(OSV_RECORD_CAP as usize);
                match http.get(&request).await {
                    Ok(HttpAnswer::Body { body, .. }) => match parse_record(&body) {
                        Ok(record) if record.id == id => Ok(RecordAnswer::Fetched((id, body))),
                        Ok(record) => {
                            let why = format!("it holds record {}", record.id);
                            Ok(RecordAnswer::Unreadable(id, why))
                        }
                        Err(error) => Ok(RecordAnswer::Unreadable(id, error.to_string())),
                    },
                    Ok(HttpAnswer::NotFound) => Ok(RecordAnswer::Gone(id)),
                    Ok(HttpAnswer::NotModified { .. }) => Err(format!("{} answered 304", redact(&url))),
                    Err(error) => Err(format!("could not fetch {}: {error}", redact(&url))),
                }
            })
            .buffer_unordered(RECORD_CONCURRENCY)
            .collect()
            .await;
        let mut records = Vec::new();
        let mut skipped = Vec::new();
        let mut unreadable = BTreeMap::new();
        for answer in fetched {
            match answer? {
                RecordAnswer::Fetched(record) => records.push(record),
                RecordAnswer::Gone(id) => skipped.push(format!("{id} is no longer in the export")),
                RecordAnswer::Unreadable(id, why) => {
                    tracing::warn!("the OSV export's record {id} could not be read: {why}");
                    skipped.push(format!("{id} could not be read: {why}"));
                    unreadable.insert(id, why);
                }
            }
        }
        skipped.sort();
        let count = records.len();
        let tmp = self.settings.dir.join(".tmp");
        blocking(move || {
            std::fs::create_dir_all(&records_dir)
                .map_err(|e| format!("cannot create {}: {e}", records_dir.display()))?;
            for (id, body) in records {
                // `id` passed `safe_id`: a plain file name, inside `records/`.
                write_atomic(&tmp, &records_dir.join(format!("{id}.json")), &body)?;
            }
            Ok(())
        })
        .await?;
        Ok((count, skipped, unreadable))
    }

    /// Downloads `all.zip` into a temporary file, checks it reads as an OSV archive, renames it into
    /// place and clears the records an earlier refresh fetched (the new archive holds them).
    async fn full(&self, http: &HttpClient, ecosystem: Ecosystem, dir: &Path, why: String) -> Result<Synced, String> {
        let url = format!("{}/{}/all.zip", self.settings.base_url, folder(ecosystem));
        let tmp_dir = self.settings.dir.join(".tmp");
        let temp = {
            let tmp_dir = tmp_dir.clone();
            blocking(move || {
                std::fs::create_dir_all(&tmp_dir).map_err(|e| format!("cannot create {}: {e}", tmp_dir.display()))?;
                sweep_abandoned(&tmp_dir);
                Ok(temp_name(&tmp_dir, "all.zip"))
            })
            .await?
        };
        let mut sink = FileSink::new(temp.clone());
        let request = HttpRequest {
            url: url.clone(),
            timeout: Some(DOWNLOAD_TIMEOUT),
            ..HttpRequest::default()
        };
        let downloaded = http.download(&request, self.settings.max_zip_bytes, &mut sink).await;
        let finished = sink.finish();
        let bytes = match (downloaded, finished) {
            (Ok(Downloaded::Done(bytes)), Ok(())) => bytes,
            (Ok(Downloaded::NotFound), _) => {
                remove_quietly(&temp);
                return Err(format!("{} was not found", redact(&url)));
            }
            (Err(error), _) => {
                remove_quietly(&temp);
                return Err(format!("could not download {}: {error}", redact(&url)));
            }
            (_, Err(error)) => {
                remove_quietly(&temp);
                return Err(error);
            }
        };
        let dir = dir.to_path_buf();
        blocking(move || {
            let (db, errors) = OfflineDb::load(std::slice::from_ref(&temp));
            if db.is_empty() {
                remove_quietly(&temp);
                let first = errors.first().cloned().unwrap_or_else(|| "no records".to_string());
                return Err(format!("{} holds no OSV record: {first}", redact(&url)));
            }
            if !errors.is_empty() {
                tracing::warn!(
                    "{} of {} entries of {} could not be read; first: {}",
                    errors.len(),
                    errors.len() + db.len(),
                    redact(&url),
                    errors[0]
                );
            }
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let target = dir.join("all.zip");
            if let Err(error) = std::fs::rename(&temp, &target) {
                remove_quietly(&temp);
                return Err(format!("cannot move the download into {}: {error}", target.display()));
            }
            clear_records(&dir.join("records"));
            let newest = db.newest_modified();
            let recent = newest
                .map(|newest| db.modified_since(overlap_floor(newest)))
                .unwrap_or_default();
            Ok((
                SyncOutcome::Full {
                    records: db.len(),
                    bytes,
                    why,
                },
                newest,
                Some(db),
                recent,
                BTreeMap::new(),
            ))
        })
        .await
    }

    /// The copy of `ecosystem` as it is on disk now: the archive is indexed again only when it changed,
    /// the overlay of records fetched since whenever they changed.
    async fn copy(&self, ecosystem: Ecosystem, state: &SyncState) -> Option<Loaded> {
        // A copy loaded under this state or a later one (another caller's) is current.
        let current = |held: &Option<Loaded>| {
            held.as_ref()
                .filter(|loaded| loaded.base_for >= state.zip_changed_at && loaded.overlay_for >= state.changed_at)
                .cloned()
        };
        if let Some(loaded) = current(&lock(&self.shared.loaded).get(&ecosystem).cloned()) {
            return Some(loaded);
        }
        #[cfg(test)]
        self.shared.entered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // One load at a time: callers arriving meanwhile take what it loaded.
        let _one_load = match self.shared.loading.get(&ecosystem) {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        let held = lock(&self.shared.loaded).get(&ecosystem).cloned();
        if let Some(loaded) = current(&held) {
            return Some(loaded);
        }
        let keep_base = held
            .filter(|loaded| loaded.base_for >= state.zip_changed_at)
            .map(|loaded| loaded.base);
        let dir = self.ecosystem_dir(ecosystem);
        let shared = self.shared.clone();
        let (base, overlay) = blocking(move || {
            let loads = &shared.loads;
            #[cfg(test)]
            {
                let (held, released) = &shared.hold;
                let mut held = lock(held);
                while *held {
                    held = released.wait(held).unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
            let zip = dir.join("all.zip");
            if !zip.is_file() {
                return Err(String::new());
            }
            let base = match keep_base {
                Some(base) => base,
                None => {
                    loads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Arc::new(load_logged(&zip))
                }
            };
            let records = dir.join("records");
            let overlay = if records.is_dir() {
                load_logged(&records)
            } else {
                OfflineDb::default()
            };
            Ok((base, Arc::new(overlay)))
        })
        .await
        .ok()?;
        let loaded = Loaded {
            base,
            base_for: state.zip_changed_at,
            overlay,
            overlay_for: state.changed_at,
        };
        lock(&self.shared.loaded).insert(ecosystem, loaded.clone());
        Some(loaded)
    }

    /// Starts a background sync of `ecosystem` unless one is running.
    fn spawn_sync(self: &Arc<Self>, ecosystem: Ecosystem) {
        let mut tasks = lock(&self.tasks);
        if tasks.get(&ecosystem).is_some_and(|task| !task.is_finished()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let inner = self.clone();
        tasks.insert(
            ecosystem,
            runtime.spawn(async move {
                match inner.sync(ecosystem, false).await {
                    Ok(outcome) => tracing::info!("local OSV copy of {ecosystem}: {outcome}"),
                    Err(error) => tracing::warn!("local OSV copy of {ecosystem}: {error}"),
                }
            }),
        );
    }

    /// Syncs when due (awaited or in the background), then answers from the copy.
    async fn answer(self: &Arc<Self>, ecosystem: Ecosystem) -> Result<(Loaded, SyncState), LookupError> {
        let dir = self.ecosystem_dir(ecosystem);
        let mut state = {
            let dir = dir.clone();
            blocking(move || read_state(&dir)).await.unwrap_or_default()
        };
        if self.can_sync() && self.due(&state, Timestamp::now()) {
            if self.settings.wait {
                if let Err(error) = self.clone().sync(ecosystem, false).await {
                    tracing::debug!("{error}");
                }
                let dir = dir.clone();
                state = blocking(move || read_state(&dir)).await.unwrap_or_default();
            } else {
                self.spawn_sync(ecosystem);
            }
        }
        match self.copy(ecosystem, &state).await {
            Some(loaded) if loaded.covers(ecosystem) => Ok((loaded, state)),
            _ => Err(self.no_copy(ecosystem, &state)),
        }
    }

    /// Why there is no copy of `ecosystem` to answer from. `NotCovered` only when the export never
    /// applies here (no endpoint, or offline): a failed or pending download is a failure, so a source
    /// beside it (`osv-db`) answers with a caveat, never a clean answer.
    fn no_copy(&self, ecosystem: Ecosystem, state: &SyncState) -> LookupError {
        let what = format!("no local copy of OSV's {ecosystem} export");
        if self.settings.offline {
            return LookupError::NotCovered(format!("{what} (offline; `gatehouse db update` downloads one)"));
        }
        if self.settings.base_url.is_empty() {
            return LookupError::NotCovered(format!("{what} (`endpoints.osv-export` is empty)"));
        }
        if let Some(error) = &state.last_error {
            return LookupError::Other(format!("{what}: it could not be downloaded: {error}"));
        }
        if self.http.is_none() {
            return LookupError::Other(format!("{what}: no HTTP client to download it"));
        }
        if !self.settings.wait {
            return LookupError::Other(format!("{what} yet: it is being downloaded from {}", self.host()));
        }
        LookupError::Other(what)
    }
}

/// A record fetched during a refresh: its id and its bytes.
type FetchedRecord = (String, Vec<u8>);

/// What a sync did, the newest `modified` now held, the archive it indexed (a full sync), the
/// records held within `OVERLAP` of that newest, and the listed records that could not be read.
type Synced = (
    SyncOutcome,
    Option<Timestamp>,
    Option<OfflineDb>,
    BTreeMap<String, Timestamp>,
    BTreeMap<String, String>,
);

/// One record asked for during a refresh.
enum RecordAnswer {
    Fetched(FetchedRecord),
    /// 404: no longer in the export.
    Gone(String),
    /// Not an OSV record, or another record than the one named: (id, why).
    Unreadable(String, String),
}

/// What `modified_id.csv` says changed.
enum Changes {
    /// (modified, id), newest first, each id once.
    Ids(Vec<(Timestamp, String)>),
    /// Download `all.zip` instead, because of this.
    Full(String),
}

/// Parses `modified_id.csv` as it streams in and stops at the first line older than `floor`; lines of
/// records held with that `modified` (`recent`) are passed over.
struct CsvSink {
    floor: Timestamp,
    recent: BTreeMap<String, Timestamp>,
    limit: usize,
    partial: Vec<u8>,
    ids: Vec<(Timestamp, String)>,
    seen: HashSet<String>,
    previous: Option<Timestamp>,
    /// Reached a line already held: the list is complete.
    reached: bool,
    /// Why the list cannot be used (malformed, out of order, too many changes).
    unusable: Option<String>,
}

impl CsvSink {
    fn new(floor: Timestamp, recent: BTreeMap<String, Timestamp>, limit: usize) -> CsvSink {
        CsvSink {
            floor,
            recent,
            limit,
            partial: Vec::new(),
            ids: Vec::new(),
            seen: HashSet::new(),
            previous: None,
            reached: false,
            unusable: None,
        }
    }

    /// Takes one line; `false` stops reading.
    fn line(&mut self, line: &[u8]) -> bool {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return true;
        }
        let parsed = text.split_once(',').and_then(|(modified, id)| {
            let modified = modified.trim().parse::<Timestamp>().ok()?;
            let id = id.trim();
            safe_id(id).then(|| (modified, id.to_string()))
        });
        let Some((modified, id)) = parsed else {
            self.unusable = Some(format!(
                "modified_id.csv has a malformed line: `{}`",
                text.chars().take(80).collect::<String>()
            ));
            return false;
        };
        if self.previous.is_some_and(|previous| modified > previous) {
            self.unusable = Some("modified_id.csv is not ordered newest first".to_string());
            return false;
        }
        self.previous = Some(modified);
        if modified < self.floor {
            self.reached = true;
            return false;
        }
        if self.recent.get(&id).is_some_and(|held| *held >= modified) {
            return true;
        }
        if self.seen.insert(id.clone()) {
            self.ids.push((modified, id));
        }
        if self.ids.len() > self.limit {
            self.unusable = Some(format!("more than {} records changed since the last sync", self.limit));
            return false;
        }
        true
    }

    fn finish(mut self) -> Changes {
        if self.unusable.is_none() && !self.reached && !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.line(&last);
        }
        if let Some(why) = self.unusable {
            return Changes::Full(why);
        }
        if !self.reached {
            return Changes::Full("modified_id.csv does not reach back to the newest record held".to_string());
        }
        Changes::Ids(self.ids)
    }
}

impl BodySink for CsvSink {
    fn restart(&mut self) -> Result<(), String> {
        let recent = std::mem::take(&mut self.recent);
        *self = CsvSink::new(self.floor, recent, self.limit);
        Ok(())
    }

    fn chunk(&mut self, bytes: &[u8]) -> Result<bool, String> {
        self.partial.extend_from_slice(bytes);
        while let Some(end) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            if !self.line(&line) {
                return Ok(false);
            }
        }
        // A "line" longer than any real one: not the format.
        if self.partial.len() > 4096 {
            self.unusable = Some("modified_id.csv has a line longer than 4 KB".to_string());
            return Ok(false);
        }
        Ok(true)
    }
}

/// Writes a download into a temporary file (truncated on every retry).
struct FileSink {
    path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl FileSink {
    fn new(path: PathBuf) -> FileSink {
        FileSink { path, file: None }
    }

    fn finish(&mut self) -> Result<(), String> {
        match self.file.take() {
            Some(mut file) => file
                .flush()
                .and_then(|()| file.get_ref().sync_all())
                .map_err(|e| format!("cannot write {}: {e}", self.path.display())),
            None => Ok(()),
        }
    }
}

impl BodySink for FileSink {
    fn restart(&mut self) -> Result<(), String> {
        // `create_new` on the first attempt: the name is fresh, and never an existing file or link.
        let file = if self.file.is_none() {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&self.path)
        } else {
            std::fs::OpenOptions::new().write(true).truncate(true).open(&self.path)
        };
        let file = file.map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        self.file = Some(std::io::BufWriter::with_capacity(256 * 1024, file));
        Ok(())
    }

    fn chunk(&mut self, bytes: &[u8]) -> Result<bool, String> {
        match &mut self.file {
            Some(file) => file
                .write_all(bytes)
                .map(|()| true)
                .map_err(|e| format!("cannot write {}: {e}", self.path.display())),
            None => Err("the download was not started".to_string()),
        }
    }
}

/// A fresh temporary file name in `dir` (process id and a random part: two processes never share one).
fn temp_name(dir: &Path, what: &str) -> PathBuf {
    // The name ends as `what` does (`.zip`), so the loader reads it by its kind.
    dir.join(format!("part-{}-{:016x}-{what}", std::process::id(), fastrand::u64(..)))
}

/// Writes `bytes` to `target` through a temporary file in `tmp_dir` and a rename.
fn write_atomic(tmp_dir: &Path, target: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(tmp_dir).map_err(|e| format!("cannot create {}: {e}", tmp_dir.display()))?;
    let temp = temp_name(tmp_dir, "record");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()));
    if let Err(error) = written.and_then(|()| std::fs::rename(&temp, target)) {
        remove_quietly(&temp);
        return Err(format!("cannot write {}: {error}", target.display()));
    }
    Ok(())
}

/// Removes temporary files a killed process left behind: only our own `part-*` names, and only
/// those untouched for longer than any download may take (another process may be writing the rest).
fn sweep_abandoned(tmp_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp_dir) else {
        return;
    };
    let limit = DOWNLOAD_TIMEOUT + Duration::from_secs(3600);
    for entry in entries.flatten() {
        let abandoned = entry.file_name().to_string_lossy().starts_with("part-")
            && entry.metadata().is_ok_and(|meta| {
                meta.is_file()
                    && meta
                        .modified()
                        .ok()
                        .and_then(|m| m.elapsed().ok())
                        .is_some_and(|age| age > limit)
            });
        if abandoned {
            remove_quietly(&entry.path());
        }
    }
}

fn remove_quietly(path: &Path) {
    let _ = std::fs::remove_file(path);
}

/// Removes the record files an incremental refresh wrote (only `*.json` files directly inside).
fn clear_records(records: &Path) {
    let Ok(entries) = std::fs::read_dir(records) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_file()) && path.extension().is_some_and(|e| e == "json") {
            remove_quietly(&path);
        }
    }
}

const STATE_FILE: &str = "sync.state";
/// Held (an advisory lock on the open file) by the process syncing the ecosystem's copy.
const LOCK_FILE: &str = "sync.lock";

/// Takes the cross-process sync lock of an ecosystem's copy folder (`sync.lock`), waiting while
/// another process syncs.
fn lock_sync(dir: &Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    Ok(file)
}

fn read_state(dir: &Path) -> Result<SyncState, String> {
    let bytes = std::fs::read(dir.join(STATE_FILE)).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn write_state(dir: &Path, state: &SyncState) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let bytes = serde_json::to_vec_pretty(state).map_err(|e| e.to_string())?;
    let tmp = dir
        .parent()
        .map_or_else(|| dir.join(".tmp"), |parent| parent.join(".tmp"));
    write_atomic(&tmp, &dir.join(STATE_FILE), &bytes)
}

/// Runs disk work on the blocking pool.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) => Err(format!("the disk task stopped: {error}")),
    }
}

#[async_trait]
impl Advisories for OsvExport {
    async fn advisories(
        &self,
        packages: &[PackageRef],
    ) -> Vec<(PackageRef, Result<Fetched<Vec<Advisory>>, LookupError>)> {
        let ecosystems: HashSet<Ecosystem> = packages.iter().map(|p| p.ecosystem).collect();
        // Each ecosystem syncs (when due) and loads on its own: npm's download does not hold PyPI's.
        let copies: HashMap<Ecosystem, _> = futures::future::join_all(
            ecosystems
                .into_iter()
                .map(|ecosystem| async move { (ecosystem, self.inner.answer(ecosystem).await) }),
        )
        .await
        .into_iter()
        .collect();
        packages
            .iter()
            .map(|package| {
                let answer = match copies.get(&package.ecosystem) {
                    Some(Ok((copy, state))) => {
                        let as_of = copy.describe();
                        let fetched_at = state.last_success.unwrap_or_else(Timestamp::now);
                        let age = Timestamp::now().duration_since(fetched_at);
                        let unread = describe_unreadable(&state.unreadable);
                        let caveat = state
                            .last_error
                            .as_ref()
                            .map(|error| format!("advisories from {as_of}{unread}; updating it failed: {error}"));
                        Ok(Fetched {
                            value: copy.get(package),
                            fetched_at,
                            stale: age.is_positive() && age.unsigned_abs() > self.inner.settings.refresh,
                            note: caveat.is_none().then(|| format!("advisories from {as_of}{unread}")),
                            caveat,
                        })
                    }
                    Some(Err(error)) => Err(error.clone()),
                    None => Err(LookupError::NotCovered(format!(
                        "no local copy of OSV's {} export",
                        package.ecosystem
                    ))),
                };
                (package.clone(), answer)
            })
            .collect()
    }

    fn describe(&self) -> String {
        "the local copy of OSV's export".to_string()
    }
}

/// "; left out, unreadable: ID (why), …" for the records a refresh could not read; empty when none.
fn describe_unreadable(unreadable: &BTreeMap<String, String>) -> String {
    if unreadable.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = unreadable
        .iter()
        .take(5)
        .map(|(id, why)| format!("{id} ({})", why.chars().take(120).collect::<String>()))
        .collect();
    let more = unreadable.len().saturating_sub(listed.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "; {} record(s) of the export could not be read and are left out: {}{more}",
        unreadable.len(),
        listed.join(", ")
    )
}

/// Loads one part of a copy, logging what could not be read (the rest still answers).
fn load_logged(path: &Path) -> OfflineDb {
    let (db, errors) = OfflineDb::load(&[path.to_path_buf()]);
    if !errors.is_empty() {
        tracing::warn!(
            "{} entries of the local OSV copy in {} could not be read; first: {}",
            errors.len(),
            path.display(),
            errors[0]
        );
    }
    db
}

#[cfg(test)]
mod tests;
