"""Tabular sources: CSV with a header row and Parquet, both holding the contract's columns.

Owns `read_csv`, `read_parquet` and the content tests that recognise them (`looks_like_csv`,
`is_parquet`). CSV bad records name the line where the row starts; Parquet ones the row number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from indexer.errors import BadRecord
from indexer.papers import Paper
from indexer.readers.files import numbered_lines, starts_with
from indexer.readers.records import paper_from_record, record_id

_PARQUET_MAGIC = b"PAR1"


def read_csv(path: str) -> Iterator[Paper]:
    lines = (line for _, line in numbered_lines(path))
    reader = csv.DictReader(lines)
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
        reader.fieldnames = header
        for column in ("id", "title"):
            if column not in header:
                raise BadRecord(path, 1, f"CSV header has no '{column}' column (header: {', '.join(header)})")
        start = reader.line_num + 1
        for row in reader:
            yield paper_from_record(row, path, start)  # the line where the (maybe multi-line) row starts
            start = reader.line_num + 1
    except csv.Error as error:
        raise BadRecord(path, reader.line_num, f"malformed CSV ({error})") from None


_CONTRACT_FIELDS = ("id", "title", "abstract", "authors", "categories", "published", "url", "extra")


def _parquet_file(path: str):
    import pyarrow as pa  # imported here: only Parquet sources need it
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as error:
        raise BadRecord(path, None, f"not a readable Parquet file ({error})") from None


def read_parquet(path: str) -> Iterator[Paper]:
    table_file = _parquet_file(path)
    columns = [name for name in table_file.schema_arrow.names if name in _CONTRACT_FIELDS]
    row = 0
    for batch in table_file.iter_batches(columns=columns):
        for record in batch.to_pylist():
            row += 1
            yield paper_from_record(record, path, row)


def parquet_columns(path: str, columns: tuple[str, ...]) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(row, id, {column: value or None}) of every row, in the order `read_parquet` yields papers; a
    list column's value is a NumPy array (what vectors are stored as), read a batch at a time."""
    table_file = _parquet_file(path)
    present = [name for name in columns if name in table_file.schema_arrow.names]
    row = 0
    for batch in table_file.iter_batches(columns=["id", *present]):
        ids = batch.column("id").to_pylist()
        values = {name: batch.column(name).to_numpy(zero_copy_only=False) for name in present}
        for offset, paper_id in enumerate(ids):
            row += 1
            record = {name: values[name][offset] if name in values else None for name in columns}
            yield row, record_id({"id": paper_id}, path, row), record


def parquet_schema(path: str) -> tuple[set[str], dict[str, str]]:
    """The column names of a Parquet file and its key-value metadata (decoded as UTF-8)."""
    schema = _parquet_file(path).schema_arrow
    metadata = {key.decode("utf-8", "replace"): value.decode("utf-8", "replace")
                for key, value in (schema.metadata or {}).items()}
    return set(schema.names), metadata


def is_parquet(path: str) -> bool:
    return starts_with(path, _PARQUET_MAGIC)


def looks_like_csv(head: str) -> bool:
    """A header row naming at least the id and title columns."""
    first_line = head.lstrip().split("\n", 1)[0].lower()
    return {"id", "title"} <= {column.strip().strip('"') for column in first_line.split(",")}
