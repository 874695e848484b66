"""`--ray`: indexing and serving on a real Ray cluster of two nodes (two `ray start` processes on
this machine), compared with the single-machine build of the same papers."""

from __future__ import annotations

import gzip
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

pytest.importorskip("ray.data", reason="Ray is not installed: pip install 'ray[data,serve]>=2.40'")
pytest.importorskip("ray.serve", reason="Ray is not installed: pip install 'ray[data,serve]>=2.40'")

from indexer.build import build_index  # noqa: E402
from indexer.store import load_index  # noqa: E402
from models import Encoder  # noqa: E402
from service import ranking  # noqa: E402
from service.served import ServedIndex  # noqa: E402
from tests.conftest import free_port, paperlens_command, stop_process  # noqa: E402
from tests.postgres_server import postgres_server  # noqa: E402,F401

ARXIV_SAMPLE = Path(__file__).parents[1] / "data" / "arxiv-cs-recent-5000.jsonl.gz"
PAPERS = 120
NODE_CPUS = 2  # logical CPUs each node offers; two actors of two CPUs need one node each
QUERIES = ["reinforcement learning from human feedback", "graph neural networks",
           "speculative decoding for large language models", "medical image segmentation"]
MARKER = "PAPERLENS_TEST_RAY_CLUSTER"  # in the environment of every process of the test cluster
# A loopback-only cluster; set explicitly so that a token in ~/.ray (or none) changes nothing.
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


