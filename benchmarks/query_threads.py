"""The query encoder's threads through a real server (`PAPERLENS_QUERY_THREADS`, 1 against 0 =
every core), A B A B: one client's p50 for short queries (a title's first six words) and for pasted
2,000-character passages (three abstracts run together), and 16 clients' searches per second.

    .venv/bin/python benchmarks/query_threads.py --index var/index [--rounds 2] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.index_and_latency import free_port, paperlens  # noqa: E402


def start(index: Path, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PAPERLENS_QUERY_THREADS": str(threads)}
    process = subprocess.Popen([*paperlens(), "serve", "--index", str(index), "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")


def one_client(base: str, queries: list[str]) -> float:
    times = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for query in queries:
            started = time.perf_counter()
            http.get("/search", params={"q": query}).raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def many_clients(base: str, queries: list[str], clients: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        async def client(number: int) -> None:
            nonlocal done
            position = number
            while time.perf_counter() < deadline:
                (await http.get("/search", params={"q": queries[position % len(queries)]})).raise_for_status()
                done += 1
                position += clients
        await asyncio.gather(*(client(n) for n in range(clients)))
    return done / seconds


def main() -> None:
    from indexer.paper_index import PaperIndex
    from models.host import describe_host

    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    print(describe_host(), f"load average {os.getloadavg()[0]:.2f}", flush=True)
    papers = PaperIndex.load(args.index).papers
    rng = random.Random(7)
    long_papers = [p for p in papers if len(p.abstract) > 400]
    passages = [" ".join(p.abstract for p in rng.sample(long_papers, 3))[:2000] for _ in range(200)]
    print(f"data: {len(papers)} papers in {args.index}; passages of {len(passages[0])} characters")
    for round_ in range(args.rounds):
        for threads in ((1, 0) if round_ % 2 == 0 else (0, 1)):
            process, base = start(args.index, threads)
            try:
                shorts = [" ".join(p.title.split()[:6]) + f" {round_}" for p in rng.sample(papers, 200)]
                one_client(base, shorts[:10] + passages[:3])  # warm up
                short = one_client(base, shorts[10:])
                long = one_client(base, passages[3:60])
                busy = asyncio.run(many_clients(base, [" ".join(p.title.split()[:5]) + f" {threads}{round_}"
                                                       for p in rng.sample(papers, 2000)], 16, args.seconds))
            finally:
                process.terminate()
                process.wait()
            print(f"round {round_ + 1}, query threads {threads or 'every core'}: one client /search p50 short "
                  f"{short:.1f} ms, 2,000 characters {long:.1f} ms; 16 clients {busy:.1f} searches/s", flush=True)


if __name__ == "__main__":
    main()
