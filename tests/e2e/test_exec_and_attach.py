"""Targets that park nothing: `exec` runs a program under dlv; `pid/<pid>` and `process/<name>` attach dlv to
a process that is already running and leave it running (same pid, no tracer) when the session ends, unless
the editor asks to terminate it. And `component: NAME` finds the kind by itself. Real sshd, real dlv.
Run: cd tests/e2e && python3 -m unittest -v test_exec_and_attach"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path

import harness
from kdap_session import StaticPodNode, dlv_pids, evaluate, initialize, launch_to_breakpoint, spawn_kdap

FX: harness.Fixtures


def setUpModule():
    global FX
    FX = harness.build_fixtures()


def tracer_of(pid: int) -> int:
    return int(harness._proc_status_field(pid, "TracerPid") or "0")


class RunningProcess:
    """The fake component started by the test as a plain process under a name of its own, so that
    process/<name> finds exactly it."""

    def __init__(self, test, tmp: str, name: str, binary: str = ""):
        self.binary = os.path.join(tmp, name)
        os.link(binary or FX.component, self.binary)
        self.out_path = os.path.join(tmp, name + ".out")
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen([self.binary, "--secure-port=0", "--v=1"], stdout=self.out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        test.addCleanup(self.stop)
        harness.wait_until(lambda: b"round 1" in Path(self.out_path).read_bytes(), 15, name + " to run")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rounds(self) -> int:
        return Path(self.out_path).read_bytes().count(b": round ")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.out.close()


class NoParkTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kdap-e2e-")
        if not os.environ.get("KDAP_E2E_KEEP"):
            self.addCleanup(shutil.rmtree, self.tmp, True)
        self.ssh = harness.SshServer()
        self.ssh.__enter__()
        self.addCleanup(self.ssh.stop)
        self.state_dir = os.path.join(self.tmp, "state")

    def launch_args(self, **extra) -> dict:
        args = {"host": f"{self.ssh.user}@127.0.0.1:{self.ssh.port}", "identityFile": self.ssh.identity_file,
                "knownHostsFile": self.ssh.known_hosts_file, "stateDir": self.state_dir}
        args.update(extra)
        return args

    def spawn(self, name="kdap"):
        client = spawn_kdap(self, self.tmp, name)
        initialize(client)
        return client

    def debug_to_breakpoint(self, client, launch: dict, round_=None) -> dict:
        return launch_to_breakpoint(self, client, launch, round_=round_, timeout=60)

    def assert_nothing_left(self):
        harness.wait_until(lambda: not dlv_pids(), 15, "dlv to be gone")
        sessions = os.path.join(self.state_dir, "sessions")
        self.assertEqual([e for e in os.listdir(sessions) if not e.endswith(".log")]
                         if os.path.isdir(sessions) else [], [])

    def test_exec_runs_the_program_with_its_args_and_leaves_nothing(self):
        args = ["--secure-port=0", "--v=2", "--config=/etc/demo/config.yaml"]
        client = self.spawn()
        frame = self.debug_to_breakpoint(client, self.launch_args(target="exec", program=FX.component, args=args),
                                         round_=1)
        self.assertEqual(evaluate(client, frame, "len(cfg.Args)"), str(len(args)))
        for i, arg in enumerate(args):
            self.assertEqual(evaluate(client, frame, f"cfg.Args[{i}]"), f'"{arg}"')
        [dlv] = dlv_pids()
        debuggee = [p for p in harness.children(dlv) if (harness.proc_cmdline(p) or [""])[0] == FX.component]
        self.assertEqual(len(debuggee), 1, [harness.proc_cmdline(p) for p in harness.children(dlv)])
        client.request_ok("disconnect", {}, timeout=60)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        self.assert_nothing_left()
        self.assertFalse(harness.pid_alive(debuggee[0]))
        client.assert_no_protocol_errors()

    def test_upload_program_checked_used_and_removed(self):
        local_sum = hashlib.sha256(Path(FX.component).read_bytes()).hexdigest()
        client = self.spawn()
        frame = self.debug_to_breakpoint(client, self.launch_args(target="exec", uploadProgram=FX.component,
                                                                  args=["--secure-port=0"]), round_=1)
        self.assertEqual(evaluate(client, frame, "cfg.Args[0]"), '"--secure-port=0"')
        client.wait_output(f"sha256 {local_sum} verified", timeout=5)
        [dlv] = dlv_pids()
        program = harness.proc_cmdline(dlv)[2]
        self.assertTrue(program.startswith(os.path.join(self.state_dir, "sessions")), program)
        self.assertEqual(hashlib.sha256(Path(program).read_bytes()).hexdigest(), local_sum)
        client.request_ok("disconnect", {}, timeout=60)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        self.assert_nothing_left()
        self.assertFalse(os.path.exists(program))

        # keepUpload: the copy stays in <stateDir>/uploads
        client = self.spawn("kdap-keep")
        self.debug_to_breakpoint(client, self.launch_args(target="exec", uploadProgram=FX.component,
                                                          keepUpload=True, args=["--secure-port=0"]), round_=1)
        client.request_ok("disconnect", {}, timeout=60)
        kept = os.path.join(self.state_dir, "uploads", "fake-component")
        self.assertEqual(hashlib.sha256(Path(kept).read_bytes()).hexdigest(), local_sum)
        self.assert_nothing_left()

    def test_automatic_substitute_path_for_a_binary_built_elsewhere(self):
        """The binary is built from a copy of the sources in another directory; the editor sets breakpoints in
        its own workspace (localRoot). kdap reads the build root from the binary on the node and maps it."""
        build_tree = os.path.join(self.tmp, "ci-checkout", "src", "fixtures")
        shutil.copytree(harness.FIXTURES_SRC, build_tree)
        binary = os.path.join(self.tmp, "fake-component-built-elsewhere")
        env = dict(os.environ, GOFLAGS="-mod=readonly -buildvcs=false", CGO_ENABLED="0")
        subprocess.run([harness.find_go(), "build", "-gcflags=all=-N -l", "-o", binary, "./cmd/fake-component"],
                       cwd=build_tree, env=env, check=True, timeout=600)
        src, line = harness.breakpoint_location()  # the editor's path, in the workspace
        self.assertFalse(src.startswith(build_tree))
        client = self.spawn()
        launch = self.launch_args(target="exec", program=binary, args=["--secure-port=0"],
                                  localRoot=str(harness.FIXTURES_SRC))
        frame = self.debug_to_breakpoint(client, launch, round_=1)  # verified and hit at the editor's path
        self.assertEqual(frame["source"]["path"], src)
        client.wait_output(f"source paths: {harness.FIXTURES_SRC} → {build_tree}", timeout=5)
        client.request_ok("disconnect", {}, timeout=60)
        self.assert_nothing_left()

        # without localRoot kdap maps nothing, and the editor's breakpoint cannot verify
        client = self.spawn("kdap-unmapped")
        seq = client.send({"type": "request", "command": "launch",
                           "arguments": self.launch_args(target="exec", program=binary, args=["--secure-port=0"])})
        client.wait_event("initialized", timeout=60)
        bps = client.request_ok("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": line}]})
        self.assertFalse(bps["body"]["breakpoints"][0]["verified"], bps)
        client.request_ok("configurationDone")
        self.assertTrue(client.wait_response(seq, timeout=60)["success"])
        client.request_ok("disconnect", {}, timeout=60)
        self.assert_nothing_left()

    def test_a_workspace_at_another_commit_than_the_build_is_named(self):
        """The binary records the commit it was built from (vcs.revision, here of a checkout of its own); the
        editor's workspace stands at another one. kdap says so, naming both, and debugging goes on."""
        workspace = subprocess.run(["git", "-C", str(harness.FIXTURES_SRC), "rev-parse", "HEAD"], capture_output=True,
                                   text=True)
        if workspace.returncode != 0:
            self.skipTest("the fixtures' sources are in no git work tree")
        checkout = os.path.join(self.tmp, "checkout")
        shutil.copytree(harness.FIXTURES_SRC, checkout)
        git = ["git", "-C", checkout, "-c", "user.name=kdap", "-c", "user.email=kdap@localhost"]
        for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "built"]):
            subprocess.run(git + step, check=True, timeout=60)
        built = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
        binary = os.path.join(self.tmp, "fake-component-with-vcs")
        env = dict(os.environ, GOFLAGS="-mod=readonly -buildvcs=true", CGO_ENABLED="0")
        subprocess.run([harness.find_go(), "build", "-gcflags=all=-N -l", "-o", binary, "./cmd/fake-component"],
                       cwd=checkout, env=env, check=True, timeout=600)
        client = self.spawn()
        launch = self.launch_args(target="exec", program=binary, args=["--secure-port=0"],
                                  localRoot=str(harness.FIXTURES_SRC))
        self.debug_to_breakpoint(client, launch, round_=1)  # the mapping still lets breakpoints verify
        client.wait_output(f"source revision: {binary} was built from commit {built[:12]}, but "
                           f"{harness.FIXTURES_SRC} is at {workspace.stdout.strip()[:12]}", timeout=5)
        client.request_ok("disconnect", {}, timeout=60)
        self.assert_nothing_left()

    def test_attach_by_pid_detaches_and_the_process_runs_on(self):
        target = RunningProcess(self, self.tmp, "kdap-attach-pid")
        client = self.spawn()
        frame = self.debug_to_breakpoint(client, self.launch_args(target=f"pid/{target.pid}"))
        self.assertEqual(evaluate(client, frame, "cfg.Args[0]"), '"--secure-port=0"')
        self.assertNotEqual(tracer_of(target.pid), 0)
        client.wait_output("attaching to pid " + str(target.pid), timeout=5)
        client.request_ok("disconnect", {}, timeout=60)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        self.assert_nothing_left()
        # same process, no longer traced, and it goes on with its rounds (breakpoints taken out)
        self.assertIsNone(target.proc.poll())
        self.assertEqual(tracer_of(target.pid), 0)
        before = target.rounds()
        harness.wait_until(lambda: target.rounds() >= before + 3, 10, "the process to go on running")
        self.assertIsNone(target.proc.poll())

    def test_attach_by_name_detaches_then_terminates_on_request(self):
        target = RunningProcess(self, self.tmp, "kdap-attach-name")
        client = self.spawn()
        self.debug_to_breakpoint(client, self.launch_args(target="process/kdap-attach-name"))
        client.request_ok("disconnect", {}, timeout=60)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        self.assert_nothing_left()
        self.assertIsNone(target.proc.poll())  # same pid, still running, untraced
        self.assertEqual(tracer_of(target.pid), 0)

        client = self.spawn("kdap-terminate")
        self.debug_to_breakpoint(client, self.launch_args(target="process/kdap-attach-name"))
        client.request_ok("disconnect", {"terminateDebuggee": True}, timeout=60)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        target.proc.wait(timeout=15)
        self.assert_nothing_left()

    def test_attached_process_survives_kdap_being_killed(self):
        target = RunningProcess(self, self.tmp, "kdap-attach-kill")
        client = self.spawn()
        self.debug_to_breakpoint(client, self.launch_args(target=f"pid/{target.pid}", guardKeepalive=5))
        os.kill(client.proc.pid, signal.SIGKILL)
        client.proc.wait(timeout=10)
        # the node guard stops dlv with SIGTERM, so dlv detaches and takes its breakpoints out
        harness.wait_until(lambda: not dlv_pids(), 20, "the guard to stop dlv")
        self.assertEqual(tracer_of(target.pid), 0)
        before = target.rounds()
        harness.wait_until(lambda: target.rounds() >= before + 3, 10, "the process to go on running")
        self.assertIsNone(target.proc.poll())

    def test_attach_errors_name_the_fix_and_touch_nothing(self):
        a = RunningProcess(self, self.tmp, "kdap-twin")
        twin_dir = os.path.join(self.tmp, "b")
        os.mkdir(twin_dir)
        b = RunningProcess(self, twin_dir, "kdap-twin")
        cases = [
            ({"target": "process/kdap-twin"}, [f"pid/{a.pid}", f"pid/{b.pid}", "say which"]),
            ({"target": "process/kdap-no-such-process"}, ["no process named kdap-no-such-process", "kdap ls"]),
            ({"target": "pid/abc"}, ["pid/ takes a process id"]),
            ({"target": "pid/4194300"}, ["no process with pid 4194300"]),
            ({"target": "exec"}, ["`program` is missing", "exec"]),
        ]
        for extra, words in cases:
            with self.subTest(extra=extra):
                client = self.spawn()
                response = client.request("launch", self.launch_args(**extra), timeout=30)
                self.assertFalse(response["success"], response)
                self.assertTrue(response["body"]["error"]["showUser"])
                for word in words:
                    self.assertIn(word, response["message"] + response["body"]["error"]["format"])
                client.request("disconnect", {})
                client.wait_exit(timeout=15)
        for p in (a, b):
            self.assertIsNone(p.proc.poll())
            self.assertEqual(tracer_of(p.pid), 0)
        self.assert_nothing_left()


