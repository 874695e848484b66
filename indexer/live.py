"""Changes to an index while it is served: papers added, replaced and deleted without a rebuild.

A change is a batch of operations (`upsert` a paper with its vectors, `delete` an id). It is
appended to the live generation's journal and fsynced before it counts; the in-memory index then
becomes a new snapshot (`PaperIndex` with `Changes`). Loading an index replays its journal, so an
acknowledged change survives a crash. `compact` folds the journal into a new generation (no
re-embedding: the vectors are in the journal) once changes pile up, written by
store.write_generation like any build.

Several processes may serve and change one index folder: every append happens under the folder's
writer lock after catching up with what others appended, and `LiveIndex.refresh` picks up their
changes (and rebuilt generations) without a restart. A damaged journal line (store.IndexDamaged)
fails the load, the refresh or the write that reads it, before anything is appended: the served
snapshot stays the last good one until `paperlens check --repair` writes a generation to reload.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.dense import EXACT_LIMIT
from indexer.errors import IndexChanged
from indexer.lexical import AddedRows
from indexer.paper_index import Changes, PaperIndex
from indexer.papers import Paper
from indexer.store import (JournalPosition, append_journal, journal_end, live_generation, load_index, read_journal,
                           write_generation, writer_lock)


@dataclass
class Upsert:
    paper: Paper
    vector: np.ndarray
    title_vector: np.ndarray


def batch_record(upserts: Sequence[Upsert] = (), deletes: Sequence[str] = ()) -> dict[str, Any]:
    """The journal line for one batch: deletions first, then papers added or replaced."""
    operations: list[dict[str, Any]] = [{"op": "delete", "id": paper_id} for paper_id in deletes]
    for item in upserts:
        operations.append({"op": "upsert", "paper": item.paper.to_dict(), "vector": _encode(item.vector),
                           "title_vector": _encode(item.title_vector)})
    return {"at": time.time(), "ops": operations}


def apply_batches(index: PaperIndex, batches: Iterable[dict[str, Any]]) -> PaperIndex:
    """A new snapshot: `index` with the batches' operations applied in order."""
    batches = list(batches)
    if not batches:
        return index
    row_by_id = index.live_ids()
    papers = list(index.changes.papers)
    added_vectors: list[np.ndarray] = []
    added_titles: list[np.ndarray] = []
    dead = set(index.changes.dead)
    for batch in batches:
        for operation in batch["ops"]:
            if operation["op"] == "delete":
                row = row_by_id.pop(operation["id"], None)
                if row is not None:
                    dead.add(row)
                continue
            paper = Paper.from_dict(operation["paper"])
            old = row_by_id.get(paper.id)
            if old is not None:
                dead.add(old)
            row_by_id[paper.id] = index.base_count + len(papers)
            papers.append(paper)
            added_vectors.append(_decode(operation["vector"]))
            added_titles.append(_decode(operation["title_vector"]))
    dim = index.stored.vectors.shape[1]
    vectors = _stack(index.changes.vectors, added_vectors, dim)
    titles = _stack(index.changes.title_vectors, added_titles, dim)
    lexical_rows = _lexical_rows(index, papers[len(index.changes.papers):])
    return PaperIndex(index.stored, Changes(tuple(papers), vectors, titles, frozenset(dead), lexical_rows), row_by_id)


def _lexical_rows(index: PaperIndex, new_papers: list[Paper]) -> AddedRows | None:
    """The snapshot's added lexical rows: the previous snapshot's, plus only the new papers
    tokenised (re-tokenising every paper added since the build made each write slower than the last)."""
    if not new_papers:
        return index.lexical_rows
    return index.stored.lexical.added_rows([p.title for p in new_papers], [p.abstract for p in new_papers],
                                           index.lexical_rows)


def load_live(index_dir: Path | str) -> tuple[PaperIndex, JournalPosition]:
    """The live generation with its journal replayed, and where the journal was read to. Retries
    when a build swaps generations while it reads."""
    for attempt in range(5):
        folder = live_generation(index_dir)
        try:
            stored = load_index(index_dir)
            if stored.folder != folder:
                continue
            batches, offset = read_journal(folder)
        except FileNotFoundError:
            if attempt == 4:
                raise
            continue
        return apply_batches(PaperIndex(stored), batches), JournalPosition(folder.name, offset)
    raise IndexChanged(f"index at {index_dir} kept changing while it was loaded; try again")


