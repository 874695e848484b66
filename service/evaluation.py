"""Relevance evaluation: paperlens' calls against the field's baselines on judged sets.

A dataset is a folder of `corpus.jsonl`, `queries.jsonl` and `qrels.tsv` (qid, paper id, grade;
grade 0 = judged not relevant). Tasks: `search` (queries have `text`), `similar` (queries have
`paper_id`), `recommend` (queries have `liked` and `disliked`). Every method ranks the whole corpus
for every query, in the same run, and is scored with nDCG@10 (linear gains = grades), Recall@10,
Recall@100 and MRR@10.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from indexer.build import build_index
from indexer.errors import BadRecord, PaperlensError
from indexer.lexical import BM25Parameters, LexicalIndex, arxiv_sanity_tfidf
from indexer.paper_index import PaperIndex, top_k
from models import Encoder
from service import ranking
from service.users import DISLIKE, LIKE, SQLiteUserStore

TASKS = ("search", "similar", "recommend", "titles")
DEPTH = 100  # every method returns this many papers per query
PAGE = 10  # the page size a reader sees
RRF_K = 60


@dataclass
class Dataset:
    name: str
    corpus: Path
    queries: list[dict]
    qrels: dict[str, dict[str, int]]


@dataclass
class Scores:
    method: str
    queries: int
    ndcg10: float
    recall10: float
    recall100: float
    mrr10: float
    recall1: float = 0.0


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
                    raise BadRecord(str(folder / "queries.jsonl"), number, f"not valid JSON ({error.msg})") from None
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
    from indexer.readers import read_papers

    corpus = Path(corpus)
    papers = list(read_papers(str(corpus)))
    chosen = np.random.default_rng(seed).choice(len(papers), min(sample, len(papers)), replace=False)
    queries = [{"qid": papers[i].id, "text": papers[i].title} for i in sorted(chosen)]
    return Dataset(corpus.name.split(".")[0], corpus, queries, {q["qid"]: {q["qid"]: 1} for q in queries})


def cached_index(dataset: Dataset, encoder: Encoder, cache: Path) -> PaperIndex:
    """The dataset's corpus indexed with `encoder`, rebuilt only when the corpus or model changes."""
    stat = dataset.corpus.stat()
    key = hashlib.sha1(f"{dataset.corpus.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{encoder.model_id}".encode()).hexdigest()[:12]
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


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------

def ndcg(ranked: list[str], judged: dict[str, int], k: int = 10) -> float:
    gains = sorted((g for g in judged.values() if g > 0), reverse=True)
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    actual = sum(judged.get(pid, 0) / math.log2(i + 2) for i, pid in enumerate(ranked[:k]))
    return actual / ideal if ideal > 0 else 0.0


