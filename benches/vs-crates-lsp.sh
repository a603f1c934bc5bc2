#!/usr/bin/env bash
# Gatehouse side by side with crates-lsp 0.4.3 (issue 16): both language servers, driven alternately by
# the same LSP client (server/benches/vs_crates_lsp.rs), open the same real 33-crate Cargo.toml
# (fixtures/manifests/cargo/tokei/Cargo.toml) against the real crates.io sparse index with fresh caches,
# then take 300 warm edits; then Gatehouse alone on a 300-dependency package.json with every check on
# (server/benches/lsp_roundtrip.rs), and with ten such manifests open.
#
# crates-lsp is built once into a cache folder outside the repository:
#   ${GATEHOUSE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-bench}/crates-lsp-0.4.3/bin/crates-lsp
# crates-lsp 0.4.3 has no features of its own (no `rustls-tls-native-roots` in its Cargo.toml); its
# reqwest trusts only the bundled webpki roots, which fail behind a TLS-inspecting proxy. Enabling the
# dependency feature `reqwest/rustls-tls-native-roots` adds the OS trust store to those roots.
#
# Gatehouse is the shipped build (`cargo build --release`, copied out of target/). The client is the
# bench target built by `cargo test` (no optimised rebuild of the whole tree): it timestamps each frame
# on its reader thread as soon as the body is read and pre-encodes every edit, so its own speed is not
# in the figures.
# Environment passed through: RUNS (cold runs per server, default 3), EDITS (default 300),
# OSV_LATENCY_MS (the OSV stand-in's delay, default 0), BENCH_MANIFEST, BENCH_EDIT_DEP, MANIFESTS.
# Run it on a quiet machine; it never asserts timings.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${GATEHOUSE_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-bench}
crates_lsp="$cache/crates-lsp-0.4.3/bin/crates-lsp"

if [ ! -x "$crates_lsp" ]; then
    mkdir -p "$cache"
    cargo install crates-lsp --version 0.4.3 --locked \
        --no-default-features --features reqwest/rustls-tls-native-roots \
        --root "$cache/crates-lsp-0.4.3" --target-dir "$cache/target-crates-lsp"
fi

cd "$repo"
cargo build --release --bin gatehouse
# A copy: building the bench client rebuilds target/release/gatehouse with the test-support feature
# (the dev-dependency on itself), which is not the shipped binary.
gatehouse="$cache/gatehouse-release"
cp "$repo/target/release/gatehouse" "$gatehouse"
ls -l "$gatehouse" "$crates_lsp" | awk '{print $5, $9}'

GATEHOUSE_BIN="$gatehouse" CRATES_LSP_BIN="$crates_lsp" \
    cargo test --bench vs_crates_lsp
if [ "${SKIP_PACKAGE_JSON:-0}" != 1 ]; then
    GATEHOUSE_BIN="$gatehouse" EDITS="${EDITS:-300}" \
        cargo test --bench lsp_roundtrip
fi
