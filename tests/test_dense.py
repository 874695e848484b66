"""The dense index: the size rule picks each type, and each type, saved and loaded with the parameters
the manifest records, finds a paper's own vector first. Tiny sizes via the rule's limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest

from indexer.dense import (COMPRESS_LIMIT, EXACT_LIMIT, DenseParameters, build_dense, load_dense,
                           parameters_from_dict, parameters_to_dict, save_dense, search_dense)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny training jobs on a busy machine: a second OpenMP thread only spins waiting for a core
    (training the compressed index took 38 CPU seconds on two threads, 1.8 on one)."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(threads)


def unit_vectors(count: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_the_size_rule_is_exact_then_ivf_then_compressed() -> None:
    assert DenseParameters.for_size(EXACT_LIMIT).type == "flat"
    assert DenseParameters.for_size(EXACT_LIMIT + 1).type == "ivf"
    assert DenseParameters.for_size(COMPRESS_LIMIT).type == "ivf"
    large = DenseParameters.for_size(10_000_000)
    assert large.type == "ivf_pq" and large.refine == "sq8" and large.k_factor > 1
    assert 384 % large.pq_m == 0 and 0 < large.nprobe < large.nlist <= large.trained_on


@pytest.mark.parametrize(("count", "expected"), [(300, "flat"), (1200, "ivf"), (3000, "ivf_pq")])
def test_each_type_round_trips_and_finds_a_papers_own_row(tmp_path: Path, count: int, expected: str) -> None:
    vectors = unit_vectors(count)
    parameters = DenseParameters.for_size(count, exact_limit=500, compress_limit=2000)
    assert parameters.type == expected
    save_dense(build_dense(vectors, parameters), tmp_path / "dense.faiss")
    recorded = parameters_from_dict(json.loads(json.dumps(parameters_to_dict(parameters))))
    assert recorded == parameters
    index = load_dense(tmp_path / "dense.faiss", recorded)
    rows = np.arange(0, count, 7)
    scores, found = search_dense(index, vectors[rows], 5)
    assert index.ntotal == count and (found[:, 0] == rows).all()
    assert np.allclose(scores[:, 0], 1.0, atol=0.01)


def test_a_manifest_written_before_the_compressed_type_still_loads() -> None:
    old = {"type": "ivf", "metric": "inner_product", "nlist": 1093, "nprobe": 136, "trained_on": 69952}
    parameters = parameters_from_dict(old)
    assert parameters.type == "ivf" and parameters.nprobe == 136 and parameters.k_factor == 0
