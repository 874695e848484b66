"""The on-disk index format: what a generation holds, how one is written (`write_generation`, the
one way a build or a compaction makes papers and vectors into a live generation), loaded, checked
and repaired, and the journal and writer lock. Only this module builds paths inside an index folder.

    DIR/CURRENT                 name of the live generation (replaced atomically)
    DIR/gen-000007/manifest.json  format version, model, dimension, count, build time, parameters, shards
    DIR/gen-000007/papers.jsonl   paper metadata, one line per row, in row order
    DIR/gen-000007/vectors.npy    float32 rows x dim, L2-normalised (memory-mapped when served)
    DIR/gen-000007/title-vectors.npy  the same for the titles alone (more-like-this weighs titles up)
    DIR/gen-000007/dense.faiss    the FAISS index over those rows (row number = FAISS id)
    DIR/gen-000007/lexical.*      the BM25 index
    DIR/gen-000007/journal.jsonl  changes made since the generation was built (papers added,
                                  replaced or deleted while serving), one fsynced line per batch:
                                  {"crc32":"<8 hex digits>","batch":{"at":...,"ops":[...]}}
    DIR/journal.damaged-gen-000007-<time>  damaged journal lines `paperlens check --repair` set aside
    DIR/.writer.lock              held (flock) by whoever appends to a journal or swaps CURRENT
    DIR/users.sqlite              users' likes (outside the generations: a rebuild keeps them)

A build writes a whole new generation folder, fsyncs it, then swaps CURRENT with os.replace:
readers see the old index or the new one, never a half-written one, and a crash at any point leaves
the previous generation live. Older generations are removed after the swap. A generation never
changes after it is written except by appending to its journal; a build that started from a
journal position carries the lines appended since into the new generation, under the writer lock,
so an update acknowledged while a build or compaction ran is never lost. `shards` in the
manifest lists row ranges and their files, so a large corpus can be split without a new format.

Journal lines carry the CRC-32 of the batch's JSON bytes, written between fixed framing so that a
line is still one JSON object and the checksum covers exactly the bytes on disk (no re-serialising
to check it). Lines from before checksums (the bare batch object) are read as long as they parse.
Only a torn last line (no newline: a crash while it was written, so never acknowledged) is ignored
and cut by the next append; a complete line that fails its checksum stops loading with
`IndexDamaged` and nothing is cut, so the batches after it stay on disk. `check_index` verifies a
folder; `repair_journal` keeps every intact batch in a new generation (the other files hard-linked)
and moves the damaged bytes into a file beside the generations, which rebuilds do not remove.
"""

from __future__ import annotations

import fcntl
import gc
import itertools
import json
import os
import shutil
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson

from indexer.dense import (EXACT_LIMIT, DenseParameters, build_dense, load_dense, parameters_from_dict,
                           parameters_to_dict, save_dense)
from indexer.errors import IndexChanged, IndexDamaged, IndexNotFound
from indexer.lexical import LexicalIndex
from indexer.papers import Paper

FORMAT_VERSION = 1
_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
_JOURNAL = "journal.jsonl"
_LOCK = ".writer.lock"
# One RLock per index folder, held here only while some caller of writer_lock holds a reference to it.
_THREAD_LOCKS: weakref.WeakValueDictionary[str, threading.RLock] = weakref.WeakValueDictionary()
_THREAD_LOCKS_GUARD = threading.Lock()
# A journal line: _LINE_HEAD, the CRC-32 of the batch's JSON as 8 hex digits, _LINE_MIDDLE, that JSON, _LINE_END.
_LINE_HEAD = b'{"crc32":"'
_LINE_MIDDLE = b'","batch":'
_LINE_END = b"}\n"
_PAYLOAD_START = len(_LINE_HEAD) + 8 + len(_LINE_MIDDLE)


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
    encoder: dict[str, str] = field(default_factory=dict)  # the runtime and numerics that embedded the papers

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


