"""Building, storing and updating index folders: atomic, complete, and safe against bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer import store
from indexer.build import build_index
from indexer.errors import BadRecord, IndexNotFound, UnknownPaper
from indexer.lexical import LexicalIndex
from indexer.paper_index import PaperIndex
from tests.conftest import SEED_PAPERS, HashingEncoder


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


RECORDS = [
    {"id": "p1", "title": "Speculative decoding with draft models", "abstract": "Draft tokens verified by a large model.", "categories": ["cs.CL"], "published": "2024-05-01"},
    {"id": "p2", "title": "Differential privacy for counting queries", "abstract": "Noise calibrated to sensitivity.", "categories": ["cs.CR"], "published": "2023"},
    {"id": "p3", "title": "Gaussian splatting for scenes", "abstract": "", "authors": ["Ada Lovelace"], "published": "2025-01"},
]


def test_build_writes_a_complete_index_with_its_manifest(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "papers.jsonl", RECORDS)
    summary = build_index([str(source)], tmp_path / "index", HashingEncoder(), progress=False)
    index = PaperIndex.load(tmp_path / "index")
    manifest = index.manifest
    assert (summary.papers, manifest.count, manifest.dim, manifest.model) == (3, 3, 64, "test-hashing")
    assert manifest.dense.type == "flat" and manifest.format_version == store.FORMAT_VERSION and manifest.built_at
    assert [p.id for p in index.papers] == ["p1", "p2", "p3"]
    assert index.paper("p3").abstract == "" and index.paper("p3").authors == ["Ada Lovelace"]
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-5)
    with pytest.raises(UnknownPaper, match="nope"):
        index.paper("nope")


def test_a_repeated_id_replaces_the_earlier_record_and_is_counted(tmp_path: Path) -> None:
    newer = dict(RECORDS[0], title="Speculative decoding, revised")
    source = write_jsonl(tmp_path / "papers.jsonl", [*RECORDS, newer])
    summary = build_index([str(source)], tmp_path / "index", HashingEncoder(), progress=False)
    assert (summary.read, summary.replaced, summary.papers) == (4, 1, 3)
    assert "1 repeated ids replaced" in summary.line()
    assert PaperIndex.load(tmp_path / "index").paper("p1").title == "Speculative decoding, revised"


def test_bad_input_leaves_the_existing_index_untouched(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", RECORDS)
    build_index([str(good)], tmp_path / "index", HashingEncoder(), progress=False)
    before = {p.name: p.read_bytes() for p in store.live_generation(tmp_path / "index").iterdir()}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(RECORDS[0]) + "\n" + '{"id": "x", "title": \n')
    with pytest.raises(BadRecord, match=r"bad\.jsonl:2"):
        build_index([str(good), str(bad)], tmp_path / "index", HashingEncoder(), progress=False)
    after = {p.name: p.read_bytes() for p in store.live_generation(tmp_path / "index").iterdir()}
    assert before == after
    assert [p.id for p in PaperIndex.load(tmp_path / "index").papers] == ["p1", "p2", "p3"]


def test_a_build_that_dies_while_writing_leaves_the_previous_index_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_index([str(write_jsonl(tmp_path / "a.jsonl", RECORDS[:2]))], tmp_path / "index", HashingEncoder(), progress=False)

    def crash(self, folder):  # the disk fills up half-way through the new generation
        raise OSError("No space left on device")

    monkeypatch.setattr(LexicalIndex, "save", crash)
    with pytest.raises(OSError):
        build_index([str(write_jsonl(tmp_path / "b.jsonl", RECORDS))], tmp_path / "index", HashingEncoder(), progress=False)
    monkeypatch.undo()
    assert [p.id for p in PaperIndex.load(tmp_path / "index").papers] == ["p1", "p2"]
    assert not [p for p in (tmp_path / "index").iterdir() if p.name.startswith(".tmp")]


def test_update_adds_and_replaces_papers_and_reuses_unchanged_vectors(tmp_path: Path) -> None:
    build_index([str(write_jsonl(tmp_path / "a.jsonl", RECORDS))], tmp_path / "index", HashingEncoder(), progress=False)
    changes = [dict(RECORDS[1], title="Differential privacy under continual observation"),
               {"id": "p4", "title": "A new paper on retrieval", "abstract": "Dense retrieval."}]
    summary = build_index([str(write_jsonl(tmp_path / "b.jsonl", changes))], tmp_path / "index", HashingEncoder(), update=True, progress=False)
    index = PaperIndex.load(tmp_path / "index")
    assert [p.id for p in index.papers] == ["p1", "p2", "p3", "p4"]
    assert index.paper("p2").title == "Differential privacy under continual observation"
    assert (summary.embedded, summary.reused) == (2, 2)
    expected = HashingEncoder().embed([index.paper("p2").text()])[0]
    assert np.allclose(index.vectors[index.row_of("p2")], expected)
    assert len(list((tmp_path / "index").glob("gen-*"))) == 1  # the old generation is cleaned up


def test_update_with_another_model_is_refused(tmp_path: Path, encoder) -> None:
    build_index([str(write_jsonl(tmp_path / "a.jsonl", RECORDS))], tmp_path / "index", HashingEncoder(), progress=False)
    with pytest.raises(IndexNotFound, match="test-hashing"):
        build_index([str(write_jsonl(tmp_path / "b.jsonl", RECORDS[:1]))], tmp_path / "index", encoder, update=True, progress=False)


def test_an_approximate_index_is_chosen_above_the_exact_limit_and_agrees_with_exact(tmp_path: Path) -> None:
    build_index([str(SEED_PAPERS)], tmp_path / "exact", HashingEncoder(), progress=False)
    build_index([str(SEED_PAPERS)], tmp_path / "ivf", HashingEncoder(), progress=False, exact_limit=10)
    exact, approximate = PaperIndex.load(tmp_path / "exact"), PaperIndex.load(tmp_path / "ivf")
    parameters = approximate.manifest.dense
    assert parameters.type == "ivf" and parameters.nlist > 0 and parameters.nprobe > 0
    query = exact.vectors[0]
    _, exact_rows = exact.search_dense(np.asarray(query), 5)
    _, approximate_rows = approximate.search_dense(np.asarray(query), 5)
    assert approximate_rows[0] == exact_rows[0] == 0


def test_loading_a_missing_index_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFound, match="nowhere"):
        PaperIndex.load(tmp_path / "nowhere")


def test_bm25_weights_titles_above_abstracts() -> None:
    lexical = LexicalIndex.build(["Graph neural networks", "A survey"], ["A survey of methods.", "We review graph neural networks."])
    scores = lexical.scores("graph networks")
    assert scores[0] > scores[1] > 0
    assert lexical.scores("neural network")[0] > 0  # stemming: "networks" matches "network"
    assert not lexical.scores("the of and").any()
