#!/usr/bin/env bash
# The whole test suite, exactly what CI runs (.ci/run calls this script).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-postgres.sh
# helm, kubernetes-validate, hadolint, docker-compose, moto: into .tools/ and .venv/ (fast when present).
scripts/tools-install.sh
# The official MCP client SDKs (Python and TypeScript) that tests/mcp.rs drives /api/mcp with.
scripts/mcp-clients-install.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Bounded: a hung test must fail the run, not eat CI's whole budget.
timeout --signal=KILL 1800 cargo test --workspace --locked
# Licences, duplicate crates and sources (cargo deny), and npm audit where the endpoint answers.
scripts/supply-chain.sh
# The web app in Debian's Chromium against the real binary, on SQLite and PostgreSQL.
timeout --signal=KILL 1800 scripts/web-test.sh

# Image, Compose files and Helm chart, checked offline with real tools (installs them on first run).
scripts/check-deploy.sh

# The operator's manifests, and its objects compared field by field with `helm template`. Helm was
# installed by the step above, so the parity check must not be skipped here.
log=$(mktemp)
scripts/operator-check.sh | tee "$log"
if grep -q "NOT CHECKED" "$log"; then
  echo "operator parity with the Helm chart was skipped; failing" >&2
  exit 1
fi

# The real operator Controller loop against an in-memory fake Kubernetes API on loopback.
scripts/operator-kmock.sh
