#!/usr/bin/env bash
# Installs everything kdap's build and tests need on Debian 12 or Ubuntu 22.04+ (as root, or through
# sudo). Idempotent: a warm run checks and installs nothing. Only Debian/Ubuntu packages and the Go
# module proxy are used; nothing is downloaded from elsewhere.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC1091 # common.sh, beside this script
. "$here/common.sh"

GO_MIN=1.26
DLV_VERSION=1.27.2
DLV_BIN=${KDAP_DLV_BIN:-/usr/local/bin/dlv}  # overridable for testing this script
# Debian's own, older Delve, unpacked beside the system (never installed over dlv): the tests use it as the
# "dlv too old for the binary's Go" case.
OLD_DLV_DIR=${KDAP_OLD_DLV_DIR:-/opt/kdap-test/delve-debian}
export DEBIAN_FRONTEND=noninteractive

packages=(build-essential ccache cmake ninja-build pkg-config libssh-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev
  libspdlog-dev libgtest-dev googletest clang clang-format openssh-server openssh-client python3 procps
  iproute2 git curl ca-certificates debootstrap)

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
available() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -vq '(none)'; }

apt_updated=0
apt_update() {
  if [ $apt_updated = 0 ]; then
    kdap_note "apt-get update"
    "${KDAP_SUDO[@]}" apt-get update -qq >/dev/null
    apt_updated=1
  fi
}

apt_install() {
  local log
  log=$(mktemp)
  kdap_note "apt-get install $*"
  if ! "${KDAP_SUDO[@]}" apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    kdap_die "apt-get install failed"
  fi
  rm -f "$log"
}

# Boost >= 1.81: Debian 12's libboost1.81-dev, else the newest libboost1.NN-dev, else libboost-dev.
boost_installed() {
  local v
  v=$(dpkg-query -W -f='${db:Status-Status} ${Version}\n' 'libboost1.*-dev' libboost-dev 2>/dev/null |
    awk '$1 == "installed" {print $2}' | sed 's/^[0-9]*://' | sort -V | tail -n1)
  [ -n "$v" ] && kdap_version_ge "${v%%[-+~]*}" 1.81
}
pick_boost() {
  if available libboost1.81-dev; then echo libboost1.81-dev; return; fi
  local newest
  newest=$(apt-cache search --names-only '^libboost1\.[0-9]+-dev$' | awk '{print $1}' | sort -V | tail -n1)
  if [ -n "$newest" ] && kdap_version_ge "${newest//[!0-9.]/}" 1.81; then
    echo "$newest"
  else
    echo "warning: no Boost >= 1.81 package here; installing libboost-dev (kdap needs Boost >= 1.81)" >&2
    echo libboost-dev
  fi
}

kdap_step "system packages"
missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
boost_installed || missing+=(BOOST)
if [ ${#missing[@]} = 0 ]; then
  kdap_note "all installed"
else
  apt_update
  for i in "${!missing[@]}"; do
    [ "${missing[$i]}" = BOOST ] && missing[i]=$(pick_boost)
  done
  apt_install "${missing[@]}"
fi

kdap_step "Go >= $GO_MIN"
go=$(kdap_find_go "$GO_MIN")
if [ -z "$go" ]; then
  apt_update
  candidate=
  v=$(apt-cache policy golang-go 2>/dev/null | sed -n 's/^ *Candidate: //p' | sed -e 's/^[0-9]*://' -e 's/[~+-].*$//')
  if [ -n "$v" ] && [ "$v" != "(none)" ] && kdap_version_ge "$v" "$GO_MIN"; then
    candidate=golang-go
  else
    newest=$(apt-cache search --names-only '^golang-1\.[0-9]+-go$' | awk '{print $1}' | sort -V | tail -n1)
    nv=$(echo "$newest" | sed -n 's/^golang-\(1\.[0-9]*\)-go$/\1/p')
    if [ -n "$nv" ] && kdap_version_ge "$nv" "$GO_MIN"; then candidate=$newest; fi
  fi
  if [ -z "$candidate" ]; then
    kdap_die "Go >= $GO_MIN is required and no package of this distribution provides it.
  Install Go $GO_MIN or newer yourself (for example the official release unpacked into /usr/local/go,
  or your distribution's backports), make sure 'go' or /usr/local/go/bin/go is there, and run this again.
  This script does not download toolchains."
  fi
  apt_install "$candidate"
  go=$(kdap_find_go "$GO_MIN")
  [ -n "$go" ] || kdap_die "installed $candidate but found no go >= $GO_MIN"
fi
kdap_note "$go (go$(kdap_go_version "$go"))"

kdap_step "Delve $DLV_VERSION"
if [ -x "$DLV_BIN" ] && "$DLV_BIN" version 2>/dev/null | grep -qx "Version: $DLV_VERSION"; then
  kdap_note "$DLV_BIN is $DLV_VERSION"
else
  kdap_note "go install github.com/go-delve/delve/cmd/dlv@v$DLV_VERSION -> $DLV_BIN"
  "${KDAP_SUDO[@]}" env GOBIN="$(dirname "$DLV_BIN")" GOFLAGS=-mod=mod PATH="$(dirname "$go"):$PATH" \
    "$go" install "github.com/go-delve/delve/cmd/dlv@v$DLV_VERSION"
  "$DLV_BIN" version | grep -qx "Version: $DLV_VERSION" || kdap_die "$DLV_BIN is not Delve $DLV_VERSION"
fi

kdap_step "Debian's Delve (an old dlv, for tests) in $OLD_DLV_DIR"
if [ -x "$OLD_DLV_DIR/usr/bin/dlv" ]; then
  kdap_note "$("$OLD_DLV_DIR/usr/bin/dlv" version | sed -n 's/^Version: /dlv /p')"
elif available delve; then
  tmp=$(mktemp -d)
  (cd "$tmp" && chmod 777 . && apt-get download -q delve >/dev/null)
  "${KDAP_SUDO[@]}" mkdir -p "$OLD_DLV_DIR"
  "${KDAP_SUDO[@]}" dpkg -x "$tmp"/delve_*.deb "$OLD_DLV_DIR"
  rm -rf "$tmp"
  kdap_note "$("$OLD_DLV_DIR/usr/bin/dlv" version | sed -n 's/^Version: /dlv /p')"
else
  kdap_note "this distribution has no delve package; the test for a too old dlv is skipped"
fi

kdap_step "dependencies ready"
