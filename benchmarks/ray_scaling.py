"""Embedding throughput on a Ray cluster with 1 and 2 encoder actors (one CPU each), against one
process using every core, on the same papers in the same run; then the bytes per paper of each
part of an index, the figures a cluster's size is estimated from.

The actors run exactly what `paperlens index --ray` runs (indexer.distributed.ClusterEmbedding),
on a local Ray cluster this script starts with as many CPUs as the machine has. For each pool:
end to end (actor start and one model load per actor included, as `index --ray` reports it), the
start alone (a run of one paper per actor), their difference: the steady rate a large corpus
sees, and papers per CPU-second (the actors' CPU time, from /proc, starts left out): what one
core gives when nothing else runs on it. The machine's load average is printed beside: other
work on it slows the wall-clock figures, much less the per-CPU-second one.

    nice -n 10 .venv/bin/python benchmarks/ray_scaling.py [--papers 1000] [--source ../shared/data/arxiv-cs.jsonl.gz]
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    from models.host import describe_host

    print(describe_host(), flush=True)  # every figure below belongs to this host class
    parser = argparse.ArgumentParser()
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--source", default=str(ROOT.parent / "shared" / "data" / "arxiv-cs.jsonl.gz"))
    parser.add_argument("--actors", default="1,2", help="pool sizes to time, comma-separated")
    args = parser.parse_args()
    import ray

    from indexer.build import embed_papers
    from indexer.distributed import ActorPool, ClusterEmbedding
    from indexer.readers import read_papers
    from models import load_encoder

    with tempfile.TemporaryDirectory(prefix="plbench-", dir="/tmp") as scratch:
        source = Path(scratch) / "papers.jsonl"
        _first_records(args.source, args.papers, source)
        papers = list(read_papers(str(source)))
        cpus = os.cpu_count() or 1
        print(f"data: the first {len(papers)} papers of {args.source}, {np.mean([len(p.text()) for p in papers]):.0f} "
              f"characters each on average (title. abstract; titles embedded too); {cpus} CPUs; "
              f"load average before: {os.getloadavg()[0]:.1f}")

        encoder = load_encoder()
        encoder.embed([papers[0].text()])  # warm up
        started, cpu_started = time.perf_counter(), time.process_time()
        vectors, title_vectors = embed_papers(encoder, papers)
        rows = [Timing("one process, all cores (`paperlens index`)", time.perf_counter() - started,
                       cpu=time.process_time() - cpu_started)]

        # A throwaway loopback cluster: no token (a new local cluster would write one to ~/.ray).
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(num_cpus=cpus, include_dashboard=False, _temp_dir=str(Path(scratch) / "ray"), logging_level="WARNING",
                 log_to_driver=False)
        try:
            for actors in (int(n) for n in args.actors.split(",")):
                pool = ActorPool(actors, cpus=1.0)
                with ActorCpu() as start_cpu:
                    started = time.perf_counter()
                    ClusterEmbedding(None, pool, batch_size=1)(papers[:actors])  # a start: one paper per actor
                    start_seconds = time.perf_counter() - started
                with ActorCpu() as cpu:
                    started = time.perf_counter()
                    ray_vectors, _ = ClusterEmbedding(None, pool)(papers)
                    seconds = time.perf_counter() - started
                cosine = np.einsum("ij,ij->i", ray_vectors, vectors).min()
                rows.append(Timing(f"Ray, {actors} actor{'s' if actors > 1 else ''} x 1 CPU "
                                   f"(min cosine to one process {cosine:.5f})",
                                   seconds, start_seconds, cpu.seconds - start_cpu.seconds))
        finally:
            ray.shutdown()
        print(f"load average after: {os.getloadavg()[0]:.1f}\n")
        _print_rates(rows, len(papers))
        _print_memory(source, papers, encoder, vectors, title_vectors, Path(scratch) / "index")


@dataclasses.dataclass
class Timing:
    name: str
    seconds: float  # wall clock, end to end
    start: float = 0.0  # wall clock of a start alone (actors up, model loaded, one paper each)
    cpu: float = 0.0  # CPU seconds the embedding took, starts left out


class ActorCpu:
    """CPU seconds used by the Ray Data actors (`ray::MapWorker...` processes) started in the block,
    from /proc, sampled every half second: an actor's last half second can be missed. Actors of
    an earlier run, still exiting, are left out."""

    def __enter__(self) -> "ActorCpu":
        self._latest: dict[int, float] = {}
        self._earlier = set(self._actor_pids())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self._latest.values())

    def _sample(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        while True:
            for pid in self._actor_pids():
                if pid not in self._earlier:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                    except OSError:
                        continue
                    self._latest[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            if self._stop.wait(0.5):
                return

    @staticmethod
    def _actor_pids() -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::MapWorker"):
                    pids.append(int(entry.name))
            except OSError:
                continue
        return pids


def _first_records(source: str, count: int, target: Path) -> None:
    opener = gzip.open if source.endswith(".gz") else open
    with opener(source, "rt", encoding="utf-8") as records, target.open("w", encoding="utf-8") as out:
        out.writelines(itertools.islice(records, count))


def _print_rates(rows: list[Timing], count: int) -> None:
    print(f"{'embedding ' + str(count) + ' papers':64} {'end to end':>12} {'start':>7} {'steady':>10} "
          f"{'per CPU-second':>18}")
    for row in rows:
        steady = count / max(row.seconds - row.start, 1e-9)
        per_cpu = f"{count / row.cpu:10.1f} papers" if row.cpu > 0 else ""
        print(f"{row.name:64} {count / row.seconds:8.1f} p/s {row.start:6.1f}s {steady:6.1f} p/s {per_cpu:>18}")
    print()


def _print_memory(source: Path, papers: list, encoder, vectors: np.ndarray, title_vectors: np.ndarray,
                  folder: Path) -> None:
    """Bytes per paper of each file of the index, and of serving it, measured as what the second
    half of the papers adds to an index of the first half (fixed costs left out); then the
    marginal bytes of a row of each dense index type, from indexer.dense."""
    from indexer.build import build_index
    from indexer.store import live_generation

    by_id = {paper.id: row for row, paper in enumerate(papers)}

    def precomputed(batch, advance):
        rows = [by_id[paper.id] for paper in batch]
        return vectors[rows], title_vectors[rows]

    count, half = len(papers), len(papers) // 2
    half_source = folder.parent / "half.jsonl"
    with source.open(encoding="utf-8") as lines:
        half_source.write_text("".join(itertools.islice(lines, half)), encoding="utf-8")
    sizes = {}
    for name, papers_source in (("half", half_source), ("all", source)):
        build_index([str(papers_source)], folder / name, encoder, progress=False, embed=precomputed)
        generation = live_generation(folder / name)
        sizes[name] = {path.name: path.stat().st_size for path in generation.iterdir()}
        sizes[name]["resident when served (LiveIndex)"] = _resident_bytes(folder / name)
    print(f"index of {count} papers, bytes per paper: average, and added per paper from {half} to {count} papers "
          "(vectors.npy and title-vectors.npy are memory-mapped when served):")
    for name in sizes["all"]:
        added = (sizes["all"][name] - sizes["half"].get(name, 0)) / (count - half)
        print(f"  {name:34} {sizes['all'][name] / count:8.0f} {added:8.0f}")
    print()
    print("dense index, bytes added per paper (indexer.dense.DenseParameters.for_size):")
    for size in (10_000, 100_000, 2_500_000, 200_000_000):
        parameters = _small_lists(size, count)
        print(f"  {size:>11,} papers: {parameters.type:7} {_bytes_per_row(vectors, parameters):8.0f}")


def _small_lists(size: int, count: int):
    """The type and codes chosen for `size` papers, with few lists so that `count` rows train it:
    a row's cost does not depend on the number of lists."""
    from indexer.dense import DenseParameters

    parameters = DenseParameters.for_size(size)
    if parameters.type == "flat":
        return parameters
    return dataclasses.replace(parameters, nlist=16, nprobe=4, trained_on=count)


