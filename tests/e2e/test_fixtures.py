"""Proves the e2e test world works without kdap: sshd, the fake component, the kubelet stand-in,
and dlv's DAP server driven by DapClient.   Run: cd tests/e2e && python3 -m unittest -v test_fixtures
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
from pathlib import Path

import harness
from dap_client import DapClient

FX: harness.Fixtures


def setUpModule():
    global FX
    FX = harness.build_fixtures()


def healthz(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        return r.read().decode()


class SshServerTest(unittest.TestCase):
    def test_login_with_strict_host_key_checking(self):
        with harness.SshServer() as node:
            r = node.run("echo kdap-ok", timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), "kdap-ok")
            self.assertIn(f"[127.0.0.1]:{node.port} ssh-ed25519 ", Path(node.known_hosts_file).read_text())

    def test_changed_host_key_is_refused(self):
        with harness.SshServer() as node:
            r = node.run("true", timeout=30, known_hosts=node.wrong_known_hosts())
            self.assertEqual(r.returncode, 255)
            self.assertIn("REMOTE HOST IDENTIFICATION HAS CHANGED", r.stderr)

    def test_two_servers_in_parallel(self):
        nodes, errors = [], []

        def start():
            try:
                node = harness.SshServer().__enter__()
                nodes.append(node)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=start) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        try:
            self.assertEqual(errors, [])
            self.assertEqual(len(nodes), 2)
            self.assertNotEqual(nodes[0].port, nodes[1].port)
            for node in nodes:
                r = node.run("true", timeout=30)
                self.assertEqual(r.returncode, 0, r.stderr)
            # each node's key is its own: one node's known_hosts does not fit the other
            r = nodes[0].run("true", timeout=30, known_hosts=nodes[1].known_hosts_file)
            self.assertEqual(r.returncode, 255)
        finally:
            for node in nodes:
                node.stop()

    def test_tcp_forwarding_reaches_a_loopback_port(self):
        with socket.socket() as listener, harness.SshServer() as node:
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            listener.settimeout(30)

            def serve():
                try:
                    conn, _ = listener.accept()
                    with conn:
                        conn.sendall(b"hello through the tunnel\n")
                except OSError:
                    pass

            threading.Thread(target=serve, daemon=True).start()
            argv = node.ssh_argv()
            argv.insert(1, f"-W127.0.0.1:{listener.getsockname()[1]}")  # a direct-tcpip channel
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
            self.assertIn("hello through the tunnel", r.stdout, r.stderr)

    def test_stop_ends_remote_sessions(self):
        node = harness.SshServer().__enter__()
        try:
            client = subprocess.Popen(node.ssh_argv("sleep 300"), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            sleeper = harness.wait_until(lambda: next(iter(
                p for p in node.sessions() if (harness.proc_cmdline(p) or [""])[0] == "sleep"), None),
                15, "sleep under sshd")
        finally:
            node.stop()
        harness.wait_until(lambda: not harness.pid_alive(sleeper), 10, "remote sleep to end")
        client.wait(timeout=10)
        self.assertFalse(os.path.exists(node.dir))


class FakeComponentTest(unittest.TestCase):
    def test_rejects_an_unknown_flag(self):
        r = subprocess.run([FX.component, "--secure-port=0", "--no-such-flag=1"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("flag provided but not defined: -no-such-flag", r.stderr)

    def test_serves_healthz_prints_rounds_and_exits_on_sigterm(self):
        port = harness.free_port()
        proc = subprocess.Popen([FX.component, *harness.component_flags(port)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            out, err = harness.LineCollector(proc.stdout), harness.LineCollector(proc.stderr)
            err.wait_for(rf"^fake-component: starting pid={proc.pid} listen=127\.0\.0\.1:{port} ", 15)
            self.assertEqual(healthz(port), "ok")
            out.wait_for(r"^fake-component: round 3$", 15)
            self.assertEqual(harness.listening_addresses(proc.pid), [("127.0.0.1", port)])
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
            err.wait_for(r"shutting down \(terminated\)", 5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)

    def test_breakpoint_marker_is_in_reconcile(self):
        path, line = harness.breakpoint_location()
        lines = Path(path).read_text().splitlines()
        func_line = max(i for i in range(line) if lines[i].startswith("func "))
        self.assertTrue(lines[func_line].startswith("func reconcile(cfg *Config, round int)"), lines[func_line])


class KubeletStandinTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kdap-fixtures-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_runs_stops_and_restarts_a_static_pod(self):
        port = harness.free_port()
        workdir = os.path.join(self.tmp, "work")
        os.mkdir(workdir)
        manifest = harness.component_manifest(FX.component, port, command0="kube-scheduler",
                                              env={"KDAP_TEST_ENV": "from-manifest"}, working_dir=workdir)
        with harness.KubeletStandin(FX.standin, path_prepend=[FX.bin_dir]) as kubelet:
            path = kubelet.write_manifest("kube-scheduler", manifest)
            pid = kubelet.wait_running("kube-scheduler", timeout=15)
            # argv[0] exactly as written in the manifest, then the manifest's flags
            self.assertEqual(harness.proc_cmdline(pid), ["kube-scheduler", *harness.component_flags(port)])
            self.assertTrue(os.path.samefile(os.readlink(f"/proc/{pid}/exe"), FX.component))
            self.assertEqual(harness.proc_environ(pid).get("KDAP_TEST_ENV"), "from-manifest")
            self.assertEqual(harness.proc_cwd(pid), workdir)
            harness.wait_until(lambda: self._healthz_ok(port), 10, "healthz")

            parked = os.path.join(self.tmp, "kube-scheduler.yaml")
            os.rename(path, parked)  # what kdap does: the kubelet stops the component
            kubelet.wait_gone(pid, timeout=10)
            self.assertIn("manifest removed: sending SIGTERM", kubelet.log_text())
            harness.wait_until(lambda: f"pid {pid} stopped (exited with code 0)" in kubelet.log_text(), 5,
                               "the stand-in to report a clean exit")
            time.sleep(1.0)
            self.assertEqual(kubelet.running("kube-scheduler"), [])

            os.rename(parked, path)  # restored: the kubelet starts it again
            new_pid = kubelet.wait_running("kube-scheduler", timeout=15, not_pid=pid)
            self.assertNotEqual(new_pid, pid)
            harness.wait_until(lambda: self._healthz_ok(port), 10, "healthz after restore")
            harness.wait_until(lambda: "fake-component: round 2" in kubelet.pod_log("kube-scheduler"), 10,
                               "component output in the pod log")
        self.assertFalse(harness.pid_alive(new_pid), "stand-in left its child running at exit")

    def test_restarts_a_process_that_dies(self):
        port = harness.free_port()
        with harness.KubeletStandin(FX.standin) as kubelet:
            kubelet.write_manifest("kube-scheduler", harness.component_manifest(FX.component, port))
            pid = kubelet.wait_running([FX.component], timeout=15)
            os.kill(pid, signal.SIGKILL)
            new_pid = kubelet.wait_running([FX.component], timeout=10, not_pid=pid)
            self.assertNotEqual(new_pid, pid)
            self.assertIn("restartPolicy Always", kubelet.log_text())

    def test_changed_manifest_restarts_the_process_with_new_args(self):
        port = harness.free_port()
        with harness.KubeletStandin(FX.standin) as kubelet:
            kubelet.write_manifest("kube-scheduler", harness.component_manifest(FX.component, port))
            pid = kubelet.wait_running([FX.component], timeout=15)
            kubelet.write_manifest("kube-scheduler", harness.component_manifest(FX.component, port, verbosity=4))
            kubelet.wait_gone(pid, timeout=10)
            new_pid = kubelet.wait_running([FX.component], timeout=10, not_pid=pid)
            self.assertEqual(harness.proc_cmdline(new_pid)[-1], "--v=4")

    def test_args_env_expansion_and_fieldref(self):
        port = harness.free_port()
        manifest = f"""apiVersion: v1
