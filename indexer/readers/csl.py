"""CSL-JSON files, as Zotero ("CSL JSON"), Better BibTeX ("Better CSL JSON"), Mendeley and
citeproc tools export them: one JSON array of items (`id`, `type`, `title`, `abstract`, `author`
[{family, given, literal}], `issued` {date-parts}, `DOI`, `URL`, `container-title`, `keyword`).

Owns `read_csl` and `csl_entries` (id: the DOI in lower case, else the arXiv id, else the item's
`id`; items that are not papers skipped or refused as `entries.LibraryEntries` says) and
`looks_like_csl`, the content test. The standard library's JSON decoder reads the items one by one
from the array, so that each is known by its first line.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from indexer.errors import BadRecord
from indexer.papers import Paper
from indexer.readers.entries import LibraryEntries, PaperEntry, Skipped, arxiv_id_in, doi_in, library_id
from indexer.readers.files import numbered_lines
from indexer.readers.records import check_lengths, valid_date, web_url
from indexer.readers.text import normalise_text, normalised_parts

_CSL_START = re.compile(r"\A\s*\[\s*\{")
_CSL_FIELD = re.compile(r'"(?:type|issued|container-title|date-parts)"\s*:')
_DATE_TEXT = re.compile(r"\s*(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_NAME_PARTS = ("given", "dropping-particle", "non-dropping-particle", "family", "suffix")


class _Text:
    """Positions in the file's text -> 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.line_starts, pos)

    def skip_space(self, pos: int) -> int:
        while pos < len(self.text) and self.text[pos].isspace():
            pos += 1
        return pos


def _csl_items(path: str) -> Iterator[tuple[int, Any]]:
    """(first line, decoded item) for each element of the top-level array."""
    source = _Text("".join(line for _, line in numbered_lines(path)))
    decoder = json.JSONDecoder()
    pos = source.skip_space(0)
    if not source.text.startswith("[", pos):
        raise BadRecord(path, source.line_of(pos), "a CSL-JSON file is one JSON array of items: [{...}, ...]")
    pos = source.skip_space(pos + 1)
    while not source.text.startswith("]", pos):
        try:
            item, end = decoder.raw_decode(source.text, pos)
        except json.JSONDecodeError as error:
            raise BadRecord(path, error.lineno, f"not valid JSON ({error.msg})") from None
        except RecursionError:
            raise BadRecord(path, source.line_of(pos), "not valid JSON (nested too deeply)") from None
        yield source.line_of(pos), item
        pos = source.skip_space(end)
        if source.text.startswith(",", pos):
            pos = source.skip_space(pos + 1)
        elif not source.text.startswith("]", pos):
            raise BadRecord(path, source.line_of(pos), "not valid JSON (expected ',' or ']' after an item)")
    if source.skip_space(pos + 1) < len(source.text):
        raise BadRecord(path, source.line_of(pos + 1), "not valid JSON (text after the closing ']')")


def _text(item: Mapping[str, Any], name: str, path: str, line: int) -> str:
    value = item.get(name)
    if isinstance(value, list) and value:  # Crossref's CSL writes container-title as a list
        value = value[0]
    if value is None or value == []:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRecord(path, line, f"field '{name}' must be a string, not {type(value).__name__}")
    return str(value)


def _csl_authors(item: Mapping[str, Any], path: str, line: int) -> list[str]:
    names = item.get("author") or []
    if not isinstance(names, list) or not all(isinstance(name, Mapping) for name in names):
        raise BadRecord(path, line, "field 'author' must be a list of names ({\"family\": ..., \"given\": ...})")
    people = []
    for name in names:
        literal = _text(name, "literal", path, line)
        people.append(literal or " ".join(_text(name, part, path, line) for part in _NAME_PARTS))
    return normalised_parts(people)


