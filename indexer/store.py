"""The on-disk index format. Only this module builds paths inside an index folder.

    DIR/CURRENT                 name of the live generation (replaced atomically)
    DIR/gen-000007/manifest.json  format version, model, dimension, count, build time, parameters, shards
    DIR/gen-000007/papers.jsonl   paper metadata, one line per row, in row order
    DIR/gen-000007/vectors.npy    float32 rows x dim, L2-normalised (memory-mapped when served)
    DIR/gen-000007/title-vectors.npy  the same for the titles alone (more-like-this weighs titles up)
    DIR/gen-000007/dense.faiss    the FAISS index over those rows (row number = FAISS id)
    DIR/gen-000007/lexical.*      the BM25 index
    DIR/gen-000007/journal.jsonl  changes made since the generation was built (papers added,
                                  replaced or deleted while serving), one fsynced line per batch
    DIR/.writer.lock              held (flock) by whoever appends to a journal or swaps CURRENT
    DIR/users.sqlite              users' likes (outside the generations: a rebuild keeps them)

A build writes a whole new generation folder, fsyncs it, then swaps CURRENT with os.replace:
readers see the old index or the new one, never a half-written one, and a crash at any point leaves
the previous generation live. Older generations are removed after the swap. A generation never
changes after it is written except by appending to its journal; a build that started from a
journal position carries the lines appended since into the new generation, under the writer lock,
so an update acknowledged while a build or compaction ran is never lost. `shards` in the
manifest lists row ranges and their files, so a large corpus can be split without a new format.
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from indexer.dense import DenseParameters, load_dense, parameters_from_dict, parameters_to_dict, save_dense
from indexer.errors import IndexNotFound
from indexer.lexical import LexicalIndex
from indexer.papers import Paper

FORMAT_VERSION = 1
_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
_JOURNAL = "journal.jsonl"
_LOCK = ".writer.lock"
_THREAD_LOCKS: dict[str, threading.RLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@dataclass
class Manifest:
    model: str
    dim: int
    count: int
    dense: DenseParameters
    built_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    format_version: int = FORMAT_VERSION
    build_seconds: float = 0.0
    sources: list[str] = field(default_factory=list)
    shards: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        record = dict(self.__dict__)
        record["dense"] = parameters_to_dict(self.dense)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> "Manifest":
        record = dict(record)
        record["dense"] = parameters_from_dict(record["dense"])
        return cls(**record)


@dataclass
class StoredIndex:
    """What a generation folder holds, loaded."""

    folder: Path
    manifest: Manifest
    papers: list[Paper]
    vectors: np.ndarray
    title_vectors: np.ndarray
    dense: Any  # faiss.Index
    lexical: LexicalIndex
    derived: dict[str, Any] = field(default_factory=dict)  # per-row metadata computed once, shared by snapshots


@dataclass(frozen=True)
class JournalPosition:
    """A point in a generation's journal: everything before `offset` bytes has been applied."""

    generation: str
    offset: int


def write_index(index_dir: Path | str, manifest: Manifest, papers: list[Paper], vectors: np.ndarray,
                title_vectors: np.ndarray, dense: Any, lexical: LexicalIndex,
                carry_from: JournalPosition | None = None) -> Path:
    """Writes a new generation and makes it live atomically; returns its folder. With `carry_from`
    (where the build read the live index up to), journal lines appended after it are carried over."""
    root = Path(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    generation = root / _next_generation_name(root)
    staging = root / f".tmp-{generation.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        manifest.shards = [{"rows": [0, len(papers)], "papers": "papers.jsonl", "vectors": "vectors.npy",
                           "title_vectors": "title-vectors.npy", "dense": "dense.faiss"}]
        _write_papers(staging / "papers.jsonl", papers)
        np.save(staging / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
        np.save(staging / "title-vectors.npy", np.ascontiguousarray(title_vectors, dtype=np.float32))
        save_dense(dense, staging / "dense.faiss")
        lexical.save(staging)
        (staging / _MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=2), encoding="utf-8")
        _fsync_folder_files(staging)
        with writer_lock(root):
            if carry_from is not None:
                _carry_journal(root, carry_from, staging / _JOURNAL)
            os.rename(staging, generation)
            _fsync_path(root)
            _replace_text(root / _CURRENT, generation.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_old_generations(root, keep=generation.name)
    return generation


def _carry_journal(root: Path, position: JournalPosition, target: Path) -> None:
    live = _live_name(root)
    if live is None:
        return
    if live != position.generation:
        raise IndexNotFound(f"index at {root} was replaced by another build while this one ran; run it again")
    source = root / live / _JOURNAL
    if source.exists() and source.stat().st_size > position.offset:
        with source.open("rb") as journal, target.open("wb") as out:
            journal.seek(position.offset)
            shutil.copyfileobj(journal, out)
            out.flush()
            os.fsync(out.fileno())


@contextmanager
def writer_lock(index_dir: Path | str) -> Iterator[None]:
    """Exclusive right to append to the live journal or swap CURRENT: across processes (flock on
    DIR/.writer.lock) and across threads of this one."""
    root = Path(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(str(root.resolve()), threading.RLock())
    with thread_lock:
        with (root / _LOCK).open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def journal_end(index_dir: Path | str) -> JournalPosition | None:
    """Where the live generation's journal ends now (None when there is no index)."""
    root = Path(index_dir)
    name = _live_name(root)
    if name is None:
        return None
    path = root / name / _JOURNAL
    return JournalPosition(name, path.stat().st_size if path.exists() else 0)


def read_journal(generation: Path, start: int = 0) -> tuple[list[dict[str, Any]], int]:
    """(batches from byte `start`, the offset after the last whole one). A torn last line (a crash
    while it was written, so never acknowledged) ends the journal."""
    path = generation / _JOURNAL
    if not path.exists():
        return [], start
    batches = []
    offset = start
    with path.open("rb") as journal:
        journal.seek(start)
        for line in journal:
            if not line.endswith(b"\n"):
                break
            try:
                batches.append(json.loads(line))
            except ValueError:
                break
            offset += len(line)
    return batches, offset


def append_journal(generation: Path, batch: dict[str, Any], expected_end: int) -> int:
    """Appends one batch as one line and fsyncs it; returns the new end offset. Bytes beyond
    `expected_end` (a torn line from a crash) are cut first. Call under `writer_lock`."""
    path = generation / _JOURNAL
    line = (json.dumps(batch, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    created = not path.exists()
    with path.open("ab") as journal:
        if journal.tell() != expected_end:
            journal.truncate(expected_end)
            journal.seek(expected_end)
        journal.write(line)
        journal.flush()
        os.fsync(journal.fileno())
    if created:
        _fsync_path(generation)
    return expected_end + len(line)


def generation_name(folder: Path) -> str:
    return folder.name


def _live_name(root: Path) -> str | None:
    try:
        return (root / _CURRENT).read_text(encoding="utf-8").strip() or None
    except (FileNotFoundError, NotADirectoryError):
        return None


def users_database(index_dir: Path | str) -> Path:
    """Where the embedded user store lives: beside the generations, so rebuilds keep it."""
    return Path(index_dir) / "users.sqlite"


def embedding_checkpoints(index_dir: Path | str) -> Path:
    """Where a build keeps its embedded chunks until its generation is written: beside the
    generations, so that they outlive a failed or killed build (write_index leaves them alone)."""
    return Path(index_dir) / ".embedding-checkpoints"


def read_manifest(index_dir: Path | str) -> Manifest:
    return Manifest.from_dict(json.loads((live_generation(index_dir) / _MANIFEST).read_text(encoding="utf-8")))


def live_generation(index_dir: Path | str) -> Path:
    root = Path(index_dir)
    try:
        name = (root / _CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        raise IndexNotFound(f"no paperlens index at {root} (build one with `paperlens index SOURCE --index {root}`)") from None
    folder = root / name
    if not (folder / _MANIFEST).is_file():
        raise IndexNotFound(f"index at {root} is damaged: generation {name} has no manifest")
    return folder


def load_index(index_dir: Path | str, mmap: bool = True) -> StoredIndex:
    folder = live_generation(index_dir)
    manifest = Manifest.from_dict(json.loads((folder / _MANIFEST).read_text(encoding="utf-8")))
    if manifest.format_version > FORMAT_VERSION:
        raise IndexNotFound(f"index at {index_dir} has format {manifest.format_version}; this paperlens reads up to {FORMAT_VERSION}")
    with _collection_paused():  # every paper record survives: collecting while they are made only rescans them
        papers = list(_read_papers(folder / "papers.jsonl"))
    # Plain arrays over the mapped files: indexing an np.memmap runs Python code on every request.
    vectors = np.asarray(np.load(folder / "vectors.npy", mmap_mode="r" if mmap else None))
    title_vectors = np.asarray(np.load(folder / "title-vectors.npy", mmap_mode="r" if mmap else None))
    dense = load_dense(folder / "dense.faiss", manifest.dense)
    lexical = LexicalIndex.load(folder)
    return StoredIndex(folder, manifest, papers, vectors, title_vectors, dense, lexical)


def _write_papers(path: Path, papers: Iterable[Paper]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for paper in papers:
            out.write(json.dumps(paper.to_dict(), ensure_ascii=False) + "\n")


def _read_papers(path: Path) -> Iterable[Paper]:
    with path.open("rb") as lines:
        for line in lines:
            record = _json_line(line)
            try:
                yield Paper(**record)  # what _write_papers wrote: every field, nothing else (the fast way)
            except TypeError:
                yield Paper.from_dict(record)


def _json_line(line: bytes) -> Any:
    try:
        return orjson.loads(line)  # a few times faster than json: the whole start-up on a large index
    except orjson.JSONDecodeError:  # what json may have written and orjson refuses (NaN, integers over 64 bits)
        return json.loads(line)


@contextmanager
def _collection_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _next_generation_name(root: Path) -> str:
    numbers = [int(p.name[4:]) for p in root.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _replace_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as out:
        out.write(text + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    _fsync_path(path.parent)


def _fsync_folder_files(folder: Path) -> None:
    for path in folder.iterdir():
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    _fsync_path(folder)


def _fsync_path(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_old_generations(root: Path, keep: str) -> None:
    for path in root.iterdir():
        stale_generation = path.name.startswith("gen-") and path.name != keep
        stale_staging = path.name.startswith(".tmp-gen-")
        if stale_generation or stale_staging:
            shutil.rmtree(path, ignore_errors=True)
