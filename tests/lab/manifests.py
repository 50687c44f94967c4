"""What `kubeadm init` writes for a single control-plane node (static-pod manifests) and what it creates in the
cluster for kube-proxy (DaemonSet, ConfigMap, ServiceAccount), for the lab's addresses. The shapes follow kubeadm
v1.35; the kube-proxy objects follow a kubeadm cluster's `kubectl get -o yaml` output, brought to today's fields."""

from __future__ import annotations

import json
from typing import Sequence

K8S_VERSION = "v1.35.4"
ETCD_IMAGE_TAG = "3.6.6-0"
SERVICE_CIDR = "10.96.0.0/12"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"


def _probe(kind: str, host: str, path: str, port: int, scheme: str, threshold: int) -> str:
    return f"""    {kind}:
      failureThreshold: {threshold}
      httpGet:
        host: {host}
        path: {path}
        port: {port}
        scheme: {scheme}
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
"""


def _pod(name: str, command: Sequence[str], image: str, probes: tuple[str, str, str],
         mounts: Sequence[tuple[str, str, str, bool]], cpu: str, annotations: str = "") -> str:
    """probes: liveness, readiness, startup (each may be ""); mounts: (volume name, host path, hostPath type,
    read-only). Keys in kubeadm's (alphabetical) order."""
    liveness, readiness, startup = probes
    cmd = "".join(f"    - {a}\n" for a in command)
    vm = "".join(f"    - mountPath: {path}\n      name: {vol}\n" + ("      readOnly: true\n" if ro else "")
                 for vol, path, _, ro in mounts)
    vols = "".join(f"  - hostPath:\n      path: {path}\n      type: {typ}\n    name: {vol}\n"
                   for vol, path, typ, _ in sorted(mounts))
    return f"""apiVersion: v1
kind: Pod
metadata:
{annotations}  labels:
    component: {name}
    tier: control-plane
  name: {name}
  namespace: kube-system
spec:
  containers:
  - command:
{cmd}    image: {image}
    imagePullPolicy: IfNotPresent
{liveness}    name: {name}
{readiness}    resources:
      requests:
        cpu: {cpu}
{startup}    volumeMounts:
{vm}  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
{vols}status: {{}}
"""


def etcd(node_name: str, node_ip: str) -> str:
    command = [
        "etcd",
        f"--advertise-client-urls=https://{node_ip}:2379",
        "--cert-file=/etc/kubernetes/pki/etcd/server.crt",
        "--client-cert-auth=true",
        "--data-dir=/var/lib/etcd",
        "--feature-gates=InitialCorruptCheck=true",
        f"--initial-advertise-peer-urls=https://{node_ip}:2380",
        f"--initial-cluster={node_name}=https://{node_ip}:2380",
        "--key-file=/etc/kubernetes/pki/etcd/server.key",
        f"--listen-client-urls=https://127.0.0.1:2379,https://{node_ip}:2379",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        f"--listen-peer-urls=https://{node_ip}:2380",
        f"--name={node_name}",
        "--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt",
        "--peer-client-cert-auth=true",
        "--peer-key-file=/etc/kubernetes/pki/etcd/peer.key",
        "--peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
        "--snapshot-count=10000",
        "--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt",
        "--watch-progress-notify-interval=5s",
    ]
    probes = (_probe("livenessProbe", "127.0.0.1", "/livez", 2381, "HTTP", 8),
              _probe("readinessProbe", "127.0.0.1", "/readyz", 2381, "HTTP", 3),
              _probe("startupProbe", "127.0.0.1", "/readyz", 2381, "HTTP", 24))
    annotations = f"  annotations:\n    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://{node_ip}:2379\n"
    mounts = [("etcd-data", "/var/lib/etcd", "DirectoryOrCreate", False),
              ("etcd-certs", "/etc/kubernetes/pki/etcd", "DirectoryOrCreate", False)]
    return _pod("etcd", command, f"registry.k8s.io/etcd:{ETCD_IMAGE_TAG}", probes, mounts, "100m", annotations)


def kube_apiserver(node_ip: str) -> str:
    command = [
        "kube-apiserver",
        f"--advertise-address={node_ip}",
        "--allow-privileged=true",
        "--authorization-mode=Node,RBAC",
        "--client-ca-file=/etc/kubernetes/pki/ca.crt",
        "--enable-admission-plugins=NodeRestriction",
        "--enable-bootstrap-token-auth=true",
        "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt",
        "--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key",
        "--etcd-servers=https://127.0.0.1:2379",
        "--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt",
        "--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        "--proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt",
        "--proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User",
        "--secure-port=6443",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file=/etc/kubernetes/pki/sa.pub",
        "--service-account-signing-key-file=/etc/kubernetes/pki/sa.key",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt",
        "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
    ]
    probes = (_probe("livenessProbe", node_ip, "/livez", 6443, "HTTPS", 8),
              _probe("readinessProbe", node_ip, "/readyz", 6443, "HTTPS", 3),
              _probe("startupProbe", node_ip, "/livez", 6443, "HTTPS", 24))
    annotations = ("  annotations:\n"
                   f"    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: {node_ip}:6443\n")
    mounts = [("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate", True),
              ("etc-ca-certificates", "/etc/ca-certificates", "DirectoryOrCreate", True),
              ("k8s-certs", "/etc/kubernetes/pki", "DirectoryOrCreate", True),
              ("usr-local-share-ca-certificates", "/usr/local/share/ca-certificates", "DirectoryOrCreate", True),
              ("usr-share-ca-certificates", "/usr/share/ca-certificates", "DirectoryOrCreate", True)]
    return _pod("kube-apiserver", command, f"registry.k8s.io/kube-apiserver:{K8S_VERSION}", probes, mounts,
                "250m", annotations)


def kube_controller_manager() -> str:
    conf = "/etc/kubernetes/controller-manager.conf"
    command = [
        "kube-controller-manager",
        "--allocate-node-cidrs=true",
        f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}",
        "--bind-address=127.0.0.1",
        "--client-ca-file=/etc/kubernetes/pki/ca.crt",
        f"--cluster-cidr={POD_CIDR}",
        "--cluster-name=kubernetes",
        "--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt",
        "--cluster-signing-key-file=/etc/kubernetes/pki/ca.key",
        "--controllers=*,bootstrapsigner,tokencleaner",
        f"--kubeconfig={conf}",
        "--leader-elect=true",
        "--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt",
        "--root-ca-file=/etc/kubernetes/pki/ca.crt",
        "--service-account-private-key-file=/etc/kubernetes/pki/sa.key",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--use-service-account-credentials=true",
    ]
    probes = (_probe("livenessProbe", "127.0.0.1", "/healthz", 10257, "HTTPS", 8), "",
              _probe("startupProbe", "127.0.0.1", "/healthz", 10257, "HTTPS", 24))
    mounts = [("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate", True),
              ("etc-ca-certificates", "/etc/ca-certificates", "DirectoryOrCreate", True),
              ("flexvolume-dir", "/usr/libexec/kubernetes/kubelet-plugins/volume/exec", "DirectoryOrCreate", False),
              ("k8s-certs", "/etc/kubernetes/pki", "DirectoryOrCreate", True),
              ("kubeconfig", conf, "FileOrCreate", True),
              ("usr-local-share-ca-certificates", "/usr/local/share/ca-certificates", "DirectoryOrCreate", True),
              ("usr-share-ca-certificates", "/usr/share/ca-certificates", "DirectoryOrCreate", True)]
    return _pod("kube-controller-manager", command, f"registry.k8s.io/kube-controller-manager:{K8S_VERSION}",
                probes, mounts, "200m")


