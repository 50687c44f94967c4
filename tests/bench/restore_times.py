"""Measures how long the node stays without its component after each kind of fault, through kdap with a real
sshd, dlv and Go component: from the fault to the manifest back in place AND the component running again.
Not a test (no pass/fail on time): a measurement for docs/reliability.md.

    KDAP_BIN=build/bin/kdap KDAP_FIXTURE_DIR=build/fixtures python3 tests/bench/restore_times.py [--runs 5]
"""

import argparse
import os
import signal
import statistics
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

import harness  # noqa: E402
from kdap_session import StaticPodNode, dlv_pids, initialize  # noqa: E402


class _Host(unittest.TestCase):
    """StaticPodNode wants a TestCase for its cleanups; this one only carries them."""

    def runTest(self):
        pass


def guard_pids(node):
    return [p for p in harness.all_pids() if "guard.sh" in " ".join(harness.proc_cmdline(p) or [])
            and node.state_dir in " ".join(harness.proc_cmdline(p) or [])]


FAULTS = {
    "editor disconnects (clean end)": lambda n, c: c.send({"type": "request", "command": "disconnect"}),
    "editor killed (EOF on kdap's stdin)": lambda n, c: c.proc.stdin.close(),
    "kdap gets SIGTERM": lambda n, c: c.proc.send_signal(signal.SIGTERM),
    "kdap killed (SIGKILL): node guard": lambda n, c: os.kill(c.proc.pid, signal.SIGKILL),
    "sshd child of kdap's connection killed: node guard": lambda n, c: [
        os.kill(p, signal.SIGKILL) for p in harness.children(n.ssh.pid)],
    "dlv killed: kdap restores, editor gets terminated": lambda n, c: [
        os.kill(p, signal.SIGKILL) for p in dlv_pids()],
}


def measure(fx, fault) -> float:
    host = _Host()
    node = StaticPodNode(host, fx, ssh=True)
    try:
        client = node.spawn_kdap()
        initialize(client)
        client.request_ok("launch", node.launch_args(), timeout=90)
        client.request_ok("configurationDone")
        assert not os.path.exists(node.manifest)
        start = time.monotonic()
        fault(node, client)
        harness.wait_until(lambda: os.path.exists(node.manifest) and node.kubelet.running(fx.component), 60,
                           "restore")
        elapsed = time.monotonic() - start
        harness.wait_until(lambda: not dlv_pids() and not guard_pids(node), 30, "dlv and guard gone")
        client.close()
        return elapsed
    finally:
        host.doCleanups()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    fx = harness.build_fixtures()
    print(f"| fault | median | min | max | runs |\n|---|---|---|---|---|")
    for name, fault in FAULTS.items():
        times = [measure(fx, fault) for _ in range(args.runs)]
        print(f"| {name} | {statistics.median(times):.2f} s | {min(times):.2f} s | {max(times):.2f} s | "
              f"{len(times)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
