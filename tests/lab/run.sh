#!/usr/bin/env bash
# The Kubernetes lab in one command: installs what it needs, builds the debug binaries (cached under
# /var/cache/kdap-lab) and runs tests/lab/test_lab.py against kdap.
#   sudo tests/lab/run.sh                                        # every lab test
#   sudo tests/lab/run.sh test_lab.DaemonSetTest                 # arguments go to python3 -m unittest
# Environment: KDAP_BIN (default <repo>/build/bin/kdap; tests/tools/run-tests.sh builds it),
# KDAP_LAB_CACHE (default /var/cache/kdap-lab), KDAP_LAB_KEEP=1 (keep the lab directory and logs).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC1091 # common.sh, in tests/tools
. "$root/tests/tools/common.sh"
[ "$(id -u)" = 0 ] || kdap_die "the lab needs root (network and mount namespaces, sshd): run it with sudo"

kdap_step "packages"
need=()
for pair in openssl:openssl iptables:iptables ip:iproute2 nsenter:util-linux unshare:util-linux \
  sshd:openssh-server ssh:openssh-client python3:python3; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  kdap_note "apt-get update"
  apt-get update -qq >/dev/null
  kdap_note "apt-get install ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ -z "$(kdap_find_go 1.26)" ] || [ ! -x /usr/local/bin/dlv ]; then
  "$root/tests/tools/install-deps.sh"
fi
kdap_use_go
export KDAP_BIN=${KDAP_BIN:-$root/build/bin/kdap}
[ -x "$KDAP_BIN" ] || kdap_die "no kdap at $KDAP_BIN: build it first (tests/tools/run-tests.sh, or cmake --build build)"
kdap_note "kdap: $KDAP_BIN; go: $(command -v go); dlv: $(/usr/local/bin/dlv version | sed -n 's/^Version: //p')"

kdap_step "debug builds of Kubernetes and etcd (tests/lab/build.sh)"
started=$(date +%s)
"$root/tests/lab/build.sh"
# A second, warm run only names the directory.
KDAP_LAB_BIN=$("$root/tests/lab/build.sh" | tail -n 1)
export KDAP_LAB_BIN
kdap_note "binaries in $KDAP_LAB_BIN ($(($(date +%s) - started)) s)"

kdap_step "lab tests"
cd "$root/tests/lab"
started=$(date +%s)
status=0
# The cluster runs at the lowest priority: the machine has other work to do.
nice -n 19 python3 -m unittest -v "${@:-test_lab}" || status=$?
kdap_note "lab tests took $(($(date +%s) - started)) s"
exit $status
