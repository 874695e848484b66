"""Query time and memory of the dense index against corpus size, on vectors that look like real ones.

The corpus of each size is the real papers' vectors (shuffled, a few hundred held out as queries)
followed by perturbed copies of them: a random real vector plus noise with the real vectors'
covariance (half the sum of two differences between random real vectors), its length 0.5-1x the
median distance between a real paper and its nearest other one, re-normalised. Rows come in chunks
generated from (seed, chunk number), so each corpus is a prefix of the next larger one and 10M rows
never sit in memory as float32.

For each size: the index type and parameters `DenseParameters.for_size` chooses; recall@10 against
exact search (chunked, over the whole corpus); CPU ms per query of one thread, one query at a time
through `search_dense`, as the server calls it; memory: the saved index's bytes per paper and what
loading it with `load_dense` adds to a fresh process's resident memory; build time (train + add).

    nice -n 10 .venv/bin/python benchmarks/scale.py --index var/index
    nice -n 10 .venv/bin/python benchmarks/scale.py --vectors vectors.npy --sizes 10000,100000

On a machine shared with other jobs, run with OMP_WAIT_POLICY=PASSIVE: FAISS's OpenMP threads
otherwise spin while waiting for a busy core (training one small index took 38 CPU s instead of 2).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from indexer.dense import (DenseParameters, add_dense, empty_dense, load_dense, parameters_from_dict,
                           parameters_to_dict, save_dense, search_dense, train_dense)
from indexer.store import live_generation

K = 10
POOL = 200  # what service/ranking.py asks the dense index for before fusion
CHUNK = 100_000


class SyntheticCorpus:
    """Real vectors first, then perturbed copies of random real ones; see the module docstring."""

    def __init__(self, real: np.ndarray, seed: int) -> None:
        self.real, self.seed, self.dim = real, seed, real.shape[1]
        self.neighbour_distance = median_neighbour_distance(real, np.random.default_rng([seed, 0]))
        # the typical length of the noise below: sqrt(trace of the real vectors' covariance)
        self.noise_norm = float(np.sqrt(np.sum(real.var(axis=0, dtype=np.float64))))

    def chunk(self, number: int, size: int) -> np.ndarray:
        start, stop = number * CHUNK, min((number + 1) * CHUNK, size)
        real_stop = min(stop, len(self.real))
        if real_stop == stop:
            return np.ascontiguousarray(self.real[start:stop])
        rng = np.random.default_rng([self.seed, 1, number])  # a whole chunk, whatever the size: prefixes agree
        parents, a, b, c, d = (rng.integers(len(self.real), size=CHUNK) for _ in range(5))
        # Noise with the real vectors' covariance: (x_a - x_b + x_c - x_d) / 2 for random real x.
        # It moves a paper along directions papers actually differ in, and needs no matrix product.
        noise = self.real[a] - self.real[b]
        noise += self.real[c]
        noise -= self.real[d]
        scale = rng.uniform(0.5, 1.0, size=CHUNK).astype(np.float32) * (self.neighbour_distance / self.noise_norm / 2)
        rows = noise * scale[:, None]
        rows += self.real[parents]
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        if real_stop > start:
            rows[:real_stop - start] = self.real[start:real_stop]
        return rows[:stop - start]

    def chunks(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        for number in range((size + CHUNK - 1) // CHUNK):
            yield number * CHUNK, self.chunk(number, size)

    def sample(self, size: int, count: int, seed: int) -> np.ndarray:
        """`count` rows of the corpus of `size` rows, chosen uniformly (as `build_dense` trains)."""
        chosen = np.sort(np.random.default_rng(seed).choice(size, count, replace=False))
        parts = []
        for number in np.unique(chosen // CHUNK):
            inside = chosen[chosen // CHUNK == number]
            parts.append(self.chunk(int(number), size)[inside - number * CHUNK])
        return np.concatenate(parts)


def median_neighbour_distance(vectors: np.ndarray, rng: np.random.Generator, probes: int = 2000) -> float:
    rows = rng.choice(len(vectors), min(probes, len(vectors)), replace=False)
    scores = vectors[rows] @ vectors.T
    scores[np.arange(len(rows)), rows] = -np.inf  # not itself
    return float(np.median(np.sqrt(np.maximum(0.0, 2 - 2 * scores.max(axis=1)))))


@dataclass
class Measurement:
    size: int
    parameters: DenseParameters
    build_seconds: float
    build_cpu_seconds: float
    recall: float
    ms_per_query: float  # CPU time of the one thread, mean
    ms_p50: float
    ms_wall_p50: float
    ms_pool_p50: float  # k=200
    index_bytes: int
    serve_rss_bytes: int
    build_peak_rss_bytes: int


def measure(corpus: SyntheticCorpus, queries: np.ndarray, size: int, work: Path, seed: int,
            limits: dict[str, int]) -> Measurement:
    """Builds in one fresh process and serves in another, so each one's memory is its own and a
    10M-row index is never held twice."""
    parameters = DenseParameters.for_size(size, **limits)
    path = work / f"dense-{size}.faiss"
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        truth, (build_seconds, build_cpu_seconds), build_peak = pool.apply(
            build_and_save, (corpus, queries, size, parameters_to_dict(parameters), seed, str(path)))
        found, times, rss = pool.apply(serve_and_time, (str(path), parameters_to_dict(parameters), queries))
    index_bytes = path.stat().st_size
    path.unlink()
    return Measurement(size, parameters, build_seconds, build_cpu_seconds, recall_at_k(found, truth),
                       float(np.mean(times[0])), float(np.median(times[0])), float(np.median(times[1])),
                       float(np.median(times[2])), index_bytes, rss, build_peak)


def build_and_save(corpus: SyntheticCorpus, queries: np.ndarray, size: int, parameters: dict, seed: int,
                   path: str) -> tuple[np.ndarray, tuple[float, float], int]:
    """(exact top-k rows, build wall and CPU seconds, this process's peak resident bytes)."""
    index, truth, seconds = build(corpus, queries, size, parameters_from_dict(parameters), seed)
    save_dense(index, Path(path))
    return truth.rows, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def build(corpus: SyntheticCorpus, queries: np.ndarray, size: int, parameters: DenseParameters,
          seed: int) -> tuple[faiss.Index, "ExactTopK", tuple[float, float]]:
    """The index as `build_dense` makes it (trained on a uniform sample, rows added chunk by chunk)
    and the exact top-k, computed on the same pass; only training and adding are timed (wall, CPU)."""
    index, clock = empty_dense(corpus.dim, parameters), Stopwatch()
    if parameters.type != "flat":
        sample = corpus.sample(size, parameters.trained_on, seed)
        with clock:
            train_dense(index, sample, parameters, seed)
        del sample
    truth = ExactTopK(queries)
    for start, rows in corpus.chunks(size):
        truth.add(start, rows)
        with clock:
            add_dense(index, rows, parameters)
    return index, truth, (clock.wall, clock.cpu)


class Stopwatch:
    """Wall and process CPU seconds (all threads) spent inside `with` blocks."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *_: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += time.process_time() - self._cpu


class ExactTopK:
    """Exact top-k inner product of the queries over rows seen chunk by chunk."""

    def __init__(self, queries: np.ndarray) -> None:
        self.queries = queries
        self.scores = np.full((len(queries), K), -np.inf, dtype=np.float32)
        self.rows = np.full((len(queries), K), -1, dtype=np.int64)

    def add(self, start: int, rows: np.ndarray) -> None:
        scores = self.queries @ rows.T
        top = np.argpartition(-scores, K - 1, axis=1)[:, :K] if scores.shape[1] > K else np.argsort(-scores, axis=1)
        scores = np.concatenate([self.scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        candidates = np.concatenate([self.rows, top + start], axis=1)
        best = np.argsort(-scores, axis=1)[:, :K]
        self.scores, self.rows = np.take_along_axis(scores, best, axis=1), np.take_along_axis(candidates, best, axis=1)


def serve_and_time(path: str, parameters: dict, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """In a fresh process: load the index as the server does, then answer one query at a time on one
    thread, for the 10 nearest and for the service's pool of 200. Times are the thread's CPU time
    (on a shared machine, wall time mostly measures the wait for a core) and, for reference, wall time."""
    faiss.omp_set_num_threads(1)
    before = _rss_bytes()
    index = load_dense(Path(path), parameters_from_dict(parameters))
    rss = _rss_bytes() - before
    for query in queries[:20]:  # warm caches and lazily built tables
        search_dense(index, query[None, :], K)
    found, times = np.empty((len(queries), K), dtype=np.int64), np.empty((3, len(queries)))
    for i, query in enumerate(queries):
        cpu, wall = time.thread_time(), time.perf_counter()
        _, rows = search_dense(index, query[None, :], K)
        times[0, i], times[1, i] = time.thread_time() - cpu, time.perf_counter() - wall
        found[i] = rows[0]
    for i, query in enumerate(queries):
        cpu = time.thread_time()
        search_dense(index, query[None, :], POOL)
        times[2, i] = time.thread_time() - cpu
    return found, times * 1000, rss


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[f >= 0]) & set(t)) / K for f, t in zip(found, truth)]))


def describe(parameters: DenseParameters) -> str:
    if parameters.type == "flat":
        return "flat (exact)"
    text = f"{parameters.type} nlist {parameters.nlist} nprobe {parameters.nprobe}"
    if parameters.quantizer == "hnsw":
        text += f" (HNSW ef {parameters.quantizer_ef})"
    if parameters.type == "ivf_pq":
        text += f" PQ{parameters.pq_m}x4fs, {parameters.refine} x{parameters.k_factor}"
    return text


def load_real(args: argparse.Namespace) -> tuple[np.ndarray, Path]:
    path = Path(args.vectors) if args.vectors else live_generation(args.index) / "vectors.npy"
    return np.ascontiguousarray(np.load(path, mmap_mode="r"), dtype=np.float32), path


def main() -> None:
    from models.host import describe_host

    print(describe_host(), flush=True)  # every figure below belongs to this host class
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--vectors", help="an .npy of float32 unit vectors, one row per paper")
    source.add_argument("--index", help="a paperlens index folder (its live vectors.npy)")
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000")
    parser.add_argument("--queries", type=int, default=300, help="real vectors held out as queries")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=None, help="folder for the saved indexes (default: a temporary one)")
    parser.add_argument("--exact-limit", type=int, default=None, help="override the size rule's (to compare types)")
    parser.add_argument("--compress-limit", type=int, default=None, help="override the size rule's (to compare types)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    overrides = (("exact_limit", args.exact_limit), ("compress_limit", args.compress_limit))
    limits = {name: value for name, value in overrides if value is not None}

    vectors, path = load_real(args)
    order = np.random.default_rng([args.seed, 2]).permutation(len(vectors))
    queries, real = vectors[order[:args.queries]], np.ascontiguousarray(vectors[order[args.queries:]])
    del vectors
    corpus = SyntheticCorpus(real, args.seed)
    print(f"data: {len(real)} real vectors of {path} (+{len(queries)} held out as queries), dim {corpus.dim}; "
          f"perturbed copies: real vector + noise with the real covariance, "
          f"length 0.5-1 x {corpus.neighbour_distance:.3f} "
          f"(median real nearest-neighbour distance), re-normalised; seed {args.seed}")
    print(f"machine: {os.cpu_count()} cores, {faiss.omp_get_max_threads()} threads for building "
          f"(OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}); queries one at a time on 1 thread; "
          f"faiss {faiss.__version__} {faiss.get_compile_options()}", flush=True)
    print("ms: CPU time of one thread per query, k=10 (mean, median), k=200 (median); wall median for reference. "
          "bytes/paper: the saved index's size; serve RSS: what loading it adds to a fresh process. "
          "build: train + add, wall/CPU s")
    header = (f"{'papers':>10} | {'index (DenseParameters.for_size)':<62} | {'recall@10':>9} | {'ms mean':>7} | "
              f"{'ms p50':>6} | {'k=200':>6} | {'wall p50':>8} | {'bytes/paper':>11} | {'serve RSS':>9} | "
              f"{'build wall/CPU s':>16} | {'peak RSS':>8} | load")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        for size in sizes:
            m = measure(corpus, queries, size, Path(work), args.seed, limits)
            print(f"{m.size:>10,} | {describe(m.parameters):<62} | {m.recall:9.3f} | {m.ms_per_query:7.3f} | "
                  f"{m.ms_p50:6.3f} | {m.ms_pool_p50:6.2f} | {m.ms_wall_p50:8.3f} | {m.index_bytes / m.size:11.0f} | "
                  f"{m.serve_rss_bytes / 2**20:7.0f}MB | {m.build_seconds:7.0f}/{m.build_cpu_seconds:<8.0f} | "
                  f"{m.build_peak_rss_bytes / 2**30:6.2f}GB | {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