def kube_scheduler() -> str:
    conf = "/etc/kubernetes/scheduler.conf"
    command = [
        "kube-scheduler",
        f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}",
        "--bind-address=127.0.0.1",
        f"--kubeconfig={conf}",
        "--leader-elect=true",
    ]
    probes = (_probe("livenessProbe", "127.0.0.1", "/livez", 10259, "HTTPS", 8),
              _probe("readinessProbe", "127.0.0.1", "/readyz", 10259, "HTTPS", 3),
              _probe("startupProbe", "127.0.0.1", "/livez", 10259, "HTTPS", 24))
    mounts = [("kubeconfig", conf, "FileOrCreate", True)]
    return _pod("kube-scheduler", command, f"registry.k8s.io/kube-scheduler:{K8S_VERSION}", probes, mounts, "100m")


def static_pods(node_name: str, node_ip: str) -> dict[str, str]:
    """File name (without .yaml) → manifest text."""
    return {"etcd": etcd(node_name, node_ip), "kube-apiserver": kube_apiserver(node_ip),
            "kube-controller-manager": kube_controller_manager(), "kube-scheduler": kube_scheduler()}


KUBE_PROXY_CONFIG = """apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
clientConnection:
  acceptContentTypes: ""
  burst: 10
  contentType: application/vnd.kubernetes.protobuf
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 5
clusterCIDR: {pod_cidr}
configSyncPeriod: 15m0s
conntrack:
  maxPerCore: 0
  min: 0
  tcpCloseWaitTimeout: 0s
  tcpEstablishedTimeout: 0s
enableProfiling: false
healthzBindAddress: 0.0.0.0:10256
hostnameOverride: ""
iptables:
  masqueradeAll: false
  minSyncPeriod: 1s
  syncPeriod: 30s
kind: KubeProxyConfiguration
metricsBindAddress: 127.0.0.1:10249
mode: iptables
nodePortAddresses: null
portRange: ""
"""

KUBECONFIG_CONF = """apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
    server: https://{node_ip}:6443
  name: default
contexts:
- context:
    cluster: default
    namespace: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"""


def kube_proxy_objects(node_ip: str) -> list[dict]:
    """ServiceAccount, ConfigMap and DaemonSet kube-system/kube-proxy, as kubeadm's addon phase creates them
    (conntrack limits left to the node: 0 means "do not touch the sysctl")."""
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kube-proxy", "namespace": "kube-system"}}
    cm = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"app": "kube-proxy"}},
        "data": {"config.conf": KUBE_PROXY_CONFIG.format(pod_cidr=POD_CIDR),
                 "kubeconfig.conf": KUBECONFIG_CONF.format(node_ip=node_ip)},
    }
    ds = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"k8s-app": "kube-proxy"}},
        "spec": {
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-proxy"}},
                "spec": {
                    "containers": [{
                        "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                                    "--hostname-override=$(NODE_NAME)"],
                        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                                                 "fieldPath": "spec.nodeName"}}}],
                        "image": f"registry.k8s.io/kube-proxy:{K8S_VERSION}",
                        "imagePullPolicy": "IfNotPresent",
                        "name": "kube-proxy",
                        "securityContext": {"privileged": True},
                        "volumeMounts": [
                            {"mountPath": "/var/lib/kube-proxy", "name": "kube-proxy"},
                            {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                            {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True},
                        ],
                    }],
                    "hostNetwork": True,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "priorityClassName": "system-node-critical",
                    "serviceAccountName": "kube-proxy",
                    "tolerations": [{"operator": "Exists"}],
                    "volumes": [
                        {"configMap": {"name": "kube-proxy"}, "name": "kube-proxy"},
                        {"hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}, "name": "xtables-lock"},
                        {"hostPath": {"path": "/lib/modules"}, "name": "lib-modules"},
                    ],
                },
            },
            "updateStrategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}, "type": "RollingUpdate"},
        },
    }
    return [sa, cm, ds]


def node_object(node_name: str, node_ip: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node_name, "labels": {
            "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": node_name,
            "node-role.kubernetes.io/control-plane": ""}},
    }


def as_json_list(objects: list[dict]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=1)
