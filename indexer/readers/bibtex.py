"""BibTeX and biblatex files: entries, `@string` macros, `#` concatenation, nested braces.

Owns `read_bibtex` and `bibtex_entries` (id: the DOI in lower case, else the arXiv id (the eprint, or
an arxiv.org url), else the citation key; entries that are not papers skipped or refused as
`entries.LibraryEntries` says) and `looks_like_bibtex`, the content test for files whose extension
says nothing.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from indexer.errors import BadRecord
from indexer.papers import Paper
from indexer.readers.entries import LibraryEntries, PaperEntry, Skipped, arxiv_id_in, doi_in, library_id
from indexer.readers.files import numbered_lines
from indexer.readers.records import MONTHS, check_lengths, valid_date, web_url
from indexer.readers.text import normalise_text, normalised_parts

_ENTRY_START = re.compile(r"@\s*([A-Za-z]+)\s*([{(])")
_SKIPPED_ENTRIES = {"comment", "preamble"}
_BIB_KEY = re.compile(r"([^\s,={}()\"#]*)\s*,?")
_BIB_NAME = re.compile(r"[^\s,={}()\"#]+")
_BIB_WORD = re.compile(r"[^\s,#{}()\"=]+")
_BIB_ENTRY = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)


@dataclass
class _BibEntry:
    kind: str
    key: str
    fields: dict[str, str]
    line: int


class _BibScanner:
    """A small recursive-descent reader of BibTeX: entries, `@string` macros, `#` concatenation,
    nested braces and quoted values. Text outside entries is a comment, as in BibTeX itself."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.text, self.pos = path, text, 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.macros = {name: f"{number:02d}" for name, number in MONTHS.items()}

    def line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.line_starts, pos)

    def fail(self, pos: int, reason: str) -> BadRecord:
        return BadRecord(self.path, self.line_of(pos), reason)

    def entries(self) -> Iterator[_BibEntry]:
        while match := _ENTRY_START.search(self.text, self.pos):
            kind, start = match.group(1).lower(), match.start()
            close = "}" if match.group(2) == "{" else ")"
            self.pos = match.end()
            if kind in _SKIPPED_ENTRIES:
                self.pos = self._skip_balanced(start, close)
            elif kind == "string":
                self._read_fields(start, close, self.macros)
            else:
                yield self._read_entry(kind, start, close)

    def _skip_balanced(self, start: int, close: str) -> int:
        depth = 1
        for pos in range(self.pos, len(self.text)):
            char = self.text[pos]
            depth += (char in "{(") - (char in "})")
            if depth == 0:
                return pos + 1
        raise self.fail(start, "unterminated @comment or @preamble")

    def _read_entry(self, kind: str, start: int, close: str) -> _BibEntry:
        self._skip_space()
        key_match = _BIB_KEY.match(self.text, self.pos)
        key = ""
        if key_match and not self.text.startswith("=", key_match.end()):
            key, self.pos = key_match.group(1), key_match.end()
        fields: dict[str, str] = {}
        self._read_fields(start, close, fields)
        return _BibEntry(kind, key, fields, self.line_of(start))

    def _read_fields(self, start: int, close: str, into: dict[str, str]) -> None:
        while True:
            self._skip_space()
            if self.pos >= len(self.text):
                raise self.fail(start, "unterminated entry: missing closing brace")
            if self.text[self.pos] == close:
                self.pos += 1
                return
            name = self._read_name(start)
            self._skip_space()
            if not self.text.startswith("=", self.pos):
                raise self.fail(self.pos, f"expected '=' after field '{name}'")
            self.pos += 1
            into[name.lower()] = self._read_value(start)
            self._skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1

    def _read_name(self, start: int) -> str:
        match = _BIB_NAME.match(self.text, self.pos)
        if not match:
            if self.text.startswith("@", self.pos):  # the next entry began: this one lost its brace
                raise self.fail(start, "unterminated entry: missing closing brace")
            raise self.fail(self.pos, f"unexpected {self.text[self.pos]!r} where a field name belongs")
        self.pos = match.end()
        return match.group(0)

    def _read_value(self, start: int) -> str:
        parts = []
        while True:
            self._skip_space()
            parts.append(self._read_part(start))
            self._skip_space()
            if not self.text.startswith("#", self.pos):
                return "".join(parts)
            self.pos += 1

    def _read_part(self, start: int) -> str:
        char = self.text[self.pos] if self.pos < len(self.text) else ""
        if char == "{":
            return self._read_delimited(start, "}")
        if char == '"':
            return self._read_delimited(start, '"')
        match = _BIB_WORD.match(self.text, self.pos)
        if not match:
            raise self.fail(self.pos, "missing field value")
        self.pos = match.end()
        word = match.group(0)
        return word if word.isdigit() else self.macros.get(word.lower(), word)

    def _read_delimited(self, start: int, closing: str) -> str:
        """The text between a `{` or `"` and its partner; braces nest, and a backslash escapes
        the next character (so `\\{` and `\\"` do not count)."""
        depth, begin, pos = 0, self.pos + 1, self.pos + 1
        while pos < len(self.text):
            char = self.text[pos]
            if char == "\\":
                pos += 2
                continue
            if char == closing and depth == 0:
                self.pos = pos + 1
                return self.text[begin:pos]
            depth += (char == "{") - (char == "}")
            if depth < 0:
                break
            pos += 1
        raise self.fail(start, "unterminated field value: unbalanced braces or quotes")

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1


