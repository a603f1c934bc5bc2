//! The shared vocabulary of the pipeline: ecosystems, package references, spans, severities,
//! advisories and the registry facts every check reads.
//!
//! Invariants:
//! - Data and constructors only: no IO, no async, no clock, no rules.
//! - Package names in a `PackageRef` are normalised for their ecosystem (`PackageRef::new` does it), so
//!   two spellings of one PyPI project are one key everywhere (cache, facts, advisories).
//! - Times are `jiff::Timestamp` (UTC instants); "now" always comes from the caller. A version's publish
//!   time is held in 8 bytes (`PublishTime`) and read as an `Option<Timestamp>`.
//!
//! Storage and wire forms live in `lookup`; how findings are shown lives in `report`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use compact_str::CompactString;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

mod digests;
pub use digests::{Digest, Digests};

/// A package ecosystem, named as OSV names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ecosystem {
    #[serde(rename = "npm")]
    Npm,
    #[serde(rename = "crates.io")]
    CratesIo,
    #[serde(rename = "PyPI")]
    PyPI,
}

impl Ecosystem {
    pub const ALL: [Ecosystem; 3] = [Ecosystem::Npm, Ecosystem::CratesIo, Ecosystem::PyPI];

    /// The ecosystem's name in OSV records and in Gatehouse's JSON output.
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::PyPI => "PyPI",
        }
    }

    pub fn from_osv_name(name: &str) -> Option<Ecosystem> {
        match name {
            "npm" => Some(Ecosystem::Npm),
            "crates.io" => Some(Ecosystem::CratesIo),
            "PyPI" | "pypi" => Some(Ecosystem::PyPI),
            _ => None,
        }
    }

    /// Normalises a package name the way the ecosystem compares names.
    ///
    /// PyPI follows PEP 503 (lower case, runs of `-`, `_`, `.` become one `-`); crates.io compares names
    /// case-insensitively with `-` and `_` equal, but the index stores the lower-case name as published,
    /// so only case is folded here; npm names are case-sensitive and kept as they are.
    pub fn normalize_name(self, name: &str) -> String {
        match self {
            Ecosystem::Npm => name.trim().to_string(),
            Ecosystem::CratesIo => name.trim().to_ascii_lowercase(),
            Ecosystem::PyPI => {
                let mut res = String::with_capacity(name.len());
                let mut pending_separator = false;
                for ch in name.trim().chars() {
                    if matches!(ch, '-' | '_' | '.') {
                        pending_separator = true;
                        continue;
                    }
                    if pending_separator && !res.is_empty() {
                        res.push('-');
                    }
                    pending_separator = false;
                    res.extend(ch.to_lowercase());
                }
                res
            }
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.osv_name())
    }
}

/// One package in one ecosystem, with its name normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageRef {
    pub ecosystem: Ecosystem,
    pub name: String,
}

impl PackageRef {
    pub fn new(ecosystem: Ecosystem, name: &str) -> PackageRef {
        PackageRef {
            ecosystem,
            name: ecosystem.normalize_name(name),
        }
    }
}

impl fmt::Display for PackageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.ecosystem)
    }
}

/// Where a package's registry data comes from.
///
/// `Public` means the ecosystem's public registry (npmjs, crates.io, PyPI). A `Private` registry's
/// packages are never sent to a public service: not to the public registry, not to OSV.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub enum RegistrySource {
    #[default]
    Public,
    /// A registry named or configured by the project (`.npmrc`, `.cargo/config.toml`, `--index-url`),
    /// with the base URL that serves it.
    Private { url: String },
}

/// A half-open byte range `[start, end)` in a document's text, on char boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn contains(&self, offset: usize) -> bool {
        self.start <= offset && offset <= self.end
    }
}

/// Severity of a finding; ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Information,
    Hint,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
            Severity::Hint => "hint",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Severity::Error),
            "warning" | "warn" => Some(Severity::Warning),
            "information" | "info" => Some(Severity::Information),
            "hint" => Some(Severity::Hint),
            _ => None,
        }
    }

    /// True when `self` is at least as severe as `level`.
    pub fn at_least(self, level: Severity) -> bool {
        self <= level
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OSV advisory, reduced to what Gatehouse reads. Mapped from the OSV schema by `lookup`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub details: String,
    pub published: Option<Timestamp>,
    pub modified: Option<Timestamp>,
    pub withdrawn: Option<Timestamp>,
    pub affected: Vec<Affected>,
    /// CVSS vectors as given in `severity[]` (`CVSS_V3`, `CVSS_V4`, …): (type, score).
    pub cvss: Vec<(String, String)>,
    /// `database_specific.severity` (GHSA: `LOW`, `MODERATE`, `HIGH`, `CRITICAL`).
    pub database_severity: Option<String>,
    /// CWE ids from `database_specific.cwe_ids`.
    pub cwes: Vec<String>,
    /// The advisory's own web page, or the first reference.
    pub url: Option<String>,
}

/// One `affected[]` entry of an OSV record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Affected {
    pub package: Option<PackageRef>,
    pub ranges: Vec<AffectedRange>,
    /// The enumerated `versions` list.
    pub versions: Vec<String>,
    /// `database_specific.last_known_affected_version_range` (GHSA), e.g. `"<= 1.2.3"`.
    pub last_known_affected_version_range: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedRange {
    pub kind: RangeKind,
    pub events: Vec<RangeEvent>,
}

/// OSV range events. `Introduced("0")` means "from the first version".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeEvent {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

/// The status of a whole project on its registry (PEP 792, npm unpublish).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ProjectStatus {
    #[default]
    Active,
    Archived,
    Quarantined,
    Deprecated,
    /// npm: every version was unpublished (`time.unpublished`).
    Unpublished,
}

/// What a registry says about one version.
///
/// Kept to 64 bytes (a test holds it): a session holds every version of every package its manifests
/// name (ten 300-dependency `package.json` files are ~90,000 versions). The version string is stored
/// inline (every ordinary version fits in 24 bytes), the publish time in 8 bytes (`PublishTime`), the
/// yank flag in a spare byte of `detail`, and what most versions lack (a yank reason, a deprecation,
/// attestations, signatures, metadata beyond empty lists) behind one pointer in `detail`, which reads
/// like the fields themselves (`version.detail.deprecated`). Read the time with `published()` and the
/// flag with `yanked()`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct VersionFacts {
    pub version: CompactString,
    /// `PublishTime::NONE` when the registry gives no trustworthy publish time.
    pub published: PublishTime,
    /// Artifact digests as the registry states them (`sha512-…` integrity, `sha256:…` hex).
    pub digests: Digests,
    /// The rest of what the registry says about the version (`VersionDetail`), and the yank flag.
    pub detail: Detail,
}

