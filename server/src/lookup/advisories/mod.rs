//! Advisories: the OSV record schema, the OSV API, offline OSV databases, and merging the sources.
//!
//! Invariants:
//! - Every source answers `model::Advisory` per package; OSV wire structs stay private to `osv_record`.
//! - A source that could not answer says so per package (`Err`); an empty list means "asked, none
//!   known", never "could not ask".
//! - Offline databases are read from the paths the user configured (`--osv-db`), never from the
//!   repository being checked; the online client sends only the package names it is given.
//! - Never: caching (that is `cache`), or deciding which names may leave the machine (`engine::needs`).

pub mod merged;
pub mod offline_db;
pub mod osv_api;
pub mod osv_record;

pub use merged::{MergedAdvisories, NoAdvisories};
