"""Reusable fixtures for kdap's end-to-end tests (Python stdlib only).

Real parts, no mocks: a real sshd on 127.0.0.1, real Delve, real Go programs built with
`-gcflags=all=-N -l`. The one stand-in is the kubelet (tests/fixtures/go/cmd/kubelet-standin).
Every wait here is bounded; helpers raise TimeoutError (or DapTimeout) rather than hang.

Environment read:
  KDAP_FIXTURE_DIR  where the Go fixtures are built (default: <repo>/build/fixtures)
  KDAP_BIN          the kdap binary (set by ctest when the target exists)
  KDAP_GO, KDAP_DLV override the go and dlv executables
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, TypeVar, Union

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_SRC = REPO_ROOT / "tests" / "fixtures" / "go"
COMPONENT_SOURCE = FIXTURES_SRC / "cmd" / "fake-component" / "main.go"
BREAKPOINT_MARKER = "// kdap-test: breakpoint"
LOOPBACK = "127.0.0.1"

T = TypeVar("T")
Match = Union[str, Sequence[str]]  # a program name, or an argv prefix


# ----------------------------------------------------------------------------- small helpers

def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Polls predicate until it returns something truthy, which is returned; TimeoutError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (callers retry if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def kdap_bin() -> Optional[str]:
    """The kdap binary from KDAP_BIN, or None when it is not set or not built."""
    path = os.environ.get("KDAP_BIN")
    return path if path and os.access(path, os.X_OK) else None


def dlv_path() -> str:
    return os.environ.get("KDAP_DLV") or shutil.which("dlv") or "/usr/local/bin/dlv"


def breakpoint_location() -> tuple[str, int]:
    """(absolute source path, 1-based line) of the line in fake-component's reconcile() that ends
    with the marker comment `// kdap-test: breakpoint`. The path is the one in the binary's DWARF
    when the fixtures are built from this checkout (no -trimpath)."""
    lines = COMPONENT_SOURCE.read_text().splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith(BREAKPOINT_MARKER)]
    if len(hits) != 1:
        raise AssertionError(f"expected one breakpoint marker in {COMPONENT_SOURCE}, found {hits}")
    return str(COMPONENT_SOURCE), hits[0]


# ----------------------------------------------------------------------------- /proc

def assert_stopped_in_reconcile(test, client, stopped: dict, round_: Optional[int] = 1) -> dict:
    """The fake component stopped at its marked breakpoint: the top frame is main.reconcile at the marked
    line, with cfg and round among its locals (round_ None: any round, for a process attached to midway).
    Returns the frame."""
    src, line = breakpoint_location()
    test.assertEqual(stopped["body"]["reason"], "breakpoint")
    trace = client.request_ok("stackTrace", {"threadId": stopped["body"]["threadId"], "startFrame": 0, "levels": 20})
    frame = trace["body"]["stackFrames"][0]
    test.assertEqual(frame["name"], "main.reconcile")
    test.assertEqual((frame["source"]["path"], frame["line"]), (src, line))
    scopes = client.request_ok("scopes", {"frameId": frame["id"]})["body"]["scopes"]
    local = client.request_ok("variables", {"variablesReference": scopes[0]["variablesReference"]})
    names = {v["name"]: v for v in local["body"]["variables"]}
    test.assertIn("cfg", names)
    if round_ is None:
        test.assertGreater(int(names["round"]["value"]), 0)
    else:
        test.assertEqual(names["round"]["value"], str(round_))
    return frame


def proc_cmdline(pid: int) -> Optional[list[str]]:
    """argv of a live (non-zombie) process, or None."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    if not raw or proc_state(pid) in (None, "Z", "X"):
        return None
    return [a.decode("utf-8", "replace") for a in raw.rstrip(b"\0").split(b"\0")]


def _proc_status_field(pid: int, field: str) -> Optional[str]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def proc_state(pid: int) -> Optional[str]:
    """One-letter state (R, S, t, Z, ...), or None when the process is gone."""
    state = _proc_status_field(pid, "State")
    return state[0] if state else None


def proc_ppid(pid: int) -> Optional[int]:
    ppid = _proc_status_field(pid, "PPid")
    return int(ppid) if ppid else None


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    return proc_state(pid) not in (None, "Z", "X")


def proc_environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    env = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.decode("utf-8", "replace").split("=", 1)
            env[k] = v
    return env


