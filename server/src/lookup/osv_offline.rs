//! Stub: the offline OSV database (folders of OSV JSON, `all.zip`), filled in by the OSV work.