impl VersionFacts {
    /// When the version was published; `None` when the registry gives no trustworthy time.
    pub fn published(&self) -> Option<Timestamp> {
        self.published.get()
    }

    /// Whether the registry marks the version yanked (crates.io `yanked`, PyPI PEP 592).
    pub fn yanked(&self) -> bool {
        self.detail.yanked
    }

    pub fn set_yanked(&mut self, yanked: bool) {
        self.detail.yanked = yanked;
    }
}

impl std::fmt::Debug for VersionFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionFacts")
            .field("version", &self.version)
            .field("published", &self.published())
            .field("yanked", &self.yanked())
            .field("digests", &self.digests)
            .field("detail", &self.detail)
            .finish()
    }
}

/// A publish time in 8 bytes: nanoseconds since the Unix epoch, with one value (`i64::MIN`) meaning
/// "no trustworthy time" (an `Option<Timestamp>` takes 24 bytes, ×90,000 versions in a session).
/// Nanoseconds in an `i64` cover 1677-09-21 to 2262-04-11; a time outside that range (no registry
/// published a package before 1677 or after 2262, so such a time is wrong) and the reserved instant
/// itself are treated as no trustworthy time, like a missing one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublishTime(i64);

impl PublishTime {
    /// No trustworthy publish time.
    pub const NONE: PublishTime = PublishTime(i64::MIN);

    /// Holds `time`; `NONE` when there is none, or it lies outside 1677-09-21 to 2262-04-11.
    pub fn new(time: Option<Timestamp>) -> PublishTime {
        time.and_then(|time| i64::try_from(time.as_nanosecond()).ok())
            .filter(|&nanoseconds| nanoseconds != i64::MIN)
            .map_or(PublishTime::NONE, PublishTime)
    }

    /// The time held; `None` for no trustworthy time.
    pub fn get(self) -> Option<Timestamp> {
        if self == PublishTime::NONE {
            return None;
        }
        Timestamp::from_nanosecond(i128::from(self.0)).ok()
    }
}

impl Default for PublishTime {
    fn default() -> Self {
        PublishTime::NONE
    }
}

impl From<Option<Timestamp>> for PublishTime {
    fn from(time: Option<Timestamp>) -> Self {
        PublishTime::new(time)
    }
}

impl From<Timestamp> for PublishTime {
    fn from(time: Timestamp) -> Self {
        PublishTime::new(Some(time))
    }
}

impl std::fmt::Debug for PublishTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// The less common facts of one version; reached through `VersionFacts::detail`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionDetail {
    pub yanked_reason: Option<String>,
    /// npm `deprecated` message.
    pub deprecated: Option<String>,
    /// npm `dist.attestations.url` or PEP 740 provenance URL, when the registry advertises one.
    pub attestations_url: Option<String>,
    /// npm `dist.signatures`: (keyid, base64 signature).
    pub signatures: Vec<(String, String)>,
    /// What the version's own registry entry says about it beyond availability (install hooks,
    /// dependencies, publisher, repository, file kinds), for the pre-advisory signals. Every part is
    /// an `Option`: `None` means the document did not say, which is unknown, never "none".
    pub meta: VersionMeta,
}

/// A `VersionDetail` that allocates only when it says something: the common answers (nothing, or only
/// "no install scripts" / "no dependencies", as every full npm entry without them says) are shared
/// constants. Reads deref to the `VersionDetail`; a write (`DerefMut`) makes it its own. It also
/// carries the version's yank flag (`VersionFacts::yanked`), in the padding after `shape`, which keeps
/// `VersionFacts` at 64 bytes.
#[derive(Clone, Default)]
pub struct Detail {
    /// `None`: the shared constant `SHAPES[shape]`.
    owned: Option<Box<VersionDetail>>,
    shape: u8,
    yanked: bool,
}

const fn shape(install_scripts: bool, dependencies: bool) -> VersionDetail {
    VersionDetail {
        yanked_reason: None,
        deprecated: None,
        attestations_url: None,
        signatures: Vec::new(),
        meta: VersionMeta {
            install_scripts: if install_scripts { Some(Vec::new()) } else { None },
            dependencies: if dependencies { Some(Vec::new()) } else { None },
            publisher: None,
            maintainers: None,
            repository: None,
            homepage: None,
            files: None,
        },
    }
}

/// Index = `install_scripts known empty` + 2 × `dependencies known empty`.
static SHAPES: [VersionDetail; 4] = [
    shape(false, false),
    shape(true, false),
    shape(false, true),
    shape(true, true),
];

impl From<VersionDetail> for Detail {
    fn from(detail: VersionDetail) -> Self {
        let index =
            usize::from(detail.meta.install_scripts.is_some()) + 2 * usize::from(detail.meta.dependencies.is_some());
        if SHAPES[index] == detail {
            Detail {
                owned: None,
                shape: index as u8,
                yanked: false,
            }
        } else {
            Detail {
                owned: Some(Box::new(detail)),
                shape: 0,
                yanked: false,
            }
        }
    }
}

impl std::ops::Deref for Detail {
    type Target = VersionDetail;

    fn deref(&self) -> &VersionDetail {
        match &self.owned {
            Some(detail) => detail,
            None => &SHAPES[usize::from(self.shape) % SHAPES.len()],
        }
    }
}

impl std::ops::DerefMut for Detail {
    fn deref_mut(&mut self) -> &mut VersionDetail {
        let shape = usize::from(self.shape) % SHAPES.len();
        self.owned.get_or_insert_with(|| Box::new(SHAPES[shape].clone()))
    }
}

impl PartialEq for Detail {
    fn eq(&self, other: &Detail) -> bool {
        self.yanked == other.yanked && **self == **other
    }
}

impl Eq for Detail {}

impl std::fmt::Debug for Detail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// The stored and fixture form of `VersionFacts`: the fields flat, in their historical order, so the
/// store's rows (postcard, which has no field names) and `facts.json` fixtures read as before.
#[derive(Serialize)]
#[serde(rename = "VersionFacts")]
struct VersionFactsOut<'a> {
    version: &'a str,
    published: Option<Timestamp>,
    yanked: bool,
    yanked_reason: &'a Option<String>,
    deprecated: &'a Option<String>,
    digests: &'a Digests,
    attestations_url: &'a Option<String>,
    signatures: &'a Vec<(String, String)>,
    meta: &'a VersionMeta,
}

