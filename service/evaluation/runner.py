"""Runs a task: every method, paperlens' calls and the baselines, ranks the whole corpus for every
query in the same run, and is scored; `format_table` prints the result.

Owns `TASKS` (`search`: queries have `text`; `similar`: `paper_id`; `recommend`: `liked` and
`disliked`; `titles` and `abstracts`: see `title_queries` and `abstract_queries`), `methods_for` (the
methods of a task), `evaluate` and `format_table`. paperlens is measured through `service.ranking`, the
functions the API serves.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from indexer.errors import PaperlensError
from indexer.paper_index import PaperIndex
from models import Encoder
from service import ranking
from service.evaluation.baselines import DEPTH, Baselines
from service.evaluation.datasets import Dataset
from service.evaluation.metrics import Scores, score_method
from service.users import DISLIKE, LIKE, SQLiteUserStore

TASKS = ("search", "similar", "recommend", "titles", "abstracts")
KNOWN_ITEM_TASKS = ("titles", "abstracts")  # each query must find the paper it was taken from
PAGE = 10  # the page size a reader sees

Ranker = Callable[[dict], np.ndarray]


def methods_for(task: str, index: PaperIndex, encoder: Encoder, baselines: Baselines) -> dict[str, Ranker]:
    if task == "search" or task in KNOWN_ITEM_TASKS:
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
            vectors[query["text"]] = encoder.embed_passages([query["text"]])[0]
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
    text = lambda q: index.papers[row(q)].text()  # noqa: E731
    return {
        "paperlens similar (default)": lambda q: _rows(ranking.similar(index, row(q), DEPTH)),
        "baseline BM25 (paper text)": lambda q: baselines.bm25_rows(text(q), {row(q)}),
        "baseline dense (cosine)": lambda q: baselines.centroid_rows([row(q)], {row(q)}),
        "baseline tf-idf + SVM (arxiv-sanity)": lambda q: baselines.svm_rows([row(q)], {row(q)}),
        "baseline RRF(BM25, dense)": lambda q: baselines.rrf_rows(
            [baselines.bm25_rows(text(q), {row(q)}, 1000), baselines.centroid_rows([row(q)], {row(q)}, 1000)]),
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
            [baselines.bm25_rows(liked_text(q), given(q)[2], 1000),
             baselines.centroid_rows(given(q)[0], given(q)[2], 1000)]),
    }


def _paged(page: Callable[[int], list[ranking.Hit]]) -> np.ndarray:
    """The first DEPTH results as a reader pages through them, PAGE at a time (recommendations
    make each page cover the reader's interests, so a page of 100 would rank differently)."""
    return np.concatenate([_rows(page(offset)) for offset in range(0, DEPTH, PAGE)])


def _scratch_user_store() -> SQLiteUserStore:
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
    if task == "search" or task in KNOWN_ITEM_TASKS:
        return bool(query.get("text", "").strip())
    if task == "similar":
        return query.get("paper_id") in index
    return any(pid in index for pid in query.get("liked", []))


def format_table(dataset: Dataset, task: str, results: list[Scores]) -> str:
    """A Markdown table; the last column is nDCG@10 relative to the best baseline's."""
    best_baseline = max((r.ndcg10 for r in results if r.method.startswith("baseline")), default=0.0)
    known_item = task in KNOWN_ITEM_TASKS
    queries = results[0].queries if results else 0
    lines = [f"{dataset.name} ({task}, {queries} queries, corpus {dataset.corpus}{_left_out_note(dataset)})",
             "| method | nDCG@10 | Recall@10 | Recall@100 | MRR@10 |" + (" Recall@1 |" if known_item else "")
             + " vs best baseline |",
             "|---|---:|---:|---:|---:|---:|" + ("---:|" if known_item else "")]
    for r in results:
        gain = f"{(r.ndcg10 / best_baseline - 1) * 100:+.1f}%" if best_baseline > 0 else ""
        extra = f" {r.recall1:.4f} |" if known_item else ""
        lines.append(f"| {r.method} | {r.ndcg10:.4f} | {r.recall10:.4f} | {r.recall100:.4f} | {r.mrr10:.4f} |"
                     f"{extra} {gain} |")
    return "\n".join(lines)


def _left_out_note(dataset: Dataset) -> str:
    """'; left out: 2 without an abstract, 0 with ...': why fewer queries than papers were sampled."""
    if not dataset.left_out:
        return ""
    return "; left out: " + ", ".join(f"{count} {reason}" for reason, count in dataset.left_out.items())
