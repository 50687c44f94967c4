"""kdap against a real Kubernetes control plane: etcd, kube-apiserver, kube-scheduler, kube-controller-manager
as static pods and kube-proxy as a DaemonSet, debug builds of v1.35.4, on a lab node with its own network,
mount and UTS namespaces (lab.py), reached over SSH.

    cd tests/lab && sudo python3 -m unittest -v test_lab      # after build.sh; run.sh does both

Environment: KDAP_BIN (default <repo>/build/bin/kdap), KDAP_LAB_BIN (default: the newest build under
/var/cache/kdap-lab/bin), KDAP_LAB_KEEP=1 keeps the lab directory (logs, kdap transcripts) after the run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from pathlib import Path
from typing import Callable, Optional

import lab as lab_module  # also puts tests/e2e on sys.path
import harness
from dap_client import DapTimeout
from kdap_session import ManifestState, dlv_pids, evaluate, initialize, spawn_kdap

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("KDAP_BIN", str(REPO / "build" / "bin" / "kdap"))
GOMODCACHE = lab_module.CACHE / "gomod"
K8S = GOMODCACHE / "k8s.io" / "kubernetes@v1.35.4"
APISERVER = GOMODCACHE / "k8s.io" / "apiserver@v0.35.4"
NODE = lab_module.NODE_NAME

LAB: lab_module.Lab
HOST_BEFORE: dict


def setUpModule():
    global LAB, HOST_BEFORE
    if not harness.kdap_bin():
        raise unittest.SkipTest(f"no kdap binary at {os.environ['KDAP_BIN']}")
    lab_module.cleanup_leftovers()
    HOST_BEFORE = lab_module.host_snapshot()
    fx = harness.build_fixtures()
    LAB = lab_module.Lab(lab_module.lab_bin_dir(), fx.standin)
    signal.signal(signal.SIGTERM, _stop_lab_and_exit)
    LAB.start()


def _stop_lab_and_exit(signum, _frame):
    # unittest turns SystemExit inside a test into an error and goes on; a stopped run must take the node down.
    LAB.stop()
    os._exit(128 + signum)


def tearDownModule():
    LAB.stop()
    after = lab_module.host_snapshot()
    if after != HOST_BEFORE:
        changed = {k: (HOST_BEFORE[k], after[k]) for k in after if after[k] != HOST_BEFORE[k]}
        raise AssertionError(f"the lab changed this machine: {changed}")


def line_in_function(path: Path, function: str, statement: str) -> int:
    """1-based number of the first line that contains `statement` after the line that starts `function`: the
    sources are the module cache's, so lines are found by text, never hard-coded."""
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(function))
    return next(i + 1 for i in range(start, len(lines)) if statement in lines[i])


