# The two commands a newcomer needs: `make demo` and `make test`. Everything else is a step of those.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
DEMO_DIR := .aims-demo

.PHONY: demo down test lint crds controlplane browser install

## demo: start a local control plane, install the CRDs, apply examples/, show their status
demo: controlplane
	@bash scripts/demo.sh up $(DEMO_DIR)

## down: stop the demo's control plane and remove its state
down:
	@bash scripts/demo.sh down $(DEMO_DIR)

## test: every test, unit and integration (against a real kube-apiserver, etcd, controller-manager)
test: controlplane browser
	AIMS_K8S_BIN="$$(bash tests/controlplane/build.sh)" cargo test --workspace --all-targets --locked

## lint: formatting and clippy, warnings are errors
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

## crds: regenerate crds/ from the Rust types
crds:
	cargo run --quiet --locked --bin aims -- crds --output-dir crds

## install: install aims with cargo and link it as kubectl-aims beside it, so `kubectl aims` runs it
install:
	cargo install --path . --locked
	bin="$${CARGO_INSTALL_ROOT:-$${CARGO_HOME:-$$HOME/.cargo}}/bin"; \
	ln -sf aims "$$bin/kubectl-aims"; \
	echo "installed $$bin/aims and $$bin/kubectl-aims (kubectl aims --help)"

## browser: install (once) the headless Chromium and poppler-utils the report tests look through
browser:
	@bash scripts/install-browser.sh

## controlplane: build (once, then cached) kube-apiserver, kube-controller-manager, kubectl and helm
controlplane:
	@bash tests/controlplane/build.sh >/dev/null
