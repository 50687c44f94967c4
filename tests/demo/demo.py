"""kdap's built-in demo: a Go component runs as a static pod on this machine (a kubelet stand-in runs the
manifest; a real sshd on loopback plays the node's SSH server). A scripted editor drives `kdap dap` through a
whole debug session — launch, breakpoint, variables, continue, disconnect — and the demo shows the node being
put back exactly as it was. Run through tests/tools/demo.sh, which installs and builds what it needs."""

import hashlib
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

import harness  # noqa: E402
from dap_client import DapClient  # noqa: E402


def say(who: str, text: str) -> None:
    print(f"{who:>8} | {text}", flush=True)


def sha(path: str) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]


def main() -> int:
    fx = harness.build_fixtures()
    port = harness.free_port()
    src, line = harness.breakpoint_location()
    tmp = tempfile.mkdtemp(prefix="kdap-demo-")
    with harness.SshServer() as ssh, harness.KubeletStandin(fx.standin) as kubelet:
        manifest = kubelet.write_manifest("kube-scheduler", harness.component_manifest(fx.component, port))
        pid = kubelet.wait_running(fx.component, timeout=30)
        before = sha(manifest)
        say("node", f"sshd listens on 127.0.0.1:{ssh.port}; the kubelet stand-in watches {kubelet.manifest_dir}")
        say("node", f"kube-scheduler runs from its static-pod manifest: pid {pid}, sha256 {before}…")

        client = DapClient.spawn([harness.kdap_bin(), "dap"], stderr_path=os.path.join(tmp, "kdap.log"))
        try:
            client.request_ok("initialize", {"clientID": "kdap-demo", "adapterID": "kdap", "linesStartAt1": True,
                                             "pathFormat": "path", "supportsProgressReporting": False})
            launch = {"target": "static-pod/kube-scheduler", "host": f"root@127.0.0.1:{ssh.port}",
                      "identityFile": ssh.identity_file, "knownHostsFile": ssh.known_hosts_file,
                      "manifestDir": kubelet.manifest_dir, "stateDir": os.path.join(tmp, "state")}
            say("editor", "launch " + json.dumps({k: launch[k] for k in ("target", "host")}))
            seq = client.send({"type": "request", "command": "launch", "arguments": launch})
            client.wait_event("initialized", timeout=120)
            for e in client.events("output"):
                say("kdap", e["body"]["output"].rstrip().removeprefix("kdap: "))
            bp = client.request_ok("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": line}]})
            say("editor", f"breakpoint at {os.path.basename(src)}:{line} verified={bp['body']['breakpoints'][0]['verified']}")
            client.request_ok("configurationDone")
            if not client.wait_response(seq, timeout=120)["success"]:
                raise SystemExit("launch failed")
            stopped = client.wait_event("stopped", timeout=60)
            thread = stopped["body"]["threadId"]
            frame = client.request_ok("stackTrace", {"threadId": thread, "levels": 1})["body"]["stackFrames"][0]
            say("editor", f"stopped ({stopped['body']['reason']}) in {frame['name']} at line {frame['line']}")
            for expr in ("round", "cfg.SecurePort", "cfg.LeaderElect", "cfg.Args"):
                value = client.request_ok("evaluate", {"expression": expr, "frameId": frame["id"],
                                                       "context": "repl"})["body"]["result"]
                say("editor", f"  {expr} = {value}")
            client.request_ok("continue", {"threadId": thread})
            stopped = client.wait_event("stopped", timeout=30)
            frame = client.request_ok("stackTrace", {"threadId": stopped["body"]["threadId"],
                                                     "levels": 1})["body"]["stackFrames"][0]
            value = client.request_ok("evaluate", {"expression": "round", "frameId": frame["id"]})["body"]["result"]
            say("editor", f"continue → stopped again, round = {value}")
            shown = len(client.events("output"))
            say("editor", "disconnect")
            client.request_ok("disconnect", timeout=120)
            for e in client.events("output")[shown:]:
                if e["body"].get("category") == "console":
                    say("kdap", e["body"]["output"].rstrip().removeprefix("kdap: "))
            client.wait_exit(timeout=30)
        finally:
            client.close()
        new_pid = kubelet.wait_running(fx.component, timeout=30)
        after = sha(manifest)
        say("node", f"manifest back in place: sha256 {after}… ({'identical' if after == before else 'DIFFERENT'})")
        say("node", f"kube-scheduler runs again from its manifest: pid {new_pid}")
        say("node", f"dlv processes left: {len([p for p in harness.all_pids() if 'dlv' in (harness.proc_cmdline(p) or [''])[0]])}")
        return 0 if after == before else 1


if __name__ == "__main__":
    sys.exit(main())