def _bytes_per_row(vectors: np.ndarray, parameters, rows: int = 32_768) -> float:
    """(bytes of an index of `rows` rows - bytes of one of half as many) / the rows added: the
    real vectors plus a little noise, so that list blocks fill as they would in a large corpus."""
    import faiss

    from indexer.dense import build_dense

    rng = np.random.default_rng(0)
    corpus = (vectors[rng.integers(len(vectors), size=rows)]
              + rng.normal(0, 0.02, (rows, vectors.shape[1])).astype(np.float32))
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    sizes = [faiss.serialize_index(build_dense(corpus[:n], parameters)).nbytes for n in (rows // 2, rows)]
    return (sizes[1] - sizes[0]) / (rows - rows // 2)


def _resident_bytes(folder: Path) -> int:
    """What loading the index for serving adds to a fresh process's resident memory (the modules
    imported first); the memory-mapped vectors count as far as loading touches them."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import indexer.live\n"
        "def rss():\n"
        "    status = Path('/proc/self/status').read_text().splitlines()\n"
        "    return next(int(line.split()[1]) * 1024 for line in status if line.startswith('VmRSS:'))\n"
        "before = rss()\n"
        "live = indexer.live.LiveIndex(sys.argv[1])\n"
        "print(rss() - before)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True,
                            cwd=ROOT)
    return int(result.stdout.split()[-1])


if __name__ == "__main__":
    main()