class LiveIndex:
    """The served snapshot of an index folder, and the one way to change it."""

    def __init__(self, index_dir: Path | str) -> None:
        self.index_dir = Path(index_dir)
        index, position = load_live(self.index_dir)
        self._state = (index.warm(), position)
        self._guard = threading.Lock()  # serialises catch-up and swaps in this process
        self.loaded_at = time.time()

    @property
    def index(self) -> PaperIndex:
        return self._state[0]

    @property
    def position(self) -> JournalPosition:
        return self._state[1]

    def apply(self, upserts: Sequence[Upsert] = (), deletes: Sequence[str] = ()) -> PaperIndex:
        """Appends the batch to the journal (durable when this returns) and serves it."""
        record = batch_record(upserts, deletes)
        with self._guard, writer_lock(self.index_dir):
            self._catch_up_locked()
            index, position = self._state
            end = append_journal(self.index_dir / position.generation, record, position.offset)
            self._state = (apply_batches(index, [record]).warm(), JournalPosition(position.generation, end))
        return self.index

    def refresh(self) -> bool:
        """Catches up with changes made by other processes (journal lines, a new generation);
        True when something changed. The new snapshot is loaded before it replaces the old, so
        requests keep being answered meanwhile; on IndexDamaged the old one stays served."""
        current = journal_end(self.index_dir)
        if current is None or current == self.position:
            return False
        switched = current.generation != self.position.generation
        if switched:
            index, position = load_live(self.index_dir)  # the slow part, outside the locks
            index.warm()
            with self._guard:
                if position.generation != self.position.generation:  # no writer switched meanwhile
                    self._state = (index, position)
                    self.loaded_at = time.time()
        with self._guard, writer_lock(self.index_dir):
            caught_up = self._catch_up_locked()
        # Not True for a torn last line alone: the journal's size differs from what was read until the next append.
        return switched or caught_up

    def _catch_up_locked(self) -> bool:
        index, position = self._state
        current = journal_end(self.index_dir)
        if current is None or current == position:
            return False
        if current.generation != position.generation:
            index, position = load_live(self.index_dir)
            self._state = (index.warm(), position)
            self.loaded_at = time.time()
            return True
        batches, offset = read_journal(self.index_dir / position.generation, position.offset)
        if batches:
            self._state = (apply_batches(index, batches).warm(), JournalPosition(position.generation, offset))
        return bool(batches)

    def pending(self) -> int:
        """Rows a compaction would remove or fold in (dead rows plus rows added since the build)."""
        changes = self.index.changes
        return len(changes.dead) + len(changes.papers)


def compact(index_dir: Path | str, exact_limit: int = EXACT_LIMIT) -> tuple[int, int]:
    """Writes the live snapshot (journal applied, dead rows dropped) as a new generation, with
    fresh dense and lexical indexes and no re-embedding. Changes appended meanwhile are carried
    over. Returns (papers, rows dropped)."""
    index, position = load_live(index_dir)
    rows = np.asarray(sorted(index.live_ids().values()), dtype=np.int64)
    return write_snapshot(index_dir, index, rows, position, exact_limit), len(index) - len(rows)


def write_snapshot(index_dir: Path | str, index: PaperIndex, rows: np.ndarray, position: JournalPosition | None,
                   exact_limit: int = EXACT_LIMIT, sources: list[str] | None = None) -> int:
    """Writes the given rows of a snapshot (their papers and vectors, under the snapshot's model) as
    a new generation; returns how many papers it holds."""
    started = time.perf_counter()
    old = index.manifest
    manifest = write_generation(index_dir, [index.papers[row] for row in rows], index.vectors[rows],
                                index.title_vectors[rows], model=old.model, dim=old.dim,
                                sources=sources or old.sources, started=started, exact_limit=exact_limit,
                                carry_from=position, encoder=old.encoder)
    return manifest.count


def _stack(existing: np.ndarray, new: list[np.ndarray], dim: int) -> np.ndarray:
    if not new:
        return existing if existing.size else np.zeros((0, dim), np.float32)
    parts = ([existing] if existing.size else []) + [np.stack(new).astype(np.float32)]
    return np.concatenate(parts)


def _encode(vector: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)
