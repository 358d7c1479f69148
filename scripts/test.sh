#!/usr/bin/env bash
# The whole test suite, exactly what CI runs (.ci/run calls this script).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-postgres.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# Image, Compose files and Helm chart, checked offline with real tools (installs them on first run).
scripts/check-deploy.sh