#[derive(Deserialize)]
#[serde(rename = "VersionFacts")]
struct VersionFactsIn {
    version: CompactString,
    published: Option<Timestamp>,
    yanked: bool,
    yanked_reason: Option<String>,
    deprecated: Option<String>,
    digests: Vec<String>,
    attestations_url: Option<String>,
    signatures: Vec<(String, String)>,
    meta: VersionMeta,
}

impl Serialize for VersionFacts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let detail: &VersionDetail = &self.detail;
        let out = VersionFactsOut {
            version: &self.version,
            published: self.published(),
            yanked: self.yanked(),
            yanked_reason: &detail.yanked_reason,
            deprecated: &detail.deprecated,
            digests: &self.digests,
            attestations_url: &detail.attestations_url,
            signatures: &detail.signatures,
            meta: &detail.meta,
        };
        out.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for VersionFacts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = VersionFactsIn::deserialize(deserializer)?;
        let mut facts = VersionFacts {
            version: wire.version,
            published: PublishTime::new(wire.published),
            digests: Digests::from(wire.digests),
            detail: Detail::from(VersionDetail {
                yanked_reason: wire.yanked_reason,
                deprecated: wire.deprecated,
                attestations_url: wire.attestations_url,
                signatures: wire.signatures,
                meta: wire.meta,
            }),
        };
        facts.set_yanked(wire.yanked);
        Ok(facts)
    }
}

/// A version's registry metadata as the signals compare it between versions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VersionMeta {
    /// Code that runs on install: npm `scripts.preinstall/install/postinstall` (and `gypfile`, the
    /// implicit `node-gyp rebuild`) as (hook, command). `Some(vec![])` when the entry lists none.
    pub install_scripts: Option<Vec<(String, String)>>,
    /// Dependencies the version declares (npm `dependencies`, crates.io index `deps`).
    pub dependencies: Option<Vec<DeclaredDep>>,
    /// Who published this version (npm `_npmUser.name`).
    pub publisher: Option<String>,
    /// Who may publish (npm `maintainers[].name`).
    pub maintainers: Option<Vec<String>>,
    /// The declared source repository (npm `repository`), as written.
    pub repository: Option<String>,
    /// The declared homepage (npm `homepage`), as written.
    pub homepage: Option<String>,
    /// PyPI: what the release ships, counted by file kind.
    pub files: Option<FileKinds>,
}

/// One declared dependency of a version. Its strings are shared (`SharedStrings`): a package's versions
/// mostly declare the same names and requirements, and every version of every crate a Cargo.toml names
/// keeps its list (63,000 strings in a 33-crate session).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeclaredDep {
    pub name: std::sync::Arc<str>,
    /// The requirement as written (`^0.1.0`).
    pub req: std::sync::Arc<str>,
    pub kind: DeclaredKind,
    /// Only with a feature (crates) or extra; not installed by default.
    pub optional: bool,
}

/// Which kind of dependency: installed at run time, run at build time, or for development only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DeclaredKind {
    #[default]
    Normal,
    Build,
    Dev,
}

/// PyPI files of one release by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FileKinds {
    pub sdists: u32,
    pub wheels: u32,
    pub other: u32,
}

impl FileKinds {
    /// Counts one file by its name (`.whl` wheel, `.tar.gz`/`.zip`/`.tar.bz2` sdist, anything else other).
    pub fn add_file(&mut self, filename: &str) {
        let lower = filename.to_ascii_lowercase();
        if lower.ends_with(".whl") {
            self.wheels += 1;
        } else if [".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        {
            self.sdists += 1;
        } else {
            self.other += 1;
        }
    }
}

/// What a registry says about one package.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PackageFacts {
    pub versions: Vec<VersionFacts>,
    /// When the package first appeared (npm `time.created`, else the earliest version).
    pub created: Option<Timestamp>,
    pub status: ProjectStatus,
    pub status_reason: Option<String>,
    /// npm `time.unpublished.time`.
    pub unpublished: Option<Timestamp>,
    /// The package's declared source repository (npm `repository`), for provenance comparison.
    pub repository: Option<String>,
    /// npm dist-tags `latest`, when known.
    pub latest: Option<String>,
    /// Versions this machine saw earlier that the registry no longer lists (takedown memory), with
    /// the last time they were seen and the first time they were missing.
    pub vanished: Vec<Vanished>,
}

/// One allocation per distinct string: equal strings get the same `Arc`.
#[derive(Default)]
pub struct SharedStrings(std::collections::HashSet<std::sync::Arc<str>>);

impl SharedStrings {
    pub fn get(&mut self, text: &str) -> std::sync::Arc<str> {
        if let Some(known) = self.0.get(text) {
            return known.clone();
        }
        let new: std::sync::Arc<str> = std::sync::Arc::from(text);
        self.0.insert(new.clone());
        new
    }
}

impl PackageFacts {
    /// Makes the versions' equal declared-dependency strings one allocation each (a document decoded
    /// from the store has a copy of every one; the parsers share them as they read).
    pub fn share_strings(&mut self) {
        let mut shared = SharedStrings::default();
        for version in &mut self.versions {
            // Only lists that say something are owned; the shared "none" constants stay shared.
            if version.detail.meta.dependencies.as_ref().is_none_or(Vec::is_empty) {
                continue;
            }
            for dep in version.detail.meta.dependencies.iter_mut().flatten() {
                dep.name = shared.get(&dep.name);
                dep.req = shared.get(&dep.req);
            }
        }
    }

    /// Moves the versions' digests into one buffer (a buffer each as read: ~30 bytes a version more
    /// for an npm integrity, ×90,000 versions in a session).
    pub fn pack_digests(&mut self) {
        Digests::pack(&mut self.versions, |version| &mut version.digests);
    }

