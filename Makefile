# Kryton operator: the commands the operator docs (docs/operator.md) use.
#   make install              apply the CRDs (do this first on every upgrade)
#   make deploy IMG=...       deploy or upgrade the operator with that image
#   make crdgen               regenerate deploy/kryton-crds.yaml from the Rust types
#   make operator-test        cargo tests of the operator
#   make operator-check       offline manifest checks (kubernetes-validate, chart parity, hadolint)
IMG ?= ghcr.io/azrtydxb/kryton-rs/kryton-operator:0.1.0
KUBECTL ?= kubectl

.PHONY: install deploy undeploy render crdgen operator-test operator-check operator-kmock docker-build

install:
	$(KUBECTL) apply --server-side --force-conflicts -f deploy/kryton-crds.yaml

deploy:
	scripts/operator-render.sh "$(IMG)" | $(KUBECTL) apply -f -

# Removes the operator, not the CRDs, the Kryton resources or their data.
undeploy:
	scripts/operator-render.sh "$(IMG)" | $(KUBECTL) delete --ignore-not-found -f -

render:
	@scripts/operator-render.sh "$(IMG)"

crdgen:
	cargo run -q -p kryton-operator --bin crdgen > deploy/kryton-crds.yaml

operator-test:
	cargo test -p kryton-operator

operator-check:
	scripts/operator-check.sh

operator-kmock:
	scripts/operator-kmock.sh

docker-build:
	docker build -f operator.Dockerfile --build-arg KRYTON_COMMIT=$$(git rev-parse HEAD) -t $(IMG) .
