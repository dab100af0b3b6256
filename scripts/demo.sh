#!/usr/bin/env bash
# `make demo` and `make down`: a local control plane with the aims CRDs and the examples.
#   scripts/demo.sh up DIR     start (or reuse) the control plane in DIR, apply CRDs and examples
#   scripts/demo.sh down DIR   stop it and remove DIR
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?usage: demo.sh up|down DIR}
dir=${2:?usage: demo.sh up|down DIR}

if [ "$action" = down ]; then
  if [ -d "$dir" ]; then
    cargo run --quiet --locked -p aims-testenv --bin aims-testenv -- down "$dir"
    rm -rf "$dir"
  fi
  echo "local control plane stopped"
  exit 0
fi

bin=$(bash tests/controlplane/build.sh)
cargo build --quiet --locked --bins --workspace
export KUBECONFIG="$PWD/$dir/kubeconfig" PATH="$bin:$PATH" NO_PROXY=127.0.0.1,localhost
if [ -f "$dir/kube-apiserver.pid" ] && kubectl get --raw /readyz >/dev/null 2>&1; then
  echo "reusing the local control plane in $dir"
else
  [ -d "$dir" ] && target/debug/aims-testenv down "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
  echo "starting etcd, kube-apiserver and kube-controller-manager"
  target/debug/aims-testenv up "$dir" >/dev/null
fi

echo "installing the aims CRDs"
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
# KServe is not installed here: a schema-less stand-in lets the InferenceService example apply.
kubectl get crd inferenceservices.serving.kserve.io >/dev/null 2>&1 ||
  kubectl apply -f tests/fixtures/kserve-inferenceservice-crd.yaml >/dev/null
kubectl wait --for condition=Established --timeout 60s crd --all >/dev/null

echo "applying examples/"
kubectl apply --recursive -f examples/ >/dev/null

echo
echo "\$ kubectl get aims -A"
kubectl get aims -A
cat <<MSG

The control plane runs in the background. To use kubectl (v$(kubectl version --client -o json | sed -n 's/.*"gitVersion": "v\([^"]*\)".*/\1/p' | head -1), matching the server) with it:

  export KUBECONFIG=$PWD/$dir/kubeconfig PATH=$bin:\$PATH

Stop it with: make down
MSG