    pub fn version(&self, version: &str) -> Option<&VersionFacts> {
        self.versions.iter().find(|v| v.version == version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vanished {
    pub version: String,
    pub last_seen: Timestamp,
    pub missing_since: Timestamp,
    /// When the version is still listed but its artifact digest changed: the old digest.
    pub changed_digest: Option<String>,
}

/// Provenance of one version, as verified by `lookup` (cryptography is IO-free but slow, so it runs there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Provenance {
    Verified(ProvenanceIdentity),
    Absent,
    Invalid { step: String },
    Unknown { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProvenanceIdentity {
    pub source_repository: Option<String>,
    pub source_commit: Option<String>,
    pub workflow: Option<String>,
    pub git_ref: Option<String>,
    pub issuer: Option<String>,
    pub san: Option<String>,
}

/// The reason the "ignore" quick fix writes into a new `[[ignore]]` entry. It fails the reason rule
/// (`config` treats it, and any reason starting with `TODO`, as missing), so the entry suppresses
/// nothing until a person says why.
pub const IGNORE_REASON_PLACEHOLDER: &str = "TODO: say why this is acceptable";

/// Why some data is missing; rendered as an information diagnostic, never as safety.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub source: String,
    pub message: String,
}

/// The `Note::source` suffix `lookup` uses when the registry answered that the package does not exist
/// (404/410), as opposed to a failure to ask.
pub const NOT_FOUND_SOURCE_SUFFIX: &str = ": not found";

impl Note {
    /// Whether the registry said the package does not exist.
    pub fn is_not_found(&self) -> bool {
        self.source.ends_with(NOT_FOUND_SOURCE_SUFFIX)
    }
}

/// One fact as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact<T> {
    /// Known, fetched at `as_of`; `stale` when served past its time-to-live (offline).
    Known { value: T, as_of: Timestamp, stale: bool },
    /// Asked for, not landed yet.
    Pending,
    /// Could not be had.
    Unavailable(Note),
}

impl<T> Fact<T> {
    pub fn known(&self) -> Option<&T> {
        match self {
            Fact::Known { value, .. } => Some(value),
            _ => None,
        }
    }
}

/// Everything the lookup layer knows, as plain data for the pure core.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub packages: HashMap<PackageRef, Fact<std::sync::Arc<PackageFacts>>>,
    /// Every advisory that names the package (not only those affecting one version), so fixes can
    /// be checked against all of them.
    pub advisories: HashMap<PackageRef, Fact<Vec<Advisory>>>,
    pub provenance: HashMap<(PackageRef, String), Fact<Provenance>>,
    /// Known advisory answers that are less than asked for: "advisories from the offline snapshot as of
    /// …; the OSV API failed: …". Shown with the package; cleared by a later answer without one.
    pub advisory_caveats: HashMap<PackageRef, String>,
    /// Where a full advisory answer came from, when a person should know it: "advisories from the
    /// offline snapshot as of …" (the local copy of OSV's export, for a name behind a mirror). The
    /// check still counts as done. Cleared by a later answer without one.
    pub advisory_notes: HashMap<PackageRef, String>,
    /// Why a due refresh of a package's facts failed while an older answer is still served (marked
    /// stale): "registry: connection refused". Cleared once no fact of the package is stale.
    pub refresh_errors: HashMap<PackageRef, String>,
}

impl Facts {
    /// Adds newly fetched facts. A known fact is never replaced by a failure or a pending mark, but a
    /// failed refresh marks it stale and records why (`refresh_errors`): an expired answer whose
    /// refresh failed is never shown as fresh.
    pub fn merge(&mut self, fetched: Facts) {
        fn merge_map<K: std::hash::Hash + Eq, T>(
            into: &mut HashMap<K, Fact<T>>,
            from: HashMap<K, Fact<T>>,
            mut failed: impl FnMut(&K, &Note),
        ) {
            for (key, fact) in from {
                if let Some(Fact::Known { stale, .. }) = into.get_mut(&key)
                    && !matches!(fact, Fact::Known { .. })
                {
                    if let Fact::Unavailable(note) = &fact {
                        *stale = true;
                        failed(&key, note);
                    }
                    continue;
                }
                into.insert(key, fact);
            }
        }
        for (package, fact) in &fetched.advisories {
            if matches!(fact, Fact::Known { .. }) && !fetched.advisory_caveats.contains_key(package) {
                self.advisory_caveats.remove(package);
            }
            if matches!(fact, Fact::Known { .. }) && !fetched.advisory_notes.contains_key(package) {
                self.advisory_notes.remove(package);
            }
        }
        self.advisory_caveats.extend(fetched.advisory_caveats);
        self.advisory_notes.extend(fetched.advisory_notes);
        let mut errors: Vec<(PackageRef, String)> = Vec::new();
        let mut record = |package: &PackageRef, note: &Note| {
            errors.push((package.clone(), format!("{}: {}", note.source, note.message)));
        };
        merge_map(&mut self.packages, fetched.packages, &mut record);
        merge_map(&mut self.advisories, fetched.advisories, &mut record);
        merge_map(&mut self.provenance, fetched.provenance, |(package, _), note| {
            record(package, note)
        });
        self.refresh_errors.extend(errors);
        let (packages, advisories) = (&self.packages, &self.advisories);
        let stale = |fact: Option<&Fact<_>>| matches!(fact, Some(Fact::Known { stale: true, .. }));
        self.refresh_errors.retain(|package, _| {
            matches!(packages.get(package), Some(Fact::Known { stale: true, .. })) || stale(advisories.get(package))
        });
    }
}

/// One thing the lookup layer should fetch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Query {
    Package {
        package: PackageRef,
        source: RegistrySource,
    },
    Advisories {
        package: PackageRef,
    },
    /// Advisories from local OSV copies only (offline databases): the name must not leave the machine
    /// (a package behind a registry mirror that may also serve private names).
    LocalAdvisories {
        package: PackageRef,
    },
    Provenance {
        package: PackageRef,
        version: String,
        source: RegistrySource,
    },
}

// Vocabulary two stages share: the kind of file a dependency came from (manifest → fix, report),
// where its version came from (resolve → report), the kinds of finding (checks → policy, config,
// report), and a problem with the policy itself (policy → report).

/// The kinds of file Gatehouse reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManifestKind {
    PackageJson,
    CargoToml,
    Requirements,
    Pyproject,
    /// `pnpm-workspace.yaml`: the versions its `overrides` and `packageExtensions` make pnpm install.
    PnpmWorkspace,
    /// `.yarnrc.yml`: the dependencies its `packageExtensions` make Yarn install.
    YarnRc,
    /// `.cargo/config.toml` (or `.cargo/config`): the crates its `[patch]` makes Cargo build.
    CargoConfig,
    PackageLock,
    CargoLock,
    PoetryLock,
    UvLock,
    /// `pylock.toml`, the PEP 751 lockfile.
    PyLock,
    PnpmLock,
    YarnLock,
    BunLock,
    /// `bun.lockb`, Bun's binary lockfile: not read, and said so.
    BunLockb,
}

