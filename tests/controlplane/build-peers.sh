#!/usr/bin/env bash
# Builds the peer admission controllers that the admission-latency comparison runs against a real
# kube-apiserver (Kyverno's admission controller and Gatekeeper), each from its own Go module under
# peers/ (their dependency sets differ, so they do not share one), copies each one's CRDs from the
# same module version into ../peer-crds/<peer>/ beside the bin directory, and caches all of it
# outside the repository, keyed by version and by the module's go.mod and go.sum. Prints the bin
# directory. A second run with everything present is a no-op.
#
#   AIMS_CACHE   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/aims-operator)
#   AIMS_PEERS   which peers to build (default: "kyverno gatekeeper")
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${AIMS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aims-operator}
peers=${AIMS_PEERS:-kyverno gatekeeper}

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod

# peer -> module, package of the binary, version variable, CRD directories inside the module
module_of() {
  case $1 in
    kyverno) echo github.com/kyverno/kyverno ;;
    gatekeeper) echo github.com/open-policy-agent/gatekeeper/v3 ;;
    *) echo "unknown peer $1" >&2; exit 1 ;;
  esac
}
package_of() {
  case $1 in
    kyverno) echo github.com/kyverno/kyverno/cmd/kyverno ;;
    gatekeeper) echo github.com/open-policy-agent/gatekeeper/v3 ;;
  esac
}
version_var_of() {
  case $1 in
    kyverno) echo github.com/kyverno/kyverno/pkg/version.BuildVersion ;;
    gatekeeper) echo github.com/open-policy-agent/gatekeeper/v3/pkg/version.Version ;;
  esac
}
crd_dirs_of() {
  case $1 in
    kyverno) echo config/crds/kyverno config/crds/policies.kyverno.io config/crds/reports config/crds/policyreport ;;
    gatekeeper) echo charts/gatekeeper/crds ;;
  esac
}

# The combined bin directory is keyed by every built peer's module, so a changed module gives a
# new directory; each binary lives in its own directory, keyed by its own module, and is linked in.
all_key=$(for p in $peers; do cat "$here/peers/$p/go.mod" "$here/peers/$p/go.sum"; done | sha256sum | cut -c1-12)
bin="$cache/peers-$all_key/bin"
crds="$bin/../peer-crds"
mkdir -p "$bin" "$crds"

for p in $peers; do
  mod=$(module_of "$p")
  dir="$here/peers/$p"
  version=$(awk -v m="$mod" '$1 == m && $2 ~ /^v/ { print $2 }' "$dir/go.mod")
  key=$(cat "$dir/go.mod" "$dir/go.sum" | sha256sum | cut -c1-12)
  root="$cache/$p-$version-$key"
  out="$root/bin"
  mkdir -p "$out"
  if [ ! -x "$out/$p" ]; then
    echo "building $p $version (a cold build takes minutes)" >&2
    (cd "$dir" && go build -trimpath -ldflags "-s -w -X $(version_var_of "$p")=$version" \
      -o "$out/$p.tmp" "$(package_of "$p")")
    mv "$out/$p.tmp" "$out/$p"
  fi
  ln -sf "$out/$p" "$bin/$p"

  # The CRDs of the very module version that was built; files are only added or replaced.
  if [ ! -f "$root/crds.done" ]; then
    src=$(cd "$dir" && go list -m -f '{{.Dir}}' "$mod")
    [ -d "$src" ] || { echo "cannot find the source of $mod" >&2; exit 1; }
    mkdir -p "$root/crds"
    for d in $(crd_dirs_of "$p"); do
      for f in "$src/$d"/*.yaml; do
        cp "$f" "$root/crds/.$(basename "$f").$$"
        mv "$root/crds/.$(basename "$f").$$" "$root/crds/$(basename "$f")"
      done
    done
    touch "$root/crds.done"
  fi
  ln -sfn "$root/crds" "$crds/$p"
done

echo "$bin"
