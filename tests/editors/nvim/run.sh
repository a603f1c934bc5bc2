#!/usr/bin/env bash
# Runs test_init.lua in each config mode on a fresh copy of the fixture workspace.
# usage: run.sh NVIM GATEHOUSE_BIN
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
nvim=$1
# The shipped configs run `gatehouse` from PATH: expose the binary under test by that name.
shim=$(mktemp -d)
trap 'rm -rf "$shim"' EXIT
ln -s "$(readlink -f "$2")" "$shim/gatehouse"
export GATEHOUSE_BIN=$shim/gatehouse GATEHOUSE_REPO=$repo
"$nvim" --version | head -1
rc=0
for mode in enable init legacy; do
  ws=$(mktemp -d)
  cp -r "$repo/tests/editors/workspace/." "$ws/"
  start=$(date +%s.%N)
  # Its own HOME and XDG folders: the server never reads or clears the runner's own. The workspace is
  # the test's own: its gatehouse.toml (offline, osv-db) is trusted.
  mkdir -p "$ws/.home" "$ws/.xdg/cache"
  HOME=$ws/.home XDG_CACHE_HOME=$ws/.xdg/cache GATEHOUSE_TRUST_PROJECT_CONFIG=1 \
  GATEHOUSE_NVIM_MODE=$mode XDG_CONFIG_HOME=$ws/.xdg XDG_STATE_HOME=$ws/.xdg XDG_DATA_HOME=$ws/.xdg \
    timeout 90 "$nvim" --headless --clean -u "$here/test_init.lua" "$ws/package.json" || rc=1
  awk -v m="$mode" -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "nvim[%s] took %.1f s\n", m, e - s }'
  rm -rf "$ws"
done
exit $rc