class ListTest(unittest.TestCase):
    def test_ls_lists_static_pods_and_go_processes_with_their_debug_info(self):
        node = StaticPodNode(self, FX, ssh=True)
        stripped = RunningProcess(self, node.tmp, "kdap-ls-stripped", binary=FX.stripped)
        r = subprocess.run([harness.kdap_bin(), "ls", "--json", "--manifest-dir", node.kubelet.manifest_dir,
                            "--host", f"{node.ssh.user}@127.0.0.1:{node.ssh.port}",
                            "--identity-file", node.ssh.identity_file, "--known-hosts-file", node.ssh.known_hosts_file,
                            "--kubectl", "/nonexistent/kubectl"], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        listing = {c["target"]: c for c in json.loads(r.stdout)["components"]}
        pod = listing["static-pod/kube-scheduler"]
        self.assertEqual((pod["kind"], pod["pid"], pod["state"]), ("static-pod", node.component_pid, "running"))
        self.assertIs(pod["debugInfo"], True)
        self.assertIs(pod["optimizationsDisabled"], True)
        proc = listing["process/kdap-ls-stripped"]
        self.assertEqual((proc["pid"], proc["program"]), (stripped.pid, stripped.binary))
        self.assertIs(proc["debugInfo"], False)
        # the component is listed once, as its static pod, not again as a bare process
        self.assertNotIn("process/kube-scheduler", listing)
        self.assertIn("kubectl", " ".join(json.loads(r.stdout)["notes"]))
        node.assert_untouched()


class ComponentLookupTest(unittest.TestCase):
    def test_component_finds_the_static_pod(self):
        node = StaticPodNode(self, FX, ssh=False)
        client = node.spawn_kdap()
        initialize(client)
        launch = node.launch_args()
        del launch["target"]
        launch["component"] = "kube-scheduler"
        client.request_ok("launch", launch, timeout=90)
        client.request_ok("configurationDone")
        client.wait_output("kdap chose static-pod/kube-scheduler", timeout=5)
        self.assertFalse(os.path.exists(node.manifest))
        client.request_ok("disconnect", {}, timeout=60)
        node.assert_restored()

    def test_unknown_component_says_where_kdap_looked(self):
        node = StaticPodNode(self, FX, ssh=False)
        client = node.spawn_kdap()
        initialize(client)
        launch = node.launch_args(kubectl="/nonexistent/kubectl")
        del launch["target"]
        launch["component"] = "kube-nothing"
        response = client.request("launch", launch, timeout=60)
        self.assertFalse(response["success"])
        message = response["body"]["error"]["format"]
        for word in ("no component named kube-nothing", "kube-nothing.yaml", "kube-nothing.service",
                     "DaemonSet kube-system/kube-nothing", "kdap ls"):
            self.assertIn(word, message)
        node.assert_untouched()


if __name__ == "__main__":
    unittest.main()
