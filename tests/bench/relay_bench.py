"""Measures what kdap costs an editor compared with doing without it: the latency of ordinary DAP requests and the
throughput of megabyte answers through four paths to the same kind of stopped Go program, the time from launch to
the first stop at a breakpoint against a scripted run of the manual steps with OpenSSH, and kdap's peak memory.

The four relay paths, side by side in one run, each with its own headless dlv and its own copy of the program:
  direct        the client speaks DAP to dlv on loopback (`attach` with `mode: remote`): the floor;
  ssh -L        OpenSSH port forwarding through the harness's sshd to that kind of dlv: what people use today;
  kdap (ssh)    `kdap dap`, target `exec`, over SSH to the same sshd (libssh, direct-tcpip tunnel);
  kdap (local)  `kdap dap`, target `exec`, without a host (a TCP connection to dlv on this machine).
Rounds alternate between the paths, so a disturbance on the machine hits all of them alike.

Not a test: no assertion on time. It prints Markdown tables and, with --json, writes every number. The results
and how to read them are in docs/performance.md. Needs root (the harness's sshd), Go, dlv and a built kdap:

    sudo python3 tests/bench/relay_bench.py --quick            # about 20 s; CI runs this so it cannot rot
    sudo python3 tests/bench/relay_bench.py --json bench.json  # the full run

Environment: KDAP_BIN (default <repo>/build/bin/kdap), KDAP_FIXTURE_DIR, KDAP_GO, KDAP_DLV as in the e2e tests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import platform
import re
import select
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

import harness  # noqa: E402
from dap_client import DapClient  # noqa: E402
from kdap_session import StaticPodNode, initialize, launch_to_breakpoint  # noqa: E402

BENCH_SOURCE = harness.FIXTURES_SRC / "cmd" / "bench-target" / "main.go"
BENCH_MARKER = "// bench-target: breakpoint"
BENCH_ITEMS = 16384  # elements of the slice, entries of the map: both answers end up above 1 MB
BENCH_TEXT = 1 << 20  # bytes of the string
# Delve's limits for every session, in the attach (kdap: launch) arguments, so that the big answers are whole.
DLV_LIMITS = {"maxArrayValues": 32768, "maxStringLen": 2 << 20}
INIT_ARGS = {"clientID": "kdap-bench", "adapterID": "kdap", "linesStartAt1": True, "columnsStartAt1": True,
             "pathFormat": "path", "supportsVariablePaging": True, "supportsVariableType": True,
             "supportsProgressReporting": True}
PATHS = ("direct", "ssh -L", "kdap (ssh)", "kdap (local)")
REQUESTS = ("threads", "stackTrace", "evaluate", "variables")
LARGE = ("evaluate text (1 MiB string)", "variables items (16384-element slice)",
         "evaluate index (16384-entry map)")
MB = 1e6  # throughput in decimal megabytes per second
STALL = 0.030  # a request this slow waited for something (a delayed ACK is 40 ms), it did not just run slowly


# ----------------------------------------------------------------------------- the bench target

def build_bench_target(out_dir: str) -> str:
    """Builds tests/fixtures/go/cmd/bench-target once per source, Go version and checkout path (its DWARF holds
    absolute paths), next to the e2e fixtures; later runs reuse it."""
    go = harness.find_go()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    binary = out / "bench-target"
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60).stdout
    digest = hashlib.sha256(BENCH_SOURCE.read_bytes() + version.encode() + str(BENCH_SOURCE).encode()).hexdigest()
    stamp = out / ".bench-target.stamp"
    env = dict(os.environ, GOFLAGS="-mod=readonly -buildvcs=false", CGO_ENABLED="0")
    if "HOME" not in env and "GOCACHE" not in env:
        env["GOCACHE"] = str(out / ".gocache")
        env["GOPATH"] = str(out / ".gopath")
    with open(out / ".bench-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == digest and os.access(binary, os.X_OK)):
            tmp = out / ".bench-target.tmp"
            subprocess.run([go, "build", "-gcflags=all=-N -l", "-o", str(tmp), "./cmd/bench-target"],
                           cwd=harness.FIXTURES_SRC, env=env, check=True, timeout=600)
            os.replace(tmp, binary)
            stamp.write_text(digest)
    return str(binary)


def bench_breakpoint() -> tuple[str, int]:
    """(source path, line) of the marked line in bench-target's step()."""
    lines = BENCH_SOURCE.read_text().splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith(BENCH_MARKER)]
    if len(hits) != 1:
        raise RuntimeError(f"expected one {BENCH_MARKER!r} in {BENCH_SOURCE}, found {hits}")
    return str(BENCH_SOURCE), hits[0]


def bench_args() -> list[str]:
    """The program's arguments on every path, so that every path debugs the same data."""
    return [f"--items={BENCH_ITEMS}", f"--text={BENCH_TEXT}"]


# ----------------------------------------------------------------------------- a lean DAP client

