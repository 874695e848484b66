"""Vectors in and out (issue #16): `paperlens export` writes an index's papers and vectors to
Parquet, `paperlens index` reads given vectors from a column or a .npy file (checked against the
model on a sample), `POST /papers` takes a record's `embedding`, and the bundled corpus ships with
the default model's vectors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from conftest import SEED_PAPERS, paperlens_command
from indexer.build import build_index, read_sources
from indexer.errors import BadRecord, ModelMismatch, PaperlensError
from indexer.paper_index import PaperIndex
from indexer.papers import embedding_texts
from indexer.vectors import VectorOptions
from models import DEFAULT_MODEL
from service import ranking
from service.app import create_app
from service.served import ServedIndex
from service.settings import Settings

ROOT = Path(__file__).parents[1]
BUNDLED_EXPORT = ROOT / "data" / "bundled-papers.parquet"
BUNDLED_SOURCES = [ROOT / "data" / "daily-papers-seed.txt", ROOT / "data" / "arxiv-cs-recent-5000.jsonl.gz"]
QUERIES = ["contrastive learning of sentence embeddings", "reinforcement learning from human feedback",
           "graph neural networks", "speech recognition with transformers"]


def paperlens(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*paperlens_command(), *map(str, args)], capture_output=True, text=True, timeout=300)


def seed_records() -> list[dict]:
    return [json.loads(line) for line in SEED_PAPERS.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


@pytest.fixture(scope="module")
def seed_vectors(seed_index: Path) -> dict[str, tuple[list[float], list[float]]]:
    """Each seed paper's (text, title) vectors as the default model made them."""
    index = PaperIndex.load(seed_index)
    return {paper.id: (index.vectors[row].tolist(), index.title_vectors[row].tolist())
            for row, paper in enumerate(index.papers)}


def top_ids(index_dir: Path, encoder) -> dict[str, list[str]]:
    """The top 10 of search, similar and recommendations: what a reader would see."""
    served = ServedIndex.load(index_dir, encoder=encoder)
    index = served.index
    rows = sorted(index.live_ids().values())
    answers = {}
    for query in QUERIES:
        hits = ranking.search(index, query, served.embed_query(query), 10)
        answers[f"search {query}"] = [index.papers[hit.row].id for hit in hits]
    for row in rows[:5]:
        answers[f"similar {index.papers[row].id}"] = [index.papers[h.row].id for h in ranking.similar(index, row, 10)]
    liked = [index.papers[row].id for row in rows[:3]]
    hits, _ = ranking.recommend_ids(index, liked, [index.papers[rows[5]].id], 10)
    answers["recommend"] = [index.papers[hit.row].id for hit in hits]
    return answers


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_export_then_index_gives_the_same_answers(tmp_path: Path, seed_index: Path, encoder, dtype: str) -> None:
    out = tmp_path / "papers.parquet"
    done = paperlens("export", "--index", seed_index, out, "--dtype", dtype)
    assert done.returncode == 0, done.stderr
    assert f"exported 40 papers with their 384-dimensional {dtype} vectors to {out}" in done.stdout

    table = pq.read_table(out)  # what pandas, DuckDB or LanceDB read
    assert table.num_rows == 40
    assert {"id", "title", "abstract", "authors", "categories", "published", "url", "embedding",
            "title_embedding"} <= set(table.column_names)
    metadata = json.loads(table.schema.metadata[b"paperlens"])
    assert (metadata["model"], metadata["dim"], metadata["dtype"], metadata["papers"]) == (DEFAULT_MODEL, 384,
                                                                                           dtype, 40)

    rebuilt = tmp_path / "rebuilt"
    summary = build_index([str(out)], rebuilt, encoder, progress=False)
    assert (summary.embedded, summary.given, summary.papers) == (0, 40, 40)
    assert "0 embedded, 40 with vectors given" in summary.line()
    original, copy = PaperIndex.load(seed_index), PaperIndex.load(rebuilt)
    assert [p.to_dict() for p in copy.papers] == [p.to_dict() for p in original.papers]  # metadata, extra too
    before, after = top_ids(seed_index, encoder), top_ids(rebuilt, encoder)
    if dtype == "float32":
        assert after == before
    else:  # float16 rounds each value by up to 2^-11 of itself: two near-tied neighbours may swap places
        assert {call: set(ids) for call, ids in after.items()} == {call: set(ids) for call, ids in before.items()}