def _split_outside_braces(value: str, separator: str) -> list[str]:
    parts, depth, last = [], 0, 0
    for match in re.finditer(rf"[{{}}]|{separator}", value, flags=re.IGNORECASE):
        token = match.group(0)
        if token in ("{", "}"):
            depth += 1 if token == "{" else -1
        elif depth == 0:
            parts.append(value[last:match.start()])
            last = match.end()
    parts.append(value[last:])
    return [part.strip() for part in parts]


def _split_bib_names(value: str) -> list[str]:
    """Split on " and " outside braces ("{Barnes and Noble}" is one name), turning "Last, First"
    and "Last, Jr, First" into "First Last Jr"; "others" (et al.) is dropped."""
    names = []
    for name in _split_outside_braces(value, r"\s+and\s+"):
        parts = _split_outside_braces(name, ",")
        if len(parts) >= 2:
            parts = [parts[-1], parts[0], *parts[1:-1]]
        person = normalise_text(" ".join(part for part in parts if part).replace("~", " "))
        if person and person.lower() != "others":
            names.append(person)
    return names


def _bib_month(value: str) -> int | None:
    value = normalise_text(value).lower()
    if value.isdigit() and 1 <= int(value) <= 12:
        return int(value)
    return MONTHS.get(value[:3])


def _bib_published(fields: Mapping[str, str]) -> str | None:
    """From biblatex `date`, else `year` (+ `month`); lenient: BibTeX in the wild has years like
    "2020a" or "in press", which give the digits found or no date rather than an error."""
    if fields.get("date"):
        match = re.match(r"\s*(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", fields["date"])
        if match and (date := valid_date(*match.groups())):
            return date
    year = re.search(r"\d{4}", fields.get("year", ""))
    if not year:
        return None
    month = _bib_month(fields.get("month", ""))
    return f"{year.group(0)}-{month:02d}" if month else year.group(0)


def _bib_arxiv_id(fields: Mapping[str, str]) -> str | None:
    eprint = normalise_text(fields.get("eprint", ""))
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    looks_arxiv = re.fullmatch(r"\d{4}\.\d{4,5}(v\d+)?|[a-z.-]+/\d{7}(v\d+)?", eprint)
    if eprint and (prefix == "arxiv" or (not prefix and looks_arxiv)):
        return eprint
    return None


def _bib_paper(entry: _BibEntry, path: str) -> Paper:
    fields = entry.fields
    title = normalise_text(fields.get("title", "").replace("~", " "))
    if not title:
        raise BadRecord(path, entry.line, f"entry '{entry.key or '@' + entry.kind}' has no title")
    doi, given_url = doi_in(normalise_text(fields.get("doi", ""))), normalise_text(fields.get("url", ""))
    arxiv_id = _bib_arxiv_id(fields) or arxiv_id_in(doi, given_url)
    paper_id = library_id(doi, arxiv_id, entry.key)
    if not paper_id:
        raise BadRecord(path, entry.line, "entry has no citation key, doi or eprint to use as id")
    venue = normalise_text(fields.get("journal") or fields.get("booktitle") or "")
    extra = {"doi": doi, "arxiv_id": arxiv_id, "bibtex_key": entry.key or None, "venue": venue or None,
             "entry_type": entry.kind}
    url = web_url(given_url) or (
        f"https://doi.org/{doi}" if doi else f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None)
    return check_lengths(Paper(
        id=paper_id,
        title=title,
        abstract=normalise_text(fields.get("abstract", "").replace("~", " ")),
        authors=_split_bib_names(fields.get("author", "")),
        categories=normalised_parts(re.split(r"[,;]", fields.get("keywords", ""))),
        published=_bib_published(fields),
        url=url,
        extra={key: value for key, value in extra.items() if value},
    ), path, entry.line)


def bibtex_entries(path: str, skipped: list[Skipped] | None = None) -> Iterator[PaperEntry]:
    """The papers of a BibTeX file with their citation keys and first lines. A file that cannot be
    read on (an unbalanced brace, a byte that is not UTF-8) raises BadRecord in either mode."""
    text = "".join(line for _, line in numbered_lines(path))
    entries = LibraryEntries(path, skipped)
    for entry in _BibScanner(path, text).entries():
        admitted = entries.admit(entry.line, entry.key, lambda entry=entry: _bib_paper(entry, path))
        if admitted is not None:
            yield admitted


def read_bibtex(path: str, skipped: list[Skipped] | None = None) -> Iterator[Paper]:
    """The papers of a BibTeX file. With `skipped` a list, the entries that are not papers (no title)
    or repeat a key are appended there and reading goes on; without, the first raises BadRecord."""
    for entry in bibtex_entries(path, skipped):
        yield entry.paper


def looks_like_bibtex(head: str) -> bool:
    """An entry (`@article{`, `@book(`) at the start of a line."""
    return _BIB_ENTRY.search(head) is not None
