"""The Hugging Face Daily Papers page (huggingface.co/papers), saved from a browser as text.

Owns `read_daily`, which splits the page into papers (title, abstract, author count, organisation,
submitter, date, upvotes) and gives each an id from its title, and `looks_like_daily`, the
content test for a page saved without a telling extension.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from indexer.errors import BadRecord
from indexer.papers import Paper
from indexer.readers.files import numbered_lines
from indexer.readers.records import MONTHS, check_lengths, valid_date
from indexer.readers.text import normalise_text

# Each paper: a title line, its abstract paragraph, then a block of "  • N authors" (or an
# organisation line such as "furiosa-ai FuriosaAI"), "·" and a date line "Jun 28, 2023 1" (date,
# optional upvotes). Some papers have no block at all: the next title follows the abstract.

_PAGE_HEADER = {"new", "get trending papers in your email inbox!", "subscribe", "daily papers",
                "byak and the research community", "trending papers"}
_MONTH_NAMES = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DAILY_DATE = re.compile(rf"^{_MONTH_NAMES}\s+(\d{{1,2}})(?:,\s*(\d{{4}}))?(?:\s+(\d+))?$", re.IGNORECASE)
_AUTHOR_COUNT = re.compile(r"^•\s*(\d+)\s+authors?$")
_SUBMITTED_BY = re.compile(r"^Submitted by\s*(.*)$", re.IGNORECASE)
_ORGANISATION = re.compile(r"^[a-z0-9][\w.-]*\s+(\S.*)$")  # "furiosa-ai FuriosaAI": handle, then name


@dataclass
class _DailyLine:
    number: int
    text: str
    kind: str  # "text", "authors", "dot", "submitted", "date", "tail" (the text line just before "·")
    starts_paragraph: bool


@dataclass
class _DailyPaper:
    title: str
    line: int
    abstract: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    date: tuple[int, int, int | None] | None = None  # month, day, year when the page shows it
    closed: bool = False


def _daily_lines(lines: Iterable[tuple[int, str]]) -> list[_DailyLine]:
    result: list[_DailyLine] = []
    blank_before = True
    for number, raw in lines:
        text = raw.strip()
        if not text:
            blank_before = True
            continue
        kind = ("dot" if text == "·" else "authors" if _AUTHOR_COUNT.match(text)
                else "submitted" if _SUBMITTED_BY.match(text) else "text")
        if kind == "text" and result and result[-1].kind == "dot" and _DAILY_DATE.match(text):
            kind = "date"
        if kind == "dot" and result and result[-1].kind == "text":
            result[-1].kind = "tail"
        result.append(_DailyLine(number, text, kind, blank_before))
        blank_before = False
    return result


def _page_header(lines: list[_DailyLine]) -> tuple[int, tuple[int, int, int | None] | None]:
    """How many leading lines are the page header, and the page date shown there."""
    page_date = None
    for index, line in enumerate(lines):
        date = _DAILY_DATE.match(line.text)
        if line.text.lower() in _PAGE_HEADER:
            continue
        if date and not date.group(4) and page_date is None:
            page_date = _month_day_year(date)
            continue
        return index, page_date
    return len(lines), page_date


def _month_day_year(match: re.Match[str]) -> tuple[int, int, int | None]:
    month = MONTHS[match.group(1)[:3].lower()]
    return month, int(match.group(2)), int(match.group(3)) if match.group(3) else None


def _is_prose(text: str) -> bool:
    """An abstract rather than a title: long, or several sentences, or a long period-ended one."""
    sentences = len(re.findall(r"[a-z)\]][.!?](?:\s|$)", text))
    return len(text) > 300 or sentences >= 2 or (text.endswith(".") and len(text.split()) >= 15)


def _daily_papers(lines: list[_DailyLine]) -> list[_DailyPaper]:
    papers: list[_DailyPaper] = []
    for line in lines:
        current = papers[-1] if papers and not papers[-1].closed else None
        if line.kind in ("text", "tail"):
            if current is not None and _is_prose(line.text):
                _add_abstract_text(current, line)
            elif line.kind == "tail" and current is not None:
                _set_organisation(current, line.text)
            elif current is not None and not line.starts_paragraph:
                _add_wrapped_text(current, line.text)
            else:
                papers.append(_DailyPaper(title=line.text, line=line.number))
        elif current is not None:
            _apply_meta(current, line)
    return papers


def _add_abstract_text(paper: _DailyPaper, line: _DailyLine) -> None:
    if paper.abstract and not line.starts_paragraph:
        paper.abstract[-1] += " " + line.text
    else:
        paper.abstract.append(line.text)


def _add_wrapped_text(paper: _DailyPaper, text: str) -> None:
    """A line that continues the paragraph before it, if the page was saved with wrapped lines."""
    if paper.abstract:
        paper.abstract[-1] += " " + text
    else:
        paper.title += " " + text


def _set_organisation(paper: _DailyPaper, text: str) -> None:
    match = _ORGANISATION.match(text)
    paper.extra["organisation"] = match.group(1) if match else text


def _apply_meta(paper: _DailyPaper, line: _DailyLine) -> None:
    if line.kind == "authors":
        paper.extra["author_count"] = int(_AUTHOR_COUNT.match(line.text).group(1))
    elif line.kind == "submitted":
        paper.extra["submitted_by"] = _SUBMITTED_BY.match(line.text).group(1).strip()
    elif line.kind == "date":
        match = _DAILY_DATE.match(line.text)
        paper.date = _month_day_year(match)
        if match.group(4):
            paper.extra["upvotes"] = int(match.group(4))
        paper.closed = True  # the date line ends a paper's block


def _page_year(page_date: tuple[int, int, int | None] | None, papers: list[_DailyPaper]) -> int:
    """The year of dates shown without one. The page omits the year only for dates in its own
    year, so any year it does show is an earlier one: without a year in the header, take the year
    after the latest one shown (never after the current year); with no years at all, the current
    year, or the previous one if the header's day is still to come this year."""
    today = dt.date.today()
    if page_date and page_date[2]:
        return page_date[2]
    shown = [paper.date[2] for paper in papers if paper.date and paper.date[2]]
    if shown:
        return min(max(shown) + 1, today.year)
    if page_date and (page_date[0], page_date[1]) > (today.month, today.day):
        return today.year - 1
    return today.year


