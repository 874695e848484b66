"""JSON Lines: the contract format (one record an object a line) and the Kaggle arXiv metadata
snapshot, which is JSON Lines with its own fields (versions, authors_parsed, update_date).

Owns `read_jsonl`, `read_arxiv` and `json_flavour`, which tells the two apart by the first record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from indexer.errors import BadRecord
from indexer.papers import Paper
from indexer.readers.files import numbered_lines
from indexer.readers.records import (check_lengths, list_field, paper_from_record, parse_published, record_id,
                                     record_title, split_authors, split_categories, text_field)
from indexer.readers.text import normalise_text, normalised_parts

def _json_records(path: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise BadRecord(path, number, f"not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(record, dict):
            raise BadRecord(path, number, f"expected a JSON object, got {type(record).__name__}")
        yield number, record


def read_jsonl(path: str) -> Iterator[Paper]:
    for number, record in _json_records(path):
        yield paper_from_record(record, path, number)


def json_columns(path: str, columns: tuple[str, ...]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(line, id, {column: value or None}) of every record, in the order `read_jsonl` yields papers."""
    for number, record in _json_records(path):
        yield number, record_id(record, path, number), {name: record.get(name) for name in columns}


def first_record_fields(path: str) -> set[str]:
    """The field names of the first record (empty when there is none or it is not an object)."""
    for _, record in _json_records(path):
        return set(record)
    return set()


def _is_arxiv_snapshot(record: Mapping[str, Any]) -> bool:
    return ("versions" in record or "update_date" in record) and "published" not in record


def _arxiv_published(record: Mapping[str, Any], path: str, line: int) -> str | None:
    """The date of v1 (the first submission); the snapshot's update_date when that is missing."""
    versions = record.get("versions") or []
    if isinstance(versions, list) and versions:
        first = next((v for v in versions if isinstance(v, dict) and v.get("version") == "v1"), versions[0])
        try:
            return parsedate_to_datetime(str(first.get("created"))).date().isoformat()
        except (TypeError, ValueError, AttributeError):
            pass  # fall back to update_date
    try:
        return parse_published(record.get("update_date"))
    except ValueError as error:
        raise BadRecord(path, line, f"field 'update_date': {error}") from None


def _arxiv_authors(record: Mapping[str, Any]) -> list[str]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = (" ".join(part for part in (entry[1], entry[0], *entry[2:]) if part)
                 for entry in parsed if isinstance(entry, list) and len(entry) >= 2)
        return normalised_parts(names)
    authors = record.get("authors") or ""
    if not isinstance(authors, str):
        return split_authors(authors)
    parts = re.split(r",|\s+and\s+", authors)
    return normalised_parts(parts)


def _arxiv_paper(record: Mapping[str, Any], path: str, line: int) -> Paper:
    paper_id = record_id(record, path, line)
    extra = {key: record[key] for key in ("doi", "journal-ref", "comments") if record.get(key)}
    try:
        authors = _arxiv_authors(record)
    except TypeError:
        raise BadRecord(path, line, "field 'authors' must be a list of strings or one string") from None
    return check_lengths(Paper(
        id=paper_id,
        title=record_title(record, path, line),
        abstract=normalise_text(text_field(record, "abstract", path, line)),
        authors=authors,
        categories=list_field(record, "categories", split_categories, path, line),
        published=_arxiv_published(record, path, line),
        url=f"https://arxiv.org/abs/{paper_id}",
        extra=extra,
    ), path, line)


def read_arxiv(path: str) -> Iterator[Paper]:
    for number, record in _json_records(path):
        yield _arxiv_paper(record, path, number)


def json_flavour(path: str) -> str:
    """"arxiv" when the first record looks like the Kaggle snapshot, else the contract's "jsonl"."""
    for _, line in numbered_lines(path):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                return "jsonl"  # the reader reports the bad line
            return "arxiv" if isinstance(record, dict) and _is_arxiv_snapshot(record) else "jsonl"
    return "jsonl"