class LocalRayCluster:
    """A head node and a worker node on this machine, each a `ray start --block` process that stops
    its node's processes when terminated. Its files (and sockets) live in one short temp folder."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="plray-", dir="/tmp"))  # unix socket paths must stay short
        self.processes: list[subprocess.Popen] = []
        self.address = ""

    def start(self) -> None:
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        head = self._start_node("head", "--head", f"--port={port}", "--include-dashboard=false",
                                f"--dashboard-port={free_port()}", f"--ray-client-server-port={free_port()}")
        self._wait(head, lambda: _accepts_connections(port))  # the worker needs only the head's GCS
        worker = self._start_node("worker", f"--address={self.address}")
        for node in (head, worker):
            self._wait(node, lambda: "block forever" in node[1].read_text())

    def _start_node(self, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
        log_path = self.folder / f"{name}.log"
        ray = Path(sys.executable).with_name("ray")
        command = [str(ray), "start", "--block", f"--num-cpus={NODE_CPUS}", f"--temp-dir={self.folder}",
                   "--object-store-memory=100000000", "--disable-usage-stats", "--node-ip-address=127.0.0.1", *args]
        env = {**RAY_ENV, MARKER: str(self.folder), "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
        with log_path.open("w") as log:
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
        return self.processes[-1], log_path

    @staticmethod
    def _wait(node: tuple[subprocess.Popen, Path], started: Callable[[], bool]) -> None:
        process, log_path = node
        deadline = time.monotonic() + 180
        while not started():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ray node did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        """Each node's `ray start` stops its processes on SIGTERM; anything of this cluster still
        running after that (found by its environment marker, never by name) is killed."""
        for process in reversed(self.processes):
            stop_process(process, timeout=60)
        for pid in self.leftover_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def leftover_pids(self) -> list[int]:
        marker = f"{MARKER}={self.folder}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    if marker in (entry / "environ").read_bytes().split(b"\0"):
                        pids.append(int(entry.name))
                except OSError:
                    continue
        return pids


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRayCluster]:
    local = LocalRayCluster()
    try:
        local.start()
        yield local
    finally:
        local.stop()
        assert not local.leftover_pids(), "processes of the test Ray cluster are still running"
        shutil.rmtree(local.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def papers_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ray-papers") / "papers.jsonl"
    with gzip.open(ARXIV_SAMPLE, "rt", encoding="utf-8") as records, path.open("w", encoding="utf-8") as out:
        out.writelines(itertools.islice(records, PAPERS))
    return path


def paperlens(*args: object, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*paperlens_command(), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=RAY_ENV)


@pytest.fixture(scope="module")
def cluster_index(cluster: LocalRayCluster, papers_file: Path) -> tuple[Path, str]:
    """(index folder, the command's output) of `paperlens index --ray` with one actor per node."""
    folder = papers_file.parent / "cluster-index"
    result = paperlens("index", papers_file, "--index", folder, "--ray", cluster.address,
                       "--ray-actors", 2, "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, result.stdout


@pytest.fixture(scope="module")
def local_index(papers_file: Path, encoder: Encoder) -> Path:
    folder = papers_file.parent / "local-index"
    build_index([str(papers_file)], folder, encoder, progress=False)
    return folder


def top_ids(engine: ServedIndex, query: str, k: int = 10) -> list[str]:
    hits = ranking.search(engine.index, query, engine.embed_query(query), k)
    return [engine.index.papers[hit.row].id for hit in hits]


def similar_ids(engine: ServedIndex, paper_id: str, k: int = 10) -> list[str]:
    hits = ranking.similar(engine.index, engine.index.row_of(paper_id), k)
    return [engine.index.papers[hit.row].id for hit in hits]


def test_the_cluster_build_is_the_single_machine_build(cluster_index: tuple[Path, str], local_index: Path,
                                                       encoder: Encoder) -> None:
    folder, output = cluster_index
    # two actors of 2 CPUs on two nodes of 2 CPUs: one actor on each node
    assert f"indexed {PAPERS} papers" in output and "2 encoder actors (2 CPU each)" in output, output
    built, expected = load_index(folder), load_index(local_index)
    assert [p.id for p in built.papers] == [p.id for p in expected.papers]
    assert (built.manifest.model, built.manifest.dim, built.manifest.count, built.manifest.dense) == \
        (expected.manifest.model, expected.manifest.dim, expected.manifest.count, expected.manifest.dense)
    assert sorted(p.name for p in built.folder.iterdir()) == sorted(p.name for p in expected.folder.iterdir())
    for ours, theirs in ((built.vectors, expected.vectors), (built.title_vectors, expected.title_vectors)):
        assert np.einsum("ij,ij->i", np.asarray(ours), np.asarray(theirs)).min() >= 0.999
    cluster_engine, local_engine = (ServedIndex.load(folder, encoder=encoder),
                                    ServedIndex.load(local_index, encoder=encoder))
    for query in QUERIES:
        assert top_ids(cluster_engine, query) == top_ids(local_engine, query), query
    for paper in expected.papers[:3]:
        assert similar_ids(cluster_engine, paper.id) == similar_ids(local_engine, paper.id), paper.id


def test_no_cluster_at_the_address_is_one_line_at_once(papers_file: Path, tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    result = paperlens("index", papers_file, "--index", tmp_path / "index", "--ray", address, timeout=60)
    assert result.returncode == 2 and f"no Ray cluster at {address}" in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_more_actors_than_the_cluster_has_cpus_is_one_line(cluster: LocalRayCluster, papers_file: Path,
                                                          tmp_path: Path) -> None:
    result = paperlens("index", papers_file, "--index", tmp_path / "index", "--ray", cluster.address,
                       "--ray-actors", 99, "--no-progress")
    assert result.returncode == 2 and "99 encoder actors" in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "index").exists()


@pytest.fixture(scope="module")
def users_url(request: pytest.FixtureRequest) -> str | None:
    """A PostgreSQL database every replica shares, where the machine can run one; else the SQLite
    file in the index folder (shared too, on one machine)."""
    try:
        return request.getfixturevalue("postgres_server").new_database()
    except pytest.skip.Exception:
        return None


@pytest.fixture(scope="module")
def served(cluster: LocalRayCluster, cluster_index: tuple[Path, str],
           users_url: str | None) -> Iterator[tuple[str, Path]]:
    """(base URL, log) of `paperlens serve --ray --replicas 2`, stopped (and undeployed) at the end."""
    folder = cluster_index[0]
    port = free_port()
    log_path = folder.parent / "serve.log"
    users = ["--users", users_url] if users_url else []
    command = [*paperlens_command(), "serve", "--index", str(folder), "--port", str(port), "--ray", cluster.address,
               "--replicas", "2", *users]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env={**RAY_ENV, "PAPERLENS_REFRESH_SECONDS": "0.5"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while "replicas ready" not in log_path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        yield base, log_path
    finally:
        stop_process(process, timeout=60)  # SIGTERM: the command undeploys its replicas, and Serve with them


def test_two_replicas_answer_the_contract_calls_like_one_machine(served: tuple[str, Path], local_index: Path,
                                                                 encoder: Encoder) -> None:
    base, log_path = served
    local = ServedIndex.load(local_index, encoder=encoder)
    with httpx.Client(base_url=base, timeout=30) as http:
        health = http.get("/health")
        assert health.status_code == 200 and health.json()["papers"] == PAPERS
        for query in QUERIES[:2]:
            found = http.get("/search", params={"q": query, "k": 10})
            assert found.status_code == 200
            assert [p["id"] for p in found.json()["results"]] == top_ids(local, query), query
        paper_id = local.index.papers[0].id
        similar = http.get(f"/papers/{paper_id}/similar", params={"k": 10})
        assert [p["id"] for p in similar.json()["results"]] == similar_ids(local, paper_id)
        recommended = http.post("/recommendations", json={"liked": [paper_id], "k": 5})
        assert recommended.status_code == 200 and len(recommended.json()["results"]) == 5
        assert paper_id not in [p["id"] for p in recommended.json()["results"]]
        assert http.get("/papers/no-such-paper/similar").status_code == 404


def test_a_change_made_through_one_replica_reaches_every_replica(served: tuple[str, Path]) -> None:
    base, _ = served
    paper = {"id": "ray-test-1", "title": "Growing qubits in garden soil",
             "abstract": "We plant qubits and water them."}
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.post("/papers", json=[paper]).status_code == 200
        deadline = time.monotonic() + 20
        while True:  # requests spread over both replicas: all must see the paper once they refreshed
            answers = [http.get(f"/papers/{paper['id']}").status_code for _ in range(12)]
            if set(answers) == {200} or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert set(answers) == {200}, answers
        assert http.put(f"/users/ada/likes/{paper['id']}").status_code == 200
        assert all(paper["id"] in http.get("/users/ada").json()["likes"] for _ in range(12))
