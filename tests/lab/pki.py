"""Certificates and kubeconfigs for the lab node, laid out as `kubeadm init` lays them out under /etc/kubernetes,
made with the openssl command line."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence


def _openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@dataclass(frozen=True)
class Pair:
    crt: Path
    key: Path


def _key(path: Path, cwd: str) -> None:
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path), cwd=cwd)
    os.chmod(path, 0o600)


def make_ca(directory: Path, name: str, cn: str) -> Pair:
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    _key(pair.key, str(directory))
    _openssl("req", "-x509", "-new", "-key", str(pair.key), "-out", str(pair.crt), "-days", "3650", "-subj",
             f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign", cwd=str(directory))
    return pair


def make_leaf(ca: Pair, directory: Path, name: str, cn: str, *, orgs: Sequence[str] = (),
              dns: Sequence[str] = (), ips: Sequence[str] = (), server: bool = False, client: bool = False) -> Pair:
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    _key(pair.key, str(directory))
    subject = "".join(f"/O={o}" for o in orgs) + f"/CN={cn}"
    csr = directory / f".{name}.csr"
    ext = directory / f".{name}.ext"
    usages = [u for u, on in (("serverAuth", server), ("clientAuth", client)) if on]
    lines = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
             f"extendedKeyUsage={','.join(usages)}"]
    sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    ext.write_text("\n".join(lines) + "\n")
    _openssl("req", "-new", "-key", str(pair.key), "-subj", subject, "-out", str(csr), cwd=str(directory))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.crt), "-CAkey", str(ca.key), "-set_serial",
             str(secrets.randbits(63)), "-days", "365", "-extfile", str(ext), "-out", str(pair.crt),
             cwd=str(directory))
    csr.unlink()
    ext.unlink()
    return pair


def kubeconfig(path: Path, *, server: str, ca: Pair, user: str, client: Pair) -> None:
    """A kubeconfig with the certificates embedded, as kubeadm writes admin.conf and the components' files."""
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()
    path.write_text(f"""apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {b64(ca.crt)}
    server: {server}
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: {user}
  name: {user}@kubernetes
current-context: {user}@kubernetes
kind: Config
preferences: {{}}
users:
- name: {user}
  user:
    client-certificate-data: {b64(client.crt)}
    client-key-data: {b64(client.key)}
""")
    os.chmod(path, 0o600)


def make_kubeadm_pki(etc_kubernetes: Path, *, node_name: str, node_ip: str, service_ip: str) -> None:
    """pki/ and the kubeconfigs of a single control-plane node. admin.conf's user is in system:masters (what
    kubeadm gives super-admin.conf): without kubeadm, nothing binds kubeadm:cluster-admins to cluster-admin."""
    pki = etc_kubernetes / "pki"
    etcd = pki / "etcd"
    etcd.mkdir(parents=True, exist_ok=True)
    ca = make_ca(pki, "ca", "kubernetes")
    make_leaf(ca, pki, "apiserver", "kube-apiserver", server=True,
              dns=["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                   "kubernetes.default.svc.cluster.local", node_name, "localhost"],
              ips=[service_ip, node_ip, "127.0.0.1"])
    make_leaf(ca, pki, "apiserver-kubelet-client", "kube-apiserver-kubelet-client",
              orgs=["kubeadm:cluster-admins"], client=True)
    front = make_ca(pki, "front-proxy-ca", "front-proxy-ca")
    make_leaf(front, pki, "front-proxy-client", "front-proxy-client", client=True)
    _key(pki / "sa.key", str(pki))
    _openssl("pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"), cwd=str(pki))

    etcd_ca = make_ca(etcd, "ca", "etcd-ca")
    etcd_names = dict(dns=[node_name, "localhost"], ips=[node_ip, "127.0.0.1", "::1"])
    make_leaf(etcd_ca, etcd, "server", node_name, server=True, client=True, **etcd_names)
    make_leaf(etcd_ca, etcd, "peer", node_name, server=True, client=True, **etcd_names)
    make_leaf(etcd_ca, etcd, "healthcheck-client", "kube-etcd-healthcheck-client", client=True)
    make_leaf(etcd_ca, pki, "apiserver-etcd-client", "kube-apiserver-etcd-client", client=True)

    server = f"https://{node_ip}:6443"
    for conf, user, cn, orgs in (("admin.conf", "kubernetes-admin", "kubernetes-admin", ["system:masters"]),
                                 ("scheduler.conf", "system:kube-scheduler", "system:kube-scheduler", []),
                                 ("controller-manager.conf", "system:kube-controller-manager",
                                  "system:kube-controller-manager", [])):
        client = make_leaf(ca, pki, f".{conf}", cn, orgs=orgs, client=True)
        kubeconfig(etc_kubernetes / conf, server=server, ca=ca, user=user, client=client)
        client.crt.unlink()
        client.key.unlink()
