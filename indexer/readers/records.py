"""A record -> `Paper`: the field parsing and checks every reader shares.

Owns `paper_from_record` (the contract fields id, title, abstract, authors, categories, published,
url), the field helpers the other formats build on (`record_id`, `text_field`, `list_field`, the
author and category splitting), dates (`parse_published`, `valid_date`, `MONTHS`), url checks
(`web_url`) and `check_lengths`, the length, count and Unicode limits every paper is held to.
Imports only `text` among the reader modules.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from indexer.errors import BadRecord
from indexer.papers import MAX_AUTHORS, MAX_CATEGORIES, MAX_LENGTHS, Paper, is_valid_unicode
from indexer.readers.text import normalise_text, normalised_parts

# Month names as BibTeX and the Daily Papers page write them: "jan" -> 1 (the first three letters).
MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

_DATE_PREFIX = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?"
                          r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")


def valid_date(year: str, month: str | None, day: str | None) -> str | None:
    if int(year) < 1000:  # "0000" is a placeholder, not a date
        return None
    try:
        if day:
            return dt.date(int(year), int(month or 0), int(day)).isoformat()
        if month:
            return f"{year}-{month}" if 1 <= int(month) <= 12 else None
        return year
    except ValueError:
        return None


def parse_published(value: Any) -> str | None:
    """`YYYY-MM-DD`, `YYYY-MM` or `YYYY` from a string, an ISO datetime, a year number or a date;
    raises ValueError for anything else."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():  # a year column that pandas made float
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return str(value)
    match = _DATE_PREFIX.match(value.strip()) if isinstance(value, str) else None
    date = valid_date(*match.groups()) if match else None
    if date is None:
        raise ValueError(f"bad published date {value!r} (expected YYYY-MM-DD, YYYY-MM or YYYY)")
    return date


def split_authors(value: Any) -> list[str]:
    """Raises TypeError for anything but a string or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        # "Smith, John; Doe, Jane" keeps "Last, First" entries whole; otherwise " and " separates.
        parts = value.split(";") if ";" in value else re.split(r"\s+and\s+", value)
    else:
        parts = _strings(value)
    return normalised_parts(parts)


def split_categories(value: Any) -> list[str]:
    """Raises TypeError for anything but a string or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        # The contract says space-separated; "cs.CL, cs.LG" is common enough to accept too.
        parts = re.split(r"[;,]", value) if re.search(r"[;,]", value) else value.split()
    else:
        parts = _strings(value)
    return normalised_parts(parts)


def _strings(value: Any) -> list[str]:
    """A list (or a Parquet/NumPy array) of strings; a mapping or a nested list is not one."""
    if isinstance(value, Mapping) or not hasattr(value, "__iter__"):
        raise TypeError(type(value).__name__)
    parts = list(value)
    if not all(part is None or isinstance(part, str) for part in parts):
        raise TypeError("list holds non-strings")
    return [part for part in parts if part is not None]


def text_field(record: Mapping[str, Any], name: str, path: str, line: int | None) -> str:
    value = record.get(name)
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):  # a missing value in a Parquet/pandas column
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadRecord(path, line, f"field '{name}' must be a string, not {type(value).__name__}")
    return _valid_unicode(str(value), name, path, line)


def _valid_unicode(text: str, name: str, path: str, line: int | None) -> str:
    if not is_valid_unicode(text):
        raise BadRecord(path, line, f"field '{name}' is not valid Unicode (a lone surrogate)")
    return text


def check_lengths(paper: Paper, path: str, line: int | None) -> Paper:
    fields = {"id": [paper.id], "title": [paper.title], "abstract": [paper.abstract], "url": [paper.url or ""],
              "author": paper.authors, "category": paper.categories}
    for name, values in fields.items():
        for value in values:
            _valid_unicode(value, name, path, line)
            if len(value) > MAX_LENGTHS[name]:
                raise BadRecord(path, line, f"field '{name}' is {len(value)} characters, over the limit of "
                                f"{MAX_LENGTHS[name]}")
    counts = (("authors", paper.authors, MAX_AUTHORS), ("categories", paper.categories, MAX_CATEGORIES))
    for name, values, limit in counts:
        if len(values) > limit:
            raise BadRecord(path, line, f"field '{name}' has {len(values)} entries, over the limit of {limit}")
    if any(ord(c) < 32 for c in paper.id):
        raise BadRecord(path, line, "field 'id' holds control characters")
    return paper