def write_generation(index_dir: Path | str, papers: list[Paper], vectors: np.ndarray, title_vectors: np.ndarray, *,
                     model: str, dim: int, sources: list[str], started: float, exact_limit: int = EXACT_LIMIT,
                     carry_from: JournalPosition | None = None, encoder: dict[str, str] | None = None) -> Manifest:
    """Makes the papers and their vectors (rows in the papers' order) a new generation: the dense
    index chosen by size, the lexical index, the manifest (its build time counted from `started`, a
    time.perf_counter() value), all written and made live atomically. With `carry_from` (where the
    caller read the live index up to), journal lines appended after it are carried over under the
    writer lock; IndexChanged when another build replaced that generation meanwhile. Returns the manifest."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    title_vectors = np.ascontiguousarray(title_vectors, dtype=np.float32)
    parameters = DenseParameters.for_size(len(papers), exact_limit)
    dense = build_dense(vectors, parameters)
    lexical = LexicalIndex.build([p.title for p in papers], [p.abstract for p in papers])
    manifest = Manifest(model=model, dim=dim, count=len(papers), dense=parameters,
                        build_seconds=round(time.perf_counter() - started, 3), sources=list(sources),
                        encoder=dict(encoder or {}))
    _write_index(index_dir, manifest, papers, vectors, title_vectors, dense, lexical, carry_from)
    return manifest


def _write_index(index_dir: Path | str, manifest: Manifest, papers: list[Paper], vectors: np.ndarray,
                 title_vectors: np.ndarray, dense: Any, lexical: LexicalIndex,
                 carry_from: JournalPosition | None) -> Path:
    """Writes the generation into a staging folder, fsyncs it, renames it into place and swaps
    CURRENT to it; returns its folder. A failure at any point leaves the previous generation live."""
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
        np.save(staging / "vectors.npy", vectors)
        np.save(staging / "title-vectors.npy", title_vectors)
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
        raise IndexChanged(f"index at {root} was replaced by another build while this one ran; run it again")
    # Read first: a damaged line raises here, so no build ever carries past one (or drops it).
    _, end = read_journal(root / live, position.offset)
    if end > position.offset:  # a torn last line is not carried: it was never acknowledged
        with (root / live / _JOURNAL).open("rb") as journal, target.open("wb") as out:
            journal.seek(position.offset)
            out.write(journal.read(end - position.offset))
            out.flush()
            os.fsync(out.fileno())


@contextmanager
def writer_lock(index_dir: Path | str) -> Iterator[None]:
    """Exclusive right to append to the live journal or swap CURRENT: across processes (flock on
    DIR/.writer.lock) and across threads of this one."""
    root = Path(index_dir)
    root.mkdir(parents=True, exist_ok=True)
    key = str(root.resolve())
    with _THREAD_LOCKS_GUARD:
        # Every caller holding the folder's lock (or waiting for it) keeps it alive, and so in the
        # dictionary: they all get the same one. Once none holds it, it goes with its entry.
        thread_lock = _THREAD_LOCKS.get(key)
        if thread_lock is None:
            thread_lock = _THREAD_LOCKS[key] = threading.RLock()
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
    while it was written, so never acknowledged) ends the journal; a damaged complete line raises
    IndexDamaged naming it (the journal is left as it is)."""
    path = generation / _JOURNAL
    if not path.exists():
        return [], start
    batches = []
    offset = start
    for line_offset, line in _journal_lines(path, start):
        batch, problem = _classify_line(line)
        if problem:
            raise _damaged(path, line_offset, problem)
        if batch is None:
            break
        batches.append(batch)
        offset = line_offset + len(line)
    return batches, offset


def append_journal(generation: Path, batch: dict[str, Any], expected_end: int) -> int:
    """Appends one batch as one checksummed line and fsyncs it; returns the new end offset. A torn
    line beyond `expected_end` (a crash while it was written) is cut first; anything else there
    raises IndexDamaged and nothing is cut. Call under `writer_lock`, having read to `expected_end`."""
    path = generation / _JOURNAL
    line = encode_journal_line(batch)
    created = not path.exists()
    with path.open("ab") as journal:
        end = journal.tell()
        if end != expected_end:
            _cut_torn_tail(path, journal, expected_end, end)
        journal.write(line)
        journal.flush()
        os.fsync(journal.fileno())
    if created:
        _fsync_path(generation)
    return expected_end + len(line)


def encode_journal_line(batch: dict[str, Any]) -> bytes:
    """One journal line: the batch's JSON framed with its CRC-32 (see the module docstring)."""
    payload = json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"%s%08x%s%s%s" % (_LINE_HEAD, zlib.crc32(payload), _LINE_MIDDLE, payload, _LINE_END)


def decode_journal_line(line: bytes) -> dict[str, Any]:
    """The batch a complete journal line (newline included) holds; ValueError saying why it is damaged."""
    if not line.startswith(_LINE_HEAD):
        return _unchecked_batch(line)
    checksum = line[len(_LINE_HEAD) : len(_LINE_HEAD) + 8]
    if line[len(_LINE_HEAD) + 8 : _PAYLOAD_START] != _LINE_MIDDLE or not line.endswith(_LINE_END):
        raise ValueError("its framing around the checksum is broken")
    payload = line[_PAYLOAD_START : -len(_LINE_END)]
    actual = b"%08x" % zlib.crc32(payload)
    if actual != checksum:
        raise ValueError(f"checksum mismatch (the line says {checksum.decode('latin-1')!r}, its bytes give "
                         f"{actual.decode('ascii')!r})")
    return _batch_of(_json_line(payload))


