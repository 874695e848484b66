"""A real `paperlens serve` process on loopback, driven over HTTP like an integrating tool would."""

from __future__ import annotations

import shutil
import signal
from urllib.parse import quote

import httpx

from tests.conftest import start_server


def test_the_served_api_answers_every_call(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as http:
        health = http.get("/health").json()
        assert health["status"] == "ok" and health["papers"] > 30
        query = {"q": "differentially private best arm identification", "k": 3}
        found = http.get("/search", params=query).json()["results"]
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


def test_an_acknowledged_like_survives_kill_9(seed_index, tmp_path) -> None:
    index = tmp_path / "index"
    shutil.copytree(seed_index, index, ignore=shutil.ignore_patterns("users.sqlite*"))
    process, base = start_server(index)
    papers = httpx.get(f"{base}/search", params={"q": "language models", "k": 5}).json()["results"]
    try:
        for paper in papers:
            assert httpx.put(f"{base}/users/durable/likes/{quote(paper['id'], safe='')}").status_code == 200
        assert httpx.post(f"{base}/users/durable/seen", json=[papers[0]["id"]]).status_code == 200
    finally:
        process.send_signal(signal.SIGKILL)  # no shutdown, no flush: only what was on disk counts
        process.wait(timeout=20)
    process, base = start_server(index)
    try:
        user = httpx.get(f"{base}/users/durable").json()
        assert user["likes"] == [p["id"] for p in papers] and user["counts"]["seen"] == 1
    finally:
        process.terminate()
        process.wait(timeout=20)
