"""Ranking: search, more-like-this and recommendations as plain functions over an index and arrays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

import numpy as np

from indexer.errors import NoKnownLikes
from indexer.paper_index import PaperIndex, top_k
from service.filters import Filters

CANDIDATE_POOL = 200  # papers taken from each ranking before fusion
FEEDBACK_DOCS = 5  # pseudo-relevance feedback: the first fused results that refine the query vector
FEEDBACK_WEIGHT = 0.5  # their mean's weight against the query's own (unit) vector
RECOMMEND_DENSE_WEIGHT = 0.6  # meaning against distinctive words in recommendations
PROFILE_TERMS = 100  # a reader's strongest words that fetch lexical candidates
DISLIKE_WEIGHT = 0.5  # Rocchio: how far disliked papers push the profiles away
INTEREST_SIMILARITY = 0.2
# A passage (a pasted abstract, a paragraph of a draft) says as much as a paper does, so it is
# matched the way `similar` matches a paper, against the papers' title-weighted vectors, and its
# embedding, which reads all of it (in pieces), weighs more than BM25 over a bag of a hundred words.
# A written-out question is not one: the query moves from one treatment to the other in proportion
# to its length, from a short abstract's length (80 words; questions of 58-73 words lost when the
# ramp began at 50) to a full model window (models.base.PASSAGE_WORDS, 160).
PASSAGE_RAMP_WORDS = (80, 160)
PASSAGE_DENSE_WEIGHT = 0.6  # centred cosine above which a liked paper joins an existing interest


Ranked = tuple[np.ndarray, np.ndarray]  # (scores, rows), best first


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
    """Papers like paper `row`, never the paper itself: the hybrid fusion of title-weighted
    embeddings and BM25 with the paper's own title and abstract as the query."""
    filters = filters.with_excluded({row})
    wanted = offset + k
    vector = index.similarity_vectors([row])[0]
    lexical = index.lexical.scores(index.papers[row].text())
    pool = max(CANDIDATE_POOL, 2 * wanted)
    _, lexical_rows = _positive_top(lexical, pool, filters.mask(index))
    rows, fused = _fuse(index, lexical, lexical_rows, vector, lambda rows: index.similarity_vectors(rows) @ vector,
                        pool, filters)
    hits = _hits(*top_k(fused, wanted, rows))[offset:]
    _explain(index, hits, [row])
    return hits


def recommend(index: PaperIndex, liked: list[int], disliked: list[int], k: int, offset: int = 0,
              filters: Filters = Filters(), candidates: list[int] | None = None,
              diversity: float = 0.0, recency_half_life: float | None = None,
              explained: slice = slice(None)) -> list[Hit]:
    """Papers for a reader who liked `liked` and disliked `disliked` (rows); never one of them.

    Two profiles, each towards the liked papers' mean and away from the disliked (Rocchio): one of
    corpus-centred embeddings (meaning), one of tf-idf (distinctive words); candidates from both
    are scored by the min-max normalised mix of the two. With `candidates`, ranks exactly those
    rows (all that pass the filters). `diversity` > 0 re-ranks with maximal marginal relevance;
    `recency_half_life` (days) halves a paper's score for every half-life of age. The hits in
    `explained` (all by default) get `because` and `shared_terms`: a caller that pages ranked
    candidates itself explains only its page."""
    meaning, words = _profiles(index, liked, disliked)
    filters = filters.with_excluded(set(liked) | set(disliked))
    reranked = diversity > 0 or bool(recency_half_life)
    if candidates is not None:
        rows = np.asarray(sorted(set(candidates) - filters.exclude_rows), dtype=np.int64)
        allowed = filters.mask(index)
        rows = rows if allowed is None else rows[allowed[rows]]
        wanted = len(rows)
    else:
        wanted = offset + k
        pool = max(CANDIDATE_POOL, 3 * wanted if reranked else 2 * wanted)
        _, dense_rows = dense_top(index, meaning, pool, filters)
        rows = np.union1d(dense_rows, _tfidf_top(index, words, pool, filters)).astype(np.int64)
    scores, rows = _profile_scores(index, meaning, words, rows)
    if recency_half_life:
        scores, rows = _favour_recent(index, scores, rows, recency_half_life)
    if diversity > 0:
        scores, rows = _mmr(index, scores, rows, wanted, diversity)
    if candidates is None and len(liked) > 1:
        scores, rows = _cover_interests(index, scores, rows, liked, k)
    hits = _hits(scores[:wanted], rows[:wanted])
    hits = hits if candidates is not None else hits[offset:]
    _explain(index, hits[explained], liked)
    return hits


