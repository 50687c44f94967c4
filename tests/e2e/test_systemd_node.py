"""Proves that SystemdNode (systemd_node.py) is a real systemd node, since kdap's systemd recipes are
only as trustworthy as the node they are tested on: systemd is PID 1, sshd checks keys both ways, a
kubeadm-style kubelet unit runs with systemd's own expansion of the drop-in's variables, Delve runs
inside, and stop() leaves nothing on the machine. Needs root; runs without kdap.

The first run builds the cached rootfs with debootstrap (a minute or two); the times are printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import unittest
from pathlib import Path

import harness
import systemd_node
from systemd_node import SystemdNode

KUBEADM_FLAGS = ('KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock '
                 '--pod-infra-container-image=registry.k8s.io/pause:3.9 --secure-port=0"\n')
EXTRA_ARGS = "KUBELET_EXTRA_ARGS=--hostname-override=kdap-node-1 --v=2\n"
# The drop-in's ExecStart with every $VARIABLE split into words, as systemd does for unbraced ones.
EXPECTED_KUBELET_ARGV = [
    "/usr/bin/kubelet",
    "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf", "--kubeconfig=/etc/kubernetes/kubelet.conf",
    "--config=/var/lib/kubelet/config.yaml",
    "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
    "--pod-infra-container-image=registry.k8s.io/pause:3.9", "--secure-port=0",
    "--hostname-override=kdap-node-1", "--v=2",
]


def _note(message: str) -> None:
    print(f"\n[systemd-node] {message}", file=sys.stderr, flush=True)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise unittest.SkipTest("the systemd test node needs root")


def _ensure_rootfs_timed() -> None:
    cached = systemd_node.rootfs_cached()
    t = time.monotonic()
    path = systemd_node.ensure_rootfs()
    if not cached:
        _note(f"cold rootfs build (debootstrap) into {path}: {time.monotonic() - t:.1f}s")


# Settings that the node's PID 1 changes when it can reach them (it raises the first two at boot).
_SYSCTLS = ("fs/file-max", "net/unix/max_dgram_qlen", "fs/nr_open", "kernel/pid_max", "kernel/hostname")


def _machine_state() -> dict:
    """What a leaky node would change on the machine: mounts with their superblock options (a remount
    inside the node of a shared superblock shows here), kernel settings, /sys/fs/cgroup and /dev entries
    (virtual terminals a node allocates appear as /dev/vcs*)."""
    return {
        "mounts": sorted(line.split(None, 2)[2] for line in Path("/proc/self/mountinfo").read_text().splitlines()),
        "sysctl": {k: Path("/proc/sys", k).read_text().strip() for k in _SYSCTLS},
        "cgroup": sorted(os.listdir("/sys/fs/cgroup")),
        "dev": sorted(os.listdir("/dev")),
    }


class SystemdNodeTest(unittest.TestCase):
    """One node shared by the checks that do not end it."""

    node: SystemdNode

    @classmethod
    def setUpClass(cls) -> None:
        _require_root()
        cls.fixtures = harness.build_fixtures()
        _ensure_rootfs_timed()
        cls.node = SystemdNode(hostname="kdap-node-1").start()
        _note(f"warm boot ({cls.node.mode}): {cls.node.boot_seconds:.1f}s, ssh on port {cls.node.port}")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.node.stop()

    def test_pid1_is_systemd(self) -> None:
        node = self.node
        self.assertEqual(node.run(["cat", "/proc/1/comm"], check=True).stdout.strip(), "systemd")
        self.assertEqual(node.run(["readlink", "/proc/1/exe"], check=True).stdout.strip(), "/usr/lib/systemd/systemd")
        self.assertEqual(harness.proc_cmdline(node.pid)[0], "/lib/systemd/systemd")
        self.assertEqual(node.run(["hostname"], check=True).stdout.strip(), "kdap-node-1")
        self.assertEqual(node.run(["systemd-detect-virt", "--container"]).stdout.strip(), "container-other")
        state = node.system_state()
        failed = node.systemctl("--failed", "--no-legend", check=False).stdout
        self.assertIn(state, ("running", "degraded"), failed)
        if state != "running":
            _note(f"node is degraded; failed units:\n{failed}")
        # systemd's own view of the process tree: sshd and journald run under it
        self.assertEqual(node.unit_property("ssh.service", "ActiveState"), "active")
        self.assertEqual(node.unit_property("systemd-journald.service", "ActiveState"), "active")
        # every process the node runs is in its own PID namespace, under the node's systemd
        pids = node.node_pids()
        self.assertIn(node.pid, pids)
        self.assertIn(node.host_pid(node.main_pid("ssh.service")), pids)

    def test_ssh_with_strict_host_key_checking(self) -> None:
        node = self.node
        argv = ["ssh", "-F", "/dev/null", "-i", node.identity_file, "-p", str(node.port),
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={node.known_hosts_file}",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
                f"root@{node.host}", "cat /proc/1/comm; hostname; id -u"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["systemd", "kdap-node-1", "0"])
        self.assertRegex(Path(node.known_hosts_file).read_text(), rf"^\[127\.0\.0\.1\]:{node.port} ssh-ed25519 \S+\n$")

        config = node.write_ssh_config()
        r = subprocess.run(["ssh", "-F", config, "kdap-node-1", "systemctl is-active ssh.service"],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "active"), r.stderr)

        # The check is really strict: another key for the same [host]:port is refused.
        wrong = Path(node.dir) / "known_hosts.wrong"
        other = harness._keygen(Path(node.dir) / "other_host_key", "other")
        wrong.write_text(f"[{node.host}]:{node.port} {' '.join(other.split()[:2])}\n")
        r = node.ssh_run("true", known_hosts=str(wrong))
        self.assertEqual(r.returncode, 255)
        self.assertIn("Host key verification failed", r.stderr)

    def test_kubeadm_kubelet_runs_with_expanded_args(self) -> None:
        node = self.node
        pid = node.install_kubeadm_kubelet(self.fixtures.component, KUBEADM_FLAGS, extra_args_file=EXTRA_ARGS)
        self.assertEqual(node.main_pid("kubelet.service"), pid)
        self.assertEqual(node.unit_property("kubelet.service", "ActiveState"), "active")
        self.assertEqual(node.unit_property("kubelet.service", "UnitFileState"), "enabled")
        self.assertEqual(node.unit_property("kubelet.service", "DropInPaths"),
                         "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf")
        self.assertIn("/lib/systemd/system/kubelet.service", node.unit_property("kubelet.service", "FragmentPath"))
        # systemd keeps the unexpanded command line: this is what kdap has to parse and expand itself
        self.assertIn("argv[]=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS "
                      "$KUBELET_EXTRA_ARGS", node.unit_property("kubelet.service", "ExecStart"))

        inside = node.run(["cat", f"/proc/{pid}/cmdline"], check=True).stdout
        self.assertEqual(inside.rstrip("\0").split("\0"), EXPECTED_KUBELET_ARGV)
        host_pid = node.host_pid(pid)
        self.assertIsNotNone(host_pid)
        self.assertEqual(harness.proc_cmdline(host_pid), EXPECTED_KUBELET_ARGV)
        self.assertEqual(os.path.realpath(f"/proc/{host_pid}/exe").rsplit("/", 1)[-1], "kubelet")

        harness.wait_until(lambda: f"fake-component: starting pid={pid} " in node.journal("kubelet.service"),
                           15, "the kubelet's start line in its journal")
        r = node.ssh_run("systemctl show --property MainPID --value kubelet.service")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, str(pid)), r.stderr)

    def test_dlv_runs_inside(self) -> None:
        version = self.node.install_dlv(harness.dlv_path())
        self.assertIn("Version:", version)
        r = self.node.ssh_run("dlv version")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Version:", r.stdout)


class StopTest(unittest.TestCase):
    """stop() must leave the machine as it was: tests run over and over on the same machine."""

    @classmethod
    def setUpClass(cls) -> None:
        _require_root()
        cls.fixtures = harness.build_fixtures()
        _ensure_rootfs_timed()

    def _check_stop(self, overlay: bool) -> None:
        state_before = _machine_state()
        node = SystemdNode(hostname="kdap-node-2", overlay=overlay).start()
        _note(f"warm boot ({node.mode}): {node.boot_seconds:.1f}s")
        ssh = None
        try:
            self.assertEqual(node.mode, "overlay" if overlay else "copy")
            node_dir, pidns = node.dir, os.readlink(f"/proc/{node.pid}/ns/pid")
            cgroups = list(node._cgroups)
            self.assertTrue(cgroups and all(cg.is_dir() for cg in cgroups), cgroups)
            node.install_kubeadm_kubelet(self.fixtures.component, KUBEADM_FLAGS)
            # a daemon that left its parent, and an open SSH session: both must go with the node
            node.run("setsid sleep 1000 </dev/null >/dev/null 2>&1 &", check=True)
            ssh = subprocess.Popen(node.ssh_argv("sleep 1000"), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            harness.wait_until(lambda: node.run("pgrep -x sleep | wc -l").stdout.strip() == "2", 15,
                               "both sleeps in the node")
            pids = node.node_pids()
            self.assertGreater(len(pids), 5)
        finally:
            node.stop()
        self.assertEqual([p for p in pids if harness.pid_alive(p)], [])
        self.assertEqual([p for p in harness.all_pids() if systemd_node._pid_ns(p) == pidns], [])
        self.assertEqual(ssh.wait(timeout=15), 255)  # the server side vanished
        self.assertFalse(node_dir.exists())
        self.assertEqual(_machine_state(), state_before)
        self.assertEqual([cg for cg in cgroups if cg.exists()], [])
        for mp, _fstype, _opts in systemd_node._cgroup_mounts():
            self.assertFalse((Path(mp) / systemd_node._CGROUP_BASE / node_dir.name).exists())
        # the cache stays pristine
        lower = systemd_node.rootfs_path()
        self.assertFalse((lower / "usr/bin/kubelet").exists())
        self.assertFalse((lower / "etc/ssh/ssh_host_ed25519_key").exists())
        self.assertNotIn("kdap-node-2", (lower / "etc/hostname").read_text())

    def test_stop_leaves_nothing_behind_overlay(self) -> None:
        if not systemd_node.overlay_available(systemd_node.rootfs_path()):
            self.skipTest("overlayfs is not available here")
        self._check_stop(overlay=True)

    def test_stop_leaves_nothing_behind_copy(self) -> None:
        self._check_stop(overlay=False)


if __name__ == "__main__":
    unittest.main()