class Wire:
    """A synchronous DAP client for the timed loops: one request in flight and no reader thread, so the numbers
    measure the path rather than thread hand-offs in Python. A request's time runs from the write of the request
    to the read that completes its response; the JSON is decoded after the clock has stopped."""

    def __init__(self, rfd: int, wfd: int, keep: Any = None):
        self.rfd, self.wfd, self._keep = rfd, wfd, keep
        self._buf = bytearray()
        self._need: Optional[int] = None
        self._stamp = 0.0
        self._seq = 0
        self.events: list[tuple[dict, float]] = []
        self._responses: dict[int, tuple[dict, int, float]] = {}

    @classmethod
    def tcp(cls, host: str, port: int, timeout: float = 10) -> "Wire":
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        return cls(sock.fileno(), sock.fileno(), keep=sock)

    @classmethod
    def process(cls, proc: subprocess.Popen) -> "Wire":
        assert proc.stdout is not None and proc.stdin is not None
        return cls(proc.stdout.fileno(), proc.stdin.fileno(), keep=proc)

    def close(self) -> None:
        if isinstance(self._keep, socket.socket):
            with contextlib.suppress(OSError):
                self._keep.close()

    def send(self, command: str, arguments: Optional[dict] = None) -> int:
        self._seq += 1
        msg: dict[str, Any] = {"seq": self._seq, "type": "request", "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        body = json.dumps(msg, separators=(",", ":")).encode()
        data = memoryview(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        while data:
            data = data[os.write(self.wfd, data):]
        return self._seq

    def _fill(self, deadline: float) -> None:
        left = deadline - time.perf_counter()
        if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
            raise TimeoutError("no DAP message in time")
        chunk = os.read(self.rfd, 1 << 20)
        if not chunk:
            raise EOFError("the DAP peer closed the stream")
        self._buf += chunk
        self._stamp = time.perf_counter()

    def _frame(self, deadline: float) -> tuple[bytes, float]:
        while True:
            if self._need is None:
                end = self._buf.find(b"\r\n\r\n")
                if end >= 0:
                    m = re.search(rb"Content-Length:\s*(\d+)", bytes(self._buf[:end]), re.I)
                    if not m:
                        raise RuntimeError(f"DAP header without Content-Length: {bytes(self._buf[:end])!r}")
                    self._need = int(m.group(1))
                    del self._buf[:end + 4]
            if self._need is not None and len(self._buf) >= self._need:
                body = bytes(self._buf[:self._need])
                del self._buf[:self._need]
                self._need = None
                return body, self._stamp
            self._fill(deadline)

    def _pump(self, deadline: float) -> None:
        body, stamp = self._frame(deadline)
        msg = json.loads(body)
        if msg.get("type") == "response":
            self._responses[msg["request_seq"]] = (msg, len(body), stamp)
        elif msg.get("type") == "event":
            self.events.append((msg, stamp))

    def wait_response(self, seq: int, timeout: float = 60) -> tuple[dict, int, float]:
        """(response, body size in bytes, perf_counter when its last byte arrived)."""
        deadline = time.perf_counter() + timeout
        while seq not in self._responses:
            self._pump(deadline)
        return self._responses.pop(seq)

    def request(self, command: str, arguments: Optional[dict] = None, timeout: float = 60) -> tuple[dict, int, float]:
        """(successful response, body size, seconds from sending to the last byte of the response)."""
        start = time.perf_counter()
        seq = self.send(command, arguments)
        msg, size, stamp = self.wait_response(seq, timeout)
        if not msg.get("success"):
            raise RuntimeError(f"{command} failed: {msg.get('message')} {json.dumps(msg.get('body'))[:300]}")
        return msg, size, stamp - start

    def wait_event(self, name: str, timeout: float = 60) -> dict:
        deadline = time.perf_counter() + timeout
        while True:
            for i, (msg, _) in enumerate(self.events):
                if msg.get("event") == name:
                    del self.events[i]
                    return msg
            self._pump(deadline)


class StampedDapClient(DapClient):
    """The e2e DapClient, plus the wall-clock time at which each message arrived, for the bring-up timeline."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.arrivals: list[float] = []  # before the reader thread starts
        super().__init__(*args, **kwargs)

    def _log(self, direction: str, msg: Any) -> None:
        if direction == "<-":
            self.arrivals.append(time.time())
        super()._log(direction, msg)

    def arrival(self, match: Callable[[dict], bool]) -> float:
        for i, m in enumerate(list(self.messages)):
            if match(m):
                return self.arrivals[i]
        raise KeyError("no such message")


# ----------------------------------------------------------------------------- /proc

def proc_status_kib(pid: int, field_name: str) -> Optional[int]:
    value = harness._proc_status_field(pid, field_name)
    return int(value.split()[0]) if value else None


def cpu_seconds(pid: int) -> float:
    """CPU time of all threads of a live process, from schedstat (nanoseconds; /proc/PID/stat counts 10 ms ticks,
    too coarse for a few hundred requests)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
    return total / 1e9


def _tcp_ports_by_inode() -> dict[str, tuple[int, int]]:
    """Socket inode → (local port, remote port) for this network namespace's TCP sockets."""
    out: dict[str, tuple[int, int]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                out[f[9]] = (int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16))
    return out


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    found.add(target[8:-1])
    return found


def sshd_serving(client_pid: int, sshd_port: int) -> list[int]:
    """The sshd processes at the far end of `client_pid`'s connection to sshd on `sshd_port`: the server's
    share of a path over SSH, which both `ssh -L` and kdap over SSH pay."""
    ports = _tcp_ports_by_inode()
    client_ports = {ports[i][0] for i in _socket_inodes(client_pid) if i in ports and ports[i][1] == sshd_port}
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            if not Path(f"/proc/{entry}/comm").read_text().startswith("sshd"):
                continue
            if any(ports.get(i, (0, 0)) in {(sshd_port, c) for c in client_ports} for i in _socket_inodes(int(entry))):
                pids.append(int(entry))
    return pids


# ----------------------------------------------------------------------------- the four relay paths

@dataclass
class Session:
    path: str
    wire: Wire
    thread_id: int = 0
    frame_id: int = 0
    rec_ref: int = 0
    items_ref: int = 0
    relay_pid: Optional[int] = None  # the process that relays: kdap, or the ssh client of ssh -L
    server_pids: list[int] = field(default_factory=list)  # sshd's processes serving that relay's connection
    kdap: Optional[subprocess.Popen] = None
    memory: dict[str, int] = field(default_factory=dict)  # VmHWM in KiB at each stage (kdap only)
    cpu: dict[str, float] = field(default_factory=dict)
    cipher: str = ""  # the SSH cipher of a path over SSH


def configure_and_stop(s: Session, request_seq: int, timeout: float = 120) -> None:
    """After launch/attach was sent: breakpoint, configurationDone, the answer, the first stop; then the handles
    the loops use (thread, frame, the `rec` struct, the `items` slice)."""
    src, line = bench_breakpoint()
    s.wire.wait_event("initialized", timeout)
    bps, _, _ = s.wire.request("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": line}]})
    if not bps["body"]["breakpoints"][0].get("verified"):
        raise RuntimeError(f"{s.path}: breakpoint not verified: {bps}")
    s.wire.request("configurationDone")
    answer, _, _ = s.wire.wait_response(request_seq, timeout)
    if not answer.get("success"):
        raise RuntimeError(f"{s.path}: {answer.get('command')} failed: {answer.get('message')} {answer.get('body')}")
    stopped = s.wire.wait_event("stopped", timeout)
    s.thread_id = stopped["body"]["threadId"]
    trace, _, _ = s.wire.request("stackTrace", {"threadId": s.thread_id, "startFrame": 0, "levels": 20})
    frame = trace["body"]["stackFrames"][0]
    if frame["name"] != "main.step":
        raise RuntimeError(f"{s.path}: stopped in {frame['name']}, not main.step")
    s.frame_id = frame["id"]
    scopes, _, _ = s.wire.request("scopes", {"frameId": s.frame_id})
    local, _, _ = s.wire.request("variables", {"variablesReference": scopes["body"]["scopes"][0]["variablesReference"]})
    names = {v["name"]: v for v in local["body"]["variables"]}
    s.rec_ref = names["rec"]["variablesReference"]
    items, _, _ = s.wire.request("evaluate", {"expression": "items", "frameId": s.frame_id, "context": "watch"})
    s.items_ref = items["body"]["variablesReference"]


