"""Matching a reader's existing library to indexed papers: a reference manager's export (BibTeX, RIS or
CSL-JSON, told apart by content) or a list of arXiv ids or DOIs.

Owns `match_library`, `match_identifiers`, `ImportResult` (what matched, what did not with its key,
line and title, and the entries the file's reader skipped) and the per-snapshot lookup behind them.
"""

from __future__ import annotations

import re
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from indexer.errors import BadRecord
from indexer.paper_index import PaperIndex
from indexer.papers import Paper
from indexer.readers.bibtex import bibtex_entries
from indexer.readers.csl import csl_entries, looks_like_csl
from indexer.readers.entries import PaperEntry, Skipped
from indexer.readers.ris import looks_like_ris, ris_entries

_ARXIV_ID = re.compile(r"(?:arxiv[:/ ]|abs/|pdf/)?\s*(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})"
                       r"(?:v\d+)?(?:\.pdf)?$", re.I)
_DOI = re.compile(r"(10\.\d{4,9}/\S+)$", re.I)


_LOOKUPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # index snapshot -> its _Lookup
_LOOKUPS_LOCK = threading.Lock()


# The library formats by the name an upload is given in messages, and how each is read.
_LIBRARY_READERS: dict[str, Callable[[str, list[Skipped]], Iterator[PaperEntry]]] = {
    "library.json": csl_entries, "library.ris": ris_entries, "library.bib": bibtex_entries}


@dataclass
class LibraryEntry:
    """A library entry that is a paper but not in the index: enough for a user to find it in their file."""

    key: str
    line: int
    title: str


@dataclass
class ImportResult:
    matched: list[str] = field(default_factory=list)  # indexed paper ids, in library order
    unmatched: list[str] = field(default_factory=list)  # the library entries not found (title or id)
    not_in_index: list[LibraryEntry] = field(default_factory=list)  # the file's entries among `unmatched`
    skipped: list[Skipped] = field(default_factory=list)  # entries left out, and id conflicts (kept_as)


def match_identifiers(index: PaperIndex, identifiers: list[str]) -> ImportResult:
    """Each identifier is a paper id, an arXiv id (with or without version, prefix or URL) or a DOI."""
    lookup = _Lookup.of(index)
    result = ImportResult()
    for identifier in identifiers:
        row = lookup.by_identifier(str(identifier).strip())
        _record(result, index, row, str(identifier))
    return result


def library_name(content: bytes) -> str:
    """The name an uploaded library goes by in messages, from its content: `library.json` (CSL-JSON),
    `library.ris` or `library.bib` (anything else is read as BibTeX)."""
    head = content[:65536].decode("utf-8", errors="replace").lstrip("\ufeff")
    if looks_like_csl(head):
        return "library.json"
    return "library.ris" if looks_like_ris(head) else "library.bib"


def is_csl_json(content: bytes) -> bool:
    """Whether an upload that starts with `[` is a CSL-JSON library rather than a list of ids."""
    return library_name(content) == "library.json"


def match_library(index: PaperIndex, content: bytes) -> ImportResult:
    """A BibTeX, RIS or CSL-JSON export's entries matched by DOI, then arXiv id, then normalised
    title. Entries that are not papers are skipped and listed, not refused; raises BadRecord (naming
    `library_name`'s name and the line) for a file that cannot be read on, or holds no entries."""
    name = library_name(content)
    skipped: list[Skipped] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        try:
            entries = list(_LIBRARY_READERS[name](str(path), skipped))
        except BadRecord as error:
            raise BadRecord(name, error.line, error.reason) from None
    if not entries and not skipped and content.strip():
        raise BadRecord(name, None, "no BibTeX, RIS or CSL-JSON entries found")
    lookup = _Lookup.of(index)
    result = ImportResult(skipped=[replace(entry, path=name) for entry in skipped])
    for entry in entries:
        row = lookup.by_entry(entry.paper)
        _record(result, index, row, entry.paper.title)
        if row is None:
            result.not_in_index.append(LibraryEntry(entry.key, entry.line, entry.paper.title))
    return result



def _record(result: ImportResult, index: PaperIndex, row: int | None, label: str) -> None:
    if row is None:
        result.unmatched.append(label)
    elif index.papers[row].id not in result.matched:
        result.matched.append(index.papers[row].id)


def normalise_title(title: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", title.lower()))


class _Lookup:
    def __init__(self, index: PaperIndex) -> None:
        self.rows_by_key: dict[str, int] = {}
        self.rows_by_title: dict[str, int] = {}
        for row, paper in enumerate(index.papers):
            if not index.is_alive(row):
                continue
            for key in self._keys(paper):
                self.rows_by_key.setdefault(key, row)
            self.rows_by_title.setdefault(normalise_title(paper.title), row)

    @staticmethod
    def of(index: PaperIndex) -> "_Lookup":
        """Built once per index snapshot, and dropped with it (a weak reference: the lookup never
        keeps an old snapshot alive)."""
        with _LOOKUPS_LOCK:
            lookup = _LOOKUPS.get(index)
            if lookup is None:
                lookup = _LOOKUPS[index] = _Lookup(index)
            return lookup

    @staticmethod
    def _keys(paper: Paper) -> list[str]:
        keys = [paper.id.lower()]
        for value in (paper.extra.get("doi"), paper.extra.get("arxiv_id")):
            if value:
                keys.append(str(value).lower())
        arxiv = _ARXIV_ID.search(paper.id)
        if arxiv:
            keys.append(arxiv.group(1).lower())
        return keys

    def by_identifier(self, identifier: str) -> int | None:
        candidates = [identifier.lower()]
        for pattern in (_DOI, _ARXIV_ID):
            found = pattern.search(identifier)
            if found:
                candidates.append(found.group(1).lower())
        return next((self.rows_by_key[c] for c in candidates if c in self.rows_by_key), None)

    def by_entry(self, entry: Paper) -> int | None:
        for key in (entry.extra.get("doi"), entry.extra.get("arxiv_id")):
            if key:
                row = self.by_identifier(str(key))
                if row is not None:
                    return row
        return self.rows_by_title.get(normalise_title(entry.title))
