"""Matching a reader's existing library (BibTeX export, list of arXiv ids or DOIs) to indexed papers."""

from __future__ import annotations

import re
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from indexer.errors import BadRecord
from indexer.paper_index import PaperIndex
from indexer.papers import Paper
from indexer.readers import read_papers

_ARXIV_ID = re.compile(r"(?:arxiv[:/ ]|abs/|pdf/)?\s*(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})"
                       r"(?:v\d+)?(?:\.pdf)?$", re.I)
_DOI = re.compile(r"(10\.\d{4,9}/\S+)$", re.I)


_LOOKUPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # index snapshot -> its _Lookup
_LOOKUPS_LOCK = threading.Lock()


@dataclass
class ImportResult:
    matched: list[str] = field(default_factory=list)  # indexed paper ids, in library order
    unmatched: list[str] = field(default_factory=list)  # the library entries not found (title or id)


def match_identifiers(index: PaperIndex, identifiers: list[str]) -> ImportResult:
    """Each identifier is a paper id, an arXiv id (with or without version, prefix or URL) or a DOI."""
    lookup = _Lookup.of(index)
    result = ImportResult()
    for identifier in identifiers:
        row = lookup.by_identifier(str(identifier).strip())
        _record(result, index, row, str(identifier))
    return result


def match_bibtex(index: PaperIndex, content: bytes) -> ImportResult:
    """Entries matched by DOI, then arXiv id, then normalised title. Raises BadRecord for a file
    that is not BibTeX."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "library.bib"
        path.write_bytes(content)
        entries = list(read_papers(str(path), "bibtex"))
    if not entries and content.strip():
        raise BadRecord("library.bib", None, "no BibTeX entries found")
    lookup = _Lookup.of(index)
    result = ImportResult()
    for entry in entries:
        _record(result, index, lookup.by_entry(entry), entry.title)
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
