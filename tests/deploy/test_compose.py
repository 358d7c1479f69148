"""The Compose files, checked by the real docker-compose (v1.29 from Debian; Compose v2 cannot be
installed from the registries this machine reaches, so the files avoid keys v1 rejects)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, cargo_version, chart_meta

COMPOSE_DIR = ROOT / "deploy" / "compose"
MAIN = COMPOSE_DIR / "docker-compose.yml"
SQLITE = COMPOSE_DIR / "docker-compose.sqlite.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"


def compose(file: Path, *args: str, env_file: Path | None = ENV_EXAMPLE, tmp: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose is missing: run scripts/tools-install.sh")
    # A clean environment and a project directory of our own, so neither the caller's variables nor
    # a .env someone left next to the files change what is checked.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp)}
    cmd = [exe, "--project-directory", str(tmp), "-f", str(file)]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, timeout=120)


def config(file: Path, tmp: Path, env_file: Path | None = ENV_EXAMPLE) -> dict:
    p = compose(file, "config", env_file=env_file, tmp=tmp)
    assert p.returncode == 0, p.stderr
    return yaml.safe_load(p.stdout)


@pytest.mark.parametrize("file", [MAIN, SQLITE], ids=["postgres", "sqlite"])
def test_config_is_valid(file, tmp_path):
    p = compose(file, "config", "-q", tmp=tmp_path)
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("file", [MAIN, SQLITE], ids=["postgres", "sqlite"])
def test_no_keys_that_compose_v1_rejects(file):
    doc = yaml.safe_load(file.read_text())
    assert not {"name", "include"} & set(doc)
    assert "version" not in doc  # obsolete in Compose v2, optional in v1.27+


def test_password_is_required(tmp_path):
    env = tmp_path / "env"
    env.write_text("KRYTON_TAG=0.1.0\n")
    p = compose(MAIN, "config", "-q", env_file=env, tmp=tmp_path)
    assert p.returncode != 0
    assert "POSTGRES_PASSWORD" in p.stderr


def test_postgres_service(tmp_path):
    pg = config(MAIN, tmp_path)["services"]["postgres"]
    assert pg["image"] == "postgres:16"  # major pinned
    assert pg["restart"] == "unless-stopped"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert pg["environment"]["POSTGRES_PASSWORD"] == "change-me-to-a-long-random-hex-string"
    assert pg["volumes"][0].startswith("postgres-data:/var/lib/postgresql/data")


def test_kryton_waits_for_a_healthy_database(tmp_path):
    doc = config(MAIN, tmp_path)
    k = doc["services"]["kryton"]
    assert k["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert k["restart"] == "unless-stopped"
    assert k["environment"]["POSTGRES_URL"] == (
        "postgres://kryton:change-me-to-a-long-random-hex-string@postgres:5432/kryton"
    )
    assert k["volumes"][0].startswith("kryton-data:/data")
    assert set(doc["volumes"]) == {"postgres-data", "kryton-data"}


def test_image_default_tag_is_the_release(tmp_path):
    env = tmp_path / "env"
    env.write_text("POSTGRES_PASSWORD=x\n")
    for file in (MAIN, SQLITE):
        image = config(file, tmp_path, env_file=env)["services"]["kryton"]["image"]
        assert image == f"ghcr.io/azrtydxb/kryton-rs/kryton:{cargo_version()}"
    assert cargo_version() == chart_meta()["appVersion"]
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")
    )
    assert example["KRYTON_TAG"] == cargo_version()


def test_image_tag_is_pinned_from_env(tmp_path):
    env = tmp_path / "env"
    env.write_text("POSTGRES_PASSWORD=x\nKRYTON_TAG=0.0.9\nKRYTON_IMAGE=registry.local/kryton\n")
    for file in (MAIN, SQLITE):
        assert config(file, tmp_path, env_file=env)["services"]["kryton"]["image"] == "registry.local/kryton:0.0.9"


def test_sqlite_variant_is_one_service_without_a_database_url(tmp_path):
    doc = config(SQLITE, tmp_path, env_file=None)
    assert list(doc["services"]) == ["kryton"]
    k = doc["services"]["kryton"]
    assert "POSTGRES_URL" not in k.get("environment", {})
    assert k["restart"] == "unless-stopped"
    assert k["volumes"][0].startswith("kryton-data:/data")
    assert k["ports"][0]["target"] == 3001 if isinstance(k["ports"][0], dict) else k["ports"][0].endswith(":3001/tcp")