def proc_cwd(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/cwd")


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def children(pid: int) -> list[int]:
    return [p for p in all_pids() if proc_ppid(p) == pid and pid_alive(p)]


def descendants(pid: int) -> list[int]:
    """Live descendants of pid, parents before children."""
    by_parent: dict[int, list[int]] = {}
    for p in all_pids():
        pp = proc_ppid(p)
        if pp is not None and pid_alive(p):
            by_parent.setdefault(pp, []).append(p)
    out, todo = [], [pid]
    while todo:
        for child in by_parent.get(todo.pop(0), []):
            out.append(child)
            todo.append(child)
    return out


def argv_matches(argv: Sequence[str], match: Match) -> bool:
    """A str matches argv[0] or its basename; a list/tuple matches as an argv prefix."""
    if not argv:
        return False
    if isinstance(match, str):
        return argv[0] == match or os.path.basename(argv[0]) == os.path.basename(match)
    return list(argv[: len(match)]) == list(match)


def find_pids(match: Match, parent: Optional[int] = None) -> list[int]:
    """Live processes whose argv matches (see argv_matches), optionally only children of parent."""
    pids = children(parent) if parent is not None else all_pids()
    return [p for p in pids if argv_matches(proc_cmdline(p) or [], match)]


def kill_tree(pid: int, grace: float = 3.0) -> None:
    """SIGTERM pid and all its descendants, SIGKILL whatever is left after grace seconds."""
    tree = [pid] + descendants(pid)
    for p in tree:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in tree):
        time.sleep(0.05)
    for p in tree:
        if pid_alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _hex_to_ip(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    # /proc/net/tcp{,6} print each 32-bit word in host (little-endian) order.
    fixed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(fixed))


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """The TCP sockets in LISTEN state owned by pid, as (ip, port), read from /proc/PID/net/tcp{,6}
    (the process's own network namespace) and /proc/PID/fd."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            m = re.fullmatch(r"socket:\[(\d+)\]", target)
            if m:
                inodes.add(m.group(1))
    except OSError:
        return []
    found = []
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and inode in inodes:  # 0A = TCP_LISTEN
                addr, port = local.split(":")
                found.append((_hex_to_ip(addr), int(port, 16)))
    return sorted(found)


dlv_listen_addresses = listening_addresses


# ----------------------------------------------------------------------------- output collection

class LineCollector:
    """Reads a byte stream line by line on a thread; lines can be awaited with a timeout."""

    def __init__(self, stream, tee_path: Optional[str] = None):
        self.lines: list[str] = []
        self.eof = False
        self._cond = threading.Condition()
        self._tee = open(tee_path, "a", encoding="utf-8") if tee_path else None
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream) -> None:
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if self._tee:
                    self._tee.write(line + "\n")
                    self._tee.flush()
                with self._cond:
                    self.lines.append(line)
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass
            if self._tee:
                self._tee.close()
            with self._cond:
                self.eof = True
                self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float, start: int = 0) -> re.Match:
        """The first regex match in a line at index >= start; TimeoutError after timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    break
                self._cond.wait(min(left, 0.5))
        tail = "\n".join(self.lines[-10:])
        raise TimeoutError(f"no line matching {pattern!r} within {timeout}s (eof={self.eof}); last lines:\n{tail}")

    def text(self) -> str:
        with self._cond:
            return "\n".join(self.lines)


# ----------------------------------------------------------------------------- Go fixtures

@dataclass(frozen=True)
class Fixtures:
    component: str  # fake-component, built with -gcflags=all=-N -l
    standin: str  # kubelet-standin
    bin_dir: str  # holds "kube-scheduler", a hard link to component; put it first in PATH
    scheduler: str  # bin_dir/kube-scheduler
    stripped: str  # fake-component built with -ldflags "-s -w" (no DWARF): kdap must refuse it
    optimized: str  # fake-component built without -gcflags: kdap warns, the session goes on


def fixture_dir() -> str:
    return os.environ.get("KDAP_FIXTURE_DIR") or str(REPO_ROOT / "build" / "fixtures")


def find_go() -> str:
    go = os.environ.get("KDAP_GO") or shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        raise RuntimeError("go not found: install Go >= 1.26 (tests/tools/install-deps.sh) or set KDAP_GO")
    return go


