"""Shared helpers for the offline deployment tests (run by scripts/check-deploy.sh).

The tools are the real ones, installed by scripts/tools-install.sh: helm (v3 and v4, from PyPI
wheels), kubernetes-validate, hadolint and docker-compose v1. A missing tool is a failure, never a
skip: a deploy check that silently does nothing is worse than none.
"""
from __future__ import annotations

import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kryton"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
TOOLS = ROOT / ".tools" / "bin"
VENV_BIN = ROOT / ".venv" / "bin"
HELMS = {"helm3": TOOLS / "helm3", "helm4": TOOLS / "helm4"}
RELEASE = "rel"


def tool(path: Path) -> str:
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/tools-install.sh")
    return str(path)


def cargo_version() -> str:
    with open(ROOT / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def chart_meta() -> dict:
    return yaml.safe_load((CHART / "Chart.yaml").read_text())


@pytest.fixture(scope="session")
def chart_dir(tmp_path_factory) -> Path:
    """A temporary copy of the chart with a STUB in place of the bitnami/postgresql subchart.

    Helm refuses to render a chart whose declared dependency is not under charts/, even when its
    condition is false, and no chart repository can be reached here. The stub has the same name
    and version as the pinned dependency and renders only a marker ConfigMap, so tests can see
    whether `postgresql.enabled` switches it on. It is never committed to the real chart.
    """
    dest = tmp_path_factory.mktemp("chart") / "kryton"
    shutil.copytree(CHART, dest)
    dep = next(d for d in chart_meta()["dependencies"] if d["name"] == "postgresql")
    stub = dest / "charts" / "postgresql"
    (stub / "templates").mkdir(parents=True)
    (stub / "Chart.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v2",
                "name": "postgresql",
                "version": dep["version"],
                "description": "TEST STUB standing in for bitnami/postgresql (tests/deploy only)",
            }
        )
    )
    (stub / "values.yaml").write_text("auth: {}\n")
    (stub / "templates" / "marker.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-postgresql-stub-marker\n"
        "data:\n  stub: \"bitnami/postgresql stand-in\"\n"
    )
    return dest


@dataclass
class Render:
    returncode: int
    stdout: str
    stderr: str

    @property
    def docs(self) -> list[dict]:
        assert self.returncode == 0, self.stderr
        return [d for d in yaml.safe_load_all(self.stdout) if d]

    def one(self, kind: str, name_suffix: str = "") -> dict:
        found = [
            d for d in self.docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)
        ]
        assert len(found) == 1, f"expected one {kind}*{name_suffix}, got {[d['metadata']['name'] for d in found]}"
        return found[0]

    def kinds(self) -> list[str]:
        return sorted(d["kind"] for d in self.docs)


@pytest.fixture(scope="session")
def render(chart_dir):
    def _render(*args: str, values: list[Path] = (), helm: str = "helm3", kube: str | None = None) -> Render:
        cmd = [tool(HELMS[helm]), "template", RELEASE, str(chart_dir), "--namespace", "notes"]
        for v in values:
            cmd += ["-f", str(v)]
        if kube:
            cmd += ["--kube-version", kube]
        cmd += list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        return Render(p.returncode, p.stdout, p.stderr)

    return _render


def deployment(r: Render) -> dict:
    return r.one("Deployment")


def server_container(r: Render) -> dict:
    containers = deployment(r)["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "kryton")


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}
