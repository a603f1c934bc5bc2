#!/usr/bin/env bash
# The editor session over hours (issue 12 §3): peak RSS over 5,000 edits on a 300-dependency
# package.json, tasks alive after 1,000 rapid edits, time from didOpen to the first lookup, and peak RSS
# over 10,000 distinct names typed, each looked up (server/benches/editor_session.rs).
#
# Gatehouse is the shipped build (`cargo build --release`, copied out of target/: building the bench
# client rebuilds target/release/gatehouse with the test-support feature). The client is the bench target
# built by `cargo test` (no optimised rebuild of the whole tree).
# Environment passed through: EDITS (default 5000), RAPID (default 1000), NAMES (default 10000).
# Run it on a quiet machine; it never asserts.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${GATEHOUSE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-bench}
mkdir -p "$cache"
cd "$repo"
cargo build --release --bin gatehouse
gatehouse="$cache/gatehouse-release"
cp "$repo/target/release/gatehouse" "$gatehouse"
GATEHOUSE_BIN="$gatehouse" cargo test --bench editor_session