def _sources_digest(go: str) -> str:
    h = hashlib.sha256()
    for path in sorted(FIXTURES_SRC.rglob("*")):
        if path.is_file() and (path.suffix == ".go" or path.name in ("go.mod", "go.sum")):
            h.update(str(path.relative_to(FIXTURES_SRC)).encode() + b"\0" + path.read_bytes() + b"\0")
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60).stdout
    h.update(version.encode())
    h.update(str(FIXTURES_SRC).encode())  # DWARF holds absolute source paths
    h.update(b"builds: debug, stripped, optimized")  # a new build variant must rebuild
    return h.hexdigest()


def build_fixtures(out_dir: Optional[str] = None, timeout: float = 600) -> Fixtures:
    """Builds fake-component and kubelet-standin into out_dir (default fixture_dir()) once; later
    calls, also from other processes, reuse them while the Go sources are unchanged."""
    out = Path(out_dir or fixture_dir())
    out.mkdir(parents=True, exist_ok=True)
    fx = Fixtures(component=str(out / "fake-component"), standin=str(out / "kubelet-standin"),
                  bin_dir=str(out / "bin"), scheduler=str(out / "bin" / "kube-scheduler"),
                  stripped=str(out / "fake-component-stripped"), optimized=str(out / "fake-component-optimized"))
    builds = [("fake-component", "fake-component", ["-gcflags=all=-N -l"]),
              ("kubelet-standin", "kubelet-standin", ["-gcflags=all=-N -l"]),
              ("fake-component-stripped", "fake-component", ["-gcflags=all=-N -l", "-ldflags=-s -w"]),
              ("fake-component-optimized", "fake-component", [])]
    go = find_go()
    env = dict(os.environ, GOFLAGS="-mod=readonly -buildvcs=false", CGO_ENABLED="0")
    if "HOME" not in env and "GOCACHE" not in env:
        env["GOCACHE"] = str(out / ".gocache")
        env["GOPATH"] = str(out / ".gopath")
    with open(out / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # serializes concurrent test processes
        digest = _sources_digest(go)
        stamp = out / ".build.stamp"
        fresh = (stamp.exists() and stamp.read_text() == digest
                 and all(os.access(out / name, os.X_OK) for name, _, _ in builds))
        if not fresh:
            for name, package, flags in builds:
                tmp = out / f".{name}.tmp"
                subprocess.run([go, "build", *flags, "-o", str(tmp), f"./cmd/{package}"],
                               cwd=FIXTURES_SRC, env=env, check=True, timeout=timeout)
                os.replace(tmp, out / name)
            stamp.write_text(digest)
        os.makedirs(fx.bin_dir, exist_ok=True)
        if not (os.path.exists(fx.scheduler) and os.path.samefile(fx.scheduler, fx.component)):
            tmp_link = fx.scheduler + ".tmp"
            if os.path.lexists(tmp_link):
                os.unlink(tmp_link)
            os.link(fx.component, tmp_link)
            os.replace(tmp_link, fx.scheduler)
    return fx


# ----------------------------------------------------------------------------- sshd

def ssh_banner_answers(host: str, port: int) -> bool:
    """An SSH server on host:port greets with its version banner (so it is up, not just its port bound)."""
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(64).startswith(b"SSH-2.0-")
    except OSError:
        return False


def strict_ssh_argv(node, *remote: str, known_hosts: Optional[str] = None) -> list[str]:
    """An OpenSSH command line for a test node (anything with identity_file, port, known_hosts_file, user and
    host) with strict host key checking and nothing from the user's own ssh configuration."""
    return ["ssh", "-F", "/dev/null", "-i", node.identity_file, "-p", str(node.port),
            "-o", f"UserKnownHostsFile={known_hosts or node.known_hosts_file}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
            f"{node.user}@{node.host}", *remote]


def _keygen(path: Path, comment: str) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, timeout=30, stdin=subprocess.DEVNULL)
    return Path(str(path) + ".pub").read_text().strip()


