"""A Debian node with systemd as PID 1, on this machine, for tests of kdap's systemd recipes (kubelet).

kdap's users debug a kubelet that systemd runs from a unit file plus kubeadm's drop-in, on a real node
they reach over SSH. The closest thing one machine offers is systemd booted as PID 1 of its own PID
namespace over a Debian rootfs: the unit files, drop-ins, `systemctl show` and the process tree are
then systemd's own, not an imitation.

    with SystemdNode() as node:
        node.install_kubeadm_kubelet(fixtures.component, 'KUBELET_KUBEADM_ARGS="--secure-port=0"')
        subprocess.run(node.ssh_argv("systemctl", "status", "kubelet"), check=True, timeout=30)

What the node shares with the machine, and why that is acceptable for tests:
  - the network namespace: sshd listens on 127.0.0.1:<free port>, and whatever the node runs binds
    loopback ports of the machine (give components port 0 or free ports);
  - the kernel: /proc/sys and /sys are read-only inside, /dev is a minimal tmpfs of its own, and the
    units that would reconfigure the kernel (udev, sysctl, modules, binfmt, ...) are masked;
  - the cgroup hierarchies: the node's systemd builds its tree below kdap-test-node/<node> in them.
The rootfs is built once by debootstrap and cached under /var/cache/kdap-test-node/<recipe digest>;
each node boots an overlay of it (or a copy when overlayfs is unavailable), so the cache stays pristine.
Requires root, debootstrap (tests/tools/install-deps.sh), unshare/nsenter/setpriv (util-linux).

Environment read:
  KDAP_TEST_NODE_CACHE   cache directory (default /var/cache/kdap-test-node)
  KDAP_TEST_NODE_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
  KDAP_KEEP_TMP          keep each node's temp dir (keys, console log, overlay upper dir) after stop()
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import termios
import threading
import time
import tty
import uuid
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional, Sequence, Union

import harness

CACHE_ROOT = Path(os.environ.get("KDAP_TEST_NODE_CACHE") or "/var/cache/kdap-test-node")
SUITE = "bookworm"
MIRROR = os.environ.get("KDAP_TEST_NODE_MIRROR") or "http://deb.debian.org/debian"
PACKAGES = ("systemd", "systemd-sysv", "openssh-server", "dbus", "iproute2", "procps")

# Runs on the finished debootstrap tree (not chrooted), before it is renamed into the cache. Part of
# the recipe digest, so editing it rebuilds the cache.
_FINISH_SCRIPT = r"""set -eu
R=$1
# Every node gets its own host key and machine id; the ones the packages generated would be shared.
rm -f "$R"/etc/ssh/ssh_host_*
: > "$R/etc/machine-id"
rm -f "$R"/var/cache/apt/archives/*.deb
test -x "$R/lib/systemd/systemd"
test -x "$R/usr/sbin/sshd"
test -e "$R/lib/systemd/system/ssh.service"
"""

# The node's init chain. "outer" runs in the machine's namespaces: it joins the node's own cgroups
# (so that the node's systemd builds its tree there, not at the machine's cgroup root where two nodes
# would share unit cgroups and kill each other's services) and re-executes itself under unshare.
# "inner" is PID 1 of the new PID namespace, with a private copy of the mount table.
_BOOT_SCRIPT = r"""#!/bin/sh
set -eu
phase=$1
shift
if [ "$phase" = outer ]; then
  for procs in $KDAP_NODE_CGROUP_PROCS; do echo $$ > "$procs"; done
  unset KDAP_NODE_CGROUP_PROCS
  # --kill-child: if unshare dies (its parent died: setpriv --pdeathsig), the node dies with it.
  exec unshare --pid --mount --uts --ipc --kill-child --propagation private -- /bin/sh "$0" inner "$@"
fi
mode=$1 lower=$2 upper=$3 work=$4 root=$5 console=$6 name=$7
# unshare already made the copy private; repeat it so that no mount below can ever propagate back to
# the machine, whatever unshare's defaults are.
mount --make-rprivate /
if [ "$mode" = overlay ]; then
  mount -t overlay kdap-test-node -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
else
  mount --bind "$root" "$root"
fi
# Mounts of the machine's filesystems share their superblock with the machine: a remount (not a bind
# remount) inside the node would change the machine's. So the node gets its own proc, tmpfs and devpts
# instances, and only bind mounts of what it must share: /sys (read-only) and the cgroup hierarchies.
mount -t proc proc "$root/proc"
# The kernel's settings are the machine's: PID 1 raises fs.file-max and net.unix.max_dgram_qlen.
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
if [ -e "$root/proc/sysrq-trigger" ]; then
  mount --bind "$root/proc/sysrq-trigger" "$root/proc/sysrq-trigger"
  mount -o remount,bind,ro "$root/proc/sysrq-trigger"
fi
mount --bind /sys "$root/sys"
if [ "$(findmnt -n -o FSTYPE /sys/fs/cgroup)" = cgroup2 ]; then
  mount --bind /sys/fs/cgroup "$root/sys/fs/cgroup"
else
  # systemd makes directories and symlinks in /sys/fs/cgroup and remounts it read-only: give it a tmpfs
  # of its own, with the machine's hierarchies bound in.
  mount -t tmpfs -o nosuid,nodev,noexec,mode=755 cgroup "$root/sys/fs/cgroup"
  for h in /sys/fs/cgroup/*; do
    n=${h##*/}
    if [ -L "$h" ]; then
      ln -s "$(readlink "$h")" "$root/sys/fs/cgroup/$n"
    elif mountpoint -q "$h"; then
      mkdir "$root/sys/fs/cgroup/$n"
      mount --bind "$h" "$root/sys/fs/cgroup/$n"
    fi
  done
