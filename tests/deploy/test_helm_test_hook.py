"""Run the `helm test` pod's script for real, against a local stand-in for the server.

The script is taken from the rendered Pod and run with bash, as the pod would run it, pointed at an
HTTP server on 127.0.0.1 that answers like kryton does (per the server contract). No cluster needed.
"""
from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import chart_meta


def serve(version: str, ready: bool):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/readyz":
                status = 200 if ready else 503
                body = {"status": "ok", "checks": {"database": {"ok": True}}, "schema": {"version": 3}} if ready \
                    else {"status": "degraded", "checks": {"database": {"ok": False, "message": "down"}}}
            elif self.path in ("/api/version", "/version"):
                status, body = 200, {"version": version, "commit": "abc1234", "major": 0}
            else:
                status, body = 404, {"error": {"code": "NOT_FOUND", "message": self.path}}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def hook_script(render, port: int, *args: str) -> list[str]:
    # fullnameOverride makes the script's host the loopback address of the stand-in.
    r = render("--set", "fullnameOverride=127.0.0.1", "--set", f"service.port={port}", *args)
    c = r.one("Pod", "-test-endpoints")["spec"]["containers"][0]
    assert c["command"] == ["bash", "-c"]
    return c["command"] + c["args"]


@pytest.mark.parametrize(
    "served,pinned,ok",
    [
        (chart_meta()["appVersion"], None, True),
        ("9.9.9", None, False),       # an old pod still answering: the upgrade is not live
        ("0.0.9", "v0.0.9", True),    # a pinned "v" tag is compared without the "v"
        ("anything", "main", True),   # a branch tag: reachable is all that can be checked
    ],
    ids=["app-version", "wrong-version", "pinned-v-tag", "branch-tag"],
)
def test_hook_script_against_a_live_server(render, served, pinned, ok):
    srv = serve(served, ready=True)
    try:
        extra = ["--set", f"image.tag={pinned}"] if pinned else []
        p = subprocess.run(hook_script(render, srv.server_port, *extra), capture_output=True, text=True, timeout=90)
    finally:
        srv.shutdown()
    assert (p.returncode == 0) == ok, p.stdout + p.stderr
    assert "ok /readyz" in p.stdout
    if not ok:
        assert "does not report version" in p.stdout


def test_hook_script_fails_when_nothing_listens(render):
    srv = serve("x", ready=True)
    port = srv.server_port
    srv.shutdown()
    srv.server_close()
    script = hook_script(render, port)
    # Shorten the wait loop for the test; the real pod retries for about a minute.
    assert "seq 1 30" in script[-1]
    script[-1] = script[-1].replace("seq 1 30", "seq 1 2")
    p = subprocess.run(script, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "FAIL /readyz" in p.stdout
