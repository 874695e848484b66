"""sources -> papers -> vectors + lexical index + metadata -> a new index generation."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from indexer.dense import EXACT_LIMIT, DenseParameters, build_dense
from indexer.errors import IndexNotFound
from indexer.lexical import LexicalIndex
from indexer.papers import Paper
from indexer.readers import read_papers
from indexer.live import load_live
from indexer.store import JournalPosition, Manifest, journal_end, write_index
from models import Encoder

# (text vectors, title vectors) of the papers, in their order; called with a progress callback
# (papers done). `embed_papers` on this machine; indexer.distributed on a Ray cluster.
PaperEmbedder = Callable[[list[Paper], Callable[[int], None]], tuple[np.ndarray, np.ndarray]]


@dataclass
class BuildSummary:
    index_dir: str
    read: int = 0  # records read from the sources
    replaced: int = 0  # records whose id repeated an earlier one (the later record wins)
    embedded: int = 0  # papers whose text was embedded in this run
    reused: int = 0  # papers whose vectors came unchanged from the existing index (--update)
    papers: int = 0  # papers in the index now
    seconds: float = 0.0
    embed_seconds: float = 0.0
    dense: dict = field(default_factory=dict)

    def line(self) -> str:
        rate = self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0
        return (
            f"indexed {self.papers} papers into {self.index_dir} in {self.seconds:.1f}s "
            f"({self.read} records read, {self.replaced} repeated ids replaced, {self.embedded} embedded "
            f"at {rate:.0f} papers/s, {self.reused} reused; dense index: {self.dense.get('type')})"
        )


def read_sources(sources: Sequence[str], format: str | None = None) -> tuple[dict[str, Paper], int, int]:
    """All papers of all sources by id (a repeated id replaces the earlier record, keeping its place)."""
    papers: dict[str, Paper] = {}
    read = replaced = 0
    for source in sources:
        for paper in read_papers(str(source), format):
            read += 1
            if paper.id in papers:
                replaced += 1
            papers[paper.id] = paper
    return papers, read, replaced


def build_index(
    sources: Sequence[str],
    index_dir: Path | str,
    encoder: Encoder,
    format: str | None = None,
    update: bool = False,
    progress: bool | None = None,
    exact_limit: int = EXACT_LIMIT,
    embed: PaperEmbedder | None = None,
) -> BuildSummary:
    """Reads every source first (so bad input fails before anything is written), embeds what is
    new, and writes a new generation atomically. With `update`, the given papers are added to or
    replace those of the existing index, whose unchanged vectors are reused. `embed` replaces the
    local encoder's work (a cluster's); `encoder` still names the model and its dimension."""
    started = time.perf_counter()
    summary = BuildSummary(index_dir=str(index_dir))
    incoming, summary.read, summary.replaced = read_sources(sources, format)
    # Changes appended to the live journal after this point are carried into the new generation.
    position = journal_end(index_dir)
    papers, old_vectors = list(incoming.values()), {}
    if update:
        papers, old_vectors, position = _merge_with_existing(index_dir, incoming, encoder, position)
    vectors, title_vectors, summary.embedded, summary.embed_seconds = _embed_missing(papers, old_vectors, encoder, progress, embed)
    summary.reused = len(papers) - summary.embedded
    parameters = DenseParameters.for_size(len(papers), exact_limit)
    lexical = LexicalIndex.build([p.title for p in papers], [p.abstract for p in papers])
    dense = build_dense(vectors, parameters)
    summary.papers, summary.dense = len(papers), parameters.__dict__
    summary.seconds = time.perf_counter() - started
    manifest = Manifest(model=encoder.model_id, dim=encoder.dim, count=len(papers), dense=parameters,
                        build_seconds=round(summary.seconds, 3), sources=[str(s) for s in sources])
    write_index(index_dir, manifest, papers, vectors, title_vectors, dense, lexical, carry_from=position)
    return summary


def _merge_with_existing(index_dir: Path | str, incoming: dict[str, Paper], encoder: Encoder,
                         position: JournalPosition | None) -> tuple[list[Paper], dict[str, tuple[np.ndarray, np.ndarray]], JournalPosition | None]:
    """The live papers (journal applied) with the incoming ones added or replacing them, and the
    vectors that can be reused."""
    try:
        existing, position = load_live(index_dir)
    except IndexNotFound:
        return list(incoming.values()), {}, position
    if existing.manifest.model != encoder.model_id:
        raise IndexNotFound(
            f"index at {index_dir} was built with model {existing.manifest.model!r}, not {encoder.model_id!r}: "
            "rebuild it without --update to change the model"
        )
    live_rows = sorted(existing.live_ids().values())
    merged = {existing.papers[row].id: existing.papers[row] for row in live_rows}
    reusable = {}
    for row in live_rows:
        paper = existing.papers[row]
        new = incoming.get(paper.id)
        if new is None or new.text() == paper.text():
            reusable[paper.id] = (existing.vectors[row], existing.title_vectors[row])
    merged.update(incoming)
    return list(merged.values()), reusable, position


def embed_papers(encoder: Encoder, papers: list[Paper], advance: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(text vectors, title vectors) of the papers, in order, embedded here."""
    return encoder.embed([paper.text() for paper in papers], progress=advance), encoder.embed([paper.title for paper in papers])


def _embed_missing(papers: list[Paper], known: dict[str, tuple[np.ndarray, np.ndarray]], encoder: Encoder,
                   progress: bool | None, embed: PaperEmbedder | None = None) -> tuple[np.ndarray, np.ndarray, int, float]:
    """(text vectors, title vectors, papers embedded, seconds); known papers keep their vectors."""
    vectors = np.empty((len(papers), encoder.dim), dtype=np.float32)
    title_vectors = np.empty((len(papers), encoder.dim), dtype=np.float32)
    missing = []
    for row, paper in enumerate(papers):
        if paper.id in known:
            vectors[row], title_vectors[row] = known[paper.id]
        else:
            missing.append(row)
    started = time.perf_counter()
    if missing:
        embed = embed or partial(embed_papers, encoder)
        with _progress_bar(len(missing), progress) as advance:
            vectors[missing], title_vectors[missing] = embed([papers[row] for row in missing], advance)
    return vectors, title_vectors, len(missing), time.perf_counter() - started


class _progress_bar:
    """A tqdm bar on a terminal (stderr), nothing otherwise."""

    def __init__(self, total: int, enabled: bool | None) -> None:
        from tqdm import tqdm

        show = sys.stderr.isatty() if enabled is None else enabled
        self._bar = tqdm(total=total, unit="paper", desc="embedding", disable=not show, file=sys.stderr)

    def __enter__(self) -> Callable[[int], None]:
        return self._bar.update

    def __exit__(self, *exc: object) -> None:
        self._bar.close()
