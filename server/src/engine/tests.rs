//! Engine tests over in-memory facts.