def test_a_jsonl_column_gives_vectors_and_the_rest_are_embedded(tmp_path: Path, encoder, seed_vectors) -> None:
    records = seed_records()
    for record in records[:25]:  # the first 25 carry their text vector; 10 of them their title's too
        record["embedding"] = seed_vectors[record["id"]][0]
    for record in records[:10]:
        record["title_embedding"] = seed_vectors[record["id"]][1]
    source = write_jsonl(tmp_path / "papers.jsonl", records)
    summary = build_index([str(source)], tmp_path / "index", encoder, progress=False)
    assert (summary.embedded, summary.given, summary.papers) == (15, 25, 40)
    index = PaperIndex.load(tmp_path / "index")
    for record in records[:25]:
        row = index.row_of(record["id"])
        assert np.allclose(index.vectors[row], record["embedding"], atol=1e-6)  # used as given, not re-embedded
        assert float(np.dot(index.title_vectors[row], seed_vectors[record["id"]][1])) > 0.999


def test_a_named_column_and_npy_files(tmp_path: Path, encoder, seed_vectors) -> None:
    records = seed_records()
    for record in records:
        record["vec"] = [2.5 * x for x in seed_vectors[record["id"]][0]]  # any norm: normalised on the way in
    source = write_jsonl(tmp_path / "papers.jsonl", records)
    summary = build_index([str(source)], tmp_path / "by-column", encoder, progress=False,
                          vectors=VectorOptions(column="vec"))
    assert (summary.embedded, summary.given) == (0, 40)

    plain = write_jsonl(tmp_path / "plain.jsonl", seed_records())
    texts = tmp_path / "vectors.npy"
    np.save(texts, np.array([seed_vectors[r["id"]][0] for r in records], dtype=np.float16))
    titles = tmp_path / "titles.npy"
    np.save(titles, np.array([seed_vectors[r["id"]][1] for r in records], dtype=np.float32))
    summary = build_index([str(plain)], tmp_path / "by-npy", encoder, progress=False,
                          vectors=VectorOptions(vectors=str(texts), title_vectors=str(titles)))
    assert (summary.embedded, summary.given) == (0, 40)
    index = PaperIndex.load(tmp_path / "by-npy")
    assert np.allclose(index.title_vectors[index.row_of(records[7]["id"])], seed_vectors[records[7]["id"]][1],
                       atol=1e-6)


def bad_case(tmp_path: Path, seed_vectors, change) -> Path:
    records = seed_records()
    for record in records:
        record["embedding"] = list(seed_vectors[record["id"]][0])
    change(records)
    return write_jsonl(tmp_path / "bad.jsonl", records)


@pytest.mark.parametrize("change, message", [
    (lambda r: r[4].update(embedding=r[4]["embedding"][:300]), "bad.jsonl:5: 'embedding' has 300 values; the vectors "
     "expected here have 384"),
    (lambda r: r[6]["embedding"].__setitem__(17, float("nan")), "bad.jsonl:7: 'embedding' holds nan at position 18"),
    (lambda r: r[2].update(embedding=[0.0] * 384), "bad.jsonl:3: 'embedding' is a zero vector"),
    (lambda r: r[3].update(embedding="0.1 0.2"), "bad.jsonl:4: 'embedding' must be a list of numbers, not str"),
    (lambda r: r[3].update(embedding=[[0.1, 0.2]]), "bad.jsonl:4: 'embedding' must be a flat, non-empty list"),
    (lambda r: r[8].update(embedding=["a"] * 384), "bad.jsonl:9: 'embedding' must be a list of numbers"),
])
def test_a_bad_vector_is_named_by_file_and_line(tmp_path: Path, encoder, seed_vectors, change, message) -> None:
    source = bad_case(tmp_path, seed_vectors, change)
    with pytest.raises(BadRecord) as caught:
        build_index([str(source)], tmp_path / "index", encoder, progress=False)
    assert str(caught.value).startswith(f"{source.parent}/{message}"), str(caught.value)
    assert not (tmp_path / "index").exists()


