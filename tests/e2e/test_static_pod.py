"""kdap debugs a static-pod component end to end and puts the node back: through a real sshd on
loopback, and on this machine (LocalNode). Run: cd tests/e2e && python3 -m unittest -v test_static_pod"""

import json
import os
import re
import subprocess
import time
import unittest
from pathlib import Path

import harness
from kdap_session import StaticPodNode, dlv_pids, evaluate, initialize, launch_to_breakpoint, top_frame

FX: harness.Fixtures
OLD_DLV = os.environ.get("KDAP_OLD_DLV", "/opt/kdap-test/delve-debian/usr/bin/dlv")


def setUpModule():
    global FX
    FX = harness.build_fixtures()


class StaticPodSessionTest(unittest.TestCase):
    def run_session(self, ssh: bool):
        node = StaticPodNode(self, FX, ssh=ssh)
        src, line = harness.breakpoint_location()
        client = node.spawn_kdap()
        caps = initialize(client)["body"]
        self.assertTrue(caps["supportsConfigurationDoneRequest"])

        launch = client.send({"type": "request", "command": "launch", "arguments": node.launch_args()})
        client.wait_event("initialized", timeout=90)
        bps = client.request_ok("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": line}]})
        self.assertTrue(bps["body"]["breakpoints"][0]["verified"], bps)
        client.request_ok("configurationDone")
        response = client.wait_response(launch, timeout=90)
        self.assertTrue(response["success"], response)

        # the original component is out of service while the debug build runs
        self.assertFalse(os.path.exists(node.manifest))
        self.assertFalse(harness.pid_alive(node.component_pid))
        dlvs = dlv_pids()
        self.assertEqual(len(dlvs), 1, dlvs)
        addresses = harness.dlv_listen_addresses(dlvs[0])
        self.assertTrue(addresses, "dlv listens nowhere")
        self.assertEqual({a for a, _ in addresses}, {"127.0.0.1"}, addresses)

        stopped = client.wait_event("stopped", timeout=60)
        thread = stopped["body"]["threadId"]
        frame = harness.assert_stopped_in_reconcile(self, client, stopped)
        # exactly the manifest's arguments reached the debug process
        self.assertEqual(evaluate(client, frame, "cfg.SecurePort"), str(node.port))
        self.assertEqual(evaluate(client, frame, "len(cfg.Args)"), str(len(node.args)))
        for i, arg in enumerate(node.args):
            self.assertEqual(evaluate(client, frame, f"cfg.Args[{i}]"), f'"{arg}"')

        client.request_ok("continue", {"threadId": thread})
        stopped = client.wait_event("stopped", timeout=30)
        self.assertEqual(stopped["body"]["reason"], "breakpoint")
        self.assertEqual(evaluate(client, top_frame(client, stopped["body"]["threadId"]), "round"), "2")
        # the debuggee's own output reaches the editor, by stream
        client.wait_output("fake-component: round 1", timeout=15, category="stdout")
        client.wait_output("fake-component: starting", timeout=15, category="stderr")

        client.request_ok("disconnect", {"restart": False}, timeout=90)
        node.assert_restored()
        self.assertEqual(client.wait_exit(timeout=30), 0)
        client.assert_seq_strictly_increasing()
        client.assert_no_protocol_errors()
        # bring-up and restore were reported as progress, since the client supports it
        titles = [e["body"]["title"] for e in client.events("progressStart")]
        self.assertTrue(any("static-pod/kube-scheduler" in t for t in titles), titles)
        self.assertEqual(len(client.events("progressStart")), len(client.events("progressEnd")))
        return node, client

    def test_session_through_sshd(self):
        node, _ = self.run_session(ssh=True)
        self.assertIn("ssh: connected to", node.kdap_log())

    def test_session_on_this_machine(self):
        self.run_session(ssh=False)

    def test_console_lines_without_progress_support(self):
        node = StaticPodNode(self, FX, ssh=False)
        client = node.spawn_kdap()
        initialize(client, progress=False)
        client.request_ok("launch", node.launch_args(), timeout=90)
        self.assertEqual(client.events("progressStart"), [])
        console = client.output("console")
        for step in ("kdap: reading static-pod/kube-scheduler", "kdap: parking ", "kdap: starting dlv for "):
            self.assertIn(step, console)
        client.request_ok("configurationDone")
        client.request_ok("disconnect", timeout=90)
        node.assert_restored()
        self.assertEqual(client.wait_exit(timeout=30), 0)

    def test_terminate_then_disconnect(self):
        """`terminate` ends the debug process and restores; the editor's `disconnect` that follows is answered."""
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session()
        client.request_ok("terminate", timeout=90)
        client.wait_event("terminated", timeout=30)
        node.assert_restored()
        client.request_ok("disconnect", timeout=30)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        client.assert_seq_strictly_increasing()

    def test_editor_gone_restores(self):
        """EOF on kdap's stdin ends the session: the node is restored and kdap exits."""
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session()
        client.proc.stdin.close()
        self.assertEqual(client.wait_exit(timeout=60), 0)
        node.assert_restored()