def recommend_ids(index: PaperIndex, liked_ids: list[str], disliked_ids: list[str], k: int, offset: int = 0,
                  filters: Filters = Filters(), candidate_ids: list[str] | None = None,
                  exclude_ids: list[str] = (), diversity: float = 0.0,
                  recency_half_life: float | None = None, explained: slice = slice(None)
                  ) -> tuple[list[Hit], list[str]]:
    """`recommend` from paper ids, the one way every caller turns ids into rows: (hits, the given
    ids not in the index, once each). A paper both liked and disliked counts as liked; `exclude_ids`
    (seen papers) are never returned. Raises NoKnownLikes when no liked id is in the index."""
    liked, unknown = index.rows_of(liked_ids)
    if not liked:
        raise NoKnownLikes(unknown)
    liked_rows = set(liked)
    disliked, unknown_disliked = index.rows_of(disliked_ids)
    disliked = [row for row in disliked if row not in liked_rows]
    candidates, unknown_candidates = index.rows_of(candidate_ids) if candidate_ids is not None else (None, [])
    unknown = list(dict.fromkeys([*unknown, *unknown_disliked, *unknown_candidates]))
    excluded = set(index.rows_of(list(exclude_ids))[0])
    hits = recommend(index, liked, disliked, k, offset, filters.with_excluded(excluded) if excluded else filters,
                     candidates, diversity=diversity, recency_half_life=recency_half_life, explained=explained)
    return hits, unknown


class Reader(Protocol):
    """What a reader's feed needs from the user store's record."""

    likes: list[str]
    dislikes: list[str]
    seen: list[str]


NO_LIKES_YET = "no liked papers yet: like a few papers (PUT /users/{user}/likes/{id}) or import a library"


def recommend_for_reader(index: PaperIndex, reader: Reader, k: int, offset: int = 0, filters: Filters = Filters(),
                         diversity: float = 0.0, recency: float | None = None) -> tuple[list[Hit], str | None]:
    """(hits, the reason the list is empty): a reader's feed from their stored likes and dislikes;
    liked, disliked and seen papers are never returned."""
    try:
        hits, _ = recommend_ids(index, reader.likes, reader.dislikes, k, offset, filters, exclude_ids=reader.seen,
                                diversity=diversity, recency_half_life=recency)
    except NoKnownLikes:
        return [], NO_LIKES_YET
    return hits, None


def _interests(index: PaperIndex, liked: list[int]) -> np.ndarray:
    """Groups the liked papers into interests (greedy: a paper joins the first interest whose
    mean it is close to, else starts one); returns each liked paper's interest number."""
    vectors = index.centred(liked)
    labels = np.empty(len(liked), dtype=np.int64)
    sums: list[np.ndarray] = []
    units: list[np.ndarray] = []  # _unit(sums[i]), recomputed only when that sum changes
    for i, vector in enumerate(vectors):
        closeness = [float(vector @ unit) for unit in units]
        best = int(np.argmax(closeness)) if closeness else -1
        if best >= 0 and closeness[best] >= INTEREST_SIMILARITY:
            labels[i] = best
            sums[best] = sums[best] + vector
            units[best] = _unit(sums[best])
        else:
            labels[i] = len(sums)
            sums.append(vector.copy())
            units.append(_unit(vector))
    return labels