def _daily_published(date: tuple[int, int, int | None] | None, page_year: int) -> str | None:
    if date is None:
        return None
    month, day, year = date
    year = year or page_year
    return valid_date(str(year), f"{month:02d}", f"{day:02d}") or f"{year}-{month:02d}"


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > 80:
        slug = slug[:80].rsplit("-", 1)[0]
    return slug or hashlib.sha1(title.encode()).hexdigest()[:12]


def read_daily(path: str) -> Iterator[Paper]:
    """The page has no ids: each paper gets "hf-" + a slug of its title (stable across runs;
    a repeated slug within the file gets "-2", "-3", ...)."""
    lines = _daily_lines(numbered_lines(path))
    start, page_date = _page_header(lines)
    papers = _daily_papers(lines[start:])
    year = _page_year(page_date, papers)
    seen: dict[str, int] = {}
    for paper in papers:
        title = normalise_text(paper.title)
        if not title:
            raise BadRecord(path, paper.line, "paper has an empty title")
        slug = "hf-" + _slug(title)
        seen[slug] = seen.get(slug, 0) + 1
        paper_id = slug if seen[slug] == 1 else f"{slug}-{seen[slug]}"
        yield check_lengths(Paper(id=paper_id, title=title, abstract=normalise_text(" ".join(paper.abstract)),
                                  published=_daily_published(paper.date, year), extra=dict(paper.extra)),
                            path, paper.line)


def looks_like_daily(head: str) -> bool:
    lines = [line.strip() for line in head.splitlines()]
    authors = sum(1 for line in lines if _AUTHOR_COUNT.match(line))
    return "daily papers" in (line.lower() for line in lines[:40]) or (authors >= 1 and "·" in lines)