def recall(ranked: list[str], judged: dict[str, int], k: int) -> float:
    relevant = {pid for pid, g in judged.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: list[str], judged: dict[str, int], k: int = 10) -> float:
    for i, pid in enumerate(ranked[:k]):
        if judged.get(pid, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_method(name: str, rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> Scores:
    qids = [q for q in rankings if any(g > 0 for g in qrels.get(q, {}).values())]
    mean = lambda f: float(np.mean([f(rankings[q], qrels[q]) for q in qids])) if qids else 0.0  # noqa: E731
    return Scores(name, len(qids), mean(ndcg), mean(lambda r, j: recall(r, j, 10)),
                  mean(lambda r, j: recall(r, j, 100)), mean(reciprocal_rank), mean(lambda r, j: recall(r, j, 1)))


# ---------------------------------------------------------------------------------------------
# Baselines, each a function (query) -> ranked rows, sharing the index's vectors
# ---------------------------------------------------------------------------------------------

class Baselines:
    def __init__(self, index: PaperIndex) -> None:
        self.index = index
        # Plain BM25 (Robertson k1=1.2, b=0.75) over title + abstract as one field.
        self.bm25 = LexicalIndex.build([p.title for p in index.papers], [p.abstract for p in index.papers],
                                       BM25Parameters(title_weight=1.0))

    def bm25_rows(self, text: str, exclude: set[int], n: int = DEPTH) -> np.ndarray:
        scores = self.bm25.scores(text)
        scores[list(exclude)] = -np.inf
        return top_k(scores, n)[1]

    def dense_rows(self, vector: np.ndarray, exclude: set[int], n: int = DEPTH) -> np.ndarray:
        scores = np.asarray(self.index.vectors) @ vector
        scores[list(exclude)] = -np.inf
        return top_k(scores, n)[1]

    def centroid_rows(self, liked: list[int], exclude: set[int], n: int = DEPTH) -> np.ndarray:
        vector = np.asarray(self.index.vectors[liked]).mean(axis=0)
        return self.dense_rows(vector / np.linalg.norm(vector), exclude, n)

    def rrf_rows(self, rankings: list[np.ndarray], n: int = DEPTH) -> np.ndarray:
        fused: dict[int, float] = defaultdict(float)
        for rows in rankings:
            for rank, row in enumerate(rows):
                fused[int(row)] += 1.0 / (RRF_K + rank + 1)
        return np.array(sorted(fused, key=lambda r: (-fused[r], r))[:n])

    def svm_rows(self, liked: list[int], exclude: set[int], n: int = DEPTH) -> np.ndarray:
        """arxiv-sanity-lite's recipe: tf-idf (1-2 grams, sublinear tf) + linear SVM, C=0.01, balanced."""
        from sklearn.svm import LinearSVC

        features = self.tfidf
        labels = np.zeros(features.shape[0], dtype=np.int32)
        labels[liked] = 1
        classifier = LinearSVC(class_weight="balanced", C=0.01, max_iter=10000, tol=1e-6)
        classifier.fit(features, labels)
        scores = classifier.decision_function(features).astype(np.float32)
        scores[list(exclude)] = -np.inf
        return top_k(scores, n)[1]

    @cached_property
    def tfidf(self):
        """arxiv-sanity-lite's features in float64, as its SVM computes them."""
        return arxiv_sanity_tfidf([p.text() for p in self.index.papers], dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------

Ranker = Callable[[dict], np.ndarray]


def methods_for(task: str, index: PaperIndex, encoder: Encoder, baselines: Baselines) -> dict[str, Ranker]:
    if task in ("search", "titles"):
        return _search_methods(index, encoder, baselines)
    if task == "similar":
        return _similar_methods(index, baselines)
    if task == "recommend":
        return _recommend_methods(index, baselines)
    raise PaperlensError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def _search_methods(index: PaperIndex, encoder: Encoder, baselines: Baselines) -> dict[str, Ranker]:
    vectors: dict[str, np.ndarray] = {}

    def vector(query: dict) -> np.ndarray:
        if query["text"] not in vectors:
            vectors[query["text"]] = encoder.embed([query["text"]])[0]
        return vectors[query["text"]]

    def mode(m: ranking.SearchMode) -> Ranker:
        return lambda q: _rows(ranking.search(index, q["text"], vector(q), DEPTH, 0, m))

    return {
        "paperlens hybrid (default)": mode(ranking.SearchMode.hybrid),
        "paperlens semantic": mode(ranking.SearchMode.semantic),
        "paperlens keyword": mode(ranking.SearchMode.keyword),
        "baseline BM25": lambda q: baselines.bm25_rows(q["text"], set()),
        "baseline dense (cosine)": lambda q: baselines.dense_rows(vector(q), set()),
        "baseline RRF(BM25, dense)": lambda q: baselines.rrf_rows(
            [baselines.bm25_rows(q["text"], set(), 1000), baselines.dense_rows(vector(q), set(), 1000)]),
    }


def _similar_methods(index: PaperIndex, baselines: Baselines) -> dict[str, Ranker]:
    row = lambda q: index.row_of(q["paper_id"])  # noqa: E731
    return {
        "paperlens similar (default)": lambda q: _rows(ranking.similar(index, row(q), DEPTH)),
        "baseline BM25 (paper text)": lambda q: baselines.bm25_rows(index.papers[row(q)].text(), {row(q)}),
        "baseline dense (cosine)": lambda q: baselines.centroid_rows([row(q)], {row(q)}),
        "baseline tf-idf + SVM (arxiv-sanity)": lambda q: baselines.svm_rows([row(q)], {row(q)}),
        "baseline RRF(BM25, dense)": lambda q: baselines.rrf_rows(
            [baselines.bm25_rows(index.papers[row(q)].text(), {row(q)}, 1000), baselines.centroid_rows([row(q)], {row(q)}, 1000)]),
    }


def _recommend_methods(index: PaperIndex, baselines: Baselines) -> dict[str, Ranker]:
    def rows(ids: list[str]) -> list[int]:
        return [index.row_of(i) for i in ids if i in index]

    def given(q: dict) -> tuple[list[int], list[int], set[int]]:
        liked, disliked = rows(q.get("liked", [])), rows(q.get("disliked", []))
        return liked, disliked, set(liked) | set(disliked)

    def paperlens(q: dict) -> np.ndarray:
        liked, disliked = q.get("liked", []), q.get("disliked", [])
        return _paged(lambda offset: ranking.recommend_ids(index, liked, disliked, PAGE, offset)[0])

    def liked_text(q: dict) -> str:
        return " ".join(index.papers[r].text() for r in given(q)[0])

    store = _scratch_user_store()

    def personal_feed(q: dict) -> np.ndarray:
        """The same reader through the stateful path: likes stored in SQLite, then
        /users/{user}/recommendations' function."""
        store.delete(q["qid"])
        store.mark(q["qid"], [i for i in q.get("liked", []) if i in index], LIKE)
        store.mark(q["qid"], [i for i in q.get("disliked", []) if i in index], DISLIKE)
        return _paged(lambda offset: ranking.recommend_for_reader(index, store.get(q["qid"]), PAGE, offset)[0])

    return {
        "paperlens recommend (default)": paperlens,
        "paperlens user feed (/users/{user}/recommendations)": personal_feed,
        "baseline centroid (dense)": lambda q: baselines.centroid_rows(given(q)[0], given(q)[2]),
        "baseline tf-idf + SVM (arxiv-sanity)": lambda q: baselines.svm_rows(given(q)[0], given(q)[2]),
        "baseline BM25 (liked texts)": lambda q: baselines.bm25_rows(liked_text(q), given(q)[2]),
        "baseline RRF(BM25, centroid)": lambda q: baselines.rrf_rows(
            [baselines.bm25_rows(liked_text(q), given(q)[2], 1000), baselines.centroid_rows(given(q)[0], given(q)[2], 1000)]),
    }


def _paged(page: Callable[[int], list[ranking.Hit]]) -> np.ndarray:
    """The first DEPTH results as a reader pages through them, PAGE at a time (recommendations
    make each page cover the reader's interests, so a page of 100 would rank differently)."""
    return np.concatenate([_rows(page(offset)) for offset in range(0, DEPTH, PAGE)])


def _scratch_user_store() -> SQLiteUserStore:
    import tempfile

    return SQLiteUserStore(Path(tempfile.mkdtemp(prefix="paperlens-eval-")) / "users.sqlite")


def _rows(hits: list[ranking.Hit]) -> np.ndarray:
    return np.array([hit.row for hit in hits], dtype=np.int64)


def evaluate(dataset: Dataset, task: str, index: PaperIndex, encoder: Encoder) -> list[Scores]:
    baselines = Baselines(index)
    methods = methods_for(task, index, encoder, baselines)
    queries = [q for q in dataset.queries if _answerable(q, task, index)]
    results = []
    for name, method in methods.items():
        rankings = {q["qid"]: [index.papers[r].id for r in method(q)] for q in queries}
        results.append(score_method(name, rankings, dataset.qrels))
    return results


def _answerable(query: dict, task: str, index: PaperIndex) -> bool:
    if task in ("search", "titles"):
        return bool(query.get("text", "").strip())
    if task == "similar":
        return query.get("paper_id") in index
    return any(pid in index for pid in query.get("liked", []))


def format_table(dataset: Dataset, task: str, results: list[Scores]) -> str:
    """A Markdown table; the last column is nDCG@10 relative to the best baseline's."""
    best_baseline = max((r.ndcg10 for r in results if r.method.startswith("baseline")), default=0.0)
    titles = task == "titles"
    lines = [f"{dataset.name} ({task}, {results[0].queries if results else 0} queries, corpus {dataset.corpus})",
             "| method | nDCG@10 | Recall@10 | Recall@100 | MRR@10 |" + (" Recall@1 |" if titles else "") + " vs best baseline |",
             "|---|---:|---:|---:|---:|---:|" + ("---:|" if titles else "")]
    for r in results:
        gain = f"{(r.ndcg10 / best_baseline - 1) * 100:+.1f}%" if best_baseline > 0 else ""
        extra = f" {r.recall1:.4f} |" if titles else ""
        lines.append(f"| {r.method} | {r.ndcg10:.4f} | {r.recall10:.4f} | {r.recall100:.4f} | {r.mrr10:.4f} |{extra} {gain} |")
    return "\n".join(lines)
