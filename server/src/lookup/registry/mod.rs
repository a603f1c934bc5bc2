pub mod crates_io;
pub mod npm;
pub mod pypi;
