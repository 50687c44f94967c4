#!/usr/bin/env bash
# Builds, tests and packages the VS Code extension (vscode-extension/): npm ci, compile, test, package.
#   tests/tools/vscode-extension.sh
# The extension's end-to-end test runs the kdap binary against a real sshd and dlv; it uses
# $KDAP_BUILD_DIR/bin/kdap (default build/bin/kdap; KDAP_BIN overrides) and is skipped when that does not exist.
# Needs Node >= 20 with npm, and the npm registry. Output is one line per step; logs are shown on failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC1091 # common.sh, beside this script
. "$root/tests/tools/common.sh"
build=${KDAP_BUILD_DIR:-$root/build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
ext=$root/vscode-extension

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  kdap_die "node and npm are needed for vscode-extension/ (Node 20 or newer)"
fi
node_version=$(node -p 'process.versions.node')
kdap_version_ge "$node_version" 20 || kdap_die "vscode-extension/ needs Node 20 or newer, found $node_version"

export KDAP_BIN=${KDAP_BIN:-$build/bin/kdap}
export KDAP_FIXTURE_DIR=${KDAP_FIXTURE_DIR:-$build/fixtures}
go=$(kdap_find_go 1.26)
if [ -n "$go" ]; then PATH="$(dirname "$go"):$PATH"; export PATH; fi  # the e2e fixtures are Go programs

logs=$(mktemp -d "${TMPDIR:-/tmp}/kdap-vscode-extension.XXXXXX")
# run NAME COMMAND...: runs quietly into $logs/NAME.log; on failure shows the log's end and stops.
run() {
  local name=$1
  shift
  if ! (cd "$ext" && "$@") >"$logs/$name.log" 2>&1 </dev/null; then
    tail -n 150 "$logs/$name.log" >&2
    kdap_die "vscode-extension: $name failed (full log: $logs/$name.log)"
  fi
}

kdap_step "vscode-extension: npm ci (node $node_version, npm $(npm --version))"
run npm-ci npm ci --no-audit --no-fund --loglevel=error

kdap_step "vscode-extension: compile"
run compile npm run --silent compile

kdap_step "vscode-extension: test (kdap: $KDAP_BIN)"
run test npm test --silent
sed -n 's/^# \(tests\|pass\|fail\|skipped\) /\1 /p' "$logs/test.log" | paste -sd' ' | sed 's/^/    /'
grep -o '# SKIP .*' "$logs/test.log" | sed 's/^# SKIP /    skipped: /' || true

kdap_step "vscode-extension: package"
run package npm run --silent package
vsix=$(sed -n 's/.*Packaged: \(.*\.vsix\).*/\1/p' "$logs/package.log" | tail -n1)
if [ -z "$vsix" ] || [ ! -f "$vsix" ]; then
  cat "$logs/package.log" >&2
  kdap_die "vscode-extension: no .vsix was written"
fi
kdap_note "$vsix ($(du -k "$vsix" | cut -f1) KiB)"

rm -rf "$logs"
