"""Shared steps of the kdap end-to-end tests: a kubeadm-like node (manifest dir + kubelet stand-in),
kdap dap driven by DapClient, and the checks that the node is back exactly as it was."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import harness
from dap_client import DapClient


@dataclass
class ManifestState:
    data: bytes
    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, path: str) -> "ManifestState":
        st = os.stat(path)
        return cls(Path(path).read_bytes(), st.st_mode, st.st_uid, st.st_gid)


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


_TICKS = os.sysconf("SC_CLK_TCK")
# Only dlv servers started while this test process runs count as kdap's: a developer's own headless dlv, or one
# that another program on the machine runs, must not fail (or pass) the checks below.
_SINCE = time.time() - 1


def _started_at(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return _boot_time() + int(fields[19]) / _TICKS


def _ours(pid: int) -> bool:
    """Started by this test process (kdap and sshd are its children), or orphaned (its kdap was killed):
    anything else on the machine, such as a benchmark's dlv, is not the test's business."""
    me = os.getpid()
    seen = 0
    while pid > 1 and seen < 64:
        parent = harness.proc_ppid(pid)
        if parent is None:
            return False
        if parent == me or parent == 1:
            return True
        pid, seen = parent, seen + 1
    return False


def dlv_pids() -> list[int]:
    """dlv servers started by kdap (headless) since this test process started, under this test process."""
    return [p for p in harness.all_pids()
            if (argv := harness.proc_cmdline(p)) and os.path.basename(argv[0]) == "dlv" and "--headless" in argv
            and _started_at(p) >= _SINCE and _ours(p)]


class StaticPodNode:
    """A node as kubeadm lays it out: a manifest dir watched by the kubelet (stand-in), the fake component
    as kube-scheduler, and a kdap state dir. Optionally served by a real sshd on loopback."""

    def __init__(self, test, fixtures: harness.Fixtures, ssh: bool, sshd_config: Iterable[str] = ()):
        self.test = test
        self.fx = fixtures
        self.tmp = tempfile.mkdtemp(prefix="kdap-e2e-")
        if not os.environ.get("KDAP_E2E_KEEP"):  # keep logs and transcripts for a failing run
            test.addCleanup(shutil.rmtree, self.tmp, True)
        self.state_dir = os.path.join(self.tmp, "state")
        self.port = harness.free_port()
        self.ssh: Optional[harness.SshServer] = None
        if ssh:
            self.ssh = harness.SshServer(extra_config=sshd_config)
            self.ssh.__enter__()
            test.addCleanup(self.ssh.stop)
        self.kubelet = harness.KubeletStandin(fixtures.standin)
        self.kubelet.__enter__()
        test.addCleanup(self.kubelet.stop)
        self.manifest = self.kubelet.write_manifest(
            "kube-scheduler", harness.component_manifest(fixtures.component, self.port))
        self.args = harness.component_flags(self.port)
        self.original = ManifestState.of(self.manifest)
        self.component_pid = self.kubelet.wait_running(fixtures.component, timeout=30)

    def launch_args(self, **extra) -> dict:
        args = {"target": "static-pod/kube-scheduler", "manifestDir": self.kubelet.manifest_dir,
                "stateDir": self.state_dir, "stopTimeout": 30, "startTimeout": 30}
        if self.ssh:
            args.update(host=f"{self.ssh.user}@127.0.0.1:{self.ssh.port}", identityFile=self.ssh.identity_file,
                        knownHostsFile=self.ssh.known_hosts_file)
        args.update(extra)
        return args

    def spawn_kdap(self, name: str = "kdap", env: Optional[dict] = None) -> DapClient:
        return spawn_kdap(self.test, self.tmp, name, env)

    def start_session(self, **launch) -> DapClient:
        """kdap launched on this node and configured: the component is parked and runs under dlv."""
        client = self.spawn_kdap()
        initialize(client)
        client.request_ok("launch", self.launch_args(**launch), timeout=90)
        client.request_ok("configurationDone")
        self.test.assertFalse(os.path.exists(self.manifest))
        self.test.assertTrue(os.path.isdir(os.path.join(self.state_dir, "sessions", "static-pod_kube-scheduler")))
        return client

    def kdap_log(self, name: str = "kdap") -> str:
        return Path(self.tmp, name + ".stderr").read_text(errors="replace")

    def assert_untouched(self):
        """The node as it was before the session: same manifest, same running component."""
        self.test.assertEqual(ManifestState.of(self.manifest), self.original)
        self.test.assertEqual(self.kubelet.running(self.fx.component), [self.component_pid])

    def assert_restored(self):
        """Manifest byte-identical with mode and owner, component running again, nothing of kdap left."""
        self.test.assertEqual(ManifestState.of(self.manifest), self.original)
        self.test.assertEqual(sorted(os.listdir(self.kubelet.manifest_dir)), ["kube-scheduler.yaml"])
        pid = self.kubelet.wait_running(self.fx.component, timeout=30)
        self.test.assertEqual(harness.proc_cmdline(pid)[1:], self.args)
        harness.wait_until(lambda: not dlv_pids(), 15, "dlv to be gone")
        parked = os.path.join(self.state_dir, "parked")
        self.test.assertEqual(os.listdir(parked) if os.path.isdir(parked) else [], [])


def spawn_kdap(test, tmp: str, name: str = "kdap", env: Optional[dict] = None) -> DapClient:
    """`kdap dap` on stdio with a debug log (<tmp>/<name>.stderr) and a DAP transcript (<name>.dap.log)."""
    client = DapClient.spawn([harness.kdap_bin(), "dap", "--log-level", "debug"],
                             stderr_path=os.path.join(tmp, name + ".stderr"),
                             transcript_path=os.path.join(tmp, name + ".dap.log"), env=env)
    test.addCleanup(client.close)
    return client


def launch_to_breakpoint(test, client: DapClient, launch: dict, round_: Optional[int] = 1,
                         timeout: float = 90) -> dict:
    """An initialized client launches, sets the fake component's marked breakpoint (verified), configures, and
    stops there; returns the top frame (harness.assert_stopped_in_reconcile)."""
    src, line = harness.breakpoint_location()
    seq = client.send({"type": "request", "command": "launch", "arguments": launch})
    client.wait_event("initialized", timeout=timeout)
    bps = client.request_ok("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": line}]})
    test.assertTrue(bps["body"]["breakpoints"][0]["verified"], bps)
    client.request_ok("configurationDone")
    response = client.wait_response(seq, timeout=timeout)
    test.assertTrue(response["success"], response)
    stopped = client.wait_event("stopped", timeout=60)
    return harness.assert_stopped_in_reconcile(test, client, stopped, round_=round_)


def initialize(client: DapClient, progress: bool = True) -> dict:
    return client.request_ok("initialize", {"clientID": "kdap-e2e", "adapterID": "kdap", "linesStartAt1": True,
                                            "columnsStartAt1": True, "pathFormat": "path",
                                            "supportsProgressReporting": progress})


def top_frame(client: DapClient, thread: int) -> dict:
    trace = client.request_ok("stackTrace", {"threadId": thread, "startFrame": 0, "levels": 20})
    return trace["body"]["stackFrames"][0]


def evaluate(client: DapClient, frame: dict, expression: str) -> str:
    return client.request_ok("evaluate", {"expression": expression, "frameId": frame["id"],
                                          "context": "watch"})["body"]["result"]
