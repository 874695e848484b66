"""Approximate search against exact search on an index's own vectors: recall@10 and ms/query of
both approximate types `DenseParameters.for_size` chooses between ("ivf" on float32 vectors,
"ivf_pq" on compressed codes, forced here whatever the index's size), at their nprobe and around it.
benchmarks/scale.py does the same at 10k to 10M rows on synthetic vectors.

    .venv/bin/python benchmarks/ann_recall.py var/index [--queries 500]
"""

from __future__ import annotations

import argparse
import time

import faiss
import numpy as np

from indexer.dense import DenseParameters, build_dense, set_search_parameters
from indexer.paper_index import PaperIndex


def main() -> None:
    from models.host import describe_host

    print(describe_host(), flush=True)  # every figure below belongs to this host class
    parser = argparse.ArgumentParser()
    parser.add_argument("index")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    vectors = np.ascontiguousarray(PaperIndex.load(args.index).vectors, dtype=np.float32)
    rng = np.random.default_rng(0)
    # Queries: papers' vectors with a little noise, so a paper is not simply its own neighbour.
    queries = vectors[rng.choice(len(vectors), args.queries, replace=False)]
    queries = queries + rng.normal(0, 0.02, queries.shape).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    started = time.perf_counter()
    _, truth = exact.search(queries, 10)
    exact_ms = (time.perf_counter() - started) * 1000 / len(queries)
    print(f"data: {len(vectors)} vectors of {args.index}; {len(queries)} noisy paper vectors as queries; "
          f"{faiss.omp_get_max_threads()} threads")
    print(f"exact (flat):                 1.000 recall@10  {exact_ms:6.3f} ms/query")
    for compress_limit in (len(vectors), 0):
        parameters = DenseParameters.for_size(len(vectors), exact_limit=0, compress_limit=compress_limit)
        index = build_dense(vectors, parameters)
        for nprobe in sorted({max(1, parameters.nprobe // 4), parameters.nprobe // 2,
                              parameters.nprobe, parameters.nprobe * 2}):
            set_search_parameters(index, parameters.with_nprobe(nprobe))
            started = time.perf_counter()
            _, found = index.search(queries, 10)
            ms = (time.perf_counter() - started) * 1000 / len(queries)
            recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
            chosen = " (chosen)" if nprobe == parameters.nprobe else ""
            print(f"{parameters.type:<6} nlist {parameters.nlist} nprobe {nprobe:3d}:   "
                  f"{recall:.3f} recall@10  {ms:6.3f} ms/query{chosen}")


if __name__ == "__main__":
    main()
