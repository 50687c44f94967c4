"""How kdap runs its commands on a node over SSH: one long-lived /bin/sh runs the short ones, each in a subshell;
long-running ones (dlv, the guard) get channels whose login shell was started ahead of time. Real sshd; the node
layer is driven by kdap_node_runner (tests/tools/node_runner), which runs commands exactly as kdap does.
Run: cd tests/e2e && python3 -m unittest -v test_command_shell"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import harness


def runner_path() -> str:
    path = os.environ.get("KDAP_NODE_RUNNER") or os.path.join(os.path.dirname(harness.kdap_bin() or ""),
                                                              "kdap_node_runner")
    if not os.path.exists(path):
        raise unittest.SkipTest("kdap_node_runner is not built")
    return path


class NodeRunner:
    """kdap_node_runner connected to the test's sshd; run() sends one command and returns its answer."""

    def __init__(self, ssh: harness.SshServer, prepare: int = 0):
        self.proc = subprocess.Popen(
            [runner_path(), f"{ssh.user}@127.0.0.1:{ssh.port}", ssh.identity_file, ssh.known_hosts_file,
             str(prepare)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, command: str, input: str = "", timeout: float = 30, start: bool = False) -> dict:
        self.proc.stdin.write(json.dumps({"command": command, "input": input, "timeout": timeout,
                                          "start": start}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("kdap_node_runner ended: " + self.proc.stderr.read())
        return json.loads(line)

    def ok(self, command: str, **kw) -> dict:
        answer = self.run(command, **kw)
        if answer.get("error") or answer.get("status") != 0:
            raise AssertionError(f"{command!r} failed: {answer}")
        return answer

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.stdout.close()
            self.proc.stderr.close()


class CommandShellTest(unittest.TestCase):
    def setUp(self):
        self.ssh = harness.SshServer()
        self.ssh.__enter__()
        self.addCleanup(self.ssh.stop)
        self.node = NodeRunner(self.ssh)
        self.addCleanup(self.node.close)

    def shell_pid(self) -> str:
        return self.node.ok("echo $$")["out"]

    def test_one_shell_runs_every_short_command(self):
        pids = {self.shell_pid() for _ in range(5)}
        self.assertEqual(len(pids), 1, pids)
        # and it is a live process on the node, a child of this test's sshd
        pid = int(pids.pop())
        self.assertTrue(harness.pid_alive(pid))
        ancestors, p = [], pid
        while p and p > 1 and len(ancestors) < 6:
            p = harness.proc_ppid(p)
            ancestors.append(p)
        self.assertIn(self.ssh.pid, ancestors)

    def test_nothing_one_command_does_reaches_the_next(self):
        home = self.node.ok("pwd")["out"]
        self.node.ok("cd / && X=1 && export Y=2 && umask 077 && exit 0")
        after = self.node.ok('pwd; echo "${X:-unset} ${Y:-unset}"; umask')["out"]
        self.assertEqual(after.splitlines()[:2], [home.strip(), "unset unset"])
        self.assertNotEqual(after.splitlines()[2], "0077")

    def test_streams_and_exit_status_are_the_command_own(self):
        answer = self.node.run("printf abc; printf 'd\\ne' >&2; exit 3")
        self.assertEqual((answer["status"], answer["out"], answer["err"]), (3, "abc", "d\ne"))
        self.assertEqual(self.node.ok("printf 'a\\n\\n'")["out"], "a\n\n")
        self.assertEqual(self.node.ok("true")["out"], "")
        big = self.node.ok("head -c 3000000 /dev/zero | tr '\\0' a")["out"]
        self.assertEqual(len(big), 3000000)

    def test_input_reaches_the_command_byte_for_byte(self):
        pid = self.shell_pid()
        text = "line one\n$HOME `id` \\n 'q' \"d\"\nKDAP_IN_\nEOF\n\n"
        self.assertEqual(self.node.ok("cat", input=text)["out"], text)
        self.assertEqual(self.shell_pid(), pid)  # a here-document of the same shell, no channel of its own
        # input the shell cannot pass as a here-document goes through a channel of its own, still exact
        self.assertEqual(self.node.ok("cat", input="no newline at the end")["out"], "no newline at the end")
        # without input, a command that reads stdin sees its end at once
        self.assertEqual(self.node.ok("cat", timeout=5)["out"], "")

    def test_a_broken_command_leaves_the_shell_usable(self):
        pid = self.shell_pid()
        answer = self.node.run("if then fi (")
        self.assertNotEqual(answer.get("status"), 0)
        self.assertEqual(self.shell_pid(), pid)
        self.node.ok("exit 0")
        self.assertEqual(self.shell_pid(), pid)

    def test_a_command_past_its_timeout_is_abandoned_and_the_next_one_runs(self):
        pid = self.shell_pid()
        started = time.monotonic()
        # A process of its own in the background and one that ignores SIGTERM: neither may outlive the timeout.
        answer = self.node.run("sleep 20.25 & sh -c 'trap \"\" TERM; sleep 20.5'", timeout=0.5)
        self.assertIn("did not finish", answer.get("error", ""))
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(self.node.ok("echo after")["out"], "after\n")
        self.assertNotEqual(self.shell_pid(), pid)  # a new shell: the old one's state was unknown
        left = lambda: [p for p in harness.all_pids()
                        if (harness.proc_cmdline(p) or [])[:2] in (["sleep", "20.25"], ["sleep", "20.5"])
                        and harness.pid_alive(p)]
        harness.wait_until(lambda: not left(), 15, "the abandoned command's processes to be ended")
        self.assertFalse(harness.pid_alive(int(pid)))


class PreparedProcessTest(unittest.TestCase):
    def test_started_processes_use_prepared_channels_and_see_only_their_own_output(self):
        with harness.SshServer() as ssh:
            node = NodeRunner(ssh, prepare=2)
            try:
                node.ok("true")
                # the prepared login shells start in the background, one after the other (a login shell's rc
                # files may wait on a lock, as pyenv's rehash does while other shells run: a generous limit)
                spares = harness.wait_until(lambda: len(self._spare_shells()) == 2 and self._spare_shells(), 60,
                                            "two prepared shells")
                first = node.run("echo started $$; echo e >&2; exit 4", start=True)
                self.assertEqual(first["status"], 4)
                self.assertRegex(first["out"], r"^started \d+\n$")
                self.assertEqual(first["err"], "e\n")
                self.assertIn(int(first["out"].split()[1]), spares)  # it ran in a prepared channel
                self.assertEqual(len(self._spare_shells()), 1)
            finally:
                node.close()
            # the unused spare ends with the connection, and runs nothing
            harness.wait_until(lambda: not self._spare_shells(), 15, "the spare shell to end")

    def test_a_process_started_while_its_prepared_channel_starts_waits_for_it(self):
        """A new channel would start a login shell from scratch, never sooner than the prepared one."""
        home = tempfile.mkdtemp(prefix="kdap-slow-login-")
        self.addCleanup(shutil.rmtree, home, True)
        Path(home, ".bashrc").write_text("sleep 1\n")  # a login shell with slow rc files
        with harness.SshServer(extra_config=[f"SetEnv HOME={home}"]) as ssh:
            node = NodeRunner(ssh, prepare=1)
            try:
                # at once: the prepared channel's login shell is still in its rc file
                answer = node.run("""x=$(tr '\\0' ' ' </proc/$$/cmdline); case "$x" in """
                                  """*"kdap-spare-"ready*) echo prepared;; *) echo new;; esac""", start=True)
                self.assertEqual(answer.get("status"), 0, answer)
                self.assertEqual(answer["out"], "prepared\n")
            finally:
                node.close()

    def test_a_prepared_channel_runs_any_command_text_whole(self):
        """The line that hands a prepared channel its command is random: no line of the command can end it."""
        with harness.SshServer() as ssh:
            node = NodeRunner(ssh, prepare=1)
            try:
                answer = node.run("cat <<'EOF'\nKDAP-GO\nkdap-spare-ready\nEOF\necho done", start=True)
                self.assertEqual(answer.get("status"), 0, answer)
                self.assertEqual(answer["out"], "KDAP-GO\nkdap-spare-ready\ndone\n")
            finally:
                node.close()

    @staticmethod
    def _spare_shells() -> list[int]:
        return [p for p in harness.all_pids()
                if (argv := harness.proc_cmdline(p)) and len(argv) >= 3 and argv[0] == "/bin/sh"
                and "kdap-spare-ready" in argv[2]]


if __name__ == "__main__":
    unittest.main()