class Session:
    """One kdap session on the lab node: launch with breakpoints set before configurationDone, then stops,
    evaluation, and a disconnect that restores."""

    def __init__(self, test: unittest.TestCase, name: str, env: Optional[dict] = None):
        self.test = test
        self.tmp = tempfile.mkdtemp(prefix=f"kdap-lab-{name}-")
        LAB.record_dir(self.tmp)
        if not os.environ.get("KDAP_LAB_KEEP"):
            test.addCleanup(shutil.rmtree, self.tmp, True)
        self.client = spawn_kdap(test, self.tmp, "kdap", env)
        initialize(self.client)

    @staticmethod
    def launch_arguments(args: dict) -> dict:
        """`args` on the lab node over SSH, with time limits for debug builds on 2 cores."""
        ssh = LAB.ssh
        return {"host": f"root@{ssh.host}:{ssh.port}", "identityFile": ssh.identity_file,
                "knownHostsFile": ssh.known_hosts_file, "stopTimeout": 180, "startTimeout": 300,
                "dlvTimeout": 300, **args}

    def launch(self, args: dict, set_breakpoints: Callable[[], None], timeout: float = 600) -> None:
        seq = self.client.send({"type": "request", "command": "launch", "arguments": self.launch_arguments(args)})
        self.client.wait_event("initialized", timeout=timeout)
        set_breakpoints()
        self.client.request_ok("configurationDone", timeout=60)
        response = self.client.wait_response(seq, timeout=timeout)
        self.test.assertTrue(response["success"], f"{response}\n{self.log_tail()}")

    def set_source_breakpoint(self, path: Path, line: int, condition: Optional[str] = None) -> dict:
        bp = {"line": line}
        if condition:
            bp["condition"] = condition
        answer = self.client.request_ok("setBreakpoints", {"source": {"path": str(path)}, "breakpoints": [bp]},
                                        timeout=120)
        result = answer["body"]["breakpoints"][0]
        self.test.assertTrue(result["verified"], answer)
        return result

    def clear_source_breakpoints(self, path: Path) -> None:
        self.client.request_ok("setBreakpoints", {"source": {"path": str(path)}, "breakpoints": []}, timeout=60)

    def wait_stop(self, timeout: float = 300) -> tuple[int, dict]:
        stopped = self.client.wait_event("stopped", timeout=timeout)
        self.test.assertIn(stopped["body"]["reason"], ("breakpoint", "function breakpoint"), stopped)
        thread = stopped["body"]["threadId"]
        trace = self.client.request_ok("stackTrace", {"threadId": thread, "startFrame": 0, "levels": 5})
        return thread, trace["body"]["stackFrames"][0]

    def evaluate(self, frame: dict, expression: str) -> str:
        return evaluate(self.client, frame, expression)

    def disconnect(self) -> None:
        self.client.request_ok("disconnect", {"restart": False}, timeout=600)
        self.test.assertEqual(self.client.wait_exit(timeout=60), 0)
        self.client.assert_no_protocol_errors()

    def console(self) -> str:
        return self.client.output("console") + self.client.output("important")

    def log_tail(self) -> str:
        return Path(self.tmp, "kdap.stderr").read_text(errors="replace")[-4000:]


def debuggee_pids(program: str) -> list[int]:
    return [p for p in harness.find_pids([program])
            if os.path.basename((harness.proc_cmdline(harness.proc_ppid(p) or 0) or [""])[0]) == "dlv"]


def manifest_argv(name: str) -> list[str]:
    """command of the manifest's first container, as the kubelet stand-in runs it."""
    text = (LAB.manifest_dir / f"{name}.yaml").read_text()
    block = text.split("  - command:\n", 1)[1].split("    image:", 1)[0]
    return [line.strip()[2:] for line in block.splitlines()]


def node_clean() -> bool:
    parked = LAB.state_dir / "parked"
    sessions = LAB.state_dir / "sessions"
    return (not (parked.is_dir() and os.listdir(parked))
            and not (sessions.is_dir() and [n for n in os.listdir(sessions) if n != "guard.log"]))