class SshServer:
    """A real sshd on 127.0.0.1 with fresh host and user keys in a temp dir.

        with SshServer() as node:
            subprocess.run(node.ssh_argv("true"), check=True, timeout=30)

    Attributes: host, port, user, identity_file, known_hosts_file, dir, log_path, pid.
    Several may run at once (each has its own port, keys, pid file)."""

    SSHD = "/usr/sbin/sshd"
    SSHD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # as systemd starts it

    def __init__(self, user: Optional[str] = None, extra_config: Iterable[str] = (), start_timeout: float = 15):
        import pwd
        self.host = LOOPBACK
        self.user = user or pwd.getpwuid(os.getuid()).pw_name
        self.extra_config = list(extra_config)
        self.start_timeout = start_timeout
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> "SshServer":
        self.dir = Path(tempfile.mkdtemp(prefix="kdap-sshd-"))
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self) -> None:
        d = self.dir
        self.host_key = d / "host_key"
        self.host_key_pub = _keygen(self.host_key, "kdap-test-host")
        self.identity_file = str(d / "id_ed25519")
        user_pub = _keygen(Path(self.identity_file), "kdap-test-user")
        (d / "authorized_keys").write_text(user_pub + "\n")
        os.chmod(d, 0o755)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation directory
        self.log_path = str(d / "sshd.log")
        for _attempt in range(5):
            self.port = free_port()
            (d / "sshd_config").write_text("\n".join([
                f"Port {self.port}",
                f"ListenAddress {LOOPBACK}",
                f"HostKey {self.host_key}",
                f"AuthorizedKeysFile {d / 'authorized_keys'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",
                "AllowTcpForwarding yes",
                f"PidFile {d / 'sshd.pid'}",
                "UsePAM no",
                "LogLevel VERBOSE",
                "Subsystem sftp internal-sftp",
                *self.extra_config,
            ]) + "\n")
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen([self.SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             start_new_session=True, env={"PATH": self.SSHD_PATH})
            if self._wait_ready():
                break
            self._stop_listener()
        else:
            raise RuntimeError(f"sshd did not start; log:\n{Path(self.log_path).read_text()[-2000:]}")
        self.known_hosts_file = str(d / "known_hosts")
        Path(self.known_hosts_file).write_text(self.known_hosts_line(self.host_key_pub))

    def _wait_ready(self) -> bool:
        """True once sshd answers with an SSH banner; False if it exited (e.g. port taken)."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if ssh_banner_answers(self.host, self.port):
                return True
            time.sleep(0.05)
        return False

    def known_hosts_line(self, pub: str) -> str:
        key_type, key = pub.split()[:2]
        return f"[{self.host}]:{self.port} {key_type} {key}\n"

    def wrong_known_hosts(self) -> str:
        """Writes and returns a known_hosts that has another key for [127.0.0.1]:PORT."""
        other = self.dir / f"other_host_key_{time.monotonic_ns()}"
        path = self.dir / f"known_hosts.wrong.{other.name}"
        path.write_text(self.known_hosts_line(_keygen(other, "kdap-test-wrong-host")))
        return str(path)

    def ssh_argv(self, *remote: str, known_hosts: Optional[str] = None) -> list[str]:
        return strict_ssh_argv(self, *remote, known_hosts=known_hosts)

    def run(self, remote: str, timeout: float = 30, known_hosts: Optional[str] = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.ssh_argv(remote, known_hosts=known_hosts), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def sessions(self) -> list[int]:
        """Live processes under sshd (per-connection sshd processes and what they run)."""
        return descendants(self.pid) if self.proc and self.proc.poll() is None else []

    def log_text(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def _stop_listener(self) -> None:
        if self.proc and self.proc.poll() is None:
            kill_tree(self.proc.pid)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def stop(self) -> None:
        """Kills sshd and everything running under it; removes the temp dir."""
        self._stop_listener()
        if getattr(self, "dir", None) and not os.environ.get("KDAP_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)


# ----------------------------------------------------------------------------- kubelet stand-in

class KubeletStandin:
    """Runs tests/fixtures/go/cmd/kubelet-standin (a STAND-IN for the kubelet) on a temp manifest
    dir, <tmp>/etc/kubernetes/manifests. Pod output goes to <tmp>/pods/<namespace>_<name>.log."""

    def __init__(self, binary: str, manifest_dir: Optional[str] = None, poll: str = "200ms", grace: str = "5s",
                 restart_delay: str = "1s", path_prepend: Sequence[str] = (), env: Optional[dict] = None):
        self.binary = binary
        self.poll, self.grace, self.restart_delay = poll, grace, restart_delay
        self.path_prepend = list(path_prepend)
        self.extra_env = env or {}
        self._manifest_dir = manifest_dir
        self.proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> "KubeletStandin":
        self.dir = Path(tempfile.mkdtemp(prefix="kdap-kubelet-"))
        self.manifest_dir = self._manifest_dir or str(self.dir / "etc" / "kubernetes" / "manifests")
        os.makedirs(self.manifest_dir, exist_ok=True)
        self.log_dir = str(self.dir / "pods")
        os.makedirs(self.log_dir)
        self.stderr_path = str(self.dir / "kubelet-standin.log")
        env = dict(os.environ, **self.extra_env)
        if self.path_prepend:
            env["PATH"] = os.pathsep.join(self.path_prepend + [env.get("PATH", "")])
        with open(self.stderr_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--manifest-dir", self.manifest_dir, "--poll", self.poll, "--grace", self.grace,
                 "--restart-delay", self.restart_delay, "--log-dir", self.log_dir],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        wait_until(lambda: "STAND-IN for the kubelet" in self.log_text() or self.proc.poll() is not None,
                   10, "kubelet-standin to start")
        if self.proc.poll() is not None:
            raise RuntimeError(f"kubelet-standin exited at start:\n{self.log_text()}")
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self, timeout: float = 15) -> Optional[int]:
        """SIGTERM (the stand-in stops its pods), SIGKILL of the whole tree after timeout."""
        code = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_tree(self.proc.pid, grace=0.5)
                code = self.proc.wait(timeout=5)
        elif self.proc:
            code = self.proc.returncode
        if getattr(self, "dir", None) and not os.environ.get("KDAP_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return code

    def manifest_path(self, name: str) -> str:
        return os.path.join(self.manifest_dir, name if "." in name else name + ".yaml")

    def write_manifest(self, name: str, yaml_text: str) -> str:
        """Writes <manifest_dir>/<name>.yaml atomically (temp dotfile, then rename); returns its path."""
        path = self.manifest_path(name)
        tmp = os.path.join(self.manifest_dir, f".{os.path.basename(path)}.tmp")
        with open(tmp, "w") as f:
            f.write(yaml_text)
        os.replace(tmp, path)
        return path

    def remove_manifest(self, name: str) -> None:
        os.unlink(self.manifest_path(name))

    def running(self, match: Match) -> list[int]:
        """Live children of the stand-in whose argv matches (a name, or an argv prefix)."""
        return find_pids(match, parent=self.pid)

    def wait_running(self, match: Match, timeout: float = 15, not_pid: Optional[int] = None) -> int:
        """Waits for a child of the stand-in matching match (other than not_pid); returns its pid."""
        def find():
            pids = [p for p in self.running(match) if p != not_pid]
            return pids[0] if pids else None
        try:
            return wait_until(find, timeout, f"a process matching {match!r} under kubelet-standin")
        except TimeoutError as e:
            raise TimeoutError(f"{e}\nkubelet-standin log:\n{self.log_text()[-3000:]}") from None

    def wait_gone(self, match_or_pid: Union[Match, int], timeout: float = 15) -> None:
        """Waits until the pid, or every child of the stand-in matching match, has exited."""
        if isinstance(match_or_pid, int):
            done = lambda: not pid_alive(match_or_pid)  # noqa: E731
        else:
            done = lambda: not self.running(match_or_pid)  # noqa: E731
        try:
            wait_until(done, timeout, f"{match_or_pid!r} to be gone")
        except TimeoutError as e:
            raise TimeoutError(f"{e}\nkubelet-standin log:\n{self.log_text()[-3000:]}") from None

    def log_text(self) -> str:
        return Path(self.stderr_path).read_text(errors="replace")

    def pod_log(self, name: str, namespace: str = "kube-system") -> str:
        path = Path(self.log_dir) / f"{namespace}_{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


# ----------------------------------------------------------------------------- manifests

_PLAIN = re.compile(r"^[A-Za-z0-9_./=:,@+-]+$")


def yaml_str(value: str) -> str:
    """A YAML scalar for value: plain when safe, otherwise double-quoted (JSON escaping is valid YAML)."""
    import json
    if value and _PLAIN.match(value) and not value.startswith(("-", ":")) and value not in ("true", "false", "null"):
        return value
    return json.dumps(value)


def component_manifest(binary_path: str, port: int, *, name: str = "kube-scheduler",
                       command0: Optional[str] = None, kubeconfig: str = "/etc/kubernetes/scheduler.conf",
                       verbosity: Optional[int] = None, extra_args: Sequence[str] = (),
                       env: Optional[dict] = None, working_dir: Optional[str] = None) -> str:
    """A kubeadm-style static-pod manifest (kube-scheduler shape) that runs the fake component.
    command[0] is command0 if given (e.g. "kube-scheduler", found through PATH), else binary_path.
    The process's argv[1:] is component_flags(port, ...), in kubeadm's sorted order."""
    command = [command0 or binary_path] + component_flags(port, kubeconfig=kubeconfig, verbosity=verbosity,
                                                           extra_args=extra_args)
    cmd_yaml = "\n".join(f"    - {yaml_str(a)}" for a in command)
    env_yaml = ""
    if env:
        env_yaml = "    env:\n" + "".join(
            f"    - name: {yaml_str(k)}\n      value: {yaml_str(v)}\n" for k, v in env.items())
    wd_yaml = f"    workingDir: {yaml_str(working_dir)}\n" if working_dir else ""
    return f"""apiVersion: v1
kind: Pod
metadata:
  annotations:
    scheduler.alpha.kubernetes.io/critical-pod: ""
  creationTimestamp: null
  labels:
    component: {name}
    tier: control-plane
  name: {name}
  namespace: kube-system
spec:
  containers:
  - command:
{cmd_yaml}
{env_yaml}    image: registry.k8s.io/kube-scheduler:v1.31.0
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 127.0.0.1
        path: /healthz
        port: {port}
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: {name}
    resources:
      requests:
        cpu: 100m
    startupProbe:
      failureThreshold: 24
      httpGet:
        host: 127.0.0.1
        path: /healthz
        port: {port}
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    volumeMounts:
    - mountPath: {kubeconfig}
      name: kubeconfig
      readOnly: true
{wd_yaml}  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: {kubeconfig}
      type: FileOrCreate
    name: kubeconfig
status: {{}}
"""


def component_flags(port: int, *, kubeconfig: str = "/etc/kubernetes/scheduler.conf",
                    verbosity: Optional[int] = None, extra_args: Sequence[str] = ()) -> list[str]:
    """The fake component's flags as component_manifest() writes them (argv[1:] of the process)."""
    flags = [
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--kubeconfig={kubeconfig}",
        "--leader-elect=true",
        f"--secure-port={port}",
    ]
    if verbosity is not None:
        flags.append(f"--v={verbosity}")
    return flags + list(extra_args)


# ----------------------------------------------------------------------------- Delve

class DlvHeadless:
    """`dlv exec BINARY --headless --listen=127.0.0.1:0 --accept-multiclient --api-version=2 -- ARGS`,
    run locally; the address is read from dlv's "API server listening at:" line (never probed).
    The debuggee's stdout/stderr arrive on dlv's: see .stdout / .stderr (LineCollector)."""

    def __init__(self, binary: str, args: Sequence[str] = (), listen: str = f"{LOOPBACK}:0",
                 extra_dlv_args: Sequence[str] = (), cwd: Optional[str] = None, start_timeout: float = 30):
        self.argv = [dlv_path(), "exec", binary, "--headless", f"--listen={listen}", "--accept-multiclient",
                     "--api-version=2", *extra_dlv_args, "--", *args]
        self.cwd = cwd
        self.start_timeout = start_timeout
        self.proc: Optional[subprocess.Popen] = None
        self._tree: list[int] = []

    def __enter__(self) -> "DlvHeadless":
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=self.cwd, start_new_session=True)
        self.stdout = LineCollector(self.proc.stdout)
        self.stderr = LineCollector(self.proc.stderr)
        try:
            m = self.stdout.wait_for(r"API server listening at: (\S+):(\d+)", self.start_timeout)
        except TimeoutError as e:
            self.stop()
            raise TimeoutError(f"{e}\ndlv stderr:\n{self.stderr.text()}") from None
        self.host, self.port = m.group(1), int(m.group(2))
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def debuggee_pid(self, timeout: float = 10) -> int:
        """The pid of the program dlv started (a child of dlv)."""
        binary = self.argv[2]
        pid = wait_until(lambda: next(iter(find_pids([binary], parent=self.pid)), None), timeout,
                         f"debuggee {binary} under dlv")
        self._tree.append(pid)
        return pid

    def wait_exit(self, timeout: float = 15) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"dlv pid {self.pid} did not exit within {timeout}s") from None

    def stop(self) -> None:
        """Kills dlv and its debuggee if they are still there."""
        if self.proc is None:
            return
        tree = set(self._tree) | set(descendants(self.proc.pid))
        if self.proc.poll() is None:
            kill_tree(self.proc.pid, grace=2)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for pid in tree:
            if pid_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
