//! The offline OSV database: folders of OSV JSON records (searched recursively) and OSV `all.zip`
//! exports as published per ecosystem, indexed once in memory.
//!
//! Invariants:
//! - Loading never fails as a whole: each unreadable file or bad record becomes one error string that
//!   names its path (and the zip member), and every good record is still indexed.
//! - Only regular files are read (`lookup::untrusted`): a FIFO, a device or `/proc` named as a
//!   database, or found in its folder, is an error, never read. Folders are walked cycle-safe. Each
//!   record, loose or a zip member, is capped at `OSV_RECORD_CAP` bytes (decompressed), so a zip bomb
//!   or `/dev/zero` cannot exhaust memory.
//! - An advisory is indexed under every package its `affected[]` names (once per package).
//! - The database answers only for the ecosystems it holds records of: a package of another ecosystem
//!   is `NotCovered`, never "no advisories" (an npm-only snapshot knows nothing about PyPI).
//! - Within a covered ecosystem, a package the database has no record for answers an empty list: the
//!   database is the ecosystem's export, so "no record" means "no known advisory" as of the export
//!   (`describe` names its newest `modified`).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::lookup::advisories::osv_record::parse_record;
use crate::lookup::untrusted::{self, Bounds, OSV_RECORD_CAP, open_untrusted, read_untrusted};

/// 16 GiB: an OSV `all.zip` is read member by member, so only its kind matters, not its size.
const ZIP_CAP: u64 = 16 * 1024 * 1024 * 1024;
use crate::lookup::{Advisories, Fetched, LookupError};
use jiff::Timestamp;

use crate::model::{Advisory, Ecosystem, PackageRef};

/// OSV records indexed by package.
#[derive(Debug, Default)]
pub struct OfflineDb {
    index: HashMap<PackageRef, Vec<Advisory>>,
    records: usize,
    /// The ecosystems its records name: the only ones it answers for.
    ecosystems: HashSet<Ecosystem>,
    /// The newest `modified` of any record: how current the snapshot is.
    newest: Option<Timestamp>,
    /// While loading: the newest `modified` seen per record id, so an older copy of a record (an
    /// export's `all.zip` beside a record updated since) is dropped even from packages the newer copy
    /// no longer names.
    latest_by_id: HashMap<String, Option<Timestamp>>,
}

impl OfflineDb {
    /// Loads every path: a folder (every `*.json` below it), a `.zip` file, or a single `.json` file.
    pub fn load(paths: &[PathBuf]) -> (OfflineDb, Vec<String>) {
        let mut db = OfflineDb::default();
        let mut errors = Vec::new();
        for path in paths {
            if path.is_dir() {
                db.load_dir(path, &mut errors);
            } else if has_extension(path, "zip") {
                db.load_zip(path, &mut errors);
            } else {
                db.load_json(path, &mut errors);
            }
        }
        db.drop_superseded();
        tracing::debug!(
            records = db.records,
            packages = db.index.len(),
            "offline OSV database loaded"
        );
        (db, errors)
    }

    /// Records indexed (each counted once, however many packages it names).
    pub fn len(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Whether the database holds records of `ecosystem`.
    pub fn covers(&self, ecosystem: Ecosystem) -> bool {
        self.ecosystems.contains(&ecosystem)
    }

    /// The newest `modified` of its records.
    pub fn newest_modified(&self) -> Option<Timestamp> {
        self.newest
    }

    /// Every advisory naming `package`.
    pub fn get(&self, package: &PackageRef) -> &[Advisory] {
        self.index.get(package).map(Vec::as_slice).unwrap_or_default()
    }

    fn load_json(&mut self, path: &Path, errors: &mut Vec<String>) {
        // The databases are named by the user (flags, user configuration, a trusted project).
        match read_untrusted(path, &Bounds::user_named(OSV_RECORD_CAP)) {
            Ok(bytes) => self.add(&bytes, &path.display().to_string(), errors),
            Err(err) => errors.push(err.to_string()),
        }
    }

    fn load_dir(&mut self, dir: &Path, errors: &mut Vec<String>) {
        let walked = untrusted::walk(dir, |_, _| false);
        for skipped in walked.skipped {
            errors.push(skipped.to_string());
        }
        for path in walked.files {
            if has_extension(&path, "json") {
                self.load_json(&path, errors);
            } else if has_extension(&path, "zip") {
                self.load_zip(&path, errors);
            }
        }
    }

    fn load_zip(&mut self, path: &Path, errors: &mut Vec<String>) {
        let file = match open_untrusted(path, &Bounds::user_named(ZIP_CAP)) {
            Ok((_, file)) => file,
            Err(err) => {
                errors.push(err.to_string());
                return;
            }
        };
        let mut archive = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
            Ok(archive) => archive,
            Err(err) => {
                errors.push(format!("{}: not a zip archive: {err}", path.display()));
                return;
            }
        };
        for i in 0..archive.len() {
            let member = match archive.by_index(i) {
                Ok(member) => member,
                Err(err) => {
                    errors.push(format!("{} (member {i}): {err}", path.display()));
                    continue;
                }
            };
            if member.is_dir() || !member.name().ends_with(".json") {
                continue;
            }
            let name = format!("{}:{}", path.display(), member.name());
            match untrusted::read_capped(member, Path::new(&name), OSV_RECORD_CAP) {
                Ok(bytes) => self.add(&bytes, &name, errors),
                Err(err) => errors.push(err.to_string()),
            }
        }
    }

