"""Building, storing and updating index folders: atomic, complete, and safe against bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from indexer import build, store
from indexer.build import build_index
from indexer.errors import BadRecord, IndexNotFound, ModelMismatch, PaperlensError, UnknownPaper
from indexer.lexical import LexicalIndex
from indexer.paper_index import PaperIndex
from models import Encoder
from tests.conftest import SEED_PAPERS, HashingEncoder


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


RECORDS = [
    {"id": "p1", "title": "Speculative decoding with draft models",
     "abstract": "Draft tokens verified by a large model.", "categories": ["cs.CL"], "published": "2024-05-01"},
    {"id": "p2", "title": "Differential privacy for counting queries", "abstract": "Noise calibrated to sensitivity.",
     "categories": ["cs.CR"], "published": "2023"},
    {"id": "p3", "title": "Gaussian splatting for scenes", "abstract": "", "authors": ["Ada Lovelace"],
     "published": "2025-01"},
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


def test_a_build_that_dies_while_writing_leaves_the_previous_index_live(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    build_index([str(write_jsonl(tmp_path / "a.jsonl", RECORDS[:2]))], tmp_path / "index", HashingEncoder(),
                progress=False)

    def crash(self, folder):  # the disk fills up half-way through the new generation
        raise OSError("No space left on device")

    monkeypatch.setattr(LexicalIndex, "save", crash)
    with pytest.raises(OSError):
        build_index([str(write_jsonl(tmp_path / "b.jsonl", RECORDS))], tmp_path / "index", HashingEncoder(),
                    progress=False)
    monkeypatch.undo()
    assert [p.id for p in PaperIndex.load(tmp_path / "index").papers] == ["p1", "p2"]
    assert not [p for p in (tmp_path / "index").iterdir() if p.name.startswith(".tmp")]


def test_update_adds_and_replaces_papers_and_reuses_unchanged_vectors(tmp_path: Path) -> None:
    build_index([str(write_jsonl(tmp_path / "a.jsonl", RECORDS))], tmp_path / "index", HashingEncoder(),
                progress=False)
    changes = [dict(RECORDS[1], title="Differential privacy under continual observation"),
               {"id": "p4", "title": "A new paper on retrieval", "abstract": "Dense retrieval."}]
    summary = build_index([str(write_jsonl(tmp_path / "b.jsonl", changes))], tmp_path / "index", HashingEncoder(),
                          update=True, progress=False)
    index = PaperIndex.load(tmp_path / "index")
    assert [p.id for p in index.papers] == ["p1", "p2", "p3", "p4"]
    assert index.paper("p2").title == "Differential privacy under continual observation"
    assert (summary.embedded, summary.reused) == (2, 2)
    expected = HashingEncoder().embed([index.paper("p2").text()])[0]
    assert np.allclose(index.vectors[index.row_of("p2")], expected)
    assert len(list((tmp_path / "index").glob("gen-*"))) == 1  # the old generation is cleaned up


def test_update_with_another_model_is_refused(tmp_path: Path, encoder) -> None:
    build_index([str(write_jsonl(tmp_path / "a.jsonl", RECORDS))], tmp_path / "index", HashingEncoder(),
                progress=False)
    with pytest.raises(ModelMismatch, match="test-hashing") as refused:
        build_index([str(write_jsonl(tmp_path / "b.jsonl", RECORDS[:1]))], tmp_path / "index", encoder, update=True,
                    progress=False)
    assert isinstance(refused.value, PaperlensError) and not isinstance(refused.value, IndexNotFound)


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
    lexical = LexicalIndex.build(["Graph neural networks", "A survey"],
                                 ["A survey of methods.", "We review graph neural networks."])
    scores = lexical.scores("graph networks")
    assert scores[0] > scores[1] > 0
    assert lexical.scores("neural network")[0] > 0  # stemming: "networks" matches "network"
    assert not lexical.scores("the of and").any()


class CountingEncoder(Encoder):
    """Wraps an encoder, counts the texts it embeds, and dies (as on Ctrl-C) once `die_after` texts
    have been embedded."""

    def __init__(self, inner: Encoder, die_after: int | None = None) -> None:
        self.inner, self.die_after, self.texts = inner, die_after, 0
        self.model_id, self.dim, self.batch_size = inner.model_id, inner.dim, inner.batch_size

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if self.die_after is not None and self.texts + len(texts) > self.die_after:
            raise KeyboardInterrupt
        self.texts += len(texts)
        return self.inner.embed_batch(texts)


def test_an_interrupted_build_resumes_without_embedding_finished_chunks_again(tmp_path: Path) -> None:
    build_index([str(write_jsonl(tmp_path / "old.jsonl", RECORDS))], tmp_path / "index", HashingEncoder(),
                progress=False)
    # 40 papers in chunks of 16: the build dies in the third chunk, after two (texts and titles) are done.
    dying = CountingEncoder(HashingEncoder(), die_after=2 * 16 * 2)
    with pytest.raises(KeyboardInterrupt):
        build_index([str(SEED_PAPERS)], tmp_path / "index", dying, progress=False, chunk_papers=16)
    assert [p.id for p in PaperIndex.load(tmp_path / "index").papers] == ["p1", "p2", "p3"]  # still the old index

    again = CountingEncoder(HashingEncoder())
    summary = build_index([str(SEED_PAPERS)], tmp_path / "index", again, progress=False, chunk_papers=16)
    assert (summary.embedded, summary.resumed, summary.papers) == (8, 32, 40)
    assert again.texts == 8 * 2  # the last 8 papers' texts and titles, nothing before them
    assert "32 resumed from an interrupted build" in summary.line()
    resumed = PaperIndex.load(tmp_path / "index")
    build_index([str(SEED_PAPERS)], tmp_path / "fresh", HashingEncoder(), progress=False)
    fresh = PaperIndex.load(tmp_path / "fresh")
    assert np.array_equal(resumed.vectors, fresh.vectors)
    assert np.array_equal(resumed.title_vectors, fresh.title_vectors)
    assert [p.id for p in resumed.papers] == [p.id for p in fresh.papers]
    assert not list((tmp_path / "index").glob("*checkpoint*"))  # the checkpoints go once the index is written


def test_resuming_with_the_real_model_gives_the_vectors_of_an_uninterrupted_build(tmp_path: Path,
                                                                                   encoder: Encoder) -> None:
    source = write_jsonl(tmp_path / "papers.jsonl",
                         [*RECORDS, {"id": "p4", "title": "Dense retrieval", "abstract": "Dual encoders."}])
    with pytest.raises(KeyboardInterrupt):  # dies in the second chunk of two papers
        build_index([str(source)], tmp_path / "index", CountingEncoder(encoder, die_after=2 * 2), progress=False,
                    chunk_papers=2)
    again = CountingEncoder(encoder)
    summary = build_index([str(source)], tmp_path / "index", again, progress=False, chunk_papers=2)
    assert (summary.embedded, summary.resumed, again.texts) == (2, 2, 2 * 2)
    build_index([str(source)], tmp_path / "fresh", encoder, progress=False, chunk_papers=2)
    resumed, fresh = PaperIndex.load(tmp_path / "index"), PaperIndex.load(tmp_path / "fresh")
    assert np.allclose(resumed.vectors, fresh.vectors, atol=1e-6)
    assert np.allclose(resumed.title_vectors, fresh.title_vectors, atol=1e-6)


def test_a_resumed_build_embeds_again_only_the_chunk_whose_text_changed(tmp_path: Path) -> None:
    records = [json.loads(line) for line in SEED_PAPERS.read_text(encoding="utf-8").splitlines()]
    source = write_jsonl(tmp_path / "papers.jsonl", records)
    with pytest.raises(KeyboardInterrupt):
        build_index([str(source)], tmp_path / "index", CountingEncoder(HashingEncoder(), die_after=2 * 16 * 2),
                    progress=False, chunk_papers=16)
    records[3]["abstract"] = "A corrected abstract."  # in the first chunk
    write_jsonl(source, records)
    again = CountingEncoder(HashingEncoder())
    summary = build_index([str(source)], tmp_path / "index", again, progress=False, chunk_papers=16)
    assert (summary.embedded, summary.resumed) == (16 + 8, 16)
    index = PaperIndex.load(tmp_path / "index")
    expected = HashingEncoder().embed([index.papers[3].text()])[0]
    assert np.allclose(index.vectors[3], expected)


def test_progress_without_a_terminal_is_lines_with_rate_and_time_left(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "PROGRESS_LINE_SECONDS", 0.0)  # a line at every batch instead of every 30 s
    with pytest.raises(KeyboardInterrupt):
        build_index([str(SEED_PAPERS)], tmp_path / "index", CountingEncoder(HashingEncoder(), die_after=16 * 2),
                    progress=None, chunk_papers=16)
    capsys.readouterr()
    build_index([str(SEED_PAPERS)], tmp_path / "index", HashingEncoder(), progress=None, chunk_papers=16)
    err = capsys.readouterr().err
    assert "\r" not in err  # no bar drawn into a log
    lines = err.splitlines()
    assert lines[0] == "embedding: 16 of 40 papers taken from the checkpoints of an interrupted build"
    assert lines[1] == "embedding: 16/40 papers (40%)"
    progress = re.compile(r"embedding: (\d+)/40 papers \(\d+%\), [\d.]+ papers/s, (\d+h\d\dm|\d+m\d\ds|\d+s) left")
    done = [int(progress.fullmatch(line).group(1)) for line in lines[2:]]
    assert done == sorted(done) and done[-1] == 40 and len(done) >= 2


def test_no_progress_means_nothing_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build_index([str(SEED_PAPERS)], tmp_path / "index", HashingEncoder(), progress=False, chunk_papers=16)
    assert capsys.readouterr().err == ""
