#!/usr/bin/env bash
# Print the operator's manifests (deploy/operator) with the operator image set to $1.
# Used by `make deploy IMG=...` (piped to kubectl apply) and by scripts/operator-check.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMG=${1:?usage: operator-render.sh IMAGE}
if [[ ! "$IMG" =~ ^[A-Za-z0-9._/:@-]+$ ]]; then
  echo "operator-render: invalid image reference: $IMG" >&2
  exit 2
fi
first=1
for f in namespace.yaml rbac.yaml deployment.yaml; do
  [[ $first == 1 ]] || echo '---'
  first=0
  sed -E "s#^([[:space:]]*image:[[:space:]]*)ghcr.io/azrtydxb/kryton-rs/kryton-operator:[^[:space:]]+#\1${IMG}#" "$ROOT/deploy/operator/$f"
done
