"""How kdap reaches a node (ssh config aliases, ssh-agent, refused keys) and how a session ends when something
other than the editor ends it (dlv dies, kdap gets SIGTERM). Real sshd, real dlv, real Go component.
Run: cd tests/e2e && python3 -m unittest -v test_ssh_and_faults"""

import os
import shlex
import signal
import subprocess
import unittest
from pathlib import Path

import harness
from kdap_session import StaticPodNode, dlv_pids, initialize

FX: harness.Fixtures


def setUpModule():
    global FX
    FX = harness.build_fixtures()


def session_without_identity_file(test, node, client, **launch):
    """A whole session where kdap must find the key itself (ssh config, agent)."""
    args = node.launch_args(**launch)
    del args["identityFile"]
    initialize(client)
    client.request_ok("launch", args, timeout=90)
    client.request_ok("configurationDone")
    test.assertFalse(os.path.exists(node.manifest))
    client.request_ok("disconnect", timeout=90)
    test.assertEqual(client.wait_exit(timeout=30), 0)
    node.assert_restored()


def expected_cipher():
    """kdap asks for AES-GCM first where the CPU has AES and carry-less multiply instructions, else ChaCha20."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
    if {"aes", "pclmulqdq"} <= flags or {"aes", "pmull"} <= flags:
        return "aes256-gcm@openssh.com"
    return "chacha20-poly1305@openssh.com"


class SshAccessTest(unittest.TestCase):
    def test_ssh_config_alias_supplies_hostname_port_user_and_key(self):
        node = StaticPodNode(self, FX, ssh=True)
        config = Path(node.tmp, "ssh_config")
        config.write_text(f"Host demo-node\n  HostName 127.0.0.1\n  Port {node.ssh.port}\n  User {node.ssh.user}\n"
                          f"  IdentityFile {node.ssh.identity_file}\n")
        client = node.spawn_kdap(env=dict(os.environ, HOME=node.tmp))  # no default keys, no agent
        session_without_identity_file(self, node, client, host="demo-node", sshConfigFile=str(config))
        self.assertIn(f"ssh: connected to {node.ssh.user}@127.0.0.1:{node.ssh.port} (cipher {expected_cipher()})",
                      node.kdap_log())

    def test_cipher_falls_back_to_what_sshd_allows_and_the_ssh_config_wins(self):
        node = StaticPodNode(self, FX, ssh=True, sshd_config=["Ciphers chacha20-poly1305@openssh.com,aes128-ctr"])
        client = node.start_session()
        client.request_ok("disconnect", timeout=90)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        node.assert_restored()
        self.assertIn("(cipher chacha20-poly1305@openssh.com)", node.kdap_log())

        config = Path(node.tmp, "ssh_config")
        config.write_text(f"Host ctr-node\n  HostName 127.0.0.1\n  Port {node.ssh.port}\n  User {node.ssh.user}\n"
                          f"  IdentityFile {node.ssh.identity_file}\n  Ciphers aes128-ctr\n")
        client = node.spawn_kdap("kdap-ctr", env=dict(os.environ, HOME=node.tmp))
        session_without_identity_file(self, node, client, host="ctr-node", sshConfigFile=str(config))
        self.assertIn("(cipher aes128-ctr)", node.kdap_log("kdap-ctr"))

    def test_proxy_command_through_a_jump_host(self):
        """A ProxyCommand (here `ssh -W` through a second sshd, what ProxyJump becomes) carries the connection; the
        node's host key and the login are still checked by kdap, against the node."""
        node = StaticPodNode(self, FX, ssh=True)
        jump = harness.SshServer()
        jump.__enter__()
        self.addCleanup(jump.stop)
        argv = harness.strict_ssh_argv(jump)
        proxy = shlex.join(argv[:-1] + ["-o", "BatchMode=yes", "-W", "%h:%p", argv[-1]])
        config = Path(node.tmp, "ssh_config")
        config.write_text(f"Host behind-jump\n  HostName 127.0.0.1\n  Port {node.ssh.port}\n  User {node.ssh.user}\n"
                          f"  IdentityFile {node.ssh.identity_file}\n  ProxyCommand {proxy}\n")
        client = node.spawn_kdap(env=dict(os.environ, HOME=node.tmp))
        session_without_identity_file(self, node, client, host="behind-jump", sshConfigFile=str(config))
        self.assertIn("through the ProxyCommand `ssh ", node.kdap_log())
        self.assertIn("Accepted publickey", jump.log_text())  # the jump host carried it: kdap never dials it itself

    def test_proxy_command_that_fails_says_why(self):
        node = StaticPodNode(self, FX, ssh=True)
        script = Path(node.tmp, "proxy.sh")
        script.write_text("#!/bin/sh\necho \"ssh: Could not resolve hostname jump.example: Name or service not "
                          "known\" >&2\nexit 255\n")
        script.chmod(0o755)
        config = Path(node.tmp, "ssh_config")
        config.write_text(f"Host behind-jump\n  HostName 127.0.0.1\n  Port {node.ssh.port}\n"
                          f"  ProxyCommand {script} %h %p\n")
        client = node.spawn_kdap(env=dict(os.environ, HOME=node.tmp))
        initialize(client)
        response = client.request("launch", node.launch_args(host="behind-jump", sshConfigFile=str(config)),
                                  timeout=60)
        self.assertFalse(response["success"], response)
        error = response["body"]["error"]
        self.assertTrue(error.get("showUser"), response)
        self.assertIn(f"ProxyCommand `{script} 127.0.0.1 {node.ssh.port}`", error["format"])
        self.assertIn("Could not resolve hostname jump.example", error["format"])  # the proxy's own words
        self.assertIn("Check the ProxyCommand or ProxyJump", error["format"])
        client.request_ok("disconnect", timeout=30)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        node.assert_untouched()

    def test_key_from_ssh_agent(self):
        node = StaticPodNode(self, FX, ssh=True)
        sock = os.path.join(node.tmp, "agent.sock")
        agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
        self.addCleanup(agent.kill)
        harness.wait_until(lambda: os.path.exists(sock), 10, "ssh-agent's socket")
        env = dict(os.environ, SSH_AUTH_SOCK=sock, HOME=node.tmp)
        subprocess.run(["ssh-add", node.ssh.identity_file], env=env, check=True, timeout=10,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        session_without_identity_file(self, node, node.spawn_kdap(env=env))

    def test_key_not_accepted(self):
        node = StaticPodNode(self, FX, ssh=True)
        other = os.path.join(node.tmp, "other_key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True, timeout=30)
        client = node.spawn_kdap(env=dict(os.environ, HOME=node.tmp))
        initialize(client)
        response = client.request("launch", node.launch_args(identityFile=other), timeout=60)
        self.assertFalse(response["success"])
        message = response["body"]["error"]["format"]
        self.assertIn("accepted no key", message)
        self.assertIn("authorized_keys", message)
        client.request_ok("disconnect", timeout=30)
        node.assert_untouched()


class FaultTest(unittest.TestCase):
    def test_dlv_killed_mid_session(self):
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session()
        [dlv] = dlv_pids()
        os.kill(dlv, signal.SIGKILL)
        client.wait_event("terminated", timeout=60)
        self.assertIn("dlv ended unexpectedly", client.output("important"))
        node.assert_restored()  # restored before the editor was told the session is over
        client.request_ok("disconnect", timeout=30)
        self.assertEqual(client.wait_exit(timeout=30), 0)
        client.assert_seq_strictly_increasing()

    def test_dlv_killed_while_its_debuggee_is_stopped(self):
        """A debuggee in a group-stop stays stopped when its tracer dies, keeping the component's ports: kdap ends
        the one it launched."""
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session()
        [dlv] = dlv_pids()
        [debuggee] = [p for p in harness.children(dlv) if harness.proc_cmdline(p)[0] == FX.component]
        os.kill(debuggee, signal.SIGSTOP)
        os.kill(dlv, signal.SIGKILL)
        client.wait_event("terminated", timeout=60)
        node.assert_restored()
        harness.wait_until(lambda: not harness.pid_alive(debuggee), 15, "the stopped debuggee to be ended")
        client.request_ok("disconnect", timeout=30)
        self.assertEqual(client.wait_exit(timeout=30), 0)

    def test_sigterm_restores_then_exits(self):
        node = StaticPodNode(self, FX, ssh=True)
        client = node.start_session()
        client.proc.send_signal(signal.SIGTERM)
        self.assertEqual(client.wait_exit(timeout=60), 0)
        node.assert_restored()
        self.assertIn("signal 15", node.kdap_log())
        self.assertEqual(dlv_pids(), [])


if __name__ == "__main__":
    unittest.main()