/// Whether a file found by a walk is a pip requirements file, named the way the tools that look for
/// them name it: `requirements` anywhere in a plain file name (Renovate's default pattern is
/// `[\w-]*requirements([-.]\w+)?\.(txt|pip)`: `requirements-dev.txt`, `test-requirements.txt`,
/// `mypy-requirements.txt`, `requirements.dev.txt`), their pip-tools sources (`.in`), and every
/// `.txt`/`.in` file in a folder named `requirements` (`requirements/base.txt`, which Dependabot reads
/// too). A walk that passed over these read nothing of them and said nothing.
fn is_requirements_name(path: &Path, name: &str) -> bool {
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return false;
    };
    let extension = extension.to_ascii_lowercase();
    if !matches!(extension.as_str(), "txt" | "in" | "pip") {
        return false;
    }
    let named = stem.starts_with("requirements")
        || stem.to_ascii_lowercase().contains("requirements")
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        || extension != "in" && is_constraints_name(name);
    let in_requirements_folder = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|folder| folder.to_str())
        .is_some_and(|folder| folder.eq_ignore_ascii_case("requirements"));
    named || in_requirements_folder
}

/// Whether a file name reads as a pip constraints file (`constraints.txt`, `constraints-py3.11.txt`,
/// `package_constraints.txt`): projects that pass one on pip's command line (`pip install -c
/// constraints.txt`, `PIP_CONSTRAINT`) name no `-c` line, so a walk reads it as one by its name, and
/// its pins are checked on their lines.
pub fn is_constraints_name(name: &str) -> bool {
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return false;
    };
    matches!(extension.to_ascii_lowercase().as_str(), "txt" | "pip")
        && stem.to_ascii_lowercase().contains("constraints")
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl ManifestKind {
    /// The kinds a person edits (the others are their lockfiles).
    pub const MANIFESTS: [ManifestKind; 4] = [
        ManifestKind::PackageJson,
        ManifestKind::CargoToml,
        ManifestKind::Requirements,
        ManifestKind::Pyproject,
    ];

    /// Detects a file's kind from its name. `explicit` accepts any `.txt` as a requirements file
    /// (a path the user passed on the command line).
    pub fn detect(path: &Path, explicit: bool) -> Option<ManifestKind> {
        let name = path.file_name()?.to_str()?;
        match name {
            "package.json" => Some(ManifestKind::PackageJson),
            "Cargo.toml" => Some(ManifestKind::CargoToml),
            "pyproject.toml" => Some(ManifestKind::Pyproject),
            "pnpm-workspace.yaml" => Some(ManifestKind::PnpmWorkspace),
            ".yarnrc.yml" => Some(ManifestKind::YarnRc),
            "config.toml" | "config"
                if path
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|dir| dir == ".cargo") =>
            {
                Some(ManifestKind::CargoConfig)
            }
            "package-lock.json" | "npm-shrinkwrap.json" => Some(ManifestKind::PackageLock),
            "Cargo.lock" => Some(ManifestKind::CargoLock),
            "poetry.lock" => Some(ManifestKind::PoetryLock),
            "uv.lock" => Some(ManifestKind::UvLock),
            "pylock.toml" => Some(ManifestKind::PyLock),
            "pnpm-lock.yaml" => Some(ManifestKind::PnpmLock),
            "yarn.lock" => Some(ManifestKind::YarnLock),
            "bun.lock" => Some(ManifestKind::BunLock),
            "bun.lockb" => Some(ManifestKind::BunLockb),
            _ if is_requirements_name(path, name) || (explicit && name.ends_with(".txt")) => {
                Some(ManifestKind::Requirements)
            }
            _ => None,
        }
    }

    pub fn is_lockfile(self) -> bool {
        matches!(
            self,
            ManifestKind::PackageLock
                | ManifestKind::CargoLock
                | ManifestKind::PoetryLock
                | ManifestKind::UvLock
                | ManifestKind::PyLock
                | ManifestKind::PnpmLock
                | ManifestKind::YarnLock
                | ManifestKind::BunLock
                | ManifestKind::BunLockb
        )
    }

    pub fn ecosystem(self) -> Ecosystem {
        match self {
            ManifestKind::PackageJson
            | ManifestKind::PnpmWorkspace
            | ManifestKind::YarnRc
            | ManifestKind::PackageLock
            | ManifestKind::PnpmLock
            | ManifestKind::YarnLock
            | ManifestKind::BunLock
            | ManifestKind::BunLockb => Ecosystem::Npm,
            ManifestKind::CargoToml | ManifestKind::CargoConfig | ManifestKind::CargoLock => Ecosystem::CratesIo,
            ManifestKind::Requirements
            | ManifestKind::Pyproject
            | ManifestKind::PoetryLock
            | ManifestKind::UvLock
            | ManifestKind::PyLock => Ecosystem::PyPI,
        }
    }

    /// The lockfile names that decide versions for this manifest kind, in order of preference.
    pub fn lockfile_names(self) -> &'static [&'static str] {
        match self {
            // Several may exist side by side: `project` picks by `packageManager` then by this order.
            ManifestKind::PackageJson => &[
                "npm-shrinkwrap.json",
                "package-lock.json",
                "pnpm-lock.yaml",
                "yarn.lock",
                "bun.lock",
                "bun.lockb",
            ],
            // `.cargo/config.toml`'s `[patch]` takes the version the workspace's Cargo.lock pins.
            ManifestKind::CargoToml | ManifestKind::CargoConfig => &["Cargo.lock"],
            // `pylock.toml` (PEP 751) last: uv and Poetry export it, but install from their own.
            ManifestKind::Pyproject => &["uv.lock", "poetry.lock", "pylock.toml"],
            _ => &[],
        }
    }
}

/// How the checked version was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionSource {
    Lockfile,
    Pinned,
    /// Pinned by a pip constraints file (`-c`) the requirements file applies, not by the requirement.
    Constrained,
    Resolved,
    Unresolved,
}

impl VersionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionSource::Lockfile => "lockfile",
            VersionSource::Pinned => "pinned",
            VersionSource::Constrained => "constrained",
            VersionSource::Resolved => "resolved",
            VersionSource::Unresolved => "unresolved",
        }
    }
}

