"""The lab: one Kubernetes control-plane node with real etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kube-proxy (debug builds from build.sh), in a network, mount and UTS namespace of its own.

The node has the address NODE_IP on a veth pair (the machine keeps HOST_IP on its end) and the hostname
NODE_NAME. In its mount namespace /etc, /var/lib and /usr/local are overlays of the machine's, so that
/etc/kubernetes (a bind of <lab>/node/etc-kubernetes), /var/lib/kdap (a bind of <lab>/node/var-lib-kdap),
/var/lib/etcd and /usr/local/bin/kubectl exist there and nowhere else; root's home is an empty directory of the
lab, as on a fresh node (kubectl's ~/.kube cache lands there, and no login script of this machine runs).
Inside run a real sshd (harness.SshServer on NODE_IP), the kubelet stand-in running the static pods, and the
DaemonSet stand-in running kube-proxy. Everything the node starts lives in its network namespace; stop() kills
every process there, deletes the namespace and the veth pair, and removes the lab directory.

    python3 lab.py up      # start a lab and keep it until Ctrl-C, printing how to reach it
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import harness  # noqa: E402
import manifests  # noqa: E402
import pki  # noqa: E402

NETNS = "kdap-lab"
HOST_IF, NODE_IF = "kdaplab-h", "kdaplab-n"
# RFC 2544's benchmarking range: never routed, so nothing on a real network can answer.
HOST_IP, NODE_IP, PREFIX = "198.18.213.1", "198.18.213.2", 30
NODE_NAME = "kdap-lab-node"
CACHE = Path(os.environ.get("KDAP_LAB_CACHE", "/var/cache/kdap-lab"))
RUN_RECORD = CACHE / "running-lab.json"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
# The node sees the machine's /usr but not root's home, where a Python of the machine's user may live.
NODE_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable


def _run(argv: Sequence[str], check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), check=check, timeout=timeout, capture_output=True, text=True, **kw)


def _netns_inode(name: str) -> Optional[int]:
    try:
        return os.stat(f"/run/netns/{name}").st_ino
    except OSError:
        return None


def pids_in_netns(inode: int) -> list[int]:
    found = []
    for pid in harness.all_pids():
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino == inode:
                found.append(pid)
        except OSError:
            pass
    return found


def _kill_all(pids: Sequence[int]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(harness.pid_alive(p) for p in pids):
            time.sleep(0.1)


def cleanup_leftovers() -> None:
    """Whatever a lab killed before its stop() left: processes in the namespace, the namespace, the veth, the
    directories recorded in RUN_RECORD."""
    inode = _netns_inode(NETNS)
    if inode is not None:
        _kill_all(pids_in_netns(inode))
        _run(["ip", "netns", "del", NETNS], check=False)
    if _run(["ip", "link", "show", HOST_IF], check=False).returncode == 0:
        _run(["ip", "link", "del", HOST_IF], check=False)
    remove_recorded_dirs()


def remove_recorded_dirs() -> None:
    try:
        record = json.loads(RUN_RECORD.read_text())
    except (OSError, ValueError):
        record = {}
    if not os.environ.get("KDAP_LAB_KEEP"):
        for path in record.get("dirs", []):
            if os.path.basename(path).startswith(("kdap-lab-", "kdap-sshd-", "kdap-kubelet-")):
                shutil.rmtree(path, ignore_errors=True)
    RUN_RECORD.unlink(missing_ok=True)


def host_snapshot() -> dict:
    """What the lab must leave as it found it on this machine."""
    def out(argv):
        r = _run(argv, check=False)
        return [line for line in r.stdout.splitlines() if not line.startswith("#")]

    sysctls = {}
    for key in ("net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet", "net/ipv4/conf/all/forwarding",
                "net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_tcp_timeout_established",
                "net/netfilter/nf_conntrack_tcp_timeout_close_wait", "net/bridge/bridge-nf-call-iptables",
                "net/ipv4/vs/conntrack", "kernel/panic", "kernel/panic_on_oops", "vm/overcommit_memory"):
        try:
            sysctls[key] = Path("/proc/sys", key).read_text().strip()
        except OSError:
            sysctls[key] = None
    return {
        "links": sorted(line.split(":", 2)[1].strip() for line in out(["ip", "-o", "link"])),
        "addresses": sorted(" ".join(line.split()[1:4]) for line in out(["ip", "-o", "addr"])),
        "routes": sorted(out(["ip", "route"])),
        "netns": sorted(out(["ip", "netns", "list"])),
        "iptables": out(["iptables-save"]),
        "ip6tables": out(["ip6tables-save"]),
        "nft": out(["nft", "list", "ruleset"]),
        "sysctls": sysctls,
        "paths": {p: os.path.lexists(p) for p in ("/etc/kubernetes", "/var/lib/kdap", "/var/lib/etcd",
                                                   "/var/lib/kube-proxy", "/usr/local/bin/kubectl",
                                                   os.path.expanduser("~/.kube/cache"))},
        "mounts": sorted(line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()),
        "hostname": os.uname().nodename,
    }


class NodeSshServer(harness.SshServer):
    """harness.SshServer, run inside the node and listening on its address as well."""

    def __init__(self, sshd_wrapper: str):
        super().__init__(user="root", extra_config=[f"ListenAddress {NODE_IP}"])
        self.SSHD = sshd_wrapper
        self.host = NODE_IP


class Lab:
    def __init__(self, bin_dir: str, standin: str, log=lambda m: print(m, flush=True)):
        self.bin_dir = str(Path(bin_dir).resolve())
        self.standin_binary = standin
        self.log = log
        self.dir: Optional[Path] = None
        self.holder: Optional[subprocess.Popen] = None
        self.ssh: Optional[NodeSshServer] = None
        self.kubelet: Optional[harness.KubeletStandin] = None
        self.ds_standin: Optional[subprocess.Popen] = None
        self.netns_inode: Optional[int] = None

    # ----- paths, from this machine and from the node
    @property
    def etc_kubernetes(self) -> Path:
        return self.dir / "node" / "etc-kubernetes"

    @property
    def manifest_dir(self) -> Path:
        return self.etc_kubernetes / "manifests"

    @property
    def state_dir(self) -> Path:
        return self.dir / "node" / "var-lib-kdap"

    @property
    def admin_conf(self) -> str:
        return str(self.etc_kubernetes / "admin.conf")

    def program(self, name: str) -> str:
        return os.path.join(self.bin_dir, name)

    def node_argv(self, *argv: str) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-n", "-m", "-u", "--", *argv]

    def node_run(self, command: str, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess:
        return _run(self.node_argv("/bin/sh", "-c", command), check=check, timeout=timeout)

    def kubectl_argv(self, *args: str) -> list[str]:
        """kubectl on this machine, reaching the node's API server over the veth pair; its discovery cache
        stays in the lab, not in ~/.kube."""
        return [self.program("kubectl"), f"--kubeconfig={self.admin_conf}",
                f"--cache-dir={self.dir / 'kube-cache'}", *args]

    def kubectl(self, *args: str, timeout: float = 60, check: bool = True,
                stdin: Optional[str] = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.kubectl_argv(*args), check=check, timeout=timeout, capture_output=True,
                              text=True, input=stdin)

    def kubectl_json(self, *args: str, timeout: float = 60) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json", timeout=timeout).stdout)

    # ----- lifecycle
    def start(self) -> "Lab":
        cleanup_leftovers()
        started = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="kdap-lab-"))
        os.chmod(self.dir, 0o755)
        RUN_RECORD.unlink(missing_ok=True)
        self.record_dir(str(self.dir))
        try:
            self._network()
            self._filesystem()
            self._holder()
            self._write_node_files()
            self.ssh = NodeSshServer(self._wrapper("node-sshd", "/usr/sbin/sshd"))
            self.ssh.__enter__()
            self.record_dir(str(self.ssh.dir))
            self._check_node_shell()
            self._start_kubelet()
            self.record_dir(str(self.kubelet.dir))
            self.wait_control_plane(timeout=300)
            self.log(f"lab: control plane ready after {time.monotonic() - started:.0f} s")
            self._bootstrap_objects()
            self._start_daemonset_standin()
            self.wait_kube_proxy(timeout=180)
            self.log(f"lab: kube-proxy running after {time.monotonic() - started:.0f} s")
        except BaseException:
            self.stop()
            raise
        return self

    def record_dir(self, directory: str) -> None:
        """Directories cleanup_leftovers() removes if this process dies before stop()."""
        try:
            record = json.loads(RUN_RECORD.read_text())
        except (OSError, ValueError):
            record = {"pid": os.getpid(), "dirs": []}
        record["dirs"].append(directory)
        RUN_RECORD.parent.mkdir(parents=True, exist_ok=True)
        RUN_RECORD.write_text(json.dumps(record))

    def _network(self) -> None:
        _run(["ip", "netns", "add", NETNS])
        self.netns_inode = _netns_inode(NETNS)
        _run(["ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NODE_IF])
        _run(["ip", "link", "set", NODE_IF, "netns", NETNS])
        _run(["ip", "addr", "add", f"{HOST_IP}/{PREFIX}", "dev", HOST_IF])
        _run(["ip", "link", "set", HOST_IF, "up"])
        for argv in (["addr", "add", f"{NODE_IP}/{PREFIX}", "dev", NODE_IF], ["link", "set", NODE_IF, "up"],
                     ["link", "set", "lo", "up"], ["route", "add", "default", "via", HOST_IP]):
            _run(["ip", "-n", NETNS, *argv])

    def _filesystem(self) -> None:
        d = self.dir
        for sub in ("node/etc-kubernetes/manifests", "node/var-lib-kdap", "node/root", "ovl/usr-local/upper/bin",
                    "bin", "logs", "daemonset-pods"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.symlink(self.program("kubectl"), d / "ovl/usr-local/upper/bin/kubectl")

    def _holder(self) -> None:
        """The process that owns the node's mount and UTS namespaces; every node process joins them."""
        d = self.dir
        script = f"""set -e
overlay() {{
  mkdir -p {d}/ovl/$2/upper {d}/ovl/$2/work
  mount -t overlay kdap-lab-$2 -o lowerdir=$1,upperdir={d}/ovl/$2/upper,workdir={d}/ovl/$2/work $1
}}
hostname {NODE_NAME}
overlay /etc etc
mkdir -p /etc/kubernetes
mount --bind {d}/node/etc-kubernetes /etc/kubernetes
echo {NODE_NAME} >/etc/hostname
printf '%s %s\\n' {NODE_IP} {NODE_NAME} >>/etc/hosts
overlay /var/lib var-lib
mkdir -p /var/lib/kdap /var/lib/etcd
chmod 700 /var/lib/etcd
mount --bind {d}/node/var-lib-kdap /var/lib/kdap
overlay /usr/local usr-local
mount --bind {d}/node/root /root
echo node-ready
exec sleep 2147483647
"""
        with open(d / "logs" / "node-holder.log", "ab") as log:
            self.holder = subprocess.Popen(
                ["ip", "netns", "exec", NETNS, "unshare", "--mount", "--uts", "--propagation", "private",
                 "/bin/sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                start_new_session=True)
        line = self.holder.stdout.readline().decode().strip()
        if line != "node-ready":
            self.holder.wait(timeout=10)
            log_text = (d / "logs" / "node-holder.log").read_text()
            raise RuntimeError(f"the node's namespaces were not set up:\n{log_text}")

    def _wrapper(self, name: str, program: str) -> str:
        path = self.dir / "bin" / name
        path.write_text(f"#!/bin/sh\nexec nsenter -t {self.holder.pid} -n -m -u -- {program} \"$@\"\n")
        path.chmod(0o755)
        return str(path)

    def _write_node_files(self) -> None:
        pki.make_kubeadm_pki(self.etc_kubernetes, node_name=NODE_NAME, node_ip=NODE_IP,
                             service_ip=manifests.SERVICE_IP)
        for name, text in manifests.static_pods(NODE_NAME, NODE_IP).items():
            path = self.manifest_dir / f"{name}.yaml"
            path.write_text(text)
            path.chmod(0o600)

    def _check_node_shell(self) -> None:
        """kdap runs kubectl and dlv through root's non-interactive shell on the node, by name."""
        found = self.ssh.run("command -v kubectl; command -v dlv").stdout.split()
        if found != ["/usr/local/bin/kubectl", "/usr/local/bin/dlv"]:
            raise RuntimeError(f"the node's shell finds kubectl and dlv at {found}, not in /usr/local/bin")

    def _start_kubelet(self) -> None:
        # The stand-in runs inside the node (its wrapper joins the namespaces) and resolves command[0] on a
        # PATH that starts with the debug builds.
        self.kubelet = harness.KubeletStandin(self._wrapper("node-kubelet-standin", self.standin_binary),
                                              manifest_dir=str(self.manifest_dir), grace="20s",
                                              restart_delay="2s", poll="250ms", path_prepend=[self.bin_dir])
        self.kubelet.__enter__()

    def _https_ok(self, port: int, path: str) -> bool:
        """The node's loopback only answers inside the node; the components' self-signed serving certificates
        are not what is checked here."""
        code = ("import ssl,sys,urllib.request\n"
                "c=ssl.create_default_context();c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\n"
                f"r=urllib.request.urlopen('https://127.0.0.1:{port}{path}',context=c,timeout=5)\n"
                "sys.exit(0 if r.read().strip()==b'ok' else 1)\n")
        return _run(self.node_argv(NODE_PYTHON, "-c", code), check=False, timeout=20).returncode == 0

    def apiserver_ready(self) -> bool:
        readyz = self.kubectl("get", "--raw", "/readyz", check=False, timeout=20)
        return readyz.returncode == 0 and readyz.stdout.strip() == "ok"

    def control_plane_status(self) -> dict[str, bool]:
        return {"kube-apiserver": self.apiserver_ready(),
                "kube-scheduler": self._https_ok(10259, "/healthz"),
                "kube-controller-manager": self._https_ok(10257, "/healthz")}

    def wait_control_plane(self, timeout: float = 180) -> None:
        status: dict = {}

        def ready():
            nonlocal status
            status = self.control_plane_status()
            return all(status.values())
        try:
            harness.wait_until(ready, timeout, "the control plane", interval=2)
        except TimeoutError as e:
            raise TimeoutError(f"{e}: {status}\n{self.component_logs()}") from None

    def component_logs(self, tail: int = 15) -> str:
        out = []
        for name in COMPONENTS:
            text = self.kubelet.pod_log(name) if self.kubelet else ""
            out.append(f"--- {name}:\n" + "\n".join(text.splitlines()[-tail:]))
        return "\n".join(out)

    def _bootstrap_objects(self) -> None:
        self.kubectl("create", "-f", "-", stdin=json.dumps(manifests.node_object(NODE_NAME, NODE_IP)))
        objects = manifests.kube_proxy_objects(NODE_IP)
        self.kubectl("apply", "--server-side", "-f", "-", stdin=manifests.as_json_list(objects))

    def _start_daemonset_standin(self) -> None:
        d = self.dir
        argv = self.node_argv(NODE_PYTHON, str(HERE / "daemonset_standin.py"),
                              "--kubeconfig=/etc/kubernetes/admin.conf", f"--node-name={NODE_NAME}",
                              f"--node-ip={NODE_IP}", f"--bin-dir={self.bin_dir}",
                              f"--work-dir={d / 'daemonset-pods'}", f"--log-dir={d / 'logs'}")
        with open(d / "logs" / "daemonset-standin.log", "ab") as log:
            self.ds_standin = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def daemonset_log(self) -> str:
        return (self.dir / "logs" / "daemonset-standin.log").read_text(errors="replace")

    def kube_proxy_pods(self) -> list[dict]:
        pods = self.kubectl_json("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-proxy",
                                 f"--field-selector=spec.nodeName={NODE_NAME}")["items"]
        return [p for p in pods if not p["metadata"].get("deletionTimestamp")]

    def kube_proxy_pids(self) -> list[int]:
        program = self.program("kube-proxy")
        return [p for p in harness.children(self.ds_standin.pid)
                if (harness.proc_cmdline(p) or [""])[0] == program]

    def wait_kube_proxy(self, timeout: float = 120) -> tuple[str, int]:
        """(pod name, pid) once this node's kube-proxy pod is Running and its process runs."""
        def running():
            pods = [p for p in self.kube_proxy_pods() if p.get("status", {}).get("phase") == "Running"]
            pids = self.kube_proxy_pids()
            return (pods[0]["metadata"]["name"], pids[0]) if pods and len(pids) == 1 else None
        try:
            return harness.wait_until(running, timeout, "kube-proxy running on the node", interval=1)
        except TimeoutError as e:
            raise TimeoutError(f"{e}\n{self.daemonset_log()[-3000:]}") from None

    def kube_proxy_log(self) -> str:
        path = self.dir / "logs"
        return "\n".join(p.read_text(errors="replace") for p in sorted(path.glob("kube-system_kube-proxy-*.log")))

    def stop(self) -> None:
        """Every process of the node, the namespace, the veth pair and the lab directory."""
        if self.ds_standin and self.ds_standin.poll() is None:
            self.ds_standin.send_signal(signal.SIGTERM)
            try:
                self.ds_standin.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.ds_standin.kill()
        if self.kubelet:
            keep = os.environ.get("KDAP_LAB_KEEP")
            if keep:  # the stand-in's directory holds the component logs
                os.environ["KDAP_KEEP_TMP"] = "1"
            self.kubelet.stop(timeout=30)
        if self.ssh:
            self.ssh.stop()
        if self.netns_inode is not None:
            _kill_all(pids_in_netns(self.netns_inode))
        if self.holder and self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait(timeout=10)
        _run(["ip", "netns", "del", NETNS], check=False)
        _run(["ip", "link", "del", HOST_IF], check=False)
        remove_recorded_dirs()


def lab_bin_dir() -> str:
    """KDAP_LAB_BIN, else the newest complete build under the cache."""
    if os.environ.get("KDAP_LAB_BIN"):
        return os.environ["KDAP_LAB_BIN"]
    builds = sorted((p for p in (CACHE / "bin").glob("*") if (p / ".complete").exists()),
                    key=lambda p: p.stat().st_mtime)
    if not builds:
        raise RuntimeError(f"no lab build under {CACHE / 'bin'}: run tests/lab/build.sh")
    return str(builds[-1])


def main() -> int:
    if sys.argv[1:] != ["up"]:
        print(__doc__)
        return 2
    fx = harness.build_fixtures()
    lab = Lab(lab_bin_dir(), fx.standin)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        lab.start()
        print(f"lab up: ssh -i {lab.ssh.identity_file} -o UserKnownHostsFile={lab.ssh.known_hosts_file} "
              f"-p {lab.ssh.port} root@{NODE_IP}\n"
              f"        {lab.program('kubectl')} --kubeconfig={lab.admin_conf} get pods -A\n"
              f"        logs: {lab.dir}/logs and {lab.kubelet.log_dir}\nCtrl-C stops it.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        lab.stop()


if __name__ == "__main__":
    sys.exit(main())
