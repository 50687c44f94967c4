"""kdap debugs a systemd unit on a node that runs systemd as PID 1 (tests/e2e/systemd_node.py): a kubelet laid
out as kubeadm leaves it (kubelet.service, the 10-kubeadm.conf drop-in with its empty `ExecStart=` reset,
Environment= and EnvironmentFile=-), running the Go test component as /usr/bin/kubelet. The expanded
arguments reach the debuggee, the unit is stopped while it is debugged and active again afterwards;
`component: kubelet` finds the unit; `kdap ls` lists it with its debug info.
Run: cd tests/e2e && python3 -m unittest -v test_systemd_kubelet"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import harness
from dap_client import DapClient
from kdap_session import evaluate, initialize, launch_to_breakpoint, spawn_kdap
from systemd_node import SystemdNode

FX: harness.Fixtures
NODE: SystemdNode

KUBEADM_FLAGS = 'KUBELET_KUBEADM_ARGS="--cgroup-driver=cgroupfs --network-plugin=cni ' \
                '--pod-infra-container-image=registry.com/pause:3.1 --secure-port=0"\n'
SYSCONFIG = "# extra arguments, as a user would leave them\nKUBELET_EXTRA_ARGS='--v=2 --hostname-override=node-1'\n"
# What systemd itself runs: ExecStart after the drop-in, $VARs split into words, from both env files.
EXPECTED_ARGS = ["--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
                 "--kubeconfig=/etc/kubernetes/kubelet.conf", "--config=/var/lib/kubelet/config.yaml",
                 "--cgroup-driver=cgroupfs", "--network-plugin=cni",
                 "--pod-infra-container-image=registry.com/pause:3.1", "--secure-port=0", "--v=2",
                 "--hostname-override=node-1"]


def setUpModule():
    global FX, NODE
    FX = harness.build_fixtures()
    NODE = SystemdNode(hostname="kdap-kubelet-node")
    NODE.start()
    try:
        NODE.install_dlv()
        NODE.install_kubeadm_kubelet(FX.component, KUBEADM_FLAGS, extra_args_file=SYSCONFIG)
    except BaseException:
        NODE.stop()
        raise


def tearDownModule():
    NODE.stop()


def node_cmdline(pid: int) -> list[str]:
    return NODE.run(["cat", f"/proc/{pid}/cmdline"], check=True).stdout.split("\0")[:-1]


class SystemdKubeletTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kdap-e2e-")
        if not os.environ.get("KDAP_E2E_KEEP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.main_pid = NODE.wait_unit_running("kubelet.service", timeout=30)
        self.assertEqual(node_cmdline(self.main_pid), ["/usr/bin/kubelet"] + EXPECTED_ARGS)
        self.enabled = NODE.unit_property("kubelet.service", "UnitFileState")

    def launch_args(self, **extra) -> dict:
        args = {"host": f"root@127.0.0.1:{NODE.port}", "identityFile": NODE.identity_file,
                "knownHostsFile": NODE.known_hosts_file, "stopTimeout": 30, "startTimeout": 30}
        args.update(extra)
        return args

    def spawn(self) -> DapClient:
        client = spawn_kdap(self, self.tmp)
        initialize(client)
        return client

    def assert_unit_back(self):
        pid = NODE.wait_unit_running("kubelet.service", timeout=30)
        self.assertNotEqual(pid, self.main_pid)  # started again by systemd, not left over
        self.assertEqual(node_cmdline(pid), ["/usr/bin/kubelet"] + EXPECTED_ARGS)
        self.assertEqual(NODE.unit_property("kubelet.service", "UnitFileState"), self.enabled)
        self.assertEqual(NODE.run("pgrep -x dlv").stdout.strip(), "")
        self.assertEqual(NODE.run("ls /var/lib/kdap/sessions 2>/dev/null | grep -v '\\.log$'").stdout.strip(), "")

    def debug_session(self, launch: dict) -> DapClient:
        client = self.spawn()
        frame = launch_to_breakpoint(self, client, launch)
        # the unit is out of service while its binary runs under dlv
        self.assertEqual(NODE.unit_property("kubelet.service", "ActiveState"), "inactive")
        self.assertEqual(evaluate(client, frame, "len(cfg.Args)"), str(len(EXPECTED_ARGS)))
        for i, arg in enumerate(EXPECTED_ARGS):
            self.assertEqual(evaluate(client, frame, f"cfg.Args[{i}]"), f'"{arg}"')
        return client

    def test_debug_the_kubelet_unit(self):
        client = self.debug_session(self.launch_args(target="systemd/kubelet"))
        client.wait_output("systemd unit kubelet.service (active, enabled)", timeout=5)
        client.request_ok("disconnect", {}, timeout=90)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        self.assert_unit_back()
        client.assert_no_protocol_errors()

    def test_component_finds_the_unit(self):
        client = self.debug_session(self.launch_args(component="kubelet"))
        client.wait_output("kdap chose systemd/kubelet.service", timeout=5)
        client.request_ok("disconnect", {}, timeout=90)
        self.assert_unit_back()

    def test_upload_dlv_when_the_node_has_none(self):
        client = self.debug_session(self.launch_args(target="systemd/kubelet", dlvPath="/nonexistent/dlv",
                                                     uploadDlv=True))
        client.wait_output("uploaded " + shutil.which("dlv"), timeout=5)
        self.assertEqual(NODE.run("pgrep -a -x dlv").stdout.split()[1],
                         "/var/lib/kdap/sessions/systemd_kubelet/upload/dlv")
        client.request_ok("disconnect", {}, timeout=90)
        self.assert_unit_back()
        self.assertEqual(NODE.run("find /var/lib/kdap -name dlv").stdout, "")

    def test_ls_lists_the_unit_with_its_debug_info(self):
        r = subprocess.run([harness.kdap_bin(), "ls", "--json", "--host", f"root@127.0.0.1:{NODE.port}",
                            "--identity-file", NODE.identity_file, "--known-hosts-file", NODE.known_hosts_file],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        listing = json.loads(r.stdout)
        [unit] = [c for c in listing["components"] if c["target"] == "systemd/kubelet.service"]
        self.assertEqual(unit["pid"], self.main_pid)
        self.assertEqual(unit["program"], "/usr/bin/kubelet")
        self.assertIs(unit["debugInfo"], True)
        self.assertIs(unit["optimizationsDisabled"], True)
        self.assertTrue(unit["goVersion"].startswith("go1."), unit)
        # sshd and systemd are not Go programs; nothing else in the node is
        self.assertEqual([c for c in listing["components"] if c["kind"] == "process"], [])


if __name__ == "__main__":
    unittest.main()
