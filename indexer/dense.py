"""The dense (FAISS) index, chosen by corpus size and recorded in the manifest:

    up to EXACT_LIMIT rows       "flat"    exact inner product
    up to COMPRESS_LIMIT rows    "ivf"     inverted lists over k-means cells, float32 vectors
    above                        "ivf_pq"  inverted lists of 4-bit fast-scan PQ codes, the cells found
                                           through an HNSW graph; the best k_factor * k candidates
                                           re-ranked by 8-bit scalar codes of the vectors

benchmarks/scale.py measures them against exact search from 10k to 10M rows.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import faiss
import numpy as np

EXACT_LIMIT = 50_000  # below this, exact search costs a few ms a query: no reason to approximate
# Above this, "ivf" reads an eighth of the float32 vectors per query: at 100k rows recall@10 0.997 in
# 4.9 ms (CPU, one thread) and 1,564 bytes a paper; "ivf_pq" 0.962 in 0.8 ms and 529 bytes, and its
# time grows with sqrt(N) where "ivf"'s grows with N (benchmarks/scale.py).
COMPRESS_LIMIT = 100_000
ADD_CHUNK = 100_000  # rows added at a time, so adding never copies the whole corpus
# An HNSW quantizer's breadth when adding: a row needs only its one nearest cell. On 1M synthetic
# rows, 32 gives the exact nearest cell to 98.7% of rows (16: 96.5%, 64: 99.5%) at 60% of 64's cost.
ADD_EF = 32


@dataclass
class DenseParameters:
    type: str  # "flat", "ivf" or "ivf_pq" (see the module docstring)
    metric: str = "inner_product"
    nlist: int = 0
    nprobe: int = 0
    trained_on: int = 0
    # The defaults below are what manifests written before these fields existed mean.
    quantizer: str = "flat"  # how the nprobe cells nearest a query are found: "flat" (exact) or "hnsw"
    quantizer_ef: int = 0  # "hnsw": the graph search's breadth
    pq_m: int = 0  # "ivf_pq": PQ sub-vectors (4 bits each) per row
    refine: str = ""  # "ivf_pq": the codes candidates are re-ranked by ("sq8")
    k_factor: int = 0  # "ivf_pq": candidates re-ranked per neighbour asked for

    @classmethod
    def for_size(cls, count: int, exact_limit: int = EXACT_LIMIT,
                 compress_limit: int = COMPRESS_LIMIT) -> "DenseParameters":
        if count <= exact_limit:
            return cls(type="flat")
        nlist = int(4 * math.sqrt(count))
        trained_on = min(count, 64 * nlist)
        if count <= compress_limit:
            # nprobe = nlist/8 gave recall@10 0.97 against exact search on the bundled papers' vectors
            # (nlist/16: 0.92); benchmarks/ann_recall.py measures it on any index.
            return cls(type="ivf", nlist=nlist, nprobe=max(16, nlist // 8), trained_on=trained_on)
        # benchmarks/scale.py at 1M rows (CPU ms of one thread): nprobe 2 sqrt(nlist), 126 of 4000
        # cells, gives recall@10 0.969 in 1.66 ms (96 cells: 0.960, 1.41 ms; 64: 0.946, 1.06 ms).
        # 192 codes of 2 dims each and 16 candidates re-ranked per neighbour: x8 loses 0.016;
        # 96 codes needed x32 for what 192 reach at x8.
        return cls(type="ivf_pq", nlist=nlist, trained_on=trained_on, quantizer="hnsw",
                   pq_m=192, refine="sq8", k_factor=16).with_nprobe(int(2 * math.sqrt(nlist)))

    def with_nprobe(self, nprobe: int) -> "DenseParameters":
        """The same index searched over `nprobe` cells. An HNSW quantizer looks no wider than that:
        at 1M rows, twice as wide added at most 0.003 to recall@10 and 14-21% to the time."""
        return replace(self, nprobe=nprobe, quantizer_ef=nprobe if self.quantizer == "hnsw" else 0)


def empty_dense(dim: int, parameters: DenseParameters) -> faiss.Index:
    """An index of the recorded type with no rows; all but "flat" need `train_dense` before `add`.
    (FAISS's Python wrappers keep the quantizer and the sub-indexes alive with the index.)"""
    if parameters.type == "flat":
        return faiss.IndexFlatIP(dim)
    quantizer = _quantizer(dim, parameters)
    if parameters.type == "ivf":
        index = faiss.IndexIVFFlat(quantizer, dim, parameters.nlist, faiss.METRIC_INNER_PRODUCT)
    elif parameters.type == "ivf_pq":
        lists = faiss.IndexIVFPQFastScan(quantizer, dim, parameters.nlist, parameters.pq_m, 4,
                                         faiss.METRIC_INNER_PRODUCT)
        index = faiss.IndexRefine(lists, _refine_codes(dim, parameters.refine))
    else:
        raise ValueError(f"unknown dense index type {parameters.type!r}")
    set_search_parameters(index, parameters)
    return index


def train_dense(index: faiss.Index, sample: np.ndarray, parameters: DenseParameters, seed: int = 1234) -> None:
    """Trains an empty index on a uniform sample of the corpus (`parameters.trained_on` rows)."""
    if parameters.type == "flat":
        return
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    if parameters.quantizer == "hnsw":
        # An HNSW quantizer is for many cells; plain k-means over them would compare every sample
        # row with every centroid for each iteration (hours at 10M rows on two cores).
        faiss.extract_index_ivf(index).quantizer.add(two_level_centroids(sample, parameters.nlist, seed))
    index.train(sample)
    set_search_parameters(index, parameters)


def build_dense(vectors: np.ndarray, parameters: DenseParameters, seed: int = 1234) -> faiss.Index:
    index = empty_dense(vectors.shape[1], parameters)
    if parameters.type != "flat":
        sample = np.random.default_rng(seed).choice(len(vectors), parameters.trained_on, replace=False)
        train_dense(index, vectors[np.sort(sample)], parameters, seed)
    for start in range(0, len(vectors), ADD_CHUNK):
        add_dense(index, vectors[start:start + ADD_CHUNK], parameters)
    return index


def add_dense(index: faiss.Index, vectors: np.ndarray, parameters: DenseParameters) -> None:
    """Appends rows (a chunk at a time keeps memory bounded by the chunk, not the corpus)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if parameters.quantizer != "hnsw":
        index.add(vectors)
        return
    graph = faiss.downcast_index(faiss.extract_index_ivf(index).quantizer).hnsw
    graph.efSearch = ADD_EF
    try:
        index.add(vectors)
    finally:
        graph.efSearch = parameters.quantizer_ef


def two_level_centroids(sample: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` unit centroids by k-means in two levels (faiss.contrib.clustering's scheme): about
    sqrt(count) cells, then each cell split into centroids in proportion to its rows. Each row meets
    about 2 sqrt(count) centroids an iteration instead of `count`."""
    dim, top = sample.shape[1], max(1, int(math.sqrt(count)))
    coarse = faiss.Kmeans(dim, top, niter=20, spherical=True, seed=seed, max_points_per_centroid=1000)
    coarse.train(sample)
    cells = coarse.index.search(sample, 1)[1].ravel()
    sizes = np.bincount(cells, minlength=top)
    shares = np.diff(np.concatenate([[0], np.cumsum(sizes) * count // len(sample)]))  # sums to count
    parts = []
    for cell in np.flatnonzero(shares):
        rows = sample[cells == cell]
        fine = faiss.Kmeans(dim, int(shares[cell]), niter=10, spherical=True, seed=seed + int(cell))
        fine.train(rows)
        parts.append(fine.centroids)
    return np.concatenate(parts)


def save_dense(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_dense(path: Path, parameters: DenseParameters) -> faiss.Index:
    index = faiss.read_index(str(path))
    set_search_parameters(index, parameters)
    return index


def set_search_parameters(index: faiss.Index, parameters: DenseParameters) -> None:
    """Search settings are recorded in the manifest, which wins over what the index file holds."""
    if parameters.type == "flat":
        return
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = parameters.nprobe
    if parameters.quantizer == "hnsw":
        faiss.downcast_index(ivf.quantizer).hnsw.efSearch = parameters.quantizer_ef
    if parameters.type == "ivf_pq":
        faiss.downcast_index(index).k_factor = parameters.k_factor


def search_dense(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) per query over the whole index; missing neighbours come back as row -1.
    An "ivf_pq" index scores from its 8-bit codes (within 0.0015 of the exact inner product, measured)."""
    k = max(1, min(k, index.ntotal))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def parameters_from_dict(record: dict) -> DenseParameters:
    return DenseParameters(**record)  # fields added later have defaults: older manifests load


def parameters_to_dict(parameters: DenseParameters) -> dict:
    return asdict(parameters)


def _refine_codes(dim: int, refine: str) -> faiss.Index:
    if refine != "sq8":
        raise ValueError(f"unknown refine codes {refine!r}")
    return faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)


def _quantizer(dim: int, parameters: DenseParameters) -> faiss.Index:
    if parameters.quantizer == "flat":
        return faiss.IndexFlatIP(dim)
    if parameters.quantizer == "hnsw":
        return faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    raise ValueError(f"unknown quantizer {parameters.quantizer!r}")
