"""Ranking: search, more-like-this and recommendations as plain functions over an index and arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from indexer.paper_index import PaperIndex, top_k
from service.filters import Filters

CANDIDATE_POOL = 200  # papers taken from each ranking before fusion


class SearchMode(str, Enum):
    hybrid = "hybrid"
    semantic = "semantic"
    keyword = "keyword"


@dataclass
class Hit:
    row: int
    score: float
    because: list[str] = field(default_factory=list)  # ids of the given papers that drove this result
    shared_terms: list[str] = field(default_factory=list)  # telling words shared with those papers


def search(index: PaperIndex, query: str, query_vector: np.ndarray, k: int, offset: int = 0,
           mode: SearchMode = SearchMode.hybrid, filters: Filters = Filters()) -> list[Hit]:
    wanted = offset + k
    if mode is SearchMode.semantic:
        scores, rows = dense_top(index, query_vector, wanted, filters)
    elif mode is SearchMode.keyword:
        scores, rows = _keyword_top(index, query, wanted, filters)
    else:
        scores, rows = _hybrid_top(index, query, query_vector, wanted, filters)
    return _hits(scores, rows)[offset:]


def similar(index: PaperIndex, row: int, k: int, offset: int = 0, filters: Filters = Filters()) -> list[Hit]:
    """Papers nearest to paper `row`, never the paper itself."""
    scores, rows = dense_top(index, np.asarray(index.vectors[row]), offset + k, filters.with_excluded({row}))
    hits = _hits(scores, rows)[offset:]
    _explain(index, hits, [row])
    return hits


def recommend(index: PaperIndex, liked: list[int], disliked: list[int], k: int, offset: int = 0,
              filters: Filters = Filters(), candidates: list[int] | None = None) -> list[Hit]:
    """Papers for a reader who liked `liked` and disliked `disliked` (rows); never one of them.
    With `candidates`, ranks exactly those rows (all that pass the filters), best first."""
    profile = _profile(index, liked, disliked)
    filters = filters.with_excluded(set(liked) | set(disliked))
    if candidates is not None:
        rows = np.asarray(sorted(set(candidates)), dtype=np.int64)
        allowed = filters.mask(index)
        if allowed is not None:
            rows = rows[allowed[rows]]
        scores, rows = top_k(index.dense_scores(profile, rows), len(rows), rows)
        hits = _hits(scores, rows)
    else:
        scores, rows = dense_top(index, profile, offset + k, filters)
        hits = _hits(scores, rows)[offset:]
    _explain(index, hits, liked)
    return hits


def dense_top(index: PaperIndex, vector: np.ndarray, n: int, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
    """The n nearest rows that pass the filters. Exclusions alone are cheap to apply after an
    unfiltered search; real filters need an exact search over the rows they allow."""
    vector = np.asarray(vector, dtype=np.float32)
    if filters.is_empty():
        return index.search_dense(vector, n)
    if not (filters.categories or filters.author or filters.since or filters.until):
        scores, rows = index.search_dense(vector, n + len(filters.exclude_rows))
        keep = np.array([row not in filters.exclude_rows for row in rows], dtype=bool)
        return scores[keep][:n], rows[keep][:n]
    return index.search_dense(vector, n, filters.mask(index))


def _keyword_top(index: PaperIndex, query: str, n: int, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
    scores = index.lexical.scores(query)
    allowed = filters.mask(index)
    matching = scores > 0 if allowed is None else (scores > 0) & allowed
    rows = np.flatnonzero(matching)
    return top_k(scores[rows], n, rows)


def _hybrid_top(index: PaperIndex, query: str, query_vector: np.ndarray, n: int, filters: Filters) -> tuple[np.ndarray, np.ndarray]:
    """Fuses the dense and BM25 rankings: each score min-max normalised over the pooled
    candidates, then averaged, so a paper strong in both rankings comes first."""
    pool = max(CANDIDATE_POOL, 2 * n)
    _, dense_rows = dense_top(index, query_vector, pool, filters)
    _, lexical_rows = _keyword_top(index, query, pool, filters)
    rows = np.union1d(dense_rows, lexical_rows).astype(np.int64)
    if len(rows) == 0:
        return np.empty(0, np.float32), rows
    lexical = index.lexical.scores(query)[rows]
    fused = 0.5 * _min_max(index.dense_scores(query_vector, rows)) + 0.5 * _min_max(lexical)
    return top_k(fused.astype(np.float32), n, rows)


def _min_max(scores: np.ndarray) -> np.ndarray:
    low, high = float(scores.min()), float(scores.max())
    return (scores - low) / (high - low) if high > low else np.zeros_like(scores)


def _profile(index: PaperIndex, liked: list[int], disliked: list[int]) -> np.ndarray:
    """Rocchio: towards the mean of the liked papers, away from the disliked ones."""
    profile = _unit(np.asarray(index.vectors[liked]).mean(axis=0))
    if disliked:
        profile = profile - 0.5 * _unit(np.asarray(index.vectors[disliked]).mean(axis=0))
    return _unit(profile)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def _explain(index: PaperIndex, hits: list[Hit], liked: list[int]) -> None:
    """Names, for each hit, the liked paper it is closest to (and any nearly as close), and the
    words it shares with them."""
    if not hits or not liked:
        return
    liked_vectors = np.asarray(index.vectors[liked])
    similarity = np.asarray(index.vectors[[hit.row for hit in hits]]) @ liked_vectors.T
    for hit, row_similarity in zip(hits, similarity):
        order = np.argsort(-row_similarity)[:3]
        best = row_similarity[order[0]]
        drivers = [liked[i] for i in order if row_similarity[i] >= best - 0.05]
        hit.because = [index.papers[row].id for row in drivers]
        hit.shared_terms = index.lexical.shared_terms(hit.row, drivers)


def _hits(scores: np.ndarray, rows: np.ndarray) -> list[Hit]:
    return [Hit(int(row), float(score)) for score, row in zip(scores, rows) if row >= 0]
