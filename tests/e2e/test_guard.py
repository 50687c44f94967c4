"""Nothing left parked: the node guard restores when kdap, its connection or sshd dies; one session per
component; `kdap restore` replays what a dead guard left; `kdap status` lists sessions. Real sshd, real dlv.
Run: cd tests/e2e && python3 -m unittest -v test_guard"""

import hashlib
import json
import os
import signal
import subprocess
import time
import unittest

import harness
from kdap_session import StaticPodNode, dlv_pids, initialize

FX: harness.Fixtures


def setUpModule():
    global FX
    FX = harness.build_fixtures()


def guard_pids(node):
    sessions = os.path.join(node.state_dir, "sessions")
    return [p for p in harness.all_pids()
            if any(sessions in a for a in (harness.proc_cmdline(p) or [])) and "guard.sh" in " ".join(
                harness.proc_cmdline(p) or [])]



def kdap_cli(node, *args):
    argv = [harness.kdap_bin(), *args, "--state-dir", node.state_dir]
    if node.ssh:
        argv += ["--host", f"{node.ssh.user}@127.0.0.1:{node.ssh.port}", "--identity-file", node.ssh.identity_file,
                 "--known-hosts-file", node.ssh.known_hosts_file]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


class GuardTest(unittest.TestCase):
    def sigkill_restores(self, ssh: bool):
        node = StaticPodNode(self, FX, ssh=ssh)
        client = node.start_session()
        os.kill(client.proc.pid, signal.SIGKILL)
        client.proc.wait(timeout=10)
        harness.wait_until(lambda: os.path.exists(node.manifest), 10, "the guard to put the manifest back")
        node.assert_restored()
        self.assertEqual(guard_pids(node), [])

    def test_sigkill_of_kdap_restores(self):
        self.sigkill_restores(ssh=True)

    def test_sigkill_of_kdap_restores_on_this_machine(self):
        self.sigkill_restores(ssh=False)

    def test_guard_ends_the_debuggee_dlv_left_behind(self):
        """dlv dies and its debuggee runs on, detached; then kdap dies before it could clean up. The guard's
        restore ends the debuggee by the pid and start time kdap noted. The debuggee is stopped once dlv is gone
        (as one that writes nothing would be: one that writes dies of SIGPIPE when kdap's connection goes), and
        after its process group was orphaned (when the kernel would have sent it SIGHUP and SIGCONT)."""
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session()
        [dlv] = dlv_pids()
        [debuggee] = [p for p in harness.children(dlv) if harness.proc_cmdline(p)[0] == FX.component]
        self.addCleanup(lambda: harness.pid_alive(debuggee) and os.kill(debuggee, signal.SIGKILL))
        os.kill(client.proc.pid, signal.SIGSTOP)  # kdap cannot react to dlv's death
        os.kill(dlv, signal.SIGKILL)
        # dlv a zombie or gone: its exit is complete, the kernel's check of the orphaned process group included.
        # A debuggee stopped before that check would get SIGHUP and SIGCONT from it, and end.
        harness.wait_until(lambda: not harness.pid_alive(dlv), 10, "dlv to die")
        harness.wait_until(lambda: harness.proc_ppid(debuggee) not in (dlv, None), 10, "dlv's debuggee to be orphaned")
        if not harness.pid_alive(debuggee):  # it ended with dlv (rarely, here): nothing is left to end
            self.skipTest("the debuggee ended with dlv, so the guard had nothing to end")
        os.kill(debuggee, signal.SIGSTOP)
        try:
            harness.wait_until(lambda: harness.proc_state(debuggee) == "T", 10, "the debuggee to stop")
        except TimeoutError:
            self.fail(f"the debuggee did not stop: state {harness.proc_state(debuggee)!r} (None: it is gone)")
        os.kill(client.proc.pid, signal.SIGKILL)
        client.proc.wait(timeout=10)
        harness.wait_until(lambda: os.path.exists(node.manifest), 20, "the guard to put the manifest back")
        harness.wait_until(lambda: not harness.pid_alive(debuggee), 10, "the guard to end the debuggee")
        node.assert_restored()
        self.assertEqual(guard_pids(node), [])

    def test_killing_the_sshd_child_restores(self):
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session()
        for pid in harness.children(node.ssh.pid):  # sshd's per-connection process
            os.kill(pid, signal.SIGKILL)
        harness.wait_until(lambda: os.path.exists(node.manifest), 20, "the guard to put the manifest back")
        node.assert_restored()
        client.close()

    def test_silence_restores_after_the_keepalive(self):
        """kdap frozen (the editor's laptop asleep): no heartbeat for guardKeepalive seconds → the guard restores."""
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session(guardKeepalive=3)
        os.kill(client.proc.pid, signal.SIGSTOP)
        self.addCleanup(lambda: client.proc.poll() is None and os.kill(client.proc.pid, signal.SIGKILL))
        started = time.monotonic()
        harness.wait_until(lambda: os.path.exists(node.manifest), 20, "the guard to put the manifest back")
        self.assertGreaterEqual(time.monotonic() - started, 1.5, "restored before the keepalive ran out")
        node.assert_restored()
        log = open(os.path.join(node.state_dir, "sessions", "guard.log")).read()
        self.assertIn("connection to kdap lost: restoring", log)
        os.kill(client.proc.pid, signal.SIGKILL)

    def test_second_session_is_refused_naming_the_holder(self):
        node = StaticPodNode(self, FX, ssh=True)
        first = node.start_session()
        second = node.spawn_kdap("kdap2")
        initialize(second)
        response = second.request("launch", node.launch_args(), timeout=60)
        self.assertFalse(response["success"])
        message = response["body"]["error"]["format"]
        self.assertIn("already being debugged by", message)
        self.assertIn(f"pid {first.proc.pid}", message)
        second.request_ok("disconnect", timeout=30)
        self.assertFalse(os.path.exists(node.manifest), "the refused session must not touch the first one's work")
        first.request_ok("disconnect", timeout=90)
        node.assert_restored()

    def test_restore_by_hand_after_guard_and_kdap_died(self):
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session()
        for pid in guard_pids(node):
            os.kill(pid, signal.SIGKILL)
        os.kill(client.proc.pid, signal.SIGKILL)
        client.proc.wait(timeout=10)
        time.sleep(1)
        self.assertFalse(os.path.exists(node.manifest), "with the guard dead nothing restores on its own")
        journal = open(os.path.join(node.state_dir, "sessions", "static-pod_kube-scheduler", "restore.sh")).read()
        digest = hashlib.sha256(node.original.data).hexdigest()
        self.assertIn(f"sha256 {digest}, mode {node.original.mode & 0o7777:o}", journal)
        status = kdap_cli(node, "status", "--json")
        self.assertEqual(status.returncode, 0, status.stderr)
        [session] = json.loads(status.stdout)["sessions"]
        self.assertEqual(session["target"], "static-pod/kube-scheduler")
        self.assertFalse(session["guardAlive"])
        restored = kdap_cli(node, "restore")
        self.assertEqual(restored.returncode, 0, restored.stderr + restored.stdout)
        self.assertIn("restored static-pod/kube-scheduler", restored.stdout)
        node.assert_restored()
        self.assertEqual(json.loads(kdap_cli(node, "status", "--json").stdout)["sessions"], [])

    def test_clean_end_leaves_no_journal_or_lock(self):
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session()
        client.request_ok("disconnect", timeout=90)
        node.assert_restored()
        self.assertEqual(os.listdir(os.path.join(node.state_dir, "sessions")), [])
        self.assertEqual(guard_pids(node), [])
        self.assertEqual(dlv_pids(), [])


if __name__ == "__main__":
    unittest.main()
