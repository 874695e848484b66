"""Building an index: sources -> papers -> vectors (embedded here, resumed from checkpoints, reused
from the index being updated, or from a cluster's `PaperEmbedder`) -> a new generation, which
store.write_generation assembles and writes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from indexer.checkpoints import EmbeddingCheckpoints
from indexer.dense import EXACT_LIMIT
from indexer.errors import IndexNotFound, ModelMismatch
from indexer.papers import Paper, embedding_texts, embeds_alike
from indexer.readers import Skipped, read_papers
from indexer.live import load_live
from indexer.store import JournalPosition, embedding_checkpoints, journal_end, write_generation
from indexer.vectors import GivenVectors, VectorOptions, read_given
from models import Encoder

# (text vectors, title vectors) of the papers, in their order; called with a progress callback
# (papers done). `embed_papers` on this machine; indexer.distributed on a Ray cluster.
PaperEmbedder = Callable[[list[Paper], Callable[[int], None]], tuple[np.ndarray, np.ndarray]]

# Papers embedded between two checkpoints on this machine: an interruption loses at most this much
# work (under two minutes on two cores), and memory for texts and activations is bounded by it.
CHUNK_PAPERS = 1024
# Without a terminal (a log, a pipe, a scheduler), a progress line is written at most this often.
PROGRESS_LINE_SECONDS = 30.0


@dataclass
class BuildSummary:
    index_dir: str
    read: int = 0  # records read from the sources
    replaced: int = 0  # records whose id repeated an earlier one (the later record wins)
    embedded: int = 0  # papers whose text was embedded in this run
    reused: int = 0  # papers whose vectors came unchanged from the existing index (--update)
    resumed: int = 0  # papers whose vectors came from the checkpoints of an interrupted build
    given: int = 0  # papers whose vectors came with the sources (a column or a .npy file)
    papers: int = 0  # papers in the index now
    seconds: float = 0.0
    embed_seconds: float = 0.0
    dense: dict = field(default_factory=dict)
    # library entries left out (not papers) or kept under their key (an id another entry held)
    skipped: list[Skipped] = field(default_factory=list)

    def line(self) -> str:
        rate = f" at {self.embedded / self.embed_seconds:.0f} papers/s" if self.embedded and self.embed_seconds else ""
        return (
            f"indexed {self.papers} papers into {self.index_dir} in {self.seconds:.1f}s "
            f"({self.read} records read, {self.replaced} repeated ids replaced, {self.embedded} embedded{rate}, "
            f"{self.given} with vectors given, {self.reused} reused{self._resumed_part()}; "
            f"dense index: {self.dense.get('type')}){self._skipped_part()}"
        )

    def _skipped_part(self) -> str:
        left_out = sum(1 for entry in self.skipped if entry.kept_as is None)
        kept = len(self.skipped) - left_out
        if not self.skipped:
            return ""
        return f"; library entries: {left_out} skipped (not papers), {kept} kept under their own key, listed below"

    def skipped_lines(self) -> list[str]:
        """One line per skipped entry: where it is, its key, and why."""
        return [f"  {entry.path}:{entry.line}: {entry.key or '(no key)'}: {entry.reason}" for entry in self.skipped]

    def _resumed_part(self) -> str:
        return f", {self.resumed} resumed from an interrupted build" if self.resumed else ""


def read_sources(sources: Sequence[str], format: str | None = None,
                 skipped: list[Skipped] | None = None) -> tuple[dict[str, Paper], int, int]:
    """All papers of all sources by id (a repeated id replaces the earlier record, keeping its place).
    With `skipped`, a library's entries that are not papers are listed there, not raised."""
    papers: dict[str, Paper] = {}
    read = replaced = 0
    for source in sources:
        for paper in read_papers(str(source), format, skipped):
            read += 1
            if paper.id in papers:
                replaced += 1
            papers[paper.id] = paper
    return papers, read, replaced


