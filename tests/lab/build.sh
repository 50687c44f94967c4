#!/usr/bin/env bash
# Builds debug binaries of etcd and the Kubernetes control plane for the lab:
#   tests/lab/build.sh            # prints the directory holding the binaries on its last line
# Everything is cached under KDAP_LAB_CACHE (default /var/cache/kdap-lab): the module cache, the build cache, and
# the finished binaries in bin/<key>, where the key names the versions and a digest of this script, so a warm run
# only checks that the directory is complete.
set -euo pipefail

K8S_VERSION=v1.35.4
# k8s.io/kubernetes vX.Y.Z publishes its staging repositories as v0.Y.Z.
STAGING_VERSION=v0${K8S_VERSION#v1}
# What kubeadm v1.35 deploys (cmd/kubeadm/app/constants: DefaultEtcdVersion "3.6.6-0").
ETCD_VERSION=v3.6.6

cache=${KDAP_LAB_CACHE:-/var/cache/kdap-lab}
export GOMODCACHE=$cache/gomod
export GOCACHE=$cache/gocache
export GOFLAGS=-mod=mod
export GOTOOLCHAIN=local
# Kubernetes builds its server binaries static, without cgo (hack/lib/golang.sh).
export CGO_ENABLED=0

go=${KDAP_GO:-go}
command -v "$go" >/dev/null || go=/usr/local/go/bin/go
go_version=$("$go" env GOVERSION)
script_digest=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)
key=k8s-$K8S_VERSION-etcd-$ETCD_VERSION-$go_version-$script_digest
out=$cache/bin/$key
binaries=(kube-apiserver kube-scheduler kube-controller-manager kube-proxy kubectl etcd)

if [ -f "$out/.complete" ]; then
  echo "kdap-lab: binaries up to date"
  echo "$out"
  exit 0
fi

started=$(date +%s)
src=$cache/src/$key
rm -rf "$src" "$out.tmp"
mkdir -p "$src/kubernetes" "$src/etcd" "$out.tmp" "$GOMODCACHE" "$GOCACHE"

# The staging repositories are replaced in k8s.io/kubernetes's own go.mod by relative paths, which only hold inside
# its repository; a module that depends on it must pin each of them to the published version instead.
"$go" mod download -json "k8s.io/kubernetes@$K8S_VERSION" >"$src/kubernetes.download.json"
k8s_dir=$GOMODCACHE/k8s.io/kubernetes@$K8S_VERSION
staging=$(sed -n '/^replace (/,/^)/s#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\1#p' "$k8s_dir/go.mod")
if [ -z "$staging" ]; then
  echo "kdap-lab: no staging replace block in $k8s_dir/go.mod" >&2
  exit 1
fi
go_directive=$(sed -n 's/^go \(.*\)/\1/p' "$k8s_dir/go.mod")

{
  echo "module kdap.test/lab/kubernetes"
  echo
  echo "go $go_directive"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in $staging; do echo "	$m => $m $STAGING_VERSION"; done
  echo ")"
  echo
  echo "tool ("
  for b in kube-apiserver kube-scheduler kube-controller-manager kube-proxy kubectl; do
    echo "	k8s.io/kubernetes/cmd/$b"
  done
  echo ")"
} >"$src/kubernetes/go.mod"

cat >"$src/etcd/go.mod" <<EOF
module kdap.test/lab/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
# etcd's own main.go does exactly this; a module of its own keeps its dependency versions apart from Kubernetes'.
cat >"$src/etcd/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
EOF

build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
ldflags=""
# What hack/lib/version.sh stamps, so that the components report their real version.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done

echo "kdap-lab: resolving modules"
(cd "$src/kubernetes" && "$go" mod tidy)
(cd "$src/etcd" && "$go" mod tidy)

echo "kdap-lab: building kubernetes $K8S_VERSION (-gcflags=all=-N -l)"
(cd "$src/kubernetes" && nice -n 19 "$go" build -gcflags='all=-N -l' -ldflags="$ldflags" -o "$out.tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl)
echo "kdap-lab: building etcd $ETCD_VERSION (-gcflags=all=-N -l)"
(cd "$src/etcd" && nice -n 19 "$go" build -gcflags='all=-N -l' -o "$out.tmp/etcd" .)

for b in "${binaries[@]}"; do
  [ -x "$out.tmp/$b" ] || { echo "kdap-lab: $b was not built" >&2; exit 1; }
done
cp "$src/kubernetes/go.mod" "$src/kubernetes/go.sum" "$out.tmp/"
rm -rf "$out"
mv "$out.tmp" "$out"
touch "$out/.complete"
echo "kdap-lab: built in $(($(date +%s) - started)) s"
echo "$out"