/// The stable kinds of finding. `code()` is used as LSP code, SARIF rule id, JSON `check` and
/// suppression key; never rename a shipped code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingKind {
    Malicious,
    Advisory,
    FreshVersion,
    FreshPackage,
    Yanked,
    Deprecated,
    Unpublished,
    TakenDown,
    NoProvenance,
    BadProvenance,
    ProvenanceDowngrade,
    /// A dependency that could not be checked (lookup failed, package unknown).
    Unchecked,
    /// A `gatehouse.toml` problem (bad key, expired suppression).
    Policy,
    Denied,
    /// Pre-advisory signals (`checks::signals`): each alone is information.
    InstallScriptAdded,
    DependencyAdded,
    PublisherChanged,
    RepositoryChanged,
    ReleasePattern,
    YanksAround,
    /// A young package named like a popular one.
    Typosquat,
    /// The judgement on a combination of signals on a fresh version.
    SuspiciousVersion,
}

impl FindingKind {
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::Malicious => "malicious",
            FindingKind::Advisory => "advisory",
            FindingKind::FreshVersion => "fresh-version",
            FindingKind::FreshPackage => "fresh-package",
            FindingKind::Yanked => "yanked",
            FindingKind::Deprecated => "deprecated",
            FindingKind::Unpublished => "unpublished",
            FindingKind::TakenDown => "taken-down",
            FindingKind::NoProvenance => "no-provenance",
            FindingKind::BadProvenance => "bad-provenance",
            FindingKind::ProvenanceDowngrade => "provenance-downgrade",
            FindingKind::Unchecked => "unchecked",
            FindingKind::Policy => "policy",
            FindingKind::Denied => "denied",
            FindingKind::InstallScriptAdded => "install-script-added",
            FindingKind::DependencyAdded => "dependency-added",
            FindingKind::PublisherChanged => "publisher-changed",
            FindingKind::RepositoryChanged => "repository-changed",
            FindingKind::ReleasePattern => "release-pattern",
            FindingKind::YanksAround => "yanks-around",
            FindingKind::Typosquat => "typosquat",
            FindingKind::SuspiciousVersion => "suspicious-version",
        }
    }

    /// The JSON `check` field: the family a finding belongs to.
    pub fn check_name(self) -> &'static str {
        match self {
            FindingKind::Malicious => "malicious",
            FindingKind::Advisory => "advisory",
            FindingKind::FreshVersion | FindingKind::FreshPackage => "age",
            FindingKind::Yanked => "yanked",
            FindingKind::Deprecated => "deprecated",
            FindingKind::Unpublished => "unpublished",
            FindingKind::TakenDown => "takedown",
            FindingKind::NoProvenance | FindingKind::BadProvenance | FindingKind::ProvenanceDowngrade => "provenance",
            FindingKind::Unchecked => "unchecked",
            FindingKind::Policy => "policy",
            FindingKind::Denied => "denied",
            // Each signal is its own family, so `[policy.severity]` can turn one off by name.
            FindingKind::InstallScriptAdded
            | FindingKind::DependencyAdded
            | FindingKind::PublisherChanged
            | FindingKind::RepositoryChanged
            | FindingKind::ReleasePattern
            | FindingKind::YanksAround
            | FindingKind::Typosquat
            | FindingKind::SuspiciousVersion => self.code(),
        }
    }

    pub fn from_code(code: &str) -> Option<FindingKind> {
        ALL_KINDS
            .iter()
            .copied()
            .find(|kind| kind.code() == code || kind.check_name() == code)
    }
}

pub const ALL_KINDS: [FindingKind; 22] = [
    FindingKind::Malicious,
    FindingKind::Advisory,
    FindingKind::FreshVersion,
    FindingKind::FreshPackage,
    FindingKind::Yanked,
    FindingKind::Deprecated,
    FindingKind::Unpublished,
    FindingKind::TakenDown,
    FindingKind::NoProvenance,
    FindingKind::BadProvenance,
    FindingKind::ProvenanceDowngrade,
    FindingKind::Unchecked,
    FindingKind::Policy,
    FindingKind::Denied,
    FindingKind::InstallScriptAdded,
    FindingKind::DependencyAdded,
    FindingKind::PublisherChanged,
    FindingKind::RepositoryChanged,
    FindingKind::ReleasePattern,
    FindingKind::YanksAround,
    FindingKind::Typosquat,
    FindingKind::SuspiciousVersion,
];

/// A problem with the policy itself (reported on `gatehouse.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyIssue {
    pub ignore_index: usize,
    /// What is wrong, for code that decides (the message is for people).
    pub kind: PolicyIssueKind,
    pub message: String,
    pub severity: Severity,
}

/// The kinds of `PolicyIssue`, one per rule a suppression can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyIssueKind {
    /// Names neither `id` nor `package`.
    NoTarget,
    /// Has no `reason`, so it does not apply.
    NoReason,
    /// Its `expires` date has passed.
    Expired,
    /// Matched no finding in this analysis; only an analysis knows, so a front checking the file
    /// alone skips it.
    Unused,
}