def _unchecked_batch(line: bytes) -> dict[str, Any]:
    """A line written before checksums: the bare batch object; only its parsing can tell damage."""
    try:
        record = _json_line(line)
    except ValueError:
        raise ValueError("it is neither a checksummed line nor a batch that parses") from None
    if not isinstance(record, dict) or not set(record) <= {"at", "ops"}:
        raise ValueError("it is neither a checksummed line nor a batch")
    return _batch_of(record)


def _batch_of(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict) or not isinstance(record.get("ops"), list):
        raise ValueError("it holds no list of operations")
    return record


def _classify_line(line: bytes) -> tuple[dict[str, Any] | None, str]:
    """(batch, "") for an intact line, (None, why) for a damaged one, (None, "") for a torn last line."""
    if line.endswith(b"\n"):
        try:
            return decode_journal_line(line), ""
        except ValueError as error:
            return None, str(error)
    if _whole_but_its_newline(line):
        return None, "the line is whole but its newline was overwritten"
    return None, ""


def _whole_but_its_newline(line: bytes) -> bool:
    """A checksummed line whose last byte should be its newline: one damaged byte, not a torn write
    (a torn write is a prefix of a line), so the acknowledged batch must not be cut as torn."""
    if not line.startswith(_LINE_HEAD):
        return False
    try:
        decode_journal_line(line[:-1] + b"\n")
    except ValueError:
        return False
    return True


def _journal_lines(path: Path, start: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line) for each line from byte `start`; the last may lack its newline (torn)."""
    offset = start
    with path.open("rb") as journal:
        journal.seek(start)
        for line in journal:
            yield offset, line
            offset += len(line)


def _cut_torn_tail(path: Path, journal: BinaryIO, expected_end: int, end: int) -> None:
    if end < expected_end:
        raise _damaged(path, end, f"the journal ends before byte {expected_end}, which was already read: "
                                  "something else cut it")
    with path.open("rb") as reader:
        reader.seek(expected_end)
        tail = reader.read(end - expected_end)
    if b"\n" in tail or _classify_line(tail)[1]:
        raise _damaged(path, expected_end, "complete lines follow what was read; refusing to cut them")
    journal.truncate(expected_end)


def _damaged(path: Path, offset: int, reason: str) -> IndexDamaged:
    """The error for the journal line at byte `offset`, numbered from 1."""
    line = 1
    with path.open("rb") as journal:
        remaining = offset
        while remaining > 0:
            chunk = journal.read(min(remaining, 1 << 20))
            if not chunk:
                break
            line += chunk.count(b"\n")
            remaining -= len(chunk)
    return IndexDamaged(str(path), line, offset, reason, str(path.parent.parent))


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
    generations, so that they outlive a failed or killed build (write_generation leaves them alone)."""
    return Path(index_dir) / ".embedding-checkpoints"


def read_manifest(index_dir: Path | str) -> Manifest:
    return Manifest.from_dict(json.loads((live_generation(index_dir) / _MANIFEST).read_text(encoding="utf-8")))


def live_generation(index_dir: Path | str) -> Path:
    root = Path(index_dir)
    try:
        name = (root / _CURRENT).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        raise IndexNotFound(f"no paperlens index at {root} "
                            f"(build one with `paperlens index SOURCE --index {root}`)") from None
    folder = root / name
    if not (folder / _MANIFEST).is_file():
        raise IndexNotFound(f"index at {root} is damaged: generation {name} has no manifest")
    return folder


def load_index(index_dir: Path | str, mmap: bool = True) -> StoredIndex:
    folder = live_generation(index_dir)
    manifest = Manifest.from_dict(json.loads((folder / _MANIFEST).read_text(encoding="utf-8")))
    if manifest.format_version > FORMAT_VERSION:
        raise IndexNotFound(f"index at {index_dir} has format {manifest.format_version}; "
                            f"this paperlens reads up to {FORMAT_VERSION}")
    with _collection_paused():  # every paper record survives: collecting while they are made only rescans them
        papers = list(_read_papers(folder / "papers.jsonl"))
    # Plain arrays over the mapped files: indexing an np.memmap runs Python code on every request.
    vectors = np.asarray(np.load(folder / "vectors.npy", mmap_mode="r" if mmap else None))
    title_vectors = np.asarray(np.load(folder / "title-vectors.npy", mmap_mode="r" if mmap else None))
    dense = load_dense(folder / "dense.faiss", manifest.dense)
    lexical = LexicalIndex.load(folder)
    return StoredIndex(folder, manifest, papers, vectors, title_vectors, dense, lexical)


