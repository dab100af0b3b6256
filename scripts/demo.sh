#!/usr/bin/env bash
# `make demo` and `make down`: a local control plane with the aims CRDs and the examples.
#   scripts/demo.sh up DIR     start (or reuse) the control plane in DIR, apply CRDs and examples
#   scripts/demo.sh down DIR   stop it and remove DIR
set -euo pipefail
cd "$(dirname "$0")/.."
action=${1:?usage: demo.sh up|down DIR}
dir=${2:?usage: demo.sh up|down DIR}

stop_operator() {
  if [ -f "$dir/operator.pid" ]; then
    local pid
    pid=$(cat "$dir/operator.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$dir/operator.pid"
  fi
}

if [ "$action" = down ]; then
  if [ -d "$dir" ]; then
    stop_operator
    cargo run --quiet --locked -p aims-testenv --bin aims-testenv -- down "$dir"
    rm -rf "$dir"
  fi
  echo "local control plane stopped"
  exit 0
fi

bin=$(bash tests/controlplane/build.sh)
cargo build --quiet --locked --bins --workspace
target=${CARGO_TARGET_DIR:-target}
export KUBECONFIG="$PWD/$dir/kubeconfig" PATH="$bin:$PATH" NO_PROXY=127.0.0.1,localhost
# A control plane from before its API server presented a webhook client certificate is replaced.
if [ -f "$dir/kube-apiserver.pid" ] && [ -f "$dir/webhook-client-ca.crt" ] &&
  kubectl get --raw /readyz >/dev/null 2>&1; then
  echo "reusing the local control plane in $dir"
else
  [ -d "$dir" ] && "$target/debug/aims-testenv" down "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
  echo "starting etcd, kube-apiserver and kube-controller-manager"
  "$target/debug/aims-testenv" up "$dir" >/dev/null
fi
# `kubectl aims`: kubectl finds the plugin as kubectl-aims on PATH.
mkdir -p "$dir/bin"
ln -sf "$(cd "$target/debug" && pwd)/aims" "$dir/bin/kubectl-aims"
export PATH="$PWD/$dir/bin:$PATH"

# The chart, as a platform team installs it, with two differences for a machine without nodes: no
# operator Pods (the operator runs below as a local process, as the chart's ServiceAccount), and the
# webhooks call it at a local URL. The examples bring their own cluster bindings. The operator also
# writes the compiled floor (each namespace's AdmissionFloor), which the floor's policies decide
# from inside the API server, the operator up or not (shown near the end).
metrics=127.0.0.1:18080
webhook=127.0.0.1:18443
chart=(charts/aims-operator --namespace aims-system --create-namespace --set replicas=0
  --set defaultBindings.minimal.enabled=false --set defaultBindings.highRisk.enabled=false)
echo "installing the chart (CRDs, ServiceAccount, RBAC), the webhooks off for now"
stop_operator
helm upgrade --install aims "${chart[@]}" --set webhook.enabled=false >/dev/null
# helm installs CRDs only once: a reused control plane gets today's.
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
# KServe and LeaderWorkerSet are not installed here: schema-less stand-ins of their CRDs let the
# InferenceService and LeaderWorkerSet examples apply (the operator watches each kind once its CRD
# exists).
for crd in tests/fixtures/crds/*.yaml; do
  kubectl get crd "$(basename "$crd" .yaml)" >/dev/null 2>&1 || kubectl apply -f "$crd" >/dev/null
done
# OpenReports' CRD, from its Go module as the tests take it: the operator reports each system and
# workload there too, for Policy Reporter and the other readers of policy reports.
for crd in "$bin"/../upstream-crds/openreports.io_*.yaml; do
  kubectl apply --server-side --force-conflicts -f "$crd" >/dev/null
done
kubectl wait --for condition=Established --timeout 60s crd --all >/dev/null

# Applied before the webhooks exist, as workloads that predate the operator would be. The
# RiskAssessments wait for the webhooks (below): the operator signs who submitted each one, and an
# assessment created without that signature counts no approval.
echo "applying examples/ (the RiskAssessments once the webhooks are registered)"
find examples -name '*.yaml' ! -name riskassessment.yaml | sort | sed 's/^/-f /' |
  xargs kubectl apply >/dev/null

# The operator with the chart's arguments and only the chart's rights: its kubeconfig impersonates
# the chart's ServiceAccount (`act-as` is how `kubectl config set` spells the `as` field). Its
# webhook answers only the API server, which presents the client certificate the control plane
# made for webhooks (see webhook-client.kubeconfig and admission-config.json in $dir). Started again
# later, it appends to its log: its records go on in a new segment.
kubectl config view --raw >"$dir/kubeconfig-operator"
kubectl --kubeconfig "$dir/kubeconfig-operator" config set users.admin.act-as \
  system:serviceaccount:aims-system:aims-operator >/dev/null
start_operator() {
  KUBECONFIG="$dir/kubeconfig-operator" RUST_LOG=info setsid nohup "$target/debug/aims" run \
    --namespace aims-system --metrics-addr "$metrics" --log-format json --compiled-floor \
    --webhook-addr "$webhook" --webhook-service aims-operator-webhook --webhook-host 127.0.0.1 \
    --webhook-client-ca-file "$dir/webhook-client-ca.crt" --webhook-client-name kube-apiserver-webhook-client \
    >>"$dir/operator.log" 2>&1 </dev/null &
  echo $! >"$dir/operator.pid"
  for _ in $(seq 1 100); do
    curl -sf "http://$metrics/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
}
# Registers the chart's webhook configurations, calling the local operator (it publishes its own CA
# into them), and waits until the API server reaches it.
register_webhooks() {
  helm upgrade aims "${chart[@]}" --set webhook.url="https://$webhook" >/dev/null
  for _ in $(seq 1 100); do
    kubectl -n hr scale deployment cv-ranker --replicas=1 --dry-run=server >/dev/null 2>&1 && break
    sleep 0.2
  done
}
: >"$dir/operator.log"
start_operator
echo "starting the operator as the chart's ServiceAccount (log: $dir/operator.log, metrics: http://$metrics/metrics)"
# Give it a moment to write every status.
for _ in $(seq 1 50); do
  [ "$(kubectl get aisystems -A -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' | grep -c .)" -ge 4 ] && break
  sleep 0.2
done

echo "registering the admission webhooks at https://$webhook"
register_webhooks
# The webhooks answer: the assessments are created through them.
find examples -name riskassessment.yaml | sort | sed 's/^/-f /' | xargs kubectl apply >/dev/null
for _ in $(seq 1 50); do
  [ "$(kubectl get riskassessments -A -o jsonpath='{range .items[*]}{.status.state}{"\n"}{end}' | grep -c .)" -ge 3 ] && break
  sleep 0.2
done

echo
echo "\$ kubectl get aims -A"
kubectl get aims -A
echo
echo "\$ kubectl aims scan -A"
"$target/debug/aims" scan -A
for _ in $(seq 1 50); do
  [ "$(kubectl get reports -A -o name | grep -c aims-aisystem-)" -ge 4 ] && break
  sleep 0.2
done
echo
echo "\$ kubectl get reports -A"
kubectl get reports -A
echo
echo "\$ kubectl -n hr scale deployment cv-ranker --replicas=2 --dry-run=server"
kubectl -n hr scale deployment cv-ranker --replicas=2 --dry-run=server 2>&1 || true

# The compiled floor: with the operator stopped and its webhooks removed (the runbook's emergency
# step), the API server still denies a new model version that nobody approved, from the
# AdmissionFloor the operator wrote while it ran.
for _ in $(seq 1 50); do
  kubectl -n credit get admissionfloor aims-admission-floor \
    -o jsonpath='{.spec.systems.credit-scoring.admit}' 2>/dev/null | grep -q false && break
  sleep 0.2
done
stop_operator
echo
echo "# The operator is stopped. Remove its webhooks, as the runbook's emergency step does:"
echo "\$ kubectl delete validatingwebhookconfiguration,mutatingwebhookconfiguration aims-operator"
kubectl delete validatingwebhookconfiguration,mutatingwebhookconfiguration aims-operator
# The floor's policies, as the chart installs them with admission.mode both or compiled (the demo
# runs the webhook alone, whose messages say more; the operator wrote the floor all along).
floor_policies() {
  helm template aims charts/aims-operator --namespace aims-system --set admission.mode=compiled \
    --show-only templates/compiled-floor.yaml --show-only templates/compiled-floor-kinds.yaml 2>/dev/null
}
echo
echo "# The floor's ValidatingAdmissionPolicies, as admission.mode both or compiled installs them:"
echo "\$ helm template aims charts/aims-operator --set admission.mode=compiled \\"
echo "    --show-only templates/compiled-floor.yaml --show-only templates/compiled-floor-kinds.yaml | kubectl apply -f -"
floor_policies | kubectl apply -f - >/dev/null
for _ in $(seq 1 50); do
  ! kubectl apply --dry-run=server -f scripts/unapproved-model.yaml >/dev/null 2>&1 && break
  sleep 0.2
done
echo
echo "\$ kubectl apply -f scripts/unapproved-model.yaml"
kubectl apply -f scripts/unapproved-model.yaml 2>&1 || true
# Back to where the demo was: the operator runs and its webhooks are restored (the runbook's
# `helm upgrade`).
echo
echo "# The operator starts again and its webhooks are restored (helm upgrade); the floor's policies"
echo "# go, as the demo runs the webhook alone."
floor_policies | kubectl delete -f - >/dev/null
start_operator
register_webhooks
# The operator's records so far (its log holds them), checked, and the auditor's report of the
# demo's cluster with their history.
echo
echo "\$ kubectl aims log verify $dir/operator.log"
"$target/debug/aims" log verify "$dir/operator.log"
"$target/debug/aims" report -A --log "$dir/operator.log" --file "$dir/report.html" 2>/dev/null
echo
echo "The auditor's report of this cluster: $PWD/$dir/report.html (open it in a browser; it needs no"
echo "network, and prints). Again, or as PDF: kubectl aims report -A --log $dir/operator.log -o pdf --file report.pdf"
cat <<MSG

The control plane runs in the background. To use kubectl (v$(kubectl version --client -o json | sed -n 's/.*"gitVersion": "v\([^"]*\)".*/\1/p' | head -1), matching the server, and
kubectl aims) with it:

  export KUBECONFIG=$PWD/$dir/kubeconfig PATH=$PWD/$dir/bin:$bin:\$PATH

Stop it with: make down
MSG
