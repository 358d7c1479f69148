"""The project's licence is stated once, the same way, everywhere a user or a tool reads it."""
from __future__ import annotations

import json
import re
import tomllib

from conftest import CHART, ROOT, chart_meta

SPDX = "AGPL-3.0-only"


def test_workspace_license_is_the_projects():
    with open(ROOT / "Cargo.toml", "rb") as f:
        assert tomllib.load(f)["workspace"]["package"]["license"] == SPDX


def test_every_crate_inherits_the_workspace_license():
    crates = sorted((ROOT / "crates").glob("*/Cargo.toml"))
    assert len(crates) >= 3
    for manifest in crates:
        with open(manifest, "rb") as f:
            package = tomllib.load(f)["package"]
        assert package.get("license") == {"workspace": True}, f"{manifest}: license.workspace = true expected"
        assert "license-file" not in package, manifest


def test_license_file_is_the_agpl_v3():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("GNU AFFERO GENERAL PUBLIC LICENSE\nVersion 3, 19 November 2007")
    assert "13. Remote Network Interaction" in text
    assert len(text) > 30_000, "the whole licence, not a pointer to it"


def test_chart_declares_the_license():
    assert chart_meta()["annotations"]["artifacthub.io/license"] == SPDX


def test_image_labels_declare_the_license():
    for dockerfile in ("Dockerfile", "operator.Dockerfile"):
        text = (ROOT / dockerfile).read_text()
        labels = re.findall(r'org\.opencontainers\.image\.licenses="([^"]*)"', text)
        assert labels == [SPDX], f"{dockerfile}: {labels}"


def test_web_app_package_declares_the_license():
    assert json.loads((ROOT / "web" / "package.json").read_text())["license"] == SPDX
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    assert lock["packages"][""]["license"] == SPDX, "run npm install --package-lock-only in web/"


def test_openapi_document_declares_the_license():
    doc = json.loads((ROOT / "crates" / "kryton-server" / "openapi.json").read_text())
    assert doc["info"]["license"]["name"] == SPDX


def test_chart_is_not_licensed_differently():
    # A LICENSE inside the chart would be what `helm package` ships; it must not contradict ours.
    inner = CHART / "LICENSE"
    assert not inner.exists() or inner.read_text() == (ROOT / "LICENSE").read_text()