def test_vectors_of_another_dimension_or_model_are_refused(tmp_path: Path, encoder, seed_vectors) -> None:
    records = seed_records()
    for record in records:
        record["embedding"] = list(np.random.default_rng(0).normal(size=256))
    source = write_jsonl(tmp_path / "small.jsonl", records)
    with pytest.raises(ModelMismatch, match=r"small.jsonl:1: the given vectors have 256 dimensions, model "
                       rf"{DEFAULT_MODEL!r} embeds in 384"):
        build_index([str(source)], tmp_path / "index", encoder, progress=False)

    ids = [record["id"] for record in records]
    for record, other in zip(records, ids[1:] + ids[:1]):  # each paper given its neighbour's vector
        record["embedding"] = seed_vectors[other][0]
    source = write_jsonl(tmp_path / "shuffled.jsonl", records)
    with pytest.raises(ModelMismatch) as caught:
        build_index([str(source)], tmp_path / "index", encoder, progress=False)
    message = str(caught.value)
    assert f"shuffled.jsonl:1: the vector given for paper {ids[0]!r} has cosine " in message
    assert "(at least 0.99 expected)" in message and "nothing was written" in message
    assert not (tmp_path / "index").exists()


def test_npy_rows_must_match_the_records(tmp_path: Path, encoder, seed_vectors) -> None:
    source = write_jsonl(tmp_path / "papers.jsonl", seed_records())
    short = tmp_path / "short.npy"
    np.save(short, np.array([vectors[0] for vectors in list(seed_vectors.values())[:39]], dtype=np.float32))
    with pytest.raises(BadRecord, match=r"short.npy: has 39 rows but .*papers.jsonl has 40 records: row 40 is missing"):
        build_index([str(source)], tmp_path / "index", encoder, progress=False,
                    vectors=VectorOptions(vectors=str(short)))
    zeros = np.array([seed_vectors[r["id"]][0] for r in seed_records()], dtype=np.float32)
    zeros[11] = 0
    np.save(tmp_path / "zeros.npy", zeros)
    with pytest.raises(BadRecord, match=r"zeros.npy row 12: 'vector' is a zero vector"):
        build_index([str(source)], tmp_path / "index", encoder, progress=False,
                    vectors=VectorOptions(vectors=str(tmp_path / "zeros.npy")))
    with pytest.raises(PaperlensError, match="--vectors gives one row per record of one source, but 2 sources"):
        build_index([str(source), str(source)], tmp_path / "index", encoder, progress=False,
                    vectors=VectorOptions(vectors=str(short)))
    assert not (tmp_path / "index").exists()


def test_the_command_exits_2_and_leaves_the_old_index_alone(tmp_path: Path, seed_index: Path, seed_vectors) -> None:
    index = tmp_path / "index"
    good = write_jsonl(tmp_path / "good.jsonl", seed_records()[:5])
    assert paperlens("index", good, "--index", index, "--no-progress").returncode == 0
    before = sorted((p.relative_to(index), p.stat().st_mtime_ns) for p in index.rglob("*"))
    bad = bad_case(tmp_path, seed_vectors, lambda r: r[4]["embedding"].__setitem__(0, float("inf")))
    done = paperlens("index", bad, "--index", index, "--no-progress")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (f"paperlens: error: {bad}:5: 'embedding' holds inf at position 1: "
                                                    "NaN or an infinity is not a vector")
    assert sorted((p.relative_to(index), p.stat().st_mtime_ns) for p in index.rglob("*")) == before
    csv_source = tmp_path / "papers.csv"
    csv_source.write_text("id,title\n1,A paper\n")
    done = paperlens("index", csv_source, "--index", index, "--embedding-column", "vec", "--no-progress")
    assert done.returncode == 2 and "a csv source holds no columns beside the paper's fields" in done.stderr


