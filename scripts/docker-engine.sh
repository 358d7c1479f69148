#!/usr/bin/env bash
# Start (or stop) a local Docker engine the way this kind of machine allows: no iptables, no bridge
# network, so containers run only with --network host or --network none.
#   scripts/docker-engine.sh start   installs docker.io from Debian if needed, starts dockerd,
#                                    waits for the socket; prints "started" or "running"
#   scripts/docker-engine.sh stop    stops the dockerd this script started (pid file), nothing else
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$ROOT/.tools/dockerd
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log

engine_up() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

case "${1:-start}" in
  start)
    if engine_up; then echo running; exit 0; fi
    if ! command -v dockerd >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y --no-install-recommends docker.io >/dev/null \
        || { apt-get update -qq && apt-get install -y --no-install-recommends docker.io >/dev/null; }
    fi
    mkdir -p "$STATE"
    dockerd --iptables=false --ip6tables=false --bridge=none >"$LOG" 2>&1 &
    echo $! > "$PIDFILE"
    for _ in $(seq 1 60); do
      if engine_up; then echo started; exit 0; fi
      if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then break; fi
      sleep 1
    done
    echo "docker-engine: dockerd did not come up; last lines of $LOG:" >&2
    tail -n 30 "$LOG" >&2
    exit 1
    ;;
  stop)
    if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      pid=$(cat "$PIDFILE")
      kill "$pid"
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      rm -f "$PIDFILE"
      echo stopped
    else
      echo "not started by this script"
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
