#!/usr/bin/env bash
# Every offline check of the deployment artifacts (Dockerfile, Compose files, Helm chart):
#   hadolint; docker-compose config on both Compose files; helm lint --strict (helm v3 and v4) and
#   helm template for each charts/kryton/ci/*-values.yaml, each render through
#   kubernetes-validate --strict for the oldest and newest supported Kubernetes; assertions on the
#   rendered objects; appVersion == Cargo.toml version. All of it lives in tests/deploy (pytest).
# Installs its tools first (scripts/tools-install.sh: fast when already installed).
# Exits non-zero on any failure; the last line is always "deploy: N passed, M failed".
# The real image build and run is scripts/docker-smoke.sh, a separate, slower step.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

if ! bash scripts/tools-install.sh; then
  echo "check-deploy: installing the tools failed" >&2
  echo "deploy: 0 passed, 1 failed"
  exit 1
fi

.venv/bin/python -m pytest tests/deploy -q -p no:cacheprovider --junitxml="$OUT/junit.xml" "$@"
rc=$?

read -r passed failed < <(.venv/bin/python - "$OUT/junit.xml" <<'PY' || echo "0 1"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests - bad - skipped, bad)
PY
)
if [[ $rc -ne 0 && $failed -eq 0 ]]; then failed=1; fi   # e.g. a collection error, or no tests
if [[ $passed -eq 0 ]]; then rc=1; failed=$(( failed > 0 ? failed : 1 )); fi
echo "deploy: $passed passed, $failed failed"
[[ $rc -eq 0 && $failed -eq 0 ]]
