"""Operating a live index with real processes on loopback: kill -9 during builds and updates,
searches running while papers are added, deleted and the index swapped, and API fuzzing."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from indexer.live import load_live
from tests.conftest import DATA, paperlens_command, start_server, stop_process

ADMIN_KEY = "ops-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
BUNDLED = Path(__file__).parent.parent / "data" / "arxiv-cs-recent-5000.jsonl.gz"


def new_paper(number: int) -> dict:
    return {"id": f"ops-{number}", "title": f"Operational paper {number} on zorbulated lattices",
            "abstract": f"Zorbulation variant {number} for lattice defect prediction.", "published": "2026-11-01"}


@pytest.fixture()
def index_copy(seed_index: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    shutil.copytree(seed_index, folder, ignore=shutil.ignore_patterns("users.sqlite*"))
    return folder


def test_kill_9_during_builds_always_leaves_a_loadable_index(index_copy: Path, tmp_path: Path) -> None:
    """A build killed at random points (reading, embedding, writing) leaves the previous index
    live and answering; one left to finish replaces it."""
    source = tmp_path / "more.jsonl"
    seed = [json.loads(line) for line in (DATA / "seed-papers.jsonl").open()]
    source.write_text("".join(json.dumps({**p, "id": p["id"] + "-v2"}) + "\n" for p in seed * 1))
    before = load_live(index_copy)[0].live_count
    rng = random.Random(7)
    update = [*paperlens_command(), "index", str(source), "--index", str(index_copy), "--update", "--no-progress"]
    for _ in range(4):
        process = subprocess.Popen(update, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 6.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=20)
        index, _ = load_live(index_copy)
        assert index.live_count in (before, before + len(seed))
        assert index.search_dense(index.vectors[0], 1)[1][0] == 0
    finished = subprocess.run(update, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert load_live(index_copy)[0].live_count == before + len(seed)
    assert len([p for p in index_copy.iterdir() if p.name.startswith(("gen-", ".tmp-"))]) == 1  # leftovers cleaned


def test_acknowledged_updates_survive_kill_9(index_copy: Path) -> None:
    """A client adds and deletes papers while the server is killed at a random moment, several
    times: every change answered 2xx is there after a restart. (A delete cut off by the kill may
    or may not have happened: its paper is checked neither way.)"""
    rng = random.Random(11)
    acknowledged_added: set[str] = set()
    acknowledged_deleted: set[str] = set()
    delete_sent: set[str] = set()
    number = 0
    for _ in range(3):
        process, base = start_server(index_copy, env={"PAPERLENS_ADMIN_KEY": ADMIN_KEY})
        killer = threading.Timer(rng.uniform(1.0, 4.0), lambda p=process: p.send_signal(signal.SIGKILL))
        killer.start()
        with httpx.Client(base_url=base, headers=ADMIN, timeout=10) as http:
            while process.poll() is None:
                number += 1
                try:
                    if number % 4 == 0 and acknowledged_added - delete_sent:
                        victim = sorted(acknowledged_added - delete_sent)[0]
                        delete_sent.add(victim)
                        if http.delete(f"/papers/{victim}").status_code == 200:
                            acknowledged_deleted.add(victim)
                    elif http.post("/papers", json=[new_paper(number)]).status_code == 200:
                        acknowledged_added.add(f"ops-{number}")
                except httpx.TransportError:
                    break
        killer.join()
        process.wait(timeout=20)
    index, _ = load_live(index_copy)
    assert acknowledged_added and acknowledged_deleted, "no add or no delete was acknowledged before the kills"
    for paper_id in acknowledged_added - delete_sent:
        assert paper_id in index, paper_id
    for paper_id in acknowledged_deleted:
        assert paper_id not in index, paper_id


def test_searches_never_fail_or_see_deleted_papers_while_the_index_changes(index_copy: Path, encoder,
                                                                            tmp_path: Path) -> None:
    """Readers search continuously while a writer adds and deletes papers, a rebuild is swapped
    in and the index compacted: zero failed requests, and no search after a delete was
    acknowledged returns the deleted paper."""
    process, base = start_server(index_copy, env={"PAPERLENS_ADMIN_KEY": ADMIN_KEY, "PAPERLENS_REFRESH_SECONDS": "0"})
    deleted: dict[str, float] = {}  # id -> when its delete was acknowledged
    failures: list[str] = []
    stale: list[str] = []
    searches = 0
    stop_readers = threading.Event()

    def read() -> None:
        nonlocal searches
        with httpx.Client(base_url=base, timeout=30) as http:
            while not stop_readers.is_set():
                started = time.monotonic()
                try:
                    answer = http.get("/search", params={"q": "zorbulated lattice defect prediction", "k": 50})
                except httpx.TransportError as error:
                    failures.append(repr(error))
                    continue
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
                    continue
                searches += 1
                for paper in answer.json()["results"]:
                    acknowledged = deleted.get(paper["id"])
                    if acknowledged is not None and acknowledged < started:
                        stale.append(paper["id"])

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        with httpx.Client(base_url=base, headers=ADMIN, timeout=60) as http:
            for number in range(12):
                assert http.post("/papers", json=[new_paper(number)]).status_code == 200
                if number % 2:
                    victim = f"ops-{number - 1}"
                    assert http.delete(f"/papers/{victim}").status_code == 200
                    deleted[victim] = time.monotonic()
                if number == 5:  # a rebuild from the sources, swapped in while serving
                    rebuild = [*paperlens_command(), "index", str(DATA / "seed-papers.jsonl"), "--index",
                               str(index_copy), "--no-progress"]
                    rebuilt = subprocess.run(rebuild, capture_output=True, text=True, timeout=300)
                    assert rebuilt.returncode == 0, rebuilt.stderr
                    generation = http.get("/admin/status").json()["generation"]
                    process.send_signal(signal.SIGHUP)  # the operator's reload signal
                    deadline = time.monotonic() + 60
                    while http.get("/admin/status").json()["generation"] == generation:
                        assert time.monotonic() < deadline, "SIGHUP did not swap in the rebuilt index"
                        time.sleep(0.2)
                if number == 9:
                    compacted = subprocess.run([*paperlens_command(), "compact", "--index", str(index_copy)],
                                               capture_output=True, text=True, timeout=300)
                    assert compacted.returncode == 0, compacted.stderr
                    assert http.post("/admin/reload").json()["pending_changes"] == 0
            time.sleep(1.5)
            final = http.get("/search", params={"q": "zorbulated lattice", "k": 100}).json()["results"]
    finally:
        stop_readers.set()
        for reader in readers:
            reader.join(timeout=60)
        stop_process(process)
    assert searches > 20
    assert failures == []
    assert stale == []
    found = {paper["id"] for paper in final}
    assert {f"ops-{n}" for n in range(0, 12, 2)} & found == set()
    # The full rebuild from the sources replaced the papers added before it; later ones are kept.
    assert {"ops-1", "ops-3", "ops-5"} & found == set()
    assert {"ops-7", "ops-9", "ops-11"} <= found


def test_fuzzing_the_api_from_its_openapi_schema_finds_no_5xx(index_copy: Path, tmp_path: Path) -> None:
    """Schemathesis generates requests for every operation in /openapi.json (valid and invalid):
    the server must never answer 5xx."""
    process, base = start_server(index_copy, env={"PAPERLENS_ADMIN_KEY": ADMIN_KEY})
    try:
        result = subprocess.run(
            [str(Path(paperlens_command()[0]).with_name("schemathesis")), "run", f"{base}/openapi.json",
             "--checks", "not_a_server_error", "--max-examples", "15", "--seed", "1", "--workers", "2",
             "--request-timeout", "30", "-H", f"Authorization: Bearer {ADMIN_KEY}", "--phases", "examples,fuzzing"],
            capture_output=True, text=True, timeout=400, cwd=tmp_path)
    finally:
        stop_process(process)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Server error" not in result.stdout


def test_a_short_load_run_with_16_clients_has_no_errors(server: str, seed_index: Path) -> None:
    """The load benchmark's client mix, 16 at once for a few seconds (the 60 s run is in benchmarks/load.py)."""
    import asyncio

    from benchmarks.load import live_papers, run

    latencies, errors, _ = asyncio.run(run(server, live_papers(seed_index), clients=16, seconds=5))
    assert errors == []
    assert set(latencies) == {"search", "similar", "recommend"} and sum(map(len, latencies.values())) > 16