def test_post_papers_takes_a_records_embedding(tmp_path: Path, encoder, seed_vectors) -> None:
    records = seed_records()
    index_dir = tmp_path / "index"
    build_index([str(write_jsonl(tmp_path / "few.jsonl", records[:5]))], index_dir, encoder, progress=False)
    served = ServedIndex.load(index_dir, encoder=encoder)
    settings = Settings(index_dir=index_dir, admin_key="secret")
    with TestClient(create_app(settings, served=served)) as client:
        headers = {"Authorization": "Bearer secret"}
        new = [dict(record, embedding=seed_vectors[record["id"]][0]) for record in records[5:9]]
        answer = client.post("/papers", json=new, headers=headers)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["added"], answer.json()["given"], answer.json()["embedded"]) == (4, 4, 0)
        index = served.current().index
        assert np.allclose(index.vectors[index.row_of(records[6]["id"])], seed_vectors[records[6]["id"]][0], atol=1e-6)

        short = [dict(records[10], embedding=[0.1] * 12)]
        answer = client.post("/papers", json=short, headers=headers)
        assert answer.status_code == 422
        assert "papers[0]: the given vectors have 12 dimensions" in answer.json()["detail"]
        wrong = [dict(records[11], embedding=seed_vectors[records[12]["id"]][0])]
        answer = client.post("/papers", json=wrong, headers=headers)
        assert answer.status_code == 422
        assert f"papers[0]: the vector given for paper {records[11]['id']!r} has cosine" in answer.json()["detail"]
        nan = [dict(records[11], embedding=[float("nan")] * 384)]
        answer = client.post("/papers", content=json.dumps(nan), headers={**headers, "Content-Type": "application/json"})
        assert answer.status_code == 422
        assert records[11]["id"] not in served.current().index


def test_the_bundled_corpus_ships_the_default_models_vectors(encoder) -> None:
    """The export in data/ holds every paper of the bundled sources, unchanged, with the vectors the
    default model gives them now: a change of model or of the sources cannot leave stale vectors."""
    table = pq.read_table(BUNDLED_EXPORT)
    metadata = json.loads(table.schema.metadata[b"paperlens"])
    assert (metadata["model"], metadata["dim"], metadata["dtype"]) == (DEFAULT_MODEL, 384, "float16")
    papers, _, _ = read_sources([str(s) for s in BUNDLED_SOURCES])
    shipped = {row["id"]: row for row in table.select(["id", "title", "abstract"]).to_pylist()}
    assert list(shipped) == list(papers)
    assert all((shipped[i]["title"], shipped[i]["abstract"]) == (p.title, p.abstract) for i, p in papers.items())
    rows = np.linspace(0, table.num_rows - 1, 16).astype(int)
    sample = table.take(rows).to_pylist()
    texts, titles = map(encoder.embed, embedding_texts(papers[row["id"]] for row in sample))
    for row, text, title in zip(sample, texts, titles):
        for given, fresh in ((row["embedding"], text), (row["title_embedding"], title)):
            given = np.asarray(given, dtype=np.float32)
            assert float(np.dot(given / np.linalg.norm(given), fresh)) > 0.99, row["id"]


def test_an_export_and_a_library_with_entries_that_are_not_papers_index_together(tmp_path: Path, seed_index: Path,
                                                                                  encoder) -> None:
    export = tmp_path / "papers.parquet"
    assert paperlens("export", "--index", seed_index, export).returncode == 0
    library = tmp_path / "library.bib"
    library.write_text("@article{mine2024,\n  title = {Graph Transformers for Citation Recommendation},\n"
                       "  year = {2024}\n}\n@misc{homepage,\n  howpublished = {\\url{https://example.org}}\n}\n")
    summary = build_index([str(export), str(library)], tmp_path / "index", encoder, progress=False, strict=False)
    assert (summary.papers, summary.given, summary.embedded) == (41, 40, 1)
    assert [entry.key for entry in summary.skipped] == ["homepage"]
