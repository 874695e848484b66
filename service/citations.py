"""Papers as a reference manager takes them: BibTeX (every LaTeX special escaped, so any title or
name makes a well-formed entry) and CSL-JSON."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from indexer.papers import Paper
from indexer.readers.entries import key_suffix

_ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", re.I)
_DOI = re.compile(r"10\.\d{4,9}/\S+")
# Each LaTeX special as text, nothing read as a command, comment or math. Braces become commands:
# BibTeX counts every brace, escaped or not, so one `\{` would end the entry at the wrong place.
_LATEX = {"\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}", "$": r"\$", "&": r"\&",
          "%": r"\%", "#": r"\#", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}"}
_LATEX_SPECIAL = re.compile(r"[\\{}$&%#_^~]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BIBTEX_TYPES = {"article", "book", "booklet", "inbook", "incollection", "inproceedings", "manual",
                 "mastersthesis", "misc", "phdthesis", "proceedings", "techreport", "unpublished", "online"}
_KEY = re.compile(r"[A-Za-z0-9_:.-]{1,100}")


def arxiv_id(paper: Paper) -> str | None:
    """The paper's arXiv id (no version), from its record, its id or an arxiv.org url."""
    given = paper.extra.get("arxiv_id")
    candidates = [given if isinstance(given, str) else "", paper.id]
    parts = urlsplit(paper.url or "")
    if parts.hostname in ("arxiv.org", "www.arxiv.org", "export.arxiv.org"):
        path = re.sub(r"^/(?:abs|pdf)/", "", parts.path)
        candidates.append(re.sub(r"\.pdf$", "", path) if path != parts.path else "")
    for candidate in candidates:
        match = _ARXIV_ID.fullmatch(candidate.strip())
        if match:
            return match.group(1)
    return None


def doi(paper: Paper) -> str | None:
    """The paper's DOI, from its record, its id or a doi.org url."""
    given = paper.extra.get("doi")
    candidates = [given if isinstance(given, str) else "", paper.id]
    parts = urlsplit(paper.url or "")
    if parts.hostname in ("doi.org", "dx.doi.org"):
        candidates.append(unquote(parts.path.lstrip("/")))
    for candidate in candidates:
        candidate = re.sub(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)", "", candidate.strip(), flags=re.I)
        if _DOI.fullmatch(candidate):
            return candidate
    return None


def venue(paper: Paper) -> str | None:
    for key in ("venue", "journal-ref"):
        value = paper.extra.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def citation_keys(papers: Iterable[Paper]) -> list[str]:
    """One key a paper, unique in the file: its own BibTeX key when it has a usable one, else the
    first author's family name, the year and the title's first word (`vaswani2017attention`)."""
    keys: list[str] = []
    taken: set[str] = set()
    for paper in papers:
        given = paper.extra.get("bibtex_key")
        key = given if isinstance(given, str) and _KEY.fullmatch(given) else _made_key(paper)
        unique, suffix = key, 0
        while unique.lower() in taken:
            suffix += 1
            unique = f"{key}{key_suffix(suffix)}"
        taken.add(unique.lower())
        keys.append(unique)
    return keys


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]", "", folded).lower()


def _made_key(paper: Paper) -> str:
    family = _ascii_word(split_name(paper.authors[0])[0]) if paper.authors else ""
    year = (paper.published or "")[:4]
    words = [_ascii_word(word) for word in paper.title.split()]
    first = next((word for word in words if len(word) > 3), next((word for word in words if word), ""))
    return (family or "paper") + (year if year.isdigit() else "") + first[:20]


def split_name(name: str) -> tuple[str, str]:
    """(family, given) of a name written `Family, Given` or `Given Family`; a one-word name is all family."""
    name = " ".join(name.split())
    if "," in name:
        family, _, given = name.partition(",")
        return family.strip(), given.strip()
    given, _, family = name.rpartition(" ")
    return family, given


