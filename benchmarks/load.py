"""Load run: C concurrent clients for S seconds against a real `paperlens serve` on loopback.

Each client loops over a mix of real calls (searches with distinct queries made of real titles'
first words, more-like-this, recommendations from 20 liked papers) and counts every non-2xx
answer or transport failure as an error. Prints throughput, latency percentiles per call and
overall, the error count, and the data it ran on.

    .venv/bin/python benchmarks/load.py --index var/index [--clients 16] [--seconds 60]
    .venv/bin/python benchmarks/load.py --url http://127.0.0.1:8000 --index var/index   # a running server
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import quote

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.index_and_latency import serve  # noqa: E402


def live_papers(index: Path) -> list[dict]:
    generation = index / (index / "CURRENT").read_text().strip()
    return [json.loads(line) for line in (generation / "papers.jsonl").open()]


def calls(papers: list[dict], seed: int):
    """An endless, seeded stream of (name, method, path, params, body)."""
    rng = random.Random(seed)
    while True:
        kind = rng.random()
        if kind < 0.6:
            title = rng.choice(papers)["title"].split()
            yield "search", "GET", "/search", {"q": " ".join(title[: rng.randint(3, 8)]), "k": 10}, None
        elif kind < 0.8:
            paper = rng.choice(papers)["id"]
            yield "similar", "GET", f"/papers/{quote(paper, safe='')}/similar", {"k": 10}, None
        else:
            liked = [p["id"] for p in rng.sample(papers, 20)]
            yield "recommend", "POST", "/recommendations", None, {"liked": liked, "k": 10}


async def client(base: str, papers: list[dict], seed: int, until: float, latencies: dict, errors: list) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for name, method, path, params, body in calls(papers, seed):
            if time.perf_counter() >= until:
                return
            started = time.perf_counter()
            try:
                answer = await http.request(method, path, params=params, json=body)
                if answer.status_code >= 300:
                    errors.append(f"{name} {answer.status_code} {answer.text[:120]}")
                    continue
            except httpx.HTTPError as error:
                errors.append(f"{name} {error!r}")
                continue
            latencies[name].append((time.perf_counter() - started) * 1000)


async def run(base: str, papers: list[dict], clients: int, seconds: float,
              first_seed: int = 0) -> tuple[dict, list, float]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    seeds = range(first_seed, first_seed + clients)
    await asyncio.gather(*(client(base, papers, seed, until, latencies, errors) for seed in seeds))
    return latencies, errors, time.perf_counter() - started


def percentiles(samples: list[float]) -> str:
    if len(samples) < 2:
        return f"n={len(samples)}"
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49]:7.1f} ms  p95 {cuts[94]:7.1f} ms  p99 {cuts[98]:7.1f} ms  (n={len(samples)})"


def main() -> None:
    from models.host import describe_host

    print(describe_host(), flush=True)  # every figure below belongs to this host class
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="the index served (its papers make the calls)")
    parser.add_argument("--url", default=None, help="a server already running on that index")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    papers = live_papers(args.index)
    process, base = (None, args.url) if args.url else serve(args.index)
    try:
        # Warm-up, not counted, with other seeds: the measured queries must not be in the query cache.
        asyncio.run(run(base, papers, args.clients, 3, first_seed=1_000_000))
        latencies, errors, elapsed = asyncio.run(run(base, papers, args.clients, args.seconds))
    finally:
        if process is not None:
            process.terminate()
            process.wait()
    answered = sum(len(v) for v in latencies.values())
    print(f"data: {len(papers)} papers from {args.index}; {args.clients} concurrent clients for {elapsed:.0f} s "
          "(60% search, 20% similar, 20% recommendations from 20 liked)")
    print(f"throughput: {answered / elapsed:.1f} answers/s; errors: {len(errors)}")
    for name, samples in sorted(latencies.items()):
        print(f"  {name:10s} {percentiles(samples)}")
    print(f"  {'all':10s} {percentiles([x for v in latencies.values() for x in v])}")
    for error in errors[:10]:
        print(f"  error: {error}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
