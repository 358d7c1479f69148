#!/usr/bin/env bash
# The real image, built and run (a separate CI step: minutes, not seconds; not part of check-deploy).
#   1. a Docker engine (scripts/docker-engine.sh: docker.io from Debian, dockerd without iptables
#      or bridge), and the base images made locally (scripts/docker-base-images.sh: debootstrap)
#   2. docker build of the real Dockerfile with KRYTON_COMMIT = the checked-out commit
#   3. the image's promises: /COMMIT_SHA, uid 10001, ENTRYPOINT/CMD
#   4. run on SQLite (read-only root filesystem + /tmp tmpfs, like the Helm chart) and on the
#      machine's PostgreSQL (a throwaway database kryton_docker_<random>), both --network host:
#      /healthz, /readyz, /api/version commit == built commit, `kryton healthcheck` inside the
#      container, clean exit on SIGTERM, then `docker run IMAGE migrate` exits 0 on the
#      up-to-date database; a bad setting exits 2 and an unreachable database exits 3; the Helm
#      chart's `helm test` script, run in the image, passes against the running server
# Containers use only --network host (no bridge networks on these machines) and port $SMOKE_PORT.
# Leaves nothing behind but the images; stops the engine if it started it (KEEP_DOCKERD=1 keeps it).
# Last line: "docker-smoke: N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PORT=${SMOKE_PORT:-3917}
IMAGE=${SMOKE_IMAGE:-kryton:smoke}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
RUN_ID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
DB="kryton_docker_${RUN_ID}"
VOL="kryton-smoke-${RUN_ID}"
CTR="kryton-smoke-${RUN_ID}"
COMMIT=${KRYTON_COMMIT:-$(git rev-parse HEAD)}
LOGDIR=${SMOKE_LOGDIR:-$ROOT/.tools/docker-smoke}
mkdir -p "$LOGDIR"

passed=0; failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
  echo "docker-smoke: $passed passed, $failed failed"
  [[ $failed -eq 0 && $passed -gt 0 ]]
  exit $?
}

ENGINE_STARTED=0
DB_CREATED=0
cleanup() {
  docker rm -f "$CTR" >/dev/null 2>&1 || true
  docker volume rm -f "$VOL" >/dev/null 2>&1 || true
  if [[ $DB_CREATED -eq 1 ]]; then
    psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qAtc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null \
      || echo "warning: could not drop database $DB" >&2
  fi
  if [[ $ENGINE_STARTED -eq 1 && "${KEEP_DOCKERD:-0}" != 1 ]]; then
    bash scripts/docker-engine.sh stop >/dev/null || true
  fi
}
trap cleanup EXIT

# --- 1. engine and base images ------------------------------------------------------------------
if ! command -v debootstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends debootstrap >/dev/null \
    || { apt-get update -qq && apt-get install -y --no-install-recommends debootstrap >/dev/null; }
fi
if ! engine=$(bash scripts/docker-engine.sh start); then fail "docker engine did not start"; finish; fi
[[ $engine == started ]] && ENGINE_STARTED=1
pass "docker engine up ($(docker version --format '{{.Server.Version}}'))"

if ! bash scripts/docker-base-images.sh; then fail "base images could not be made"; finish; fi
pass "base images present"

# --- 2. build -------------------------------------------------------------------------------------
echo "building $IMAGE at commit $COMMIT (log: $LOGDIR/build.log)"
start=$(date +%s)
if docker build --network host --build-arg KRYTON_COMMIT="$COMMIT" -t "$IMAGE" . >"$LOGDIR/build.log" 2>&1; then
  pass "docker build ($(( $(date +%s) - start ))s)"
else
  tail -n 40 "$LOGDIR/build.log"
  fail "docker build (see $LOGDIR/build.log)"
  finish
fi