def build_index(
    sources: Sequence[str],
    index_dir: Path | str,
    encoder: Encoder | Callable[[], Encoder],
    format: str | None = None,
    update: bool = False,
    progress: bool | None = None,
    exact_limit: int = EXACT_LIMIT,
    embed: PaperEmbedder | None = None,
    chunk_papers: int | None = None,
    vectors: VectorOptions | None = None,
    strict: bool = True,
) -> BuildSummary:
    """Reads every source first (so bad input fails before anything is written), embeds what is
    new, and writes a new generation atomically. With `update`, the given papers are added to or
    replace those of the existing index, whose unchanged vectors are reused. `embed` replaces the
    local encoder's work (a cluster's); `encoder` still names the model and its dimension. `encoder`
    may be a function that loads it, called once the sources are read (bad input fails at once).

    Embedding goes chunk by chunk (`chunk_papers`; CHUNK_PAPERS here, one chunk for an `embed`
    unless given), each checkpointed in the index folder: a build that is interrupted and run
    again embeds only the chunks it had not finished. The checkpoints go once the index is written.

    Vectors the sources give (`vectors`; by default an `embedding` column where a source has one)
    are checked, and a sample compared with the model's own, before anything else happens. Not
    `strict`, a library's entries that are not papers are skipped and listed in the summary."""
    started = time.perf_counter()
    summary = BuildSummary(index_dir=str(index_dir))
    lenient = {} if strict else {"skipped": summary.skipped}
    incoming, summary.read, summary.replaced = read_sources(sources, format, **lenient)
    given = read_given(sources, format, vectors)
    if not hasattr(encoder, "model_id"):  # a loader: the model loads once the input is known to be good
        encoder = encoder()
    given.check_model(encoder, incoming)
    # Changes appended to the live journal after this point are carried into the new generation.
    position = journal_end(index_dir)
    papers, old_vectors = list(incoming.values()), {}
    if update:
        papers, old_vectors, position = _merge_with_existing(index_dir, incoming, encoder, position)
    checkpoints = EmbeddingCheckpoints(embedding_checkpoints(index_dir), encoder.model_id, encoder.dim)
    chunk = chunk_papers or (CHUNK_PAPERS if embed is None else None)
    known = {**old_vectors, **given.with_titles(incoming, encoder)}
    embedding = _embed_missing(papers, known, encoder, progress, embed, checkpoints, chunk)
    _apply_given_titles(papers, given, embedding)
    vectors, title_vectors = embedding.vectors, embedding.title_vectors
    summary.embedded, summary.resumed, summary.embed_seconds = embedding.embedded, embedding.resumed, embedding.seconds
    summary.given = given.text_count()
    summary.reused = len(papers) - summary.embedded - summary.resumed - summary.given
    manifest = write_generation(index_dir, papers, vectors, title_vectors, model=encoder.model_id, dim=encoder.dim,
                                sources=[str(s) for s in sources], started=started, exact_limit=exact_limit,
                                carry_from=position,
                                encoder={"runtime": encoder.runtime, "numerics": encoder.numerics})
    summary.papers, summary.dense, summary.seconds = len(papers), manifest.dense.__dict__, manifest.build_seconds
    checkpoints.clear()
    return summary


def _merge_with_existing(index_dir: Path | str, incoming: dict[str, Paper], encoder: Encoder,
                         position: JournalPosition | None
                         ) -> tuple[list[Paper], dict[str, tuple[np.ndarray, np.ndarray]], JournalPosition | None]:
    """The live papers (journal applied) with the incoming ones added or replacing them, and the
    vectors that can be reused."""
    try:
        existing, position = load_live(index_dir)
    except IndexNotFound:
        return list(incoming.values()), {}, position
    if existing.manifest.model != encoder.model_id:
        raise ModelMismatch(
            f"index at {index_dir} was built with model {existing.manifest.model!r}, not {encoder.model_id!r}: "
            "rebuild it without --update to change the model"
        )
    live_rows = sorted(existing.live_ids().values())
    merged = {existing.papers[row].id: existing.papers[row] for row in live_rows}
    reusable = {}
    for row in live_rows:
        paper = existing.papers[row]
        new = incoming.get(paper.id)
        if new is None or embeds_alike(new, paper):
            reusable[paper.id] = (existing.vectors[row], existing.title_vectors[row])
    merged.update(incoming)
    return list(merged.values()), reusable, position


def _apply_given_titles(papers: list[Paper], given: GivenVectors, embedding: "_Embedding") -> None:
    """Title vectors given for papers whose text was embedded."""
    for row, paper in enumerate(papers):
        item = given.get(paper.id)
        if item is not None and item.vector is None:
            embedding.title_vectors[row] = item.title


