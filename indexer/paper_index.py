"""A loaded index: papers by row, their vectors, and the dense and lexical search primitives."""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from pathlib import Path

import numpy as np

from indexer.dense import search_dense
from indexer.errors import UnknownPaper
from indexer.papers import Paper
from indexer.store import Manifest, StoredIndex, load_index


TITLE_WEIGHT = 0.5


class PaperIndex:
    def __init__(self, stored: StoredIndex) -> None:
        self.stored = stored
        self.papers: list[Paper] = stored.papers
        self.vectors: np.ndarray = stored.vectors
        self.lexical = stored.lexical
        self._row_by_id = {paper.id: row for row, paper in enumerate(self.papers)}

    @classmethod
    def load(cls, index_dir: Path | str) -> "PaperIndex":
        return cls(load_index(index_dir))

    @property
    def manifest(self) -> Manifest:
        return self.stored.manifest

    def __len__(self) -> int:
        return len(self.papers)

    def __contains__(self, paper_id: str) -> bool:
        return paper_id in self._row_by_id

    def row_of(self, paper_id: str) -> int:
        try:
            return self._row_by_id[paper_id]
        except KeyError:
            raise UnknownPaper(paper_id) from None

    def rows_of(self, paper_ids: list[str]) -> tuple[list[int], list[str]]:
        """(rows of the known ids, once each, in order; the unknown ids, once each)."""
        unique = list(dict.fromkeys(paper_ids))
        return [self._row_by_id[i] for i in unique if i in self._row_by_id], [i for i in unique if i not in self._row_by_id]

    def paper(self, paper_id: str) -> Paper:
        return self.papers[self.row_of(paper_id)]

    def search_dense(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the k papers nearest to one query vector, best first, among `allowed`
        rows when given (a boolean mask); exact over the allowed rows, so a filter never loses papers."""
        if allowed is None:
            scores, rows = search_dense(self.stored.dense, query[None, :], k)
            keep = rows[0] >= 0  # FAISS pads missing neighbours with -1
            return scores[0][keep], rows[0][keep]
        candidates = np.flatnonzero(allowed)
        return top_k(self.vectors[candidates] @ query, k, candidates)

    def dense_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.vectors[rows] @ query

    def similarity_vectors(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """Unit vectors for more-like-this: the paper's text vector plus half its title vector.
        The title states what the paper is about; the abstract dilutes it with method and setting."""
        vectors = np.asarray(self.vectors[rows]) + TITLE_WEIGHT * np.asarray(self.stored.title_vectors[rows])
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)

    def centred(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """Unit vectors of the given rows after subtracting the corpus mean. Sentence embeddings
        share a common direction; without it, cosine says more about what makes papers differ."""
        return (np.asarray(self.vectors[rows]) - self._centre) * self._centred_inverse_norms[rows, None]

    @cached_property
    def _centre(self) -> np.ndarray:
        return np.asarray(self.vectors, dtype=np.float64).mean(axis=0).astype(np.float32)

    @cached_property
    def _centred_inverse_norms(self) -> np.ndarray:
        norms = np.empty(len(self), dtype=np.float32)
        for start in range(0, len(self), 65536):  # bounded memory on memory-mapped vectors
            block = np.asarray(self.vectors[start : start + 65536]) - self._centre
            norms[start : start + len(block)] = np.linalg.norm(block, axis=1)
        return 1.0 / np.maximum(norms, 1e-12)

    # Per-row metadata used by filters, computed once on first use.
    @cached_property
    def published_days(self) -> np.ndarray:
        """Publication date as yyyymmdd (partial dates padded to the first day; 0 when unknown)."""
        return np.array([_date_number(p.published) for p in self.papers], dtype=np.int64)

    @cached_property
    def rows_by_category(self) -> dict[str, np.ndarray]:
        lists: dict[str, list[int]] = defaultdict(list)
        for row, paper in enumerate(self.papers):
            for category in paper.categories:
                lists[category.lower()].append(row)
        return {category: np.asarray(rows) for category, rows in lists.items()}

    @cached_property
    def authors_lower(self) -> list[str]:
        return ["\n".join(paper.authors).lower() for paper in self.papers]


def top_k(scores: np.ndarray, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k best (scores, rows), best first; ties broken by row for stable answers."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, np.float32), np.empty(0, np.int64)
    best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    best = best[np.lexsort((best, -scores[best]))]
    return scores[best], (rows[best] if rows is not None else best)


def _date_number(published: str | None) -> int:
    if not published:
        return 0
    parts = (published.split("-") + ["01", "01"])[:3]
    try:
        return int(parts[0]) * 10000 + int(parts[1]) * 100 + int(parts[2])
    except ValueError:
        return 0
