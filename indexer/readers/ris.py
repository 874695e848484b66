"""RIS files, as Zotero, Mendeley, EndNote and most databases export them: `TAG  - value` lines,
one record from `TY` to `ER`, values continued on the lines that follow.

Owns `read_ris` and `ris_entries` (id: the DOI in lower case, else the arXiv id, else the `ID` tag,
else a key made from the first author, year and title; entries that are not papers skipped or
refused as `entries.LibraryEntries` says) and `looks_like_ris`, the content test.

Written here rather than with rispy: rispy returns records without their line numbers (a skipped
entry must name its line) and drops a last record that has no `ER` line without a word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from indexer.errors import BadRecord
from indexer.papers import Paper
from indexer.readers.entries import LibraryEntries, PaperEntry, Skipped, arxiv_id_in, doi_in, library_id
from indexer.readers.files import numbered_lines
from indexer.readers.records import check_lengths, valid_date, web_url
from indexer.readers.text import normalise_text, normalised_parts

_TAG_LINE = re.compile(r"([A-Z][A-Z0-9])  -(?: (.*))?")
_RIS_START = re.compile(r"\A(?:[^\n]*\n){0,20}?TY  - \S")
_RIS_DATE = re.compile(r"\s*(\d{4})(?:[/-](\d{1,2})(?:[/-](\d{1,2}))?)?")
_BOOK_TYPES = {"BOOK", "EBOOK", "EDBOOK"}
# Tags that hold one item per line (a keyword), so a line without a tag is one more item.
_ITEM_TAGS = {"KW", "AU", "A1", "UR"}


@dataclass
class _RisEntry:
    line: int
    tags: dict[str, list[str]] = field(default_factory=dict)
    ended: bool = False

    def first(self, *tags: str) -> str:
        """The first non-empty value among `tags`, in that order of preference."""
        return next((value for tag in tags for value in self.tags.get(tag, []) if value.strip()), "")

    def all(self, *tags: str) -> list[str]:
        return [value for tag in tags for value in self.tags.get(tag, [])]


def _ris_records(path: str) -> Iterator[_RisEntry]:
    """Records from `TY` to `ER`; text outside records (an export's header, blank lines) is ignored,
    and a record cut short (a `TY` before its `ER`, the end of the file) comes with `ended` False."""
    entry: _RisEntry | None = None
    last_tag = ""
    for number, raw in numbered_lines(path):
        text = raw.rstrip("\r\n")
        match = _TAG_LINE.fullmatch(text.rstrip())
        if match is None:
            if entry is not None and last_tag and text.strip():
                _continue_value(entry, last_tag, text.strip())
            continue
        tag, value = match.group(1), (match.group(2) or "").strip()
        if tag == "TY":
            if entry is not None:
                yield entry
            entry, last_tag = _RisEntry(number, {"TY": [value]}), "TY"
        elif entry is not None and tag == "ER":
            entry.ended = True
            yield entry
            entry, last_tag = None, ""
        elif entry is not None:
            entry.tags.setdefault(tag, []).append(value)
            last_tag = tag
    if entry is not None:
        yield entry


def _continue_value(entry: _RisEntry, tag: str, text: str) -> None:
    values = entry.tags.setdefault(tag, [""])
    if tag in _ITEM_TAGS:
        values.append(text)
    else:
        values[-1] = f"{values[-1]}\n{text}" if values[-1] else text


def _ris_title(entry: _RisEntry) -> str:
    kind = entry.first("TY").upper()
    title = entry.first("TI", "T1", "CT") or (entry.first("BT") if kind in _BOOK_TYPES else "")
    return normalise_text(title)


def _person(name: str) -> str:
    """"Last, First" and "Last, First, Suffix" (RIS's form) -> "First Last Suffix"."""
    parts = [part.strip() for part in name.split(",")]
    if len(parts) >= 2:
        parts = [parts[1], parts[0], *parts[2:]]
    return " ".join(part for part in parts if part)


def _family(name: str) -> str:
    name = name.strip()
    return name.split(",")[0] if "," in name else (name.split() or [""])[-1]


def _ris_published(entry: _RisEntry) -> str | None:
    """From `DA` (Zotero: "2017/06/12/"), else `Y1`, else `PY`; lenient, as for BibTeX: a date that
    is not one ("2017/13//", "in press") gives the year found or no date."""
    for value in entry.all("DA", "Y1", "PY"):
        match = _RIS_DATE.match(value)
        if not match:
            continue
        year, month, day = match.groups()
        month, day = (f"{int(part):02d}" if part else None for part in (month, day))
        date = valid_date(year, month, day) or valid_date(year, None, None)
        if date:
            return date
    return None


def _ris_urls(entry: _RisEntry) -> list[str]:
    return [url for value in entry.all("UR") for url in value.split() if url]


def _ris_paper(entry: _RisEntry, key: str, path: str) -> Paper:
    kind = entry.first("TY").upper()
    label = f"entry '{key}'" if key else f"{kind or 'RIS'} entry"
    if not entry.ended:
        raise BadRecord(path, entry.line, f"{label} has no end (an 'ER  -' line): the file may be cut short")
    title = _ris_title(entry)
    if not title:
        raise BadRecord(path, entry.line, f"{label} has no title")
    urls = _ris_urls(entry)
    doi = doi_in(normalise_text(entry.first("DO"))) or next(filter(None, map(doi_in, urls)), None)
    arxiv_id = arxiv_id_in(doi) or next(filter(None, (arxiv_id_in(url=url) for url in urls)), None)
    venue = normalise_text(entry.first("T2", "JF", "JO", "JA", "J2", *(("BT",) if kind not in _BOOK_TYPES else ())))
    extra = {"doi": doi, "arxiv_id": arxiv_id, "ris_id": entry.first("ID").strip() or None, "venue": venue or None,
             "entry_type": kind or None}
    url = next(filter(None, map(web_url, urls)), None) or (
        f"https://doi.org/{doi}" if doi else f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None)
    return check_lengths(Paper(
        id=library_id(doi, arxiv_id, key),
        title=title,
        abstract=normalise_text(entry.first("AB", "N2")),
        authors=normalised_parts(_person(name) for name in entry.all("AU", "A1")),
        categories=normalised_parts(entry.all("KW")),
        published=_ris_published(entry),
        url=url,
        extra={name: value for name, value in extra.items() if value},
    ), path, entry.line)


def _ris_key(entry: _RisEntry, entries: LibraryEntries) -> str:
    """The entry's `ID` tag (Mendeley writes the citation key there); else, where there is a title,
    a key made as Google Scholar makes them, so that the entry still has an id."""
    given = entry.first("ID").strip()
    if given:
        return given
    title = _ris_title(entry)
    if not title or not entry.ended:
        return ""
    year = (_ris_published(entry) or "")[:4]
    return entries.made_key(normalise_text(_family(entry.first("AU", "A1"))), year, title)


def ris_entries(path: str, skipped: list[Skipped] | None = None) -> Iterator[PaperEntry]:
    """The papers of a RIS file with their keys and first (`TY`) lines."""
    entries = LibraryEntries(path, skipped)
    for entry in _ris_records(path):
        key = _ris_key(entry, entries)
        admitted = entries.admit(entry.line, key, lambda entry=entry, key=key: _ris_paper(entry, key, path))
        if admitted is not None:
            yield admitted


def read_ris(path: str, skipped: list[Skipped] | None = None) -> Iterator[Paper]:
    """The papers of a RIS file. With `skipped` a list, the entries that are not papers (no title,
    cut short) or repeat an `ID` are appended there and reading goes on; without, the first raises
    BadRecord."""
    for entry in ris_entries(path, skipped):
        yield entry.paper


def looks_like_ris(head: str) -> bool:
    """A `TY  - ` line among the first non-blank lines (some databases write a header first)."""
    return _RIS_START.match(head) is not None