class BadInputTest(unittest.TestCase):
    """Errors reach the editor as DAP error responses with showUser, and the node stays untouched."""

    def launch_error(self, node, **args) -> str:
        client = node.spawn_kdap()
        initialize(client)
        # every bad input is answered within 30 s
        response = client.request("launch", node.launch_args(**args), timeout=30)
        self.assertFalse(response["success"], response)
        error = response["body"]["error"]
        self.assertTrue(error["showUser"])
        client.request_ok("disconnect", timeout=30)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        node.assert_untouched()
        return error["format"]

    def test_changed_host_key(self):
        node = StaticPodNode(self, FX, ssh=True)
        message = self.launch_error(node, knownHostsFile=node.ssh.wrong_known_hosts())
        self.assertIn("CHANGED", message)
        self.assertIn("ssh-keygen -R", message)

    def test_unknown_host_key(self):
        node = StaticPodNode(self, FX, ssh=True)
        empty = os.path.join(node.tmp, "empty_known_hosts")
        open(empty, "w").close()
        message = self.launch_error(node, knownHostsFile=empty)
        self.assertIn("not in " + empty, message)
        self.assertIn("SHA256:", message)

    def test_refused_connection(self):
        node = StaticPodNode(self, FX, ssh=True)
        closed_port = harness.free_port()
        message = self.launch_error(node, host=f"root@127.0.0.1:{closed_port}")
        self.assertIn("refused", message)
        self.assertIn(str(closed_port), message)

    def test_unknown_target_kind(self):
        node = StaticPodNode(self, FX, ssh=False)
        message = self.launch_error(node, target="deployment/kube-scheduler")
        self.assertIn("unknown kind 'deployment'", message)
        self.assertIn("static-pod/<name>", message)

    def test_missing_manifest_names_the_ones_there(self):
        node = StaticPodNode(self, FX, ssh=True)
        message = self.launch_error(node, target="static-pod/kube-apiserver")
        self.assertIn("kube-apiserver.yaml", message)
        self.assertIn("Static pods there: kube-scheduler", message)

    def test_missing_program(self):
        node = StaticPodNode(self, FX, ssh=False)
        message = self.launch_error(node, program="/nonexistent/kube-scheduler")
        self.assertIn("/nonexistent/kube-scheduler", message)
        self.assertIn("-gcflags=all=-N -l", message)

    def test_program_dlv_cannot_launch_over_ssh(self):
        """dlv announces its port before it launches the program; a program it cannot start (here: its working
        directory does not exist) must still end in a clear error and a restored node (the SSH connection
        survives the failed tunnel)."""
        node = StaticPodNode(self, FX, ssh=True)
        client = node.spawn_kdap()
        initialize(client)
        response = client.request("launch", node.launch_args(cwd="/nonexistent/kdap-cwd"), timeout=90)
        self.assertFalse(response["success"], response)
        self.assertIn("dlv ended before kdap could connect", response["body"]["error"]["format"])
        # the answer came after the restore: the manifest is already back
        self.assertEqual(Path(node.manifest).read_bytes(), node.original.data)
        client.request_ok("disconnect", timeout=30)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        node.assert_restored()
        self.assertEqual(dlv_pids(), [])

    def test_malformed_manifest(self):
        node = StaticPodNode(self, FX, ssh=False)
        node.kubelet.write_manifest("kube-broken", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [oops\n")
        message = self.launch_error(node, target="static-pod/kube-broken")
        self.assertIn("kube-broken.yaml", message)

    def test_script_instead_of_a_go_binary_is_refused_before_parking(self):
        node = StaticPodNode(self, FX, ssh=True)
        script = os.path.join(node.tmp, "not-a-go-binary")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexec sleep 1000\n")
        os.chmod(script, 0o755)
        message = self.launch_error(node, program=script)
        self.assertIn("is a script", message)
        self.assertIn("set program to the binary", message)

    def test_stripped_program_is_refused_before_parking(self):
        node = StaticPodNode(self, FX, ssh=True)
        message = self.launch_error(node, program=FX.stripped)
        self.assertIn(FX.stripped + " has no DWARF debug info", message)
        self.assertIn('-ldflags "-s -w"', message)
        self.assertIn("DBG=1", message)

    def test_dlv_missing_is_caught_before_parking(self):
        node = StaticPodNode(self, FX, ssh=False)
        message = self.launch_error(node, dlvPath="/nonexistent/dlv")
        self.assertIn("dlv is not on this machine", message)
        self.assertIn("go install github.com/go-delve/delve/cmd/dlv", message)
        self.assertEqual(dlv_pids(), [])

    @unittest.skipUnless(os.access(OLD_DLV, os.X_OK), f"no old dlv at {OLD_DLV} (tests/tools/install-deps.sh)")
    def test_dlv_too_old_for_the_binarys_go(self):
        node = StaticPodNode(self, FX, ssh=True)
        old = subprocess.run([OLD_DLV, "version"], capture_output=True, text=True).stdout
        old_version = re.search(r"Version: (\S+)", old).group(1)
        go_version = subprocess.run([harness.find_go(), "env", "GOVERSION"], capture_output=True,
                                    text=True).stdout.strip()
        message = self.launch_error(node, dlvPath=OLD_DLV)
        self.assertIn(f"dlv {old_version} on ", message)
        self.assertIn(f"built with {go_version}", message)
        self.assertIn("too old", message)
        self.assertIn("--check-go-version=false", message)


class CancelledLaunchTest(unittest.TestCase):
    def test_ending_the_session_while_dlv_starts_leaves_no_dlv(self):
        """The editor ends the session while dlv is still starting on the node: kdap stops that dlv, restores
        the component and answers the launch with an error. (A dlv left there would keep a debuggee stopped at
        its entry, or, once listening, run on unseen.)"""
        node = StaticPodNode(self, FX, ssh=True)
        slow_dlv = os.path.join(node.tmp, "slow-dlv")
        with open(slow_dlv, "w") as f:  # dlv that takes 4 s to start; `dlv version` answers at once
            f.write(f'#!/bin/sh\n[ "$1" = exec ] && sleep 4\nexec {harness.dlv_path()} "$@"\n')
        os.chmod(slow_dlv, 0o755)
        client = node.spawn_kdap()
        initialize(client)
        seq = client.send({"type": "request", "command": "launch",
                           "arguments": node.launch_args(dlvPath=slow_dlv)})
        starting = lambda: [p for p in harness.all_pids()
                            if (harness.proc_cmdline(p) or [""])[1:3] == [slow_dlv, "exec"]]
        harness.wait_until(starting, 30, "kdap to start dlv")
        [wrapper] = starting()
        client.send({"type": "request", "command": "disconnect", "arguments": {}})
        response = client.wait_response(seq, timeout=60)
        self.assertFalse(response["success"])
        self.assertIn("the editor ended the session", response["body"]["error"]["format"])
        self.assertEqual(client.wait_exit(timeout=60), 0)
        node.assert_restored()
        self.assertFalse(harness.pid_alive(wrapper))
        time.sleep(5)  # past the wrapper's sleep: nothing may have gone on to start dlv
        self.assertEqual(dlv_pids(), [])


class OptimizedBuildTest(unittest.TestCase):
    def test_optimized_program_warns_and_the_session_goes_on(self):
        node = StaticPodNode(self, FX, ssh=False)
        client = node.start_session(program=FX.optimized)
        client.wait_output("was built without -gcflags=all=-N -l", timeout=10)
        # the component elects a leader: kdap explains what a long breakpoint does, and changes no flag
        client.wait_output("runs with leader election", timeout=10)
        [debuggee] = [p for p in harness.children(dlv_pids()[0]) if (harness.proc_cmdline(p) or [""])[0] == FX.optimized]
        self.assertIn("--leader-elect=true", harness.proc_cmdline(debuggee))
        self.assertEqual(len(dlv_pids()), 1)
        client.request_ok("disconnect", {}, timeout=60)
        node.assert_restored()

if __name__ == "__main__":
    unittest.main()


class DebugSafeFlagsTest(unittest.TestCase):
    def test_leader_election_switched_off_on_request(self):
        node = StaticPodNode(self, FX, ssh=False)
        client = node.spawn_kdap()
        initialize(client)
        frame = launch_to_breakpoint(self, client, node.launch_args(debugSafeFlags=True))
        client.wait_output("kdap added --leader-elect=false", timeout=5)
        self.assertEqual(evaluate(client, frame, "cfg.LeaderElect"), "false")
        client.request_ok("disconnect", {}, timeout=60)
        node.assert_restored()


class DoctorTest(unittest.TestCase):
    """`kdap doctor` checks what a launch needs without changing anything, and fails when something blocks."""

    def doctor(self, node, *args, known_hosts=None):
        argv = [harness.kdap_bin(), "doctor", "--json", "--manifest-dir", node.kubelet.manifest_dir,
                "--host", f"{node.ssh.user}@127.0.0.1:{node.ssh.port}", "--identity-file", node.ssh.identity_file,
                "--known-hosts-file", known_hosts or node.ssh.known_hosts_file, *args]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        report = json.loads(r.stdout)
        node.assert_untouched()
        return r.returncode, {c["name"]: c for c in report["checks"]}, report

    def test_a_healthy_node_and_target(self):
        node = StaticPodNode(self, FX, ssh=True)
        code, checks, report = self.doctor(node, "static-pod/kube-scheduler", "--program", FX.component)
        self.assertEqual(code, 0, report)
        self.assertTrue(report["ok"])
        for name in ("ssh", "root", "guard", "ports", "target", "dlv", "program"):
            self.assertEqual(checks[name]["status"], "ok", checks[name])
        self.assertIn("dlv 1.27", checks["dlv"]["message"])
        self.assertIn("static pod kube-scheduler", checks["target"]["message"])

    def test_what_blocks_is_named(self):
        node = StaticPodNode(self, FX, ssh=True)
        code, checks, _ = self.doctor(node, "static-pod/kube-scheduler", "--program", FX.stripped)
        self.assertEqual(code, 1)
        self.assertEqual(checks["program"]["status"], "fail")
        self.assertIn("no DWARF debug info", checks["program"]["message"])

        code, checks, _ = self.doctor(node, "static-pod/kube-nothing", "--dlv-path", "/nonexistent/dlv")
        self.assertEqual(code, 1)
        self.assertEqual(checks["target"]["status"], "fail")
        self.assertIn("Static pods there: kube-scheduler", checks["target"]["message"])
        self.assertEqual(checks["dlv"]["status"], "fail")
        self.assertIn("dlv is not on", checks["dlv"]["message"])

        code, checks, _ = self.doctor(node, known_hosts=node.ssh.wrong_known_hosts())
        self.assertEqual(code, 1)
        self.assertEqual(checks["ssh"]["status"], "fail")
        self.assertIn("CHANGED", checks["ssh"]["message"])
