"""Indexing throughput, start-up time and API latency on the bundled corpus (issue 2's figures).

Builds the index of `data/` with `paperlens index` (timed), serves it with `paperlens serve` on
loopback (timed from the command's start to the first 200 from /ready, `--starts` times), and
times 200 calls each of /search, /papers/{id}/similar and POST /recommendations (`--liked`
papers liked) from one client. Prints papers/s, seconds to ready and p50/p95/p99 in ms, with the
data it ran on. `--reuse --index DIR` times an existing index instead of building one.

    .venv/bin/python benchmarks/index_and_latency.py [--index var/bench-index] [--reuse] [--liked 20] [--starts 3]
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
    process, base, _ = serve_timed(index)
    return process, base


def serve_timed(index: Path, timeout: float = 120) -> tuple[subprocess.Popen, str, float]:
    """`serve`, and the seconds from starting the command to the first 200 from /ready."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen([*paperlens(), "serve", "--index", str(index), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=5) as http:
        while time.perf_counter() - started < timeout:
            try:
                if http.get("/ready").status_code == 200:
                    return process, base, time.perf_counter() - started
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"paperlens serve exited with code {process.returncode}")
            time.sleep(0.02)
    process.terminate()
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
    from models.host import describe_host

    print(describe_host(), flush=True)  # every figure below belongs to this host class
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="time the calls on an existing index, skip the build")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--liked", type=int, default=5, help="liked papers per recommendations call")
    parser.add_argument("--starts", type=int, default=1,
                        help="server starts timed (the last one is used for the calls)")
    args = parser.parse_args()
    index = args.index or Path(tempfile.mkdtemp()) / "index"
    if not args.reuse:
        seconds = build(index)
    manifest = json.loads((index / (index / "CURRENT").read_text().strip() / "manifest.json").read_text())
    count = manifest["count"]
    sources = CORPUS if not args.reuse else map(Path, manifest.get("sources") or ["?"])
    print(f"data: {', '.join(p.name for p in sources)} -> {count} papers in {index}; model {manifest['model']}; "
          f"dense index {manifest['dense']['type']}")
    if not args.reuse:
        print(f"paperlens index: {seconds:.1f} s end to end = {count / seconds:.1f} papers/s "
              f"(model load, reading, embedding, BM25, FAISS, write)")
    ready = []
    for _ in range(args.starts - 1):
        process, _, seconds = serve_timed(index)
        ready.append(seconds)
        process.terminate()
        process.wait()
    process, base, seconds = serve_timed(index)
    ready.append(seconds)
    print(f"paperlens serve -> first 200 from /ready: {', '.join(f'{s:.2f}' for s in ready)} s "
          f"(median {statistics.median(ready):.2f} s, {len(ready)} starts)")
    try:
        papers_file = index / (index / "CURRENT").read_text().strip() / "papers.jsonl"
        papers = [json.loads(line) for line in papers_file.open()]
        rng = random.Random(7)
        sample = rng.sample(papers, args.calls)
        # Queries as a researcher types them: the first words of real titles
        # (one run of 200 distinct queries, no cache hits).
        queries = [" ".join(p["title"].split()[:6]) for p in sample]
        with httpx.Client(base_url=base, timeout=30) as http:
            for q in ("warm up", "the model"):
                http.get("/search", params={"q": q})
            http.get(f"/papers/{quote(papers[0]['id'], safe='')}/similar")
            http.post("/recommendations", json={"liked": [p["id"] for p in papers[1 : 1 + args.liked]]})
            search = [timed(lambda: http.get("/search", params={"q": q, "k": 10})) for q in queries]
            similar = [timed(lambda: http.get(f"/papers/{quote(p['id'], safe='')}/similar", params={"k": 10}))
                       for p in sample]
            liked = [[p["id"] for p in rng.sample(papers, args.liked)] for _ in sample]
            recommend = [timed(lambda: http.post("/recommendations", json={"liked": ids, "k": 10})) for ids in liked]
        print(f"GET  /search (hybrid)        {percentiles(search)}")
        print(f"GET  /papers/{{id}}/similar    {percentiles(similar)}")
        print(f"POST /recommendations ({args.liked} liked) {percentiles(recommend)}")
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