fi
# Read-only at the top (the cgroup mounts stay writable for systemd), as container managers do.
mount -o remount,bind,ro "$root/sys"
# A minimal /dev: the machine's would let the node allocate virtual terminals (logind) and write device
# nodes (tmpfiles, udev). The console is a pseudo-terminal of the test: PID 1 always writes its status
# to /dev/console, which would otherwise be the machine's console.
mount -t tmpfs -o nosuid,mode=755,size=1m dev "$root/dev"
mknod -m 666 "$root/dev/null" c 1 3
mknod -m 666 "$root/dev/zero" c 1 5
mknod -m 666 "$root/dev/full" c 1 7
mknod -m 666 "$root/dev/random" c 1 8
mknod -m 666 "$root/dev/urandom" c 1 9
mknod -m 666 "$root/dev/tty" c 5 0
mkdir -m 755 "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
chmod 1777 "$root/dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
touch "$root/dev/console"
mount --bind "$console" "$root/dev/console"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=755 run "$root/run"
hostname "$name"
exec chroot "$root" /lib/systemd/systemd --system --log-target=console
"""

# Units that make no sense, or would touch the machine, in a node that shares its kernel, /dev and
# network: masking them also lets the boot settle in seconds.
MASKED_UNITS = (
    "systemd-udevd.service", "systemd-udevd-control.socket", "systemd-udevd-kernel.socket",
    "systemd-udev-trigger.service", "systemd-udev-settle.service", "systemd-hwdb-update.service",
    "getty@.service", "serial-getty@.service", "console-getty.service", "container-getty@.service",
    "getty-static.service", "systemd-networkd-wait-online.service",
    "systemd-modules-load.service", "kmod-static-nodes.service", "modprobe@.service", "systemd-sysctl.service",
    "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount",
    "systemd-tmpfiles-setup-dev.service", "systemd-tmpfiles-setup-dev-early.service",
    "systemd-remount-fs.service", "systemd-firstboot.service", "systemd-machine-id-commit.service",
    "systemd-journald-audit.socket", "systemd-random-seed.service",
    "dev-hugepages.mount", "dev-mqueue.mount", "sys-kernel-debug.mount", "sys-kernel-tracing.mount",
    "sys-kernel-config.mount", "sys-fs-fuse-connections.mount",
    "apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "fstrim.timer", "e2scrub_all.timer",
    "e2scrub_reap.service", "systemd-pstore.service",
)

# Accounting off: systemd would otherwise create cgroups for every unit in the v1 controller
# hierarchies (memory, pids, ...) at the node's cgroup path, moving processes out of the cgroups
# the test runs in. The node's processes stay in the test's controller cgroups instead.
_SYSTEM_CONF = """[Manager]
DefaultCPUAccounting=no
DefaultIOAccounting=no
DefaultIPAccounting=no
DefaultBlockIOAccounting=no
DefaultMemoryAccounting=no
DefaultTasksAccounting=no
DefaultTimeoutStopSec=10s
LogColor=no
"""

# Virtual terminals are the machine's; the node has none.
_LOGIND_CONF = """[Login]
NAutoVTs=0
ReserveVT=0
"""

# The machine's kernel log is not the node's business; volatile storage keeps the overlay small.
_JOURNALD_CONF = """[Journal]
Storage=volatile
ReadKMsg=no
"""

KUBELET_SERVICE = """[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

KUBEADM_DROPIN = """# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/sysconfig/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""

NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What commands run by run() see: a root login's basics, no colours or pagers that would garble output.
_NODE_ENV = {"PATH": NODE_PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb", "SYSTEMD_PAGER": "",
             "SYSTEMD_COLORS": "0", "USER": "root", "LOGNAME": "root"}
_CGROUP_BASE = "kdap-test-node"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r")


# ----------------------------------------------------------------------------- the cached rootfs

def debootstrap_argv(target: str) -> list[str]:
    return ["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE, target, MIRROR]


def recipe_digest() -> str:
    """Names the cached rootfs: any change to how it is built yields a new cache entry, never a stale one."""
    recipe = {"debootstrap": debootstrap_argv("ROOT"), "finish": _FINISH_SCRIPT, "arch": os.uname().machine}
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:20]


def rootfs_path() -> Path:
    return CACHE_ROOT / recipe_digest()


def rootfs_cached() -> bool:
    return (rootfs_path() / "lib" / "systemd" / "systemd").exists()


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """An exclusive flock on CACHE_ROOT/name: serializes test processes that build or clean up shared state."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / name, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _mount_points() -> list[str]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        path = line.split()[4]
        out.append(path.encode().decode("unicode_escape"))  # mountinfo escapes blanks as \040
    return out


def _mounts_under(path: Union[str, Path]) -> list[str]:
    prefix = str(path).rstrip("/")
    return [m for m in _mount_points() if m == prefix or m.startswith(prefix + "/")]


def _safe_rmtree(path: Path) -> None:
    """rmtree that refuses to descend into a tree with mounts (a leftover /sys or /dev bind, say)."""
    if not path.exists():
        return
    mounts = _mounts_under(path)
    if mounts:
        raise RuntimeError(f"refusing to remove {path}: mounts below it: {mounts}")
    shutil.rmtree(path)


def ensure_rootfs(timeout: float = 1800) -> Path:
    """The cached rootfs for the current recipe, built by debootstrap on first use.

    Built in a temp dir beside the cache entry and renamed into place when complete, under a file lock,
    so concurrent test processes build it once and never see half a tree. debootstrap runs in its own
    mount namespace: the /proc and /sys it mounts in the target cannot outlive it on the machine."""
    final = rootfs_path()
    if rootfs_cached():
        return final
    # root's PATH has /usr/sbin; a test runner's environment may not
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if debootstrap is None:
        raise RuntimeError("debootstrap is not installed: run tests/tools/install-deps.sh "
                           "(or apt-get install debootstrap) to build the systemd test node's rootfs")
    with _locked(f".{final.name}.lock"):
        if rootfs_cached():
            return final
        for stale in CACHE_ROOT.glob(f".{final.name}.tmp-*"):
            _safe_rmtree(stale)  # an interrupted build; the lock says nobody is working on it
        tmp = CACHE_ROOT / f".{final.name}.tmp-{os.getpid()}"
        log_path = CACHE_ROOT / f"{final.name}.build.log"
        with open(log_path, "w") as log:
            log.write("$ " + " ".join(debootstrap_argv(str(tmp))) + "\n")
            log.flush()
            try:
                argv = [debootstrap, *debootstrap_argv(str(tmp))[1:]]
                subprocess.run(["unshare", "--mount", "--propagation", "private", "--", *argv],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, check=True,
                               timeout=timeout, env=dict(os.environ, PATH=NODE_PATH, DEBIAN_FRONTEND="noninteractive"))
                subprocess.run(["sh", "-c", _FINISH_SCRIPT, "sh", str(tmp)], stdin=subprocess.DEVNULL,
                               stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
                log.flush()
                tail = log_path.read_text(errors="replace")[-4000:]
                raise RuntimeError(f"building the test node rootfs failed ({e}); {log_path}:\n{tail}") from None
        if final.exists():  # an incomplete entry from an older, non-atomic build
            _safe_rmtree(final)
        os.rename(tmp, final)
    return final


# ----------------------------------------------------------------------------- cgroups

def _cgroup_mounts() -> list[tuple[str, str, str]]:
    """(mount point, fstype, super options) of every cgroup hierarchy mounted in this namespace."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, right = line.split(" - ", 1)
        fstype, _source, superopts = (right.split() + ["", ""])[:3]
        if fstype in ("cgroup", "cgroup2"):
            found.append((left.split()[4], fstype, superopts))
    return found


def _tracking_hierarchies() -> list[str]:
    """The hierarchies systemd tracks processes in (name=systemd on v1, the cgroup2 one): the node
    joins its own cgroup in these. Controller hierarchies are left alone (see _SYSTEM_CONF)."""
    return [mp for mp, fstype, opts in _cgroup_mounts()
            if fstype == "cgroup2" or "name=systemd" in opts.split(",")]


def _cgroup_pids(path: Path) -> list[int]:
    pids = []
    for dirpath, _dirs, files in os.walk(path):
        if "cgroup.procs" in files:
            try:
                pids += [int(p) for p in Path(dirpath, "cgroup.procs").read_text().split()]
            except OSError:
                pass
    return pids


def _remove_cgroup_tree(path: Path, timeout: float = 10) -> None:
    """rmdir path and its children, deepest first; retries while the last processes are being reaped."""
    deadline = time.monotonic() + timeout
    while path.exists():
        busy = None
        for dirpath, _dirs, _files in os.walk(path, topdown=False):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
            except OSError as e:
                busy = e
        if not path.exists():
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"cannot remove cgroup {path}: {busy}; processes: {_cgroup_pids(path)}")
        time.sleep(0.1)


_OWNER_FILE = "owner"


def _process_identity(pid: int) -> Optional[str]:
    """pid and its start time: unlike a bare pid, never matches a later process that reuses the number."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return f"{pid} {stat.rsplit(')', 1)[1].split()[19]}"


def _sweep_stale_nodes() -> None:
    """Removes what nodes of killed test processes left behind (their stop() never ran). Their processes
    died with the test process (setpriv --pdeathsig), their mounts with their mount namespace; what
    remains is a temp dir whose owner process is gone, and cgroups without processes."""
    for d in Path(tempfile.gettempdir()).glob("kdap-node-*"):
        try:
            ident = (d / _OWNER_FILE).read_text().strip()
        except OSError:
            continue  # being set up right now, or kept on purpose (KDAP_KEEP_TMP)
        if not ident or _process_identity(int(ident.split()[0])) == ident:
            continue
        cgroups = [Path(mp) / _CGROUP_BASE / d.name for mp, _fstype, _opts in _cgroup_mounts()]
        if any(_cgroup_pids(cg) for cg in cgroups if cg.exists()):
            continue
        try:
            for cg in cgroups:
                _remove_cgroup_tree(cg, timeout=1)
            _safe_rmtree(d)
        except (OSError, RuntimeError):
            pass
    for mp, _fstype, _opts in _cgroup_mounts():
        base = Path(mp) / _CGROUP_BASE
        if not base.is_dir():
            continue
        for child in base.iterdir():
            if child.is_dir() and not (Path(tempfile.gettempdir()) / child.name).exists() \
                    and not _cgroup_pids(child):
                try:
                    _remove_cgroup_tree(child, timeout=1)
                except RuntimeError:
                    pass


# ----------------------------------------------------------------------------- overlayfs probe

_overlay_ok: Optional[bool] = None


def overlay_available(lower: Path) -> bool:
    """Whether an overlay with lower as its lower layer and an upper dir in the temp dir can be mounted,
    tried for real in a throwaway mount namespace (the kernel may lack overlayfs, or refuse the
    upper filesystem)."""
    global _overlay_ok
    if _overlay_ok is None:
        probe = Path(tempfile.mkdtemp(prefix="kdap-overlay-probe-"))
        try:
            for d in ("upper", "work", "merged"):
                (probe / d).mkdir()
            r = subprocess.run(
                ["unshare", "--mount", "--propagation", "private", "--", "mount", "-t", "overlay", "probe", "-o",
                 f"lowerdir={lower},upperdir={probe}/upper,workdir={probe}/work", str(probe / "merged")],
                capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            _overlay_ok = r.returncode == 0
        finally:
            _safe_rmtree(probe)
    return _overlay_ok


# ----------------------------------------------------------------------------- the node

def _pid_ns(pid: int) -> Optional[str]:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


class SystemdNode:
    """A booted Debian node: systemd is PID 1 of its own PID/mount/UTS/IPC namespaces, sshd listens on
    127.0.0.1:<port> and accepts root with a key generated for this node.

    Attributes once started: host, port, user ("root"), identity_file, known_hosts_file, host_key_pub,
    pid (systemd's pid on the machine), dir (the node's temp dir on the machine), mode ("overlay" or
    "copy"), boot_seconds. Several nodes may run at once; each has its own port, keys and cgroup."""

    def __init__(self, hostname: str = "kdap-node", boot_timeout: float = 60.0, overlay: Optional[bool] = None):
        """overlay: None picks overlayfs when it works here and a full copy otherwise; True/False force one."""
        self.hostname = hostname
        self.boot_timeout = boot_timeout
        self.overlay = overlay
        self.host = harness.LOOPBACK
        self.user = "root"
        self.port = 0
        self.pid = 0
        self.proc: Optional[subprocess.Popen] = None
        self.dir: Optional[Path] = None
        self._pidns: Optional[str] = None
        self._cgroups: list[Path] = []
        self._console_master = self._console_slave = -1
        self._console_buf = bytearray()
        self._console_lock = threading.Lock()
        self._console_stop = threading.Event()
        self._console_thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "SystemdNode":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "SystemdNode":
        """Builds the rootfs if needed, stages this node's configuration, boots and waits until systemd
        reports running (or degraded) and sshd answers on the node's port."""
        if os.geteuid() != 0:
            raise RuntimeError("SystemdNode needs root (namespaces, mounts, cgroups)")
        for tool in ("unshare", "nsenter", "setpriv", "ssh-keygen", "ssh"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found (util-linux / openssh-client)")
        self.lower = ensure_rootfs()
        started = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix="kdap-node-"))
        try:
            self._prepare()
            self._boot()
            self._wait_ready(started + self.boot_timeout)
        except BaseException:
            try:
                self.stop()
            except Exception:
                pass
            raise
        self.boot_seconds = time.monotonic() - started
        return self

    def _prepare(self) -> None:
        assert self.dir is not None
        d = self.dir
        os.chmod(d, 0o755)
        (d / _OWNER_FILE).write_text(_process_identity(os.getpid()) or "")
        use_overlay = self.overlay if self.overlay is not None else overlay_available(self.lower)
        self.mode = "overlay" if use_overlay else "copy"
        if use_overlay:
            for sub in ("upper", "work", "merged"):
                (d / sub).mkdir()
            self._root_dir = d / "merged"
            self._stage = d / "upper"
        else:
            self._root_dir = d / "rootfs"
            subprocess.run(["cp", "-a", "--reflink=auto", str(self.lower), str(self._root_dir)],
                           check=True, timeout=600, stdin=subprocess.DEVNULL)
            self._stage = self._root_dir
        self.host_key_pub = harness._keygen(d / "ssh_host_ed25519_key", f"root@{self.hostname}")
        self.identity_file = str(d / "id_ed25519")
        client_pub = harness._keygen(Path(self.identity_file), "kdap-test-node-client")
        self._stage_file("/etc/ssh/ssh_host_ed25519_key", (d / "ssh_host_ed25519_key").read_bytes(), 0o600)
        self._stage_file("/etc/ssh/ssh_host_ed25519_key.pub", self.host_key_pub + "\n", 0o644)
        self._stage_file("/root/.ssh/authorized_keys", client_pub + "\n", 0o600, dir_mode=0o700)
        self._stage_file("/etc/hostname", self.hostname + "\n")
        self._stage_file("/etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{self.hostname}\n"
                                       "::1\tlocalhost ip6-localhost ip6-loopback\n")
        self._stage_file("/etc/machine-id", uuid.uuid4().hex + "\n", 0o444)
        self._stage_file("/etc/systemd/system.conf.d/kdap-test-node.conf", _SYSTEM_CONF)
        self._stage_file("/etc/systemd/journald.conf.d/kdap-test-node.conf", _JOURNALD_CONF)
        self._stage_file("/etc/systemd/logind.conf.d/kdap-test-node.conf", _LOGIND_CONF)
        for unit in MASKED_UNITS:
            link = self._stage_path("/etc/systemd/system/" + unit)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink("/dev/null", link)
        self.port = harness.free_port()
        self._stage_sshd_config()

    def _stage_path(self, path_in_node: str, dir_mode: Optional[int] = None) -> Path:
        """The staging path of path_in_node, its parent directories created as the rootfs has them.
        An overlay's upper directory decides the merged directory's mode and owner, so a parent made
        with defaults would silently change, say, /root to 0755."""
        rel = PurePosixPath(path_in_node).relative_to("/")
        stage, lower = self._stage, self.lower
        for part in rel.parts[:-1]:
            stage, lower = stage / part, lower / part
            if lower.is_symlink():
                raise ValueError(f"{path_in_node}: {lower} is a symlink in the rootfs; stage the real path")
            if stage.is_dir():
                continue
            stage.mkdir()
            if lower.is_dir():
                st = lower.stat()
                os.chown(stage, st.st_uid, st.st_gid)
                os.chmod(stage, st.st_mode & 0o7777)
            else:
                os.chmod(stage, dir_mode if dir_mode is not None else 0o755)
        return stage / rel.parts[-1]

    def _stage_file(self, path_in_node: str, content: Union[str, bytes], mode: int = 0o644,
                    dir_mode: Optional[int] = None) -> None:
        path = self._stage_path(path_in_node, dir_mode)
        if os.path.lexists(path):
            os.unlink(path)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        os.chmod(path, mode)

    def _sshd_config(self) -> str:
        return "\n".join([
            f"Port {self.port}",
            f"ListenAddress {harness.LOOPBACK}",
            "HostKey /etc/ssh/ssh_host_ed25519_key",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "AuthorizedKeysFile .ssh/authorized_keys",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM yes",
            "AllowTcpForwarding yes",
            "StrictModes no",
            "X11Forwarding no",
            "PrintMotd no",
            "AcceptEnv LANG LC_*",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
        ]) + "\n"

    def _stage_sshd_config(self) -> None:
        self._stage_file("/etc/ssh/sshd_config", self._sshd_config())
        self._write_known_hosts()

    def _write_known_hosts(self) -> None:
        assert self.dir is not None
        key_type, key = self.host_key_pub.split()[:2]
        self.known_hosts_file = str(self.dir / "known_hosts")
        Path(self.known_hosts_file).write_text(f"[{self.host}]:{self.port} {key_type} {key}\n")

    def _boot(self) -> None:
        assert self.dir is not None
        with _locked(".cgroup.lock"):
            _sweep_stale_nodes()
            for mp in _tracking_hierarchies():
                cg = Path(mp) / _CGROUP_BASE / self.dir.name
                cg.mkdir(parents=True, exist_ok=True)
                self._cgroups.append(cg)
        boot = self.dir / "boot.sh"
        boot.write_text(_BOOT_SCRIPT)
        self._console_master, self._console_slave = os.openpty()
        # Raw: the log shows systemd's lines as written, without the terminal's \r\n translation.
        tty.setraw(self._console_slave, termios.TCSANOW)
        console = os.ttyname(self._console_slave)
        self._console_thread = threading.Thread(target=self._read_console, daemon=True,
                                                name=f"console-{self.hostname}")
        self._console_thread.start()
        env = {"PATH": NODE_PATH, "container": "kdap", "TERM": "dumb", "SYSTEMD_COLORS": "0",
               "KDAP_NODE_CGROUP_PROCS": " ".join(str(cg / "cgroup.procs") for cg in self._cgroups)}
        argv = ["setpriv", "--pdeathsig", "KILL", "--", "/bin/sh", str(boot), "outer", self.mode, str(self.lower),
                str(self.dir / "upper"), str(self.dir / "work"), str(self._root_dir), console, self.hostname]
        # setpriv --pdeathsig: the node must not outlive a test process that is killed without stop().
        self.proc = subprocess.Popen(argv, stdin=self._console_slave, stdout=self._console_slave,
                                     stderr=self._console_slave, env=env, cwd="/", start_new_session=True)
        unshare_ns = _pid_ns(self.proc.pid)

        def systemd_pid() -> Optional[int]:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the node's init exited with {self.proc.returncode}; console:\n"
                                   f"{self.console_text()[-4000:]}")
            for child in harness.children(self.proc.pid):
                ns = _pid_ns(child)
                if ns and ns != unshare_ns and (harness.proc_cmdline(child) or [""])[0].endswith("systemd"):
                    return child
            return None

        self.pid = harness.wait_until(systemd_pid, 20, "systemd to become the node's PID 1")
        self._pidns = _pid_ns(self.pid)

    def _read_console(self) -> None:
        """Drains the console pty (a full pty would block systemd's writes) into memory and console.log."""
        assert self.dir is not None
        with open(self.dir / "console.log", "ab") as log:
            while True:
                ready, _, _ = select.select([self._console_master], [], [], 0.2)
                if not ready:
                    if self._console_stop.is_set():
                        return
                    continue
                try:
                    data = os.read(self._console_master, 65536)
                except OSError:
                    return
                if not data:
                    return
                with self._console_lock:
                    self._console_buf += data
                log.write(data)
                log.flush()

    def console_text(self) -> str:
        """What systemd and the boot script wrote to the node's console, without terminal escapes."""
        with self._console_lock:
            raw = bytes(self._console_buf)
        return _ANSI.sub("", raw.decode("utf-8", "replace"))

    def system_state(self) -> str:
        """`systemctl is-system-running`: initializing, starting, running, degraded, ... ("" while
        systemd's control socket is not up yet)."""
        r = self.run(["systemctl", "is-system-running"], timeout=15)
        return r.stdout.strip()

    def _wait_ready(self, deadline: float) -> None:
        def boot_error(what: str) -> RuntimeError:
            failed = ""
            try:
                failed = self.run(["systemctl", "--failed", "--no-legend"], timeout=10).stdout
            except Exception:
                pass
            return RuntimeError(f"test node {self.hostname}: {what} within {self.boot_timeout:.0f}s "
                                f"(state {state!r}); failed units:\n{failed}\nconsole:\n{self.console_text()[-6000:]}")

        state = ""
        while state not in ("running", "degraded"):
            if self.proc is not None and self.proc.poll() is not None:
                raise boot_error("the node's init exited")
            if time.monotonic() >= deadline:
                raise boot_error("systemd did not finish booting")
            time.sleep(0.1)
            state = self.system_state()
        # The port was free when chosen; if something took it meanwhile, sshd failed: take another.
        for _attempt in range(5):
            if self._sshd_answers(deadline):
                return
            if time.monotonic() >= deadline:
                break
            self.port = harness.free_port()
            self.write_file("/etc/ssh/sshd_config", self._sshd_config())
            self._write_known_hosts()
            self.systemctl("reset-failed", "ssh.service", check=False)
            self.systemctl("restart", "ssh.service", check=False)
        raise boot_error(f"sshd did not answer on {self.host}:{self.port}")

    def _sshd_answers(self, deadline: float) -> bool:
        """True once the node's own sshd (not some other process on the port) listens on the port and
        sends its banner; False when ssh.service failed."""
        while time.monotonic() < deadline:
            active = self.run(["systemctl", "is-active", "ssh.service"], timeout=15).stdout.strip()
            if active == "failed":
                return False
            main = self.main_pid("ssh.service") if active == "active" else 0
            hpid = self.host_pid(main) if main else None
            if hpid and (self.host, self.port) in harness.listening_addresses(hpid) and \
                    harness.ssh_banner_answers(self.host, self.port):
                return True
            time.sleep(0.1)
        return False

    def node_pids(self) -> list[int]:
        """Machine pids of every process in the node's PID namespace (found by namespace, not by parent,
        so that nothing escapes by double-forking)."""
        if not self._pidns:
            return []
        return [p for p in harness.all_pids() if _pid_ns(p) == self._pidns and harness.pid_alive(p)]

    def stop(self) -> None:
        """Ends the node: SIGKILL to its PID 1 makes the kernel kill every process of the PID namespace,
        and the mount namespace (overlay, /proc, /sys, /dev binds) goes with its last process. Then
        removes its cgroups and temp dir, and raises if any process, mount or cgroup remains."""
        problems = []
        if self.pid and harness.pid_alive(self.pid):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    harness.kill_tree(self.proc.pid, grace=0.5)
                    try:
                        self.proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        problems.append(f"the node's unshare (pid {self.proc.pid}) did not exit")
        try:
            harness.wait_until(lambda: not self.node_pids(), 15, "the node's processes to be gone")
        except TimeoutError:
            problems.append(f"processes of the node remain: {self.node_pids()}")
        self._console_stop.set()
        if self._console_thread is not None:
            self._console_thread.join(timeout=5)
            self._console_thread = None
        for fd in (self._console_master, self._console_slave):
            if fd >= 0:
                os.close(fd)
        self._console_master = self._console_slave = -1
        if self._cgroups:
            with _locked(".cgroup.lock"):
                for cg in self._cgroups:
                    try:
                        _remove_cgroup_tree(cg)
                    except RuntimeError as e:
                        problems.append(str(e))
                # systemd may have made directories in hierarchies the node never joined
                if self.dir is not None:
                    for mp, _fstype, _opts in _cgroup_mounts():
                        try:
                            _remove_cgroup_tree(Path(mp) / _CGROUP_BASE / self.dir.name)
                        except RuntimeError as e:
                            problems.append(str(e))
                for mp, _fstype, _opts in _cgroup_mounts():
                    try:
                        os.rmdir(Path(mp) / _CGROUP_BASE)
                    except OSError:
                        pass  # absent, or another node still uses it
            self._cgroups = []
        if self.dir is not None:
            mounts = _mounts_under(self.dir)
            if mounts:
                problems.append(f"mounts remain under {self.dir}: {mounts}")
            elif os.environ.get("KDAP_KEEP_TMP"):
                (self.dir / _OWNER_FILE).unlink(missing_ok=True)  # kept on purpose: not stale
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
                if self.dir.exists():
                    problems.append(f"cannot remove {self.dir}")
        self.pid = 0
        self.proc = None
        if problems:
            raise RuntimeError(f"test node {self.hostname} did not stop cleanly: " + "; ".join(problems))

    # ------------------------------------------------------------------ inside the node

    @property
    def root(self) -> str:
        """The node's / as seen from the machine, for reading files while the node runs. It is
        /proc/<pid>/root (the overlay is mounted only in the node's namespace): an absolute symlink
        inside the node resolves against the machine's / through it, so prefer read_file() for paths
        that may contain one."""
        assert self.pid, "the node is not running"
        return f"/proc/{self.pid}/root"

    def run(self, cmd: Union[str, Sequence[str]], timeout: float = 60, input: Union[str, bytes, None] = None,
            check: bool = False) -> subprocess.CompletedProcess:
        """Runs cmd (a shell command line, or an argv) as root inside the node's namespaces and root, via
        nsenter: independent of sshd, so it also works while the node boots. stdout/stderr are text."""
        assert self.pid, "the node is not running"
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        full = ["nsenter", "-t", str(self.pid), "-m", "-u", "-i", "-p", "-r", "-w", "--", *argv]
        data = input.encode() if isinstance(input, str) else input
        # A session of its own: on timeout the whole group goes, including nsenter's child in the node.
        p = subprocess.Popen(full, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_NODE_ENV, cwd="/",
                             start_new_session=True)
        try:
            out, err = p.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.communicate()
            raise TimeoutError(f"in node {self.hostname}: {argv!r} did not finish within {timeout}s") from None
        result = subprocess.CompletedProcess(argv, p.returncode, out.decode("utf-8", "replace"),
                                             err.decode("utf-8", "replace"))
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, argv, result.stdout, result.stderr)
        return result

    def write_file(self, path_in_node: str, content: Union[str, bytes], mode: int = 0o644) -> None:
        """Writes a file inside the node (parents created), replacing it by rename: a running binary or a
        file a service is reading is never seen half-written."""
        self.run(['sh', '-c', 'set -e; mkdir -p -- "$(dirname -- "$1")"; t="$1.kdap-tmp.$$"; cat > "$t"; '
                  'chmod "$2" "$t"; mv -f -- "$t" "$1"', "sh", path_in_node, f"{mode:o}"],
                 input=content.encode() if isinstance(content, str) else content, timeout=120, check=True)

    def read_file(self, path_in_node: str) -> str:
        return self.run(["cat", "--", path_in_node], check=True).stdout

    def install_binary(self, host_path: str, path_in_node: str, mode: int = 0o755) -> None:
        self.write_file(path_in_node, Path(host_path).read_bytes(), mode)

    def systemctl(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        return self.run(["systemctl", *args], timeout=timeout, check=check)

    def unit_property(self, unit: str, prop: str) -> str:
        return self.systemctl("show", "--property", prop, "--value", unit).stdout.strip()

    def main_pid(self, unit: str) -> int:
        """The unit's MainPID as systemd reports it: a pid of the node's namespace (what a process
        inside the node, e.g. dlv started over SSH, sees); 0 when it has none."""
        return int(self.unit_property(unit, "MainPID") or 0)

    def host_pid(self, node_pid: int) -> Optional[int]:
        """The machine pid of the process that is node_pid inside the node, or None."""
        for p in self.node_pids():
            nspid = harness._proc_status_field(p, "NSpid")
            if nspid and int(nspid.split()[-1]) == node_pid:
                return p
        return None

    def journal(self, unit: Optional[str] = None, lines: int = 200) -> str:
        argv = ["journalctl", "--no-pager", "-o", "short", "-n", str(lines)]
        return self.run(argv + (["-u", unit] if unit else []), timeout=30).stdout

    # ------------------------------------------------------------------ ssh

    def ssh_argv(self, *remote: str, known_hosts: Optional[str] = None) -> list[str]:
        """An ssh command line for root@node with strict host key checking (like harness.SshServer's)."""
        return harness.strict_ssh_argv(self, *remote, known_hosts=known_hosts)

    def ssh_run(self, remote: str, timeout: float = 30, known_hosts: Optional[str] = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.ssh_argv(remote, known_hosts=known_hosts), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def ssh_config(self, alias: Optional[str] = None) -> str:
        """An ssh_config(5) block for this node under alias (default: the node's hostname)."""
        return "\n".join([
            f"Host {alias or self.hostname}",
            f"  HostName {self.host}",
            f"  Port {self.port}",
            f"  User {self.user}",
            f"  IdentityFile {self.identity_file}",
            "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.known_hosts_file}",
            "  StrictHostKeyChecking yes",
            "  BatchMode yes",
        ]) + "\n"

    def write_ssh_config(self, path: Optional[str] = None, alias: Optional[str] = None) -> str:
        """Writes ssh_config() to path (default: ssh_config in the node's temp dir); returns the path."""
        assert self.dir is not None
        target = Path(path) if path else self.dir / "ssh_config"
        target.write_text(self.ssh_config(alias))
        os.chmod(target, 0o600)
        return str(target)

    # ------------------------------------------------------------------ recipes

    def install_kubeadm_kubelet(self, binary_host_path: str, kubeadm_flags_env: str,
                                extra_args_file: Optional[str] = None,
                                dropin_dir: str = "/etc/systemd/system/kubelet.service.d",
                                timeout: float = 30) -> int:
        """Lays out a kubelet as kubeadm's packages and `kubeadm init/join` leave it: the binary at
        /usr/bin/kubelet, the package's kubelet.service, the 10-kubeadm.conf drop-in in dropin_dir,
        /var/lib/kubelet/kubeadm-flags.env with kubeadm_flags_env, and, when extra_args_file is given,
        that text as /etc/sysconfig/kubelet (the drop-in's KUBELET_EXTRA_ARGS file). Enables and starts
        it, waits until it runs steadily and returns its MainPID (a pid in the node)."""
        self.install_binary(binary_host_path, "/usr/bin/kubelet")
        self.write_file("/lib/systemd/system/kubelet.service", KUBELET_SERVICE)
        self.write_file(str(PurePosixPath(dropin_dir) / "10-kubeadm.conf"), KUBEADM_DROPIN)
        self.write_file("/var/lib/kubelet/kubeadm-flags.env", kubeadm_flags_env)
        if extra_args_file is not None:
            self.write_file("/etc/sysconfig/kubelet", extra_args_file)
        self.systemctl("daemon-reload")
        self.systemctl("enable", "kubelet.service")
        self.systemctl("start", "kubelet.service")
        return self.wait_unit_running("kubelet.service", timeout=timeout)

    def wait_unit_running(self, unit: str, timeout: float = 30, steady: float = 1.0) -> int:
        """Waits until unit is active/running with the same MainPID for `steady` seconds (a binary that
        rejects its flags is running for a moment before it exits); returns that MainPID."""
        deadline = time.monotonic() + timeout
        seen_pid, since = 0, 0.0
        while time.monotonic() < deadline:
            props = dict(line.split("=", 1) for line in self.systemctl(
                "show", "--property", "ActiveState,SubState,MainPID", unit).stdout.split("\n") if "=" in line)
            pid = int(props.get("MainPID") or 0)
            if props.get("ActiveState") == "active" and props.get("SubState") == "running" and pid:
                if pid != seen_pid:
                    seen_pid, since = pid, time.monotonic()
                elif time.monotonic() - since >= steady:
                    return pid
            else:
                seen_pid = 0
            time.sleep(0.1)
        status = self.systemctl("status", "--no-pager", "-l", unit, check=False).stdout
        raise TimeoutError(f"{unit} did not run steadily within {timeout}s:\n{status}\n"
                           f"journal:\n{self.journal(unit, lines=50)}")

    def install_dlv(self, host_dlv_path: Optional[str] = None) -> str:
        """Copies the machine's dlv to /usr/local/bin/dlv in the node and returns `dlv version` as run
        inside the node. A dynamically linked dlv needs the rootfs's libc; the error then says so."""
        src = host_dlv_path or harness.dlv_path()
        ldd = subprocess.run(["ldd", src], capture_output=True, text=True, timeout=30)
        linkage = "static" if ldd.returncode != 0 or "not a dynamic executable" in ldd.stdout + ldd.stderr \
            else "dynamic"
        self.install_binary(src, "/usr/local/bin/dlv")
        r = self.run(["/usr/local/bin/dlv", "version"], timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"dlv ({linkage}ly linked) does not run in the node: {r.stderr.strip()}\n"
                               f"ldd {src}:\n{ldd.stdout}")
        return r.stdout
