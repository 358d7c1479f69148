#!/usr/bin/env bash
# Run the real kryton-operator Controller loop against kmock (an in-memory fake Kubernetes API on
# 127.0.0.1): create a Kryton, see its children appear and its status written, roll a new
# version, see a crashloop reported. See scripts/operator_kmock.py. Last line: "kmock: N passed, M failed".
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# A venv of its own: kmock registers a pytest plugin that would break the deploy checks in .venv.
VENV="$ROOT/.venv-kmock"
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c 'import kmock, aiohttp' 2>/dev/null; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check kmock==0.8
fi
cargo build -q -p kryton-operator --bin kryton-operator
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
exec timeout 300 "$VENV/bin/python" scripts/operator_kmock.py "$TARGET_DIR/debug/kryton-operator"