/// The `key=value` settings of one `.npmrc` (npm's ini format), in file order: blank lines, comments
/// (`;`, `#`) and lines without `=` are skipped; keys and values are trimmed and double quotes around a
/// value removed. The one reader of the file's syntax: `policy::cooldown` takes the release-age keys from
/// it, `lookup::private::npmrc` the registries and credentials.
pub fn npmrc_settings(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            return None;
        }
        let (key, value) = line.split_once('=')?;
        Some((key.trim(), value.trim().trim_matches('"')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shared strings are stored as the plain strings they were: rows written before still read.
    #[test]
    fn a_declared_dependency_is_stored_as_before() {
        #[derive(Serialize)]
        struct Before {
            name: String,
            req: String,
            kind: DeclaredKind,
            optional: bool,
        }
        let mut shared = SharedStrings::default();
        let now = DeclaredDep {
            name: shared.get("serde"),
            req: shared.get("^1.0"),
            kind: DeclaredKind::Build,
            optional: true,
        };
        let before = Before {
            name: "serde".to_string(),
            req: "^1.0".to_string(),
            kind: DeclaredKind::Build,
            optional: true,
        };
        assert_eq!(
            postcard::to_allocvec(&now).unwrap(),
            postcard::to_allocvec(&before).unwrap()
        );
        assert!(std::sync::Arc::ptr_eq(&shared.get("serde"), &now.name));
    }

    /// python/mypy keeps `mypy-requirements.txt`, `build-requirements.txt` and
    /// `test-requirements.txt` at its root, and pip-tools projects keep `requirements/base.txt`:
    /// a walk passed over all of them without a word.
    #[test]
    fn requirements_files_are_found_under_the_names_projects_give_them() {
        let found = |path: &str| ManifestKind::detect(Path::new(path), false);
        for path in [
            "requirements.txt",
            "requirements-dev.txt",
            "requirements.in",
            "requirements (old).txt",
            "mypy-requirements.txt",
            "test-requirements.txt",
            "dev_requirements.in",
            "Requirements.txt",
            "requirements.dev.txt",
            "docs/requirements-docs.txt",
            "requirements/base.txt",
            "requirements/dev.in",
            "app/Requirements/prod.txt",
            // pip constraints files passed on the command line (`pip install -c constraints.txt`).
            "constraints.txt",
            "src/bindings/python/constraints.txt",
            "homeassistant/package_constraints.txt",
            "constraints-py3.11.txt",
        ] {
            assert_eq!(found(path), Some(ManifestKind::Requirements), "{path}");
        }
        for path in [
            "CMakeLists.txt",
            "LICENSE.txt",
            "MANIFEST.in",
            "docs/requirements.md",
            "requirements/README.md",
            "requirements",
            "notes/my requirements.txt",
            "constraints.in",
            "docs/constraints.md",
        ] {
            assert_eq!(found(path), None, "{path}");
        }
        assert_eq!(
            ManifestKind::detect(Path::new("deps.txt"), true),
            Some(ManifestKind::Requirements)
        );
    }

    /// The layout `VersionFacts` had before `detail`, to check the stored form did not change.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct FlatVersionFacts {
        version: String,
        published: Option<Timestamp>,
        yanked: bool,
        yanked_reason: Option<String>,
        deprecated: Option<String>,
        digests: Vec<String>,
        attestations_url: Option<String>,
        signatures: Vec<(String, String)>,
        meta: VersionMeta,
    }

    #[test]
    fn version_facts_store_and_read_as_the_flat_layout() {
        let detail = VersionDetail {
            yanked_reason: Some("broken".to_string()),
            deprecated: Some("use 2".to_string()),
            attestations_url: Some("https://example.test/a".to_string()),
            signatures: vec![("key".to_string(), "sig".to_string())],
            meta: VersionMeta {
                publisher: Some("someone".to_string()),
                ..VersionMeta::default()
            },
        };
        let mut facts = VersionFacts {
            version: "1.2.3".into(),
            published: Some(Timestamp::from_second(1_600_000_000).unwrap()).into(),
            digests: vec!["sha512-x".to_string()].into(),
            detail: detail.clone().into(),
        };
        facts.set_yanked(true);
        let flat = FlatVersionFacts {
            version: "1.2.3".to_string(),
            published: facts.published(),
            yanked: true,
            yanked_reason: detail.yanked_reason.clone(),
            deprecated: detail.deprecated.clone(),
            digests: facts.digests.iter().map(|d| d.to_string()).collect(),
            attestations_url: detail.attestations_url.clone(),
            signatures: detail.signatures.clone(),
            meta: detail.meta.clone(),
        };
        let bytes = postcard::to_stdvec(&facts).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&flat).unwrap());
        assert_eq!(postcard::from_bytes::<VersionFacts>(&bytes).unwrap(), facts);
        let json = serde_json::to_value(&facts).unwrap();
        assert_eq!(json, serde_json::to_value(&flat).unwrap());
        assert_eq!(serde_json::from_value::<VersionFacts>(json).unwrap(), facts);
    }

    /// Three versions as the store holds them (postcard) and as `facts.json` fixtures write them, taken
    /// from the layout before `VersionFacts` shrank (`version: String`, `published: Option<Timestamp>`,
    /// `yanked: bool`): the rows already in users' stores must read, and new rows must be these bytes.
    fn stored_versions() -> [(VersionFacts, &'static str, &'static str); 3] {
        let mut detail = VersionDetail {
            yanked_reason: Some("broken build".to_string()),
            deprecated: Some("use 2".to_string()),
            ..VersionDetail::default()
        };
        detail.meta.install_scripts = Some(Vec::new());
        detail.meta.publisher = Some("someone".to_string());
        let mut published = VersionFacts {
            version: "1.2.3-beta.4+build.5".into(),
            published: Some("2020-01-09T07:54:56.613Z".parse().unwrap()).into(),
            digests: Digests::from(vec!["sha512-x", "sha1:ab"]),
            detail: detail.into(),
        };
        published.set_yanked(true);
        let undated = VersionFacts {
            version: "0.1.0".into(),
            published: PublishTime::NONE,
            digests: Digests::default(),
            detail: Detail::default(),
        };
        let nanoseconds = VersionFacts {
            version: "10.20.30".into(),
            published: Some("2024-02-29T23:59:59.123456789Z".parse().unwrap()).into(),
            digests: Digests::from(vec!["sha256:00ff"]),
            detail: Detail::default(),
        };
        [
            (
                published,
                "14312e322e332d626574612e342b6275696c642e350118323032302d30312d30395430373a35343a35362e3631335a01010c62726f6b656e206275696c640105757365203202087368613531322d7807736861313a616200000100000107736f6d656f6e6500000000",
                r#"{"version":"1.2.3-beta.4+build.5","published":"2020-01-09T07:54:56.613Z","yanked":true,"yanked_reason":"broken build","deprecated":"use 2","digests":["sha512-x","sha1:ab"],"attestations_url":null,"signatures":[],"meta":{"install_scripts":[],"dependencies":null,"publisher":"someone","maintainers":null,"repository":null,"homepage":null,"files":null}}"#,
            ),
            (
                undated,
                "05302e312e300000000000000000000000000000",
                r#"{"version":"0.1.0","published":null,"yanked":false,"yanked_reason":null,"deprecated":null,"digests":[],"attestations_url":null,"signatures":[],"meta":{"install_scripts":null,"dependencies":null,"publisher":null,"maintainers":null,"repository":null,"homepage":null,"files":null}}"#,
            ),
            (
                nanoseconds,
                "0831302e32302e3330011e323032342d30322d32395432333a35393a35392e3132333435363738395a000000010b7368613235363a30306666000000000000000000",
                r#"{"version":"10.20.30","published":"2024-02-29T23:59:59.123456789Z","yanked":false,"yanked_reason":null,"deprecated":null,"digests":["sha256:00ff"],"attestations_url":null,"signatures":[],"meta":{"install_scripts":null,"dependencies":null,"publisher":null,"maintainers":null,"repository":null,"homepage":null,"files":null}}"#,
            ),
        ]
    }

    #[test]
    fn version_facts_store_byte_for_byte_as_before() {
        for (facts, hex_bytes, json) in stored_versions() {
            let bytes = postcard::to_stdvec(&facts).unwrap();
            assert_eq!(hex::encode(&bytes), hex_bytes, "{facts:?}");
            let stored = hex::decode(hex_bytes).unwrap();
            assert_eq!(postcard::from_bytes::<VersionFacts>(&stored).unwrap(), facts);
            assert_eq!(serde_json::to_string(&facts).unwrap(), json);
            assert_eq!(serde_json::from_str::<VersionFacts>(json).unwrap(), facts);
        }
    }

    #[test]
    fn common_details_share_a_constant_and_compare_by_content() {
        let empty_lists = VersionDetail {
            meta: VersionMeta {
                install_scripts: Some(Vec::new()),
                dependencies: Some(Vec::new()),
                ..VersionMeta::default()
            },
            ..VersionDetail::default()
        };
        let shared = Detail::from(empty_lists.clone());
        assert!(shared.owned.is_none());
        assert_eq!(*shared, empty_lists);
        assert!(Detail::from(VersionDetail::default()).owned.is_none());
        // A write makes it owned; it still equals a shared one with the same content.
        let mut written = Detail::default();
        written.meta.install_scripts = Some(Vec::new());
        written.meta.dependencies = Some(Vec::new());
        assert!(written.owned.is_some());
        assert_eq!(written, shared);
        written.deprecated = Some("old".to_string());
        assert_ne!(written, shared);
        // The yank flag is part of the content, and setting it allocates nothing.
        let mut yanked = Detail::from(empty_lists);
        yanked.yanked = true;
        assert!(yanked.owned.is_none());
        assert_ne!(yanked, shared);
    }

    /// A session holds ~90,000 of these (issue 16): 64 bytes each, and no allocation for the version
    /// text of an ordinary version.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn version_facts_stay_within_64_bytes() {
        assert!(
            std::mem::size_of::<VersionFacts>() <= 64,
            "{}",
            std::mem::size_of::<VersionFacts>()
        );
        assert_eq!(std::mem::size_of::<PublishTime>(), 8);
        for version in ["1.0.0", "0.0.0-insiders.20250101", "1.0.0-beta.20240229.1234"] {
            let facts = VersionFacts {
                version: version.into(),
                ..VersionFacts::default()
            };
            assert!(!facts.version.is_heap_allocated(), "{version}");
        }
    }

    #[test]
    fn publish_times_keep_nanoseconds_and_treat_the_unrepresentable_as_unknown() {
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        for text in [
            "2024-02-29T23:59:59.123456789Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999999999Z",
            "1677-09-21T00:12:43.145224193Z",
            "2262-04-11T23:47:16.854775807Z",
        ] {
            assert_eq!(PublishTime::from(at(text)).get(), Some(at(text)), "{text}");
        }
        assert_eq!(PublishTime::default().get(), None);
        assert_eq!(PublishTime::from(None).get(), None);
        // Outside what nanoseconds in an i64 reach (1677-09-21 to 2262-04-11), and the one instant
        // reserved for "none": no trustworthy time, as if the registry gave none.
        for text in [
            "2262-04-11T23:47:16.854775808Z",
            "9999-01-01T00:00:00Z",
            "1677-09-21T00:12:43.145224191Z",
            "0001-01-01T00:00:00Z",
            "-009000-01-01T00:00:00Z",
            "1677-09-21T00:12:43.145224192Z",
        ] {
            assert_eq!(PublishTime::from(at(text)), PublishTime::NONE, "{text}");
            assert_eq!(PublishTime::from(at(text)).get(), None, "{text}");
        }
        // A stored row or fixture with such a time reads as a version without one.
        let row = r#"{"version":"1.0.0","published":"9999-01-01T00:00:00Z","yanked":false,"yanked_reason":null,"deprecated":null,"digests":[],"attestations_url":null,"signatures":[],"meta":{"install_scripts":null,"dependencies":null,"publisher":null,"maintainers":null,"repository":null,"homepage":null,"files":null}}"#;
        let read: VersionFacts = serde_json::from_str(row).unwrap();
        assert_eq!(read.published(), None);
        assert_eq!(read.version, "1.0.0");
    }

    #[test]
    fn pep503_names() {
        assert_eq!(Ecosystem::PyPI.normalize_name("Foo.Bar__baz"), "foo-bar-baz");
        assert_eq!(Ecosystem::PyPI.normalize_name("PyYAML"), "pyyaml");
        assert_eq!(Ecosystem::Npm.normalize_name("@Scope/X"), "@Scope/X");
    }

    /// A due refresh that fails leaves the old answer, marked stale, with why the refresh failed; a
    /// later answer clears both.
    #[test]
    fn a_failed_refresh_marks_the_known_answer_stale_with_its_error() {
        let package = PackageRef::new(Ecosystem::Npm, "left-pad");
        let as_of: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut held = Facts::default();
        let mut first = Facts::default();
        first.advisories.insert(
            package.clone(),
            Fact::Known {
                value: Vec::new(),
                as_of,
                stale: false,
            },
        );
        held.merge(first.clone());
        let mut failed = Facts::default();
        let note = Note {
            source: "OSV".to_string(),
            message: "503 from api.osv.dev".to_string(),
        };
        failed.advisories.insert(package.clone(), Fact::Unavailable(note));
        held.merge(failed);
        assert_eq!(
            held.advisories.get(&package),
            Some(&Fact::Known {
                value: Vec::new(),
                as_of,
                stale: true
            })
        );
        let why = held.refresh_errors.get(&package).cloned().unwrap_or_default();
        assert!(why.contains("503 from api.osv.dev"), "{why:?}");
        // A pending mark (asked again) changes nothing; a fresh answer clears both.
        let mut pending = Facts::default();
        pending.advisories.insert(package.clone(), Fact::Pending);
        held.merge(pending);
        assert!(matches!(
            held.advisories.get(&package),
            Some(Fact::Known { stale: true, .. })
        ));
        held.merge(first);
        assert!(matches!(
            held.advisories.get(&package),
            Some(Fact::Known { stale: false, .. })
        ));
        assert!(held.refresh_errors.is_empty(), "{:?}", held.refresh_errors);
    }

    #[test]
    fn severity_order() {
        assert!(Severity::Error.at_least(Severity::Warning));
        assert!(!Severity::Hint.at_least(Severity::Warning));
    }
}
