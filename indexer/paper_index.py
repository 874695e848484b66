"""A loaded index: papers by row, their vectors, and the dense and lexical search primitives.

A `PaperIndex` is an immutable snapshot: a stored generation plus `Changes` made since (papers
appended as new rows, rows dead because their paper was replaced or deleted). Rows keep their
numbers for the life of a snapshot; a change makes a new snapshot that shares the generation's
arrays, so a request that holds one sees one consistent index from start to end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from indexer.dense import search_dense
from indexer.errors import UnknownPaper
from indexer.lexical import AddedRows
from indexer.papers import Paper
from indexer.store import Manifest, StoredIndex, load_index


TITLE_WEIGHT = 0.5


@dataclass(frozen=True)
class Changes:
    """What changed since the generation was built: papers appended (rows after the stored ones,
    with their vectors) and dead rows (replaced or deleted papers)."""

    papers: tuple[Paper, ...] = ()
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    title_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    dead: frozenset[int] = frozenset()
    # The added papers' lexical rows, tokenised batch by batch (None: tokenise them all on load).
    lexical_rows: AddedRows | None = None


class PaperIndex:
    def __init__(self, stored: StoredIndex, changes: Changes | None = None,
                 row_by_id: dict[str, int] | None = None) -> None:
        self.stored = stored
        self.changes = changes or Changes()
        self.base_count = len(stored.papers)
        added = self.changes.papers
        self.papers: list[Paper] = stored.papers + list(added) if added else stored.papers
        self.vectors = RowStack(stored.vectors, self.changes.vectors) if added else stored.vectors
        self.title_vectors = (RowStack(stored.title_vectors, self.changes.title_vectors) if added
                              else stored.title_vectors)
        self.lexical_rows = self._lexical_rows()
        self.lexical = stored.lexical.with_rows(self.lexical_rows) if self.lexical_rows is not None else stored.lexical
        if row_by_id is None:
            row_by_id = {paper.id: row for row, paper in enumerate(self.papers) if row not in self.changes.dead}
        self._row_by_id = row_by_id
        self.alive: np.ndarray | None = None  # None when every row is alive
        if self.changes.dead:
            self.alive = np.ones(len(self.papers), dtype=bool)
            self.alive[list(self.changes.dead)] = False
        self._dead_stored = sum(1 for row in self.changes.dead if row < self.base_count)

    def _lexical_rows(self) -> AddedRows | None:
        """The added papers' lexical rows: those `changes` carries (tokenised batch by batch), or made now."""
        added = self.changes.papers
        if not added:
            return None
        rows = self.changes.lexical_rows
        if rows is not None and len(rows) == len(added):
            return rows
        return self.stored.lexical.added_rows([p.title for p in added], [p.abstract for p in added])

    @classmethod
    def load(cls, index_dir: Path | str) -> "PaperIndex":
        return cls(load_index(index_dir))

    @property
    def live_count(self) -> int:
        return len(self._row_by_id)

    def is_alive(self, row: int) -> bool:
        return self.alive is None or bool(self.alive[row])

    def live_ids(self) -> dict[str, int]:
        """Each live paper's id and row (a copy the caller may change)."""
        return dict(self._row_by_id)

    def warm(self) -> "PaperIndex":
        """Computes every lazily built part now, so that the first request after a swap does not."""
        self.published_days, self.rows_by_category, self.authors_lower, self._centred_inverse_norms  # noqa: B018
        self.lexical.warm()
        return self

    @property
    def manifest(self) -> Manifest:
        return self.stored.manifest

    def __len__(self) -> int:
        """Rows, dead ones included (row numbers index every per-row array)."""
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
        known = [self._row_by_id[i] for i in unique if i in self._row_by_id]
        return known, [i for i in unique if i not in self._row_by_id]

    def paper(self, paper_id: str) -> Paper:
        return self.papers[self.row_of(paper_id)]

    def search_dense(self, query: np.ndarray, k: int,
                     allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the k papers nearest to one query vector, best first, among `allowed`
        rows when given (a boolean mask); exact over the allowed rows, so a filter never loses papers.
        Without a mask, dead rows are skipped and rows added since the build are searched exactly."""
        if allowed is not None:
            candidates = np.flatnonzero(allowed)
            return top_k(self.vectors[candidates] @ query, k, candidates)
        scores, rows = search_dense(self.stored.dense, query[None, :], k + self._dead_stored)
        keep = rows[0] >= 0  # FAISS pads missing neighbours with -1
        scores, rows = scores[0][keep], rows[0][keep]
        if self.alive is not None:
            keep = self.alive[rows]
            scores, rows = scores[keep], rows[keep]
        if self.changes.papers:
            added = np.arange(self.base_count, len(self), dtype=np.int64)
            if self.alive is not None:
                added = added[self.alive[added]]
            added_scores = self.changes.vectors[added - self.base_count] @ query
            scores, rows = np.concatenate([scores, added_scores]), np.concatenate([rows.astype(np.int64), added])
        return top_k(scores, k, rows)

    def dense_scores(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.vectors[rows] @ query

    def similarity_vectors(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """Unit vectors for more-like-this: the paper's text vector plus half its title vector.
        The title states what the paper is about; the abstract dilutes it with method and setting."""
        vectors = np.asarray(self.vectors[rows]) + TITLE_WEIGHT * np.asarray(self.title_vectors[rows])
        return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)

    def centred(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """Unit vectors of the given rows after subtracting the corpus mean. Sentence embeddings
        share a common direction; without it, cosine says more about what makes papers differ."""
        return (np.asarray(self.vectors[rows]) - self._centre) * self._centred_inverse_norms[rows, None]

    # The centre and per-row metadata: computed once for the stored rows (shared by every
    # snapshot of the generation), extended by the rows added since.
    @property
    def _centre(self) -> np.ndarray:
        # Summed in float64 chunk by chunk, not through a float64 copy of every vector (same result).
        return self._stored_part(
            "centre", lambda: np.asarray(self.stored.vectors).mean(axis=0, dtype=np.float64).astype(np.float32))

    @cached_property
    def _centred_inverse_norms(self) -> np.ndarray:
        def inverse_norms(vectors: np.ndarray) -> np.ndarray:
            centre = self._centre.astype(np.float64)
            squares = np.empty(len(vectors), dtype=np.float64)
            for start in range(0, len(vectors), 65536):  # bounded memory on memory-mapped vectors
                block = np.asarray(vectors[start : start + 65536], dtype=np.float64)
                # |v - c|^2 = |v|^2 - 2 v.c + |c|^2: two passes over the block, no centred copy of it
                squares[start : start + len(block)] = (np.einsum("ij,ij->i", block, block) - 2 * (block @ centre)
                                                       + centre @ centre)
            return (1.0 / np.sqrt(np.maximum(squares, 1e-24))).astype(np.float32)

        stored = self._stored_part("inverse_norms", lambda: inverse_norms(self.stored.vectors))
        return np.concatenate([stored, inverse_norms(self.changes.vectors)]) if self.changes.papers else stored

    @cached_property
    def published_days(self) -> np.ndarray:
        """Publication date as yyyymmdd (partial dates padded to the first day; 0 when unknown)."""
        days = lambda papers: np.array([_date_number(p.published) for p in papers], dtype=np.int64)  # noqa: E731
        stored = self._stored_part("published_days", lambda: days(self.stored.papers))
        return np.concatenate([stored, days(self.changes.papers)]) if self.changes.papers else stored

    @cached_property
    def rows_by_category(self) -> dict[str, np.ndarray]:
        def by_category(papers: list[Paper] | tuple[Paper, ...], first_row: int) -> dict[str, np.ndarray]:
            lists: dict[str, list[int]] = defaultdict(list)
            for row, paper in enumerate(papers, first_row):
                for category in paper.categories:
                    lists[category.lower()].append(row)
            return {category: np.asarray(rows, dtype=np.int64) for category, rows in lists.items()}

        stored = self._stored_part("rows_by_category", lambda: by_category(self.stored.papers, 0))
        if not self.changes.papers:
            return stored
        merged = dict(stored)
        for category, rows in by_category(self.changes.papers, self.base_count).items():
            merged[category] = np.concatenate([merged[category], rows]) if category in merged else rows
        return merged

    @cached_property
    def authors_lower(self) -> list[str]:
        names = lambda papers: ["\n".join(paper.authors).lower() for paper in papers]  # noqa: E731
        stored = self._stored_part("authors_lower", lambda: names(self.stored.papers))
        return stored + names(self.changes.papers) if self.changes.papers else stored

    def _stored_part(self, name: str, compute):
        derived = self.stored.derived
        if name not in derived:
            derived[name] = compute()
        return derived[name]


class RowStack:
    """Two row blocks (the stored rows, memory-mapped, and the rows added since) read as one
    array by row: `stack[rows]`, `stack[i]`, `stack[a:b]`, `len(stack)`."""

    def __init__(self, stored: np.ndarray, added: np.ndarray) -> None:
        self.stored, self.added = stored, added
        self.shape = (len(stored) + len(added), stored.shape[1])
        self.dtype = stored.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            key = int(key) + (len(self) if key < 0 else 0)
            return self.stored[key] if key < len(self.stored) else self.added[key - len(self.stored)]
        rows = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), dtype=self.dtype)
        in_stored = rows < len(self.stored)
        out[in_stored] = self.stored[rows[in_stored]]
        out[~in_stored] = self.added[rows[~in_stored] - len(self.stored)]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = np.concatenate([np.asarray(self.stored), self.added])
        return whole if dtype is None else whole.astype(dtype)


def top_k(scores: np.ndarray, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k best (scores, rows), best first; ties broken by row for stable answers."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, np.float32), np.empty(0, np.int64)
    best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    best = best[np.lexsort((best, -scores[best]))]
    return scores[best], (rows[best] if rows is not None else best)


@lru_cache(maxsize=1 << 16)  # papers share few distinct dates: each is parsed once
def _date_number(published: str | None) -> int:
    if not published:
        return 0
    parts = (published.split("-") + ["01", "01"])[:3]
    try:
        return int(parts[0]) * 10000 + int(parts[1]) * 100 + int(parts[2])
    except ValueError:
        return 0