@dataclass(frozen=True)
class JournalLine:
    """One line of a journal as found on disk, numbered from 1."""

    number: int
    offset: int
    data: bytes
    problem: str = ""  # why it is damaged; "" when intact or torn
    torn: bool = False  # the last line, without its newline: a write a crash cut off, never acknowledged

    @property
    def intact(self) -> bool:
        return not self.problem and not self.torn


def scan_journal(generation: Path) -> list[JournalLine]:
    """Every line of the generation's journal, damaged ones included (what check and repair read)."""
    path = generation / _JOURNAL
    if not path.exists():
        return []
    lines = []
    for number, (offset, data) in enumerate(_journal_lines(path, 0), 1):
        batch, problem = _classify_line(data)
        lines.append(JournalLine(number, offset, data, problem, torn=batch is None and not problem))
    return lines


@dataclass
class IndexCheck:
    """What `check_index` found: one line per problem (none when healthy) and a one-line summary."""

    index_dir: Path
    problems: list[str] = field(default_factory=list)
    damaged_journal_lines: int = 0
    summary: str = ""

    @property
    def healthy(self) -> bool:
        return not self.problems


def check_index(index_dir: Path | str) -> IndexCheck:
    """Verifies the live generation: CURRENT, the manifest, every file it names (that it loads and
    holds `count` rows of `dim`), the lexical files and every journal line's checksum."""
    root = Path(index_dir)
    check = IndexCheck(root)
    name = _live_name(root)
    if name is None or not (root / name).is_dir():
        check.problems.append(f"{root / _CURRENT}: missing, or it names no generation folder: no index here")
        return check
    folder = root / name
    manifest = _checked_manifest(folder, check.problems)
    if manifest is not None:
        _check_shards(folder, manifest, check.problems)
        _check_lexical(folder, manifest.count, check.problems)
    lines = scan_journal(folder)
    damaged = [line for line in lines if line.problem]
    check.problems += [f"{folder / _JOURNAL}: line {line.number} (byte offset {line.offset}): {line.problem}"
                       for line in damaged]
    check.damaged_journal_lines = len(damaged)
    if manifest is not None:
        torn = ", and a torn last line (a write cut off by a crash, never acknowledged: ignored)"
        check.summary = (f"{root}: {name}, {manifest.count} papers ({manifest.model}, {manifest.dim} dimensions, "
                         f"{manifest.dense.type} index), journal: {sum(line.intact for line in lines)} batches"
                         + (torn if lines and lines[-1].torn else ""))
    return check


def _checked_manifest(folder: Path, problems: list[str]) -> Manifest | None:
    path = folder / _MANIFEST
    try:
        manifest = Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        problems.append(f"{path}: cannot be read ({type(error).__name__}: {error})")
        return None
    if manifest.format_version > FORMAT_VERSION:
        problems.append(f"{path}: format {manifest.format_version}; this paperlens reads up to {FORMAT_VERSION}")
        return None
    return manifest


def _check_shards(folder: Path, manifest: Manifest, problems: list[str]) -> None:
    default = {"rows": [0, manifest.count], "papers": "papers.jsonl", "vectors": "vectors.npy",
               "title_vectors": "title-vectors.npy", "dense": "dense.faiss"}
    covered = 0
    for shard in manifest.shards or [default]:
        start, end = shard["rows"]
        if start != covered:
            problems.append(f"{folder / _MANIFEST}: a shard starts at row {start}, after row {covered}")
        covered = end
        rows = end - start
        checks: list[tuple[str, Callable[[Path], str | None]]] = [
            ("papers", lambda path: _papers_problem(path, rows)),
            ("vectors", lambda path: _vectors_problem(path, rows, manifest.dim)),
            ("title_vectors", lambda path: _vectors_problem(path, rows, manifest.dim)),
            ("dense", lambda path: _dense_problem(path, rows, manifest))]
        for key, file_check in checks:
            problems.extend(_file_problems(folder / shard[key], file_check))
    if covered != manifest.count:
        problems.append(f"{folder / _MANIFEST}: the shards hold {covered} rows, the manifest counts {manifest.count}")


