"""Evaluation sets and their indexes.

Owns `Dataset`, `load_dataset` (a folder of `corpus.jsonl`, `queries.jsonl` and `qrels.tsv`: qid,
paper id, grade; grade 0 = judged not relevant), `title_queries` and `abstract_queries` (sets that need
no judgments) and `cached_index` (the corpus indexed once per corpus and model, from a copy that gives
untitled records a title).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.build import build_index
from indexer.errors import BadRecord, PaperlensError
from indexer.paper_index import PaperIndex
from indexer.papers import Paper
from models import Encoder


@dataclass
class Dataset:
    name: str
    corpus: Path
    queries: list[dict]
    qrels: dict[str, dict[str, int]]
    left_out: dict[str, int] = field(default_factory=dict)  # why sampled papers are not queries -> how many


MIN_ABSTRACT = 200  # characters; a shorter abstract is a stub ("See paper."), not a long query


def load_dataset(folder: Path | str) -> Dataset:
    folder = Path(folder)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        if not (folder / name).is_file():
            raise PaperlensError(f"{folder} is not an evaluation set: {name} is missing")
    queries = []
    with (folder / "queries.jsonl").open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    queries.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise BadRecord(str(folder / "queries.jsonl"), number,
                                    f"not valid JSON ({error.msg})") from None
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (folder / "qrels.tsv").open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
                raise BadRecord(str(folder / "qrels.tsv"), number, "expected 'qid<TAB>paper id<TAB>grade'")
            qrels[parts[0]][parts[1]] = int(parts[2])
    return Dataset(folder.name, folder / "corpus.jsonl", queries, dict(qrels))


def title_queries(corpus: Path | str, sample: int = 1000, seed: int = 13) -> Dataset:
    """A check that needs no judgments: each sampled paper's title is a query, and that paper is
    its one relevant answer (nDCG@10, MRR@10 and Recall@1/@10 then say how often it comes first)."""
    corpus = Path(corpus)
    papers = _sampled_papers(corpus, sample, seed)
    return _known_item_set(corpus, [{"qid": p.id, "text": p.title} for p in papers])


def abstract_queries(corpus: Path | str, sample: int = 1000, seed: int = 13) -> Dataset:
    """The long-query check: each sampled paper's abstract, without its title, is a query that must
    find that paper. The same papers as `title_queries` are sampled; those without an abstract or with
    one under MIN_ABSTRACT characters are left out and counted."""
    corpus = Path(corpus)
    missing, short = "without an abstract", f"with an abstract under {MIN_ABSTRACT} characters"
    queries, left_out = [], {missing: 0, short: 0}
    for paper in _sampled_papers(corpus, sample, seed):
        abstract = paper.abstract.strip()
        if not abstract:
            left_out[missing] += 1
        elif len(abstract) < MIN_ABSTRACT:
            left_out[short] += 1
        else:
            queries.append({"qid": paper.id, "text": abstract})
    return _known_item_set(corpus, queries, left_out)


def _sampled_papers(corpus: Path, sample: int, seed: int) -> list[Paper]:
    from indexer.readers import read_papers

    papers = list(read_papers(str(corpus)))
    chosen = np.random.default_rng(seed).choice(len(papers), min(sample, len(papers)), replace=False)
    return [papers[i] for i in sorted(chosen)]


def _known_item_set(corpus: Path, queries: list[dict], left_out: dict[str, int] | None = None) -> Dataset:
    """Each query's one relevant paper is the paper it was taken from (its qid)."""
    return Dataset(corpus.name.split(".")[0], corpus, queries, {q["qid"]: {q["qid"]: 1} for q in queries},
                   left_out or {})


def cached_index(dataset: Dataset, encoder: Encoder, cache: Path) -> PaperIndex:
    """The dataset's corpus indexed with `encoder`, rebuilt only when the corpus, the model or its
    runtime and numerics change."""
    stat = dataset.corpus.stat()
    identity = (f"{dataset.corpus.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{encoder.model_id}|{encoder.runtime}|"
                f"{encoder.numerics}")
    key = hashlib.sha1(identity.encode()).hexdigest()[:12]
    folder = cache / f"{dataset.name}-{key}"
    if not (folder / "CURRENT").exists():
        corpus = dataset.corpus
        if corpus.name == "corpus.jsonl":
            corpus = _corpus_with_titles(corpus, cache / f"{dataset.name}-{key}.corpus.jsonl")
        build_index([str(corpus)], folder, encoder)
    return PaperIndex.load(folder)


def _corpus_with_titles(corpus: Path, copy: Path) -> Path:
    """A judged set must be used whole, but `paperlens index` refuses records without a title
    (CACM has one): such records get the first words of their abstract as title, in a copy."""
    copy.parent.mkdir(parents=True, exist_ok=True)
    with corpus.open(encoding="utf-8") as lines, copy.open("w", encoding="utf-8") as out:
        for line in lines:
            if line.strip():
                record = json.loads(line)
                if not str(record.get("title") or "").strip():
                    record["title"] = " ".join(str(record.get("abstract") or record.get("id")).split()[:12])
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return copy