kind: Pod
metadata:
  name: expander
  namespace: kube-system
spec:
  containers:
  - name: expander
    command: ["{FX.component}"]
    args:
    - --secure-port=$(PORT)
    - --kubeconfig=$$(NOT_EXPANDED)
    - --authentication-kubeconfig=$(UNKNOWN)
    env:
    - name: PORT
      value: "{port}"
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
"""
        with harness.KubeletStandin(FX.standin) as kubelet:
            kubelet.write_manifest("expander", manifest)
            pid = kubelet.wait_running([FX.component], timeout=15)
            self.assertEqual(harness.proc_cmdline(pid)[1:], [
                f"--secure-port={port}", "--kubeconfig=$(NOT_EXPANDED)", "--authentication-kubeconfig=$(UNKNOWN)"])
            self.assertEqual(harness.proc_environ(pid)["POD_NAME"], "expander")

    def test_reads_files_like_the_kubelet(self):
        """Dotfiles and non-pods are skipped; any other file is a pod (the kubelet globs "[^.]*")."""
        port = harness.free_port()
        with harness.KubeletStandin(FX.standin) as kubelet:
            kubelet.write_manifest(".kube-scheduler.yaml", harness.component_manifest(FX.component, port))
            kubelet.write_manifest("notes.txt", "just some notes\n")
            time.sleep(1.5)
            self.assertEqual(kubelet.running([FX.component]), [])
            self.assertIn("notes.txt cannot be used as a static pod", kubelet.log_text())
            # a copy parked inside the manifest dir under another extension still runs
            kubelet.write_manifest("kube-scheduler.yaml.bak", harness.component_manifest(FX.component, port))
            kubelet.wait_running([FX.component], timeout=15)

    def test_sigkill_after_grace_period(self):
        script = "trap '' TERM; echo stubborn; while :; do sleep 0.1; done"
        manifest = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: stubborn\nspec:\n  containers:\n"
                    f"  - name: stubborn\n    command: [sh, -c, \"{script}\"]\n")
        with harness.KubeletStandin(FX.standin, grace="1s") as kubelet:
            kubelet.write_manifest("stubborn", manifest)
            pid = kubelet.wait_running(["sh", "-c"], timeout=15)
            harness.wait_until(lambda: "stubborn" in kubelet.pod_log("stubborn", "default"), 10, "trap installed")
            started = time.monotonic()
            kubelet.remove_manifest("stubborn")
            kubelet.wait_gone(pid, timeout=10)
            self.assertGreaterEqual(time.monotonic() - started, 0.9)
            self.assertIn("sending SIGKILL", kubelet.log_text())

    def test_sigterm_stops_all_children(self):
        port = harness.free_port()
        kubelet = harness.KubeletStandin(FX.standin).__enter__()
        try:
            kubelet.write_manifest("kube-scheduler", harness.component_manifest(FX.component, port))
            pid = kubelet.wait_running([FX.component], timeout=15)
        finally:
            code = kubelet.stop()
        self.assertEqual(code, 0)
        self.assertFalse(harness.pid_alive(pid))

    @staticmethod
    def _healthz_ok(port: int) -> bool:
        try:
            return healthz(port) == "ok"
        except OSError:
            return False


class DapClientTest(unittest.TestCase):
    """The client itself: bounded waits, strict framing, the seq check."""

    def pair(self):
        ours, theirs = socket.socketpair()
        self.addCleanup(theirs.close)
        client = DapClient(ours.makefile("rb", buffering=0), ours.makefile("wb", buffering=0), sock=ours)
        self.addCleanup(client.close)
        return client, theirs

    @staticmethod
    def frame(body: str, sep: bytes = b"\r\n") -> bytes:
        return b"Content-Length: %d" % len(body.encode()) + sep + sep + body.encode()

    def test_timeout_names_the_last_messages(self):
        client, adapter = self.pair()
        adapter.sendall(self.frame('{"seq": 1, "type": "event", "event": "initialized"}'))
        started = time.monotonic()
        with self.assertRaisesRegex(Exception, "(?s)no response to request seq 1 within 0.5s.*initialized"):
            client.request("threads", timeout=0.5)
        self.assertLess(time.monotonic() - started, 3)

    def test_response_events_and_seq_check(self):
        client, adapter = self.pair()
        adapter.sendall(self.frame('{"seq": 1, "type": "event", "event": "output", "body": {"output": "a"}}')
                        + self.frame('{"seq": 2, "type": "response", "request_seq": 1, "command": "threads",'
                                     ' "success": true, "body": {"threads": []}}')
                        + self.frame('{"seq": 2, "type": "event", "event": "output", "body": {"output": "b"}}'))
        self.assertEqual(client.request_ok("threads")["body"], {"threads": []})
        self.assertEqual(client.wait_output("ab", timeout=5), "ab")
        self.assertEqual(client.wait_event("output", timeout=5)["body"]["output"], "a")
        self.assertEqual(client.wait_event("output", timeout=5)["body"]["output"], "b")
        with self.assertRaisesRegex(AssertionError, "not strictly increasing"):
            client.assert_seq_strictly_increasing()

    def test_bare_lf_framing_is_a_protocol_error(self):
        client, adapter = self.pair()
        adapter.sendall(self.frame('{"seq": 1, "type": "event", "event": "initialized"}', sep=b"\n"))
        with self.assertRaisesRegex(Exception, "closed the stream"):
            client.wait_event("initialized", timeout=5)
        self.assertIn("CRLF", " ".join(client.protocol_errors))


class DlvDapTest(unittest.TestCase):
    """dlv's own DAP server, driven by DapClient: the path kdap relays."""

    def test_breakpoint_inspect_continue_disconnect(self):
        port = harness.free_port()
        src, line = harness.breakpoint_location()
        with harness.DlvHeadless(FX.component, harness.component_flags(port)) as dlv:
            self.assertEqual(harness.dlv_listen_addresses(dlv.pid), [("127.0.0.1", dlv.port)])
            debuggee = dlv.debuggee_pid()
            client = DapClient.connect(dlv.host, dlv.port)
            self.addCleanup(client.close)

            init = client.request_ok("initialize", {"clientID": "kdap-tests", "adapterID": "go",
                                                    "linesStartAt1": True, "columnsStartAt1": True,
                                                    "pathFormat": "path"})
            self.assertTrue(init["body"]["supportsConfigurationDoneRequest"])
            client.request_ok("attach", {"request": "attach", "mode": "remote"})
            client.wait_event("initialized", timeout=10)
            bps = client.request_ok("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": line}]})
            self.assertTrue(bps["body"]["breakpoints"][0]["verified"], bps)
            client.request_ok("configurationDone")

            stopped = client.wait_event("stopped", timeout=30)
            thread = stopped["body"]["threadId"]
            frame = harness.assert_stopped_in_reconcile(self, client, stopped)
            self.assertEqual(self._eval(client, frame, "cfg.SecurePort"), str(port))
            self.assertEqual(self._eval(client, frame, "cfg.Args[5]"), f'"--secure-port={port}"')

            client.request_ok("continue", {"threadId": thread})
            stopped = client.wait_event("stopped", timeout=30)
            self.assertEqual(stopped["body"]["reason"], "breakpoint")
            frame = self._top_frame(client, stopped["body"]["threadId"])
            self.assertEqual(self._eval(client, frame, "round"), "2")
            dlv.stdout.wait_for(r"^fake-component: round 1$", 10)  # debuggee output goes to dlv's stdout
            dlv.stderr.wait_for(r"^fake-component: starting pid=", 10)

            client.request_ok("disconnect", {"terminateDebuggee": True})
            client.wait_event("terminated", timeout=10)
            self.assertEqual(dlv.wait_exit(timeout=15), 0)
            harness.wait_until(lambda: not harness.pid_alive(debuggee), 10, "debuggee to exit")
            client.assert_seq_strictly_increasing()
            client.assert_no_protocol_errors()

    def test_dap_over_an_ssh_stdio_tunnel(self):
        """DapClient.spawn on `ssh -W 127.0.0.1:<dlv port>`: stdio -> SSH -> dlv, kdap's own path."""
        port = harness.free_port()
        src, line = harness.breakpoint_location()
        tmp = tempfile.mkdtemp(prefix="kdap-fixtures-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with harness.SshServer() as node, harness.DlvHeadless(FX.component, harness.component_flags(port)) as dlv:
            argv = node.ssh_argv()
            argv.insert(1, f"-W127.0.0.1:{dlv.port}")
            client = DapClient.spawn(argv, stderr_path=os.path.join(tmp, "ssh.stderr"),
                                     transcript_path=os.path.join(tmp, "dap.log"))
            self.addCleanup(client.close)
            client.request_ok("initialize", {"adapterID": "go", "linesStartAt1": True, "pathFormat": "path"})
            client.request_ok("attach", {"request": "attach", "mode": "remote"})
            client.wait_event("initialized", timeout=10)
            client.request_ok("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": line}]})
            client.request_ok("configurationDone")
            stopped = client.wait_event("stopped", timeout=30)
            frame = self._top_frame(client, stopped["body"]["threadId"])
            self.assertEqual(self._eval(client, frame, "cfg.SecurePort"), str(port))
            client.request_ok("disconnect", {"terminateDebuggee": True})
            self.assertEqual(dlv.wait_exit(timeout=15), 0)
            client.wait_closed(timeout=10)  # dlv closed the connection, so ssh ends
            self.assertEqual(client.wait_exit(timeout=10), 0)
            client.assert_seq_strictly_increasing()
            self.assertIn('"command": "disconnect"', Path(tmp, "dap.log").read_text())

    @staticmethod
    def _top_frame(client, thread):
        trace = client.request_ok("stackTrace", {"threadId": thread, "startFrame": 0, "levels": 20})
        return trace["body"]["stackFrames"][0]

    @staticmethod
    def _eval(client, frame, expr):
        return client.request_ok("evaluate", {"expression": expr, "frameId": frame["id"],
                                              "context": "watch"})["body"]["result"]


if __name__ == "__main__":
    unittest.main()