class RelayWorld:
    """The four sessions, each stopped in bench-target's step(). Everything started here is stopped in close()."""

    def __init__(self, bench: str, ssh: harness.SshServer, kdap: str, wrapper: list[str], tmp: str,
                 skip: tuple[str, ...] = (), ssh_cipher: str = ""):
        self.bench, self.ssh, self.kdap_bin, self.wrapper, self.tmp = bench, ssh, kdap, wrapper, tmp
        self.skip, self.ssh_cipher = skip, ssh_cipher
        self.stack = contextlib.ExitStack()
        self.sessions: dict[str, Session] = {}
        self.setup_seconds: dict[str, float] = {}

    def __enter__(self) -> "RelayWorld":
        try:
            for path, start in (("direct", self._direct), ("ssh -L", self._ssh_forward),
                                ("kdap (ssh)", lambda: self._kdap(True)), ("kdap (local)", lambda: self._kdap(False))):
                if path in self.skip:
                    continue
                began = time.perf_counter()
                self.sessions[path] = start()
                self.setup_seconds[path] = time.perf_counter() - began
                print(f"  {path}: stopped at the breakpoint ({self.setup_seconds[path]:.1f} s)", flush=True)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _dlv(self) -> harness.DlvHeadless:
        dlv = harness.DlvHeadless(self.bench, bench_args())
        dlv.__enter__()
        self.stack.callback(dlv.stop)
        return dlv

    def _attach(self, s: Session) -> Session:
        s.wire.request("initialize", INIT_ARGS)
        seq = s.wire.send("attach", {"request": "attach", "mode": "remote", **DLV_LIMITS})
        configure_and_stop(s, seq)
        self.stack.callback(self._disconnect_dlv, s)
        return s

    @staticmethod
    def _disconnect_dlv(s: Session) -> None:
        with contextlib.suppress(Exception):
            s.wire.request("disconnect", {"terminateDebuggee": True}, timeout=10)
        s.wire.close()

    def _direct(self) -> Session:
        dlv = self._dlv()
        return self._attach(Session("direct", Wire.tcp(dlv.host, dlv.port)))

    def _ssh_forward(self) -> Session:
        dlv = self._dlv()
        argv = harness.strict_ssh_argv(self.ssh)
        dest = argv.pop()
        if self.ssh_cipher:
            argv += ["-c", self.ssh_cipher]
        # The client's first choice, which this sshd (stock algorithms) takes.
        cipher = self.ssh_cipher or next((line.split()[1].split(",")[0] for line in subprocess.run(
            argv + ["-G", dest], capture_output=True, text=True).stdout.splitlines()
            if line.startswith("ciphers ")), "?")
        for _attempt in range(5):
            port = harness.free_port()
            proc = subprocess.Popen(argv + ["-N", "-o", "ExitOnForwardFailure=yes", "-L",
                                            f"{harness.LOOPBACK}:{port}:{dlv.host}:{dlv.port}", dest],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.stack.callback(harness.kill_tree, proc.pid, 2)
            # Waiting for the listening socket rather than probing it: a probe would be a DAP client to dlv.
            harness.wait_until(lambda: proc.poll() is not None or (harness.LOOPBACK, port) in
                               harness.listening_addresses(proc.pid), 20, "ssh -L to listen")
            if proc.poll() is None:
                break
        else:
            raise RuntimeError("ssh -L did not start")
        s = self._attach(Session("ssh -L", Wire.tcp(harness.LOOPBACK, port), relay_pid=proc.pid, cipher=cipher))
        s.server_pids = sshd_serving(proc.pid, self.ssh.port)
        return s

    def _kdap(self, over_ssh: bool) -> Session:
        path = "kdap (ssh)" if over_ssh else "kdap (local)"
        name = "kdap-ssh" if over_ssh else "kdap-local"
        with open(os.path.join(self.tmp, name + ".stderr"), "ab") as err:
            wrapper = [a.replace("{name}", name) for a in self.wrapper]
            proc = subprocess.Popen(wrapper + [self.kdap_bin, "dap", "--log-level", "debug"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, bufsize=0)
        self.stack.callback(self._end_kdap, proc)
        s = Session(path, Wire.process(proc), relay_pid=proc.pid, kdap=proc)
        s.wire.request("initialize", INIT_ARGS)
        s.memory["idle"] = proc_status_kib(proc.pid, "VmHWM") or 0
        launch: dict[str, Any] = {"target": "exec", "program": self.bench, "args": bench_args(),
                                  "stateDir": os.path.join(self.tmp, name + "-state"), **DLV_LIMITS}
        if over_ssh:
            launch.update(host=f"{self.ssh.user}@{harness.LOOPBACK}:{self.ssh.port}",
                          identityFile=self.ssh.identity_file, knownHostsFile=self.ssh.known_hosts_file)
        seq = s.wire.send("launch", launch)
        configure_and_stop(s, seq)
        if over_ssh:
            s.server_pids = sshd_serving(proc.pid, self.ssh.port)
            said = re.search(r"\(cipher ([^)]+)\)", Path(self.tmp, name + ".stderr").read_text(errors="replace"))
            s.cipher = said.group(1) if said else "?"
        return s

    def _end_kdap(self, proc: subprocess.Popen) -> None:
        """disconnect (kdap stops dlv and the program), then kdap exits on its own; killed only if it hangs."""
        s = next((x for x in self.sessions.values() if x.kdap is proc), None)
        if s is not None and proc.poll() is None:
            with contextlib.suppress(Exception):
                s.wire.request("disconnect", {"terminateDebuggee": True}, timeout=60)
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            harness.kill_tree(proc.pid)
            proc.wait(timeout=10)
        with contextlib.suppress(OSError):
            proc.stdout.close()  # type: ignore[union-attr]

    def close(self) -> None:
        self.stack.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99 (inclusive method, as numpy's default) plus mean, min and max; samples in seconds."""
    if len(samples) < 2:
        v = samples[0] if samples else float("nan")
        return {"n": len(samples), "p50": v, "p90": v, "p99": v, "mean": v, "min": v, "max": v,
                "stalls": float(v >= STALL)}
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"n": len(samples), "p50": statistics.median(samples), "p90": q[89], "p99": q[98],
            "mean": statistics.fmean(samples), "min": min(samples), "max": max(samples),
            "stalls": sum(1 for x in samples if x >= STALL) / len(samples)}


def relay_cpu(s: Session) -> tuple[float, float]:
    """CPU seconds so far of the relaying process and of sshd's processes serving it."""
    server = 0.0
    for pid in s.server_pids:
        with contextlib.suppress(OSError):
            server += cpu_seconds(pid)
    return cpu_seconds(s.relay_pid or 0), server


def latency_loop(world: RelayWorld, rounds: int, warmup: int) -> dict[str, dict[str, list[float]]]:
    """The same four requests per round on every path; paths take turns within a round, starting one later each
    round. Returns seconds per path and request."""
    samples: dict[str, dict[str, list[float]]] = {p: {r: [] for r in REQUESTS} for p in world.sessions}
    order = list(world.sessions.values())

    def one(s: Session) -> dict[str, float]:
        w = s.wire
        return {
            "threads": w.request("threads")[2],
            "stackTrace": w.request("stackTrace", {"threadId": s.thread_id, "startFrame": 0, "levels": 20})[2],
            "evaluate": w.request("evaluate", {"expression": "rec", "frameId": s.frame_id, "context": "watch"})[2],
            "variables": w.request("variables", {"variablesReference": s.rec_ref})[2],
        }

    for s in order:
        for _ in range(warmup):
            one(s)
    for s in order:
        if s.relay_pid:
            s.cpu["latency_start"], s.cpu["latency_server_start"] = relay_cpu(s)
    for i in range(rounds):
        for s in order[i % len(order):] + order[:i % len(order)]:
            for req, seconds in one(s).items():
                samples[s.path][req].append(seconds)
    for s in order:
        if s.relay_pid:
            relay, server = relay_cpu(s)
            s.cpu["latency"] = relay - s.cpu.pop("latency_start")
            s.cpu["latency_server"] = server - s.cpu.pop("latency_server_start")
    return samples


def large_loop(world: RelayWorld, reps: int) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Each ≥ 1 MB answer `reps` times per path, paths taking turns. Returns (bytes, seconds) per path and kind."""
    def request(s: Session, kind: str) -> tuple[int, float]:
        w = s.wire
        if kind.startswith("evaluate text"):
            _, size, sec = w.request("evaluate", {"expression": "text", "frameId": s.frame_id, "context": "clipboard"})
        elif kind.startswith("variables items"):
            _, size, sec = w.request("variables", {"variablesReference": s.items_ref})
        else:
            _, size, sec = w.request("evaluate", {"expression": "index", "frameId": s.frame_id, "context": "clipboard"})
        return size, sec

    order = list(world.sessions.values())
    out: dict[str, dict[str, list[tuple[int, float]]]] = {p: {k: [] for k in LARGE} for p in world.sessions}
    for s in order:
        for kind in LARGE:
            request(s, kind)  # warm-up: Delve's first load of a variable is slower than the next ones
        if s.relay_pid:
            s.cpu["large_start"], s.cpu["large_server_start"] = relay_cpu(s)
    for i in range(reps):
        for kind in LARGE:
            for s in order[i % len(order):] + order[:i % len(order)]:
                out[s.path][kind].append(request(s, kind))
    for s in order:
        if s.relay_pid:
            relay, server = relay_cpu(s)
            s.cpu["large"] = relay - s.cpu.pop("large_start")
            s.cpu["large_server"] = server - s.cpu.pop("large_server_start")
    return out


# ----------------------------------------------------------------------------- bring-up

class _Host(unittest.TestCase):
    """StaticPodNode and launch_to_breakpoint want a TestCase for cleanups and checks; this one only carries them."""

    def runTest(self) -> None:
        pass


class ExitWatch:
    """Polls every 2 ms, on a thread, when the manifest leaves its directory and when the component's process is
    gone: the part of a bring-up that belongs to the kubelet and the component, not to the tool."""

    def __init__(self, manifest: str, pid: int):
        self.manifest, self.pid = manifest, pid
        self.manifest_gone: Optional[float] = None
        self.component_gone: Optional[float] = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop and (self.manifest_gone is None or self.component_gone is None):
            now = time.time()
            if self.manifest_gone is None and not os.path.exists(self.manifest):
                self.manifest_gone = now
            if self.component_gone is None and not harness.pid_alive(self.pid):
                self.component_gone = now
            time.sleep(0.002)

    def stop(self) -> None:
        self._stop = True
        self._thread.join(5)

    def exit_seconds(self) -> float:
        if self.manifest_gone is None or self.component_gone is None:
            raise RuntimeError("the component's exit was not observed")
        return self.component_gone - self.manifest_gone


LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\] \[kdap\] \[\w+\] (.*)$")
LOG_MARKS = {  # first kdap log line of each step
    "connect": r"^(connecting to |working on this machine)",
    "connected": r"^ssh: connected to ",
    "plan": r"^reading ",
    "checks": r"^checking dlv and ",
    "guard": r"^arming the node guard",
    "park": r"^parking ",
    "wait": r"^waiting for .* to stop",
    "dlv": r"^(starting dlv for|attaching dlv to pid)",
    "listens": r"^dlv \(pid \d+\) listens on ",
    "tunnel": r"^opening the tunnel to dlv",
    "attach": r"^attaching$",
}


KDAP_STEPS = (  # (the mark a step starts at, its name); each step lasts until the next mark that is present
    ("t0", "parse the launch"),
    ("connect", "connect (TCP, SSH handshake, auth)"),
    ("connected", "lock (the command shell starts; mkdir of the session directory)"),
    ("plan", "plan (read and stat the manifest, resolve the program)"),
    ("checks", "checks (dlv version, probe the program)"),
    ("guard", "arm the guard; park's checks (stat, ps, stat, mkdir)"),
    ("park", "mv, then the first process listing"),
    ("wait", "wait for the component's exit (25 ms polls)"),
    ("dlv", "dlv start (to its listening line)"),
    ("listens", "record dlv's pid"),
    ("tunnel", "tunnel (direct-tcpip)"),
    ("attach", "attach (initialize, attach → initialized)"),
    ("initialized", "breakpoint, configurationDone → stopped"),
    ("stopped", ""),
)


def kdap_steps(marks: dict[str, float]) -> dict[str, float]:
    """Seconds per step; a step whose log line is missing (a kdap that no longer logs it) is folded into the one
    before, so a changed message costs detail, not the run."""
    present = [(mark, name) for mark, name in KDAP_STEPS if mark in marks]
    # kdap's log has millisecond timestamps: a step that took less may come out a fraction of one below zero.
    return {name: max(0.0, marks[nxt] - marks[mark]) for (mark, name), (nxt, _) in zip(present, present[1:])}


def log_marks(text: str) -> dict[str, float]:
    marks: dict[str, float] = {}
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if not m:
            continue
        when = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        for name, rx in LOG_MARKS.items():
            if name not in marks and re.search(rx, m.group(2)):
                marks[name] = when
    return marks


def dlv_own_start(fx: harness.Fixtures) -> dict[str, float]:
    """dlv on the component binary, no tool in between: spawn → listening, and connect → `initialized` after
    attach. What any way of debugging pays; subtracted to get a tool's own share."""
    began = time.time()
    with harness.DlvHeadless(fx.component, harness.component_flags(harness.free_port())) as dlv:
        listening = time.time()
        wire = Wire.tcp(dlv.host, dlv.port)
        try:
            wire.request("initialize", INIT_ARGS)
            wire.send("attach", {"request": "attach", "mode": "remote"})
            wire.wait_event("initialized", 60)
            attached = time.time()
            with contextlib.suppress(Exception):
                wire.request("disconnect", {"terminateDebuggee": True}, timeout=10)
        finally:
            wire.close()
    return {"start": listening - began, "attach": attached - listening}


def kdap_bringup(host: _Host, node: StaticPodNode, fx: harness.Fixtures, run: int) -> dict[str, Any]:
    """One `kdap dap` launch on the static pod over SSH, to the first stop; split by kdap's own log lines."""
    pid = node.kubelet.wait_running(fx.component, timeout=30)
    stderr_path = os.path.join(node.tmp, f"kdap-bringup-{run}.stderr")
    level = os.environ.get("KDAP_BENCH_LOG_LEVEL", "debug")  # the steps are cut at debug lines; trace shows more
    client = StampedDapClient.spawn([harness.kdap_bin(), "dap", "--log-level", level], stderr_path=stderr_path)
    host.addCleanup(client.close)
    initialize(client)
    watch = ExitWatch(node.manifest, pid)
    t0 = time.time()
    try:
        launch_to_breakpoint(host, client, node.launch_args(), round_=None)
    finally:
        watch.stop()
    initialized = client.arrival(lambda m: m.get("type") == "event" and m.get("event") == "initialized")
    stopped = client.arrival(lambda m: m.get("type") == "event" and m.get("event") == "stopped")
    marks = log_marks(Path(stderr_path).read_text(errors="replace"))
    if os.environ.get("KDAP_BRINGUP_LOG"):
        shutil.copy(stderr_path, os.environ["KDAP_BRINGUP_LOG"])
    client.request("disconnect", {"terminateDebuggee": True}, timeout=90)
    client.close()
    harness.wait_until(lambda: os.path.exists(node.manifest), 60, "the manifest back")
    node.kubelet.wait_running(fx.component, timeout=60)

    marks.update(t0=t0, initialized=initialized, stopped=stopped)
    steps = kdap_steps(marks)
    return {"steps": steps, "to_initialized": initialized - t0, "to_stopped": stopped - t0,
            "component_exit": watch.exit_seconds(),
            "exit_noticed_after": (marks["dlv"] - watch.component_gone
                                   if "dlv" in marks and watch.component_gone else None), "marks": marks}


def manual_bringup(node: StaticPodNode, fx: harness.Fixtures, tmp: str) -> dict[str, Any]:
    """The same bring-up by hand with OpenSSH, scripted as tightly as a person could: one multiplexed connection,
    mv of the manifest, a 50 ms poll for the process to go, `dlv exec --headless` over ssh, a forwarded port, then
    DAP attach, breakpoint and configurationDone. Restores the node afterwards."""
    assert node.ssh is not None
    pid = node.kubelet.wait_running(fx.component, timeout=30)
    base = harness.strict_ssh_argv(node.ssh)
    dest = base.pop()
    ctl = tempfile.mktemp(prefix="kb-", dir=tmp)  # a socket path ssh creates itself; short for sun_path
    parked_dir = os.path.join(node.state_dir, "manual-parked")
    parked = os.path.join(parked_dir, os.path.basename(node.manifest))
    mux = base + ["-S", ctl]
    q = shlex.quote

    def ssh(command: str) -> None:
        subprocess.run(mux + [dest, command], check=True, timeout=60, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    marks: dict[str, float] = {}
    dlv_ssh: Optional[subprocess.Popen] = None
    client: Optional[StampedDapClient] = None
    watch = ExitWatch(node.manifest, pid)
    t0 = time.time()
    try:
        subprocess.run(base + ["-M", "-S", ctl, "-o", "ControlPersist=yes", "-f", "-N", dest], check=True,
                       timeout=60, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        marks["connected"] = time.time()
        ssh(f"mkdir -p -m 700 {q(parked_dir)} && mv -- {q(node.manifest)} {q(parked_dir)}/")
        marks["parked"] = time.time()
        ssh(f"while [ -e /proc/{pid} ]; do sleep 0.05; done")
        marks["gone"] = time.time()
        dlv_ssh = subprocess.Popen(
            mux + [dest, f"exec dlv exec --headless --listen=127.0.0.1:0 --accept-multiclient --api-version=2 "
                         f"{q(fx.component)} -- {' '.join(q(a) for a in node.args)}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = harness.LineCollector(dlv_ssh.stdout)
        harness.LineCollector(dlv_ssh.stderr)
        port = int(out.wait_for(r"API server listening at: \S+:(\d+)", 60).group(1))
        marks["listens"] = time.time()
        local = harness.free_port()
        subprocess.run(mux + ["-O", "forward", "-L", f"127.0.0.1:{local}:127.0.0.1:{port}", dest], check=True,
                       timeout=30, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        marks["forwarded"] = time.time()
        client = StampedDapClient.connect("127.0.0.1", local)
        client.request_ok("initialize", INIT_ARGS)
        seq = client.send({"type": "request", "command": "attach",
                           "arguments": {"request": "attach", "mode": "remote"}})
        client.wait_event("initialized", timeout=60)
        src, line = harness.breakpoint_location()
        client.request_ok("setBreakpoints", {"source": {"path": src}, "breakpoints": [{"line": line}]})
        client.request_ok("configurationDone")
        if not client.wait_response(seq, timeout=60).get("success"):
            raise RuntimeError("dlv refused the attach")
        stopped_event = client.wait_event("stopped", timeout=60)
        if stopped_event["body"]["reason"] != "breakpoint":
            raise RuntimeError(f"manual run stopped for {stopped_event['body']['reason']}")
        initialized = client.arrival(lambda m: m.get("type") == "event" and m.get("event") == "initialized")
        stopped = client.arrival(lambda m: m.get("type") == "event" and m.get("event") == "stopped")
    finally:
        watch.stop()
        if client is not None:
            with contextlib.suppress(Exception):
                client.request("disconnect", {"terminateDebuggee": True}, timeout=10)
            client.close()
        if dlv_ssh is not None:
            for p in harness.descendants(node.ssh.pid):
                argv = harness.proc_cmdline(p) or []
                if argv and os.path.basename(argv[0]) == "dlv" and "--headless" in argv:
                    harness.kill_tree(p)
            with contextlib.suppress(subprocess.TimeoutExpired):
                dlv_ssh.wait(timeout=10)
            if dlv_ssh.poll() is None:
                harness.kill_tree(dlv_ssh.pid)
        with contextlib.suppress(Exception):
            if os.path.exists(parked) and not os.path.exists(node.manifest):
                ssh(f"mv -- {q(parked)} {q(node.manifest)}")
        # What one command costs on this node, the unit both kdap's and the manual bring-up are made of.
        one_command: list[float] = []
        with contextlib.suppress(Exception):
            for _ in range(3):
                began = time.perf_counter()
                ssh("true")
                one_command.append(time.perf_counter() - began)
        subprocess.run(mux + ["-O", "exit", dest], timeout=30, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node.kubelet.wait_running(fx.component, timeout=60)
    steps = {
        "connect (ssh -M, ControlMaster)": marks["connected"] - t0,
        "park (ssh mv)": marks["parked"] - marks["connected"],
        "wait for the component's exit (50 ms poll)": marks["gone"] - marks["parked"],
        "dlv start (ssh dlv exec, to its listening line)": marks["listens"] - marks["gone"],
        "tunnel (ssh -O forward -L)": marks["forwarded"] - marks["listens"],
        "attach (connect, initialize, attach → initialized)": initialized - marks["forwarded"],
        "breakpoint, configurationDone → stopped": stopped - initialized,
    }
    return {"steps": steps, "to_initialized": initialized - t0, "to_stopped": stopped - t0,
            "component_exit": watch.exit_seconds(),
            "ssh_command": statistics.median(one_command) if one_command else float("nan")}


# The node's login shell is the node's, not the tool's: every SSH channel runs it, for kdap and for the manual
# script alike. This machine's root runs `pyenv init` in ~/.bashrc (about 110 ms, and a lock that makes two
# logins take turns), which no Kubernetes node has; the bring-up is measured with it and, side by side, with
# a stock login: sshd's SetEnv points HOME at an empty directory, so bash finds no ~/.bashrc.
LOGINS = {"machine": "this machine's root login (`pyenv init` in ~/.bashrc)",
          "stock": "a stock login (no ~/.bashrc)"}


def bringup_section(fx: harness.Fixtures, runs: int, login: str, tmp: str) -> dict[str, Any]:
    """kdap and the manual script take turns on one node, each run preceded by a measurement of dlv alone, so that
    all three see the machine in the same state; the node is restored after each."""
    host = _Host()
    results: dict[str, Any] = {"kdap": [], "manual": [], "dlv": [], "login": LOGINS[login]}
    sshd_config = []
    if login == "stock":
        home = os.path.join(tmp, "stock-home")
        os.makedirs(home, exist_ok=True)
        sshd_config.append(f"SetEnv HOME={home}")
    try:
        node = StaticPodNode(host, fx, ssh=True, sshd_config=sshd_config)
        for run in range(runs):
            results["dlv"].append(dlv_own_start(fx))
            results["kdap"].append(kdap_bringup(host, node, fx, run))
            results["manual"].append(manual_bringup(node, fx, node.tmp))
            print(f"  run {run + 1}/{runs}: kdap {results['kdap'][-1]['to_stopped']:.2f} s, "
                  f"manual {results['manual'][-1]['to_stopped']:.2f} s to the first stop", flush=True)
    finally:
        host.doCleanups()
    dlv_start = statistics.median(d["start"] for d in results["dlv"])
    dlv_attach = statistics.median(d["attach"] for d in results["dlv"])
    for way in ("kdap", "manual"):
        for r in results[way]:
            # What neither kdap nor a script can avoid: the kubelet stopping the component, dlv starting and
            # answering initialize/attach. The rest, up to dlv's `initialized`, is the tool's own. dlv's answer
            # to attach takes either about 210 or about 420 ms, run by run, alone or not: the run's own attach
            # step is subtracted (it holds two relayed messages, well under a millisecond of the tool's).
            attach = next((v for k, v in r["steps"].items() if k.startswith("attach (")), dlv_attach)
            r["inherent"] = r["component_exit"] + dlv_start + attach
            r["overhead"] = r["to_initialized"] - r["inherent"]
    results["dlv_start"], results["dlv_attach"] = dlv_start, dlv_attach
    return results


# ----------------------------------------------------------------------------- report

def ms(seconds: float) -> str:
    """Milliseconds with three significant digits or more."""
    v = seconds * 1e3
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b > 0 else "–"


def dlv_version() -> str:
    try:
        out = subprocess.run([harness.dlv_path(), "version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Version:")), "?")


def environment(kdap: str) -> dict[str, Any]:
    def first_line(argv: list[str]) -> str:
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
            "kdap": first_line([kdap, "version"]), "dlv": dlv_version(),
            "go": first_line([harness.find_go(), "env", "GOVERSION"]),
            "openssh": first_line(["ssh", "-V"]), "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def report(results: dict[str, Any]) -> list[str]:
    """Markdown tables, and the targets with whether each holds (also added to results)."""
    env = results["environment"]
    out: list[str] = ["", f"## relay_bench, {results['mode']} run, {env['date']}", "",
                      f"{env['cpus']} CPUs ({env['cpu']}), Linux {env['kernel']}, load average "
                      f"{' '.join(env['loadavg_start'])} at the start and {' '.join(env['loadavg_end'])} at the end; "
                      f"{env['kdap']}, dlv {env['dlv']}, {env['go']}, {env['openssh'].split(',')[0]}."]
    if results.get("ciphers"):
        out.append("SSH ciphers: " + "; ".join(f"{p} {c}" for p, c in results["ciphers"].items()) + ".")
    if results["mode"] == "quick":
        out.append("Quick run: few samples, so the percentiles and verdicts below are indicative only.")
    lat = results.get("latency")
    targets: list[tuple[str, str, bool]] = []
    if lat:
        out += ["", "### Request latency (ms)", "",
                "| request | path | p50 | p90 | p99 | ≥ 30 ms | p50 vs direct | p50 vs ssh -L | p90 vs direct "
                "| p90 vs ssh -L |", "|---|---|---|---|---|---|---|---|---|---|"]
        for req in REQUESTS + ("all four",):
            for path in (p for p in PATHS if p in lat):
                st, d, f = lat[path][req], lat["direct"][req], lat["ssh -L"][req]
                out.append(f"| {req} | {path} | {ms(st['p50'])} | {ms(st['p90'])} | {ms(st['p99'])} | "
                           f"{st['stalls']:.1%} | "
                           f"{ratio(st['p50'], d['p50'])} | {ratio(st['p50'], f['p50'])} | "
                           f"{ratio(st['p90'], d['p90'])} | {ratio(st['p90'], f['p90'])} |")
        for path in (p for p in ("kdap (ssh)", "kdap (local)") if p in lat):
            st, d, f = lat[path]["all four"], lat["direct"]["all four"], lat["ssh -L"]["all four"]
            targets += [(f"{path}: p50 ≤ 0.8× ssh -L", ratio(st["p50"], f["p50"]), st["p50"] <= 0.8 * f["p50"]),
                        (f"{path}: p50 ≤ 1.3× direct", ratio(st["p50"], d["p50"]), st["p50"] <= 1.3 * d["p50"]),
                        (f"{path}: p90 ≤ 0.2× ssh -L", ratio(st["p90"], f["p90"]), st["p90"] <= 0.2 * f["p90"])]
    large = results.get("large")
    if large:
        out += ["", "### Answers of 1 MB and more", "",
                "| answer | bytes | path | median ms | MB/s | vs direct | vs ssh -L | relay's share (ms over direct) |",
                "|---|---|---|---|---|---|---|---|"]
        for kind in LARGE:
            for path in (p for p in PATHS if p in large):
                st, d, f = large[path][kind], large["direct"][kind], large["ssh -L"][kind]
                out.append(f"| {kind} | {st['bytes']} | {path} | {ms(st['median_s'])} | {st['mb_s']:.1f} | "
                           f"{ratio(st['mb_s'], d['mb_s'])} | {ratio(st['mb_s'], f['mb_s'])} | "
                           f"{(st['median_s'] - d['median_s']) * 1e3:+.1f} |")
            for path in (p for p in ("kdap (ssh)", "kdap (local)") if p in large):
                st, f = large[path][kind], large["ssh -L"][kind]
                targets.append((f"{path}: {kind} ≥ 0.9× ssh -L throughput", ratio(st["mb_s"], f["mb_s"]),
                                st["mb_s"] >= 0.9 * f["mb_s"]))
    cpu = results.get("cpu")
    if cpu:
        out += ["", "### CPU time of the relaying process on the editor's side (ms per request)", "",
                "| path | process | small requests | ≥ 1 MB answers | sshd, small requests "
                "| sshd, ≥ 1 MB answers |",
                "|---|---|---|---|---|---|"]
        for path, c in cpu.items():
            sshd = (f"{c['sshd_latency_ms_per_request']:.3f} | {c['sshd_large_ms_per_request']:.2f}"
                    if c.get("sshd_processes") else "– | –")
            out.append(f"| {path} | {c['process']} | {c['latency_ms_per_request']:.3f} | "
                       f"{c['large_ms_per_request']:.2f} | {sshd} |")
    mem = results.get("memory")
    if mem:
        out += ["", "### kdap's peak memory (VmHWM, MiB)", "",
                "| path | after initialize | stopped, after the small requests | after the ≥ 1 MB answers |",
                "|---|---|---|---|"]
        for path, m in mem.items():
            out.append(f"| {path} | {m['idle'] / 1024:.1f} | {m['session'] / 1024:.1f} | {m['large'] / 1024:.1f} |")
            targets.append((f"{path}: peak RSS ≤ 20 MiB", f"{m['large'] / 1024:.1f} MiB", m["large"] <= 20 * 1024))
    for key in ("bringup", "bringup_stock"):
        if results.get(key):
            out += bringup_report(results[key], targets)
    if targets:
        out += ["", "### Targets", "", "| target | measured | holds |", "|---|---|---|"]
        out += [f"| {name} | {value} | {'yes' if ok else '**no**'} |" for name, value, ok in targets]
        results["targets"] = [{"target": n, "measured": v, "holds": ok} for n, v, ok in targets]
    return out


def bringup_report(bring: dict[str, Any], targets: list[tuple[str, str, bool]]) -> list[str]:
    out: list[str] = []
    if bring:
        login = bring.get("login", LOGINS["machine"])
        out += ["", f"### Launch to the first stop (static pod over SSH, {login}; median ms)", "",
                f"dlv alone on the component binary: start {ms(bring['dlv_start'])} ms, "
                f"initialize + attach {ms(bring['dlv_attach'])} ms.", "",
                "| kdap step | median | | manual step (OpenSSH) | median |", "|---|---|---|---|---|"]

        def column(runs: list[dict[str, Any]]) -> list[str]:
            names = list(dict.fromkeys(n for r in runs for n in r["steps"]))
            return [f"{n} | {ms(statistics.median(r['steps'][n] for r in runs if n in r['steps']))}" for n in names]

        left_col, right_col = column(bring["kdap"]), column(bring["manual"])
        for i in range(max(len(left_col), len(right_col))):
            left = left_col[i] if i < len(left_col) else " | "
            right = right_col[i] if i < len(right_col) else " | "
            out.append(f"| {left} | | {right} |")
        for label, key in (("launch → initialized", "to_initialized"), ("launch → stopped", "to_stopped"),
                           ("component's exit (manifest gone → process gone)", "component_exit"),
                           ("own overhead (→ initialized, minus exit, dlv start and attach)", "overhead")):
            out.append(f"| **{label}** | **{ms(statistics.median(r[key] for r in bring['kdap']))}** | | "
                       f"**{label}** | **{ms(statistics.median(r[key] for r in bring['manual']))}** |")
        overhead = statistics.median(r["overhead"] for r in bring["kdap"])
        noticed = statistics.median([r["exit_noticed_after"] for r in bring["kdap"]
                                     if r["exit_noticed_after"] is not None] or [float("nan")])
        command = statistics.median(r["ssh_command"] for r in bring["manual"])
        out.append("")
        out.append(f"kdap noticed the component's exit {ms(noticed)} ms (median) after it happened. One command "
                   f"over SSH on this node (`ssh -S <ControlMaster> node true`) takes {ms(command)} ms.")
        targets.append((f"kdap's own bring-up overhead ≤ 200 ms, {login}", f"{ms(overhead)} ms", overhead <= 0.2))
    return out


# ----------------------------------------------------------------------------- main

def relay_section(bench: str, kdap: str, wrapper: list[str], tmp: str, rounds: int, warmup: int,
                  large_reps: int, skip: tuple[str, ...] = (), ssh_cipher: str = "") -> dict[str, Any]:
    """Latency, large answers, kdap's memory and the relaying processes' CPU time; 0 rounds or 0 repetitions
    leave that part out (handy under a profiler)."""
    out: dict[str, Any] = {}
    print("relay: bringing the four sessions up", flush=True)
    with harness.SshServer() as ssh, RelayWorld(bench, ssh, kdap, wrapper, tmp, skip, ssh_cipher) as world:
        out["setup_seconds"] = world.setup_seconds
        out["ciphers"] = {s.path: s.cipher for s in world.sessions.values() if s.cipher}
        kdaps = [s for s in world.sessions.values() if s.kdap]
        if rounds:
            print(f"relay: {rounds} rounds of {', '.join(REQUESTS)} per path", flush=True)
            samples = latency_loop(world, rounds, warmup)
            lat: dict[str, dict[str, Any]] = {}
            for path, per in samples.items():
                lat[path] = {req: percentiles(v) for req, v in per.items()}
                lat[path]["all four"] = percentiles([x for v in per.values() for x in v])
            out["latency"] = lat
            out["latency_samples_ms"] = {p: {r: [round(x * 1e3, 4) for x in v] for r, v in per.items()}
                                         for p, per in samples.items()}
        for s in kdaps:
            s.memory["session"] = proc_status_kib(s.relay_pid or 0, "VmHWM") or 0
        if large_reps:
            print(f"relay: {large_reps} × {len(LARGE)} answers of 1 MB and more per path", flush=True)
            large = large_loop(world, large_reps)
            out["large"] = {
                path: {kind: {"bytes": int(statistics.median(b for b, _ in v)),
                              "median_s": statistics.median(t for _, t in v),
                              "mb_s": statistics.median(b for b, _ in v) / MB / statistics.median(t for _, t in v),
                              "samples_s": [round(t, 5) for _, t in v]}
                       for kind, v in per.items()}
                for path, per in large.items()}
            below = sorted({k for per in out["large"].values() for k, v in per.items() if v["bytes"] < 1_000_000})
            if below:
                print(f"relay_bench: warning: answers below 1 MB: {below}", file=sys.stderr)
        for s in kdaps:
            s.memory["large"] = proc_status_kib(s.relay_pid or 0, "VmHWM") or 0
            s.memory["rss_now"] = proc_status_kib(s.relay_pid or 0, "VmRSS") or 0
        out["memory"] = {s.path: s.memory for s in kdaps}
        out["cpu"] = {s.path: {"process": "kdap" if s.kdap else "ssh (client)",
                               "latency_ms_per_request": s.cpu.get("latency", 0) * 1e3 / max(1, rounds * len(REQUESTS)),
                               "large_ms_per_request": s.cpu.get("large", 0) * 1e3 / max(1, large_reps * len(LARGE)),
                               "sshd_processes": len(s.server_pids),
                               "sshd_latency_ms_per_request":
                                   s.cpu.get("latency_server", 0) * 1e3 / max(1, rounds * len(REQUESTS)),
                               "sshd_large_ms_per_request":
                                   s.cpu.get("large_server", 0) * 1e3 / max(1, large_reps * len(LARGE))}
                      for s in world.sessions.values() if s.relay_pid}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds and one bring-up: a smoke run for CI")
    parser.add_argument("--rounds", type=int, help="timed rounds of the four small requests per path")
    parser.add_argument("--large-reps", type=int, help="timed repetitions of each ≥ 1 MB answer per path")
    parser.add_argument("--bringup-runs", type=int, help="launches to the first stop, kdap and manual each")
    parser.add_argument("--no-relay", action="store_true", help="skip latency, large answers and memory")
    parser.add_argument("--no-bringup", action="store_true", help="skip the launch-to-stop comparison")
    parser.add_argument("--login", choices=("both", *LOGINS), default="both",
                        help="the node's login shell for the bring-up: this machine's, a stock one, or both")
    parser.add_argument("--kdap-wrapper", default="", help="a command line put in front of kdap in the relay "
                        "paths, for profiling; {name} becomes kdap-ssh or kdap-local (e.g. 'valgrind "
                        "--tool=callgrind --callgrind-out-file=/tmp/{name}.cg'); the numbers then describe the "
                        "wrapped kdap, and its memory and CPU columns the wrapper's process")
    parser.add_argument("--skip", action="append", default=[], choices=("kdap-ssh", "kdap-local"),
                        help="leave one kdap path out (e.g. under a profiler that cannot run it)")
    parser.add_argument("--ssh-cipher", default="", metavar="CIPHER",
                        help="the cipher `ssh -L` asks for (ssh -c); default: OpenSSH's own choice")
    parser.add_argument("--json", metavar="FILE", help="write every result there")
    args = parser.parse_args()
    rounds = args.rounds if args.rounds is not None else 40 if args.quick else 500
    warmup = 5 if args.quick else 20
    large_reps = args.large_reps if args.large_reps is not None else 2 if args.quick else 10
    bringup_runs = args.bringup_runs or (1 if args.quick else 5)

    kdap = os.environ.get("KDAP_BIN") or str(harness.REPO_ROOT / "build" / "bin" / "kdap")
    if not os.access(kdap, os.X_OK):
        print(f"relay_bench: no kdap binary at {kdap}; build it or set KDAP_BIN", file=sys.stderr)
        return 2
    os.environ["KDAP_BIN"] = kdap  # what the e2e helpers spawn
    started = time.monotonic()
    results: dict[str, Any] = {"mode": "quick" if args.quick else "full", "environment": environment(kdap),
                               "parameters": {"rounds": rounds, "warmup": warmup, "large_reps": large_reps,
                                              "bringup_runs": bringup_runs, "dlv_limits": DLV_LIMITS,
                                              "items": BENCH_ITEMS, "text_bytes": BENCH_TEXT,
                                              "kdap_wrapper": args.kdap_wrapper}}
    print(f"relay_bench ({results['mode']}): {results['environment']['cpus']} CPUs, load "
          f"{' '.join(results['environment']['loadavg_start'])}; {kdap}", flush=True)
    fx = harness.build_fixtures()
    bench = build_bench_target(harness.fixture_dir())
    tmp = tempfile.mkdtemp(prefix="kdap-bench-")
    try:
        if not args.no_relay:
            skip = tuple(p for p in PATHS if p.replace(" (", "-").rstrip(")") in args.skip)
            results.update(relay_section(bench, kdap, shlex.split(args.kdap_wrapper), tmp, rounds, warmup,
                                         large_reps, skip, args.ssh_cipher))
        if not args.no_bringup:
            for login, key in (("machine", "bringup"), ("stock", "bringup_stock")):
                if args.login not in ("both", login):
                    continue
                print(f"bring-up with {LOGINS[login]}: {bringup_runs} launch(es) to the first stop, kdap and manual",
                      flush=True)
                results[key] = bringup_section(fx, bringup_runs, login, tmp)
    finally:
        if not os.environ.get("KDAP_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
    results["environment"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    results["seconds"] = time.monotonic() - started
    lines = report(results)
    print("\n".join(lines))
    print(f"\nrelay_bench: {results['seconds']:.0f} s in all", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