# --- 3. static image promises ---------------------------------------------------------------------
sha=$(docker run --rm --network none --entrypoint cat "$IMAGE" /COMMIT_SHA 2>&1)
[[ $sha == "$COMMIT" ]] && pass "/COMMIT_SHA = $COMMIT" || fail "/COMMIT_SHA is '$sha', want $COMMIT"
uid=$(docker run --rm --network none --entrypoint id "$IMAGE" -u 2>&1)
[[ $uid == 10001 ]] && pass "runs as uid 10001" || fail "runs as uid '$uid', want 10001"
cfg=$(docker image inspect "$IMAGE" --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.User}}')
[[ $cfg == '["kryton"] ["serve"] 10001:10001' ]] && pass "entrypoint kryton, cmd serve" || fail "image config: $cfg"
hc=$(docker image inspect "$IMAGE" --format '{{json .Config.Healthcheck.Test}}')
[[ $hc == '["CMD","kryton","healthcheck"]' ]] && pass "HEALTHCHECK kryton healthcheck" || fail "HEALTHCHECK is $hc"
envs=$(docker image inspect "$IMAGE" --format '{{join .Config.Env " "}}')
[[ " $envs " == *" DATA_DIR=/data "* && " $envs " == *" NOTES_DIR=/data/notes "* ]] \
  && pass "DATA_DIR=/data NOTES_DIR=/data/notes" || fail "image env: $envs"
ver=$(docker run --rm --network none "$IMAGE" version 2>&1)
[[ $ver == *"$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"* ]] \
  && pass "kryton version: $ver" || fail "kryton version printed '$ver'"

