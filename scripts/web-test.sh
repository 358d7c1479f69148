#!/usr/bin/env bash
# The web app's browser tests: Playwright's runner driving Debian's Chromium (nothing downloads a
# browser) against the real `kryton` binary, once on a fresh SQLite data directory and once on a
# fresh PostgreSQL database (127.0.0.1:5432, user postgres).
#   1. chromium from apt when missing
#   2. npm ci in web/, then `cargo build -p kryton-server` (its build.rs builds and embeds web/)
#   3. per backend: start target/debug/kryton on a free port, wait for /readyz, run the tests, stop it
# SCREENSHOTS=docs/screenshots is set on the SQLite run, so the README's pictures are remade.
# Last line: "web-test: sqlite=<rc> postgres=<rc>"; exit status non-zero when either failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}

if [[ ! -x /usr/bin/chromium ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
    || { echo "web-test: could not install chromium from apt" >&2; exit 1; }
fi

(cd web && npm ci --no-audit --no-fund) || { echo "web-test: npm ci failed" >&2; exit 1; }
cargo build -p kryton-server --bin kryton || { echo "web-test: cargo build failed" >&2; exit 1; }
BIN="$ROOT/target/debug/kryton"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

SERVER_PID=""
WORK=""
DB=""
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  SERVER_PID=""
  if [[ -n $DB ]]; then
    psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qAtc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null \
      || echo "warning: could not drop database $DB" >&2
  fi
  DB=""
  if [[ -n $WORK ]]; then rm -rf "$WORK"; fi
  WORK=""
}
trap cleanup EXIT

run_backend() {
  local backend=$1
  WORK=$(mktemp -d)
  local port; port=$(free_port)
  local env=(DATA_DIR="$WORK/data" HOST=127.0.0.1 PORT="$port" TERMINATION_LOG="$WORK/termination-log"
             REGISTRATION_MODE=invite-only AUTH_RATE_LIMIT_MAX=1000 RATE_LIMIT_MAX=100000 LOG_LEVEL=warn)
  if [[ $backend == postgres ]]; then
    DB="kryton_web_$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
    createdb -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$DB" || { echo "web-test: createdb failed" >&2; return 1; }
    env+=(POSTGRES_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB")
  fi
  env "${env[@]}" "$BIN" serve >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/server.log"; echo "web-test: kryton exited" >&2; return 1; fi
    sleep 0.2
  done
  local shots=(-u SCREENSHOTS)
  if [[ $backend == sqlite ]]; then mkdir -p "$ROOT/docs/screenshots"; shots=(SCREENSHOTS="$ROOT/docs/screenshots"); fi
  echo "web-test: $backend on port $port"
  (cd web && env "${shots[@]}" KRYTON_URL="http://127.0.0.1:$port" npx playwright test "${PLAYWRIGHT_ARGS[@]}")
  local rc=$?
  if [[ $rc -ne 0 ]]; then echo "--- server log ($backend) ---"; tail -n 50 "$WORK/server.log"; fi
  cleanup
  return $rc
}

PLAYWRIGHT_ARGS=("$@")
run_backend sqlite; sqlite_rc=$?
run_backend postgres; pg_rc=$?
echo "web-test: sqlite=$sqlite_rc postgres=$pg_rc"
[[ $sqlite_rc -eq 0 && $pg_rc -eq 0 ]]
