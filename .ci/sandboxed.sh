#!/usr/bin/env bash
# sandboxed.sh COMMAND... : runs an editor test with its own HOME and XDG folders (fresh each time),
# so the server under test never reads the runner's ~/.npmrc, ~/.cargo or pip.conf, and the tests'
# "clear cache" never touches the runner's ~/.cache/gatehouse. Editor tools stay where
# .ci/editors.sh installed them (their paths are resolved before this runs).
set -uo pipefail
base=${TMPDIR:-/tmp}
home=$(mktemp -d "$base/gatehouse-test-home.XXXXXX") || exit 1
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/.cache" "$home/.config" "$home/.local/share" "$home/.local/state"
env -u CARGO_HOME -u PIP_CONFIG_FILE -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u UV_INDEX_URL \
  -u UV_DEFAULT_INDEX -u NPM_CONFIG_REGISTRY -u npm_config_registry -u NPM_CONFIG_USERCONFIG \
  -u npm_config_userconfig \
  HOME="$home" XDG_CACHE_HOME="$home/.cache" XDG_CONFIG_HOME="$home/.config" \
  XDG_DATA_HOME="$home/.local/share" XDG_STATE_HOME="$home/.local/state" \
  "$@"
