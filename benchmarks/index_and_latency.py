"""Indexing throughput and API latency on the bundled corpus (issue 2's figures).

Builds the index of `data/` with `paperlens index` (timed), serves it with `paperlens serve` on
loopback, and times 200 calls each of /search, /papers/{id}/similar and POST /recommendations
from one client. Prints papers/s and p50/p95/p99 in ms, with the data it ran on.

    .venv/bin/python benchmarks/index_and_latency.py [--index var/bench-index] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent
CORPUS = [ROOT / "data" / "daily-papers-seed.txt", ROOT / "data" / "arxiv-cs-recent-5000.jsonl.gz"]


def paperlens() -> list[str]:
    script = Path(sys.executable).with_name("paperlens")
    return [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]


def build(index: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*paperlens(), "index", *map(str, CORPUS), "--index", str(index), "--no-progress"], check=True)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(index: Path) -> tuple[subprocess.Popen, str]:
    """`paperlens serve` on a free loopback port (its request log discarded), once /ready says so."""
    port = free_port()
    process = subprocess.Popen([*paperlens(), "serve", "--index", str(index), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(f"{base}/ready").status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49]:6.1f} ms   p95 {cuts[94]:6.1f} ms   p99 {cuts[98]:6.1f} ms   (n={len(samples)})"


def timed(call) -> float:
    started = time.perf_counter()
    response = call()
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="time the calls on an existing index, skip the build")
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    index = args.index or Path(tempfile.mkdtemp()) / "index"
    if not args.reuse:
        seconds = build(index)
    manifest = json.loads((index / (index / "CURRENT").read_text().strip() / "manifest.json").read_text())
    count = manifest["count"]
    print(f"data: {', '.join(p.name for p in CORPUS)} -> {count} papers; model {manifest['model']}; dense index {manifest['dense']['type']}")
    if not args.reuse:
        print(f"paperlens index: {seconds:.1f} s end to end = {count / seconds:.1f} papers/s (model load, reading, embedding, BM25, FAISS, write)")
    process, base = serve(index)
    try:
        papers = [json.loads(line) for line in (index / (index / "CURRENT").read_text().strip() / "papers.jsonl").open()]
        rng = random.Random(7)
        sample = rng.sample(papers, args.calls)
        # Queries as a researcher types them: the first words of real titles (one run of 200 distinct queries, no cache hits).
        queries = [" ".join(p["title"].split()[:6]) for p in sample]
        with httpx.Client(base_url=base, timeout=30) as http:
            for q in ("warm up", "the model"):
                http.get("/search", params={"q": q})
            search = [timed(lambda: http.get("/search", params={"q": q, "k": 10})) for q in queries]
            similar = [timed(lambda: http.get(f"/papers/{quote(p['id'], safe='')}/similar", params={"k": 10})) for p in sample]
            liked = [[p["id"] for p in rng.sample(papers, 5)] for _ in sample]
            recommend = [timed(lambda: http.post("/recommendations", json={"liked": ids, "k": 10})) for ids in liked]
        print(f"GET  /search (hybrid)        {percentiles(search)}")
        print(f"GET  /papers/{{id}}/similar    {percentiles(similar)}")
        print(f"POST /recommendations (5 liked) {percentiles(recommend)}")
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