class StaticPodTest(unittest.TestCase):
    """kube-apiserver, kube-scheduler and kube-controller-manager, each taken out of its static pod, debugged
    through a breakpoint that the cluster's own traffic hits, and put back byte-identical."""

    def setUp(self):
        # Cleanups run last to first: this one after the session's, once kdap has restored.
        self.addCleanup(LAB.wait_control_plane, timeout=300)

    def run_static_pod(self, name: str, launch: dict, set_breakpoints: Callable[[Session], None],
                       while_running: Callable[[Session], None], env: Optional[dict] = None) -> Session:
        manifest = LAB.manifest_dir / f"{name}.yaml"
        original = ManifestState.of(str(manifest))
        argv = manifest_argv(name)
        old_pid = LAB.kubelet.wait_running(name, timeout=60)
        program = LAB.program(name)
        s = Session(self, name, env)
        s.launch({"target": f"static-pod/{name}", "program": program, **launch}, lambda: set_breakpoints(s))

        # parked, and the debug build runs under dlv with the manifest's arguments
        self.assertFalse(manifest.exists())
        self.assertFalse(harness.pid_alive(old_pid))
        self.assertEqual(LAB.kubelet.running(name), [])
        pids = harness.wait_until(lambda: debuggee_pids(program), 60, f"{name} under dlv")
        expected = argv[1:]
        if launch.get("debugSafeFlags"):
            expected = [a for a in argv[1:] if not a.startswith("--leader-elect=")] + ["--leader-elect=false"]
        self.assertEqual(sorted(harness.proc_cmdline(pids[0])[1:]), sorted(expected))

        while_running(s)
        s.disconnect()

        # restored: same bytes, mode and owner; the component runs again from its manifest
        self.assertEqual(ManifestState.of(str(manifest)), original)
        pid = LAB.kubelet.wait_running(name, timeout=120)
        self.assertEqual(harness.proc_cmdline(pid), argv)
        harness.wait_until(lambda: not dlv_pids(), 30, "dlv to be gone")
        self.assertEqual(debuggee_pids(program), [])
        self.assertTrue(node_clean(), os.listdir(LAB.state_dir))
        return s

    def test_1_kube_apiserver(self):
        get_go = APISERVER / "pkg/endpoints/handlers/get.go"
        line = line_in_function(get_go, "func ListResource(", "ctx := req.Context()")
        # Only `kubectl get ns` lists namespaces with exactly this query; informers add resourceVersion=0.
        condition = 'req.URL.Path == "/api/v1/namespaces" && req.URL.RawQuery == "limit=500"'

        def while_running(s: Session):
            harness.wait_until(LAB.apiserver_ready, 300,
                               "the debugged kube-apiserver to be ready", interval=2)
            thread, frame, kubectl = self.stop_on_kubectl_get_ns(s)
            try:
                self.assertEqual(frame["source"]["path"], str(get_go))
                self.assertEqual(frame["line"], line)
                self.assertIn("ListResource", frame["name"])
                self.assertEqual(s.evaluate(frame, "req.URL.Path"), '"/api/v1/namespaces"')
                self.assertIsNone(kubectl.poll(), "kubectl answered while the API server was stopped")
                s.clear_source_breakpoints(get_go)
                s.client.request_ok("continue", {"threadId": thread})
                out, err = kubectl.communicate(timeout=120)
            finally:
                if kubectl.poll() is None:
                    kubectl.kill()
            self.assertEqual(kubectl.returncode, 0, err)
            self.assertIn("kube-system", out)

        self.run_static_pod("kube-apiserver", {},
                            lambda s: s.set_source_breakpoint(get_go, line, condition), while_running)
        # kdap waits for the process; /readyz takes the API server's start-up on top
        harness.wait_until(LAB.apiserver_ready, 180, "the restored kube-apiserver to be ready", interval=2)

    def stop_on_kubectl_get_ns(self, s: Session) -> tuple[int, dict, subprocess.Popen]:
        """`kubectl get ns` until the breakpoint stops it: just after /readyz says ok, discovery can still
        fail, and kubectl then ends without reaching the list handler."""
        failures = []
        for _ in range(20):
            # No --request-timeout: it would add timeout=… to the query the condition compares.
            kubectl = subprocess.Popen(LAB.kubectl_argv("get", "ns"),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    stopped = s.client.wait_event("stopped", timeout=2)
                except DapTimeout:
                    if kubectl.poll() is None:
                        continue
                    failures.append((kubectl.returncode, kubectl.communicate()))
                    break
                self.assertIn(stopped["body"]["reason"], ("breakpoint",), stopped)
                thread = stopped["body"]["threadId"]
                trace = s.client.request_ok("stackTrace", {"threadId": thread, "startFrame": 0, "levels": 5})
                return thread, trace["body"]["stackFrames"][0], kubectl
            else:
                kubectl.kill()
                self.fail(f"no stop within 120 s of `kubectl get ns`; earlier attempts: {failures}")
            time.sleep(2)
        self.fail(f"`kubectl get ns` never reached the breakpoint: {failures}")

    def test_2_kube_scheduler(self):
        source = K8S / "pkg/scheduler/schedule_one.go"
        line = line_in_function(source, "func (sched *Scheduler) ScheduleOne(",
                                'logger = klog.LoggerWithValues(logger, "pod", klog.KObj(pod))')
        pod = "lab-scheduler-probe"
        self.addCleanup(LAB.kubectl, "delete", "pod", pod, "--force", "--grace-period=0", "--ignore-not-found",
                        check=False)

        def while_running(s: Session):
            LAB.kubectl("run", pod, "--image=registry.k8s.io/pause:3.10", "--restart=Never")
            thread, frame = s.wait_stop()
            self.assertEqual((frame["source"]["path"], frame["line"]), (str(source), line))
            self.assertEqual(s.evaluate(frame, "pod.Name"), f'"{pod}"')
            s.clear_source_breakpoints(source)
            s.client.request_ok("continue", {"threadId": thread})
            # the debugged scheduler goes on to bind the pod to the node
            bound = harness.wait_until(
                lambda: LAB.kubectl_json("get", "pod", pod)["spec"].get("nodeName"), 120, "the pod to be bound")
            self.assertEqual(bound, NODE)

        s = self.run_static_pod("kube-scheduler", {"debugSafeFlags": True},
                                lambda s: s.set_source_breakpoint(source, line, f'pod.Name == "{pod}"'),
                                while_running)
        self.assertIn("--leader-elect=false", s.console())

    def test_3_kube_controller_manager_by_editor_paths(self):
        """Breakpoints set by the editor's paths. The binaries' build info names k8s.io/kubernetes v1.35.4 as
        their main module (Go records the module of the main package), so the editor's workspace is a
        Kubernetes tree: the module's files with the staging modules under staging/src/k8s.io, as in a
        checkout. The editor's module cache (GOMODCACHE in kdap's environment) is another directory than the
        build's. kdap maps all three: the stop comes back in the workspace's file, and a breakpoint in a staging
        module verifies both by its path in the editor's module cache and by the workspace's staging/ copy
        (the checkout's go.mod replaces each staging module with it; the binaries used the published ones)."""
        # Hard links need the file system of the build's module cache.
        editor = Path(tempfile.mkdtemp(prefix="kdap-lab-editor-", dir=lab_module.CACHE))
        LAB.record_dir(str(editor))
        if not os.environ.get("KDAP_LAB_KEEP"):
            self.addCleanup(shutil.rmtree, editor, True)
        workspace, cache = editor / "kubernetes", editor / "gomod"
        subprocess.run(["cp", "-al", str(K8S), str(workspace)], check=True, timeout=300)
        (workspace / "staging" / "src" / "k8s.io").mkdir(parents=True)
        (cache / "k8s.io").mkdir(parents=True)
        for module in sorted((GOMODCACHE / "k8s.io").glob("*@v0.35.4")):
            for target in (workspace / "staging" / "src" / "k8s.io" / module.name.split("@")[0],
                           cache / "k8s.io" / module.name):
                subprocess.run(["cp", "-al", str(module), str(target)], check=True, timeout=300)

        source = workspace / "pkg/controller/deployment/deployment_controller.go"
        line = line_in_function(source, "func (dc *DeploymentController) syncDeployment(",
                                "logger := klog.FromContext(ctx)")
        deployment = "lab-deployment"
        self.addCleanup(self.delete_deployment, deployment)

        def while_running(s: Session):
            LAB.kubectl("create", "deployment", deployment, "--image=registry.k8s.io/pause:3.10")
            thread, frame = s.wait_stop()
            self.assertEqual((frame["source"]["path"], frame["line"]), (str(source), line))
            self.assertEqual(s.evaluate(frame, "key"), f'"default/{deployment}"')
            s.clear_source_breakpoints(source)
            s.client.request_ok("continue", {"threadId": thread})
            # the debugged controller goes on: the Deployment gets its ReplicaSet
            harness.wait_until(lambda: LAB.kubectl_json("get", "rs", "-l", f"app={deployment}")["items"], 120,
                               "the Deployment's ReplicaSet")

        # A staging module is a dependency of its own in these binaries: its files are the module cache's.
        informer = cache / "k8s.io/client-go@v0.35.4/tools/cache/shared_informer.go"
        staged = workspace / "staging/src/k8s.io/client-go/tools/cache/shared_informer.go"
        informer_line = line_in_function(informer, "func (s *sharedIndexInformer) HasSynced() bool",
                                         "s.startedLock.Lock()")

        def set_breakpoints(s: Session):
            for path in (informer, staged):
                s.set_source_breakpoint(path, informer_line)
                s.clear_source_breakpoints(path)
            s.set_source_breakpoint(source, line, f'key == "default/{deployment}"')

        s = self.run_static_pod("kube-controller-manager", {"debugSafeFlags": True, "localRoot": str(workspace)},
                                set_breakpoints, while_running, env=dict(os.environ, GOMODCACHE=str(cache)))
        console = s.console()
        self.assertIn("--leader-elect=false", console)
        self.assertIn(f"source paths: {workspace} → {K8S} (automatic substitutePath", console)
        self.assertIn(f"source paths: {cache} → {GOMODCACHE} (automatic substitutePath", console)
        self.assertIn(f"source paths: {workspace}/staging/src/k8s.io/client-go → "
                      f"{GOMODCACHE}/k8s.io/client-go@v0.35.4 (automatic substitutePath", console)

    def delete_deployment(self, name: str):
        LAB.kubectl("delete", "deployment", name, "--ignore-not-found", check=False)
        LAB.kubectl("delete", "pods", "-l", f"app={name}", "--force", "--grace-period=0", "--ignore-not-found",
                    check=False)


def daemonset_spec(ds: dict) -> str:
    spec = dict(ds["spec"])
    spec.pop("templateGeneration", None)
    return json.dumps(spec, sort_keys=True)


class DaemonSetTest(unittest.TestCase):
    def setUp(self):
        # Cleanups run last to first: this one after the session's, once kdap has restored.
        self.addCleanup(LAB.wait_control_plane, timeout=300)

    def test_4_kube_proxy(self):
        before = LAB.kubectl_json("-n", "kube-system", "get", "ds", "kube-proxy")
        pod, pid = LAB.wait_kube_proxy(timeout=120)
        program = LAB.program("kube-proxy")
        s = Session(self, "kube-proxy")
        function = "k8s.io/kubernetes/pkg/proxy/iptables.(*Proxier).syncProxyRules"

        def set_breakpoints():
            answer = s.client.request_ok("setFunctionBreakpoints", {"breakpoints": [{"name": function}]},
                                         timeout=120)
            self.assertTrue(answer["body"]["breakpoints"][0]["verified"], answer)

        s.launch({"target": "daemonset/kube-proxy", "program": program}, set_breakpoints)

        # the DaemonSet keeps off this node only, its pod and process are gone, the debug build runs with the
        # ConfigMap's configuration
        during = LAB.kubectl_json("-n", "kube-system", "get", "ds", "kube-proxy")
        self.assertEqual(during["metadata"]["annotations"].get("kdap/parked-on-node"), NODE)
        self.assertEqual(during["spec"]["updateStrategy"]["type"], "OnDelete")
        self.assertEqual(LAB.kube_proxy_pods(), [])
        self.assertFalse(harness.pid_alive(pid))
        debuggee = harness.wait_until(lambda: debuggee_pids(program), 60, "kube-proxy under dlv")[0]
        argv = harness.proc_cmdline(debuggee)
        self.assertIn(f"--hostname-override={NODE}", argv)
        config = next(a.split("=", 1)[1] for a in argv if a.startswith("--config="))
        self.assertTrue(config.startswith("/var/lib/kdap/daemonset/kube-system/kube-proxy/"), argv)

        thread, frame = s.wait_stop(timeout=300)
        self.assertIn("syncProxyRules", frame["name"])
        self.assertEqual(s.evaluate(frame, "proxier.nodeName"), f'"{NODE}"')
        s.client.request_ok("setFunctionBreakpoints", {"breakpoints": []}, timeout=60)
        s.client.request_ok("continue", {"threadId": thread})
        # the debug build writes the node's rules, in the node's network namespace only
        harness.wait_until(lambda: "KUBE-SERVICES" in LAB.node_run("iptables-save -t nat").stdout, 120,
                           "kube-proxy's KUBE-SERVICES chain in the node")
        s.disconnect()

        after = LAB.kubectl_json("-n", "kube-system", "get", "ds", "kube-proxy")
        self.assertEqual(daemonset_spec(after), daemonset_spec(before))
        self.assertNotIn("kdap/parked-on-node", after["metadata"].get("annotations", {}))
        new_pod, _ = LAB.wait_kube_proxy(timeout=180)
        self.assertNotEqual(new_pod, pod)
        harness.wait_until(lambda: not dlv_pids(), 30, "dlv to be gone")
        self.assertEqual(debuggee_pids(program), [])
        self.assertTrue(node_clean(), os.listdir(LAB.state_dir))
        self.assertFalse((LAB.state_dir / "daemonset" / "kube-system" / "kube-proxy").exists())


# An admission policy that refuses any DaemonSet carrying kdap's annotation: the API server then refuses kdap's
# park patch, as it would for a user whose RBAC or policies forbid it.
REFUSE_PARK = """
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: kdap-lab-refuse-park}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [UPDATE], resources: [daemonsets]}
  validations:
  - expression: "!has(object.metadata.annotations) || !('kdap/parked-on-node' in object.metadata.annotations)"
    message: the lab refuses to park this DaemonSet
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: kdap-lab-refuse-park}
spec:
  policyName: kdap-lab-refuse-park
  validationActions: [Deny]
"""


def kube_proxy_ds() -> dict:
    return LAB.kubectl_json("-n", "kube-system", "get", "ds", "kube-proxy")


def kdap_annotation(ds: dict) -> Optional[str]:
    return (ds["metadata"].get("annotations") or {}).get("kdap/parked-on-node")


class DaemonSetFailureTest(unittest.TestCase):
    """The DaemonSet's ways out other than a disconnect: a park the API server refuses, and kdap killed while the
    DaemonSet is kept off the node, with and without an operator having put it back by hand first."""

    def setUp(self):
        self.addCleanup(LAB.wait_control_plane, timeout=300)
        self.before = kube_proxy_ds()
        self.pod, self.pid = LAB.wait_kube_proxy(timeout=120)
        self.program = LAB.program("kube-proxy")
        self.files = LAB.state_dir / "daemonset" / "kube-system" / "kube-proxy"

    def assert_node_as_before(self, same_pod: bool) -> None:
        after = kube_proxy_ds()
        self.assertEqual(daemonset_spec(after), daemonset_spec(self.before))
        self.assertIsNone(kdap_annotation(after))
        pod, pid = LAB.wait_kube_proxy(timeout=180)
        if same_pod:
            self.assertEqual((pod, pid), (self.pod, self.pid))
        harness.wait_until(lambda: not dlv_pids(), 60, "dlv to be gone")
        self.assertEqual(debuggee_pids(self.program), [])
        harness.wait_until(node_clean, 60, "the node's session state to be gone")
        self.assertFalse(self.files.exists())

    def parked_session(self, name: str) -> Session:
        s = Session(self, name)
        s.launch({"target": "daemonset/kube-proxy", "program": self.program}, lambda: None)
        self.assertEqual(kdap_annotation(kube_proxy_ds()), NODE)
        harness.wait_until(lambda: debuggee_pids(self.program), 60, "kube-proxy under dlv")
        return s

    def kill_kdap(self, s: Session) -> None:
        """SIGKILL: no disconnect, no restore by kdap; the SSH connection ends and the node's guard takes over."""
        s.client.proc.kill()
        s.client.proc.wait(timeout=30)

    def test_5_refused_park_changes_nothing(self):
        LAB.kubectl("apply", "-f", "-", stdin=REFUSE_PARK)
        self.addCleanup(LAB.kubectl, "delete", "validatingadmissionpolicybinding/kdap-lab-refuse-park",
                        "validatingadmissionpolicy/kdap-lab-refuse-park", "--ignore-not-found", check=False)

        def refused() -> bool:  # the policy counts once the API server has loaded it
            r = LAB.kubectl("-n", "kube-system", "patch", "ds", "kube-proxy", "--dry-run=server", "--type=merge",
                            "-p", '{"metadata":{"annotations":{"kdap/parked-on-node":"probe"}}}', check=False)
            return r.returncode != 0 and "refuses to park" in r.stderr
        harness.wait_until(refused, 60, "the admission policy to take effect", interval=0.5)

        s = Session(self, "kube-proxy-refused")
        seq = s.client.send({"type": "request", "command": "launch", "arguments": s.launch_arguments(
            {"target": "daemonset/kube-proxy", "program": self.program})})
        answer = s.client.wait_response(seq, timeout=300)
        self.assertFalse(answer["success"], answer)
        error = answer["body"]["error"]
        self.assertTrue(error.get("showUser"), answer)
        self.assertIn("could not patch daemonset kube-system/kube-proxy", error["format"])
        self.assertIn("the lab refuses to park this DaemonSet", error["format"])  # the API server's reason
        self.assert_node_as_before(same_pod=True)
        s.disconnect()

    def test_6_guard_restores_when_kdap_is_killed(self):
        s = self.parked_session("kube-proxy-killed")
        self.kill_kdap(s)
        harness.wait_until(lambda: kdap_annotation(kube_proxy_ds()) is None, 120,
                           "the guard to patch the DaemonSet back", interval=1)
        self.assert_node_as_before(same_pod=False)

    def test_7_guard_leaves_a_daemonset_put_back_by_hand(self):
        s = self.parked_session("kube-proxy-by-hand")
        # an operator puts the DaemonSet back as it was, spec and annotations, while the session runs
        by_hand = json.loads(json.dumps(self.before))
        for key in ("resourceVersion", "managedFields", "generation", "uid", "creationTimestamp"):
            by_hand["metadata"].pop(key, None)
        by_hand.pop("status", None)
        LAB.kubectl("replace", "-f", "-", stdin=json.dumps(by_hand))
        put_back = kube_proxy_ds()
        self.kill_kdap(s)
        # The guard's undo must see that kdap's annotation is gone and patch nothing: its patch would fail its
        # own tests on this DaemonSet, and the guard would keep retrying instead of ending the session.
        harness.wait_until(node_clean, 120, "the guard to end the session", interval=1)
        after = kube_proxy_ds()
        self.assertEqual(after["metadata"]["generation"], put_back["metadata"]["generation"])
        self.assert_node_as_before(same_pod=False)


class ZzClusterHealthTest(unittest.TestCase):
    """Runs last (unittest orders classes by name): after every session the cluster works as before."""

    def test_9_cluster_healthy(self):
        LAB.wait_control_plane(timeout=300)
        for name in lab_module.COMPONENTS:
            pids = LAB.kubelet.running(name)
            self.assertEqual(len(pids), 1, (name, pids))
            self.assertEqual(harness.proc_cmdline(pids[0]), manifest_argv(name))
        self.assertEqual(sorted(os.listdir(LAB.manifest_dir)), sorted(f"{c}.yaml" for c in lab_module.COMPONENTS))
        LAB.wait_kube_proxy(timeout=120)
        ds = LAB.kubectl_json("-n", "kube-system", "get", "ds", "kube-proxy")
        self.assertEqual(ds["spec"]["updateStrategy"]["type"], "RollingUpdate")
        nodes = LAB.kubectl_json("get", "nodes")["items"]
        self.assertEqual([n["metadata"]["name"] for n in nodes], [NODE])
        ready = [c for c in nodes[0]["status"]["conditions"] if c["type"] == "Ready"]
        self.assertEqual(ready[0]["status"], "True")
        # the cluster still schedules and reconciles
        name = "lab-health"
        try:
            LAB.kubectl("create", "deployment", name, "--image=registry.k8s.io/pause:3.10")
            harness.wait_until(lambda: [p for p in LAB.kubectl_json("get", "pods", "-l", f"app={name}")["items"]
                                        if p["spec"].get("nodeName") == NODE], 120, "a scheduled pod")
        finally:
            LAB.kubectl("delete", "deployment", name, "--ignore-not-found", check=False)
            LAB.kubectl("delete", "pods", "-l", f"app={name}", "--force", "--grace-period=0", check=False)
        self.assertTrue(node_clean())
        self.assertEqual(dlv_pids(), [])


if __name__ == "__main__":
    unittest.main()
