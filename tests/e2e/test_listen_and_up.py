"""The other ways in: `kdap dap --listen` (nvim-dap's `server` adapter: DAP over TCP, sessions one after
another) and `kdap up` (GoLand's Go Remote, tested with `dlv connect`, which speaks the same JSON-RPC), both
with named profiles from a .kdap.yaml. Real sshd, real dlv, real Go component.
Run: cd tests/e2e && python3 -m unittest -v test_listen_and_up"""

import json
import os
import pty
import threading
import re
import signal
import subprocess
import unittest
from pathlib import Path

import harness
from dap_client import DapClient
from kdap_session import StaticPodNode, dlv_pids, evaluate, initialize, top_frame

FX: harness.Fixtures


def setUpModule():
    global FX
    FX = harness.build_fixtures()


def write_profiles(node: StaticPodNode, name: str = "scheduler") -> str:
    args = node.launch_args()
    body = "profiles:\n  %s:\n%s" % (name, "".join(f"    {k}: {json.dumps(v)}\n" for k, v in args.items()))
    path = Path(node.tmp, ".kdap.yaml")
    path.write_text(body)
    return str(path)


def start(argv, node, name):
    log = open(os.path.join(node.tmp, name + ".stderr"), "ab")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, cwd=node.tmp)
    node.test.addCleanup(lambda: proc.poll() is None and proc.kill())
    line = proc.stdout.readline().decode()
    m = re.match(r"^kdap (dap|up) listening at 127\.0\.0\.1:(\d+)$", line.strip())
    if not m:
        proc.kill()
        raise AssertionError(f"no listening line, got {line!r}; log:\n{Path(node.tmp, name + '.stderr').read_text()}")
    return proc, int(m.group(2))


class ListenTest(unittest.TestCase):
    def test_two_sessions_over_tcp_then_sigterm(self):
        node = StaticPodNode(self, FX, ssh=True)
        profiles = write_profiles(node)
        proc, port = start([harness.kdap_bin(), "dap", "--listen", "127.0.0.1:0"], node, "kdap-listen")
        src, line = harness.breakpoint_location()
        for round_ in range(2):
            client = DapClient.connect("127.0.0.1", port)
            self.addCleanup(client.close)
            initialize(client)
            seq = client.send({"type": "request", "command": "launch",
                               "arguments": {"profile": "scheduler", "configFile": profiles}})
            client.wait_event("initialized", timeout=90)
            client.request_ok("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": line}]})
            client.request_ok("configurationDone")
            self.assertTrue(client.wait_response(seq, timeout=90)["success"])
            stopped = client.wait_event("stopped", timeout=60)
            frame = top_frame(client, stopped["body"]["threadId"])
            self.assertEqual(evaluate(client, frame, "cfg.SecurePort"), str(node.port))
            client.request_ok("disconnect", timeout=90)
            client.wait_closed(timeout=30)
            node.assert_restored()
            client.assert_seq_strictly_increasing()
        self.assertIsNone(proc.poll(), "the server must keep serving after a session")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)

    def test_sigterm_during_a_session_restores(self):
        node = StaticPodNode(self, FX, ssh=True)
        proc, port = start([harness.kdap_bin(), "dap", "--listen", "127.0.0.1:0"], node, "kdap-listen")
        client = DapClient.connect("127.0.0.1", port)
        self.addCleanup(client.close)
        initialize(client)
        client.request_ok("launch", node.launch_args(), timeout=90)
        client.request_ok("configurationDone")
        self.assertFalse(os.path.exists(node.manifest))
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0)
        node.assert_restored()

    def test_refuses_to_listen_beyond_loopback(self):
        r = subprocess.run([harness.kdap_bin(), "dap", "--listen", "0.0.0.0:0"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("loopback only", r.stderr)


class UpTest(unittest.TestCase):
    def test_dlv_connect_through_kdap_up_then_sigterm_restores(self):
        node = StaticPodNode(self, FX, ssh=True)
        profiles = write_profiles(node, "sched")
        proc, port = start([harness.kdap_bin(), "up", "--config", profiles, "--profile", "sched"], node, "kdap-up")
        self.assertFalse(os.path.exists(node.manifest))
        [dlv] = dlv_pids()
        self.assertEqual({a for a, _ in harness.dlv_listen_addresses(dlv)}, {"127.0.0.1"})
        src, line = harness.breakpoint_location()
        script = "\n".join([f"break {src}:{line}", "continue", "print round", "print cfg.SecurePort", "continue",
                            "print round", "clearall", "quit -c", ""])
        r = subprocess.run([harness.dlv_path(), "connect", f"127.0.0.1:{port}"], input=script, capture_output=True,
                           text=True, timeout=120)
        out = r.stdout + r.stderr
        self.assertIn("main.reconcile()", out)
        # dlv's prompt precedes each printed value
        self.assertRegex(out, rf"(?m)^\(dlv\) 1\n\(dlv\) {node.port}$")
        self.assertRegex(out, r"(?m)^\(dlv\) 2$")
        self.assertIsNone(proc.poll(), "kdap up must stay until it is told to stop")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0)
        node.assert_restored()
        log = Path(node.tmp, "kdap-up.stderr").read_text()
        self.assertIn("Go Remote, Host 127.0.0.1, Port " + str(port), log)
        self.assertIn("static-pod/kube-scheduler restored", log)

    def test_progress_is_live_on_a_terminal_and_plain_lines_otherwise(self):
        node = StaticPodNode(self, FX, ssh=False)
        profiles = write_profiles(node, "sched")
        argv = [harness.kdap_bin(), "up", "--config", profiles, "--profile", "sched"]

        # stderr a terminal: each step rewrites the same line ("\r" + erase to end of line)
        master, slave = pty.openpty()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, cwd=node.tmp)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        os.close(slave)
        screen = bytearray()

        def read_terminal():
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO once the last writer is gone
                    return
                if not chunk:
                    return
                screen.extend(chunk)

        reader = threading.Thread(target=read_terminal, daemon=True)
        reader.start()
        self.assertRegex(proc.stdout.readline().decode(), r"^kdap up listening at 127\.0\.0\.1:\d+$")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0)
        reader.join(timeout=10)
        os.close(master)
        node.assert_restored()
        text = screen.decode(errors="replace")
        live = re.findall(r"\r\x1b\[Kkdap: ([^\r\n]*)", text)
        self.assertTrue(any(s.startswith("parking ") for s in live), text)
        self.assertTrue(any(s.startswith("starting dlv for ") for s in live), text)
        self.assertIn("kdap: static-pod/kube-scheduler restored", text)

        # stderr a file: the same steps, one plain line each, no terminal control
        proc, _ = start(argv, node, "kdap-up-plain")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0)
        node.assert_restored()
        plain = Path(node.tmp, "kdap-up-plain.stderr").read_text()
        self.assertNotIn("\x1b", plain)
        self.assertNotIn("\r", plain)
        lines = plain.splitlines()
        self.assertTrue(any(line.startswith("kdap: parking ") for line in lines), plain)
        self.assertTrue(any(line.startswith("kdap: starting dlv for ") for line in lines), plain)

    def test_unknown_profile_names_the_ones_there(self):
        node = StaticPodNode(self, FX, ssh=False)
        profiles = write_profiles(node, "sched")
        r = subprocess.run([harness.kdap_bin(), "up", "--config", profiles, "--profile", "nope"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no profile 'nope'", r.stderr)
        self.assertIn("profiles there: sched", r.stderr)
        node.assert_untouched()


if __name__ == "__main__":
    unittest.main()
