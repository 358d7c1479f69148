#!/usr/bin/env bash
# The web app's benchmark (docs/benchmarks.md, "The web app"): builds the server (and the UI through
# build.rs), starts it on a fresh SQLite data directory on a free port, and runs web/scripts/bench.mjs.
# Knobs: BENCH_NOTES (4000), BENCH_LINKS (4.5 per note), BENCH_CLICKS (20).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
[[ -d web/node_modules ]] || (cd web && npm ci --no-audit --no-fund)
cargo build -p kryton-server --bin kryton
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
DATA_DIR="$WORK/data" HOST=127.0.0.1 PORT=$PORT TERMINATION_LOG="$WORK/tl" REGISTRATION_MODE=open \
  RATE_LIMIT_MAX=1000000 AUTH_RATE_LIMIT_MAX=1000 LOG_LEVEL=warn target/debug/kryton serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
(cd web && KRYTON_URL="http://127.0.0.1:$PORT" node scripts/bench.mjs)