def _cover_interests(index: PaperIndex, scores: np.ndarray, rows: np.ndarray, liked: list[int],
                     page: int) -> Ranked:
    """Makes the first page speak to each interest (up to a third of the page), not only the
    largest: an interest with no paper on the page gets its best paper moved up to the page's
    end. Everything else keeps its order, so pages stay disjoint."""
    labels = _interests(index, liked)
    if labels.max() == 0 or len(rows) <= page:
        return scores, rows
    closest = labels[np.argmax(index.centred(rows) @ index.centred(liked).T, axis=1)].tolist()  # ints: fast to compare
    order = list(range(len(rows)))
    sizes = np.bincount(labels)
    for interest in np.argsort(-sizes, kind="stable")[: max(1, page // 3)].tolist():
        on_page = {closest[i] for i in order[:page]}
        if interest in on_page:
            continue
        later = next((position for position in range(page, len(order)) if closest[order[position]] == interest), None)
        if later is not None:
            order.insert(page - 1, order.pop(later))
    return scores[order], rows[order]


def _profiles(index: PaperIndex, liked: list[int], disliked: list[int]) -> tuple[np.ndarray, np.ndarray]:
    meaning = index.centred(liked).mean(axis=0)
    words = np.asarray(index.lexical.tfidf[liked].mean(axis=0), dtype=np.float32).ravel()
    if disliked:
        meaning = meaning - DISLIKE_WEIGHT * index.centred(disliked).mean(axis=0)
        disliked_words = np.asarray(index.lexical.tfidf[disliked].mean(axis=0), dtype=np.float32).ravel()
        words = words - DISLIKE_WEIGHT * disliked_words
    return _unit(meaning), words


def _tfidf_top(index: PaperIndex, words: np.ndarray, n: int, filters: Filters) -> np.ndarray:
    """Rows best matching the word profile through its PROFILE_TERMS strongest words."""
    positive = np.flatnonzero(words > 0)
    if len(positive) == 0:
        return np.empty(0, np.int64)
    terms = positive[np.argsort(-words[positive])[:PROFILE_TERMS]]
    scores = np.asarray(index.lexical.tfidf_columns[:, terms] @ words[terms], dtype=np.float32).ravel()
    return _positive_top(scores, n, filters.mask(index))[1]


def _profile_scores(index: PaperIndex, meaning: np.ndarray, words: np.ndarray, rows: np.ndarray) -> Ranked:
    if len(rows) == 0:
        return np.empty(0, np.float32), rows
    dense = index.centred(rows) @ meaning
    lexical = np.asarray(index.lexical.tfidf[rows] @ words, dtype=np.float32).ravel()
    fused = RECOMMEND_DENSE_WEIGHT * _min_max(dense) + (1 - RECOMMEND_DENSE_WEIGHT) * _min_max(lexical)
    return top_k(fused.astype(np.float32), len(rows), rows)


def _favour_recent(index: PaperIndex, scores: np.ndarray, rows: np.ndarray, half_life: float) -> Ranked:
    """Score x 0.5^(age / half-life); age in days before today (papers without a date count as old)."""
    today = np.datetime64("today", "D")
    days = index.published_days[rows]
    dates = np.array([np.datetime64(f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}") if d else today - 36500
                      for d in days], dtype="datetime64[D]")
    age = np.maximum((today - dates).astype(np.float64), 0.0)
    adjusted = (np.maximum(scores, 0) * np.power(0.5, age / half_life)).astype(np.float32)
    order = np.lexsort((rows, -adjusted))
    return adjusted[order], rows[order]


def _mmr(index: PaperIndex, scores: np.ndarray, rows: np.ndarray, n: int, diversity: float) -> Ranked:
    """Maximal marginal relevance: each next paper maximises (1-d) x score - d x its similarity to
    the papers already chosen."""
    vectors = np.asarray(index.vectors[rows])
    chosen: list[int] = []
    best_similarity = np.full(len(rows), -np.inf, dtype=np.float32)
    relevance = _min_max(scores.astype(np.float32))
    for _ in range(min(n, len(rows))):
        value = (1 - diversity) * relevance - diversity * np.where(np.isinf(best_similarity), 0, best_similarity)
        value[chosen] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        best_similarity = np.maximum(best_similarity, vectors @ vectors[pick])
    return scores[chosen], rows[chosen]


def dense_top(index: PaperIndex, vector: np.ndarray, n: int, filters: Filters) -> Ranked:
    """The n nearest rows that pass the filters. Exclusions alone are cheap to apply after an
    unfiltered search; real filters need an exact search over the rows they allow."""
    vector = np.asarray(vector, dtype=np.float32)
    if filters.is_empty():
        return index.search_dense(vector, n)
    if not filters.restricts():
        scores, rows = index.search_dense(vector, n + len(filters.exclude_rows))
        keep = np.array([row not in filters.exclude_rows for row in rows], dtype=bool)
        return scores[keep][:n], rows[keep][:n]
    return index.search_dense(vector, n, filters.mask(index))


def _keyword_top(index: PaperIndex, query: str, n: int, filters: Filters) -> Ranked:
    return _positive_top(index.lexical.scores(query), n, filters.mask(index))


def _positive_top(scores: np.ndarray, n: int, allowed: np.ndarray | None) -> Ranked:
    """The n best (scores, rows) among rows with a positive score that `allowed` lets through."""
    rows = np.flatnonzero(scores > 0 if allowed is None else (scores > 0) & allowed)
    return top_k(scores[rows], n, rows)


def _hybrid_top(index: PaperIndex, query: str, query_vector: np.ndarray, n: int, filters: Filters) -> Ranked:
    """Fuses the dense and BM25 rankings, then refines the query vector by pseudo-relevance
    feedback (Rocchio: towards the mean of the first fused results) and fuses again. A passage
    (see PASSAGE_RAMP_WORDS) is scored against the papers' title-weighted vectors, with
    PASSAGE_DENSE_WEIGHT on the dense side."""
    pool = max(CANDIDATE_POOL, 2 * n)
    lexical = index.lexical.scores(query)
    _, lexical_rows = _positive_top(lexical, pool, filters.mask(index))  # the same for both passes
    low, high = PASSAGE_RAMP_WORDS
    passage = min(1.0, max(0.0, (len(query.split()) - low) / (high - low)))  # 0: a question, 1: a passage
    weight = 0.5 + passage * (PASSAGE_DENSE_WEIGHT - 0.5)

    def dense_scores(vector: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        if passage == 0:
            return lambda rows: index.dense_scores(vector, rows)
        return lambda rows: ((1 - passage) * index.dense_scores(vector, rows)
                             + passage * (index.similarity_vectors(rows) @ vector))

    rows, fused = _fuse(index, lexical, lexical_rows, query_vector, dense_scores(query_vector), pool, filters, weight)
    if len(rows) and FEEDBACK_WEIGHT > 0:
        _, feedback = top_k(fused, FEEDBACK_DOCS, rows)
        feedback_vector = _unit(np.asarray(index.vectors[feedback]).mean(axis=0))
        query_vector = _unit(query_vector + FEEDBACK_WEIGHT * feedback_vector)
        rows, fused = _fuse(index, lexical, lexical_rows, query_vector, dense_scores(query_vector), pool, filters,
                            weight)
    return top_k(fused, n, rows)


def _fuse(index: PaperIndex, lexical: np.ndarray, lexical_rows: np.ndarray, vector: np.ndarray,
          dense_scores: Callable[[np.ndarray], np.ndarray], pool: int,
          filters: Filters, dense_weight: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(rows, fused scores) over the union of the top `pool` nearest to `vector` and
    `lexical_rows`, the top by BM25 score `lexical`: the dense scores (`dense_scores(rows)`) and
    the BM25 scores, each min-max normalised over that union, then mixed (`dense_weight` on the
    dense side, evenly by default), so a paper strong in both comes first."""
    _, dense_rows = dense_top(index, vector, pool, filters)
    rows = np.union1d(dense_rows, lexical_rows).astype(np.int64)
    if len(rows) == 0:
        return rows, np.empty(0, np.float32)
    fused = dense_weight * _min_max(dense_scores(rows)) + (1 - dense_weight) * _min_max(lexical[rows])
    return rows, fused.astype(np.float32)


def _min_max(scores: np.ndarray) -> np.ndarray:
    if scores.size == 0:
        return scores
    low, high = float(scores.min()), float(scores.max())
    return (scores - low) / (high - low) if high > low else np.zeros_like(scores)


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
