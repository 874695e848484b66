"""What the reference-manager readers (BibTeX, RIS, CSL-JSON) share: a library is not a corpus.

Owns `Skipped` (an entry left out, or kept under another id, with its file, line, key and reason),
`PaperEntry` (a paper with the key and line of the entry it came from), `LibraryEntries` (one file's
entries as they are read: the id rule, repeated keys, id conflicts, strict or lenient), and the
identifier helpers the formats share: `doi_in`, `doi_id`, `arxiv_id_in`, `library_id`, `title_key`, and
`key_suffix` (the letters BibTeX tools add to repeated citation keys).
Imports nothing from the other reader modules.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace

from indexer.errors import BadRecord
from indexer.papers import Paper

_DOI_PREFIX = re.compile(r"^\s*(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)
_DOI = re.compile(r"10\.\d+(?:\.\d+)*/\S.*")
_ARXIV_NUMBER = r"(\d{4}\.\d{4,5}(?:v\d+)?|[a-z-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)"
_ARXIV_DOI = re.compile(r"10\.48550/arxiv\." + _ARXIV_NUMBER + "$", re.IGNORECASE)
_ARXIV_URL = re.compile(r"^https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/" + _ARXIV_NUMBER + r"(?:\.pdf)?/?$",
                        re.IGNORECASE)
_ARXIV_NOTE = re.compile(r"^arxiv:\s*" + _ARXIV_NUMBER + r"(?:\s|$)", re.IGNORECASE)
# Words Google Scholar leaves out of the first title word of a key ("attention" in vaswani2017attention).
_KEY_STOPWORDS = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "from", "at", "by", "is", "are"}


@dataclass
class Skipped:
    """An entry of a library file that is not indexed as its file says: left out (`kept_as` None:
    no title, a repeated key, a field over its limit), or kept under its key because its id is
    another entry's with a different title (`kept_as`: the id it was kept under)."""

    path: str
    line: int | None
    key: str
    reason: str
    kept_as: str | None = None


@dataclass
class PaperEntry:
    """A library entry that became a paper: the key and first line of the entry, for a user to find it."""

    paper: Paper
    key: str
    line: int


@dataclass
class _Holder:
    key: str
    line: int
    title: str


def doi_in(value: str | None) -> str | None:
    """The DOI of a field as written (without a `https://doi.org/` or `doi:` prefix); None when
    the field holds no DOI ("", "N/A", a publisher page)."""
    doi = _DOI_PREFIX.sub("", value or "").strip()
    return doi if _DOI.fullmatch(doi) else None


def doi_id(doi: str) -> str:
    """A DOI as an id: DOIs are case-insensitive, so "10.1000/ABC" and "10.1000/abc" are one paper."""
    return doi.lower()


def arxiv_id_in(doi: str | None = None, url: str | None = None, note: str | None = None) -> str | None:
    """The arXiv id an entry names without an eprint field: an arXiv DOI (10.48550/arXiv.X), an
    arxiv.org abstract or PDF url, or a note such as "arXiv:1706.03762 [cs]"."""
    for pattern, value in ((_ARXIV_DOI, doi), (_ARXIV_URL, url), (_ARXIV_NOTE, note)):
        match = pattern.match((value or "").strip())
        if match:
            return match.group(1)
    return None


def library_id(doi: str | None, arxiv_id: str | None, key: str) -> str:
    """The id rule of every library format: the DOI (lower case), else the arXiv id, else the key."""
    return doi_id(doi) if doi else arxiv_id or key


def title_key(title: str) -> str:
    """A title as compared between entries: case, accents, punctuation and spacing aside."""
    folded = unicodedata.normalize("NFKD", title.lower())
    return " ".join(re.findall(r"[a-z0-9]+", folded.encode("ascii", "ignore").decode()))


def _key_word(text: str) -> str:
    return "".join(re.findall(r"[a-z0-9]+", title_key(text)))


class LibraryEntries:
    """One file's entries as they are read. Lenient (`skipped` a list): an entry that is not a
    paper, or that repeats an earlier entry's key, is appended to `skipped` and reading goes on.
    Strict (`skipped` None): such an entry raises its BadRecord, and a repeated key is accepted as
    it always was. In both modes two entries with one id and different titles are both kept, the
    later under its own key (in lenient mode the conflict is appended to `skipped` with `kept_as`)."""

    def __init__(self, path: str, skipped: list[Skipped] | None) -> None:
        self.path, self.skipped = path, skipped
        self._ids: dict[str, _Holder] = {}  # id -> the first entry that holds it
        self._keys: dict[str, int] = {}  # key -> line of the entry that became a paper under it
        self._made_keys: set[str] = set()

    def admit(self, line: int, key: str, make: Callable[[], Paper]) -> PaperEntry | None:
        """The entry's paper, or None where it is skipped. `make` builds the paper and raises
        BadRecord for an entry that is not one (no title, a field over its limit)."""
        if self.skipped is not None and key and key in self._keys:
            self.skipped.append(Skipped(self.path, line, key, f"repeats the key of the entry at line "
                                        f"{self._keys[key]}: the first is kept"))
            return None
        try:
            paper = make()
        except BadRecord as error:
            if self.skipped is None:
                raise
            self.skipped.append(Skipped(self.path, error.line or line, key, error.reason))
            return None
        paper = self._placed(paper, key, line)
        if paper is None:
            return None
        if key and key not in self._made_keys:  # a made key never makes the file's own key a repeat
            self._keys.setdefault(key, line)
        return PaperEntry(paper, key, line)

    def made_key(self, family: str, year: str, title: str) -> str:
        """A key for an entry whose file gives none, made as Google Scholar makes them
        (`vaswani2017attention`), with a letter added where one is taken (`smith2020deepa`)."""
        words = [word for word in title_key(title).split() if word not in _KEY_STOPWORDS]
        base = _key_word(family) + year + (words[0] if words else "") or "entry"
        key, suffix = base, 0
        while key in self._keys or key in self._made_keys:
            suffix += 1
            key = base + key_suffix(suffix)
        self._made_keys.add(key)
        return key

    def _placed(self, paper: Paper, key: str, line: int) -> Paper | None:
        title = title_key(paper.title)
        holder = self._ids.get(paper.id)
        if holder is None or holder.title == title:
            self._ids.setdefault(paper.id, _Holder(key, line, title))
            return paper
        shares = f"shares {_id_kind(paper)} {paper.id} with '{holder.key}' (line {holder.line}) under another title"
        taken = self._ids.get(key) if key else None
        if not key or (taken is not None and taken.title != title):
            reason = f"{shares}, and {'has no key' if not key else f'its key {key!r} is taken'} to stand in as its id"
            if self.skipped is None:
                raise BadRecord(self.path, line, reason)
            self.skipped.append(Skipped(self.path, line, key, reason))
            return None
        self._ids.setdefault(key, _Holder(key, line, title))
        if self.skipped is not None:
            self.skipped.append(Skipped(self.path, line, key, f"{shares}: both kept, this one as '{key}'", key))
        return replace(paper, id=key)


def _id_kind(paper: Paper) -> str:
    if paper.extra.get("doi") and doi_id(str(paper.extra["doi"])) == paper.id:
        return "DOI"
    if paper.extra.get("arxiv_id") == paper.id:
        return "arXiv id"
    return "id"


def key_suffix(number: int) -> str:
    """1 -> a, 26 -> z, 27 -> aa: the suffixes BibTeX tools give repeated keys."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters
