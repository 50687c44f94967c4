#!/usr/bin/env python3
"""A STAND-IN for the kubelet's handling of DaemonSet pods on the lab node (there is no kubelet and no container
runtime in the lab). It does only what kdap's DaemonSet target depends on:

- every DaemonSet-owned pod bound to this node runs as a plain process: the container's command and args with
  $(VAR) expanded (fieldRef values of this node and pod), ConfigMap volumes written to files and every reference
  to their mount paths rewritten to those files, an in-cluster kubeconfig (service-account token) replaced by
  --kubeconfig, and command[0] taken from --bin-dir by its base name, since the image's binary is not on the node;
- a started pod is reported Running (status subresource), an exited process is restarted;
- a pod with a deletionTimestamp has its process stopped (SIGTERM, SIGKILL after its grace period, at most
  --max-grace) and is then deleted with grace period 0, as the kubelet does once the containers are gone;
- the Node's lease is renewed and its Ready condition posted, so that the node lifecycle controller keeps the
  node Ready.

Stdlib only; it talks to the API server with the client certificate of --kubeconfig.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import datetime as dt
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
PR_SET_PDEATHSIG = 1


def log(message: str) -> None:
    stamp = dt.datetime.now().strftime("%H:%M:%S.%f")[:-3]
    print(f"{stamp} daemonset-standin: {message}", file=sys.stderr, flush=True)


def now_rfc3339() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Api:
    """Just enough of a Kubernetes client: JSON over HTTPS with the kubeconfig's client certificate."""

    def __init__(self, kubeconfig: str, timeout: float = 5):
        text = open(kubeconfig).read()

        def field(name: str) -> str:
            m = re.search(rf"^\s*{name}:\s*(\S+)\s*$", text, re.M)
            if not m:
                raise SystemExit(f"{kubeconfig} has no {name}")
            return m.group(1)

        self.server = field("server").rstrip("/")
        self.timeout = timeout
        self._dir = tempfile.mkdtemp(prefix="kdap-lab-ds-standin-")
        cert, key = os.path.join(self._dir, "client.crt"), os.path.join(self._dir, "client.key")
        for path, name in ((cert, "client-certificate-data"), (key, "client-key-data")):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64decode(field(name)))
        self.context = ssl.create_default_context(cadata=base64.b64decode(field("certificate-authority-data")).decode())
        self.context.load_cert_chain(cert, key)

    def close(self) -> None:
        for name in os.listdir(self._dir):
            os.unlink(os.path.join(self._dir, name))
        os.rmdir(self._dir)

    def request(self, method: str, path: str, body: Optional[dict] = None,
                content_type: str = "application/json") -> Optional[dict]:
        """The decoded answer; None for 404."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method,
                                     headers={"Accept": "application/json", "Content-Type": content_type,
                                              "User-Agent": "kdap-lab-daemonset-standin"})
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise RuntimeError(f"{method} {path}: HTTP {e.code}: {e.read()[:300]!r}") from None


class PodProcess:
    def __init__(self, pod: dict, proc: subprocess.Popen, log_file):
        self.pod = pod
        self.proc = proc
        self.log_file = log_file
        self.reported = False
        self.restart_at = 0.0

    def stop(self, grace: float) -> None:
        if self.proc.poll() is None:
            log(f"pod {self.name}: stopping pid {self.proc.pid} (SIGTERM, SIGKILL after {grace:g}s)")
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log_file.close()

    @property
    def name(self) -> str:
        return self.pod["metadata"]["name"]


class Standin:
    def __init__(self, args):
        self.args = args
        self.api = Api(args.kubeconfig)
        self.pods: dict[str, PodProcess] = {}
        self.stopping = False
        self.next_lease = 0.0
        self.next_status = 0.0
        os.makedirs(args.work_dir, exist_ok=True)
        os.makedirs(args.log_dir, exist_ok=True)

    # ----- the node
    def heartbeat(self) -> None:
        node, now = self.args.node_name, time.monotonic()
        if now >= self.next_lease:
            path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}"
            if self.api.request("GET", path) is None:
                self.api.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": node, "namespace": "kube-node-lease"},
                    "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now_micro()}})
            else:
                self.api.request("PATCH", path, {"spec": {"renewTime": now_micro()}},
                                 "application/merge-patch+json")
            self.next_lease = now + 10
        if now >= self.next_status:
            stamp = now_rfc3339()
            resources = {"cpu": "2", "memory": "8Gi", "pods": "110", "ephemeral-storage": "20Gi"}
            self.api.request("PATCH", f"/api/v1/nodes/{node}/status", {"status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "daemonset-standin is posting ready status",
                                "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}],
                "addresses": [{"type": "InternalIP", "address": self.args.node_ip},
                              {"type": "Hostname", "address": node}],
                "capacity": resources, "allocatable": resources,
                "nodeInfo": {"kubeletVersion": self.args.kubelet_version, "kubeProxyVersion": "",
                             "operatingSystem": "linux", "architecture": "amd64", "containerRuntimeVersion": "",
                             "kernelVersion": os.uname().release, "osImage": "kdap lab", "machineID": "",
                             "systemUUID": "", "bootID": ""}}}, "application/strategic-merge-patch+json")
            self.next_status = now + 20

    # ----- pods
    def owned_by_daemonset(self, pod: dict) -> bool:
        return any(o.get("kind") == "DaemonSet" for o in pod["metadata"].get("ownerReferences", []))

    def field_ref(self, pod: dict, path: str) -> str:
        values = {"spec.nodeName": pod["spec"].get("nodeName", ""), "metadata.name": pod["metadata"]["name"],
                  "metadata.namespace": pod["metadata"]["namespace"], "metadata.uid": pod["metadata"]["uid"],
                  "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
                  "status.hostIP": self.args.node_ip, "status.podIP": self.args.node_ip}
        if path not in values:
            raise RuntimeError(f"fieldRef {path} is not supported")
        return values[path]

    def materialise(self, pod: dict, container: dict) -> tuple[list[str], dict[str, str]]:
        """argv and env of the container on this node."""
        ns, uid = pod["metadata"]["namespace"], pod["metadata"]["uid"]
        root = os.path.join(self.args.work_dir, f"{ns}_{pod['metadata']['name']}_{uid}")
        env: dict[str, str] = {}
        for e in container.get("env", []):
            if "value" in e:
                env[e["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), e["value"])
            elif "fieldRef" in e.get("valueFrom", {}):
                env[e["name"]] = self.field_ref(pod, e["valueFrom"]["fieldRef"]["fieldPath"])
        volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
        mounts: list[tuple[str, str]] = []  # (path in the pod, path on the node)
        files: list[str] = []
        in_cluster: list[str] = []
        for m in container.get("volumeMounts", []):
            vol = volumes.get(m["name"], {})
            if "hostPath" in vol:
                mounts.append((m["mountPath"], vol["hostPath"]["path"]))
            elif "configMap" in vol:
                cm = self.api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{vol['configMap']['name']}")
                if cm is None:
                    raise RuntimeError(f"ConfigMap {ns}/{vol['configMap']['name']} does not exist")
                target = os.path.join(root, m["name"])
                os.makedirs(target, exist_ok=True)
                items = vol["configMap"].get("items") or [{"key": k, "path": k} for k in cm.get("data", {})]
                for item in items:
                    path = os.path.join(target, item["path"])
                    content = cm.get("data", {}).get(item["key"], "")
                    with open(path, "w") as f:
                        f.write(content)
                    files.append(path)
                    if SERVICE_ACCOUNT_DIR in content:
                        in_cluster.append(m["mountPath"].rstrip("/") + "/" + item["path"])
                mounts.append((m["mountPath"], target))
        # An in-cluster kubeconfig names a token this node does not have.
        rules = [(p, self.args.kubeconfig) for p in in_cluster]
        rules += sorted(((a.rstrip("/") + "/", b.rstrip("/") + "/") for a, b in mounts), key=lambda r: -len(r[0]))

        def rewrite(text: str) -> str:
            for old, new in rules:
                text = text.replace(old, new)
            return text

        for path in files:
            with open(path) as f:
                content = f.read()
            with open(path, "w") as f:
                f.write(rewrite(content))

        def expand(arg: str) -> str:
            return re.sub(r"\$\$|\$\((\w+)\)",
                          lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), arg)

        argv = [rewrite(expand(a)) for a in container.get("command", []) + container.get("args", [])]
        if not argv:
            raise RuntimeError("the container has no command")
        argv[0] = os.path.join(self.args.bin_dir, os.path.basename(argv[0]))
        return argv, {k: rewrite(v) for k, v in env.items()}

    def container_of(self, pod: dict) -> dict:
        wanted = pod["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/default-container")
        for c in pod["spec"]["containers"]:
            if c["name"] == wanted:
                return c
        return pod["spec"]["containers"][0]

    def start(self, pod: dict) -> None:
        ns, name, uid = pod["metadata"]["namespace"], pod["metadata"]["name"], pod["metadata"]["uid"]
        container = self.container_of(pod)
        argv, env = self.materialise(pod, container)
        log_path = os.path.join(self.args.log_dir, f"{ns}_{name}.log")
        log_file = open(log_path, "ab")

        def child_setup():
            os.setsid()
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                env=dict(os.environ, **env), preexec_fn=child_setup)
        log(f"pod {ns}/{name}: started pid {proc.pid}: {' '.join(argv)}")
        self.pods[uid] = PodProcess(pod, proc, log_file)

    def report_running(self, run: PodProcess) -> None:
        pod = run.pod
        stamp = now_rfc3339()
        ip = self.args.node_ip
        container = self.container_of(pod)
        conditions = [{"type": t, "status": "True", "lastTransitionTime": stamp}
                      for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                                "PodScheduled")]
        self.api.request("PATCH", f"/api/v1/namespaces/{pod['metadata']['namespace']}/pods/"
                                  f"{pod['metadata']['name']}/status", {"status": {
            "phase": "Running", "hostIP": ip, "hostIPs": [{"ip": ip}], "podIP": ip, "podIPs": [{"ip": ip}],
            "startTime": stamp, "conditions": conditions,
            "containerStatuses": [{"name": container["name"], "ready": True, "started": True,
                                   "restartCount": 0, "image": container.get("image", ""), "imageID": "",
                                   "containerID": f"standin://{run.proc.pid}",
                                   "state": {"running": {"startedAt": stamp}}}]}},
            "application/merge-patch+json")
        run.reported = True

    def finish_deletion(self, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        run = self.pods.pop(uid, None)
        grace = min(float(pod["metadata"].get("deletionGracePeriodSeconds") or 0) or self.args.max_grace,
                    self.args.max_grace)
        if run:
            run.stop(grace)
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        self.api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}",
                         {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                          "preconditions": {"uid": uid}})
        log(f"pod {ns}/{name}: deleted (grace period 0) after its process ended")

    def sync(self) -> None:
        selector = urllib.parse.quote(f"spec.nodeName={self.args.node_name}")
        listing = self.api.request("GET", f"/api/v1/pods?fieldSelector={selector}") or {}
        seen = set()
        for pod in listing.get("items", []):
            if not self.owned_by_daemonset(pod):
                continue
            uid = pod["metadata"]["uid"]
            if pod["metadata"].get("deletionTimestamp"):
                self.finish_deletion(pod)
                continue
            seen.add(uid)
            run = self.pods.get(uid)
            if run is None:
                self.start(pod)
                run = self.pods[uid]
            elif run.proc.poll() is not None:
                if not run.restart_at:
                    log(f"pod {run.name}: pid {run.proc.pid} exited with {run.proc.returncode}; restarting")
                    run.restart_at = time.monotonic() + 1
                elif time.monotonic() >= run.restart_at:
                    run.log_file.close()
                    del self.pods[uid]
                    self.start(pod)
                    run = self.pods[uid]
            if not run.reported and run.proc.poll() is None:
                self.report_running(run)
        for uid in [u for u in self.pods if u not in seen]:
            run = self.pods.pop(uid)
            log(f"pod {run.name}: gone from the API server")
            run.stop(self.args.max_grace)

    def run(self) -> int:
        log(f"STAND-IN for the kubelet's DaemonSet pods on node {self.args.node_name} "
            f"(API server {self.api.server}, programs from {self.args.bin_dir})")
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        last_error = ""
        while not self.stopping:
            try:
                self.heartbeat()
                self.sync()
                last_error = ""
            except (OSError, RuntimeError, ValueError, urllib.error.URLError) as e:
                # The API server is away while it is debugged or restarted: keep the pods, try again.
                if str(e) != last_error:
                    log(f"API server: {e}")
                    last_error = str(e)
            time.sleep(self.args.poll)
        for run in self.pods.values():
            run.stop(self.args.max_grace)
        self.api.close()
        log("stopped")
        return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kubeconfig", required=True, help="admin kubeconfig with embedded client certificate")
    p.add_argument("--node-name", required=True)
    p.add_argument("--node-ip", required=True)
    p.add_argument("--bin-dir", required=True, help="where the pods' programs are, by base name")
    p.add_argument("--work-dir", required=True, help="where ConfigMap volumes are written")
    p.add_argument("--log-dir", required=True, help="<namespace>_<pod>.log for each pod's output")
    p.add_argument("--kubelet-version", default="v1.35.4")
    p.add_argument("--poll", type=float, default=1.0)
    p.add_argument("--max-grace", type=float, default=10.0)
    return Standin(p.parse_args()).run()


if __name__ == "__main__":
    sys.exit(main())
