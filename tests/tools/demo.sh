#!/usr/bin/env bash
# kdap's built-in demo: installs what it needs, builds kdap, and debugs a Go component that runs as a static
# pod on this machine through a whole session (see tests/demo/demo.py). Needs root (it runs sshd and the
# kubelet stand-in, and parks a manifest).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC1091 # common.sh, beside this script
. "$root/tests/tools/common.sh"
build=${KDAP_BUILD_DIR:-$root/build}

"$root/tests/tools/install-deps.sh"
kdap_use_go

kdap_step "build kdap"
kdap_configure "$build"
cmake --build "$build" -j2 --target kdap >/dev/null

kdap_step "demo"
KDAP_BIN="$build/bin/kdap" KDAP_FIXTURE_DIR="$build/fixtures" python3 "$root/tests/demo/demo.py"