# Characters a URL never holds unencoded (RFC 3986): one of them in a url is an attempt to break
# out of an HTML attribute (`https://x/" onmouseover="...`) or a careless paste.
_NOT_IN_URL = re.compile(r'[\s"<>\\`\x00-\x1f\x7f]')


def web_url(value: str | None) -> str | None:
    """The url if it is http(s) with a host; None for anything else (javascript:, data:, file:)."""
    url = (value or "").strip()
    if not url or _NOT_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _record_url(record: Mapping[str, Any], path: str, line: int | None) -> str | None:
    url = text_field(record, "url", path, line).strip()
    if url and web_url(url) is None:
        raise BadRecord(path, line, f"field 'url' must be an http(s) URL with a host (no spaces or quotes), "
                        f"not {url[:80]!r}")
    return url or None


def list_field(record: Mapping[str, Any], name: str, split: Callable[[Any], list[str]], path: str,
               line: int | None) -> list[str]:
    """Authors or categories: a {"a": 1} or a [["a"]] is refused rather than read as "a" or "['a']"."""
    try:
        return split(record.get(name))
    except TypeError:
        raise BadRecord(path, line, f"field '{name}' must be a list of strings or one string") from None


def record_id(record: Mapping[str, Any], path: str, line: int | None) -> str:
    value = text_field(record, "id", path, line).strip()
    if not value:
        raise BadRecord(path, line, "record has no 'id'")
    return value


def record_title(record: Mapping[str, Any], path: str, line: int | None) -> str:
    title = normalise_text(text_field(record, "title", path, line))
    if not title:
        raise BadRecord(path, line, "record has no 'title'")
    return title


# The source-specific fields of one record (`extra`: upvotes, a DOI, a venue), JSON-encoded.
MAX_EXTRA_CHARACTERS = 20_000


def extra_field(record: Mapping[str, Any], path: str, line: int | None) -> dict[str, Any]:
    """`extra`: a JSON object, or a string holding one (what `paperlens export` writes to Parquet)."""
    value = record.get("extra")
    if value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and
                                                                           math.isnan(value)):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise BadRecord(path, line, "field 'extra' must be a JSON object (or a string holding one)") from None
    if not isinstance(value, Mapping):
        raise BadRecord(path, line, f"field 'extra' must be a JSON object, not {type(value).__name__}")
    try:
        encoded = json.dumps(dict(value), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise BadRecord(path, line, "field 'extra' holds values JSON cannot hold") from None
    if len(encoded) > MAX_EXTRA_CHARACTERS:
        raise BadRecord(path, line, f"field 'extra' is {len(encoded)} characters as JSON, over the limit of "
                        f"{MAX_EXTRA_CHARACTERS}")
    _valid_unicode(encoded, "extra", path, line)
    return json.loads(encoded)


def paper_from_record(record: Mapping[str, Any], path: str, line: int | None) -> Paper:
    """A contract record (id, title, abstract, authors, categories, published, url, and `extra`, an
    object of source-specific fields) as a Paper; other fields are ignored."""
    paper_id = record_id(record, path, line)
    title = record_title(record, path, line)
    try:
        published = parse_published(record.get("published"))
    except ValueError as error:
        raise BadRecord(path, line, f"field 'published': {error}") from None
    authors = list_field(record, "authors", split_authors, path, line)
    categories = list_field(record, "categories", split_categories, path, line)
    url = _record_url(record, path, line)
    abstract = normalise_text(text_field(record, "abstract", path, line))
    return check_lengths(Paper(id=paper_id, title=title, abstract=abstract, authors=authors, categories=categories,
                               published=published, url=url, extra=extra_field(record, path, line)), path, line)