    fn add(&mut self, bytes: &[u8], origin: &str, errors: &mut Vec<String>) {
        let advisory = match parse_record(bytes) {
            Ok(advisory) => advisory,
            Err(err) => {
                errors.push(format!("{origin}: {err}"));
                return;
            }
        };
        let packages: HashSet<PackageRef> = advisory.affected.iter().filter_map(|a| a.package.clone()).collect();
        match self.latest_by_id.entry(advisory.id.clone()) {
            std::collections::hash_map::Entry::Occupied(mut seen) => {
                if advisory.modified > *seen.get() {
                    seen.insert(advisory.modified);
                }
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(advisory.modified);
                self.records += 1;
            }
        }
        if let Some(modified) = advisory.modified {
            self.newest = Some(self.newest.map_or(modified, |newest| newest.max(modified)));
        }
        for package in packages {
            self.ecosystems.insert(package.ecosystem);
            let list = self.index.entry(package).or_default();
            // The same record in two sources (a folder and a zip): keep the newest.
            if let Some(existing) = list.iter_mut().find(|a| a.id == advisory.id) {
                if advisory.modified > existing.modified {
                    *existing = advisory.clone();
                }
            } else {
                list.push(advisory.clone());
            }
        }
    }
}

impl OfflineDb {
    /// Keeps, per record id, only its newest copy under every package (see `latest_by_id`).
    fn drop_superseded(&mut self) {
        let latest = &self.latest_by_id;
        self.index.retain(|_, advisories| {
            advisories.retain(|advisory| {
                latest
                    .get(&advisory.id)
                    .is_none_or(|newest| advisory.modified >= *newest)
            });
            !advisories.is_empty()
        });
    }

    /// The ids of its records modified at `floor` or later, with their `modified`.
    pub fn modified_since(&self, floor: Timestamp) -> std::collections::BTreeMap<String, Timestamp> {
        self.latest_by_id
            .iter()
            .filter_map(|(id, modified)| modified.filter(|m| *m >= floor).map(|m| (id.clone(), m)))
            .collect()
    }

    /// Whether the database holds a record with this id (under any package).
    pub fn holds(&self, id: &str) -> bool {
        self.latest_by_id.contains_key(id)
    }
}

/// "the offline snapshot as of 2026-12-05 10:00 UTC": how every offline source names itself.
pub fn describe_snapshot(newest: Option<Timestamp>) -> String {
    match newest {
        Some(newest) => format!("the offline snapshot as of {}", newest.strftime("%Y-%m-%d %H:%M UTC")),
        None => "the offline snapshot".to_string(),
    }
}

fn has_extension(path: &Path, extension: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(extension))
}

#[async_trait]
impl Advisories for OfflineDb {
    async fn advisories(
        &self,
        packages: &[PackageRef],
    ) -> Vec<(PackageRef, Result<Fetched<Vec<Advisory>>, LookupError>)> {
        packages
            .iter()
            .map(|package| {
                let answer = if self.covers(package.ecosystem) {
                    Ok(Fetched::fresh(self.get(package).to_vec()))
                } else {
                    Err(LookupError::NotCovered(format!(
                        "the offline OSV database holds no {} records",
                        package.ecosystem
                    )))
                };
                (package.clone(), answer)
            })
            .collect()
    }

    fn describe(&self) -> String {
        describe_snapshot(self.newest)
    }
}