# --- 4. run against a database ---------------------------------------------------------------------
http_get() { # PATH -> sets $code (HTTP status, 000 when nothing answered) and $body
  rm -f "$LOGDIR/body"
  code=$(curl -s -o "$LOGDIR/body" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT$1") || code=000
  body=$(cat "$LOGDIR/body" 2>/dev/null || true)
}

# smoke NAME [docker run options...]: start the server, check it, stop it, then `migrate` again.
smoke() {
  local name=$1; shift
  docker volume create "$VOL" >/dev/null
  if ! docker run -d --name "$CTR" --network host -e PORT="$PORT" -e LOG_LEVEL=info \
       -v "$VOL:/data" "$@" "$IMAGE" >/dev/null; then
    fail "$name: docker run"; return
  fi
  local ready="" code="" body=""
  for _ in $(seq 1 120); do
    http_get /readyz
    if [[ $code == 200 ]]; then ready=1; break; fi
    [[ $(docker inspect -f '{{.State.Running}}' "$CTR") == true ]] || break
    sleep 1
  done
  if [[ -n $ready && $body == *'"status":"ok"'* ]]; then
    pass "$name: /readyz 200 $body"
  else
    fail "$name: /readyz never 200 (last: $code $body); container logs:"
    docker logs --tail 30 "$CTR" 2>&1 | sed 's/^/    /'
  fi
  http_get /healthz
  [[ $code == 200 ]] && pass "$name: /healthz 200" || fail "$name: /healthz $code $body"
  # The web app: the page at /, one of the hashed assets it names (immutable), a deep link.
  http_get /
  asset=$(grep -o '/assets/[^"]*\.js' "$LOGDIR/body" | head -n1)
  if [[ $code == 200 && -n $asset ]] && grep -q '<div id="app">' "$LOGDIR/body"; then
    pass "$name: / serves the web app"
  else
    fail "$name: / $code (no web app page)"
  fi
  acode=$(curl -s -o /dev/null -D "$LOGDIR/asset-headers" -w '%{http_code}' --max-time 5 -H 'Accept-Encoding: br, gzip' "http://127.0.0.1:$PORT$asset") || acode=000
  if [[ $acode == 200 ]] && grep -qi '^cache-control:.*immutable' "$LOGDIR/asset-headers" && grep -qi '^content-encoding: br' "$LOGDIR/asset-headers"; then
    pass "$name: $asset 200, immutable, brotli"
  else
    fail "$name: asset $asset answered $acode: $(tr -d '\r' < "$LOGDIR/asset-headers" | tr '\n' ' ')"
  fi
  http_get /notes/Projects/Alpha.md
  [[ $code == 200 ]] && grep -q '<div id="app">' "$LOGDIR/body" && pass "$name: a deep link serves the app" || fail "$name: deep link $code"
  http_get /api/version
  if [[ $code == 200 && $body == *"\"commit\":\"$COMMIT\""* ]]; then
    pass "$name: /api/version commit = built commit ($body)"
  else
    fail "$name: /api/version $code $body (want commit $COMMIT)"
  fi
  if [[ -n $hook_script ]]; then
    # The chart's `helm test` pod script, in this image, against this server (as the pod would).
    if docker run --rm --network host --read-only --user 10001:10001 --entrypoint bash "$IMAGE" \
         -c "$hook_script" >"$LOGDIR/$name-helm-test.log" 2>&1; then
      pass "$name: the chart's helm test script passes in the image"
    else
      fail "$name: the chart's helm test script failed: $(tail -n 3 "$LOGDIR/$name-helm-test.log")"
    fi
  fi
  if docker exec "$CTR" kryton healthcheck >/dev/null 2>&1; then
    pass "$name: kryton healthcheck (the image's HEALTHCHECK) exits 0"
  else
    fail "$name: kryton healthcheck failed inside the container"
  fi
  docker stop -t 30 "$CTR" >/dev/null
  local rc
  rc=$(docker inspect -f '{{.State.ExitCode}}' "$CTR")
  [[ $rc == 0 ]] && pass "$name: exits 0 on SIGTERM" || fail "$name: exit code $rc after SIGTERM"
  docker logs "$CTR" >"$LOGDIR/$name.log" 2>&1
  docker rm -f "$CTR" >/dev/null
  if docker run --rm --network host -v "$VOL:/data" "$@" "$IMAGE" migrate >"$LOGDIR/$name-migrate.log" 2>&1; then
    pass "$name: 'migrate' exits 0 on the up-to-date database"
  else
    fail "$name: 'migrate' exited $? on the up-to-date database (see $LOGDIR/$name-migrate.log)"
  fi
  docker volume rm -f "$VOL" >/dev/null
}

# The Helm chart's test-hook script, rendered by the real helm for a Service at 127.0.0.1:$PORT
# (the chart is rendered from a temporary copy holding a stub of its optional subchart).
hook_script=""
if bash scripts/tools-install.sh >/dev/null; then
  chart_tmp=$(mktemp -d)
  cp -r charts/kryton "$chart_tmp/"
  mkdir -p "$chart_tmp/kryton/charts/postgresql"
  printf 'apiVersion: v2\nname: postgresql\nversion: 16.4.5\ndescription: stub for rendering only\n' \
    > "$chart_tmp/kryton/charts/postgresql/Chart.yaml"
  crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
  hook_script=$(.tools/bin/helm template smoke "$chart_tmp/kryton" --set fullnameOverride=127.0.0.1 \
      --set service.port="$PORT" --set image.tag="$crate_version" \
      --show-only templates/tests/test-endpoints.yaml \
    | .venv/bin/python -c 'import sys, yaml; print(yaml.safe_load(sys.stdin)["spec"]["containers"][0]["args"][0])') \
    || hook_script=""
  rm -rf "$chart_tmp"
fi
[[ -n $hook_script ]] && pass "rendered the chart's helm test script" || fail "could not render the chart's helm test script"

if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; then
  fail "port $PORT already answers on 127.0.0.1: stop whatever listens there or set SMOKE_PORT"
  finish
fi

# Failures surface as the documented exit codes (what `restart: unless-stopped` and a Deployment
# crashloop on), not as a container that hangs or exits 0.
rc=0; docker run --rm --network host -e PORT=not-a-port "$IMAGE" >"$LOGDIR/bad-config.log" 2>&1 || rc=$?
[[ $rc == 2 ]] && pass "invalid configuration exits 2" || fail "PORT=not-a-port exited $rc, want 2"
rc=0; docker run --rm --network host -e DB_CONNECT_TIMEOUT=2s \
  -e POSTGRES_URL="postgres://$PGUSER@127.0.0.1:1/unreachable" "$IMAGE" migrate >"$LOGDIR/unreachable.log" 2>&1 || rc=$?
[[ $rc == 3 ]] && pass "migrate against an unreachable database exits 3" || fail "unreachable database: exit $rc, want 3"

# SQLite: the image's defaults, with the root filesystem read-only as in the Helm chart.
smoke sqlite --read-only --tmpfs /tmp:rw,size=64m

# PostgreSQL: the machine's server, a throwaway database.
if psql -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -qAtc "CREATE DATABASE \"$DB\"" >/dev/null; then
  DB_CREATED=1
  smoke postgres --read-only --tmpfs /tmp:rw,size=64m \
    -e POSTGRES_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB"
else
  fail "postgres: could not create database $DB on $PGHOST:$PGPORT"
fi

finish
