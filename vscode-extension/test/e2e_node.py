#!/usr/bin/env python3
"""A kubeadm-like node for the extension's end-to-end test, built from tests/e2e/harness.py: a real sshd on
127.0.0.1, the kubelet stand-in running the fake Go component (debug build) from a kube-scheduler manifest.

Protocol (one JSON object per line on stdout; everything else this process or its children print goes to
stderr):
  - once the component runs: {"launch": {...}, "breakpoint": {"path": ..., "line": ...}, "manifest": ...,
    "sha256": ..., "componentPid": ..., "componentArgs": [...], "tmp": ...}
    or {"error": "..."} (and exit 1) when the node cannot be set up;
  - for each line "check" on stdin: {"manifestExists", "sha256", "modeOwnerSame", "manifests", "componentPid",
    "componentArgs", "dlvLeft", "parked"}; waits up to 30 s for the component to run again;
  - stdin closed (or SIGTERM): stops everything and removes the temp dirs.

Environment: KDAP_FIXTURE_DIR (default <repo>/build/fixtures), and harness.py's KDAP_GO, KDAP_DLV.
"""

import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

EXT_ROOT = Path(__file__).resolve().parents[1]
REPO_ROOT = EXT_ROOT.parent
sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))

import harness  # noqa: E402

# Our protocol owns the real stdout; fd 1 becomes stderr so that nothing else (go build, sshd) can write to it.
_out = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr


def emit(obj) -> None:
    _out.write(json.dumps(obj) + "\n")
    _out.flush()


def sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def dlv_pids() -> list:
    return [p for p in harness.all_pids()
            if (argv := harness.proc_cmdline(p)) and os.path.basename(argv[0]) == "dlv" and "--headless" in argv]


def _terminate(_signum, _frame):
    raise SystemExit(143)


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    fixture_dir = os.environ.get("KDAP_FIXTURE_DIR") or str(REPO_ROOT / "build" / "fixtures")
    tmp = tempfile.mkdtemp(prefix="kdap-vscode-e2e-")
    try:
        try:
            fx = harness.build_fixtures(fixture_dir)
            ssh = harness.SshServer().__enter__()
        except Exception as e:  # noqa: BLE001 - reported to the test as is
            emit({"error": f"could not set up the node: {type(e).__name__}: {e}"})
            return 1
        try:
            kubelet = harness.KubeletStandin(fx.standin).__enter__()
            try:
                return serve(fx, ssh, kubelet, tmp)
            finally:
                kubelet.stop()
        finally:
            ssh.stop()
    finally:
        if not os.environ.get("KDAP_E2E_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)


def serve(fx, ssh, kubelet, tmp) -> int:
    port = harness.free_port()
    manifest = kubelet.write_manifest("kube-scheduler", harness.component_manifest(fx.component, port))
    original_sha = sha256(manifest)
    st = os.stat(manifest)
    original_mode_owner = (st.st_mode, st.st_uid, st.st_gid)
    try:
        pid = kubelet.wait_running(fx.component, timeout=30)
    except TimeoutError as e:
        emit({"error": str(e)})
        return 1
    state_dir = os.path.join(tmp, "state")
    src, line = harness.breakpoint_location()
    emit({
        "launch": {
            "host": f"{ssh.user}@127.0.0.1:{ssh.port}",
            "identityFile": ssh.identity_file,
            "knownHostsFile": ssh.known_hosts_file,
            "target": "static-pod/kube-scheduler",
            "manifestDir": kubelet.manifest_dir,
            "stateDir": state_dir,
            "stopTimeout": 30,
            "startTimeout": 30,
        },
        "breakpoint": {"path": src, "line": line},
        "manifest": manifest,
        "sha256": original_sha,
        "componentPid": pid,
        "componentArgs": harness.component_flags(port),
        "tmp": tmp,
    })
    for request in sys.stdin:
        if request.strip() != "check":
            emit({"error": f"unknown request {request.strip()!r}; send 'check' or close stdin"})
            continue
        exists = os.path.exists(manifest)
        status = {
            "manifestExists": exists,
            "sha256": sha256(manifest) if exists else None,
            "modeOwnerSame": exists and (lambda s: (s.st_mode, s.st_uid, s.st_gid))(os.stat(manifest)) == original_mode_owner,
            "manifests": sorted(os.listdir(kubelet.manifest_dir)),
            "componentPid": None,
            "componentArgs": None,
        }
        try:
            running = kubelet.wait_running(fx.component, timeout=30)
            status["componentPid"] = running
            status["componentArgs"] = (harness.proc_cmdline(running) or [None])[1:]
        except TimeoutError:
            pass
        try:
            harness.wait_until(lambda: not dlv_pids(), 15, "dlv to be gone")
        except TimeoutError:
            pass
        status["dlvLeft"] = dlv_pids()
        parked = os.path.join(state_dir, "parked")
        status["parked"] = sorted(os.listdir(parked)) if os.path.isdir(parked) else []
        emit(status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
