"""Source files -> `Paper` records, one streaming reader per format.

Formats: contract JSON Lines (`.jsonl`, `.jsonl.gz`), CSV, Parquet, the Kaggle arXiv metadata
snapshot, the Hugging Face Daily Papers page saved as text, and reference managers' libraries:
BibTeX, RIS and CSL-JSON. Every reader yields papers
with an id and a title, normalises titles and abstracts with `normalise_text`, and reports a bad
record as `BadRecord(file, line, reason)` with 1-based line numbers (Parquet: row numbers).

This module owns the registry of formats, `FORMATS`, `detect_format` and `read_papers`, and
re-exports the names other modules import from `indexer.readers`. The parts:
- one module per format: `jsonl` (with the arXiv snapshot), `tabular` (CSV, Parquet), `bibtex`, `ris`,
  `csl`, `daily`; `entries` holds what the three library formats share (`Skipped`, the id rule);
- shared by them: `text` (normalising text), `files` (opening files, numbered lines) and
  `records` (a mapping -> `Paper`, field checks, dates, urls, limits).
A new format is a module with its reader and one line in `_REGISTRY` (its name, reader and file
extensions); a format that should also be recognised by content adds its test to `_sniff`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import NamedTuple

from indexer.errors import UnknownFormat
from indexer.papers import Paper
from indexer.readers import bibtex, csl, daily, jsonl, ris, tabular
from indexer.readers.bibtex import read_bibtex
from indexer.readers.csl import read_csl
from indexer.readers.daily import read_daily
from indexer.readers.files import check_readable, head_text
from indexer.readers.entries import Skipped
from indexer.readers.jsonl import first_record_fields, json_columns, read_arxiv, read_jsonl
from indexer.readers.records import paper_from_record, parse_published, web_url
from indexer.readers.ris import read_ris
from indexer.readers.tabular import parquet_columns, parquet_schema, read_csv, read_parquet
from indexer.readers.text import normalise_text

__all__ = ["FORMATS", "COLUMN_FORMATS", "column_names", "detect_format", "normalise_text", "paper_from_record",
           "parse_published", "read_arxiv", "read_bibtex", "read_columns", "read_csl", "read_csv", "read_daily",
           "read_jsonl", "read_papers", "read_parquet", "read_ris", "Skipped", "source_metadata", "web_url"]


class _Format(NamedTuple):
    read: Callable[..., Iterator[Paper]]
    extensions: tuple[str, ...] = ()  # lower case, after any ".gz"
    # A reference manager's library (not a corpus): entries that are not papers are skipped and
    # listed (its reader takes `skipped`, a list) unless the reading is strict.
    library: bool = False


# The formats, in the order users see them (`--format` choices, error messages).
_REGISTRY: dict[str, _Format] = {
    "jsonl": _Format(read_jsonl, (".jsonl", ".json", ".ndjson")),  # or "arxiv": json_flavour decides
    "csv": _Format(read_csv, (".csv",)),
    "parquet": _Format(read_parquet, (".parquet", ".pq")),
    "arxiv": _Format(read_arxiv),
    "bibtex": _Format(read_bibtex, (".bib", ".bibtex"), library=True),
    "ris": _Format(read_ris, (".ris",), library=True),
    "csl": _Format(read_csl, library=True),  # CSL-JSON is saved as .json: told from JSON Lines by content
    "daily": _Format(read_daily),
}

FORMATS = tuple(_REGISTRY)

_EXTENSIONS = {extension: name for name, entry in _REGISTRY.items() for extension in entry.extensions}


def _sniff(path: str) -> str | None:
    """The format by content, for files whose extension says nothing. The order matters where two
    tests could pass: a Daily Papers page with a line such as "@name (" would pass for BibTeX."""
    if tabular.is_parquet(path):
        return "parquet"
    head = head_text(path)
    if csl.looks_like_csl(head):
        return "csl"
    if head.lstrip().startswith("{"):
        return "jsonl"
    if daily.looks_like_daily(head):
        return "daily"
    if ris.looks_like_ris(head):
        return "ris"
    if bibtex.looks_like_bibtex(head):
        return "bibtex"
    if tabular.looks_like_csv(head):
        return "csv"
    return None


def _extension(path: str) -> str:
    name = os.path.basename(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return os.path.splitext(name)[1]


def detect_format(path: str) -> str:
    """The format of a source file (one of FORMATS), from its extension and, where that is not
    enough (.json, .txt, no extension), its first bytes."""
    path = os.fspath(path)
    check_readable(path)
    kind = _EXTENSIONS.get(_extension(path)) or _sniff(path)
    if kind == "jsonl":
        return "csl" if csl.looks_like_csl(head_text(path)) else jsonl.json_flavour(path)
    if kind is None:
        raise UnknownFormat(f"{path}: cannot tell the format of this file; pass --format, one of: "
                            f"{', '.join(FORMATS)}")
    return kind


def read_papers(path: str, format: str | None = None, skipped: list[Skipped] | None = None) -> Iterator[Paper]:
    """Streams the papers of one source file. The file and the format are checked at once (so a
    missing file fails before iteration starts); bad records raise BadRecord as they are met.
    With `skipped` (a list), a library's entries that are not papers (BibTeX, RIS, CSL-JSON) are
    appended there instead, and so are the entries kept under their key because another entry
    holds their id with another title."""
    path = os.fspath(path)
    if format is None:
        format = detect_format(path)
    elif format not in _REGISTRY:
        raise UnknownFormat(f"{path}: unknown format {format!r}; accepted formats: {', '.join(FORMATS)}")
    else:
        check_readable(path)
    entry = _REGISTRY[format]
    return entry.read(path, skipped) if entry.library else entry.read(path)


# The formats whose records may carry more than the contract's fields (vectors, above all), read
# again by `read_columns`: (line or row, id, {column: value}) in the order the papers come.
_COLUMN_READERS: dict[str, Callable[[str, tuple[str, ...]], Iterator[tuple[int, str, dict]]]] = {
    "jsonl": json_columns, "arxiv": json_columns, "parquet": parquet_columns}
COLUMN_FORMATS = tuple(_COLUMN_READERS)


def _format_of(path: str, format: str | None) -> str:
    if format is None:
        return detect_format(path)
    if format not in _REGISTRY:
        raise UnknownFormat(f"{path}: unknown format {format!r}; accepted formats: {', '.join(FORMATS)}")
    return format


def read_columns(path: str, columns: tuple[str, ...], format: str | None = None
                 ) -> Iterator[tuple[int, str, dict]]:
    """(line or row, paper id, {column: value or None}) of every record of a JSON Lines or Parquet
    source, in the order `read_papers` yields its papers; UnknownFormat for the other formats."""
    path = os.fspath(path)
    format = _format_of(path, format)
    if format not in _COLUMN_READERS:
        raise UnknownFormat(f"{path}: a {format} source holds no columns beside the paper's fields; give vectors "
                            f"in a {' or '.join(COLUMN_FORMATS)} source, or as a .npy file")
    return _COLUMN_READERS[format](path, columns)


def column_names(path: str, format: str | None = None) -> set[str]:
    """The columns a source holds: a Parquet file's schema, the fields of a JSON Lines source's
    first record; empty for the formats `read_columns` does not read."""
    path = os.fspath(path)
    format = _format_of(path, format)
    if format == "parquet":
        return parquet_schema(path)[0]
    if format in _COLUMN_READERS:
        return first_record_fields(path)
    return set()


def source_metadata(path: str, format: str | None = None) -> dict[str, str]:
    """A Parquet source's key-value metadata (what `paperlens export` writes there); empty otherwise."""
    path = os.fspath(path)
    return parquet_schema(path)[1] if _format_of(path, format) == "parquet" else {}
