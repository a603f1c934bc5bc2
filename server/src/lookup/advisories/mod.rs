//! Advisories: the OSV record schema, the OSV API, offline OSV databases, and merging the sources.
//!
//! Invariants:
//! - Every source answers `model::Advisory` per package; OSV wire structs stay private to `osv_record`.
//! - A source that could not answer says so per package (`Err`); an empty list means "asked, none
//!   known", never "could not ask".
//! - Offline databases are read from the paths the user configured (`--osv-db`) or from the local copy
//!   of OSV's export in the cache folder (`export`, from `endpoints.osv-export`), never from the
//!   repository being checked; the online client sends only the package names it is given, and the
//!   export is fetched whole (no package name leaves the machine for it).
//! - Never: caching (that is `cache`), or deciding which names may leave the machine (`engine::needs`).

pub mod export;
pub mod merged;
pub mod offline_db;
pub mod osv_api;
pub mod osv_record;

pub use merged::{MergedAdvisories, NoAdvisories};