def _csl_published(item: Mapping[str, Any]) -> str | None:
    """From `issued`: {"date-parts": [[2017, 6, 12]]} (numbers or strings), {"raw": "2017-06-12"},
    {"literal": ...} or a plain string; lenient: what is not a date gives the year found or no date."""
    issued = item.get("issued")
    if isinstance(issued, Mapping):
        parts = issued.get("date-parts")
        if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
            numbers = [str(part).strip() for part in parts[0][:3]]
            if all(number.isdigit() for number in numbers):
                return _date(numbers[0].zfill(4), *(number.zfill(2) for number in numbers[1:]))
        issued = issued.get("raw") or issued.get("literal")
    match = _DATE_TEXT.match(issued) if isinstance(issued, str) else None
    if not match:
        return None
    year, month, day = match.groups()
    return _date(year, *(part.zfill(2) for part in (month, day) if part))


def _date(year: str, month: str | None = None, day: str | None = None) -> str | None:
    return valid_date(year, month, day) or valid_date(year, None, None)


def _csl_key(item: Any, entries: LibraryEntries) -> str:
    """The item's `id`; else, where there is a title, a key made as Google Scholar makes them."""
    if not isinstance(item, Mapping):
        return ""
    given = item.get("id")
    if isinstance(given, (str, int)) and not isinstance(given, bool) and str(given).strip():
        return str(given).strip()
    title = item.get("title")
    if not isinstance(title, str) or not normalise_text(title):
        return ""
    authors = item.get("author")
    first = authors[0] if isinstance(authors, list) and authors and isinstance(authors[0], Mapping) else {}
    family = first.get("family") or first.get("literal") or ""
    year = (_csl_published(item) or "")[:4]
    return entries.made_key(normalise_text(family if isinstance(family, str) else ""), year, normalise_text(title))


def _csl_paper(item: Any, key: str, line: int, path: str) -> Paper:
    if not isinstance(item, Mapping):
        raise BadRecord(path, line, f"a CSL-JSON item is an object ({{...}}), not {type(item).__name__}")
    kind = _text(item, "type", path, line)
    title = normalise_text(_text(item, "title", path, line))
    if not title:
        raise BadRecord(path, line, f"item '{key}' has no title" if key else f"{kind or 'CSL'} item has no title")
    given_url = _text(item, "URL", path, line).strip()
    doi = doi_in(normalise_text(_text(item, "DOI", path, line)))
    arxiv_id = arxiv_id_in(doi, given_url, _text(item, "number", path, line))
    venue = normalise_text(_text(item, "container-title", path, line))
    given_id = key if key == str(item.get("id", "")).strip() else None  # not a key made for want of one
    extra = {"doi": doi, "arxiv_id": arxiv_id, "csl_id": given_id, "venue": venue or None, "entry_type": kind or None}
    url = web_url(given_url) or (
        f"https://doi.org/{doi}" if doi else f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None)
    return check_lengths(Paper(
        id=library_id(doi, arxiv_id, key),
        title=title,
        abstract=normalise_text(_text(item, "abstract", path, line)),
        authors=_csl_authors(item, path, line),
        categories=normalised_parts(re.split(r"[,;]", _text(item, "keyword", path, line))),
        published=_csl_published(item),
        url=url,
        extra={name: value for name, value in extra.items() if value},
    ), path, line)


def csl_entries(path: str, skipped: list[Skipped] | None = None) -> Iterator[PaperEntry]:
    """The papers of a CSL-JSON file with their ids (as keys) and first lines. A file that is not one
    JSON array raises BadRecord at the line where it stops being one, in either mode."""
    entries = LibraryEntries(path, skipped)
    for line, item in _csl_items(path):
        key = _csl_key(item, entries)
        admitted = entries.admit(line, key, lambda item=item, key=key, line=line: _csl_paper(item, key, line, path))
        if admitted is not None:
            yield admitted


def read_csl(path: str, skipped: list[Skipped] | None = None) -> Iterator[Paper]:
    """The papers of a CSL-JSON file. With `skipped` a list, the items that are not papers (no title,
    not an object) or repeat an `id` are appended there and reading goes on; without, the first
    raises BadRecord."""
    for entry in csl_entries(path, skipped):
        yield entry.paper


def looks_like_csl(head: str) -> bool:
    """An array of objects with CSL's own field names (`type`, `issued`, `container-title`)."""
    return _CSL_START.match(head) is not None and _CSL_FIELD.search(head) is not None