def embed_papers(encoder: Encoder, papers: list[Paper],
                 advance: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(text vectors, title vectors) of the papers, in order, embedded here."""
    texts, titles = embedding_texts(papers)
    return encoder.embed(texts, progress=advance), encoder.embed(titles)


@dataclass
class _Embedding:
    vectors: np.ndarray
    title_vectors: np.ndarray
    embedded: int = 0  # papers embedded in this run
    resumed: int = 0  # papers taken from checkpoints
    seconds: float = 0.0


def _embed_missing(papers: list[Paper], known: dict[str, tuple[np.ndarray, np.ndarray]], encoder: Encoder,
                   progress: bool | None, embed: PaperEmbedder | None, checkpoints: EmbeddingCheckpoints,
                   chunk: int | None) -> _Embedding:
    """Vectors for every paper: known papers keep theirs, checkpointed chunks are loaded, the rest
    is embedded chunk by chunk and checkpointed."""
    result = _Embedding(np.empty((len(papers), encoder.dim), dtype=np.float32),
                        np.empty((len(papers), encoder.dim), dtype=np.float32))
    missing = []
    for row, paper in enumerate(papers):
        if paper.id in known:
            result.vectors[row], result.title_vectors[row] = known[paper.id]
        else:
            missing.append(row)
    started = time.perf_counter()
    todo = _take_checkpointed(papers, missing, chunk or len(missing), checkpoints, result)
    embed = embed or partial(embed_papers, encoder)
    if missing:
        with _Progress(len(missing), result.resumed, progress) as report:
            for rows, key in todo:
                stored = embed([papers[row] for row in rows], report.advance)
                checkpoints.save(key, *stored)
                result.vectors[rows], result.title_vectors[rows] = stored
                result.embedded += len(rows)
    result.seconds = time.perf_counter() - started
    return result


def _take_checkpointed(papers: list[Paper], missing: list[int], chunk: int, checkpoints: EmbeddingCheckpoints,
                       result: _Embedding) -> list[tuple[list[int], str]]:
    """Fills in the chunks an earlier, interrupted build finished; returns (rows, key) of the others."""
    todo = []
    for rows in _chunks(missing, chunk):
        key = checkpoints.key([papers[row] for row in rows])
        stored = checkpoints.load(key, len(rows))
        if stored is None:
            todo.append((rows, key))
        else:
            result.vectors[rows], result.title_vectors[rows] = stored
            result.resumed += len(rows)
    return todo


def _chunks(rows: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(rows), max(1, size)):
        yield rows[start:start + size]


class _Progress:
    """Embedding progress on stderr, with the rate and the time left: a tqdm bar on a terminal (or
    when asked for), else one line every PROGRESS_LINE_SECONDS and at the end, which a log keeps
    readable; nothing when `enabled` is False. Papers resumed from checkpoints count as done, not
    towards the rate."""

    def __init__(self, total: int, resumed: int, enabled: bool | None) -> None:
        from tqdm import tqdm

        bar = enabled is True or (enabled is None and sys.stderr.isatty())
        self._lines = enabled is None and not bar
        self._bar = tqdm(total=total, initial=resumed, unit="paper", desc="embedding", disable=not bar,
                         file=sys.stderr)
        self._total, self._done, self._embedded = total, resumed, 0
        self._started = self._last_line = time.perf_counter()
        if self._lines and resumed:
            print(f"embedding: {resumed} of {total} papers taken from the checkpoints of an interrupted build",
                  file=sys.stderr, flush=True)
        if self._lines and total > resumed:
            self._line()

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.close()
        if self._lines and exc[0] is None and self._embedded:
            self._line()

    def advance(self, count: int) -> None:
        self._done += count
        self._embedded += count
        self._bar.update(count)
        if self._lines and time.perf_counter() - self._last_line >= PROGRESS_LINE_SECONDS:
            self._line()

    def _line(self) -> None:
        self._last_line = now = time.perf_counter()
        line = f"embedding: {self._done}/{self._total} papers ({100 * self._done / self._total:.0f}%)"
        if self._embedded:
            rate = self._embedded / (now - self._started)
            line += f", {rate:.1f} papers/s, {_duration((self._total - self._done) / rate)} left"
        print(line, file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