def latex_text(text: str) -> str:
    """Plain text as BibTeX field text: whitespace made single spaces, every LaTeX special escaped."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    return _LATEX_SPECIAL.sub(lambda match: _LATEX[match.group()], text)


def _title(text: str) -> str:
    """Escaped, with words that carry capitals past their first letter (LLM, GPT-4, BERTScore) in
    braces, so that a bibliography style that lower-cases titles keeps them."""
    words = latex_text(text).split(" ")
    return " ".join(f"{{{word}}}" if re.search(r"[A-Z]", word[1:]) and not word.startswith("\\") else word
                    for word in words)


def _name(name: str) -> str:
    """A name for the `author` field: `and` inside it is braced so it does not split the list."""
    return re.sub(r"\band\b", "{and}", latex_text(name), flags=re.I)


def _verbatim(text: str) -> str:
    """A url or DOI, which styles print as written: only what would break the entry is encoded."""
    return re.sub(r"[{}\\\s]", lambda match: f"%{ord(match.group()):02X}", _CONTROL.sub("", text))


def bibtex(papers: list[Paper]) -> str:
    """The papers as a BibTeX file (UTF-8), in the given order."""
    entries = [_bibtex_entry(paper, key) for paper, key in zip(papers, citation_keys(papers))]
    return "".join(entry + "\n" for entry in entries)


def _bibtex_entry(paper: Paper, key: str) -> str:
    eprint, identifier, journal = arxiv_id(paper), doi(paper), venue(paper)
    kind = paper.extra.get("entry_type")
    kind = kind.lower() if isinstance(kind, str) and kind.lower() in _BIBTEX_TYPES else (
        "article" if journal else "misc")
    date = (paper.published or "").split("-")
    fields: list[tuple[str, str | None]] = [
        ("title", _title(paper.title)),
        ("author", " and ".join(_name(name) for name in paper.authors if name.strip()) or None),
        ("year", date[0] if date[0].isdigit() else None),
        ("month", str(int(date[1])) if len(date) > 1 and date[1].isdigit() else None),
        ("booktitle" if kind == "inproceedings" else "journal", latex_text(journal) if journal else None),
        ("doi", _verbatim(identifier) if identifier else None),
        ("eprint", _verbatim(eprint) if eprint else None),
        ("archiveprefix", "arXiv" if eprint else None),
        ("primaryclass", latex_text(paper.categories[0]) if eprint and paper.categories else None),
        ("url", _verbatim(paper.url) if paper.url and re.match(r"https?://", paper.url) else None),
        ("keywords", latex_text(", ".join(paper.categories)) if paper.categories else None),
        ("abstract", latex_text(paper.abstract) if paper.abstract.strip() else None),
    ]
    lines = [f"  {name} = {{{value}}}," for name, value in fields if value]
    return f"@{kind}{{{key},\n" + "\n".join(lines) + "\n}\n"


def csl_json(papers: list[Paper]) -> list[dict[str, Any]]:
    """The papers as CSL-JSON items (what Zotero, Mendeley and pandoc read), in the given order."""
    return [_csl_item(paper, key) for paper, key in zip(papers, citation_keys(papers))]


def _csl_item(paper: Paper, key: str) -> dict[str, Any]:
    eprint, identifier, journal = arxiv_id(paper), doi(paper), venue(paper)
    item: dict[str, Any] = {"id": key, "type": "article-journal" if journal else "article", "title": paper.title}
    if paper.authors:
        item["author"] = [_csl_name(name) for name in paper.authors if name.strip()]
    parts = [int(part) for part in (paper.published or "").split("-") if part.isdigit()]
    if parts:
        item["issued"] = {"date-parts": [parts[:3]]}
    if journal:
        item["container-title"] = journal
    if eprint:
        item.update({"number": f"arXiv:{eprint}", "publisher": "arXiv"})
    if identifier:
        item["DOI"] = identifier
    url = paper.url if paper.url and re.match(r"https?://", paper.url) else (
        f"https://arxiv.org/abs/{eprint}" if eprint else None)
    if url:
        item["URL"] = url
    if paper.abstract.strip():
        item["abstract"] = paper.abstract
    if paper.categories:
        item["keyword"] = ", ".join(paper.categories)
    return item


def _csl_name(name: str) -> dict[str, str]:
    family, given = split_name(name)
    return {"family": family, "given": given} if given else {"literal": family}
