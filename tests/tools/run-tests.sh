#!/usr/bin/env bash
# Installs the dependencies, builds kdap with warnings as errors, and runs every test with ctest.
#   sudo tests/tools/run-tests.sh            # everything
#   sudo tests/tools/run-tests.sh -L e2e     # extra arguments go to ctest
# Environment: KDAP_BUILD_DIR (default <repo>/build), KDAP_CMAKE_ARGS (extra cmake arguments).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC1091 # common.sh, beside this script
. "$root/tests/tools/common.sh"
build=${KDAP_BUILD_DIR:-$root/build}

"$root/tests/tools/install-deps.sh"

go=$(kdap_find_go 1.26)
PATH="$(dirname "$go"):$PATH"
export PATH

kdap_step "configure $build"
mkdir -p "$build"
generator=(-G Ninja)
[ -f "$build/CMakeCache.txt" ] && generator=()  # keep the generator an existing build dir has
# shellcheck disable=SC2086 # KDAP_CMAKE_ARGS is a list of arguments
cmake -S "$root" -B "$build" "${generator[@]}" -DKDAP_WERROR=ON ${KDAP_CMAKE_ARGS:-} >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; kdap_die "cmake configure failed (log: $build/configure.log)"; }

kdap_step "build (-j2)"
cmake --build "$build" -j2

kdap_step "test"
ctest --test-dir "$build" --output-on-failure -j1 "$@"
