#!/usr/bin/env bash
# Installs the dependencies, builds kdap with warnings as errors, and runs every test with ctest.
#   sudo tests/tools/run-tests.sh            # everything
#   sudo tests/tools/run-tests.sh -L e2e     # extra arguments go to ctest
# Environment: KDAP_BUILD_DIR (default <repo>/build), KDAP_CMAKE_ARGS (extra cmake arguments),
# KDAP_SKIP_EXTENSION=1 (leave out vscode-extension/'s tests), KDAP_SKIP_LAB=1 (leave out the Kubernetes lab,
# tests/lab/run.sh, which also stays out when arguments for ctest are given).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC1091 # common.sh, beside this script
. "$root/tests/tools/common.sh"
build=${KDAP_BUILD_DIR:-$root/build}

"$root/tests/tools/install-deps.sh"

kdap_use_go

kdap_step "configure $build"
# shellcheck disable=SC2086 # KDAP_CMAKE_ARGS is a list of arguments
kdap_configure "$build" -DKDAP_WERROR=ON ${KDAP_CMAKE_ARGS:-}

kdap_step "build (-j2)"
cmake --build "$build" -j2

kdap_step "test"
ctest --test-dir "$build" --output-on-failure -j1 "$@"

# The VS Code extension's tests (schema, providers, a DebugClient session through this build's kdap).
if [ -z "${KDAP_SKIP_EXTENSION:-}" ]; then
  KDAP_BUILD_DIR=$build "$root/tests/tools/vscode-extension.sh"
fi

# The Kubernetes lab: etcd and the real control-plane components built with -N -l from the Go module proxy,
# debugged through this build's kdap (docs/lab.md). The first run builds them: about 12 minutes on 2 cores, then
# they are cached under /var/cache/kdap-lab.
if [ -z "${KDAP_SKIP_LAB:-}" ] && [ $# -eq 0 ]; then
  KDAP_BIN=$build/bin/kdap "$root/tests/lab/run.sh"
fi
