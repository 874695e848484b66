"""Vectors that come with the papers, so that the model need not embed them again (vectors made on a
GPU box or a cluster, published with a data set, or written by `paperlens export`).

Owns where given vectors are read from (a column of a JSON Lines or Parquet source: `embedding` and
`title_embedding` by default, found by name, other names with `VectorOptions`; or `.npy` files with
one row per record of the one source), the checks every given vector passes (`as_vector`: a flat list
of numbers, the dimension of the others, finite, not zero; then normalised, as the model's are), and
`GivenVectors.check_model`, which embeds a sample of the papers with the model the index is built
for and refuses vectors that are not that model's (cosine under MIN_MODEL_COSINE). Every problem is
a `BadRecord` naming the file and line (or row) or a `ModelMismatch` naming the paper, raised before
anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import BadRecord, ModelMismatch, PaperlensError, SourceUnreadable
from indexer.papers import Paper, embedding_texts
from indexer.readers import COLUMN_FORMATS, column_names, detect_format, read_columns, read_papers, source_metadata

EMBEDDING_COLUMN = "embedding"
TITLE_EMBEDDING_COLUMN = "title_embedding"
# The key of a Parquet file's metadata where `paperlens export` records the model and dimension.
METADATA_KEY = "paperlens"
# Given vectors must be the model's own: a sample of papers is embedded and compared. Any runtime's
# or numerics' vectors of one model agree above 0.9999 (bf16, float16 storage included); another
# model's, or vectors of another text, fall far below.
MIN_MODEL_COSINE = 0.99
MODEL_SAMPLE = 8


@dataclass(frozen=True)
class VectorOptions:
    """Where the vectors are: a column of the sources (None: `embedding` / `title_embedding` where a
    source has them), or .npy files with one row per record of the (one) source."""

    column: str | None = None
    title_column: str | None = None
    vectors: str | None = None
    title_vectors: str | None = None


@dataclass
class GivenVector:
    vector: np.ndarray | None  # the paper's text (title and abstract) vector, normalised
    title: np.ndarray | None  # its title's vector
    where: str  # the record it came from, for messages


class VectorError(BadRecord):
    """A given vector that cannot be used (not numbers, wrong dimension, NaN, zero, a missing row)."""


def as_vector(value: Any, file: str, line: int | None, name: str, dim: int | None) -> np.ndarray:
    """One given vector, checked and normalised (float32); `dim` is the dimension it must have."""
    if isinstance(value, (str, bytes, Mapping)):
        raise VectorError(file, line, f"'{name}' must be a list of numbers, not {type(value).__name__}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise VectorError(file, line, f"'{name}' must be a list of numbers") from None
    if array.ndim != 1 or array.size == 0:
        raise VectorError(file, line, f"'{name}' must be a flat, non-empty list of numbers (got shape "
                          f"{list(array.shape)})")
    if dim is not None and array.size != dim:
        raise VectorError(file, line, f"'{name}' has {array.size} values; the vectors expected here have {dim}")
    finite = np.isfinite(array)
    if not finite.all():
        position = int(np.argmin(finite))
        raise VectorError(file, line, f"'{name}' holds {array[position]} at position {position + 1}: NaN or an "
                          "infinity is not a vector")
    norm = float(np.linalg.norm(array))
    if not np.isfinite(norm) or norm < 1e-12:
        raise VectorError(file, line, f"'{name}' is a zero vector: it points nowhere")
    return (array / norm).astype(np.float32)


class GivenVectors:
    """The vectors given for the papers, by paper id (a repeated id: the later record's, or none)."""

    def __init__(self) -> None:
        self.by_id: dict[str, GivenVector] = {}
        self.dim: int | None = None
        self.models: dict[str, str] = {}  # source -> the model its metadata names

    def __len__(self) -> int:
        return len(self.by_id)

    def __contains__(self, paper_id: str) -> bool:
        return paper_id in self.by_id

    def get(self, paper_id: str) -> GivenVector | None:
        return self.by_id.get(paper_id)

    def add(self, paper_id: str, values: Sequence[Any], names: Sequence[str], file: str, line: int | None) -> None:
        """The (text, title) values of one record (None where it has none), checked."""
        text, title = (None if value is None else self.checked(value, file, line, name)
                       for value, name in zip(values, names))
        self.put(paper_id, text, title, f"{file}:{line}" if line is not None else file)

    def put(self, paper_id: str, text: np.ndarray | None, title: np.ndarray | None, where: str) -> None:
        if text is None and title is None:
            self.by_id.pop(paper_id, None)  # a later record without vectors replaces an earlier one with them
            return
        self.by_id[paper_id] = GivenVector(text, title, where)

    def checked(self, value: Any, file: str, line: int | None, name: str) -> np.ndarray:
        """`as_vector`, holding every vector to the dimension of the first."""
        vector = as_vector(value, file, line, name, self.dim)
        self.dim = len(vector)
        return vector

    def with_titles(self, papers: Mapping[str, Paper], encoder) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(text, title) vectors of the papers whose text vector was given; the titles of those given
        without a title vector are embedded (a title is a few tokens: a second or two a thousand)."""
        complete = {paper_id: (item.vector, item.title) for paper_id, item in self.by_id.items()
                    if item.vector is not None and paper_id in papers}
        untitled = [paper_id for paper_id, (_, title) in complete.items() if title is None]
        if untitled:
            for paper_id, title in zip(untitled, encoder.embed([papers[paper_id].title for paper_id in untitled])):
                complete[paper_id] = (complete[paper_id][0], title)
        return complete

    def title_of(self, paper_id: str) -> np.ndarray | None:
        """The title vector given for a paper, if any."""
        item = self.by_id.get(paper_id)
        return None if item is None else item.title

    def text_count(self) -> int:
        return sum(1 for given in self.by_id.values() if given.vector is not None)

    def check_model(self, encoder, papers: Mapping[str, Paper]) -> None:
        """Refuses vectors of another dimension, or that the model does not reproduce on a sample."""
        if not self.by_id:
            return
        if self.dim != encoder.dim:
            first = next(iter(self.by_id.values()))
            raise ModelMismatch(f"{first.where}: the given vectors have {self.dim} dimensions, model "
                                f"{encoder.model_id!r} embeds in {encoder.dim}{self._named_models()}")
        for kind in ("vector", "title"):
            ids = [paper_id for paper_id, given in self.by_id.items() if getattr(given, kind) is not None]
            sample = ids[::max(1, len(ids) // MODEL_SAMPLE)][:MODEL_SAMPLE]
            if not sample:
                continue
            texts, titles = embedding_texts(papers[paper_id] for paper_id in sample)
            embedded = encoder.embed(texts if kind == "vector" else titles)
            for paper_id, vector in zip(sample, embedded):
                given = self.by_id[paper_id]
                cosine = float(np.dot(vector, getattr(given, kind)))
                if cosine < MIN_MODEL_COSINE:
                    what = "title and abstract" if kind == "vector" else "title"
                    raise ModelMismatch(
                        f"{given.where}: the vector given for paper {paper_id!r} has cosine {cosine:.3f} to model "
                        f"{encoder.model_id!r}'s embedding of its {what} (at least {MIN_MODEL_COSINE} expected): "
                        f"the vectors come from another model or another text{self._named_models()}; nothing "
                        "was written")

    def _named_models(self) -> str:
        named = sorted(set(self.models.values()))
        return f" (the sources' metadata names {', '.join(map(repr, named))}; pass it as --model)" if named else ""


def read_given(sources: Sequence[str], format: str | None = None,
               options: VectorOptions | None = None) -> GivenVectors:
    """The vectors the sources give (columns first, then .npy files), checked one by one; the check
    against the model is `GivenVectors.check_model`, once the model is loaded."""
    options = options or VectorOptions()
    given = GivenVectors()
    for source in sources:
        _read_columns(str(source), format, options, given)
    if options.vectors or options.title_vectors:
        _read_npy(sources, format, options, given)
    return given


def _read_columns(source: str, format: str | None, options: VectorOptions, given: GivenVectors) -> None:
    kind = format or detect_format(source)
    names = column_names(source, kind)
    explicit = [name for name in (options.column, options.title_column) if name]
    columns = (options.column or EMBEDDING_COLUMN, options.title_column or TITLE_EMBEDDING_COLUMN)
    if explicit:
        if kind not in COLUMN_FORMATS:
            read_columns(source, columns, kind)  # raises: this format holds no columns
        missing = [name for name in explicit if name not in names]
        if kind == "parquet" and missing:
            raise BadRecord(source, None, f"has no column {missing[0]!r} (columns: {', '.join(sorted(names))})")
    elif not any(name in names for name in columns):
        if given.by_id:  # this source's records replace earlier ones, vectors and all
            for paper in read_papers(source, kind, skipped=[]):  # the ids only: the build reports skips
                given.by_id.pop(paper.id, None)
        return
    metadata = _export_metadata(source, kind)
    if metadata.get("model"):
        given.models[source] = str(metadata["model"])
    for line, paper_id, record in read_columns(source, columns, kind):
        given.add(paper_id, [record[name] for name in columns], columns, source, line)


def _export_metadata(source: str, format: str | None) -> dict[str, Any]:
    raw = source_metadata(source, format).get(METADATA_KEY)
    try:
        metadata = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {}
    return metadata if isinstance(metadata, dict) else {}


def _read_npy(sources: Sequence[str], format: str | None, options: VectorOptions, given: GivenVectors) -> None:
    if len(sources) != 1:
        raise PaperlensError(f"--vectors gives one row per record of one source, but {len(sources)} sources were "
                             "given: index them one at a time (--update), or put each paper's vector in an "
                             f"'{EMBEDDING_COLUMN}' column")
    source = str(sources[0])
    ids = [paper.id for paper in read_papers(source, format)]
    files = (options.vectors, options.title_vectors)
    arrays = [(_npy_rows(path, len(ids), source) if path else None) for path in files]
    for row, paper_id in enumerate(ids):
        text, title = (None if array is None else given.checked(array[row], f"{path} row {row + 1}", None, "vector")
                       for array, path in zip(arrays, files))
        given.put(paper_id, text, title, " and ".join(f"{path} row {row + 1}" for path in files if path))


def _npy_rows(path: str, records: int, source: str) -> np.ndarray:
    """A .npy file's rows, one per record of the source (memory-mapped, read as needed)."""
    if not Path(path).is_file():
        raise SourceUnreadable(f"{path}: no such file")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as error:
        raise VectorError(path, None, f"not a NumPy .npy file ({error})") from None
    if array.ndim != 2 or array.dtype.kind not in "fiu":
        raise VectorError(path, None, f"holds a {array.dtype} array of shape {list(array.shape)}; expected numbers, "
                          "one row (a vector) per record")
    if array.shape[0] != records:
        problem = (f"row {array.shape[0] + 1} is missing" if array.shape[0] < records
                   else f"rows {records + 1}-{array.shape[0]} have no record")
        raise VectorError(path, None, f"has {array.shape[0]} rows but {source} has {records} records: {problem}")
    return array
