#!/usr/bin/env bash
# Install the official MCP client SDKs the MCP tests drive Kryton with, from their registries only:
#   .venv/                      the Python SDK `mcp`, pinned in scripts/mcp-requirements.txt (PyPI)
#   tests/mcp-ts/node_modules   @modelcontextprotocol/sdk, pinned by tests/mcp-ts/package-lock.json (npm ci)
# Idempotent: a stamp records what was installed; when nothing changed it returns at once.
# crates/kryton-server/tests/mcp.rs FAILS (it does not skip) when these are missing.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
TS="$ROOT/tests/mcp-ts"
STAMP="$ROOT/.tools/mcp-clients.stamp"
PYTHON=${PYTHON:-python3}

want_stamp() {
  cat "$ROOT/scripts/mcp-clients-install.sh" "$ROOT/scripts/mcp-requirements.txt" "$TS/package-lock.json" \
    | sha256sum | cut -d' ' -f1
}

if [[ -x "$VENV/bin/python" && -d "$TS/node_modules/@modelcontextprotocol/sdk" \
      && -f "$STAMP" && "$(cat "$STAMP")" == "$(want_stamp)" ]]; then
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "mcp clients: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "mcp clients: Python SDK from scripts/mcp-requirements.txt"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/scripts/mcp-requirements.txt"
"$VENV/bin/python" -c "import mcp, httpx2"

echo "mcp clients: TypeScript SDK (npm ci in tests/mcp-ts)"
(cd "$TS" && npm ci --no-audit --no-fund --loglevel=error)
node -e "require.resolve('@modelcontextprotocol/sdk/package.json', {paths: ['$TS']})"

mkdir -p "$(dirname "$STAMP")"
want_stamp > "$STAMP"
