"""Source files -> `Paper` records, one streaming reader per format.

Formats: contract JSON Lines (`.jsonl`, `.jsonl.gz`), CSV, Parquet, the Kaggle arXiv metadata
snapshot, BibTeX and the Hugging Face Daily Papers page saved as text. Every reader yields papers
with an id and a title, normalises titles and abstracts with `normalise_text`, and reports a bad
record as `BadRecord(file, line, reason)` with 1-based line numbers (Parquet: row numbers).

This module owns the registry of formats, `FORMATS`, `detect_format` and `read_papers`, and
re-exports the names other modules import from `indexer.readers`. The parts:
- one module per format: `jsonl` (with the arXiv snapshot), `tabular` (CSV, Parquet), `bibtex`, `daily`;
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
from indexer.readers import bibtex, daily, jsonl, tabular
from indexer.readers.bibtex import read_bibtex
from indexer.readers.daily import read_daily
from indexer.readers.files import check_readable, head_text
from indexer.readers.jsonl import read_arxiv, read_jsonl
from indexer.readers.records import paper_from_record, parse_published, web_url
from indexer.readers.tabular import read_csv, read_parquet
from indexer.readers.text import normalise_text

__all__ = ["FORMATS", "detect_format", "normalise_text", "paper_from_record", "parse_published", "read_arxiv",
           "read_bibtex", "read_csv", "read_daily", "read_jsonl", "read_papers", "read_parquet", "web_url"]


class _Format(NamedTuple):
    read: Callable[[str], Iterator[Paper]]
    extensions: tuple[str, ...] = ()  # lower case, after any ".gz"


# The formats, in the order users see them (`--format` choices, error messages).
_REGISTRY: dict[str, _Format] = {
    "jsonl": _Format(read_jsonl, (".jsonl", ".json", ".ndjson")),  # or "arxiv": json_flavour decides
    "csv": _Format(read_csv, (".csv",)),
    "parquet": _Format(read_parquet, (".parquet", ".pq")),
    "arxiv": _Format(read_arxiv),
    "bibtex": _Format(read_bibtex, (".bib", ".bibtex")),
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
    if head.lstrip().startswith("{"):
        return "jsonl"
    if daily.looks_like_daily(head):
        return "daily"
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
        return jsonl.json_flavour(path)
    if kind is None:
        raise UnknownFormat(f"{path}: cannot tell the format of this file; pass --format, one of: "
                            f"{', '.join(FORMATS)}")
    return kind


def read_papers(path: str, format: str | None = None) -> Iterator[Paper]:
    """Streams the papers of one source file. The file and the format are checked at once (so a
    missing file fails before iteration starts); bad records raise BadRecord as they are met."""
    path = os.fspath(path)
    if format is None:
        format = detect_format(path)
    elif format not in _REGISTRY:
        raise UnknownFormat(f"{path}: unknown format {format!r}; accepted formats: {', '.join(FORMATS)}")
    else:
        check_readable(path)
    return _REGISTRY[format].read(path)
