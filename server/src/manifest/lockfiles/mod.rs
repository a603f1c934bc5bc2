//! Lockfile readers: each returns every locked package with its resolved dependency edges.

pub mod cargo_lock;
pub mod package_lock;
pub mod poetry_lock;
pub mod uv_lock;
