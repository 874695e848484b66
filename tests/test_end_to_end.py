"""A real `paperlens serve` process on loopback, driven over HTTP like an integrating tool would."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(seed_index: Path):
    port = free_port()
    script = Path(sys.executable).with_name("paperlens")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
    process = subprocess.Popen([*command, "serve", "--index", str(seed_index), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read()
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("server did not become ready in 90 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_the_served_api_answers_every_call(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        health = http.get("/health").json()
        assert health["status"] == "ok" and health["papers"] > 30
        found = http.get("/search", params={"q": "differentially private best arm identification", "k": 3}).json()["results"]
        assert found[0]["title"].startswith("Fixed-Budget Differentially Private Best Arm")
        paper_id = found[0]["id"]
        assert http.get(f"/papers/{quote(paper_id, safe='')}").json()["id"] == paper_id
        similar = http.get(f"/papers/{quote(paper_id, safe='')}/similar", params={"k": 5}).json()["results"]
        assert len(similar) == 5 and paper_id not in [p["id"] for p in similar]
        recommended = http.post("/recommendations", json={"liked": [paper_id], "k": 5}).json()
        assert len(recommended["results"]) == 5 and recommended["unknown_ids"] == []
        assert http.get("/papers/does-not-exist").status_code == 404
        assert http.get("/search", params={"q": "x", "k": 1000}).status_code == 422
        assert "paperlens" in http.get("/").text
