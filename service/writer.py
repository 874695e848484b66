"""Changing the served index: papers added, replaced and deleted through the API, reloads and
compaction, all while requests keep being answered from the snapshot they started with."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.build import embed_papers
from indexer.live import Upsert, compact
from indexer.papers import Paper, embeds_alike
from indexer.vectors import GivenVectors
from service.served import ServedIndex

log = logging.getLogger("paperlens")


@dataclass
class WriteSummary:
    added: int = 0
    replaced: int = 0
    embedded: int = 0  # papers whose text changed (or is new), so the model ran
    given: int = 0  # papers whose vectors came with the records
    deleted: int = 0
    papers: int = 0  # papers in the index afterwards


class IndexWriter:
    """The write side of a served index. One compaction at a time, in a background thread."""

    def __init__(self, served: ServedIndex, compact_after: float = 0.2) -> None:
        if served.live is None:
            raise ValueError("this ServedIndex serves a fixed index; it cannot be changed")
        self.served = served
        self.live = served.live
        self.compact_after = compact_after
        self.compactions = 0
        self.last_compaction: float | None = None
        self._compacting = threading.Lock()

    def upsert(self, papers: Sequence[Paper], given: GivenVectors | None = None) -> WriteSummary:
        """Adds or replaces papers; durable when it returns. Papers whose title and abstract are
        unchanged keep their vectors (a metadata fix costs no embedding); `given` vectors (checked
        against the model on a sample first: ModelMismatch) are used as they are."""
        index = self.live.index
        summary = WriteSummary()
        unique = list({paper.id: paper for paper in papers}.values())
        changed = []
        vectors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if given is not None and len(given):
            given.check_model(self.served.encoder, {paper.id: paper for paper in unique})
            vectors = given.with_titles({paper.id: paper for paper in unique}, self.served.encoder)
            summary.given = len(vectors)
        for paper in unique:
            if paper.id in vectors:
                summary.replaced += paper.id in index
                summary.added += paper.id not in index
                continue
            if paper.id in index:
                summary.replaced += 1
                row = index.row_of(paper.id)
                old = index.papers[row]
                if embeds_alike(old, paper):
                    vectors[paper.id] = (np.asarray(index.vectors[row]), np.asarray(index.title_vectors[row]))
                    continue
            else:
                summary.added += 1
            changed.append(paper)
        if changed:
            text_vectors, title_vectors = embed_papers(self.served.encoder, changed)
            for paper, vector, title_vector in zip(changed, text_vectors, title_vectors):
                title = given.title_of(paper.id) if given is not None else None
                vectors[paper.id] = (vector, title_vector if title is None else title)
        summary.embedded = len(changed)
        updated = self.live.apply(upserts=[Upsert(paper, *vectors[paper.id]) for paper in unique])
        summary.papers = updated.live_count
        self._maybe_compact()
        return summary

    def delete(self, paper_ids: Sequence[str]) -> WriteSummary:
        """Removes papers (known ids only; the caller checks); durable when it returns."""
        updated = self.live.apply(deletes=list(paper_ids))
        self._maybe_compact()
        return WriteSummary(deleted=len(paper_ids), papers=updated.live_count)

    def reload(self) -> bool:
        """Picks up a rebuilt generation or changes made by other processes."""
        return self.live.refresh()

    def compact_now(self) -> bool:
        """Compacts unless a compaction is running already; False then."""
        if not self._compacting.acquire(blocking=False):
            return False
        try:
            started = time.perf_counter()
            papers, dropped = compact(self.live.index_dir)
            self.live.refresh()
            self.compactions += 1
            self.last_compaction = time.time()
            log.info("compacted %s: %d papers, %d rows dropped, %.1fs", self.live.index_dir, papers, dropped,
                     time.perf_counter() - started)
            return True
        finally:
            self._compacting.release()

    def compact_in_background(self) -> bool:
        if self._compacting.locked():
            return False
        threading.Thread(target=self._compact_logged, name="paperlens-compact", daemon=True).start()
        return True

    @property
    def compacting(self) -> bool:
        return self._compacting.locked()

    def _compact_logged(self) -> None:
        try:
            self.compact_now()
        except Exception:  # a failed compaction leaves the live generation and journal as they were
            log.exception("compaction of %s failed", self.live.index_dir)

    def _maybe_compact(self) -> None:
        index = self.live.index
        if self.live.pending() > max(100, self.compact_after * index.base_count):
            self.compact_in_background()
