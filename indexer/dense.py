"""The dense (FAISS) index: exact inner product for small corpora, IVF above, chosen by size."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

EXACT_LIMIT = 50_000  # below this, exact search costs a few ms a query: no reason to approximate


@dataclass
class DenseParameters:
    type: str  # "flat" (exact inner product) or "ivf" (inverted lists over k-means cells)
    metric: str = "inner_product"
    nlist: int = 0
    nprobe: int = 0
    trained_on: int = 0

    @classmethod
    def for_size(cls, count: int, exact_limit: int = EXACT_LIMIT) -> "DenseParameters":
        if count <= exact_limit:
            return cls(type="flat")
        nlist = int(4 * math.sqrt(count))
        # nprobe = nlist/8 gave recall@10 0.97 against exact search on the bundled papers' vectors
        # (nlist/16: 0.92); benchmarks/ann_recall.py measures it on any index.
        return cls(type="ivf", nlist=nlist, nprobe=max(16, nlist // 8), trained_on=min(count, 64 * nlist))


def build_dense(vectors: np.ndarray, parameters: DenseParameters, seed: int = 1234) -> faiss.Index:
    dim = vectors.shape[1]
    if parameters.type == "flat":
        index = faiss.IndexFlatIP(dim)
    else:
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, parameters.nlist, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(seed).choice(len(vectors), parameters.trained_on, replace=False)
        index.train(np.ascontiguousarray(vectors[np.sort(sample)]))
        index.nprobe = parameters.nprobe
    index.add(np.ascontiguousarray(vectors))
    return index


def save_dense(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_dense(path: Path, parameters: DenseParameters) -> faiss.Index:
    index = faiss.read_index(str(path))
    if parameters.type == "ivf":
        faiss.extract_index_ivf(index).nprobe = parameters.nprobe
    return index


def search_dense(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) per query over the whole index; missing neighbours come back as row -1."""
    k = max(1, min(k, index.ntotal))
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def parameters_from_dict(record: dict) -> DenseParameters:
    return DenseParameters(**record)


def parameters_to_dict(parameters: DenseParameters) -> dict:
    return asdict(parameters)
