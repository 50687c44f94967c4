# shellcheck shell=bash
# Shared by install-deps.sh and run-tests.sh (sourced, not run).

kdap_step() { printf '==> %s\n' "$*"; }
kdap_note() { printf '    %s\n' "$*"; }
kdap_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Root runs commands directly; anyone else through sudo.
# shellcheck disable=SC2034 # used by the scripts that source this file
if [ "$(id -u)" = 0 ]; then KDAP_SUDO=(); else KDAP_SUDO=(sudo); fi

# The Go toolchains this script knows where to find, newest last.
kdap_go_candidates() {
  command -v go 2>/dev/null || true
  [ -x /usr/local/go/bin/go ] && echo /usr/local/go/bin/go
  find /usr/lib -maxdepth 3 -path '/usr/lib/go-1.*/bin/go' 2>/dev/null | sort -V
  true
}

# Prints "1.26.8" for a go binary.
kdap_go_version() { "$1" env GOVERSION 2>/dev/null | sed -e 's/^go//' -e 's/[^0-9.].*$//'; }

# version_ge A B: A >= B in version order.
kdap_version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# Prints the newest go >= $1 found, or nothing.
kdap_find_go() {
  local min=$1 best='' best_v='' g v
  while read -r g; do
    if [ -z "$g" ] || [ ! -x "$g" ]; then continue; fi
    v=$(kdap_go_version "$g")
    if [ -z "$v" ] || ! kdap_version_ge "$v" "$min"; then continue; fi
    if [ -z "$best" ] || kdap_version_ge "$v" "$best_v"; then best=$g best_v=$v; fi
  done < <(kdap_go_candidates)
  [ -n "$best" ] && echo "$best"
  true
}

# Puts a Go >= 1.26 first on PATH (the e2e fixtures are Go programs).
kdap_use_go() {
  local go
  go=$(kdap_find_go 1.26)
  [ -n "$go" ] || kdap_die "Go 1.26 or newer is needed (tests/tools/install-deps.sh says how to get it)"
  PATH="$(dirname "$go"):$PATH"
  export PATH
}

# kdap_configure BUILD_DIR [cmake args...]: configures the tree into BUILD_DIR (Ninja for a new one), quietly.
kdap_configure() {
  local build=$1
  shift
  mkdir -p "$build"
  local generator=(-G Ninja)
  [ -f "$build/CMakeCache.txt" ] && generator=()  # keep the generator an existing build dir has
  cmake -S "$root" -B "$build" "${generator[@]}" "$@" >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log" >&2; kdap_die "cmake configure failed (log: $build/configure.log)"; }
}

# ccache (when installed) shares compilations between checkouts, e.g. CI's fresh clones of the same tree.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
