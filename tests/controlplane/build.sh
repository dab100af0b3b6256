#!/usr/bin/env bash
# Builds the upstream Kubernetes components the tests and `make demo` run (kube-apiserver,
# kube-controller-manager, kubectl) from this Go module, plus helm, fetches the upstream CRDs of
# upstream-crds.txt from their Go modules into ../upstream-crds beside the bin directory, and
# caches all of it outside the repository, keyed by version. Prints the cache's bin directory. A
# second run with everything present is a no-op.
#
#   AIMS_CACHE   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/aims-operator)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
k8s_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v1\./ { print $2 }' "$here/go.mod")
helm_version=v4.3.1
minor=$(echo "$k8s_version" | cut -d. -f2)

cache=${AIMS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aims-operator}
# The key covers the module's dependency set as well as the version, so a changed go.sum rebuilds.
key=$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)
bin="$cache/kubernetes-$k8s_version-$key/bin"
helm_bin="$cache/helm-$helm_version/bin"
mkdir -p "$bin" "$helm_bin"

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version \
  -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
  -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version \
  -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"

for tool in kube-apiserver kube-controller-manager kubectl; do
  if [ ! -x "$bin/$tool" ]; then
    echo "building $tool $k8s_version (cold builds take minutes)" >&2
    (cd "$here" && go build -trimpath -ldflags "$ldflags" -o "$bin/$tool.tmp" "k8s.io/kubernetes/cmd/$tool")
    mv "$bin/$tool.tmp" "$bin/$tool"
  fi
done

if [ ! -x "$helm_bin/helm" ]; then
  echo "building helm $helm_version" >&2
  GOBIN="$helm_bin" GOFLAGS= go install -trimpath -ldflags "-s -w" "helm.sh/helm/v4/cmd/helm@$helm_version"
fi
ln -sf "$helm_bin/helm" "$bin/helm"

# The upstream CRDs, each module fetched once: a marker per module@version records it. Files are
# only ever added or replaced (never the directory removed), so a run with another list (another
# checkout sharing the cache) never takes a CRD away from a test that is using it; a CRD dropped
# from the list stays in the cache until the cache is removed.
crds="$bin/../upstream-crds"
mkdir -p "$crds/.modules"
grep -v '^#' "$here/upstream-crds.txt" | while read -r module files; do
  [ -n "$module" ] || continue
  marker="$crds/.modules/$(echo "$module" | tr '/@' '__')"
  [ -f "$marker" ] && continue
  echo "fetching the CRDs of $module" >&2
  dir=$(GOFLAGS= go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { echo "cannot fetch $module" >&2; exit 1; }
  for f in $files; do
    cp "$dir/$f" "$crds/.$(basename "$f").$$"
    mv "$crds/.$(basename "$f").$$" "$crds/$(basename "$f")"
  done
  touch "$marker"
done

echo "$bin"