def _check_lexical(folder: Path, count: int, problems: list[str]) -> None:
    missing = [name for name in LexicalIndex.FILES if not (folder / name).is_file()]
    if missing:
        problems.extend(f"{folder / name}: missing" for name in missing)
        return

    def lexical_problem(_: Path) -> str | None:
        lexical = LexicalIndex.load(folder)
        rows = (lexical.weights.shape[0], lexical.tfidf.shape[0])
        if rows != (count, count) or lexical.weights.shape[1] != len(lexical.vocabulary):
            return f"weights {lexical.weights.shape} and tf-idf {lexical.tfidf.shape} do not fit {count} papers"
        return None

    problems.extend(_file_problems(folder / LexicalIndex.FILES[0], lexical_problem))


def _file_problems(path: Path, check: Callable[[Path], str | None]) -> list[str]:
    if not path.is_file():
        return [f"{path}: missing"]
    try:
        problem = check(path)
    except Exception as error:  # noqa: BLE001 -- whatever a damaged file makes its reader raise is the finding
        problem = f"cannot be read ({type(error).__name__}: {error})"
    return [f"{path}: {problem}"] if problem else []


def _papers_problem(path: Path, rows: int) -> str | None:
    count = 0
    with path.open("rb") as papers:
        for count, line in enumerate(papers, 1):
            try:
                record = _json_line(line)
            except ValueError:
                return f"line {count} does not parse"
            if not isinstance(record, dict) or "id" not in record:
                return f"line {count} is not a paper record"
    return None if count == rows else f"{count} papers, the manifest counts {rows}"


def _vectors_problem(path: Path, rows: int, dim: int) -> str | None:
    vectors = np.load(path, mmap_mode="r")
    if vectors.shape != (rows, dim) or vectors.dtype != np.float32:
        return f"{vectors.dtype} array of shape {vectors.shape}, expected float32 ({rows}, {dim})"
    return None


def _dense_problem(path: Path, rows: int, manifest: Manifest) -> str | None:
    dense = load_dense(path, manifest.dense)
    if dense.ntotal != rows or dense.d != manifest.dim:
        return f"holds {dense.ntotal} vectors of {dense.d} dimensions, expected {rows} of {manifest.dim}"
    return None


@dataclass(frozen=True)
class JournalRepair:
    """What `repair_journal` did."""

    damaged: str  # the generation whose journal was damaged
    generation: str  # the new live generation, holding every intact batch in order
    kept: int  # intact batches kept
    set_aside: int  # lines moved aside (the damaged ones, and a torn last line)
    aside: Path  # the file holding those lines' bytes, as they were


def repair_journal(index_dir: Path | str) -> JournalRepair | None:
    """Keeps every intact batch of the live journal, in order, in a new generation and moves the
    damaged lines' bytes aside into a file it names; None when no line is damaged. A new generation,
    not an edited journal: a running server holds a byte offset into the old journal, and a new
    generation makes it reload instead of reading from an offset that no longer means the same line."""
    root = Path(index_dir)
    with writer_lock(root):
        source = live_generation(root)
        lines = scan_journal(source)
        if not any(line.problem for line in lines):
            return None
        aside = _write_aside(root, source.name, b"".join(line.data for line in lines if not line.intact))
        generation = _clone_generation(root, source, b"".join(line.data for line in lines if line.intact))
        _replace_text(root / _CURRENT, generation.name)
    _remove_old_generations(root, keep=generation.name)
    kept = sum(line.intact for line in lines)
    return JournalRepair(source.name, generation.name, kept, len(lines) - kept, aside)


def _write_aside(root: Path, generation: str, data: bytes) -> Path:
    """Writes and fsyncs the bytes beside the generations (a rebuild removes old generation folders)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    names = (f"journal.damaged-{generation}-{stamp}" + (f"-{n}" if n else "") for n in itertools.count())
    for name in names:
        try:
            out = (root / name).open("xb")  # never over an earlier repair's file
        except FileExistsError:
            continue
        with out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        _fsync_path(root)
        return root / name
    raise AssertionError("itertools.count never ends")


def _clone_generation(root: Path, source: Path, journal: bytes) -> Path:
    """A new generation folder with `source`'s files (hard-linked where the filesystem can) and
    `journal` as its journal, fsynced and renamed into place; CURRENT is left to the caller."""
    generation = root / _next_generation_name(root)
    staging = root / f".tmp-{generation.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for path in source.iterdir():
            if path.name != _JOURNAL and path.is_file():
                _link_or_copy(path, staging / path.name)
        if journal:
            (staging / _JOURNAL).write_bytes(journal)
        _fsync_folder_files(staging)
        os.rename(staging, generation)
        _fsync_path(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return generation


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # the generation's files never change, so sharing them is safe
    except OSError:
        shutil.copy2(source, target)


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
