"""The Dockerfile: hadolint, and the promises the image makes (checked on the file itself; the
real build-and-run is scripts/docker-smoke.sh)."""
from __future__ import annotations

import json
import re
import subprocess
import tomllib

from conftest import ROOT, VENV_BIN, tool

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    return ins[last_from:]


def test_hadolint_clean():
    p = subprocess.run(
        [tool(VENV_BIN / "hadolint"), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr


def test_hadolint_catches_problems(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install curl\n")
    p = subprocess.run([tool(VENV_BIN / "hadolint"), str(bad)], capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "DL3006" in p.stdout


def test_multi_stage_rust_builder_and_slim_debian_runtime():
    ins = instructions()
    args = dict(rest.split("=", 1) for w, rest in ins if w == "ARG" and "=" in rest)
    assert args["RUNTIME_IMAGE"] == "debian:bookworm-slim"
    m = re.fullmatch(r"rust:(\d+)\.(\d+)-bookworm", args["RUST_IMAGE"])
    assert m, args["RUST_IMAGE"]
    with open(ROOT / "Cargo.toml", "rb") as f:
        msrv = tomllib.load(f)["workspace"]["package"]["rust-version"]
    assert (int(m[1]), int(m[2])) >= tuple(int(x) for x in msrv.split(".")[:2])
    assert re.fullmatch(r"node:(\d+)-bookworm-slim", args["NODE_IMAGE"]), args["NODE_IMAGE"]
    froms = [rest for w, rest in ins if w == "FROM"]
    assert froms == ["${NODE_IMAGE} AS web", "${RUST_IMAGE} AS build", "${RUNTIME_IMAGE}"]
    # The web app built by the node stage reaches the binary (build.rs embeds it, npm not rerun).
    copies = [rest for w, rest in ins if w == "COPY"]
    assert "--from=web /src/web/dist ./web/dist" in copies
    assert any(w == "ENV" and "KRYTON_SKIP_WEB_BUILD=1" in rest for w, rest in ins)


def test_runtime_stage_contract():
    stage = final_stage()
    joined = {w: [r for ww, r in stage if ww == w] for w, _ in stage}
    assert joined["USER"] == ["10001:10001"]
    assert json.loads(joined["ENTRYPOINT"][0]) == ["kryton"]
    assert json.loads(joined["CMD"][0]) == ["serve"]
    assert joined["EXPOSE"] == ["3001"]
    assert joined["VOLUME"] == ["/data"]
    env = " ".join(joined["ENV"])
    assert "DATA_DIR=/data" in env and "NOTES_DIR=/data/notes" in env
    hc = joined["HEALTHCHECK"][0]
    assert json.loads(hc.split("CMD", 1)[1]) == ["kryton", "healthcheck"]
    run = " ".join(joined["RUN"])
    assert "--uid 10001" in run and "/COMMIT_SHA" in run and "${KRYTON_COMMIT" in run
    assert "ARG" in joined and any(a.startswith("KRYTON_COMMIT") for a in joined["ARG"])


def test_build_context_is_an_allow_list():
    lines = [l for l in (ROOT / ".dockerignore").read_text().splitlines() if l and not l.startswith("#")]
    assert lines[0] == "*"
    assert "!crates/" in lines and "!Cargo.lock" in lines and "!web/" in lines
    assert "web/node_modules" in lines
